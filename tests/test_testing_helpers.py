"""crm_bridge.testing is public API: it must do what its docstrings promise."""

import pytest

from crm_bridge import testing
from crm_bridge.models import Site, Submission

pytestmark = pytest.mark.django_db(transaction=True)


def test_sandbox_settings_accept_a_server_root_or_the_handler_base():
    root = testing.sandbox_settings("http://127.0.0.1:9/")
    base = testing.sandbox_settings("http://127.0.0.1:9/WebApi/Handler/1.0/CRM/", READ_TIMEOUT=9.0)
    assert root["BASE_URL"] == base["BASE_URL"] == "http://127.0.0.1:9/WebApi/Handler/1.0/CRM/"
    assert (root["READ_TIMEOUT"], base["READ_TIMEOUT"], root["TOKEN"]) == (2.0, 9.0, "sandbox-token")


def test_deliver_due_delivers_only_due_rows(live_server, settings):
    from datetime import timedelta

    from django.utils import timezone

    from crm_bridge.sandbox import control

    control.reset()
    settings.CRM_BRIDGE = testing.sandbox_settings(live_server.url)
    site = Site.objects.create(name="t", site_key=testing.SANDBOX_SITE_KEY, default_cust_id=1)
    testing.submission(site, "message")
    testing.submission(site, "lead", payload={"company": "", "name": "测", "tel": "13912345678"})
    later = testing.submission(site, "message", next_attempt_at=timezone.now() + timedelta(hours=1))
    spam = testing.submission(site, "message", status="spam")
    assert testing.deliver_due() == {"delivered": 2}
    assert len(control.messages()) == 1 and control.customers()[-1]["sName"] == "测"
    statuses = dict(Submission.objects.values_list("pk", "status"))
    assert (statuses[later.pk], statuses[spam.pk]) == ("queued", "spam")
