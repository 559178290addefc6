"""The outbox state machine: one sender per row, leases, and the sweep that makes lost messages harmless."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm_bridge.delivery import outbox
from crm_bridge.models import Submission

S = Submission.Status
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.CRM_BRIDGE = {
        "BASE_URL": "http://crm.invalid/WebApi/Handler/1.0/CRM/",
        "TOKEN": "t",
        "LEASE_SECONDS": 60.0,
        "REENQUEUE_AFTER": 120.0,
        "SWEEP_BATCH": 10,
    }


def test_claim_is_exclusive(make_submission):
    sub = make_submission()
    first = outbox.claim(sub.pk)
    second = outbox.claim(sub.pk)
    assert first is not None and second is None
    sub.refresh_from_db()
    assert (sub.status, sub.attempts) == (S.SENDING, 1)
    assert sub.lease_expires_at > timezone.now() + timedelta(seconds=55)


@pytest.mark.parametrize("status", [S.SENDING, S.DELIVERED, S.DUPLICATE, S.FAILED, S.SPAM, S.CANCELLED])
def test_only_queued_rows_are_claimed(make_submission, status):
    sub = make_submission(status=status)
    assert outbox.claim(sub.pk) is None
    sub.refresh_from_db()
    assert sub.status == status and sub.attempts == 0


def test_not_due_and_paused_site_rows_are_not_claimed(make_submission, site):
    later = make_submission(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert outbox.claim(later.pk) is None
    site.paused_at = timezone.now()
    site.save()
    now_due = make_submission()
    assert outbox.claim(now_due.pk) is None
    site.paused_at = None
    site.save()
    assert outbox.claim(now_due.pk) is not None


def test_retry_later_spends_or_returns_the_attempt(make_submission):
    sub = make_submission()
    held = outbox.claim(sub.pk)
    assert outbox.retry_later(held, delay=30, error="boom")
    sub.refresh_from_db()
    assert (sub.status, sub.attempts, sub.last_error) == (S.QUEUED, 1, "boom")
    assert sub.next_attempt_at > timezone.now() + timedelta(seconds=25)

    sub.next_attempt_at = None
    sub.save()
    held = outbox.claim(sub.pk)
    assert outbox.retry_later(held, delay=5, spend_attempt=False)
    sub.refresh_from_db()
    assert (sub.status, sub.attempts) == (S.QUEUED, 1)


def test_finish_after_losing_the_lease_changes_nothing(make_submission):
    sub = make_submission()
    held = outbox.claim(sub.pk)
    Submission.objects.filter(pk=sub.pk).update(status=S.QUEUED)  # the sweep took it back
    assert outbox.finish(held, S.DELIVERED) is False
    sub.refresh_from_db()
    assert sub.status == S.QUEUED


def test_expired_lease_goes_back_to_the_sweep(make_submission):
    sub = make_submission()
    outbox.claim(sub.pk)
    assert outbox.recover_expired_leases(timezone.now()) == 0
    assert outbox.recover_expired_leases(timezone.now() + timedelta(seconds=61)) == 1
    sub.refresh_from_db()
    assert (sub.status, sub.attempts) == (S.QUEUED, 1)  # the attempt stays spent: bounds a crash loop


def test_sweep_resends_only_lost_and_newly_due_rows(make_submission):
    now = timezone.now()
    fresh = make_submission()  # intake just enqueued it
    lost = make_submission(enqueued_at=now - timedelta(seconds=300))  # its broker message never arrived
    retry_due = make_submission(enqueued_at=now - timedelta(seconds=50), next_attempt_at=now - timedelta(seconds=1))
    retry_later = make_submission(enqueued_at=now - timedelta(seconds=50), next_attempt_at=now + timedelta(hours=1))
    make_submission(status=S.SPAM, enqueued_at=now - timedelta(hours=1))
    make_submission(status=S.DELIVERED, enqueued_at=now - timedelta(hours=1))
    sent: list[str] = []
    assert outbox.sweep(enqueue=sent.append, now=now) == 2
    assert sorted(sent) == sorted([str(lost.pk), str(retry_due.pk)])
    # Handed over again only after REENQUEUE_AFTER more seconds.
    assert outbox.sweep(enqueue=sent.append, now=now + timedelta(seconds=60)) == 0
    assert outbox.sweep(enqueue=sent.append, now=now + timedelta(seconds=121)) == 3
    assert str(fresh.pk) in sent[2:] and str(retry_later.pk) not in sent


def test_sweep_batch_and_limit(make_submission):
    old = timezone.now() - timedelta(hours=1)
    for _ in range(15):
        make_submission(enqueued_at=old)
    sent: list[str] = []
    assert outbox.sweep(enqueue=sent.append, limit=0) == 0
    assert outbox.sweep(enqueue=sent.append, limit=1) == 1
    assert outbox.sweep(enqueue=sent.append) == 10  # SWEEP_BATCH
    assert len(set(sent)) == 11


def test_a_worker_dead_mid_write_is_counted_as_a_possible_duplicate(make_submission):
    quiet, mid_write = make_submission(), make_submission()
    for sub in (quiet, mid_write):
        outbox.claim(sub.pk)
    Submission.objects.filter(pk=mid_write.pk).update(write_in_flight=True)
    assert outbox.recover_expired_leases(timezone.now() + timedelta(seconds=61)) == 2
    rows = {s.pk: s for s in Submission.objects.all()}
    assert (rows[quiet.pk].ambiguous_sends, rows[mid_write.pk].ambiguous_sends) == (0, 1)
    assert not rows[mid_write.pk].write_in_flight
    assert {r.status for r in rows.values()} == {S.QUEUED}


def test_staff_retry_cancel_and_release_change_exactly_their_rows(make_submission):
    from crm_bridge import delivery

    failed = make_submission(status=S.FAILED, attempts=7)
    queued = make_submission(next_attempt_at=timezone.now() + timedelta(hours=3))
    spam = make_submission(status=S.SPAM, spam_reason="too_fast")
    done = make_submission(status=S.DELIVERED)
    sent: list[str] = []
    assert delivery.retry_now([failed.pk, queued.pk, spam.pk, done.pk], enqueue=sent.append) == 2
    assert sorted(sent) == sorted([str(failed.pk), str(queued.pk)])
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (S.QUEUED, 0)
    assert delivery.release_spam([spam.pk, done.pk], enqueue=sent.append) == 1
    spam.refresh_from_db()
    assert (spam.status, spam.spam_reason) == (S.QUEUED, "")
    assert delivery.cancel([failed.pk, done.pk]) == 1
    assert Submission.objects.get(pk=done.pk).status == S.DELIVERED
    assert Submission.objects.get(pk=failed.pk).status == S.CANCELLED
