"""Packaging: setup.cfg lists every subpackage, and the golden vectors ship inside the package."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "refloss").rglob("__init__.py")}
    assert listed == found | {"refloss.suite"}


def test_the_suite_directory_is_found():
    from refloss.conformance.check import suite_directory

    assert (suite_directory() / "MANIFEST.json").is_file()


def test_package_data_patterns_cover_every_suite_file():
    import fnmatch

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["refloss.suite"].split(",")]
    suite = ROOT / "conformance"
    for path in suite.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = str(path.relative_to(suite))
            assert any(fnmatch.fnmatch(relative, p) and relative.count("/") == p.count("/") for p in patterns), relative
