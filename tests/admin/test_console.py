"""The CRM API console: access, forms generated from the spec, confirmation, and what a call shows.

Calls here go through the real ``CRMClient`` with an injected session that answers like the CRM (so encoding,
error mapping and secret scrubbing are the client's own); ``test_console_sandbox`` calls the sandbox over HTTP.
"""

from __future__ import annotations

import io
import json
import re

import pytest
import requests
from django import forms
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from crm_bridge.admin.forms import ConsoleForm
from crm_bridge.crm import CRMClient
from crm_bridge.crm.spec import ENDPOINTS, INT32_MAX, INT32_MIN, get_endpoint

from .conftest import SITE_KEY, assert_no_secret

pytestmark = pytest.mark.django_db

CONSOLE = reverse("admin:crm_bridge_console")
TOKEN = "tok-CONSOLE-secret-31"


class FakeSession(requests.Session):
    """Answers every POST with ``reply`` (a dict → JSON body, or a callable(form) → dict) and records the forms."""

    def __init__(self, reply, status: int = 200) -> None:
        super().__init__()
        self.reply, self.status, self.forms = reply, status, []

    def post(self, url, data=None, **kwargs):
        self.forms.append({"url": url, **data})
        body = self.reply(data) if callable(self.reply) else self.reply
        response = requests.Response()
        response.status_code = self.status
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        response.raw = io.BytesIO(json.dumps(body, ensure_ascii=False).encode())
        response.url = url
        return response


@pytest.fixture
def crm(monkeypatch):
    """``crm(reply, status=200)`` points the console at a client whose session answers ``reply``."""

    def install(reply, status: int = 200) -> FakeSession:
        session = FakeSession(reply, status)
        client = CRMClient(base_url="https://crm.example/WebApi/Handler/1.0/CRM/", token=TOKEN, session=session)
        monkeypatch.setattr("crm_bridge.connection.get_client", lambda: client)
        return session

    return install


def post(client, path: str, data: dict):
    return client.post(f"{CONSOLE}?endpoint={path}", data)


# --- access -------------------------------------------------------------------------------------------


def test_anonymous_and_non_staff_are_sent_to_login(client, db):
    login = reverse("admin:login")
    assert client.get(CONSOLE).url == f"{login}?next={CONSOLE}"
    user = User.objects.create_user("visitor", password="pw", is_staff=False)
    client.force_login(user)
    response = client.get(CONSOLE)
    assert response.status_code == 302 and response.url == f"{login}?next={CONSOLE}"
    response = client.post(f"{CONSOLE}?endpoint=Customer/Save", {"json": "{}", "console_confirm": "on"})
    assert response.status_code == 302 and response.url.startswith(login)


def test_staff_need_the_change_site_permission(client, db, crm):
    session = crm({"value": True})
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_site"))
    client.force_login(user)
    assert client.get(CONSOLE).status_code == 403
    assert client.post(f"{CONSOLE}?endpoint=Customer/NameIsRepeat", {"sName": "x", "id": "0"}).status_code == 403
    assert session.forms == []
    user.user_permissions.add(Permission.objects.get(codename="change_site"))
    client.force_login(User.objects.get(pk=user.pk))
    assert client.get(CONSOLE).status_code == 200


# --- pages --------------------------------------------------------------------------------------------


def test_index_lists_all_endpoints_grouped(admin_client):
    response = admin_client.get(CONSOLE)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("<option value=") == len(ENDPOINTS) + 1 == 40  # plus "choose an endpoint"
    assert body.count('<optgroup label="') == len({e.group for e in ENDPOINTS}) == 10
    assert body.count(">测试 / Try</a>") == 39
    assert body.count('<th colspan="5" class="crm-group" scope="rowgroup">') == 10
    assert '<option value="Customer/NameIsRepeat">Customer/NameIsRepeat — 判断新添加的客户是否重名</option>' in body
    assert body.count('<span class="crm-tag crm-tag-read">') == sum(e.read_only for e in ENDPOINTS) == 14
    assert "<code>https://" in body or "<code>http://" in body  # which CRM it calls
    # Every header cell has text, if only for screen readers (axe's empty-table-header).
    headers = re.findall(r"<th\b[^>]*>(.*?)</th>", body, re.S)
    assert [h for h in headers if not re.sub(r"<[^>]+>", "", h).strip()] == []
    start = body.index('<table class="crm-endpoints"')
    table = body[start : body.index("</table>", start)]
    assert table.count("<th ") == 5 + 10  # the column headers and the group rows
    assert '<th scope="col"><span class="visually-hidden">Try</span></th>' in body


