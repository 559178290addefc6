"""The 全程云 CRM Web API ("CRM客户关系", 39 handlers) as plain data.

This module is the single source of truth for endpoint paths, parameter names and types, and reply kinds.
The client's methods (``endpoints.py``, generated from this table), parameter validation (``codec``), the
sandbox's request validation, the admin console's forms and the docs are all driven from it.

It was transcribed from ``crm-webapi-reference.txt`` (the vendor's reference page); ``tests/crm/test_spec.py``
re-reads that text by its own route and compares. Names are exactly the doc's, case included.

Decisions on the doc's quirks (docs/architecture.md, "The CRM library"):

* ``token`` is required everywhere except the two ``ECommerce`` handlers, which authenticate with ``siteKey``.
  Both are *credentials*: the client fills them in, callers never pass them.
* ``format`` is optional, ``json`` (default) or ``xml``.
* ``tran`` (a server-side ``DbTransaction``) cannot be sent over HTTP: its role is ``unsendable`` and the client
  omits it. The entity params (``customer``, ``man``) and ``Customer/Save``'s ``json`` travel as JSON strings
  (wire type ``json``).
* ``DateTime`` travels as ``YYYY-MM-DD HH:MM:SS``; ``Int32`` is range-checked.

Import-safe: no Django, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

__all__ = [
    "DATETIME_FORMAT",
    "ENDPOINTS",
    "ERROR_CODES",
    "FORMAT",
    "INT32_MAX",
    "INT32_MIN",
    "PATH_PREFIX",
    "SITE_KEY",
    "SITE_KEY_GROUPS",
    "TOKEN",
    "Endpoint",
    "ErrorCode",
    "Param",
    "common_params",
    "get_endpoint",
    "python_name",
]

#: Where the handlers live below a tenant's site root: ``{site}/WebApi/Handler/1.0/CRM/{path}.ashx``.
PATH_PREFIX = "WebApi/Handler/1.0/CRM/"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

WireType = Literal["string", "int32", "datetime", "json", "transaction"]
ReplyKind = Literal["bool", "count", "status", "int", "object", "list"]
Role = Literal["credential", "format", "unsendable", "input"]

_CREDENTIALS = frozenset({"token", "siteKey"})


def python_name(name: str) -> str:
    """The Python-style keyword for a wire name: ``sName`` → ``s_name``, ``custIdString`` → ``cust_id_string``,
    ``orderID`` → ``order_id``, ``IMSLock`` → ``ims_lock``, ``par_id`` → ``par_id``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


@dataclass(frozen=True)
class Param:
    """One request parameter, as the reference doc lists it."""

    name: str
    """The wire name, exactly as the doc spells it (``sName``, ``custID``, ``pkidList`` …)."""
    type: WireType
    required: bool
    doc_type: str = ""
    """The type as the doc writes it (``Int32``, ``WebApi.Entity.CRM.Customer`` …), kept for provenance."""
    description: str = ""

    @property
    def role(self) -> Role:
        if self.name in _CREDENTIALS:
            return "credential"
        if self.name == "format":
            return "format"
        if self.type == "transaction":
            return "unsendable"
        return "input"

    @property
    def python_name(self) -> str:
        return python_name(self.name)


