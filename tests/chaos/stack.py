"""The chaos suite's shared parts (docs/chaos.md): the delivery options every scenario's workers run with, the one
widget client every scenario posts through (:class:`Intake`), the sandbox CRM in a process of its own that can be
stopped (connections refused) and started again on the same port, the Redis the environment points at (flushed,
restarted), mixed traffic posted through the real widget API, and the tally that counts the outcome in the
sandbox's own tables and in the outbox. kit.py and workload.py hold what only some scenarios use."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from crm_bridge import testing
from crm_bridge.conf import DEFAULTS
from crm_bridge.models import HitCounter, Site, Submission
from crm_bridge.sandbox.models import Customer, Hit, Message
from tests.delivery.processes import FAST, REPO, database_url

from .summary import Summary

S = Submission.Status

#: Seconds of each outage phase (503, then refused connections) in ``crm_outage``; 60 in CI (the issue's
#: figure), shorter while developing.
OUTAGE = float(os.environ.get("CRM_BRIDGE_CHAOS_OUTAGE_SECONDS", "60"))

#: Delivery options for the worker processes and the in-process intake of the traffic scenarios (crm_outage,
#: worker_sigkill, redis_restart). tests/delivery/processes.py's FAST (the back-off, sweep and circuit within
#: seconds), with the lease, the settle time of an ambiguous send and the hit flush compressed to seconds too, so
#: the attempt budget is raised to match: 30 attempts at a 2 s ceiling would be a minute, not the product's four
#: days. No in-line read retry: each attempt is one call.
CHAOS_OPTIONS: dict[str, Any] = {
    **FAST,
    "MAX_ATTEMPTS": 10_000,
    "LEASE_SECONDS": 5.0,
    "AMBIGUOUS_SETTLE": 2.0,
    "HIT_FLUSH_INTERVAL": 2.0,
    "READ_RETRIES": 0,
}

#: FAST with the product's own ``READ_TIMEOUT`` (10 s): the edge scenarios (slow_crm, hostile_replies,
#: alert_outage) measure delivery against the timeout a deployment has, so they leave it at its default.
EDGE_OPTIONS: dict[str, Any] = {**FAST, "READ_TIMEOUT": DEFAULTS["READ_TIMEOUT"]}

#: The intake settings the test process (the live server) serves with: no throttle (one client sends every
#: request; the throttles still count them), no minimum fill time (the client fills no form).
OPEN_INTAKE: dict[str, Any] = {"THROTTLE_RATES": {"ip": "1000000/min", "site": "1000000/min"}, "MIN_FILL_SECONDS": 0.0}

#: Where intake's widget requests come from (the ``site`` fixture's allowed origin).
ORIGIN = "https://acme.example"

PKIDS = (11, 12, 13, 14, 15)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refuses(port: int, host: str = "127.0.0.1") -> bool:
    """True if a TCP connection to ``host:port`` is refused right now."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


# --- the CRM, in its own process ---------------------------------------------------------------------------


