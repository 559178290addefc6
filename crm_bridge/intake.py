"""Intake: store what the widget sent, and answer. It only writes to the database — never calls the CRM — so
its answer and its latency do not depend on the CRM's health (design.md §4, §5).

* :func:`submit` stores a message or lead as a ``Submission`` (queued, or held as spam) and hands queued rows
  to the broker once the transaction commits.
* :func:`add_hits` adds page views to the per-(site, pkid) counters that a periodic flush sends.
* Both take an optional :class:`Idempotency` and then record their answer in the same transaction, so a repeat
  of the same request gets the first answer back and creates nothing (Stripe's model). :func:`replay` answers
  such a repeat without doing the work again.
* :func:`purge_idempotency_records` deletes records older than ``IDEMPOTENCY_TTL`` (schedule it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from . import signals, tasks
from .conf import bridge_settings
from .models import HitCounter, IdempotencyRecord, Site, Submission

__all__ = [
    "Answer",
    "Idempotency",
    "IdempotencyMismatch",
    "add_hits",
    "fake_answer",
    "fingerprint",
    "purge_idempotency_records",
    "replay",
    "submit",
]

logger = logging.getLogger("crm_bridge.intake")

ORIGIN_MAX = Submission._meta.get_field("origin").max_length
USER_AGENT_MAX = Submission._meta.get_field("user_agent").max_length
PAGE_URL_MAX = Submission._meta.get_field("page_url").max_length


@dataclass(frozen=True)
class Answer:
    """What the API answers: an HTTP status and a JSON body. ``replayed`` marks a stored first answer."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class Idempotency:
    """An ``Idempotency-Key`` with what it was sent to (``endpoint``) and the request's ``fingerprint``."""

    key: str
    endpoint: str
    fingerprint: str


class IdempotencyMismatch(Exception):
    """The key was first used for a different request (another body or endpoint): answer 422, do nothing."""


@dataclass(frozen=True)
class Client:
    """Where a submission came from, for staff (stored truncated to the columns' sizes)."""

    origin: str = ""
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: Any) -> Client:
        return cls(origin=request.headers.get("Origin", ""), user_agent=request.headers.get("User-Agent", ""))


def fingerprint(data: Any) -> str:
    """SHA-256 of the request body as canonical JSON (sorted keys, no whitespace).

    Canonical rather than raw bytes so that the same request re-serialised (a widget re-sending from
    ``localStorage``, a ``text/plain`` beacon of the same JSON) is recognised as the same request.
    """
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fake_answer() -> Answer:
    """The answer a honeypot hit gets: indistinguishable from a real one, but nothing is stored."""
    return Answer(202, {"id": str(uuid.uuid4()), "status": "queued"})


def _expiry(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=float(bridge_settings.IDEMPOTENCY_TTL))


def replay(site: Site, idem: Idempotency) -> Answer | None:
    """The stored first answer for ``idem`` on ``site``, or ``None`` if the key is new (or its record expired).

    Raises :class:`IdempotencyMismatch` if the key was first used with another body or endpoint.
    """
    record = IdempotencyRecord.objects.filter(site=site, key=idem.key).first()
    if record is None:
        return None
    if record.created_at < _expiry():
        # Past its TTL the key is free again; delete this very record (not one a concurrent request just made).
        IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
        return None
    if record.endpoint != idem.endpoint or record.fingerprint != idem.fingerprint:
        raise IdempotencyMismatch(idem.key)
    return Answer(record.status_code, record.body, replayed=True)


def _once(site: Site, idem: Idempotency | None, work: Callable[[], Answer]) -> Answer:
    """Run ``work`` in a transaction and, with a key, record its answer in that same transaction.

    Two concurrent requests with one key both pass :func:`replay` (neither sees a record); the second to
    insert its record hits the unique constraint, its whole transaction (the submission too) rolls back, and
    it answers with the winner's record instead.
    """
    if idem is not None:
        stored = replay(site, idem)
        if stored is not None:
            return stored
    try:
        with transaction.atomic():
            answer = work()
            if idem is not None:
                IdempotencyRecord.objects.create(
                    site=site,
                    key=idem.key,
                    endpoint=idem.endpoint,
                    fingerprint=idem.fingerprint,
                    status_code=answer.status_code,
                    body=answer.body,
                )
    except IntegrityError:
        if idem is None:
            raise
        stored = replay(site, idem)
        if stored is None:  # not our key's row that collided: a real integrity problem
            raise
        return stored
    return answer


