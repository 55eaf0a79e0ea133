"""mpmath oracle of ctc_loss, written from Graves et al. (2006), section 4.1, and PyTorch's documented reduction.

The expected value is the paper's forward recursion in probability space (eqs. 6-8, 1-indexed as there): mpmath
cannot underflow, so no logarithms are needed until -log p. Each gradient entry is ``mpmath.diff`` of that loss at
120 digits; an entry that cannot move the loss (a step past the sample's input length, a class absent from its
target) is exactly 0. :func:`path_probability` enumerates every alignment instead (the definition, eq. 3): the
tests check the recursion against it on small cases.

The standard algorithm whose rounding errors set the per-entry scales (policy_v2) is the log-space one every
framework runs: forward variables a_t(s) = x_t(l'_s) + LSE(predecessors), LSE shifted by its largest term, the
backward variables likewise, and the gradient -sum_s exp(a_t(s) + c_t(s) + loss) over the states of each class.
Its values must agree with the textbook's to 30 digits. Nothing here imports refloss.losses.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.evaluate import DIGITS, Expectation, Tensor, _snap, agree

__all__ = ["CtcOracle", "ORACLES", "path_probability", "recursion_probability"]

_DIFF_DIGITS = 120


# ---- the textbook ---------------------------------------------------------------------------------------------

def _with_blanks(target: list[int], blank: int) -> list[int]:
    """l' of the paper: the target with a blank before, between and after its labels."""
    extended = [blank]
    for label in target:
        extended += [label, blank]
    return extended


def recursion_probability(y: list[list], target: list[int], blank: int) -> mpf:
    """p(l | x) by eqs. 6-8 of Graves et al.: ``y[t][k]`` the probability of class k at step t (0-based here)."""
    steps = len(y)
    extended = _with_blanks(target, blank)
    size = len(extended)
    if steps == 0:
        return mpf(1) if not target else mpf(0)
    alpha = [mpf(0)] * size
    alpha[0] = y[0][blank]
    if size > 1:
        alpha[1] = y[0][extended[1]]
    for t in range(1, steps):
        previous = alpha
        alpha = []
        for s in range(size):
            total = previous[s] + (previous[s - 1] if s >= 1 else 0)
            if s >= 2 and extended[s] != blank and extended[s] != extended[s - 2]:
                total += previous[s - 2]
            alpha.append(total * y[t][extended[s]])
    return alpha[-1] + (alpha[-2] if size > 1 else 0)


def _collapse(path: tuple[int, ...], blank: int) -> list[int]:
    """The map B of the paper: merge repeated labels, then remove blanks."""
    return [k for k, _ in itertools.groupby(path) if k != blank]


def path_probability(y: list[list], target: list[int], blank: int) -> mpf:
    """p(l | x) by definition (eq. 3): the sum over every path pi with B(pi) = l of prod_t y[t][pi_t]."""
    classes = len(y[0]) if y else 0
    total = mpf(0)
    for path in itertools.product(range(classes), repeat=len(y)):
        if _collapse(path, blank) == list(target):
            total += mpmath.fprod(y[t][k] for t, k in enumerate(path))
    return total if y else mpf(1 if not target else 0)


def _sample_loss(x: list[list], target: list[int], blank: int, zero_infinity: bool) -> mpf:
    """-log p(l | x) with y = exp(x): +inf when no path has positive probability (0 with zero_infinity)."""
    y = [[mpmath.exp(v) for v in row] for row in x]
    p = recursion_probability(y, target, blank)
    if mpmath.isnan(p):
        return mpmath.nan
    loss = -mpmath.log(p) if p > 0 else mpmath.inf
    return mpf(0) if zero_infinity and loss == mpmath.inf else loss


# ---- the standard algorithm (log space, running error bounds) -------------------------------------------------

def _lse(terms: list) -> r.Bound | None:
    """LSE of the Bounds present (None: -inf), shifted by the largest term as the frameworks compute it."""
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    top = max(terms, key=lambda t: t.value)
    return top + r.log(r.total(r.exp(t - top) for t in terms))


