"""crm_bridge in Django admin (staff only): sites, the submission outbox, hit counters, the CRM circuit, a
delivery dashboard on the admin index, and the CRM API console.

Modules: ``sites`` (Site, the console's URL), ``submissions`` (the outbox and its actions), ``health`` (hit
counters, circuit), ``privacy`` (the privacy audit log), ``dashboard`` (the index's numbers), ``console`` (the
API console view), ``common``.

The dashboard reaches the default admin index without touching the project's templates: if the default
``admin.site`` has no ``index_template`` of its own, it gets ``crm_bridge/admin/index.html``, which extends
whatever ``admin/index.html`` the project resolves (its own override included) and adds the dashboard on top. A
project with its own index template or its own ``AdminSite`` can add ``{% load crm_bridge_admin %}``
``{% crm_bridge_dashboard %}`` where it likes; the crm_bridge app page shows it in any case.
"""

from django.contrib import admin

from .health import CircuitAdmin, HitCounterAdmin
from .privacy import PrivacyAuditLogAdmin
from .sites import SiteAdmin
from .submissions import SubmissionAdmin

__all__ = ["CircuitAdmin", "HitCounterAdmin", "PrivacyAuditLogAdmin", "SiteAdmin", "SubmissionAdmin"]

if admin.site.index_template is None:
    admin.site.index_template = "crm_bridge/admin/index.html"
