"""Schemathesis over the consent and attribution fields of the two writes (``consent``, ``version``, ``source``
and its ten keys): the served schema declares them with their constraints, the fuzzing really sends them (counted
per field, with minimums asserted), and every answer is documented, JSON, never a 5xx, and matches the database.

tests/api/test_fuzz.py fuzzes the whole widget API, but it sets ``consent: true`` and the current ``version`` on
every write (else nearly every case would be the same 400), so those two fields are never fuzzed there. Here they
are left as generated. The fuzz schema is the served one with test_fuzz's ``tighten`` plus one per-site fact the
served schema cannot know: the only ``version`` accepted is the site's current notice version (an ``enum`` of
it, required), so positive cases carry it and negative ones lack it or carry anything else; ``consent`` stays
free (true, false, absent). Two more narrowings keep positive cases reaching the store: the honeypot
``website`` empty, ``tel`` a mainland mobile number (negative cases break both). Messages of this site need no consent
(``consent_required_messages=False``), leads do: both branches of the consent rule are exercised.

Hypothesis drives ``APIOperation.as_strategy`` directly (positive and negative modes, fixed seed, no example
database) so that the counters can be checked once all cases of an operation have run.
"""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers
from schemathesis.generation import GenerationMode

from crm_bridge.intake.serializers import SOURCE_KEYS
from crm_bridge.models import IdempotencyRecord, Submission

from ..api.conftest import bridge
from ..api.test_fuzz import APP, CHECKS, counts, database_matches_answer, served_schema, tighten
from .conftest import ORIGIN, TALLY, seen

pytestmark = [pytest.mark.abuse, pytest.mark.django_db]

EXAMPLES = 120  # per operation; about 2 s each on a busy 2-core machine
FIELDS = ("consent", "version", "source")
#: Floors on how many of an operation's EXAMPLES cases carried each field (``consent=true``: with the value
#: true) and each source key, so a schema or generator change that stops the fuzzing from sending a field fails
#: here rather than passing vacuously. They are a share of the cases, not today's counts: the draws move with
#: anything in the schema (an added parameter bound changes every later draw) and with what else ran first.
#: Seen: ``version`` in about 106 of 120 cases, ``consent`` 29-40, ``source`` 27-39, ``consent: true`` 12-23,
#: each source key 6-19.
MIN_CARRIED = {"version": 80, "consent": 20, "source": 20, "consent=true": 8}
MIN_PER_SOURCE_KEY = 3
#: Floors on the outcomes (today: messages 19 accepted with consent, 71 without, 21 of them storing a source,
#: 30 refused with 400; leads 7 accepted, all with consent, 2 storing a source, 111 refused).
MIN_ACCEPTED_WITH_CONSENT = 6
MIN_SOURCE_STORED = 2
MIN_REFUSED = 25


@pytest.fixture(autouse=True)
def _unthrottled():
    with bridge(THROTTLE_RATES={"ip": "1000000/min", "site": "1000000/min"}):  # throttles: test_access.py
        yield


def test_the_served_schema_declares_the_fields_with_their_constraints(client):
    schemas = served_schema(client)["components"]["schemas"]
    for component in ("Message", "Lead"):
        props = schemas[component]["properties"]
        assert props["consent"]["type"] == "boolean" and props["consent"]["default"] is False
        assert props["version"]["type"] == "string" and props["version"]["maxLength"] == 64
        assert props["source"]["allOf"] == [{"$ref": "#/components/schemas/Source"}]
        assert not {"consent", "version", "source"} & set(schemas[component]["required"])
    source = schemas["Source"]["properties"]
    assert set(source) == set(SOURCE_KEYS)
    assert {k: (v["type"], v["maxLength"]) for k, v in source.items()} == {
        k: ("string", 2000 if k in ("landing", "referrer") else 200) for k in SOURCE_KEYS
    }
    TALLY.requests += 1


@pytest.fixture(autouse=True)
def _same_cases_whatever_was_imported(monkeypatch):
    """Hypothesis mixes into its draws constants it finds in the local modules loaded so far (sys.modules), so a
    seeded, derandomized run still generates other cases when other tests were collected with it; without them
    the counts below are the same in any run (hypothesis 6.1xx; if it moves, the floors still hold loosely)."""
    if hasattr(providers, "_get_local_constants"):
        monkeypatch.setattr(providers, "_get_local_constants", providers.Constants)


