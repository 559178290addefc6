"""Settings for the demo host site, read from the environment (and ``.env``) with django-environ.

Two modes, decided by ``DEBUG`` (see docs/deploying.md for every variable and its defaults):

* ``DEBUG=1`` (``make demo``) and the test suite: everything has a default that runs on this machine with no
  servers — SQLite in WAL mode and Celery's ``filesystem://`` broker under ``var/``, plain HTTP, and the sandbox
  CRM mounted in this site with its public test credentials as the CRM to deliver to.
* ``DEBUG`` off (the default): a deployment. Nothing insecure is assumed: no demo ``SECRET_KEY`` and no
  default ``ALLOWED_HOSTS``, HTTPS-only (redirect, HSTS, secure cookies), no sandbox unless
  ``CRM_SANDBOX_ENABLED=1``, and ``CRM_BRIDGE_BASE_URL`` / ``CRM_BRIDGE_TOKEN`` must be set (``manage.py check``
  names what is missing). ``DEBUG=0 SECRET_KEY=… ALLOWED_HOSTS=… CRM_BRIDGE_BASE_URL=… CRM_BRIDGE_TOKEN=…``
  passes ``manage.py check --deploy`` with no issues (tests/integration/test_deploy_check.py).
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; a missing file is fine

# pytest (which sets PYTEST_VERSION, also in the worker processes a test starts) runs this site with DEBUG off,
# as pytest-django forces it, yet over plain HTTP against the mounted sandbox: it gets the development defaults.
TESTING = bool(env.str("PYTEST_VERSION", default=""))

# Runtime files (SQLite database, broker folders, beat schedule). Under pytest each run gets its own
# var/test/run-<pid>/, so tests never touch the demo's data nor another run's; the worker processes a test
# starts are handed the same folder through CRM_BRIDGE_VAR_DIR.
_default_var = BASE_DIR / "var"
if TESTING:
    _default_var = _default_var / "test" / f"run-{os.getpid()}"
VAR_DIR = Path(env.str("CRM_BRIDGE_VAR_DIR", default=str(_default_var)))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
#: A deployment: every default below that would be unsafe on a public server is off or absent.
PRODUCTION = not DEBUG and not TESTING

# No fallback key in a deployment: Django refuses to start a request without one ("The SECRET_KEY setting must
# not be empty"), rather than sign sessions with a key published in this file.
SECRET_KEY = env.str("SECRET_KEY", default="" if PRODUCTION else "django-insecure-crm-bridge-demo-only-change-me")
# Empty in a deployment: every request is refused until ALLOWED_HOSTS names the site (check --deploy says so).
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The sandbox CRM (crm_bridge.sandbox): installed and mounted at /WebApi/… and /_sandbox/ (urls.py) for the demo
# and the tests only. In a deployment it would be a fake CRM and its control API open to the world.
CRM_SANDBOX_ENABLED = env.bool("CRM_SANDBOX_ENABLED", default=not PRODUCTION)

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
    *(["crm_bridge.sandbox"] if CRM_SANDBOX_ENABLED else []),
    "config.apps.DemoSiteConfig",
]

MIDDLEWARE = [
    # First, so every later middleware's log lines carry the request id (echoed as X-Request-ID).
    "crm_bridge.logging.RequestIDMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Each staff user's browser language (one of LANGUAGES) picks the admin's; LANGUAGE_CODE when it asks for none.
    "django.middleware.locale.LocaleMiddleware",
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
# transactions and a busy timeout; without them concurrent writers fail with "database is locked". WAL also
# lets readers run beside the one writer. synchronous=NORMAL is safe in WAL mode (SQLite's documentation): the
# database is never corrupted, and a crash of the process loses nothing; only a power loss or an OS crash can
# roll back the transactions committed since the last checkpoint. In exchange a commit costs no fsync (the WAL
# is synced at checkpoints), the largest part of a one-row write transaction (README, "Performance and scaling").
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
# Persistent connections: a new PostgreSQL connection per request costs a TCP (often TLS) handshake and an
# authentication round trip. With health checks, a reused connection is tested before a request's first query,
# so one the server dropped meanwhile (a PostgreSQL restart, a proxy's idle timeout) is reopened instead of
# failing that request. CONN_MAX_AGE=0 closes each connection at the end of its request, as Django's default.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (intake throttling counters) ------------------------------------------------------------------
# Shared by every process; the default is the database so the embedded setup needs no server.
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://crm_bridge_cache")}
# redis-py waits forever by default: bound every connect and reply, so a dead or hung Redis costs intake half a
# second now and then (crm_bridge fails open and leaves the cache alone for a few seconds), never a hung request.
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["OPTIONS"] = {**REDIS_CACHE_OPTIONS, **CACHES["default"].get("OPTIONS", {})}
# Throttle counters: on the database cache each counted request would be a write transaction of its own (two,
# with the per-site limit), the largest cost of an embedded-default request. There they live in each process's
# memory instead: atomic and free, but each limit then holds per web process (with gunicorn's 2 workers a client
# gets up to twice each rate). With CACHE_URL set to Redis or Memcached they are counted there, shared.
THROTTLE_CACHE = "default"
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache":
    CACHES["throttle"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "crm-throttle"}
    THROTTLE_CACHE = "throttle"

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
REDIS_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
}
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
        # kombu looks at the folder once per poll and takes at most one message per free pool process, so its
        # default 1 s poll caps a worker at `concurrency` messages a second: beat's 1-2 periodic messages a
        # second (tests' compressed intervals) then keep a queue that never shortens, and a lead waits behind
        # it. A listing every 0.1 s makes that 10x (200 messages: 96 s -> 10 s, two pool processes) for about
        # 0.5% of a core in an idle worker's main process (0.09 s of CPU in 20 s, measured; docs/chaos.md).
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_BROKER_TRANSPORT_OPTIONS
# Reliability (docs/delivery.md, "Celery settings"): one task at a time per process, acknowledged after it
# ran, requeued if the pool child dies; the database row, not the message, is the truth, so a redelivery is
# harmless.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE

# --- CORS for the widget API (django-cors-headers) ------------------------------------------------------
# No static origin list and no wildcard: crm_bridge grants each origin on an active Site's allow-list, for the
# widget API's views only, through corsheaders' check_request_enabled signal (crm_bridge/intake/cors.py). The regex
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

# --- HTTPS (a deployment: `manage.py check --deploy`) ----------------------------------------------------
# A deployment serves HTTPS only: plain HTTP is redirected, browsers are told to stay on HTTPS (HSTS) and cookies
# (admin session, CSRF) never travel in clear. Behind a proxy that terminates TLS, set SECURE_PROXY_SSL_HEADER
# (e.g. "HTTP_X_FORWARDED_PROTO,https"), and make the proxy set that header itself: else Django sees every request
# as HTTP and the redirect loops.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[])  # path regexes, e.g. a plain-HTTP probe
_proxy_ssl_header = tuple(part.strip() for part in env.tuple("SECURE_PROXY_SSL_HEADER", default=()))
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured('SECURE_PROXY_SSL_HEADER must be "HEADER,value", e.g. "HTTP_X_FORWARDED_PROTO,https"')
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header or None
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
# One year, as browsers' HSTS guidance recommends; lower it (e.g. 3600) while trying HTTPS out, since browsers
# remember it that long. includeSubDomains and preload commit every other host of the domain (and, once on the
# browsers' preload list, for months): the domain's owner decides, so they are opt-in, and Django's deploy
# checks asking for them (security.W005, W021) are silenced until they are on.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
    *env.list("SILENCED_SYSTEM_CHECKS", default=[]),
]

# --- crm_bridge ------------------------------------------------------------------------------------------
# For the demo and the tests the defaults point at the sandbox mounted in this site (urls.py), so they run with no
# real tenant. A deployment has no defaults: `manage.py check` names CRM_BRIDGE_BASE_URL / CRM_BRIDGE_TOKEN.
_SANDBOX_CRM = CRM_SANDBOX_ENABLED and not PRODUCTION
CRM_BRIDGE = {
    "BASE_URL": env.str(
        "CRM_BRIDGE_BASE_URL", default="http://127.0.0.1:8000/WebApi/Handler/1.0/CRM/" if _SANDBOX_CRM else ""
    ),
    "TOKEN": env.str("CRM_BRIDGE_TOKEN", default="sandbox-token" if _SANDBOX_CRM else ""),
    "THROTTLE_CACHE": THROTTLE_CACHE,
    # Any other documented key (crm_bridge/conf.py), as JSON: CRM_BRIDGE_OPTIONS='{"CALLS_PER_SECOND": 50}'.
    **env.json("CRM_BRIDGE_OPTIONS", default={}),
}
# The credentials the mounted sandbox accepts: its public test ones for the demo and the tests; none by default
# when a deployment opts in with CRM_SANDBOX_ENABLED (it sets its own, or the sandbox refuses every call).
CRM_SANDBOX = {
    "TOKENS": env.list("CRM_SANDBOX_TOKENS", default=[] if PRODUCTION else ["sandbox-token"]),
    "SITE_KEYS": env.list("CRM_SANDBOX_SITE_KEYS", default=[] if PRODUCTION else ["sandbox-site-key"]),
    # The group-robot stand-ins (/_robots/) have public keys only: off in production unless asked for.
    "ROBOTS": env.bool("CRM_SANDBOX_ROBOTS", default=not PRODUCTION),
}

# CRM_BRIDGE_LOG_FORMAT=json: one JSON object per line with the request and submission ids (docs/operations.md,
# "JSON logs"), for Django's request errors too; "text" (the default) keeps plain lines.
LOG_FORMAT = env.str("CRM_BRIDGE_LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured('CRM_BRIDGE_LOG_FORMAT must be "text" or "json"')
_json_logs = LOG_FORMAT == "json"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"crm_ids": {"()": "crm_bridge.logging.ContextFilter"}},
    "formatters": {"json": {"()": "crm_bridge.logging.JSONFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["crm_ids"],
            **({"formatter": "json"} if _json_logs else {}),
        }
    },
    "loggers": {
        "crm_bridge": {"handlers": ["console"], "level": env.str("CRM_BRIDGE_LOG_LEVEL", default="INFO")},
        **({"django": {"handlers": ["console"], "level": "INFO", "propagate": False}} if _json_logs else {}),
    },
}
