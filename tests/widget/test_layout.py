"""The host page does not move for the widget, in a real browser: the cumulative layout shift (the sum of the
`layout-shift` entries without recent input, as Lighthouse counts it) of the demo company page stays under 0.1
while the inline lead form mounts, on a desktop and on a phone, cross-origin and Django-rendered; the element
keeps the room the page gave it; the floating button covers none of a phone's page; and the config costs no
request of its own on a Django page (carried in it) and one on an embed with the snippet's preload."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from config.management.commands.demo import DEMO_SITE_NAME
from crm_bridge.models import Site

from .conftest import page_html, wait_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

DESKTOP = {"width": 1350, "height": 940}  # Lighthouse's desktop preset
PHONE = {"width": 360, "height": 740}

# Before any page script: sum the layout shifts as they are reported (buffered: from the first paint on).
CLS = """
window.__cls = 0; window.__shifts = 0;
window.__po = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) { window.__cls += e.value; window.__shifts += 1; }
});
window.__po.observe({ type: "layout-shift", buffered: true });
"""
# After the lead form is in: two frames for its layout to be painted, then what is still queued.
SETTLE = """() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => {
  for (const e of window.__po.takeRecords()) if (!e.hadRecentInput) { window.__cls += e.value; window.__shifts += 1; }
  done([window.__cls, window.__shifts]);
})))"""
LEAD_FORM_IN = "document.querySelector('[data-crm-form=lead]').shadowRoot?.querySelector('form')"


@pytest.fixture
def demo(api, host_server) -> Site:
    return Site.objects.create(
        name=DEMO_SITE_NAME, site_key="sandbox-site-key", default_cust_id=1, allowed_origins=[host_server.origin]
    )


def demo_page(api: str, host_server, site: Site) -> str:
    """The demo company page as `manage.py demo_page` serves it: a customer's page on another origin."""
    context = {"api_origin": api, "widget_key": site.public_key, "cross_origin": True}
    page = render_to_string("demo/company.html", context)
    return host_server.serve("/company", page)


def layout_shift(new_page, url: str, viewport: dict) -> tuple[float, int, object]:
    page = new_page(viewport=viewport)
    page.add_init_script(CLS)
    page.goto(url)
    wait_event(page, "ready")
    page.wait_for_function(LEAD_FORM_IN)
    cls, shifts = page.evaluate(SETTLE)
    return cls, shifts, page


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_demo_page_does_not_jump_when_the_lead_form_mounts(api, demo, host_server, new_page, viewport):
    cls, shifts, page = layout_shift(new_page, demo_page(api, host_server, demo), viewport)
    assert cls < 0.1, f"CLS {cls:.3f} over {shifts} shifts"
    # The form fits the room the page's stylesheet keeps for it (company.css): it did not grow past it.
    reserved = 740 if viewport is DESKTOP else 800
    assert page.evaluate("document.querySelector('[data-crm-form=lead]').getBoundingClientRect().height") == reserved


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_django_page_does_not_jump_when_the_widget_replaces_the_plain_form(api, demo, new_page, viewport):
    cls, shifts, _ = layout_shift(new_page, api + "/", viewport)
    assert cls < 0.1, f"CLS {cls:.3f} over {shifts} shifts"


def test_the_element_keeps_the_height_it_had(api, site, host_server, new_page):
    """Content the page put in the element (a no-JavaScript form, say) taller than the widget's form: the element
    keeps its height when the form replaces it, the card fills it, and the text below does not move up."""
    body = (
        "<style>.nojs { height: 900px; margin: 0 }</style><h1>示例科技</h1>"
        '<div data-crm-form="lead"><p class="nojs">没有 JavaScript 时的表单</p></div>'
        '<p id="below">下面的内容</p>'
    )
    url = host_server.serve("/tall", page_html(api, site.public_key, body=body))
    cls, shifts, page = layout_shift(new_page, url, DESKTOP)
    assert (cls, shifts) == (0, 0)
    heights = page.evaluate("""() => { const el = document.querySelector('[data-crm-form=lead]');
      const card = el.shadowRoot.querySelector('.card');
      return [el.getBoundingClientRect().height, card.getBoundingClientRect().height]; }""")
    assert heights == [900, 900]


def test_on_a_phone_the_button_covers_none_of_the_page(api, demo, host_server, new_page):
    page = new_page(viewport=PHONE)
    page.goto(demo_page(api, host_server, demo))
    wait_event(page, "ready")
    # Beside the button, along the bottom edge, a tap reaches the page, not the widget's box around the button.
    button = page.locator("crm-widget button.open").bounding_box()
    tapped = page.evaluate(f"document.elementFromPoint(20, {button['y'] + button['height'] / 2}).tagName")
    assert tapped not in ("CRM-WIDGET", "HTML"), tapped
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_function("window.scrollY + innerHeight >= document.documentElement.scrollHeight - 1")
    button = page.locator("crm-widget button.open").bounding_box()
    footer = page.locator("footer").bounding_box()
    assert button["y"] >= footer["y"] + footer["height"], (button, footer)  # below the page's last content
    assert 44 <= button["height"] < 48  # smaller than on a desktop, still a comfortable touch target
    assert page.get_by_role("button", name="在线留言").is_visible()


def config_requests(page) -> list[str]:
    got: list[str] = []
    page.on("request", lambda r: got.append(r.url) if "/widget/v1/config" in r.url else None)
    return got


def test_the_django_page_carries_the_config_and_the_embed_preloads_it(api, demo, host_server, new_page):
    page = new_page()
    asked = config_requests(page)
    page.goto(api + "/")
    wait_event(page, "ready")
    page.wait_for_function(LEAD_FORM_IN)
    assert asked == []

    page = new_page()
    asked = config_requests(page)
    page.goto(demo_page(api, host_server, demo))
    wait_event(page, "ready")
    page.wait_for_function(LEAD_FORM_IN)
    assert asked == [f"{api}/crm/widget/v1/config?key={demo.public_key}"]  # the preload, which the widget used
    assert not [line for line in page.console_lines if "preload" in line], page.console_lines


def test_a_script_in_head_starts_at_once_and_mounts_once_there_is_a_body(api, site, host_server, new_page):
    """The snippet may sit in <head> (the earlier the config request starts, the better): the loader starts as
    soon as it runs and puts the button and the forms in once the body is there."""
    script = f'<script src="{api}/static/crm_bridge/widget.js" data-crm-key="{site.public_key}" async></script>'
    page_src = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'{script}</head><body><h1>示例科技</h1><div id="lead" data-crm-form="lead"></div></body></html>'
    )
    page = new_page()
    asked = config_requests(page)
    page.goto(host_server.serve("/in-head", page_src))
    assert wait_event(page, "ready")[0]["detail"]["lang"] == "zh-CN"
    page.wait_for_function(LEAD_FORM_IN)
    assert page.locator("crm-widget button.open").is_visible()
    assert len(asked) == 1
