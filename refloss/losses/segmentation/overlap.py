"""Dice and Tversky losses, as ``keras.losses.dice`` and ``keras.losses.tversky`` (per sample)."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_reduction, check_same_shape, shape_of
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Interval, LossSpec, Param, Reference, register

__all__ = ["dice_loss", "dice_loss_vjp", "tversky_loss", "tversky_loss_vjp"]

# Keras's backend.epsilon(), added to each denominator
KERAS_EPSILON = 1e-7
ALPHA = Param("alpha", 0.5, Interval(0.0, math.inf, low_closed=True),
              "weight of the missed target mass sum y (1 - p) (Keras's 'fp')", grid=(0.3, 1.0),
              sample=Interval(0.0, 2.0, True, True))
BETA = Param("beta", 0.5, Interval(0.0, math.inf, low_closed=True),
             "weight of the predicted mass outside the target sum p (1 - y) (Keras's 'fn')", grid=(0.7, 0.0),
             sample=Interval(0.0, 2.0, True, True))
# Random gradient checks draw mask values from [0.25, 1]: then I = sum y p >= 1/16 keeps each denominator away
# from 0, where the derivatives of the ratio grow as powers of 1 / Q and a finite difference with step 6e-6 is off
# by 1e-6 relative (measured at Q = 0.0023). Zeros and empty masks are in the conformance cases.
_MASK = Interval(0.25, 1.0, True, True)


def dice_loss(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Dice loss of each sample: one minus the soft Dice coefficient of prediction and target.

    Definition:
        For one sample, with the prediction :math:`p` and the target :math:`y` summed over all of its entries
        (every axis but the first), :math:`I = \sum_i y_i p_i` and :math:`U = \sum_i y_i + \sum_i p_i` (D1),

        .. math::
            \ell = 1 - \frac{2 I}{U + \varepsilon}, \qquad \varepsilon = 10^{-7}  \qquad \text{(D2)}

        ``mean`` averages over the samples.

    Gradient:
        With :math:`D = 2I / (U + \varepsilon)`,

        .. math::
            \frac{\partial \ell}{\partial p_i} = -\frac{2 y_i - D}{U + \varepsilon}, \qquad
            \frac{\partial \ell}{\partial y_i} = -\frac{2 p_i - D}{U + \varepsilon}  \qquad \text{(D3)}

        Derivation: ``docs/derivations/dice_loss.md``.

    Conventions:
        ``keras.losses.dice(y_true=target, y_pred=input, axis=(1, ..., ndim - 1))`` (Keras 3.15.1), with
        Keras's :math:`\varepsilon = 10^{-7}` in the denominator only (so an empty target and an empty
        prediction give loss 1). Keras's DEFAULT ``axis=None`` instead pools the whole batch into one ratio (the
        same as refloss for one sample); refloss's per-sample form is what ``reduction`` needs. Values are not
        checked (Keras does not check them): masks or probabilities in [0, 1] are the intended use. Both inputs
        are differentiable. ``mean`` of an empty batch is NaN.

    Shapes:
        ``input`` and ``target``: the same shape ``(N, ...)`` (one sample per row), or ``(M,)`` for a single
        sample. Output: ``(N,)`` (or ``()``) for ``none``, a scalar otherwise.

    Args:
        input: The predicted mask :math:`p` (Keras's ``y_pred``).
        target: The target mask :math:`y` (Keras's ``y_true``).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Milletari, F., Navab, N., Ahmadi, S.-A. "V-Net: Fully Convolutional Neural Networks for Volumetric
        Medical Image Segmentation", 3DV 2016: https://arxiv.org/abs/1606.04797.
        Keras ``keras.losses.dice``: https://keras.io/api/losses/segmentation_losses/

    Examples:
        >>> # y = (1, 1, 0, 0), p = (0, 1, 0, 1): I = 1, U = 4, loss = 1 - 2 / (4 + 1e-7)
        >>> round(float(dice_loss([[0.0, 1.0, 0.0, 1.0]], [[1.0, 1.0, 0.0, 0.0]])), 12)
        0.5000000125
    """
    p, y = _prepare(input, target, reduction)
    axes = _sample_axes(p)
    intersection = anp.sum(y * p, axis=axes)  # (D1)
    union = anp.sum(y, axis=axes) + anp.sum(p, axis=axes)
    return reduce(1.0 - 2.0 * intersection / (union + KERAS_EPSILON), reduction)  # (D2)


