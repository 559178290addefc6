"""Shared fixtures. Layer-specific ones live beside their tests."""

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def reference_doc_text() -> str:
    """The vendor's Web API reference (../shared/seed/), or the copy shipped in tests/data if absent."""
    for candidate in (
        SHARED / "seed" / "crm-webapi-reference.txt",
        REPO / "tests" / "data" / "crm-webapi-reference.txt",
    ):
        if candidate.exists():
            return candidate.read_text(encoding="utf-8")
    pytest.fail("crm-webapi-reference.txt not found")


@pytest.fixture
def english(settings):
    """Django's and DRF's messages in English. The demo site speaks zh-hans; layers that assert on the English
    texts use this autouse (tests/test_translations.py checks the Chinese ones)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def site_fields() -> dict[str, Any]:
    """What :func:`site` is created with; a layer's conftest overrides it (its own name, secret, origins)."""
    return {
        "name": "Acme",
        "site_key": "sandbox-site-key",
        "default_cust_id": 1,
        "allowed_origins": ["https://acme.example"],
    }


@pytest.fixture
def site(db, site_fields):
    from crm_bridge.models import Site

    return Site.objects.create(**site_fields)


@pytest.fixture
def make_submission(site):
    """An outbox row as intake stores it (``crm_bridge.testing.submission``), for ``site`` by default."""
    from crm_bridge import testing

    def make(kind: str = "message", *, site=site, **fields: Any):
        return testing.submission(site, kind, **fields)

    return make


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, plus the cache table the default (database) cache needs."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def _remove_run_dir():
    """Each pytest run has its own var/test/run-<pid>/ (config/settings.py); remove it at the end."""
    import shutil

    from django.conf import settings

    yield
    if not hasattr(settings, "VAR_DIR"):  # tests/settings.py keeps its files in a temporary directory
        return
    run_dir = Path(settings.VAR_DIR)
    if run_dir.parent.name == "test" and run_dir.name.startswith("run-"):
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _per_process_state(request, monkeypatch):
    """Intake's per-process caches (sites, allow-list, alert destinations, local-memory throttle counters) and
    the hit buffer start empty in every test and leak into no other (a test's rows are rolled back, not saved,
    so no signal would drop them). Inside a test's transaction the hit buffer's thread could not see the rows
    (nor write while the test holds SQLite's lock): there the buffer is written only by explicit flushes."""
    from django.conf import settings
    from django.core.cache import caches

    from crm_bridge.alerts import create
    from crm_bridge.intake import cors, hitbuffer, sites

    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not transactional:
        monkeypatch.setattr(hitbuffer.HitBuffer, "background", False)

    def clear():
        sites.forget_sites()
        cors._memo = None  # not invalidate_origins(): that also drops the shared cache's copy (a database query)
        create.forget_destinations()
        hitbuffer.buffer.discard()
        for alias, conf in settings.CACHES.items():
            if conf["BACKEND"].endswith("LocMemCache"):
                caches[alias].clear()

    clear()
    yield
    clear()
