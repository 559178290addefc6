"""Admin for the privacy audit log: read-only, one row per retention run or data-subject request (no personal data)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest

from ..models import PrivacyAuditLog

__all__ = ["PrivacyAuditLogAdmin"]

if TYPE_CHECKING:  # generic only in django-stubs; Django's class takes no type parameters at run time
    _ModelAdmin = admin.ModelAdmin[PrivacyAuditLog]
else:
    _ModelAdmin = admin.ModelAdmin


@admin.register(PrivacyAuditLog)
class PrivacyAuditLogAdmin(_ModelAdmin):
    list_display = ("at", "action", "actor", "via", "matched_by", "rows", "detail")
    list_filter = ("action", "via")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # an audit trail staff could prune would prove nothing
