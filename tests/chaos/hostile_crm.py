"""A hostile CRM for the ``hostile_replies`` scenario: a real HTTP server in front of the sandbox CRM.

Read-only calls always pass through to the sandbox. Each *write* (``ECommerce/AddMessageBoard``,
``Customer/Save``) takes the next entry of a script, in order, one entry per request, and once the script is spent
the writes pass through too (the CRM has healed). An entry is either a sandbox fault (``garbage``, ``html``,
``truncated``: injected for that request's endpoint with ``count=1`` just before it is forwarded, so the sandbox
itself spoils the reply) or a reply crafted here, for what the sandbox cannot send (:data:`CRAFTED`).

Every write is recorded (:attr:`HostileCRM.served`): which entry it got, its endpoint, and whose it was (a
message's text or a lead's customer name), never its credentials.
"""

from __future__ import annotations

import functools
import json
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import requests
from django.db import connection

from crm_bridge.crm.spec import PATH_PREFIX

WRITES = ("ECommerce/AddMessageBoard", "Customer/Save")
SANDBOX_FAULTS = ("garbage", "html", "truncated")
PASS = "pass"  # a write that went through to the sandbox unspoiled

MiB = 1024 * 1024
BIG_BODY_BYTES = 50 * MiB
BOMB_INFLATED_BYTES = 256 * MiB

TRUNCATED_XML = b'<?xml version="1.0" encoding="utf-8"?>\r\n<response><value>tr'
# "Billion laughs": ten levels of ten-fold entities, 3 * 10**9 bytes once expanded.
ENTITY_BOMB = (
    '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE response [\n <!ENTITY lol0 "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10))
    + "]>\n<response><value>&lol9;</value></response>\n"
).encode()


@functools.cache
def gzip_bomb() -> bytes:
    """``{"value": true`` and 256 MiB of spaces, gzip-compressed to about 250 KiB (made once, in 1 MiB steps)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    parts = [squeeze.compress(b'{"value": true')]
    block = b" " * MiB
    parts += [squeeze.compress(block) for _ in range(BOMB_INFLATED_BYTES // MiB)]
    parts.append(squeeze.flush())
    return b"".join(parts)


def _big_body() -> Iterator[bytes]:
    """50 MiB of one JSON string that never ends, 1 MiB at a time (never all in this process's memory)."""
    head = b'{"value": "'
    yield head + b"x" * (MiB - len(head))
    for _ in range(BIG_BODY_BYTES // MiB - 1):
        yield b"x" * MiB


@dataclass(frozen=True)
class Crafted:
    """A reply: its status, headers, and a callable giving the body's chunks and their total length."""

    status: int
    headers: dict[str, str]
    body: Callable[[], tuple[Iterable[bytes], int]]


def _whole(data: bytes) -> tuple[list[bytes], int]:
    return [data], len(data)


XML = {"Content-Type": "text/xml; charset=utf-8"}
JSON = {"Content-Type": "application/json; charset=utf-8"}
CRAFTED: dict[str, Crafted] = {
    "truncated_xml": Crafted(200, XML, lambda: _whole(TRUNCATED_XML)),
    "entity_bomb": Crafted(200, XML, lambda: _whole(ENTITY_BOMB)),
    "body_50mb": Crafted(200, JSON, lambda: (_big_body(), BIG_BODY_BYTES)),
    "gzip_bomb": Crafted(200, {**JSON, "Content-Encoding": "gzip"}, lambda: _whole(gzip_bomb())),
}
KINDS = (*SANDBOX_FAULTS, *CRAFTED)


@dataclass(frozen=True)
class Served:
    entry: str  # a KINDS name, or PASS
    endpoint: str
    whose: str  # the message's text (first line) or the lead's customer name


def _whose(endpoint: str, form: dict[str, str]) -> str:
    if endpoint == "Customer/Save":
        return str(json.loads(form.get("json", "{}")).get("sName", ""))
    return form.get("content", "").split("\n", 1)[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that stopped reading (the size cap) leaves our write to a closed socket: expected


class HostileCRM:
    """``HostileCRM(upstream)`` listens on 127.0.0.1 and forwards to the sandbox at ``upstream`` (a server root,
    e.g. ``live_server.url``); ``base_url`` is the CRM base URL to give the worker. :meth:`arm` loads a script."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.served: list[Served] = []
        self._script: list[str] = []
        # Writes are served one at a time while a script runs: a sandbox fault injected for one request must
        # be the one that request gets (no other write of its endpoint may reach the sandbox before it).
        self._writes = threading.Lock()
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                try:
                    hostile._handle(self)
                finally:
                    connection.close()  # this thread's database connection (sandbox faults)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/{PATH_PREFIX.strip('/')}/"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def arm(self, script: list[str]) -> None:
        unknown = set(script) - set(KINDS)
        assert not unknown, unknown
        with self._writes:
            self._script = list(script)

    @property
    def pending(self) -> int:
        return len(self._script)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        endpoint = handler.path.split("?", 1)[0].removeprefix("/" + PATH_PREFIX.strip("/") + "/").removesuffix(".ashx")
        if endpoint not in WRITES:
            self._forward(handler, body)
            return
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        with self._writes:
            entry = self._script.pop(0) if self._script else PASS
            self.served.append(Served(entry, endpoint, _whose(endpoint, form)))
            if entry in SANDBOX_FAULTS:
                from crm_bridge.sandbox import control

                control.inject_fault(entry, count=1, endpoint=endpoint)
                self._forward(handler, body)
                return
        if entry == PASS:
            self._forward(handler, body)
            return
        self._craft(handler, CRAFTED[entry])

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        r = requests.post(
            self.upstream + handler.path,
            data=body,
            headers={"Content-Type": handler.headers.get("Content-Type", "application/x-www-form-urlencoded")},
            timeout=60,
        )
        handler.send_response(r.status_code)
        handler.send_header("Content-Type", r.headers.get("Content-Type", "application/octet-stream"))
        handler.send_header("Content-Length", str(len(r.content)))
        handler.end_headers()
        handler.wfile.write(r.content)

    def _craft(self, handler: BaseHTTPRequestHandler, reply: Crafted) -> None:
        chunks, length = reply.body()
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        try:
            for chunk in chunks:
                handler.wfile.write(chunk)
        except OSError:  # the client stopped reading at its size cap and closed: what it should do
            handler.close_connection = True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
