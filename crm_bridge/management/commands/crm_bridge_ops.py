"""``manage.py crm_bridge_ops``: long operator jobs over the outbox, in batches, with progress, stop and resume.

    crm_bridge_ops redrive  --status failed [--site ID] [--since T] [--until T]        failed → queued, fresh budget
    crm_bridge_ops resend   --day YYYY-MM-DD [--site ID] [--kind lead|message]         a day's failed/cancelled rows
                            [--status failed|cancelled …] [--include-ambiguous]
    crm_bridge_ops erase    --phone … | --email … [--yes]                             a data-subject erasure
    crm_bridge_ops backfill tel-e164                                                  leads missing tel_e164

Every verb takes ``--dry-run`` (list and count, change nothing), ``--resume`` (continue an interrupted run of the
same arguments after its last committed batch), ``--batch-size N`` and ``--operator NAME`` (for the audit trail;
default: the OS user). Ctrl-C or SIGTERM finishes the batch in hand, prints how to resume, and exits non-zero.
The shared machinery is :mod:`crm_bridge.management.progress`; what each verb selects and why is in
docs/operations.md, "Operator commands".
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_date, parse_datetime

from crm_bridge import broker
from crm_bridge.delivery import staff
from crm_bridge.intake.validators import normalize_cn_phone
from crm_bridge.models import OperatorRun, PrivacyAuditLog, Site, Submission
from crm_bridge.privacy import requests

from ..progress import DEFAULT_BATCH_SIZE, BatchJob, Interrupted, Plan, Progress, describe, run_job
from .crm_bridge_privacy import CRM_NOTE, _os_user

S = Submission.Status

SPAM_CANCELLED = "cancelled while held as spam (release spam from admin instead)"
AMBIGUOUS = "a message whose earlier send may have reached the CRM (--include-ambiguous resends it)"
BAD_TEL = "its tel is not a valid mainland number"


def enqueue_on_commit(submission_id: str) -> bool:
    """Hand a row to the broker once the batch's transaction commits (never for a batch rolled back)."""
    transaction.on_commit(lambda: broker.enqueue_delivery(submission_id))
    return True


# --- the verbs ----------------------------------------------------------------------------------------------


