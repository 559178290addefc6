"""POST widget/v1/leads."""

from __future__ import annotations

import pytest

from crm_bridge.models import Site, Submission

from .conftest import ORIGIN, enqueued_ids

pytestmark = pytest.mark.django_db


def test_stores_a_lead_with_the_payload_delivery_relies_on(post, lead, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        r = post("leads", lead)
    assert r.status_code == 202
    assert r.json()["status"] == "queued"
    sub = Submission.objects.get()
    assert sub.kind == "lead" and sub.status == "queued"
    assert sub.payload == {
        "name": "王小明",
        "tel": "13800138000",
        "tel_e164": "+8613800138000",
        "company": "示例公司",
        "email": "wang@example.com",
        "message": "想了解价格",
        "page_url": ORIGIN + "/products/9",
    }
    assert sub.page_url == ORIGIN + "/products/9"
    assert enqueued_ids(callbacks) == [str(sub.id)]


def test_only_name_and_tel_are_required(post, site):
    r = post("leads", {"key": site.public_key, "name": "Li", "tel": "021-12345678"})
    assert r.status_code == 202
    assert Submission.objects.get().payload == {
        "name": "Li",
        "tel": "02112345678",
        "tel_e164": "+862112345678",
        "company": "",
        "email": "",
        "message": "",
        "page_url": "",
    }


def test_missing_required_fields(post, site):
    r = post("leads", {"key": site.public_key})
    assert r.status_code == 400
    assert set(r.json()) == {"name", "tel"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "x" * 51}, "name"),
        ({"name": "\x00"}, "name"),
        ({"tel": "1" * 31}, "tel"),
        ({"tel": "not a phone"}, "tel"),
        ({"company": "c" * 101}, "company"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"message": "m" * 2001}, "message"),
        ({"message": "a\x00"}, "message"),
        ({"page_url": "javascript:alert(1)"}, "page_url"),
    ],
)
def test_field_errors(post, lead, change, field, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        r = post("leads", {**lead, **change})
    assert r.status_code == 400
    assert list(r.json()) == [field]
    assert Submission.objects.count() == 0
    assert callbacks == []


def test_name_is_single_line(post, lead):
    assert post("leads", {**lead, "name": "王\n小明"}).status_code == 202
    assert Submission.objects.get().payload["name"] == "王 小明"


def test_leads_disabled_is_the_same_403(post, lead, site):
    site.features = {"leads": False}
    site.save()
    r = post("leads", lead)
    assert (r.status_code, r.json()) == (403, {"detail": "Unknown or disabled key."})
    # Messages stay on.
    assert post("messages", {"key": site.public_key, "content": "hi"}).status_code == 202


def test_bad_origin_is_403(post, lead):
    assert post("leads", lead, origin="https://evil.example").status_code == 403
    assert Submission.objects.count() == 0


def test_inactive_site(post, lead, site):
    Site.objects.filter(pk=site.pk).update(is_active=False)
    assert post("leads", lead).json() == {"detail": "Unknown or disabled key."}
