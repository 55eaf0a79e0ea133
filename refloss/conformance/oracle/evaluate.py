"""Evaluate an elementwise oracle at a case's exact inputs: loss value and gradients at high precision.

Derivatives come from ``mpmath.diff`` on the textbook formula (central differences at a step far below the
distance to any kink, at 120 digits), one-sided at the oracle's declared kinks; where the one-sided derivatives
differ, the expectation is their midpoint and the interval between them is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle.regression import ElementwiseOracle

__all__ = ["DIGITS", "Expectation", "evaluate"]

DIGITS = 60  # working precision of the oracle (decimal digits)
_DIFF_DIGITS = 120
_SNAP_DIGITS = 50


@dataclass
class Tensor:
    """An exact tensor: values, and where a gradient is ambiguous the interval [lo, hi] of accepted values."""

    shape: tuple[int, ...]
    exact: list
    lo: list | None = None
    hi: list | None = None
    scale: Any = None  # magnitude that sets the absolute part of the tolerance


@dataclass
class Expectation:
    value: Tensor
    grads: dict[str, Tensor]


def _slope(oracle: ElementwiseOracle, d: mpf, params: dict, nan_slope: mpf) -> tuple[mpf, mpf]:
    """The one-sided derivatives (left, right) of l at d; equal where l is differentiable."""
    if mpmath.isnan(d):
        return nan_slope, nan_slope
    if mpmath.isinf(d):
        limit = oracle.slope_at_infinity(params)
        return (limit, limit) if d > 0 else (-limit, -limit)
    kinks = oracle.kinks(params)

    def f(t: mpf) -> mpf:
        return oracle.value(t, params)

    with mpmath.workdps(_DIFF_DIGITS):
        if d in kinks:
            return _snap(mpmath.diff(f, d, direction=-1)), _snap(mpmath.diff(f, d, direction=1))
        # A step far below both |d| (so that the textbook form, evaluated at a precision set by |d|, resolves
        # the difference) and the distance to the nearest kink (so that both points lie on the same branch).
        distance = min([abs(d - k) for k in kinks] + [abs(d) if d != 0 else mpf(1)])
        step = distance * mpf(2) ** -150
        slope = _snap(mpmath.diff(f, d, h=step))
        return slope, slope


def _snap(derivative: mpf) -> mpf:
    """A numerical derivative kept to 50 significant digits: its error (~1e-90 relative) is far below that, and
    snapping makes a derivative that is exactly a rounding tie (15.74609375 in float16) land on the tie."""
    return mpmath.mpf(mpmath.nstr(derivative, _SNAP_DIGITS))


def _mpf(x: float) -> mpf:
    return mpf(float(x))


def evaluate(oracle: ElementwiseOracle, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
             cotangent: np.ndarray, conventions: tuple[str, ...] = ()) -> Expectation:
    """The exact value and gradients (w.r.t. input and target) of the loss at the case, under ``conventions``."""
    with mpmath.workdps(DIGITS):
        x, y = inputs["input"], inputs["target"]
        shape = x.shape
        scalar_params = {k: _mpf(v) for k, v in params.items() if k != "weight"}
        weight = params.get("weight")
        w = [_mpf(v) for v in weight.ravel()] if weight is not None else [mpf(1)] * x.size
        nan_slope = mpf(0) if "sign-of-nan-is-zero" in conventions else mpmath.nan
        d = [_mpf(a) - _mpf(b) for a, b in zip(x.ravel(), y.ravel())]
        terms = [wi * oracle.value(di, scalar_params) if not mpmath.isnan(di) else mpmath.nan
                 for wi, di in zip(w, d)]
        slopes = [_slope(oracle, di, scalar_params, nan_slope) for di in d]

        if reduction == "none":
            value = Tensor(shape, terms, scale=max([abs(t) for t in terms if mpmath.isfinite(t)], default=mpf(0)))
            factors = [_mpf(c) * wi for c, wi in zip(np.ravel(cotangent), w)]
        else:
            total = mpmath.fsum(terms) if terms else mpf(0)
            divisor = mpf(1)
            if reduction == "mean":
                divisor = mpmath.fsum(w) if weight is not None and oracle.weighted_mean_over_weights else mpf(x.size)
            if divisor == 0:
                result = mpf(0) if (x.size == 0 and "empty-mean-is-zero" in conventions) else mpmath.nan
            else:
                result = total / divisor
            sum_abs = mpmath.fsum(abs(t) for t in terms if mpmath.isfinite(t)) if terms else mpf(0)
            value = Tensor((), [result], scale=sum_abs / divisor if divisor else mpf(0))
            factors = [(_mpf(cotangent) * wi / divisor) if divisor else mpmath.nan for wi in w]

        grads_x_lo, grads_x_hi, grads_x = [], [], []
        for factor, (left, right) in zip(factors, slopes):
            a, b = factor * left, factor * right
            grads_x_lo.append(min(a, b) if not (mpmath.isnan(a) or mpmath.isnan(b)) else mpmath.nan)
            grads_x_hi.append(max(a, b) if not (mpmath.isnan(a) or mpmath.isnan(b)) else mpmath.nan)
            grads_x.append((a + b) / 2 if a != b else a)
        ambiguous = any(left != right for left, right in slopes)
        grad_scale = max([abs(g) for g in grads_x if mpmath.isfinite(g)], default=mpf(0))
        grad_input = Tensor(shape, grads_x, grads_x_lo if ambiguous else None, grads_x_hi if ambiguous else None,
                            grad_scale)
        grad_target = Tensor(shape, [-g for g in grads_x], [-h for h in grads_x_hi] if ambiguous else None,
                             [-lo for lo in grads_x_lo] if ambiguous else None, grad_scale)
        return Expectation(value, {"input": grad_input, "target": grad_target})
