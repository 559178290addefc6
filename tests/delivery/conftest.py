"""Fixtures for delivery tests: the sandbox CRM over real HTTP, and waiting for what another process does."""

from __future__ import annotations

import pytest

from crm_bridge import testing

SANDBOX_PATH = "/WebApi/Handler/1.0/CRM/"


# `site` and `make_submission` come from tests/conftest.py (a site with the sandbox's siteKey).


@pytest.fixture
def sandbox_crm(live_server, settings):
    """The sandbox CRM served by a real threaded HTTP server (pytest-django's live_server), reset and seeded,
    with crm_bridge's client pointed at it. Short timeouts and no rate ceiling keep tests quick."""
    from crm_bridge.sandbox import control

    control.reset()
    settings.CRM_BRIDGE = testing.sandbox_settings(live_server.url)
    yield control
    control.clear_faults()


def wait_for(predicate, *, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` seconds pass (AssertionError).
    For effects another thread or process completes on its own schedule (a sandbox request still sleeping in a
    ``hang`` fault, a worker delivering)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
