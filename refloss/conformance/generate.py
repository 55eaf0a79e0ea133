"""``refloss conformance generate``: registry x cases -> oracle expectations, cross-checked -> LossVec v1 files.

For every registered loss with an oracle, every case from its generators is evaluated by the mpmath oracle (and by
the oracle again under each acceptable alternative convention). Before anything is written, the float64 NumPy
reference must agree with the oracle within the float64 tolerance policy, central finite differences must agree
with the oracle's gradients where the loss is smooth, and every ``invalid`` case must make the reference raise
an error of its category. Any disagreement stops generation: nothing is written.

The output is a dict of relative path -> bytes; the same code produces byte-identical files on any machine
(inputs come from seeded generators, expectations from a fixed-precision oracle, JSON is written canonically).
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import mpmath
import numpy as np

import refloss
from refloss._registry import get, names
from refloss.conformance import errors
from refloss.conformance.cases import VectorCase, generate_cases
from refloss.conformance.conventions import CONVENTIONS
from refloss.conformance.encoding import decimal, float_to_bits, is_representable, round_to
from refloss.conformance.flags import FLAGS
from refloss.conformance.oracle import ORACLES, evaluate_oracle as evaluate
from refloss.conformance.oracle.evaluate import DIGITS, Expectation, Tensor
from refloss.conformance.oracle.functions import Selection
from refloss.conformance.schema import SCHEMA
from refloss.conformance.check import _tensor_ratio
from refloss.conformance.tolerance import POLICIES, POLICY
from refloss.testing._gradients import Case, finite_difference_vjp, kink_distance, relative_error

__all__ = ["GenerationError", "SUITE_VERSION", "generate", "write"]

SUITE_VERSION = "0.6.0"
FORMAT_VERSION = 1
FORMAT_MINOR_VERSION = 4  # 1.1: per-entry scales (policy_v2), gradients per test, error categories in the schema;
# 1.2: functions other than losses (the function's kind; no reduction, no cotangent without a VJP, string
# parameters as {"choice": ...}, integer answers of selections as "indices"); 1.3: detector losses (function.terms:
# the value is the vector (total, *terms), the cotangent one entry per output); 1.4: flags as {"boolean": true}
CONCERNS = ("basic", "edge", "accuracy", "nonfinite", "invalid")
_FD_TOLERANCE = 1e-6  # same bound as refloss.testing's finite-difference check
_FD_KINK_MARGIN = 1e-3  # finite differences only where every element is this far from a kink


class GenerationError(RuntimeError):
    """The reference, the oracle or finite differences disagree: the vectors are not written."""


# ---- encoding ---------------------------------------------------------------------------------------------------

def _tensor(array: Any) -> dict[str, Any]:
    """A tensor on the wire: float64 bit patterns, or JSON integers for integer data (class indices)."""
    array = np.asarray(array)
    if array.dtype.kind in "iu":
        return {"shape": list(array.shape), "ints": [int(v) for v in array.ravel()]}
    array = array.astype(np.float64)
    return {"shape": list(array.shape), "bits": [float_to_bits(float(v), "float64") for v in array.ravel()]}


def _faithful_decimal(value: mpmath.mpf, dtypes: Iterable[str]) -> str:
    """The shortest of 40, 50, ... 120 significant digits whose decimal rounds like ``value`` in every dtype.

    40 digits usually suffice; a value within 1e-40 relative of a rounding tie needs more (1.5 * 1e150 - 0.42
    sits 1e-151 below a float64 tie), and its decimal must not round to the other side.
    """
    for digits in (40, 50, 60, 80, 100, 120):
        text = decimal(value, digits)
        with mpmath.workdps(max(digits + 10, 80)):
            parsed = mpmath.mpf(text) if text not in ("nan",) else mpmath.nan
        if all(round_to(parsed, d) == round_to(value, d) or text == "nan" for d in dtypes):
            return text
    raise GenerationError(f"no decimal of up to 120 digits rounds like {value} in {list(dtypes)}")


def _scale_decimal(bound: mpmath.mpf) -> str:
    """An error bound (units of u) as a short decimal, rounded up so that it never allows less than computed."""
    if bound == 0 or not mpmath.isfinite(bound):
        return "0" if bound == 0 else "inf"
    exponent = int(mpmath.floor(mpmath.log10(bound))) - 2  # three significant digits
    return decimal(mpmath.ceil(bound / mpmath.mpf(10) ** exponent) * mpmath.mpf(10) ** exponent, 3)


def _expected_tensor(tensor: Tensor, dtypes: Iterable[str]) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        "shape": list(tensor.shape),
        "exact": [_faithful_decimal(v, dtypes) for v in tensor.exact],
        "rounded": {dtype: [float_to_bits(round_to(v, dtype), dtype) for v in tensor.exact] for dtype in dtypes},
        "scale": [_scale_decimal(v) for v in tensor.scale],
    }
    if tensor.lo is not None:
        encoded["interval"] = {"lo": [decimal(v) for v in tensor.lo], "hi": [decimal(v) for v in tensor.hi]}
    return encoded


def _expectation(name: str, expectation: Expectation, dtypes: Iterable[str],
                 differentiable: tuple[str, ...]) -> dict[str, Any]:
    """One named expectation: the value, and the gradients of the case's differentiable inputs only."""
    return {"name": name, "value": _expected_tensor(expectation.value, dtypes),
            "grads": {k: _expected_tensor(v, dtypes) for k, v in expectation.grads.items() if k in differentiable}}