class SandboxProcess:
    """``manage.py crm_sandbox`` on one port, on the test database. :meth:`stop` ends the process, so the port
    refuses connections (nothing listens); :meth:`start` serves again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/WebApi/Handler/1.0/CRM/"

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CRM_BRIDGE_VAR_DIR": str(settings.VAR_DIR),
            "PYTHONUNBUFFERED": "1",
        }
        self.lines = []
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "manage.py", "crm_sandbox", "--port", str(self.port), "--no-migrate"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not any(line.startswith("CRM sandbox:") for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the sandbox did not start:\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.05)

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip())

    def stop(self) -> None:
        """SIGTERM (the command's clean stop) and wait: afterwards the port refuses connections."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --- Redis, the one the environment points at --------------------------------------------------------------


def redis_url() -> str | None:
    """The Redis of the broker and the cache, if both are Redis on one server (else None)."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    cache = os.environ.get("CACHE_URL", "")
    if not (broker.startswith("redis://") and cache.startswith(("redis://", "rediscache://"))):
        return None
    a, b = urlsplit(broker), urlsplit(cache)
    if (a.hostname, a.port or 6379) != (b.hostname, b.port or 6379):
        return None
    return broker


class RedisServer:
    """The running redis-server at ``url``: FLUSHALL, and a restart — ``SHUTDOWN NOSAVE``, then the same
    executable on the same port with the same flags (read from the server before it goes)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379

    def command(self, *args: str) -> str:
        cli = shutil.which("redis-cli")
        assert cli, "redis-cli is needed (Debian package redis-server)"
        out = subprocess.run(  # noqa: S603 (a fixed tool, our arguments)
            [cli, "-h", self.host, "-p", str(self.port), *args], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip()

    def ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16) == b"+PONG\r\n"
        except OSError:
            return False

    def flushall(self) -> None:
        assert self.command("FLUSHALL") == "OK"

    def _config(self, key: str) -> str:
        lines = self.command("CONFIG", "GET", key).splitlines()
        return lines[1] if len(lines) > 1 else ""

    def start_command(self) -> list[str]:
        """How to start this server again as it runs now (executable, config file, the flags that matter)."""
        info = dict(line.split(":", 1) for line in self.command("INFO", "server").splitlines() if ":" in line)
        # INFO's executable is argv[0] joined to the server's working directory: a bare "redis-server" started
        # from elsewhere shows as <cwd>/redis-server, which does not exist. Then the one on PATH.
        executable = info.get("executable", "").strip()
        if not executable or not os.path.exists(executable):
            executable = shutil.which("redis-server") or "redis-server"
        cmd = [executable]
        if info.get("config_file", "").strip():
            cmd.append(info["config_file"].strip())
        for key in ("bind", "port", "save", "appendonly", "dir", "databases"):
            cmd += [f"--{key}", self._config(key)]
        return [*cmd, "--daemonize", "yes"]

    def stop(self) -> list[str]:
        """``SHUTDOWN NOSAVE``; returns the command that starts it again. Waits until the port refuses."""
        cmd = self.start_command()
        self.command("SHUTDOWN", "NOSAVE")
        deadline = time.monotonic() + 30
        while not refuses(self.port, self.host):
            assert time.monotonic() < deadline, "redis did not shut down"
            time.sleep(0.05)
        return cmd

    def start(self, cmd: list[str]) -> None:
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)  # noqa: S603 (its own command line)
        deadline = time.monotonic() + 30
        while not self.ping():
            assert time.monotonic() < deadline, f"redis did not come back on port {self.port}"
            time.sleep(0.05)


# --- traffic ------------------------------------------------------------------------------------------------


