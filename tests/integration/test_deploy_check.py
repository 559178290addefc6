"""The demo site (config/) as a deployment: with DEBUG off and only the documented variables set
(docs/deploying.md), ``manage.py check --deploy`` has nothing to say, and the sandbox is not served.

Each case runs ``manage.py`` in a fresh process, as settings and URLs are read once at start-up, with an
environment of its own: nothing of the test run's (PYTEST_VERSION, which gives the development defaults,
DATABASE_URL, CACHE_URL …) leaks in.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)

HOST = "crm.example.com"


@pytest.fixture
def production_env(tmp_path: Path) -> dict[str, str]:
    """What a deployment sets: DEBUG off, its own key and host, its CRM; a database of its own here."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "CRM_BRIDGE_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "CRM_BRIDGE_BASE_URL": "https://crm.example.com/WebApi/Handler/1.0/CRM/",
        "CRM_BRIDGE_TOKEN": "token-of-a-real-tenant",
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=90
    )


def test_check_deploy_passes_with_no_issues(production_env):
    result = manage(production_env, "check", "--deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    # The two silenced are Django's HSTS includeSubDomains/preload advice, opt-in (config/settings.py).
    assert result.stdout.strip() == "System check identified no issues (2 silenced)."
    assert result.stderr == ""


def test_a_missing_crm_token_is_an_error_naming_the_variable(production_env):
    del production_env["CRM_BRIDGE_TOKEN"]
    result = manage(production_env, "check", "--deploy")
    assert result.returncode == 1
    assert '(crm_bridge.E004) settings.CRM_BRIDGE["TOKEN"] is missing or empty.' in result.stderr
    assert "CRM_BRIDGE_TOKEN environment variable" in result.stderr
    assert "identified 1 issue (2 silenced)" in result.stderr


def test_the_sandbox_is_not_served_in_a_deployment(production_env):
    manage(production_env, "migrate", "--no-input", "-v0").check_returncode()
    script = f"""
from django.test import Client
c = Client(HTTP_HOST="{HOST}")
for url in ("/_sandbox/state", "/WebApi/Handler/1.0/CRM/Customer/Get.ashx?id=1"):
    print(c.get(url, {{"token": "sandbox-token"}}, secure=True).status_code)
print(c.get("/_sandbox/state?token=sandbox-token").status_code, c.get("/_sandbox/state").headers["Location"])
"""
    result = manage(production_env, "shell", "-v0", "-c", script)
    assert result.returncode == 0, result.stderr
    # 404 over HTTPS; plain HTTP is redirected to HTTPS first (SECURE_SSL_REDIRECT).
    assert result.stdout.split() == ["404", "404", "301", f"https://{HOST}/_sandbox/state"]


def test_mounting_the_sandbox_in_a_deployment_is_explicit_and_warned(production_env):
    production_env["CRM_SANDBOX_ENABLED"] = "1"
    result = manage(production_env, "check", "--deploy")
    assert result.returncode == 0, result.stderr
    # Its own credentials are none by default (it refuses every call), so only the mount itself is warned.
    assert "(crm_bridge.W010)" in result.stderr and "(crm_bridge.W011)" not in result.stderr
    assert "identified 1 issue (2 silenced)" in result.stderr
