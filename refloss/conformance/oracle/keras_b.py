"""mpmath oracles of the Keras/optax losses of package keras_b: Poly-1 cross-entropy, the sparsemax loss, the
cosine similarity loss, and the Dice and Tversky losses (all along the last axis: the conformance cases are 2-D or
1-D).

Each ``losses`` function is the textbook formula at high precision (Leng et al.'s Poly-1 on a softmax computed
without shifts; Martins & Astudillo's sparsemax loss on the unshifted scores, with the projection found by sorting).
Each ``standard`` function is the standard algorithm of one sample with running error bounds (policy_v2), whose
exact values the generator checks against the numerical derivatives of ``losses``.
"""

from __future__ import annotations

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.tensor import SampleOracle, _log_softmax_bounds

__all__ = ["ORACLES"]


def _rows(x: np.ndarray):
    """The rows along the last axis (the class axis of these losses), in row-major sample order."""
    for index in np.ndindex(x.shape[:-1]):
        yield index, list(x[index])


# ---- Poly-1 cross-entropy ----------------------------------------------------------------------------------------

def _poly1_terms(x: np.ndarray, target: np.ndarray, params: dict) -> tuple[list, tuple[int, ...], mpf]:
    """Leng et al. (2022) with label weights y: -sum y_c log p_c + eps sum y_c (1 - p_c), p the softmax."""
    eps = mpf(float(params.get("epsilon", 2.0)))
    losses = []
    for index, row in _rows(x):
        if any(mpmath.isnan(v) for v in row):
            losses.append(mpmath.nan)
            continue
        y = list(target[index])
        # 1 - p_c is tiny for a confident row: enough bits that it keeps its relative accuracy
        with mpmath.workprec(mpmath.mp.prec + int(2 * (max(row) - min(row))) + 64):
            total = mpmath.fsum(mpmath.exp(v) for v in row)
            p = [mpmath.exp(v) / total for v in row]
            log_p = [v - mpmath.log(total) for v in row]
            losses.append(-mpmath.fsum(yc * lp for yc, lp in zip(y, log_p))
                          + eps * mpmath.fsum(yc * (1 - pc) for yc, pc in zip(y, p)))
    return losses, x.shape[:-1], mpf(len(losses))


def _log_softmax_log1p(row: list) -> tuple[list, list]:
    """refloss's log-softmax (A5): z = x - x_a for the first maximum x_a, log p = z - log1p(sum_{j != a} e^z_j),
    accurate for a confident row's tiny log-probabilities; and the softmax e^z / sum e^z. Returns (log p, p)."""
    top = max(row)
    a = row.index(top)
    shifted = [r.exact(v) - top if j != a else r.exact(0) for j, v in enumerate(row)]
    exps = [r.exp(z) if j != a else r.exact(1) for j, z in enumerate(shifted)]
    others = r.total(e for j, e in enumerate(exps) if j != a)
    log_total = r.log1p(others)
    total = r.total(exps)
    return [z - log_total for z in shifted], [e / total for e in exps]


def _expm1_complement(log_p: r.Bound) -> r.Bound:
    """1 - p = -expm1(log p), one rounding of a function with slope p."""
    value = -mpmath.expm1(log_p.value)
    return r.Bound(value, mpmath.exp(log_p.value) * log_p.err + abs(value))


def _complements(row: list) -> list:
    """1 - softmax as refloss's softmax_complement computes it: (sum over j != k of e_j) / sum, the maximum's
    own term exactly 1."""
    top = max(row)
    a = row.index(top)
    exps = [r.exp(r.exact(v) - top) if j != a else r.exact(1) for j, v in enumerate(row)]
    others = r.total(e for j, e in enumerate(exps) if j != a)
    total = 1 + others
    return [(others if k == a else (1 + others) - exps[k]) / total for k in range(len(row))]


def _poly1_standard(row: list, target: list, params: dict) -> tuple:
    """log p by refloss's log-softmax (with log1p); the forward's 1 - p = -expm1(log p) (P3); d/dx_k = p_k S - y_k +
    eps p_k (p-bar - y_k); d/dy_k = -log p_k + eps (1 - p_k) with the complement of softmax_complement (P4)."""
    classes = len(row)
    zero = r.exact(0)
    if any(mpmath.isnan(v) for v in row):
        return zero, [zero] * classes, [zero] * classes, r.exact(1)
    eps = mpf(float(params.get("epsilon", 2.0)))
    log_p, p = _log_softmax_log1p(row)
    missed = [_expm1_complement(lp) for lp in log_p]
    loss = -r.total(target[c] * log_p[c] for c in range(classes)) + eps * r.total(target[c] * missed[c]
                                                                                   for c in range(classes))
    label_sum = r.total(r.exact(v) for v in target)
    caught = r.total(target[c] * p[c] for c in range(classes))
    grad_x = [p[k] * label_sum - target[k] + eps * p[k] * (caught - target[k]) for k in range(classes)]
    # the label gradient with the log-probabilities of the common shifted log-softmax, z - log(sum e^z): its
    # absolute error of a few u is what every framework's log_softmax carries (optax, PyTorch); only the loss's
    # value is held to the relative accuracy of (P3), the point of the confident-row vectors
    common_log_p, _, _ = _log_softmax_bounds(row)
    complements = _complements(row)
    grad_t = [-common_log_p[k] + eps * complements[k] for k in range(classes)]
    return loss, grad_x, grad_t, r.exact(1)


