"""Fault injection: which fault (if any) a request gets, and what it does to the reply.

Faults live in the database (:class:`~crm_bridge.sandbox.models.Fault`) so a test process can break a
sandbox that another process serves. A request to a known handler takes at most one fault: the oldest
active one whose ``endpoint`` pattern matches and whose ``rate`` roll succeeds. Taking it is one conditional
``UPDATE`` (``remaining > 0``), so a ``count=N`` fault applies to exactly N requests even across processes.

``phase="before"``: the fault replaces the call — the handler never runs (``slow``/``hang`` only delay it).
``phase="after"``: the handler runs and commits first, then the fault replaces (or delays) the reply: the
ambiguous outcome "the CRM stored it but we never heard" that delivery has to survive.

What each kind answers (README.md has the table):

``down``       503, error 10002
``slow``       sleeps ``delay`` (default 1 s), then answers normally
``hang``       sleeps ``delay`` (default 30 s, at most 120 s), then answers normally
``garbage``    200, a body that is neither JSON nor XML (Content-Type still says it is)
``html``       an IIS/ASP.NET HTML error page: 502 before (the gateway lost the app), 500 after (the app
               crashed once the work was done)
``truncated``  200, the first half of the reply's bytes (before: of a well-formed reply of the endpoint's kind)
``error``      the error ``error_code`` from ``spec.ERROR_CODES``, with its HTTP status
``reject``     200 ``{"value": false}``, state untouched (before only)
``reset``      the connection is closed with no reply; needs the sandbox's own server (``crm_sandbox``
               command or :mod:`~crm_bridge.sandbox.server`); anywhere else it answers 10001 and logs why
"""

from __future__ import annotations

import fnmatch
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.db.models import F, Q
from django.http import HttpResponse
from django.utils import timezone

from crm_bridge.crm import spec

from . import render
from .errors import INTERNAL, UNAVAILABLE, SandboxError
from .models import Fault

__all__ = [
    "DEFAULT_DELAYS",
    "DROP_CONNECTION_KEY",
    "MAX_DELAY",
    "FaultSpecError",
    "create",
    "delays",
    "normalize_pattern",
    "reply_for",
    "take",
]

logger = logging.getLogger("crm_bridge.sandbox")

DEFAULT_DELAYS: dict[str, float] = {Fault.Kind.SLOW: 1.0, Fault.Kind.HANG: 30.0}
MAX_DELAY = 120.0
#: The WSGI environ key under which the sandbox's own server offers "drop this connection".
DROP_CONNECTION_KEY = "crm_sandbox.drop_connection"

# Indirections tests replace (a fake clock for slow/hang, a fixed roll for rate).
sleep: Callable[[float], None] = time.sleep
roll: Callable[[], float] = random.Random().random  # sampling a fault rate, not a secret


