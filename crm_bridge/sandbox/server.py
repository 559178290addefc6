"""A threaded HTTP server for the sandbox alone — what ``manage.py crm_sandbox`` runs, and what a test can
start in a thread (:func:`running`).

It serves only the sandbox's routes (``crm_bridge.sandbox.urls``), whatever the host project's URLconf, and
it is the one server that can honour the ``reset`` fault: its request handler offers the view a way to drop
the connection (``environ[faults.DROP_CONNECTION_KEY]``) — the reply is discarded unsent and the socket is
closed with ``SO_LINGER`` 0, so the client sees the connection closed (or reset) without a byte of reply.
"""

from __future__ import annotations

import re
import signal
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any, cast

from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

from crm_bridge.crm.spec import PATH_PREFIX

from .faults import DROP_CONNECTION_KEY

__all__ = ["STOP_SIGNALS", "SandboxServer", "make_server", "running", "serve_until_signalled"]

SANDBOX_URLCONF = "crm_bridge.sandbox.urls"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_QUERY = re.compile(r"^(\S+ [^?\s]*)\?\S*")


class _SandboxRequest(WSGIRequest):
    # Django resolves with request.urlconf when set: the sandbox's routes, not ROOT_URLCONF's.
    urlconf = SANDBOX_URLCONF


class SandboxWSGIHandler(WSGIHandler):
    """Django's WSGI handler (middleware and all), routing with the sandbox's URLconf."""

    request_class = _SandboxRequest


class _DroppableWriter:
    """The response stream; once dropped, writes vanish (nothing of the reply reaches the socket)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.dropped = False

    def write(self, data: bytes) -> int:
        return len(data) if self.dropped else self._raw.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class SandboxRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # The access log line holds the request line, and a GET caller's token travels in the query
        # string: log the path only (the request log table keeps the params, credentials removed).
        if args and isinstance(args[0], str):
            args = (_QUERY.sub(r"\1?…", args[0]), *args[1:])
        super().log_message(format, *args)

    def setup(self) -> None:
        super().setup()
        self._writer = _DroppableWriter(self.wfile)
        # Typed as the BytesIO it wraps: it forwards everything but write().
        self.wfile = cast(BytesIO, self._writer)

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ[DROP_CONNECTION_KEY] = self._drop_connection
        return environ

    def _drop_connection(self) -> None:
        self._writer.dropped = True
        self.close_connection = True
        # Linger 0: closing sends RST instead of waiting to deliver anything still buffered. (``connection``
        # is the client socket; django-stubs types it as a WSGIRequest.)
        cast(socket.socket, self.connection).setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class SandboxServer(ThreadedWSGIServer):
    """A threaded WSGI server serving the sandbox; ``base_url`` is where a client points ``BASE_URL``."""

    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        # The WSGI handler writes status+headers and the body separately; with Nagle on, the body waits for the
        # client's delayed ACK of the headers — about 40 ms added to every call. A real IIS does not do that.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

    @property
    def base_url(self) -> str:
        return f"{self.root_url}{PATH_PREFIX}"

    @property
    def root_url(self) -> str:
        """``http://host:port/``; an IPv6 host in brackets (``http://[::1]:8765/``), as URLs need it."""
        host, port = self.server_address[:2]
        if isinstance(host, bytes):  # only for AF_UNIX-style families; this server is AF_INET or AF_INET6
            host = host.decode()
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(host: str = "127.0.0.1", port: int = 8765) -> SandboxServer:
    """A bound (not yet serving) sandbox server; ``port=0`` picks a free port. Call ``serve_forever()``."""
    ipv6 = ":" in host
    server = SandboxServer((host, port), SandboxRequestHandler, ipv6=ipv6)
    server.set_app(SandboxWSGIHandler())
    return server


def serve_until_signalled(server: Any, signals: tuple[int, ...] = STOP_SIGNALS) -> int | None:
    """Serve ``server`` (any ``socketserver`` server) in this, the main, thread until one of ``signals`` arrives;
    return that signal's number (``None`` if the server was shut down otherwise). The caller closes the server.

    The handlers are installed explicitly because an inherited disposition cannot be trusted: a parent without a
    terminal (``nohup``, ``make test &``, CI) starts its children with SIGINT ignored, and Python then never raises
    ``KeyboardInterrupt``. The previous handlers are restored on return. The handler only asks for a shutdown from
    another thread (``shutdown()`` waits for ``serve_forever`` to return, so it cannot run in the serving thread),
    rather than raising into whatever the main thread is doing."""
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        if not received:
            received.append(signum)
            threading.Thread(target=server.shutdown, name="stop-on-signal", daemon=True).start()

    previous = {signum: signal.signal(signum, on_signal) for signum in signals}
    try:
        server.serve_forever()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return received[0] if received else None


@contextmanager
def running(host: str = "127.0.0.1", port: int = 0) -> Iterator[SandboxServer]:
    """Serve the sandbox in a background thread for the duration of the block.

    The server's threads open their own database connections: in a pytest-django test, use
    ``transactional_db`` (or ``django_db(transaction=True)``) so they see the test's rows."""
    server = make_server(host, port)
    thread = threading.Thread(target=server.serve_forever, name="crm-sandbox-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
