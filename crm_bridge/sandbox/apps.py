from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _seed_after_migrate(sender: AppConfig, using: str, **kwargs: Any) -> None:
    """Seed the sandbox tenant once its tables exist, as contenttypes creates its rows: a mounted sandbox
    is ready to answer after ``migrate``. Idempotent; skipped when the tables are gone (``migrate … zero``)."""
    from django.db import connections

    from .models import Customer
    from .seed import seed

    if Customer._meta.db_table in connections[using].introspection.table_names():
        seed(using)


class SandboxConfig(AppConfig):
    name = "crm_bridge.sandbox"
    label = "crm_sandbox"
    verbose_name = _("CRM sandbox")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_seed_after_migrate, sender=self, dispatch_uid="crm_sandbox.seed")
