"""Chaos scenario ``postgres_restart``: PostgreSQL is stopped (``pg_ctlcluster … stop -m fast``: every session
cut) while submissions arrive and workers deliver, kept down a few seconds, and started again.

What it checks: while the database is down intake answers JSON 503 with ``Retry-After`` (never HTML, never a
202 for a row it did not store: every 202's id exists afterwards and there are exactly as many rows as 202s);
it answers 202 again by itself once the database is back; the worker and beat reconnect by themselves and
deliver everything — each lead created once, each message on the board once (a post whose outcome the outage
hid would be counted in ``ambiguous_sends``, docs/delivery.md), counted in the sandbox CRM's own tables.

The submitter behaves like the widget: a 503 keeps the submission, which is sent again with the same
``Idempotency-Key`` (sooner than ``Retry-After`` asks, to keep the run short).

Only on PostgreSQL, and only with ``CRM_BRIDGE_TEST_POSTGRES_CLUSTER`` ("15/main") naming the cluster that
serves the test database, which the test may stop and start (root, or its owner). For example::

    DATABASE_URL=postgres://crm_bridge:crm_bridge@127.0.0.1:5433/crm_bridge CRM_BRIDGE_TEST_POSTGRES_CLUSTER=15/chaos \\
    CELERY_BROKER_URL=redis://127.0.0.1:6390/4 CACHE_URL=redis://127.0.0.1:6390/5 \\
    python -m pytest tests/chaos/test_postgres_restart.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from crm_bridge.intake import errors
from crm_bridge.models import Site, Submission
from crm_bridge.sandbox import control as sandbox_crm
from tests.delivery.conftest import wait_for
from tests.delivery.processes import FAST

from .conftest import report
from .kit import Ledger, celery_stack, tally
from .stack import Intake

S = Submission.Status
pytestmark = [pytest.mark.chaos, pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

#: A lease outlasts the outage (a delivery that has the CRM's answer waits within it for the database to record
#: it) but runs out soon after; a possibly-sent post is retried soon (production: 180 s, 120 s).
OPTIONS = {**FAST, "LEASE_SECONDS": 10.0, "AMBIGUOUS_SETTLE": 1.0}
DOWN_SECONDS = 3.0  # how long PostgreSQL stays stopped (the fault's length, not a wait for an event)
BEFORE, AFTER = 12, 12  # 202s to collect before the stop, and after the restart


def _cluster() -> tuple[str, str]:
    """The cluster ``CRM_BRIDGE_TEST_POSTGRES_CLUSTER`` names, if this test may stop it; else skip, saying why."""
    if connection.vendor != "postgresql":
        pytest.skip("postgres_restart needs PostgreSQL (DATABASE_URL=postgres://…)")
    named = os.environ.get("CRM_BRIDGE_TEST_POSTGRES_CLUSTER", "")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)/([\w.-]+)", named)
    if not match:
        pytest.skip("set CRM_BRIDGE_TEST_POSTGRES_CLUSTER to '<version>/<name>' of a cluster this test may restart")
    if not (shutil.which("pg_ctlcluster") and shutil.which("pg_lsclusters")):
        pytest.skip("pg_ctlcluster (postgresql-common) is not installed")
    version, name = match.groups()
    listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False).stdout  # noqa: S607 (our own arguments)
    port = next((row.split()[2] for row in listed.splitlines() if row.split()[:2] == [version, name]), None)
    ours = str(connection.settings_dict["PORT"] or 5432)
    if port != ours:
        pytest.skip(f"cluster {named} (port {port}) does not serve the test database (port {ours})")
    return version, name


def _pg_ctl(version: str, name: str, *args: str) -> None:
    subprocess.run(["pg_ctlcluster", version, name, *args], check=True, capture_output=True, timeout=60)  # noqa: S603,S607 (our own arguments)


@dataclass(frozen=True)
class Answer:
    at: float  # monotonic
    status: int
    content_type: str
    retry_after: str | None
    body: Any


class Widget(threading.Thread):
    """Submits messages and leads one after another, as a widget would: a 503 keeps the submission and sends it
    again with the same Idempotency-Key. Records every answer. Never touches the database itself."""

    def __init__(self, base_url: str, site: Site) -> None:
        super().__init__(daemon=True)
        self.intake = Intake(base_url, site, timeout=15)  # reads the site's notice version now, not in the thread
        self.answers: list[Answer] = []
        self.ledger = Ledger()
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def accepted_since(self, t: float) -> int:
        return sum(1 for a in self.answers if a.status == 202 and a.at >= t)

    def refused_since(self, t: float) -> int:
        return sum(1 for a in self.answers if a.status == 503 and a.at >= t)

    def run(self) -> None:
        try:
            n = 0
            while not self.halt.is_set():
                n += 1
                kind = "leads" if n % 3 == 0 else "messages"
                tag = f"{n:03d}{uuid.uuid4().hex[:6]}"
                if kind == "leads":
                    identity = f"重启{tag}"
                    fields = {"name": identity, "tel": f"135{uuid.uuid4().int % 10**8:08d}", "company": ""}
                else:
                    identity = f"pg restart {tag}"
                    fields = {"content": identity}
                key = str(uuid.uuid4())
                while True:  # the same submission until it is accepted (or the test is over)
                    r = self.intake.send(kind, fields, key=key)
                    ctype = r.headers.get("Content-Type", "").split(";")[0]
                    body = r.json() if ctype == "application/json" else r.text[:200]
                    self.answers.append(
                        Answer(time.monotonic(), r.status_code, ctype, r.headers.get("Retry-After"), body)
                    )
                    if r.status_code == 202:
                        self.ledger.accept(r, kind, identity)
                        break
                    if r.status_code != 503 or self.halt.wait(0.2):
                        return  # anything else fails the test below; a halted run drops its last 503'd submission
        except BaseException as err:  # reported by the test
            self.error = err


def _db(predicate: Callable[[], Any]) -> Callable[[], Any]:
    """``predicate`` for wait_for, with a database error read as "not yet" (this process's connection may be the
    one the restart cut: closed, the next query opens a new one)."""

    def guarded() -> Any:
        try:
            return predicate()
        except DatabaseError:
            connection.close()
            return False

    return guarded


@pytest.fixture
def cluster() -> Iterator[tuple[str, str]]:
    version, name = _cluster()
    yield version, name
    # Whatever happened, the database is up for pytest-django's teardown (it flushes the tables), on a fresh
    # connection: Django does not reconnect a connection the restart broke.
    subprocess.run(["pg_ctlcluster", version, name, "start"], capture_output=True, check=False)  # noqa: S603,S607 (our own arguments)
    connection.close()
    wait_for(_db(_answers), timeout=60, interval=0.2)


def _history(contents: list[str]) -> str:
    """The outbox's account of the messages posted more than once (for a failing assertion)."""
    lines = []
    for sub in Submission.objects.filter(kind="message", payload__content__in=contents):
        lines.append(f"{sub.pk}: attempts={sub.attempts} ambiguous_sends={sub.ambiguous_sends}")
        lines += [f"  {a.attempt} {a.started_at} {a.outcome} {a.error[:120]}" for a in sub.attempt_log.all()]
    return "\n".join(lines)


