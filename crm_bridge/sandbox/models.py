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
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

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

    s_name = models.CharField(_("name"), max_length=200)
    tel = models.CharField(_("telephone"), max_length=50, blank=True, default="")
    mobile = models.CharField(_("mobile"), max_length=50, blank=True, default="")
    email = models.CharField(_("e-mail"), max_length=200, blank=True, default="")
    address = models.CharField(_("address"), max_length=300, blank=True, default="")
    remark = models.TextField(_("remark"), blank=True, default="")
    type_id = models.IntegerField(_("customer type"), default=0, help_text=_("CustomerType id (0: none)"))
    client_sign = models.IntegerField(
        _("customer kind"), default=1, help_text=_("客户标识 1:企业 2:个人 (CustKind id)")
    )
    is_public = models.BooleanField(_("public customer"), default=False, help_text=_("公共客户 (Sale/SetPublicCust)"))
    identity_id = models.IntegerField(_("identity label"), default=0, help_text=_("收藏标识 (Identity id, 0: none)"))
    create_time = models.DateTimeField(_("created"))
    update_time = models.DateTimeField(_("updated"))
    extra = models.JSONField(
        _("extra keys"), default=dict, blank=True, help_text=_("Keys the caller sent that we do not model")
    )
    # Lookup keys for NameIsRepeat / TelIsRepeat, kept in step with the fields by save().
    name_key = models.CharField(_("name lookup key"), max_length=200, db_index=True, editable=False)
    tel_key = models.CharField(_("telephone lookup key"), max_length=50, db_index=True, editable=False, blank=True)
    mobile_key = models.CharField(_("mobile lookup key"), max_length=50, db_index=True, editable=False, blank=True)

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
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
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

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="link_men"
    )
    s_name = models.CharField(_("name"), max_length=100)
    tel = models.CharField(_("telephone"), max_length=50, blank=True, default="")
    mobile = models.CharField(_("mobile"), max_length=50, blank=True, default="")
    email = models.CharField(_("e-mail"), max_length=200, blank=True, default="")
    is_main = models.BooleanField(_("main contact"), default=False, help_text=_("主要联系人; at most one per customer"))
    extra = models.JSONField(_("extra keys"), default=dict, blank=True)

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
        verbose_name = _("customer contact")
        verbose_name_plural = _("customer contacts")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.id} {self.s_name}"


# --- Contact history and plans (wire keys follow the doc's snake_case params for these) -------------------


class ContactHistory(WireModel):
    """联系历史记录 (``ContactHistory``)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contact_history"
    )
    type_id = models.IntegerField(_("contact category"), help_text=_("联系类别 1:销售联系 … 7:实施培训"))
    route_id = models.IntegerField(_("contact method"), help_text=_("联系方式 1:电话 2:信函 3:邮件 4:上门"))
    link_man_id = models.IntegerField(
        _("contact person ID"), default=0, help_text=_("LinkMan id (not checked; 0: none)")
    )
    title = models.CharField(_("title"), max_length=200)
    content = models.TextField(_("content"), blank=True, default="")
    plan_id = models.IntegerField(_("plan ID"), null=True, blank=True, help_text=_("The plan executed, if any"))
    create_time = models.DateTimeField(_("created"))

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
        verbose_name = _("contact history entry")
        verbose_name_plural = _("contact history")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.id} {self.title}"


class ContactPlan(WireModel):
    """客户联系计划 (``CustomerContactPlan``). The id is the caller's ``plan_id``, not generated."""

    id = models.IntegerField(_("plan ID"), primary_key=True)
    title = models.CharField(_("title"), max_length=200)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contact_plans"
    )
    type_id = models.IntegerField(_("contact category"))
    route_id = models.IntegerField(_("contact method"))
    link_man_id = models.IntegerField(_("contact person ID"), default=0)
    history_id = models.IntegerField(
        _("contact history ID"), default=0, help_text=_("The contact history it follows up (as sent)")
    )
    next_time = models.DateTimeField(_("next contact"))
    is_executed = models.BooleanField(_("executed"), default=False)
    executed_time = models.DateTimeField(_("executed at"), null=True, blank=True)
    create_time = models.DateTimeField(_("created"))

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
        verbose_name = _("contact plan")
        verbose_name_plural = _("contact plans")
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

    id = models.IntegerField(_("ID"), primary_key=True)
    code = models.CharField(_("code"), max_length=40, unique=True)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contracts"
    )
    title = models.CharField(_("title"), max_length=200)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.code} ({self.get_state_display()})"


