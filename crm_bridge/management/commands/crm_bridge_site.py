"""``manage.py crm_bridge_site``: create and list the sites that embed the widget, from a shell or a deploy script.

    crm_bridge_site add NAME --site-key K --origin https://www.example.com [--origin …] [--default-cust-id N]
                        [--privacy-contact privacy@example.com]
    crm_bridge_site list

``add`` prints only the new site's public key on stdout, so a script can capture it
(``KEY=$(python manage.py crm_bridge_site add …)``). ``--site-key -`` reads the CRM siteKey from stdin, keeping
the secret out of the shell history and the process list. ``list`` never shows a siteKey. A new site has the
legally safe privacy defaults (docs/privacy.md): consent required for leads and messages, the default notice
naming the site (and ``--privacy-contact``), the default retention period.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_bridge.models import Site
from crm_bridge.origins import normalise_origin


def _origin(value: str) -> str:
    """The origin as browsers send it (:func:`crm_bridge.origins.normalise_origin`), or a CommandError."""
    try:
        return normalise_origin(value)
    except ValidationError as err:
        raise CommandError(" ".join(err.messages)) from err


class Command(BaseCommand):
    help = "Create (add) or list (list) the sites that embed the crm_bridge widget."
    # call_command(..., stdin=io.StringIO(...)) in tests, as createsuperuser allows.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Create a site; prints only its public key.")
        add.add_argument("name")
        add.add_argument("--site-key", required=True, help="The CRM siteKey (a secret). '-' reads it from stdin.")
        add.add_argument(
            "--origin",
            action="append",
            default=[],
            help="An origin whose pages embed the widget (repeatable), e.g. https://www.example.com",
        )
        add.add_argument("--default-cust-id", type=int, default=0, help="CRM custID for anonymous messages.")
        add.add_argument(
            "--privacy-contact", default="", help="Where visitors ask about their data; named by the privacy notice."
        )
        sub.add_parser("list", help="List sites: name, public key, origins, active.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "add":
            self.add(options)
        else:
            self.list()

    def add(self, options: dict[str, Any]) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("NAME must not be empty.")
        site_key = options["site_key"]
        if site_key == "-":
            site_key = (options.get("stdin") or sys.stdin).readline()
        site_key = site_key.strip()
        if not site_key:
            raise CommandError("--site-key must not be empty.")
        origins = list(dict.fromkeys(_origin(o) for o in options["origin"]))
        site = Site.objects.create(
            name=name,
            site_key=site_key,
            allowed_origins=origins,
            default_cust_id=options["default_cust_id"],
            privacy_contact=options["privacy_contact"].strip()[: Site._meta.get_field("privacy_contact").max_length],
        )
        if not origins:
            self.stderr.write("Warning: no --origin given; browsers will be refused until you add one in admin.")
        self.stdout.write(site.public_key)

    def list(self) -> None:
        for site in Site.objects.order_by("name", "pk"):
            origins = ",".join(site.allowed_origins or []) or "-"
            active = "active" if site.is_active else "inactive"
            self.stdout.write(f"{site.name}\t{site.public_key}\t{origins}\t{active}")
