"""``refloss conformance lint``: machine-checked invariants of the committed suite.

Checks: every vector file validates against the JSON Schema; test ids run 1..numberOfTests in each file; uids
are unique across the suite and equal the hash of their content; every flag used is declared with a note, and
every note is used; MANIFEST.json lists every file with its sha256, test count and flags; inputs are exactly
representable in every dtype of their group; every ``rounded[dtype]`` entry is the correctly rounded ``exact``
value; every file is in canonical form; expectation files name existing uids only; a policy_v2 group gives every
entry its own scale.

Coverage, read from the registry: every kink a loss declares has a vector with an element exactly at it (or
within one float64 ulp, for a kink that is not a float64 value, such as binary_cross_entropy's clamp at e^-100);
every input that can have a gradient has gradient expectations in some vector; every named convention is an
alternative of some vector.

:func:`allowances` reports how loose the suite is: each finite, normal-range expected entry's allowed error in
ulps of its dtype.
"""

from __future__ import annotations

import decimal
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refloss.conformance.flags import FLAGS

__all__ = ["Allowance", "allowance_summary", "allowances", "coverage_problems", "lint"]


def _vector_problems(path: str, document: dict[str, Any], validator: Any, uids: Counter) -> list[str]:
    from refloss.conformance.encoding import bits_to_float, float_to_bits, is_representable, round_to
    from refloss.conformance.generate import _uid

    import mpmath

    problems = [f"{path}: schema: {e.message} at {'/'.join(map(str, e.path))}" for e in validator.iter_errors(document)]
    if problems:
        return problems
    tests = [t for g in document["testGroups"] for t in g["tests"]]
    if [t["tcId"] for t in tests] != list(range(1, len(tests) + 1)):
        problems.append(f"{path}: tcIds are not 1..{len(tests)} in order")
    if document["numberOfTests"] != len(tests):
        problems.append(f"{path}: numberOfTests {document['numberOfTests']} but {len(tests)} tests")
    used = {flag for t in tests for flag in t["flags"]}
    for flag in used - set(FLAGS):
        problems.append(f"{path}: flag {flag!r} is not declared in refloss.conformance.flags")
    if used != set(document["notes"]):
        problems.append(f"{path}: notes {sorted(document['notes'])} do not match the flags used {sorted(used)}")
    loss = document["function"]["name"]
    for group in document["testGroups"]:
        for test in group["tests"]:
            where = f"{path}: tcId {test['tcId']}"
            uids[test["uid"]] += 1
            cotangent = test.get("cotangent")  # (absent for a function without a VJP)
            if test["uid"] != _uid(loss, test["attributes"], test["inputs"], cotangent):
                problems.append(f"{where}: uid {test['uid']} is not the hash of the test's content")
            tensors = list(test["inputs"].values()) + ([cotangent] if cotangent else []) + [
                v for k, v in test["attributes"].items()
                if k != "reduction" and "choice" not in v and "boolean" not in v]
            for tensor in tensors:
                for bits in tensor.get("bits", []):
                    value = bits_to_float(bits, "float64")
                    for dtype in group["dtypes"]:
                        if not is_representable(value, dtype):
                            problems.append(f"{where}: input {value!r} is not exact in {dtype}")
            with mpmath.workdps(60):
                for expectation in test.get("expected", []):
                    if "indices" in expectation:  # a selection's integer answer: nothing rounds
                        continue
                    for tensor in [expectation["value"], *expectation["grads"].values()]:
                        per_entry = isinstance(tensor["scale"], list)
                        if (group["tolerance"]["policy"] != "policy_v1") != per_entry or (
                                per_entry and len(tensor["scale"]) != len(tensor["exact"])):
                            problems.append(f"{where}: {group['tolerance']['policy']} needs "
                                            f"{'one scale per entry' if not per_entry else 'one scale per tensor'}")
                        for dtype in group["dtypes"]:
                            wanted = [float_to_bits(round_to(_mpf(e), dtype), dtype) for e in tensor["exact"]]
                            if tensor["rounded"][dtype] != wanted:
                                problems.append(f"{where}: rounded[{dtype}] is not exact correctly rounded")
    return problems


def _mpf(text: str) -> Any:
    import mpmath

    # Parse every digit written (faithful decimals have up to 120), and never below 80 digits: a short decimal
    # such as "8.4" is exact as written and must not be rounded to a few digits on parsing.
    with mpmath.workdps(max(len(text) + 10, 80)):
        return mpmath.mpf(text)


def lint(directory: Path) -> list[str]:
    """Every problem found in the suite at ``directory`` (an empty list means the suite is clean)."""
    try:
        import jsonschema
    except ImportError:
        return ["refloss conformance lint needs the jsonschema package: pip install 'refloss[test]'"]
    from refloss.conformance.generate import _manifest, dumps

    problems: list[str] = []
    manifest_path = directory / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_bytes())
    schema = json.loads((directory / "schemas" / "lossvec_v1.schema.json").read_bytes())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files: dict[str, bytes] = {}
    on_disk = sorted(str(p.relative_to(directory)) for p in (directory / "vectors").rglob("*.json"))
    for path in on_disk:
        if path not in manifest["files"]:
            problems.append(f"{path}: not listed in MANIFEST.json")
    uids: Counter = Counter()
    for path in manifest["files"]:
        content = (directory / path).read_bytes()
        files[path] = content
        document = json.loads(content)
        if dumps(document) != content:
            problems.append(f"{path}: not in canonical form (regenerate it)")
        if path.startswith("vectors/"):
            problems += _vector_problems(path, document, validator, uids)
    problems += [f"uid {uid} appears {n} times" for uid, n in uids.items() if n > 1]
    problems += coverage_problems(directory, manifest)
    expected_manifest = dumps(_manifest({p: c for p, c in files.items()}))
    if expected_manifest != manifest_path.read_bytes():
        problems.append("MANIFEST.json: hashes, counts or flags do not match the files")
    for path in sorted((directory / "expectations").glob("*.json")):
        for entry in json.loads(path.read_text())["deviations"]:
            if entry["uid"] not in uids:
                problems.append(f"expectations/{path.name}: uid {entry['uid']} is not in the suite (stale entry)")
            if not entry.get("reason"):
                problems.append(f"expectations/{path.name}: uid {entry['uid']} has no reason")
    return problems


