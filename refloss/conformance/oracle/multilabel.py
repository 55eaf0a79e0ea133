"""mpmath oracles of kl_div, multilabel_soft_margin_loss and multilabel_margin_loss, from their definitions.

kl_div is elementwise (evaluated by :mod:`refloss.conformance.oracle.evaluate`, whose reductions include kl_div's
``batchmean``); the two multi-label losses couple the classes of a sample (evaluated by
:mod:`refloss.conformance.oracle.tensor`).
"""

from __future__ import annotations

import mpmath
from mpmath import mpf

import numpy as np

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.elementwise import ElementwiseOracle
from refloss.conformance.oracle.tensor import SampleOracle

__all__ = ["ORACLES"]


# ---- kl_div -------------------------------------------------------------------------------------------------------

def _kl_div(x: mpf, t: mpf, p: dict) -> mpf:
    """Kullback & Leibler, one term of KL(t || exp(x)): t (log t - x), with 0 log 0 = 0 (PyTorch's xlogy); with
    log_target the target is u = log t and the term is e^u (u - x). A negative probability has no value (NaN:
    one-sided differences at t = 0 step there)."""
    if p.get("log_target", 0):
        return mpmath.exp(t) * (t - x)
    if t < 0:
        return mpmath.nan
    return t * (mpmath.log(t) - x) if t != 0 else mpf(0)


def _kl_div_standard(x: mpf, t: mpf, p: dict) -> tuple:
    """As refloss and PyTorch compute it: xlogy(t, t) - t x; d/dx = -t, d/dt = (log t + 1) - x (none at t = 0);
    with log_target: e^u (u - x), d/dx = -e^u, d/du = e^u ((u - x) + 1)."""
    if p.get("log_target", 0):
        weight = r.exp(t)
        return weight * (r.exact(t) - x), -weight, weight * ((r.exact(t) - x) + 1)
    if t == 0:
        return r.exact(0), r.exact(0), None
    return r.exact(t) * r.log(t) - r.exact(t) * x, r.exact(-t), (r.log(t) + 1) - x


def _kl_div_limits(x: mpf, t: mpf, p: dict) -> tuple:
    """(value, d/dx, d/dt) where an input is infinite: (K1)-(K4) in extended arithmetic, where 0 * inf is NaN (an
    indeterminate form, as IEEE arithmetic and PyTorch have it: x = -inf with t = 0 is NaN, not the limit 0)."""
    if p.get("log_target", 0):
        weight = mpmath.exp(t)
        return _times(weight, t - x), -weight, _times(weight, t - x + 1)
    if t == 0:
        return _times(t, x), mpf(0), mpmath.nan
    return _times(t, mpmath.log(t) - x), -t, mpmath.log(t) + 1 - x


def _times(a: mpf, b: mpf) -> mpf:
    """a * b with 0 * inf = NaN (mpmath agrees; spelled out so that the convention is visible)."""
    return mpmath.nan if (a == 0 and mpmath.isinf(b)) or (b == 0 and mpmath.isinf(a)) else a * b


def _kl_div_kink(x: mpf, t: mpf, p: dict) -> mpf:
    """0 at t = 0 (log_target=False), where the target's derivative does not exist (one-sided there: NaN)."""
    return mpmath.inf if p.get("log_target", 0) else abs(t)


# ---- multilabel_soft_margin_loss: the mean over classes of a weighted binary cross-entropy with logits -----------

