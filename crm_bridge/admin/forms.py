"""Admin forms: the Site form (write-only siteKey, origin, lead-mapping and widget-text validation) and the API
console's per-endpoint forms, generated from :mod:`crm_bridge.crm.spec`.

Contract for blank input: every field of the Site form either cleans an emptied box to a storable value (``[]``
origins, ``{}`` texts or mapping, unticked boxes) or refuses it with a form error; none cleans to ``None`` for a
column that cannot hold NULL (Django's model validation skips blank fields, so the database would refuse it
with an ``IntegrityError``, a 500).

Contract for secrets: the CRM ``siteKey`` is never a bound value of any form here. The Site form carries a
separate, empty password input that replaces the key only when filled; the console picks a :class:`Site` and the
view reads its key server-side.
"""

from __future__ import annotations

import json
import re
import string
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..crm.spec import INT32_MAX, INT32_MIN, Endpoint, Param
from ..intake.serializers import DEFAULT_TEXTS, LANGUAGES
from ..models import Site, default_features
from ..origins import normalise_origin
from ..privacy.notice import default_notice

__all__ = [
    "FEATURE_CHOICES",
    "LEAD_VARIABLES",
    "ConsoleForm",
    "LeadMappingField",
    "OriginsField",
    "SiteAdminForm",
    "WidgetTextsField",
    "validate_lead_mapping",
    "validate_widget_texts",
]

if TYPE_CHECKING:  # generic only in django-stubs; Django's own classes take no type parameters at run time
    _SiteModelForm = forms.ModelForm[Site]
    _SiteChoiceField = forms.ModelChoiceField[Site]
else:
    _SiteModelForm = forms.ModelForm
    _SiteChoiceField = forms.ModelChoiceField

#: The variables a lead-mapping template may use: the lead's stored fields plus the three that
#: ``delivery.flows.lead_variables`` derives (``source``: where the visit came from, as text).
#: ``tests/admin`` checks each one renders through ``build_customer``.
LEAD_VARIABLES = (
    "name",
    "tel",
    "tel_e164",
    "company",
    "email",
    "message",
    "page_url",
    "company_or_name",
    "source",
    "summary",
)

FEATURE_CHOICES = (
    ("messages", _("Message board (feedback button)")),
    ("leads", _("Lead form (ask to be contacted)")),
    ("hits", _("Page-view counting")),
)

_CRM_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# --- Site ------------------------------------------------------------------------------------------------


class OriginsField(forms.Field):
    """A list of origins edited as text, one per line (commas and spaces also separate; a pasted JSON list
    is accepted too). Cleans to a de-duplicated list of :func:`normalise_origin` strings."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "placeholder": "https://www.example.com"})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if value in self.empty_values:
            return []
        items: list[str] | None
        if isinstance(value, list | tuple):
            items = [str(v) for v in value]
        else:
            text = str(value).strip()
            items = None
            if text.startswith("["):
                try:
                    loaded = json.loads(text)
                except ValueError:
                    loaded = None
                if isinstance(loaded, list):
                    items = [str(v) for v in loaded]
            if items is None:
                items = re.split(r"[\s,]+", text)
        origins: list[str] = []
        errors: list[ValidationError] = []
        for item in items:
            if not item.strip():
                continue
            try:
                origin = normalise_origin(item)
            except ValidationError as err:
                errors.append(err)
                continue
            if origin not in origins:
                origins.append(origin)
        if errors:
            raise ValidationError(errors)
        return origins


def validate_lead_mapping(value: Any) -> None:
    """A lead mapping is a JSON object of CRM customer field → template string, where the templates use only
    ``{variable}`` placeholders from :data:`LEAD_VARIABLES` (no attribute or index access, no conversions or
    format specs: ``build_customer`` runs ``str.format_map`` on them, which would otherwise walk attributes)."""
    if not isinstance(value, dict):
        raise ValidationError(_('The lead mapping must be a JSON object such as {"sName": "{company_or_name}"}.'))
    errors: list[ValidationError] = []
    known = ", ".join(LEAD_VARIABLES)
    for field, template in value.items():
        if not _CRM_FIELD_RE.fullmatch(str(field)):
            errors.append(
                ValidationError(_("%(field)s: a CRM field name is letters, digits and _."), params={"field": field})
            )
            continue
        if not isinstance(template, str):
            errors.append(ValidationError(_("%(field)s: the template must be a string."), params={"field": field}))
            continue
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as err:
            errors.append(
                ValidationError(
                    _("%(field)s: %(problem)s (write {{ and }} for literal braces)."),
                    params={"field": field, "problem": err},
                )
            )
            continue
        for _literal, name, spec, conversion in parsed:
            if name is None:
                continue
            if name not in LEAD_VARIABLES or spec or conversion:
                errors.append(
                    ValidationError(
                        _("%(field)s: unknown placeholder {%(name)s}; use only {variable} with one of: %(known)s."),
                        params={"field": field, "name": name, "known": known},
                    )
                )
    if errors:
        raise ValidationError(errors)


class SiteJSONField(forms.JSONField):
    """A JSON object edited as indented text. An empty box, blanks only, or ``null`` clean to ``{}``: the
    columns behind these fields are NOT NULL, and Django's ``JSONField`` would clean all three to ``None``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 6, "cols": 60, "class": "vLargeTextField"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)

    #: Shown when the text is JSON but not an object.
    example = "{}"

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
        value = super().to_python(value)
        if value is None:
            return {}
        # Checked here, not left to the validators: Django skips those for "empty" values such as [].
        if not isinstance(value, dict):
            raise ValidationError(_("Must be a JSON object, e.g. %(example)s."), params={"example": self.example})
        return value


