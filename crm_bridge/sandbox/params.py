"""Request validation from the spec's params: credential → required → types (docs/architecture.md, "The CRM library").

The order is the contract (tests pin it): a request with a bad token *and* a missing param answers the
token error; one with a missing param *and* a malformed one answers the missing param. Within a step,
params are checked in the doc's order and the first failure answers.

Wire types (``spec.Param.type``):

``int32``     optional sign and ASCII digits, within ``spec.INT32_MIN .. spec.INT32_MAX`` (no spaces)
``datetime``  exactly ``YYYY-MM-DD HH:MM:SS`` (``spec.DATETIME_FORMAT``) and a real date and time,
              read as the CRM's local time (:data:`crm_bridge.sandbox.wire.CRM_TZ`)
``json``      a JSON *object* (NaN/Infinity refused)
``string``    anything

``tran`` (role ``unsendable``) is never required: no HTTP caller can send a ``DbTransaction``. Params the
spec does not list are ignored, as the vendor's .NET handlers ignore unknown form fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_bridge.crm.spec import DATETIME_FORMAT, INT32_MAX, INT32_MIN, Endpoint, WireType

from .credentials import Accepted, digest
from .errors import SITE_KEY_REFUSED, TOKEN_REFUSED, SandboxError
from .wire import CRM_TZ

__all__ = ["FORMATS", "Call", "convert", "reply_format", "validate"]

FORMATS = ("json", "xml")

_INT32 = re.compile(r"[+-]?[0-9]+")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


@dataclass(frozen=True)
class Call:
    """A validated request, as a handler sees it."""

    endpoint: Endpoint
    args: Mapping[str, Any]
    """Typed input values by wire name; optional params that were not sent are absent."""
    format: str
    """``"json"`` or ``"xml"``."""
    site: str | None = None
    """For the siteKey-authenticated handlers: the siteKey's digest (never the key)."""

    @property
    def site_digest(self) -> str:
        """:attr:`site`, for a handler only siteKey-authenticated calls reach. ``RuntimeError`` on a
        token-authenticated call: a handler registered on the wrong endpoint, never the caller's fault."""
        if self.site is None:
            raise RuntimeError(f"{self.endpoint.path} is not siteKey-authenticated: the call has no site")
        return self.site

    def __getitem__(self, name: str) -> Any:
        return self.args[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.args.get(name, default)


def _int32(text: str) -> int:
    if not _INT32.fullmatch(text):
        raise ValueError(text)
    value = int(text)
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(text)
    return value


def _datetime(text: str) -> datetime:
    if not _DATETIME.fullmatch(text):
        raise ValueError(text)
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=CRM_TZ)  # raises on 2024-02-30


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text, parse_constant=_refuse_constant)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


_CONVERTERS: dict[WireType, Callable[[str], Any]] = {
    "string": str,
    "int32": _int32,
    "datetime": _datetime,
    "json": _json_object,
}


def convert(wire_type: WireType, name: str, text: str) -> Any:
    """``text`` as a value of ``wire_type``; :class:`SandboxError` 10017 naming ``name`` if it is not one."""
    try:
        return _CONVERTERS[wire_type](text)
    except (ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
        raise SandboxError.invalid(name) from None


def reply_format(raw: Mapping[str, str]) -> str:
    """The format to answer in, best effort: errors found before ``format`` is validated (or about
    ``format`` itself) still need a shape, and JSON is the API's default."""
    return "xml" if raw.get("format", "").strip().lower() == "xml" else "json"


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def validate(endpoint: Endpoint, raw: Mapping[str, str], accepted: Accepted) -> Call:
    """Check ``raw`` (query + body, body winning) against ``endpoint``'s params.

    Returns the typed :class:`Call`; raises :class:`SandboxError` with 21301/21302 (credential refused),
    10016 (a required param missing or blank) or 10017 (a value of the wrong type, or ``format`` other
    than json/xml)."""
    auth = endpoint.auth
    presented = raw.get(auth, "")
    if not accepted.accepts(auth, presented):
        raise SandboxError(TOKEN_REFUSED if auth == "token" else SITE_KEY_REFUSED)

    for param in endpoint.params:
        if param.required and param.role == "input" and _blank(raw.get(param.name)):
            raise SandboxError.missing(param.name)

    fmt = raw.get("format", "").strip().lower() or "json"
    if fmt not in FORMATS:
        raise SandboxError.invalid("format")
    args: dict[str, Any] = {}
    for param in endpoint.inputs:
        text = raw.get(param.name)
        if text is None or (param.type != "string" and not text.strip()):
            continue  # an optional param not sent (or sent empty, for non-strings)
        args[param.name] = convert(param.type, param.name, text)
    return Call(endpoint=endpoint, args=args, format=fmt, site=digest(presented) if auth == "siteKey" else None)
