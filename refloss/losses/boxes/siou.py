"""SCYLLA-IoU loss (Gevorgyan) on matched pairs of boxes: IoU, angle-aware distance and shape costs."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._registry import Equivalent, Kink, LossSpec, Reference, register
from refloss.boxes._pair import centre_offset, enclosing_size, pair_vjp, sides
from refloss.losses.boxes._common import (BOXES, EPS, TIE_KINK, iou_cotangents, iou_with_eps, pair_cotangent,
                                          prepare, pair_loss, pair_value_and_vjp,
                                          reduce_pairs)

__all__ = ["siou_loss", "siou_loss_vjp"]

_SHAPE_POWER = 4  # the paper's theta


def _offsets(b1: Any, b2: Any, eps: float) -> tuple[Any, Any]:
    """(a, b): the centre of boxes2 minus that of boxes1, plus eps (mmdetection's s_cw, s_ch) (S1)."""
    dx, dy = centre_offset(b1, b2)
    return eps - dx, eps - dy


def _shape_ratio(side1: Any, side2: Any, eps: float) -> Any:
    """omega = |s1 - s2| / (max(s1, s2) + eps)."""
    return anp.abs(side1 - side2) / (anp.maximum(side1, side2) + eps)


def _terms(b1: Any, b2: Any, eps: float) -> dict[str, Any]:
    a, b = _offsets(b1, b2, eps)
    squared = a * a + b * b
    angle = 2 * anp.abs(a) * anp.abs(b) / anp.where(squared > 0, squared, 1.0)  # sin(2 alpha) (S2)
    enclose_w, enclose_h = enclosing_size(b1, b2)
    (w1, h1), (w2, h2) = sides(b1), sides(b2)
    return {"a": a, "b": b, "squared": squared, "angle": angle, "gamma": 2.0 - angle,
            "rho_x": a * a / (enclose_w**2 + eps), "rho_y": b * b / (enclose_h**2 + eps),
            "enclose_w": enclose_w, "enclose_h": enclose_h,
            "omega_w": _shape_ratio(w1, w2, eps), "omega_h": _shape_ratio(h1, h2, eps)}


@pair_loss
def siou_loss(boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7) -> Any:
    r"""SIoU loss :math:`1 - \mathrm{IoU} + (\Delta + \Omega) / 2` of matched pairs of boxes.

    Definition:
        With :math:`(a, b)` the offset from the centre of box 1 to that of box 2 plus :math:`\epsilon` (S1), the
        angle cost :math:`\Lambda = 1 - 2 \sin^2(\arcsin(\sin\alpha) - \pi/4) = \sin 2\alpha` for the angle
        :math:`\alpha` of that offset, that is (S2)

        .. math::
            \Lambda = \frac{2 |a| |b|}{a^2 + b^2}, \qquad \gamma = 2 - \Lambda, \qquad
            \Delta = \sum_{t \in \{x, y\}} (1 - e^{-\gamma \rho_t}), \quad
            \rho_x = \frac{a^2}{c_w^2 + \epsilon},\ \rho_y = \frac{b^2}{c_h^2 + \epsilon}  \qquad \text{(S3)}

        the shape cost with :math:`\omega_w = |w_1 - w_2| / (\max(w_1, w_2) + \epsilon)` (and in h)

        .. math::
            \Omega = \sum_{t \in \{w, h\}} (1 - e^{-\omega_t})^4, \qquad
            \ell = 1 - \mathrm{IoU} + \frac{\Delta + \Omega}{2}  \qquad \text{(S4)}

    Gradient:
        .. math::
            \frac{\partial \Delta}{\partial \rho_t} = \gamma e^{-\gamma \rho_t}, \quad
            \frac{\partial \Delta}{\partial \Lambda} = -\sum_t \rho_t e^{-\gamma \rho_t}, \quad
            \frac{\partial \Lambda}{\partial a} = \frac{2 \operatorname{sign}(a) |b|}{a^2 + b^2}
            - \frac{4 a |a b|}{(a^2 + b^2)^2}, \quad
            \frac{\partial \Omega}{\partial \omega_t} = 4 (1 - e^{-\omega_t})^3 e^{-\omega_t}
            \qquad \text{(S5)}

        and the IoU's own gradient. The shape cost is smooth at :math:`w_1 = w_2` (its derivative vanishes
        there). Derivation: ``docs/derivations/siou_loss.md``.

    Conventions:
        The paper's form (mmdetection's ``siou_loss(neg_gamma=True)``; mmdetection's default ``neg_gamma=False`` uses
        :math:`\gamma = \Lambda - 2`, which makes the distance cost negative). Differences from mmdetection: refloss
        adds eps to :math:`c_w^2` (mmdetection clamps :math:`c_w` at eps: the same to O(eps) unless the enclosing box
        has zero width) and to :math:`\max(w_1, w_2)` (mmdetection divides by it bare, NaN for two zero-width boxes),
        does not add eps to the heights, and does not clamp the SIoU to [-1, 1]. :math:`\operatorname{sign}(0) = 0`.
        Ties split equally; touching boxes get no gradient through the intersection; ``mean`` of no pairs is 0. NaN
        propagates.

    Shapes:
        ``boxes1``, ``boxes2``: ``(..., 4)``, the same shape. Output: ``(...)`` for ``none``, else a scalar.

    Args:
        boxes1: Predicted boxes (x1, y1, x2, y2).
        boxes2: Target boxes, matched one to one with ``boxes1``.
        reduction: ``"none"`` (default), ``"mean"`` or ``"sum"``.
        eps: Added to the union, the centre offsets, the squared enclosing sides and the larger side
            (default 1e-7).

    Returns:
        The loss in float64.

    References:
        Gevorgyan, Z. "SIoU Loss: More Powerful Learning for Bounding Box Regression", 2022:
        https://arxiv.org/abs/2205.12740

    Examples:
        >>> round(float(siou_loss([0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0])), 6)  # identical boxes
        0.0
    """
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    iou, _, _ = iou_with_eps(b1, b2, eps)
    t = _terms(b1, b2, eps)
    distance = 2.0 - anp.exp(-t["gamma"] * t["rho_x"]) - anp.exp(-t["gamma"] * t["rho_y"])  # (S3)
    shape = (1 - anp.exp(-t["omega_w"])) ** _SHAPE_POWER + (1 - anp.exp(-t["omega_h"])) ** _SHAPE_POWER
    return reduce_pairs(1.0 - iou + (distance + shape) / 2, reduction)  # (S4)


@pair_loss
def siou_loss_vjp(grad_output: Any, boxes1: Any, boxes2: Any, *, reduction: str = "none",
                  eps: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`siou_loss` w.r.t. ``(boxes1, boxes2)``. See its "Gradient"."""
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    g = pair_cotangent(grad_output, b1, reduction)
    _, inter, union = iou_with_eps(b1, b2, eps)
    t = _terms(b1, b2, eps)
    a, b, squared, gamma = t["a"], t["b"], t["squared"], t["gamma"]
    decay_x, decay_y = np.exp(-gamma * t["rho_x"]), np.exp(-gamma * t["rho_y"])
    g_distance = g / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        g_angle = -g_distance * (t["rho_x"] * decay_x + t["rho_y"] * decay_y)  # (S5)
        safe = np.where(squared > 0, squared, 1.0)
        product = np.abs(a * b)
        d_angle_a = np.where(squared > 0, 2 * np.sign(a) * np.abs(b) / safe - 4 * a * product / safe**2, 0.0)
        d_angle_b = np.where(squared > 0, 2 * np.sign(b) * np.abs(a) / safe - 4 * b * product / safe**2, 0.0)
        enclose_w2, enclose_h2 = t["enclose_w"] ** 2 + eps, t["enclose_h"] ** 2 + eps
        g_rho_x, g_rho_y = g_distance * gamma * decay_x, g_distance * gamma * decay_y
        g_a = g_angle * d_angle_a + g_rho_x * 2 * a / enclose_w2
        g_b = g_angle * d_angle_b + g_rho_y * 2 * b / enclose_h2
        g_cw = -g_rho_x * 2 * t["enclose_w"] * a * a / enclose_w2**2
        g_ch = -g_rho_y * 2 * t["enclose_h"] * b * b / enclose_h2**2
    g_shape = g / 2
    sides1, sides2 = _shape_cotangents(g_shape, sides(b1), sides(b2), (t["omega_w"], t["omega_h"]), eps)
    # a = eps - dx: the offset dx = centre1 - centre2 gets -g_a
    return pair_vjp(b1, b2, **iou_cotangents(-g, inter, union, eps), offset=(-g_a, -g_b), enclose=(g_cw, g_ch),
                    sides1=sides1, sides2=sides2)


def _shape_cotangents(g: np.ndarray, sides1: tuple, sides2: tuple, omegas: tuple, eps: float) -> tuple:
    """Cotangents of (w1, h1) and (w2, h2) from the shape cost: d/domega (1 - e^-omega)^4 = 4 (1 - e^-omega)^3
    e^-omega, and omega = |s1 - s2| / (max(s1, s2) + eps) (S5)."""
    out1, out2 = [], []
    for s1, s2, omega in zip(sides1, sides2, omegas):
        g_omega = g * _SHAPE_POWER * (1 - np.exp(-omega)) ** (_SHAPE_POWER - 1) * np.exp(-omega)
        larger = np.maximum(s1, s2) + eps
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.sign(s1 - s2) / larger  # d|s1 - s2|/ds1 over the denominator
            d_larger = -np.abs(s1 - s2) / larger**2
        share1 = np.where(s1 > s2, 1.0, np.where(s1 == s2, 0.5, 0.0))
        out1.append(g_omega * (slope + d_larger * share1))
        out2.append(g_omega * (-slope + d_larger * (1.0 - share1)))
    return tuple(out1), tuple(out2)


def _offset_distance(boxes1: Any, boxes2: Any, eps: float = 1e-7, **params: Any) -> np.ndarray:
    """Per pair: how far the angle cost's |a| |b| is from its kink at a = 0 or b = 0."""
    a, b = _offsets(np.asarray(boxes1, dtype=np.float64), np.asarray(boxes2, dtype=np.float64), eps)
    return np.minimum(np.abs(a), np.abs(b))


OFFSET_KINK = Kink("a centre offset plus eps is 0 (a = 0 or b = 0): the angle cost 2 |a| |b| / (a^2 + b^2) has a "
                   "corner", "sign(0) = 0: the angle cost's derivative w.r.t. the vanishing offset is taken as 0, the "
                   "midpoint of its one-sided derivatives", _offset_distance)

register(LossSpec(
    name="siou_loss",
    family="boxes",
    forward=siou_loss,
    vjp=siou_loss_vjp,
    value_and_vjp=pair_value_and_vjp(siou_loss, siou_loss_vjp),
    inputs=BOXES,
    params=(EPS,),
    smoothness="piecewise C-infinity in the coordinates; kinks where coordinates of the two boxes tie and where "
               "a centre offset plus eps is 0",
    kinks=(TIE_KINK, OFFSET_KINK),
    default_reduction="none",
    references=(Reference("Gevorgyan. SIoU Loss: More Powerful Learning for Bounding Box Regression. 2022",
                          "https://arxiv.org/abs/2205.12740"),),
    equivalents=(Equivalent("mmdet", "mmdet.models.losses.siou_loss(pred, target, neg_gamma=True)",
                            "eps placed differently (O(eps)); SIoU clamped to [-1, 1]"),),
))
