"""Every one of the 39 endpoints through crm_bridge's typed client against the sandbox, over a real socket
(pytest-django's ``live_server``; the sandbox is mounted at the site root):

1. success: the exact typed value from the seeded state, and the call's effect on the sandbox's state;
2. a missing required param: ``CRMParamError`` before sending, and the sandbox's own answer to the same form
   sent raw (10016 naming the param) — both sides agree;
3. a wrong type: the same, with 10017;
4. a refused credential (token, or siteKey for the two ECommerce handlers): ``CRMAuthError`` 21301 / 21302,
   without the secret in the error;
5. XML: the same typed value as JSON (see :func:`xml_leaves` for how the two are compared).

The per-endpoint data (kwargs, expected values, effect checks) is ``sandbox_cases.CASES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests

from crm_bridge.crm import ClientConfig, CRMAuthError, CRMClient, CRMParamError, spec
from crm_bridge.crm.endpoints import GROUPS
from crm_bridge.sandbox import control

from .sandbox_cases import CASES, CASES_BY_PATH, SITE_KEY, TOKEN, Case

# Only the sandbox's tables are written here: limiting the flush after each test to them (and skipping the
# post_migrate signal of every app that a full flush sends) saves most of the per-test cost.
pytestmark = pytest.mark.django_db(transaction=True, available_apps=["crm_bridge.sandbox"])

SANDBOX_PATH = "/WebApi/Handler/1.0/CRM/"
# Characters that change under form-, URL-, JSON- and HTML-encoding, so any echo of them would show.
WRONG_TOKEN = "wrong-TOKEN/s3cret+&<x> 77"
WRONG_SITE_KEY = "wrong-siteKey/s3cret+&<y> 88"

WITH_REQUIRED_INPUTS = [e.path for e in spec.ENDPOINTS if any(p.required for p in e.inputs)]
WITH_INPUTS = [e.path for e in spec.ENDPOINTS if e.inputs]
#: String params whose handler reads a comma-separated id list (so a non-id text is a wrong value on the wire).
ID_LISTS = frozenset({"strIds", "pkidList", "custIdString"})
CREDENTIALS = ("token", "siteKey")

#: Values the client must refuse before sending, by wire type.
BAD_FOR_CLIENT: dict[str, list[Any]] = {
    "int32": ["abc", "7", 2**31, -(2**31) - 1, True, 7.0],
    "datetime": ["tomorrow", "2024-02-30 10:00:00", "2024-05-01T09:00:00", 20240501],
    "json": [[1, 2], "[1, 2]", "not json", '"text"', 7],
    "string": [12345, b"bytes"],
}
#: Wire texts the sandbox must answer with 10017, by wire type (and for id lists).
BAD_ON_THE_WIRE: dict[str, list[str]] = {
    "int32": ["abc", "2147483648"],
    "datetime": ["2024-02-30 10:00:00", "2024-05-01T09:00:00"],
    "json": ["[1, 2]", "not json"],
    "id_list": ["abc", "1,x"],
}

# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url + SANDBOX_PATH


@pytest.fixture(scope="module")
def make_client(base_url: str) -> Iterator[Callable[..., CRMClient]]:
    made: list[CRMClient] = []

    def make(**fields: Any) -> CRMClient:
        config = {
            "base_url": base_url,
            "token": TOKEN,
            "site_key": SITE_KEY,
            "connect_timeout": 2.0,
            "read_timeout": 10.0,
            "read_retries": 0,
            **fields,
        }
        client = CRMClient(ClientConfig(**config))
        client.session.trust_env = False  # no *_PROXY between us and 127.0.0.1
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="module")
def client(make_client) -> CRMClient:
    return make_client()


@pytest.fixture(scope="module")
def xml_client(make_client) -> CRMClient:
    return make_client(format="xml")


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """For raw requests to the sandbox, bypassing the client."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


