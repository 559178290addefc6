"""Python values in, wire strings out; reply bodies in, typed values out. Driven by :mod:`.spec`.

Requests (:func:`encode_params`): every param travels as a form field, its value a string.

=========== =========================================================================================
wire type   accepted Python values → wire string
=========== =========================================================================================
``string``  ``str`` only (sent as is)
``int32``   ``int`` in ``INT32_MIN..INT32_MAX``; ``bool`` and ``float`` refused (``True`` is not an id)
``datetime`` ``datetime`` / ``date`` → ``YYYY-MM-DD HH:MM:SS`` (``spec.DATETIME_FORMAT``), or a ``str`` already
            in exactly that form. An aware datetime is sent as its own wall-clock time: the wire has no offset,
            so convert to the CRM's zone first (``django.utils.timezone.localtime``).
``json``    a ``Mapping`` → a JSON object string (``ensure_ascii=False``; datetimes/dates inside it formatted
            as above), or a ``str`` that parses as a JSON object (sent as is)
=========== =========================================================================================

``None`` means "omitted" (so generated methods pass optional params straight through). Credentials, ``format``
and ``tran`` are not the caller's to pass. Every problem raises :class:`~.errors.CRMParamError` (client-side:
``http_status`` is None) naming the param and what was wrong — never the value, which may be personal data.

Replies (:func:`decode_body` then :func:`coerce_value`): JSON ``{"value": …}`` or the error envelope
``{"error_code", "error", "request"}``, or the same two shapes in XML (parsed only with ``defusedxml``, DTDs
refused)::

    <?xml version="1.0" encoding="utf-8"?><response><value>…</value></response>
    <hash><request>/path</request><error_code>10016</error_code><error>…</error></hash>

In XML, scalars are text, objects are child elements named by key (``<field name="…">`` for a key that is not
an XML name), lists are ``<item>`` children and an empty element is ``None``; every leaf is a string. The
top-level ``value`` is coerced by the endpoint's reply kind; fields inside objects are left as the format gave
them. Anything not of those shapes raises :class:`~.errors.CRMBadReply`; the client adds endpoint, status and a
scrubbed excerpt.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException

from .errors import CRMBadReply, CRMNotFound, CRMParamError
from .spec import DATETIME_FORMAT, INT32_MAX, INT32_MIN, Endpoint, Param, ReplyKind

__all__ = [
    "DecodedReply",
    "coerce_value",
    "decode_body",
    "encode_params",
    "encode_value",
    "from_text",
    "reply_text",
]

_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_INT_RE = re.compile(r"[+-]?\d+")
_BOM = "\ufeff"

# ---------------------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------------------


def encode_params(endpoint: Endpoint, params: Mapping[str, Any] | None) -> dict[str, str]:
    """The form fields for a caller's inputs, keyed by wire name, in the doc's order.

    ``params`` is keyed by wire names (``{"sName": "x", "id": 0}``). A ``None`` value is the same as leaving
    the key out. Raises :class:`CRMParamError` for an unknown name (listing the known ones), a credential,
    ``format`` or ``tran``, missing required inputs (all of them, in one message) or a value of the wrong type.
    Credentials and ``format`` are not added here: that is the client's job.
    """
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise CRMParamError(f"params must be a mapping of wire names to values, not {type(params).__name__}")
    for name in params:
        param = endpoint.by_name.get(name)
        if param is None:
            raise CRMParamError(_unknown_message(endpoint, name), endpoint=endpoint.path)
        if param.role == "credential":
            raise CRMParamError(
                f"{name!r} is a credential: the client fills it in from ClientConfig."
                f"{'token' if name == 'token' else 'site_key'}; do not pass it",
                endpoint=endpoint.path,
            )
        if param.role == "format":
            raise CRMParamError(
                "'format' is set by the client (ClientConfig.format); do not pass it", endpoint=endpoint.path
            )
        if param.role == "unsendable":
            raise CRMParamError(
                f"{name!r} is a server-side {param.doc_type or param.type} and cannot be sent over HTTP; omit it",
                endpoint=endpoint.path,
            )
    missing = [p for p in endpoint.inputs if p.required and params.get(p.name) is None]
    if missing:
        listed = ", ".join(f"{p.name} ({p.type})" for p in missing)
        raise CRMParamError(f"missing required parameter(s): {listed}", endpoint=endpoint.path)
    return {
        p.name: encode_value(p, params[p.name], endpoint=endpoint.path)
        for p in endpoint.inputs
        if params.get(p.name) is not None
    }


def encode_value(param: Param, value: Any, *, endpoint: str | None = None) -> str:
    """One value as its wire string, by ``param.type``; raises :class:`CRMParamError` when it does not fit."""

    def fail(problem: str) -> CRMParamError:
        return CRMParamError(f"parameter {param.name!r} ({param.type}) {problem}", endpoint=endpoint)

    kind = param.type
    if kind == "string":
        if not isinstance(value, str):
            raise fail(f"must be a str, got {type(value).__name__}")
        return value
    if kind == "int32":
        # bool is an int subclass: True would travel as "True" (or 1) — refuse rather than guess.
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"must be an int, got {type(value).__name__}")
        if not INT32_MIN <= value <= INT32_MAX:
            raise fail(f"is out of the Int32 range {INT32_MIN}..{INT32_MAX}")
        return str(int(value))
    if kind == "datetime":
        if isinstance(value, date):  # datetime is a date subclass; date.strftime gives 00:00:00
            return value.strftime(DATETIME_FORMAT)
        if isinstance(value, str):
            if _is_wire_datetime(value):
                return value
            raise fail("must be a datetime, a date or a str in the form YYYY-MM-DD HH:MM:SS")
        raise fail(f"must be a datetime or date, got {type(value).__name__}")
    if kind == "json":
        return _encode_json(value, fail)
    raise fail("cannot be sent over HTTP")


def from_text(param: Param, text: str) -> Any:
    """The Python value for a param typed as text (command line, admin console forms), ready for
    :func:`encode_value`: ``int32`` text becomes an ``int``; other types stay ``str`` (their encoders check them).

    Raises :class:`CRMParamError` when the text cannot be the param's type.
    """
    if param.type == "int32":
        stripped = text.strip()
        if not _INT_RE.fullmatch(stripped):
            raise CRMParamError(f"parameter {param.name!r} (int32) must be an integer")
        return int(stripped)
    return text


def _unknown_message(endpoint: Endpoint, name: str) -> str:
    known = ", ".join(p.name for p in endpoint.inputs) or "(none)"
    # Python-style or wrongly-cased names are the usual slip: point at the wire name.
    guess = next((p.name for p in endpoint.inputs if name in (p.python_name, p.name.lower())), None)
    hint = f" (did you mean {guess!r}?)" if guess else ""
    return f"unknown parameter {name!r}{hint}; {endpoint.path} takes: {known}"


def _is_wire_datetime(text: str) -> bool:
    if not _DATETIME_RE.fullmatch(text):
        return False
    try:
        datetime.strptime(text, DATETIME_FORMAT)  # naive on purpose: the wire carries no zone
    except ValueError:
        return False  # right shape, impossible date (2013-02-30)
    return True


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, Mapping):  # a nested MappingProxyType, a QueryDict-like …
        return dict(value)
    raise TypeError(type(value).__name__)


def _encode_json(value: Any, fail: Any) -> str:
    if isinstance(value, str):
        try:
            parsed = json.loads(value, parse_constant=_refuse_constant)
        except ValueError:
            raise fail("must be a JSON object; the str given does not parse as JSON") from None
        if not isinstance(parsed, dict):
            raise fail(f"must be a JSON object, the str given holds a {type(parsed).__name__}")
        return value
    if isinstance(value, Mapping):
        try:
            return json.dumps(
                dict(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
            )
        except TypeError as err:
            raise fail(f"holds a value JSON cannot carry: {err}") from None
        except ValueError:
            raise fail("holds NaN, Infinity or a circular reference, which JSON cannot carry") from None
    raise fail(f"must be a mapping or a JSON object str, got {type(value).__name__}")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# ---------------------------------------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedReply:
    """A reply body read as one of the API's two shapes (before typing ``value`` by the reply kind)."""

    format: Literal["json", "xml"]
    has_value: bool
    value: Any = None
    error_code: int | None = None
    error: str | None = None
    request: str | None = None

    @property
    def is_error(self) -> bool:
        return not self.has_value


