"""``python -m bench.browser``: the widget's time to an interactive launcher, in headless Chromium.

A host page on its own origin (a small threaded server on ``--port``, like the widget tests' host server) is
loaded ``--loads`` times with the README's embed snippet (the block marked ``<!-- readme: embed -->``: the
config's preload and the ``async`` script, this run's origin and key put in) in its ``<head>``, as the README says
to paste it, and as many times without it, alternately, each load in a fresh browser context (empty cache and
storage, as a first visit). With the widget: milliseconds from navigation start to the ``crm:ready`` event, which
the widget fires once the launcher is built and wired (the test waits for the launcher button too). Without it:
navigation start to the end of the page's load event. Prints ``{"widget_ms": [...], "page_ms": [...]}``.

Chromium is Debian's (``/usr/bin/chromium`` or ``$CRM_BRIDGE_CHROMIUM``), with the flags of
tests/widget/conftest.py; Playwright never downloads a browser.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# As in tests/widget/conftest.py (CHROMIUM_ARGS): headless, no sandbox (root), nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
READY_RECORDER = """
document.addEventListener("crm:ready", () => { window.__crmReadyAt = performance.now(); });
"""
BODY = (
    "<header><h1>示例科技有限公司</h1><nav><a href='#p'>产品</a> <a href='#c'>联系我们</a></nav></header>"
    "<main><p>我们提供工业自动化解决方案。</p>" + "<p>产品介绍，段落文字。</p>" * 20 + "</main>"
)


README = Path(__file__).resolve().parent.parent / "README.md"
#: What the README's snippet says in place of a real server's origin and a site's public key.
README_ORIGIN, README_KEY = "https://www.example.com", "pk_…"


def embed_snippet(api: str, key: str) -> str:
    """The README's embed snippet (the block after ``<!-- readme: embed -->``) for the server at ``api`` and the
    site's public ``key``: what an integrator pastes, so the figure measures what the README recommends."""
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"<!-- readme: embed -->\n```html\n(.*?)```", text, flags=re.S)
    if len(found) != 1 or README_ORIGIN not in found[0] or README_KEY not in found[0]:
        raise SystemExit("README.md needs exactly one ```html block marked <!-- readme: embed --> (the snippet)")
    query = "key=" + urllib.parse.quote(key, safe="")  # the preload's URL, as the widget's encodeURIComponent
    snippet = found[0].replace(README_ORIGIN, api).replace("key=" + README_KEY, query)
    return snippet.replace(README_KEY, html.escape(key))


def host_page(api: str, key: str, *, widget: bool) -> bytes:
    snippet = embed_snippet(api, key) if widget else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Host page</title>'
        f"{snippet}</head><body>{BODY}</body></html>"
    ).encode()


def serve(port: int, pages: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            if body is None:
                self.send_response(204 if self.path == "/favicon.ico" else 404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def measure(browser: Any, url: str, *, widget: bool) -> float:
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    try:
        ctx.set_default_timeout(15_000)
        ctx.add_init_script(READY_RECORDER)
        page = ctx.new_page()
        page.goto(url, wait_until="load")
        if widget:
            page.wait_for_function("window.__crmReadyAt !== undefined")
            page.locator("crm-widget button.open").wait_for(state="visible")
            return float(page.evaluate("window.__crmReadyAt"))
        return float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
    finally:
        ctx.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.split("\n\n")[0])
    p.add_argument("--api", required=True, help="origin serving the widget's script and API")
    p.add_argument("--key", required=True, help="the site's public key")
    p.add_argument("--port", type=int, required=True, help="port of the host page's origin (on the allow-list)")
    p.add_argument("--loads", type=int, default=20)
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CRM_BRIDGE_CHROMIUM") or "/usr/bin/chromium"
    server = serve(args.port, {"/with": host_page(args.api, args.key, widget=True),
                               "/without": host_page(args.api, args.key, widget=False)})  # fmt: skip
    origin = f"http://127.0.0.1:{args.port}"
    widget_ms: list[float] = []
    page_ms: list[float] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            try:
                # One load of each first, unmeasured: Chromium's own first-navigation costs belong to neither.
                measure(browser, f"{origin}/with", widget=True)
                measure(browser, f"{origin}/without", widget=False)
                for i in range(args.loads):
                    order = (True, False) if i % 2 == 0 else (False, True)
                    for widget in order:
                        got = measure(browser, f"{origin}/{'with' if widget else 'without'}", widget=widget)
                        (widget_ms if widget else page_ms).append(got)
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    json.dump({"widget_ms": widget_ms, "page_ms": page_ms}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
