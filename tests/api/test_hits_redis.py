"""Page views counted in Redis when Redis is the cache (crm_bridge/intake/hitbuffer.py, docs/widget-api.md "Hits"):
one atomic increment per beacon, folded into the counters exactly once whatever fails between Redis and the
commit; Redis unreachable falls back to the process's memory buffer.

On a real Redis: CRM_BRIDGE_TEST_REDIS_URL (.ci/run sets it; a ``/<db>`` on it picks the database, else 1), or
CACHE_URL when it names Redis. Each test's keys live under a prefix of their own, so runs sharing a Redis never
see each other's counts (and nothing here flushes a database).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import override_settings

from crm_bridge.intake import errors, hitbuffer, store
from crm_bridge.models import HitCounter, HitFold

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def _redis_url() -> str | None:
    url = os.environ.get("CRM_BRIDGE_TEST_REDIS_URL", "")
    if url:
        return url if url.rstrip("/").count("/") > 2 else url.rstrip("/") + "/1"
    url = os.environ.get("CACHE_URL", "")
    return url if url.startswith(("redis://", "rediss://")) else None


REDIS_URL = _redis_url()

if REDIS_URL is None:
    pytestmark.append(pytest.mark.skip(reason="needs a Redis: set CRM_BRIDGE_TEST_REDIS_URL (.ci/run does)"))


def redis_cache(url: str, prefix: str) -> dict[str, Any]:
    options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix,
            "OPTIONS": options}  # fmt: skip


@pytest.fixture
def redis() -> Iterator[Any]:
    """Redis as the default cache, under a fresh key prefix; yields the raw client."""
    assert REDIS_URL is not None
    errors.cache_guard.reset()
    with override_settings(CACHES={**settings.CACHES, "default": redis_cache(REDIS_URL, f"t-{uuid.uuid4().hex}")}):
        client = hitbuffer.redis_hits.client()
        assert client is not None
        yield client
        hitbuffer.redis_hits.discard()
    errors.cache_guard.reset()


def counters(site) -> dict[int, int]:
    return dict(HitCounter.objects.filter(site=site).values_list("pkid", "pending"))


def in_redis(client) -> dict[str, int]:
    """Every (site:pkid → views) not folded yet: the live hash plus any listed fold keys."""
    live, folds = hitbuffer.redis_hits.keys()
    total: dict[str, int] = {}
    for key in [live, *(k.decode() for k in client.smembers(folds))]:
        for field, value in client.hgetall(key).items():
            total[field.decode()] = total.get(field.decode(), 0) + int(value)
    return total


def test_beacons_are_counted_in_redis_not_in_memory_nor_the_database(post, site, redis):
    for _ in range(7):
        assert post("hits", {"key": site.public_key, "pkid": 42}).status_code == 202
    r = post("hits", {"key": site.public_key, "hits": [{"pkid": 42, "count": 3}, {"pkid": 7, "count": 5}]})
    assert (r.status_code, r.json()) == (202, {"accepted": 8})
    assert in_redis(redis) == {f"{site.pk}:42": 10, f"{site.pk}:7": 5}
    assert counters(site) == {}
    assert hitbuffer.buffer.pending() == 15  # all of it in Redis: this process holds nothing
    assert hitbuffer.buffer.flush() == 15
    assert counters(site) == {42: 10, 7: 5}
    assert in_redis(redis) == {}
    assert HitFold.objects.count() == 1  # one fold, recorded with its counts
    assert hitbuffer.buffer.flush() == 0  # nothing folded twice
    assert counters(site) == {42: 10, 7: 5}


def test_beacons_during_a_fold_go_to_the_next_one(post, site, redis, monkeypatch):
    post("hits", {"key": site.public_key, "pkid": 1, "count": 4})
    real_write = hitbuffer._write

    def write_while_a_beacon_arrives(taken, fold_token=None):
        # The hash was renamed before this write: a beacon now starts a fresh one.
        assert post("hits", {"key": site.public_key, "pkid": 1, "count": 6}).status_code == 202
        return real_write(taken, fold_token)

    monkeypatch.setattr(hitbuffer, "_write", write_while_a_beacon_arrives)
    assert hitbuffer.buffer.flush() == 4
    monkeypatch.setattr(hitbuffer, "_write", real_write)
    assert counters(site) == {1: 4}
    assert in_redis(redis) == {f"{site.pk}:1": 6}
    assert hitbuffer.buffer.flush() == 6
    assert counters(site) == {1: 10}


def test_a_failed_database_write_keeps_the_fold_for_the_next_one(post, site, redis, monkeypatch):
    post("hits", {"key": site.public_key, "pkid": 3, "count": 9})

    def database_down(*args, **kwargs):
        raise OperationalError("database is down")

    monkeypatch.setattr(store, "bump_counters", database_down)
    with pytest.raises(OperationalError):
        hitbuffer.buffer.flush()
    monkeypatch.undo()
    assert counters(site) == {}
    assert HitFold.objects.count() == 0  # rolled back with the counts
    assert in_redis(redis) == {f"{site.pk}:3": 9}  # still listed under its fold key
    post("hits", {"key": site.public_key, "pkid": 3, "count": 1})  # a fresh hash beside the leftover
    assert hitbuffer.buffer.flush() == 10
    assert counters(site) == {3: 10}
    assert in_redis(redis) == {}


def test_a_fold_that_died_after_its_commit_is_not_counted_again(post, site, redis, monkeypatch):
    post("hits", {"key": site.public_key, "pkid": 5, "count": 11})

    def died(*args, **kwargs):  # the commit happened; the delete of the fold key never does
        raise ConnectionError("process gone")

    monkeypatch.setattr(hitbuffer.RedisHits, "_forget", staticmethod(died))
    assert hitbuffer.buffer.flush() == 11
    monkeypatch.undo()
    errors.cache_guard.reset()  # the failed delete paused Redis for this process; a restarted one would not be
    assert counters(site) == {5: 11}
    assert in_redis(redis) == {f"{site.pk}:5": 11}  # the key is still listed, with its committed token
    assert hitbuffer.buffer.flush() == 0  # the token's row says it was folded: deleted, not added again
    assert counters(site) == {5: 11}
    assert in_redis(redis) == {}


def test_a_fold_that_died_before_its_write_is_picked_up(post, site, redis):
    post("hits", {"key": site.public_key, "pkid": 8, "count": 2})
    live, folds = hitbuffer.redis_hits.keys()
    # A fold renamed the hash to its own key, then its process was killed before writing anything.
    assert redis.eval(hitbuffer._TAKE, 3, live, f"{live}:fold:0-dead", folds) == 1
    post("hits", {"key": site.public_key, "pkid": 8, "count": 3})
    assert hitbuffer.buffer.flush() == 5
    assert counters(site) == {8: 5}
    assert in_redis(redis) == {}


def test_two_folds_of_one_key_count_it_once(post, site, redis):
    post("hits", {"key": site.public_key, "pkid": 6, "count": 13})
    live, folds = hitbuffer.redis_hits.keys()
    key = f"{live}:fold:1-rival"
    redis.eval(hitbuffer._TAKE, 3, live, key, folds)
    raw = redis.hgetall(key)
    # Two processes listed and read the same leftover key; each writes it.
    assert hitbuffer.redis_hits._fold_one(key, raw, [key]) == 13
    assert hitbuffer.redis_hits._fold_one(key, raw, [key]) == 0  # the token's unique row stops the second
    assert counters(site) == {6: 13}


def test_old_fold_records_are_pruned_once_their_key_is_gone(post, site, redis):
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - hitbuffer.FOLD_RECORD_KEEP - timedelta(minutes=1)
    HitFold.objects.create(token="0-gone", created_at=old)
    HitFold.objects.create(token="0-listed", created_at=old)
    live, folds = hitbuffer.redis_hits.keys()
    redis.sadd(folds, f"{live}:fold:0-listed")  # still listed: its record must stay
    post("hits", {"key": site.public_key, "pkid": 2})
    assert hitbuffer.buffer.flush() == 1
    assert set(HitFold.objects.values_list("token", flat=True)) - {"0-gone", "0-listed"} != set()
    assert not HitFold.objects.filter(token="0-gone").exists()
    assert HitFold.objects.filter(token="0-listed").exists()


def test_redis_unreachable_falls_back_to_memory(post, site, caplog):
    errors.cache_guard.reset()
    with override_settings(CACHES={**settings.CACHES, "default": redis_cache("redis://127.0.0.1:9/0", "down")}):
        for _ in range(3):
            r = post("hits", {"key": site.public_key, "pkid": 4, "count": 2})
            assert (r.status_code, r.json()) == (202, {"accepted": 2})
        assert hitbuffer.buffer.pending() == 6  # in this process's memory (Redis's share: 0, unreachable)
        assert hitbuffer.buffer.flush() == 6
        assert counters(site) == {4: 6}
    assert errors.cache_guard.failed_calls >= 1
    assert "cache unreachable" in caplog.text
    errors.cache_guard.reset()
