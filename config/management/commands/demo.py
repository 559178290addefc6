"""`python manage.py demo` (what `make demo` runs): the whole product on this machine, with no servers to install.

Migrates, creates the demo company's Site and an admin login, seeds the sandbox CRM, then runs together:
the web server (site, widget API, admin and the sandbox CRM mounted at /WebApi/…), a real Celery worker and
beat on the embedded ``filesystem://`` broker, and a sample company page served from a *different origin*
(another port), so the widget runs cross-origin as on a customer's real site.

Ctrl-C, ``kill -TERM <pid>`` or a hang-up stop everything, whatever disposition those signals had when the demo
started (a parent without a terminal starts it with SIGINT ignored): each child runs in its own process group, gets
SIGTERM, and is waited for (``STOP_SECONDS`` at most) together with everything in its group; what is still alive
then is killed. A second Ctrl-C kills at once. Exit status: 0 when stopped on request, 1 when a child died by
itself or had to be killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
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
STOP_SECONDS = 20  # the worker's warm shutdown finishes a delivery in flight; local calls take far less
LISTEN_SECONDS = 60  # the web and page servers start in a second or two; a loaded machine takes longer
KILL_SECONDS = 5


class _StopRequested(BaseException):
    """Raised by the signal handler while the demo is still setting up (no child to stop yet); a BaseException,
    like KeyboardInterrupt, so that no ``except Exception`` on the way swallows it."""


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs. A zombie does not count: once its parent is gone only
    init can reap it, and in a container init may never do so."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():  # not Linux: the kernel's answer, zombies included
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it exited while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it emptied meanwhile
        os.killpg(pgid, signum)


class Command(BaseCommand):
    help = "Run the demo: site, sandbox CRM, Celery worker and beat, and a sample company page."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="The Django site (API, admin, sandbox CRM).")
        parser.add_argument("--page-port", type=int, default=8001, help="The sample company page (another origin).")
        parser.add_argument("--exit-after", type=float, default=None, help="Stop by itself after N seconds.")

    def handle(self, *args, host: str, port: int, page_port: int, exit_after: float | None, **options):
        self._stop_signal: int | None = None
        self._hurry = False
        self._setting_up = True
        # Explicit handlers, not KeyboardInterrupt: an ignored SIGINT (inherited from a background parent) would
        # never raise it, and SIGTERM and SIGHUP would kill this process and leave the children running.
        # A SIGHUP ignored on purpose (nohup) stays ignored.
        stop_signals = [signal.SIGINT, signal.SIGTERM]
        if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
            stop_signals.append(signal.SIGHUP)
        previous = {signum: signal.signal(signum, self._on_signal) for signum in stop_signals}
        try:
            return self._run(host, port, page_port, exit_after)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame) -> None:
        if self._stop_signal is not None:
            self._hurry = True  # asked twice: kill, do not wait
            return
        self._stop_signal = signum
        if self._setting_up:
            raise _StopRequested
        # Otherwise only the flag: the main loop notices it, and no exception lands in the middle of a Popen.

    def _run(self, host: str, port: int, page_port: int, exit_after: float | None) -> None:
        try:
            Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
            call_command("migrate", interactive=False, verbosity=0)
            call_command("createcachetable", verbosity=0)
            self._seed_sandbox()
            site = self._demo_site(host, port, page_port)
            password = self._admin_login()
            self._setting_up = False
        except _StopRequested:
            self.stdout.write("demo stopped (before it started)")
            return

        # Every child uses this process's database and broker folders, whatever its own environment would pick.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CRM_BRIDGE_VAR_DIR": str(settings.VAR_DIR)}
        site_url = f"http://{host}:{port}"
        env.setdefault("CRM_BRIDGE_BASE_URL", f"{site_url}/WebApi/Handler/1.0/CRM/")
        # Alerts link to this admin (docs/alerts.md, ADMIN_BASE_URL), unless the environment says otherwise.
        options = json.loads(env.get("CRM_BRIDGE_OPTIONS") or "{}")
        options.setdefault("ALERTS", {}).setdefault("ADMIN_BASE_URL", site_url)
        env["CRM_BRIDGE_OPTIONS"] = json.dumps(options)
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
        # Started after the handlers are installed: exec resets a handled signal to its default in the child, so
        # the children start with default SIGINT and SIGTERM even where this process inherited them ignored.
        # Each in its own process group, so that stopping a child reaches its own children too (the worker's pool,
        # an autoreloader's server) and a terminal's Ctrl-C reaches only this process, which stops them in order.
        procs: dict[str, subprocess.Popen] = {}
        try:
            for name, cmd in commands.items():
                if self._stop_signal is None:
                    procs[name] = subprocess.Popen(cmd, env=env, process_group=0)  # noqa: S603
            self._wait_listening(procs, host, (port, page_port))
            code = self._supervise(procs, exit_after, self._banner(host, port, page_port, site, password))
        finally:
            forced = self._stop(procs)
        if forced:
            self.stderr.write(f"demo: killed {', '.join(forced)} (not stopped within {STOP_SECONDS}s of SIGTERM)")
            code = 1
        self.stdout.write("demo stopped")
        if code:
            sys.exit(code)

    def _wait_listening(self, procs: dict[str, subprocess.Popen], host: str, ports: tuple[int, ...]) -> None:
        """Until the web and page servers accept connections (at most ``LISTEN_SECONDS``), so the banner's links
        work when it appears; a stop request or a child that died ends the wait early (_supervise reports it)."""
        end = time.monotonic() + LISTEN_SECONDS
        waiting = list(ports)
        while waiting and self._stop_signal is None and time.monotonic() < end:
            if any(p.poll() is not None for p in procs.values()):
                return
            with contextlib.suppress(OSError), socket.create_connection((host, waiting[0]), timeout=1):
                waiting.pop(0)
                continue
            time.sleep(0.1)

    def _banner(self, host: str, port: int, page_port: int, site: Site, password: str) -> str:
        site_url = f"http://{host}:{port}"
        return (
            self.style.SUCCESS("\ncrm_bridge demo is running\n")
            + f"  sample company page (another origin): http://{host}:{page_port}/\n"
            + f"  the same page served by Django:        {site_url}/\n"
            + f"  admin:                                  {site_url}/admin/   login: admin / {password}\n"
            + f"  sandbox CRM:                            {site_url}/WebApi/Handler/1.0/CRM/\n"
            + f"  sandbox state:                          {site_url}/_sandbox/state\n"
            + f"  widget key of the demo site:            {site.public_key}\n"
            + f"Ctrl-C (or kill -TERM {os.getpid()}) stops everything.\n"
        )  # fmt: skip

    def _supervise(self, procs: dict[str, subprocess.Popen], exit_after: float | None, banner: str) -> int:
        """Wait for a stop request (signal or ``--exit-after``): 0; or for a child to die by itself: 1."""
        if self._stop_signal is None:
            self.stdout.write(banner)
        deadline = time.monotonic() + exit_after if exit_after else None
        while self._stop_signal is None:
            dead = {n: p.returncode for n, p in procs.items() if p.poll() is not None}
            if dead:
                self.stderr.write(f"demo: {', '.join(f'{n} exited ({c})' for n, c in dead.items())}; stopping")
                return 1
            if deadline and time.monotonic() > deadline:
                return 0
            time.sleep(0.2)  # a signal's handler only sets the flag: this is how long noticing it can take
        self.stdout.write(f"demo: {signal.Signals(self._stop_signal).name} received; stopping")
        return 0

    def _stop(self, procs: dict[str, subprocess.Popen]) -> list[str]:
        """Stop every child and everything in its process group; return the names of those that had to be killed.

        SIGTERM goes to each child first, not to its group, so that the worker shuts its pool down itself (warm:
        a task in flight finishes and is acknowledged). Whatever is left in a group once its leader is gone, or
        after ``STOP_SECONDS``, gets SIGTERM, then SIGKILL ``KILL_SECONDS`` later."""
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        end = time.monotonic() + STOP_SECONDS
        self._wait_until(lambda: all(p.poll() is not None for p in procs.values()), end)
        for p in procs.values():
            if _group_alive(p.pid):
                _signal_group(p.pid, signal.SIGTERM)
        self._wait_until(lambda: not any(_group_alive(p.pid) for p in procs.values()), time.monotonic() + KILL_SECONDS)
        forced = [name for name, p in procs.items() if p.poll() is None or _group_alive(p.pid)]
        for name in forced:
            _signal_group(procs[name].pid, signal.SIGKILL)
        for p in procs.values():
            p.wait()  # SIGKILL cannot be refused: bounded
        return forced

    def _wait_until(self, done, end: float) -> None:
        while not done() and not self._hurry and time.monotonic() < end:
            time.sleep(0.1)

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
        self._demo_alerts(site, f"http://{host}:{port}")
        return site

    def _demo_alerts(self, site: Site, site_url: str) -> None:
        """One alert destination per robot kind, pointing at the sandbox's stand-ins (crm_bridge.sandbox.robots),
        so a lead from the sample page shows up as a message in admin → CRM sandbox → Robot messages."""
        from crm_bridge.alerts.models import AlertDestination
        from crm_bridge.sandbox import robots

        urls = {
            "wecom": (f"{site_url}/_robots/wecom/send?key={robots.WECOM_KEY}", ""),
            "dingtalk": (
                f"{site_url}/_robots/dingtalk/robot/send?access_token={robots.DINGTALK_TOKEN}", robots.DINGTALK_SECRET,
            ),
            "feishu": (f"{site_url}/_robots/feishu/hook/{robots.FEISHU_TOKEN}", robots.FEISHU_SECRET),
        }  # fmt: skip
        for kind, (url, secret) in urls.items():
            dest, _ = AlertDestination.objects.get_or_create(
                site=site, kind=kind, defaults={"name": f"{kind} (sandbox stand-in)"}
            )
            dest.webhook_url, dest.secret = url, secret  # the port may differ from the last run
            dest.save(update_fields=["webhook_url", "secret"])

    def _admin_login(self) -> str:
        """A fresh password for the `admin` superuser each run, printed once (it is a local demo)."""
        password = secrets.token_urlsafe(9)
        User = get_user_model()
        user, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password
