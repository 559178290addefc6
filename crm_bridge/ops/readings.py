"""What readiness and metrics read from the database: one definition of "waiting", the CRM circuit, pauses.

Everything here is computed from tables every worker and machine shares, so any instance of the site answers
the same (docs/operations.md). Read-only; no personal data leaves these functions (counts, ages, states).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Case, Count, DateTimeField, F, Min, Q, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..conf import CRMBridgeImproperlyConfigured
from ..delivery import circuit, outbox
from ..models import Circuit, Site, Submission

__all__ = ["CircuitReading", "Waiting", "circuit_reading", "paused_sites", "waiting"]

S = Submission.Status


@dataclass(frozen=True)
class Waiting:
    """Rows waiting for a worker: ``count``, and how long the longest-waiting one has been due (seconds)."""

    count: int
    oldest_seconds: float


def waiting_filter(now: datetime) -> Q:
    """Due for a worker and not taken: queued and due (the outbox's own rule, which leaves paused sites out),
    or claimed by a worker whose lease ran out (it died; the sweep hands the row over again)."""
    return outbox.due_filter(now) | Q(status=S.SENDING, lease_expires_at__lte=now)


def waiting(now: datetime | None = None) -> Waiting:
    """How many rows wait for a worker and since when the oldest has: a queued row is due since its
    ``next_attempt_at`` (or its creation when it never failed), a claimed one since its lease ran out.

    This measures the delivery machinery (broker, workers, sweep), not the CRM: while the circuit is open rows
    are rescheduled into the future and are not waiting in this sense."""
    now = now or timezone.now()
    due_since = Case(
        When(status=S.SENDING, then=F("lease_expires_at")),
        default=Coalesce("next_attempt_at", "created_at"),
        output_field=DateTimeField(),
    )
    row = Submission.objects.filter(waiting_filter(now)).aggregate(n=Count("pk"), since=Min(due_since))
    since = row["since"]
    oldest = max(0.0, (now - since).total_seconds()) if since else 0.0
    return Waiting(count=row["n"], oldest_seconds=oldest)


@dataclass(frozen=True)
class CircuitReading:
    """The shared circuit of the CRM this site delivers to (``configured`` False: no ``BASE_URL`` set)."""

    configured: bool
    state: str
    failures: int
    retry_at: datetime | None


def circuit_reading() -> CircuitReading:
    """The circuit row of the configured CRM, read without creating it (no row yet: closed, never failed)."""
    try:
        name = circuit.circuit_name()
    except CRMBridgeImproperlyConfigured:
        return CircuitReading(configured=False, state=Circuit.State.CLOSED, failures=0, retry_at=None)
    row = Circuit.objects.filter(name=name).values("state", "failures", "retry_at").first()
    if row is None:
        return CircuitReading(configured=True, state=Circuit.State.CLOSED, failures=0, retry_at=None)
    return CircuitReading(configured=True, state=row["state"], failures=row["failures"], retry_at=row["retry_at"])


def paused_sites() -> int:
    """Active sites whose deliveries are paused (the CRM refused their credentials); 0 if the ``Site`` model
    has no ``paused_at`` (the pause may move elsewhere; readings stay tolerant of that)."""
    try:
        Site._meta.get_field("paused_at")
    except FieldDoesNotExist:
        return 0
    return Site.objects.filter(is_active=True, paused_at__isnull=False).count()
