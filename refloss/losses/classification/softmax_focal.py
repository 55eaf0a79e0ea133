"""Softmax focal loss: multi-class cross-entropy down-weighted on well-classified samples, per-class alpha."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_grad_output, check_reduction, shape_of
from refloss._reduction import reduce
from refloss._registry import Input, Interval, LossSpec, Param, Reference, register
from refloss.activations import log_softmax, softmax, softmax_complement
from refloss.losses.classification._labels import check_class_indices, check_class_weight, class_axis_of
from refloss.losses.classification.cross_entropy import _class_weight, _value, _weighted

__all__ = ["softmax_focal_loss", "softmax_focal_loss_vjp"]

ALPHA = Param("alpha", None, Interval(0.0, math.inf, low_closed=True),
              "optional non-negative weight per class, shape (C,) (a constant)", kind="per_class")
GAMMA = Param("gamma", 2.0, Interval(0.0, math.inf, low_closed=True), "focusing exponent >= 0", grid=(0.0, 0.5),
              sample=Interval(0.0, 5.0, True, True))


def softmax_focal_loss(input: Any, target: Any, *, reduction: str = "mean", alpha: Any = None,
                       gamma: float = 2.0) -> Any:
    r"""Softmax focal loss for multi-class targets, with an optional weight per class.

    Definition:
        With :math:`L = \log p_y = \operatorname{log\_softmax}(x)_y` for the target class :math:`y` (S1) and
        :math:`q = 1 - p_y = -\operatorname{expm1}(L)` (S2),

        .. math::
            \ell_n = -\alpha_y\, q^{\gamma} L  \qquad \text{(S3)}

        (:math:`\alpha_y = 1` without ``alpha``). ``mean`` divides by the number of samples. With
        :math:`\gamma = 0` it is the cross-entropy with class weights ``alpha`` summed (or averaged over samples).

    Gradient:
        With :math:`r = L / q` (the limit :math:`-1` where :math:`q = 0`),

        .. math::
            \frac{\partial \ell_n}{\partial L} = -\alpha_y\, q^{\gamma}\,(1 - \gamma\, p_y\, r), \qquad
            \frac{\partial \ell_n}{\partial x_k} = \frac{\partial \ell_n}{\partial L}\,([k = y] - p_k)
            \qquad \text{(S4)}

        The naive chain rule through :math:`q^\gamma` has the factor :math:`q^{\gamma - 1}`, infinite where a
        confident logit makes :math:`q = 0` (NaN for :math:`0 < \gamma < 1`); this form stays finite. Class
        indices get no gradient. Derivation: ``docs/derivations/softmax_focal_loss.md``.

    Conventions:
        Lin et al.'s focal loss applied to the softmax (as mmcv's ``softmax_focal_loss`` and kornia's
        ``focal_loss``), with ``alpha`` a weight per class. Not in PyTorch or torchvision. The class
        axis is dim 1 (dim 0 of a 1-D input). ``mean`` of an empty batch is NaN. NaN propagates.

    Shapes:
        ``input``: ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``; ``target``: ``(N)``, ``(N, d1, ..., dk)`` or
        ``()`` of integers; ``alpha``: ``(C,)``. Output: the target's shape for ``none``, else a scalar.

    Args:
        input: Logits :math:`x`.
        target: Class indices.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        alpha: Optional non-negative weight per class.
        gamma: Focusing exponent :math:`\gamma \ge 0` (default 2).

    Returns:
        The loss in float64.

    References:
        Lin, T.-Y. et al. "Focal Loss for Dense Object Detection", ICCV 2017: https://arxiv.org/abs/1708.02002

    Examples:
        >>> round(float(softmax_focal_loss([[0.0, 0.0]], np.array([0]))), 10)  # (1/2)^2 log 2
        0.1732867951
    """
    x, labels, alpha_y, gamma = _prepare(input, target, reduction, alpha, gamma)
    class_axis = 1 if np.ndim(_value(x)) > 1 else 0
    one_hot = _one_hot(labels, shape_of(x)[class_axis], class_axis)
    log_p = anp.sum(_weighted(one_hot, log_softmax(x, class_axis)), axis=class_axis)  # (S1), -inf elsewhere is fine
    q = -anp.expm1(log_p)  # (S2)
    # q^gamma through a double where: at q = 0 autograd's derivative of q**gamma would be inf * 0 = NaN, while
    # the loss's true derivative there is 0 (see the VJP), which this form gives autograd too.
    q_safe = anp.where(q > 0, q, 1.0)
    focus = anp.where(q > 0, q_safe ** gamma, 0.0 ** gamma)
    per_sample = 0.0 - alpha_y * focus * log_p  # (S3); 0.0 - keeps a zero loss +0.0
    return reduce(per_sample, reduction)  # mean over the samples


def softmax_focal_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean", alpha: Any = None,
                           gamma: float = 2.0) -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`softmax_focal_loss` w.r.t. ``(input, target)``; class indices get None.

    ``grad_output`` has the shape of the loss's output. See :func:`softmax_focal_loss`, "Gradient".
    """
    x, labels, alpha_y, gamma = _prepare(input, target, reduction, alpha, gamma)
    class_axis = 1 if x.ndim > 1 else 0
    one_hot = _one_hot(labels, x.shape[class_axis], class_axis)
    g = check_grad_output(grad_output, labels.shape if reduction == "none" else ())
    g = np.broadcast_to(g, labels.shape)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if reduction == "mean":
            g = g / np.float64(labels.size)
        p = softmax(x, class_axis)
        log_p = np.sum(_weighted(one_hot, log_softmax(x, class_axis)), axis=class_axis)
        p_y = np.exp(log_p)
        q = -np.expm1(log_p)
        ratio = np.where(q > 0, log_p / np.where(q > 0, q, 1.0), -1.0)  # log p / (1 - p) -> -1 as p -> 1
        d_log_p = -alpha_y * q ** gamma * (1.0 - gamma * p_y * ratio)  # (S4)
        # [k = y] - p_k, with 1 - p_y from softmax_complement: 1 - p_y would cancel for a confident row
        indicator_minus_p = np.where(one_hot == 1, softmax_complement(x, class_axis), -p)
        grad = np.expand_dims(g * d_log_p, class_axis) * indicator_minus_p  # (S4)
    return grad, None


