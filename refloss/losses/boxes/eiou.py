"""Efficient IoU loss and Focal-EIoU (Zhang et al.) on matched pairs of boxes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from autograd.tracer import getval

from refloss._registry import Interval, LossSpec, Param, Reference, register
from refloss.boxes._pair import enclosing_size, pair_vjp, sides
from refloss.losses.boxes._common import (BOXES, EPS, TIE_KINK, iou_cotangents, iou_with_eps, pair_cotangent,
                                          holding, prepare, pair_loss, pair_value_and_vjp,
                                          reduce_pairs)
from refloss.losses.boxes.diou import distance_penalty, distance_penalty_cotangents

__all__ = ["eiou_loss", "eiou_loss_vjp"]

GAMMA = Param("gamma", 0.0, Interval(0.0, math.inf, low_closed=True),
              "Focal-EIoU's exponent: the loss is weighted by IoU^gamma (a constant); 0 gives plain EIoU, the "
              "paper's Focal-EIoU uses 0.5", grid=(0.0, 0.5), sample=Interval(0.0, 2.0, True, True))


def _side_penalty(b1: Any, b2: Any, eps: float) -> Any:
    """(w1 - w2)^2 / (c_w^2 + eps) + (h1 - h2)^2 / (c_h^2 + eps) (E1)."""
    w1, h1 = sides(b1)
    w2, h2 = sides(b2)
    enclose_w, enclose_h = enclosing_size(b1, b2)
    return (w1 - w2) ** 2 / (enclose_w**2 + eps) + (h1 - h2) ** 2 / (enclose_h**2 + eps)


def _focal_weight(iou: Any, gamma: float) -> np.ndarray:
    """IoU^gamma as a constant (no gradient); 1 for gamma = 0, even where IoU = 0."""
    return np.asarray(getval(iou)) ** gamma


@pair_loss
def eiou_loss(boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7, gamma: float = 0.0) -> Any:
    r"""Efficient IoU loss of matched pairs of boxes, and Focal-EIoU with ``gamma > 0``.

    Definition:
        :func:`diou_loss`'s terms plus the width and height differences, each over the enclosing box's side
        (:math:`c_w, c_h`) (E1):

        .. math::
            L = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon} + \frac{(w_1 - w_2)^2}{c_w^2 + \epsilon}
            + \frac{(h_1 - h_2)^2}{c_h^2 + \epsilon}, \qquad \ell = \mathrm{IoU}^{\gamma} L  \qquad \text{(E2)}

    Gradient:
        The weight :math:`\mathrm{IoU}^\gamma` is a constant. The side terms add

        .. math::
            \frac{\partial}{\partial w_1} = \frac{2 (w_1 - w_2)}{c_w^2 + \epsilon} = -\frac{\partial}{\partial w_2},

            \frac{\partial}{\partial c_w} = -\frac{2 c_w (w_1 - w_2)^2}{(c_w^2 + \epsilon)^2}  \qquad \text{(E3)}

        (the same in h) to :func:`diou_loss`'s gradient, all times :math:`\mathrm{IoU}^\gamma`.
        Derivation: ``docs/derivations/eiou_loss.md``.

    Conventions:
        The paper's Efficient-IoU (not mmdetection's ``eiou_loss``, an "Extended IoU" of the same name), with eps
        placed as in torchvision's DIoU loss. Focal-EIoU detaches :math:`\mathrm{IoU}^\gamma` (its derivative is
        infinite at IoU = 0 for :math:`\gamma < 1`) and does not divide by the weights' sum; disjoint boxes then
        cost 0. Ties split equally; touching boxes get no gradient through the intersection; ``mean`` of no
        pairs is 0. NaN propagates.

    Shapes:
        ``boxes1``, ``boxes2``: ``(..., 4)``, the same shape. Output: ``(...)`` for ``none``, else a scalar.

    Args:
        boxes1: Predicted boxes (x1, y1, x2, y2).
        boxes2: Target boxes, matched one to one with ``boxes1``.
        reduction: ``"none"`` (default), ``"mean"`` or ``"sum"``.
        eps: Added to the union, the squared diagonal and the squared enclosing sides (default 1e-7).
        gamma: Focal-EIoU's exponent (default 0: plain EIoU; the paper uses 0.5).

    Returns:
        The loss in float64.

    References:
        Zhang, Y.-F. et al. "Focal and Efficient IOU Loss for Accurate Bounding Box Regression",
        Neurocomputing 2022: https://arxiv.org/abs/2101.08158

    Examples:
        >>> round(float(eiou_loss([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], eps=0.0)), 10)  # equal sides
        0.9682539683
    """
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    loss, _ = _per_pair(b1, b2, eps, GAMMA.check(gamma))
    return reduce_pairs(loss, reduction)


def _per_pair(b1: Any, b2: Any, eps: float, gamma: float, weight: Any = None) -> tuple[Any, Any]:
    """Each pair's loss (E2) and its weight IoU^gamma, computed here unless given (held fixed)."""
    iou, _, _ = iou_with_eps(b1, b2, eps)
    weight = _focal_weight(iou, gamma) if weight is None else weight
    return weight * (1.0 - iou + distance_penalty(b1, b2, eps) + _side_penalty(b1, b2, eps)), weight


@pair_loss
def eiou_loss_vjp(grad_output: Any, boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7,
                  gamma: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`eiou_loss` w.r.t. ``(boxes1, boxes2)``. See its "Gradient"."""
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    gamma = GAMMA.check(gamma)
    iou, inter, union = iou_with_eps(b1, b2, eps)
    g = pair_cotangent(grad_output, b1, reduction) * _focal_weight(iou, gamma)
    (w1, h1), (w2, h2) = sides(b1), sides(b2)
    enclose_w, enclose_h = enclosing_size(b1, b2)
    with np.errstate(divide="ignore", invalid="ignore"):
        g_w = 2 * g * (w1 - w2) / (enclose_w**2 + eps)  # (E3)
        g_h = 2 * g * (h1 - h2) / (enclose_h**2 + eps)
        g_cw = -2 * g * enclose_w * (w1 - w2) ** 2 / (enclose_w**2 + eps) ** 2
        g_ch = -2 * g * enclose_h * (h1 - h2) ** 2 / (enclose_h**2 + eps) ** 2
    distance = distance_penalty_cotangents(g, b1, b2, eps)
    enclose = (distance["enclose"][0] + g_cw, distance["enclose"][1] + g_ch)
    return pair_vjp(b1, b2, **iou_cotangents(-g, inter, union, eps), offset=distance["offset"], enclose=enclose,
                    sides1=(g_w, g_h), sides2=(-g_w, -g_h))


register(LossSpec(
    name="eiou_loss",
    family="boxes",
    forward=eiou_loss,
    vjp=eiou_loss_vjp,
    value_and_vjp=pair_value_and_vjp(eiou_loss, eiou_loss_vjp),
    inputs=BOXES,
    params=(EPS, GAMMA),
    smoothness="piecewise C-infinity in the coordinates; kinks where coordinates of the two boxes tie",
    kinks=(TIE_KINK,),
    stop_gradients=("IoU^gamma",),
    held_forward=holding(_per_pair, GAMMA),
    default_reduction="none",
    references=(Reference("Zhang et al. Focal and Efficient IOU Loss for Accurate Bounding Box Regression. "
                          "Neurocomputing 2022", "https://arxiv.org/abs/2101.08158"),),
    equivalents=(),
))
