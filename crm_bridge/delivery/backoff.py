"""When to try again: capped exponential back-off with jitter, spread over days."""

from __future__ import annotations

import random

from ..conf import bridge_settings


def retry_delay(attempt: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    The ceiling doubles each attempt from ``RETRY_BASE_DELAY`` up to ``RETRY_MAX_DELAY``; the delay is drawn
    uniformly from the upper half of it ("equal jitter"), so retries of many rows that failed together spread
    out, yet none comes back much sooner than planned. With the defaults (30 s base, 6 h cap, 30 attempts)
    the schedule spans about five days, beyond ``MAX_AGE`` (4 days), which therefore decides when to give up.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    ceiling = min(bridge_settings.RETRY_MAX_DELAY, bridge_settings.RETRY_BASE_DELAY * 2.0 ** min(attempt - 1, 62))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