def _one_hot(labels: np.ndarray, classes: int, class_axis: int) -> np.ndarray:
    return np.moveaxis(labels[..., None] == np.arange(classes), -1, class_axis).astype(np.float64)


def _prepare(input: Any, target: Any, reduction: str, alpha: Any, gamma: Any) -> tuple:
    x = as_real_array(input, "input")
    check_reduction(reduction)
    shape = shape_of(x)
    class_axis = class_axis_of(shape)
    classes = shape[class_axis]
    gamma = GAMMA.check(gamma)
    labels = check_class_indices(target, shape, class_axis)
    alpha = check_class_weight(alpha, "alpha", classes)
    weights = _class_weight(alpha, classes, 1, 0)
    alpha_y = weights[labels] if labels.size else np.zeros(labels.shape)
    return x, labels, alpha_y, gamma


register(LossSpec(
    name="softmax_focal_loss",
    family="classification",
    forward=softmax_focal_loss,
    vjp=softmax_focal_loss_vjp,
    inputs=(Input("input", "logits (N, C, ...)", shape=("N", "C", "..."), sample=Interval(-8.0, 8.0, True, True)),
            Input("target", "class indices (N, ...) in [0, C)", shape=("N", "..."), kind="int", classes="C",
                  differentiable=False)),
    params=(ALPHA, GAMMA),
    per_sample=True,
    smoothness="C-infinity in the logits",
    references=(Reference("Lin et al. Focal Loss for Dense Object Detection. ICCV 2017",
                          "https://arxiv.org/abs/1708.02002"),),
    equivalents=(),
))
