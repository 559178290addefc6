"""A worker that finds work keeps taking due rows from the outbox (``delivery.deliver_and_drain``), and a lead
waits for its rate slot instead of being handed back mid-flow (``calls.make_call``'s flow reservation)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from crm_bridge import broker, delivery
from crm_bridge.delivery import calls as delivery_calls
from crm_bridge.models import Circuit, DeliveryAttempt, Submission

from .conftest import SANDBOX_PATH, wait_for
from .processes import celery_processes
from .test_concurrency import race

S = Submission.Status
CHECKS = ("Customer/NameIsRepeat", "Customer/TelIsRepeat")


class WorkerDied(BaseException):
    """The worker process killed at this point: nothing of ours catches it."""


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_one_broker_message_drains_the_whole_backlog_each_row_once(site, make_submission, sandbox_crm, live_server):
    """40 rows written straight to the outbox (never published), no beat (no sweep), ONE broker message: the
    real worker delivers every row, each exactly once, counted in the sandbox."""
    site.post_duplicates_to_board = False
    site.save()
    old = timezone.now() - timedelta(minutes=1)  # due and not handed over recently: nothing else would send them
    messages = [make_submission("message", enqueued_at=old) for _ in range(30)]
    leads = [make_submission("lead", enqueued_at=old) for _ in range(10)]
    options = {"CALLS_PER_SECOND": 0, "SWEEP_INTERVAL": 3600.0, "READ_TIMEOUT": 5.0}
    with celery_processes(crm_base_url=live_server.url + SANDBOX_PATH, options=options, beat=False) as procs:
        assert broker.enqueue_delivery(str(messages[0].pk)) is True
        wait_for(lambda: Submission.objects.filter(status=S.DELIVERED).count() == 40, timeout=90, interval=0.2)
        # With no beat (no sweep) and one message, only a drain can deliver the other 39 rows: the count is the
        # proof. (The worker's "drained N more" log line is not waited for: its output reader lags under load.)
        assert procs["worker"].proc.poll() is None
    assert Counter(m["content"] for m in sandbox_crm.messages()) == Counter(m.payload["content"] for m in messages)
    assert sandbox_crm.calls("ECommerce/AddMessageBoard") == 30
    names = Counter(c["sName"] for c in sandbox_crm.customers())
    assert {lead.payload["company"]: names[lead.payload["company"]] for lead in leads} == {
        lead.payload["company"]: 1 for lead in leads
    }
    assert sandbox_crm.calls("Customer/Save") == 10
    assert sorted(Submission.objects.values_list("attempts", flat=True)) == [1] * 40


@pytest.mark.django_db(transaction=True)
def test_a_drain_takes_rows_one_claim_at_a_time_so_a_death_holds_only_the_row_in_hand(sandbox_crm, make_submission):
    """Killed at the 4th row's call: rows 1–3 delivered, the 4th sending (its lease will expire and the sweep
    recover it), rows 5–8 untouched (queued, no attempt spent, no lease)."""
    now = timezone.now()
    subs = [make_submission("message") for _ in range(8)]
    for i, sub in enumerate(subs):  # distinct ages: claim_next takes the oldest due row first
        Submission.objects.filter(pk=sub.pk).update(created_at=now - timedelta(seconds=60 - i))
    real_make_call = delivery_calls.make_call
    made = 0

    def dying_make_call(s: Submission, **kwargs: Any):
        call = real_make_call(s, **kwargs)

        def dying_call(path: str, params: dict[str, Any]) -> Any:
            nonlocal made
            made += 1
            if made == 4:
                raise WorkerDied
            return call(path, params)

        return dying_call

    with mock.patch.object(delivery_calls, "make_call", dying_make_call), pytest.raises(WorkerDied):
        delivery.deliver_and_drain(subs[0].pk)
    rows = {s.pk: s for s in Submission.objects.all()}
    states = [(rows[s.pk].status, rows[s.pk].attempts, rows[s.pk].lease_expires_at is not None) for s in subs]
    assert states == [(S.DELIVERED, 1, False)] * 3 + [(S.SENDING, 1, True)] + [(S.QUEUED, 0, False)] * 4
    assert sandbox_crm.calls("ECommerce/AddMessageBoard") == 3
    # The lease runs out; the sweep puts the row back, and the next drain delivers it and the rest, each once.
    Submission.objects.filter(status=S.SENDING).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    delivery.sweep(enqueue=lambda pk: True)
    assert delivery.deliver_and_drain(subs[3].pk) == (S.DELIVERED, 4)
    assert Counter(m["content"] for m in sandbox_crm.messages()) == Counter(s.payload["content"] for s in subs)


@pytest.mark.django_db(transaction=True)
def test_an_open_circuit_stops_the_drain(sandbox_crm, make_submission, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "CIRCUIT_FAIL_MAX": 2}
    subs = [make_submission("message") for _ in range(6)]
    sandbox_crm.inject_fault("down")
    status, more = delivery.deliver_and_drain(subs[0].pk)
    # The first failure ends the drain (no answer from the CRM): the broker, the sweep and the circuit take over.
    assert (status, more) == (S.QUEUED, 0)
    assert sandbox_crm.calls() == 1
    sandbox_crm.clear_faults()
    Circuit.objects.update(state=Circuit.State.OPEN, retry_at=timezone.now() + timedelta(minutes=5))
    Submission.objects.update(next_attempt_at=None)
    assert delivery.deliver_and_drain(subs[1].pk) == (S.QUEUED, 0)  # not allowed to call: handed back unspent
    assert sandbox_crm.calls() == 1
    assert Submission.objects.filter(status=S.QUEUED).count() == 6


@pytest.mark.django_db(transaction=True)
def test_a_lead_waits_for_its_rate_slot_and_never_repeats_its_checks(sandbox_crm, make_submission, settings):
    """8 leads at once against a ceiling of 6 calls a second (24 calls: about 3 s of slots). Each lead reserves
    its three calls before the first, waits in-line for them, and is delivered at its first attempt: exactly 8
    NameIsRepeat, 8 TelIsRepeat and 8 Save requests reach the CRM (counted in its request log), and no call
    started before the ceiling allowed it."""
    rate = 6.0
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "CALLS_PER_SECOND": rate}
    leads = [make_submission("lead") for _ in range(8)]
    t0 = timezone.now()
    assert sorted(race(delivery.deliver, [s.pk for s in leads])) == [S.DELIVERED] * 8
    assert {path: sandbox_crm.calls(path) for path in (*CHECKS, "Customer/Save")} == {
        "Customer/NameIsRepeat": 8, "Customer/TelIsRepeat": 8, "Customer/Save": 8,
    }  # fmt: skip
    assert sandbox_crm.calls() == 24
    assert sorted(Submission.objects.values_list("attempts", flat=True)) == [1] * 8
    # A full bucket holds one second's worth (6 calls); after that one call per 1/6 s, whoever asks.
    starts = sorted(DeliveryAttempt.objects.values_list("started_at", flat=True))
    assert len(starts) == 24
    late = [i for i, t in enumerate(starts) if (t - t0).total_seconds() < (i + 1 - rate) / rate - 0.01]
    assert late == []


@pytest.mark.django_db
def test_a_flow_reserves_its_calls_in_one_take_and_waits_for_them(db, settings):
    settings.CRM_BRIDGE = {
        "BASE_URL": "http://crm.invalid/WebApi/Handler/1.0/CRM/", "TOKEN": "t", "CALLS_PER_SECOND": 4.0,
    }  # fmt: skip
    from crm_bridge.delivery import circuit

    t0 = timezone.now()
    assert circuit.reserve_tokens(3, max_wait=10.0, now=t0) == (True, 0.0)  # full bucket: 4 → 1
    # Two calls short: reserved ahead, due in half a second; the bucket is in debt by two.
    assert circuit.reserve_tokens(3, max_wait=10.0, now=t0) == (True, pytest.approx(0.5))
    # A hit flush (low priority) does not get ahead of the waiting lead, nor does a reservation past max_wait.
    assert circuit.take_token("low", now=t0) > 0
    taken, wait = circuit.reserve_tokens(3, max_wait=0.5, now=t0)
    assert (taken, wait) == (False, pytest.approx(1.25))  # 3 calls on top of the debt of 2, at 4 a second
    assert circuit.get_circuit().tokens == pytest.approx(-2.0)  # a refused reservation took nothing
