"""Serve the sample company page from its own origin (another port), as a customer's site would be:
a plain static page that knows nothing of Django and embeds the widget from the API's origin.
Serves until SIGINT or SIGTERM (whatever disposition those had when it started), then exits with status 0."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.management.base import BaseCommand
from django.template.loader import render_to_string

from crm_bridge.models import Site
from crm_bridge.sandbox.server import serve_until_signalled

from .demo import DEMO_SITE_NAME


class Command(BaseCommand):
    help = "Serve the demo company page on its own port (a different origin from the API)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--api", default="http://127.0.0.1:8000", help="Origin of the Django site (the API).")

    def handle(self, *args, host: str, port: int, api: str, **options):
        site = Site.objects.get(name=DEMO_SITE_NAME)
        page = render_to_string(
            "demo/company.html", {"api_origin": api.rstrip("/"), "widget_key": site.public_key, "cross_origin": True}
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/favicon.ico":  # browsers ask; a 404 would be noise in the console
                    self.send_response(204)
                    self.end_headers()
                    return
                if self.path.split("?")[0] not in ("/", "/index.html"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format, *args):  # quiet: the demo's console belongs to the worker logs
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        self.stdout.write(f"sample company page on http://{host}:{port}/ (API at {api})")
        try:
            serve_until_signalled(server)
        finally:
            server.server_close()
