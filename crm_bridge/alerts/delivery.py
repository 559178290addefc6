"""Delivering alerts, with the outbox's discipline (design.md §10, docs/alerts.md).

    queued ──claim──▶ sending ──▶ sent
       ▲                 │  └───▶ failed (MAX_ATTEMPTS spent: a dead letter staff can retry)
       └── retry later ──┘

A delivery works on one *destination* at a time: it takes the destination's lease (a conditional ``UPDATE``, so
one worker per destination), claims that destination's due alerts (another conditional ``UPDATE``), and spends
the destination's rate budget — at most ``RATE_PER_MINUTE`` messages in any 60 seconds, counted in
``AlertDestination.send_log``, which only the lease holder writes. When the due alerts fit in the budget each goes
as its own message; when they do not, they go as summaries of up to ``BATCH_SIZE`` alerts each ("5 new leads: …"),
and what still does not fit waits, due when the oldest send leaves the window. Nothing is dropped, and each row is
marked ``sent`` once, by a conditional update of the row this worker claimed.

Sending happens outside any transaction, after the claims are committed. A worker that dies mid-send leaves its
leases to expire; :func:`sweep` then hands the alerts out again (so a crash right after a robot accepted a
message can repeat it: at least once, like any outbox).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..delivery.backoff import retry_delay
from ..delivery.pauses import describe as describe_pause
from ..models import Circuit, Site
from . import senders
from .conf import alert_setting
from .create import admin_url, operational
from .models import Alert, AlertDestination

__all__ = [
    "compose",
    "deliver_alert",
    "detect_alarms",
    "due_filter",
    "flush_destination",
    "recover_expired_leases",
    "retry",
    "sweep",
    "window_usage",
]

logger = logging.getLogger("crm_bridge.alerts")
S = Alert.Status
WINDOW = timedelta(seconds=60)


def due_filter(now: datetime) -> Q:
    return Q(status=S.QUEUED) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def deliver_alert(alert_id: Any, *, now: datetime | None = None, session: Any = None) -> str:
    """Send the due alerts of ``alert_id``'s destination (this one among them, if due); returns the alert's
    status afterwards, or ``"missing"``."""
    dest_id = Alert.objects.filter(pk=alert_id).values_list("destination_id", flat=True).first()
    if dest_id is None:
        return "missing"
    flush_destination(dest_id, now=now, session=session)
    return Alert.objects.filter(pk=alert_id).values_list("status", flat=True).first() or "missing"


def _plan(alerts: Sequence[Alert], budget: int) -> list[list[Alert]]:
    """Messages for ``alerts`` within ``budget``: one each if they fit, else summaries of ``BATCH_SIZE``."""
    if len(alerts) <= budget:
        return [[a] for a in alerts]
    size = max(1, int(alert_setting("BATCH_SIZE")))
    groups = [list(alerts[i : i + size]) for i in range(0, len(alerts), size)]
    return groups[:budget]


def compose(alerts: Sequence[Alert]) -> tuple[str, str]:
    """(subject, text) of the message for ``alerts``: the alert itself, or a summary listing each."""
    if len(alerts) == 1:
        return alerts[0].title, alerts[0].text
    counts = Counter(a.kind for a in alerts)
    with translation.override(settings.LANGUAGE_CODE):
        parts = []
        if counts[Alert.Kind.LEAD]:
            n = counts[Alert.Kind.LEAD]
            parts.append(ngettext("%(n)d new lead", "%(n)d new leads", n) % {"n": n})
        if counts[Alert.Kind.MESSAGE]:
            n = counts[Alert.Kind.MESSAGE]
            parts.append(ngettext("%(n)d new message", "%(n)d new messages", n) % {"n": n})
        if counts[Alert.Kind.ALARM]:
            n = counts[Alert.Kind.ALARM]
            parts.append(ngettext("%(n)d alarm", "%(n)d alarms", n) % {"n": n})
        subject = ", ".join(parts)
        lines = [f"【{subject}】"] + [f"{i}. {a.title}" for i, a in enumerate(alerts, 1)]
        link = admin_url("admin:crm_bridge_alert_changelist")
        if link:
            lines.append(f"{_('Details')}: {link}")
    return subject, "\n".join(lines)


def _recent(log: Any, now: datetime) -> list[datetime]:
    times = [parse_datetime(t) for t in (log or []) if isinstance(t, str)]
    return sorted(t for t in times if t is not None and now - WINDOW < t <= now)


def _fail(group: Sequence[Alert], error: str, now: datetime) -> None:
    """The message for ``group`` was not accepted: each alert retries later, or is failed when out of attempts."""
    ids = [a.pk for a in group]
    max_attempts = int(alert_setting("MAX_ATTEMPTS"))
    attempt = max(a.attempts for a in group)
    delay = min(float(alert_setting("MAX_RETRY_DELAY")), retry_delay(attempt))
    mine = Alert.objects.filter(pk__in=ids, status=S.SENDING)
    mine.filter(attempts__gte=max_attempts).update(status=S.FAILED, lease_expires_at=None, last_error=error)
    mine.update(
        status=S.QUEUED, lease_expires_at=None, last_error=error, next_attempt_at=now + timedelta(seconds=delay)
    )


def flush_destination(dest_id: Any, *, now: datetime | None = None, session: Any = None) -> int:
    """Send what is due for one destination, within its rate budget; returns how many messages were sent.

    Returns 0 at once when another worker holds the destination (it sends these alerts too) or the destination
    is disabled (its alerts wait, queued, until it is enabled again).
    """
    now = now or timezone.now()
    lease = now + timedelta(seconds=float(alert_setting("LEASE_SECONDS")))
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    if not AlertDestination.objects.filter(free, pk=dest_id, enabled=True).update(lease_expires_at=lease):
        return 0
    dest = AlertDestination.objects.select_related("site").get(pk=dest_id)
    recent = _recent(dest.send_log, now)
    sent_messages = 0
    try:
        rate = int(alert_setting("RATE_PER_MINUTE"))
        budget = rate - len(recent) if rate > 0 else 10**6  # 0 or less: no ceiling
        size = max(1, int(alert_setting("BATCH_SIZE")))
        due = Alert.objects.filter(due_filter(now), destination_id=dest_id).order_by("created_at", "pk")
        due_ids = list(due.values_list("pk", flat=True)[: max(budget, 1) * size])
        if not due_ids:
            return 0
        if budget <= 0:
            # Not claimed, no attempt spent: due again when the oldest send in the window has aged out.
            Alert.objects.filter(pk__in=due_ids, status=S.QUEUED).update(next_attempt_at=recent[0] + WINDOW)
            return 0
        Alert.objects.filter(pk__in=due_ids, status=S.QUEUED).update(
            status=S.SENDING, lease_expires_at=lease, attempts=F("attempts") + 1
        )
        alerts = list(
            Alert.objects.filter(pk__in=due_ids, status=S.SENDING, lease_expires_at=lease).order_by("created_at", "pk")
        )
        groups = _plan(alerts, budget)
        planned = {a.pk for g in groups for a in g}
        unplanned = [a.pk for a in alerts if a.pk not in planned]
        for i, group in enumerate(groups):
            subject, text = compose(group)
            try:
                senders.send(dest, subject, text, session=session)
            except senders.SendError as err:
                recent.append(now)  # a refused request may still count against the robot's own limit
                logger.warning("alert destination %s refused %d alert(s): %s", dest.pk, len(group), err)
                _fail(group, str(err), now)
                # The robot is down or throttling: do not hammer it with the rest; they wait as long.
                rest = [a.pk for g in groups[i + 1 :] for a in g]
                Alert.objects.filter(pk__in=rest, status=S.SENDING).update(
                    status=S.QUEUED, lease_expires_at=None, attempts=F("attempts") - 1,
                    next_attempt_at=now + timedelta(seconds=min(float(alert_setting("MAX_RETRY_DELAY")),
                                                                retry_delay(max(a.attempts for a in group)))),
                )  # fmt: skip
                break
            recent.append(now)
            sent_messages += 1
            Alert.objects.filter(pk__in=[a.pk for a in group], status=S.SENDING).update(
                status=S.SENT, sent_at=now, lease_expires_at=None, next_attempt_at=None, last_error=""
            )
        if unplanned:  # over budget even as summaries: back to the queue, attempt handed back
            Alert.objects.filter(pk__in=unplanned, status=S.SENDING).update(
                status=S.QUEUED, lease_expires_at=None, attempts=F("attempts") - 1,
                next_attempt_at=(recent[0] + WINDOW) if recent else now,
            )  # fmt: skip
    finally:
        AlertDestination.objects.filter(pk=dest_id, lease_expires_at=lease).update(
            lease_expires_at=None, send_log=[t.isoformat() for t in recent]
        )
    return sent_messages


def recover_expired_leases(now: datetime) -> int:
    """``sending`` alerts whose worker died: queued again, due now (the attempt stays spent)."""
    return Alert.objects.filter(status=S.SENDING, lease_expires_at__lt=now).update(
        status=S.QUEUED, lease_expires_at=None, next_attempt_at=now
    )


def detect_alarms(now: datetime | None = None) -> int:
    """Raise the alarms read from the database: a site whose deliveries are paused (its siteKey refused), the
    CRM token refused (every site's leads wait: every site's alarm destinations hear it), and a CRM circuit open
    longer than ``CIRCUIT_ALARM_MINUTES``. Each fires once per episode (keyed by when it started)."""
    now = now or timezone.now()
    written = 0
    with translation.override(settings.LANGUAGE_CODE):
        for site in Site.objects.filter(paused_at__isnull=False):
            if site.paused_at is None:  # excluded by the filter; narrows the type for the checker
                continue
            reason = describe_pause("siteKey", site.paused_reason[:300])
            text = _("Deliveries to the CRM are paused: %(reason)s") % {"reason": reason}
            link = admin_url("admin:crm_bridge_site_change", site.pk)
            if link:
                text += f"\n{_('Details')}: {link}"
            written += len(operational(site, "site_paused", text, key=f"{site.pk}:{site.paused_at.timestamp():.0f}"))
        # The token is one setting for the whole CRM (docs/delivery.md, "Refused credentials"): its pause sits on
        # the Circuit row and holds the leads of every site, so it alarms every site, as an unreachable CRM does.
        for circuit in Circuit.objects.filter(token_paused_at__isnull=False):
            if circuit.token_paused_at is None:  # excluded by the filter; narrows the type for the checker
                continue
            reason = describe_pause("token", circuit.token_paused_reason[:300])
            text = _("Deliveries to the CRM are paused: %(reason)s") % {"reason": reason}
            key = f"{circuit.pk}:{circuit.token_paused_at.timestamp():.0f}"
            written += len(operational(None, "token_paused", text, key=key, now=now))
        minutes = float(alert_setting("CIRCUIT_ALARM_MINUTES"))
        cutoff = now - timedelta(minutes=minutes)
        open_states = (Circuit.State.OPEN, Circuit.State.HALF_OPEN)
        for circuit in Circuit.objects.filter(state__in=open_states, opened_at__lte=cutoff):
            if circuit.opened_at is None:  # excluded by the filter (NULL is never <= cutoff); narrows the type
                continue
            since = timezone.localtime(circuit.opened_at).strftime("%Y-%m-%d %H:%M")
            text = _("The CRM has not been reachable since %(since)s; submissions wait in the outbox.") % {
                "since": since
            }
            key = f"{circuit.pk}:{circuit.opened_at.timestamp():.0f}"
            written += len(operational(None, "crm_unreachable", text, key=key, now=now))
    return written


def sweep(*, enqueue: Callable[[str], Any], now: datetime | None = None) -> int:
    """The periodic alert sweep: recover dead workers' leases, raise database-detected alarms, and hand one
    due alert per destination to ``enqueue`` (its delivery sends all of them). Returns how many were handed."""
    now = now or timezone.now()
    recovered = recover_expired_leases(now)
    if recovered:
        logger.warning("recovered %d alert(s) whose worker lease expired", recovered)
    detect_alarms(now)
    free = Q(destination__lease_expires_at__isnull=True) | Q(destination__lease_expires_at__lt=now)
    due = Alert.objects.filter(due_filter(now), free, destination__enabled=True)
    picks: dict[Any, Any] = {}
    for alert_id, dest_id in due.order_by("created_at").values_list("pk", "destination_id"):
        picks.setdefault(dest_id, alert_id)
    for alert_id in picks.values():
        enqueue(str(alert_id))
    return len(picks)


def retry(alert_ids: Sequence[Any], now: datetime | None = None) -> int:
    """Staff's retry: failed alerts back to queued, due now, with fresh attempts. Returns how many."""
    now = now or timezone.now()
    return Alert.objects.filter(pk__in=list(alert_ids), status=S.FAILED).update(
        status=S.QUEUED, attempts=0, next_attempt_at=None, last_error=""
    )


def window_usage(dest: AlertDestination, now: datetime | None = None) -> int:
    """Messages sent to ``dest`` in the last 60 seconds (for tests and admin)."""
    return len(_recent(dest.send_log, now or timezone.now()))
