"""What each kind of submission asks of the CRM, call by call.

A flow returns a :class:`Verdict` (delivered, duplicate, failed with a reason, or wait) or lets a
:class:`~crm_bridge.crm.errors.CRMError` escape; :func:`crm_bridge.delivery.deliver` turns either into a state
transition. Each CRM call is recorded as a ``DeliveryAttempt`` by the ``call`` function handed in.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.db import DatabaseError, IntegrityError, transaction

from ..models import LeadIdentity, Site, Submission

Call = Callable[[str, dict[str, Any]], Any]
S = Submission.Status


@dataclass(frozen=True)
class Verdict:
    status: Literal["delivered", "duplicate", "failed", "wait"]
    reason: str = ""
    reply: Any = None


# --- messages ---------------------------------------------------------------------------------------------


def deliver_message(sub: Submission, call: Call) -> Verdict:
    """``ECommerce/AddMessageBoard`` under the site's default custID. The board has no idempotency key, so a
    send whose answer we never heard may be repeated (counted in ``ambiguous_sends``)."""
    payload = sub.payload
    content = "\n".join(filter(None, [payload["content"], source_text(sub.source)]))
    value = call(
        "ECommerce/AddMessageBoard",
        {"custID": sub.site.default_cust_id, "content": content, "contact": payload.get("contact") or None},
    )
    if value is True:
        return Verdict("delivered", reply={"ECommerce/AddMessageBoard": value})
    return Verdict(
        "failed", "the CRM answered AddMessageBoard with value=false", reply={"ECommerce/AddMessageBoard": value}
    )


# --- leads ------------------------------------------------------------------------------------------------


class _LeadFields(dict[str, str]):
    """Template variables for the site's lead mapping; unknown names render empty rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""


#: How long a landing or referrer URL may be in CRM text (the full one stays on the submission, in admin).
SOURCE_URL_SHOWN = 300
_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_CLICK_IDS = ("bd_vid", "qhclickid", "clickid")


def source_text(source: dict[str, Any] | None) -> str:
    """``Submission.source`` as text for sales, one line per item, lines without a value left out::

        来源: utm_source=baidu, utm_campaign=spring
        落地页: https://shop.example/?utm_source=baidu&bd_vid=123
        引荐页: https://www.baidu.com/
        点击ID: bd_vid=123

    URLs longer than :data:`SOURCE_URL_SHOWN` characters are cut there (with "…"). Empty or no source: ``""``.
    """
    src = {k: v for k, v in (source or {}).items() if isinstance(v, str) and v}

    def url(value: str) -> str:
        return value if len(value) <= SOURCE_URL_SHOWN else value[: SOURCE_URL_SHOWN - 1] + "…"

    lines = []
    if tags := ", ".join(f"{k}={src[k]}" for k in _UTM if k in src):
        lines.append(f"来源: {tags}")
    if "landing" in src:
        lines.append(f"落地页: {url(src['landing'])}")
    if "referrer" in src:
        lines.append(f"引荐页: {url(src['referrer'])}")
    if ids := ", ".join(f"{k}={src[k]}" for k in _CLICK_IDS if k in src):
        lines.append(f"点击ID: {ids}")
    return "\n".join(lines)


def lead_variables(payload: dict[str, Any], source: dict[str, Any] | None = None) -> dict[str, str]:
    """The lead's fields as strings, plus ``company_or_name``, ``source`` (:func:`source_text`) and ``summary``
    (message, contact person, page URL and source, one item a line)."""
    v = _LeadFields({k: "" if val is None else str(val) for k, val in payload.items()})
    v["company_or_name"] = v["company"] or v["name"]
    v["source"] = source_text(source)
    lines = [v["message"]] if v["message"] else []
    if v["company"]:
        lines.append(f"联系人: {v['name']}")
    if v["page_url"]:
        lines.append(f"来源页面: {v['page_url']}")
    if v["source"]:
        lines.append(v["source"])
    v["summary"] = "\n".join(lines)
    return v


def build_customer(site: Site, payload: dict[str, Any], source: dict[str, Any] | None = None) -> dict[str, str]:
    """The customer JSON for ``Customer/Save``: each key of ``site.lead_mapping`` rendered with
    ``str.format_map`` over the lead's fields plus ``company_or_name``, ``source`` (where the visit came from,
    the submission's ``source``) and ``summary``. Empty values are left out; ``sName`` and ``tel`` are always
    present (they are what the repeat checks look at)."""
    variables = lead_variables(payload, source)
    mapping = {"sName": "{company_or_name}", "tel": "{tel}", **(site.lead_mapping or {})}
    formatter = string.Formatter()
    customer = {}
    for field, template in mapping.items():
        value = formatter.vformat(str(template), (), variables).strip()
        if value or field in ("sName", "tel"):
            customer[field] = value
    return customer