@dataclass
class Traffic:
    """A mixed set of submissions: messages; unique leads, plus repeats of a unique lead's name (another
    phone) and of its phone (another name), each repeat tied to one unique lead; page views over ``PKIDS``, one
    view a request. ``groups`` are the leads that are one customer in the CRM (a unique lead and its repeat)."""

    tag: str
    messages: list[str]
    leads: list[tuple[str, str]]
    groups: list[list[tuple[str, str]]]
    hits: list[int]

    @classmethod
    def build(cls, *, messages: int, leads: int, name_repeats: int, phone_repeats: int, hits: int) -> Traffic:
        tag = uuid.uuid4().hex[:4]
        rnd = random.Random(tag)
        msgs = [f"混沌留言 {tag}-{i}" for i in range(messages)]
        uniques = [(f"混沌客户{tag}{i:04d}", f"139{rnd.randrange(10**4):04d}{i:04d}") for i in range(leads)]
        groups = [[lead] for lead in uniques]
        assert name_repeats + phone_repeats <= leads
        for j in range(name_repeats):
            groups[j].append((uniques[j][0], f"137{rnd.randrange(10**4):04d}{j:04d}"))
        for j in range(name_repeats, name_repeats + phone_repeats):
            groups[j].append((f"混沌重号{tag}{j:04d}", uniques[j][1]))
        every_lead = [lead for group in groups for lead in group]
        views = [PKIDS[i % len(PKIDS)] for i in range(hits)]
        return cls(tag, msgs, every_lead, groups, views)

    @property
    def duplicates(self) -> int:
        return sum(len(g) - 1 for g in self.groups)

    def hit_totals(self) -> Counter[int]:
        return Counter(self.hits)

    def requests(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        """Every request body, shuffled, a repeat always after the lead it repeats (the order intake sees)."""
        rnd = random.Random(self.tag)
        items: list[tuple[str, dict[str, Any]]] = [("messages", {"key": key, "content": c}) for c in self.messages]
        items += [("hits", {"key": key, "pkid": p}) for p in self.hits]
        firsts = [("leads", {"key": key, "name": g[0][0], "tel": g[0][1], "company": ""}) for g in self.groups]
        items += firsts
        rnd.shuffle(items)
        for group in self.groups:
            for name, tel in group[1:]:
                after = items.index(("leads", {"key": key, "name": group[0][0], "tel": group[0][1], "company": ""}))
                items.insert(
                    rnd.randrange(after + 1, len(items) + 1),
                    ("leads", {"key": key, "name": name, "tel": tel, "company": ""}),
                )
        return items


@dataclass
class Posted:
    """What intake answered: ``accepted`` 202 JSON answers by kind, anything else in ``refused``."""

    accepted: Counter[str] = field(default_factory=Counter)
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return sum(self.accepted.values())


class Intake:
    """The chaos suite's widget client: requests to the real widget API (the live server, over HTTP) as the widget
    sends them — the site's key, the visitor's consent on messages and leads, and an ``Idempotency-Key``, a fresh
    one unless the caller gives its own (the widget sends a submission again with the same key). One keep-alive
    session per thread, so several threads may post at once. Every answer's status and wall-clock seconds are kept
    (:attr:`statuses`, :attr:`seconds`), whatever the answer.

    The consent is read once, here (the site's notice version, from the database): posting touches no database,
    so a client keeps posting while PostgreSQL is down (postgres_restart) and its threads open no connections."""

    def __init__(self, url: str, site: Site, *, timeout: float = 30) -> None:
        self.url = url
        self.site = site
        self.timeout = timeout
        self.consent = testing.consent(Site.objects.get(pk=site.pk))
        self.statuses: list[int] = []
        self.seconds: list[float] = []
        self._local = threading.local()

    def send(self, kind: str, fields: dict[str, Any], *, key: str | None = None) -> requests.Response:
        """POST one ``kind`` (``messages``, ``leads`` or ``hits``) with ``fields``; returns the answer. A request
        that gets no answer raises (``requests.RequestException``) and is not kept."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        body = {"key": self.site.public_key, **fields}
        if kind != "hits":
            body.update(self.consent)
        t0 = time.perf_counter()
        r = session.post(
            f"{self.url}/crm/widget/v1/{kind}",
            json=body,
            headers={"Origin": ORIGIN, "Idempotency-Key": key or str(uuid.uuid4())},
            timeout=self.timeout,
        )
        self.seconds.append(time.perf_counter() - t0)
        self.statuses.append(r.status_code)
        return r

    def message(self, content: str) -> int:
        """Post a message; returns the answer's status."""
        return self.send("messages", {"content": content}).status_code

    def lead(self, name: str, tel: str) -> int:
        """Post a lead; returns the answer's status."""
        # No company: the default lead mapping then makes the customer's sName the visitor's name.
        return self.send("leads", {"name": name, "tel": tel, "company": ""}).status_code

    @property
    def accepted(self) -> int:
        """How many requests intake answered ``202``."""
        return self.statuses.count(202)

    def post(self, kind: str, body: dict[str, Any], posted: Posted) -> None:
        """Send one request and record its outcome in ``posted``: a ``202`` JSON answer is accepted; any other
        answer, or none, is refused (with what came back)."""
        try:
            r = self.send(kind, body)
            ok = r.status_code == 202 and r.headers.get("Content-Type", "").startswith("application/json")
            detail = r.text[:200]
            if ok:
                r.json()
        except (requests.RequestException, ValueError) as err:
            ok, detail = False, f"{type(err).__name__}: {err}"
            r = None
        with posted.lock:
            if ok:
                posted.accepted[kind] += 1
            else:
                posted.refused.append((kind, r.status_code if r is not None else 0, detail))

    def post_all(
        self, traffic: Traffic, *, spread_s: float = 0.0, threads: int = 4, posted: Posted | None = None
    ) -> Posted:
        """Post every request of ``traffic`` (``threads`` at a time); with ``spread_s``, request *i* is not sent
        before ``i × spread_s / n`` seconds (arrivals spread over a fault, not all at its start)."""
        posted = posted or Posted()
        items = traffic.requests(self.site.public_key)
        t0 = time.monotonic()

        def one(i: int) -> None:
            due = t0 + i * spread_s / len(items)
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)  # pacing arrivals, not waiting for an outcome
            kind, body = items[i]
            self.post(kind, body, posted)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(len(items))))
        return posted


# --- the outcome ----------------------------------------------------------------------------------------------


def drained(traffic: Traffic) -> bool:
    """Every row final, no views pending (none held in the web process's buffer either), and the CRM's hit
    counters at least at what was posted."""
    if Submission.objects.exclude(status__in=Submission.FINAL).exists():
        return False
    if HitCounter.objects.filter(pending__gt=0).exists():
        return False
    crm = crm_hits()
    return all(crm.get(p, 0) >= n for p, n in traffic.hit_totals().items())


def crm_hits() -> dict[int, int]:
    totals: Counter[int] = Counter()
    for pkid, hits in Hit.objects.values_list("pkid", "hits"):
        totals[pkid] += hits
    return dict(totals)


