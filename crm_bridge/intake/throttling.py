"""Rate limits for the widget API: per client IP and per site, counted in the cache named by
``CRM_BRIDGE["THROTTLE_CACHE"]`` (``"default"`` unless set).

Rates come from ``CRM_BRIDGE["THROTTLE_RATES"]`` (``{"ip": "30/min", "site": "1200/min"}``, DRF's rate syntax).
Each limit is kept per *group* of endpoints, so a visitor browsing a catalogue (a config read and a hit per
page) never spends the budget that their lead form needs:

* ``submit`` — messages and leads;
* ``hits`` — page-view counts;
* ``read`` — config and submission status.

Why not DRF's ``SimpleRateThrottle`` as it is: it keeps a list of timestamps per client and writes it back
(read-modify-write), so concurrent requests overwrite each other's entries and a flood is undercounted —
exactly when the limit matters. These throttles count with ``cache.add`` + ``cache.incr`` in fixed windows,
which is atomic on Redis, Memcached and the local-memory cache (Django's database and file caches implement
``incr`` as get-then-set and can undercount under contention). A fixed window can let up to twice the rate
through around a window boundary; that bound is acceptable for abuse control.

In production the cache should be shared by every web process (Redis or Memcached). The database cache works
but costs a write transaction per request and limit, and undercounts under contention (above). The embedded
default (config/settings.py) therefore counts in a per-process local-memory cache (``THROTTLE_CACHE =
"throttle"`` when the default cache is the database): atomic and free, but each limit then applies per process,
so with N web processes a client gets up to N times each rate — acceptable for abuse control on a small site,
documented in docs/widget-api.md; use Redis when that matters.

When the cache is unreachable the throttles *fail open* (every request is allowed) through
:data:`crm_bridge.intake.errors.cache_guard`, which logs the outage sparingly and tries the cache again after a
short pause: a 202 depends on the database alone, never on the cache.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

from django.core.cache import caches
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from ..conf import bridge_settings
from .errors import cache_guard

__all__ = ["IPRateThrottle", "SiteRateThrottle", "client_ip", "parse_rate"]

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"30/min"`` → ``(30, 60)``; ``None`` → ``None`` (no limit). The period is read by its first letter,
    as DRF does (``s``, ``m``, ``h``, ``d``)."""
    if rate is None:
        return None
    num, _, period = str(rate).partition("/")
    try:
        return int(num), _PERIODS[period.strip()[0].lower()]
    except (ValueError, KeyError, IndexError) as err:
        raise ValueError(f"Invalid throttle rate {rate!r}: expected e.g. '30/min'") from err


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting exactly ``NUM_PROXIES`` reverse proxies (DRF's ``get_ident`` rule).

    With ``NUM_PROXIES = 0`` (the default) ``X-Forwarded-For`` is ignored: anyone can send it. With ``N > 0``
    the N-th address from the right of ``X-Forwarded-For`` is taken — the one our outermost trusted proxy saw;
    whatever the client prepended sits further left and is ignored. Unlike DRF we never fall back to trusting
    the whole header when ``NUM_PROXIES`` is unset.

    An IPv6 client is bucketed by its /64: one household or phone gets a whole /64 and could otherwise walk
    through addresses to dodge the limit.
    """
    remote_addr = request.META.get("REMOTE_ADDR") or ""
    xff = request.META.get("HTTP_X_FORWARDED_FOR")
    num_proxies = bridge_settings.NUM_PROXIES
    addr = remote_addr
    if num_proxies > 0 and xff:
        addrs = [a.strip() for a in xff.split(",") if a.strip()]
        if addrs:
            addr = addrs[-min(num_proxies, len(addrs))]
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr[:64]  # a malformed entry from a proxy: still a stable bucket name
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:1.2.3.4 is the IPv4 client 1.2.3.4
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _count(key: str, period: int) -> int:
    """Count one request on ``key`` (a window of ``period`` seconds); the count so far, this one included."""
    # incr() is atomic on the shared backends (Redis, Memcached); only the window's first request finds the key
    # missing and creates it with add(), which only sets a missing key — if another request won that race, count
    # on its key. (Incrementing first saves a round trip on every other request.) The key lives a little longer
    # than its window so a slow request cannot recreate it from zero.
    cache = caches[bridge_settings.THROTTLE_CACHE]
    try:
        return cache.incr(key)
    except ValueError:
        return 1 if cache.add(key, 1, timeout=period + 5) else cache.incr(key)


class _FixedWindowThrottle(BaseThrottle):
    """Allow ``num`` requests per ``period`` seconds per identity, counted atomically in the cache."""

    #: The key in ``THROTTLE_RATES`` whose rate applies.
    rate_name: str = ""
    #: Seconds since the epoch; tests replace it to move through windows.
    timer: Callable[[], float] = staticmethod(time.time)

    def __init__(self, group: str) -> None:
        self.group = group
        self._wait: float | None = None

    def get_ident_key(self, request: HttpRequest, view: object) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def allow_request(self, request: HttpRequest, view: object) -> bool:
        """True when this request is within the limit (and counts it); False when it is over. True, counting
        nothing, while the cache is unreachable (fail open).

        After a False, :meth:`wait` tells how many seconds until the window resets.
        """
        parsed = parse_rate(bridge_settings.THROTTLE_RATES.get(self.rate_name))
        if parsed is None:
            return True
        num, period = parsed
        now = self.timer()
        window = int(now // period)
        key = f"crm_bridge:throttle:{self.rate_name}:{self.group}:{self.get_ident_key(request, view)}:{window}"
        # An unreachable cache counts nothing (0): the request is allowed. See crm_bridge.intake.errors.
        count = cache_guard.call("throttling", lambda: _count(key, period), default=0)
        if count <= num:
            self._wait = None
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        """Seconds until the next request may pass (at least 1, so ``Retry-After`` is always sent)."""
        if self._wait is None:
            return None
        return max(1, math.ceil(self._wait))


class IPRateThrottle(_FixedWindowThrottle):
    """``THROTTLE_RATES["ip"]`` per client address (see :func:`client_ip`) and endpoint group."""

    rate_name = "ip"

    def get_ident_key(self, request: HttpRequest, view: object) -> str:
        return client_ip(request)


class SiteRateThrottle(_FixedWindowThrottle):
    """``THROTTLE_RATES["site"]`` per site and endpoint group: bounds what a flood from many addresses costs.

    The view decides what "over" means: messages and leads are still stored but held as spam (so a real
    visitor loses nothing and the CRM is not called); hits are refused with 429.
    """

    rate_name = "site"

    def __init__(self, group: str, site_id: int) -> None:
        super().__init__(group)
        self.site_id = site_id

    def get_ident_key(self, request: HttpRequest, view: object) -> str:
        return str(self.site_id)
