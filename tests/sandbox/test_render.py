"""The reply shapes: JSON and XML, success and error, byte for byte where the client depends on it."""

from __future__ import annotations

import defusedxml.ElementTree as ET
import pytest

from crm_bridge.sandbox.errors import SandboxError
from crm_bridge.sandbox.render import error_body, success_body, xml_element

from .conftest import url

DECL = '<?xml version="1.0" encoding="utf-8"?>\n'


class TestJSON:
    def test_success(self, crm):
        response = crm.post("Customer/NameIsRepeat", sName="张伟", id=0)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.content == b'{"value": true}'

    def test_chinese_is_not_escaped(self, crm):
        response = crm.post("Customer/Get", id=5)
        assert "张伟".encode() in response.content
        assert b"\\u" not in response.content

    def test_error(self, crm):
        response = crm.post("Customer/Get")
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.content.decode() == (
            '{"error_code": 10016, "error": "miss required parameter (id)", '
            '"request": "/WebApi/Handler/1.0/CRM/Customer/Get.ashx"}'
        )


class TestXML:
    def test_bool(self, crm):
        response = crm.post("Customer/NameIsRepeat", sName="张伟", id=0, format="xml")
        assert response["Content-Type"] == "application/xml; charset=utf-8"
        assert response.content.decode() == DECL + "<response><value>true</value></response>"

    def test_count_and_status(self, crm):
        assert (
            crm.post("ContactPlan/GetContactPlanCount", format="xml")
            .content.decode()
            .endswith("<response><value>3</value></response>")
        )
        assert (
            crm.post("Contract/StopContract", id=1, format="xml")
            .content.decode()
            .endswith("<response><value>-1</value></response>")
        )

    def test_object_with_none_and_empty(self, crm):
        body = crm.post("ContactHistory/Get", id=2, format="xml").content.decode()
        assert body == DECL + (
            "<response><value><id>2</id><customer_id>2</customer_id><type_id>5</type_id><route_id>3</route_id>"
            "<link_man_id>3</link_man_id><title>发送产品资料</title><content>已邮件发送报价单</content>"
            "<plan_id/><create_time>2024-01-16 09:00:00</create_time></value></response>"
        )

    def test_list(self, crm):
        body = crm.post("CustomerType/GetTypeList", parent_id=2, format="xml").content.decode()
        assert body == DECL + (
            "<response><value>"
            "<item><id>21</id><parent_id>2</parent_id><sName>VIP客户</sName><sort>1</sort></item>"
            "<item><id>22</id><parent_id>2</parent_id><sName>普通客户</sName><sort>2</sort></item>"
            "</value></response>"
        )

    def test_empty_list(self, crm):
        assert crm.post("BaseType/GetBaseType", par_id="x", format="xml").content.decode() == (
            DECL + "<response><value></value></response>"
        )

    def test_error(self, crm):
        response = crm.post("Customer/Get", id=99, format="xml")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/xml; charset=utf-8"
        assert response.content.decode() == DECL + (
            "<hash><request>/WebApi/Handler/1.0/CRM/Customer/Get.ashx</request>"
            "<error_code>20101</error_code><error>target not found</error></hash>"
        )

    def test_auth_error_in_xml(self, client):
        response = client.get(url("Customer/Get"), {"format": "xml", "id": 1})
        assert response.status_code == 401
        assert ET.fromstring(response.content).findtext("error_code") == "21301"

    def test_extras_are_well_formed(self, crm):
        obj = {"sName": "A&B <公司>", "my key": [1, {"x": None}], "xmlish": True, "ok_key": "\x01bell"}
        assert crm.value("Customer/Save", json=obj) is True
        root = ET.fromstring(crm.post("Customer/Get", id=6, format="xml").content)
        value = root.find("value")
        assert value.findtext("sName") == "A&B <公司>"
        field = value.find("field[@name='my key']")
        assert field.find("item").text == "1"
        assert field.find("item/x").text is None
        assert value.find("field[@name='xmlish']").text == "true"
        assert value.findtext("ok_key") == "\ufffdbell"


@pytest.mark.parametrize(
    ("value", "xml"),
    [
        (None, "<v/>"),
        (False, "<v>false</v>"),
        (0, "<v>0</v>"),
        ("", "<v></v>"),
        ([], "<v></v>"),
        ({}, "<v></v>"),
        ([[1], []], "<v><item><item>1</item></item><item></item></v>"),
        ({"a": {"b": [None]}}, "<v><a><b><item/></b></a></v>"),
        ({"1x": 1}, '<v><field name="1x">1</field></v>'),
        ("a<b>&c", "<v>a&lt;b&gt;&amp;c</v>"),
    ],
)
def test_xml_element(value, xml):
    assert xml_element("v", value) == xml


def test_bodies_directly():
    assert success_body({"k": "值"}, "json") == '{"value": {"k": "值"}}'.encode()
    assert error_body(SandboxError.invalid("id"), "/p", "json") == (
        b'{"error_code": 10017, "error": "parameter (id)\'s value invalid", "request": "/p"}'
    )
    with pytest.raises(ValueError, match=r"not in spec\.ERROR_CODES"):
        SandboxError(12345)
