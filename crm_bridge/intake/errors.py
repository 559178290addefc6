"""What intake answers when something it leans on fails. Intake needs only the database for a 202:

* **The cache** (throttle counters, the CORS allow-list union) is an accessory. Every call into it goes through
  :data:`cache_guard`: a failure (any exception from the backend — Redis, Memcached and the database cache each
  raise their own) *fails open*: the caller gets its default (the request is allowed, the allow-list is read from
  the database). The first failure is logged as a warning, then at most one warning per
  :attr:`CacheGuard.log_every` seconds per process, so an outage does not flood the logs; and this process leaves
  the cache alone for :attr:`CacheGuard.pause` seconds, so a cache that hangs costs one client timeout per pause
  (config/settings.py bounds it), not one per request. After the pause the next call tries again: when the cache
  is back, everything is back to normal by itself (and an info line says so).
* **The database**: :func:`widget_exception_handler` answers ``OperationalError`` / ``InterfaceError`` (cannot
  connect, connection lost, locked, timed out) with 503, ``{"detail": DB_UNAVAILABLE}`` and ``Retry-After``.
* **Anything else unexpected** (a bug) is 500 ``{"detail": "Internal error."}``, logged with its traceback.

Never Django's HTML error page on the widget API: the widget reads every answer as JSON, and a 5xx tells it to
keep the submission and send it again later.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

__all__ = [
    "DB_RETRY_AFTER",
    "DB_UNAVAILABLE",
    "INTERNAL_ERROR",
    "CacheGuard",
    "cache_guard",
    "is_db_unavailable",
    "warn_db_unavailable",
    "widget_exception_handler",
]

logger = logging.getLogger("crm_bridge.intake")

T = TypeVar("T")

DB_UNAVAILABLE = "Service temporarily unavailable, please retry."
INTERNAL_ERROR = "Internal error."
#: Seconds a client is asked to wait after a 503 (the widget keeps the submission and sends it again).
DB_RETRY_AFTER = 10


class CacheGuard:
    """Run cache calls so that a cache outage fails open, bounded in time, logged sparingly, healed by itself.

    Thread-safe: the state is a few numbers behind a lock; a call itself runs outside the lock.
    """

    #: After a failure, skip the cache for this many seconds (each try at a dead cache may cost a timeout).
    pause: float = 5.0
    #: At most one warning per this many seconds while the cache stays unreachable.
    log_every: float = 60.0
    #: Monotonic seconds; tests replace it to move through pauses.
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget any outage (tests; the guard heals by itself otherwise)."""
        with self._lock:
            self._skip_until = float("-inf")
            self._down_since: float | None = None
            self._last_warning = float("-inf")
            self._failures = 0
            self.failed_calls = 0

    @property
    def down(self) -> bool:
        """True from a failure until the next successful call."""
        return self._down_since is not None

    def call(self, what: str, func: Callable[[], T], default: T) -> T:
        """``func()``, or ``default`` if it raises or the cache is paused after a recent failure.

        ``what`` names the use in the log line (e.g. ``"throttling"``). ``func`` must only talk to the cache: the
        exception is swallowed whatever it is.
        """
        if self.clock() < self._skip_until:
            return default
        try:
            result = func()
        except Exception as err:  # any backend's error: the cache is an accessory, fail open
            self._failed(what, err)
            return default
        if self._down_since is not None:
            self._recovered()
        return result

    def _failed(self, what: str, err: Exception) -> None:
        now = self.clock()
        with self._lock:
            self._skip_until = now + self.pause
            self._failures += 1
            self.failed_calls += 1  # since the last reset: for tests and a debugger
            if self._down_since is None:
                self._down_since = now
            if now - self._last_warning < self.log_every:
                return
            self._last_warning = now
            failures, self._failures = self._failures, 0
        # The exception's type and message, no traceback: redis-py names host and port, never a password.
        logger.warning(
            "cache unreachable (%s, in %s: %s: %s); failing open: requests are not throttled and the CORS "
            "allow-list is read from the database; the cache is tried again every %.0f s, warned about every %.0f s",
            f"{failures} failed call(s)", what, type(err).__name__, err, self.pause, self.log_every,
        )  # fmt: skip

    def _recovered(self) -> None:
        with self._lock:
            if self._down_since is None:
                return
            down_since, self._down_since = self._down_since, None
            # Said only of an outage that was warned about: a flapping cache logs no more than one pair per
            # log_every (the failures of a quiet outage are counted in the next warning).
            announce = self._last_warning >= down_since
        if announce:
            logger.info(
                "cache reachable again after about %.0f s; throttling and the CORS cache are back",
                self.clock() - down_since,
            )


#: The one guard for intake's cache calls (one cache, one outage state per process).
cache_guard = CacheGuard()

#: At most one "database unavailable" warning per this many seconds per process and place.
DB_LOG_EVERY = 60.0
_db_warned: dict[str, tuple[float, int]] = {}  # place → (monotonic time of its last warning, calls since)
_db_lock = threading.Lock()


def warn_db_unavailable(where: str, exc: BaseException) -> None:
    """Log that the database was unreachable in ``where``; once per :data:`DB_LOG_EVERY` s per place, so an
    outage under load does not flood the logs (the count of the calls in between is in the next line)."""
    now = time.monotonic()
    with _db_lock:
        last, since = _db_warned.get(where, (float("-inf"), 0))
        if now - last < DB_LOG_EVERY:
            _db_warned[where] = (last, since + 1)
            return
        _db_warned[where] = (now, 0)
    logger.warning(
        "database unavailable in %s (%s: %s; %d more since the last warning); answered without it",
        where, type(exc).__name__, exc, since,
    )  # fmt: skip


def is_db_unavailable(exc: BaseException) -> bool:
    """True for the database errors that mean "not reachable right now" rather than a bug in a query."""
    return isinstance(exc, OperationalError | InterfaceError)


def widget_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """The widget API's exception handler: DRF's answers for API errors, JSON 503/500 for everything else.

    Returns a response for every exception, so DRF never re-raises one into Django's HTML error page.
    """
    response = exception_handler(exc, context)
    if response is not None:
        return response
    with contextlib.suppress(DatabaseError):  # the connection is gone: nothing to roll back
        set_rollback()  # as DRF does for its own errors, should the project use ATOMIC_REQUESTS
    view = context.get("view")
    name = type(view).__name__ if view is not None else "?"
    if is_db_unavailable(exc):
        warn_db_unavailable(name, exc)
        return Response(
            {"detail": DB_UNAVAILABLE},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DB_RETRY_AFTER)},
        )
    # A traceback for the developer; the body says nothing, and neither line carries the request's body.
    logger.error("unexpected error in %s; answered 500", name, exc_info=exc)
    return Response({"detail": INTERNAL_ERROR}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
