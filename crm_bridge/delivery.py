"""Delivery: submission → CRM calls, and the state machine around them (design.md §5).

(Being written; the public functions below are the contract tasks and admin rely on.)
"""

from __future__ import annotations

from collections.abc import Callable


def deliver(submission_id: str) -> str:
    raise NotImplementedError


def sweep(*, enqueue: Callable[[str], bool]) -> int:
    raise NotImplementedError


def flush_hits() -> int:
    raise NotImplementedError
