"""URLs of the demo host site: admin, the crm_bridge app under /crm/, and the sandbox CRM at the path a
real tenant serves its Web API from."""

from django.contrib import admin
from django.urls import include, path

from .views import company_page

urlpatterns = [
    path("", company_page, name="company-page"),
    path("admin/", admin.site.urls),
    path("crm/", include("crm_bridge.urls")),
    path("", include("crm_bridge.sandbox.urls")),
]
