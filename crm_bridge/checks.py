"""``manage.py check`` reports missing or malformed ``CRM_BRIDGE`` settings in plain words, before anything
tries to use them."""

from __future__ import annotations

import numbers
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import DEFAULTS, REQUIRED

_POSITIVE_NUMBERS = (
    "CONNECT_TIMEOUT", "READ_TIMEOUT", "RETRY_BASE_DELAY", "RETRY_MAX_DELAY", "MAX_AGE", "LEASE_SECONDS",
    "SWEEP_INTERVAL", "REENQUEUE_AFTER", "HIT_FLUSH_INTERVAL", "CIRCUIT_RESET_TIMEOUT", "ENQUEUE_TIMEOUT",
    "MIN_FILL_SECONDS", "IDEMPOTENCY_TTL", "LEAD_WAIT", "AMBIGUOUS_SETTLE",
)  # fmt: skip
_COUNTS = ("READ_RETRIES", "MAX_ATTEMPTS", "SWEEP_BATCH", "CIRCUIT_FAIL_MAX", "NUM_PROXIES", "MAX_BODY_BYTES")


def _error(n: int, msg: str, hint: str | None = None) -> Error:
    return Error(msg, hint=hint, id=f"crm_bridge.E{n:03d}")


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    value = getattr(settings, "CRM_BRIDGE", None)
    if value is None:
        return [
            _error(1, "settings.CRM_BRIDGE is not set.",
                   'Add CRM_BRIDGE = {"BASE_URL": "https://<your-crm>/WebApi/Handler/1.0/CRM/", "TOKEN": "…"}.')
        ]  # fmt: skip
    if not isinstance(value, dict):
        return [_error(2, f"settings.CRM_BRIDGE must be a dict, not {type(value).__name__}.")]
    errors: list = []
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        errors.append(
            _error(3, f"settings.CRM_BRIDGE has unknown key(s): {', '.join(unknown)}.",
                   f"Known keys: {', '.join(sorted(DEFAULTS))}.")
        )  # fmt: skip
    for key in REQUIRED:
        if not value.get(key):
            errors.append(
                _error(4, f'settings.CRM_BRIDGE["{key}"] is missing or empty.',
                       f"Set it (the demo site reads the CRM_BRIDGE_{key} environment variable).")
            )  # fmt: skip
    base_url = value.get("BASE_URL")
    if base_url:
        parts = urlsplit(str(base_url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(
                _error(5, f'settings.CRM_BRIDGE["BASE_URL"] is not an http(s) URL: {base_url!r}.',
                       "Example: https://crm.example.com/WebApi/Handler/1.0/CRM/")
            )  # fmt: skip
        elif not parts.path.rstrip("/").endswith("/WebApi/Handler/1.0/CRM"):
            errors.append(
                Warning(
                    f'settings.CRM_BRIDGE["BASE_URL"] does not end with /WebApi/Handler/1.0/CRM/: {base_url!r}.',
                    hint="The handlers are requested as BASE_URL + 'Customer/Save.ashx' etc.",
                    id="crm_bridge.W001",
                )
            )
    for key in _POSITIVE_NUMBERS:
        if key in value and not _is_number(value[key], positive=True):
            errors.append(_error(6, f'settings.CRM_BRIDGE["{key}"] must be a positive number of seconds.'))
    for key in _COUNTS:
        if key in value and not (isinstance(value[key], int) and not isinstance(value[key], bool) and value[key] >= 0):
            errors.append(_error(7, f'settings.CRM_BRIDGE["{key}"] must be a whole number ≥ 0.'))
    if "FORMAT" in value and value["FORMAT"] not in ("json", "xml"):
        errors.append(_error(8, 'settings.CRM_BRIDGE["FORMAT"] must be "json" or "xml".'))
    for key in ("CALLS_PER_SECOND", "HIT_FLUSH_SHARE"):
        if key in value and not _is_number(value[key], positive=False):
            errors.append(_error(9, f'settings.CRM_BRIDGE["{key}"] must be a number ≥ 0.'))
    rates = value.get("THROTTLE_RATES")
    if rates is not None and not (isinstance(rates, dict) and set(rates) <= {"ip", "site"}):
        errors.append(
            _error(10, 'settings.CRM_BRIDGE["THROTTLE_RATES"] must be a dict with keys "ip" and "site".',
                   'Example: {"ip": "30/min", "site": "1200/min"}')
        )  # fmt: skip
    return errors


def _is_number(v: Any, *, positive: bool) -> bool:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return False
    return v > 0 if positive else v >= 0


@register(Tags.compatibility)
def check_cors(app_configs: Any = None, **kwargs: Any) -> list:
    """The widget sends an ``Idempotency-Key`` header with every write; without it in the CORS allow-list
    browsers refuse the preflight and no submission arrives. A wildcard grant would undo the per-site list."""
    problems: list = []
    if "corsheaders" not in settings.INSTALLED_APPS:
        problems.append(
            Error(
                "crm_bridge needs django-cors-headers for its widget API.",
                hint='Add "corsheaders" to INSTALLED_APPS and "corsheaders.middleware.CorsMiddleware" to MIDDLEWARE.',
                id="crm_bridge.E011",
            )
        )
        return problems
    from corsheaders.conf import conf as cors_conf

    if "idempotency-key" not in {h.lower() for h in cors_conf.CORS_ALLOW_HEADERS}:
        problems.append(
            Warning(
                "CORS_ALLOW_HEADERS does not include idempotency-key: browsers on other origins cannot submit.",
                hint='CORS_ALLOW_HEADERS = (*corsheaders.defaults.default_headers, "idempotency-key")',
                id="crm_bridge.W003",
            )
        )
    if cors_conf.CORS_ALLOW_ALL_ORIGINS:
        problems.append(
            Warning(
                "CORS_ALLOW_ALL_ORIGINS is on: every origin gets a grant, not only those on a site's allow-list.",
                hint="Turn it off; crm_bridge grants each site's allowed origins itself.",
                id="crm_bridge.W004",
            )
        )
    return problems


@register(Tags.database)
def check_sqlite_concurrency(app_configs: Any = None, **kwargs: Any) -> list:
    """The web server and the Celery workers write the outbox at once; SQLite needs WAL, IMMEDIATE
    transactions and a busy timeout for that, or writers fail with "database is locked"."""
    db = settings.DATABASES.get("default", {})
    if db.get("ENGINE") != "django.db.backends.sqlite3":
        return []
    options = db.get("OPTIONS", {})
    if options.get("transaction_mode") == "IMMEDIATE" and "journal_mode=wal" in options.get(
        "init_command", ""
    ).lower().replace(" ", ""):
        return []
    return [
        Warning(
            "SQLite is used without WAL mode and IMMEDIATE transactions; web and worker processes writing at "
            'once will fail with "database is locked".',
            hint='DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30, '
            '"init_command": "PRAGMA journal_mode=WAL;"}',
            id="crm_bridge.W002",
        )
    ]