def _rows(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """The samples' rows (classes on the last axis) and the sample shape."""
    return x.reshape(-1, x.shape[-1]), x.shape[:-1]


def _weights(params: dict, classes: int) -> list:
    weight = params.get("weight")
    return [mpf(float(v)) for v in weight] if weight is not None else [mpf(1)] * classes


def _soft_margin_terms(x: np.ndarray, t: np.ndarray, params: dict) -> tuple[list, tuple[int, ...], mpf]:
    """PyTorch's documented formula: -1/C sum_c w_c [t_c log sigma(x_c) + (1 - t_c) log(1 - sigma(x_c))] per
    sample, mean over the samples. 1 - sigma(x) cancels for large x: about 1.5 |x| extra bits are carried."""
    rows, sample_shape = _rows(x)
    targets, _ = _rows(t)
    classes = x.shape[-1]
    w = _weights(params, classes)
    losses = []
    for row, target in zip(rows, targets):
        if any(mpmath.isnan(v) for v in row):  # a NaN logit makes its sample's loss NaN
            losses.append(mpmath.nan)
            continue
        terms = []
        for c in range(classes):
            with mpmath.workprec(mpmath.mp.prec + int(1.5 * abs(row[c])) + 64):
                sigma = 1 / (1 + mpmath.exp(-row[c]))
                positive = target[c] * mpmath.log(sigma) if target[c] != 0 else mpf(0)
                negative = (1 - target[c]) * mpmath.log(1 - sigma) if target[c] != 1 else mpf(0)
                terms.append(-w[c] * (positive + negative))
        losses.append(mpmath.fsum(terms) / classes)
    return losses, sample_shape, mpf(len(losses))


def _soft_margin_standard(row: list, target: list, params: dict) -> tuple:
    """Per class w [t softplus(-x) + (1 - t) softplus(x)], summed in order and divided by C; d/dx_c = w/C
    ((1 - t) sigma(x) - t sigma(-x)), d/dt_c = -w/C x (the two softplus differ by exactly x)."""
    classes = len(row)
    w = _weights(params, classes)
    if any(mpmath.isnan(v) for v in row):  # a NaN row: NaN expectations, no error bound
        zero = r.exact(0)
        return zero, [zero] * classes, [zero] * classes, r.exact(1)
    terms, grad_x, grad_t = [], [], []
    for c in range(classes):
        x, t = row[c], target[c]
        complement = r.exact(1) - t
        terms.append((r.exact(t) * r.softplus(-x) + complement * r.softplus(x)) * w[c])
        grad_x.append((complement * r.sigmoid(x) - r.exact(t) * r.sigmoid(-x)) * w[c] / classes)
        grad_t.append(r.exact(-x) * w[c] / classes)
    return r.total(terms) / classes, grad_x, grad_t, r.exact(1)


# ---- multilabel_margin_loss: sum over target j and non-target i of max(0, 1 - x_j + x_i), over C ---------------

def _listed(labels: list) -> list:
    """The target classes of a row: its entries before the first -1, in order, duplicates kept."""
    listed = []
    for label in labels:
        if label == -1:
            break
        listed.append(int(label))
    return listed


def _margin_terms(x: np.ndarray, target: np.ndarray, params: dict) -> tuple[list, tuple[int, ...], mpf]:
    """PyTorch's documented formula: sum_ij max(0, 1 - (x[y[j]] - x[i])) / C over the listed targets y[j] and the
    classes i that are not listed; mean over the samples."""
    rows, sample_shape = _rows(x)
    labels, _ = _rows(target)
    classes = x.shape[-1]
    losses = []
    for row, row_labels in zip(rows, labels):
        listed = _listed(list(row_labels))
        others = [i for i in range(classes) if i not in listed]
        losses.append(mpmath.fsum(max(mpf(0), 1 - (row[j] - row[i])) for j in listed for i in others) / classes)
    return losses, sample_shape, mpf(len(losses))


def _margin_standard(row: list, labels: list, params: dict) -> tuple:
    """z = (1 - x_j) + x_i per pair, the hinges summed over i then j, over C; d/dx_k = (number of active pairs
    where k is the non-target - those where k is the target) / C."""
    classes = len(row)
    listed = _listed(labels)
    others = [i for i in range(classes) if i not in listed]
    sums, counts = [], [0] * classes
    for j in listed:
        hinges = []
        for i in others:
            z = (r.exact(1) - row[j]) + row[i]
            # an exact 0 may be computed as +-err: the bound keeps that error on the active side
            hinges.append(z if z.value > 0 else r.Bound(0, z.err if z.value == 0 else 0))
            if z.value > 0:
                counts[i] += 1
                counts[j] -= 1
        sums.append(r.total(hinges))
    return r.total(sums) / classes, [r.exact(n) / classes for n in counts], None, r.exact(1)


def _margin_kink(row: list, labels: list, params: dict, c: int) -> bool:
    """Entry c sits at a kink when a pair (j, i) it belongs to is exactly at the margin (z = 0)."""
    listed = _listed(labels)
    others = [i for i in range(len(row)) if i not in listed]
    return any(1 - row[j] + row[i] == 0 and c in (j, i) for j in listed for i in others)


ORACLES = {
    "kl_div": ElementwiseOracle(_kl_div, _kl_div_standard, kink_distance=_kl_div_kink, limits=_kl_div_limits),
    "multilabel_soft_margin_loss": SampleOracle(_soft_margin_terms, _soft_margin_standard,
                                                target_differentiable=True),
    "multilabel_margin_loss": SampleOracle(_margin_terms, _margin_standard, at_kink=_margin_kink),
}
