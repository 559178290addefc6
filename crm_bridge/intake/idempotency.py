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


def _stored(site: Site, idem: Idempotency) -> Answer | bool:
    """The stored first answer for ``idem``; ``True`` if the key's record had expired (now deleted: the key is
    free again), ``False`` if there is none. Raises :class:`IdempotencyMismatch` for another body or endpoint."""
    record = IdempotencyRecord.objects.filter(site=site, key=idem.key).first()
    if record is None:
        return False
    if record.created_at < _expiry():
        # Past its TTL the key is free again; delete this very record (not one a concurrent request just made).
        IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
        return True
    if record.endpoint != idem.endpoint or record.fingerprint != idem.fingerprint:
        raise IdempotencyMismatch(idem.key)
    return Answer(record.status_code, record.body, replayed=True)


def replay(site: Site, idem: Idempotency) -> Answer | None:
    """The stored first answer for ``idem`` on ``site``, or ``None`` if the key is new (or its record expired).

    Raises :class:`IdempotencyMismatch` if the key was first used with another body or endpoint. Intake does
    not call this before its work (:func:`once` reads only on a conflict); the view does for a request that
    fails validation, so that a repeat of a request valid at the time still gets its first answer.
    """
    stored = _stored(site, idem)
    return stored if isinstance(stored, Answer) else None


def once(site: Site, idem: Idempotency | None, work: Callable[[], Answer]) -> Answer:
    """Run ``work`` in a transaction and, with a key, record its answer in that same transaction.

    No look-up first: the record is simply inserted after the work, and the unique constraint (site, key)
    decides. A repeat (or a concurrent twin) hits it, its whole transaction (the submission too) rolls back, and
    only then is the stored record read: its answer is returned, or :class:`IdempotencyMismatch` raised for
    another body or endpoint. So an ordinary request costs the inserts alone, a repeat one more read. A record
    past ``IDEMPOTENCY_TTL`` that is still there frees its key: it is deleted and the work runs once more.
    """
    if idem is None:
        with transaction.atomic():
            return work()
    for _ in range(2):  # the second round only after deleting an expired record that held the key
        try:
            with transaction.atomic():
                answer = work()
                IdempotencyRecord.objects.create(
                    site=site,
                    key=idem.key,
                    endpoint=idem.endpoint,
                    fingerprint=idem.fingerprint,
                    status_code=answer.status_code,
                    body=answer.body,
                )
            return answer
        except IntegrityError:
            stored = _stored(site, idem)
            if stored is True:
                continue  # an expired record held the key; deleted, so run the work again
            if stored is False:  # not our key's row that collided: a real integrity problem
                raise
            return stored
    raise IntegrityError(f"idempotency key of site {site.pk} still taken after freeing it")


def purge_idempotency_records(now: datetime | None = None) -> int:
    """Delete idempotency records older than ``IDEMPOTENCY_TTL``; returns how many were deleted.

    Safe to run at any time (an expired record is already ignored by :func:`replay`); schedule it daily.
    """
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=_expiry(now)).delete()
    return deleted
