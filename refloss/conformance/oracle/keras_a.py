"""mpmath oracles of Keras's Poisson, MAPE and MSLE losses and of the categorical and Crammer-Singer hinge losses,
written from Keras 3's and optax's documented formulas (keras/src/losses/losses.py, optax/losses/_classification.py),
not from the NumPy reference.

Keras's epsilon is ``backend.epsilon()`` = 1e-7 formed in the data's dtype: in float64 the float nearest to 1e-7,
which is the number used here (``mpf(1e-7)`` converts that float exactly; ``mpf("1e-7")`` would be the decimal).
"""

from __future__ import annotations

import mpmath
from mpmath import mpf

import numpy as np

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.elementwise import ElementwiseOracle
from refloss.conformance.oracle.tensor import SampleOracle

__all__ = ["ORACLES"]

EPSILON = mpf(1e-7)  # the float64 1e-7, exactly


def _sign(t: mpf) -> int:
    return (t > 0) - (t < 0)


# ---- Poisson: y_pred - y_true log(y_pred + eps) (keras.losses.poisson) --------------------------------------------

def _poisson(x: mpf, y: mpf, p: dict) -> mpf:
    return x - y * mpmath.log(x + p["eps"])


def _poisson_standard(x: mpf, y: mpf, p: dict) -> tuple:
    shifted = r.exact(x) + p["eps"]  # one rounding
    log_shifted = r.log(shifted)
    return x - y * log_shifted, 1 - y / shifted, -log_shifted


def _poisson_limits(x: mpf, y: mpf, p: dict) -> tuple:
    """IEEE evaluation of the formula at an infinite input, as Keras's: x = inf makes x - y log x = inf - inf and
    0 log inf NaN (for every y); y = +inf with finite x gives -inf log(x + eps) and a slope of -inf in x."""
    if mpmath.isinf(x):
        return mpmath.nan, (mpmath.nan if mpmath.isinf(y) else mpf(1)), -mpmath.log(x + p["eps"])
    log_shifted = mpmath.log(x + p["eps"])
    value = -y * log_shifted if log_shifted != 0 else mpmath.nan  # inf * 0 is NaN
    return value, 1 - y / (x + p["eps"]), -log_shifted


# ---- mean absolute percentage error: 100 |(y - x) / max(|y|, eps)| ------------------------------------------------

def _mape(x: mpf, y: mpf, p: dict) -> mpf:
    return 100 * abs((y - x) / max(abs(y), EPSILON))


def _mape_kink_distance(x: mpf, y: mpf, p: dict) -> mpf:
    return min(abs(x - y), abs(abs(y) - EPSILON))


def _mape_standard(x: mpf, y: mpf, p: dict) -> tuple:
    # Keras's order: y - x (one rounding), divided by the divisor (exact: |y| or eps), abs, times 100. d/dx is
    # -100 s / m; d/dy beyond eps is 100 s (x / y) / |y|, from 1 - (y - x)/y = x/y formed without cancellation.
    divisor = max(abs(y), EPSILON)
    quotient = (r.exact(y) - x) / divisor
    s = _sign(y - x)
    value = abs(quotient) * 100
    dx = r.exact(-100 * s) / divisor
    if abs(y) > EPSILON:
        dy = (r.exact(x) / y) / abs(y) * (100 * s)
    elif abs(y) < EPSILON:
        dy = r.exact(100 * s) / EPSILON
    else:
        dy = (1 + r.exact(x) / y) / (2 * EPSILON) * (100 * s)
    return value, dx, dy


def _mape_limits(x: mpf, y: mpf, p: dict) -> tuple:
    """x = +-inf with finite y: the loss is inf, d/dx the constant -100 sign(y - x) / m and d/dy its infinite
    slope (beyond eps; the constant 100 sign / eps below); y infinite: (y - x) / |y| is inf / inf, NaN."""
    if mpmath.isinf(y):
        return mpmath.nan, mpmath.nan, mpmath.nan
    divisor = max(abs(y), EPSILON)
    s = _sign(y - x)
    dy = 100 * s * x / (y * abs(y)) if abs(y) > EPSILON else mpf(100 * s) / EPSILON
    return mpmath.inf, -100 * s / divisor, dy


