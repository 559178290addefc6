"""Interrupting a run and resuming it: the interrupted run commits its finished batches, says how to resume and
exits non-zero; ``--resume`` does exactly the rest, no row twice. In-process: the command's ``after_batch`` hook
stops it at a known point (a real signal sent to this process, or Ctrl-C's KeyboardInterrupt)."""

from __future__ import annotations

import os
import signal

import pytest
from django.core.management.base import CommandError

from crm_bridge.delivery import staff
from crm_bridge.models import OperatorRun, PrivacyAuditLog, Submission

S = Submission.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def failed(make_submission):
    return [make_submission("lead", status=S.FAILED, attempts=8) for _ in range(5)]


def stop_after_first_batch(how):
    def hook(run: OperatorRun) -> None:
        if run.done == 2:
            how()

    return hook


def send(signum):
    return lambda: os.kill(os.getpid(), signum)


def ctrl_c():
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("how", "code"),
    [(send(signal.SIGINT), 130), (send(signal.SIGTERM), 143), (ctrl_c, 130)],
    ids=["SIGINT", "SIGTERM", "KeyboardInterrupt"],
)
def test_interrupted_then_resumed_does_every_row_once(ops, enqueued, failed, how, code):
    with pytest.raises(CommandError) as stopped:
        ops("redrive", "--batch-size", "2", after_batch=stop_after_first_batch(how))
    assert stopped.value.returncode == code
    assert str(stopped.value) == (
        "Interrupted after 2/5 row(s) (2 changed); every finished batch is committed. "
        "Resume with: manage.py crm_bridge_ops redrive --status failed --resume"
    )
    assert set(enqueued) == {str(r.pk) for r in failed[:2]}  # created_at order: the first batch
    assert Submission.objects.filter(status=S.FAILED).count() == 3
    run = OperatorRun.objects.get()
    assert (run.state, run.done, run.changed, run.total) == ("interrupted", 2, 2, 5)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored

    out, err = ops("redrive", "--batch-size", "2", "--resume")
    assert err.splitlines() == ["redrive: 4/5 done", "redrive: 5/5 done"]
    assert "3 of 5 selected row(s) changed" not in out and "redrive: 5 of 5 selected row(s) changed" in out
    assert enqueued == {str(r.pk): 1 for r in failed}
    run.refresh_from_db()
    assert (run.state, run.done, run.changed, run.total) == ("finished", 5, 5, 5)
    with pytest.raises(CommandError, match="Nothing to resume"):
        ops("redrive", "--resume")


def test_ctrl_c_inside_a_batch_rolls_that_batch_back(ops, enqueued, failed, monkeypatch):
    calls = []
    real = staff.retry_now

    def retry_then_ctrl_c(ids, *, enqueue):
        n = real(ids, enqueue=enqueue)
        calls.append(n)
        if len(calls) == 2:  # the second batch's rows are queued in its transaction, not yet committed
            raise KeyboardInterrupt
        return n

    monkeypatch.setattr(staff, "retry_now", retry_then_ctrl_c)
    with pytest.raises(CommandError, match=r"Interrupted after 2/5 row\(s\)") as stopped:
        ops("redrive", "--batch-size", "2")
    assert stopped.value.returncode == 130
    assert set(enqueued) == {str(r.pk) for r in failed[:2]}  # the rolled-back batch handed nothing over
    assert Submission.objects.filter(status=S.FAILED).count() == 3
    monkeypatch.setattr(staff, "retry_now", real)
    ops("redrive", "--batch-size", "2", "--resume")
    assert enqueued == {str(r.pk): 1 for r in failed}
    assert OperatorRun.objects.get().done == 5


def test_dry_run_of_a_resume_lists_the_rest(ops, enqueued, failed):
    with pytest.raises(CommandError):
        ops("redrive", "--batch-size", "2", after_batch=stop_after_first_batch(ctrl_c))
    out, _ = ops("redrive", "--resume", "--dry-run")
    assert [line.split("\t")[1] for line in out.splitlines() if line.startswith("would")] == [
        str(r.pk) for r in failed[2:]
    ]
    assert OperatorRun.objects.get().state == "interrupted" and len(enqueued) == 2


def test_resume_needs_the_same_arguments_and_a_fresh_run_supersedes(ops, enqueued, failed):
    with pytest.raises(CommandError):
        ops("redrive", "--batch-size", "2", after_batch=stop_after_first_batch(ctrl_c))
    with pytest.raises(CommandError, match="Nothing to resume"):
        ops("redrive", "--since", "2020-01-01", "--resume")
    ops("redrive")  # a fresh run: the interrupted one is abandoned, the rest is done
    assert list(OperatorRun.objects.order_by("pk").values_list("state", "done")) == [
        ("abandoned", 2), ("finished", 3),
    ]  # fmt: skip
    assert enqueued == {str(r.pk): 1 for r in failed}


def test_erase_resumed_with_the_same_number(ops, make_submission):
    tel = {"tel": "13900000001", "tel_e164": "+8613900000001"}
    rows = [make_submission("lead", status=S.DELIVERED, payload=tel) for _ in range(4)]
    with pytest.raises(CommandError) as stopped:
        ops("erase", "--phone", "13900000001", "--yes", "--batch-size", "2", after_batch=stop_after_first_batch(ctrl_c))
    assert "Resume with: manage.py crm_bridge_ops erase --phone <the same number> --yes --resume" in str(stopped.value)
    assert "13900000001" not in str(stopped.value)
    with pytest.raises(CommandError, match="Nothing to resume"):
        ops("erase", "--phone", "13900000002", "--yes", "--resume")
    ops("erase", "--phone", "139-0000-0001", "--yes", "--resume")  # another spelling of the same number
    assert Submission.objects.filter(pk__in=[r.pk for r in rows], redacted_at__isnull=False).count() == 4
    assert list(PrivacyAuditLog.objects.order_by("at", "pk").values_list("action", "rows")) == [
        ("erase", 2),
        ("erase", 2),
    ]  # fmt: skip  (the refused resume did nothing and audits nothing)


def test_progress_bar_on_a_terminal(ops, enqueued, failed):
    _, err = ops("redrive", "--batch-size", "2", tty=True)
    frames = err.split("\r")
    assert frames[0] == "" and err.endswith("\n") and err.count("\n") == 1
    assert [f.split("]")[1].split()[0] for f in frames[1:]] == ["2/5", "4/5", "5/5"]
    assert frames[1].startswith("redrive [" + "#" * 12 + "." * 18 + "] 2/5  40%")
    assert frames[3].rstrip() == "redrive [" + "#" * 30 + "] 5/5 100%"


def test_a_run_superseded_meanwhile_stops(ops, enqueued, failed):
    def start_afresh_elsewhere(run: OperatorRun) -> None:
        if run.done == 2:  # what a second operator's fresh start does to this run's checkpoint
            OperatorRun.objects.filter(pk=run.pk).update(state=OperatorRun.State.ABANDONED)

    _, err = ops("redrive", "--batch-size", "2", after_batch=start_afresh_elsewhere)
    assert err.splitlines() == ["redrive: 2/5 done", "Stopped: another process marked this run abandoned meanwhile."]
    assert len(enqueued) == 2 and OperatorRun.objects.get().state == "abandoned"
