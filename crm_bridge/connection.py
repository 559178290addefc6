"""The process's CRM client, built from ``settings.CRM_BRIDGE``.

>>> from crm_bridge.connection import get_client
>>> get_client().customer.name_is_repeat(s_name="上海某某公司", id=0)  # doctest: +SKIP
False

One client per process, so every caller shares one connection pool. It is rebuilt when the ``CRM_BRIDGE``
setting changes (tests' ``override_settings`` / pytest-django's ``settings``) and after a fork (a Celery prefork
child must not share its parent's sockets). ECommerce calls take a per-site key:
``get_client().with_site_key(site.site_key)`` shares the same pool.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import bridge_settings
from .crm import ClientConfig, CRMClient

__all__ = ["build_client", "get_client", "reset_client"]

_lock = threading.Lock()
_client: CRMClient | None = None
_client_pid: int | None = None


def build_client(**overrides: Any) -> CRMClient:
    """A new client from the current settings (``overrides`` replace ``ClientConfig`` fields). Raises
    ``CRMBridgeImproperlyConfigured`` naming the ``CRM_BRIDGE`` key when a required one is missing."""
    config = ClientConfig(
        base_url=bridge_settings.BASE_URL,
        token=bridge_settings.TOKEN,
        connect_timeout=bridge_settings.CONNECT_TIMEOUT,
        read_timeout=bridge_settings.READ_TIMEOUT,
        read_retries=bridge_settings.READ_RETRIES,
        format=bridge_settings.FORMAT,
    )
    return CRMClient(config, **overrides)


def get_client() -> CRMClient:
    """The shared client for this process (built on first use)."""
    global _client, _client_pid
    pid = os.getpid()
    with _lock:
        if _client is None or _client_pid != pid:
            # After a fork the parent's client (and its pooled sockets) is left alone, not closed: the parent
            # may still be using those connections.
            _client = build_client()
            _client_pid = pid
        return _client


def reset_client() -> None:
    """Drop the shared client (closing its session); the next :func:`get_client` builds a new one."""
    global _client, _client_pid
    with _lock:
        old, old_pid = _client, _client_pid
        _client, _client_pid = None, None
    if old is not None and old_pid == os.getpid():  # a parent's client is the parent's to close
        old.close()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "CRM_BRIDGE":
        reset_client()
