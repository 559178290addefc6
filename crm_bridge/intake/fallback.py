"""The widget's no-JavaScript fallback: a plain HTML ``<form>`` that ``{% crm_widget %}`` renders on the site's own
(Django-rendered) pages, posted to ``forms/<kind>`` on the same origin and answered with a thank-you page.

It passes the same gates as the widget API (docs/widget-api.md, "Requests") — the site's public key and feature, the
honeypot, the API's serializers for validation, the same spam rule (minimum fill time, per-site rate) and
:func:`crm_bridge.intake.store.submit` for the outbox — plus Django's CSRF protection, which also refuses a foreign
``Origin``. Each rendered form carries its own idempotency key, so posting it twice (a reload, a double click)
stores it once. The fill time comes from a signed timestamp in the form, so it needs no JavaScript either.

Attribution without JavaScript (docs/attribution.md): the form carries, as a hidden ``source`` field, what the
request that rendered it knows — that page's URL and its utm_*/click-id parameters, and its HTTP ``Referer``. There
is no per-visit memory here, so this is the touch of the page the form is on, not necessarily the visit's first.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from ..models import Site
from . import idempotency, store
from .api import LeadsView, MessagesView
from .serializers import DEFAULT_TEXTS, HONEYPOT_FIELD, SOURCE_PARAMS, notice_language, widget_config
from .sites import find_site
from .throttling import IPRateThrottle

__all__ = ["fallback_context", "form_view", "thanks_view"]

_VIEWS = {"message": MessagesView, "lead": LeadsView}
_FEATURE = {"message": "messages", "lead": "leads"}
_STARTED_SALT = "crm_bridge.fallback.started"
# The idempotency keys of fallback forms are namespaced so they can never collide with the widget's.
_IDEM_PREFIX = "form-"


def form_language(lang: str | None = None) -> str:
    """``zh-CN`` or ``en``: ``lang`` when given, else Django's active language (zh-* → zh-CN, otherwise en)."""
    return notice_language(lang or get_language())


def active_site(key: str | None, kind: str | None = None) -> Site | None:
    """The active site with public key ``key`` (and ``kind``'s feature on), else ``None``."""
    return find_site(key, _FEATURE[kind] if kind is not None else None)


