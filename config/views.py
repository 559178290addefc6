"""The demo host site's own page: the sample company page, served by Django (same origin as the API)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm_bridge.models import Site

from .management.commands.demo import DEMO_SITE_NAME


def company_page(request: HttpRequest) -> HttpResponse:
    site = Site.objects.filter(name=DEMO_SITE_NAME).first()
    return render(
        request,
        "demo/company.html",
        {"api_origin": request.build_absolute_uri("/").rstrip("/"), "widget_key": site.public_key if site else ""},
    )
