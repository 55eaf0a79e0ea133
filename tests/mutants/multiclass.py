"""Mutants of the multi-class losses: cross_entropy, nll_loss, softmax_focal_loss and multi_margin_loss.

Each function is a whole forward or VJP with one bug, marked ``# the bug``; the rest is right. The stable
log-softmax and 1 - softmax come from refloss (parts that are right, and long to write again).
"""

from __future__ import annotations

import numpy as np

import refloss
from refloss.activations import softmax_complement

from ._base import Mutant
from ._port import (as_float, check_reduction, class_axis, class_indices, class_weight, one_hot, positive,
                    reduce, unit_interval)

# ---- cross_entropy and nll_loss: l_n = -sum_c V[n, c] log p[n, c], mean = sum / D ----------------------------


def _targets(input, target, reduction, weight, ignore_index, label_smoothing, check_labels=True,
             check_weight=True, ignored_weight_counted=False):
    """The logits, the coefficients V, the mean's denominator D, the class axis, and whether the targets are
    probabilities (refloss's (C2), (C3))."""
    x = as_float(input, "input")
    check_reduction(reduction)
    axis = class_axis(x.shape)
    classes = x.shape[axis]
    label_smoothing = float(label_smoothing)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    w = class_weight(weight, "weight", classes) if check_weight or weight is None else as_float(weight, "weight")
    w = w.reshape((classes,) + (1,) * (x.ndim - axis - 1))
    target = np.asarray(target)
    if target.dtype.kind == "f":
        if target.shape != x.shape:
            raise ValueError(f"probability target must have the shape of input {x.shape}, got {target.shape}")
        unit_interval(target, "target")
        samples = x.size // classes if classes else 0
        return x, w * ((1 - label_smoothing) * target + label_smoothing / classes), float(samples), axis, True
    if check_labels:
        labels = class_indices(target, x.shape, axis, ignore_index)
    else:
        labels = np.asarray(target)
        if labels.shape != x.shape[:axis] + x.shape[axis + 1:]:
            raise ValueError(f"target must have shape {x.shape[:axis] + x.shape[axis + 1:]}, got {labels.shape}")
    keep = np.expand_dims(labels != ignore_index, axis)
    hot = one_hot(np.where(labels == ignore_index, -1, labels), classes, axis)
    target_weight = np.sum(hot * w, axis=axis, keepdims=True)
    coefficients = keep * ((1 - label_smoothing) * target_weight * hot + label_smoothing / classes * w)
    if ignored_weight_counted:  # the bug of nll_ignored_samples_in_denominator: w[0] stands in for ignored ones
        denominator = float(np.sum(np.where(keep, target_weight, w.reshape(-1)[0])))
    else:
        denominator = float(np.sum(target_weight * keep))
    return x, coefficients, denominator, axis, False


def _per_sample(coefficients, log_p, axis):
    return 0.0 - np.sum(np.where(coefficients != 0, coefficients * log_p, 0.0), axis=axis)


def _reduce(per_sample, reduction, denominator):
    if reduction == "none":
        return per_sample
    total = np.sum(per_sample)
    return total if reduction == "sum" else total / np.float64(denominator) if denominator else total * np.nan


def _sample_cotangent(grad_output, x, axis, reduction, denominator):
    """Each sample's cotangent, broadcast along the class axis, divided by D for 'mean'."""
    shape = x.shape[:axis] + x.shape[axis + 1:]
    g = as_float(grad_output, "grad_output")
    if g.shape != (shape if reduction == "none" else ()):
        raise ValueError(f"grad_output must have shape {shape if reduction == 'none' else ()}, got {g.shape}")
    g = np.expand_dims(np.broadcast_to(g, shape), axis)
    if reduction != "mean":
        return g
    return g / np.float64(denominator) if denominator else g * np.nan  # the mean over nothing is NaN, and so its VJP


def _ce_input_gradient(g, x, coefficients, axis):
    others = np.sum(coefficients, axis=axis, keepdims=True) - coefficients
    return g * (refloss.softmax(x, axis) * others - coefficients * softmax_complement(x, axis))


def _ce_mean_over_samples(input, target, *, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0):
    x, v, _, axis, _ = _targets(input, target, reduction, weight, ignore_index, label_smoothing)
    per_sample = _per_sample(v, refloss.log_softmax(x, axis), axis)
    # the bug: the mean of the per-sample losses, not their sum over sum(w[y_n]) of the samples not ignored
    return {"none": per_sample, "sum": np.sum(per_sample)}.get(reduction, np.sum(per_sample) / per_sample.size)