# ---- mean squared logarithmic error: (log(1 + max(x, eps)) - log(1 + max(y, eps)))^2 -----------------------------

def _msle(x: mpf, y: mpf, p: dict) -> mpf:
    return (mpmath.log(1 + max(x, EPSILON)) - mpmath.log(1 + max(y, EPSILON))) ** 2


def _msle_kink_distance(x: mpf, y: mpf, p: dict) -> mpf:
    return min(abs(x - EPSILON), abs(y - EPSILON))


def _floor_slope(t: mpf) -> mpf:
    return mpf(1) if t > EPSILON else (mpf(0) if t < EPSILON else mpf(1) / 2)


def _msle_standard(x: mpf, y: mpf, p: dict) -> tuple:
    # log1p of the floored values (one rounding each), their difference, its square; d/dx = 2 d / (1 + x) (x above
    # the floor), the sum 1 + x rounded once.
    fx, fy = max(x, EPSILON), max(y, EPSILON)
    d = r.log1p(fx) - r.log1p(fy)
    twice = 2 * d
    return d * d, twice / (1 + r.exact(fx)) * _floor_slope(x), -(twice / (1 + r.exact(fy))) * _floor_slope(y)


def _msle_limits(x: mpf, y: mpf, p: dict) -> tuple:
    """An infinite input: log1p(inf) = inf, so the loss is inf (NaN for inf - inf); the slope 2 d / (1 + t) is
    inf / inf = NaN in IEEE arithmetic (the framework's value; the true limit would be 0) for the infinite input,
    and -+inf for the finite one."""
    a = mpmath.inf if x == mpmath.inf else mpmath.log(1 + max(x, EPSILON))
    b = mpmath.inf if y == mpmath.inf else mpmath.log(1 + max(y, EPSILON))
    d = a - b
    if mpmath.isnan(d):
        return mpmath.nan, mpmath.nan, mpmath.nan

    def slope(t: mpf, sign: int) -> mpf:
        if t == mpmath.inf:
            return mpmath.nan
        return sign * 2 * d / (1 + max(t, EPSILON)) * _floor_slope(t)

    return d * d, slope(x, 1), slope(y, -1)


# ---- categorical hinge (keras.losses.categorical_hinge) and Crammer-Singer (optax.losses.multiclass_hinge_loss) ----

def _rows(x: np.ndarray) -> list:
    """The rows of an (N, C) or (C,) object array (the class axis is the last), in order."""
    return [list(x)] if x.ndim == 1 else [list(row) for row in x]


def _has_nan(row: list) -> bool:
    return any(mpmath.isnan(v) for v in row)


def _categorical_hinge_terms(x: np.ndarray, t: np.ndarray, params: dict) -> tuple:
    """Keras: pos = sum t x, neg = max (1 - t) x, max(neg - pos + 1, 0) per row; mean over the rows."""
    losses = []
    for row, targets in zip(_rows(x), _rows(t)):
        products = [(1 - tc) * xc for tc, xc in zip(targets, row)]
        if _has_nan(row) or _has_nan(products):  # (Python's max would drop a NaN)
            losses.append(mpmath.nan)
            continue
        positive = mpmath.fsum(tc * xc for tc, xc in zip(targets, row))
        losses.append(max(mpf(0), max(products) - positive + 1))
    return losses, x.shape[:-1], mpf(len(losses))


def _shares(values: list) -> list:
    """Each entry's share of the slope of max: 1/k for each of k tied maximisers."""
    top = max(values)
    tied = [v == top for v in values]
    return [mpf(1) / sum(tied) if tie else mpf(0) for tie in tied]


