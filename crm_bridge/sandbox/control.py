"""The sandbox's public Python API, for tests, benchmarks and demos (yours too).

>>> from crm_bridge.sandbox import control
>>> control.reset()
>>> control.inject_fault("down", endpoint="ECommerce/*", count=2)
>>> ...                          # your code calls the CRM twice and sees 503 / error 10002
>>> control.calls("ECommerce/AddMessageBoard")
2
>>> control.messages(site_key="my-site-key")     # nothing was stored
[]

Everything here works on the database, so it also steers a sandbox served by another process that uses
the same database (the ``crm_sandbox`` command, a live server, a demo). The same operations are offered
over HTTP at ``/_sandbox/`` (see :mod:`crm_bridge.sandbox.control_views`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, QuerySet, Sum

from . import credentials, faults
from .credentials import digest, fingerprint
from .models import (
    CallHistory,
    ContactHistory,
    ContactPlan,
    Customer,
    Fault,
    Hit,
    LinkMan,
    Message,
    RequestLog,
    Sms,
)
from .seed import reset as _reset
from .seed import seed
from .wire import format_datetime, to_wire

__all__ = [
    "Fault",
    "FaultSpecError",
    "active_faults",
    "calls",
    "clear_faults",
    "customers",
    "hits",
    "inject_fault",
    "link_men",
    "messages",
    "request_log",
    "reset",
    "seed",
    "set_credentials",
    "state",
]

FaultSpecError = faults.FaultSpecError


def reset() -> None:
    """Back to the seeded state: all data, faults, request log and credential override wiped, seeds
    re-inserted with their documented ids (README.md)."""
    _reset()


def inject_fault(
    kind: str,
    *,
    rate: float = 1.0,
    duration: float | None = None,
    count: int | None = None,
    endpoint: str = "*",
    phase: str = "before",
    delay: float | None = None,
    error_code: int | None = None,
) -> Fault:
    """Make matching requests fail.

    ``kind``: ``down``, ``slow``, ``hang``, ``garbage``, ``html``, ``truncated``, ``error``, ``reject``,
    ``reset`` (see README.md for what each answers). ``rate``: probability a matching request is hit.
    ``duration``: seconds until the fault expires (None: never). ``count``: it applies to the next
    ``count`` hit requests, then is spent (None: no limit). ``endpoint``: fnmatch pattern on
    ``Group/Name`` (``"Customer/*"``). ``phase``: ``"before"`` (the call has no effect) or ``"after"``
    (the handler commits, then the reply is spoiled). ``delay``: seconds, for ``slow`` (default 1) and
    ``hang`` (default 30, capped at 120). ``error_code``: for ``error``, a code in ``spec.ERROR_CODES``.

    Raises :class:`FaultSpecError` (a ``ValueError`` naming the argument) for an invalid description,
    including an ``endpoint`` pattern that matches no endpoint."""
    return faults.create(
        kind,
        rate=rate,
        duration=duration,
        count=count,
        endpoint=endpoint,
        phase=phase,
        delay=delay,
        error_code=error_code,
    )


def clear_faults() -> int:
    """Remove every fault; returns how many there were."""
    deleted, _ = Fault.objects.all().delete()
    return deleted


def active_faults() -> list[Fault]:
    """Faults that can still apply (not expired, not used up), oldest first."""
    return faults.active()


def set_credentials(tokens: Iterable[str] | None = None, site_keys: Iterable[str] | None = None) -> None:
    """Replace the accepted tokens and/or site keys (``None`` leaves that half unchanged; ``[]`` accepts
    none). Stored as keyed digests; :func:`reset` restores the configured ones."""
    credentials.set_override(tokens=tokens, site_keys=site_keys)


def calls(path: str | None = None) -> int:
    """How many requests reached the sandbox: all of them, or those to ``path`` (``"Customer/Save"``),
    whatever their outcome (errors and faulted ones included)."""
    return _log_queryset(path).count()


def request_log(path: str | None = None) -> list[RequestLog]:
    """The logged requests (all, or to ``path``), oldest first. ``params`` never hold a credential."""
    return list(_log_queryset(path))


def _log_queryset(path: str | None) -> QuerySet[RequestLog]:
    queryset = RequestLog.objects.order_by("id")
    return queryset if path is None else queryset.filter(endpoint=faults.normalize_pattern(path))


def messages(site_key: str | None = None) -> list[dict[str, Any]]:
    """Message-board posts (all, or those posted with ``site_key``), oldest first, as
    ``{"id", "site", "custID", "content", "contact", "createTime"}``; ``site`` is a fingerprint, not the key."""
    queryset = Message.objects.order_by("id")
    if site_key is not None:
        queryset = queryset.filter(site=digest(site_key))
    return [
        {
            "id": m.id,
            "site": fingerprint(m.site),
            "custID": m.cust_id,
            "content": m.content,
            "contact": m.contact,
            "createTime": format_datetime(m.create_time),
        }
        for m in queryset
    ]


def hits(pkid: int, site_key: str | None = None) -> int:
    """The hit counter of catalogue item ``pkid`` (for one site, or summed over all sites)."""
    queryset = Hit.objects.filter(pkid=pkid)
    if site_key is not None:
        queryset = queryset.filter(site=digest(site_key))
    return queryset.aggregate(total=Sum("hits"))["total"] or 0


def customers() -> list[dict[str, Any]]:
    """Every customer as the CRM hands it out (``Customer/Get``'s object), by id."""
    return [to_wire(c) for c in Customer.objects.order_by("id")]


def link_men(cust_id: int | None = None) -> list[dict[str, Any]]:
    """Link men (all, or of customer ``cust_id``) as wire objects, by id."""
    queryset = LinkMan.objects.order_by("id")
    if cust_id is not None:
        queryset = queryset.filter(customer_id=cust_id)
    return [to_wire(m) for m in queryset]


def state() -> dict[str, Any]:
    """Row counts and per-endpoint call counts: a cheap snapshot for dashboards and chaos accounting."""
    # order_by() replaces Meta.ordering, which would otherwise split the GROUP BY per id.
    grouped = RequestLog.objects.values("endpoint").annotate(n=Count("id")).order_by("endpoint")
    per_endpoint = {row["endpoint"]: row["n"] for row in grouped}
    return {
        "customers": Customer.objects.count(),
        "link_men": LinkMan.objects.count(),
        "contact_history": ContactHistory.objects.count(),
        "contact_plans": ContactPlan.objects.count(),
        "call_history": CallHistory.objects.count(),
        "sms": Sms.objects.count(),
        "messages": Message.objects.count(),
        "hits": Hit.objects.aggregate(total=Sum("hits"))["total"] or 0,
        "faults": len(faults.active()),
        "requests": sum(per_endpoint.values()),
        "calls": per_endpoint,
    }
