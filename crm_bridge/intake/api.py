"""The widget's HTTP API, v1 (docs/widget-api.md): a public contract. Views stay thin: check, validate, hand to
:mod:`crm_bridge.intake.store`, answer.

Every request goes through the same gates, in this order, each with its own answer:

1. per-IP rate limit (429 + ``Retry-After``) — before anything is parsed, so junk costs little;
2. writes only: ``Content-Type: application/json`` (``hits`` also ``text/plain``, for ``sendBeacon``) else
   415; a body over ``MAX_BODY_BYTES`` 413; malformed JSON (or not an object) 400;
3. the site's public ``key``: missing 400; unknown, inactive, or the endpoint's feature disabled → 403 with
   one body for all three, so a caller cannot tell which;
4. ``Origin``: if present it must be on the site's allow-list or be this server's own origin, else 403.
   A request without ``Origin`` passes: browsers always send it on cross-origin requests and on every
   ``POST``, so its absence means a non-browser caller — which could forge any ``Origin`` anyway. The check
   exists to stop *other web pages* from using a site's key through visitors' browsers; scripts are bounded by
   the rate limits;
5. writes: honeypot, ``Idempotency-Key`` syntax (400), field validation (400 — unless the key's first request
   was stored: then its answer), per-site rate limit; then the store, where a repeated key gets the first answer
   (or 422 for another body) from the unique constraint, with no look-up before (:func:`idempotency.once`).

No authentication classes, no session, no cookies, no CSRF surface; answers are always JSON (the ``Accept``
header is not negotiated) and carry ``Vary: Origin`` — errors included: the database unreachable is 503 with
``Retry-After``, a bug 500 ``{"detail": "Internal error."}``, and the cache or the broker being down changes no
answer (:mod:`crm_bridge.intake.errors`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from django.http import HttpRequest
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import parse_header_parameters
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions, status
from rest_framework.fields import CharField, Field
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from ..conf import bridge_settings
from ..models import Site, Submission
from ..origins import origin_key
from . import idempotency, store
from .errors import widget_exception_handler
from .parsers import BeaconParser, JSONBodyParser, JSONOnlyNegotiation
from .serializers import (
    HONEYPOT_FIELD,
    AcceptedSerializer,
    DetailSerializer,
    HitsAcceptedSerializer,
    HitsSerializer,
    LeadSerializer,
    MessageSerializer,
    widget_config,
)
from .sites import find_site
from .throttling import IPRateThrottle, SiteRateThrottle

__all__ = [
    "ConfigView",
    "HitsView",
    "LeadsView",
    "MessagesView",
    "SubmissionStatusView",
    "WidgetAPIView",
    "WidgetSchemaView",
]

KEY_REFUSED = "Unknown or disabled key."
ORIGIN_REFUSED = "Origin not allowed."
IDEMPOTENCY_HEADER = "Idempotency-Key"


# --- errors that DRF does not have -----------------------------------------------------------------------------


class IdempotencyKeyReused(exceptions.APIException):
    # 422 as in the IETF Idempotency-Key draft and Stripe: the key is fine, its reuse for another request is not.
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request."
    default_code = "idempotency_key_reused"


# --- the base view --------------------------------------------------------------------------------------------

_KEY_QUERY = OpenApiParameter("key", str, OpenApiParameter.QUERY, required=True, description="The site's public key.")
_IDEMPOTENCY_PARAM = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    # The bounds _idempotency_key enforces, so a client generated from the schema sends only keys it accepts.
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
    OpenApiParameter.HEADER,
    required=False,
    description="1–255 printable ASCII characters. A repeat with the same key and body returns the first answer.",
)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: OpenApiResponse(OpenApiTypes.OBJECT, description="Field errors: {field: [messages]}."),
        403: OpenApiResponse(DetailSerializer, description="Unknown or disabled key, or origin not allowed."),
        404: OpenApiResponse(DetailSerializer, description="No such submission for this key."),
        413: OpenApiResponse(DetailSerializer, description="Body larger than MAX_BODY_BYTES."),
        415: OpenApiResponse(DetailSerializer, description="Not application/json."),
        422: OpenApiResponse(DetailSerializer, description="Idempotency-Key reused with a different body."),
        429: OpenApiResponse(DetailSerializer, description="Too many requests; see Retry-After."),
        503: OpenApiResponse(DetailSerializer, description="Database unavailable; see Retry-After."),
    }
    return {code: described[code] for code in codes}


class WidgetAPIView(APIView):
    """Base of the widget endpoints: no auth, JSON only, per-IP throttle, key and origin checks."""

    #: Marks the view for :func:`crm_bridge.intake.cors.cors_allow_widget` (CORS is granted only to these views).
    cors_widget_api = True

    authentication_classes: Sequence[type] = ()
    permission_classes = (AllowAny,)
    renderer_classes = (JSONRenderer,)
    parser_classes: Sequence[type] = (JSONBodyParser,)
    content_negotiation_class = JSONOnlyNegotiation
    metadata_class = None
    versioning_class = None
    schema = AutoSchema()

    #: Which per-IP (and per-site) budget the endpoint spends; see :mod:`crm_bridge.intake.throttling`.
    throttle_group = "read"
    #: The ``Site.features`` entry that must be on, or ``None``.
    feature: str | None = None
    #: Accepted ``Content-Type`` media types for POST.
    write_media_types: Sequence[str] = ("application/json",)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # Field errors in the visitor's language: the widget sends Accept-Language for the language it shows
        # (a CORS-safelisted header, so no extra preflight), one of settings.LANGUAGES; else the site default.
        with translation.override(translation.get_language_from_request(request)):
            return super().dispatch(request, *args, **kwargs)

    def get_throttles(self) -> list[BaseThrottle]:
        return [IPRateThrottle(self.throttle_group)]

    def get_exception_handler(self) -> Any:
        # Ours (DRF's, plus JSON 503/500 for what DRF leaves to Django's HTML page), not the project's
        # EXCEPTION_HANDLER: the error shapes are part of our contract.
        return widget_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # content negotiation, then the per-IP throttle
        method = request.method or ""  # None only for a request built by hand, never one a server parsed
        if method.lower() not in self.http_method_names or not hasattr(self, method.lower()):
            raise exceptions.MethodNotAllowed(method)  # 405 + Allow before any body checks below
        if request.method == "POST":
            media_type, _ = parse_header_parameters(request.content_type or "")
            if media_type.lower() not in self.write_media_types:
                raise exceptions.UnsupportedMediaType(media_type or "(none)")

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # The answer depends on Origin (403 or not) even where corsheaders adds no header.
        patch_vary_headers(response, ("Origin",))
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True)
        return response

    # -- gates --

    def get_site(self, key: Any) -> Site:
        """The active site whose public key is ``key`` and whose feature is on; 403 (one body) otherwise."""
        if key is None or key == "":
            raise exceptions.ValidationError({"key": [Field.default_error_messages["required"]]}, code="required")
        if not isinstance(key, str):
            raise exceptions.ValidationError({"key": [CharField.default_error_messages["invalid"]]}, code="invalid")
        site = find_site(key, self.feature)
        if site is None:
            raise exceptions.PermissionDenied(KEY_REFUSED)
        return site

    def check_origin(self, request: Request, site: Site) -> None:
        """403 unless the request has no ``Origin``, or it is on the site's allow-list, or it is our own."""
        origin = request.headers.get("Origin")
        if origin is None:
            return  # not a browser (see the module docstring)
        if site.origin_allowed(origin) or self._is_own_origin(request, origin):
            return
        raise exceptions.PermissionDenied(ORIGIN_REFUSED)

    @staticmethod
    def _is_own_origin(request: Request, origin: str) -> bool:
        # A page of the host site itself (e.g. one rendered with {% crm_widget %}) needs no allow-list entry.
        # Behind a TLS-terminating proxy this needs SECURE_PROXY_SSL_HEADER, or request.scheme says http.
        try:
            own = f"{request.scheme}://{request.get_host()}"
        except Exception:  # DisallowedHost: CommonMiddleware normally answers first
            return False
        key = origin_key(origin)
        return key is not None and key == origin_key(own)

    def get_idempotency(self, request: Request, data: dict[str, Any], endpoint: str) -> idempotency.Idempotency | None:
        raw = request.headers.get(IDEMPOTENCY_HEADER)
        if raw is None:
            return None
        if not 1 <= len(raw) <= 255 or any(not 0x20 <= ord(ch) <= 0x7E for ch in raw):
            raise exceptions.ValidationError({IDEMPOTENCY_HEADER: ["Must be 1–255 printable ASCII characters."]})
        return idempotency.Idempotency(key=raw, endpoint=endpoint, fingerprint=idempotency.fingerprint(data))

    def validated(self, serializer: Any, site: Site, idem: idempotency.Idempotency | None) -> Response | None:
        """``None`` when ``serializer`` is valid; else the stored first answer of ``idem`` (a repeat of a request
        that was valid when first sent — the site's form or notice may have changed since), else 400."""
        if serializer.is_valid():
            return None
        replayed = self.replay(site, idem)
        if replayed is not None:
            return replayed
        raise exceptions.ValidationError(serializer.errors)

    def replay(self, site: Site, idem: idempotency.Idempotency | None) -> Response | None:
        if idem is None:
            return None
        with self.key_reuse_is_422():
            stored = idempotency.replay(site, idem)
        return None if stored is None else self.answer(stored)

    @staticmethod
    @contextlib.contextmanager
    def key_reuse_is_422() -> Iterator[None]:
        try:
            yield
        except idempotency.IdempotencyMismatch as err:
            raise IdempotencyKeyReused() from err

    @staticmethod
    def answer(answer: idempotency.Answer) -> Response:
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return Response(answer.body, status=answer.status_code, headers=headers)

    def body(self, request: Request) -> dict[str, Any]:
        data = request.data
        return data if isinstance(data, dict) else {}


