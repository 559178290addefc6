"""The one exception a sandbox handler or validator raises to answer with a CRM error.

Every answer uses a row of :data:`crm_bridge.crm.spec.ERROR_CODES` (the single table of codes, HTTP
statuses and messages); the constructors below only add the parameter name where the API's template has
one (``miss required parameter (sName)``, ``parameter (id)'s value invalid``).
"""

from __future__ import annotations

from crm_bridge.crm.spec import ERROR_CODES

__all__ = [
    "INTERNAL",
    "INVALID_PARAM",
    "MISSING_PARAM",
    "NOT_FOUND",
    "PARAM_ERROR",
    "SITE_KEY_REFUSED",
    "TOKEN_REFUSED",
    "UNAVAILABLE",
    "UNKNOWN_ENDPOINT",
    "SandboxError",
]

INTERNAL = 10001
UNAVAILABLE = 10002
PARAM_ERROR = 10008
MISSING_PARAM = 10016
INVALID_PARAM = 10017
UNKNOWN_ENDPOINT = 10020
NOT_FOUND = 20101
TOKEN_REFUSED = 21301
SITE_KEY_REFUSED = 21302


class SandboxError(Exception):
    """Answer the current request with CRM error ``code`` (HTTP status from the table)."""

    def __init__(self, code: int, message: str | None = None) -> None:
        if code not in ERROR_CODES:  # a typo here must not reach the wire as an undocumented code
            raise ValueError(f"error code {code} is not in spec.ERROR_CODES")
        self.code = code
        self.message = message or ERROR_CODES[code].message
        super().__init__(f"{code} {self.message}")

    @property
    def http_status(self) -> int:
        return ERROR_CODES[self.code].http_status

    @classmethod
    def missing(cls, param: str) -> SandboxError:
        return cls(MISSING_PARAM, f"miss required parameter ({param})")

    @classmethod
    def invalid(cls, param: str) -> SandboxError:
        return cls(INVALID_PARAM, f"parameter ({param})'s value invalid")
