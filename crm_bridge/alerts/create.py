"""Writing alerts: one ``Alert`` row per destination, in the caller's transaction, handed to the broker on commit.

* :func:`record_for_submission` — a new lead (or, where a destination asks for it, a message); intake calls it
  right after storing the submission, inside the same transaction.
* :func:`operational` — an alarm for staff (a site paused, a dead letter, the CRM unreachable).

Texts are rendered here, once, in the site's default language (``settings.LANGUAGE_CODE``), with no more
personal data than a salesperson needs to call back: name, phone (masked unless the destination shows the full
number), company, the page, and a link to the admin page.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from ..conf import bridge_settings
from ..delivery.flows import source_text
from ..models import Site, Submission
from .conf import alert_setting
from .models import Alert, AlertDestination

__all__ = ["DELIVER_ALERT_TASK", "enqueue_alerts", "mask_phone", "operational", "record_for_submission"]

logger = logging.getLogger("crm_bridge.alerts")

DELIVER_ALERT_TASK = "crm_bridge.alerts.deliver"
BROKER_PAUSE = 10.0  # as crm_bridge.broker: after a failed publish, leave the broker alone; the sweep covers it
_paused_until = 0.0

_DIGITS = re.compile(r"\+?\d[\d -]{5,}\d")


def mask_phone(phone: str) -> str:
    """``13800138000`` → ``138****8000``: the first three and last four digits; shorter numbers keep less."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return ""
    if len(digits) == 13 and digits.startswith("86"):  # +86 and a mainland mobile number
        digits = digits[2:]
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) >= 9 else 1
    keep_tail = 4 if len(digits) >= 9 else 2
    return digits[:keep_head] + "*" * (len(digits) - keep_head - keep_tail) + digits[-keep_tail:]


def _mask_numbers(text: str) -> str:
    """Phone-like runs inside free text (a message, a contact field) masked like :func:`mask_phone`."""
    return _DIGITS.sub(lambda m: mask_phone(m.group(0)), text)


def admin_url(name: str, *args: Any) -> str:
    """An admin page for the alert's reader: ``ADMIN_BASE_URL`` + path, or "" when admin is not mounted."""
    try:
        path = reverse(name, args=args)
    except NoReverseMatch:
        return ""
    return str(alert_setting("ADMIN_BASE_URL")).rstrip("/") + path


def enqueue_alerts(alert_ids: Iterable[Any]) -> int:
    """Publish ``crm_bridge.alerts.deliver`` for each id; never raises (the rows are the truth, the sweep
    delivers what is not published). Returns how many were published."""
    global _paused_until
    published = 0
    for alert_id in alert_ids:
        if time.monotonic() < _paused_until:
            break
        try:
            current_app.send_task(DELIVER_ALERT_TASK, args=[str(alert_id)], retry=False)
        except Exception:  # any broker failure
            _paused_until = time.monotonic() + BROKER_PAUSE
            logger.warning("could not enqueue alert %s; the alert sweep will send it", alert_id, exc_info=True)
            break
        published += 1
    return published


def _hand_off(alerts: list[Alert]) -> None:
    if alerts:
        # One task per destination is enough: a delivery sends every due alert of its destination.
        first = {a.destination_id: a.pk for a in reversed(alerts)}
        transaction.on_commit(partial(enqueue_alerts, list(first.values())))


def _render_submission(sub: Submission, *, full_phone: bool) -> tuple[str, str]:
    """(one-line title — whitespace runs, line breaks included, become one space — and full text) for a lead or
    message."""
    p = sub.payload or {}
    link = admin_url("admin:crm_bridge_submission_change", sub.pk)
    if sub.kind == Submission.Kind.LEAD:
        phone = p.get("tel", "") if full_phone else mask_phone(p.get("tel", ""))
        name = Truncator(p.get("name", "")).chars(40)
        company = Truncator(p.get("company", "")).chars(60)
        title = " ".join(filter(None, [_("New lead") + ":", name, phone, f"({company})" if company else ""]))
        lines = [f"【{_('New lead')}】{sub.site.name}", f"{_('Name')}: {name}", f"{_('Phone')}: {phone}"]
        if company:
            lines.append(f"{_('Company')}: {company}")
        message = p.get("message", "")
    else:
        contact = p.get("contact", "")
        contact = contact if full_phone else _mask_numbers(contact)
        message = p.get("content", "")
        title = f"{_('New message')}: {Truncator(_mask_numbers(message)).chars(40)}"
        lines = [f"【{_('New message')}】{sub.site.name}"]
        if contact:
            lines.append(f"{_('Contact')}: {Truncator(contact).chars(80)}")
    if message:
        shown = message if full_phone else _mask_numbers(message)
        lines.append(f"{_('Message')}: {Truncator(shown).chars(200)}")
    page = sub.page_url or p.get("page_url", "") or sub.origin
    if page:
        lines.append(f"{_('Page')}: {Truncator(page).chars(200)}")
    # Where the visit came from (campaign tags, landing page, click ids), as the CRM record shows it.
    if attribution := source_text(sub.source):
        lines.append(attribution)
    if link:
        lines.append(f"{_('Details')}: {link}")
    # One line: the title is an e-mail subject, where a CR/LF a visitor typed would make send_mail refuse the
    # alert (BadHeaderError) at every attempt until it is a dead letter.
    return Truncator(" ".join(title.split())).chars(200), "\n".join(lines)


