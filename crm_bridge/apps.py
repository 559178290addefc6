from django.apps import AppConfig


class CRMBridgeConfig(AppConfig):
    name = "crm_bridge"
    verbose_name = "CRM bridge"
    default_auto_field = "django.db.models.BigAutoField"