class SampleGiftOrder(models.Model):
    """样品赠品订单, addressed by its order number (``orderID``, e.g. ``SG-0001``)."""

    order_id = models.CharField(_("order number"), max_length=40, primary_key=True)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="sample_gift_orders"
    )
    title = models.CharField(_("title"), max_length=200)
    audited = models.BooleanField(_("audited"), default=False)

    class Meta:
        verbose_name = _("sample/gift order")
        verbose_name_plural = _("sample/gift orders")
        ordering = ("order_id",)

    def __str__(self) -> str:
        # Not inside the f-string: xgettext does not look into f-strings, so makemessages would miss them.
        state = gettext("audited") if self.audited else gettext("not audited")
        return f"{self.order_id} ({state})"


# --- Sharing, collections, identities ----------------------------------------------------------------------


class Share(models.Model):
    """A customer shared with a user (共享). Customer/CancelShare removes all shares of given customers."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="shares")
    user_id = models.IntegerField(_("user ID"))

    class Meta:
        verbose_name = _("share")
        verbose_name_plural = _("shares")
        ordering = ("id",)
        constraints = (models.UniqueConstraint(fields=("customer", "user_id"), name="crm_sandbox_share_uniq"),)

    def __str__(self) -> str:
        return f"customer {self.customer_id} → user {self.user_id}"


class Collection(models.Model):
    """A customer in a user's favourites (收藏)."""

    user_id = models.IntegerField(_("user ID"))
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="collections"
    )

    class Meta:
        verbose_name = _("favourite")
        verbose_name_plural = _("favourites")
        ordering = ("id",)
        constraints = (models.UniqueConstraint(fields=("user_id", "customer"), name="crm_sandbox_collection_uniq"),)

    def __str__(self) -> str:
        return f"user {self.user_id} ★ customer {self.customer_id}"


class Identity(models.Model):
    """收藏标识: a label Customer/SetCustIdentity puts on a customer."""

    id = models.IntegerField(_("ID"), primary_key=True)
    s_name = models.CharField(_("name"), max_length=50)

    class Meta:
        verbose_name = _("identity label")
        verbose_name_plural = _("identity labels")
        ordering = ("id",)

    def __str__(self) -> str:
        return self.s_name


# --- Dictionaries ------------------------------------------------------------------------------------------


class BaseType(WireModel):
    """字典表 row; BaseType/GetBaseType lists the rows of one ``par_id`` (a string in the doc)."""

    id = models.IntegerField(_("ID"), primary_key=True)
    par_id = models.CharField(_("dictionary"), max_length=20, db_index=True)
    s_name = models.CharField(_("name"), max_length=50)
    sort = models.IntegerField(_("sort order"), default=0)

    WIRE = (
        W("id", "id", "int", writable=False),
        W("par_id", "par_id", "str"),
        W("sName", "s_name", "str"),
        W("sort", "sort", "int"),
    )

    class Meta:
        verbose_name = _("dictionary entry")
        verbose_name_plural = _("dictionary entries")
        ordering = ("par_id", "sort", "id")

    def __str__(self) -> str:
        return f"{self.par_id}/{self.id} {self.s_name}"


class CustomerType(WireModel):
    """客户类型, a tree: ``parent_id`` 0 is the top level."""

    id = models.IntegerField(_("ID"), primary_key=True)
    parent_id = models.IntegerField(_("parent type"), default=0, db_index=True)
    s_name = models.CharField(_("name"), max_length=50)
    sort = models.IntegerField(_("sort order"), default=0)

    WIRE = (
        W("id", "id", "int", writable=False),
        W("parent_id", "parent_id", "int"),
        W("sName", "s_name", "str"),
        W("sort", "sort", "int"),
    )

    class Meta:
        verbose_name = _("customer type")
        verbose_name_plural = _("customer types")
        ordering = ("sort", "id")

    def __str__(self) -> str:
        return self.s_name


class CustKind(WireModel):
    """客户标识 (``CRM_Cust_T_CustKind``): 1 企业, 2 个人; one row is the default."""

    id = models.IntegerField(_("ID"), primary_key=True)
    s_name = models.CharField(_("name"), max_length=50)
    is_default = models.BooleanField(_("default"), default=False)

    WIRE = (
        W("id", "id", "int", writable=False),
        W("sName", "s_name", "str"),
        W("isDefault", "is_default", "bool"),
    )

    class Meta:
        verbose_name = _("customer kind")
        verbose_name_plural = _("customer kinds")
        ordering = ("id",)

    def __str__(self) -> str:
        return self.s_name


# --- Telephony and SMS ---------------------------------------------------------------------------------------


