"""Every admin form of the app survives emptied boxes: each field of the Site form, cleared in the real change
(and add) page and submitted as a browser would, either saves a storable empty value or is refused with a form
error, never a 500 (issue 7: clearing "widget texts" raised ``IntegrityError: NOT NULL constraint failed:
crm_bridge_site.texts``). Every other admin of ``crm_bridge`` and its sandbox is read-only, which is pinned too.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse

from crm_bridge.intake.serializers import DEFAULT_TEXTS
from crm_bridge.models import Site, Submission, default_lead_mapping

from .conftest import SITE_KEY

pytestmark = pytest.mark.django_db

ALL_OFF = {"messages": False, "leads": False, "hits": False}

#: Site form field → (attribute, value stored) when the box is emptied (boxes: unticked) and the form saved.
SAVES: dict[str, tuple[str, Any]] = {
    "is_active": ("is_active", False),
    "new_site_key": ("site_key", SITE_KEY),  # an empty box keeps the stored key
    "allowed_origins": ("allowed_origins", []),
    "features": ("features", ALL_OFF),
    "texts": ("texts", {}),
    "lead_mapping": ("lead_mapping", {}),
    "post_duplicates_to_board": ("post_duplicates_to_board", False),
    # An empty notice means the default notice (naming the site); unticked consent boxes mean "not required".
    "privacy_notice_zh": ("privacy_notice_zh", ""),
    "privacy_notice_en": ("privacy_notice_en", ""),
    "privacy_contact": ("privacy_contact", ""),
    "consent_required_leads": ("consent_required_leads", False),
    "consent_required_messages": ("consent_required_messages", False),
}
#: Site form field → the form error an emptied box gets instead (and nothing is saved).
REFUSES = {
    "name": "This field is required.",
    "default_cust_id": "This field is required.",
    "retention_days": "This field is required.",
}
#: Fields whose widget is a checkbox: "emptying" one is unticking it, so the browser sends nothing.
BOXES = {"is_active", "features", "post_duplicates_to_board", "consent_required_leads", "consent_required_messages"}
TEXTS = {"en": {"button": "Talk to us"}, "zh-CN": {"button": "联系"}}
TEXTS_EXAMPLE = '{"en": {"button": "Talk to us"}}'
EN_TEXTS = ", ".join(DEFAULT_TEXTS["en"])
NOT_AN_ORIGIN = "an origin looks like https://www.example.com (http or https, then the host)."


class _FormReader(HTMLParser):
    """What a browser submits from one ``<form>``: text inputs and hidden ones, ticked boxes, textareas, chosen
    options; nothing disabled, no buttons or files."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.found = False
        self.inside = False
        self.pairs: list[tuple[str, str]] = []
        self._textarea: list[str] | None = None
        self._select: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            self.found = self.found or self.inside
            return
        name = a.get("name")
        if not self.inside or "disabled" in a:
            return
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((name, a.get("value") or "on"))
            elif kind not in ("submit", "button", "image", "reset", "file"):
                self.pairs.append((name, a.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]
        elif tag == "select" and name:
            self._select = {"name": name, "multiple": "multiple" in a, "options": [], "chosen": []}
        elif tag == "option" and self._select is not None:
            self._select["options"].append(a.get("value", ""))
            if "selected" in a:
                self._select["chosen"].append(a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            # HTML drops one newline right after <textarea>, and Django renders one there.
            self.pairs.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["chosen"] or ([] if self._select["multiple"] else self._select["options"][:1])
            self.pairs.extend((self._select["name"], value) for value in chosen)
            self._select = None


def form_post_data(page: bytes | str, form_id: str) -> dict[str, list[str]]:
    """The POST a browser makes submitting ``<form id=form_id>`` of ``page`` untouched (name → values)."""
    reader = _FormReader(form_id)
    reader.feed(page.decode() if isinstance(page, bytes) else page)
    assert reader.found, f"no <form id={form_id!r}> in the page"
    data: dict[str, list[str]] = {}
    for name, value in reader.pairs:
        data.setdefault(name, []).append(value)
    return data


# --- the Site form ---------------------------------------------------------------------------------------


@pytest.fixture
def full_site(site: Site) -> Site:
    """The admin fixture's site with every optional field holding something, so that clearing it shows."""
    site.texts = TEXTS
    site.post_duplicates_to_board = True
    site.privacy_notice_zh, site.privacy_notice_en = (
        "我们收集您的姓名和电话，仅用于回电。",
        "We collect your name and phone to call back.",
    )
    site.privacy_contact = "privacy@acme.example"
    site.save()
    assert site.features == {"messages": True, "leads": True, "hits": True}
    assert site.lead_mapping == default_lead_mapping()
    return site


def change_url(site: Site) -> str:
    return reverse("admin:crm_bridge_site_change", args=[site.pk])


def change_page_data(client, site: Site) -> dict[str, list[str]]:
    page = client.get(change_url(site))
    assert page.status_code == 200
    return form_post_data(page.content, "site_form")


def stored(site: Site) -> dict[str, Any]:
    return {attr: getattr(Site.objects.get(pk=site.pk), attr) for attr, _value in SAVES.values()} | {
        "name": site.name,
        "default_cust_id": site.default_cust_id,
        "retention_days": site.retention_days,
    }


def test_the_tables_cover_every_field_of_the_site_form(admin_client, full_site):
    form = admin_client.get(change_url(full_site)).context["adminform"].form
    assert set(form.fields) == set(SAVES) | set(REFUSES)
    add_form = admin_client.get(reverse("admin:crm_bridge_site_add")).context["adminform"].form
    assert set(add_form.fields) == set(form.fields)


def test_the_untouched_change_form_saves_what_it_showed(admin_client, full_site):
    # The control for the tests below: the page reader submits what a browser would.
    before = stored(full_site)
    response = admin_client.post(change_url(full_site), change_page_data(admin_client, full_site))
    assert response.status_code == 302
    assert stored(full_site) == before
    assert Site.objects.get(pk=full_site.pk).texts == TEXTS


@pytest.mark.parametrize("name", sorted(SAVES))
def test_an_emptied_field_saves_an_empty_value(admin_client, full_site, name):
    data = change_page_data(admin_client, full_site)
    if name in BOXES:
        assert data.pop(name)
    else:
        data[name] = [""]
    expected = stored(full_site) | {SAVES[name][0]: SAVES[name][1]}
    response = admin_client.post(change_url(full_site), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert stored(full_site) == expected


@pytest.mark.parametrize("name", sorted(REFUSES))
def test_an_emptied_required_field_is_a_form_error(admin_client, full_site, name):
    data = change_page_data(admin_client, full_site)
    data[name] = [""]
    before = stored(full_site)
    response = admin_client.post(change_url(full_site), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {name: [REFUSES[name]]}
    assert stored(full_site) == before


@pytest.mark.parametrize(
    ("name", "typed", "value"),
    [
        ("texts", "null", {}),
        ("texts", "  \n ", {}),
        ("texts", "{}", {}),
        ("lead_mapping", "null", {}),
        ("lead_mapping", " \n", {}),
        ("allowed_origins", " \n ", []),
    ],
)
def test_blank_or_null_json_saves_the_empty_value(admin_client, full_site, name, typed, value):
    data = change_page_data(admin_client, full_site) | {name: [typed]}
    response = admin_client.post(change_url(full_site), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert getattr(Site.objects.get(pk=full_site.pk), name) == value


@pytest.mark.parametrize(
    ("name", "typed", "error"),
    [
        ("texts", "[]", f"Must be a JSON object, e.g. {TEXTS_EXAMPLE}."),
        ("texts", '"Talk to us"', f"Must be a JSON object, e.g. {TEXTS_EXAMPLE}."),
        ("texts", '{"fr": {"button": "Parlons"}}', "fr: unknown language; use one of: zh-CN, en."),
        ("texts", '{"en": "Talk to us"}', f"en: must be an object of text name → text, e.g. {TEXTS_EXAMPLE}."),
        ("texts", '{"en": {"button": 7}}', "en.button: the text must be a string."),
        ("texts", '{"en": {"buton": "Hi"}}', f"en.buton: unknown text; use one of: {EN_TEXTS}."),
        ("texts", "{", "Enter a valid JSON."),
        ("lead_mapping", "[]", 'Must be a JSON object, e.g. {"sName": "{company_or_name}"}.'),
        ("allowed_origins", "null", f"null: {NOT_AN_ORIGIN}"),
    ],
)  # fmt: skip
def test_json_that_is_no_object_is_a_form_error(admin_client, full_site, name, typed, error):
    data = change_page_data(admin_client, full_site) | {name: [typed]}
    before = stored(full_site)
    response = admin_client.post(change_url(full_site), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {name: [error]}
    assert stored(full_site) == before
    assert Site.objects.get(pk=full_site.pk).texts == TEXTS


def test_the_untouched_add_form_saves_the_models_defaults(admin_client, db):
    # The add page showed "null" for the lead mapping: a 500 when saved, then a site without the default mapping.
    page = admin_client.get(reverse("admin:crm_bridge_site_add"))
    data = form_post_data(page.content, "site_form") | {"name": ["Plain"], "new_site_key": ["sk-plain"]}
    response = admin_client.post(reverse("admin:crm_bridge_site_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    site = Site.objects.get()
    expected = Site()
    for name in ("allowed_origins", "features", "texts", "lead_mapping", "default_cust_id", "is_active"):
        assert getattr(site, name) == getattr(expected, name), name
    assert site.post_duplicates_to_board is expected.post_duplicates_to_board is True


def test_the_add_form_with_every_optional_box_emptied(admin_client, db):
    page = admin_client.get(reverse("admin:crm_bridge_site_add"))
    data = form_post_data(page.content, "site_form")
    for name in BOXES:
        data.pop(name, None)
    data |= {"name": ["Bare"], "new_site_key": ["sk-bare"], "allowed_origins": [""], "texts": [""]}
    data |= {"lead_mapping": [""]}
    response = admin_client.post(reverse("admin:crm_bridge_site_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    site = Site.objects.get()
    assert (site.name, site.site_key, site.allowed_origins, site.features) == ("Bare", "sk-bare", [], ALL_OFF)
    assert (site.texts, site.lead_mapping, site.default_cust_id) == ({}, {}, 0)
    assert (site.is_active, site.post_duplicates_to_board) == (False, False)


# --- every other admin is read-only ----------------------------------------------------------------------


def test_site_is_the_only_admin_of_the_app_with_an_editable_form(rf, admin_user):
    # So the Site form is the only one whose blank input needs a rule; a new editable admin fails here first.
    request = rf.get("/admin/")
    request.user = admin_user
    editable, seen = set(), set()
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("crm_bridge", "crm_sandbox"):
            continue
        seen.add(model._meta.label)
        if model_admin.has_add_permission(request) or model_admin.has_change_permission(request, model()):
            editable.add(model._meta.label)
    assert editable == {"crm_bridge.Site"}
    assert {"crm_bridge.Submission", "crm_bridge.HitCounter", "crm_bridge.Circuit", "crm_sandbox.Fault"} <= seen


def test_posting_an_emptied_form_to_a_read_only_page_changes_nothing(admin_client, make_submission):
    sub = make_submission("message")
    url = reverse("admin:crm_bridge_submission_change", args=[sub.pk])
    response = admin_client.post(url, {"payload": "", "crm_reply": "", "last_error": "", "origin": ""})
    assert response.status_code == 403
    assert Submission.objects.get(pk=sub.pk).payload == sub.payload
