"""The group-robot stand-ins' keys are public test values (crm_bridge/sandbox/robots.py). docs/sandbox.md: they
answer "only where CRM_SANDBOX["ROBOTS"] is true: the default for a development site". A host site with DEBUG off
that mounts the sandbox and follows check W011's hint (``CRM_SANDBOX = {"TOKENS": [...], "SITE_KEYS": [...]}``:
no ``ROBOTS`` key) is not a development site, yet the stand-ins take anyone's messages there, and no check says
so. Only config/settings.py sets ``ROBOTS`` from ``PRODUCTION``; the app's own default should follow DEBUG."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from crm_bridge.sandbox import robots

pytestmark = pytest.mark.django_db


def test_a_host_site_with_debug_off_and_its_own_sandbox_credentials_has_the_robots_off():
    with override_settings(DEBUG=False, CRM_SANDBOX={"TOKENS": ["own-token-7f"], "SITE_KEYS": ["own-key-7f"]}):
        r = Client().post(
            f"/_robots/wecom/send?key={robots.WECOM_KEY}",
            {"msgtype": "text", "text": {"content": "anyone"}},
            content_type="application/json",
        )
    assert r.status_code == 404, r.content
