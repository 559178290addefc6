"""The sandbox tenant's seeded data, and :func:`reset` to it.

Deterministic (fixed ids and times) and idempotent: :func:`seed` inserts the seed rows that are missing
and leaves existing rows — seeded or not — alone; :func:`reset` wipes every sandbox table (data, faults,
request log, credential override), restarts id sequences and seeds, so ids after a reset are always the
same (the next new customer is id 6). The ids are listed in README.md; tests rely on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.apps import apps
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from .models import (
    BaseType,
    CallHistory,
    Collection,
    ContactHistory,
    ContactPlan,
    Contract,
    CustKind,
    Customer,
    CustomerType,
    Identity,
    ImsLock,
    LinkMan,
    SampleGiftOrder,
    Share,
)
from .wire import CRM_TZ

__all__ = ["reset", "seed"]


def _t(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CRM_TZ)


def _customers() -> list[Customer]:
    rows = [
        # id, sName, tel, mobile, email, address, typeId, clientSign, isPublic, created
        (1, "上海华东机电设备有限公司", "021-62345678", "13812345678", "sales@hdjd.example.cn",
         "上海市闵行区莘庄工业区春东路88号", 11, 1, False, "2024-01-08 09:30:00"),
        (2, "北京远望科技发展有限公司", "010-82345678", "13911112222", "contact@yuanwang.example.cn",
         "北京市海淀区中关村大街27号", 13, 1, False, "2024-01-15 14:00:00"),
        (3, "深圳市创新电子商行", "0755-26543210", "+86 137-0000-1234", "",
         "深圳市南山区科技园南区", 12, 1, False, "2024-02-02 10:15:00"),
        (4, "杭州西湖龙井茶业合作社", "0571-87001234", "", "tea@xihu.example.cn",
         "杭州市西湖区龙井村", 12, 1, True, "2024-02-20 16:45:00"),
        (5, "张伟", "", "15000001111", "zhangwei@example.cn", "成都市锦江区春熙路", 21, 2, False,
         "2024-03-05 11:20:00"),
    ]  # fmt: skip
    customers = []
    for pk, name, tel, mobile, email, address, type_id, sign, public, created in rows:
        customer = Customer(
            id=pk, s_name=name, tel=tel, mobile=mobile, email=email, address=address, type_id=type_id,
            client_sign=sign, is_public=public, create_time=_t(created), update_time=_t(created),
        )  # fmt: skip
        customer.refresh_keys()  # bulk_create skips save()
        customers.append(customer)
    return customers


def _rows() -> list[Sequence[models.Model]]:
    """Every seed row, grouped by model in insertion order (parents first)."""
    return [
        _customers(),
        [
            LinkMan(id=1, customer_id=1, s_name="王建国", tel="021-62345679", mobile="13812345678",
                    email="wangjg@hdjd.example.cn", is_main=True),
            LinkMan(id=2, customer_id=1, s_name="李娜", mobile="13800001111", email="lina@hdjd.example.cn"),
            LinkMan(id=3, customer_id=2, s_name="赵磊", mobile="13911112222", is_main=True),
            LinkMan(id=4, customer_id=3, s_name="陈静", mobile="13700001234", is_main=True),
            LinkMan(id=5, customer_id=4, s_name="刘洋", tel="0571-87001235"),
            LinkMan(id=6, customer_id=5, s_name="张伟", mobile="15000001111", is_main=True),
        ],
        [
            ContactHistory(id=1, customer_id=1, type_id=1, route_id=1, link_man_id=1, title="首次电话沟通",
                           content="客户对数控机床配件有采购意向", create_time=_t("2024-01-09 10:00:00")),
            ContactHistory(id=2, customer_id=2, type_id=5, route_id=3, link_man_id=3, title="发送产品资料",
                           content="已邮件发送报价单", create_time=_t("2024-01-16 09:00:00")),
            ContactHistory(id=3, customer_id=1, type_id=3, route_id=4, link_man_id=1, title="上门回访",
                           content="设备运行正常", plan_id=3, create_time=_t("2024-03-01 15:00:00")),
        ],
        [
            ContactPlan(id=1, title="跟进报价", customer_id=1, type_id=1, route_id=1, link_man_id=1,
                        history_id=1, next_time=_t("2024-04-01 10:00:00"), create_time=_t("2024-01-09 10:30:00")),
            ContactPlan(id=2, title="节日客户关怀", customer_id=2, type_id=2, route_id=3, link_man_id=3,
                        history_id=2, next_time=_t("2024-02-08 09:00:00"), create_time=_t("2024-01-16 09:30:00")),
            ContactPlan(id=3, title="售后回访", customer_id=1, type_id=3, route_id=4, link_man_id=1,
                        history_id=1, next_time=_t("2024-06-01 14:00:00"), is_executed=True,
                        executed_time=_t("2024-03-01 15:00:00"), create_time=_t("2024-02-01 08:00:00")),
        ],
        [
            Contract(id=1, code="HT-2024-0001", customer_id=1, title="数控机床配件采购合同",
                     amount=Decimal("128000.00"), state=Contract.State.DRAFT),
            Contract(id=2, code="HT-2024-0002", customer_id=2, title="软件开发服务合同",
                     amount=Decimal("56000.00"), state=Contract.State.DRAFT),
            Contract(id=3, code="HT-2024-0003", customer_id=3, title="电子元器件年度供货合同",
                     amount=Decimal("342000.00"), state=Contract.State.AUDITED),
            Contract(id=4, code="HT-2024-0004", customer_id=4, title="茶叶礼盒定制合同",
                     amount=Decimal("18800.00"), state=Contract.State.AUDITED),
            Contract(id=5, code="HT-2024-0005", customer_id=5, title="家用净水设备安装合同",
                     amount=Decimal("3600.00"), state=Contract.State.STOPPED),
        ],
        [
            SampleGiftOrder(order_id="SG-0001", customer_id=1, title="配件样品", audited=False),
            SampleGiftOrder(order_id="SG-0002", customer_id=3, title="元器件样品", audited=False),
            SampleGiftOrder(order_id="SG-0003", customer_id=4, title="新春茶礼", audited=True),
        ],
        [
            Share(id=1, customer_id=1, user_id=2),
            Share(id=2, customer_id=1, user_id=3),
            Share(id=3, customer_id=2, user_id=2),
            Share(id=4, customer_id=3, user_id=4),
        ],
        [
            Collection(id=1, user_id=1, customer_id=1),
            Collection(id=2, user_id=1, customer_id=2),
            Collection(id=3, user_id=1, customer_id=3),
            Collection(id=4, user_id=2, customer_id=4),
        ],
        [Identity(id=1, s_name="重点客户"), Identity(id=2, s_name="意向客户"), Identity(id=3, s_name="已成交客户")],
        [
            BaseType(id=101, par_id="1", s_name="网站留言", sort=1),
            BaseType(id=102, par_id="1", s_name="电话咨询", sort=2),
            BaseType(id=103, par_id="1", s_name="展会", sort=3),
            BaseType(id=104, par_id="1", s_name="老客户介绍", sort=4),
            BaseType(id=201, par_id="2", s_name="制造业", sort=1),
            BaseType(id=202, par_id="2", s_name="批发零售", sort=2),
            BaseType(id=203, par_id="2", s_name="信息技术", sort=3),
            BaseType(id=204, par_id="2", s_name="教育培训", sort=4),
            BaseType(id=301, par_id="3", s_name="电话", sort=1),
            BaseType(id=302, par_id="3", s_name="信函", sort=2),
            BaseType(id=303, par_id="3", s_name="邮件", sort=3),
            BaseType(id=304, par_id="3", s_name="上门", sort=4),
            *(
                BaseType(id=400 + n, par_id="4", s_name=name, sort=n)
                for n, name in enumerate(
                    ("销售联系", "客户关怀", "售后回访", "投诉回访", "服务支持", "维修维护", "实施培训"), start=1
                )
            ),
        ],
        [
            CustomerType(id=1, parent_id=0, s_name="企业客户", sort=1),
            CustomerType(id=2, parent_id=0, s_name="个人客户", sort=2),
            CustomerType(id=3, parent_id=0, s_name="渠道代理商", sort=3),
            CustomerType(id=11, parent_id=1, s_name="制造企业", sort=1),
            CustomerType(id=12, parent_id=1, s_name="贸易公司", sort=2),
            CustomerType(id=13, parent_id=1, s_name="互联网企业", sort=3),
            CustomerType(id=21, parent_id=2, s_name="VIP客户", sort=1),
            CustomerType(id=22, parent_id=2, s_name="普通客户", sort=2),
        ],
        [CustKind(id=1, s_name="企业", is_default=True), CustKind(id=2, s_name="个人", is_default=False)],
        [
            CallHistory(id=1, call_state=1, tel="13812345678", user_id=2, user_name="销售小王", call_type=2,
                        start_time=_t("2024-03-01 10:00:00"), end_time=_t("2024-03-01 10:05:30"), record=1,
                        duration=330, ims="02150001234"),
        ],
        [ImsLock(id=1, ims="02150001234", user_id=2, locked_at=_t("2024-03-01 09:55:00"))],
    ]  # fmt: skip


def _sandbox_models() -> list[type[models.Model]]:
    return list(apps.get_app_config("crm_sandbox").get_models())


def seed(using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert the seed rows that are missing (existing rows are left as they are)."""
    with transaction.atomic(using=using):
        for group in _rows():
            type(group[0])._default_manager.using(using).bulk_create(group, ignore_conflicts=True)
        # Explicit ids do not advance PostgreSQL's sequences (SQLite's do); move them past the seeds.
        connection = connections[using]
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), _sandbox_models()):
                cursor.execute(statement)


def reset(using: str = DEFAULT_DB_ALIAS) -> None:
    """Wipe every sandbox table, restart their id sequences and seed: the state right after install."""
    connection = connections[using]
    tables = [m._meta.db_table for m in _sandbox_models()]
    statements = connection.ops.sql_flush(no_style(), tables, reset_sequences=True)
    with transaction.atomic(using=using):
        connection.ops.execute_sql_flush(statements)
        seed(using)