def _ce_vjp_without_softmax(grad_output, input, target, *, reduction="mean", weight=None, ignore_index=-100,
                            label_smoothing=0.0):
    _, grad_target = refloss.cross_entropy_vjp(grad_output, input, target, reduction=reduction, weight=weight,
                                               ignore_index=ignore_index, label_smoothing=label_smoothing)
    x, v, d, axis, _ = _targets(input, target, reduction, weight, ignore_index, label_smoothing)
    return -_sample_cotangent(grad_output, x, axis, reduction, d) * v, grad_target  # the bug: no softmax(x) sum(V)


def _ce_without_max_shift(input, target, *, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0):
    x, v, d, axis, _ = _targets(input, target, reduction, weight, ignore_index, label_smoothing)
    e = np.exp(x)
    log_p = np.log(e / np.sum(e, axis=axis, keepdims=True))  # the bug: no max shift; exp(1e4) = inf, inf/inf
    return _reduce(_per_sample(v, log_p, axis), reduction, d)



def _ce_fairseq_smoothing(input, target, *, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0):
    x, v, d, axis, probabilities = _targets(input, target, reduction, weight, ignore_index, label_smoothing)
    classes = x.shape[axis]
    if not probabilities and classes > 1:
        labels = np.asarray(target)
        keep = np.expand_dims(labels != ignore_index, axis)
        hot = one_hot(np.where(labels == ignore_index, -1, labels), classes, axis)
        w = class_weight(weight, "weight", classes).reshape((classes,) + (1,) * (x.ndim - axis - 1))
        target_weight = np.sum(hot * w, axis=axis, keepdims=True)
        # the bug: fairseq's smoothing, 1 - eps at the target and eps / (C - 1) spread over the other classes
        # (PyTorch: (1 - eps) + eps / C at the target and eps / C over every class)
        v = keep * ((1 - label_smoothing) * target_weight * hot + label_smoothing / (classes - 1) * w * (1 - hot))
    return _reduce(_per_sample(v, refloss.log_softmax(x, axis), axis), reduction, d)


def _ce_ignore_minus_one(input, target, *, reduction="mean", weight=None, ignore_index=-1,  # the bug
                         label_smoothing=0.0):
    x, v, d, axis, _ = _targets(input, target, reduction, weight, ignore_index, label_smoothing)
    return _reduce(_per_sample(v, refloss.log_softmax(x, axis), axis), reduction, d)


def _ce_vjp_ignore_minus_one(grad_output, input, target, *, reduction="mean", weight=None, ignore_index=-1,  # bug
                             label_smoothing=0.0):
    return refloss.cross_entropy_vjp(grad_output, input, target, reduction=reduction, weight=weight,
                                     ignore_index=ignore_index, label_smoothing=label_smoothing)


def _ce_vjp_probability_target_sign(grad_output, input, target, *, reduction="mean", weight=None,
                                    ignore_index=-100, label_smoothing=0.0):
    x, v, d, axis, probabilities = _targets(input, target, reduction, weight, ignore_index, label_smoothing)
    g = _sample_cotangent(grad_output, x, axis, reduction, d)
    w = class_weight(weight, "weight", x.shape[axis]).reshape((x.shape[axis],) + (1,) * (x.ndim - axis - 1))
    # the bug: d/dt of -sum w ((1 - eps) t + eps / C) log p is -(1 - eps) w log p; the minus is lost
    grad_target = g * (1 - label_smoothing) * w * refloss.log_softmax(x, axis) if probabilities else None
    return _ce_input_gradient(g, x, v, axis), grad_target


def _ce_forward_without_label_check(input, target, *, reduction="mean", weight=None, ignore_index=-100,
                                    label_smoothing=0.0):
    # the bug: labels not checked; one_hot by comparison makes an out-of-range label a row of zeros
    x, v, d, axis, _ = _targets(input, target, reduction, weight, ignore_index, label_smoothing, check_labels=False)
    return _reduce(_per_sample(v, refloss.log_softmax(x, axis), axis), reduction, d)


