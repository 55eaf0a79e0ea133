"""The tolerance policies: how far a result may be from the exact expectation, entry by entry.

A result ``got`` (in dtype ``t``) for an expected entry passes when

* its bits equal the expectation correctly rounded to ``t`` (``rounded[t]``), or both are NaN; or
* the expectation is finite and ``|got - exact| <= u(t) * (rel * |exact| + abs * scale) + abs * tiny(t)``,

where ``u(t)`` is the unit roundoff of ``t`` (2^-53 for float64, 2^-24 float32, 2^-11 float16, 2^-8 bfloat16),
``tiny(t)`` its smallest positive subnormal (an operation whose result underflows is off by up to half of it,
whatever its relative error; policy_v2 only) and ``rel``/``abs`` come from the policy named by the vector's group. An infinite or NaN expectation must be met
exactly (the same infinity; any NaN). Results are compared exactly in decimal arithmetic (Python's ``decimal``),
so the check itself adds no error.

``policy_v2`` (format 1.1) holds every entry to its own ``scale``: the running error bound, in units of u, of the
loss's standard algorithm for that entry (:mod:`refloss.conformance.oracle.rounding`). An entry computed without
cancellation has a bound of a few times its own magnitude, so it must be right to a few ulps; an entry formed by
terms that cancel (``sigmoid(x) - y`` with the two nearly equal, a mean of many terms) carries the magnitude of
those terms. ``policy_v1`` (format 1.0) had one ``scale`` per tensor (its largest entry), which left a small
entry next to a large one effectively unchecked; files written under it remain readable and are judged by it.
"""

from __future__ import annotations

import decimal
import math

from refloss.conformance.encoding import DTYPES, bits_to_float

__all__ = ["POLICIES", "POLICY", "allowed_error", "compare", "compare_interval", "scale_at", "ulps"]

_UNIT_ROUNDOFF = {name: f"2^-{fmt.precision}" for name, fmt in DTYPES.items()}

POLICIES = {
    "policy_v1": {
        "name": "policy_v1",
        "metric": "|got - exact| <= rel * u(dtype) * |exact| + abs * u(dtype) * scale, or bits equal to rounded[dtype]",
        "unitRoundoff": _UNIT_ROUNDOFF,
        "dtypes": {name: {"value": {"rel": 8, "abs": 32}, "gradient": {"rel": 8, "abs": 32}} for name in DTYPES},
        "reasons": {
            "rel 8": "a loss element is a handful of correctly rounded operations (subtract, abs or square, a log1p "
                     "or tanh of a few ulp), each adding at most u relative error",
            "abs 32": "sums and means of up to 32 terms: the worst-case recursive-summation error is (n - 1) u times "
                      "the sum of |terms|; for gradients, entries that cancel to almost 0",
        },
    },
    "policy_v2": {
        "name": "policy_v2",
        "metric": "|got - exact| <= u(dtype) * (rel * |exact| + abs * scale[i]) + abs * tiny(dtype), or bits equal "
                  "to rounded[dtype]; scale[i]: per entry, the running error bound of the standard algorithm in "
                  "units of u; tiny: the dtype's smallest positive subnormal",
        "smallestSubnormal": {name: f"2^-{fmt.precision - fmt.emin - 1}" for name, fmt in DTYPES.items()},
        "unitRoundoff": _UNIT_ROUNDOFF,
        "dtypes": {name: {"value": {"rel": 4, "abs": 2}, "gradient": {"rel": 4, "abs": 2}} for name in DTYPES},
        "reasons": {
            "scale": "the first-order bound of the error of the loss's standard algorithm when each operation is "
                     "rounded once (Higham, Accuracy and Stability of Numerical Algorithms, 3.3): each operation "
                     "adds |its result| and passes on its operands' bounds weighted by its partial derivatives",
            "abs 2": "an operation of a library (exp, log1p, a fused kernel) may be off by up to one ulp, 2 u, "
                     "where the bound counts u for a correctly rounded one",
            "rel 4": "reordered operations and second-order terms that the first-order bound leaves out: a few ulps "
                     "of the result itself",
            "tiny": "gradual underflow: an operation whose result is subnormal has an absolute error of up to half "
                    "the smallest subnormal, not a relative one",
        },
    },
}
POLICY = POLICIES["policy_v2"]  # what the generator writes

