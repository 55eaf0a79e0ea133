"""mpmath oracles of the regression losses, written from the papers' and PyTorch docs' formulas."""

from __future__ import annotations

import mpmath
from mpmath import mpf

from refloss.conformance.oracle.elementwise import enough_precision, residual_oracle

__all__ = ["ORACLES"]


def _log_cosh(d: mpf, p: dict) -> mpf:
    with enough_precision(d):
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
        with enough_precision(d):
            return alpha / b * (b * u + 1) * mpmath.log(b * u / beta + 1) - alpha * u
    return gamma * u + gamma / b - alpha * beta


ORACLES = {
    "l1_loss": residual_oracle(lambda d, p: abs(d), lambda p: [mpf(0)], lambda p: mpf(1)),
    "mse_loss": residual_oracle(lambda d, p: d * d, lambda p: [], lambda p: mpmath.inf),
    "smooth_l1_loss": residual_oracle(_smooth_l1, lambda p: [-p["beta"], p["beta"]] if p["beta"] else [mpf(0)],
                                      lambda p: mpf(1)),
    "huber_loss": residual_oracle(_huber, lambda p: [-p["delta"], p["delta"]], lambda p: p["delta"],
                                  mean_over_weights=False),
    "log_cosh_loss": residual_oracle(_log_cosh, lambda p: [], lambda p: mpf(1)),
    "balanced_l1_loss": residual_oracle(_balanced_l1, lambda p: [-p["beta"], mpf(0), p["beta"]],
                                        lambda p: p["gamma"]),
}
