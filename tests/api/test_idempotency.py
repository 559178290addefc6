"""Idempotency-Key: a repeat gets the first answer and creates nothing; a reuse for another request is 422."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from crm_bridge.intake import idempotency
from crm_bridge.models import HitCounter, IdempotencyRecord, Submission

from .conftest import BASE, ORIGIN, bridge, enqueued_ids

pytestmark = pytest.mark.django_db


def test_a_repeat_replays_the_first_answer_and_creates_nothing(post, message, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as first_callbacks:
        first = post("messages", message, idem="widget-abc-1")
    with django_capture_on_commit_callbacks() as repeat_callbacks:
        again = post("messages", message, idem="widget-abc-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Submission.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert enqueued_ids(first_callbacks) == [first.json()["id"]]
    assert repeat_callbacks == []


def test_the_record_holds_the_answer_and_a_sha256_fingerprint(post, message, site):
    r = post("messages", message, idem="k1")
    record = IdempotencyRecord.objects.get()
    assert (record.site_id, record.key, record.endpoint) == (site.pk, "k1", "message")
    assert (record.status_code, record.body) == (202, r.json())
    assert record.fingerprint == idempotency.fingerprint(message)
    assert len(record.fingerprint) == 64


def test_same_json_reserialised_is_the_same_request(post, message):
    first = post("messages", raw=json.dumps(message), idem="k")
    again = post("messages", raw=json.dumps(dict(reversed(message.items())), indent=2), idem="k")
    assert again.json() == first.json()
    assert Submission.objects.count() == 1


def test_same_key_different_body_is_422(post, message):
    post("messages", message, idem="k")
    r = post("messages", {**message, "content": "something else"}, idem="k")
    assert r.status_code == 422
    assert r.json() == {"detail": "This Idempotency-Key was already used with a different request."}
    assert Submission.objects.count() == 1


def test_same_key_on_another_endpoint_is_422(post, message, site):
    post("messages", message, idem="k")
    assert post("hits", {"key": site.public_key, "pkid": 1}, idem="k").status_code == 422
    assert HitCounter.objects.count() == 0


def test_keys_are_per_site(post, message):
    from crm_bridge.models import Site

    other = Site.objects.create(name="Other", site_key="k2", allowed_origins=[ORIGIN])
    post("messages", message, idem="k")
    r = post("messages", {**message, "key": other.public_key, "version": other.privacy_version}, idem="k")
    assert r.status_code == 202
    assert Submission.objects.count() == 2


def test_leads_and_hits_are_idempotent_too(post, lead, site):
    a = post("leads", lead, idem="lead-1")
    b = post("leads", lead, idem="lead-1")
    assert a.json() == b.json()
    assert Submission.objects.count() == 1
    hits = {"key": site.public_key, "pkid": 8, "count": 3}
    assert post("hits", hits, idem="hits-1").json() == {"accepted": 3}
    assert post("hits", hits, idem="hits-1").json() == {"accepted": 3}
    assert HitCounter.objects.get(site=site, pkid=8).pending == 3


def test_spam_answers_are_replayed_too(post, message):
    with bridge(MIN_FILL_SECONDS=5.0):
        a = post("messages", {**message, "fill_ms": 10}, idem="k")
        b = post("messages", {**message, "fill_ms": 10}, idem="k")
    assert a.json() == b.json()
    assert Submission.objects.get().status == "spam"


def test_a_failed_request_is_not_recorded(post, message):
    assert post("messages", {**message, "content": ""}, idem="k").status_code == 400
    assert IdempotencyRecord.objects.count() == 0
    assert post("messages", message, idem="k").status_code == 202


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9", "tab\tkey"])
def test_malformed_key_is_400(client, message, bad):
    r = client.generic(
        "POST",
        BASE + "messages",
        json.dumps(message),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=bad,
    )
    assert r.status_code == 400
    assert list(r.json()) == ["Idempotency-Key"]
    assert Submission.objects.count() == 0


def test_a_key_of_255_printable_characters_is_fine(post, message):
    assert post("messages", message, idem="~" * 255).status_code == 202


def test_an_expired_record_frees_the_key(post, message):
    first = post("messages", message, idem="k")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(seconds=3601))
    with bridge(IDEMPOTENCY_TTL=3600):
        again = post("messages", message, idem="k")
    assert again.json()["id"] != first.json()["id"]
    assert Submission.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 1


def test_purge_deletes_only_expired_records(post, message, site):
    for key in ("old-1", "old-2", "new"):
        post("messages", message, idem=key)
    IdempotencyRecord.objects.filter(key__startswith="old").update(created_at=timezone.now() - timedelta(days=2))
    with bridge(IDEMPOTENCY_TTL=86400):
        assert idempotency.purge_idempotency_records() == 2
        assert idempotency.purge_idempotency_records() == 0
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert Submission.objects.count() == 3  # the submissions themselves stay


def test_a_repeat_is_decided_by_the_unique_constraint_with_one_read(post, message, site, monkeypatch):
    # No look-up before the work: the repeat's inserts run, its record hits the unique (site, key) constraint,
    # its transaction (the submission too) rolls back, and only then is the winner's record read, once.
    winner = post("messages", message, idem="k").json()
    real_stored = idempotency._stored
    calls = []

    def counted(site, idem):
        calls.append(idem.key)
        return real_stored(site, idem)

    monkeypatch.setattr(idempotency, "_stored", counted)
    r = post("messages", message, idem="k")
    assert r.status_code == 202
    assert r.json() == winner
    assert r["Idempotent-Replayed"] == "true"
    assert calls == ["k"]
    assert Submission.objects.count() == 1  # the loser's row was rolled back with its record


def test_a_first_request_reads_no_idempotency_record(post, message, monkeypatch):
    calls = []
    monkeypatch.setattr(idempotency, "_stored", lambda site, idem: calls.append(idem.key))
    assert post("messages", message, idem="fresh").status_code == 202
    assert calls == []


def test_a_repeat_valid_when_first_sent_replays_even_if_now_invalid(post, message, site):
    first = post("messages", message, idem="k")
    site.privacy_notice_en = "A new notice."
    site.save()  # the notice's version changed: the same body would now be refused (400) as a new request
    assert post("messages", message, idem="other").status_code == 400
    r = post("messages", message, idem="k")
    assert (r.status_code, r.json(), r["Idempotent-Replayed"]) == (202, first.json(), "true")
    assert Submission.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_create_one_row(site, message, monkeypatch):
    """Real threads and connections: both start their work before either committed; one row, one answer."""
    real_once = idempotency.once
    barrier = threading.Barrier(2, timeout=10)

    def once_together(site, idem, work):
        barrier.wait()  # both requests here, neither has a record yet; SQLite then serialises the writes
        return real_once(site, idem, work)

    monkeypatch.setattr("crm_bridge.intake.store.once", once_together)
    results = []

    def send():
        try:
            r = Client().post(
                BASE + "messages", json.dumps(message), content_type="application/json", HTTP_IDEMPOTENCY_KEY="race"
            )
            results.append((r.status_code, r.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 2
    assert results[0] == results[1]
    assert results[0][0] == 202
    assert Submission.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
