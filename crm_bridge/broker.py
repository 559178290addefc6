"""The hand-off to the Celery broker: publish "deliver this row" without ever raising or hanging the caller
(docs/architecture.md, "The outbox").

Intake calls :func:`enqueue_delivery_soon` once its transaction commits: the publish runs on this process's
background publisher thread, after the 202 is on its way, so a lead's answer waits for neither the broker's
latency nor its health. The sweep and staff actions call :func:`enqueue_delivery` itself, in-line.

What a background hand-off can lose, and why that is safe: the row is committed before anything is queued, so a
hand-off lost with its process (SIGKILL, OOM, a crash; a graceful exit drains the queue first, for up to
:data:`DRAIN_AT_EXIT` seconds) only delays that row until the sweep hands it over again, ``REENQUEUE_AFTER``
(120 s by default) after it was written. The queue is bounded (``HANDOFF_QUEUE``): past it intake publishes
in-line, as before, rather than let memory grow while the broker is slow.
The task is published by name (``crm_bridge.deliver``, defined in :mod:`crm_bridge.tasks`), so this module needs
neither the tasks nor delivery: data flows intake → models ← delivery ← tasks, with no import back.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import current_app

from .conf import bridge_settings

__all__ = [
    "BROKER_PAUSE",
    "DELIVER_TASK",
    "DRAIN_AT_EXIT",
    "BackgroundPublisher",
    "enqueue_delivery",
    "enqueue_delivery_soon",
    "publisher",
]

logger = logging.getLogger("crm_bridge.broker")

DELIVER_TASK = "crm_bridge.deliver"

#: After a failed publish, this process skips the broker for this many seconds: each publish to a dead broker
#: costs up to the connection timeout, and intake's latency must not depend on the broker's health. Rows
#: written meanwhile wait for the sweep (REENQUEUE_AFTER), which is what it is for.
BROKER_PAUSE = 10.0
_paused_until = 0.0


def enqueue_delivery(submission_id: str) -> bool:
    """Hand a delivery to the broker; ``True`` if it was published.

    If the broker is down or slow the row is still safe in the database and the sweep will deliver it; so a
    failure here is logged and reported as ``False``, nothing more — and for :data:`BROKER_PAUSE` seconds this
    process does not try again (returns ``False`` at once).
    """
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    try:
        current_app.send_task(DELIVER_TASK, args=[str(submission_id)], retry=False)
    except Exception:  # any broker failure: the row is the truth, the sweep picks it up
        _paused_until = time.monotonic() + BROKER_PAUSE
        logger.warning(
            "could not enqueue delivery of %s; not trying the broker for %.0f s, the sweep will deliver it",
            submission_id, BROKER_PAUSE, exc_info=True,
        )  # fmt: skip
        return False
    return True


#: At a graceful exit, how long the publisher may take to hand over what is still queued (seconds).
DRAIN_AT_EXIT = 5.0


class BackgroundPublisher:
    """One daemon thread per process that runs queued calls (broker publishes) in order, off the request.

    Started on first use and again in a forked child (a thread does not survive ``fork``). Bounded: when
    ``HANDOFF_QUEUE`` calls already wait, :meth:`submit` runs the call in-line instead. Each call must never
    raise (:func:`enqueue_delivery` does not); an exception is logged and the thread goes on.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] | None = None
        self._pid = 0

    def submit(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` soon on the publisher thread (in-line when the queue is full or off)."""
        bound = bridge_settings.HANDOFF_QUEUE
        q = self._ensure(bound) if bound > 0 else None
        if q is None:
            func(*args)
            return
        try:
            # Run in the caller's context (contextvars), so the publish's log lines keep the request's id.
            q.put_nowait((contextvars.copy_context().run, (func, *args)))
        except queue.Full:
            func(*args)  # back-pressure: this request pays for its own publish, memory stays bounded

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until every queued call has run; ``True`` if they all did within ``timeout`` (tests, exit)."""
        q = self._queue
        if q is None or self._pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        with q.all_tasks_done:
            while q.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                q.all_tasks_done.wait(left)
        return True

    def _ensure(self, bound: int) -> queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]]:
        q = self._queue
        if q is not None and self._pid == os.getpid():
            return q
        with self._lock:
            if self._queue is None or self._pid != os.getpid():
                self._queue = queue.Queue(maxsize=bound)
                self._pid = os.getpid()
                thread = threading.Thread(target=self._run, args=(self._queue,), name="crm-bridge-publisher")
                thread.daemon = True  # never holds the process up; atexit drains the queue (DRAIN_AT_EXIT)
                thread.start()
            return self._queue

    @staticmethod
    def _run(q: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
        while True:
            func, args = q.get()
            try:
                func(*args)
            except Exception:  # a bug in a hand-off: the rows are the truth, the sweep covers it
                logger.exception("background hand-off failed; the sweep will hand the row over")
            finally:
                q.task_done()


#: This process's publisher (intake's hand-offs).
publisher = BackgroundPublisher()
atexit.register(lambda: publisher.join(DRAIN_AT_EXIT))


def enqueue_delivery_soon(submission_id: str) -> None:
    """:func:`enqueue_delivery` on the background publisher: intake's on-commit hand-off (see the module
    docstring for what a crash can lose and how the sweep covers it)."""
    # Looked up at call time, not bound here: tests and integrators may replace enqueue_delivery.
    publisher.submit(lambda: enqueue_delivery(submission_id))
