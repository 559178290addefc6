"""The 39 handlers' behaviour: each takes a validated :class:`~crm_bridge.sandbox.params.Call` and returns
the ``value`` of the reply, or raises :class:`~crm_bridge.sandbox.errors.SandboxError`.

Handlers run inside one transaction each (the view opens it): a handler that raises leaves no trace.
They never see a credential; the ECommerce pair gets the siteKey's digest as ``call.site_digest``.

Families of look-alike endpoints are table-driven rather than copied: get-by-id (20101 when unknown),
state transitions (contracts, sample/gift orders; the reply kind in the spec decides whether the answer is a
bool, a count or 1/-1), and the two link-man lists. ``HANDLERS`` must cover ``spec.ENDPOINTS`` exactly;
:func:`check_coverage` (run when the URLconf is built) fails loudly if it does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Model, Q
from django.utils import timezone

from crm_bridge.crm import spec

from .errors import NOT_FOUND, SandboxError
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
    Hit,
    Identity,
    ImsLock,
    LinkMan,
    Message,
    SampleGiftOrder,
    Share,
    Sms,
    WireModel,
)
from .params import Call, convert
from .phones import phone_key
from .wire import from_wire, to_int, to_wire

__all__ = ["HANDLERS", "Handler", "check_coverage"]

Handler = Callable[[Call], Any]
HANDLERS: dict[str, Handler] = {}

#: Customer/GetAllList: the doc's "默认10,最大值100".
MAX_PAGE_SIZE = 100


def handles(*paths: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``paths`` (each must be in the spec)."""

    def register(fn: Handler) -> Handler:
        for path in paths:
            spec.get_endpoint(path)  # KeyError on a typo, at import time
            if path in HANDLERS:
                raise RuntimeError(f"two handlers for {path}")
            HANDLERS[path] = fn
        return fn

    return register


def check_coverage() -> None:
    """Raise if a spec endpoint has no handler (or a handler no endpoint)."""
    wanted = {e.path for e in spec.ENDPOINTS}
    if wanted != set(HANDLERS):
        raise RuntimeError(
            f"sandbox handlers out of step with the spec: missing {sorted(wanted - set(HANDLERS))}, "
            f"extra {sorted(set(HANDLERS) - wanted)}"
        )


# --- shared pieces -----------------------------------------------------------------------------------------

_ID_SEPARATORS = re.compile(r"[,，\s]+")


def _id_list(call: Call, param: str) -> list[int]:
    """A comma-separated id list (``"111,222"``; full-width commas and spaces tolerated); 10017 if any item
    is not an Int32 or there is none."""
    items = [item for item in _ID_SEPARATORS.split(call[param]) if item]
    if not items:
        raise SandboxError.invalid(param)
    return [convert("int32", param, item) for item in items]


def _customer_exists(customer_id: int) -> bool:
    return Customer.objects.filter(pk=customer_id).exists()


def _reply_for_changes(endpoint: spec.Endpoint, changed: int) -> bool | int:
    """Rows changed, in the endpoint's reply kind: ``bool`` (true if any), ``status`` (1 / -1), ``count``."""
    if endpoint.reply == "bool":
        return changed > 0
    if endpoint.reply == "status":
        return 1 if changed else -1
    return changed


# --- get by id (20101 when unknown) ---------------------------------------------------------------------------

_GET_BY_ID: dict[str, type[WireModel]] = {
    "ContactHistory/Get": ContactHistory,
    "ContactPlan/GetContactPlan": ContactPlan,
    "Customer/Get": Customer,
    "LinkMan/GetLinkMan": LinkMan,
}


def _get_by_id(model: type[WireModel]) -> Handler:
    def get(call: Call) -> dict[str, Any]:
        obj = model._default_manager.filter(pk=call["id"]).first()
        if obj is None:
            raise SandboxError(NOT_FOUND)
        return to_wire(obj)

    get.__doc__ = f"The {model.__name__} with ``id``, as its wire object; 20101 if there is none."
    return get


for _path, _model in _GET_BY_ID.items():
    handles(_path)(_get_by_id(_model))
del _path, _model


# --- state transitions --------------------------------------------------------------------------------------

#: path → (model, request param, lookup field, state field, from state, to state)
_TRANSITIONS: dict[str, tuple[type[Model], str, str, str, Any, Any]] = {
    "Contract/ContractAudit": (Contract, "id", "pk", "state", Contract.State.DRAFT, Contract.State.AUDITED),
    "Contract/ContractUnAudit": (Contract, "id", "pk", "state", Contract.State.AUDITED, Contract.State.DRAFT),
    "Contract/StopContract": (Contract, "id", "pk", "state", Contract.State.AUDITED, Contract.State.STOPPED),
    "Contract/SampleGiftAuditById": (SampleGiftOrder, "orderID", "order_id", "audited", False, True),
    "Contract/SampleGiftUnAuditById": (SampleGiftOrder, "orderID", "order_id", "audited", True, False),
}


