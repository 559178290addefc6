"""Isolation in a real browser: a strict Content-Security-Policy (no 'unsafe-inline', no 'unsafe-eval', scripts
only from the API's origin) produces no violation, on the constructable-stylesheet path and on the <style nonce>
fallback; host-page CSS that tries to restyle everything does not reach the widget; the widget does not restyle
the host page."""

from __future__ import annotations

import pytest

from crm_bridge.models import Submission

from .conftest import page_html, shot, wait_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

LEAD_DIV = '<main><p id="para">正文</p><div id="lead" data-crm-form="lead"></div></main>'
BRAND = "rgb(11, 107, 203)"  # the widget's button colour, #0b6bcb


def strict_csp(api: str, style_src: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src {api}; style-src {style_src}; connect-src {api}; "
            "img-src 'self'; form-action 'none'; base-uri 'none'"
        )
    }


def shadow_button_background(page, host_selector: str) -> str:
    return page.evaluate(
        "(s) => getComputedStyle(document.querySelector(s).shadowRoot.querySelector('button')).backgroundColor",
        host_selector,
    )


def submit_lead(page, name: str = "王五", tel: str = "13912345678", *, nth: int = 1) -> None:
    """Fill and send the inline lead form; wait for the ``nth`` crm:submitted of the page."""
    form = page.locator("#lead form")
    form.get_by_label("姓名").fill(name)
    form.get_by_label("电话").fill(tel)
    form.get_by_role("button", name="提交").click()
    wait_event(page, "submitted", nth)


def assert_detector_works(page) -> None:
    # Control: an inline style attribute *is* reported on this page, so "no violations" above means something.
    page.evaluate("document.getElementById('para').setAttribute('style', 'color: red')")
    page.wait_for_function("window.__csp.some((v) => v.startsWith('style-src'))")


def test_strict_csp_constructable_stylesheet(api, site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/csp", page_html(api, site.public_key, body=LEAD_DIV), strict_csp(api, "'none'")))
    wait_event(page, "ready")
    assert shadow_button_background(page, "#lead") == BRAND  # styled although the page allows no styles at all
    assert shadow_button_background(page, "crm-widget") == BRAND
    page.locator("crm-widget button.open").click()
    submit_lead(page)
    assert page.evaluate("window.__csp") == []
    assert not [m for m in page.console_lines if "Content Security Policy" in m], page.console_lines
    assert Submission.objects.count() == 1
    assert_detector_works(page)


def test_strict_csp_style_nonce_fallback(api, site, host_server, new_page):
    """A browser without constructable stylesheets gets a <style> carrying the loading script's nonce."""
    page = new_page()
    page.add_init_script("window.CSSStyleSheet = function () { throw new TypeError('not supported'); };")
    nonce = "r4nd0mN0nce"
    headers = strict_csp(api, f"'nonce-{nonce}'")
    page.goto(host_server.serve("/nonce", page_html(api, site.public_key, body=LEAD_DIV, nonce=nonce), headers))
    wait_event(page, "ready")
    assert shadow_button_background(page, "#lead") == BRAND
    assert page.evaluate("document.getElementById('lead').shadowRoot.querySelector('style').nonce") == nonce
    submit_lead(page)
    assert page.evaluate("window.__csp") == []
    assert_detector_works(page)


HOSTILE_CSS = """
* { all: unset !important; }
html, body { display: block !important; }
button, input, textarea, form, label { display: none !important; }
div { color: red !important; font-size: 40px !important; letter-spacing: 8px !important; }
crm-widget { display: none !important; position: static !important; }
:root { --x: 1; }
"""


def test_host_css_that_restyles_everything_does_not_break_it(api, site, host_server, new_page):
    page = new_page()
    head = f"<style>{HOSTILE_CSS}</style>"
    page.goto(host_server.serve("/hostile", page_html(api, site.public_key, body=LEAD_DIV, head=head)))
    wait_event(page, "ready")
    launcher = page.locator("crm-widget button.open")
    assert launcher.is_visible()
    box = launcher.bounding_box()
    assert box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 800 and box["y"] > 600  # still floating
    launcher.click()
    panel = page.locator("crm-widget [role=dialog]")
    panel.get_by_label("留言内容").fill("样式攻击下的留言")
    assert panel.get_by_label("留言内容").evaluate("(e) => getComputedStyle(e).fontSize") == "15px"
    shot(page, "hostile-css")
    panel.get_by_role("button", name="提交").click()
    wait_event(page, "submitted")

    # The inline form, in a <div> the page restyles: its own styles stand inside.
    submit_lead(page, nth=2)
    assert shadow_button_background(page, "#lead") == BRAND
    assert Submission.objects.count() == 2


def test_the_widget_does_not_restyle_the_host_page(api, site, host_server, new_page):
    page = new_page()
    head = "<style>p { color: rgb(1, 2, 3); font: 17px serif; }</style>"
    page.goto(host_server.serve("/polite", page_html(api, site.public_key, body=LEAD_DIV, head=head)))
    wait_event(page, "ready")
    page.locator("crm-widget button.open").click()
    assert page.evaluate("document.styleSheets.length") == 1  # only the page's own
    assert page.evaluate("document.adoptedStyleSheets.length") == 0
    assert page.evaluate("getComputedStyle(document.getElementById('para')).color") == "rgb(1, 2, 3)"
    assert page.evaluate("getComputedStyle(document.getElementById('para')).fontSize") == "17px"
    # Its only light-DOM footprint: the <crm-widget> host at the end of <body>, and the page's own elements.
    assert page.evaluate("[...document.body.children].map((e) => e.tagName)") == ["MAIN", "SCRIPT", "CRM-WIDGET"]