def _announce(submission: Submission) -> None:
    # Receivers are integrators' code: one that raises must not turn a stored submission into a 500.
    for receiver, result in signals.submission_received.send_robust(sender=Submission, submission=submission):
        if isinstance(result, Exception):
            logger.error(
                "submission_received receiver %r failed for %s",
                receiver,
                submission.id,
                exc_info=(type(result), result, result.__traceback__),
            )


def submit(
    site: Site,
    kind: str,
    payload: dict[str, str],
    *,
    spam_reason: str = "",
    client: Client | None = None,
    idempotency: Idempotency | None = None,
) -> Answer:
    """Store one message or lead and answer ``202 {"id", "status": "queued"}``.

    The row is written as ``queued`` — or as ``spam`` with ``spam_reason`` when one is given (held for staff,
    never sent) — in one transaction with the idempotency record. Only for a queued row, once that transaction
    commits, :func:`crm_bridge.tasks.enqueue_delivery` is called (it never raises or hangs; the sweep covers a
    lost hand-off). ``signals.submission_received`` is sent on commit for every stored row. Spam gets the same
    answer as a real submission, so a bot learns nothing.
    """
    client = client or Client()

    def work() -> Answer:
        status = Submission.Status.SPAM if spam_reason else Submission.Status.QUEUED
        sub = Submission.objects.create(
            site=site,
            kind=kind,
            payload=payload,
            status=status,
            spam_reason=spam_reason,
            page_url=payload.get("page_url", "")[:PAGE_URL_MAX],
            origin=client.origin[:ORIGIN_MAX],
            user_agent=client.user_agent[:USER_AGENT_MAX],
        )
        if status == Submission.Status.QUEUED:
            # A partial (not a lambda) so tests can see which callback is the hand-off and for which row.
            transaction.on_commit(partial(tasks.enqueue_delivery, str(sub.id)))
        transaction.on_commit(partial(_announce, sub))
        return Answer(202, {"id": str(sub.id), "status": "queued"})

    return _once(site, idempotency, work)


def add_hits(site: Site, counts: Mapping[int, int], *, idempotency: Idempotency | None = None) -> Answer:
    """Add page views per pkid to the site's counters and answer ``202 {"accepted": total}``.

    Each counter is bumped with one ``UPDATE … SET pending = pending + n``; a missing row is created, and if a
    concurrent request created it first (unique (site, pkid)) the update is simply retried.
    """

    def work() -> Answer:
        for pkid in sorted(counts):  # one lock order for every request, so two batches cannot deadlock
            n = counts[pkid]
            if HitCounter.objects.filter(site=site, pkid=pkid).update(pending=F("pending") + n):
                continue
            try:
                with transaction.atomic():  # a savepoint: losing the race must not abort the outer transaction
                    HitCounter.objects.create(site=site, pkid=pkid, pending=n)
            except IntegrityError:
                # A concurrent request created the row first: add to it. If there is still no row, the error
                # was about something else, and swallowing it would lose the count.
                if not HitCounter.objects.filter(site=site, pkid=pkid).update(pending=F("pending") + n):
                    raise
        return Answer(202, {"accepted": sum(counts.values())})

    return _once(site, idempotency, work)


def purge_idempotency_records(now: datetime | None = None) -> int:
    """Delete idempotency records older than ``IDEMPOTENCY_TTL``; returns how many were deleted.

    Safe to run at any time (an expired record is already ignored by :func:`replay`); schedule it daily.
    """
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=_expiry(now)).delete()
    return deleted
