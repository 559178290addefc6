"""What the widget API accepts and answers (docs/widget-api.md, "Requests"), and the widget's configuration document.

Every input field has a length limit; text is NFC-normalised with control characters stripped and NUL refused
(:func:`crm_bridge.intake.validators.clean_text`). Fields the widget may add in a later version are ignored, not
refused, so an old server keeps working with a new widget. Errors use DRF's shape:
``{"field": ["message", ...]}``.

The payload dicts built here are what delivery reads; their keys are part of the contract:

* message: ``content``, ``contact``, ``page_url``
* lead: ``name``, ``tel``, ``tel_e164``, ``company``, ``email``, ``message``, ``page_url``

Missing optional fields are stored as ``""``.

Consent (PIPL, docs/privacy.md): every write also takes ``consent`` (bool) and ``version`` (the privacy notice
version from the config). Where the site requires consent for the kind, ``consent: true`` and the current
``version`` are required (400 ``{"consent": [...]}`` / ``{"version": [...]}`` otherwise). Whenever ``consent``
is true the version must be the current one, and :meth:`_WriteSerializer.consent_record` is what is stored.
The serializers need ``context={"site": site, "kind": kind}`` for this; ``lang`` (zh-CN | en, the notice's
language the visitor read) defaults to the active language.

Both writes may carry ``source``, where the visit came from (docs/attribution.md): an object of
:data:`SOURCE_KEYS`, stored apart from the payload on ``Submission.source`` with only its non-empty keys. Unknown
keys in it are ignored (as unknown fields are); a value that is not a string, is too long or holds a NUL is
refused (400 under ``source``); ``landing`` and ``referrer`` that are not http(s) URLs are dropped, not refused:
a visitor cannot fix the page they came from, and a lead must not be lost over it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..crm.spec import INT32_MAX
from ..models import Site
from ..privacy.notice import text_sha256
from .validators import clean_text, normalize_cn_phone

__all__ = [
    "HONEYPOT_FIELD",
    "SOURCE_KEYS",
    "HitsSerializer",
    "LeadSerializer",
    "MessageSerializer",
    "SourceSerializer",
    "notice_language",
    "widget_config",
]

#: DRF's serializers are generic in the instance they represent; ours validate and describe plain dicts.
_DictSerializer = serializers.Serializer[dict[str, Any]]

#: The field the widget renders invisibly; a person leaves it empty, a form-filling bot does not.
HONEYPOT_FIELD = "website"


class TextField(serializers.CharField):
    """A ``CharField`` that cleans what visitors type (see :func:`~crm_bridge.intake.validators.clean_text`).

    ``max_length`` is checked on the cleaned text. Text that is empty once cleaned counts as blank.
    """

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            value = clean_text(value, multiline=self.multiline)
        except DjangoValidationError as err:
            raise serializers.ValidationError(err.messages, code=err.code) from err
        if self.trim_whitespace:
            value = value.strip()
        if not value and not self.allow_blank:
            self.fail("blank")
        return value


def _optional_text(max_length: int, **kwargs: Any) -> TextField:
    return TextField(max_length=max_length, required=False, allow_blank=True, default="", **kwargs)


class PageURLField(serializers.URLField):
    """The page the visitor was on: an http(s) URL of at most 2000 characters, or empty."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("default", "")
        super().__init__(**kwargs)
        # URLField's validator also allows ftp(s); a page the widget runs on is http(s).
        self.validators = [v for v in self.validators if not isinstance(v, URLValidator)]
        self.validators.append(URLValidator(schemes=["http", "https"], message=self.error_messages["invalid"]))


#: The query parameters ``source`` may carry: campaign tags, then paid-search click ids (Baidu, 360, Ocean Engine).
SOURCE_PARAMS = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "bd_vid", "qhclickid", "clickid",
)  # fmt: skip
#: Every key ``source`` may carry, in the order they are shown.
SOURCE_KEYS = ("landing", "referrer", *SOURCE_PARAMS)
_WEB_URL = URLValidator(schemes=["http", "https"])


