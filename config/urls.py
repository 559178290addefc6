"""URLs of the demo host site: admin, the crm_bridge app under /crm/, and, for the demo and the tests only
(``settings.CRM_SANDBOX_ENABLED``: on with DEBUG, off in a deployment), the sandbox CRM at the path a real
tenant serves its Web API from."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from .views import company_page

urlpatterns = [
    path("", company_page, name="company-page"),
    path("admin/", admin.site.urls),
    path("crm/", include("crm_bridge.urls")),
]
if settings.CRM_SANDBOX_ENABLED:
    urlpatterns.append(path("", include("crm_bridge.sandbox.urls")))
