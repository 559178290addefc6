"""The Prometheus endpoint: who may read it (token, allowed address, staff; nobody else), and exact values
computed from known rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from crm_bridge import testing
from crm_bridge.delivery import circuit
from crm_bridge.models import Circuit, DeliveryAttempt, HitCounter, Site, Submission

from .conftest import METRICS, SITE_KEY

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789abcdef"
S = Submission.Status
Outcome = DeliveryAttempt.Outcome


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def scrape(client, **headers) -> str:
    response = client.get(METRICS, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


# --- who may read it ------------------------------------------------------------------------------------


def test_refused_without_credentials(client, site, bridge):
    bridge(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS=["10.1.0.0/16"])
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token-0123456789abcdef"},
        {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
        {"HTTP_AUTHORIZATION": "Bearer "},
        {"HTTP_X_FORWARDED_FOR": "10.1.2.3"},  # NUM_PROXIES is 0: anyone can send that header
    ):
        response = client.get(METRICS, **headers)
        assert response.status_code == 403, headers
        assert b"crm_bridge" not in response.content


def test_an_empty_token_setting_lets_no_bearer_in(client, site):
    assert client.get(METRICS, HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get(METRICS, HTTP_AUTHORIZATION="Bearer").status_code == 403


def test_allowed_with_the_token(client, site, bridge):
    bridge(METRICS_TOKEN=TOKEN)
    assert "crm_bridge_submissions" in scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "crm_bridge_submissions" in scrape(client, HTTP_AUTHORIZATION=f"bearer  {TOKEN}")


def test_allowed_for_staff_only(client, site):
    user = get_user_model().objects.create_user("ops", password="x", is_staff=False)
    client.force_login(user)
    assert client.get(METRICS).status_code == 403
    user.is_staff = True
    user.save()
    assert "crm_bridge_submissions" in scrape(client)
    user.is_active = False
    user.save()
    assert client.get(METRICS).status_code == 403


def test_allowed_from_a_listed_address(client, site, bridge):
    bridge(METRICS_ALLOWED_IPS=["10.1.0.0/16", "2001:db8::1"])
    assert "crm_bridge_submissions" in scrape(client, REMOTE_ADDR="10.1.2.3")
    assert "crm_bridge_submissions" in scrape(client, REMOTE_ADDR="::ffff:10.1.9.9")
    assert "crm_bridge_submissions" in scrape(client, REMOTE_ADDR="2001:db8::1")
    assert client.get(METRICS, REMOTE_ADDR="10.2.0.1").status_code == 403
    assert client.get(METRICS, REMOTE_ADDR="2001:db8::2").status_code == 403


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, site, bridge):
    bridge(METRICS_ALLOWED_IPS=["10.1.0.0/16"], NUM_PROXIES=1)
    assert "crm_bridge_submissions" in scrape(client, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.1.2.3")
    # What the client itself prepended is further left and ignored.
    headers = {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "10.1.2.3, 198.51.100.7"}
    assert client.get(METRICS, **headers).status_code == 403


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("short", "at least 16 characters"),
        (12345, "must be a string"),
    ],
)
def test_a_bad_token_setting_is_a_configuration_error(value, message):
    from crm_bridge.conf import validate

    problems = [
        p for p in validate({"BASE_URL": "http://x/WebApi/Handler/1.0/CRM/", "TOKEN": "t", "METRICS_TOKEN": value})
    ]
    assert [p.id for p in problems] == ["crm_bridge.E012"]
    assert message in problems[0].msg
    assert str(value) not in problems[0].msg  # a secret is never echoed


def test_bad_allowed_ips_are_a_configuration_error():
    from crm_bridge.conf import validate

    base = {"BASE_URL": "http://x/WebApi/Handler/1.0/CRM/", "TOKEN": "t"}
    assert [p.id for p in validate({**base, "METRICS_ALLOWED_IPS": ["10.0.0.0/8", "nope"]})] == ["crm_bridge.E020"]
    assert [p.id for p in validate({**base, "METRICS_ALLOWED_IPS": "10.0.0.0/8"})] == ["crm_bridge.E020"]
    assert validate({**base, "METRICS_ALLOWED_IPS": ["10.0.0.0/8", "::1"]}) == []


# --- the values -----------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(get_user_model().objects.create_user("staff", password="x", is_staff=True))
    return client


def test_outbox_gauges_are_exact(staff_client, site):
    now = timezone.now()
    for _ in range(3):
        testing.submission(site, "lead", created_at=now - timedelta(seconds=100))
    for _ in range(2):
        testing.submission(site, status=S.DELIVERED, ambiguous_sends=1)
    testing.submission(site, status=S.FAILED, ambiguous_sends=2)
    testing.submission(site, next_attempt_at=now + timedelta(hours=1), created_at=now - timedelta(seconds=500))
    found = samples(scrape(staff_client))
    assert value(found, "crm_bridge_submissions", kind="lead", status="queued") == 3
    assert value(found, "crm_bridge_submissions", kind="message", status="queued") == 1
    assert value(found, "crm_bridge_submissions", kind="message", status="delivered") == 2
    assert value(found, "crm_bridge_submissions", kind="message", status="failed") == 1
    assert value(found, "crm_bridge_submissions", kind="lead", status="spam") == 0  # every pair is present
    per_state = [v for (name, _), v in found.items() if name == "crm_bridge_submissions"]
    assert (len(per_state), sum(per_state)) == (len(Submission.Kind) * len(S), 7)
    assert value(found, "crm_bridge_outbox_waiting") == 3  # the fourth queued row is not due for an hour
    assert 100 <= value(found, "crm_bridge_outbox_oldest_waiting_seconds") < 160
    assert 500 <= value(found, "crm_bridge_outbox_oldest_unfinished_age_seconds") < 560
    assert value(found, "crm_bridge_ambiguous_sends") == 4


def test_calls_by_endpoint_and_outcome_and_the_latency_histogram_are_exact(staff_client, site, bridge):
    bridge(METRICS_LATENCY_WINDOW=600.0)
    sub = testing.submission(site, "lead")
    now = timezone.now()

    def attempt(endpoint: str, outcome: str, ms: int, ago: float = 10.0) -> None:
        DeliveryAttempt.objects.create(
            submission=sub, endpoint=endpoint, outcome=outcome, duration_ms=ms, started_at=now - timedelta(seconds=ago)
        )

    attempt("Customer/Save", Outcome.OK, 100)
    attempt("Customer/Save", Outcome.OK, 300)
    attempt("Customer/Save", Outcome.AMBIGUOUS, 3000)
    attempt("Customer/Save", Outcome.OK, 50, ago=3600)  # outside the latency window, still in the log
    attempt("Customer/NameIsRepeat", Outcome.RETRY, 250)
    attempt("Customer/NameIsRepeat", Outcome.SKIPPED, 0)  # not called: no latency
    found = samples(scrape(staff_client))

    calls = {dict(labels)["endpoint"] + " " + dict(labels)["outcome"]: v for (name, labels), v in found.items()
             if name == "crm_bridge_crm_calls"}  # fmt: skip
    assert calls == {
        "Customer/Save ok": 3, "Customer/Save ambiguous": 1,
        "Customer/NameIsRepeat retry": 1, "Customer/NameIsRepeat skipped": 1,
    }  # fmt: skip

    def buckets(endpoint: str) -> dict[str, float]:
        name = "crm_bridge_crm_call_duration_seconds_bucket"
        return {dict(lb)["le"]: v for (n, lb), v in found.items() if n == name and dict(lb)["endpoint"] == endpoint}

    assert buckets("Customer/Save") == {
        "0.1": 1, "0.25": 1, "0.5": 2, "1.0": 2, "2.5": 2, "5.0": 3, "10.0": 3, "30.0": 3, "60.0": 3, "+Inf": 3,
    }  # fmt: skip
    assert buckets("Customer/NameIsRepeat") == {
        "0.1": 0, "0.25": 1, "0.5": 1, "1.0": 1, "2.5": 1, "5.0": 1, "10.0": 1, "30.0": 1, "60.0": 1, "+Inf": 1,
    }  # fmt: skip
    assert value(found, "crm_bridge_crm_call_duration_seconds_gcount", endpoint="Customer/Save") == 3
    assert value(found, "crm_bridge_crm_call_duration_seconds_gsum", endpoint="Customer/Save") == pytest.approx(3.4)


def test_circuit_hits_and_pauses(staff_client, site):
    other = Site.objects.create(name="Beta", site_key="SECRET-beta-key", paused_at=timezone.now())
    Circuit.objects.create(name=circuit.circuit_name(), state=Circuit.State.OPEN, failures=7)
    HitCounter.objects.create(site=site, pkid=1, pending=5)
    HitCounter.objects.create(site=site, pkid=2, pending=2)
    HitCounter.objects.create(site=other, pkid=1, pending=0, sent=9)
    text = scrape(staff_client)
    found = samples(text)
    assert {s: value(found, "crm_bridge_circuit_state", state=s) for s in Circuit.State.values} == {
        "closed": 0, "open": 1, "half_open": 0,
    }  # fmt: skip
    assert value(found, "crm_bridge_circuit_failures") == 7
    assert value(found, "crm_bridge_hits_pending", site_id=str(site.pk), site="Acme 示例") == 7
    assert value(found, "crm_bridge_hits_pending", site_id=str(other.pk), site="Beta") == 0
    assert value(found, "crm_bridge_sites_paused") == 1
    assert SITE_KEY not in text and "SECRET-beta-key" not in text and "sandbox-token" not in text


def test_alert_metrics_follow_the_alert_tables(staff_client, site):
    """Alerts are an optional part of the schema (crm_bridge.alerts); without their model there is no family."""
    text = scrape(staff_client)
    try:
        apps.get_model("crm_bridge", "Alert")
    except LookupError:
        assert "crm_bridge_alerts" not in text
    else:
        assert "# TYPE crm_bridge_alerts gauge" in text


def test_no_personal_data_in_any_label(staff_client, site):
    sub = testing.submission(site, "lead", payload={"name": "王小明", "tel": "13800138000", "email": "w@example.com"})
    DeliveryAttempt.objects.create(submission=sub, endpoint="Customer/Save", outcome=Outcome.OK, duration_ms=10)
    text = scrape(staff_client)
    for personal in ("王小明", "13800138000", "w@example.com", str(sub.pk), SITE_KEY):
        assert personal not in text


def test_openmetrics_when_asked(staff_client, site):
    response = staff_client.get(METRICS, HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")
    assert "no-cache" in response["Cache-Control"]
