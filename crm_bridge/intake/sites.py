"""Which site a request is for: the one lookup the widget API and the no-JS form share."""

from __future__ import annotations

import re

from ..models import Site

__all__ = ["PUBLIC_KEY_RE", "find_site"]

#: Public keys are URL-safe base64 (``models.new_public_key``). Only a well-formed key reaches the database:
#: PostgreSQL refuses text with NUL outright (a DataError, i.e. a 500, instead of the one 403 for bad keys).
PUBLIC_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")


def find_site(key: object, feature: str | None = None) -> Site | None:
    """The active site whose public key is ``key`` and, when ``feature`` is given, whose feature is on;
    ``None`` for anything else (malformed, unknown, inactive, feature off — callers answer all alike)."""
    if not isinstance(key, str) or not PUBLIC_KEY_RE.fullmatch(key):
        return None
    site = Site.objects.filter(public_key=key).first()
    if site is None or not site.is_active or (feature is not None and not site.feature(feature)):
        return None
    return site
