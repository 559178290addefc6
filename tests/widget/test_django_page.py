"""The demo company page rendered by Django with ``{% crm_widget %}``, in a real browser: without JavaScript the
plain form posts (CSRF, same origin) and thanks; with JavaScript the widget replaces it and posts to its own
origin's API (no allow-list entry needed)."""

from __future__ import annotations

import pytest

from config.management.commands.demo import DEMO_SITE_NAME
from crm_bridge.models import Site, Submission

from .conftest import shot, wait_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def demo_site(api) -> Site:
    return Site.objects.create(name=DEMO_SITE_NAME, site_key="sandbox-site-key", default_cust_id=1)


def test_without_javascript_the_plain_form_works(api, demo_site, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(api + "/#contact")
    form = page.locator("form.crm-fallback-lead")
    assert form.is_visible()
    assert page.locator("form.crm-fallback-message").is_visible()  # the <noscript> message form
    assert not page.locator("input[name=website]").first.is_visible()  # the honeypot
    form.get_by_label("姓名").fill("吴十一")
    form.get_by_label("电话").fill("12")
    # A new site asks for consent: a real, unticked checkbox (the browser itself refuses to send it unticked).
    box = form.get_by_label("我已阅读并同意上述隐私声明")
    assert not box.is_checked()
    box.check()
    form.get_by_role("button", name="提交").click()
    assert page.locator("#crm-fallback-lead-tel-e").is_visible()  # the API's error, next to the field
    assert not page.locator("input[name=website]").is_visible()
    shot(page, "no-js-error", full_page=True)
    page.locator("form.crm-fallback-lead").get_by_label("电话").fill("13800138000")
    page.locator("form.crm-fallback-lead").get_by_role("button", name="提交").click()
    assert page.get_by_role("heading", name="提交成功，我们会尽快与您联系。").is_visible()
    assert "/crm/forms/thanks" in page.url
    shot(page, "no-js-thanks")
    sub = Submission.objects.get()
    assert sub.payload["name"] == "吴十一" and sub.origin == api
    assert (sub.consent["version"], sub.consent["lang"]) == (demo_site.privacy_version, "zh-CN")
    page.reload()  # re-posts nothing: the thank-you page came by a 303 and a GET
    assert Submission.objects.count() == 1


def test_with_javascript_the_widget_replaces_it(api, demo_site, new_page):
    page = new_page()
    page.goto(api + "/")
    wait_event(page, "ready")
    assert not page.locator("form.crm-fallback-lead").is_visible()  # under the shadow root, not rendered
    form = page.locator("[data-crm-form=lead] >> form:not(.crm-fallback)")
    form.get_by_label("姓名").fill("郑十二")
    form.get_by_label("电话").fill("13500135000")
    form.get_by_label("我已阅读并同意上述隐私声明").check()
    shot(page, "django-page", full_page=True)
    form.get_by_role("button", name="提交").click()
    wait_event(page, "submitted")
    assert Submission.objects.get().payload["name"] == "郑十二"
    assert demo_site.allowed_origins == []  # its own origin needs no entry
