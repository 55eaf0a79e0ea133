"""Smooth L1 loss: quadratic for residuals below beta, linear above, with slope 1 in the tails."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refloss._registry import Equivalent, Interval, Kink, LossSpec, Param, Reference, register
from refloss.losses.regression._residual import (ABS_KINK, REGRESSION_INPUTS, residual_loss, residual_loss_vjp,
                                                 residual_value_and_vjp)

__all__ = ["smooth_l1_loss", "smooth_l1_loss_vjp"]

BETA = Param("beta", default=1.0, domain=Interval(0.0, math.inf, low_closed=True),
             description="width of the quadratic zone; 0 gives the L1 loss (as PyTorch does)",
             grid=(0.0, 0.5, 1.0, 2.0))


def smooth_l1_loss(input: Any, target: Any, *, reduction: str = "mean", beta: float = 1.0) -> Any:
    r"""Smooth L1 loss (Fast R-CNN): quadratic near zero, linear with slope 1 beyond ``beta``.

    Definition:
        With the residual :math:`d = x - y` (D1),

        .. math::
            \ell(x, y) = \begin{cases}
                \dfrac{d^2}{2\beta} & |d| < \beta \\
                |d| - \dfrac{\beta}{2} & |d| \ge \beta
            \end{cases}  \qquad \text{(D2)}

        For :math:`\beta = 0` this is :math:`|d|` (PyTorch routes ``beta=0`` to ``l1_loss``).

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = \begin{cases}
                d / \beta & |d| < \beta \\
                \operatorname{sign}(d) & |d| \ge \beta
            \end{cases}, \qquad
            \frac{\partial \ell}{\partial y} = -\frac{\partial \ell}{\partial x}  \qquad \text{(G1, G2)}

        The two branches agree at :math:`|d| = \beta`, so the gradient is continuous for :math:`\beta > 0`.
        Derivation: ``docs/derivations/smooth_l1_loss.md``.

    Conventions:
        The quadratic branch uses the strict ``|d| < beta`` (PyTorch). With ``beta = 0`` the gradient at
        :math:`d = 0` is 0 (``sign(0)``), as PyTorch's ``l1_loss`` gives since PR #97022 (before it, CPU gave -1
        and CUDA NaN); a NaN residual then gets a NaN gradient (PyTorch's ``l1_loss`` gives 0, see
        :func:`l1_loss`). ``beta < 0`` is an error. ``mean`` of an empty input is NaN. Shapes must match exactly.
        :math:`\beta\,\ell_{\text{smooth-L1},\beta} = \ell_{\text{Huber},\delta=\beta}`.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``reduction="none"``, else a scalar.

    Args:
        input: Predictions :math:`x`.
        target: Targets :math:`y`.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        beta: Threshold :math:`\beta \ge 0` between the quadratic and the linear zone (default 1.0).

    Returns:
        The loss in float64.

    References:
        Girshick, R. "Fast R-CNN", ICCV 2015, eq. (3): https://arxiv.org/abs/1504.08083.
        PyTorch ``torch.nn.functional.smooth_l1_loss``: https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.smooth_l1_loss.html

    Examples:
        >>> float(smooth_l1_loss([0.5, 3.0], [0.0, 0.0], reduction="sum"))
        2.625
    """
    beta = BETA.check(beta)
    return residual_loss(lambda xp, d: _value(xp, d, beta), input, target, reduction)


def smooth_l1_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                       beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`smooth_l1_loss` with respect to ``(input, target)``.

    ``grad_output`` has the shape of ``smooth_l1_loss``'s output. See :func:`smooth_l1_loss`, "Gradient".
    """
    beta = BETA.check(beta)
    return residual_loss_vjp(lambda d: _slope(d, beta), grad_output, input, target, reduction)


def _smooth_l1_value_and_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                             beta: float = 1.0) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
    beta = BETA.check(beta)
    return residual_value_and_vjp(lambda xp, d: _value(xp, d, beta), lambda d: _slope(d, beta), grad_output, input,
                                  target, reduction)


def _value(xp: Any, d: Any, beta: float) -> Any:
    abs_d = xp.abs(d)
    if beta == 0.0:
        return abs_d  # the quadratic zone is empty
    # (D2) in one expression: with m = min(|d|, beta), (|d| - m/2) (m / beta) is (|d|/2)(|d|/beta) = d^2 / (2 beta)
    # inside the zone and |d| - beta/2 outside (m / beta = 1 exactly). Dividing before multiplying keeps a tiny
    # beta (1e-200) from underflowing d^2 to 0, and no branch is evaluated and then thrown away.
    inside = xp.minimum(abs_d, beta)
    return (abs_d - 0.5 * inside) * (inside / beta)


def _slope(d: np.ndarray, beta: float) -> np.ndarray:
    if beta == 0.0:
        return np.sign(d)
    # (G1): d / beta inside the zone, and beyond it |d / beta| >= 1, which the clip turns into sign(d)
    return np.clip(d / beta, -1.0, 1.0)


def _distance_to_beta(input: Any, target: Any, *, beta: float = 1.0, **_: Any) -> Any:
    return np.abs(np.abs(input - target) - beta)


register(LossSpec(
    name="smooth_l1_loss",
    family="regression",
    forward=smooth_l1_loss,
    vjp=smooth_l1_loss_vjp,
    value_and_vjp=_smooth_l1_value_and_vjp,
    inputs=REGRESSION_INPUTS,
    params=(BETA,),
    smoothness="C1 for beta > 0 (the second derivative jumps at |d| = beta); piecewise linear for beta = 0",
    kinks=(
        Kink("|d| = beta (beta > 0)", "the gradient is continuous there: d/beta = sign(d)", _distance_to_beta,
             order=2),
        Kink("d = 0 when beta = 0", ABS_KINK.convention,
             lambda input, target, *, beta=1.0, **_: np.where(beta == 0, np.abs(input - target), np.inf)),
    ),
    references=(
        Reference("Girshick, R. Fast R-CNN. ICCV 2015, eq. (3)", "https://arxiv.org/abs/1504.08083"),
        Reference("PyTorch, torch.nn.functional.smooth_l1_loss",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.smooth_l1_loss.html"),
    ),
    equivalents=(
        Equivalent("torch", "torch.nn.functional.smooth_l1_loss", "warns and broadcasts (3, 1) against (3,) to "
                   "(3, 3) where refloss raises"),
        Equivalent("fvcore", "fvcore.nn.smooth_l1_loss", "beta has no default and beta < 1e-5 is computed as L1; "
                   "default reduction 'none'; 'mean' of an empty input is 0, not NaN; no shape checks"),
        Equivalent("mmdet", "mmdet.models.losses.smooth_l1_loss", "requires beta > 0 (an assert); an empty input is "
                   "an AssertionError in mmdet 2.x and 0 in 3.x; 'mean' divides by avg_factor when one is given"),
    ),
))
