"""Evaluate an elementwise oracle at a case's exact inputs: loss value and gradients at high precision.

Derivatives with respect to each input element come from ``mpmath.diff`` on the textbook formula (central
differences at 120 digits, with a step far below the distance to any kink and below the scale of the quantity
involved), one-sided exactly at a kink; where the one-sided derivatives differ, the expectation is their midpoint
and the interval between them is accepted. Reductions are applied exactly (``batchmean``, kl_div's sum over the
size of dim 0, included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding
from refloss.conformance.oracle.elementwise import ElementwiseOracle

__all__ = ["DIGITS", "Expectation", "Tensor", "coordinate_gaps", "evaluate", "numerical_slope",
           "sample_digits"]

DIGITS = 60  # working precision of the oracle (decimal digits)
_DIFF_DIGITS = 120
_SNAP_DIGITS = 50
_NAN_SLOPE_ZERO = "sign-of-nan-is-zero"
_EMPTY_MEAN_ZERO = "empty-mean-is-zero"


@dataclass
class Tensor:
    """An exact tensor: values, and where a gradient is ambiguous the interval [lo, hi] of accepted values."""

    shape: tuple[int, ...]
    exact: list
    lo: list | None = None
    hi: list | None = None
    scale: list | None = None  # per entry: the standard algorithm's running error bound, in units of u


@dataclass
class Expectation:
    value: Tensor
    grads: dict[str, Tensor]


def _snap(derivative: mpf) -> mpf:
    """A numerical derivative kept to 50 significant digits: its error (~1e-90 relative) is far below that, and
    snapping makes a derivative that is exactly a rounding tie (15.74609375 in float16) land on the tie."""
    if abs(derivative) < _NEGLIGIBLE:  # (nstr of e^-10000 would need a 4,343-digit integer)
        return derivative
    return mpmath.mpf(mpmath.nstr(derivative, _SNAP_DIGITS))


def numerical_slope(along: Any, at: mpf, gaps: Any = (), direction: int = 0) -> mpf:
    """``mpmath.diff`` of ``along`` at ``at`` (one-sided with ``direction``), snapped. The step is 2^-150 times the
    smaller of max(|at|, 1) and the smallest nonzero entry of ``gaps``: distances from ``at`` to where the formula
    stops being smooth, such as a p-norm's coordinate differences, near which the higher derivatives that a
    central difference's error grows with blow up (|d|^1.5 at d = 3e-45 is off by 1e-27 with a step of 1e-45).
    A smaller step gets as many more digits, so that about 75 of the derivative stay right (at 120 digits where the
    caller works at DIGITS; more where :func:`sample_digits` gave it more)."""
    size = max(abs(at), mpf(1))
    nearest = min([size] + [abs(g) for g in gaps if g != 0])
    extra = int(mpmath.ceil(mpmath.log10(size / nearest)))
    with mpmath.workdps(mpmath.mp.dps + (_DIFF_DIGITS - DIGITS) + extra):
        return _snap(mpmath.diff(along, at, h=nearest * mpf(2) ** -150, direction=direction))


def sample_digits(values: Any) -> int:
    """The working precision for one sample: DIGITS, or more where its nonzero values span so many orders of
    magnitude that DIGITS cannot hold their sums exactly (float64s carry 17 significant digits, so a span of s
    orders needs s + 17; 30 more keep the formula's own rounding below the 30 digits :func:`agree` compares). At 60
    digits 0.5 + 2.5e-89 - 0.5 is 0, and |x|^1.5's derivative there 0 instead of 7e-45."""
    sizes = [abs(v) for v in values if isinstance(v, mpf) and mpmath.isfinite(v) and v != 0]
    span = int(mpmath.ceil(mpmath.log10(max(sizes) / min(sizes)))) if sizes else 0
    return max(DIGITS, span + 17 + 30)


def coordinate_gaps(rows: dict, name: str, k: int, eps: mpf = mpf(0)) -> list:
    """The differences (with ``eps`` added either way) between entry k of ``rows[name]`` and entry k of each other
    row, exact (0.5 + 2.5e-89 - 0.5 is not 0): where they are 0, a distance's |d|^p is not smooth."""
    at = rows[name][k]
    return [mpmath.fadd(mpmath.fsub(at, row[k], exact=True), sign * eps, exact=True)
            for other, row in rows.items() if other != name and isinstance(row, list)
            and len(row) > k and isinstance(row[k], mpf) for sign in (1, -1)]


def _partials(oracle: ElementwiseOracle, x: mpf, y: mpf, p: dict, nan_slope: mpf,
              wrt: tuple[str, ...]) -> dict[str, tuple[mpf, mpf]]:
    """One-sided derivatives (left, right) of the element's loss w.r.t. its first input x ("first") and second
    input y ("second"); equal where the loss is smooth."""
    if mpmath.isnan(x) or mpmath.isnan(y) or mpmath.isnan(x - y):
        return {"first": (nan_slope, nan_slope), "second": (-nan_slope, -nan_slope)}
    if mpmath.isinf(x) or mpmath.isinf(y):
        _, dx, dy = oracle.limits(x, y, p)
        return {"first": (dx, dx), "second": (dy, dy)}
    distance = oracle.kink_distance(x, y, p)
    result = {}
    with mpmath.workdps(_DIFF_DIGITS):
        for name, value in (("first", x), ("second", y)):
            if name not in wrt:  # a label: no derivative (stepping it could leave the formula's domain)
                result[name] = (mpmath.nan, mpmath.nan)
                continue

            def along(t: mpf, name: str = name) -> mpf:
                return oracle.value(t, y, p) if name == "first" else oracle.value(x, t, p)

            if distance == 0:
                result[name] = (_snap(mpmath.diff(along, value, direction=-1)),
                                _snap(mpmath.diff(along, value, direction=1)))
                continue
            if name == "second" and oracle.label_domain and y in oracle.label_domain:  # a hard label: from inside
                scale = oracle.label_scale(x, y, p)
                # a step of 2^-150 of that scale must be resolved next to y (|y| <= 1): as many more bits
                with mpmath.workprec(mpmath.mp.prec + 150 + max(0, -int(mpmath.floor(mpmath.log(scale, 2))))):
                    slope = mpmath.diff(along, value, h=scale * mpf(2) ** -150,
                                        direction=1 if y == oracle.label_domain[0] else -1)
                result[name] = (_snap(slope), _snap(slope))
                continue
            # The scale on which the formula varies: declared by the oracle (|x - y| for a residual loss, whose
            # tiny residuals are evaluated at a precision set by |d|), else max(|value|, 1): smooth functions of a
            # logit vary on a scale of 1 near 0, and a step must stay representable next to a large input.
            scale = oracle.natural_scale(x, y, p) if oracle.natural_scale else max(abs(value), mpf(1))
            # A step far below the distance to a kink (both points on one branch) and below the scale of what the
            # formula depends on (so that a formula evaluated at a precision set by that scale resolves it).
            step = min(distance, scale if scale != 0 else mpf(1)) * mpf(2) ** -150
            slope = _snap(mpmath.diff(along, value, h=step))
            result[name] = (slope, slope)
    return result


def _element_value(oracle: ElementwiseOracle, x: mpf, y: mpf, p: dict) -> mpf:
    if mpmath.isnan(x) or mpmath.isnan(y) or mpmath.isnan(x - y):
        return mpmath.nan
    if mpmath.isinf(x) or mpmath.isinf(y):
        return oracle.limits(x, y, p)[0]
    return oracle.value(x, y, p)


def _element_bounds(oracle: ElementwiseOracle, x: mpf, y: mpf, p: dict, partials: dict) -> tuple:
    """The standard algorithm's (value, d/dx, d/dy) Bounds for one element, checked against the oracle: a
    standard algorithm that computes another value than the textbook formula is a bug in the oracle, not a
    tolerance. Where they agree, the analytic derivative replaces the numerical one in ``partials`` (which keeps
    noise of about 1e-90 where the derivative is exactly 0). Non-finite inputs give exact NaN or infinite
    expectations, which carry no error bound."""
    if not all(mpmath.isfinite(v) for v in (x, y)):
        return tuple(rounding.exact(0) for _ in range(3))
    bounds = oracle.standard(x, y, p)
    agree(bounds[0], [oracle.value(x, y, p)], "value", (x, y))
    at_kink = oracle.kink_distance(x, y, p) == 0  # (one-sided numerical derivatives: noise of 1e-124 at d = 0)
    for bound, key in zip(bounds[1:], ("first", "second")):
        if bound is not None and not at_kink and not any(mpmath.isnan(v) for v in partials[key]):
            agree(bound, partials[key], f"derivative ({key} input)", (x, y))
            partials[key] = (bound.value, bound.value)
    return bounds


_NEGLIGIBLE = mpf(10) ** -400  # far below the smallest float64 subnormal: rounds to 0 in every dtype


def agree(bound: rounding.Bound, accepted: list, what: str, where: tuple) -> None:
    """Raise ArithmeticError unless the bound's value equals one of ``accepted`` to 30 digits of the larger of
    them and the magnitude of the terms it is computed from (its error bound), up to the noise of numerical
    differentiation (steps of 2^-150 times the inputs' size leave about 1e-90 where a derivative is 0), or both
    are below any dtype's range (the oracle resolves e^-20000 as 0, which every dtype rounds it to anyway)."""
    value = bound.value
    noise = mpf(10) ** -75 * max([mpf(1)] + [abs(v) for v in where])
    if not any(abs(value - a) <= mpf(10) ** -30 * max(abs(a), abs(value), bound.err) + noise
               or max(abs(value), abs(a)) < _NEGLIGIBLE for a in accepted):
        shown = ", ".join(mpmath.nstr(v, 17) for v in where)
        raise ArithmeticError(f"the standard algorithm's {what} at ({shown}) is {mpmath.nstr(value, 20)}; the "
                              f"oracle's is {[mpmath.nstr(a, 20) for a in accepted]}")


def _per_element(params: dict[str, Any], shape: tuple[int, ...]) -> list[dict[str, mpf]]:
    """Each element's scalar parameters: scalars as they are, tensors (pos_weight) broadcast to ``shape``."""
    size = int(np.prod(shape))
    columns = {}
    for name, value in params.items():
        if isinstance(value, np.ndarray):
            columns[name] = [mpf(float(v)) for v in np.broadcast_to(value, shape).ravel()]
        else:
            columns[name] = [mpf(float(value))] * size
    return [{name: column[i] for name, column in columns.items()} for i in range(size)]


def evaluate(oracle: ElementwiseOracle, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
             cotangent: np.ndarray, conventions: tuple[str, ...] = (),
             differentiable: tuple[str, ...] | None = None) -> Expectation:
    """The exact value and gradients of the loss at the case, under ``conventions``.

    ``inputs`` maps the loss's two input names, in order (``input``/``target``, or torchvision's
    ``inputs``/``targets``), to arrays; the gradients are keyed by the same names.
    """
    with mpmath.workdps(DIGITS):
        (first_name, x_array), (second_name, y_array) = inputs.items()
        shape = x_array.shape
        weight = params.get("weight")
        w = [mpf(float(v)) for v in np.broadcast_to(weight, shape).ravel()] if weight is not None \
            else [mpf(1)] * x_array.size
        element_params = _per_element({k: v for k, v in params.items() if k != "weight"}, shape)
        nan_slope = mpf(0) if _NAN_SLOPE_ZERO in conventions else mpmath.nan
        xs = [mpf(float(v)) for v in x_array.ravel()]
        ys = [mpf(float(v)) for v in y_array.ravel()]
        terms = [wi * _element_value(oracle, x, y, p) for wi, x, y, p in zip(w, xs, ys, element_params)]
        names = (first_name, second_name)
        wrt = tuple(key for key, name in zip(("first", "second"), names) if differentiable is None
                    or name in differentiable)
        partials = [_partials(oracle, x, y, p, nan_slope, wrt) for x, y, p in zip(xs, ys, element_params)]

        bounds = [_element_bounds(oracle, x, y, p, element) for x, y, p, element in zip(xs, ys, element_params,
                                                                                     partials)]
        weights = [rounding.exact(wi) for wi in w] if weight is not None else None

        def weighted(bound: rounding.Bound, i: int) -> rounding.Bound:
            return bound * weights[i] if weights is not None else bound

        if reduction == "none":
            value = Tensor(shape, terms, scale=[weighted(b[0], i).err for i, b in enumerate(bounds)])
            factors = [mpf(float(c)) * wi for c, wi in zip(np.ravel(cotangent), w)]
            factor_bounds = [weighted(rounding.exact(mpf(float(c))), i) for i, c in enumerate(np.ravel(cotangent))]
        else:
            total = mpmath.fsum(terms) if terms else mpf(0)
            divisor = mpf(1)
            divisor_bound = rounding.exact(1)
            if reduction == "mean":
                divisor = mpmath.fsum(w) if weight is not None and oracle.mean_over_weights else mpf(x_array.size)
                divisor_bound = rounding.total(weights) if weight is not None and oracle.mean_over_weights \
                    else rounding.exact(divisor)
            if reduction == "batchmean":  # kl_div: the sum over the size of dim 0 (1 for a 0-d input), as PyTorch
                divisor = mpf(shape[0] if shape else 1)
                divisor_bound = rounding.exact(divisor)
            if divisor == 0:
                result = mpf(0) if (x_array.size == 0 and _EMPTY_MEAN_ZERO in conventions) else mpmath.nan
                value = Tensor((), [result], scale=[mpf(0)])
                factor_bounds = [rounding.exact(0)] * len(w)
            else:
                result = total / divisor
                summed = rounding.total(weighted(b[0], i) for i, b in enumerate(bounds)
                                        if mpmath.isfinite(b[0].value))
                divided = reduction in ("mean", "batchmean")
                value = Tensor((), [result], scale=[(summed / divisor_bound).err if divided else summed.err])
                share = rounding.exact(mpf(float(cotangent))) / divisor_bound if divided \
                    else rounding.exact(mpf(float(cotangent)))
                factor_bounds = [weighted(share, i) for i in range(len(w))]
            factors = [(mpf(float(cotangent)) * wi / divisor) if divisor else mpmath.nan for wi in w]

        grads = {}
        for index, (name, key) in enumerate(((first_name, "first"), (second_name, "second"))):
            exact, lows, highs, scales = [], [], [], []
            for factor, factor_bound, element, bound in zip(factors, factor_bounds, partials, bounds):
                left, right = element[key]
                a, b = factor * left, factor * right
                undefined = mpmath.isnan(a) or mpmath.isnan(b)
                lows.append(mpmath.nan if undefined else min(a, b))
                highs.append(mpmath.nan if undefined else max(a, b))
                exact.append(a if a == b or undefined else (a + b) / 2)
                partial = bound[index + 1]
                scales.append(mpf(0) if partial is None or undefined else (factor_bound * partial).err)
            ambiguous = any(e[key][0] != e[key][1] for e in partials)
            grads[name] = Tensor(shape, exact, lows if ambiguous else None, highs if ambiguous else None, scales)
        return Expectation(value, grads)
