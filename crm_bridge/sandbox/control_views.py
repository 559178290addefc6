"""The HTTP control API at ``/_sandbox/``: the Python API (:mod:`.control`) for other processes and
languages (the demo, benchmarks, a browser test).

Every call needs a sandbox token — header ``X-Sandbox-Token`` or a ``token`` query/form field — so a
mounted sandbox is not an open switchboard. Accepted: any token the sandbox accepts now, *or* one it was
configured with (settings / command line), so a test that revoked every token can still put them back.

Bodies are JSON objects; answers are JSON; failures use the CRM's error shape (21301 for a refused token,
10017 naming the bad field, 10008 for a body that is not a JSON object).

======  ======================  ==============================================================
GET     /_sandbox/state         row counts and per-endpoint call counts (:func:`control.state`)
GET     /_sandbox/faults        ``{"faults": [...]}``, the active faults
POST    /_sandbox/faults        ``{"kind": "down", "endpoint": "Customer/*", "count": 2, ...}`` → 201
DELETE  /_sandbox/faults        ``{"cleared": n}``
POST    /_sandbox/reset         ``{"reset": true}``: back to the seeded state
POST    /_sandbox/credentials   ``{"tokens": [...], "site_keys": [...]}`` (either optional) → counts only
======  ======================  ==============================================================
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, RawPostDataException
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import control, credentials, render
from .errors import INVALID_PARAM, PARAM_ERROR, TOKEN_REFUSED, SandboxError

__all__ = ["credentials_view", "faults_view", "reset_view", "state_view"]

_FAULT_FIELDS = frozenset(inspect.signature(control.inject_fault).parameters)


def _token(request: HttpRequest) -> str:
    return request.headers.get("X-Sandbox-Token") or request.POST.get("token") or request.GET.get("token", "")


def _authorized(request: HttpRequest) -> bool:
    token = _token(request)
    return credentials.accepted().accepts("token", token) or credentials.defaults().accepts("token", token)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object ({} when empty); 10008 for anything else."""
    try:
        raw = request.body
        body = json.loads(raw) if raw else {}
    except (ValueError, RawPostDataException):  # not JSON, or a multipart body already streamed
        body = None
    if not isinstance(body, dict):
        raise SandboxError(PARAM_ERROR, "request body must be a JSON object")
    return body


def _invalid(param: str, detail: str) -> SandboxError:
    return SandboxError(INVALID_PARAM, f"parameter ({param})'s value invalid: {detail}")


def _control_view(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Token check and error shaping around a control view."""

    @csrf_exempt  # token-authenticated, no cookies: nothing for CSRF to protect
    @functools.wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        try:
            if not _authorized(request):
                raise SandboxError(TOKEN_REFUSED)
            return view(request)
        except SandboxError as err:
            return render.error(err, request.path, "json")

    return wrapped


@_control_view
@require_GET
def state_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse(control.state(), json_dumps_params={"ensure_ascii": False})


@_control_view
@require_http_methods(["GET", "POST", "DELETE"])
def faults_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse({"faults": [f.as_dict() for f in control.active_faults()]})
    if request.method == "DELETE":
        return JsonResponse({"cleared": control.clear_faults()})
    body = _json_body(request)
    unknown = sorted(set(body) - _FAULT_FIELDS)
    if unknown:
        raise _invalid(unknown[0], f"unknown field; known: {', '.join(sorted(_FAULT_FIELDS))}")
    if "kind" not in body:
        raise SandboxError.missing("kind")
    try:
        fault = control.inject_fault(**body)
    except control.FaultSpecError as err:
        raise _invalid(err.param, str(err).split(": ", 1)[-1]) from None
    return JsonResponse({"fault": fault.as_dict()}, status=201)


@_control_view
@require_POST
def reset_view(request: HttpRequest) -> HttpResponse:
    control.reset()
    return JsonResponse({"reset": True})


@_control_view
@require_POST
def credentials_view(request: HttpRequest) -> HttpResponse:
    body = _json_body(request)
    lists: dict[str, list[str] | None] = {}
    for field in ("tokens", "site_keys"):
        value = body.get(field)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise _invalid(field, "a list of strings")
        lists[field] = value
    control.set_credentials(tokens=lists["tokens"], site_keys=lists["site_keys"])
    accepted = credentials.accepted()
    # Counts only: a credential is never echoed.
    return JsonResponse({"tokens": len(accepted.tokens), "site_keys": len(accepted.site_keys)})
