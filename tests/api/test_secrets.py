"""No served byte — body or header, on success or error — contains a site's CRM siteKey or the CRM token."""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings

from crm_bridge.models import Site

from .conftest import BASE, ORIGIN, SITE_KEY, bridge

pytestmark = pytest.mark.django_db


def test_scan_every_answer_for_secrets(client, post, site, message, lead):
    token = settings.CRM_BRIDGE["TOKEN"]
    secrets = [SITE_KEY, token]
    disabled = Site.objects.create(
        name="Disabled", site_key="SECRET-disabled-key", allowed_origins=[ORIGIN], is_active=False
    )
    secrets.append(disabled.site_key)
    responses = []
    with bridge(THROTTLE_RATES={"ip": "40/min", "site": "1000/min"}, MAX_BODY_BYTES=4096):
        sub_id = post("messages", message, idem="k").json()["id"]
        responses += [
            post("messages", message, idem="k"),
            post("messages", {**message, "content": "other"}, idem="k"),
            post("messages", {**message, "content": ""}),
            post("messages", {**message, "content": "\x00"}),
            post("messages", {**message, "key": SITE_KEY}),  # the CRM siteKey used as a key: refused, not echoed
            post("messages", {**message, "key": disabled.public_key}),
            post("messages", message, origin="https://evil.example"),
            post("messages", raw="x" * 5000),
            post("messages", raw="{bad"),
            post("messages", raw="{}", content_type="text/plain"),
            post("leads", lead),
            post("leads", {**lead, "tel": "bad"}),
            post("leads", {**lead, "website": "bot"}),
            post("hits", {"key": site.public_key, "pkid": 3}),
            post("hits", {"key": site.public_key, "pkid": 0}),
            client.get(BASE + "config", {"key": site.public_key}, HTTP_ORIGIN=ORIGIN),
            client.get(BASE + "config", {"key": SITE_KEY}),
            client.get(f"{BASE}submissions/{sub_id}", {"key": site.public_key}),
            client.get(f"{BASE}submissions/{uuid.uuid4()}", {"key": site.public_key}),
            client.get(BASE + "schema"),
            client.options(BASE + "messages", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"),
        ]
        for _ in range(40):  # until throttled
            r = post("hits", {"key": site.public_key, "pkid": 3})
        responses.append(r)
    assert responses[-1].status_code == 429
    statuses = {r.status_code for r in responses}
    assert {200, 202, 400, 403, 404, 413, 415, 422, 429} <= statuses
    for r in responses:
        served = r.content.decode("utf-8", "replace") + json.dumps(dict(r.items()))
        for secret in secrets:
            assert secret not in served, (r.status_code, secret)
