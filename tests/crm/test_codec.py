"""codec: Python values → wire strings by the spec's types; reply bodies → typed values by the reply kind."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta, timezone
from types import MappingProxyType

import pytest

from crm_bridge.crm import codec, spec
from crm_bridge.crm.errors import CRMBadReply, CRMNotFound, CRMParamError

SAVE = spec.get_endpoint("Customer/Save")
NAME_IS_REPEAT = spec.get_endpoint("Customer/NameIsRepeat")
MESSAGE_BOARD = spec.get_endpoint("ECommerce/AddMessageBoard")
PLAN = spec.get_endpoint("ContactPlan/SaveContactPlan")
INSERT_LINK_MAN = spec.get_endpoint("LinkMan/InsertLinkMan")

STRING = spec.Param("p", "string", required=True)
INT32 = spec.Param("n", "int32", required=True)
DATETIME = spec.Param("t", "datetime", required=True)
JSON = spec.Param("j", "json", required=True)


# --- string -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "x", "上海某某公司", "a\nb", " spaced "])
def test_string_is_sent_as_is(value):
    assert codec.encode_value(STRING, value) == value


@pytest.mark.parametrize("value", [1, 1.5, b"bytes", True, ["x"], {"a": 1}])
def test_string_refuses_non_str(value):
    with pytest.raises(CRMParamError, match=r"parameter 'p' \(string\) must be a str, got " + type(value).__name__):
        codec.encode_value(STRING, value)


# --- int32 --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [(0, "0"), (5, "5"), (-1, "-1"), (spec.INT32_MAX, "2147483647"), (spec.INT32_MIN, "-2147483648")],
)
def test_int32_in_range(value, wire):
    assert codec.encode_value(INT32, value) == wire


@pytest.mark.parametrize("value", [spec.INT32_MAX + 1, spec.INT32_MIN - 1, 2**40])
def test_int32_out_of_range(value):
    with pytest.raises(CRMParamError, match=r"'n' \(int32\) is out of the Int32 range -2147483648\.\.2147483647"):
        codec.encode_value(INT32, value)


@pytest.mark.parametrize("value", [True, False])
def test_int32_refuses_bool(value):
    with pytest.raises(CRMParamError, match=r"must be an int, got bool"):
        codec.encode_value(INT32, value)


@pytest.mark.parametrize(("value", "kind"), [(1.0, "float"), (2.5, "float"), ("5", "str"), (None, "NoneType")])
def test_int32_refuses_floats_and_strings(value, kind):
    with pytest.raises(CRMParamError, match=f"must be an int, got {kind}"):
        codec.encode_value(INT32, value)


# --- datetime -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (datetime(2013, 5, 5, 10, 25, 30), "2013-05-05 10:25:30"),
        (datetime(2013, 5, 5, 10, 25, 30, 999_999), "2013-05-05 10:25:30"),  # the wire has whole seconds
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05"),
        (date(2013, 5, 5), "2013-05-05 00:00:00"),
        # Aware: its own wall-clock time, no conversion (the wire has no offset).
        (datetime(2013, 5, 5, 10, 25, 30, tzinfo=timezone(timedelta(hours=8))), "2013-05-05 10:25:30"),
        (datetime(2013, 5, 5, 2, 25, 30, tzinfo=UTC), "2013-05-05 02:25:30"),
        ("2013-05-05 10:25:30", "2013-05-05 10:25:30"),
    ],
)
def test_datetime_formats(value, wire):
    assert codec.encode_value(DATETIME, value) == wire


@pytest.mark.parametrize(
    "value", ["2013-5-5 10:25:30", "2013-05-05T10:25:30", "2013-05-05", "2013-02-30 10:00:00", "2013-05-05 10:25"]
)
def test_datetime_str_must_be_exactly_the_wire_form(value):
    with pytest.raises(CRMParamError, match=r"'t' \(datetime\) must be a datetime, a date or a str in the form"):
        codec.encode_value(DATETIME, value)


@pytest.mark.parametrize("value", [1367720730, 1.5, True])
def test_datetime_refuses_numbers(value):
    with pytest.raises(CRMParamError, match=f"must be a datetime or date, got {type(value).__name__}"):
        codec.encode_value(DATETIME, value)


# --- json ---------------------------------------------------------------------------------------------------


def test_json_mapping_is_dumped_compact_unicode_with_wire_datetimes():
    value = {"name": "上海某某公司", "tel": "021-1234", "n": 3, "ok": True, "none": None, "when": datetime(2013, 5, 5)}
    assert codec.encode_value(JSON, value) == (
        '{"name":"上海某某公司","tel":"021-1234","n":3,"ok":true,"none":null,"when":"2013-05-05 00:00:00"}'
    )


def test_json_accepts_any_mapping_and_nested_dates():
    value = MappingProxyType({"a": {"b": [date(2020, 1, 2)]}, "c": MappingProxyType({"d": 1})})
    assert codec.encode_value(JSON, value) == '{"a":{"b":["2020-01-02 00:00:00"]},"c":{"d":1}}'


def test_json_str_holding_an_object_is_sent_unchanged():
    text = '{ "name": "上海某某公司" }'
    assert codec.encode_value(JSON, text) is text


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("[1, 2]", "the str given holds a list"),
        ('"x"', "the str given holds a str"),
        ("not json", "does not parse as JSON"),
        ('{"a": NaN}', "does not parse as JSON"),
        ([1, 2], "must be a mapping or a JSON object str, got list"),
        (5, "got int"),
        ({"x": float("nan")}, "NaN"),
        ({"x": {1, 2}}, "JSON cannot carry: set"),
    ],
)
def test_json_refuses_what_is_not_an_object(value, problem):
    with pytest.raises(CRMParamError, match=r"'j' \(json\)") as info:
        codec.encode_value(JSON, value)
    assert problem in info.value.message


# --- encode_params ------------------------------------------------------------------------------------------


def test_encode_params_in_doc_order_with_wire_names():
    form = codec.encode_params(NAME_IS_REPEAT, {"id": 0, "sName": "上海某某公司"})
    assert form == {"sName": "上海某某公司", "id": "0"}
    assert list(form) == ["sName", "id"]


def test_none_omits_an_optional_param():
    assert codec.encode_params(MESSAGE_BOARD, {"custID": 7, "content": "你好", "contact": None}) == {
        "custID": "7",
        "content": "你好",
    }
    assert codec.encode_params(MESSAGE_BOARD, {"custID": 7, "content": "你好", "contact": "王"})["contact"] == "王"


def test_missing_required_params_are_all_named():
    with pytest.raises(CRMParamError) as info:
        codec.encode_params(PLAN, {"plan_id": 1, "title": None})
    assert info.value.message == (
        "missing required parameter(s): customer_id (int32), type_id (int32), route_id (int32), "
        "link_man_id (int32), title (string), content (string), next_time (datetime)"
    )
    assert info.value.endpoint == "ContactPlan/SaveContactPlan"
    assert info.value.http_status is None


def test_no_params_for_an_endpoint_that_needs_some():
    with pytest.raises(CRMParamError, match=r"missing required parameter\(s\): sName \(string\), id \(int32\)"):
        codec.encode_params(NAME_IS_REPEAT, None)


def test_unknown_param_names_the_known_ones_and_guesses():
    with pytest.raises(CRMParamError) as info:
        codec.encode_params(NAME_IS_REPEAT, {"s_name": "x", "id": 0})
    assert info.value.message == (
        "unknown parameter 's_name' (did you mean 'sName'?); Customer/NameIsRepeat takes: sName, id"
    )
    with pytest.raises(CRMParamError) as info:
        codec.encode_params(NAME_IS_REPEAT, {"zzz": 1})
    assert info.value.message == "unknown parameter 'zzz'; Customer/NameIsRepeat takes: sName, id"


@pytest.mark.parametrize(
    ("endpoint", "name", "problem"),
    [
        (NAME_IS_REPEAT, "token", "'token' is a credential"),
        (MESSAGE_BOARD, "siteKey", "'siteKey' is a credential: the client fills it in from ClientConfig.site_key"),
        (MESSAGE_BOARD, "token", "'token' is a credential"),
        (NAME_IS_REPEAT, "format", "'format' is set by the client"),
        (INSERT_LINK_MAN, "tran", "'tran' is a server-side Data.Common.DbTransaction and cannot be sent over HTTP"),
    ],
)
def test_credentials_format_and_tran_are_not_the_callers(endpoint, name, problem):
    with pytest.raises(CRMParamError) as info:
        codec.encode_params(endpoint, {name: "secret-value"})
    assert problem in info.value.message
    assert "secret-value" not in str(info.value)


def test_tran_is_never_an_input():
    assert [p.name for p in INSERT_LINK_MAN.inputs] == ["man"]
    assert codec.encode_params(INSERT_LINK_MAN, {"man": {"name": "王"}}) == {"man": '{"name":"王"}'}


def test_param_errors_never_echo_the_value():
    with pytest.raises(CRMParamError) as info:
        codec.encode_params(NAME_IS_REPEAT, {"sName": b"private-value", "id": 0})
    assert "private-value" not in str(info.value)


@pytest.mark.parametrize(("text", "value"), [("5", 5), (" -12 ", -12), ("+3", 3)])
def test_from_text_types_int32(text, value):
    assert codec.from_text(INT32, text) == value


@pytest.mark.parametrize("text", ["5.0", "five", "", "0x10"])
def test_from_text_refuses_non_integers(text):
    with pytest.raises(CRMParamError, match=r"'n' \(int32\) must be an integer"):
        codec.from_text(INT32, text)


def test_from_text_keeps_other_types_as_text():
    assert codec.from_text(STRING, "5") == "5"
    assert codec.from_text(DATETIME, "2013-05-05 10:25:30") == "2013-05-05 10:25:30"
    assert codec.from_text(JSON, '{"a":1}') == '{"a":1}'


# --- replies: JSON ------------------------------------------------------------------------------------------


def decode(kind, body: bytes | str, content_type: str | None = "application/json"):
    raw = body.encode("utf-8") if isinstance(body, str) else body
    decoded = codec.decode_body(raw, content_type)
    assert not decoded.is_error
    return codec.coerce_value(kind, decoded.value, fmt=decoded.format)


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ('{"value": true}', True),
        ('{"value": false}', False),
        ('{"value": "true"}', True),
        ('{"value": "True"}', True),
        ('{"value": "FALSE"}', False),
        ('{"value": 1}', True),
        ('{"value": 0}', False),
        ('{"value": "0"}', False),
    ],
)
def test_json_bool(body, value):
    assert decode("bool", body) is value


@pytest.mark.parametrize(
    ("body", "got"),
    [
        ('{"value": {"a": 1}}', "dict"),
        ('{"value": 2}', "int"),
        ('{"value": "yes"}', "str"),
        ('{"value": null}', "null"),
    ],
)
def test_json_bool_of_the_wrong_kind(body, got):
    with pytest.raises(CRMBadReply, match=f"'value' should be a bool, got {got}"):
        decode("bool", body)


@pytest.mark.parametrize(
    ("kind", "body", "value"),
    [
        ("count", '{"value": 3}', 3),
        ("count", '{"value": "12"}', 12),
        ("count", '{"value": 0}', 0),
        ("status", '{"value": 1}', 1),
        ("status", '{"value": -1}', -1),
        ("status", '{"value": "-1"}', -1),
        ("int", '{"value": 2}', 2),
    ],
)
def test_json_integers(kind, body, value):
    result = decode(kind, body)
    assert result == value
    assert type(result) is int


@pytest.mark.parametrize("body", ['{"value": true}', '{"value": 1.5}', '{"value": "3 rows"}', '{"value": [1]}'])
def test_json_integer_of_the_wrong_kind(body):
    with pytest.raises(CRMBadReply, match=r"'value' should be an integer \(count\)"):
        decode("count", body)


def test_json_object_and_list():
    assert decode("object", '{"value": {"id": 5, "name": "上海某某公司"}}') == {"id": 5, "name": "上海某某公司"}
    assert decode("list", '{"value": [{"id": 1}, {"id": 2}]}') == [{"id": 1}, {"id": 2}]
    assert decode("list", '{"value": []}') == []
    assert decode("list", '{"value": null}') == []


def test_json_object_and_list_wrapped_in_a_string_are_unwrapped():
    assert decode("object", json.dumps({"value": json.dumps({"id": 5})})) == {"id": 5}
    assert decode("list", json.dumps({"value": json.dumps([{"id": 5}])})) == [{"id": 5}]


def test_json_null_object_is_not_found():
    with pytest.raises(CRMNotFound, match=r"no record"):
        decode("object", '{"value": null}')


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("object", '{"value": [1]}', "'value' should be an object, got list"),
        ("object", '{"value": "text"}', "'value' should be an object, got str"),
        ("list", '{"value": {"id": 1}}', "'value' should be a list, got dict"),
        ("list", '{"value": [{"id": 1}, 2]}', "'value' should be a list of objects"),
    ],
)
def test_json_object_and_list_of_the_wrong_kind(kind, body, message):
    with pytest.raises(CRMBadReply, match=message):
        decode(kind, body)


def test_json_error_envelope():
    decoded = codec.decode_body(b'{"error_code": 10016, "error": "miss required parameter", "request": "/x"}')
    assert decoded == codec.DecodedReply("json", has_value=False, error_code=10016, error="miss required parameter",
                                         request="/x")  # fmt: skip
    assert decoded.is_error


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"error_code": "21301", "error": "auth"}', 21301),
        ('{"error": "no code"}', None),
        ('{"error_code": "x"}', None),
    ],
)
def test_json_error_envelope_tolerates_odd_codes(body, code):
    decoded = codec.decode_body(body.encode())
    assert decoded.is_error
    assert decoded.error_code == code


@pytest.mark.parametrize("body", ['{"value": true, "error_code": 0}', '{"value": true, "error": ""}'])
def test_value_with_an_empty_error_is_a_success(body):
    assert decode("bool", body) is True


def test_value_next_to_a_real_error_code_is_an_error():
    assert codec.decode_body(b'{"value": true, "error_code": 10001, "error": "system error"}').is_error


# --- replies: XML -------------------------------------------------------------------------------------------

XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>'


def xml(inner: str) -> str:
    return f"{XML_HEAD}<response>{inner}</response>"


@pytest.mark.parametrize(
    ("kind", "inner", "value"),
    [
        ("bool", "<value>true</value>", True),
        ("bool", "<value>false</value>", False),
        ("bool", "<value>True</value>", True),
        ("count", "<value>42</value>", 42),
        ("status", "<value>-1</value>", -1),
        ("int", "<value>2</value>", 2),
        ("list", "<value/>", []),
        ("list", "<value></value>", []),
    ],
)
def test_xml_scalars(kind, inner, value):
    assert decode(kind, xml(inner), "text/xml") == value


def test_xml_object_leaves_are_strings():
    body = xml(
        "<value><id>5</id><name>上海某某公司</name><vip>true</vip><remark/><addr><city>上海</city></addr></value>"
    )
    assert decode("object", body, "application/xml") == {
        "id": "5",
        "name": "上海某某公司",
        "vip": "true",
        "remark": None,
        "addr": {"city": "上海"},
    }


def test_xml_keys_that_are_not_xml_names():
    body = xml('<value><id>1</id><field name="my key">v</field><field name="2nd">w</field></value>')
    assert decode("object", body) == {"id": "1", "my key": "v", "2nd": "w"}


def test_xml_list_of_items():
    body = xml(
        "<value><item><id>1</id><name>甲</name></item><item><id>2</id><tags><item>x</item></tags></item></value>"
    )
    assert decode("list", body) == [{"id": "1", "name": "甲"}, {"id": "2", "tags": ["x"]}]
    assert decode("list", xml("<value><item><id>1</id></item></value>")) == [{"id": "1"}]
    assert decode("list", xml("<value><item/></value>")) == [{}]


def test_xml_empty_object_is_not_found():
    with pytest.raises(CRMNotFound):
        decode("object", xml("<value/>"))


def test_xml_error_envelope():
    body = (
        f"{XML_HEAD}<hash><request>/WebApi/x.ashx</request>"
        "<error_code>21301</error_code><error>auth failed (token)</error></hash>"
    )
    assert codec.decode_body(body.encode()) == codec.DecodedReply(
        "xml", has_value=False, error_code=21301, error="auth failed (token)", request="/WebApi/x.ashx"
    )


def test_xml_other_root_is_refused():
    with pytest.raises(CRMBadReply, match=r"root <feed>"):
        codec.decode_body(f"{XML_HEAD}<feed><value>1</value></feed>".encode())


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<response><value>&lol9;</value></response>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<response><value>&xxe;</value></response>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
def test_xml_entity_attacks_are_refused(body):
    started = time.monotonic()
    with pytest.raises(CRMBadReply, match=r"reply XML refused: DTDForbidden") as info:
        codec.decode_body(body.encode())
    assert time.monotonic() - started < 1.0
    assert "root:" not in str(info.value)  # nothing of /etc/passwd


def test_defusedxml_refuses_entities_even_without_the_dtd_guard():
    # The second line of defence, should forbid_dtd ever be relaxed.
    import defusedxml.ElementTree as DefusedET
    from defusedxml import EntitiesForbidden

    with pytest.raises(EntitiesForbidden):
        DefusedET.fromstring(BILLION_LAUGHS, forbid_dtd=False)


# --- replies: tolerance -------------------------------------------------------------------------------------


def test_utf8_bom_is_ignored():
    assert decode("bool", b"\xef\xbb\xbf" + b'{"value": true}') is True
    assert decode("count", b"\xef\xbb\xbf" + xml("<value>7</value>").encode()) == 7


def test_content_type_does_not_decide_the_format():
    assert decode("bool", '{"value": true}', "text/html") is True
    assert decode("bool", xml("<value>true</value>"), "application/json") is True
    assert decode("bool", '  \r\n{"value": false}\n', None) is False


def test_declared_charset_is_honoured():
    body = '{"value": {"name": "上海某某公司"}}'.encode("gbk")
    assert decode("object", body, "application/json; charset=GBK") == {"name": "上海某某公司"}


def test_unknown_charset_falls_back_to_utf8():
    assert decode("bool", '{"value": true}', "application/json; charset=x-nonsense") is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty reply body"),
        (b"  \r\n ", "empty reply body"),
        (b"<!DOCTYPE html><html><body>Server Error</body></html>", "HTML page"),
        (b"<html><head><title>502 Bad Gateway</title></head></html>", "HTML page"),
        (b'{"value": tr', "not JSON"),
        (b'{"value": {"id": 5, "name": "', "not JSON"),
        (xml("<value><id>5</id>").encode(), "not well-formed XML"),
        (b"\x00\x01\x02garbage", "not JSON"),
        (b"Service Unavailable", "not JSON"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b"true", "a JSON bool, not an object"),
        (b'{"result": 1}', "neither 'value' nor 'error_code'"),
        (b"\xff\xfe\xfa", "not valid utf-8"),
    ],
)
def test_unreadable_replies(body, message):
    with pytest.raises(CRMBadReply, match=message):
        codec.decode_body(body, "application/json")


def test_reply_text_never_raises():
    assert codec.reply_text(b"\xef\xbb\xbfok\xff") == "ok\ufffd"
    assert codec.reply_text("中".encode("gbk"), "text/plain; charset=gbk") == "中"