def _answers() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def test_postgres_restart_during_intake_and_delivery_loses_nothing_and_doubles_nothing(
    live_server,
    site,
    chaos_sandbox,
    cluster,  # last: torn down first, so the database is up again for the other fixtures' teardown
):
    version, name = cluster
    with celery_stack(crm_base_url=chaos_sandbox, options=OPTIONS) as procs:
        widget = Widget(live_server.url, site)
        widget.start()
        try:
            t0 = time.monotonic()
            wait_for(lambda: widget.accepted_since(t0) >= BEFORE or widget.error, timeout=60, interval=0.1)
            wait_for(_db(lambda: Submission.objects.filter(status=S.DELIVERED).exists()), timeout=60, interval=0.1)
            delivered_before = Submission.objects.filter(status=S.DELIVERED).count()

            connection.close()  # ours is cut by the stop: let it go first
            stopped = time.monotonic()
            _pg_ctl(version, name, "stop", "-m", "fast")
            wait_for(
                lambda: (
                    (widget.refused_since(stopped) >= 3 and time.monotonic() - stopped >= DOWN_SECONDS) or widget.error
                ),
                timeout=60,
                interval=0.1,
            )
            _pg_ctl(version, name, "start")
            restarted = time.monotonic()
            fault_ended = timezone.now()
            # Intake recovers by itself: nobody touches the live server.
            wait_for(lambda: widget.accepted_since(restarted) >= AFTER or widget.error, timeout=60, interval=0.1)
        finally:
            widget.halt.set()
            widget.join(30)
        assert widget.error is None, repr(widget.error)

        connection.close()
        ledger = widget.ledger
        wait_for(
            _db(lambda: Submission.objects.filter(status=S.DELIVERED).count() >= ledger.submitted),
            timeout=120,
            interval=0.5,
        )
        assert procs["worker"].proc.poll() is None and procs["beat"].proc.poll() is None
        # Deliveries that had the CRM's answer when the database went away, recorded once it was back.
        recorded_late = sum("database back: recorded the CRM's answer" in line for line in procs["worker"].lines)

    answers = widget.answers
    down = [a for a in answers if a.status != 202]
    summary, board, customers = tally(
        "postgres_restart", ledger, sandbox_crm, fault_ended=fault_ended,
        extras=(
            ("answers_503", len(down)), ("delivered_before_stop", delivered_before),
            ("accepted_after_restart", widget.accepted_since(restarted)), ("recorded_late", recorded_late),
        ),
    )  # fmt: skip
    report(summary)

    # Intake: 202 or the JSON 503 with Retry-After, nothing else; the outage was seen, and so was the recovery.
    assert Counter(a.status for a in answers).keys() <= {202, 503}, Counter(a.status for a in answers)
    assert {a.content_type for a in answers} == {"application/json"}
    assert all(a.body == {"detail": errors.DB_UNAVAILABLE} for a in down)
    assert {a.retry_after for a in down} == {str(errors.DB_RETRY_AFTER)}
    assert len(down) >= 3 and widget.accepted_since(restarted) >= AFTER
    # Accepted means stored: every 202's id is a row, and there are as many rows as 202s.
    assert len(ledger.ids) == len(set(ledger.ids)) == sum(a.status == 202 for a in answers)
    assert {str(pk) for pk in Submission.objects.values_list("pk", flat=True)} == set(ledger.ids)

    # Delivery: nothing lost, leads created once, each message on the board once.
    assert Counter(Submission.objects.values_list("status", flat=True)) == {S.DELIVERED: ledger.submitted}
    assert customers == Counter(ledger.leads)
    saves = [r for r in sandbox_crm.request_log("Customer/Save") if r.http_status == 200]
    assert len(saves) == len(ledger.leads)
    assert summary.lost == 0
    # A post the outage may have hidden (sent, stored, its answer never recorded) is retried and reported as
    # possibly repeated; a repeat nobody reported would be a broken promise.
    assert summary.extra <= summary.ambiguous_reported
    assert board == Counter(ledger.messages), _history([c for c, n in board.items() if n > 1])
