"""Distance IoU loss (Zheng et al.) on matched pairs of boxes, torchvision's distance_box_iou_loss."""

from __future__ import annotations

from typing import Any

import numpy as np

from refloss._registry import Equivalent, LossSpec, Reference, register
from refloss.boxes._pair import centre_offset, enclosing_size, pair_vjp
from refloss.losses.boxes._common import (BOXES, EPS, TIE_KINK, iou_cotangents, iou_with_eps, pair_cotangent,
                                          prepare, pair_loss, pair_value_and_vjp,
                                          reduce_pairs)

__all__ = ["diou_loss", "diou_loss_vjp", "distance_penalty", "distance_penalty_cotangents"]

REFERENCE = Reference("Zheng et al. Distance-IoU Loss: Faster and Better Learning for Bounding Box Regression. "
                      "AAAI 2020", "https://arxiv.org/abs/1911.08287")


def distance_penalty(b1: Any, b2: Any, eps: float) -> Any:
    """rho^2 / (c^2 + eps): the squared centre distance over the enclosing box's squared diagonal (D1)."""
    dx, dy = centre_offset(b1, b2)
    enclose_w, enclose_h = enclosing_size(b1, b2)
    return (dx * dx + dy * dy) / (enclose_w * enclose_w + enclose_h * enclose_h + eps)


def distance_penalty_cotangents(g: np.ndarray, b1: np.ndarray, b2: np.ndarray, eps: float) -> dict[str, tuple]:
    """The cotangents of the centre offset and the enclosing size from that of rho^2 / (c^2 + eps) (D3)."""
    dx, dy = centre_offset(b1, b2)
    enclose_w, enclose_h = enclosing_size(b1, b2)
    denominator = enclose_w**2 + enclose_h**2 + eps
    with np.errstate(divide="ignore", invalid="ignore"):
        g_rho = g / denominator
        g_diagonal = -g * (dx**2 + dy**2) / denominator**2
    return {"offset": (2 * g_rho * dx, 2 * g_rho * dy),
            "enclose": (2 * g_diagonal * enclose_w, 2 * g_diagonal * enclose_h)}


@pair_loss
def diou_loss(boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7) -> Any:
    r"""Distance IoU loss :math:`1 - \mathrm{IoU} + \rho^2 / c^2` of matched pairs of boxes.

    Definition:
        With :math:`\mathrm{IoU} = I / (U + \epsilon)` (see :func:`iou_loss`), :math:`\rho^2` the squared
        distance between the boxes' centres and :math:`c^2 = c_w^2 + c_h^2` the squared diagonal of the
        smallest box enclosing both (D1),

        .. math::
            \ell = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon}  \qquad \text{(D2)}

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial \rho^2} = \frac{1}{c^2 + \epsilon}, \qquad
            \frac{\partial \ell}{\partial c^2} = -\frac{\rho^2}{(c^2 + \epsilon)^2}  \qquad \text{(D3)}

        with :math:`\partial \rho^2 / \partial x_1 = \partial \rho^2 / \partial x_2 = \Delta_x` (the centre offset
        along x), :math:`\partial c^2 = 2 c_w\, \partial c_w + 2 c_h\, \partial c_h`, and the IoU's own gradient.
        Derivation: ``docs/derivations/diou_loss.md``.

    Conventions:
        torchvision's ``distance_box_iou_loss`` (eps added to the union and to :math:`c^2`). Ties of max/min
        split the gradient equally; touching boxes get no gradient through the intersection. ``mean`` of no
        pairs is 0. NaN propagates.

    Shapes:
        ``boxes1``, ``boxes2``: ``(..., 4)``, the same shape. Output: ``(...)`` for ``none``, else a scalar.

    Args:
        boxes1: Predicted boxes (x1, y1, x2, y2).
        boxes2: Target boxes, matched one to one with ``boxes1``.
        reduction: ``"none"`` (default, as torchvision), ``"mean"`` or ``"sum"``.
        eps: Added to the union and the squared diagonal (default 1e-7).

    Returns:
        The loss in float64.

    References:
        Zheng, Z. et al. "Distance-IoU Loss: Faster and Better Learning for Bounding Box Regression", AAAI 2020:
        https://arxiv.org/abs/1911.08287

    Examples:
        >>> round(float(diou_loss([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], eps=0.0)), 10)  # 1 - 1/7 + 2/18
        0.9682539683
    """
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    iou, _, _ = iou_with_eps(b1, b2, eps)
    return reduce_pairs(1.0 - iou + distance_penalty(b1, b2, eps), reduction)  # (D2)


@pair_loss
def diou_loss_vjp(grad_output: Any, boxes1: Any, boxes2: Any, *, reduction: str = "none",
                  eps: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`diou_loss` w.r.t. ``(boxes1, boxes2)``. See its "Gradient"."""
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    g = pair_cotangent(grad_output, b1, reduction)
    _, inter, union = iou_with_eps(b1, b2, eps)
    return pair_vjp(b1, b2, **iou_cotangents(-g, inter, union, eps), **distance_penalty_cotangents(g, b1, b2, eps))


register(LossSpec(
    name="diou_loss",
    family="boxes",
    forward=diou_loss,
    vjp=diou_loss_vjp,
    value_and_vjp=pair_value_and_vjp(diou_loss, diou_loss_vjp),
    inputs=BOXES,
    params=(EPS,),
    smoothness="piecewise C-infinity in the coordinates; kinks where coordinates of the two boxes tie",
    kinks=(TIE_KINK,),
    default_reduction="none",
    references=(REFERENCE,),
    equivalents=(Equivalent("torchvision", "torchvision.ops.distance_box_iou_loss", "no box check (an inverted box "
                            "gives a number); accepts a negative eps"),
                 Equivalent("mmdet", "mmdet.models.losses.diou_loss", "eps = 1e-7 added to the union and the squared "
                            "diagonal as torchvision's; boxes (n, 4) only; a plain mean, NaN for an empty input "
                            "(torchvision and refloss: 0)")),
))
