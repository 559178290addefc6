"""Chaos scenario ``hostile_replies``: the CRM answers writes with garbage, an HTML error page, truncated JSON
(the sandbox's own faults), truncated XML, an XML entity bomb, a 50 MiB body and a gzip bomb (crafted by
tests/chaos/hostile_crm.py, a real HTTP server in front of the sandbox), one each, while a real prefork worker
delivers messages and leads. Then the CRM heals.

Counted: each hostile reply's attempt row and how delivery classified it (all of these are retryable, and as
answers to a write the CRM may have stored, ambiguous: docs/delivery.md, "Failure classes"); the worker's main
process and pool children alive and unchanged after each; the worker's memory from /proc (printed), with a bound
that holding a 50 MiB body would break; and, once healed, every submission in the sandbox exactly once.
"""

from __future__ import annotations

import time

import pytest

from crm_bridge.crm.client import ClientConfig
from crm_bridge.models import DeliveryAttempt, Submission
from tests.delivery.conftest import wait_for
from tests.delivery.processes import celery_processes

from .hostile_crm import BIG_BODY_BYTES, KINDS, PASS, WRITES, HostileCRM
from .stack import EDGE_OPTIONS, OPEN_INTAKE, Intake
from .summary import report
from .workload import Memory, ambiguous_reported, finished, pool_children, tally

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]

# AMBIGUOUS_SETTLE (120 s by default) shortened: every reply here leaves a write ambiguous, and the scenario must
# finish in about a minute. The rest as the other worker tests (retries, sweep and circuit probe within seconds).
OPTIONS = {**EDGE_OPTIONS, "AMBIGUOUS_SETTLE": 1.0}

#: How delivery classifies each reply to a write, from crm_bridge/crm/client.py and codec.py: the error class
#: and the attempt's outcome. All are retryable; none is a rejection (CRMRejected would fail the row at once).
EXPECTED = {
    "garbage": "CRMBadReply",  # a 200 that is neither JSON nor XML
    "html": "CRMServerError",  # a 502 IIS page: the status decides (5xx), the page is no API reply
    "truncated": "CRMBadReply",  # half a JSON reply
    "truncated_xml": "CRMBadReply",  # not well-formed
    "entity_bomb": "CRMBadReply",  # a DTD: refused before any entity is expanded (defusedxml)
    "body_50mb": "CRMBadReply",  # past max_reply_bytes: the read stops there
    "gzip_bomb": "CRMBadReply",  # inflated past max_reply_bytes: the read stops there
}
# Holding the 50 MiB body would raise a process's resident set by 50 MiB at least; the client stops at
# max_reply_bytes (8 MiB), so what it holds (the chunks, their join, the text excerpt) stays well under that.
MEMORY_BOUND_MB = BIG_BODY_BYTES / 1024 / 1024


@pytest.fixture
def hostile(sandbox_crm, live_server):
    crm = HostileCRM(live_server.url)
    yield crm
    crm.close()


def test_hostile_replies(hostile, sandbox_crm, live_server, site, settings):
    assert ClientConfig.max_reply_bytes < BIG_BODY_BYTES / 2  # the bound below rests on this cap
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, **OPEN_INTAKE}
    intake = Intake(live_server.url, site)
    messages = [f"敌意 留言 {i:02d}" for i in range(8)]
    leads = [f"敌意客户{i:02d}" for i in range(4)]
    subs: dict[str, Submission] = {}
    checks: list[tuple[str, bool]] = []  # (entry, worker and its pool children alive and unchanged)
    with celery_processes(crm_base_url=hostile.base_url, options=OPTIONS) as procs:
        worker = procs["worker"]
        children = pool_children(worker.proc.pid)
        # Healthy first: the worker's processes have done real deliveries when their memory is read.
        intake.message(messages[0])
        intake.lead(leads[0], "13722220000")
        wait_for(lambda: finished() == 2, timeout=60, interval=0.2)
        before = Memory.of_worker(worker.proc.pid)

        hostile.arm(list(KINDS))
        for i, content in enumerate(messages[1:], 1):
            intake.message(content)
            if i < len(leads):
                intake.lead(leads[i], f"1372222{i:04d}")
        subs = {(s.payload.get("content") or s.payload.get("name")): s for s in Submission.objects.all()}
        for k, kind in enumerate(KINDS):
            wait_for(lambda k=k: _attempt(hostile, subs, k) is not None, timeout=60, interval=0.1)
            checks.append((kind, worker.proc.poll() is None and pool_children(worker.proc.pid) == children))
        healed = time.monotonic()
        wait_for(lambda: finished() == intake.accepted, timeout=90, interval=0.2)
        drain_s = time.monotonic() - healed
        after = Memory.of_worker(worker.proc.pid)
        alive = worker.proc.poll() is None and pool_children(worker.proc.pid) == children

    scripted = [s for s in hostile.served if s.entry != PASS]
    classified = {s.entry: _attempt(hostile, subs, k) for k, s in enumerate(scripted)}
    counted = tally(sandbox_crm, messages, leads)
    growth_mb = after.peak_rise_mb(before)  # over what each worker process held before the hostile replies
    report(
        counted.summary(
            "hostile_replies",
            intake.accepted,
            drain_s,
            hostile_replies=len(scripted),
            worker_rss_mb_before=f"{before.max_rss_mb():.0f}",
            worker_rss_mb_max=f"{after.max_rss_mb():.0f}",
            worker_hwm_mb_max=f"{after.max_hwm_mb():.0f}",
            worker_peak_rise_mb=f"{growth_mb:.1f}",
        )
    )

    assert set(intake.statuses) == {202} and intake.accepted == len(messages) + len(leads)
    # Each hostile reply met a write, was recorded as that write's attempt, and was classified as expected.
    assert [s.entry for s in scripted] == list(KINDS) and all(s.endpoint in WRITES for s in scripted)
    got = {kind: (row.outcome, row.reply["error"], row.reply["retryable"]) for kind, row in classified.items()}
    assert got == {kind: ("ambiguous", cls, True) for kind, cls in EXPECTED.items()}
    # Nothing else failed: the read-only calls and every unspoiled write were answered.
    others = DeliveryAttempt.objects.exclude(pk__in=[row.pk for row in classified.values()])
    assert set(others.values_list("outcome", flat=True)) == {"ok"}
    assert ambiguous_reported() == len(KINDS)  # each spoiled write reported as possibly stored
    assert checks == [(kind, True) for kind in KINDS] and alive
    assert growth_mb < MEMORY_BOUND_MB
    # Healed: each submission exactly once (the spoiled writes never reached the sandbox's tables).
    assert (counted.delivered, counted.extra, counted.missing) == (intake.accepted, 0, ())
    assert Submission.objects.filter(status="delivered").count() == intake.accepted


def _attempt(hostile: HostileCRM, subs: dict[str, Submission], k: int) -> DeliveryAttempt | None:
    """The attempt row the ``k``-th scripted (hostile) reply was recorded as, once the worker has written it: the
    n-th write of that submission to that endpoint the server saw is that submission's n-th attempt row there."""
    served = list(hostile.served)
    hostile_at = [i for i, s in enumerate(served) if s.entry != PASS]
    if k >= len(hostile_at):
        return None
    target = served[hostile_at[k]]
    n = sum(1 for s in served[: hostile_at[k] + 1] if (s.endpoint, s.whose) == (target.endpoint, target.whose))
    rows = list(DeliveryAttempt.objects.filter(submission=subs[target.whose], endpoint=target.endpoint))
    return rows[n - 1] if len(rows) >= n else None
