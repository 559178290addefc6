"""Bots: the honeypot field and the minimum fill time."""

from __future__ import annotations

import uuid

import pytest

from crm_bridge.intake import store
from crm_bridge.models import IdempotencyRecord, Submission

from .conftest import BASE, bridge, enqueued_ids

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("endpoint", ["messages", "leads"])
def test_honeypot_gets_a_fake_202_and_nothing_is_stored(
    post, message, lead, endpoint, client, site, django_capture_on_commit_callbacks
):
    data = {"messages": message, "leads": lead}[endpoint]
    with django_capture_on_commit_callbacks() as callbacks:
        r = post(endpoint, {**data, "website": "http://spam.example"}, idem="bot-1")
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"id", "status"} and body["status"] == "queued"
    uuid.UUID(body["id"])
    assert Submission.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0
    assert callbacks == []
    # The fake id leads nowhere.
    assert client.get(f"{BASE}submissions/{body['id']}", {"key": site.public_key}).status_code == 404


def test_honeypot_wins_even_over_invalid_fields(post, site):
    r = post("leads", {"key": site.public_key, "website": "x", "tel": "nonsense"})
    assert r.status_code == 202
    assert Submission.objects.count() == 0


def test_empty_honeypot_is_a_person(post, message):
    assert post("messages", {**message, "website": ""}).status_code == 202
    assert Submission.objects.get().status == "queued"


@pytest.mark.parametrize("endpoint", ["messages", "leads"])
def test_too_fast_is_held_as_spam_and_not_enqueued(post, message, lead, endpoint, django_capture_on_commit_callbacks):
    data = {"messages": message, "leads": lead}[endpoint]
    with bridge(MIN_FILL_SECONDS=2.0), django_capture_on_commit_callbacks() as callbacks:
        r = post(endpoint, {**data, "fill_ms": 1999})
    assert r.status_code == 202
    assert r.json()["status"] == "queued"  # the same answer a person gets
    sub = Submission.objects.get()
    assert (sub.status, sub.spam_reason) == ("spam", "too_fast")
    assert enqueued_ids(callbacks) == []
    # Staff are still told (submission_received is sent for spam too).
    assert [cb.func for cb in callbacks] == [store.announce]


def test_slow_enough_is_queued(post, message, django_capture_on_commit_callbacks):
    with bridge(MIN_FILL_SECONDS=2.0), django_capture_on_commit_callbacks() as callbacks:
        r = post("messages", {**message, "fill_ms": 2000})
    sub = Submission.objects.get()
    assert (sub.status, sub.spam_reason) == ("queued", "")
    assert enqueued_ids(callbacks) == [r.json()["id"]]


def test_no_fill_time_is_not_judged(post, message):
    post("messages", {**message, "fill_ms": None})
    assert Submission.objects.get().status == "queued"
