"""Site admin: list, edit with a write-only siteKey, origin and lead-mapping validation, resuming a paused site."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crm_bridge.admin.forms import LEAD_VARIABLES, OriginsField, SiteAdminForm, validate_lead_mapping
from crm_bridge.delivery.flows import build_customer
from crm_bridge.models import Circuit, Site, Submission

from .conftest import OTHER_KEY, SITE_KEY, assert_no_secret

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:crm_bridge_site_changelist")


def change_url(site: Site) -> str:
    return reverse("admin:crm_bridge_site_change", args=[site.pk])


def form_data(site: Site, **overrides) -> dict:
    """The POST a person makes saving the change form without touching anything."""
    data = {
        "name": site.name,
        "is_active": "on" if site.is_active else "",
        "new_site_key": "",
        "allowed_origins": "\n".join(site.allowed_origins),
        "features": [k for k, v in site.features.items() if v],
        "texts": json.dumps(site.texts),
        "initial-texts": json.dumps(site.texts),  # the hidden initial Django renders for a callable default
        "default_cust_id": str(site.default_cust_id),
        "lead_mapping": json.dumps(site.lead_mapping),
        "post_duplicates_to_board": "on" if site.post_duplicates_to_board else "",
        "privacy_notice_zh": site.privacy_notice_zh,
        "privacy_notice_en": site.privacy_notice_en,
        "privacy_contact": site.privacy_contact,
        "retention_days": str(site.retention_days),
        "consent_required_leads": "on" if site.consent_required_leads else "",
        "consent_required_messages": "on" if site.consent_required_messages else "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""} | {"new_site_key": data["new_site_key"]}


# --- list ---------------------------------------------------------------------------------------------


def test_changelist_shows_sites_and_which_are_paused(admin_client, site):
    paused = Site.objects.create(
        name="Beta", site_key=OTHER_KEY, paused_at=timezone.now(), paused_reason="The CRM refused our credentials",
        features={"messages": True, "leads": False, "hits": False},
    )  # fmt: skip
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert response.context["cl"].result_count == 2
    assert site.public_key in body and paused.public_key in body
    assert '<td class="field-origins">https://acme.example</td>' in body
    assert '<td class="field-enabled_features">messages, leads, hits</td>' in body
    assert '<td class="field-enabled_features">messages</td>' in body
    assert body.count("⚠ paused</strong>") == 1
    assert body.count('<span style="color:#1a7f37">running</span>') == 1
    assert_no_secret(body, SITE_KEY, OTHER_KEY)


def test_paused_filter(admin_client, site):
    Site.objects.create(name="Beta", site_key=OTHER_KEY, paused_at=timezone.now())
    assert admin_client.get(CHANGELIST, {"paused": "yes"}).context["cl"].result_count == 1
    assert admin_client.get(CHANGELIST, {"paused": "no"}).context["cl"].result_count == 1


def test_search_by_site_key_finds_nothing(admin_client, site):
    """The secret is not searchable: a search would tell a staff member whether a guess is some site's key."""
    assert admin_client.get(CHANGELIST, {"q": SITE_KEY}).context["cl"].result_count == 0
    assert admin_client.get(CHANGELIST, {"q": "Acme"}).context["cl"].result_count == 1


# --- change page --------------------------------------------------------------------------------------


def test_change_page_masks_the_key_and_shows_the_embed_snippet(admin_client, site):
    response = admin_client.get(change_url(site))
    assert response.status_code == 200
    body = response.content.decode()
    assert_no_secret(body, SITE_KEY)
    assert (
        '<span class="crm-secret-state crm-secret-set" style="margin-right:10px;font-weight:600">•••• set</span>'
        in body
    )
    assert (
        '<input type="password" name="new_site_key" autocomplete="new-password" size="40" maxlength="200" '
        'aria-describedby="id_new_site_key_helptext" id="id_new_site_key">'
    ) in body
    snippet = (
        f'<link rel="preload" href="http://testserver/crm/widget/v1/config?key={site.public_key}" as="fetch" '
        "crossorigin>\n"
        f'<script src="http://testserver/static/crm_bridge/widget.js" data-crm-key="{site.public_key}" '
        'data-crm-api="http://testserver/crm/" async></script>'
    )
    assert response.context["embed_snippet"] == snippet
    assert body.count('<pre id="crm-embed-snippet"') == 1
    assert snippet.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") in body
    assert "Deliveries of this site to the CRM are paused." not in body
    # Origins are edited one per line; the lead mapping as indented JSON.
    assert ">\nhttps://acme.example</textarea>" in body
    assert "&quot;sName&quot;: &quot;{company_or_name}&quot;" in body


