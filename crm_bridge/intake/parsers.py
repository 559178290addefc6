"""How the widget API reads bodies and picks a renderer: JSON objects only, size-capped before they are read
(docs/widget-api.md, "Requests")."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.http import parse_header_parameters
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from ..conf import bridge_settings

__all__ = ["BeaconParser", "JSONBodyParser", "JSONOnlyNegotiation", "PayloadTooLarge"]


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JSONBodyParser(BaseParser):
    """Parse a JSON object from a body of at most ``MAX_BODY_BYTES`` bytes (else 413).

    Not a subclass of DRF's ``JSONParser`` on purpose: DRF hands that one ``request.body``, which Django reads
    whole (up to ``DATA_UPLOAD_MAX_MEMORY_SIZE``, 2.5 MB) before any limit of ours could apply. This one
    reads at most ``MAX_BODY_BYTES + 1`` bytes from the stream, and refuses early on a larger
    ``Content-Length``.
    """

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = bridge_settings.MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {})
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge(f"Request body too large (at most {limit} bytes).")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body too large (at most {limit} bytes).")
        _, params = parse_header_parameters(media_type or "")
        try:
            text = raw.decode(params.get("charset") or "utf-8-sig")
            data = json.loads(text, parse_constant=_reject_constant)
        except (LookupError, UnicodeDecodeError, ValueError, RecursionError) as err:
            # RecursionError: a deeply nested body fits in 16 KB and would otherwise be a 500.
            raise exceptions.ParseError("Malformed JSON.") from err
        if not isinstance(data, dict):
            raise exceptions.ParseError("Expected a JSON object.")
        return data


class BeaconParser(JSONBodyParser):
    """The same JSON sent as ``text/plain``: ``navigator.sendBeacon`` cannot send a preflighted type."""

    media_type = "text/plain"


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Always answer JSON, whatever ``Accept`` says: a contract's answers do not change shape per client."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))  # the view's renderer_classes, JSON first
        return first, first.media_type
