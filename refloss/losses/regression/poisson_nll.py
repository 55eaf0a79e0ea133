"""Poisson negative log-likelihood: a rate predicted as a logarithm (or as itself) against observed counts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refloss._blocks import elementwise
from refloss._checks import as_matching_pair, check_grad_output, shape_of
from refloss._reduction import output_shape
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register

__all__ = ["poisson_nll_loss", "poisson_nll_loss_vjp"]

LOG_INPUT = Param("log_input", default=True, domain=Interval(), kind="boolean", grid=(True, False),
                  description="True: input is the log-rate log(lambda); False: input is the rate lambda >= 0")
FULL = Param("full", default=False, domain=Interval(), kind="boolean", grid=(False, True),
             description="add Stirling's approximation of log(target!) where target > 1, as PyTorch")
EPS = Param("eps", default=1e-8, domain=Interval(0.0, math.inf, low_closed=True), grid=(1e-8, 0.5),
            description="added to the rate inside the log when log_input is False (avoids log 0); >= 0")

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def poisson_nll_loss(input: Any, target: Any, *, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction: str = "mean") -> Any:
    r"""Poisson negative log-likelihood of counts ``target`` under the rate that ``input`` predicts.

    Definition:
        With :math:`y` the observed count, the negative log-likelihood of a Poisson law of rate :math:`\lambda`
        is :math:`\lambda - y\log\lambda + \log y!`. Dropping :math:`\log y!`, which does not depend on the
        prediction, PyTorch's loss is

        .. math::
            \ell(x, y) = \begin{cases}
                e^{x} - y\,x & \text{log\_input (} x = \log\lambda \text{)} \\
                x - y\log(x + \varepsilon) & \text{otherwise (} x = \lambda \text{)}
            \end{cases}  \qquad \text{(P1)}

        With ``full``, Stirling's approximation of :math:`\log y!` is added where :math:`y > 1` (and nothing
        where :math:`y \le 1`, exactly as PyTorch):

        .. math::
            s(y) = y\log y - y + \tfrac12\log(2\pi y) \quad (y > 1), \qquad s(y) = 0 \quad (y \le 1)
            \qquad \text{(P2)}

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = \begin{cases} e^{x} - y \\ 1 - \dfrac{y}{x + \varepsilon}
            \end{cases} \qquad
            \frac{\partial \ell}{\partial y} = \begin{cases} -x \\ -\log(x + \varepsilon) \end{cases}
            \; + \; s'(y), \quad s'(y) = \log y + \frac{1}{2y} \;\; (y > 1), \;\; 0 \;\; (y \le 1)
            \qquad \text{(G1, G2)}

        Derivation: ``docs/derivations/poisson_nll_loss.md``.

    Conventions:
        As ``torch.nn.functional.poisson_nll_loss``, including the gradient with respect to ``target`` that
        PyTorch's autograd computes. With ``full`` the loss jumps at :math:`y = 1` (by
        :math:`s(1^+) = \tfrac12\log 2\pi - 1 \approx -0.0811`): at :math:`y = 1` exactly the Stirling term is
        absent and the target gradient is the left one, :math:`-x` (or :math:`-\log(x + \varepsilon)`), as
        PyTorch's mask ``target <= 1`` gives. One deviation: at :math:`y = 0` with ``full``, PyTorch's target
        gradient is NaN (its masked Stirling term still differentiates :math:`y\log y` at 0, 0 times
        :math:`-\infty`); refloss returns the derivative of the loss, :math:`-x`. Targets are counts or rates and
        must be :math:`\ge 0`, and with ``log_input=False`` the input is a rate and must be :math:`\ge 0`:
        refloss raises where PyTorch computes a meaningless number (or NaN). ``eps`` is used only when
        ``log_input`` is False. ``mean`` of an empty input is NaN. NaN propagates; :math:`e^x` overflows to inf
        beyond :math:`x \approx 709.8`, as in PyTorch.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``reduction="none"``, a scalar
        otherwise.

    Args:
        input: The predicted log-rate :math:`x = \log\lambda` (``log_input=True``) or rate :math:`x = \lambda`.
        target: Observed counts :math:`y \ge 0` (any non-negative real is accepted, as in PyTorch).
        log_input: Whether ``input`` is the log of the rate (default True).
        full: Whether to add Stirling's approximation of :math:`\log y!` (default False).
        eps: :math:`\varepsilon \ge 0` added to the rate inside the log when ``log_input`` is False (default 1e-8).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.poisson_nll_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.poisson_nll_loss.html
        Stirling's formula: Abramowitz, M. and Stegun, I. A. "Handbook of Mathematical Functions", 6.1.37.

    Examples:
        >>> float(poisson_nll_loss([0.0], [2.0]))  # e^0 - 2 * 0
        1.0
        >>> float(poisson_nll_loss([2.0], [2.0], log_input=False, eps=0.0))  # 2 - 2 log 2
        0.6137056388801094
    """
    return _evaluate(None, input, target, log_input, full, eps, reduction, gradients=False)[0]


def poisson_nll_loss_vjp(grad_output: Any, input: Any, target: Any, *, log_input: bool = True, full: bool = False,
                         eps: float = 1e-8, reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`poisson_nll_loss` with respect to ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`poisson_nll_loss`, "Gradient".
    """
    return _evaluate(grad_output, input, target, log_input, full, eps, reduction, value=False)[1]


