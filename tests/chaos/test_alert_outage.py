"""Chaos scenario ``alert_outage``: all three group-robot destinations (the WeCom, DingTalk and Feishu stand-ins of
crm_bridge/sandbox/robots.py, over real HTTP) answer 503 while leads and messages arrive and a real prefork worker
delivers both CRM submissions and alerts. Then they come back.

Counted: the requests each stand-in refused (at the stand-in) and the retries the alert rows spent; that every
lead and message reached the CRM while the robots were still down (CRM delivery does not wait on alerts); and,
once the robots are back, each lead's alert at each robot exactly once (its name in exactly one accepted message
there: an alert goes alone or in a summary, docs/alerts.md, "Rate limits and batching").

The outage lasts until the oldest alert at every destination has been refused ``REFUSALS`` times. At the default
back-off (``RETRY_BASE_DELAY`` 30 s, doubling) the first five waits alone are 15–30 + 30–60 + 60–120 + 120–240
+ 240–480 s, 7.5 to 15 minutes: here the schedule is compressed (``RETRY_BASE_DELAY`` 1 s, the alerts'
``MAX_RETRY_DELAY`` 4 s instead of 600 s) so that the same refusals, the cap included, fit in about 20 seconds.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db.models import Max

from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.models import DeliveryAttempt
from crm_bridge.sandbox import robots
from crm_bridge.sandbox.models import RobotOutage
from tests.alerts.conftest import robot_urls
from tests.delivery.conftest import SANDBOX_PATH, wait_for
from tests.delivery.processes import celery_processes

from .stack import EDGE_OPTIONS, OPEN_INTAKE, Intake
from .summary import report
from .workload import finished, tally

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]

OPTIONS = {**EDGE_OPTIONS, "RETRY_BASE_DELAY": 1.0, "ALERTS": {"SWEEP_INTERVAL": 1.0, "MAX_RETRY_DELAY": 4.0}}
REFUSALS = 6  # attempts of the oldest alert at each destination while the robots are down
BATCHES, PER_BATCH = 3, 4  # leads (and as many messages) arrive in batches during the outage


@pytest.fixture
def destinations(sandbox_crm, live_server, site):
    made = {
        kind: AlertDestination.objects.create(site=site, kind=kind, webhook_url=url, secret=secret)
        for kind, (url, secret) in robot_urls(live_server.url).items()
    }
    yield made
    robots.come_up()


def _oldest_attempts() -> dict[str, int]:
    rows = Alert.objects.values("destination__kind").annotate(n=Max("attempts"))
    return {row["destination__kind"]: row["n"] for row in rows}


def _refused() -> dict[str, int]:
    return dict(RobotOutage.objects.values_list("kind", "hits"))


def test_alert_outage(destinations, sandbox_crm, live_server, site, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, **OPEN_INTAKE}
    kinds = sorted(destinations)
    for kind in kinds:
        robots.go_down(kind)  # 503 until told otherwise; one outage per robot, so each counts its refusals
    down_since = time.monotonic()
    intake = Intake(live_server.url, site)
    leads = [f"告警客户{i:02d}号" for i in range(BATCHES * PER_BATCH)]
    messages = [f"告警期间留言 {i:02d}" for i in range(BATCHES * PER_BATCH)]
    with celery_processes(crm_base_url=live_server.url + SANDBOX_PATH, options=OPTIONS) as procs:
        worker = procs["worker"]
        for b in range(BATCHES):
            before = _refused()
            for i in range(b * PER_BATCH, (b + 1) * PER_BATCH):
                intake.lead(leads[i], f"1373333{i:04d}")
                intake.message(messages[i])
            # The next batch comes once every robot has refused this one's alerts at least once more.
            wait_for(lambda before=before: all(_refused()[k] > before[k] for k in kinds), timeout=30, interval=0.2)
        # Still down: CRM delivery went on regardless; the alerts wait, retried on their back-off.
        wait_for(lambda: finished() == intake.accepted, timeout=60, interval=0.2)
        wait_for(lambda: all(_oldest_attempts().get(k, 0) >= REFUSALS for k in kinds), timeout=60, interval=0.2)
        crm_during = tally(sandbox_crm, messages, leads)
        sent_during = Alert.objects.filter(status="sent").count()
        accepted_during = len(robots.received())
        refused = _refused()
        oldest = _oldest_attempts()

        robots.come_up()
        healed = time.monotonic()
        outage_s = healed - down_since
        wait_for(lambda: Alert.objects.filter(status="sent").count() == len(leads) * len(kinds), timeout=120,
                 interval=0.2)  # fmt: skip
        drain_s = time.monotonic() - healed
        alive = worker.proc.poll() is None

    got = robots.received(accepted=None)
    # Each lead's name in the accepted messages of each robot, counted.
    seen = {k: Counter(name for m in got if m["kind"] == k and m["accepted"] for name in leads if name in m["text"])
            for k in kinds}  # fmt: skip
    occurrences = {k: [sum(m["text"].count(n) for m in got if m["kind"] == k) for n in leads] for k in kinds}
    delivered_alerts = sum(1 for k in kinds for n in leads if seen[k][n] >= 1)
    report(
        crm_during.summary(
            "alert_outage",
            intake.accepted,
            drain_s,
            outage_s=f"{outage_s:.1f}",
            alerts=len(leads) * len(kinds),
            alerts_delivered=delivered_alerts,
            alerts_extra=sum(max(0, c - 1) for k in kinds for c in occurrences[k]),
            robot_refusals=sum(refused.values()),
            oldest_alert_attempts=min(oldest.values()),
            robot_messages=sum(1 for m in got if m["accepted"]),
        )
    )

    assert set(intake.statuses) == {202} and intake.accepted == len(leads) + len(messages)
    # While the robots were down: every lead and message in the CRM exactly once, every CRM call answered,
    # not one alert through.
    assert (crm_during.delivered, crm_during.extra, crm_during.missing) == (intake.accepted, 0, ())
    assert set(DeliveryAttempt.objects.values_list("outcome", flat=True)) == {"ok"}
    assert (sent_during, accepted_during) == (0, 0)
    assert all(refused[k] >= REFUSALS for k in kinds) and all(oldest[k] >= REFUSALS for k in kinds)
    # Back up: each lead's alert at each robot exactly once; no alert failed, no other alert written.
    assert occurrences == {k: [1] * len(leads) for k in kinds}
    assert all(m["accepted"] for m in got)  # the stand-ins stored no refusal: the outage's 503s are not messages
    assert Counter(Alert.objects.values_list("status", flat=True)) == {"sent": len(leads) * len(kinds)}
    assert set(Alert.objects.values_list("kind", flat=True)) == {"lead"}
    assert alive
