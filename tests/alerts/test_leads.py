"""A lead produces exactly one alert per destination, in the intake transaction, delivered to the robot
stand-ins over real HTTP with valid signatures; spam and unwanted messages produce none."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from crm_bridge import testing
from crm_bridge.alerts import delivery
from crm_bridge.alerts.create import mask_phone
from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.intake.store import submit
from crm_bridge.models import Submission
from crm_bridge.sandbox import robots

ORIGIN = "https://acme.example"
LEAD = {"name": "王小明", "tel": "13800138000", "tel_e164": "+8613800138000", "company": "示例公司",
        "email": "", "message": "", "page_url": ORIGIN + "/pricing"}  # fmt: skip


def post_lead(site, **fields):
    cache.clear()  # throttle counters
    body = {"key": site.public_key, "name": "王小明", "tel": "13800138000", "company": "示例公司",
            "page_url": ORIGIN + "/pricing", **testing.consent(site), **fields}  # fmt: skip
    return APIClient().post("/crm/widget/v1/leads", body, format="json", HTTP_ORIGIN=ORIGIN)


@pytest.mark.django_db(transaction=True)
def test_a_lead_reaches_every_robot_once_with_a_valid_signature(site, robot_destinations, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = post_lead(site)
    assert response.status_code == 202, response.content
    sub = Submission.objects.get()
    alerts = Alert.objects.filter(submission=sub)
    assert alerts.count() == 3
    assert sorted(alerts.values_list("destination__kind", flat=True)) == ["dingtalk", "feishu", "wecom"]

    for alert in alerts:
        assert delivery.deliver_alert(alert.pk) == "sent"

    got = robots.received(accepted=None)
    assert sorted((m["kind"], m["accepted"]) for m in got) == [("dingtalk", True), ("feishu", True), ("wecom", True)]
    by_kind = {m["kind"]: m for m in got}
    assert by_kind["dingtalk"]["signed"] and by_kind["feishu"]["signed"]
    for m in got:
        assert "王小明" in m["text"] and "138****8000" in m["text"] and "13800138000" not in m["text"]
        assert "示例公司" in m["text"] and "/pricing" in m["text"]
    assert set(Alert.objects.values_list("status", flat=True)) == {"sent"}
    assert Alert.objects.filter(attempts=1).count() == 3
    # Delivering again sends nothing more.
    assert delivery.deliver_alert(alerts[0].pk) == "sent"
    assert len(robots.received(accepted=None)) == 3


@pytest.mark.django_db(transaction=True)
def test_a_wrong_secret_is_refused_by_the_stand_in_and_retried(site, robot_destinations):
    for kind in ("dingtalk", "feishu"):
        AlertDestination.objects.filter(kind=kind).update(secret="not-the-secret")
    post_lead(site)
    for alert in Alert.objects.filter(destination__kind__in=["dingtalk", "feishu"]):
        assert delivery.deliver_alert(alert.pk) == "queued"
    refused = robots.received(accepted=None)
    assert sorted((m["kind"], m["errcode"]) for m in refused) == [("dingtalk", 310000), ("feishu", 19021)]
    errors = set(Alert.objects.exclude(destination__kind="wecom").values_list("last_error", flat=True))
    assert errors == {"robot refused the message: code 310000 sign not match",
                      "robot refused the message: code 19021 sign match fail or timestamp is not within one hour "
                      "from current time"}  # fmt: skip


def test_stored_with_the_submission_in_one_insert(site, django_capture_on_commit_callbacks):
    for kind in ("wecom", "dingtalk", "feishu"):
        AlertDestination.objects.create(site=site, kind=kind, webhook_url="http://127.0.0.1:9/hook")
    with django_capture_on_commit_callbacks() as callbacks, CaptureQueriesContext(connection) as queries:
        submit(site, "lead", dict(LEAD))
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 2  # the submission and one bulk insert of its three alerts
    assert 'INSERT INTO "crm_bridge_alert"' in inserts[1]
    assert Alert.objects.count() == 3
    assert len(callbacks) == 3  # delivery hand-off, announce, alert hand-off


def test_no_alert_for_spam_or_for_messages_unless_asked(site, db):
    email = AlertDestination.objects.create(site=site, kind="email", recipients="sales@acme.example")
    submit(site, "lead", dict(LEAD), spam_reason="honeypot")
    submit(site, "message", {"content": "请回电 13900139000", "contact": "", "page_url": ""})
    assert Alert.objects.count() == 0
    email.on_messages = True
    email.save()
    submit(site, "message", {"content": "请回电 13900139000", "contact": "", "page_url": ""})
    alert = Alert.objects.get()
    assert alert.kind == "message" and "139****9000" in alert.text and "13900139000" not in alert.text


def test_released_spam_alerts_once_like_a_genuine_lead(site, db):
    from crm_bridge import delivery

    AlertDestination.objects.create(site=site, kind="email", recipients="sales@acme.example")
    submit(site, "lead", dict(LEAD), spam_reason="honeypot")
    held = Submission.objects.get()
    assert Alert.objects.count() == 0
    handed = []
    assert delivery.release_spam([held.pk], enqueue=handed.append) == 1
    assert delivery.release_spam([held.pk], enqueue=handed.append) == 0  # released already: nothing more
    alert = Alert.objects.get()
    assert (alert.kind, alert.submission_id, handed) == ("lead", held.pk, [str(held.pk)])
    assert "王小明" in alert.text


def test_disabled_destinations_and_other_sites_get_nothing(site, db):
    from crm_bridge.models import Site

    other = Site.objects.create(name="Other", site_key="k2")
    AlertDestination.objects.create(site=site, kind="email", recipients="a@acme.example", enabled=False)
    AlertDestination.objects.create(site=other, kind="email", recipients="b@other.example")
    submit(site, "lead", dict(LEAD))
    assert Alert.objects.count() == 0


def test_email_alert_and_full_phone_option(site, db):
    AlertDestination.objects.create(site=site, kind="email", recipients="sales@acme.example, boss@acme.example",
                                    full_phone=True)  # fmt: skip
    submit(site, "lead", dict(LEAD))
    alert = Alert.objects.get()
    assert delivery.deliver_alert(alert.pk) == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["sales@acme.example", "boss@acme.example"]
    assert "13800138000" in mail.outbox[0].body
    assert mail.outbox[0].subject == alert.title


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13800138000", "138****8000"), ("+86 138-0013-8000", "138****8000"), ("010-12345678", "010****5678"),
     ("1234567", "1****67"), ("", "")],
)  # fmt: skip
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked
