"""Fixtures for the operations endpoints: a site, the broker the readiness check connects to, CRM_BRIDGE keys."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import current_app
from django.conf import settings as django_settings
from django.test import override_settings

from crm_bridge.models import Site

SITE_KEY = "SECRET-ops-site-key-5a4b3c"  # a CRM siteKey: must never appear in a health answer, a metric or a log
READY = "/crm/ops/health/ready"
LIVE = "/crm/ops/health/live"
METRICS = "/crm/ops/metrics"


@pytest.fixture
def site(db) -> Site:
    return Site.objects.create(name="Acme 示例", site_key=SITE_KEY, default_cust_id=1, allowed_origins=[])


@pytest.fixture
def broker_url(monkeypatch) -> Callable[[str], None]:
    """Point the Celery app's broker (what the broker check connects to, as CELERY_BROKER_URL would) at a URL;
    the in-memory transport until a test says otherwise, so the check passes without a server."""

    def point(url: str) -> None:
        monkeypatch.setattr(current_app.conf, "broker_url", url)

    point("memory://")
    return point


@pytest.fixture
def bridge() -> Iterator[Callable[..., Any]]:
    """``bridge(KEY=value, …)`` overrides those ``CRM_BRIDGE`` keys for the rest of the test."""
    active: list[override_settings] = []

    def apply(**overrides: Any) -> None:
        current = override_settings(CRM_BRIDGE={**django_settings.CRM_BRIDGE, **overrides})
        current.enable()
        active.append(current)

    yield apply
    for current in reversed(active):
        current.disable()


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then closed): connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A local port that accepts connections (the kernel completes the handshake) and never answers a byte:
    a hung broker. Without a read timeout a client would wait on it forever."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]
