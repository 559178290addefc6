"""Structured JSON logs: every line parses as JSON and names the request or the submission it is about; a
lead's way through intake and delivery leaves no token, siteKey or personal data in any line."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from crm_bridge import broker, tasks, testing
from crm_bridge.logging import ContextFilter, JSONFormatter, current_ids, log_context
from crm_bridge.models import Site, Submission

ORIGIN = "https://shop.example.com"


class JSONLog:
    """The lines a JSON-formatted handler on the root logger wrote (formatted when emitted, as in production)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def json_log(caplog) -> Iterator[JSONLog]:
    log = JSONLog()
    handler = logging.StreamHandler(log.stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(ContextFilter())
    caplog.set_level(logging.DEBUG)  # every logger, every level: what is never logged cannot leak
    caplog.set_level(logging.DEBUG, logger="crm_bridge")  # the demo's LOGGING sets crm_bridge's own level
    root = logging.getLogger()
    root.addHandler(handler)
    yield log
    root.removeHandler(handler)


@pytest.fixture
def request_ids(settings):
    """The middleware in front, as docs/operations.md says (the demo has it; tests/settings.py does not)."""
    middleware = "crm_bridge.logging.RequestIDMiddleware"
    settings.MIDDLEWARE = [middleware, *(m for m in settings.MIDDLEWARE if m != middleware)]


def test_listed_twice_the_middleware_gives_one_id(client, settings, db):
    middleware = "crm_bridge.logging.RequestIDMiddleware"
    settings.MIDDLEWARE = [middleware, middleware, *(m for m in settings.MIDDLEWARE if m != middleware)]
    assert client.get("/crm/ops/health/live", HTTP_X_REQUEST_ID="bad id")["X-Request-ID"] != "bad id"
    assert client.get("/crm/ops/health/live", HTTP_X_REQUEST_ID="r-2")["X-Request-ID"] == "r-2"


def test_a_line_is_one_json_object_with_the_ids(json_log):
    logger = logging.getLogger("crm_bridge.test")
    logger.info("outside")
    with log_context(request_id="r-1"):
        with log_context(submission_id=uuid.UUID(int=7)):
            logger.warning("both %s", "ids", extra={"endpoint": "Customer/Save", "request": object()})
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logger.exception("failed")
    assert current_ids() == {"request_id": None, "submission_id": None}
    outside, both, failed = json_log.lines()
    assert outside["message"] == "outside"
    assert (outside["request_id"], outside["submission_id"]) == (None, None)
    assert both["message"] == "both ids"
    assert (both["level"], both["logger"]) == ("WARNING", "crm_bridge.test")
    assert (both["request_id"], both["submission_id"]) == ("r-1", str(uuid.UUID(int=7)))
    assert both["endpoint"] == "Customer/Save"
    assert "request" not in both  # Django's HttpRequest extra: its text is the whole URL
    assert both["timestamp"].endswith("+00:00")
    assert (failed["request_id"], failed["submission_id"]) == ("r-1", None)
    assert "ValueError: boom\nsecond line" in failed["exc_info"]
    assert len(json_log.text.splitlines()) == 3


def test_the_filter_serves_text_formats(json_log):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    with log_context(submission_id="s-9"):
        ContextFilter().filter(record)
    assert (record.request_id, record.submission_id) == ("-", "s-9")
    assert logging.Formatter("[%(request_id)s %(submission_id)s] %(message)s").format(record) == "[- s-9] m"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "kept"),
    [("req-abc.1:2", True), ("bad id\nInjected: 1", False), ("x" * 129, False), ("", False)],
)
def test_request_id_from_the_header_or_new_and_echoed(sent, kept, client, request_ids, json_log):
    response = client.get("/crm/widget/v1/config", {"key": "pk_nope"}, HTTP_X_REQUEST_ID=sent)
    assert response.status_code == 403  # an unknown widget key: Django logs the refusal
    echoed = response["X-Request-ID"]
    if kept:
        assert echoed == sent
    else:
        assert len(echoed) == 32 and int(echoed, 16) >= 0
    request_lines = [line for line in json_log.lines() if line["logger"] == "django.request"]
    assert len(request_lines) == 1
    assert request_lines[0]["request_id"] == echoed
    assert request_lines[0]["status_code"] == 403
    assert "\nInjected" not in json_log.text


@pytest.mark.django_db(transaction=True)  # intake's on_commit hand-off to the broker runs inside the request
def test_a_lead_through_intake_and_delivery_logs_ids_and_nothing_personal(live_server, settings, request_ids, json_log):
    from crm_bridge.sandbox import control

    control.reset()
    settings.CRM_BRIDGE = testing.sandbox_settings(live_server.url)
    site = Site.objects.create(
        name="Shop", site_key=testing.SANDBOX_SITE_KEY, allowed_origins=[ORIGIN], default_cust_id=7
    )
    lead = {
        "key": site.public_key, "name": "王小明", "tel": "138 0013 8000", "company": "示例公司",
        "email": "wang@example.com", "message": "想了解价格", "page_url": ORIGIN + "/products/9",
        **testing.consent(site),
    }  # fmt: skip
    response = APIClient().generic(
        "POST", "/crm/widget/v1/leads", json.dumps(lead), content_type="application/json",
        HTTP_ORIGIN=ORIGIN, HTTP_IDEMPOTENCY_KEY="lead-1", HTTP_X_REQUEST_ID="req-lead-1",
    )  # fmt: skip
    assert response.status_code == 202, response.content
    # The hand-off to the broker runs after the response on the publisher thread: let it finish, so that its
    # lines (kombu's) are not counted as the delivery's.
    assert broker.publisher.join(timeout=30)
    intake_lines = len(json_log.lines())
    sub = Submission.objects.get()
    assert tasks.deliver(str(sub.pk)) == "delivered"

    lines = json_log.lines()  # each parses as JSON
    during_request, during_delivery = lines[:intake_lines], lines[intake_lines:]
    assert during_request, "intake logged nothing: the test would prove nothing"
    assert {line["request_id"] for line in during_request} == {"req-lead-1"}
    assert {line["submission_id"] for line in during_request} == {None}
    crm_lines = [line for line in during_delivery if line["logger"] == "crm_bridge.crm"]
    assert [line["message"].split(" status")[0] for line in crm_lines] == [
        "CRM Customer/NameIsRepeat", "CRM Customer/TelIsRepeat", "CRM Customer/Save",
    ]  # fmt: skip
    # Every line of the delivery names its row; Celery's own (it builds task signatures on a first call, and a
    # worker's main process logs receipt and result) come from its machinery around the task body.
    delivery_lines = [line for line in during_delivery if not line["logger"].startswith("celery.")]
    assert {line["logger"] for line in delivery_lines} == {"crm_bridge.crm", "urllib3.connectionpool"}
    assert {line["submission_id"] for line in delivery_lines} == {str(sub.pk)}
    assert {line["request_id"] for line in delivery_lines} == {None}
    text = json_log.text
    for secret in (testing.SANDBOX_TOKEN, testing.SANDBOX_SITE_KEY, "王小明", "13800138000", "138 0013 8000",
                   "wang@example.com", "示例公司", "想了解价格"):  # fmt: skip
        assert secret not in text, secret
