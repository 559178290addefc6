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
from crm_bridge.models import PrivacyAuditLog, Site, Submission

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
answer = lambda r: [r.status_code, r.content[:300].decode(errors="replace")]
get = lambda path, **kw: answer(c.get(path, secure=True, **kw))
post = lambda path, **kw: answer(c.post(path, secure=True, **kw))
out = {
    "sandbox_state": get("/_sandbox/state", data={"token": "sandbox-token"}),
    "sandbox_reset": post("/_sandbox/reset?token=sandbox-token"),
    "sandbox_faults": post("/_sandbox/faults?token=sandbox-token", data={"kind": "down"}),
    "sandbox_credentials": get("/_sandbox/credentials", HTTP_X_SANDBOX_TOKEN="sandbox-token"),
    "sandbox_crm": post("/WebApi/Handler/1.0/CRM/Customer/Get.ashx", data={"token": "sandbox-token", "id": "1"}),
    "robot_control": get("/_robots/_control/messages", data={"token": "sandbox-token"}),
    "robot_wecom": post("/_robots/wecom/send?key=sandbox-wecom-key", data={"msgtype": "text", "text": {"content": "x"}},
                        content_type="application/json"),
    "metrics": get("/crm/ops/metrics"),
    "metrics_wrong": get("/crm/ops/metrics", HTTP_AUTHORIZATION="Bearer sandbox-token"),
    "metrics_forged_ip": get("/crm/ops/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1", REMOTE_ADDR="203.0.113.5"),
    "metrics_right": get("/crm/ops/metrics", HTTP_AUTHORIZATION="Bearer metrics-PROD-token-5e6f"),
}
print("PROBE" + json.dumps(out))
"""


def probe(tmp_path, **extra_env: str) -> dict[str, tuple[int, str]]:
    """The status codes :data:`PROBE` gets from a production-like process (DEBUG off, real-looking CRM settings,
    CRM_SANDBOX_ENABLED at its default unless ``extra_env`` sets it)."""
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
        "CRM_BRIDGE_OPTIONS": json.dumps({"METRICS_TOKEN": "metrics-PROD-token-5e6f"}),
        **extra_env,
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=REPO, env=env,
                   check=True, capture_output=True, timeout=90)  # fmt: skip
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", PROBE],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("PROBE"))
    answers = {name: (status, body) for name, (status, body) in json.loads(line[len("PROBE") :]).items()}
    TALLY.requests += len(answers)
    TALLY.server_errors += sum(status >= 500 for status, _ in answers.values())
    assert all(status < 500 for status, _ in answers.values()), answers
    return answers


def assert_metrics_need_their_token(answers: dict[str, tuple[int, str]]) -> None:
    codes = {name: status for name, (status, _) in answers.items()}
    assert codes["metrics_right"] == 200  # the endpoint is there: the refusals below are about credentials
    for name in ("metrics", "metrics_wrong", "metrics_forged_ip"):
        assert codes[name] == 403, (name, codes)
    TALLY.refused_as_expected += 3


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sandbox_and_metrics_are_closed_in_a_production_like_config(tmp_path):
    answers = probe(tmp_path)
    sandbox = [name for name in answers if name.startswith(("sandbox", "robot"))]
    assert {name: answers[name][0] for name in sandbox} == dict.fromkeys(sandbox, 404)  # not mounted at all
    TALLY.refused_as_expected += len(sandbox)
    assert_metrics_need_their_token(answers)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_sandbox_opted_into_production_accepts_no_default_credentials(tmp_path):
    """CRM_SANDBOX_ENABLED=1 with DEBUG off: mounted, but the public test credentials open nothing."""
    answers = probe(tmp_path, CRM_SANDBOX_ENABLED="1")
    refused_token = {name: answers[name] for name in answers if name.startswith(("sandbox", "robot_control"))}
    assert {name: (status, json.loads(body)["error_code"]) for name, (status, body) in refused_token.items()} == (
        dict.fromkeys(refused_token, (401, 21301))
    )
    TALLY.refused_as_expected += len(refused_token)
    assert_metrics_need_their_token(answers)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_an_opted_in_sandboxs_robot_stand_ins_refuse_the_public_test_key(tmp_path):
    """Their keys are public test values: a production-like site that opts in to the sandbox has them off (404)
    unless it says CRM_SANDBOX_ROBOTS=1."""
    answers = probe(tmp_path, CRM_SANDBOX_ENABLED="1")
    status, body = answers["robot_wecom"]
    assert status == 404 and '"errcode": 0' not in body, (status, body)
    TALLY.refused_as_expected += 1


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


def test_a_viewer_may_not_run_any_changing_or_data_subject_action(client, viewer, make_submission, site):
    """View permission on submissions only: the JSON data-subject export, the row buttons, the console (GET and
    POST), a site's resume and page, and an alert's retry are all refused, and nothing changed."""
    from crm_bridge.alerts.models import Alert, AlertDestination

    sub = make_submission("lead", status="failed")
    dest = AlertDestination.objects.create(site=site, kind="email", recipients="a@example.com")
    alert = Alert.objects.create(destination=dest, kind="lead", title="t", text="x", status="failed", attempts=20)
    Site.objects.filter(pk=site.pk).update(paused_at=sub.created_at, paused_reason="auth failed (siteKey)")
    client.force_login(viewer)
    changelist = reverse("admin:crm_bridge_submission_changelist")
    dsr = seen(client.post(changelist, {"action": "export_json", "_selected_action": [str(sub.pk)]}))
    assert dsr.status_code in (200, 302) and dsr.get("Content-Type", "").startswith("text/html"), dsr.status_code
    assert "Content-Disposition" not in dsr  # the changelist again (which a viewer may see), not the JSON file
    TALLY.refused_as_expected += 1
    for button in ("retry", "cancel"):
        refused(client.post(reverse("admin:crm_bridge_submission_button", args=[sub.pk, button])), 403)
    console = reverse("admin:crm_bridge_console")
    refused(client.post(f"{console}?endpoint=Customer/NameIsRepeat", {"sName": "x", "id": "0"}), 302, 403)
    refused(client.post(reverse("admin:crm_bridge_site_resume", args=[site.pk])), 302, 403)
    refused(client.get(reverse("admin:crm_bridge_site_change", args=[site.pk])), 302, 403)
    alerts = reverse("admin:crm_bridge_alert_changelist")
    refused(client.post(alerts, {"action": "retry_failed", "_selected_action": [str(alert.pk)]}), 302, 403)
    sub.refresh_from_db()
    alert.refresh_from_db()
    assert (sub.status, sub.payload["name"], alert.status, alert.attempts) == (
        "failed",
        sub.payload["name"],
        "failed",
        20,
    )
    assert Site.objects.get(pk=site.pk).paused_at is not None
    assert not PrivacyAuditLog.objects.exists()  # no data-subject export was made
