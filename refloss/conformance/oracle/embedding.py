"""Oracles of the embedding distances and losses: PyTorch's documented formulas in mpmath, one sample at a time.

Each formula is written once over a namespace ``M`` (:data:`refloss.conformance.oracle.boxes.EXACT` or
``STANDARD``), extended here by the square root and the real power a p-norm needs: over mpmath numbers it is the
textbook definition, differentiated by ``mpmath.diff`` (one-sided at a declared kink); over forward-mode
:class:`~refloss.conformance.oracle.boxes.Dual` numbers it is the standard algorithm, whose running error bounds
are the per-entry scales of policy_v2 and whose derivatives must agree with the numerical ones.

* ``pairwise_distance``: :math:`\\lVert x_1 - x_2 + \\epsilon \\rVert_p` over the last dimension;
  ``cosine_similarity``: :math:`x_1 \\cdot x_2 / (\\max(\\lVert x_1\\rVert, \\epsilon) \\max(\\lVert x_2 \\rVert,
  \\epsilon))` (torch 2.14.1's separate clamps) along the last dimension. Both are row functions
  (:class:`~refloss.conformance.oracle.functions.RowOracle`).
* ``cosine_embedding_loss`` (PyTorch's :math:`\\epsilon` = float32(1e-12) inside each squared norm),
  ``triplet_margin_loss`` and ``triplet_margin_with_distance_loss``: one loss per sample from the sample's rows,
  then the reduction, applied exactly (:class:`SampleLossOracle`, :func:`evaluate_sample_losses`).

Nothing here imports the NumPy reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.boxes import EXACT, STANDARD, Dual
from refloss.conformance.oracle.evaluate import (DIGITS, Expectation, Tensor, agree, coordinate_gaps, numerical_slope,
                                                 sample_digits)
from refloss.conformance.oracle.functions import RowOracle

__all__ = ["ORACLES", "SampleLossOracle", "evaluate_sample_losses"]

_EMPTY_MEAN_ZERO = "empty-mean-is-zero"
# PyTorch's EPSILON of cosine_embedding_loss: 1e-12 as a float32 (measured in torch 2.14.1)
_SQUARED_NORM_EPS = mpf(float(np.float32(1e-12)))


# ---- the two operations the box namespaces lack -----------------------------------------------------------------

def _rounded_unary(a: Any, value: Any, slope: Any) -> Any:
    """f(a) over a Dual, rounded once: err = |f'(a)| err(a) + |f(a)|, each derivative times f'(a)."""
    bound = r.Bound(value, abs(slope) * a.value.err + abs(value))
    return Dual(bound, [d * slope for d in a.d])


def _sqrt(M: Any, a: Any) -> Any:
    if M is EXACT:
        return mpmath.sqrt(a)
    a = a if isinstance(a, Dual) else Dual(a)
    root = mpmath.sqrt(a.value.value)
    if root == 0:  # the norm's kink: no derivative (the oracle takes one-sided numerical ones there)
        return Dual(r.Bound(0, 0), [r.exact(0) for _ in a.d])
    return _rounded_unary(a, root, 1 / (2 * root))


def _power(M: Any, a: Any, exponent: mpf) -> Any:
    """a ** exponent for a >= 0."""
    if M is EXACT:
        return a ** exponent if a != 0 else mpf(0)
    a = a if isinstance(a, Dual) else Dual(a)
    base = a.value.value
    if base == 0:
        return Dual(r.Bound(0, 0), [r.exact(0) for _ in a.d])
    return _rounded_unary(a, base ** exponent, exponent * base ** (exponent - 1))


def _norm(M: Any, d: list, p: mpf) -> Any:
    """||d||_p, summed in order as PyTorch's kernel (no rescaling)."""
    if p == 1:
        return _sum(M.abs(v) for v in d)
    if p == 2:
        return _sqrt(M, _sum(v * v for v in d))
    return _power(M, _sum(_power(M, M.abs(v), p) for v in d), 1 / p)


def _sum(terms: Any) -> Any:
    total = None
    for term in terms:
        total = term if total is None else total + term
    return total if total is not None else mpf(0)


