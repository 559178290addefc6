"""The outbox state machine: claim, finish, reschedule, and the sweep (docs/architecture.md, "The outbox").

    queued ──claim──▶ sending ──▶ delivered | duplicate | failed
       ▲                 │
       └── retry later ──┘   (retryable error, circuit open, rate limit, a lead waiting on another)
    spam ──release──▶ queued        queued/failed ──cancel──▶ cancelled

Every transition is a conditional ``UPDATE … WHERE status = <expected>``: one row changed means the caller
owned it. That holds on every database (SQLite ignores ``select_for_update``), so two workers can never send
the same row. A claim is a lease: a ``sending`` row whose lease ran out (its worker died) goes back to
``queued`` in the sweep, with the attempt it spent still counted, which bounds a crash loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, Q
from django.dispatch import Signal
from django.utils import timezone

from .. import signals
from ..conf import bridge_settings
from ..models import Circuit, Submission
from . import storable
from .circuit import circuit_name

logger = logging.getLogger("crm_bridge.delivery")
S = Submission.Status

_FINAL_SIGNALS: dict[str, Signal] = {  # keyed by str: finish() takes the status as a str
    S.DELIVERED: signals.submission_delivered,
    S.DUPLICATE: signals.submission_duplicate,
    S.FAILED: signals.submission_failed,
}


def due_filter(now: datetime) -> Q:
    """Queued rows due by ``now`` whose credential is not paused (``delivery.pauses``): a message needs its
    site's siteKey, a lead the CRM token (one for every site, paused on the circuit row)."""
    token_paused = Circuit.objects.filter(name=circuit_name(), token_paused_at__isnull=False)
    credential_ok = Q(kind=Submission.Kind.MESSAGE, site__paused_at__isnull=True) | (
        Q(kind=Submission.Kind.LEAD) & ~Exists(token_paused)
    )
    # redacted_at: a row whose personal data was erased (retention, erasure request) is never sent again.
    return (
        Q(status=S.QUEUED, redacted_at__isnull=True)
        & credential_ok
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    )


def claim(submission_id: Any, now: datetime | None = None) -> Submission | None:
    """Take a due, queued row for this worker: status → sending, a lease, one attempt spent.

    Returns the row, or None when it is not due, not queued (another worker has it, or it is final), or the
    credential it needs is paused."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=bridge_settings.LEASE_SECONDS)
    due_ids = Submission.objects.filter(due_filter(now), pk=submission_id).values("pk")
    won = Submission.objects.filter(pk__in=due_ids, status=S.QUEUED).update(
        status=S.SENDING, lease_expires_at=lease, attempts=F("attempts") + 1, updated_at=now
    )
    if won != 1:
        return None
    return Submission.objects.select_related("site").get(pk=submission_id)


def claim_next(now: datetime | None = None) -> Submission | None:
    """Take the next due row (the longest waiting first, as the sweep orders them) with the same lease and
    attempt as :func:`claim`; None when nothing is due. A worker that has just delivered a row calls this to keep
    draining the outbox without waiting for one broker message per row.

    The pick and the claim are one transaction. On PostgreSQL the pick is ``FOR UPDATE SKIP LOCKED``, so workers
    draining at once take different rows instead of queueing on one; on SQLite the transaction is ``IMMEDIATE``
    (settings), which serialises it. The claim stays the conditional ``UPDATE … WHERE status = queued`` whatever
    the database does with the lock, so one row still has one sender."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=bridge_settings.LEASE_SECONDS)
    for _ in range(3):  # a lost race (a database without SKIP LOCKED) moves on to the next row
        with transaction.atomic():
            rows = Submission.objects.filter(due_filter(now)).order_by(
                F("next_attempt_at").asc(nulls_first=True), "created_at"
            )
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True, of=("self",))
            pk = rows.values_list("pk", flat=True).first()
            if pk is None:
                return None
            won = Submission.objects.filter(pk=pk, status=S.QUEUED).update(
                status=S.SENDING, lease_expires_at=lease, attempts=F("attempts") + 1, updated_at=now
            )
        if won == 1:
            return Submission.objects.select_related("site").get(pk=pk)
    return None


def _transition(sub: Submission, to: str, *, fields: dict[str, Any], now: datetime) -> bool:
    """Move a row we hold (status sending) to ``to``; False if we no longer hold it (lease lost). What came from
    the CRM or an exception (``last_error``, ``crm_reply``) is made storable here (:mod:`.storable`)."""
    if "last_error" in fields:
        fields["last_error"] = storable.text(fields["last_error"])
    if "crm_reply" in fields:
        fields["crm_reply"] = storable.json_value(fields["crm_reply"])
    # Fenced by the lease we claimed, not only by the status: a worker whose lease passed to another (the sweep
    # recovered the row, someone claimed it again) must not record over that worker's claim.
    changed = Submission.objects.filter(pk=sub.pk, status=S.SENDING, lease_expires_at=sub.lease_expires_at).update(
        status=to, lease_expires_at=None, updated_at=now, write_in_flight=False, **fields
    )
    if changed != 1 and not _already_moved(sub, to, now):
        logger.warning("lost the lease on %s before finishing it; another worker took over", sub.pk)
        return False
    for name, value in {"status": to, **fields}.items():
        if not hasattr(value, "resolve_expression"):
            setattr(sub, name, value)
    return True


