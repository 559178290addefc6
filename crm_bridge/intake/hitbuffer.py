"""Page views added up in memory and written to their counters in one transaction per interval, not one per beacon
(docs/widget-api.md, "Hits").

A beacon without an ``Idempotency-Key`` (``sendBeacon`` cannot send headers, so every widget beacon) is added to
this process's :data:`buffer` and answered at once; a daemon thread writes the buffer into ``HitCounter.pending``
every ``HIT_BUFFER_SECONDS`` (1 s by default), in one transaction, and so does process exit (``atexit``) and
:func:`crm_bridge.delivery.hits.flush_hits` in the process it runs in. Exactness:

* every view is counted once: a flush takes the buffer's counts out under the lock and writes them; if the write
  fails (the database is unreachable) they are put back and written by the next flush;
* a view whose site was deleted meanwhile is dropped (there is no counter to add it to), with a warning;
* **what can be lost**: the views a process holds when it is killed outright (SIGKILL, OOM, a crash): at most
  those of its last ``HIT_BUFFER_SECONDS`` plus one flush's write time. A graceful exit (SIGTERM to gunicorn)
  flushes first.

A beacon with an ``Idempotency-Key`` is written in-line, with its record, in one transaction, as before
(:func:`crm_bridge.intake.store.add_hits`): "a repeat with the same key creates nothing" needs the record and the
counts to commit together.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Mapping

from django.db import close_old_connections, connection, transaction

from ..conf import bridge_settings
from .errors import is_db_unavailable, warn_db_unavailable

__all__ = ["HitBuffer", "buffer"]

logger = logging.getLogger("crm_bridge.intake")


class HitBuffer:
    """(site id, pkid) → views not yet written, for one process; thread-safe."""

    #: Whether a daemon thread flushes every ``HIT_BUFFER_SECONDS``; off, only :meth:`flush` writes (tests that
    #: run inside a transaction the thread could not see).
    background: bool = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, int], int] = {}
        self._pid = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, site_id: int, counts: Mapping[int, int]) -> None:
        """Add ``counts`` (pkid → views) of ``site_id``; written by the next flush."""
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: a thread does not survive fork
                self._counts = {}
                self._pid = os.getpid()
                self._thread = None
            # Started on the first add with background on (not only the first add at all: a test may have
            # switched it off for the first ones), and again in a forked child.
            if self.background and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="crm-bridge-hit-buffer")
                self._thread.daemon = True  # atexit flushes what it holds
                self._thread.start()
            for pkid, n in counts.items():
                self._counts[(site_id, pkid)] = self._counts.get((site_id, pkid), 0) + n

    def pending(self) -> int:
        """Views held in memory right now."""
        with self._lock:
            return sum(self._counts.values())

    def discard(self) -> None:
        """Forget what is held (tests: nothing leaks into the next one)."""
        with self._lock:
            self._counts = {}

    def flush(self) -> int:
        """Write every held view to its counter in one transaction; returns how many were written.

        Raises the database's errors after putting the counts back (nothing is lost, nothing counted twice).
        """
        from ..models import Site
        from .store import bump_counters

        with self._lock:
            taken, self._counts = self._counts, {}
        if not taken:
            return 0
        try:
            with transaction.atomic():
                # Buffered views can outlive their site (FK checks are deferred to COMMIT, so one missing site
                # would fail the whole flush again and again): drop those, loudly.
                live = set(Site.objects.filter(pk__in={s for s, _ in taken}).values_list("pk", flat=True))
                for (site_id, pkid), n in taken.items():
                    if site_id not in live:
                        logger.warning("dropped %d page view(s) of pkid %s: site %s no longer exists", n, pkid, site_id)
                written = bump_counters({k: n for k, n in taken.items() if k[0] in live})
        except Exception:
            with self._lock:
                for key, n in taken.items():
                    self._counts[key] = self._counts.get(key, 0) + n
            raise
        return written

    def _run(self) -> None:
        while True:
            self._wake.wait(max(bridge_settings.HIT_BUFFER_SECONDS, 0.05))
            if not self.background:  # switched off after the thread started (tests)
                continue
            try:
                self.flush()
            except Exception as err:
                if is_db_unavailable(err):
                    warn_db_unavailable("the hit buffer's flush (kept for the next one)", err)
                    close_old_connections()
                    connection.close()  # reconnect next time
                else:
                    logger.exception("hit buffer flush failed; the views are kept for the next one")

    def flush_at_exit(self) -> None:
        if self._pid != os.getpid():
            return
        try:
            self.flush()
        except Exception:
            logger.exception("could not write %d buffered page view(s) at exit", self.pending())


#: This process's buffer.
buffer = HitBuffer()
atexit.register(buffer.flush_at_exit)
