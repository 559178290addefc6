"""Attribution in the no-JavaScript form: the rendering request's URL parameters and Referer travel in a hidden
``source`` field to the stored submission (docs/attribution.md)."""

from __future__ import annotations

import html
import json

import pytest

from crm_bridge.models import Submission

from .test_fallback import _clean, browser_client, form_fields, lead_post, site  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_the_rendering_page_s_tags_and_referer_are_stored(site, browser_client):  # noqa: F811
    page = browser_client.get(
        "/?utm_source=baidu&bd_vid=v1&gclid=ignored", HTTP_REFERER="https://www.baidu.com/"
    ).content.decode()
    posted = html.unescape(form_fields(page, "lead")["source"])  # as a browser would post it
    hidden = json.loads(posted)
    assert hidden == {
        "landing": "http://127.0.0.1/?utm_source=baidu&bd_vid=v1&gclid=ignored",
        "referrer": "https://www.baidu.com/",
        "utm_source": "baidu",
        "bd_vid": "v1",
    }
    assert browser_client.post("/crm/forms/lead", lead_post(page, source=posted)).status_code == 303
    assert Submission.objects.get().source == hidden


def test_a_plain_page_tells_its_url_only(site, browser_client):  # noqa: F811
    page = browser_client.get("/").content.decode()
    assert json.loads(html.unescape(form_fields(page, "lead")["source"])) == {"landing": "http://127.0.0.1/"}


@pytest.mark.parametrize("bad", ["not json", "[1]", json.dumps({"utm_source": "x" * 201}), json.dumps({"bd_vid": 5})])
def test_a_source_the_api_would_refuse_is_dropped_not_shown_to_the_visitor(site, browser_client, bad):  # noqa: F811
    page = browser_client.get("/").content.decode()
    r = browser_client.post("/crm/forms/lead", lead_post(page, source=bad))
    assert r.status_code == 303
    assert Submission.objects.get().source == {}
