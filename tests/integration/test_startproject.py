"""The README's install steps, run for real on a brand-new `django-admin startproject` site.

The snippets are read from README.md itself, so the README cannot drift from what works. The new site has
no Celery app and no broker: intake must still answer at once (the sweep would deliver later).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(240)


def readme_snippet(marker: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Install into your Django site") :]
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        if block.startswith(marker):
            return block
    raise AssertionError(f"README has no ```python block starting with {marker!r}")


def run(args: list[str], cwd: Path, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kw)  # noqa: S603
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def new_site(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("startproject")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CRM_BRIDGE", "DATABASE_URL", "CELERY"))}
    env.update(CRM_BRIDGE_TOKEN="t0ken-for-startproject", PYTHONPATH=str(REPO))
    run([sys.executable, "-m", "django", "startproject", "hostsite", str(root)], root, env)
    settings = root / "hostsite" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + readme_snippet("# settings.py"))
    urls = root / "hostsite" / "urls.py"
    urls.write_text(urls.read_text() + "\n" + readme_snippet("# urls.py"))
    return root, env


def test_readme_install_works_in_a_brand_new_site(new_site):
    root, env = new_site
    manage = [sys.executable, "manage.py"]
    check = run([*manage, "check"], root, env)
    assert "no issues" in check.stdout
    run([*manage, "migrate", "--no-input", "-v0"], root, env)
    out = run(
        [*manage, "crm_bridge_site", "add", "New Co", "--site-key", "-", "--origin", "https://www.newco.example"],
        root, env, input="secret-site-key\n",
    ).stdout  # fmt: skip
    public_key = out.strip()
    assert re.fullmatch(r"pk_[A-Za-z0-9_-]{20,40}", public_key), out
    assert "secret-site-key" not in out

    # A visitor's submission through the real URLconf and middleware (CORS included), with no broker running.
    script = f"""
import json, time
from django.test import Client
from crm_bridge.models import Submission
c = Client(HTTP_ORIGIN="https://www.newco.example", SERVER_NAME="localhost")
pre = c.options("/crm/widget/v1/messages", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,idempotency-key")
t0 = time.monotonic()
r = c.post("/crm/widget/v1/messages", data=json.dumps({{"key": "{public_key}", "content": "hello"}}),
           content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
print(json.dumps({{
    "preflight_origin": pre.headers.get("Access-Control-Allow-Origin"),
    "preflight_headers": pre.headers.get("Access-Control-Allow-Headers", ""),
    "status": r.status_code, "seconds": time.monotonic() - t0,
    "rows": list(Submission.objects.values_list("status", flat=True)),
    "body": r.content.decode(),
}}))
"""
    result = run([*manage, "shell", "-c", script], root, env)
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["preflight_origin"] == "https://www.newco.example"
    assert "idempotency-key" in report["preflight_headers"].lower()
    assert report["status"] == 202, report
    assert report["rows"] == ["queued"]
    assert report["seconds"] < 15  # no broker at all: the publish fails fast, the row waits for the sweep
    assert "secret-site-key" not in result.stdout + result.stderr
    assert "t0ken-for-startproject" not in result.stdout + result.stderr
