"""Binary cross-entropy on logits: the sigmoid and the log-loss fused, stable for any logit."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refloss._blocks import elementwise
from refloss._checks import as_matching_pair, check_broadcast_weight, check_grad_output, shape_of
from refloss._reduction import output_shape
from refloss.losses.classification._logistic import sigmoid_pair, softplus_pair
from refloss.losses.classification._labels import check_unit_interval
from refloss._registry import Equivalent, Input, Interval, LossSpec, Param, Reference, register

__all__ = ["binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_vjp"]

_NON_NEGATIVE = Interval(0.0, math.inf, low_closed=True)
WEIGHT = Param("weight", None, _NON_NEGATIVE, "optional non-negative weight broadcast to input (a constant); "
               "'mean' still divides by the number of elements, as PyTorch does", kind="elementwise")
POS_WEIGHT = Param("pos_weight", None, _NON_NEGATIVE, "optional non-negative weight of the positive term, "
                   "broadcast to input (typically one per class, along the last dimension)", kind="broadcast")


def binary_cross_entropy_with_logits(input: Any, target: Any, *, reduction: str = "mean", weight: Any = None,
                                     pos_weight: Any = None) -> Any:
    r"""Binary cross-entropy between ``target`` probabilities and ``sigmoid(input)``, computed from the logits.

    Definition:
        With logit :math:`x`, target :math:`y \in [0, 1]`, weight :math:`w` and positive weight :math:`p`,

        .. math::
            \ell(x, y) = -w\,\bigl[p\,y\log\sigma(x) + (1 - y)\log(1 - \sigma(x))\bigr]
                       = w\,\bigl[p\,y\,\operatorname{softplus}(-x) + (1 - y)\operatorname{softplus}(x)\bigr]
            \qquad \text{(B1)}

        using :math:`-\log\sigma(x) = \operatorname{softplus}(-x)` and :math:`-\log(1-\sigma(x)) =
        \operatorname{softplus}(x)`, with :math:`\operatorname{softplus}(z) = \max(z, 0) +
        \operatorname{log1p}(e^{-|z|})` (B2), which never overflows. ``mean`` divides the sum by the number of
        elements (weights are not in the denominator).

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = w\,\bigl[(1 - y)\,\sigma(x) - p\,y\,\sigma(-x)\bigr], \qquad
            \frac{\partial \ell}{\partial y}
                = w\,\bigl[p\,\operatorname{softplus}(-x) - \operatorname{softplus}(x)\bigr]
                = w\,\bigl[(p - 1)\operatorname{softplus}(-x) - x\bigr]
            \qquad \text{(B3, B4)}

        For :math:`p = 1` the first is :math:`w(\sigma(x) - y)` and the second exactly :math:`-w x`; the code uses
        the last form, since the difference of the two softplus terms cancels for small :math:`|x|`. ``target`` is differentiable (soft labels).
        Derivation: ``docs/derivations/binary_cross_entropy_with_logits.md``.

    Conventions:
        As ``torch.nn.functional.binary_cross_entropy_with_logits``. ``target`` must lie in [0, 1] (PyTorch does
        not check; values outside give a loss without meaning, so refloss raises). ``weight`` and
        ``pos_weight`` broadcast to ``input`` and must be finite and non-negative; they are constants.
        ``input`` and ``target`` must have the same shape. Smooth everywhere; logits of any finite magnitude are
        exact (the loss at :math:`x = 10^4, y = 0` is :math:`10^4`). ``mean`` of an empty input is NaN. NaN
        propagates.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape; ``weight``, ``pos_weight``: broadcastable to ``(*)``
        (``pos_weight`` typically ``(C,)`` for inputs ``(N, C)``). Output: ``(*)`` for ``none``, else a scalar.

    Args:
        input: Logits :math:`x`.
        target: Probabilities :math:`y \in [0, 1]` (hard labels 0/1 or soft labels).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        weight: Optional rescaling weight of each element.
        pos_weight: Optional weight :math:`p` of the positive term (:math:`p > 1` raises recall).

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.binary_cross_entropy_with_logits``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.binary_cross_entropy_with_logits.html

    Examples:
        >>> round(float(binary_cross_entropy_with_logits([0.0], [1.0])), 15)  # log 2
        0.693147180559945
    """
    return _evaluate(None, input, target, reduction, weight, pos_weight, gradients=False)[0]


def binary_cross_entropy_with_logits_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                                         weight: Any = None, pos_weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`binary_cross_entropy_with_logits` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`binary_cross_entropy_with_logits`, "Gradient".
    """
    return _evaluate(grad_output, input, target, reduction, weight, pos_weight, value=False)[1]


