"""Routes of the sandbox: one per spec endpoint (built from ``spec.ENDPOINTS``, all to one dispatch view),
a catch-all under the handler prefix (10020, or a known handler spelled in another case), and the control
API under ``_sandbox/``, and the group-robot stand-ins under ``_robots/``.

Mount at the site root, as a real tenant serves its handlers: ``path("", include("crm_bridge.sandbox.urls"))``.
"""

from django.urls import path, re_path

from crm_bridge.crm import spec

from . import control_views, robots, views
from .handlers import check_coverage

app_name = "crm_sandbox"

check_coverage()  # a spec endpoint without a handler fails here, loudly, not as a 404 at run time

urlpatterns = [
    *(path(e.url_path, views.endpoint_view, {"endpoint": e}, name=e.path) for e in spec.ENDPOINTS),
    re_path(r"^" + spec.PATH_PREFIX.replace(".", r"\.") + r"(?P<rest>.*)$", views.unknown_endpoint_view),
    path("_sandbox/state", control_views.state_view, name="state"),
    path("_sandbox/faults", control_views.faults_view, name="faults"),
    path("_sandbox/reset", control_views.reset_view, name="reset"),
    path("_sandbox/credentials", control_views.credentials_view, name="credentials"),
    *robots.urlpatterns,  # the group-robot stand-ins under _robots/ (crm_bridge.sandbox.robots)
]