def _transition(path: str) -> Handler:
    model, param, lookup, state, old, new = _TRANSITIONS[path]

    def move(call: Call) -> bool | int:
        changed = model._default_manager.filter(**{lookup: call[param], state: old}).update(**{state: new})
        return _reply_for_changes(call.endpoint, changed)

    move.__doc__ = f"Move {model.__name__} ``{param}`` from {old!r} to {new!r}; reply by rows changed."
    return move


for _path in _TRANSITIONS:
    handles(_path)(_transition(_path))
del _path


# --- dictionaries -------------------------------------------------------------------------------------------


@handles("BaseType/GetBaseType")
def get_base_type(call: Call) -> list[dict[str, Any]]:
    """The dictionary rows under ``par_id`` ([] for an unknown one)."""
    return [to_wire(row) for row in BaseType.objects.filter(par_id=call["par_id"].strip())]


@handles("CustomerType/GetTypeList")
def get_type_list(call: Call) -> list[dict[str, Any]]:
    """The customer types whose parent is ``parent_id`` (0: the top level)."""
    return [to_wire(row) for row in CustomerType.objects.filter(parent_id=call["parent_id"])]


@handles("CustomerSign/GetCustTypeBdefault")
def get_cust_kinds(call: Call) -> list[dict[str, Any]]:
    """Every 客户标识 row; the default one has ``isDefault: true``."""
    return [to_wire(row) for row in CustKind.objects.all()]


@handles("CustomerSign/GetClientSignDefault")
def get_client_sign_default(call: Call) -> int:
    """The id of the default 客户标识 (1 企业 as seeded), 0 if none is marked default."""
    kind = CustKind.objects.filter(is_default=True).first()
    return kind.id if kind else 0


# --- customers ----------------------------------------------------------------------------------------------


@handles("Customer/Save")
def save_customer(call: Call) -> bool:
    """Create a customer from ``json`` (any ``id`` in it is ignored); ``sName`` must be non-blank."""
    fields = from_wire(Customer, call["json"], "json")
    if not str(fields.values.get("s_name", "")).strip():
        raise SandboxError.invalid("json")
    now = timezone.now()
    Customer.objects.create(**fields.values, extra=fields.extra, create_time=now, update_time=now)
    return True


@handles("Customer/Update")
def update_customer(call: Call) -> bool:
    """Update the customer whose ``id`` the object carries with the keys it sends (others are kept;
    extras merge). False if there is no such customer; 10017 if ``sName`` is sent blank."""
    fields = from_wire(Customer, call["customer"], "customer")
    customer_id = to_int(0 if fields.id is None else fields.id, "customer")
    if "s_name" in fields.values and not fields.values["s_name"].strip():
        raise SandboxError.invalid("customer")
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return False
    for attr, value in fields.values.items():
        setattr(customer, attr, value)
    customer.extra = {**customer.extra, **fields.extra}
    customer.update_time = timezone.now()
    customer.save()
    return True


@handles("Customer/GetAllList")
def get_all_customers(call: Call) -> list[dict[str, Any]]:
    """Page ``pageIndex`` (1-based) of ``pageSize`` (1..100) customers by id; [] past the end."""
    index, size = call["pageIndex"], call["pageSize"]
    if index < 1:
        raise SandboxError.invalid("pageIndex")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise SandboxError.invalid("pageSize")
    start = (index - 1) * size
    return [to_wire(c) for c in Customer.objects.order_by("id")[start : start + size]]


@handles("Customer/NameIsRepeat")
def name_is_repeat(call: Call) -> bool:
    """True if a customer other than ``id`` has the name ``sName`` (both trimmed, otherwise exact)."""
    return Customer.objects.filter(name_key=call["sName"].strip()).exclude(pk=call["id"]).exists()


@handles("Customer/TelIsRepeat")
def tel_is_repeat(call: Call) -> bool:
    """True if a customer other than ``id`` has ``tel`` as its tel or mobile (see :mod:`.phones`)."""
    key = phone_key(call["tel"])
    if not key:
        return False
    return Customer.objects.filter(Q(tel_key=key) | Q(mobile_key=key)).exclude(pk=call["id"]).exists()


@handles("Customer/SetCustIdentity")
def set_cust_identity(call: Call) -> bool:
    """Label customer ``custId`` with identity ``identityId`` (0 clears it). False if either is unknown."""
    identity_id = call["identityId"]
    if identity_id and not Identity.objects.filter(pk=identity_id).exists():
        return False
    changed = Customer.objects.filter(pk=call["custId"]).update(identity_id=identity_id, update_time=timezone.now())
    return changed > 0


