"""Mutants of the regression losses, functions of the residual d = input - target.

Each function is a whole forward or VJP with one bug, marked ``# the bug``; the rest is right.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Mutant
from ._port import as_float, check_reduction, cotangent, elementwise_weight, pair, positive, reduce, unbroadcast

LOG2 = math.log(2.0)


def _residual_vjp(slope, grad_output, input, target, reduction, weight=None, mean_over_weights=False):
    """(g * slope(d), -g * slope(d)): the chain rule every regression VJP shares (right in every mutant)."""
    x, y = pair(input, target, reduction)
    weight = elementwise_weight(weight, x.shape)
    grad = cotangent(grad_output, x.shape, reduction, weight, mean_over_weights) * slope(x - y)
    return grad, -grad


# ---- l1_loss (a weighted mean divides by the weight sum) -------------------------------------------------------

def _l1_one_element_off(input, target, *, reduction="mean", weight=None):
    x, y = pair(input, target, reduction)
    weight = elementwise_weight(weight, x.shape)
    loss = np.abs(x - y)
    if loss.size:
        loss.flat[0] *= 1 + 1e-6  # the bug: the first lane is a millionth off
    return reduce(loss, reduction, weight, mean_over_weights=True)


def _l1_flushing_subnormals(input, target, *, reduction="mean", weight=None):
    x, y = pair(input, target, reduction)
    d = np.abs(x - y)
    d = np.where(d < np.finfo(np.float64).tiny, 0.0, d)  # the bug: flush-to-zero (-ffast-math, DAZ/FTZ)
    return reduce(d, reduction, elementwise_weight(weight, x.shape), mean_over_weights=True)


def _l1_vjp_ignoring_grad_output(grad_output, input, target, *, reduction="mean", weight=None):
    ones = np.ones(np.shape(grad_output))  # the bug: the cotangent is taken as 1
    return _residual_vjp(np.sign, ones, input, target, reduction, weight, mean_over_weights=True)


def _l1_weighted_mean_over_count(input, target, *, reduction="mean", weight=None):
    x, y = pair(input, target, reduction)
    weight = elementwise_weight(weight, x.shape)
    return reduce(np.abs(x - y), reduction, weight, mean_over_weights=False)  # the bug: divides by N, not sum(w)


def _l1_vjp_d_over_abs_d(grad_output, input, target, *, reduction="mean", weight=None):
    return _residual_vjp(lambda d: d / np.abs(d), grad_output, input, target, reduction, weight,  # the bug: 0/0
                         mean_over_weights=True)


def _l1_vjp_without_weight(grad_output, input, target, *, reduction="mean", weight=None):
    x, y = pair(input, target, reduction)
    weight = elementwise_weight(weight, x.shape)
    # the bug: divides by the weight sum, but never multiplies each element's cotangent by its weight
    g = cotangent(grad_output, x.shape, reduction)
    if weight is not None and reduction == "mean":
        g = g * x.size / np.sum(weight)
    grad = g * np.sign(x - y)
    return grad, -grad


# ---- mse_loss (a weighted mean divides by the weight sum) ------------------------------------------------------

def _mse_vjp_without_the_factor_two(grad_output, input, target, *, reduction="mean", weight=None):
    return _residual_vjp(lambda d: d, grad_output, input, target, reduction, weight,  # the bug: d, not 2 d
                         mean_over_weights=True)


def _mse_forward_broadcasts(input, target, *, reduction="mean", weight=None):
    x, y = np.broadcast_arrays(as_float(input, "input"), as_float(target, "target"))  # the bug: (N,1), (N,) -> (N,N)
    check_reduction(reduction)
    return reduce((x - y) ** 2, reduction, elementwise_weight(weight, x.shape), mean_over_weights=True)


def _mse_vjp_broadcasts(grad_output, input, target, *, reduction="mean", weight=None):
    x, y = as_float(input, "input"), as_float(target, "target")
    bx, by = np.broadcast_arrays(x, y)  # the bug, as in the forward: PyTorch only warns
    check_reduction(reduction)
    weight = elementwise_weight(weight, bx.shape)
    grad = cotangent(grad_output, bx.shape, reduction, weight, mean_over_weights=True) * 2 * (bx - by)
    return unbroadcast(grad, x.shape), unbroadcast(-grad, y.shape)


def _mse_expanded_square(input, target, *, reduction="mean", weight=None):
    x, y = pair(input, target, reduction)
    loss = x * x - 2 * x * y + y * y  # the bug: (x - y)^2 expanded, which cancels where x is close to y
    return reduce(loss, reduction, elementwise_weight(weight, x.shape), mean_over_weights=True)


def _mse_float32_accumulator(input, target, *, reduction="mean", weight=None):
    x, y = pair(input, target, reduction)
    weight = elementwise_weight(weight, x.shape)
    loss = (x - y) ** 2 * (1 if weight is None else weight)
    if reduction == "none":
        return loss
    total = np.sum(loss, dtype=np.float32)  # the bug: a float accumulator (a GPU kernel's) for double inputs
    return np.float64(total) / np.float64(loss.size if weight is None else np.sum(weight)) if reduction == "mean" \
        else np.float64(total)


def _mse_default_sum(input, target, *, reduction="sum", weight=None):  # the bug: the default reduction
    x, y = pair(input, target, reduction)
    return reduce((x - y) ** 2, reduction, elementwise_weight(weight, x.shape), mean_over_weights=True)


def _mse_vjp_default_sum(grad_output, input, target, *, reduction="sum", weight=None):  # the bug, as above
    return _residual_vjp(lambda d: 2 * d, grad_output, input, target, reduction, weight, mean_over_weights=True)


def _mse_weighted_mean_over_count(input, target, *, reduction="mean", weight=None):
    x, y = pair(input, target, reduction)
    weight = elementwise_weight(weight, x.shape)
    return reduce((x - y) ** 2, reduction, weight, mean_over_weights=False)  # the bug: divides by N, not sum(w)


def _mse_vjp_without_weight_check(grad_output, input, target, *, reduction="mean", weight=None):
    x, y = pair(input, target, reduction)
    weight = None if weight is None else as_float(weight, "weight")  # the bug: its sign is never checked
    grad = cotangent(grad_output, x.shape, reduction, weight, mean_over_weights=True) * 2 * (x - y)
    return grad, -grad


# ---- smooth_l1_loss ---------------------------------------------------------------------------------------------

def _smooth_l1_branch_at_twice_beta(input, target, *, reduction="mean", beta=1.0):
    beta = positive(beta, "beta", allow_zero=True)
    x, y = pair(input, target, reduction)
    d = x - y
    return reduce(np.where(np.abs(d) < 2 * beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta),  # the bug: 2 beta
                  reduction)


def _smooth_l1_vjp_divides_by_zero_beta(grad_output, input, target, *, reduction="mean", beta=1.0):
    beta = positive(beta, "beta", allow_zero=True)
    # the bug: <= sends d = 0 with beta = 0 to d / beta = 0/0 (PyTorch's CUDA kernel gave NaN before PR #97022)
    return _residual_vjp(lambda d: np.where(np.abs(d) <= beta, d / beta, np.sign(d)), grad_output, input, target,
                         reduction)


def _smooth_l1_one_ninth(input, target, *, reduction="mean", beta=1.0 / 9):  # the bug: the default beta
    beta = positive(beta, "beta", allow_zero=True)
    x, y = pair(input, target, reduction)
    d = x - y
    return reduce(np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta), reduction)


def _smooth_l1_vjp_one_ninth(grad_output, input, target, *, reduction="mean", beta=1.0 / 9):  # the bug, as above
    beta = positive(beta, "beta", allow_zero=True)
    return _residual_vjp(lambda d: np.where(np.abs(d) < beta, d / beta, np.sign(d)), grad_output, input, target,
                         reduction)


def _smooth_l1_vjp_without_one_over_beta(grad_output, input, target, *, reduction="mean", beta=1.0):
    beta = positive(beta, "beta", allow_zero=True)
    return _residual_vjp(lambda d: np.where(np.abs(d) < beta, d, np.sign(d)), grad_output, input, target,  # the bug
                         reduction)


def _smooth_l1_as_huber(input, target, *, reduction="mean", beta=1.0):
    beta = positive(beta, "beta", allow_zero=True)
    x, y = pair(input, target, reduction)
    d = x - y
    # the bug: Huber's formula with delta = beta, which is beta times smooth L1
    return reduce(np.where(np.abs(d) < beta, 0.5 * d * d, beta * (np.abs(d) - 0.5 * beta)), reduction)


def _smooth_l1_vjp_accepting_negative_beta(grad_output, input, target, *, reduction="mean", beta=1.0):
    beta = float(beta)  # the bug: no check that beta >= 0 (the forward has it)
    slope = (lambda d: np.sign(d)) if beta <= 0 else (lambda d: np.where(np.abs(d) < beta, d / beta, np.sign(d)))
    return _residual_vjp(slope, grad_output, input, target, reduction)


# ---- huber_loss (a weighted mean divides by the element count, as PyTorch) ------------------------------------

def _huber_value(d, delta):
    return np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))


def _huber_mean_computed_as_sum(input, target, *, reduction="mean", delta=1.0, weight=None):
    delta = positive(delta, "delta")
    x, y = pair(input, target, reduction)
    weight = elementwise_weight(weight, x.shape)
    return reduce(_huber_value(x - y, delta), "sum" if reduction == "mean" else reduction, weight)  # the bug


def _huber_weighted_mean_over_weight_sum(input, target, *, reduction="mean", delta=1.0, weight=None):
    delta = positive(delta, "delta")
    x, y = pair(input, target, reduction)
    weight = elementwise_weight(weight, x.shape)
    return reduce(_huber_value(x - y, delta), reduction, weight, mean_over_weights=True)  # the bug: l1's rule


def _huber_vjp_clipped_at_one(grad_output, input, target, *, reduction="mean", delta=1.0, weight=None):
    positive(delta, "delta")
    return _residual_vjp(lambda d: np.clip(d, -1.0, 1.0), grad_output, input, target, reduction,  # the bug
                         weight)


def _huber_linear_zone_half_delta(input, target, *, reduction="mean", delta=1.0, weight=None):
    delta = positive(delta, "delta")
    x, y = pair(input, target, reduction)
    d = np.abs(x - y)
    loss = np.where(d < delta, 0.5 * d * d, delta * d - 0.5 * delta)  # the bug: 0.5 delta, not 0.5 delta^2
    return reduce(loss, reduction, elementwise_weight(weight, x.shape))


def _huber_forward_accepting_zero_delta(input, target, *, reduction="mean", delta=1.0, weight=None):
    delta = positive(delta, "delta", allow_zero=True)  # the bug: delta = 0 accepted (as Keras does)
    x, y = pair(input, target, reduction)
    return reduce(_huber_value(x - y, delta), reduction, elementwise_weight(weight, x.shape))


# ---- log_cosh_loss ----------------------------------------------------------------------------------------------

def _log_cosh_naive(input, target, *, reduction="mean"):
    x, y = pair(input, target, reduction)
    return reduce(np.log(np.cosh(x - y)), reduction)  # the bug: cosh overflows beyond 710, cancels near 0


def _log_cosh_softplus_form(input, target, *, reduction="mean"):
    x, y = pair(input, target, reduction)
    d = x - y
    # the bug: Keras's d + softplus(-2 d) - log 2 everywhere; for small d the terms cancel to rounding noise
    return reduce(d + np.maximum(-2 * d, 0.0) + np.log1p(np.exp(-np.abs(2 * d))) - LOG2, reduction)


def _log_cosh_vjp_sinh_over_cosh(grad_output, input, target, *, reduction="mean"):
    return _residual_vjp(lambda d: np.sinh(d) / np.cosh(d), grad_output, input, target, reduction)  # the bug: inf/inf


def _log_cosh_vjp_target_sign(grad_output, input, target, *, reduction="mean"):
    grad, _ = _residual_vjp(np.tanh, grad_output, input, target, reduction)
    return grad, grad  # the bug: d/dy log cosh(x - y) = -tanh(d)


def _log_cosh_default_none(input, target, *, reduction="none"):  # the bug: optax's elementwise default
    x, y = pair(input, target, reduction)
    d = np.abs(x - y)
    return reduce(np.where(d < 1, np.log1p(2 * np.sinh(0.5 * d) ** 2), d + np.log1p(np.exp(-2 * d)) - LOG2),
                  reduction)


def _log_cosh_vjp_default_none(grad_output, input, target, *, reduction="none"):  # the bug, as above
    return _residual_vjp(np.tanh, grad_output, input, target, reduction)


# ---- balanced_l1_loss (mmdetection's parameters: alpha 0.5, gamma 1.5, beta 1) ----------------------------------

def _balanced_l1_params(alpha, gamma, beta):
    return positive(alpha, "alpha"), positive(gamma, "gamma"), positive(beta, "beta")


def _balanced_l1_slope(d, alpha, gamma, beta, b):
    u = np.abs(d)
    inner = alpha * np.log1p(b * u / beta) + alpha * (1 - beta) / (b * u + beta)
    return np.sign(d) * np.where(u < beta, inner, gamma)


def _balanced_l1_mmdet_direct(input, target, *, reduction="mean", alpha=0.5, gamma=1.5, beta=1.0):
    alpha, gamma, beta = _balanced_l1_params(alpha, gamma, beta)
    x, y = pair(input, target, reduction)
    u = np.abs(x - y)
    b = np.e ** (gamma / alpha) - 1
    # the bug: mmdetection's formula verbatim; (b u + 1) log(b u / beta + 1) - b u cancels for small u
    loss = np.where(u < beta, alpha / b * (b * u + 1) * np.log(b * u / beta + 1) - alpha * u,
                    gamma * u + gamma / b - alpha * beta)
    return reduce(loss, reduction)


def _balanced_l1_vjp_b_without_minus_one(grad_output, input, target, *, reduction="mean", alpha=0.5, gamma=1.5,
                                         beta=1.0):
    alpha, gamma, beta = _balanced_l1_params(alpha, gamma, beta)
    b = math.exp(gamma / alpha)  # the bug: b = e^(gamma/alpha) - 1 makes the slope continuous at u = beta
    return _residual_vjp(lambda d: _balanced_l1_slope(d, alpha, gamma, beta, b), grad_output, input, target,
                         reduction)


def _balanced_l1_vjp_without_sign(grad_output, input, target, *, reduction="mean", alpha=0.5, gamma=1.5, beta=1.0):
    alpha, gamma, beta = _balanced_l1_params(alpha, gamma, beta)
    b = math.expm1(gamma / alpha)
    # the bug: the slope of |d| taken as the slope in d (no sign(d))
    return _residual_vjp(lambda d: np.abs(_balanced_l1_slope(d, alpha, gamma, beta, b)), grad_output, input,
                         target, reduction)


def _balanced_l1_vjp_paper_slope(grad_output, input, target, *, reduction="mean", alpha=0.5, gamma=1.5, beta=1.0):
    alpha, gamma, beta = _balanced_l1_params(alpha, gamma, beta)
    b = math.expm1(gamma / alpha)

    def slope(d):
        u = np.abs(d)
        # the bug: the paper's slope alpha log(b u + 1) (beta = 1) with b u / beta substituted; mmdetection's
        # beta inside the logarithm adds alpha (1 - beta) / (b u + beta)
        return np.sign(d) * np.where(u < beta, alpha * np.log1p(b * u / beta), gamma)
    return _residual_vjp(slope, grad_output, input, target, reduction)


def _balanced_l1_vjp_accepting_zero_beta(grad_output, input, target, *, reduction="mean", alpha=0.5, gamma=1.5,
                                         beta=1.0):
    alpha, gamma = positive(alpha, "alpha"), positive(gamma, "gamma")
    beta = float(beta)  # the bug: beta is not checked (the forward checks it)
    b = math.expm1(gamma / alpha)
    return _residual_vjp(lambda d: _balanced_l1_slope(d, alpha, gamma, beta, b), grad_output, input, target,
                         reduction)


MUTANTS = [
    # l1_loss
    Mutant("one_element_off_by_one_part_in_a_million", "l1_loss", _l1_one_element_off, None,
           "the first element is 1e-6 relative off (a peeled first iteration with a cruder formula)", "precision"),
    Mutant("l1_flushes_subnormals_to_zero", "l1_loss", _l1_flushing_subnormals, None,
           "built with -ffast-math (flush-to-zero): a subnormal residual such as 2.5e-310 gives loss 0",
           "precision"),
    Mutant("vjp_ignores_grad_output", "l1_loss", None, _l1_vjp_ignoring_grad_output,
           "the backward assumes grad_output is 1 (right only for loss.backward() on a scalar)", "cotangent"),
    Mutant("l1_weighted_mean_over_count", "l1_loss", _l1_weighted_mean_over_count, None,
           "a weighted mean divided by N instead of sum(w) (PyTorch's huber rule applied to l1)", "denominator"),
    Mutant("l1_gradient_d_over_abs_d", "l1_loss", None, _l1_vjp_d_over_abs_d,
           "the derivative of |d| written d / |d|: NaN at d = 0 instead of sign(0) = 0", "branch"),
    Mutant("l1_vjp_drops_the_weight", "l1_loss", None, _l1_vjp_without_weight,
           "the hand-written backward divides by sum(w) but never multiplies by each element's weight", "gradient"),
    # mse_loss
    Mutant("gradient_missing_factor_two", "mse_loss", None, _mse_vjp_without_the_factor_two,
           "the derivative of d^2 taken as d (the 2 lost, as in optax's l2_loss = d^2 / 2)", "gradient"),
    Mutant("broadcasts_instead_of_raising", "mse_loss", _mse_forward_broadcasts, None,
           "the forward broadcasts (N, 1) against (N,) into (N, N) (the VJP does check the shapes)", "broadcasting"),
    Mutant("mse_broadcasts_like_torch", "mse_loss", _mse_forward_broadcasts, _mse_vjp_broadcasts,
           "forward and backward broadcast (N, 1) against (N,), as torch.nn.functional.mse_loss does with a "
           "warning", "broadcasting"),
    Mutant("mse_expanded_square", "mse_loss", _mse_expanded_square, None,
           "(x - y)^2 computed as x^2 - 2xy + y^2 (a fused-distance kernel): cancels where x is close to y",
           "precision"),
    Mutant("mse_float32_accumulator", "mse_loss", _mse_float32_accumulator, None,
           "'sum' and 'mean' accumulated in float32 (a GPU reduction kernel's accumulator) for float64 inputs",
           "precision"),
    Mutant("mse_default_reduction_sum", "mse_loss", _mse_default_sum, _mse_vjp_default_sum,
           "default reduction 'sum' (the old size_average=False) instead of PyTorch's 'mean'", "default"),
    Mutant("mse_weighted_mean_over_count", "mse_loss", _mse_weighted_mean_over_count, None,
           "a weighted mean divided by N instead of sum(w)", "denominator"),
    Mutant("mse_vjp_skips_weight_check", "mse_loss", None, _mse_vjp_without_weight_check,
           "the backward accepts a negative weight (only the forward validates it)", "validation"),
    # smooth_l1_loss
    Mutant("smooth_l1_branch_at_wrong_place", "smooth_l1_loss", _smooth_l1_branch_at_twice_beta, None,
           "the quadratic zone ends at |d| = 2 beta instead of beta", "branch"),
    Mutant("smooth_l1_nan_gradient_at_beta_zero", "smooth_l1_loss", None, _smooth_l1_vjp_divides_by_zero_beta,
           "|d| <= beta sends d = 0 with beta = 0 to 0/0 = NaN (PyTorch CUDA before PR #97022)", "branch"),
    Mutant("smooth_l1_default_beta_one_ninth", "smooth_l1_loss", _smooth_l1_one_ninth, _smooth_l1_vjp_one_ninth,
           "default beta 1/9 (maskrcnn-benchmark's and Detectron's box loss) instead of 1.0", "default"),
    Mutant("smooth_l1_vjp_missing_one_over_beta", "smooth_l1_loss", None, _smooth_l1_vjp_without_one_over_beta,
           "the quadratic zone's gradient taken as d instead of d / beta", "gradient"),
    Mutant("smooth_l1_is_huber", "smooth_l1_loss", _smooth_l1_as_huber, None,
           "Huber's formula with delta = beta used for smooth L1 (beta times too large for beta != 1)",
           "convention"),
    Mutant("smooth_l1_vjp_accepts_negative_beta", "smooth_l1_loss", None, _smooth_l1_vjp_accepting_negative_beta,
           "the backward accepts beta < 0 (only the forward validates it)", "validation"),
    # huber_loss
    Mutant("mean_computed_as_sum", "huber_loss", _huber_mean_computed_as_sum, None,
           "reduction 'mean' returns the sum", "denominator"),
    Mutant("huber_weighted_mean_over_weight_sum", "huber_loss", _huber_weighted_mean_over_weight_sum, None,
           "a weighted mean divided by sum(w) (l1/mse's rule) instead of N as PyTorch's huber_loss does",
           "denominator"),
    Mutant("huber_gradient_clipped_at_one", "huber_loss", None, _huber_vjp_clipped_at_one,
           "the gradient clipped to [-1, 1] (smooth L1's) instead of [-delta, delta]", "gradient"),
    Mutant("huber_linear_zone_half_delta", "huber_loss", _huber_linear_zone_half_delta, None,
           "the linear zone written delta |d| - delta / 2 instead of delta (|d| - delta / 2)", "formula"),
    Mutant("huber_forward_accepts_zero_delta", "huber_loss", _huber_forward_accepting_zero_delta, None,
           "the forward accepts delta = 0 as Keras does, the backward rejects it as PyTorch", "validation"),
    # log_cosh_loss
    Mutant("missing_stable_form", "log_cosh_loss", _log_cosh_naive, None,
           "log(cosh(d)) as written: cosh overflows for |d| > 710 and rounds to 1 for tiny d", "overflow"),
    Mutant("log_cosh_softplus_form_everywhere", "log_cosh_loss", _log_cosh_softplus_form, None,
           "Keras's d + softplus(-2d) - log 2 for every d: for small d the result is rounding noise", "precision"),
    Mutant("log_cosh_gradient_sinh_over_cosh", "log_cosh_loss", None, _log_cosh_vjp_sinh_over_cosh,
           "tanh(d) computed as sinh(d) / cosh(d): inf / inf = NaN for |d| > 710", "overflow"),
    Mutant("log_cosh_target_gradient_sign", "log_cosh_loss", None, _log_cosh_vjp_target_sign,
           "the target's gradient given the input's sign", "gradient"),
    Mutant("log_cosh_default_reduction_none", "log_cosh_loss", _log_cosh_default_none, _log_cosh_vjp_default_none,
           "default reduction 'none' (optax's elementwise log_cosh) instead of 'mean'", "default"),
    # balanced_l1_loss
    Mutant("balanced_l1_mmdet_direct_form", "balanced_l1_loss", _balanced_l1_mmdet_direct, None,
           "mmdetection's inner-zone formula verbatim: cancels for residuals far below beta", "precision"),
    Mutant("balanced_l1_b_without_minus_one", "balanced_l1_loss", None, _balanced_l1_vjp_b_without_minus_one,
           "b = e^(gamma/alpha) instead of e^(gamma/alpha) - 1 in the gradient", "formula"),
    Mutant("balanced_l1_gradient_without_sign", "balanced_l1_loss", None, _balanced_l1_vjp_without_sign,
           "the gradient of the loss in |d| returned as its gradient in d (sign(d) forgotten)", "gradient"),
    Mutant("balanced_l1_paper_gradient_for_any_beta", "balanced_l1_loss", None, _balanced_l1_vjp_paper_slope,
           "the paper's inner slope alpha log(b u / beta + 1), exact only for beta = 1, kept for mmdetection's "
           "beta", "formula"),
    Mutant("balanced_l1_vjp_accepts_zero_beta", "balanced_l1_loss", None, _balanced_l1_vjp_accepting_zero_beta,
           "the backward accepts beta = 0 (only the forward validates it)", "validation"),
]
