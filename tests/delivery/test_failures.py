"""Each failure class, provoked by the sandbox's faults over real HTTP, and what delivery does about it:
retry with back-off / pause the site / fail with the reason / open the circuit."""

import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from crm_bridge import delivery, signals
from crm_bridge.delivery import circuit
from crm_bridge.models import Circuit, Submission

from .conftest import wait_for

S = Submission.Status
pytestmark = pytest.mark.django_db(transaction=True)


def _due_again(sub):
    Submission.objects.filter(pk=sub.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("fault", "options", "ambiguous"),
    [
        ("down", {}, 0),  # 503: the CRM says it did nothing
        ("error", {"error_code": 10001}, 0),  # 500 with an error envelope
        ("html", {}, 1),  # an HTML error page: the server may have crashed after storing it
        ("garbage", {}, 1),  # HTTP 200 we cannot read: it may have stored the message
        ("truncated", {}, 1),
        ("hang", {"delay": 2}, 1),  # a read timeout after sending
    ],
)
def test_retryable_faults_keep_the_row_queued_with_back_off(
    sandbox_crm, make_submission, settings, fault, options, ambiguous
):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "READ_TIMEOUT": 0.5, "RETRY_BASE_DELAY": 60.0}
    sandbox_crm.inject_fault(fault, endpoint="ECommerce/AddMessageBoard", **options)
    sub = make_submission("message")
    started = time.monotonic()
    assert delivery.deliver(sub.pk) == S.QUEUED
    assert time.monotonic() - started < 2.5  # the read timeout bounded the hang
    sub.refresh_from_db()
    assert (sub.status, sub.attempts, sub.ambiguous_sends) == (S.QUEUED, 1, ambiguous)
    due_in = (sub.next_attempt_at - timezone.now()).total_seconds()
    # Back-off (30-60 s for the first attempt); after an ambiguous send, no sooner than AMBIGUOUS_SETTLE (120 s).
    assert (118 <= due_in <= 121) if ambiguous else (29 <= due_in <= 61), due_in
    assert sub.last_error
    assert circuit.get_circuit().failures == 1
    (attempt,) = sub.attempt_log.all()
    assert attempt.outcome == ("ambiguous" if ambiguous else "retry")
    assert "sandbox-token" not in sub.last_error and "sandbox-site-key" not in sub.last_error
    if fault == "hang":
        # The sandbox's thread is still asleep in the request we gave up on; it then stores the message (the
        # ambiguity is real). Wait for it, or it would land on the board of whichever test runs next.
        wait_for(lambda: sandbox_crm.messages(), timeout=30)
        assert [m["content"] for m in sandbox_crm.messages()] == [sub.payload["content"]]


def test_connection_refused_is_retried_and_never_ambiguous(sandbox_crm, make_submission, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "BASE_URL": f"http://127.0.0.1:{port}/WebApi/Handler/1.0/CRM/"}
    sub = make_submission("message")
    assert delivery.deliver(sub.pk) == S.QUEUED
    sub.refresh_from_db()
    assert (sub.attempts, sub.ambiguous_sends) == (1, 0)
    assert sub.attempt_log.get().outcome == "retry"


def test_refused_token_pauses_leads_only_and_spends_no_attempt(sandbox_crm, make_submission, site, caplog):
    sandbox_crm.set_credentials(tokens=[])
    sub = make_submission("lead")
    other = make_submission("message")
    assert delivery.deliver(sub.pk) == S.QUEUED
    site.refresh_from_db()
    sub.refresh_from_db()
    state = circuit.get_circuit()
    # The reason is the CRM's own error, no words of ours (pauses.describe words it for staff).
    assert state.token_paused_at is not None and "error_code=21301" in state.token_paused_reason
    assert "refused our" not in state.token_paused_reason
    assert site.paused_at is None  # the siteKey was fine
    assert (sub.status, sub.attempts) == (S.QUEUED, 0)
    assert "sandbox-token" not in state.token_paused_reason
    assert [r.levelname for r in caplog.records if "paused" in r.getMessage()] == ["ERROR"]
    # Messages authenticate with the siteKey: they still go.
    assert delivery.deliver(other.pk) == S.DELIVERED
    # Staff fix the credential and resume: the waiting lead goes.
    sandbox_crm.reset()
    enqueued: list[str] = []
    assert delivery.resume_site(site, enqueue=enqueued.append) == 1
    assert enqueued == [str(sub.pk)]
    assert delivery.deliver(sub.pk) == S.DELIVERED


def test_refused_site_key_pauses_the_sites_messages(sandbox_crm, make_submission, site):
    sandbox_crm.set_credentials(site_keys=[])
    sub = make_submission("message")
    assert delivery.deliver(sub.pk) == S.QUEUED
    site.refresh_from_db()
    assert site.paused_at is not None and "error_code=21302" in site.paused_reason
    assert "refused our" not in site.paused_reason
    assert "sandbox-site-key" not in site.paused_reason
    assert Submission.objects.get(pk=sub.pk).attempts == 0
    assert circuit.get_circuit().token_paused_at is None


