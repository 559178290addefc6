"""Request validation and the error contract: credential → required → types → handler, unknown endpoints,
how params arrive (GET, POST, multipart), and that a credential is never echoed or logged."""

from __future__ import annotations

import logging

import pytest

from crm_bridge.crm import spec
from crm_bridge.sandbox import control, handlers
from crm_bridge.sandbox.models import Customer, RequestLog

from .conftest import SITE_KEY, TOKEN, url

WITH_REQUIRED_INPUTS = [e for e in spec.ENDPOINTS if any(p.required for p in e.inputs)]


@pytest.mark.parametrize("endpoint", WITH_REQUIRED_INPUTS, ids=lambda e: e.path)
def test_missing_required_param_names_the_first_one(crm, endpoint):
    first = next(p for p in endpoint.inputs if p.required)
    assert crm.error(endpoint.path) == (400, 10016, f"miss required parameter ({first.name})")


def test_blank_required_param_counts_as_missing(crm):
    assert crm.error("Customer/NameIsRepeat", sName="  ", id=0) == (400, 10016, "miss required parameter (sName)")


def test_tran_is_never_required(crm):
    assert crm.value("Customer/Update", customer={"id": 1, "remark": "x"}) is True
    assert crm.value("LinkMan/SaveLinkMan", man={"id": 1, "tel": "1"}) == 1


@pytest.mark.parametrize("text", ["abc", "1.5", " 1", "1 ", "", "١", "2147483648", "-2147483649", "0x10", "--1"])
def test_int32_refused(crm, text):
    status, code, message = crm.error("Customer/Get", id=text)
    if text.strip() == "":
        assert (code, message) == (10016, "miss required parameter (id)")
    else:
        assert (status, code, message) == (400, 10017, "parameter (id)'s value invalid")


@pytest.mark.parametrize(("text", "expected_id"), [("2147483647", None), ("-2147483648", None), ("+1", 1), ("001", 1)])
def test_int32_accepted(crm, text, expected_id):
    response = crm.post("Customer/Get", id=text)
    if expected_id is None:
        assert response.json()["error_code"] == 20101  # a valid Int32, just no such customer
    else:
        assert response.json()["value"]["id"] == expected_id


SMS = {
    "senderID": 1,
    "mobilePhone": "13800000000",
    "content": "hi",
    "sendType": 0,
    "messageTempleID": "T1",
}


@pytest.mark.parametrize(
    "text",
    ["2024-02-30 10:00:00", "2024-1-01 10:00:00", "2024-01-01T10:00:00", "2024-01-01 10:00", "2024-01-01 24:00:00"],
)
def test_datetime_refused(crm, text):
    assert crm.error("Customer/InsertSms", sendDate=text, **SMS) == (400, 10017, "parameter (sendDate)'s value invalid")


def test_datetime_accepted(crm):
    assert crm.value("Customer/InsertSms", sendDate="2024-02-29 23:59:59", **SMS) is True


@pytest.mark.parametrize("text", ["[1, 2]", '"x"', "null", "{bad json", '{"sName": NaN}', '{"sName": Infinity}'])
def test_json_must_be_an_object(crm, text):
    assert crm.error("Customer/Save", json=text) == (400, 10017, "parameter (json)'s value invalid")
    assert Customer.objects.count() == 5


class TestCredentials:
    def test_missing_or_wrong_token(self, crm):
        assert crm.error("Customer/Get", auth=False, id=1) == (401, 21301, "auth failed (token)")
        assert crm.error("Customer/Get", auth=False, token="nope", id=1)[:2] == (401, 21301)
        assert crm.error("Customer/Get", auth=False, token="", id=1)[:2] == (401, 21301)

    def test_site_key_for_ecommerce(self, crm):
        ok = {"pkid": 1, "addHit": 1}
        assert crm.error("ECommerce/UpdateBaseInfoHit", auth=False, **ok) == (401, 21302, "auth failed (siteKey)")
        assert crm.error("ECommerce/UpdateBaseInfoHit", auth=False, siteKey="nope", **ok)[:2] == (401, 21302)
        # A valid token is not a siteKey ...
        assert crm.error("ECommerce/UpdateBaseInfoHit", auth=False, siteKey=TOKEN, **ok)[:2] == (401, 21302)
        # ... and a wrong token does not matter to the siteKey handlers.
        assert crm.value("ECommerce/UpdateBaseInfoHit", token="whatever", **ok) is True

    def test_a_site_key_is_not_a_token(self, crm):
        assert crm.error("Customer/Get", auth=False, token=SITE_KEY, id=1)[:2] == (401, 21301)


class TestOrderOfChecks:
    def test_credential_before_required(self, crm):
        assert crm.error("Customer/Get", auth=False, token="nope")[1] == 21301

    def test_required_before_types(self, crm):
        assert crm.error("Customer/NameIsRepeat", id="abc")[1:] == (10016, "miss required parameter (sName)")

    def test_required_before_format(self, crm):
        assert crm.error("Customer/Get", format="yaml")[1] == 10016

    def test_types_before_handler(self, crm):
        assert crm.error("Customer/Update", customer="[]")[1] == 10017


