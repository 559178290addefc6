"""What a web process killed outright (SIGKILL) loses of the page views it answered (docs/widget-api.md, "Hits";
the figure is in docs/benchmarks.md, "Page views lost to a SIGKILL").

The real site under gunicorn (one sync worker, started as bench/real.py starts it: bench/server.py), on SQLite
under a folder of the test's own. One client sends beacons one after another, each for a pkid of its own (1, 2,
3, …), so the counters show exactly which views were written; while it is sending, it SIGKILLs the worker between
two answers (no request in flight). Then:

* in-process buffer (the embedded default): every counter written is exactly 1 (nothing counted twice) and the
  written pkids are exactly 1…k (every view answered before the last completed write is in it: the loss is the
  views answered after it, as docs/widget-api.md states); the loss and its age are printed;
* Redis as the cache (a private redis-server): nothing is lost — the next fold, by the worker gunicorn starts
  in the killed one's place, writes every view.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench import server as bench_server
from tests.api.test_cache_down import RedisServer, _free_port

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "https://shop.example.com"
WARM_UP = 2**31 - 1  # the pkid of the beacons that wait for the server
HIT_BUFFER_SECONDS = 1.0  # the default, set explicitly so the bound printed below is the one in force

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc"),
]


def wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def site_env(var: Path, cache_url: str | None) -> dict[str, str]:
    env = bench_server.site_env(
        "kill-test",
        var=var,
        crm_url="http://127.0.0.1:9/WebApi/Handler/1.0/CRM/",  # never called: nothing is delivered
        token="kill-test-token",  # no CRM ever sees it
        options={
            "HIT_BUFFER_SECONDS": HIT_BUFFER_SECONDS,
            "THROTTLE_RATES": {"ip": "100000000/min", "site": "100000000/min"},
        },
    )
    if cache_url:
        env["CACHE_URL"] = cache_url
    return env


SETUP = f"""
import django
django.setup()
from django.core.management import call_command
from crm_bridge.models import Site
call_command("migrate", verbosity=0, interactive=False)
call_command("createcachetable", verbosity=0)
print(Site.objects.create(name="Shop", site_key="kill-test-site-key", allowed_origins=[{ORIGIN!r}]).public_key)
"""


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def beacon(port: int, key: str, pkid: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"key": key, "pkid": pkid})
        conn.request("POST", "/crm/widget/v1/hits", body, {"Content-Type": "text/plain", "Origin": ORIGIN})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def counted(db: Path) -> dict[int, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return dict(conn.execute("SELECT pkid, pending FROM crm_bridge_hitcounter").fetchall())


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on PATH (Debian package redis-server)")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run(tmp_path: Path, cache_url: str | None) -> tuple[int, int, float, dict[int, int], int]:
    """Send beacons, SIGKILL the worker after ``send_for`` seconds; returns (answered, lost, age of the oldest
    lost view at the kill in seconds, the counters after the kill, the port)."""
    var = tmp_path / "var"
    var.mkdir()
    env = site_env(var, cache_url)
    key = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-c", SETUP], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()[-1]
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    gunicorn = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        bench_server.gunicorn_command(port, workers=1),
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(port, key), "gunicorn answering a beacon", timeout=90)
        (worker,) = wait_for(lambda: children(gunicorn.pid) or None, "the gunicorn worker")
        # The warm-up beacons used pkid WARM_UP; wait for its write so the run starts with the buffer empty.
        wait_for(lambda: cache_url is not None or counted(var / "db.sqlite3").get(WARM_UP), "the warm-up's write")
        answered: list[float] = []  # answer time of pkid i at index i-1
        kill_at = time.monotonic() + 3.5 * HIT_BUFFER_SECONDS  # a few flushes, then the kill mid-interval
        killed = threading.Event()
        t_kill = 0.0

        def client() -> None:
            nonlocal t_kill
            while True:
                if time.monotonic() >= kill_at:
                    t_kill = time.monotonic()
                    os.kill(worker, signal.SIGKILL)  # between two answers: no request in flight
                    killed.set()
                    return
                assert beacon(port, key, len(answered) + 1) == 202
                answered.append(time.monotonic())

        thread = threading.Thread(target=client)
        thread.start()
        thread.join(timeout=120)
        assert killed.is_set(), "the client did not finish"
        wait_for(lambda: worker not in children(gunicorn.pid), "the killed worker to be reaped")
        if cache_url is not None:
            # The counts wait in Redis for the next fold: the replacement worker folds once it takes a beacon.
            wait_for(lambda: _answers(port, key), "the replacement worker answering")
            wait_for(lambda: len(counted(var / "db.sqlite3")) > len(answered), "the next fold", timeout=60)
        counters = counted(var / "db.sqlite3")
        counters.pop(WARM_UP, None)
        n = len(answered)
        lost = n - len(counters)
        age = t_kill - answered[n - lost] if lost else 0.0
        return n, lost, age, counters, port
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        try:
            gunicorn.wait(30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
            gunicorn.wait(10)
        log.close()


def _answers(port: int, key: str) -> bool:
    try:
        return beacon(port, key, WARM_UP) == 202
    except OSError:
        return False


def test_a_killed_worker_loses_only_the_views_since_its_last_write(tmp_path, capsys):
    n, lost, age, counters, _ = run(tmp_path, None)
    k = n - lost
    assert k > 0, "no write completed before the kill: the buffer's thread never wrote"
    assert set(counters.values()) == {1}, "a view was counted more than once"
    assert set(counters) == set(range(1, k + 1)), "a view answered before the last write is missing"
    with capsys.disabled():
        print(
            f"\nin-process hit buffer, SIGKILL: {n} views answered, {lost} lost ({lost / n:.1%}), the oldest lost "
            f"answered {age:.2f} s before the kill (HIT_BUFFER_SECONDS={HIT_BUFFER_SECONDS:g}); "
            f"{n / (3.5 * HIT_BUFFER_SECONDS):.0f} views/s"
        )


@pytest.mark.redis
def test_with_redis_as_the_cache_a_killed_worker_loses_nothing(tmp_path, redis_server, capsys):
    n, lost, _, counters, _ = run(tmp_path, f"{redis_server.url}/0")
    assert lost == 0
    assert counters == dict.fromkeys(range(1, n + 1), 1)  # every view, each once
    with capsys.disabled():
        print(f"\nRedis as the cache, SIGKILL: {n} views answered, 0 lost")
