"""Alert delivery against the robot stand-ins over real HTTP, on a controlled clock (``now=``): outages are
retried and delivered once, a burst is batched within each destination's rate limit, and nothing is dropped."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from crm_bridge.alerts import delivery
from crm_bridge.alerts.models import Alert
from crm_bridge.intake.store import submit
from crm_bridge.models import Submission
from crm_bridge.sandbox import robots
from crm_bridge.sandbox.models import RobotOutage

RATE = 20  # the default RATE_PER_MINUTE


def lead(site, n: int) -> Submission:
    tel = f"139{n:08d}"
    submit(site, "lead", {"name": f"访客{n}", "tel": tel, "company": f"公司{n}", "page_url": ""})
    return Submission.objects.latest("created_at")


def items_in(text: str) -> int:
    """Alerts one received message stands for: 1, or the numbered lines of a summary."""
    listed = len(re.findall(r"^\d+\. ", text, flags=re.M))
    return listed or 1


def test_robot_down_for_a_while_then_delivered_exactly_once(site, robot_destinations):
    robots.go_down("wecom", count=3)
    lead(site, 1)
    alert = Alert.objects.get(destination__kind="wecom")
    t = timezone.now()
    assert delivery.flush_destination(alert.destination_id, now=t) == 0
    alert.refresh_from_db()
    assert (alert.status, alert.attempts, alert.last_error) == ("queued", 1, "robot answered HTTP 503")
    assert alert.next_attempt_at > t
    # The periodic sweep hands it out again whenever it is due; the stand-in refuses twice more, then accepts.
    for _step in range(200):
        t += timedelta(seconds=5)
        delivery.sweep(enqueue=lambda pk, t=t: delivery.deliver_alert(pk, now=t), now=t)
        alert.refresh_from_db()
        if alert.status == "sent":
            break
    assert (alert.status, alert.attempts, alert.last_error) == ("sent", 4, "")
    assert RobotOutage.objects.get().hits == 3
    assert [m["kind"] for m in robots.received("wecom")] == ["wecom"]
    # More sweeps send nothing more.
    for _step in range(3):
        t += timedelta(seconds=60)
        delivery.sweep(enqueue=lambda pk, t=t: delivery.deliver_alert(pk, now=t), now=t)
    assert len(robots.received("wecom", accepted=None)) == 1


def test_a_hundred_leads_in_a_minute_stay_within_the_rate_limit_and_none_is_dropped(site, robot_destinations):
    t0 = timezone.now()
    sends: dict[int, list[tuple[float, int]]] = {d.pk: [] for d in robot_destinations.values()}

    def flush(dest_id, at):
        n = delivery.flush_destination(dest_id, now=at)
        if n:
            sends[dest_id].append(((at - t0).total_seconds(), n))

    for i in range(100):  # one lead every 0.6 s, each handed to a worker at once
        at = t0 + timedelta(seconds=0.6 * i)
        sub = lead(site, i)
        Alert.objects.filter(submission=sub).update(created_at=at)
        for dest in robot_destinations.values():
            flush(dest.pk, at)
    for s in range(60, 300):  # then the periodic sweep, every second, until all is sent
        at = t0 + timedelta(seconds=s)
        delivery.sweep(enqueue=lambda pk, at=at: flush(Alert.objects.get(pk=pk).destination_id, at), now=at)
        if not Alert.objects.exclude(status="sent").exists():
            break

    assert Alert.objects.count() == 300
    assert Alert.objects.filter(status="sent", attempts=1).count() == 300  # every row sent, once
    for dest in robot_destinations.values():
        log = sends[dest.pk]
        for at, _n in log:  # any 60-second window holds at most RATE messages
            assert sum(n for t, n in log if at - 60 < t <= at) <= RATE
        got = robots.received(dest.kind)
        assert len(got) == sum(n for _t, n in log)
        assert len(got) < 100  # batched
        assert sum(items_in(m["text"]) for m in got) == 100  # and nothing dropped
        assert len(robots.received(dest.kind, accepted=None)) == len(got)  # the stand-in refused nothing
        texts = "\n".join(m["text"] for m in got)
        assert all(re.search(rf"访客{i}(?!\d)", texts) for i in range(100))
