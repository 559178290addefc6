"""The widget API with the database unreachable, or hitting a bug: JSON 503 with Retry-After, or JSON 500 —
never Django's HTML error page, whatever DEBUG says.

The database is made unreachable by making every new cursor fail with the driver's own OperationalError (which
Django wraps, as it would a dropped connection): SQLite cannot be stopped under a running test. A real stop of
PostgreSQL is left to the operations tests.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.db import IntegrityError, connection
from rest_framework.test import APIClient

from crm_bridge.intake import cors, errors, store
from crm_bridge.models import HitCounter, Submission

from .conftest import BASE, CRM_TOKEN, ORIGIN, SITE_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> APIClient:
    # As seen from outside: an exception becomes the 500 page a visitor would get, not a test-side raise.
    return APIClient(raise_request_exception=False)


@pytest.fixture(autouse=True)
def _guard_reset() -> Iterator[None]:
    # The default test cache is the database cache: it goes down with the database, and the guard remembers.
    errors.cache_guard.reset()
    errors._db_warned.clear()
    yield
    errors.cache_guard.reset()
    errors._db_warned.clear()


@contextlib.contextmanager
def database_down() -> Iterator[None]:
    """Every cursor fails as with a lost server (undone before the test's own rollback needs one)."""
    error = connection.Database.OperationalError("server closed the connection unexpectedly")
    with mock.patch.object(connection, "create_cursor", side_effect=error):
        yield


def is_json(response: Any) -> bool:
    return response["Content-Type"].split(";")[0] == "application/json"


def assert_503(response: Any) -> None:
    assert response.status_code == 503
    assert is_json(response)
    assert response.json() == {"detail": errors.DB_UNAVAILABLE}
    assert response["Retry-After"] == str(errors.DB_RETRY_AFTER)


@pytest.mark.parametrize("debug", [False, True])
def test_writes_answer_json_503_with_retry_after(post, message, site, settings, debug):
    settings.DEBUG = debug  # Django's technical page with DEBUG, its plain HTML page without: neither here
    with database_down():
        answers = [post("messages", message), post("hits", {"key": site.public_key, "pkid": 1})]
    for r in answers:
        assert_503(r)
    assert (Submission.objects.count(), HitCounter.objects.count()) == (0, 0)


def test_reads_answer_json_503_with_retry_after(client, site):
    with database_down():
        config = client.get(BASE + "config", {"key": site.public_key}, HTTP_ORIGIN=ORIGIN)
        status = client.get(BASE + "submissions/0b6c2d2e-8f7a-4c1e-9d7b-2a4f5e6c7d8e", {"key": site.public_key})
    assert_503(config)
    assert_503(status)


def test_the_database_back_means_202_again(post, message, site):
    with database_down():
        assert_503(post("messages", message))
    r = post("messages", message)
    assert (r.status_code, Submission.objects.count()) == (202, 1)
    assert r["Access-Control-Allow-Origin"] == ORIGIN


def test_a_preflight_with_the_database_down_is_no_500(client, site):
    with database_down():
        r = client.options(
            BASE + "messages",
            HTTP_ORIGIN=ORIGIN,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
        )
    assert r.status_code < 500
    assert "Access-Control-Allow-Origin" not in r  # nothing could be checked: nothing granted


def test_an_outage_warns_once_per_interval_not_once_per_request(post, message, site, caplog):
    caplog.set_level(logging.WARNING, logger="crm_bridge.intake")
    with database_down():
        for _ in range(5):
            assert_503(post("messages", message))
    db_lines = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    # One for the CORS check (which grants nothing), one for the view; five requests.
    assert len(db_lines) == 2
    assert sum("MessagesView" in line for line in db_lines) == 1


@pytest.mark.parametrize(
    "exc",
    [RuntimeError(f"a bug near {SITE_KEY} and {CRM_TOKEN}"), IntegrityError("NOT NULL constraint failed")],
    ids=["bug", "integrity"],
)
def test_an_unexpected_error_is_json_500_logged_with_its_traceback(post, message, site, settings, caplog, exc):
    settings.DEBUG = True
    with mock.patch.object(store, "submit", side_effect=exc):
        r = post("messages", message)
    assert r.status_code == 500
    assert is_json(r)
    assert r.json() == {"detail": "Internal error."}
    assert SITE_KEY not in r.content.decode() and CRM_TOKEN not in r.content.decode()
    logged = [rec for rec in caplog.records if rec.name == "crm_bridge.intake" and rec.levelname == "ERROR"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None and logged[0].exc_info[1] is exc
    assert "MessagesView" in logged[0].getMessage()


def test_a_failing_cors_check_grants_nothing_and_the_view_still_answers(post, message, site, caplog):
    with mock.patch.object(cors, "allowed_origins", side_effect=RuntimeError("a bug in the CORS check")):
        r = post("messages", message)
    assert r.status_code == 202
    assert "Access-Control-Allow-Origin" not in r
    assert [rec.getMessage() for rec in caplog.records if rec.name == "crm_bridge.intake"] == [
        "unexpected error deciding CORS; no grant"
    ]
    assert Submission.objects.count() == 1
