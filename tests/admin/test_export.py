"""The submissions list's CSV and XLSX export: exact contents, filters and search honoured, redacted rows blank,
formula injection defused, audited without personal data, and refused without the view permission."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime

import openpyxl
import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from crm_bridge.admin.export import COLUMNS, csv_safe
from crm_bridge.models import PrivacyAuditLog, Site, Submission
from crm_bridge.privacy.redaction import redact

from .conftest import OTHER_KEY, SITE_KEY, assert_no_secret

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:crm_bridge_submission_changelist")


def export_url(fmt: str, query: str = "") -> str:
    return reverse("admin:crm_bridge_submission_export", args=[fmt]) + (f"?{query}" if query else "")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def known(site):
    """Four submissions with fixed ids and times (UTC; the site's TIME_ZONE is Asia/Shanghai, +08:00)."""
    other = Site.objects.create(name="Other Co", site_key=OTHER_KEY)
    lead = Submission.objects.create(
        id="00000000-0000-4000-8000-000000000001", site=site, kind="lead", status="delivered", attempts=1,
        created_at=at(3, 1, 30), finished_at=at(3, 1, 31), page_url="https://acme.example/contact",
        payload={"name": "张三", "tel": "139 0000 0001", "tel_e164": "+8613900000001", "company": "三一重工",
                 "email": "zs@example.com", "message": "请回电", "page_url": "https://acme.example/contact"},
        source={"landing": "https://acme.example/?utm_source=baidu", "utm_source": "baidu", "utm_campaign": "秋季",
                "bd_vid": "B1"},
        consent={"version": "v7", "text_sha256": "ab" * 32, "lang": "zh-CN", "at": "2026-11-03T01:29:50+00:00",
                 "origin": "https://acme.example", "page_url": "https://acme.example/contact"},
    )  # fmt: skip
    evil = Submission.objects.create(
        id="00000000-0000-4000-8000-000000000002", site=site, kind="message", status="failed", attempts=8,
        created_at=at(4, 16, 5), finished_at=at(4, 18),
        payload={"content": '=HYPERLINK("http://evil.example","x")', "contact": "+86 139 0000 0002", "page_url": ""},
        source={"utm_source": "@home", "utm_medium": "-cpc"},
    )  # fmt: skip
    gone = Submission.objects.create(
        id="00000000-0000-4000-8000-000000000003", site=site, kind="lead", status="failed", attempts=3,
        created_at=at(5, 2), page_url="https://acme.example/p?tel=139",
        payload={"name": "李四", "tel": "139 0000 0003", "tel_e164": "+8613900000003", "company": "", "email": "",
                 "message": "", "page_url": "https://acme.example/p?tel=139"},
        consent={"version": "v6", "text_sha256": "cd" * 32, "lang": "zh-CN", "at": "2026-11-05T01:59:00+00:00",
                 "origin": "https://acme.example", "page_url": "https://acme.example/p?tel=139"},
    )  # fmt: skip
    redact([gone.pk], now=at(20, 4))
    elsewhere = Submission.objects.create(
        id="00000000-0000-4000-8000-000000000004", site=other, kind="message", status="queued",
        created_at=at(6, 10), payload={"content": "\tTab first\nand a second line", "contact": "", "page_url": ""},
    )  # fmt: skip
    return lead, evil, gone, elsewhere


def blank(n: int) -> list[str]:
    return [""] * n


#: The CSV rows of ``known``, newest first (the list's order), each after the header.
CSV_ROWS = {
    "elsewhere": [
        "00000000-0000-4000-8000-000000000004", "2026-11-06T18:00:00+08:00", "Other Co", "message", "queued", "0",
        "", *blank(6), "'\tTab first\nand a second line", "", "", *blank(10), "", "", "",
    ],
    "gone": [
        "00000000-0000-4000-8000-000000000003", "2026-11-05T10:00:00+08:00", "Acme 测试", "lead", "failed", "3", "",
        *blank(8), "", *blank(10), "v6", "2026-11-05T09:59:00+08:00", "2026-11-20T12:00:00+08:00",
    ],
    "evil": [
        "00000000-0000-4000-8000-000000000002", "2026-11-05T00:05:00+08:00", "Acme 测试", "message", "failed", "8",
        "2026-11-05T02:00:00+08:00", *blank(6), "'=HYPERLINK(\"http://evil.example\",\"x\")", "'+86 139 0000 0002",
        "", "", "", "'@home", "'-cpc", *blank(6), "", "", "",
    ],
    "lead": [
        "00000000-0000-4000-8000-000000000001", "2026-11-03T09:30:00+08:00", "Acme 测试", "lead", "delivered", "1",
        "2026-11-03T09:31:00+08:00", "张三", "139 0000 0001", "'+8613900000001", "三一重工", "zs@example.com",
        "请回电", "", "", "https://acme.example/contact", "https://acme.example/?utm_source=baidu", "", "baidu", "",
        "秋季", "", "", "B1", "", "", "v7", "2026-11-03T09:29:50+08:00", "",
    ],
}  # fmt: skip


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="submissions-')
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM: spreadsheet apps then read UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def read_xlsx(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.content))["submissions"]


