"""Log-cosh loss: the logarithm of the hyperbolic cosine of the residual."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refloss._registry import Equivalent, LossSpec, Reference, register
from refloss.losses.regression._residual import REGRESSION_INPUTS, residual_loss, residual_loss_vjp

__all__ = ["log_cosh_loss", "log_cosh_loss_vjp"]

# Below this |d| the loss is computed as log1p(2 sinh(d/2)^2), above it as |d| + log1p(exp(-2|d|)) - log 2.
# Each form is accurate to a few ulp on its side; see docs/derivations/log_cosh_loss.md, "Numerics".
_SWITCH = 1.0
_LOG2 = math.log(2.0)


def log_cosh_loss(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Log-cosh loss: about :math:`d^2/2` for small residuals and :math:`|d| - \log 2` for large ones.

    Definition:
        With the residual :math:`d = x - y` (D1),

        .. math::
            \ell(x, y) = \log\cosh d  \qquad \text{(D2)}

        computed without overflow or cancellation as

        .. math::
            \ell = \begin{cases}
                \operatorname{log1p}\!\bigl(2\sinh^2(d/2)\bigr) & |d| < 1 \\
                |d| + \operatorname{log1p}\!\bigl(e^{-2|d|}\bigr) - \log 2 & |d| \ge 1
            \end{cases}  \qquad \text{(D3)}

        so that it is exact to a few ulp for any finite :math:`d`, up to :math:`|d| = 10^{300}` and beyond.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = \tanh d, \qquad \frac{\partial \ell}{\partial y} = -\tanh d
            \qquad \text{(G1, G2)}

        Derivation: ``docs/derivations/log_cosh_loss.md``.

    Conventions:
        Smooth everywhere. Neither PyTorch nor torchvision has this loss; the value matches optax's
        ``log_cosh`` (elementwise) and Keras's ``LogCosh`` (which first averages over the last axis). The
        default reduction is ``mean``, like the other regression losses here. ``mean`` of an empty input is NaN.
        Shapes must match exactly.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``reduction="none"``, else a scalar.

    Args:
        input: Predictions :math:`x`.
        target: Targets :math:`y`.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Chen, P., Chen, G., Zhang, S. "Log Hyperbolic Cosine Loss Improves Variational Auto-Encoder", 2019:
        https://openreview.net/forum?id=rkglvsC9Ym.
        optax ``optax.losses.log_cosh``: https://optax.readthedocs.io/en/latest/api/losses.html

    Examples:
        >>> round(float(log_cosh_loss([1e300], [0.0])) / 1e300, 12)
        1.0
    """
    return residual_loss(_value, input, target, reduction)


def log_cosh_loss_vjp(grad_output: Any, input: Any, target: Any, *,
                      reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`log_cosh_loss` with respect to ``(input, target)``.

    ``grad_output`` has the shape of ``log_cosh_loss``'s output. See :func:`log_cosh_loss`, "Gradient".
    """
    return residual_loss_vjp(np.tanh, grad_output, input, target, reduction)  # (G1)


def _value(xp: Any, d: Any) -> Any:
    abs_d = xp.abs(d)
    small = abs_d < _SWITCH
    # Feed each branch only the residuals it is used for, so that neither overflows (sinh of 1e300) and
    # autograd's zero cotangent for the unused branch never meets an inf.
    d_small = xp.where(small, d, 0.0)
    abs_d_large = xp.where(small, _SWITCH, abs_d)
    near_zero = xp.log1p(2.0 * xp.sinh(0.5 * d_small) ** 2)  # (D3) cosh d - 1 = 2 sinh^2(d/2)
    far = abs_d_large + xp.log1p(xp.exp(-2.0 * abs_d_large)) - _LOG2  # (D3) cosh d = e^|d| (1 + e^-2|d|) / 2
    return xp.where(small, near_zero, far)


register(LossSpec(
    name="log_cosh_loss",
    family="regression",
    forward=log_cosh_loss,
    vjp=log_cosh_loss_vjp,
    inputs=REGRESSION_INPUTS,
    params=(),
    smoothness="C-infinity",
    references=(
        Reference("Chen, Chen, Zhang. Log Hyperbolic Cosine Loss Improves Variational Auto-Encoder, 2019",
                  "https://openreview.net/forum?id=rkglvsC9Ym"),
        Reference("optax, optax.losses.log_cosh", "https://optax.readthedocs.io/en/latest/api/losses.html"),
    ),
    equivalents=(
        Equivalent("optax", "optax.losses.log_cosh", "elementwise only, no reduction; logaddexp(d, -d) - log 2 "
                   "cancels for small |d| (0 at d = 1e-10, 154 ulps at a loss of 0.0078); broadcasts mismatched "
                   "shapes"),
        Equivalent("keras", "keras.losses.LogCosh", "averages over the last axis first; x + softplus(-2x) - log 2 "
                   "cancels for small |x| (10 float32 ulps at a loss of 0.0078) and is NaN at x = -inf; pairs (N, 1) "
                   "with (N,)"),
    ),
))
