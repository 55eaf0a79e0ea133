"""mpmath oracles of the likelihood losses: Poisson and Gaussian negative log-likelihoods (PyTorch's definitions).

Each element's loss is a function of one entry of each input (the Gaussian ``var`` broadcast to ``input``'s shape
by PyTorch's rules). A :class:`PointwiseOracle` evaluates itself: the textbook formula in mpmath at the exact
inputs, its partial derivatives by ``mpmath.diff`` at 120 digits, the reductions exactly, and beside them the
standard algorithm of each element as :class:`~refloss.conformance.oracle.rounding.Bound` numbers, whose analytic
derivatives must agree with the numerical ones to 30 digits and whose running error bounds are the per-entry
scales of policy_v2. The gradient of a broadcast input is the sum over the elements that share each entry.

Two places where the loss is not differentiable take PyTorch's choice, written here explicitly rather than read
off the NumPy reference (which this module never imports):

* ``poisson_nll_loss`` with ``full``: Stirling's term is masked where ``target <= 1``, so the loss jumps at
  ``target = 1``; there the target derivative is the one-sided derivative from the left (the term absent).
* ``gaussian_nll_loss``: PyTorch clamps ``var`` at ``eps`` under ``torch.no_grad``, so the derivative w.r.t.
  ``var`` is that of the unclamped formula at ``max(var, eps)`` (straight through), also where ``var < eps``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.evaluate import DIGITS, Expectation, Tensor, _snap, agree

__all__ = ["ORACLES", "PointwiseOracle"]

_DIFF_DIGITS = 120
_EMPTY_MEAN_ZERO = "empty-mean-is-zero"


@dataclass(frozen=True)
class PointwiseOracle:
    """An elementwise loss of several inputs.

    ``value(e, p)``: the element's loss from ``e`` (input name -> mpf) and the scalar parameters ``p``.
    ``standard(e, p)``: the standard algorithm, (value, {input name: derivative}) as Bounds.
    ``point(name, e, p)``: where the derivative w.r.t. ``name`` is taken and along which variable: (t0, f(t),
    direction), ``direction`` -1 for a one-sided derivative from the left (a declared convention), 0 central.
    ``broadcast(name, shape, input_shape)``: the shape an input of ``shape`` takes to broadcast to the input's.
    ``limits(e, p)``: (value, {name: derivative}) where an input is infinite.
    """

    value: Callable[[dict, dict], mpf]
    standard: Callable[[dict, dict], tuple]
    point: Callable[[str, dict, dict], tuple]
    limits: Callable[[dict, dict], tuple]
    broadcast: Callable[[str, tuple, tuple], tuple] = lambda name, shape, input_shape: shape

    def evaluate(self, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
                 cotangent: np.ndarray, conventions: tuple[str, ...] = (),
                 differentiable: tuple[str, ...] | None = None) -> Expectation:
        """The exact value and gradients of the loss at the case, each entry with its error-bound scale."""
        names = list(inputs)
        differentiable = tuple(names if differentiable is None else differentiable)
        shape = inputs[names[0]].shape
        with mpmath.workdps(DIGITS):
            p = {k: (bool(v) if isinstance(v, (bool, np.bool_)) else mpf(float(v))) for k, v in params.items()
                 if v is not None}
            owners = {n: np.broadcast_to(np.arange(inputs[n].size).reshape(
                self.broadcast(n, inputs[n].shape, shape)), shape).ravel() for n in names}
            flat = {n: [mpf(float(v)) for v in inputs[n].ravel()] for n in names}
            elements = [{n: flat[n][owners[n][i]] for n in names} for i in range(int(np.prod(shape)))]
            results = [self._element(e, p, differentiable) for e in elements]
            count = len(elements)
            if reduction == "none":
                value = Tensor(shape, [v for v, _, _ in results], scale=[b.err for _, b, _ in results])
                factors = [r.exact(mpf(float(c))) for c in np.ravel(cotangent)]
            else:
                total = mpmath.fsum(v for v, _, _ in results) if results else mpf(0)
                summed = r.total(b for v, b, _ in results if mpmath.isfinite(v))
                g = r.exact(mpf(float(cotangent)))
                if reduction == "sum":
                    value, factors = Tensor((), [total], scale=[summed.err]), [g] * count
                elif count == 0:
                    empty = mpf(0) if _EMPTY_MEAN_ZERO in conventions else mpmath.nan
                    value, factors = Tensor((), [empty], scale=[mpf(0)]), []
                else:
                    value = Tensor((), [total / count], scale=[(summed / count).err])
                    factors = [g / count] * count
            grads = {}
            for n in differentiable:  # a broadcast entry sums the contributions of the elements sharing it
                exact = [mpf(0)] * inputs[n].size
                terms: list[list] = [[] for _ in range(inputs[n].size)]
                for i, (factor, (_, _, partials)) in enumerate(zip(factors, results)):
                    exact[owners[n][i]] += factor.value * partials[n][0]
                    terms[owners[n][i]].append(factor * partials[n][1])
                grads[n] = Tensor(inputs[n].shape, exact, scale=[r.total(t).err if mpmath.isfinite(e) else mpf(0)
                                                                 for t, e in zip(terms, exact)])
            return Expectation(value, grads)

    def _element(self, e: dict, p: dict, differentiable: tuple) -> tuple:
        """(value, value Bound, {name: (derivative, derivative Bound)}) of one element."""
        if any(mpmath.isnan(v) for v in e.values()):
            nan = mpmath.nan
            return nan, r.exact(0), {n: (nan, r.exact(0)) for n in differentiable}
        if not all(mpmath.isfinite(v) for v in e.values()):
            value, slopes = self.limits(e, p)
            return value, r.exact(0), {n: (slopes[n], r.exact(0)) for n in differentiable}
        value = self.value(e, p)
        bound, analytic = self.standard(e, p)
        agree(bound, [value], "value", tuple(e.values()))
        partials = {}
        for n in differentiable:
            t0, along, direction = self.point(n, e, p)
            step = max(abs(t0), mpf(1)) * mpf(2) ** -150
            # (digits beyond the value's magnitude: e^800 - 800 y must still resolve the step in y)
            with mpmath.workdps(_DIFF_DIGITS + max(0, int(mpmath.log10(abs(value) + 1)))):
                numerical = _snap(mpmath.diff(along, t0, h=step, direction=direction))
            agree(analytic[n], [numerical], f"derivative w.r.t. {n}", tuple(e.values()))
            partials[n] = (analytic[n].value, analytic[n])
        return value, bound, partials


# ---- poisson_nll_loss -------------------------------------------------------------------------------------------

def _stirling(y: mpf) -> mpf:
    """PyTorch's Stirling term: y log y - y + log(2 pi y) / 2 where y > 1, else nothing."""
    return y * mpmath.log(y) - y + mpmath.log(2 * mpmath.pi * y) / 2 if y > 1 else mpf(0)


