"""Balanced L1 loss (Libra R-CNN): a log-shaped inner zone that promotes the gradients of inliers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refloss._registry import Equivalent, Interval, Kink, LossSpec, Param, Reference, register
from refloss.losses.regression._residual import ABS_KINK, REGRESSION_INPUTS, residual_loss, residual_loss_vjp

__all__ = ["balanced_l1_loss", "balanced_l1_loss_vjp"]

_POSITIVE = Interval(0.0, math.inf)
# Random tests keep gamma / alpha <= 30: beyond about 709, b = e^(gamma/alpha) - 1 overflows float64 (an error).
ALPHA = Param("alpha", 0.5, _POSITIVE, "gradient scale of the inner zone", grid=(0.5, 1.0),
              sample=Interval(0.1, 2.0, True, True))
GAMMA = Param("gamma", 1.5, _POSITIVE, "gradient of the outer zone (upper bound of the gradient)", grid=(1.0, 1.5),
              sample=Interval(0.1, 3.0, True, True))
BETA = Param("beta", 1.0, _POSITIVE, "residual size where the two zones meet", grid=(0.5, 1.0),
             sample=Interval(0.1, 3.0, True, True))
_MAX_GAMMA_OVER_ALPHA = math.log(np.finfo(np.float64).max)  # ~709.78: e^(gamma/alpha) still finite below it


def balanced_l1_loss(input: Any, target: Any, *, reduction: str = "mean", alpha: float = 0.5, gamma: float = 1.5,
                     beta: float = 1.0) -> Any:
    r"""Balanced L1 loss from Libra R-CNN, with mmdetection's parameters and defaults.

    Definition:
        With the residual :math:`d = x - y` (D1), :math:`u = |d|` and :math:`b = e^{\gamma/\alpha} - 1` (D2),

        .. math::
            \ell(x, y) = \begin{cases}
                \dfrac{\alpha}{b}\,(b u + 1)\,\log\!\Bigl(\dfrac{b u}{\beta} + 1\Bigr) - \alpha u & u < \beta \\
                \gamma u + \dfrac{\gamma}{b} - \alpha\beta & u \ge \beta
            \end{cases}  \qquad \text{(D3)}

        The choice of :math:`b` makes the value continuous at :math:`u = \beta` for any parameters.

    Gradient:
        With :math:`s = \operatorname{sign}(d)`,

        .. math::
            \frac{\partial \ell}{\partial x} = s \cdot \begin{cases}
                \alpha \log\!\Bigl(\dfrac{b u}{\beta} + 1\Bigr) + \dfrac{\alpha\,(1 - \beta)}{b u + \beta}
                    & u < \beta \\
                \gamma & u \ge \beta
            \end{cases}, \qquad
            \frac{\partial \ell}{\partial y} = -\frac{\partial \ell}{\partial x}  \qquad \text{(G1, G2)}

        Derivation: ``docs/derivations/balanced_l1_loss.md``.

    Conventions:
        Follows mmdetection's ``balanced_l1_loss`` (the paper fixes :math:`\beta = 1`; mmdetection puts
        :math:`\beta` inside the logarithm). For :math:`\beta = 1` the gradient is continuous everywhere. For
        :math:`\beta \ne 1` it is not: at :math:`u = \beta` the inner slope tends to
        :math:`\gamma + \alpha(1-\beta)e^{-\gamma/\alpha}/\beta` while the outer one is :math:`\gamma`, and
        at :math:`d = 0` the one-sided limits are :math:`\pm\alpha(1/\beta - 1)`. refloss returns 0 at
        :math:`d = 0` (``sign(0) = 0``) and the outer slope at :math:`u = \beta` (mmdetection's strict ``<``).
        ``alpha``, ``gamma``, ``beta`` must be
        > 0, and :math:`\gamma/\alpha` below about 709.78 (else :math:`b` overflows float64). For
        :math:`\beta > 1` the loss is slightly negative near :math:`d = 0`. ``mean`` of an empty input is NaN
        (mmdetection 2.x asserts non-empty, 3.x returns 0).

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``reduction="none"``, else a scalar.

    Args:
        input: Predictions :math:`x` (box regression deltas in Libra R-CNN).
        target: Targets :math:`y`.
        reduction: ``"none"``, ``"mean"`` (default, as mmdetection) or ``"sum"``.
        alpha: :math:`\alpha > 0` (default 0.5).
        gamma: :math:`\gamma > 0` (default 1.5).
        beta: :math:`\beta > 0` (default 1.0).

    Returns:
        The loss in float64.

    References:
        Pang, J. et al. "Libra R-CNN: Towards Balanced Learning for Object Detection", CVPR 2019, eq. (8)-(10):
        https://arxiv.org/abs/1904.02701.
        mmdetection ``mmdet/models/losses/balanced_l1_loss.py``: https://github.com/open-mmlab/mmdetection

    Examples:
        >>> round(float(balanced_l1_loss([2.0], [0.0])), 6)  # outer zone: 1.5 * 2 + 1.5 / (e^3 - 1) - 0.5
        2.578594
    """
    alpha, gamma, beta = _check_params(alpha, gamma, beta)
    return residual_loss(lambda xp, d: _value(xp, d, alpha, gamma, beta), input, target, reduction)


def balanced_l1_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean", alpha: float = 0.5,
                         gamma: float = 1.5, beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`balanced_l1_loss` with respect to ``(input, target)``.

    ``grad_output`` has the shape of ``balanced_l1_loss``'s output. See :func:`balanced_l1_loss`, "Gradient".
    """
    alpha, gamma, beta = _check_params(alpha, gamma, beta)
    return residual_loss_vjp(lambda d: _slope(d, alpha, gamma, beta), grad_output, input, target, reduction)


def _check_params(alpha: float, gamma: float, beta: float) -> tuple[float, float, float]:
    alpha, gamma, beta = ALPHA.check(alpha), GAMMA.check(gamma), BETA.check(beta)
    if gamma / alpha >= _MAX_GAMMA_OVER_ALPHA:
        raise ValueError(f"gamma / alpha must be below {_MAX_GAMMA_OVER_ALPHA:.2f} so that b = e^(gamma/alpha) - 1 "
                         f"is finite in float64, got gamma={gamma!r}, alpha={alpha!r}")
    return alpha, gamma, beta


def _value(xp: Any, d: Any, alpha: float, gamma: float, beta: float) -> Any:
    b = math.expm1(gamma / alpha)  # (D2)
    u = xp.abs(d)
    inner = u < beta
    u_inner = xp.where(inner, u, 0.0)  # keeps the unused branch finite for huge residuals
    s = b * (u_inner / beta)  # u / beta < 1 first, so that s < b never overflows
    inner_value = alpha * _inner_shape(xp, s, u_inner, b, beta)  # (D3)
    outer_value = gamma * u + gamma / b - alpha * beta  # (D3)
    return xp.where(inner, inner_value, outer_value)


# Series coefficients of f(s) = (beta s + 1) log(1 + s) - beta s = s (1 - beta) + sum_k c_k s^k for k >= 2, with
# c_k = (-1)^k (beta / (k - 1) - 1 / k). For s < 1/2, 60 terms leave a truncation error below 2^-60 relative.
_SERIES_TERMS = 60
_SERIES_BELOW = 0.5


def _inner_shape(xp: Any, s: Any, u: Any, b: float, beta: float) -> Any:
    """(1/b) [(beta s + 1) log1p(s) - beta s] with s = b u / beta, accurate to a few ulp for every u (D4).

    The direct form cancels for small s: its terms are about s while the result is about s^2 / 2 when beta = 1
    (at u = 1e-12 it is off by ~1e-5 relative, and it returns 0 near u = 1e-20). Below s = 1/2 the Taylor series
    is used instead. Above, the direct form is written (u + 1/b) log1p(s) - u, using beta s = b u, so that a
    huge b (gamma / alpha near 709) cannot overflow b u.
    """
    small = s < _SERIES_BELOW
    s_small = xp.where(small, s, 0.0)
    series = 0.0
    for k in range(_SERIES_TERMS, 1, -1):  # Horner: s^2 (c_2 + s (c_3 + s (...)))
        series = series * s_small + (-1.0) ** k * (beta / (k - 1) - 1.0 / k)
    series = (s_small * (1.0 - beta) + s_small * s_small * series) / b
    s_large = xp.where(small, _SERIES_BELOW, s)
    u_large = xp.where(small, _SERIES_BELOW * beta / b, u)
    direct = (u_large + 1.0 / b) * xp.log1p(s_large) - u_large
    return xp.where(small, series, direct)


def _slope(d: np.ndarray, alpha: float, gamma: float, beta: float) -> np.ndarray:
    b = math.expm1(gamma / alpha)
    u = np.abs(d)
    inner = u < beta
    u_inner = np.where(inner, u, 0.0)
    # (G1) in the form alpha (bu + 1)/(bu + beta) - alpha = alpha (1 - beta)/(bu + beta): no cancellation near u = 0
    with np.errstate(over="ignore"):  # b u = inf only makes the second term its limit, 0
        inner_slope = alpha * np.log1p(b * (u_inner / beta)) + alpha * (1.0 - beta) / (b * u_inner + beta)
    return np.sign(d) * np.where(inner, inner_slope, gamma)  # (G1)


register(LossSpec(
    name="balanced_l1_loss",
    family="regression",
    forward=balanced_l1_loss,
    vjp=balanced_l1_loss_vjp,
    inputs=REGRESSION_INPUTS,
    params=(ALPHA, GAMMA, BETA),
    smoothness="C1 for beta = 1; for beta != 1 the gradient jumps at |d| = beta and at d = 0",
    kinks=(
        Kink("|d| = beta (a gradient jump unless beta = 1)", "the outer branch's gradient, gamma * sign(d)",
             lambda input, target, *, beta=1.0, **_: np.abs(np.abs(input - target) - beta)),
        Kink("d = 0 (a gradient jump of 2 alpha (1/beta - 1) unless beta = 1)", ABS_KINK.convention,
             ABS_KINK.distance),
    ),
    references=(
        Reference("Pang et al. Libra R-CNN: Towards Balanced Learning for Object Detection. CVPR 2019",
                  "https://arxiv.org/abs/1904.02701"),
        Reference("mmdetection, mmdet/models/losses/balanced_l1_loss.py", "https://github.com/open-mmlab/mmdetection"),
    ),
    equivalents=(
        Equivalent("mmdet", "mmdet.models.losses.balanced_l1_loss",
                   "elementwise loss * weight, then mmdet's reduction and loss_weight"),
    ),
))
