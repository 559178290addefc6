"""POST widget/v1/messages: storing, answering, and every way a request is refused."""

from __future__ import annotations

import json
import uuid

import pytest

from crm_bridge import signals
from crm_bridge.intake import store
from crm_bridge.models import Site, Submission

from .conftest import BASE, ORIGIN, bridge, enqueued_ids

pytestmark = pytest.mark.django_db


def test_stores_a_queued_message_and_enqueues_it_once_on_commit(post, message, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        r = post("messages", message, HTTP_USER_AGENT="Mozilla/5.0 test")
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"id", "status"} and body["status"] == "queued"
    sub = Submission.objects.get()
    assert str(sub.id) == body["id"]
    assert sub.kind == "message" and sub.status == "queued" and sub.spam_reason == ""
    assert sub.payload == {"content": "请尽快联系我", "contact": "微信 abc", "page_url": ORIGIN + "/p/1"}
    assert (sub.page_url, sub.origin, sub.user_agent) == (ORIGIN + "/p/1", ORIGIN, "Mozilla/5.0 test")
    assert enqueued_ids(callbacks) == [body["id"]]
    assert r["Content-Type"] == "application/json"
    assert "Origin" in r["Vary"]
    assert "no-store" in r["Cache-Control"]
    assert not r.cookies


def test_optional_fields_are_stored_as_empty_strings(post, site):
    r = post("messages", {"key": site.public_key, "content": "hello"})
    assert r.status_code == 202
    assert Submission.objects.get().payload == {"content": "hello", "contact": "", "page_url": ""}


def test_submission_received_is_sent_on_commit(post, message, django_capture_on_commit_callbacks):
    seen = []

    def receiver(sender, submission, **kwargs):
        seen.append(submission.id)

    signals.submission_received.connect(receiver)
    try:
        with django_capture_on_commit_callbacks() as callbacks:
            post("messages", message)
        assert seen == []  # not before commit
        for cb in callbacks:
            if getattr(cb, "func", None) is store.announce:
                cb()
    finally:
        signals.submission_received.disconnect(receiver)
    assert seen == [Submission.objects.get().id]


def test_a_failing_receiver_does_not_break_intake(post, message, django_capture_on_commit_callbacks):
    def receiver(**kwargs):
        raise RuntimeError("integrator bug")

    signals.submission_received.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            r = post("messages", message)
        [cb() for cb in callbacks if getattr(cb, "func", None) is store.announce]
    finally:
        signals.submission_received.disconnect(receiver)
    assert r.status_code == 202


def test_text_is_nfc_normalised_control_characters_stripped_newlines_kept(post, site):
    decomposed = "Cafe\u0301"  # "Café" as e + combining acute
    r = post(
        "messages",
        {"key": site.public_key, "content": f"  {decomposed}\x07\u202e!\r\nline 2\tend  ", "contact": "a\nb\x1bc"},
    )
    assert r.status_code == 202
    payload = Submission.objects.get().payload
    assert payload["content"] == "Caf\u00e9!\nline 2\tend"
    assert payload["contact"] == "a bc"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "\x01\x02"}, "content"),  # empty once cleaned
        ({"content": "x" * 2001}, "content"),
        ({"content": ["a"]}, "content"),
        ({"content": "ok", "contact": "x" * 101}, "contact"),
        ({"content": "ok", "page_url": "not a url"}, "page_url"),
        ({"content": "ok", "page_url": "ftp://example.com/x"}, "page_url"),
        ({"content": "ok", "page_url": "https://example.com/" + "a" * 2000}, "page_url"),
        ({"content": "ok", "fill_ms": "soon"}, "fill_ms"),
        ({"content": "ok", "fill_ms": -1}, "fill_ms"),
    ],
)
def test_field_errors_are_400_in_drf_shape(post, site, data, field, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        r = post("messages", {"key": site.public_key, **data})
    assert r.status_code == 400
    errors = r.json()
    assert list(errors) == [field]
    assert isinstance(errors[field], list) and all(isinstance(m, str) for m in errors[field])
    assert Submission.objects.count() == 0
    assert callbacks == []


def test_content_of_exactly_2000_characters_is_accepted(post, site):
    assert post("messages", {"key": site.public_key, "content": "字" * 2000}).status_code == 202


@pytest.mark.parametrize("field", ["content", "contact", "page_url"])
def test_nul_is_refused_not_stripped(post, site, field):
    data = {
        "key": site.public_key,
        "content": "ok",
        field: "https://a.example/\x00" if field == "page_url" else "a\x00b",
    }
    r = post("messages", data)
    assert r.status_code == 400
    assert r.json() == {field: ["Null characters are not allowed."]}
    assert Submission.objects.count() == 0


def test_missing_key_is_400(post):
    r = post("messages", {"content": "hi"})
    assert r.status_code == 400
    assert r.json() == {"key": ["This field is required."]}


def test_unknown_inactive_and_disabled_keys_get_the_same_403(post, site):
    other = Site.objects.create(name="Off", site_key="k2", allowed_origins=[ORIGIN], is_active=False)
    no_messages = Site.objects.create(
        name="Leads only", site_key="k3", allowed_origins=[ORIGIN], features={"messages": False}
    )
    bodies = []
    for key in ("pk_does_not_exist", other.public_key, no_messages.public_key, "x" * 300, "\x00"):
        r = post("messages", {"key": key, "content": "hi"})
        assert r.status_code == 403, key
        bodies.append(r.content)
    assert set(bodies) == {b'{"detail":"Unknown or disabled key."}'}
    assert Submission.objects.count() == 0


def test_origin_not_on_the_allow_list_is_403(post, message):
    for origin in ("https://evil.example", "null", "http://shop.example.com", "https://shop.example.com.evil.example"):
        r = post("messages", message, origin=origin)
        assert r.status_code == 403, origin
        assert r.json() == {"detail": "Origin not allowed."}
    assert Submission.objects.count() == 0


def test_origin_check_is_per_site(post, message):
    # Allowed for another site is not allowed for this one.
    Site.objects.create(name="Other", site_key="k", allowed_origins=["https://other.example"])
    assert post("messages", message, origin="https://other.example").status_code == 403


def test_allowed_origin_matches_case_insensitively(post, message):
    assert post("messages", message, origin="HTTPS://Shop.Example.com").status_code == 202


def test_no_origin_header_is_allowed(post, message):
    # Non-browser callers send no Origin; they could forge any, so the rate limits bound them instead.
    assert post("messages", message, origin=None).status_code == 202


def test_the_servers_own_origin_is_allowed(post, message):
    assert post("messages", message, origin="http://testserver").status_code == 202


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", ""]
)
def test_writes_need_application_json(post, message, content_type):
    r = post("messages", raw=json.dumps(message), content_type=content_type)
    assert r.status_code == 415
    assert "detail" in r.json()
    assert Submission.objects.count() == 0


