"""Oracles of losses that couple the elements of a sample (softmax cross-entropy, NLL), and their evaluation.

A :class:`SampleOracle` computes each sample's loss from the whole input (textbook formulas in mpmath) and the
mean's denominator; :func:`evaluate_samples` applies the reduction exactly and differentiates the reduced output,
contracted with the cotangent, with respect to every element of the differentiable input by ``mpmath.diff``
(one-sided where the oracle declares a kink; and with respect to the target too where it holds probabilities).

Each oracle also has the standard algorithm of one sample (:mod:`refloss.conformance.oracle.rounding`): the
sample's loss and its gradients as Bounds, whose running error bounds are the per-entry scales of policy_v2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.evaluate import DIGITS, Expectation, Tensor, _snap, agree

__all__ = ["ORACLES", "SampleOracle", "evaluate_samples"]

_DIFF_DIGITS = 120


@dataclass(frozen=True)
class SampleOracle:
    """``losses(x, target, params)`` returns (each sample's loss as a list in row-major sample order, the sample
    shape, the ``mean`` denominator); ``x`` is an object array of mpf values.

    ``standard(row, target, params)`` is the standard algorithm of one sample: ``row`` the sample's values along
    the class axis (mpf), ``target`` its class index (int) or its probabilities (a list of mpf); it returns the
    sample's loss, the gradient of that loss w.r.t. each entry of the row, w.r.t. each target probability (None
    for a class index), and the sample's part of the ``mean`` denominator, all as Bounds.
    ``at_kink(row, label, params, c)`` says whether the loss has a kink in entry ``c`` of the row (one-sided
    derivatives are taken there); ``target_differentiable``: probability targets get a gradient.
    """

    losses: Callable[[np.ndarray, np.ndarray, dict], tuple[list, tuple[int, ...], Any]]
    standard: Callable[[list, Any, dict], tuple]
    at_kink: Callable[[list, int, dict, int], bool] = lambda row, label, params, c: False
    target_differentiable: bool = False


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
            losses.append(-mpmath.fsum(w[c] * ((1 - eps) * mpf(t[index][c]) + eps / classes) * row[c]
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
    """Lin et al. on the softmax: -sum_k alpha_k t_k (1 - p_k)^gamma log p_k per sample with the smoothed target
    t_k = (1 - eps) [k = y] + eps / C (Keras's categorical focal cross-entropy); without smoothing
    -alpha_y (1 - p_y)^gamma log p_y. Mean over the samples."""
    logp = _log_softmax_rows(x)
    axis = _class_axis(x)
    alpha = params.get("alpha")
    gamma = mpf(float(params.get("gamma", 2.0)))
    moved = np.moveaxis(logp, axis, -1)
    losses = []
    for index in np.ndindex(moved.shape[:-1]):
        label = int(target[index])
        row = moved[index]
        mass = _smoothed_target(label, len(row), params)
        losses.append(mpmath.fsum(t * _focal_term(row[k], mpf(float(alpha[k])) if alpha is not None else mpf(1),
                                                  gamma) for k, t in enumerate(mass) if t != 0))
    return losses, moved.shape[:-1], mpf(len(losses))


def _smoothed_target(label: int, classes: int, params: dict) -> list:
    """t_k = (1 - eps) [k = label] + eps / C."""
    eps = mpf(float(params.get("label_smoothing", 0.0)))
    return [(1 - eps) * (k == label) + eps / classes for k in range(classes)]


def _focal_term(log_p: mpf, a: mpf, gamma: mpf) -> mpf:
    """-a (1 - p)^gamma log p, with the precision 1 - e^(log p) needs when p is close to 1."""
    if not mpmath.isfinite(log_p):
        return mpmath.nan if mpmath.isnan(log_p) else -a * log_p
    with mpmath.workprec(mpmath.mp.prec + 64 + max(0, -2 * int(mpmath.frexp(log_p)[1]) if log_p else 0)):
        return -a * (1 - mpmath.exp(log_p)) ** gamma * log_p if log_p != 0 else mpf(0)


# ---- standard algorithms of one sample (error bounds of policy_v2) ----------------------------------------------

def _class_weights(params: dict, classes: int) -> list:
    weight = params.get("weight")
    return [mpf(float(v)) for v in weight] if weight is not None else [mpf(1)] * classes


def _log_softmax_bounds(row: list) -> tuple[list, list, r.Bound]:
    """Shifted log-softmax as everyone computes it: z = x - max, log p = z - log(sum exp z), p = exp(z) / sum.
    A masked class (x = -inf) has p = 0 exactly and log p = -inf. Returns (log p, p, the sum)."""
    top = max(row)
    shifted = [r.exact(v) - top if mpmath.isfinite(v) else None for v in row]
    exps = [r.exp(z) if z is not None else r.exact(0) for z in shifted]
    total = r.total(exps)
    log_total = r.log(total)
    log_p = [z - log_total if z is not None else r.exact(-mpmath.inf) for z in shifted]
    return log_p, [e / total if z is not None else r.exact(0) for e, z in zip(exps, shifted)], total


def _cross_entropy_standard(row: list, target: Any, params: dict) -> tuple:
    """-sum_c a_c log p_c with a_c the coefficient of class c (C2); d/dx_k = p_k sum_c a_c - a_k, the plain
    softmax-minus-target difference; d/dt_k = -(1 - eps) w_k log p_k for probability targets."""
    classes = len(row)
    w = _class_weights(params, classes)
    eps = mpf(float(params.get("label_smoothing", 0.0)))
    probabilities = not isinstance(target, int)
    if any(mpmath.isnan(v) for v in row):
        zero = r.exact(0)  # a NaN row: NaN expectations, no error bound
        return zero, [zero] * classes, [zero] * classes if probabilities else None, r.exact(1)
    if not probabilities and target == int(params.get("ignore_index", -100)):
        zero = r.exact(0)
        return zero, [zero] * classes, None, zero
    if probabilities:
        a = [w[c] * ((1 - eps) * target[c] + eps / classes) for c in range(classes)]
    else:
        a = [(1 - eps) * w[target] * (c == target) + eps / classes * w[c] for c in range(classes)]
    log_p, p, _ = _log_softmax_bounds(row)
    if any(a[c] != 0 and not mpmath.isfinite(log_p[c].value) for c in range(classes)):
        zero = r.exact(0)  # an infinite loss: the expectations are infinite or NaN and carry no error bound
        return zero, [zero] * classes, [zero] * classes if probabilities else None, zero
    loss = -r.total(log_p[c] * a[c] for c in range(classes) if a[c] != 0)
    coefficient_sum = mpmath.fsum(a)
    grad_x = [p[k] * coefficient_sum - a[k] for k in range(classes)]
    grad_t = [log_p[k] * (-(1 - eps) * w[k]) for k in range(classes)] if probabilities else None
    return loss, grad_x, grad_t, r.exact(1 if probabilities else w[target])


def _nll_standard(row: list, label: int, params: dict) -> tuple:
    classes = len(row)
    zero = r.exact(0)
    if label == int(params.get("ignore_index", -100)):
        return zero, [zero] * classes, None, zero
    w = _class_weights(params, classes)[label]
    return r.exact(row[label]) * -w, [r.exact(-w if k == label else 0) for k in range(classes)], None, r.exact(w)


def _multi_margin_standard(row: list, label: int, params: dict) -> tuple:
    """z_i = (margin - x_y) + x_i, the loss w_y / C sum max(0, z_i)^p; d/dx_i = w_y / C p max(0, z_i)^(p - 1)."""
    classes = len(row)
    w = _class_weights(params, classes)[label] / classes
    margin, power = mpf(float(params.get("margin", 1.0))), int(params.get("p", 1))
    if any(mpmath.isnan(v) for v in row):
        zero = r.exact(0)
        return zero, [zero] * classes, None, r.exact(1)
    hinges = {}
    for i in range(classes):
        if i == label:
            continue
        z = (margin - r.exact(row[label])) + row[i]
        # an exact 0 may be computed as +-err: the bound keeps that error on the active side
        hinges[i] = z if z.value > 0 else r.Bound(0, z.err if z.value == 0 else 0)
    loss = r.total(r.power(h, power) for h in hinges.values()) * w
    slopes = {i: (r.exact(1 if h.value > 0 else 0) if power == 1 else 2 * h) * w for i, h in hinges.items()}
    grad = [slopes[k] if k != label else -r.total(slopes.values()) for k in range(classes)]
    return loss, grad, None, r.exact(1)


def _multi_margin_kink(row: list, label: int, params: dict, c: int) -> bool:
    """Entry c sits at a kink when a hinge it enters is exactly at its margin (z = 0) and p = 1."""
    if int(params.get("p", 1)) != 1:
        return False  # max(0, z)^2 is differentiable at z = 0
    margin = mpf(float(params.get("margin", 1.0)))
    zeros = [i for i in range(len(row)) if i != label and margin - row[label] + row[i] == 0]
    return bool(zeros) and (c == label or c in zeros)


def _softmax_focal_standard(row: list, label: int, params: dict) -> tuple:
    """-sum_k alpha_k t_k q_k^gamma log p_k with each q_k = 1 - p_k computed as the sum of the other classes'
    probabilities (its relative accuracy is the point of the focal factor) and log p_k just as accurate;
    d/dx_j = D_j q_j - p_j sum_{k != j} D_k with D_k = alpha_k t_k [gamma q_k^(gamma - 1) p_k log p_k - q_k^gamma]."""
    classes = len(row)
    zero = r.exact(0)
    alpha = params.get("alpha")
    gamma = mpf(float(params.get("gamma", 2.0)))
    if any(mpmath.isnan(v) for v in row):
        return zero, [zero] * classes, None, r.exact(1)
    log_p, p, total = _log_softmax_bounds(row)
    if mpf(float(params.get("label_smoothing", 0.0))) == 0:
        return _one_hot_focal_standard(row, label, a=mpf(float(alpha[label])) if alpha is not None else mpf(1),
                                       gamma=gamma, log_p=log_p, p=p, total=total)
    loss, d = zero, [zero] * classes
    q = [zero] * classes
    for k, t in enumerate(_smoothed_target(label, classes, params)):
        q[k], log_p_k = _complement_and_log(row, k, log_p, total)
        if t == 0 or q[k].value == 0:  # no mass, or p_k = 1: the term and its slope are 0
            continue
        a = mpf(float(alpha[k])) if alpha is not None else mpf(1)
        focal = r.power(q[k], gamma)
        loss = loss + -(focal * log_p_k) * (a * t)
        bracket = gamma * r.power(q[k], gamma - 1) * p[k] * log_p_k - focal if gamma != 0 else r.exact(-1)
        d[k] = bracket * (a * t)
    grad = [d[j] * q[j] - p[j] * r.total(d[k] for k in range(classes) if k != j) for j in range(classes)]
    return loss, grad, None, r.exact(1)


def _complement_and_log(row: list, k: int, log_p: list, total: r.Bound) -> tuple[r.Bound, r.Bound]:
    """q_k = 1 - p_k as the sum of the other classes' probabilities, and log p_k as accurate as q_k: log1p(-q_k)
    for a confident class (there z_k - log(sum) is off by u absolutely), the shifted log-softmax otherwise (there
    1 - q_k would lose p_k's relative accuracy)."""
    top = max(row)
    q = r.total(r.exp(r.exact(row[c]) - top) for c in range(len(row)) if c != k and mpmath.isfinite(row[c]))
    q = q / total if len(row) > 1 else r.exact(0)
    return q, (r.log1p(-q) if q.value < mpf(1) / 2 else log_p[k])


def _one_hot_focal_standard(row: list, label: int, a: mpf, gamma: mpf, log_p: list, p: list, total: r.Bound) -> tuple:
    """The same without smoothing: the other classes carry no mass, so their sums are empty and the gradient is
    d/dx_k = alpha_y (delta_yk - p_k) [gamma q^(gamma - 1) p_y log p_y - q^gamma], with delta_yy - p_y = q (fewer
    roundings, so tighter bounds, than the general algorithm)."""
    classes = len(row)
    zero = r.exact(0)
    q, log_p_label = _complement_and_log(row, label, log_p, total)
    if q.value == 0:
        return zero, [zero] * classes, None, r.exact(1)
    focal = r.power(q, gamma)
    loss = -(focal * log_p_label) * a
    bracket = gamma * r.power(q, gamma - 1) * p[label] * log_p_label - focal if gamma != 0 else r.exact(-1)
    grad = [(q if k == label else -p[k]) * bracket * a for k in range(classes)]
    return loss, grad, None, r.exact(1)


ORACLES = {
    "cross_entropy": SampleOracle(lambda x, t, p: _cross_entropy_terms(_log_softmax_rows(x), t, p),
                                  _cross_entropy_standard, target_differentiable=True),
    "nll_loss": SampleOracle(lambda x, t, p: _cross_entropy_terms(x, t, p), _nll_standard),
    "multi_margin_loss": SampleOracle(_multi_margin_terms, _multi_margin_standard, at_kink=_multi_margin_kink),
    "softmax_focal_loss": SampleOracle(_softmax_focal_terms, _softmax_focal_standard),
}


def evaluate_samples(oracle: SampleOracle, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
                     cotangent: np.ndarray, conventions: tuple[str, ...] = (),
                     differentiable: tuple[str, ...] | None = None) -> Expectation:
    """The exact value and gradients of a per-sample loss: w.r.t. the first input (the logits), and w.r.t. the
    target where it holds probabilities and the oracle declares them differentiable; each entry with the running
    error bound of the standard algorithm."""
    (input_name, x_array), (target_name, target) = inputs.items()
    probabilities = target.dtype.kind == "f"
    with mpmath.workdps(DIGITS):
        x = _mpf_array(x_array)
        t = _mpf_array(target) if probabilities else target
        losses, sample_shape, denominator = oracle.losses(x, t, params)
        samples = _samples(oracle, x, t, params, probabilities)
        if reduction == "none":
            value = Tensor(sample_shape, losses, scale=[b.loss.err for b in samples])
            factors = [mpf(float(c)) for c in np.ravel(cotangent)]
            factor_bounds = [r.exact(f) for f in factors]
        else:
            total = mpmath.fsum(losses) if losses else mpf(0)
            divisor = denominator if reduction == "mean" else mpf(1)
            divisor_bound = r.total(b.mean_weight for b in samples) if reduction == "mean" else r.exact(1)
            if divisor == 0:
                result = mpf(0) if "empty-mean-is-zero" in conventions else mpmath.nan
                zero_gradient = {"empty-mean-is-zero", "nan-mean-zero-gradient"} & set(conventions)
                factors = [mpf(0) if zero_gradient else mpmath.nan] * len(losses)
                value = Tensor((), [result], scale=[mpf(0)])
                factor_bounds = [r.exact(0)] * len(losses)
            else:
                agree(divisor_bound, [divisor], "mean denominator", ())
                result = total / divisor
                factors = [mpf(float(cotangent)) / divisor] * len(losses)
                summed = r.total(b.loss for b, v in zip(samples, losses) if mpmath.isfinite(v))
                value = Tensor((), [result], scale=[(summed / divisor_bound if reduction == "mean" else summed).err])
                factor_bounds = [r.exact(mpf(float(cotangent))) / divisor_bound
                                 if reduction == "mean" else r.exact(mpf(float(cotangent)))] * len(losses)
        finite = [not mpmath.isnan(v) for v in losses]  # a NaN row only poisons its own gradients (_nan_rows)
        location = _locations(x)

        def contracted(values: np.ndarray, k: int, at: mpf) -> mpf:
            shifted = values.ravel().copy()
            shifted[k] = at
            per_sample, _, _ = oracle.losses(shifted.reshape(x.shape), t, params) if values is x else \
                oracle.losses(x, shifted.reshape(values.shape), params)
            return mpmath.fsum(f * v for f, v, ok in zip(factors, per_sample, finite) if ok)

        def at_kink(k: int) -> bool:
            sample, c = location[k]
            row, label = samples[sample].row, samples[sample].label
            return not probabilities and oracle.at_kink(row, label, params, c)

        def bounds_of(derivatives: str) -> list:
            """(the sample's factor, the standard algorithm's derivative) for each flat entry."""
            return [(factor_bounds[sample], getattr(samples[sample], derivatives)[c]) for sample, c in location]

        grads = {input_name: _gradient(x, lambda k, at: contracted(x, k, at), at_kink, factors, finite,
                                       bounds_of("grad_input"))}
        if probabilities and oracle.target_differentiable:
            grads[target_name] = _gradient(t, lambda k, at: contracted(t, k, at), lambda k: False, factors, finite,
                                           bounds_of("grad_target"))
        if any(mpmath.isnan(v) for v in np.ravel(x)):  # a NaN logit poisons its whole row
            for tensor in grads.values():
                tensor.exact = _nan_rows(tensor.exact, x)
        return Expectation(value, grads)


@dataclass
class _Sample:
    row: list
    label: Any
    loss: r.Bound
    grad_input: list
    grad_target: list | None
    mean_weight: r.Bound


def _mpf_array(array: np.ndarray) -> np.ndarray:
    return np.array([mpf(float(v)) for v in array.ravel()], dtype=object).reshape(array.shape)


def _samples(oracle: SampleOracle, x: np.ndarray, t: np.ndarray, params: dict, probabilities: bool) -> list:
    """Each sample's row, label and standard-algorithm Bounds, in row-major sample order (as ``losses``)."""
    axis = _class_axis(x)
    rows = np.moveaxis(x, axis, -1)
    targets = np.moveaxis(t, axis, -1) if probabilities else t
    samples = []
    for index in np.ndindex(rows.shape[:-1]):
        row = list(rows[index])
        if probabilities or np.ndim(targets[index]):  # probabilities, or a multi-label row of class indices
            label = [v if probabilities else int(v) for v in targets[index]]
        else:
            label = int(targets[index])
        samples.append(_Sample(row, label, *oracle.standard(row, label, params)))
    return samples


def _locations(x: np.ndarray) -> list:
    """For each flat (row-major) entry of ``x``: (its sample's number, its class)."""
    axis = _class_axis(x)
    flat = np.moveaxis(np.arange(x.size).reshape(x.shape), axis, -1)
    location = [None] * x.size
    for number, index in enumerate(np.ndindex(flat.shape[:-1])):
        for c, k in enumerate(flat[index]):
            location[int(k)] = (number, c)
    return location


def _gradient(values: np.ndarray, contracted: Callable, at_kink: Callable, factors: list, finite: list,
              bounds: list) -> Tensor:
    """d<factors, losses>/d values, entry by entry (one-sided at a kink, with the interval between), each entry's
    scale the error bound of (sample factor) x (the standard algorithm's derivative)."""
    exact, lows, highs, scales = [], [], [], []
    for k, vk in enumerate(values.ravel()):
        factor_bound, derivative_bound = bounds[k]
        lo = hi = None
        if mpmath.isnan(vk) or any(mpmath.isnan(f) for f, ok in zip(factors, finite) if ok):
            value = mpmath.nan
        elif vk == -mpmath.inf:  # a masked class: its softmax probability is exactly 0, and so is its derivative
            value = mpf(0)
        else:
            step = max(abs(vk), mpf(1)) * mpf(2) ** -150
            with mpmath.workdps(_DIFF_DIGITS):
                if at_kink(k):
                    left, right = (_snap(mpmath.diff(lambda a: contracted(k, a), vk, h=step, direction=side))
                                   for side in (-1, 1))
                    lo, hi = min(left, right), max(left, right)
                    value = (left + right) / 2
                else:
                    value = _snap(mpmath.diff(lambda a: contracted(k, a), vk, h=step))
        entry = factor_bound * derivative_bound
        if mpmath.isfinite(value) and lo is None:
            # the analytic derivative, once it agrees with the numerical one (which is 1e-90 where it is 0)
            agree(entry, [value], f"derivative (entry {k})", tuple(v for v in values.ravel() if mpmath.isfinite(v)))
            value = entry.value
        exact.append(value)
        lows.append(value if lo is None else lo)
        highs.append(value if hi is None else hi)
        scales.append(entry.err if mpmath.isfinite(value) else mpf(0))
    ambiguous = any(a != b for a, b in zip(lows, highs))
    return Tensor(values.shape, exact, lows if ambiguous else None, highs if ambiguous else None, scales)


def _nan_rows(grads: list, x: np.ndarray) -> list:
    """Every logit of a row containing a NaN gets a NaN gradient (the softmax of that row is NaN)."""
    axis = _class_axis(x)
    g = np.array(grads, dtype=object).reshape(x.shape)
    bad = np.vectorize(lambda v: bool(mpmath.isnan(v)), otypes=[bool])(x)
    rows = np.any(bad, axis=axis, keepdims=True)
    g = np.where(np.broadcast_to(rows, x.shape), mpmath.nan, g)
    return list(g.ravel())
