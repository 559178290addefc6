"""Scans for secrets (the CRM token, a siteKey, robot webhook URLs and signing secrets) and personal data beyond
what the page is for: widget API answers, the widget script, the admin pages, log records, the metrics output
(read with its token) and the alert texts (phone masked)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

import crm_bridge
from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.models import Submission

from ..api.conftest import BASE, bridge
from .conftest import ORIGIN, SITE_KEY, TALLY, scan_secrets, seen

pytestmark = [pytest.mark.abuse, pytest.mark.django_db]

METRICS_TOKEN = "metrics-ABUSE-token-6d5c4b3a"
WEBHOOK_KEY = "wecom-ABUSE-key-0f1e2d"
DING_TOKEN = "ding-ABUSE-token-9a8b7c"
DING_SECRET = "SECding-ABUSE-secret-1234"
TEL = "13800138000"
EMAIL = "wang.abuse@example.com"
NAME = "王小明"


@pytest.fixture
def robots(site):
    """Two robot destinations whose URLs and secrets must stay in the database."""
    return [
        AlertDestination.objects.create(
            site=site, kind="wecom", webhook_url=f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WEBHOOK_KEY}",
            on_messages=True,
        ),
        AlertDestination.objects.create(
            site=site, kind="dingtalk", secret=DING_SECRET, on_messages=True,
            webhook_url=f"https://oapi.dingtalk.com/robot/send?access_token={DING_TOKEN}",
        ),
    ]  # fmt: skip


def secrets_of(robots) -> list[str]:
    return [SITE_KEY, settings.CRM_BRIDGE["TOKEN"], METRICS_TOKEN, WEBHOOK_KEY, DING_TOKEN, DING_SECRET,
            *(d.webhook_url for d in robots)]  # fmt: skip


@pytest.fixture
def traffic(client, post, site, message, lead, robots):
    """What a visitor's widget gets from every endpoint: successes and refusals."""
    lead = {**lead, "name": NAME, "tel": TEL, "email": EMAIL}
    with bridge(THROTTLE_RATES={"ip": "1000/min", "site": "1000/min"}):
        sent = seen(post("messages", {**message, "contact": f"电话 {TEL}"}))
        answers = [
            sent,
            seen(post("leads", lead)),
            seen(post("leads", {**lead, "tel": "not a phone"})),
            seen(post("leads", {**lead, "email": "bad@"})),
            seen(post("messages", {**message, "key": SITE_KEY})),
            seen(post("messages", message, origin="https://evil.example")),
            seen(post("hits", {"key": site.public_key, "pkid": 1})),
            seen(client.get(BASE + "config", {"key": site.public_key}, HTTP_ORIGIN=ORIGIN)),
            seen(client.get(BASE + "config", {"key": SITE_KEY}, HTTP_ORIGIN=ORIGIN)),
            seen(client.get(f"{BASE}submissions/{sent.json()['id']}", {"key": site.public_key}, HTTP_ORIGIN=ORIGIN)),
            seen(client.get(BASE + "schema")),
        ]
    return answers


def test_widget_api_answers_carry_no_secret_and_no_personal_data(traffic, robots):
    assert {r.status_code for r in traffic} >= {200, 202, 400, 403}
    for r in traffic:
        assert r["Content-Type"].startswith("application/"), r["Content-Type"]
        scan_secrets(r.content, secrets_of(robots), f"widget API {r.status_code}")
        scan_secrets(r.content, [TEL, EMAIL, NAME, "+86" + TEL], f"widget API {r.status_code} (personal data)")


def test_the_widget_script_carries_no_secret(robots):
    script = Path(crm_bridge.__file__).parent / "static" / "crm_bridge" / "widget.js"
    text = script.read_text(encoding="utf-8")
    scan_secrets(text, [*secrets_of(robots), "sandbox-token", "sandbox-site-key", settings.SECRET_KEY], "widget.js")
    TALLY.requests += 1


def test_admin_pages_carry_no_secret(admin_client, traffic, robots, site):
    sub = Submission.objects.filter(kind="lead").get()
    alert = Alert.objects.filter(destination=robots[0]).first()
    pages = [
        reverse("admin:crm_bridge_submission_changelist"),
        reverse("admin:crm_bridge_submission_change", args=[sub.pk]),
        reverse("admin:crm_bridge_site_changelist"),
        reverse("admin:crm_bridge_site_change", args=[site.pk]),
        reverse("admin:crm_bridge_console"),
        reverse("admin:crm_bridge_alert_changelist"),
        reverse("admin:crm_bridge_alert_change", args=[alert.pk]),
        reverse("admin:index"),
    ]
    for url in pages:
        r = seen(admin_client.get(url))
        assert r.status_code == 200, url
        scan_secrets(r.content, secrets_of(robots), url)


def test_log_records_carry_no_secret_and_no_personal_data(client, post, site, message, lead, robots, caplog):
    caplog.set_level(logging.DEBUG)
    with bridge(THROTTLE_RATES={"ip": "3/min", "site": "1000/min"}):
        lead = {**lead, "name": NAME, "tel": TEL, "email": EMAIL}
        for data in (lead, {**lead, "tel": "x"}, {**lead, "email": "bad"}, lead):
            seen(post("leads", data))
        seen(post("messages", {**message, "key": SITE_KEY}))
    assert caplog.records
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "") + repr(getattr(record, "__dict__", {}))
        scan_secrets(text, secrets_of(robots), f"log record {record.name}")
        scan_secrets(text, [TEL, EMAIL, NAME, "+86" + TEL], f"log record {record.name} (personal data)")


def test_metrics_with_the_token_carry_no_secret_and_no_personal_data(client, traffic, robots):
    with bridge(METRICS_TOKEN=METRICS_TOKEN):
        r = seen(client.get("/crm/ops/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}"))
    assert r.status_code == 200
    assert r.content.count(b"crm_bridge_") > 0
    scan_secrets(r.content, secrets_of(robots), "metrics")
    scan_secrets(r.content, [TEL, EMAIL, NAME, "+86" + TEL], "metrics (personal data)")


def test_alert_texts_mask_the_phone_and_carry_no_secret(traffic, robots):
    alerts = list(Alert.objects.all())
    assert len(alerts) == 2 * 2  # a message and a lead (the refused ones store nothing), for each robot
    for alert in alerts:
        text = alert.title + "\n" + alert.text
        scan_secrets(text, secrets_of(robots), f"alert {alert.kind}")
        scan_secrets(text, [TEL, "+86" + TEL, "138 0013 8000", EMAIL], f"alert {alert.kind} (full phone, e-mail)")
        assert "138****8000" in text, text