def _attributes(case: VectorCase) -> dict[str, Any]:
    """The call's settings: the reduction (losses only) and each parameter the case sets."""
    attributes: dict[str, Any] = {} if case.reduction is None else {"reduction": case.reduction}
    for name, value in case.params.items():
        attributes[name] = _attribute(value)
    return attributes


def _attribute(value: Any) -> dict[str, Any]:
    """One parameter as a vector attribute: a string as {"choice": ...}, a flag as {"boolean": ...}, else a tensor."""
    if isinstance(value, str):
        return {"choice": value}
    if isinstance(value, (bool, np.bool_)):
        return {"boolean": bool(value)}
    return _tensor(np.asarray(value))


def _keywords(case: VectorCase) -> dict[str, Any]:
    """The keyword arguments of a call of the case: its parameters, and its reduction where it has one."""
    return dict(case.params) if case.reduction is None else {"reduction": case.reduction, **case.params}


def _uid(loss: str, attributes: dict, inputs: dict, cotangent: dict) -> str:
    canonical = json.dumps([loss, attributes, inputs, cotangent], sort_keys=True, separators=(",", ":"))
    return f"{loss}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


# ---- cross-checks -----------------------------------------------------------------------------------------------

def _reference_ratio(loss: str, case: VectorCase, expected: dict[str, Any]) -> float:
    """Worst error of the float64 reference against the oracle, as a fraction of the float64 tolerance (a
    selection: 0 if its indices are the oracle's, else inf)."""
    spec = get(loss)
    inputs = [case.inputs[i.name] for i in spec.inputs]
    kwargs = _keywords(case)
    value = np.asarray(spec.output_vector(spec.forward(*inputs, **kwargs)))
    if "indices" in expected:
        return 0.0 if value.tolist() == expected["indices"]["ints"] else math.inf
    grads = dict(zip([i.name for i in spec.inputs], spec.vjp(spec.cotangent_of(case.cotangent), *inputs, **kwargs))) \
        if expected["grads"] else {}
    ratios = [_tensor_ratio(value, expected["value"], "float64", "value")[0]]
    ratios += [_tensor_ratio(np.asarray(grads[name]), tensor, "float64", "gradient")[0]
               for name, tensor in expected["grads"].items()]
    return max(ratios)


