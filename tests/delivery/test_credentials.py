"""A refused credential pauses only what it authenticates, and a probe resumes it once the CRM accepts it again:
the token → every lead; a siteKey → its site's messages and hits. Against the sandbox over real HTTP, on the clock
handed to ``deliver`` / ``probe_credentials`` (no sleeps)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from crm_bridge import delivery, testing
from crm_bridge.delivery import circuit, pauses
from crm_bridge.models import DeliveryAttempt, HitCounter, Submission

S = Submission.Status
pytestmark = pytest.mark.django_db(transaction=True)
INTERVAL = 300.0


@pytest.fixture
def crm(sandbox_crm, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "CREDENTIAL_PROBE_INTERVAL": INTERVAL}
    return sandbox_crm


def _probe(now):
    enqueued: list[str] = []
    counts = delivery.probe_credentials(enqueue=enqueued.append, now=now)
    return counts, sorted(enqueued)


def test_a_refused_token_holds_leads_only_and_a_probe_resumes_them(crm, site, make_submission, caplog):
    crm.set_credentials(tokens=[])
    first, second = make_submission("lead"), make_submission("lead")
    message = make_submission("message")
    t0 = timezone.now()
    assert delivery.deliver(first.pk, now=t0) == S.QUEUED
    state = circuit.get_circuit()
    assert state.token_paused_at == t0 and state.token_probe_at == t0 + timedelta(seconds=INTERVAL)
    # The CRM's own error is the reason (which credential: the field it is in); staff read it worded by describe().
    assert "error_code=21301" in state.token_paused_reason and testing.SANDBOX_TOKEN not in state.token_paused_reason
    with translation.override("en"):
        assert pauses.describe("token", state.token_paused_reason).startswith("The CRM refused our token: ")
    site.refresh_from_db()
    assert site.paused_at is None
    # The other lead is not even claimed; the message (siteKey) goes out.
    assert delivery.deliver(second.pk, now=t0) == "skipped"
    assert delivery.deliver(message.pk, now=t0) == S.DELIVERED
    assert [m["content"] for m in crm.messages()] == [message.payload["content"]]
    assert crm.calls("Customer/NameIsRepeat") == 1 and crm.calls("Customer/Save") == 0
    assert [r.levelname for r in caplog.records if "refused" in r.getMessage() and r.name == "crm_bridge.delivery"] == [
        "ERROR"
    ]

    # Not due yet: no probe. Due, token still refused: one read-only call, still paused, next probe later.
    assert _probe(t0 + timedelta(seconds=INTERVAL - 1)) == ({"probed": 0, "resumed": 0}, [])
    assert _probe(t0 + timedelta(seconds=INTERVAL)) == ({"probed": 1, "resumed": 0}, [])
    assert crm.calls("Customer/NameIsRepeat") == 2
    state = circuit.get_circuit()
    assert state.token_paused_at == t0 and state.token_probe_at == t0 + timedelta(seconds=2 * INTERVAL)

    # The token is fixed: the next probe resumes the leads by themselves, with their attempts unspent.
    crm.set_credentials(tokens=[testing.SANDBOX_TOKEN])
    t1 = t0 + timedelta(seconds=2 * INTERVAL)
    counts, enqueued = _probe(t1)
    assert (counts, enqueued) == ({"probed": 1, "resumed": 1}, sorted([str(first.pk), str(second.pk)]))
    assert circuit.get_circuit().token_paused_at is None
    assert Submission.objects.filter(kind="lead", attempts=0, status=S.QUEUED).count() == 2
    assert [delivery.deliver(pk, now=t1) for pk in enqueued] == [S.DELIVERED, S.DELIVERED]
    assert sorted(Submission.objects.filter(kind="lead").values_list("attempts", flat=True)) == [1, 1]
    assert crm.calls("Customer/Save") == 2
    assert crm.calls("Customer/NameIsRepeat") == 3 + 2  # 1 refused delivery, 2 probes, 2 deliveries
    probes = DeliveryAttempt.objects.filter(submission=None, endpoint="Customer/NameIsRepeat")
    assert list(probes.values_list("outcome", flat=True)) == ["auth", "ok"]


def test_a_refused_site_key_holds_its_messages_and_hits_not_its_leads(crm, site, make_submission):
    crm.set_credentials(site_keys=[])
    first, second = make_submission("message"), make_submission("message")
    lead = make_submission("lead")
    counter = HitCounter.objects.create(site=site, pkid=7, pending=4)
    t0 = timezone.now()
    assert delivery.deliver(first.pk, now=t0) == S.QUEUED
    site.refresh_from_db()
    assert site.paused_at == t0 and site.site_key_probe_at == t0 + timedelta(seconds=INTERVAL)
    assert "error_code=21302" in site.paused_reason and testing.SANDBOX_SITE_KEY not in site.paused_reason
    with translation.override("zh-hans"):
        assert pauses.describe("siteKey", site.paused_reason) == f"CRM 拒绝了我们的 siteKey：{site.paused_reason}"
    assert circuit.get_circuit().token_paused_at is None
    assert delivery.deliver(second.pk, now=t0) == "skipped"
    assert delivery.deliver(lead.pk, now=t0) == S.DELIVERED  # the token is fine
    assert delivery.flush_hits() == 0
    assert crm.calls("ECommerce/AddMessageBoard") == 1 and crm.calls("ECommerce/UpdateBaseInfoHit") == 0

    crm.set_credentials(site_keys=[testing.SANDBOX_SITE_KEY])
    counts, enqueued = _probe(t0 + timedelta(seconds=INTERVAL))
    assert (counts, enqueued) == ({"probed": 1, "resumed": 1}, sorted([str(first.pk), str(second.pk)]))
    # The probe added no view: UpdateBaseInfoHit with addHit=0 on a counter the site has.
    assert crm.calls("ECommerce/UpdateBaseInfoHit") == 1 and crm.hits(7) == 0
    site.refresh_from_db()
    assert (site.paused_at, site.paused_reason, site.site_key_probe_at) == (None, "", None)
    assert [delivery.deliver(pk, now=t0 + timedelta(seconds=INTERVAL)) for pk in enqueued] == [S.DELIVERED] * 2
    assert sorted(Submission.objects.filter(kind="message").values_list("attempts", flat=True)) == [1, 1]
    assert delivery.flush_hits() == 1
    counter.refresh_from_db()
    assert (counter.pending, counter.sent, crm.hits(7)) == (0, 4, 4)


def test_a_duplicate_leads_note_waits_for_a_paused_site_key(crm, site, make_submission):
    original = make_submission("lead")
    assert delivery.deliver(original.pk) == S.DELIVERED
    crm.set_credentials(site_keys=[])
    message = make_submission("message")
    t0 = timezone.now()
    assert delivery.deliver(message.pk, now=t0) == S.QUEUED  # the siteKey is now paused
    again = make_submission("lead", payload={"tel": original.payload["tel"], "name": "另一个人"})
    assert delivery.deliver(again.pk, now=t0) == S.QUEUED
    again.refresh_from_db()
    assert (again.attempts, again.next_attempt_at) == (0, t0 + timedelta(seconds=INTERVAL))
    assert crm.calls("ECommerce/AddMessageBoard") == 1  # only the refused message: no note was attempted
    crm.set_credentials(site_keys=[testing.SANDBOX_SITE_KEY])
    t1 = t0 + timedelta(seconds=INTERVAL)
    assert _probe(t1)[0] == {"probed": 1, "resumed": 1}
    assert delivery.deliver(again.pk, now=t1) == S.DUPLICATE
    assert [m["content"] for m in crm.messages()][-1].startswith("重复线索")


def test_staff_resume_lifts_both_pauses_at_once(crm, site, make_submission):
    crm.set_credentials(tokens=[], site_keys=[])
    lead, message = make_submission("lead"), make_submission("message")
    t0 = timezone.now()
    assert [delivery.deliver(lead.pk, now=t0), delivery.deliver(message.pk, now=t0)] == [S.QUEUED, S.QUEUED]
    site.refresh_from_db()
    assert [c for c, _since, _why in delivery.paused_credentials(site)] == ["siteKey", "token"]
    crm.set_credentials(tokens=[testing.SANDBOX_TOKEN], site_keys=[testing.SANDBOX_SITE_KEY])
    enqueued: list[str] = []
    assert delivery.resume_site(site, enqueue=enqueued.append) == 2
    assert sorted(enqueued) == sorted([str(lead.pk), str(message.pk)])
    site.refresh_from_db()
    assert delivery.paused_credentials(site) == []
    assert testing.deliver_due() == {"delivered": 2}
    assert sorted(Submission.objects.values_list("attempts", flat=True)) == [1, 1]


def test_no_probe_while_the_circuit_is_open(crm, site, make_submission, settings):
    settings.CRM_BRIDGE = {**settings.CRM_BRIDGE, "CIRCUIT_FAIL_MAX": 1}
    crm.set_credentials(tokens=[])
    lead = make_submission("lead")
    t0 = timezone.now()
    delivery.deliver(lead.pk, now=t0)
    circuit.record_failure("down", t0)
    calls = crm.calls()
    assert _probe(t0 + timedelta(seconds=INTERVAL)) == ({"probed": 0, "resumed": 0}, [])
    assert crm.calls() == calls
