"""The API console against the sandbox CRM over real HTTP (pytest-django's ``live_server``)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from crm_bridge.models import Site

from .conftest import SITE_KEY, assert_no_secret

CONSOLE = reverse("admin:crm_bridge_console")
TOKEN = "tok-LIVE-console-secret-77"
SANDBOX_PATH = "/WebApi/Handler/1.0/CRM/"


@pytest.fixture
def sandbox(live_server, settings, transactional_db):
    """The sandbox served by ``live_server``, reset and seeded, accepting only this module's token and the test
    site's key; crm_bridge's client pointed at it."""
    from crm_bridge.sandbox import control

    control.reset()
    settings.CRM_SANDBOX = {"TOKENS": [TOKEN], "SITE_KEYS": [SITE_KEY]}
    settings.CRM_BRIDGE = {
        "BASE_URL": live_server.url + SANDBOX_PATH,
        "TOKEN": TOKEN,
        "CONNECT_TIMEOUT": 2.0,
        "READ_TIMEOUT": 5.0,
        "READ_RETRIES": 0,
    }
    yield control
    control.clear_faults()


def call(client, path: str, data: dict):
    response = client.post(f"{CONSOLE}?endpoint={path}", data)
    assert response.status_code == 200
    return response, response.context["result"]


def test_name_is_repeat_against_the_sandbox(admin_client, sandbox):
    response, result = call(admin_client, "Customer/NameIsRepeat", {"sName": "上海华东机电设备有限公司", "id": "0"})
    assert (result.ok, result.http_status, result.value_json) == (True, 200, "true")
    body = response.content.decode()
    assert '<pre id="crm-value"><code>true</code></pre>' in body
    assert '<strong id="crm-http-status">200</strong>' in body
    _, result = call(admin_client, "Customer/NameIsRepeat", {"sName": "上海华东机电设备有限公司", "id": "1"})
    assert result.value_json == "false"  # the only customer with that name is the one asked about
    assert sandbox.calls("Customer/NameIsRepeat") == 2
    assert_no_secret(body, TOKEN, SITE_KEY)


def test_customer_get_shows_the_record(admin_client, sandbox):
    response, result = call(admin_client, "Customer/Get", {"id": "5"})
    assert result.ok and result.http_status == 200
    assert '"张伟"' in result.value_json
    assert "張" not in result.value_json and "\\u" not in result.value_json  # ensure_ascii=False
    assert_no_secret(response.content, TOKEN, SITE_KEY)


def test_add_message_board_with_a_sites_key(admin_client, sandbox, site):
    response, result = call(
        admin_client,
        "ECommerce/AddMessageBoard",
        {"custID": "1", "content": "控制台测试留言", "contact": "韩梅梅", "console_site": str(site.pk),
         "console_confirm": "on"},
    )  # fmt: skip
    assert (result.ok, result.value_json) == (True, "true")
    posted = sandbox.messages(site_key=SITE_KEY)
    assert [(m["custID"], m["content"], m["contact"]) for m in posted] == [(1, "控制台测试留言", "韩梅梅")]
    assert_no_secret(response.content, TOKEN, SITE_KEY)


def test_refused_site_key_shows_an_auth_error(admin_client, sandbox, db):
    other = Site.objects.create(name="Wrong key", site_key="sk-not-accepted-by-the-sandbox")
    response, result = call(
        admin_client,
        "ECommerce/UpdateBaseInfoHit",
        {"pkid": "101", "addHit": "3", "console_site": str(other.pk), "console_confirm": "on"},
    )
    assert (result.ok, result.error_class) == (False, "CRMAuthError")
    assert (result.http_status, json.loads(result.error_json)["error_code"]) == (401, 21302)
    assert sandbox.hits(101) == 0
    assert_no_secret(response.content, TOKEN, "sk-not-accepted-by-the-sandbox")


def test_crm_down_shows_a_retryable_error(admin_client, sandbox):
    sandbox.inject_fault("down", endpoint="Customer/Get", count=1)
    response, result = call(admin_client, "Customer/Get", {"id": "1"})
    assert (result.ok, result.error_class, result.http_status) == (False, "CRMServerError", 503)
    assert '"retryable": true' in result.error_json
    assert_no_secret(response.content, TOKEN)