@dataclass(frozen=True)
class Endpoint:
    """One ``.ashx`` handler."""

    path: str
    """``Group/Name``, e.g. ``"Customer/NameIsRepeat"``; the URL is ``PATH_PREFIX + path + ".ashx"``."""
    summary: str
    """The doc's 功能 line, verbatim (some are the vendor's copy-paste slips, e.g. UpdateBaseInfoHit's)."""
    reply: ReplyKind
    """What ``{"value": …}`` holds: ``bool``; ``count`` (rows affected or a number); ``status`` (1 ok / -1 failed);
    ``int`` (a code); ``object`` or ``list`` of :attr:`entity`."""
    params: tuple[Param, ...]
    read_only: bool = False
    """True for lookups: safe to retry synchronously and to call from the admin console freely."""
    entity: str | None = None
    """The doc's entity name for ``object``/``list`` replies (``Customer``, ``CustomerLinkMan`` …)."""
    by_name: MappingProxyType[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", MappingProxyType({p.name: p for p in self.params}))

    @property
    def group(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.path.split("/", 1)[1]

    @property
    def python_name(self) -> str:
        return python_name(self.name)

    @property
    def auth(self) -> Literal["token", "siteKey"]:
        """Which credential the handler checks: ``siteKey`` for the ECommerce pair, ``token`` elsewhere."""
        return "siteKey" if "siteKey" in self.by_name else "token"

    @property
    def inputs(self) -> tuple[Param, ...]:
        """The params a caller supplies (no credential, no ``format``, no ``tran``), in the doc's order."""
        return tuple(p for p in self.params if p.role == "input")

    @property
    def url_path(self) -> str:
        return f"{PATH_PREFIX}{self.path}.ashx"


#: The params the doc repeats at the head of all 39 tables, defined once here. ``token`` and ``siteKey`` are
#: credentials (the client fills them in); ``format`` is the reply format, ``json`` (default) or ``xml``.
TOKEN = Param("token", "string", required=True, doc_type="string", description="当前登录用户访问令牌")
FORMAT = Param(
    "format", "string", required=False, doc_type="string", description="返回数据的格式(json或xml),默认为json格式"
)
SITE_KEY = Param("siteKey", "string", required=True, doc_type="String", description="站点密钥")

#: The groups whose handlers authenticate with ``siteKey``; the doc still lists ``token`` there, as optional.
SITE_KEY_GROUPS = frozenset({"ECommerce"})


def common_params(group: str) -> tuple[Param, ...]:
    """The params that open every handler's table in ``group``, in the doc's order: ``token``, ``format``; in
    a :data:`SITE_KEY_GROUPS` group ``token`` is optional and the required ``siteKey`` follows ``format``."""
    if group in SITE_KEY_GROUPS:
        return (replace(TOKEN, required=False), FORMAT, SITE_KEY)
    return (TOKEN, FORMAT)


def _handler(
    *,
    path: str,
    summary: str,
    reply: ReplyKind,
    params: tuple[Param, ...] = (),
    read_only: bool = False,
    entity: str | None = None,
) -> Endpoint:
    """An :class:`Endpoint` whose ``params`` are its group's :func:`common_params` followed by ``params``
    (the handler's own, in the doc's order)."""
    group = path.split("/", 1)[0]
    return Endpoint(
        path=path,
        summary=summary,
        reply=reply,
        params=common_params(group) + params,
        read_only=read_only,
        entity=entity,
    )


P = Param

ENDPOINTS: tuple[Endpoint, ...] = (
    _handler(
        path="BaseType/GetBaseType",
        summary="根据par_id字典表",
        reply="list",
        entity="BaseType",
        read_only=True,
        params=(P("par_id", "string", required=True, doc_type="String", description="标识"),),
    ),
    _handler(
        path="ContactHistory/Get",
        summary="根据联系历史id获取联系历史记录",
        reply="object",
        entity="ContactHistory",
        read_only=True,
        params=(P("id", "int32", required=True, doc_type="Int32", description="历史记录id"),),
    ),
    _handler(
        path="ContactHistory/Add",
        summary="添加联系记录",
        reply="bool",
        read_only=False,
        params=(
            P("customer_id", "int32", required=True, doc_type="Int32", description="客户id"),
            P("type_id", "int32", required=True, doc_type="Int32", description="联系类别"),
            P("route_id", "int32", required=True, doc_type="Int32", description="联系方式"),
            P("link_man_id", "int32", required=True, doc_type="Int32", description="客户联系人ID"),
            P("title", "string", required=True, doc_type="String", description="标题"),
            P("content", "string", required=True, doc_type="String", description="备注"),
        ),
    ),
    _handler(
        path="ContactPlan/SaveContactPlan",
        summary="执行联系计划",
        reply="bool",
        read_only=False,
        params=(
            P("plan_id", "int32", required=True, doc_type="Int32", description="计划id"),
            P("customer_id", "int32", required=True, doc_type="Int32", description="客户id"),
            P(
                "type_id",
                "int32",
                required=True,
                doc_type="Int32",
                description="联系类别(1:销售联系2:客户关怀3:售后回访4:投诉回访5:服务支持6:维修维护7:实施培训)",
            ),
            P(
                "route_id",
                "int32",
                required=True,
                doc_type="Int32",
                description="联系方式(1:电话2:信函3:邮件4:上门)",
            ),
            P("link_man_id", "int32", required=True, doc_type="Int32", description="客户联系人ID"),
            P("title", "string", required=True, doc_type="String", description="标题"),
            P("content", "string", required=True, doc_type="String", description="备注"),
            P(
                "next_time",
                "datetime",
                required=True,
                doc_type="DateTime",
                description="计划联系时间,精确到秒。如:2013-05-05 10:25:30",
            ),
        ),
    ),
    _handler(
        path="ContactPlan/GetContactPlan",
        summary="根据id获取客户联系计划信息",
        reply="object",
        entity="CustomerContactPlan",
        read_only=True,
        params=(P("id", "int32", required=True, doc_type="Int32", description="计划id"),),
    ),
    _handler(
        path="ContactPlan/GetContactPlanCount",
        summary="获取客户联系计划数量",
        reply="count",
        read_only=True,
    ),
    _handler(
        path="ContactPlan/InsertContactPlan",
        summary="新增联系计划",
        reply="bool",
        read_only=False,
        params=(
            P("plan_id", "int32", required=True, doc_type="Int32", description="计划id"),
            P("title", "string", required=True, doc_type="String", description="标题"),
            P("customer_id", "int32", required=True, doc_type="Int32", description="客户ID"),
            P(
                "type_id",
                "int32",
                required=True,
                doc_type="Int32",
                description="联系类别(1:销售联系2:客户关怀3:售后回访4:投诉回访5:服务支持6:维修维护7:实施培训)",
            ),
            P(
                "route_id",
                "int32",
                required=True,
                doc_type="Int32",
                description="联系方式(1:电话2:信函3:邮件4:上门)",
            ),
            P("link_man_id", "int32", required=True, doc_type="Int32", description="客户联系人ID"),
            P("history_id", "int32", required=True, doc_type="Int32", description="联系记录ID"),
            P(
                "next_time",
                "datetime",
                required=True,
                doc_type="DateTime",
                description="计划联系时间,精确到秒。如:2013-05-05 10:25:30",
            ),
        ),
    ),
    _handler(
        path="Contract/SampleGiftAuditById",
        summary="商务-合同订单-根据id审核样品赠品订单",
        reply="count",
        read_only=False,
        params=(P("orderID", "string", required=True, doc_type="String", description="订单单号"),),
    ),
    _handler(
        path="Contract/SampleGiftUnAuditById",
        summary="商务-合同订单-根据id反审核样品赠品订单",
        reply="count",
        read_only=False,
        params=(P("orderID", "string", required=True, doc_type="String", description="订单单号"),),
    ),
    _handler(
        path="Contract/ContractAudit",
        summary="根据id审核合同订单",
        reply="bool",
        read_only=False,
        params=(P("id", "int32", required=True, doc_type="Int32", description="合同订单id"),),
    ),
    _handler(
        path="Contract/ContractUnAudit",
        summary="根据id反审核合同订单",
        reply="bool",
        read_only=False,
        params=(P("id", "int32", required=True, doc_type="Int32", description="合同订单id"),),
    ),
    _handler(
        path="Contract/StopContract",
        summary="根据id终止合同",
        reply="status",
        read_only=False,
        params=(P("id", "int32", required=True, doc_type="Int32", description="合同id"),),
    ),
    _handler(
        path="Customer/CancelShare",
        summary="取消共享",
        reply="bool",
        read_only=False,
        params=(P("strIds", "string", required=True, doc_type="String", description="客户Id"),),
    ),
    _handler(
        path="Customer/RemoveCollection",
        summary="取消收藏",
        reply="bool",
        read_only=False,
        params=(
            P("userId", "int32", required=True, doc_type="Int32", description="用户id"),
            P(
                "custIdString",
                "string",
                required=True,
                doc_type="String",
                description="客户id字符串例如111,222",
            ),
        ),
    ),
    _handler(
        path="Customer/SetCustIdentity",
        summary="设置客户收藏标识",
        reply="bool",
        read_only=False,
        params=(
            P("identityId", "int32", required=True, doc_type="Int32", description="收藏标识id"),
            P("custId", "int32", required=True, doc_type="Int32", description="客户id"),
        ),
    ),
    _handler(
        path="Customer/GetAllList",
        summary="获取客户信息",
        reply="list",
        entity="Customer",
        read_only=True,
        params=(
            P("pageIndex", "int32", required=True, doc_type="Int32", description="指定当前的页码"),
            P(
                "pageSize",
                "int32",
                required=True,
                doc_type="Int32",
                description="指定要返回的记录条数,默认10,最大值100",
            ),
        ),
    ),
    _handler(
        path="Customer/AddCallHistory",
        summary="新增通话历史记录",
        reply="bool",
        read_only=False,
        params=(
            P("callState", "int32", required=True, doc_type="Int32", description="通话状态:1 已接 ,0 未接"),
            P("tel", "string", required=True, doc_type="String", description="通话号码"),
            P("userID", "int32", required=True, doc_type="Int32", description="用户ID"),
            P("remark", "string", required=False, doc_type="String", description="备注"),
            P("callType", "int32", required=True, doc_type="Int32", description="通话类型 1:来电 2:去电"),
            P("startTime", "datetime", required=True, doc_type="DateTime", description="通话开始时间"),
            P("endTime", "datetime", required=True, doc_type="DateTime", description="通话结束时间"),
            P("record", "int32", required=True, doc_type="Int32", description="是否录音 1:录音 0:未录音"),
            P("duration", "int32", required=True, doc_type="Int32", description="时长(秒)"),
            P("ims", "string", required=True, doc_type="String", description="电信号码"),
            P("userName", "string", required=True, doc_type="String", description="用户名称"),
        ),
    ),
    _handler(
        path="Customer/IMSLock",
        summary="锁定IMS号码",
        reply="bool",
        read_only=False,
        params=(
            P("userID", "int32", required=True, doc_type="Int32", description="用户ID"),
            P("ims", "string", required=True, doc_type="String", description="计费号码"),
        ),
    ),
    _handler(
        path="Customer/UnIMSLock",
        summary="解除IMS号码锁定",
        reply="bool",
        read_only=False,
        params=(P("ims", "string", required=True, doc_type="String", description="计费号码"),),
    ),
    _handler(
        path="Customer/InsertSms",
        summary="发送模板短信",
        reply="bool",
        read_only=False,
        params=(
            P("senderID", "int32", required=True, doc_type="Int32", description="发信人"),
            P("mobilePhone", "string", required=True, doc_type="String", description="手机号码"),
            P("receiveName", "string", required=False, doc_type="String", description="收信人"),
            P("sendDate", "datetime", required=True, doc_type="DateTime", description="发送时间"),
            P("content", "string", required=True, doc_type="String", description="内容"),
            P(
                "sendType",
                "int32",
                required=True,
                doc_type="Int32",
                description="发送类别:0立即发送 1一次发送 2每天发送 3每周发送 4每月发送 5每年发送",
            ),
            P("messageTempleID", "string", required=True, doc_type="String", description="模板ID"),
            P("value1", "string", required=False, doc_type="String", description="替换值1"),
            P("value2", "string", required=False, doc_type="String", description="替换值2"),
            P("value3", "string", required=False, doc_type="String", description="替换值3"),
            P("value4", "string", required=False, doc_type="String", description="替换值4"),
            P("value5", "string", required=False, doc_type="String", description="替换值5"),
            P("value6", "string", required=False, doc_type="String", description="替换值6"),
            P("remark", "string", required=False, doc_type="String", description="备注"),
        ),
    ),
    _handler(
        path="Customer/UpdateCallHistory",
        summary="更新通话历史记录",
        reply="bool",
        read_only=False,
        params=(
            P("sCallNumber", "string", required=True, doc_type="String", description="通话号码"),
            P("dCallTime", "datetime", required=True, doc_type="DateTime", description="通话开始时间"),
            P("bCallState", "int32", required=True, doc_type="Int32", description="通话状态:1 已接 ,0 未接"),
            P("callType", "int32", required=True, doc_type="Int32", description="通话类型 1:来电 2:去电"),
            P("teleIms", "string", required=True, doc_type="String", description="电信IMS号码"),
            P("displayTel", "string", required=True, doc_type="String", description="外显号码"),
            P("endTime", "datetime", required=True, doc_type="DateTime", description="通话结束时间"),
            P("record", "int32", required=True, doc_type="Int32", description="是否录音 1:录音 0:未录音"),
            P("duration", "int32", required=True, doc_type="Int32", description="通话时长"),
            P("addUserName", "string", required=True, doc_type="String", description="当前操作人姓名"),
        ),
    ),
    _handler(
        path="Customer/NameIsRepeat",
        summary="判断新添加的客户是否重名",
        reply="bool",
        read_only=True,
        params=(
            P("sName", "string", required=True, doc_type="String", description="客户名称"),
            P("id", "int32", required=True, doc_type="Int32", description="客户id"),
        ),
    ),
    _handler(
        path="Customer/Get",
        summary="根据id获取客户信息",
        reply="object",
        entity="Customer",
        read_only=True,
        params=(P("id", "int32", required=True, doc_type="Int32", description="客户id"),),
    ),
    _handler(
        path="Customer/Update",
        summary="保存客户信息",
        reply="bool",
        read_only=False,
        params=(
            P(
                "tran",
                "transaction",
                required=True,
                doc_type="Data.Common.DbTransaction",
                description="事物对象",
            ),
            P(
                "customer",
                "json",
                required=True,
                doc_type="WebApi.Entity.CRM.Customer",
                description="客户Customer对象",
            ),
        ),
    ),
    _handler(
        path="Customer/Save",
        summary="保存客户信息",
        reply="bool",
        read_only=False,
        params=(P("json", "json", required=True, doc_type="String", description="客户json字符串"),),
    ),
    _handler(
        path="Customer/TelIsRepeat",
        summary="判断电话是否重复",
        reply="bool",
        read_only=True,
        params=(
            P("tel", "string", required=True, doc_type="String", description="电话号码"),
            P("id", "int32", required=True, doc_type="Int32", description="客户id"),
        ),
    ),
    _handler(
        path="CustomerSign/GetClientSignDefault",
        summary="获取默认的客户标识",
        reply="int",
        read_only=True,
    ),
    _handler(
        path="CustomerSign/GetCustTypeBdefault",
        summary="获取默认的客户标识",
        reply="list",
        entity="CRM_Cust_T_CustKind",
        read_only=True,
    ),
    _handler(
        path="CustomerType/GetTypeList",
        summary="获取客户类型列表",
        reply="list",
        entity="CustomerType",
        read_only=True,
        params=(
            P(
                "parent_id",
                "int32",
                required=True,
                doc_type="Int32",
                description="客户类型父id(0:一级,一级id)",
            ),
        ),
    ),
    _handler(
        path="ECommerce/UpdateBaseInfoHit",
        summary="获取系统全部基础信息",
        reply="bool",
        read_only=False,
        params=(
            P("pkid", "int32", required=True, doc_type="Int32", description="id"),
            P("addHit", "int32", required=True, doc_type="Int32", description=""),
        ),
    ),
    _handler(
        path="ECommerce/AddMessageBoard",
        summary="添加留言反馈",
        reply="bool",
        read_only=False,
        params=(
            P("custID", "int32", required=True, doc_type="Int32", description="客户id"),
            P("content", "string", required=True, doc_type="String", description="留言内容"),
            P("contact", "string", required=False, doc_type="String", description="联系人"),
        ),
    ),
    _handler(
        path="LinkMan/GetList",
        summary="根据客户id获取联系人列表",
        reply="list",
        entity="LinkMan",
        read_only=True,
        params=(P("custId", "int32", required=True, doc_type="Int32", description="客户id"),),
    ),
    _handler(
        path="LinkMan/CancelMainMan",
        summary="根据联系人id取消主要联系人标识",
        reply="count",
        read_only=False,
        params=(P("id", "int32", required=True, doc_type="Int32", description="联系人id"),),
    ),
    _handler(
        path="LinkMan/GetLinkManList",
        summary="获取客户联系人列表",
        reply="list",
        entity="CustomerLinkMan",
        read_only=True,
        params=(P("cust_id", "int32", required=True, doc_type="Int32", description="客户id"),),
    ),
    _handler(
        path="LinkMan/GetLinkMan",
        summary="根据id获取客户联系人信息",
        reply="object",
        entity="CustomerLinkMan",
        read_only=True,
        params=(P("id", "int32", required=True, doc_type="Int32", description="联系人id"),),
    ),
    _handler(
        path="LinkMan/SaveLinkMan",
        summary="更新联系人",
        reply="count",
        read_only=False,
        params=(
            P(
                "tran",
                "transaction",
                required=True,
                doc_type="Data.Common.DbTransaction",
                description="事物处理对象",
            ),
            P(
                "man",
                "json",
                required=True,
                doc_type="WebApi.Entity.CRM.CustomerLinkMan",
                description="联系人CustomerLinkMan对象",
            ),
        ),
    ),
    _handler(
        path="LinkMan/InsertLinkMan",
        summary="新增联系人",
        reply="bool",
        read_only=False,
        params=(
            P(
                "tran",
                "transaction",
                required=True,
                doc_type="Data.Common.DbTransaction",
                description="事物处理对象",
            ),
            P(
                "man",
                "json",
                required=True,
                doc_type="WebApi.Entity.CRM.CustomerLinkMan",
                description="联系人CustomerLinkMan对象",
            ),
        ),
    ),
    _handler(
        path="LinkMan/DeleteLinkMan",
        summary="删除联系人",
        reply="count",
        read_only=False,
        params=(P("id", "int32", required=True, doc_type="Int32", description="联系人id"),),
    ),
    _handler(
        path="Sale/SetPublicCust",
        summary="根据客户ID转公共客户",
        reply="bool",
        read_only=False,
        params=(P("pkidList", "string", required=True, doc_type="String", description="客户ID"),),
    ),
)

_BY_PATH = MappingProxyType({e.path: e for e in ENDPOINTS})


def get_endpoint(path: str) -> Endpoint:
    """The endpoint for ``"Group/Name"`` (also accepts a trailing ``.ashx`` or the full handler path).

    Raises ``KeyError`` naming the path when there is no such handler."""
    key = path.removesuffix(".ashx").lstrip("/")
    if key.startswith(PATH_PREFIX):
        key = key[len(PATH_PREFIX) :]
    key = key.strip("/")
    try:
        return _BY_PATH[key]
    except KeyError:
        raise KeyError(f"no CRM endpoint {path!r}") from None


@dataclass(frozen=True)
class ErrorCode:
    """One row of the error table (docs/architecture.md, "The CRM library"): ``{"error_code", "error", "request"}``."""

    code: int
    category: Literal[
        "internal",
        "unavailable",
        "auth",
        "missing_param",
        "invalid_param",
        "not_found",
        "unknown_endpoint",
        "rate_limited",
    ]
    http_status: int
    message: str


#: The error codes the sandbox answers with and the client understands. The real tenant's "错误代码说明" page
#: is not available to us; the numbers follow the Sina Weibo open-API table the doc's wording is copied from.
#: The client maps any *other* code by HTTP status (5xx → retryable, else a rejection), so an unexpected code
#: never crashes delivery.
ERROR_CODES: MappingProxyType[int, ErrorCode] = MappingProxyType(
    {
        e.code: e
        for e in (
            ErrorCode(10001, "internal", 500, "system error"),
            ErrorCode(10002, "unavailable", 503, "service unavailable"),
            ErrorCode(10008, "invalid_param", 400, "param error, see doc for more info"),
            ErrorCode(10016, "missing_param", 400, "miss required parameter"),
            ErrorCode(10017, "invalid_param", 400, "parameter value invalid"),
            ErrorCode(10020, "unknown_endpoint", 404, "api not found"),
            ErrorCode(10023, "rate_limited", 429, "user requests out of rate limit"),
            ErrorCode(21301, "auth", 401, "auth failed (token)"),
            ErrorCode(21302, "auth", 401, "auth failed (siteKey)"),
            ErrorCode(20101, "not_found", 404, "target not found"),
        )
    }
)