def _value_and_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean", weight: Any = None,
                   pos_weight: Any = None) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
    return _evaluate(grad_output, input, target, reduction, weight, pos_weight)


def _kernel(xp: Any, g: Any, x: Any, y: Any, pos_weight: Any, value: bool = True) -> tuple[Any, Any]:
    """(B1) and, given the cotangents ``g``, (B3) and (B4), for a block of elements (see refloss._blocks)."""
    softplus_minus, softplus_plus, parts = softplus_pair(xp, x)  # -log sigma(x), -log(1 - sigma(x))
    loss = None
    if value:
        positive = y * softplus_minus  # (B1)
        if pos_weight is not None:
            positive = positive * pos_weight
        loss = positive + (1.0 - y) * softplus_plus
    if g is None:
        return loss, None
    p = 1.0 if pos_weight is None else pos_weight
    sigma, sigma_minus = sigmoid_pair(parts)
    grad_input = g * ((1.0 - y) * sigma - p * y * sigma_minus)  # (B3)
    # (B4) with softplus(x) = softplus(-x) + x: exact -x for p = 1, where the difference of the two softplus
    # values would cancel (8e-8 relative error at x = 1e-10, and 0 instead of -1e-17 at x = 1e-17).
    grad_target = g * ((p - 1.0) * softplus_minus - x)
    return loss, (grad_input, grad_target)


def _evaluate(grad_output: Any, input: Any, target: Any, reduction: str, weight: Any, pos_weight: Any,
              value: bool = True, gradients: bool = True) -> tuple[Any, tuple | None]:
    input, target, weight, pos_weight = _prepare(input, target, reduction, weight, pos_weight)
    if gradients:  # a VJP: its cotangent is checked (None included)
        grad_output = check_grad_output(grad_output, output_shape(shape_of(input), reduction))
    with np.errstate(over="ignore", invalid="ignore"):
        return elementwise(_kernel, [input, target, pos_weight], reduction=reduction, value=value,
                           grad_output=grad_output, weight=weight, mean_over_weights=False)


def _prepare(input: Any, target: Any, reduction: str, weight: Any, pos_weight: Any) -> tuple:
    input, target = as_matching_pair(input, target, reduction)
    check_unit_interval(target, "target", "probabilities")
    shape = shape_of(input)
    weight = check_broadcast_weight(weight, "weight", shape)
    return input, target, weight, check_broadcast_weight(pos_weight, "pos_weight", shape)


register(LossSpec(
    name="binary_cross_entropy_with_logits",
    family="classification",
    forward=binary_cross_entropy_with_logits,
    vjp=binary_cross_entropy_with_logits_vjp,
    value_and_vjp=_value_and_vjp,
    inputs=(Input("input", "logits, any shape", sample=Interval(-8.0, 8.0, True, True)),
            Input("target", "probabilities in [0, 1], the same shape as input", domain=Interval(0.0, 1.0, True, True),
                  sample=Interval(0.0, 1.0, True, True))),
    params=(WEIGHT, POS_WEIGHT),
    smoothness="C-infinity",
    references=(Reference("PyTorch, torch.nn.functional.binary_cross_entropy_with_logits",
                          "https://docs.pytorch.org/docs/stable/generated/"
                          "torch.nn.functional.binary_cross_entropy_with_logits.html"),),
    equivalents=(
        Equivalent("torch", "torch.nn.functional.binary_cross_entropy_with_logits", "(1 - y) x - (1 + (pw - 1) y) "
                   "log_sigmoid(x) cancels for y = 0, x << 0 (3.8e3 ulps at x = -8); no check of targets, weight "
                   "or pos_weight"),
        Equivalent("optax", "optax.losses.sigmoid_binary_cross_entropy", "elementwise only; no weight, pos_weight; "
                   "no label or shape checks (broadcasts); its label gradient cancels near x = 0"),
        Equivalent("keras", "keras.losses.BinaryCrossentropy(from_logits=True)", "averages over the last axis first; "
                   "no weight, pos_weight (sample_weight per sample); no label checks; pairs (N, 1) with (N,)"),
    ),
))