def _nll_weighted_mean_over_count(input, target, *, reduction="mean", weight=None, ignore_index=-100):
    x, v, _, axis, _ = _targets(input, target, reduction, weight, ignore_index, 0.0)
    kept = np.sum(np.asarray(target) != ignore_index)
    return _reduce(_per_sample(v, x, axis), reduction, kept)  # the bug: divides by the count, not sum(w[y_n])


def _nll_ignored_in_denominator(input, target, *, reduction="mean", weight=None, ignore_index=-100):
    x, v, d, axis, _ = _targets(input, target, reduction, weight, ignore_index, 0.0, ignored_weight_counted=True)
    return _reduce(_per_sample(v, x, axis), reduction, d)


def _nll_vjp_gradient_sign(grad_output, input, target, *, reduction="mean", weight=None, ignore_index=-100):
    x, v, d, axis, _ = _targets(input, target, reduction, weight, ignore_index, 0.0)
    return _sample_cotangent(grad_output, x, axis, reduction, d) * v, None  # the bug: d(-V x)/dx is -V


def _nll_vjp_mean_of_grad_output(grad_output, input, target, *, reduction="mean", weight=None, ignore_index=-100):
    x, v, d, axis, _ = _targets(input, target, reduction, weight, ignore_index, 0.0)
    g = _sample_cotangent(grad_output, x, axis, reduction, d)
    g = np.full(g.shape, np.mean(g)) if g.size else g  # the bug: every sample gets the mean cotangent
    return 0.0 - g * v, None


def _nll_vjp_without_weight_check(grad_output, input, target, *, reduction="mean", weight=None, ignore_index=-100):
    x, v, d, axis, _ = _targets(input, target, reduction, weight, ignore_index, 0.0, check_weight=False)  # the bug
    return 0.0 - _sample_cotangent(grad_output, x, axis, reduction, d) * v, None


# ---- softmax_focal_loss: -alpha_y (1 - p_y)^gamma log p_y, mean over the samples --------------------------------

def _focal_inputs(input, target, reduction, alpha, gamma, check_labels=True):
    x = as_float(input, "input")
    check_reduction(reduction)
    axis = class_axis(x.shape)
    gamma = positive(gamma, "gamma", allow_zero=True)
    labels = class_indices(target, x.shape, axis) if check_labels else np.asarray(target)
    # a scalar alpha (the sigmoid focal loss's form, only in a mutant's default) weighs every class alike
    alpha = np.full(x.shape[axis], float(alpha)) if np.isscalar(alpha) else class_weight(alpha, "alpha", x.shape[axis])
    hot = one_hot(labels, x.shape[axis], axis)
    log_p = np.sum(np.where(hot == 1, refloss.log_softmax(x, axis), 0.0), axis=axis)
    alpha_y = np.sum(hot * alpha.reshape((-1,) + (1,) * (x.ndim - axis - 1)), axis=axis)
    return x, axis, hot, log_p, alpha_y, gamma


def _focal_value(log_p, alpha_y, gamma, q=None):
    q = -np.expm1(log_p) if q is None else q
    return 0.0 - alpha_y * q ** gamma * log_p


def _focal_d_log_p(log_p, alpha_y, gamma):
    """d loss / d log p_y (refloss's (S4)): -alpha_y q^gamma (1 - gamma p_y log p_y / q), its limit at q = 0."""
    q = -np.expm1(log_p)
    ratio = np.where(q > 0, log_p / np.where(q > 0, q, 1.0), -1.0)
    return -alpha_y * q ** gamma * (1 - gamma * np.exp(log_p) * ratio)


def _focal_vjp(grad_output, x, axis, hot, d_log_p, reduction):
    """The chain rule through log p_y = x_y - logsumexp(x): ([k = y] - p_k) times each sample's cotangent."""
    shape = x.shape[:axis] + x.shape[axis + 1:]
    g = as_float(grad_output, "grad_output")
    if g.shape != (shape if reduction == "none" else ()):
        raise ValueError(f"grad_output has shape {g.shape}")
    g = np.broadcast_to(g, shape) / (np.float64(int(np.prod(shape))) if reduction == "mean" else 1.0)
    indicator_minus_p = np.where(hot == 1, softmax_complement(x, axis), -refloss.softmax(x, axis))
    return np.expand_dims(g * d_log_p, axis) * indicator_minus_p, None


