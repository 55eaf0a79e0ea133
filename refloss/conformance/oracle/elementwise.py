"""The elementwise oracle type: a textbook formula l(x, y; p) of one input element and one target element.

Regression losses are functions of the residual d = x - y (see :func:`residual_oracle`); classification losses
such as binary cross-entropy with logits are functions of a logit x and a target y.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mpmath
from mpmath import mpf

from refloss.conformance.oracle.rounding import Bound

__all__ = ["ElementwiseOracle", "Standard", "enough_precision", "residual_oracle"]

# The standard algorithm of one element: (value, d/d first input, d/d second input) as Bounds (None: no gradient).
Standard = Callable[[mpf, mpf, dict], tuple]


@dataclass(frozen=True)
class ElementwiseOracle:
    """One element's loss ``value(x, y, p)`` (``p``: that element's scalar parameters).

    ``kink_distance(x, y, p)`` is 0 exactly at a point where the loss is not differentiable (one-sided
    derivatives are then taken) and otherwise bounds the step of numerical differentiation; ``natural_scale``
    is the size of the quantity the formula really depends on (|x - y| for a residual loss; by default
    max(|input|, 1)). ``limits(x, y, p)``
    returns (value, d/dx, d/dy) where an input is infinite, for losses whose cases include infinities.
    ``mean_over_weights``: a weighted ``mean`` divides by the weight sum (True) or by the element count.
    ``label_domain``: the closed interval of the second input where the loss is defined only there (soft labels
    in [0, 1]); at its ends the derivative w.r.t. that input is one-sided, from inside, with steps far below
    ``label_scale(x, y, p)``, the distance over which the loss's dependence on the label changes (for the
    focal factor of a saturated logit x, about e^-|x|).
    ``standard(x, y, p)`` evaluates the loss's standard algorithm on :class:`~refloss.conformance.oracle.rounding.
    Bound` numbers: (value, d/dx, d/dy), each with the running error bound that sets its tolerance (policy_v2).
    """

    value: Callable[[mpf, mpf, dict], mpf]
    standard: Standard
    kink_distance: Callable[[mpf, mpf, dict], mpf] = lambda x, y, p: mpmath.inf
    natural_scale: Callable[[mpf, mpf, dict], mpf] | None = None
    limits: Callable[[mpf, mpf, dict], tuple] | None = None
    mean_over_weights: bool = True
    label_domain: tuple[mpf, mpf] | None = None
    label_scale: Callable[[mpf, mpf, dict], mpf] = lambda x, y, p: mpf(1)


def residual_oracle(f: Callable[[mpf, dict], mpf], kinks: Callable[[dict], list],
                    slope_at_infinity: Callable[[dict], mpf], mean_over_weights: bool = True) -> ElementwiseOracle:
    """The oracle of a loss l(x, y) = f(x - y): kinks at the listed residuals; the slope's limit at d -> +inf
    (the loss is even in d, so the limit at -inf is its negative)."""
    def limits(x: mpf, y: mpf, p: dict) -> tuple:
        d = x - y
        slope = slope_at_infinity(p) if d > 0 else -slope_at_infinity(p)
        return f(d, p), slope, -slope

    def kink_distance(x: mpf, y: mpf, p: dict) -> mpf:
        return min([abs(x - y - k) for k in kinks(p)], default=mpmath.inf)

    def standard(x: mpf, y: mpf, p: dict) -> tuple:
        # The standard algorithm rounds d = x - y once (error |d| u), then evaluates l(d) and l'(d) to within a
        # rounding each: well-conditioned functions of d, for which accurate formulas exist (balanced L1 near 0,
        # log cosh near 0 and beyond 710 are where naive ones fail).
        d = x - y
        loss = lambda t: f(t, p)  # noqa: E731
        at_kink = kink_distance(x, y, p) == 0
        slope = _derivative(loss, d, 1, at_kink)
        curvature = _derivative(loss, d, 2, at_kink)
        value = Bound(f(d, p), max(abs(s) for s in slope) * abs(d) + abs(f(d, p)))
        gradient = Bound(slope[-1], max(abs(c) for c in curvature) * abs(d) + max(abs(s) for s in slope))
        return value, gradient, -gradient

    return ElementwiseOracle(
        value=lambda x, y, p: f(x - y, p),
        standard=standard,
        kink_distance=kink_distance,
        natural_scale=lambda x, y, p: abs(x - y),
        limits=limits,
        mean_over_weights=mean_over_weights,
    )


def _step(t: mpf, order: int) -> mpf:
    """A difference step far below the scale of ``t``: tiny for a slope, whose value must agree with the oracle's
    to 30 digits; coarser for a curvature, which enters an error bound and needs two digits."""
    return max(abs(t), mpf(2) ** -1000) * mpf(2) ** (-200 if order == 1 else -60)


def _derivative(f: Callable[[mpf], mpf], t: mpf, order: int, at_kink: bool) -> tuple:
    """f^(order)(t); at a kink the (left, right) one-sided derivatives."""
    with mpmath.workdps(120):
        if not at_kink:
            return (mpmath.diff(f, t, order, h=_step(t, order)),)
        return tuple(mpmath.diff(f, t, order, h=_step(t, order), direction=side) for side in (-1, 1))


def enough_precision(t: mpf):
    """Working precision for a formula that cancels near t = 0 (log(1 + O(t^2)), 1 - sigma(x) for large x ...):
    twice the binary exponent of a small |t| as extra bits."""
    extra = 0
    if t != 0 and mpmath.isfinite(t):
        extra = max(0, -2 * int(mpmath.frexp(t)[1]))
    return mpmath.workprec(mpmath.mp.prec + extra + 64)
