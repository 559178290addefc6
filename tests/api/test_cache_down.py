"""The widget API while Redis, as the cache or as the broker, dies and comes back: every answer is the one it
would be with Redis up (202, or 429 over budget while the throttle can count), JSON, within bounded time.

Each test runs a redis-server of its own on a free loopback port, so it can SIGKILL, SIGSTOP and restart it
without touching the shared one .ci/run provides (CRM_BRIDGE_TEST_REDIS_URL).
"""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from crm_bridge import broker
from crm_bridge.intake import cors, errors, throttling
from crm_bridge.models import Submission

from .conftest import BASE, ORIGIN, bridge

REDIS_SERVER = shutil.which("redis-server")

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.redis,
    pytest.mark.skipif(
        REDIS_SERVER is None, reason="needs redis-server on PATH (Debian package redis-server) to kill and restart"
    ),
]

NOW = 1_800_000_000 + 15  # 15 s into a minute window: Retry-After is 45
RATES = {"ip": "3/min", "site": "1000/min"}


class RedisServer:
    """A private redis-server on a loopback port: start, SIGKILL, SIGSTOP/SIGCONT, restart on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        for _ in range(5):  # a free port can be taken between our probe and redis-server's bind: pick again
            if not self.port or self.proc is None:
                self.port = _free_port()
            if self._start_once():
                return
            self.proc = None
        pytest.fail("redis-server did not start")

    def restart(self) -> None:
        """Start again on the same port (after :meth:`kill`)."""
        assert self.proc is not None and self.proc.poll() is not None
        if not self._start_once():
            pytest.fail(f"redis-server did not restart on port {self.port}")

    def _start_once(self) -> bool:
        cmd = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603 - fixed
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken
            if self.ping():
                return True
            time.sleep(0.02)  # polling for readiness, not waiting a guessed time
        self.proc.kill()
        self.proc.wait()
        return False

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16) == b"+PONG\r\n"
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, and wait until the process is gone (its port closed)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def guard_clock(monkeypatch) -> Iterator[list[float]]:
    """The cache guard's clock, moved by hand; the guard forgets any outage after each test."""
    now = [1000.0]
    monkeypatch.setattr(errors.CacheGuard, "clock", staticmethod(lambda: now[0]))
    errors.cache_guard.reset()
    yield now
    errors.cache_guard.reset()


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch) -> None:
    monkeypatch.setattr(throttling._FixedWindowThrottle, "timer", staticmethod(lambda: float(NOW)))


@pytest.fixture(autouse=True)
def _broker_not_paused(monkeypatch) -> None:
    monkeypatch.setattr(broker, "_paused_until", 0.0)


@pytest.fixture
def client() -> APIClient:
    # As seen from outside: an exception becomes the 500 page a visitor would get, not a test-side raise.
    return APIClient(raise_request_exception=False)


def redis_cache(url: str) -> override_settings:
    """The ``default`` cache on ``url``, with the timeouts config/settings.py gives a Redis cache."""
    backend = "django.core.cache.backends.redis.RedisCache"
    options = getattr(settings, "REDIS_CACHE_OPTIONS", {})
    redis = {"BACKEND": backend, "LOCATION": url, "OPTIONS": options}
    # The throttle's alias too (config/settings.py counts in local memory beside a database cache): this Redis.
    return override_settings(CACHES={"default": redis, "throttle": redis})


def is_json(response: Any) -> bool:
    return response["Content-Type"].split(";")[0] == "application/json"


def summary(responses: list[Any]) -> list[tuple[int, bool]]:
    return [(r.status_code, is_json(r)) for r in responses]


def send_round(post: Any, message: dict[str, Any], n: int) -> list[Any]:
    """``n`` messages from one address, each with an Origin, so the CORS check runs too."""
    return [post("messages", message) for _ in range(n)]


