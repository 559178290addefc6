"""``python -m bench.real`` (``make bench``): the real-server benchmark of issue 9.

The real site (``config.wsgi``) under gunicorn, 2 sync workers, on 127.0.0.1 and a free port, with the floor view
of :mod:`bench.floor` mounted beside it (``bench/settings.py``); load from a separate process
(:mod:`bench.load`); real Celery worker processes; the sandbox CRM (``manage.py crm_sandbox``) as its own
process with its own SQLite file, standing in for the remote CRM. Everything runs in a temporary folder (database,
broker folders, logs) that is removed at the end; the demo's ``var/`` is never touched.

Every figure is a candidate divided by its floor, measured in the same run, interleaved round by round (ABBA
order, so a drift of the machine's load favours neither), medians over the rounds:

* ``intake_vs_insert`` / ``_c32`` — lead POSTs per second vs. the floor view's, at concurrency 8 and 32;
  ``intake_p99_vs_insert_c32`` — their p99 latencies at 32.
* ``hit_vs_insert`` — one-pkid beacons (``text/plain``, as ``sendBeacon`` sends them) vs. the floor.
* ``drain_vs_floor`` — leads queued while no worker runs, then drained by one Celery worker with 2 prefork
  processes (and beat) to the sandbox, vs. a bare ``requests`` loop making the same three CRM calls per lead
  (NameIsRepeat, TelIsRepeat, Customer/Save) with the same concurrency. Rate: delivered rows over the time from
  the first attempt's start to the last row's finish (database timestamps: worker start-up is not counted).
* ``intake_p99_down_vs_up`` — lead p99 at concurrency 8 with workers running and the sandbox stopped vs. running.
* ``widget_gzip_bytes`` — ``gzip -9`` of the built widget, as tests/widget/test_build.py measures it.
* ``widget_ready_ms_delta`` — headless Chromium (:mod:`bench.browser`): navigation start to ``crm:ready`` (the
  launcher is interactive) on a host page with the script tag, minus navigation start to the load event of the
  same page without it; medians.

The per-IP and per-site rate limits are raised so that one loopback client is not refused (the throttles still
count every request: their cost is measured) and the CRM call ceiling is lifted (``CALLS_PER_SECOND``). On
SQLite with the filesystem broker by default; on PostgreSQL + Redis (cache and broker) when
``CRM_BRIDGE_TEST_POSTGRES_URL`` and ``CRM_BRIDGE_TEST_REDIS_URL`` are set (database ``crm_bridge_bench``,
Redis databases 12 and 13, all created or emptied here). ``CONN_MAX_AGE`` is whatever the environment says, as
``config/settings.py`` reads it.

Prints a table, then one ``name=value`` line per figure. Exits 0 whatever the ratios (no pass/fail on timings:
the machine is shared); exits 1 only when a measurement is invalid (an answer other than the expected status,
a process that did not start), because a ratio over failed requests would be a lie.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import server

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
WIDGET_JS = ROOT / "crm_bridge" / "static" / "crm_bridge" / "widget.js"
ORIGIN = "https://bench.example"
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 (not a secret:) the sandbox's default credentials (config/settings.py CRM_SANDBOX)
SANDBOX_SITE_KEY = "sandbox-site-key"
PG_DATABASE = "crm_bridge_bench"
REDIS_BROKER_DB, REDIS_CACHE_DB = 12, 13
SETTINGS = "bench.settings"


@dataclass(frozen=True)
class Mode:
    name: str
    rounds: int
    seconds: float  # per load measurement
    max_requests: int  # per load measurement
    drain_leads: int
    drain_leads_servers: int  # on PostgreSQL + Redis, where the drain is faster
    drain_seconds: float
    browser_loads: int  # 0: no browser figure


MODES = {
    "full": Mode("full", rounds=4, seconds=5.0, max_requests=10_000, drain_leads=300, drain_leads_servers=1000,
                 drain_seconds=60.0,
                 browser_loads=20),
    "quick": Mode("quick", rounds=2, seconds=3.0, max_requests=6_000, drain_leads=60, drain_leads_servers=200,
                  drain_seconds=20.0,
                  browser_loads=5),
    "smoke": Mode("smoke", rounds=1, seconds=2.0, max_requests=200, drain_leads=10, drain_leads_servers=10,
                  drain_seconds=20.0,
                  browser_loads=0),
}  # fmt: skip
#: The figures, in the order printed; the smoke test checks every one is printed with a number.
FIGURES = (
    "intake_vs_insert",
    "intake_vs_insert_c32",
    "intake_p99_vs_insert_c32",
    "hit_vs_insert",
    "drain_vs_floor",
    "intake_p99_down_vs_up",
    "widget_gzip_bytes",
    "widget_ready_ms_delta",
)


#: ``--only`` names → the :class:`Run` method measuring that part, in the order a full run measures them.
PARTS = {
    "intake": "intake",
    "hits": "hits",
    "drain": "drain",
    "crm-down": "crm_down",
    "widget": "widget",
}


class BenchError(RuntimeError):
    """A measurement that cannot be trusted (wrong answers, a process that did not start)."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


