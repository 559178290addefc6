"""URLs for tests/settings.py: the app where an integrator would mount it, the sandbox, and admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("crm/", include("crm_bridge.urls")),
    path("", include("crm_bridge.sandbox.urls")),
]
