"""The client over real HTTP: a local server on 127.0.0.1 answering crafted replies and faults.

Every fault class maps to its error class; timeouts really fire within their limit; retries are exactly as
narrow as promised (counted at the server); credentials travel only in POST bodies; no secret leaks into an
error, a reply record or a log line, even when the server echoes it back.
"""

from __future__ import annotations

import html
import json
import logging
import time
from urllib.parse import quote, quote_plus

import pytest
import requests

from crm_bridge.crm import (
    ClientConfig,
    CRMAuthError,
    CRMBadReply,
    CRMClient,
    CRMConnectionError,
    CRMError,
    CRMNotFound,
    CRMParamError,
    CRMRejected,
    CRMReply,
    CRMServerError,
    CRMTimeout,
    spec,
)

from .conftest import SITE_KEY, TOKEN
from .fake_server import BASE_PATH, Blackhole, Received, Scripted, closed_port, json_reply

XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>'
HTML_PAGE = "<!DOCTYPE html><html><head><title>Server Error</title></head><body><h1>Runtime Error</h1></body></html>"


def html_reply(status: int, page: str = HTML_PAGE) -> Scripted:
    return Scripted(status=status, body=page, headers={"Content-Type": "text/html; charset=utf-8"})


def envelope(code: int, status: int, message: str = "refused") -> Scripted:
    return json_reply({"error_code": code, "error": message, "request": "/x.ashx"}, status=status)


# --- the request on the wire --------------------------------------------------------------------------------


def test_a_call_is_one_post_with_params_and_token_in_the_form_body(fake_crm, make_client):
    fake_crm.reply(json_reply({"value": False}))
    client = make_client()

    assert client.customer.name_is_repeat(s_name="上海某某公司", id=0) is False

    [received] = fake_crm.requests
    assert received.method == "POST"
    assert received.target == f"{BASE_PATH}Customer/NameIsRepeat.ashx"  # no query string: nothing in the URL
    assert received.form == {"sName": "上海某某公司", "id": "0", "token": TOKEN, "format": "json"}
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert received.headers["User-Agent"].startswith("crm-bridge/")
    assert received.headers["Accept"] == "application/json"


def test_request_returns_the_whole_reply(fake_crm, make_client):
    body = '{"value": {"id": 5, "name": "上海某某公司"}}'
    fake_crm.reply(Scripted(body=body, headers={"Content-Type": "application/json"}))

    reply = make_client().request("Customer/Get", {"id": 5})

    assert isinstance(reply, CRMReply)
    assert reply.endpoint == "Customer/Get"
    assert reply.value == {"id": 5, "name": "上海某某公司"}
    assert reply.http_status == 200
    assert reply.format == "json"
    assert reply.attempts == 1
    assert reply.reply_text == body
    assert 0 < reply.elapsed < 5
    assert reply.as_dict()["value"] == {"id": 5, "name": "上海某某公司"}


def test_ecommerce_sends_the_site_key_not_the_token(fake_crm, make_client):
    client = make_client(site_key=None)
    site = client.with_site_key(SITE_KEY)

    assert site.ecommerce.add_message_board(cust_id=7, content="你好") is True

    [received] = fake_crm.requests
    assert received.target == f"{BASE_PATH}ECommerce/AddMessageBoard.ashx"
    assert received.form == {"custID": "7", "content": "你好", "siteKey": SITE_KEY, "format": "json"}
    assert site.session is client.session  # one pool for every site


def test_with_site_key_copy_does_not_close_the_shared_session(fake_crm, make_client):
    client = make_client()
    with client.with_site_key("another") as site:
        site.ecommerce.update_base_info_hit(pkid=1, add_hit=2)
    assert client.customer.tel_is_repeat(tel="021", id=0) is True
    assert [r.form.get("siteKey") for r in fake_crm.requests] == ["another", None]