def _softmax_focal_one_minus_exp(input, target, *, reduction="mean", alpha=None, gamma=2.0):
    x, axis, hot, log_p, alpha_y, gamma = _focal_inputs(input, target, reduction, alpha, gamma)
    return reduce(_focal_value(log_p, alpha_y, gamma, q=1 - np.exp(log_p)), reduction)  # the bug: not -expm1


def _softmax_focal_alpha_quarter(input, target, *, reduction="mean", alpha=0.25, gamma=2.0):  # the bug
    x, axis, hot, log_p, alpha_y, gamma = _focal_inputs(input, target, reduction, alpha, gamma)
    return reduce(_focal_value(log_p, alpha_y, gamma), reduction)


def _softmax_focal_vjp_alpha_quarter(grad_output, input, target, *, reduction="mean", alpha=0.25,  # the bug
                                     gamma=2.0):
    x, axis, hot, log_p, alpha_y, gamma = _focal_inputs(input, target, reduction, alpha, gamma)
    return _focal_vjp(grad_output, x, axis, hot, _focal_d_log_p(log_p, alpha_y, gamma), reduction)


def _softmax_focal_vjp_detached_factor(grad_output, input, target, *, reduction="mean", alpha=None, gamma=2.0):
    x, axis, hot, log_p, alpha_y, gamma = _focal_inputs(input, target, reduction, alpha, gamma)
    d_log_p = -alpha_y * (-np.expm1(log_p)) ** gamma  # the bug: (1 - p)^gamma treated as a constant (detached)
    return _focal_vjp(grad_output, x, axis, hot, d_log_p, reduction)


def _softmax_focal_vjp_power_rule(grad_output, input, target, *, reduction="mean", alpha=None, gamma=2.0):
    x, axis, hot, log_p, alpha_y, gamma = _focal_inputs(input, target, reduction, alpha, gamma)
    q, p_y = -np.expm1(log_p), np.exp(log_p)
    # the bug: d(q^gamma)/dq = gamma q^(gamma - 1) as written: inf * 0 = NaN at q = 0 for gamma < 1
    d_log_p = -alpha_y * (q ** gamma - gamma * q ** (gamma - 1) * p_y * log_p)
    return _focal_vjp(grad_output, x, axis, hot, d_log_p, reduction)


def _softmax_focal_mean_over_alpha(input, target, *, reduction="mean", alpha=None, gamma=2.0):
    x, axis, hot, log_p, alpha_y, gamma = _focal_inputs(input, target, reduction, alpha, gamma)
    per_sample = _focal_value(log_p, alpha_y, gamma)
    if reduction != "mean":
        return reduce(per_sample, reduction)
    return np.sum(per_sample) / np.sum(alpha_y)  # the bug: divides by sum(alpha[y_n]), not by the sample count


# label smoothing (Keras 3's categorical focal cross-entropy): -sum_k alpha_k t_k (1 - p_k)^gamma log p_k,
# t_k = (1 - eps) [k = y] + eps / C

def _smoothed_focal(input, target, reduction, alpha, gamma, label_smoothing, *, other_mass=None,
                    target_factor_only=False, focal_on_smoothing=True):
    """The smoothed focal loss; the keywords switch on one bug each."""
    x, axis, hot, log_p_y, alpha_y, gamma = _focal_inputs(input, target, reduction, alpha, gamma)
    classes = x.shape[axis]
    eps = positive(label_smoothing, "label_smoothing", allow_zero=True)
    if eps > 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {eps}")
    alpha = np.ones(classes) if alpha is None else np.asarray(alpha, float)
    alpha = alpha.reshape((-1,) + (1,) * (x.ndim - axis - 1))
    log_p = refloss.log_softmax(x, axis)
    uniform = eps / classes if other_mass is None else other_mass(eps, classes)
    mass = np.where(hot == 1, 1 - eps + (uniform if other_mass is None else 0.0), uniform)
    q = -np.expm1(np.expand_dims(log_p_y, axis) if target_factor_only else log_p)
    focal = q ** gamma if focal_on_smoothing else np.where(hot == 1, q ** gamma, 1.0)
    with np.errstate(invalid="ignore"):
        terms = np.where(mass != 0, alpha * mass * focal * log_p, 0.0)
    return reduce(0.0 - np.sum(terms, axis=axis), reduction)


