"""Pausing what a refused credential would send, and probing it until the CRM accepts it again
(docs/delivery.md, "Refused credentials").

Two credentials, two pauses:

* the **token** (``CRM_BRIDGE["TOKEN"]``) authenticates the ``Customer`` calls a lead needs. It is one setting for
  every site, so a refusal is a refusal for all: the pause is global, on the CRM's ``Circuit`` row (one per base
  URL, the same scope as the setting). Pausing per site would let every other site learn it again with a refused
  call of its own, and probe the one credential N times.
* a **siteKey** authenticates a site's ``ECommerce`` calls (messages, hits, the duplicate-lead note): the pause is
  that site's (``Site.paused_at``). Its leads keep going.

Paused rows are not claimed (``outbox.due_filter``), so no attempt is spent. Every ``CREDENTIAL_PROBE_INTERVAL``
seconds :func:`probe_credentials` (a beat task) tries each paused credential with a call that changes nothing:

* token: ``Customer/NameIsRepeat`` — read-only (``spec``: ``read_only=True``), no record touched;
* siteKey: the ECommerce pair has no read call, so ``ECommerce/UpdateBaseInfoHit`` with ``addHit=0`` — adds no
  view to a counter (it is the one idempotent one of the two: ``AddMessageBoard`` would post a visible message).

An answer (``value``, or a definite rejection of the parameters: the CRM checked the credential first, it has its
own error codes for refusals) resumes the credential and hands its due rows to the broker; another refusal keeps
the pause until the next probe; no answer (CRM down) says nothing either way. Staff can resume at once
(:func:`crm_bridge.delivery.resume_site`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from ..conf import bridge_settings
from ..crm.errors import CRMAuthError, CRMError, CRMRejected, CRMUnavailable
from ..crm.spec import get_endpoint
from ..models import Circuit, HitCounter, Site, Submission
from . import circuit, storable
from .calls import RateLimited, make_call

__all__ = [
    "PROBE_NAME",
    "Credential",
    "CredentialPaused",
    "describe",
    "pause",
    "probe_credentials",
    "refused_credential",
    "resume_site_key",
    "resume_token",
    "token_paused",
]

logger = logging.getLogger("crm_bridge.delivery")
Credential = Literal["token", "siteKey"]
S = Submission.Status

#: The customer name the token probe asks about (``NameIsRepeat`` only reads; any name will do).
PROBE_NAME = "crm-bridge credential probe"


class CredentialPaused(Exception):
    """A call would need a credential that is paused: do not make it; the row waits for the probe, unspent."""

    def __init__(self, credential: Credential) -> None:
        super().__init__(f"the {credential} is paused")
        self.credential = credential


def refused_credential(err: CRMAuthError) -> Credential:
    """Which credential the CRM refused: the one the failed endpoint authenticates with."""
    try:
        return "siteKey" if err.endpoint and get_endpoint(err.endpoint).auth == "siteKey" else "token"
    except KeyError:
        return "token"


def _reason(err: CRMError) -> str:
    """What a pause stores as its reason: the CRM's own error (its message, endpoint, codes) as the CRM said it,
    in no language of ours. Which credential was refused is not stored as words: it is the field the reason is in
    (``Site.paused_reason``: the siteKey; ``Circuit.token_paused_reason``: the token). :func:`describe` words
    the two for staff, in their language, when a page or an alert shows them."""
    return storable.text(err)


def describe(credential: Credential, reason: str) -> str:
    """A stored pause ``reason`` (see :func:`_reason`) as a sentence for staff in the active language; the CRM's
    error text inside it is kept verbatim (it is the CRM's, Chinese or English)."""
    error = reason or "—"
    if credential == "siteKey":
        return gettext("The CRM refused our siteKey: %(error)s") % {"error": error}
    return gettext("The CRM refused our token: %(error)s") % {"error": error}


def pause(site: Site, err: CRMAuthError, now: datetime | None = None) -> Credential:
    """Pause what the refused credential sends (the token: every lead; a siteKey: ``site``'s messages and hits);
    the first pause of a credential is logged at ERROR (``ADMINS`` mail where configured). Returns which."""
    now = now or timezone.now()
    credential = refused_credential(err)
    next_probe = now + timedelta(seconds=float(bridge_settings.CREDENTIAL_PROBE_INTERVAL))
    if credential == "token":
        circuit.get_circuit()
        paused = Circuit.objects.filter(name=circuit.circuit_name(), token_paused_at__isnull=True).update(
            token_paused_at=now, token_paused_reason=_reason(err), token_probe_at=next_probe
        )
        what = "the CRM token (the leads of every site wait)"
    else:
        paused = Site.objects.filter(pk=site.pk, paused_at__isnull=True).update(
            paused_at=now, paused_reason=_reason(err), site_key_probe_at=next_probe
        )
        what = f"the siteKey of site {site.name!r} (its messages and hits wait)"
    if paused:
        # logger.error reaches ADMINS through Django's AdminEmailHandler where the site configures it.
        logger.error("The CRM refused %s; it is paused and tried again every %s s (%s)", what,
                     bridge_settings.CREDENTIAL_PROBE_INTERVAL, err)  # fmt: skip
    return credential


def token_paused() -> bool:
    return Circuit.objects.filter(name=circuit.circuit_name(), token_paused_at__isnull=False).exists()


# --- resuming -------------------------------------------------------------------------------------------------


def _hand_over(rows: Any, enqueue: Callable[[str], bool], now: datetime) -> int:
    """Hand the due queued ``rows`` to the broker now (rows on a back-off keep their schedule)."""
    due = rows.filter(status=S.QUEUED).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    ids = [str(pk) for pk in due.values_list("pk", flat=True)]
    Submission.objects.filter(pk__in=ids).update(enqueued_at=now)
    for pk in ids:
        enqueue(pk)
    return len(ids)


def resume_token(
    *, enqueue: Callable[[str], bool], now: datetime | None = None, exclude_site: Site | None = None
) -> int:
    """Lift the token pause; returns how many waiting leads (not ``exclude_site``'s, which the caller hands over
    itself) were handed to the broker; 0 if it was not paused."""
    now = now or timezone.now()
    lifted = Circuit.objects.filter(name=circuit.circuit_name(), token_paused_at__isnull=False).update(
        token_paused_at=None, token_paused_reason="", token_probe_at=None
    )
    if not lifted:
        return 0
    logger.warning("the CRM token is accepted again: leads resume")
    leads = Submission.objects.filter(kind=Submission.Kind.LEAD)
    if exclude_site is not None:
        leads = leads.exclude(site=exclude_site)
    return _hand_over(leads, enqueue, now)


def resume_site_key(site: Site, *, enqueue: Callable[[str], bool], now: datetime | None = None) -> int:
    """Lift ``site``'s siteKey pause; returns how many of its waiting messages were handed to the broker."""
    now = now or timezone.now()
    lifted = Site.objects.filter(pk=site.pk, paused_at__isnull=False).update(
        paused_at=None, paused_reason="", site_key_probe_at=None
    )
    if not lifted:
        return 0
    logger.warning("the siteKey of site %r is accepted again: its messages and hits resume", site.name)
    return _hand_over(Submission.objects.filter(site=site, kind=Submission.Kind.MESSAGE), enqueue, now)


# --- probing --------------------------------------------------------------------------------------------------


def probe_credentials(*, enqueue: Callable[[str], bool], now: datetime | None = None) -> dict[str, int]:
    """Probe each paused credential whose probe is due (one caller wins each, by a conditional update); returns
    ``{"probed": n, "resumed": n}``. Does nothing while the circuit is open (no answer would prove anything)."""
    now = now or timezone.now()
    counts = {"probed": 0, "resumed": 0}
    if circuit.get_circuit().state != Circuit.State.CLOSED:
        return counts
    next_probe = now + timedelta(seconds=float(bridge_settings.CREDENTIAL_PROBE_INTERVAL))
    won = Circuit.objects.filter(
        name=circuit.circuit_name(), token_paused_at__isnull=False, token_probe_at__lte=now
    ).update(token_probe_at=next_probe)
    if won:
        counts["probed"] += 1
        if _probe(None, "Customer/NameIsRepeat", {"sName": PROBE_NAME, "id": 0}, now):
            counts["resumed"] += 1
            resume_token(enqueue=enqueue, now=now)
    due_sites = Site.objects.filter(paused_at__isnull=False, site_key_probe_at__lte=now, is_active=True)
    for site in due_sites:
        if not Site.objects.filter(pk=site.pk, site_key_probe_at=site.site_key_probe_at).update(
            site_key_probe_at=next_probe
        ):
            continue  # another probe has it
        counts["probed"] += 1
        # Any catalogue item will do (adding 0 views changes nothing); one the site counts is surely known.
        pkid = HitCounter.objects.filter(site=site).order_by("-pk").values_list("pkid", flat=True).first() or 1
        if _probe(site, "ECommerce/UpdateBaseInfoHit", {"pkid": pkid, "addHit": 0}, now):
            counts["resumed"] += 1
            resume_site_key(site, enqueue=enqueue, now=now)
    return counts


def _probe(site: Site | None, path: str, params: dict[str, Any], now: datetime) -> bool:
    """One probe call (recorded as an attempt of no submission); True when the credential was accepted."""
    call = make_call(None, site_key=site.site_key if site else None, priority="low")
    try:
        call(path, params)
    except CRMAuthError as err:
        reason = _reason(err)
        if site is None:
            Circuit.objects.filter(name=circuit.circuit_name()).update(token_paused_reason=reason)
        else:
            Site.objects.filter(pk=site.pk).update(paused_reason=reason)
        circuit.record_success(now)  # the CRM answered
        return False
    except CRMRejected:
        circuit.record_success(now)
        return True
    except CRMUnavailable as err:
        circuit.record_failure(str(err), now)
        return False
    except (RateLimited, CRMError):  # no usable answer: the next probe asks again
        return False
    circuit.record_success(now)
    return True
