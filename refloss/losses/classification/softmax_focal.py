"""Softmax focal loss: multi-class cross-entropy down-weighted on well-classified samples, per-class alpha."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_grad_output, check_reduction, shape_of
from refloss._reduction import reduce
from refloss._registry import Equivalent, Input, Interval, LossSpec, Param, Reference, register
from refloss.activations import log_softmax, softmax, softmax_complement
from refloss.losses.classification._labels import check_class_indices, check_class_weight, class_axis_of
from refloss.losses.classification.cross_entropy import LABEL_SMOOTHING, _class_weight, _weighted

__all__ = ["softmax_focal_loss", "softmax_focal_loss_vjp"]

ALPHA = Param("alpha", None, Interval(0.0, math.inf, low_closed=True),
              "optional non-negative weight per class, shape (C,) (a constant)", kind="per_class")
GAMMA = Param("gamma", 2.0, Interval(0.0, math.inf, low_closed=True), "focusing exponent >= 0", grid=(0.0, 0.5),
              sample=Interval(0.0, 5.0, True, True))


def softmax_focal_loss(input: Any, target: Any, *, reduction: str = "mean", alpha: Any = None,
                       gamma: float = 2.0, label_smoothing: float = 0.0) -> Any:
    r"""Softmax focal loss for multi-class targets, with an optional weight per class and label smoothing.

    Definition:
        With :math:`L_k = \log p_k = \operatorname{log\_softmax}(x)_k` (S1), :math:`q_k = 1 - p_k =
        -\operatorname{expm1}(L_k)` (S2) and the target distribution :math:`t_k = (1 - \varepsilon)[k = y] +
        \varepsilon / C` (:math:`\varepsilon` = ``label_smoothing``),

        .. math::
            \ell_n = -\sum_k \alpha_k\, t_k\, q_k^{\gamma} L_k  \qquad \text{(S3)}

        (:math:`\alpha_k = 1` without ``alpha``). Without smoothing only the target's term is left:
        :math:`-\alpha_y q_y^\gamma \log p_y`. ``mean`` divides by the number of samples. With
        :math:`\gamma = 0` it is the cross-entropy with class weights ``alpha`` summed (or averaged over samples).

    Gradient:
        With :math:`r_k = L_k / q_k` (the limit :math:`-1` where :math:`q_k = 0`) and
        :math:`D_k = \partial \ell_n / \partial L_k`,

        .. math::
            D_k = -\alpha_k\, t_k\, q_k^{\gamma}\,(1 - \gamma\, p_k\, r_k), \qquad
            \frac{\partial \ell_n}{\partial x_j} = \sum_k D_k ([j = k] - p_j)
            = D_j\, q_j - p_j \sum_{k \ne j} D_k \qquad \text{(S4)}

        The naive chain rule through :math:`q^\gamma` has the factor :math:`q^{\gamma - 1}`, infinite where a
        confident logit makes :math:`q = 0` (NaN for :math:`0 < \gamma < 1`); this form stays finite. Class
        indices get no gradient. Derivation: ``docs/derivations/softmax_focal_loss.md``.

    Conventions:
        Lin et al.'s focal loss applied to the softmax (as mmcv's ``softmax_focal_loss`` and kornia's
        ``focal_loss``), with ``alpha`` a weight per class. Not in PyTorch or torchvision. Label smoothing is
        Keras 3's ``categorical_focal_crossentropy``: every class's term weighted by the smoothed target, each by
        its own focal factor :math:`q_k^\gamma`; Keras's ``alpha`` is one number for every class (pass it as
        ``alpha=np.full(C, a)``) and Keras clips the probabilities to :math:`[10^{-7}, 1 - 10^{-7}]`, which
        refloss does not. A class masked with a logit of :math:`-\infty` adds nothing without smoothing and
        makes the loss infinite with it (its smoothed target is not 0). The class axis is dim 1 (dim 0 of a 1-D
        input). ``mean`` of an empty batch is NaN. NaN propagates.

    Shapes:
        ``input``: ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``; ``target``: ``(N)``, ``(N, d1, ..., dk)`` or
        ``()`` of integers; ``alpha``: ``(C,)``. Output: the target's shape for ``none``, else a scalar.

    Args:
        input: Logits :math:`x`.
        target: Class indices.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        alpha: Optional non-negative weight per class.
        gamma: Focusing exponent :math:`\gamma \ge 0` (default 2).
        label_smoothing: :math:`\varepsilon \in [0, 1]`, the weight of the uniform distribution mixed into the
            one-hot target (default 0).

    Returns:
        The loss in float64.

    References:
        Lin, T.-Y. et al. "Focal Loss for Dense Object Detection", ICCV 2017: https://arxiv.org/abs/1708.02002.
        Keras 3 ``keras.losses.categorical_focal_crossentropy``:
        https://keras.io/api/losses/probabilistic_losses/#categoricalfocalcrossentropy-class

    Examples:
        >>> round(float(softmax_focal_loss([[0.0, 0.0]], np.array([0]))), 10)  # (1/2)^2 log 2
        0.1732867951
    """
    x, target_mass, alpha, gamma, class_axis = _prepare(input, target, reduction, alpha, gamma, label_smoothing)
    log_p = log_softmax(x, class_axis)  # (S1)
    q = -anp.expm1(log_p)  # (S2)
    # q^gamma through a double where: at q = 0 autograd's derivative of q**gamma would be inf * 0 = NaN, while
    # the loss's true derivative there is 0 (see the VJP), which this form gives autograd too.
    q_safe = anp.where(q > 0, q, 1.0)
    focus = anp.where(q > 0, q_safe ** gamma, 0.0 ** gamma)
    # (S3); _weighted leaves out the classes whose target mass is 0 (a masked -inf logit adds 0, not NaN), so
    # without smoothing the sum is the target's term alone, exactly. 0.0 - keeps a zero loss +0.0.
    per_sample = 0.0 - anp.sum(alpha * focus * _weighted(target_mass, log_p), axis=class_axis)
    return reduce(per_sample, reduction)  # mean over the samples


def softmax_focal_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean", alpha: Any = None,
                           gamma: float = 2.0, label_smoothing: float = 0.0) -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`softmax_focal_loss` w.r.t. ``(input, target)``; class indices get None.

    ``grad_output`` has the shape of the loss's output. See :func:`softmax_focal_loss`, "Gradient".
    """
    x, target_mass, alpha, gamma, class_axis = _prepare(input, target, reduction, alpha, gamma, label_smoothing)
    sample_shape = np.delete(x.shape, class_axis) if x.ndim else ()
    g = check_grad_output(grad_output, tuple(sample_shape) if reduction == "none" else ())
    g = np.broadcast_to(g, tuple(sample_shape))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if reduction == "mean":
            g = g / np.float64(np.prod(sample_shape, dtype=np.int64))
        log_p = log_softmax(x, class_axis)
        p = np.exp(log_p)
        q = -np.expm1(log_p)
        ratio = np.where(q > 0, log_p / np.where(q > 0, q, 1.0), -1.0)  # log p / (1 - p) -> -1 as p -> 1
        d_log_p = -alpha * q ** gamma * (1.0 - gamma * p * ratio)  # (S4) without t_k
        # D_k = g t_k d_k; a class without target mass has D_k = 0, even where d_k is NaN (a masked -inf logit)
        d = np.expand_dims(g, class_axis) * np.where(target_mass != 0, target_mass * d_log_p, 0.0)
        others = np.sum(d, axis=class_axis, keepdims=True) - d  # sum over k != j of D_k
        # (S4) with q_j = 1 - p_j from softmax_complement: 1 - p_j would cancel for a confident row
        grad = d * softmax_complement(x, class_axis) - softmax(x, class_axis) * others
    return grad, None


