"""``refloss conformance check``: run the golden vectors against an implementation through an adapter.

For every test of every vector file (optionally restricted to some losses), in every dtype both the test's group
and the adapter support, the validator decodes the inputs, runs the adapter, and checks the output shape, the
value and each gradient against the expectations under the tolerance policy (``refloss.conformance.tolerance``).
``acceptable`` tests pass if any named alternative matches (the report says which); ``invalid`` tests pass if the
implementation raises. For valid float64 tests it also runs the built-in consistency checks: the VJP is linear in
the cotangent, a zero cotangent gives zero gradients, two runs give identical results, and ``sum`` equals the sum
of ``none``.

Known deviations of a framework are listed by uid in ``conformance/expectations/<adapter>.json``; a listed test
that fails is an expected failure (``xfail``), one that passes is reported as an unexpected pass (``xpass``),
unless the entry says ``"nondeterministic": true`` (uninitialised memory can happen to hold the right value).
"""

from __future__ import annotations

import decimal
import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from xml.sax.saxutils import quoteattr

import numpy as np

from refloss._registry import get
from refloss.adapters.base import Adapter, Rejected, Result, Unsupported
from refloss.conformance.encoding import bits_to_float
from refloss.conformance.tolerance import compare, compare_interval, scale_at, ulps

__all__ = ["Outcome", "Report", "VectorTest", "check", "format_table", "load_tests", "progress_bar", "run_test",
           "suite_directory"]

