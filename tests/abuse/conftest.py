"""Fixtures for the abuse suite: the widget API's site and helpers (tests/api), a shared tally of what the suite
saw, and the summary line ``abuse: requests=N 5xx=0 leaks=0 unescaped=0 refused_as_expected=M`` at the end.

The tally and its helpers live in tests/abuse/tally.py (the field meanings are there). Every request an abuse
test makes goes through :func:`seen` (counts it, and any 5xx); every scan goes through
:func:`scan_secrets` / :func:`scan_escaped` (count a leak or an unescaped string, then fail); every refusal the
test expected is counted by :func:`refused`. The counts are the run's real ones, so a 5xx or a leak shows in the
line as well as in the failing test.
"""

from __future__ import annotations

from dataclasses import fields

import pytest

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

from .tally import (  # noqa: F401 - re-exported: the suite's tests import them from here
    RAW_MARKUP,
    TALLY,
    Tally,
    escaped,
    refused,
    scan_escaped,
    scan_secrets,
    seen,
)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if TALLY.requests or any(getattr(TALLY, f.name) for f in fields(TALLY)):
        terminalreporter.write_line(TALLY.line())


@pytest.fixture
def tally() -> Tally:
    return TALLY
