"""The tolerance policy: how far a result may be from the exact expectation, per dtype and output kind.

A result ``got`` (in dtype ``t``) for an expected entry passes when

* its bits equal the expectation correctly rounded to ``t`` (``rounded[t]``), or both are NaN; or
* the expectation is finite and ``|got - exact| <= rel * u(t) * |exact| + abs * u(t) * scale``,

where ``u(t)`` is the unit roundoff of ``t`` (2^-53 for float64, 2^-24 float32, 2^-11 float16, 2^-8 bfloat16),
``scale`` is recorded with each expected tensor (the largest |entry| of an elementwise tensor; the sum of the
|terms| divided by the mean's divisor for a reduced value), and ``rel``/``abs`` come from the policy below. An
infinite or NaN expectation must be met exactly (same infinity; any NaN).

The relative part covers a few roundings per element; the absolute part covers summation (the classic bound is
(n - 1) u sum |terms|) and entries that cancel to nearly 0 (the gradient of balanced L1 near d = 0).
Results are compared exactly in decimal arithmetic (Python's ``decimal``), so the check itself adds no error.
"""

from __future__ import annotations

import decimal
import math

from refloss.conformance.encoding import DTYPES, bits_to_float

__all__ = ["POLICY", "compare"]

POLICY = {
    "name": "policy_v1",
    "metric": "|got - exact| <= rel * u(dtype) * |exact| + abs * u(dtype) * scale, or bits equal to rounded[dtype]",
    "unitRoundoff": {name: f"2^-{fmt.precision}" for name, fmt in DTYPES.items()},
    "dtypes": {
        name: {"value": {"rel": 8, "abs": 32}, "gradient": {"rel": 8, "abs": 32}}
        for name in DTYPES
    },
    "reasons": {
        "rel 8": "a loss element is a handful of correctly rounded operations (subtract, abs or square, a log1p "
                 "or tanh of a few ulp), each adding at most u relative error",
        "abs 32": "sums and means of up to 32 terms: the worst-case recursive-summation error is (n - 1) u times "
                  "the sum of |terms|; for gradients, entries that cancel to almost 0",
    },
}

_CONTEXT = decimal.Context(prec=80)


def compare(got: float, exact: str, rounded_bits: str | None, dtype: str, kind: str, scale: str) -> float:
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
    limits = POLICY["dtypes"][dtype][kind]
    u = decimal.Decimal(2) ** -DTYPES[dtype].precision
    exact_value = decimal.Decimal(exact)
    bound = _CONTEXT.add(limits["rel"] * abs(exact_value), limits["abs"] * decimal.Decimal(scale))
    allowed = _CONTEXT.multiply(u, bound)
    error = abs(_CONTEXT.subtract(decimal.Decimal(got), exact_value))
    if allowed == 0:
        return 0.0 if error == 0 else math.inf
    return float(error / allowed)


def compare_interval(got: float, lo: str, hi: str, dtype: str, scale: str) -> float:
    """Like :func:`compare` for an entry whose accepted set is the interval [lo, hi] (a subgradient)."""
    if math.isnan(got):
        return math.inf
    low, high = decimal.Decimal(lo), decimal.Decimal(hi)
    value = decimal.Decimal(got)
    if low <= value <= high:
        return 0.0
    nearest = str(low if value < low else high)
    return compare(got, nearest, None, dtype, "gradient", scale)



def scale_at(expected: dict, index: int) -> str:
    """The scale of entry ``index`` of an expected tensor: one per entry (policy_v2), or one for the whole tensor
    (policy_v1 files, still readable)."""
    scale = expected["scale"]
    return scale[index] if isinstance(scale, list) else scale
