"""Admin for the outbox: every submission with its status, its attempts and the CRM's answers, and the staff
actions of :mod:`crm_bridge.delivery` (retry now, cancel, release from spam).

Submissions are written by intake and moved by delivery, never edited by hand: there is no add permission, every
field is read-only, and an object's page is a view page. State changes go through the delivery functions only
(as list actions, or the buttons on a submission's page), which make the same conditional updates the workers
do, so staff can never race a worker into sending a row twice.

The changelist's "Export CSV" / "Export XLSX" buttons download the rows its filters and search show
(:mod:`.export`, docs/export.md; view permission, audited).

Data-subject requests (docs/privacy.md): search by phone or e-mail, then "Export selected as JSON" or "Erase
selected" (a confirmation page says plainly that the CRM's copy must be deleted in the CRM). Both are audited
(:class:`~crm_bridge.models.PrivacyAuditLog`) without the personal data.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator, smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import delivery
from ..intake.validators import normalize_cn_phone
from ..models import DeliveryAttempt, PrivacyAuditLog, Submission
from ..privacy import requests as privacy_requests
from .common import CountingEnqueue, badge, enqueue_on_commit, folded_json, pretty_json
from .export import export_view as export_changelist

__all__ = ["DeliveryAttemptInline", "SubmissionAdmin", "search_q"]

S = Submission.Status

if TYPE_CHECKING:  # generic only in django-stubs; Django's classes take no type parameters at run time
    _ModelAdmin = admin.ModelAdmin[Submission]
    _AttemptInline = admin.TabularInline[DeliveryAttempt, Submission]
else:
    _ModelAdmin = admin.ModelAdmin
    _AttemptInline = admin.TabularInline

#: Payload keys the admin search looks in (messages: content, contact; leads: the rest).
SEARCH_KEYS = ("name", "tel", "tel_e164", "company", "email", "content", "contact", "message")
_PHONE_RE = re.compile(r"\+?[\d\s()\-]{5,30}")


def search_q(term: str) -> Q:
    """Rows whose payload holds ``term`` (case-insensitive) in any of :data:`SEARCH_KEYS`, whose campaign
    (``source.utm_campaign``) holds it, or whose id it is.

    Uses JSON key lookups (``payload__name__icontains``), which Django compiles for SQLite (``JSON_EXTRACT``),
    PostgreSQL (``->>``), MySQL and Oracle alike. A phone number typed with spaces, dashes or a ``+86`` also
    matches by its digits against ``tel_e164`` (a leading trunk ``0`` dropped: ``010-1234 5678`` finds
    ``+861012345678``), and a whole number finds a message's contact however it was typed there
    (:func:`crm_bridge.privacy.requests.contact_pattern`).
    """
    q = Q()
    for key in SEARCH_KEYS:
        q |= Q(**{f"payload__{key}__icontains": term})
    q |= Q(source__utm_campaign__icontains=term)
    if _PHONE_RE.fullmatch(term):
        digits = re.sub(r"\D", "", term)
        for candidate in {digits, digits.lstrip("0")}:
            if len(candidate) >= 5:
                q |= Q(payload__tel_e164__icontains=candidate)
        # A whole number also finds a message whose free-form contact holds it typed another way.
        with contextlib.suppress(ValidationError):
            number = normalize_cn_phone(term)
            q |= Q(payload__contact__regex=privacy_requests.contact_pattern(number.national))
    with contextlib.suppress(ValueError):
        q |= Q(pk=uuid.UUID(term))
    return q


class AmbiguousFilter(admin.SimpleListFilter):
    """Rows with a send whose outcome we never heard: the one place a duplicate message can arise."""

    title = _("possible duplicates")
    parameter_name = "ambiguous"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("ambiguous send (no answer after sending)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Submission]) -> QuerySet[Submission]:
        if self.value() == "yes":
            return queryset.filter(ambiguous_sends__gt=0)
        return queryset


#: Click-id keys of ``Submission.source`` (intake.serializers.SOURCE_PARAMS) and whose they are.
CLICK_IDS = {"bd_vid": _("Baidu (bd_vid)"), "qhclickid": _("360 (qhclickid)"), "clickid": _("Ocean Engine (clickid)")}
#: At most this many utm_source values are offered as filter choices (the most frequent ones).
UTM_SOURCE_CHOICES = 30


class UTMSourceFilter(admin.SimpleListFilter):
    """By the visit's ``utm_source`` (the most frequent values in the outbox), or none at all."""

    title = _("campaign source (utm_source)")
    parameter_name = "utm_source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        values = (
            model_admin.get_queryset(request)
            .filter(source__has_key="utm_source")
            .values("source__utm_source")
            .annotate(n=Count("pk"))
            .order_by("-n", "source__utm_source")
            .values_list("source__utm_source", flat=True)[:UTM_SOURCE_CHOICES]
        )
        # Not only str: on SQLite a key transform reads "360" back as the number 360 (JSON-decoded).
        choices: list[tuple[str, Any]] = [(str(v), str(v)) for v in values if v not in (None, "")]
        return [*choices, ("-", _("none"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Submission]) -> QuerySet[Submission]:
        value = self.value()
        if value == "-":
            return queryset.exclude(source__has_key="utm_source")
        if value:
            return queryset.filter(source__utm_source=value)
        return queryset


class ClickIdFilter(admin.SimpleListFilter):
    """Rows whose visit came with a paid-search click id (any, or one platform's), or without one."""

    title = _("paid-search click id")
    parameter_name = "click_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("any", _("any click id")), *CLICK_IDS.items(), ("none", _("none"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Submission]) -> QuerySet[Submission]:
        value = self.value()
        if value == "any":
            return queryset.filter(source__has_any_keys=list(CLICK_IDS))
        if value == "none":
            return queryset.exclude(source__has_any_keys=list(CLICK_IDS))
        if value in CLICK_IDS:
            return queryset.filter(source__has_key=value)
        return queryset


class DeliveryAttemptInline(_AttemptInline):
    """Every CRM call made for the submission, oldest first, with the CRM's answer. Read-only."""

    model = DeliveryAttempt
    fk_name = "submission"
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name = _("CRM call")
    verbose_name_plural = _("CRM calls (delivery attempts)")
    fields = ("started_at", "attempt", "endpoint", "duration", "outcome_badge", "http_status", "error_code", "error",
              "reply_folded")  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("duration"))
    def duration(self, attempt: DeliveryAttempt) -> str:
        return f"{attempt.duration_ms} ms"

    @admin.display(description=_("outcome"))
    def outcome_badge(self, attempt: DeliveryAttempt) -> str:
        return badge(attempt.outcome, attempt.get_outcome_display())

    @admin.display(description=_("CRM reply"))
    def reply_folded(self, attempt: DeliveryAttempt) -> str:
        return folded_json(attempt.reply)


