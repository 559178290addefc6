"""The admin dashboard's 14-day charts as server-rendered SVG: no JavaScript, no charting library.

:func:`volume_svg` draws one stacked bar per day (the submissions received that day, split by where they stand
now: delivered, duplicate, held as spam, failed, the rest waiting or cancelled) with the day's total above it;
:func:`latency_svg` draws the CRM calls' p50 and p95 duration per day. Both are ``role="img"`` with a
``<title>`` and a ``<desc>`` (named by ``aria-labelledby``) that sum up the period; the dashboard template puts
a table with every day's numbers behind them for screen readers and anyone who wants the figures.

Every text (labels are gettext, so they follow the staff user's language) and attribute is escaped here. Each
bar segment and point carries ``data-day``/``data-series``/``data-value`` (what the tests compare with the
table) and a ``<title>`` (a tooltip on hover). Colours and text colours come from the template's CSS classes, so
the admin's dark theme applies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..models import Submission
from .dashboard import Day

__all__ = ["SERIES", "latency_svg", "nice_scale", "series_labels", "volume_svg"]

S = Submission.Status
#: The stacked series, bottom to top: (key, its CSS class suffix). ``other`` is :attr:`Day.other`.
SERIES = ("delivered", "duplicate", "spam", "failed", "other")

#: Both charts are this wide (viewBox units; the page scales them); the volume chart is taller.
WIDTH, VOLUME_HEIGHT, LATENCY_HEIGHT = 720, 250, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 20, 30


def series_labels() -> dict[str, str]:
    """Each series' label in the active language (the status labels staff know from the lists)."""
    return {
        "received": _("received"),
        "delivered": str(S.DELIVERED.label),
        "duplicate": str(S.DUPLICATE.label),
        "spam": str(S.SPAM.label),
        "failed": str(S.FAILED.label),
        "other": _("waiting or cancelled"),
        "p50": _("p50 (median)"),
        "p95": _("p95"),
    }


def nice_scale(peak: float, ticks: int = 4) -> tuple[int, int]:
    """``(step, top)`` of an axis from 0 showing ``peak``: a 1-2-5 step giving about ``ticks`` gridlines, and the
    first multiple of it at or above ``peak`` (at least one step)."""
    if peak <= 0:
        return 1, ticks
    raw = peak / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, math.ceil(step))
    return step, max(step, math.ceil(peak / step) * step)


def _attrs(**attrs: object) -> str:
    return " ".join(f'{k.rstrip("_").replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(chart_id: str, title: str, desc: str, css: str, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" {_attrs(viewBox=f"0 0 {WIDTH} {height}", class_=css, role="img")} '
        f"{_attrs(aria_labelledby=f'{chart_id}-title {chart_id}-desc', id=chart_id, focusable='false')}>",
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]