class CallHistory(models.Model):
    """通话历史 (Customer/AddCallHistory); UpdateCallHistory finds a row by (tel, start_time)."""

    call_state = models.IntegerField(_("answered"), help_text=_("1 已接, 0 未接"))
    tel = models.CharField(_("telephone"), max_length=50, db_index=True)
    user_id = models.IntegerField(_("user ID"))
    user_name = models.CharField(_("user name"), max_length=50)
    remark = models.TextField(_("remark"), blank=True, default="")
    call_type = models.IntegerField(_("direction"), help_text=_("1 来电, 2 去电"))
    start_time = models.DateTimeField(_("start"))
    end_time = models.DateTimeField(_("end"))
    record = models.IntegerField(_("recorded"), help_text=_("1 录音, 0 未录音"))
    duration = models.IntegerField(_("duration (s)"), help_text=_("seconds"))
    ims = models.CharField(_("IMS number"), max_length=50)
    # Set by UpdateCallHistory.
    tele_ims = models.CharField(_("telephone IMS number"), max_length=50, blank=True, default="")
    display_tel = models.CharField(_("displayed number"), max_length=50, blank=True, default="")
    add_user_name = models.CharField(_("added by"), max_length=50, blank=True, default="")

    class Meta:
        verbose_name = _("call history entry")
        verbose_name_plural = _("call history")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.tel} @ {self.start_time}"


class ImsLock(models.Model):
    """An IMS (billing) number locked by a user (Customer/IMSLock, UnIMSLock)."""

    ims = models.CharField(_("IMS number"), max_length=50, unique=True)
    user_id = models.IntegerField(_("user ID"))
    locked_at = models.DateTimeField(_("locked at"))

    class Meta:
        verbose_name = _("IMS lock")
        verbose_name_plural = _("IMS locks")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.ims} locked by {self.user_id}"


class Sms(models.Model):
    """A template SMS queued by Customer/InsertSms (nothing is sent)."""

    sender_id = models.IntegerField(_("sender ID"))
    mobile_phone = models.CharField(_("mobile"), max_length=50)
    receive_name = models.CharField(_("recipient"), max_length=50, blank=True, default="")
    send_date = models.DateTimeField(_("send date"))
    content = models.TextField(_("content"))
    send_type = models.IntegerField(_("schedule"), help_text=_("0 立即 1 一次 2 每天 3 每周 4 每月 5 每年"))
    message_template_id = models.CharField(_("message template"), max_length=50)
    values = models.JSONField(_("values"), default=list, help_text=_("value1 … value6 as sent"))
    remark = models.TextField(_("remark"), blank=True, default="")
    create_time = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("SMS")
        verbose_name_plural = _("SMS")
        ordering = ("id",)

    def __str__(self) -> str:
        return gettext("SMS to %(mobile)s") % {"mobile": self.mobile_phone}


# --- ECommerce (per site: ``site`` is the siteKey's digest, never the key) ------------------------------------


class Message(models.Model):
    """留言反馈 posted with ECommerce/AddMessageBoard."""

    site = models.CharField(_("site (digest)"), max_length=64, db_index=True, help_text=_("digest of the siteKey"))
    cust_id = models.IntegerField(_("customer ID"))
    content = models.TextField(_("content"))
    contact = models.CharField(_("contact"), max_length=200, blank=True, default="")
    create_time = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("board message")
        verbose_name_plural = _("board messages")
        ordering = ("id",)

    def __str__(self) -> str:
        return gettext("board message %(id)s for customer %(cust_id)s") % {"id": self.id, "cust_id": self.cust_id}


class Hit(models.Model):
    """The page-view counter of one catalogue item (``pkid``) of one site (ECommerce/UpdateBaseInfoHit)."""

    site = models.CharField(_("site (digest)"), max_length=64, help_text=_("digest of the siteKey"))
    pkid = models.IntegerField(_("pkid"))
    hits = models.BigIntegerField(_("views"), default=0)

    class Meta:
        verbose_name = _("page-view counter")
        verbose_name_plural = _("page-view counters")
        ordering = ("id",)
        constraints = (models.UniqueConstraint(fields=("site", "pkid"), name="crm_sandbox_hit_uniq"),)

    def __str__(self) -> str:
        return f"pkid {self.pkid}: {self.hits}"


# --- Control state -------------------------------------------------------------------------------------------


