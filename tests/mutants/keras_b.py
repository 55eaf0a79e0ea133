"""Mutants of the Keras/optax losses of package keras_b: poly1_cross_entropy, sparsemax_loss, cosine_similarity_loss,
dice_loss and tversky_loss.

Each function is a whole forward or VJP with one bug, marked ``# the bug``; the rest is right. Classes are the last
axis (the conformance cases are (N, C) or (C,)).
"""

from __future__ import annotations

import numpy as np

from ._base import Mutant
from ._port import as_float, check_reduction, class_indices, cotangent, pair, reduce

# ---- poly1_cross_entropy: -sum y log p + eps sum y (1 - p) ---------------------------------------------------------


def _poly_inputs(input, target, reduction, epsilon):
    x, y = pair(input, target, reduction)
    if x.ndim == 0:
        raise ValueError("input must have shape (..., C), got shape ()")
    return x, y, float(epsilon)


def _log_softmax(x):
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _poly_plain_complement(input, target, *, epsilon=2.0, reduction="mean"):
    x, y, epsilon = _poly_inputs(input, target, reduction, epsilon)
    log_p = _log_softmax(x)
    missed = 1.0 - np.exp(log_p)  # the bug: 1 - p cancels for a confident row (optax's form)
    return reduce(-np.sum(y * log_p, axis=-1) + epsilon * np.sum(y * missed, axis=-1), reduction)


def _poly_mean_over_elements(input, target, *, epsilon=2.0, reduction="mean"):
    x, y, epsilon = _poly_inputs(input, target, reduction, epsilon)
    log_p = _log_softmax(x)
    per_sample = -np.sum(y * log_p, axis=-1) + epsilon * np.sum(y * -np.expm1(log_p), axis=-1)
    if reduction == "mean":
        return np.sum(per_sample) / np.float64(x.size)  # the bug: divides by N * C (Keras's elementwise mean)
    return reduce(per_sample, reduction)


def _poly_gradients(input, target, epsilon, reduction, grad_output):
    x, y, epsilon = _poly_inputs(input, target, reduction, epsilon)
    g = cotangent(grad_output, x.shape[:-1], reduction)[..., None]
    log_p = _log_softmax(x)
    return x, y, epsilon, g, log_p, np.exp(log_p)


def _poly_vjp_label_gradient_dropped(grad_output, input, target, *, epsilon=2.0, reduction="mean"):
    x, y, epsilon, g, log_p, p = _poly_gradients(input, target, epsilon, reduction, grad_output)
    label_sum = np.sum(y, axis=-1, keepdims=True)
    caught = np.sum(y * p, axis=-1, keepdims=True)
    grad_input = g * (p * label_sum - y + epsilon * p * (caught - y))
    return grad_input, np.zeros_like(y)  # the bug: the labels treated as constants (a stop_gradient)


def _poly_vjp_polynomial_sign(grad_output, input, target, *, epsilon=2.0, reduction="mean"):
    x, y, epsilon, g, log_p, p = _poly_gradients(input, target, epsilon, reduction, grad_output)
    label_sum = np.sum(y, axis=-1, keepdims=True)
    caught = np.sum(y * p, axis=-1, keepdims=True)
    grad_input = g * (p * label_sum - y + epsilon * p * (y - caught))  # the bug: the polynomial term's sign
    return grad_input, g * (-log_p - epsilon * np.expm1(log_p))


# ---- sparsemax_loss: tau + (1 + sum p^2) / 2 on the shifted scores -----------------------------------------------


def _sparse_inputs(input, target, reduction):
    z = as_float(input, "input")
    check_reduction(reduction)
    if z.ndim not in (1, 2):
        raise ValueError(f"input must have shape (N, C) or (C,), got {z.shape}")
    labels = class_indices(target, z.shape, z.ndim - 1)
    return z, labels[..., None] == np.arange(z.shape[-1])


def _projection(z):
    """tau and p = max(z - tau, 0) of each row (sort, prefix sums)."""
    ranked = -np.sort(-z, axis=-1)
    ranks = np.arange(1, z.shape[-1] + 1)
    cumulative = np.cumsum(ranked, axis=-1)
    with np.errstate(invalid="ignore"):
        size = np.maximum(np.sum(1 + ranks * ranked > cumulative, axis=-1, keepdims=True), 1)
    tau = (np.take_along_axis(cumulative, size - 1, axis=-1) - 1) / size
    return tau, np.maximum(z - tau, 0.0)


