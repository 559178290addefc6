"""Hostile strings in every field, header and query parameter of the widget API: a clear 400 (JSON, DRF's shape)
or a 202 whose stored row is shown escaped, never evaluated, wherever staff look — the submission changelist and
change page, the CSV export and the alert texts. Never a 5xx, never HTML from the widget API."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.models import Submission

from ..api.conftest import BASE, bridge
from .conftest import ORIGIN, TALLY, escaped, scan_escaped, scan_secrets, seen

pytestmark = [pytest.mark.abuse, pytest.mark.django_db]

#: name → a hostile value.
HOSTILE = {
    "nul": "a\x00b",
    "escape": "\x1b[31mred\x1b[0m",
    "controls": "x\x07\x08\x0b\x0c\x7fy",
    "rtl": "invoice\u202egpj.exe",
    "emoji": "👍🏽👨‍👩‍👧 🎉",
    "sql": "'; DROP TABLE x;--",
    "script": "<script>alert(1)</script>",
    "img": '"><img src=x onerror=alert(1)>',
    "template": "{{ settings.SECRET_KEY }}",
    "tag": "{% debug %}",
    "long": "长" * 1000 + "A" * 3000,  # past every field's limit, within the body limit
    "huge": "A" * 20000,  # past the body limit: 413
}
MESSAGE_FIELDS = ["content", "contact", "page_url", "consent", "version", "key"]
LEAD_FIELDS = ["name", "tel", "company", "email", "message", "page_url", "consent", "version", "key"]
SOURCE_FIELDS = ["landing", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                 "bd_vid", "qhclickid", "clickid"]  # fmt: skip
#: Fields that take any text: hostile markup in them is stored, not refused.
FREE_TEXT = {"content", "contact", "name", "company", "message", *SOURCE_FIELDS[2:]}
OPEN = {"ip": "100000/min", "site": "100000/min"}  # the corpus is no burst; throttles have their own tests


@pytest.fixture
def staff_eye(site, admin_client):
    """``look(ids)`` renders every page staff see of the rows ``ids`` and scans them; an e-mail destination
    alerting on every message and lead makes intake write the alert texts to scan too."""
    AlertDestination.objects.create(site=site, kind="email", recipients="sales@example.com", on_messages=True)
    changelist = reverse("admin:crm_bridge_submission_changelist")

    def look(ids: list[str]) -> None:
        pages = {"changelist": seen(admin_client.get(changelist))}
        for sid in ids:
            pages[f"change {sid}"] = seen(admin_client.get(reverse("admin:crm_bridge_submission_change", args=[sid])))
        for where, page in pages.items():
            assert page.status_code == 200, where
            scan_escaped(page.content, where)
            scan_secrets(page.content, [settings.SECRET_KEY], where)
        export = seen(admin_client.get(reverse("admin:crm_bridge_submission_export", args=["csv"])))
        assert export.status_code == 200
        rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
        assert len(rows) == 1 + Submission.objects.count()
        scan_secrets(export.content, [settings.SECRET_KEY], "CSV export")
        alerts = Alert.objects.filter(submission_id__in=ids)
        assert alerts.count() == len(ids)
        for alert in alerts:
            scan_secrets(alert.title + alert.text, [settings.SECRET_KEY], f"alert {alert.pk}")
            page = seen(admin_client.get(reverse("admin:crm_bridge_alert_change", args=[alert.pk])))
            assert page.status_code == 200
            scan_escaped(page.content, f"alert page {alert.pk}")
            scan_secrets(page.content, [settings.SECRET_KEY], f"alert page {alert.pk}")

    return look


def check_answer(response: Any, *also: int) -> str | None:
    """A clear 400 (or 413 for a body past the limit) in DRF's JSON shape (→ None) or a 202 (→ the stored
    submission's id). ``also``: other refusals the field may get (403 for an unknown ``key``)."""
    seen(response)
    assert response["Content-Type"] == "application/json", response.content[:200]
    body = response.json()
    assert response.status_code in (202, 400, 413, *also), (response.status_code, body)
    assert isinstance(body, dict) and body
    if response.status_code != 202:
        assert all(isinstance(k, str) for k in body)
        TALLY.refused_as_expected += 1
        return None
    return body["id"]


