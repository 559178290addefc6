"""Fault injection: each kind's reply, before vs after the handler, rate, count, duration, endpoint
patterns, and what the request log records."""

from __future__ import annotations

import json
import logging
import time

import pytest

from crm_bridge.sandbox import control, faults
from crm_bridge.sandbox.models import Customer, Fault, RequestLog

NEW = {"json": {"sName": "故障测试公司"}}


def save(crm, **params):
    return crm.post("Customer/Save", **{**NEW, **params})


def created() -> int:
    return Customer.objects.filter(s_name="故障测试公司").count()


class TestKinds:
    def test_down_before_has_no_effect(self, crm):
        control.inject_fault("down")
        response = save(crm)
        assert response.status_code == 503
        assert response.json() == {
            "error_code": 10002,
            "error": "service unavailable",
            "request": "/WebApi/Handler/1.0/CRM/Customer/Save.ashx",
        }
        assert created() == 0

    def test_down_after_commits_then_fails(self, crm):
        control.inject_fault("down", phase="after")
        assert save(crm).status_code == 503
        assert created() == 1

    def test_down_in_xml(self, crm):
        control.inject_fault("down")
        response = save(crm, format="xml")
        assert response["Content-Type"] == "application/xml; charset=utf-8"
        assert b"<error_code>10002</error_code>" in response.content

    def test_down_precedes_credential_check(self, crm):
        control.inject_fault("down")
        assert crm.post("Customer/Get", auth=False, id=1).status_code == 503

    @pytest.mark.parametrize(
        ("kind", "delay", "expected"),
        [("slow", None, 1.0), ("slow", 2.5, 2.5), ("hang", None, 30.0), ("hang", 500, 120.0)],
    )
    def test_slow_and_hang_delay_then_answer(self, crm, slept, kind, delay, expected):
        control.inject_fault(kind, delay=delay)
        assert save(crm).json() == {"value": True}
        assert slept == [expected]
        assert created() == 1

    def test_slow_after_commits_before_sleeping(self, crm, monkeypatch):
        seen = []
        monkeypatch.setattr(faults, "sleep", lambda s: seen.append(created()))
        control.inject_fault("slow", phase="after", delay=0.5)
        assert save(crm).status_code == 200
        assert seen == [1]

    def test_slow_really_sleeps(self, crm):
        control.inject_fault("slow", delay=0.2)
        started = time.monotonic()
        assert crm.value("ContactPlan/GetContactPlanCount") == 3
        assert time.monotonic() - started >= 0.2

    def test_garbage(self, crm):
        control.inject_fault("garbage")
        response = save(crm)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json; charset=utf-8"
        with pytest.raises(ValueError):
            json.loads(response.content)
        assert created() == 0

    def test_html_before_is_a_502_gateway_page(self, crm):
        control.inject_fault("html")
        response = save(crm)
        assert response.status_code == 502
        assert response["Content-Type"] == "text/html; charset=utf-8"
        assert b"502 - Web server received an invalid response" in response.content
        assert created() == 0

    def test_html_after_is_a_500_app_page(self, crm):
        control.inject_fault("html", phase="after")
        response = save(crm)
        assert response.status_code == 500
        assert "服务器错误".encode() in response.content
        assert created() == 1

    def test_truncated_before(self, crm):
        control.inject_fault("truncated")
        response = save(crm)
        assert response.status_code == 200
        assert response.content == b'{"value'  # the first 7 of the 15 bytes of {"value": true}
        assert created() == 0

    def test_truncated_after_cuts_the_real_reply(self, crm):
        full = crm.post("Customer/Get", id=1).content
        control.inject_fault("truncated", phase="after")
        response = crm.post("Customer/Get", id=1)
        assert response.content == full[: len(full) // 2]
        assert response["Content-Length"] == str(len(full) // 2)

    @pytest.mark.parametrize(("code", "status"), [(10001, 500), (21301, 401), (10023, 429), (20101, 404)])
    def test_error(self, crm, code, status):
        control.inject_fault("error", error_code=code)
        response = save(crm)
        assert response.status_code == status
        assert response.json()["error_code"] == code
        assert created() == 0

    def test_reject(self, crm):
        control.inject_fault("reject")
        assert save(crm).json() == {"value": False}
        assert created() == 0

    def test_reset_without_a_server_that_can_drop(self, crm, caplog):
        # The test client is not a socket; the sandbox says so loudly instead of answering normally.
        control.inject_fault("reset")
        with caplog.at_level(logging.WARNING, logger="crm_bridge.sandbox"):
            response = save(crm)
        assert (response.status_code, response.json()["error_code"]) == (500, 10001)
        assert "cannot drop a connection" in caplog.text
        assert created() == 0


class TestSelection:
    def test_rate_zero_never_applies(self, crm):
        fault = control.inject_fault("down", rate=0)
        assert [crm.post("Customer/Get", id=1).status_code for _ in range(20)] == [200] * 20
        fault.refresh_from_db()
        assert fault.applied == 0

    def test_rate_one_always_applies(self, crm):
        control.inject_fault("down", rate=1)
        assert [crm.post("Customer/Get", id=1).status_code for _ in range(20)] == [503] * 20

    def test_rate_compares_the_roll(self, crm, monkeypatch):
        rolls = iter([0.29, 0.31, 0.0, 0.99])
        monkeypatch.setattr(faults, "roll", lambda: next(rolls))
        control.inject_fault("down", rate=0.3)
        assert [crm.post("Customer/Get", id=1).status_code for _ in range(4)] == [503, 200, 503, 200]

    def test_count(self, crm):
        fault = control.inject_fault("down", count=2)
        assert [crm.post("Customer/Get", id=1).status_code for _ in range(4)] == [503, 503, 200, 200]
        fault.refresh_from_db()
        assert (fault.applied, fault.remaining) == (2, 0)
        assert control.active_faults() == []

    def test_count_with_rate_counts_applications(self, crm, monkeypatch):
        rolls = iter([0.9, 0.1, 0.9, 0.1, 0.1])
        monkeypatch.setattr(faults, "roll", lambda: next(rolls))
        control.inject_fault("down", rate=0.5, count=2)
        assert [crm.post("Customer/Get", id=1).status_code for _ in range(5)] == [200, 503, 200, 503, 200]

    def test_duration_expires(self, crm):
        control.inject_fault("down", duration=0.3)
        assert crm.post("Customer/Get", id=1).status_code == 503
        time.sleep(0.35)
        assert crm.post("Customer/Get", id=1).status_code == 200

    @pytest.mark.parametrize(
        ("pattern", "hit", "missed"),
        [
            ("Customer/*", "Customer/Get", "LinkMan/GetLinkMan"),
            ("*/Get*", "LinkMan/GetLinkMan", "ContactPlan/InsertContactPlan"),
            ("ECommerce/AddMessageBoard", "ECommerce/AddMessageBoard", "ECommerce/UpdateBaseInfoHit"),
            ("/WebApi/Handler/1.0/CRM/Customer/Get.ashx", "Customer/Get", "Customer/GetAllList"),
        ],
    )
    def test_endpoint_pattern(self, crm, pattern, hit, missed):
        control.inject_fault("error", error_code=10001, endpoint=pattern)
        assert crm.post(hit).json()["error_code"] == 10001
        assert crm.post(missed).json().get("error_code") != 10001

    def test_oldest_matching_fault_wins_and_others_wait(self, crm):
        control.inject_fault("error", error_code=21301, count=1, endpoint="Customer/Get")
        control.inject_fault("down", count=1)
        assert crm.post("Customer/Get", id=1).json()["error_code"] == 21301
        assert crm.post("Customer/Get", id=1).json()["error_code"] == 10002
        assert crm.post("Customer/Get", id=1).status_code == 200

    def test_faults_apply_only_to_known_handlers(self, client):
        control.inject_fault("down")
        assert client.get("/WebApi/Handler/1.0/CRM/Customer/Nope.ashx").json()["error_code"] == 10020


class TestLogging:
    def test_request_log_records_the_fault(self, crm):
        control.inject_fault("down", count=1, phase="after")
        save(crm)
        save(crm)
        assert list(RequestLog.objects.values_list("http_status", "error_code", "fault_kind", "fault_phase")) == [
            (503, 10002, "down", "after"),
            (200, None, "", ""),
        ]
        assert control.calls("Customer/Save") == 2
        assert created() == 2


class TestSpec:
    @pytest.mark.parametrize(
        ("kwargs", "param"),
        [
            ({"kind": "explode"}, "kind"),
            ({"kind": "down", "phase": "during"}, "phase"),
            ({"kind": "reject", "phase": "after"}, "phase"),
            ({"kind": "down", "rate": 1.5}, "rate"),
            ({"kind": "down", "rate": "1"}, "rate"),
            ({"kind": "down", "duration": 0}, "duration"),
            ({"kind": "down", "count": 0}, "count"),
            ({"kind": "down", "count": 1.5}, "count"),
            ({"kind": "down", "endpoint": "Customer/Sav"}, "endpoint"),
            ({"kind": "down", "delay": 1}, "delay"),
            ({"kind": "slow", "delay": -1}, "delay"),
            ({"kind": "error"}, "error_code"),
            ({"kind": "error", "error_code": 99999}, "error_code"),
            ({"kind": "down", "error_code": 10001}, "error_code"),
        ],
    )
    def test_invalid_descriptions_are_refused(self, kwargs, param):
        with pytest.raises(control.FaultSpecError) as caught:
            control.inject_fault(**kwargs)
        assert caught.value.param == param
        assert Fault.objects.count() == 0

    def test_stored_fields(self):
        fault = control.inject_fault("hang", endpoint="/Customer/*.ashx", count=3, duration=60, phase="after")
        assert (fault.kind, fault.endpoint, fault.phase, fault.delay, fault.remaining, fault.rate) == (
            "hang",
            "Customer/*",
            "after",
            30.0,
            3,
            1.0,
        )
        assert fault.expires_at is not None