def _softmax_focal_smoothing_without_focal_factor(input, target, *, reduction="mean", alpha=None, gamma=2.0,
                                                  label_smoothing=0.0):
    # the bug: cross_entropy's smoothing bolted on, the smoothed classes' terms without (1 - p_k)^gamma
    return _smoothed_focal(input, target, reduction, alpha, gamma, label_smoothing, focal_on_smoothing=False)


def _softmax_focal_smoothing_over_other_classes(input, target, *, reduction="mean", alpha=None, gamma=2.0,
                                                label_smoothing=0.0):
    # the bug: eps spread over the C - 1 other classes (t_y = 1 - eps), the other common definition
    return _smoothed_focal(input, target, reduction, alpha, gamma, label_smoothing,
                           other_mass=lambda eps, classes: eps / max(classes - 1, 1))


def _softmax_focal_smoothing_target_factor(input, target, *, reduction="mean", alpha=None, gamma=2.0,
                                           label_smoothing=0.0):
    # the bug: every class's term scaled by the target's focal factor (1 - p_y)^gamma instead of its own
    return _smoothed_focal(input, target, reduction, alpha, gamma, label_smoothing, target_factor_only=True)


def _softmax_focal_vjp_ignores_smoothing(grad_output, input, target, *, reduction="mean", alpha=None, gamma=2.0,
                                         label_smoothing=0.0):
    # the bug: the backward of the unsmoothed loss (the smoothing forgotten in a hand-written backward)
    return refloss.softmax_focal_loss_vjp(grad_output, input, target, reduction=reduction, alpha=alpha, gamma=gamma)


def _softmax_focal_vjp_without_label_check(grad_output, input, target, *, reduction="mean", alpha=None, gamma=2.0):
    x, axis, hot, log_p, alpha_y, gamma = _focal_inputs(input, target, reduction, alpha, gamma,
                                                        check_labels=False)  # the bug
    return _focal_vjp(grad_output, x, axis, hot, _focal_d_log_p(log_p, alpha_y, gamma), reduction)


# ---- multi_margin_loss: w_y / C sum_{i != y} max(0, margin - x_y + x_i)^p, mean over the samples ----------------

def _margin_inputs(input, target, reduction, p, margin, weight, check_p=True):
    x = as_float(input, "input")
    check_reduction(reduction)
    if x.ndim not in (1, 2):
        raise ValueError(f"input must have shape (N, C) or (C,), got {x.shape}")
    if check_p and (isinstance(p, bool) or p not in (1, 2)):
        raise ValueError(f"p must be 1 or 2, got {p!r}")
    classes = x.shape[-1]
    labels = class_indices(target, x.shape, x.ndim - 1)
    w = class_weight(weight, "weight", classes)
    hot = (labels[..., None] == np.arange(classes)).astype(float)
    z = float(margin) - np.sum(np.where(hot == 1, x, 0.0), axis=-1, keepdims=True) + x
    return x, hot, z, np.sum(hot * w, axis=-1), w, int(p), classes


def _margin_slope(z, hot, p, active=None):
    """d max(0, z)^p / dz for the terms i != y (0 at z = 0, PyTorch's z > 0); NaN propagates."""
    active = (z > 0) & (hot == 0) if active is None else active
    return np.where(np.isnan(z), np.nan, np.where(active, p * np.where(active, z, 1.0) ** (p - 1), 0.0))