def _axes(days: Sequence[Day], step: int, top: int, height: int) -> tuple[list[str], float, float]:
    """Gridlines with their values, the day labels; returns the parts, each day's slot width and the y scale."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    scale = plot_h / top
    parts = ['<g class="crm-chart-grid">']
    for value in range(0, top + 1, step):
        y = TOP + plot_h - value * scale
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(y)}" y2="{_n(y)}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{_n(y + 4)}" text-anchor="end">{value}</text>')
    parts.append("</g>")
    parts.append('<g class="crm-chart-days">')
    for i, day in enumerate(days):
        x = LEFT + slot * (i + 0.5)
        tick = f"{day.day.month}/{day.day.day}"
        parts.append(f'<text x="{_n(x)}" y="{height - BOTTOM + 16}" text-anchor="middle">{tick}</text>')
    parts.append("</g>")
    return parts, slot, scale


def _period(days: Sequence[Day]) -> dict[str, str]:
    return {"first": date_format(days[0].day, "DATE_FORMAT"), "last": date_format(days[-1].day, "DATE_FORMAT")}


def volume_svg(days: Sequence[Day], chart_id: str = "crm-chart-volume") -> SafeString:
    """The stacked bars of ``days`` (see the module docstring)."""
    labels = series_labels()
    totals = {key: sum(getattr(d, key) for d in days) for key in ("received", *SERIES)}
    title = _("Submissions per day, by where they stand now")
    desc = _(
        "From %(first)s to %(last)s: %(received)d received, %(delivered)d delivered, %(duplicate)d duplicate, "
        "%(spam)d held as spam, %(failed)d failed, %(other)d waiting or cancelled. "
        "The table below the charts has each day's numbers."
    ) % {**_period(days), **totals}
    step, top = nice_scale(max((d.received for d in days), default=0))
    parts = _open(chart_id, title, desc, "crm-chart crm-chart-volume", VOLUME_HEIGHT)
    axes, slot, scale = _axes(days, step, top, VOLUME_HEIGHT)
    parts += axes
    bar_w = min(32.0, slot * 0.66)
    base = VOLUME_HEIGHT - BOTTOM
    for i, day in enumerate(days):
        iso, when = day.day.isoformat(), date_format(day.day, "DATE_FORMAT")
        x = LEFT + slot * (i + 0.5) - bar_w / 2
        y = float(base)
        for key in SERIES:
            value = getattr(day, key)
            h = value * scale
            y -= h
            tip = f"{when}: {labels[key]} {value}"
            mark = _attrs(class_=f"crm-s-{key}", data_day=iso, data_series=key, data_value=value)
            parts.append(
                f'<rect {mark} x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" height="{_n(h)}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        label_y = base - day.received * scale - 5
        mark = _attrs(class_="crm-chart-total", data_day=iso, data_series="received", data_value=day.received)
        parts.append(
            f'<text {mark} x="{_n(x + bar_w / 2)}" y="{_n(label_y)}" text-anchor="middle">{day.received}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text and attribute above is escaped


def latency_svg(
    days: Sequence[Day], p50: int | None, p95: int | None, chart_id: str = "crm-chart-latency"
) -> SafeString:
    """The p50 and p95 lines of ``days`` (a gap where a day had no CRM call); ``p50``/``p95`` of the whole
    period go into the description."""
    labels = series_labels()
    title = _("CRM response time per day (p50 and p95, ms)")
    calls = sum(d.calls for d in days)
    if calls:
        desc = ngettext(
            "%(calls)d CRM call from %(first)s to %(last)s: p50 %(p50)d ms, p95 %(p95)d ms. "
            "The table below the charts has each day's numbers.",
            "%(calls)d CRM calls from %(first)s to %(last)s: p50 %(p50)d ms, p95 %(p95)d ms. "
            "The table below the charts has each day's numbers.",
            calls,
        ) % {**_period(days), "calls": calls, "p50": p50 or 0, "p95": p95 or 0}
    else:
        desc = _("No CRM calls from %(first)s to %(last)s.") % _period(days)
    peak = max((d.p95_ms or 0 for d in days), default=0)
    step, top = nice_scale(peak)
    parts = _open(chart_id, title, desc, "crm-chart crm-chart-latency", LATENCY_HEIGHT)
    axes, slot, scale = _axes(days, step, top, LATENCY_HEIGHT)
    parts += axes
    base = LATENCY_HEIGHT - BOTTOM
    for key in ("p95", "p50"):
        runs: list[list[str]] = [[]]
        points = []
        for i, day in enumerate(days):
            value = getattr(day, f"{key}_ms")
            if value is None:
                runs.append([])
                continue
            x, y = LEFT + slot * (i + 0.5), base - value * scale
            runs[-1].append(f"{_n(x)},{_n(y)}")
            tip = f"{date_format(day.day, 'DATE_FORMAT')}: {labels[key]} {value} ms"
            points.append(
                f"<circle {_attrs(class_=f'crm-s-{key}', data_day=day.day.isoformat(), data_series=key)} "
                f'{_attrs(data_value=value)} cx="{_n(x)}" cy="{_n(y)}" r="3.5"><title>{escape(tip)}</title></circle>'
            )
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="crm-l-{key}" points="{" ".join(run)}"/>')
        parts += points
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text and attribute above is escaped
