"""Submission admin and attribution: the source on a submission's page, the utm_source and click-id filters,
search by campaign."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm_bridge.models import Submission

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:crm_bridge_submission_changelist")


def found(client, **query) -> set[str]:
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    return {str(s.pk) for s in response.context["cl"].result_list}


@pytest.fixture
def rows(make_submission) -> dict[str, Submission]:
    return {
        "baidu": make_submission("lead", source={"utm_source": "baidu", "utm_campaign": "Spring-Sale", "bd_vid": "v"}),
        "baidu2": make_submission("message", source={"utm_source": "baidu", "utm_campaign": "autumn"}),
        "360": make_submission("lead", source={"utm_source": "360", "qhclickid": "q"}),
        "ocean": make_submission("lead", source={"clickid": "c", "landing": "https://shop.example/"}),
        "none": make_submission("lead"),
    }


def ids(rows, *names) -> set[str]:
    return {str(rows[n].pk) for n in names}


def test_filter_by_utm_source(admin_client, rows):
    response = admin_client.get(CHANGELIST)
    spec = next(s for s in response.context["cl"].filter_specs if getattr(s, "parameter_name", "") == "utm_source")
    # The most frequent first, then "none".
    assert [c[0] for c in spec.lookup_choices] == ["baidu", "360", "-"]
    assert found(admin_client, utm_source="baidu") == ids(rows, "baidu", "baidu2")
    assert found(admin_client, utm_source="360") == ids(rows, "360")
    assert found(admin_client, utm_source="-") == ids(rows, "ocean", "none")


def test_filter_by_click_id(admin_client, rows):
    assert found(admin_client, click_id="any") == ids(rows, "baidu", "360", "ocean")
    assert found(admin_client, click_id="bd_vid") == ids(rows, "baidu")
    assert found(admin_client, click_id="qhclickid") == ids(rows, "360")
    assert found(admin_client, click_id="clickid") == ids(rows, "ocean")
    assert found(admin_client, click_id="none") == ids(rows, "baidu2", "none")


def test_search_by_campaign(admin_client, rows):
    assert found(admin_client, q="spring-sale") == ids(rows, "baidu")
    assert found(admin_client, q="autumn") == ids(rows, "baidu2")


def test_source_is_shown_escaped_on_the_submission_page(admin_client, make_submission):
    sub = make_submission(
        "lead", source={"landing": "https://shop.example/?a=1&utm_source=<b>x</b>", "utm_source": "<b>x</b>"}
    )
    body = admin_client.get(reverse("admin:crm_bridge_submission_change", args=[sub.pk])).content.decode()
    assert "Where the visit came from" in body
    assert '<th scope="row">landing page</th><td style="word-break:break-all">' in body
    assert "https://shop.example/?a=1&amp;utm_source=&lt;b&gt;x&lt;/b&gt;" in body
    assert '<th scope="row">utm_source</th><td style="word-break:break-all">&lt;b&gt;x&lt;/b&gt;</td>' in body
    assert "<b>x</b>" not in body
    empty = make_submission("lead")
    body = admin_client.get(reverse("admin:crm_bridge_submission_change", args=[empty.pk])).content.decode()
    assert "Where the visit came from" in body
