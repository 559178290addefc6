"""The alert settings: ``CRM_BRIDGE["ALERTS"]``, a dict merged over :data:`ALERT_DEFAULTS` (unknown keys are an
error, like the rest of ``CRM_BRIDGE``)."""

from __future__ import annotations

from typing import Any

from ..conf import CRMBridgeImproperlyConfigured, bridge_settings

__all__ = ["ALERT_DEFAULTS", "alert_setting"]

ALERT_DEFAULTS: dict[str, Any] = {
    # Messages one destination may receive in any 60 seconds. WeCom and DingTalk group robots allow 20 a minute
    # and then throttle for minutes (Feishu: 100/min, 5/s); past the budget, due alerts are batched.
    "RATE_PER_MINUTE": 20,
    # Most alerts listed in one summary message (robots cap a text at 2-20 KB; WeCom's text at 2048 bytes).
    "BATCH_SIZE": 15,
    # Attempts per alert before it is a dead letter (status failed); back-off as for CRM deliveries.
    "MAX_ATTEMPTS": 20,
    # Longest wait between attempts (seconds): the caps the CRM back-off uses are far too long for an alert.
    "MAX_RETRY_DELAY": 600.0,
    # A worker's claim on a destination and its alerts; must exceed a send (timeouts x a batch).
    "LEASE_SECONDS": 60.0,
    # Seconds to connect to / wait for a robot or mail server.
    "CONNECT_TIMEOUT": 3.05,
    "READ_TIMEOUT": 5.0,
    # Alarm when the CRM circuit has been open this many minutes.
    "CIRCUIT_ALARM_MINUTES": 10.0,
    # How often the periodic alert sweep runs (seconds).
    "SWEEP_INTERVAL": 15.0,
    # Prefix for the admin links in alerts ("https://crm-bridge.example.com"); empty: a path only.
    "ADMIN_BASE_URL": "",
}


def alert_setting(key: str) -> Any:
    """The value of ``CRM_BRIDGE["ALERTS"][key]``, or its default."""
    user = bridge_settings.ALERTS or {}
    if not isinstance(user, dict):
        raise CRMBridgeImproperlyConfigured("settings.CRM_BRIDGE['ALERTS'] must be a dict")
    unknown = sorted(set(user) - set(ALERT_DEFAULTS))
    if unknown:
        raise CRMBridgeImproperlyConfigured(
            f"Unknown key(s) in settings.CRM_BRIDGE['ALERTS']: {', '.join(unknown)}. "
            f"Known keys: {', '.join(sorted(ALERT_DEFAULTS))}."
        )
    return {**ALERT_DEFAULTS, **user}[key]