def test_header_names_every_column():
    assert COLUMNS == (
        "id", "created", "site", "kind", "status", "attempts", "finished", "name", "tel", "tel_e164", "company",
        "email", "message", "content", "contact", "page_url", "landing", "referrer", "utm_source", "utm_medium",
        "utm_campaign", "utm_term", "utm_content", "bd_vid", "qhclickid", "clickid", "consent_version",
        "consent_at", "redacted_at",
    )  # fmt: skip


def test_csv_export_is_exact(admin_client, known):
    rows = read_csv(admin_client.get(export_url("csv")))
    assert rows == [list(COLUMNS), CSV_ROWS["elsewhere"], CSV_ROWS["gone"], CSV_ROWS["evil"], CSV_ROWS["lead"]]


def test_xlsx_export_is_exact_and_formulas_are_text(admin_client, known):
    ws = read_xlsx(admin_client.get(export_url("xlsx")))
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[0] == list(COLUMNS)
    assert len(values) == 5
    lead = values[4]
    assert lead == [
        "00000000-0000-4000-8000-000000000001", datetime(2026, 11, 3, 9, 30), "Acme 测试", "lead", "delivered", 1,
        datetime(2026, 11, 3, 9, 31), "张三", "139 0000 0001", "+8613900000001", "三一重工", "zs@example.com",
        "请回电", None, None, "https://acme.example/contact", "https://acme.example/?utm_source=baidu", None,
        "baidu", None, "秋季", None, None, "B1", None, None, "v7", datetime(2026, 11, 3, 9, 29, 50), None,
    ]  # fmt: skip
    # Empty strings are empty cells in a workbook (openpyxl reads them back as None).
    evil = values[3]
    assert evil[:7] == ["00000000-0000-4000-8000-000000000002", datetime(2026, 11, 5, 0, 5), "Acme 测试", "message",
                        "failed", 8, datetime(2026, 11, 5, 2)]  # fmt: skip
    # The exact stored text, typed as a string: a spreadsheet shows it and never evaluates it.
    content = ws.cell(row=4, column=COLUMNS.index("content") + 1)
    assert (content.value, content.data_type) == ('=HYPERLINK("http://evil.example","x")', "s")
    assert (evil[COLUMNS.index("contact")], evil[COLUMNS.index("utm_source")]) == ("+86 139 0000 0002", "@home")
    gone = values[2]
    assert gone[COLUMNS.index("redacted_at")] == datetime(2026, 11, 20, 12)
    assert gone[COLUMNS.index("consent_version")] == "v6"
    assert [gone[COLUMNS.index(k)] for k in ("name", "tel", "tel_e164", "page_url")] == [None] * 4
    assert values[1][COLUMNS.index("content")] == "\tTab first\nand a second line"


def test_redacted_rows_stay_blank(admin_client, known):
    rows = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in read_csv(admin_client.get(export_url("csv")))[1:]}
    gone = rows["00000000-0000-4000-8000-000000000003"]
    personal = ("name", "tel", "tel_e164", "company", "email", "message", "content", "contact", "page_url")
    assert [gone[k] for k in personal] == [""] * 9
    assert (gone["redacted_at"], gone["consent_version"]) == ("2026-11-20T12:00:00+08:00", "v6")
    body = admin_client.get(export_url("csv")).content.decode("utf-8-sig")
    assert "李四" not in body and "13900000003" not in body and "tel=139" not in body


def test_filters_are_honoured(admin_client, known):
    rows = read_csv(admin_client.get(export_url("csv", "status__exact=failed&kind__exact=lead")))
    assert [r[0] for r in rows[1:]] == ["00000000-0000-4000-8000-000000000003"]
    site = Site.objects.get(name="Other Co")
    rows = read_csv(admin_client.get(export_url("csv", f"site__id__exact={site.pk}")))
    assert [r[0] for r in rows[1:]] == ["00000000-0000-4000-8000-000000000004"]
    ws = read_xlsx(admin_client.get(export_url("xlsx", "status__exact=failed")))
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == [
        "00000000-0000-4000-8000-000000000003",
        "00000000-0000-4000-8000-000000000002",
    ]
    rows = read_csv(admin_client.get(export_url("csv", "utm_source=baidu&click_id=any")))
    assert [r[0] for r in rows[1:]] == ["00000000-0000-4000-8000-000000000001"]