def wait_drained(traffic: Traffic, *, timeout: float) -> float:
    """Wait until :func:`drained`; returns the seconds it took (the drain time)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while not drained(traffic):
        if time.monotonic() > deadline:
            statuses = Counter(Submission.objects.values_list("status", flat=True))
            pending = list(HitCounter.objects.filter(pending__gt=0).values_list("pkid", "pending"))
            raise AssertionError(f"not drained within {timeout} s: {dict(statuses)} pending hits {pending}")
        time.sleep(0.25)
    return time.monotonic() - t0


@dataclass
class Tally:
    """The counts behind a :class:`Summary`, each from the sandbox's tables (board, customers, hit counters)
    or the outbox (statuses, ``ambiguous_sends``)."""

    board: Counter[str]
    customers_per_group: list[int]
    duplicates: int
    lost: int
    extra: int
    delivered: int
    board_extra: int
    lead_extra: int
    hit_extra: int
    hits: dict[int, int]
    ambiguous: int
    statuses: Counter[str]

    def summary(self, name: str, submitted: int, drain_s: float, **extras: object) -> Summary:
        return Summary(
            name=name,
            submitted=submitted,
            delivered=self.delivered,
            duplicates=self.duplicates,
            lost=self.lost,
            extra=self.extra,
            ambiguous_reported=self.ambiguous,
            drain_s=drain_s,
            extras=tuple(extras.items()),
        )


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def tally(traffic: Traffic) -> Tally:
    """Count what arrived. Messages: each expected content on the board (lost if absent, extra for each post
    beyond the first, and any board post not expected is extra). Leads: per group, the customers the CRM holds
    with one of the group's names or phones (one is right; none: every lead of the group lost; more: extra),
    and the rows recorded ``duplicate``. Hits: the CRM's counter per pkid against the views posted."""
    board = Counter(Message.objects.values_list("content", flat=True))
    expected = Counter(traffic.messages)
    msg_delivered = sum(1 for c in expected if board[c] >= 1)
    msg_lost = sum(1 for c in expected if board[c] == 0)
    board_extra = sum(n - expected.get(c, 0) for c, n in board.items() if n > expected.get(c, 0) and c in expected)
    board_extra += sum(n for c, n in board.items() if c not in expected)

    customers = list(Customer.objects.values_list("s_name", "tel", "mobile"))
    dup_rows = {
        (p.get("name"), p.get("tel"))
        for p in Submission.objects.filter(kind="lead", status=S.DUPLICATE).values_list("payload", flat=True)
    }
    per_group, lead_delivered, lead_lost, lead_extra, duplicates = [], 0, 0, 0, 0
    for group in traffic.groups:
        names = {n for n, _ in group}
        phones = {_digits(t) for _, t in group}
        n = sum(1 for s_name, tel, mobile in customers if s_name in names or {_digits(tel), _digits(mobile)} & phones)
        d = sum(1 for lead in group if lead in dup_rows)
        per_group.append(n)
        duplicates += d
        if n == 0:
            lead_lost += len(group) - d
        else:
            lead_delivered += 1
            lead_extra += n - 1
            lead_lost += max(0, len(group) - n - d)

    crm = crm_hits()
    hit_delivered = hit_lost = hit_extra = 0
    for pkid, n in traffic.hit_totals().items():
        got = crm.get(pkid, 0)
        hit_delivered += min(got, n)
        hit_lost += max(0, n - got)
        hit_extra += max(0, got - n)
    hit_extra += sum(v for p, v in crm.items() if p not in traffic.hit_totals())

    return Tally(
        board=board,
        customers_per_group=per_group,
        duplicates=duplicates,
        lost=msg_lost + lead_lost + hit_lost,
        extra=board_extra + lead_extra + hit_extra,
        delivered=msg_delivered + lead_delivered + hit_delivered,
        board_extra=board_extra,
        lead_extra=lead_extra,
        hit_extra=hit_extra,
        hits=crm,
        ambiguous=sum(Submission.objects.values_list("ambiguous_sends", flat=True)),
        statuses=Counter(Submission.objects.values_list("status", flat=True)),
    )


def assert_exact(t: Tally, traffic: Traffic, posted: Posted) -> None:
    """The exact outcome every scenario promises (board extras aside, which a scenario bounds itself)."""
    assert posted.refused == []
    assert posted.accepted == Counter(messages=len(traffic.messages), leads=len(traffic.leads), hits=len(traffic.hits))
    assert Submission.objects.count() == len(traffic.messages) + len(traffic.leads)
    assert t.lost == 0
    assert {c: t.board[c] >= 1 for c in traffic.messages} == dict.fromkeys(traffic.messages, True)
    assert t.customers_per_group == [1] * len(traffic.groups)  # every unique lead created exactly once
    assert t.duplicates == traffic.duplicates  # every repeat recorded as a duplicate
    assert t.statuses == Counter(
        {S.DELIVERED: len(traffic.messages) + len(traffic.groups), S.DUPLICATE: traffic.duplicates}
    )
    assert t.hits == dict(traffic.hit_totals())  # exact per pkid


def kinds(items: Iterable[tuple[str, dict[str, Any]]]) -> Counter[str]:
    return Counter(kind for kind, _ in items)
