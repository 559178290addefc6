"""The periodic tasks still run when the queue is behind: a run that waited a few of its intervals in the broker
(a backlog of deliveries, the embedded broker's folder poll, a beat clock a little ahead of the workers'), is
run by a real worker, not discarded as expired (docs/delivery.md, "The sweep").

Each message is sent as ``celery beat`` sends its entry (the schedule's own options), with its expiry taken from
when beat would have sent it ``LATE`` intervals ago — a message that sat that long in the queue."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from crm_bridge.tasks import beat_schedule
from tests.delivery.conftest import wait_for
from tests.delivery.processes import celery_processes, empty_broker  # noqa: F401 - a fixture, used by name below

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

INTERVAL = 1.0
LATE = 3  # intervals the message waited in the queue
OPTIONS = {"SWEEP_INTERVAL": INTERVAL, "HIT_FLUSH_INTERVAL": INTERVAL, "ALERTS": {"SWEEP_INTERVAL": INTERVAL}}
FREQUENT = ["crm_bridge.sweep", "crm_bridge.flush_hits", "crm_bridge.probe_credentials", "crm_bridge.alerts.sweep"]


def test_a_periodic_run_that_waited_some_intervals_in_the_queue_still_runs(
    settings,
    empty_broker,  # noqa: F811 - earlier tests' stale messages gone
):
    from config.celery import app

    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, **OPTIONS}
    schedule = beat_schedule()
    assert [schedule[name]["schedule"] for name in FREQUENT] == [INTERVAL] * len(FREQUENT)
    with celery_processes(crm_base_url="http://127.0.0.1:9/", options=OPTIONS, beat=False) as procs:
        sent = {}
        for name in FREQUENT:
            entry = schedule[name]
            enqueued = timezone.now() - timedelta(seconds=LATE * entry["schedule"])
            task_id = str(uuid.uuid4())
            options = {**entry["options"], "expires": enqueued + timedelta(seconds=entry["options"]["expires"])}
            app.send_task(entry["task"], task_id=task_id, **options)
            sent[name] = task_id
        worker = procs["worker"]

        def outcome(task_id: str) -> str:
            for line in worker.lines:
                if task_id in line and ("succeeded" in line or "Discarding" in line):
                    return "ran" if "succeeded" in line else "discarded"
            return ""

        wait_for(lambda: all(outcome(task_id) for task_id in sent.values()), timeout=60)
        assert {name: outcome(task_id) for name, task_id in sent.items()} == dict.fromkeys(FREQUENT, "ran")
