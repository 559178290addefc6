"""What the postgres_restart and token_revoked scenarios share besides tests/chaos/stack.py (the widget client) and
conftest.py (``chaos_sandbox``): real Celery processes started with the token an operator gives them, and the
tally of what reached the sandbox CRM, counted in its own tables (test_worker.py's pattern in tests/delivery)."""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.db.models import Max, Sum

from crm_bridge import testing
from crm_bridge.models import Submission
from tests.delivery.processes import CeleryProcess, database_url

from .conftest import Summary


@contextmanager
def celery_stack(
    *, crm_base_url: str, options: dict[str, Any], token: str = testing.SANDBOX_TOKEN, beat: bool = True
) -> Iterator[dict[str, CeleryProcess]]:
    """A worker (two prefork children) and beat, as tests/delivery/processes.py starts them, but with the CRM
    token an operator would set: ``CRM_BRIDGE_TOKEN`` in the processes' environment (config/settings.py)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CRM_BRIDGE_VAR_DIR": str(settings.VAR_DIR),
        "CRM_BRIDGE_BASE_URL": crm_base_url,
        "CRM_BRIDGE_TOKEN": token,
        "CRM_BRIDGE_OPTIONS": json.dumps(options),
        "PYTHONUNBUFFERED": "1",
    }
    worker_args = [
        "--pool=prefork",
        "--concurrency=2",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--hostname=chaos-{os.getpid()}-{uuid.uuid4().hex[:6]}@%h",
    ]
    procs = {"worker": CeleryProcess("worker", worker_args, env)}
    if beat:
        schedule = Path(settings.VAR_DIR) / f"celerybeat-schedule-{uuid.uuid4().hex[:6]}"
        procs["beat"] = CeleryProcess("beat", ["--loglevel=INFO", f"--schedule={schedule}"], env)
    try:
        procs["worker"].wait_for_line("ready.")
        if beat:
            procs["beat"].wait_for_line("installed periodic tasks")
        yield procs
    finally:
        for p in procs.values():
            p.stop()


@contextmanager
def explained(procs: dict[str, CeleryProcess], **readings: Callable[[], object]) -> Iterator[None]:
    """On an AssertionError inside, print what the processes said last and each named reading (a failing
    run's captured output then shows what the scenario saw), and re-raise."""
    try:
        yield
    except AssertionError:
        for name, read in readings.items():
            print(f"--- {name}: {read()!r}")
        for role, proc in procs.items():
            print(f"--- celery {role}, last lines:", *proc.lines[-60:], sep="\n")
        raise


@dataclass
class Ledger:
    """What intake accepted (202 ids, and the text that identifies each submission in the CRM)."""

    ids: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    leads: list[str] = field(default_factory=list)  # customer names

    def accept(self, response: requests.Response, kind: str, identity: str) -> None:
        assert response.status_code == 202, (response.status_code, response.text[:300])
        self.ids.append(response.json()["id"])
        (self.messages if kind == "messages" else self.leads).append(identity)

    @property
    def submitted(self) -> int:
        return len(self.ids)


def tally(
    name: str, ledger: Ledger, crm: Any, *, fault_ended: datetime, extras: tuple[tuple[str, object], ...] = ()
) -> tuple[Summary, Counter[str], Counter[str]]:
    """Count in the sandbox's own tables what arrived of ``ledger``: the board's posts and the customers created,
    each by the text that identifies it. Returns the summary line's figures and both counters."""
    board = Counter(m["content"] for m in crm.messages() if m["content"] in set(ledger.messages))
    customers = Counter(c["sName"] for c in crm.customers() if c["sName"] in set(ledger.leads))
    expected = Counter(ledger.messages) + Counter(ledger.leads)
    arrived = board + customers
    last = Submission.objects.aggregate(last=Max("finished_at"))["last"]
    summary = Summary(
        name=name,
        submitted=ledger.submitted,
        delivered=sum(arrived.values()),
        duplicates=Submission.objects.filter(status=Submission.Status.DUPLICATE).count(),
        lost=sum((expected - arrived).values()),
        extra=sum((arrived - expected).values()),
        ambiguous_reported=Submission.objects.aggregate(n=Sum("ambiguous_sends"))["n"] or 0,
        drain_s=max(0.0, (last - fault_ended).total_seconds()) if last else 0.0,
        extras=extras,
    )
    return summary, board, customers
