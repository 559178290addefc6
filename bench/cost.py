"""``python -m bench.cost``: where a lead's CPU time goes, stage by stage, against the floor's one-INSERT request.

A profiling aid for docs/benchmarks.md ("What limits lead intake"), not a figure of record. It runs the real
site's settings with the benchmark's floor app (``bench.settings``), on a throw-away SQLite file and filesystem
broker, through Django's test client in one process, and measures **CPU time**, not wall time:

* the total per request is the process's CPU time (every thread: the request's and the background publisher's,
  which does the broker hand-off after the answer), divided by the requests;
* each stage is timed with the CPU time of the thread that runs it (``time.thread_time``), by wrapping the
  function that is the stage for the duration of the run.

CPU time rather than wall time because this machine is shared: other processes' load stretches wall time but
barely moves a process's own CPU time. Wrapping a dozen functions rather than cProfile because a deterministic
profiler charges its overhead per Python call, which inflates call-heavy code (the ORM, DRF's fields) several
times over and skews the shares; the wrappers cost about a microsecond per stage.

Stages are inclusive and nested as printed (a parent's time contains its children's); "the rest" is the parent's
time not in a listed child. The floor's path shares everything but the view with a lead (the same middleware,
test client and database), so a lead's distance to the floor is its view, its CORS headers and its publish.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: (label, parent label or None, dotted owner, attribute): the stages, in print order. A stage is one call of
#: ``owner.attribute`` per lead (``QuerySet.create`` is split per model: see :func:`_wrap_create`).
STAGES: tuple[tuple[str, str | None, str, str], ...] = (
    ("request through Django", None, "django.core.handlers.base.BaseHandler", "get_response"),
    ("view (DRF dispatch)", "request through Django", "crm_bridge.intake.api.WidgetAPIView", "dispatch"),
    ("DRF set-up, per-IP throttle", "view (DRF dispatch)", "crm_bridge.intake.api.WidgetAPIView", "initial"),
    ("JSON body", "view (DRF dispatch)", "crm_bridge.intake.api.WidgetAPIView", "body"),
    ("site look-up", "view (DRF dispatch)", "crm_bridge.intake.api.WidgetAPIView", "get_site"),
    ("Origin check", "view (DRF dispatch)", "crm_bridge.intake.api.WidgetAPIView", "check_origin"),
    ("validation (serializer)", "view (DRF dispatch)", "crm_bridge.intake.serializers.LeadSerializer", "is_valid"),
    ("per-site rate", "view (DRF dispatch)", "crm_bridge.intake.api._SubmissionView", "spam_reason"),
    ("consent record", "view (DRF dispatch)", "crm_bridge.intake.serializers.LeadSerializer", "consent_record"),
    ("store (one transaction)", "view (DRF dispatch)", "crm_bridge.intake.store", "submit"),
    ("Submission INSERT (ORM)", "store (one transaction)", "", "Submission"),
    ("IdempotencyRecord INSERT (ORM)", "store (one transaction)", "", "IdempotencyRecord"),
    ("COMMIT and on-commit hooks", "store (one transaction)", "django.db.transaction.Atomic", "__exit__"),
    ("CORS response headers", "request through Django", "corsheaders.middleware.CorsMiddleware",
     "add_response_headers"),
    ("broker publish (publisher thread)", None, "crm_bridge.broker", "enqueue_delivery"),
)  # fmt: skip


def _setup(var_dir: str) -> None:
    from bench.server import clean_environ

    kept = clean_environ()  # the embedded default, whatever database, broker or cache the caller names
    os.environ.clear()
    os.environ.update(kept)
    os.environ["CRM_BRIDGE_VAR_DIR"] = var_dir  # a throw-away database and broker folder
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    # The demo's development defaults (sandbox, plain HTTP); DEBUG goes off again below, so no query is recorded.
    os.environ["DEBUG"] = "1"
    # As bench/real.py: the throttles still count every request, but one client is not refused.
    os.environ["CRM_BRIDGE_OPTIONS"] = json.dumps(
        {"THROTTLE_RATES": {"ip": "1000000/min", "site": "1000000/min"}, "MIN_FILL_SECONDS": 0}
    )
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)


def _resolve(dotted: str) -> Any:
    import importlib

    module, _, name = dotted.rpartition(".")
    try:
        return importlib.import_module(dotted)
    except ImportError:
        return getattr(importlib.import_module(module), name)


class Meter:
    """Per-stage CPU seconds, summed over the run (each stage by the thread that ran it)."""

    def __init__(self) -> None:
        self.spent: Counter[str] = Counter()
        self._lock = threading.Lock()  # the publisher thread adds too

    def add(self, label: str, seconds: float) -> None:
        with self._lock:
            self.spent[label] += seconds

    def timed(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return func(*args, **kwargs)
            finally:
                self.add(label, time.thread_time() - started)

        return wrapper


@contextlib.contextmanager
def _wrapped(meter: Meter) -> Iterator[None]:
    """Every stage of :data:`STAGES` timed by ``meter`` for the duration (originals restored after)."""
    from django.db.models.query import QuerySet

    restore: list[tuple[Any, str, Any]] = []
    models = {}
    for label, _parent, owner, attr in STAGES:
        if not owner:
            models[attr] = label
            continue
        target = _resolve(owner)
        # None: inherited, so restoring is deleting the wrapper (the parent's own stays untouched).
        restore.append((target, attr, vars(target).get(attr)))
        setattr(target, attr, meter.timed(label, getattr(target, attr)))
    create = QuerySet.create
    restore.append((QuerySet, "create", vars(QuerySet)["create"]))

    def timed_create(self: Any, **kwargs: Any) -> Any:
        label = models.get(self.model.__name__)
        if label is None:
            return create(self, **kwargs)
        started = time.thread_time()
        try:
            return create(self, **kwargs)
        finally:
            meter.add(label, time.thread_time() - started)

    QuerySet.create = timed_create  # type: ignore[method-assign]
    try:
        yield
    finally:
        for target, attr, original in reversed(restore):
            if original is None:
                delattr(target, attr)
            else:
                setattr(target, attr, original)


def _requests(n: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """(one lead, one floor request): the bodies bench/real.py sends, unique per request."""
    from django.test import Client

    from crm_bridge.models import Site

    site = Site.objects.create(
        name="cost", site_key="sandbox-site-key", allowed_origins=["https://bench.example"], default_cust_id=1
    )
    client = Client(HTTP_ORIGIN="https://bench.example", SERVER_NAME="localhost")
    sequence = iter(range(10**9))

    def body() -> tuple[int, str]:
        k = next(sequence)
        fields = {"key": site.public_key, "name": f"压测{k}", "tel": f"139{k:08d}", "message": "报价"}
        fields.update(consent=True, version=site.privacy_version)
        return k, json.dumps(fields)

    def lead() -> None:
        k, data = body()
        r = client.post(
            "/crm/widget/v1/leads", data=data, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"cost-{k}"
        )
        if r.status_code != 202:
            raise SystemExit(f"a lead was answered {r.status_code}: {r.content[:300]!r}")

    def floor() -> None:
        _, data = body()
        r = client.post("/_floor/insert", data=data, content_type="application/json")
        if r.status_code != 202:
            raise SystemExit(f"the floor answered {r.status_code}")

    return lead, floor


def _cpu_per_request(op: Callable[[], None], n: int) -> float:
    from crm_bridge import broker

    started = time.process_time()
    for _ in range(n):
        op()
    broker.publisher.join()  # the hand-offs of these requests are part of their cost
    return (time.process_time() - started) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=400, help="requests per round (default 400)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, medians printed (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crm-bridge-cost-") as var_dir:
        _setup(var_dir)
        lead, floor = _requests(args.n)
        for _ in range(50):  # warm: imports, caches, the publisher thread, SQLite's pages
            lead()
            floor()
        totals, floors, stages = [], [], []
        for _ in range(args.rounds):
            meter = Meter()
            with _wrapped(meter):
                totals.append(_cpu_per_request(lead, args.n))
            stages.append({label: s / args.n for label, s in meter.spent.items()})
            floors.append(_cpu_per_request(floor, args.n))
        print(_report(totals, floors, stages, args.n))
    return 0


def _report(totals: list[float], floors: list[float], stages: list[dict[str, float]], n: int) -> str:
    total, floor = statistics.median(totals), statistics.median(floors)
    spent = {label: statistics.median(s.get(label, 0.0) for s in stages) for label, *_ in STAGES}
    children: dict[str | None, list[str]] = {}
    for label, parent, *_ in STAGES:
        children.setdefault(parent, []).append(label)
    lines = [
        f"CPU per request, medians of {len(totals)} rounds of {n} (in process, SQLite, filesystem broker)",
        f"lead  {total * 1000:7.3f} ms   floor (parse, one INSERT, COMMIT) {floor * 1000:7.3f} ms   "
        f"lead ÷ floor {total / floor:5.2f}",
        "",
        f"{'stage (inclusive; indented = inside the line above)':<58} {'ms':>7} {'share':>6}",
    ]

    def walk(parent: str | None, depth: int) -> None:
        kids = children.get(parent, [])
        for label in kids:
            lines.append(f"{'  ' * depth + label:<58} {spent[label] * 1000:7.3f} {spent[label] / total:6.1%}")
            walk(label, depth + 1)
        if kids:
            inside = spent[parent] if parent else total
            rest = inside - sum(spent[k] for k in kids)
            name = "the rest (test client, threads, unlisted)" if parent is None else "the rest"
            lines.append(f"{'  ' * depth + name:<58} {rest * 1000:7.3f} {rest / total:6.1%}")

    walk(None, 0)
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
