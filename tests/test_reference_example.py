"""An integrator's test of a site that uses crm_bridge, shown in docs/reference/testing.md (tools/docgen.py
includes this file's source there, so the documented example is one the suite runs)."""

import pytest
from django.utils import timezone

from crm_bridge import testing
from crm_bridge.models import Site, Submission
from crm_bridge.sandbox import control

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads use their own connections


@pytest.fixture
def site(live_server, settings):
    """The app pointed at the sandbox CRM that live_server serves (it is in INSTALLED_APPS and urls.py)."""
    settings.CRM_BRIDGE = testing.sandbox_settings(live_server.url)  # sandbox token, short timeouts
    control.reset()  # the sandbox's seed data, no faults, no calls logged
    return Site.objects.create(name="Acme", site_key=testing.SANDBOX_SITE_KEY, default_cust_id=1)


def send_lead(client, site, name, tel):
    """What the widget does: read the site's config, then post the form with the visitor's consent."""
    config = client.get("/crm/widget/v1/config", {"key": site.public_key}).json()
    lead = {"key": site.public_key, "name": name, "tel": tel, "consent": True, "version": config["privacy"]["version"]}
    response = client.post("/crm/widget/v1/leads", lead, content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_a_lead_becomes_a_crm_customer(client, site):
    send_lead(client, site, "张三", "13912345678")

    assert testing.deliver_due() == {"delivered": 1}  # what a Celery worker would do, in this process
    assert control.customers()[-1]["sName"] == "张三"
    assert control.calls("Customer/Save") == 1


def test_a_lead_waits_while_the_crm_is_down(client, site):
    control.inject_fault("down", endpoint="Customer/*", count=1)  # the next Customer/* call gets 503
    lead_id = send_lead(client, site, "李四", "13987654321")

    assert testing.deliver_due() == {"queued": 1}  # kept, to be retried later
    assert [c["sName"] for c in control.customers()].count("李四") == 0

    Submission.objects.filter(pk=lead_id).update(next_attempt_at=timezone.now())  # skip the back-off
    assert testing.deliver_due() == {"delivered": 1}
    assert [c["sName"] for c in control.customers()].count("李四") == 1
