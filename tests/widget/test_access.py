"""Accessibility and reach in a real browser: keyboard only (Tab, Enter, Esc; focus returns to the button;
visible focus), both languages (from data-crm-lang or the browser), a 360 px phone."""

from __future__ import annotations

import pytest

from crm_bridge.models import Submission

from .conftest import page_html, shot, wait_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

ACTIVE = """() => { let e = document.activeElement; while (e && e.shadowRoot && e.shadowRoot.activeElement)
  e = e.shadowRoot.activeElement; return e && (e.name || e.className || e.tagName); }"""


def test_keyboard_only(api, site, host_server, new_page):
    page = new_page()
    body = '<a href="#top" id="first">示例科技</a>'
    page.goto(host_server.serve("/keys", page_html(api, site.public_key, body=body)))
    wait_event(page, "ready")
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "A"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "open"
    # Focus is visible: a 3 px outline on the focused button.
    outline = page.evaluate(
        "() => getComputedStyle(document.querySelector('crm-widget').shadowRoot.activeElement).outlineWidth"
    )
    assert outline == "3px"
    shot(page, "keyboard-focus")

    page.keyboard.press("Enter")  # opens, focus in the first field
    assert page.evaluate(ACTIVE) == "content"
    page.keyboard.type("只用键盘写的留言")
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "contact"
    page.keyboard.type("010-12345678")
    page.keyboard.press("Tab")  # the honeypot is skipped (tabindex -1)
    assert page.evaluate(ACTIVE) == "go"
    page.keyboard.press("Enter")
    wait_event(page, "submitted")
    assert Submission.objects.get().payload["content"] == "只用键盘写的留言"

    page.keyboard.press("Escape")  # closes, focus back on the button
    assert page.locator("crm-widget [role=dialog]").is_hidden()
    assert page.evaluate(ACTIVE) == "open"
    assert page.locator("crm-widget button.open").get_attribute("aria-expanded") == "false"

    page.keyboard.press("Enter")  # opens again; Tab past the form to the button: Esc there closes it too
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "open"
    page.keyboard.press("Escape")
    assert page.locator("crm-widget [role=dialog]").is_hidden() and page.evaluate(ACTIVE) == "open"

    page.keyboard.press("Enter")  # and the close button (×) closes by keyboard
    assert page.evaluate(ACTIVE) == "content"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(ACTIVE) == "x"
    page.keyboard.press("Enter")
    assert page.locator("crm-widget [role=dialog]").is_hidden() and page.evaluate(ACTIVE) == "open"