def test_add_page_requires_a_key(admin_client, db):
    url = reverse("admin:crm_bridge_site_add")
    body = admin_client.get(url).content.decode()
    assert (
        '<span class="crm-secret-state crm-secret-unset" style="margin-right:10px;font-weight:600">not set</span>'
        in body
    )
    data = {"name": "New", "is_active": "on", "features": ["messages"], "texts": "{}", "default_cust_id": "0",
            "lead_mapping": "{}", "new_site_key": "", "retention_days": "180"}  # fmt: skip
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["new_site_key"]
    assert Site.objects.count() == 0

    response = admin_client.post(url, {**data, "new_site_key": "  sk-new-1  "})
    assert response.status_code == 302
    created = Site.objects.get()
    assert created.site_key == "sk-new-1"  # surrounding spaces are a paste slip, not part of a key
    assert created.features == {"messages": True, "leads": False, "hits": False}
    assert created.lead_mapping == {}


def test_replacing_the_key_through_the_form(admin_client, site):
    response = admin_client.post(change_url(site), form_data(site, new_site_key="sk-rotated-2"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    site.refresh_from_db()
    assert site.site_key == "sk-rotated-2"
    # The history names the field, never a value.
    entry = LogEntry.objects.get(object_id=str(site.pk))
    assert entry.get_change_message() == "Changed CRM siteKey."
    history = admin_client.get(reverse("admin:crm_bridge_site_history", args=[site.pk]))
    assert history.status_code == 200
    assert "CRM siteKey" in history.content.decode()
    assert_no_secret(history.content, SITE_KEY, "sk-rotated-2")
    assert "sk-rotated-2" not in entry.change_message and SITE_KEY not in entry.change_message


def test_leaving_the_key_blank_keeps_it(admin_client, site):
    response = admin_client.post(change_url(site), form_data(site, name="Acme renamed"))
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.name, site.site_key) == ("Acme renamed", SITE_KEY)
    assert LogEntry.objects.get(object_id=str(site.pk)).get_change_message() == "Changed Name."


def test_a_rejected_form_does_not_echo_a_typed_key(admin_client, site):
    response = admin_client.post(
        change_url(site), form_data(site, new_site_key="sk-typed-3", allowed_origins="https://x.example/path")
    )
    assert response.status_code == 200
    assert_no_secret(response.content, SITE_KEY, "sk-typed-3")
    site.refresh_from_db()
    assert site.site_key == SITE_KEY


def test_features_are_checkboxes(admin_client, site):
    response = admin_client.post(change_url(site), form_data(site, features=["messages", "leads"]))
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.features == {"messages": True, "leads": True, "hits": False}


def test_bad_origin_is_refused_with_its_reason(admin_client, site):
    response = admin_client.post(change_url(site), form_data(site, allowed_origins="https://*.example.com"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["allowed_origins"]
    assert errors == ["https://*.example.com: wildcards are not allowed; list each origin."]
    site.refresh_from_db()
    assert site.allowed_origins == ["https://acme.example"]


def test_bad_lead_mapping_is_refused(admin_client, site):
    mapping = json.dumps({"sName": "{name.__class__}"})
    response = admin_client.post(change_url(site), form_data(site, lead_mapping=mapping))
    assert response.status_code == 200
    (error,) = response.context["adminform"].form.errors["lead_mapping"]
    assert error.startswith("sName: unknown placeholder {name.__class__}; use only {variable}")


# --- validation units ---------------------------------------------------------------------------------


# Origins: the rule itself, and each writer and reader of it, are tested in tests/test_origins.py.


def test_origins_field_reads_lines_commas_and_json_and_dedupes():
    field = OriginsField(required=False)
    assert field.clean("https://a.example\nhttps://b.example, https://A.example") == [
        "https://a.example",
        "https://b.example",
    ]
    assert field.clean('["https://c.example"]') == ["https://c.example"]
    assert field.clean("") == []
    with pytest.raises(ValidationError) as caught:
        field.clean("https://ok.example\nhttps://bad.example/x\n*.example")
    assert len(caught.value.messages) == 2


@pytest.mark.parametrize(
    "mapping",
    [
        {"sName": "{name.__class__}"},
        {"sName": "{name[0]}"},
        {"sName": "{unknown}"},
        {"sName": "{name!r}"},
        {"sName": "{name:>10}"},
        {"sName": "{}"},
        {"sName": "{"},
        {"bad key": "{name}"},
        {"sName": 5},
        ["{name}"],
    ],
)
def test_lead_mapping_refuses(mapping):
    with pytest.raises(ValidationError):
        validate_lead_mapping(mapping)


def test_lead_mapping_accepts_known_variables_and_literal_braces():
    validate_lead_mapping({"sName": "{company_or_name}", "remark": "{{web}} {summary}", "memo": "plain"})
    validate_lead_mapping({})


def test_every_lead_variable_renders_through_delivery(site):
    """The admin's list of variables and delivery's ``lead_variables`` must not drift apart."""
    payload = {
        "name": "王五", "tel": "139 0000 0001", "tel_e164": "+8613900000001", "company": "某公司",
        "email": "w@example.cn", "message": "你好", "page_url": "https://acme.example/p",
    }  # fmt: skip
    source = {"utm_source": "baidu", "bd_vid": "v1"}
    for variable in LEAD_VARIABLES:
        site.lead_mapping = {"remark": "{" + variable + "}"}
        assert build_customer(site, payload, source).get("remark"), variable


def test_form_never_binds_the_stored_key(site):
    form = SiteAdminForm(instance=site)
    assert "site_key" not in form.fields
    assert SITE_KEY not in str(form)
    assert SITE_KEY not in repr(site)


# --- paused sites -------------------------------------------------------------------------------------


@pytest.fixture
def paused_site(site, make_submission):
    Site.objects.filter(pk=site.pk).update(paused_at=timezone.now(), paused_reason="The CRM refused: error_code=10003")
    site.refresh_from_db()
    for _ in range(2):
        make_submission(site=site)
    make_submission(site=site, status="delivered")
    return site


def test_paused_site_page_warns_and_offers_resume(admin_client, paused_site):
    body = admin_client.get(change_url(paused_site)).content.decode()
    assert body.count("Deliveries of this site to the CRM are paused.") == 1
    assert "The CRM refused: error_code=10003" in body
    resume = reverse("admin:crm_bridge_site_resume", args=[paused_site.pk])
    assert f'<form method="post" action="{resume}"' in body


def test_resume_button(admin_client, paused_site, enqueued, django_capture_on_commit_callbacks):
    resume = reverse("admin:crm_bridge_site_resume", args=[paused_site.pk])
    assert admin_client.get(resume).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(resume, follow=True)
    assert response.redirect_chain == [(change_url(paused_site), 302)]
    paused_site.refresh_from_db()
    assert (paused_site.paused_at, paused_site.paused_reason) == (None, "")
    assert len(enqueued) == 2
    assert sorted(enqueued) == sorted(
        str(pk) for pk in Submission.objects.filter(status="queued").values_list("pk", flat=True)
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["Deliveries resumed; 2 waiting submissions queued for delivery now."]
    assert "Deliveries of this site to the CRM are paused." not in response.content.decode()


def test_resume_action_only_touches_paused_sites(
    admin_client, paused_site, enqueued, django_capture_on_commit_callbacks
):
    running = Site.objects.create(name="Running", site_key=OTHER_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "resume_deliveries", "_selected_action": [paused_site.pk, running.pk]},
            follow=True,
        )
    assert Site.objects.filter(paused_at__isnull=False).count() == 0
    assert len(enqueued) == 2
    assert [str(m) for m in response.context["messages"]] == [
        "Resumed deliveries of 1 site; 2 waiting submission(s) queued for delivery now."
    ]


def _pause_token(reason="The CRM refused our token: error_code=21301"):
    from crm_bridge.delivery import circuit

    circuit.get_circuit()
    Circuit.objects.update(token_paused_at=timezone.now(), token_paused_reason=reason)


def test_site_page_says_which_credential_is_paused(admin_client, paused_site):
    body = admin_client.get(change_url(paused_site)).content.decode()
    assert body.count('class="crm-paused-siteKey"') == 1 and 'class="crm-paused-token"' not in body
    _pause_token()
    body = admin_client.get(change_url(paused_site)).content.decode()
    assert body.count('class="crm-paused-siteKey"') == 1 and body.count('class="crm-paused-token"') == 1
    assert "The CRM refused our token: error_code=21301" in body


def test_resume_button_lifts_the_token_pause_too(
    admin_client, site, make_submission, enqueued, django_capture_on_commit_callbacks
):
    _pause_token()
    leads = [make_submission("lead", site=site) for _ in range(2)]
    body = admin_client.get(change_url(site)).content.decode()
    assert body.count("Deliveries of this site to the CRM are paused.") == 1  # held by the token alone
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:crm_bridge_site_resume", args=[site.pk]), follow=True)
    assert Circuit.objects.get().token_paused_at is None
    assert sorted(enqueued) == sorted(str(s.pk) for s in leads)
    assert [str(m) for m in response.context["messages"]] == [
        "Deliveries resumed; 2 waiting submissions queued for delivery now."
    ]
