"""Fixtures for the abuse suite: the widget API's site and helpers (tests/api), a shared tally of what the suite
saw, and the summary line ``abuse: requests=N 5xx=0 leaks=0 unescaped=0 refused_as_expected=M`` at the end.

Every request an abuse test makes goes through :func:`seen` (counts it, and any 5xx); every scan goes through
:func:`scan_secrets` / :func:`scan_escaped` (count a leak or an unescaped string, then fail); every refusal the
test expected is counted by :func:`refused`. The counts are the run's real ones, so a 5xx or a leak shows in the
line as well as in the failing test.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, fields
from typing import Any

import pytest

from tests.admin.conftest import secret_variants
from tests.api.conftest import (  # noqa: F401 - fixtures, registered by being imported here
    CRM_TOKEN,
    ORIGIN,
    SITE_KEY,
    _clean_cache,
    _english,
    client,
    lead,
    message,
    post,
    site_fields,
)


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


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if TALLY.requests or any(getattr(TALLY, f.name) for f in fields(TALLY)):
        terminalreporter.write_line(TALLY.line())


@pytest.fixture
def tally() -> Tally:
    return TALLY
