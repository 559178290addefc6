"""``manage.py crm`` (call / list / describe) against the local fake server, and the shared client."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm_bridge import connection
from crm_bridge.crm import spec

from .conftest import TOKEN
from .fake_server import BASE_PATH, json_reply


@pytest.fixture
def crm_settings(settings, fake_crm):
    settings.CRM_BRIDGE = {
        "BASE_URL": fake_crm.base_url,
        "TOKEN": TOKEN,
        "READ_RETRIES": 0,
        "CONNECT_TIMEOUT": 1.0,
        "READ_TIMEOUT": 2.0,
    }
    yield settings
    connection.reset_client()


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("crm", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("crm", *args, stdout=out, stderr=err)
    return info.value.code, out.getvalue(), err.getvalue()


# --- call ---------------------------------------------------------------------------------------------------


def test_call_prints_the_value_as_pretty_json(crm_settings, fake_crm):
    value = {"id": 5, "name": "上海某某公司", "tags": ["a"]}
    fake_crm.reply(json_reply({"value": value}))

    out, err = run("call", "Customer/Get", "id=5")

    assert out == json.dumps(value, ensure_ascii=False, indent=2) + "\n"
    assert err == ""
    [received] = fake_crm.requests
    assert received.target == f"{BASE_PATH}Customer/Get.ashx"
    assert received.form == {"id": "5", "token": TOKEN, "format": "json"}


def test_call_types_values_by_the_spec(crm_settings, fake_crm):
    fake_crm.reply(json_reply({"value": True}))
    out, _ = run("call", "Customer/NameIsRepeat", "sName=007", "id=0")
    assert out == "true\n"
    assert fake_crm.requests[0].form == {"sName": "007", "id": "0", "token": TOKEN, "format": "json"}


def test_call_reads_a_file_with_at(crm_settings, fake_crm, tmp_path):
    customer = tmp_path / "customer.json"
    customer.write_text('{"name": "上海某某公司", "tel": "021-1234"}', encoding="utf-8")
    run("call", "Customer/Save", f"json=@{customer}")
    assert fake_crm.requests[0].form["json"] == '{"name": "上海某某公司", "tel": "021-1234"}'


def test_double_at_is_a_literal_at(crm_settings, fake_crm):
    run("call", "ECommerce/AddMessageBoard", "custID=1", "content=@@home", "--site-key", "K")
    assert fake_crm.requests[0].form["content"] == "@home"


def test_site_key_and_format_options(crm_settings, fake_crm):
    fake_crm.reply(json_reply({"value": "true"}))
    out, _ = run("call", "ECommerce/UpdateBaseInfoHit", "pkid=3", "addHit=2", "--site-key", "site-K", "--format", "xml")
    assert out == "true\n"
    assert fake_crm.requests[0].form == {"pkid": "3", "addHit": "2", "siteKey": "site-K", "format": "xml"}


def test_the_reply_is_scrubbed_of_credentials(crm_settings, fake_crm):
    fake_crm.reply(json_reply({"value": {"echo": f"your token is {TOKEN}"}}))
    out, _ = run("call", "Customer/Get", "id=1")
    assert TOKEN not in out
    assert json.loads(out) == {"echo": "your token is ***"}


# --- call: errors -------------------------------------------------------------------------------------------


def test_a_crm_error_is_one_line_on_stderr_and_exit_1(crm_settings, fake_crm, caplog):
    caplog.set_level(logging.DEBUG)
    fake_crm.reply(json_reply({"error_code": 21301, "error": f"token {TOKEN} refused", "request": "/x"}, status=401))

    code, out, err = run_failing("call", "Customer/Get", "id=5")

    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err == ("CRMAuthError: token *** refused (endpoint=Customer/Get http_status=401 error_code=21301)\n")
    assert "SECRET" not in err + out + caplog.text


def test_a_transport_error_is_one_line(crm_settings, fake_crm):
    fake_crm.reply(json_reply({"value": True}, status=503))
    code, _, err = run_failing("call", "Customer/Get", "id=5")
    assert code == 1
    assert (
        err == "CRMServerError: HTTP 503 Service Unavailable (endpoint=Customer/Get http_status=503 error_code=None)\n"
    )


def test_a_bad_value_fails_before_sending(crm_settings, fake_crm):
    code, _, err = run_failing("call", "Customer/Get", "id=five")
    assert code == 1
    assert err == (
        "CRMParamError: parameter 'id' (int32) must be an integer "
        "(endpoint=Customer/Get http_status=None error_code=None)\n"
    )
    assert fake_crm.requests == []


def test_passing_a_credential_is_refused_without_echoing_it(crm_settings, fake_crm):
    code, out, err = run_failing("call", "Customer/Get", "id=1", f"token={TOKEN}")
    assert code == 1
    assert err.startswith("CRMParamError: 'token' is a credential")
    assert "SECRET" not in out + err
    assert fake_crm.requests == []


def test_usage_errors(crm_settings, tmp_path):
    with pytest.raises(CommandError, match=r"no CRM endpoint 'Customer/Nope'"):
        run("call", "Customer/Nope")
    with pytest.raises(CommandError, match=r"expected name=value, got 'id5'"):
        run("call", "Customer/Get", "id5")
    with pytest.raises(CommandError, match=r"json: cannot read"):
        run("call", "Customer/Save", f"json=@{tmp_path / 'missing.json'}")


# --- list / describe ----------------------------------------------------------------------------------------


def test_list_shows_every_endpoint():
    out, _ = run("list")
    lines = out.splitlines()
    assert len(lines) == len(spec.ENDPOINTS) == 39
    assert [line.split()[0] for line in lines] == [e.path for e in spec.ENDPOINTS]
    [line] = [line for line in lines if line.startswith("ECommerce/AddMessageBoard ")]
    assert "添加留言反馈" in line
    assert "[write, siteKey]" in line
    assert line.endswith("custID:int32, content:string, contact:string?")


def test_describe_one_endpoint():
    out, _ = run("describe", "Customer/Save")
    assert out.splitlines()[0] == "Customer/Save: 保存客户信息"
    assert "  python:  client.customer.save(json=…)" in out
    assert "    json             json      required  客户json字符串  (python: json)" in out


def test_describe_accepts_the_full_handler_path():
    out, _ = run("describe", "/WebApi/Handler/1.0/CRM/LinkMan/InsertLinkMan.ashx")
    assert "client.linkman.insert_link_man(man=…)" in out
    assert "tran" not in out


# --- the shared client --------------------------------------------------------------------------------------


def test_get_client_is_shared_and_rebuilt_when_settings_change(crm_settings, fake_crm):
    first = connection.get_client()
    assert connection.get_client() is first
    assert first.config.base_url == fake_crm.base_url
    assert (first.config.read_retries, first.config.connect_timeout, first.config.read_timeout) == (0, 1.0, 2.0)

    crm_settings.CRM_BRIDGE = {**crm_settings.CRM_BRIDGE, "READ_RETRIES": 4, "FORMAT": "xml"}

    second = connection.get_client()
    assert second is not first
    assert (second.config.read_retries, second.config.format) == (4, "xml")


def test_get_client_names_a_missing_setting(settings):
    from crm_bridge.conf import CRMBridgeImproperlyConfigured

    settings.CRM_BRIDGE = {"BASE_URL": "http://127.0.0.1:9/CRM/"}
    try:
        with pytest.raises(CRMBridgeImproperlyConfigured, match=r"CRM_BRIDGE\['TOKEN'\] is required"):
            connection.get_client()
    finally:
        connection.reset_client()
