"""Mutants of Keras's Poisson, MAPE and MSLE losses and of the categorical and Crammer-Singer hinge losses.

Each function is a whole forward or VJP with one bug, marked ``# the bug``; the rest is right.
"""

from __future__ import annotations

import numpy as np

from ._base import Mutant
from ._port import cotangent, pair, positive, reduce

EPSILON = 1e-7


def _elementwise_vjp(slopes, grad_output, input, target, reduction):
    """(g * d/dx, g * d/dy) with the right cotangent; ``slopes(x, y)`` returns the two partial derivatives."""
    x, y = pair(input, target, reduction)
    g = cotangent(grad_output, x.shape, reduction)
    dx, dy = slopes(x, y)
    return g * dx, g * dy


# ---- poisson_loss -----------------------------------------------------------------------------------------------

def _poisson_without_eps(input, target, *, eps=EPSILON, reduction="mean"):
    x, y = pair(input, target, reduction)
    positive(eps, "eps", allow_zero=True)
    return reduce(x - y * np.log(x), reduction)  # the bug: Keras's docstring formula, without its eps


def _poisson_torch_eps(input, target, *, eps=1e-8, reduction="mean"):  # the bug: PyTorch's default eps
    x, y = pair(input, target, reduction)
    positive(eps, "eps", allow_zero=True)
    return reduce(x - y * np.log(x + eps), reduction)


def _poisson_vjp_target_sign(grad_output, input, target, *, eps=EPSILON, reduction="mean"):
    positive(eps, "eps", allow_zero=True)
    return _elementwise_vjp(lambda x, y: (1 - y / (x + eps), np.log(x + eps)),  # the bug: +log, not -log
                            grad_output, input, target, reduction)


def _poisson_vjp_eps_forgotten(grad_output, input, target, *, eps=EPSILON, reduction="mean"):
    positive(eps, "eps", allow_zero=True)
    return _elementwise_vjp(lambda x, y: (1 - y / x, -np.log(x + eps)),  # the bug: the slope forgets eps
                            grad_output, input, target, reduction)


# ---- mean_absolute_percentage_error -----------------------------------------------------------------------------

def _mape(divisor_of, input, target, reduction, scale=100.0):
    x, y = pair(input, target, reduction)
    return reduce(scale * np.abs((y - x) / divisor_of(x, y)), reduction)


def _mape_signed_floor(input, target, *, reduction="mean"):
    return _mape(lambda x, y: np.maximum(y, EPSILON), input, target, reduction)  # the bug: max(y, eps), no |y|


def _mape_over_prediction(input, target, *, reduction="mean"):
    return _mape(lambda x, y: np.maximum(np.abs(x), EPSILON), input, target, reduction)  # the bug: divides by |x|


def _mape_fraction(input, target, *, reduction="mean"):
    return _mape(lambda x, y: np.maximum(np.abs(y), EPSILON), input, target, reduction, scale=1.0)  # the bug


def _mape_vjp_constant_divisor(grad_output, input, target, *, reduction="mean"):
    def slopes(x, y):
        m = np.maximum(np.abs(y), EPSILON)
        s = np.sign((y - x) / m)
        return -100 * s / m, 100 * s / m  # the bug: d/dy treats the divisor |y| as a constant
    return _elementwise_vjp(slopes, grad_output, input, target, reduction)


# ---- mean_squared_logarithmic_error -----------------------------------------------------------------------------

def _msle_log_one_plus(input, target, *, reduction="mean"):
    x, y = pair(input, target, reduction)
    a = np.log(1 + np.maximum(x, EPSILON))  # the bug: log(1 + t) as Keras writes it, not log1p(t)
    b = np.log(1 + np.maximum(y, EPSILON))
    return reduce((a - b) ** 2, reduction)


def _msle_no_floor(input, target, *, reduction="mean"):
    x, y = pair(input, target, reduction)
    return reduce((np.log1p(x) - np.log1p(y)) ** 2, reduction)  # the bug: no floor at eps (NaN below -1)


def _msle_vjp_without_two(grad_output, input, target, *, reduction="mean"):
    def slopes(x, y):
        fx, fy = np.maximum(x, EPSILON), np.maximum(y, EPSILON)
        d = np.log1p(fx) - np.log1p(fy)  # the bug: the 2 of d(d^2) is missing
        return d / (1 + fx) * (x >= EPSILON), -d / (1 + fy) * (y >= EPSILON)
    return _elementwise_vjp(slopes, grad_output, input, target, reduction)


def _msle_vjp_straight_through(grad_output, input, target, *, reduction="mean"):
    def slopes(x, y):
        fx, fy = np.maximum(x, EPSILON), np.maximum(y, EPSILON)
        twice = 2 * (np.log1p(fx) - np.log1p(fy))
        return twice / (1 + fx), -twice / (1 + fy)  # the bug: a gradient flows through the floor
    return _elementwise_vjp(slopes, grad_output, input, target, reduction)


MUTANTS = [
    Mutant("poisson_without_eps", "poisson_loss", _poisson_without_eps, None,
           "y_pred - y_true log(y_pred), the formula of Keras's docstring without its eps: -inf slopes at 0",
           "clamp"),
    Mutant("poisson_torch_eps", "poisson_loss", _poisson_torch_eps, None,
           "PyTorch poisson_nll_loss's eps = 1e-8 taken for Keras's 1e-7", "default"),
    Mutant("poisson_vjp_target_sign", "poisson_loss", None, _poisson_vjp_target_sign,
           "the target's slope as +log(x + eps)", "gradient"),
    Mutant("poisson_vjp_eps_forgotten", "poisson_loss", None, _poisson_vjp_eps_forgotten,
           "the input's slope as 1 - y / x, the eps of the forward left out of the backward", "clamp"),
    Mutant("mape_signed_floor", "mean_absolute_percentage_error", _mape_signed_floor, None,
           "the divisor max(y, eps) as the Keras docs word it: negative targets divided by 1e-7", "clamp"),
    Mutant("mape_over_prediction", "mean_absolute_percentage_error", _mape_over_prediction, None,
           "the error taken relative to the prediction instead of the target", "formula"),
    Mutant("mape_fraction", "mean_absolute_percentage_error", _mape_fraction, None,
           "a fraction instead of a percentage (the factor 100 left out)", "formula"),
    Mutant("mape_vjp_constant_divisor", "mean_absolute_percentage_error", None, _mape_vjp_constant_divisor,
           "the target's slope with the divisor |y| held constant", "gradient"),
    Mutant("msle_log_one_plus", "mean_squared_logarithmic_error", _msle_log_one_plus, None,
           "log(1 + t) instead of log1p(t): 2e-10 relative off at t = 1e-6", "precision"),
    Mutant("msle_no_floor", "mean_squared_logarithmic_error", _msle_no_floor, None,
           "log1p of the raw values, without Keras's floor at 1e-7: NaN for values below -1", "clamp"),
    Mutant("msle_vjp_without_two", "mean_squared_logarithmic_error", None, _msle_vjp_without_two,
           "the factor 2 of the square's derivative left out", "gradient"),
    Mutant("msle_vjp_straight_through", "mean_squared_logarithmic_error", None, _msle_vjp_straight_through,
           "a slope through the floor max(t, eps) where the floor holds (a straight-through clamp)", "clamp"),
]
