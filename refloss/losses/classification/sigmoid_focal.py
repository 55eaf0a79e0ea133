"""Sigmoid focal loss (RetinaNet): binary cross-entropy down-weighted on well-classified elements."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refloss._blocks import elementwise
from refloss._checks import as_matching_pair, check_grad_output, shape_of
from refloss._reduction import output_shape
from refloss.losses.classification._labels import check_unit_interval
from refloss._registry import Equivalent, Input, Interval, LossSpec, Param, Reference, register
from refloss.losses.classification._logistic import sigmoid_pair, softplus_pair

__all__ = ["sigmoid_focal_loss", "sigmoid_focal_loss_vjp"]

ALPHA = Param("alpha", 0.25, Interval(-math.inf, 1.0, high_closed=True),
              "weight of the positive class in [0, 1]; a negative value (torchvision's -1) or None disables it",
              grid=(0.5, -1.0))
GAMMA = Param("gamma", 2.0, Interval(0.0, math.inf, low_closed=True),
              "focusing exponent >= 0; 0 gives the (alpha-weighted) binary cross-entropy", grid=(0.0, 0.5),
              sample=Interval(0.0, 5.0, True, True))


def sigmoid_focal_loss(inputs: Any, targets: Any, *, reduction: str = "none", alpha: float | None = 0.25,
                       gamma: float = 2.0) -> Any:
    r"""Sigmoid focal loss with torchvision's parameters and defaults (``alpha=0.25, gamma=2, reduction="none"``).

    Definition:
        With :math:`p = \sigma(x)`, target :math:`y \in [0, 1]`, the cross-entropy
        :math:`c = y\,\operatorname{softplus}(-x) + (1-y)\operatorname{softplus}(x)` (F1),
        :math:`q = 1 - p_t = p\,(1 - y) + (1 - p)\,y` (F2) and :math:`\alpha_t = \alpha y + (1-\alpha)(1-y)`
        (1 when alpha is disabled),

        .. math::
            \ell(x, y) = \alpha_t\, q^{\gamma}\, c  \qquad \text{(F3)}

        For hard labels :math:`q = 1 - p_t` with :math:`p_t` the probability of the true class, the paper's
        :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = \alpha_t\, q^{\gamma}\Bigl[(p - y)
                - \gamma\,(2y - 1)\,\frac{p(1-p)}{q}\,c\Bigr]  \qquad \text{(F4)}

        from :math:`\partial c/\partial x = p - y` and :math:`\partial q/\partial x = -(2y-1)\,p(1-p)`. The ratio
        :math:`p(1-p)/q \le 1` replaces the factor :math:`q^{\gamma-1}` of the naive chain rule, which is infinite
        where :math:`q = 0` and turns the gradient into NaN for :math:`0 < \gamma < 1`; here the gradient stays
        finite (it is 0 there). For soft labels the targets get a gradient too, from
        :math:`\partial c/\partial y = -x`, :math:`\partial q/\partial y = 1 - 2p` and
        :math:`\partial\alpha_t/\partial y = 2\alpha - 1` (0 when alpha is disabled):

        .. math::
            \frac{\partial \ell}{\partial y} = q^{\gamma}\Bigl[(2\alpha - 1)\,c
                + \alpha_t\Bigl(\gamma\,(1 - 2p)\,\frac{c}{q} - x\Bigr)\Bigr]  \qquad \text{(F5)}

        again without :math:`q^{\gamma-1}` (:math:`c/q` stays finite; where :math:`q = 0`, :math:`c = 0` too).
        Derivation: ``docs/derivations/sigmoid_focal_loss.md``.

    Conventions:
        As ``torchvision.ops.sigmoid_focal_loss`` (whose reduction defaults to ``"none"``); ``alpha < 0`` or
        ``None`` disables the class weight. With ``gamma = 0`` and alpha disabled the loss equals
        :func:`binary_cross_entropy_with_logits`. ``targets`` must lie in [0, 1]; shapes must match. ``mean`` of an
        empty input is NaN (torchvision: ``loss.mean()``). NaN propagates.

    Shapes:
        ``inputs``: ``(*)`` logits; ``targets``: the same shape. Output: ``(*)`` for ``none``, else a scalar.

    Args:
        inputs: Logits :math:`x`.
        targets: Labels :math:`y` in [0, 1]: 0 or 1, or soft labels (which get a gradient).
        reduction: ``"none"`` (default), ``"mean"`` or ``"sum"``.
        alpha: Positive-class weight in [0, 1], or negative / None to disable (default 0.25).
        gamma: Focusing exponent :math:`\gamma \ge 0` (default 2).

    Returns:
        The loss in float64.

    References:
        Lin, T.-Y., Goyal, P., Girshick, R., He, K., Dollár, P. "Focal Loss for Dense Object Detection",
        ICCV 2017: https://arxiv.org/abs/1708.02002.
        torchvision ``torchvision.ops.sigmoid_focal_loss``:
        https://docs.pytorch.org/vision/stable/generated/torchvision.ops.sigmoid_focal_loss.html

    Examples:
        >>> round(float(sigmoid_focal_loss([0.0], [1.0], alpha=None)[0]), 10)  # (1/2)^2 log 2
        0.1732867951
    """
    return _evaluate(None, inputs, targets, reduction, alpha, gamma, gradients=False)[0]


def sigmoid_focal_loss_vjp(grad_output: Any, inputs: Any, targets: Any, *, reduction: str = "none",
                           alpha: float | None = 0.25, gamma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`sigmoid_focal_loss` w.r.t. ``(inputs, targets)``.

    ``grad_output`` has the shape of the loss's output. See :func:`sigmoid_focal_loss`, "Gradient".
    """
    return _evaluate(grad_output, inputs, targets, reduction, alpha, gamma, value=False)[1]


