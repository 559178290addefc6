"""Fixtures for the operator commands: run ``crm_bridge_ops`` in-process and see what it handed to the broker."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest
from django.core.management import call_command


@pytest.fixture(autouse=True)
def _english(english):
    """The commands' texts in English (the demo speaks zh-hans)."""


@pytest.fixture
def enqueued(monkeypatch) -> Counter:
    """How often each submission id was handed to the broker (``broker.enqueue_delivery`` replaced): in-process
    tests publish nothing to the shared broker folder."""
    calls: Counter = Counter()

    def record(submission_id: str) -> bool:
        calls[str(submission_id)] += 1
        return True

    monkeypatch.setattr("crm_bridge.broker.enqueue_delivery", record)
    return calls


class TTYStream(io.StringIO):
    """A stream that says it is a terminal (what the progress bar looks at)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def ops(django_capture_on_commit_callbacks):
    """``ops("redrive", "--batch-size", "2", ...)`` → ``(stdout, stderr)``; the batches' on-commit hand-offs run
    (the test's own transaction never commits). ``tty=True`` gives stderr a terminal; other keywords go to
    ``call_command``."""

    def run(*args: str, tty: bool = False, **kwargs: Any) -> tuple[str, str]:
        out, err = io.StringIO(), TTYStream() if tty else io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("crm_bridge_ops", *args, "--operator", "ops-test", stdout=out, stderr=err, **kwargs)
        return out.getvalue(), err.getvalue()

    return run
