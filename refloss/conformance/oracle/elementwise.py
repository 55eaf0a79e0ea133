"""The elementwise oracle type: a textbook formula l(x, y; p) of one input element and one target element.

Regression losses are functions of the residual d = x - y (see :func:`residual_oracle`); classification losses
such as binary cross-entropy with logits are functions of a logit x and a target y.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mpmath
from mpmath import mpf

__all__ = ["ElementwiseOracle", "enough_precision", "residual_oracle"]


@dataclass(frozen=True)
class ElementwiseOracle:
    """One element's loss ``value(x, y, p)`` (``p``: that element's scalar parameters).

    ``kink_distance(x, y, p)`` is 0 exactly at a point where the loss is not differentiable (one-sided
    derivatives are then taken) and otherwise bounds the step of numerical differentiation; ``natural_scale``
    is the size of the quantity the formula really depends on (|x - y| for a residual loss; by default
    max(|input|, 1)). ``limits(x, y, p)``
    returns (value, d/dx, d/dy) where an input is infinite, for losses whose cases include infinities.
    ``mean_over_weights``: a weighted ``mean`` divides by the weight sum (True) or by the element count.
    """

    value: Callable[[mpf, mpf, dict], mpf]
    kink_distance: Callable[[mpf, mpf, dict], mpf] = lambda x, y, p: mpmath.inf
    natural_scale: Callable[[mpf, mpf, dict], mpf] | None = None
    limits: Callable[[mpf, mpf, dict], tuple] | None = None
    mean_over_weights: bool = True


def residual_oracle(f: Callable[[mpf, dict], mpf], kinks: Callable[[dict], list],
                    slope_at_infinity: Callable[[dict], mpf], mean_over_weights: bool = True) -> ElementwiseOracle:
    """The oracle of a loss l(x, y) = f(x - y): kinks at the listed residuals; the slope's limit at d -> +inf
    (the loss is even in d, so the limit at -inf is its negative)."""
    def limits(x: mpf, y: mpf, p: dict) -> tuple:
        d = x - y
        slope = slope_at_infinity(p) if d > 0 else -slope_at_infinity(p)
        return f(d, p), slope, -slope

    return ElementwiseOracle(
        value=lambda x, y, p: f(x - y, p),
        kink_distance=lambda x, y, p: min([abs(x - y - k) for k in kinks(p)], default=mpmath.inf),
        natural_scale=lambda x, y, p: abs(x - y),
        limits=limits,
        mean_over_weights=mean_over_weights,
    )


def enough_precision(t: mpf):
    """Working precision for a formula that cancels near t = 0 (log(1 + O(t^2)), 1 - sigma(x) for large x ...):
    twice the binary exponent of a small |t| as extra bits."""
    extra = 0
    if t != 0 and mpmath.isfinite(t):
        extra = max(0, -2 * int(mpmath.frexp(t)[1]))
    return mpmath.workprec(mpmath.mp.prec + extra + 64)
