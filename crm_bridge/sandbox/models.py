"""The sandbox CRM's own tables: the emulated tenant's data, plus its control state (faults, request log,
credential override).

Entities that travel as CRM objects declare ``WIRE``: the table from wire key (exactly the name the CRM
uses in ``{"value": …}`` and in the JSON params ``json``/``customer``/``man``) to model attribute and kind.
:mod:`crm_bridge.sandbox.wire` converts in both directions from that table, so no handler spells a field
mapping out by hand.

Users (``userID``, ``senderID`` …) are plain integers: the CRM's user directory is not emulated.
Credentials are never stored: site-scoped rows keep a keyed digest of the siteKey (``site``), see
:mod:`crm_bridge.sandbox.credentials`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, NamedTuple

from django.db import models

from .phones import phone_key

WireKind = Literal["int", "str", "bool", "datetime"]


class WireField(NamedTuple):
    """One field of a CRM entity object on the wire."""

    wire: str
    """The key in the CRM's JSON/XML (``sName``, ``custId``, ``customer_id`` …)."""
    attr: str
    """The model attribute holding it."""
    kind: WireKind
    writable: bool = True
    """False for server-managed fields (ids, timestamps): ignored when a caller sends them."""


W = WireField


class WireModel(models.Model):
    """A row that the CRM hands out as an object. Subclasses set :attr:`WIRE`; those with
    ``extra`` keep unknown keys a caller sent and echo them back (as the vendor's entities do)."""

    WIRE: ClassVar[tuple[WireField, ...]] = ()
    KEEPS_EXTRAS: ClassVar[bool] = False
    extra: dict[str, Any]
    """Declared here for the type checker; only the ``KEEPS_EXTRAS`` models have it (a ``JSONField``)."""

    class Meta:
        abstract = True


# --- Customers and their link men ----------------------------------------------------------------------


class Customer(WireModel):
    """客户 (``WebApi.Entity.CRM.Customer``)."""

    s_name = models.CharField(max_length=200)
    tel = models.CharField(max_length=50, blank=True, default="")
    mobile = models.CharField(max_length=50, blank=True, default="")
    email = models.CharField(max_length=200, blank=True, default="")
    address = models.CharField(max_length=300, blank=True, default="")
    remark = models.TextField(blank=True, default="")
    type_id = models.IntegerField(default=0, help_text="CustomerType id (0: none)")
    client_sign = models.IntegerField(default=1, help_text="客户标识 1:企业 2:个人 (CustKind id)")
    is_public = models.BooleanField(default=False, help_text="公共客户 (Sale/SetPublicCust)")
    identity_id = models.IntegerField(default=0, help_text="收藏标识 (Identity id, 0: none)")
    create_time = models.DateTimeField()
    update_time = models.DateTimeField()
    extra = models.JSONField(default=dict, blank=True, help_text="Keys the caller sent that we do not model")
    # Lookup keys for NameIsRepeat / TelIsRepeat, kept in step with the fields by save().
    name_key = models.CharField(max_length=200, db_index=True, editable=False)
    tel_key = models.CharField(max_length=50, db_index=True, editable=False, blank=True)
    mobile_key = models.CharField(max_length=50, db_index=True, editable=False, blank=True)

    WIRE = (
        W("id", "id", "int", writable=False),
        W("sName", "s_name", "str"),
        W("tel", "tel", "str"),
        W("mobile", "mobile", "str"),
        W("email", "email", "str"),
        W("address", "address", "str"),
        W("remark", "remark", "str"),
        W("typeId", "type_id", "int"),
        W("clientSign", "client_sign", "int"),
        W("isPublic", "is_public", "bool"),
        W("identityId", "identity_id", "int"),
        W("createTime", "create_time", "datetime", writable=False),
        W("updateTime", "update_time", "datetime", writable=False),
    )
    KEEPS_EXTRAS = True

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.id} {self.s_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.refresh_keys()
        super().save(*args, **kwargs)

    def refresh_keys(self) -> None:
        """Recompute the duplicate-check keys (call before a bulk insert, which skips save())."""
        self.name_key = self.s_name.strip()
        self.tel_key = phone_key(self.tel)
        self.mobile_key = phone_key(self.mobile)


class LinkMan(WireModel):
    """客户联系人 (``WebApi.Entity.CRM.CustomerLinkMan``)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="link_men")
    s_name = models.CharField(max_length=100)
    tel = models.CharField(max_length=50, blank=True, default="")
    mobile = models.CharField(max_length=50, blank=True, default="")
    email = models.CharField(max_length=200, blank=True, default="")
    is_main = models.BooleanField(default=False, help_text="主要联系人; at most one per customer")
    extra = models.JSONField(default=dict, blank=True)

    WIRE = (
        W("id", "id", "int", writable=False),
        W("custId", "customer_id", "int"),
        W("sName", "s_name", "str"),
        W("tel", "tel", "str"),
        W("mobile", "mobile", "str"),
        W("email", "email", "str"),
        W("isMain", "is_main", "bool"),
    )
    KEEPS_EXTRAS = True

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.id} {self.s_name}"


# --- Contact history and plans (wire keys follow the doc's snake_case params for these) -------------------


class ContactHistory(WireModel):
    """联系历史记录 (``ContactHistory``)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contact_history")
    type_id = models.IntegerField(help_text="联系类别 1:销售联系 … 7:实施培训")
    route_id = models.IntegerField(help_text="联系方式 1:电话 2:信函 3:邮件 4:上门")
    link_man_id = models.IntegerField(default=0, help_text="LinkMan id (not checked; 0: none)")
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True, default="")
    plan_id = models.IntegerField(null=True, blank=True, help_text="The plan executed, if any")
    create_time = models.DateTimeField()

    WIRE = (
        W("id", "id", "int", writable=False),
        W("customer_id", "customer_id", "int"),
        W("type_id", "type_id", "int"),
        W("route_id", "route_id", "int"),
        W("link_man_id", "link_man_id", "int"),
        W("title", "title", "str"),
        W("content", "content", "str"),
        W("plan_id", "plan_id", "int"),
        W("create_time", "create_time", "datetime", writable=False),
    )

    class Meta:
        ordering = ("id",)
        verbose_name_plural = "contact history"

    def __str__(self) -> str:
        return f"{self.id} {self.title}"


