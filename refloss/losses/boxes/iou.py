"""IoU loss 1 - IoU, and UnitBox's -ln IoU, on matched pairs of boxes."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._registry import Equivalent, LossSpec, Reference, register
from refloss.boxes._pair import pair_vjp
from refloss.losses.boxes._common import (BOXES, EPS, TIE_KINK, iou_cotangents, iou_with_eps, pair_cotangent,
                                          prepare, pair_loss, pair_value_and_vjp,
                                          reduce_pairs)

__all__ = ["iou_loss", "iou_loss_vjp", "log_iou_loss", "log_iou_loss_vjp"]


@pair_loss
def iou_loss(boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7) -> Any:
    r"""IoU loss :math:`1 - \mathrm{IoU}` of matched pairs of boxes.

    Definition:
        For a pair of ``xyxy`` boxes with intersection :math:`I` (the overlap's area, 0 unless both its width and
        height are positive) and union :math:`U = A_1 + A_2 - I` (I1),

        .. math::
            \mathrm{IoU} = \frac{I}{U + \epsilon}, \qquad \ell = 1 - \mathrm{IoU}  \qquad \text{(I2)}

    Gradient:
        With :math:`D = U + \epsilon`,

        .. math::
            \frac{\partial \mathrm{IoU}}{\partial I} = \frac{D + I}{D^2}, \qquad
            \frac{\partial \mathrm{IoU}}{\partial A_k} = -\frac{I}{D^2}  \qquad \text{(I3)}

        then :math:`I = i_w i_h` with :math:`i_w = \min(x_2, X_2) - \max(x_1, X_1)` and :math:`A = w h` pass it
        to the coordinates. The gradient is zero for disjoint boxes. Derivation:
        ``docs/derivations/iou_loss.md``.

    Conventions:
        The IoU of torchvision's IoU losses (``_loss_inter_union``: union plus ``eps``); torchvision has no plain
        IoU loss. Ties of max/min split the gradient equally; touching boxes get no gradient through the
        intersection. ``mean`` of no pairs is 0 (torchvision). NaN propagates.

    Shapes:
        ``boxes1``, ``boxes2``: ``(..., 4)``, the same shape, ``x2 >= x1`` and ``y2 >= y1``. Output: ``(...)``
        for ``none``, else a scalar.

    Args:
        boxes1: Predicted boxes (x1, y1, x2, y2).
        boxes2: Target boxes, matched one to one with ``boxes1``.
        reduction: ``"none"`` (default, as torchvision), ``"mean"`` or ``"sum"``.
        eps: Added to the union (default 1e-7).

    Returns:
        The loss in float64.

    References:
        Yu, J. et al. "UnitBox: An Advanced Object Detection Network", ACM MM 2016:
        https://arxiv.org/abs/1608.01471

    Examples:
        >>> round(float(iou_loss([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], eps=0.0)), 10)  # 1 - 1/7
        0.8571428571
    """
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    iou, _, _ = iou_with_eps(b1, b2, eps)
    return reduce_pairs(1.0 - iou, reduction)


@pair_loss
def iou_loss_vjp(grad_output: Any, boxes1: Any, boxes2: Any, *, reduction: str = "none",
                 eps: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`iou_loss` w.r.t. ``(boxes1, boxes2)``. See its "Gradient"."""
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    g = pair_cotangent(grad_output, b1, reduction)
    _, inter, union = iou_with_eps(b1, b2, eps)
    return pair_vjp(b1, b2, **iou_cotangents(-g, inter, union, eps))  # (I3)


