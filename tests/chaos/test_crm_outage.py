"""``crm_outage``: the CRM answers 503 for OUTAGE seconds, then refuses connections for OUTAGE seconds (its
process is gone), while 1,000 mixed submissions arrive through the real widget API; then it comes back.
Counted in the sandbox's tables: every message once on the board, every unique lead created once, every
repeat recorded as a duplicate, hit totals exact per pkid, nothing lost, nothing extra (docs/chaos.md)."""

from __future__ import annotations

import os
import threading
import time

import pytest
from django.db import connection

from crm_bridge.sandbox import control
from crm_bridge.sandbox.models import Customer, Hit, Message
from tests.delivery.processes import celery_processes

from .stack import CHAOS_OPTIONS, OUTAGE, Traffic, assert_exact, refuses, tally, wait_drained
from .summary import report

# On the embedded filesystem broker a worker takes one message per poll (about one a second): the outage
# leaves hundreds of deliver messages queued (each row's hand-off, answered "circuit open"), the drains deliver
# every row within seconds of the CRM's return, but the hit flush waits its turn behind those messages
# (measured: about 130 s). That does not fit the suite's time budget, so this scenario runs on the PostgreSQL +
# Redis pass, or here when asked for explicitly (docs/chaos.md).
EMBEDDED = not os.environ.get("CELERY_BROKER_URL", "").startswith("redis")
pytestmark = [
    pytest.mark.chaos,
    pytest.mark.worker,
    pytest.mark.timeout(2 * OUTAGE + 420),
    pytest.mark.skipif(
        EMBEDDED and "CRM_BRIDGE_CHAOS_OUTAGE_SECONDS" not in os.environ,
        reason="runs on the Redis broker (the PostgreSQL+Redis pass); on the filesystem broker the hit flush "
        "queues ~2 min behind the outage's stale deliver messages (set CRM_BRIDGE_CHAOS_OUTAGE_SECONDS to run it)",
    ),
]


def test_crm_outage(intake, sandbox_process):
    traffic = Traffic.build(messages=560, leads=120, name_repeats=20, phone_repeats=20, hits=280)
    assert len(traffic.messages) + len(traffic.leads) + len(traffic.hits) == 1000
    seen: dict[str, object] = {}

    def outage() -> None:
        try:
            run_outage()
        finally:
            connection.close()  # this thread's own connection (else it holds the test database open)

    def run_outage() -> None:
        time.sleep(OUTAGE)  # the fault's length (CRM_BRIDGE_CHAOS_OUTAGE_SECONDS), not a wait for an outcome
        sandbox_process.stop()
        control.clear_faults()  # the 503s end; nothing listens now
        seen["refused"] = refuses(sandbox_process.port)
        time.sleep(OUTAGE)
        # Nothing reached the CRM's tables while it was out (503s and refused connections store nothing).
        seen["stored_during_outage"] = (
            Message.objects.count(),
            Customer.objects.filter(s_name__startswith="混沌").count(),
            Hit.objects.count(),
        )
        sandbox_process.start()
        seen["back"] = time.monotonic()

    with celery_processes(crm_base_url=sandbox_process.base_url, options=CHAOS_OPTIONS, workers=2) as procs:
        control.inject_fault("down")  # every handler answers 503, error 10002
        driver = threading.Thread(target=outage, name="crm-outage")
        driver.start()
        # Arrivals spread over both phases (at most as fast as intake answers).
        posted = intake.post_all(traffic, spread_s=1.8 * OUTAGE)
        driver.join(2 * OUTAGE + 120)
        assert not driver.is_alive()
        assert seen["refused"] is True
        wait_drained(traffic, timeout=300)
        drain_s = time.monotonic() - float(seen["back"])  # type: ignore[arg-type]
        dead = [name for name in procs.workers if procs[name].proc.poll() is not None]

    t = tally(traffic)
    report(t.summary("crm_outage", posted.total, drain_s, outage_s=int(OUTAGE), workers=2))
    assert dead == []
    assert seen["stored_during_outage"] == (0, 0, 0)
    assert_exact(t, traffic, posted)
    assert t.extra == 0  # a 503 or a refused connection never stores anything: no ambiguous outcome to repeat