# ---- multiclass sparsemax loss ------------------------------------------------------------------------------------

_NEAR_THRESHOLD = mpf(10) ** -30


def _sparsemax_threshold(z: list) -> tuple[mpf, list]:
    """Martins & Astudillo, Algorithm 1: sort decreasing, k(z) = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)},
    tau = (sum_{j<=k(z)} z_(j) - 1) / k(z). Returns tau and the support (indices).

    A score within 1e-30 of tau (at a change of support, or perturbed off it by the oracle's differentiation
    step of ~1e-45) is kept in the support: the loss is then the one quadratic piece through that point on both
    sides, whose first derivative equals the loss's (the loss is C1 and p_j = 0 there) and whose value differs
    from the loss's by O(step^2). A central difference across the jump of the second derivative would be off by
    O(step) ~ 1e-46 instead."""
    ranked = sorted(z, reverse=True)
    size, running, prefix = 0, mpf(0), mpf(0)
    for k, v in enumerate(ranked, start=1):
        running += v
        if 1 + k * v > running:
            size, prefix = k, running
    tau = (prefix - 1) / size
    scale = max(mpf(1), max(abs(v) for v in z))
    support = [j for j, v in enumerate(z) if v > tau - _NEAR_THRESHOLD * scale]
    tau = (mpmath.fsum(z[j] for j in support) - 1) / len(support)
    return tau, support


def _sparsemax_terms(x: np.ndarray, target: np.ndarray, params: dict) -> tuple[list, tuple[int, ...], mpf]:
    """Martins & Astudillo (2016), eq. 19: -z_k + 1/2 sum_{j in S} (z_j^2 - tau^2) + 1/2."""
    losses = []
    for index, row in _rows(x):
        if any(mpmath.isnan(v) for v in row):
            losses.append(mpmath.nan)
            continue
        tau, support = _sparsemax_threshold(row)
        k = int(target[index])
        losses.append(-row[k] + mpmath.fsum(row[j] ** 2 - tau ** 2 for j in support) / 2 + mpf(1) / 2)
    return losses, x.shape[:-1], mpf(len(losses))


def _sparsemax_standard(row: list, label: int, params: dict) -> tuple:
    """The forward's algorithm: w = z - z_k (S1), tau_w over the support in index order (S2), loss = tau_w +
    (1 + sum p^2) / 2 (S3); the gradient p - onehot with p = w - tau_w, from the shifted scores (S4)."""
    classes = len(row)
    zero = r.exact(0)
    if any(mpmath.isnan(v) for v in row):
        return zero, [zero] * classes, None, r.exact(1)
    _, support = _sparsemax_threshold(row)
    w = [r.exact(v) - row[label] if j != label else r.exact(0) for j, v in enumerate(row)]
    tau_w = (r.total(w[j] for j in support) - 1) / len(support)
    p_w = [w[j] - tau_w for j in support]
    loss = tau_w + (1 + r.total(q * q for q in p_w)) * mpf(0.5)
    grad = [(w[j] - tau_w if j in support else zero) - (1 if j == label else 0) for j in range(classes)]
    return loss, grad, None, r.exact(1)


# ---- cosine similarity loss (Keras) -------------------------------------------------------------------------------

_KERAS_EPSILON = mpf(1e-7)  # backend.epsilon(), the float64 nearest 1e-7


def _cosine_terms(x: np.ndarray, target: np.ndarray, params: dict) -> tuple[list, tuple[int, ...], mpf]:
    """Keras's cosine_similarity: -sum a_i b_i / (max(||a||, eps) max(||b||, eps)) per pair of rows."""
    losses = []
    for index, a in _rows(x):
        b = list(target[index])
        if any(mpmath.isnan(v) for v in a + b):
            losses.append(mpmath.nan)
            continue
        norm_a = max(mpmath.sqrt(mpmath.fsum(v * v for v in a)), _KERAS_EPSILON)
        norm_b = max(mpmath.sqrt(mpmath.fsum(v * v for v in b)), _KERAS_EPSILON)
        losses.append(-mpmath.fsum(u * v for u, v in zip(a, b)) / (norm_a * norm_b))
    return losses, x.shape[:-1], mpf(len(losses))


def _sqrt(a: r.Bound) -> r.Bound:
    value = mpmath.sqrt(a.value)
    return r.Bound(value, (a.err / (2 * value) if value else 0) + value)


def _unit(row: list) -> tuple[list, r.Bound, bool]:
    """(C1): the row times 1 / max(||row||, eps); also the norm and whether it is above the clamp."""
    norm = _sqrt(r.total(r.exact(v) * v for v in row))
    free = norm.value > _KERAS_EPSILON
    divisor = norm if free else r.exact(_KERAS_EPSILON)
    return [r.exact(v) / divisor for v in row], divisor, free