def _finite_difference_error(loss: str, case: VectorCase, expectation: Expectation) -> float | None:
    """Relative error of central differences against the oracle's gradients, where the loss is smooth."""
    if get(loss).vjp is None or case.cotangent is None:
        return None
    all_inputs = list(case.inputs.values())
    differentiable = {i.name for i in get(loss).inputs if i.differentiable}
    smooth = all(t.lo is None for name, t in expectation.grads.items() if name in differentiable)
    finite = all(np.all(np.isfinite(a)) and np.all(np.abs(a) < 1e100) for a in all_inputs)
    # Central differences of the whole projected output cannot resolve a term of 1e-9 next to terms of 1e18 (and
    # their step, 1e-6 max(1, |x|), would cross a kink at beta from x = 1e9): there the oracle's derivatives are
    # checked against the analytic ones of the standard algorithm alone.
    # A zero-width or zero-height box cannot be stepped both ways: the step back inverts it, which is refused.
    mixed = "MixedMagnitude" in case.flags or "DegenerateBox" in case.flags
    # (a NaN output, a detector's mean over no positives, makes every difference NaN: nothing to compare)
    defined = all(mpmath.isfinite(v) for v in expectation.value.exact)
    if not (smooth and finite and defined) or mixed or all(a.size == 0 for a in all_inputs):
        return None
    spec = get(loss)
    fd_case = Case(tuple(case.inputs[i.name] for i in spec.inputs), dict(case.params), case.reduction,
                   case.cotangent)
    if kink_distance(spec, fd_case) < _FD_KINK_MARGIN:
        return None  # a difference step would straddle a kink
    fd = finite_difference_vjp(spec, fd_case)
    return max(relative_error(f, np.array([float(v) for v in expectation.grads[i.name].exact]).reshape(
        case.inputs[i.name].shape)) for f, i in zip(fd, spec.inputs) if i.differentiable)


def _check_invalid(loss: str, case: VectorCase) -> None:
    spec = get(loss)
    inputs = [case.inputs[i.name] for i in spec.inputs]
    calls = [lambda: spec.forward(*inputs, **_keywords(case))]
    if spec.vjp is not None:
        calls.append(lambda: spec.vjp(spec.cotangent_of(case.cotangent), *inputs, **_keywords(case)))
    for call in calls:
        try:
            call()
        except (ValueError, TypeError) as error:
            category = errors.classify(error)
            if category != case.error:
                raise GenerationError(f"{loss}/{case.name}: the reference raised {category!r} ({error}), "
                                      f"the case expects {case.error!r}") from error
        else:
            raise GenerationError(f"{loss}/{case.name}: the reference did not raise ({case.error} expected)")


def _check_representable(loss: str, case: VectorCase) -> None:
    arrays = list(case.inputs.values()) + [case.cotangent] + [np.asarray(v) for v in case.params.values()
                                                               if v is not None and not isinstance(v, str)]
    arrays = [a for a in arrays if a is not None and np.asarray(a).dtype.kind == "f"]  # integers are exact
    for dtype in case.dtypes:
        for array in arrays:
            for value in np.ravel(array):
                if not is_representable(float(value), dtype):
                    raise GenerationError(f"{loss}/{case.name}: input {value!r} is not exact in {dtype}")


def _power_of_ten_ceiling(x: float) -> str:
    """A bound such as "<= 1e-15": measured errors vary in the last bits across platforms' libm; the bound doesn't."""
    if x == 0:
        return "0"
    return f"<= 1e{math.ceil(math.log10(x))}"


# ---- generation -------------------------------------------------------------------------------------------------