class Redrive(BatchJob):
    """Failed rows back to queued with a fresh attempt budget: admin's "Retry now" (:func:`staff.retry_now`) over
    a whole selection. Erased rows are never retried (nothing left to send)."""

    verb = "redrive"
    action = "queue"

    def __init__(self, *, status: str, site: Site | None, since: datetime | None, until: datetime | None) -> None:
        self.status, self.site, self.since, self.until = status, site, since, until

    def scope(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "site": self.site.pk if self.site else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    def queryset(self) -> QuerySet[Submission]:
        rows = Submission.objects.filter(status=self.status, redacted_at__isnull=True)
        if self.site is not None:
            rows = rows.filter(site=self.site)
        if self.since is not None:
            rows = rows.filter(created_at__gte=self.since)
        if self.until is not None:
            rows = rows.filter(created_at__lt=self.until)
        return rows

    def apply(self, rows: list[Submission]) -> int:
        return staff.retry_now([r.pk for r in rows], enqueue=enqueue_on_commit)


class Resend(BatchJob):
    """One day's rows that never reached the CRM, queued again. Which states, and why:

    * ``failed`` (dead letters) and ``cancelled`` (staff stopped them before any send reached the CRM): resent.
    * ``delivered`` and ``duplicate``: never. The CRM has them; a message would be posted twice (the board has
      no idempotency key), and a lead would come back as a duplicate and post a second board note.
    * ``spam`` and rows cancelled while held as spam: never; releasing spam is a person's judgement, in admin.
    * ``queued`` and ``sending``: already on their way.
    * messages with ``ambiguous_sends`` (a send whose answer never came: the board may hold them already):
      skipped and listed unless ``--include-ambiguous``. Leads are safe either way: delivery's check-then-create
      finds a customer an ambiguous Save created.
    * erased rows: never (nothing left to send).
    """

    verb = "resend"
    action = "queue"

    def __init__(
        self, *, day: str, site: Site | None, kind: str | None, statuses: list[str], include_ambiguous: bool
    ) -> None:
        self.day, self.site, self.kind = day, site, kind
        self.statuses = sorted(set(statuses))
        self.include_ambiguous = include_ambiguous
        start = timezone.make_aware(datetime.combine(_date(day, "--day"), time.min))
        self.start, self.end = start, timezone.make_aware(datetime.combine(start.date() + timedelta(days=1), time.min))

    def scope(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "site": self.site.pk if self.site else None,
            "kind": self.kind,
            "status": self.statuses,
            "include_ambiguous": self.include_ambiguous,
        }

    def queryset(self) -> QuerySet[Submission]:
        rows = Submission.objects.filter(
            status__in=self.statuses, redacted_at__isnull=True, created_at__gte=self.start, created_at__lt=self.end
        )
        if self.site is not None:
            rows = rows.filter(site=self.site)
        if self.kind:
            rows = rows.filter(kind=self.kind)
        return rows

    def plan(self, rows: list[Submission]) -> Plan:
        plan = Plan()
        for row in rows:
            if row.status == S.CANCELLED and row.spam_reason:
                plan.skip.append((row, SPAM_CANCELLED))
            elif row.kind == Submission.Kind.MESSAGE and row.ambiguous_sends and not self.include_ambiguous:
                plan.skip.append((row, AMBIGUOUS))
            else:
                plan.change.append(row)
        return plan

    def apply(self, rows: list[Submission]) -> int:
        ids = [r.pk for r in rows]
        # retry_now takes failed rows; a cancelled one becomes failed first, in this same transaction.
        Submission.objects.filter(pk__in=ids, status=S.CANCELLED, redacted_at__isnull=True).update(status=S.FAILED)
        return staff.retry_now(ids, enqueue=enqueue_on_commit)


class Erase(BatchJob):
    """A data-subject erasure (:mod:`crm_bridge.privacy.requests`: cancel the unsent, redact them all), batch by
    batch. Writes the privacy audit entry once per invocation (an ``erase`` with the rows erased, or for a dry
    run a ``find`` with the rows matched: someone looked the person up)."""

    verb = "erase"
    action = "erase"
    bounded = False

    def __init__(self, *, phone: str | None, email: str | None) -> None:
        self.phone, self.email = phone, email
        try:
            self.rows = requests.find(phone=phone, email=email)
            subject = normalize_cn_phone(phone).e164 if phone is not None else (email or "").strip().lower()
        except ValidationError as err:
            raise CommandError(" ".join(err.messages)) from err
        self.matched_by = requests.criterion(phone, email)
        # Keyed by SECRET_KEY: a resume can tell it names the same person; the checkpoint cannot tell who.
        self.subject = salted_hmac("crm_bridge.ops.erase", f"{self.matched_by}:{subject}").hexdigest()
        self.erased = self.sent = 0

    def scope(self) -> dict[str, Any]:
        return {"matched_by": self.matched_by, "subject": self.subject}

    def queryset(self) -> QuerySet[Submission]:
        return self.rows

    def apply(self, rows: list[Submission]) -> int:
        self.sent += sum(r.status in (S.DELIVERED, S.DUPLICATE) for r in rows)
        n = requests.erase(rows)
        self.erased += n
        return n


class BackfillTelE164(BatchJob):
    """Leads without ``tel_e164`` get it from their ``tel``. Why it matters: a data-subject request by phone
    (:func:`crm_bridge.privacy.requests.find`) and the admin's phone search match leads on ``tel_e164``, so a
    lead without it cannot be found, nor erased, by the person's number. Intake has always stored it; rows put in
    the outbox by other code (an import, an integrator's own form, ``crm_bridge.testing.submission`` with a
    partial payload) may lack it. ``tel`` itself is left as stored; a ``tel`` that is not a valid number is
    listed and left alone."""

    verb = "backfill"
    action = "backfill"

    def scope(self) -> dict[str, Any]:
        return {"what": "tel-e164"}

    def queryset(self) -> QuerySet[Submission]:
        missing = Q(payload__tel_e164__isnull=True) | Q(payload__tel_e164=None) | Q(payload__tel_e164="")
        return Submission.objects.filter(missing, kind=Submission.Kind.LEAD, redacted_at__isnull=True)

    @staticmethod
    def e164(row: Submission) -> str | None:
        try:
            return normalize_cn_phone(str((row.payload or {}).get("tel") or "")).e164
        except ValidationError:
            return None

    def plan(self, rows: list[Submission]) -> Plan:
        plan = Plan()
        for row in rows:
            if self.e164(row) is None:
                plan.skip.append((row, BAD_TEL))
            else:
                plan.change.append(row)
        return plan

    def apply(self, rows: list[Submission]) -> int:
        # Read again under the batch's lock, so a redaction that committed since the batch was read is never
        # undone by writing the old payload back.
        n = 0
        fresh = self.queryset().select_for_update().filter(pk__in=[r.pk for r in rows])
        for row in fresh:
            number = self.e164(row)
            if number is not None:
                row.payload = {**row.payload, "tel_e164": number}
                row.save(update_fields=["payload", "updated_at"])
                n += 1
        return n


# --- arguments ----------------------------------------------------------------------------------------------


def _date(value: str, option: str) -> Any:
    try:
        day = parse_date(value)
    except ValueError:
        day = None
    if day is None:
        raise CommandError(f"{option}: {value!r} is not a date (YYYY-MM-DD).")
    return day


def _moment(value: str | None, option: str) -> datetime | None:
    """A date (its local midnight) or an ISO date-time (local time unless it names an offset)."""
    if value is None:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        moment = datetime.combine(_date(value, option), time.min)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _site(value: int | None) -> Site | None:
    if value is None:
        return None
    site = Site.objects.filter(pk=value).first()
    if site is None:
        raise CommandError(f"--site: no site with id {value}.")
    return site


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise ValueError(value)
    return n


class Command(BaseCommand):
    help = "Long operator jobs over the outbox (redrive, resend, erase, backfill) with progress, stop and resume."
    # Tests pass a callable that runs after each committed batch (to stop a run at a known point).
    stealth_options = ("after_batch",)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        redrive = sub.add_parser("redrive", help="Failed rows back to queued, with a fresh attempt budget.")
        redrive.add_argument("--status", choices=["failed"], default="failed", help="Which rows (only: failed).")
        redrive.add_argument("--site", type=int, help="Only this site (its id).")
        redrive.add_argument("--since", help="Created at or after: YYYY-MM-DD or an ISO date-time (local time).")
        redrive.add_argument("--until", help="Created before: YYYY-MM-DD or an ISO date-time (local time).")
        resend = sub.add_parser("resend", help="Queue one day's failed and cancelled rows again.")
        resend.add_argument("--day", required=True, help="YYYY-MM-DD, a day in settings.TIME_ZONE.")
        resend.add_argument("--site", type=int, help="Only this site (its id).")
        resend.add_argument("--kind", choices=["lead", "message"])
        resend.add_argument(
            "--status", action="append", choices=["failed", "cancelled"], help="Repeatable; default: both."
        )
        resend.add_argument("--include-ambiguous", action="store_true", help="Also messages maybe sent already.")
        erase = sub.add_parser("erase", help="Erase every submission of one phone number or e-mail address.")
        who = erase.add_mutually_exclusive_group(required=True)
        who.add_argument("--phone", help="A phone number in mainland China, in any spelling.")
        who.add_argument("--email", help="An e-mail address (case-insensitive).")
        erase.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        backfill = sub.add_parser("backfill", help="Fill in a derived field old rows lack.")
        backfill.add_argument("what", choices=["tel-e164"], help="tel-e164: leads' tel_e164 from their tel.")
        for p in (redrive, resend, erase, backfill):
            p.add_argument("--dry-run", action="store_true", help="List and count what would change; change nothing.")
            p.add_argument("--resume", action="store_true", help="Continue the interrupted run of these arguments.")
            p.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE, help="Rows per transaction.")
            p.add_argument("--operator", help="Who runs it (for the audit trail); default: the OS user.")

    def handle(self, *args: Any, **options: Any) -> None:
        job, resume_args = self.job(options)
        operator = options["operator"] or f"command:{_os_user()}"
        dry_run, resume = options["dry_run"], options["resume"]
        if isinstance(job, Erase) and not dry_run and not options["yes"]:
            n = job.queryset().count()
            if n and input(f"Erase the personal data of {n} submission(s)? [y/N] ").strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing erased.")

        def write(text: str) -> None:
            self.stderr.write(text, style_func=str, ending="")
            self.stderr.flush()

        progress = Progress(write, label=job.verb, tty=self.stderr.isatty())
        try:
            result = run_job(
                job,
                dry_run=dry_run,
                resume=resume,
                batch_size=options["batch_size"],
                operator=operator,
                progress=progress,
                on_plan=lambda plan, dry: self.list_plan(job, plan, dry),
                after_batch=options.get("after_batch"),
            )
        except Interrupted as stop:
            run = stop.result.run
            self.finish_erase(job, run, dry_run, operator)
            if dry_run:
                raise CommandError("Dry run interrupted; nothing was changed.", returncode=128 + stop.signum) from None
            hint = f"manage.py crm_bridge_ops {job.verb} {' '.join(resume_args)} --resume".replace("  ", " ")
            raise CommandError(
                f"Interrupted after {run.done}/{run.total} row(s) ({run.changed} changed); every finished batch is "
                f"committed. Resume with: {hint}",
                returncode=128 + stop.signum,
            ) from None
        run = result.run
        if result.taken_over:
            self.stderr.write(f"Stopped: another process marked this run {result.taken_over} meanwhile.")
        skipped = sum(result.skipped.values())
        reasons = "".join(f"\n  {n} {reason}" for reason, n in sorted(result.skipped.items()))
        if dry_run:
            self.stdout.write(
                f"Dry run: {run.changed} of {run.done} selected row(s) would be changed ({job.action}), "
                f"{skipped} left alone; nothing was changed.{reasons}"
            )
        else:
            self.stdout.write(
                f"{job.verb}: {run.changed} of {run.done} selected row(s) changed ({job.action}), "
                f"{skipped} left alone.{reasons}"
            )
        self.finish_erase(job, run, dry_run, operator)

    def list_plan(self, job: BatchJob, plan: Plan, dry_run: bool) -> None:
        """The rows a dry run would change, and (always) the rows left alone, one tab-separated line each."""
        if dry_run:
            for row in plan.change:
                self.stdout.write("\t".join([f"would {job.action}", *describe(row)]))
        for row, reason in plan.skip:
            self.stdout.write("\t".join(["left alone", *describe(row), reason]))

    def finish_erase(self, job: BatchJob, run: OperatorRun, dry_run: bool, operator: str) -> None:
        if not isinstance(job, Erase):
            return
        if dry_run:
            requests.audit(PrivacyAuditLog.Action.FIND, actor=operator, via="command", matched_by=job.matched_by,
                           rows=run.changed)  # fmt: skip
            return
        requests.audit(PrivacyAuditLog.Action.ERASE, actor=operator, via="command", matched_by=job.matched_by,
                       rows=job.erased)  # fmt: skip
        self.stdout.write(f"{job.erased} submission(s) erased; {job.sent} of them had been delivered to the CRM.")
        self.stdout.write(CRM_NOTE)

    def job(self, options: dict[str, Any]) -> tuple[BatchJob, list[str]]:
        """The verb's job and the arguments that name its selection again (for the resume hint)."""
        verb = options["verb"]
        if verb == "redrive":
            since, until = _moment(options["since"], "--since"), _moment(options["until"], "--until")
            if since and until and since >= until:
                raise CommandError("--since must be before --until.")
            job: BatchJob = Redrive(status=options["status"], site=_site(options["site"]), since=since, until=until)
            args = ["--status", options["status"], *_opt("--site", options["site"])]
            args += _opt("--since", options["since"]) + _opt("--until", options["until"])
        elif verb == "resend":
            statuses = options["status"] or ["failed", "cancelled"]
            job = Resend(
                day=options["day"],
                site=_site(options["site"]),
                kind=options["kind"],
                statuses=statuses,
                include_ambiguous=options["include_ambiguous"],
            )
            args = ["--day", options["day"], *_opt("--site", options["site"]), *_opt("--kind", options["kind"])]
            args += [a for s in sorted(set(statuses)) for a in ("--status", s)]
            args += ["--include-ambiguous"] if options["include_ambiguous"] else []
        elif verb == "erase":
            job = Erase(phone=options["phone"], email=options["email"])
            # Never the number or address itself: the hint lands in terminals, logs and tickets.
            args = ["--phone <the same number>" if options["phone"] is not None else "--email <the same address>"]
            args += ["--yes"] if options["yes"] else []
        else:
            job = BackfillTelE164()
            args = [options["what"]]
        return job, args


def _opt(name: str, value: Any) -> list[str]:
    return [] if value is None else [name, str(value)]
