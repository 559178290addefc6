"""Races between workers, with real threads and one database connection each (as separate processes have):
a row is claimed by exactly one of them, and two leads for one person create one customer."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import close_old_connections, connection

from crm_bridge import delivery
from crm_bridge.delivery import outbox
from crm_bridge.models import Submission

S = Submission.Status
pytestmark = pytest.mark.django_db(transaction=True)


def race(fn: Callable[[Any], Any], args: list[Any]) -> list[Any]:
    """Run ``fn(arg)`` for every arg at once (a barrier lines the threads up); returns results in order."""
    barrier = threading.Barrier(len(args))
    results: list[Any] = [None] * len(args)

    def run(i: int, arg: Any) -> None:
        try:
            barrier.wait(10)
            results[i] = fn(arg)
        except Exception as err:  # surfaced through the results, asserted by the caller
            results[i] = err
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    close_old_connections()
    return results


def test_exactly_one_of_eight_claims_wins(make_submission):
    for _ in range(5):
        sub = make_submission()
        won = race(lambda pk: outbox.claim(pk) is not None, [sub.pk] * 8)
        assert won.count(True) == 1, won
        sub.refresh_from_db()
        assert (sub.status, sub.attempts) == (S.SENDING, 1)


def test_concurrent_deliveries_of_one_row_send_it_once(sandbox_crm, make_submission):
    subs = [make_submission("message") for _ in range(5)]
    for sub in subs:
        outcomes = race(delivery.deliver, [sub.pk] * 4)
        assert sorted(map(str, outcomes)) == ["delivered", "skipped", "skipped", "skipped"]
    assert Counter(m["content"] for m in sandbox_crm.messages()) == Counter(s.payload["content"] for s in subs)
    assert sandbox_crm.calls("ECommerce/AddMessageBoard") == 5


def test_two_leads_for_one_phone_in_flight_create_one_customer(sandbox_crm, make_submission, site):
    site.post_duplicates_to_board = False
    site.save()
    pairs = []
    for i in range(6):
        tel = f"1370000{i:04d}"
        pairs.append((
            make_submission("lead", payload={"name": f"甲{i}", "company": "", "tel": tel}),
            make_submission("lead", payload={"name": f"乙{i}", "company": "", "tel": tel}),
        ))  # fmt: skip
    for a, b in pairs:
        race(delivery.deliver, [a.pk, b.pk])
        # The loser waited (or found the winner delivered); let it finish now.
        for sub in (a, b):
            Submission.objects.filter(pk=sub.pk, status=S.QUEUED).update(next_attempt_at=None)
            delivery.deliver(sub.pk)
        statuses = sorted(Submission.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True))
        assert statuses == [S.DELIVERED, S.DUPLICATE]
    by_tel = Counter(c["tel"] for c in sandbox_crm.customers())
    assert all(by_tel[a.payload["tel"]] == 1 for a, _ in pairs)
    assert sandbox_crm.calls("Customer/Save") == 6
