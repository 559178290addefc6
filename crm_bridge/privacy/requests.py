"""Data-subject requests (PIPL Art. 45–47): find every submission of one phone number or e-mail address, export
them (JSON), erase them. Used by ``manage.py crm_bridge_privacy`` and the submissions admin.

Erasing here is local: the personal fields of our copy are redacted (:func:`.redaction.redact`) and rows not yet
sent are cancelled, so they never reach the CRM. What was already delivered lives in the CRM and must be
deleted there too; :func:`export` includes the CRM's answers (customer ids) to help find it.

Every action writes a :class:`~crm_bridge.models.PrivacyAuditLog` row and a log line: who, via what, matched by
what kind of criterion, how many rows — never the phone number, address or anything else personal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.validators import validate_email
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..delivery.staff import cancel
from ..intake.validators import normalize_cn_phone
from ..models import PrivacyAuditLog, Submission
from .redaction import redact

__all__ = ["audit", "criterion", "erase", "export", "find", "submission_document"]

logger = logging.getLogger("crm_bridge.privacy")


def find(*, phone: str | None = None, email: str | None = None) -> QuerySet[Submission]:
    """Unredacted submissions of ``phone`` (normalised as intake does, matched on ``tel_e164``; messages by
    their free-form ``contact`` holding the number as people type it: :func:`contact_pattern`) or of ``email``
    (case-insensitive, on a lead's ``email`` or a message's ``contact``). Raises ``ValidationError`` for a
    malformed phone or address."""
    if (phone is None) == (email is None):
        raise ValueError("give exactly one of phone, email")
    if phone is not None:
        number = normalize_cn_phone(phone)
        q = Q(payload__tel_e164=number.e164) | Q(payload__contact__regex=contact_pattern(number.national))
    else:
        address = (email or "").strip()
        validate_email(address)
        q = Q(payload__email__iexact=address) | Q(payload__contact__icontains=address)
    return Submission.objects.filter(q, redacted_at__isnull=True).order_by("created_at")


#: What people put between the digits of a phone number they type: spaces, hyphens, dots, brackets, slashes, a
#: middle dot (the separators ``normalize_cn_phone`` accepts), and their full-width forms a Chinese input method
#: types (``－``, ``．``, ``（）``, the ideographic space). Literal characters, no escapes: the pattern must mean
#: the same to Python's ``re`` (SQLite's REGEXP) and to PostgreSQL's ``~``.
_SEP = "[-. ()/\u00b7\u3000\uff0d\uff0e\uff08\uff09]*"
#: The digits, ASCII and full-width, as a bracket expression's inside (intake keeps the contact as typed: NFC,
#: not NFKC).
_DIGITS = "0-9\uff10-\uff19"


def _digit(d: str) -> str:
    return f"[{d}{chr(0xFF10 + int(d))}]"


def contact_pattern(national: str) -> str:
    """A regular expression (portable: SQLite's and PostgreSQL's) that finds the national number ``national``
    (digits, trunk ``0`` included for landlines) in free text however it was typed — ``13800138000``,
    ``138-0013-8000``, ``+86 138 0013 8000``, ``0086 (10) 1234 5678``, ``010-12345678``, full-width
    ``１３８－００１３－８０００`` — but not inside a longer run of digits (``913800138000`` is another number)."""
    digits = national.removeprefix("0")
    body = _SEP.join(_digit(d) for d in digits)
    not_digit = f"[^{_DIGITS}]"
    prefix = f"(([+\uff0b]|{_digit('0')}{_digit('0')})?{_digit('8')}{_digit('6')}{_SEP}|{_digit('0')}{_SEP})?"
    return f"(^|{not_digit}){prefix}{body}({not_digit}|$)"


def submission_document(sub: Submission) -> dict[str, Any]:
    """What a data subject gets for one submission: what they sent, when, the consent record, and where it went."""
    return {
        "id": str(sub.id),
        "site": sub.site.name,
        "kind": sub.kind,
        "created_at": sub.created_at.isoformat(),
        "status": sub.status,
        "data": sub.payload,
        "page_url": sub.page_url,
        "user_agent": sub.user_agent,
        "consent": sub.consent,
        "sent_to_crm": sub.status in (Submission.Status.DELIVERED, Submission.Status.DUPLICATE),
        "crm_reply": sub.crm_reply,
    }


def export(rows: Iterable[Submission]) -> list[dict[str, Any]]:
    """:func:`submission_document` of each row (a JSON-ready list)."""
    return [submission_document(sub) for sub in rows]


def erase(rows: Iterable[Submission]) -> int:
    """Cancel the rows not yet sent, then redact them all; returns how many were redacted."""
    ids = [sub.pk for sub in rows]
    cancel(ids)
    return redact(ids, now=timezone.now())


def audit(action: str, *, actor: str, via: str, matched_by: str, rows: int, detail: str = "") -> PrivacyAuditLog:
    """Record a privacy action (no personal data) and log it. ``detail`` says what an export covered (its
    format and filters, see :func:`crm_bridge.admin.export.describe_filters`): the caller keeps personal data
    out of it."""
    detail = detail[: PrivacyAuditLog._meta.get_field("detail").max_length]
    entry = PrivacyAuditLog.objects.create(
        action=action, actor=actor, via=via, matched_by=matched_by, rows=rows, detail=detail
    )
    logger.info(
        "privacy %s by %s via %s (matched by %s): %d submission(s)%s",
        action, actor, via, matched_by, rows, f" [{detail}]" if detail else "",
    )  # fmt: skip
    return entry


def criterion(phone: str | None, email: str | None) -> str:
    """``phone`` or ``email``: which kind of criterion a request used (what the audit records)."""
    return "phone" if phone is not None else "email"