# --- child processes ------------------------------------------------------------------------------------------


class Child:
    """A child process whose output goes to a log file in the run's folder (read back to wait for a line)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        tail = "\n".join(self.output().splitlines()[-30:])
        raise BenchError(f"{self.name} never became ready ({what}):\n{tail}")

    def wait_for_line(self, needle: str, timeout: float = 60.0) -> None:
        self.wait_for(lambda: needle in self.output(), repr(needle), timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (each of these shuts down warm on it), then SIGKILL past ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (our own loopback URLs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# --- the run --------------------------------------------------------------------------------------------------


@dataclass
class Figure:
    label: str
    unit: str
    candidate: float
    floor: float | None
    ratio: float
    name: str
    spread: str = ""  # the per-round ratios' range: how far one round is from another


@dataclass
class Run:
    mode: Mode
    tmp: Path
    postgres_url: str | None = None
    redis_url: str | None = None
    children: dict[str, Child] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)
    seq: int = 0
    lead_fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.drain_leads = self.mode.drain_leads_servers if self.postgres_url else self.mode.drain_leads
        self.var = self.tmp / "site"
        self.logs = self.tmp / "logs"
        self.var.mkdir()
        self.logs.mkdir()
        self.sandbox_port = free_port()
        self.site_port = free_port()
        self.host_port = free_port()
        self.run_id = f"{os.getpid()}-{int(time.time())}"
        self.load_start = os.getloadavg()[0]  # other work on the machine: the figures' noise
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}/WebApi/Handler/1.0/CRM/"
        self.site_url = f"http://127.0.0.1:{self.site_port}"

    # -- environment --

    def env(self) -> dict[str, str]:
        """The environment of every process of the site (gunicorn, Celery, this one): the site's own settings
        with the run's folder, the sandbox as the CRM, limits raised, and, for the second pass, PostgreSQL and
        Redis."""
        env = server.site_env(
            "bench",
            var=self.var,
            crm_url=self.sandbox_url,
            token=SANDBOX_TOKEN,
            options={"CALLS_PER_SECOND": 1000, "THROTTLE_RATES": {"ip": "100000000/min", "site": "100000000/min"}},
            settings=SETTINGS,
        )
        if self.postgres_url and self.redis_url:
            env["DATABASE_URL"] = pg_url_with_database(self.postgres_url, PG_DATABASE)
            env["CELERY_BROKER_URL"] = f"{self.redis_url}/{REDIS_BROKER_DB}"
            env["CACHE_URL"] = f"{self.redis_url}/{REDIS_CACHE_DB}"
        return env

    def sandbox_env(self) -> dict[str, str]:
        """The sandbox is the remote CRM: its own settings (the demo's) and its own SQLite file, whatever the
        site's database is, so its writes never compete with the site's for the same database."""
        env = server.clean_environ()
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            DEBUG="1",  # the sandbox is a development tool: config/settings.py installs it only with DEBUG on
            CRM_SANDBOX_ENABLED="1",
            CRM_BRIDGE_VAR_DIR=str(self.tmp / "sandbox"),
            CRM_BRIDGE_LOG_LEVEL="WARNING",
        )
        return env

    # -- processes --

    def start_sandbox(self) -> None:
        child = Child(
            "sandbox",
            [PY, "manage.py", "crm_sandbox", "--port", str(self.sandbox_port)],
            self.sandbox_env(),
            self.logs,
        )
        self.children["sandbox"] = child
        child.wait_for(lambda: _port_open(self.sandbox_port), f"listening on {self.sandbox_port}")

    def stop(self, name: str) -> None:
        child = self.children.pop(name, None)
        if child is not None:
            child.stop()

    def start_site(self) -> None:
        child = Child("gunicorn", server.gunicorn_command(self.site_port, workers=2), self.env(), self.logs)
        self.children["gunicorn"] = child
        child.wait_for(lambda: self.config_status() == 200, "GET widget/v1/config answering 200", timeout=90)

    def config_status(self) -> int:
        try:
            return http_get(self.config_url(), {"Origin": ORIGIN}, timeout=2)[0]
        except OSError:
            return 0

    def config_url(self) -> str:
        return f"{self.site_url}/crm/widget/v1/config?key={urllib.parse.quote(self.public_key)}"

    def start_workers(self) -> None:
        env = self.env()
        worker = Child(
            "worker",
            [PY, "-m", "celery", "-A", "config", "worker", "--pool=prefork", "--concurrency=2", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat", f"--hostname=bench-{os.getpid()}@%h"],
            env,
            self.logs,
        )  # fmt: skip
        beat = Child(
            "beat",
            [PY, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
             f"--schedule={self.var / 'celerybeat-schedule'}"],
            env,
            self.logs,
        )  # fmt: skip
        self.children["worker"], self.children["beat"] = worker, beat
        worker.wait_for_line("ready.", timeout=90)
        beat.wait_for_line("installed periodic tasks", timeout=90)

    def stop_workers(self) -> None:
        self.stop("beat")
        self.stop("worker")
        # The next start appends to the same logs: a fresh "ready." must come from the new process.
        for name in ("worker", "beat"):
            path = self.logs / f"{name}.log"
            if path.exists():
                path.rename(self.logs / f"{name}.{time.monotonic_ns()}.log")

    # -- load --

    def load(self, kind: str, concurrency: int, *, requests: int | None = None, seconds: float | None = None,
             expect: int = 202) -> dict[str, Any]:  # fmt: skip
        """One measurement by a separate load process; refuses any answer other than ``expect``."""
        n = requests or self.mode.max_requests
        args = [PY, "-m", "bench.load", "--port", str(self.site_port), "--kind", kind, "--key", self.public_key,
                "--concurrency", str(concurrency), "--requests", str(n),
                "--seconds", str(seconds or self.mode.seconds), "--start", str(self.seq), "--run", self.run_id,
                "--expect", str(expect)]  # fmt: skip
        if kind.endswith("lead") and self.lead_fields:
            args += ["--extra", json.dumps(self.lead_fields)]
        self.seq += n
        out = subprocess.run(args, cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=600)  # noqa: S603
        if out.returncode != 0:
            raise BenchError(f"load client failed: {out.stderr[-2000:]}")
        result = json.loads(out.stdout)
        if result["client_cpu_s"] > 0.8 * result["elapsed"]:
            # Then the figure measures the load client, not the site.
            log(f"warning: the load client was busy {result['client_cpu_s']:.1f} s of {result['elapsed']:.1f} s")
        wrong = {k: v for k, v in result["statuses"].items() if k != str(expect)}
        if wrong or result["ok"] == 0:
            raise BenchError(f"{kind} at c{concurrency}: answers other than {expect}: {result['statuses']}")
        return result

    def paired(self, candidate: Callable[[], dict], floor: Callable[[], dict]) -> tuple[list[dict], list[dict]]:
        """``rounds`` of candidate and floor, in ABBA order."""
        got_c: list[dict] = []
        got_f: list[dict] = []
        for r in range(self.mode.rounds):
            if r % 2 == 0:
                got_c.append(candidate())
                got_f.append(floor())
            else:
                got_f.append(floor())
                got_c.append(candidate())
        return got_c, got_f

    def add(self, name: str, label: str, unit: str, candidate: float, floor: float | None, ratio: float,
            rounds: list[float] | None = None) -> None:  # fmt: skip
        spread = f"{min(rounds):.2f}–{max(rounds):.2f}" if rounds and len(rounds) > 1 else ""
        self.figures.append(Figure(label, unit, candidate, floor, ratio, name, spread))

    # -- figures --

    def setup(self) -> None:
        if self.postgres_url:
            create_postgres_database(self.postgres_url, PG_DATABASE)
            flush_redis(self.redis_url or "", (REDIS_BROKER_DB, REDIS_CACHE_DB))
        env = self.env()
        for k in [k for k in os.environ if k.startswith(server.INHERITED_NOT) and k not in env]:
            del os.environ[k]  # this process is the site too (migrations, the drain's readings): the same settings
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        from crm_bridge.models import Site

        log("migrating the run's database")
        call_command("migrate", verbosity=0, interactive=False)
        call_command("createcachetable", verbosity=0)
        site = Site.objects.create(
            name="压测科技",
            site_key=SANDBOX_SITE_KEY,
            default_cust_id=1,
            allowed_origins=[ORIGIN, f"http://127.0.0.1:{self.host_port}"],
        )
        self.public_key = site.public_key
        close_db()
        log("starting the sandbox CRM and gunicorn")
        self.start_sandbox()
        self.start_site()
        _, body = http_get(self.config_url(), {"Origin": ORIGIN})
        self.lead_fields = consent_fields(json.loads(body))
        if self.lead_fields:
            log(f"the site requires consent for leads: sending {sorted(self.lead_fields)}")
        for kind in ("lead", "insert-lead", "hit", "insert-hit"):  # every worker imports and warms its paths
            self.load(kind, 8, requests=100, seconds=30)

    def intake(self) -> None:
        for c in (8, 32):
            log(f"intake: lead vs insert at c{c}")
            lead, floor = self.paired(lambda c=c: self.load("lead", c), lambda c=c: self.load("insert-lead", c))
            lead_rps, floor_rps = median([r["rps"] for r in lead]), median([r["rps"] for r in floor])
            suffix = "" if c == 8 else f"_c{c}"
            self.add(f"intake_vs_insert{suffix}", f"lead intake c{c}", "req/s", lead_rps, floor_rps,
                     lead_rps / floor_rps, per_round(lead, floor, "rps"))  # fmt: skip
            lead_p99, floor_p99 = median([r["p99_ms"] for r in lead]), median([r["p99_ms"] for r in floor])
            self.extra[f"intake_rps_c{c}"] = lead_rps
            self.extra[f"insert_rps_c{c}"] = floor_rps
            self.extra[f"intake_p99_ms_c{c}"] = lead_p99
            self.extra[f"insert_p99_ms_c{c}"] = floor_p99
            if c == 32:
                self.add("intake_p99_vs_insert_c32", "lead intake p99 c32", "ms", lead_p99, floor_p99,
                         lead_p99 / floor_p99, per_round(lead, floor, "p99_ms"))  # fmt: skip

    def hits(self) -> None:
        log("beacons: hit vs insert at c8")
        hit, floor = self.paired(lambda: self.load("hit", 8), lambda: self.load("insert-hit", 8))
        hit_rps, floor_rps = median([r["rps"] for r in hit]), median([r["rps"] for r in floor])
        self.add("hit_vs_insert", "one-pkid beacon c8", "req/s", hit_rps, floor_rps, hit_rps / floor_rps,
                 per_round(hit, floor, "rps"))  # fmt: skip
        self.extra["hit_rps_c8"], self.extra["hit_insert_rps_c8"] = hit_rps, floor_rps

    def clear_backlog(self) -> None:
        """Cancel every row still waiting (the earlier figures' leads) and empty the broker, so a drain sees
        only its own leads."""
        from celery import current_app

        from crm_bridge.models import Submission

        S = Submission.Status
        Submission.objects.filter(status__in=[S.QUEUED, S.SENDING]).update(
            status=S.CANCELLED, next_attempt_at=None, lease_expires_at=None
        )
        close_db()
        current_app.control.purge()

    def drain_once(self) -> float:
        from django.db.models import Count, Max, Min
        from django.utils import timezone

        from crm_bridge.models import DeliveryAttempt, Submission

        S = Submission.Status
        self.clear_backlog()
        mark = timezone.now()
        n = self.drain_leads
        self.load("lead", 8, requests=n, seconds=120)
        batch = Submission.objects.filter(created_at__gte=mark)
        queued = batch.filter(status=S.QUEUED).count()
        close_db()
        if queued != n:
            raise BenchError(f"drain: {queued} of {n} leads queued")
        self.start_workers()
        deadline = time.monotonic() + self.mode.drain_seconds
        try:
            while time.monotonic() < deadline:
                if not batch.filter(status__in=[S.QUEUED, S.SENDING]).exists():
                    break
                close_db()
                time.sleep(0.5)
            now = timezone.now()
            delivered = batch.filter(status=S.DELIVERED)
            done = delivered.count()
            first = DeliveryAttempt.objects.filter(submission__in=batch).aggregate(t=Min("started_at"))["t"]
            last = delivered.aggregate(t=Max("finished_at"))["t"] if done == n else now
            others = dict(batch.exclude(status=S.DELIVERED).values_list("status").annotate(n=Count("id")))
            close_db()
        finally:
            self.stop_workers()
        if done == 0 or first is None or last is None:
            raise BenchError(f"drain: nothing delivered in {self.mode.drain_seconds:.0f} s")
        if done < n:
            log(f"drain: {done} of {n} delivered within {self.mode.drain_seconds:.0f} s (rate over that window)")
        if others and done == n:
            log(f"drain: rows not delivered: {others}")
        return done / max((last - first).total_seconds(), 1e-3)

    def drain_floor_once(self) -> float:
        """The same three CRM calls per lead, by a bare ``requests`` loop on 2 threads (the worker's 2 slots)."""
        import requests

        n = self.drain_leads
        start = self.seq
        self.seq += n
        todo = iter(range(start, start + n))
        lock = threading.Lock()
        failures: list[str] = []
        deadline = time.monotonic() + self.mode.drain_seconds
        done = [0]

        def call(session: requests.Session, path: str, form: dict[str, str]) -> Any:
            r = session.post(
                f"{self.sandbox_url}{path}.ashx",
                data={**form, "token": SANDBOX_TOKEN, "format": "json"},
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                timeout=(2, 10),
            )
            if r.status_code != 200:
                raise BenchError(f"floor: {path} answered {r.status_code}")
            return r.json()["value"]

        def loop() -> None:
            with requests.Session() as session:
                while time.monotonic() < deadline:
                    with lock:
                        i = next(todo, None)
                    if i is None:
                        return
                    name, tel = f"底线客户{i}", f"138{i % 10**8:08d}"
                    try:
                        repeats = (call(session, "Customer/NameIsRepeat", {"sName": name, "id": "0"}),
                                   call(session, "Customer/TelIsRepeat", {"tel": tel, "id": "0"}))  # fmt: skip
                        customer = {"sName": name, "tel": tel, "remark": f"请报价，编号 {i}\n来源页面: {ORIGIN}/"}
                        saved = call(session, "Customer/Save", {"json": json.dumps(customer, ensure_ascii=False)})
                    except (requests.RequestException, BenchError, ValueError, KeyError) as err:
                        failures.append(repr(err))
                        return
                    if any(repeats) or saved is not True:
                        failures.append(f"lead {i}: repeats {repeats}, saved {saved!r}")
                        return
                    with lock:
                        done[0] += 1

        t0 = time.perf_counter()
        threads = [threading.Thread(target=loop) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if failures:
            raise BenchError(f"drain floor: {failures[:3]}")
        return done[0] / elapsed

    def drain(self) -> None:
        log(f"drain: {self.drain_leads} queued leads, 2 worker processes vs a requests loop")
        got, floor = [], []
        for r in range(self.mode.rounds):
            pair = (self.drain_once, self.drain_floor_once) if r % 2 == 0 else (self.drain_floor_once, self.drain_once)
            for fn in pair:
                (got if fn == self.drain_once else floor).append(fn())
        rate, base = median(got), median(floor)
        self.add("drain_vs_floor", f"drain {self.drain_leads} leads, 2 processes", "leads/s", rate, base,
                 rate / base, [g / f for g, f in zip(got, floor, strict=True)])  # fmt: skip
        self.extra["drain_leads_per_s"], self.extra["drain_floor_leads_per_s"] = rate, base

    def crm_down(self) -> None:
        log("intake p99 with workers running: sandbox CRM up vs down")
        self.clear_backlog()
        self.start_workers()
        try:

            def up() -> dict:
                if "sandbox" not in self.children:
                    self.start_sandbox()
                return self.load("lead", 8)

            def down() -> dict:
                self.stop("sandbox")
                return self.load("lead", 8)

            down_runs, up_runs = self.paired(down, up)  # down first: the sandbox is running now
        finally:
            self.stop_workers()
            if "sandbox" not in self.children:
                self.start_sandbox()
        p99_up, p99_down = median([r["p99_ms"] for r in up_runs]), median([r["p99_ms"] for r in down_runs])
        self.add("intake_p99_down_vs_up", "lead intake p99 c8, CRM down vs up", "ms", p99_down, p99_up,
                 p99_down / p99_up, per_round(down_runs, up_runs, "p99_ms"))  # fmt: skip
        self.extra["intake_p99_ms_crm_up"], self.extra["intake_p99_ms_crm_down"] = p99_up, p99_down

    def widget(self) -> None:
        size = len(gzip.compress(WIDGET_JS.read_bytes(), compresslevel=9, mtime=0))
        self.add("widget_gzip_bytes", "widget.js gzip -9", "bytes", size, None, size)
        if not self.mode.browser_loads:
            self.add("widget_ready_ms_delta", "widget ready − page ready", "ms", float("nan"), None, float("nan"))
            return
        log(f"browser: {self.mode.browser_loads} loads with and without the widget")
        out = subprocess.run(  # noqa: S603
            [PY, "-m", "bench.browser", "--api", self.site_url, "--key", self.public_key,
             "--port", str(self.host_port), "--loads", str(self.mode.browser_loads)],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if out.returncode != 0:
            raise BenchError(f"browser figure failed: {out.stderr[-3000:]}")
        got = json.loads(out.stdout)
        with_widget, without = median(got["widget_ms"]), median(got["page_ms"])
        # The spread: the interquartile range of each load's delta to the load without the widget next to it.
        deltas = [w - p for w, p in zip(got["widget_ms"], got["page_ms"], strict=True)]
        quart = statistics.quantiles(deltas, n=4) if len(deltas) > 1 else []
        spread = f"{quart[0]:.0f}–{quart[2]:.0f}" if quart else ""
        self.figures.append(Figure("widget ready − page ready", "ms", with_widget, without, with_widget - without,
                                   "widget_ready_ms_delta", spread))  # fmt: skip
        self.extra["widget_ready_ms"], self.extra["page_ready_ms"] = with_widget, without

    def shutdown(self) -> None:
        for name in list(self.children):
            self.stop(name)
        if self.postgres_url:
            with contextlib.suppress(Exception):
                close_db()
                drop_postgres_database(self.postgres_url, PG_DATABASE)
            with contextlib.suppress(Exception):
                flush_redis(self.redis_url or "", (REDIS_BROKER_DB, REDIS_CACHE_DB))

    # -- output --

    def describe(self) -> list[str]:
        from django.conf import settings

        db = settings.DATABASES["default"]
        broker = settings.CELERY_BROKER_URL.split("://")[0]
        cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        return [
            f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"machine: {os.cpu_count()} CPUs (nproc {nproc()}), {cpu_model()}, Python {platform.python_version()}",
            f"mode: {self.mode.name}: {self.mode.rounds} rounds (ABBA), {self.mode.seconds:g} s or "
            f"{self.mode.max_requests} requests per measurement, medians",
            f"load average (1 min) at start / end: {self.load_start:.2f} / {os.getloadavg()[0]:.2f}",
            f"site: gunicorn 2 sync workers; database {db['ENGINE'].rsplit('.', 1)[-1]} "
            f"(CONN_MAX_AGE={db.get('CONN_MAX_AGE', 0)}); cache {cache}; broker {broker}",
        ]

    def table(self) -> str:
        rows = [("figure", "candidate", "floor", "unit", "ratio", "rounds", "name")]
        for f in self.figures:
            floor = "—" if f.floor is None else fmt(f.floor)
            rows.append((f.label, fmt(f.candidate), floor, f.unit, fmt(f.ratio, 2), f.spread or "—", f.name))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
        lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
        return "\n".join(lines)

    def lines(self) -> list[str]:
        values = {f.name: f.ratio for f in self.figures}
        out = [f"{name}={fmt_value(values.get(name, float('nan')))}" for name in FIGURES]
        out += [f"{k}={fmt_value(v)}" for k, v in self.extra.items()]
        return out


# --- helpers --------------------------------------------------------------------------------------------------


def per_round(candidate: list[dict], floor: list[dict], key: str) -> list[float]:
    """Each round's candidate ÷ the same round's floor."""
    return [c[key] / f[key] for c, f in zip(candidate, floor, strict=True)]


def fmt(x: float, digits: int = 1) -> str:
    if x != x:  # NaN
        return "n/a"
    if float(x).is_integer() and abs(x) >= 100:
        return f"{int(x)}"
    return f"{x:.{digits if abs(x) < 100 else 0}f}" if digits != 2 else f"{x:.2f}"


def fmt_value(x: float) -> str:
    if x != x:
        return "nan"
    return str(int(x)) if float(x).is_integer() else f"{x:.3f}"


def consent_fields(config: dict[str, Any]) -> dict[str, Any]:
    """What a lead must add when ``widget/v1/config`` says the site requires consent for leads
    (``privacy.required.lead``): ``consent: true`` and the notice ``version`` it serves."""
    privacy = config.get("privacy")
    if not isinstance(privacy, dict):
        return {}
    required = privacy.get("required")
    if isinstance(required, dict) and required.get("lead"):
        return {"consent": True, "version": privacy.get("version", "")}
    return {}


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def close_db() -> None:
    """Close this process's connections between measurements: it must hold no SQLite lock and no idle
    PostgreSQL session while the site is measured."""
    from django.db import connections

    connections.close_all()


def nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()  # noqa: S607
    except (OSError, subprocess.CalledProcessError):
        return "?"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def pg_url_with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def _pg_admin(url: str, *statements: str) -> None:
    import psycopg

    # The maintenance database: the URL's own may not exist yet (CI creates it; a workstation may not have).
    admin = pg_url_with_database(url, "postgres").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)  # type: ignore[arg-type] (our own constant statements)


def create_postgres_database(url: str, name: str) -> None:
    _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def drop_postgres_database(url: str, name: str) -> None:
    _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str, dbs: tuple[int, ...]) -> None:
    import redis

    for db in dbs:
        client = redis.Redis.from_url(f"{url}/{db}")
        client.flushdb()
        client.close()


@contextlib.contextmanager
def run_folder(keep: bool) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="crm-bridge-bench-"))
    try:
        yield tmp
    finally:
        if keep:
            log(f"kept the run's folder: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.real", description=__doc__.split("\n\n")[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="2 rounds, short measurements, 5 browser loads (CI)")
    size.add_argument("--smoke", action="store_true", help="1 round, a few hundred requests, no browser (tests)")
    p.add_argument("--keep", action="store_true", help="keep the run's folder (database, logs) for a look")
    p.add_argument("--sqlite", action="store_true", help="SQLite even when the PostgreSQL/Redis URLs are set")
    p.add_argument("--browser-loads", type=int, help="page loads of each kind for the browser figure (0: none)")
    p.add_argument(
        "--only", choices=PARTS, action="append", help="measure only this part (repeatable; default: all; others: nan)"
    )
    args = p.parse_args(argv)
    parts = args.only or list(PARTS)
    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.browser_loads is not None:
        mode = dataclasses.replace(mode, browser_loads=args.browser_loads)
    pg = os.environ.get("CRM_BRIDGE_TEST_POSTGRES_URL")
    rd = os.environ.get("CRM_BRIDGE_TEST_REDIS_URL")
    use_servers = bool(pg and rd) and not args.sqlite
    started = time.monotonic()
    with run_folder(args.keep) as tmp:
        run = Run(mode, tmp, postgres_url=pg if use_servers else None, redis_url=rd if use_servers else None)
        try:
            run.setup()
            for part in PARTS:  # always in this order: a part's figures do not depend on which others ran
                if part in parts:
                    getattr(run, PARTS[part])()
        except BenchError as err:
            print(f"benchmark invalid: {err}", file=sys.stderr)
            print(f"logs: {run.logs}", file=sys.stderr)
            return 1
        finally:
            run.shutdown()
        print("crm_bridge real-server benchmark (issue 9): candidate ÷ floor, same run; higher req/s and lower ms are")
        print("better; ratio of ms figures is candidate ÷ floor, widget delta in ms\n")
        for line in run.describe():
            print(line)
        print(f"took: {time.monotonic() - started:.0f} s\n")
        print(run.table())
        print()
        for line in run.lines():
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
