"""A brand-new ``django-admin startproject`` site built from README.md's marked code blocks, and the README's
steps run on it up to a lead that a real Celery worker delivers to the sandbox CRM.

Shared by tests/integration/test_startproject.py (crm_bridge from this tree, in the suite's own venv) and
tests/integration/test_wheel_install.py (crm_bridge from the built wheel, in a fresh venv). What differs between
the two is a :class:`Toolchain`: which interpreter and scripts run the site's commands, in which environment, and
where every process of the site must import crm_bridge from. The site's settings check that last point
themselves (see :meth:`ReadmeSite.create`), so a process that picked up another copy of the app stops at once
instead of passing the test with the wrong code.

What the site adds of its own, for a machine without Redis: ``CELERY_BROKER_URL=filesystem://`` in the
environment (the README's settings read it) plus the filesystem transport's folders in the temporary site, which
that transport needs as settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

LEAD = {"name": "新站测试有限公司", "tel": "13900001111", "company": "新站测试有限公司", "fill_ms": 5000}
ORIGIN = "http://localhost:8000"  # the page embedding the widget: another origin than the API's


def readme_block(name: str) -> str:
    """The code block right after ``<!-- readme: NAME -->`` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.findall(rf"<!-- readme: {re.escape(name)} -->\n```\w*\n(.*?)```", text, flags=re.S)
    assert len(found) == 1, f"README.md needs exactly one code block marked <!-- readme: {name} -->"
    return found[0]


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None, *, timeout: float = 120, **kw: Any
) -> subprocess.CompletedProcess:
    """Run to completion; a non-zero exit fails the test with the command's output."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **kw)  # noqa: S603
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, *, data: dict | None = None, headers: dict[str, str] | None = None) -> tuple[int, Message, Any]:
    """(status, headers, JSON body) of one request; an error status is returned, not raised."""
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 (a loopback URL we built)
            return reply.status, reply.headers, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read() or b"null")


class Child:
    """A long-running child of the site (sandbox, worker, web server), its output collected so the test can wait
    for a line in it. It leads a process group of its own, so that :meth:`stop` also reaches what it forked (the
    worker's pool) when it has to kill."""

    def __init__(self, name: str, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(  # noqa: S603 (fixed arguments)
            args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never printed {pattern!r}:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> None:
        """SIGTERM (the worker's warm shutdown; the servers just exit), then SIGKILL to the whole group if it does
        not exit in time, and to whatever of the group outlived its leader."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(20)
        # Our own group: the child and what it forked. Gone already when the whole group exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)
        self._reader.join(5)


@dataclass(frozen=True)
class Toolchain:
    """How the site's commands run. ``django_admin`` and ``celery`` are the argument lists that start those
    commands; ``python`` runs ``manage.py``. Every process of the site must have ``sys.prefix == prefix`` and
    import crm_bridge from ``crm_bridge_dir``. ``isolated``: no process may see PYTHONPATH (asserted before
    each start)."""

    python: Path
    django_admin: list[str]
    celery: list[str]
    env: dict[str, str]
    prefix: Path
    crm_bridge_dir: Path
    isolated: bool = False


@dataclass
class ReadmeSite:
    """A ``startproject`` site in ``root`` with the README's blocks pasted in; children it started are stopped by
    :meth:`stop` (call it in a fixture's teardown, so a failing test stops them too)."""

    root: Path
    tools: Toolchain
    env: dict[str, str] = field(init=False)
    children: list[Child] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {**self.tools.env, "PYTHONUNBUFFERED": "1", "CELERY_BROKER_URL": "filesystem://"}

    def _checked(self, env: dict[str, str]) -> dict[str, str]:
        if self.tools.isolated:
            assert "PYTHONPATH" not in env, "an isolated site's processes must not see PYTHONPATH"
        return env

    def create(self) -> ReadmeSite:
        """``django-admin startproject mysite``, then the README's settings (plus the no-Redis cache and the
        sandbox), urls, Celery app and ``__init__``, each pasted as shown."""
        run([*self.tools.django_admin, "startproject", "mysite", str(self.root)], self.root, self._checked(self.env))
        package = self.root / "mysite"

        broker = self.root / "broker"
        for sub in ("queue", "processed", "control"):
            (broker / sub).mkdir(parents=True)
        test_own = f"""
# --- the test's own: the filesystem broker's folders (the README uses Redis) ---
CELERY_BROKER_TRANSPORT_OPTIONS = {{
    "data_folder_in": {str(broker / "queue")!r}, "data_folder_out": {str(broker / "queue")!r},
    "processed_folder": {str(broker / "processed")!r}, "store_processed": False,
    "control_folder": {str(broker / "control")!r},
}}
# --- the test's own: every process of this site runs the interpreter and the crm_bridge under test ---
import importlib.util as _util
import sys as _sys

_origin = _util.find_spec("crm_bridge").origin
if _sys.prefix != {str(self.tools.prefix)!r} or not _origin.startswith({str(self.tools.crm_bridge_dir) + os.sep!r}):
    raise RuntimeError(f"this site runs {{_sys.prefix}} and crm_bridge from {{_origin}}: not the ones under test")
"""
        settings = package / "settings.py"
        pasted = [readme_block(n) for n in ("settings", "settings-no-redis", "settings-sandbox")]
        settings.write_text(settings.read_text() + "\n" + "\n".join(pasted) + test_own)
        urls = package / "urls.py"
        urls.write_text(urls.read_text() + "\n" + readme_block("urls"))
        assert readme_block("celery").startswith("# mysite/celery.py\n")
        (package / "celery.py").write_text(readme_block("celery"))
        assert readme_block("celery-init").startswith("# mysite/__init__.py\n")
        (package / "__init__.py").write_text(readme_block("celery-init"))
        return self

    def manage(self, *args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess:
        """``python manage.py ARGS``, which must succeed."""
        return run([str(self.tools.python), "manage.py", *args], self.root, self._checked(env or self.env), **kw)

    def manage_result(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """``python manage.py ARGS``, whatever its exit status."""
        return subprocess.run(  # noqa: S603 (fixed arguments)
            [str(self.tools.python), "manage.py", *args],
            cwd=self.root, env=self._checked(env or self.env), capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def start(self, name: str, args: list[str]) -> Child:
        child = Child(name, args, self.root, self._checked(self.env))
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    def logs(self) -> str:
        return "\n".join(child.output() for child in self.children)


@dataclass(frozen=True)
class Delivered:
    """What :func:`deliver_a_lead` saw: the site's public key, the submission's id, the worker's output."""

    public_key: str
    submission: str
    worker: Child


def deliver_a_lead(site: ReadmeSite, *, timeout: float = 90) -> Delivered:
    """README step 5 on ``site`` against the sandbox (step 6), with the secrets of a test: ``migrate``,
    ``createcachetable``, ``crm_sandbox``, ``check``, ``crm_bridge_site add … --site-key -`` (stdin), a real
    ``celery -A mysite worker``, ``runserver``; then a lead POSTed from a browser's origin with the consent the
    site's widget config asks for, until the sandbox holds it as a customer and the outbox row is delivered
    (event-based waits, each bounded by ``timeout``). Asserts every step; the secrets appear in no output."""
    site_key, token = "readme-site-" + secrets.token_hex(8), "readme-token-" + secrets.token_hex(8)
    sandbox_port, port = free_port(), free_port()
    sandbox_root = f"http://127.0.0.1:{sandbox_port}"
    base_url = f"{sandbox_root}/WebApi/Handler/1.0/CRM/"
    # The README's order: the environment first (migrate runs the checks too), then the tables, the sandbox.
    site.env = {**site.env, "CRM_BRIDGE_BASE_URL": base_url, "CRM_BRIDGE_TOKEN": token}
    site.manage("migrate", "--no-input", "-v0")
    site.manage("createcachetable")
    python = str(site.tools.python)
    sandbox_args = ["crm_sandbox", "--port", str(sandbox_port), "--token", token, "--site-key", site_key]
    sandbox = site.start("crm_sandbox", [python, "manage.py", *sandbox_args])
    assert sandbox.wait_for(r"CRM sandbox: (http://\S+)").group(1) == base_url

    check = site.manage("check")
    assert "System check identified no issues" in check.stdout, check.stdout + check.stderr

    out = site.manage(
        "crm_bridge_site", "add", "New Co", "--site-key", "-", "--origin", ORIGIN, "--default-cust-id", "1",
        input=site_key + "\n",
    )  # fmt: skip
    public_key = out.stdout.strip()
    assert re.fullmatch(r"pk_[A-Za-z0-9_-]{20,40}", public_key), out.stdout
    assert site_key not in out.stdout + out.stderr

    worker = site.start(
        "celery worker",
        [
            *site.tools.celery, "-A", "mysite", "worker", "--pool=prefork", "--concurrency=1",
            "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            f"--hostname=readme-site-{os.getpid()}-{port}@%h",
        ],
    )  # fmt: skip
    worker.wait_for(r"ready\.", timeout)
    assert "crm_bridge.deliver" in worker.output()  # autodiscover_tasks() found the app's shared tasks

    web = site.start("runserver", [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"])
    web.wait_for(r"Quit the server with", timeout)

    def sandbox_state() -> dict[str, Any]:
        status, _, state = http(f"{sandbox_root}/_sandbox/state", headers={"X-Sandbox-Token": token})
        assert status == 200, state
        return state

    customers_before = sandbox_state()["customers"]

    # The consent the widget config asks for: the notice version the widget sends with the visitor's consent.
    api = f"http://127.0.0.1:{port}/crm/widget/v1"
    status, _, config = http(f"{api}/config?key={public_key}", headers={"Origin": ORIGIN})
    assert status == 200, config
    status, headers, body = http(
        f"{api}/leads",
        data={"key": public_key, **LEAD, "consent": True, "version": config["privacy"]["version"]},
        headers={"Origin": ORIGIN, "Idempotency-Key": "readme-site-lead-1"},
    )
    assert status == 202, body
    assert headers.get("Access-Control-Allow-Origin") == ORIGIN, dict(headers)
    submission = body["id"]

    # Wait for the event, bounded: the sandbox holds one more customer, the lead's.
    deadline = time.monotonic() + timeout
    while (state := sandbox_state())["customers"] == customers_before:
        assert worker.proc.poll() is None, worker.output()
        assert time.monotonic() < deadline, f"the lead never reached the sandbox:\n{worker.output()[-4000:]}"
        time.sleep(0.2)
    assert state["customers"] == customers_before + 1

    # The new customer is the lead, found by the CRM's own duplicate check (as delivery itself asks).
    query = urllib.parse.urlencode({"token": token, "sName": LEAD["name"], "id": 0})
    status, _, reply = http(f"{base_url}Customer/NameIsRepeat.ashx?{query}")
    assert (status, reply) == (200, {"value": True})

    # And the worker records the outcome in the outbox (just after the CRM answered: wait for it too).
    script = f"from crm_bridge.models import Submission; print(Submission.objects.get(pk={submission!r}).status)"
    while (row := site.manage("shell", "-v0", "-c", script).stdout.strip().splitlines()[-1]) != "delivered":
        assert time.monotonic() < deadline, f"the outbox row stayed {row!r}:\n{worker.output()[-4000:]}"
        time.sleep(0.2)

    logs = site.logs()
    assert site_key not in logs and token not in logs
    return Delivered(public_key=public_key, submission=submission, worker=worker)
