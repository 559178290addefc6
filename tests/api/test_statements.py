"""What one request costs the database, pinned: issue 9's budget for intake on the embedded default (SQLite, the
database cache, throttle counters in local memory, a site already cached by an earlier request). The same
statements run on PostgreSQL (make test's PostgreSQL + Redis pass runs this file there too); the README's
"Performance and scaling" states them."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_bridge.intake import hitbuffer

from .conftest import BASE, ORIGIN, with_consent

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, as a server makes them


def send(client, endpoint, body, **headers):
    with CaptureQueriesContext(connection) as ctx:
        r = client.generic(
            "POST", BASE + endpoint, json.dumps(body), content_type="application/json", HTTP_ORIGIN=ORIGIN, **headers
        )
    sql = [q["sql"] for q in ctx.captured_queries]
    return r, sql


def commits(sql):
    return sum(1 for s in sql if s.upper().startswith("COMMIT"))


@pytest.fixture(autouse=True)
def _flush_by_hand(monkeypatch):
    monkeypatch.setattr(hitbuffer.HitBuffer, "background", False)  # the test decides when the buffer is written


@pytest.fixture
def warm(client, site, lead):
    """One request first: the site, its allow-list and its alert destinations are then cached."""
    assert send(client, "leads", {**lead, "tel": "13900000000"}, HTTP_IDEMPOTENCY_KEY="warm")[0].status_code == 202


def test_a_lead_costs_one_transaction_of_four_statements(client, lead, warm):
    r, sql = send(client, "leads", lead, HTTP_IDEMPOTENCY_KEY="lead-1")
    assert r.status_code == 202
    # BEGIN IMMEDIATE, INSERT submission, INSERT idempotency record, COMMIT (before issue 9: 21 and 3 commits).
    assert len(sql) == 4, sql
    assert commits(sql) == 1
    assert [s.split()[0] for s in sql] == ["BEGIN", "INSERT", "INSERT", "COMMIT"]


def test_a_lead_without_a_key_is_one_insert(client, lead, warm):
    r, sql = send(client, "leads", {**lead, "tel": "13700000000"})
    assert r.status_code == 202
    assert [s.split()[0] for s in sql] == ["BEGIN", "INSERT", "COMMIT"]


def test_a_message_costs_one_transaction_of_four_statements(client, site, warm):
    body = {"key": site.public_key, "content": "Please call me back", "contact": "13600000000"}
    r, sql = send(client, "messages", with_consent("messages", body), HTTP_IDEMPOTENCY_KEY="message-1")
    assert r.status_code == 202
    assert [s.split()[0] for s in sql] == ["BEGIN", "INSERT", "INSERT", "COMMIT"]


def test_a_repeat_costs_the_rolled_back_inserts_and_one_read(client, lead, warm):
    send(client, "leads", lead, HTTP_IDEMPOTENCY_KEY="again")
    r, sql = send(client, "leads", lead, HTTP_IDEMPOTENCY_KEY="again")
    assert (r.status_code, r["Idempotent-Replayed"]) == (202, "true")
    assert commits(sql) == 0
    assert sum(1 for s in sql if s.startswith("SELECT")) == 1


def test_a_beacon_costs_no_statement(client, site, warm):
    r, sql = send(client, "hits", {"key": site.public_key, "pkid": 5})
    assert r.status_code == 202
    assert sql == []
    assert hitbuffer.buffer.flush() == 1  # the buffer's next flush writes it


def test_a_beacon_with_an_idempotency_key_is_written_with_its_record(client, site, warm):
    r, sql = send(client, "hits", {"key": site.public_key, "pkid": 5}, HTTP_IDEMPOTENCY_KEY="hit-1")
    assert r.status_code == 202
    assert commits(sql) == 1
    assert hitbuffer.buffer.pending() == 0
