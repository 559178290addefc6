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

__all__ = [
    "LOW_PRIORITY_WAIT",
    "MAX_INLINE_WAIT",
    "MID_FLOW_WAIT",
    "NON_IDEMPOTENT",
    "RateLimited",
    "make_call",
    "maybe_sent",
    "record_attempt",
]

logger = logging.getLogger("crm_bridge.delivery")
Outcome = DeliveryAttempt.Outcome

#: Writes the CRM has no idempotency key for: an answer lost after sending may mean it was stored.
NON_IDEMPOTENT = frozenset({"ECommerce/AddMessageBoard", "Customer/Save"})
#: Longest a delivery waits for its flow's rate reservation before its first call; beyond it the row goes back
#: to the sweep with no attempt spent — nothing was sent, so nothing is repeated. Well inside the row's lease
#: (``LEASE_SECONDS``) and the task's time limits (crm_bridge/tasks.py).
MAX_INLINE_WAIT = 10.0
#: How long a low-priority caller (hit flush, credential probe) polls the bucket before giving up: it yields to
#: leads and messages, and its next run comes soon.
LOW_PRIORITY_WAIT = 2.0
#: Longest a flow waits for a call it had not reserved (a duplicate's board note) once it has called the CRM:
#: handing it back then would repeat the calls already made, so it waits longer — still well inside the lease.
MID_FLOW_WAIT = 30.0


class RateLimited(Exception):
    """No rate reservation within the wait allowed: the row goes back to the sweep, no attempt spent."""

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
    sub: Submission | None,
    *,
    site_key: str | None = None,
    priority: Literal["high", "low"] = "high",
    calls_expected: int = 1,
) -> Call:
    """A ``call(path, params) -> value`` for a flow: waits for a rate token, calls the CRM, records the
    attempt (endpoint, duration, answer or error) and re-raises CRM errors for :func:`deliver` to judge.

    High priority takes the flow's ``calls_expected`` tokens in one reservation before its first call
    (:func:`.circuit.reserve_tokens`) and waits in-line for them (up to :data:`MAX_INLINE_WAIT`): a lead never
    loses its Save's slot after its repeat checks went out, so it is never handed back mid-flow to repeat them.
    Tokens reserved and not used (a lead found a duplicate at its first check) are not given back: the ceiling
    can be under-used by those, never exceeded. A call beyond the reservation reserves again, waiting up to
    :data:`MID_FLOW_WAIT`."""
    from ..connection import get_client  # the Django-configured client; imported late to keep startup light

    client = get_client()
    if site_key is not None:
        client = client.with_site_key(site_key)
    made = prepaid = 0

    def wait_for_tokens() -> int:
        if priority != "high":
            deadline = time.monotonic() + LOW_PRIORITY_WAIT
            while (wait := circuit.take_token("low")) > 0:
                if time.monotonic() + wait > deadline:
                    raise RateLimited(wait)
                time.sleep(wait)
            return 1
        n = max(1, calls_expected - made)
        taken, wait = circuit.reserve_tokens(n, max_wait=MID_FLOW_WAIT if made else MAX_INLINE_WAIT)
        if not taken:
            raise RateLimited(wait)
        if wait > 0:
            time.sleep(wait)  # the tokens are ours: no race to lose after the sleep
        return n

    def call(path: str, params: dict[str, Any]) -> Any:
        nonlocal made, prepaid
        if prepaid == 0:
            prepaid = wait_for_tokens()
        prepaid -= 1
        made += 1
        # A write the CRM cannot de-duplicate is flagged before it goes out, so that a worker killed mid-send
        # leaves a trace: lease recovery counts such a row as a possible duplicate (outbox.recover_expired_leases).
        tracked = sub if sub is not None and path in NON_IDEMPOTENT else None  # the row to flag, if any
        if tracked and not tracked.write_in_flight:  # already set in the database: by mark_save_attempted (worker)
            Submission.objects.filter(pk=tracked.pk).update(write_in_flight=True)
            tracked.write_in_flight = True
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
                tracked.write_in_flight = False
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