def test_unknown_endpoint(admin_client):
    response = admin_client.get(CONSOLE, {"endpoint": "Customer/Nope"})
    assert response.status_code == 200
    assert "There is no CRM endpoint “Customer/Nope”" in response.content.decode()
    assert response.context["form"] is None


def test_name_is_repeat_form(admin_client):
    response = admin_client.get(CONSOLE, {"endpoint": "Customer/NameIsRepeat"})
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.fields) == ["sName", "id"]
    assert form.fields["sName"].required and isinstance(form.fields["sName"], forms.CharField)
    assert isinstance(form.fields["id"], forms.IntegerField) and form.fields["id"].required
    assert (form.fields["id"].min_value, form.fields["id"].max_value) == (INT32_MIN, INT32_MAX)
    assert form.fields["sName"].help_text == "客户名称 · String"
    body = response.content.decode()
    assert '<input type="text" name="sName"' in body and '<input type="number" name="id"' in body
    for absent in ('name="token"', 'name="format"', 'name="tran"', 'name="siteKey"', 'name="console_confirm"'):
        assert absent not in body
    assert "判断新添加的客户是否重名" in body


def test_forms_of_all_39_endpoints_follow_the_spec():
    kinds = {"int32": forms.IntegerField, "datetime": forms.DateTimeField, "string": forms.CharField}
    for endpoint in ENDPOINTS:
        form = ConsoleForm(endpoint)
        expected = [p.name for p in endpoint.inputs]
        if endpoint.auth == "siteKey":
            expected.append("console_site")
        if not endpoint.read_only:
            expected.append("console_confirm")
        assert list(form.fields) == expected, endpoint.path
        assert not {"token", "siteKey", "format", "tran"} & set(form.fields), endpoint.path
        for param in endpoint.inputs:
            field = form.fields[param.name]
            assert field.required == param.required, (endpoint.path, param.name)
            if param.type in kinds:
                assert isinstance(field, kinds[param.type]), (endpoint.path, param.name)
            else:
                assert isinstance(field.widget, forms.Textarea), (endpoint.path, param.name)


def test_ecommerce_form_picks_a_site_not_a_key(admin_client, site):
    response = admin_client.get(CONSOLE, {"endpoint": "ECommerce/AddMessageBoard"})
    body = response.content.decode()
    assert list(response.context["form"].fields) == ["custID", "content", "contact", "console_site", "console_confirm"]
    assert f'<option value="{site.pk}">Acme 测试 ({site.public_key})</option>' in body
    assert_no_secret(body, SITE_KEY)


# --- calls --------------------------------------------------------------------------------------------


def test_read_only_call_shows_value_status_and_time(admin_client, crm):
    session = crm({"value": True})
    response = post(admin_client, "Customer/NameIsRepeat", {"sName": "上海华东机电", "id": "0"})
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.ok, result.http_status, result.value_json) == (True, 200, "true")
    assert result.elapsed_ms >= 0
    body = response.content.decode()
    assert '<pre id="crm-value"><code>true</code></pre>' in body
    assert '<strong id="crm-http-status">200</strong>' in body
    (sent,) = session.forms
    assert sent["url"] == "https://crm.example/WebApi/Handler/1.0/CRM/Customer/NameIsRepeat.ashx"
    assert (sent["sName"], sent["id"], sent["format"]) == ("上海华东机电", "0", "json")
    assert_no_secret(body, TOKEN)


def test_value_is_pretty_json_with_chinese_kept(admin_client, crm):
    crm({"value": {"id": 5, "sName": "张伟", "tags": ["a", "b"]}})
    response = post(admin_client, "Customer/Get", {"id": "5"})
    assert response.context["result"].value_json == json.dumps(
        {"id": 5, "sName": "张伟", "tags": ["a", "b"]}, ensure_ascii=False, indent=2
    )
    assert "&quot;sName&quot;: &quot;张伟&quot;" in response.content.decode()


