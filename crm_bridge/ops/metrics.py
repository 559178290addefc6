"""The Prometheus endpoint (docs/operations.md, "Metrics"): prometheus-client with one custom collector that
reads the database on each scrape.

Why not process-local counters (django-prometheus, or prometheus-client's Counter/Histogram in the code): the
work happens in Celery worker processes, on any machine, while the scrape reaches one web process; per-process
counters would need prometheus-client's multiprocess mode (a shared directory per machine, cleaned on every
restart, each machine scraped separately) and would still be lost with a process. The database already holds
every fact — the outbox, the attempt log, the circuit, the counters — so each scrape computes them there, and
every instance of the site answers the same numbers; one scrape target is enough.

Consequences, stated in the metric help: counts of rows are gauges (retention may delete rows, which a counter
must never show), and the CRM latency histogram is a *gauge histogram* over the calls started in the last
``METRICS_LATENCY_WINDOW`` seconds (``histogram_quantile`` works on its buckets directly, without ``rate``).

Labels carry no secret and no personal data: kinds, statuses, endpoint names, outcomes, a site's id and name.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from ..conf import bridge_settings
from ..models import Circuit, DeliveryAttempt, HitCounter, Submission
from . import readings

__all__ = ["LATENCY_BUCKETS", "REGISTRY", "BridgeCollector", "may_read_metrics", "metrics_view"]

#: Upper bounds (seconds) of the CRM call latency buckets; +Inf is added.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

S = Submission.Status


class BridgeCollector(Collector):
    """Every crm_bridge metric, computed from the database when collected (a handful of aggregate queries)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from self._outbox(now)
        yield from self._calls(now)
        yield from self._circuit()
        yield from self._hits_and_sites()
        yield from self._alerts()

    def _outbox(self, now: datetime) -> Iterator[Metric]:
        by_state = GaugeMetricFamily(
            "crm_bridge_submissions", "Submissions in the outbox by kind and status (rows in the table).",
            labels=["kind", "status"],
        )  # fmt: skip
        counts = {
            (row["kind"], row["status"]): row["n"]
            for row in Submission.objects.order_by().values("kind", "status").annotate(n=Count("pk"))
        }
        for kind in Submission.Kind.values:
            for status in S.values:
                by_state.add_metric([kind, status], counts.get((kind, status), 0))
        yield by_state
        waiting = readings.waiting(now)
        yield GaugeMetricFamily(
            "crm_bridge_outbox_waiting",
            "Submissions due for a worker and not taken (queued and due, or claimed with an expired lease).",
            value=waiting.count,
        )
        yield GaugeMetricFamily(
            "crm_bridge_outbox_oldest_waiting_seconds",
            "How long the longest-waiting of those has been due (0: none waits); readiness fails above "
            "HEALTH_MAX_WAIT.",
            value=waiting.oldest_seconds,
        )
        oldest = Submission.objects.filter(status__in=[S.QUEUED, S.SENDING]).aggregate(t=Min("created_at"))["t"]
        yield GaugeMetricFamily(
            "crm_bridge_outbox_oldest_unfinished_age_seconds",
            "Age of the oldest submission not yet delivered nor given up (queued or sending), waiting or not.",
            value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        )
        ambiguous = Submission.objects.aggregate(n=Sum("ambiguous_sends"))["n"] or 0
        yield GaugeMetricFamily(
            "crm_bridge_ambiguous_sends",
            "CRM writes sent without hearing the outcome (possible duplicates in the CRM), over the rows kept.",
            value=ambiguous,
        )

    def _calls(self, now: datetime) -> Iterator[Metric]:
        calls = GaugeMetricFamily(
            "crm_bridge_crm_calls",
            "CRM calls in the attempt log by endpoint and outcome (ok, retry, auth, rejected, ambiguous, "
            "skipped); a gauge: retention may delete rows.",
            labels=["endpoint", "outcome"],
        )
        rows = DeliveryAttempt.objects.order_by("endpoint", "outcome").values("endpoint", "outcome")
        for row in rows.annotate(n=Count("pk")):
            calls.add_metric([row["endpoint"], row["outcome"]], row["n"])
        yield calls
        window = float(bridge_settings.METRICS_LATENCY_WINDOW)
        latency = GaugeHistogramMetricFamily(
            "crm_bridge_crm_call_duration_seconds",
            f"Duration of the CRM calls started in the last METRICS_LATENCY_WINDOW ({window:g}) seconds, by "
            "endpoint (calls not made, outcome skipped, left out).",
            labels=["endpoint"],
        )
        buckets = {
            f"le{i}": Count("pk", filter=Q(duration_ms__lte=round(b * 1000))) for i, b in enumerate(LATENCY_BUCKETS)
        }
        recent = (
            DeliveryAttempt.objects.filter(started_at__gte=now - timedelta(seconds=window))
            .exclude(outcome=DeliveryAttempt.Outcome.SKIPPED)
            .order_by("endpoint")
            .values("endpoint")
            .annotate(n=Count("pk"), total_ms=Sum("duration_ms"), **buckets)
        )
        for row in recent:
            counts = [(_bound(b), row[f"le{i}"]) for i, b in enumerate(LATENCY_BUCKETS)]
            latency.add_metric([row["endpoint"]], [*counts, ("+Inf", row["n"])], (row["total_ms"] or 0) / 1000)
        yield latency

    def _circuit(self) -> Iterator[Metric]:
        reading = readings.circuit_reading()
        state = GaugeMetricFamily(
            "crm_bridge_circuit_state", "The CRM circuit breaker: 1 for its current state, 0 for the others.",
            labels=["state"],
        )  # fmt: skip
        for value in Circuit.State.values:
            state.add_metric([value], 1 if reading.state == value else 0)
        yield state
        yield GaugeMetricFamily(
            "crm_bridge_circuit_failures", "Consecutive retryable CRM failures counted by the circuit.",
            value=reading.failures,
        )  # fmt: skip

    def _hits_and_sites(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            "crm_bridge_hits_pending", "Page views counted but not yet sent to the CRM, by site.",
            labels=["site_id", "site"],
        )  # fmt: skip
        rows = HitCounter.objects.order_by("site_id").values("site_id", "site__name").annotate(n=Sum("pending"))
        for row in rows:
            pending.add_metric([str(row["site_id"]), row["site__name"]], row["n"] or 0)
        yield pending
        yield GaugeMetricFamily(
            "crm_bridge_sites_paused", "Active sites whose deliveries are paused (the CRM refused their credentials).",
            value=readings.paused_sites(),
        )  # fmt: skip

    def _alerts(self) -> Iterator[Metric]:
        """Alert deliveries by kind, channel and status, if this version has the alert outbox (``Alert``)."""
        try:
            alert = apps.get_model("crm_bridge", "Alert")
            fields = ["kind", "status"]
            alert._meta.get_field("status")
            alert._meta.get_field("kind")
        except (LookupError, FieldDoesNotExist):
            return
        try:
            alert._meta.get_field("destination")
            fields.append("destination__kind")
        except FieldDoesNotExist:
            pass
        family = GaugeMetricFamily(
            "crm_bridge_alerts", "Alerts (new leads, messages, alarms) by kind, channel and delivery status.",
            labels=["kind", "channel", "status"],
        )  # fmt: skip
        for row in alert.objects.order_by(*fields).values(*fields).annotate(n=Count("pk")):
            family.add_metric([row["kind"], row.get("destination__kind") or "", row["status"]], row["n"])
        yield family


