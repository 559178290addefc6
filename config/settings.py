"""Settings for the demo host site, read from the environment (and ``.env``) with django-environ.

Everything has a default that runs on this machine with no servers: SQLite in WAL mode and Celery's
``filesystem://`` broker, both under ``var/``. Production sets ``DATABASE_URL`` (PostgreSQL),
``CELERY_BROKER_URL`` (Redis or RabbitMQ), ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``CRM_BRIDGE_BASE_URL`` and
``CRM_BRIDGE_TOKEN``.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; a missing file is fine

# Runtime files (SQLite database, broker folders, beat schedule). Under pytest (which sets PYTEST_VERSION) each
# run gets its own var/test/run-<pid>/, so tests never touch the demo's data nor another run's; the worker
# processes a test starts are handed the same folder through CRM_BRIDGE_VAR_DIR.
_default_var = BASE_DIR / "var"
if env.str("PYTEST_VERSION", default=""):
    _default_var = _default_var / "test" / f"run-{os.getpid()}"
VAR_DIR = Path(env.str("CRM_BRIDGE_VAR_DIR", default=str(_default_var)))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
# The fallback key is for the demo and tests only; `manage.py check --deploy` flags it.
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-crm-bridge-demo-only-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "crm_bridge",
    "crm_bridge.sandbox",
    "config.apps.DemoSiteConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
# SQLite is shared by the web server and the Celery worker processes, so it runs in WAL mode with IMMEDIATE
# transactions and a busy timeout; without them concurrent writers fail with "database is locked".
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    # A file, not :memory:, so a test's Celery worker process sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (intake throttling counters) ------------------------------------------------------------------
# Shared by every process; the default is the database so the embedded setup needs no server.
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://crm_bridge_cache")}
# redis-py waits forever by default: bound every connect and reply, so a dead or hung Redis costs intake half a
# second now and then (crm_bridge fails open and leaves the cache alone for a few seconds), never a hung request.
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["OPTIONS"] = {**REDIS_CACHE_OPTIONS, **CACHES["default"].get("OPTIONS", {})}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

# --- Celery -------------------------------------------------------------------------------------------------
# The embedded default: kombu's filesystem transport, a real broker for a real prefork worker, no server.
_BROKER_DIR = VAR_DIR / "broker"
# Longer than any task runs (time limits below), so Redis never redelivers a task still running; short
# socket timeouts so a publish at intake cannot hang on a dead or hung Redis (the sweep delivers instead). The
# read timeout stays above kombu's 1 s BRPOP poll, which the worker's connection waits in.
REDIS_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 2}
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(_BROKER_DIR / "control"),  # else kombu writes ./control/ in the working directory
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_BROKER_TRANSPORT_OPTIONS
# Reliability (shared/reliability.md): one task at a time per process, acknowledged after it ran, requeued if
# the pool child dies; the database row, not the message, is the truth, so a redelivery is harmless.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE

# --- CORS for the widget API (django-cors-headers) ------------------------------------------------------
# No static origin list and no wildcard: crm_bridge grants each origin on an active Site's allow-list, for the
# widget API's views only, through corsheaders' check_request_enabled signal (crm_bridge/cors.py). The regex
# keeps corsheaders itself off every other URL of the site.
CORS_URLS_REGEX = r"^/crm/widget/v1/"
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_ALLOW_ALL_ORIGINS = False
CORS_ALLOW_CREDENTIALS = False  # the widget API uses no cookies
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
# content-type: the writes are application/json (a preflighted type); idempotency-key: every widget write.
CORS_ALLOW_HEADERS = ("accept", "content-type", "idempotency-key")
# So the widget can back off as told after a 429.
CORS_EXPOSE_HEADERS = ("Retry-After",)

# --- crm_bridge ------------------------------------------------------------------------------------------
# Defaults point at the sandbox mounted in this site (see urls.py), so the demo runs with no real tenant.
CRM_BRIDGE = {
    "BASE_URL": env.str("CRM_BRIDGE_BASE_URL", default="http://127.0.0.1:8000/WebApi/Handler/1.0/CRM/"),
    "TOKEN": env.str("CRM_BRIDGE_TOKEN", default="sandbox-token"),
    # Any other documented key (crm_bridge/conf.py), as JSON: CRM_BRIDGE_OPTIONS='{"CALLS_PER_SECOND": 50}'.
    **env.json("CRM_BRIDGE_OPTIONS", default={}),
}
# The credentials the mounted sandbox accepts.
CRM_SANDBOX = {
    "TOKENS": env.list("CRM_SANDBOX_TOKENS", default=["sandbox-token"]),
    "SITE_KEYS": env.list("CRM_SANDBOX_SITE_KEYS", default=["sandbox-site-key"]),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"crm_bridge": {"handlers": ["console"], "level": env.str("CRM_BRIDGE_LOG_LEVEL", default="INFO")}},
}
