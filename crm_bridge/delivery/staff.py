"""What staff can do to rows from admin (and integrators from code): retry, cancel, release from spam, resume a
paused site. Each takes ids and an ``enqueue`` callable and is safe to call twice. Rows whose personal data was
erased (``redacted_at``) are never retried or released: there is nothing left to send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Circuit, Site, Submission
from . import pauses
from .circuit import circuit_name

__all__ = ["cancel", "paused_credentials", "release_spam", "resume_site", "retry_now"]

S = Submission.Status


def retry_now(ids: Iterable[Any], *, enqueue: Callable[[str], bool]) -> int:
    """Queued or failed rows → queued and due now (a failed row gets a fresh attempt budget)."""
    now = timezone.now()
    kept = Submission.objects.filter(pk__in=[str(i) for i in ids], redacted_at__isnull=True)
    ids = [str(pk) for pk in kept.values_list("pk", flat=True)]
    Submission.objects.filter(pk__in=ids, status=S.FAILED).update(
        status=S.QUEUED, attempts=0, next_attempt_at=now, finished_at=None, enqueued_at=now
    )
    Submission.objects.filter(pk__in=ids, status=S.QUEUED).update(next_attempt_at=now, enqueued_at=now)
    queued = [str(pk) for pk in Submission.objects.filter(pk__in=ids, status=S.QUEUED).values_list("pk", flat=True)]
    for pk in queued:
        enqueue(pk)
    return len(queued)


def cancel(ids: Iterable[Any]) -> int:
    """Queued, failed or spam rows → cancelled (never sent). A row being sent right now is left alone."""
    return Submission.objects.filter(pk__in=list(ids), status__in=[S.QUEUED, S.FAILED, S.SPAM]).update(
        status=S.CANCELLED, finished_at=timezone.now(), next_attempt_at=None
    )


def release_spam(ids: Iterable[Any], *, enqueue: Callable[[str], bool]) -> int:
    """Held-as-spam rows staff judged genuine → queued and due now, with the alerts a genuine submission gets
    (spam raised none at intake: docs/alerts.md), written in the same transaction as the release."""
    # Imported here: crm_bridge.alerts imports crm_bridge.delivery (flows), so a module-level import is a cycle.
    from ..alerts import record_for_submission

    now = timezone.now()
    ids = [str(i) for i in ids]
    with transaction.atomic():
        # Locked (on PostgreSQL) so that two staff releasing the same rows at once alert once.
        released = list(
            Submission.objects.select_for_update()
            .filter(pk__in=ids, status=S.SPAM, redacted_at__isnull=True)
            .select_related("site")
        )
        n = Submission.objects.filter(pk__in=[sub.pk for sub in released], status=S.SPAM).update(
            status=S.QUEUED, next_attempt_at=now, enqueued_at=now, spam_reason=""
        )
        for sub in released:
            sub.status = S.QUEUED
            record_for_submission(sub)
    for sub in released:
        enqueue(str(sub.pk))
    return n


def resume_site(site: Site, *, enqueue: Callable[[str], bool]) -> int:
    """Lift every credential pause that holds ``site`` back — its siteKey's, and the CRM token's (global: the
    leads of other sites resume too) — after staff fixed them, without waiting for the next probe. This site's
    waiting rows go now; other sites' leads are handed over if due. Returns how many rows were handed over."""
    now = timezone.now()
    Site.objects.filter(pk=site.pk).update(paused_at=None, paused_reason="", site_key_probe_at=None)
    others = pauses.resume_token(enqueue=enqueue, now=now, exclude_site=site)
    ids = Submission.objects.filter(site=site, status=S.QUEUED).values_list("pk", flat=True)
    return retry_now(list(ids), enqueue=enqueue) + others


def paused_credentials(site: Site) -> list[tuple[str, datetime, str]]:
    """What holds ``site``'s deliveries back: ``(credential, since, reason)`` for its siteKey and the token."""
    held: list[tuple[str, datetime, str]] = []
    if site.paused_at:
        held.append(("siteKey", site.paused_at, site.paused_reason))
    token = Circuit.objects.filter(name=circuit_name(), token_paused_at__isnull=False).first()
    if token is not None and token.token_paused_at is not None:  # the filter's guarantee, restated for the checker
        held.append(("token", token.token_paused_at, token.token_paused_reason))
    return held
