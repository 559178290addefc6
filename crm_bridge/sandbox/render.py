"""Replies in the API's two shapes (docs/architecture.md, "The CRM library").

Success::

    {"value": <value>}                                        application/json; charset=utf-8
    <?xml version="1.0" encoding="utf-8"?>
    <response><value>…</value></response>                     application/xml; charset=utf-8

Error (Sina-Weibo shape; HTTP status from ``spec.ERROR_CODES``)::

    {"error_code": 10016, "error": "miss required parameter (sName)", "request": "/WebApi/…/Save.ashx"}
    <?xml version="1.0" encoding="utf-8"?>
    <hash><request>/WebApi/…/Save.ashx</request><error_code>10016</error_code><error>…</error></hash>

XML values: scalars as text (``true``/``false``, integers as digits), ``None`` as an empty element, an
object as one child per key, a list as ``<item>`` children, recursively. A key that is not a plain XML name
(an extra key like ``"my key"``) becomes ``<field name="my key">…</field>``. Characters XML 1.0 cannot carry
(most C0 controls) are replaced by U+FFFD. JSON keeps Chinese as is (``ensure_ascii=False``).
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from django.http import HttpResponse

from .errors import SandboxError

__all__ = ["CONTENT_TYPES", "ErrorResponse", "error", "error_body", "success", "success_body", "xml_element"]

CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "application/xml; charset=utf-8"}
_XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
_XML_NAME = re.compile(r"(?!(?i:xml))[A-Za-z_][A-Za-z0-9_.-]*")
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return escape(_XML_ILLEGAL.sub("\ufffd", value))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _text(str(value))


def xml_element(tag: str, value: Any, attrs: str = "") -> str:
    """``value`` as the XML element ``tag`` (see the module docstring for the mapping)."""
    if value is None:
        return f"<{tag}{attrs}/>"
    if isinstance(value, dict):
        inner = []
        for key, child in value.items():
            key = str(key)
            if _XML_NAME.fullmatch(key):
                inner.append(xml_element(key, child))
            else:
                inner.append(xml_element("field", child, f" name={quoteattr(_XML_ILLEGAL.sub('', key))}"))
        body = "".join(inner)
    elif isinstance(value, list | tuple):
        body = "".join(xml_element("item", child) for child in value)
    else:
        body = _scalar(value)
    return f"<{tag}{attrs}>{body}</{tag}>"


def success_body(value: Any, fmt: str) -> bytes:
    if fmt == "xml":
        return (_XML_DECLARATION + xml_element("response", {"value": value})).encode()
    return json.dumps({"value": value}, ensure_ascii=False).encode()


def error_body(err: SandboxError, request_path: str, fmt: str) -> bytes:
    if fmt == "xml":
        inner = (
            xml_element("request", request_path)
            + xml_element("error_code", err.code)
            + xml_element("error", err.message)
        )
        return (_XML_DECLARATION + f"<hash>{inner}</hash>").encode()
    return json.dumps(
        {"error_code": err.code, "error": err.message, "request": request_path}, ensure_ascii=False
    ).encode()


def success(value: Any, fmt: str) -> HttpResponse:
    """HTTP 200 with ``value`` in the ``fmt`` shape."""
    return HttpResponse(success_body(value, fmt), content_type=CONTENT_TYPES[fmt])


class ErrorResponse(HttpResponse):
    """An error reply; :attr:`crm_error_code` is the ``error_code`` it carries (for the request log)."""

    crm_error_code: int


def error(err: SandboxError, request_path: str, fmt: str) -> ErrorResponse:
    """The error reply for ``err`` (its table HTTP status), naming ``request_path`` (never a query string:
    that is where a GET caller's token travels)."""
    response = ErrorResponse(error_body(err, request_path, fmt), content_type=CONTENT_TYPES[fmt])
    response.status_code = err.http_status
    response.crm_error_code = err.code
    return response