def test_json_with_charset_is_fine(post, message):
    assert post("messages", message, content_type="application/json; charset=utf-8").status_code == 202


@pytest.mark.parametrize("raw", ['{"key": ', "[1, 2]", '"text"', "{'key': 1}", '{"n": NaN}', "\xff\xfe", "[" * 5000])
def test_malformed_json_is_400(post, raw):
    r = post("messages", raw=raw.encode("latin-1") if raw == "\xff\xfe" else raw)
    assert r.status_code == 400
    assert "detail" in r.json()


def test_body_over_max_body_bytes_is_413_through_the_real_parser(client, message):
    with bridge(MAX_BODY_BYTES=1024):
        body = json.dumps({**message, "content": "x" * 2000}).encode()
        assert len(body) > 1024
        r = client.generic("POST", BASE + "messages", body, content_type="application/json", HTTP_ORIGIN=ORIGIN)
        assert r.status_code == 413
        assert r.json() == {"detail": "Request body too large (at most 1024 bytes)."}
        small = json.dumps(message).encode()
        r = client.generic("POST", BASE + "messages", small, content_type="application/json", HTTP_ORIGIN=ORIGIN)
        assert r.status_code == 202
    assert Submission.objects.count() == 1


def test_body_larger_than_declared_is_cut_at_the_limit(client, message):
    # Without (or with an understated) Content-Length, the stream itself is read to at most limit + 1 bytes.
    from crm_bridge.intake.parsers import JSONBodyParser, PayloadTooLarge

    class Stream:
        def __init__(self):
            self.asked = None

        def read(self, n):
            self.asked = n
            return b"{" + b" " * n

    stream = Stream()
    with bridge(MAX_BODY_BYTES=100), pytest.raises(PayloadTooLarge):
        JSONBodyParser().parse(stream, "application/json", {"request": None})
    assert stream.asked == 101


def test_get_on_a_write_endpoint_is_405(client, message):
    assert client.get(BASE + "messages").status_code == 405


def test_answers_are_json_whatever_accept_says(post, message):
    r = post("messages", message, HTTP_ACCEPT="text/html")
    assert r.status_code == 202
    assert r["Content-Type"] == "application/json"


def test_unknown_fields_are_ignored(post, message):
    assert post("messages", {**message, "color": "blue"}).status_code == 202
    assert set(Submission.objects.get().payload) == {"content", "contact", "page_url"}


def test_user_agent_is_truncated(post, message):
    post("messages", message, HTTP_USER_AGENT="U" * 1000)
    assert Submission.objects.get().user_agent == "U" * 400


class TestStatus:
    def test_answers_the_coarse_status_for_the_key_that_made_it(self, client, post, message, site):
        sub_id = post("messages", message).json()["id"]
        url = f"{BASE}submissions/{sub_id}"
        r = client.get(url, {"key": site.public_key}, HTTP_ORIGIN=ORIGIN)
        assert r.status_code == 200
        assert r.json() == {"id": sub_id, "status": "queued"}
        for status, public in [("delivered", "delivered"), ("duplicate", "duplicate"), ("failed", "failed"),
                               ("cancelled", "failed"), ("sending", "queued"), ("spam", "queued")]:  # fmt: skip
            Submission.objects.filter(pk=sub_id).update(status=status)
            assert client.get(url, {"key": site.public_key}).json()["status"] == public

    def test_another_sites_id_is_404_like_an_unknown_one(self, client, post, message):
        sub_id = post("messages", message).json()["id"]
        other = Site.objects.create(name="Other", site_key="k", allowed_origins=[ORIGIN])
        r1 = client.get(f"{BASE}submissions/{sub_id}", {"key": other.public_key})
        r2 = client.get(f"{BASE}submissions/{uuid.uuid4()}", {"key": other.public_key})
        assert r1.status_code == r2.status_code == 404
        assert r1.content == r2.content == b'{"detail":"Not found."}'

    def test_unknown_key_is_403_bad_origin_is_403_missing_key_400(self, client, post, message, site):
        sub_id = post("messages", message).json()["id"]
        url = f"{BASE}submissions/{sub_id}"
        assert client.get(url, {"key": "pk_nope"}).json() == {"detail": "Unknown or disabled key."}
        r = client.get(url, {"key": site.public_key}, HTTP_ORIGIN="https://evil.example")
        assert (r.status_code, r.json()) == (403, {"detail": "Origin not allowed."})
        assert client.get(url).status_code == 400

    def test_a_non_uuid_id_is_404(self, client, site):
        assert client.get(f"{BASE}submissions/123", {"key": site.public_key}).status_code == 404
