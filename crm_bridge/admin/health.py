"""Read-only admin for the delivery machinery's shared state: page-view counters and the CRM circuit breaker.

Both are written by workers with conditional updates; a hand edit would race them, so the pages are view-only.
The one thing staff may do is close an open circuit (after fixing whatever broke) so deliveries resume at once
instead of after the probe wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import Circuit, HitCounter
from .common import badge

__all__ = ["CircuitAdmin", "HitCounterAdmin"]

if TYPE_CHECKING:  # generic only in django-stubs; Django's class takes no type parameters at run time
    _ModelAdmin = admin.ModelAdmin[Any]  # Any: the base serves two models
else:
    _ModelAdmin = admin.ModelAdmin


class _ReadOnlyAdmin(_ModelAdmin):
    """No add, no delete; object pages are view-only. Model-level "change" is kept for actions."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]


@admin.register(HitCounter)
class HitCounterAdmin(_ReadOnlyAdmin):
    list_display = ("site", "pkid", "pending", "sent", "last_flushed_at", "short_error")
    list_filter = ("site",)
    list_select_related = ("site",)
    search_fields = ("=pkid",)
    ordering = ("site__name", "pkid")
    actions: list[str] = []

    @admin.display(description=_("last error"))
    def short_error(self, counter: HitCounter) -> str:
        return Truncator(counter.last_error).chars(80) or "—"


@admin.register(Circuit)
class CircuitAdmin(_ReadOnlyAdmin):
    list_display = ("name", "state_badge", "failures", "opened_at", "retry_at", "short_error", "last_error_at",
                    "last_success_at")  # fmt: skip
    ordering = ("name",)
    actions = ["reset_closed"]

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, circuit: Circuit) -> str:
        return badge(circuit.state, circuit.get_state_display())

    @admin.display(description=_("last error"))
    def short_error(self, circuit: Circuit) -> str:
        return Truncator(circuit.last_error).chars(80) or "—"

    @admin.action(description=_("Reset to closed (call the CRM again now)"), permissions=["change"])
    def reset_closed(self, request: HttpRequest, queryset: QuerySet[Circuit]) -> None:
        n = queryset.exclude(state=Circuit.State.CLOSED, failures=0).update(
            state=Circuit.State.CLOSED, failures=0, opened_at=None, retry_at=None
        )
        self.message_user(
            request,
            ngettext("%(n)d circuit reset to closed.", "%(n)d circuits reset to closed.", n) % {"n": n},
            messages.SUCCESS if n else messages.INFO,
        )
