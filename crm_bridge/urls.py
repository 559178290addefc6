"""The widget API (docs/widget-api.md). Include it wherever you like; the demo uses ``path("crm/", include(...))``.

The paths have no trailing slash: they are a published contract and the widget calls them exactly. ``forms/…``
are not part of that contract: they serve the HTML fallback that ``{% crm_widget %}`` renders. ``ops/…`` are
the operators' health and metrics endpoints (docs/operations.md).
"""

from django.urls import include, path

from .intake import api, fallback

app_name = "crm_bridge"

urlpatterns = [
    path("widget/v1/config", api.ConfigView.as_view(), name="widget-config"),
    path("widget/v1/messages", api.MessagesView.as_view(), name="widget-messages"),
    path("widget/v1/leads", api.LeadsView.as_view(), name="widget-leads"),
    path("widget/v1/hits", api.HitsView.as_view(), name="widget-hits"),
    path(
        "widget/v1/submissions/<str:submission_id>",
        api.SubmissionStatusView.as_view(),
        name="widget-submission",
    ),
    path("widget/v1/schema", api.WidgetSchemaView.as_view(), name="widget-schema"),
    # The no-JavaScript fallback of {% crm_widget %}: same-origin HTML forms, CSRF-protected (intake.fallback).
    path("forms/thanks", fallback.thanks_view, name="fallback-thanks"),
    path("forms/<str:kind>", fallback.form_view, name="fallback-form"),
    # Health and metrics for operators (docs/operations.md): ops/health/live, ops/health/ready, ops/metrics.
    path("ops/", include("crm_bridge.ops.urls")),
]
