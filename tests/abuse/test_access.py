"""Who gets in: no CORS grant for unknown origins, a disabled site answered like an unknown key, throttles that
hold under a burst and a forged X-Forwarded-For, the sandbox and metrics closed in a production-like config, and
the admin's list, console, export and erasure refused to staff without the permission."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from crm_bridge.intake import throttling
from crm_bridge.models import Site, Submission

from ..api.conftest import BASE, bridge
from .conftest import ORIGIN, TALLY, refused, seen

pytestmark = [pytest.mark.abuse, pytest.mark.django_db]

EVIL = "https://evil.example"
REPO = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000 + 15  # 15 s into a minute window: Retry-After is 45


@pytest.fixture
def clock(monkeypatch):
    """The throttles' clock, fixed: a burst stays in one window however slow the machine is."""
    now = [float(NOW)]
    monkeypatch.setattr(throttling._FixedWindowThrottle, "timer", staticmethod(lambda: now[0]))
    return now


@pytest.mark.parametrize("endpoint", ["config", "messages", "leads", "hits"])
def test_unknown_origins_get_no_cors_grant(client, site, message, post, endpoint):
    preflight = seen(
        client.options(
            BASE + endpoint,
            HTTP_ORIGIN=EVIL,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,idempotency-key",
        )
    )
    assert "Access-Control-Allow-Origin" not in preflight
    TALLY.refused_as_expected += 1
    if endpoint == "config":
        actual = client.get(BASE + "config", {"key": site.public_key}, HTTP_ORIGIN=EVIL)
    else:
        actual = post(endpoint, message if endpoint == "messages" else {"key": site.public_key}, origin=EVIL)
    refused(actual, 403)
    assert "Access-Control-Allow-Origin" not in actual
    assert actual["Content-Type"] == "application/json"
    assert Submission.objects.count() == 0


def test_a_disabled_site_is_refused_like_an_unknown_key(client, post, site, message, lead):
    off = Site.objects.create(name="Off", site_key="SECRET-off-key", allowed_origins=[ORIGIN], is_active=False)
    answers = []
    for key in (off.public_key, "no-such-key"):
        answers.append(refused(client.get(BASE + "config", {"key": key}, HTTP_ORIGIN=ORIGIN), 403))
        answers.append(refused(post("messages", {**message, "key": key}), 403))
        answers.append(refused(post("leads", {**lead, "key": key}), 403))
    bodies = {a.content for a in answers}
    assert bodies == {b'{"detail":"Unknown or disabled key."}'}
    assert Submission.objects.count() == 0


@pytest.mark.parametrize("limit", [3, 10])
def test_a_burst_gets_429_exactly_at_n_plus_one(post, message, clock, limit):
    with bridge(THROTTLE_RATES={"ip": f"{limit}/min", "site": "1000/min"}):
        codes = [seen(post("messages", message)).status_code for _ in range(limit)]
        over = refused(post("messages", message), 429)
        again = refused(post("messages", message), 429)
    assert codes == [202] * limit
    assert over["Retry-After"] == again["Retry-After"] == "45"
    assert over["Content-Type"] == "application/json"
    assert Submission.objects.count() == limit


def test_a_rotating_forged_forwarded_for_does_not_reset_the_budget(post, message, clock):
    with bridge(THROTTLE_RATES={"ip": "5/min", "site": "1000/min"}, NUM_PROXIES=0):
        forged = [f"198.51.100.{i}, 10.0.0.{i}" for i in range(8)]
        codes = [seen(post("messages", message, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=x)) for x in forged]
    assert [r.status_code for r in codes] == [202] * 5 + [429] * 3
    assert {r["Retry-After"] for r in codes[5:]} == {"45"}
    TALLY.refused_as_expected += 3
    assert Submission.objects.count() == 5


#: Run inside ``manage.py shell`` of the production-like process: Django's test Client, answers as JSON.
PROBE = """
import json
from django.test import Client
c = Client(HTTP_HOST="crm.example.com")
out = {
    "sandbox_state": c.get("/_sandbox/state", {"token": "sandbox-token"}, secure=True).status_code,
    "sandbox_reset": c.post("/_sandbox/reset?token=sandbox-token", secure=True).status_code,
    "metrics": c.get("/crm/ops/metrics", secure=True).status_code,
    "metrics_wrong": c.get("/crm/ops/metrics", secure=True, HTTP_AUTHORIZATION="Bearer sandbox-token").status_code,
}
print("PROBE" + json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sandbox_and_metrics_are_closed_in_a_production_like_config(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "CRM_BRIDGE_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "crm.example.com",
        "CRM_BRIDGE_BASE_URL": "https://crm.example.com/WebApi/Handler/1.0/CRM/",
        "CRM_BRIDGE_TOKEN": "token-of-a-real-tenant",
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", PROBE],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("PROBE"))
    codes = json.loads(line[len("PROBE") :])
    TALLY.requests += len(codes)
    TALLY.server_errors += sum(c >= 500 for c in codes.values())
    assert codes["sandbox_state"] == codes["sandbox_reset"] == 404
    assert codes["metrics"] in (403, 404)
    assert codes["metrics_wrong"] in (403, 404)
    TALLY.refused_as_expected += len(codes)


@pytest.fixture
def plain_staff(db):
    return User.objects.create_user("staff", password="pw-staff-1", is_staff=True)


@pytest.fixture
def viewer(db):
    user = User.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_submission"))
    return user


def test_staff_without_permissions_is_refused_everywhere(client, plain_staff, make_submission):
    sub = make_submission("lead")
    client.force_login(plain_staff)
    urls = [
        reverse("admin:crm_bridge_submission_changelist"),
        reverse("admin:crm_bridge_submission_change", args=[sub.pk]),
        reverse("admin:crm_bridge_console"),
        reverse("admin:crm_bridge_submission_export", args=["csv"]),
        reverse("admin:crm_bridge_submission_export", args=["xlsx"]),
    ]
    for url in urls:
        r = refused(client.get(url), 302, 403)
        assert b"\xe8\xae\xbf\xe5\xae\xa2" not in r.content  # no visitor name (访客…) on a refusal
    erase = client.post(
        reverse("admin:crm_bridge_submission_changelist"),
        {"action": "erase", "_selected_action": [str(sub.pk)], "confirm": "yes"},
    )
    refused(erase, 302, 403)
    sub.refresh_from_db()
    assert sub.redacted_at is None and sub.payload["name"]


def test_a_viewer_may_look_but_not_erase_nor_use_the_console(client, viewer, make_submission):
    sub = make_submission("lead")
    client.force_login(viewer)
    assert seen(client.get(reverse("admin:crm_bridge_submission_changelist"))).status_code == 200
    assert seen(client.get(reverse("admin:crm_bridge_submission_export", args=["csv"]))).status_code == 200
    refused(client.get(reverse("admin:crm_bridge_console")), 302, 403)
    erase = seen(
        client.post(
            reverse("admin:crm_bridge_submission_changelist"),
            {"action": "erase", "_selected_action": [str(sub.pk)], "confirm": "yes"},
        )
    )
    sub.refresh_from_db()
    assert sub.redacted_at is None and sub.payload["name"], erase.status_code
    TALLY.refused_as_expected += 1
