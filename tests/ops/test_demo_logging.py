"""The demo site's switch: ``CRM_BRIDGE_LOG_FORMAT=json`` makes config/settings.py's LOGGING write JSON lines
(crm_bridge's and Django's); anything but text/json is refused. Run in a fresh interpreter: logging is
configured once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging, django
django.setup()
from crm_bridge.logging import log_context
with log_context(submission_id="sub-1"):
    logging.getLogger("crm_bridge.delivery").warning("delivering %s", "now")
logging.getLogger("django.request").error("Internal Server Error: /x")
"""


def run(log_format: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", "PYTHONPATH": str(REPO),
        "CRM_BRIDGE_LOG_FORMAT": log_format,
    }  # fmt: skip
    return subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_json_switch():
    done = run("json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["logger"], line["level"], line["submission_id"]) for line in lines] == [
        ("crm_bridge.delivery", "WARNING", "sub-1"),
        ("django.request", "ERROR", None),
    ]
    assert lines[0]["message"] == "delivering now"


@pytest.mark.slow
def test_text_is_the_default_and_other_values_are_refused():
    done = run("text")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == "delivering now"
    done = run("xml")
    assert done.returncode != 0
    assert 'CRM_BRIDGE_LOG_FORMAT must be "text" or "json"' in done.stderr
