from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "crm_bridge.sandbox"
    label = "crm_sandbox"
    verbose_name = "CRM sandbox"
    default_auto_field = "django.db.models.BigAutoField"