def test_xml_format(fake_crm, make_client):
    fake_crm.reply(
        Scripted(
            body=f"{XML_HEAD}<response><value><item><id>1</id><name>甲</name></item></value></response>",
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
    )
    reply = make_client(format="xml").request("LinkMan/GetList", {"custId": 3})
    assert reply.value == [{"id": "1", "name": "甲"}]
    assert reply.format == "xml"
    assert fake_crm.requests[0].form["format"] == "xml"
    assert fake_crm.requests[0].headers["Accept"] == "application/xml, text/xml"


@pytest.mark.parametrize(
    ("fields", "path", "params", "message"),
    [
        ({"token": None}, "Customer/Get", {"id": 1}, "ClientConfig.token is not set"),
        (
            {"site_key": None},
            "ECommerce/UpdateBaseInfoHit",
            {"pkid": 1, "addHit": 1},
            "ClientConfig.site_key is not set",
        ),
    ],
)
def test_a_missing_credential_is_named_and_nothing_is_sent(fake_crm, make_client, fields, path, params, message):
    with pytest.raises(CRMAuthError, match=message) as info:
        make_client(**fields).call(path, params)
    assert info.value.sent is False
    assert fake_crm.requests == []


def test_param_errors_are_raised_before_sending(fake_crm, make_client):
    client = make_client()
    with pytest.raises(CRMParamError, match=r"'id' \(int32\) must be an int, got bool"):
        client.customer.get(id=True)
    with pytest.raises(CRMParamError, match=r"'token' is a credential"):
        client.call("Customer/Get", {"id": 1, "token": "x"})
    with pytest.raises(CRMRejected, match=r"no CRM endpoint 'Customer/Nope'"):
        client.call("Customer/Nope")
    assert fake_crm.requests == []


def test_every_request_has_a_timeout_and_does_not_follow_redirects(fake_crm):
    seen: list[dict] = []

    class RecordingSession(requests.Session):
        def request(self, method, url, **kwargs):
            seen.append({"method": method, "url": url, **kwargs})
            return super().request(method, url, **kwargs)

    session = RecordingSession()
    client = CRMClient(base_url=fake_crm.base_url, token=TOKEN, connect_timeout=1.5, read_timeout=4.0, session=session)
    client.contract.contract_audit(id=1)
    client.close()  # an injected session is the caller's: not closed

    assert seen[0]["method"] == "POST"
    assert seen[0]["timeout"] == (1.5, 4.0)
    assert seen[0]["allow_redirects"] is False
    assert "?" not in seen[0]["url"]
    assert session.adapters  # still usable
    client.contract.contract_audit(id=1)
    assert len(fake_crm.requests) == 2


def test_the_default_session_pools_and_has_no_urllib3_retries(make_client):
    client = make_client()
    adapter = client.session.get_adapter("https://crm.example.com/")
    assert adapter.max_retries.total == 0
    assert adapter is client.session.get_adapter("http://crm.example.com/")


# --- faults → error classes ---------------------------------------------------------------------------------

FAULTS = [
    # (scripted reply, error class, http_status)
    pytest.param(html_reply(503), CRMServerError, 503, id="503-html"),
    pytest.param(Scripted(status=502, body=b"\x00\x9fgarbage"), CRMServerError, 502, id="502-garbage"),
    pytest.param(Scripted(status=500), CRMServerError, 500, id="500-empty"),
    pytest.param(html_reply(200), CRMBadReply, 200, id="200-html"),
    pytest.param(Scripted(body=b"Service Unavailable"), CRMBadReply, 200, id="200-garbage"),
    pytest.param(Scripted(body=b'{"value": {"id": 5, "na'), CRMBadReply, 200, id="200-truncated-json"),
    pytest.param(Scripted(body=f"{XML_HEAD}<response><value>tr"), CRMBadReply, 200, id="200-truncated-xml"),
    pytest.param(Scripted(status=200), CRMBadReply, 200, id="200-empty"),
    pytest.param(Scripted(status=204), CRMBadReply, 204, id="204"),
    pytest.param(json_reply({"value": [1, 2]}), CRMBadReply, 200, id="value-of-wrong-kind"),
    pytest.param(json_reply({"result": True}), CRMBadReply, 200, id="missing-value"),
    pytest.param(html_reply(401), CRMAuthError, 401, id="401-html"),
    pytest.param(html_reply(403), CRMAuthError, 403, id="403-html"),
    pytest.param(html_reply(404), CRMServerError, 404, id="404-html"),  # path not served: retry, not "no record"
    pytest.param(html_reply(400), CRMRejected, 400, id="400-html"),
    pytest.param(html_reply(429), CRMServerError, 429, id="429-html"),
    pytest.param(Scripted(status=302, headers={"Location": "https://elsewhere/"}), CRMRejected, 302, id="302"),
    pytest.param(envelope(99999, 400), CRMRejected, 400, id="unknown-code-400"),
    pytest.param(envelope(99999, 503), CRMServerError, 503, id="unknown-code-503"),
    pytest.param(envelope(99999, 200), CRMRejected, 200, id="unknown-code-200"),
]


@pytest.mark.parametrize(("scripted", "error_class", "status"), FAULTS)
def test_faults_map_to_error_classes(fake_crm, make_client, scripted, error_class, status):
    fake_crm.reply(scripted)
    with pytest.raises(CRMError) as info:
        make_client(read_retries=0).customer.get(id=5)
    err = info.value
    assert type(err) is error_class
    assert err.http_status == status
    assert err.endpoint == "Customer/Get"
    assert err.sent is True
    assert err.attempts == 1
    assert err.elapsed is not None and err.elapsed >= 0
    assert "\n" not in str(err)


def test_a_redirect_is_reported_with_its_target(fake_crm, make_client):
    fake_crm.reply(Scripted(status=301, headers={"Location": "https://crm.example.com/new/"}))
    with pytest.raises(CRMRejected, match=r"unexpected redirect \(HTTP 301\) to https://crm.example.com/new/"):
        make_client().contract.stop_contract(id=1)
    assert len(fake_crm.requests) == 1  # not followed


def test_a_body_broken_off_mid_way_is_a_bad_reply(fake_crm, make_client):
    fake_crm.reply(Scripted(body=b'{"value": tr', action="truncate"))
    with pytest.raises(CRMBadReply, match=r"reply body broken off") as info:
        make_client().customer.save(json={"name": "x"})
    assert isinstance(info.value.__cause__, requests.exceptions.ChunkedEncodingError)


def test_a_dropped_connection_is_a_connection_error(fake_crm, make_client):
    fake_crm.reply(Scripted(action="close"))
    with pytest.raises(CRMConnectionError, match=r"connection broken") as info:
        make_client().customer.save(json={"name": "x"})
    assert info.value.sent is None  # it may have reached the CRM: ambiguous for a write
    assert isinstance(info.value.__cause__, requests.ConnectionError)


def test_a_refused_connection(make_client):
    client = make_client(base_url=f"http://127.0.0.1:{closed_port()}/CRM/", read_retries=2)
    with pytest.raises(CRMConnectionError, match=r"could not connect to 127\.0\.0\.1:\d+") as info:
        client.customer.get(id=1)
    assert info.value.sent is False
    assert info.value.attempts == 3  # read-only: retried
    with pytest.raises(CRMConnectionError) as info:
        client.customer.save(json={})
    assert info.value.attempts == 1  # a write: never retried in-line


def test_reply_size_is_capped(fake_crm, make_client):
    fake_crm.reply(json_reply({"value": [{"x": "y" * 1000}] * 20}))
    with pytest.raises(CRMBadReply, match=r"larger than max_reply_bytes=4096"):
        make_client(max_reply_bytes=4096).linkman.get_list(cust_id=1)


def test_tolerated_replies(fake_crm, make_client):
    client = make_client()
    fake_crm.reply(
        Scripted(body=b'\xef\xbb\xbf{"value": "True"}', headers={"Content-Type": "text/html"}),
        Scripted(status=201, body='{"value": "3"}'),
    )
    assert client.customer.save(json='{"name": "x"}') is True
    assert client.linkman.delete_link_man(id=3) == 3


# --- CRM error codes ----------------------------------------------------------------------------------------

# Written out, not derived from errors.py, so a change to the map has to be made on purpose in both places.
EXPECTED_BY_CATEGORY = {
    "internal": CRMServerError,
    "unavailable": CRMServerError,
    "rate_limited": CRMServerError,
    "auth": CRMAuthError,
    "missing_param": CRMParamError,
    "invalid_param": CRMParamError,
    "not_found": CRMNotFound,
    "unknown_endpoint": CRMRejected,
}


@pytest.mark.parametrize("code", sorted(spec.ERROR_CODES))
@pytest.mark.parametrize("http_status", ["table", 200], ids=["table-status", "status-200"])
def test_each_error_code_maps_to_its_class(fake_crm, make_client, code, http_status):
    row = spec.ERROR_CODES[code]
    status = row.http_status if http_status == "table" else 200
    fake_crm.reply(envelope(code, status, row.message))
    with pytest.raises(CRMError) as info:
        make_client(read_retries=0).customer.get(id=5)
    err = info.value
    assert type(err) is EXPECTED_BY_CATEGORY[row.category]
    assert err.error_code == code
    assert err.http_status == status
    assert err.message == row.message


def test_xml_error_envelope(fake_crm, make_client):
    fake_crm.reply(
        Scripted(
            status=401,
            body=f"{XML_HEAD}<hash><request>/x.ashx</request><error_code>21302</error_code>"
            "<error>auth failed (siteKey)</error></hash>",
        )
    )
    with pytest.raises(CRMAuthError) as info:
        make_client(format="xml").ecommerce.update_base_info_hit(pkid=1, add_hit=1)
    assert (info.value.error_code, info.value.http_status, info.value.message) == (21302, 401, "auth failed (siteKey)")


# --- timeouts -----------------------------------------------------------------------------------------------


def test_a_read_timeout_fires_within_the_limit(fake_crm, make_client):
    fake_crm.reply(Scripted(body='{"value": true}', delay=5.0))
    client = make_client(read_timeout=0.5, read_retries=0)
    started = time.monotonic()
    with pytest.raises(CRMTimeout, match=r"no reply in time") as info:
        client.customer.get(id=1)
    waited = time.monotonic() - started
    assert 0.5 <= waited < 2.5
    assert info.value.sent is True
    assert isinstance(info.value.__cause__, requests.ReadTimeout)


def test_a_stalled_body_is_a_timeout(fake_crm, make_client):
    fake_crm.reply(Scripted(body=b'{"value": ', action="stall_body", delay=5.0))
    started = time.monotonic()
    with pytest.raises(CRMTimeout):
        make_client(read_timeout=0.5).customer.save(json={"a": 1})
    assert 0.5 <= time.monotonic() - started < 2.5


def test_a_connect_timeout_fires_within_the_limit(make_client):
    hole = Blackhole()
    try:
        if not hole.ok:
            pytest.skip("could not fill a listen queue here, so connecting does not hang")
        client = make_client(base_url=f"http://127.0.0.1:{hole.port}/CRM/", connect_timeout=0.5, read_retries=0)
        started = time.monotonic()
        with pytest.raises(CRMTimeout, match=r"connect timed out") as info:
            client.customer.get(id=1)
        assert 0.5 <= time.monotonic() - started < 2.5
        assert info.value.sent is False
    finally:
        hole.close()


# --- retries ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("retries", [0, 1, 2, 3])
def test_read_only_calls_retry_exactly_read_retries_times_on_503(fake_crm, make_client, retries):
    fake_crm.reply(html_reply(503))
    with pytest.raises(CRMServerError) as info:
        make_client(read_retries=retries).customer.get(id=1)
    assert len(fake_crm.requests) == retries + 1
    assert info.value.attempts == retries + 1


def test_writes_are_sent_exactly_once_on_503(fake_crm, make_client):
    fake_crm.reply(html_reply(503))
    with pytest.raises(CRMServerError):
        make_client(read_retries=3).customer.save(json={"name": "x"})
    assert len(fake_crm.requests) == 1


def test_a_retry_that_succeeds_returns_the_value(fake_crm, make_client):
    fake_crm.reply(html_reply(503), envelope(10002, 503), json_reply({"value": 4}))
    reply = make_client(read_retries=2).request("ContactPlan/GetContactPlanCount")
    assert (reply.value, reply.attempts, len(fake_crm.requests)) == (4, 3, 3)


@pytest.mark.parametrize(
    "scripted",
    [
        pytest.param(html_reply(400), id="400"),
        pytest.param(html_reply(429), id="429"),
        pytest.param(envelope(10001, 200), id="error-in-a-200"),
        pytest.param(html_reply(200), id="bad-reply"),
        pytest.param(envelope(21301, 401), id="auth"),
    ],
)
def test_read_only_calls_do_not_retry_other_failures(fake_crm, make_client, scripted):
    fake_crm.reply(scripted)
    with pytest.raises(CRMError):
        make_client(read_retries=3).customer.get(id=1)
    assert len(fake_crm.requests) == 1


def test_read_only_calls_retry_timeouts_and_writes_do_not(fake_crm, make_client):
    fake_crm.reply(Scripted(body='{"value": true}', delay=5.0))
    with pytest.raises(CRMTimeout):
        make_client(read_timeout=0.3, read_retries=1).customer.tel_is_repeat(tel="1", id=0)
    assert len(fake_crm.requests) == 2
    with pytest.raises(CRMTimeout):
        make_client(read_timeout=0.3, read_retries=1).customer.save(json={"a": 1})
    assert len(fake_crm.requests) == 3


@pytest.mark.parametrize(("attempt", "base"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (10, 4.0)])
def test_back_off_is_capped_exponential_with_jitter(attempt, base):
    client = CRMClient(base_url="http://127.0.0.1:9/", retry_backoff=1.0, retry_backoff_max=4.0)
    delays = [client._sleep_time_seconds(attempt) for _ in range(200)]
    assert all(max(1.0, base / 2) <= d <= base for d in delays)
    if base > 1.0:
        assert len(set(delays)) > 1  # jittered


# --- secrets ------------------------------------------------------------------------------------------------


def secret_spellings() -> set[str]:
    out = set()
    for secret in (TOKEN, SITE_KEY):
        out |= {secret, quote_plus(secret), quote(secret, safe=""), json.dumps(secret)[1:-1], html.escape(secret)}
    return out


def leaks(text: str) -> list[str]:
    """Spellings of a secret found in ``text``. Both secrets contain ``SECRET``, which no encoding alters: its
    presence in any form (double-encoded, cut in half …) counts."""
    found = [s for s in secret_spellings() if s in text]
    return found + (["SECRET"] if "SECRET" in text else [])


def echo_everything(received: Received) -> str:
    """Everything a careless server could echo: the raw form body and each credential, raw and escaped."""
    form = received.form
    secret = form.get("token") or form.get("siteKey") or ""
    return f"body={received.body.decode()} raw={secret} html={html.escape(secret)} url={quote(secret)}"


def echoing(status: int, shape: str):
    def respond(received: Received) -> Scripted:
        echo = echo_everything(received)
        if shape == "json-error":
            code = {401: 21301, 400: 10016, 404: 20101, 410: 10020, 500: 10001}[status]
            status_ = 404 if status == 410 else status
            return json_reply({"error_code": code, "error": f"bad {echo}", "request": f"/x?{echo}"}, status=status_)
        if shape == "xml-error":
            body = f"{XML_HEAD}<hash><error_code>21302</error_code><error>{html.escape(echo)}</error></hash>"
            return Scripted(status=status, body=body)
        if shape == "html":
            return html_reply(status, f"<html><body><pre>{html.escape(echo)}</pre>{echo}</body></html>")
        if shape == "redirect":
            secret = received.form.get("token") or received.form.get("siteKey") or ""
            location = f"https://x/{quote(secret)}/login?t={quote(echo)}"  # in the path (kept) and query (dropped)
            return Scripted(status=302, headers={"Location": location})
        if shape == "huge":
            return Scripted(status=200, body=echo * 200)
        return Scripted(status=status, body=echo)  # garbage

    return respond


SCRUB_CASES = [
    pytest.param(echoing(401, "json-error"), CRMAuthError, id="auth"),
    pytest.param(echoing(400, "json-error"), CRMParamError, id="param"),
    pytest.param(echoing(404, "json-error"), CRMNotFound, id="not-found"),
    pytest.param(echoing(410, "json-error"), CRMRejected, id="rejected"),
    pytest.param(echoing(500, "json-error"), CRMServerError, id="server-envelope"),
    pytest.param(echoing(503, "html"), CRMServerError, id="server-html"),
    pytest.param(echoing(401, "xml-error"), CRMAuthError, id="xml-auth"),
    pytest.param(echoing(200, "garbage"), CRMBadReply, id="bad-reply"),
    pytest.param(echoing(200, "huge"), CRMBadReply, id="bad-reply-oversize"),
    pytest.param(echoing(302, "redirect"), CRMRejected, id="redirect"),
    pytest.param(lambda r: Scripted(body=echo_everything(r), delay=5.0), CRMTimeout, id="timeout"),
    pytest.param(lambda r: Scripted(action="close"), CRMConnectionError, id="connection"),
]


def chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def assert_no_secret_in_error(err: CRMError, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(err), repr(err), json.dumps(err.as_dict(), ensure_ascii=False), err.reply_text or ""]
    texts += [f"{type(e).__name__}: {e!s} {e!r}" for e in chain(err)]
    texts.append(caplog.text)
    texts += [record.getMessage() for record in caplog.records]
    for text in texts:
        assert leaks(text) == [], text


@pytest.mark.parametrize(("responder", "error_class"), SCRUB_CASES)
@pytest.mark.parametrize("endpoint", ["token", "siteKey"])
def test_no_secret_leaks_from_any_error(fake_crm, make_client, caplog, responder, error_class, endpoint):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    fake_crm.respond_with(responder)
    client = make_client(read_timeout=0.3, read_retries=0, max_reply_bytes=20_000)
    with pytest.raises(CRMError) as info:
        if endpoint == "token":
            client.customer.save(json={"name": "x"})
        else:
            client.ecommerce.add_message_board(cust_id=1, content="x")
    err = info.value
    assert type(err) is error_class
    sent = fake_crm.requests[0].form
    assert sent.get("token" if endpoint == "token" else "siteKey") in (TOKEN, SITE_KEY)  # the echo was real
    if error_class not in (CRMTimeout, CRMConnectionError):
        assert "***" in (err.reply_text or "") + err.message
    assert_no_secret_in_error(err, caplog)


def test_a_client_side_param_error_does_not_echo_a_credential(fake_crm, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CRMParamError) as info:
        make_client().call("Customer/Get", {"id": 1, "token": TOKEN})
    assert_no_secret_in_error(info.value, caplog)


def test_no_secret_in_a_successful_reply_record_or_log(fake_crm, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    fake_crm.respond_with(lambda r: json_reply({"value": {"echo": echo_everything(r)}}))
    client = make_client()
    reply = client.request("Customer/Get", {"id": 1})
    assert TOKEN in reply.value["echo"]  # the data is the caller's, untouched …
    for text in (reply.reply_text, repr(replace_value(reply)), caplog.text, repr(client), repr(client.config)):
        assert leaks(text) == [], text  # … but the record, logs and reprs are clean


def replace_value(reply: CRMReply) -> CRMReply:
    return CRMReply(**{**reply.__dict__, "value": None})


def test_config_repr_masks_credentials():
    config = ClientConfig(base_url="https://crm.example.com/CRM", token=TOKEN, site_key=SITE_KEY)
    assert leaks(repr(config)) == []
    assert leaks(str(CRMClient(config))) == []
    assert "token='***'" in repr(config)
    assert config.base_url == "https://crm.example.com/CRM/"


# --- logging ------------------------------------------------------------------------------------------------


def test_one_log_line_per_call_without_params(fake_crm, make_client, caplog):
    caplog.set_level(logging.DEBUG, logger="crm_bridge.crm")
    make_client().customer.name_is_repeat(s_name="上海某某公司", id=12345)
    records = [r for r in caplog.records if r.name == "crm_bridge.crm"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert message.startswith("CRM Customer/NameIsRepeat status=200 in ")
    assert " ms (attempts=1)" in message
    assert "上海某某公司" not in caplog.text
    assert "12345" not in caplog.text


def test_a_failed_call_logs_its_class_and_status(fake_crm, make_client, caplog):
    caplog.set_level(logging.INFO, logger="crm_bridge.crm")
    fake_crm.reply(html_reply(503))
    with pytest.raises(CRMServerError):
        make_client(read_retries=1).customer.get(id=1)
    [record] = [r for r in caplog.records if r.name == "crm_bridge.crm"]
    assert record.getMessage().startswith("CRM Customer/Get failed: CRMServerError status=503 error_code=None in ")
    assert record.getMessage().endswith("(attempts=2)")


# --- config -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"base_url": "crm.example.com"}, "base_url must be an http"),
        ({"base_url": "ftp://crm.example.com/"}, "base_url must be an http"),
        ({"base_url": "https://crm.example.com/?a=1"}, "query string"),
        ({"format": "yaml"}, "format must be"),
        ({"read_timeout": 0}, "read_timeout must be > 0"),
        ({"read_retries": -1}, "read_retries must be an int >= 0"),
        ({"read_retries": True}, "read_retries must be an int >= 0"),
    ],
)
def test_config_refuses_what_cannot_work(fields, message):
    with pytest.raises(ValueError, match=message):
        ClientConfig(**{"base_url": "https://crm.example.com/", **fields})


def test_keywords_override_a_given_config():
    config = ClientConfig(base_url="https://a.example/", token="t", read_retries=5)
    client = CRMClient(config, read_retries=0)
    assert client.config.read_retries == 0
    assert client.config.token == "t"
    assert config.read_retries == 5
    client.close()