_CONTEXT = decimal.Context(prec=80)


def _unit_roundoff(dtype: str) -> decimal.Decimal:
    return decimal.Decimal(2) ** -DTYPES[dtype].precision


def allowed_error(exact: str, dtype: str, kind: str, scale: str, policy: str = "policy_v2") -> decimal.Decimal:
    """The largest |got - exact| that passes for a finite expectation."""
    limits = POLICIES[policy]["dtypes"][dtype][kind]
    bound = _CONTEXT.add(limits["rel"] * abs(decimal.Decimal(exact)), limits["abs"] * decimal.Decimal(scale))
    allowed = _CONTEXT.multiply(_unit_roundoff(dtype), bound)
    if policy == "policy_v1":
        return allowed
    fmt = DTYPES[dtype]
    return _CONTEXT.add(allowed, limits["abs"] * _CONTEXT.power(2, fmt.emin - fmt.precision + 1))


def ulps(error: decimal.Decimal, exact: str, dtype: str) -> float:
    """``error`` in units in the last place of ``exact`` in ``dtype`` (the spacing of the dtype's values there)."""
    fmt = DTYPES[dtype]
    value = abs(decimal.Decimal(exact))
    exponent = fmt.emin
    if value != 0:
        exponent = math.floor(_CONTEXT.divide(value.log10(_CONTEXT), decimal.Decimal(2).log10(_CONTEXT)))
        while _CONTEXT.power(2, exponent) > value:  # (log2 may round up at a power of two)
            exponent -= 1
        exponent = max(fmt.emin, exponent)
    return float(_CONTEXT.divide(error, _CONTEXT.power(2, exponent - fmt.precision + 1)))


def compare(got: float, exact: str, rounded_bits: str | None, dtype: str, kind: str, scale: str,
            policy: str = "policy_v2") -> float:
    """How far ``got`` is from ``exact`` as a fraction of the allowed error: <= 1 passes, inf is a hard fail.

    ``kind`` is ``"value"`` or ``"gradient"``; 0 means an exact match.
    """
    if exact == "nan":
        return 0.0 if math.isnan(got) else math.inf
    if math.isnan(got):
        return math.inf
    if rounded_bits is not None and bits_to_float(rounded_bits, dtype) == got:
        return 0.0
    if exact in ("inf", "-inf"):
        return 0.0 if got == float(exact) else math.inf
    if math.isinf(got):
        return math.inf
    allowed = allowed_error(exact, dtype, kind, scale, policy)
    error = abs(_CONTEXT.subtract(decimal.Decimal(got), decimal.Decimal(exact)))
    if allowed == 0:
        return 0.0 if error == 0 else math.inf
    return float(error / allowed)


def compare_interval(got: float, lo: str, hi: str, dtype: str, scale: str, policy: str = "policy_v2") -> float:
    """Like :func:`compare` for an entry whose accepted set is the interval [lo, hi] (a subgradient)."""
    if math.isnan(got):
        return math.inf
    low, high = decimal.Decimal(lo), decimal.Decimal(hi)
    value = decimal.Decimal(got)
    if low <= value <= high:
        return 0.0
    nearest = str(low if value < low else high)
    return compare(got, nearest, None, dtype, "gradient", scale, policy)


def scale_at(expected: dict, index: int) -> str:
    """The scale of entry ``index`` of an expected tensor: one per entry (policy_v2), or one for the whole tensor
    (policy_v1 files, still readable)."""
    scale = expected["scale"]
    return scale[index] if isinstance(scale, list) else scale
