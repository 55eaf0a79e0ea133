"""Mutants of Keras's Poisson, MAPE and MSLE losses and of the categorical and Crammer-Singer hinge losses.

Each function is a whole forward or VJP with one bug, marked ``# the bug``; the rest is right.
"""

from __future__ import annotations

import numpy as np

from ._base import Mutant
from ._port import as_float, check_reduction, class_indices, cotangent, pair, positive, reduce

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


# ---- categorical_hinge_loss and multiclass_hinge_loss (one loss per row, classes on the last axis) ---------------

def _rows(input, reduction):
    x = as_float(input, "input")
    check_reduction(reduction)
    if x.ndim not in (1, 2):
        raise ValueError(f"input must have shape (N, C) or (C,), got {x.shape}")
    return x


def _categorical(input, target, reduction):
    x, t = pair(input, target, reduction)
    _rows(x, reduction)
    return x, t


def _first_maximiser(values):
    """A one-hot row at the first maximiser (what argmax-based kernels use instead of sharing a tie)."""
    return (np.arange(values.shape[-1]) == np.argmax(values, axis=-1)[..., None]).astype(float)


def _shares(values):
    at_top = (values == np.max(values, axis=-1, keepdims=True)).astype(float)
    return at_top / np.sum(at_top, axis=-1, keepdims=True)


def _categorical_hinge_vjp(grad_output, input, target, reduction, share_of=_shares, active_at_zero=0.5,
                           target_gradient=True):
    x, t = _categorical(input, target, reduction)
    g = np.expand_dims(cotangent(grad_output, x.shape[:-1], reduction), -1)
    others = (1 - t) * x
    z = 1 + np.max(others, axis=-1, keepdims=True) - np.sum(t * x, axis=-1, keepdims=True)
    active = np.where(z > 0, 1.0, np.where(z < 0, 0.0, active_at_zero))
    share = share_of(others)
    grad_t = g * active * -(x * (1 + share)) if target_gradient else np.zeros_like(t)
    return g * active * ((1 - t) * share - t), grad_t


def _categorical_hinge_max_over_others(input, target, *, reduction="mean"):
    x, t = _categorical(input, target, reduction)
    others = np.max(np.where(t == 1, -np.inf, x), axis=-1)  # the bug: the target's own 0 is left out of the max
    return reduce(np.maximum(0, 1 + others - np.sum(t * x, axis=-1)), reduction)


def _categorical_hinge_vjp_strict_margin(grad_output, input, target, *, reduction="mean"):
    return _categorical_hinge_vjp(grad_output, input, target, reduction, active_at_zero=0.0)  # the bug: z > 0


def _categorical_hinge_vjp_first_maximiser(grad_output, input, target, *, reduction="mean"):
    return _categorical_hinge_vjp(grad_output, input, target, reduction, share_of=_first_maximiser)  # the bug


def _categorical_hinge_vjp_no_target_gradient(grad_output, input, target, *, reduction="mean"):
    return _categorical_hinge_vjp(grad_output, input, target, reduction, target_gradient=False)  # the bug


def _multiclass(input, target, reduction):
    x = _rows(input, reduction)
    labels = class_indices(target, x.shape, x.ndim - 1)
    return x, (labels[..., None] == np.arange(x.shape[-1])).astype(float)


def _multiclass_hinge_weston_watkins(input, target, *, reduction="mean"):
    x, one_hot = _multiclass(input, target, reduction)
    target_score = np.sum(one_hot * x, axis=-1, keepdims=True)
    violations = np.maximum(0, 1 + x - target_score) * (1 - one_hot)
    return reduce(np.sum(violations, axis=-1), reduction)  # the bug: a sum over the classes, not the largest


def _multiclass_hinge_margin_on_target(input, target, *, reduction="mean"):
    x, one_hot = _multiclass(input, target, reduction)
    # the bug: 1 is added to every class, the target's own too, so the loss is never below 1
    return reduce(np.max(x + 1, axis=-1) - np.sum(one_hot * x, axis=-1), reduction)


def _multiclass_hinge_mean_over_classes(input, target, *, reduction="mean"):
    x, one_hot = _multiclass(input, target, reduction)
    loss = np.max(x + 1 - one_hot, axis=-1) - np.sum(one_hot * x, axis=-1)
    if reduction == "mean":
        return np.sum(loss) / x.size  # the bug: divides by N C, the elements, not by the N samples
    return reduce(loss, reduction)


def _multiclass_hinge_vjp_ignoring_grad_output(grad_output, input, target, *, reduction="mean"):
    x, one_hot = _multiclass(input, target, reduction)
    g = np.expand_dims(cotangent(np.ones(np.shape(grad_output)), x.shape[:-1], reduction), -1)  # the bug: g = 1
    return g * (_shares(x + 1 - one_hot) - one_hot), None


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
    Mutant("categorical_hinge_max_over_others", "categorical_hinge_loss", _categorical_hinge_max_over_others, None,
           "the textbook max over the other classes, not Keras's max over (1 - t) x that sees the target's 0",
           "convention"),
    Mutant("categorical_hinge_vjp_strict_margin", "categorical_hinge_loss", None,
           _categorical_hinge_vjp_strict_margin, "no slope at the margin z = 0 (PyTorch's z > 0) where JAX gives "
           "half", "branch"),
    Mutant("categorical_hinge_vjp_first_maximiser", "categorical_hinge_loss", None,
           _categorical_hinge_vjp_first_maximiser, "the whole slope of a tied max to the first maximiser (argmax) "
           "instead of an equal share", "branch"),
    Mutant("categorical_hinge_vjp_no_target_gradient", "categorical_hinge_loss", None,
           _categorical_hinge_vjp_no_target_gradient, "the target rows treated as constants (zero gradient)",
           "gradient"),
    Mutant("multiclass_hinge_weston_watkins", "multiclass_hinge_loss", _multiclass_hinge_weston_watkins, None,
           "Weston-Watkins's sum over the violating classes instead of Crammer-Singer's largest one", "formula"),
    Mutant("multiclass_hinge_margin_on_target", "multiclass_hinge_loss", _multiclass_hinge_margin_on_target, None,
           "the margin 1 added to the target's own score too", "formula"),
    Mutant("multiclass_hinge_mean_over_classes", "multiclass_hinge_loss", _multiclass_hinge_mean_over_classes,
           None, "mean divides by N C instead of the N samples", "denominator"),
    Mutant("multiclass_hinge_vjp_ignoring_grad_output", "multiclass_hinge_loss", None,
           _multiclass_hinge_vjp_ignoring_grad_output, "the cotangent grad_output taken as 1", "cotangent"),
]
