"""What every long operator command shares (``manage.py crm_bridge_ops``, docs/operations.md, "Operator
commands"): work in batches in a stable order, show progress, stop cleanly on a signal, resume where it stopped,
do a dry run, and leave an audit trail.

* **Order and batches.** Rows are taken in ``(created_at, id)`` order, ``batch_size`` at a time, each batch
  *after* the key of the last one done (keyset paging, never ``OFFSET``): rows that leave the selection as they
  are processed (a failed row queued again) do not shift the pages, and no row is taken twice.
* **One transaction per batch.** A batch's changes and the checkpoint's cursor (:class:`OperatorRun`) commit
  together: a crash or a second Ctrl-C mid-batch rolls back both, and ``--resume`` redoes exactly that batch.
  Broker hand-offs wait for the commit (``transaction.on_commit``), so a rolled-back batch published nothing.
* **Signals.** The first SIGINT or SIGTERM lets the current batch finish and commit, then the run stops, says
  how to resume, and the command exits non-zero (128 + the signal number, as shells report). A second SIGINT
  stops at once (the batch rolls back).
* **Progress** goes to stderr (stdout keeps the listing, so ``--dry-run > rows.txt`` works): a bar redrawn in
  place on a terminal, one ``N/M done`` line per batch otherwise (logs, CI, cron mail). Hand-written rather than
  ``tqdm``: a one-line bar is a few lines of code, and a dependency of the reusable app for it is not worth it.
* **Dry run.** The same selection and the same per-row decisions as a real run, listed on stdout; nothing is
  written (no rows, no checkpoint). With ``--resume`` it shows what the resume would do.
* **Audit.** Each run is an :class:`OperatorRun` row (who, what selection, how far, when) and ``crm_bridge.ops``
  log lines at start and end; neither holds personal data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import OperatorRun, Submission

__all__ = ["BatchJob", "Interrupted", "Plan", "Progress", "RunResult", "run_job", "stop_requests"]

logger = logging.getLogger("crm_bridge.ops")

DEFAULT_BATCH_SIZE = 100


@dataclass
class Plan:
    """What one batch would do: the rows to change, and the rows left alone with the reason why."""

    change: list[Submission] = field(default_factory=list)
    skip: list[tuple[Submission, str]] = field(default_factory=list)


class BatchJob:
    """One operator verb. Subclasses give the selection (:meth:`queryset`), the per-row decisions (:meth:`plan`)
    and the change (:meth:`apply`); :func:`run_job` does the rest."""

    verb: str = ""
    #: What happens to a changed row, in the listing and the summary ("queue", "erase" …).
    action: str = ""
    #: Only rows created before the run first started (its ``horizon``): the total stays what it was at the
    #: start, and a long run does not chase rows arriving while it works. Erasure sets it False: it must reach
    #: every row of the person, however recent.
    bounded: bool = True

    def scope(self) -> dict[str, Any]:
        """The selection as JSON, without personal data: a resume must name the same one."""
        raise NotImplementedError

    def queryset(self) -> QuerySet[Submission]:
        """The candidate rows (any order; :func:`run_job` orders and pages them)."""
        raise NotImplementedError

    def plan(self, rows: list[Submission]) -> Plan:
        """Decide, without writing, what to do with each row of a batch."""
        return Plan(change=list(rows))

    def apply(self, rows: list[Submission]) -> int:
        """Change ``rows`` (inside the batch's transaction); returns how many were changed."""
        raise NotImplementedError

    def resume_hint(self) -> str:
        """The command line that resumes this run."""
        raise NotImplementedError

    def scope_key(self) -> str:
        text = json.dumps({"verb": self.verb, **self.scope()}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class RunResult:
    run: OperatorRun
    dry_run: bool
    skipped: dict[str, int] = field(default_factory=dict)
    #: Set when another process finished or abandoned the run while this one worked on it: its state then.
    taken_over: str = ""


class Interrupted(Exception):
    """The run stopped on a signal or Ctrl-C; the checkpoint holds the last committed batch."""

    def __init__(self, result: RunResult, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.result = result
        self.signum = signum


# --- progress -----------------------------------------------------------------------------------------------


class Progress:
    """``done/total`` after each batch: a bar redrawn in place when ``tty``, else one plain line per update."""

    BAR = 30

    def __init__(self, write: Callable[[str], None], *, label: str, tty: bool, columns: int | None = None) -> None:
        self.write = write
        self.label = label
        self.tty = tty
        self.columns = columns or shutil.get_terminal_size(fallback=(80, 24)).columns
        self._drawn = False

    def update(self, done: int, total: int) -> None:
        total = max(total, done)
        if not self.tty:
            self.write(f"{self.label}: {done}/{total} done\n")
            return
        share = done / total if total else 1.0
        filled = round(self.BAR * share)
        line = f"{self.label} [{'#' * filled}{'.' * (self.BAR - filled)}] {done}/{total} {share:4.0%}"
        # \r and padding to the old width redraw the line; cut to the terminal so it never wraps.
        self.write("\r" + line[: self.columns - 1].ljust(min(self.columns - 1, 79)))
        self._drawn = True

    def close(self) -> None:
        """End the bar's line, so what follows starts on a fresh one."""
        if self._drawn:
            self.write("\n")
            self._drawn = False


# --- signals ------------------------------------------------------------------------------------------------


class _StopFlag:
    signum: int = 0


@contextmanager
def stop_requests() -> Iterator[_StopFlag]:
    """While inside, the first SIGINT/SIGTERM only sets ``flag.signum`` (the loop stops after its batch); a
    second SIGINT raises ``KeyboardInterrupt`` at once. Outside the main thread (where Python cannot install
    handlers) signals keep their usual effect."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag.signum and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.signum = flag.signum or signum

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- the loop -----------------------------------------------------------------------------------------------


def _after(key: tuple[Any, Any] | None) -> Q:
    if key is None or key[0] is None:
        return Q()
    created_at, pk = key
    return Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk)


def _checkpoint(job: BatchJob, *, resume: bool, dry_run: bool, operator: str) -> OperatorRun:
    unfinished = OperatorRun.objects.filter(
        scope_key=job.scope_key(), state__in=[OperatorRun.State.RUNNING, OperatorRun.State.INTERRUPTED]
    ).order_by("-started_at", "-pk")
    now = timezone.now()
    if resume:
        run = unfinished.first()
        if run is None:
            raise CommandError(
                f"Nothing to resume: no interrupted '{job.verb}' run with these arguments. "
                "Run it again without --resume."
            )
        return run
    run = OperatorRun(
        verb=job.verb,
        scope=job.scope(),
        scope_key=job.scope_key(),
        operator=operator,
        horizon=now if job.bounded else None,
        started_at=now,
    )
    if not dry_run:
        # A fresh start supersedes what an earlier, unfinished run of the same selection left behind.
        unfinished.update(state=OperatorRun.State.ABANDONED, finished_at=now)
        run.save()
    return run


def run_job(
    job: BatchJob,
    *,
    dry_run: bool = False,
    resume: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    operator: str,
    progress: Progress,
    on_plan: Callable[[Plan, bool], None] = lambda plan, dry_run: None,
    after_batch: Callable[[OperatorRun], None] | None = None,
) -> RunResult:
    """Run ``job`` in batches from its checkpoint (``resume``) or from the start. ``on_plan`` sees each batch's
    plan before it is applied (the command lists rows with it); ``after_batch`` runs after each committed batch
    (tests stop a run there). Raises :class:`Interrupted` after a signal or ``KeyboardInterrupt``; the
    checkpoint then says ``interrupted`` and holds the last committed batch."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    run = _checkpoint(job, resume=resume, dry_run=dry_run, operator=operator)
    if resume and not dry_run and run.operator != operator:
        run.operator = f"{run.operator}, {operator}"[:150]
    result = RunResult(run=run, dry_run=dry_run)

    def selection() -> QuerySet[Submission]:
        rows = job.queryset()
        if run.horizon is not None:
            rows = rows.filter(created_at__lt=run.horizon)
        return rows

    key = (run.last_created_at, run.last_id)
    run.total = run.done + selection().filter(_after(key)).count()
    if not dry_run:
        run.state = OperatorRun.State.RUNNING
        run.save(update_fields=["total", "state", "operator", "updated_at"])
    _audit(job, run, "resumed" if resume else "started", dry_run)
    with stop_requests() as stop:
        try:
            while True:
                with transaction.atomic():
                    if not dry_run:
                        # Locked for the batch: a second process resuming the same run waits, then continues
                        # from this batch's cursor, never over the same rows.
                        current = OperatorRun.objects.select_for_update().get(pk=run.pk)
                        if current.state != OperatorRun.State.RUNNING:
                            result.taken_over = current.state  # another process finished it, or started afresh
                            break
                        run.last_created_at, run.last_id = current.last_created_at, current.last_id
                        run.done, run.changed = current.done, current.changed
                    key = (run.last_created_at, run.last_id)
                    batch = list(
                        selection().filter(_after(key)).select_related("site").order_by("created_at", "pk")[:batch_size]
                    )
                    if not batch:
                        break
                    plan = job.plan(batch)
                    on_plan(plan, dry_run)
                    changed = len(plan.change) if dry_run else (job.apply(plan.change) if plan.change else 0)
                    for _row, reason in plan.skip:
                        result.skipped[reason] = result.skipped.get(reason, 0) + 1
                    run.last_created_at, run.last_id = batch[-1].created_at, batch[-1].pk
                    run.done += len(batch)
                    run.changed += changed
                    if not dry_run:
                        run.save(update_fields=["last_created_at", "last_id", "done", "changed", "updated_at"])
                progress.update(run.done, run.total)
                if after_batch is not None:
                    after_batch(run)
                if stop.signum:
                    raise Interrupted(result, stop.signum)
        except (Interrupted, KeyboardInterrupt) as err:
            progress.close()
            if not dry_run:
                run.refresh_from_db()  # the committed cursor, not a batch that rolled back
                OperatorRun.objects.filter(pk=run.pk, state=OperatorRun.State.RUNNING).update(
                    state=OperatorRun.State.INTERRUPTED, updated_at=timezone.now()
                )
                run.state = OperatorRun.State.INTERRUPTED
            _audit(job, run, "interrupted", dry_run)
            if isinstance(err, Interrupted):
                raise
            raise Interrupted(result, signal.SIGINT) from err
    progress.close()
    if not dry_run:
        now = timezone.now()
        OperatorRun.objects.filter(pk=run.pk, state=OperatorRun.State.RUNNING).update(
            state=OperatorRun.State.FINISHED, finished_at=now, updated_at=now
        )
        run.refresh_from_db()
    _audit(job, run, "finished", dry_run)
    return result


def _audit(job: BatchJob, run: OperatorRun, event: str, dry_run: bool) -> None:
    logger.info(
        "ops %s %s%s by %s: %d/%d done, %d changed; selection %s",
        job.verb, event, " (dry run)" if dry_run else "", run.operator, run.done, run.total, run.changed,
        json.dumps(run.scope, sort_keys=True, default=str),
    )  # fmt: skip


def describe(row: Submission) -> Sequence[str]:
    """A row as the listing shows it: id, local creation time, site, kind, status — nothing personal."""
    created = timezone.localtime(row.created_at)
    return (str(row.pk), f"{created:%Y-%m-%d %H:%M}", row.site.name, row.kind, row.status)
