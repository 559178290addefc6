"""Which site a request is for: the one lookup the widget API and the no-JS form share.

Sites are read once per :data:`~crm_bridge.conf.BridgeSettings.SITE_CACHE_SECONDS` per process and key, not once
per request (docs/architecture.md, "Intake"). How fast a change reaches every process:

* the process that saves or deletes a ``Site`` (the admin's) forgets its copies at once (``post_save`` /
  ``post_delete``, connected in ``apps.py``);
* every other process (the other web workers) keeps its copy for at most ``SITE_CACHE_SECONDS`` (5 s by default):
  a site disabled in the admin stops accepting requests everywhere within that bound.

Why a TTL and not a version counter in a shared store: the counter would be one more round trip per request (a
database read on the embedded default, whose cache *is* the database) to save at most one SELECT per key every
few seconds; a bounded staleness of a few seconds is the documented price. ``0`` turns the cache off.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from ..conf import bridge_settings
from ..models import Site

__all__ = ["MAX_CACHED_SITES", "PUBLIC_KEY_RE", "find_site", "forget_sites"]

#: Public keys are URL-safe base64 (``models.new_public_key``). Only a well-formed key reaches the database:
#: PostgreSQL refuses text with NUL outright (a DataError, i.e. a 500, instead of the one 403 for bad keys).
PUBLIC_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")

#: Past this many cached keys the cache starts over: bounded memory whatever keys requests carry (only keys of
#: existing sites are cached at all; unknown keys are looked up every time, never remembered).
MAX_CACHED_SITES = 1000

#: Monotonic seconds; tests replace it to move past the TTL.
clock: Callable[[], float] = time.monotonic

_cache: dict[str, tuple[float, Site]] = {}  # public key → (expiry, the site as read)
_lock = threading.Lock()
_generation = 0  # bumped by forget_sites(): a read that raced a save must not store the old row


def forget_sites(**kwargs: Any) -> None:
    """Drop every cached site of this process (``Site`` post_save / post_delete; tests)."""
    global _generation
    with _lock:
        _cache.clear()
        _generation += 1


def _lookup(key: str) -> Site | None:
    ttl = bridge_settings.SITE_CACHE_SECONDS
    if ttl <= 0:
        return Site.objects.filter(public_key=key).first()
    now = clock()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    generation = _generation
    site = Site.objects.filter(public_key=key).first()
    if site is not None:
        with _lock:
            if generation == _generation:  # no save since we read: the row is current
                if len(_cache) >= MAX_CACHED_SITES:
                    _cache.clear()
                _cache[key] = (now + ttl, site)
    return site


def find_site(key: object, feature: str | None = None) -> Site | None:
    """The active site whose public key is ``key`` and, when ``feature`` is given, whose feature is on;
    ``None`` for anything else (malformed, unknown, inactive, feature off — callers answer all alike).

    The returned instance may be shared with other requests of this process: read it, never change it.
    """
    if not isinstance(key, str) or not PUBLIC_KEY_RE.fullmatch(key):
        return None
    site = _lookup(key)
    if site is None or not site.is_active or (feature is not None and not site.feature(feature)):
        return None
    return site