def _cosine_standard(row: list, target: list, params: dict) -> tuple:
    """The normalised rows (C1), the loss -sum a_hat b_hat (C2), and the slopes (C3) of both rows."""
    size = len(row)
    zero = r.exact(0)
    if any(mpmath.isnan(v) for v in row + target):
        return zero, [zero] * size, [zero] * size, r.exact(1)
    unit_a, divisor_a, free_a = _unit(row)
    unit_b, divisor_b, free_b = _unit(target)
    loss = -r.total(u * v for u, v in zip(unit_a, unit_b))

    def slope(unit_x: list, unit_other: list, divisor: r.Bound, free: bool) -> list:
        if free:
            return [-(unit_other[i] + loss * unit_x[i]) / divisor for i in range(size)]
        return [-unit_other[i] / divisor for i in range(size)]

    return loss, slope(unit_a, unit_b, divisor_a, free_a), slope(unit_b, unit_a, divisor_b, free_b), r.exact(1)


# ---- Dice and Tversky losses (Keras, per sample) ------------------------------------------------------------------

def _overlap_terms(tversky: bool):
    """Milletari et al.'s soft Dice 1 - 2 sum(y p) / (sum y + sum p + eps), or Salehi et al.'s Tversky
    1 - I / (I + alpha sum y (1 - p) + beta sum p (1 - y) + eps), with Keras's eps, per sample (row)."""
    def terms(x: np.ndarray, target: np.ndarray, params: dict) -> tuple[list, tuple[int, ...], mpf]:
        alpha, beta = mpf(float(params.get("alpha", 0.5))), mpf(float(params.get("beta", 0.5)))
        losses = []
        for index, p in _rows(x):
            y = list(target[index])
            if any(mpmath.isnan(v) for v in p + y):
                losses.append(mpmath.nan)
                continue
            overlap = mpmath.fsum(a * b for a, b in zip(y, p))
            if tversky:
                missed = mpmath.fsum(a * (1 - b) for a, b in zip(y, p))
                extra = mpmath.fsum(b * (1 - a) for a, b in zip(y, p))
                losses.append(1 - overlap / (overlap + alpha * missed + beta * extra + _KERAS_EPSILON))
            else:
                losses.append(1 - 2 * overlap / (mpmath.fsum(y) + mpmath.fsum(p) + _KERAS_EPSILON))
        return losses, x.shape[:-1], mpf(len(losses))
    return terms


def _dice_standard(row: list, target: list, params: dict) -> tuple:
    """(D1), (D2) with sums in index order; (D3)."""
    size = len(row)
    zero = r.exact(0)
    if any(mpmath.isnan(v) for v in row + target):
        return zero, [zero] * size, [zero] * size, r.exact(1)
    overlap = r.total(r.exact(a) * b for a, b in zip(target, row))
    denominator = r.total(r.exact(v) for v in target) + r.total(r.exact(v) for v in row) + _KERAS_EPSILON
    dice = 2 * overlap / denominator
    grad_p = [-(2 * r.exact(target[i]) - dice) / denominator for i in range(size)]
    grad_y = [-(2 * r.exact(row[i]) - dice) / denominator for i in range(size)]
    return 1 - dice, grad_p, grad_y, r.exact(1)


def _tversky_standard(row: list, target: list, params: dict) -> tuple:
    """(T1), (T2) with sums in index order; (T3)."""
    size = len(row)
    zero = r.exact(0)
    if any(mpmath.isnan(v) for v in row + target):
        return zero, [zero] * size, [zero] * size, r.exact(1)
    alpha, beta = mpf(float(params.get("alpha", 0.5))), mpf(float(params.get("beta", 0.5)))
    y, p = [r.exact(v) for v in target], [r.exact(v) for v in row]
    overlap = r.total(a * b for a, b in zip(y, p))
    missed = r.total(a * (1 - b) for a, b in zip(y, p))
    extra = r.total(b * (1 - a) for a, b in zip(y, p))
    denominator = overlap + alpha * missed + beta * extra + _KERAS_EPSILON
    ratio = overlap / denominator
    grad_p = [-(y[i] - ratio * ((1 - alpha) * y[i] + beta * (1 - y[i]))) / denominator for i in range(size)]
    grad_y = [-(p[i] - ratio * ((1 - beta) * p[i] + alpha * (1 - p[i]))) / denominator for i in range(size)]
    return 1 - ratio, grad_p, grad_y, r.exact(1)


ORACLES = {
    "poly1_cross_entropy": SampleOracle(_poly1_terms, _poly1_standard, target_differentiable=True),
    "sparsemax_loss": SampleOracle(_sparsemax_terms, _sparsemax_standard),
    "cosine_similarity_loss": SampleOracle(_cosine_terms, _cosine_standard, target_differentiable=True),
    "dice_loss": SampleOracle(_overlap_terms(tversky=False), _dice_standard, target_differentiable=True),
    "tversky_loss": SampleOracle(_overlap_terms(tversky=True), _tversky_standard, target_differentiable=True),
}
