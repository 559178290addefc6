"""The public control surface: the Python API (crm_bridge.sandbox.control) and the HTTP API at /_sandbox/."""

from __future__ import annotations

import json

import pytest

from crm_bridge.sandbox import control, credentials
from crm_bridge.sandbox.models import CredentialOverride, Fault

from .conftest import OTHER_SITE_KEY, SITE_KEY, TOKEN


class TestPythonAPI:
    def test_calls_counts_every_outcome(self, crm):
        crm.post("Customer/Get", id=1)
        crm.post("Customer/Get", id=99)
        crm.post("Customer/Get", auth=False, id=1)
        crm.post("LinkMan/GetLinkMan", id=1)
        assert control.calls("Customer/Get") == 3
        assert control.calls("/WebApi/Handler/1.0/CRM/Customer/Get.ashx") == 3
        assert control.calls("LinkMan/GetLinkMan") == 1
        assert control.calls() == 4
        assert [e.http_status for e in control.request_log("Customer/Get")] == [200, 404, 401]

    def test_set_credentials_replaces_tokens(self, crm):
        control.set_credentials(tokens=["rotated"])
        assert crm.post("Customer/Get", id=1).status_code == 401
        assert crm.post("Customer/Get", auth=False, token="rotated", id=1).status_code == 200
        # site keys were left as they were
        assert crm.value("ECommerce/UpdateBaseInfoHit", pkid=1, addHit=1) is True

    def test_set_credentials_replaces_site_keys(self, crm):
        control.set_credentials(site_keys=[OTHER_SITE_KEY])
        assert crm.post("ECommerce/AddMessageBoard", custID=1, content="x").json()["error_code"] == 21302
        assert crm.value("ECommerce/AddMessageBoard", siteKey=OTHER_SITE_KEY, custID=1, content="x") is True
        assert crm.value("Customer/Get", id=1)["id"] == 1

    def test_empty_list_accepts_none(self, crm):
        control.set_credentials(tokens=[])
        assert crm.post("Customer/Get", id=1).json()["error_code"] == 21301

    def test_override_stores_digests_only(self):
        control.set_credentials(tokens=["tok-1", "tok-2"], site_keys=["site-1"])
        row = CredentialOverride.objects.get()
        stored = json.dumps([row.token_digests, row.site_key_digests, str(row)])
        for secret in ("tok-1", "tok-2", "site-1"):
            assert secret not in stored
        assert str(row) == "2 token(s), 1 site key(s)"

    def test_reset_restores_configured_credentials(self, crm):
        control.set_credentials(tokens=["rotated"])
        control.reset()
        assert crm.post("Customer/Get", id=1).status_code == 200

    def test_process_defaults_beat_settings(self, crm, monkeypatch):
        monkeypatch.setattr(credentials, "_process_defaults", None)
        credentials.configure_defaults(tokens=["from-command-line"])
        assert crm.post("Customer/Get", id=1).status_code == 401
        assert crm.post("Customer/Get", auth=False, token="from-command-line", id=1).status_code == 200
        assert crm.value("ECommerce/UpdateBaseInfoHit", pkid=1, addHit=1) is True  # site keys kept

    def test_messages_and_hits_per_site(self, crm):
        crm.post("ECommerce/AddMessageBoard", custID=3, content="甲", contact="c")
        crm.post("ECommerce/AddMessageBoard", siteKey=OTHER_SITE_KEY, custID=4, content="乙")
        crm.post("ECommerce/UpdateBaseInfoHit", siteKey=OTHER_SITE_KEY, pkid=5, addHit=7)
        everything = control.messages()
        assert [(m["custID"], m["content"]) for m in everything] == [(3, "甲"), (4, "乙")]
        assert everything[0]["site"] != everything[1]["site"]
        assert len(everything[0]["site"]) == 8
        assert SITE_KEY not in json.dumps(everything)
        assert [m["content"] for m in control.messages(site_key=OTHER_SITE_KEY)] == ["乙"]
        assert control.messages(site_key="unknown") == []
        assert (control.hits(5), control.hits(5, site_key=SITE_KEY)) == (7, 0)

    def test_customers_and_link_men(self, crm):
        assert [c["id"] for c in control.customers()] == [1, 2, 3, 4, 5]
        assert control.customers()[0]["sName"] == "上海华东机电设备有限公司"
        assert [m["sName"] for m in control.link_men(cust_id=1)] == ["王建国", "李娜"]
        assert len(control.link_men()) == 6

    def test_faults_helpers(self, crm):
        control.inject_fault("down", count=1)
        control.inject_fault("slow", endpoint="LinkMan/*")
        assert [f.kind for f in control.active_faults()] == ["down", "slow"]
        crm.post("Customer/Get", id=1)
        assert [f.kind for f in control.active_faults()] == ["slow"]
        assert control.clear_faults() == 2
        assert Fault.objects.count() == 0

    def test_state(self, crm):
        crm.post("Customer/Get", id=1)
        crm.post("Customer/Save", json={"sName": "新"})
        crm.post("ECommerce/UpdateBaseInfoHit", pkid=1, addHit=4)
        control.inject_fault("down", endpoint="Sale/*")
        assert control.state() == {
            "customers": 6,
            "link_men": 6,
            "contact_history": 3,
            "contact_plans": 3,
            "call_history": 1,
            "sms": 0,
            "messages": 0,
            "hits": 4,
            "faults": 1,
            "requests": 3,
            "calls": {"Customer/Get": 1, "Customer/Save": 1, "ECommerce/UpdateBaseInfoHit": 1},
        }


