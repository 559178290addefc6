"""The real site's URLs (``config.urls``) with the benchmark's floor view and the static files beside them.

Static files: gunicorn serves no static files and the demo has no WhiteNoise, so the widget's script is served
by Django's staticfiles view here (``insecure``: this URLconf only ever runs in the benchmark, on loopback).
The browser figure loads ``/static/crm_bridge/widget.js`` from it, like the widget tests' live server does.
"""

from django.contrib.staticfiles.views import serve
from django.urls import include, path, re_path

from bench.floor.views import insert

urlpatterns = [
    path("_floor/insert", insert, name="bench-floor-insert"),
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
    path("", include("config.urls")),
]
