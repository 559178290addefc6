"""One CRM call on behalf of a submission: wait for a rate token, flag a non-idempotent write before it goes out,
call, and record the attempt whatever happens (docs/delivery.md, "Attempts").
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Literal

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from ..crm.errors import (
    CRMAuthError,
    CRMBadReply,
    CRMConnectionError,
    CRMError,
    CRMServerError,
    CRMTimeout,
    CRMUnavailable,
)
from ..crm.spec import INT32_MAX
from ..models import DeliveryAttempt, Submission
from . import circuit, storable
from .flows import Call

__all__ = ["MAX_INLINE_WAIT", "NON_IDEMPOTENT", "RateLimited", "make_call", "maybe_sent", "record_attempt"]

logger = logging.getLogger("crm_bridge.delivery")
Outcome = DeliveryAttempt.Outcome

#: Writes the CRM has no idempotency key for: an answer lost after sending may mean it was stored.
NON_IDEMPOTENT = frozenset({"ECommerce/AddMessageBoard", "Customer/Save"})
#: Longest a worker sleeps in-line for a rate-limit token before handing the row back to the sweep.
MAX_INLINE_WAIT = 2.0


class RateLimited(Exception):
    """No rate token within :data:`MAX_INLINE_WAIT`: the row goes back to the sweep, no attempt spent."""

    def __init__(self, wait: float) -> None:
        self.wait = wait


def maybe_sent(error: CRMError) -> bool:
    """Could the CRM have acted on a request that failed this way?

    Not when nothing went out (``error.sent is False``: refused connection, connect timeout), nor for a 503 or
    an error the CRM numbered (an ``error_code`` envelope): it said it did not. Possibly for anything else that
    came after sending — a read timeout, a connection broken mid-reply, an unreadable body, a bare 5xx page
    (ASP.NET can crash after the handler committed)."""
    if error.sent is False:
        return False
    if isinstance(error, CRMTimeout | CRMConnectionError | CRMBadReply):
        return True
    return isinstance(error, CRMServerError) and error.http_status != 503 and error.error_code is None


def record_attempt(
    sub: Submission | None,
    endpoint: str,
    started: datetime,
    seconds: float,
    outcome: str,
    *,
    error: Any = "",
    reply: Any = None,
    **fields: Any,
) -> bool:
    """Write one ``DeliveryAttempt``; returns False (and logs) if the database refused it.

    ``error`` and ``reply`` come from the CRM or an exception: they are made storable first
    (:mod:`.storable`). Should the insert still fail, it fails alone — in a savepoint, so an enclosing transaction
    stays usable — and the caller goes on judging the CRM's answer: a lost log line must not turn a CRM failure
    into "unexpected error" (which skips the circuit and ``AMBIGUOUS_SETTLE``)."""
    try:
        with transaction.atomic():
            DeliveryAttempt.objects.create(
                submission=sub,
                attempt=sub.attempts if sub else 0,
                endpoint=endpoint,
                started_at=started,
                duration_ms=min(max(0, round(seconds * 1000)), INT32_MAX),
                outcome=outcome,
                error=storable.text(error),
                reply=storable.json_value(reply),
                **fields,
            )
    except (DatabaseError, UnicodeError):  # UnicodeError: psycopg cannot even encode some text
        logger.exception("could not record a %s attempt at %s for %s", outcome, endpoint, sub.pk if sub else "-")
        return False
    return True


def make_call(
    sub: Submission | None, *, site_key: str | None = None, priority: Literal["high", "low"] = "high"
) -> Call:
    """A ``call(path, params) -> value`` for a flow: waits for a rate token, calls the CRM, records the
    attempt (endpoint, duration, answer or error) and re-raises CRM errors for :func:`deliver` to judge."""
    from ..connection import get_client  # the Django-configured client; imported late to keep startup light

    client = get_client()
    if site_key is not None:
        client = client.with_site_key(site_key)

    def call(path: str, params: dict[str, Any]) -> Any:
        deadline = time.monotonic() + MAX_INLINE_WAIT
        while (wait := circuit.take_token(priority)) > 0:
            if time.monotonic() + wait > deadline:
                raise RateLimited(wait)
            time.sleep(wait)
        # A write the CRM cannot de-duplicate is flagged before it goes out, so that a worker killed mid-send
        # leaves a trace: lease recovery counts such a row as a possible duplicate (outbox.recover_expired_leases).
        tracked = sub if sub is not None and path in NON_IDEMPOTENT else None  # the row to flag, if any
        if tracked:
            Submission.objects.filter(pk=tracked.pk).update(write_in_flight=True)
        started, t0 = timezone.now(), time.monotonic()
        try:
            reply = client.request(path, params)
        except CRMError as err:
            if isinstance(err, CRMUnavailable):
                outcome = Outcome.AMBIGUOUS if tracked and maybe_sent(err) else Outcome.RETRY
            else:
                outcome = Outcome.AUTH if isinstance(err, CRMAuthError) else Outcome.REJECTED
            if tracked:
                ambiguous = outcome == Outcome.AMBIGUOUS
                Submission.objects.filter(pk=tracked.pk).update(
                    write_in_flight=False, ambiguous_sends=F("ambiguous_sends") + int(ambiguous)
                )
                tracked.ambiguous_sends += int(ambiguous)
            record_attempt(
                sub, path, started, time.monotonic() - t0, outcome,
                http_status=err.http_status, error_code=err.error_code, error=str(err), reply=err.as_dict(),
            )  # fmt: skip
            raise
        # On success write_in_flight stays set until the row's outcome is recorded (outbox._transition clears it):
        # a worker dying in between leaves the trace, and lease recovery counts the possible duplicate.
        record_attempt(
            sub, path, started, reply.elapsed, Outcome.OK, http_status=reply.http_status, reply={"value": reply.value}
        )
        return reply.value

    return call
