"""CORS: granted only on widget API URLs, only to origins on an active site's allow-list; never a wildcard."""

from __future__ import annotations

import pytest
from django.test import override_settings

from crm_bridge.intake import errors
from crm_bridge.models import Site

from .conftest import BASE, ORIGIN
from .test_throttling import unreachable_cache

pytestmark = pytest.mark.django_db

ACAO = "Access-Control-Allow-Origin"


def preflight(client, path, origin, headers="content-type,idempotency-key"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.mark.parametrize("endpoint", ["messages", "leads", "hits", "config"])
def test_preflight_from_an_allowed_origin_is_granted(client, site, endpoint):
    r = preflight(client, BASE + endpoint, ORIGIN)
    assert r.status_code == 200
    assert r[ACAO] == ORIGIN
    allowed = {h.strip() for h in r["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "idempotency-key"} <= allowed
    assert {m.strip() for m in r["Access-Control-Allow-Methods"].split(",")} >= {"GET", "POST"}
    assert "Access-Control-Allow-Credentials" not in r
    assert "origin" in r["Vary"].lower()


def test_preflight_from_another_origin_gets_no_grant(client, site):
    for origin in ("https://evil.example", "null", "http://shop.example.com"):
        r = preflight(client, BASE + "messages", origin)
        assert ACAO not in r, origin
        assert "Access-Control-Allow-Headers" not in r


def test_actual_request_headers(post, message, client, site):
    r = post("messages", message)
    assert r.status_code == 202
    assert r[ACAO] == ORIGIN
    assert r["Access-Control-Expose-Headers"] == "Retry-After"
    assert "Access-Control-Allow-Credentials" not in r
    refused = post("messages", message, origin="https://evil.example")
    assert refused.status_code == 403
    assert ACAO not in refused
    r = client.get(f"{BASE}submissions/{r.json()['id']}", {"key": site.public_key}, HTTP_ORIGIN=ORIGIN)
    assert r[ACAO] == ORIGIN


def test_the_grant_echoes_the_origin_never_a_wildcard(post, message):
    r = post("messages", message, origin="https://SHOP.example.com")
    assert r[ACAO] == "https://SHOP.example.com"
    assert r[ACAO] != "*"


def test_an_allowed_origin_gets_nothing_on_other_urls(client, site):
    r = client.get("/admin/login/", HTTP_ORIGIN=ORIGIN)
    assert ACAO not in r
    assert ACAO not in preflight(client, "/admin/login/", ORIGIN)
    assert ACAO not in preflight(client, BASE + "schema", ORIGIN)
    assert ACAO not in preflight(client, BASE + "nope", ORIGIN)


@override_settings(CORS_URLS_REGEX=r"^.*$")
def test_the_signal_checks_the_url_even_when_the_regex_is_wide_open(client, site):
    # An integrator who leaves corsheaders' default regex does not open the rest of the site to widget origins.
    assert ACAO not in client.get("/admin/login/", HTTP_ORIGIN=ORIGIN)
    assert preflight(client, BASE + "messages", ORIGIN)[ACAO] == ORIGIN


def test_an_inactive_sites_origins_get_no_grant(client, site):
    site.is_active = False
    site.save()
    assert ACAO not in preflight(client, BASE + "messages", ORIGIN)


def test_site_changes_take_effect_at_once(client, site):
    new_origin = "https://new.example.com"
    assert ACAO not in preflight(client, BASE + "messages", new_origin)  # also fills the cache
    site.allowed_origins = [ORIGIN, new_origin]
    site.save()
    assert preflight(client, BASE + "messages", new_origin)[ACAO] == new_origin
    Site.objects.get(pk=site.pk).delete()
    assert ACAO not in preflight(client, BASE + "messages", ORIGIN)


def test_any_active_sites_origin_gets_the_cors_grant_but_the_view_checks_the_key(post, message):
    # CORS is decided before the body is read; the key's own allow-list is enforced by the view (403).
    Site.objects.create(name="Other", site_key="k", allowed_origins=["https://other.example"])
    r = post("messages", message, origin="https://other.example")
    assert r.status_code == 403
    assert r[ACAO] == "https://other.example"  # so the widget there can read why


def test_with_the_cache_unreachable_the_allow_lists_are_read_from_the_database(client, site):
    errors.cache_guard.reset()
    try:
        with unreachable_cache():
            assert preflight(client, BASE + "messages", ORIGIN)[ACAO] == ORIGIN
            site.allowed_origins = [ORIGIN, "https://new.example.com"]
            site.save()  # dropping the cached union fails too: the save does not
            new = preflight(client, BASE + "messages", "https://new.example.com")
            assert new[ACAO] == "https://new.example.com"
            assert errors.cache_guard.down
    finally:
        errors.cache_guard.reset()