class ContactPlan(WireModel):
    """客户联系计划 (``CustomerContactPlan``). The id is the caller's ``plan_id``, not generated."""

    id = models.IntegerField(primary_key=True)
    title = models.CharField(max_length=200)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contact_plans")
    type_id = models.IntegerField()
    route_id = models.IntegerField()
    link_man_id = models.IntegerField(default=0)
    history_id = models.IntegerField(default=0, help_text="The contact history it follows up (as sent)")
    next_time = models.DateTimeField()
    is_executed = models.BooleanField(default=False)
    executed_time = models.DateTimeField(null=True, blank=True)
    create_time = models.DateTimeField()

    WIRE = (
        W("id", "id", "int", writable=False),
        W("title", "title", "str"),
        W("customer_id", "customer_id", "int"),
        W("type_id", "type_id", "int"),
        W("route_id", "route_id", "int"),
        W("link_man_id", "link_man_id", "int"),
        W("history_id", "history_id", "int"),
        W("next_time", "next_time", "datetime"),
        W("is_executed", "is_executed", "bool"),
        W("executed_time", "executed_time", "datetime"),
        W("create_time", "create_time", "datetime", writable=False),
    )

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.id} {self.title}"


# --- Contracts and sample/gift orders (not handed out by any endpoint; state only) --------------------------


class Contract(models.Model):
    """合同订单. ``state`` moves draft ⇄ audited (ContractAudit / ContractUnAudit), audited → stopped."""

    class State(models.TextChoices):
        DRAFT = "draft", "未审核"
        AUDITED = "audited", "已审核"
        STOPPED = "stopped", "已终止"

    id = models.IntegerField(primary_key=True)
    code = models.CharField(max_length=40, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contracts")
    title = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.code} ({self.state})"


class SampleGiftOrder(models.Model):
    """样品赠品订单, addressed by its order number (``orderID``, e.g. ``SG-0001``)."""

    order_id = models.CharField(max_length=40, primary_key=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sample_gift_orders")
    title = models.CharField(max_length=200)
    audited = models.BooleanField(default=False)

    class Meta:
        ordering = ("order_id",)

    def __str__(self) -> str:
        return f"{self.order_id} ({'audited' if self.audited else 'unaudited'})"


# --- Sharing, collections, identities ----------------------------------------------------------------------


class Share(models.Model):
    """A customer shared with a user (共享). Customer/CancelShare removes all shares of given customers."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="shares")
    user_id = models.IntegerField()

    class Meta:
        ordering = ("id",)
        constraints = (models.UniqueConstraint(fields=("customer", "user_id"), name="crm_sandbox_share_uniq"),)

    def __str__(self) -> str:
        return f"customer {self.customer_id} → user {self.user_id}"


class Collection(models.Model):
    """A customer in a user's favourites (收藏)."""

    user_id = models.IntegerField()
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="collections")

    class Meta:
        ordering = ("id",)
        constraints = (models.UniqueConstraint(fields=("user_id", "customer"), name="crm_sandbox_collection_uniq"),)

    def __str__(self) -> str:
        return f"user {self.user_id} ★ customer {self.customer_id}"