# ---- coverage of the registry -----------------------------------------------------------------------------------

def coverage_problems(directory: Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """Declared kinks without a vector at them, inputs with gradients but no gradient expectations, and named
    conventions that no vector accepts."""
    from refloss._registry import get, names
    from refloss.conformance.check import load_tests
    from refloss.conformance.conventions import CONVENTIONS

    tests = [t for t in load_tests(directory, manifest=manifest) if t.data["result"] != "invalid"]
    problems = []
    for loss in names(kind=None):
        spec = get(loss)
        own = [t for t in tests if t.loss == loss]
        if not own:
            problems.append(f"{loss}: no vectors")
            continue
        for kink in spec.kinks:
            if not any(_at_kink(spec, kink, t) for t in own):
                problems.append(f"{loss}: no vector has an element at the declared kink {kink.where!r}")
        for spec_input in spec.inputs:
            if (spec_input.differentiable or spec_input.differentiable_as_probabilities) and not any(
                    spec_input.name in t.gradients for t in own):
                problems.append(f"{loss}: no vector expects a gradient of {spec_input.name!r}")
    used = {e["name"] for t in tests for e in t.data["expected"][1:]}
    problems += [f"convention {name!r} is not an alternative of any vector" for name in CONVENTIONS
                 if name not in used]
    return problems


def _at_kink(spec: Any, kink: Any, test: Any) -> bool:
    """Whether some element of ``test``'s inputs is at ``kink`` (within one float64 ulp of the first input)."""
    inputs = test.decoded_inputs()
    defaults = {p.name: p.default for p in spec.params if p.kind == "scalar" and not p.required}
    params = defaults | test.decoded_params()
    arrays = [inputs[i.name] for i in spec.inputs]
    if arrays[0].size == 0 or not np.all(np.isfinite(arrays[0])):
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        distance = np.asarray(kink.distance(*arrays, **params), dtype=np.float64)
    spacing = np.broadcast_to(np.spacing(np.abs(arrays[0])), distance.shape) if distance.shape == arrays[0].shape \
        else 0.0
    return bool(np.any(distance <= spacing))


# ---- how loose is the suite -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Allowance:
    """One expected entry's allowed error in ulps of its dtype."""

    ulps: float
    dtype: str
    loss: str
    test: str
    where: str


def allowances(directory: Path) -> list[Allowance]:
    """The allowed error, in ulps, of every finite, nonzero, normal-range expected entry of every dtype (entries
    with a subgradient interval are left out: there any value in the interval passes)."""
    from refloss.conformance.check import load_tests
    from refloss.conformance.encoding import DTYPES
    from refloss.conformance.tolerance import allowed_error, scale_at, ulps

    result = []
    for test in load_tests(directory):
        for expectation in test.data.get("expected", [])[:1]:
            if "indices" in expectation:  # exact integers: no allowance
                continue
            tensors = [("value", "value", expectation["value"])] + [
                (f"grad {name}", "gradient", tensor) for name, tensor in expectation["grads"].items()]
            for label, kind, tensor in tensors:
                for i, exact in enumerate(tensor["exact"]):
                    if exact in ("nan", "inf", "-inf", "0") or "interval" in tensor:
                        continue
                    for dtype in test.dtypes:
                        fmt = DTYPES[dtype]
                        if abs(decimal.Decimal(exact)) < decimal.Decimal(2) ** fmt.emin or \
                                abs(decimal.Decimal(exact)) >= decimal.Decimal(2) ** (fmt.emax + 1):
                            continue
                        allowed = allowed_error(exact, dtype, kind, scale_at(tensor, i), test.policy)
                        result.append(Allowance(ulps(allowed, exact, dtype), dtype, test.loss,
                                                f"{test.uid} ({test.data['name']})", f"{label} entry {i}"))
    return result


def allowance_summary(entries: list[Allowance]) -> str:
    """One paragraph on how loose the suite is: the median, the share within 16 ulps, the count above 1,000 and
    the largest allowance with the entry it belongs to."""
    if not entries:
        return "allowances: no finite, normal-range expected entries"
    ordered = sorted(entries, key=lambda a: a.ulps)
    median = ordered[len(ordered) // 2].ulps
    within = sum(a.ulps <= 16 for a in ordered) / len(ordered)
    loose = sum(a.ulps > 1000 for a in ordered)
    top = ordered[-1]
    return (f"allowances of {len(ordered)} normal-range expected entries (dtype by dtype): median {median:.3g} ulps, "
            f"{within:.0%} at most 16 ulps, {loose} above 1,000 ulps (entries that cancel in the standard "
            f"algorithm); the largest {top.ulps:.3g} ulps: {top.loss} {top.test} {top.where} [{top.dtype}]")