def _test_entry(loss: str, tc_id: int, case: VectorCase, stats: dict[str, float]) -> dict[str, Any]:
    attributes = _attributes(case)
    inputs = {name: _tensor(array) for name, array in case.inputs.items()}
    # (a function without a VJP has no cotangent: the key is left out)
    cotangent = {} if case.cotangent is None else {"cotangent": _tensor(case.cotangent)}
    entry: dict[str, Any] = {"tcId": tc_id, "uid": _uid(loss, attributes, inputs, cotangent.get("cotangent")),
                             "name": case.name, "comment": case.comment, "flags": list(case.flags)}
    _check_representable(loss, case)  # (an invalid case too: a consumer casts its inputs before calling)
    if case.error is not None:
        _check_invalid(loss, case)
        entry.update(result="invalid", attributes=attributes, inputs=inputs, **cotangent,
                     error={"category": case.error})
        return entry
    oracle = ORACLES[loss]
    # The oracle gets every parameter; the vector records only the case's own, so that consumers exercise the
    # defaults (listed in the file's "function.parameters").
    params = {p.name: p.default for p in get(loss).params
              if p.kind in ("scalar", "integer", "tuple", "choice", "boolean") and not p.required} | case.params
    differentiable = get(loss).differentiable_names(case.inputs) if case.cotangent is not None else ()
    try:
        base = evaluate(oracle, case.inputs, params, case.reduction, case.cotangent, (), differentiable)
        if isinstance(base, Selection):  # an integer answer, compared exactly
            entry.update(result="valid", attributes=attributes, inputs=inputs,
                         expected=[{"name": "refloss", "indices": _tensor(np.asarray(base.indices, np.int64))}])
            if _reference_ratio(loss, case, entry["expected"][0]) != 0.0:
                raise GenerationError(f"{loss}/{case.name}: the reference keeps other indices than the oracle")
            return entry
        expected = [_expectation("refloss", base, case.dtypes, differentiable)]
        for alternative in case.alternatives:
            other = evaluate(oracle, case.inputs, params, case.reduction, case.cotangent, (alternative,),
                             differentiable)
            expected.append(_expectation(alternative, other, case.dtypes, differentiable))
    except ArithmeticError as error:  # a standard algorithm (error bounds) disagrees with the textbook oracle
        raise GenerationError(f"{loss}/{case.name}: {error}") from error
    has_interval = any("interval" in tensor for tensor in expected[0]["grads"].values())
    flags = list(case.flags) + (["SubgradientInterval"] if has_interval and "SubgradientInterval" not in case.flags
                                else [])
    ratio = _reference_ratio(loss, case, expected[0])
    if not ratio <= 1.0:
        raise GenerationError(f"{loss}/{case.name}: the float64 reference is {ratio:.3g} times the float64 "
                              "tolerance away from the oracle")
    stats["reference"] = max(stats["reference"], ratio)
    fd_error = _finite_difference_error(loss, case, base)
    if fd_error is not None:
        if not fd_error <= _FD_TOLERANCE:
            raise GenerationError(f"{loss}/{case.name}: finite differences differ from the oracle by {fd_error:.3g}")
        stats["finite_differences"] = max(stats["finite_differences"], fd_error)
    entry.update(flags=flags, result="acceptable" if (case.alternatives or has_interval) else "valid",
                 attributes=attributes, inputs=inputs, **cotangent, expected=expected)
    return entry


def _vector_file(loss: str, concern: str, cases: list[VectorCase]) -> dict[str, Any]:
    spec = get(loss)
    stats = {"reference": 0.0, "finite_differences": 0.0}
    by_dtypes: dict[tuple[str, ...], list[VectorCase]] = {}
    for case in cases:
        by_dtypes.setdefault(tuple(case.dtypes), []).append(case)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    tc_id = 0
    for dtypes, group_cases in by_dtypes.items():  # tcIds run 1..n in file order
        for case in group_cases:
            tc_id += 1
            groups.setdefault(dtypes, []).append(_test_entry(loss, tc_id, case, stats))
    used_flags = sorted({flag for tests in groups.values() for test in tests for flag in test["flags"]})
    used_conventions = sorted({alt for case in cases for alt in case.alternatives})
    return {
        "format": "lossvec",
        "formatVersion": FORMAT_VERSION,
        "formatMinorVersion": FORMAT_MINOR_VERSION,
        "suiteVersion": SUITE_VERSION,
        "function": {"name": loss, "family": spec.family, "kind": spec.kind, "summary": spec.summary,
                     "inputs": [i.name for i in spec.inputs],
                     "differentiable": [i.name for i in spec.inputs if i.differentiable],
                     "parameters": {p.name: ("required" if p.required else "None" if p.default is None
                                             else repr(p.default)) for p in spec.params},
                     "defaultReduction": spec.default_reduction,
                     **({"terms": list(spec.terms)} if spec.terms else {})},
        "concern": concern,
        "numberOfTests": tc_id,
        "notes": {flag: {"category": FLAGS[flag].category, "description": FLAGS[flag].description,
                         **({"effect": FLAGS[flag].effect} if FLAGS[flag].effect else {})} for flag in used_flags},
        "conventions": {name: CONVENTIONS[name] for name in used_conventions},
        "provenance": {
            "generator": {"name": "refloss", "version": refloss.__version__},
            "oracle": {"name": "mpmath", "version": mpmath.__version__, "dps": DIGITS,
                       "method": "textbook formula; derivatives by mpmath.diff (one-sided at kinks)"},
            "crossChecks": [
                {"name": "refloss-float64", "maxErrorRatio": _power_of_ten_ceiling(stats["reference"])},
                {"name": "central-differences-float64",
                 "maxRelativeError": _power_of_ten_ceiling(stats["finite_differences"])},
            ],
        },
        "testGroups": [{"groupId": f"{loss}/{concern}/{'+'.join(dtypes)}", "dtypes": list(dtypes),
                        "tolerance": {"policy": POLICY["name"]}, "tests": tests}
                       for dtypes, tests in groups.items()],
    }


