"""One success case per CRM endpoint (all 39), for ``test_client_sandbox.py``: the typed method's keyword
arguments, the exact typed value the sandbox answers from its seeded state, and a check of the call's effect on
that state (through ``crm_bridge.sandbox.control``, a follow-up client read, or the sandbox's tables).

Seeded ids and values are the ones ``crm_bridge/sandbox/README.md`` documents (and ``seed.py`` inserts); they are
spelled out here rather than read back from the sandbox, so a drift in either the seed or the wire mapping fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from crm_bridge.crm import CRMClient, CRMNotFound
from crm_bridge.crm.spec import DATETIME_FORMAT
from crm_bridge.sandbox import control
from crm_bridge.sandbox.models import (
    CallHistory,
    Collection,
    Contract,
    ImsLock,
    SampleGiftOrder,
    Share,
    Sms,
)
from crm_bridge.sandbox.wire import CRM_TZ

TOKEN = "sandbox-token"
SITE_KEY = "sandbox-site-key"

WIRE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")

Effect = Callable[[CRMClient], None]


@dataclass(frozen=True)
class Case:
    path: str
    kwargs: dict[str, Any]
    """Keyword arguments of the typed method (Python names: ``s_name``, ``cust_id_string`` …)."""
    expected: Any
    """The exact typed value of the first call from the seeded state."""
    effect: Effect
    """Checks the state after that call (it may call more endpoints)."""


def crm_time(text: str) -> datetime:
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=CRM_TZ)


def customer(pk: int, **changes: Any) -> dict[str, Any]:
    return {**SEED_CUSTOMERS[pk], **changes}


# --- seeded objects as the CRM hands them out ---------------------------------------------------------------

_CUSTOMER_ROWS = [
    (1, "上海华东机电设备有限公司", "021-62345678", "13812345678", "sales@hdjd.example.cn",
     "上海市闵行区莘庄工业区春东路88号", 11, 1, False, "2024-01-08 09:30:00"),
    (2, "北京远望科技发展有限公司", "010-82345678", "13911112222", "contact@yuanwang.example.cn",
     "北京市海淀区中关村大街27号", 13, 1, False, "2024-01-15 14:00:00"),
    (3, "深圳市创新电子商行", "0755-26543210", "+86 137-0000-1234", "", "深圳市南山区科技园南区", 12, 1, False,
     "2024-02-02 10:15:00"),
    (4, "杭州西湖龙井茶业合作社", "0571-87001234", "", "tea@xihu.example.cn", "杭州市西湖区龙井村", 12, 1, True,
     "2024-02-20 16:45:00"),
    (5, "张伟", "", "15000001111", "zhangwei@example.cn", "成都市锦江区春熙路", 21, 2, False, "2024-03-05 11:20:00"),
]  # fmt: skip

SEED_CUSTOMERS: dict[int, dict[str, Any]] = {
    pk: {
        "id": pk,
        "sName": name,
        "tel": tel,
        "mobile": mobile,
        "email": email,
        "address": address,
        "remark": "",
        "typeId": type_id,
        "clientSign": sign,
        "isPublic": public,
        "identityId": 0,
        "createTime": created,
        "updateTime": created,
    }
    for pk, name, tel, mobile, email, address, type_id, sign, public, created in _CUSTOMER_ROWS
}


def _man(pk: int, cust: int, name: str, tel: str = "", mobile: str = "", email: str = "", main: bool = False):
    return {"id": pk, "custId": cust, "sName": name, "tel": tel, "mobile": mobile, "email": email, "isMain": main}


SEED_LINK_MEN: dict[int, dict[str, Any]] = {
    1: _man(1, 1, "王建国", "021-62345679", "13812345678", "wangjg@hdjd.example.cn", main=True),
    2: _man(2, 1, "李娜", mobile="13800001111", email="lina@hdjd.example.cn"),
    3: _man(3, 2, "赵磊", mobile="13911112222", main=True),
    4: _man(4, 3, "陈静", mobile="13700001234", main=True),
    5: _man(5, 4, "刘洋", tel="0571-87001235"),
    6: _man(6, 5, "张伟", mobile="15000001111", main=True),
}

# --- effects -------------------------------------------------------------------------------------------------


def _no_effect(expected_state: dict[str, int]) -> Effect:
    """For read-only endpoints: the seeded row counts are untouched."""

    def check(client: CRMClient) -> None:
        state = control.state()
        assert {k: state[k] for k in expected_state} == expected_state

    return check


SEED_COUNTS = {
    "customers": 5,
    "link_men": 6,
    "contact_history": 3,
    "contact_plans": 3,
    "call_history": 1,
    "sms": 0,
    "messages": 0,
    "hits": 0,
}
unchanged = _no_effect(SEED_COUNTS)


def _base_type_other_ids(client: CRMClient) -> None:
    unchanged(client)
    assert [r["id"] for r in client.basetype.get_base_type(par_id="4")] == list(range(401, 408))
    assert client.basetype.get_base_type(par_id="99") == []


def _contact_history_added(client: CRMClient) -> None:
    assert control.state()["contact_history"] == 4
    added = client.contacthistory.get(id=4)
    assert WIRE_TIME.fullmatch(added.pop("create_time"))
    assert added == {
        "id": 4, "customer_id": 2, "type_id": 1, "route_id": 1, "link_man_id": 3, "title": "电话回访",
        "content": "客户确认收到样品", "plan_id": None,
    }  # fmt: skip
    # An unknown customer is refused (false), and nothing is recorded.
    assert client.contacthistory.add(
        customer_id=99, type_id=1, route_id=1, link_man_id=0, title="x", content="y"
    ) is False  # fmt: skip
    assert control.state()["contact_history"] == 4


def _plan_executed(client: CRMClient) -> None:
    plan = client.contactplan.get_contact_plan(id=1)
    assert WIRE_TIME.fullmatch(plan.pop("executed_time"))
    assert plan == {
        "id": 1, "title": "跟进报价", "customer_id": 1, "type_id": 1, "route_id": 1, "link_man_id": 1,
        "history_id": 1, "next_time": "2024-05-06 10:00:00", "is_executed": True,
        "create_time": "2024-01-09 10:30:00",
    }  # fmt: skip
    history = client.contacthistory.get(id=4)  # the contact it recorded, naming the plan
    assert {k: history[k] for k in ("customer_id", "title", "content", "plan_id")} == {
        "customer_id": 1, "title": "执行跟进报价", "content": "已电话沟通", "plan_id": 1,
    }  # fmt: skip
    assert client.contactplan.get_contact_plan_count() == 3  # executing creates no plan
    assert control.state()["contact_history"] == 4


def _plan_inserted(client: CRMClient) -> None:
    assert client.contactplan.get_contact_plan_count() == 4
    plan = client.contactplan.get_contact_plan(id=10)
    assert WIRE_TIME.fullmatch(plan.pop("create_time"))
    assert plan == {
        "id": 10, "title": "季度回访", "customer_id": 3, "type_id": 3, "route_id": 1, "link_man_id": 4,
        "history_id": 0, "next_time": "2024-07-01 09:30:00", "is_executed": False, "executed_time": None,
    }  # fmt: skip
    again = {**CASES_BY_PATH["ContactPlan/InsertContactPlan"].kwargs, "title": "重复"}
    assert client.contactplan.insert_contact_plan(**again) is False  # the id is taken
    assert client.contactplan.get_contact_plan(id=10)["title"] == "季度回访"
    assert client.contactplan.get_contact_plan_count() == 4


def _sample_gift(order_id: str, audited: bool, method: str) -> Effect:
    def check(client: CRMClient) -> None:
        assert SampleGiftOrder.objects.get(order_id=order_id).audited is audited
        assert getattr(client.contract, method)(order_id=order_id) == 0  # nothing left to change
        assert dict(SampleGiftOrder.objects.values_list("order_id", "audited")) == {
            "SG-0001": order_id == "SG-0001", "SG-0002": False, "SG-0003": order_id != "SG-0003",
        }  # fmt: skip

    return check


def _contract_states() -> dict[int, str]:
    return dict(Contract.objects.values_list("id", "state"))


def _contract_audited(client: CRMClient) -> None:
    assert _contract_states() == {1: "audited", 2: "draft", 3: "audited", 4: "audited", 5: "stopped"}
    assert client.contract.contract_audit(id=1) is False  # not a draft any more
    assert client.contract.contract_audit(id=99) is False
    assert client.contract.stop_contract(id=1) == 1  # now it can be stopped


def _contract_unaudited(client: CRMClient) -> None:
    assert _contract_states() == {1: "draft", 2: "draft", 3: "draft", 4: "audited", 5: "stopped"}
    assert client.contract.contract_un_audit(id=3) is False
    assert client.contract.stop_contract(id=3) == -1  # a draft cannot be stopped


def _contract_stopped(client: CRMClient) -> None:
    assert _contract_states() == {1: "draft", 2: "draft", 3: "audited", 4: "stopped", 5: "stopped"}
    assert client.contract.stop_contract(id=4) == -1  # already stopped
    assert client.contract.stop_contract(id=1) == -1  # a draft
    assert client.contract.contract_un_audit(id=4) is False


def _shares_cancelled(client: CRMClient) -> None:
    assert sorted(Share.objects.values_list("customer_id", "user_id")) == [(2, 2), (3, 4)]


def _collection_removed(client: CRMClient) -> None:
    assert sorted(Collection.objects.values_list("user_id", "customer_id")) == [(1, 2), (2, 4)]


def _identity_set(client: CRMClient) -> None:
    labelled = client.customer.get(id=3)
    assert WIRE_TIME.fullmatch(labelled.pop("updateTime"))
    expected = customer(3, identityId=2)
    del expected["updateTime"]
    assert labelled == expected
    assert client.customer.set_cust_identity(identity_id=9, cust_id=3) is False  # unknown identity
    assert client.customer.set_cust_identity(identity_id=1, cust_id=99) is False  # unknown customer
    assert client.customer.get(id=3)["identityId"] == 2


def _all_list_pages(client: CRMClient) -> None:
    unchanged(client)
    assert client.customer.get_all_list(page_index=1, page_size=100) == list(SEED_CUSTOMERS.values())
    assert client.customer.get_all_list(page_index=4, page_size=2) == []


def _call_added(client: CRMClient) -> None:
    assert control.state()["call_history"] == 2
    row = CallHistory.objects.get(pk=2)
    assert (row.tel, row.user_id, row.user_name, row.remark, row.call_type, row.call_state) == (
        "13911112222", 3, "销售小李", "首次来电", 1, 1,
    )  # fmt: skip
    assert (row.start_time, row.end_time, row.record, row.duration, row.ims) == (
        crm_time("2024-04-02 09:00:00"), crm_time("2024-04-02 09:03:00"), 0, 180, "02150005678",
    )  # fmt: skip
    # The call it stored is the one UpdateCallHistory finds by number and start time.
    update = {**CASES_BY_PATH["Customer/UpdateCallHistory"].kwargs}
    update.update(s_call_number="13911112222", d_call_time="2024-04-02 09:00:00")
    assert client.customer.update_call_history(**update) is True
    assert CallHistory.objects.get(pk=2).add_user_name == "销售小王"


def _ims_locked(client: CRMClient) -> None:
    assert client.customer.ims_lock(user_id=3, ims="02150009999") is True  # already this user's
    assert client.customer.ims_lock(user_id=4, ims="02150009999") is False  # held by user 3
    assert client.customer.ims_lock(user_id=5, ims="02150001234") is False  # seeded: held by user 2
    assert sorted(ImsLock.objects.values_list("ims", "user_id")) == [("02150001234", 2), ("02150009999", 3)]


def _ims_unlocked(client: CRMClient) -> None:
    assert not ImsLock.objects.exists()
    assert client.customer.un_ims_lock(ims="02150001234") is False  # not locked any more
    assert client.customer.ims_lock(user_id=3, ims="02150001234") is True  # free for another user now


def _sms_stored(client: CRMClient) -> None:
    assert control.state()["sms"] == 1
    sms = Sms.objects.get()
    assert (sms.sender_id, sms.mobile_phone, sms.receive_name, sms.send_date, sms.content) == (
        2, "13812345678", "王建国", crm_time("2024-05-01 09:00:00"), "您好,您的样品已发出",
    )  # fmt: skip
    assert (sms.send_type, sms.message_template_id, sms.values, sms.remark) == (
        0, "TPL-001", ["王先生", "", "", "", "", ""], "样品通知",
    )  # fmt: skip


def _call_updated(client: CRMClient) -> None:
    row = CallHistory.objects.get(pk=1)
    assert (row.call_state, row.call_type, row.tele_ims, row.display_tel, row.record, row.duration) == (
        0, 2, "02150001234", "02150001234", 0, 60,
    )  # fmt: skip
    assert (row.end_time, row.add_user_name, row.start_time) == (
        crm_time("2024-03-01 10:01:00"), "销售小王", crm_time("2024-03-01 10:00:00"),
    )  # fmt: skip
    other_time = {**CASES_BY_PATH["Customer/UpdateCallHistory"].kwargs, "d_call_time": "2024-03-01 10:00:01"}
    assert client.customer.update_call_history(**other_time) is False  # no call started then


def _name_repeat(client: CRMClient) -> None:
    unchanged(client)
    assert client.customer.name_is_repeat(s_name="上海华东机电设备有限公司", id=1) is False  # only itself
    assert client.customer.name_is_repeat(s_name=" 张伟 ", id=0) is True  # trimmed
    assert client.customer.name_is_repeat(s_name="广州珠江贸易有限公司", id=0) is False


def _get_customer(client: CRMClient) -> None:
    unchanged(client)
    with pytest.raises(CRMNotFound) as info:
        client.customer.get(id=99)
    assert (info.value.http_status, info.value.error_code) == (404, 20101)


def _customer_updated(client: CRMClient) -> None:
    updated = client.customer.get(id=2)
    update_time = updated.pop("updateTime")
    assert WIRE_TIME.fullmatch(update_time) and update_time != "2024-01-15 14:00:00"
    expected = customer(2, remark="重点跟进", email="sales@yuanwang.example.cn", level="A")
    del expected["updateTime"]
    assert updated == expected
    assert client.customer.update(customer={"id": 99, "remark": "x"}) is False  # no such customer
    assert control.state()["customers"] == 5


NEW_CUSTOMER = {
    "id": 6, "sName": "广州珠江贸易有限公司", "tel": "020-83331234", "mobile": "13622223333", "email": "",
    "address": "", "remark": "", "typeId": 12, "clientSign": 1, "isPublic": False, "identityId": 0,
}  # fmt: skip


def _customer_saved(client: CRMClient) -> None:
    assert control.state()["customers"] == 6
    page = client.customer.get_all_list(page_index=2, page_size=5)
    assert len(page) == 1
    created = page[0]
    times = created.pop("createTime"), created.pop("updateTime")
    assert WIRE_TIME.fullmatch(times[0]) and times[0] == times[1]
    assert created == {**NEW_CUSTOMER, "source": "官网"}  # any id sent is ignored; extras are kept
    assert client.customer.name_is_repeat(s_name="广州珠江贸易有限公司", id=0) is True
    assert client.customer.name_is_repeat(s_name="广州珠江贸易有限公司", id=6) is False
    assert client.customer.tel_is_repeat(tel="+86 136 2222 3333", id=0) is True
    assert client.customer.tel_is_repeat(tel="020-83331234", id=0) is True
    assert client.customer.tel_is_repeat(tel="020-83331234", id=6) is False


def _tel_repeat(client: CRMClient) -> None:
    unchanged(client)
    assert client.customer.tel_is_repeat(tel="+86 21 6234 5678", id=1) is False  # only customer 1 has it
    assert client.customer.tel_is_repeat(tel="13700001234", id=0) is True  # customer 3's "+86 137-0000-1234"
    assert client.customer.tel_is_repeat(tel="13600000000", id=0) is False


def _hits_added(client: CRMClient) -> None:
    assert control.hits(42, site_key=SITE_KEY) == 3
    assert client.ecommerce.update_base_info_hit(pkid=42, add_hit=2) is True
    assert control.hits(42, site_key=SITE_KEY) == 5
    assert control.hits(42, site_key="another-site") == 0
    assert control.hits(43) == 0
    assert control.state()["hits"] == 5


def _message_posted(client: CRMClient) -> None:
    posted = control.messages(site_key=SITE_KEY)
    assert len(posted) == 1
    assert WIRE_TIME.fullmatch(posted[0].pop("createTime"))
    assert re.fullmatch(r"[0-9a-f]{8}", posted[0].pop("site"))
    assert posted == [{"id": 1, "custID": 1, "content": "请联系我询价", "contact": "李先生 13800000000"}]
    assert control.messages(site_key="another-site") == []


def _main_man_cancelled(client: CRMClient) -> None:
    assert client.linkman.get_link_man(id=1) == {**SEED_LINK_MEN[1], "isMain": False}
    assert client.linkman.cancel_main_man(id=1) == 0  # no longer main
    assert client.linkman.cancel_main_man(id=2) == 0  # never was
    assert client.linkman.cancel_main_man(id=99) == 0


def _link_man_saved(client: CRMClient) -> None:
    assert client.linkman.get_list(cust_id=1) == [
        {**SEED_LINK_MEN[1], "isMain": False},  # a customer has one main link man
        {**SEED_LINK_MEN[2], "isMain": True, "email": "lina2@hdjd.example.cn"},
    ]
    assert client.linkman.save_link_man(man={"id": 99, "sName": "x"}) == 0  # unknown id
    assert client.linkman.save_link_man(man={"id": 2, "sName": " "}) == 0  # blank name
    assert client.linkman.save_link_man(man={"id": 2, "custId": 99}) == 0  # unknown customer
    assert client.linkman.get_link_man(id=2)["custId"] == 1


NEW_LINK_MAN = {
    "id": 7, "custId": 2, "sName": "孙丽", "tel": "", "mobile": "13911113333", "email": "", "isMain": True,
    "position": "采购经理",
}  # fmt: skip


def _link_man_inserted(client: CRMClient) -> None:
    rows = [{**SEED_LINK_MEN[3], "isMain": False}, NEW_LINK_MAN]
    assert client.linkman.get_list(cust_id=2) == rows
    assert client.linkman.get_link_man_list(cust_id=2) == rows
    assert client.linkman.get_link_man(id=7) == NEW_LINK_MAN
    assert control.link_men(cust_id=2) == rows
    assert client.linkman.insert_link_man(man={"custId": 99, "sName": "x"}) is False  # unknown customer
    assert client.linkman.insert_link_man(man={"custId": 2, "sName": ""}) is False  # blank name
    assert control.state()["link_men"] == 7


def _link_man_deleted(client: CRMClient) -> None:
    assert client.linkman.delete_link_man(id=5) == 0  # already gone
    with pytest.raises(CRMNotFound):
        client.linkman.get_link_man(id=5)
    assert client.linkman.get_list(cust_id=4) == []
    assert control.state()["link_men"] == 5


def _made_public(client: CRMClient) -> None:
    assert [c["isPublic"] for c in control.customers()] == [True, True, False, True, False]
    assert client.customer.get(id=2)["isPublic"] is True
    assert control.state()["customers"] == 5  # the unknown id 99 was skipped


# --- the table -----------------------------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    Case(
        "BaseType/GetBaseType",
        {"par_id": "2"},
        [
            {"id": 201, "par_id": "2", "sName": "制造业", "sort": 1},
            {"id": 202, "par_id": "2", "sName": "批发零售", "sort": 2},
            {"id": 203, "par_id": "2", "sName": "信息技术", "sort": 3},
            {"id": 204, "par_id": "2", "sName": "教育培训", "sort": 4},
        ],
        _base_type_other_ids,
    ),
    Case(
        "ContactHistory/Get",
        {"id": 2},
        {
            "id": 2,
            "customer_id": 2,
            "type_id": 5,
            "route_id": 3,
            "link_man_id": 3,
            "title": "发送产品资料",
            "content": "已邮件发送报价单",
            "plan_id": None,
            "create_time": "2024-01-16 09:00:00",
        },
        unchanged,
    ),
    Case(
        "ContactHistory/Add",
        {
            "customer_id": 2,
            "type_id": 1,
            "route_id": 1,
            "link_man_id": 3,
            "title": "电话回访",
            "content": "客户确认收到样品",
        },
        True,
        _contact_history_added,
    ),
    Case(
        "ContactPlan/SaveContactPlan",
        {
            "plan_id": 1,
            "customer_id": 1,
            "type_id": 1,
            "route_id": 1,
            "link_man_id": 1,
            "title": "执行跟进报价",
            "content": "已电话沟通",
            "next_time": datetime(2024, 5, 6, 10, 0, 0),
        },
        True,
        _plan_executed,
    ),
    Case(
        "ContactPlan/GetContactPlan",
        {"id": 3},
        {
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
        },
        unchanged,
    ),
    Case("ContactPlan/GetContactPlanCount", {}, 3, unchanged),
    Case(
        "ContactPlan/InsertContactPlan",
        {
            "plan_id": 10,
            "title": "季度回访",
            "customer_id": 3,
            "type_id": 3,
            "route_id": 1,
            "link_man_id": 4,
            "history_id": 0,
            "next_time": "2024-07-01 09:30:00",
        },
        True,
        _plan_inserted,
    ),
    Case(
        "Contract/SampleGiftAuditById",
        {"order_id": "SG-0001"},
        1,
        _sample_gift("SG-0001", True, "sample_gift_audit_by_id"),
    ),
    Case(
        "Contract/SampleGiftUnAuditById",
        {"order_id": "SG-0003"},
        1,
        _sample_gift("SG-0003", False, "sample_gift_un_audit_by_id"),
    ),
    Case("Contract/ContractAudit", {"id": 1}, True, _contract_audited),
    Case("Contract/ContractUnAudit", {"id": 3}, True, _contract_unaudited),
    Case("Contract/StopContract", {"id": 4}, 1, _contract_stopped),
    Case("Customer/CancelShare", {"str_ids": "1"}, True, _shares_cancelled),
    Case("Customer/RemoveCollection", {"user_id": 1, "cust_id_string": "1,3"}, True, _collection_removed),
    Case("Customer/SetCustIdentity", {"identity_id": 2, "cust_id": 3}, True, _identity_set),
    Case("Customer/GetAllList", {"page_index": 2, "page_size": 2}, [customer(3), customer(4)], _all_list_pages),
    Case(
        "Customer/AddCallHistory",
        {
            "call_state": 1,
            "tel": "13911112222",
            "user_id": 3,
            "remark": "首次来电",
            "call_type": 1,
            "start_time": datetime(2024, 4, 2, 9, 0, 0),
            "end_time": "2024-04-02 09:03:00",
            "record": 0,
            "duration": 180,
            "ims": "02150005678",
            "user_name": "销售小李",
        },
        True,
        _call_added,
    ),
    Case("Customer/IMSLock", {"user_id": 3, "ims": "02150009999"}, True, _ims_locked),
    Case("Customer/UnIMSLock", {"ims": "02150001234"}, True, _ims_unlocked),
    Case(
        "Customer/InsertSms",
        {
            "sender_id": 2,
            "mobile_phone": "13812345678",
            "receive_name": "王建国",
            "send_date": "2024-05-01 09:00:00",
            "content": "您好,您的样品已发出",
            "send_type": 0,
            "message_temple_id": "TPL-001",
            "value1": "王先生",
            "remark": "样品通知",
        },
        True,
        _sms_stored,
    ),
    Case(
        "Customer/UpdateCallHistory",
        {
            "s_call_number": "13812345678",
            "d_call_time": "2024-03-01 10:00:00",
            "b_call_state": 0,
            "call_type": 2,
            "tele_ims": "02150001234",
            "display_tel": "02150001234",
            "end_time": "2024-03-01 10:01:00",
            "record": 0,
            "duration": 60,
            "add_user_name": "销售小王",
        },
        True,
        _call_updated,
    ),
    Case("Customer/NameIsRepeat", {"s_name": "上海华东机电设备有限公司", "id": 0}, True, _name_repeat),
    Case("Customer/Get", {"id": 1}, customer(1), _get_customer),
    Case(
        "Customer/Update",
        {"customer": {"id": 2, "remark": "重点跟进", "email": "sales@yuanwang.example.cn", "level": "A"}},
        True,
        _customer_updated,
    ),
    Case(
        "Customer/Save",
        {
            "json": {
                "id": 3,
                "sName": "广州珠江贸易有限公司",
                "tel": "020-83331234",
                "mobile": "13622223333",
                "typeId": 12,
                "source": "官网",
            }
        },
        True,
        _customer_saved,
    ),
    Case("Customer/TelIsRepeat", {"tel": "+86 21 6234 5678", "id": 0}, True, _tel_repeat),
    Case("CustomerSign/GetClientSignDefault", {}, 1, unchanged),
    Case(
        "CustomerSign/GetCustTypeBdefault",
        {},
        [{"id": 1, "sName": "企业", "isDefault": True}, {"id": 2, "sName": "个人", "isDefault": False}],
        unchanged,
    ),
    Case(
        "CustomerType/GetTypeList",
        {"parent_id": 1},
        [
            {"id": 11, "parent_id": 1, "sName": "制造企业", "sort": 1},
            {"id": 12, "parent_id": 1, "sName": "贸易公司", "sort": 2},
            {"id": 13, "parent_id": 1, "sName": "互联网企业", "sort": 3},
        ],
        unchanged,
    ),
    Case("ECommerce/UpdateBaseInfoHit", {"pkid": 42, "add_hit": 3}, True, _hits_added),
    Case(
        "ECommerce/AddMessageBoard",
        {"cust_id": 1, "content": "请联系我询价", "contact": "李先生 13800000000"},
        True,
        _message_posted,
    ),
    Case("LinkMan/GetList", {"cust_id": 1}, [SEED_LINK_MEN[1], SEED_LINK_MEN[2]], unchanged),
    Case("LinkMan/CancelMainMan", {"id": 1}, 1, _main_man_cancelled),
    Case("LinkMan/GetLinkManList", {"cust_id": 2}, [SEED_LINK_MEN[3]], unchanged),
    Case("LinkMan/GetLinkMan", {"id": 4}, SEED_LINK_MEN[4], unchanged),
    Case(
        "LinkMan/SaveLinkMan",
        {"man": {"id": 2, "isMain": True, "email": "lina2@hdjd.example.cn"}},
        1,
        _link_man_saved,
    ),
    Case(
        "LinkMan/InsertLinkMan",
        {
            "man": {
                "id": 1,
                "custId": 2,
                "sName": "孙丽",
                "mobile": "13911113333",
                "isMain": True,
                "position": "采购经理",
            }
        },
        True,
        _link_man_inserted,
    ),
    Case("LinkMan/DeleteLinkMan", {"id": 5}, 1, _link_man_deleted),
    Case("Sale/SetPublicCust", {"pkid_list": "1,2,99"}, True, _made_public),
)

CASES_BY_PATH: dict[str, Case] = {case.path: case for case in CASES}