def _already_moved(sub: Submission, to: str, now: datetime) -> bool:
    """True when the row already is where this very transition puts it: status ``to`` stamped with our ``now``.

    That happens when the ``UPDATE`` committed but its reply was lost (a dropped connection raises although the
    server applied it) and ``worker._record_answer`` runs the transition again: it is our own write, done, not
    another worker's (docs/delivery.md, "A database restart")."""
    return Submission.objects.filter(pk=sub.pk, status=to, updated_at=now, lease_expires_at=None).exists()


def finish(sub: Submission, status: str, *, reply: Any = None, error: str = "", now: datetime | None = None) -> bool:
    """Final state: delivered, duplicate or failed. Sends the matching signal once the row is committed."""
    now = now or timezone.now()
    done = _transition(
        sub, status, fields={"crm_reply": reply, "last_error": error, "finished_at": now, "next_attempt_at": None},
        now=now,
    )  # fmt: skip
    if done and status in _FINAL_SIGNALS:
        send = _FINAL_SIGNALS[status]
        transaction.on_commit(lambda: signals.send_logged(send, sub))
    return done


def retry_later(
    sub: Submission, *, delay: float, error: str = "", spend_attempt: bool = True, now: datetime | None = None
) -> bool:
    """Back to queued, due in ``delay`` seconds. ``spend_attempt=False`` hands back the attempt the claim took
    (the CRM was never asked: circuit open, rate limit, waiting on another lead, site paused)."""
    now = now or timezone.now()
    fields: dict[str, Any] = {"next_attempt_at": now + timedelta(seconds=delay)}
    if error:
        fields["last_error"] = error
    if not spend_attempt:
        fields["attempts"] = F("attempts") - 1
    return _transition(sub, S.QUEUED, fields=fields, now=now)


def out_of_attempts(sub: Submission, now: datetime) -> bool:
    age = (now - sub.created_at).total_seconds()
    return sub.attempts >= bridge_settings.MAX_ATTEMPTS or age >= bridge_settings.MAX_AGE


def recover_expired_leases(now: datetime | None = None) -> int:
    """``sending`` rows whose worker died: back to queued, due now (the attempt stays spent).

    A row that died in the middle of a write the CRM cannot de-duplicate (``write_in_flight``) may have been
    stored by the CRM already: its retry is a possible duplicate, counted in ``ambiguous_sends``."""
    now = now or timezone.now()
    expired = Submission.objects.filter(status=S.SENDING, lease_expires_at__lt=now)
    fields = {"status": S.QUEUED, "lease_expires_at": None, "next_attempt_at": now, "updated_at": now}
    mid_write = expired.filter(write_in_flight=True).update(
        write_in_flight=False, ambiguous_sends=F("ambiguous_sends") + 1, **fields
    )
    return mid_write + expired.update(**fields)


def sweep(*, enqueue: Callable[[str], bool], now: datetime | None = None, limit: int | None = None) -> int:
    """Re-enqueue what the broker may have lost; returns how many rows were handed over.

    A due row is handed over when it has not been handed over in the last ``REENQUEUE_AFTER`` seconds, or
    when it became due after its last hand-off (a scheduled retry). At most ``limit`` rows (default
    ``SWEEP_BATCH``; the circuit breaker passes 0 or 1 while the CRM is down). On PostgreSQL the batch is
    picked with ``FOR UPDATE SKIP LOCKED``, so two sweeps running at once split the work instead of doubling it.
    """
    now = now or timezone.now()
    recovered = recover_expired_leases(now)
    if recovered:
        logger.warning("recovered %d submission(s) whose worker lease expired", recovered)
    limit = bridge_settings.SWEEP_BATCH if limit is None else min(limit, bridge_settings.SWEEP_BATCH)
    if limit <= 0:
        return 0
    stale = now - timedelta(seconds=bridge_settings.REENQUEUE_AFTER)
    handed_over = Q(enqueued_at__lt=stale) | Q(next_attempt_at__gt=F("enqueued_at"))
    with transaction.atomic():
        rows = Submission.objects.filter(due_filter(now) & handed_over).order_by(
            F("next_attempt_at").asc(nulls_first=True), "created_at"
        )
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        ids = [str(pk) for pk in rows.values_list("pk", flat=True)[:limit]]
        Submission.objects.filter(pk__in=ids).update(enqueued_at=now)
    for pk in ids:
        enqueue(pk)
    return len(ids)