def _kernel(xp: Any, g: Any, x: Any, y: Any, *, log_input: bool, full: bool, eps: float,
            value: bool = True) -> tuple[Any, Any]:
    """(P1), (P2) and, given the cotangents ``g``, (G1) and (G2) for a block of elements (see refloss._blocks)."""
    if log_input:
        rate = xp.exp(x)
        loss = rate - y * x if value else None
    else:
        log_rate = xp.log(x + eps)
        loss = x - y * log_rate if value else None
    if full:
        # PyTorch masks the term where target <= 1; a NaN target is not masked and stays NaN. The masked entries
        # take y = 2 inside the formula so that its unused branch stays finite (and autograd's gradient with it).
        stirling = ~(y <= 1.0)
        y_above = xp.where(stirling, y, 2.0)
        log_y = xp.log(y_above)
        if value:
            loss = loss + xp.where(stirling, y_above * log_y - y_above + 0.5 * log_y + _HALF_LOG_TWO_PI, 0.0)  # (P2)
    if g is None:
        return loss, None
    if log_input:
        slope_input, slope_target = rate - y, -x
    else:
        slope_input, slope_target = 1.0 - y / (x + eps), -log_rate
    if full:
        slope_target = slope_target + xp.where(stirling, log_y + 0.5 / y_above, 0.0)  # s'(y)
    return loss, (g * slope_input, g * slope_target)  # (G1), (G2)


def _evaluate(grad_output: Any, input: Any, target: Any, log_input: Any, full: Any, eps: Any, reduction: str,
              value: bool = True, gradients: bool = True) -> tuple[Any, tuple | None]:
    log_input, full, eps = LOG_INPUT.check(log_input), FULL.check(full), EPS.check(eps)
    input, target = as_matching_pair(input, target, reduction)
    _check_non_negative(target, "target", "counts")
    if not log_input:
        _check_non_negative(input, "input", "rates when log_input is False")
    if gradients:  # a VJP: its cotangent is checked (None included)
        grad_output = check_grad_output(grad_output, output_shape(shape_of(input), reduction))

    def kernel(xp: Any, g: Any, x: Any, y: Any, value: bool = True) -> tuple[Any, Any]:
        return _kernel(xp, g, x, y, log_input=log_input, full=full, eps=eps, value=value)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # inf and NaN propagate, as in PyTorch
        return elementwise(kernel, [input, target], reduction=reduction, value=value, grad_output=grad_output)


def _check_non_negative(array: Any, name: str, what: str) -> None:
    """Raise ``ValueError`` naming ``name`` if an entry is negative (NaN passes: it propagates)."""
    values = np.asarray(getattr(array, "_value", array))
    if values.size and np.any(values < 0):
        raise ValueError(f"{name} must be non-negative ({what}), got minimum {float(np.nanmin(values))!r}")


def _stirling_kink(input: Any, target: Any, *, full: bool = False, **_: Any) -> Any:
    """Distance of each target from 1, where the Stirling term switches on (none without ``full``)."""
    return np.abs(np.asarray(target, dtype=np.float64) - 1.0) if full else np.full(np.shape(target), np.inf)


def _rate_bound(input: Any, target: Any, *, log_input: bool = True, **_: Any) -> Any:
    """Distance of each rate from 0, the end of its domain when log_input is False (none for log-rates)."""
    return np.abs(np.asarray(input, dtype=np.float64)) if not log_input else np.full(np.shape(input), np.inf)


register(LossSpec(
    name="poisson_nll_loss",
    family="regression",
    forward=poisson_nll_loss,
    vjp=poisson_nll_loss_vjp,
    inputs=(Input("input", "log-rates (log_input) or rates >= 0, any shape", sample=Interval(0.05, 3.0, True, True)),
            Input("target", "counts >= 0, the same shape as input", domain=Interval(0.0, math.inf, low_closed=True),
                  sample=Interval(0.0, 4.0, True, True))),
    params=(LOG_INPUT, FULL, EPS),
    smoothness="C-infinity in input; with full, the loss jumps at target = 1 (the Stirling term switches on)",
    kinks=(Kink("target = 1 with full (the loss jumps by 0.5 log(2 pi) - 1)",
                "the Stirling term is absent at target = 1 (PyTorch's mask target <= 1): the target gradient there "
                "is the left one, -input (or -log(input + eps))", _stirling_kink),
           Kink("input = 0 with log_input=False (the end of the rates' domain [0, inf): not a kink of the formula, "
                "declared so that difference steps stay inside the domain, as for target = 0)",
                "the formula's own derivative 1 - target / eps (one-sided: no rate is negative)", _rate_bound)),
    references=(
        Reference("PyTorch, torch.nn.functional.poisson_nll_loss",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.poisson_nll_loss.html"),
        Reference("Abramowitz and Stegun, Handbook of Mathematical Functions, 6.1.37 (Stirling's formula)",
                  "https://personal.math.ubc.ca/~cbm/aands/page_257.htm"),
    ),
    equivalents=(
        Equivalent("torch", "torch.nn.functional.poisson_nll_loss",
                   "d/d target at target = 0 with full=True is NaN in PyTorch (its masked Stirling term still "
                   "differentiates y log y at 0: 0 * -inf), -input in refloss; PyTorch does not check that target "
                   "(and, with log_input=False, input) is >= 0, refloss raises"),
    ),
))
