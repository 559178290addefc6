"""The spec (crm_bridge/crm/spec.py) against the vendor's reference text, read here by a route of its own.

The spec was transcribed once; this test re-reads the doc block by block ("接口地址" → URL, the parameter table,
"Json返回结果") and compares every path, summary, parameter (name, required flag, type as written) and reply.
"""

import re

import pytest

from crm_bridge.crm import spec

URL = re.compile(r"http://\[customer-site\]/WebApi/Handler/1\.0/CRM/(?P<path>\w+/\w+)\.ashx")
# The doc's types, longest first so `WebApi.Entity.CRM.CustomerLinkMan` is not read as `…Customer`.
DOC_TYPES = sorted(
    ["string", "String", "Int32", "DateTime", "Data.Common.DbTransaction", "WebApi.Entity.CRM.Customer",
     "WebApi.Entity.CRM.CustomerLinkMan"],
    key=len,
    reverse=True,
)  # fmt: skip
# A row is NAME + True/False + TYPE + description, run together; only `format` has an empty required column.
ROW = re.compile(r"^(?P<name>[A-Za-z_]\w*?)(?P<req>True|False)(?P<rest>.*)$")


def doc_blocks(text: str) -> list[dict]:
    """Cut the doc at each handler's heading line (summary immediately followed by its URL)."""
    blocks = []
    lines = [line.strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        m = URL.search(line)
        if not m or line.startswith("http"):
            continue  # the "接口地址" repeat of the URL, not a heading
        summary = line[: m.start()]
        body = []
        for following in lines[i + 1 :]:
            if URL.search(following) and not following.startswith("http"):
                break
            body.append(following)
        blocks.append({"path": m.group("path"), "summary": summary, "body": body})
    return blocks


def parse_params(body: list[str]) -> list[tuple[str, bool, str, str]]:
    """The parameter table as (name, required, type as written, description) rows."""
    start = body.index("参数名是否必须类型说明") + 1
    end = next(i for i, line in enumerate(body) if line.startswith("Json返回结果"))
    rows = []
    for line in body[start:end]:
        if not line:
            continue
        if line.startswith("format") and not ROW.match(line):
            rows.append(("format", False, "string", line.removeprefix("formatstring")))
            continue
        m = ROW.match(line)
        assert m, f"unreadable parameter row: {line!r}"
        doc_type = next(t for t in DOC_TYPES if m.group("rest").startswith(t))
        description = m.group("rest").removeprefix(doc_type)
        rows.append((m.group("name"), m.group("req") == "True", doc_type, description))
    return rows


def reply_line(body: list[str]) -> str:
    i = next(i for i, line in enumerate(body) if line.startswith("Json返回结果"))
    return next(line for line in body[i + 1 :] if line)


@pytest.fixture(scope="module")
def blocks(reference_doc_text):
    return doc_blocks(reference_doc_text)


def test_same_handlers_in_the_same_order(blocks, reference_doc_text):
    assert len(blocks) == 39
    assert reference_doc_text.count(".ashx测试") == 39
    assert [b["path"] for b in blocks] == [e.path for e in spec.ENDPOINTS]


def test_summaries_verbatim(blocks):
    assert {b["path"]: b["summary"] for b in blocks} == {e.path: e.summary for e in spec.ENDPOINTS}


def test_params_names_required_types_and_descriptions(blocks):
    for block in blocks:
        endpoint = spec.get_endpoint(block["path"])
        expected = [(p.name, p.required, p.doc_type, p.description) for p in endpoint.params]
        assert parse_params(block["body"]) == expected, block["path"]


@pytest.mark.parametrize(
    ("marker", "kinds"),
    [
        ("true (true:成功,false:失败)", {"bool"}),
        ("count (", {"count"}),
        ("(成功:1;失败:-1)", {"status"}),
        ("Value (客户标识", {"int"}),
        ("参考", {"object", "list"}),
    ],
)
def test_reply_kinds(blocks, marker, kinds):
    matching = [b for b in blocks if marker in reply_line(b["body"])]
    assert matching, marker
    for block in matching:
        endpoint = spec.get_endpoint(block["path"])
        assert endpoint.reply in kinds, block["path"]
        if endpoint.reply in ("object", "list"):
            line = reply_line(block["body"])
            assert endpoint.entity in line
            assert (f"List({endpoint.entity})" in line) == (endpoint.reply == "list")


def test_every_reply_line_is_classified(blocks):
    markers = ("true (true:成功,false:失败)", "count (", "(成功:1;失败:-1)", "Value (客户标识", "参考")
    for block in blocks:
        assert sum(m in reply_line(block["body"]) for m in markers) == 1, block["path"]


def test_credentials_as_design_decides():
    for endpoint in spec.ENDPOINTS:
        token = endpoint.by_name["token"]
        if endpoint.group == "ECommerce":
            assert endpoint.auth == "siteKey"
            assert not token.required and endpoint.by_name["siteKey"].required
        else:
            assert endpoint.auth == "token" and token.required and "siteKey" not in endpoint.by_name
        assert endpoint.by_name["format"].required is False
        assert all(p.role == "input" for p in endpoint.inputs)


def test_wire_types_follow_doc_types():
    expected = {"string": "string", "String": "string", "Int32": "int32", "DateTime": "datetime",
                "Data.Common.DbTransaction": "transaction", "WebApi.Entity.CRM.Customer": "json",
                "WebApi.Entity.CRM.CustomerLinkMan": "json"}  # fmt: skip
    for endpoint in spec.ENDPOINTS:
        for p in endpoint.params:
            if (endpoint.path, p.name) == ("Customer/Save", "json"):
                assert p.type == "json"  # a customer JSON string (docs/architecture.md, "The CRM library")
            else:
                assert p.type == expected[p.doc_type], (endpoint.path, p.name)


def test_read_only_means_lookups():
    read_only = {e.path for e in spec.ENDPOINTS if e.read_only}
    assert read_only == {e.path for e in spec.ENDPOINTS if e.name.startswith("Get") or e.name.endswith("IsRepeat")}
    assert len(read_only) == 14


def test_python_names_unique_per_endpoint_and_group():
    for endpoint in spec.ENDPOINTS:
        names = [p.python_name for p in endpoint.params]
        assert len(names) == len(set(names)), endpoint.path
    for group in {e.group for e in spec.ENDPOINTS}:
        methods = [e.python_name for e in spec.ENDPOINTS if e.group == group]
        assert len(methods) == len(set(methods)), group


@pytest.mark.parametrize(
    ("wire", "python"),
    [("sName", "s_name"), ("custIdString", "cust_id_string"), ("orderID", "order_id"), ("IMSLock", "ims_lock"),
     ("UnIMSLock", "un_ims_lock"), ("par_id", "par_id"), ("pkidList", "pkid_list"), ("value1", "value1")],
)  # fmt: skip
def test_python_name(wire, python):
    assert spec.python_name(wire) == python


def test_get_endpoint_forms():
    e = spec.get_endpoint("Customer/NameIsRepeat")
    assert spec.get_endpoint("Customer/NameIsRepeat.ashx") is e
    assert spec.get_endpoint("/WebApi/Handler/1.0/CRM/Customer/NameIsRepeat.ashx") is e
    assert e.url_path == "WebApi/Handler/1.0/CRM/Customer/NameIsRepeat.ashx"
    with pytest.raises(KeyError, match="Customer/Nope"):
        spec.get_endpoint("Customer/Nope")


def test_error_table_is_consistent():
    assert all(code == e.code for code, e in spec.ERROR_CODES.items())
    assert {e.category for e in spec.ERROR_CODES.values()} >= {
        "auth",
        "missing_param",
        "invalid_param",
        "internal",
    }


def test_every_table_opens_with_its_groups_common_params():
    for endpoint in spec.ENDPOINTS:
        common = spec.common_params(endpoint.group)
        assert endpoint.params[: len(common)] == common, endpoint.path
        assert not {p.name for p in endpoint.params[len(common) :]} & {"token", "siteKey", "format"}, endpoint.path
    assert spec.common_params("ECommerce") == (
        spec.Param("token", "string", required=False, doc_type="string", description="当前登录用户访问令牌"),
        spec.FORMAT,
        spec.SITE_KEY,
    )
