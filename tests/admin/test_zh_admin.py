"""Every admin page of crm_bridge and its sandbox, rendered for a Chinese-speaking staff user, shows no English
label of ours; an English-speaking one sees English.

"Of ours" is read from our catalogues (crm_bridge/locale and crm_bridge/sandbox/locale): every msgid with a
translation that differs from it. A page is reduced to what a person reads (text nodes, ``title``, ``alt``,
``placeholder``, ``aria-label`` and button values; no ``<script>``/``<style>``) and no msgid may appear in it as
a whole phrase. Django's own admin chrome is not in our catalogues (Django translates it), and the data shown is
made up here of values that are not msgids, so neither can trip the check.

The pages: the index, both app pages, and for each model registered by the two apps its changelist, add page (when
permitted), change page of one object, delete confirmation (when permitted) and history; the CRM API console (list
and one endpoint's form); the dashboard (on the index); the erase confirmation; the pages after the staff actions
(their messages); a paused site (the pause banner, whose reason is the CRM's own text).
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import crm_bridge
from crm_bridge import testing
from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.crm.spec import ENDPOINTS
from crm_bridge.delivery import circuit
from crm_bridge.models import Circuit, DeliveryAttempt, HitCounter, PrivacyAuditLog, Site, Submission
from crm_bridge.sandbox import models as sandbox
from tests.test_translations import messages, parse_po

pytestmark = pytest.mark.django_db

PACKAGE = Path(crm_bridge.__file__).resolve().parent
CATALOGUES = {
    "crm_bridge": PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po",
    "crm_sandbox": PACKAGE / "sandbox" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po",
}
APPS = tuple(CATALOGUES)
#: Seen on the index before: English model names, and a plural "s" glued to a Chinese name.
REPORTED = ("Hit counters", "Call history", "Link mans", "Link man", "CRM sandbox", "熔断s")
#: The CRM's own error text (Chinese, as the CRM said it): shown verbatim in any language.
CRM_ERROR = "siteKey 验证失败 endpoint=ECommerce/AddMessageBoard error_code=21302"


# --- what a person reads on a page -----------------------------------------------------------------------


class _Visible(HTMLParser):
    ATTRS = ("title", "alt", "placeholder", "aria-label")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        values = dict(attrs)
        self.parts.extend(values[a] or "" for a in self.ATTRS if a in values)
        if tag == "input" and values.get("type") in ("submit", "button"):
            self.parts.append(values.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(body: str) -> str:
    """The page as text: every text node and readable attribute, one per line, whitespace collapsed."""
    parser = _Visible()
    parser.feed(body)
    return "\n".join(" ".join(p.split()) for p in parser.parts if p.strip())


#: Decoration around a label on its own line: a colon, a warning sign, an arrow, brackets.
_DECORATION = " \t:：⚠→*·()（）"


def _pattern(msgid: str) -> re.Pattern[str]:
    """How ``msgid`` is found on a page. A single word (a field label, a column) only as a whole line, give or take
    a colon or a sign: as a word inside a line it is as likely a value, a parameter name or a code (``kind=error``,
    ``Customer/Save``, ``{company}``). Anything longer as a phrase anywhere, each placeholder one run of non-space
    characters (a number, a name, a date)."""
    if " " not in msgid.strip() and "%" not in msgid:
        decoration = re.escape(_DECORATION)
        return re.compile(rf"^[{decoration}]*{re.escape(msgid)}[{decoration}]*$", re.IGNORECASE | re.MULTILINE)
    tokens = re.split(r"(%\(\w+\)[sd]|%[sd]|\s+)", msgid.strip())
    body = "".join(r"\S+" if t.startswith("%") else r"\s+" if t.isspace() else re.escape(t) for t in tokens if t)
    return re.compile(rf"(?<![\w.-]){body}(?![\w-])", re.IGNORECASE)


@pytest.fixture(scope="module")
def our_msgids() -> dict[str, re.Pattern[str]]:
    """English msgid → pattern, for every message of ours that Chinese readers get in other words."""
    found: dict[str, re.Pattern[str]] = {}
    for path in CATALOGUES.values():
        for e in messages(parse_po(path.read_text(encoding="utf-8"))):
            translated = e.msgstr.get(0, "")
            for msgid in filter(None, (e.msgid, e.msgid_plural)):
                # Only what has English words besides its placeholders ("%(kind)s, %(phase)s: …" has none).
                words = re.search(r"[A-Za-z]{2,}", re.sub(r"%\(\w+\)[sd]", "", msgid))
                if translated and translated.casefold() != msgid.casefold() and words:
                    found[msgid] = _pattern(msgid)
    assert len(found) > 300  # both catalogues were read
    return found


#: Django's own admin chrome that its zh_Hans catalogue leaves in English (Django 5.2: the app tables'
#: screen-reader header); not ours to translate.
DJANGO_CHROME = ("Model name",)
#: The CRM's own names: its API groups (``Contract``) and parameters (``content``, ``contact`` …), with which the
#: console heads its list and labels its fields, as the CRM's reference does.
CRM_NAMES = {e.group.casefold() for e in ENDPOINTS} | {p.name.casefold() for e in ENDPOINTS for p in e.params}


def without_data(text: str, site: Site) -> str:
    """``text`` without the data values a page shows that may contain English words: URLs, the CRM's error text,
    the English privacy notice (the site's, and the default of a new one: it is for English-speaking visitors), the
    CRM's group and parameter names, and
    Django's own chrome."""
    for value in (CRM_ERROR, site.privacy_notice("en"), Site().privacy_notice("en"), *DJANGO_CHROME):
        text = text.replace(" ".join(value.split()), "…")  # as visible_text has it: whitespace collapsed
    text = re.sub(r"https?://\S+", "…", text)
    return "\n".join(line for line in text.split("\n") if line.strip(_DECORATION).casefold() not in CRM_NAMES)


def english_left(text: str, our_msgids: dict[str, re.Pattern[str]]) -> list[str]:
    return sorted(msgid for msgid, pattern in our_msgids.items() if pattern.search(text))


def english_lines(text: str, our_msgids: dict[str, re.Pattern[str]]) -> list[str]:
    """Like :func:`english_left`, with the line each was found in (for a readable failure)."""
    found = []
    for msgid, pattern in our_msgids.items():
        if match := pattern.search(text):
            start, end = text.rfind("\n", 0, match.start()) + 1, text.find("\n", match.end())
            found.append(f"{msgid!r} in {text[start : end if end >= 0 else None]!r}")
    return sorted(found)


# --- one object of each model ----------------------------------------------------------------------------


@pytest.fixture
def objects(site) -> dict[type, object]:
    """One row of every model the two apps register in admin (the sandbox's seed gives most of its own)."""
    now = timezone.now()
    sub = testing.submission(site, "lead", status="failed", attempts=2, last_error=CRM_ERROR)
    rejected = DeliveryAttempt.Outcome.REJECTED
    DeliveryAttempt.objects.create(
        submission=sub, attempt=1, endpoint="Customer/Save", outcome=rejected, error_code=10017, error=CRM_ERROR
    )
    destination = AlertDestination.objects.create(
        site=site, kind=AlertDestination.Kind.WECOM, name="销售群", webhook_url="https://qyapi.example/hook"
    )
    made: dict[type, object] = {
        Site: site,
        Submission: sub,
        HitCounter: HitCounter.objects.create(site=site, pkid=7, pending=3),
        Circuit: circuit.get_circuit(),
        PrivacyAuditLog: PrivacyAuditLog.objects.create(
            action="erase", actor="员工甲", via="admin", matched_by="selection", rows=1
        ),
        Alert: Alert.objects.create(destination=destination, kind=Alert.Kind.LEAD, title="新线索", text="新线索 访客"),
        sandbox.Sms: sandbox.Sms.objects.create(
            sender_id=1,
            mobile_phone="13800138000",
            send_date=now,
            content="您好",
            send_type=0,
            message_template_id="T1",
            create_time=now,
        ),
        sandbox.Message: sandbox.Message.objects.create(site="0" * 64, cust_id=1, content="留言", create_time=now),
        sandbox.Hit: sandbox.Hit.objects.create(site="0" * 64, pkid=7, hits=3),
        sandbox.RequestLog: sandbox.RequestLog.objects.create(endpoint="Customer/Save", http_status=200),
        sandbox.Fault: sandbox.Fault.objects.create(kind=sandbox.Fault.Kind.SLOW, delay=1.0),
        sandbox.RobotMessage: sandbox.RobotMessage.objects.create(kind="wecom", text="新线索"),
    }
    for model in registered_models():
        if model not in made:
            made[model] = model._default_manager.order_by("pk").first()
            assert made[model] is not None, f"no {model.__name__} row: the sandbox seed should have made one"
    return made


def registered_models() -> list[type]:
    return sorted((m for m in admin.site._registry if m._meta.app_label in APPS), key=lambda m: m._meta.label)


def admin_pages(objects: dict[type, object], request) -> list[str]:
    """Every admin URL of the two apps that a superuser may open (see the module docstring)."""
    urls = [reverse("admin:index"), *(reverse("admin:app_list", args=[app]) for app in APPS)]
    for model in registered_models():
        model_admin = admin.site._registry[model]
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pk = objects[model].pk
        urls.append(reverse(f"{info}_changelist"))
        if model_admin.has_add_permission(request):
            urls.append(reverse(f"{info}_add"))
        urls += [reverse(f"{info}_change", args=[pk]), reverse(f"{info}_history", args=[pk])]
        if model_admin.has_delete_permission(request, objects[model]):
            urls.append(reverse(f"{info}_delete", args=[pk]))
    console = reverse("admin:crm_bridge_console")
    return [*urls, console, f"{console}?endpoint=ECommerce/AddMessageBoard"]


def staff_client(language: str) -> tuple[Client, object]:
    user = get_user_model().objects.create_superuser("员工甲", "staff@example.com", "pw-not-a-msgid")
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client, user


@pytest.fixture
def locale_middleware(settings):
    """Django's LocaleMiddleware, as the demo site has it: each staff user's browser language picks the admin's."""
    middleware = "django.middleware.locale.LocaleMiddleware"
    if middleware not in settings.MIDDLEWARE:
        at = settings.MIDDLEWARE.index("django.middleware.common.CommonMiddleware")
        settings.MIDDLEWARE = [*settings.MIDDLEWARE[:at], middleware, *settings.MIDDLEWARE[at:]]


def _pause(site: Site) -> None:
    now = timezone.now()
    Site.objects.filter(pk=site.pk).update(paused_at=now, paused_reason=CRM_ERROR, site_key_probe_at=now)
    Circuit.objects.update(state=Circuit.State.OPEN, failures=5, opened_at=now, retry_at=now + timedelta(minutes=1),
                           token_paused_at=now, token_paused_reason=CRM_ERROR, last_error=CRM_ERROR)  # fmt: skip


# --- the tests --------------------------------------------------------------------------------------------


def test_the_catalogue_reader_finds_english_labels(our_msgids):
    """The check itself: an untranslated label is found, as a whole phrase only, placeholders filled."""
    assert english_left(visible_text("<h1>Hit counters</h1>"), our_msgids) == ["hit counters"]
    assert english_left(visible_text('<a title="Retry now">立即重试</a>'), our_msgids) == ["Retry now"]
    assert english_left(visible_text("<p>3 circuits reset to closed.</p>"), our_msgids) == [
        "%(n)d circuits reset to closed."
    ]
    assert english_left(visible_text("<code>siteKey</code> <script>var site='site';</script>"), our_msgids) == []


@pytest.mark.parametrize("header", ["zh-hans", "zh-CN,zh;q=0.9,en;q=0.5"])
def test_every_admin_page_in_chinese(settings, locale_middleware, site, objects, our_msgids, header, rf):
    settings.LANGUAGE_CODE = "zh-hans"
    client, user = staff_client(header)
    _pause(site)
    request = rf.get("/")
    request.user = user
    pages = admin_pages(objects, request)
    # 6 models of crm_bridge, 13 of the sandbox: changelist, change, history of each; add: Site; delete: Site,
    # Submission, Alert and the sandbox's Fault.
    assert [len([m for m in registered_models() if m._meta.app_label == app]) for app in APPS] == [6, 13]
    assert len(pages) == 3 + 3 * 19 + 1 + 4 + 2  # + the index, two app pages; + the console's two
    problems: dict[str, list[str]] = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Language"] == "zh-hans", url
        text = without_data(visible_text(response.content.decode()), site)
        left = english_lines(text, our_msgids) + [s for s in REPORTED if s.casefold() in text.casefold()]
        if left:
            problems[url] = left
    assert problems == {}


def test_the_pause_banner_keeps_the_crms_own_text(settings, locale_middleware, site, objects):
    settings.LANGUAGE_CODE = "zh-hans"
    client, _user = staff_client("zh-hans")
    _pause(site)
    body = client.get(reverse("admin:crm_bridge_site_change", args=[site.pk])).content.decode()
    text = visible_text(body)
    assert "该站点到 CRM 的投递已暂停。" in text
    assert f"CRM 拒绝了我们的 siteKey：{CRM_ERROR}" in text  # the "why paused" field: our words, the CRM's text
    assert text.count(CRM_ERROR) == 3  # that field, and the siteKey's and the token's line in the banner
    listing = visible_text(client.get(reverse("admin:crm_bridge_site_changelist")).content.decode())
    assert f"CRM 拒绝了我们的 siteKey：{CRM_ERROR}" in listing  # the "paused" badge's tooltip


def test_action_pages_and_messages_in_chinese(settings, locale_middleware, site, objects, our_msgids, enqueued):
    settings.LANGUAGE_CODE = "zh-hans"
    client, _user = staff_client("zh-hans")
    _pause(site)
    submissions = reverse("admin:crm_bridge_submission_changelist")
    sub = objects[Submission]
    posts = [
        (submissions, {"action": "erase", "_selected_action": [sub.pk]}, "删除这些提交的个人信息？"),
        (submissions, {"action": "retry_now", "_selected_action": [sub.pk]}, "1 条提交记录已立即排队投递。"),
        (reverse("admin:crm_bridge_circuit_changelist"),
         {"action": "reset_closed", "_selected_action": [objects[Circuit].pk]}, "已将 1 个熔断器重置为闭合。"),
        (reverse("admin:crm_bridge_site_changelist"),
         {"action": "resume_deliveries", "_selected_action": [site.pk]}, "恢复"),
        (reverse("admin:crm_bridge_site_changelist"), {"action": "delete_selected", "_selected_action": [site.pk]},
         "站点"),
        (reverse("admin:crm_bridge_alert_changelist"),
         {"action": "retry_failed", "_selected_action": [objects[Alert].pk]}, "已将 0 条告警重新排队发送。"),
    ]  # fmt: skip
    for url, data, expected in posts:
        response = client.post(url, data, follow=True)
        assert response.status_code == 200, data["action"]
        text = without_data(visible_text(response.content.decode()), site)
        assert expected in text, (data["action"], text)
        assert english_left(text, our_msgids) == [], data["action"]
    erased = client.post(submissions, {"action": "erase", "confirm": "yes", "_selected_action": [sub.pk]}, follow=True)
    text = without_data(visible_text(erased.content.decode()), site)
    assert "已在本系统删除 1 条提交的个人信息。" in text
    assert english_left(text, our_msgids) == []


@pytest.mark.parametrize("language_code", ["en", "zh-hans"])
def test_an_english_speaking_staff_user_sees_english(settings, locale_middleware, site, objects, language_code):
    """English with LANGUAGE_CODE en; with the demo's zh-hans too, when the browser asks for English."""
    settings.LANGUAGE_CODE = language_code
    client, _user = staff_client("en-US,en;q=0.9")
    _pause(site)
    index = visible_text(client.get(reverse("admin:index")).content.decode())
    for label in ("CRM bridge", "Hit counters", "CRM circuits", "Submissions", "CRM sandbox", "Call history",
                  "Customer contacts", "Board messages", "Privacy audit log", "CRM bridge — deliveries"):  # fmt: skip
        assert label in index, label
    for chinese in ("CRM 对接", "页面浏览计数器", "CRM 熔断", "线索与留言", "CRM 沙箱", "通话历史", "客户联系人"):
        assert chinese not in index, chinese
    page = visible_text(client.get(reverse("admin:crm_bridge_site_change", args=[site.pk])).content.decode())
    assert f"The CRM refused our siteKey: {CRM_ERROR}" in page
    assert "Deliveries of this site to the CRM are paused." in page
    fields = visible_text(
        client.get(reverse("admin:crm_sandbox_sms_change", args=[objects[sandbox.Sms].pk])).content.decode()
    )
    assert "Sender ID" in fields and "发送人 ID" not in fields


def test_admin_follows_language_code_without_locale_middleware(settings, site, objects):
    """A project without LocaleMiddleware gets its LANGUAGE_CODE in admin, whatever the browser says."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("LocaleMiddleware")]
    settings.LANGUAGE_CODE = "zh-hans"
    client, _user = staff_client("en")
    index = visible_text(client.get(reverse("admin:index")).content.decode())
    assert "页面浏览计数器" in index and "Hit counters" not in index
    settings.LANGUAGE_CODE = "en"
    index = visible_text(client.get(reverse("admin:index")).content.decode())
    assert "Hit counters" in index and "页面浏览计数器" not in index


def test_the_sandbox_catalogue_is_complete_and_compiled():
    """tests/test_translations.py holds crm_bridge/locale to this; the sandbox's own catalogue the same way."""
    import gettext as pygettext

    path = CATALOGUES["crm_sandbox"]
    entries = messages(parse_po(path.read_text(encoding="utf-8")))
    assert len(entries) > 150
    assert [e.msgid for e in entries if "fuzzy" in e.flags or not all(e.msgstr.values())] == []
    placeholders = re.compile(r"%\(\w+\)[sd]")
    assert [
        e.msgid for e in entries if sorted(placeholders.findall(e.msgid)) != sorted(placeholders.findall(e.msgstr[0]))
    ] == []
    with path.with_suffix(".mo").open("rb") as fh:
        compiled = {k: v for k, v in pygettext.GNUTranslations(fh)._catalog.items() if k != ""}
    assert compiled == {e.msgid: e.msgstr[0] for e in entries}