def fallback_context(
    request: HttpRequest,
    site: Site,
    kind: str,
    *,
    lang: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    page_url: str | None = None,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``crm_bridge/widget/form.html`` renders: the fields from the widget config, the CSRF token, the key,
    a fresh idempotency key and signed start time, and any values and errors of a failed post."""
    config = widget_config(site)
    language = form_language(lang)
    values = values or {}
    errors = errors or {}
    fields = [
        {
            "name": f["name"],
            "type": f["type"],
            "required": f["required"],
            "max_length": f["max_length"],
            "label": f["label"].get(language) or f["name"],
            "value": values.get(f["name"], ""),
            "errors": errors.get(f["name"], []),
        }
        for f in config["forms"].get(kind, [])
    ]
    names = {f["name"] for f in fields} | {"consent", "version"}
    privacy = config["privacy"]
    told = source if source is not None else request_source(request)
    return {
        "kind": kind,
        "lang": language,
        "texts": config["texts"][language],
        "title": config["texts"][language]["lead_title" if kind == "lead" else "message_title"],
        "fields": fields,
        "other_errors": [m for name, msgs in errors.items() if name not in names for m in msgs],
        "action": reverse("crm_bridge:fallback-form", kwargs={"kind": kind}),
        "key": site.public_key,
        "csrf_token": get_token(request),
        "idem": secrets.token_urlsafe(16),
        "started": signing.dumps(time.time(), salt=_STARTED_SALT),
        "page_url": page_url if page_url is not None else request.build_absolute_uri(),
        "honeypot": HONEYPOT_FIELD,
        # The notice next to the submit button; the checkbox only where consent is required, never pre-ticked
        # (a re-rendered form keeps what the visitor ticked themselves).
        "notice": privacy["notice"][language],
        "version": privacy["version"],
        "consent_required": privacy["required"][kind],
        "consent_checked": values.get("consent") in ("on", "true", True),
        "consent_errors": errors.get("consent", []) + errors.get("version", []),
        # JSON for the hidden field ("" when there is nothing to tell); the template escapes it.
        "source": json.dumps(told, ensure_ascii=False) if told else "",
    }


def request_source(request: HttpRequest) -> dict[str, str]:
    """The ``source`` a page request tells: its URL, its ``Referer`` and its utm_*/click-id query parameters,
    non-empty ones only, cut to the API's bounds (the serializer still validates and drops non-http URLs)."""
    found = {"landing": request.build_absolute_uri()[:2000], "referrer": request.headers.get("Referer", "")[:2000]}
    found.update({k: request.GET.get(k, "").strip()[:200] for k in SOURCE_PARAMS})
    return {k: v for k, v in found.items() if v}


def _posted_source(value: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(value) if value else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _fill_ms(token: str | None) -> int | None:
    if token is None:
        return None  # no hidden `started` field: as for an API call without fill_ms
    try:
        started = float(signing.loads(token, salt=_STARTED_SALT, max_age=24 * 3600))
    except (signing.BadSignature, TypeError, ValueError):
        return None  # not from our form, or a day old: no fill-time signal, like an API call without fill_ms
    return max(0, int((time.time() - started) * 1000))


def _thanks(page_url: str, request: HttpRequest) -> HttpResponseRedirect:
    url = reverse("crm_bridge:fallback-thanks")
    if page_url and url_has_allowed_host_and_scheme(page_url, {request.get_host()}, request.is_secure()):
        url += "?" + urlencode({"next": page_url})
    # 303: the browser follows with a GET, so reloading the thank-you page re-posts nothing.
    return HttpResponseRedirect(url, status=303)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def form_view(request: HttpRequest, kind: str) -> HttpResponse:
    """``GET|POST forms/<kind>`` (kind: ``message`` or ``lead``).

    GET ``?key=K`` renders the form on a page of its own. POST validates with the API's serializer: 400 with the
    form and its errors, 403 for an unknown key or a disabled feature, 429 over the per-IP rate, else the
    submission is stored through :func:`crm_bridge.intake.store.submit` and the visitor is sent (303) to the
    thank-you page.
    """
    if kind not in _VIEWS:
        return render(request, "crm_bridge/widget/page.html", {"missing": True}, status=404)
    data = request.POST if request.method == "POST" else request.GET
    site = active_site(data.get("key"), kind)
    if site is None:
        return render(request, "crm_bridge/widget/page.html", {"refused": True}, status=403)
    if request.method == "GET":
        context = fallback_context(request, site, kind, page_url="")
        return render(request, "crm_bridge/widget/page.html", {"form": context, "lang": context["lang"]})

    throttle = IPRateThrottle("submit")
    if not throttle.allow_request(request, None):
        response = render(request, "crm_bridge/widget/page.html", {"throttled": True}, status=429)
        response["Retry-After"] = str(max(1, int(throttle.wait() or 1)))
        return response
    page_url = data.get("page_url", "")
    if data.get(HONEYPOT_FIELD):
        return _thanks(page_url, request)  # as the API does: looks accepted, nothing stored

    view = _VIEWS[kind]()
    body: dict[str, Any] = {"key": site.public_key, "page_url": page_url, "fill_ms": _fill_ms(data.get("started"))}
    # Mapping: iterated for its names (drf-stubs types BindingDict's own iteration as yielding the fields).
    declared: Mapping[str, object] = view.serializer_class().fields
    names = [name for name in declared if name not in ("key", "page_url", "fill_ms")]
    body.update({name: data[name] for name in names if name in data and name not in (HONEYPOT_FIELD, "source")})
    source = _posted_source(data.get("source", ""))
    if source is not None:
        body["source"] = source
    # The notice's language is the one the form was rendered in (its hidden `lang`).
    context = {"site": site, "kind": view.kind, "lang": form_language(data.get("lang"))}
    serializer = view.serializer_class(data=body, context=context)
    valid = serializer.is_valid()
    if not valid and ("page_url" in serializer.errors or "source" in serializer.errors):
        # The page's own address (a host without a dot, say) and where the visit came from are not the
        # visitor's to fix: drop them, as the widget does, rather than refuse the form over them.
        if "page_url" in serializer.errors:
            body["page_url"] = ""
        body.pop("source", None)
        serializer = view.serializer_class(data=body, context=context)
        valid = serializer.is_valid()
    if not valid:
        errors = {name: [str(m) for m in msgs] for name, msgs in serializer.errors.items()}
        context = fallback_context(
            request, site, kind, values=body, errors=errors, page_url=page_url, source=body.get("source") or {}
        )
        return render(request, "crm_bridge/widget/page.html", {"form": context, "lang": context["lang"]}, status=400)

    idem_key = data.get("idem", "")
    idem = None
    if 1 <= len(idem_key) <= 64 and idem_key.isascii() and idem_key.isprintable():
        # fill_ms left out: a repost of the same form is later, not different.
        same = {k: v for k, v in body.items() if k != "fill_ms"}
        idem = idempotency.Idempotency(
            key=_IDEM_PREFIX + idem_key, endpoint=str(view.kind), fingerprint=idempotency.fingerprint(same)
        )
        try:
            if idempotency.replay(site, idem) is not None:
                return _thanks(page_url, request)  # the same form posted again: stored once already
        except idempotency.IdempotencyMismatch:
            idem = None  # the visitor went back and changed it: a new submission in its own right
    client = store.Client.from_request(request)
    store.submit(
        site,
        view.kind,
        serializer.payload(),
        spam_reason=view.spam_reason(request, site, serializer.validated_data),
        client=client,
        idempotency=idem,
        consent=serializer.consent_record(origin=client.origin[: store.ORIGIN_MAX]),
        source=serializer.source_data(),
    )
    return _thanks(page_url, request)


@never_cache
@require_http_methods(["GET"])
def thanks_view(request: HttpRequest) -> HttpResponse:
    """``GET forms/thanks[?next=<same-site page>]``: the thank-you page, with a link back to the page."""
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    lang = form_language()
    # The default texts: the thank-you page is not told which site it thanks for.
    context = {"next": next_url, "lang": lang, "texts": DEFAULT_TEXTS[lang]}
    return render(request, "crm_bridge/widget/thanks.html", context)
