"""What the edge scenarios (slow CRM, hostile replies, alert outage) share besides tests/chaos/stack.py (their
options, ``EDGE_OPTIONS``, and the widget client, whose answers and latencies they read): counting submissions in
the sandbox CRM's own tables, and reading a real worker's processes (memory, pool children, time-limit kills) from
/proc and its log.

The pattern is tests/delivery/test_worker.py's: pytest-django's live_server serves intake and the sandbox, and
tests/delivery/processes.py starts a real prefork worker and beat against them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from crm_bridge.models import Submission

from .summary import Summary

#: Worker log lines that mean Celery enforced a time limit or lost a pool child.
TIME_LIMIT_SIGNS = (
    "TimeLimitExceeded",
    "Soft time limit",
    "Hard time limit",
    "WorkerLostError",
    "exited with 'signal",
)


def p99(values: Iterable[float]) -> float:
    """The 99th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Tally:
    """What the sandbox CRM holds of the submitted texts: ``delivered`` distinct ones, ``extra`` repeats,
    ``missing`` the ones it never got."""

    delivered: int
    extra: int
    missing: tuple[str, ...]

    def summary(self, name: str, submitted: int, drain_s: float, **extras: object) -> Summary:
        """The scenario's summary line: ``submitted`` (answered 202), this tally's ``delivered`` and ``extra``,
        ``lost`` the submitted ones not delivered, and the outbox's duplicates and possibly repeated sends."""
        return Summary(
            name=name,
            submitted=submitted,
            delivered=self.delivered,
            duplicates=Submission.objects.filter(status="duplicate").count(),
            lost=submitted - self.delivered,
            extra=self.extra,
            ambiguous_reported=ambiguous_reported(),
            drain_s=drain_s,
            extras=tuple(extras.items()),
        )


def tally(sandbox, messages: Iterable[str] = (), leads: Iterable[str] = ()) -> Tally:
    """Count ``messages`` (board contents) and ``leads`` (customer names) in the sandbox's own tables."""
    wanted_messages, wanted_leads = list(messages), list(leads)
    # A board post is the message, then the visit's attribution lines, if any.
    board = Counter(m["content"].split("\n", 1)[0] for m in sandbox.messages())
    names = Counter(c["sName"] for c in sandbox.customers())
    found = [board[m] for m in wanted_messages] + [names[n] for n in wanted_leads]
    missing = tuple(w for w, n in zip([*wanted_messages, *wanted_leads], found, strict=True) if n == 0)
    return Tally(delivered=sum(1 for n in found if n), extra=sum(n - 1 for n in found if n > 1), missing=missing)


def finished() -> int:
    """Rows delivery is done with (delivered or recorded as duplicates)."""
    S = Submission.Status
    return Submission.objects.filter(status__in=[S.DELIVERED, S.DUPLICATE]).count()


def ambiguous_reported() -> int:
    return sum(Submission.objects.values_list("ambiguous_sends", flat=True))


# --- the worker's processes -------------------------------------------------------------------------------------


def pool_children(pid: int) -> list[int]:
    """The prefork pool's children of the worker's main process."""
    return sorted(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no {key}")


@dataclass(frozen=True)
class Memory:
    """Resident set (VmRSS) and its peak so far (VmHWM), in KiB, of the main process and each pool child."""

    rss_kb: dict[int, int]
    hwm_kb: dict[int, int]

    @classmethod
    def of_worker(cls, pid: int) -> Memory:
        pids = [pid, *pool_children(pid)]
        return cls({p: _status_kb(p, "VmRSS") for p in pids}, {p: _status_kb(p, "VmHWM") for p in pids})

    def max_rss_mb(self) -> float:
        return max(self.rss_kb.values()) / 1024

    def max_hwm_mb(self) -> float:
        return max(self.hwm_kb.values()) / 1024

    def peak_rise_mb(self, before: Memory) -> float:
        """The largest rise, in MiB, of any process's peak (VmHWM now) over its resident set in ``before``. Measured
        from the resident set, not the earlier peak: memory freed since then and taken again would hide under an
        earlier peak, so only a rise over what the process held counts."""
        return max(self.hwm_kb[p] - before.rss_kb[p] for p in before.rss_kb if p in self.hwm_kb) / 1024


def time_limit_lines(lines: Iterable[str]) -> list[str]:
    """Worker log lines saying a task hit a time limit or a pool child was lost."""
    return [line for line in lines if any(sign in line for sign in TIME_LIMIT_SIGNS)]


def task_seconds(lines: Iterable[str], task: str) -> list[float]:
    """How long each finished ``task`` ran, from the worker's "Task … succeeded in 1.23s" lines."""
    out = []
    for line in lines:
        if f"Task {task}[" in line and " succeeded in " in line:
            out.append(float(line.split(" succeeded in ", 1)[1].split("s", 1)[0]))
    return out
