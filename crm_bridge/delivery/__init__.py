"""Delivery: a stored submission → the CRM calls it needs, and the state machine around them (design.md §5).

Public functions (the Celery tasks and the admin call these; they take ids and are safe to call twice):

* :func:`deliver` — deliver one submission if it is due and nobody else holds it.
* :func:`sweep` — hand due and stuck rows to the broker again (a lost message delays, never loses).
* :func:`flush_hits` — send pending page-view counts.
* :func:`retry_now`, :func:`cancel`, :func:`release_spam`, :func:`resume_site` — staff actions.

Failure classes decide what happens next (``crm_bridge.crm.errors``): retryable → back to queued with
back-off (and a circuit that stops calling a dead CRM); auth refused → the site's deliveries pause and staff
are told, no attempt is spent; a definite rejection → failed with the reason.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from ..conf import bridge_settings
from ..crm.errors import (
    CRMAuthError,
    CRMBadReply,
    CRMConnectionError,
    CRMError,
    CRMRejected,
    CRMServerError,
    CRMTimeout,
    CRMUnavailable,
)
from ..models import Circuit, DeliveryAttempt, Site, Submission
from . import circuit, outbox
from .backoff import retry_delay
from .flows import Verdict, deliver_lead, deliver_message, duplicate_board_note
from .hits import flush_hits

__all__ = ["cancel", "deliver", "flush_hits", "release_spam", "resume_site", "retry_now", "sweep"]

logger = logging.getLogger("crm_bridge.delivery")
S = Submission.Status
Outcome = DeliveryAttempt.Outcome

#: Writes the CRM has no idempotency key for: an answer lost after sending may mean it was stored.
NON_IDEMPOTENT = frozenset({"ECommerce/AddMessageBoard", "Customer/Save"})
#: Longest a worker sleeps in-line for a rate-limit token before handing the row back to the sweep.
MAX_INLINE_WAIT = 2.0


class _RateLimited(Exception):
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


def _record(sub: Submission | None, endpoint: str, started: datetime, seconds: float, outcome: str, **fields) -> None:
    DeliveryAttempt.objects.create(
        submission=sub,
        attempt=sub.attempts if sub else 0,
        endpoint=endpoint,
        started_at=started,
        duration_ms=max(0, round(seconds * 1000)),
        outcome=outcome,
        **fields,
    )


def make_call(sub: Submission | None, *, site_key: str | None = None, priority: str = "high") -> Callable:
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
                raise _RateLimited(wait)
            time.sleep(wait)
        # A write the CRM cannot de-duplicate is flagged before it goes out, so that a worker killed mid-send
        # leaves a trace: lease recovery counts such a row as a possible duplicate (outbox.recover_expired_leases).
        tracked = sub is not None and path in NON_IDEMPOTENT
        if tracked:
            Submission.objects.filter(pk=sub.pk).update(write_in_flight=True)
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
                Submission.objects.filter(pk=sub.pk).update(
                    write_in_flight=False, ambiguous_sends=F("ambiguous_sends") + int(ambiguous)
                )
                sub.ambiguous_sends += int(ambiguous)
            _record(
                sub, path, started, time.monotonic() - t0, outcome,
                http_status=err.http_status, error_code=err.error_code, error=str(err), reply=err.as_dict(),
            )  # fmt: skip
            raise
        # On success write_in_flight stays set until the row's outcome is recorded (outbox._transition clears it):
        # a worker dying in between leaves the trace, and lease recovery counts the possible duplicate.
        _record(
            sub, path, started, reply.elapsed, Outcome.OK, http_status=reply.http_status, reply={"value": reply.value}
        )
        return reply.value

    return call


def deliver(submission_id: Any) -> str:
    """Deliver one submission. Returns the status the row is left in, or ``"skipped"`` when it was not ours
    to deliver (not due, already claimed or final, site paused)."""
    now = timezone.now()
    sub = outbox.claim(submission_id, now)
    if sub is None:
        return "skipped"
    allowed, wait = circuit.allow_call(now)
    if not allowed:
        outbox.retry_later(sub, delay=_jitter(wait), spend_attempt=False, now=now)
        return sub.status
    try:
        verdict = _run_flow(sub)
    except _RateLimited as limited:
        circuit.release_probe()
        outbox.retry_later(sub, delay=_jitter(limited.wait), spend_attempt=False)
    except CRMAuthError as err:
        circuit.record_success()  # the CRM answered: it is up
        _pause_site(sub.site, err)
        outbox.retry_later(sub, delay=0, error=str(err), spend_attempt=False)
    except CRMRejected as err:
        circuit.record_success()
        outbox.finish(sub, S.FAILED, reply=err.as_dict(), error=str(err))
    except CRMUnavailable as err:
        circuit.record_failure(str(err))
        # The CRM may still be working on a write we gave up on: a retry must not overtake it (a lead's repeat
        # checks would not see the customer yet, and Save would run twice).
        settle = bridge_settings.AMBIGUOUS_SETTLE if err.endpoint in NON_IDEMPOTENT and maybe_sent(err) else 0.0
        _retry_or_give_up(sub, str(err), at_least=settle)
    except Exception as err:  # a bug of ours must not lose the row: keep it, with back-off, for a person to see
        logger.exception("unexpected error delivering %s", sub.pk)
        circuit.release_probe()
        _retry_or_give_up(sub, f"{type(err).__name__}: {err}")
    else:
        circuit.record_success()
        if verdict.status == "wait":
            outbox.retry_later(sub, delay=_jitter(bridge_settings.LEAD_WAIT), spend_attempt=False)
        else:
            outbox.finish(sub, verdict.status, reply=verdict.reply, error=verdict.reason)
    return sub.status


def _run_flow(sub: Submission) -> Verdict:
    site = sub.site
    call = make_call(sub, site_key=site.site_key)
    if sub.kind == Submission.Kind.MESSAGE:
        return deliver_message(sub, call)

    def mark_save_attempted() -> None:
        Submission.objects.filter(pk=sub.pk).update(save_attempted=True)
        sub.save_attempted = True

    verdict = deliver_lead(sub, call, mark_save_attempted=mark_save_attempted)
    if verdict.status == "duplicate" and site.post_duplicates_to_board:
        posted = call(
            "ECommerce/AddMessageBoard",
            {"custID": site.default_cust_id, "content": duplicate_board_note(sub), "contact": sub.payload["tel"]},
        )
        verdict = Verdict(verdict.status, verdict.reason, {**(verdict.reply or {}), "board_note": posted})
    return verdict


def _retry_or_give_up(sub: Submission, error: str, *, at_least: float = 0.0) -> None:
    now = timezone.now()
    if outbox.out_of_attempts(sub, now):
        outbox.finish(sub, S.FAILED, error=f"gave up after {sub.attempts} attempts: {error}", now=now)
    else:
        outbox.retry_later(sub, delay=max(at_least, retry_delay(sub.attempts)), error=error, now=now)


def _pause_site(site: Site, err: CRMError) -> None:
    paused = Site.objects.filter(pk=site.pk, paused_at__isnull=True).update(
        paused_at=timezone.now(), paused_reason=f"The CRM refused our credentials: {err}"
    )
    if paused:
        # logger.error reaches ADMINS through Django's AdminEmailHandler where the site configures it.
        logger.error(
            "CRM refused the credentials for site %r (%s); its deliveries are paused until staff resume them",
            site.name, err,
        )  # fmt: skip


def _jitter(seconds: float) -> float:
    return max(0.5, seconds) * random.uniform(1.0, 1.2)


def sweep(*, enqueue: Callable[[str], bool]) -> int:
    """Recover expired leases and hand due rows to the broker. While the circuit is open only one row (the
    probe) is handed over once the circuit's wait has passed; none before."""
    state = circuit.get_circuit()
    if state.state == Circuit.State.CLOSED:
        limit = None
    elif state.retry_at and state.retry_at <= timezone.now():  # open and due, or a half-open probe gone stale
        limit = 1
    else:
        limit = 0
    return outbox.sweep(enqueue=enqueue, limit=limit)


