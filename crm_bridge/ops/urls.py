"""The operations endpoints. ``crm_bridge.urls`` includes them under ``ops/`` (the demo: ``/crm/ops/…``); a site
that wants them elsewhere (say a load balancer probing ``/health/ready``) can include this module at any prefix
as well. No trailing slashes, like the rest of the app's URLs."""

from django.urls import path

from . import health, metrics

urlpatterns = [
    path("health/live", health.liveness, name="health-live"),
    path("health/ready", health.ReadinessView.as_view(), name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
