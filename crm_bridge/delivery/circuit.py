"""Shared CRM health: a circuit breaker and a call-rate bucket, in one database row per CRM.

Both live in the database (``models.Circuit``) so every worker process, on every machine, sees the same
state — a per-process breaker would let N workers each hammer a dead CRM (pybreaker's model, shared).

Breaker: ``CIRCUIT_FAIL_MAX`` consecutive *retryable* failures open it; while open nobody calls the CRM and
rows are rescheduled without spending an attempt; after ``CIRCUIT_RESET_TIMEOUT`` one caller wins the
half-open probe; its success closes the circuit, its failure re-opens it (with a doubled wait, capped at
10 minutes). Rejections and auth refusals prove the CRM is up, so they count as successes here.

Bucket: at most ``CALLS_PER_SECOND`` CRM calls start per second across all workers (bursts up to one
second's worth). Low-priority callers (hit flushes) only take a token while the bucket is more than
``1 - HIT_FLUSH_SHARE`` full, so leads and messages go first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..conf import bridge_settings
from ..models import Circuit
from . import storable

MAX_OPEN_WAIT = 600.0
#: How soon a delivery held back by a half-open circuit looks again (the probe's answer is seconds away).
PROBE_POLL = 5.0


def circuit_name() -> str:
    """The CRM this process talks to, as a row key: its base URL (which carries no credentials)."""
    return str(bridge_settings.BASE_URL).rstrip("/")[:200]


def get_circuit() -> Circuit:
    name = circuit_name()
    try:
        circuit, _ = Circuit.objects.get_or_create(name=name)  # tokens_at None: the bucket starts full
    except IntegrityError:  # created by another worker between our get and create
        circuit = Circuit.objects.get(name=name)
    return circuit


def allow_call(now: datetime | None = None) -> tuple[bool, float]:
    """May a delivery call the CRM now? Returns ``(allowed, wait)``, ``wait`` being the seconds after which to
    ask again when not allowed.

    Closed: yes. Open: only the one caller that wins the probe once ``retry_at`` has passed (the circuit goes
    half-open). Half-open: no (a probe is out; ask again shortly), unless that probe went stale."""
    now = now or timezone.now()
    circuit = get_circuit()
    if circuit.state == Circuit.State.CLOSED:
        return True, 0.0
    if circuit.retry_at and circuit.retry_at <= now:
        # A conditional update: exactly one worker moves it to half-open and becomes the probe.
        won = Circuit.objects.filter(pk=circuit.pk, state=circuit.state, retry_at=circuit.retry_at).update(
            state=Circuit.State.HALF_OPEN,
            retry_at=now + timedelta(seconds=bridge_settings.LEASE_SECONDS),  # a stale probe frees it again
        )
        if won == 1:
            return True, 0.0
    if circuit.state == Circuit.State.HALF_OPEN:
        return False, PROBE_POLL
    return False, max(1.0, (circuit.retry_at - now).total_seconds()) if circuit.retry_at else PROBE_POLL


def retry_at(now: datetime | None = None) -> datetime | None:
    """When an open circuit next lets a call through (None when closed)."""
    circuit = get_circuit()
    return None if circuit.state == Circuit.State.CLOSED else circuit.retry_at


#: How stale ``last_success_at`` may be on a closed circuit with no failures (it is shown as an age on the
#: dashboard): within it, a success changes nothing and writes nothing.
SUCCESS_RESOLUTION = 5.0


def record_success(now: datetime | None = None) -> None:
    """The CRM answered (even with a rejection): close the circuit and reset the failure count.

    One conditional ``UPDATE``: a success on a circuit that is already closed with no failures and a
    ``last_success_at`` younger than :data:`SUCCESS_RESOLUTION` matches no row, so the common case (a healthy
    CRM) costs no write. Any failure counted meanwhile by another worker makes the row match, so a success still
    resets the consecutive-failure count exactly as before."""
    now = now or timezone.now()
    fresh = now - timedelta(seconds=SUCCESS_RESOLUTION)
    Circuit.objects.filter(name=circuit_name()).exclude(
        state=Circuit.State.CLOSED,
        failures=0,
        opened_at__isnull=True,
        retry_at__isnull=True,
        last_success_at__gte=fresh,
    ).update(state=Circuit.State.CLOSED, failures=0, opened_at=None, retry_at=None, last_success_at=now)


def release_probe(now: datetime | None = None) -> None:
    """A probe ended without hearing from the CRM (rate-limited, or a bug of ours): let the next caller probe
    now instead of waiting for the stale-probe timeout."""
    Circuit.objects.filter(name=circuit_name(), state=Circuit.State.HALF_OPEN).update(
        state=Circuit.State.OPEN, retry_at=now or timezone.now()
    )


def record_failure(error: str, now: datetime | None = None) -> bool:
    """Count one retryable failure; returns True when this opened (or re-opened) the circuit."""
    now = now or timezone.now()
    circuit = get_circuit()
    with transaction.atomic():
        Circuit.objects.filter(pk=circuit.pk).update(
            failures=F("failures") + 1, last_error=storable.text(error), last_error_at=now
        )
        circuit.refresh_from_db()
        trip = circuit.state == Circuit.State.HALF_OPEN or (
            circuit.state == Circuit.State.CLOSED and circuit.failures >= bridge_settings.CIRCUIT_FAIL_MAX
        )
        if not trip:
            return False
        # Each failed probe doubles the wait, up to MAX_OPEN_WAIT.
        opened_for = (now - circuit.opened_at).total_seconds() if circuit.opened_at else 0.0
        wait = min(MAX_OPEN_WAIT, max(bridge_settings.CIRCUIT_RESET_TIMEOUT, opened_for))
        Circuit.objects.filter(pk=circuit.pk).update(
            state=Circuit.State.OPEN,
            opened_at=circuit.opened_at or now,
            retry_at=now + timedelta(seconds=wait),
        )
    return True


def take_token(priority: Literal["high", "low"] = "high", now: datetime | None = None) -> float:
    """Take one call from the shared bucket. Returns 0.0 when taken, else the seconds to wait before asking
    again (nothing taken). ``CALLS_PER_SECOND`` <= 0 disables the ceiling."""
    taken, wait = reserve_tokens(1, priority=priority, now=now)
    return 0.0 if taken else wait


def reserve_tokens(
    n: int, *, priority: Literal["high", "low"] = "high", max_wait: float = 0.0, now: datetime | None = None
) -> tuple[bool, float]:
    """Take ``n`` calls from the shared bucket, ahead of time if need be. Returns ``(True, wait)`` when they are
    taken: the caller may start its calls ``wait`` seconds from now (0.0: at once), and nobody else can take
    them meanwhile. Returns ``(False, wait)`` when that would mean waiting longer than ``max_wait``: nothing is
    taken; ``wait`` is when ``n`` calls would be free.

    A reservation runs the bucket into debt (``tokens`` below zero); later callers then wait for the refill in
    the order they came, so the ceiling holds: at most a second's worth of calls at once, then
    ``CALLS_PER_SECOND``. Low priority never reserves (its ``max_wait`` is ignored) and needs the bucket above
    ``1 - HIT_FLUSH_SHARE`` full, debt included: a waiting lead goes before a hit flush. One locked read and at
    most one write, whatever ``n``: a flow takes its calls in one go."""
    rate = float(bridge_settings.CALLS_PER_SECOND)
    if rate <= 0:
        return True, 0.0
    now = now or timezone.now()
    capacity = max(rate, 1.0)
    floor = 0.0 if priority == "high" else capacity * (1.0 - float(bridge_settings.HIT_FLUSH_SHARE))
    if priority != "high":
        max_wait = 0.0
    for _ in range(2):
        with transaction.atomic():
            # select_for_update serialises this on PostgreSQL; SQLite runs IMMEDIATE transactions (settings),
            # which take the write lock up front and serialise it there.
            circuit = Circuit.objects.select_for_update().filter(name=circuit_name()).first()
            if circuit is not None:
                elapsed = max(0.0, (now - circuit.tokens_at).total_seconds()) if circuit.tokens_at else capacity / rate
                tokens = min(capacity, circuit.tokens + elapsed * rate)
                wait = max(0.0, (floor + n - tokens) / rate)
                if wait > max_wait:
                    return False, wait  # nothing written: the refill is computed from tokens_at next time
                Circuit.objects.filter(pk=circuit.pk).update(tokens=tokens - n, tokens_at=now)
                return True, wait
        get_circuit()  # no row yet: create it (outside the transaction: a lost create race raises there)
    raise RuntimeError("the circuit row vanished")  # pragma: no cover (deleted between create and read)
