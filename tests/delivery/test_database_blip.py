"""The database lost right after the CRM answered (a PostgreSQL restart): the worker keeps the answer and
records it once the database is back, within the row's lease, instead of leaving a posted message to be posted
again (crm_bridge/delivery/worker.py, ``RECORD_PATIENCE``; the real restart: tests/chaos/test_postgres_restart.py).
"""

import pytest
from django.db import OperationalError

from crm_bridge import delivery
from crm_bridge.delivery import outbox
from crm_bridge.models import Submission

S = Submission.Status
# Transactional: the worker closes the broken connection, which Django forbids inside a test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def _finish_failing(monkeypatch, times: int) -> list[str]:
    """outbox.finish raises as with a lost server ``times`` times, then does its work."""
    real, failures = outbox.finish, []

    def finish(*args, **kwargs):
        if len(failures) < times:
            failures.append("lost")
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox, "finish", finish)
    return failures


def test_an_answer_the_database_missed_is_recorded_when_it_is_back(sandbox_crm, make_submission, monkeypatch):
    sub = make_submission("message")
    failures = _finish_failing(monkeypatch, 2)
    assert delivery.deliver(sub.pk) == S.DELIVERED
    assert failures == ["lost", "lost"]
    sub.refresh_from_db()
    assert (sub.status, sub.attempts, sub.ambiguous_sends, sub.write_in_flight) == (S.DELIVERED, 1, 0, False)
    assert [m["content"] for m in sandbox_crm.messages()] == [sub.payload["content"]]  # posted once


def test_past_the_lease_it_gives_up_and_leaves_the_row_to_the_lease(
    sandbox_crm, make_submission, monkeypatch, settings
):
    # A lease of 1.5 s leaves 0.5 s of patience: no other worker may take the row while this one still waits.
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "LEASE_SECONDS": 1.5}
    sub = make_submission("message")
    failures = _finish_failing(monkeypatch, 1000)
    with pytest.raises(OperationalError):
        delivery.deliver(sub.pk)
    assert 1 <= len(failures) <= 3
    sub.refresh_from_db()
    # Held, flagged mid-write: the lease's expiry hands it back, its repeat counted as possible (ambiguous_sends).
    assert (sub.status, sub.write_in_flight) == (S.SENDING, True)
    assert len(sandbox_crm.messages()) == 1
