"""The numbers on the admin index's crm_bridge dashboard, in a fixed handful of cheap queries.

:func:`dashboard_data` makes at most :data:`QUERIES` queries whatever the table sizes, each bounded by an index:
the submission counts by ``status`` and ``created_at`` (both indexed) in one aggregate; paused sites and circuit
rows (small tables); the newest delivery attempt's id and the last failed one among the newest
:data:`ERROR_WINDOW` attempts (a primary-key range, so no scan of the whole log); pending page views (the partial
``pending > 0`` index); and for the 14-day chart (:mod:`.chart`), the submissions of each day by status
(``TruncDate`` + filtered ``Count``, one query over the ``created_at`` index) and the CRM calls' durations by day
(one query, grouped by day and duration: exact percentiles without a percentile function in SQL).

Days are calendar days in the site's ``TIME_ZONE``; a day is counted by when a submission was *received*
(``created_at``), and its columns say where those submissions stand now.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from ..models import Circuit, DeliveryAttempt, HitCounter, Site, Submission

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise  # a str or a lazy translation (the statuses' labels)

__all__ = ["DAILY_STATUSES", "DAYS", "ERROR_WINDOW", "QUERIES", "Dashboard", "Day", "dashboard_data", "percentile"]

S = Submission.Status
#: How far back (in delivery attempts) the "last CRM error" looks.
ERROR_WINDOW = 5000
#: Queries :func:`dashboard_data` makes (one fewer while the attempt log is empty); the tests hold it to this.
QUERIES = 8
#: Days the chart shows, today included.
DAYS = 14
#: Statuses the chart counts per day (besides "received"), in display order.
DAILY_STATUSES = (S.DELIVERED, S.DUPLICATE, S.SPAM, S.FAILED)
#: Statuses counted for the last 24 hours, in display order.
RECENT_STATUSES = (S.DELIVERED, S.DUPLICATE, S.FAILED, S.SPAM, S.CANCELLED)
_ERROR_OUTCOMES = (
    DeliveryAttempt.Outcome.RETRY,
    DeliveryAttempt.Outcome.AUTH,
    DeliveryAttempt.Outcome.REJECTED,
    DeliveryAttempt.Outcome.AMBIGUOUS,
)


def percentile(counts: Counter[int] | dict[int, int], p: float) -> int | None:
    """The nearest-rank ``p``-th percentile of values given as ``{value: how many}``: the smallest value with at
    least ``p`` % of all values at or below it (so always one of the values). ``None`` for no values."""
    total = sum(counts.values())
    if not total:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: rank <= total")


@dataclass
class Day:
    """One calendar day of the chart: submissions received that day and where they stand now, and the CRM
    calls made that day (how many, nearest-rank p50/p95 of their durations in ms; ``None`` without calls)."""

    day: date
    received: int = 0
    delivered: int = 0
    duplicate: int = 0
    spam: int = 0
    failed: int = 0
    calls: int = 0
    p50_ms: int | None = None
    p95_ms: int | None = None

    @property
    def other(self) -> int:
        """Received that day and not in :data:`DAILY_STATUSES`: still waiting or sending, or cancelled."""
        return self.received - self.delivered - self.duplicate - self.spam - self.failed


@dataclass
class Dashboard:
    """What the dashboard template shows. Times are aware datetimes; ``recent`` maps status → count."""

    now: datetime
    since: datetime
    queued: int = 0
    sending: int = 0
    oldest_waiting: datetime | None = None
    recent: dict[str, int] = field(default_factory=dict)
    ambiguous_recent: int = 0
    paused_sites: list[Site] = field(default_factory=list)
    circuits: list[Circuit] = field(default_factory=list)
    last_error: DeliveryAttempt | None = None
    hits_pending: int = 0
    hit_counters_pending: int = 0
    #: The last :data:`DAYS` days, oldest first; every day present (0 when nothing happened).
    days: list[Day] = field(default_factory=list)
    #: p50/p95 (ms) and count of the CRM calls of all those days together.
    calls: int = 0
    p50_ms: int | None = None
    p95_ms: int | None = None

    @property
    def backlog(self) -> int:
        return self.queued + self.sending

    @property
    def oldest_waiting_age(self) -> timedelta | None:
        return self.now - self.oldest_waiting if self.oldest_waiting else None

    @property
    def recent_rows(self) -> list[tuple[str, StrOrPromise, int]]:
        """``(status, label, count)`` for the last 24 hours, in display order."""
        return [(s.value, s.label, self.recent.get(s.value, 0)) for s in RECENT_STATUSES]

    @property
    def healthy(self) -> bool:
        # A refused token (``Circuit.token_paused_at``) holds every site's leads: not healthy either.
        return not self.paused_sites and all(
            c.state == Circuit.State.CLOSED and c.token_paused_at is None for c in self.circuits
        )


def dashboard_data(now: datetime | None = None) -> Dashboard:
    """Collect the dashboard's numbers (:data:`QUERIES` queries; one fewer with an empty attempt log), the chart's
    :data:`DAYS` days ending on ``now``'s day in ``TIME_ZONE`` included."""
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    board = Dashboard(now=now, since=since)

    waiting = Q(status__in=[S.QUEUED, S.SENDING])
    recent = Q(created_at__gte=since)
    # One pass over the rows that are waiting or new; each side of the OR is served by an index.
    aggregates: dict[str, Any] = {
        "queued": Count("pk", filter=Q(status=S.QUEUED)),
        "sending": Count("pk", filter=Q(status=S.SENDING)),
        "oldest": Min("created_at", filter=waiting),
        "ambiguous": Sum("ambiguous_sends", filter=recent),
    }
    for status in RECENT_STATUSES:
        aggregates[f"recent_{status.value}"] = Count("pk", filter=recent & Q(status=status))
    row = Submission.objects.filter(waiting | recent).aggregate(**aggregates)
    board.queued, board.sending, board.oldest_waiting = row["queued"], row["sending"], row["oldest"]
    board.ambiguous_recent = row["ambiguous"] or 0
    board.recent = {s.value: row[f"recent_{s.value}"] for s in RECENT_STATUSES}

    board.paused_sites = list(Site.objects.filter(paused_at__isnull=False).order_by("paused_at"))
    board.circuits = list(Circuit.objects.order_by("name"))

    newest = DeliveryAttempt.objects.aggregate(newest=Max("pk"))["newest"]
    if newest is not None:
        board.last_error = (
            DeliveryAttempt.objects.filter(pk__gt=newest - ERROR_WINDOW, outcome__in=_ERROR_OUTCOMES)
            .order_by("-pk")
            .first()
        )

    hits = HitCounter.objects.filter(pending__gt=0).aggregate(total=Sum("pending"), counters=Count("pk"))
    board.hits_pending, board.hit_counters_pending = hits["total"] or 0, hits["counters"]
    _daily(board)
    return board


