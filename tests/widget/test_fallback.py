"""``{% crm_widget %}`` on Django-rendered pages and its no-JavaScript form: same origin, CSRF-protected, the
API's validation and outbox, a thank-you page; posted twice, stored once."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.core import signing
from django.core.cache import cache
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.utils.html import json_script

from config.management.commands.demo import DEMO_SITE_NAME
from crm_bridge.intake.serializers import widget_config
from crm_bridge.models import Site, Submission

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean(settings):
    cache.clear()
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "THROTTLE_RATES": {"ip": "1000/min", "site": "1000/min"}}
    yield
    cache.clear()


@pytest.fixture
def site(db) -> Site:
    return Site.objects.create(name=DEMO_SITE_NAME, site_key="sandbox-site-key", default_cust_id=1)


@pytest.fixture
def browser_client() -> Client:
    # A host with a dot or an IP: "127.0.0.1" is not a URL the API's page_url field accepts.
    return Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1")


def form_fields(html: str, kind: str) -> dict[str, str]:
    """The hidden and prefilled inputs of the plain ``kind`` form in ``html``."""
    form = re.search(rf'<form class="crm-fallback crm-fallback-{kind}".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', form))


def started_ago(seconds: float) -> str:
    return signing.dumps(time.time() - seconds, salt="crm_bridge.fallback.started")


def lead_post(html: str, **fields: str) -> dict[str, str]:
    data = form_fields(html, "lead")
    data.update(started=started_ago(30), name="钱九", tel="13800138000", company="旧式浏览器公司")
    data.update(fields)
    return data


def test_the_tag_renders_one_script_and_plain_forms(site, browser_client):
    page = browser_client.get("/").content.decode()
    scripts = re.findall(r"<script [^>]*></script>", page)
    assert scripts == [
        f'<script src="http://127.0.0.1/static/crm_bridge/widget.js" data-crm-key="{site.public_key}" '
        'data-crm-api="http://127.0.0.1/crm/" async></script>'
    ]
    assert re.search(r'<div data-crm-form="lead"><form class="crm-fallback crm-fallback-lead" method="post"', page)
    assert re.search(r"<noscript><form class=\"crm-fallback crm-fallback-message\"", page)
    lead = form_fields(page, "lead")
    assert lead["key"] == site.public_key and lead["csrfmiddlewaretoken"] and lead["idem"]
    assert lead["page_url"] == "http://127.0.0.1/"
    assert 'for="crm-fallback-lead-tel"' in page and 'name="website" tabindex="-1"' in page
    assert "style=" not in page.split("<main>")[1].split("</main>")[0]  # nothing needing 'unsafe-inline'


def test_posted_without_javascript_stored_once_and_thanked(site, browser_client):
    page = browser_client.get("/").content.decode()
    data = lead_post(page)
    r = browser_client.post("/crm/forms/lead", data)
    assert r.status_code == 303 and r["Location"] == "/crm/forms/thanks?next=http%3A%2F%2F127.0.0.1%2F"
    thanks = browser_client.get(r["Location"]).content.decode()
    assert "提交成功，我们会尽快与您联系。" in thanks and 'href="http://127.0.0.1/"' in thanks
    sub = Submission.objects.get()
    assert sub.kind == "lead" and sub.status == "queued"
    assert sub.payload["name"] == "钱九" and sub.payload["tel_e164"] == "+8613800138000"
    assert sub.payload["page_url"] == "http://127.0.0.1/"

    # The same form posted again (reload, double click): one row.
    again = browser_client.post("/crm/forms/lead", data)
    assert again.status_code == 303 and Submission.objects.count() == 1
    # Back, changed, posted: a new submission of its own.
    assert browser_client.post("/crm/forms/lead", {**data, "name": "钱十"}).status_code == 303
    assert Submission.objects.count() == 2


def test_a_page_url_the_api_would_refuse_is_dropped_not_shown_to_the_visitor(site):
    client = Client(enforce_csrf_checks=True)  # host "testserver": no dot, not a URL the API accepts
    page = client.get("/").content.decode()
    assert client.post("/crm/forms/lead", lead_post(page)).status_code == 303
    assert Submission.objects.get().payload["page_url"] == ""


def test_message_form_in_noscript(site, browser_client):
    page = browser_client.get("/").content.decode()
    data = form_fields(page, "message")
    data.update(started=started_ago(30), content="没有 JavaScript 也能留言")
    assert browser_client.post("/crm/forms/message", data).status_code == 303
    assert Submission.objects.get().payload["content"] == "没有 JavaScript 也能留言"


def test_csrf_and_same_origin_are_required(site, browser_client):
    page = browser_client.get("/").content.decode()
    data = lead_post(page)
    no_cookie = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1")
    assert no_cookie.post("/crm/forms/lead", data).status_code == 403
    no_token = {k: v for k, v in data.items() if k != "csrfmiddlewaretoken"}
    assert browser_client.post("/crm/forms/lead", no_token).status_code == 403
    foreign = browser_client.post("/crm/forms/lead", data, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert Submission.objects.count() == 0


def test_field_errors_re_render_the_form_with_values(site, browser_client):
    page = browser_client.get("/").content.decode()
    r = browser_client.post("/crm/forms/lead", lead_post(page, tel="12345", email="nope"))
    assert r.status_code == 400
    html = r.content.decode()
    assert re.search(r'id="crm-fallback-lead-tel"[^>]*value="12345"[^>]*aria-invalid="true"', html)
    assert re.search(r'<span class="errorlist" id="crm-fallback-lead-tel-e">[^<]+</span>', html)
    assert re.search(r'<span class="errorlist" id="crm-fallback-lead-email-e">[^<]+</span>', html)
    assert 'value="钱九"' in html and "crm-fallback-lead-name-e" not in html
    assert Submission.objects.count() == 0
    # The re-rendered form is itself a working form.
    assert browser_client.post("/crm/forms/lead", lead_post(html, email="")).status_code == 303
    assert Submission.objects.count() == 1


def test_bots_honeypot_and_fill_time(site, browser_client):
    page = browser_client.get("/").content.decode()
    assert browser_client.post("/crm/forms/lead", lead_post(page, website="http://spam")).status_code == 303
    assert Submission.objects.count() == 0
    assert browser_client.post("/crm/forms/lead", lead_post(page, started=started_ago(0))).status_code == 303
    assert Submission.objects.get().spam_reason == "too_fast"
    forged = lead_post(page, started="not-signed", name="无签名", tel="13900000000")
    assert browser_client.post("/crm/forms/lead", forged).status_code == 303
    assert Submission.objects.get(payload__name="无签名").status == "queued"  # like an API call without fill_ms


def test_refusals(site, browser_client):
    page = browser_client.get("/").content.decode()
    data = lead_post(page)
    assert browser_client.post("/crm/forms/lead", {**data, "key": "pk_nope"}).status_code == 403
    assert browser_client.post("/crm/forms/spam", data).status_code == 404
    site.features = {"messages": True, "leads": False, "hits": True}
    site.save()
    assert browser_client.post("/crm/forms/lead", data).status_code == 403
    assert browser_client.get("/crm/forms/lead?key=" + site.public_key).status_code == 403
    assert browser_client.get("/crm/forms/message?key=" + site.public_key).status_code == 200
    assert browser_client.get("/crm/forms/thanks?next=https://evil.example/").content.decode().count("evil") == 0
    assert Submission.objects.count() == 0


def test_throttled(site, browser_client, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "THROTTLE_RATES": {"ip": "2/min", "site": "1000/min"}}
    page = browser_client.get("/").content.decode()
    codes = [browser_client.post("/crm/forms/lead", lead_post(page, name=f"客户{i}")).status_code for i in range(3)]
    assert codes == [303, 303, 429]


def render(source: str, request=None, **context) -> str:
    if request is None:
        request = RequestFactory().get("/page")
    return Template("{% load crm_bridge %}" + source).render(Context({"request": request, **context}))


def test_tag_options(site):
    out = render('{% crm_widget lang="en" button=False %}{% crm_widget "message" lang="en" %}')
    assert out.count("<script src=") == 1
    assert out.count(f'<script id="crm-config-{site.public_key}" type="application/json">') == 1
    assert 'data-crm-lang="en" data-crm-button="off" async' in out
    assert '<div data-crm-form="message" data-crm-lang="en"><form' in out and "Leave us a message" in out
    request = RequestFactory().get("/page")
    request.csp_nonce = "n0nce"
    assert 'nonce="n0nce" async></script>' in render("{% crm_widget %}", request)


def test_tag_without_a_usable_site_renders_a_comment(site):
    Site.objects.create(name="Second", site_key="k2")
    assert render("{% crm_widget %}") == "<!-- crm_widget: no key given and not exactly one active site -->"
    assert render('{% crm_widget key="pk_missing" %}') == "<!-- crm_widget: no active site with that key -->"
    assert f'data-crm-key="{site.public_key}"' in render("{% crm_widget key=k %}", k=site.public_key)


def test_tag_without_a_request_renders_only_the_script(site):
    out = Template('{% load crm_bridge %}{% crm_widget "lead" %}').render(Context({}))
    config = json_script(widget_config(site), f"crm-config-{site.public_key}")
    assert out == (
        f'<div data-crm-form="lead"></div>{config}<script src="/static/crm_bridge/widget.js" '
        f'data-crm-key="{site.public_key}" data-crm-api="/crm/" async></script>'
    )


def test_the_tag_carries_the_config_the_api_answers(site):
    """The data block is what GET widget/v1/config answers, escaped so that no text in it can end the block."""
    site.privacy_notice_zh = "</script><script>alert(1)</script> & 隐私"
    site.save()
    out = render("{% crm_widget %}")
    block = re.search(r'<script id="crm-config-([^"]+)" type="application/json">(.*?)</script>', out, re.S)
    assert block and block.group(1) == site.public_key
    assert "<script>alert" not in block.group(2) and "\\u003C/script\\u003E" in block.group(2)
    api = Client().get("/crm/widget/v1/config", {"key": site.public_key})
    assert api.status_code == 200
    assert json.loads(block.group(2)) == api.json()
    assert site.site_key not in out


def test_the_plain_form_shows_the_notice_and_needs_the_box_ticked(site, browser_client):
    page = browser_client.get("/").content.decode()
    assert site.privacy_notice("zh-CN") in page
    assert re.search(
        r'<input id="crm-fallback-lead-consent" name="consent" type="checkbox" value="true" required', page
    )
    data = {k: v for k, v in lead_post(page).items() if k != "consent"}  # the box left unticked
    r = browser_client.post("/crm/forms/lead", data)
    assert r.status_code == 400
    html = r.content.decode()
    assert re.search(r'id="crm-fallback-lead-consent-e" role="alert">[^<]+</span>', html)
    assert re.search(r'id="crm-fallback-lead-consent"[^>]*aria-invalid="true" autofocus', html)
    assert Submission.objects.count() == 0
    assert browser_client.post("/crm/forms/lead", lead_post(page, consent="true")).status_code == 303
    record = Submission.objects.get().consent
    assert (record["version"], record["lang"]) == (site.privacy_version, "zh-CN")
