"""`manage.py check` explains missing and malformed settings in plain words (crm_bridge/checks.py)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from crm_bridge.checks import check_cors, check_settings, check_sqlite_concurrency

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
