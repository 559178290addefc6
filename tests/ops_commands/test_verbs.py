"""Each verb of ``crm_bridge_ops`` changes exactly the rows it names, and ``--dry-run`` changes nothing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from crm_bridge.models import OperatorRun, PrivacyAuditLog, Site, Submission

S = Submission.Status
pytestmark = pytest.mark.django_db


def local(text: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(text))


def snapshot() -> list[tuple]:
    return list(
        Submission.objects.order_by("pk").values_list(
            "pk", "status", "attempts", "next_attempt_at", "payload", "redacted_at", "updated_at"
        )
    )


@pytest.fixture
def other_site(db):
    return Site.objects.create(name="Other", site_key="other-key", allowed_origins=["https://other.example"])


# --- redrive ------------------------------------------------------------------------------------------------


@pytest.fixture
def failed_rows(make_submission, other_site):
    """Five failed rows of Acme (one erased), one failed of Other, and rows in other states."""
    rows = [make_submission("lead", status=S.FAILED, attempts=8) for _ in range(4)]
    rows.append(make_submission("message", status=S.FAILED, attempts=8, redacted_at=timezone.now()))
    rows.append(make_submission("message", site=other_site, status=S.FAILED, attempts=8))
    for status in (S.QUEUED, S.DELIVERED, S.CANCELLED, S.SPAM):
        make_submission("message", status=status)
    return rows


def test_redrive_queues_every_failed_row_with_a_fresh_budget(ops, enqueued, failed_rows):
    out, err = ops("redrive", "--status", "failed", "--batch-size", "2")
    expected = {str(r.pk) for r in failed_rows if r.redacted_at is None}
    assert set(enqueued) == expected and sum(enqueued.values()) == 5
    assert Submission.objects.filter(pk__in=expected, status=S.QUEUED, attempts=0).count() == 5
    assert Submission.objects.filter(status=S.FAILED).count() == 1  # the erased one: nothing left to send
    assert "redrive: 5 of 5 selected row(s) changed (queue), 0 left alone." in out
    assert err.splitlines() == ["redrive: 2/5 done", "redrive: 4/5 done", "redrive: 5/5 done"]
    run = OperatorRun.objects.get()
    assert (run.verb, run.state, run.done, run.changed, run.total, run.operator) == (
        "redrive", "finished", 5, 5, 5, "ops-test",
    )  # fmt: skip


def test_redrive_by_site_and_time(ops, enqueued, failed_rows, other_site):
    a, b, c, d = failed_rows[:4]
    times = ("2025-05-01 09:00", "2025-05-02 00:00", "2025-05-02 23:59", "2025-05-03")
    for row, at in zip((a, b, c, d), times, strict=True):
        Submission.objects.filter(pk=row.pk).update(created_at=local(at))
    ops("redrive", "--site", str(a.site_id), "--since", "2025-05-02", "--until", "2025-05-03")
    assert set(enqueued) == {str(b.pk), str(c.pk)}
    out, _ = ops("redrive", "--site", str(other_site.pk))
    assert set(enqueued) == {str(b.pk), str(c.pk), str(failed_rows[5].pk)}
    assert "1 of 1 selected" in out


def test_redrive_dry_run_changes_nothing(ops, enqueued, failed_rows):
    before = snapshot()
    out, _ = ops("redrive", "--dry-run", "--batch-size", "2")
    assert snapshot() == before and not enqueued and OperatorRun.objects.count() == 0
    lines = out.splitlines()
    listed = [line.split("\t")[1] for line in lines if line.startswith("would queue\t")]
    assert sorted(listed) == sorted(str(r.pk) for r in failed_rows if r.redacted_at is None)
    assert lines[-1] == "Dry run: 5 of 5 selected row(s) would be changed (queue), 0 left alone; nothing was changed."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "999999"], "--site: no site with id 999999."),
        (["--since", "2025-13-01"], "--since: '2025-13-01' is not a date (YYYY-MM-DD)."),
        (["--since", "2025-05-03", "--until", "2025-05-02"], "--since must be before --until."),
        (["--resume"], "Nothing to resume: no interrupted 'redrive' run with these arguments."),
    ],
)
def test_redrive_bad_input_changes_nothing(ops, enqueued, failed_rows, args, message):
    before = snapshot()
    with pytest.raises(CommandError, match=re.escape(message)):
        ops("redrive", *args)
    assert snapshot() == before and not enqueued


# --- resend -------------------------------------------------------------------------------------------------


@pytest.fixture
def day_rows(make_submission):
    """Rows of 2025-05-02 (Shanghai time) in every state, and one failed row of the day before and after."""
    day = local("2025-05-02 10:00")
    made = {}

    def make(name, kind, status, **fields):
        made[name] = make_submission(kind, status=status, created_at=fields.pop("at", day), **fields)

    make("failed_lead", "lead", S.FAILED, attempts=8)
    make("failed_message", "message", S.FAILED, attempts=8)
    make("cancelled_lead", "lead", S.CANCELLED)
    make("cancelled_message", "message", S.CANCELLED, at=local("2025-05-02 00:00"))
    make("ambiguous_message", "message", S.FAILED, ambiguous_sends=1, at=local("2025-05-02 23:59:59"))
    make("ambiguous_lead", "lead", S.FAILED, ambiguous_sends=1, save_attempted=True)
    make("spam_cancelled", "message", S.CANCELLED, spam_reason="honeypot")
    make("erased", "lead", S.CANCELLED, redacted_at=timezone.now())
    for status in (S.DELIVERED, S.DUPLICATE, S.SPAM, S.QUEUED, S.SENDING):
        make(status, "lead", status)
    make("day_before", "lead", S.FAILED, at=local("2025-05-01 23:59:59"))
    make("day_after", "lead", S.FAILED, at=local("2025-05-03 00:00"))
    return made


def test_resend_queues_the_days_unsent_rows_only(ops, enqueued, day_rows):
    out, _ = ops("resend", "--day", "2025-05-02", "--batch-size", "3")
    resent = ["failed_lead", "failed_message", "cancelled_lead", "cancelled_message", "ambiguous_lead"]
    assert set(enqueued) == {str(day_rows[n].pk) for n in resent} and sum(enqueued.values()) == 5
    assert Submission.objects.filter(status=S.QUEUED, attempts=0).exclude(pk=day_rows["queued"].pk).count() == 5
    left = {line.split("\t")[1]: line.split("\t")[-1] for line in out.splitlines() if line.startswith("left alone")}
    assert left == {
        str(day_rows["ambiguous_message"].pk): "a message whose earlier send may have reached the CRM "
        "(--include-ambiguous resends it)",
        str(day_rows["spam_cancelled"].pk): "cancelled while held as spam (release spam from admin instead)",
    }
    assert "resend: 5 of 7 selected row(s) changed (queue), 2 left alone." in out
    for name in ("delivered", "duplicate", "spam", "sending", "erased", "spam_cancelled", "ambiguous_message"):
        row = day_rows[name]
        assert Submission.objects.get(pk=row.pk).status == row.status, name


def test_resend_narrowed_by_kind_status_and_ambiguity(ops, enqueued, day_rows):
    ops("resend", "--day", "2025-05-02", "--kind", "message", "--status", "failed", "--include-ambiguous")
    assert set(enqueued) == {str(day_rows["failed_message"].pk), str(day_rows["ambiguous_message"].pk)}


def test_resend_dry_run_changes_nothing(ops, enqueued, day_rows):
    before = snapshot()
    out, _ = ops("resend", "--day", "2025-05-02", "--dry-run")
    assert snapshot() == before and not enqueued and OperatorRun.objects.count() == 0
    assert sum(line.startswith("would queue\t") for line in out.splitlines()) == 5
    assert sum(line.startswith("left alone\t") for line in out.splitlines()) == 2


def test_resend_bad_day(ops, day_rows):
    with pytest.raises(CommandError, match=r"--day: '2025-02-30' is not a date \(YYYY-MM-DD\)\."):
        ops("resend", "--day", "2025-02-30")


# --- erase --------------------------------------------------------------------------------------------------


@pytest.fixture
def person(make_submission):
    """Four submissions of 139 0000 0001 (a delivered lead, a queued lead, messages naming it two ways), one of
    someone else."""
    tel = {"tel": "13900000001", "tel_e164": "+8613900000001"}
    return {
        "delivered": make_submission("lead", status=S.DELIVERED, payload=tel),
        "queued": make_submission("lead", payload=tel),
        "message": make_submission("message", status=S.FAILED, payload={"contact": "电话 13900000001"}),
        "message_e164": make_submission("message", status=S.DELIVERED, payload={"contact": "+8613900000001"}),
        "other": make_submission("lead"),
    }


def test_erase_delegates_to_the_privacy_erasure_and_audits(ops, enqueued, person):
    out, err = ops("erase", "--phone", "139 0000 0001", "--yes", "--batch-size", "3")
    mine = [person[k].pk for k in ("delivered", "queued", "message", "message_e164")]
    assert Submission.objects.filter(pk__in=mine, redacted_at__isnull=False).count() == 4
    assert Submission.objects.get(pk=person["other"].pk).redacted_at is None
    # privacy.requests.erase cancels what was not sent yet
    assert Submission.objects.get(pk=person["queued"].pk).status == S.CANCELLED
    assert Submission.objects.get(pk=person["message"].pk).status == S.CANCELLED
    assert "4 submission(s) erased; 2 of them had been delivered to the CRM." in out
    assert "delete the customer / message there as well" in out
    entry = PrivacyAuditLog.objects.get()
    assert (entry.action, entry.actor, entry.via, entry.matched_by, entry.rows) == (
        "erase", "ops-test", "command", "phone", 4,
    )  # fmt: skip
    assert err.splitlines() == ["erase: 3/4 done", "erase: 4/4 done"]
    run = OperatorRun.objects.get()
    for text in (str(run.scope), out, err, str(entry.__dict__)):
        assert "13900000001" not in text and "139 0000 0001" not in text


def test_erase_dry_run_changes_nothing_and_audits_a_find(ops, person):
    before = snapshot()
    out, _ = ops("erase", "--email", "nobody@example.com", "--dry-run")
    assert "Dry run: 0 of 0 selected" in out
    out, _ = ops("erase", "--phone", "13900000001", "--dry-run")
    assert snapshot() == before and OperatorRun.objects.count() == 0
    assert sum(line.startswith("would erase\t") for line in out.splitlines()) == 4
    assert list(PrivacyAuditLog.objects.order_by("at").values_list("action", "matched_by", "rows")) == [
        ("find", "email", 0), ("find", "phone", 4),
    ]  # fmt: skip


def test_erase_asks_first_and_a_no_changes_nothing(ops, person, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    before = snapshot()
    with pytest.raises(CommandError, match=r"Nothing erased\."):
        ops("erase", "--phone", "13900000001")
    assert snapshot() == before and PrivacyAuditLog.objects.count() == 0


def test_erase_bad_phone(ops, person):
    with pytest.raises(CommandError, match="valid phone number"):
        ops("erase", "--phone", "12345", "--yes")


# --- backfill -----------------------------------------------------------------------------------------------


@pytest.fixture
def leads_without_e164(make_submission):
    no_key = make_submission("lead", payload={"tel": "138-0013-8000"})
    del_key = Submission.objects.get(pk=no_key.pk)
    del_key.payload.pop("tel_e164")
    del_key.save()
    return {
        "no_key": no_key,
        "empty": make_submission("lead", payload={"tel": "02112345678", "tel_e164": ""}),
        "null": make_submission("lead", payload={"tel": "13900000009", "tel_e164": None}),
        "bad": make_submission("lead", payload={"tel": "12345", "tel_e164": ""}),
        "erased": make_submission("lead", payload={"tel": "", "tel_e164": ""}, redacted_at=timezone.now()),
        "fine": make_submission("lead"),
        "message": make_submission("message"),
    }


def test_backfill_tel_e164(ops, leads_without_e164):
    rows = leads_without_e164
    fine = Submission.objects.get(pk=rows["fine"].pk).payload
    out, _ = ops("backfill", "tel-e164", "--batch-size", "2")
    got = {name: Submission.objects.get(pk=row.pk).payload.get("tel_e164") for name, row in rows.items()}
    assert got == {
        "no_key": "+8613800138000", "empty": "+862112345678", "null": "+8613900000009", "bad": "",
        "erased": "", "fine": fine["tel_e164"], "message": None,
    }  # fmt: skip
    assert Submission.objects.get(pk=rows["no_key"].pk).payload["tel"] == "138-0013-8000"  # left as stored
    assert "backfill: 3 of 4 selected row(s) changed (backfill), 1 left alone." in out
    assert f"{rows['bad'].pk}" in out and "its tel is not a valid mainland number" in out
    # now the person can be found (and erased) by their number
    from crm_bridge.privacy import requests

    assert requests.find(phone="13800138000").count() == 1
    out, _ = ops("backfill", "tel-e164")
    assert "0 of 1 selected row(s) changed" in out  # only the invalid one is left


def test_backfill_dry_run_changes_nothing(ops, leads_without_e164):
    before = snapshot()
    out, _ = ops("backfill", "tel-e164", "--dry-run")
    assert snapshot() == before and OperatorRun.objects.count() == 0
    assert sum(line.startswith("would backfill\t") for line in out.splitlines()) == 3
    assert out.splitlines()[-2:] == [
        "Dry run: 3 of 4 selected row(s) would be changed (backfill), 1 left alone; nothing was changed.",
        "  1 its tel is not a valid mainland number",
    ]


def test_rows_created_after_the_start_are_not_touched(ops, enqueued, make_submission):
    make_submission("lead", status=S.FAILED)
    later = make_submission("lead", status=S.FAILED, created_at=timezone.now() + timedelta(minutes=5))
    ops("redrive")
    assert str(later.pk) not in enqueued and len(enqueued) == 1