def dumps(document: Any) -> bytes:
    """Canonical JSON: 1-space indented objects, lists of scalars on one line, ASCII, LF, final newline."""
    def encode(value: Any, indent: int) -> str:
        pad = " " * indent
        if isinstance(value, dict):
            if not value:
                return "{}"
            items = [f'{pad} {json.dumps(k)}: {encode(v, indent + 1)}' for k, v in value.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
            items = [f"{pad} {encode(v, indent + 1)}" for v in value]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        return json.dumps(value)
    return (encode(document, 0) + "\n").encode("ascii")


def generate(only: Iterable[str] | None = None, progress: Callable[[str], None] | None = None,
             workers: int | None = None) -> dict[str, bytes]:
    """All conformance files as {relative path: bytes}; ``only`` restricts the vector files to some losses.

    The losses' files are independent of one another, so they are computed by ``workers`` processes (default:
    one per CPU), each loss in one process, and assembled in registry order: the bytes do not depend on how many
    workers there are. ``progress`` is called with each loss's name as its files are assembled.
    """
    losses = [n for n in names(kind=None) if n in ORACLES]
    if only:
        for name in only:
            get(name)
        losses = [n for n in losses if n in set(only)]
    workers = min(len(losses), workers or os.cpu_count() or 1)
    files: dict[str, bytes] = {}
    if workers > 1:
        # spawn, not fork: the parent may hold threads (PyTorch, JAX) that a forked child would inherit mid-call
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for loss, loss_files in zip(losses, pool.map(_loss_files, losses)):
                if progress:
                    progress(loss)
                files.update(loss_files)
    else:
        for loss in losses:
            if progress:
                progress(loss)
            files.update(_loss_files(loss))
    files["schemas/lossvec_v1.schema.json"] = dumps(SCHEMA)
    for name, policy in POLICIES.items():  # old policies stay: files written under them remain readable
        files[f"tolerances/{name}.json"] = dumps(policy)
    files["MANIFEST.json"] = dumps(_manifest(files))
    return files


def _loss_files(loss: str) -> dict[str, bytes]:
    """One loss's vector files, one per concern that has cases."""
    cases = generate_cases(loss)
    files = {}
    for concern in CONCERNS:
        selected = [c for c in cases if c.concern == concern]
        if selected:
            files[f"vectors/{loss}/{concern}.json"] = dumps(_vector_file(loss, concern, selected))
    return files


def _manifest(files: dict[str, bytes]) -> dict[str, Any]:
    entries = {}
    histogram: Counter = Counter()
    total = 0
    for path, content in sorted(files.items()):
        entry: dict[str, Any] = {"sha256": hashlib.sha256(content).hexdigest()}
        if path.startswith("vectors/"):
            document = json.loads(content)
            flags = Counter(flag for group in document["testGroups"] for test in group["tests"]
                            for flag in test["flags"])
            entry.update(numberOfTests=document["numberOfTests"], flags=dict(sorted(flags.items())))
            histogram.update(flags)
            total += document["numberOfTests"]
        entries[path] = entry
    return {
        "format": "lossvec",
        "formatVersion": FORMAT_VERSION,
        "formatMinorVersion": FORMAT_MINOR_VERSION,
        "suiteVersion": SUITE_VERSION,
        "generator": {"name": "refloss", "version": refloss.__version__},
        "oracle": {"name": "mpmath", "version": mpmath.__version__, "dps": DIGITS},
        "tolerancePolicy": f"tolerances/{POLICY['name']}.json",
        "numberOfTests": total,
        "flagHistogram": dict(sorted(histogram.items())),
        "flags": {name: {"category": f.category, "description": f.description} for name, f in FLAGS.items()},
        "conventions": CONVENTIONS,
        "files": entries,
    }


def write(files: dict[str, bytes], directory: Path) -> None:
    """Write generated files below ``directory`` (vector files of losses not generated are left alone)."""
    for path, content in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
