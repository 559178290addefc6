"""Secrets and personal data where failures write: a lead and a message delivered to the sandbox CRM (real HTTP)
through hostile replies (an HTML error page, garbage, truncated bodies, CRM error codes, 503) and then a revoked
token, with the alarms that follow sent to a robot stand-in and by e-mail. Every place the failures reached is
scanned: log records (message, arguments, traceback), the attempts and the outbox row, the site's pause reason,
the circuit, the alert rows and the texts as the robot and the mailbox received them, the metrics and the staff
pages showing all of it. No spelling of the CRM token (old or new), the siteKey, the robot's key or SECRET_KEY
anywhere; no phone number, e-mail or name in logs, metrics, alarms or error texts."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from crm_bridge import testing
from crm_bridge.alerts import delivery as alert_delivery
from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.delivery import pauses
from crm_bridge.delivery.worker import deliver
from crm_bridge.models import Circuit, DeliveryAttempt, Site, Submission
from crm_bridge.sandbox import control, robots

from ..api.conftest import bridge
from .conftest import SITE_KEY, TALLY, scan_secrets, seen

pytestmark = [pytest.mark.abuse, pytest.mark.django_db]

TOKEN = "tok-ABUSE-crm-token-4e5f6a"
NEW_TOKEN = "tok-ABUSE-crm-token-NEW-7b8c9d"
METRICS_TOKEN = "metrics-ABUSE-failures-1a2b"
TEL, EMAIL, NAME = "13900139000", "li.abuse@example.com", "李小龙"
PERSONAL = [TEL, "+86" + TEL, "139 0013 9000", EMAIL, NAME]
#: (fault kind, error_code) in the order the two submissions meet them, one delivery attempt each.
FAULTS = [("html", None), ("garbage", None), ("truncated", None), ("error", 10001), ("down", None)]


@pytest.fixture
def crm(live_server, settings):
    """The sandbox over real HTTP, accepting only this module's token and the test site's siteKey."""
    control.reset()
    control.set_credentials(tokens=[TOKEN], site_keys=[SITE_KEY])
    settings.CRM_BRIDGE = testing.sandbox_settings(live_server.url, TOKEN=TOKEN, METRICS_TOKEN=METRICS_TOKEN)
    yield live_server.url
    control.clear_faults()
    robots.come_up()


def all_secrets() -> list[str]:
    return [TOKEN, NEW_TOKEN, SITE_KEY, METRICS_TOKEN, robots.WECOM_KEY, settings.SECRET_KEY]


def again(ids: list[str]) -> None:
    """Each row due now, the circuit closed: the next deliver() makes one more attempt."""
    Submission.objects.filter(pk__in=ids).update(next_attempt_at=None)
    Circuit.objects.all().delete()


def test_failures_write_no_secret_and_no_personal_data(crm, post, message, lead, site, caplog, admin_client):
    caplog.set_level(logging.DEBUG)
    robot = AlertDestination.objects.create(
        site=site,
        kind="wecom",
        webhook_url=f"{crm}/_robots/wecom/send?key={robots.WECOM_KEY}",
        on_leads=False,
        on_alarms=True,
    )
    AlertDestination.objects.create(
        site=site, kind="email", recipients="ops@example.com", on_leads=False, on_alarms=True
    )
    with bridge(THROTTLE_RATES={"ip": "1000/min", "site": "1000/min"}):
        ids = [
            seen(post("leads", {**lead, "name": NAME, "tel": TEL, "email": EMAIL})).json()["id"],
            seen(post("messages", {**message, "contact": f"手机 {TEL} 邮箱 {EMAIL}"})).json()["id"],
        ]
    for kind, code in FAULTS:
        control.inject_fault(kind, count=len(ids), error_code=code)
        again(ids)
        assert [deliver(sid) for sid in ids] == ["queued", "queued"], kind
    control.clear_faults()
    attempts = DeliveryAttempt.objects.filter(submission_id__in=ids)
    assert attempts.count() == len(FAULTS) * len(ids)
    assert set(attempts.values_list("outcome", flat=True)) != {"ok"}

    # Both credentials revoked: the lead (token) and the message (siteKey) pause, and each pause alarms staff.
    control.set_credentials(tokens=[], site_keys=[])
    again(ids)
    assert [deliver(sid) for sid in ids] == ["queued", "queued"]
    assert Site.objects.get().paused_at is not None
    assert Circuit.objects.filter(token_paused_at__isnull=False).count() == 1
    assert alert_delivery.detect_alarms() == 4  # site and token pause: the robot and the mailbox, once each
    alarms = Alert.objects.filter(kind="alarm")
    assert alarms.count() == 4
    for dest in AlertDestination.objects.all():
        alert_delivery.flush_destination(dest.pk)
    assert set(alarms.values_list("status", flat=True)) == {"sent"}, list(alarms.values("status", "last_error"))
    received = robots.received("wecom")
    # The alarms' texts, as sent: the site's pause names the site, the token's says every site waits.
    assert any("Shop" in m["text"] for m in received) and any("Shop" in e.body for e in mail.outbox)
    assert any("token" in m["text"] for m in received) and any("token" in e.body for e in mail.outbox)
    assert any("paused" in r.getMessage() for r in caplog.records)
    site_pause_reason = Site.objects.get().paused_reason
    token_pause_reason = Circuit.objects.get().token_paused_reason
    assert site_pause_reason and token_pause_reason
    assert len(received) == 2 and len(mail.outbox) == 2

    control.set_credentials(tokens=[NEW_TOKEN], site_keys=[SITE_KEY])  # a new token: deliveries resume
    with bridge(TOKEN=NEW_TOKEN, METRICS_TOKEN=METRICS_TOKEN):
        again(ids)
        Site.objects.update(paused_at=None, paused_reason="")
        Submission.objects.filter(pk__in=ids).update(status="queued")
        pauses.resume_token(enqueue=lambda sid: True)
        assert [deliver(sid) for sid in ids] == ["delivered", "delivered"]
        metrics = seen(admin_client.get("/crm/ops/metrics"))
    assert metrics.status_code == 200 and b"crm_bridge_" in metrics.content

    written = {
        "log records": [
            record.getMessage() + "\n" + (record.exc_text or "") + "\n" + repr(record.args) for record in caplog.records
        ],
        "attempts": [json.dumps(row, default=str, ensure_ascii=False) for row in attempts.values()],
        "outbox errors": list(Submission.objects.values_list("last_error", flat=True)),
        "site pause": [site_pause_reason],
        "token pause": [token_pause_reason],
        "circuit": [json.dumps(row, default=str, ensure_ascii=False) for row in Circuit.objects.values()],
        "alarms": [a.title + "\n" + a.text + "\n" + a.last_error for a in alarms],
        "robot received": [m["text"] for m in received],
        "e-mail": [m.subject + "\n" + m.body for m in mail.outbox],
        "metrics": [metrics.content.decode()],
    }
    assert any("10001" in t or "HTML" in t or "html" in t for t in written["attempts"]), written["attempts"][:3]
    assert len(written["log records"]) >= len(FAULTS)
    for where, texts in written.items():
        for text in texts:
            TALLY.requests += where not in ("metrics",)  # the metrics answer was counted by seen()
            scan_secrets(text, all_secrets(), where)
            scan_secrets(text, PERSONAL, f"{where} (personal data)")
    pages = [
        reverse("admin:crm_bridge_submission_change", args=[ids[0]]),
        reverse("admin:crm_bridge_submission_change", args=[ids[1]]),
        reverse("admin:crm_bridge_site_change", args=[site.pk]),
        reverse("admin:crm_bridge_alert_changelist"),
        reverse("admin:crm_bridge_alert_change", args=[alarms.first().pk]),
        reverse("admin:crm_bridge_circuit_changelist"),
        reverse("admin:index"),
    ]
    for url in pages:
        page = seen(admin_client.get(url))
        assert page.status_code == 200, url
        scan_secrets(page.content, all_secrets(), url)
    assert robot.pk
