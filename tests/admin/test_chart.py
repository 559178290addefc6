"""The dashboard's 14-day charts: exact per-day counts in the site's TIME_ZONE, empty days at 0, exact p50/p95,
the SVG's numbers equal to the table behind it (both parsed from the rendered admin index), accessible markup,
escaping, and both languages."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree as ET
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from crm_bridge.admin import chart
from crm_bridge.admin.dashboard import DAYS, Day, dashboard_data, percentile
from crm_bridge.models import DeliveryAttempt, Submission

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
SVG_NS = "{http://www.w3.org/2000/svg}"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """An aware time on ``day`` in the site's TIME_ZONE (Asia/Shanghai in the tests)."""
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_default_timezone())


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def known(site, make_submission, today):
    """Submissions and CRM calls over several days; returns {days ago: (received, delivered, duplicate, spam,
    failed, other)} for the days that have any."""

    def sub(days_ago: int, status: str, hour: int = 12, minute: int = 0) -> None:
        s = make_submission(status=status)
        Submission.objects.filter(pk=s.pk).update(created_at=local(today - timedelta(days=days_ago), hour, minute))

    for status in ("delivered", "delivered", "failed", "queued"):
        sub(0, status)
    sub(1, "duplicate")
    sub(1, "spam")
    sub(2, "delivered", 23, 30)  # 15:30 UTC on the same date
    # 00:30 local is 16:30 UTC the day before: a UTC day would count these a day early.
    for _ in range(3):
        sub(3, "delivered", 0, 30)
    sub(DAYS - 1, "failed", 0, 5)  # the first day shown, just after its midnight
    sub(DAYS - 1, "cancelled")
    sub(DAYS, "delivered", 23, 55)  # the day before it: not shown
    return {0: (4, 2, 0, 0, 1, 1), 1: (2, 0, 1, 1, 0, 0), 2: (1, 1, 0, 0, 0, 0), 3: (3, 3, 0, 0, 0, 0),
            DAYS - 1: (2, 0, 0, 0, 1, 1)}  # fmt: skip


#: CRM call durations (ms) per day ago, and the nearest-rank p50/p95 each must give.
DURATIONS = {0: [400, 100, 1000, 300, 200], 1: list(range(10, 201, 10))}
EXPECTED_LATENCY = {0: (300, 1000), 1: (100, 190)}
#: All 25 durations together: the 13th and the 24th smallest.
EXPECTED_OVERALL = (120, 400)


@pytest.fixture
def calls(db, today):
    for days_ago, values in DURATIONS.items():
        for ms in values:
            DeliveryAttempt.objects.create(
                endpoint="Customer/Save", outcome="ok", duration_ms=ms,
                started_at=local(today - timedelta(days=days_ago), 9),
            )  # fmt: skip
    when = local(today, 10)
    DeliveryAttempt.objects.create(endpoint="Customer/Save", outcome="skipped", duration_ms=99_999, started_at=when)
    DeliveryAttempt.objects.create(
        endpoint="Customer/Save", outcome="ok", duration_ms=88_888, started_at=local(today - timedelta(days=DAYS), 9)
    )


def as_tuple(day: Day) -> tuple[int, ...]:
    return (day.received, day.delivered, day.duplicate, day.spam, day.failed, day.other)


def test_days_are_counted_in_the_site_time_zone(known, calls, today):
    board = dashboard_data()
    assert [d.day for d in board.days] == [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    by_ago = {(today - d.day).days: d for d in board.days}
    for ago in range(DAYS):
        assert as_tuple(by_ago[ago]) == known.get(ago, (0, 0, 0, 0, 0, 0)), f"{ago} days ago"
    assert sum(d.received for d in board.days) == 12


def test_latency_percentiles_are_exact(calls, today):
    board = dashboard_data()
    by_ago = {(today - d.day).days: d for d in board.days}
    for ago in range(DAYS):
        day = by_ago[ago]
        assert (day.p50_ms, day.p95_ms) == EXPECTED_LATENCY.get(ago, (None, None)), f"{ago} days ago"
        assert day.calls == len(DURATIONS.get(ago, []))
    assert (board.calls, board.p50_ms, board.p95_ms) == (25, *EXPECTED_OVERALL)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([7], 50, 7),
        ([7], 95, 7),
        ([1, 2], 50, 1),
        ([1, 2, 3, 4], 50, 2),
        ([1, 2, 3, 4], 95, 4),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 50, 50),
        ([5, 5, 5, 9], 75, 5),
    ],
)
def test_percentile_nearest_rank(values, p, expected):
    assert percentile(Counter(values), p) == expected


