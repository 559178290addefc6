"""Small rendering helpers shared by the crm_bridge admin pages."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from django.db import transaction
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from .. import broker

#: Status → badge colour (white text on it reads in the light and the dark admin themes).
STATUS_COLOURS = {
    "queued": "#5b6f82",
    "sending": "#1f6feb",
    "delivered": "#1a7f37",
    "duplicate": "#9a6700",
    "failed": "#cf222e",
    "spam": "#8250df",
    "cancelled": "#6e7781",
    # circuit states
    "closed": "#1a7f37",
    "half_open": "#9a6700",
    "open": "#cf222e",
    # attempt outcomes
    "ok": "#1a7f37",
    "retry": "#9a6700",
    "auth": "#cf222e",
    "rejected": "#cf222e",
    "ambiguous": "#8250df",
    "skipped": "#6e7781",
}


NONE = mark_safe('<span class="quiet">—</span>')  # a constant: nothing to escape


def badge(value: str, label: Any) -> SafeString:
    """A coloured pill for a status-like ``value``, showing ``label``."""
    colour = STATUS_COLOURS.get(value, "#6e7781")
    return format_html(
        '<span class="crm-badge crm-badge-{}" style="display:inline-block;padding:1px 8px;border-radius:9px;'
        'background:{};color:#fff;font-size:11px;font-weight:600;white-space:nowrap">{}</span>',
        value,
        colour,
        label,
    )


def to_json(value: Any, *, indent: int | None = 2) -> str:
    """``value`` as JSON for people: non-ASCII kept as is (Chinese stays readable), anything odd as ``str``."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def pretty_json(value: Any) -> SafeString:
    """A read-only, escaped, indented JSON block."""
    if value is None:
        return NONE
    return format_html(
        '<pre class="crm-json" style="margin:0;white-space:pre-wrap;word-break:break-word;max-width:60em">{}</pre>',
        to_json(value),
    )


def folded_json(value: Any, *, summary_chars: int = 36) -> SafeString:
    """JSON folded into a ``<details>``: one short line, the whole value on click (for table cells)."""
    if value is None:
        return NONE
    line = Truncator(to_json(value, indent=None)).chars(summary_chars)
    return format_html(
        '<details class="crm-json-fold"><summary><code>{}</code></summary>{}</details>', line, pretty_json(value)
    )


class CountingEnqueue:
    """An ``enqueue`` for the staff actions that counts its calls (``.count``): the delivery functions hand over
    each row they made due, so the count is exactly the rows an action queued."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, submission_id: str) -> bool:
        self.count += 1
        return enqueue_on_commit(submission_id)


def enqueue_on_commit(submission_id: str) -> bool:
    """The ``enqueue`` the staff actions get: publish the delivery task once the surrounding transaction (if
    any) commits, so a worker never looks for a row whose new status it cannot see yet. Outside a transaction it
    publishes at once. Looks ``broker.enqueue_delivery`` up at call time (tests replace it)."""
    transaction.on_commit(partial(_enqueue, str(submission_id)))
    return True


def _enqueue(submission_id: str) -> None:
    broker.enqueue_delivery(submission_id)
