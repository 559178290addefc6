"""The real site as a deployment serves it, on loopback: its environment and its gunicorn command line.

:mod:`bench.real` starts the benchmark's site this way (two sync workers) and tests/integration/test_hit_kill.py
the site whose worker it SIGKILLs (one), so the figures of docs/benchmarks.md come from one way of starting it.
Nothing here starts a process: each caller runs the command with its own log and waits for its own readiness
(a page that answers).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

#: Variables of the caller's environment a child of the site never inherits: another database, broker or cache
#: (the caller passes its own, if any); ``PYTEST_VERSION`` would make config/settings.py pick a test folder.
INHERITED_NOT = ("DATABASE_URL", "CELERY_", "CACHE_URL")


def clean_environ() -> dict[str, str]:
    """``os.environ`` without the variables a child of the site must not inherit (:data:`INHERITED_NOT`,
    ``PYTEST_VERSION``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_NOT)}
    env.pop("PYTEST_VERSION", None)
    return env


def site_env(
    name: str, *, var: Path, crm_url: str, token: str, options: dict[str, Any], settings: str = "config.settings"
) -> dict[str, str]:
    """The environment of the site (gunicorn, and its Celery processes): config/settings.py as a deployment runs it
    (DEBUG off), made to run on plain HTTP on loopback — its own key (from ``name``) and host, no HTTPS redirect
    or HSTS, no secure-only cookies, no sandbox mounted in the site itself — with ``var`` as its folder (its SQLite
    database unless the caller adds ``DATABASE_URL``), ``crm_url`` and ``token`` as its CRM, and ``options`` as
    ``CRM_BRIDGE_OPTIONS``. ``settings``: the settings module (``bench.settings`` adds the floor views)."""
    env = clean_environ()
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        PYTHONUNBUFFERED="1",
        DEBUG="0",
        SECRET_KEY=f"{name}-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        CRM_SANDBOX_ENABLED="0",
        CRM_BRIDGE_VAR_DIR=str(var),
        CRM_BRIDGE_BASE_URL=crm_url,
        CRM_BRIDGE_TOKEN=token,
        CRM_BRIDGE_OPTIONS=json.dumps(options),
    )
    return env


def gunicorn_command(port: int, *, workers: int) -> list[str]:
    """gunicorn serving ``config.wsgi`` with ``workers`` sync workers on 127.0.0.1:``port``; run it from the
    repository's root with :func:`site_env`. Warnings only in its log; SIGTERM gives workers 10 s to finish."""
    return [
        sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--graceful-timeout", "10",
    ]  # fmt: skip
