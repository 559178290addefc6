"""Celery tasks for alerts: thin, take ids, decide nothing (the rows and :mod:`.delivery` do).

They run on the same workers as CRM deliveries but as their own tasks, so a slow robot never holds up intake
or a CRM call, and retry timing is data in the ``Alert`` rows, not broker countdowns.
"""

from __future__ import annotations

from celery import shared_task

from . import delivery
from .create import DELIVER_ALERT_TASK, enqueue_alerts

SWEEP_ALERTS_TASK = "crm_bridge.alerts.sweep"

_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    # Below LEASE_SECONDS (60 s by default): a stuck send is killed before its lease could be taken over.
    "soft_time_limit": 45,
    "time_limit": 55,
}


@shared_task(name=DELIVER_ALERT_TASK, **_OPTIONS)
def deliver_alert(alert_id: str) -> str:
    """Send the due alerts of this alert's destination; returns this alert's status afterwards."""
    return delivery.deliver_alert(alert_id)


@shared_task(name=SWEEP_ALERTS_TASK, **_OPTIONS)
def sweep_alerts() -> int:
    """Recover stuck alerts, raise alarms found in the database, and hand due ones to workers."""
    return delivery.sweep(enqueue=lambda alert_id: enqueue_alerts([alert_id]))