def _value_and_vjp(grad_output: Any, inputs: Any, targets: Any, *, reduction: str = "none",
                   alpha: float | None = 0.25, gamma: float = 2.0) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
    return _evaluate(grad_output, inputs, targets, reduction, alpha, gamma)


def _evaluate(grad_output: Any, inputs: Any, targets: Any, reduction: str, alpha: Any, gamma: Any,
              value: bool = True, gradients: bool = True) -> tuple[Any, tuple | None]:
    x, y = as_matching_pair(inputs, targets, reduction, ("inputs", "targets"))
    check_unit_interval(y, "targets", "labels")
    gamma = GAMMA.check(gamma)
    alpha = None if alpha is None else ALPHA.check(alpha)
    if gradients:  # a VJP: its cotangent is checked (None included)
        grad_output = check_grad_output(grad_output, output_shape(shape_of(x), reduction))

    def kernel(xp: Any, g: Any, x: Any, y: Any, value: bool = True) -> tuple[Any, Any]:
        """(F1)-(F3) and, given the cotangents ``g``, (F4) and (F5), for a block of elements (see refloss._blocks)."""
        softplus_minus, softplus_plus, parts = softplus_pair(xp, x)
        ce = y * softplus_minus + (1.0 - y) * softplus_plus  # (F1)
        p, one_minus_p = sigmoid_pair(parts)
        q = p * (1.0 - y) + one_minus_p * y  # (F2)
        weighted = alpha is not None and alpha >= 0
        alpha_t = alpha * y + (1.0 - alpha) * (1.0 - y) if weighted else 1.0
        modulating = q ** gamma
        loss = alpha_t * modulating * ce if value else None  # (F3)
        if g is None:
            return loss, None
        # p (1 - p) / q <= 1 and c / q. Where q = 0 (a saturated hard label) p (1 - p) and c are 0 too, and any
        # finite ratio serves: its product with q^gamma is 0 for gamma > 0, and it is multiplied by gamma = 0
        # otherwise. Dividing by q + [q = 0] gives 0 there instead of 0/0.
        q_or_one = q + (q == 0)
        ratio = p * one_minus_p / q_or_one
        # p - y written as p (1 - y) - (1 - p) y: for y = 1 and p = sigma(40) = 1 - 4e-18, p - y would cancel to 0
        p_minus_y = p * (1.0 - y) - one_minus_p * y
        grad_x = g * alpha_t * modulating * (p_minus_y - gamma * (2.0 * y - 1.0) * ratio * ce)  # (F4)
        alpha_slope = 2.0 * alpha - 1.0 if weighted else 0.0
        grad_y = g * modulating * (alpha_slope * ce + alpha_t * (gamma * (one_minus_p - p) * (ce / q_or_one) - x))
        return loss, (grad_x, grad_y)  # (F5)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return elementwise(kernel, [x, y], reduction=reduction, value=value, grad_output=grad_output)


register(LossSpec(
    name="sigmoid_focal_loss",
    family="classification",
    forward=sigmoid_focal_loss,
    vjp=sigmoid_focal_loss_vjp,
    value_and_vjp=_value_and_vjp,
    inputs=(Input("inputs", "logits, any shape", sample=Interval(-8.0, 8.0, True, True)),
            Input("targets", "labels 0 or 1 (or soft labels in [0, 1]), the same shape as inputs",
                  domain=Interval(0.0, 1.0, True, True), sample=Interval(0.0, 1.0, True, True))),
    params=(ALPHA, GAMMA),
    default_reduction="none",
    smoothness="C-infinity in the logits, for every gamma >= 0",
    references=(
        Reference("Lin et al. Focal Loss for Dense Object Detection. ICCV 2017", "https://arxiv.org/abs/1708.02002"),
        Reference("torchvision, torchvision.ops.sigmoid_focal_loss",
                  "https://docs.pytorch.org/vision/stable/generated/torchvision.ops.sigmoid_focal_loss.html"),
    ),
    equivalents=(
        Equivalent("torchvision", "torchvision.ops.sigmoid_focal_loss", "alpha=-1 disables alpha"),
        Equivalent("optax", "optax.losses.sigmoid_focal_loss", "elementwise; alpha=None disables alpha"),
    ),
))