def source_table(source: Any) -> str:
    """``Submission.source`` as a two-column table (landing page, referrer, then each parameter), all escaped;
    URLs are shown as text, not links, so staff open them knowingly."""
    if not isinstance(source, dict) or not source:
        return "—"
    labels = {"landing": _("landing page"), "referrer": _("referrer")}
    rows = [(labels.get(k, k), str(v)) for k, v in source.items()]
    return format_html(
        '<table class="crm-source"><tbody>{}</tbody></table>',
        format_html_join("", '<tr><th scope="row">{}</th><td style="word-break:break-all">{}</td></tr>', rows),
    )


def _summary(sub: Submission) -> str:
    p = sub.payload if isinstance(sub.payload, dict) else {}
    if sub.kind == Submission.Kind.LEAD:
        who = " · ".join(str(p[k]) for k in ("name", "tel", "company") if p.get(k))
        return who or "—"
    text = Truncator(" ".join(str(p.get("content", "")).split())).chars(60)
    contact = p.get("contact")
    return f"{text} ({contact})" if contact else (text or "—")


@admin.register(Submission)
class SubmissionAdmin(_ModelAdmin):
    list_display = ("created_at", "status_badge", "kind", "site", "summary", "attempts_column", "next_attempt")
    list_display_links = ("created_at", "summary")
    list_filter = (
        "status", "kind", "site", ("created_at", admin.DateFieldListFilter), AmbiguousFilter, UTMSourceFilter,
        ClickIdFilter, ("redacted_at", admin.EmptyFieldListFilter),
    )  # fmt: skip
    list_select_related = ("site",)
    list_per_page = 50
    search_fields = ("payload",)  # the real work is in get_search_results; this turns the search box on
    search_help_text = _(
        "Name, phone number, message text, e-mail, company, campaign (utm_campaign), or a submission id."
    )
    ordering = ("-created_at",)
    inlines = [DeliveryAttemptInline]
    actions = ["retry_now", "cancel", "release_spam", "export_json", "erase"]
    fieldsets = (
        (None, {"fields": ("id", "site", "kind", "status_badge", "created_at", "finished_at")}),
        (_("What the visitor sent"), {"fields": ("payload_pretty", "page_url", "origin", "user_agent", "spam_reason")}),
        (_("Privacy"), {"fields": ("consent_pretty", "redacted_at")}),
        (_("Where the visit came from"), {"fields": ("source_table",)}),
        (
            _("Delivery"),
            {
                "fields": ("attempts", "next_attempt_at", "enqueued_at", "lease_expires_at", "ambiguous_sends",
                           "save_attempted", "last_error", "crm_reply_pretty", "updated_at"),
            },
        ),
    )  # fmt: skip
    readonly_fields = (
        "id", "site", "kind", "status_badge", "created_at", "finished_at", "payload_pretty", "page_url", "origin",
        "user_agent", "spam_reason", "attempts", "next_attempt_at", "enqueued_at", "lease_expires_at",
        "ambiguous_sends", "save_attempted", "last_error", "crm_reply_pretty", "updated_at", "source_table",
        "consent_pretty", "redacted_at",
    )  # fmt: skip

    # --- permissions: written by intake, moved by delivery ----------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Submission | None = None) -> bool:
        # Model-level "change" is what the state actions need; an object's page is always view-only.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    # --- columns ----------------------------------------------------------------------------------------

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, sub: Submission) -> str:
        return badge(sub.status, sub.get_status_display())

    @admin.display(description=_("summary"))
    def summary(self, sub: Submission) -> str:
        return _summary(sub)

    @admin.display(description=_("attempts"), ordering="attempts")
    def attempts_column(self, sub: Submission) -> str:
        if sub.ambiguous_sends:
            return format_html(
                '{} <span title="{}" style="color:#8250df">⚠</span>',
                sub.attempts,
                _("a send got no answer: possibly delivered twice"),
            )
        return str(sub.attempts)

    @admin.display(description=_("next attempt"), ordering="next_attempt_at")
    def next_attempt(self, sub: Submission) -> Any:
        if sub.status != S.QUEUED:
            return "—"
        return sub.next_attempt_at or _("now")

    @admin.display(description=_("payload"))
    def payload_pretty(self, sub: Submission) -> str:
        return pretty_json(sub.payload)

    @admin.display(description=_("consent record"))
    def consent_pretty(self, sub: Submission) -> str:
        return pretty_json(sub.consent)

    @admin.display(description=_("source"))
    def source_table(self, sub: Submission) -> str:
        return source_table(sub.source)

    @admin.display(description=_("the CRM's last answer"))
    def crm_reply_pretty(self, sub: Submission) -> str:
        return pretty_json(sub.crm_reply)

    # --- search -----------------------------------------------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Submission], search_term: str
    ) -> tuple[QuerySet[Submission], bool]:
        """Every word must match (as in Django's own search); a whole phone number counts as one word."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if _PHONE_RE.fullmatch(term):
            words = [term]
        else:
            words = []
            for bit in smart_split(term):
                if bit.startswith(('"', "'")) and bit[0] == bit[-1] and len(bit) > 1:
                    bit = unescape_string_literal(bit)
                if bit:
                    words.append(bit)
        for word in words:
            queryset = queryset.filter(search_q(word))
        return queryset, False

    # --- actions ----------------------------------------------------------------------------------------

    def _report(self, request: HttpRequest, changed: int, selected: int, done: str, skipped_why: str) -> None:
        text = ngettext("%(n)d submission %(done)s.", "%(n)d submissions %(done)s.", changed) % {
            "n": changed,
            "done": done,
        }
        if selected > changed:
            text += " " + ngettext("%(n)d skipped: %(why)s", "%(n)d skipped: %(why)s", selected - changed) % {
                "n": selected - changed,
                "why": skipped_why,
            }
        self.message_user(request, text, messages.SUCCESS if changed else messages.WARNING)

    @admin.action(description=_("Retry now"), permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        enqueue = CountingEnqueue()
        delivery.retry_now(ids, enqueue=enqueue)
        # Counted by enqueue calls: retry_now's own return value counts a failed row twice (failed → queued,
        # then again among the queued rows made due).
        n = enqueue.count
        self._report(request, n, len(ids), str(_("queued for delivery now")),
                     str(_("only queued or failed submissions can be retried.")))  # fmt: skip

    @admin.action(description=_("Cancel (never send)"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        n = delivery.cancel(ids)
        self._report(request, n, len(ids), str(_("cancelled")),
                     str(_("only queued, failed or held-as-spam submissions can be cancelled.")))  # fmt: skip

    @admin.action(description=_("Release from spam and deliver"), permissions=["change"])
    def release_spam(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        n = delivery.release_spam(ids, enqueue=enqueue_on_commit)
        self._report(request, n, len(ids), str(_("released from spam and queued")),
                     str(_("only submissions held as spam can be released.")))  # fmt: skip

    # --- data-subject requests -------------------------------------------------------------------------

    @admin.action(description=_("Export selected as JSON (data-subject request)"), permissions=["change"])
    def export_json(self, request: HttpRequest, queryset: QuerySet[Submission]) -> HttpResponse:
        rows = list(queryset.select_related("site").order_by("created_at"))
        privacy_requests.audit(PrivacyAuditLog.Action.EXPORT, actor=request.user.get_username(), via="admin",
                               matched_by="selection", rows=len(rows))  # fmt: skip
        body = json.dumps(privacy_requests.export(rows), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="submissions.json"'
        return response

    @admin.action(description=_("Erase selected (data-subject request)"), permissions=["change"])
    def erase(self, request: HttpRequest, queryset: QuerySet[Submission]) -> HttpResponse | None:
        """A confirmation page first (what is erased, and that the CRM's copy is not); then redact."""
        if request.POST.get("confirm") != "yes":
            rows = list(queryset.order_by("created_at"))
            sent = sum(s.status in (S.DELIVERED, S.DUPLICATE) for s in rows)
            context = {
                **self.admin_site.each_context(request),
                "title": _("Erase the personal data of these submissions?"),
                "rows": rows,
                "sent": sent,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            return TemplateResponse(request, "admin/crm_bridge/submission/erase_confirmation.html", context)
        rows = list(queryset)
        n = privacy_requests.erase(rows)
        privacy_requests.audit(PrivacyAuditLog.Action.ERASE, actor=request.user.get_username(), via="admin",
                               matched_by="selection", rows=n)  # fmt: skip
        self.message_user(
            request,
            ngettext(
                "Erased the personal data of %(n)d submission here. What was already delivered is still in the CRM: "
                "delete it there too.",
                "Erased the personal data of %(n)d submissions here. What was already delivered is still in the CRM: "
                "delete it there too.",
                n,
            )
            % {"n": n},
            messages.SUCCESS if n else messages.WARNING,
        )
        return None

    # --- the same actions as buttons on a submission's page ---------------------------------------------

    #: button name → (label, statuses it applies to, the list action it runs)
    BUTTONS: dict[str, tuple[Any, tuple[str, ...], str]] = {
        "retry": (_("Retry now"), (S.QUEUED, S.FAILED), "retry_now"),
        "release": (_("Release from spam"), (S.SPAM,), "release_spam"),
        "cancel": (_("Cancel"), (S.QUEUED, S.FAILED, S.SPAM), "cancel"),
    }

    def button_view(self, request: HttpRequest, object_id: str, button: str) -> HttpResponse:
        """POST only: run one action on one submission, then back to its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if button not in self.BUTTONS:
            raise PermissionDenied
        if not self.has_change_permission(request):
            raise PermissionDenied
        sub = get_object_or_404(Submission, pk=object_id)
        action: Callable[[HttpRequest, QuerySet[Submission]], HttpResponse | None]  # one of the admin actions
        action = getattr(self, self.BUTTONS[button][2])
        action(request, Submission.objects.filter(pk=sub.pk))
        return HttpResponseRedirect(reverse("admin:crm_bridge_submission_change", args=[sub.pk]))

    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponse:
        """The changelist as filtered and searched now, as CSV or XLSX (:mod:`.export`; view permission)."""
        return export_changelist(self, request, fmt)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "export/<str:fmt>/",
                self.admin_site.admin_view(self.export_view),
                name="crm_bridge_submission_export",
            ),
            path(
                "<path:object_id>/do/<str:button>/",
                self.admin_site.admin_view(self.button_view),
                name="crm_bridge_submission_button",
            ),
        ]
        return own + super().get_urls()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        sub = self.get_object(request, object_id)
        if sub is not None and self.has_change_permission(request):
            extra_context["submission_buttons"] = [
                (label, reverse("admin:crm_bridge_submission_button", args=[sub.pk, name]), name)
                for name, (label, statuses, _action) in self.BUTTONS.items()
                if sub.status in statuses
            ]
        return super().change_view(request, object_id, form_url, extra_context)