def test_every_answer_is_json_and_the_right_status_while_redis_restarts(post, client, site, message, redis_server):
    with redis_cache(redis_server.url), bridge(THROTTLE_RATES=RATES):
        up = send_round(post, message, 4)
        redis_server.kill()
        down = send_round(post, message, 4)
        redis_server.restart()
        after = send_round(post, message, 4)
    # Up: the throttle counts (3/min). Down: it fails open. Restarted (empty, and the guard still pausing):
    # every answer still a 202 or the documented 429, never a 500.
    assert summary(up) == [(202, True)] * 3 + [(429, True)]
    assert summary(down) == [(202, True)] * 4
    assert summary(after) == [(202, True)] * 4
    # CORS was granted throughout: from the cache while up, from the database while it was not.
    assert [r.get("Access-Control-Allow-Origin") for r in up + down + after] == [ORIGIN] * 12
    accepted = [r.json()["id"] for r in up + down + after if r.status_code == 202]
    assert len(accepted) == 11
    assert sorted(str(pk) for pk in Submission.objects.values_list("pk", flat=True)) == sorted(accepted)


def test_throttling_is_back_by_itself_once_redis_returns(post, client, site, message, redis_server, guard_clock):
    with redis_cache(redis_server.url), bridge(THROTTLE_RATES=RATES):
        redis_server.kill()
        down = send_round(post, message, 4)
        assert errors.cache_guard.down
        redis_server.restart()
        guard_clock[0] += errors.CacheGuard.pause  # the guard tries the cache again after its pause
        after = send_round(post, message, 4)
    assert summary(down) == [(202, True)] * 4
    assert summary(after) == [(202, True)] * 3 + [(429, True)]
    assert not errors.cache_guard.down
    assert Submission.objects.count() == 7


def test_an_outage_is_logged_once_not_once_per_request(post, client, site, message, redis_server, caplog):
    caplog.set_level(logging.INFO, logger="crm_bridge.intake")
    with redis_cache(redis_server.url), bridge(THROTTLE_RATES=RATES):
        redis_server.kill()
        send_round(post, message, 5)
        redis_server.restart()
        send_round(post, message, 1)
    records = [r for r in caplog.records if r.name == "crm_bridge.intake"]
    assert [r.levelname for r in records] == ["WARNING"]  # five requests in the pause: one line, no traceback
    assert "cache unreachable" in records[0].getMessage()
    assert records[0].exc_info is None


def test_the_guard_warns_again_only_after_log_every_and_says_when_it_is_back(guard_clock, caplog):
    caplog.set_level(logging.INFO, logger="crm_bridge.intake")
    guard = errors.CacheGuard()

    def boom() -> int:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    calls = []
    for _ in range(3):  # each after the pause, so each really tries the cache
        calls.append(guard.call("throttling", boom, default=0))
        guard_clock[0] += guard.pause
    guard_clock[0] += guard.log_every
    calls.append(guard.call("throttling", boom, default=0))
    guard_clock[0] += guard.pause
    calls.append(guard.call("throttling", lambda: 7, default=0))
    # Flapping: down again at once, and back: within log_every of the last warning, so nothing is logged.
    calls.append(guard.call("throttling", boom, default=0))
    guard_clock[0] += guard.pause
    calls.append(guard.call("throttling", lambda: 8, default=0))
    assert calls == [0, 0, 0, 0, 7, 0, 8]
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in lines] == ["WARNING", "WARNING", "INFO"]
    assert "1 failed call(s)" in lines[0][1]
    assert "3 failed call(s)" in lines[1][1]  # the two quiet ones and this one
    assert "reachable again" in lines[2][1]
    assert guard.failed_calls == 5


def test_a_hung_redis_costs_one_timeout_per_pause_not_one_per_request(post, client, site, message, redis_server):
    # SIGSTOP: the kernel still accepts connections, nobody answers: only the client's timeouts end a call.
    options = getattr(settings, "REDIS_CACHE_OPTIONS", {})
    assert options.get("socket_timeout") and options.get("socket_connect_timeout")  # config/settings.py's bound
    bound = float(options["socket_timeout"]) + float(options["socket_connect_timeout"])
    with redis_cache(redis_server.url), bridge(THROTTLE_RATES=RATES):
        assert post("messages", message).status_code == 202  # connected while up
        assert broker.publisher.join()
        redis_server.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            first = post("messages", message)
            first_took = time.monotonic() - started
            rest = send_round(post, message, 5)
        finally:
            redis_server.proc.send_signal(signal.SIGCONT)
    assert summary([first, *rest]) == [(202, True)] * 6
    assert first_took < bound + 10  # one timeout (plus a busy machine's slack), not a hang
    # Only the first call waited; the guard then left Redis alone (its pause) for the other five requests.
    assert errors.cache_guard.failed_calls == 1


