"""Cross-origin embed in a real browser: the floating message board and the inline lead form, submitted from a
page on another origin all the way to the sandbox CRM; field errors from the API's 400 shown beside the field."""

from __future__ import annotations

import pytest

from crm_bridge import delivery
from crm_bridge.models import Submission
from crm_bridge.sandbox import control

from .conftest import events, page_html, shot, wait_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

LEAD_DIV = '<h1>示例科技</h1><div id="lead" data-crm-form="lead"></div>'


def test_message_board_cross_origin_to_the_sandbox(api, site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/msg", page_html(api, site.public_key, body="<h1>示例科技</h1>")))
    ready = wait_event(page, "ready")[0]["detail"]
    assert ready["lang"] == "zh-CN" and ready["features"] == {"messages": True, "leads": True, "hits": True}
    launcher = page.locator("crm-widget button.open")
    assert launcher.inner_text() == "在线留言"
    shot(page, "closed-button")

    launcher.click()
    assert launcher.get_attribute("aria-expanded") == "true"
    panel = page.locator("crm-widget [role=dialog]")
    assert panel.is_visible()
    assert page.evaluate("document.querySelector('crm-widget').shadowRoot.activeElement.name") == "content"
    page.get_by_label("留言内容").fill("你们的 TH-100 有现货吗？")
    page.get_by_label("联系方式").fill("微信 zhang_san")
    shot(page, "open-panel")
    panel.get_by_role("button", name="提交").click()
    submitted = wait_event(page, "submitted")[0]["detail"]
    assert panel.get_by_role("status").inner_text() == "提交成功，我们会尽快与您联系。"
    assert page.get_by_label("留言内容").input_value() == ""  # reset for the next message

    sub = Submission.objects.get()
    assert str(sub.id) == submitted["id"] and submitted["kind"] == "message"
    assert sub.status == "queued" and sub.origin == host_server.origin
    assert sub.payload == {"content": "你们的 TH-100 有现货吗？", "contact": "微信 zhang_san", "page_url": page.url}
    assert page.evaluate("window.dataLayer").count({"event": "crm:submitted", **submitted}) == 1

    assert delivery.deliver(sub.id) == "delivered"
    [posted] = control.messages()
    assert posted["content"].startswith("你们的 TH-100 有现货吗？") and "微信 zhang_san" in posted["contact"]
    assert page.evaluate("localStorage.getItem('crm_bridge:outbox')") is None
    assert not [line for line in page.console_lines if line.startswith(("error", "pageerror"))], page.console_lines


def test_inline_lead_form_cross_origin_to_the_sandbox(api, site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/lead", page_html(api, site.public_key, body=LEAD_DIV)))
    form = page.locator("#lead form")
    form.get_by_label("姓名").fill("张三")
    form.get_by_label("电话").fill("138 0013 8000")
    form.get_by_label("公司").fill("示例客户有限公司")
    form.get_by_label("邮箱").fill("zhang@example.com")
    form.get_by_label("留言").fill("想了解 GW-8 网关的报价")
    shot(page, "lead-form")
    form.get_by_role("button", name="提交").click()
    detail = wait_event(page, "submitted")[0]["detail"]
    assert detail["kind"] == "lead" and detail["status"] == "queued"

    sub = Submission.objects.get(pk=detail["id"])
    assert sub.kind == "lead" and sub.payload["tel_e164"] == "+8613800138000"
    assert delivery.deliver(sub.id) == "delivered"
    [customer] = [c for c in control.customers() if c["sName"] == "示例客户有限公司"]
    assert customer["tel"] == "13800138000"
    assert control.calls("Customer/Save") == 1


def test_field_errors_from_the_api_are_shown_next_to_the_field(api, site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/errors", page_html(api, site.public_key, body=LEAD_DIV)))
    form = page.locator("#lead form")

    # Required fields are checked before anything is sent.
    form.get_by_role("button", name="提交").click()
    assert form.locator("#crm-name-e").inner_text() == "必填"
    assert form.locator("#crm-tel-e").inner_text() == "必填"
    assert form.get_by_label("姓名").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.getElementById('lead').shadowRoot.activeElement.name") == "name"
    assert Submission.objects.count() == 0 and events(page, "error") == []

    # The server's own validation (a phone number it cannot read, an e-mail address): its 400, per field.
    form.get_by_label("姓名").fill("李四")
    form.get_by_label("电话").fill("12345")
    form.get_by_label("邮箱").fill("not-an-email")
    form.get_by_role("button", name="提交").click()
    error = wait_event(page, "error")[0]["detail"]
    assert error["status"] == 400 and set(error["errors"]) == {"tel", "email"}
    tel_error = form.locator("#crm-tel-e")
    assert tel_error.inner_text() == " ".join(error["errors"]["tel"]) != ""
    assert form.locator("#crm-email-e").inner_text() == " ".join(error["errors"]["email"])
    assert form.locator("#crm-name-e").inner_text() == ""
    assert form.get_by_label("电话").get_attribute("aria-invalid") == "true"
    assert form.get_by_label("电话").get_attribute("aria-describedby") == "crm-tel-e"
    assert page.evaluate("document.getElementById('lead').shadowRoot.activeElement.name") == "tel"
    shot(page, "error-state")
    assert Submission.objects.count() == 0

    # Corrected, it goes through and the errors are gone.
    form.get_by_label("电话").fill("021-5555 0000")
    form.get_by_label("邮箱").fill("")
    form.get_by_role("button", name="提交").click()
    wait_event(page, "submitted")
    assert tel_error.inner_text() == "" and form.get_by_label("电话").get_attribute("aria-invalid") is None
    assert Submission.objects.get().payload["tel_e164"] == "+862155550000"


def test_field_errors_come_in_the_language_the_form_is_shown_in(api, site, host_server, new_page):
    page = new_page(locale="zh-CN")  # the browser says Chinese, the page asks for English
    body = '<div id="lead" data-crm-form="lead" data-crm-lang="en"></div>'
    page.goto(host_server.serve("/errors-en", page_html(api, site.public_key, body=body)))
    form = page.locator("#lead form")
    form.get_by_label("Name").fill("Li Si")
    form.get_by_label("Phone").fill("12345")
    form.get_by_label("Email").fill("not-an-email")
    form.get_by_role("button", name="Send").click()
    wait_event(page, "error")
    assert form.locator("#crm-email-e").inner_text() == "Enter a valid email address."
