"""The dashboard on the admin index (and the app page), and the read-only hit-counter and circuit pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from crm_bridge.admin.dashboard import QUERIES, dashboard_data
from crm_bridge.models import Circuit, DeliveryAttempt, HitCounter, Site, Submission

from .conftest import OTHER_KEY, SITE_KEY, assert_no_secret

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


@pytest.fixture
def busy(site, make_submission):
    """An outbox with a bit of everything; returns what the dashboard should count."""
    now = timezone.now()
    oldest = make_submission(status="queued")
    Submission.objects.filter(pk=oldest.pk).update(created_at=now - timedelta(days=2, hours=3))
    make_submission(status="queued")
    make_submission(status="sending")
    for status in ("delivered", "delivered", "delivered", "duplicate", "failed", "spam"):
        make_submission(status=status)
    make_submission(status="delivered", ambiguous_sends=1)
    stale = make_submission(status="failed")  # older than a day: not in the last 24 h
    Submission.objects.filter(pk=stale.pk).update(created_at=now - timedelta(days=3))
    Site.objects.create(name="Paused Co", site_key=OTHER_KEY, paused_at=now - timedelta(hours=1), paused_reason="x")
    Circuit.objects.create(
        name="http://crm.example/WebApi/Handler/1.0/CRM", state="open", failures=5, opened_at=now,
        retry_at=now + timedelta(seconds=30), last_error="could not connect to crm.example", last_error_at=now,
    )  # fmt: skip
    sub = Submission.objects.filter(status="failed").order_by("-created_at").first()
    DeliveryAttempt.objects.create(submission=sub, endpoint="Customer/Save", outcome="ok", http_status=200)
    DeliveryAttempt.objects.create(
        submission=sub, endpoint="ECommerce/AddMessageBoard", outcome="retry", http_status=503, error_code=10002,
        error="service unavailable endpoint=ECommerce/AddMessageBoard http_status=503",
    )  # fmt: skip
    DeliveryAttempt.objects.create(submission=sub, endpoint="Customer/NameIsRepeat", outcome="ok", http_status=200)
    HitCounter.objects.create(site=site, pkid=101, pending=7)
    HitCounter.objects.create(site=site, pkid=102, pending=5, sent=100)
    HitCounter.objects.create(site=site, pkid=103, pending=0, sent=9)
    return sub


def test_dashboard_numbers(busy, django_assert_num_queries):
    with django_assert_num_queries(QUERIES):
        board = dashboard_data()
    assert (board.queued, board.sending, board.backlog) == (2, 1, 3)
    assert board.oldest_waiting_age > timedelta(days=2, hours=2)
    assert board.recent == {"delivered": 4, "duplicate": 1, "failed": 1, "spam": 1, "cancelled": 0}
    assert board.ambiguous_recent == 1
    assert [s.name for s in board.paused_sites] == ["Paused Co"]
    assert [c.state for c in board.circuits] == ["open"]
    assert board.last_error.endpoint == "ECommerce/AddMessageBoard"
    assert (board.hits_pending, board.hit_counters_pending) == (12, 2)
    assert not board.healthy


def test_empty_dashboard(db, django_assert_num_queries):
    with django_assert_num_queries(QUERIES - 1):  # no attempts logged: no look for the last error
        board = dashboard_data()
    assert (board.backlog, board.oldest_waiting, board.last_error, board.hits_pending) == (0, None, None, 0)
    assert board.healthy


def test_index_shows_the_dashboard_and_the_app_list(admin_client, busy):
    response = admin_client.get(INDEX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('id="crm-bridge-dashboard"') == 1
    # The project's own index is still there: the app list and recent actions.
    assert 'id="recent-actions-module"' in body
    assert reverse("admin:crm_bridge_submission_changelist") in body
    assert reverse("admin:auth_user_changelist") in body
    assert '<div class="crm-big">3</div>' in body  # backlog
    assert "2 waiting</a> · <a" in body and "1 sending</a>" in body
    assert "oldest waiting: 2" in body
    assert '<tr class="crm-recent-delivered"><td><a href="' in body
    assert '</a></td><td class="crm-n">4</td></tr>' in body
    assert '<td class="crm-n crm-bad">1</td>' in body  # ambiguous sends
    assert ">Paused Co</a>" in body
    assert "could not connect to crm.example" in body
    assert "service unavailable endpoint=ECommerce/AddMessageBoard" in body
    assert '<div class="crm-big">12</div>' in body
    assert f'href="{reverse("admin:crm_bridge_console")}"' in body
    assert reverse("admin:crm_bridge_submission_change", args=[busy.pk]) in body
    assert_no_secret(body, SITE_KEY, OTHER_KEY)


def test_dashboard_links_filter_the_list(admin_client, busy):
    response = admin_client.get(INDEX)
    links = {status: link for status, _label, _n, link in response.context["recent"]}
    listed = admin_client.get(links["delivered"])
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 4
    assert admin_client.get(response.context["queued_url"]).context["cl"].result_count == 2
    assert admin_client.get(response.context["ambiguous_url"]).context["cl"].result_count == 1


def test_app_page_shows_the_dashboard(admin_client, busy):
    body = admin_client.get(reverse("admin:app_list", args=["crm_bridge"])).content.decode()
    assert body.count('id="crm-bridge-dashboard"') == 1


def test_dashboard_needs_the_view_permission(client, busy):
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)
    body = client.get(INDEX).content.decode()
    assert 'id="crm-bridge-dashboard"' not in body
    user.user_permissions.add(Permission.objects.get(codename="view_submission"))
    user = User.objects.get(pk=user.pk)
    client.force_login(user)
    body = client.get(INDEX).content.decode()
    assert body.count('id="crm-bridge-dashboard"') == 1
    assert 'id="crm-console-link"' not in body  # the console needs crm_bridge.change_site


# --- hit counters and circuit --------------------------------------------------------------------------


def test_hit_counters_are_read_only(admin_client, busy):
    url = reverse("admin:crm_bridge_hitcounter_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    assert admin_client.get(reverse("admin:crm_bridge_hitcounter_add")).status_code == 403
    counter = HitCounter.objects.get(pkid=101)
    page = admin_client.get(reverse("admin:crm_bridge_hitcounter_change", args=[counter.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert (
        admin_client.post(reverse("admin:crm_bridge_hitcounter_change", args=[counter.pk]), {"pending": 0}).status_code
        == 403
    )
    assert admin_client.get(url, {"q": "102"}).context["cl"].result_count == 1


def test_circuit_reset(admin_client, busy):
    Circuit.objects.create(name="closed-one")
    url = reverse("admin:crm_bridge_circuit_changelist")
    body = admin_client.get(url).content.decode()
    assert body.count('class="crm-badge crm-badge-open"') == 1
    assert body.count('class="crm-badge crm-badge-closed"') == 1
    response = admin_client.post(
        url,
        {"action": "reset_closed", "_selected_action": list(Circuit.objects.values_list("pk", flat=True))},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["1 circuit reset to closed."]
    circuit = Circuit.objects.get(name__startswith="http://crm.example")
    assert (circuit.state, circuit.failures, circuit.opened_at, circuit.retry_at) == ("closed", 0, None, None)
    assert circuit.last_error == "could not connect to crm.example"  # history kept for people to read
