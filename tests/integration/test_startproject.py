"""The README's install steps, run for real on a brand-new ``django-admin startproject`` site, up to a lead that
a real Celery worker delivers to the sandbox CRM.

The code blocks come from README.md itself (the ones marked ``<!-- readme: NAME -->``), pasted as shown, so the
README cannot drift from what works: the settings, the no-Redis cache, the sandbox app, the urls, the Celery app
and its ``__init__`` import. Nothing is installed: the venv running the suite has the dependencies, and crm_bridge
comes from this tree through ``PYTHONPATH`` (tests/integration/test_wheel.py covers the packaging).

What the test adds of its own, for a machine without Redis: ``CELERY_BROKER_URL=filesystem://`` in the
environment (the README's settings read it) plus the filesystem transport's folders in the temporary site, which
that transport needs as settings. Then, as the README says: ``check`` (first without the token, which must be
reported, not crash), ``migrate``, ``createcachetable``, ``crm_bridge_site add … --site-key -`` (stdin),
``crm_sandbox``, ``celery -A mysite worker``, and ``runserver`` taking a lead from a browser's origin.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.timeout(300)]

SITE_KEY = "startproject-" + secrets.token_hex(8)
TOKEN = "startproject-" + secrets.token_hex(8)
LEAD = {"name": "新站测试有限公司", "tel": "13900001111", "company": "新站测试有限公司", "fill_ms": 5000}


def readme_block(name: str) -> str:
    """The code block right after ``<!-- readme: NAME -->`` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.findall(rf"<!-- readme: {re.escape(name)} -->\n```\w*\n(.*?)```", text, flags=re.S)
    assert len(found) == 1, f"README.md needs exactly one code block marked <!-- readme: {name} -->"
    return found[0]


def run(args: list[str], cwd: Path, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kw)  # noqa: S603
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Child:
    """A long-running child of the new site (sandbox, worker, web server), its output collected so the test can
    wait for a line in it."""

    def __init__(self, name: str, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
            args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the worker's warm shutdown; the servers just exit
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)