@pair_loss
def log_iou_loss(boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7) -> Any:
    r"""UnitBox's IoU loss :math:`-\ln \mathrm{IoU}` of matched pairs of boxes, with IoU clamped at ``eps``.

    Definition:
        With :math:`\mathrm{IoU} = I / (U + \epsilon)` as in :func:`iou_loss` (I2),

        .. math::
            \ell = -\ln \max(\mathrm{IoU}, \epsilon)  \qquad \text{(U1)}

        so that disjoint boxes cost :math:`-\ln \epsilon` (16.1 for the default), not infinity.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial \mathrm{IoU}} = -\frac{1}{\mathrm{IoU}} \ \text{where}
            \ \mathrm{IoU} > \epsilon, \quad 0 \ \text{where}\ \mathrm{IoU} < \epsilon  \qquad \text{(U2)}

        and the IoU's own gradient (I3). At :math:`\mathrm{IoU} = \epsilon` the two sides split equally (a max
        tie). Derivation: ``docs/derivations/iou_loss.md``.

    Conventions:
        mmdetection's ``iou_loss(mode="log")`` (``-log(iou.clamp(min=eps))``), whose IoU uses
        :math:`\max(U, \epsilon)` where refloss uses :math:`U + \epsilon` (a relative difference of at most
        :math:`\epsilon / U`), and whose classes default to ``eps=1e-6``. Not in torchvision.

    Shapes:
        As :func:`iou_loss`.

    Args:
        boxes1: Predicted boxes (x1, y1, x2, y2).
        boxes2: Target boxes, matched one to one with ``boxes1``.
        reduction: ``"none"`` (default), ``"mean"`` or ``"sum"``.
        eps: Added to the union, and the IoU's lower clamp (default 1e-7).

    Returns:
        The loss in float64.

    References:
        Yu, J. et al. "UnitBox: An Advanced Object Detection Network", ACM MM 2016:
        https://arxiv.org/abs/1608.01471

    Examples:
        >>> round(float(log_iou_loss([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], eps=0.0)), 10)  # ln 7
        1.9459101491
    """
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    iou, _, _ = iou_with_eps(b1, b2, eps)
    with np.errstate(divide="ignore"):
        return reduce_pairs(-anp.log(anp.maximum(iou, eps)), reduction)  # (U1)


@pair_loss
def log_iou_loss_vjp(grad_output: Any, boxes1: Any, boxes2: Any, *, reduction: str = "none",
                     eps: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`log_iou_loss` w.r.t. ``(boxes1, boxes2)``. See its "Gradient"."""
    b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
    g = pair_cotangent(grad_output, b1, reduction)
    iou, inter, union = iou_with_eps(b1, b2, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(iou > eps, 1.0, np.where(iou == eps, 0.5, 0.0))  # d max(iou, eps) / d iou
        g_iou = np.where(share > 0, -g * share / np.where(share > 0, iou, 1.0), 0.0)  # (U2)
    return pair_vjp(b1, b2, **iou_cotangents(g_iou, inter, union, eps))


_REFERENCES = (Reference("Yu et al. UnitBox: An Advanced Object Detection Network. ACM MM 2016",
                         "https://arxiv.org/abs/1608.01471"),)

register(LossSpec(
    name="iou_loss",
    family="boxes",
    forward=iou_loss,
    vjp=iou_loss_vjp,
    value_and_vjp=pair_value_and_vjp(iou_loss, iou_loss_vjp),
    inputs=BOXES,
    params=(EPS,),
    smoothness="piecewise C-infinity in the coordinates; kinks where coordinates of the two boxes tie",
    kinks=(TIE_KINK,),
    default_reduction="none",
    references=_REFERENCES,
    equivalents=(Equivalent("mmdet", "mmdet.models.losses.iou_loss(pred, target, mode='linear')",
                            "union clamped at eps instead of eps added"),),
))

register(LossSpec(
    name="log_iou_loss",
    family="boxes",
    forward=log_iou_loss,
    vjp=log_iou_loss_vjp,
    value_and_vjp=pair_value_and_vjp(log_iou_loss, log_iou_loss_vjp),
    inputs=BOXES,
    params=(EPS,),
    smoothness="piecewise C-infinity in the coordinates; kinks where coordinates tie and where IoU = eps",
    kinks=(TIE_KINK,),
    default_reduction="none",
    references=_REFERENCES,
    equivalents=(Equivalent("mmdet", "mmdet.models.losses.iou_loss(pred, target, mode='log')",
                            "union clamped at eps instead of eps added"),),
    derivation="docs/derivations/iou_loss.md",
))