class Fault(models.Model):
    """An injected fault (see :func:`crm_bridge.sandbox.control.inject_fault`). In the database so that a
    test process can break a sandbox served by another process."""

    class Kind(models.TextChoices):
        DOWN = "down", _("down (connection refused)")
        SLOW = "slow", _("slow")
        HANG = "hang", _("hang (no answer)")
        GARBAGE = "garbage", _("garbage reply")
        HTML = "html", _("HTML error page")
        TRUNCATED = "truncated", _("truncated reply")
        ERROR = "error", _("CRM error code")
        REJECT = "reject", _("credentials refused")
        RESET = "reset", _("connection reset")

    class Phase(models.TextChoices):
        BEFORE = "before", _("before the CRM acts")
        AFTER = "after", _("after the CRM acts")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    endpoint = models.CharField(
        _("endpoint"), max_length=100, default="*", help_text=_("fnmatch pattern on Group/Name")
    )
    phase = models.CharField(_("phase"), max_length=6, choices=Phase.choices, default=Phase.BEFORE)
    rate = models.FloatField(_("rate"), default=1.0)
    delay = models.FloatField(_("delay (s)"), null=True, blank=True, help_text=_("seconds (slow, hang)"))
    error_code = models.IntegerField(_("error code"), null=True, blank=True, help_text=_("for kind=error"))
    remaining = models.IntegerField(
        _("remaining"), null=True, blank=True, help_text=_("applications left (null: unlimited)")
    )
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    applied = models.IntegerField(_("applied"), default=0, help_text=_("times applied so far"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("fault")
        verbose_name_plural = _("faults")
        ordering = ("id",)

    def __str__(self) -> str:
        return gettext("%(kind)s, %(phase)s: %(endpoint)s") % {
            "kind": self.get_kind_display(),
            "phase": self.get_phase_display(),
            "endpoint": self.endpoint,
        }

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

    time = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    endpoint = models.CharField(
        _("endpoint"), max_length=100, db_index=True, help_text=_("Group/Name, or the raw path if unknown")
    )
    method = models.CharField(_("method"), max_length=10)
    params = models.JSONField(_("parameters"), default=dict)
    http_status = models.IntegerField(_("HTTP status"))
    error_code = models.IntegerField(_("error code"), null=True, blank=True)
    fault_kind = models.CharField(_("fault kind"), max_length=10, blank=True, default="")
    fault_phase = models.CharField(_("fault phase"), max_length=6, blank=True, default="")
    duration_ms = models.IntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("request log entry")
        verbose_name_plural = _("request log")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.endpoint} → {self.http_status}"


class CredentialOverride(models.Model):
    """Accepted credentials set at runtime (:func:`control.set_credentials`), as keyed digests only.

    At most one row (id 1); when absent, the process defaults (``settings.CRM_SANDBOX`` or the
    ``crm_sandbox`` command's ``--token``/``--site-key``) apply."""

    token_digests = models.JSONField(_("token digests"), default=list)
    site_key_digests = models.JSONField(_("siteKey digests"), default=list)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("credential override")
        verbose_name_plural = _("credential overrides")

    def __str__(self) -> str:
        # Counts only: even digests are not worth showing.
        return f"{len(self.token_digests)} token(s), {len(self.site_key_digests)} site key(s)"


# --- the group-robot stand-ins (crm_bridge.sandbox.robots) ----------------------------------------------


class RobotMessage(models.Model):
    """One request a robot stand-in received (accepted or refused), as the vendor would have seen it.

    Neither the webhook key nor the signing secret is stored: ``signed`` says whether a valid signature came."""

    KINDS = (("wecom", _("WeCom")), ("dingtalk", _("DingTalk")), ("feishu", _("Feishu")))

    kind = models.CharField(_("robot"), max_length=10, choices=KINDS, db_index=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    accepted = models.BooleanField(_("accepted"), default=True)
    errcode = models.IntegerField(_("errcode"), default=0, help_text=_("What the stand-in answered (0: accepted)"))
    msgtype = models.CharField(_("message type"), max_length=20, blank=True)
    text = models.TextField(_("text"), blank=True)
    signed = models.BooleanField(_("signed"), default=False)
    body = models.JSONField(_("body"), default=dict, blank=True, help_text=_("The JSON body, signature fields removed"))

    class Meta:
        verbose_name = _("robot message")
        verbose_name_plural = _("robot messages")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class RobotOutage(models.Model):
    """A robot stand-in told to be down: it answers 503 while this applies (``remaining`` requests, or until
    ``until``; both empty: until cleared)."""

    kind = models.CharField(_("robot"), max_length=10, default="*", help_text=_("wecom, dingtalk, feishu or *"))
    remaining = models.IntegerField(_("remaining"), null=True, blank=True)
    until = models.DateTimeField(_("until"), null=True, blank=True)
    hits = models.PositiveIntegerField(_("requests refused"), default=0)

    class Meta:
        verbose_name = _("robot outage")
        verbose_name_plural = _("robot outages")

    def __str__(self) -> str:
        return f"{self.kind} down"
