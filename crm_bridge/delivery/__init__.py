"""Delivery: a stored submission → the CRM calls it needs, and the state machine around them (docs/delivery.md).

Public functions (the Celery tasks and the admin call these; they take ids and are safe to call twice):

* :func:`deliver` — deliver one submission if it is due and nobody else holds it.
* :func:`deliver_and_drain` — the same, then keep taking due rows for a while (what the Celery task runs).
* :func:`sweep` — hand due and stuck rows to the broker again (a lost message delays, never loses).
* :func:`flush_hits` — send pending page-view counts.
* :func:`probe_credentials` — try refused credentials again; a credential the CRM accepts resumes by itself.
* :func:`retry_now`, :func:`cancel`, :func:`release_spam`, :func:`resume_site` — staff actions.

Failure classes decide what happens next (``crm_bridge.crm.errors``): retryable → back to queued with
back-off (and a circuit that stops calling a dead CRM); auth refused → what that credential sends pauses (the
token: every lead; a siteKey: its site's messages and hits), staff are told, no attempt is spent, and a probe
resumes it once the CRM accepts it again; a definite rejection → failed with the reason.
"""

from __future__ import annotations

from .calls import NON_IDEMPOTENT, make_call, maybe_sent
from .hits import flush_hits
from .pauses import probe_credentials
from .staff import cancel, paused_credentials, release_spam, resume_site, retry_now
from .worker import DRAIN_SECONDS, deliver, deliver_and_drain, sweep

__all__ = [
    "DRAIN_SECONDS",
    "NON_IDEMPOTENT",
    "cancel",
    "deliver",
    "deliver_and_drain",
    "flush_hits",
    "make_call",
    "maybe_sent",
    "paused_credentials",
    "probe_credentials",
    "release_spam",
    "resume_site",
    "retry_now",
    "sweep",
]
