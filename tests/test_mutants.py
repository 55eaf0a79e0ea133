"""Mutation testing: the conformance suite must catch every realistic wrong implementation in tests/mutants.

Each mutant runs through ``refloss conformance check`` (the ``module:`` adapter, its own loss only) and the
report must fail. The run ends with the line "mutation library: N of M mutants caught" (tests/conftest.py); ``-v``
adds what caught each mutant.
"""

from collections import Counter
from pathlib import Path

import pytest

import refloss
from refloss.adapters.module import ModuleAdapter
from refloss.conformance import check as validator

from mutants import CATEGORIES, MUTANTS, harness_module

SUITE = Path(__file__).resolve().parents[1] / "conformance"
MINIMUM_PER_LOSS = 3


def _catchers(report: validator.Report) -> list[str]:
    """What made the report fail: each failing run (uid, file and test name, dtype) and consistency check."""
    runs = [f"{o.uid} {o.file}/{o.name} [{o.dtype}]" for o in report.outcomes if o.failed]
    return runs + [f"consistency: {problem}" for problem in report.consistency_failures]


@pytest.mark.parametrize("mutant", MUTANTS.values(), ids=MUTANTS.keys())
def test_the_suite_catches_the_mutant(mutant, record_property):
    record_property("mutant", mutant.name)
    report = validator.check(mutant.adapter(), SUITE, only=[mutant.loss])
    catchers = _catchers(report)
    record_property("mutant_caught_by", catchers[0] if catchers else "")
    # A crash is not a catch: a mutant must fail by its answers (or by not raising), as a real engine would.
    crashes = [f"{o.name}: {o.message}" for o in report.outcomes if o.status == "error"]
    assert not crashes, f"{mutant.name} crashed the validator instead of being judged: {crashes[:3]}"
    assert report.failed, (f"the suite did not catch {mutant.name} ({mutant.loss}, {mutant.category}): "
                           f"{mutant.description}; {len(report.outcomes)} runs all passed")


def test_every_registered_function_has_at_least_three_mutants():
    per_loss = Counter(mutant.loss for mutant in MUTANTS.values())
    thin = {name: per_loss[name] for name in refloss.registry.names(kind=None) if per_loss[name] < MINIMUM_PER_LOSS}
    assert not thin, f"losses with fewer than {MINIMUM_PER_LOSS} mutants in tests/mutants: {thin}"


@pytest.mark.parametrize("loss", refloss.registry.names(kind=None))
def test_refloss_itself_passes_through_the_same_harness(loss):
    report = validator.check(ModuleAdapter(harness_module(loss)), SUITE, only=[loss])
    assert report.outcomes and not report.failed, validator.format_table(report)


def test_every_mutant_is_described_and_distinct():
    for mutant in MUTANTS.values():
        assert mutant.category in CATEGORIES
        assert mutant.description and "\n" not in mutant.description, mutant.name
    implementations = Counter((m.loss, m.forward, m.vjp) for m in MUTANTS.values())
    assert max(implementations.values()) == 1, [key for key, count in implementations.items() if count > 1]
