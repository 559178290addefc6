"""The Simplified Chinese catalogue (crm_bridge/locale/zh_Hans): complete, consistent with its .mo, and used.

The .po is parsed here with a few lines of Python (no polib). The compiled .mo is read back with the standard
library's ``gettext`` and compared, message by message, with the .po: pip users only get the .mo, so a .po
edited without ``compilemessages`` must fail here. ``msgfmt --check`` runs as well when GNU gettext is installed.
"""

from __future__ import annotations

import ast
import gettext as pygettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext
from rest_framework.test import APIClient

import crm_bridge
from crm_bridge import testing
from crm_bridge.admin.forms import FEATURE_CHOICES
from crm_bridge.intake.validators import clean_text, normalize_cn_phone
from crm_bridge.models import Circuit, Site, Submission

LC_MESSAGES = Path(crm_bridge.__file__).resolve().parent / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"

ORIGIN = "https://shop.example.com"


# --- a minimal .po reader -------------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # plural index → text (0 for a singular entry)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$")


def parse_po(text: str) -> list[Entry]:
    """Entries of a .po file (header included, as the entry with an empty msgid). No msgctxt is used here."""
    entries: list[Entry] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        entry = Entry()
        parts: list[tuple[str, str | None, list[str]]] = []  # (keyword, plural index, quoted pieces)
        for line in block.splitlines():
            if line.startswith("#~"):
                entry.obsolete = True
            elif line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                assert parts, f"a continuation line with no keyword: {line!r}"
                parts[-1][2].append(ast.literal_eval(line))
            else:
                match = _KEYWORD.match(line)
                assert match, f"unexpected line in {PO.name}: {line!r}"
                keyword, index, first = match.groups()
                assert keyword != "msgctxt", "msgctxt is not expected in this catalogue"
                parts.append((keyword, index, [ast.literal_eval(first)]))
        for keyword, index, pieces in parts:
            value = "".join(pieces)
            if keyword == "msgid":
                entry.msgid = value
            elif keyword == "msgid_plural":
                entry.msgid_plural = value
            else:
                entry.msgstr[int(index or 0)] = value
        entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def po_entries() -> list[Entry]:
    return parse_po(PO.read_text(encoding="utf-8"))


def messages(entries: list[Entry]) -> list[Entry]:
    """The translatable entries: not the header, not obsolete ones."""
    return [e for e in entries if e.msgid and not e.obsolete]


# --- the catalogue itself -------------------------------------------------------------------------------


def test_header(po_entries):
    header = po_entries[0]
    assert header.msgid == ""
    assert "fuzzy" not in header.flags
    fields = dict(line.split(": ", 1) for line in header.msgstr[0].splitlines() if ": " in line)
    assert fields["Language"] == "zh_Hans"
    assert fields["Plural-Forms"] == "nplurals=1; plural=0;"
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"


def test_every_message_is_translated_and_none_is_fuzzy(po_entries):
    entries = messages(po_entries)
    assert len(entries) > 150  # the catalogue was really read
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []
    assert [e.msgid for e in entries if not e.msgstr or not all(e.msgstr.values())] == []
    assert [e.msgid for e in po_entries if e.obsolete] == []
    # Chinese has one plural form: exactly msgstr[0] for plural entries.
    assert [e.msgid for e in entries if e.msgid_plural is not None and set(e.msgstr) != {0}] == []


_PY_FORMAT = re.compile(r"%\(\w+\)[sd]")
_BRACES = re.compile(r"\{\{|\}\}|\{[^{}]*\}")


@pytest.mark.parametrize("pattern", [_PY_FORMAT, _BRACES], ids=["%(name)s", "{name}"])
def test_placeholders_are_kept(po_entries, pattern):
    wrong = []
    for e in messages(po_entries):
        wanted = sorted(pattern.findall(e.msgid_plural or e.msgid))
        for text in e.msgstr.values():
            if sorted(pattern.findall(text)) != wanted:
                wrong.append((e.msgid, text))
    assert wrong == []


