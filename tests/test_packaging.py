"""Packaging: setup.cfg lists every subpackage, and the golden vectors and the docs ship inside the package."""

import configparser
import fnmatch
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import refloss

ROOT = Path(__file__).resolve().parents[1]
# Packages whose files come from a directory outside refloss/ (setup.cfg's package_dir)
MAPPED = {"refloss.suite": "conformance", "refloss.docs": "docs"}


def _config() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def test_every_subpackage_is_listed_in_setup_cfg():
    listed = set(_config()["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "refloss").rglob("__init__.py")}
    assert listed == found | set(MAPPED)


def test_the_mapped_packages_point_at_their_directories():
    mapping = dict(line.split(" = ") for line in _config()["options"]["package_dir"].strip().splitlines())
    assert mapping == MAPPED


def test_the_suite_directory_is_found():
    from refloss.conformance.check import suite_directory

    assert (suite_directory() / "MANIFEST.json").is_file()


# What a checkout's docs/ holds that the installed package leaves out: the site's build sources (the pages the
# wheel carries are the ones `refloss explain` and the derivations link to) and the build's own output.
SITE_ONLY = ("conf.py", "_ext/", "api/", "learn/", "tutorials/", "_build/", "_generated/")


@pytest.mark.parametrize("package, directory", MAPPED.items())
def test_package_data_patterns_cover_every_file(package, directory):
    patterns = [p.strip() for p in _config()["options.package_data"][package].split(",")]
    left_out = SITE_ONLY if package == "refloss.docs" else ()
    for path in (ROOT / directory).rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(ROOT / directory).as_posix()
            if relative.startswith(left_out):
                continue
            assert any(fnmatch.fnmatch(relative, p) and relative.count("/") == p.count("/") for p in patterns), relative


@pytest.mark.parametrize("name", refloss.registry.names(kind=None))
def test_every_derivation_page_is_shipped_and_found(name):
    # LossSpec.derivation is relative to the checkout (docs/...); installed, the same path is under refloss/.
    from refloss.cli import derivation_path

    spec = refloss.registry.get(name)
    assert spec.derivation.startswith(MAPPED["refloss.docs"] + "/")
    assert derivation_path(spec) == ROOT / spec.derivation


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="building a wheel needs setuptools")
def test_the_wheel_contains_the_suite_and_every_derivation_page(tmp_path):
    # Build offline from a copy of the checkout (a build writes build/ and *.egg-info next to setup.cfg).
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".*")
    for directory in ("refloss", "conformance", "docs"):
        shutil.copytree(ROOT / directory, source / directory, ignore=ignore)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    str(source), "-w", str(tmp_path / "dist")], check=True, capture_output=True)
    wheel, = (tmp_path / "dist").glob("refloss-*.whl")
    contents = set(zipfile.ZipFile(wheel).namelist())
    for name in refloss.registry.names(kind=None):
        assert f"refloss/{refloss.registry.get(name).derivation}" in contents, name
    assert {"refloss/docs/conventions.md", "refloss/suite/MANIFEST.json"} <= contents  # pages link ../conventions.md
    suite_files = {f"refloss/suite/{p.relative_to(ROOT / 'conformance').as_posix()}"
                   for p in (ROOT / "conformance").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert suite_files <= contents