def put(data: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    if field in SOURCE_FIELDS:
        return {**data, "source": {field: value}}
    return {**data, field: value}


def run_corpus(post, look, endpoint: str, data: dict[str, Any], field: str) -> None:
    ids, codes = [], {}
    with bridge(THROTTLE_RATES=OPEN):
        for name, value in HOSTILE.items():
            sid = check_answer(post(endpoint, put(data, field, value)), *((403,) if field == "key" else ()))
            codes[name] = 202 if sid else 400
            if sid:
                ids.append(sid)
                stored = Submission.objects.get(pk=sid)
                assert "\x00" not in json.dumps([stored.payload, stored.source, stored.page_url], ensure_ascii=False)
    if field in FREE_TEXT:  # stored, so the pages below really show the markup (the scans are not vacuous)
        assert [codes[n] for n in ("script", "img", "template", "tag", "sql", "emoji")] == [202] * 6, codes
    look(ids)
    template = [sid for sid in ids if HOSTILE["template"] in stored_text(sid)]
    for sid in template:  # stored as the visitor typed it, and shown so: not evaluated
        page = look_page(sid)
        assert HOSTILE["template"] in page or escaped(HOSTILE["template"]) in page
    if field not in ("landing", "referrer"):  # those two drop what is not an http(s) URL (docs/attribution.md)
        assert len(template) == (1 if codes["template"] == 202 else 0)


def stored_text(sid: str) -> str:
    row = Submission.objects.get(pk=sid)
    return json.dumps([row.payload, row.source, row.page_url, row.consent], ensure_ascii=False)


def look_page(sid: str) -> str:
    client = Client()
    client.force_login(User.objects.get(is_superuser=True))
    return seen(client.get(reverse("admin:crm_bridge_submission_change", args=[sid]))).content.decode()


@pytest.mark.parametrize("field", MESSAGE_FIELDS + SOURCE_FIELDS)
def test_message_fields(post, message, staff_eye, field):
    run_corpus(post, staff_eye, "messages", message, field)


@pytest.mark.parametrize("field", LEAD_FIELDS + SOURCE_FIELDS[:2])
def test_lead_fields(post, lead, staff_eye, field):
    run_corpus(post, staff_eye, "leads", lead, field)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"key": "K", "content": "\\ud800", "contact": "x"}',
        b'{"key": "K", "content": "ok", "contact": "\\udfff\\ud800"}',
        b'{"key": "K", "content": "\xc0\xaf", "contact": "x"}',
        b'{"key": "K", "content": "\xed\xa0\x80", "contact": "x"}',
        b'\xef\xbb\xbf{"key": "K"}',
        b'{"key": "K", "content": "\xff\xfe"}',
    ],
    ids=["lone-high-surrogate", "lone-low-surrogates", "overlong-slash", "utf8-surrogate", "bom", "invalid-bytes"],
)
def test_raw_bodies(post, message, site, raw):
    body = raw.replace(b'"K"', json.dumps(site.public_key).encode())
    with bridge(THROTTLE_RATES=OPEN):
        r = seen(post("messages", raw=body))
    assert r["Content-Type"] == "application/json"
    assert r.status_code == 400, r.content
    assert isinstance(r.json(), dict)
    TALLY.refused_as_expected += 1
    assert Submission.objects.count() == 0


@pytest.mark.parametrize("header", ["HTTP_IDEMPOTENCY_KEY", "HTTP_ACCEPT_LANGUAGE", "HTTP_USER_AGENT",
                                    "HTTP_X_FORWARDED_FOR", "HTTP_ORIGIN"])  # fmt: skip
def test_hostile_headers(post, message, staff_eye, header):
    ids = []
    with bridge(THROTTLE_RATES=OPEN):
        for value in HOSTILE.values():
            if header == "HTTP_ORIGIN":
                r = seen(post("messages", message, origin=value))
                assert (r.status_code, r["Content-Type"]) == (403, "application/json"), r.content[:200]
                TALLY.refused_as_expected += 1
                continue
            # Headers are latin-1 on the wire: what a client can send is the UTF-8 bytes read as latin-1.
            wire = value.encode("utf-8").decode("latin-1")
            sid = check_answer(post("messages", message, **{header: wire}))
            if sid:
                ids.append(sid)
    if header != "HTTP_ORIGIN":
        staff_eye(ids)


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_query_parameters(client, site, value):
    with bridge(THROTTLE_RATES=OPEN):
        config = seen(client.get(BASE + "config", {"key": value}, HTTP_ORIGIN=ORIGIN))
        status = seen(client.get(BASE + "submissions/00000000-0000-4000-8000-000000000001", {"key": value},
                                 HTTP_ORIGIN=ORIGIN))  # fmt: skip
        bad_id = seen(client.get(BASE + "submissions/" + value.replace("/", "")[:200], {"key": site.public_key},
                                 HTTP_ORIGIN=ORIGIN))  # fmt: skip
    for r in (config, status, bad_id):
        assert r["Content-Type"] == "application/json", r.content[:200]
        assert r.status_code in (400, 403, 404), (r.status_code, r.content[:200])
        assert isinstance(r.json(), dict)
        scan_escaped(r.content, "widget API answer")
        TALLY.refused_as_expected += 1
