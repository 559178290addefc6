"""Idempotency-Key: a repeat of a write gets the first answer back and creates nothing (Stripe's model; the IETF
``Idempotency-Key`` draft). The record of the first answer is written in the same transaction as the work it
answers for (docs/widget-api.md, "Idempotency").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..conf import bridge_settings
from ..models import IdempotencyRecord, Site

__all__ = [
    "Answer",
    "Idempotency",
    "IdempotencyMismatch",
    "fingerprint",
    "once",
    "purge_idempotency_records",
    "replay",
]


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


def fingerprint(data: Any) -> str:
    """SHA-256 of the request body as canonical JSON (sorted keys, no whitespace).

    Canonical rather than raw bytes so that the same request re-serialised (a widget re-sending from
    ``localStorage``, a ``text/plain`` beacon of the same JSON) is recognised as the same request.
    """
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _expiry(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=bridge_settings.IDEMPOTENCY_TTL)


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


def once(site: Site, idem: Idempotency | None, work: Callable[[], Answer]) -> Answer:
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


def purge_idempotency_records(now: datetime | None = None) -> int:
    """Delete idempotency records older than ``IDEMPOTENCY_TTL``; returns how many were deleted.

    Safe to run at any time (an expired record is already ignored by :func:`replay`); schedule it daily.
    """
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=_expiry(now)).delete()
    return deleted