class SourceText(TextField):
    """An optional single-line ``TextField`` that takes strings only (a number is refused, not turned into one)."""

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, required=False, allow_blank=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class SourceURLField(SourceText):
    """An http(s) URL of at most 2000 characters; any other string is dropped (becomes ``""``), not refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(2000, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            _WEB_URL(value)
        except DjangoValidationError:
            return ""
        return value


class SourceSerializer(_DictSerializer):
    """Where the visit came from: its first page, the referrer, and the campaign parameters of that first page.

    All keys are optional; unknown keys are ignored. See the module docstring for what is refused and dropped.
    """

    landing = SourceURLField(help_text="The visit's first page (http(s) URL, ≤ 2000; anything else is dropped).")
    referrer = SourceURLField(help_text="document.referrer of that page (http(s) URL, ≤ 2000; else dropped).")
    utm_source = SourceText(200)
    utm_medium = SourceText(200)
    utm_campaign = SourceText(200)
    utm_term = SourceText(200)
    utm_content = SourceText(200)
    bd_vid = SourceText(200, help_text="Baidu paid-search click id.")
    qhclickid = SourceText(200, help_text="360 Search click id.")
    clickid = SourceText(200, help_text="Ocean Engine (巨量引擎) click id.")


def source_of(validated: dict[str, Any]) -> dict[str, str]:
    """The stored form of a validated ``source``: its non-empty values, in :data:`SOURCE_KEYS` order."""
    given = validated.get("source") or {}
    return {k: given[k] for k in SOURCE_KEYS if given.get(k)}


def notice_language(lang: str | None = None) -> str:
    """``zh-CN`` or ``en``: ``lang`` when given, else Django's active language (zh-* → zh-CN, otherwise en)."""
    wanted = (lang or translation.get_language() or "zh-CN").lower()
    return "zh-CN" if wanted.startswith("zh") else "en"


CONSENT_REQUIRED = _("Please agree to the privacy notice to send this.")
VERSION_STALE = _("The privacy notice has changed; please reload the page and read it again.")


class _WriteSerializer(_DictSerializer):
    """Fields every write carries besides its own: the site's public key, bot signals, consent and source."""

    key = serializers.CharField(max_length=40, help_text="The site's public key (data-crm-key).")
    website = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Honeypot: the widget leaves it empty."
    )
    fill_ms = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=INT32_MAX,
        help_text="Milliseconds the form was open before it was sent.",
    )  # fmt: skip
    consent = serializers.BooleanField(
        required=False, default=False,
        help_text="The visitor ticked the privacy notice's checkbox. Required (true) where privacy.required says so.",
    )  # fmt: skip
    version = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=64,
        help_text="The privacy notice version the visitor read (config privacy.version); required with consent.",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        site: Site | None = self.context.get("site")
        if site is None:  # schema generation, or a caller validating shape only
            return attrs
        kind = self.context.get("kind", "")
        if not attrs.get("consent"):
            if site.consent_required(kind):
                raise serializers.ValidationError({"consent": [CONSENT_REQUIRED]}, code="required")
            return attrs
        if attrs.get("version") != site.privacy_version:
            raise serializers.ValidationError({"version": [VERSION_STALE]}, code="stale")
        return attrs

    def consent_record(self, *, origin: str = "", page_url: str = "") -> dict[str, Any] | None:
        """The consent record to store (``None`` without consent): the notice version and the SHA-256 of the
        text in the language shown, that language, the time (ISO 8601, UTC), the request's origin and page."""
        d = self.validated_data
        site: Site | None = self.context.get("site")
        if not d.get("consent") or site is None:
            return None
        lang = notice_language(self.context.get("lang"))
        return {
            "version": d["version"],
            "text_sha256": text_sha256(site.privacy_notice(lang)),
            "lang": lang,
            "at": timezone.now().isoformat(),
            "origin": origin,
            "page_url": page_url or d.get("page_url", ""),
        }

    # The metaclass moves a declared field into _declared_fields, so it never shadows Field.source at run time.
    source = SourceSerializer(required=False, help_text="Where the visit came from (first touch).")  # type: ignore[assignment]

    def source_data(self) -> dict[str, str]:
        """What ``Submission.source`` stores: the validated ``source``'s non-empty values."""
        return source_of(self.validated_data)