def _prepare(input: Any, target: Any, reduction: str, alpha: Any, gamma: Any, label_smoothing: Any) -> tuple:
    """The checked logits, the target distribution t and alpha along the class axis, gamma, and the class axis."""
    x = as_real_array(input, "input")
    check_reduction(reduction)
    shape = shape_of(x)
    class_axis = class_axis_of(shape)
    classes = shape[class_axis]
    gamma = GAMMA.check(gamma)
    smoothing = LABEL_SMOOTHING.check(label_smoothing)
    labels = check_class_indices(target, shape, class_axis)
    alpha = check_class_weight(alpha, "alpha", classes)
    one_hot = np.moveaxis(labels[..., None] == np.arange(classes), -1, class_axis)
    target_mass = (1.0 - smoothing) * one_hot + smoothing / classes  # exactly the one-hot rows for smoothing 0
    return x, target_mass, _class_weight(alpha, classes, len(shape), class_axis), gamma, class_axis


register(LossSpec(
    name="softmax_focal_loss",
    family="classification",
    forward=softmax_focal_loss,
    vjp=softmax_focal_loss_vjp,
    inputs=(Input("input", "logits (N, C, ...)", shape=("N", "C", "..."), sample=Interval(-8.0, 8.0, True, True)),
            Input("target", "class indices (N, ...) in [0, C)", shape=("N", "..."), kind="int", classes="C",
                  differentiable=False)),
    params=(ALPHA, GAMMA, LABEL_SMOOTHING),
    per_sample=True,
    smoothness="C-infinity in the logits",
    references=(Reference("Lin et al. Focal Loss for Dense Object Detection. ICCV 2017",
                          "https://arxiv.org/abs/1708.02002"),
                Reference("Keras 3, keras.losses.categorical_focal_crossentropy (label smoothing)",
                          "https://keras.io/api/losses/probabilistic_losses/#categoricalfocalcrossentropy-class")),
    equivalents=(Equivalent("keras", "keras.losses.categorical_focal_crossentropy",
                            "one-hot targets from the class indices; Keras's alpha is a single number for every "
                            "class (alpha = np.full(C, a) here), and Keras clips the probabilities to [1e-7, "
                            "1 - 1e-7], so logits more than about 16 apart differ"),),
))
