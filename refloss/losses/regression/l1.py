"""L1 loss (mean absolute error): the absolute value of the residual."""

from __future__ import annotations

from typing import Any

import numpy as np

from refloss._registry import Equivalent, LossSpec, Reference, register
from refloss.losses.regression._residual import (ABS_KINK, REGRESSION_INPUTS, WEIGHT, residual_loss,
                                                 residual_loss_vjp)

__all__ = ["l1_loss", "l1_loss_vjp"]


def l1_loss(input: Any, target: Any, *, reduction: str = "mean", weight: Any = None) -> Any:
    r"""L1 loss: the absolute difference between prediction and target.

    Definition:
        With the residual :math:`d = x - y` (D1),

        .. math::
            \ell(x, y) = |d|  \qquad \text{(D2)}

        then the reduction: ``none`` keeps :math:`\ell` elementwise, ``sum`` adds it up, ``mean`` divides the
        sum by the number of elements (by :math:`\sum w` when ``weight`` is given).

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = \operatorname{sign}(d), \qquad
            \frac{\partial \ell}{\partial y} = -\operatorname{sign}(d)  \qquad \text{(G1, G2)}

        times the cotangent of each element (``grad_output``, divided by the count for ``mean``, times ``weight``).
        Derivation: ``docs/derivations/l1_loss.md``.

    Conventions:
        At :math:`d = 0` the gradient is 0 (``sign(0) = 0``), as in PyTorch, JAX and TensorFlow.
        ``mean`` of an empty input is NaN, ``sum`` of it is 0 (PyTorch). ``input`` and ``target`` must have the
        same shape: refloss does not broadcast them. ``weight`` is a constant (no gradient). NaN and Inf
        propagate: an infinite residual gives an infinite loss and a gradient of ±1; a NaN residual gives a NaN
        loss and a NaN gradient, as in JAX (PyTorch returns a gradient of 0 there, because ``torch.sgn(nan)``
        is 0; that is a recorded deviation).

    Shapes:
        ``input``: any shape ``(*)``; ``target``: the same shape; ``weight``: the same shape or None.
        Output: ``(*)`` for ``reduction="none"``, a scalar otherwise.

    Args:
        input: Predictions :math:`x`.
        target: Targets :math:`y`.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        weight: Optional non-negative elementwise weight; ``mean`` then computes
            :math:`\sum w \ell / \sum w`, as ``torch.nn.functional.l1_loss(weight=...)`` does.

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.l1_loss``: https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.l1_loss.html

    Examples:
        >>> float(l1_loss([1.0, -2.0], [0.0, 0.0]))
        1.5
    """
    return residual_loss(lambda xp, d: xp.abs(d), input, target, reduction, weight)  # (D1), (D2)


def l1_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`l1_loss` with respect to ``(input, target)``.

    ``grad_output`` has the shape of ``l1_loss``'s output. See :func:`l1_loss`, "Gradient".
    """
    return residual_loss_vjp(np.sign, grad_output, input, target, reduction, weight)  # (G1), (G2)


register(LossSpec(
    name="l1_loss",
    family="regression",
    forward=l1_loss,
    vjp=l1_loss_vjp,
    inputs=REGRESSION_INPUTS,
    params=(WEIGHT,),
    smoothness="piecewise linear; kink at d = 0",
    kinks=(ABS_KINK,),
    references=(Reference("PyTorch, torch.nn.functional.l1_loss",
                          "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.l1_loss.html"),),
    equivalents=(
        Equivalent("torch", "torch.nn.functional.l1_loss", "gradient 0 at a NaN residual (torch.sgn(nan) = 0; refloss "
                   "NaN); warns and broadcasts (3, 1) against (3,) to (3, 3); accepts negative weights"),
        Equivalent("keras", "keras.losses.MeanAbsoluteError", "averages over the last axis first; at a NaN residual "
                   "the gradient has magnitude g (JAX's derivative of abs), not NaN; pairs (N, 1) with (N,)"),
    ),
))
