"""``manage.py crm_bridge_privacy``: answer a data-subject request (PIPL Art. 45–47) for one phone or e-mail.

    crm_bridge_privacy find   --phone 138-0013-8000 | --email a@example.com    ids, dates, kinds, statuses
    crm_bridge_privacy export --phone … | --email … [--output FILE]           JSON of every matching submission
    crm_bridge_privacy erase  --phone … | --email … [--yes]                   redact them here (and cancel unsent)

The phone number is normalised as intake does, so any spelling of it matches. ``erase`` only redacts this
server's copy: what was already delivered lives in the CRM and must be deleted there (the command says so).
Every run writes an audit entry (``PrivacyAuditLog``) and a log line without the phone number or address.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from crm_bridge.models import PrivacyAuditLog, Submission
from crm_bridge.privacy import requests

CRM_NOTE = (
    "Only this server's copy was erased. Submissions already delivered live in the CRM too: "
    "delete the customer / message there as well."
)


class Command(BaseCommand):
    help = "Find, export (JSON) or erase every submission of one phone number or e-mail address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["find", "export", "erase"])
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--phone", help="A phone number in mainland China, in any spelling.")
        who.add_argument("--email", help="An e-mail address (case-insensitive).")
        parser.add_argument("--output", help="export: write the JSON here instead of stdout.")
        parser.add_argument("--yes", action="store_true", help="erase: do not ask for confirmation.")
        parser.add_argument("--actor", help="Who asks (for the audit log); default: the OS user.")

    def handle(self, *args: Any, **options: Any) -> None:
        phone, email = options["phone"], options["email"]
        try:
            rows = list(requests.find(phone=phone, email=email).select_related("site"))
        except ValidationError as err:
            raise CommandError(" ".join(err.messages)) from err
        action = options["action"]
        actor = options["actor"] or f"command:{_os_user()}"
        matched_by = requests.criterion(phone, email)
        if action == "find":
            for sub in rows:
                self.stdout.write(
                    f"{sub.id}\t{sub.created_at:%Y-%m-%d %H:%M}\t{sub.site.name}\t{sub.kind}\t{sub.status}"
                )
            self.stderr.write(f"{len(rows)} submission(s).")
            requests.audit(
                PrivacyAuditLog.Action.FIND, actor=actor, via="command", matched_by=matched_by, rows=len(rows)
            )
        elif action == "export":
            text = json.dumps(requests.export(rows), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
            if options["output"]:
                with open(options["output"], "w", encoding="utf-8") as f:
                    f.write(text + "\n")
            else:
                self.stdout.write(text)
            self.stderr.write(f"{len(rows)} submission(s) exported.")
            requests.audit(PrivacyAuditLog.Action.EXPORT, actor=actor, via="command", matched_by=matched_by,
                           rows=len(rows))  # fmt: skip
        else:
            if rows and not options["yes"]:
                answer = input(f"Erase the personal data of {len(rows)} submission(s)? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    raise CommandError("Nothing erased.")
            sent = sum(s.status in (Submission.Status.DELIVERED, Submission.Status.DUPLICATE) for s in rows)
            n = requests.erase(rows)
            requests.audit(PrivacyAuditLog.Action.ERASE, actor=actor, via="command", matched_by=matched_by, rows=n)
            self.stdout.write(f"{n} submission(s) erased; {sent} of them had been delivered to the CRM.")
            self.stdout.write(CRM_NOTE)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without /etc/passwd entry)
        return "unknown"
