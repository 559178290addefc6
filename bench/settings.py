"""Settings of the real-server benchmark (``python -m bench.real``): the demo site's own settings, read from the
same environment (``config/settings.py``), plus the floor views of :mod:`bench.floor` mounted beside the site.

Nothing else differs from the site an integrator runs: same middleware, database options, cache, broker and
``CONN_MAX_AGE`` as the environment sets them. The harness points ``CRM_BRIDGE_VAR_DIR`` (and, for the
PostgreSQL + Redis pass, ``DATABASE_URL``, ``CACHE_URL``, ``CELERY_BROKER_URL``) at throw-away places.
"""

from config.settings import *  # noqa: F403 (the real site's settings, every one of them)
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.floor"]
ROOT_URLCONF = "bench.urls"
