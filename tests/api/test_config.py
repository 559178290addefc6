"""GET widget/v1/config?key=K: what the widget needs to render itself, and nothing secret."""

from __future__ import annotations

import pytest

from crm_bridge.models import Site

from .conftest import BASE, ORIGIN, SITE_KEY

pytestmark = pytest.mark.django_db


def get_config(client, key, origin=ORIGIN):
    extra = {"HTTP_ORIGIN": origin} if origin else {}
    return client.get(BASE + "config", {"key": key}, **extra)


def test_config_document(client, site):
    r = get_config(client, site.public_key)
    assert r.status_code == 200
    doc = r.json()
    assert set(doc) == {"features", "forms", "texts", "languages", "honeypot", "privacy"}
    assert doc["features"] == {"messages": True, "leads": True, "hits": True}
    assert doc["languages"] == ["zh-CN", "en"]
    assert doc["honeypot"] == "website"
    assert [f["name"] for f in doc["forms"]["message"]] == ["content", "contact"]
    assert [f["name"] for f in doc["forms"]["lead"]] == ["name", "tel", "company", "email", "message"]
    content = doc["forms"]["message"][0]
    assert content == {
        "name": "content",
        "type": "textarea",
        "required": True,
        "max_length": 2000,
        "label": {"zh-CN": "留言内容", "en": "Message"},
    }
    by_name = {f["name"]: f for f in doc["forms"]["lead"]}
    assert (by_name["name"]["required"], by_name["name"]["max_length"]) == (True, 50)
    assert (by_name["tel"]["type"], by_name["tel"]["required"]) == ("tel", True)
    assert (by_name["email"]["type"], by_name["email"]["required"]) == ("email", False)
    assert by_name["company"]["max_length"] == 100
    assert set(doc["texts"]) == {"zh-CN", "en"}
    assert doc["texts"]["zh-CN"]["submit"] == "提交"
    assert doc["texts"]["en"]["submit"] == "Send"
    assert r["Cache-Control"] == "public, max-age=60"
    assert "Origin" in r["Vary"]


def test_site_texts_override_defaults_per_language(client, site):
    site.texts = {"zh-CN": {"submit": "发送", "custom": "自定义", "bad": 3}, "en": "not a dict", "fr": {"x": "y"}}
    site.save()
    doc = get_config(client, site.public_key).json()
    assert doc["texts"]["zh-CN"]["submit"] == "发送"
    assert doc["texts"]["zh-CN"]["custom"] == "自定义"
    assert "bad" not in doc["texts"]["zh-CN"]
    assert doc["texts"]["en"]["submit"] == "Send"
    assert set(doc["texts"]) == {"zh-CN", "en"}


def test_disabled_features_are_reported_and_their_form_left_out(client, site):
    site.features = {"leads": False, "hits": False}
    site.save()
    doc = get_config(client, site.public_key).json()
    assert doc["features"] == {"messages": True, "leads": False, "hits": False}
    assert set(doc["forms"]) == {"message"}


def test_nothing_secret(client, site):
    site.default_cust_id = 987654
    site.lead_mapping = {"sName": "{name}", "memo": "internal-mapping-marker"}
    site.save()
    body = get_config(client, site.public_key).content.decode()
    for secret in (SITE_KEY, "987654", "internal-mapping-marker", "sandbox-token", "site_key", "allowed_origins"):
        assert secret not in body


def test_unknown_inactive_key_403_same_body(client, site):
    inactive = Site.objects.create(name="Off", site_key="k", allowed_origins=[ORIGIN], is_active=False)
    r1 = get_config(client, "pk_nope")
    r2 = get_config(client, inactive.public_key)
    assert r1.status_code == r2.status_code == 403
    assert r1.content == r2.content == b'{"detail":"Unknown or disabled key."}'


def test_missing_key_400(client, site):
    r = client.get(BASE + "config")
    assert (r.status_code, r.json()) == (400, {"key": ["This field is required."]})


def test_bad_origin_403_and_no_origin_allowed(client, site):
    r = get_config(client, site.public_key, origin="https://evil.example")
    assert (r.status_code, r.json()) == (403, {"detail": "Origin not allowed."})
    assert get_config(client, site.public_key, origin=None).status_code == 200