def identity_key(field: str, value: str) -> str:
    """What makes two leads "the same" in our outbox: the name NFKC-folded, case- and space-insensitive;
    the phone as its digits."""
    if field == "tel":
        return "".join(ch for ch in value if ch.isdigit())[:200]
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())[:200]


def reserve_identities(sub: Submission, customer: dict[str, str]) -> Verdict | None:
    """Claim this lead's name and phone in the outbox, all or nothing.

    Returns None when the lead may go on to ask the CRM; ``duplicate`` when an earlier lead of this site with
    the same name or phone was already delivered (seen it: no CRM call needed); ``wait`` when one is still in
    flight. Any other owner (failed, cancelled, spam, or itself a duplicate) is taken over. Keys are taken in
    sorted order in one transaction, so two leads can never hold one key each and wait on each other forever.
    """
    wanted = sorted(
        {(f, identity_key(f, customer[k])) for f, k in (("name", "sName"), ("tel", "tel")) if customer.get(k)}
    )
    try:
        with transaction.atomic():
            for field, value in wanted:
                row = (
                    LeadIdentity.objects.select_for_update()
                    .select_related("submission")
                    .filter(site=sub.site_id, field=field, value=value)
                    .first()
                )
                if row is None:
                    LeadIdentity.objects.create(site_id=sub.site_id, field=field, value=value, submission=sub)
                    continue
                owner = row.submission
                if owner.pk == sub.pk:
                    continue
                if owner.status == S.DELIVERED:  # the CRM has that customer, with this name or phone
                    raise _Seen(field, owner)
                if owner.status in (S.QUEUED, S.SENDING):
                    raise _Busy(field, owner)
                # The earlier lead never created a customer (failed, cancelled, spam — or a duplicate, which may
                # have repeated only its *other* key): this one takes its place and asks the CRM itself.
                row.submission = sub
                row.save(update_fields=["submission"])
    except _Seen as seen:
        return Verdict("duplicate", f"same {seen.field} as lead {seen.owner.pk}, already {seen.owner.status}")
    except _Busy as busy:
        return Verdict("wait", f"lead {busy.owner.pk} with the same {busy.field} is in flight")
    except (IntegrityError, DatabaseError) as err:
        # Another worker inserted the same key (or PostgreSQL broke a lock cycle) at the same moment.
        return Verdict("wait", f"contended: {type(err).__name__}")
    return None


class _Owned(Exception):
    """Another lead owns one of this lead's identities (raised inside the transaction to roll it back)."""

    def __init__(self, field: str, owner: Submission) -> None:
        self.field, self.owner = field, owner


class _Seen(_Owned):
    """… and it already reached the CRM."""


class _Busy(_Owned):
    """… and it is still in flight."""


def deliver_lead(sub: Submission, call: Call, *, mark_save_attempted: Callable[[], None]) -> Verdict:
    """``NameIsRepeat`` and ``TelIsRepeat`` (``id=0``: a new customer), then ``Customer/Save``.

    A repeat makes the lead a duplicate — unless an earlier attempt of *this* lead already sent ``Save``
    (``save_attempted``): then the CRM has it because we created it and never heard back, and it is delivered.
    That is what makes a retry after a crash or timeout that followed a successful Save harmless.
    """
    customer = build_customer(sub.site, sub.payload, sub.source)
    if (verdict := reserve_identities(sub, customer)) is not None:
        return verdict
    replies: dict[str, Any] = {}
    checks = (
        ("name", "Customer/NameIsRepeat", {"sName": customer["sName"], "id": 0}),
        ("phone", "Customer/TelIsRepeat", {"tel": customer["tel"], "id": 0}),
    )
    for label, path, params in checks:
        replies[path] = repeated = call(path, params)
        if repeated is True:
            if sub.save_attempted:
                return Verdict("delivered", "confirmed: an earlier Save of this lead had reached the CRM", replies)
            return Verdict("duplicate", f"the CRM already has a customer with this {label}", replies)
    mark_save_attempted()
    replies["Customer/Save"] = saved = call("Customer/Save", {"json": customer})
    if saved is True:
        return Verdict("delivered", reply=replies)
    return Verdict("failed", "the CRM answered Customer/Save with value=false", replies)


def duplicate_board_note(sub: Submission) -> str:
    """The message-board text that tells sales a known contact came back."""
    p = sub.payload
    parts = [f"重复线索 / returning lead: {p.get('name', '')} {p.get('tel', '')}".strip()]
    if p.get("company"):
        parts.append(f"公司: {p['company']}")
    if source := source_text(sub.source):
        parts.append(source)  # before the message, so the 2000-character cut cannot take it
    if p.get("message"):
        parts.append(p["message"])
    return "\n".join(parts)[:2000]