@handles("Sale/SetPublicCust")
def set_public_customers(call: Call) -> bool:
    """Mark the customers in ``pkidList`` public (unknown ids are skipped)."""
    ids = _id_list(call, "pkidList")
    Customer.objects.filter(pk__in=ids).update(is_public=True, update_time=timezone.now())
    return True


@handles("Customer/CancelShare")
def cancel_share(call: Call) -> bool:
    """Remove every share of the customers in ``strIds``."""
    Share.objects.filter(customer_id__in=_id_list(call, "strIds")).delete()
    return True


@handles("Customer/RemoveCollection")
def remove_collection(call: Call) -> bool:
    """Remove the customers in ``custIdString`` from user ``userId``'s collection."""
    ids = _id_list(call, "custIdString")
    Collection.objects.filter(user_id=call["userId"], customer_id__in=ids).delete()
    return True


# --- telephony and SMS --------------------------------------------------------------------------------------


@handles("Customer/AddCallHistory")
def add_call_history(call: Call) -> bool:
    """Store a call."""
    CallHistory.objects.create(
        call_state=call["callState"],
        tel=call["tel"],
        user_id=call["userID"],
        user_name=call["userName"],
        remark=call.get("remark", ""),
        call_type=call["callType"],
        start_time=call["startTime"],
        end_time=call["endTime"],
        record=call["record"],
        duration=call["duration"],
        ims=call["ims"],
    )
    return True


@handles("Customer/UpdateCallHistory")
def update_call_history(call: Call) -> bool:
    """Update the call(s) to ``sCallNumber`` (exact text) that started at ``dCallTime``; false if none."""
    changed = CallHistory.objects.filter(tel=call["sCallNumber"], start_time=call["dCallTime"]).update(
        call_state=call["bCallState"],
        call_type=call["callType"],
        tele_ims=call["teleIms"],
        display_tel=call["displayTel"],
        end_time=call["endTime"],
        record=call["record"],
        duration=call["duration"],
        add_user_name=call["addUserName"],
    )
    return changed > 0


@handles("Customer/IMSLock")
def ims_lock(call: Call) -> bool:
    """Lock ``ims`` for ``userID``: true if now locked by that user (also if it already was), false if
    another user holds it."""
    lock, created = ImsLock.objects.get_or_create(
        ims=call["ims"].strip(), defaults={"user_id": call["userID"], "locked_at": timezone.now()}
    )
    return created or lock.user_id == call["userID"]


@handles("Customer/UnIMSLock")
def ims_unlock(call: Call) -> bool:
    """Release ``ims``: true if it was locked."""
    deleted, _ = ImsLock.objects.filter(ims=call["ims"].strip()).delete()
    return deleted > 0


@handles("Customer/InsertSms")
def insert_sms(call: Call) -> bool:
    """Store a template SMS (nothing is sent)."""
    Sms.objects.create(
        sender_id=call["senderID"],
        mobile_phone=call["mobilePhone"],
        receive_name=call.get("receiveName", ""),
        send_date=call["sendDate"],
        content=call["content"],
        send_type=call["sendType"],
        message_template_id=call["messageTempleID"],
        values=[call.get(f"value{n}", "") for n in range(1, 7)],
        remark=call.get("remark", ""),
        create_time=timezone.now(),
    )
    return True


# --- link men -----------------------------------------------------------------------------------------------


def _only_main(man: LinkMan) -> None:
    """A customer has at most one main link man: marking one main unmarks the others."""
    if man.is_main:
        LinkMan.objects.filter(customer_id=man.customer_id, is_main=True).exclude(pk=man.pk).update(is_main=False)


@handles("LinkMan/InsertLinkMan")
def insert_link_man(call: Call) -> bool:
    """Create a link man from ``man`` (its ``id`` ignored); false unless ``custId`` is an existing customer
    and ``sName`` is non-blank."""
    fields = from_wire(LinkMan, call["man"], "man")
    if not fields.values.get("s_name", "").strip() or not _customer_exists(fields.values.get("customer_id", 0)):
        return False
    man = LinkMan.objects.create(**fields.values, extra=fields.extra)
    _only_main(man)
    return True


@handles("LinkMan/SaveLinkMan")
def save_link_man(call: Call) -> int:
    """Update the link man whose ``id`` ``man`` carries with the keys it sends: 1, or 0 if there is no such
    link man, the new ``custId`` is unknown or the new ``sName`` blank."""
    fields = from_wire(LinkMan, call["man"], "man")
    man = LinkMan.objects.filter(pk=to_int(0 if fields.id is None else fields.id, "man")).first()
    if man is None:
        return 0
    if "s_name" in fields.values and not fields.values["s_name"].strip():
        return 0
    if "customer_id" in fields.values and not _customer_exists(fields.values["customer_id"]):
        return 0
    for attr, value in fields.values.items():
        setattr(man, attr, value)
    man.extra = {**man.extra, **fields.extra}
    man.save()
    _only_main(man)
    return 1


