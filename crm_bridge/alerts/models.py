"""The alert tables: where a site's alerts go (``AlertDestination``) and the alert outbox (``Alert``).

Registered in the ``crm_bridge`` app (``crm_bridge/models.py`` imports this module at its end). An ``Alert`` row,
like a ``Submission``, is the truth about a notification: it is written in the transaction that stored its cause,
and delivered by workers (:mod:`crm_bridge.alerts.delivery`) with back-off and a per-destination rate limit.
"""

from __future__ import annotations

import re
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import Site, Submission

__all__ = ["Alert", "AlertDestination"]


class AlertDestination(models.Model):
    """One place a site's alerts go: e-mail recipients or a group robot of WeCom, DingTalk or Feishu/Lark.

    ``webhook_url`` and ``secret`` are secrets like the siteKey (the URL carries the robot's key): write-only in
    admin, absent from ``str``/``repr``, logs, pages and exception texts. The rate-limit state (``send_log``) and
    ``lease_expires_at`` are written only by the worker holding the destination's lease.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("e-mail")
        WECOM = "wecom", _("WeCom group robot")
        DINGTALK = "dingtalk", _("DingTalk group robot")
        FEISHU = "feishu", _("Feishu/Lark group bot")

    ROBOTS = (Kind.WECOM, Kind.DINGTALK, Kind.FEISHU)

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.CASCADE, related_name="alert_destinations")
    name = models.CharField(_("name"), max_length=100, blank=True, help_text=_("For staff, e.g. “Sales group”."))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    recipients = models.TextField(
        _("e-mail recipients"), blank=True, help_text=_("For e-mail: addresses, one per line or comma-separated.")
    )
    webhook_url = models.CharField(_("webhook URL"), max_length=1000, blank=True)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    on_leads = models.BooleanField(_("alert on new leads"), default=True)
    on_messages = models.BooleanField(_("alert on each message"), default=False)
    on_alarms = models.BooleanField(_("alert on operational alarms"), default=True)
    full_phone = models.BooleanField(
        _("show the full phone number"), default=False, help_text=_("Off: masked, like 138****8000.")
    )
    send_log = models.JSONField(_("recent sends"), default=list, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("alert destination")
        verbose_name_plural = _("alert destinations")
        ordering = ["site", "pk"]

    def __str__(self) -> str:  # never the URL or the secret
        label = self.name or self.get_kind_display()
        return f"{self.site} · {label}"

    def __repr__(self) -> str:
        return f"<AlertDestination {self.pk} {self.kind} site={self.site_id}>"

    @property
    def is_robot(self) -> bool:
        return self.kind in self.ROBOTS

    def recipient_list(self) -> list[str]:
        return [a for a in re.split(r"[\s,;]+", self.recipients or "") if a]


class Alert(models.Model):
    """One alert for one destination: queued → sending → sent (or failed after its attempts).

    ``text`` is rendered when the alert is created and holds no more personal data than the message needs
    (name, masked phone unless the destination asks for the full number, company, source, admin link).
    ``alarm_key`` names an operational episode; one alert per destination and episode (a unique constraint).
    """

    class Kind(models.TextChoices):
        LEAD = "lead", _("new lead")
        MESSAGE = "message", _("message")
        ALARM = "alarm", _("operational alarm")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    destination = models.ForeignKey(
        AlertDestination, verbose_name=_("destination"), on_delete=models.CASCADE, related_name="alerts"
    )
    submission = models.ForeignKey(
        Submission, verbose_name=_("submission"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    alarm_key = models.CharField(_("alarm episode"), max_length=200, blank=True)
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="crm_bridge_alert_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "alarm_key"], condition=~Q(alarm_key=""), name="crm_bridge_alert_episode"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def __repr__(self) -> str:
        return f"<Alert {self.pk} {self.kind} {self.status}>"
