"""The README's install steps, run for real on a brand-new ``django-admin startproject`` site, up to a lead that
a real Celery worker delivers to the sandbox CRM.

The code blocks come from README.md itself (the ones marked ``<!-- readme: NAME -->``), pasted as shown, so the
README cannot drift from what works: the settings, the no-Redis cache, the sandbox app, the urls, the Celery app
and its ``__init__`` import (tests/integration/readme_site.py builds the site and runs the steps). Nothing is
installed: the venv running the suite has the dependencies, and crm_bridge comes from this tree through
``PYTHONPATH`` (tests/integration/test_wheel_install.py runs the same steps on the built wheel in a fresh venv).

What this test adds: ``check`` first without the token, which must be reported, not crash.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .readme_site import REPO, ReadmeSite, Toolchain, deliver_a_lead

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.timeout(300)]


@pytest.fixture
def new_site(tmp_path_factory) -> Iterator[ReadmeSite]:
    """A ``startproject`` site on the suite's interpreter, crm_bridge from this tree; its processes are stopped
    afterwards, also when the test fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CRM_BRIDGE", "DATABASE_URL", "CELERY"))}
    tools = Toolchain(
        python=Path(sys.executable),
        django_admin=[sys.executable, "-m", "django"],
        celery=[sys.executable, "-m", "celery"],
        env={**env, "PYTHONPATH": str(REPO)},
        prefix=Path(sys.prefix),
        crm_bridge_dir=REPO / "crm_bridge",  # this tree's, not an editable install of another checkout
    )
    site = ReadmeSite(tmp_path_factory.mktemp("startproject"), tools).create()
    try:
        yield site
    finally:
        site.stop()


def test_readme_install_delivers_a_lead_from_a_brand_new_site(new_site):
    # An unset token is reported by `check` in plain words (the README reads it with os.environ.get).
    unset = new_site.manage_result("check")
    assert unset.returncode == 1, unset.stdout + unset.stderr
    assert 'settings.CRM_BRIDGE["TOKEN"] is missing or empty.' in unset.stderr
    assert "KeyError" not in unset.stderr and "Traceback" not in unset.stderr

    deliver_a_lead(new_site)
