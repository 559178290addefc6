"""Read-only admin pages for the sandbox: what the emulated CRM holds and what reached it (for demos).

Site-scoped rows show a short fingerprint of the siteKey's digest, never the key; the credential override
is not registered at all. Faults can be deleted here (a demo's "make it work again" button); they are
created through :func:`crm_bridge.sandbox.control.inject_fault` or ``POST /_sandbox/faults``, which
validate them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .credentials import fingerprint
from .models import (
    CallHistory,
    ContactHistory,
    ContactPlan,
    Contract,
    Customer,
    Fault,
    Hit,
    LinkMan,
    Message,
    RequestLog,
    RobotMessage,
    SampleGiftOrder,
    Sms,
)

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Model]  # generic only in django-stubs; Django's class takes no parameters
else:
    _ModelAdmin = admin.ModelAdmin


class ReadOnlyAdmin(_ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ("id", "s_name", "tel", "mobile", "type_id", "is_public", "create_time")
    search_fields = ("s_name", "tel", "mobile")
    exclude = ("name_key", "tel_key", "mobile_key")


@admin.register(LinkMan)
class LinkManAdmin(ReadOnlyAdmin):
    list_display = ("id", "customer", "s_name", "mobile", "is_main")


@admin.register(ContactHistory, ContactPlan, Contract, SampleGiftOrder, CallHistory, Sms)
class RecordAdmin(ReadOnlyAdmin):
    pass


class SiteScopedAdmin(ReadOnlyAdmin):
    exclude = ("site",)

    @admin.display(description=_("site"))
    def site_fingerprint(self, obj: Message | Hit) -> str:
        return fingerprint(obj.site)


@admin.register(Message)
class MessageAdmin(SiteScopedAdmin):
    list_display = ("id", "site_fingerprint", "cust_id", "content", "contact", "create_time")


@admin.register(Hit)
class HitAdmin(SiteScopedAdmin):
    list_display = ("id", "site_fingerprint", "pkid", "hits")


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    list_display = ("time", "endpoint", "http_status", "error_code", "fault_kind", "fault_phase", "duration_ms")
    list_filter = ("endpoint", "http_status", "fault_kind")


@admin.register(Fault)
class FaultAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "endpoint", "phase", "rate", "remaining", "expires_at", "applied")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super(ReadOnlyAdmin, self).has_delete_permission(request, obj)


@admin.register(RobotMessage)
class RobotMessageAdmin(ReadOnlyAdmin):
    """What the group-robot stand-ins received: the demo's "an alert arrived" view."""

    list_display = ("id", "received_at", "kind", "accepted", "errcode", "signed", "text")
    list_filter = ("kind", "accepted")
