"""`manage.py check` explains missing and malformed settings in plain words (crm_bridge/checks.py)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from crm_bridge.checks import (
    check_cors,
    check_sandbox_not_deployed,
    check_settings,
    check_sqlite_concurrency,
    check_throttle_cache,
    check_token_not_sandbox,
)

OK = {"BASE_URL": "https://crm.example.com/WebApi/Handler/1.0/CRM/", "TOKEN": "t"}


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_the_demo_settings_pass():
    assert check_settings() == [] and check_cors() == [] and check_sqlite_concurrency() == []


@pytest.mark.parametrize(
    ("value", "expected", "words"),
    [
        (None, ["crm_bridge.E001"], "settings.CRM_BRIDGE is not set"),
        ("https://crm", ["crm_bridge.E002"], "must be a dict"),
        ({"TOKEN": "t"}, ["crm_bridge.E004"], 'CRM_BRIDGE["BASE_URL"] is missing'),
        ({"BASE_URL": OK["BASE_URL"]}, ["crm_bridge.E004"], 'CRM_BRIDGE["TOKEN"] is missing'),
        ({**OK, "READ_TIMOUT": 3}, ["crm_bridge.E003"], "unknown key(s): READ_TIMOUT"),
        ({**OK, "BASE_URL": "crm.example.com"}, ["crm_bridge.E005"], "is not an http(s) URL"),
        ({**OK, "BASE_URL": "https://crm.example.com/api/"}, ["crm_bridge.W001"], "does not end with"),
        ({**OK, "READ_TIMEOUT": 0}, ["crm_bridge.E006"], "positive number of seconds"),
        ({**OK, "MAX_ATTEMPTS": True}, ["crm_bridge.E007"], "whole number"),
        ({**OK, "FORMAT": "yaml"}, ["crm_bridge.E008"], '"json" or "xml"'),
        ({**OK, "CALLS_PER_SECOND": -1}, ["crm_bridge.E009"], "number ≥ 0"),
        ({**OK, "THROTTLE_RATES": {"ipv4": "1/s"}}, ["crm_bridge.E010"], 'keys "ip" and "site"'),
    ],
)
def test_each_problem_is_named(settings, value, expected, words):
    if value is None:
        del settings.CRM_BRIDGE
    else:
        settings.CRM_BRIDGE = value
    messages = check_settings()
    assert ids(messages) == expected
    assert words in messages[0].msg


def test_check_command_fails_on_errors(settings):
    settings.CRM_BRIDGE = {"TOKEN": "t"}
    with pytest.raises(SystemCheckError, match=r"BASE_URL"):
        call_command("check")


def test_cors_headers_and_wildcard(settings):
    settings.CORS_ALLOW_HEADERS = ("content-type",)
    settings.CORS_ALLOW_ALL_ORIGINS = True
    assert ids(check_cors()) == ["crm_bridge.W003", "crm_bridge.W004"]


def test_sqlite_without_wal_is_warned(monkeypatch):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("runs on the SQLite pass")
    monkeypatch.setitem(settings.DATABASES["default"], "OPTIONS", {})
    assert ids(check_sqlite_concurrency()) == ["crm_bridge.W002"]


# --- the settings object and the checks share one validator (crm_bridge.conf.parse) --------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({**OK, "READ_TIMOUT": 3}, "unknown key(s): READ_TIMOUT"),
        ({**OK, "BASE_URL": "crm.example.com"}, 'CRM_BRIDGE["BASE_URL"] is not an http(s) URL'),
        ({**OK, "READ_TIMEOUT": 0}, 'CRM_BRIDGE["READ_TIMEOUT"] must be a positive number of seconds'),
        ({**OK, "MAX_ATTEMPTS": True}, 'CRM_BRIDGE["MAX_ATTEMPTS"] must be a whole number'),
        ({**OK, "FORMAT": "yaml"}, 'CRM_BRIDGE["FORMAT"] must be "json" or "xml"'),
        ({**OK, "CALLS_PER_SECOND": -1}, 'CRM_BRIDGE["CALLS_PER_SECOND"] must be a number ≥ 0'),
        ({**OK, "THROTTLE_RATES": {"ipv4": "1/s"}}, 'keys "ip" and "site"'),
        ("https://crm", "must be a dict"),
    ],
)
def test_the_settings_object_refuses_what_the_check_reports(settings, value, words):
    from crm_bridge.conf import CRMBridgeImproperlyConfigured, bridge_settings

    settings.CRM_BRIDGE = value
    assert words in " ".join(m.msg for m in check_settings())
    # Any read fails, not only the bad key's: a typo or a bad value must not run on defaults.
    with pytest.raises(CRMBridgeImproperlyConfigured) as raised:
        _ = bridge_settings.SWEEP_BATCH
    assert words in str(raised.value)


@pytest.mark.parametrize(
    ("key", "value", "expected", "words"),
    [
        ("THROTTLE_RATES", {"ip": "thirty a minute", "site": None}, "crm_bridge.E010", 'not a rate like "30/min"'),
        ("HIT_FLUSH_SHARE", 1.5, "crm_bridge.E009", "a share between 0 and 1"),
        ("TOKEN", 12345, "crm_bridge.E012", 'CRM_BRIDGE["TOKEN"] must be a string'),
    ],
)
def test_values_that_used_to_fail_only_at_run_time(settings, key, value, expected, words):
    settings.CRM_BRIDGE = {**OK, key: value}
    (message,) = check_settings()
    assert (message.id, words in message.msg) == (expected, True)
    assert "12345" not in message.msg  # the token's value is never echoed


def test_values_are_typed_and_a_missing_required_key_fails_only_when_read(settings):
    from crm_bridge.conf import CRMBridgeImproperlyConfigured, bridge_settings

    settings.CRM_BRIDGE = {"BASE_URL": OK["BASE_URL"], "READ_TIMEOUT": 4, "THROTTLE_RATES": {"ip": None}}
    assert (bridge_settings.READ_TIMEOUT, type(bridge_settings.READ_TIMEOUT)) == (4.0, float)
    assert (bridge_settings.MAX_ATTEMPTS, bridge_settings.FORMAT) == (30, "json")
    assert dict(bridge_settings.THROTTLE_RATES) == {"ip": None}
    with pytest.raises(CRMBridgeImproperlyConfigured, match=r"CRM_BRIDGE\['TOKEN'\] is required"):
        _ = bridge_settings.TOKEN
    assert ids(check_settings()) == ["crm_bridge.E004"]


def test_min_fill_seconds_may_be_zero(settings):
    """0 turns the fill-time check off (the browser tests do); the settings object always allowed it, the
    check refused it: one validator now."""
    from crm_bridge.conf import bridge_settings

    settings.CRM_BRIDGE = {**OK, "MIN_FILL_SECONDS": 0}
    assert (check_settings(), bridge_settings.MIN_FILL_SECONDS) == ([], 0.0)
    settings.CRM_BRIDGE = {**OK, "MIN_FILL_SECONDS": -1}
    assert ids(check_settings()) == ["crm_bridge.E006"]


def test_enqueue_timeout_is_gone(settings):
    """It was never read: intake's publish is bounded by the broker's own timeouts (CELERY_BROKER_*)."""
    settings.CRM_BRIDGE = {**OK, "ENQUEUE_TIMEOUT": 2.0}
    assert ids(check_settings()) == ["crm_bridge.E003"]


# --- a deployment (DEBUG off; pytest-django runs every test with DEBUG off) ---------------------------------

urlpatterns: list = []  # a host URLconf without the sandbox (ROOT_URLCONF = this module)


def test_the_demo_settings_pass_with_debug_on(settings):
    settings.DEBUG = True  # `make demo` runs with DEBUG=1: sandbox mounted, its token, all fine there
    assert check_sandbox_not_deployed() == check_token_not_sandbox() == check_throttle_cache() == []


def test_a_mounted_sandbox_is_warned_with_debug_off(settings):
    settings.CRM_SANDBOX = {"TOKENS": ["own-token"], "SITE_KEYS": ["own-site-key"]}
    (message,) = check_sandbox_not_deployed()
    assert message.id == "crm_bridge.W010"
    assert "mounted while DEBUG is off" in message.msg and "crm_bridge.sandbox.urls" in message.hint
    settings.DEBUG = True
    assert check_sandbox_not_deployed() == []


def test_a_sandbox_that_is_not_mounted_is_not_warned(settings):
    settings.ROOT_URLCONF = __name__
    assert check_sandbox_not_deployed() == []


@pytest.mark.parametrize(
    "sandbox",
    [
        {"TOKENS": ["sandbox-token"], "SITE_KEYS": ["own-site-key"]},
        {"TOKENS": ["own-token"], "SITE_KEYS": ["sandbox-site-key"]},
    ],
)
def test_a_mounted_sandbox_with_its_public_credentials_is_warned(settings, sandbox):
    settings.CRM_SANDBOX = sandbox
    assert ids(check_sandbox_not_deployed()) == ["crm_bridge.W010", "crm_bridge.W011"]
    assert "CRM_SANDBOX" in check_sandbox_not_deployed()[1].hint


def test_the_sandbox_token_as_crm_token_is_warned_with_debug_off(settings):
    settings.CRM_BRIDGE = {**OK, "TOKEN": "sandbox-token"}
    (message,) = check_token_not_sandbox()
    assert message.id == "crm_bridge.W012" and 'CRM_BRIDGE["TOKEN"]' in message.hint
    settings.DEBUG = True
    assert check_token_not_sandbox() == []
    settings.DEBUG = False
    settings.CRM_BRIDGE = OK
    assert check_token_not_sandbox() == []


@pytest.mark.parametrize(
    ("backend", "debug", "expected"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", False, ["crm_bridge.W013"]),
        ("django.core.cache.backends.dummy.DummyCache", False, ["crm_bridge.W014"]),
        ("django.core.cache.backends.locmem.LocMemCache", True, []),
        ("django.core.cache.backends.dummy.DummyCache", True, []),
        ("django.core.cache.backends.db.DatabaseCache", False, []),
        ("django.core.cache.backends.redis.RedisCache", False, []),
        ("django.core.cache.backends.filebased.FileBasedCache", False, []),
    ],
)
def test_a_per_process_throttle_cache_is_warned_with_debug_off(settings, backend, debug, expected):
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "crm-bridge-check-test"}}
    settings.DEBUG = debug
    messages = check_throttle_cache()
    assert ids(messages) == expected
    assert all('CACHES["default"]' in m.hint for m in messages)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, []),
        ({"LEASE_SECONDS": 150.0}, ["crm_bridge.W005"]),
        ({"LEASE_SECONDS": 151.0}, []),
        ({"ALERTS": {"LEASE_SECONDS": 30.0}}, ["crm_bridge.W006"]),
        ({"LEASE_SECONDS": 60.0, "ALERTS": {"LEASE_SECONDS": 55.0}}, ["crm_bridge.W005", "crm_bridge.W006"]),
        ({"ALERTS": {"LEASE_SECONDZ": 1.0}}, []),  # a typo: reported where ALERTS is read, not here
        ({"LEASE_SECONDS": -1}, []),  # malformed: check_settings reports it (E006)
    ],
)
def test_a_lease_must_outlast_its_task(settings, options, expected):
    """The delivery task is killed at 150 s, the alert task at 55 s (crm_bridge/tasks.py, alerts/tasks.py)."""
    from crm_bridge.checks import check_lease_outlasts_task

    settings.CRM_BRIDGE = {**OK, **options}
    messages = check_lease_outlasts_task()
    assert ids(messages) == expected
    if expected:
        assert "time limit" in messages[0].msg and "both send" in messages[0].msg
