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

from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """One scenario's counts. ``submitted``: accepted by intake (202); ``delivered``: reached the CRM, counted
    there; ``duplicates``: leads the CRM already had (recorded as duplicates, by design); ``lost``: accepted but
    never delivered; ``extra``: delivered more than once; ``ambiguous_reported``: sends the outbox reported as
    possibly repeated; ``drain_s``: from the fault's end to the last delivery. ``extras`` adds scenario-specific
    figures (``name=value``) at the end of the line."""

    name: str
    submitted: int
    delivered: int
    duplicates: int
    lost: int
    extra: int
    ambiguous_reported: int
    drain_s: float
    extras: tuple[tuple[str, object], ...] = ()

    def line(self) -> str:
        tail = "".join(f" {k}={v}" for k, v in self.extras)
        return (
            f"chaos {self.name}: submitted={self.submitted} delivered={self.delivered} "
            f"duplicates={self.duplicates} lost={self.lost} extra={self.extra} "
            f"ambiguous_reported={self.ambiguous_reported} drain_s={self.drain_s:.1f}{tail}"
        )


LINES: list[str] = []


def report(summary: Summary) -> None:
    """Record ``summary`` for the end-of-run section (and print it now, for ``-s`` runs)."""
    line = summary.line()
    LINES.append(line)
    print(line)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if LINES:
        terminalreporter.section("chaos summary")
        for line in LINES:
            terminalreporter.write_line(line)
