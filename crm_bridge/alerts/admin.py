"""Admin for alerts: destinations as an inline of the Site page (write-only secrets), and the alert outbox.

The webhook URL (which carries the robot's key) and the signing secret are never form fields: like the siteKey
(``crm_bridge.admin.forms.SiteAdminForm``), each has an always-empty replacement input showing only whether a
value is stored, and the history names the changed field, never its value.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..admin.common import badge
from ..admin.forms import SecretStateInput
from . import delivery
from .create import enqueue_alerts
from .models import Alert, AlertDestination

__all__ = ["AlertAdmin", "AlertDestinationForm", "AlertDestinationInline"]

Kind = AlertDestination.Kind

if TYPE_CHECKING:  # generic only in django-stubs; Django's classes take no type parameters at run time
    from ..models import Site

    _DestinationModelForm = forms.ModelForm[AlertDestination]
    _DestinationFormSet = BaseInlineFormSet[AlertDestination, Site, forms.ModelForm[AlertDestination]]
    _DestinationInline = admin.StackedInline[AlertDestination, Site]
    _ModelAdmin = admin.ModelAdmin[Alert]
else:
    _DestinationModelForm = forms.ModelForm
    _DestinationFormSet = BaseInlineFormSet
    _DestinationInline = admin.StackedInline
    _ModelAdmin = admin.ModelAdmin


class AlertDestinationForm(_DestinationModelForm):
    """A destination; ``new_webhook_url`` / ``new_secret`` replace the stored ones when filled (empty: keep)."""

    new_webhook_url = forms.CharField(
        label=_("Webhook URL"),
        required=False,
        max_length=AlertDestination._meta.get_field("webhook_url").max_length,
        widget=SecretStateInput(attrs={"autocomplete": "off", "size": 60}),
        help_text=_("Secret (it holds the robot's key): never shown again once saved. Empty keeps the current one."),
    )
    new_secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        max_length=AlertDestination._meta.get_field("secret").max_length,
        widget=SecretStateInput(attrs={"autocomplete": "new-password", "size": 40}),
        help_text=_("DingTalk 加签 / Feishu 签名校验 secret, if the robot has one. Empty keeps the current one."),
    )
    clear_secret = forms.BooleanField(label=_("Remove the signing secret"), required=False)

    class Meta:
        model = AlertDestination
        # Listed, not excluded: webhook_url and secret must never become form fields by accident.
        fields = ["kind", "name", "recipients", "enabled", "on_leads", "on_messages", "on_alarms", "full_phone"]
        widgets = {"recipients": forms.Textarea(attrs={"rows": 2, "cols": 40})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_webhook_url"].widget.is_set = bool(self.instance.webhook_url)
        self.fields["new_secret"].widget.is_set = bool(self.instance.secret)

    def clean_new_webhook_url(self) -> str:
        url = (self.cleaned_data.get("new_webhook_url") or "").strip()
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                # The value is not echoed: it is a secret even when mistyped.
                raise ValidationError(_("Enter the robot's webhook URL as given by the vendor (https://…)."))
        return url

    def clean(self) -> dict[str, Any]:
        super().clean()  # ModelForm's returns cleaned_data (typed Optional: a plain Form's clean() may not)
        data = self.cleaned_data
        kind = data.get("kind")
        if kind == Kind.EMAIL:
            addresses = AlertDestination(recipients=data.get("recipients", "")).recipient_list()
            if not addresses:
                self.add_error("recipients", _("Enter at least one e-mail address."))
            for address in addresses:
                try:
                    validate_email(address)
                except ValidationError:
                    self.add_error("recipients", _("“%(address)s” is not an e-mail address.") % {"address": address})
        elif kind and not (data.get("new_webhook_url") or self.instance.webhook_url):
            self.add_error("new_webhook_url", _("A robot needs its webhook URL."))
        return data

    def _post_clean(self) -> None:
        if self.cleaned_data.get("new_webhook_url"):
            self.instance.webhook_url = self.cleaned_data["new_webhook_url"]
        if self.cleaned_data.get("clear_secret"):
            self.instance.secret = ""
        elif self.cleaned_data.get("new_secret"):
            self.instance.secret = self.cleaned_data["new_secret"].strip()
        super()._post_clean()  # type: ignore[misc]  # Django's model-validation hook; django-stubs omits it


class KeepWhenAbsentFormSet(_DestinationFormSet):
    """A Site POST without this inline's management form (a script, a form saved from a page cached before alerts
    existed) leaves the destinations as they are, instead of failing the whole Site form."""

    def __init__(self, data: Any = None, files: Any = None, *args: Any, **kwargs: Any) -> None:
        prefix = kwargs.get("prefix") or self.get_default_prefix()
        if data is not None and f"{prefix}-TOTAL_FORMS" not in data:
            data = data.copy()
            data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = "0"
        super().__init__(data, files, *args, **kwargs)


class AlertDestinationInline(_DestinationInline):
    model = AlertDestination
    form = AlertDestinationForm
    formset = KeepWhenAbsentFormSet
    extra = 0
    fields = (
        ("kind", "name", "enabled"),
        "recipients",
        "new_webhook_url",
        ("new_secret", "clear_secret"),
        ("on_leads", "on_messages", "on_alarms", "full_phone"),
    )
    verbose_name = _("alert destination")
    verbose_name_plural = _("Alerts to staff (e-mail, WeCom, DingTalk, Feishu)")


class DestinationKindFilter(admin.SimpleListFilter):
    title = _("destination kind")
    parameter_name = "destination_kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(Kind.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        return queryset.filter(destination__kind=self.value()) if self.value() else queryset


@admin.register(Alert)
class AlertAdmin(_ModelAdmin):
    """Read-only; staff can only retry failed alerts."""

    list_display = ("created_at", "status_badge", "kind", "destination", "title", "attempts", "sent_at")
    list_filter = ("status", "kind", DestinationKindFilter)
    list_select_related = ("destination__site",)
    list_per_page = 50
    ordering = ("-created_at",)
    actions = ["retry_failed"]
    fields = (
        "id", "destination", "kind", "status", "title", "text", "attempts", "next_attempt_at", "lease_expires_at",
        "last_error", "created_at", "sent_at", "submission",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        # Model-level "change" is what the retry action needs; an alert's page is always view-only.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, alert: Alert) -> str:
        colour_key = {"sent": "delivered"}.get(alert.status, alert.status)
        return badge(colour_key, alert.get_status_display())

    @admin.action(description=_("Retry the selected failed alerts"), permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        ids = list(queryset.filter(status=Alert.Status.FAILED).values_list("pk", flat=True))
        n = delivery.retry(ids)
        transaction.on_commit(partial(enqueue_alerts, ids))
        self.message_user(
            request,
            ngettext("%(n)d alert queued to be sent again.", "%(n)d alerts queued to be sent again.", n) % {"n": n},
            messages.SUCCESS if n else messages.WARNING,
        )
