"""Entities to and from their wire objects, driven by each model's ``WIRE`` table.

Reading follows what the vendor's .NET stack (Json.NET into a typed entity) would do with a caller's JSON:

* keys match the entity's fields case-insensitively (Json.NET's default), ``sname`` fills ``sName``;
* server-managed fields (``id``, ``createTime`` …) are not written from input; ``id`` is handed back to the
  handler separately (:attr:`Fields.id`) for the calls that address a row by it;
* values are coerced the forgiving way Json.NET does (``"3"`` → 3 for an int, 3 → ``"3"`` for a string,
  ``null`` → the field's empty value) and refused (10017 naming the param) when they cannot be
  (an object for a string, ``"abc"`` for an int, an int out of Int32 range);
* keys the entity does not know are kept in ``extra`` and echoed back (customers and link men only).

Datetimes travel as ``YYYY-MM-DD HH:MM:SS`` in the CRM's local time, :data:`CRM_TZ` (Asia/Shanghai: the
wire carries no offset, and the vendor is a Chinese SaaS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_bridge.crm.spec import DATETIME_FORMAT, INT32_MAX, INT32_MIN

from .errors import SandboxError
from .models import WireKind, WireModel

__all__ = ["CRM_TZ", "Fields", "format_datetime", "from_wire", "to_int", "to_wire"]

CRM_TZ = ZoneInfo("Asia/Shanghai")
_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def format_datetime(value: datetime | None) -> str | None:
    return value.astimezone(CRM_TZ).strftime(DATETIME_FORMAT) if value is not None else None


def to_wire(obj: WireModel) -> dict[str, Any]:
    """The object the CRM hands out for ``obj``: its ``WIRE`` fields in table order, then its extras."""
    out: dict[str, Any] = {}
    for f in obj.WIRE:
        value = getattr(obj, f.attr)
        out[f.wire] = format_datetime(value) if f.kind == "datetime" else value
    if obj.KEEPS_EXTRAS:
        for key, value in obj.extra.items():
            out.setdefault(key, value)
    return out


@dataclass
class Fields:
    """What a caller's object says, sorted out."""

    values: dict[str, Any] = field(default_factory=dict)
    """Model attribute → coerced value, for the writable fields the caller sent."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys the entity does not model (kept only where the model keeps extras)."""
    id: Any = None
    """The ``id`` as sent (not coerced: only some calls care; see :func:`to_int`)."""


def to_int(value: Any, param: str) -> int:
    """An Int32 from a JSON value (int, integral float or digit string); 10017 naming ``param`` if not."""
    if isinstance(value, bool):
        raise SandboxError.invalid(param)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        if not _INT_TEXT.fullmatch(value.strip()):
            raise SandboxError.invalid(param)
        value = int(value)
    if not isinstance(value, int) or not INT32_MIN <= value <= INT32_MAX:
        raise SandboxError.invalid(param)
    return value


def _to_str(value: Any, param: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise SandboxError.invalid(param)


_TRUE, _FALSE = ("true", "1"), ("false", "0")


def _to_bool(value: Any, param: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise SandboxError.invalid(param)


def _to_datetime(value: Any, param: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.strptime(str(value), DATETIME_FORMAT).replace(tzinfo=CRM_TZ)
    except ValueError:
        raise SandboxError.invalid(param) from None


def _coerce(kind: WireKind, value: Any, param: str) -> Any:
    if kind == "int":
        return 0 if value is None else to_int(value, param)
    if kind == "bool":
        return _to_bool(value, param)
    if kind == "datetime":
        return _to_datetime(value, param)
    return _to_str(value, param)


def from_wire(model: type[WireModel], data: Mapping[str, Any], param: str) -> Fields:
    """Sort a caller's object (the value of param ``param``) into a :class:`Fields`."""
    by_key = {f.wire.lower(): f for f in model.WIRE}
    fields = Fields()
    for key, value in data.items():
        f = by_key.get(key.lower())
        if f is None:
            if model.KEEPS_EXTRAS:
                fields.extra[key] = value
        elif f.wire == "id":
            fields.id = value
        elif f.writable:
            fields.values[f.attr] = _coerce(f.kind, value, param)
    return fields
