"""Celery tasks: thin wrappers over :mod:`crm_bridge.delivery`. They take ids (JSON) and decide nothing.

Retry timing is data in the database (``Submission.next_attempt_at``), never a long countdown in the broker:
a countdown longer than Redis's visibility timeout is redelivered, and a lost message would lose the retry.
The periodic :func:`sweep` is what makes a lost or never-published message harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import beat_init

from . import broker, delivery
from .broker import DELIVER_TASK
from .conf import bridge_settings
from .intake.idempotency import purge_idempotency_records
from .logging import log_context

logger = logging.getLogger("crm_bridge.tasks")

# Late ack + requeue when the pool child dies: a delivery interrupted by a crash runs again (bounded by the
# attempt counter in the row). See celery #1628 for why acks_late alone is not enough.
# Time limits stay well below the row lease (LEASE_SECONDS, 180 s by default) and Redis's visibility timeout,
# so a stuck task is killed before anyone else could take its row.
_RELIABLE = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "soft_time_limit": 120,
    "time_limit": 150,
}


@shared_task(name=DELIVER_TASK, **_RELIABLE)
def deliver(submission_id: str) -> str:
    """Deliver one submission if it is due and unclaimed; returns the status it ended in."""
    with log_context(submission_id=submission_id):  # every log line of this delivery names its row
        return delivery.deliver(submission_id)


@shared_task(name="crm_bridge.sweep", **_RELIABLE)
def sweep() -> int:
    """Re-enqueue due and stuck rows; returns how many were enqueued."""
    return delivery.sweep(enqueue=broker.enqueue_delivery)


@shared_task(name="crm_bridge.flush_hits", **_RELIABLE)
def flush_hits() -> int:
    """Send pending page-view counts to the CRM; returns how many counters were flushed."""
    return delivery.flush_hits()


@shared_task(name="crm_bridge.purge", **_RELIABLE)
def purge() -> int:
    """Drop Idempotency-Key records past their TTL; returns how many."""
    return purge_idempotency_records()


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The periodic tasks crm_bridge needs, keyed by entry name. Installed into whatever scheduler ``celery
    beat`` runs (see :func:`_install_schedule`); an entry of the same name in the host's own
    ``CELERY_BEAT_SCHEDULE`` wins, so integrators can re-time or move them."""
    sweep_every = float(bridge_settings.SWEEP_INTERVAL)
    flush_every = float(bridge_settings.HIT_FLUSH_INTERVAL)
    return {
        # `expires`: a sweep that waited in the queue longer than an interval is pointless; the next one comes.
        "crm_bridge.sweep": {"task": "crm_bridge.sweep", "schedule": sweep_every, "options": {"expires": sweep_every}},
        "crm_bridge.flush_hits": {
            "task": "crm_bridge.flush_hits", "schedule": flush_every, "options": {"expires": flush_every},
        },
        "crm_bridge.purge": {"task": "crm_bridge.purge", "schedule": 3600.0, "options": {"expires": 3600.0}},
    }  # fmt: skip


@beat_init.connect
def _install_schedule(sender: Any = None, **kwargs: Any) -> None:
    """Add crm_bridge's entries to the running beat's scheduler, so the host site only needs its usual
    Celery app and ``celery beat`` — no schedule to copy into settings."""
    scheduler = sender.scheduler
    missing = {name: entry for name, entry in beat_schedule().items() if name not in scheduler.schedule}
    if missing:
        scheduler.update_from_dict(missing)
        logger.info("crm_bridge: installed periodic tasks %s", ", ".join(sorted(missing)))