def _shifted(z, one_hot):
    return z - np.sum(np.where(one_hot, z, 0.0), axis=-1, keepdims=True)


def _sparse_unshifted(input, target, *, reduction="mean"):
    z, one_hot = _sparse_inputs(input, target, reduction)
    tau, p = _projection(z)  # the bug: Martins's formula on the raw scores: z_j^2 - tau^2 cancels for large z
    on = p > 0
    per_sample = (-np.sum(np.where(one_hot, z, 0.0), axis=-1)
                  + 0.5 * np.sum(np.where(on, z * z - tau * tau, 0.0), axis=-1) + 0.5)
    return reduce(np.where(np.any(np.isnan(z), axis=-1), np.nan, per_sample), reduction)


def _sparse_half_dropped(input, target, *, reduction="mean"):
    z, one_hot = _sparse_inputs(input, target, reduction)
    tau, p = _projection(_shifted(z, one_hot))
    per_sample = tau[..., 0] + 0.5 * np.sum(p * p, axis=-1)  # the bug: the constant 1/2 of the conjugate dropped
    return reduce(np.where(np.any(np.isnan(z), axis=-1), np.nan, per_sample), reduction)


def _sparse_vjp_softmax(grad_output, input, target, *, reduction="mean"):
    z, one_hot = _sparse_inputs(input, target, reduction)
    g = cotangent(grad_output, z.shape[:-1], reduction)[..., None]
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return g * (e / np.sum(e, axis=-1, keepdims=True) - one_hot), None  # the bug: softmax - onehot


def _sparse_vjp_sign(grad_output, input, target, *, reduction="mean"):
    z, one_hot = _sparse_inputs(input, target, reduction)
    g = cotangent(grad_output, z.shape[:-1], reduction)[..., None]
    _, p = _projection(_shifted(z, one_hot))
    return g * (one_hot - p), None  # the bug: onehot - p


# ---- cosine_similarity_loss: -sum a_hat b_hat, x_hat = x / max(||x||, 1e-7) ---------------------------------------

_EPS = 1e-7


def _cosine_inputs(input, target, reduction):
    a, b = pair(input, target, reduction)
    if a.ndim == 0:
        raise ValueError("input must have shape (..., D), got shape ()")
    return a, b


def _norm(x):
    return np.sqrt(np.sum(x * x, axis=-1, keepdims=True))


def _clamped_unit(x):
    return x / np.maximum(_norm(x), _EPS)


def _cosine_unclamped(input, target, *, axis=-1, reduction="mean"):
    a, b = _cosine_inputs(input, target, reduction)
    with np.errstate(invalid="ignore"):
        return reduce(-np.sum(a / _norm(a) * (b / _norm(b)), axis=-1), reduction)  # the bug: no clamp, 0/0 = NaN


def _cosine_epsilon_added(input, target, *, axis=-1, reduction="mean"):
    a, b = _cosine_inputs(input, target, reduction)
    unit_a, unit_b = a / (_norm(a) + _EPS), b / (_norm(b) + _EPS)  # the bug: ||x|| + eps instead of max(||x||, eps)
    return reduce(-np.sum(unit_a * unit_b, axis=-1), reduction)


def _cosine_positive(input, target, *, axis=-1, reduction="mean"):
    a, b = _cosine_inputs(input, target, reduction)
    return reduce(np.sum(_clamped_unit(a) * _clamped_unit(b), axis=-1), reduction)  # the bug: optax's sign


def _cosine_vjp_without_projection(grad_output, input, target, *, axis=-1, reduction="mean"):
    a, b = _cosine_inputs(input, target, reduction)
    g = cotangent(grad_output, a.shape[:-1], reduction)[..., None]
    # the bug: d(a / ||a||) taken as 1 / ||a|| (the norm treated as a constant): -b_hat / n_a, no + loss a_hat
    return g * -_clamped_unit(b) / np.maximum(_norm(a), _EPS), g * -_clamped_unit(a) / np.maximum(_norm(b), _EPS)


