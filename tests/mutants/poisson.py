"""Mutants of the likelihood losses: poisson_nll_loss and gaussian_nll_loss.

Each function is a whole forward or VJP with one bug, marked ``# the bug``; the rest is right.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Mutant
from ._port import as_float, check_reduction, cotangent, pair, reduce, unbroadcast

HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


# ---- poisson_nll_loss ------------------------------------------------------------------------------------------

def _stirling(y, mask):
    """Stirling's y log y - y + log(2 pi y) / 2 where ``mask``, else 0."""
    above = np.where(mask, y, 2.0)
    return np.where(mask, above * np.log(above) - above + 0.5 * np.log(2 * np.pi * above), 0.0)


def _poisson_stirling_from_one(input, target, *, log_input=True, full=False, eps=1e-8, reduction="mean"):
    x, y = pair(input, target, reduction)
    loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    if full:
        loss = loss + _stirling(y, y >= 1.0)  # the bug: target < 1 masked, where PyTorch masks target <= 1
    return reduce(loss, reduction)


def _poisson_log_of_clipped_rate(input, target, *, log_input=True, full=False, eps=1e-8, reduction="mean"):
    x, y = pair(input, target, reduction)
    # the bug: log_input=False takes Keras's clip log(max(x, eps)), not PyTorch's log(x + eps)
    loss = np.exp(x) - y * x if log_input else x - y * np.log(np.maximum(x, eps))
    if full:
        loss = loss + _stirling(y, y > 1.0)
    return reduce(loss, reduction)


def _poisson_vjp_stirling_held_constant(grad_output, input, target, *, log_input=True, full=False, eps=1e-8,
                                        reduction="mean"):
    x, y = pair(input, target, reduction)
    g = cotangent(grad_output, x.shape, reduction)
    if log_input:
        return g * (np.exp(x) - y), g * -x  # the bug: the target gradient leaves out Stirling's log y + 1 / (2 y)
    return g * (1.0 - y / (x + eps)), g * -np.log(x + eps)


def _poisson_vjp_rate_without_eps(grad_output, input, target, *, log_input=True, full=False, eps=1e-8,
                                  reduction="mean"):
    x, y = pair(input, target, reduction)
    g = cotangent(grad_output, x.shape, reduction)
    above = np.where(y > 1.0, y, 2.0)
    stirling = np.where(y > 1.0, np.log(above) + 0.5 / above, 0.0) if full else 0.0
    if log_input:
        return g * (np.exp(x) - y), g * (-x + stirling)
    with np.errstate(divide="ignore", invalid="ignore"):
        grad_input = g * (1.0 - y / x)  # the bug: d/dx of x - y log(x + eps) written 1 - y / x
    return grad_input, g * (-np.log(x + eps) + stirling)


# ---- gaussian_nll_loss -----------------------------------------------------------------------------------------

def _gaussian_inputs(input, target, var, reduction):
    """input and target of one shape, and var as PyTorch shapes it (a trailing 1 where it is one dimension short)."""
    x, y = pair(input, target, reduction)
    v = as_float(var, "var")
    if np.any(v < 0):
        raise ValueError("var must be non-negative")
    if v.shape != x.shape and v.shape == x.shape[:-1] and v.ndim:
        v = v[..., None]
    np.broadcast_shapes(v.shape, x.shape)
    return x, y, v


def _gaussian_vjp(grad_output, input, target, var, reduction, eps, var_slope):
    """The VJP with ``var_slope(v_raw, v, d)`` as the per-element derivative w.r.t. var (summed to var's shape)."""
    x, y, v_raw = _gaussian_inputs(input, target, var, reduction)
    v = np.maximum(v_raw, eps)
    d = x - y
    g = cotangent(grad_output, x.shape, reduction)
    grad_var = unbroadcast(g * var_slope(np.broadcast_to(v_raw, x.shape), v, d), np.shape(v_raw))
    return g * d / v, -g * d / v, grad_var.reshape(np.shape(var))


