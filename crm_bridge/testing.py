"""Helpers for testing a site that uses crm_bridge: public, documented API (like ``rest_framework.test``).

Point the app at the sandbox CRM (``crm_bridge.sandbox``, mounted in your test site or run with
``manage.py crm_sandbox``), put rows in the outbox the way intake does, and deliver them in-process when you
do not want a Celery worker in a test::

    from crm_bridge import testing
    from crm_bridge.sandbox import control

    def test_contact_form_reaches_the_crm(live_server, settings, client):
        settings.CRM_BRIDGE = testing.sandbox_settings(live_server.url)
        control.reset()
        ...  # submit through your page or the widget API
        assert testing.deliver_due() == {"delivered": 1}
        assert control.customers()[-1]["sName"] == "…"
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from django.utils import timezone

from . import delivery
from .crm.spec import PATH_PREFIX
from .delivery import outbox
from .models import Site, Submission

__all__ = ["SANDBOX_SITE_KEY", "SANDBOX_TOKEN", "consent", "deliver_due", "sandbox_settings", "submission"]

#: The credentials the sandbox accepts unless told otherwise (``settings.CRM_SANDBOX``).
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 (the sandbox's public test credential, not a secret)
SANDBOX_SITE_KEY = "sandbox-site-key"

_serial = itertools.count(1)


def sandbox_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """A ``CRM_BRIDGE`` dict for a sandbox at ``url`` (a server root like ``live_server.url``, or the full
    handler base URL): the sandbox token, short timeouts, no in-line retries and no call-rate ceiling, so
    tests are quick and every CRM call is one request. ``overrides`` win."""
    base = url if url.rstrip("/").endswith(PATH_PREFIX.rstrip("/")) else url.rstrip("/") + "/" + PATH_PREFIX
    return {
        "BASE_URL": base,
        "TOKEN": SANDBOX_TOKEN,
        "CONNECT_TIMEOUT": 2.0,
        "READ_TIMEOUT": 2.0,
        "READ_RETRIES": 0,
        "CALLS_PER_SECOND": 0,
        **overrides,
    }


def submission(
    site: Site, kind: str = "message", *, status: str = "queued", payload: dict[str, Any] | None = None, **fields: Any
) -> Submission:
    """An outbox row as intake stores it (the payload keys delivery reads), unique per call; ``payload``
    entries replace the generated ones, ``fields`` set model fields (``attempts``, ``next_attempt_at`` …)."""
    n = next(_serial)
    if kind == Submission.Kind.MESSAGE:
        data = {"content": f"留言 {n}", "contact": "", "page_url": ""}
    else:
        tel = f"139{n:08d}"
        data = {
            "name": f"访客{n}", "tel": tel, "tel_e164": f"+86{tel}", "company": f"公司{n}",
            "email": "", "message": "", "page_url": "",
        }  # fmt: skip
    data.update(payload or {})
    return Submission.objects.create(site=site, kind=kind, payload=data, status=status, **fields)


def consent(site: Site) -> dict[str, Any]:
    """The fields a widget adds to a write once the visitor ticked the privacy notice's box: ``consent`` and
    the notice ``version`` the site shows now (docs/privacy.md). Merge it into a test's message or lead body."""
    from .privacy.notice import notice_version

    return {"consent": True, "version": notice_version(site)}


def deliver_due(*, limit: int = 1000) -> dict[str, int]:
    """Deliver every due, queued submission now, in this process (what a worker would do), oldest first;
    returns how many ended in each status, e.g. ``{"delivered": 3, "duplicate": 1}``."""
    now = timezone.now()
    # The outbox's own due rule (paused sites excluded), so this helper delivers exactly what a worker would.
    due = Submission.objects.filter(outbox.due_filter(now)).order_by("created_at")
    outcomes = Counter(delivery.deliver(pk) for pk in due.values_list("pk", flat=True)[:limit])
    return dict(outcomes)