def _daily(board: Dashboard) -> None:
    """Fill ``board.days`` and the 14-day latency (two queries)."""
    zone = timezone.get_default_timezone()
    today = timezone.localtime(board.now, zone).date()
    first = today - timedelta(days=DAYS - 1)
    start = datetime.combine(first, time.min, tzinfo=zone)
    days = {first + timedelta(days=i): Day(first + timedelta(days=i)) for i in range(DAYS)}

    counts: dict[str, Any] = {"received": Count("pk")}
    for status in DAILY_STATUSES:
        counts[status.value] = Count("pk", filter=Q(status=status))
    per_day = (
        Submission.objects.filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(**counts)
        .order_by()
    )
    for row in per_day:
        if row["day"] in days:  # a row stamped after now (clock skew) has no column
            day = days[row["day"]]
            day.received = row["received"]
            for status in DAILY_STATUSES:
                setattr(day, status.value, row[status.value])

    # Each (day, duration) once with its count: at most DAYS x distinct durations rows, however many calls.
    durations = (
        DeliveryAttempt.objects.filter(started_at__gte=start)
        .exclude(outcome=DeliveryAttempt.Outcome.SKIPPED)  # no CRM call was made
        .annotate(day=TruncDate("started_at", tzinfo=zone))
        .values("day", "duration_ms")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_day: dict[date, Counter[int]] = {d: Counter() for d in days}
    for row in durations:
        if row["day"] in by_day:
            by_day[row["day"]][row["duration_ms"]] += row["n"]
    overall: Counter[int] = Counter()
    for d, found in by_day.items():
        days[d].calls = sum(found.values())
        days[d].p50_ms, days[d].p95_ms = percentile(found, 50), percentile(found, 95)
        overall.update(found)
    board.days = list(days.values())
    board.calls = sum(overall.values())
    board.p50_ms, board.p95_ms = percentile(overall, 50), percentile(overall, 95)
