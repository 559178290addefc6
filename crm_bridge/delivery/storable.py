"""Making what a CRM reply or an exception says storable on every database.

A reply is whatever the far side sent: a NUL byte in an HTML error page, the inflated zeros of a gzip bomb, a
lone surrogate from a ``\\udXXX`` escape. PostgreSQL refuses NUL in ``text`` and ``jsonb`` (and ``\\u0000`` or an
unpaired surrogate escape in ``jsonb``); psycopg cannot even encode a lone surrogate. A refused excerpt must never
cost us the record of a failure, so every text and JSON value delivery stores from the CRM or from an exception
passes through :func:`text` or :func:`json_value` first (``calls.record_attempt``, ``outbox._transition``, the
hit counters, the circuit, credential pauses).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "TEXT_CHARS", "json_value", "text"]

#: Longest text kept (an error message, a reply excerpt); the CRM client already cuts excerpts to 500.
TEXT_CHARS = 2000
#: JSON values are kept this deep and this wide; the rest is replaced by a marker.
MAX_DEPTH = 8
MAX_ITEMS = 100

REPLACEMENT = "\ufffd"
# NUL, and any surrogate code point: in a Python str a surrogate is always unpaired (a valid pair is decoded into
# one code point), so none of them can be encoded to UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text(value: Any, limit: int = TEXT_CHARS) -> str:
    """``value`` as a str PostgreSQL and SQLite both store: NUL and surrogates replaced by U+FFFD, at most
    ``limit`` characters. Never raises."""
    try:
        value = value if isinstance(value, str) else str(value)
    except Exception as err:  # a broken __str__ must not cost us the record
        value = f"<unprintable {type(value).__name__}: {type(err).__name__}>"
    return _UNSTORABLE.sub(REPLACEMENT, value[:limit])


def json_value(value: Any, *, limit: int = TEXT_CHARS, _depth: int = 0) -> Any:
    """A copy of a JSON-able ``value`` that every database's JSON column accepts: strings (keys too) through
    :func:`text`, non-finite floats (invalid JSON) and unknown types as strings, containers at most
    :data:`MAX_ITEMS` wide and :data:`MAX_DEPTH` deep. Never raises."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return text(value, limit)
    if isinstance(value, dict | list | tuple):
        if _depth >= MAX_DEPTH:
            return "…"
        if isinstance(value, dict):
            items = list(value.items())[:MAX_ITEMS]
            return {text(k, 200): json_value(v, limit=limit, _depth=_depth + 1) for k, v in items}
        return [json_value(v, limit=limit, _depth=_depth + 1) for v in list(value)[:MAX_ITEMS]]
    return text(value, limit)
