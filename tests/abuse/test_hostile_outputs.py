"""Hostile text where staff read it outside the admin's HTML: the CSV and XLSX exports (formula injection), the
alert texts as the e-mail and a group robot actually received them (plain text, no header injection), the
alerts' admin list, and the CRM console showing what the CRM sent back. Visitors' strings go in through the
widget API; the robot is the sandbox's stand-in over real HTTP."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from openpyxl import load_workbook

from crm_bridge.admin.export import FORMULA_STARTS
from crm_bridge.alerts import delivery as alert_delivery
from crm_bridge.alerts.models import Alert, AlertDestination
from crm_bridge.sandbox import control, robots

from ..api.conftest import bridge
from .conftest import TALLY, scan_escaped, scan_secrets, seen

pytestmark = [pytest.mark.abuse, pytest.mark.django_db]

FORMULAS = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"]
MARKUP = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "[优惠](https://evil.example)"]
TEMPLATE = "{{ settings.SECRET_KEY }}"
HEADER_INJECTION = "x\r\nBcc: victim@example.com"


@pytest.fixture
def hostile(post, message, lead, site, live_server):
    """Leads and messages carrying the formulas, markup, template syntax and a CR/LF in every free-text field;
    an e-mail destination and the WeCom stand-in alerted on each. Returns the stored ids."""
    control.reset()
    AlertDestination.objects.create(site=site, kind="email", recipients="sales@example.com", on_messages=True)
    AlertDestination.objects.create(
        site=site, kind="wecom", on_messages=True,
        webhook_url=f"{live_server.url}/_robots/wecom/send?key={robots.WECOM_KEY}",
    )  # fmt: skip
    ids = []
    with bridge(THROTTLE_RATES={"ip": "1000/min", "site": "1000/min"}):
        for value in [*FORMULAS, *MARKUP, TEMPLATE, HEADER_INJECTION]:
            for endpoint, data in (
                ("leads", {**lead, "name": value[:50], "company": value, "message": value}),
                ("messages", {**message, "content": value, "contact": value,
                              "source": {"utm_campaign": value, "utm_source": value}}),
            ):  # fmt: skip
                r = seen(post(endpoint, data))
                assert r.status_code == 202, (endpoint, value, r.content)
                ids.append(r.json()["id"])
    return ids


def test_exports_neutralise_formulas(admin_client, hostile):
    csv_answer = seen(admin_client.get(reverse("admin:crm_bridge_submission_export", args=["csv"])))
    xlsx_answer = seen(admin_client.get(reverse("admin:crm_bridge_submission_export", args=["xlsx"])))
    assert csv_answer.status_code == xlsx_answer.status_code == 200
    rows = list(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + len(hostile)
    cells = [cell for row in rows[1:] for cell in row]
    for cell in cells:
        if cell.startswith(FORMULA_STARTS):
            TALLY.unescaped += 1
            pytest.fail(f"CSV export: a cell a spreadsheet would run as a formula: {cell!r}")
    for formula in FORMULAS:  # each is there, neutralised (name, company, message / content, contact, source)
        assert sum(formula in cell for cell in cells) >= 4, formula
        assert any(cell.startswith("'" + formula) for cell in cells), formula
    sheet = load_workbook(io.BytesIO(xlsx_answer.content), read_only=True)["submissions"]
    values = [(cell.value, cell.data_type) for row in sheet.iter_rows(min_row=2) for cell in row if cell.value]
    assert sum(1 for row in sheet.iter_rows(min_row=2)) == len(hostile)
    formulas_typed = [v for v, t in values if t == "f"]
    if formulas_typed:
        TALLY.unescaped += 1
        pytest.fail(f"XLSX export: formula cells {formulas_typed[:3]!r}")
    for formula in FORMULAS:  # shown as typed, as text
        assert (formula, "s") in values, formula
    for body, where in ((csv_answer.content, "CSV export"), (xlsx_answer.content, "XLSX export")):
        scan_secrets(body, [settings.SECRET_KEY, settings.CRM_BRIDGE["TOKEN"]], where)


def test_alert_texts_as_received_are_plain_text(admin_client, hostile):
    for dest in AlertDestination.objects.all():
        while alert_delivery.flush_destination(dest.pk):
            pass
    alerts = Alert.objects.all()
    assert alerts.count() == 2 * len(hostile)
    assert set(alerts.values_list("status", flat=True)) == {"sent"}, list(
        alerts.exclude(status="sent").values("destination__kind", "title", "last_error", "attempts")
    )
    received = robots.received("wecom")
    assert received and all(m["msgtype"] == "text" for m in received)  # never markdown: a link stays text
    assert mail.outbox
    for m in mail.outbox:
        TALLY.requests += 1
        assert m.content_subtype == "plain" and not getattr(m, "alternatives", None)  # no HTML part to run
        assert "\r" not in m.subject and "\n" not in m.subject, m.subject  # no header injection
        assert "victim@example.com" not in m.recipients() + m.bcc
        scan_secrets(m.subject + m.body, [settings.SECRET_KEY, robots.WECOM_KEY], "alert e-mail")
    texts = [m["text"] for m in received] + [m.body for m in mail.outbox]
    TALLY.requests += len(received)
    for needle in [*MARKUP, TEMPLATE]:  # stored as typed and sent as typed: not evaluated, not dropped
        assert any(needle in t for t in texts), needle
    for text in texts:
        scan_secrets(text, [settings.SECRET_KEY, robots.WECOM_KEY, settings.CRM_BRIDGE["TOKEN"]], "alert text")
    for url in (reverse("admin:crm_bridge_alert_changelist"),
                reverse("admin:crm_bridge_alert_change", args=[alerts.first().pk])):  # fmt: skip
        page = seen(admin_client.get(url))
        assert page.status_code == 200
        scan_escaped(page.content, url)


def test_the_console_shows_hostile_crm_data_escaped(admin_client, live_server, settings, site):
    """A customer the CRM holds under a hostile name (what a hostile lead becomes once delivered), read back in
    the console; and hostile parameters typed into the console itself."""
    from crm_bridge import testing

    control.reset()
    settings.CRM_BRIDGE = testing.sandbox_settings(live_server.url)
    console = reverse("admin:crm_bridge_console")
    for name in MARKUP:
        customer = json.dumps({"sName": name}, ensure_ascii=False)
        saved = seen(
            admin_client.post(f"{console}?endpoint=Customer/Save", {"json": customer, "console_confirm": "on"})
        )
        assert saved.status_code == 200
        scan_escaped(saved.content, "console (Customer/Save)")
        result = saved.context.get("result")
        assert result is not None, saved.context.get("form").errors
        assert result.ok, (result.error_class, result.error_message)
        stored = [c for c in control.customers() if c.get("sName") == name]
        assert len(stored) == 1, [c.get("sName") for c in control.customers()]
        shown = seen(admin_client.post(f"{console}?endpoint=Customer/Get", {"id": str(stored[0]["id"])}))
        assert shown.context.get("result") is not None, shown.context["form"].errors
        assert shown.status_code == 200 and shown.context["result"].ok
        assert (
            name in shown.context["result"].value_json or name.replace('"', '\\"') in shown.context["result"].value_json
        )
        scan_escaped(shown.content, "console (Customer/Get)")
        asked = seen(admin_client.post(f"{console}?endpoint=Customer/NameIsRepeat", {"sName": name, "id": "0"}))
        assert asked.status_code == 200
        scan_escaped(asked.content, "console (NameIsRepeat)")
