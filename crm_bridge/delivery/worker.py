"""Delivering one row, and the sweep: claim it, run its flow, judge the outcome by failure class
(docs/delivery.md, "Failure classes").
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from ..conf import bridge_settings
from ..crm.errors import CRMAuthError, CRMRejected, CRMUnavailable
from ..logging import log_context
from ..models import Circuit, Site, Submission
from . import calls, circuit, outbox, pauses
from .backoff import retry_delay
from .flows import Verdict, deliver_lead, deliver_message, duplicate_board_note

__all__ = ["DRAIN_SECONDS", "deliver", "deliver_and_drain", "sweep"]

logger = logging.getLogger("crm_bridge.delivery")
S = Submission.Status


#: How long one task keeps taking due rows after its own (:func:`deliver_and_drain`). Well below the task's
#: ``soft_time_limit`` (120 s, crm_bridge/tasks.py): the last row it starts inside the budget still has its calls'
#: timeouts and rate waits to finish in. Short enough that periodic tasks queued behind it (sweep, hit flushes)
#: wait at most this long for a worker slot.
DRAIN_SECONDS = 20.0

#: How long a delivery that has the CRM's answer in hand keeps trying to record it while the database is
#: unreachable (a PostgreSQL restart or fail-over takes seconds). Giving up at once would leave the row to its
#: lease, and a message the CRM already posted would be posted again (docs/delivery.md, "Guarantees"). Bounded
#: by the row's lease too (less :data:`LEASE_MARGIN`), so no other worker can have taken the row meanwhile,
#: and well below the task's soft time limit.
RECORD_PATIENCE = 30.0
LEASE_MARGIN = 1.0


def deliver(submission_id: Any, now: datetime | None = None) -> str:
    """Deliver one submission. Returns the status the row is left in, or ``"skipped"`` when it was not ours
    to deliver (not due, already claimed or final, its credential paused).

    ``now`` (default: the current time) is the clock of every transition, circuit update and back-off this
    delivery computes, so tests can move time instead of sleeping."""
    now = now or timezone.now()
    sub = outbox.claim(submission_id, now)
    if sub is None:
        return "skipped"
    _deliver_claimed(sub, now)
    return sub.status


def deliver_and_drain(submission_id: Any, *, budget: float = DRAIN_SECONDS) -> tuple[str, int]:
    """:func:`deliver` this submission, then keep taking due rows from the outbox (:func:`.outbox.claim_next`,
    one at a time) until none is due, ``budget`` seconds have passed, the circuit is not closed, or a delivery
    ended without an answer from the CRM (retryable failure, rate limit, paused credential, a bug of ours) —
    then the broker, the sweep and the circuit take over again. Returns the first row's status (as
    :func:`deliver`) and how many more rows it took, each in its own claim.

    This is what the ``deliver`` task runs: one broker message starts a drain of the whole backlog, at the
    speed of the CRM rather than one message per row. The guarantees are those of :func:`deliver`, row by row:
    each row is claimed (conditional update, a lease, an attempt) only when its turn comes, so a worker killed
    mid-loop holds at most the row it was sending (its lease expires and the sweep recovers it); rows it had
    not reached are untouched. Their own broker messages, when they come, find them delivered and skip."""
    started, more = time.monotonic(), 0
    now = timezone.now()
    sub = outbox.claim(submission_id, now)
    # Not ours (its message was stale: delivered by an earlier drain, say): the outbox may still hold due rows.
    answered = True if sub is None else _deliver_claimed(sub, now)
    status = "skipped" if sub is None else sub.status
    if not answered:
        return status, more
    while time.monotonic() - started < budget:
        if circuit.get_circuit().state != Circuit.State.CLOSED:
            break  # open or half-open: the probe decides, not a loop
        now = timezone.now()
        sub = outbox.claim_next(now)
        if sub is None:
            break
        with log_context(submission_id=sub.pk):  # its log lines name this row, not the one the task came for
            answered = _deliver_claimed(sub, now)
        more += 1
        if not answered:
            break
    if more:
        logger.info("drained %d more due row(s) after %s", more, submission_id)
    return status, more


def _deliver_claimed(sub: Submission, now: datetime) -> bool:
    """Run a claimed row's flow and record its outcome; True when the CRM answered (delivered, duplicate,
    rejected, or a lead that must wait on another), False otherwise (circuit not allowing, rate-limited, a
    paused credential, a retryable failure, a bug) — a drain stops there."""
    allowed, wait = circuit.allow_call(now)
    if not allowed:
        outbox.retry_later(sub, delay=_jitter(wait), spend_attempt=False, now=now)
        return False
    try:
        verdict = _run_flow(sub)
    except calls.RateLimited as limited:
        circuit.release_probe(now)
        outbox.retry_later(sub, delay=_jitter(limited.wait), spend_attempt=False, now=now)
    except pauses.CredentialPaused:
        # The duplicate note needs the site's siteKey, paused meanwhile: the lead waits for the probe, unspent.
        circuit.record_success(now)
        delay = float(bridge_settings.CREDENTIAL_PROBE_INTERVAL)
        outbox.retry_later(sub, delay=delay, spend_attempt=False, now=now)
    except CRMAuthError as err:
        circuit.record_success(now)  # the CRM answered: it is up
        pauses.pause(sub.site, err, now)
        # Due at once, but not claimed while the credential is paused (outbox.due_filter); the probe resumes it.
        outbox.retry_later(sub, delay=0, error=str(err), spend_attempt=False, now=now)
    except CRMRejected as err:
        circuit.record_success(now)
        outbox.finish(sub, S.FAILED, reply=err.as_dict(), error=str(err), now=now)
        return True
    except CRMUnavailable as err:
        circuit.record_failure(str(err), now)
        # The CRM may still be working on a write we gave up on: a retry must not overtake it (a lead's repeat
        # checks would not see the customer yet, and Save would run twice).
        settle = (
            bridge_settings.AMBIGUOUS_SETTLE if err.endpoint in calls.NON_IDEMPOTENT and calls.maybe_sent(err) else 0.0
        )
        _retry_or_give_up(sub, str(err), at_least=settle, now=now)
    except Exception as err:  # a bug of ours must not lose the row: keep it, with back-off, for a person to see
        logger.exception("unexpected error delivering %s", sub.pk)
        circuit.release_probe(now)
        _retry_or_give_up(sub, f"{type(err).__name__}: {err}", now=now)
    else:

        def record() -> None:
            circuit.record_success(now)
            if verdict.status == "wait":
                outbox.retry_later(sub, delay=_jitter(bridge_settings.LEAD_WAIT), spend_attempt=False, now=now)
            else:
                outbox.finish(sub, verdict.status, reply=verdict.reply, error=verdict.reason, now=now)

        _record_answer(sub, record)
        return True
    return False


def _record_answer(sub: Submission, record: Callable[[], None]) -> None:
    """Run ``record`` (writing what the CRM answered), retrying on a lost or refused database connection for
    up to :data:`RECORD_PATIENCE` seconds within the row's lease; then the error propagates (the lease expires
    and the sweep recovers the row, a repeated write counted in ``ambiguous_sends``)."""
    deadline = time.monotonic() + RECORD_PATIENCE
    if sub.lease_expires_at is not None:
        left = (sub.lease_expires_at - timezone.now()).total_seconds() - LEASE_MARGIN
        deadline = min(deadline, time.monotonic() + left)
    pause, warned = 0.25, False
    while True:
        try:
            record()
            if warned:
                logger.warning("database back: recorded the CRM's answer for %s", sub.pk)
            return
        except (OperationalError, InterfaceError) as err:
            if connection.in_atomic_block or time.monotonic() + pause > deadline:
                raise
            if not warned:
                logger.warning("database unavailable recording the CRM's answer for %s; trying again: %s",
                               sub.pk, err)  # fmt: skip
                warned = True
            connection.close()  # a broken connection is not reopened by itself: the next query opens a new one
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def _run_flow(sub: Submission) -> Verdict:
    site = sub.site
    if sub.kind == Submission.Kind.MESSAGE:
        return deliver_message(sub, calls.make_call(sub, site_key=site.site_key))
    # NameIsRepeat, TelIsRepeat, Save: reserved together, so Save never waits for a slot after the checks.
    call = calls.make_call(sub, site_key=site.site_key, calls_expected=3)

    def mark_save_attempted() -> None:
        # Save is the next call and a write the CRM cannot de-duplicate: its in-flight flag goes in the same
        # UPDATE (make_call then skips its own), one statement instead of two.
        Submission.objects.filter(pk=sub.pk).update(save_attempted=True, write_in_flight=True)
        sub.save_attempted = sub.write_in_flight = True

    verdict = deliver_lead(sub, call, mark_save_attempted=mark_save_attempted)
    if verdict.status == "duplicate" and site.post_duplicates_to_board:
        if Site.objects.filter(pk=site.pk, paused_at__isnull=False).exists():
            raise pauses.CredentialPaused("siteKey")
        posted = call(
            "ECommerce/AddMessageBoard",
            {"custID": site.default_cust_id, "content": duplicate_board_note(sub), "contact": sub.payload["tel"]},
        )
        verdict = Verdict(verdict.status, verdict.reason, {**(verdict.reply or {}), "board_note": posted})
    return verdict


def _retry_or_give_up(sub: Submission, error: str, *, now: datetime, at_least: float = 0.0) -> None:
    if outbox.out_of_attempts(sub, now):
        outbox.finish(sub, S.FAILED, error=f"gave up after {sub.attempts} attempts: {error}", now=now)
    else:
        outbox.retry_later(sub, delay=max(at_least, retry_delay(sub.attempts)), error=error, now=now)


def _jitter(seconds: float) -> float:
    return max(0.5, seconds) * random.uniform(1.0, 1.2)


def sweep(*, enqueue: Callable[[str], bool], now: datetime | None = None) -> int:
    """Recover expired leases and hand due rows to the broker. While the circuit is open only one row (the
    probe) is handed over once the circuit's wait has passed; none before."""
    now = now or timezone.now()
    state = circuit.get_circuit()
    if state.state == Circuit.State.CLOSED:
        limit = None
    elif state.retry_at and state.retry_at <= now:  # open and due, or a half-open probe gone stale
        limit = 1
    else:
        limit = 0
    return outbox.sweep(enqueue=enqueue, limit=limit, now=now)