def _bound(seconds: float) -> str:
    return repr(float(seconds))


#: The registry the endpoint serves: crm_bridge's collector only (no per-process metrics, see above).
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(BridgeCollector())


def _client_address(request: HttpRequest) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's address by the rule intake uses (``NUM_PROXIES`` trusted proxies; ``X-Forwarded-For``
    ignored when 0), unmapped from ``::ffff:a.b.c.d``; ``None`` when it is not an address."""
    addr = request.META.get("REMOTE_ADDR") or ""
    num_proxies = int(bridge_settings.NUM_PROXIES or 0)
    forwarded = [a.strip() for a in (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if a.strip()]
    if num_proxies > 0 and forwarded:
        addr = forwarded[-min(num_proxies, len(forwarded))]
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def may_read_metrics(request: HttpRequest) -> bool:
    """True for a request bearing ``Authorization: Bearer <METRICS_TOKEN>`` (when a token is set), from an
    address in ``METRICS_ALLOWED_IPS``, or of an active staff user's session; False for anything else."""
    token = bridge_settings.METRICS_TOKEN
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return True
    networks = bridge_settings.METRICS_ALLOWED_IPS
    if networks:
        ip = _client_address(request)
        if ip is not None and any(ip.version == net.version and ip in net for net in networks):
            return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus' text format (OpenMetrics when the scraper asks for it); 403 unless
    :func:`may_read_metrics`."""
    if not may_read_metrics(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(REGISTRY), content_type=content_type)
