"""Structured logs: a JSON formatter, a filter and a middleware that put the request and submission ids in every
line (docs/operations.md, "JSON logs").

crm_bridge never configures logging itself; the host site opts in through ``LOGGING``::

    LOGGING = {
        "version": 1,
        "filters": {"crm_ids": {"()": "crm_bridge.logging.ContextFilter"}},
        "formatters": {"json": {"()": "crm_bridge.logging.JSONFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["crm_ids"]}},
        ...
    }

and adds ``crm_bridge.logging.RequestIDMiddleware`` near the top of ``MIDDLEWARE``. The ids live in context
variables: :class:`RequestIDMiddleware` sets ``request_id`` until the request is finished, :func:`log_context` sets
``submission_id`` while a worker delivers a row (``crm_bridge.tasks.deliver``). :class:`JSONFormatter` reads them
itself, so the filter is only needed for text formats (``%(request_id)s``).
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

__all__ = [
    "REQUEST_ID_HEADER",
    "ContextFilter",
    "JSONFormatter",
    "RequestIDMiddleware",
    "current_ids",
    "log_context",
]

#: The header a proxy or client may send (and every response carries back).
REQUEST_ID_HEADER = "X-Request-ID"

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("crm_bridge_request_id", default=None)
_submission_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("crm_bridge_submission_id", default=None)

# An incoming id is taken as is only when it is short and plain: it is written into every log line, so a client
# must not be able to inject quotes, newlines or a megabyte into them.
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def current_ids() -> dict[str, str | None]:
    """The ids of the work this code runs for: ``{"request_id": …, "submission_id": …}`` (``None``: none)."""
    return {"request_id": _request_id.get(), "submission_id": _submission_id.get()}


@contextmanager
def log_context(*, request_id: str | None = None, submission_id: Any = None) -> Iterator[None]:
    """Within the block, log records carry these ids (``None`` leaves an id as it is); restored on exit."""
    tokens: list[tuple[contextvars.ContextVar[str | None], contextvars.Token[str | None]]] = []
    if request_id is not None:
        tokens.append((_request_id, _request_id.set(str(request_id))))
    if submission_id is not None:
        tokens.append((_submission_id, _submission_id.set(str(submission_id))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``record.request_id`` and ``record.submission_id`` (``"-"`` when there is none) to every record, for
    text formats such as ``"%(levelname)s [%(request_id)s %(submission_id)s] %(message)s"``. Never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_ids().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value or "-")
        return True


class JSONFormatter(JsonFormatter):
    """One JSON object per line: ``timestamp`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id``, ``submission_id`` (``null`` when none), ``exc_info`` when there is one, then any ``extra``.

    A python-json-logger formatter with these defaults; its options (``rename_fields``, ``static_fields`` …) still
    apply. Django's ``request`` extra (an ``HttpRequest`` whose text is the full URL) is left out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args and "fmt" not in kwargs:
            kwargs["fmt"] = ["levelname", "name", "message"]
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        kwargs.setdefault("json_ensure_ascii", False)  # Chinese stays readable
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        ids = current_ids()
        super().add_fields(log_data, record, message_dict)
        # A record's own id (``extra=``, or a ContextFilter's) wins; the filter's "-" placeholder reads as null.
        for name, value in ids.items():
            if log_data.get(name) in (None, "-"):
                log_data[name] = value


class RequestIDMiddleware:
    """Gives each request an id for its log lines: the client's (or proxy's) ``X-Request-ID`` when it is a plain
    token of at most 128 characters, else a new UUID; set as ``request.request_id`` and echoed in the response's
    ``X-Request-ID``. Place it first in ``MIDDLEWARE`` so every other middleware's lines carry it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = getattr(request, "request_id", None)  # listed twice in MIDDLEWARE: one id all the same
        if not request_id:
            request_id = incoming if _ACCEPTABLE_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        # Set, not scoped to this call: Django logs a 4xx/5xx answer ("Not Found: /…") after the middleware chain
        # returned, and that line must carry the id too. Cleared when the response is closed (request_finished).
        _request_id.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


@receiver(request_finished, dispatch_uid="crm_bridge.logging.clear_request_id")
def _clear_request_id(**kwargs: Any) -> None:
    """The request is over: lines logged later on this thread belong to no request."""
    _request_id.set(None)
