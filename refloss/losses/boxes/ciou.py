"""Complete IoU loss (Zheng et al.) on matched pairs of boxes, torchvision's complete_box_iou_loss."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from refloss._registry import Equivalent, Interval, LossSpec, Param, register
from refloss.boxes._pair import pair_vjp, sides
from refloss.losses.boxes._common import (BOXES, EPS, TIE_KINK, iou_cotangents, iou_with_eps, pair_cotangent,
                                          holding, prepare, pair_loss, pair_value_and_vjp,
                                          reduce_pairs)
from refloss.losses.boxes.diou import REFERENCE, distance_penalty, distance_penalty_cotangents

__all__ = ["ciou_loss", "ciou_loss_vjp"]

ALPHA_GATE = Param("alpha_gate", None, Interval(0.0, 1.0, True, True),
                   "if given, the aspect term counts only where IoU > alpha_gate (mmdetection: 0.5); None: always",
                   grid=(0.5,), optional=True)
_V_SCALE = 4 / math.pi**2


def _aspect_angle(boxes: Any) -> Any:
    """theta = atan2(w, h), which is atan(w / h) for h > 0 and stays finite (pi/2) for a zero-height box; 0 for a
    point (w = h = 0), through a double where so that autograd, too, sees no gradient there (C3)."""
    width, height = sides(boxes)
    point = width * width + height * height == 0
    return anp.where(point, 0.0, anp.arctan2(anp.where(point, 0.0, width), anp.where(point, 1.0, height)))


def _aspect_weight(iou: Any, v: Any, eps: float, alpha_gate: float | None) -> np.ndarray:
    """alpha = v / (1 - IoU + v + eps), a constant (no gradient); 0 where v = 0 (boxes of one shape: with eps = 0
    and identical boxes the ratio would be 0/0, and alpha multiplies v = 0 anyway), and where a gate excludes the
    pair."""
    iou, v = np.asarray(getval(iou)), np.asarray(getval(v))
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(v > 0, v / (1.0 - iou + v + eps), 0.0)
    return alpha if alpha_gate is None else np.where(iou > alpha_gate, alpha, 0.0)


@pair_loss
def ciou_loss(boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7,
              alpha_gate: float | None = None) -> Any:
    r"""Complete IoU loss :math:`1 - \mathrm{IoU} + \rho^2 / c^2 + \alpha v` of matched pairs of boxes.

    Definition:
        :func:`diou_loss`'s terms plus an aspect-ratio term. With :math:`\theta = \operatorname{atan2}(w, h)`
        (which is :math:`\arctan(w / h)`) for each box (C1),

        .. math::
            v = \frac{4}{\pi^2} (\theta_2 - \theta_1)^2, \qquad
            \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}\ (0 \text{ where } v = 0), \qquad
            \ell = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon} + \alpha v  \qquad \text{(C2)}

        With ``alpha_gate``, :math:`\alpha = 0` unless :math:`\mathrm{IoU} > \text{alpha\_gate}`.

    Gradient:
        :math:`\alpha` is a constant (no gradient flows through it), so the aspect term adds

        .. math::
            \frac{\partial (\alpha v)}{\partial w_k} = \pm\alpha \frac{8}{\pi^2} (\theta_2 - \theta_1)
            \frac{h_k}{w_k^2 + h_k^2}, \qquad
            \frac{\partial (\alpha v)}{\partial h_k} = \mp\alpha \frac{8}{\pi^2} (\theta_2 - \theta_1)
            \frac{w_k}{w_k^2 + h_k^2}  \qquad \text{(C3)}

        (upper signs for boxes2, :math:`k = 2`; lower for boxes1) to :func:`diou_loss`'s gradient. The exact
        :math:`1/(w^2 + h^2)`, not the paper code's replacement by 1. Derivation: ``docs/derivations/ciou_loss.md``.

    Conventions:
        torchvision's ``complete_box_iou_loss``, alpha constant (``torch.no_grad``), except: ``eps`` is used in every
        term (torchvision's DIoU part always uses 1e-7); :math:`\operatorname{atan2}` keeps a zero-height box finite
        (torchvision: NaN gradient); a zero-size box (w = h = 0) has :math:`\theta = 0` and no aspect gradient
        (torchvision: NaN). ``alpha_gate=0.5`` is mmdetection's gate (its other eps placements differ by O(eps), and it
        clamps the CIoU to [-1, 1], so its loss never exceeds 2; refloss's can). Ties split equally; touching boxes get
        no gradient through the intersection; ``mean`` of no pairs is 0. NaN propagates.

    Shapes:
        ``boxes1``, ``boxes2``: ``(..., 4)``, the same shape. Output: ``(...)`` for ``none``, else a scalar.

    Args:
        boxes1: Predicted boxes (x1, y1, x2, y2).
        boxes2: Target boxes, matched one to one with ``boxes1``.
        reduction: ``"none"`` (default, as torchvision), ``"mean"`` or ``"sum"``.
        eps: Added to the union, the squared diagonal and alpha's denominator (default 1e-7).
        alpha_gate: None (default), or the IoU above which the aspect term counts (mmdetection: 0.5).

    Returns:
        The loss in float64.

    References:
        Zheng, Z. et al. "Distance-IoU Loss: Faster and Better Learning for Bounding Box Regression", AAAI 2020:
        https://arxiv.org/abs/1911.08287

    Examples:
        >>> round(float(ciou_loss([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], eps=0.0)), 10)  # same shape: v = 0
        0.9682539683
    """
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    loss, _ = _per_pair(b1, b2, eps, ALPHA_GATE.check(alpha_gate))
    return reduce_pairs(loss, reduction)


def _per_pair(b1: Any, b2: Any, eps: float, alpha_gate: float | None, alpha: Any = None) -> tuple[Any, Any]:
    """Each pair's loss (C2) and its alpha, computed here unless given (held fixed)."""
    iou, _, _ = iou_with_eps(b1, b2, eps)
    v = _V_SCALE * (_aspect_angle(b2) - _aspect_angle(b1)) ** 2  # (C1)
    alpha = _aspect_weight(iou, v, eps, alpha_gate) if alpha is None else alpha
    return 1.0 - iou + distance_penalty(b1, b2, eps) + alpha * v, alpha


@pair_loss
def ciou_loss_vjp(grad_output: Any, boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7,
                  alpha_gate: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`ciou_loss` w.r.t. ``(boxes1, boxes2)``. See its "Gradient"."""
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    alpha_gate = ALPHA_GATE.check(alpha_gate)
    g = pair_cotangent(grad_output, b1, reduction)
    iou, inter, union = iou_with_eps(b1, b2, eps)
    difference = _aspect_angle(b2) - _aspect_angle(b1)
    alpha = _aspect_weight(iou, _V_SCALE * difference**2, eps, alpha_gate)
    g_theta = g * alpha * 2 * _V_SCALE * difference  # d(alpha v)/d theta_2; theta_1 gets its negative

    def angle_cotangents(boxes: np.ndarray, g_angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """d theta / dw = h / (w^2 + h^2), d theta / dh = -w / (w^2 + h^2); 0 for a zero-size box (C3)."""
        width, height = sides(boxes)
        squared = width**2 + height**2
        safe = np.where(squared > 0, squared, 1.0)
        return (np.where(squared > 0, g_angle * height / safe, 0.0),
                np.where(squared > 0, -g_angle * width / safe, 0.0))

    return pair_vjp(b1, b2, **iou_cotangents(-g, inter, union, eps), **distance_penalty_cotangents(g, b1, b2, eps),
                    sides1=angle_cotangents(b1, -g_theta), sides2=angle_cotangents(b2, g_theta))


register(LossSpec(
    name="ciou_loss",
    family="boxes",
    forward=ciou_loss,
    vjp=ciou_loss_vjp,
    value_and_vjp=pair_value_and_vjp(ciou_loss, ciou_loss_vjp),
    inputs=BOXES,
    params=(EPS, ALPHA_GATE),
    smoothness="piecewise C-infinity in the coordinates; kinks where coordinates of the two boxes tie",
    kinks=(TIE_KINK,),
    stop_gradients=("alpha",),
    held_forward=holding(_per_pair, ALPHA_GATE),
    default_reduction="none",
    references=(REFERENCE,),
    equivalents=(Equivalent("torchvision", "torchvision.ops.complete_box_iou_loss",
                            "its DIoU part ignores eps (uses 1e-7); atan(w / h) gives NaN gradients for zero-height "
                            "boxes; no box check; accepts a negative eps"),
                 Equivalent("mmdet", "mmdet.models.losses.ciou_loss", "alpha_gate=0.5; eps added to the heights")),
))
