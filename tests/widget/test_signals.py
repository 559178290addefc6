"""Page-view beacons counted exactly, bot defences (honeypot, minimum fill time), the DOM events and dataLayer,
and the whole path through a real Celery worker — all from a page on another origin in a real browser."""

from __future__ import annotations

import pytest

from crm_bridge.delivery.hits import flush_hits
from crm_bridge.models import HitCounter, Submission
from crm_bridge.sandbox import control
from tests.delivery.conftest import wait_for
from tests.delivery.processes import celery_processes

from .conftest import SANDBOX_PATH, events, page_html, wait_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

CATALOGUE = """
<div class="card" data-crm-pkid="102">TH-100</div>
<div class="card" data-crm-pkid="103"><span data-crm-pkid="102">again 102: one view per page</span></div>
<p data-crm-pkid="not-a-number">ignored</p>
"""


def counters(site) -> dict[int, int]:
    return dict(HitCounter.objects.filter(site=site).values_list("pkid", "pending"))


def test_hit_beacons_counted_exactly(api, site, host_server, new_page):
    page = new_page()
    beacons = []
    page.on("request", lambda r: r.url.endswith("/widget/v1/hits") and beacons.append(r))
    url = host_server.serve("/catalogue", page_html(api, site.public_key, body=CATALOGUE, attrs='data-crm-pkid="101"'))
    page.goto(url)
    wait_event(page, "ready")
    wait_for(lambda: counters(site) == {101: 1, 102: 1, 103: 1}, timeout=10)
    assert len(beacons) == 1  # one beacon for the whole page
    assert beacons[0].headers["content-type"].startswith("text/plain")  # no preflight

    page.evaluate("CRMWidget.hit(104); CRMWidget.hit(104); CRMWidget.hit('105', 3)")
    wait_for(lambda: counters(site) == {101: 1, 102: 1, 103: 1, 104: 2, 105: 3}, timeout=10)

    page.reload()  # a second page view counts each item once more
    wait_event(page, "ready")
    wait_for(lambda: counters(site) == {101: 2, 102: 2, 103: 2, 104: 2, 105: 3}, timeout=10)

    # The periodic flush sends the sums to the CRM: a handful of calls for all those views.
    flush_hits()
    assert [control.hits(pkid) for pkid in (101, 102, 103, 104, 105)] == [2, 2, 2, 2, 3]
    assert control.calls("ECommerce/UpdateBaseInfoHit") == 5  # one per item, for 11 views


def test_honeypot_filled_by_a_bot_stores_nothing(api, site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/bot", page_html(api, site.public_key, body='<div data-crm-form="message"></div>')))
    wait_event(page, "ready")
    form = page.locator("[data-crm-form] form")
    assert form.locator("input[name=website]").get_attribute("tabindex") == "-1"
    assert not form.locator("input[name=website]").is_visible() or form.locator(".hp").bounding_box()["x"] < 0
    form.get_by_label("留言内容").fill("BUY CHEAP")
    form.locator("input[name=website]").fill("http://spam.example", force=True)
    form.get_by_role("button", name="提交").click()
    wait_event(page, "submitted")  # answered like any other, so a bot learns nothing
    assert Submission.objects.count() == 0


def test_too_fast_is_held_as_spam(api, site, host_server, new_page, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "MIN_FILL_SECONDS": 30.0}
    page = new_page()
    page.goto(host_server.serve("/fast", page_html(api, site.public_key, body='<div data-crm-form="message"></div>')))
    wait_event(page, "ready")
    form = page.locator("[data-crm-form] form")
    form.get_by_label("留言内容").fill("filled in no time")
    form.get_by_role("button", name="提交").click()
    wait_event(page, "submitted")
    sub = Submission.objects.get()
    assert sub.status == "spam" and sub.spam_reason == "too_fast"


def test_events_and_data_layer(api, site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/events", page_html(api, site.public_key, body='<div data-crm-form="lead"></div>')))
    ready = wait_event(page, "ready")[0]["detail"]
    assert ready["key"] == site.public_key
    form = page.locator("[data-crm-form] form")
    form.get_by_label("姓名").fill("孙七")
    form.get_by_label("电话").fill("bad")
    form.get_by_role("button", name="提交").click()
    error = wait_event(page, "error")[0]["detail"]
    assert error["kind"] == "lead" and error["status"] == 400 and "tel" in error["errors"]
    form.get_by_label("电话").fill("13800001111")
    form.get_by_role("button", name="提交").click()
    submitted = wait_event(page, "submitted")[0]["detail"]
    assert submitted == {"kind": "lead", "id": str(Submission.objects.get().id), "status": "queued"}
    pushed = [e["event"] for e in page.evaluate("window.dataLayer")]
    assert pushed == ["crm:ready", "crm:error", "crm:submitted"]
    # Nothing the visitor typed goes to analytics.
    assert "13800001111" not in str(page.evaluate("window.dataLayer")) and "孙七" not in str(events(page))


def test_unknown_key_reports_a_config_error_and_renders_nothing(api, site, host_server, new_page):
    page = new_page()
    body = '<div data-crm-form="lead"><p id="fallback">请致电 021-5555 0000</p></div>'
    page.goto(host_server.serve("/badkey", page_html(api, "pk_unknown", body=body)))
    error = wait_event(page, "error")[0]["detail"]
    assert error["reason"] == "config"
    assert page.locator("crm-widget").count() == 0
    assert page.locator("#fallback").is_visible()  # the element's own content stays visible


@pytest.mark.worker
def test_end_to_end_with_the_real_worker(api, site, host_server, new_page, live_server):
    options = {"SWEEP_INTERVAL": 1.0, "CALLS_PER_SECOND": 0, "CONNECT_TIMEOUT": 2.0, "READ_TIMEOUT": 5.0}
    with celery_processes(crm_base_url=live_server.url + SANDBOX_PATH, options=options, beat=False):
        page = new_page()
        page.goto(
            host_server.serve("/worker", page_html(api, site.public_key, body='<div data-crm-form="lead"></div>'))
        )
        wait_event(page, "ready")
        page.locator("crm-widget button.open").click()
        panel = page.locator("crm-widget [role=dialog]")
        panel.get_by_label("留言内容").fill("经由真实 worker 的留言")
        panel.get_by_role("button", name="提交").click()
        form = page.locator("[data-crm-form] form")
        form.get_by_label("姓名").fill("周八")
        form.get_by_label("电话").fill("13600006666")
        form.get_by_label("公司").fill("真实工人有限公司")
        form.get_by_role("button", name="提交").click()
        wait_event(page, "submitted", 2)
        wait_for(lambda: Submission.objects.filter(status="delivered").count() == 2, timeout=60, interval=0.3)
    # The post carries the visit's source (docs/attribution.md): here only its landing page.
    landing = host_server.url("/worker")
    assert [m["content"] for m in control.messages()].count(f"经由真实 worker 的留言\n落地页: {landing}") == 1
    assert [c["sName"] for c in control.customers()].count("真实工人有限公司") == 1
    assert control.calls("ECommerce/AddMessageBoard") == 1 and control.calls("Customer/Save") == 1
