"""Storing what the widget sent, and the answer: it only writes to the database — never calls the CRM — so
its answer and its latency do not depend on the CRM's health (docs/architecture.md, "Intake").

* :func:`submit` stores a message or lead as a ``Submission`` (queued, or held as spam) and hands queued rows
  to the broker once the transaction commits, off the request (:func:`crm_bridge.broker.enqueue_delivery_soon`).
* :func:`add_hits` adds page views to the per-(site, pkid) counters that a periodic flush sends (buffered in
  memory for up to ``HIT_BUFFER_SECONDS`` first, :mod:`crm_bridge.intake.hitbuffer`).
* Both take an optional :class:`~crm_bridge.intake.idempotency.Idempotency` and record their answer in the same
  transaction (:func:`crm_bridge.intake.idempotency.once`).
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from .. import alerts, broker, signals
from ..conf import bridge_settings
from ..models import HitCounter, Site, Submission
from . import hitbuffer
from .idempotency import Answer, Idempotency, once

__all__ = ["Client", "add_hits", "announce", "bump_counters", "fake_answer", "submit"]

logger = logging.getLogger("crm_bridge.intake")

ORIGIN_MAX = Submission._meta.get_field("origin").max_length
USER_AGENT_MAX = Submission._meta.get_field("user_agent").max_length
PAGE_URL_MAX = Submission._meta.get_field("page_url").max_length


@dataclass(frozen=True)
class Client:
    """Where a submission came from, for staff (stored truncated to the columns' sizes)."""

    origin: str = ""
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: Any) -> Client:
        return cls(
            origin=_header_text(request.headers.get("Origin", "")),
            user_agent=_header_text(request.headers.get("User-Agent", "")),
        )


def _header_text(value: str) -> str:
    """A request header as stored for staff: control characters dropped. A NUL would make PostgreSQL refuse the
    whole insert (a 500 for a visitor's lead), and a header is metadata: unlike a field the visitor typed, it is
    cleaned, not a reason to refuse the submission."""
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cc")


def fake_answer() -> Answer:
    """The answer a honeypot hit gets: indistinguishable from a real one, but nothing is stored."""
    return Answer(202, {"id": str(uuid.uuid4()), "status": "queued"})


def announce(submission: Submission) -> None:
    """Tell integrators a submission was stored (``signals.submission_received``); run on commit."""
    signals.send_logged(signals.submission_received, submission)


def submit(
    site: Site,
    kind: str,
    payload: dict[str, str],
    *,
    spam_reason: str = "",
    client: Client | None = None,
    idempotency: Idempotency | None = None,
    consent: dict[str, Any] | None = None,
    source: Mapping[str, str] | None = None,
) -> Answer:
    """Store one message or lead and answer ``202 {"id", "status": "queued"}``; ``source`` (where the visit
    came from, validated) is stored on the row as given.

    The row is written as ``queued`` — or as ``spam`` with ``spam_reason`` when one is given (held for staff,
    never sent) — in one transaction with the idempotency record. Only for a queued row, once that transaction
    commits, :func:`crm_bridge.broker.enqueue_delivery_soon` queues its hand-off to the broker on this process's
    publisher thread (it never raises or hangs; the sweep covers a lost hand-off). ``signals.submission_received``
    is sent on commit for every stored row. Spam gets the same answer as a real submission, so a bot learns
    nothing.
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
            consent=consent,
            source=dict(source or {}),
        )
        alerts.record_for_submission(sub)  # same transaction: stored with the row, handed over on commit
        if status == Submission.Status.QUEUED:
            # A partial (not a lambda) so tests can see which callback is the hand-off and for which row.
            transaction.on_commit(partial(broker.enqueue_delivery_soon, str(sub.id)))
        transaction.on_commit(partial(announce, sub))
        # By id only (never a field of the payload): with JSON logs on, this line ties the request id to the row.
        logger.debug("stored %s %s as %s", kind, sub.id, status)
        return Answer(202, {"id": str(sub.id), "status": "queued"})

    return once(site, idempotency, work)


def add_hits(site: Site, counts: Mapping[int, int], *, idempotency: Idempotency | None = None) -> Answer:
    """Add page views per pkid to the site's counters and answer ``202 {"accepted": total}``.

    Without an ``Idempotency-Key`` (and ``HIT_BUFFER_SECONDS`` > 0) the views go to this process's buffer,
    written to the counters within ``HIT_BUFFER_SECONDS`` (:mod:`crm_bridge.intake.hitbuffer`: no database
    statement on the request). With a key they are written now, with its record, in one transaction.
    """
    answer = Answer(202, {"accepted": sum(counts.values())})
    if idempotency is None and bridge_settings.HIT_BUFFER_SECONDS > 0:
        hitbuffer.buffer.add(site.pk, counts)
        return answer

    def work() -> Answer:
        bump_counters({(site.pk, pkid): n for pkid, n in counts.items()})
        return answer

    return once(site, idempotency, work)


def bump_counters(counts: Mapping[tuple[int, int], int]) -> int:
    """Add ``counts`` ((site id, pkid) → views) to ``HitCounter.pending``, in the caller's transaction; returns
    the views written.

    Each counter is bumped with one ``UPDATE … SET pending = pending + n``; a missing row is created, and if a
    concurrent request created it first (unique (site, pkid)) the update is simply retried.
    """
    written = 0
    for site_id, pkid in sorted(counts):  # one lock order for every writer, so two batches cannot deadlock
        n = counts[(site_id, pkid)]
        if HitCounter.objects.filter(site_id=site_id, pkid=pkid).update(pending=F("pending") + n):
            written += n
            continue
        try:
            with transaction.atomic():  # a savepoint: losing the race must not abort the outer transaction
                HitCounter.objects.create(site_id=site_id, pkid=pkid, pending=n)
        except IntegrityError:
            # A concurrent request created the row first: add to it. If there is still no row, the error
            # was about something else, and swallowing it would lose the count.
            if HitCounter.objects.filter(site_id=site_id, pkid=pkid).update(pending=F("pending") + n):
                written += n
                continue
            raise
        written += n
    return written
