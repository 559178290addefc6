"""Stopping the demo from a parent without a terminal (``nohup make test &``, CI, a service manager).

Such a parent starts its children with SIGINT ignored (and some ignore SIGTERM too); the demo and the sandbox must
stop on either signal all the same, and the demo must leave no process behind. Each test starts its subject with
both signals ignored — through a tiny exec wrapper, the way a shell starts a background job — and checks in /proc
that they really are ignored there, so that the test cannot pass by accident in a foreground terminal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

# Exec `argv[1:]` with SIGINT and SIGTERM ignored: exec keeps an ignored disposition, as a background job's is.
IGNORING_STOP_SIGNALS = [
    sys.executable,
    "-c",
    "import os, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "os.execv(sys.argv[1], sys.argv[1:])",
]
CTRL_C_TESTS = [
    "tests/sandbox/test_command.py::test_command_serves_until_interrupted",
    "tests/integration/test_demo.py::test_demo_runs_end_to_end_and_stops_on_ctrl_c",
]


def stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, process group, start time) of a process, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def all_processes() -> dict[int, tuple[str, int, int, int]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := stat(int(entry.name))):
            found[int(entry.name)] = info
    return found


def descendants(root: int) -> dict[int, tuple[str, int, int, int]]:
    table = all_processes()
    found: dict[int, tuple[str, int, int, int]] = {}
    parents = {root}
    while parents:
        children = {pid for pid, info in table.items() if info[1] in parents and pid not in found}
        found.update((pid, table[pid]) for pid in children)
        parents = children
    return found


def alive(pid: int, started: int) -> bool:
    """Whether that very process (not a later one with its pid) still runs; a zombie does not run."""
    info = stat(pid)
    return info is not None and info[3] == started and info[0] != "Z"


def ignored_signals(pid: int) -> set[int]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            mask = int(line.split()[1], 16)
            return {n for n in range(1, 65) if mask & (1 << (n - 1))}
    return set()


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ignoring_stop_signals(argv: list[str], **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen([*IGNORING_STOP_SIGNALS, *argv], start_new_session=True, **kwargs)  # noqa: S603
    # Past the exec (the command line is the subject's), the ignored dispositions are the subject's own.
    subject = "\0".join([*argv, ""]).encode()
    wait_for(lambda: Path(f"/proc/{proc.pid}/cmdline").read_bytes() == subject, 30, "the wrapper did not exec")
    assert {signal.SIGINT, signal.SIGTERM} <= ignored_signals(proc.pid)
    return proc


@pytest.mark.worker
@pytest.mark.timeout(400)
def test_the_ctrl_c_tests_pass_from_a_background_job():
    proc = start_ignoring_stop_signals(
        [sys.executable, "-m", "pytest", *CTRL_C_TESTS, "-q", "-p", "no:cacheprovider"],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=360)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out
    assert "2 passed" in out, out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_sandbox_stops_on_a_signal_it_inherited_ignored(tmp_path, signum):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}", "PYTHONUNBUFFERED": "1"}
    env["CRM_BRIDGE_VAR_DIR"] = str(tmp_path)
    proc = start_ignoring_stop_signals(
        [sys.executable, "manage.py", "crm_sandbox", "--port", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()

    def started() -> bool:
        return any("Quit with CONTROL-C" in line for line in lines) or proc.poll() is not None

    try:
        wait_for(started, 60, "the sandbox did not start")
        assert proc.poll() is None, "".join(lines)
        proc.send_signal(signum)
        code = proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, "".join(lines)
    wait_for(lambda: any("Stopped." in line for line in lines), 10, "".join(lines))


@pytest.mark.worker
@pytest.mark.timeout(240)
def test_sigterm_on_the_demo_stops_every_process_it_started(tmp_path):
    port, page_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "CACHE_URL"))}
    env.update(CRM_BRIDGE_VAR_DIR=str(tmp_path / "var"), DEBUG="1", PYTHONUNBUFFERED="1")
    proc = start_ignoring_stop_signals(
        [sys.executable, "manage.py", "demo", "--port", str(port), "--page-port", str(page_port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(line.rstrip() for line in proc.stdout), daemon=True).start()
    started: dict[int, tuple[str, int, int, int]] = {}
    try:
        ready = ("widget key", "sample company page on", " ready.", "beat: Starting", "Starting development server")
        wait_for(
            lambda: proc.poll() is None and all(any(mark in line for line in lines) for mark in ready),
            90,
            "the demo did not start:\n" + "\n".join(lines),
        )
        assert proc.poll() is None, "\n".join(lines)
        started = descendants(proc.pid)
        # runserver, the page server, beat and the worker, each leading its own group, and the worker's 2 pool
        # processes in the worker's group.
        assert len(started) == 6, started
        groups = {info[2] for info in started.values()}
        assert len(groups) == 4 and all(pgid in started for pgid in groups), started

        os.kill(proc.pid, signal.SIGTERM)  # `kill -TERM <pid>`: the demo's process alone, not its group
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            for pgid in {proc.pid, *(info[2] for info in started.values())}:
                os.killpg(pgid, signal.SIGKILL)
            proc.wait()
    text = "\n".join(lines)
    assert code == 0, text[-3000:]
    assert "demo: SIGTERM received; stopping" in text
    assert "demo stopped" in text and "killed" not in text
    # Every process it started is gone, and nothing else runs in their groups.
    wait_for(
        lambda: not any(alive(pid, info[3]) for pid, info in started.items()),
        10,
        f"left running: {[pid for pid, info in started.items() if alive(pid, info[3])]}",
    )
    groups = {info[2] for info in started.values()}
    assert not [pid for pid, info in all_processes().items() if info[2] in groups and info[0] != "Z"]
    for p in (port, page_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", p)) != 0
