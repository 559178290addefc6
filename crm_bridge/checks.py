"""``manage.py check`` reports, in plain words and before anything tries to use them: missing or malformed
``CRM_BRIDGE`` settings (crm_bridge.E001–E012, W001), a host setup the widget API cannot work with (CORS,
SQLite: E011, W002–W004), a lease shorter than the task that holds it may run (W005, W006), and what a
deployment (DEBUG off) must not run with: the sandbox mounted or with its public credentials, the sandbox's
token as the CRM token, a per-process throttle cache (W010–W014)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from . import conf


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Each problem :func:`crm_bridge.conf.validate` finds in ``CRM_BRIDGE`` (the settings object raises for
    the same ones when read)."""
    return [
        (Warning if p.warning else Error)(p.msg, hint=p.hint, id=p.id)
        for p in conf.validate(getattr(settings, "CRM_BRIDGE", None))
    ]


@register(Tags.compatibility)
def check_cors(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The widget sends an ``Idempotency-Key`` header with every write; without it in the CORS allow-list
    browsers refuse the preflight and no submission arrives. A wildcard grant would undo the per-site list."""
    problems: list[CheckMessage] = []
    if "corsheaders" not in settings.INSTALLED_APPS:
        problems.append(
            Error(
                "crm_bridge needs django-cors-headers for its widget API.",
                hint='Add "corsheaders" to INSTALLED_APPS and "corsheaders.middleware.CorsMiddleware" to MIDDLEWARE.',
                id="crm_bridge.E011",
            )
        )
        return problems
    from corsheaders.conf import conf as cors_conf

    if "idempotency-key" not in {h.lower() for h in cors_conf.CORS_ALLOW_HEADERS}:
        problems.append(
            Warning(
                "CORS_ALLOW_HEADERS does not include idempotency-key: browsers on other origins cannot submit.",
                hint='CORS_ALLOW_HEADERS = (*corsheaders.defaults.default_headers, "idempotency-key")',
                id="crm_bridge.W003",
            )
        )
    if cors_conf.CORS_ALLOW_ALL_ORIGINS:
        problems.append(
            Warning(
                "CORS_ALLOW_ALL_ORIGINS is on: every origin gets a grant, not only those on a site's allow-list.",
                hint="Turn it off; crm_bridge grants each site's allowed origins itself.",
                id="crm_bridge.W004",
            )
        )
    return problems


@register(Tags.database)
def check_sqlite_concurrency(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The web server and the Celery workers write the outbox at once; SQLite needs WAL, IMMEDIATE
    transactions and a busy timeout for that, or writers fail with "database is locked"."""
    # Any: the plugin types DATABASES from the settings it loaded (tests.settings), not as any site's may be.
    db: dict[str, Any] = settings.DATABASES.get("default", {})
    if db.get("ENGINE") != "django.db.backends.sqlite3":
        return []
    options = db.get("OPTIONS", {})
    if options.get("transaction_mode") == "IMMEDIATE" and "journal_mode=wal" in options.get(
        "init_command", ""
    ).lower().replace(" ", ""):
        return []
    return [
        Warning(
            "SQLite is used without WAL mode and IMMEDIATE transactions; web and worker processes writing at "
            'once will fail with "database is locked".',
            hint='DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30, '
            '"init_command": "PRAGMA journal_mode=WAL;"}',
            id="crm_bridge.W002",
        )
    ]


@register(Tags.compatibility)
def check_lease_outlasts_task(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A worker's claim on a row (``LEASE_SECONDS``) must outlast the task holding it, which Celery kills at its
    hard ``time_limit``: a lease shorter than that can pass to another worker while the first is still calling
    the CRM, and both then send (docs/delivery.md, "Celery settings"). The same for an alert destination's lease
    (``ALERTS["LEASE_SECONDS"]``) and the alert task. Only read once the settings parse (else check_settings
    reports them)."""
    from .alerts import tasks as alert_tasks
    from .alerts.conf import alert_setting
    from .tasks import deliver

    if conf.validate(getattr(settings, "CRM_BRIDGE", None)):
        return []
    try:
        alert_lease = float(alert_setting("LEASE_SECONDS"))
    except (conf.CRMBridgeImproperlyConfigured, TypeError, ValueError):
        return []  # a malformed ALERTS dict raises its own clear error wherever it is read
    problems: list[CheckMessage] = []
    for key, lease, task, code in (
        ('CRM_BRIDGE["LEASE_SECONDS"]', conf.bridge_settings.LEASE_SECONDS, deliver, "W005"),
        ('CRM_BRIDGE["ALERTS"]["LEASE_SECONDS"]', alert_lease, alert_tasks.deliver_alert, "W006"),
    ):
        limit = task.time_limit
        if limit is not None and lease <= limit:
            problems.append(
                Warning(
                    f"{key} is {lease:g} s, no longer than the {task.name} task's time limit ({limit:g} s): a "
                    "task still running can lose its claim to another worker, and both send.",
                    hint=f"Set {key} above {limit:g} s (the defaults: 180 s for rows, 60 s for alert destinations).",
                    id=f"crm_bridge.{code}",
                )
            )
    return problems


# --- deployment: what is fine on a developer's DEBUG site and not on a real one ------------------------------
# Django's own rule: DEBUG off means a deployment (a DEBUG site is one developer's runserver). The host site
# decides what is mounted and cached; these checks only look at the result, so they hold for any host site.


def _sandbox_mounted() -> bool:
    """True if the host's URLconf serves the sandbox (``include("crm_bridge.sandbox.urls")`` anywhere)."""
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("crm_sandbox:state")
    except NoReverseMatch:
        return False
    return True


@register(Tags.security)
def check_sandbox_not_deployed(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With DEBUG off, a mounted sandbox is a fake CRM on the public site: anyone holding one of its tokens can
    read what it recorded, inject faults and reset it; and a sandbox answering with the public test
    credentials means anyone at all can. Both are warnings, not errors: a staging site may mean it (it can
    silence ``crm_bridge.W010`` in ``SILENCED_SYSTEM_CHECKS``, and should still set its own credentials)."""
    if settings.DEBUG or not _sandbox_mounted():
        return []
    problems: list[CheckMessage] = [
        Warning(
            "The sandbox CRM (crm_bridge.sandbox.urls, /_sandbox/ and a fake /WebApi/…) is mounted while DEBUG "
            "is off: a deployment would serve a fake CRM and its control API to the world.",
            hint='Remove include("crm_bridge.sandbox.urls") from the URLconf of a deployment (the demo site '
            "mounts it only with DEBUG=1 or CRM_SANDBOX_ENABLED=1).",
            id="crm_bridge.W010",
        )
    ]
    from django.apps import apps

    if apps.is_installed("crm_bridge.sandbox"):
        from .sandbox import credentials
        from .testing import SANDBOX_SITE_KEY, SANDBOX_TOKEN

        defaults = credentials.defaults()
        if defaults.accepts("token", SANDBOX_TOKEN) or defaults.accepts("siteKey", SANDBOX_SITE_KEY):
            problems.append(
                Warning(
                    "The mounted sandbox accepts its public test credentials (sandbox-token / sandbox-site-key) "
                    "while DEBUG is off: anyone can use its control API.",
                    hint='Set CRM_SANDBOX = {"TOKENS": [...], "SITE_KEYS": [...]} to values of your own (the demo '
                    "site: CRM_SANDBOX_TOKENS, CRM_SANDBOX_SITE_KEYS), or do not mount the sandbox.",
                    id="crm_bridge.W011",
                )
            )
    return problems


@register(Tags.security)
def check_token_not_sandbox(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The sandbox's token is public and no real tenant issues it: with DEBUG off it means the site was
    deployed with the demo's configuration, and every delivery goes to a fake CRM or is refused."""
    if settings.DEBUG:
        return []
    from .testing import SANDBOX_TOKEN

    values, _ = conf.parse(getattr(settings, "CRM_BRIDGE", None))
    if values["TOKEN"] != SANDBOX_TOKEN:
        return []
    return [
        Warning(
            'settings.CRM_BRIDGE["TOKEN"] is the sandbox\'s public test token while DEBUG is off.',
            hint='Set CRM_BRIDGE["TOKEN"] to your tenant\'s token (the demo site reads CRM_BRIDGE_TOKEN).',
            id="crm_bridge.W012",
        )
    ]


@register(Tags.caches)
def check_throttle_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The widget API's rate limits count in the ``default`` cache, which must be one count for every web
    process. Warned with DEBUG off (a deployment runs several processes): the local-memory cache, which keeps
    one count per process and so multiplies every limit by the number of processes, and the dummy cache,
    which keeps none, so no limit applies at all. Not warned: the database, Redis and Memcached caches (shared
    by every process and host) and the file cache (shared by the processes of one host, which is what a
    single-host deployment runs; several hosts or containers need a shared cache, which no check can see)."""
    if settings.DEBUG:
        return []
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.locmem import LocMemCache
    from django.utils.module_loading import import_string

    try:
        backend = import_string(settings.CACHES["default"]["BACKEND"])
    except (KeyError, ImportError):  # Django's own cache checks report a missing or broken cache
        return []
    hint = (
        'Point CACHES["default"] at a cache every process shares: Redis, Memcached or the database cache '
        "(the demo site reads CACHE_URL, e.g. redis://127.0.0.1:6379/1 or dbcache://crm_bridge_cache)."
    )
    if issubclass(backend, LocMemCache):
        return [
            Warning(
                "The default cache is the local-memory cache while DEBUG is off: each web process counts the "
                "widget API's rate limits on its own, so every limit is multiplied by the number of processes.",
                hint=hint,
                id="crm_bridge.W013",
            )
        ]
    if issubclass(backend, DummyCache):
        return [
            Warning(
                "The default cache is the dummy cache while DEBUG is off: it stores nothing, so the widget "
                "API's rate limits never apply.",
                hint=hint,
                id="crm_bridge.W014",
            )
        ]
    return []