@pytest.fixture(scope="module", autouse=True)
def _leave_the_sandbox_seeded(django_db_setup, django_db_blocker) -> Iterator[None]:
    """A full flush re-seeds the sandbox (its post_migrate hook); the limited one above does not: leave it
    seeded for whatever runs next, as a full flush would."""
    yield
    with django_db_blocker.unblock():
        control.reset()


@pytest.fixture(autouse=True)
def sandbox(live_server, settings):
    """The sandbox in its seeded state, accepting exactly TOKEN and SITE_KEY."""
    settings.CRM_SANDBOX = {"TOKENS": [TOKEN], "SITE_KEYS": [SITE_KEY]}
    control.reset()
    return control


# --- helpers -----------------------------------------------------------------------------------------------


def typed(client: CRMClient, path: str) -> Callable[..., Any]:
    """The generated method for ``path``: ``client.<group>.<method>``."""
    endpoint = spec.get_endpoint(path)
    return getattr(getattr(client, endpoint.group.lower()), endpoint.python_name)


def strict(value: Any) -> str:
    """``value`` as canonical JSON, so that ``True`` and ``1`` (equal in Python) compare different."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def form_text(value: Any) -> str:
    """A case's Python value as the form field a raw caller would send (encoded here, not by the codec)."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    assert isinstance(value, int | str) and not isinstance(value, bool), value
    return str(value)


def raw_form(case: Case) -> dict[str, str]:
    """The success case's form, with the sandbox's credential, keyed by wire name."""
    endpoint = spec.get_endpoint(case.path)
    form = {endpoint.auth: TOKEN if endpoint.auth == "token" else SITE_KEY}
    for param in endpoint.inputs:
        if param.python_name in case.kwargs:
            form[param.name] = form_text(case.kwargs[param.python_name])
    return form


def parsed_json_params(path: str, form: dict[str, str]) -> dict[str, Any]:
    by_name = spec.get_endpoint(path).by_name
    return {k: json.loads(v) if k in by_name and by_name[k].type == "json" else v for k, v in form.items()}


def post_raw(http: requests.Session, base_url: str, path: str, form: dict[str, str]) -> requests.Response:
    return http.post(f"{base_url}{path}.ashx", data=form, timeout=10)


def error_body(path: str, code: int, message: str) -> dict[str, Any]:
    return {"error_code": code, "error": message, "request": "/" + spec.get_endpoint(path).url_path}


def counts() -> dict[str, int]:
    """The sandbox's row counts (not its request counters)."""
    return {k: v for k, v in control.state().items() if k not in ("requests", "calls")}


def xml_leaves(value: Any) -> Any:
    """What the XML form carries of a JSON value, as the codec reads it back.

    The sandbox writes scalars as text (``true``/``false``, integers as digits) and ``None`` as an empty element;
    the codec reads every leaf as a string and every empty element as ``None``. So a JSON value normalises to its
    XML reading by: bool → ``"true"``/``"false"``; number → its digits; ``""``, ``None``, ``{}``, ``[]`` → ``None``;
    objects and non-empty lists recursively. (The top level is typed by the reply kind in both formats; see
    :func:`expected_from_xml`.)
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None or value == "" or value == {} or value == []:
        return None
    if isinstance(value, dict):
        return {key: xml_leaves(child) for key, child in value.items()}
    if isinstance(value, list):
        return [xml_leaves(child) for child in value]
    return value


def expected_from_xml(reply: str, json_value: Any) -> Any:
    """The value an XML client must get where a JSON client got ``json_value``: scalar kinds (bool, count,
    status, int) are typed identically; an object's fields and a list's items' fields are XML leaves."""
    if reply == "object":
        return {key: xml_leaves(child) for key, child in json_value.items()}
    if reply == "list":
        return [{key: xml_leaves(child) for key, child in item.items()} for item in json_value]
    return json_value


# --- the table ---------------------------------------------------------------------------------------------


