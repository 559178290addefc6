"""``redis_restart``: the Redis that holds the broker and the cache is wiped (FLUSHALL) and then restarted
(SHUTDOWN NOSAVE, started again on the same port with the same flags) while submissions arrive and are
delivered. Intake answers 202 JSON throughout (the cache fails open, the broker hand-off is off the request
path); the sweep hands over again every row whose broker message was lost; counted in the sandbox's tables,
the same exact outcome (docs/chaos.md). Only when the environment's broker and cache are Redis; in CI that is
127.0.0.1:6390 (the PostgreSQL+Redis pass)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.delivery.processes import celery_processes

from .stack import CHAOS_OPTIONS, Posted, RedisServer, Traffic, assert_exact, drained, redis_url, tally
from .summary import report

URL = redis_url()
pytestmark = [
    pytest.mark.chaos,
    pytest.mark.worker,
    pytest.mark.redis,
    pytest.mark.timeout(420),
    pytest.mark.skipif(
        URL is None, reason="needs CELERY_BROKER_URL and CACHE_URL on one Redis server (the PostgreSQL+Redis pass)"
    ),
]

DOWN_S = 3.0  # how long Redis stays down during the restart


def test_redis_restart(intake, sandbox_process):
    assert URL is not None
    redis = RedisServer(URL)
    traffic = Traffic.build(messages=220, leads=60, name_repeats=8, phone_repeats=8, hits=104)
    total = len(traffic.messages) + len(traffic.leads) + len(traffic.hits)
    assert total == 400
    posted = Posted()
    seen: dict[str, float] = {}
    cmd = redis.start_command()

    def accepted() -> int:
        with posted.lock:
            return posted.total + len(posted.refused)

    def chaos() -> None:
        try:
            run_chaos()
        except BaseException as err:
            seen["error"] = err  # type: ignore[assignment]
            raise
        finally:
            if "back" not in seen and not redis.ping():
                redis.start(cmd)  # never leave the environment's Redis down

    def run_chaos() -> None:
        nonlocal cmd
        # FLUSHALL a third of the way through the arrivals, the restart at two thirds.
        while accepted() < total // 3:
            time.sleep(0.05)
        redis.flushall()
        seen["flushed_at"] = accepted()
        while accepted() < 2 * total // 3:
            time.sleep(0.05)
        cmd = redis.stop()
        seen["down_at"] = accepted()
        time.sleep(DOWN_S)  # the outage's length, not a wait for an outcome
        seen["up_at"] = accepted()
        redis.start(cmd)
        seen["back"] = time.monotonic()

    with celery_processes(crm_base_url=sandbox_process.base_url, options=CHAOS_OPTIONS, workers=2) as procs:
        driver = threading.Thread(target=chaos, name="redis-chaos")
        driver.start()
        # Arrivals spread over ~30 s, so intake and delivery are both busy when Redis goes.
        intake.post_all(traffic, spread_s=30.0, posted=posted)
        driver.join(120)
        assert not driver.is_alive()
        assert "error" not in seen, seen.get("error")

        def logs(names: list[str]) -> str:
            # Each process's own lines (tracebacks' indented frames and CRM call lines left out), the last few
            # thousand characters of each.
            out = []
            for name in names:
                code = procs[name].proc.poll()
                state = "running" if code is None else f"exited {code}"
                own = [line for line in procs[name].lines if not line.startswith(" ") and "CRM " not in line]
                out.append(f"{name} ({state}):\n" + "\n".join(own)[-4000:])
            return "\n\n".join(out)

        # The supervisor a deployment runs (systemd Restart=always): kombu's Redis transport can crash a worker
        # on the connection loss ("Unrecoverable error: AttributeError: 'NoneType' object has no attribute
        # 'hostname'" while restoring unacked messages, as in celery/kombu#970); such a worker is started
        # again, counted (worker_exits=) and its last lines kept for the report.
        exits: list[str] = []
        deadline = time.monotonic() + 240
        while not drained(traffic):
            for name in procs.workers:
                if procs[name].proc.poll() is not None:
                    exits.append(logs([name]))
                    procs.restart(name)
            if time.monotonic() > deadline:
                raise AssertionError(f"not drained within 240 s\n{logs(list(procs))}")
            time.sleep(0.25)
        drain_s = time.monotonic() - seen["back"]

    t = tally(traffic)
    report(
        t.summary(
            "redis_restart",
            posted.total,
            drain_s,
            refused=len(posted.refused),
            posted_while_down=int(seen["up_at"] - seen["down_at"]),
            worker_exits=len(exits),
        )
    )
    for log in exits:
        print(log)  # shown with the test's output: why a worker exited
    assert seen["up_at"] > seen["down_at"]  # requests did arrive while Redis was down
    assert_exact(t, traffic, posted)  # includes: every one of the 400 answered 202 JSON
    assert t.board_extra <= t.ambiguous
