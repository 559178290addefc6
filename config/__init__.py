"""The demo host site: a Django project that installs crm_bridge the way an integrator would."""

from .celery import app as celery_app

__all__ = ("celery_app",)