def _dot(a: list, b: list) -> Any:
    return _sum(x * y for x, y in zip(a, b))


# ---- the distances (rows of the last dimension) -----------------------------------------------------------------

def _distance(M: Any, x: list, y: list, p: mpf, eps: mpf) -> Any:
    """||x - y + eps||_p: eps added to each difference."""
    return _norm(M, [(a - b) + eps for a, b in zip(x, y)], p)


def _cosine(M: Any, x: list, y: list, eps: mpf) -> Any:
    """x.y / (max(||x||, eps) max(||y||, eps)): each norm clamped on its own."""
    n1, n2 = _sqrt(M, _dot(x, x)), _sqrt(M, _dot(y, y))
    return _dot(x, y) / (M.maximum(n1, eps) * M.maximum(n2, eps))


def _pairwise_distance(M: Any, rows: dict, params: dict) -> Any:
    value = _distance(M, rows["x1"], rows["x2"], params["p"], params["eps"])
    return [value] if params.get("keepdim") else value


def _pairwise_kink(rows: dict, name: str, k: int, params: dict) -> bool:
    d = [(a - b) + params["eps"] for a, b in zip(rows["x1"], rows["x2"])]
    return d[k] == 0 if params["p"] == 1 else all(v == 0 for v in d)


def _cosine_similarity(M: Any, rows: dict, params: dict) -> Any:
    return _cosine(M, rows["x1"], rows["x2"], params["eps"])


def _cosine_kink(rows: dict, name: str, k: int, params: dict) -> bool:
    """The clamp's kink: the norm of the entry's own vector equals eps."""
    row = rows[name]
    return mpmath.sqrt(mpmath.fsum(v * v for v in row)) == params["eps"]


# ---- losses of one sample ---------------------------------------------------------------------------------------

def _cosine_embedding(M: Any, rows: dict, params: dict) -> Any:
    """1 - c (label 1) or max(0, c - margin) (label -1), c = w / sqrt((m1 + e)(m2 + e)), e = float32(1e-12)."""
    x, y = rows["input1"], rows["input2"]
    c = _dot(x, y) / _sqrt(M, (_dot(x, x) + _SQUARED_NORM_EPS) * (_dot(y, y) + _SQUARED_NORM_EPS))
    if rows["target"] == 1:
        return 1 - c
    return M.maximum(c - params["margin"], 0 * c)


def _cosine_embedding_kink(rows: dict, params: dict) -> bool:
    """A dissimilar pair whose cosine is exactly the margin."""
    return rows["target"] != 1 and 1 - _cosine_embedding(EXACT, {**rows, "target": 1}, params) == params["margin"]


def _named_distance(params: dict) -> Callable:
    """d(M, x, y) of a triplet loss: the p-norm distance, or 1 - cosine similarity (eps 1e-8)."""
    name = params.get("distance_function", "pairwise_distance")
    if name == "cosine_distance":
        return lambda M, x, y: 1 - _cosine(M, x, y, mpf(1e-8))
    p = params.get("p", mpf(2))
    eps = params.get("eps", mpf(1e-6))
    return lambda M, x, y: _distance(M, x, y, p, eps)


def _triplet(M: Any, rows: dict, params: dict) -> Any:
    """max(0, margin + d(a, p) - d_-), d_- = d(a, n) or, with swap, min(d(a, n), d(p, n))."""
    d = _named_distance(params)
    a, p, n = rows["anchor"], rows["positive"], rows["negative"]
    negative = d(M, a, n)
    if params.get("swap"):
        negative = M.minimum(negative, d(M, p, n))
    z = (params["margin"] + d(M, a, p)) - negative
    return M.maximum(z, 0 * z)


