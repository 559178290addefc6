"""Rate limits per client IP (trusting exactly NUM_PROXIES proxies) and per site."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings
from rest_framework.test import APIClient, APIRequestFactory

from crm_bridge.intake import errors, hitbuffer, throttling
from crm_bridge.models import HitCounter, Submission

from .conftest import BASE, ORIGIN, bridge, enqueued_ids

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000 + 15  # 15 s into a minute window: Retry-After is 45


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    now = [float(NOW)]
    monkeypatch.setattr(throttling._FixedWindowThrottle, "timer", staticmethod(lambda: now[0]))
    return now


@pytest.fixture(autouse=True)
def guard_clock(monkeypatch):
    """The cache guard's clock, moved by hand; no outage leaks into or out of a test."""
    now = [1000.0]
    monkeypatch.setattr(errors.CacheGuard, "clock", staticmethod(lambda: now[0]))
    errors.cache_guard.reset()
    yield now
    errors.cache_guard.reset()


def unreachable_cache():
    """The ``default`` cache on a loopback port where nothing listens: every call is refused at once."""
    pytest.importorskip("redis", reason="the unreachable cache is a Redis cache client (pip install redis)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends
    backend = "django.core.cache.backends.redis.RedisCache"
    unreachable = {"BACKEND": backend, "LOCATION": f"redis://127.0.0.1:{port}"}
    return override_settings(CACHES={"default": unreachable, "throttle": unreachable})  # the throttle's alias too


def test_an_unreachable_cache_fails_open_then_counts_again_by_itself(message, site, guard_clock):
    client = APIClient(raise_request_exception=False)  # as seen from outside: a 500 page, not a test-side raise

    def post():
        return client.post(BASE + "messages", message, format="json", HTTP_ORIGIN=ORIGIN)

    with bridge(THROTTLE_RATES={"ip": "1/min", "site": "1/min"}):
        with unreachable_cache():
            down = [post() for _ in range(3)]
        guard_clock[0] += errors.CacheGuard.pause  # the cache is back (the test's own); the guard tries it again
        back = [post() for _ in range(2)]
    assert [(r.status_code, r["Content-Type"]) for r in down] == [(202, "application/json")] * 3
    assert [r.status_code for r in back] == [202, 429]
    # Down, the site limit did not hold anything as spam either: it fails open like the IP limit.
    assert list(Submission.objects.values_list("status", flat=True)) == ["queued"] * 4


def test_per_ip_limit_answers_429_with_retry_after(post, message):
    with bridge(THROTTLE_RATES={"ip": "3/min", "site": "1000/min"}):
        codes = [post("messages", message).status_code for _ in range(3)]
        r = post("messages", message)
    assert codes == [202, 202, 202]
    assert r.status_code == 429
    assert r["Retry-After"] == "45"
    assert "throttled" in r.json()["detail"].lower()
    assert Submission.objects.count() == 3


def test_the_limit_resets_with_the_window(post, message, clock):
    with bridge(THROTTLE_RATES={"ip": "1/min", "site": "1000/min"}):
        assert post("messages", message).status_code == 202
        assert post("messages", message).status_code == 429
        clock[0] += 45
        assert post("messages", message).status_code == 202


def test_the_ip_limit_applies_before_anything_else(post):
    with bridge(THROTTLE_RATES={"ip": "1/min", "site": "1000/min"}):
        post("messages", raw="not json")
        r = post("messages", raw="not json", content_type="text/html")
    assert r.status_code == 429


def test_endpoint_groups_have_separate_budgets(post, message, client, site):
    with bridge(THROTTLE_RATES={"ip": "1/min", "site": "1000/min"}):
        assert post("messages", message).status_code == 202
        assert post("leads", {**message, "name": "x", "tel": "13800138000"}).status_code == 429  # same group
        assert post("hits", {"key": site.public_key, "pkid": 1}).status_code == 202
        assert post("hits", {"key": site.public_key, "pkid": 1}).status_code == 429
        assert client.get(BASE + "config", {"key": site.public_key}).status_code == 200
        assert client.get(BASE + "config", {"key": site.public_key}).status_code == 429


def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(post, message):
    with bridge(THROTTLE_RATES={"ip": "2/min", "site": "1000/min"}, NUM_PROXIES=0):
        codes = [
            post("messages", message, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
            for i in range(3)
        ]
    assert codes == [202, 202, 429]


def test_with_one_proxy_the_last_forwarded_address_is_the_client(post, message):
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    with bridge(THROTTLE_RATES={"ip": "1/min", "site": "1000/min"}, NUM_PROXIES=1):
        # Two visitors behind the same proxy have their own budgets ...
        assert post("messages", message, HTTP_X_FORWARDED_FOR="198.51.100.1", **proxy).status_code == 202
        assert post("messages", message, HTTP_X_FORWARDED_FOR="198.51.100.2", **proxy).status_code == 202
        # ... and what a client prepends to the header does not buy a new one.
        r = post("messages", message, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1", **proxy)
        assert r.status_code == 429


def test_site_limit_holds_messages_and_leads_as_spam(post, message, lead, django_capture_on_commit_callbacks):
    with bridge(THROTTLE_RATES={"ip": "1000/min", "site": "2/min"}), django_capture_on_commit_callbacks() as callbacks:
        answers = [post("messages", message, REMOTE_ADDR=f"198.51.100.{i}") for i in range(2)] + [
            post("leads", lead, REMOTE_ADDR="198.51.100.77"),
            post("messages", message, REMOTE_ADDR="::1"),
        ]
    assert [r.status_code for r in answers] == [202, 202, 202, 202]
    rows = {str(s.id): s for s in Submission.objects.all()}
    statuses = [(rows[r.json()["id"]].status, rows[r.json()["id"]].spam_reason) for r in answers]
    assert statuses == [("queued", ""), ("queued", ""), ("spam", "site_rate"), ("spam", "site_rate")]
    # Only the two queued rows spend a CRM call.
    assert sorted(enqueued_ids(callbacks)) == sorted(r.json()["id"] for r in answers[:2])


def test_site_limit_refuses_hits_with_429(post, site):
    with bridge(THROTTLE_RATES={"ip": "1000/min", "site": "2/min"}):
        codes = [post("hits", {"key": site.public_key, "pkid": 1}, REMOTE_ADDR=f"198.51.100.{i}") for i in range(3)]
    assert [r.status_code for r in codes] == [202, 202, 429]
    assert codes[2]["Retry-After"] == "45"
    hitbuffer.buffer.flush()
    assert HitCounter.objects.get(site=site, pkid=1).pending == 2


def test_site_limits_are_per_site(post, message, site):
    from crm_bridge.models import Site

    other = Site.objects.create(name="Other", site_key="k", allowed_origins=[ORIGIN])
    with bridge(THROTTLE_RATES={"ip": "1000/min", "site": "1/min"}):
        post("messages", message)
        post("messages", {**message, "key": other.public_key, "version": other.privacy_version})
    assert sorted(Submission.objects.values_list("status", flat=True)) == ["queued", "queued"]


class TestClientIP:
    factory = APIRequestFactory()

    def ip(self, num_proxies, remote="203.0.113.5", xff=None):
        extra = {"REMOTE_ADDR": remote}
        if xff is not None:
            extra["HTTP_X_FORWARDED_FOR"] = xff
        with bridge(NUM_PROXIES=num_proxies):
            return throttling.client_ip(self.factory.get("/", **extra))

    def test_remote_addr_without_proxies(self):
        assert self.ip(0, xff="1.1.1.1") == "203.0.113.5"

    def test_nth_from_the_right_with_proxies(self):
        assert self.ip(1, xff="9.9.9.9, 1.1.1.1") == "1.1.1.1"
        assert self.ip(2, xff="9.9.9.9, 1.1.1.1, 10.0.0.2") == "1.1.1.1"
        assert self.ip(3, xff="1.1.1.1") == "1.1.1.1"  # fewer entries than proxies: the leftmost
        assert self.ip(1) == "203.0.113.5"  # no header: the peer

    def test_ipv6_is_bucketed_by_64(self):
        assert self.ip(0, remote="2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
        assert self.ip(0, remote="2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
        assert self.ip(0, remote="::ffff:198.51.100.4") == "198.51.100.4"

    def test_garbage_is_still_a_bucket(self):
        assert self.ip(1, xff="not-an-ip") == "not-an-ip"


def test_parse_rate():
    assert throttling.parse_rate("30/min") == (30, 60)
    assert throttling.parse_rate("5/s") == (5, 1)
    assert throttling.parse_rate("100/day") == (100, 86400)
    assert throttling.parse_rate(None) is None
    with pytest.raises(ValueError):
        throttling.parse_rate("lots")