class LeadMappingField(SiteJSONField):
    """The lead mapping as indented JSON, validated by :func:`validate_lead_mapping`; empty is ``{}`` (then only
    ``sName`` and ``tel`` are sent, which ``build_customer`` always fills)."""

    default_validators = [validate_lead_mapping]
    example = '{"sName": "{company_or_name}"}'


def validate_widget_texts(value: Any) -> None:
    """Widget texts are a JSON object of language → {text name → string}, with the languages and text names the
    widget knows (:data:`~crm_bridge.intake.serializers.DEFAULT_TEXTS`): anything else would be dropped or
    ignored without a word, so a typo is refused here instead."""
    example = '{"en": {"button": "Talk to us"}}'
    if not isinstance(value, dict):
        raise ValidationError(_("Widget texts must be a JSON object such as %(example)s."), params={"example": example})
    errors: list[ValidationError] = []
    for lang, texts in value.items():
        if lang not in LANGUAGES:
            errors.append(
                ValidationError(
                    _("%(lang)s: unknown language; use one of: %(known)s."),
                    params={"lang": lang, "known": ", ".join(LANGUAGES)},
                )
            )
            continue
        if not isinstance(texts, dict):
            errors.append(
                ValidationError(
                    _("%(lang)s: must be an object of text name → text, e.g. %(example)s."),
                    params={"lang": lang, "example": example},
                )
            )
            continue
        known = DEFAULT_TEXTS[lang]
        for name, text in texts.items():
            if name not in known:
                errors.append(
                    ValidationError(
                        _("%(lang)s.%(name)s: unknown text; use one of: %(known)s."),
                        params={"lang": lang, "name": name, "known": ", ".join(known)},
                    )
                )
            elif not isinstance(text, str):
                errors.append(
                    ValidationError(
                        _("%(lang)s.%(name)s: the text must be a string."), params={"lang": lang, "name": name}
                    )
                )
    if errors:
        raise ValidationError(errors)


class WidgetTextsField(SiteJSONField):
    """The site's widget texts (overrides of the defaults per language) as indented JSON, validated by
    :func:`validate_widget_texts`; empty is ``{}``, the defaults everywhere."""

    default_validators = [validate_widget_texts]
    example = '{"en": {"button": "Talk to us"}}'


