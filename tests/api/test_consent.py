"""Consent (PIPL; docs/privacy.md): the config serves the notice, writes carry consent to its current version."""

from __future__ import annotations

import hashlib
import json

import pytest

from crm_bridge.models import Site, Submission

from .conftest import BASE, ORIGIN

pytestmark = pytest.mark.django_db


def test_config_serves_the_notice_its_version_and_the_requirement(client, site):
    doc = client.get(BASE + "config", {"key": site.public_key}, HTTP_ORIGIN=ORIGIN).json()
    privacy = doc["privacy"]
    assert privacy["required"] == {"message": True, "lead": True}
    assert set(privacy["notice"]) == {"zh-CN", "en"}
    # The default notice names the site and the retention period, in both languages.
    assert "Shop" in privacy["notice"]["zh-CN"] and "180 天" in privacy["notice"]["zh-CN"]
    assert "Shop" in privacy["notice"]["en"] and "180 days" in privacy["notice"]["en"]
    assert privacy["version"] == site.privacy_version and len(privacy["version"]) == 12


def test_version_changes_exactly_when_a_text_changes(site):
    first = site.privacy_version
    site.is_active = False
    assert site.privacy_version == first
    site.privacy_notice_en = "We, Shop, keep your data for a day."
    second = site.privacy_version
    assert second != first
    site.retention_days = 30  # the default zh text follows the retention period
    assert site.privacy_version not in (first, second)


@pytest.mark.parametrize("endpoint", ["messages", "leads"])
@pytest.mark.parametrize("consent", [{}, {"consent": False}, {"consent": "false"}])
def test_missing_or_false_consent_is_400_and_stores_nothing(post, message, lead, endpoint, consent):
    body = {k: v for k, v in (message if endpoint == "messages" else lead).items() if k != "consent"}
    # raw: the post fixture would otherwise add the consent a real widget sends.
    r = post(endpoint, raw=json.dumps({**body, **consent}))
    assert r.status_code == 400
    assert r.json() == {"consent": ["Please agree to the privacy notice to send this."]}
    assert Submission.objects.count() == 0


@pytest.mark.parametrize("endpoint", ["messages", "leads"])
def test_a_stale_version_is_400_and_stores_nothing(post, message, lead, site, endpoint):
    body = message if endpoint == "messages" else lead
    stale = body["version"]
    site.privacy_notice_zh = "新的隐私声明"
    site.save()
    r = post(endpoint, {**body, "version": stale})
    assert r.status_code == 400
    assert list(r.json()) == ["version"]
    assert Submission.objects.count() == 0
    assert post(endpoint, {**body, "version": site.privacy_version}).status_code == 202


def test_the_consent_record_is_stored(post, lead, site):
    r = post("leads", lead, HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 202
    sub = Submission.objects.get()
    record = sub.consent
    assert set(record) == {"version", "text_sha256", "lang", "at", "origin", "page_url"}
    assert record["version"] == site.privacy_version
    assert record["lang"] == "en"
    assert record["text_sha256"] == hashlib.sha256(site.privacy_notice("en").encode()).hexdigest()
    assert (record["origin"], record["page_url"]) == (ORIGIN, lead["page_url"])
    assert record["at"].startswith(str(sub.created_at.year))


def test_consent_not_required_is_accepted_without(post, message, site):
    Site.objects.filter(pk=site.pk).update(consent_required_messages=False)
    body = {k: v for k, v in message.items() if k not in ("consent", "version")}
    r = post("messages", {**body, "consent": False})
    assert r.status_code == 202
    assert Submission.objects.get().consent is None


def test_leads_still_need_consent_when_only_messages_do_not(post, lead, site):
    Site.objects.filter(pk=site.pk).update(consent_required_messages=False)
    r = post("leads", {**lead, "consent": False})
    assert (r.status_code, list(r.json())) == (400, ["consent"])


def test_the_schema_documents_consent_and_version(client):
    schema = client.get(BASE + "schema").json()
    for name in ("Message", "Lead"):
        props = schema["components"]["schemas"][name]["properties"]
        assert props["consent"]["type"] == "boolean"
        assert props["version"]["maxLength"] == 64
