"""Chaos scenario ``token_revoked``: the CRM stops accepting our token in the middle of a run (the sandbox's
credentials are rotated), then the operator sets the new one (``CRM_BRIDGE_TOKEN``, the workers restarted with
it) and deliveries resume by themselves at the next credential probe (docs/delivery.md, "Refused credentials").

What it checks, counted in the sandbox's own tables and the robot stand-in's: leads wait without spending an
attempt while messages (siteKey) keep going; staff see the pause and the CRM's reason on the dashboard and on
the site's page; the operational alarm reaches the alert destination exactly once; after the new token every
lead is created once and every message is on the board once.

Runs on the embedded default and on PostgreSQL + Redis: ``python -m pytest tests/chaos/test_token_revoked.py``.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm_bridge import testing
from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.models import Circuit, DeliveryAttempt, Submission
from crm_bridge.sandbox import control as sandbox_crm
from crm_bridge.sandbox import robots
from tests.delivery.conftest import wait_for
from tests.delivery.processes import FAST

from .conftest import report
from .kit import Ledger, celery_stack, explained, tally
from .stack import Intake

S = Submission.Status
pytestmark = [pytest.mark.chaos, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

#: One probe every 2 s (300 s in production), alert sweeps every second.
OPTIONS = {**FAST, "CREDENTIAL_PROBE_INTERVAL": 2.0, "ALERTS": {"SWEEP_INTERVAL": 1.0, "MAX_RETRY_DELAY": 1.0}}
ROUNDS = 8  # submissions of each kind before the revocation, and as many after


def _paused_leads() -> dict[str, int]:
    return dict(Submission.objects.filter(kind=Submission.Kind.LEAD, status=S.QUEUED).values_list("pk", "attempts"))  # type: ignore[arg-type]


def _refused_probes() -> int:
    # A probe is recorded as an attempt of no submission (crm_bridge/delivery/pauses.py, _probe).
    return DeliveryAttempt.objects.filter(
        submission__isnull=True, endpoint="Customer/NameIsRepeat", error_code=21301
    ).count()


def test_token_revoked_mid_run_pauses_leads_alarms_once_and_resumes_with_the_new_token(
    live_server,
    site,
    chaos_sandbox,
    settings,
):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, **OPTIONS}
    crm_url = chaos_sandbox
    new_token = f"rotated-{uuid.uuid4().hex}"  # a secret like any token: it must show nowhere
    AlertDestination.objects.create(
        site=site, kind="wecom", name="ops", webhook_url=f"{live_server.url}/_robots/wecom/send?key={robots.WECOM_KEY}",
        on_leads=False, on_messages=False, on_alarms=True,
    )  # fmt: skip
    ledger = Ledger()
    intake = Intake(live_server.url, site, timeout=15)

    def submit(batch: str) -> None:
        for i in range(ROUNDS):
            content = f"token chaos {batch}{i} {uuid.uuid4().hex[:6]}"
            ledger.accept(intake.send("messages", {"content": content}), "messages", content)
            name = f"令牌{batch}{i:02d}{uuid.uuid4().hex[:4]}"
            fields = {"name": name, "tel": f"137{uuid.uuid4().int % 10**8:08d}", "company": ""}
            ledger.accept(intake.send("leads", fields), "leads", name)

    with celery_stack(crm_base_url=crm_url, options=OPTIONS) as first:
        submit("a")
        # Mid-run, with deliveries under way (some leads already created): the CRM's admin rotates the token.
        # Ours is refused from the next lead call on.
        wait_for(lambda: Submission.objects.filter(kind="lead", status=S.DELIVERED).count() >= 2, timeout=60)
        sandbox_crm.set_credentials(tokens=[new_token])
        submit("b")
        wait_for(lambda: Circuit.objects.filter(token_paused_at__isnull=False).exists(), timeout=60)
        # Messages authenticate with the siteKey: every one is delivered while the leads wait.
        wait_for(
            lambda: Submission.objects.filter(kind="message", status=S.DELIVERED).count() == 2 * ROUNDS,
            timeout=60,
            interval=0.2,
        )
        waiting = _paused_leads()
        assert waiting, "every lead went through before the token was refused: nothing was paused"
        assert set(waiting.values()) == {0}  # the refused call's attempt was given back
        # The probes keep asking with the old token and keep being refused; the alarm goes out meanwhile.
        probes_before = _refused_probes()
        with explained(first, alerts=lambda: list(Alert.objects.values("status", "attempts", "last_error"))):
            wait_for(lambda: _refused_probes() >= probes_before + 2, timeout=60, interval=0.2)
            wait_for(lambda: len(robots.received("wecom")) >= 1, timeout=60, interval=0.2)
        assert _paused_leads() == waiting  # not claimed, not spent: the same rows, the same attempts

        # Staff see why, on the dashboard (admin index) and on the site's page.
        staff = get_user_model().objects.create_superuser("ops", "ops@acme.example", "pw")
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(staff)
        site_page = reverse("admin:crm_bridge_site_change", args=[site.pk])
        pages = [client.get(reverse("admin:index")), client.get(site_page)]
        for page in pages:
            assert page.status_code == 200
            text = page.content.decode()
            assert "CRM token refused: the leads of every site wait." in text
            assert "error_code=21301" in text  # the CRM's own reason
            assert new_token not in text and testing.SANDBOX_TOKEN not in text
        assert 'id="crm-token-paused"' in pages[0].content.decode()
        first_lines = [line for p in first.values() for line in p.lines]

    # The operator sets the new token and restarts the workers with it; the next probe resumes the leads.
    connection.close()  # this thread's connection saw the admin pages; the next query opens a fresh one
    fixed_at = timezone.now()
    started = time.monotonic()
    with celery_stack(crm_base_url=crm_url, options=OPTIONS, token=new_token) as second:
        wait_for(lambda: Submission.objects.filter(status=S.DELIVERED).count() == ledger.submitted, timeout=90,
                 interval=0.3)  # fmt: skip
        resumed_s = time.monotonic() - started
        assert Circuit.objects.get().token_paused_at is None
        assert second["worker"].proc.poll() is None
        second_lines = [line for p in second.values() for line in p.lines]

    alarms = robots.received("wecom")
    summary, board, customers = tally(
        "token_revoked", ledger, sandbox_crm, fault_ended=fixed_at,
        extras=(("paused_leads", len(waiting)), ("alarms", len(alarms)), ("resume_s", round(resumed_s, 1))),
    )  # fmt: skip
    report(summary)

    assert board == Counter(ledger.messages)  # each message on the board once
    assert customers == Counter(ledger.leads)  # each lead created once
    saves = [r for r in sandbox_crm.request_log("Customer/Save") if r.http_status == 200]
    assert len(saves) == len(ledger.leads)
    assert (summary.lost, summary.extra, summary.duplicates, summary.ambiguous_reported) == (0, 0, 0, 0)
    # One attempt each: the paused leads' waiting cost nothing.
    assert Counter(Submission.objects.values_list("attempts", flat=True)) == {1: ledger.submitted}
    assert {str(pk) for pk in Submission.objects.values_list("pk", flat=True)} == set(ledger.ids)
    # The alarm, exactly once: one alert row, sent, and one message at the robot, naming the refused token.
    (alarm,) = Alert.objects.filter(kind=Alert.Kind.ALARM)
    assert alarm.status == "sent" and alarm.alarm_key.startswith("token_paused:")
    assert len(alarms) == 1 and "21301" in alarms[0]["text"] and "token" in alarms[0]["text"]
    assert new_token not in alarms[0]["text"]
    assert not [line for line in first_lines + second_lines if new_token in line or testing.SANDBOX_TOKEN in line]
