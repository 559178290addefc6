"""The abuse suite's tally (its summary line ``abuse: requests=N 5xx=0 leaks=0 unescaped=0 refused_as_expected=M``)
and the helpers that count into it; tests/abuse/conftest.py prints the line at the end of a run.

A plain module, not the conftest, so that abuse tests outside tests/abuse (the whole-API fuzz in
tests/api/test_fuzz.py) count into the same tally.

Fields: ``requests`` — answers the suite looked at (HTTP requests, plus a few non-HTTP scans such as the widget
script file); ``5xx`` — server errors among them; ``leaks`` — spellings of a secret or of personal data found by
:func:`scan_secrets`; ``unescaped`` — hostile markup found raw in a page by :func:`scan_escaped`;
``refused_as_expected`` — refusals a test expected and got (a 4xx, a redirect to the login page, a CORS grant
withheld, a documented 4xx of the fuzzers). Any 5xx, leak or unescaped string also fails its test.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import pytest

from tests.admin.conftest import secret_variants

__all__ = ["RAW_MARKUP", "TALLY", "Tally", "escaped", "refused", "scan_escaped", "scan_secrets", "seen"]


@dataclass
class Tally:
    requests: int = 0
    server_errors: int = 0
    leaks: int = 0
    unescaped: int = 0
    refused_as_expected: int = 0

    def line(self) -> str:
        return (
            f"abuse: requests={self.requests} 5xx={self.server_errors} leaks={self.leaks} "
            f"unescaped={self.unescaped} refused_as_expected={self.refused_as_expected}"
        )


TALLY = Tally()


def seen(response: Any) -> Any:
    """Count ``response`` (and a 5xx) and fail on a 5xx; returns it."""
    TALLY.requests += 1
    if response.status_code >= 500:
        TALLY.server_errors += 1
        pytest.fail(f"a 5xx answer: {response.status_code} {response.content[:300]!r}")
    return response


def refused(response: Any, *statuses: int) -> Any:
    """``response`` (counted) must have one of ``statuses``; counts one expected refusal."""
    seen(response)
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    TALLY.refused_as_expected += 1
    return response


def scan_secrets(text: str | bytes, secrets: list[str] | tuple[str, ...], where: str) -> None:
    """No spelling (raw, HTML-, URL-, JSON-escaped) of any of ``secrets`` in ``text``; a hit is a leak."""
    body = text.decode(errors="replace") if isinstance(text, bytes) else text
    for secret in secrets:
        if not secret:
            continue
        for variant in secret_variants(secret):
            if variant in body:
                TALLY.leaks += 1
                pytest.fail(f"{where}: a spelling of a secret or personal datum appears: {variant!r}")


#: The corpus's markup as it must never reach staff's HTML (the admin's own ``"><img src="/static/…`` is fine).
RAW_MARKUP = ("<script>alert(1)</script>", "<img src=x onerror", '"><img src=x')


def scan_escaped(page: str | bytes, where: str) -> None:
    """No hostile markup in ``page`` unescaped; template syntax stored as text, never evaluated."""
    body = page.decode(errors="replace") if isinstance(page, bytes) else page
    for raw in RAW_MARKUP:
        if raw in body:
            TALLY.unescaped += 1
            pytest.fail(f"{where}: unescaped {raw!r} in the page")


def escaped(value: str) -> str:
    return html.escape(value)
