"""The real-server benchmark (``make bench``, bench/real.py) in its smallest mode, so it cannot rot unnoticed:
it starts gunicorn, the sandbox, Celery workers and (when Chromium is here) a browser, and prints every figure
with a number. Timings are not checked: the machine is shared."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.real import FIGURES, consent_fields
from tests.widget.conftest import chromium_path

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.timeout(300)
def test_smoke_run_prints_every_figure_with_a_number():
    try:
        import playwright  # noqa: F401

        browser = chromium_path() is not None
    except ImportError:
        browser = False
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "CACHE_URL"))}
    env.pop("PYTEST_VERSION", None)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.real", "--smoke", "--sqlite", "--browser-loads", "1" if browser else "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    out = result.stdout
    assert "| figure " in out and "gunicorn 2 sync workers" in out
    values = dict(re.findall(r"^([a-z0-9_]+)=(\S+)$", out, re.M))
    for name in FIGURES:
        assert name in values, f"{name} missing from:\n{out}"
        if name == "widget_ready_ms_delta" and not browser:
            assert values[name] == "nan"
            continue
        assert math.isfinite(float(values[name])), f"{name}={values[name]}"
    for name in ("intake_vs_insert", "intake_vs_insert_c32", "hit_vs_insert", "drain_vs_floor"):
        assert float(values[name]) > 0, f"{name}={values[name]}"
    assert int(values["widget_gzip_bytes"]) > 1000


def test_leads_carry_consent_when_the_config_requires_it():
    # The config's shape once consent lands (issue 8): privacy.required per form kind, privacy.version.
    config = {"privacy": {"version": "2024-01", "required": {"lead": True, "message": True}, "notice": {}}}
    assert consent_fields(config) == {"consent": True, "version": "2024-01"}
    assert consent_fields({"privacy": {"version": "v", "required": {"lead": False}}}) == {}
    assert consent_fields({"features": {"leads": True}}) == {}  # today's config: no privacy block


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_cost_breakdown_times_every_stage_of_a_lead():
    # bench/cost.py wraps functions by name: a renamed or moved stage would silently read 0 ms. Each stage runs
    # once per lead, so each must have spent some CPU time, and no stage may exceed the one it is inside.
    from bench.cost import STAGES

    result = subprocess.run(  # bench.cost leaves the caller's database, broker and cache out itself
        [sys.executable, "-m", "bench.cost", "-n", "30", "--rounds", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    row = re.compile(r"^( *[^\s].*?) +(\d+\.\d{3}) +-?\d+\.\d%$", re.M)
    spent = {m[1].strip(): float(m[2]) for m in row.finditer(result.stdout)}
    for label, parent, *_ in STAGES:
        assert spent.get(label, 0) > 0, f"{label!r} not timed:\n{result.stdout}"
        if parent is not None:
            assert spent[label] <= spent[parent], f"{label!r} exceeds {parent!r}:\n{result.stdout}"
    assert re.search(r"^lead +\d+\.\d+ ms +floor .* lead ÷ floor +\d+\.\d+$", result.stdout, re.M), result.stdout