def test_search_is_honoured(admin_client, known):
    rows = read_csv(admin_client.get(export_url("csv", "q=张三")))
    assert [r[0] for r in rows[1:]] == ["00000000-0000-4000-8000-000000000001"]
    # The admin search's phone rule: typed with spaces, found by its digits (the message's contact holds it).
    ws = read_xlsx(admin_client.get(export_url("xlsx", "q=139+0000+0002")))
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == ["00000000-0000-4000-8000-000000000002"]
    rows = read_csv(admin_client.get(export_url("csv", "q=nobody-matches-this&status__exact=failed")))
    assert rows == [list(COLUMNS)]


def test_export_is_audited_without_personal_data(admin_client, admin_user, known, caplog):
    with caplog.at_level(logging.INFO, logger="crm_bridge.privacy"):
        read_csv(admin_client.get(export_url("csv", "status__exact=failed&q=139+0000+0003&o=1")))
    [entry] = PrivacyAuditLog.objects.all()
    assert (entry.action, entry.actor, entry.via, entry.matched_by, entry.rows) == (
        "export", admin_user.username, "admin", "filters", 0,  # redacted: its phone is gone, the search finds none
    )  # fmt: skip
    assert entry.detail == "csv: status__exact=failed; search (term not recorded)"
    [line] = [r.getMessage() for r in caplog.records if r.name == "crm_bridge.privacy"]
    assert line == (
        f"privacy export by {admin_user.username} via admin (matched by filters): 0 submission(s) "
        "[csv: status__exact=failed; search (term not recorded)]"
    )
    read_xlsx(admin_client.get(export_url("xlsx")))
    assert list(PrivacyAuditLog.objects.order_by("at", "pk").values_list("rows", "detail")) == [
        (0, "csv: status__exact=failed; search (term not recorded)"),
        (4, "xlsx: all rows"),
    ]
    # A lookup that is not one of the list's filters could carry anything: its name only.
    read_csv(admin_client.get(export_url("csv", "payload__name=张三")))
    newest = PrivacyAuditLog.objects.order_by("-pk").first()
    assert (newest.rows, newest.detail) == (1, "csv: payload__name=(value not recorded)")
    for text in [*PrivacyAuditLog.objects.values_list("detail", flat=True), caplog.text]:
        assert "139" not in text and "张三" not in text


def test_the_site_key_never_leaves(admin_client, known):
    assert_no_secret(admin_client.get(export_url("csv")).content.decode("utf-8-sig"), SITE_KEY, OTHER_KEY)
    ws = read_xlsx(admin_client.get(export_url("xlsx")))
    cells = " ".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None)
    assert_no_secret(cells, SITE_KEY, OTHER_KEY)


def _staff(username: str, *perms: str) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="crm_bridge"))
    return user


def test_staff_without_the_view_permission_is_refused(client, known):
    client.force_login(_staff("nosy", "view_site"))
    for fmt in ("csv", "xlsx"):
        response = client.get(export_url(fmt))
        assert response.status_code == 403
        assert b"Acme" not in response.content
    assert PrivacyAuditLog.objects.count() == 0


def test_staff_with_the_view_permission_may_export(client, known):
    client.force_login(_staff("viewer", "view_submission"))
    rows = read_csv(client.get(export_url("csv", "kind__exact=lead")))
    assert [r[0] for r in rows[1:]] == [
        "00000000-0000-4000-8000-000000000003",
        "00000000-0000-4000-8000-000000000001",
    ]
    assert list(PrivacyAuditLog.objects.values_list("actor", "rows")) == [("viewer", 2)]


def test_anonymous_is_sent_to_the_login_page(client, known):
    response = client.get(export_url("csv"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert PrivacyAuditLog.objects.count() == 0


def test_bad_filters_and_formats_change_nothing(admin_client, known):
    response = admin_client.get(export_url("csv", "created_at__gte=not-a-date"))
    assert response.status_code == 400
    assert response.content == b"These filters are not valid for the submissions list."
    assert admin_client.get(export_url("pdf")).status_code == 404
    assert PrivacyAuditLog.objects.count() == 0


def test_the_list_links_its_current_filters_to_the_export(admin_client, known):
    body = admin_client.get(CHANGELIST, {"status__exact": "failed", "q": "x"}).content.decode()
    csv_url, xlsx_url = export_url("csv"), export_url("xlsx")
    assert f'href="{csv_url}?q=x&amp;status__exact=failed"' in body
    assert f'href="{xlsx_url}?q=x&amp;status__exact=failed"' in body
    assert body.count('id="crm-export-csv"') == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+86 139", "'+86 139"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        ("", ""),
        ("张三", "张三"),
        (-2, -2),  # numbers are numbers, not text a spreadsheet parses
    ],
)
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected
