"""mpmath oracles of the classification losses, written from the textbook definitions."""

from __future__ import annotations

import mpmath
from mpmath import mpf

from refloss.conformance.oracle.elementwise import ElementwiseOracle, enough_precision

__all__ = ["ORACLES"]


def _bce_with_logits(x: mpf, y: mpf, p: dict) -> mpf:
    # -[pos_weight y log sigma(x) + (1 - y) log(1 - sigma(x))]: 1 - sigma(x) cancels for large x, so carry about
    # 1.5 |x| extra bits (e^-|x| needs |x| / ln 2 bits below 1).
    pos_weight = p.get("pos_weight", mpf(1))
    with mpmath.workprec(mpmath.mp.prec + int(1.5 * abs(x)) + 64):
        sigma = 1 / (1 + mpmath.exp(-x))
        positive = y * mpmath.log(sigma) if y != 0 else mpf(0)  # 0 log 0 terms are absent, not NaN
        negative = (1 - y) * mpmath.log(1 - sigma) if y != 1 else mpf(0)
        return -(pos_weight * positive + negative)


def _sigmoid_focal(x: mpf, y: mpf, p: dict) -> mpf:
    # Lin et al. (2017): alpha_t (1 - p_t)^gamma CE with p_t = p y + (1 - p)(1 - y), alpha disabled when < 0
    alpha, gamma = p["alpha"], p["gamma"]
    with mpmath.workprec(mpmath.mp.prec + int(1.5 * abs(x)) + 64):
        sigma = 1 / (1 + mpmath.exp(-x))
        positive = y * mpmath.log(sigma) if y != 0 else mpf(0)
        negative = (1 - y) * mpmath.log(1 - sigma) if y != 1 else mpf(0)
        p_t = sigma * y + (1 - sigma) * (1 - y)
        alpha_t = mpf(1) if alpha < 0 else alpha * y + (1 - alpha) * (1 - y)
        return alpha_t * (1 - p_t) ** gamma * -(positive + negative)


def _bce_probabilities(p: mpf, y: mpf, params: dict) -> mpf:
    # PyTorch's documented formula: -[y max(log p, -100) + (1 - y) max(log(1 - p), -100)], 0 log 0 terms absent.
    # Outside [0, 1] (where one-sided differences step) p is held at the bound: the loss has no values there.
    p = min(max(p, mpf(0)), mpf(1))
    floor = mpf(-100)
    positive = y * max(mpmath.log(p), floor) if y != 0 else mpf(0)
    with enough_precision(p):  # log(1 - p) for tiny p
        negative = (1 - y) * max(mpmath.log(1 - p), floor) if y != 1 else mpf(0)
    return -(positive + negative)


def _bce_kink_distance(p: mpf, y: mpf, params: dict) -> mpf:
    """0 at p = 0 or 1 (one-sided there) and at the clamp thresholds p = e^-100, 1 - p = e^-100."""
    threshold = mpmath.exp(-100)
    return min(abs(p), abs(1 - p), abs(p - threshold), abs(1 - p - threshold))


def _hinge_label(y: mpf) -> mpf:
    return mpf(-1) if y == 0 else y  # {0, 1} labels mean {-1, +1}


def _hinge(x: mpf, y: mpf, params: dict) -> mpf:
    return max(mpf(0), 1 - _hinge_label(y) * x)  # Cortes & Vapnik: max(0, 1 - y f(x))


def _squared_hinge(x: mpf, y: mpf, params: dict) -> mpf:
    return max(mpf(0), 1 - _hinge_label(y) * x) ** 2


def _margin_distance(x: mpf, y: mpf, params: dict) -> mpf:
    return abs(1 - _hinge_label(y) * x)


def _bce_keras(p: mpf, y: mpf, params: dict) -> mpf:
    # Keras: clip p to [eps, 1 - eps] with 1 - eps as Keras computes it in float64, then plain logs
    eps = params.get("epsilon", mpf(1e-7))
    upper = mpf(1.0 - float(eps))
    clipped = min(max(p, eps), upper)
    return -(y * mpmath.log(clipped) + (1 - y) * mpmath.log(1 - clipped))


def _keras_clip_distance(p: mpf, y: mpf, params: dict) -> mpf:
    eps = params.get("epsilon", mpf(1e-7))
    return min(abs(p - eps), abs(p - mpf(1.0 - float(eps))))


ORACLES = {
    "binary_cross_entropy_with_logits": ElementwiseOracle(_bce_with_logits, mean_over_weights=False),
    "sigmoid_focal_loss": ElementwiseOracle(_sigmoid_focal),
    "binary_cross_entropy": ElementwiseOracle(_bce_probabilities, kink_distance=_bce_kink_distance,
                                              mean_over_weights=False),
    "binary_cross_entropy_keras": ElementwiseOracle(_bce_keras, kink_distance=_keras_clip_distance),
    "hinge_loss": ElementwiseOracle(_hinge, kink_distance=_margin_distance),
    "squared_hinge_loss": ElementwiseOracle(_squared_hinge, kink_distance=_margin_distance),
}