class SecretStateInput(forms.PasswordInput):
    """An always-empty password input, preceded by whether a secret is stored ("•••• set" / "not set")."""

    def __init__(self, attrs: dict[str, Any] | None = None, *, is_set: bool = False) -> None:
        super().__init__(attrs, render_value=False)
        self.is_set = is_set

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        # `value` is ignored on purpose: nothing typed or stored is ever written back into the page.
        state = _("•••• set") if self.is_set else _("not set")
        css = "crm-secret-state crm-secret-set" if self.is_set else "crm-secret-state crm-secret-unset"
        return format_html(
            '<span class="{}" style="margin-right:10px;font-weight:600">{}</span>{}',
            css,
            state,
            super().render(name, None, attrs=attrs, renderer=renderer),
        )


class SiteAdminForm(_SiteModelForm):
    """Edits a :class:`Site`. The stored ``site_key`` is not a field of this form (so it can never be rendered
    back); ``new_site_key`` replaces it when filled and is required only when there is none yet."""

    new_site_key = forms.CharField(
        label=_("CRM siteKey"),
        required=False,
        max_length=Site._meta.get_field("site_key").max_length,
        widget=SecretStateInput(attrs={"autocomplete": "new-password", "size": 40}),
        help_text=_(
            "Secret: never shown again once saved, never sent to visitors. "
            "Leave empty to keep the current key; type a new one to replace it."
        ),
    )
    allowed_origins = OriginsField(
        label=_("Allowed origins"),
        required=False,
        help_text=_(
            "Origins of the pages that may use the widget, one per line: scheme://host[:port], "
            "e.g. https://www.example.com. No paths, no wildcards."
        ),
    )
    features = forms.MultipleChoiceField(
        label=_("Enabled features"), choices=FEATURE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )
    lead_mapping = LeadMappingField(label=_("Lead field mapping"), required=False)

    class Meta:
        model = Site
        # Listed, not excluded: a field added to Site later (a secret, say) must not appear here by itself.
        fields = [
            "name",
            "is_active",
            "allowed_origins",
            "features",
            "texts",
            "default_cust_id",
            "lead_mapping",
            "post_duplicates_to_board",
            "privacy_notice_zh",
            "privacy_notice_en",
            "privacy_contact",
            "retention_days",
            "consent_required_leads",
            "consent_required_messages",
        ]
        # Through field_classes, not a declared field: the label and help text stay the model's.
        field_classes = {"texts": WidgetTextsField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per form, not at import: format_html would freeze the help text in the language active then.
        self.fields["lead_mapping"].help_text = format_html(
            "{} <code>{}</code>",
            _("CRM customer field → template. Placeholders:"),
            " ".join("{" + v + "}" for v in LEAD_VARIABLES),
        )
        has_key = bool(self.instance.site_key)
        field = self.fields["new_site_key"]
        field.widget.is_set = has_key
        if not has_key:
            field.required = True
            field.help_text = _("Secret: the CRM's key for this site. Never shown again once saved.")
        # Django takes a new instance's initial values only for fields made from the model; the declared ones
        # would otherwise show "null" on the add page and save {} (a new site without the default lead mapping).
        for name in ("allowed_origins", "lead_mapping"):
            self.initial.setdefault(name, getattr(self.instance, name))
        # An empty notice means the default one: show it as the placeholder, so staff see what visitors read.
        for name, lang in (("privacy_notice_zh", "zh-CN"), ("privacy_notice_en", "en")):
            if name in self.fields:
                self.fields[name].widget.attrs["placeholder"] = default_notice(self.instance, lang)
        if "features" in self.fields:
            enabled = {**default_features(), **(self.instance.features or {})}
            self.initial["features"] = [name for name, _label in FEATURE_CHOICES if enabled.get(name)]

    def clean_new_site_key(self) -> str:
        return (self.cleaned_data.get("new_site_key") or "").strip()

    def clean_features(self) -> dict[str, bool]:
        chosen = set(self.cleaned_data.get("features") or ())
        # Keys other code may have added are kept; the three we know are set from the checkboxes.
        return {**(self.instance.features or {}), **{name: name in chosen for name, _label in FEATURE_CHOICES}}

    def clean(self) -> dict[str, Any]:
        super().clean()  # ModelForm's returns cleaned_data (typed Optional: a plain Form's clean() may not)
        cleaned = self.cleaned_data
        # The safety net of the module's blank-input contract, for a field added later without its own rule.
        for name, value in list(cleaned.items()):
            try:
                model_field = Site._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if not isinstance(model_field, models.Field):  # a reverse relation or generic key: no column here
                continue
            if value is None and not model_field.null:
                self.add_error(name, _("This field cannot be empty."))
        return cleaned

    def _post_clean(self) -> None:
        # Set the key before model validation so a new Site is validated with its key in place.
        if self.cleaned_data.get("new_site_key"):
            self.instance.site_key = self.cleaned_data["new_site_key"]
        super()._post_clean()  # type: ignore[misc]  # Django's model-validation hook; django-stubs omits it


# --- API console -----------------------------------------------------------------------------------------


class SiteChoiceField(_SiteChoiceField):
    """Sites by name and public key (names need not be unique); the siteKey is read server-side."""

    def label_from_instance(self, obj: Site) -> str:
        paused = f" — {_('paused')}" if obj.paused_at else ""
        return f"{obj.name} ({obj.public_key}){paused}"


class JSONObjectField(forms.CharField):
    """A JSON object typed as text; cleans to the text itself (sent as typed) after checking it parses."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 70, "class": "vLargeTextField", "spellcheck": "false"})

    def validate(self, value: str) -> None:
        super().validate(value)
        if value in self.empty_values:
            return
        try:
            parsed = json.loads(value)
        except ValueError as err:
            raise ValidationError(_("Not valid JSON: %(error)s"), params={"error": err}) from None
        if not isinstance(parsed, dict):
            raise ValidationError(_('Must be a JSON object, e.g. {"sName": "…"}.'))


def field_for_param(param: Param) -> forms.Field:
    """The form field for one input param of the spec: int32 → bounded integer, datetime → date and time,
    json → a JSON-object textarea, string → text. Required as the spec says; help text from the doc."""
    common: dict[str, Any] = {
        "label": param.name,
        "required": param.required,
        "help_text": " · ".join(filter(None, [param.description, param.doc_type])),
    }
    if param.type == "int32":
        return forms.IntegerField(min_value=INT32_MIN, max_value=INT32_MAX, **common)
    if param.type == "datetime":
        return forms.DateTimeField(
            widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
            **common,
        )
    if param.type == "json":
        return JSONObjectField(**common)
    return forms.CharField(empty_value=None, widget=forms.TextInput(attrs={"size": 50}), **common)


class ConsoleForm(forms.Form):
    """The inputs of one endpoint (see :func:`field_for_param`; never ``token``, ``siteKey``, ``format`` or
    ``tran``), plus ``console_site`` for the siteKey-authenticated ECommerce handlers and ``console_confirm`` for
    endpoints that change CRM data.

    :meth:`crm_params` gives the cleaned inputs keyed by wire name, empty optional ones left out.
    """

    SITE_FIELD = "console_site"
    CONFIRM_FIELD = "console_confirm"
    required_css_class = "required"  # admin CSS shows these labels in bold

    def __init__(self, endpoint: Endpoint, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint
        for param in endpoint.inputs:
            self.fields[param.name] = field_for_param(param)
        if endpoint.auth == "siteKey":
            self.fields[self.SITE_FIELD] = SiteChoiceField(
                queryset=Site.objects.order_by("name", "pk"),
                label=_("Site (its siteKey is used)"),
                help_text=_("This handler authenticates with a site's CRM siteKey, taken from the site's record."),
            )
        if not endpoint.read_only:
            self.fields[self.CONFIRM_FIELD] = forms.BooleanField(
                label=_("I understand this call changes data in the CRM"),
                required=True,
                error_messages={"required": _("This endpoint changes CRM data: tick the box to confirm.")},
            )

    @property
    def param_fields(self) -> list[forms.BoundField]:
        return [self[p.name] for p in self.endpoint.inputs]

    @property
    def control_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in (self.SITE_FIELD, self.CONFIRM_FIELD) if name in self.fields]

    def crm_params(self) -> dict[str, Any]:
        """Wire name → value for the client (call after ``is_valid()``)."""
        data = self.cleaned_data
        return {p.name: data[p.name] for p in self.endpoint.inputs if data.get(p.name) not in (None, "")}

    @property
    def site(self) -> Site | None:
        return self.cleaned_data.get(self.SITE_FIELD)
