"""Retention and data-subject requests (PIPL; docs/privacy.md): exact rows redacted with a controlled clock,
pending rows untouched, no delivery after redaction; the erase command over a phone number; and no personal data
in any log record of a lead's whole way through intake and delivery."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from crm_bridge import delivery, tasks
from crm_bridge.delivery import outbox
from crm_bridge.models import DeliveryAttempt, LeadIdentity, PrivacyAuditLog, Submission
from crm_bridge.privacy import requests
from crm_bridge.privacy.retention import run_retention

pytestmark = pytest.mark.django_db
S = Submission.Status
NOW = timezone.now()


def old(days: float):
    return NOW - timedelta(days=days)


def test_retention_redacts_exactly_the_finished_rows_past_the_period(site, make_submission):
    site.retention_days = 30
    site.save()
    due = [
        make_submission("lead", status=s, created_at=old(31), crm_reply={"value": 42, "sName": "访客"})
        for s in (S.DELIVERED, S.DUPLICATE, S.FAILED, S.CANCELLED, S.SPAM)
    ]
    young = make_submission("lead", status=S.DELIVERED, created_at=old(29))
    pending = [make_submission("lead", status=s, created_at=old(400)) for s in (S.QUEUED, S.SENDING)]
    DeliveryAttempt.objects.create(submission=due[0], endpoint="Customer/Save", outcome="ok",
                                   reply={"value": 42, "echo": "13900000001"}, error="tel 13900000001")  # fmt: skip
    LeadIdentity.objects.create(site=site, field="tel", value=due[0].payload["tel"], submission=due[0])
    before = {s.pk: s.payload for s in (young, *pending)}

    assert run_retention(now=NOW) == 5
    for sub in due:
        sub.refresh_from_db()
        assert sub.redacted_at == NOW
        assert all(sub.payload[k] == "" for k in ("name", "tel", "tel_e164", "company", "email", "message"))
        assert sub.crm_reply == {"value": 42, "sName": ""}  # ids and codes kept, echoed text gone
        assert (sub.user_agent, sub.page_url) == ("", "")
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.reply, attempt.error, attempt.outcome) == ({"value": 42, "echo": ""}, "", "ok")
    assert LeadIdentity.objects.count() == 0
    for sub in (young, *pending):
        sub.refresh_from_db()
        assert sub.redacted_at is None and sub.payload == before[sub.pk]
    [entry] = PrivacyAuditLog.objects.all()
    assert (entry.action, entry.via, entry.rows) == ("retention", "task", 5)
    assert run_retention(now=NOW) == 0  # a second run finds nothing new


def test_a_redacted_row_is_never_delivered(site, make_submission):
    site.retention_days = 1
    site.save()
    failed = make_submission("lead", status=S.FAILED, created_at=old(2))
    spam = make_submission("message", status=S.SPAM, created_at=old(2))
    assert run_retention(now=NOW) == 2
    # Staff retry and release refuse it; even forced back to queued, no worker claims it.
    assert delivery.retry_now([failed.pk], enqueue=lambda pk: True) == 0
    assert delivery.release_spam([spam.pk], enqueue=lambda pk: True) == 0
    Submission.objects.filter(pk=failed.pk).update(status=S.QUEUED, next_attempt_at=None)
    assert outbox.claim(failed.pk) is None
    assert delivery.deliver(str(failed.pk)) != "delivered"
    assert delivery.sweep(enqueue=lambda pk: pytest.fail("a redacted row was handed to the broker")) == 0
    assert Submission.objects.get(pk=failed.pk).attempts == 0


def test_the_beat_schedule_runs_retention():
    entry = tasks.beat_schedule()["crm_bridge.retention"]
    assert entry["task"] == "crm_bridge.retention" and entry["schedule"] <= 24 * 3600


def test_erase_command_over_a_phone_number(site, make_submission, caplog):
    caplog.set_level(logging.DEBUG)
    mine = [
        make_submission("lead", status=S.DELIVERED, payload={"tel": "13812345678", "tel_e164": "+8613812345678"}),
        make_submission("lead", status=S.QUEUED, payload={"tel": "13812345678", "tel_e164": "+8613812345678"}),
        make_submission("message", status=S.DELIVERED, payload={"contact": "电话 13812345678"}),
    ]
    other = make_submission("lead", status=S.DELIVERED)
    out = io.StringIO()
    exported = io.StringIO()
    call_command("crm_bridge_privacy", "export", "--phone", "+86 138-1234-5678", "--actor", "dpo", stdout=exported,
                 stderr=io.StringIO())  # fmt: skip
    assert sorted(d["id"] for d in json.loads(exported.getvalue())) == sorted(str(s.pk) for s in mine)
    call_command("crm_bridge_privacy", "erase", "--phone", "138 1234 5678", "--yes", "--actor", "dpo",
                 stdout=out, stderr=io.StringIO())  # fmt: skip
    assert "3 submission(s) erased; 2 of them had been delivered to the CRM." in out.getvalue()
    assert "delete the customer / message there as well" in out.getvalue()
    assert set(Submission.objects.filter(redacted_at__isnull=False).values_list("pk", flat=True)) == {
        s.pk for s in mine
    }
    assert Submission.objects.get(pk=mine[1].pk).status == S.CANCELLED  # never sent now
    assert Submission.objects.get(pk=other.pk).payload["tel"] == other.payload["tel"]
    entries = list(PrivacyAuditLog.objects.order_by("at").values_list("action", "actor", "matched_by", "rows"))
    assert entries[-1] == ("erase", "dpo", "phone", 3) and entries[0][0] == "export" and len(entries) == 2
    assert any("privacy erase by dpo via command (matched by phone): 3 submission(s)" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    for record in caplog.records:
        text = record.getMessage() + str(record.args)
        assert "13812345678" not in text and "1234-5678" not in text
    # Nothing is found any more.
    found = io.StringIO()
    call_command("crm_bridge_privacy", "find", "--phone", "13812345678", stdout=found, stderr=io.StringIO())
    assert found.getvalue() == ""


@pytest.mark.parametrize(
    "contact",
    [
        "13812345678",
        "电话 138-1234-5678",
        "手机：138 1234 5678。",
        "+86 138.1234.5678",
        "0086(138)12345678",
        "+8613812345678",
    ],
)
def test_a_message_contact_is_found_however_the_number_was_typed(site, make_submission, contact):
    mine = make_submission("message", payload={"contact": contact})
    make_submission("message", payload={"contact": "913812345678"})  # a longer number that contains it
    make_submission("message", payload={"contact": "138123456789"})
    make_submission("message", payload={"contact": "13812345679"})
    assert list(requests.find(phone="138 1234 5678")) == [mine]


@pytest.mark.parametrize("contact", ["010-12345678", "(010) 1234 5678", "+86 10 1234 5678", "办公室 01012345678 转 8"])
def test_a_landline_in_a_message_contact_is_found(site, make_submission, contact):
    mine = make_submission("message", payload={"contact": contact})
    make_submission("message", payload={"contact": "021-12345678"})
    assert list(requests.find(phone="010 1234 5678")) == [mine]


def test_a_bad_phone_is_a_clear_error_and_changes_nothing(site, make_submission):
    from django.core.management import CommandError

    make_submission("lead")
    with pytest.raises(CommandError):
        call_command("crm_bridge_privacy", "erase", "--phone", "12", "--yes")
    assert Submission.objects.filter(redacted_at__isnull=False).count() == 0
    assert PrivacyAuditLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_no_personal_data_in_any_log_record_of_a_lead(site, sandbox_crm, settings, caplog):
    """A lead through intake (the real API) and delivery (the sandbox over HTTP), every logger at DEBUG."""
    caplog.set_level(logging.DEBUG)
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "MIN_FILL_SECONDS": 0.0}
    lead = {"name": "隐私测试人", "tel": "13698765432", "email": "privacy.probe@example.com",
            "company": "保密公司", "message": "请勿记录这段留言"}  # fmt: skip
    r = Client().post(
        "/crm/widget/v1/leads",
        json.dumps({"key": site.public_key, **lead, "consent": True, "version": site.privacy_version}),
        content_type="application/json",
        HTTP_ORIGIN="https://acme.example",
    )
    assert r.status_code == 202, r.content
    assert delivery.deliver(r.json()["id"]) == "delivered"
    # And a refused one: field errors are logged by Django as "Bad Request" without the body.
    Client().post("/crm/widget/v1/leads", json.dumps({"key": site.public_key, **lead, "tel": "12"}),
                  content_type="application/json", HTTP_ORIGIN="https://acme.example")  # fmt: skip
    assert caplog.records, "nothing was logged: the scan would prove nothing"
    secrets = [*lead.values(), "+8613698765432"]
    for record in caplog.records:
        text = "\n".join([record.getMessage(), repr(record.args), str(record.exc_info or ""), repr(record.__dict__)])
        for value in secrets:
            assert value not in text, f"{record.name} logged personal data: {record.getMessage()[:200]}"