@pytest.mark.parametrize(("fault", "options", "reason"), [
    ("reject", {}, "value=false"),
    ("error", {"error_code": 10017}, "error_code=10017"),
])  # fmt: skip
def test_definite_rejection_fails_with_the_reason(sandbox_crm, make_submission, fault, options, reason):
    sandbox_crm.inject_fault(fault, endpoint="ECommerce/AddMessageBoard", **options)
    sub = make_submission("message")
    failed = []
    signals.submission_failed.connect(lambda submission, **kw: failed.append(submission.pk), weak=False)
    try:
        assert delivery.deliver(sub.pk) == S.FAILED
    finally:
        signals.submission_failed.receivers.clear()
    sub.refresh_from_db()
    assert (sub.status, sub.attempts) == (S.FAILED, 1)
    assert reason in sub.last_error
    assert failed == [sub.pk]
    assert circuit.get_circuit().failures == 0  # a rejection proves the CRM is up


def test_gives_up_after_max_attempts(sandbox_crm, make_submission, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "MAX_ATTEMPTS": 2, "CIRCUIT_FAIL_MAX": 100}
    sandbox_crm.inject_fault("down", endpoint="ECommerce/*")
    sub = make_submission("message")
    assert delivery.deliver(sub.pk) == S.QUEUED
    _due_again(sub)
    assert delivery.deliver(sub.pk) == S.FAILED
    sub.refresh_from_db()
    assert sub.last_error.startswith("gave up after 2 attempts")
    assert sub.finished_at is not None


def test_circuit_opens_stops_calling_and_closes_after_a_probe(sandbox_crm, make_submission, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "CIRCUIT_FAIL_MAX": 2, "CIRCUIT_RESET_TIMEOUT": 1.0}
    sandbox_crm.inject_fault("down")
    subs = [make_submission("message") for _ in range(4)]
    assert [delivery.deliver(s.pk) for s in subs[:2]] == [S.QUEUED, S.QUEUED]
    state = circuit.get_circuit()
    assert (state.state, state.failures) == (Circuit.State.OPEN, 2)
    # Open: the next rows are not sent and keep their attempt budget.
    assert delivery.deliver(subs[2].pk) == S.QUEUED
    assert sandbox_crm.calls() == 2
    subs[2].refresh_from_db()
    assert subs[2].attempts == 0
    assert subs[2].next_attempt_at >= state.retry_at
    # The CRM recovers; after the reset timeout one probe goes through and closes the circuit.
    sandbox_crm.clear_faults()
    later = state.retry_at + timedelta(seconds=0.1)  # the reset timeout has passed, on the clock deliver is given
    assert delivery.deliver(subs[3].pk, now=later) == S.DELIVERED
    assert circuit.get_circuit().state == Circuit.State.CLOSED
    assert delivery.deliver(subs[2].pk, now=subs[2].next_attempt_at) == S.DELIVERED


def test_a_failed_probe_reopens_for_longer(sandbox_crm, make_submission, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "CIRCUIT_FAIL_MAX": 1, "CIRCUIT_RESET_TIMEOUT": 1.0}
    sandbox_crm.inject_fault("down")
    first, probe = make_submission("message"), make_submission("message")
    delivery.deliver(first.pk)
    opened = circuit.get_circuit()
    later = opened.retry_at + timedelta(seconds=0.1)
    assert delivery.deliver(probe.pk, now=later) == S.QUEUED  # it was the probe, and it failed
    reopened = circuit.get_circuit()
    assert reopened.state == Circuit.State.OPEN
    assert reopened.opened_at == opened.opened_at
    # Re-opened for at least the reset timeout again, counted from the probe's clock.
    assert (reopened.retry_at - later).total_seconds() >= 1.0
    assert sandbox_crm.calls() == 2


def test_rate_bucket_keeps_priority_headroom(db, settings):
    settings.CRM_BRIDGE = {
        "BASE_URL": "http://crm.invalid/WebApi/Handler/1.0/CRM/", "TOKEN": "t",
        "CALLS_PER_SECOND": 4.0, "HIT_FLUSH_SHARE": 0.5,
    }  # fmt: skip
    t0 = timezone.now()
    # A full bucket holds 4 calls; low priority may only use the top half.
    assert [circuit.take_token("low", now=t0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.25)]
    assert [circuit.take_token("high", now=t0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.25)]
    # A quarter second later one call's worth has refilled.
    assert circuit.take_token("high", now=t0 + timedelta(seconds=0.25)) == 0.0
    assert circuit.take_token("high", now=t0 + timedelta(seconds=0.25)) > 0


def test_a_probe_that_never_reached_the_crm_frees_the_circuit_at_once(sandbox_crm, make_submission, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "CIRCUIT_FAIL_MAX": 1, "CIRCUIT_RESET_TIMEOUT": 1.0}
    sandbox_crm.inject_fault("down", count=1)
    first, probe, after = (make_submission("message") for _ in range(3))
    delivery.deliver(first.pk)
    later = circuit.get_circuit().retry_at + timedelta(seconds=0.1)
    # The probe is rate-limited before it calls: no answer either way, so the next caller may probe right away.
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "CALLS_PER_SECOND": 0.01}
    circuit.get_circuit()
    Circuit.objects.update(tokens=0.0, tokens_at=timezone.now())
    assert delivery.deliver(probe.pk, now=later) == S.QUEUED
    assert circuit.get_circuit().state == Circuit.State.OPEN
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "CALLS_PER_SECOND": 0}
    assert delivery.deliver(after.pk, now=later) == S.DELIVERED
    assert circuit.get_circuit().state == Circuit.State.CLOSED