def _standard(x: list[list], target: list[int], blank: int) -> tuple[r.Bound, list[list]]:
    """The loss and its gradient (T x C) as Bounds, for a sample with a finite loss and no NaN."""
    steps, classes = len(x), len(x[0]) if x else 0
    extended = _with_blanks(target, blank)
    size = len(extended)
    if steps == 0:
        return r.exact(0), []
    skip = [s >= 2 and extended[s] != blank and extended[s] != extended[s - 2] for s in range(size)]

    def emission(t: int, s: int) -> r.Bound | None:
        v = x[t][extended[s]]
        return None if v == -mpmath.inf else r.exact(v)

    def plus(a: r.Bound | None, b: r.Bound | None) -> r.Bound | None:
        return None if a is None or b is None else a + b

    alpha = [[None] * size for _ in range(steps)]
    alpha[0][0] = emission(0, 0)
    if size > 1:
        alpha[0][1] = emission(0, 1)
    for t in range(1, steps):
        for s in range(size):
            previous = [alpha[t - 1][s], alpha[t - 1][s - 1] if s >= 1 else None,
                        alpha[t - 1][s - 2] if skip[s] else None]
            alpha[t][s] = plus(emission(t, s), _lse(previous))
    beta = [[None] * size for _ in range(steps)]
    beta[-1][-1] = r.exact(0)
    if size > 1:
        beta[-1][-2] = r.exact(0)
    for t in range(steps - 2, -1, -1):
        for s in range(size):
            ahead = [plus(emission(t + 1, j), beta[t + 1][j]) for j in (s, s + 1, s + 2)
                     if j < size and (j != s + 2 or skip[j])]
            beta[t][s] = _lse(ahead)
    loss = -_lse([alpha[-1][-1], alpha[-1][-2] if size > 1 else None])
    grad = [[r.exact(0)] * classes for _ in range(steps)]
    for t in range(steps):
        for k in set(extended):
            occupancy = [r.exp(alpha[t][s] + beta[t][s] + loss) for s in range(size)
                         if extended[s] == k and alpha[t][s] is not None and beta[t][s] is not None]
            grad[t][k] = -r.total(occupancy)
    return loss, grad


# ---- evaluation -----------------------------------------------------------------------------------------------

def _targets(targets: np.ndarray, target_lengths: list[int], batched: bool) -> list[list[int]]:
    """Each sample's labels: a padded row cut to its length, or its slice of concatenated targets."""
    if not batched:
        return [[int(v) for v in targets[:target_lengths[0]]]]
    if targets.ndim == 2:
        return [[int(v) for v in targets[n, :length]] for n, length in enumerate(target_lengths)]
    starts = np.concatenate([[0], np.cumsum(target_lengths)])
    return [[int(v) for v in targets[starts[n]:starts[n + 1]]] for n in range(len(target_lengths))]


@dataclass(frozen=True)
class CtcOracle:
    """The oracle of ctc_loss; it evaluates itself (four inputs, of which one is differentiable)."""

    def evaluate(self, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
                 cotangent: np.ndarray, conventions: tuple[str, ...] = (),
                 differentiable: tuple[str, ...] | None = None) -> Expectation:
        return evaluate_ctc(inputs, params, reduction, cotangent, differentiable)


