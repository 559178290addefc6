"""Real Celery processes for tests: prefork workers and beat, on the broker the environment names (the embedded
filesystem broker by default, Redis when ``CELERY_BROKER_URL`` says so: the children inherit ``os.environ``),
sharing the test database (a SQLite file, or the PostgreSQL test database) with the test process; the compressed
delivery options they run with (:data:`FAST`) and a fixture that empties the broker's queue (:func:`empty_broker`).
tests/delivery, tests/alerts and tests/chaos (docs/chaos.md) start their workers here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]

#: Delivery options for workers in tests: the back-off, the sweep and the circuit's probe come back within seconds
#: instead of minutes (docs/delivery.md has the real defaults), and no call ceiling. Scenarios add their own
#: (tests/chaos/stack.py's ``CHAOS_OPTIONS`` compresses the lease, the settle time and the hit flush too).
FAST: dict[str, Any] = {
    "RETRY_BASE_DELAY": 0.5,
    "RETRY_MAX_DELAY": 2.0,
    "CIRCUIT_FAIL_MAX": 5,
    "CIRCUIT_RESET_TIMEOUT": 1.0,
    "SWEEP_INTERVAL": 1.0,
    "REENQUEUE_AFTER": 5.0,
    "CONNECT_TIMEOUT": 2.0,
    "READ_TIMEOUT": 5.0,
    "CALLS_PER_SECOND": 0,
}


def database_url() -> str:
    """The URL of the database the test process is using right now (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    raise RuntimeError(f"no worker support for {db['ENGINE']}")


class CeleryProcess:
    """One `celery -A config <role>` child, its output collected so tests can wait for lines in it."""

    def __init__(self, role: str, args: list[str], env: dict[str, str]) -> None:
        self.role = role
        self.lines: list[str] = []
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-m", "celery", "-A", "config", role, *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_for_line(self, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"celery {self.role} never printed {needle!r}:\n" + "\n".join(self.lines[-40:]))

    def kill(self) -> None:
        """SIGKILL the main process and its pool children at once: a crash, no warm shutdown, no acks."""
        pid = self.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for victim in [pid, *map(int, children)]:
            with suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()  # warm shutdown: finish the task in hand
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        return self.proc.returncode


class Processes(dict[str, CeleryProcess]):
    """The running children by role: ``"worker"`` (the first worker), ``"worker-2"``, … and ``"beat"``.
    :meth:`restart` replaces one with a fresh process started the same way."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__()
        self.env = env
        self._args: dict[str, tuple[str, list[str], str]] = {}

    def start(self, name: str, role: str, args: list[str], ready: str) -> CeleryProcess:
        self._args[name] = (role, args, ready)
        self[name] = CeleryProcess(role, args, self.env)
        return self[name]

    @property
    def workers(self) -> list[str]:
        return [name for name in self if name.startswith("worker")]

    def restart(self, name: str, *, timeout: float = 60.0) -> CeleryProcess:
        """Start ``name`` again (after a :meth:`CeleryProcess.kill` or a stop) and wait until it is ready."""
        old = self[name]
        if old.proc.poll() is None:
            old.stop()
        role, args, ready = self._args[name]
        self[name] = CeleryProcess(role, args, self.env)
        self[name].wait_for_line(ready, timeout=timeout)
        return self[name]


def worker_args(n: int, concurrency: int) -> list[str]:
    return [
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        # Unique per worker: two workers with one node name would share (and confuse) their control replies.
        f"--hostname=test-{os.getpid()}{'' if n == 1 else f'-{n}'}@%h",
    ]


@contextmanager
def celery_processes(
    *, crm_base_url: str, options: dict[str, Any], beat: bool = True, workers: int = 1, concurrency: int = 2
) -> Iterator[Processes]:
    """Start ``workers`` workers (``concurrency`` pool children each) and beat, wired to this test run's
    database, broker and the given CRM; stop them all (warm shutdown) at the end."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CRM_BRIDGE_VAR_DIR": str(settings.VAR_DIR),
        "CRM_BRIDGE_BASE_URL": crm_base_url,
        "CRM_BRIDGE_TOKEN": "sandbox-token",
        "CRM_BRIDGE_OPTIONS": json.dumps(options),
        "PYTHONUNBUFFERED": "1",
    }
    procs = Processes(env)
    try:
        for n in range(1, workers + 1):
            procs.start("worker" if n == 1 else f"worker-{n}", "worker", worker_args(n, concurrency), "ready.")
        if beat:
            schedule = Path(settings.VAR_DIR) / "celerybeat-schedule"
            procs.start("beat", "beat", ["--loglevel=INFO", f"--schedule={schedule}"], "installed periodic tasks")
        for name in procs.workers:
            procs[name].wait_for_line("ready.")
        if beat:
            procs["beat"].wait_for_line("installed periodic tasks")
        yield procs
    finally:
        for p in procs.values():
            p.stop()


@pytest.fixture
def empty_broker() -> Iterator[None]:
    """The broker's queue emptied before and after the test. A test that keeps rows waiting leaves stale messages
    behind (the sweep hands a waiting row out again every ``REENQUEUE_AFTER``); the embedded filesystem broker feeds
    a worker one message per free pool process per poll (config/settings.py), so the next test's worker would
    spend its first seconds skipping them before it reached its own rows."""
    from config.celery import app

    app.control.purge()
    yield
    app.control.purge()
