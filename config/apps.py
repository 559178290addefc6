from django.apps import AppConfig


class DemoSiteConfig(AppConfig):
    """The demo host site as an app, for its `demo` management command and its pages."""

    name = "config"
    label = "demo_site"
    verbose_name = "Demo host site"