@pytest.fixture(scope="module")
def new_site(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A ``startproject`` site with the README's blocks pasted in, and the environment its processes run in."""
    root = tmp_path_factory.mktemp("startproject")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CRM_BRIDGE", "DATABASE_URL", "CELERY"))}
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", CELERY_BROKER_URL="filesystem://")
    run([sys.executable, "-m", "django", "startproject", "mysite", str(root)], root, env)
    package = root / "mysite"

    broker = root / "broker"
    for sub in ("queue", "processed", "control"):
        (broker / sub).mkdir(parents=True)
    test_own = f"""
# --- test_startproject.py's own: the filesystem broker's folders (the README uses Redis) ---
CELERY_BROKER_TRANSPORT_OPTIONS = {{
    "data_folder_in": {str(broker / "queue")!r}, "data_folder_out": {str(broker / "queue")!r},
    "processed_folder": {str(broker / "processed")!r}, "store_processed": False,
    "control_folder": {str(broker / "control")!r},
}}
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
    return root, env


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in reversed(started):
        child.stop()


def http(url: str, *, data: dict | None = None, headers: dict[str, str] | None = None) -> tuple[int, Message, Any]:
    """(status, headers, JSON body) of one request; an error status is returned, not raised."""
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 (a loopback URL we built)
            return reply.status, reply.headers, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read() or b"null")


def test_readme_install_delivers_a_lead_from_a_brand_new_site(new_site, children):
    root, env = new_site
    manage = [sys.executable, "manage.py"]

    # An unset token is reported by `check` in plain words (the README reads it with os.environ.get).
    unset = subprocess.run([*manage, "check"], cwd=root, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert unset.returncode == 1, unset.stdout + unset.stderr
    assert 'settings.CRM_BRIDGE["TOKEN"] is missing or empty.' in unset.stderr
    assert "KeyError" not in unset.stderr and "Traceback" not in unset.stderr

    # The README's order: the environment first (migrate runs the checks too), then the tables, the sandbox.
    sandbox_port = free_port()
    base_url = f"http://127.0.0.1:{sandbox_port}/WebApi/Handler/1.0/CRM/"
    env = {**env, "CRM_BRIDGE_BASE_URL": base_url, "CRM_BRIDGE_TOKEN": TOKEN}
    run([*manage, "migrate", "--no-input", "-v0"], root, env)
    run([*manage, "createcachetable"], root, env)
    sandbox_args = ["crm_sandbox", "--port", str(sandbox_port), "--token", TOKEN, "--site-key", SITE_KEY]
    sandbox = Child("crm_sandbox", [*manage, *sandbox_args], root, env)
    children.append(sandbox)
    assert sandbox.wait_for(r"CRM sandbox: (http://\S+)").group(1) == base_url

    check = run([*manage, "check"], root, env)
    assert "System check identified no issues" in check.stdout, check.stdout + check.stderr

    port = free_port()
    origin = "http://localhost:8000"  # the page embedding the widget: another origin than the API's
    out = run(
        [*manage, "crm_bridge_site", "add", "New Co", "--site-key", "-", "--origin", origin, "--default-cust-id", "1"],
        root, env, input=SITE_KEY + "\n",
    )  # fmt: skip
    public_key = out.stdout.strip()
    assert re.fullmatch(r"pk_[A-Za-z0-9_-]{20,40}", public_key), out.stdout
    assert SITE_KEY not in out.stdout + out.stderr

    worker = Child(
        "celery worker",
        [
            sys.executable, "-m", "celery", "-A", "mysite", "worker", "--pool=prefork", "--concurrency=1",
            "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            f"--hostname=startproject-{os.getpid()}@%h",
        ],
        root,
        env,
    )  # fmt: skip
    children.append(worker)
    worker.wait_for(r"ready\.")
    assert "crm_bridge.deliver" in worker.output()  # autodiscover_tasks() found the app's shared tasks

    web = Child("runserver", [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], root, env)
    children.append(web)
    web.wait_for(r"Quit the server with")

    status, headers, state = http(f"{base_url.split('/WebApi/')[0]}/_sandbox/state", headers={"X-Sandbox-Token": TOKEN})
    assert status == 200, state
    customers_before = state["customers"]

    api = f"http://127.0.0.1:{port}/crm/widget/v1/leads"
    # The notice version the widget reads from the config and sends with the visitor's consent.
    _, _, config = http(f"http://127.0.0.1:{port}/crm/widget/v1/config?key={public_key}", headers={"Origin": origin})
    status, headers, body = http(
        api,
        data={"key": public_key, **LEAD, "consent": True, "version": config["privacy"]["version"]},
        headers={"Origin": origin, "Idempotency-Key": "startproject-lead-1"},
    )
    assert status == 202, body
    assert headers.get("Access-Control-Allow-Origin") == origin, dict(headers)
    submission = body["id"]

    # Wait for the event, bounded: the sandbox holds one more customer, the lead's.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, _, state = http(f"{base_url.split('/WebApi/')[0]}/_sandbox/state", headers={"X-Sandbox-Token": TOKEN})
        if state["customers"] > customers_before:
            break
        assert worker.proc.poll() is None, worker.output()
        time.sleep(0.2)
    else:
        raise AssertionError(f"the lead never reached the sandbox:\n{worker.output()[-4000:]}")
    assert state["customers"] == customers_before + 1

    # The new customer is the lead, found by the CRM's own duplicate check (as delivery itself asks).
    status, _, reply = http(
        f"{base_url}Customer/NameIsRepeat.ashx?"
        + urllib.parse.urlencode({"token": TOKEN, "sName": LEAD["name"], "id": 0})
    )
    assert (status, reply) == (200, {"value": True})

    # And the worker records the outcome in the outbox (just after the CRM answered: wait for it too).
    script = f"from crm_bridge.models import Submission; print(Submission.objects.get(pk={submission!r}).status)"
    while True:
        row = run([*manage, "shell", "-v0", "-c", script], root, env).stdout.strip().splitlines()[-1]
        if row == "delivered" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert row == "delivered", worker.output()[-4000:]

    logs = "\n".join([sandbox.output(), worker.output(), web.output()])
    assert SITE_KEY not in logs and TOKEN not in logs