def evaluate_ctc(inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str, cotangent: np.ndarray,
                 differentiable: tuple[str, ...] | None = None) -> Expectation:
    """The exact value and the gradient w.r.t. log_probs, each entry with the standard algorithm's error bound."""
    log_probs = np.asarray(inputs["log_probs"], dtype=np.float64)
    batched = log_probs.ndim == 3
    x_all = log_probs if batched else log_probs[:, None, :]
    steps, batch, classes = x_all.shape
    blank = int(params.get("blank", 0))
    zero_infinity = bool(params.get("zero_infinity", False))
    input_lengths = [int(v) for v in np.ravel(inputs["input_lengths"])]
    target_lengths = [int(v) for v in np.ravel(inputs["target_lengths"])]
    targets = _targets(np.asarray(inputs["targets"]), target_lengths, batched)
    with mpmath.workdps(DIGITS):
        rows = [[[mpf(float(x_all[t, n, k])) for k in range(classes)] for t in range(input_lengths[n])]
                for n in range(batch)]
        losses = [_sample_loss(rows[n], targets[n], blank, zero_infinity) for n in range(batch)]
        standard = []
        for n in range(batch):
            usable = mpmath.isfinite(losses[n]) and not (zero_infinity and _infinite(rows[n], targets[n], blank))
            bounds = _standard(rows[n], targets[n], blank) if usable else None
            if bounds is not None:
                agree(bounds[0], [losses[n]], f"loss of sample {n}", tuple(v for row in rows[n] for v in row))
            standard.append(bounds)
        divisors = [mpf(max(length, 1)) for length in target_lengths]
        g = np.asarray(cotangent, dtype=np.float64)
        if reduction == "none":
            shape = (batch,) if batched else ()
            value = Tensor(shape, losses, scale=[b[0].err if b else mpf(0) for b in standard])
            factors = [r.exact(mpf(float(v))) for v in np.ravel(g)]
        elif reduction == "sum":
            value = Tensor((), [mpmath.fsum(losses)], scale=[r.total(b[0] for b in standard if b).err])
            factors = [r.exact(mpf(float(g)))] * batch
        else:
            if batch == 0:
                value = Tensor((), [mpmath.nan], scale=[mpf(0)])
            else:
                shares = [b[0] / divisors[n] for n, b in enumerate(standard) if b]
                mean = mpmath.fsum(loss / d for loss, d in zip(losses, divisors)) / batch
                value = Tensor((), [mean], scale=[(r.total(shares) / batch).err])
            factors = [r.exact(mpf(float(g))) / divisors[n] / batch for n in range(batch)]
        exact = np.zeros(x_all.shape, dtype=object)
        scales = np.zeros(x_all.shape, dtype=object)
        exact[...] = mpf(0)
        scales[...] = mpf(0)
        for n in range(batch):
            extended = set(_with_blanks(targets[n], blank))
            for t in range(input_lengths[n]):
                for k in extended:
                    exact[t, n, k], scales[t, n, k] = _entry(rows[n], targets[n], blank, zero_infinity, t, k,
                                                             losses[n], standard[n], factors[n])
        grads = {}
        if differentiable is None or "log_probs" in differentiable:
            shape = x_all.shape if batched else (steps, classes)
            grads["log_probs"] = Tensor(shape, list(exact.reshape(shape).ravel()),
                                        scale=list(scales.reshape(shape).ravel()))
        return Expectation(value, grads)


def _infinite(x: list[list], target: list[int], blank: int) -> bool:
    return _sample_loss(x, target, blank, False) == mpmath.inf


def _entry(x: list[list], target: list[int], blank: int, zero_infinity: bool, t: int, k: int, loss: mpf,
           bounds: tuple | None, factor: r.Bound) -> tuple[mpf, mpf]:
    """The gradient entry (t, k) of one sample, the cotangent's factor included, and its error bound."""
    if zero_infinity and _infinite(x, target, blank):
        return mpf(0), mpf(0)  # PyTorch: the zeroed loss has a zero gradient
    if not mpmath.isfinite(loss):
        return mpmath.nan, mpf(0)  # an infinite or NaN loss has no derivative (PyTorch: NaN)
    if x[t][k] == -mpmath.inf:
        return mpf(0), mpf(0)  # y = e^x = 0 and so is its derivative: no path through it counts

    def along(v: mpf) -> mpf:
        moved = [list(row) for row in x]
        moved[t][k] = v
        return _sample_loss(moved, target, blank, False)

    step = max(abs(x[t][k]), mpf(1)) * mpf(2) ** -150
    with mpmath.workdps(_DIFF_DIGITS):
        numerical = _snap(mpmath.diff(along, x[t][k], h=step))
    entry = factor * bounds[1][t][k]
    agree(bounds[1][t][k], [numerical], f"derivative ({t}, {k})", tuple(v for row in x for v in row
                                                                       if mpmath.isfinite(v)))
    return entry.value, entry.err


ORACLES = {"ctc_loss": CtcOracle()}
