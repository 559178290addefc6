from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CRMBridgeConfig(AppConfig):
    name = "crm_bridge"
    verbose_name = _("CRM bridge")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled
        from django.db.models.signals import post_delete, post_save

        # Registers the system checks and connects the beat-schedule installer (a Celery signal).
        from . import checks, tasks  # noqa: F401
        from .alerts import receivers
        from .intake import cors, sites
        from .models import Site

        # CORS for the widget API is granted per Site allow-list (crm_bridge.intake.cors), never by a static list.
        receivers.connect()  # dead letters raise an alert (crm_bridge.alerts)
        check_request_enabled.connect(cors.cors_allow_widget, dispatch_uid="crm_bridge.cors")
        post_save.connect(cors.invalidate_origins, sender=Site, dispatch_uid="crm_bridge.cors.save")
        post_delete.connect(cors.invalidate_origins, sender=Site, dispatch_uid="crm_bridge.cors.delete")
        # Intake's per-process copies of sites (crm_bridge.intake.sites): this process forgets them at once.
        post_save.connect(sites.forget_sites, sender=Site, dispatch_uid="crm_bridge.sites.save")
        post_delete.connect(sites.forget_sites, sender=Site, dispatch_uid="crm_bridge.sites.delete")
