"""Property-based fuzzing of the widget API from its own OpenAPI schema (schemathesis 4.x).

The schema is the one the app serves at ``widget/v1/schema`` (drf-spectacular), fetched through Django and handed
to ``schemathesis.openapi.from_dict``; requests go in-process to Django's WSGI handler. Every generated request is
given the test site's public key and an allowed ``Origin`` (else everything would be a boring 403); everything else
— bodies, types, sizes, NULs, missing fields, headers, content types — is schemathesis's. Each response must:

* never be a 5xx, and have a documented status code, content type and body shape;
* never contain the site's CRM siteKey or the CRM token (body or headers);
* match the database: a 202 from messages/leads stored exactly one ``Submission`` (none for a honeypot hit or an
  idempotent replay), a 202 from hits added exactly ``accepted`` page views, anything else stored nothing.

Deterministic (fixed seed, derandomized, no example database) and bounded (``MAX_EXAMPLES`` per operation plus
schemathesis's coverage phase), so it can run in CI. Findings are pinned as plain ``xfail(strict=True)`` tests
at the bottom of this file.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.db.models import Sum
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm_bridge.intake import hitbuffer
from crm_bridge.models import HitCounter, IdempotencyRecord, Site, Submission

from ..abuse.tally import TALLY
from .conftest import BASE, ORIGIN, SITE_KEY

# Part of the abuse suite too (`pytest -m abuse`): its requests count into the suite's summary line.
pytestmark = [pytest.mark.django_db, pytest.mark.abuse]

MAX_EXAMPLES = 60  # per operation, fuzzing phase (the coverage phase adds its own deterministic cases)
SEED = 4242
PRINTABLE_ASCII = "^[\\x20-\\x7e]{1,255}$"

ENDPOINTS = {
    "POST /crm/widget/v1/messages",
    "POST /crm/widget/v1/leads",
    "POST /crm/widget/v1/hits",
    "GET /crm/widget/v1/config",
    "GET /crm/widget/v1/submissions/{submission_id}",
}


class DjangoWSGIApp:
    """Django's WSGI handler for in-process calls inside a test's transaction.

    A raw ``WSGIHandler`` runs ``close_old_connections`` on ``request_started``/``request_finished``, which
    would close the connection holding the test's open transaction; Django's own test client disconnects it
    the same way. The body is read whole so ``request_finished`` fires while it is still disconnected.
    """

    def __init__(self) -> None:
        self.handler = WSGIHandler()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            result = self.handler(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                result.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


APP = DjangoWSGIApp()


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    # Throttling has its own tests; here it would turn most of the run into 429s.
    settings.CRM_BRIDGE = {
        **django_settings.CRM_BRIDGE,
        "THROTTLE_RATES": {"ip": "1000000/min", "site": "1000000/min"},
    }


def served_schema(client) -> dict[str, Any]:
    response = client.get(BASE + "schema")
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def tighten(raw: dict[str, Any]) -> dict[str, Any]:
    """Add the constraints the API enforces but the served schema leaves out (see the xfail tests below).

    Without them nearly every positive case of the coverage phase sends ``Idempotency-Key: ""`` and is refused
    with 400 before its body is even looked at, and only ~1 in 20 positive hits bodies is one the API accepts, so
    the bodies and the hit counting would go mostly untested. Negative cases still break every constraint.
    """
    for path in raw["paths"].values():
        for operation in path.values():
            for param in operation.get("parameters", []):
                if param["in"] == "header" and param["name"] == "Idempotency-Key":
                    param["schema"].update(minLength=1, maxLength=255, pattern=PRINTABLE_ASCII)
    hits = raw["components"]["schemas"]["Hits"]
    hits["properties"]["hits"].update(minItems=1, maxItems=50)
    # Either pkid (and count) or hits, not both (HitsSerializer.validate).
    hits["oneOf"] = [
        {"required": ["pkid"], "not": {"required": ["hits"]}},
        {"required": ["hits"], "not": {"anyOf": [{"required": ["pkid"]}, {"required": ["count"]}]}},
    ]
    return raw


@pytest.fixture
def api_schema(client, site):
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        }
    )
    schema = schemathesis.openapi.from_dict(tighten(served_schema(client)), config=config)
    schema.app = APP
    return schema


# --- what every request carries ---------------------------------------------------------------------------------


def with_credentials(case: schemathesis.Case, public_key: str) -> None:
    """The site's key (body for writes, query for reads), an allowed ``Origin`` and, on messages and leads, the
    visitor's consent to the current notice (the site requires it); nothing else is touched."""
    if case.method == "POST":
        if isinstance(case.body, dict):
            case.body["key"] = public_key
            if not case.path.endswith("/hits"):
                case.body.update(consent=True, version=Site.objects.get(public_key=public_key).privacy_version)
        # A body that is not an object cannot carry a key: it must be refused (400) all the same.
    else:
        case.query = {**(case.query or {}), "key": public_key}
    case.headers = {**(case.headers or {}), "Origin": ORIGIN}


