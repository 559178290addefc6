"""The packaging proof: ``python -m build`` gives an sdist and a wheel; the wheel, installed into a fresh venv,
runs a brand-new ``startproject`` site made from the README alone up to a lead that a real worker delivers to the
sandbox CRM.

* The sdist round trip: ``python -m build`` builds the sdist, then the wheel from the unpacked sdist; that wheel
  must equal, file for file, one built straight from the tree (so the sdist holds everything the wheel needs).
* The fresh venv (``python -m venv --without-pip``, no system site-packages) gets the wheel and its dependencies
  offline, from a wheelhouse of the exact versions in the suite's venv (``pip install --no-index --find-links``),
  installed by the suite's pip into it (``pip --python``): ensurepip would add 10-20 s on a busy machine and
  prove nothing about our package.
  The wheelhouse is a cache (``~/.cache/crm_bridge-tests/``, or ``$CRM_BRIDGE_TEST_WHEELHOUSE``): when it lacks a
  version (first run, a dependency changed), the suite's pip fills it from the index as this machine's pip is
  configured, and the install runs offline again. Why not ``--system-site-packages``: the suite's venv has
  crm_bridge installed (editable, from another checkout), so it cannot be the base, and no other interpreter
  here has the dependencies. Pinning to the suite's versions also keeps the proof about our package, not about
  whatever the index published since.
* Nothing may import this repository's crm_bridge: every command runs from a temporary directory, in an
  environment built from scratch (no PYTHONPATH, PATH without the suite's venv, no user site-packages, no pip
  configuration), and every process of the site checks at start that it runs the fresh venv and the installed
  crm_bridge (tests/integration/readme_site.py).

With a warm wheelhouse the module takes about 35 s on a quiet machine, 60 s on a loaded one: it stays in the
default run (``slow``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from .readme_site import REPO, ReadmeSite, Toolchain, deliver_a_lead, run
from .test_wheel import _NOT_SOURCE, source_files  # one definition of "the source", shared with the wheel check

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.timeout(600)]

NAME = "crm_bridge-0.1.0"
WHEEL = f"{NAME}-py3-none-any.whl"
SDIST = f"{NAME}.tar.gz"


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path  # built from the sdist, as `python -m build` does
    direct_wheel: Path  # built from the tree (`--wheel`), as tests/integration/test_wheel.py checks it


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> Dists:
    """Both builds, offline (``--no-isolation``: the suite's venv has the build backend), on a copy of the tree
    so that no stale ``build/`` leaks in and nothing is written into the working tree."""
    root = tmp_path_factory.mktemp("dists")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=_NOT_SOURCE)
    for args, out in (([], root / "dist"), (["--wheel"], root / "direct")):
        run([sys.executable, "-m", "build", "--no-isolation", *args, "--outdir", str(out), str(src)], root, None)
    assert sorted(p.name for p in (root / "dist").iterdir()) == [WHEEL, SDIST]
    assert [p.name for p in (root / "direct").iterdir()] == [WHEEL]
    return Dists(root / "dist" / SDIST, root / "dist" / WHEEL, root / "direct" / WHEEL)


def test_the_wheel_from_the_sdist_equals_the_wheel_from_the_tree(dists):
    with zipfile.ZipFile(dists.wheel) as from_sdist, zipfile.ZipFile(dists.direct_wheel) as from_tree:
        names = from_sdist.namelist()
        assert names == from_tree.namelist()
        assert len(names) == len(set(names))
        assert [n for n in names if from_sdist.read(n) != from_tree.read(n)] == []
    assert f"{NAME}.dist-info/RECORD" in names and "crm_bridge/static/crm_bridge/widget.js" in names


def test_the_sdist_holds_the_app_and_its_metadata_only(dists):
    with tarfile.open(dists.sdist) as sdist:
        files = [m.name for m in sdist.getmembers() if m.isfile()]
    assert all(f.startswith(f"{NAME}/") for f in files)
    inside = {f.removeprefix(f"{NAME}/") for f in files}
    top = {f.split("/")[0] for f in inside}
    # No demo site, no tests (setuptools would take four of tests/test*.py by default: MANIFEST.in prunes them).
    assert top == {
        "LICENSE", "MANIFEST.in", "PKG-INFO", "README.md", "crm_bridge", "crm_bridge.egg-info", "pyproject.toml",
        "setup.cfg",
    }  # fmt: skip
    assert {f for f in inside if f.startswith("crm_bridge/")} == source_files("crm_bridge")  # what the wheel needs


# --- the fresh venv ---


def wheelhouse() -> Path:
    """The cached wheelhouse (per Python version: some dependencies ship compiled wheels)."""
    if configured := os.environ.get("CRM_BRIDGE_TEST_WHEELHOUSE"):
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "crm_bridge-tests" / f"wheelhouse-cp{sys.version_info.major}{sys.version_info.minor}"


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """The wheelhouse to ourselves: other checkouts on this machine may fill it at the same time."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def suite_versions() -> str:
    """A pip constraints file: every distribution of the suite's venv at its installed version (not crm-bridge)."""
    from importlib.metadata import distributions

    pins: dict[str, str] = {}
    for dist in distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if name != "crm-bridge":
            pins.setdefault(name, f"{name}=={dist.version}")
    return "\n".join(sorted(pins.values())) + "\n"


def isolated_env(venv: Path) -> dict[str, str]:
    """An environment from scratch for the fresh venv's processes: what a shell in that activated venv has, and
    nothing that could lead Python or pip to this repository, the suite's venv or this machine's pip config."""

    def ours(entry: str) -> bool:
        path = Path(entry).resolve()
        return path.is_relative_to(Path(sys.prefix).resolve()) or path.is_relative_to(REPO)

    env = {k: os.environ[k] for k in ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME") if k in os.environ}
    inherited = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p and not ours(p)]
    env.update(
        PATH=os.pathsep.join([str(venv / "bin"), *inherited]),
        VIRTUAL_ENV=str(venv),
        PYTHONNOUSERSITE="1",
        PIP_CONFIG_FILE=os.devnull,  # pip then reads no configuration file at all: the wheelhouse only
    )
    return env


def pip_into(python: Path) -> list[str]:
    """The suite's pip, working on the environment of ``python`` (pip's ``--python``, pip >= 22.3)."""
    return [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]


@dataclass(frozen=True)
class Venv:
    path: Path
    env: dict[str, str]
    site_packages: Path


@pytest.fixture(scope="module")
def venv(dists, tmp_path_factory) -> Venv:
    """A fresh venv with ``pip install "dist/crm_bridge-0.1.0-py3-none-any.whl[redis]"`` (README step 1) done.
    Bounded: each pip run has a timeout (the index fallback the longest), the module a pytest timeout."""
    root = tmp_path_factory.mktemp("venv")
    assert not root.resolve().is_relative_to(REPO)
    path = root / "venv"
    env = isolated_env(path)
    run([sys.executable, "-m", "venv", "--without-pip", str(path)], root, env, timeout=180)
    python = path / "bin" / "python"
    constraints = root / "constraints.txt"
    constraints.write_text(suite_versions())
    # --no-compile: the site's processes compile what they import, a fraction of the 40-odd packages.
    offline = [
        *pip_into(python), "install", "--no-input", "--no-compile", "--no-index",
        "--find-links", str(wheelhouse()), "-c", str(constraints), f"{dists.wheel}[redis]",
    ]  # fmt: skip
    with locked(wheelhouse()):
        first = subprocess.run(offline, cwd=root, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
        if first.returncode != 0:
            # Cold or stale: the suite's pip fetches the missing versions through this machine's configured index.
            fill = [
                sys.executable, "-m", "pip", "download", "--no-input", "--dest", str(wheelhouse()),
                "--only-binary", ":all:", "-c", str(constraints), f"{dists.wheel}[redis]",
            ]  # fmt: skip
            run(fill, root, {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, timeout=480)
            for ours in wheelhouse().glob("crm_bridge-*"):  # `pip download` copies the wheel itself: never cache it
                ours.unlink()
            run(offline, root, env, timeout=300)
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, env)
    return Venv(path, env, Path(purelib.stdout.strip()))


PROBE = """
import importlib.metadata, json, sys
import crm_bridge
dist = importlib.metadata.distribution("crm-bridge")
print(json.dumps({
    "prefix": sys.prefix, "file": crm_bridge.__file__, "path": sys.path, "version": dist.version,
    "direct_url": json.loads(dist.read_text("direct_url.json")),
}))
"""


def test_the_wheel_installs_into_a_fresh_venv(venv, dists, tmp_path):
    python = venv.path / "bin" / "python"
    seen = json.loads(run([str(python), "-c", PROBE], tmp_path, venv.env).stdout)
    assert seen["prefix"] == str(venv.path)
    assert Path(seen["file"]) == venv.site_packages / "crm_bridge" / "__init__.py"
    assert seen["version"] == "0.1.0"
    # Installed from the wheel file (an archive), not from a directory (editable or not).
    assert seen["direct_url"]["url"] == dists.wheel.as_uri() and "archive_info" in seen["direct_url"]
    for entry in seen["path"]:
        where = (tmp_path / entry).resolve()  # "" is the probe's working directory
        assert not where.is_relative_to(REPO) and not where.is_relative_to(Path(sys.prefix).resolve()), entry
    check = run([*pip_into(python), "check"], tmp_path, venv.env)
    assert check.stdout.strip() == "No broken requirements found."
    for script in ("django-admin", "celery"):
        assert (venv.path / "bin" / script).exists(), script


@pytest.fixture
def installed_site(venv, tmp_path_factory) -> Iterator[ReadmeSite]:
    """A ``startproject`` site run entirely by the fresh venv; its processes are stopped afterwards, also when
    the test fails."""
    bin_dir = venv.path / "bin"
    tools = Toolchain(
        python=bin_dir / "python",
        django_admin=[str(bin_dir / "django-admin")],
        celery=[str(bin_dir / "celery")],
        env=venv.env,
        prefix=venv.path,
        crm_bridge_dir=venv.site_packages / "crm_bridge",
        isolated=True,
    )
    site = ReadmeSite(tmp_path_factory.mktemp("wheelsite"), tools).create()
    try:
        yield site
    finally:
        site.stop()


def test_a_site_made_from_the_readme_on_the_installed_wheel_delivers_a_lead(installed_site):
    delivered = deliver_a_lead(installed_site)
    # The worker that delivered it ran the fresh venv's celery (the site's settings refuse any other crm_bridge).
    assert delivered.worker.proc.args[0] == str(installed_site.tools.prefix / "bin" / "celery")