def _poisson(e: dict, p: dict) -> mpf:
    # The Poisson negative log-likelihood lambda - y log lambda (log y! dropped, or approximated with full).
    x, y = e["input"], e["target"]
    if p.get("log_input", True):
        loss = mpmath.exp(x) - y * x  # lambda = e^x
    else:
        loss = x - y * mpmath.log(x + p.get("eps", mpf(1e-8)))  # lambda = x (+ eps)
    return loss + (_stirling(y) if p.get("full", False) else 0)


def _poisson_standard(e: dict, p: dict) -> tuple:
    # exp(x) - y x and its slopes exp(x) - y, -x; or x - y log(x + eps), 1 - y / (x + eps), -log(x + eps); with
    # full, y log y - y + 0.5 log y + 0.5 log(2 pi) (a rounded constant) and its slope log y + 0.5 / y.
    x, y = r.exact(e["input"]), r.exact(e["target"])
    if p.get("log_input", True):
        rate = r.exp(x)
        value, dx, dy = rate - y * x, rate - y, -x
    else:
        shifted = x + p.get("eps", mpf(1e-8))
        log_rate = r.log(shifted)
        value, dx, dy = x - y * log_rate, 1 - y / shifted, -log_rate
    if p.get("full", False) and y.value > 1:
        log_y = r.log(y)
        constant = mpmath.log(2 * mpmath.pi) / 2
        value = value + (y * log_y - y + log_y * mpf(0.5) + r.Bound(constant, constant))
        dy = dy + (log_y + mpf(0.5) / y)
    return value, {"input": dx, "target": dy}