class Identity(models.Model):
    """收藏标识: a label Customer/SetCustIdentity puts on a customer."""

    id = models.IntegerField(primary_key=True)
    s_name = models.CharField(max_length=50)

    class Meta:
        ordering = ("id",)
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return self.s_name


# --- Dictionaries ------------------------------------------------------------------------------------------


class BaseType(WireModel):
    """字典表 row; BaseType/GetBaseType lists the rows of one ``par_id`` (a string in the doc)."""

    id = models.IntegerField(primary_key=True)
    par_id = models.CharField(max_length=20, db_index=True)
    s_name = models.CharField(max_length=50)
    sort = models.IntegerField(default=0)

    WIRE = (
        W("id", "id", "int", writable=False),
        W("par_id", "par_id", "str"),
        W("sName", "s_name", "str"),
        W("sort", "sort", "int"),
    )

    class Meta:
        ordering = ("par_id", "sort", "id")

    def __str__(self) -> str:
        return f"{self.par_id}/{self.id} {self.s_name}"


class CustomerType(WireModel):
    """客户类型, a tree: ``parent_id`` 0 is the top level."""

    id = models.IntegerField(primary_key=True)
    parent_id = models.IntegerField(default=0, db_index=True)
    s_name = models.CharField(max_length=50)
    sort = models.IntegerField(default=0)

    WIRE = (
        W("id", "id", "int", writable=False),
        W("parent_id", "parent_id", "int"),
        W("sName", "s_name", "str"),
        W("sort", "sort", "int"),
    )

    class Meta:
        ordering = ("sort", "id")

    def __str__(self) -> str:
        return self.s_name


class CustKind(WireModel):
    """客户标识 (``CRM_Cust_T_CustKind``): 1 企业, 2 个人; one row is the default."""

    id = models.IntegerField(primary_key=True)
    s_name = models.CharField(max_length=50)
    is_default = models.BooleanField(default=False)

    WIRE = (
        W("id", "id", "int", writable=False),
        W("sName", "s_name", "str"),
        W("isDefault", "is_default", "bool"),
    )

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.s_name


# --- Telephony and SMS ---------------------------------------------------------------------------------------


class CallHistory(models.Model):
    """通话历史 (Customer/AddCallHistory); UpdateCallHistory finds a row by (tel, start_time)."""

    call_state = models.IntegerField(help_text="1 已接, 0 未接")
    tel = models.CharField(max_length=50, db_index=True)
    user_id = models.IntegerField()
    user_name = models.CharField(max_length=50)
    remark = models.TextField(blank=True, default="")
    call_type = models.IntegerField(help_text="1 来电, 2 去电")
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    record = models.IntegerField(help_text="1 录音, 0 未录音")
    duration = models.IntegerField(help_text="seconds")
    ims = models.CharField(max_length=50)
    # Set by UpdateCallHistory.
    tele_ims = models.CharField(max_length=50, blank=True, default="")
    display_tel = models.CharField(max_length=50, blank=True, default="")
    add_user_name = models.CharField(max_length=50, blank=True, default="")

    class Meta:
        ordering = ("id",)
        verbose_name_plural = "call history"

    def __str__(self) -> str:
        return f"{self.tel} @ {self.start_time}"


class ImsLock(models.Model):
    """An IMS (billing) number locked by a user (Customer/IMSLock, UnIMSLock)."""

    ims = models.CharField(max_length=50, unique=True)
    user_id = models.IntegerField()
    locked_at = models.DateTimeField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.ims} locked by {self.user_id}"


class Sms(models.Model):
    """A template SMS queued by Customer/InsertSms (nothing is sent)."""

    sender_id = models.IntegerField()
    mobile_phone = models.CharField(max_length=50)
    receive_name = models.CharField(max_length=50, blank=True, default="")
    send_date = models.DateTimeField()
    content = models.TextField()
    send_type = models.IntegerField(help_text="0 立即 1 一次 2 每天 3 每周 4 每月 5 每年")
    message_template_id = models.CharField(max_length=50)
    values = models.JSONField(default=list, help_text="value1 … value6 as sent")
    remark = models.TextField(blank=True, default="")
    create_time = models.DateTimeField()

    class Meta:
        ordering = ("id",)
        verbose_name = "SMS"
        verbose_name_plural = "SMS"

    def __str__(self) -> str:
        return f"SMS to {self.mobile_phone}"


# --- ECommerce (per site: ``site`` is the siteKey's digest, never the key) ------------------------------------


class Message(models.Model):
    """留言反馈 posted with ECommerce/AddMessageBoard."""

    site = models.CharField(max_length=64, db_index=True, help_text="digest of the siteKey")
    cust_id = models.IntegerField()
    content = models.TextField()
    contact = models.CharField(max_length=200, blank=True, default="")
    create_time = models.DateTimeField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"message {self.id} for customer {self.cust_id}"


