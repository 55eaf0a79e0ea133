"""``refloss conformance check``: run the golden vectors against an implementation through an adapter.

For every test of every vector file (optionally restricted to some losses), in every dtype both the test's group
and the adapter support, the validator decodes the inputs, runs the adapter, and checks the output shape, the
value and each gradient against the expectations under the tolerance policy (``refloss.conformance.tolerance``).

- ``acceptable`` tests pass if any named alternative matches (the report says which).
- ``invalid`` tests require the forward alone and the VJP alone each to raise, with the vector's error category.
  Where the adapter cannot tell an error's category the outcome is ``invalid-unchecked``: it raised as required,
  and the report counts it apart so that an unchecked category never passes for a checked one.
- Default parameters: a valid test whose attributes set only ``reduction``, equal to the file's
  ``function.defaultReduction``, runs a second time with the reduction left out (the implementation's default
  applies), reported as ``<name> [defaults]``. Parameters a test does not set are never passed.
- For valid float64 tests the built-in consistency checks run too: the VJP is linear in the cotangent, a zero
  cotangent gives zero gradients, two runs give identical results, and ``sum`` equals the sum of ``none``.

Losses and dtypes the implementation lacks are listed as skipped, and a run that checks nothing says so
(``Report.nothing_checked``). An engine that crashes or hangs (``EngineFailure``) gives one failure; the runs left
are reported as ``not-run``.

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
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from refloss._registry import get
from refloss.adapters.base import Adapter, EngineFailure, Rejected, Result, Unsupported
from refloss.conformance.encoding import DTYPES, bits_to_float
from refloss.conformance.errors import CATEGORIES, describe_categories
from refloss.conformance.tolerance import compare, compare_interval, scale_at, ulps

__all__ = ["Outcome", "Report", "VectorTest", "check", "format_summary", "format_table", "load_expectations",
           "load_tests", "progress_bar", "run_test", "suite_directory"]

def suite_directory() -> Path:
    """Where the golden vectors are: installed with the package (refloss/suite), or the checkout's conformance/."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "suite"
    return installed if (installed / "MANIFEST.json").is_file() else package.parent / "conformance"


DEFAULT_DIRECTORY = suite_directory()
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)
DEFAULTS_SUFFIX = " [defaults]"
# Statuses that mean the implementation did what the vector asks; invalid-unchecked is counted apart.
_PASSED = ("pass", "invalid-ok")


@dataclass
class VectorTest:
    """One test of a vector file, with what the validator needs from its file and group."""

    loss: str
    file: str
    dtypes: tuple[str, ...]
    differentiable: tuple[str, ...]
    data: dict[str, Any]
    default_reduction: str | None = None  # the file's function.defaultReduction
    policy: str = "policy_v2"  # the group's tolerance policy

    @property
    def uid(self) -> str:
        return self.data["uid"]

    @property
    def gradients(self) -> tuple[str, ...]:
        """The inputs whose gradients this test expects (a subset of ``differentiable``)."""
        expected = self.data.get("expected")
        if "cotangent" not in self.data:  # a function without a VJP (pairwise IoU, NMS): value only
            return ()
        return tuple(expected[0]["grads"]) if expected else self.differentiable

    @property
    def checks_defaults(self) -> bool:
        """Whether the test also runs with the reduction left out: a valid call that sets only the reduction, to
        the file's default."""
        return (self.data["result"] != "invalid" and self.default_reduction is not None
                and self.data["attributes"] == {"reduction": self.default_reduction})

    def decoded_inputs(self) -> dict[str, np.ndarray]:
        return {name: decode(t) for name, t in self.data["inputs"].items()}

    def decoded_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, value in self.data["attributes"].items():
            if name == "reduction":
                continue
            if "choice" in value:  # a string setting (a box format)
                params[name] = value["choice"]
                continue
            if "boolean" in value:  # a flag (log_input, swap)
                params[name] = value["boolean"]
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
    # pass, acceptable:<alternative>, invalid-ok, invalid-unchecked (raised as required, category unknown), fail,
    # error (the adapter crashed on this test), skip, not-run (the engine failed earlier), xfail, xpass
    status: str
    ratio: float = 0.0  # worst error / allowed error (0 exact, <= 1 passes)
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error")

    @property
    def passed(self) -> bool:
        """Did what the vector asks, fully checked (an unchecked error category is not counted here)."""
        return self.status in _PASSED or self.status.startswith("acceptable:")