def _triplet_kink(rows: dict, params: dict) -> bool:
    """At the hinge (z = 0), at a swap tie d(a, n) = d(p, n), or at a kink of one of the distances."""
    d = _named_distance(params)
    a, p, n = rows["anchor"], rows["positive"], rows["negative"]
    d_an, d_pn, d_ap = d(EXACT, a, n), d(EXACT, p, n), d(EXACT, a, p)
    negative = min(d_an, d_pn) if params.get("swap") else d_an
    if params["margin"] + d_ap - negative == 0 or (params.get("swap") and d_an == d_pn):
        return True
    if params.get("distance_function", "pairwise_distance") == "cosine_distance":
        return any(mpmath.sqrt(_dot(v, v)) == mpf(1e-8) for v in (a, p, n))
    pn, eps = params.get("p", mpf(2)), params.get("eps", mpf(1e-6))
    for x, y in ((a, p), (a, n), (p, n)):
        diff = [(u - v) + eps for u, v in zip(x, y)]
        if any(v == 0 for v in diff) if pn == 1 else all(v == 0 for v in diff):
            return True
    return False


@dataclass(frozen=True)
class SampleLossOracle:
    """``formula(M, rows, params)``: one sample's loss from its rows (name -> list of the last dimension, or an
    int for a label input without that dimension), over the namespace ``M``. ``at_kink(rows, params)``: the
    sample sits on a kink (its derivatives are then one-sided). ``labels``: the inputs that hold one label per
    sample. The ``mean`` divides by the number of samples."""

    formula: Callable
    at_kink: Callable = lambda rows, params: False
    labels: tuple[str, ...] = ()

    def evaluate(self, *args: Any, **kwargs: Any) -> Expectation:
        return evaluate_sample_losses(self, *args, **kwargs)


def _params(params: dict[str, Any]) -> dict[str, Any]:
    """Numbers as mpf; booleans, strings and None as they are."""
    return {name: value if value is None or isinstance(value, (str, bool, np.bool_)) else mpf(float(value))
            for name, value in params.items()}


def evaluate_sample_losses(oracle: SampleLossOracle, inputs: dict[str, np.ndarray], params: dict[str, Any],
                           reduction: str, cotangent: np.ndarray, conventions: tuple[str, ...] = (),
                           differentiable: tuple[str, ...] | None = None) -> Expectation:
    """The exact loss and its gradients w.r.t. the ``differentiable`` inputs, each entry with the running error
    bound of the standard algorithm; the reduction (none, sum, mean over the samples) applied exactly."""
    differentiable = tuple(name for name in (differentiable or ()) if name not in oracle.labels)
    vector_inputs = [name for name in inputs if name not in oracle.labels]
    sample_shape = inputs[vector_inputs[0]].shape[:-1]
    with mpmath.workdps(DIGITS):
        params = _params(params)
        exact = {name: np.array([int(v) if name in oracle.labels else mpf(float(v)) for v in a.ravel()],
                                dtype=object).reshape(a.shape) for name, a in inputs.items()}
        samples = [_sample(oracle, {name: (int(exact[name][index]) if name in oracle.labels
                                           else list(exact[name][index])) for name in inputs},
                           params, differentiable) for index in np.ndindex(sample_shape)]
        count = len(samples)
        if reduction == "none":
            value = Tensor(sample_shape, [s.loss for s in samples], scale=[s.bound.err for s in samples])
            factors = [r.exact(mpf(float(c))) for c in np.ravel(cotangent)]
        else:
            total = mpmath.fsum(s.loss for s in samples) if samples else mpf(0)
            summed = r.total(s.bound for s in samples if mpmath.isfinite(s.loss))
            g = r.exact(mpf(float(cotangent)))
            if reduction == "sum":
                value = Tensor((), [total], scale=[summed.err])
                factors = [g] * count
            elif count:
                value = Tensor((), [total / count], scale=[(summed / count).err])
                factors = [g / count] * count
            else:  # the mean of nothing: NaN, as PyTorch (0 under the empty-mean-is-zero alternative)
                value = Tensor((), [mpf(0) if _EMPTY_MEAN_ZERO in conventions else mpmath.nan], scale=[mpf(0)])
                factors = []
        grads = {}
        for name in differentiable:
            width = inputs[name].shape[-1]
            entries = [entry for sample, factor in zip(samples, factors) for entry in
                       _scaled(sample.grads[name], factor, width)]
            columns = [list(column) for column in zip(*entries)] if entries else [[], [], [], []]
            exact_values, lows, highs, scales = columns
            ambiguous = any(lo != hi for lo, hi in zip(lows, highs))
            grads[name] = Tensor(inputs[name].shape, exact_values, lows if ambiguous else None,
                                 highs if ambiguous else None, scales)
        return Expectation(value, grads)


