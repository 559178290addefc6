"""The retention period (PIPL Art. 47): a periodic task erases the personal fields of every submission older
than its site's ``retention_days`` once it is no longer pending — delivered, duplicate, failed, cancelled or
held as spam (a queued or sending row is still being delivered, and waits until it is finished).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from ..models import PrivacyAuditLog, Site, Submission
from .redaction import redact

__all__ = ["DONE_STATUSES", "expired_submissions", "run_retention"]

logger = logging.getLogger("crm_bridge.privacy")

#: Statuses a row never leaves by itself: its personal data is no longer needed for delivery.
DONE_STATUSES = (*Submission.FINAL, Submission.Status.SPAM)


def expired_submissions(site: Site, now: datetime) -> list[str]:
    """Ids of ``site``'s unredacted, finished submissions created more than its retention period before ``now``."""
    cutoff = now - timedelta(days=site.retention_days)
    rows = Submission.objects.filter(
        site=site, status__in=DONE_STATUSES, redacted_at__isnull=True, created_at__lt=cutoff
    )
    return [str(pk) for pk in rows.values_list("pk", flat=True)]


def run_retention(now: datetime | None = None) -> int:
    """Redact every site's expired submissions; returns how many rows. One audit entry and one log line per
    site that had any (ids and counts only)."""
    now = now or timezone.now()
    total = 0
    for site in Site.objects.all():
        n = redact(expired_submissions(site, now), now=now)
        if n:
            PrivacyAuditLog.objects.create(
                action=PrivacyAuditLog.Action.RETENTION, actor="crm_bridge.retention", via="task", rows=n, at=now
            )
            logger.info("retention: redacted %d submission(s) of site %s (older than %d days)", n, site.pk,
                        site.retention_days)  # fmt: skip
        total += n
    return total