class MessageSerializer(_WriteSerializer):
    """``POST widget/v1/messages``: a message for the site's message board."""

    content = TextField(max_length=2000, multiline=True, help_text="The message (1–2000 characters).")
    contact = _optional_text(100, help_text="How to reach the visitor, free form.")
    page_url = PageURLField()

    def payload(self) -> dict[str, str]:
        """The stored payload (keys: content, contact, page_url)."""
        d = self.validated_data
        return {"content": d["content"], "contact": d["contact"], "page_url": d["page_url"]}


class LeadSerializer(_WriteSerializer):
    """``POST widget/v1/leads``: a visitor asking to be contacted."""

    name = TextField(max_length=50)
    tel = serializers.CharField(
        max_length=30, help_text="A phone number in mainland China: mobile, or landline with area code."
    )
    company = _optional_text(100)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    message = _optional_text(2000, multiline=True)
    page_url = PageURLField()

    def validate_tel(self, value: str) -> Any:
        try:
            return normalize_cn_phone(value)
        except DjangoValidationError as err:
            raise serializers.ValidationError(err.messages, code=err.code) from err

    def payload(self) -> dict[str, str]:
        """The stored payload (keys: name, tel, tel_e164, company, email, message, page_url)."""
        d = self.validated_data
        return {
            "name": d["name"],
            "tel": d["tel"].national,
            "tel_e164": d["tel"].e164,
            "company": d["company"],
            "email": d["email"],
            "message": d["message"],
            "page_url": d["page_url"],
        }


class HitSerializer(_DictSerializer):
    """One catalogue item's page views."""

    pkid = serializers.IntegerField(min_value=1, max_value=INT32_MAX, help_text="The CRM's id of the item.")
    count = serializers.IntegerField(min_value=1, max_value=100, default=1)


class HitsSerializer(_DictSerializer):
    """``POST widget/v1/hits``: ``pkid`` + ``count``, or ``hits: [{pkid, count}, ...]`` (at most 50 items)."""

    key = serializers.CharField(max_length=40, help_text="The site's public key (data-crm-key).")
    pkid = serializers.IntegerField(min_value=1, max_value=INT32_MAX, required=False)
    count = serializers.IntegerField(min_value=1, max_value=100, required=False)
    # many=True makes DRF build a ListSerializer, which takes the length bounds; the stubs type the child's __init__.
    hits = HitSerializer(many=True, required=False, max_length=50, min_length=1)  # type: ignore[call-arg]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "hits" in attrs:
            if "pkid" in attrs or "count" in attrs:
                raise serializers.ValidationError({"hits": ["Send either pkid (and count) or hits, not both."]})
        elif "pkid" not in attrs:
            raise serializers.ValidationError({"pkid": [self.error_messages["required"]]}, code="required")
        return attrs

    def counts(self) -> dict[int, int]:
        """Views to add per pkid (items naming the same pkid are summed)."""
        d = self.validated_data
        items = d["hits"] if "hits" in d else [{"pkid": d["pkid"], "count": d.get("count", 1)}]
        totals: dict[int, int] = {}
        for item in items:
            totals[item["pkid"]] = totals.get(item["pkid"], 0) + item["count"]
        return totals


# --- answers (documentation for the schema; the views build plain dicts) -------------------------------------


class AcceptedSerializer(_DictSerializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "delivered", "failed", "duplicate"])


class HitsAcceptedSerializer(_DictSerializer):
    accepted = serializers.IntegerField(help_text="Page views added.")


class DetailSerializer(_DictSerializer):
    detail = serializers.CharField()


# --- the widget's configuration -------------------------------------------------------------------------------

