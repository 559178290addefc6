"""Signals integrators can connect to. Each is sent with ``sender=Submission`` and ``submission=<row>``.

* ``submission_received`` — a submission was stored by intake (also for ones held as spam).
* ``submission_delivered`` — the CRM accepted it.
* ``submission_duplicate`` — a lead the CRM (or our own outbox) already had.
* ``submission_failed`` — it needs a person (a definite rejection, or retries exhausted).

Receivers run inside the worker (or the request for ``submission_received``) after the row is committed;
an exception in a receiver is logged and does not change the submission's state (:func:`send_logged`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

__all__ = [
    "send_logged",
    "submission_delivered",
    "submission_duplicate",
    "submission_failed",
    "submission_received",
]

logger = logging.getLogger("crm_bridge.signals")

submission_received = Signal()
submission_delivered = Signal()
submission_duplicate = Signal()
submission_failed = Signal()


def send_logged(signal: Signal, submission: Any) -> None:
    """Send ``signal`` for ``submission`` to every receiver; one that raises is logged (with its traceback,
    by id only) and the others still run. Receivers are integrators' code: their bug must not turn a stored
    submission into a 500 or a delivered one into a retry."""
    from .models import Submission  # signals is imported by models' users; keep it free of model imports

    for receiver, result in signal.send_robust(sender=Submission, submission=submission):
        if isinstance(result, Exception):
            logger.error(
                "signal receiver %r failed for submission %s",
                receiver,
                submission.pk,
                exc_info=(type(result), result, result.__traceback__),
            )
