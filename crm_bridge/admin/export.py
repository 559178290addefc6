"""Staff export of the submissions list — exactly the rows its current filters and search show — as CSV or XLSX.

Reached from the changelist's "Export CSV" / "Export XLSX" buttons (``<changelist>/export/<format>/?<the list's
query string>``); the rows are those of Django's own :class:`~django.contrib.admin.views.main.ChangeList` built
from that query string, so every list filter and the admin search (``SubmissionAdmin.get_search_results``) apply
as on the page, all pages at once, in the list's order.

Contracts:

* Only users with the submission *view* permission (or *change*, which implies it; superusers have both) may
  export; anyone else gets 403 and nothing is written.
* What is stored is what is exported: a redacted row's personal fields are already blank, so they come out
  blank (:data:`COLUMNS`; ``redacted_at`` says when). The site is named, its CRM siteKey is never read.
* CSV cells that a spreadsheet would run as a formula (beginning with ``= + - @``, tab or carriage return) get a
  leading ``'`` (OWASP "CSV injection"); XLSX cells are typed as text, so ``=…`` is shown, never evaluated,
  and keeps its exact value. Times are in the site's ``TIME_ZONE``.
* Every export writes a :class:`~crm_bridge.models.PrivacyAuditLog` entry (action ``export``, via ``admin``,
  matched by ``filters``) and a log line: who, when, how many rows, the format and the filters — the names and
  choices of the list filters, and only *that* a search was made, never its term (a phone number or a name).

Why the standard library's :mod:`csv` and openpyxl rather than django-import-export or tablib (docs/export.md):
both would add a layer whose escaping does not do this job — tablib's XLSX ``escape`` deletes a leading ``=``
(changing the data), its CSV has none, and django-import-export adds an installed app, its own templates and
permission settings for an export-only need. openpyxl (the XLSX writer both of them use) in write-only mode
streams rows to the file without holding a worksheet in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters, ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import timezone

from ..intake.serializers import SOURCE_KEYS
from ..models import PrivacyAuditLog, Submission
from ..privacy import requests as privacy_requests

__all__ = ["COLUMNS", "FORMATS", "csv_safe", "describe_filters", "export_view", "rows_of", "to_csv", "to_xlsx"]

#: The payload keys of messages (content, contact) and leads (the rest), one column each; ``page_url`` is the
#: row's own column. The same keys erasure blanks (:data:`crm_bridge.privacy.redaction.PERSONAL_KEYS`).
PAYLOAD_COLUMNS = ("name", "tel", "tel_e164", "company", "email", "message", "content", "contact")
#: The header row, in order. ``source`` is flattened: one column per attribution key (landing, referrer,
#: utm_*, click ids).
COLUMNS = (
    "id", "created", "site", "kind", "status", "attempts", "finished", *PAYLOAD_COLUMNS, "page_url",
    *SOURCE_KEYS, "consent_version", "consent_at", "redacted_at",
)  # fmt: skip
#: format → (content type, file extension)
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}
#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _local(value: datetime | None) -> datetime | None:
    return timezone.localtime(value) if value is not None else None


def _consent_time(consent: dict[str, Any]) -> datetime | str:
    """The consent record's ``at`` (stored as ISO 8601 UTC) in local time; as stored when it is not a time."""
    raw = consent.get("at") or ""
    try:
        parsed = datetime.fromisoformat(str(raw))
    except ValueError:
        return str(raw)
    return timezone.localtime(parsed) if timezone.is_aware(parsed) else parsed


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def row_of(sub: Submission) -> list[Any]:
    """One row of :data:`COLUMNS`: strings, ints and aware local datetimes (``None`` for no time)."""
    payload = sub.payload if isinstance(sub.payload, dict) else {}
    source = sub.source if isinstance(sub.source, dict) else {}
    consent = sub.consent if isinstance(sub.consent, dict) else None
    return [
        str(sub.pk),
        _local(sub.created_at),
        sub.site.name,
        sub.kind,
        sub.status,
        sub.attempts,
        _local(sub.finished_at),
        *(_text(payload.get(key)) for key in PAYLOAD_COLUMNS),
        sub.page_url,
        *(_text(source.get(key)) for key in SOURCE_KEYS),
        _text(consent.get("version")) if consent else "",
        _consent_time(consent) if consent else "",
        _local(sub.redacted_at),
    ]


def rows_of(queryset: Iterable[Submission]) -> Iterator[list[Any]]:
    """:func:`row_of` for each submission."""
    for sub in queryset:
        yield row_of(sub)


def csv_safe(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is a string a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return csv_safe(value)


def to_csv(rows: Iterable[list[Any]]) -> tuple[bytes, int]:
    """The CSV file (UTF-8 with a byte-order mark, so spreadsheet apps read Chinese right) and its row count."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    n = 0
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
        n += 1
    return ("\ufeff" + out.getvalue()).encode("utf-8"), n


def to_xlsx(rows: Iterable[list[Any]]) -> tuple[bytes, int]:
    """The XLSX workbook (one sheet, "submissions") and its row count. Strings are text cells (never formulas);
    times are local and without a zone (Excel has none); characters XML cannot carry become U+FFFD."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("submissions")
    ws.freeze_panes = "A2"
    bold = Font(bold=True)

    def header(name: str) -> Cell:  # WriteOnlyCell is a function making a Cell
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        return cell

    def cell(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, datetime):
            return timezone.make_naive(value) if timezone.is_aware(value) else value
        if isinstance(value, str):
            text = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
            text.data_type = "s"  # openpyxl types a string starting with "=" as a formula: store it as text
            return text
        return value

    ws.append([header(name) for name in COLUMNS])
    n = 0
    for row in rows:
        ws.append([cell(v) for v in row])
        n += 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), n


def describe_filters(changelist: Any) -> str:
    """What the changelist is filtered by, for the audit log: each list filter's parameter and choice (choices of
    our own filters: statuses, kinds, site ids, dates, utm_source), any other query parameter by name only, and
    ``search`` without its term. ``all rows`` when nothing narrows the list."""
    known: set[str] = set()
    for spec in changelist.filter_specs:
        known.update(spec.expected_parameters())
    parts = []
    for key, values in sorted(changelist.get_filters_params().items()):
        values = values if isinstance(values, list) else [values]
        parts.append(f"{key}={','.join(map(str, values))}" if key in known else f"{key}=(value not recorded)")
    if changelist.query:
        parts.append("search (term not recorded)")
    return "; ".join(parts) or "all rows"


def export_view(model_admin: ModelAdmin[Submission], request: HttpRequest, fmt: str) -> HttpResponse:
    """The export of ``model_admin``'s changelist as ``request.GET`` filters it (see the module's contracts)."""
    if fmt not in FORMATS:
        raise Http404("unknown export format")
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        changelist = model_admin.get_changelist_instance(request)
    except IncorrectLookupParameters:
        return HttpResponseBadRequest("These filters are not valid for the submissions list.")
    queryset = changelist.queryset.select_related("site").iterator(chunk_size=2000)
    body, n = (to_csv if fmt == "csv" else to_xlsx)(rows_of(queryset))
    detail = f"{fmt}: {describe_filters(changelist)}"
    privacy_requests.audit(PrivacyAuditLog.Action.EXPORT, actor=request.user.get_username(), via="admin",
                           matched_by="filters", rows=n, detail=detail)  # fmt: skip
    content_type, ext = FORMATS[fmt]
    response = HttpResponse(body, content_type=content_type)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="submissions-{stamp}.{ext}"'
    response["Cache-Control"] = "no-store"  # personal data: not for shared or browser caches
    return response
