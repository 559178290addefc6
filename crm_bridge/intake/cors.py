"""CORS grants for the widget API, decided per site through django-cors-headers' ``check_request_enabled``.

corsheaders asks this handler twice per request: whether CORS applies to the URL at all (when
``CORS_URLS_REGEX`` did not match) and whether the request's origin may have a grant (when the origin is not in
``CORS_ALLOWED_ORIGINS``). Whatever it answers True to gets ``Access-Control-Allow-Origin: <origin>``, so it
answers True only when both hold:

* the URL resolves to one of the widget API's views (wherever the integrator mounted ``crm_bridge.urls``;
  admin and the rest of the site never get a grant from here), and
* the ``Origin`` is on the allow-list of some active ``Site``.

Which site's list is checked by the view itself, against the key the request carries (403 otherwise): CORS
headers only tell a browser what it may read, they protect nothing on their own.

Never a wildcard and never credentials: the widget API uses no cookies (keep ``CORS_ALLOW_CREDENTIALS`` off).
The union of allow-lists is cached for :data:`ORIGINS_TTL` seconds in the ``default`` cache and dropped
whenever a ``Site`` is saved or deleted; in front of it each process keeps its own copy for
``SITE_CACHE_SECONDS`` (so an ordinary request reads neither the database nor the cache), forgotten at once by the
process that saves a site: other processes see a change within ``SITE_CACHE_SECONDS`` (as for the sites
themselves, :mod:`crm_bridge.intake.sites`).

corsheaders runs this handler in its middleware, before the view and outside DRF's error handling, so it never
raises: an unreachable cache is skipped (the union is read from the database, see
:data:`crm_bridge.intake.errors.cache_guard`); an unreachable database, or any other error, grants nothing and is
logged — the view then answers the request itself (a JSON 503 while the database is down), and the widget,
unable to read an answer, keeps the submission and sends it again later.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import Resolver404, resolve

from ..conf import bridge_settings
from ..origins import origin_key
from .errors import cache_guard, is_db_unavailable, warn_db_unavailable

__all__ = ["ORIGINS_TTL", "allowed_origins", "cors_allow_widget", "invalidate_origins"]

ORIGINS_CACHE_KEY = "crm_bridge:cors:origins:v1"
ORIGINS_TTL = 60

logger = logging.getLogger("crm_bridge.intake")


_memo: tuple[float, frozenset[str]] | None = None  # (monotonic expiry, union): this process's copy


def allowed_origins() -> frozenset[str]:
    """Every origin on an active site's allow-list (normalised), cached briefly (read from the database while
    the cache is unreachable). Raises the database's errors."""
    global _memo
    memo, ttl = _memo, bridge_settings.SITE_CACHE_SECONDS
    now = time.monotonic()
    if memo is not None and memo[0] > now:
        return memo[1]
    union = _shared_origins()
    if ttl > 0:
        _memo = (now + ttl, union)
    return union


def _shared_origins() -> frozenset[str]:
    cached = cache_guard.call("the CORS allow-list cache", lambda: cache.get(ORIGINS_CACHE_KEY), default=None)
    if cached is not None:
        return frozenset(cached)
    from ..models import Site  # import late: this module is imported from AppConfig.ready()

    origins: set[str] = set()
    for allow_list in Site.objects.filter(is_active=True).values_list("allowed_origins", flat=True):
        if isinstance(allow_list, list):
            origins.update(key for o in allow_list if (key := origin_key(o)))
    listed = sorted(origins)
    cache_guard.call("the CORS allow-list cache", lambda: cache.set(ORIGINS_CACHE_KEY, listed, ORIGINS_TTL), None)
    return frozenset(origins)


def invalidate_origins(**kwargs: Any) -> None:
    """Drop the cached allow-list union (connected to ``Site`` post_save / post_delete).

    With the cache unreachable nothing is dropped and saving the site still succeeds: a restarted cache starts
    empty, and one that was only cut off serves the old union for at most :data:`ORIGINS_TTL` seconds.
    """
    global _memo
    _memo = None
    cache_guard.call("the CORS allow-list cache", lambda: cache.delete(ORIGINS_CACHE_KEY), default=False)


def is_widget_request(request: HttpRequest) -> bool:
    """True when the request's path resolves to a widget API view (memoised on the request)."""
    memo = getattr(request, "_crm_bridge_widget_url", None)
    if memo is None:
        try:
            match = resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
        except Resolver404:
            memo = False
        else:
            view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
            memo = bool(getattr(view_class, "cors_widget_api", False))
        request._crm_bridge_widget_url = memo  # type: ignore[attr-defined]
    return memo


def cors_allow_widget(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    """``check_request_enabled`` receiver: grant CORS to an allowed origin on a widget API URL, else nothing.

    Never raises (see the module docstring): on any error it grants nothing.
    """
    origin = request.headers.get("origin")
    if not origin:  # cheap exit for the site's ordinary same-origin traffic
        return False
    try:
        if not is_widget_request(request):
            return False
        key = origin_key(origin)
        return key is not None and key in allowed_origins()
    except Exception as err:  # an exception here would be Django's HTML 500, before the view could answer
        if is_db_unavailable(err):
            warn_db_unavailable("the CORS check (no grant)", err)
        else:
            logger.error("unexpected error deciding CORS; no grant", exc_info=err)
        return False
