# File generated from crm_bridge/crm/spec.py (ENDPOINTS) by tools/codegen.py. DO NOT EDIT.
# Change the spec or the generator, then run `python -m tools.codegen` from the repository's root.
"""Typed methods for every CRM endpoint, one class per group (generated: see the lines above).

``tests/crm/test_codegen.py`` fails when this file differs from the generator's output.

Every method takes keyword-only params named like the wire names in snake_case (``sName`` → ``s_name``); an
optional param left as ``None`` is not sent. Each method is one ``client.call("Group/Name", {wire names})``, so
validation, credentials, retries and errors are the client's (``CRMClient.request``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Protocol

__all__ = [
    "GROUPS",
    "BaseTypeAPI",
    "ContactHistoryAPI",
    "ContactPlanAPI",
    "ContractAPI",
    "CustomerAPI",
    "CustomerSignAPI",
    "CustomerTypeAPI",
    "ECommerceAPI",
    "EndpointGroups",
    "LinkManAPI",
    "SaleAPI",
]


class _Caller(Protocol):
    def call(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...


class _Group:
    """Base of the group classes: holds the client whose ``call`` every method goes through."""

    __slots__ = ("_client",)

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"


class BaseTypeAPI(_Group):
    """The ``BaseType/*`` handlers (1), as ``client.basetype.<method>`` (authenticate with ``token``)."""

    def get_base_type(self, *, par_id: str) -> list[dict[str, Any]]:
        """根据par_id字典表

        ``BaseType/GetBaseType`` (read-only; authenticates with ``token``).

        Args:
            par_id: ``par_id`` (String, required): 标识

        Returns:
            ``list`` of ``BaseType`` objects (``[]`` when there are none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("BaseType/GetBaseType", {"par_id": par_id})


class ContactHistoryAPI(_Group):
    """The ``ContactHistory/*`` handlers (2), as ``client.contacthistory.<method>`` (authenticate with ``token``)."""

    def get(self, *, id: int) -> dict[str, Any]:
        """根据联系历史id获取联系历史记录

        ``ContactHistory/Get`` (read-only; authenticates with ``token``).

        Args:
            id: ``id`` (Int32, required): 历史记录id

        Returns:
            ``dict``: one ``ContactHistory`` object (``CRMNotFound`` when the CRM has none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("ContactHistory/Get", {"id": id})

    def add(self, *, customer_id: int, type_id: int, route_id: int, link_man_id: int, title: str, content: str) -> bool:
        """添加联系记录

        ``ContactHistory/Add`` (writes; authenticates with ``token``).

        Args:
            customer_id: ``customer_id`` (Int32, required): 客户id
            type_id: ``type_id`` (Int32, required): 联系类别
            route_id: ``route_id`` (Int32, required): 联系方式
            link_man_id: ``link_man_id`` (Int32, required): 客户联系人ID
            title: ``title`` (String, required): 标题
            content: ``content`` (String, required): 备注

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call(
            "ContactHistory/Add",
            {
                "customer_id": customer_id,
                "type_id": type_id,
                "route_id": route_id,
                "link_man_id": link_man_id,
                "title": title,
                "content": content,
            },
        )


class ContactPlanAPI(_Group):
    """The ``ContactPlan/*`` handlers (4), as ``client.contactplan.<method>`` (authenticate with ``token``)."""

    def save_contact_plan(
        self,
        *,
        plan_id: int,
        customer_id: int,
        type_id: int,
        route_id: int,
        link_man_id: int,
        title: str,
        content: str,
        next_time: datetime | date | str,
    ) -> bool:
        """执行联系计划

        ``ContactPlan/SaveContactPlan`` (writes; authenticates with ``token``).

        Args:
            plan_id: ``plan_id`` (Int32, required): 计划id
            customer_id: ``customer_id`` (Int32, required): 客户id
            type_id: ``type_id`` (Int32, required): 联系类别(1:销售联系2:客户关怀3:售后回访4:投诉回访5:服务支持6:
                维修维护7:实施培训)
            route_id: ``route_id`` (Int32, required): 联系方式(1:电话2:信函3:邮件4:上门)
            link_man_id: ``link_man_id`` (Int32, required): 客户联系人ID
            title: ``title`` (String, required): 标题
            content: ``content`` (String, required): 备注
            next_time: ``next_time`` (DateTime, required): 计划联系时间,精确到秒。如:2013-05-05 10:25:30

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call(
            "ContactPlan/SaveContactPlan",
            {
                "plan_id": plan_id,
                "customer_id": customer_id,
                "type_id": type_id,
                "route_id": route_id,
                "link_man_id": link_man_id,
                "title": title,
                "content": content,
                "next_time": next_time,
            },
        )

    def get_contact_plan(self, *, id: int) -> dict[str, Any]:
        """根据id获取客户联系计划信息

        ``ContactPlan/GetContactPlan`` (read-only; authenticates with ``token``).

        Args:
            id: ``id`` (Int32, required): 计划id

        Returns:
            ``dict``: one ``CustomerContactPlan`` object (``CRMNotFound`` when the CRM has none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("ContactPlan/GetContactPlan", {"id": id})

    def get_contact_plan_count(self) -> int:
        """获取客户联系计划数量

        ``ContactPlan/GetContactPlanCount`` (read-only; authenticates with ``token``).

        Returns:
            ``int``: a count (rows affected, or a number).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("ContactPlan/GetContactPlanCount", {})

    def insert_contact_plan(
        self,
        *,
        plan_id: int,
        title: str,
        customer_id: int,
        type_id: int,
        route_id: int,
        link_man_id: int,
        history_id: int,
        next_time: datetime | date | str,
    ) -> bool:
        """新增联系计划

        ``ContactPlan/InsertContactPlan`` (writes; authenticates with ``token``).

        Args:
            plan_id: ``plan_id`` (Int32, required): 计划id
            title: ``title`` (String, required): 标题
            customer_id: ``customer_id`` (Int32, required): 客户ID
            type_id: ``type_id`` (Int32, required): 联系类别(1:销售联系2:客户关怀3:售后回访4:投诉回访5:服务支持6:
                维修维护7:实施培训)
            route_id: ``route_id`` (Int32, required): 联系方式(1:电话2:信函3:邮件4:上门)
            link_man_id: ``link_man_id`` (Int32, required): 客户联系人ID
            history_id: ``history_id`` (Int32, required): 联系记录ID
            next_time: ``next_time`` (DateTime, required): 计划联系时间,精确到秒。如:2013-05-05 10:25:30

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call(
            "ContactPlan/InsertContactPlan",
            {
                "plan_id": plan_id,
                "title": title,
                "customer_id": customer_id,
                "type_id": type_id,
                "route_id": route_id,
                "link_man_id": link_man_id,
                "history_id": history_id,
                "next_time": next_time,
            },
        )


class ContractAPI(_Group):
    """The ``Contract/*`` handlers (5), as ``client.contract.<method>`` (authenticate with ``token``)."""

    def sample_gift_audit_by_id(self, *, order_id: str) -> int:
        """商务-合同订单-根据id审核样品赠品订单

        ``Contract/SampleGiftAuditById`` (writes; authenticates with ``token``).

        Args:
            order_id: ``orderID`` (String, required): 订单单号

        Returns:
            ``int``: a count (rows affected, or a number).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Contract/SampleGiftAuditById", {"orderID": order_id})

    def sample_gift_un_audit_by_id(self, *, order_id: str) -> int:
        """商务-合同订单-根据id反审核样品赠品订单

        ``Contract/SampleGiftUnAuditById`` (writes; authenticates with ``token``).

        Args:
            order_id: ``orderID`` (String, required): 订单单号

        Returns:
            ``int``: a count (rows affected, or a number).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Contract/SampleGiftUnAuditById", {"orderID": order_id})

    def contract_audit(self, *, id: int) -> bool:
        """根据id审核合同订单

        ``Contract/ContractAudit`` (writes; authenticates with ``token``).

        Args:
            id: ``id`` (Int32, required): 合同订单id

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Contract/ContractAudit", {"id": id})

    def contract_un_audit(self, *, id: int) -> bool:
        """根据id反审核合同订单

        ``Contract/ContractUnAudit`` (writes; authenticates with ``token``).

        Args:
            id: ``id`` (Int32, required): 合同订单id

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Contract/ContractUnAudit", {"id": id})

    def stop_contract(self, *, id: int) -> int:
        """根据id终止合同

        ``Contract/StopContract`` (writes; authenticates with ``token``).

        Args:
            id: ``id`` (Int32, required): 合同id

        Returns:
            ``int``: ``1`` done, ``-1`` failed.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Contract/StopContract", {"id": id})


class CustomerAPI(_Group):
    """The ``Customer/*`` handlers (14), as ``client.customer.<method>`` (authenticate with ``token``)."""

    def cancel_share(self, *, str_ids: str) -> bool:
        """取消共享

        ``Customer/CancelShare`` (writes; authenticates with ``token``).

        Args:
            str_ids: ``strIds`` (String, required): 客户Id

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/CancelShare", {"strIds": str_ids})

    def remove_collection(self, *, user_id: int, cust_id_string: str) -> bool:
        """取消收藏

        ``Customer/RemoveCollection`` (writes; authenticates with ``token``).

        Args:
            user_id: ``userId`` (Int32, required): 用户id
            cust_id_string: ``custIdString`` (String, required): 客户id字符串例如111,222

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/RemoveCollection", {"userId": user_id, "custIdString": cust_id_string})

    def set_cust_identity(self, *, identity_id: int, cust_id: int) -> bool:
        """设置客户收藏标识

        ``Customer/SetCustIdentity`` (writes; authenticates with ``token``).

        Args:
            identity_id: ``identityId`` (Int32, required): 收藏标识id
            cust_id: ``custId`` (Int32, required): 客户id

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/SetCustIdentity", {"identityId": identity_id, "custId": cust_id})

    def get_all_list(self, *, page_index: int, page_size: int) -> list[dict[str, Any]]:
        """获取客户信息

        ``Customer/GetAllList`` (read-only; authenticates with ``token``).

        Args:
            page_index: ``pageIndex`` (Int32, required): 指定当前的页码
            page_size: ``pageSize`` (Int32, required): 指定要返回的记录条数,默认10,最大值100

        Returns:
            ``list`` of ``Customer`` objects (``[]`` when there are none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/GetAllList", {"pageIndex": page_index, "pageSize": page_size})

    def add_call_history(
        self,
        *,
        call_state: int,
        tel: str,
        user_id: int,
        remark: str | None = None,
        call_type: int,
        start_time: datetime | date | str,
        end_time: datetime | date | str,
        record: int,
        duration: int,
        ims: str,
        user_name: str,
    ) -> bool:
        """新增通话历史记录

        ``Customer/AddCallHistory`` (writes; authenticates with ``token``).

        Args:
            call_state: ``callState`` (Int32, required): 通话状态:1 已接 ,0 未接
            tel: ``tel`` (String, required): 通话号码
            user_id: ``userID`` (Int32, required): 用户ID
            remark: ``remark`` (String, optional, omitted when None): 备注
            call_type: ``callType`` (Int32, required): 通话类型 1:来电 2:去电
            start_time: ``startTime`` (DateTime, required): 通话开始时间
            end_time: ``endTime`` (DateTime, required): 通话结束时间
            record: ``record`` (Int32, required): 是否录音 1:录音 0:未录音
            duration: ``duration`` (Int32, required): 时长(秒)
            ims: ``ims`` (String, required): 电信号码
            user_name: ``userName`` (String, required): 用户名称

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call(
            "Customer/AddCallHistory",
            {
                "callState": call_state,
                "tel": tel,
                "userID": user_id,
                "remark": remark,
                "callType": call_type,
                "startTime": start_time,
                "endTime": end_time,
                "record": record,
                "duration": duration,
                "ims": ims,
                "userName": user_name,
            },
        )

    def ims_lock(self, *, user_id: int, ims: str) -> bool:
        """锁定IMS号码

        ``Customer/IMSLock`` (writes; authenticates with ``token``).

        Args:
            user_id: ``userID`` (Int32, required): 用户ID
            ims: ``ims`` (String, required): 计费号码

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/IMSLock", {"userID": user_id, "ims": ims})

    def un_ims_lock(self, *, ims: str) -> bool:
        """解除IMS号码锁定

        ``Customer/UnIMSLock`` (writes; authenticates with ``token``).

        Args:
            ims: ``ims`` (String, required): 计费号码

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/UnIMSLock", {"ims": ims})

    def insert_sms(
        self,
        *,
        sender_id: int,
        mobile_phone: str,
        receive_name: str | None = None,
        send_date: datetime | date | str,
        content: str,
        send_type: int,
        message_temple_id: str,
        value1: str | None = None,
        value2: str | None = None,
        value3: str | None = None,
        value4: str | None = None,
        value5: str | None = None,
        value6: str | None = None,
        remark: str | None = None,
    ) -> bool:
        """发送模板短信

        ``Customer/InsertSms`` (writes; authenticates with ``token``).

        Args:
            sender_id: ``senderID`` (Int32, required): 发信人
            mobile_phone: ``mobilePhone`` (String, required): 手机号码
            receive_name: ``receiveName`` (String, optional, omitted when None): 收信人
            send_date: ``sendDate`` (DateTime, required): 发送时间
            content: ``content`` (String, required): 内容
            send_type: ``sendType`` (Int32, required): 发送类别:0立即发送 1一次发送 2每天发送 3每周发送 4每月发送
                5每年发送
            message_temple_id: ``messageTempleID`` (String, required): 模板ID
            value1: ``value1`` (String, optional, omitted when None): 替换值1
            value2: ``value2`` (String, optional, omitted when None): 替换值2
            value3: ``value3`` (String, optional, omitted when None): 替换值3
            value4: ``value4`` (String, optional, omitted when None): 替换值4
            value5: ``value5`` (String, optional, omitted when None): 替换值5
            value6: ``value6`` (String, optional, omitted when None): 替换值6
            remark: ``remark`` (String, optional, omitted when None): 备注

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call(
            "Customer/InsertSms",
            {
                "senderID": sender_id,
                "mobilePhone": mobile_phone,
                "receiveName": receive_name,
                "sendDate": send_date,
                "content": content,
                "sendType": send_type,
                "messageTempleID": message_temple_id,
                "value1": value1,
                "value2": value2,
                "value3": value3,
                "value4": value4,
                "value5": value5,
                "value6": value6,
                "remark": remark,
            },
        )

    def update_call_history(
        self,
        *,
        s_call_number: str,
        d_call_time: datetime | date | str,
        b_call_state: int,
        call_type: int,
        tele_ims: str,
        display_tel: str,
        end_time: datetime | date | str,
        record: int,
        duration: int,
        add_user_name: str,
    ) -> bool:
        """更新通话历史记录

        ``Customer/UpdateCallHistory`` (writes; authenticates with ``token``).

        Args:
            s_call_number: ``sCallNumber`` (String, required): 通话号码
            d_call_time: ``dCallTime`` (DateTime, required): 通话开始时间
            b_call_state: ``bCallState`` (Int32, required): 通话状态:1 已接 ,0 未接
            call_type: ``callType`` (Int32, required): 通话类型 1:来电 2:去电
            tele_ims: ``teleIms`` (String, required): 电信IMS号码
            display_tel: ``displayTel`` (String, required): 外显号码
            end_time: ``endTime`` (DateTime, required): 通话结束时间
            record: ``record`` (Int32, required): 是否录音 1:录音 0:未录音
            duration: ``duration`` (Int32, required): 通话时长
            add_user_name: ``addUserName`` (String, required): 当前操作人姓名

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call(
            "Customer/UpdateCallHistory",
            {
                "sCallNumber": s_call_number,
                "dCallTime": d_call_time,
                "bCallState": b_call_state,
                "callType": call_type,
                "teleIms": tele_ims,
                "displayTel": display_tel,
                "endTime": end_time,
                "record": record,
                "duration": duration,
                "addUserName": add_user_name,
            },
        )

    def name_is_repeat(self, *, s_name: str, id: int) -> bool:
        """判断新添加的客户是否重名

        ``Customer/NameIsRepeat`` (read-only; authenticates with ``token``).

        Args:
            s_name: ``sName`` (String, required): 客户名称
            id: ``id`` (Int32, required): 客户id

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/NameIsRepeat", {"sName": s_name, "id": id})

    def get(self, *, id: int) -> dict[str, Any]:
        """根据id获取客户信息

        ``Customer/Get`` (read-only; authenticates with ``token``).

        Args:
            id: ``id`` (Int32, required): 客户id

        Returns:
            ``dict``: one ``Customer`` object (``CRMNotFound`` when the CRM has none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/Get", {"id": id})

    def update(self, *, customer: Mapping[str, Any] | str) -> bool:
        """保存客户信息

        ``Customer/Update`` (writes; authenticates with ``token``).

        Args:
            customer: ``customer`` (WebApi.Entity.CRM.Customer, required): 客户Customer对象

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/Update", {"customer": customer})

    def save(self, *, json: Mapping[str, Any] | str) -> bool:
        """保存客户信息

        ``Customer/Save`` (writes; authenticates with ``token``).

        Args:
            json: ``json`` (String, required): 客户json字符串

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/Save", {"json": json})

    def tel_is_repeat(self, *, tel: str, id: int) -> bool:
        """判断电话是否重复

        ``Customer/TelIsRepeat`` (read-only; authenticates with ``token``).

        Args:
            tel: ``tel`` (String, required): 电话号码
            id: ``id`` (Int32, required): 客户id

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Customer/TelIsRepeat", {"tel": tel, "id": id})


class CustomerSignAPI(_Group):
    """The ``CustomerSign/*`` handlers (2), as ``client.customersign.<method>`` (authenticate with ``token``)."""

    def get_client_sign_default(self) -> int:
        """获取默认的客户标识

        ``CustomerSign/GetClientSignDefault`` (read-only; authenticates with ``token``).

        Returns:
            ``int``: the code the reply holds.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("CustomerSign/GetClientSignDefault", {})

    def get_cust_type_bdefault(self) -> list[dict[str, Any]]:
        """获取默认的客户标识

        ``CustomerSign/GetCustTypeBdefault`` (read-only; authenticates with ``token``).

        Returns:
            ``list`` of ``CRM_Cust_T_CustKind`` objects (``[]`` when there are none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("CustomerSign/GetCustTypeBdefault", {})


class CustomerTypeAPI(_Group):
    """The ``CustomerType/*`` handlers (1), as ``client.customertype.<method>`` (authenticate with ``token``)."""

    def get_type_list(self, *, parent_id: int) -> list[dict[str, Any]]:
        """获取客户类型列表

        ``CustomerType/GetTypeList`` (read-only; authenticates with ``token``).

        Args:
            parent_id: ``parent_id`` (Int32, required): 客户类型父id(0:一级,一级id)

        Returns:
            ``list`` of ``CustomerType`` objects (``[]`` when there are none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("CustomerType/GetTypeList", {"parent_id": parent_id})


class ECommerceAPI(_Group):
    """The ``ECommerce/*`` handlers (2), as ``client.ecommerce.<method>`` (authenticate with ``siteKey``)."""

    def update_base_info_hit(self, *, pkid: int, add_hit: int) -> bool:
        """获取系统全部基础信息

        ``ECommerce/UpdateBaseInfoHit`` (writes; authenticates with ``siteKey``).

        Args:
            pkid: ``pkid`` (Int32, required): id
            add_hit: ``addHit`` (Int32, required)

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("ECommerce/UpdateBaseInfoHit", {"pkid": pkid, "addHit": add_hit})

    def add_message_board(self, *, cust_id: int, content: str, contact: str | None = None) -> bool:
        """添加留言反馈

        ``ECommerce/AddMessageBoard`` (writes; authenticates with ``siteKey``).

        Args:
            cust_id: ``custID`` (Int32, required): 客户id
            content: ``content`` (String, required): 留言内容
            contact: ``contact`` (String, optional, omitted when None): 联系人

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call(
            "ECommerce/AddMessageBoard", {"custID": cust_id, "content": content, "contact": contact}
        )


class LinkManAPI(_Group):
    """The ``LinkMan/*`` handlers (7), as ``client.linkman.<method>`` (authenticate with ``token``)."""

    def get_list(self, *, cust_id: int) -> list[dict[str, Any]]:
        """根据客户id获取联系人列表

        ``LinkMan/GetList`` (read-only; authenticates with ``token``).

        Args:
            cust_id: ``custId`` (Int32, required): 客户id

        Returns:
            ``list`` of ``LinkMan`` objects (``[]`` when there are none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("LinkMan/GetList", {"custId": cust_id})

    def cancel_main_man(self, *, id: int) -> int:
        """根据联系人id取消主要联系人标识

        ``LinkMan/CancelMainMan`` (writes; authenticates with ``token``).

        Args:
            id: ``id`` (Int32, required): 联系人id

        Returns:
            ``int``: a count (rows affected, or a number).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("LinkMan/CancelMainMan", {"id": id})

    def get_link_man_list(self, *, cust_id: int) -> list[dict[str, Any]]:
        """获取客户联系人列表

        ``LinkMan/GetLinkManList`` (read-only; authenticates with ``token``).

        Args:
            cust_id: ``cust_id`` (Int32, required): 客户id

        Returns:
            ``list`` of ``CustomerLinkMan`` objects (``[]`` when there are none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("LinkMan/GetLinkManList", {"cust_id": cust_id})

    def get_link_man(self, *, id: int) -> dict[str, Any]:
        """根据id获取客户联系人信息

        ``LinkMan/GetLinkMan`` (read-only; authenticates with ``token``).

        Args:
            id: ``id`` (Int32, required): 联系人id

        Returns:
            ``dict``: one ``CustomerLinkMan`` object (``CRMNotFound`` when the CRM has none).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("LinkMan/GetLinkMan", {"id": id})

    def save_link_man(self, *, man: Mapping[str, Any] | str) -> int:
        """更新联系人

        ``LinkMan/SaveLinkMan`` (writes; authenticates with ``token``).

        Args:
            man: ``man`` (WebApi.Entity.CRM.CustomerLinkMan, required): 联系人CustomerLinkMan对象

        Returns:
            ``int``: a count (rows affected, or a number).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("LinkMan/SaveLinkMan", {"man": man})

    def insert_link_man(self, *, man: Mapping[str, Any] | str) -> bool:
        """新增联系人

        ``LinkMan/InsertLinkMan`` (writes; authenticates with ``token``).

        Args:
            man: ``man`` (WebApi.Entity.CRM.CustomerLinkMan, required): 联系人CustomerLinkMan对象

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("LinkMan/InsertLinkMan", {"man": man})

    def delete_link_man(self, *, id: int) -> int:
        """删除联系人

        ``LinkMan/DeleteLinkMan`` (writes; authenticates with ``token``).

        Args:
            id: ``id`` (Int32, required): 联系人id

        Returns:
            ``int``: a count (rows affected, or a number).

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("LinkMan/DeleteLinkMan", {"id": id})


class SaleAPI(_Group):
    """The ``Sale/*`` handlers (1), as ``client.sale.<method>`` (authenticate with ``token``)."""

    def set_public_cust(self, *, pkid_list: str) -> bool:
        """根据客户ID转公共客户

        ``Sale/SetPublicCust`` (writes; authenticates with ``token``).

        Args:
            pkid_list: ``pkidList`` (String, required): 客户ID

        Returns:
            ``bool``: the reply's ``value``.

        Raises:
            CRMError: a subclass by cause, see ``CRMClient.request``.
        """
        return self._client.call("Sale/SetPublicCust", {"pkidList": pkid_list})


#: Client attribute name → group class.
GROUPS: dict[str, type[_Group]] = {
    "basetype": BaseTypeAPI,
    "contacthistory": ContactHistoryAPI,
    "contactplan": ContactPlanAPI,
    "contract": ContractAPI,
    "customer": CustomerAPI,
    "customersign": CustomerSignAPI,
    "customertype": CustomerTypeAPI,
    "ecommerce": ECommerceAPI,
    "linkman": LinkManAPI,
    "sale": SaleAPI,
}


class EndpointGroups:
    """Mixin for the client: one attribute per group, bound to the client by ``_bind_groups``."""

    basetype: BaseTypeAPI
    contacthistory: ContactHistoryAPI
    contactplan: ContactPlanAPI
    contract: ContractAPI
    customer: CustomerAPI
    customersign: CustomerSignAPI
    customertype: CustomerTypeAPI
    ecommerce: ECommerceAPI
    linkman: LinkManAPI
    sale: SaleAPI

    def _bind_groups(self, client: _Caller) -> None:
        self.basetype = BaseTypeAPI(client)
        self.contacthistory = ContactHistoryAPI(client)
        self.contactplan = ContactPlanAPI(client)
        self.contract = ContractAPI(client)
        self.customer = CustomerAPI(client)
        self.customersign = CustomerSignAPI(client)
        self.customertype = CustomerTypeAPI(client)
        self.ecommerce = ECommerceAPI(client)
        self.linkman = LinkManAPI(client)
        self.sale = SaleAPI(client)