def suite_directory() -> Path:
    """Where the golden vectors are: installed with the package (refloss/suite), or the checkout's conformance/."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "suite"
    return installed if (installed / "MANIFEST.json").is_file() else package.parent / "conformance"


DEFAULT_DIRECTORY = suite_directory()
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)


@dataclass
class VectorTest:
    """One test of a vector file, with what the validator needs from its file and group."""

    loss: str
    file: str
    dtypes: tuple[str, ...]
    differentiable: tuple[str, ...]
    data: dict[str, Any]
    policy: str = "policy_v2"  # the group's tolerance policy

    @property
    def uid(self) -> str:
        return self.data["uid"]

    @property
    def gradients(self) -> tuple[str, ...]:
        """The inputs whose gradients this test expects (a subset of ``differentiable``)."""
        expected = self.data.get("expected")
        return tuple(expected[0]["grads"]) if expected else self.differentiable

    def decoded_inputs(self) -> dict[str, np.ndarray]:
        return {name: decode(t) for name, t in self.data["inputs"].items()}

    def decoded_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, value in self.data["attributes"].items():
            if name == "reduction":
                continue
            array = decode(value)
            if array.shape == ():
                params[name] = int(array) if array.dtype.kind == "i" else float(array)
            else:
                params[name] = array
        return params

    def __str__(self) -> str:
        return f"{self.uid} ({self.data['name']})"


@dataclass
class Outcome:
    uid: str
    loss: str
    file: str
    name: str
    dtype: str
    status: str  # pass, fail, acceptable:<alternative>, invalid-ok, skip, xfail, xpass, error
    ratio: float = 0.0  # worst error / allowed error (0 exact, <= 1 passes)
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error")


@dataclass
class Report:
    adapter: str
    suite_version: str
    manifest_sha256: str
    outcomes: list[Outcome] = field(default_factory=list)
    consistency_failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return any(o.failed for o in self.outcomes) or bool(self.consistency_failures)

    def counts(self) -> dict[str, int]:
        """Runs that passed (exactly, by an acceptable alternative, or by raising as required), failed, xfail, xpass."""
        failed = sum(o.failed for o in self.outcomes)
        xfail = sum(o.status == "xfail" for o in self.outcomes)
        xpass = sum(o.status == "xpass" for o in self.outcomes)
        skipped = sum(o.status == "skip" for o in self.outcomes)
        return {"passed": len(self.outcomes) - failed - xfail - xpass - skipped, "failed": failed, "xfail": xfail,
                "xpass": xpass, "skipped": skipped}

    def to_json(self) -> str:
        summary: dict[str, int] = {}
        for outcome in self.outcomes:
            summary[outcome.status] = summary.get(outcome.status, 0) + 1
        document = {"adapter": self.adapter, "suiteVersion": self.suite_version,
                    "manifestSha256": self.manifest_sha256, "seconds": round(self.seconds, 3),
                    "summary": dict(sorted(summary.items())), "consistencyFailures": self.consistency_failures,
                    "outcomes": [{k: (None if isinstance(v, float) and math.isinf(v) else v)
                                  for k, v in asdict(o).items()} for o in self.outcomes]}
        return json.dumps(document, indent=1) + "\n"

    def to_junit(self) -> str:
        lines = ['<?xml version="1.0" encoding="utf-8"?>']
        by_loss: dict[str, list[Outcome]] = {}
        for outcome in self.outcomes:
            by_loss.setdefault(outcome.loss, []).append(outcome)
        failures = sum(o.failed for o in self.outcomes)
        lines.append(f'<testsuites name={quoteattr("refloss conformance: " + self.adapter)} '
                     f'tests="{len(self.outcomes)}" failures="{failures}">')
        for loss, outcomes in by_loss.items():
            lines.append(f'  <testsuite name={quoteattr(loss)} tests="{len(outcomes)}" '
                         f'failures="{sum(o.failed for o in outcomes)}">')
            for o in outcomes:
                lines.append(f'    <testcase classname={quoteattr(loss + "." + o.file)} '
                             f'name={quoteattr(f"{o.uid} {o.name} [{o.dtype}]")}>')
                if o.failed:
                    lines.append(f'      <failure message={quoteattr(o.message)}/>')
                elif o.status == "xfail":
                    lines.append(f'      <skipped message={quoteattr("expected failure: " + o.message)}/>')
                lines.append("    </testcase>")
            lines.append("  </testsuite>")
        if self.consistency_failures:
            lines.append('  <testsuite name="consistency" tests="1" failures="1"><testcase name="consistency">'
                         f'<failure message={quoteattr("; ".join(self.consistency_failures))}/></testcase>'
                         '</testsuite>')
        lines.append("</testsuites>")
        return "\n".join(lines) + "\n"


# ---- decoding and comparison ------------------------------------------------------------------------------------

def decode(tensor: dict[str, Any]) -> np.ndarray:
    """An array from a vector tensor: int64 from "ints", float64 from "bits" (float64 patterns, row-major)."""
    if "ints" in tensor:
        return np.array(tensor["ints"], dtype=np.int64).reshape(tensor["shape"])
    values = [bits_to_float(b, "float64") for b in tensor["bits"]]
    return np.array(values, dtype=np.float64).reshape(tensor["shape"])


def _tensor_ratio(got: np.ndarray | None, expected: dict[str, Any], dtype: str, kind: str,
                  policy: str = "policy_v2") -> tuple[float, str]:
    """Worst error ratio of ``got`` against one expected tensor, and a description of the worst entry (with its
    distance from the expectation in ulps of ``dtype``)."""
    if got is None:
        return math.inf, "no gradient returned"
    got = np.asarray(got, dtype=np.float64)
    if list(got.shape) != expected["shape"]:
        return math.inf, f"shape {list(got.shape)} instead of {expected['shape']}"
    interval = expected.get("interval")
    rounded = expected["rounded"][dtype]
    worst, detail = 0.0, ""
    for i, value in enumerate(got.ravel()):
        if interval and interval["lo"][i] != interval["hi"][i]:
            ratio = compare_interval(float(value), interval["lo"][i], interval["hi"][i], dtype,
                                     scale_at(expected, i), policy)
            wanted = f"[{interval['lo'][i]}, {interval['hi'][i]}]"
        else:
            ratio = compare(float(value), expected["exact"][i], rounded[i], dtype, kind, scale_at(expected, i),
                            policy)
            wanted = expected["exact"][i]
        if ratio > worst or (i == 0 and ratio == worst):
            worst, detail = ratio, f"entry {i}: got {float(value)!r}, expected {wanted}{_how_far(value, wanted, dtype)}"
    return worst, detail


def _how_far(value: float, wanted: str, dtype: str) -> str:
    """", 3.5 ulps off" for a finite miss of a finite expectation (nothing for NaN, infinities, intervals)."""
    if not math.isfinite(float(value)) or wanted.startswith("[") or wanted in ("nan", "inf", "-inf"):
        return ""
    error = abs(decimal.Decimal(float(value)) - decimal.Decimal(wanted))
    return f", {ulps(error, wanted, dtype):.3g} ulps off" if error else ""


def _match(result: Result, alternative: dict[str, Any], dtype: str, policy: str = "policy_v2") -> tuple[float, str]:
    """Worst error ratio over the value and every gradient the expectation lists (each test says which inputs
    it expects gradients for: cross_entropy's target only with probability targets)."""
    ratio, detail = _tensor_ratio(result.value, alternative["value"], dtype, "value", policy)
    worst, where = ratio, f"value {detail}"
    for name in alternative["grads"]:
        ratio, detail = _tensor_ratio(result.grads.get(name), alternative["grads"][name], dtype, "gradient",
                                      policy)
        if ratio > worst:
            worst, where = ratio, f"grad {name} {detail}"
    return worst, where


def run_test(adapter: Adapter, test: VectorTest, dtype: str) -> Outcome:
    """Run one test in one dtype and judge it."""
    data = test.data
    outcome = Outcome(test.uid, test.loss, test.file, data["name"], dtype, "pass")
    try:
        result = adapter.run(test.loss, test.decoded_inputs(), test.decoded_params(),
                             data["attributes"]["reduction"], decode(data["cotangent"]), dtype)
    except Unsupported as reason:
        outcome.status, outcome.message = "skip", str(reason)
        return outcome
    except Rejected as rejection:
        if data["result"] == "invalid":
            expected = data["error"]["category"]
            if rejection.category not in (None, expected):
                outcome.status, outcome.ratio = "fail", math.inf
                outcome.message = f"raised {rejection.category}, expected {expected}: {rejection}"
            else:
                outcome.status = "invalid-ok"
            return outcome
        outcome.status, outcome.ratio, outcome.message = "fail", math.inf, f"raised unexpectedly: {rejection}"
        return outcome
    except Exception as error:  # an adapter crash is a failure of that test, not of the run
        outcome.status, outcome.ratio, outcome.message = "error", math.inf, f"{type(error).__name__}: {error}"
        return outcome
    if data["result"] == "invalid":
        outcome.status, outcome.ratio = "fail", math.inf
        outcome.message = f"did not raise (expected {data['error']['category']})"
        return outcome
    best = (math.inf, "", "")
    for alternative in data["expected"]:
        ratio, where = _match(result, alternative, dtype, test.policy)
        if ratio < best[0] or not best[2]:
            best = (ratio, where, alternative["name"])
        if ratio <= 1.0:
            break
    outcome.ratio = best[0]
    if best[0] <= 1.0:
        outcome.status = "pass" if best[2] == "refloss" else f"acceptable:{best[2]}"
    else:
        outcome.status, outcome.message = "fail", f"{best[1]} (closest expectation: {best[2]})"
    return outcome


# ---- consistency checks -----------------------------------------------------------------------------------------

def _consistency(adapter: Adapter, test: VectorTest) -> list[str]:
    """Self-consistency of a valid float64 test: linearity and zero cotangent, determinism, sum = sum of none."""
    data = test.data
    inputs, params = test.decoded_inputs(), test.decoded_params()
    reduction, cotangent = data["attributes"]["reduction"], decode(data["cotangent"])
    if not all(np.all(np.isfinite(a)) for a in inputs.values()):
        return []  # 0 * inf is NaN: the algebraic identities need finite inputs
    problems = []
    first = adapter.run(test.loss, inputs, params, reduction, cotangent, "float64")
    second = adapter.run(test.loss, inputs, params, reduction, cotangent, "float64")
    if not all(np.array_equal(first.grads[n], second.grads[n], equal_nan=True) for n in test.gradients) or \
            not np.array_equal(first.value, second.value, equal_nan=True):
        problems.append(f"{test}: two identical runs differ")
    doubled = adapter.run(test.loss, inputs, params, reduction, 2.0 * cotangent, "float64")
    zero = adapter.run(test.loss, inputs, params, reduction, np.zeros_like(cotangent), "float64")
    for name in test.gradients:
        # Doubling is exact in binary floating point except where results are subnormal: allow that rounding.
        if not np.allclose(doubled.grads[name], 2.0 * first.grads[name], rtol=1e-12, atol=_SMALLEST_NORMAL,
                           equal_nan=True):
            problems.append(f"{test}: the gradient of {name} is not linear in the cotangent")
        defined = ~np.isnan(first.grads[name])  # 0 * NaN (a weighted mean over zero weights) stays NaN
        if np.any(zero.grads[name][defined] != 0):
            problems.append(f"{test}: a zero cotangent gives a non-zero gradient of {name}")
    if reduction == "sum":
        first_input = next(iter(inputs.values()))
        unreduced_shape = get(test.loss).output_shape(np.shape(first_input), "none")
        elementwise = adapter.run(test.loss, inputs, params, "none", np.ones(unreduced_shape), "float64")
        if not np.isclose(np.sum(elementwise.value), first.value, rtol=1e-12, atol=1e-300):
            problems.append(f"{test}: reduction 'sum' differs from the sum of 'none'")
    return problems


# ---- the run ----------------------------------------------------------------------------------------------------

def load_manifest(directory: Path, allow_modified: bool = False) -> tuple[dict[str, Any], str]:
    manifest_bytes = (directory / "MANIFEST.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    if not allow_modified:
        for path, entry in manifest["files"].items():
            actual = hashlib.sha256((directory / path).read_bytes()).hexdigest()
            if actual != entry["sha256"]:
                raise ValueError(f"{path}: sha256 {actual} does not match MANIFEST.json ({entry['sha256']}); "
                                 "regenerate with 'refloss conformance generate' or pass --allow-modified")
    return manifest, hashlib.sha256(manifest_bytes).hexdigest()


def load_tests(directory: Path = DEFAULT_DIRECTORY, only: Iterable[str] | None = None,
               manifest: dict[str, Any] | None = None) -> list[VectorTest]:
    """Every test of the suite (or of the losses in ``only``), in manifest order."""
    if manifest is None:
        manifest = json.loads((directory / "MANIFEST.json").read_bytes())
    selected = set(only or [])
    tests = []
    for path in manifest["files"]:
        if not path.startswith("vectors/"):
            continue
        document = json.loads((directory / path).read_bytes())
        loss = document["function"]["name"]
        if selected and loss not in selected:
            continue
        for group in document["testGroups"]:
            for data in group["tests"]:
                tests.append(VectorTest(loss, Path(path).stem, tuple(group["dtypes"]),
                                        tuple(document["function"]["differentiable"]), data,
                                        group["tolerance"]["policy"]))
    return tests


def load_expectations(path: Path | None) -> dict[str, dict[str, Any]]:
    """Known deviations by uid (an entry may restrict itself to some dtypes)."""
    if path is None or not path.exists():
        return {}
    document = json.loads(path.read_text())
    return {entry["uid"]: entry for entry in document["deviations"]}


def check(adapter: Adapter, directory: Path = DEFAULT_DIRECTORY, only: Iterable[str] | None = None,
          dtypes: Iterable[str] | None = None, expectations: dict[str, dict[str, Any]] | None = None,
          allow_modified: bool = False, consistency: bool = True,
          progress: Callable[[int, int], None] | None = None) -> Report:
    """Run the suite against ``adapter`` and return the report."""
    start = time.perf_counter()
    manifest, manifest_hash = load_manifest(directory, allow_modified)
    tests = [t for t in load_tests(directory, only, manifest) if adapter.supports(t.loss)]
    wanted = [d for d in adapter.dtypes if dtypes is None or d in set(dtypes)]
    expectations = expectations or {}
    report = Report(adapter.describe(), manifest["suiteVersion"], manifest_hash)
    for index, test in enumerate(tests):
        if progress:
            progress(index, len(tests))
        for dtype in [d for d in wanted if d in test.dtypes]:
            outcome = run_test(adapter, test, dtype)
            deviation = expectations.get(test.uid)
            if deviation and dtype in deviation.get("dtypes", [dtype]) and outcome.status != "skip":
                outcome.message = f"{deviation['reason']} | {outcome.message}".rstrip(" |")
                if outcome.failed:
                    outcome.status = "xfail"
                elif not deviation.get("nondeterministic"):  # a random deviation may pass by chance
                    outcome.status = "xpass"
            report.outcomes.append(outcome)
        if consistency and test.data["result"] != "invalid" and "float64" in wanted and test.uid not in expectations:
            try:
                report.consistency_failures += _consistency(adapter, test)
            except Unsupported:
                pass
            except Exception as error:  # noqa: BLE001 - reported, not raised
                report.consistency_failures.append(f"{test}: consistency checks raised {error!r}")
    if progress:
        progress(len(tests), len(tests))
    report.seconds = time.perf_counter() - start
    return report


def format_table(report: Report) -> str:
    """Per loss: outcomes, passed, failed, acceptable alternatives taken, expected failures, worst error ratio."""
    rows = []
    losses: dict[str, list[Outcome]] = {}
    for outcome in report.outcomes:
        losses.setdefault(outcome.loss, []).append(outcome)
    for loss, outcomes in losses.items():
        passed = sum(o.status in ("pass", "invalid-ok") or o.status.startswith("acceptable:") for o in outcomes)
        ratios = [o.ratio for o in outcomes if o.status not in ("xfail", "skip") and not math.isinf(o.ratio)]
        rows.append((loss, str(len(outcomes)), str(passed), str(sum(o.failed for o in outcomes)),
                     str(sum(o.status.startswith("acceptable:") for o in outcomes)),
                     str(sum(o.status == "xfail" for o in outcomes)), str(sum(o.status == "xpass" for o in outcomes)),
                     str(sum(o.status == "skip" for o in outcomes)), f"{max(ratios, default=0.0):.2f}"))
    header = ("loss", "runs", "passed", "failed", "alternative", "xfail", "xpass", "skipped", "worst error/allowed")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"adapter: {report.adapter}; suite {report.suite_version}; {len(report.outcomes)} runs "
                 f"(test x dtype) in {report.seconds:.1f} s")
    for outcome in report.outcomes:
        if outcome.failed:
            lines.append(f"FAIL {outcome.loss} {outcome.uid} {outcome.name} [{outcome.dtype}]: {outcome.message}")
        elif outcome.status == "xpass":
            lines.append(f"XPASS {outcome.loss} {outcome.uid} {outcome.name} [{outcome.dtype}]: listed as a known "
                         f"deviation but passes ({outcome.message})")
    for problem in report.consistency_failures:
        lines.append(f"FAIL consistency: {problem}")
    return "\n".join(lines)


def progress_bar(stream=sys.stderr) -> Callable[[int, int], None]:
    """A one-line progress bar on ``stream`` (shown only when it is a terminal)."""
    def show(done: int, total: int) -> None:
        if not stream.isatty() or total == 0:
            return
        width = 30
        filled = width * done // total
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} tests")
        if done == total:
            stream.write("\n")
        stream.flush()
    return show