def reply_text(body: bytes, content_type: str | None = None) -> str:
    """The body as text for excerpts and sniffing: BOM dropped, undecodable bytes replaced, never raises."""
    encoding = _charset(content_type) or "utf-8"
    return body.decode(encoding, errors="replace").removeprefix(_BOM)


def decode_body(body: bytes, content_type: str | None = None) -> DecodedReply:
    """Read a reply body as ``{"value": …}`` or an error envelope, in JSON or XML.

    The content-type is used only for its ``charset`` (UTF-8 when absent): the format is sniffed from the body,
    because servers label replies wrongly. Raises :class:`CRMBadReply` for an empty body, an HTML page,
    garbage, a truncated body, XML with a DTD or entities, or a JSON/XML document of another shape.
    """
    if not body.strip():
        raise CRMBadReply("empty reply body")
    encoding = _charset(content_type) or "utf-8"
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        raise CRMBadReply(f"reply body is not valid {encoding}") from None
    text = text.removeprefix(_BOM).strip()
    if text.startswith("<"):
        return _decode_xml(text)
    return _decode_json(text)


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = re.search(r"charset\s*=\s*\"?([\w.:-]+)", content_type, re.IGNORECASE)
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None  # an unknown charset label: fall back to UTF-8 rather than fail


def _decode_json(text: str) -> DecodedReply:
    try:
        document = json.loads(text)
    except ValueError:
        # JSONDecodeError's message holds a position, never the document; still, keep the chain short.
        raise CRMBadReply("reply body is not JSON (garbage or truncated)") from None
    if not isinstance(document, dict):
        raise CRMBadReply(f"reply is a JSON {type(document).__name__}, not an object")
    return _envelope(document, "json")


