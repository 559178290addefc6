"""Fixtures for delivery tests: a Site, submissions in the outbox, and the sandbox CRM over real HTTP."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from crm_bridge.models import Site, Submission

SANDBOX_PATH = "/WebApi/Handler/1.0/CRM/"
_counter = itertools.count(1)


@pytest.fixture
def site(db) -> Site:
    return Site.objects.create(
        name="Acme", site_key="sandbox-site-key", default_cust_id=1, allowed_origins=["https://acme.example"]
    )


@pytest.fixture
def make_submission(site):
    """Create an outbox row as intake would (payload keys exactly as intake stores them)."""

    def make(kind: str = "message", *, site: Site = site, status: str = "queued", **fields: Any) -> Submission:
        n = next(_counter)
        if kind == "message":
            payload = {"content": f"留言 {n}", "contact": "", "page_url": ""}
        else:
            tel = f"139{n:08d}"
            payload = {
                "name": f"访客{n}", "tel": tel, "tel_e164": f"+86{tel}", "company": f"公司{n}",
                "email": "", "message": "", "page_url": "",
            }  # fmt: skip
        payload.update(fields.pop("payload", {}))
        return Submission.objects.create(site=site, kind=kind, payload=payload, status=status, **fields)

    return make


@pytest.fixture
def sandbox_crm(live_server, settings):
    """The sandbox CRM served by a real threaded HTTP server (pytest-django's live_server), reset and seeded,
    with crm_bridge's client pointed at it. Short timeouts and no rate ceiling keep tests quick."""
    from crm_bridge.sandbox import control

    control.reset()
    settings.CRM_BRIDGE = {
        "BASE_URL": live_server.url + SANDBOX_PATH,
        "TOKEN": "sandbox-token",
        "CONNECT_TIMEOUT": 2.0,
        "READ_TIMEOUT": 2.0,
        "READ_RETRIES": 0,
        "CALLS_PER_SECOND": 0,
    }
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
