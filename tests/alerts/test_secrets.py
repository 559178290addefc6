"""Webhook URLs and signing secrets are secrets: never in an admin page, a log line, a repr or an error text."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from crm_bridge.alerts import delivery, senders
from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.intake.store import submit
from crm_bridge.sandbox import robots

LEAD = {"name": "王小明", "tel": "13800138000", "company": "", "page_url": ""}


def secrets_of(dests):
    values = set()
    for d in dests:
        values.update(v for v in (d.webhook_url, d.secret) if v)
    return values | {robots.WECOM_KEY, robots.DINGTALK_TOKEN, robots.DINGTALK_SECRET, robots.FEISHU_TOKEN,
                     robots.FEISHU_SECRET}  # fmt: skip


def test_not_in_logs_or_error_texts_even_when_sends_fail(site, robot_destinations, caplog):
    caplog.set_level(logging.DEBUG)
    robots.go_down("wecom", count=1)
    AlertDestination.objects.filter(kind="dingtalk").update(secret="wrong-secret-value")
    AlertDestination.objects.filter(kind="feishu").update(
        webhook_url="http://127.0.0.1:9/open-apis/bot/v2/hook/tok-xyz"
    )
    dests = list(AlertDestination.objects.all())
    submit(site, "lead", dict(LEAD))
    for alert in Alert.objects.all():
        delivery.deliver_alert(alert.pk)
    assert set(Alert.objects.values_list("status", flat=True)) == {"queued"}
    texts = [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
    texts += list(Alert.objects.values_list("last_error", flat=True))
    texts += [repr(d) + str(d) for d in dests]
    leaked = [(s, t) for s in secrets_of(dests) | {"tok-xyz", "wrong-secret-value"} for t in texts if s in t]
    assert leaked == []
    assert any("refused" in r.getMessage() for r in caplog.records)  # the failures were logged


def test_send_error_never_quotes_the_url():
    dest = AlertDestination(kind="wecom", webhook_url="http://127.0.0.1:9/cgi-bin/webhook/send?key=very-secret-key")
    with pytest.raises(senders.SendError) as info:
        senders.send(dest, "t", "x")
    assert "very-secret-key" not in str(info.value) and info.value.__cause__ is None
    assert str(info.value) == "robot not reached: ConnectionError"


@pytest.fixture
def destinations(site, db):
    AlertDestination.objects.create(
        site=site, kind="dingtalk", webhook_url="https://oapi.dingtalk.com/robot/send?access_token=tok-abc123",
        secret="SECdeadbeef0123",
    )  # fmt: skip
    return site


def inline_data(site, **fields):
    dest = site.alert_destinations.first()
    prefix = "alert_destinations"
    data = {
        "name": site.name, "is_active": "on", "allowed_origins": "https://acme.example", "features": ["leads"],
        "texts": "{}", "default_cust_id": "0", "lead_mapping": '{"sName": "{company_or_name}"}',
        "retention_days": "180",
        f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-INITIAL_FORMS": "1", f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000", f"{prefix}-0-id": str(dest.pk), f"{prefix}-0-site": str(site.pk),
        f"{prefix}-0-kind": "dingtalk", f"{prefix}-0-enabled": "on", f"{prefix}-0-on_leads": "on",
        f"{prefix}-0-on_alarms": "on",
    }  # fmt: skip
    data.update({f"{prefix}-0-{k}": v for k, v in fields.items()})
    return data


def test_admin_site_page_never_shows_them(admin_client, destinations):
    url = reverse("admin:crm_bridge_site_change", args=[destinations.pk])
    html = admin_client.get(url).content.decode()
    assert "tok-abc123" not in html and "SECdeadbeef0123" not in html and "oapi.dingtalk.com" not in html
    assert html.count("crm-secret-state crm-secret-set") == 3  # the siteKey, the webhook URL and the secret


def test_admin_replaces_a_secret_only_when_typed(admin_client, destinations):
    url = reverse("admin:crm_bridge_site_change", args=[destinations.pk])
    response = admin_client.post(url, inline_data(destinations))
    assert response.status_code == 302, response.content.decode()[-3000:]
    dest = AlertDestination.objects.get()
    assert dest.secret == "SECdeadbeef0123" and dest.webhook_url.endswith("tok-abc123")  # kept
    response = admin_client.post(
        url, inline_data(destinations, new_secret="SECnew999", new_webhook_url="https://x.example/h?k=new-tok")
    )
    assert response.status_code == 302
    dest.refresh_from_db()
    assert (dest.secret, dest.webhook_url) == ("SECnew999", "https://x.example/h?k=new-tok")
    from django.contrib.admin.models import LogEntry

    history = " ".join(e.get_change_message() + e.change_message for e in LogEntry.objects.all())
    assert "SECnew999" not in history and "new-tok" not in history
    # A bad URL is refused without being echoed back.
    response = admin_client.post(url, inline_data(destinations, new_webhook_url="ftp://bad-secret-url"))
    assert response.status_code == 200 and "bad-secret-url" not in response.content.decode()
    dest.refresh_from_db()
    assert dest.webhook_url == "https://x.example/h?k=new-tok"


def test_alert_admin_list_and_retry(admin_client, destinations):
    submit(destinations, "lead", dict(LEAD))
    alert = Alert.objects.get()
    Alert.objects.filter(pk=alert.pk).update(status="failed", attempts=20, last_error="robot answered HTTP 503")
    html = admin_client.get(reverse("admin:crm_bridge_alert_changelist") + "?status=failed").content.decode()
    assert "138****8000" in html and "tok-abc123" not in html and "13800138000" not in html
    response = admin_client.post(
        reverse("admin:crm_bridge_alert_changelist"), {"action": "retry_failed", "_selected_action": [str(alert.pk)]}
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == ("queued", 0)


def test_a_site_post_without_the_inline_keeps_the_destinations(admin_client, destinations):
    data = {k: v for k, v in inline_data(destinations).items() if not k.startswith("alert_destinations")}
    response = admin_client.post(reverse("admin:crm_bridge_site_change", args=[destinations.pk]), data)
    assert response.status_code == 302
    assert AlertDestination.objects.get().secret == "SECdeadbeef0123"
