"""Intake with the broker down (Redis URL, nothing listening): every submission is still stored and
answered 202, and after one failed publish the process stops trying for a while (intake's latency must not
depend on the broker); the rows wait for the sweep."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, logging, time
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("createcachetable", verbosity=0)
from django.test import Client
from crm_bridge.models import Site, Submission
site = Site.objects.create(name="b", site_key="k", allowed_origins=["https://b.example"])
c = Client(HTTP_ORIGIN="https://b.example", SERVER_NAME="localhost")
codes = []
for i in range(4):
    r = c.post("/crm/widget/v1/messages", data=json.dumps({"key": site.public_key, "content": f"m{i}",
                                                        "consent": True, "version": site.privacy_version}),
               content_type="application/json")
    codes.append(r.status_code)
print("RESULT " + json.dumps({"codes": codes, "rows": list(Submission.objects.values_list("status", flat=True))}))
"""


def test_broker_down_stores_everything_and_stops_hammering_it(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: a broker that is down
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CACHE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
        CRM_BRIDGE_VAR_DIR=str(tmp_path),
        PYTHONPATH=str(REPO),
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result == {"codes": [202, 202, 202, 202], "rows": ["queued"] * 4}
    # One publish was tried and failed; the next three skipped the broker.
    assert out.stderr.count("could not enqueue delivery") == 1