# --- writes ---------------------------------------------------------------------------------------------------


class _SubmissionView(WidgetAPIView):
    throttle_group = "submit"
    kind: str = ""
    serializer_class: type[MessageSerializer] | type[LeadSerializer]

    def post(self, request: Request) -> Response:
        data = self.body(request)
        site = self.get_site(data.get("key"))
        self.check_origin(request, site)
        if data.get(HONEYPOT_FIELD):
            # A bot filled the field no person sees: answer as if stored, store nothing, call nothing.
            return self.answer(store.fake_answer())
        idem = self.get_idempotency(request, data, self.kind)
        # The notice's language is the one the widget shows, which it sends as Accept-Language (see dispatch).
        serializer = self.serializer_class(data=data, context={"site": site, "kind": self.kind})
        refused = self.validated(serializer, site, idem)
        if refused is not None:
            return refused
        client = store.Client.from_request(request)
        with self.key_reuse_is_422():
            answer = store.submit(
                site,
                self.kind,
                serializer.payload(),
                spam_reason=self.spam_reason(request, site, serializer.validated_data),
                client=client,
                idempotency=idem,
                consent=serializer.consent_record(origin=client.origin[: store.ORIGIN_MAX]),
                source=serializer.source_data(),
            )
        return self.answer(answer)

    def spam_reason(self, request: HttpRequest, site: Site, data: dict[str, Any]) -> str:
        """``site_rate`` when the site is over its rate, ``too_fast`` for a form sent too soon, else ``""``.

        Over the site's rate a submission is still stored (a real visitor in a flood loses nothing) but held,
        so a flood from many addresses spends no CRM calls. Every valid submission counts towards the rate.
        """
        within_rate = SiteRateThrottle(self.throttle_group, site.pk).allow_request(request, self)
        fill_ms = data.get("fill_ms")
        if fill_ms is not None and fill_ms < bridge_settings.MIN_FILL_SECONDS * 1000:
            return "too_fast"
        return "" if within_rate else "site_rate"