@pytest.mark.parametrize(
    ("peak", "expected"), [(0, (1, 4)), (1, (1, 1)), (3, (1, 3)), (4, (1, 4)), (7, (2, 8)), (10, (5, 10)),
                           (37, (10, 40)), (1000, (500, 1000)), (1234, (500, 1500))],
)  # fmt: skip
def test_nice_scale(peak, expected):
    assert chart.nice_scale(peak) == expected


# --- the rendered page ---------------------------------------------------------------------------------------


def svg(body: str, chart_id: str) -> Element:
    """The inline ``<svg id=chart_id>`` of the page, parsed as XML (so it must be well-formed)."""
    match = re.search(rf'<svg [^>]*id="{chart_id}".*?</svg>', body, re.S)
    assert match, f"no {chart_id}"
    return ET.fromstring(match.group(0))


def chart_values(root: Element) -> dict[tuple[str, str], int]:
    """(day, series) → value of every mark carrying data-value."""
    found: dict[tuple[str, str], int] = {}
    for el in root.iter():
        if "data-value" in el.attrib:
            key = (el.get("data-day"), el.get("data-series"))
            assert key not in found, f"{key} drawn twice"
            found[key] = int(el.get("data-value"))
    return found


class TableParser(HTMLParser):
    """(day, series) → the cell text of ``#crm-days-table``."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.headers: list[str] = []
        self._in_table = self._in_head = False
        self._day = self._series = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "crm-days-table":
            self._in_table = True
        elif self._in_table and tag == "thead":
            self._in_head = True
        elif self._in_table and tag == "tr":
            self._day = a.get("data-day")
        elif self._in_table and tag in ("td", "th"):
            self._series, self._text = a.get("data-series"), []

    def handle_data(self, data):
        if self._in_table:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag == "thead":
            self._in_head = False
        elif self._in_table and tag == "th" and self._in_head:
            self.headers.append("".join(self._text).strip())
        elif self._in_table and tag == "td" and self._series:
            self.cells[(self._day, self._series)] = "".join(self._text).strip()


def table(body: str) -> TableParser:
    parser = TableParser()
    parser.feed(body)
    return parser


def test_the_chart_numbers_equal_the_table_behind_it(admin_client, known, calls, today):
    body = admin_client.get(INDEX).content.decode()
    cells = table(body).cells
    volume = chart_values(svg(body, "crm-chart-volume"))
    latency = chart_values(svg(body, "crm-chart-latency"))
    days = [(today - timedelta(days=ago)).isoformat() for ago in range(DAYS)]
    assert {d for d, _ in volume} == set(days)  # every day drawn, empty ones too
    assert len(volume) == DAYS * 6  # five stacked segments and the total
    for (day, series), value in volume.items():
        assert cells[(day, series)] == str(value), (day, series)
    for (day, series), value in latency.items():
        assert cells[(day, series)] == str(value), (day, series)
    for ago, (p50, p95) in EXPECTED_LATENCY.items():
        day = days[ago]
        assert (latency[(day, "p50")], latency[(day, "p95")]) == (p50, p95)
    # Days without calls: no point on the lines, a dash in the table.
    assert {d for d, _ in latency} == {days[0], days[1]}
    assert (cells[(days[2], "p50")], cells[(days[2], "p95")], cells[(days[2], "calls")]) == ("—", "—", "0")
    # The exact counts, as the table shows them.
    names = ("received", "delivered", "duplicate", "spam", "failed", "other")
    for ago in range(DAYS):
        expected = known.get(ago, (0, 0, 0, 0, 0, 0))
        assert tuple(int(cells[(days[ago], n)]) for n in names) == expected, f"{ago} days ago"
        assert tuple(volume[(days[ago], n)] for n in names) == expected
    assert "25 CRM calls: p50 120 ms, p95 400 ms" in body


def test_the_svg_is_accessible(admin_client, known):
    body = admin_client.get(INDEX).content.decode()
    for chart_id in ("crm-chart-volume", "crm-chart-latency"):
        root = svg(body, chart_id)
        assert root.get("role") == "img"
        assert root.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
        title, desc = root.find(f"{SVG_NS}title"), root.find(f"{SVG_NS}desc")
        assert (title.get("id"), desc.get("id")) == (f"{chart_id}-title", f"{chart_id}-desc")
    volume = svg(body, "crm-chart-volume")
    assert volume.find(f"{SVG_NS}title").text == "Submissions per day, by where they stand now"
    first, last = (timezone.localdate() - timedelta(days=DAYS - 1)), timezone.localdate()
    assert volume.find(f"{SVG_NS}desc").text == (
        f"From {date_format(first, 'DATE_FORMAT')} to {date_format(last, 'DATE_FORMAT')}: 12 received, "
        "6 delivered, 1 duplicate, 1 held as spam, 2 failed, 2 waiting or cancelled. "
        "The table below the charts has each day's numbers."
    )
    latency = svg(body, "crm-chart-latency")
    assert latency.find(f"{SVG_NS}desc").text.startswith("No CRM calls from ")
    parsed = table(body)
    assert parsed.headers == ["day", "received", "delivered", "duplicate", "held as spam", "failed",
                              "waiting or cancelled", "CRM calls", "p50 (ms)", "p95 (ms)"]  # fmt: skip
    assert '<details class="crm-chart-table">' in body


def test_empty_dashboard_draws_zeros(admin_client):
    body = admin_client.get(INDEX).content.decode()
    volume = chart_values(svg(body, "crm-chart-volume"))
    assert len(volume) == DAYS * 6 and set(volume.values()) == {0}
    assert chart_values(svg(body, "crm-chart-latency")) == {}
    cells = table(body).cells
    assert {v for (_, s), v in cells.items() if s not in ("p50", "p95")} == {"0"}
    assert {v for (_, s), v in cells.items() if s in ("p50", "p95")} == {"—"}
    assert "No CRM calls in these days." in body


def test_labels_are_escaped(monkeypatch, today):
    hostile = {k: f'<{k}> & "x"' for k in chart.series_labels()}
    monkeypatch.setattr(chart, "series_labels", lambda: hostile)
    days = [Day(today - timedelta(days=1), received=1, failed=1), Day(today, calls=1, p50_ms=5, p95_ms=9)]
    for markup, tip in ((chart.volume_svg(days), '<failed> & "x" 1'), (chart.latency_svg(days, 5, 9), '<p50> & "x" 5')):
        assert "<failed>" not in markup and "<p50>" not in markup
        root = ET.fromstring(str(markup))  # well-formed: nothing broke out of a text or an attribute
        assert sum(tip in (t.text or "") for t in root.iter(f"{SVG_NS}title")) == 1


def test_the_chart_speaks_chinese(admin_client, known, calls, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        body = admin_client.get(INDEX).content.decode()
    volume = svg(body, "crm-chart-volume")
    assert volume.find(f"{SVG_NS}title").text == "每日收到的提交（按当前状态）"
    assert "收到 12 条" in volume.find(f"{SVG_NS}desc").text
    assert svg(body, "crm-chart-latency").find(f"{SVG_NS}title").text == "每日 CRM 响应时间（p50 与 p95，毫秒）"
    headers = table(body).headers
    assert headers == ["日期", "收到", "已送达", "重复", "疑似垃圾（已拦截）", "失败", "等待中或已取消", "CRM 调用",
                       "p50（毫秒）", "p95（毫秒）"]  # fmt: skip
    assert "最近 14 天" in body
    assert "数字表格" in body
