"""A real HTTP server on 127.0.0.1 answering crafted replies, for the client's transport tests.

Not the sandbox: it knows nothing of the API and answers whatever a test scripts, including what a broken
server or proxy sends (HTML pages, truncated bodies, stalls, dropped connections). It records every request.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs

BASE_PATH = "/WebApi/Handler/1.0/CRM/"


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    target: str  # the request line's target: path and any query string
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}


@dataclass
class Scripted:
    """What to answer. ``action``: ``reply`` (normal), ``close`` (drop the connection, no reply), ``truncate``
    (announce more bytes than are sent, then close), ``stall_body`` (headers and part of the body, then wait
    ``delay`` and close). ``delay`` before a ``reply`` makes it slow."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: Literal["reply", "close", "truncate", "stall_body"] = "reply"

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


def json_reply(document: Any, status: int = 200, **headers: str) -> Scripted:
    return Scripted(
        status=status,
        body=json.dumps(document, ensure_ascii=False),
        headers={"Content-Type": "application/json; charset=utf-8", **headers},
    )


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, size cap) leaves the handler writing to a closed socket: expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeCRM:
    """``FakeCRM()`` listens on an ephemeral port; ``base_url`` points the client at it. Script replies with
    :meth:`reply` (consumed in order, the last one repeats) or :meth:`respond_with` (a function of the request)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._script: list[Scripted] = [json_reply({"value": True})]
        self._responder: Callable[[Received], Scripted] | None = None
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real server: the client pools connections

            def do_POST(self) -> None:
                self._handle()

            def do_GET(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received = Received(self.command, self.path, dict(self.headers.items()), body)
                with fake._lock:
                    fake.requests.append(received)
                    scripted = fake._next(received)
                payload = scripted.payload()
                if scripted.action == "close":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if scripted.delay and scripted.action == "reply":
                    fake.stopping.wait(scripted.delay)
                self.send_response(scripted.status)
                for name, value in scripted.headers.items():
                    self.send_header(name, value)
                if scripted.action in ("truncate", "stall_body"):
                    self.send_header("Content-Length", str(len(payload) + 100))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                    if scripted.action == "stall_body":
                        fake.stopping.wait(scripted.delay)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}{BASE_PATH}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _next(self, received: Received) -> Scripted:
        if self._responder is not None:
            return self._responder(received)
        return self._script.pop(0) if len(self._script) > 1 else self._script[0]

    def reply(self, *scripted: Scripted) -> None:
        with self._lock:
            self._responder = None
            self._script = list(scripted)

    def respond_with(self, responder: Callable[[Received], Scripted]) -> None:
        with self._lock:
            self._responder = responder

    def close(self) -> None:
        self.stopping.set()  # release any handler still "stalling"
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def closed_port() -> int:
    """A port nothing listens on (bound, then released): connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Blackhole:
    """A listening socket whose accept queue is full and never drained: a new connection's SYN is dropped, so
    connecting times out (Linux). ``ok`` is False where the queue could not be filled (test then skips)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers: list[socket.socket] = []
        self.ok = False
        for _ in range(16):
            sock = socket.socket()
            sock.settimeout(0.2)
            try:
                sock.connect(("127.0.0.1", self.port))
            except OSError:
                sock.close()
                self.ok = True
                break
            self.fillers.append(sock)

    def close(self) -> None:
        for sock in self.fillers:
            sock.close()
        self.listener.close()
