"""Huber loss: quadratic for residuals below delta, linear with slope delta above."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refloss._registry import Equivalent, Interval, Kink, LossSpec, Param, Reference, register
from refloss.losses.regression._residual import REGRESSION_INPUTS, WEIGHT, residual_loss, residual_loss_vjp

__all__ = ["huber_loss", "huber_loss_vjp"]

DELTA = Param("delta", default=1.0, domain=Interval(0.0, math.inf),
              description="residual size where the loss turns from quadratic to linear; must be > 0",
              grid=(0.5, 1.0, 2.0))


def huber_loss(input: Any, target: Any, *, reduction: str = "mean", delta: float = 1.0, weight: Any = None) -> Any:
    r"""Huber loss: quadratic near zero, linear with slope ``delta`` in the tails.

    Definition:
        With the residual :math:`d = x - y` (D1),

        .. math::
            \ell(x, y) = \begin{cases}
                \tfrac12 d^2 & |d| < \delta \\
                \delta\,(|d| - \tfrac12\delta) & |d| \ge \delta
            \end{cases}  \qquad \text{(D2)}

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = \operatorname{clip}(d, -\delta, \delta), \qquad
            \frac{\partial \ell}{\partial y} = -\operatorname{clip}(d, -\delta, \delta)  \qquad \text{(G1, G2)}

        Derivation: ``docs/derivations/huber_loss.md``.

    Conventions:
        The quadratic branch uses the strict ``|d| < delta`` (PyTorch); both branches have the same value and
        slope at ``|d| = delta``, so the choice only matters for the second derivative. ``delta <= 0`` is an
        error (PyTorch checks ``delta > 0``; Keras allows 0). ``mean`` of an empty input is NaN. With ``weight``,
        ``mean`` is :math:`\sum w\ell / n`, divided by the element count :math:`n` and not by :math:`\sum w`:
        that is what ``torch.nn.functional.huber_loss(weight=...)`` computes in PyTorch 2.13, unlike its
        ``l1_loss`` and ``mse_loss``. Shapes must match exactly.
        :math:`\ell_{\text{Huber},\delta} = \delta\,\ell_{\text{smooth-L1},\beta=\delta}`.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape; ``weight``: the same shape or None.
        Output: ``(*)`` for ``reduction="none"``, a scalar otherwise.

    Args:
        input: Predictions :math:`x`.
        target: Targets :math:`y`.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        delta: Threshold :math:`\delta > 0` (default 1.0).
        weight: Optional non-negative elementwise weight, as ``torch.nn.functional.huber_loss(weight=...)``
            (``mean`` divides by the element count, see Conventions).

    Returns:
        The loss in float64.

    References:
        Huber, P. J. "Robust Estimation of a Location Parameter", Ann. Math. Statist. 35(1), 1964:
        https://doi.org/10.1214/aoms/1177703732.
        PyTorch ``torch.nn.functional.huber_loss``: https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.huber_loss.html

    Examples:
        >>> float(huber_loss([0.5, 3.0], [0.0, 0.0], reduction="sum", delta=2.0))
        4.125
    """
    delta = DELTA.check(delta)
    # PyTorch 2.13 divides a weighted Huber mean by the element count, not by the weight sum as its l1_loss and
    # mse_loss do; refloss follows it (mean_over_weights=False).
    return residual_loss(lambda xp, d: _value(xp, d, delta), input, target, reduction, weight, mean_over_weights=False)


def huber_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean", delta: float = 1.0,
                   weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`huber_loss` with respect to ``(input, target)``.

    ``grad_output`` has the shape of ``huber_loss``'s output. See :func:`huber_loss`, "Gradient".
    """
    delta = DELTA.check(delta)
    return residual_loss_vjp(lambda d: np.clip(d, -delta, delta), grad_output, input, target, reduction,
                             weight, mean_over_weights=False)  # (G1)


def _value(xp: Any, d: Any, delta: float) -> Any:
    abs_d = xp.abs(d)
    quadratic = abs_d < delta
    d_inside = xp.where(quadratic, d, 0.0)  # keeps the unused branch finite (see smooth_l1_loss)
    return xp.where(quadratic, 0.5 * d_inside * d_inside, delta * (abs_d - 0.5 * delta))  # (D2)


register(LossSpec(
    name="huber_loss",
    family="regression",
    forward=huber_loss,
    vjp=huber_loss_vjp,
    inputs=REGRESSION_INPUTS,
    params=(DELTA, WEIGHT),
    smoothness="C1 (the second derivative jumps at |d| = delta)",
    kinks=(Kink("|d| = delta", "the gradient is continuous there: d = delta * sign(d)",
                lambda input, target, *, delta=1.0, **_: np.abs(np.abs(input - target) - delta), order=2),),
    references=(
        Reference("Huber, P. J. Robust Estimation of a Location Parameter. Ann. Math. Statist. 35(1), 1964",
                  "https://doi.org/10.1214/aoms/1177703732"),
        Reference("PyTorch, torch.nn.functional.huber_loss",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.huber_loss.html"),
    ),
    equivalents=(
        Equivalent("torch", "torch.nn.functional.huber_loss", "warns and broadcasts (3, 1) against (3,) to (3, 3); "
                   "accepts negative weights"),
        Equivalent("optax", "optax.losses.huber_loss", "elementwise only, no reduction; accepts delta = 0 (loss 0) "
                   "and broadcasts mismatched shapes; its gradient near d = 0 carries an absolute error of about "
                   "1e-16 delta"),
        Equivalent("keras", "keras.losses.Huber", "averages over the last axis first; no check of delta (delta = 0 "
                   "gives 0, a negative delta a negative loss); pairs (N, 1) with (N,); gradient NaN at an infinite "
                   "residual (its where's unselected quadratic branch)"),
    ),
))