def test_write_needs_confirmation(admin_client, crm):
    session = crm({"value": True})
    data = {"json": '{"sName": "新客户", "tel": "13800000000"}'}
    response = post(admin_client, "Customer/Save", data)
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "console_confirm": ["This endpoint changes CRM data: tick the box to confirm."]
    }
    assert response.context["result"] is None and session.forms == []
    response = post(admin_client, "Customer/Save", {**data, "console_confirm": "on"})
    assert response.context["result"].ok
    assert [f["json"] for f in session.forms] == ['{"sName": "新客户", "tel": "13800000000"}']


def test_ecommerce_call_uses_the_sites_key_server_side(admin_client, site, crm):
    # A CRM that echoes what it got: the page must still never show the key.
    session = crm(lambda form: {"value": True, "echo": dict(form)})
    response = post(
        admin_client,
        "ECommerce/AddMessageBoard",
        {"custID": "1", "content": "你好", "console_site": str(site.pk), "console_confirm": "on"},
    )
    assert response.context["result"].ok
    (sent,) = session.forms
    assert sent["siteKey"] == SITE_KEY and "token" not in sent
    assert (sent["custID"], sent["content"]) == ("1", "你好")
    assert_no_secret(response.content, SITE_KEY, TOKEN)


def test_a_reply_echoing_the_token_is_scrubbed(admin_client, crm):
    crm(lambda form: {"value": {"id": 1, "sName": f"echo {form['token']}"}})
    response = post(admin_client, "Customer/Get", {"id": "1"})
    assert response.context["result"].value_json == '{\n  "id": 1,\n  "sName": "echo ***"\n}'
    assert_no_secret(response.content, TOKEN)


def test_crm_error_shows_class_and_record_scrubbed(admin_client, site, crm):
    crm({"error_code": 10003, "error": f"bad siteKey {SITE_KEY}", "request": "/x"}, status=401)
    response = post(
        admin_client,
        "ECommerce/UpdateBaseInfoHit",
        {"pkid": "7", "addHit": "1", "console_site": str(site.pk), "console_confirm": "on"},
    )
    result = response.context["result"]
    assert (result.ok, result.error_class, result.http_status) == (False, "CRMAuthError", 401)
    record = json.loads(result.error_json)
    assert (record["error"], record["error_code"], record["endpoint"]) == (
        "CRMAuthError",
        10003,
        "ECommerce/UpdateBaseInfoHit",
    )
    body = response.content.decode()
    assert "Error: <code>CRMAuthError</code>" in body
    assert '<pre id="crm-error"><code>{' in body
    assert_no_secret(body, SITE_KEY, TOKEN)


def test_bad_values_never_reach_the_crm(admin_client, crm):
    session = crm({"value": True})
    response = post(admin_client, "Customer/NameIsRepeat", {"sName": "", "id": str(INT32_MAX + 1)})
    errors = response.context["form"].errors
    assert set(errors) == {"sName", "id"}
    assert errors["id"] == [f"Ensure this value is less than or equal to {INT32_MAX}."]
    response = post(admin_client, "Customer/Save", {"json": "[1, 2]", "console_confirm": "on"})
    assert response.context["form"].errors["json"] == ['Must be a JSON object, e.g. {"sName": "…"}.']
    assert session.forms == []


def test_datetime_params_go_as_wall_clock(admin_client, crm):
    session = crm({"value": True})
    endpoint = get_endpoint("ContactPlan/SaveContactPlan")
    data = {p.name: "1" for p in endpoint.inputs if p.type == "int32"}
    data.update(title="回访", content="电话回访", next_time="2013-05-05T10:25:30", console_confirm="on")
    response = post(admin_client, "ContactPlan/SaveContactPlan", data)
    assert response.context["result"].ok, response.context["form"].errors
    assert session.forms[0]["next_time"] == "2013-05-05 10:25:30"


def test_missing_configuration_is_shown_not_raised(admin_client, settings):
    settings.CRM_BRIDGE = {"BASE_URL": "", "TOKEN": ""}
    response = post(admin_client, "Customer/Get", {"id": "1"})
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.ok, result.error_class) == (False, "CRMBridgeImproperlyConfigured")
    assert "BASE_URL" in result.error_message


def test_console_calls_are_logged_without_params(admin_client, crm, caplog):
    crm({"value": False})
    with caplog.at_level("INFO", logger="crm_bridge.admin"):
        post(admin_client, "Customer/TelIsRepeat", {"tel": "13800009999", "id": "0"})
    (line,) = [r.getMessage() for r in caplog.records if r.name == "crm_bridge.admin"]
    assert line == "admin console: admin called Customer/TelIsRepeat: ok"
