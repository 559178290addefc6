"""The command as operators run it: a process of its own, stopped by a real SIGINT or SIGTERM after its first
batch, then resumed; and its progress bar on a real terminal (a pty)."""

from __future__ import annotations

import io
import os
import pty
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from crm_bridge.models import OperatorRun, Submission
from tests.delivery.processes import database_url

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.py")

# The child opens the test database itself, so the rows must be committed.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def child_env() -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "100",
    }
    if hasattr(settings, "VAR_DIR"):  # tests.settings has none; the child then uses a var dir of its own
        env["CRM_BRIDGE_VAR_DIR"] = str(settings.VAR_DIR)
    return env


@pytest.fixture
def leads(make_submission):
    """Five leads stored without ``tel_e164`` (what ``backfill tel-e164`` fills in)."""
    rows = []
    for n in range(5):
        sub = make_submission("lead", payload={"tel": f"1390000000{n}"})
        sub.payload.pop("tel_e164")
        sub.save()
        rows.append(sub)
    return rows


def lines_of(stream) -> queue.Queue:
    q: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stream:
            q.put(line.rstrip("\n"))
        q.put(None)

    threading.Thread(target=read, daemon=True).start()
    return q


def wait_for_line(q: queue.Queue, wanted: str, timeout: float = 60.0) -> None:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=deadline - time.monotonic())
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if line == wanted:
            return
    raise AssertionError(f"never printed {wanted!r}: {seen}")


def wait_delivered(pid: int, timeout: float = 30.0) -> None:
    """Until the kernel has delivered every signal pending for ``pid`` (its handler has run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        pending = [line.split()[1] for line in status.splitlines() if line.startswith(("SigPnd:", "ShdPnd:"))]
        if all(int(mask, 16) == 0 for mask in pending):
            return
        time.sleep(0.01)
    raise AssertionError("the signal was never delivered")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_a_signal_after_the_first_batch_then_resume(leads, signum, code):
    proc = subprocess.Popen(  # noqa: S603 (our interpreter, our script)
        [sys.executable, str(DRIVER), "--pause", "backfill", "tel-e164", "--batch-size", "2", "--operator", "proc"],
        cwd=REPO, env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        out = lines_of(proc.stdout)
        wait_for_line(out, "paused 2")
        os.kill(proc.pid, signum)
        wait_delivered(proc.pid)
        proc.stdin.write("\n")  # let the paused batch loop go on: it sees the signal and stops
        proc.stdin.close()
        err = proc.stderr.read()
        assert proc.wait(60) == code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = err.splitlines()
    assert [line for line in lines if line.startswith("backfill:")] == ["backfill: 2/5 done"]
    assert lines[-1] == (
        "CommandError: Interrupted after 2/5 row(s) (2 changed); every finished batch is committed. "
        "Resume with: manage.py crm_bridge_ops backfill tel-e164 --resume"
    )
    # the audit lines (the demo logs crm_bridge at INFO to stderr): who, what, how far
    assert sum("ops backfill started by proc: 0/5 done" in line for line in lines) == 1
    assert sum("ops backfill interrupted by proc: 2/5 done, 2 changed" in line for line in lines) == 1
    done = [r.pk for r in leads[:2]]
    assert Submission.objects.filter(pk__in=done, payload__has_key="tel_e164").count() == 2
    assert Submission.objects.filter(payload__has_key="tel_e164").count() == 2
    run = OperatorRun.objects.get()
    assert (run.state, run.done, run.total, run.operator) == ("interrupted", 2, 5, "proc")

    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(
        "crm_bridge_ops", "backfill", "tel-e164", "--resume", "--batch-size", "2", "--operator", "test",
        stdout=stdout, stderr=stderr,
    )  # fmt: skip
    assert stderr.getvalue().splitlines() == ["backfill: 4/5 done", "backfill: 5/5 done"]
    run.refresh_from_db()
    assert (run.state, run.done, run.changed, run.total, run.operator) == ("finished", 5, 5, 5, "proc, test")
    assert sorted(Submission.objects.values_list("payload__tel_e164", flat=True)) == [
        f"+861390000000{n}" for n in range(5)
    ]


def test_progress_bar_on_a_real_terminal(leads):
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, str(DRIVER), "backfill", "tel-e164", "--batch-size", "2"],
        cwd=REPO, env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary,
    )  # fmt: skip
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    out = proc.stdout.read().decode()
    assert proc.wait(60) == 0
    terminal = b"".join(chunks).decode().replace("\r\n", "\n")  # the tty turns \n into \r\n
    # the demo's audit log lines (crm_bridge at INFO on stderr) come before and after the bar's own line
    (bar,) = [line for line in terminal.split("\n") if "\r" in line]
    assert [line for line in terminal.split("\n") if line and "\r" not in line and "ops backfill" not in line] == []
    frames = bar.split("\r")
    assert frames[0] == ""
    assert [f.split("] ")[1].split()[0] for f in frames[1:]] == ["2/5", "4/5", "5/5"]
    assert frames[-1].rstrip() == "backfill [" + "#" * 30 + "] 5/5 100%"
    assert "backfill: 5 of 5 selected row(s) changed (backfill), 0 left alone." in out
