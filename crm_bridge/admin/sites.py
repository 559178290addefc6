"""Admin for :class:`~crm_bridge.models.Site`: list, edit (write-only siteKey), embed snippet, resume deliveries.

The CRM ``siteKey`` never reaches a page: it is not a form field (``SiteAdminForm`` has an always-empty
replacement input instead), not a list column, not searchable (a search would be an oracle for it), and
change messages in the history name the field, never its value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.templatetags.static import static
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import delivery
from ..alerts.admin import AlertDestinationInline
from ..delivery.pauses import describe as describe_pause
from ..models import Site, default_features
from .common import enqueue_on_commit
from .forms import FEATURE_CHOICES, SiteAdminForm

__all__ = ["SiteAdmin", "embed_snippet"]

if TYPE_CHECKING:  # generic only in django-stubs; Django's class takes no type parameters at run time
    _ModelAdmin = admin.ModelAdmin[Site]
else:
    _ModelAdmin = admin.ModelAdmin


def embed_snippet(request: HttpRequest, site: Site) -> str:
    """The tags a page needs to show this site's widget (public key only).

    ``data-crm-api`` points the widget at this server's widget API when the integrator mounted
    ``crm_bridge.urls``: the script is served from the static files, whose URL says nothing about where the API is.
    With it comes a ``<link rel="preload">`` of the widget's config, byte for byte the URL the widget asks for, so
    the request runs alongside the script's download instead of after it (one round trip less before the button
    shows; ``crossorigin`` because the widget fetches it in CORS mode without credentials).
    """
    src = request.build_absolute_uri(static("crm_bridge/widget.js"))
    attrs = [f'src="{src}"', f'data-crm-key="{site.public_key}"']
    preload = ""
    try:
        config_url = reverse("crm_bridge:widget-config")
    except NoReverseMatch:
        config_url = None
    if config_url and config_url.endswith("widget/v1/config"):
        attrs.append(f'data-crm-api="{request.build_absolute_uri(config_url.removesuffix("widget/v1/config"))}"')
        config = request.build_absolute_uri(f"{config_url}?{urlencode({'key': site.public_key})}")
        preload = f'<link rel="preload" href="{config}" as="fetch" crossorigin>\n'
    return f"{preload}<script {' '.join(attrs)} async></script>"


#: The features' short names for the list column (the form's choices are sentences), in the staff's language.
FEATURE_NAMES = {"messages": _("messages"), "leads": _("leads"), "hits": _("hits")}


class PausedFilter(admin.SimpleListFilter):
    title = _("deliveries")
    parameter_name = "paused"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("paused")), ("no", _("running"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Site]) -> QuerySet[Site]:
        if self.value() == "yes":
            return queryset.filter(paused_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(paused_at__isnull=True)
        return queryset


@admin.register(Site)
class SiteAdmin(_ModelAdmin):
    form = SiteAdminForm
    list_display = ("name", "deliveries", "is_active", "public_key", "origins", "enabled_features")
    list_filter = ("is_active", PausedFilter)
    search_fields = ("name", "public_key")
    readonly_fields = ("public_key", "paused_at", "pause_reason", "created_at", "updated_at", "privacy_version")
    actions = ["resume_deliveries"]
    inlines = [AlertDestinationInline]  # where this site's alerts go (crm_bridge.alerts)
    fieldsets = (
        (None, {"fields": ("name", "is_active", "public_key", "new_site_key")}),
        (_("Widget"), {"fields": ("allowed_origins", "features", "texts")}),
        (
            _("Delivery to the CRM"),
            {"fields": ("default_cust_id", "lead_mapping", "post_duplicates_to_board", "paused_at", "pause_reason")},
        ),
        (
            _("Privacy (PIPL)"),
            {
                "fields": (
                    "privacy_notice_zh",
                    "privacy_notice_en",
                    "privacy_contact",
                    "retention_days",
                    "consent_required_leads",
                    "consent_required_messages",
                    "privacy_version",
                ),
                "description": _(
                    "Visitors see the notice next to the submit button. Its version changes whenever "
                    "a text changes; visitors with an open form are then asked to reload it."
                ),
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    # --- list columns -----------------------------------------------------------------------------------

    @admin.display(description=_("privacy notice version"))
    def privacy_version(self, site: Site) -> str:
        return site.privacy_version if site.pk else "—"

    @admin.display(description=_("why paused"))
    def pause_reason(self, site: Site) -> str:
        # Stored as the CRM's own error (crm_bridge.delivery.pauses); worded here in the staff member's language.
        return describe_pause("siteKey", site.paused_reason) if site.paused_at else "—"

    @admin.display(description=_("allowed origins"))
    def origins(self, site: Site) -> str:
        return ", ".join(site.allowed_origins or ()) or "—"

    @admin.display(description=_("enabled features"))
    def enabled_features(self, site: Site) -> str:
        enabled = {**default_features(), **(site.features or {})}
        return ", ".join(str(FEATURE_NAMES[name]) for name, _label in FEATURE_CHOICES if enabled.get(name)) or "—"

    @admin.display(description=_("deliveries"), ordering="paused_at")
    def deliveries(self, site: Site) -> str:
        if site.paused_at:
            return format_html(
                '<strong style="color:#cf222e;white-space:nowrap" title="{}">⚠ {}</strong>',
                describe_pause("siteKey", site.paused_reason),
                _("paused"),
            )
        return format_html('<span style="color:#1a7f37">{}</span>', _("running"))

    # --- resuming ---------------------------------------------------------------------------------------

    @admin.action(description=_("Resume deliveries of the selected sites"), permissions=["change"])
    def resume_deliveries(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        paused = [site for site in queryset if delivery.paused_credentials(site)]
        queued = sum(delivery.resume_site(site, enqueue=enqueue_on_commit) for site in paused)
        self.message_user(
            request,
            ngettext(
                "Resumed deliveries of %(sites)d site; %(queued)d waiting submission(s) queued for delivery now.",
                "Resumed deliveries of %(sites)d sites; %(queued)d waiting submission(s) queued for delivery now.",
                len(paused),
            )
            % {"sites": len(paused), "queued": queued},
            messages.SUCCESS if paused else messages.WARNING,
        )

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST only: resume one site's deliveries (the button on a paused site's page)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        site = get_object_or_404(Site, pk=object_id)
        if not self.has_change_permission(request, site):
            raise PermissionDenied
        if delivery.paused_credentials(site):  # its siteKey, or the CRM token (which holds every site's leads)
            queued = delivery.resume_site(site, enqueue=enqueue_on_commit)
            self.message_user(
                request,
                ngettext(
                    "Deliveries resumed; %(queued)d waiting submission queued for delivery now.",
                    "Deliveries resumed; %(queued)d waiting submissions queued for delivery now.",
                    queued,
                )
                % {"queued": queued},
                messages.SUCCESS,
            )
            self.log_change(request, site, str(_("Resumed deliveries.")))
        else:
            self.message_user(request, _("Deliveries of this site were not paused."), messages.INFO)
        return HttpResponseRedirect(reverse("admin:crm_bridge_site_change", args=[site.pk]))

    # --- pages ------------------------------------------------------------------------------------------

    def console_view(self, request: HttpRequest) -> HttpResponse:
        """The CRM API console (``crm_bridge.admin.console``), hung under sites: it uses their credentials."""
        from .console import console_view

        return console_view(request, self)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("console/", self.admin_site.admin_view(self.console_view), name="crm_bridge_console"),
            path(
                "<path:object_id>/resume/",
                self.admin_site.admin_view(self.resume_view),
                name="crm_bridge_site_resume",
            ),
        ]
        return own + super().get_urls()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        site = self.get_object(request, object_id)
        if site is not None:
            extra_context["embed_snippet"] = embed_snippet(request, site)
            # [(credential, since, reason)]: the siteKey's pause, and the token's (global, but it holds leads here too).
            extra_context["paused_credentials"] = delivery.paused_credentials(site)
            extra_context["site_paused"] = bool(extra_context["paused_credentials"])
            extra_context["resume_url"] = reverse("admin:crm_bridge_site_resume", args=[site.pk])
        return super().change_view(request, object_id, form_url, extra_context)
