"""Consent in a real browser (PIPL; docs/privacy.md): the notice and an unticked checkbox next to the submit button
in both languages; sending without ticking shows the error, focuses the box and sends nothing; ticked, the consent
record is stored. The no-JS form too."""

from __future__ import annotations

import hashlib

import pytest

from crm_bridge.intake.serializers import DEFAULT_TEXTS
from crm_bridge.models import Submission

from .conftest import events, page_html, wait_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

LEAD_DIV = '<div id="lead" data-crm-form="lead"></div>'


def lead_form(page):
    return page.locator("#lead form")


@pytest.mark.parametrize(("lang", "name_label", "submit"), [("zh-CN", "姓名", "提交"), ("en", "Name", "Send")])
def test_notice_and_unticked_checkbox_render_in_both_languages(api, consent_site, host_server, new_page, lang,
                                                                name_label, submit):  # fmt: skip
    page = new_page(locale=lang)
    page.goto(host_server.serve(f"/c-{lang}", page_html(api, consent_site.public_key, body=LEAD_DIV, lang=lang)))
    form = lead_form(page)
    form.get_by_label(name_label).wait_for()
    assert form.locator(".pn").inner_text() == consent_site.privacy_notice(lang)
    box = form.get_by_role("checkbox", name=DEFAULT_TEXTS[lang]["consent"])
    assert box.count() == 1 and not box.is_checked()
    # Next to the submit button: the notice and the box come right before it.
    order = form.evaluate("f => [...f.children].slice(-4, -1).map((e) => e.className)")
    assert order == ["pn", "cb", "go"]
    assert form.get_by_role("button", name=submit).count() == 1


def test_sending_without_ticking_shows_the_error_and_sends_nothing(api, consent_site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/untick", page_html(api, consent_site.public_key, body=LEAD_DIV)))
    form = lead_form(page)
    form.get_by_label("姓名").fill("张三")
    form.get_by_label("电话").fill("138 0013 8000")
    requests = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    form.get_by_label("电话").press("Enter")  # the keyboard path: Enter in a field submits
    form.locator(".st.bad").wait_for()
    status = form.get_by_role("status")
    assert status.inner_text() == DEFAULT_TEXTS["zh-CN"]["consent_error"]
    box = form.get_by_role("checkbox")
    assert box.get_attribute("aria-invalid") == "true"
    assert form.evaluate("f => f.getRootNode().activeElement.id") == "crm-consent"
    assert Submission.objects.count() == 0
    assert not events(page, "submitted")

    # Space on the focused box ticks it; then it sends, and the error is gone.
    page.keyboard.press("Space")
    assert box.is_checked()
    form.get_by_role("button", name="提交").click()
    wait_event(page, "submitted")
    assert box.get_attribute("aria-invalid") is None
    assert Submission.objects.count() == 1
    # The refused attempt never reached the network: the only POST is the ticked one.
    assert [u for u in requests if u.endswith("/widget/v1/leads")] == [api + "/crm/widget/v1/leads"]


def test_with_ticking_the_consent_record_is_stored(api, consent_site, host_server, new_page):
    page = new_page(locale="en")
    url = host_server.serve("/tick", page_html(api, consent_site.public_key, body=LEAD_DIV, lang="en"))
    page.goto(url)
    form = lead_form(page)
    form.get_by_label("Name").fill("Zhang San")
    form.get_by_label("Phone").fill("13800138000")
    form.get_by_role("checkbox").check()
    form.get_by_role("button", name="Send").click()
    detail = wait_event(page, "submitted")[0]["detail"]
    record = Submission.objects.get(pk=detail["id"]).consent
    assert record["version"] == consent_site.privacy_version
    assert record["lang"] == "en"
    assert record["text_sha256"] == hashlib.sha256(consent_site.privacy_notice("en").encode()).hexdigest()
    assert record["origin"] == host_server.origin and record["page_url"] == url
    assert not form.get_by_role("checkbox").is_checked()  # the form is reset for the next visitor: unticked


def test_a_site_that_asks_no_consent_shows_the_notice_without_a_box(api, site, host_server, new_page):
    page = new_page()
    page.goto(host_server.serve("/nobox", page_html(api, site.public_key, body=LEAD_DIV)))
    form = lead_form(page)
    form.get_by_label("姓名").wait_for()
    assert form.locator(".pn").inner_text() == site.privacy_notice("zh-CN")
    assert form.get_by_role("checkbox").count() == 0