def _margin_vjp(grad_output, x, hot, w_y, classes, slope, reduction):
    """The chain rule of w_y / C sum_i max(0, z_i)^p through z_i = margin - x_y + x_i, given each term's slope."""
    g = as_float(grad_output, "grad_output")
    if g.shape != (x.shape[:-1] if reduction == "none" else ()):
        raise ValueError(f"grad_output has shape {g.shape}")
    g = np.broadcast_to(g, x.shape[:-1]) / (np.float64(hot.size // hot.shape[-1]) if reduction == "mean" else 1.0)
    others = np.expand_dims(g * w_y / classes, -1) * slope
    return others - hot * np.sum(others, axis=-1, keepdims=True), None


def _margin_sum_over_classes(input, target, *, reduction="mean", p=1, margin=1.0, weight=None):
    x, hot, z, w_y, _, p, classes = _margin_inputs(input, target, reduction, p, margin, weight)
    per_sample = w_y * np.sum((np.maximum(0, z) * (1 - hot)) ** p, axis=-1)  # the bug: no 1/C
    return reduce(per_sample, reduction)


def _margin_target_term_included(input, target, *, reduction="mean", p=1, margin=1.0, weight=None):
    x, hot, z, w_y, _, p, classes = _margin_inputs(input, target, reduction, p, margin, weight)
    per_sample = w_y / classes * np.sum(np.maximum(0, z) ** p, axis=-1)  # the bug: i = y adds margin^p
    return reduce(per_sample, reduction)


def _margin_weight_of_other_class(input, target, *, reduction="mean", p=1, margin=1.0, weight=None):
    x, hot, z, _, w, p, classes = _margin_inputs(input, target, reduction, p, margin, weight)
    per_sample = np.sum(w * (np.maximum(0, z) * (1 - hot)) ** p, axis=-1) / classes  # the bug: w_i, not w_y
    return reduce(per_sample, reduction)


def _margin_vjp_p2_without_factor_two(grad_output, input, target, *, reduction="mean", p=1, margin=1.0,
                                      weight=None):
    x, hot, z, w_y, _, p, classes = _margin_inputs(input, target, reduction, p, margin, weight)
    slope = _margin_slope(z, hot, 1) * (np.maximum(z, 0) if p == 2 else 1.0)  # the bug: z for 2 z when p = 2
    return _margin_vjp(grad_output, x, hot, w_y, classes, slope, reduction)


def _margin_vjp_margin_forgotten_in_branch(grad_output, input, target, *, reduction="mean", p=1, margin=1.0,
                                           weight=None):
    x, hot, z, w_y, _, p, classes = _margin_inputs(input, target, reduction, p, margin, weight)
    active = (z - float(margin) > 0) & (hot == 0)  # the bug: the test x_i > x_y, the margin forgotten
    return _margin_vjp(grad_output, x, hot, w_y, classes, _margin_slope(z, hot, p, active), reduction)


def _margin_vjp_without_p_check(grad_output, input, target, *, reduction="mean", p=1, margin=1.0, weight=None):
    x, hot, z, w_y, _, p, classes = _margin_inputs(input, target, reduction, p, margin, weight, check_p=False)  # bug
    return _margin_vjp(grad_output, x, hot, w_y, classes, _margin_slope(z, hot, p), reduction)


MUTANTS = [
    # cross_entropy
    Mutant("cross_entropy_mean_over_samples", "cross_entropy", _ce_mean_over_samples, None,
           "'mean' divides by N, counting ignored samples and ignoring the class weights (sum of w[y_n] over "
           "the samples not ignored)", "denominator"),
    Mutant("cross_entropy_gradient_without_softmax", "cross_entropy", None, _ce_vjp_without_softmax,
           "the gradient p - onehot with the softmax term dropped", "gradient"),
    Mutant("cross_entropy_log_softmax_without_max_shift", "cross_entropy", _ce_without_max_shift, None,
           "log(softmax(x)) without the max shift: exp overflows for logits above 709", "overflow"),
    Mutant("cross_entropy_fairseq_label_smoothing", "cross_entropy", _ce_fairseq_smoothing, None,
           "fairseq's smoothing (eps / (C - 1) on the other classes) instead of PyTorch's (eps / C on every class)",
           "convention"),
    Mutant("cross_entropy_default_ignore_index_minus_one", "cross_entropy", _ce_ignore_minus_one,
           _ce_vjp_ignore_minus_one, "default ignore_index -1 instead of PyTorch's -100", "default"),
    Mutant("cross_entropy_probability_target_gradient_sign", "cross_entropy", None,
           _ce_vjp_probability_target_sign, "the gradient of probability targets without its minus sign",
           "gradient"),
    Mutant("cross_entropy_forward_skips_label_check", "cross_entropy", _ce_forward_without_label_check, None,
           "the forward accepts labels outside [0, C) (one-hot by comparison: a zero row), only the backward "
           "checks them", "validation"),
    # nll_loss
    Mutant("nll_weighted_mean_over_count", "nll_loss", _nll_weighted_mean_over_count, None,
           "a weighted mean divided by the number of samples not ignored instead of sum(w[y_n])", "denominator"),
    Mutant("nll_ignored_samples_in_denominator", "nll_loss", _nll_ignored_in_denominator, None,
           "the denominator gathers w[y_n] with ignored labels replaced by 0, so each ignored sample adds w[0]",
           "denominator"),
    Mutant("nll_gradient_sign", "nll_loss", None, _nll_vjp_gradient_sign,
           "the gradient +w[y] / D instead of -w[y] / D", "gradient"),
    Mutant("nll_vjp_uses_mean_of_grad_output", "nll_loss", None, _nll_vjp_mean_of_grad_output,
           "reduction 'none': every sample gets the mean of grad_output instead of its own entry", "cotangent"),
    Mutant("nll_vjp_skips_weight_check", "nll_loss", None, _nll_vjp_without_weight_check,
           "the backward accepts a negative class weight (only the forward validates it)", "validation"),
    # softmax_focal_loss
    Mutant("softmax_focal_one_minus_exp", "softmax_focal_loss", _softmax_focal_one_minus_exp, None,
           "1 - p_y as 1 - exp(log p_y): 0 for a confident row instead of 8.5e-18", "precision"),
    Mutant("softmax_focal_default_alpha_quarter", "softmax_focal_loss", _softmax_focal_alpha_quarter,
           _softmax_focal_vjp_alpha_quarter, "default alpha 0.25 for every class (the sigmoid focal loss's) "
           "instead of no weighting", "default"),
    Mutant("softmax_focal_detached_modulating_factor", "softmax_focal_loss", None,
           _softmax_focal_vjp_detached_factor, "(1 - p_y)^gamma treated as a constant in the backward "
           "(.detach() on the focal weight)", "gradient"),
    Mutant("softmax_focal_power_rule_nan", "softmax_focal_loss", None, _softmax_focal_vjp_power_rule,
           "gamma q^(gamma - 1) as written: NaN at q = 0 for gamma < 1", "nonfinite"),
    Mutant("softmax_focal_mean_over_alpha_sum", "softmax_focal_loss", _softmax_focal_mean_over_alpha, None,
           "'mean' divided by sum(alpha[y_n]) (cross_entropy's rule for weight) instead of the sample count",
           "denominator"),
    Mutant("softmax_focal_vjp_skips_label_check", "softmax_focal_loss", None, _softmax_focal_vjp_without_label_check,
           "the backward accepts labels outside [0, C) (only the forward validates them)", "validation"),
    Mutant("softmax_focal_smoothing_without_focal_factor", "softmax_focal_loss",
           _softmax_focal_smoothing_without_focal_factor, None, "label smoothing as cross_entropy's: the smoothed "
           "classes' terms without their focal factor", "convention"),
    Mutant("softmax_focal_smoothing_over_other_classes", "softmax_focal_loss",
           _softmax_focal_smoothing_over_other_classes, None, "label smoothing eps spread over the C - 1 other "
           "classes instead of eps / C over all", "convention"),
    Mutant("softmax_focal_smoothing_target_factor", "softmax_focal_loss", _softmax_focal_smoothing_target_factor,
           None, "every class's smoothed term scaled by the target's (1 - p_y)^gamma", "formula"),
    Mutant("softmax_focal_vjp_ignores_smoothing", "softmax_focal_loss", None, _softmax_focal_vjp_ignores_smoothing,
           "the backward ignores label_smoothing", "gradient"),
    # multi_margin_loss
    Mutant("multi_margin_sum_over_classes", "multi_margin_loss", _margin_sum_over_classes, None,
           "each sample's terms summed instead of averaged over the C classes", "denominator"),
    Mutant("multi_margin_target_term_included", "multi_margin_loss", _margin_target_term_included, None,
           "the term i = y included (it adds margin^p / C to every sample)", "formula"),
    Mutant("multi_margin_weight_of_other_class", "multi_margin_loss", _margin_weight_of_other_class, None,
           "each term weighted by w[i] instead of the target's w[y]", "convention"),
    Mutant("multi_margin_p2_gradient_missing_factor_two", "multi_margin_loss", None,
           _margin_vjp_p2_without_factor_two, "for p = 2 the derivative of z^2 taken as z", "gradient"),
    Mutant("multi_margin_branch_without_margin", "multi_margin_loss", None, _margin_vjp_margin_forgotten_in_branch,
           "the backward's branch tests x_i > x_y, forgetting the margin (the forward has it)", "branch"),
    Mutant("multi_margin_vjp_skips_p_check", "multi_margin_loss", None, _margin_vjp_without_p_check,
           "the backward accepts p = 3 (only the forward validates it)", "validation"),
]