#: Past this many cached sites the destinations cache starts over (bounded memory).
MAX_CACHED_SITES = 1000
_destinations: dict[int, tuple[float, list[AlertDestination]]] = {}  # site id → (monotonic expiry, enabled ones)
_destinations_lock = threading.Lock()
_destinations_generation = 0


def forget_destinations(**kwargs: Any) -> None:
    """Drop this process's cached destinations (``AlertDestination`` post_save / post_delete; tests)."""
    global _destinations_generation
    with _destinations_lock:
        _destinations.clear()
        _destinations_generation += 1


def site_destinations(site_id: int) -> list[AlertDestination]:
    """The site's enabled destinations, read once per ``SITE_CACHE_SECONDS`` per process (as intake's sites:
    the process that saves a destination forgets at once, others within that bound). Read them, never change
    them: they are shared with other requests of this process."""
    ttl = float(bridge_settings.SITE_CACHE_SECONDS)
    if ttl <= 0:
        return list(AlertDestination.objects.filter(site_id=site_id, enabled=True))
    now = time.monotonic()
    hit = _destinations.get(site_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    generation = _destinations_generation
    found = list(AlertDestination.objects.filter(site_id=site_id, enabled=True))
    with _destinations_lock:
        if generation == _destinations_generation:
            if len(_destinations) >= MAX_CACHED_SITES:
                _destinations.clear()
            _destinations[site_id] = (now + ttl, found)
    return found


post_save.connect(forget_destinations, sender=AlertDestination, dispatch_uid="crm_bridge.alerts.destinations.save")
post_delete.connect(forget_destinations, sender=AlertDestination, dispatch_uid="crm_bridge.alerts.destinations.del")


def record_for_submission(sub: Submission) -> list[Alert]:
    """Write the alerts a just-stored submission calls for and hand them over once the transaction commits.

    Nothing for spam; a lead alerts every enabled destination of its site with ``on_leads``, a message those
    with ``on_messages``. The destinations come from :func:`site_destinations` (no query while cached) and, when
    there are any, one ``bulk_create``.
    """
    if sub.status == Submission.Status.SPAM:
        return []
    lead = sub.kind == Submission.Kind.LEAD
    destinations = [d for d in site_destinations(sub.site_id) if (d.on_leads if lead else d.on_messages)]
    if not destinations:
        return []
    kind = Alert.Kind.LEAD if sub.kind == Submission.Kind.LEAD else Alert.Kind.MESSAGE
    rendered: dict[bool, tuple[str, str]] = {}
    alerts = []
    with translation.override(settings.LANGUAGE_CODE):
        for dest in destinations:
            if dest.full_phone not in rendered:
                rendered[dest.full_phone] = _render_submission(sub, full_phone=dest.full_phone)
            title, text = rendered[dest.full_phone]
            alerts.append(
                Alert(destination=dest, submission=sub, kind=kind, title=title, text=text, created_at=sub.created_at)
            )
    Alert.objects.bulk_create(alerts)
    _hand_off(alerts)
    return alerts


def operational(site: Site | None, kind: str, text: str, *, key: str = "", now: datetime | None = None) -> list[Alert]:
    """Alarm staff: an alert for every enabled destination with ``on_alarms`` of ``site`` (of every site when
    ``site`` is None, e.g. the CRM itself is unreachable).

    ``kind`` names the alarm (``site_paused``, ``dead_letter``, ``crm_unreachable`` …). With a ``key``, the
    alarm is one episode: a second call with the same kind and key adds nothing (a unique constraint, so this
    holds between processes too). ``text`` must hold no secret. Returns the alerts written.
    """
    now = now or timezone.now()
    destinations = AlertDestination.objects.filter(enabled=True, on_alarms=True).select_related("site")
    if site is not None:
        destinations = destinations.filter(site=site)
    episode = f"{kind}:{key}"[:200] if key else ""
    if episode:
        destinations = destinations.exclude(alerts__alarm_key=episode)
    alerts = []
    with translation.override(settings.LANGUAGE_CODE):
        heading = _("Alarm")
        for dest in destinations:
            where = dest.site.name if site is not None else _("all sites")
            alerts.append(
                Alert(
                    destination=dest, kind=Alert.Kind.ALARM, alarm_key=episode, created_at=now,
                    title=Truncator(f"{heading}: {text.splitlines()[0] if text else kind}").chars(200),
                    text=f"【{heading}】{where}\n{text}",
                )
            )  # fmt: skip
    if not alerts:
        return []
    # A concurrent writer of the same episode may win the unique constraint: its alerts stand for ours.
    Alert.objects.bulk_create(alerts, ignore_conflicts=bool(episode))
    _hand_off(alerts)
    return alerts
