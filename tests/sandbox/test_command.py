"""`manage.py crm_sandbox` really serves: started in a subprocess on a free port with its own database,
one real HTTP request, then stopped. Bounded in time."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


def get(url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


def test_command_serves_until_interrupted(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}",
        "CRM_BRIDGE_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "crm_sandbox", "--port", "0", "--token", "cmd-token", "--site-key", "cmd-site"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
    output = []
    try:
        base_url = None
        while base_url is None:
            try:
                line = lines.get(timeout=STARTUP_SECONDS)
            except queue.Empty:
                pytest.fail(f"no base URL within {STARTUP_SECONDS}s: {''.join(output)}")
            output.append(line)
            if line.startswith("CRM sandbox: "):
                base_url = line.split(": ", 1)[1].strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/WebApi/Handler/1.0/CRM/")

        status, body = get(f"{base_url}Customer/Get.ashx?token=cmd-token&id=1")
        assert status == 200
        assert json.loads(body)["value"]["sName"] == "上海华东机电设备有限公司"
        # --token replaced the settings' token
        assert get(f"{base_url}Customer/Get.ashx?token=sandbox-token&id=1")[0] == 401
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    while not lines.empty():
        output.append(lines.get())
    text = "".join(output)
    assert "Accepting 1 token(s) and 1 site key(s)" in text
    assert "Stopped." in text
    assert '"GET /WebApi/Handler/1.0/CRM/Customer/Get.ashx?… HTTP/1.1" 200' in text  # logged, query hidden
    assert "cmd-token" not in text and "cmd-site" not in text