LANGUAGES = ("zh-CN", "en")

_LABELS: dict[str, dict[str, str]] = {
    "content": {"zh-CN": "留言内容", "en": "Message"},
    "contact": {"zh-CN": "联系方式", "en": "Contact (phone, email or WeChat)"},
    "name": {"zh-CN": "姓名", "en": "Name"},
    "tel": {"zh-CN": "电话", "en": "Phone"},
    "company": {"zh-CN": "公司", "en": "Company"},
    "email": {"zh-CN": "邮箱", "en": "Email"},
    "message": {"zh-CN": "留言", "en": "Message"},
}
_TYPES = {"content": "textarea", "message": "textarea", "tel": "tel", "email": "email"}

DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "button": "在线留言",
        "message_title": "给我们留言",
        "lead_title": "联系我们",
        "submit": "提交",
        "sending": "正在提交…",
        "success": "提交成功，我们会尽快与您联系。",
        "error": "提交失败，请稍后再试。",
        "offline": "已保存，网络恢复后将自动发送。",
        "required": "必填",
        "close": "关闭",
        "consent": "我已阅读并同意上述隐私声明",
        "consent_error": "请先勾选同意隐私声明。",
    },
    "en": {
        "button": "Contact us",
        "message_title": "Leave us a message",
        "lead_title": "Get in touch",
        "submit": "Send",
        "sending": "Sending…",
        "success": "Thank you. We will be in touch soon.",
        "error": "Sorry, that did not work. Please try again later.",
        "offline": "Saved. We will send it as soon as the connection is back.",
        "required": "required",
        "close": "Close",
        "consent": "I have read and agree to the privacy notice above",
        "consent_error": "Please tick the box to agree to the privacy notice.",
    },
}


def _form_fields(serializer_class: type[_DictSerializer]) -> list[dict[str, Any]]:
    # Built from the serializer itself so the widget's limits can never drift from the server's.
    fields = []
    for name, field in serializer_class().fields.items():
        if name not in _LABELS or not isinstance(field, serializers.CharField):  # labelled fields are all text
            continue
        fields.append(
            {
                "name": name,
                "type": _TYPES.get(name, "text"),
                "required": bool(field.required),
                "max_length": field.max_length,
                "label": dict(_LABELS[name]),
            }
        )
    return fields


def _texts(site: Site) -> dict[str, dict[str, str]]:
    overrides = site.texts if isinstance(site.texts, dict) else {}
    texts = {}
    for lang in LANGUAGES:
        merged = dict(DEFAULT_TEXTS[lang])
        own = overrides.get(lang)
        if isinstance(own, dict):
            # Staff text from admin; only strings, so a stray number or object cannot break the widget.
            merged.update({str(k): v for k, v in own.items() if isinstance(v, str)})
        texts[lang] = merged
    return texts


def widget_config(site: Site) -> dict[str, Any]:
    """The document ``GET widget/v1/config`` answers: nothing in it is secret.

    ``features`` (messages, leads, hits → bool), ``forms`` (per form: fields with name, type, required,
    max_length and labels per language), ``texts`` (per language, the site's overrides over the defaults),
    ``languages``, the bot-defence parameters the widget needs (the honeypot's field name), and ``privacy``:
    the notice per language (``notice``), its ``version`` and whether each form needs consent (``required``,
    per form kind: message, lead).
    """
    features = {name: site.feature(name) for name in ("messages", "leads", "hits")}
    forms = {}
    if features["messages"]:
        forms["message"] = _form_fields(MessageSerializer)
    if features["leads"]:
        forms["lead"] = _form_fields(LeadSerializer)
    return {
        "features": features,
        "forms": forms,
        "texts": _texts(site),
        "languages": list(LANGUAGES),
        "honeypot": HONEYPOT_FIELD,
        "privacy": {
            "version": site.privacy_version,
            "notice": {lang: site.privacy_notice(lang) for lang in LANGUAGES},
            "required": {kind: site.consent_required(kind) for kind in ("message", "lead")},
        },
    }
