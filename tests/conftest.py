"""Shared test settings: deterministic Hypothesis runs (CI must not flake), a ``spec`` fixture per loss and an
``any_spec`` fixture per registered function of any kind."""

import importlib
import os
import pkgutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import refloss

# Derandomized so that a CI run is reproducible; the "dev" profile explores with fresh randomness.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]


def _load_every_local_module() -> None:
    """Import all of refloss and the docs' Python modules before any test runs.

    Hypothesis mixes into its draws the constants of every local module loaded so far, so without this the cases a
    test gets would depend on which modules the tests before it happened to import, and under ``pytest -n 2`` on
    which worker it ran: a case could fail in CI and never here. Loaded up front, the draws depend on the code
    alone. Modules whose optional dependency is missing (an adapter's framework, the docs extra) are skipped.
    """
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    names = [m.name for m in pkgutil.walk_packages(refloss.__path__, "refloss.") if m.name != "refloss.__main__"]
    names += sorted(p.stem for p in (ROOT / "docs" / "_ext").glob("*.py"))
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


_load_every_local_module()

SPECS = [refloss.registry.get(name) for name in refloss.registry.names()]
ALL_SPECS = [refloss.registry.get(name) for name in refloss.registry.names(kind=None)]


@pytest.fixture(params=SPECS, ids=[s.name for s in SPECS])
def spec(request):
    """Each registered loss record in turn."""
    return request.param


@pytest.fixture(params=ALL_SPECS, ids=[s.name for s in ALL_SPECS])
def any_spec(request):
    """Each registered record of every kind in turn (losses, geometry, coders, selections)."""
    return request.param


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """How many mutants of tests/mutants the conformance suite caught, on one line of every run that ran them.

    Counted from the outcomes of tests/test_mutants.py: a mutant is caught when its test passed.
    """
    runs = [report for reports in terminalreporter.stats.values() for report in reports
            if getattr(report, "when", None) == "call" and "mutant" in dict(getattr(report, "user_properties", ()))]
    if not runs:
        return
    caught = [report for report in runs if report.passed]
    terminalreporter.write_line(f"mutation library: {len(caught)} of {len(runs)} mutants caught")
    if config.option.verbose > 0:
        for report in sorted(runs, key=lambda r: r.nodeid):
            properties = dict(report.user_properties)
            detail = (f"caught by {properties['mutant_caught_by']}" if report.passed
                      else "NOT CAUGHT")
            terminalreporter.write_line(f"  {properties['mutant']}: {detail}")