# ---- dice_loss and tversky_loss: per-sample overlap ratios with Keras's eps -----------------------------------------


def _overlap_inputs(input, target, reduction):
    p, y = pair(input, target, reduction)
    if p.ndim == 0:
        raise ValueError("input must have shape (N, ...), got shape ()")
    return p, y, tuple(range(1, p.ndim)) if p.ndim > 1 else (0,)


def _dice_pooled(input, target, *, reduction="mean"):
    p, y, axes = _overlap_inputs(input, target, reduction)
    # the bug: Keras's default axis=None, one ratio for the whole batch, repeated for every sample
    pooled = 1.0 - 2.0 * np.sum(y * p) / (np.sum(y) + np.sum(p) + _EPS)
    return reduce(np.full(p.shape[:1] if p.ndim > 1 else (), pooled), reduction)


def _dice_smoothed(input, target, *, reduction="mean"):
    p, y, axes = _overlap_inputs(input, target, reduction)
    smooth = 1.0  # the bug: the common "smooth = 1" on numerator and denominator instead of Keras's eps
    return reduce(1.0 - (2.0 * np.sum(y * p, axis=axes) + smooth) / (np.sum(y, axis=axes) + np.sum(p, axis=axes)
                                                                       + smooth), reduction)


def _dice_vjp_squared_denominator(grad_output, input, target, *, reduction="mean"):
    p, y, axes = _overlap_inputs(input, target, reduction)
    g = cotangent(grad_output, p.shape[:1] if p.ndim > 1 else (), reduction)
    g = np.reshape(g, np.shape(g) + (1,) * (p.ndim - np.ndim(g)))
    v = np.sum(y, axis=axes, keepdims=True) + np.sum(p, axis=axes, keepdims=True) + _EPS
    dice = 2.0 * np.sum(y * p, axis=axes, keepdims=True) / v
    # the bug: the quotient rule's I / V^2 term dropped: -2 y / V
    return g * -2.0 * y / v, g * -(2.0 * p - dice) / v


def _tversky_terms(input, target, reduction, alpha, beta):
    p, y, axes = _overlap_inputs(input, target, reduction)
    if alpha < 0 or beta < 0:
        raise ValueError(f"alpha must be in [0, inf), got {alpha!r}" if alpha < 0 else
                         f"beta must be in [0, inf), got {beta!r}")
    return p, y, axes, np.sum(y * p, axis=axes), np.sum(y * (1 - p), axis=axes), np.sum(p * (1 - y), axis=axes)


def _tversky_paper_naming(input, target, *, alpha=0.5, beta=0.5, reduction="mean"):
    p, y, axes, overlap, missed, extra = _tversky_terms(input, target, reduction, alpha, beta)
    # the bug: Salehi et al.'s alpha on the false positives sum p (1 - y), not Keras's on sum y (1 - p)
    return reduce(1.0 - overlap / (overlap + alpha * extra + beta * missed + _EPS), reduction)


def _tversky_without_epsilon(input, target, *, alpha=0.5, beta=0.5, reduction="mean"):
    p, y, axes, overlap, missed, extra = _tversky_terms(input, target, reduction, alpha, beta)
    with np.errstate(invalid="ignore"):
        return reduce(1.0 - overlap / (overlap + alpha * missed + beta * extra), reduction)  # the bug: no eps


def _tversky_vjp_target_gradient_swapped(grad_output, input, target, *, alpha=0.5, beta=0.5, reduction="mean"):
    p, y, axes, overlap, missed, extra = _tversky_terms(input, target, reduction, alpha, beta)
    g = cotangent(grad_output, p.shape[:1] if p.ndim > 1 else (), reduction)
    expand = (lambda a: np.reshape(a, np.shape(a) + (1,) * (p.ndim - np.ndim(a))))
    q = expand(overlap + alpha * missed + beta * extra + _EPS)
    t, g = expand(overlap) / q, expand(g)
    grad_p = -(y - t * ((1 - alpha) * y + beta * (1 - y))) / q
    grad_y = -(p - t * ((1 - alpha) * p + beta * (1 - p))) / q  # the bug: alpha and beta as in grad_p
    return g * grad_p, g * grad_y


