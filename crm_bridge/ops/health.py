"""Liveness and readiness for load balancers and monitors (docs/operations.md, "Health").

The checks are django-health-check plugins (:class:`health_check.HealthCheck`: a dataclass whose ``run`` raises
``ServiceUnavailable`` or ``ServiceWarning``; the library bounds each in time and turns unexpected errors into
"unknown error" plus a logged traceback). Its view is not used: it answers 500 rather than 503, treats a warning
as a failure, has no per-check detail and renders HTML templates, which would make ``health_check`` an app the
host must install. :class:`ReadinessView` runs the same plugins and answers::

    {"status": "ok" | "fail",
     "checks": {"database": {"status": "ok", "critical": true, "time_ms": 1.3}, ...,
                "outbox": {"status": "fail", "critical": true, "time_ms": 2.0,
                           "message": "...", "waiting": 3, "oldest_waiting_seconds": 412.0, ...}}}

with 200, or 503 when a critical check fails. A non-critical check (the cache: intake fails open without it)
and a warning show as ``"warn"`` and keep the answer 200. No message carries a secret, a URL or personal data.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ClassVar

from asgiref.sync import sync_to_async
from celery import current_app
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from health_check import Cache, Database, HealthCheck
from health_check.base import HealthCheckResult
from health_check.exceptions import ServiceUnavailable, ServiceWarning

from ..conf import bridge_settings
from ..models import Circuit
from . import readings

__all__ = ["CHECKS", "Broker", "CRMCircuit", "Outbox", "ReadinessView", "liveness"]


def _budget() -> datetime.timedelta:
    return datetime.timedelta(seconds=float(bridge_settings.HEALTH_TIMEOUT))


class _ContextExecutor(ThreadPoolExecutor):
    """Runs each check in the caller's context, so its log lines keep the request id."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


# Shared, so that a check stuck past its budget (its thread cannot be killed) holds one thread, not a new pool
# per request; a few threads suffice: only the broker (and dhc's database) checks run here.
_EXECUTOR = _ContextExecutor(max_workers=4, thread_name_prefix="crm-bridge-health")


_MIN_CACHE_TTL = datetime.timedelta(seconds=2)


