"""``refloss gradcheck``: every registered VJP against autograd and against finite differences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from refloss._registry import get, names
from refloss.testing._gradients import (AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, Case,
                                        assert_vjp_matches_autograd, assert_vjp_matches_finite_differences,
                                        standard_cases)

__all__ = ["GradcheckResult", "format_table", "run"]


@dataclass
class GradcheckResult:
    """The outcome of the gradient checks of one loss over its standard cases."""

    name: str
    cases: int
    autograd_error: float
    finite_difference_error: float
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def _check(spec_name: str, case: Case, check, failures: list[str]) -> float:
    try:
        return check(spec_name, case)
    except AssertionError as error:
        failures.append(str(error))
        return float("inf")


def run(loss_names: Iterable[str] | None = None, seed: int = 0) -> list[GradcheckResult]:
    """Check the named functions (by default every loss and detector loss); unknown names raise ``KeyError``."""
    selected = list(loss_names) if loss_names else names() + names(kind="detector")
    for name in selected:
        get(name)  # fail before doing any work if a name is unknown
    results = []
    for name in selected:
        cases = standard_cases(name, seed)
        failures: list[str] = []
        autograd_error = max((_check(name, c, assert_vjp_matches_autograd, failures) for c in cases), default=0.0)
        fd_error = max((_check(name, c, assert_vjp_matches_finite_differences, failures) for c in cases), default=0.0)
        results.append(GradcheckResult(name, len(cases), autograd_error, fd_error, failures))
    return results


def format_table(results: list[GradcheckResult]) -> str:
    """A plain-text table: loss, cases, worst relative error against each reference, verdict."""
    header = ("loss", "cases", "max rel err (autograd)", "max rel err (finite diff)", "result")
    rows = [(r.name, str(r.cases), f"{r.autograd_error:.2e}", f"{r.finite_difference_error:.2e}",
             "pass" if r.passed else "FAIL") for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append("")
    lines.append(f"tolerances: autograd {AUTOGRAD_TOLERANCE:g}, finite differences {FINITE_DIFFERENCE_TOLERANCE:g} "
                 "(worst |error| / max(1, largest gradient entry))")
    for r in results:
        for failure in r.failures:
            lines.append(f"FAIL {failure}")
    return "\n".join(lines)
