"""End to end with real processes: a lead over HTTP (live server) → its alerts stored with it → the filesystem
broker → a real prefork Celery worker and beat → the robot stand-ins over HTTP, through an outage."""

from __future__ import annotations

import uuid

import pytest
import requests

from crm_bridge import testing
from crm_bridge.alerts.models import Alert
from crm_bridge.sandbox import robots
from tests.delivery.conftest import SANDBOX_PATH, wait_for
from tests.delivery.processes import celery_processes, empty_broker  # noqa: F401 - a fixture, used by name below

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

OPTIONS = {
    "RETRY_BASE_DELAY": 0.5,
    "RETRY_MAX_DELAY": 2.0,
    "SWEEP_INTERVAL": 1.0,
    "CALLS_PER_SECOND": 0,
    "ALERTS": {"SWEEP_INTERVAL": 1.0, "MAX_RETRY_DELAY": 1.0},
}


def test_a_lead_reaches_every_robot_once_through_an_outage(
    live_server,
    site,
    robot_destinations,
    settings,
    empty_broker,  # noqa: F811 - earlier tests' stale messages gone
):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "THROTTLE_RATES": {"ip": "1000/min", "site": "1000/min"},
                           "MIN_FILL_SECONDS": 0.0}  # fmt: skip
    robots.go_down("*", count=3)  # the first hand-offs meet 503s; the sweep brings them back
    with celery_processes(crm_base_url=live_server.url + SANDBOX_PATH, options=OPTIONS) as procs:
        r = requests.post(
            f"{live_server.url}/crm/widget/v1/leads",
            json={
                "key": site.public_key,
                "name": "王小明",
                "tel": "13800138000",
                "page_url": "https://acme.example/",
                **testing.consent(site),
            },
            headers={"Origin": "https://acme.example", "Idempotency-Key": str(uuid.uuid4())},
            timeout=10,
        )
        assert r.status_code == 202, r.text
        wait_for(lambda: Alert.objects.filter(status="sent").count() == 3, timeout=60)
        assert procs["worker"].proc.poll() is None
    got = robots.received(accepted=None)
    assert sorted(m["kind"] for m in got) == ["dingtalk", "feishu", "wecom"]
    assert all(m["accepted"] and "138****8000" in m["text"] for m in got)
    assert sum(Alert.objects.values_list("attempts", flat=True)) == 3 + 3  # three 503s, then one send each
