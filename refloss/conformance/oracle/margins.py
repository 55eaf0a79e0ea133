"""mpmath oracles of the losses on labels in {-1, +1}: soft margin, hinge embedding and margin ranking.

Written from PyTorch's documented formulas (torch.nn.functional), not from the NumPy reference:

* soft margin: l(x, y) = log(1 + exp(-y x));
* hinge embedding: l(x, y) = x if y = 1, max(0, margin - x) if y = -1;
* margin ranking: l(x1, x2, y) = max(0, -y (x1 - x2) + margin).

Margin ranking has three inputs; its label enters each element's formula as a per-element parameter, so the
elementwise evaluator differentiates it w.r.t. the pair (x1, x2) (:class:`LabelledPairOracle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.elementwise import ElementwiseOracle
from refloss.conformance.oracle.evaluate import Expectation, evaluate

__all__ = ["LabelledPairOracle", "ORACLES"]


@dataclass(frozen=True)
class LabelledPairOracle:
    """A loss of two real inputs and a label, elementwise: ``pair`` is the elementwise oracle of the two inputs,
    which reads each element's label from its parameters under the name ``label``."""

    pair: ElementwiseOracle
    label: str = "target"

    def evaluate(self, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
                 cotangent: np.ndarray, conventions: tuple[str, ...] = (),
                 differentiable: tuple[str, ...] | None = None) -> Expectation:
        pair = {name: array for name, array in inputs.items() if name != self.label}
        return evaluate(self.pair, pair, {**params, self.label: inputs[self.label]}, reduction, cotangent,
                        conventions, differentiable)


# ---- soft margin --------------------------------------------------------------------------------------------------

def _precision(x: mpf):
    """log(1 + e^-t) for large t: 1 + e^-t must keep e^-t, about 1.5 |t| extra bits."""
    return mpmath.workprec(mpmath.mp.prec + int(1.5 * abs(x)) + 64)


def _soft_margin(x: mpf, y: mpf, p: dict) -> mpf:
    with _precision(x):
        return mpmath.log(1 + mpmath.exp(-y * x))  # PyTorch's documented formula, at enough precision


def _soft_margin_standard(x: mpf, y: mpf, p: dict) -> tuple:
    # softplus(-y x) (y x is exact for y = +-1), and its slope -y sigma(-y x): each one rounding of a
    # well-conditioned function
    with _precision(x):
        return r.softplus(-y * x), -y * r.sigmoid(-y * x), None


def _soft_margin_limits(x: mpf, y: mpf, p: dict) -> tuple:
    # x = -+inf against y = +-1: the loss grows like -y x with slope -y; on the right side it is 0 with slope 0
    wrong_side = -y * x > 0
    return (mpmath.inf if wrong_side else mpf(0)), (-y if wrong_side else mpf(0)), mpmath.nan


# ---- hinge embedding ----------------------------------------------------------------------------------------------

def _hinge_embedding(x: mpf, y: mpf, p: dict) -> mpf:
    return x if y == 1 else max(mpf(0), p["margin"] - x)


def _hinge_embedding_kink(x: mpf, y: mpf, p: dict) -> mpf:
    return mpmath.inf if y == 1 else abs(p["margin"] - x)


def _hinge_embedding_standard(x: mpf, y: mpf, p: dict) -> tuple:
    if y == 1:
        return r.exact(x), r.exact(1), None
    shortfall = r.exact(p["margin"]) - x  # one rounding
    hinge = shortfall if shortfall.value > 0 else r.Bound(0, shortfall.err if shortfall.value == 0 else 0)
    return hinge, r.exact(-1 if shortfall.value > 0 else 0), None


def _hinge_embedding_limits(x: mpf, y: mpf, p: dict) -> tuple:
    if y == 1:
        return x, mpf(1), mpmath.nan
    return max(mpf(0), p["margin"] - x), (mpf(-1) if x < 0 else mpf(0)), mpmath.nan


# ---- margin ranking -----------------------------------------------------------------------------------------------

def _ranking(x1: mpf, x2: mpf, p: dict) -> mpf:
    return max(mpf(0), -p["target"] * (x1 - x2) + p["margin"])


def _ranking_kink(x1: mpf, x2: mpf, p: dict) -> mpf:
    return abs(-p["target"] * (x1 - x2) + p["margin"])


def _ranking_standard(x1: mpf, x2: mpf, p: dict) -> tuple:
    # d = x1 - x2 rounds once; y d is exact (y = +-1); z = margin - y d rounds once
    y = p["target"]
    difference = r.exact(x1) - x2
    z = r.exact(p["margin"]) - r.Bound(y * difference.value, difference.err)
    hinge = z if z.value > 0 else r.Bound(0, z.err if z.value == 0 else 0)
    active = z.value > 0
    return hinge, r.exact(-y if active else 0), r.exact(y if active else 0)


def _ranking_limits(x1: mpf, x2: mpf, p: dict) -> tuple:
    z = -p["target"] * (x1 - x2) + p["margin"]  # +-inf (inf - inf is NaN and handled before)
    active = z > 0
    return max(mpf(0), z), (-p["target"] if active else mpf(0)), (p["target"] if active else mpf(0))


ORACLES = {
    "soft_margin_loss": ElementwiseOracle(_soft_margin, _soft_margin_standard, limits=_soft_margin_limits),
    "hinge_embedding_loss": ElementwiseOracle(_hinge_embedding, _hinge_embedding_standard,
                                              kink_distance=_hinge_embedding_kink, limits=_hinge_embedding_limits),
    "margin_ranking_loss": LabelledPairOracle(ElementwiseOracle(_ranking, _ranking_standard,
                                                                kink_distance=_ranking_kink, limits=_ranking_limits)),
}