def _poisson_point(name: str, e: dict, p: dict) -> tuple:
    def along(t: mpf) -> mpf:
        return _poisson({**e, name: t}, p)
    # At target = 1 with full the loss jumps (Stirling's term switches on just above 1): PyTorch's mask target <= 1
    # makes the derivative there the one from the left.
    at_jump = name == "target" and p.get("full", False) and e["target"] == 1
    return e[name], along, -1 if at_jump else 0


def _poisson_limits(e: dict, p: dict) -> tuple:
    raise ArithmeticError("poisson_nll_loss: infinite inputs are not in the cases (overflow is tested with x = 800)")


# ---- gaussian_nll_loss ------------------------------------------------------------------------------------------

def _gaussian_at(x: mpf, y: mpf, v: mpf, p: dict) -> mpf:
    """The Gaussian negative log-likelihood with variance v (already clamped): (log v + (x - y)^2 / v) / 2."""
    loss = (mpmath.log(v) + (x - y) ** 2 / v) / 2
    return loss + (mpmath.log(2 * mpmath.pi) / 2 if p.get("full", False) else 0)


def _clamped(e: dict, p: dict) -> mpf:
    return max(e["var"], p.get("eps", mpf(1e-6)))


def _gaussian(e: dict, p: dict) -> mpf:
    return _gaussian_at(e["input"], e["target"], _clamped(e, p), p)


def _gaussian_standard(e: dict, p: dict) -> tuple:
    # d = x - y; (log v + d * d / v) / 2; d/dx = d / v; d/dvar = (1 - (d / v) d) / (2 v) at v = max(var, eps).
    v = r.exact(_clamped(e, p))
    d = r.exact(e["input"]) - e["target"]
    value = (r.log(v) + d * d / v) * mpf(0.5)
    if p.get("full", False):
        constant = mpmath.log(2 * mpmath.pi) / 2
        value = value + r.Bound(constant, constant)
    ratio = d / v
    return value, {"input": ratio, "target": -ratio, "var": (1 - ratio * d) * mpf(0.5) / v}


def _gaussian_point(name: str, e: dict, p: dict) -> tuple:
    if name == "var":  # straight through the clamp: differentiate in the clamped variance itself
        return _clamped(e, p), lambda t: _gaussian_at(e["input"], e["target"], t, p), 0
    return e[name], lambda t: _gaussian({**e, name: t}, p), 0


def _gaussian_limits(e: dict, p: dict) -> tuple:
    """An infinite variance: the loss is +inf and every gradient 0 (log v and 1/v); an infinite mean or
    observation with a finite variance: +inf, with d/dx = +-inf and d/dvar = -inf."""
    x, y, var = e["input"], e["target"], e["var"]
    if mpmath.isinf(var) and mpmath.isfinite(x) and mpmath.isfinite(y):
        return mpmath.inf, {"input": mpf(0), "target": mpf(0), "var": mpf(0)}
    if mpmath.isfinite(var) and (mpmath.isinf(x) != mpmath.isinf(y)):
        d = x - y
        return mpmath.inf, {"input": d, "target": -d, "var": -mpmath.inf}
    raise ArithmeticError("gaussian_nll_loss: this combination of infinite inputs has no case")


def _gaussian_broadcast(name: str, shape: tuple, input_shape: tuple) -> tuple:
    """PyTorch's var shapes: input's shape without its last dimension gets a trailing 1; the others broadcast."""
    if name == "var" and shape != input_shape and shape == input_shape[:-1] and shape != ():
        return shape + (1,)
    return shape


ORACLES = {
    "poisson_nll_loss": PointwiseOracle(_poisson, _poisson_standard, _poisson_point, _poisson_limits),
    "gaussian_nll_loss": PointwiseOracle(_gaussian, _gaussian_standard, _gaussian_point, _gaussian_limits,
                                         _gaussian_broadcast),
}
