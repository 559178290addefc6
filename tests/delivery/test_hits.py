"""Hit counters flushed in sums: exact counts reach the CRM, failures keep them, views during a flush stay."""

import threading

import pytest
from django.db.models import F

from crm_bridge import delivery
from crm_bridge.models import HitCounter

from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_flush_sends_each_counter_once_with_its_sum(sandbox_crm, site):
    HitCounter.objects.create(site=site, pkid=101, pending=1234)
    HitCounter.objects.create(site=site, pkid=102, pending=1)
    HitCounter.objects.create(site=site, pkid=103, pending=0)
    assert delivery.flush_hits() == 2
    assert (sandbox_crm.hits(101, "sandbox-site-key"), sandbox_crm.hits(102, "sandbox-site-key")) == (1234, 1)
    assert sandbox_crm.calls("ECommerce/UpdateBaseInfoHit") == 2
    assert list(HitCounter.objects.order_by("pkid").values_list("pending", "sent")) == [(0, 1234), (0, 1), (0, 0)]
    assert delivery.flush_hits() == 0
    assert sandbox_crm.calls("ECommerce/UpdateBaseInfoHit") == 2


def test_a_failed_flush_keeps_the_count_for_the_next(sandbox_crm, site):
    HitCounter.objects.create(site=site, pkid=7, pending=40)
    sandbox_crm.inject_fault("down", endpoint="ECommerce/UpdateBaseInfoHit", count=1)
    assert delivery.flush_hits() == 0
    counter = HitCounter.objects.get(pkid=7)
    assert (counter.pending, counter.sent, counter.flushing_until) == (40, 0, None)
    assert "503" in counter.last_error
    HitCounter.objects.filter(pkid=7).update(pending=45)
    assert delivery.flush_hits() == 1
    assert sandbox_crm.hits(7) == 45


def test_views_counted_during_a_flush_stay_pending(sandbox_crm, site):
    HitCounter.objects.create(site=site, pkid=9, pending=10)
    sandbox_crm.inject_fault("slow", endpoint="ECommerce/UpdateBaseInfoHit", delay=1.0)
    flusher = threading.Thread(target=delivery.flush_hits)
    flusher.start()
    wait_for(lambda: HitCounter.objects.get(pkid=9).flushing_until is not None, timeout=5)
    HitCounter.objects.filter(pkid=9).update(pending=F("pending") + 3)
    assert delivery.flush_hits() == 0  # the counter is leased to the running flush: not sent twice
    flusher.join(10)
    counter = HitCounter.objects.get(pkid=9)
    assert (counter.pending, counter.sent) == (3, 10)
    assert sandbox_crm.hits(9) == 10


def test_a_rejected_flush_drops_those_views_loudly(sandbox_crm, site, caplog):
    HitCounter.objects.create(site=site, pkid=11, pending=5)
    sandbox_crm.inject_fault("error", endpoint="ECommerce/UpdateBaseInfoHit", error_code=10017, count=1)
    assert delivery.flush_hits() == 0
    counter = HitCounter.objects.get(pkid=11)
    assert (counter.pending, counter.sent) == (0, 0)
    assert counter.last_error.startswith("dropped 5")
    assert any("rejected 5 hit(s)" in r.getMessage() for r in caplog.records)


def test_paused_or_hits_disabled_sites_are_not_flushed(sandbox_crm, site):
    HitCounter.objects.create(site=site, pkid=12, pending=5)
    site.features = {"hits": False}
    site.save()
    assert delivery.flush_hits() == 0
    assert sandbox_crm.calls() == 0
