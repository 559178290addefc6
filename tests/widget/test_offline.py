"""Backend unreachable in a real browser: the submission is kept in localStorage, the visitor is told it was
saved, and it is sent again on the next page load or `online` event with the same Idempotency-Key — stored and
delivered exactly once, counted in our outbox and in the sandbox CRM."""

from __future__ import annotations

import time

import pytest

from crm_bridge import delivery
from crm_bridge.intake.serializers import DEFAULT_TEXTS
from crm_bridge.models import IdempotencyRecord, Submission
from crm_bridge.sandbox import control
from tests.chaos.summary import Summary, report

from .conftest import events, outbox, page_html, shot, wait_event, wait_storage

pytestmark = [pytest.mark.chaos, pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

MESSAGE_DIV = '<div id="msg" data-crm-form="message"></div>'
QUEUED_TEXT = DEFAULT_TEXTS["zh-CN"]["offline"]  # "saved, will be sent": the text the config serves


def fill_and_send(page, text: str):
    form = page.locator("#msg form")
    form.get_by_label("留言内容").fill(text)
    form.get_by_role("button", name="提交").click()
    return form


def test_backend_down_then_sent_exactly_once_on_the_next_page_load(api, site, host_server, new_page):
    page = new_page()
    url = host_server.serve("/down", page_html(api, site.public_key, body=MESSAGE_DIV, attrs='data-crm-button="off"'))
    page.goto(url)
    wait_event(page, "ready")
    # The API's writes fail at the network level (connection refused), reads still work.
    page.route("**/crm/widget/v1/messages", lambda route: route.abort("connectionrefused"))
    form = fill_and_send(page, "断网时留的言")
    queued = wait_event(page, "queued")[0]["detail"]
    assert form.get_by_role("status").inner_text() == QUEUED_TEXT
    shot(page, "queued-state")
    [item] = outbox(page)
    assert item["id"] == queued["id"] and item["body"]["content"] == "断网时留的言" and item["m"] is True
    assert Submission.objects.count() == 0

    # Next page load with the backend back: sent once, with the same key, and the outbox is empty.
    page.unroute("**/crm/widget/v1/messages")
    back = time.monotonic()
    seen_keys = []
    page.on(
        "request",
        lambda r: r.method == "POST" and r.url.endswith("/messages") and seen_keys.append(r.headers["idempotency-key"]),
    )
    page.reload()
    resent = wait_event(page, "submitted")[0]["detail"]
    assert resent["resent"] is True and resent["kind"] == "message"
    assert seen_keys == [queued["id"]]
    sub = Submission.objects.get()
    assert str(sub.id) == resent["id"] and sub.payload["content"] == "断网时留的言"
    assert outbox(page) == []

    # Another load sends nothing more.
    page.reload()
    wait_event(page, "ready")
    wait_storage(page)  # the outbox has been read and flushed
    assert seen_keys == [queued["id"]] and Submission.objects.count() == 1

    assert delivery.deliver(sub.id) == "delivered"
    on_board = [m["content"] for m in control.messages()].count(f"断网时留的言\n落地页: {url}")
    sub.refresh_from_db()
    report(
        Summary(
            "browser_offline",
            submitted=Submission.objects.count(),
            delivered=min(on_board, 1),
            duplicates=0,
            lost=1 - min(on_board, 1),
            extra=max(0, on_board - 1) + max(0, len(seen_keys) - 1),
            ambiguous_reported=sub.ambiguous_sends,
            drain_s=time.monotonic() - back,
            extras=(("kept_offline", 1), ("resent", len(seen_keys))),
        )
    )
    # The post carries the visit's source (docs/attribution.md): here only its landing page.
    assert on_board == 1
    assert control.calls("ECommerce/AddMessageBoard") == 1


def test_answer_lost_after_the_server_stored_it_is_not_stored_twice(api, site, host_server, new_page):
    """The hard case: the request reached the server (row stored), but the answer never reached the browser."""
    page = new_page()
    page.goto(host_server.serve("/lost", page_html(api, site.public_key, body=MESSAGE_DIV)))
    wait_event(page, "ready")

    def store_then_drop(route):
        response = route.fetch()  # the real request, to the real server
        assert response.status == 202
        route.abort("connectionreset")

    page.route("**/crm/widget/v1/messages", store_then_drop)
    fill_and_send(page, "回复丢失的留言")
    wait_event(page, "queued")
    assert Submission.objects.count() == 1 and len(outbox(page)) == 1

    page.unroute("**/crm/widget/v1/messages")
    page.reload()
    resent = wait_event(page, "submitted")[0]["detail"]
    sub = Submission.objects.get()  # still one: the server replayed its first answer for the same key
    assert resent["id"] == str(sub.id)
    assert IdempotencyRecord.objects.count() == 1 and outbox(page) == []
    assert delivery.deliver(sub.id) == "delivered"
    assert control.calls("ECommerce/AddMessageBoard") == 1


def test_5xx_is_kept_and_sent_on_the_online_event(api, site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/online", page_html(api, site.public_key, body=MESSAGE_DIV)))
    wait_event(page, "ready")
    page.route(
        "**/crm/widget/v1/messages",
        lambda route: route.fulfill(
            status=503, body="Service Unavailable", headers={"Access-Control-Allow-Origin": "*"}
        ),
    )
    form = fill_and_send(page, "服务器 503 时的留言")
    queued = wait_event(page, "queued")[0]["detail"]
    assert queued["status"] == 503 and form.get_by_role("status").inner_text() == QUEUED_TEXT
    assert Submission.objects.count() == 0

    page.unroute("**/crm/widget/v1/messages")
    page.context.set_offline(True)
    page.context.set_offline(False)  # the browser fires `online`
    wait_event(page, "submitted")
    # The form that queued it is still on the page: it now says it was sent.
    assert form.get_by_role("status").inner_text() == "提交成功，我们会尽快与您联系。"
    assert Submission.objects.count() == 1 and outbox(page) == []
    assert [e["detail"]["id"] for e in events(page, "submitted")] == [str(Submission.objects.get().id)]


def test_a_definite_refusal_is_not_kept(api, site, host_server, new_page):
    """403 (the message board switched off after the page loaded): told it failed, nothing kept for a retry that
    cannot succeed. (A site switched off entirely loses its CORS grant, so the browser cannot read that 403: the
    widget then keeps the message, as for any unreachable server.)"""
    page = new_page()
    page.goto(host_server.serve("/refused", page_html(api, site.public_key, body=MESSAGE_DIV)))
    wait_event(page, "ready")
    site.features = {"messages": False, "leads": True, "hits": True}
    site.save()
    form = fill_and_send(page, "被拒绝的留言")
    error = wait_event(page, "error")[0]["detail"]
    assert error["status"] == 403
    assert form.get_by_role("status").inner_text() == "提交失败，请稍后再试。"
    assert outbox(page) == [] and Submission.objects.count() == 0
