"""Page-view counts: counted at intake, sent in sums (docs/delivery.md, "Hits").

A flush sends ``ECommerce/UpdateBaseInfoHit(pkid, addHit=pending)`` per counter and subtracts exactly what it
sent, so views that arrive during the call stay pending, and a failed flush keeps its count for the next one.
Each counter is claimed with a lease (a conditional update) so two flushes never send the same views.
Flushes run at low priority on the shared rate bucket: leads and messages go first.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from ..conf import bridge_settings
from ..crm.errors import CRMAuthError, CRMError, CRMUnavailable
from ..crm.spec import INT32_MAX
from ..intake import hitbuffer
from ..models import HitCounter
from . import circuit, storable
from .calls import make_call
from .pauses import pause

logger = logging.getLogger("crm_bridge.delivery")


def flush_hits(*, limit: int = 1000) -> int:
    """Flush up to ``limit`` counters with pending views; returns how many were sent successfully.

    Views this process still holds in memory (:mod:`crm_bridge.intake.hitbuffer`) are written to the counters
    first; web processes write theirs every ``HIT_BUFFER_SECONDS`` by themselves.
    """
    try:
        hitbuffer.buffer.flush()
    except Exception as err:  # kept in memory for the next flush; the counters already written still go out
        logger.warning("could not write buffered page views before the flush: %s: %s", type(err).__name__, err)
    now = timezone.now()
    sent = 0
    candidates = (
        HitCounter.objects.filter(pending__gt=0, site__is_active=True, site__paused_at__isnull=True)
        .filter(Q(flushing_until__isnull=True) | Q(flushing_until__lt=now))
        .select_related("site")
        .order_by("last_flushed_at", "pk")[:limit]
    )
    for counter in candidates:
        if not counter.site.feature("hits"):
            continue
        allowed, _ = circuit.allow_call()
        if not allowed:
            break
        lease = timezone.now() + timedelta(seconds=bridge_settings.LEASE_SECONDS)
        claimed = HitCounter.objects.filter(pk=counter.pk, flushing_until=counter.flushing_until).update(
            flushing_until=lease
        )
        if not claimed:
            continue  # another flush has it
        counter.refresh_from_db(fields=["pending"])
        amount = min(counter.pending, INT32_MAX)
        call = make_call(None, site_key=counter.site.site_key, priority="low")
        try:
            ok = amount > 0 and call("ECommerce/UpdateBaseInfoHit", {"pkid": counter.pkid, "addHit": amount})
        except CRMAuthError as err:
            _release(counter, str(err))
            pause(counter.site, err)  # the siteKey: this site's hits and messages wait for the probe
            continue
        except CRMUnavailable as err:
            circuit.record_failure(str(err))
            _release(counter, str(err))
            break  # the CRM is struggling: leave the rest for the next flush
        except CRMError as err:
            # A definite rejection (e.g. an unknown pkid): those views can never be sent; drop them, loudly.
            logger.error("CRM rejected %d hit(s) for pkid %s: %s; dropped", amount, counter.pkid, err)
            _settle(counter, amount, sent=False, error=f"dropped {amount}: {err}")
            continue
        except Exception as err:  # the rate limiter asked us to wait, or a bug: keep the count
            _release(counter, f"{type(err).__name__}: {err}")
            break
        circuit.record_success()
        if ok is True:
            _settle(counter, amount, sent=True)
            sent += 1
        else:
            _release(counter, "the CRM answered UpdateBaseInfoHit with value=false")
    return sent


def _settle(counter: HitCounter, amount: int, *, sent: bool, error: str = "") -> None:
    HitCounter.objects.filter(pk=counter.pk).update(
        pending=F("pending") - amount,
        sent=F("sent") + (amount if sent else 0),
        flushing_until=None,
        last_flushed_at=timezone.now(),
        last_error=storable.text(error),
    )


def _release(counter: HitCounter, error: str) -> None:
    HitCounter.objects.filter(pk=counter.pk).update(flushing_until=None, last_error=storable.text(error))
