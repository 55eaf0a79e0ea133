"""Mutants of the binary classification losses: the binary cross-entropies, sigmoid focal loss and the hinges.

Each function is a whole forward or VJP with one bug, marked ``# the bug``; the rest is right. Where a VJP's
bug is in one of its two outputs, the other comes from refloss (the part that is right).
"""

from __future__ import annotations

import numpy as np

import refloss

from ._base import Mutant
from ._port import (as_float, broadcast_weight, check_reduction, cotangent, hinge_labels, pair, positive, reduce,
                    sigmoid_pair, softplus, unbroadcast, unit_interval)

LOG_FLOOR = -100.0  # PyTorch clamps each log term of binary_cross_entropy at -100


# ---- binary_cross_entropy (probabilities; logs clamped at -100; a weighted mean divides by N) ------------------

def _probabilities(input, target, reduction, weight=None, check_input=True):
    p, y = pair(input, target, reduction)
    if check_input:
        unit_interval(p, "input")
    unit_interval(y, "target")
    return p, y, broadcast_weight(weight, "weight", p.shape)


def _bce_log_one_minus_p(input, target, *, reduction="mean", weight=None):
    p, y, weight = _probabilities(input, target, reduction, weight)
    log_q = np.maximum(np.log(1 - p), LOG_FLOOR)  # the bug: log(1 - p) for log1p(-p); 1 - p rounds for tiny p
    return reduce(-(y * np.maximum(np.log(p), LOG_FLOOR) + (1 - y) * log_q), reduction, weight)


def _bce_clipping_p(input, target, *, reduction="mean", weight=None):
    p, y, weight = _probabilities(input, target, reduction, weight)
    c = np.clip(p, 1e-12, 1 - 1e-12)  # the bug: p clipped (backward's 1e-12 moved to the forward), logs unclamped
    return reduce(-(y * np.log(c) + (1 - y) * np.log1p(-c)), reduction, weight)


def _bce_weighted_mean_over_weight_sum(input, target, *, reduction="mean", weight=None):
    p, y, weight = _probabilities(input, target, reduction, weight)
    loss = -(y * np.maximum(np.log(p), LOG_FLOOR) + (1 - y) * np.maximum(np.log1p(-p), LOG_FLOOR))
    return reduce(loss, reduction, weight, mean_over_weights=True)  # the bug: divides by sum(w), not N


def _bce_fmax_clamp(input, target, *, reduction="mean", weight=None):
    p, y, weight = _probabilities(input, target, reduction, weight)
    # the bug: the clamp as std::max(-100.f, log(p)) or np.fmax, which returns -100 for a NaN log
    loss = -(y * np.fmax(LOG_FLOOR, np.log(p)) + (1 - y) * np.fmax(LOG_FLOOR, np.log1p(-p)))
    return reduce(loss, reduction, weight)


def _bce_vjp_target_sign(grad_output, input, target, *, reduction="mean", weight=None):
    grad_input, _ = refloss.binary_cross_entropy_vjp(grad_output, input, target, reduction=reduction, weight=weight)
    p, _, weight = _probabilities(input, target, reduction, weight)
    g = cotangent(grad_output, p.shape, reduction, weight)
    # the bug: d/dy of -(y log p + (1 - y) log(1 - p)) is -(log p - log(1 - p)); the minus is lost
    return grad_input, g * (np.maximum(np.log(p), LOG_FLOOR) - np.maximum(np.log1p(-p), LOG_FLOOR))


def _bce_forward_without_range_check(input, target, *, reduction="mean", weight=None):
    p, y, weight = _probabilities(input, target, reduction, weight, check_input=False)  # the bug
    loss = -(y * np.maximum(np.log(p), LOG_FLOOR) + (1 - y) * np.maximum(np.log1p(-p), LOG_FLOOR))
    return reduce(loss, reduction, weight)


# ---- binary_cross_entropy_keras (p clipped to [epsilon, 1 - epsilon]) ------------------------------------------

def _keras_epsilon(epsilon):
    epsilon = float(epsilon)
    if not 0 < epsilon < 0.5:
        raise ValueError(f"epsilon must be in (0, 0.5), got {epsilon!r}")
    return epsilon