def test_the_table_has_one_case_per_endpoint():
    paths = [case.path for case in CASES]
    assert len(paths) == len(set(paths)) == 39
    assert set(paths) == {e.path for e in spec.ENDPOINTS}
    for case in CASES:
        endpoint = spec.get_endpoint(case.path)
        names = {p.python_name for p in endpoint.inputs}
        required = {p.python_name for p in endpoint.inputs if p.required}
        assert required <= set(case.kwargs) <= names, case.path
        assert endpoint.group.lower() in GROUPS, case.path
        assert callable(getattr(GROUPS[endpoint.group.lower()], endpoint.python_name)), case.path


# --- 1. success and its effect -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.path)
def test_success_and_its_effect_on_state(client, case):
    value = typed(client, case.path)(**case.kwargs)

    assert value == case.expected
    assert strict(value) == strict(case.expected)  # bool is not int, field by field
    first = control.request_log(case.path)[0]  # the call went over HTTP to the sandbox's view
    assert (first.method, first.http_status, first.error_code) == ("POST", 200, None)
    # The form the client built is the one a raw caller would send (credentials are never logged; JSON params
    # compared as parsed, since spacing is the encoder's choice).
    expected_form = {"format": "json", **{k: v for k, v in raw_form(case).items() if k not in CREDENTIALS}}
    assert parsed_json_params(case.path, first.params) == parsed_json_params(case.path, expected_form)
    case.effect(client)


# --- 2. a missing required param ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", WITH_REQUIRED_INPUTS)
def test_missing_required_param_is_refused_by_both_sides(client, http, base_url, path):
    endpoint, case = spec.get_endpoint(path), CASES_BY_PATH[path]
    required = [p for p in endpoint.inputs if p.required]
    assert required
    before = counts()
    for param in required:
        # The client refuses before sending: nothing reaches the sandbox.
        calls = control.calls()
        with pytest.raises(CRMParamError) as info:
            typed(client, path)(**{**case.kwargs, param.python_name: None})
        err = info.value
        assert err.message == f"missing required parameter(s): {param.name} ({param.type})"
        assert (err.endpoint, err.http_status, err.error_code) == (path, None, None)
        assert control.calls() == calls

        # The sandbox, sent the same form without that param, answers 10016 naming it.
        form = raw_form(case)
        del form[param.name]
        response = post_raw(http, base_url, path, form)
        assert response.status_code == 400
        assert response.json() == error_body(path, 10016, f"miss required parameter ({param.name})")
        assert control.calls() == calls + 1

        if param.type == "string":
            # A blank string passes the client (it is a str) and the sandbox calls it missing: the caller
            # still gets a CRMParamError, now from the CRM's answer.
            with pytest.raises(CRMParamError) as info:
                typed(client, path)(**{**case.kwargs, param.python_name: "  "})
            err = info.value
            assert (err.http_status, err.error_code, err.message) == (
                400,
                10016,
                f"miss required parameter ({param.name})",
            )
            assert control.calls() == calls + 2
    assert counts() == before


def test_a_param_error_found_before_sending_says_it_was_not_sent(client):
    with pytest.raises(CRMParamError) as info:
        client.customer.name_is_repeat(s_name=None, id=0)
    assert control.calls() == 0
    assert info.value.sent is False


