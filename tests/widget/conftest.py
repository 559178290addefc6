"""Fixtures for the widget's browser tests: Debian's Chromium driven by Playwright (Python), the API and the
sandbox CRM on pytest-django's live server, and host pages served from a *different origin* (a small threaded
HTTP server on another port), so every test is the real cross-origin embed.

Chromium is found at ``$CRM_BRIDGE_CHROMIUM``, else ``chromium`` on ``PATH``, else ``/usr/bin/chromium``;
Playwright never downloads a browser here. Without either, the browser tests skip and say why.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from crm_bridge.models import Site

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "widget"
SANDBOX_PATH = "/WebApi/Handler/1.0/CRM/"
# Chromium as the machine notes say it runs here: headless, no sandbox (root), and nothing that phones home
# (the closed network refuses those connections, noisily).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Records what the widget announces (and CSP violations) before any page script runs.
RECORDER = """
window.__events = []; window.__csp = []; window.dataLayer = [];
for (const n of ["ready", "submitted", "queued", "error"])
  document.addEventListener("crm:" + n, (e) => window.__events.push({name: n, detail: e.detail}));
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || "")));
"""


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CRM_BRIDGE_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser(django_db_setup) -> Iterator[Any]:
    """One headless Chromium per test module (each test gets its own context: fresh storage).

    Per module, not per session: Playwright's sync API keeps an asyncio loop running in this thread while it is
    started, and Django refuses ORM calls from a thread with a running loop unless ``DJANGO_ALLOW_ASYNC_UNSAFE``
    is set (Playwright's docs recommend it for Django). Both are confined to the browser modules, so the rest of
    the suite keeps Django's guard. The test database is set up first, outside the loop.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[dev]'")
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found: apt-get install chromium (or set CRM_BRIDGE_CHROMIUM)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS, timeout=30_000)
            try:
                yield b
            finally:
                b.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class HostServer:
    """Pages of a "customer's site" on another origin: ``serve(path, html, headers)`` then open ``url(path)``."""

    server: ThreadingHTTPServer
    pages: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def serve(self, path: str, page: str, headers: dict[str, str] | None = None) -> str:
        self.pages[path] = (page.encode("utf-8"), headers or {})
        return self.url(path)


@pytest.fixture(scope="session")
def host_server() -> Iterator[HostServer]:
    pages: dict[str, tuple[bytes, dict[str, str]]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/favicon.ico":  # asked by every page; a 404 would be a console error
                self.send_response(204)
                self.end_headers()
                return
            found = pages.get(path)
            if found is None:
                self.send_error(404)
                return
            body, headers = found
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HostServer(server, pages)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api(browser, live_server, settings):
    """The live server's origin, with the sandbox CRM reset and crm_bridge pointed at it; throttles out of the
    way (every page load reads the config) and no minimum fill time unless a test sets one."""
    from crm_bridge.sandbox import control

    control.reset()
    cache.clear()
    settings.CRM_BRIDGE = {
        **settings.CRM_BRIDGE,
        "BASE_URL": live_server.url + SANDBOX_PATH,
        "TOKEN": "sandbox-token",
        "CONNECT_TIMEOUT": 2.0,
        "READ_TIMEOUT": 5.0,
        "READ_RETRIES": 0,
        "CALLS_PER_SECOND": 0,
        "THROTTLE_RATES": {"ip": "100000/min", "site": "100000/min"},
        "MIN_FILL_SECONDS": 0.0,
    }
    yield live_server.url
    control.clear_faults()
    cache.clear()


@pytest.fixture
def site(api, host_server) -> Site:
    """The customer's site: the host server's origin is its only allowed origin.

    It shows its privacy notice but asks for no explicit consent, so the tests of everything else need not tick a
    box; ``consent_site`` (and tests/widget/test_consent.py) has the default, consent required."""
    return Site.objects.create(
        name="示例科技", site_key="sandbox-site-key", default_cust_id=1, allowed_origins=[host_server.origin],
        consent_required_leads=False, consent_required_messages=False,
    )  # fmt: skip


@pytest.fixture
def consent_site(api, host_server) -> Site:
    """A site with the defaults of a new one: explicit consent required for leads and messages."""
    return Site.objects.create(
        name="示例科技", site_key="sandbox-site-key", default_cust_id=1, allowed_origins=[host_server.origin]
    )


def page_html(
    api: str, key: str, *, body: str = "", attrs: str = "", head: str = "", lang: str = "zh-CN", nonce: str = ""
) -> str:
    """A plain host page (no Django) embedding the widget by one script tag from the API's origin."""
    nonce_attr = f' nonce="{html.escape(nonce)}"' if nonce else ""
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Host page</title>'
        f"{head}</head><body>{body}"
        f'<script src="{api}/static/crm_bridge/widget.js" data-crm-key="{html.escape(key)}"{nonce_attr} {attrs} async>'
        "</script></body></html>"
    )


@pytest.fixture
def new_page(browser, request):
    """``new_page(locale=..., viewport=..., **context_options)`` → a Page in a fresh context that records the
    widget's events and CSP violations; contexts are closed after the test."""
    contexts = []

    def make(*, locale: str = "zh-CN", viewport: dict | None = None, **options: Any):
        ctx = browser.new_context(locale=locale, viewport=viewport or {"width": 1280, "height": 800}, **options)
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        if options.get("java_script_enabled", True):
            ctx.add_init_script(RECORDER)
        page = ctx.new_page()
        page.console_lines = []  # type: ignore[attr-defined]
        page.on("console", lambda m: page.console_lines.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: page.console_lines.append(f"pageerror: {e}"))
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def events(page, name: str | None = None) -> list[dict]:
    got = page.evaluate("window.__events")
    return [e for e in got if name is None or e["name"] == name]


def wait_event(page, name: str, count: int = 1) -> list[dict]:
    page.wait_for_function(
        "([n, c]) => window.__events.filter((e) => e.name === n).length >= c", arg=[name, count], timeout=10_000
    )
    return events(page, name)


def wait_storage(page) -> None:
    """Until the loader's storage work is done (widget/src/loader.js, openStorage: it runs after the button's first
    paint): the visit's first touch is in sessionStorage, written just before the outbox is opened and flushed in
    the same task, so by then any re-send has been sent."""
    page.wait_for_function("sessionStorage.getItem('crm_bridge.source') !== null", timeout=10_000)


def outbox(page) -> list[dict]:
    return json.loads(page.evaluate("localStorage.getItem('crm_bridge:outbox') || '[]'"))


def shot(page, name: str, **options: Any) -> Path:
    """Save a screenshot under test-artifacts/widget/ (gitignored) to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path
