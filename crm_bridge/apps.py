from django.apps import AppConfig


class CRMBridgeConfig(AppConfig):
    name = "crm_bridge"
    verbose_name = "CRM bridge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks and connects the beat-schedule installer (a Celery signal).
        from . import checks, tasks  # noqa: F401
