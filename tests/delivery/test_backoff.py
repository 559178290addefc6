"""The retry schedule: doubling, capped, jittered within the upper half, spread over days."""

import random

import pytest

from crm_bridge.delivery.backoff import retry_delay


@pytest.fixture(autouse=True)
def _defaults(settings):
    settings.CRM_BRIDGE = {"BASE_URL": "http://crm.invalid/WebApi/Handler/1.0/CRM/", "TOKEN": "t"}


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 30), (2, 60), (3, 120), (6, 960), (10, 15360), (11, 21600)])
def test_delay_within_upper_half_of_ceiling(attempt, ceiling):
    rng = random.Random(attempt)
    delays = [retry_delay(attempt, rng=rng) for _ in range(200)]
    assert min(delays) >= ceiling / 2
    assert max(delays) <= ceiling
    assert len(set(delays)) > 150  # jittered, not one value


def test_capped_for_late_attempts():
    assert retry_delay(60, rng=random.Random(1)) <= 6 * 3600
    assert retry_delay(10_000, rng=random.Random(1)) <= 6 * 3600


def test_schedule_spans_days_not_minutes():
    rng = random.Random(7)
    total = sum(retry_delay(n, rng=rng) for n in range(1, 31))
    assert 3 * 24 * 3600 < total < 7 * 24 * 3600


def test_attempt_is_one_based():
    with pytest.raises(ValueError):
        retry_delay(0)
