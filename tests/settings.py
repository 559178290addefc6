"""Minimal settings for testing the reusable app on its own, apart from the demo site in config/.

Like django-cors-headers' own tests/settings.py: only what crm_bridge needs to run (docs/architecture.md,
"Settings"), so a test passing here shows the app does not lean on anything the demo site happens to set.
`make test` runs the app's in-process suites again with ``--ds tests.settings``.
"""

import tempfile
from pathlib import Path

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost", "[::1]"]
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"
LANGUAGE_CODE = "en"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # staff see admin in their browser's language
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "static/"

_TMP = Path(tempfile.mkdtemp(prefix="crm-bridge-tests-"))
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(_TMP / "db.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
        "TEST": {"NAME": str(_TMP / "test.sqlite3")},
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = "memory://"
CELERY_BROKER_CONNECTION_TIMEOUT = 2  # a publish to a dead broker must not hang intake

from corsheaders.defaults import default_headers  # noqa: E402

CORS_ALLOW_HEADERS = (*default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ("Retry-After",)  # so the widget can back off as told after a 429

CRM_BRIDGE = {"BASE_URL": "http://127.0.0.1:9/WebApi/Handler/1.0/CRM/", "TOKEN": "sandbox-token"}
# ROBOTS: the group-robot stand-ins the alert tests post to (off by default with DEBUG off).
CRM_SANDBOX = {"TOKENS": ["sandbox-token"], "SITE_KEYS": ["sandbox-site-key"], "ROBOTS": True}