class TestFormat:
    def test_unknown_format(self, crm):
        response = crm.post("Customer/Get", id=1, format="yaml")
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.json()["error"] == "parameter (format)'s value invalid"

    @pytest.mark.parametrize("fmt", ["xml", "XML", " xml "])
    def test_xml_any_case(self, crm, fmt):
        response = crm.post("ContactPlan/GetContactPlanCount", format=fmt)
        assert response["Content-Type"] == "application/xml; charset=utf-8"

    def test_empty_format_is_json(self, crm):
        assert crm.post("ContactPlan/GetContactPlanCount", format="").json() == {"value": 3}


class TestTransport:
    def test_get_query(self, crm):
        assert crm.get("Customer/Get", id=2).json()["value"]["id"] == 2

    def test_body_wins_over_query(self, client):
        response = client.post(f"{url('Customer/Get')}?id=1&token=wrong", {"id": "2", "token": TOKEN})
        assert response.json()["value"]["id"] == 2

    def test_query_and_body_merge(self, client):
        response = client.post(f"{url('Customer/Get')}?token={TOKEN}", {"id": "3"})
        assert response.json()["value"]["id"] == 3

    def test_multipart(self, client):
        response = client.post(url("Customer/Save"), {"token": TOKEN, "json": '{"sName": "多部分"}'})  # multipart
        assert response.json() == {"value": True}
        assert Customer.objects.get(pk=6).s_name == "多部分"

    def test_urlencoded(self, client):
        response = client.post(
            url("Customer/NameIsRepeat"),
            f"token={TOKEN}&sName=%E5%BC%A0%E4%BC%9F&id=0",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.json() == {"value": True}

    def test_unknown_params_are_ignored(self, crm):
        assert crm.value("Customer/Get", id=1, callback="x", _=123)["id"] == 1


class TestUnknownEndpoint:
    @pytest.mark.parametrize(
        "path", ["Customer/Nope.ashx", "Nope/Get.ashx", "Customer/Get", "Customer/Get.aspx", "", "Customer/Get.ashx/x"]
    )
    def test_404_10020(self, client, path):
        full = f"/{spec.PATH_PREFIX}{path}"
        response = client.get(full, {"token": TOKEN})
        assert response.status_code == 404
        assert response.json() == {"error_code": 10020, "error": "api not found", "request": full}

    def test_xml(self, client):
        response = client.get(f"/{spec.PATH_PREFIX}Customer/Nope.ashx", {"format": "xml"})
        assert response.status_code == 404
        assert b"<error_code>10020</error_code>" in response.content

    def test_known_handler_in_another_case_is_served(self, client):
        response = client.get(f"/{spec.PATH_PREFIX}customer/GET.ASHX", {"token": TOKEN, "id": 4})
        assert response.json()["value"]["id"] == 4
        assert control.calls("Customer/Get") == 1

    def test_is_logged(self, client):
        client.get(f"/{spec.PATH_PREFIX}Customer/Nope.ashx", {"token": TOKEN})
        (entry,) = control.request_log()
        assert (entry.endpoint, entry.http_status, entry.error_code, entry.params) == (
            "Customer/Nope.ashx",
            404,
            10020,
            {},
        )


class TestNoCredentialLeaks:
    def test_error_reply_names_the_path_not_the_query(self, client):
        response = client.get(url("Customer/Get"), {"token": "secret-wrong-token", "id": "x"})
        assert b"secret-wrong-token" not in response.content
        assert response.json()["request"] == url("Customer/Get")

    def test_request_log_has_no_credentials(self, crm, client):
        crm.post("Customer/Get", id=1)
        crm.post("ECommerce/AddMessageBoard", custID=1, content="x", token="also-secret")
        client.post(url("Customer/Get"), {"Token": "odd-case-secret", "id": 1})
        logged = RequestLog.objects.order_by("id")
        assert [e.params for e in logged] == [
            {"id": "1"},
            {"custID": "1", "content": "x"},
            {"id": "1"},
        ]
        text = repr(list(logged.values()))
        for secret in (TOKEN, SITE_KEY, "also-secret", "odd-case-secret"):
            assert secret not in text


class TestInternalError:
    def test_handler_exception_is_10001_and_rolled_back(self, crm, monkeypatch, caplog):
        def broken(call):
            Customer.objects.filter(pk=1).update(s_name="half-done")
            raise RuntimeError("boom")

        monkeypatch.setitem(handlers.HANDLERS, "Customer/Get", broken)
        with caplog.at_level(logging.ERROR, logger="crm_bridge.sandbox"):
            assert crm.error("Customer/Get", id=1) == (500, 10001, "system error")
        assert Customer.objects.get(pk=1).s_name == "上海华东机电设备有限公司"
        assert "sandbox handler Customer/Get failed" in caplog.text
        assert TOKEN not in caplog.text
        assert RequestLog.objects.get().error_code == 10001
