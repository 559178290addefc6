"""The CRM siteKey (and token) never appear in any admin page: a scan over every crm_bridge admin URL."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from crm_bridge.models import Circuit, DeliveryAttempt, HitCounter, Site

from .conftest import OTHER_KEY, SITE_KEY, assert_no_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def everything(site, make_submission, admin_client):
    """One of each row, a paused site, an edit in the history (the key replaced), attempts with replies."""
    paused = Site.objects.create(name="Paused", site_key=OTHER_KEY, paused_at=timezone.now(), paused_reason="refused")
    lead = make_submission("lead", status="failed", crm_reply={"Customer/Save": False})
    DeliveryAttempt.objects.create(
        submission=lead, endpoint="Customer/Save", outcome="rejected", reply={"value": False}
    )
    spam = make_submission("message", status="spam")
    HitCounter.objects.create(site=site, pkid=1, pending=3)
    circuit = Circuit.objects.create(name="http://crm.example/WebApi/Handler/1.0/CRM", state="open")
    # Replace the paused site's key through the form, so the history holds a key change.
    admin_client.post(
        reverse("admin:crm_bridge_site_change", args=[paused.pk]),
        {"name": "Paused", "new_site_key": "sk-REPLACED-secret-9", "features": ["messages"], "texts": "{}",
         "initial-texts": "{}", "default_cust_id": "0", "lead_mapping": "{}", "retention_days": "180"},
    )  # fmt: skip
    paused.refresh_from_db()
    assert paused.site_key == "sk-REPLACED-secret-9"
    return {"site": site, "paused": paused, "lead": lead, "spam": spam, "circuit": circuit}


def admin_urls(rows) -> list[str]:
    site, paused, lead, spam, circuit = (rows[k] for k in ("site", "paused", "lead", "spam", "circuit"))
    counter = HitCounter.objects.get()
    console = reverse("admin:crm_bridge_console")
    return [
        reverse("admin:index"),
        reverse("admin:app_list", args=["crm_bridge"]),
        reverse("admin:crm_bridge_site_changelist"),
        reverse("admin:crm_bridge_site_changelist") + "?q=sk",
        reverse("admin:crm_bridge_site_add"),
        *(reverse(f"admin:crm_bridge_site_{page}", args=[s.pk]) for s in (site, paused)
          for page in ("change", "history", "delete")),
        reverse("admin:crm_bridge_submission_changelist"),
        *(reverse(f"admin:crm_bridge_submission_{page}", args=[s.pk]) for s in (lead, spam)
          for page in ("change", "history")),
        reverse("admin:crm_bridge_hitcounter_changelist"),
        reverse("admin:crm_bridge_hitcounter_change", args=[counter.pk]),
        reverse("admin:crm_bridge_circuit_changelist"),
        reverse("admin:crm_bridge_circuit_change", args=[circuit.pk]),
        console,
        console + "?endpoint=ECommerce/AddMessageBoard",
        console + "?endpoint=ECommerce/UpdateBaseInfoHit",
        console + "?endpoint=Customer/Save",
    ]  # fmt: skip


def test_no_admin_page_carries_a_site_key(admin_client, everything):
    urls = admin_urls(everything)
    assert len(urls) == 24
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_no_secret(response.content, SITE_KEY, OTHER_KEY, "sk-REPLACED-secret-9")


def test_the_log_holds_no_key(everything):
    entries = list(LogEntry.objects.all())
    assert len(entries) == 1
    for entry in entries:
        for text in (entry.change_message, entry.object_repr, entry.get_change_message()):
            for secret in (SITE_KEY, OTHER_KEY, "sk-REPLACED-secret-9"):
                assert secret not in text