class Control:
    """Calls the HTTP control API with the sandbox token in the header."""

    def __init__(self, client, token=TOKEN):
        self.client = client
        self.headers = {"X-Sandbox-Token": token} if token else {}

    def get(self, path, **query):
        return self.client.get(f"/_sandbox/{path}", query, headers=self.headers)

    def post(self, path, body=None, raw=None):
        data = raw if raw is not None else json.dumps(body or {})
        return self.client.post(f"/_sandbox/{path}", data, content_type="application/json", headers=self.headers)

    def delete(self, path):
        return self.client.delete(f"/_sandbox/{path}", headers=self.headers)


@pytest.fixture
def api(client) -> Control:
    return Control(client)


class TestHTTPAPI:
    @pytest.mark.parametrize("token", [None, "wrong", SITE_KEY])
    @pytest.mark.parametrize(("method", "path"), [("get", "state"), ("post", "reset"), ("delete", "faults")])
    def test_refuses_a_bad_token(self, client, token, method, path):
        response = getattr(Control(client, token=token), method)(path)
        assert response.status_code == 401
        assert response.json() == {"error_code": 21301, "error": "auth failed (token)", "request": f"/_sandbox/{path}"}

    def test_refused_request_changes_nothing(self, client):
        Control(client, token="wrong").post("faults", {"kind": "down"})
        assert Fault.objects.count() == 0

    def test_token_as_query_param(self, client):
        assert client.get("/_sandbox/state", {"token": TOKEN}).status_code == 200

    def test_state(self, api, crm):
        crm.post("Customer/Get", id=1)
        body = api.get("state").json()
        assert (body["customers"], body["requests"], body["calls"]) == (5, 1, {"Customer/Get": 1})

    def test_inject_list_and_clear_faults(self, api, crm):
        response = api.post("faults", {"kind": "error", "error_code": 10001, "endpoint": "Customer/*", "count": 1})
        assert response.status_code == 201
        fault = response.json()["fault"]
        assert {k: fault[k] for k in ("kind", "error_code", "endpoint", "remaining", "phase")} == {
            "kind": "error",
            "error_code": 10001,
            "endpoint": "Customer/*",
            "remaining": 1,
            "phase": "before",
        }
        assert [f["id"] for f in api.get("faults").json()["faults"]] == [fault["id"]]
        assert crm.post("Customer/Get", id=1).json()["error_code"] == 10001
        assert api.get("faults").json() == {"faults": []}  # spent
        api.post("faults", {"kind": "down"})
        assert api.delete("faults").json() == {"cleared": 2}
        assert crm.post("Customer/Get", id=1).status_code == 200

    @pytest.mark.parametrize(
        ("body", "param"),
        [
            ({"kind": "explode"}, "kind"),
            ({"kind": "down", "rate": 2}, "rate"),
            ({"kind": "down", "endpoint": "Nope/*"}, "endpoint"),
            ({"kind": "down", "colour": "red"}, "colour"),
        ],
    )
    def test_invalid_fault(self, api, body, param):
        response = api.post("faults", body)
        assert response.status_code == 400
        assert response.json()["error_code"] == 10017
        assert response.json()["error"].startswith(f"parameter ({param})'s value invalid: ")
        assert Fault.objects.count() == 0

    def test_fault_without_kind(self, api):
        assert api.post("faults", {"rate": 1}).json()["error"] == "miss required parameter (kind)"

    @pytest.mark.parametrize("raw", ["not json", "[1]", '"x"'])
    def test_body_must_be_a_json_object(self, api, raw):
        response = api.post("faults", raw=raw)
        assert (response.status_code, response.json()["error_code"]) == (400, 10008)

    def test_reset(self, api, crm):
        crm.post("Customer/Save", json={"sName": "临时"})
        api.post("faults", {"kind": "slow"})
        assert api.post("reset").json() == {"reset": True}
        assert [c["id"] for c in control.customers()] == [1, 2, 3, 4, 5]
        assert Fault.objects.count() == 0
        assert control.calls() == 0

    def test_credentials(self, api, crm):
        response = api.post("credentials", {"tokens": ["t-new"], "site_keys": ["s-new", "s-2"]})
        assert response.json() == {"tokens": 1, "site_keys": 2}
        assert b"t-new" not in response.content
        assert crm.post("Customer/Get", id=1).status_code == 401
        assert crm.post("Customer/Get", auth=False, token="t-new", id=1).status_code == 200
        assert crm.post("ECommerce/UpdateBaseInfoHit", auth=False, siteKey="s-2", pkid=1, addHit=1).status_code == 200

    def test_configured_token_still_controls_after_revoking_all(self, api, crm):
        assert api.post("credentials", {"tokens": []}).json()["tokens"] == 0
        assert crm.post("Customer/Get", id=1).status_code == 401
        assert api.post("reset").status_code == 200  # the configured token still opens the control API
        assert crm.post("Customer/Get", id=1).status_code == 200

    def test_runtime_token_also_controls(self, api, client):
        api.post("credentials", {"tokens": ["t-new"]})
        assert Control(client, token="t-new").get("state").status_code == 200

    @pytest.mark.parametrize("body", [{"tokens": "abc"}, {"site_keys": [1]}])
    def test_credentials_validation(self, api, body):
        assert api.post("credentials", body).json()["error_code"] == 10017

    def test_wrong_method(self, api):
        assert api.post("state").status_code == 405
        assert api.get("reset").status_code == 405
