"""Mean squared error: the square of the residual."""

from __future__ import annotations

from typing import Any

import numpy as np

from refloss._registry import Equivalent, LossSpec, Reference, register
from refloss.losses.regression._residual import (REGRESSION_INPUTS, WEIGHT, residual_loss, residual_loss_vjp,
                                                 residual_value_and_vjp)

__all__ = ["mse_loss", "mse_loss_vjp"]


def mse_loss(input: Any, target: Any, *, reduction: str = "mean", weight: Any = None) -> Any:
    r"""Mean squared error: the squared difference between prediction and target.

    Definition:
        With the residual :math:`d = x - y` (D1),

        .. math::
            \ell(x, y) = d^2  \qquad \text{(D2)}

        then the reduction (``mean`` divides by the number of elements, or by :math:`\sum w` with ``weight``).

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = 2d, \qquad \frac{\partial \ell}{\partial y} = -2d
            \qquad \text{(G1, G2)}

        times the cotangent of each element. Derivation: ``docs/derivations/mse_loss.md``.

    Conventions:
        Smooth everywhere: no kink. There is no factor ½ (optax's ``l2_loss`` has one; its ``squared_error``
        does not). ``mean`` of an empty input is NaN (PyTorch). Shapes must match exactly. A residual above
        about 1.3e154 overflows float64 to ``inf`` when squared (about 256 in float16), as in every framework.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape; ``weight``: the same shape or None.
        Output: ``(*)`` for ``reduction="none"``, a scalar otherwise.

    Args:
        input: Predictions :math:`x`.
        target: Targets :math:`y`.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        weight: Optional non-negative elementwise weight; ``mean`` then computes
            :math:`\sum w \ell / \sum w`, as ``torch.nn.functional.mse_loss(weight=...)`` does.

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.mse_loss``: https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.mse_loss.html

    Examples:
        >>> float(mse_loss([1.0, -2.0], [0.0, 0.0]))
        2.5
    """
    return residual_loss(_squared, input, target, reduction, weight)


def mse_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                 weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`mse_loss` with respect to ``(input, target)``.

    ``grad_output`` has the shape of ``mse_loss``'s output. See :func:`mse_loss`, "Gradient".
    """
    return residual_loss_vjp(_twice, grad_output, input, target, reduction, weight)


def _mse_value_and_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                       weight: Any = None) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
    return residual_value_and_vjp(_squared, _twice, grad_output, input, target, reduction, weight)


def _squared(xp: Any, d: Any) -> Any:
    return d * d  # (D2)


def _twice(d: np.ndarray) -> np.ndarray:
    return 2.0 * d  # (G1)


register(LossSpec(
    name="mse_loss",
    family="regression",
    forward=mse_loss,
    vjp=mse_loss_vjp,
    value_and_vjp=_mse_value_and_vjp,
    inputs=REGRESSION_INPUTS,
    params=(WEIGHT,),
    smoothness="C-infinity (a polynomial)",
    references=(Reference("PyTorch, torch.nn.functional.mse_loss",
                          "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.mse_loss.html"),),
    equivalents=(
        Equivalent("torch", "torch.nn.functional.mse_loss", "warns and broadcasts (3, 1) against (3,) to (3, 3); "
                   "accepts negative weights"),
        Equivalent("optax", "optax.losses.squared_error", "elementwise only; optax.losses.l2_loss is half of it"),
        Equivalent("keras", "keras.losses.MeanSquaredError", "averages over the last axis first; pairs (N, 1) with "
                   "(N,) instead of raising"),
    ),
))
