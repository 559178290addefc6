"""``source`` on messages and leads: where the visit came from (docs/attribution.md)."""

from __future__ import annotations

import pytest

from crm_bridge.models import Submission

pytestmark = pytest.mark.django_db

LANDING = "https://shop.example.com/?utm_source=baidu&bd_vid=abc"
FULL = {
    "landing": LANDING,
    "referrer": "https://www.baidu.com/",
    "utm_source": "baidu",
    "utm_medium": "cpc",
    "utm_campaign": "春季促销",
    "utm_term": "crm",
    "utm_content": "banner-1",
    "bd_vid": "abc",
    "qhclickid": "q-1",
    "clickid": "c-1",
}
TOO_LONG_URL = "Ensure this field has no more than 2000 characters."


@pytest.mark.parametrize("endpoint", ["messages", "leads"])
def test_source_is_stored_apart_from_the_payload(post, endpoint, message, lead):
    body = {**(message if endpoint == "messages" else lead), "source": FULL}
    r = post(endpoint, body)
    assert r.status_code == 202, r.json()
    sub = Submission.objects.get()
    assert sub.source == FULL
    assert "source" not in sub.payload


def test_without_source_nothing_is_stored(post, lead):
    assert post("leads", lead).status_code == 202
    assert Submission.objects.get().source == {}


def test_only_known_non_empty_keys_are_kept_and_text_is_cleaned(post, lead):
    source = {"utm_source": " baidu\u200b\x07 ", "utm_medium": "", "gclid": "x", "landing": LANDING, "evil": {"a": 1}}
    assert post("leads", {**lead, "source": source}).status_code == 202
    # Unknown keys (gclid, evil) ignored; the control character stripped, the value trimmed; blanks left out.
    assert Submission.objects.get().source == {"landing": LANDING, "utm_source": "baidu\u200b"}


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "ftp://files.example/x", "android-app://com.example.app/", "not a url", "http://"],
)
def test_landing_or_referrer_that_is_not_an_http_url_is_dropped_not_refused(post, lead, url):
    r = post("leads", {**lead, "source": {"landing": url, "referrer": url, "utm_source": "x"}})
    assert r.status_code == 202
    assert Submission.objects.get().source == {"utm_source": "x"}


@pytest.mark.parametrize(
    ("source", "errors"),
    [
        ({"landing": "https://x.example/" + "a" * 1983}, {"landing": [TOO_LONG_URL]}),
        ({"referrer": "https://x.example/" + "a" * 1983}, {"referrer": [TOO_LONG_URL]}),
        ({"utm_campaign": "春" * 201}, {"utm_campaign": ["Ensure this field has no more than 200 characters."]}),
        ({"bd_vid": "v" * 201}, {"bd_vid": ["Ensure this field has no more than 200 characters."]}),
        ({"qhclickid": "v" * 201, "clickid": "v" * 201}, {
            "qhclickid": ["Ensure this field has no more than 200 characters."],
            "clickid": ["Ensure this field has no more than 200 characters."],
        }),
        ({"utm_source": "a\x00"}, {"utm_source": ["Null characters are not allowed."]}),
        ({"utm_source": 7}, {"utm_source": ["Not a valid string."]}),
        ({"utm_source": ["x"]}, {"utm_source": ["Not a valid string."]}),
    ],
)  # fmt: skip
def test_bad_values_are_refused_with_field_errors_and_nothing_is_stored(post, lead, source, errors):
    r = post("leads", {**lead, "source": source})
    assert r.status_code == 400
    assert r.json() == {"source": errors}
    assert Submission.objects.count() == 0


def test_bounds_are_inclusive(post, lead):
    source = {"landing": "https://x.example/" + "a" * 1982, "utm_campaign": "春" * 200, "clickid": "c" * 200}
    assert post("leads", {**lead, "source": source}).status_code == 202
    assert Submission.objects.get().source == source


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("baidu", {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
        (["x"], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        (None, ["This field may not be null."]),
    ],
)
def test_source_must_be_an_object(post, message, value, errors):
    r = post("messages", {**message, "source": value})
    assert r.status_code == 400
    assert r.json() == {"source": errors}
    assert Submission.objects.count() == 0


def test_schema_documents_source(client):
    schema = client.get("/crm/widget/v1/schema", HTTP_ACCEPT="application/json").json()
    source = schema["components"]["schemas"]["Source"]
    assert set(source["properties"]) == set(FULL)
    assert source["properties"]["landing"]["maxLength"] == 2000
    assert source["properties"]["bd_vid"]["maxLength"] == 200
    assert "required" not in source