@dataclasses.dataclass
class _Detailed(HealthCheck):
    """A check that also reports figures (``details``, merged into its JSON entry). ORM work runs through
    :meth:`inspect` in the request's own thread and database connection (thread-sensitive), so it sees what
    the request sees and leaves no connection behind in a pool thread."""

    details: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    async def run(self) -> None:
        await sync_to_async(self.inspect, thread_sensitive=True)()

    def inspect(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclasses.dataclass
class Outbox(_Detailed):
    """Fails when a submission has waited longer than ``HEALTH_MAX_WAIT`` for a worker (due, not taken): the
    broker, the workers or the sweep are not doing their job (:func:`crm_bridge.ops.readings.waiting`)."""

    def inspect(self) -> None:
        limit = float(bridge_settings.HEALTH_MAX_WAIT)
        reading = readings.waiting()
        self.details.update(
            waiting=reading.count, oldest_waiting_seconds=round(reading.oldest_seconds, 3), max_wait_seconds=limit
        )
        if reading.oldest_seconds > limit:
            raise ServiceUnavailable(
                f"a submission has waited {reading.oldest_seconds:.0f} s for a worker (limit {limit:g} s)"
            )


@dataclasses.dataclass
class CRMCircuit(_Detailed):
    """The shared CRM circuit: open fails (nobody may call the CRM), half-open warns (a probe is out); paused
    sites (credentials refused) warn. Reads the database only; it never calls the CRM."""

    def inspect(self) -> None:
        reading = readings.circuit_reading()
        paused = readings.paused_sites()
        self.details.update(state=reading.state, failures=reading.failures, paused_sites=paused)
        if reading.retry_at is not None:
            self.details["retry_at"] = reading.retry_at.isoformat()
        if not reading.configured:
            raise ServiceUnavailable('the CRM is not configured: set CRM_BRIDGE["BASE_URL"]')
        if reading.state == Circuit.State.OPEN:
            raise ServiceUnavailable(f"the CRM circuit is open after {reading.failures} failed calls in a row")
        if reading.state == Circuit.State.HALF_OPEN:
            raise ServiceWarning("the CRM circuit is half-open: one probe call decides")
        if paused:
            raise ServiceWarning(f"deliveries of {paused} site(s) are paused: the CRM refused their credentials")


@dataclasses.dataclass
class Broker(HealthCheck):
    """Connects to the Celery broker (``url``, default the current Celery app's) within ``timeout``, with no
    retry. The URL may hold a password: it is kept out of ``repr`` and of every message."""

    url: str | None = dataclasses.field(default=None, repr=False)
    timeout: datetime.timedelta = dataclasses.field(default_factory=_budget, repr=False)

    def run(self) -> None:
        seconds = self.timeout.total_seconds()
        # socket_*: Redis (connect, then each reply); connect_timeout: AMQP. Others ignore what is not theirs.
        conn = current_app.connection_for_write(
            self.url,
            connect_timeout=seconds,
            transport_options={"socket_connect_timeout": seconds, "socket_timeout": seconds},
        )
        try:
            conn.ensure_connection(max_retries=0, timeout=seconds)
        except Exception as err:
            raise ServiceUnavailable("cannot connect to the broker") from err
        finally:
            conn.release()


#: The readiness checks by name: the check (a HealthCheck class) and whether its failure fails readiness.
CHECKS: Mapping[str, tuple[type[HealthCheck], bool]] = {
    "database": (Database, True),
    "broker": (Broker, True),
    "cache": (Cache, False),  # intake's throttles and CORS cache fail open without it
    "crm": (CRMCircuit, True),
    "outbox": (Outbox, True),
}


@never_cache
def liveness(request: HttpRequest) -> HttpResponse:
    """The process answers: 200 ``{"status": "ok"}``. Checks no dependency, so a restart cannot cure a 503."""
    return JsonResponse({"status": "ok"})


def _entry(result: HealthCheckResult, critical: bool) -> dict[str, Any]:
    error = result.error
    status = "ok" if error is None else "warn" if isinstance(error, ServiceWarning) or not critical else "fail"
    entry: dict[str, Any] = {"status": status, "critical": critical, "time_ms": round(result.time_taken * 1000, 1)}
    if error is not None:
        entry["message"] = error.message
    entry.update(getattr(result.check, "details", {}))
    return entry


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class ReadinessView(View):
    """Runs :data:`CHECKS` (``?checks=database,broker`` runs only those) concurrently, each within
    ``HEALTH_TIMEOUT``; answers 200, or 503 when a critical one fails, or 400 naming an unknown check."""

    checks: ClassVar[Mapping[str, tuple[type[HealthCheck], bool]]] = CHECKS
    http_method_names = ["get", "head"]  # HEAD: View answers it with get()

    async def get(self, request: HttpRequest) -> HttpResponse:
        names = list(self.checks)
        if request.GET.get("checks"):
            names = [n.strip() for n in request.GET["checks"].split(",") if n.strip()]
            unknown = sorted(set(names) - set(self.checks))
            if unknown:
                error = f"unknown check(s): {', '.join(unknown)}"
                return self._answer({"error": error, "known": list(self.checks)}, 400)
        budget = _budget()
        instances: list[tuple[str, HealthCheck, bool]] = []
        for name in names:
            cls, critical = self.checks[name]
            check = cls()
            # The library's wait_for allows a second more for the check to report. Its Cache check also uses
            # `timeout` as its probe key's TTL, which the database cache rounds down to whole seconds: at
            # least 2 s, or a sub-second budget would expire the key before it is read back.
            check.timeout = max(budget, _MIN_CACHE_TTL) if isinstance(check, Cache) else budget
            instances.append((name, check, critical))
        results = await asyncio.gather(*(check.get_result(_EXECUTOR) for _, check, _ in instances))
        entries = {
            name: _entry(result, critical) for (name, _, critical), result in zip(instances, results, strict=True)
        }
        failed = any(e["status"] == "fail" for e in entries.values())
        return self._answer({"status": "fail" if failed else "ok", "checks": entries}, 503 if failed else 200)

    @staticmethod
    def _answer(body: dict[str, Any], status: int) -> HttpResponse:
        response = JsonResponse(body, status=status)
        add_never_cache_headers(response)
        # A 503 here is an answer, not a server error: without this Django logs every probe's 503 at ERROR on
        # django.request (and mails ADMINS). The failing checks are logged as warnings by django-health-check.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
