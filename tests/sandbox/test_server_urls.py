"""The sandbox server's URLs: what a client is told to point ``BASE_URL`` at must be a URL it can use."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from crm_bridge.sandbox.server import running

from .conftest import TOKEN

pytestmark = pytest.mark.django_db(transaction=True)  # the server's threads use their own connections


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests honours *_PROXY variables; a proxy on the CI machine must not sit between us and the loopback.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,::1")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost,::1")


def _loopback_v6() -> bool:
    """Whether this machine has an IPv6 loopback (containers often have none)."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


V6 = pytest.mark.skipif(not _loopback_v6(), reason="no IPv6 loopback on this machine")


@pytest.mark.parametrize(("host", "shown"), [("127.0.0.1", "127.0.0.1"), pytest.param("::1", "[::1]", marks=V6)])
def test_base_url_is_usable_as_given(host: str, shown: str) -> None:
    with running(host=host) as server:
        port = server.server_address[1]
        assert server.root_url == f"http://{shown}:{port}/"
        assert server.base_url == f"http://{shown}:{port}/WebApi/Handler/1.0/CRM/"
        reply = requests.get(f"{server.base_url}Customer/Get.ashx", params={"token": TOKEN, "id": 2}, timeout=10)
        assert reply.status_code == 200
        assert json.loads(reply.text)["value"]["sName"] == "北京远望科技发展有限公司"
