"""One origin rule (``crm_bridge.origins``) at every writer and every reader.

The regression of issue 7: ``crm_bridge_site add --origin https://www.example.com:443`` stored the ``:443`` and an
IDN origin (``https://例子.中国``) was stored in Unicode, while browsers send ``https://www.example.com`` and
``https://xn--fsqu00a.xn--fiqs8s``: such a site answered 403 to every visitor. Each case below is one way of
typing an origin (default port, IDN, upper case, trailing slash) and the form a browser sends for it.

Writers (the CLI, the admin's change and add forms, ``Site.full_clean()``) store the browser's form; readers
(``Site.origin_allowed``, the CORS grant, the API's Origin check, its own-origin check) match the browser's form
even against an allow-list stored un-normalised by older code (written with ``.update()``, which skips
validation).
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from crm_bridge.models import Site, Submission
from crm_bridge.origins import normalise_origin, origin_key
from crm_bridge.privacy.notice import notice_version
from tests.admin.test_blank_fields import form_post_data

pytestmark = pytest.mark.django_db

BASE = "/crm/widget/v1/"
ACAO = "Access-Control-Allow-Origin"

#: (as typed, as a browser sends it in ``Origin``)
CASES = [
    pytest.param("https://www.example.com:443", "https://www.example.com", id="default-port"),
    pytest.param("http://www.example.com:80", "http://www.example.com", id="default-port-http"),
    pytest.param("https://例子.中国", "https://xn--fsqu00a.xn--fiqs8s", id="idn"),
    pytest.param("https://BÜCHER.example", "https://xn--bcher-kva.example", id="idn-upper-case"),
    pytest.param("HTTPS://WWW.Example.COM", "https://www.example.com", id="upper-case"),
    pytest.param("https://www.example.com/", "https://www.example.com", id="trailing-slash"),
    pytest.param("  HTTPS://例子.中国:443/ ", "https://xn--fsqu00a.xn--fiqs8s", id="all-at-once"),
]

NOT_AN_ORIGIN = "an origin looks like https://www.example.com (http or https, then the host)."

#: (typed, the reason the CLI gives after it): what is not an origin, and why.
INVALID = [
    ("www.example.com", NOT_AN_ORIGIN),
    ("ftp://example.com", NOT_AN_ORIGIN),
    ("https://example.com/shop", "an origin has no path, query or fragment — just scheme://host[:port]."),
    ("https://*.example.com", "wildcards are not allowed; list each origin."),
    ("https://example.com:99999", "the port is not valid."),
    ("https://user:pw@example.com", "an origin carries no user name or password."),
    ("https://exa mple.com", "the host name is not valid."),
    ("https://[::1", "the host name is not valid."),
]


@pytest.fixture(autouse=True)
def _english(settings):
    # The demo site speaks zh-hans; the messages asserted here are the English ones.
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def _clean_cache(db):
    # CORS caches the union of allow-lists; .update() below sends no signal to drop it.
    cache.clear()
    yield
    cache.clear()


def old_site(typed: str, **fields) -> Site:
    """A site whose allow-list holds ``typed`` as older code stored it: not through validation."""
    site = Site.objects.create(name="Old", site_key="sk-old", allowed_origins=["https://placeholder.example"], **fields)
    Site.objects.filter(pk=site.pk).update(allowed_origins=[typed])
    site.refresh_from_db()
    assert site.allowed_origins == [typed]
    return site


def post_message(site: Site, origin: str, client: Client | None = None, **extra):
    body = {
        "key": site.public_key,
        "content": "请尽快联系我",
        "contact": "微信 abc",
        "page_url": "https://p.example/1",
        "consent": True,  # the visitor ticked the box for the notice version the widget showed
        "version": notice_version(site),
    }
    return (client or Client()).post(
        BASE + "messages", json.dumps(body), content_type="application/json", HTTP_ORIGIN=origin, **extra
    )


# --- the rule ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "browser"), CASES)
def test_the_rule_gives_the_browsers_form(typed, browser):
    assert normalise_origin(typed) == browser
    assert normalise_origin(browser) == browser
    assert origin_key(typed) == browser


@pytest.mark.parametrize(
    "typed",
    ["https://www.example.com", "http://example.com:8080", "https://example.com:80", "http://127.0.0.1:8001",
     "http://[::1]:3000", "https://xn--fsqu00a.xn--fiqs8s"],
)  # fmt: skip
def test_the_rule_keeps_what_is_already_the_browsers_form(typed):
    # A port stays unless it is the scheme's default; IP addresses are hosts too.
    assert normalise_origin(typed) == typed


@pytest.mark.parametrize(
    "typed",
    [typed for typed, _reason in INVALID]
    + ["*", "https://", "//example.com", "https://example.com/?q=1", "https://example.com#top",
       "https://-bad-.example.com", "javascript:alert(1)", "https://例子.中国/路径", "https://a]b",
       "https://[::1]x", "https://[v1.x]", "https://[1.2.3.4]", "https://[fe80::1%25eth0]"],
)  # fmt: skip
def test_the_rule_refuses_what_is_not_an_origin(typed):
    with pytest.raises(ValidationError) as caught:
        normalise_origin(typed)
    (message,) = caught.value.messages
    assert message.startswith(typed.strip() + ": ")


@pytest.mark.parametrize("value", [None, "", "   ", "null", "https://example.com/x", 42])
def test_origin_key_of_what_is_not_an_origin_is_none(value):
    assert origin_key(value) is None


# --- writers ----------------------------------------------------------------------------------------------


def run_cli(*args: str) -> str:
    out = io.StringIO()
    call_command("crm_bridge_site", "add", "Acme", "--site-key", "sk-acme", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.parametrize(("typed", "browser"), CASES)
def test_the_cli_stores_the_browsers_form(typed, browser):
    out = run_cli("--origin", typed)
    site = Site.objects.get()
    assert out == site.public_key + "\n"
    assert site.allowed_origins == [browser]


def test_the_cli_keeps_one_entry_per_origin_however_typed():
    run_cli(
        "--origin",
        "https://例子.中国",
        "--origin",
        "HTTPS://xn--fsqu00a.xn--fiqs8s:443/",
        "--origin",
        "https://a.example",
    )
    assert Site.objects.get().allowed_origins == ["https://xn--fsqu00a.xn--fiqs8s", "https://a.example"]


@pytest.mark.parametrize(("typed", "reason"), INVALID)
def test_the_cli_refuses_what_is_not_an_origin_and_creates_nothing(typed, reason):
    with pytest.raises(CommandError) as caught:
        run_cli("--origin", "https://fine.example", "--origin", typed)
    assert str(caught.value) == f"{typed}: {reason}"
    assert Site.objects.count() == 0


@pytest.mark.parametrize(("typed", "browser"), CASES)
def test_the_admin_change_form_stores_the_browsers_form(admin_client, typed, browser):
    site = Site.objects.create(name="Acme", site_key="sk-acme", allowed_origins=["https://acme.example"])
    url = reverse("admin:crm_bridge_site_change", args=[site.pk])
    data = form_post_data(admin_client.get(url).content, "site_form")
    data["allowed_origins"] = [f"{typed}\nhttps://acme.example"]
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    site.refresh_from_db()
    assert site.allowed_origins == [browser, "https://acme.example"]


def test_the_admin_add_form_stores_the_browsers_form_once_per_origin(admin_client):
    url = reverse("admin:crm_bridge_site_add")
    data = form_post_data(admin_client.get(url).content, "site_form")
    typed = [case.values[0] for case in CASES]
    data |= {"name": ["Acme"], "new_site_key": ["sk-acme"], "allowed_origins": ["\n".join(typed)]}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Site.objects.get().allowed_origins == [
        "https://www.example.com",
        "http://www.example.com",
        "https://xn--fsqu00a.xn--fiqs8s",
        "https://xn--bcher-kva.example",
    ]


@pytest.mark.parametrize(("typed", "browser"), CASES)
def test_full_clean_stores_the_browsers_form(typed, browser):
    site = Site(name="Acme", site_key="sk-acme", allowed_origins=[typed, browser])
    site.full_clean()
    assert site.allowed_origins == [browser]


def test_full_clean_refuses_what_is_not_an_origin():
    site = Site(name="Acme", site_key="sk-acme", allowed_origins=["https://ok.example", "https://*.example.com"])
    with pytest.raises(ValidationError) as caught:
        site.full_clean()
    assert caught.value.message_dict == {
        "allowed_origins": ["https://*.example.com: wildcards are not allowed; list each origin."]
    }
    assert site.allowed_origins == ["https://ok.example", "https://*.example.com"]


# --- readers, against an allow-list stored un-normalised -------------------------------------------------


@pytest.mark.parametrize(("typed", "browser"), CASES)
def test_origin_allowed_matches_the_browsers_form(typed, browser):
    site = old_site(typed)
    assert site.origin_allowed(browser)
    assert site.origin_allowed(typed)
    assert not site.origin_allowed("https://other.example")
    assert not site.origin_allowed(browser + ":8443")
    assert not site.origin_allowed("null")


@pytest.mark.parametrize(("typed", "browser"), CASES)
def test_the_api_accepts_and_cors_grants_the_browsers_form(typed, browser):
    site = old_site(typed)
    response = post_message(site, browser)
    assert response.status_code == 202, response.content
    assert response[ACAO] == browser
    assert Submission.objects.filter(site=site).count() == 1


@pytest.mark.parametrize(("typed", "browser"), CASES)
def test_a_preflight_from_the_browsers_form_is_granted(typed, browser):
    old_site(typed)
    response = Client().options(
        BASE + "messages",
        HTTP_ORIGIN=browser,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,idempotency-key",
    )
    assert response.status_code == 200
    assert response[ACAO] == browser


def test_another_origin_is_still_refused_and_gets_no_grant():
    site = old_site("https://例子.中国:443/")
    response = post_message(site, "https://xn--fsqu00b.xn--fiqs8s")
    assert response.status_code == 403
    assert ACAO not in response
    assert Submission.objects.count() == 0


@pytest.mark.parametrize("junk", ["https://[::1", "https://[::1]x", "https://[v1.x]", "null", "https://例子.中国/"])
def test_a_junk_origin_header_is_refused_as_json_not_a_500(junk):
    # The header is the client's to choose: the readers must answer for any value, with the API's JSON 403.
    site = old_site("https://[::1]")
    response = post_message(site, junk.encode().decode("latin-1"))
    assert response.status_code == 403
    assert response.json() == {"detail": "Origin not allowed."}
    assert ACAO not in response
    assert Submission.objects.count() == 0


@pytest.mark.parametrize(
    ("host", "secure", "origin"),
    [
        ("www.example.com:443", True, "https://www.example.com"),
        ("WWW.EXAMPLE.COM", True, "https://www.example.com"),
        ("www.example.com:80", False, "http://www.example.com"),
        ("xn--fsqu00a.xn--fiqs8s:443", True, "https://xn--fsqu00a.xn--fiqs8s"),
    ],
)
def test_the_servers_own_origin_passes_however_the_host_header_spells_it(settings, host, secure, origin):
    # A page of the host site itself needs no allow-list entry; a proxy may pass the default port on in Host.
    settings.ALLOWED_HOSTS = [".example.com", ".xn--fiqs8s"]
    site = Site.objects.create(name="Own", site_key="sk-own", allowed_origins=[])
    response = post_message(site, origin, HTTP_HOST=host, secure=secure)
    assert response.status_code == 202, response.content
    assert Submission.objects.filter(site=site).count() == 1


def test_the_servers_own_host_on_another_port_is_not_its_origin(settings):
    settings.ALLOWED_HOSTS = [".example.com"]
    site = Site.objects.create(name="Own", site_key="sk-own", allowed_origins=[])
    response = post_message(site, "https://www.example.com", HTTP_HOST="www.example.com:8443", secure=True)
    assert response.status_code == 403
    assert Submission.objects.count() == 0