def _gaussian_vjp_clamp_blocks_gradient(grad_output, input, target, var, *, full=False, eps=1e-6, reduction="mean"):
    # the bug: a differentiable clamp (jnp.maximum, torch.clamp outside no_grad): zero var gradient below eps
    return _gaussian_vjp(grad_output, input, target, var, reduction, eps,
                         lambda raw, v, d: np.where(raw < eps, 0.0, 0.5 * (1.0 / v - d * d / v ** 2)))


def _gaussian_vjp_var_gradient_not_summed(grad_output, input, target, var, *, full=False, eps=1e-6,
                                          reduction="mean"):
    x, y, v_raw = _gaussian_inputs(input, target, var, reduction)
    v = np.maximum(v_raw, eps)
    d = x - y
    g = cotangent(grad_output, x.shape, reduction)
    grad_var = g * 0.5 * (1.0 / v - d * d / v ** 2)  # the bug: left in input's shape, not summed back to var's
    return g * d / v, -g * d / v, grad_var


def _gaussian_full_without_the_half(input, target, var, *, full=False, eps=1e-6, reduction="mean"):
    x, y, v = _gaussian_inputs(input, target, var, reduction)
    v = np.maximum(v, eps)
    loss = 0.5 * (np.log(v) + (x - y) ** 2 / v)
    if full:
        loss = loss + math.log(2 * math.pi)  # the bug: log(2 pi), not half of it
    return reduce(loss, reduction)


def _gaussian_mean_over_the_batch(input, target, var, *, full=False, eps=1e-6, reduction="mean"):
    x, y, v = _gaussian_inputs(input, target, var, reduction)
    v = np.maximum(v, eps)
    loss = 0.5 * (np.log(v) + (x - y) ** 2 / v) + (HALF_LOG_TWO_PI if full else 0.0)
    check_reduction(reduction)
    if reduction == "mean" and loss.ndim > 1:
        return np.sum(loss) / loss.shape[0]  # the bug: "the average of all batch member losses" read as sum / N
    return reduce(loss, reduction)


MUTANTS = [
    Mutant("poisson_stirling_from_target_one", "poisson_nll_loss", _poisson_stirling_from_one, None,
           "full adds Stirling's term from target = 1 on (mask target < 1), where PyTorch masks target <= 1",
           "branch"),
    Mutant("poisson_log_of_clipped_rate", "poisson_nll_loss", _poisson_log_of_clipped_rate, None,
           "log_input=False takes log(max(x, eps)) (Keras's clip) instead of PyTorch's log(x + eps)", "convention"),
    Mutant("poisson_vjp_stirling_held_constant", "poisson_nll_loss", None, _poisson_vjp_stirling_held_constant,
           "a hand-written backward treats Stirling's term as a constant: no log y + 1 / (2 y) in d/d target",
           "gradient"),
    Mutant("poisson_vjp_rate_without_eps", "poisson_nll_loss", None, _poisson_vjp_rate_without_eps,
           "the input gradient of x - y log(x + eps) written 1 - y / x: eps forgotten in the backward", "clamp"),
    Mutant("gaussian_clamp_blocks_the_var_gradient", "gaussian_nll_loss", None, _gaussian_vjp_clamp_blocks_gradient,
           "var clamped with a differentiable maximum: zero gradient below eps, where PyTorch's no_grad clamp "
           "passes the derivative at eps", "convention"),
    Mutant("gaussian_var_gradient_not_summed", "gaussian_nll_loss", None, _gaussian_vjp_var_gradient_not_summed,
           "a shared (broadcast) var gets a gradient of input's shape instead of the sum over its elements",
           "broadcasting"),
    Mutant("gaussian_full_without_the_half", "gaussian_nll_loss", _gaussian_full_without_the_half, None,
           "full adds log(2 pi) instead of log(2 pi) / 2", "formula"),
    Mutant("gaussian_mean_over_the_batch", "gaussian_nll_loss", _gaussian_mean_over_the_batch, None,
           "mean divides the sum by the batch size N instead of the element count", "denominator"),
]