_WRITE_ERRORS = _errors(400, 403, 413, 415, 422, 429, 503)


# The schema annotations decorate the classes, not their methods: on a method, drf-spectacular would build on
# the project's DEFAULT_SCHEMA_CLASS, which a reusable app cannot assume points at drf-spectacular.


@extend_schema(
    summary="Leave a message for the site's message board.",
    request=MessageSerializer,
    parameters=[_IDEMPOTENCY_PARAM],
    responses={202: AcceptedSerializer, **_WRITE_ERRORS},
)
class MessagesView(_SubmissionView):
    """``POST widget/v1/messages``."""

    kind = Submission.Kind.MESSAGE
    feature = "messages"
    serializer_class = MessageSerializer


@extend_schema(
    summary="Ask to be contacted (becomes a CRM customer unless the CRM already has the name or phone).",
    request=LeadSerializer,
    parameters=[_IDEMPOTENCY_PARAM],
    responses={202: AcceptedSerializer, **_WRITE_ERRORS},
)
class LeadsView(_SubmissionView):
    """``POST widget/v1/leads``."""

    kind = Submission.Kind.LEAD
    feature = "leads"
    serializer_class = LeadSerializer


@extend_schema(
    summary="Count page views of catalogue items.",
    request={"application/json": HitsSerializer, "text/plain": HitsSerializer},
    parameters=[_IDEMPOTENCY_PARAM],
    responses={202: HitsAcceptedSerializer, **_WRITE_ERRORS},
)
class HitsView(WidgetAPIView):
    """``POST widget/v1/hits``."""

    throttle_group = "hits"
    feature = "hits"
    parser_classes = (JSONBodyParser, BeaconParser)
    write_media_types = ("application/json", "text/plain")

    def post(self, request: Request) -> Response:
        data = self.body(request)
        site = self.get_site(data.get("key"))
        self.check_origin(request, site)
        idem = self.get_idempotency(request, data, "hits")
        serializer = HitsSerializer(data=data)
        refused = self.validated(serializer, site, idem)
        if refused is not None:
            return refused
        # Hits are only counts: over the site's rate they are refused, not held.
        site_throttle = SiteRateThrottle(self.throttle_group, site.pk)
        if not site_throttle.allow_request(request, self):
            self.throttled(request, site_throttle.wait() or 1)  # a number after a refusal; `or 1` narrows the type
        with self.key_reuse_is_422():
            return self.answer(store.add_hits(site, serializer.counts(), idempotency=idem))


