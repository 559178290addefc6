"""Attribution in a real browser: the visit's first touch — landing URL, referrer, utm_* and click
ids — kept in the host page's sessionStorage across the pages of the visit, sent with the lead, and in the CRM
customer's remark; the widget's events and dataLayer pushes carry none of it, nor anything the visitor typed."""

from __future__ import annotations

import json

import pytest

from crm_bridge import delivery
from crm_bridge.models import Submission
from crm_bridge.sandbox import control

from .conftest import events, page_html, wait_event, wait_storage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

LEAD_DIV = '<h1>示例科技</h1><div id="lead" data-crm-form="lead"></div>'
REFERRER = "http://www.baidu.com/"  # http: Chromium sends no referrer from https to an http page


def send_lead(page, name: str, tel: str) -> dict:
    form = page.locator("#lead form")
    form.get_by_label("姓名").fill(name)
    form.get_by_label("电话").fill(tel)
    form.get_by_role("button", name="提交").click()
    return wait_event(page, "submitted")[0]["detail"]


def test_first_touch_travels_across_pages_to_the_crm_remark(api, site, host_server, new_page):
    landing = host_server.serve("/landing", page_html(api, site.public_key, body="<h1>春季促销</h1>"))
    contact = host_server.serve("/contact", page_html(api, site.public_key, body=LEAD_DIV))
    page = new_page()
    first = landing + "?utm_source=xsrc&bd_vid=yvid&utm_campaign=spring"
    page.goto(first, referer=REFERRER)
    wait_event(page, "ready")
    assert page.evaluate("document.referrer") == REFERRER
    # The next page of the visit has its own tags and referrer: first touch wins, they are not kept.
    page.goto(contact + "?utm_source=later", referer=first)
    page.evaluate("window.dataLayer = []")
    detail = send_lead(page, "张三", "138 0013 8000")

    sub = Submission.objects.get(pk=detail["id"])
    assert sub.source == {
        "landing": first, "referrer": REFERRER, "utm_source": "xsrc", "utm_campaign": "spring", "bd_vid": "yvid",
    }  # fmt: skip
    assert sub.payload["page_url"] == contact + "?utm_source=later"

    # No personal data, and no attribution, in crm:submitted or the dataLayer: ids and states only.
    assert set(detail) == {"kind", "id", "status"}
    pushed = page.evaluate("window.dataLayer")
    assert [set(p) for p in pushed if p["event"] == "crm:submitted"] == [{"event", "kind", "id", "status"}]
    told = json.dumps([events(page), pushed], ensure_ascii=False)
    for private in ("张三", "13800138000", "138 0013 8000", "xsrc", "yvid", "spring", "baidu", "landing"):
        assert private not in told, private

    assert delivery.deliver(sub.id) == "delivered"
    [customer] = [c for c in control.customers() if c["tel"] == "13800138000"]
    assert customer["remark"] == (
        f"来源页面: {contact}?utm_source=later\n"
        "来源: utm_source=xsrc, utm_campaign=spring\n"
        f"落地页: {first}\n"
        f"引荐页: {REFERRER}\n"
        "点击ID: bd_vid=yvid"
    )


def test_every_write_of_the_visit_carries_it_and_a_new_tab_starts_afresh(api, site, host_server, new_page):
    landing = host_server.serve("/ad", page_html(api, site.public_key, body=LEAD_DIV))
    page = new_page()
    page.goto(landing + "?qhclickid=q360")
    send_lead(page, "李四", "139 0000 0001")
    page.reload()
    page.evaluate("window.__events = []")
    send_lead(page, "王五", "139 0000 0002")
    assert [s.source for s in Submission.objects.order_by("created_at")] == [
        {"landing": landing + "?qhclickid=q360", "qhclickid": "q360"}
    ] * 2
    other = page.context.new_page()  # a new tab: its own sessionStorage, its own first touch
    other.goto(landing + "?clickid=ocean")
    wait_storage(other)  # stored once the button is up, not as the script runs
    assert other.evaluate("JSON.parse(sessionStorage.getItem('crm_bridge.source'))") == {
        "landing": landing + "?clickid=ocean",
        "clickid": "ocean",
    }


def test_blocked_storage_does_not_stop_the_widget(api, site, host_server, new_page):
    page = new_page()
    # As in Chromium with site data blocked: reading window.sessionStorage throws.
    page.add_init_script(
        "Object.defineProperty(window, 'sessionStorage', {get() { throw new DOMException('denied', 'SecurityError') }})"
    )
    url = host_server.serve("/blocked", page_html(api, site.public_key, body=LEAD_DIV)) + "?utm_source=nostore"
    page.goto(url)
    detail = send_lead(page, "赵六", "139 0000 0003")
    assert Submission.objects.get(pk=detail["id"]).source == {"landing": url, "utm_source": "nostore"}
    assert not [line for line in page.console_lines if line.startswith("pageerror")], page.console_lines
