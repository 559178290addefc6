"""Message and lead flows against the sandbox CRM over real HTTP: what is called, what the CRM ends up with."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm_bridge import delivery, signals
from crm_bridge.delivery.flows import build_customer
from crm_bridge.models import DeliveryAttempt, LeadIdentity, Submission

from .conftest import wait_for

S = Submission.Status
pytestmark = pytest.mark.django_db(transaction=True)


def test_message_is_posted_once_under_the_default_cust_id(sandbox_crm, make_submission):
    sub = make_submission("message", payload={"content": "你好，想了解报价", "contact": "王先生 13800138000"})
    assert delivery.deliver(sub.pk) == S.DELIVERED
    board = sandbox_crm.messages("sandbox-site-key")
    assert [(m["custID"], m["content"], m["contact"]) for m in board] == [(1, "你好，想了解报价", "王先生 13800138000")]
    sub.refresh_from_db()
    assert (sub.status, sub.attempts, sub.crm_reply) == (S.DELIVERED, 1, {"ECommerce/AddMessageBoard": True})
    attempts = list(sub.attempt_log.values_list("endpoint", "outcome", "http_status"))
    assert attempts == [("ECommerce/AddMessageBoard", "ok", 200)]
    # A second run finds nothing to do.
    assert delivery.deliver(sub.pk) == "skipped"
    assert sandbox_crm.calls("ECommerce/AddMessageBoard") == 1


def test_new_lead_is_checked_then_saved(sandbox_crm, make_submission):
    sub = make_submission("lead", payload={"name": "李雷", "tel": "13912345678", "company": "韩梅梅贸易有限公司",
                                           "email": "li@example.com", "message": "要报价"})  # fmt: skip
    before = len(sandbox_crm.customers())
    assert delivery.deliver(sub.pk) == S.DELIVERED
    created = sandbox_crm.customers()[before:]
    assert len(created) == 1
    assert created[0]["sName"] == "韩梅梅贸易有限公司"
    assert created[0]["tel"] == "13912345678"
    assert created[0]["email"] == "li@example.com"
    assert "联系人: 李雷" in created[0]["remark"]
    assert [a.endpoint for a in sub.attempt_log.all()] == [
        "Customer/NameIsRepeat", "Customer/TelIsRepeat", "Customer/Save",
    ]  # fmt: skip
    sub.refresh_from_db()
    assert sub.save_attempted is True
    assert sub.crm_reply == {"Customer/NameIsRepeat": False, "Customer/TelIsRepeat": False, "Customer/Save": True}


@pytest.mark.parametrize("same", ["name", "tel"])
def test_repeated_lead_is_a_duplicate_and_creates_nothing(sandbox_crm, make_submission, site, same):
    first = make_submission("lead", payload={"company": "", "name": "张三", "tel": "13700000001"})
    assert delivery.deliver(first.pk) == S.DELIVERED
    LeadIdentity.objects.all().delete()  # forget our outbox, so the CRM's own checks are what catch it
    payload = {
        "company": "",
        "name": "张三" if same == "name" else "张三丰",
        "tel": "13700000001" if same == "tel" else "13700000002",
    }
    site.post_duplicates_to_board = False
    site.save()
    second = make_submission("lead", payload=payload)
    customers = len(sandbox_crm.customers())
    received = []
    signals.submission_duplicate.connect(lambda submission, **kw: received.append(submission.pk), weak=False)
    try:
        assert delivery.deliver(second.pk) == S.DUPLICATE
    finally:
        signals.submission_duplicate.receivers.clear()
    assert len(sandbox_crm.customers()) == customers
    assert sandbox_crm.calls("Customer/Save") == 1
    second.refresh_from_db()
    assert ("name" if same == "name" else "phone") in second.last_error
    assert received == [second.pk]


def test_duplicate_lead_is_posted_to_the_board_for_sales(sandbox_crm, make_submission):
    first = make_submission("lead", payload={"company": "", "name": "王五", "tel": "13600000001"})
    delivery.deliver(first.pk)
    again = make_submission(
        "lead", payload={"company": "", "name": "王五", "tel": "13600000001", "message": "再次咨询"}
    )
    assert delivery.deliver(again.pk) == S.DUPLICATE
    board = sandbox_crm.messages()
    assert len(board) == 1
    assert "王五" in board[0]["content"] and "再次咨询" in board[0]["content"]
    assert board[0]["contact"] == "13600000001"
    # Our outbox knew it: no CRM check was needed for the second lead.
    assert sandbox_crm.calls("Customer/NameIsRepeat") == 1


def test_lead_waits_while_one_with_its_phone_is_in_flight(sandbox_crm, make_submission):
    first = make_submission("lead", payload={"name": "赵六", "tel": "13500000001"})
    second = make_submission("lead", payload={"name": "赵六六", "tel": "13500000001"})
    held = delivery.outbox.claim(first.pk)  # another worker is sending the first
    from crm_bridge.delivery.flows import reserve_identities

    assert reserve_identities(held, build_customer(held.site, held.payload)) is None
    assert delivery.deliver(second.pk) == S.QUEUED
    second.refresh_from_db()
    assert second.attempts == 0  # waiting spends no attempt
    assert second.next_attempt_at > timezone.now()
    assert sandbox_crm.calls() == 0
    delivery.outbox.finish(held, S.DELIVERED)
    Submission.objects.filter(pk=second.pk).update(next_attempt_at=None)
    assert delivery.deliver(second.pk) == S.DUPLICATE
    assert sandbox_crm.calls("Customer/Save") == 0


def test_a_failed_lead_hands_its_identity_to_the_next(sandbox_crm, make_submission):
    dead = make_submission("lead", payload={"name": "孙七", "tel": "13400000001", "company": ""})
    held = delivery.outbox.claim(dead.pk)
    from crm_bridge.delivery.flows import reserve_identities

    reserve_identities(held, build_customer(held.site, held.payload))
    delivery.outbox.finish(held, S.FAILED, error="rejected")
    retry = make_submission("lead", payload={"name": "孙七", "tel": "13400000001", "company": ""})
    assert delivery.deliver(retry.pk) == S.DELIVERED
    assert set(LeadIdentity.objects.values_list("submission", flat=True)) == {retry.pk}


def test_retry_after_an_unheard_save_is_delivered_not_duplicated(sandbox_crm, make_submission, settings):
    """Save reaches the CRM and commits, but the reply is lost (a timeout). The retry must create nothing and
    must not call its own customer a duplicate."""
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "READ_TIMEOUT": 0.5}
    sandbox_crm.inject_fault("hang", endpoint="Customer/Save", phase="after", delay=2, count=1)
    sub = make_submission("lead", payload={"name": "周八", "tel": "13300000001", "company": ""})
    assert delivery.deliver(sub.pk) == S.QUEUED
    sub.refresh_from_db()
    assert (sub.attempts, sub.save_attempted, sub.ambiguous_sends) == (1, True, 1)
    assert [c["sName"] for c in sandbox_crm.customers()].count("周八") == 1  # it did reach the CRM
    Submission.objects.filter(pk=sub.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert delivery.deliver(sub.pk) == S.DELIVERED
    assert [c["sName"] for c in sandbox_crm.customers()].count("周八") == 1
    wait_for(lambda: sandbox_crm.calls("Customer/Save") == 1, timeout=5)  # logged once its hang has ended
    assert sandbox_crm.calls("Customer/Save") == 1
    sub.refresh_from_db()
    assert "confirmed" in sub.last_error
    outcomes = list(sub.attempt_log.values_list("endpoint", "outcome"))
    assert ("Customer/Save", DeliveryAttempt.Outcome.AMBIGUOUS) in outcomes


def test_lead_mapping_is_the_sites(site, make_submission):
    site.lead_mapping = {"sName": "{name}（{company}）", "tel": "{tel_e164}", "mobile": "{tel}", "remark": ""}
    sub = make_submission("lead", payload={"name": "钱九", "tel": "13200000001", "tel_e164": "+8613200000001",
                                           "company": "九州"})  # fmt: skip
    assert build_customer(site, sub.payload) == {
        "sName": "钱九（九州）",
        "tel": "+8613200000001",
        "mobile": "13200000001",
    }
