"""The chaos suite (marker ``chaos``): each scenario breaks a real part — the CRM, a worker, Redis, PostgreSQL,
an alert destination — while real submissions arrive, then counts in the sandbox CRM's own tables that nothing
was lost and nothing was sent twice (docs/reliability.md has the promises and the scenarios).

Every scenario reports one line through :func:`report`::

    chaos <name>: submitted=… delivered=… duplicates=… lost=… extra=… ambiguous_reported=… drain_s=…

and pytest prints them all at the end of the run, under "chaos summary" (README.md, "Reliability", carries the
last CI run's lines). A scenario reports its counts *before* asserting on them, so a failing run still shows
what it saw.
"""

from __future__ import annotations

import pytest

from tests.delivery.conftest import sandbox_crm
from tests.delivery.processes import empty_broker

from .summary import LINES, Summary, report

__all__ = ["LINES", "Summary", "empty_broker", "report", "sandbox_crm"]  # the fixtures: visible to every scenario


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if LINES:
        terminalreporter.section("chaos summary")
        for line in LINES:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _no_stale_broker_messages(empty_broker):
    """Every scenario starts its workers on an empty queue, and leaves one (``empty_broker``): earlier tests'
    hand-offs (and the sweep's repeats of rows they left waiting) would otherwise sit ahead of this scenario's
    messages, and a worker drains them at about one a second on the filesystem broker — long enough to miss a
    scenario's alert or drain deadline."""
    yield


@pytest.fixture
def chaos_site(site):
    """The shared ``site``, with a repeat lead's board note switched off: the board then holds only messages,
    so each message's count there is its delivery count."""
    site.post_duplicates_to_board = False
    site.save()
    return site


@pytest.fixture
def chaos_sandbox(sandbox_crm, settings):
    """The sandbox CRM (and the robot stand-ins) in the test process, over real HTTP (tests/delivery/conftest.py's
    ``sandbox_crm``: reset and seeded, faults cleared afterwards), with the test process's intake serving on
    FAST options and unthrottled (:data:`~tests.chaos.stack.OPEN_INTAKE`). Returns the CRM's URL; scenarios read
    it through :mod:`crm_bridge.sandbox.control`."""
    from tests.delivery.processes import FAST

    from .stack import OPEN_INTAKE

    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, **FAST, **OPEN_INTAKE}
    return settings.CRM_BRIDGE["BASE_URL"]


@pytest.fixture
def sandbox_process(transactional_db):
    """The sandbox CRM in its own process (``manage.py crm_sandbox``) on the test database, reset and seeded;
    it can be stopped (connections refused) and started again on the same port. Faults cleared at the end."""
    from crm_bridge.sandbox import control

    from .stack import SandboxProcess

    control.reset()
    server = SandboxProcess()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        control.clear_faults()


@pytest.fixture
def intake(live_server, sandbox_process, settings, chaos_site):
    """The real widget API over HTTP (pytest-django's live server) with the rate ceilings lifted, and the
    sandbox process as the configured CRM. Returns a :class:`~tests.chaos.stack.Intake`."""
    from crm_bridge import testing

    from .stack import CHAOS_OPTIONS, OPEN_INTAKE, Intake

    settings.CRM_BRIDGE = {**testing.sandbox_settings(sandbox_process.base_url), **CHAOS_OPTIONS, **OPEN_INTAKE}
    return Intake(live_server.url, chaos_site)