class FaultSpecError(ValueError):
    """An invalid fault description; ``param`` names the offending argument."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


def normalize_pattern(endpoint: str) -> str:
    """``Group/Name`` pattern from any spelling a caller might use (``/WebApi/…/Customer/*.ashx`` …)."""
    pattern = endpoint.strip().lstrip("/")
    pattern = pattern.removeprefix(spec.PATH_PREFIX).removesuffix(".ashx")
    return pattern or "*"


def _number(param: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(param, "must be a number")
    return float(value)


def create(
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
    """Validate a fault description and store it. Raises :class:`FaultSpecError` (a ``ValueError``)."""
    if kind not in Fault.Kind.values:
        raise FaultSpecError("kind", f"one of {', '.join(Fault.Kind.values)}")
    if phase not in Fault.Phase.values:
        raise FaultSpecError("phase", "'before' or 'after'")
    if kind == Fault.Kind.REJECT and phase == Fault.Phase.AFTER:
        raise FaultSpecError("phase", "reject means the call had no effect: it has no 'after' phase")
    rate = _number("rate", rate)
    if not 0.0 <= rate <= 1.0:
        raise FaultSpecError("rate", "a probability, 0 to 1")
    if duration is not None and _number("duration", duration) <= 0:
        raise FaultSpecError("duration", "seconds, > 0")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise FaultSpecError("count", "an integer >= 1")
    pattern = normalize_pattern(endpoint)
    if not any(fnmatch.fnmatchcase(e.path, pattern) for e in spec.ENDPOINTS):
        # A typo ("Customer/Sav") would otherwise be a fault that silently never fires.
        raise FaultSpecError("endpoint", f"{pattern!r} matches no endpoint")
    if kind in DEFAULT_DELAYS:
        delay = DEFAULT_DELAYS[kind] if delay is None else _number("delay", delay)
        if delay < 0:
            raise FaultSpecError("delay", "seconds, >= 0")
        delay = min(delay, MAX_DELAY)
    elif delay is not None:
        raise FaultSpecError("delay", f"only for kinds {', '.join(DEFAULT_DELAYS)}")
    if kind == Fault.Kind.ERROR:
        if error_code not in spec.ERROR_CODES:
            raise FaultSpecError("error_code", f"one of {', '.join(map(str, spec.ERROR_CODES))}")
    elif error_code is not None:
        raise FaultSpecError("error_code", "only for kind 'error'")
    return Fault.objects.create(
        kind=kind,
        endpoint=pattern,
        phase=phase,
        rate=rate,
        delay=delay,
        error_code=error_code,
        remaining=count,
        expires_at=timezone.now() + timedelta(seconds=duration) if duration is not None else None,
    )


def active() -> list[Fault]:
    """Faults that can still apply (not expired, not used up), oldest first."""
    now = timezone.now()
    return list(
        Fault.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now), Q(remaining__isnull=True) | Q(remaining__gt=0)
        ).order_by("id")
    )


def take(path: str) -> Fault | None:
    """The fault this request to ``path`` (``Group/Name``) gets, consumed; None for a clean request."""
    for fault in active():
        if not fnmatch.fnmatchcase(path, fault.endpoint) or not roll() < fault.rate:
            continue
        # remaining NULL stays NULL (NULL - 1); a used-up count fault loses the race and is skipped.
        claimed = (
            Fault.objects.filter(pk=fault.pk)
            .filter(Q(remaining__isnull=True) | Q(remaining__gt=0))
            .update(remaining=F("remaining") - 1, applied=F("applied") + 1)
        )
        if claimed:
            return fault
    return None


def delays(fault: Fault) -> bool:
    """True for the kinds that only delay the reply (slow, hang); they sleep in :func:`pause`."""
    return fault.kind in DEFAULT_DELAYS


def pause(fault: Fault) -> None:
    sleep(fault.delay if fault.delay is not None else DEFAULT_DELAYS[fault.kind])


# --- replies ----------------------------------------------------------------------------------------------------

GARBAGE_BODY = "\ufeffSystem.NullReferenceException: 未将对象引用设置到对象的实例。\r\n   在 WebApi.Handler.CRM\r\n"

_HTML_PAGES = {
    502: (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8"/>'
        "<title>502 - Web server received an invalid response while acting as a gateway or proxy server."
        '</title></head><body><div id="header"><h1>Server Error</h1></div><div id="content">'
        "<fieldset><h2>502 - Web server received an invalid response while acting as a gateway or proxy "
        "server.</h2><h3>There is a problem with the page you are looking for, and it cannot be displayed. "
        "When the Web server (while acting as a gateway or proxy) contacted the upstream content server, it "
        "received an invalid response from the content server.</h3></fieldset></div></body></html>\r\n"
    ),
    500: (
        '<!DOCTYPE html>\r\n<html><head><title>运行时错误</title></head><body bgcolor="white">'
        "<span><H1>“/”应用程序中的服务器错误。<hr width=100% size=1 color=silver></H1>"
        "<h2> <i>运行时错误</i> </h2></span>"
        "<b> 说明: </b>服务器上出现应用程序错误。此应用程序的当前自定义错误设置禁止远程查看应用程序错误的详细信息"
        "(出于安全原因)。<br><br></body></html>\r\n"
    ),
}

#: A well-formed value of each reply kind, for a ``truncated`` fault that fires before the handler.
_PLACEHOLDERS: dict[str, Any] = {"bool": True, "count": 1, "status": 1, "int": 1, "object": {}, "list": []}


def reply_for(
    fault: Fault,
    endpoint: spec.Endpoint,
    fmt: str,
    request_path: str,
    environ: Mapping[str, Any],
    original: HttpResponse | None,
) -> HttpResponse:
    """The reply a non-delaying ``fault`` gives instead of ``original`` (None when it fires before the
    handler). ``reset`` drops the connection through ``environ`` when the server offers it."""
    kind = fault.kind
    if kind == Fault.Kind.DOWN:
        return render.error(SandboxError(UNAVAILABLE), request_path, fmt)
    if kind == Fault.Kind.ERROR:
        if fault.error_code is None:  # inject_fault refuses this; only a row written past it can get here
            raise ValueError(f"fault {fault.pk}: kind 'error' without an error_code")
        return render.error(SandboxError(fault.error_code), request_path, fmt)
    if kind == Fault.Kind.REJECT:
        return render.success(False, fmt)
    if kind == Fault.Kind.GARBAGE:
        return HttpResponse(GARBAGE_BODY.encode(), content_type=render.CONTENT_TYPES[fmt])
    if kind == Fault.Kind.HTML:
        status = 500 if original is not None else 502
        return HttpResponse(_HTML_PAGES[status].encode(), status=status, content_type="text/html; charset=utf-8")
    if kind == Fault.Kind.TRUNCATED:
        if original is None:
            body = render.success_body(_PLACEHOLDERS[endpoint.reply], fmt)
            status, content_type = 200, render.CONTENT_TYPES[fmt]
        else:
            body, status, content_type = original.content, original.status_code, original["Content-Type"]
        return HttpResponse(body[: len(body) // 2], status=status, content_type=content_type)
    if kind == Fault.Kind.RESET:
        drop = environ.get(DROP_CONNECTION_KEY)
        if drop is None:
            logger.warning(
                "sandbox fault 'reset' on %s: this server cannot drop a connection (use the crm_sandbox "
                "command or crm_bridge.sandbox.server); answering 10001 instead",
                endpoint.path,
            )
            return render.error(SandboxError(INTERNAL), request_path, fmt)
        drop()
        return HttpResponse(b"", status=200)  # never written: the server discards it and closes
    raise AssertionError(f"unhandled fault kind {kind!r}")  # pragma: no cover - create() validates kinds
