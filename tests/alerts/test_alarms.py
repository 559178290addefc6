"""Operational alarms: a paused site, a CRM circuit open too long, a dead letter — once per episode."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from crm_bridge import signals, testing
from crm_bridge.alerts import delivery, operational
from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.models import Circuit, Site


def make_destinations(site):
    AlertDestination.objects.create(site=site, kind="email", recipients="ops@acme.example")
    AlertDestination.objects.create(site=site, kind="email", recipients="sales@acme.example", on_alarms=False)


def test_paused_site_alarms_once_per_episode(site):
    make_destinations(site)
    now = timezone.now()
    site.paused_at, site.paused_reason = now, "The CRM refused the siteKey (21302)."
    site.save()
    assert delivery.detect_alarms(now) == 1
    assert delivery.detect_alarms(now + timedelta(minutes=1)) == 0
    alert = Alert.objects.get()
    assert alert.kind == "alarm" and "21302" in alert.text and alert.destination.recipients == "ops@acme.example"
    site.paused_at = now + timedelta(hours=1)  # resumed and paused again: a new episode
    site.save()
    assert delivery.detect_alarms(now + timedelta(hours=1)) == 1
    assert Alert.objects.count() == 2


def test_crm_unreachable_longer_than_n_minutes_alarms_every_site_once(site):
    other = Site.objects.create(name="Other", site_key="k2")
    make_destinations(site)
    make_destinations(other)
    now = timezone.now()
    Circuit.objects.create(name="crm", state=Circuit.State.OPEN, opened_at=now - timedelta(minutes=5))
    assert delivery.detect_alarms(now) == 0  # not yet 10 minutes
    later = now + timedelta(minutes=6)
    assert delivery.detect_alarms(later) == 2
    assert delivery.detect_alarms(later + timedelta(minutes=1)) == 0
    assert Alert.objects.filter(kind="alarm", alarm_key__startswith="crm_unreachable:").count() == 2


def test_dead_letter_alarm_from_the_failed_signal(site):
    make_destinations(site)
    sub = testing.submission(site, "lead", status="failed", attempts=30)
    signals.send_logged(signals.submission_failed, sub)
    signals.send_logged(signals.submission_failed, sub)  # the same episode twice: one alarm
    alert = Alert.objects.get()
    assert "30" in alert.text and "admin/crm_bridge/submission/" in alert.text
    assert sub.payload["tel"] not in alert.text and sub.payload["name"] not in alert.text


def test_operational_without_a_key_always_alarms(site):
    make_destinations(site)
    assert len(operational(site, "custom", "Something to look at")) == 1
    assert len(operational(site, "custom", "Something to look at")) == 1
    assert len(operational(None, "custom", "For everyone")) == 1


def test_refused_token_alarms_every_site_once_per_episode(site):
    other = Site.objects.create(name="Other", site_key="k2")
    make_destinations(site)
    make_destinations(other)
    now = timezone.now()
    Circuit.objects.create(name="crm", token_paused_at=now, token_paused_reason="error_code=21301 token invalid")
    assert delivery.detect_alarms(now) == 2  # the token holds every site's leads: each site's alarm destination
    assert delivery.detect_alarms(now + timedelta(minutes=1)) == 0
    alerts = Alert.objects.filter(kind="alarm", alarm_key__startswith="token_paused:")
    assert sorted(a.destination.recipients for a in alerts) == ["ops@acme.example", "ops@acme.example"]
    assert all("21301" in a.text and "token" in a.text for a in alerts)
    Circuit.objects.update(token_paused_at=now + timedelta(hours=1))  # resumed and refused again: a new episode
    assert delivery.detect_alarms(now + timedelta(hours=1)) == 2
