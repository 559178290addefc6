"""The sandbox's own threaded server (what the crm_sandbox command runs), in a thread: real sockets, the
sandbox's URLconf only, and the one fault only a real server can honour — dropping the connection."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlencode

import pytest

from crm_bridge.sandbox import control
from crm_bridge.sandbox.server import running

from .conftest import TOKEN

pytestmark = pytest.mark.django_db(transaction=True)  # the server's threads use their own connections


def request(server, method: str, path: str, params: dict | None = None) -> tuple[int, bytes]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        body = urlencode(params or {})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_serves_handlers_and_drops_connections_on_reset():
    with running() as server:
        assert server.base_url.endswith("/WebApi/Handler/1.0/CRM/")
        status, body = request(server, "POST", "/WebApi/Handler/1.0/CRM/Customer/Get.ashx", {"token": TOKEN, "id": 2})
        assert status == 200
        assert json.loads(body)["value"]["sName"] == "北京远望科技发展有限公司"

        control.inject_fault("reset", count=1, phase="after")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            request(
                server,
                "POST",
                "/WebApi/Handler/1.0/CRM/Customer/Save.ashx",
                {"token": TOKEN, "json": '{"sName": "断线"}'},
            )
        # phase=after: the CRM stored it, the caller never heard.
        assert [c["sName"] for c in control.customers()][-1] == "断线"
        assert request(server, "GET", f"/WebApi/Handler/1.0/CRM/Customer/Get.ashx?token={TOKEN}&id=6")[0] == 200

        # Only the sandbox's routes: the host site's pages are not served here.
        assert request(server, "GET", "/admin/")[0] == 404
    entries = control.request_log("Customer/Save")
    assert [(e.fault_kind, e.fault_phase) for e in entries] == [("reset", "after")]