@handles("LinkMan/GetList", "LinkMan/GetLinkManList")
def list_link_men(call: Call) -> list[dict[str, Any]]:
    """The link men of a customer by id ([] for an unknown customer). The doc has two handlers for this,
    naming the param ``custId`` and ``cust_id``; both answer the same rows."""
    customer_id = call.get("custId", call.get("cust_id"))
    return [to_wire(man) for man in LinkMan.objects.filter(customer_id=customer_id)]


@handles("LinkMan/CancelMainMan")
def cancel_main_man(call: Call) -> int:
    """Unmark link man ``id`` as main: 1 if it was main, else 0."""
    return LinkMan.objects.filter(pk=call["id"], is_main=True).update(is_main=False)


@handles("LinkMan/DeleteLinkMan")
def delete_link_man(call: Call) -> int:
    """Delete link man ``id``: 1, or 0 if there is none."""
    deleted, _ = LinkMan.objects.filter(pk=call["id"]).delete()
    return deleted


# --- contact history and plans ------------------------------------------------------------------------------


def _record_contact(call: Call, plan_id: int | None = None) -> ContactHistory:
    return ContactHistory.objects.create(
        customer_id=call["customer_id"],
        type_id=call["type_id"],
        route_id=call["route_id"],
        link_man_id=call["link_man_id"],
        title=call["title"],
        content=call["content"],
        plan_id=plan_id,
        create_time=timezone.now(),
    )


@handles("ContactHistory/Add")
def add_contact_history(call: Call) -> bool:
    """Record a contact with customer ``customer_id``; false if there is no such customer."""
    if not _customer_exists(call["customer_id"]):
        return False
    _record_contact(call)
    return True


@handles("ContactPlan/InsertContactPlan")
def insert_contact_plan(call: Call) -> bool:
    """Create plan ``plan_id`` (the caller chooses the id); false if that id exists or the customer does not."""
    if not _customer_exists(call["customer_id"]):
        return False
    try:
        with transaction.atomic():  # a savepoint: a concurrent insert of the same id answers false
            ContactPlan.objects.create(
                id=call["plan_id"],
                title=call["title"],
                customer_id=call["customer_id"],
                type_id=call["type_id"],
                route_id=call["route_id"],
                link_man_id=call["link_man_id"],
                history_id=call["history_id"],
                next_time=call["next_time"],
                create_time=timezone.now(),
            )
    except IntegrityError:
        return False
    return True


@handles("ContactPlan/SaveContactPlan")
def execute_contact_plan(call: Call) -> bool:
    """执行联系计划: mark plan ``plan_id`` executed, record the contact (history with this ``plan_id``) and
    set the plan's ``next_time``. False if the plan or the customer does not exist."""
    plan = ContactPlan.objects.filter(pk=call["plan_id"]).first()
    if plan is None or not _customer_exists(call["customer_id"]):
        return False
    _record_contact(call, plan_id=plan.id)
    plan.is_executed = True
    plan.executed_time = timezone.now()
    plan.next_time = call["next_time"]
    plan.save(update_fields=["is_executed", "executed_time", "next_time"])
    return True


@handles("ContactPlan/GetContactPlanCount")
def count_contact_plans(call: Call) -> int:
    """How many plans exist."""
    return ContactPlan.objects.count()


# --- ECommerce (siteKey-authenticated; rows keyed by the siteKey's digest) --------------------------------------


@handles("ECommerce/AddMessageBoard")
def add_message(call: Call) -> bool:
    """Store a message-board post for this site (``custID`` is not checked: sites post anonymous visitors'
    messages under a configured default customer)."""
    Message.objects.create(
        site=call.site_digest,
        cust_id=call["custID"],
        content=call["content"],
        contact=call.get("contact", ""),
        create_time=timezone.now(),
    )
    return True


@handles("ECommerce/UpdateBaseInfoHit")
def add_hits(call: Call) -> bool:
    """Add ``addHit`` (≥ 0, else 10017) to this site's counter for ``pkid``."""
    pkid, add = call["pkid"], call["addHit"]
    if add < 0:
        raise SandboxError.invalid("addHit")
    site = call.site_digest
    counter = Hit.objects.filter(site=site, pkid=pkid)
    if counter.update(hits=F("hits") + add):
        return True
    try:
        with transaction.atomic():
            Hit.objects.create(site=site, pkid=pkid, hits=add)
    except IntegrityError:  # another request created the counter first
        counter.update(hits=F("hits") + add)
    return True