MUTANTS = [
    Mutant("poly1_plain_complement", "poly1_cross_entropy", _poly_plain_complement, None,
           "1 - p as a plain difference (optax's form): a confident row's loss of 2.5e-17 becomes 8.5e-18",
           "precision"),
    Mutant("poly1_mean_over_elements", "poly1_cross_entropy", _poly_mean_over_elements, None,
           "'mean' divides by N * C (an elementwise mean) instead of the number of samples", "denominator"),
    Mutant("poly1_label_gradient_dropped", "poly1_cross_entropy", None, _poly_vjp_label_gradient_dropped,
           "the labels get a zero gradient (treated as constants, as a stop_gradient would)", "gradient"),
    Mutant("poly1_polynomial_gradient_sign", "poly1_cross_entropy", None, _poly_vjp_polynomial_sign,
           "the gradient of eps sum y (1 - p) with its sign flipped: eps p (y - p-bar)", "gradient"),
    Mutant("sparsemax_unshifted_formula", "sparsemax_loss", _sparse_unshifted, None,
           "Martins's -z_k + sum (z_j^2 - tau^2) / 2 + 1/2 on the raw scores: cancels when the scores are large",
           "precision"),
    Mutant("sparsemax_half_dropped", "sparsemax_loss", _sparse_half_dropped, None,
           "the constant 1/2 of the Gini conjugate dropped: a confident correct row costs -1/2, not 0", "formula"),
    Mutant("sparsemax_gradient_softmax", "sparsemax_loss", None, _sparse_vjp_softmax,
           "the gradient softmax(z) - onehot (the cross-entropy's) instead of sparsemax(z) - onehot", "formula"),
    Mutant("sparsemax_gradient_sign", "sparsemax_loss", None, _sparse_vjp_sign,
           "the gradient onehot - sparsemax(z) instead of sparsemax(z) - onehot", "gradient"),
    Mutant("cosine_similarity_unclamped", "cosine_similarity_loss", _cosine_unclamped, None,
           "x / ||x|| without Keras's clamp at 1e-7: a zero vector gives 0/0 = NaN instead of 0", "clamp"),
    Mutant("cosine_similarity_epsilon_added", "cosine_similarity_loss", _cosine_epsilon_added, None,
           "x / (||x|| + 1e-7) instead of x / max(||x||, 1e-7): every loss off by about 1e-7 / ||x||", "clamp"),
    Mutant("cosine_similarity_positive_sign", "cosine_similarity_loss", _cosine_positive, None,
           "the cosine itself (optax's cosine_similarity) instead of minus the cosine (Keras's loss)", "convention"),
    Mutant("cosine_similarity_gradient_without_projection", "cosine_similarity_loss", None,
           _cosine_vjp_without_projection, "the norm treated as a constant: -b_hat / ||a|| without the + loss a_hat "
           "term that makes the gradient orthogonal to a", "gradient"),
    Mutant("dice_pooled_over_the_batch", "dice_loss", _dice_pooled, None,
           "Keras's default axis=None: one Dice ratio pooled over the whole batch instead of one per sample",
           "convention"),
    Mutant("dice_smooth_one", "dice_loss", _dice_smoothed, None,
           "the popular smooth = 1 added to numerator and denominator instead of Keras's 1e-7 in the denominator",
           "clamp"),
    Mutant("dice_gradient_quotient_rule_term_dropped", "dice_loss", None, _dice_vjp_squared_denominator,
           "the prediction's gradient -2 y / V without the + D / V term of the quotient rule", "gradient"),
    Mutant("tversky_paper_naming", "tversky_loss", _tversky_paper_naming, None,
           "alpha on sum p (1 - y) (Salehi et al.'s false positives) instead of Keras's 'fp' = sum y (1 - p)",
           "convention"),
    Mutant("tversky_without_epsilon", "tversky_loss", _tversky_without_epsilon, None,
           "no eps in the denominator: empty masks give 0/0 = NaN instead of 1", "clamp"),
    Mutant("tversky_target_gradient_weights_swapped", "tversky_loss", None, _tversky_vjp_target_gradient_swapped,
           "the target's gradient uses the prediction's weights (1 - alpha, beta) instead of (1 - beta, alpha)",
           "gradient"),
]
