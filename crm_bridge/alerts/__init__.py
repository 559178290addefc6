"""Alerts to staff: e-mail and WeCom / DingTalk / Feishu group robots (design.md §10, docs/alerts.md).

* :func:`record_for_submission` — intake calls it in the transaction that stores a submission.
* :func:`operational` — an alarm for staff (site paused, dead letter, CRM unreachable); once per episode.
* Delivery (:mod:`.delivery`) and the Celery tasks (:mod:`.tasks`) send them, rate-limited per destination.
"""

from .create import operational, record_for_submission

__all__ = ["operational", "record_for_submission"]