def test_msgfmt_check():
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext's msgfmt is not installed (apt-get install gettext); the .mo comparison still runs")
    result = subprocess.run(  # noqa: S603 - a fixed program on our own file
        [msgfmt, "--check", "-o", "/dev/null", str(PO)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_mo_matches_po(po_entries):
    """The shipped .mo says exactly what the .po says: run ``compilemessages -l zh_Hans`` after editing it."""
    assert MO.exists(), "crm_bridge/locale/zh_Hans/LC_MESSAGES/django.mo is missing: run compilemessages"
    with MO.open("rb") as fh:
        compiled = pygettext.GNUTranslations(fh)
    catalog = {k: v for k, v in compiled._catalog.items() if k != ""}  # the header is checked above
    expected: dict[object, str] = {}
    for e in messages(po_entries):
        if e.msgid_plural is None:
            expected[e.msgid] = e.msgstr[0]
        else:
            expected.update({(e.msgid, n): text for n, text in e.msgstr.items()})
    assert catalog == expected
    assert compiled.info()["plural-forms"] == "nplurals=1; plural=0;"


# --- the catalogue in use -------------------------------------------------------------------------------


def test_labels_in_chinese():
    with translation.override("zh-hans"):
        assert str(Submission._meta.verbose_name) == "提交记录"
        assert str(Submission._meta.verbose_name_plural) == "线索与留言"
        assert str(Site._meta.verbose_name) == "站点"
        assert str(Site._meta.get_field("site_key").verbose_name) == "CRM siteKey"
        assert str(Circuit._meta.verbose_name) == "CRM 熔断"
        assert str(Submission.Kind.LEAD.label) == "销售线索"
        assert str(Submission.Status.SPAM.label) == "疑似垃圾（已拦截）"
        assert str(Circuit.State.OPEN.label) == "熔断（暂停调用）"
        assert str(dict(FEATURE_CHOICES)["messages"]) == "留言板（反馈按钮）"
        assert gettext("Retry now") == "立即重试"
        for n in (1, 5):  # one plural form, whatever the number
            text = ngettext("%(n)d circuit reset to closed.", "%(n)d circuits reset to closed.", n) % {"n": n}
            assert text == f"已将 {n} 个熔断器重置为闭合。"
    with translation.override("en"):  # the source texts are untouched in English
        assert str(Submission.Status.SPAM.label) == "held as spam"


def test_validation_errors_in_chinese():
    with translation.override("zh-hans"):
        with pytest.raises(ValidationError) as info:
            normalize_cn_phone("12345")
        assert info.value.messages == ["请输入有效的中国大陆电话号码。"]
        with pytest.raises(ValidationError) as info:
            clean_text("a\x00b")
        assert info.value.messages == ["不允许包含空字符（NUL）。"]


@pytest.mark.django_db
def test_api_field_error_in_chinese():
    cache.clear()  # throttle counters and the CORS origin cache
    site = Site.objects.create(name="Shop", site_key="sk-translations", allowed_origins=[ORIGIN])
    lead = {"key": site.public_key, "name": "王小明", "tel": "12345", "page_url": ORIGIN + "/p"}
    try:
        with translation.override("zh-hans"):
            response = APIClient().post("/crm/widget/v1/leads", lead, format="json", HTTP_ORIGIN=ORIGIN)
    finally:
        cache.clear()
    assert response.status_code == 400
    assert response.json() == {"tel": ["请输入有效的中国大陆电话号码。"]}


@pytest.mark.django_db
def test_admin_pages_in_chinese(admin_client):
    site = Site.objects.create(name="Acme 测试", site_key="sk-translations", allowed_origins=[ORIGIN])
    testing.submission(site, "lead")
    testing.submission(site, "message", status="spam")
    with translation.override("zh-hans"):
        response = admin_client.get(reverse("admin:crm_bridge_submission_changelist"))
        assert response.status_code == 200
        body = response.content.decode()
        for label in ("线索与留言", "销售线索", "疑似垃圾（已拦截）", "立即重试", "可能重复", "下次尝试"):
            assert label in body, label
        assert "held as spam" not in body

        response = admin_client.get(reverse("admin:crm_bridge_site_change", args=[site.pk]))
        assert response.status_code == 200
        body = response.content.decode()
        for label in ("嵌入插件", "允许的来源", "已启用功能", "•••• 已设置", "投递到 CRM"):
            assert label in body, label

        response = admin_client.get(reverse("admin:index"))
        assert response.status_code == 200
        assert "CRM 对接 — 投递概况" in response.content.decode()
