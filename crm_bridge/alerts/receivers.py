"""Signal receivers that raise alarms: a submission reaching dead letter (``signals.submission_failed``).

Connected from ``CRMBridgeConfig.ready()``. Runs in the worker after the failed row was committed; an error here
is logged by :func:`crm_bridge.signals.send_logged` and changes nothing about the submission.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from .. import signals
from .create import admin_url, operational


def on_submission_failed(sender: Any, submission: Any, **kwargs: Any) -> None:
    """One alarm per dead-letter episode of ``submission`` (a staff retry that fails again is a new one)."""
    with translation.override(settings.LANGUAGE_CODE):
        text = _("A %(kind)s could not be delivered to the CRM after %(attempts)d attempt(s) and needs a person.") % {
            "kind": submission.get_kind_display(),
            "attempts": submission.attempts,
        }
        link = admin_url("admin:crm_bridge_submission_change", submission.pk)
        if link:
            text += f"\n{_('Details')}: {link}"
    operational(submission.site, "dead_letter", text, key=f"{submission.pk}:{submission.attempts}")


def connect() -> None:
    signals.submission_failed.connect(on_submission_failed, dispatch_uid="crm_bridge.alerts.dead_letter")
