"""The chaos suite's summary line (``Summary``, ``report``), importable from any test directory: the browser
scenario in tests/widget reports through it too. tests/chaos/conftest.py prints the collected lines at the end
of the run (and re-exports these names)."""

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