# --- staff actions ----------------------------------------------------------------------------------------


def retry_now(ids: Iterable[Any], *, enqueue: Callable[[str], bool]) -> int:
    """Queued or failed rows → queued and due now (a failed row gets a fresh attempt budget)."""
    now = timezone.now()
    ids = [str(i) for i in ids]
    Submission.objects.filter(pk__in=ids, status=S.FAILED).update(
        status=S.QUEUED, attempts=0, next_attempt_at=now, finished_at=None, enqueued_at=now
    )
    Submission.objects.filter(pk__in=ids, status=S.QUEUED).update(next_attempt_at=now, enqueued_at=now)
    queued = [str(pk) for pk in Submission.objects.filter(pk__in=ids, status=S.QUEUED).values_list("pk", flat=True)]
    for pk in queued:
        enqueue(pk)
    return len(queued)


def cancel(ids: Iterable[Any]) -> int:
    """Queued, failed or spam rows → cancelled (never sent). A row being sent right now is left alone."""
    return Submission.objects.filter(pk__in=list(ids), status__in=[S.QUEUED, S.FAILED, S.SPAM]).update(
        status=S.CANCELLED, finished_at=timezone.now(), next_attempt_at=None
    )


def release_spam(ids: Iterable[Any], *, enqueue: Callable[[str], bool]) -> int:
    """Held-as-spam rows staff judged genuine → queued and due now."""
    now = timezone.now()
    ids = [str(i) for i in ids]
    released = list(Submission.objects.filter(pk__in=ids, status=S.SPAM).values_list("pk", flat=True))
    n = Submission.objects.filter(pk__in=released, status=S.SPAM).update(
        status=S.QUEUED, next_attempt_at=now, enqueued_at=now, spam_reason=""
    )
    for pk in released:
        enqueue(str(pk))
    return n


def resume_site(site: Site, *, enqueue: Callable[[str], bool]) -> int:
    """Un-pause a site whose credentials were refused (after staff fixed them); its waiting rows go now."""
    Site.objects.filter(pk=site.pk).update(paused_at=None, paused_reason="")
    ids = Submission.objects.filter(site=site, status=S.QUEUED).values_list("pk", flat=True)
    return retry_now(list(ids), enqueue=enqueue)