# --- reads ----------------------------------------------------------------------------------------------------


@extend_schema(
    summary="The widget's configuration: enabled features, form fields, texts (zh-CN, en), privacy notice.",
    parameters=[_KEY_QUERY],
    responses={200: OpenApiTypes.OBJECT, **_errors(400, 403, 429, 503)},
)
class ConfigView(WidgetAPIView):
    """``GET widget/v1/config?key=K``."""

    def get(self, request: Request) -> Response:
        site = self.get_site(request.query_params.get("key"))
        self.check_origin(request, site)
        response = Response(widget_config(site))
        # Every page load asks; a minute's staleness after an admin edit is a fair price.
        patch_cache_control(response, public=True, max_age=60)
        return response


@extend_schema(
    summary="Where a submission stands (queued, delivered, failed, duplicate).",
    parameters=[_KEY_QUERY],
    responses={200: AcceptedSerializer, **_errors(400, 403, 404, 429, 503)},
)
class SubmissionStatusView(WidgetAPIView):
    """``GET widget/v1/submissions/<id>?key=K``."""

    def get(self, request: Request, submission_id: str) -> Response:
        site = self.get_site(request.query_params.get("key"))
        self.check_origin(request, site)
        # The route takes any string so that a malformed id gets this API's JSON 404, not Django's HTML page.
        try:
            submission_uuid = uuid.UUID(submission_id)
        except ValueError:
            raise exceptions.NotFound() from None
        # Scoped to the key's site: another site's id is answered exactly like one that does not exist.
        sub = Submission.objects.filter(site=site, pk=submission_uuid).only("id", "status").first()
        if sub is None:
            raise exceptions.NotFound()
        return Response({"id": str(sub.id), "status": sub.public_status})


# --- schema ---------------------------------------------------------------------------------------------------


def widget_endpoints_only(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """drf-spectacular preprocessing hook: keep the widget API's endpoints (wherever they are mounted)."""
    return [e for e in endpoints if getattr(getattr(e[3], "cls", None), "cors_widget_api", False)]


def list_bounds(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the item bounds of ``Hits.hits`` (a ``many=True`` serializer's
    ``min_length``/``max_length``, which drf-spectacular does not emit) as ``minItems``/``maxItems``."""
    from .serializers import HitsSerializer

    field = HitsSerializer().fields["hits"]  # a ListSerializer (many=True); the stubs omit its length bounds
    hits = result.get("components", {}).get("schemas", {}).get("Hits", {}).get("properties", {}).get("hits")
    if hits is not None:
        hits["minItems"], hits["maxItems"] = getattr(field, "min_length"), getattr(field, "max_length")  # noqa: B009
    return result


class WidgetSchemaView(SpectacularAPIView):
    """``GET widget/v1/schema``: the OpenAPI 3 schema of the five endpoints (JSON; YAML by ``Accept``)."""

    authentication_classes: Sequence[type] = ()
    permission_classes = (AllowAny,)
    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer]
    custom_settings = {
        "TITLE": "crm_bridge widget API",
        "DESCRIPTION": "The public HTTP API the crm_bridge widget talks to (docs/widget-api.md).",
        "VERSION": "1",
        "PREPROCESSING_HOOKS": ["crm_bridge.intake.api.widget_endpoints_only"],
        "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "crm_bridge.intake.api.list_bounds"],
        "ENFORCE_NON_BLANK_FIELDS": True,  # required text is minLength 1, as the serializers enforce
    }

    def get_throttles(self) -> list[BaseThrottle]:
        return [IPRateThrottle("read")]

    def get_exception_handler(self) -> Any:
        return widget_exception_handler