def _categorical_hinge_standard(row: list, targets: list, params: dict) -> tuple:
    # pos summed in order, each (1 - t_c) x_c rounded twice, z = (neg - pos) + 1; the slopes
    # a ((1 - t_c) s_c - t_c) and -a x_c (1 + s_c) with a = 1, 1/2 or 0 and the exact shares s_c.
    classes = len(row)
    zero = r.exact(0)
    products = [(1 - r.exact(tc)) * xc for tc, xc in zip(targets, row)]
    if _has_nan(row) or any(mpmath.isnan(p.value) for p in products):
        return zero, [zero] * classes, [zero] * classes, r.exact(1)
    positive = r.total(r.exact(tc) * xc for tc, xc in zip(targets, row))
    shares = _shares([p.value for p in products])
    negative = max(products, key=lambda p: p.value)
    z = (negative - positive) + 1
    hinge = z if z.value > 0 else r.Bound(0, z.err if z.value == 0 else 0)
    active = mpf(1) if z.value > 0 else (mpf(1) / 2 if z.value == 0 else mpf(0))
    grad_x = [((1 - r.exact(tc)) * s - tc) * active for tc, s in zip(targets, shares)]
    grad_t = [-(r.exact(xc) * (1 + s)) * active for xc, s in zip(row, shares)]
    return hinge, grad_x, grad_t, r.exact(1)


def _multiclass_hinge_terms(x: np.ndarray, labels: np.ndarray, params: dict) -> tuple:
    """optax: max_c (x_c + 1 - [c = y]) - x_y per row; mean over the rows."""
    losses = []
    for row, label in zip(_rows(x), np.ravel(labels).tolist()):
        if _has_nan(row):
            losses.append(mpmath.nan)
            continue
        losses.append(max(xc + 1 - (c == label) for c, xc in enumerate(row)) - row[label])
    return losses, x.shape[:-1], mpf(len(losses))


def _multiclass_values(row: list, label: int) -> list:
    return [r.exact(xc) + 1 if c != label else r.exact(xc) for c, xc in enumerate(row)]


def _multiclass_hinge_standard(row: list, label: int, params: dict) -> tuple:
    # v_c = x_c + 1 rounded (v_y = x_y exact), the max, minus x_y; the slopes s_c - [c = y] are exact.
    classes = len(row)
    zero = r.exact(0)
    if _has_nan(row):
        return zero, [zero] * classes, None, r.exact(1)
    values = _multiclass_values(row, label)
    shares = _shares([v.value for v in values])
    loss = max(values, key=lambda v: v.value) - row[label]
    return loss, [r.exact(s - (c == label)) for c, s in enumerate(shares)], None, r.exact(1)


def _multiclass_hinge_kink(row: list, label: int, params: dict, c: int) -> bool:
    """Entry c is at a kink when the maximum of v is tied and c is one of the tied classes."""
    values = [v.value for v in _multiclass_values(row, label)]
    top = max(values)
    tied = [k for k, v in enumerate(values) if v == top]
    return len(tied) > 1 and c in tied


ORACLES = {
    "poisson_loss": ElementwiseOracle(_poisson, _poisson_standard, limits=_poisson_limits),
    "mean_absolute_percentage_error": ElementwiseOracle(_mape, _mape_standard, kink_distance=_mape_kink_distance,
                                                        limits=_mape_limits),
    "mean_squared_logarithmic_error": ElementwiseOracle(_msle, _msle_standard, kink_distance=_msle_kink_distance,
                                                        limits=_msle_limits),
    "categorical_hinge_loss": SampleOracle(_categorical_hinge_terms, _categorical_hinge_standard,
                                           target_differentiable=True),
    "multiclass_hinge_loss": SampleOracle(_multiclass_hinge_terms, _multiclass_hinge_standard,
                                          at_kink=_multiclass_hinge_kink),
}