# --- 3. a wrong type ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WITH_INPUTS)
def test_wrong_type_is_refused_by_both_sides(client, http, base_url, path):
    endpoint, case = spec.get_endpoint(path), CASES_BY_PATH[path]
    before = counts()
    checked_on_the_wire = 0
    for param in endpoint.inputs:
        calls = control.calls()
        for bad in BAD_FOR_CLIENT[param.type]:
            with pytest.raises(CRMParamError) as info:
                typed(client, path)(**{**case.kwargs, param.python_name: bad})
            err = info.value
            assert err.message.startswith(f"parameter {param.name!r} ({param.type}) "), (bad, err.message)
            assert (err.endpoint, err.http_status, err.error_code) == (path, None, None)
            if isinstance(bad, str) and len(bad) >= 3:
                assert bad not in err.message  # the value is never echoed (it may be personal data)
        assert control.calls() == calls  # nothing was sent

        wire_kind = "id_list" if param.name in ID_LISTS else param.type
        for text in BAD_ON_THE_WIRE.get(wire_kind, []):
            response = post_raw(http, base_url, path, {**raw_form(case), param.name: text})
            assert response.status_code == 400, text
            assert response.json() == error_body(path, 10017, f"parameter ({param.name})'s value invalid"), text
            checked_on_the_wire += 1
        if param.name in ID_LISTS:
            # A str passes the client; the CRM refuses the text and the caller gets a CRMParamError.
            with pytest.raises(CRMParamError) as info:
                typed(client, path)(**{**case.kwargs, param.python_name: "abc"})
            assert (info.value.http_status, info.value.error_code) == (400, 10017)
            assert info.value.message == f"parameter ({param.name})'s value invalid"
    # Only plain strings (par_id, orderID, ims …) have no wrong type on the wire.
    assert checked_on_the_wire == sum(
        len(BAD_ON_THE_WIRE["id_list" if p.name in ID_LISTS else p.type])
        for p in endpoint.inputs
        if p.type != "string" or p.name in ID_LISTS
    )
    assert counts() == before


# --- 4. a refused credential -------------------------------------------------------------------------------


def _spellings(secret: str) -> set[str]:
    return {secret, quote_plus(secret), quote(secret, safe=""), json.dumps(secret)[1:-1], secret.replace("&", "&amp;")}


@pytest.mark.parametrize("path", [e.path for e in spec.ENDPOINTS])
def test_a_refused_credential_is_an_auth_error_without_the_secret(make_client, path):
    endpoint, case = spec.get_endpoint(path), CASES_BY_PATH[path]
    if endpoint.auth == "token":
        # The site key is right: it must not stand in for the token.
        bad, secret, code, message = make_client(token=WRONG_TOKEN), WRONG_TOKEN, 21301, "auth failed (token)"
    else:
        # The token is right: the ECommerce handlers check the siteKey only.
        bad, secret = make_client(site_key=WRONG_SITE_KEY), WRONG_SITE_KEY
        code, message = 21302, "auth failed (siteKey)"
    before = counts()

    with pytest.raises(CRMAuthError) as info:
        typed(bad, path)(**case.kwargs)
    err = info.value

    assert (err.endpoint, err.http_status, err.error_code, err.message) == (path, 401, code, message)
    assert (err.sent, err.retryable, err.attempts) == (True, False, 1)
    assert json.loads(err.reply_text) == error_body(path, code, message)
    assert control.calls(path) == 1  # it reached the sandbox, once
    assert counts() == before  # and changed nothing
    shown = [str(err), repr(err), json.dumps(err.as_dict(), ensure_ascii=False), json.dumps(err.as_dict())]
    for text in shown:
        for spelling in _spellings(secret):
            assert spelling not in text
    logged = json.dumps([r.params for r in control.request_log()], ensure_ascii=False)
    assert secret not in logged and TOKEN not in logged and SITE_KEY not in logged


# --- 5. the XML form ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.path)
def test_xml_gives_the_same_typed_value_as_json(client, xml_client, case):
    reply = spec.get_endpoint(case.path).reply
    json_value = typed(client, case.path)(**case.kwargs)
    control.reset()  # the same starting state, so writes answer alike

    xml_value = typed(xml_client, case.path)(**case.kwargs)

    assert control.request_log(case.path)[0].params["format"] == "xml"
    assert strict(xml_value) == strict(expected_from_xml(reply, json_value))
    if reply not in ("object", "list"):
        assert type(xml_value) is type(case.expected)
    case.effect(client)  # the XML call had the same effect on the sandbox as the JSON one
