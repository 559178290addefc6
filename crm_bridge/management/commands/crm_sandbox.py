"""``manage.py crm_sandbox``: run the local CRM emulator on its own port (see crm_bridge/sandbox/README.md).

    python manage.py crm_sandbox --port 8765 [--host 127.0.0.1] [--token T ...] [--site-key S ...]
                                 [--no-migrate] [--reset]

Migrates the sandbox's tables (unless ``--no-migrate``), seeds them (``--reset`` first wipes them back to
the seeded state), prints the base URL to configure as ``CRM_BRIDGE["BASE_URL"]`` and serves with a threaded
WSGI server until Ctrl-C or SIGTERM (whatever disposition those had when it started), then exits with status 0.
Binds 127.0.0.1 unless told otherwise. Credentials given on the command line replace ``settings.CRM_SANDBOX``'s
for this process; they are never printed.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Serve the local CRM sandbox (all 39 Web API handlers, with fault injection)."
    requires_system_checks = ()  # serving the sandbox needs none of the host site's checks

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
        parser.add_argument(
            "--token", action="append", dest="tokens", metavar="TOKEN", help="accepted token (repeatable)"
        )
        parser.add_argument(
            "--site-key", action="append", dest="site_keys", metavar="KEY", help="accepted siteKey (repeatable)"
        )
        parser.add_argument("--no-migrate", action="store_true", help="do not migrate the sandbox's tables")
        parser.add_argument("--reset", action="store_true", help="wipe sandbox state back to the seeded data")

    def handle(self, *args: Any, **options: Any) -> None:
        if not apps.is_installed("crm_bridge.sandbox"):
            raise CommandError('Add "crm_bridge.sandbox" to INSTALLED_APPS to run the sandbox.')
        # Imported late: the sandbox's models need the app registry, and the app may be absent.
        from crm_bridge.sandbox import control, credentials
        from crm_bridge.sandbox.server import make_server, serve_until_signalled

        if not options["no_migrate"]:
            call_command("migrate", "crm_sandbox", interactive=False, verbosity=0)
        if options["reset"]:
            control.reset()
        else:
            control.seed()
        # The command line (or settings) decides what is accepted at startup, not a previous run's override.
        credentials.clear_override()
        credentials.configure_defaults(tokens=options["tokens"], site_keys=options["site_keys"])
        accepted = credentials.defaults()
        leftover = len(control.active_faults())

        try:
            server = make_server(options["host"], options["port"])
        except OSError as err:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {err}") from err
        self.stdout.write(f"CRM sandbox: {server.base_url}")
        self.stdout.write(f"Control API: {server.root_url}_sandbox/  (header X-Sandbox-Token)")
        self.stdout.write(
            f"Accepting {len(accepted.tokens)} token(s) and {len(accepted.site_keys)} site key(s). "
            "Quit with CONTROL-C (or SIGTERM)."
        )
        if leftover:
            self.stdout.write(
                self.style.WARNING(f"{leftover} fault(s) from a previous run are active (--reset clears them).")
            )
        self.stdout.flush()
        try:
            serve_until_signalled(server)
        finally:
            server.server_close()
        self.stdout.write("Stopped.")
