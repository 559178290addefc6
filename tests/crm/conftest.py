"""Fixtures for the CRM client's tests: a real local HTTP server and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_bridge.crm import CRMClient

from .fake_server import FakeCRM

TOKEN = "tok/SECRET+4242 xyz"  # characters that change under form-, URL-, JSON- and HTML-encoding
SITE_KEY = "sk-SECRET-<9999>&"


@pytest.fixture
def fake_crm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCRM]:
    # requests honours *_PROXY variables; a proxy on the CI machine must not sit between us and 127.0.0.1.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server = FakeCRM()
    yield server
    server.close()


@pytest.fixture
def make_client(fake_crm: FakeCRM) -> Iterator:
    """``make_client(**config_fields)``: a client for the fake server with fast back-off; closed afterwards."""
    made: list[CRMClient] = []

    def make(**fields: object) -> CRMClient:
        settings = {
            "base_url": fake_crm.base_url,
            "token": TOKEN,
            "site_key": SITE_KEY,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "retry_backoff": 0.01,
            "retry_backoff_max": 0.02,
            **fields,
        }
        client = CRMClient(**settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
