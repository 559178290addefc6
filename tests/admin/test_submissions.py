"""Submission admin: the outbox list, search, filters, the read-only page with its CRM calls, and the actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from crm_bridge.models import DeliveryAttempt, Submission

from .conftest import SITE_KEY, assert_no_secret

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:crm_bridge_submission_changelist")


def change_url(sub: Submission) -> str:
    return reverse("admin:crm_bridge_submission_change", args=[sub.pk])


def found(client, **query) -> set[str]:
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    return {str(s.pk) for s in response.context["cl"].result_list}


# --- list ---------------------------------------------------------------------------------------------


def test_changelist_columns(admin_client, make_submission):
    lead = make_submission("lead", payload={"name": "李雷", "company": "雷氏贸易"}, attempts=3, ambiguous_sends=1)
    msg = make_submission("message", status="failed", payload={"content": "请回电话\n谢谢", "contact": "韩梅梅"})
    make_submission("message", status="spam")
    response = admin_client.get(CHANGELIST)
    body = response.content.decode()
    assert response.context["cl"].result_count == 3
    assert f"李雷 · {lead.payload['tel']} · 雷氏贸易" in body
    assert "请回电话 谢谢 (韩梅梅)" in body  # message excerpt on one line, with the contact
    assert body.count('class="crm-badge crm-badge-failed"') == 1
    assert body.count('class="crm-badge crm-badge-spam"') == 1
    assert body.count('class="crm-badge crm-badge-queued"') == 1
    assert body.count('<span title="a send got no answer: possibly delivered twice"') == 1
    assert str(msg.pk) in body
    assert_no_secret(body, SITE_KEY)


def test_filters(admin_client, make_submission):
    old = make_submission("lead", status="delivered")
    Submission.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    new = make_submission("message", status="delivered")
    spam = make_submission("message", status="spam", ambiguous_sends=2)
    assert found(admin_client, status__exact="delivered") == {str(old.pk), str(new.pk)}
    assert found(admin_client, kind__exact="lead") == {str(old.pk)}
    since = (timezone.now() - timedelta(days=7)).isoformat()
    assert found(admin_client, created_at__gte=since) == {str(new.pk), str(spam.pk)}
    assert found(admin_client, ambiguous="yes") == {str(spam.pk)}
    assert found(admin_client, site__id__exact=str(old.site_id)) == {str(old.pk), str(new.pk), str(spam.pk)}


def test_search_by_name_phone_and_content(admin_client, make_submission):
    lead = make_submission("lead", payload={"name": "韩梅梅", "tel": "138 0013 8000", "tel_e164": "+8613800138000"})
    land = make_submission("lead", payload={"name": "Li Lei", "tel": "010 1234 5678", "tel_e164": "+861012345678"})
    msg = make_submission(
        "message", payload={"content": "想了解 TH-100 温湿度变送器的报价", "contact": "wang@example.cn"}
    )
    make_submission("message", payload={"content": "别的留言"})
    assert found(admin_client, q="梅梅") == {str(lead.pk)}
    assert found(admin_client, q="li lei") == {str(land.pk)}  # case-insensitive, every word must match
    assert found(admin_client, q="13800138000") == {str(lead.pk)}
    assert found(admin_client, q="138 0013 8000") == {str(lead.pk)}
    assert found(admin_client, q="+86 138-0013-8000") == {str(lead.pk)}
    assert found(admin_client, q="010-12345678") == {str(land.pk)}
    assert found(admin_client, q="温湿度") == {str(msg.pk)}
    assert found(admin_client, q="th-100 报价") == {str(msg.pk)}
    assert found(admin_client, q="wang@example") == {str(msg.pk)}
    assert found(admin_client, q=str(msg.pk)) == {str(msg.pk)}
    assert found(admin_client, q="没有这个") == set()


def test_a_phone_search_finds_a_message_contact_however_it_was_typed(admin_client, make_submission):
    typed = make_submission("message", payload={"content": "回电", "contact": "手机 138-0013-8000"})
    e164 = make_submission("message", payload={"content": "回电", "contact": "+86 138 0013 8000"})
    longer = make_submission("message", payload={"content": "回电", "contact": "9138001380001"})
    # Typed as digits, the search is also Django's plain substring search, which the longer number contains;
    # typed with spaces, only the number itself matches.
    assert found(admin_client, q="13800138000") == {str(typed.pk), str(e164.pk), str(longer.pk)}
    assert found(admin_client, q="138 0013 8000") == {str(typed.pk), str(e164.pk)}
    assert found(admin_client, q="+86-138-0013-8000") == {str(typed.pk), str(e164.pk)}


# --- the submission's page ----------------------------------------------------------------------------


def test_page_is_read_only_with_attempts_and_replies(admin_client, make_submission):
    sub = make_submission("lead", status="failed", last_error="the CRM answered Customer/Save with value=false",
                          crm_reply={"Customer/Save": False})  # fmt: skip
    now = timezone.now()
    DeliveryAttempt.objects.create(
        submission=sub, attempt=1, endpoint="Customer/NameIsRepeat", started_at=now, duration_ms=41,
        outcome="ok", http_status=200, reply={"value": False},
    )  # fmt: skip
    DeliveryAttempt.objects.create(
        submission=sub, attempt=1, endpoint="Customer/Save", started_at=now + timedelta(seconds=1), duration_ms=2003,
        outcome="retry", http_status=503, error_code=10002, error="service unavailable",
        reply={"error": "CRMServerError", "message": "service unavailable", "http_status": 503},
    )  # fmt: skip
    response = admin_client.get(change_url(sub))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="_save"' not in body  # nothing to save: a view page
    assert response.context["adminform"].form.fields == {}
    inline = response.context["inline_admin_formsets"][0]
    assert len(inline.formset.forms) == 2
    assert "Customer/NameIsRepeat" in body and "Customer/Save" in body
    assert "41 ms" in body and "2003 ms" in body
    assert body.count('class="crm-badge crm-badge-retry"') == 1
    assert "service unavailable" in body
    assert "&quot;error&quot;: &quot;CRMServerError&quot;" in body  # the CRM's answer, pretty JSON
    assert "&quot;Customer/Save&quot;: false" in body
    assert f"&quot;name&quot;: &quot;{sub.payload['name']}&quot;" in body  # payload, non-ASCII kept
    # The buttons that apply to a failed row.
    buttons = [name for _label, _url, name in response.context["submission_buttons"]]
    assert buttons == ["retry", "cancel"]
    assert_no_secret(body, SITE_KEY)


def test_no_adding_or_editing_by_hand(admin_client, make_submission):
    sub = make_submission()
    assert admin_client.get(reverse("admin:crm_bridge_submission_add")).status_code == 403
    before = sub.payload
    response = admin_client.post(change_url(sub), {"status": "delivered", "payload": "{}"})
    assert response.status_code == 403
    sub.refresh_from_db()
    assert (sub.status, sub.payload) == ("queued", before)


def test_buttons(admin_client, make_submission, enqueued, django_capture_on_commit_callbacks):
    spam = make_submission(status="spam", spam_reason="honeypot")
    url = reverse("admin:crm_bridge_submission_button", args=[spam.pk, "release"])
    assert admin_client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, follow=True)
    assert response.redirect_chain == [(change_url(spam), 302)]
    spam.refresh_from_db()
    assert (spam.status, spam.spam_reason) == ("queued", "")
    assert enqueued == [str(spam.pk)]
    assert [str(m) for m in response.context["messages"]] == ["1 submission released from spam and queued."]
    assert [n for _l, _u, n in response.context["submission_buttons"]] == ["retry", "cancel"]
    response = admin_client.post(reverse("admin:crm_bridge_submission_button", args=[spam.pk, "bogus"]))
    assert response.status_code == 403


# --- actions ------------------------------------------------------------------------------------------


def act(client, action: str, subs) -> list[str]:
    response = client.post(CHANGELIST, {"action": action, "_selected_action": [str(s.pk) for s in subs]}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def statuses(*subs) -> list[str]:
    return [Submission.objects.get(pk=s.pk).status for s in subs]


def test_retry_now(admin_client, make_submission, enqueued, django_capture_on_commit_callbacks):
    later = timezone.now() + timedelta(hours=3)
    failed = make_submission(status="failed", attempts=30, finished_at=timezone.now())
    queued = make_submission(status="queued", attempts=2, next_attempt_at=later)
    delivered = make_submission(status="delivered")
    spam = make_submission(status="spam")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        messages = act(admin_client, "retry_now", [failed, queued, delivered, spam])
    assert len(callbacks) == 2
    assert messages == [
        "2 submissions queued for delivery now. 2 skipped: only queued or failed submissions can be retried."
    ]
    assert statuses(failed, queued, delivered, spam) == ["queued", "queued", "delivered", "spam"]
    assert sorted(enqueued) == sorted([str(failed.pk), str(queued.pk)])
    failed.refresh_from_db()
    queued.refresh_from_db()
    assert (failed.attempts, failed.finished_at) == (0, None)  # a fresh attempt budget
    assert queued.attempts == 2 and queued.next_attempt_at <= timezone.now()


def test_enqueue_waits_for_commit(admin_client, make_submission, enqueued):
    """Inside a transaction that never commits (the test's), nothing reaches the broker."""
    failed = make_submission(status="failed")
    act(admin_client, "retry_now", [failed])
    assert statuses(failed) == ["queued"]
    assert enqueued == []


def test_cancel(admin_client, make_submission, enqueued):
    rows = [make_submission(status=s) for s in ("queued", "failed", "spam", "sending", "delivered", "duplicate")]
    messages = act(admin_client, "cancel", rows)
    assert messages == [
        "3 submissions cancelled. 3 skipped: only queued, failed or held-as-spam submissions can be cancelled."
    ]
    assert statuses(*rows) == ["cancelled", "cancelled", "cancelled", "sending", "delivered", "duplicate"]
    assert Submission.objects.filter(status="cancelled", finished_at__isnull=False).count() == 3
    assert enqueued == []


def test_release_spam(admin_client, make_submission, enqueued, django_capture_on_commit_callbacks):
    spam = [make_submission(status="spam", spam_reason="too fast") for _ in range(2)]
    other = make_submission(status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        messages = act(admin_client, "release_spam", [*spam, other])
    assert messages == [
        "2 submissions released from spam and queued. 1 skipped: only submissions held as spam can be released."
    ]
    assert statuses(*spam, other) == ["queued", "queued", "failed"]
    assert sorted(enqueued) == sorted(str(s.pk) for s in spam)


def test_an_action_that_changes_nothing_says_so(admin_client, make_submission, enqueued):
    delivered = make_submission(status="delivered")
    assert act(admin_client, "release_spam", [delivered]) == [
        "0 submissions released from spam and queued. 1 skipped: only submissions held as spam can be released."
    ]


def test_view_only_staff_see_no_actions(client, make_submission):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_submission"))
    client.force_login(user)
    sub = make_submission(status="failed")
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.context["action_form"] is None  # no action this user may run
    page = client.get(change_url(sub))
    assert page.status_code == 200
    assert "submission_buttons" not in page.context
    response = client.post(reverse("admin:crm_bridge_submission_button", args=[sub.pk, "retry"]))
    assert response.status_code == 403
    assert statuses(sub) == ["failed"]
