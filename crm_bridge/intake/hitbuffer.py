"""Page views added up outside the database and written to their counters in one transaction per interval, not
one per beacon (docs/widget-api.md, "Hits").

A beacon without an ``Idempotency-Key`` (``sendBeacon`` cannot send headers, so every widget beacon) is counted
and answered at once, with no database statement:

* **Redis as the default cache** (Django's ``RedisCache`` or django-redis): one atomic ``HINCRBY`` (several in one
  ``MULTI``) on a hash in Redis, field ``"<site id>:<pkid>"``. A web process holds nothing, so killing it loses
  nothing. A *fold* moves the hash into ``HitCounter.pending``: a Lua script renames it to a key of the fold's
  own (``…:fold:<token>``, listed in a set), so beacons arriving meanwhile go to a fresh hash; the fold adds the
  renamed hash to the counters **and inserts** ``HitFold(token)`` **in one transaction**, then deletes the key.
  Every fold first takes up the fold keys still listed (a fold that crashed or whose database write failed):
  if the token's row exists, that fold committed and only the delete was lost, so the key is deleted, not added
  again. Two processes folding one key serialise on the token's unique constraint. Exactly once, with two
  remaining windows (documented in docs/widget-api.md): a Redis reply lost after the increment was applied (a
  0.5 s timeout, then the in-process fallback counts those views too), and Redis losing its data (a restart
  without persistence, eviction under ``allkeys-*`` policies).
* **Redis unreachable, or not the cache**: this process's in-memory :data:`buffer` (fail open, never a 5xx; the
  guard of :mod:`crm_bridge.intake.errors` leaves Redis alone for a few seconds after a failure).

A daemon thread per process writes the in-memory counts and folds Redis every ``HIT_BUFFER_SECONDS`` (1 s by
default), and so do process exit (``atexit``) and :func:`crm_bridge.delivery.hits.flush_hits`. The in-memory part:

* every view is counted once: a flush takes the buffer's counts out under the lock and writes them; if the write
  fails (the database is unreachable) they are put back and written by the next flush;
* a view whose site was deleted meanwhile is dropped (there is no counter to add it to), with a warning;
* **what can be lost**: the views a process holds in memory when it is killed outright (SIGKILL, OOM, a crash):
  those answered since its last completed flush *took* its counts — at most ``HIT_BUFFER_SECONDS`` (the thread
  waits that long after each write) plus the write time of that flush and of the one in flight (measured:
  tests/integration/test_hit_kill.py, docs/benchmarks.md). A graceful exit (SIGTERM to gunicorn) flushes first.

A beacon with an ``Idempotency-Key`` is written in-line, with its record, in one transaction, as before
(:func:`crm_bridge.intake.store.add_hits`): "a repeat with the same key creates nothing" needs the record and the
counts to commit together.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from ..conf import bridge_settings
from .errors import cache_guard, is_db_unavailable, warn_db_unavailable

__all__ = ["HitBuffer", "RedisHits", "buffer", "redis_hits"]

logger = logging.getLogger("crm_bridge.intake")

Counts = dict[tuple[int, int], int]
T = TypeVar("T")

#: A fold key's HitFold row is kept this long after the key is gone (a fold that read the key earlier and is
#: still about to insert the row must find it: see :meth:`RedisHits._prune`).
FOLD_RECORD_KEEP = timedelta(hours=1)

# Atomic in Redis: rename the live hash to this fold's key and list that key, or do nothing if there is no hash.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('SADD', KEYS[3], KEYS[2])
  return 1
end
return 0
"""


class _RedisDown(Exception):
    """A Redis call failed (the guard has logged it)."""


def _redis(func: Callable[[], T]) -> T:
    """``func()`` through the cache guard; raises :class:`_RedisDown` if Redis failed or is being left alone."""
    result = cache_guard.call("page views", lambda: (func(),), None)
    if result is None:
        raise _RedisDown
    return result[0]


