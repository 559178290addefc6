"""What waits for the button, in a real browser: the storage work (the visit's first touch in sessionStorage, the
outbox in localStorage, its re-sends) runs after the launcher is up, never before it (a fresh tab's first access
to each storage is a synchronous trip to the browser process: docs/benchmarks.md, "Widget ready"); and nothing is
lost when it has not run yet: a form submitted first runs it itself, and a landing page left first keeps the
visit's first touch."""

from __future__ import annotations

import pytest

from crm_bridge.models import Submission

from .conftest import outbox, page_html

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

LEAD_DIV = '<h1>示例科技</h1><div id="lead" data-crm-form="lead"></div>'

# Before any page script: every read of window.sessionStorage / window.localStorage, and crm:ready, in order.
ORDER = """
window.__order = [];
for (const name of ["sessionStorage", "localStorage"]) {
  const d = Object.getOwnPropertyDescriptor(window, name) || Object.getOwnPropertyDescriptor(Window.prototype, name);
  const get = function () { window.__order.push(name); return d.get.call(this); };
  Object.defineProperty(window, name, { configurable: true, get });
}
document.addEventListener("crm:ready", () => window.__order.push("ready"));
"""
# Holds the loader's storage work back for good: no animation frame reaches the page's callbacks, and the
# half-second fallback never fires (widget/src/loader.js, afterPaint). Playwright's waits poll with the page's
# requestAnimationFrame by default: these pages' waits poll on an interval instead (held_event).
HOLD = """
window.requestAnimationFrame = () => 0;
const realTimeout = window.setTimeout;
window.setTimeout = (f, ms, ...rest) => (ms === 500 ? 0 : realTimeout(f, ms, ...rest));
"""


def held_event(page, name: str) -> dict:
    """wait_event() for a page under HOLD: the first crm:`name`'s detail."""
    page.wait_for_function("(n) => window.__events.some((e) => e.name === n)", arg=name, polling=50)
    return next(e["detail"] for e in page.evaluate("window.__events") if e["name"] == name)


def test_storage_is_first_read_once_the_button_is_up(api, site, host_server, new_page):
    page = new_page()
    page.add_init_script(ORDER)
    page.goto(host_server.serve("/order", page_html(api, site.public_key, body=LEAD_DIV)))
    page.wait_for_function("window.__order.length >= 3")
    assert page.evaluate("window.__order") == ["ready", "sessionStorage", "localStorage"]
    assert page.locator("crm-widget button.open").is_visible()


def test_a_form_submitted_before_the_storage_work_ran_keeps_its_outbox_and_source(api, site, host_server, new_page):
    page = new_page()
    page.add_init_script(HOLD)
    page.add_init_script(ORDER)
    url = host_server.serve("/early", page_html(api, site.public_key, body=LEAD_DIV)) + "?utm_source=early"
    page.goto(url)
    held_event(page, "ready")
    assert page.evaluate("window.__order") == ["ready"]  # held back
    # Offline: the lead must be kept in localStorage before its request, so the outbox must be open by then.
    page.context.set_offline(True)
    form = page.locator("#lead form")
    form.get_by_label("姓名").fill("钱七")
    form.get_by_label("电话").fill("139 0000 0007")
    form.get_by_role("button", name="提交").click()
    queued = held_event(page, "queued")
    [item] = outbox(page)
    assert item["id"] == queued["id"] and item["body"]["source"] == {"landing": url, "utm_source": "early"}
    page.context.set_offline(False)  # `online`: the listener the storage work added sends it
    submitted = held_event(page, "submitted")
    assert Submission.objects.get(pk=submitted["id"]).source == {"landing": url, "utm_source": "early"}
    assert Submission.objects.count() == 1 and outbox(page) == []


def test_a_landing_page_left_before_the_storage_work_ran_is_still_the_first_touch(
    api, site, host_server, new_page
):  # fmt: skip
    landing = host_server.serve("/land", page_html(api, site.public_key, body="<h1>春季促销</h1>"))
    contact = host_server.serve("/contact-us", page_html(api, site.public_key, body=LEAD_DIV))
    page = new_page()
    page.add_init_script(HOLD)
    page.goto(landing + "?utm_campaign=spring")
    held_event(page, "ready")
    assert page.evaluate("sessionStorage.getItem('crm_bridge.source')") is None  # held back
    page.goto(contact)  # pagehide on the landing page stores its touch (HOLD stays on here: a submit runs it)
    held_event(page, "ready")
    form = page.locator("#lead form")
    form.get_by_label("姓名").fill("孙八")
    form.get_by_label("电话").fill("139 0000 0008")
    form.get_by_role("button", name="提交").click()
    detail = held_event(page, "submitted")
    assert Submission.objects.get(pk=detail["id"]).source == {
        "landing": landing + "?utm_campaign=spring",
        "utm_campaign": "spring",
    }