def _keras_epsilon_inside_the_log(input, target, *, reduction="mean", epsilon=1e-7):
    epsilon = _keras_epsilon(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    # the bug: log(p + eps) and log(1 - p + eps) instead of the logs of p clipped to [eps, 1 - eps]
    return reduce(-(y * np.log(p + epsilon) + (1 - y) * np.log(1 - p + epsilon)), reduction)


def _keras_vjp_through_the_clip(grad_output, input, target, *, reduction="mean", epsilon=1e-7):
    epsilon = _keras_epsilon(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    c = np.clip(p, epsilon, 1 - epsilon)
    g = cotangent(grad_output, p.shape, reduction)
    # the bug: the slope at the clipped p everywhere (a straight-through clip); beyond the clip it is 0
    return g * (c - y) / (c * (1 - c)), -g * (np.log(c) - np.log1p(-c))


def _keras_sklearn_epsilon(input, target, *, reduction="mean", epsilon=1e-15):  # the bug: sklearn's log_loss eps
    epsilon = _keras_epsilon(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    c = np.clip(p, epsilon, 1 - epsilon)
    return reduce(-(y * np.log(c) + (1 - y) * np.log1p(-c)), reduction)


def _keras_vjp_sklearn_epsilon(grad_output, input, target, *, reduction="mean", epsilon=1e-15):  # the bug
    return refloss.binary_cross_entropy_keras_vjp(grad_output, input, target, reduction=reduction, epsilon=epsilon)


def _keras_log_one_minus_p(input, target, *, reduction="mean", epsilon=1e-7):
    epsilon = _keras_epsilon(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    c = np.clip(p, epsilon, 1 - epsilon)
    return reduce(-(y * np.log(c) + (1 - y) * np.log(1 - c)), reduction)  # the bug: log(1 - c) for log1p(-c)


def _keras_vjp_any_epsilon(grad_output, input, target, *, reduction="mean", epsilon=1e-7):
    epsilon = float(epsilon)  # the bug: not checked (the forward checks it)
    p, y, _ = _probabilities(input, target, reduction)
    c = np.clip(p, epsilon, 1 - epsilon)
    g = cotangent(grad_output, p.shape, reduction)
    inside = (p >= epsilon) & (p <= 1 - epsilon)
    slope = np.where(np.isnan(p), np.nan, np.where(inside, (c - y) / (c * (1 - c)), 0.0))
    return g * slope, -g * (np.log(c) - np.log1p(-c))


# ---- binary_cross_entropy_keras_fp32 and _tf_keras (the Keras clips with float32 constants) -----------------

def _float32_bounds(epsilon):
    epsilon = _keras_epsilon(epsilon)
    return float(np.float32(epsilon)), float(np.float32(1.0 - epsilon))


def _keras32_float64_bounds(input, target, *, reduction="mean", epsilon=1e-7):
    p, y, _ = _probabilities(input, target, reduction)
    c = np.clip(p, _keras_epsilon(epsilon), 1 - epsilon)  # the bug: the float64 bounds (Keras on float64 tensors)
    return reduce(-(y * np.log(c) + (1 - y) * np.log1p(-c)), reduction)


def _keras32_lower_clip_only(input, target, *, reduction="mean", epsilon=1e-7):
    low, _ = _float32_bounds(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    c = np.maximum(p, low)  # the bug: only the lower bound (log(1 - c) is -inf at p = 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return reduce(-(y * np.log(c) + (1 - y) * np.log1p(-c)), reduction)


def _keras32_vjp_through_the_clip(grad_output, input, target, *, reduction="mean", epsilon=1e-7):
    low, high = _float32_bounds(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    c = np.clip(p, low, high)
    g = cotangent(grad_output, p.shape, reduction)
    # the bug: the slope at the clipped p everywhere (a straight-through clip); beyond the clip it is 0
    return g * (c - y) / (c * (1 - c)), -g * (np.log(c) - np.log1p(-c))


def _tf_keras_bounds(epsilon):
    low = np.float32(_keras_epsilon(epsilon))
    return float(low), float(np.float32(1.0) - low)


def _tf_keras_without_the_shift(input, target, *, reduction="mean", epsilon=1e-7):
    low, high = _tf_keras_bounds(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    c = np.clip(p, low, high)
    return reduce(-(y * np.log(c) + (1 - y) * np.log1p(-c)), reduction)  # the bug: no + epsilon in the logs


def _tf_keras_shift_without_the_clip(input, target, *, reduction="mean", epsilon=1e-7):
    s, _ = _tf_keras_bounds(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    # the bug: log(p + eps) and log(1 - p + eps) without clipping p first (tf-keras clips, then shifts)
    return reduce(-(y * np.log(p + s) + (1 - y) * np.log1p(s - p)), reduction)


def _tf_keras_vjp_unshifted_slope(grad_output, input, target, *, reduction="mean", epsilon=1e-7):
    low, high = _tf_keras_bounds(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    c = np.clip(p, low, high)
    g = cotangent(grad_output, p.shape, reduction)
    inside = (p >= low) & (p <= high)
    slope = np.where(np.isnan(p), np.nan, np.where(inside, (c - y) / (c * (1 - c)), 0.0))  # the bug: no + eps
    return g * slope, -g * (np.log(c + low) - np.log1p(low - c))


def _tf_keras_float64_constants(input, target, *, reduction="mean", epsilon=1e-7):
    epsilon = _keras_epsilon(epsilon)
    p, y, _ = _probabilities(input, target, reduction)
    c = np.clip(p, epsilon, 1 - epsilon)  # the bug: tf-keras's float64 constants (a float64 model) for float32's
    return reduce(-(y * np.log(c + epsilon) + (1 - y) * np.log1p(epsilon - c)), reduction)


# ---- binary_cross_entropy_with_logits (a weighted mean divides by N) --------------------------------------------

def _logits(input, target, reduction, weight, pos_weight):
    x, y = pair(input, target, reduction)
    unit_interval(y, "target")
    return x, y, broadcast_weight(weight, "weight", x.shape), broadcast_weight(pos_weight, "pos_weight", x.shape)


def _with_logits(x, y, pos_weight, softplus_of):
    positive = y * softplus_of(-x)
    return (positive if pos_weight is None else positive * pos_weight) + (1 - y) * softplus_of(x)


def _bce_naive_log_sigmoid(input, target, *, reduction="mean", weight=None, pos_weight=None):
    x, y, weight, pos_weight = _logits(input, target, reduction, weight, pos_weight)
    sigma = 1 / (1 + np.exp(-x))
    # the bug: log(sigmoid(x)) and log(1 - sigmoid(x)), not softplus: 0 * log(0) = NaN for saturated logits
    loss = -(y * np.log(sigma) * (1 if pos_weight is None else pos_weight) + (1 - y) * np.log(1 - sigma))
    return reduce(loss, reduction, weight)


def _bce_logits_vjp_target_sign(grad_output, input, target, *, reduction="mean", weight=None, pos_weight=None):
    grad_input, _ = refloss.binary_cross_entropy_with_logits_vjp(grad_output, input, target, reduction=reduction,
                                                                 weight=weight, pos_weight=pos_weight)
    x, _, weight, pos_weight = _logits(input, target, reduction, weight, pos_weight)
    g = cotangent(grad_output, x.shape, reduction, weight)
    w = 1 if pos_weight is None else pos_weight
    return grad_input, -g * (w * softplus(-x) - softplus(x))  # the bug: the sign of d/dy


def _bce_logits_log_not_log1p(input, target, *, reduction="mean", weight=None, pos_weight=None):
    x, y, weight, pos_weight = _logits(input, target, reduction, weight, pos_weight)
    # the bug: max(z, 0) + log(1 + exp(-|z|)): 1 + e^-|z| rounds, so a small loss loses its digits
    loss = _with_logits(x, y, pos_weight, lambda z: np.maximum(z, 0) + np.log(1 + np.exp(-np.abs(z))))
    return reduce(loss, reduction, weight)


def _bce_logits_pos_weight_on_negatives(input, target, *, reduction="mean", weight=None, pos_weight=None):
    x, y, weight, pos_weight = _logits(input, target, reduction, weight, pos_weight)
    negative = (1 - y) * softplus(x)
    loss = y * softplus(-x) + (negative if pos_weight is None else pos_weight * negative)  # the bug: wrong term
    return reduce(loss, reduction, weight)


def _bce_logits_weighted_mean_over_weight_sum(input, target, *, reduction="mean", weight=None, pos_weight=None):
    x, y, weight, pos_weight = _logits(input, target, reduction, weight, pos_weight)
    return reduce(_with_logits(x, y, pos_weight, softplus), reduction, weight, mean_over_weights=True)  # the bug


def _bce_logits_vjp_one_minus_sigmoid(grad_output, input, target, *, reduction="mean", weight=None,
                                      pos_weight=None):
    x, y, weight, pos_weight = _logits(input, target, reduction, weight, pos_weight)
    g = cotangent(grad_output, x.shape, reduction, weight)
    sigma, _ = sigmoid_pair(x)
    w = 1 if pos_weight is None else pos_weight
    grad_input = g * ((1 - y) * sigma - w * y * (1 - sigma))  # the bug: 1 - sigma(x) cancels for large x
    return grad_input, g * (w * softplus(-x) - softplus(x))


# ---- sigmoid_focal_loss (torchvision: alpha 0.25, gamma 2, reduction 'none') ------------------------------------

def _focal_inputs(inputs, targets, reduction, alpha, gamma, check_targets=True):
    x, y = pair(inputs, targets, reduction)
    if check_targets:
        unit_interval(y, "targets")
    gamma = positive(gamma, "gamma", allow_zero=True)
    if alpha is None or alpha < 0:  # torchvision's alpha = -1 disables the weighting
        return x, y, 1.0, gamma
    if alpha > 1:
        raise ValueError(f"alpha must be <= 1, got {alpha!r}")
    return x, y, alpha * y + (1 - alpha) * (1 - y), gamma


def _focal_value(x, y, alpha_t, gamma):
    ce = y * softplus(-x) + (1 - y) * softplus(x)
    p, one_minus_p = sigmoid_pair(x)
    return alpha_t * (p * (1 - y) + one_minus_p * y) ** gamma * ce


def _focal_slope(x, y, alpha_t, gamma):
    """d loss / dx, without cancellation (refloss's (F4))."""
    ce = y * softplus(-x) + (1 - y) * softplus(x)
    p, one_minus_p = sigmoid_pair(x)
    q = p * (1 - y) + one_minus_p * y
    ratio = np.where(q > 0, p * one_minus_p / np.where(q > 0, q, 1.0), 1.0)
    return alpha_t * q ** gamma * (p * (1 - y) - one_minus_p * y - gamma * (2 * y - 1) * ratio * ce)


def _focal_target_slope(x, y, alpha, gamma, focal_factor_constant=False, alpha_constant=False):
    """d loss / dy (refloss's (F5)); the keywords switch on one bug each."""
    weighted = alpha is not None and alpha >= 0
    alpha_t = alpha * y + (1 - alpha) * (1 - y) if weighted else 1.0
    ce = y * softplus(-x) + (1 - y) * softplus(x)
    p, one_minus_p = sigmoid_pair(x)
    q = p * (1 - y) + one_minus_p * y
    ce_over_q = np.where(q > 0, ce / np.where(q > 0, q, 1.0), 0.0)
    alpha_slope = 0.0 if alpha_constant or not weighted else 2 * alpha - 1
    focal_slope = 0.0 if focal_factor_constant else gamma * (one_minus_p - p) * ce_over_q
    return q ** gamma * (alpha_slope * ce + alpha_t * (focal_slope - x))


def _focal_grads(grad_output, x, y, alpha, alpha_t, gamma, reduction, slope=None, target_slope=None):
    """(g * d/dx, g * d/dy): refloss's slopes unless a mutant passes its own."""
    g = cotangent(grad_output, x.shape, reduction)
    slope = _focal_slope(x, y, alpha_t, gamma) if slope is None else slope
    return g * slope, g * (_focal_target_slope(x, y, alpha, gamma) if target_slope is None else target_slope)


def _focal_naive_chain_rule(grad_output, inputs, targets, *, reduction="none", alpha=0.25, gamma=2.0):
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    p = 1 / (1 + np.exp(-x))
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    q = 1 - (p * y + (1 - p) * (1 - y))
    # the bug: gamma q^(gamma - 1) dq/dx as written: inf * 0 = NaN where q rounds to 0, and log(0) for ce
    grad = alpha_t * (gamma * q ** (gamma - 1) * -(2 * y - 1) * p * (1 - p) * ce + q ** gamma * (p - y))
    return _focal_grads(grad_output, x, y, alpha, alpha_t, gamma, reduction, slope=grad)


def _focal_torchvision_one_minus_p_t(inputs, targets, *, reduction="none", alpha=0.25, gamma=2.0):
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    p = sigmoid_pair(x)[0]
    p_t = p * y + (1 - p) * (1 - y)
    # the bug: torchvision's (1 - p_t) ** gamma: 1 - sigmoid(40) is 0, not 4.2e-18
    return reduce(alpha_t * (1 - p_t) ** gamma * (y * softplus(-x) + (1 - y) * softplus(x)), reduction)


def _focal_alpha_half(inputs, targets, *, reduction="none", alpha=0.5, gamma=2.0):  # the bug: default alpha
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    return reduce(_focal_value(x, y, alpha_t, gamma), reduction)


def _focal_vjp_alpha_half(grad_output, inputs, targets, *, reduction="none", alpha=0.5, gamma=2.0):  # the bug
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    return _focal_grads(grad_output, x, y, alpha, alpha_t, gamma, reduction)


def _focal_mean_default(inputs, targets, *, reduction="mean", alpha=0.25, gamma=2.0):  # the bug: mmdet's default
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    return reduce(_focal_value(x, y, alpha_t, gamma), reduction)


def _focal_vjp_mean_default(grad_output, inputs, targets, *, reduction="mean", alpha=0.25, gamma=2.0):  # the bug
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    return _focal_grads(grad_output, x, y, alpha, alpha_t, gamma, reduction)


def _focal_negative_alpha_kept(inputs, targets, *, reduction="none", alpha=0.25, gamma=2.0):
    x, y, _, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    alpha_t = 1.0 if alpha is None else alpha * y + (1 - alpha) * (1 - y)  # the bug: alpha = -1 not a switch-off
    return reduce(_focal_value(x, y, alpha_t, gamma), reduction)


def _focal_vjp_without_target_check(grad_output, inputs, targets, *, reduction="none", alpha=0.25, gamma=2.0):
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma, check_targets=False)  # the bug
    return _focal_grads(grad_output, x, y, alpha, alpha_t, gamma, reduction)


def _focal_vjp_targets_as_labels(grad_output, inputs, targets, *, reduction="none", alpha=0.25, gamma=2.0):
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    return _focal_grads(grad_output, x, y, alpha, alpha_t, gamma, reduction)[0], None  # the bug: no target gradient


def _focal_vjp_target_focal_factor_constant(grad_output, inputs, targets, *, reduction="none", alpha=0.25,
                                            gamma=2.0):
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    return _focal_grads(grad_output, x, y, alpha, alpha_t, gamma, reduction,  # the bug: (1 - p_t)^gamma detached
                        target_slope=_focal_target_slope(x, y, alpha, gamma, focal_factor_constant=True))


def _focal_vjp_target_alpha_constant(grad_output, inputs, targets, *, reduction="none", alpha=0.25, gamma=2.0):
    x, y, alpha_t, gamma = _focal_inputs(inputs, targets, reduction, alpha, gamma)
    return _focal_grads(grad_output, x, y, alpha, alpha_t, gamma, reduction,  # the bug: alpha_t's slope in y left out
                        target_slope=_focal_target_slope(x, y, alpha, gamma, alpha_constant=True))


# ---- hinge_loss and squared_hinge_loss (labels in {-1, 1} or {0, 1}) -------------------------------------------

def _margin_inputs(input, target, reduction, map_labels=True):
    x, y = pair(input, target, reduction)
    return x, (hinge_labels(y) if map_labels else y)


def _hinge_labels_not_mapped(input, target, *, reduction="mean"):
    x, y = pair(input, target, reduction)
    hinge_labels(y)  # validates the labels; the mapped labels are then not used
    return reduce(np.maximum(0, 1 - y * x), reduction)  # the bug: a 0 label used as is, not mapped to -1


def _broadcast_margin_inputs(input, target, reduction):
    x, y = np.broadcast_arrays(as_float(input, "input"), as_float(target, "target"))  # the bug: (N,1), (N,) -> (N,N)
    check_reduction(reduction)
    return x, hinge_labels(y)


def _hinge_broadcasting(input, target, *, reduction="mean"):
    x, y = _broadcast_margin_inputs(input, target, reduction)
    return reduce(np.maximum(0, 1 - y * x), reduction)


def _hinge_vjp_broadcasting(grad_output, input, target, *, reduction="mean"):
    x, y = _broadcast_margin_inputs(input, target, reduction)
    grad = cotangent(grad_output, x.shape, reduction) * np.where(np.isnan(x), np.nan, np.where(1 - y * x > 0, -y, 0.0))
    return unbroadcast(grad, np.shape(input)), None


def _hinge_fmax(input, target, *, reduction="mean"):
    x, y = _margin_inputs(input, target, reduction)
    return reduce(np.fmax(0, 1 - y * x), reduction)  # the bug: fmax (or a C++ max(0, z)) returns 0 for NaN


def _hinge_vjp_mean_of_grad_output(grad_output, input, target, *, reduction="mean"):
    x, y = _margin_inputs(input, target, reduction)
    g = cotangent(grad_output, x.shape, reduction)
    g = np.full(x.shape, np.mean(g)) if x.size else g  # the bug: one cotangent, the mean, for every element
    return g * np.where(np.isnan(x), np.nan, np.where(1 - y * x > 0, -y, 0.0)), None


def _hinge_default_none(input, target, *, reduction="none"):  # the bug: optax's elementwise default
    x, y = _margin_inputs(input, target, reduction)
    return reduce(np.maximum(0, 1 - y * x), reduction)


def _hinge_vjp_default_none(grad_output, input, target, *, reduction="none"):  # the bug, as above
    return refloss.hinge_loss_vjp(grad_output, input, target, reduction=reduction)


def _hinge_vjp_without_label_check(grad_output, input, target, *, reduction="mean"):
    x, y = pair(input, target, reduction)
    y = np.where(y == 0, -1.0, y)  # the bug: any label accepted; 0 mapped to -1, 0.5 kept
    g = cotangent(grad_output, x.shape, reduction)
    return g * np.where(np.isnan(x), np.nan, np.where(1 - y * x > 0, -y, 0.0)), None


def _squared_hinge_vjp_without_factor_two(grad_output, input, target, *, reduction="mean"):
    x, y = _margin_inputs(input, target, reduction)
    return cotangent(grad_output, x.shape, reduction) * -y * np.maximum(0, 1 - y * x), None  # the bug: 2 lost


def _squared_hinge_vjp_where_drops_nan(grad_output, input, target, *, reduction="mean"):
    x, y = _margin_inputs(input, target, reduction)
    margin = 1 - y * x
    # the bug: where(margin > 0, ...) sends a NaN margin to the 0 branch
    return cotangent(grad_output, x.shape, reduction) * np.where(margin > 0, -2 * y * margin, 0.0), None


def _squared_hinge_vjp_mean_not_divided(grad_output, input, target, *, reduction="mean"):
    x, y = _margin_inputs(input, target, reduction)
    g = cotangent(grad_output, x.shape, "sum" if reduction == "mean" else reduction)  # the bug: no 1/N for mean
    return g * (0.0 - 2 * y * np.maximum(0, 1 - y * x)), None


def _squared_hinge_max_before_square_lost(input, target, *, reduction="mean"):
    x, y = _margin_inputs(input, target, reduction)
    return reduce(np.maximum(0, (1 - y * x) ** 2), reduction)  # the bug: max(0, m^2), not max(0, m)^2


def _squared_hinge_default_none(input, target, *, reduction="none"):  # the bug: an elementwise default
    x, y = _margin_inputs(input, target, reduction)
    return reduce(np.maximum(0, 1 - y * x) ** 2, reduction)


def _squared_hinge_vjp_default_none(grad_output, input, target, *, reduction="none"):  # the bug, as above
    return refloss.squared_hinge_loss_vjp(grad_output, input, target, reduction=reduction)


MUTANTS = [
    # binary_cross_entropy
    Mutant("bce_log_one_minus_p", "binary_cross_entropy", _bce_log_one_minus_p, None,
           "log(1 - p) for log1p(-p): 1 - p rounds, so a tiny p gives a loss that is 100 % off, or 0",
           "precision"),
    Mutant("bce_clips_p_instead_of_the_logs", "binary_cross_entropy", _bce_clipping_p, None,
           "p clipped to [1e-12, 1 - 1e-12] (the backward's epsilon) instead of each log clamped at -100",
           "clamp"),
    Mutant("bce_weighted_mean_over_weight_sum", "binary_cross_entropy", _bce_weighted_mean_over_weight_sum, None,
           "a weighted mean divided by sum(w) instead of N, as PyTorch divides", "denominator"),
    Mutant("bce_clamp_drops_nan", "binary_cross_entropy", _bce_fmax_clamp, None,
           "the log clamp written std::max(-100.f, log(p)), which returns -100 for NaN: loss 100 for p = NaN",
           "nonfinite"),
    Mutant("bce_target_gradient_sign", "binary_cross_entropy", None, _bce_vjp_target_sign,
           "the target's gradient log p - log(1 - p) without its minus sign", "gradient"),
    Mutant("bce_forward_skips_range_check", "binary_cross_entropy", _bce_forward_without_range_check, None,
           "the forward accepts p outside [0, 1] (NaN from the log), only the backward checks it", "validation"),
    # binary_cross_entropy_keras
    Mutant("bce_keras_epsilon_inside_the_log", "binary_cross_entropy_keras", _keras_epsilon_inside_the_log, None,
           "log(p + eps) and log(1 - p + eps) instead of the logs of p clipped to [eps, 1 - eps]", "clamp"),
    Mutant("bce_keras_gradient_through_the_clip", "binary_cross_entropy_keras", None, _keras_vjp_through_the_clip,
           "the backward passes the gradient through the clip (straight-through) where it should be 0", "clamp"),
    Mutant("bce_keras_default_epsilon_sklearn", "binary_cross_entropy_keras", _keras_sklearn_epsilon,
           _keras_vjp_sklearn_epsilon, "default epsilon 1e-15 (scikit-learn's log_loss) instead of Keras's 1e-7",
           "default"),
    Mutant("bce_keras_log_one_minus_p", "binary_cross_entropy_keras", _keras_log_one_minus_p, None,
           "log(1 - p) for log1p(-p) after the clip: 1e-9 relative off at p = 1e-7", "precision"),
    Mutant("bce_keras_vjp_accepts_any_epsilon", "binary_cross_entropy_keras", None, _keras_vjp_any_epsilon,
           "the backward accepts epsilon outside (0, 0.5) (only the forward validates it)", "validation"),
    # binary_cross_entropy_with_logits
    # binary_cross_entropy_keras_fp32 and binary_cross_entropy_tf_keras
    Mutant("bce_keras32_float64_bounds", "binary_cross_entropy_keras_fp32", _keras32_float64_bounds, None,
           "Keras's clip bounds in float64 (1 - 1e-7) where float32 Keras clips at 1 - 2^-23", "convention"),
    Mutant("bce_keras32_lower_clip_only", "binary_cross_entropy_keras_fp32", _keras32_lower_clip_only, None,
           "p clipped from below only: p = 1 gives an infinite loss", "clamp"),
    Mutant("bce_keras32_gradient_through_the_clip", "binary_cross_entropy_keras_fp32", None,
           _keras32_vjp_through_the_clip, "a straight-through clip: the slope of the clipped p beyond the bounds",
           "clamp"),
    Mutant("bce_tf_keras_without_the_shift", "binary_cross_entropy_tf_keras", _tf_keras_without_the_shift, None,
           "Keras 3's logs of the clipped p taken for tf-keras's log(p + eps) and log(1 - p + eps)", "convention"),
    Mutant("bce_tf_keras_shift_without_the_clip", "binary_cross_entropy_tf_keras", _tf_keras_shift_without_the_clip,
           None, "log(p + eps) without the clip of p first", "clamp"),
    Mutant("bce_tf_keras_vjp_unshifted_slope", "binary_cross_entropy_tf_keras", None, _tf_keras_vjp_unshifted_slope,
           "the slope (c - y) / (c (1 - c)) of the unshifted logs in the VJP", "gradient"),
    Mutant("bce_tf_keras_float64_constants", "binary_cross_entropy_tf_keras", _tf_keras_float64_constants, None,
           "tf-keras's float64 constants (a float64 model) taken for its default float32 ones", "convention"),
    Mutant("bce_naive_log_sigmoid", "binary_cross_entropy_with_logits", _bce_naive_log_sigmoid, None,
           "log(sigmoid(x)) and log(1 - sigmoid(x)) instead of softplus: NaN or inf for |x| above ~37",
           "overflow"),
    Mutant("bce_target_gradient_with_wrong_sign", "binary_cross_entropy_with_logits", None,
           _bce_logits_vjp_target_sign, "the target's gradient with the wrong sign", "gradient"),
    Mutant("bce_logits_log_instead_of_log1p", "binary_cross_entropy_with_logits", _bce_logits_log_not_log1p, None,
           "softplus as max(z, 0) + log(1 + exp(-|z|)): 3e-13 relative off at z = -8, 0 instead of 4e-18 at -40",
           "precision"),
    Mutant("bce_logits_pos_weight_on_negatives", "binary_cross_entropy_with_logits",
           _bce_logits_pos_weight_on_negatives, None, "pos_weight multiplies the negative term instead of the "
           "positive one", "convention"),
    Mutant("bce_logits_weighted_mean_over_weight_sum", "binary_cross_entropy_with_logits",
           _bce_logits_weighted_mean_over_weight_sum, None, "a weighted mean divided by sum(w) instead of N",
           "denominator"),
    Mutant("bce_logits_one_minus_sigmoid", "binary_cross_entropy_with_logits", None,
           _bce_logits_vjp_one_minus_sigmoid, "the gradient's 1 - sigmoid(x) by subtraction: 2e-13 relative off at "
           "x = 8, 0 instead of 4.2e-18 at x = 40", "precision"),
    # sigmoid_focal_loss
    Mutant("focal_naive_chain_rule", "sigmoid_focal_loss", None, _focal_naive_chain_rule,
           "the chain rule as written, gamma q^(gamma - 1) dq/dx: NaN where q rounds to 0", "nonfinite"),
    Mutant("sigmoid_focal_one_minus_p_t", "sigmoid_focal_loss", _focal_torchvision_one_minus_p_t, None,
           "torchvision's (1 - p_t) ** gamma: 0 for a saturated logit instead of (4e-18) ** gamma", "precision"),
    Mutant("sigmoid_focal_default_alpha_half", "sigmoid_focal_loss", _focal_alpha_half, _focal_vjp_alpha_half,
           "default alpha 0.5 instead of the paper's and torchvision's 0.25", "default"),
    Mutant("sigmoid_focal_default_reduction_mean", "sigmoid_focal_loss", _focal_mean_default,
           _focal_vjp_mean_default, "default reduction 'mean' (mmdetection's) instead of torchvision's 'none'",
           "default"),
    Mutant("sigmoid_focal_negative_alpha_not_disabled", "sigmoid_focal_loss", _focal_negative_alpha_kept, None,
           "alpha = -1 used as a weight instead of switching the weighting off (torchvision's convention)",
           "convention"),
    Mutant("sigmoid_focal_vjp_skips_target_check", "sigmoid_focal_loss", None, _focal_vjp_without_target_check,
           "the backward accepts targets outside [0, 1] (only the forward validates them)", "validation"),
    Mutant("sigmoid_focal_targets_as_labels", "sigmoid_focal_loss", None, _focal_vjp_targets_as_labels,
           "no gradient for the targets (soft labels treated as constants)", "gradient"),
    Mutant("sigmoid_focal_target_gradient_without_focal_factor_slope", "sigmoid_focal_loss", None,
           _focal_vjp_target_focal_factor_constant, "the targets' gradient alpha_t q^gamma (-x): the focal "
           "factor's dependence on the label detached", "gradient"),
    Mutant("sigmoid_focal_target_gradient_alpha_constant", "sigmoid_focal_loss", None,
           _focal_vjp_target_alpha_constant, "the targets' gradient without (2 alpha - 1) q^gamma c: alpha_t "
           "treated as a constant", "gradient"),
    # hinge_loss
    Mutant("hinge_zero_one_labels_not_mapped", "hinge_loss", _hinge_labels_not_mapped, None,
           "labels in {0, 1} used as they are (loss 1 for every 0 label) instead of mapped to {-1, 1}",
           "convention"),
    Mutant("hinge_broadcasts_like_optax", "hinge_loss", _hinge_broadcasting, _hinge_vjp_broadcasting,
           "scores (N, 1) against labels (N,) broadcast to (N, N), as optax's hinge_loss does silently",
           "broadcasting"),
    Mutant("hinge_max_drops_nan", "hinge_loss", _hinge_fmax, None,
           "max(0, 1 - y x) as np.fmax or a C++ max(0.f, z): 0 instead of NaN for a NaN score", "nonfinite"),
    Mutant("hinge_vjp_uses_mean_of_grad_output", "hinge_loss", None, _hinge_vjp_mean_of_grad_output,
           "reduction 'none': every element gets the mean of grad_output instead of its own entry", "cotangent"),
    Mutant("hinge_default_reduction_none", "hinge_loss", _hinge_default_none, _hinge_vjp_default_none,
           "default reduction 'none' (optax's elementwise hinge_loss) instead of 'mean'", "default"),
    Mutant("hinge_vjp_skips_label_check", "hinge_loss", None, _hinge_vjp_without_label_check,
           "the backward accepts labels other than {-1, 1} or {0, 1} (only the forward validates them)",
           "validation"),
    # squared_hinge_loss
    Mutant("squared_hinge_gradient_missing_factor_two", "squared_hinge_loss", None,
           _squared_hinge_vjp_without_factor_two, "the derivative of m^2 taken as m", "gradient"),
    Mutant("squared_hinge_vjp_where_drops_nan", "squared_hinge_loss", None, _squared_hinge_vjp_where_drops_nan,
           "where(m > 0, -2 y m, 0) in the backward: 0 instead of NaN for a NaN score", "nonfinite"),
    Mutant("squared_hinge_mean_not_divided_by_n", "squared_hinge_loss", None, _squared_hinge_vjp_mean_not_divided,
           "the backward of 'mean' does not divide grad_output by N", "cotangent"),
    Mutant("squared_hinge_max_after_square", "squared_hinge_loss", _squared_hinge_max_before_square_lost, None,
           "max(0, m^2) instead of max(0, m)^2: satisfied margins are penalised too", "formula"),
    Mutant("squared_hinge_default_reduction_none", "squared_hinge_loss", _squared_hinge_default_none,
           _squared_hinge_vjp_default_none, "default reduction 'none' instead of 'mean'", "default"),
]