def _write(taken: Mapping[tuple[int, int], int], fold_token: str | None = None) -> int:
    """Add ``taken`` to the counters in the caller's transaction (and record ``fold_token``), dropping the views
    of deleted sites; returns the views written."""
    from ..models import HitFold, Site
    from .store import bump_counters

    if fold_token is not None:
        HitFold.objects.create(token=fold_token)  # unique: a second fold of the same key stops here
    # Buffered views can outlive their site (FK checks are deferred to COMMIT, so one missing site would fail
    # the whole write again and again): drop those, loudly.
    live = set(Site.objects.filter(pk__in={s for s, _ in taken}).values_list("pk", flat=True))
    for (site_id, pkid), n in taken.items():
        if site_id not in live:
            logger.warning("dropped %d page view(s) of pkid %s: site %s no longer exists", n, pkid, site_id)
    return bump_counters({k: n for k, n in taken.items() if k[0] in live})


class RedisHits:
    """Page views counted in Redis when Redis is the default cache; see the module's docstring."""

    def client(self) -> Any | None:
        """The default cache's Redis client (its first server, where writes go), or ``None`` if it is not Redis."""
        from django.core.cache import caches
        from django.core.cache.backends.redis import RedisCache

        cache = caches["default"]
        if isinstance(cache, RedisCache):
            return cache._cache.get_client(None, write=True)  # type: ignore[attr-defined]
        if type(cache).__module__.startswith("django_redis"):
            return cache.client.get_client(write=True)  # type: ignore[attr-defined]
        return None

    def keys(self) -> tuple[str, str]:
        """(live hash, set of fold keys), under the cache's key prefix and version."""
        from django.core.cache import caches

        cache = caches["default"]
        return cache.make_key("crm_bridge:hits"), cache.make_key("crm_bridge:hits:folds")

    def add(self, site_id: int, counts: Mapping[int, int]) -> bool:
        """Count ``counts`` in Redis atomically; False if Redis is not the cache or did not answer (the caller
        keeps them in memory instead)."""
        client = self.client()
        if client is None:
            return False
        live, _ = self.keys()

        def incr() -> bool:
            if len(counts) == 1:
                ((pkid, n),) = counts.items()
                client.hincrby(live, f"{site_id}:{pkid}", n)
            else:
                pipe = client.pipeline(transaction=True)  # MULTI/EXEC: all of one beacon's items or none
                for pkid, n in counts.items():
                    pipe.hincrby(live, f"{site_id}:{pkid}", n)
                pipe.execute()
            return True

        return cache_guard.call("page views", incr, False)

    def pending(self) -> int:
        """Views in Redis not yet folded into the counters (0 if Redis is not the cache or does not answer)."""
        client = self.client()
        if client is None:
            return 0
        live, folds = self.keys()

        def count() -> int:
            keys = [live, *(k.decode() for k in client.smembers(folds))]
            return sum(int(v) for key in keys for v in client.hvals(key))

        return cache_guard.call("page views", count, 0)

    def fold(self) -> int:
        """Move Redis's counts into ``HitCounter.pending``, exactly once; returns the views written.

        Raises the database's errors (the fold key stays listed: the next fold writes it). A Redis failure ends
        the fold quietly (the guard logs it); nothing is lost, the next fold carries on.
        """
        client = self.client()
        if client is None:
            return 0
        live, folds = self.keys()
        # Time first, so fold keys sort in the order they were taken (leftovers before this fold's own).
        token = f"{time.time_ns():x}-{uuid.uuid4().hex}"
        written = 0
        try:
            _redis(lambda: client.eval(_TAKE, 3, live, f"{live}:fold:{token}", folds))
            listed: list[str] = _redis(lambda: sorted(k.decode() for k in client.smembers(folds)))
            for key in listed:
                raw: dict[bytes, bytes] = _redis(partial(client.hgetall, key))
                written += self._fold_one(key, raw, listed)
                # Should this fail, the token's row makes the next fold delete the key without counting it again.
                _redis(partial(self._forget, client, key, folds))
        except _RedisDown:
            pass  # the guard logged it; nothing is lost, the next fold carries on
        return written

    def _fold_one(self, key: str, raw: Mapping[bytes, bytes], listed: list[str]) -> int:
        from ..models import HitFold

        token = key.rsplit(":", 1)[1]
        taken: Counts = {}
        for field, value in raw.items():
            site_id, pkid = field.decode().split(":")
            taken[(int(site_id), int(pkid))] = int(value)
        if not taken:
            return 0  # already folded and deleted by another process between our listing and our read
        try:
            with transaction.atomic():
                written = _write(taken, fold_token=token)
                self._prune(listed)
        except IntegrityError:
            if HitFold.objects.filter(token=token).exists():
                return 0  # folded before (a lost delete, or another process just now): only delete the key
            raise
        return written

    @staticmethod
    def _forget(client: Any, key: str, folds: str) -> bool:
        pipe = client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.srem(folds, key)
        pipe.execute()
        return True

    @staticmethod
    def _prune(listed: list[str]) -> None:
        """Delete the fold records no fold can need again: older than :data:`FOLD_RECORD_KEEP` and whose key is
        no longer listed. The window this leaves: a fold that read a key, then stalled for over an hour before
        its insert, while another folded and deleted that key (it would count it a second time)."""
        from ..models import HitFold

        keep = {k.rsplit(":", 1)[1] for k in listed}
        HitFold.objects.filter(created_at__lt=timezone.now() - FOLD_RECORD_KEEP).exclude(token__in=keep).delete()

    def discard(self) -> None:
        """Delete the hash and every fold key (tests); errors are ignored."""
        try:
            client = self.client()
            if client is None:
                return
            live, folds = self.keys()
            client.delete(live, *(k.decode() for k in client.smembers(folds)), folds)
        except Exception:
            logger.debug("could not discard the page views in Redis", exc_info=True)


