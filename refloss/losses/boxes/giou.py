"""Generalized IoU loss (Rezatofighi et al.) on matched pairs of boxes, torchvision's generalized_box_iou_loss."""

from __future__ import annotations

from typing import Any

import numpy as np

from refloss._registry import Equivalent, LossSpec, Reference, register
from refloss.boxes._pair import enclosing_size, pair_vjp
from refloss.losses.boxes._common import (BOXES, EPS, TIE_KINK, iou_cotangents, iou_with_eps, pair_cotangent,
                                          prepare, pair_loss, pair_value_and_vjp,
                                          reduce_pairs)

__all__ = ["giou_loss", "giou_loss_vjp"]


@pair_loss
def giou_loss(boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7) -> Any:
    r"""Generalized IoU loss :math:`1 - \mathrm{GIoU}` of matched pairs of boxes.

    Definition:
        With :math:`\mathrm{IoU} = I / (U + \epsilon)` (see :func:`iou_loss`) and :math:`A_c = c_w c_h` the area
        of the smallest box enclosing both, :math:`c_w = \max(x_2, X_2) - \min(x_1, X_1)` (G1),

        .. math::
            \ell = 1 - \mathrm{IoU} + \frac{A_c - U}{A_c + \epsilon}  \qquad \text{(G2)}

        It lies in [0, 2): unlike the IoU loss it keeps a gradient for disjoint boxes.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial A_c} = \frac{U + \epsilon}{(A_c + \epsilon)^2}, \qquad
            \frac{\partial \ell}{\partial U} = -\frac{1}{A_c + \epsilon}  \qquad \text{(G3)}

        with :math:`\partial A_c = c_h\, \partial c_w + c_w\, \partial c_h`, :math:`U = A_1 + A_2 - I`, and the
        IoU's own gradient. Derivation: ``docs/derivations/giou_loss.md``.

    Conventions:
        torchvision's ``generalized_box_iou_loss`` (eps added to the union and to :math:`A_c`). Ties of max/min
        split the gradient equally; touching boxes get no gradient through the intersection. ``mean`` of no
        pairs is 0. Two identical zero-area boxes give 1 (0 intersection over 0 + eps), as torchvision (its
        issue #7746). NaN propagates.

    Shapes:
        ``boxes1``, ``boxes2``: ``(..., 4)``, the same shape. Output: ``(...)`` for ``none``, else a scalar.

    Args:
        boxes1: Predicted boxes (x1, y1, x2, y2).
        boxes2: Target boxes, matched one to one with ``boxes1``.
        reduction: ``"none"`` (default, as torchvision), ``"mean"`` or ``"sum"``.
        eps: Added to the union and the enclosing area (default 1e-7).

    Returns:
        The loss in float64.

    References:
        Rezatofighi, H. et al. "Generalized Intersection over Union: A Metric and a Loss for Bounding Box
        Regression", CVPR 2019: https://arxiv.org/abs/1902.09630

    Examples:
        >>> round(float(giou_loss([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], eps=0.0)), 10)  # 1 - 1/7 + 2/9
        1.0793650794
    """
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    iou, _, union = iou_with_eps(b1, b2, eps)
    enclose_w, enclose_h = enclosing_size(b1, b2)
    enclose = enclose_w * enclose_h
    return reduce_pairs(1.0 - iou + (enclose - union) / (enclose + eps), reduction)  # (G2)


@pair_loss
def giou_loss_vjp(grad_output: Any, boxes1: Any, boxes2: Any, *, reduction: str = "none",
                  eps: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`giou_loss` w.r.t. ``(boxes1, boxes2)``. See its "Gradient"."""
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    g = pair_cotangent(grad_output, b1, reduction)
    _, inter, union = iou_with_eps(b1, b2, eps)
    enclose_w, enclose_h = enclosing_size(b1, b2)
    denominator = enclose_w * enclose_h + eps
    with np.errstate(divide="ignore", invalid="ignore"):
        g_enclose = g * (union + eps) / denominator**2  # (G3)
        g_union = -g / denominator
    cotangents = iou_cotangents(-g, inter, union, eps)
    # U = A1 + A2 - I: the union's cotangent reaches the areas and, negated, the intersection
    cotangents = {"inter": cotangents["inter"] - g_union, "area1": cotangents["area1"] + g_union,
                  "area2": cotangents["area2"] + g_union}
    return pair_vjp(b1, b2, enclose=(g_enclose * enclose_h, g_enclose * enclose_w), **cotangents)


register(LossSpec(
    name="giou_loss",
    family="boxes",
    forward=giou_loss,
    vjp=giou_loss_vjp,
    value_and_vjp=pair_value_and_vjp(giou_loss, giou_loss_vjp),
    inputs=BOXES,
    params=(EPS,),
    smoothness="piecewise C-infinity in the coordinates; kinks where coordinates of the two boxes tie",
    kinks=(TIE_KINK,),
    default_reduction="none",
    references=(Reference("Rezatofighi et al. Generalized Intersection over Union. CVPR 2019",
                          "https://arxiv.org/abs/1902.09630"),),
    equivalents=(Equivalent("torchvision", "torchvision.ops.generalized_box_iou_loss", "no box check (an inverted "
                            "box gives a number); accepts a negative eps"),
                 Equivalent("fvcore", "fvcore.nn.giou_loss", "the same formula and eps = 1e-7 as torchvision's; "
                            "an inverted box is an AssertionError; default reduction 'none'; 'mean' of an empty "
                            "input is 0 (0.0 * loss.sum()), not NaN"),
                 Equivalent("mmdet", "mmdet.models.losses.giou_loss", "union and enclosing area clamped at eps")),
))
