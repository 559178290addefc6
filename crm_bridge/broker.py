"""The hand-off to the Celery broker: publish "deliver this row" without ever raising or hanging the caller
(docs/architecture.md, "The outbox").

Intake calls :func:`enqueue_delivery` once its transaction commits; the sweep and staff actions call it too.
The task is published by name (``crm_bridge.deliver``, defined in :mod:`crm_bridge.tasks`), so this module needs
neither the tasks nor delivery: data flows intake → models ← delivery ← tasks, with no import back.
"""

from __future__ import annotations

import logging
import time

from celery import current_app

__all__ = ["BROKER_PAUSE", "DELIVER_TASK", "enqueue_delivery"]

logger = logging.getLogger("crm_bridge.broker")

DELIVER_TASK = "crm_bridge.deliver"

#: After a failed publish, this process skips the broker for this many seconds: each publish to a dead broker
#: costs up to the connection timeout, and intake's latency must not depend on the broker's health. Rows
#: written meanwhile wait for the sweep (REENQUEUE_AFTER), which is what it is for.
BROKER_PAUSE = 10.0
_paused_until = 0.0


def enqueue_delivery(submission_id: str) -> bool:
    """Hand a delivery to the broker; ``True`` if it was published.

    If the broker is down or slow the row is still safe in the database and the sweep will deliver it; so a
    failure here is logged and reported as ``False``, nothing more — and for :data:`BROKER_PAUSE` seconds this
    process does not try again (returns ``False`` at once).
    """
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    try:
        current_app.send_task(DELIVER_TASK, args=[str(submission_id)], retry=False)
    except Exception:  # any broker failure: the row is the truth, the sweep picks it up
        _paused_until = time.monotonic() + BROKER_PAUSE
        logger.warning(
            "could not enqueue delivery of %s; not trying the broker for %.0f s, the sweep will deliver it",
            submission_id, BROKER_PAUSE, exc_info=True,
        )  # fmt: skip
        return False
    return True
