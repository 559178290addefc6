"""The app's tables: sites, the submission outbox, delivery attempts, hit counters, idempotency records,
and the shared CRM circuit/rate state.

The ``Submission`` row (not the broker message) is the truth (docs/architecture.md, "The outbox"): intake writes it
in the request's transaction, a Celery task delivers it, and a periodic sweep re-enqueues rows that are due or
whose lease ran out, so a lost broker message delays a delivery but never loses it.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .origins import normalise_origin, origin_key
from .privacy import notice

__all__ = [
    "Circuit",
    "DeliveryAttempt",
    "HitCounter",
    "HitFold",
    "IdempotencyRecord",
    "LeadIdentity",
    "OperatorRun",
    "PrivacyAuditLog",
    "Site",
    "Submission",
]


def new_public_key() -> str:
    """A widget key: public (it is in every page's HTML), unguessable, and not the CRM siteKey."""
    return "pk_" + secrets.token_urlsafe(18)


def default_features() -> dict[str, bool]:
    return {"messages": True, "leads": True, "hits": True}


#: Finite by default (PIPL Art. 19: no longer than the purpose needs): the CRM is where sales works with a
#: lead; our copy serves delivery and troubleshooting, which half a year covers with room to spare.
DEFAULT_RETENTION_DAYS = 180


def default_lead_mapping() -> dict[str, str]:
    """CRM customer field → template over the lead's fields (see ``delivery.build_customer``)."""
    return {
        "sName": "{company_or_name}",
        "tel": "{tel}",
        "email": "{email}",
        "remark": "{summary}",
    }


class Site(models.Model):
    """One company website that embeds the widget, and how its submissions reach the CRM.

    ``site_key`` is the CRM's secret for the ECommerce handlers: it never leaves the server (masked in admin,
    absent from ``repr``, logs and every response). ``public_key`` is what pages carry.
    """

    name = models.CharField(_("name"), max_length=100)
    public_key = models.CharField(_("public key"), max_length=40, unique=True, default=new_public_key, editable=False)
    site_key = models.CharField(_("CRM siteKey"), max_length=200, help_text=_("Secret. Never shown to visitors."))
    allowed_origins = models.JSONField(
        _("allowed origins"),
        default=list,
        blank=True,
        help_text=_('Pages that may embed the widget, as origins: ["https://www.example.com"].'),
    )
    features = models.JSONField(_("enabled features"), default=default_features, blank=True)
    default_cust_id = models.IntegerField(
        _("default custID"), default=0, help_text=_("CRM customer the message board files anonymous messages under.")
    )
    lead_mapping = models.JSONField(_("lead field mapping"), default=default_lead_mapping, blank=True)
    post_duplicates_to_board = models.BooleanField(
        _("post duplicate leads to the message board"), default=True,
        help_text=_("So sales sees a returning contact that the CRM already knows."),
    )  # fmt: skip
    texts = models.JSONField(_("widget texts"), default=dict, blank=True, help_text=_("Overrides per language."))
    is_active = models.BooleanField(_("active"), default=True)
    # A pause of this site's *siteKey* (the CRM refused it): its messages and hits wait, its leads do not (they
    # authenticate with the CRM token, whose pause is global: ``Circuit.token_paused_at``).
    paused_at = models.DateTimeField(_("deliveries paused at"), null=True, blank=True)
    paused_reason = models.TextField(_("why paused"), blank=True)
    site_key_probe_at = models.DateTimeField(
        _("next siteKey probe"), null=True, blank=True,
        help_text=_("While the siteKey is refused, when it is next tried again."),
    )  # fmt: skip
    # --- privacy (PIPL; docs/privacy.md): kept together ---
    privacy_notice_zh = models.TextField(
        _("privacy notice (Chinese)"), blank=True,
        help_text=_("Shown next to the submit button. Empty: the default notice, naming this site."),
    )  # fmt: skip
    privacy_notice_en = models.TextField(
        _("privacy notice (English)"), blank=True,
        help_text=_("Shown next to the submit button. Empty: the default notice, naming this site."),
    )  # fmt: skip
    privacy_contact = models.CharField(
        _("privacy contact"), max_length=200, blank=True,
        help_text=_("Where visitors ask about their data (e-mail or phone); named by the default notice."),
    )  # fmt: skip
    retention_days = models.PositiveIntegerField(
        _("retention period (days)"), default=DEFAULT_RETENTION_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Finished submissions older than this have their personal fields erased here."),
    )  # fmt: skip
    consent_required_leads = models.BooleanField(_("leads need explicit consent"), default=True)
    consent_required_messages = models.BooleanField(_("messages need explicit consent"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never the siteKey
        return f"<Site {self.pk} {self.name!r} {self.public_key}>"

    def privacy_notice(self, lang: str) -> str:
        """The notice visitors read in ``lang`` (``zh-CN`` | ``en``): the site's text, else the default."""
        return notice.notice_text(self, lang)

    @property
    def privacy_version(self) -> str:
        """The notice's version: changes whenever a text in either language changes (:mod:`.privacy.notice`)."""
        return notice.notice_version(self)

    def consent_required(self, kind: str) -> bool:
        """Whether a submission of ``kind`` (``message`` | ``lead``) must carry the visitor's consent."""
        return self.consent_required_leads if kind == "lead" else self.consent_required_messages

    def feature(self, name: str) -> bool:
        return bool({**default_features(), **(self.features or {})}.get(name))

    def origin_allowed(self, origin: str | None) -> bool:
        """True when ``origin`` (an ``Origin`` header) is on this site's allow-list; both sides are compared in
        the canonical form of :func:`crm_bridge.origins.origin_key` (case, IDNA, default port, slash)."""
        wanted = origin_key(origin)
        return wanted is not None and any(origin_key(o) == wanted for o in self.allowed_origins or ())

    def clean(self) -> None:
        """Store the allow-list as browsers send origins (one rule: :mod:`crm_bridge.origins`)."""
        super().clean()
        if not isinstance(self.allowed_origins, list):
            raise ValidationError({"allowed_origins": _('A list of origins, e.g. ["https://www.example.com"].')})
        cleaned: list[str] = []
        errors: list[ValidationError] = []
        for item in self.allowed_origins:
            try:
                origin = normalise_origin(item)
            except ValidationError as err:
                errors.append(err)
                continue
            if origin not in cleaned:
                cleaned.append(origin)
        if errors:
            raise ValidationError({"allowed_origins": errors})
        self.allowed_origins = cleaned


class Submission(models.Model):
    """The outbox: one visitor submission (a message or a lead) and where its delivery stands."""

    class Kind(models.TextChoices):
        MESSAGE = "message", _("message")
        LEAD = "lead", _("lead")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")  # waiting; due at next_attempt_at (NULL = now)
        SENDING = "sending", _("sending")  # claimed by one worker until lease_expires_at
        DELIVERED = "delivered", _("delivered")
        DUPLICATE = "duplicate", _("duplicate")  # a lead the CRM (or our outbox) already had
        FAILED = "failed", _("failed")  # dead letter: needs a person
        SPAM = "spam", _("held as spam")  # never sent unless staff release it
        CANCELLED = "cancelled", _("cancelled")

    FINAL = (Status.DELIVERED, Status.DUPLICATE, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.PROTECT, related_name="submissions")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    payload = models.JSONField(_("payload"), help_text=_("The visitor's fields, validated and normalised."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0, help_text=_("Delivery attempts spent."))
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)
    enqueued_at = models.DateTimeField(
        _("handed to the broker"),
        default=timezone.now,
        help_text=_("Last hand-off to the broker; the sweep re-sends stale ones."),
    )
    last_error = models.TextField(_("last error"), blank=True)
    crm_reply = models.JSONField(_("CRM reply"), null=True, blank=True, help_text=_("The CRM's last answer."))
    ambiguous_sends = models.PositiveIntegerField(
        _("ambiguous sends"),
        default=0,
        help_text=_("Sends whose outcome we never heard (timeout after sending): possible duplicates."),
    )
    save_attempted = models.BooleanField(
        _("save attempted"), default=False, help_text=_("A lead's Customer/Save was sent at least once.")
    )
    write_in_flight = models.BooleanField(
        _("write in flight"),
        default=False,
        help_text=_("A non-idempotent CRM write is under way; still set when a worker died mid-send."),
    )
    spam_reason = models.CharField(_("spam reason"), max_length=100, blank=True)
    page_url = models.URLField(_("page URL"), max_length=2000, blank=True)
    origin = models.CharField(_("origin"), max_length=200, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    # Attribution: only the keys of intake.serializers.SOURCE_KEYS, each a bounded string.
    source = models.JSONField(
        _("source"),
        default=dict,
        blank=True,
        help_text=_("Where the visit came from: landing page, referrer, utm_* parameters and click ids."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # --- privacy (PIPL; docs/privacy.md): kept together ---
    consent = models.JSONField(
        _("consent record"), null=True, blank=True,
        help_text=_("The notice the visitor agreed to: version, SHA-256 of its text, language, time, origin, page."),
    )  # fmt: skip
    redacted_at = models.DateTimeField(
        _("personal data erased"), null=True, blank=True, db_index=True,
        help_text=_("Retention or an erasure request removed the personal fields; never delivered again."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="crm_bridge_sub_due"),
            models.Index(fields=["status", "lease_expires_at"], name="crm_bridge_sub_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.id}"

    @property
    def public_status(self) -> str:
        """The coarse status the widget API shows: queued, delivered, failed or duplicate."""
        shown: dict[str, str] = {
            self.Status.DELIVERED: "delivered",
            self.Status.DUPLICATE: "duplicate",
            self.Status.FAILED: "failed",
            self.Status.CANCELLED: "failed",
        }
        return shown.get(self.status, "queued")


class DeliveryAttempt(models.Model):
    """One CRM call made on behalf of a submission (or a hit flush): when, which endpoint, how long, the answer."""

    class Outcome(models.TextChoices):
        OK = "ok", _("answered")
        RETRY = "retry", _("failed, will retry")
        AUTH = "auth", _("credentials refused")
        REJECTED = "rejected", _("rejected")
        AMBIGUOUS = "ambiguous", _("no answer after sending")
        SKIPPED = "skipped", _("not called")

    submission = models.ForeignKey(
        Submission, verbose_name=_("submission"), on_delete=models.CASCADE, related_name="attempt_log", null=True
    )
    attempt = models.PositiveIntegerField(_("attempt"), default=0, help_text=_("The submission's attempt number."))
    endpoint = models.CharField(_("endpoint"), max_length=60)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error_code = models.IntegerField(_("error code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    reply = models.JSONField(_("CRM reply"), null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        # The admin dashboard's latency chart reads the last 14 days of calls (crm_bridge.admin.dashboard).
        indexes = [models.Index(fields=["started_at"], name="crm_bridge_attempt_started")]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.get_outcome_display()}"


class PrivacyAuditLog(models.Model):
    """One privacy action (retention run, data-subject find/export/erase): who, when, how many rows — never the
    phone number, e-mail or any other personal data it was about."""

    class Action(models.TextChoices):
        RETENTION = "retention", _("retention redaction")
        FIND = "find", _("find")
        EXPORT = "export", _("export")
        ERASE = "erase", _("erase")

    # Choices give staff a label in their language; the stored codes stay what the callers write.
    VIA = [("admin", _("admin")), ("command", _("management command")), ("task", _("periodic task"))]
    MATCHED_BY = [("phone", _("phone number")), ("email", _("e-mail address")), ("selection", _("selection in admin"))]

    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    actor = models.CharField(_("by"), max_length=150, help_text=_("A staff user, a command, or the periodic task."))
    via = models.CharField(_("via"), max_length=20, choices=VIA)
    matched_by = models.CharField(_("matched by"), max_length=20, blank=True, choices=MATCHED_BY)
    rows = models.PositiveIntegerField(_("rows"))
    # What an export covered (format, the changelist's filters, whether a search was applied): never a search
    # term or any other value typed by or about a person.
    detail = models.CharField(_("details"), max_length=500, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("privacy audit entry")
        verbose_name_plural = _("privacy audit log")
        ordering = ["-at"]

    def __str__(self) -> str:
        # Shown as the entry's title in admin: in the staff member's language (the actor is data, kept as is).
        return gettext("%(action)s: %(rows)d rows, by %(actor)s") % {
            "action": self.get_action_display(),
            "rows": self.rows,
            "actor": self.actor,
        }


class LeadIdentity(models.Model):
    """Which lead in our outbox owns a name or phone number, per site.

    Inserting these rows (unique per site, field and value) serialises the check-then-create of two leads with
    the same name or phone in flight at once, on any database, without holding a transaction open across CRM
    calls: the second finds the first's row and waits for, or defers to, its outcome.
    """

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.CASCADE)
    field = models.CharField(_("field"), max_length=10)  # "name" | "tel"
    value = models.CharField(_("value"), max_length=200)
    submission = models.ForeignKey(
        Submission, verbose_name=_("submission"), on_delete=models.CASCADE, related_name="identities"
    )

    class Meta:
        verbose_name = _("lead identity")
        verbose_name_plural = _("lead identities")
        constraints = [models.UniqueConstraint(fields=["site", "field", "value"], name="crm_bridge_lead_identity")]

    def __str__(self) -> str:
        return f"{self.field}={self.value}"


class IdempotencyRecord(models.Model):
    """The first answer given to a write with an ``Idempotency-Key``; a repeat gets it again (Stripe's model)."""

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.CASCADE)
    key = models.CharField(_("key"), max_length=255)
    endpoint = models.CharField(_("endpoint"), max_length=20)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, help_text=_("SHA-256 of the request body."))
    status_code = models.PositiveSmallIntegerField(_("status code"))
    body = models.JSONField(_("body"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["site", "key"], name="crm_bridge_idempotency_key")]

    def __str__(self) -> str:
        return self.key


class HitCounter(models.Model):
    """Page views of one catalogue item not yet sent to the CRM (``pending``) and those sent (``sent``).

    Intake adds to ``pending``; a flush sends ``UpdateBaseInfoHit(addHit=pending)`` and subtracts what it sent,
    so a failed flush keeps its count for the next one.
    """

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.CASCADE, related_name="hit_counters")
    pkid = models.IntegerField(_("pkid"))
    pending = models.BigIntegerField(_("pending"), default=0)
    sent = models.BigIntegerField(_("sent"), default=0)
    flushing_until = models.DateTimeField(
        _("flushing until"), null=True, blank=True, help_text=_("Lease of the flush sending it.")
    )
    last_flushed_at = models.DateTimeField(_("last flushed"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("hit counter")
        verbose_name_plural = _("hit counters")
        constraints = [models.UniqueConstraint(fields=["site", "pkid"], name="crm_bridge_hit_counter")]
        indexes = [models.Index(fields=["pending"], name="crm_bridge_hit_pending", condition=Q(pending__gt=0))]

    def __str__(self) -> str:
        return gettext("pkid %(pkid)s: %(pending)d pending") % {"pkid": self.pkid, "pending": self.pending}


class HitFold(models.Model):
    """One batch of page views moved from Redis into ``HitCounter.pending``, recorded in the same transaction.

    With Redis as the cache, beacons are counted in a Redis hash; a fold renames it to a key of its own (named by
    ``token``) and adds it to the counters. This row, unique per token, is what makes the fold exactly-once: a fold
    that crashed after its commit but before deleting the key, or two processes folding the same key, find the
    token taken and only delete the key (docs/widget-api.md, "Hits"). Rows are pruned an hour after their key is
    gone.
    """

    token = models.CharField(_("token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("hit fold")
        verbose_name_plural = _("hit folds")

    def __str__(self) -> str:
        return self.token


class Circuit(models.Model):
    """Shared health of one CRM (by base URL): a circuit breaker and a call-rate bucket for all workers.

    Kept in the database so every worker process and machine sees the same state, and staff see it in admin.
    """

    class State(models.TextChoices):
        CLOSED = "closed", _("closed (calling)")
        OPEN = "open", _("open (not calling)")
        HALF_OPEN = "half_open", _("half-open (probing)")

    name = models.CharField(_("name"), max_length=200, unique=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.CLOSED)
    failures = models.PositiveIntegerField(_("failures"), default=0, help_text=_("Consecutive retryable failures."))
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    retry_at = models.DateTimeField(
        _("retry at"), null=True, blank=True, help_text=_("When an open circuit lets a probe through.")
    )
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    tokens = models.FloatField(_("tokens"), default=0.0, help_text=_("Call-rate bucket: calls that may start now."))
    tokens_at = models.DateTimeField(_("tokens at"), null=True, blank=True)
    # The CRM token is one setting for every site, so its refusal pauses the leads of every site at once, here.
    token_paused_at = models.DateTimeField(_("token refused at"), null=True, blank=True)
    token_paused_reason = models.TextField(_("why the token is paused"), blank=True)
    token_probe_at = models.DateTimeField(
        _("next token probe"), null=True, blank=True, help_text=_("While the token is refused, when it is next tried.")
    )

    class Meta:
        verbose_name = _("CRM circuit")
        verbose_name_plural = _("CRM circuits")

    def __str__(self) -> str:
        return f"{self.name}: {self.get_state_display()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "failures": self.failures,
            "opened_at": self.opened_at,
            "retry_at": self.retry_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


# The alert tables live in their own module but belong to this app (one migration history, one admin section).
from .alerts.models import Alert, AlertDestination  # noqa: E402, F401


class OperatorRun(models.Model):
    """One run of a long operator command (``manage.py crm_bridge_ops``): what it selected, who ran it, how far
    it got. The checkpoint ``--resume`` continues from, and the record of who did what (an audit trail).

    The cursor (``last_created_at``, ``last_id``) is the key of the last row done, in the order the command
    works in, ``(created_at, id)``; it is updated in the same transaction as the rows of each batch, so it can
    never say a batch was done when it was rolled back, nor the reverse. Kept in the database (not a file) so
    a run stopped on one machine resumes on another, and two processes resuming one run take turns per batch.
    Holds no personal data: an erasure's phone number or e-mail address is kept only as a keyed hash
    (``scope``), enough to tell that a resume names the same person.
    """

    class State(models.TextChoices):
        RUNNING = "running", _("running")  # or its process died without a word (kill -9, a lost machine)
        INTERRUPTED = "interrupted", _("interrupted")
        FINISHED = "finished", _("finished")
        ABANDONED = "abandoned", _("abandoned")  # a fresh run of the same selection started instead

    verb = models.CharField(_("command"), max_length=20)
    scope = models.JSONField(
        _("selection"), default=dict, help_text=_("The command's arguments, without personal data.")
    )
    scope_key = models.CharField(_("selection key"), max_length=64, db_index=True)
    operator = models.CharField(_("operator"), max_length=150)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.RUNNING)
    horizon = models.DateTimeField(
        _("rows created up to"), null=True, blank=True,
        help_text=_("The run only touches rows created before it first started (empty: no bound)."),
    )  # fmt: skip
    last_created_at = models.DateTimeField(_("last row created at"), null=True, blank=True)
    last_id = models.UUIDField(_("last row"), null=True, blank=True)
    done = models.PositiveIntegerField(_("rows done"), default=0)
    changed = models.PositiveIntegerField(_("rows changed"), default=0)
    total = models.PositiveIntegerField(_("rows selected"), default=0)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("operator command run")
        verbose_name_plural = _("operator command runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.verb} {self.state} {self.done}/{self.total}"
