"""The robot stand-ins refuse what the vendors refuse, in their shape, and are steered over HTTP."""

from __future__ import annotations

import time

import pytest
import requests

from crm_bridge.alerts.senders import dingtalk_sign, feishu_sign
from crm_bridge.sandbox import robots
from crm_bridge.testing import SANDBOX_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)
TEXT = {"msgtype": "text", "text": {"content": "hello"}}


def test_wecom_checks_key_and_shape(stand_ins):
    url = f"{stand_ins}/_robots/wecom/send"
    assert requests.post(url, params={"key": "nope"}, json=TEXT, timeout=5).json()["errcode"] == 93000
    bad = requests.post(url, params={"key": robots.WECOM_KEY}, json={"msgtype": "text"}, timeout=5).json()
    assert bad["errcode"] == 40008
    ok = requests.post(url, params={"key": robots.WECOM_KEY}, json=TEXT, timeout=5).json()
    assert ok == {"errcode": 0, "errmsg": "ok"}
    assert [(m["errcode"], m["text"]) for m in robots.received("wecom", accepted=None)] == [
        (93000, ""), (40008, ""), (0, "hello"),
    ]  # fmt: skip


def test_dingtalk_checks_the_sign_and_its_age(stand_ins):
    base = f"{stand_ins}/_robots/dingtalk/robot/send?access_token={robots.DINGTALK_TOKEN}"
    now = int(time.time() * 1000)
    stale = now - 2 * 3600 * 1000
    for ts, secret, code in [(now, "wrong", 310000), (stale, robots.DINGTALK_SECRET, 310000),
                             (now, robots.DINGTALK_SECRET, 0)]:  # fmt: skip
        url = f"{base}&timestamp={ts}&sign={dingtalk_sign(ts, secret)}"
        assert requests.post(url, json=TEXT, timeout=5).json()["errcode"] == code
    token = requests.post(f"{stand_ins}/_robots/dingtalk/robot/send?access_token=x", json=TEXT, timeout=5).json()
    assert token == {"errcode": 300001, "errmsg": "token is not exist"}


def test_feishu_checks_the_sign(stand_ins):
    url = f"{stand_ins}/_robots/feishu/hook/{robots.FEISHU_TOKEN}"
    ts = int(time.time())
    body = {"msg_type": "text", "content": {"text": "hi"}}
    bad = requests.post(url, json={"timestamp": str(ts), "sign": feishu_sign(ts, "wrong"), **body}, timeout=5).json()
    assert bad["code"] == 19021
    good = requests.post(url, json={"timestamp": str(ts), "sign": feishu_sign(ts, robots.FEISHU_SECRET), **body},
                         timeout=5).json()  # fmt: skip
    assert good["code"] == 0
    assert requests.post(f"{stand_ins}/_robots/feishu/hook/nope", json=body, timeout=5).json()["code"] == 19001


def test_http_control_needs_a_token_and_steers_outages(stand_ins):
    control = f"{stand_ins}/_robots/_control/outage"
    refused = requests.post(control, json={"kind": "wecom", "count": 1}, timeout=5)
    assert (refused.status_code, refused.json()["error_code"]) == (401, 21301)
    headers = {"X-Sandbox-Token": SANDBOX_TOKEN}
    r = requests.post(control, json={"kind": "wecom", "count": 1}, headers=headers, timeout=5)
    assert r.status_code == 201
    unknown = requests.post(control, json={"kind": "icq"}, headers=headers, timeout=5)
    assert unknown.status_code != 201 and unknown.json()["error_code"] == 10017
    send = f"{stand_ins}/_robots/wecom/send?key={robots.WECOM_KEY}"
    assert requests.post(send, json=TEXT, timeout=5).status_code == 503
    assert requests.post(send, json=TEXT, timeout=5).json()["errcode"] == 0  # the one refusal was spent
    listed = requests.get(f"{stand_ins}/_robots/_control/messages", headers=headers, timeout=5).json()
    assert [m["text"] for m in listed["messages"]] == ["hello"]
    assert requests.delete(control, headers=headers, timeout=5).json() == {"cleared": 1}