@dataclass
class Report:
    adapter: str
    suite_version: str
    manifest_sha256: str
    outcomes: list[Outcome] = field(default_factory=list)
    consistency_failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped_losses: dict[str, str] = field(default_factory=dict)  # loss -> why none of its tests ran
    skipped_dtypes: dict[str, str] = field(default_factory=dict)  # dtype -> why
    aborted: str = ""  # why the run stopped early (the engine crashed or hung)

    @property
    def failed(self) -> bool:
        return any(o.failed for o in self.outcomes) or bool(self.consistency_failures)

    @property
    def nothing_checked(self) -> str:
        """Why nothing was checked, or "" when at least one run checked something."""
        if self.aborted or any(o.status not in ("skip", "not-run") for o in self.outcomes):
            return ""
        reasons = [f"{loss} skipped: {why}" for loss, why in self.skipped_losses.items()]
        reasons += [f"dtype {d} skipped: {why}" for d, why in self.skipped_dtypes.items()]
        skips = Counter(o.message for o in self.outcomes if o.status == "skip")
        reasons += [f"{n} runs skipped: {message}" for message, n in skips.most_common(3)]
        return "; ".join(reasons) or "no test matched the selection"

    def counts(self) -> dict[str, int]:
        """Runs that passed (exactly, by an acceptable alternative, or by raising the required category), that
        raised as required with the category unchecked, failed, xfail, xpass, skipped, and not run."""
        statuses = Counter(o.status for o in self.outcomes)
        return {"passed": sum(o.passed for o in self.outcomes), "unchecked": statuses["invalid-unchecked"],
                "failed": sum(o.failed for o in self.outcomes), "xfail": statuses["xfail"], "xpass": statuses["xpass"],
                "skipped": statuses["skip"], "not_run": statuses["not-run"]}

    def to_json(self) -> str:
        summary = Counter(o.status for o in self.outcomes)
        document = {"adapter": self.adapter, "suiteVersion": self.suite_version,
                    "manifestSha256": self.manifest_sha256, "seconds": round(self.seconds, 3),
                    "summary": dict(sorted(summary.items())), "counts": self.counts(),
                    "nothingChecked": self.nothing_checked or None, "aborted": self.aborted or None,
                    "skippedLosses": self.skipped_losses, "skippedDtypes": self.skipped_dtypes,
                    "consistencyFailures": self.consistency_failures,
                    "outcomes": [{k: (None if isinstance(v, float) and math.isinf(v) else v)
                                  for k, v in asdict(o).items()} for o in self.outcomes]}
        return json.dumps(document, indent=1) + "\n"

    def to_junit(self) -> str:
        lines = ['<?xml version="1.0" encoding="utf-8"?>']
        by_loss: dict[str, list[Outcome]] = {}
        for outcome in self.outcomes:
            by_loss.setdefault(outcome.loss, []).append(outcome)
        extra_failures = bool(self.consistency_failures) + bool(self.nothing_checked)
        skipped = sum(o.status in ("skip", "not-run", "xfail") for o in self.outcomes) + len(self.skipped_losses)
        lines.append(f'<testsuites name={quoteattr("refloss conformance: " + self.adapter)} '
                     f'tests="{len(self.outcomes) + len(self.skipped_losses) + extra_failures}" '
                     f'failures="{sum(o.failed for o in self.outcomes) + extra_failures}" skipped="{skipped}">')
        for loss, outcomes in by_loss.items():
            lines.append(f'  <testsuite name={quoteattr(loss)} tests="{len(outcomes)}" '
                         f'failures="{sum(o.failed for o in outcomes)}" '
                         f'skipped="{sum(o.status in ("skip", "not-run", "xfail") for o in outcomes)}">')
            for o in outcomes:
                lines.append(f'    <testcase classname={quoteattr(loss + "." + o.file)} '
                             f'name={quoteattr(f"{o.uid} {o.name} [{o.dtype}]")}>')
                if o.failed:
                    lines.append(f'      <failure message={quoteattr(o.message)}/>')
                elif o.status == "xfail":
                    lines.append(f'      <skipped message={quoteattr("expected failure: " + o.message)}/>')
                elif o.status in ("skip", "not-run"):
                    lines.append(f'      <skipped message={quoteattr(o.status + ": " + o.message)}/>')
                elif o.status == "invalid-unchecked":
                    lines.append('      <properties><property name="errorCategory" value="unchecked"/></properties>')
                    lines.append(f'      <system-out>{escape("error category unchecked: " + o.message)}</system-out>')
                lines.append("    </testcase>")
            lines.append("  </testsuite>")
        for loss, why in self.skipped_losses.items():
            lines.append(f'  <testsuite name={quoteattr(loss)} tests="1" failures="0" skipped="1"><testcase '
                         f'classname={quoteattr(loss)} name="all tests"><skipped message={quoteattr(why)}/>'
                         '</testcase></testsuite>')
        if self.consistency_failures:
            lines.append('  <testsuite name="consistency" tests="1" failures="1"><testcase name="consistency">'
                         f'<failure message={quoteattr("; ".join(self.consistency_failures))}/></testcase>'
                         '</testsuite>')
        if self.nothing_checked:
            lines.append('  <testsuite name="run" tests="1" failures="1"><testcase name="nothing checked">'
                         f'<failure message={quoteattr("nothing was checked: " + self.nothing_checked)}/>'
                         '</testcase></testsuite>')
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
    it expects gradients for: cross_entropy's target only with probability targets); a selection's indices must
    be exactly the expected ones (ratio 0, else inf)."""
    if "indices" in alternative:
        wanted = alternative["indices"]["ints"]
        got = None if result.value is None else np.asarray(result.value).ravel()
        if got is not None and got.size == len(wanted) and all(float(g) == w for g, w in zip(got, wanted)):
            return 0.0, ""
        shown = "nothing" if got is None else f"{[int(g) if float(g).is_integer() else float(g) for g in got]}"
        return math.inf, f"indices {shown} instead of {wanted}"
    ratio, detail = _tensor_ratio(result.value, alternative["value"], dtype, "value", policy)
    worst, where = ratio, f"value {detail}"
    for name in alternative["grads"]:
        ratio, detail = _tensor_ratio(result.grads.get(name), alternative["grads"][name], dtype, "gradient",
                                      policy)
        if ratio > worst:
            worst, where = ratio, f"grad {name} {detail}"
    return worst, where


def _judge_rejections(rejections: dict[str, Rejected | None], expected: str) -> tuple[str, str]:
    """Status and message of an ``invalid`` test from what the forward and the VJP each raised (None: did not)."""
    silent = [part for part, rejection in rejections.items() if rejection is None]
    raised = {part: rejection for part, rejection in rejections.items() if rejection is not None}
    if silent:
        others = "; ".join(f"the {part} raised {r.category or 'an error'}: {r}" for part, r in raised.items())
        return "fail", (f"the {' and the '.join(silent)} did not raise (expected {expected})"
                        + (f"; {others}" if others else ""))
    problems = []
    for part, rejection in raised.items():
        if rejection.category is not None and rejection.category not in CATEGORIES:
            problems.append(f"the {part} raised category {rejection.category!r}, which is not one of "
                            f"{describe_categories()}: {rejection}")
        elif rejection.category not in (None, expected):
            problems.append(f"the {part} raised {rejection.category}, expected {expected}: {rejection}")
    if problems:
        return "fail", "; ".join(problems)
    unchecked = [part for part, rejection in raised.items() if rejection.category is None]
    if unchecked:
        return "invalid-unchecked", (f"raised as required, but the error category of the {' and the '.join(unchecked)}"
                                     f" is unknown to the adapter, so {expected} went unchecked: "
                                     f"{raised[unchecked[0]]}")
    return "invalid-ok", ""


def run_test(adapter: Adapter, test: VectorTest, dtype: str, defaults: bool = False) -> Outcome:
    """Run one test in one dtype and judge it; with ``defaults``, leave the reduction out of the call.

    An ``invalid`` test runs the forward alone and the VJP alone: each must raise. An :class:`EngineFailure`
    propagates (the run cannot go on); any other exception of the adapter is an ``error`` outcome of this test.
    """
    data = test.data
    outcome = Outcome(test.uid, test.loss, test.file, data["name"] + (DEFAULTS_SUFFIX if defaults else ""), dtype,
                      "pass")
    # (functions other than losses have no reduction, and those without a VJP no cotangent)
    reduction = None if defaults else data["attributes"].get("reduction")
    cotangent = decode(data["cotangent"]) if "cotangent" in data else None
    arguments = (test.loss, test.decoded_inputs(), test.decoded_params(), reduction, cotangent, dtype)
    try:
        if data["result"] == "invalid":
            rejections: dict[str, Rejected | None] = {}
            parts = [("forward", {"grads": ()})] + ([("VJP", {"value": False, "grads": test.gradients})]
                                                   if test.gradients else [])
            for part, selection in parts:
                try:
                    adapter.run(*arguments, **selection)
                    rejections[part] = None
                except Rejected as rejection:
                    rejections[part] = rejection
            outcome.status, outcome.message = _judge_rejections(rejections, data["error"]["category"])
            outcome.ratio = math.inf if outcome.status == "fail" else 0.0
            return outcome
        result = adapter.run(*arguments, grads=test.gradients)
    except Unsupported as reason:
        outcome.status, outcome.message = "skip", str(reason)
        return outcome
    except Rejected as rejection:
        outcome.status, outcome.ratio, outcome.message = "fail", math.inf, f"raised unexpectedly: {rejection}"
        return outcome
    except EngineFailure:
        raise
    except Exception as error:  # an adapter crash is a failure of that test, not of the run
        outcome.status, outcome.ratio, outcome.message = "error", math.inf, f"{type(error).__name__}: {error}"
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
        if defaults:
            outcome.message = (f"called without reduction (whose default should be {test.default_reduction!r}): "
                               + outcome.message)
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

    def run(reduction: str, cotangent: np.ndarray) -> Result:
        return adapter.run(test.loss, inputs, params, reduction, cotangent, "float64", grads=test.gradients)

    first = run(reduction, cotangent)
    second = run(reduction, cotangent)
    if not all(np.array_equal(first.grads[n], second.grads[n], equal_nan=True) for n in test.gradients) or \
            not np.array_equal(first.value, second.value, equal_nan=True):
        problems.append(f"{test}: two identical runs differ")
    doubled = run(reduction, 2.0 * cotangent)
    zero = run(reduction, np.zeros_like(cotangent))
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
        elementwise = run("none", np.ones(unreduced_shape))
        if not np.isclose(np.sum(elementwise.value), first.value, rtol=1e-12, atol=1e-300):
            problems.append(f"{test}: reduction 'sum' differs from the sum of 'none'")
    return problems


# ---- loading ----------------------------------------------------------------------------------------------------

def _read_json(path: Path, what: str) -> Any:
    """A JSON document, or a ValueError that names the file and what is wrong with it."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ValueError(f"{what} {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{what} {path} is not valid JSON: {error}") from None


def _suite_manifest(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise ValueError(f"suite directory {directory} does not exist")
    if not (directory / "MANIFEST.json").is_file():
        raise ValueError(f"{directory} is not a conformance suite: it has no MANIFEST.json (give the folder that "
                         "holds MANIFEST.json and vectors/)")
    manifest = _read_json(directory / "MANIFEST.json", "manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ValueError(f"manifest {directory / 'MANIFEST.json'} has no \"files\" object")
    return manifest


def load_manifest(directory: Path, allow_modified: bool = False) -> tuple[dict[str, Any], str]:
    manifest = _suite_manifest(directory)
    if not allow_modified:
        for path, entry in manifest["files"].items():
            if not (directory / path).is_file():
                raise ValueError(f"{path}: listed in MANIFEST.json but missing from {directory}")
            actual = hashlib.sha256((directory / path).read_bytes()).hexdigest()
            if actual != entry["sha256"]:
                raise ValueError(f"{path}: sha256 {actual} does not match MANIFEST.json ({entry['sha256']}); "
                                 "regenerate with 'refloss conformance generate' or pass --allow-modified")
    return manifest, hashlib.sha256((directory / "MANIFEST.json").read_bytes()).hexdigest()


def load_tests(directory: Path = DEFAULT_DIRECTORY, only: Iterable[str] | None = None,
               manifest: dict[str, Any] | None = None) -> list[VectorTest]:
    """Every test of the suite (or of the losses in ``only``), in manifest order."""
    if manifest is None:
        manifest = _suite_manifest(directory)
    selected = set(only or [])
    tests = []
    for path in manifest["files"]:
        if not path.startswith("vectors/"):
            continue
        if selected and Path(path).parts[1] not in selected:  # vectors/<function>/<concern>.json: not read
            continue
        document = _read_json(directory / path, "vector file")
        try:
            loss = document["function"]["name"]
            if selected and loss not in selected:
                continue
            for group in document["testGroups"]:
                for data in group["tests"]:
                    tests.append(VectorTest(loss, Path(path).stem, tuple(group["dtypes"]),
                                            tuple(document["function"]["differentiable"]), data,
                                            document["function"].get("defaultReduction"),
                                            group["tolerance"]["policy"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"vector file {directory / path} is malformed (missing or wrong {error}); "
                             "run 'refloss conformance lint'") from None
    return tests


def load_expectations(path: Path | None, required: bool = False) -> dict[str, dict[str, Any]]:
    """Known deviations by uid (an entry may restrict itself to some dtypes).

    A missing file means no deviations, unless ``required`` (a file named explicitly): then it is an error, as is
    a malformed file (the message names the file and the entry).
    """
    if path is None or (not required and not path.exists()):
        return {}
    document = _read_json(path, "expectations file")
    if not isinstance(document, dict) or not isinstance(document.get("deviations"), list):
        raise ValueError(f"expectations file {path} must be a JSON object with a \"deviations\" list "
                         "(see conformance/expectations/torch.json)")
    deviations: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(document["deviations"]):
        where = f"expectations file {path}, deviation {index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("uid"), str):
            raise ValueError(f"{where}: an entry must be an object with a \"uid\" string; got {entry!r}")
        where += f" ({entry['uid']})"
        if not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            raise ValueError(f"{where}: \"reason\" (why the implementation deviates) is missing")
        dtypes = entry.get("dtypes", [])
        if not isinstance(dtypes, list) or any(d not in DTYPES for d in dtypes):
            raise ValueError(f"{where}: \"dtypes\" must be a list drawn from {', '.join(DTYPES)}; got {dtypes!r}")
        if not isinstance(entry.get("nondeterministic", False), bool):
            raise ValueError(f"{where}: \"nondeterministic\" must be true or false")
        if entry["uid"] in deviations:
            raise ValueError(f"{where}: uid {entry['uid']} is listed twice")
        deviations[entry["uid"]] = entry
    return deviations


# ---- the run ----------------------------------------------------------------------------------------------------

def _apply_deviation(outcome: Outcome, deviation: dict[str, Any] | None) -> None:
    """Turn a listed deviation's failure into xfail, and its pass into xpass (unless nondeterministic)."""
    if not deviation or outcome.dtype not in deviation.get("dtypes", [outcome.dtype]) or \
            outcome.status in ("skip", "not-run"):
        return
    outcome.message = f"{deviation['reason']} | {outcome.message}".rstrip(" |")
    if outcome.failed:
        outcome.status = "xfail"
    elif not deviation.get("nondeterministic"):  # a random deviation may pass by chance
        outcome.status = "xpass"


def check(adapter: Adapter, directory: Path = DEFAULT_DIRECTORY, only: Iterable[str] | None = None,
          dtypes: Iterable[str] | None = None, expectations: dict[str, dict[str, Any]] | None = None,
          allow_modified: bool = False, consistency: bool = True,
          progress: Callable[[int, int], None] | None = None, defaults: bool = True) -> Report:
    """Run the suite against ``adapter`` and return the report (``defaults=False`` skips the defaults re-runs)."""
    start = time.perf_counter()
    requested_dtypes = list(dtypes or [])
    unknown = [d for d in requested_dtypes if d not in DTYPES]
    if unknown:
        raise ValueError(f"unknown dtype {', '.join(map(repr, unknown))}; choose from {', '.join(DTYPES)}")
    manifest, manifest_hash = load_manifest(directory, allow_modified)
    selected = load_tests(directory, only, manifest)
    report = Report(adapter.describe(), manifest["suiteVersion"], manifest_hash)
    present = list(dict.fromkeys(t.loss for t in selected))
    for loss in only or []:
        if loss not in present:
            report.skipped_losses[loss] = f"no vectors in {directory}"
    for loss in present:
        if not adapter.supports(loss):
            report.skipped_losses[loss] = f"not implemented by {adapter.name}"
    tests = [t for t in selected if t.loss not in report.skipped_losses]
    suite_dtypes = [d for d in DTYPES if any(d in t.dtypes for t in selected)]
    for dtype in requested_dtypes or suite_dtypes:
        if dtype not in adapter.dtypes:
            report.skipped_dtypes[dtype] = f"{adapter.name} computes in {', '.join(adapter.dtypes)} only"
    wanted = [d for d in adapter.dtypes if not requested_dtypes or d in requested_dtypes]
    expectations = expectations or {}
    for index, test in enumerate(tests):
        if progress:
            progress(index, len(tests))
        runs = [(dtype, False) for dtype in wanted if dtype in test.dtypes]
        if defaults and test.checks_defaults:
            runs += [(dtype, True) for dtype, _ in runs]
        for dtype, with_defaults in runs:
            name = test.data["name"] + (DEFAULTS_SUFFIX if with_defaults else "")
            if report.aborted:
                report.outcomes.append(Outcome(test.uid, test.loss, test.file, name, dtype, "not-run",
                                               message="the engine failed earlier in the run"))
                continue
            try:
                outcome = run_test(adapter, test, dtype, with_defaults)
            except EngineFailure as failure:
                report.aborted = str(failure)
                outcome = Outcome(test.uid, test.loss, test.file, name, dtype, "error", math.inf, str(failure))
            else:
                _apply_deviation(outcome, expectations.get(test.uid))
            report.outcomes.append(outcome)
        if consistency and not report.aborted and test.data["result"] != "invalid" and "float64" in wanted \
                and "reduction" in test.data["attributes"] \
                and "float64" in test.dtypes and test.uid not in expectations:
            try:
                report.consistency_failures += _consistency(adapter, test)
            except Unsupported:
                pass
            except EngineFailure as failure:
                report.aborted = str(failure)
                report.consistency_failures.append(f"{test}: the engine failed during the consistency checks: "
                                                   f"{failure}")
            except Exception as error:  # noqa: BLE001 - reported, not raised
                report.consistency_failures.append(f"{test}: consistency checks raised {error!r}")
    if progress:
        progress(len(tests), len(tests))
    report.seconds = time.perf_counter() - start
    return report


# ---- reports ----------------------------------------------------------------------------------------------------

def format_table(report: Report) -> str:
    """Per loss: runs, passed, failed, acceptable alternatives taken, unchecked error categories, expected and
    unexpected failures, skipped and not-run runs, worst error ratio; then every failure, and what was skipped.

    The columns unchecked, xfail, xpass and not run appear only when some run has that status.
    """
    losses: dict[str, list[Outcome]] = {}
    for outcome in report.outcomes:
        losses.setdefault(outcome.loss, []).append(outcome)
    columns: list[tuple[str, Callable[[list[Outcome]], str]]] = [
        ("runs", lambda os: str(len(os))),
        ("passed", lambda os: str(sum(o.passed for o in os))),
        ("failed", lambda os: str(sum(o.failed for o in os))),
        ("alternative", lambda os: str(sum(o.status.startswith("acceptable:") for o in os))),
    ]
    optional = [("unchecked", "invalid-unchecked"), ("xfail", "xfail"), ("xpass", "xpass")]
    columns += [(title, lambda os, s=status: str(sum(o.status == s for o in os))) for title, status in optional
                if any(o.status == status for o in report.outcomes)]
    columns.append(("skipped", lambda os: str(sum(o.status == "skip" for o in os))))
    if any(o.status == "not-run" for o in report.outcomes):
        columns.append(("not run", lambda os: str(sum(o.status == "not-run" for o in os))))

    def worst(outcomes: list[Outcome]) -> str:
        ratios = [o.ratio for o in outcomes if o.status not in ("xfail", "skip", "not-run") and not math.isinf(o.ratio)]
        return f"{max(ratios, default=0.0):.2f}"

    columns.append(("worst error/allowed", worst))
    header = ("loss", *(title for title, _ in columns))
    rows = [(loss, *(cell(outcomes) for _, cell in columns)) for loss, outcomes in losses.items()]
    skipped_column = header.index("skipped")
    for loss, why in report.skipped_losses.items():
        row = [loss, "0"] + ["-"] * (len(header) - 2)
        row[skipped_column] = "all: " + ("not implemented" if why.startswith("not implemented") else "no vectors")
        rows.append(tuple(row))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"adapter: {report.adapter}; suite {report.suite_version}; {len(report.outcomes)} runs "
                 f"(test x dtype) in {report.seconds:.1f} s")
    by_reason: dict[str, list[str]] = {}
    for loss, why in report.skipped_losses.items():
        by_reason.setdefault(why, []).append(loss)
    for why, skipped in by_reason.items():
        lines.append(f"SKIP {', '.join(skipped)}: {why}")
    for dtype, why in report.skipped_dtypes.items():
        lines.append(f"SKIP dtype {dtype}: {why}")
    for outcome in report.outcomes:
        if outcome.failed:
            lines.append(f"FAIL {outcome.loss} {outcome.uid} {outcome.name} [{outcome.dtype}]: {outcome.message}")
        elif outcome.status == "xpass":
            lines.append(f"XPASS {outcome.loss} {outcome.uid} {outcome.name} [{outcome.dtype}]: listed as a known "
                         f"deviation but passes ({outcome.message})")
    for problem in report.consistency_failures:
        lines.append(f"FAIL consistency: {problem}")
    return "\n".join(lines)


def format_summary(report: Report) -> str:
    """The one-line verdict (and, for a run that checked nothing, why)."""
    counts = report.counts()
    failed = counts["failed"] + len(report.consistency_failures)
    parts = [f"{counts['passed']} passed", f"{failed} failed"]
    if counts["unchecked"]:
        parts.append(f"{counts['unchecked']} raised as required with the error category unchecked (the "
                     "implementation does not report it)")
    if counts["xfail"]:
        parts.append(f"{counts['xfail']} expected failures")
    if counts["xpass"]:
        parts.append(f"{counts['xpass']} unexpected passes")
    if counts["skipped"]:
        parts.append(f"{counts['skipped']} skipped (not expressible in {report.adapter})")
    if report.skipped_losses:
        parts.append(f"{len(report.skipped_losses)} losses skipped")
    if report.skipped_dtypes:
        parts.append(f"dtypes skipped: {', '.join(report.skipped_dtypes)}")
    if counts["not_run"]:
        parts.append(f"{counts['not_run']} not run (the engine failed)")
    summary = ", ".join(parts)
    if report.aborted:
        summary += "\nthe run stopped early: the engine failed (the FAIL line above says how)"
    if report.nothing_checked:
        summary += f"\nnothing was checked: {report.nothing_checked}"
    return summary


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
