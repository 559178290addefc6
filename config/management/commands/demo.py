"""`python manage.py demo` (what `make demo` runs): the whole product on this machine, with no servers to install.

Migrates, creates the demo company's Site and an admin login, seeds the sandbox CRM, then runs together:
the web server (site, widget API, admin and the sandbox CRM mounted at /WebApi/…), a real Celery worker and
beat on the embedded ``filesystem://`` broker, and a sample company page served from a *different origin*
(another port), so the widget runs cross-origin as on a customer's real site. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from crm_bridge.models import Site

DEMO_SITE_NAME = "示例科技 (demo)"


class Command(BaseCommand):
    help = "Run the demo: site, sandbox CRM, Celery worker and beat, and a sample company page."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="The Django site (API, admin, sandbox CRM).")
        parser.add_argument("--page-port", type=int, default=8001, help="The sample company page (another origin).")
        parser.add_argument("--exit-after", type=float, default=None, help="Stop by itself after N seconds.")

    def handle(self, *args, host: str, port: int, page_port: int, exit_after: float | None, **options):
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        self._seed_sandbox()
        site = self._demo_site(host, port, page_port)
        password = self._admin_login()

        # Every child uses this process's database and broker folders, whatever its own environment would pick.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CRM_BRIDGE_VAR_DIR": str(settings.VAR_DIR)}
        site_url = f"http://{host}:{port}"
        env.setdefault("CRM_BRIDGE_BASE_URL", f"{site_url}/WebApi/Handler/1.0/CRM/")
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        celery = [python, "-m", "celery", "-A", "config"]
        commands = {
            "web": [python, manage, "runserver", f"{host}:{port}", "--noreload", "--skip-checks"],
            "page": [python, manage, "demo_page", "--host", host, "--port", str(page_port), "--api", site_url],
            "worker": [*celery, "worker", "--loglevel=INFO", "--concurrency=2", "--pool=prefork",
                       "--without-gossip", "--without-mingle", "--hostname=demo@%h"],
            "beat": [*celery, "beat", "--loglevel=INFO",
                     f"--schedule={Path(settings.VAR_DIR) / 'celerybeat-schedule'}"],
        }  # fmt: skip
        procs = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}  # noqa: S603
        page_url = f"http://{host}:{page_port}/"
        self.stdout.write(
            self.style.SUCCESS("\ncrm_bridge demo is running\n")
            + f"  sample company page (another origin): {page_url}\n"
            + f"  the same page served by Django:        {site_url}/\n"
            + f"  admin:                                  {site_url}/admin/   login: admin / {password}\n"
            + f"  sandbox CRM:                            {site_url}/WebApi/Handler/1.0/CRM/\n"
            + f"  sandbox state:                          {site_url}/_sandbox/state\n"
            + f"  widget key of the demo site:            {site.public_key}\n"
            + "Ctrl-C stops everything.\n"
        )  # fmt: skip
        deadline = time.monotonic() + exit_after if exit_after else None
        code = 0
        try:
            while True:
                dead = {n: p.returncode for n, p in procs.items() if p.poll() is not None}
                if dead:
                    self.stderr.write(f"demo: {', '.join(f'{n} exited ({c})' for n, c in dead.items())}; stopping")
                    code = 1
                    break
                if deadline and time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop(procs)
        if code:
            sys.exit(code)

    def _stop(self, procs: dict[str, subprocess.Popen]) -> None:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        end = time.monotonic() + 15
        for p in procs.values():
            try:
                p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
        self.stdout.write("demo stopped")

    def _seed_sandbox(self) -> None:
        from crm_bridge.sandbox import control

        control.reset()

    def _demo_site(self, host: str, port: int, page_port: int) -> Site:
        origins = [f"http://{h}:{p}" for h in (host, "localhost", "127.0.0.1") for p in (port, page_port)]
        site_key = settings.CRM_SANDBOX["SITE_KEYS"][0]
        site, _ = Site.objects.get_or_create(name=DEMO_SITE_NAME, defaults={"site_key": site_key, "default_cust_id": 1})
        site.allowed_origins = sorted(set(origins))
        site.site_key = site_key
        site.paused_at = None
        site.save()
        return site

    def _admin_login(self) -> str:
        """A fresh password for the `admin` superuser each run, printed once (it is a local demo)."""
        password = secrets.token_urlsafe(9)
        User = get_user_model()
        user, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password
