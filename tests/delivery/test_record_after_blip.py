"""What RECORD_PATIENCE (crm_bridge/delivery/worker.py) retries, and what it relies on.

1. A commit whose answer was lost. A connection that drops after the server applied an autocommit ``UPDATE`` but
   before its reply reached us raises ``OperationalError`` although the row *is* final. The retry then finds the
   row no longer ``sending``, logs that another worker took over (none did), and returns; the final signal —
   which ``outbox.finish`` sends only after its own successful transition — is never sent by either attempt, so
   the dead-letter alarm (``submission_failed``) or an integrator's ``submission_delivered`` receiver is skipped.
   The fault is injected at the database boundary: the real ``UPDATE`` runs against the real database, then the
   reply is "lost".
2. The only fence between two workers is ``status = 'sending'``: ``outbox._transition`` does not compare the
   lease it claimed with the row's, so a worker whose lease has passed to another still records over it. The
   patience loop bounds when its *last attempt starts* (lease less ``LEASE_MARGIN``), not when its ``UPDATE``
   lands (a reconnect has no ``connect_timeout`` in config/settings.py); in the default configuration it is the
   task's ``time_limit`` (150 s) below ``LEASE_SECONDS`` (180 s) that fences, and nothing checks that pairing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from crm_bridge import delivery, signals
from crm_bridge.conf import bridge_settings
from crm_bridge.delivery import outbox
from crm_bridge.models import Submission

S = Submission.Status


@pytest.mark.django_db(transaction=True)  # autocommit, as a worker runs: the UPDATE commits when it executes
def test_a_commit_whose_answer_was_lost_still_sends_its_signal_once(sandbox_crm, make_submission, caplog):
    sub = make_submission("message")
    heard: list[str] = []

    def on_delivered(sender, submission, **kwargs):
        heard.append(str(submission.pk))

    signals.submission_delivered.connect(on_delivered, dispatch_uid="test-lost-reply")
    lost: list[str] = []

    def reply_lost_after_commit(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        finishing = sql.startswith('UPDATE "crm_bridge_submission"') and S.DELIVERED in (params or ())
        if finishing and not lost:
            lost.append(sql)
            raise OperationalError("server closed the connection unexpectedly")  # applied, answer lost
        return result

    try:
        with (
            caplog.at_level(logging.WARNING, "crm_bridge.delivery"),
            connection.execute_wrapper(reply_lost_after_commit),
        ):
            status = delivery.deliver(sub.pk)
    finally:
        signals.submission_delivered.disconnect(dispatch_uid="test-lost-reply")
    assert len(lost) == 1  # the fault did happen
    sub.refresh_from_db()
    assert sub.status == S.DELIVERED  # the first attempt's UPDATE did commit
    assert len(sandbox_crm.messages()) == 1
    assert heard == [str(sub.pk)]  # the delivered signal, once (today: never)
    assert "another worker took over" not in caplog.text  # no other worker existed (today: said)
    assert status == S.DELIVERED  # what deliver() returns (today: "sending", the stale in-memory status)


@pytest.mark.django_db
def test_a_worker_whose_lease_passed_to_another_does_not_record_over_it(make_submission):
    sub = make_submission("message")
    t0 = timezone.now()
    mine = outbox.claim(sub.pk, t0)
    assert mine is not None
    # Our lease runs out (the database was away longer than the lease); the sweep recovers the row and another
    # worker claims it and is sending it now.
    later = t0 + timedelta(seconds=float(bridge_settings.LEASE_SECONDS) + 1)
    assert outbox.recover_expired_leases(later) == 1
    theirs = outbox.claim(sub.pk, later)
    assert theirs is not None
    # Our late record must not land on their claim.
    assert outbox.finish(mine, S.DELIVERED, reply={"late": True}, now=later) is False
    sub.refresh_from_db()
    assert (sub.status, sub.lease_expires_at) == (S.SENDING, theirs.lease_expires_at)
