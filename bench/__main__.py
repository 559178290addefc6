"""``python -m bench``: intake, hit counting, delivery throughput and memory, each as a ratio to a floor.

* intake — a widget POST (middleware, DRF, validation, phone normalisation, outbox row, idempotency record) vs.
  the floor: a bare Django view answering 202 through the same test client and middleware.
* hits — many page views through the API, then one flush: CRM calls per view.
* delivery — messages delivered through the outbox (claim, rate bucket, circuit, attempt log, state) to the
  sandbox over HTTP vs. the floor: the same CRM calls made directly with the client.
* memory — peak Python allocation (tracemalloc) of the delivery run vs. the floor's.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_tmp = tempfile.TemporaryDirectory(prefix="crm-bridge-bench-")
os.environ["CRM_BRIDGE_VAR_DIR"] = _tmp.name  # a throw-away database and broker folder
for _var in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
    os.environ.pop(_var, None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The demo site's development defaults (sandbox installed, plain HTTP, demo credentials) come with DEBUG=1;
# DEBUG itself is turned off again below, so Django does not record every query while we measure.
os.environ["DEBUG"] = "1"

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()
settings.DEBUG = False

import logging  # noqa: E402

for _quiet in ("django.server", "crm_bridge"):  # one access/info line per CRM call would drown the results
    logging.getLogger(_quiet).setLevel(logging.WARNING)

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from crm_bridge import delivery  # noqa: E402
from crm_bridge.connection import build_client  # noqa: E402
from crm_bridge.models import HitCounter, Site, Submission  # noqa: E402
from crm_bridge.sandbox import control  # noqa: E402
from crm_bridge.sandbox.server import running  # noqa: E402

ROUNDS = 3


def floor_view(request):
    return HttpResponse(b'{"ok": true}', status=202, content_type="application/json")


urlpatterns = [path("floor", floor_view), *__import__("config.urls", fromlist=["urlpatterns"]).urlpatterns]


def best_of(fn: Callable[[], float], rounds: int = ROUNDS) -> float:
    """Median of ``rounds`` runs of ``fn`` (each returns seconds per operation)."""
    return statistics.median(fn() for _ in range(rounds))


def per_op(n: int, op: Callable[[int], object]) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        op(i)
    return (time.perf_counter() - t0) / n


def report(name: str, value: float, floor: float, unit: str = "ms") -> None:
    scale = 1000 if unit == "ms" else 1
    print(f"{name:<34} {value * scale:9.3f} {unit:<4} floor {floor * scale:9.3f} {unit:<4} ratio {value / floor:6.2f}x")


def bench_intake(site: Site, n: int = 300) -> None:
    client = Client(HTTP_ORIGIN="https://bench.example", SERVER_NAME="localhost")
    counter = iter(range(10**9))
    version = site.privacy_version  # the visitor's consent, as the widget sends it

    def submit(i: int) -> None:
        k = next(counter)
        r = client.post(
            "/crm/widget/v1/leads",
            data=json.dumps(
                {
                    "key": site.public_key,
                    "name": f"压测{k}",
                    "tel": f"139{k:08d}",
                    "message": "报价",
                    "consent": True,
                    "version": version,
                }
            ),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"bench-{k}",
        )
        assert r.status_code == 202, r.content

    def floor(i: int) -> None:
        r = client.post("/floor", data="{}", content_type="application/json")
        assert r.status_code == 202

    value = best_of(lambda: per_op(n, submit))
    base = best_of(lambda: per_op(n, floor))
    report(f"intake: lead POST ({n}/round)", value, base)


def bench_hits(site: Site, sandbox_url: str, views: int = 5000, items: int = 20) -> None:
    client = Client(HTTP_ORIGIN="https://bench.example", SERVER_NAME="localhost")
    per = 50
    t0 = time.perf_counter()
    for i in range(views // per):
        hits = [{"pkid": 1000 + (i * per + j) % items, "count": 1} for j in range(per)]
        r = client.post("/crm/widget/v1/hits", data=json.dumps({"key": site.public_key, "hits": hits}),
                        content_type="application/json")  # fmt: skip
        assert r.status_code == 202, r.content
    intake = time.perf_counter() - t0
    calls_before = control.calls("ECommerce/UpdateBaseInfoHit")
    delivery.flush_hits()
    calls = control.calls("ECommerce/UpdateBaseInfoHit") - calls_before
    counted = sum(control.hits(1000 + i) for i in range(items))
    assert counted == views, (counted, views)
    print(f"hits: {views} views over {items} items    intake {intake / views * 1000:.3f} ms/view; "
          f"{calls} CRM calls ({calls / views:.4f} per view); all {counted} counted")  # fmt: skip


def bench_settings(sandbox_url: str) -> dict:
    return {
        "BASE_URL": sandbox_url,
        "TOKEN": "sandbox-token",
        "CALLS_PER_SECOND": 0,
        "READ_RETRIES": 0,
        "THROTTLE_RATES": {"ip": "1000000/min", "site": "1000000/min"},
        "MIN_FILL_SECONDS": 0.0,
    }


def bench_delivery(site: Site, sandbox_url: str, n: int = 150) -> None:
    crm = build_client().with_site_key(site.site_key)

    def make_rows() -> list:
        return [
            Submission.objects.create(site=site, kind="message", payload={"content": f"bench {i}", "contact": ""})
            for i in range(n)
        ]

    def through_outbox() -> float:
        rows = make_rows()
        t0 = time.perf_counter()
        for row in rows:
            assert delivery.deliver(row.pk) == "delivered"
        return (time.perf_counter() - t0) / n

    def direct() -> float:
        return per_op(n, lambda i: crm.call("ECommerce/AddMessageBoard", {"custID": 1, "content": f"floor {i}"}))

    value, base = best_of(through_outbox), best_of(direct)
    report(f"delivery: message ({n}/round)", value, base)

    tracemalloc.start()
    through_outbox()
    _, outbox_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    direct()
    _, direct_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    report(f"memory: peak while delivering {n}", outbox_peak / 1024, direct_peak / 1024, unit="KiB")


def main() -> None:
    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    control.reset()
    site = Site.objects.create(
        name="bench", site_key="sandbox-site-key", allowed_origins=["https://bench.example"], default_cust_id=1
    )
    print(f"crm_bridge benchmarks — {connection.vendor}, median of {ROUNDS} rounds; lower ratio is better\n")
    with running() as server, override_settings(ROOT_URLCONF=__name__, CRM_BRIDGE=bench_settings(server.base_url)):
        bench_intake(site)
        bench_hits(site, server.base_url)
        bench_delivery(site, server.base_url)
    print(f"\nsubmissions stored: {Submission.objects.count()}, hit counters: {HitCounter.objects.count()}")


if __name__ == "__main__":
    main()