def test_accessible_names_and_live_status(api, site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/names", page_html(api, site.public_key, body='<div data-crm-form="lead"></div>')))
    wait_event(page, "ready")
    page.evaluate("CRMWidget.open()")
    dialog = page.get_by_role("dialog", name="给我们留言")
    assert dialog.is_visible()
    assert dialog.get_by_role("button", name="关闭").is_visible()
    assert dialog.get_by_role("textbox", name="留言内容").get_attribute("required") == ""
    status = dialog.get_by_role("status")
    assert status.get_attribute("aria-live") == "polite"
    form = page.locator("[data-crm-form=lead] form")
    for label in ("姓名", "电话", "公司", "邮箱", "留言"):
        assert form.get_by_label(label).is_visible()
    assert form.get_by_label("电话").get_attribute("type") == "tel"
    assert form.get_by_label("电话").get_attribute("autocomplete") == "tel"
    assert form.get_by_label("邮箱").get_attribute("type") == "email"


@pytest.mark.parametrize(
    ("locale", "page_lang", "attrs", "lang", "button", "title", "name_label"),
    [
        ("zh-CN", "zh-CN", "", "zh-CN", "在线留言", "给我们留言", "姓名"),
        ("en-US", "en", "", "en", "Contact us", "Leave us a message", "Name"),
        # The page's own language wins over the browser's: a Chinese site in an English browser stays Chinese.
        ("en-US", "zh-CN", "", "zh-CN", "在线留言", "给我们留言", "姓名"),
        # A page that declares none: the browser's.
        ("en-US", "", "", "en", "Contact us", "Leave us a message", "Name"),
        ("zh-CN", "zh-CN", 'data-crm-lang="en"', "en", "Contact us", "Leave us a message", "Name"),
        ("en-GB", "en", 'data-crm-lang="zh-CN"', "zh-CN", "在线留言", "给我们留言", "姓名"),
    ],
)
def test_languages(api, site, host_server, new_page, locale, page_lang, attrs, lang, button, title, name_label):
    page = new_page(locale=locale)
    body = '<div data-crm-form="lead"></div>'
    html_page = page_html(api, site.public_key, body=body, attrs=attrs, lang=page_lang)
    page.goto(host_server.serve(f"/lang-{locale}-{page_lang}-{lang}", html_page))
    assert wait_event(page, "ready")[0]["detail"]["lang"] == lang
    assert page.locator("crm-widget button.open").inner_text() == button
    page.locator("crm-widget button.open").click()
    assert page.get_by_role("dialog", name=title).is_visible()
    assert page.locator("[data-crm-form=lead] form").get_by_label(name_label).is_visible()
    assert page.evaluate("document.querySelector('crm-widget').shadowRoot.firstElementChild.lang") == lang
    if not attrs and locale.startswith(lang[:2]):
        shot(page, f"open-panel-{lang}")


def test_each_form_takes_its_own_attributes(api, site, host_server, new_page):
    """Several forms on one page, each configured by its own element: its language here."""
    page = new_page()
    body = '<div id="zh" data-crm-form="lead"></div><div id="en" data-crm-form="lead" data-crm-lang="en"></div>'
    page.goto(host_server.serve("/two", page_html(api, site.public_key, body=body)))
    wait_event(page, "ready")
    page.locator("#zh form").get_by_label("姓名").fill("赵六")
    page.locator("#zh form").get_by_label("电话").fill("13700000001")
    page.locator("#en form").get_by_label("Name").fill("Ada")
    page.locator("#en form").get_by_label("Phone").fill("13700000002")
    page.locator("#en form").get_by_role("button", name="Send").click()
    wait_event(page, "submitted")
    page.locator("#zh form").get_by_role("button", name="提交").click()
    wait_event(page, "submitted", 2)
    assert page.locator("#en form").get_by_role("status").inner_text() == "Thank you. We will be in touch soon."
    assert page.locator("#zh form").get_by_role("status").inner_text() == "提交成功，我们会尽快与您联系。"
    assert sorted(s.payload["name"] for s in Submission.objects.all()) == ["Ada", "赵六"]


def test_phone_360px(api, site, host_server, new_page):
    page = new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.goto(host_server.serve("/phone", page_html(api, site.public_key, body="<h1>示例科技</h1>")))
    wait_event(page, "ready")
    launcher = page.locator("crm-widget button.open")
    box = launcher.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 40  # a thumb-sized target
    shot(page, "phone-closed")
    launcher.tap()
    panel = page.locator("crm-widget [role=dialog]")
    p = panel.bounding_box()
    assert p["x"] >= 0 and p["x"] + p["width"] <= 360 and p["y"] >= 0
    assert p["width"] >= 300  # uses the screen, not a 360 px box squeezed into it
    field = panel.get_by_label("留言内容").bounding_box()
    assert field["x"] >= p["x"] and field["x"] + field["width"] <= p["x"] + p["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    panel.get_by_label("留言内容").fill("手机上写的留言")
    shot(page, "phone-open")
    panel.get_by_role("button", name="提交").tap()
    wait_event(page, "submitted")
    assert Submission.objects.count() == 1


def test_close_button_is_named_by_its_label_and_its_glyph_is_hidden(api, site, host_server, new_page):
    """axe's label-content-name-mismatch (WCAG 2.5.3): the × stays visible, but assistive tech meets only the
    button's label, not a name ("关闭") that differs from the text it would read ("×"). Checked in Chromium's own
    accessibility tree (CDP), which is what screen readers are given."""
    page = new_page()
    page.goto(host_server.serve("/close-name", page_html(api, site.public_key)))
    wait_event(page, "ready")
    page.evaluate("CRMWidget.open()")
    close = page.get_by_role("dialog", name="给我们留言").get_by_role("button", name="关闭", exact=True)
    assert close.inner_text() == "×" and close.is_visible()
    assert close.get_attribute("aria-label") == "关闭"

    nodes = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
    by_id = {n["nodeId"]: n for n in nodes}

    def exposed(node: dict) -> bool:
        return not node.get("ignored")

    def name(node: dict) -> str:
        return node.get("name", {}).get("value", "")

    buttons = [n for n in nodes if exposed(n) and n.get("role", {}).get("value") == "button" and name(n) == "关闭"]
    assert len(buttons) == 1
    exposed_below = [by_id[c] for c in buttons[0].get("childIds", []) if c in by_id and exposed(by_id[c])]
    assert exposed_below == [], "the glyph is hidden from assistive tech"
    assert [n for n in nodes if exposed(n) and "×" in name(n)] == [], "no exposed node reads out the ×"
