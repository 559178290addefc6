"""Signals integrators can connect to. Each is sent with ``sender=Submission`` and ``submission=<row>``.

* ``submission_received`` — a submission was stored by intake (also for ones held as spam).
* ``submission_delivered`` — the CRM accepted it.
* ``submission_duplicate`` — a lead the CRM (or our own outbox) already had.
* ``submission_failed`` — it needs a person (a definite rejection, or retries exhausted).

Receivers run inside the worker (or the request for ``submission_received``) after the row is committed;
an exception in a receiver is logged and does not change the submission's state.
"""

from django.dispatch import Signal

submission_received = Signal()
submission_delivered = Signal()
submission_duplicate = Signal()
submission_failed = Signal()
