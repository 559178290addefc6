"""A CRM reply delivery cannot store as it came (a NUL byte, a gzip bomb's zeros, a lone surrogate) is still
recorded as an attempt, counted by the circuit, and an ambiguous write still waits ``AMBIGUOUS_SETTLE``.

On PostgreSQL (the `postgres` pass of `make test` / .ci/run) a NUL in a ``text`` or ``jsonb`` value is refused with
``UntranslatableCharacter``; a lone surrogate cannot be encoded on either database. The tests run on both."""

from __future__ import annotations

import gzip
import os
import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from crm_bridge import delivery, testing
from crm_bridge.delivery import circuit, storable
from crm_bridge.models import Circuit, DeliveryAttempt, HitCounter, Submission
from tests.crm.fake_server import FakeCRM, Scripted

S = Submission.Status
ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
pytestmark = pytest.mark.django_db(transaction=True)

NUL_PAGE = "<html><body>Server Error\x00\x00 in '/'</body></html>"
REPLIES = {
    # HTTP 200 we cannot read, a NUL inside: CRMBadReply, the board may have stored it.
    "nul_garbage": (Scripted(body=b'{"value": tr\x00ue}', headers={"Content-Type": "application/json"}), True),
    # A bare 500 page with a NUL: possibly stored (ASP.NET can crash after the handler committed).
    "nul_5xx_page": (Scripted(status=500, body=NUL_PAGE, headers={"Content-Type": "text/html; charset=utf-8"}), True),
    # 9 MiB of inflated zeros (9 KiB on the wire): the client stops at max_reply_bytes, the excerpt is all NUL.
    "gzip_bomb": (
        Scripted(
            body=gzip.compress(b"\x00" * (9 * 1024 * 1024)),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        ),
        True,
    ),
    # An error envelope whose message holds a lone surrogate (unencodable on SQLite and PostgreSQL alike);
    # a numbered error says the CRM did nothing: retry, not ambiguous.
    "surrogate_error": (
        Scripted(
            body=b'{"error_code": 10001, "error": "bad \\ud800 \\u0000 thing"}',
            headers={"Content-Type": "application/json"},
        ),
        False,
    ),
}


@pytest.fixture
def fake_crm(settings):
    fake = FakeCRM()
    settings.CRM_BRIDGE = testing.sandbox_settings(fake.base_url, CIRCUIT_FAIL_MAX=3, AMBIGUOUS_SETTLE=120.0)
    yield fake
    fake.close()


def _clean(value) -> bool:
    """No NUL and no surrogate in any string of ``value`` (keys and nested values included)."""
    if isinstance(value, dict):
        return all(_clean(k) and _clean(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_clean(v) for v in value)
    return not (isinstance(value, str) and re.search("[\x00\ud800-\udfff]", value))


def test_runs_on_the_database_the_environment_names():
    # The PostgreSQL pass of `make test` (DATABASE_URL=postgres://…) must really run these tests on PostgreSQL.
    assert ON_POSTGRES is os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(REPLIES))
def test_an_unstorable_reply_is_recorded_counted_and_settled(fake_crm, site, make_submission, name):
    scripted, ambiguous = REPLIES[name]
    fake_crm.reply(scripted)
    sub = make_submission("message")
    now = timezone.now()
    assert delivery.deliver(sub.pk, now=now) == S.QUEUED
    sub.refresh_from_db()
    assert (sub.status, sub.attempts, sub.ambiguous_sends, sub.write_in_flight) == (S.QUEUED, 1, int(ambiguous), False)
    assert len(fake_crm.requests) == 1
    (attempt,) = DeliveryAttempt.objects.filter(submission=sub)
    assert attempt.outcome == ("ambiguous" if ambiguous else "retry")
    assert _clean(attempt.reply) and _clean(attempt.error) and _clean(sub.last_error)
    assert attempt.error and sub.last_error.startswith(attempt.error[:40])
    assert "unexpected error" not in sub.last_error
    state = circuit.get_circuit()
    assert (state.failures, _clean(state.last_error)) == (1, True)
    due_in = (sub.next_attempt_at - now).total_seconds()
    assert (120 <= due_in <= 121) if ambiguous else (15 <= due_in <= 30.0), due_in


@pytest.mark.postgres
def test_poisoned_replies_open_the_circuit_after_fail_max(fake_crm, site, make_submission):
    fake_crm.reply(REPLIES["nul_5xx_page"][0])
    subs = [make_submission("message") for _ in range(5)]
    now = timezone.now()
    assert [delivery.deliver(s.pk, now=now) for s in subs] == [S.QUEUED] * 5
    state = circuit.get_circuit()
    assert (state.state, state.failures) == (Circuit.State.OPEN, 3)
    assert len(fake_crm.requests) == 3  # the open circuit stopped the calls
    assert DeliveryAttempt.objects.count() == 3
    assert sorted(Submission.objects.values_list("attempts", flat=True)) == [0, 0, 1, 1, 1]
    assert sorted(Submission.objects.values_list("ambiguous_sends", flat=True)) == [0, 0, 1, 1, 1]


@pytest.mark.postgres
def test_a_poisoned_hit_flush_is_recorded(fake_crm, site):
    fake_crm.reply(REPLIES["nul_5xx_page"][0])
    counter = HitCounter.objects.create(site=site, pkid=7, pending=3)
    assert delivery.flush_hits() == 0
    counter.refresh_from_db()
    assert (counter.pending, counter.sent, counter.flushing_until) == (3, 0, None)
    assert counter.last_error and _clean(counter.last_error)
    (attempt,) = DeliveryAttempt.objects.all()
    assert (attempt.endpoint, attempt.outcome, _clean(attempt.reply)) == ("ECommerce/UpdateBaseInfoHit", "retry", True)
    assert circuit.get_circuit().failures == 1


@pytest.mark.postgres
def test_storable_values_round_trip_through_the_database(site, make_submission):
    nasty = {"a\x00b": ["\x00" * 3000, "\ud83d", float("nan"), {"deep": [[[[[[[[[["x"]]]]]]]]]]}], "n": 1.5}
    cleaned = storable.json_value(nasty)
    assert cleaned["a\ufffdb"][0] == "\ufffd" * storable.TEXT_CHARS
    assert cleaned["a\ufffdb"][1:3] == ["\ufffd", "nan"]
    sub = make_submission("message")
    DeliveryAttempt.objects.create(
        submission=sub, endpoint="x", outcome="retry", reply=cleaned, error=storable.text(nasty)
    )
    stored = DeliveryAttempt.objects.get(submission=sub)
    assert stored.reply == cleaned and _clean(stored.error)


def test_a_database_refusing_the_attempt_still_counts_the_failure(fake_crm, site, make_submission, monkeypatch):
    """Whatever the database refuses in the attempt log, the CRM's failure is still judged as one."""
    from django.db import DataError

    def refuse(*args, **kwargs):
        raise DataError("refused")

    monkeypatch.setattr(DeliveryAttempt.objects, "create", refuse)
    fake_crm.reply(REPLIES["nul_5xx_page"][0])
    sub = make_submission("message")
    now = timezone.now()
    assert delivery.deliver(sub.pk, now=now) == S.QUEUED
    sub.refresh_from_db()
    assert (sub.attempts, sub.ambiguous_sends) == (1, 1)
    assert circuit.get_circuit().failures == 1
    assert sub.next_attempt_at >= now + timedelta(seconds=120)
    assert "unexpected" not in sub.last_error and "DataError" not in sub.last_error