def test_saving_a_site_while_the_cache_is_down_succeeds(site, redis_server):
    with redis_cache(redis_server.url):
        redis_server.kill()
        site.allowed_origins = [ORIGIN, "https://other.example.com"]
        site.save()  # post_save drops the cached allow-list: with no cache, nothing to drop
        assert cors.allowed_origins() == frozenset({ORIGIN, "https://other.example.com"})
    site.refresh_from_db()
    assert site.allowed_origins == [ORIGIN, "https://other.example.com"]


# --- Redis as the broker -----------------------------------------------------------------------------------


@pytest.fixture
def redis_broker(monkeypatch, redis_server) -> Celery:
    """A Celery app publishing to our Redis, with the broker options config/settings.py gives Redis."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to the app's own broker URL
    app = Celery("test_cache_down", broker=redis_server.url + "/0", set_as_current=False)
    app.conf.update(
        broker_transport_options=getattr(settings, "REDIS_BROKER_TRANSPORT_OPTIONS", {}),
        broker_connection_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        task_ignore_result=True,
    )
    monkeypatch.setattr(broker, "current_app", app)
    yield app
    app.close()


def queued(redis_server: RedisServer) -> int:
    """How many messages wait in the ``celery`` queue of our Redis."""
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=5) as sock:
        sock.sendall(b"LLEN celery\r\n")
        reply = sock.recv(64)
    assert reply.startswith(b":"), reply
    return int(reply[1:].strip())


@pytest.mark.django_db(transaction=True)  # on_commit runs: the hand-off to the broker is what is tested
def test_intake_answers_202_in_bounded_time_while_the_redis_broker_is_down(
    post, client, site, message, redis_server, redis_broker
):
    with bridge(THROTTLE_RATES={"ip": None, "site": None}):
        up = [post("messages", message)]
        assert broker.publisher.join()  # the hand-off runs after the answer, on the publisher thread
        assert queued(redis_server) == 1  # the hand-off really goes through this Redis
        redis_server.kill()
        started = time.monotonic()
        down = [post("messages", message) for _ in range(4)]
        assert broker.publisher.join()
        took = time.monotonic() - started
    assert summary(up + down) == [(202, True)] * 5
    assert Submission.objects.count() == 5  # all stored: the sweep delivers what was not handed off
    # A refused connection fails at once; the broker's pause then skips the broker: far below one timeout each.
    assert took < float(settings.CELERY_BROKER_CONNECTION_TIMEOUT) + 10


def test_a_widget_read_is_json_while_redis_restarts(client, site, redis_server):
    with redis_cache(redis_server.url), bridge(THROTTLE_RATES=RATES):
        redis_server.kill()
        r = client.get(BASE + "config", {"key": site.public_key}, HTTP_ORIGIN=ORIGIN)
        s = client.get(BASE + "schema")
    assert (r.status_code, is_json(r), r["Access-Control-Allow-Origin"]) == (200, True, ORIGIN)
    assert s.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_hung_redis_broker_costs_one_timeout_then_the_broker_is_skipped(
    post, client, site, message, redis_server, redis_broker, caplog
):
    # SIGSTOP: connections are accepted and writes buffered, no reply ever comes: only socket_timeout ends it.
    timeout = float(settings.REDIS_BROKER_TRANSPORT_OPTIONS["socket_timeout"])
    with bridge(THROTTLE_RATES={"ip": None, "site": None}):
        assert post("messages", message).status_code == 202  # connected while up
        assert broker.publisher.join()
        redis_server.proc.send_signal(signal.SIGSTOP)
        try:
            took = []
            for _ in range(4):
                started = time.monotonic()
                r = post("messages", message)
                took.append(time.monotonic() - started)
                assert (r.status_code, is_json(r)) == (202, True)
            assert broker.publisher.join()  # the hung publish waits on the publisher thread, not the request
        finally:
            redis_server.proc.send_signal(signal.SIGCONT)
    assert Submission.objects.count() == 5
    assert took[0] < timeout + 10  # one read timeout (plus a busy machine's slack), not a hang
    assert caplog.text.count("could not enqueue delivery") == 1  # the first; the broker's pause skips the rest