@dataclass
class _Sample:
    loss: mpf
    bound: r.Bound
    grads: dict  # name -> per entry (lo, hi, analytic Bound or None), None for a NaN sample


def _sample(oracle: SampleLossOracle, rows: dict, params: dict, differentiable: tuple[str, ...]) -> _Sample:
    """One sample's exact loss, its standard-algorithm bound, and its one-sided derivatives."""
    values = [v for name, row in rows.items() if name not in oracle.labels for v in row]
    if any(mpmath.isnan(v) for v in values):
        return _Sample(mpmath.nan, r.exact(0), {name: None for name in differentiable})
    with mpmath.workdps(sample_digits(values + [v for v in params.values() if isinstance(v, mpf)])):
        return _differentiated_sample(oracle, rows, params, differentiable, values)


def _differentiated_sample(oracle: SampleLossOracle, rows: dict, params: dict, differentiable: tuple[str, ...],
                           values: list) -> _Sample:
    slots = [(name, k) for name in differentiable for k in range(len(rows[name]))]
    seeded = {name: row if name in oracle.labels else
              [Dual(v, [r.exact(1 if (name, k) == slot else 0) for slot in slots]) for k, v in enumerate(row)]
              for name, row in rows.items()}
    exact = oracle.formula(EXACT, rows, params)
    standard = oracle.formula(STANDARD, seeded, params)  # (a tie in minimum splits equally, as torch)
    standard = standard if isinstance(standard, Dual) else Dual(standard)
    agree(standard.value, [exact], "loss", tuple(values))
    derivatives = standard.d or [r.exact(0)] * len(slots)
    kink = oracle.at_kink(rows, params)
    grads = {name: [] for name in differentiable}
    for (name, k), analytic in zip(slots, derivatives):
        def along(t: mpf, name: str = name, k: int = k) -> mpf:
            moved = {n: list(row) if n not in oracle.labels else row for n, row in rows.items()}
            moved[name][k] = t
            return oracle.formula(EXACT, moved, params)

        at, gaps = rows[name][k], coordinate_gaps(rows, name, k, params.get("eps") or mpf(0))
        if kink:
            left, right = (numerical_slope(along, at, gaps, side) for side in (-1, 1))
            grads[name].append((min(left, right), max(left, right), None))
            continue
        numerical = numerical_slope(along, at, gaps)
        agree(analytic, [numerical], f"derivative w.r.t. {name}[{k}]", tuple(values))
        grads[name].append((analytic.value, analytic.value, analytic))
    return _Sample(exact, standard.value, grads)


def _scaled(entries: list | None, factor: r.Bound, width: int) -> list:
    """(exact, lo, hi, scale) of one sample's entries times its cotangent factor."""
    if entries is None:
        return [(mpmath.nan, mpmath.nan, mpmath.nan, mpf(0))] * width
    out = []
    for lo, hi, analytic in entries:
        a, b = factor.value * lo, factor.value * hi
        low, high = min(a, b), max(a, b)
        scale = (factor * analytic).err if analytic is not None else mpf(0)  # (an interval needs no scale)
        out.append(((low + high) / 2, low, high, scale))
    return out


ORACLES = {
    "pairwise_distance": RowOracle(_pairwise_distance, _pairwise_kink),
    "cosine_similarity": RowOracle(_cosine_similarity, _cosine_kink),
    "cosine_embedding_loss": SampleLossOracle(_cosine_embedding, _cosine_embedding_kink, labels=("target",)),
    "triplet_margin_loss": SampleLossOracle(_triplet, _triplet_kink),
    "triplet_margin_with_distance_loss": SampleLossOracle(_triplet, _triplet_kink),
}
