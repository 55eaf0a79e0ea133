"""Mutants of kl_div, multilabel_soft_margin_loss and multilabel_margin_loss.

Each function is a whole forward or VJP with one bug, marked ``# the bug``; the rest is right (plain NumPy).
"""

from __future__ import annotations

import numpy as np

from ._base import Mutant
from ._port import as_float, check_reduction, class_weight, cotangent, pair, reduce, sigmoid_pair, softplus, \
    unit_interval

# ---- kl_div: t (log t - x) elementwise (0 at t = 0), or e^u (u - x) with log_target --------------------------------


def _kl_inputs(input, target, reduction, log_target):
    """(x, t) checked, with kl_div's four reductions (plain _port.check_reduction knows three)."""
    if reduction == "batchmean":
        x, t = pair(input, target, "sum")
    else:
        x, t = pair(input, target, reduction)
    if not isinstance(log_target, (bool, np.bool_)):
        raise TypeError(f"log_target must be True or False, got {log_target!r}")
    if not log_target and np.any(t < 0):
        raise ValueError(f"target must be probabilities (non-negative), got {t.tolist()}")
    return x, t


def _kl_reduce(loss, reduction, rows_only=True):
    if reduction != "batchmean":
        return reduce(loss, reduction)
    rows = (loss.shape[0] if loss.ndim else 1) if rows_only else loss.size  # rows_only False: the bug
    return np.sum(loss) / np.float64(rows)


def _kl_share(grad_output, shape, reduction, rows_only=True):
    if reduction != "batchmean":
        return cotangent(grad_output, shape, reduction)
    g = as_float(grad_output, "grad_output")
    if g.shape != ():
        raise ValueError(f"grad_output must have shape (), got {g.shape}")
    rows = (shape[0] if shape else 1) if rows_only else int(np.prod(shape))  # rows_only False: the bug
    return np.broadcast_to(g / np.float64(rows), shape)


def _kl_terms(x, t, log_target, naive_xlogy=False):
    if log_target:
        return np.exp(t) * (t - x)
    if naive_xlogy:
        return t * np.log(t) - t * x  # the bug: 0 log 0 computed as 0 * -inf = NaN, not PyTorch's xlogy 0
    return np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0) - t * x


def _kl_vjp(grad_output, input, target, reduction, log_target, rows_only=True, plus_one=True):
    x, t = _kl_inputs(input, target, reduction, log_target)
    g = _kl_share(grad_output, x.shape, reduction, rows_only)
    if log_target:
        return -g * np.exp(t), g * np.exp(t) * (t - x + 1.0)
    slope = np.log(np.where(t > 0, t, np.nan)) + (1.0 if plus_one else 0.0) - x
    return -g * t, g * slope


def _kl_batchmean_as_mean(input, target, *, reduction="mean", log_target=False):
    x, t = _kl_inputs(input, target, reduction, log_target)
    return _kl_reduce(_kl_terms(x, t, log_target), reduction, rows_only=False)


def _kl_vjp_batchmean_as_mean(grad_output, input, target, *, reduction="mean", log_target=False):
    return _kl_vjp(grad_output, input, target, reduction, log_target, rows_only=False)


def _kl_naive_xlogy(input, target, *, reduction="mean", log_target=False):
    x, t = _kl_inputs(input, target, reduction, log_target)
    return _kl_reduce(_kl_terms(x, t, log_target, naive_xlogy=True), reduction)


def _kl_vjp_target_without_one(grad_output, input, target, *, reduction="mean", log_target=False):
    # the bug: d(t log t)/dt taken as log t (the + 1 of the product rule forgotten)
    return _kl_vjp(grad_output, input, target, reduction, log_target, plus_one=False)


# ---- multilabel_soft_margin_loss: 1/C sum_c w_c [t softplus(-x) + (1 - t) softplus(x)] per sample -------------------


def _soft_inputs(input, target, reduction, weight):
    x, t = pair(input, target, reduction)
    if x.ndim < 1:
        raise ValueError(f"input must have shape (N, C) or (C,), got {x.shape}")
    unit_interval(t, "target")
    return x, t, class_weight(weight, "weight", x.shape[-1])


def _soft_sum_over_classes(input, target, *, reduction="mean", weight=None):
    x, t, w = _soft_inputs(input, target, reduction, weight)
    per_class = w * (t * softplus(-x) + (1 - t) * softplus(x))
    return reduce(np.sum(per_class, axis=-1), reduction)  # the bug: the sum over the classes, not their mean


def _soft_naive_log_sigmoid(input, target, *, reduction="mean", weight=None):
    x, t, w = _soft_inputs(input, target, reduction, weight)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        sigma = 1 / (1 + np.exp(-x))
        # the bug: log(sigmoid(x)) and log(1 - sigmoid(x)) as written: -inf (then NaN) for logits of +-1e4
        per_class = -w * (t * np.log(sigma) + (1 - t) * np.log(1 - sigma))
    return reduce(np.sum(per_class, axis=-1) / x.shape[-1], reduction)


