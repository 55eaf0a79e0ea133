"""Oracles of losses that couple the elements of a sample (softmax cross-entropy, NLL), and their evaluation.

A :class:`SampleOracle` computes each sample's loss from the whole input (textbook formulas in mpmath) and the
mean's denominator; :func:`evaluate_samples` applies the reduction exactly and differentiates the reduced output,
contracted with the cotangent, with respect to every element of the differentiable input by ``mpmath.diff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle.evaluate import DIGITS, Expectation, Tensor, _snap

__all__ = ["ORACLES", "SampleOracle", "evaluate_samples"]

_DIFF_DIGITS = 120


@dataclass(frozen=True)
class SampleOracle:
    """``losses(x, target, params)`` returns (each sample's loss as a list in row-major sample order, the sample
    shape, the ``mean`` denominator); ``x`` is an object array of mpf values."""

    losses: Callable[[np.ndarray, np.ndarray, dict], tuple[list, tuple[int, ...], Any]]


def _class_axis(x: np.ndarray) -> int:
    return 1 if x.ndim > 1 else 0


def _log_softmax_rows(x: np.ndarray) -> np.ndarray:
    """log p = (x - m) - log(sum exp(x - m)) over the class axis, m the row maximum. mpmath cannot overflow; the
    shift only makes an exact 0 come out as 0 (C = 1: x - log(exp(x)) would leave 1e-61 of rounding noise)."""
    axis = _class_axis(x)
    moved = np.moveaxis(x, axis, -1)
    out = np.empty(moved.shape, dtype=object)
    for index in np.ndindex(moved.shape[:-1]):
        row = moved[index]
        top = max(row) if not any(mpmath.isnan(v) for v in row) else mpmath.nan
        log_total = mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in row))
        out[index] = [(v - top) - log_total for v in row]
    return np.moveaxis(out, -1, axis)


def _cross_entropy_terms(logp: np.ndarray, target: np.ndarray, params: dict) -> tuple[list, tuple[int, ...], Any]:
    """PyTorch's documented formula: (1 - eps) * -w[y] log p[y] + eps * -sum_c w[c] log p[c] / C per sample,
    ignored samples 0, mean over the weights of the targets' classes; or, for probability targets,
    -sum_c w[c] ((1 - eps) t[c] + eps / C) log p[c], mean over the number of samples."""
    axis = _class_axis(logp)
    classes = logp.shape[axis]
    weight = params.get("weight")
    w = [mpf(float(v)) for v in weight] if weight is not None else [mpf(1)] * classes
    eps = mpf(float(params.get("label_smoothing", 0.0)))
    ignore_index = int(params.get("ignore_index", -100))
    moved = np.moveaxis(logp, axis, -1)
    losses, denominator = [], mpf(0)
    if target.dtype.kind == "i":
        for index in np.ndindex(moved.shape[:-1]):
            label = int(target[index])
            if label == ignore_index:
                losses.append(mpf(0))
                continue
            row = moved[index]
            loss = (1 - eps) * -w[label] * row[label]
            if eps != 0:  # (without smoothing, a masked class's log p = -inf must not enter as 0 * -inf)
                loss += eps * -mpmath.fsum(w[c] * row[c] for c in range(classes)) / classes
            losses.append(loss)
            denominator += w[label]
    else:
        t = np.moveaxis(target, axis, -1)
        for index in np.ndindex(moved.shape[:-1]):
            row = moved[index]
            losses.append(-mpmath.fsum(w[c] * ((1 - eps) * mpf(float(t[index][c])) + eps / classes) * row[c]
                                       for c in range(classes)))
        denominator = mpf(len(losses))
    return losses, moved.shape[:-1], denominator


def _multi_margin_terms(x: np.ndarray, target: np.ndarray, params: dict) -> tuple[list, tuple[int, ...], Any]:
    """Weston & Watkins / PyTorch: w_y / C * sum_{i != y} max(0, margin - x_y + x_i)^p per sample; mean over N."""
    classes = x.shape[-1]
    weight = params.get("weight")
    w = [mpf(float(v)) for v in weight] if weight is not None else [mpf(1)] * classes
    margin, power = mpf(float(params.get("margin", 1.0))), int(params.get("p", 1))
    losses = []
    for index in np.ndindex(x.shape[:-1]):
        row, label = x[index], int(target[index])
        if any(mpmath.isnan(v) for v in row):
            losses.append(mpmath.nan)  # (Python's max would silently drop a NaN)
            continue
        losses.append(w[label] / classes * mpmath.fsum(max(mpf(0), margin - row[label] + row[i]) ** power
                                                       for i in range(classes) if i != label))
    return losses, x.shape[:-1], mpf(len(losses))


def _softmax_focal_terms(x: np.ndarray, target: np.ndarray, params: dict) -> tuple[list, tuple[int, ...], Any]:
    """Lin et al. on the softmax: -alpha_y (1 - p_y)^gamma log p_y per sample; mean over the samples."""
    logp = _log_softmax_rows(x)
    axis = _class_axis(x)
    alpha = params.get("alpha")
    gamma = mpf(float(params.get("gamma", 2.0)))
    moved = np.moveaxis(logp, axis, -1)
    losses = []
    for index in np.ndindex(moved.shape[:-1]):
        label = int(target[index])
        log_p = moved[index][label]
        a = mpf(float(alpha[label])) if alpha is not None else mpf(1)
        if not mpmath.isfinite(log_p):
            losses.append(mpmath.nan if mpmath.isnan(log_p) else -a * log_p)
            continue
        with mpmath.workprec(mpmath.mp.prec + 64 + max(0, -2 * int(mpmath.frexp(log_p)[1]) if log_p else 0)):
            losses.append(-a * (1 - mpmath.exp(log_p)) ** gamma * log_p if log_p != 0 else mpf(0))
    return losses, moved.shape[:-1], mpf(len(losses))


ORACLES = {
    "cross_entropy": SampleOracle(lambda x, t, p: _cross_entropy_terms(_log_softmax_rows(x), t, p)),
    "nll_loss": SampleOracle(lambda x, t, p: _cross_entropy_terms(x, t, p)),
    "multi_margin_loss": SampleOracle(_multi_margin_terms),
    "softmax_focal_loss": SampleOracle(_softmax_focal_terms),
}


def evaluate_samples(oracle: SampleOracle, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
                     cotangent: np.ndarray, conventions: tuple[str, ...] = (),
                     differentiable: tuple[str, ...] | None = None) -> Expectation:
    """The exact value and the gradient w.r.t. the first input (the logits) of a per-sample loss."""
    (input_name, x_array), (_, target) = inputs.items()
    with mpmath.workdps(DIGITS):
        x = np.array([mpf(float(v)) for v in x_array.ravel()], dtype=object).reshape(x_array.shape)
        losses, sample_shape, denominator = oracle.losses(x, target, params)
        if reduction == "none":
            value = Tensor(sample_shape, losses, scale=max([abs(v) for v in losses if mpmath.isfinite(v)],
                                                           default=mpf(0)))
            factors = [mpf(float(c)) for c in np.ravel(cotangent)]
        else:
            total = mpmath.fsum(losses) if losses else mpf(0)
            divisor = denominator if reduction == "mean" else mpf(1)
            if divisor == 0:
                result = mpf(0) if "empty-mean-is-zero" in conventions else mpmath.nan
                zero_gradient = {"empty-mean-is-zero", "nan-mean-zero-gradient"} & set(conventions)
                factors = [mpf(0) if zero_gradient else mpmath.nan] * len(losses)
            else:
                result = total / divisor
                factors = [mpf(float(cotangent)) / divisor] * len(losses)
            sum_abs = mpmath.fsum(abs(v) for v in losses if mpmath.isfinite(v)) if losses else mpf(0)
            value = Tensor((), [result], scale=sum_abs / divisor if divisor else mpf(0))
        grads = []
        flat = list(x.ravel())
        finite = [not mpmath.isnan(v) for v in losses]  # a NaN row only poisons its own gradients (_nan_rows)
        for k, xk in enumerate(flat):
            if mpmath.isnan(xk) or any(mpmath.isnan(f) for f, ok in zip(factors, finite) if ok):
                grads.append(mpmath.nan)
                continue
            if xk == -mpmath.inf:  # a masked class: its softmax probability is exactly 0, and so is its derivative
                grads.append(mpf(0))
                continue

            def contracted(t: mpf, k: int = k) -> mpf:
                shifted = list(flat)
                shifted[k] = t
                per_sample, _, _ = oracle.losses(np.array(shifted, dtype=object).reshape(x.shape), target, params)
                return mpmath.fsum(f * v for f, v, ok in zip(factors, per_sample, finite) if ok)

            with mpmath.workdps(_DIFF_DIGITS):
                grads.append(_snap(mpmath.diff(contracted, xk, h=max(abs(xk), mpf(1)) * mpf(2) ** -150)))
        if any(mpmath.isnan(v) for v in np.ravel(x)):  # a NaN logit poisons its whole row
            grads = _nan_rows(grads, x)
        scale = max([abs(g) for g in grads if mpmath.isfinite(g)], default=mpf(0))
        return Expectation(value, {input_name: Tensor(x_array.shape, grads, scale=scale)})


def _nan_rows(grads: list, x: np.ndarray) -> list:
    """Every logit of a row containing a NaN gets a NaN gradient (the softmax of that row is NaN)."""
    axis = _class_axis(x)
    g = np.array(grads, dtype=object).reshape(x.shape)
    bad = np.vectorize(lambda v: bool(mpmath.isnan(v)), otypes=[bool])(x)
    rows = np.any(bad, axis=axis, keepdims=True)
    g = np.where(np.broadcast_to(rows, x.shape), mpmath.nan, g)
    return list(g.ravel())