def dice_loss_vjp(grad_output: Any, input: Any, target: Any, *,
                  reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`dice_loss` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`dice_loss`, "Gradient".
    """
    p, y = _prepare(input, target, reduction)
    axes = _sample_axes(p)
    g = _per_entry(reduce_vjp(grad_output, p.shape[:1] if p.ndim > 1 else (), reduction), p.ndim)
    denominator = _per_entry(np.sum(y, axis=axes) + np.sum(p, axis=axes) + KERAS_EPSILON, p.ndim)
    dice = 2.0 * _per_entry(np.sum(y * p, axis=axes), p.ndim) / denominator
    return g * -(2.0 * y - dice) / denominator, g * -(2.0 * p - dice) / denominator  # (D3)


def tversky_loss(input: Any, target: Any, *, alpha: float = 0.5, beta: float = 0.5, reduction: str = "mean") -> Any:
    r"""Tversky loss of each sample: the Dice loss with separate weights on the two kinds of error.

    Definition:
        For one sample, summed over all of its entries, :math:`I = \sum_i y_i p_i`, the missed target mass
        :math:`A = \sum_i y_i (1 - p_i)` and the predicted mass outside the target :math:`B = \sum_i p_i (1 -
        y_i)` (T1),

        .. math::
            \ell = 1 - \frac{I}{I + \alpha A + \beta B + \varepsilon}, \qquad \varepsilon = 10^{-7}
            \qquad \text{(T2)}

        With :math:`\alpha = \beta = 1/2` it is the Dice loss (with :math:`2\varepsilon`). ``mean`` averages over
        the samples.

    Gradient:
        With :math:`T = I / Q`, :math:`Q = I + \alpha A + \beta B + \varepsilon`,

        .. math::
            \frac{\partial \ell}{\partial p_i} = -\frac{y_i - T\,((1 - \alpha) y_i + \beta (1 - y_i))}{Q}
            \qquad \text{(T3)}

        .. math::
            \frac{\partial \ell}{\partial y_i} = -\frac{p_i - T\,((1 - \beta) p_i + \alpha (1 - p_i))}{Q}

        Derivation: ``docs/derivations/dice_loss.md``.

    Conventions:
        ``keras.losses.tversky(target, input, alpha, beta, axis)`` with ``axis = (1, ..., ndim - 1)`` (Keras
        3.15.1), including its naming: Keras calls :math:`A` "fp" and :math:`B` "fn", so its ``alpha`` weighs
        the missed target mass (false negatives in Salehi et al.'s terms, where :math:`\alpha` weighs false
        positives). Measured: target (1, 0.5), prediction (0.5, 0), alpha 1, beta 0 give 2/3 in Keras and
        refloss. Keras's default ``axis=None`` pools the batch (see :func:`dice_loss`). ``alpha`` and ``beta``
        must be non-negative; values are not checked. ``mean`` of an empty batch is NaN.

    Shapes:
        As :func:`dice_loss`.

    Args:
        input: The predicted mask :math:`p` (Keras's ``y_pred``).
        target: The target mask :math:`y` (Keras's ``y_true``).
        alpha: Weight of :math:`A = \sum y (1 - p)` (default 0.5, as Keras).
        beta: Weight of :math:`B = \sum p (1 - y)` (default 0.5, as Keras).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Salehi, S. S. M., Erdogmus, D., Gholipour, A. "Tversky loss function for image segmentation using 3D
        fully convolutional deep networks", MLMI 2017: https://arxiv.org/abs/1706.05721.
        Keras ``keras.losses.tversky``: https://keras.io/api/losses/segmentation_losses/

    Examples:
        >>> # y = (1, 0.5), p = (0.5, 0): I = 0.5, A = 1, B = 0; alpha 1, beta 0: loss = 1 - 0.5 / (1.5 + 1e-7)
        >>> round(float(tversky_loss([[0.5, 0.0]], [[1.0, 0.5]], alpha=1.0, beta=0.0)), 9)
        0.666666689
    """
    p, y = _prepare(input, target, reduction)
    alpha, beta = ALPHA.check(alpha), BETA.check(beta)
    axes = _sample_axes(p)
    intersection = anp.sum(y * p, axis=axes)  # (T1)
    missed = anp.sum(y * (1.0 - p), axis=axes)
    extra = anp.sum(p * (1.0 - y), axis=axes)
    return reduce(1.0 - intersection / (intersection + alpha * missed + beta * extra + KERAS_EPSILON),
                  reduction)  # (T2)


def tversky_loss_vjp(grad_output: Any, input: Any, target: Any, *, alpha: float = 0.5, beta: float = 0.5,
                     reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`tversky_loss` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`tversky_loss`, "Gradient".
    """
    p, y = _prepare(input, target, reduction)
    alpha, beta = ALPHA.check(alpha), BETA.check(beta)
    axes = _sample_axes(p)
    g = _per_entry(reduce_vjp(grad_output, p.shape[:1] if p.ndim > 1 else (), reduction), p.ndim)
    intersection = np.sum(y * p, axis=axes)
    denominator = _per_entry(intersection + alpha * np.sum(y * (1.0 - p), axis=axes)
                             + beta * np.sum(p * (1.0 - y), axis=axes) + KERAS_EPSILON, p.ndim)
    ratio = _per_entry(intersection, p.ndim) / denominator
    grad_input = -(y - ratio * ((1.0 - alpha) * y + beta * (1.0 - y))) / denominator  # (T3)
    grad_target = -(p - ratio * ((1.0 - beta) * p + alpha * (1.0 - p))) / denominator
    return g * grad_input, g * grad_target


def _sample_axes(x: Any) -> tuple[int, ...]:
    """Every axis but the first (the samples); every axis of a 1-D input (one sample)."""
    ndim = len(shape_of(x))
    return tuple(range(1, ndim)) if ndim > 1 else (0,)


def _per_entry(per_sample: np.ndarray, ndim: int) -> np.ndarray:
    """A per-sample array with singleton axes appended, to broadcast against the sample's entries."""
    return np.reshape(per_sample, np.shape(per_sample) + (1,) * (ndim - np.ndim(per_sample)))


def _prepare(input: Any, target: Any, reduction: Any) -> tuple[Any, Any]:
    p = as_real_array(input, "input")
    y = as_real_array(target, "target")
    check_reduction(reduction)
    check_same_shape(p, y, "input", "target")
    if len(shape_of(p)) == 0:
        raise ValueError("input must have shape (N, ...) or (M,), one sample per row, got shape ()")
    return p, y


_REFERENCES = {
    "dice_loss": Reference("Milletari, Navab, Ahmadi. V-Net: Fully Convolutional Neural Networks for Volumetric "
                           "Medical Image Segmentation. 3DV 2016", "https://arxiv.org/abs/1606.04797"),
    "tversky_loss": Reference("Salehi, Erdogmus, Gholipour. Tversky loss function for image segmentation using 3D "
                              "fully convolutional deep networks. MLMI 2017", "https://arxiv.org/abs/1706.05721"),
}
_KERAS_NOTE = ("Keras takes (y_true, y_pred) = (target, input); refloss's per-sample loss is Keras's with "
               "axis=(1, ..., ndim - 1) (Keras's default axis=None pools the whole batch into one ratio; axis=-1 is "
               "the same for the (N, M) and (M,) inputs of the conformance vectors); Keras checks neither shapes (a "
               "(2, 1) target broadcasts) nor alpha, beta >= 0; the Loss class returns float32 (floatx) for float64 "
               "inputs")

for _name, _forward, _vjp, _params in (("dice_loss", dice_loss, dice_loss_vjp, ()),
                                       ("tversky_loss", tversky_loss, tversky_loss_vjp, (ALPHA, BETA))):
    register(LossSpec(
        name=_name,
        family="segmentation",
        forward=_forward,
        vjp=_vjp,
        inputs=(Input("input", "predicted masks (N, M), values in [0, 1] (Keras's y_pred)", shape=("N", "M"),
                      sample=_MASK),
                Input("target", "target masks (N, M), values in [0, 1] (Keras's y_true)", shape=("N", "M"),
                      sample=_MASK)),
        params=_params,
        per_sample=True,
        smoothness="C-infinity where the denominator is positive (a rational function of the masks)",
        references=(_REFERENCES[_name],
                    Reference(f"Keras, keras.losses.{_name.removesuffix('_loss')}",
                              "https://keras.io/api/losses/segmentation_losses/")),
        derivation="docs/derivations/dice_loss.md",
        equivalents=(Equivalent("keras", f"keras.losses.{_name.removesuffix('_loss')}(axis=-1)", _KERAS_NOTE),),
    ))
