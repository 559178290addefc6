"""Every one of the 39 handlers: its success reply and its effect on the sandbox's state (seeded ids are
listed in crm_bridge/sandbox/README.md)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.urls import reverse

from crm_bridge.crm import spec
from crm_bridge.sandbox import control
from crm_bridge.sandbox.handlers import HANDLERS
from crm_bridge.sandbox.models import (
    CallHistory,
    Collection,
    ContactHistory,
    ContactPlan,
    Contract,
    Customer,
    ImsLock,
    LinkMan,
    SampleGiftOrder,
    Share,
    Sms,
)
from crm_bridge.sandbox.wire import CRM_TZ

from .conftest import OTHER_SITE_KEY, SITE_KEY, url


def crm_time(text: str) -> datetime:
    return datetime.strptime(text, spec.DATETIME_FORMAT).replace(tzinfo=CRM_TZ)


def test_every_spec_endpoint_has_a_handler():
    assert set(HANDLERS) == {e.path for e in spec.ENDPOINTS}
    assert len(HANDLERS) == 39


@pytest.mark.parametrize("endpoint", spec.ENDPOINTS, ids=lambda e: e.path)
def test_every_endpoint_is_routed(crm, endpoint):
    assert reverse(f"crm_sandbox:{endpoint.path}") == url(endpoint.path)
    # Without a credential each answers its auth error: proof the route exists and reaches the view.
    status, code, _ = crm.error(endpoint.path, auth=False)
    assert (status, code) == (401, 21302 if endpoint.auth == "siteKey" else 21301)


class TestDictionaries:
    def test_get_base_type(self, crm):
        assert crm.value("BaseType/GetBaseType", par_id="3") == [
            {"id": 301, "par_id": "3", "sName": "电话", "sort": 1},
            {"id": 302, "par_id": "3", "sName": "信函", "sort": 2},
            {"id": 303, "par_id": "3", "sName": "邮件", "sort": 3},
            {"id": 304, "par_id": "3", "sName": "上门", "sort": 4},
        ]
        assert [row["id"] for row in crm.value("BaseType/GetBaseType", par_id="4")] == list(range(401, 408))
        assert crm.value("BaseType/GetBaseType", par_id="99") == []

    def test_get_type_list(self, crm):
        assert [t["sName"] for t in crm.value("CustomerType/GetTypeList", parent_id=0)] == [
            "企业客户",
            "个人客户",
            "渠道代理商",
        ]
        assert crm.value("CustomerType/GetTypeList", parent_id=2) == [
            {"id": 21, "parent_id": 2, "sName": "VIP客户", "sort": 1},
            {"id": 22, "parent_id": 2, "sName": "普通客户", "sort": 2},
        ]
        assert crm.value("CustomerType/GetTypeList", parent_id=99) == []

    def test_client_sign_default(self, crm):
        assert crm.value("CustomerSign/GetClientSignDefault") == 1

    def test_cust_type_bdefault(self, crm):
        assert crm.value("CustomerSign/GetCustTypeBdefault") == [
            {"id": 1, "sName": "企业", "isDefault": True},
            {"id": 2, "sName": "个人", "isDefault": False},
        ]


class TestCustomers:
    def test_get(self, crm):
        assert crm.value("Customer/Get", id=5) == {
            "id": 5,
            "sName": "张伟",
            "tel": "",
            "mobile": "15000001111",
            "email": "zhangwei@example.cn",
            "address": "成都市锦江区春熙路",
            "remark": "",
            "typeId": 21,
            "clientSign": 2,
            "isPublic": False,
            "identityId": 0,
            "createTime": "2024-03-05 11:20:00",
            "updateTime": "2024-03-05 11:20:00",
        }

    def test_get_unknown_is_not_found(self, crm):
        assert crm.error("Customer/Get", id=99) == (404, 20101, "target not found")

    def test_save_creates_with_extras_and_ignores_id(self, crm):
        assert crm.value("Customer/Save", json={"id": 1, "sName": "苏州新锐光电", "tel": "0512-1234", "来源": "官网"})
        created = crm.value("Customer/Get", id=6)
        assert created["sName"] == "苏州新锐光电"
        assert created["tel"] == "0512-1234"
        assert created["来源"] == "官网"
        assert created["createTime"] == created["updateTime"]
        assert Customer.objects.count() == 6
        assert crm.value("Customer/Get", id=1)["sName"] == "上海华东机电设备有限公司"

    def test_save_matches_keys_case_insensitively(self, crm):
        assert crm.value("Customer/Save", json={"SNAME": "大小写公司", "Mobile": "13600000000"})
        assert crm.value("Customer/Get", id=6)["mobile"] == "13600000000"

    @pytest.mark.parametrize(
        "obj", [{"tel": "1"}, {"sName": "   "}, {"sName": None}, {"sName": {"a": 1}}, {"sName": "x", "typeId": "abc"}]
    )
    def test_save_refuses_a_bad_object(self, crm, obj):
        assert crm.error("Customer/Save", json=obj) == (400, 10017, "parameter (json)'s value invalid")
        assert Customer.objects.count() == 5

    def test_update_changes_only_the_keys_sent(self, crm):
        assert crm.value("Customer/Update", customer={"id": 2, "remark": "重点跟进", "typeId": "12", "级别": "A"})
        customer = crm.value("Customer/Get", id=2)
        assert (customer["remark"], customer["typeId"], customer["级别"]) == ("重点跟进", 12, "A")
        assert customer["sName"] == "北京远望科技发展有限公司"
        assert customer["updateTime"] != customer["createTime"]

    def test_update_unknown_or_missing_id_is_false(self, crm):
        assert crm.value("Customer/Update", customer={"id": 99, "remark": "x"}) is False
        assert crm.value("Customer/Update", customer={"remark": "x"}) is False
        assert [c["remark"] for c in control.customers()] == [""] * 5

    def test_update_refuses_blank_name_and_bad_id(self, crm):
        assert crm.error("Customer/Update", customer={"id": 1, "sName": ""})[1:] == (
            10017,
            "parameter (customer)'s value invalid",
        )
        assert crm.error("Customer/Update", customer={"id": "one"})[1] == 10017

    def test_get_all_list_pages_by_id(self, crm):
        assert [c["id"] for c in crm.value("Customer/GetAllList", pageIndex=1, pageSize=2)] == [1, 2]
        assert [c["id"] for c in crm.value("Customer/GetAllList", pageIndex=3, pageSize=2)] == [5]
        assert crm.value("Customer/GetAllList", pageIndex=4, pageSize=2) == []
        assert len(crm.value("Customer/GetAllList", pageIndex=1, pageSize=100)) == 5

    @pytest.mark.parametrize(("index", "size", "bad"), [(1, 0, "pageSize"), (1, 101, "pageSize"), (0, 10, "pageIndex")])
    def test_get_all_list_bounds(self, crm, index, size, bad):
        assert crm.error("Customer/GetAllList", pageIndex=index, pageSize=size)[1:] == (
            10017,
            f"parameter ({bad})'s value invalid",
        )

    def test_name_is_repeat(self, crm):
        name = "上海华东机电设备有限公司"
        assert crm.value("Customer/NameIsRepeat", sName=name, id=0) is True
        assert crm.value("Customer/NameIsRepeat", sName=f"  {name} ", id=0) is True
        assert crm.value("Customer/NameIsRepeat", sName=name, id=1) is False  # itself
        assert crm.value("Customer/NameIsRepeat", sName="上海华东机电", id=0) is False

    @pytest.mark.parametrize(
        ("tel", "expected"),
        [
            ("13812345678", True),  # customer 1's mobile
            ("+86 138 1234 5678", True),
            ("0086-138-1234-5678", True),
            ("8613812345678", True),
            ("１３８１２３４５６７８", True),  # full-width digits
            ("021-62345678", True),  # customer 1's tel
            ("+86 21 6234 5678", True),  # the same landline, international notation
            ("13700001234", True),  # customer 3's mobile is stored as "+86 137-0000-1234"
            ("1381234567", False),
            ("021-62345679", False),
            ("无", False),
        ],
    )
    def test_tel_is_repeat(self, crm, tel, expected):
        assert crm.value("Customer/TelIsRepeat", tel=tel, id=0) is expected

    def test_tel_is_repeat_excludes_the_given_customer(self, crm):
        assert crm.value("Customer/TelIsRepeat", tel="13812345678", id=1) is False
        assert crm.value("Customer/TelIsRepeat", tel="15000001111", id=1) is True

    def test_new_customer_counts_for_repeat_checks(self, crm):
        assert crm.value("Customer/Save", json={"sName": "新客户", "mobile": "+86 159 0000 0001"})
        assert crm.value("Customer/NameIsRepeat", sName="新客户", id=0) is True
        assert crm.value("Customer/TelIsRepeat", tel="15900000001", id=0) is True
        assert crm.value("Customer/TelIsRepeat", tel="15900000001", id=6) is False

    def test_set_cust_identity(self, crm):
        assert crm.value("Customer/SetCustIdentity", identityId=2, custId=3) is True
        assert Customer.objects.get(pk=3).identity_id == 2
        assert crm.value("Customer/SetCustIdentity", identityId=9, custId=3) is False  # no identity 9
        assert crm.value("Customer/SetCustIdentity", identityId=1, custId=99) is False
        assert crm.value("Customer/SetCustIdentity", identityId=0, custId=3) is True
        assert Customer.objects.get(pk=3).identity_id == 0

    def test_set_public_cust(self, crm):
        assert crm.value("Sale/SetPublicCust", pkidList="1,2,99") is True
        assert list(Customer.objects.filter(is_public=True).values_list("id", flat=True)) == [1, 2, 4]
        assert crm.error("Sale/SetPublicCust", pkidList="1,a")[1:] == (10017, "parameter (pkidList)'s value invalid")

    def test_cancel_share(self, crm):
        assert crm.value("Customer/CancelShare", strIds="1,2") is True
        assert list(Share.objects.values_list("customer_id", "user_id")) == [(3, 4)]
        assert crm.error("Customer/CancelShare", strIds=",")[1] == 10017

    def test_remove_collection(self, crm):
        assert crm.value("Customer/RemoveCollection", userId=1, custIdString="1，3") is True  # full-width comma
        assert list(Collection.objects.values_list("user_id", "customer_id")) == [(1, 2), (2, 4)]
        assert crm.value("Customer/RemoveCollection", userId=2, custIdString="1") is True
        assert Collection.objects.count() == 2


CALL = {
    "callState": 1,
    "tel": "13900000000",
    "userID": 3,
    "remark": "咨询报价",
    "callType": 1,
    "startTime": "2024-05-01 09:00:00",
    "endTime": "2024-05-01 09:03:20",
    "record": 1,
    "duration": 200,
    "ims": "02150005678",
    "userName": "销售小李",
}


class TestTelephony:
    def test_add_call_history(self, crm):
        assert crm.value("Customer/AddCallHistory", **CALL) is True
        call = CallHistory.objects.get(tel="13900000000")
        assert (call.user_id, call.duration, call.remark, call.start_time) == (
            3,
            200,
            "咨询报价",
            crm_time("2024-05-01 09:00:00"),
        )

    def test_update_call_history(self, crm):
        update = {
            "bCallState": 0,
            "callType": 2,
            "teleIms": "02150001234",
            "displayTel": "021-50001234",
            "endTime": "2024-03-01 10:09:00",
            "record": 0,
            "duration": 540,
            "addUserName": "主管",
        }
        seeded = {"sCallNumber": "13812345678", "dCallTime": "2024-03-01 10:00:00"}
        assert crm.value("Customer/UpdateCallHistory", **seeded, **update) is True
        call = CallHistory.objects.get(pk=1)
        assert (call.call_state, call.duration, call.display_tel, call.add_user_name) == (
            0,
            540,
            "021-50001234",
            "主管",
        )
        other_time = {**seeded, "dCallTime": "2024-03-01 10:00:01"}
        assert crm.value("Customer/UpdateCallHistory", **other_time, **update) is False

    def test_ims_lock(self, crm):
        assert crm.value("Customer/IMSLock", userID=3, ims="02150009999") is True
        assert crm.value("Customer/IMSLock", userID=3, ims="02150009999") is True  # already hers
        assert crm.value("Customer/IMSLock", userID=4, ims="02150009999") is False
        assert crm.value("Customer/IMSLock", userID=3, ims="02150001234") is False  # seeded: user 2's
        assert dict(ImsLock.objects.values_list("ims", "user_id")) == {"02150001234": 2, "02150009999": 3}

    def test_ims_unlock(self, crm):
        assert crm.value("Customer/UnIMSLock", ims="02150001234") is True
        assert crm.value("Customer/UnIMSLock", ims="02150001234") is False
        assert crm.value("Customer/IMSLock", userID=3, ims="02150001234") is True

    def test_insert_sms(self, crm):
        sms = {
            "senderID": 2,
            "mobilePhone": "13812345678",
            "receiveName": "王建国",
            "sendDate": "2024-06-01 08:00:00",
            "content": "尊敬的客户,您的订单已发货",
            "sendType": 0,
            "messageTempleID": "TPL-001",
            "value1": "王建国",
            "value3": "SF123",
        }
        assert crm.value("Customer/InsertSms", **sms) is True
        row = Sms.objects.get()
        assert row.values == ["王建国", "", "SF123", "", "", ""]
        assert (row.send_type, row.message_template_id, row.send_date) == (
            0,
            "TPL-001",
            crm_time("2024-06-01 08:00:00"),
        )


class TestLinkMen:
    def test_get_link_man(self, crm):
        assert crm.value("LinkMan/GetLinkMan", id=2) == {
            "id": 2,
            "custId": 1,
            "sName": "李娜",
            "tel": "",
            "mobile": "13800001111",
            "email": "lina@hdjd.example.cn",
            "isMain": False,
        }
        assert crm.error("LinkMan/GetLinkMan", id=99)[:2] == (404, 20101)

    def test_both_lists_answer_the_same_rows(self, crm):
        by_cust_id = crm.value("LinkMan/GetList", custId=1)
        assert [m["id"] for m in by_cust_id] == [1, 2]
        assert crm.value("LinkMan/GetLinkManList", cust_id=1) == by_cust_id
        assert crm.value("LinkMan/GetList", custId=99) == []
        assert crm.value("LinkMan/GetLinkManList", cust_id=99) == []

    def test_insert_link_man(self, crm):
        man = {"custId": 2, "sName": "孙丽", "mobile": "13600001111", "isMain": "true", "职务": "采购经理", "id": 1}
        assert crm.value("LinkMan/InsertLinkMan", man=man) is True
        created = crm.value("LinkMan/GetLinkMan", id=7)
        assert (created["sName"], created["isMain"], created["职务"]) == ("孙丽", True, "采购经理")
        # one main link man per customer
        assert [m["isMain"] for m in crm.value("LinkMan/GetList", custId=2)] == [False, True]

    @pytest.mark.parametrize("man", [{"custId": 99, "sName": "某人"}, {"custId": 1, "sName": " "}, {"sName": "某人"}])
    def test_insert_link_man_false(self, crm, man):
        assert crm.value("LinkMan/InsertLinkMan", man=man) is False
        assert LinkMan.objects.count() == 6

    def test_save_link_man(self, crm):
        assert crm.value("LinkMan/SaveLinkMan", man={"id": 2, "tel": "021-11112222", "isMain": True}) == 1
        assert list(LinkMan.objects.filter(customer_id=1).values_list("id", "is_main", "tel")) == [
            (1, False, "021-62345679"),
            (2, True, "021-11112222"),
        ]

    @pytest.mark.parametrize(
        "man", [{"id": 99, "tel": "1"}, {"tel": "1"}, {"id": 2, "custId": 99}, {"id": 2, "sName": ""}]
    )
    def test_save_link_man_zero(self, crm, man):
        assert crm.value("LinkMan/SaveLinkMan", man=man) == 0
        assert LinkMan.objects.get(pk=2).tel == ""

    def test_cancel_main_man(self, crm):
        assert crm.value("LinkMan/CancelMainMan", id=1) == 1
        assert crm.value("LinkMan/CancelMainMan", id=1) == 0
        assert crm.value("LinkMan/CancelMainMan", id=2) == 0
        assert LinkMan.objects.filter(is_main=True).count() == 3

    def test_delete_link_man(self, crm):
        assert crm.value("LinkMan/DeleteLinkMan", id=5) == 1
        assert crm.value("LinkMan/DeleteLinkMan", id=5) == 0
        assert list(LinkMan.objects.values_list("id", flat=True)) == [1, 2, 3, 4, 6]


CONTACT = {"customer_id": 2, "type_id": 2, "route_id": 1, "link_man_id": 3, "title": "回访", "content": "满意"}


class TestContacts:
    def test_get_history(self, crm):
        assert crm.value("ContactHistory/Get", id=2) == {
            "id": 2,
            "customer_id": 2,
            "type_id": 5,
            "route_id": 3,
            "link_man_id": 3,
            "title": "发送产品资料",
            "content": "已邮件发送报价单",
            "plan_id": None,
            "create_time": "2024-01-16 09:00:00",
        }
        assert crm.error("ContactHistory/Get", id=99)[:2] == (404, 20101)

    def test_add_history(self, crm):
        assert crm.value("ContactHistory/Add", **CONTACT) is True
        added = crm.value("ContactHistory/Get", id=4)
        assert {k: added[k] for k in CONTACT} == CONTACT
        assert crm.value("ContactHistory/Add", **{**CONTACT, "customer_id": 99}) is False
        assert ContactHistory.objects.count() == 4

    def test_get_plan(self, crm):
        assert crm.value("ContactPlan/GetContactPlan", id=3) == {
            "id": 3,
            "title": "售后回访",
            "customer_id": 1,
            "type_id": 3,
            "route_id": 4,
            "link_man_id": 1,
            "history_id": 1,
            "next_time": "2024-06-01 14:00:00",
            "is_executed": True,
            "executed_time": "2024-03-01 15:00:00",
            "create_time": "2024-02-01 08:00:00",
        }
        assert crm.error("ContactPlan/GetContactPlan", id=99)[:2] == (404, 20101)

    def test_insert_plan_with_the_callers_id(self, crm):
        plan = {**CONTACT, "plan_id": 40, "history_id": 2, "next_time": "2024-07-01 10:00:00"}
        del plan["content"]
        assert crm.value("ContactPlan/InsertContactPlan", **plan) is True
        assert crm.value("ContactPlan/GetContactPlan", id=40)["next_time"] == "2024-07-01 10:00:00"
        assert crm.value("ContactPlan/InsertContactPlan", **plan) is False  # id taken
        assert crm.value("ContactPlan/InsertContactPlan", **{**plan, "plan_id": 41, "customer_id": 99}) is False
        assert crm.value("ContactPlan/GetContactPlanCount") == 4

    def test_count(self, crm):
        assert crm.value("ContactPlan/GetContactPlanCount") == 3

    def test_execute_plan(self, crm):
        assert crm.value("ContactPlan/SaveContactPlan", plan_id=1, next_time="2024-08-01 09:30:00", **CONTACT) is True
        plan = ContactPlan.objects.get(pk=1)
        assert plan.is_executed
        assert plan.next_time == crm_time("2024-08-01 09:30:00")
        history = ContactHistory.objects.get(pk=4)
        assert (history.plan_id, history.customer_id, history.title) == (1, 2, "回访")

    def test_execute_unknown_plan_is_false(self, crm):
        assert crm.value("ContactPlan/SaveContactPlan", plan_id=9, next_time="2024-08-01 09:30:00", **CONTACT) is False
        assert ContactHistory.objects.count() == 3


class TestContracts:
    def test_audit(self, crm):
        assert crm.value("Contract/ContractAudit", id=1) is True
        assert Contract.objects.get(pk=1).state == "audited"
        assert crm.value("Contract/ContractAudit", id=1) is False
        assert crm.value("Contract/ContractAudit", id=5) is False  # stopped
        assert crm.value("Contract/ContractAudit", id=99) is False

    def test_unaudit(self, crm):
        assert crm.value("Contract/ContractUnAudit", id=3) is True
        assert Contract.objects.get(pk=3).state == "draft"
        assert crm.value("Contract/ContractUnAudit", id=1) is False

    def test_stop(self, crm):
        assert crm.value("Contract/StopContract", id=4) == 1
        assert Contract.objects.get(pk=4).state == "stopped"
        assert crm.value("Contract/StopContract", id=4) == -1
        assert crm.value("Contract/StopContract", id=2) == -1  # a draft cannot be stopped
        assert list(Contract.objects.values_list("state", flat=True)) == [
            "draft",
            "draft",
            "audited",
            "stopped",
            "stopped",
        ]

    def test_sample_gift_audit(self, crm):
        assert crm.value("Contract/SampleGiftAuditById", orderID="SG-0001") == 1
        assert crm.value("Contract/SampleGiftAuditById", orderID="SG-0001") == 0
        assert crm.value("Contract/SampleGiftAuditById", orderID="SG-9999") == 0
        assert list(SampleGiftOrder.objects.filter(audited=True).values_list("order_id", flat=True)) == [
            "SG-0001",
            "SG-0003",
        ]

    def test_sample_gift_unaudit(self, crm):
        assert crm.value("Contract/SampleGiftUnAuditById", orderID="SG-0003") == 1
        assert crm.value("Contract/SampleGiftUnAuditById", orderID="SG-0002") == 0
        assert SampleGiftOrder.objects.filter(audited=True).count() == 0


class TestECommerce:
    def test_add_message_board(self, crm):
        assert crm.value("ECommerce/AddMessageBoard", custID=1, content="请联系我,想了解报价", contact="王先生") is True
        assert crm.value("ECommerce/AddMessageBoard", custID=1, content="第二条") is True
        messages = control.messages(site_key=SITE_KEY)
        assert [(m["custID"], m["content"], m["contact"]) for m in messages] == [
            (1, "请联系我,想了解报价", "王先生"),
            (1, "第二条", ""),
        ]
        assert control.messages(site_key=OTHER_SITE_KEY) == []

    def test_update_base_info_hit_counts_per_site(self, crm):
        assert crm.value("ECommerce/UpdateBaseInfoHit", pkid=7, addHit=3) is True
        assert crm.value("ECommerce/UpdateBaseInfoHit", pkid=7, addHit=2) is True
        assert crm.value("ECommerce/UpdateBaseInfoHit", pkid=7, addHit=0) is True
        assert crm.value("ECommerce/UpdateBaseInfoHit", siteKey=OTHER_SITE_KEY, pkid=7, addHit=4) is True
        assert control.hits(7, site_key=SITE_KEY) == 5
        assert control.hits(7, site_key=OTHER_SITE_KEY) == 4
        assert control.hits(7) == 9
        assert control.hits(8) == 0

    def test_negative_hits_are_refused(self, crm):
        assert crm.error("ECommerce/UpdateBaseInfoHit", pkid=7, addHit=-1) == (
            400,
            10017,
            "parameter (addHit)'s value invalid",
        )
        assert control.hits(7) == 0
