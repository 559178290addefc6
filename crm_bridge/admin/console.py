"""The CRM API console: try any of the 39 endpoints from admin, like the reference doc's "测试" link.

Contracts:

* Staff only (``admin_site.admin_view``), and the ``crm_bridge.change_site`` permission: the console acts with
  the company's CRM credentials, so it needs the same right as editing them.
* It calls only the configured CRM (``settings.CRM_BRIDGE``) through :func:`crm_bridge.connection.get_client`;
  there is no URL field. ECommerce handlers get the chosen Site's siteKey server-side (``with_site_key``).
* Endpoints that are not ``read_only`` need the confirmation box ticked.
* No credential is ever rendered: the token and siteKey are never form values, and everything shown from a
  reply or an error goes through the client's ``scrub`` (which replaces any echo of either with ``***``).
* Each call is logged on ``crm_bridge.admin`` (user, endpoint, outcome), never with its params.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.contrib.admin import ModelAdmin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from ..conf import bridge_settings
from ..crm.errors import CRMError, CRMParamError
from ..crm.spec import ENDPOINTS, Endpoint, get_endpoint
from ..models import Site
from .common import to_json
from .forms import ConsoleForm

__all__ = ["CallResult", "console_view", "run_call"]

logger = logging.getLogger("crm_bridge.admin")
PERMISSION = "crm_bridge.change_site"


@dataclass(frozen=True)
class CallResult:
    """What the console shows after a call: ``ok`` with the reply's value, or the error's class and record.

    ``value_json`` and ``error_json`` are already scrubbed of credentials."""

    ok: bool
    http_status: int | None = None
    elapsed_ms: int | None = None
    attempts: int | None = None
    value_json: str = ""
    error_class: str = ""
    error_message: str = ""
    error_json: str = ""


def run_call(endpoint: Endpoint, params: dict[str, Any], site_key: str | None) -> CallResult:
    """Call ``endpoint`` on the configured CRM and describe the outcome; never raises for a CRM or
    configuration problem (those are what the console is for)."""
    from ..connection import get_client  # late: building the client reads settings, which may be incomplete

    started = time.monotonic()
    try:
        client = get_client()
        if endpoint.auth == "siteKey":
            client = client.with_site_key(site_key or "")
    except (ImproperlyConfigured, ValueError) as err:
        return CallResult(ok=False, error_class=type(err).__name__, error_message=str(err))
    try:
        reply = client.request(endpoint.path, params)
    except CRMError as err:
        elapsed = err.elapsed if err.elapsed is not None else time.monotonic() - started
        return CallResult(
            ok=False,
            http_status=err.http_status,
            elapsed_ms=round(elapsed * 1000),
            attempts=err.attempts,
            error_class=type(err).__name__,
            error_message=client.scrub(str(err)),
            error_json=client.scrub(to_json(err.as_dict())),
        )
    return CallResult(
        ok=True,
        http_status=reply.http_status,
        elapsed_ms=round(reply.elapsed * 1000),
        attempts=reply.attempts,
        value_json=client.scrub(to_json(reply.value)),
    )


def _crm_location() -> str:
    """The configured base URL without any user info (for the page's "calls …" line), or "" if unset."""
    try:
        parts = urlsplit(bridge_settings.BASE_URL)
    except ImproperlyConfigured:
        return ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _endpoint_groups() -> list[tuple[str, list[Endpoint]]]:
    """Endpoints grouped by their group, in the spec's order of first appearance."""
    order = {g: i for i, g in reversed(list(enumerate(e.group for e in ENDPOINTS)))}
    ordered = sorted(ENDPOINTS, key=lambda e: order[e.group])
    return [(group, list(items)) for group, items in groupby(ordered, key=lambda e: e.group)]


def console_view(request: HttpRequest, model_admin: ModelAdmin[Site]) -> HttpResponse:
    """GET: the endpoint picker, and the chosen endpoint's form (``?endpoint=Group/Name``).
    POST: validate the form, call the CRM, show the reply or the error under the form."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    admin_site = model_admin.admin_site
    chosen = request.GET.get("endpoint") or ""
    endpoint: Endpoint | None = None
    unknown = False
    if chosen:
        try:
            endpoint = get_endpoint(chosen)
        except KeyError:
            unknown = True

    form = result = None
    if endpoint is not None:
        if request.method == "POST":
            form = ConsoleForm(endpoint, request.POST)
            if form.is_valid():
                site = form.site
                result = run_call(endpoint, form.crm_params(), site.site_key if site else None)
                logger.info(
                    "admin console: %s called %s: %s",
                    request.user.get_username(),
                    endpoint.path,
                    "ok" if result.ok else result.error_class,
                )
                if not result.ok and result.error_class == CRMParamError.__name__ and result.http_status is None:
                    # Caught by the client before sending: show it with the form, like a field error.
                    form.add_error(None, result.error_message)
        else:
            form = ConsoleForm(endpoint)

    context = {
        **admin_site.each_context(request),
        "title": _("CRM API console"),
        "opts": model_admin.model._meta,
        "groups": _endpoint_groups(),
        "endpoint": endpoint,
        "chosen": chosen,
        "unknown_endpoint": unknown,
        "form": form,
        "result": result,
        "crm_location": _crm_location(),
        "endpoint_count": len(ENDPOINTS),
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, "crm_bridge/admin/console.html", context)
