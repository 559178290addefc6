"""The sandbox's admin pages render and never show a siteKey."""

from __future__ import annotations

import pytest

from crm_bridge.sandbox import control

from .conftest import SITE_KEY


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    # admin_client creates a superuser per test; the default PBKDF2 would cost ~1 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.parametrize(
    "model", ["customer", "linkman", "message", "hit", "requestlog", "fault", "contract", "contactplan"]
)
def test_changelists_render_without_credentials(admin_client, crm, model):
    crm.post("ECommerce/AddMessageBoard", custID=1, content="留言内容", contact="联系人")
    crm.post("ECommerce/UpdateBaseInfoHit", pkid=3, addHit=2)
    control.inject_fault("slow", endpoint="LinkMan/*")
    response = admin_client.get(f"/admin/crm_sandbox/{model}/")
    assert response.status_code == 200
    assert SITE_KEY.encode() not in response.content


def test_message_shows_a_fingerprint(admin_client, crm):
    crm.post("ECommerce/AddMessageBoard", custID=1, content="留言内容")
    (message,) = control.messages()
    response = admin_client.get("/admin/crm_sandbox/message/")
    assert message["site"].encode() in response.content
    detail = admin_client.get("/admin/crm_sandbox/message/1/change/")
    assert detail.status_code == 200
    assert SITE_KEY.encode() not in detail.content


def test_credential_override_is_not_in_admin(admin_client):
    control.set_credentials(tokens=["t"])
    assert admin_client.get("/admin/crm_sandbox/credentialoverride/").status_code == 404
