"""mpmath oracles of the regression losses, written from the papers' and PyTorch docs' formulas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mpmath
from mpmath import mpf

__all__ = ["ORACLES", "ElementwiseOracle"]


@dataclass(frozen=True)
class ElementwiseOracle:
    """A loss l(d) of the residual d = input - target.

    ``value(d, p)`` is the textbook formula; ``kinks(p)`` lists the residuals where l is not differentiable or
    changes formula (one-sided derivatives are taken there); ``slope_at_infinity(p)`` is the limit of l'(d) as
    d -> +inf (the loss is even, so the limit at -inf is its negative).
    """

    value: Callable[[mpf, dict], mpf]
    kinks: Callable[[dict], list]
    slope_at_infinity: Callable[[dict], mpf]
    weighted_mean_over_weights: bool = True  # False: a weighted mean divides by the count (torch huber_loss)


def _enough_precision(d: mpf):
    """Working precision for log(1 + something of size d^2): the textbook forms cancel catastrophically near 0
    (cosh(1e-150) = 1 + 5e-301), so carry twice the binary exponent of a small |d| as extra bits."""
    extra = 0
    if d != 0 and mpmath.isfinite(d):
        extra = max(0, -2 * int(mpmath.frexp(d)[1]))
    return mpmath.workprec(mpmath.mp.prec + extra + 64)


def _log_cosh(d: mpf, p: dict) -> mpf:
    with _enough_precision(d):
        return mpmath.log(mpmath.cosh(d))


def _smooth_l1(d: mpf, p: dict) -> mpf:
    beta = p["beta"]
    if abs(d) < beta:
        return d * d / (2 * beta)
    return abs(d) - beta / 2


def _huber(d: mpf, p: dict) -> mpf:
    delta = p["delta"]
    if abs(d) < delta:
        return d * d / 2
    return delta * (abs(d) - delta / 2)


def _balanced_l1(d: mpf, p: dict) -> mpf:
    # Libra R-CNN eq. (9) with mmdetection's beta: b from alpha ln(b + 1) = gamma
    alpha, gamma, beta = p["alpha"], p["gamma"], p["beta"]
    b = mpmath.exp(gamma / alpha) - 1
    u = abs(d)
    if u < beta:
        with _enough_precision(d):
            return alpha / b * (b * u + 1) * mpmath.log(b * u / beta + 1) - alpha * u
    return gamma * u + gamma / b - alpha * beta


ORACLES = {
    "l1_loss": ElementwiseOracle(lambda d, p: abs(d), lambda p: [mpf(0)], lambda p: mpf(1)),
    "mse_loss": ElementwiseOracle(lambda d, p: d * d, lambda p: [], lambda p: mpmath.inf),
    "smooth_l1_loss": ElementwiseOracle(_smooth_l1, lambda p: [-p["beta"], p["beta"]] if p["beta"] else [mpf(0)],
                                        lambda p: mpf(1)),
    "huber_loss": ElementwiseOracle(_huber, lambda p: [-p["delta"], p["delta"]], lambda p: p["delta"],
                                    weighted_mean_over_weights=False),
    "log_cosh_loss": ElementwiseOracle(_log_cosh, lambda p: [], lambda p: mpf(1)),
    "balanced_l1_loss": ElementwiseOracle(_balanced_l1, lambda p: [-p["beta"], mpf(0), p["beta"]],
                                          lambda p: p["gamma"]),
}
