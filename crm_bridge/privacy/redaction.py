"""Erasing a submission's personal data in place, keeping what operations needs.

Erased: the payload's personal fields (:data:`PERSONAL_KEYS`, set to ``""``), ``user_agent``, ``page_url`` (its
query may carry anything), the consent record's page; the CRM's answers and error texts on the row and on its
delivery attempts (:func:`scrub_reply`: a CRM answer can echo the customer's name or phone, and an error text
can quote them, so only numbers and booleans — ids, codes, counts — are kept and texts become ``""``); and the
row's :class:`~crm_bridge.models.LeadIdentity` entries (they hold the name and phone).

Kept: ids, site, kind, status, attempts, timings, counts, origin (the website's, not the visitor's), HTTP status
and CRM error codes, and the consent record's version, text hash, language and time — the proof of consent
outlives the data it covered. The row is marked ``redacted_at``; delivery never claims such a row
(:func:`crm_bridge.delivery.outbox.due_filter`) and staff cannot retry or release it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import DeliveryAttempt, LeadIdentity, Submission

__all__ = ["PERSONAL_KEYS", "redact", "scrub_reply"]

#: Payload keys holding what the visitor typed (messages: content, contact; leads: the rest), and the page.
PERSONAL_KEYS = ("name", "tel", "tel_e164", "email", "company", "message", "content", "contact", "page_url")


def scrub_reply(value: Any) -> Any:
    """``value`` (a JSON document) with every string blanked, numbers, booleans and nulls kept, recursively."""
    if isinstance(value, dict):
        return {k: scrub_reply(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_reply(v) for v in value]
    if isinstance(value, str):
        return ""
    return value


def _redacted_payload(payload: Any) -> dict[str, Any]:
    payload = dict(payload) if isinstance(payload, dict) else {}
    return {k: ("" if k in PERSONAL_KEYS else v) for k, v in payload.items()}


def redact(ids: Iterable[Any], *, now: datetime | None = None) -> int:
    """Erase the personal data of the submissions ``ids`` not yet redacted; returns how many were redacted.

    Each row is updated only while still unredacted (``redacted_at IS NULL``), so two runs never count a row
    twice. A row being sent right now is redacted too: its worker already holds what it sends, and when it
    gives the row back the row is never claimed again.
    """
    now = now or timezone.now()
    done = 0
    for sub in Submission.objects.filter(pk__in=list(ids), redacted_at__isnull=True).iterator():
        consent = dict(sub.consent) if isinstance(sub.consent, dict) else None
        if consent is not None:
            consent["page_url"] = ""
        with transaction.atomic():
            changed = Submission.objects.filter(pk=sub.pk, redacted_at__isnull=True).update(
                payload=_redacted_payload(sub.payload),
                page_url="",
                user_agent="",
                last_error="",
                crm_reply=scrub_reply(sub.crm_reply),
                consent=consent,
                redacted_at=now,
            )
            if not changed:
                continue
            LeadIdentity.objects.filter(submission=sub.pk).delete()
            for attempt in DeliveryAttempt.objects.filter(submission=sub.pk).only("pk", "reply"):
                DeliveryAttempt.objects.filter(pk=attempt.pk).update(reply=scrub_reply(attempt.reply), error="")
            done += 1
    return done
