"""Pausing a site whose credentials the CRM refused: no attempts are burnt while staff fix them
(docs/delivery.md, "Refused credentials")."""

from __future__ import annotations

import logging

from django.utils import timezone

from ..crm.errors import CRMError
from ..models import Site

__all__ = ["pause_site"]

logger = logging.getLogger("crm_bridge.delivery")


def pause_site(site: Site, err: CRMError) -> None:
    paused = Site.objects.filter(pk=site.pk, paused_at__isnull=True).update(
        paused_at=timezone.now(), paused_reason=f"The CRM refused our credentials: {err}"
    )
    if paused:
        # logger.error reaches ADMINS through Django's AdminEmailHandler where the site configures it.
        logger.error(
            "CRM refused the credentials for site %r (%s); its deliveries are paused until staff resume them",
            site.name, err,
        )  # fmt: skip
