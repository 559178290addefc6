"""Fixtures for the sandbox's own tests: a freshly reset sandbox per test, and ``crm`` — a tiny caller
that talks to the ``.ashx`` URLs through Django's test client, adding the right credential."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from crm_bridge.crm import spec
from crm_bridge.sandbox import control, faults

TOKEN = "test-token"
SITE_KEY = "test-site-key"
OTHER_SITE_KEY = "other-site-key"


def url(path: str) -> str:
    return "/" + spec.get_endpoint(path).url_path


class CRM:
    """Calls sandbox handlers: ``crm.post("Customer/Get", id=1)`` → the response; ``crm.value(...)`` →
    the ``value`` of a 200 JSON reply (asserting it is one)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def params(self, path: str, params: dict[str, Any], auth: bool) -> dict[str, Any]:
        if auth:
            key = spec.get_endpoint(path).auth
            params = {key: TOKEN if key == "token" else SITE_KEY, **params}
        return {k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for k, v in params.items()}

    def post(self, path: str, *, auth: bool = True, **params: Any):
        return self.client.post(url(path), self.params(path, params, auth))

    def get(self, path: str, *, auth: bool = True, **params: Any):
        return self.client.get(url(path), self.params(path, params, auth))

    def value(self, path: str, **params: Any) -> Any:
        response = self.post(path, **params)
        assert response.status_code == 200, response.content.decode()
        assert response["Content-Type"] == "application/json; charset=utf-8"
        body = response.json()
        assert set(body) == {"value"}, body
        return body["value"]

    def error(self, path: str, *, auth: bool = True, **params: Any) -> tuple[int, int, str]:
        """(HTTP status, error_code, error message) of a JSON error reply."""
        response = self.post(path, auth=auth, **params)
        body = response.json()
        assert body["request"] == url(path), body
        return response.status_code, body["error_code"], body["error"]


@pytest.fixture(autouse=True)
def sandbox(db, settings) -> Any:
    """A sandbox in its seeded state, accepting TOKEN and two site keys."""
    settings.CRM_SANDBOX = {"TOKENS": [TOKEN], "SITE_KEYS": [SITE_KEY, OTHER_SITE_KEY]}
    control.reset()
    return control


@pytest.fixture
def crm(client: Client) -> CRM:
    return CRM(client)


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """The delays slow/hang faults asked for, instead of sleeping through them."""
    delays: list[float] = []
    monkeypatch.setattr(faults, "sleep", delays.append)
    return delays