# --- custom checks ---------------------------------------------------------------------------------------------


def served_text(response: schemathesis.Response) -> str:
    headers = json.dumps({name: values for name, values in response.headers.items()})
    return response.content.decode("utf-8", "replace") + "\n" + headers


def no_secrets_served(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Neither the CRM siteKey nor the CRM token appears in any served byte (body or headers)."""
    served = served_text(response)
    for name, secret in (("CRM siteKey", SITE_KEY), ("CRM token", django_settings.CRM_BRIDGE["TOKEN"])):
        assert secret not in served, f"{name} served in a {response.status_code} answer"


def counts() -> tuple[int, int]:
    hitbuffer.buffer.flush()  # page views this process still holds in memory
    return Submission.objects.count(), HitCounter.objects.aggregate(n=Sum("pending"))["n"] or 0


def is_replay(response: schemathesis.Response) -> bool:
    return response.headers.get("idempotent-replayed", [""])[0] == "true"


def database_matches_answer(before: tuple[int, int]) -> Callable[..., None]:
    """A check comparing the rows written by this one request with what its answer says."""

    def database_matches_answer(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
        subs, hits = counts()
        new_subs, new_hits = subs - before[0], hits - before[1]
        endpoint = case.path.rsplit("/", 1)[-1]
        status = response.status_code
        if status == 202 and endpoint in ("messages", "leads"):
            honeypot = isinstance(case.body, dict) and bool(case.body.get("website"))
            expected = 0 if (is_replay(response) or honeypot) else 1
            assert new_subs == expected, f"202 stored {new_subs} submissions, expected {expected}"
            if expected:
                sub_id = response.json()["id"]
                assert Submission.objects.filter(pk=sub_id).exists(), f"202 names {sub_id}, which was not stored"
            assert new_hits == 0, "a submission changed the hit counters"
        elif status == 202 and endpoint == "hits":
            accepted = 0 if is_replay(response) else response.json()["accepted"]
            assert new_hits == accepted, f"202 accepted {accepted} page views, counters grew by {new_hits}"
            assert new_subs == 0, "hits created a submission"
        else:
            assert (new_subs, new_hits) == (0, 0), (
                f"a {status} answer changed the database: {new_subs} submissions, {new_hits} page views"
            )

    return database_matches_answer


CHECKS: list[Any] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    no_secrets_served,
]


def call_and_check(case: schemathesis.Case) -> schemathesis.Response:
    before = counts()
    response = case.call()
    TALLY.requests += 1
    TALLY.server_errors += response.status_code >= 500
    case.validate_response(response, checks=[*CHECKS, database_matches_answer(before)])
    TALLY.refused_as_expected += 400 <= response.status_code < 500  # a documented refusal (checked above)
    return response


# --- the fuzz run ----------------------------------------------------------------------------------------------

schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_fuzz_widget_api(case, site):
    # Each case is a first request: a key left over from an earlier case would turn it into a replay or a 422
    # before its body is looked at (the coverage phase sends one key throughout). Replays: test_idempotency.py.
    IdempotencyRecord.objects.all().delete()
    with_credentials(case, site.public_key)
    call_and_check(case)


# --- the harness itself ----------------------------------------------------------------------------------------


def test_fuzz_covers_every_endpoint(api_schema):
    assert {op.ok().label for op in api_schema.get_all_operations()} == ENDPOINTS


def test_credentials_make_a_valid_request_succeed(api_schema, site):
    """Without a working key and Origin every case would be a 403 and the fuzz would prove nothing."""
    message = api_schema["/crm/widget/v1/messages"]["POST"].Case(
        body={"key": "", "content": "hello"}, media_type="application/json"
    )
    with_credentials(message, site.public_key)
    assert call_and_check(message).status_code == 202
    hits = api_schema["/crm/widget/v1/hits"]["POST"].Case(body={"pkid": 7, "count": 3}, media_type="text/plain")
    with_credentials(hits, site.public_key)
    assert call_and_check(hits).json() == {"accepted": 3}
    config = api_schema["/crm/widget/v1/config"]["GET"].Case(query={})
    with_credentials(config, site.public_key)
    assert call_and_check(config).status_code == 200


def test_checks_catch_a_leak_and_a_lost_row(api_schema, site, monkeypatch):
    """The custom checks fail on what they are for: a served secret, a 202 that stored nothing."""
    from crm_bridge.intake import idempotency, store

    message = api_schema["/crm/widget/v1/messages"]["POST"].Case(body={"content": "hi"}, media_type="application/json")
    with_credentials(message, site.public_key)
    monkeypatch.setattr(
        store, "submit", lambda *a, **k: idempotency.Answer(202, {"id": str(uuid.uuid4()), "status": "queued"})
    )
    with pytest.raises(FailureGroup, match="database_matches_answer"):
        call_and_check(message)
    monkeypatch.setattr(store, "submit", lambda *a, **k: idempotency.Answer(202, {"id": SITE_KEY, "status": "queued"}))
    with pytest.raises(FailureGroup, match="no_secrets_served"):
        call_and_check(message)


# --- findings, pinned (xfail strict: each turns into a failure once fixed, so its workaround above goes too) ----


def test_submission_status_malformed_id_answers_json(client, site):
    r = client.get(BASE + "submissions/not-a-uuid", {"key": site.public_key}, HTTP_ORIGIN=ORIGIN)
    assert r.status_code == 404
    assert r["Content-Type"].startswith("application/json"), r["Content-Type"]
    assert "detail" in r.json()


@pytest.mark.parametrize("path", ["config", f"submissions/{uuid.UUID(int=1)}"])
def test_post_to_read_endpoint_is_method_not_allowed(client, site, path):
    r = client.post(BASE + path + f"?key={site.public_key}", HTTP_ORIGIN=ORIGIN)
    assert r.status_code == 405, (r.status_code, r.content)
    assert "GET" in r["Allow"]


def test_schema_documents_what_the_api_refuses(client):
    raw = served_schema(client)
    schemas = raw["components"]["schemas"]
    gaps = []
    for component, field in [("Message", "content"), ("Lead", "name"), ("Lead", "tel"), ("Message", "key")]:
        if schemas[component]["properties"][field].get("minLength") != 1:
            gaps.append(f"{component}.{field}: no minLength 1")
    idem = next(p for p in raw["paths"][BASE + "messages"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    if (idem["schema"].get("minLength"), idem["schema"].get("maxLength")) != (1, 255):
        gaps.append("Idempotency-Key: no 1-255 length bounds")
    if idem["schema"].get("pattern") != "^[\\x20-\\x7E]+$":
        gaps.append("Idempotency-Key: no printable-ASCII pattern")
    hits = schemas["Hits"]["properties"]["hits"]
    if (hits.get("minItems"), hits.get("maxItems")) != (1, 50):
        gaps.append("Hits.hits: no minItems 1 / maxItems 50")
    assert not gaps, gaps


def test_schema_served_for_accept_application_json(client):
    r = client.get(BASE + "schema", HTTP_ACCEPT="application/json")
    assert r.status_code == 200, r.status_code
