"""``{% load crm_bridge_admin %}{% crm_bridge_dashboard %}``: the delivery dashboard for admin pages.

crm_bridge's admin index (``crm_bridge/admin/index.html``) and app page use it; a project with its own admin
index template can drop the same two tags into it. Shown only to users who may view submissions.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from ..admin import chart
from ..admin.common import badge
from ..admin.dashboard import dashboard_data

register = template.Library()


@register.inclusion_tag("crm_bridge/admin/dashboard.html", takes_context=True)
def crm_bridge_dashboard(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("crm_bridge.view_submission"):
        return {"show": False}
    current_app = getattr(request, "current_app", None)

    def url(name: str, *args: Any, **query: Any) -> str:
        try:
            base = reverse(f"admin:{name}", args=args, current_app=current_app)
        except NoReverseMatch:  # not registered on this admin site
            return ""
        return f"{base}?{urlencode(query)}" if query else base

    board = dashboard_data()
    labels = chart.series_labels()
    since = board.since.isoformat()
    changelist = "crm_bridge_submission_changelist"
    return {
        "show": True,
        "board": board,
        "queued_url": url(changelist, status__exact="queued"),
        "sending_url": url(changelist, status__exact="sending"),
        "recent": [
            (status, label, count, url(changelist, status__exact=status, created_at__gte=since))
            for status, label, count in board.recent_rows
        ],
        "ambiguous_url": url(changelist, ambiguous="yes", created_at__gte=since),
        "paused_sites": [(site, url("crm_bridge_site_change", site.pk)) for site in board.paused_sites],
        "circuit_url": url("crm_bridge_circuit_changelist"),
        "last_error_url": (
            url("crm_bridge_submission_change", board.last_error.submission_id)
            if board.last_error and board.last_error.submission_id
            else ""
        ),
        "hits_url": url("crm_bridge_hitcounter_changelist"),
        "console_url": url("crm_bridge_console") if user.has_perm("crm_bridge.change_site") else "",
        # The 14-day charts (SVG built and escaped in crm_bridge.admin.chart) and the labels of their table.
        "volume_svg": chart.volume_svg(board.days),
        "latency_svg": chart.latency_svg(board.days, board.p50_ms, board.p95_ms),
        "series": labels,
        "stacked": [(key, labels[key]) for key in chart.SERIES],
        "table_columns": [
            *((key, labels[key]) for key in ("received", *chart.SERIES)),
            ("calls", _("CRM calls")),
            ("p50", _("p50 (ms)")),
            ("p95", _("p95 (ms)")),
        ],
    }


@register.simple_tag
def crm_badge(value: str, label: Any) -> str:
    """A coloured status pill (the same as the admin lists show)."""
    return badge(value, label)


@register.filter
def crm_age(value: Any, now: Any = None) -> str:
    """How long ago ``value`` was, in its largest unit only ("5 hours", not "5 hours, 1 minute")."""
    if not value:
        return ""
    return timesince(value, now, depth=1)
