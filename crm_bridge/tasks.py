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
from .alerts import tasks as alert_tasks  # noqa: F401 (registers the alert tasks wherever these are)
from .alerts.conf import alert_setting
from .broker import DELIVER_TASK
from .conf import bridge_settings
from .intake.idempotency import purge_idempotency_records
from .logging import log_context
from .privacy.retention import run_retention

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
    """Deliver one submission if it is due and unclaimed, then go on with whatever else is due in the outbox
    for up to ``delivery.DRAIN_SECONDS`` (``delivery.deliver_and_drain``); returns the status its own row ended
    in."""
    with log_context(submission_id=submission_id):  # every log line of this delivery names its row
        status, _more = delivery.deliver_and_drain(submission_id)
        return status


@shared_task(name="crm_bridge.sweep", **_RELIABLE)
def sweep() -> int:
    """Re-enqueue due and stuck rows; returns how many were enqueued."""
    return delivery.sweep(enqueue=broker.enqueue_delivery)


@shared_task(name="crm_bridge.flush_hits", **_RELIABLE)
def flush_hits() -> int:
    """Send pending page-view counts to the CRM; returns how many counters were flushed."""
    return delivery.flush_hits()


@shared_task(name="crm_bridge.probe_credentials", **_RELIABLE)
def probe_credentials() -> dict[str, int]:
    """Try refused credentials whose probe is due; an accepted one resumes its deliveries (no-op otherwise)."""
    return delivery.probe_credentials(enqueue=broker.enqueue_delivery)


@shared_task(name="crm_bridge.purge", **_RELIABLE)
def purge() -> int:
    """Drop Idempotency-Key records past their TTL; returns how many."""
    return purge_idempotency_records()


@shared_task(name="crm_bridge.retention", **_RELIABLE)
def retention() -> int:
    """Erase the personal fields of finished submissions past their site's retention period; returns how many."""
    return run_retention()


#: A periodic run waits in the broker at most this many of its intervals, then expires (docs/delivery.md, "The
#: sweep"). Not one interval: a run that waits behind a backlog of deliveries (or the embedded broker's folder
#: poll, or a beat clock a little ahead of the workers') would expire every time while the queue stays behind —
#: no lease recovery, no alarm, no alert retry for as long as the backlog lasts. Not unbounded either: beat keeps
#: sending while no worker runs, and workers coming back run at most this many stale runs of each, all cheap no-ops.
EXPIRES_AFTER_INTERVALS = 10


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The periodic tasks crm_bridge needs, keyed by entry name. Installed into whatever scheduler ``celery
    beat`` runs (see :func:`_install_schedule`); an entry of the same name in the host's own
    ``CELERY_BEAT_SCHEDULE`` wins, so integrators can re-time or move them."""
    sweep_every = bridge_settings.SWEEP_INTERVAL
    flush_every = bridge_settings.HIT_FLUSH_INTERVAL
    # Each credential's own probe time is in the database; this only looks whether one is due, which is cheap,
    # so it runs as often as the sweep: a probe is then at most one sweep interval late.
    probe_every = min(sweep_every, bridge_settings.CREDENTIAL_PROBE_INTERVAL)
    alerts_every = float(alert_setting("SWEEP_INTERVAL"))
    entries = {
        "crm_bridge.sweep": sweep_every,
        "crm_bridge.flush_hits": flush_every,
        "crm_bridge.probe_credentials": probe_every,
        "crm_bridge.purge": 3600.0,
        # Retention is counted in days: a run every 6 hours erases a row at most a quarter-day late.
        "crm_bridge.retention": 6 * 3600.0,
        "crm_bridge.alerts.sweep": alerts_every,
    }
    return {
        name: {"task": name, "schedule": every, "options": {"expires": every * EXPIRES_AFTER_INTERVALS}}
        for name, every in entries.items()
    }


@beat_init.connect
def _install_schedule(sender: Any = None, **kwargs: Any) -> None:
    """Add crm_bridge's entries to the running beat's scheduler, so the host site only needs its usual
    Celery app and ``celery beat`` — no schedule to copy into settings."""
    scheduler = sender.scheduler
    missing = {name: entry for name, entry in beat_schedule().items() if name not in scheduler.schedule}
    if missing:
        scheduler.update_from_dict(missing)
        logger.info("crm_bridge: installed periodic tasks %s", ", ".join(sorted(missing)))
