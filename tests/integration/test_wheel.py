"""The wheel an integrator installs: built as the README says, its file list checked exactly.

It must hold the app and everything the app reads at run time (the widget's built JS, templates, both apps'
migrations, the translations, ``py.typed``, the sandbox's README), and nothing of the repository around it:
no demo site (a top-level ``config`` package would collide with the ``config/`` of many host sites), no
tests, no development tools, no benchmarks. The build runs on a copy of the tree, so that neither a stale
``build/`` folder leaks old files into the wheel nor the build writes into the working tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# What the build never sees: caches, virtualenvs, earlier builds, runtime files, the widget's node_modules.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "var", "build", "dist", "*.egg-info", "node_modules", "__pycache__", "*.pyc",
    ".pytest_cache", ".ruff_cache", "test-artifacts",
)  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, list[str]]:
    """(the built wheel, the names in it). Built offline (``--no-isolation``) with this venv's setuptools,
    which ``build`` first checks against ``[build-system] requires``."""
    root = tmp_path_factory.mktemp("wheel")
    src, out = root / "src", root / "dist"
    shutil.copytree(REPO, src, ignore=_NOT_SOURCE)
    done = subprocess.run(  # noqa: S603 (our interpreter, fixed arguments)
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, f"build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    wheels = list(out.glob("*.whl"))
    assert [w.name for w in wheels] == ["crm_bridge-0.1.0-py3-none-any.whl"]
    with zipfile.ZipFile(wheels[0]) as zf:
        names = zf.namelist()
    return wheels[0], names


def source_files(subdir: str, suffixes: tuple[str, ...] | None = None) -> set[str]:
    """The repository's files under ``subdir`` (posix paths from the repository's root), caches excluded."""
    found = set()
    for path in (REPO / subdir).rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if suffixes is None or path.suffix in suffixes:
            found.add(path.relative_to(REPO).as_posix())
    return found


def in_wheel(names: list[str], prefix: str) -> set[str]:
    return {n for n in names if n.startswith(prefix)}


def test_only_crm_bridge_is_installed(wheel):
    _, names = wheel
    top = {PurePosixPath(n).parts[0] for n in names}
    assert top == {"crm_bridge", "crm_bridge-0.1.0.dist-info"}
    for absent in ("config/", "tests/", "tools/", "bench/", "widget/", "manage.py", "static/", "templates/"):
        assert not in_wheel(names, absent), absent
    assert "crm_bridge/crm/codegen.py" not in names  # the generator is a development tool (tools/codegen.py)


def test_every_file_of_the_app_and_nothing_else(wheel):
    _, names = wheel
    package = {n for n in names if not n.startswith("crm_bridge-0.1.0.dist-info/")}
    assert package == source_files("crm_bridge")
    assert len(names) == len(set(names))  # no file twice


@pytest.mark.parametrize(
    ("category", "subdir", "suffixes", "must_hold"),
    [
        ("widget", "crm_bridge/static", None, {"crm_bridge/static/crm_bridge/widget.js"}),
        ("templates", "crm_bridge/templates", (".html",), {"crm_bridge/templates/crm_bridge/widget/form.html"}),
        ("migrations", "crm_bridge/migrations", (".py",), {"crm_bridge/migrations/__init__.py"}),
        (
            "sandbox migrations", "crm_bridge/sandbox/migrations", (".py",),
            {"crm_bridge/sandbox/migrations/__init__.py"},
        ),
        (
            "translations", "crm_bridge/locale", (".mo", ".po"),
            {"crm_bridge/locale/zh_Hans/LC_MESSAGES/django.mo", "crm_bridge/locale/zh_Hans/LC_MESSAGES/django.po"},
        ),
    ],
)  # fmt: skip
def test_data_the_app_reads_at_run_time(wheel, category, subdir, suffixes, must_hold):
    _, names = wheel
    expected = source_files(subdir, suffixes)
    assert must_hold <= expected, f"{category}: the repository itself lacks {must_hold - expected}"
    shipped = {n for n in in_wheel(names, subdir + "/") if suffixes is None or PurePosixPath(n).suffix in suffixes}
    assert shipped == expected, category
    if "migrations" in category:
        assert any(PurePosixPath(n).name.startswith("0001_") for n in shipped), category


def test_typing_marker_sandbox_readme_and_generated_client(wheel):
    _, names = wheel
    for name in ("crm_bridge/py.typed", "crm_bridge/sandbox/README.md", "crm_bridge/crm/endpoints.py"):
        assert name in names, name


def test_metadata_has_the_spdx_license_and_its_file(wheel):
    path, names = wheel
    info = "crm_bridge-0.1.0.dist-info/"
    assert in_wheel(names, info) == {
        f"{info}{n}" for n in ("METADATA", "WHEEL", "RECORD", "top_level.txt", "licenses/LICENSE")
    }
    with zipfile.ZipFile(path) as zf:
        metadata = zf.read(f"{info}METADATA").decode()
        top_level = zf.read(f"{info}top_level.txt").decode().split()
        license_text = zf.read(f"{info}licenses/LICENSE").decode()
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    assert not [line for line in metadata.splitlines() if line.startswith("License:")]  # the deprecated field
    assert top_level == ["crm_bridge"]
    assert license_text == (REPO / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 crm_bridge contributors\n")
