"""Liveness and readiness: per-check JSON, 200/503, the CRM circuit, the outbox's oldest waiting row, a broker
that refuses or hangs (answered within the check's budget), and nothing secret in the answer."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from crm_bridge import testing
from crm_bridge.delivery import circuit
from crm_bridge.models import Circuit, Submission

from .conftest import LIVE, READY, SITE_KEY

pytestmark = pytest.mark.django_db

CHECK_NAMES = ["database", "broker", "cache", "crm", "outbox"]


def ready(client, query: str = ""):
    response = client.get(READY + query)
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response, response.json()


def open_circuit(state: str = Circuit.State.OPEN, failures: int = 5) -> None:
    Circuit.objects.update_or_create(
        name=circuit.circuit_name(),
        defaults={"state": state, "failures": failures, "retry_at": timezone.now() + timedelta(seconds=30)},
    )


def test_ready_when_all_is_well(client, site, broker_url):
    response, body = ready(client)
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert list(body["checks"]) == CHECK_NAMES
    for name, entry in body["checks"].items():
        assert entry["status"] == "ok", (name, entry)
        assert "message" not in entry
        assert entry["time_ms"] >= 0
    assert [n for n, e in body["checks"].items() if not e["critical"]] == ["cache"]
    assert body["checks"]["crm"] == {
        "status": "ok", "critical": True, "time_ms": body["checks"]["crm"]["time_ms"],
        "state": "closed", "failures": 0, "paused_sites": 0,
    }  # fmt: skip
    assert body["checks"]["outbox"]["waiting"] == 0
    assert body["checks"]["outbox"]["oldest_waiting_seconds"] == 0
    assert body["checks"]["outbox"]["max_wait_seconds"] == 300.0


def test_circuit_open_fails_readiness_closed_passes(client, site, broker_url):
    open_circuit()
    response, body = ready(client)
    assert response.status_code == 503
    assert body["status"] == "fail"
    crm = body["checks"]["crm"]
    assert (crm["status"], crm["state"], crm["failures"]) == ("fail", "open", 5)
    assert crm["message"] == "the CRM circuit is open after 5 failed calls in a row"
    assert "retry_at" in crm
    assert [n for n, e in body["checks"].items() if e["status"] != "ok"] == ["crm"]

    circuit.record_success()  # what a successful probe does
    response, body = ready(client)
    assert response.status_code == 200
    assert body["checks"]["crm"]["state"] == "closed"


def test_half_open_circuit_and_paused_site_warn_but_stay_ready(client, site, broker_url):
    open_circuit(Circuit.State.HALF_OPEN, failures=6)
    response, body = ready(client)
    assert response.status_code == 200
    assert body["checks"]["crm"]["status"] == "warn"
    assert body["checks"]["crm"]["message"] == "the CRM circuit is half-open: one probe call decides"

    circuit.record_success()
    site.paused_at = timezone.now()
    site.save(update_fields=["paused_at"])
    response, body = ready(client)
    assert response.status_code == 200
    assert (body["checks"]["crm"]["status"], body["checks"]["crm"]["paused_sites"]) == ("warn", 1)


def test_outbox_row_waiting_past_the_threshold_fails_readiness(client, site, broker_url, bridge):
    bridge(HEALTH_MAX_WAIT=300.0)
    now = timezone.now()
    testing.submission(site, created_at=now - timedelta(seconds=250))  # due for 250 s: within the limit
    # Not due: a retry scheduled in 10 minutes, however old the row.
    testing.submission(site, next_attempt_at=now + timedelta(seconds=600), created_at=now - timedelta(days=1))
    testing.submission(site, status=Submission.Status.DELIVERED, created_at=now - timedelta(days=2))  # done
    response, body = ready(client)
    assert response.status_code == 200, body
    assert body["checks"]["outbox"]["waiting"] == 1
    assert 250 <= body["checks"]["outbox"]["oldest_waiting_seconds"] < 300

    # Due again since 350 s (a retry whose time came), not taken by any worker.
    testing.submission(site, created_at=now - timedelta(hours=1), next_attempt_at=now - timedelta(seconds=350))
    response, body = ready(client)
    assert response.status_code == 503
    outbox = body["checks"]["outbox"]
    assert (outbox["status"], outbox["waiting"]) == ("fail", 2)
    assert 350 <= outbox["oldest_waiting_seconds"] < 400
    assert outbox["message"].startswith("a submission has waited 35")
    assert outbox["message"].endswith("s for a worker (limit 300 s)")
    assert [n for n, e in body["checks"].items() if e["status"] != "ok"] == ["outbox"]


def test_a_claimed_row_whose_lease_ran_out_is_waiting(client, site, broker_url, bridge):
    bridge(HEALTH_MAX_WAIT=60.0)
    now = timezone.now()
    testing.submission(site, status=Submission.Status.SENDING, lease_expires_at=now + timedelta(seconds=100))
    response, body = ready(client)
    assert (response.status_code, body["checks"]["outbox"]["waiting"]) == (200, 0)
    testing.submission(site, status=Submission.Status.SENDING, lease_expires_at=now - timedelta(seconds=90))
    response, body = ready(client)
    assert (response.status_code, body["checks"]["outbox"]["waiting"]) == (503, 1)


def test_rows_of_a_paused_site_are_not_waiting_for_a_worker(client, site, broker_url, bridge):
    """They wait for a person (new credentials): the crm check says so, the outbox check does not fail."""
    bridge(HEALTH_MAX_WAIT=60.0)
    testing.submission(site, created_at=timezone.now() - timedelta(hours=2))
    site.paused_at = timezone.now()
    site.save(update_fields=["paused_at"])
    response, body = ready(client)
    assert response.status_code == 200
    assert body["checks"]["outbox"]["waiting"] == 0
    assert body["checks"]["crm"]["status"] == "warn"


@pytest.mark.parametrize("kind", ["refused", "hung"])
def test_unreachable_broker_fails_readiness_within_the_budget(
    kind, client, site, broker_url, bridge, closed_port, silent_server, caplog
):
    port = closed_port if kind == "refused" else silent_server
    broker_url(f"redis://:broker-pass-{kind}@127.0.0.1:{port}/0")
    bridge(HEALTH_TIMEOUT=0.5)
    started = time.monotonic()
    response, body = ready(client)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert body["checks"]["broker"] == {
        "status": "fail", "critical": True, "time_ms": body["checks"]["broker"]["time_ms"],
        "message": "cannot connect to the broker",
    }  # fmt: skip
    assert [n for n, e in body["checks"].items() if e["status"] != "ok"] == ["broker"], body
    # The budget (0.5 s) plus the second django-health-check grants, plus slack for a busy 2-core machine; a
    # hung broker without the timeout would hold the request until the load balancer gave up.
    assert elapsed < 5.0, elapsed
    assert "broker-pass" not in response.content.decode()
    assert "broker-pass" not in caplog.text
    # The failing check is logged as a warning; the 503 itself is no server error for django.request to report.
    assert [r.name for r in caplog.records if r.levelname == "ERROR"] == []
    assert "Health check Broker() failed" in caplog.text


def test_cache_failure_only_warns(client, site, broker_url, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}  # loses every write
    response, body = ready(client)
    assert response.status_code == 200
    assert body["checks"]["cache"]["status"] == "warn"
    assert body["checks"]["cache"]["critical"] is False


def test_only_the_checks_asked_for(client, site, broker_url, closed_port):
    broker_url(f"redis://127.0.0.1:{closed_port}/0")
    open_circuit()
    response, body = ready(client, "?checks=database,outbox")
    assert response.status_code == 200
    assert list(body["checks"]) == ["database", "outbox"]
    response, body = ready(client, "?checks=database,nope")
    assert response.status_code == 400
    assert body == {"error": "unknown check(s): nope", "known": CHECK_NAMES}


def test_not_configured_crm_fails_the_crm_check(client, site, broker_url, settings):
    settings.CRM_BRIDGE = {}
    response, body = ready(client, "?checks=crm")
    assert response.status_code == 503
    assert body["checks"]["crm"]["message"] == 'the CRM is not configured: set CRM_BRIDGE["BASE_URL"]'


def test_liveness_always_answers_and_checks_nothing(client, site, broker_url, closed_port, django_assert_num_queries):
    broker_url(f"redis://127.0.0.1:{closed_port}/0")
    open_circuit()
    testing.submission(site, created_at=timezone.now() - timedelta(days=3))
    with django_assert_num_queries(0):
        response = client.get(LIVE)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert client.get(READY).status_code == 503


def test_no_secret_or_personal_data_in_readiness(client, site, broker_url, settings):
    sub = testing.submission(site, "lead", created_at=timezone.now() - timedelta(hours=1))
    open_circuit()
    Circuit.objects.update(last_error="CRM said: token sandbox-token refused")
    response, _ = ready(client)
    text = response.content.decode()
    for secret in (SITE_KEY, settings.CRM_BRIDGE["TOKEN"], sub.payload["name"], sub.payload["tel"], str(sub.pk)):
        assert secret not in text
