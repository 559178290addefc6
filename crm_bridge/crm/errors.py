"""One exception hierarchy for everything that can go wrong talking to the CRM.

Delivery acts on the *class*, never on message text:

* :class:`CRMUnavailable` (``retryable = True``) — network error, timeout, 5xx, an unreadable or malformed reply.
  Try again later; repeated ones open the circuit.
* :class:`CRMAuthError` — the token or siteKey was refused. Do not burn attempts: pause and tell a person.
* :class:`CRMRejected` — a definite "no" (a parameter error, an unknown record). Retrying will not help.

Every error carries context (endpoint, HTTP status, CRM ``error_code``, a bounded excerpt of the reply,
elapsed time) and never a credential: the client sends credentials only in POST bodies, and scrubs any
echo of them from reply excerpts before an error is built (see ``CRMClient.scrub``).

The mapping from an HTTP status / CRM ``error_code`` to a class lives in exactly one place:
:func:`error_for_reply`.
"""

from __future__ import annotations

from typing import Any

from .spec import ERROR_CODES

__all__ = [
    "CRMAuthError",
    "CRMBadReply",
    "CRMConnectionError",
    "CRMError",
    "CRMNotFound",
    "CRMParamError",
    "CRMRejected",
    "CRMServerError",
    "CRMTimeout",
    "CRMUnavailable",
    "error_for_reply",
]

#: How much of a reply body an error keeps (for admin and logs); the rest is dropped.
EXCERPT_CHARS = 500


class CRMError(Exception):
    """Root of every CRM error. Attributes are safe to show to staff and to log."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        http_status: int | None = None,
        error_code: int | None = None,
        reply_text: str | None = None,
        elapsed: float | None = None,
        sent: bool | None = None,
        attempts: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.http_status = http_status
        self.error_code = error_code
        self.reply_text = reply_text[:EXCERPT_CHARS] if reply_text else reply_text
        self.elapsed = elapsed
        # Whether the request may have reached the CRM: False = certainly not (refused, connect timeout,
        # rejected before sending), True = it did (a reply or a read timeout came back), None = cannot tell.
        # Delivery uses it to tell a harmless failure from an ambiguous one (a message may have been stored).
        self.sent = sent
        # HTTP requests made for this call, in-line retries included (None: not made by the client).
        self.attempts = attempts

    def __str__(self) -> str:
        parts = [self.message]
        if self.endpoint:
            parts.append(f"endpoint={self.endpoint}")
        if self.http_status is not None:
            parts.append(f"http_status={self.http_status}")
        if self.error_code is not None:
            parts.append(f"error_code={self.error_code}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able record of this error (stored on delivery attempts, shown in admin)."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "endpoint": self.endpoint,
            "http_status": self.http_status,
            "error_code": self.error_code,
            "reply_text": self.reply_text,
            "retryable": self.retryable,
            "elapsed": self.elapsed,
            "sent": self.sent,
            "attempts": self.attempts,
        }


class CRMUnavailable(CRMError):
    """The CRM could not give a usable answer this time; the same call may succeed later."""

    retryable = True


class CRMConnectionError(CRMUnavailable, ConnectionError):
    """Connection refused, reset, DNS failure: the request may or may not have reached the CRM
    (``sent`` tells: ``False`` for a refused connection, ``None`` when it broke off after sending began)."""


class CRMTimeout(CRMUnavailable, TimeoutError):
    """No answer within the configured connect/read timeout. The CRM may have acted on it (ambiguous)."""


class CRMServerError(CRMUnavailable):
    """HTTP 5xx, or a CRM ``error_code`` meaning an internal or temporary failure."""


class CRMBadReply(CRMUnavailable, ValueError):
    """The reply could not be read as the API's shape: HTML error page, garbage, truncated body,
    missing ``value``, ``value`` of the wrong kind."""


class CRMAuthError(CRMError, PermissionError):
    """The CRM refused the ``token`` or ``siteKey``. Retrying with the same credential will not help."""


class CRMRejected(CRMError, ValueError):
    """The CRM understood and said no (a parameter error, a refused operation)."""


class CRMParamError(CRMRejected):
    """A parameter is missing or invalid — found by the client before sending (``http_status`` is None)
    or reported by the CRM."""


class CRMNotFound(CRMRejected, LookupError):
    """The record the call names does not exist."""


_BY_CATEGORY: dict[str, type[CRMError]] = {
    "internal": CRMServerError,
    "unavailable": CRMServerError,
    "rate_limited": CRMServerError,
    "auth": CRMAuthError,
    "missing_param": CRMParamError,
    "invalid_param": CRMParamError,
    "not_found": CRMNotFound,
    "unknown_endpoint": CRMRejected,
}


def error_for_reply(http_status: int | None, error_code: int | None) -> type[CRMError]:
    """The exception class for a reply that is not a success.

    A known ``error_code`` (``spec.ERROR_CODES``) decides; otherwise the HTTP status does: 401/403 → auth,
    404, 408/425/429 and 5xx → retryable, any other 4xx → rejected. A reply with neither (e.g. HTTP 200 with
    an error body the CRM did not number) is a rejection.

    A *bare* 404 (an IIS page, no ``error_code``) means the handler path is not served at all — a wrong
    ``BASE_URL`` or a deploy in progress — not that a record is missing (the CRM says that with 20101 or an
    empty ``value``). Treating it as retryable keeps the submissions and opens the circuit, which staff see;
    treating it as "not found" would fail every one of them for good.
    """
    if error_code is not None and error_code in ERROR_CODES:
        return _BY_CATEGORY[ERROR_CODES[error_code].category]
    if http_status is None:
        return CRMRejected
    if http_status in (401, 403):
        return CRMAuthError
    if http_status in (404, 408, 425, 429) or http_status >= 500:
        return CRMServerError
    if 400 <= http_status < 500:
        return CRMRejected
    return CRMRejected
