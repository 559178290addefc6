"""The one view behind every ``.ashx`` route: fault → credential → required → types → handler → reply.

Every request, whatever its outcome, is written to :class:`~crm_bridge.sandbox.models.RequestLog`
(without credentials), so tests can count what reached the CRM.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from crm_bridge.crm import spec

from . import credentials, faults, params, render
from .errors import INTERNAL, UNKNOWN_ENDPOINT, SandboxError
from .handlers import HANDLERS
from .models import Fault, RequestLog

__all__ = ["endpoint_view", "unknown_endpoint_view"]

logger = logging.getLogger("crm_bridge.sandbox")

#: Never logged or echoed (compared case-insensitively: a form field named ``Token`` is still a secret).
_SECRET_PARAMS = frozenset({"token", "sitekey"})

# IIS serves .ashx paths case-insensitively; so does the sandbox (through the catch-all route).
_BY_LOWER_PATH = {e.path.lower(): e for e in spec.ENDPOINTS}


def _request_params(request: HttpRequest) -> dict[str, str]:
    """Query and form fields (urlencoded or multipart), the body winning; for a repeated field, the last."""
    merged = request.GET.dict()
    merged.update(request.POST.dict())
    return merged


def _loggable(raw: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in raw.items() if k.lower() not in _SECRET_PARAMS}


def _answer(endpoint: spec.Endpoint, raw: Mapping[str, str], request_path: str) -> HttpResponse:
    """Validate and run the handler; every failure becomes a reply in the API's own error shape."""
    fmt = params.reply_format(raw)
    try:
        call = params.validate(endpoint, raw, credentials.accepted())
        with transaction.atomic():
            value = HANDLERS[endpoint.path](call)
        return render.success(value, call.format)
    except SandboxError as err:
        return render.error(err, request_path, fmt)
    except Exception:
        # Fail loudly, but in the API's shape: a client must see a 10001, not Django's HTML 500.
        logger.exception("sandbox handler %s failed", endpoint.path)
        return render.error(SandboxError(INTERNAL), request_path, fmt)


def _process(request: HttpRequest, endpoint: spec.Endpoint, raw: Mapping[str, str]) -> tuple[HttpResponse, Any]:
    fmt = params.reply_format(raw)
    fault = faults.take(endpoint.path)
    response = None
    if fault is not None and fault.phase == Fault.Phase.BEFORE:
        if faults.delays(fault):
            faults.pause(fault)
        else:
            response = faults.reply_for(fault, endpoint, fmt, request.path, request.META, original=None)
    if response is None:
        response = _answer(endpoint, raw, request.path)
    if fault is not None and fault.phase == Fault.Phase.AFTER:
        if faults.delays(fault):
            faults.pause(fault)
        else:
            response = faults.reply_for(fault, endpoint, fmt, request.path, request.META, original=response)
    return response, fault


def _log(
    request: HttpRequest, name: str, raw: Mapping[str, str], response: HttpResponse, fault: Fault | None, t0: float
) -> None:
    RequestLog.objects.create(
        endpoint=name,
        method=request.method or "",
        params=_loggable(raw),
        http_status=response.status_code,
        error_code=response.crm_error_code if isinstance(response, render.ErrorResponse) else None,
        fault_kind=fault.kind if fault else "",
        fault_phase=fault.phase if fault else "",
        duration_ms=round((time.monotonic() - t0) * 1000),
    )


@csrf_exempt
def endpoint_view(request: HttpRequest, endpoint: spec.Endpoint) -> HttpResponse:
    """Serve one CRM handler (any HTTP method; GET query and POST form both read)."""
    t0 = time.monotonic()
    raw = _request_params(request)
    try:
        response, fault = _process(request, endpoint, raw)
    except Exception:  # the sandbox's own machinery (fault table, credential lookup) failed
        logger.exception("sandbox failed serving %s", endpoint.path)
        response, fault = render.error(SandboxError(INTERNAL), request.path, params.reply_format(raw)), None
    _log(request, endpoint.path, raw, response, fault, t0)
    return response


@csrf_exempt
def unknown_endpoint_view(request: HttpRequest, rest: str) -> HttpResponse:
    """Anything else under the handler prefix: a known handler spelled in another case is served (as IIS
    would); otherwise error 10020."""
    endpoint = _BY_LOWER_PATH.get(rest.lower().removesuffix(".ashx")) if rest.lower().endswith(".ashx") else None
    if endpoint is not None:
        return endpoint_view(request, endpoint)
    t0 = time.monotonic()
    raw = _request_params(request)
    response = render.error(SandboxError(UNKNOWN_ENDPOINT), request.path, params.reply_format(raw))
    _log(request, rest[:100], raw, response, None, t0)
    return response