@pytest.fixture
def fields_schema(client, site):
    site.consent_required_messages = False
    site.save()
    raw = tighten(copy.deepcopy(served_schema(client)))
    for component in ("Message", "Lead"):
        fields = raw["components"]["schemas"][component]
        fields["properties"]["version"]["enum"] = [site.privacy_version]
        fields["required"].append("version")
        fields["properties"]["website"]["maxLength"] = 0  # a filled honeypot is a 202 that stores nothing
    # A mainland mobile number: a random string almost never is one, and no lead would ever be accepted.
    raw["components"]["schemas"]["Lead"]["properties"]["tel"]["pattern"] = "^1[38][0-9]{9}$"
    config = schemathesis.Config.from_dict({"seed": 4243, "generation": {"deterministic": True, "database": "none"}})
    schema = schemathesis.openapi.from_dict(raw, config=config)
    schema.app = APP
    return schema


def stored_matches(case: schemathesis.Case, response: schemathesis.Response, site) -> str:
    """What the 202 stored is what the fields said; returns the outcome's name for the counters."""
    body = case.body
    sub = Submission.objects.get(pk=response.json()["id"])
    if body.get("consent") is True:
        assert sub.consent is not None and sub.consent["version"] == site.privacy_version, sub.consent
        outcome = "202 with consent"
    else:
        assert sub.consent is None, sub.consent
        assert case.path.endswith("/messages"), "a lead without consent was accepted"
        outcome = "202 without consent"
    assert isinstance(sub.source, dict) and set(sub.source) <= set(SOURCE_KEYS)
    assert all(isinstance(v, str) and v for v in sub.source.values()), sub.source
    for url in ("landing", "referrer"):
        assert sub.source.get(url, "http").startswith("http"), sub.source  # anything else is dropped
    if sub.source:
        outcome += ", source stored"
    return outcome


@pytest.mark.parametrize("endpoint", ["messages", "leads"])
def test_fuzz_consent_and_attribution_fields(fields_schema, site, endpoint):
    operation = fields_schema[f"/crm/widget/v1/{endpoint}"]["POST"]
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    carried: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()

    @seed(4243)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        IdempotencyRecord.objects.all().delete()  # each case is a first request (as in test_fuzz.py)
        if isinstance(case.body, dict):
            case.body["key"] = site.public_key  # only the key and the Origin: the fields stay as generated
            carried.update(f for f in FIELDS if f in case.body)
            if isinstance(case.body.get("source"), dict):
                carried.update(f"source.{k}" for k in SOURCE_KEYS if k in case.body["source"])
            if case.body.get("consent") is True:
                carried["consent=true"] += 1
        case.headers = {**(case.headers or {}), "Origin": ORIGIN}
        before = counts()
        response = case.call()
        TALLY.requests += 1
        TALLY.server_errors += response.status_code >= 500
        case.validate_response(response, checks=[*CHECKS, database_matches_answer(before)])
        assert response.headers["content-type"][0].startswith("application/json"), response.headers
        json.loads(response.content)  # a JSON body, whatever the status
        if response.status_code == 202 and isinstance(case.body, dict) and not case.body.get("website"):
            outcomes[stored_matches(case, response, site)] += 1
        else:
            outcomes[str(response.status_code)] += 1
            TALLY.refused_as_expected += 400 <= response.status_code < 500  # documented (checked above)

    run()
    print(f"\n{endpoint}: carried {dict(carried)}; outcomes {dict(outcomes)}")
    for field, floor in MIN_CARRIED.items():
        assert carried[field] >= floor, (field, dict(carried))
    for key in SOURCE_KEYS:
        assert carried[f"source.{key}"] >= MIN_PER_SOURCE_KEY, (key, dict(carried))
    with_consent = outcomes["202 with consent"] + outcomes["202 with consent, source stored"]
    without_consent = outcomes["202 without consent"] + outcomes["202 without consent, source stored"]
    assert with_consent >= MIN_ACCEPTED_WITH_CONSENT, dict(outcomes)
    assert outcomes["202 with consent, source stored"] + outcomes["202 without consent, source stored"] >= (
        MIN_SOURCE_STORED
    ), dict(outcomes)
    assert outcomes["400"] >= MIN_REFUSED, dict(outcomes)
    if endpoint == "messages":  # consent optional for this site's messages, required for its leads
        assert without_consent >= 3 * MIN_ACCEPTED_WITH_CONSENT, dict(outcomes)
    else:
        assert without_consent == 0, dict(outcomes)


def test_a_lead_without_consent_and_a_stale_version_are_refused(post, lead, site):
    """The two refusals the fuzz relies on, by hand: what consent the site requires for leads holds."""
    body = {k: v for k, v in lead.items() if k != "consent"}
    for data in ({**body, "consent": False}, {**body, "consent": True, "version": "0" * 12}):
        r = seen(post("leads", data))
        assert r.status_code == 400 and r["Content-Type"] == "application/json", r.content
        TALLY.refused_as_expected += 1
    assert Submission.objects.count() == 0
    assert seen(post("leads", lead)).status_code == 202