def _decode_xml(text: str) -> DecodedReply:
    head = text[:200].lower()
    if head.startswith(("<!doctype html", "<html")) or "<html" in head:
        raise CRMBadReply("reply is an HTML page, not an API reply")
    try:
        root = DefusedET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise CRMBadReply(f"reply XML refused: {type(err).__name__} (DTDs and entities are not accepted)") from None
    except ParseError as err:
        raise CRMBadReply(f"reply body is not well-formed XML (garbage or truncated): {err}") from None
    if root.tag not in ("response", "hash"):
        raise CRMBadReply(f"reply XML has root <{root.tag[:40]}>, not <response> or <hash>")
    fields = {child.tag: _xml_to_python(child) for child in root}
    return _envelope(fields, "xml")


def _envelope(document: dict[str, Any], fmt: Literal["json", "xml"]) -> DecodedReply:
    raw_code = document.get("error_code")
    error_code = _as_int_or_none(raw_code)
    error = document.get("error")
    # ``error_code: 0`` / an empty ``error`` next to a value is how some APIs say "no error". A code that is
    # not a number still marks an error (its class then comes from the HTTP status).
    has_error = raw_code not in (None, "", 0, "0") or bool(error)
    if "value" in document and not has_error:
        return DecodedReply(fmt, has_value=True, value=document["value"])
    if has_error:
        request = document.get("request")
        return DecodedReply(
            fmt,
            has_value=False,
            error_code=error_code,
            error=None if error is None else str(error),
            request=None if request is None else str(request),
        )
    raise CRMBadReply("reply has neither 'value' nor 'error_code'")


def _as_int_or_none(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _INT_RE.fullmatch(raw.strip()):
        return int(raw.strip())
    return None


def _xml_to_python(element: Element) -> Any:
    """Generic XML → Python: empty → None, text only → str, all ``<item>`` children → list, else dict
    (a repeated key becomes a list, so nothing is silently dropped)."""
    children = list(element)
    if not children:
        text = element.text
        return text if text else None
    if all(child.tag == "item" for child in children):
        return [_xml_to_python(child) for child in children]
    result: dict[str, Any] = {}
    for child in children:
        value = _xml_to_python(child)
        # A key that is not an XML name travels as <field name="my key">…</field>.
        key = child.get("name", child.tag) if child.tag == "field" else child.tag
        if key in result:
            previous = result[key]
            result[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[key] = value
    return result


_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def coerce_value(kind: ReplyKind, value: Any, *, fmt: Literal["json", "xml"] = "json") -> Any:
    """The reply's ``value`` typed by the endpoint's reply kind.

    ``bool`` → ``bool`` (from ``true``/``false`` in any case, ``1``/``0``, or their strings); ``count``,
    ``status`` and ``int`` → ``int`` (from an int or a string of digits, never a bool or float); ``object`` →
    ``dict`` (a JSON string holding an object is unwrapped; ``null`` raises :class:`CRMNotFound`: the handler
    found no record); ``list`` → ``list`` of ``dict`` (``null``/empty → ``[]``; a JSON string holding a list is
    unwrapped). Anything else raises :class:`CRMBadReply`.
    """
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
        raise CRMBadReply(f"'value' should be a bool, got {_kind_of(value)}")
    if kind in ("count", "status", "int"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
            return int(value.strip())
        raise CRMBadReply(f"'value' should be an integer ({kind}), got {_kind_of(value)}")
    if kind == "object":
        value = _unwrap_json_string(value)
        if value is None:
            raise CRMNotFound("the CRM answered with no record ('value' is empty)")
        if isinstance(value, dict):
            return value
        raise CRMBadReply(f"'value' should be an object, got {_kind_of(value)}")
    if kind == "list":
        value = _unwrap_json_string(value)
        if value is None or value == "":
            return []
        if fmt == "xml" and isinstance(value, dict) and set(value) == {"item"}:
            # <value><item>…</item><item>…</item></value> read generically as a repeated key.
            value = value["item"] if isinstance(value["item"], list) else [value["item"]]
        if not isinstance(value, list):
            raise CRMBadReply(f"'value' should be a list, got {_kind_of(value)}")
        items = [{} if (fmt == "xml" and item is None) else item for item in value]
        if not all(isinstance(item, dict) for item in items):
            raise CRMBadReply("'value' should be a list of objects, some items are not objects")
        return items
    raise CRMBadReply(f"unknown reply kind {kind!r}")


def _unwrap_json_string(value: Any) -> Any:
    # Some .NET handlers serialise the entity, then wrap that string: {"value": "{\"id\":1}"}.
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _kind_of(value: Any) -> str:
    # Type names only: a reply's values may carry personal data (or an echoed secret).
    if value is None:
        return "null"
    return type(value).__name__
