"""The host site's Celery app, set up as Celery's Django guide does; crm_bridge's tasks are
``shared_task``s and are found by ``autodiscover_tasks``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