def _soft_vjp_target_constant(grad_output, input, target, *, reduction="mean", weight=None):
    x, t, w = _soft_inputs(input, target, reduction, weight)
    g = cotangent(grad_output, x.shape[:-1], reduction)[..., None] * w / x.shape[-1]
    sigma, _ = sigmoid_pair(x)
    return g * (sigma - t), np.zeros_like(t)  # the bug: the target treated as constant labels (no gradient)


# ---- multilabel_margin_loss: sum over targets j, non-targets i of max(0, 1 - x_j + x_i) / C -------------------------


def _margin_inputs(input, target, reduction, padding_read=False, unique=False):
    """x, how often each class is listed as a target, and the classes that are not."""
    x = as_float(input, "input")
    check_reduction(reduction)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"input must have shape (N, C) or (C,), got {x.shape}")
    labels = np.asarray(target)
    classes = x.shape[-1]
    if labels.dtype.kind not in "iu" or labels.shape != x.shape:
        raise ValueError(f"target must hold integer class indices of shape {x.shape}, got {labels.shape}")
    if np.any((labels < -1) | (labels >= classes)):
        raise ValueError(f"target class indices must be in [-1, C), got {labels.tolist()}")
    # padding_read: the bug of reading every entry that is not -1, not only those before the first -1
    listed = labels != -1 if padding_read else np.cumsum(labels == -1, axis=-1) == 0
    counts = np.sum((labels[..., :, None] == np.arange(classes)) & listed[..., :, None], axis=-2).astype(float)
    if unique:
        counts = np.minimum(counts, 1.0)  # the bug: the targets as a set, a duplicate index counted once
    return x, counts, (counts == 0).astype(float), classes


def _margin_forward(x, counts, others, classes, reduction):
    with np.errstate(invalid="ignore"):
        hinge = np.maximum(0.0, 1.0 - x[..., :, None] + x[..., None, :])
        pairs = counts[..., :, None] * others[..., None, :]
        per_sample = np.sum(np.where(pairs > 0, hinge * pairs, 0.0), axis=(-2, -1)) / classes
    return reduce(per_sample, reduction)


def _margin_padding_read(input, target, *, reduction="mean"):
    return _margin_forward(*_margin_inputs(input, target, reduction, padding_read=True), reduction)


def _margin_duplicates_once(input, target, *, reduction="mean"):
    return _margin_forward(*_margin_inputs(input, target, reduction, unique=True), reduction)


def _margin_over_pairs(input, target, *, reduction="mean"):
    x, counts, others, classes = _margin_inputs(input, target, reduction)
    pairs = np.sum(counts, axis=-1) * np.sum(others, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # the bug: the mean over the (target, non-target) pairs instead of PyTorch's division by C
        per_sample = np.where(pairs > 0, _margin_forward(x, counts, others, classes, "none") * classes
                              / np.maximum(pairs, 1), 0.0)
    return reduce(per_sample, reduction)


MUTANTS = [
    Mutant("kl_div_batchmean_as_mean", "kl_div", _kl_batchmean_as_mean, _kl_vjp_batchmean_as_mean,
           "'batchmean' divided by every element, as 'mean' (the mistake PyTorch warns its users about)",
           "denominator"),
    Mutant("kl_div_naive_xlogy", "kl_div", _kl_naive_xlogy, None,
           "t log t written as a product: a target of exactly 0 gives 0 * -inf = NaN instead of 0", "nonfinite"),
    Mutant("kl_div_target_gradient_without_one", "kl_div", None, _kl_vjp_target_without_one,
           "the target's derivative log t - x: the + 1 from d(t log t)/dt forgotten", "gradient"),
    Mutant("multilabel_soft_margin_sum_over_classes", "multilabel_soft_margin_loss", _soft_sum_over_classes, None,
           "the per-class terms summed, not averaged over the classes (a factor C)", "denominator"),
    Mutant("multilabel_soft_margin_naive_log_sigmoid", "multilabel_soft_margin_loss", _soft_naive_log_sigmoid, None,
           "log(sigmoid(x)) and log(1 - sigmoid(x)) as written: -inf, then NaN, for large logits", "overflow"),
    Mutant("multilabel_soft_margin_target_without_gradient", "multilabel_soft_margin_loss", None,
           _soft_vjp_target_constant, "the soft targets given no gradient (treated as labels); PyTorch gives "
           "-w x / C", "gradient"),
    Mutant("multilabel_margin_reads_padding", "multilabel_margin_loss", _margin_padding_read, None,
           "every entry but -1 taken as a target, also the padding after the first -1", "convention"),
    Mutant("multilabel_margin_duplicates_once", "multilabel_margin_loss", _margin_duplicates_once, None,
           "the target indices taken as a set: a class listed twice counted once (PyTorch counts it twice)",
           "convention"),
    Mutant("multilabel_margin_mean_over_pairs", "multilabel_margin_loss", _margin_over_pairs, None,
           "each sample divided by its number of (target, non-target) pairs instead of by C", "denominator"),
]
