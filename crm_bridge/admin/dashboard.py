"""The numbers on the admin index's crm_bridge dashboard, in a fixed handful of cheap queries.

:func:`dashboard_data` makes at most :data:`QUERIES` queries whatever the table sizes, each bounded by an index:
the submission counts by ``status`` and ``created_at`` (both indexed) in one aggregate; paused sites and circuit
rows (small tables); the newest delivery attempt's id and the last failed one among the newest
:data:`ERROR_WINDOW` attempts (a primary-key range, so no scan of the whole log); pending page views (the partial
``pending > 0`` index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from ..models import Circuit, DeliveryAttempt, HitCounter, Site, Submission

__all__ = ["ERROR_WINDOW", "QUERIES", "Dashboard", "dashboard_data"]

S = Submission.Status
#: How far back (in delivery attempts) the "last CRM error" looks.
ERROR_WINDOW = 5000
#: Queries :func:`dashboard_data` makes (one fewer while the attempt log is empty); the tests hold it to this.
QUERIES = 6
#: Statuses counted for the last 24 hours, in display order.
RECENT_STATUSES = (S.DELIVERED, S.DUPLICATE, S.FAILED, S.SPAM, S.CANCELLED)
_ERROR_OUTCOMES = (
    DeliveryAttempt.Outcome.RETRY,
    DeliveryAttempt.Outcome.AUTH,
    DeliveryAttempt.Outcome.REJECTED,
    DeliveryAttempt.Outcome.AMBIGUOUS,
)


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

    @property
    def backlog(self) -> int:
        return self.queued + self.sending

    @property
    def oldest_waiting_age(self) -> timedelta | None:
        return self.now - self.oldest_waiting if self.oldest_waiting else None

    @property
    def recent_rows(self) -> list[tuple[str, str, int]]:
        """``(status, label, count)`` for the last 24 hours, in display order."""
        return [(s.value, s.label, self.recent.get(s.value, 0)) for s in RECENT_STATUSES]

    @property
    def healthy(self) -> bool:
        # A refused token (``Circuit.token_paused_at``) holds every site's leads: not healthy either.
        return not self.paused_sites and all(
            c.state == Circuit.State.CLOSED and c.token_paused_at is None for c in self.circuits
        )


def dashboard_data(now: datetime | None = None) -> Dashboard:
    """Collect the dashboard's numbers (:data:`QUERIES` queries; one fewer with an empty attempt log)."""
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
    return board