class Hit(models.Model):
    """The page-view counter of one catalogue item (``pkid``) of one site (ECommerce/UpdateBaseInfoHit)."""

    site = models.CharField(max_length=64, help_text="digest of the siteKey")
    pkid = models.IntegerField()
    hits = models.BigIntegerField(default=0)

    class Meta:
        ordering = ("id",)
        constraints = (models.UniqueConstraint(fields=("site", "pkid"), name="crm_sandbox_hit_uniq"),)

    def __str__(self) -> str:
        return f"pkid {self.pkid}: {self.hits}"


# --- Control state -------------------------------------------------------------------------------------------


class Fault(models.Model):
    """An injected fault (see :func:`crm_bridge.sandbox.control.inject_fault`). In the database so that a
    test process can break a sandbox served by another process."""

    class Kind(models.TextChoices):
        DOWN = "down"
        SLOW = "slow"
        HANG = "hang"
        GARBAGE = "garbage"
        HTML = "html"
        TRUNCATED = "truncated"
        ERROR = "error"
        REJECT = "reject"
        RESET = "reset"

    class Phase(models.TextChoices):
        BEFORE = "before"
        AFTER = "after"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    endpoint = models.CharField(max_length=100, default="*", help_text="fnmatch pattern on Group/Name")
    phase = models.CharField(max_length=6, choices=Phase.choices, default=Phase.BEFORE)
    rate = models.FloatField(default=1.0)
    delay = models.FloatField(null=True, blank=True, help_text="seconds (slow, hang)")
    error_code = models.IntegerField(null=True, blank=True, help_text="for kind=error")
    remaining = models.IntegerField(null=True, blank=True, help_text="applications left (null: unlimited)")
    expires_at = models.DateTimeField(null=True, blank=True)
    applied = models.IntegerField(default=0, help_text="times applied so far")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.kind}/{self.phase} on {self.endpoint}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able description (the HTTP control API's representation)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "endpoint": self.endpoint,
            "phase": self.phase,
            "rate": self.rate,
            "delay": self.delay,
            "error_code": self.error_code,
            "remaining": self.remaining,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "applied": self.applied,
        }


class RequestLog(models.Model):
    """One request to an ``.ashx`` handler, as answered. ``params`` never holds a credential."""

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    endpoint = models.CharField(max_length=100, db_index=True, help_text="Group/Name, or the raw path if unknown")
    method = models.CharField(max_length=10)
    params = models.JSONField(default=dict)
    http_status = models.IntegerField()
    error_code = models.IntegerField(null=True, blank=True)
    fault_kind = models.CharField(max_length=10, blank=True, default="")
    fault_phase = models.CharField(max_length=6, blank=True, default="")
    duration_ms = models.IntegerField(default=0)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.endpoint} → {self.http_status}"


class CredentialOverride(models.Model):
    """Accepted credentials set at runtime (:func:`control.set_credentials`), as keyed digests only.

    At most one row (id 1); when absent, the process defaults (``settings.CRM_SANDBOX`` or the
    ``crm_sandbox`` command's ``--token``/``--site-key``) apply."""

    token_digests = models.JSONField(default=list)
    site_key_digests = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        # Counts only: even digests are not worth showing.
        return f"{len(self.token_digests)} token(s), {len(self.site_key_digests)} site key(s)"


# --- the group-robot stand-ins (crm_bridge.sandbox.robots) ----------------------------------------------


class RobotMessage(models.Model):
    """One request a robot stand-in received (accepted or refused), as the vendor would have seen it.

    Neither the webhook key nor the signing secret is stored: ``signed`` says whether a valid signature came."""

    KINDS = (("wecom", "WeCom"), ("dingtalk", "DingTalk"), ("feishu", "Feishu"))

    kind = models.CharField(max_length=10, choices=KINDS, db_index=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    accepted = models.BooleanField(default=True)
    errcode = models.IntegerField(default=0, help_text="What the stand-in answered (0: accepted)")
    msgtype = models.CharField(max_length=20, blank=True)
    text = models.TextField(blank=True)
    signed = models.BooleanField(default=False)
    body = models.JSONField(default=dict, blank=True, help_text="The JSON body, signature fields removed")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class RobotOutage(models.Model):
    """A robot stand-in told to be down: it answers 503 while this applies (``remaining`` requests, or until
    ``until``; both empty: until cleared)."""

    kind = models.CharField(max_length=10, default="*", help_text="wecom, dingtalk, feishu or *")
    remaining = models.IntegerField(null=True, blank=True)
    until = models.DateTimeField(null=True, blank=True)
    hits = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.kind} down"
