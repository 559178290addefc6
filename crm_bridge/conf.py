"""The app's settings: one ``CRM_BRIDGE`` dict in the host project's settings, with documented defaults.

>>> from crm_bridge.conf import bridge_settings
>>> bridge_settings.READ_TIMEOUT
10.0

Unknown keys are an error (a typo must not silently fall back to a default). Values are re-read when tests
override ``CRM_BRIDGE`` (``setting_changed``). A required key that is missing raises
:class:`CRMBridgeImproperlyConfigured` naming the key. ``manage.py check`` reports the same problems up front
(``crm_bridge.checks``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

__all__ = ["DEFAULTS", "REQUIRED", "CRMBridgeImproperlyConfigured", "bridge_settings"]

#: Every key the ``CRM_BRIDGE`` dict may hold, with its default. ``REQUIRED`` keys have none.
DEFAULTS: dict[str, Any] = {
    # Where the tenant's handlers live: ``https://crm.example.com/WebApi/Handler/1.0/CRM/``.
    "BASE_URL": None,
    # The CRM access token (token-authenticated handlers). A secret: never sent to a browser or logged.
    "TOKEN": None,
    # Seconds to wait for a connection / for the reply once connected.
    "CONNECT_TIMEOUT": 3.05,
    "READ_TIMEOUT": 10.0,
    # Immediate retries for read-only calls on connection errors and 5xx (writes are never retried in-line;
    # delivery schedules those in the database).
    "READ_RETRIES": 2,
    # Reply format asked of the CRM: "json" or "xml".
    "FORMAT": "json",
    # --- delivery (design.md §5) ---
    # Retry back-off: BASE * 2**(attempt-1), full jitter, capped at MAX; give up (status failed, a dead letter
    # staff can retry) after MAX_ATTEMPTS or once a submission is MAX_AGE seconds old, whichever comes first.
    "RETRY_BASE_DELAY": 30.0,
    "RETRY_MAX_DELAY": 6 * 3600.0,
    "MAX_ATTEMPTS": 30,
    "MAX_AGE": 4 * 24 * 3600.0,
    # A worker's claim on a row; must exceed the longest delivery (3 CRM calls x timeouts x read retries).
    "LEASE_SECONDS": 180.0,
    # Rows the periodic sweep re-enqueues per run, and how often it runs (seconds).
    "SWEEP_BATCH": 500,
    "SWEEP_INTERVAL": 15.0,
    # A queued row handed to the broker this long ago without being claimed is handed over again: its message
    # was lost (broker restart, worker killed with it prefetched) or never published (broker down at intake).
    "REENQUEUE_AFTER": 120.0,
    # After a write whose outcome we never heard (a timeout after sending), the least wait before retrying it:
    # the CRM may still be processing it (IIS runs a request up to 110 s by default).
    "AMBIGUOUS_SETTLE": 120.0,
    # How long a lead waits before looking again when another lead with its name or phone is in flight.
    "LEAD_WAIT": 5.0,
    # How often page-view counters are flushed to the CRM (seconds).
    "HIT_FLUSH_INTERVAL": 60.0,
    # Circuit breaker: open after this many consecutive retryable failures; probe again after RESET seconds.
    "CIRCUIT_FAIL_MAX": 5,
    "CIRCUIT_RESET_TIMEOUT": 30.0,
    # Ceiling on CRM calls per second across all workers; hit flushes only use what leaves this share free.
    "CALLS_PER_SECOND": 20.0,
    "HIT_FLUSH_SHARE": 0.5,
    # Longest intake waits to hand a task to the broker; past it the sweep delivers the row instead.
    "ENQUEUE_TIMEOUT": 2.0,
    # --- intake (design.md §4) ---
    # Requests per client IP and per site (DRF rate strings).
    "THROTTLE_RATES": {"ip": "30/min", "site": "1200/min"},
    # Reverse proxies in front of the site whose X-Forwarded-For entries are trusted (DRF NUM_PROXIES).
    "NUM_PROXIES": 0,
    # A form filled faster than this (seconds) is held as spam.
    "MIN_FILL_SECONDS": 2.0,
    # Largest accepted widget request body (bytes).
    "MAX_BODY_BYTES": 16 * 1024,
    # How long an Idempotency-Key's first answer is kept (seconds).
    "IDEMPOTENCY_TTL": 24 * 3600.0,
    # --- alerts to staff (docs/alerts.md): a partial dict is merged over crm_bridge.alerts.conf.ALERT_DEFAULTS.
    "ALERTS": {},
}
REQUIRED = ("BASE_URL", "TOKEN")


class CRMBridgeImproperlyConfigured(ImproperlyConfigured):
    """A ``CRM_BRIDGE`` setting is missing or malformed; the message names the key to set."""


class _BridgeSettings:
    """Attribute access to ``settings.CRM_BRIDGE`` merged over :data:`DEFAULTS`."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, "CRM_BRIDGE", {})
        if not isinstance(value, dict):
            raise CRMBridgeImproperlyConfigured("settings.CRM_BRIDGE must be a dict")
        unknown = sorted(set(value) - set(DEFAULTS))
        if unknown:
            raise CRMBridgeImproperlyConfigured(
                f"Unknown key(s) in settings.CRM_BRIDGE: {', '.join(unknown)}. "
                f"Known keys: {', '.join(sorted(DEFAULTS))}."
            )
        return value

    def __getattr__(self, key: str) -> Any:
        if key not in DEFAULTS:
            raise AttributeError(f"No crm_bridge setting {key!r}")
        if self._cache is None:
            self._cache = {**DEFAULTS, **self.user_settings}
        value = self._cache[key]
        if value in (None, "") and key in REQUIRED:
            raise CRMBridgeImproperlyConfigured(
                f"settings.CRM_BRIDGE[{key!r}] is required: set it in your settings "
                f"(the demo reads it from the CRM_BRIDGE_{key} environment variable)."
            )
        return value

    def reload(self) -> None:
        self._cache = None


bridge_settings = _BridgeSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "CRM_BRIDGE":
        bridge_settings.reload()


setting_changed.connect(_reload)
