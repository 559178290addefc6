"""Fixtures for the admin tests: sites with a recognisable secret, outbox rows, and a scanner for secrets."""

from __future__ import annotations

import html
import itertools
import json
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from crm_bridge.models import Submission

#: The CRM siteKey of the test site. Characters that change under HTML, URL and JSON escaping, so the scan
#: below would also catch an escaped copy.
SITE_KEY = "sk-ADMIN-Secret/7Q9x+<k>&'\"end"
OTHER_KEY = "sk-OTHER-Secret-51ab"
_counter = itertools.count(1)


def secret_variants(secret: str) -> set[str]:
    """Every spelling of ``secret`` a page could carry it in."""
    return {
        secret,
        html.escape(secret),
        html.escape(secret, quote=False),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(html.escape(secret))[1:-1],
    }


def assert_no_secret(body: bytes | str, *secrets: str) -> None:
    text = body.decode() if isinstance(body, bytes) else body
    for secret in secrets:
        for variant in secret_variants(secret):
            assert variant not in text, f"a spelling of a secret appears in the page: {variant!r}"


@pytest.fixture(autouse=True)
def _english(english):
    pass


@pytest.fixture
def site_fields(site_fields) -> dict[str, Any]:
    return {**site_fields, "name": "Acme 测试", "site_key": SITE_KEY}


@pytest.fixture
def make_submission(make_submission):
    """The shared helper, with leads whose phone is typed as people type it and no company: what the admin's
    search must cope with."""

    def make(kind: str = "message", **fields: Any) -> Submission:
        if kind == "lead":
            n = next(_counter)
            tel = f"139{n:08d}"
            fields["payload"] = {"name": f"访客{n}", "tel": f"{tel[:3]} {tel[3:7]} {tel[7:]}", "tel_e164": f"+86{tel}",
                                 "company": "", **fields.get("payload", {})}  # fmt: skip
        return make_submission(kind, **fields)

    return make


@pytest.fixture
def enqueued(monkeypatch) -> list[str]:
    """Submission ids handed to the broker (``tasks.enqueue_delivery`` replaced by a recorder)."""
    calls: list[str] = []
    monkeypatch.setattr("crm_bridge.broker.enqueue_delivery", lambda sid: calls.append(str(sid)) or True)
    return calls
