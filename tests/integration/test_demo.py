"""`manage.py demo` (what `make demo` runs) as a person would use it: it starts, the sample page is served from
another origin, a submission reaches the sandbox CRM through the real worker, and Ctrl-C stops everything."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.timeout(240)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_runs_end_to_end_and_stops_on_ctrl_c(tmp_path):
    port, page_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "CACHE_URL"))}
    env.update(CRM_BRIDGE_VAR_DIR=str(tmp_path / "var"), DEBUG="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "demo", "--port", str(port), "--page-port", str(page_port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(line.rstrip() for line in proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 90
        while not any("ready." in line for line in lines) or not any("widget key" in line for line in lines):
            assert proc.poll() is None, "\n".join(lines)
            assert time.monotonic() < deadline, "demo did not start:\n" + "\n".join(lines)
            time.sleep(0.2)
        text = "\n".join(lines)
        key = re.search(r"widget key of the demo site:\s+(pk_\S+)", text).group(1)
        password = re.search(r"login: admin / (\S+)", text).group(1)
        assert len(password) >= 10

        page = requests.get(f"http://127.0.0.1:{page_port}/", timeout=10)
        assert page.status_code == 200 and f'data-crm-key="{key}"' in page.text
        assert f"http://127.0.0.1:{port}" in page.text  # the widget comes from the API's origin

        # The notice version the widget reads from the config and sends with the visitor's consent.
        version = requests.get(f"http://127.0.0.1:{port}/crm/widget/v1/config", params={"key": key}, timeout=10).json()[
            "privacy"
        ]["version"]
        r = requests.post(
            f"http://127.0.0.1:{port}/crm/widget/v1/messages",
            json={"key": key, "content": "来自演示测试的留言", "fill_ms": 5000, "consent": True, "version": version},
            headers={"Origin": f"http://127.0.0.1:{page_port}", "Idempotency-Key": "demo-test-1"},
            timeout=10,
        )
        assert r.status_code == 202, r.text
        assert r.headers["Access-Control-Allow-Origin"] == f"http://127.0.0.1:{page_port}"

        def delivered() -> bool:
            state = requests.get(
                f"http://127.0.0.1:{port}/_sandbox/state", headers={"X-Sandbox-Token": "sandbox-token"}, timeout=5
            ).json()
            return state["calls"].get("ECommerce/AddMessageBoard") == 1 and state["messages"] == 1

        deadline = time.monotonic() + 60
        while not delivered():
            assert time.monotonic() < deadline, "the message never reached the sandbox:\n" + "\n".join(lines[-40:])
            time.sleep(0.5)
        # The sandbox has it; the worker records "delivered" a moment after the CRM's answer comes back.
        status_url = f"http://127.0.0.1:{port}/crm/widget/v1/submissions/{r.json()['id']}?key={key}"
        deadline = time.monotonic() + 30
        while (status := requests.get(status_url, timeout=5).json()["status"]) != "delivered":
            assert status == "queued" and time.monotonic() < deadline, status
            time.sleep(0.3)
    finally:
        # Ctrl-C reaches the whole foreground group: the demo alone, which stops its children (each in its own group).
        os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert code == 0, "\n".join(lines[-30:])
    text = "\n".join(lines)
    assert "demo: SIGINT received; stopping" in text and "demo stopped" in text, text[-3000:]
    # Nothing left listening.
    for p in (port, page_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", p)) != 0
