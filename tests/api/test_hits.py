"""POST widget/v1/hits: page views added to per-(site, pkid) counters, nothing queued."""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError
from django.db.models import QuerySet

from crm_bridge.intake import hitbuffer, store
from crm_bridge.models import HitCounter, Site, Submission

from .conftest import ORIGIN, bridge

pytestmark = pytest.mark.django_db


def pending(site) -> dict[int, int]:
    hitbuffer.buffer.flush()  # what this process still holds in memory (written every HIT_BUFFER_SECONDS)
    return dict(HitCounter.objects.filter(site=site).values_list("pkid", "pending"))


def test_one_hit_defaults_to_count_1(post, site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        r = post("hits", {"key": site.public_key, "pkid": 42})
    assert (r.status_code, r.json()) == (202, {"accepted": 1})
    assert pending(site) == {42: 1}
    assert callbacks == []  # hits are counted, not queued
    assert Submission.objects.count() == 0


def test_hits_sum_exactly(post, site):
    post("hits", {"key": site.public_key, "pkid": 42, "count": 3})
    post("hits", {"key": site.public_key, "pkid": 42, "count": 100})
    r = post("hits", {"key": site.public_key, "hits": [{"pkid": 42, "count": 2}, {"pkid": 7}, {"pkid": 7, "count": 5}]})
    assert (r.status_code, r.json()) == (202, {"accepted": 8})
    assert pending(site) == {42: 105, 7: 6}


def test_counters_are_per_site(post, site):
    other = Site.objects.create(name="Other", site_key="k", allowed_origins=[ORIGIN])
    post("hits", {"key": site.public_key, "pkid": 1, "count": 2})
    post("hits", {"key": other.public_key, "pkid": 1, "count": 5})
    assert pending(site) == {1: 2}
    assert pending(other) == {1: 5}


def test_adds_to_pending_without_touching_sent(post, site):
    HitCounter.objects.create(site=site, pkid=9, pending=10, sent=1000)
    post("hits", {"key": site.public_key, "pkid": 9, "count": 4})
    hitbuffer.buffer.flush()
    counter = HitCounter.objects.get(site=site, pkid=9)
    assert (counter.pending, counter.sent) == (14, 1000)


def test_text_plain_beacon_is_accepted(post, site):
    body = json.dumps({"key": site.public_key, "pkid": 5, "count": 2})
    r = post("hits", raw=body, content_type="text/plain;charset=UTF-8")
    assert (r.status_code, r.json()) == (202, {"accepted": 2})
    assert pending(site) == {5: 2}


def test_other_types_are_415(post, site):
    r = post("hits", raw=f"key={site.public_key}&pkid=5", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415
    assert pending(site) == {}


def test_malformed_beacon_is_400(post):
    assert post("hits", raw="pkid=5", content_type="text/plain").status_code == 400


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "pkid"),
        ({"pkid": 0}, "pkid"),
        ({"pkid": -3}, "pkid"),
        ({"pkid": 2**31}, "pkid"),
        ({"pkid": "abc"}, "pkid"),
        ({"pkid": 1, "count": 0}, "count"),
        ({"pkid": 1, "count": 101}, "count"),
        ({"hits": []}, "hits"),
        ({"hits": "1,2"}, "hits"),
        ({"hits": [{"pkid": 1}] * 51}, "hits"),
        ({"hits": [{"pkid": 1, "count": 101}]}, "hits"),
        ({"hits": [{"count": 1}]}, "hits"),
        ({"pkid": 1, "hits": [{"pkid": 2}]}, "hits"),
    ],
)
def test_field_errors(post, site, data, field):
    r = post("hits", {"key": site.public_key, **data})
    assert r.status_code == 400
    assert list(r.json()) == [field]
    assert pending(site) == {}


def test_fifty_items_and_int32_max_are_accepted(post, site):
    r = post("hits", {"key": site.public_key, "hits": [{"pkid": 2**31 - 1, "count": 100}] * 50})
    assert (r.status_code, r.json()) == (202, {"accepted": 5000})
    assert pending(site) == {2**31 - 1: 5000}


def test_hits_disabled_unknown_key_and_bad_origin(post, site):
    assert post("hits", {"key": "pk_nope", "pkid": 1}).status_code == 403
    assert post("hits", {"key": site.public_key, "pkid": 1}, origin="https://evil.example").status_code == 403
    site.features = {"hits": False}
    site.save()
    r = post("hits", {"key": site.public_key, "pkid": 1})
    assert (r.status_code, r.json()) == (403, {"detail": "Unknown or disabled key."})
    assert pending(site) == {}


def test_losing_the_create_race_adds_to_the_winners_row(site, monkeypatch):
    # A rival request creates the (site, pkid) row between our UPDATE (0 rows) and our INSERT.
    real_update = QuerySet.update
    rivals = []

    def update_then_rival_inserts(self, **kwargs):
        changed = real_update(self, **kwargs)
        if self.model is HitCounter and not rivals:
            rivals.append(HitCounter.objects.create(site=site, pkid=3, pending=10))
        return changed

    monkeypatch.setattr(QuerySet, "update", update_then_rival_inserts)
    with bridge(HIT_BUFFER_SECONDS=0):  # the in-line write, as the buffer's flush makes it
        answer = store.add_hits(site, {3: 4})
    assert answer.body == {"accepted": 4}
    assert len(rivals) == 1
    assert pending(site) == {3: 14}


def test_an_integrity_error_not_about_the_counter_propagates(site, monkeypatch):
    def broken(**kwargs):
        raise IntegrityError("something else")

    monkeypatch.setattr(HitCounter.objects, "create", broken)
    monkeypatch.setattr(HitCounter.objects, "filter", lambda **kw: type("Q", (), {"update": lambda self, **k: 0})())
    with pytest.raises(IntegrityError), bridge(HIT_BUFFER_SECONDS=0):
        store.add_hits(site, {3: 4})
