"""Poly-1 cross-entropy (Leng et al. 2022), as ``optax.losses.poly_loss_cross_entropy``."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_reduction, check_same_shape, shape_of
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Interval, LossSpec, Param, Reference, register
from refloss.activations import log_softmax, softmax, softmax_complement

__all__ = ["poly1_cross_entropy", "poly1_cross_entropy_vjp"]

EPSILON = Param("epsilon", 2.0, Interval(-math.inf, math.inf), "weight of the first polynomial term (1 - p_t)",
                grid=(0.0, -1.0), sample=Interval(-1.0, 5.0, True, True))


def poly1_cross_entropy(input: Any, target: Any, *, epsilon: float = 2.0, reduction: str = "mean") -> Any:
    r"""Poly-1 cross-entropy: the softmax cross-entropy plus ``epsilon`` times the probability mass missed.

    Definition:
        For one sample with logits :math:`x` (C classes along the last axis), label weights :math:`y` (a
        one-hot or probability row) and :math:`\log p = \operatorname{log\_softmax}(x)` (P1),

        .. math::
            \ell = -\sum_c y_c \log p_c + \epsilon \sum_c y_c (1 - p_c)  \qquad \text{(P2)}

        For a one-hot :math:`y` this is Leng et al.'s Poly-1, :math:`-\log p_t + \epsilon (1 - p_t)`. The
        complement is computed as :math:`1 - p_c = -\operatorname{expm1}(\log p_c)` (P3), which keeps its
        relative accuracy for a confident row (where the whole loss is tiny). ``mean`` divides by the number of
        samples.

    Gradient:
        With :math:`S = \sum_c y_c` and :math:`\bar p = \sum_c y_c p_c`,

        .. math::
            \frac{\partial \ell}{\partial x_k} = p_k S - y_k + \epsilon\, p_k (\bar p - y_k), \qquad
            \frac{\partial \ell}{\partial y_k} = -\log p_k + \epsilon (1 - p_k)  \qquad \text{(P4)}

        Derivation: ``docs/derivations/poly1_cross_entropy.md``.

    Conventions:
        ``optax.losses.poly_loss_cross_entropy`` (axis -1): the classes are the LAST axis, as in optax and
        Keras (for a 2-D input this is PyTorch's dim 1 too). Labels are not required to be one-hot or to sum to
        one, and their values are not checked (optax does not check them either); both inputs are
        differentiable, as in optax. ``epsilon`` may be any real number (the paper uses ``epsilon >= -1``,
        which keeps the loss non-negative for probability rows). ``mean`` of an empty batch is NaN. A NaN logit
        makes its row's loss and gradients NaN.

    Shapes:
        ``input`` and ``target``: ``(..., C)``, the same shape (``(N, C)`` or ``(C,)`` typically). Output:
        ``(...)`` for ``none``, a scalar otherwise.

    Args:
        input: Logits :math:`x`.
        target: Label weights :math:`y` (one-hot rows or probabilities), float.
        epsilon: The Poly-1 coefficient (default 2.0, as optax).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Leng, Z., Tan, M., Liu, C., et al. "PolyLoss: A Polynomial Expansion Perspective of Classification Loss
        Functions", ICLR 2022: https://arxiv.org/abs/2204.12511.
        optax ``optax.losses.poly_loss_cross_entropy``:
        https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.poly_loss_cross_entropy

    Examples:
        >>> # equal logits, one-hot target: p_t = 1/2, loss = log 2 + 2 (1 - 1/2)
        >>> round(float(poly1_cross_entropy([[0.0, 0.0]], [[1.0, 0.0]])), 12) == round(math.log(2) + 1, 12)
        True
    """
    x, y, epsilon = _prepare(input, target, reduction, epsilon)
    log_p = log_softmax(x, -1)  # (P1)
    missed = -anp.expm1(log_p)  # 1 - p (P3)
    per_sample = -anp.sum(y * log_p, axis=-1) + epsilon * anp.sum(y * missed, axis=-1)  # (P2)
    return reduce(per_sample, reduction)


def poly1_cross_entropy_vjp(grad_output: Any, input: Any, target: Any, *, epsilon: float = 2.0,
                            reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`poly1_cross_entropy` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`poly1_cross_entropy`, "Gradient".
    """
    x, y, epsilon = _prepare(input, target, reduction, epsilon)
    g = reduce_vjp(grad_output, x.shape[:-1], reduction)[..., None]  # each sample's cotangent
    log_p = log_softmax(x, -1)
    p = softmax(x, -1)
    missed = softmax_complement(x, -1)  # 1 - p without cancellation
    label_sum = np.sum(y, axis=-1, keepdims=True)
    caught = np.sum(y * p, axis=-1, keepdims=True)  # p-bar
    with np.errstate(invalid="ignore"):
        grad_input = g * (p * label_sum - y + epsilon * p * (caught - y))  # (P4)
        grad_target = g * (-log_p + epsilon * missed)  # (P4)
    return grad_input, grad_target


def _prepare(input: Any, target: Any, reduction: Any, epsilon: Any) -> tuple[Any, Any, float]:
    x = as_real_array(input, "input")
    y = as_real_array(target, "target")
    check_reduction(reduction)
    epsilon = EPSILON.check(epsilon)
    if len(shape_of(x)) == 0:
        raise ValueError("input must have shape (..., C) with a class dimension (the last axis), got shape ()")
    check_same_shape(x, y, "input", "target")
    return x, y, epsilon


register(LossSpec(
    name="poly1_cross_entropy",
    family="classification",
    forward=poly1_cross_entropy,
    vjp=poly1_cross_entropy_vjp,
    inputs=(Input("input", "logits (N, C); classes on the last axis", shape=("N", "C"),
                  sample=Interval(-6.0, 6.0, True, True)),
            Input("target", "label weights (N, C): one-hot rows or probabilities", shape=("N", "C"),
                  sample=Interval(0.0, 1.0, True, True))),
    params=(EPSILON,),
    per_sample=True,
    smoothness="C-infinity in the logits, linear in the labels",
    references=(
        Reference("Leng et al. PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions. "
                  "ICLR 2022", "https://arxiv.org/abs/2204.12511"),
        Reference("optax, optax.losses.poly_loss_cross_entropy",
                  "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.poly_loss_cross_entropy"),
    ),
    equivalents=(Equivalent("optax", "optax.losses.poly_loss_cross_entropy",
                            "same formula over the last axis; optax computes 1 - p as a plain difference, so a "
                            "confident row's tiny loss loses its relative accuracy there (absolute error ~1e-16: 0 "
                            "instead of 2.5e-17 at logits (0, 40, 0)); optax checks no shapes"),),
))