#: Page views in Redis (used only when Redis is the default cache).
redis_hits = RedisHits()


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
        """Count ``counts`` (pkid → views) of ``site_id``: in Redis when Redis is the cache and answers, else in
        this process's memory; written by the next flush either way."""
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: a thread does not survive fork
                self._counts = {}
                self._pid = os.getpid()
                self._thread = None
            # Started on the first add with background on (not only the first add at all: a test may have
            # switched it off for the first ones), and again in a forked child. With Redis it folds Redis.
            if self.background and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="crm-bridge-hit-buffer")
                self._thread.daemon = True  # atexit flushes what it holds
                self._thread.start()
        if redis_hits.add(site_id, counts):
            return
        with self._lock:
            for pkid, n in counts.items():
                self._counts[(site_id, pkid)] = self._counts.get((site_id, pkid), 0) + n

    def pending(self) -> int:
        """Views not yet written to the counters: held in memory here, plus those in Redis."""
        with self._lock:
            held = sum(self._counts.values())
        return held + redis_hits.pending()

    def discard(self) -> None:
        """Forget what is held, here and in Redis (tests: nothing leaks into the next one)."""
        with self._lock:
            self._counts = {}
        redis_hits.discard()

    def flush(self) -> int:
        """Write every view held in memory to its counter in one transaction, then fold Redis's counts
        (:meth:`RedisHits.fold`); returns how many views were written.

        Raises the database's errors after putting the counts back (nothing is lost, nothing counted twice).
        """
        with self._lock:
            taken, self._counts = self._counts, {}
        written = 0
        if taken:
            try:
                with transaction.atomic():
                    written = _write(taken)
            except Exception:
                with self._lock:
                    for key, n in taken.items():
                        self._counts[key] = self._counts.get(key, 0) + n
                raise
        return written + redis_hits.fold()

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
