"""Fixtures for the widget API tests: a site, a client, and a clean cache (throttle counters, CORS origins)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from crm_bridge import broker
from crm_bridge.intake.sites import PUBLIC_KEY_RE
from crm_bridge.models import Site

BASE = "/crm/widget/v1/"
ORIGIN = "https://shop.example.com"
SITE_KEY = "SECRET-crm-site-key-9f8e7d"  # the CRM siteKey: must never be served
CRM_TOKEN = "sandbox-token"  # config/settings.py's default CRM_BRIDGE["TOKEN"]


@pytest.fixture(autouse=True)
def _english(english):
    pass


@pytest.fixture(autouse=True)
def _clean_cache(db):
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def site_fields() -> dict[str, Any]:
    return {"name": "Shop", "site_key": SITE_KEY, "allowed_origins": [ORIGIN], "default_cust_id": 7}


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def post(client: APIClient) -> Callable[..., Any]:
    """``post("messages", {...}, origin=..., idem=..., content_type=..., raw=...)`` → response.

    A message or lead whose body names a site's key and says nothing of consent gets ``consent: true`` and the
    site's notice ``version``, as the real widget sends them once the visitor ticked the box (sites require
    consent by default); tests of consent itself pass ``consent`` (or ``raw``) explicitly."""

    def _post(
        endpoint: str,
        data: dict[str, Any] | None = None,
        *,
        origin: str | None = ORIGIN,
        idem: str | None = None,
        content_type: str = "application/json",
        raw: bytes | str | None = None,
        **extra: str,
    ):
        headers = dict(extra)
        if origin is not None:
            headers["HTTP_ORIGIN"] = origin
        if idem is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = idem
        data = with_consent(endpoint, data)
        body = raw if raw is not None else json.dumps(data or {})
        return client.generic("POST", BASE + endpoint, body, content_type=content_type, **headers)

    return _post


def with_consent(endpoint: str, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """``data`` plus the consent a real widget sends (see ``post``), unless it already says something about it."""
    if endpoint not in ("messages", "leads") or not isinstance(data, dict) or "consent" in data:
        return data
    key = data.get("key")
    # Only a well-formed key is looked up (as intake does): PostgreSQL refuses a NUL in a query parameter.
    site = (
        Site.objects.filter(public_key=key).first() if isinstance(key, str) and PUBLIC_KEY_RE.fullmatch(key) else None
    )
    if site is None:
        return data
    return {**data, "consent": True, "version": site.privacy_version}


def enqueued_ids(callbacks: list[Callable[[], Any]]) -> list[str]:
    """Submission ids handed to the broker (``broker.enqueue_delivery_soon``) by the captured on_commit callbacks."""
    return [cb.args[0] for cb in callbacks if isinstance(cb, partial) and cb.func is broker.enqueue_delivery_soon]


def bridge(**overrides: Any):
    """``override_settings`` for ``CRM_BRIDGE``, keeping the project's keys and replacing the given ones."""
    from django.conf import settings
    from django.test import override_settings

    return override_settings(CRM_BRIDGE={**settings.CRM_BRIDGE, **overrides})


@pytest.fixture
def message(site: Site) -> dict[str, Any]:
    return {
        "key": site.public_key,
        "content": "请尽快联系我",
        "contact": "微信 abc",
        "page_url": ORIGIN + "/p/1",
        "consent": True,
        "version": site.privacy_version,
    }


@pytest.fixture
def lead(site: Site) -> dict[str, Any]:
    return {
        "key": site.public_key,
        "name": "王小明",
        "tel": "138 0013 8000",
        "company": "示例公司",
        "email": "wang@example.com",
        "message": "想了解价格",
        "page_url": ORIGIN + "/products/9",
        "consent": True,
        "version": site.privacy_version,
    }
