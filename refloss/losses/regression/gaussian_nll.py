"""Gaussian negative log-likelihood: a predicted mean and variance against an observed value."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive

from refloss._blocks import elementwise
from refloss._checks import as_matching_pair, as_real_array, check_grad_output, shape_of
from refloss._reduction import output_shape
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register

__all__ = ["gaussian_nll_loss", "gaussian_nll_loss_vjp"]

FULL = Param("full", default=False, domain=Interval(), kind="boolean", grid=(False, True),
             description="add the constant 0.5 log(2 pi), making the loss the full negative log-likelihood")
EPS = Param("eps", default=1e-6, domain=Interval(0.0, math.inf, low_closed=True), grid=(1e-6, 0.25),
            description="var is clamped below at eps (under no_grad, as PyTorch: see Conventions); >= 0")

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


@primitive
def _clamp_passing_gradient(var: Any, eps: float) -> Any:
    """max(var, eps), whose derivative autograd takes as 1 everywhere: PyTorch clamps var in place under
    ``torch.no_grad()``, so its autograd never sees the clamp and passes the gradient straight through."""
    return np.maximum(var, eps)


defvjp(_clamp_passing_gradient, lambda ans, var, eps: lambda g: g)


def gaussian_nll_loss(input: Any, target: Any, var: Any, *, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Any:
    r"""Gaussian negative log-likelihood of ``target`` under the mean ``input`` and the variance ``var``.

    Definition:
        With mean :math:`x`, observation :math:`y` and variance :math:`\sigma^2`, first clamped as
        :math:`v = \max(\sigma^2, \varepsilon)` (D1),

        .. math::
            \ell(x, y, \sigma^2) = \tfrac12\Bigl(\log v + \frac{(x - y)^2}{v}\Bigr)
                \;\bigl[+\ \tfrac12\log 2\pi \text{ with full}\bigr]  \qquad \text{(D2)}

        ``var`` holds one variance per element (heteroscedastic) or one per row shared along a dimension
        (homoscedastic; see Shapes), broadcast to ``input``'s shape.

    Gradient:
        With :math:`d = x - y`,

        .. math::
            \frac{\partial \ell}{\partial x} = \frac{d}{v}, \qquad
            \frac{\partial \ell}{\partial y} = -\frac{d}{v}, \qquad
            \frac{\partial \ell}{\partial \sigma^2} = \frac12\Bigl(\frac1v - \frac{d^2}{v^2}\Bigr)
            \qquad \text{(G1, G2, G3)}

        and a broadcast ``var`` receives the sum of (G3) over the elements that share it.
        Derivation: ``docs/derivations/gaussian_nll_loss.md``.

    Conventions:
        As ``torch.nn.functional.gaussian_nll_loss``. PyTorch clamps ``var`` at ``eps`` in place under
        ``torch.no_grad()``, so its autograd does not see the clamp: where :math:`\sigma^2 < \varepsilon` the loss
        is constant in :math:`\sigma^2`, yet the gradient is (G3) evaluated at :math:`v = \varepsilon` (a
        straight-through gradient), not 0. refloss returns the same (at :math:`\sigma^2 = 0`, ``eps`` = 1e-6 and
        :math:`d = 1` that is :math:`-4.999995\cdot 10^{11}`). A negative ``var`` is an error (as in PyTorch); NaN
        propagates; an infinite ``var`` gives an infinite loss and zero gradients. ``var`` shapes follow PyTorch:
        the shape of ``input``; ``input``'s shape without its last dimension; the same number of dimensions with
        exactly one dimension of size 1 where ``input``'s differs; or a scalar (PyTorch's ``var`` given as a
        Python float). ``target`` must have ``input``'s shape (PyTorch broadcasts it). ``mean`` averages over
        every element of ``input``; of an empty input it is NaN.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape; ``var``: ``(*)``, ``(*)`` without its last dimension,
        ``(*)`` with one dimension replaced by 1, or ``()``. Output: ``(*)`` for ``reduction="none"``, a scalar
        otherwise.

    Args:
        input: Predicted means :math:`x`.
        target: Observations :math:`y`.
        var: Predicted variances :math:`\sigma^2 \ge 0`.
        full: Whether to add the constant :math:`\tfrac12\log 2\pi` (default False).
        eps: Clamp :math:`\varepsilon \ge 0` of the variance (default 1e-6).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Nix, D. A. and Weigend, A. S. "Estimating the mean and variance of the target probability distribution",
        ICNN 1994: https://doi.org/10.1109/ICNN.1994.374138.
        PyTorch ``torch.nn.functional.gaussian_nll_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.gaussian_nll_loss.html

    Examples:
        >>> float(gaussian_nll_loss([1.0], [3.0], [4.0]))  # (log 4 + 4 / 4) / 2
        1.1931471805599454
        >>> [float(g[0]) for g in gaussian_nll_loss_vjp(1.0, [1.0], [3.0], [4.0])]  # -2/4, 2/4, (1/4 - 4/16)/2
        [-0.5, 0.5, 0.0]
    """
    return _evaluate(None, input, target, var, full, eps, reduction, gradients=False)[0]


def gaussian_nll_loss_vjp(grad_output: Any, input: Any, target: Any, var: Any, *, full: bool = False,
                          eps: float = 1e-6, reduction: str = "mean") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`gaussian_nll_loss` with respect to ``(input, target, var)``.

    ``grad_output`` has the shape of the loss's output. The gradient of ``var`` has ``var``'s shape (summed over
    the elements that share a variance). See :func:`gaussian_nll_loss`, "Gradient" and "Conventions".
    """
    return _evaluate(grad_output, input, target, var, full, eps, reduction, value=False)[1]


def _kernel(xp: Any, g: Any, x: Any, y: Any, var: Any, *, full: bool, eps: float,
            value: bool = True) -> tuple[Any, Any]:
    """(D1), (D2) and, given the cotangents ``g``, (G1) to (G3) for a block of elements (see refloss._blocks)."""
    v = _clamp_passing_gradient(var, eps)  # (D1)
    d = x - y
    loss = None
    if value:
        loss = 0.5 * (xp.log(v) + d * d / v)  # (D2)
        if full:
            loss = loss + _HALF_LOG_TWO_PI
    if g is None:
        return loss, None
    ratio = d / v
    grad_input = g * ratio  # (G1); (G2) is its negative
    grad_var = g * (0.5 * (1.0 - ratio * d) / v)  # (G3) as (1 - d^2 / v) / (2 v): one division fewer
    return loss, (grad_input, -grad_input, grad_var)


def _evaluate(grad_output: Any, input: Any, target: Any, var: Any, full: Any, eps: Any, reduction: str,
              value: bool = True, gradients: bool = True) -> tuple[Any, tuple | None]:
    full, eps = FULL.check(full), EPS.check(eps)
    input, target = as_matching_pair(input, target, reduction)
    shape = shape_of(input)
    var, broadcastable = _check_var(var, shape)
    if gradients:  # a VJP: its cotangent is checked (None included)
        grad_output = check_grad_output(grad_output, output_shape(shape, reduction))

    def kernel(xp: Any, g: Any, x: Any, y: Any, v: Any, value: bool = True) -> tuple[Any, Any]:
        return _kernel(xp, g, x, y, v, full=full, eps=eps, value=value)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # inf and NaN propagate, as in PyTorch
        loss, grads = elementwise(kernel, [input, target, anp.reshape(var, broadcastable)], reduction=reduction,
                                  value=value, grad_output=grad_output)
    if grads is None:
        return loss, None
    grad_input, grad_target, grad_var = grads
    return loss, (grad_input, grad_target, _sum_to(grad_var, shape_of(var)))


def _check_var(var: Any, shape: tuple[int, ...]) -> tuple[Any, tuple[int, ...]]:
    """``var`` as float64 with PyTorch's shape rules, and the shape of it that broadcasts to ``shape``."""
    var = as_real_array(var, "var")
    var_shape = shape_of(var)
    values = np.asarray(getattr(var, "_value", var))
    if values.size and np.any(values < 0):
        raise ValueError(f"var must be non-negative (variances), got minimum {float(np.nanmin(values))!r}")
    if var_shape == shape or var_shape == ():
        return var, var_shape
    if var_shape == shape[:-1]:  # one variance per row, shared along the last dimension
        return var, var_shape + (1,)
    differing = [i for i, (a, b) in enumerate(zip(shape, var_shape)) if a != b]
    if len(var_shape) == len(shape) and len(differing) == 1 and var_shape[differing[0]] == 1:
        return var, var_shape
    raise ValueError(f"var must have the shape of input {shape}, that shape without its last dimension "
                     f"{shape[:-1]}, that shape with one dimension replaced by 1, or be a scalar; got {var_shape}")


def _sum_to(gradient: np.ndarray, var_shape: tuple[int, ...]) -> np.ndarray:
    """The gradient of a broadcast ``var``: the sum over the elements that share each variance."""
    if gradient.shape == var_shape:
        return gradient
    if var_shape == gradient.shape[:-1] and var_shape != ():
        return gradient.sum(axis=-1)
    if var_shape == ():
        return np.asarray(gradient.sum())
    axes = tuple(i for i, (a, b) in enumerate(zip(gradient.shape, var_shape)) if a != b)
    return gradient.sum(axis=axes, keepdims=True)


def _held_forward(input: Any, target: Any, var: Any, *, full: bool = False, eps: float = 1e-6, **_: Any):
    """The forward with the clamp's shift max(var, eps) - var held at its value here (what finite differences
    differentiate: PyTorch's straight-through clamp)."""
    var0 = np.asarray(var, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        shift = np.where(var0 < eps, eps - var0, 0.0)

    def forward(input: Any, target: Any, var: Any, **kwargs: Any) -> Any:
        # (the shifted var is held at or above eps: eps = 0 keeps a step below eps from being clamped again)
        return gaussian_nll_loss(input, target, var + shift, **{**kwargs, "eps": 0.0})
    return forward


def _clamp_kink(input: Any, target: Any, var: Any, *, eps: float = 1e-6, **_: Any) -> Any:
    """Distance of each variance from eps, where the clamp starts."""
    shape = np.shape(input)
    var = np.asarray(var, dtype=np.float64)
    if var.shape == shape[:-1] and var.shape != shape:
        var = var[..., None]
    return np.broadcast_to(np.abs(var - eps), shape)


register(LossSpec(
    name="gaussian_nll_loss",
    family="regression",
    forward=gaussian_nll_loss,
    vjp=gaussian_nll_loss_vjp,
    inputs=(Input("input", "predicted means, any shape"),
            Input("target", "observations, the same shape as input"),
            Input("var", "variances >= 0: input's shape, without its last dimension, with one dimension 1, or ()",
                  domain=Interval(0.0, math.inf, low_closed=True), sample=Interval(0.25, 4.0, True, True))),
    params=(FULL, EPS),
    smoothness="C-infinity for var > eps; constant in var below eps (with a straight-through gradient)",
    kinks=(Kink("var = eps (the clamp)", "the gradient of var is (G3) at max(var, eps) on both sides: PyTorch "
                "clamps under no_grad, so var < eps gets the derivative at eps instead of 0", _clamp_kink,
                autograd_agrees=True),),
    stop_gradients=("the clamp max(var, eps): its derivative is taken as 1 (PyTorch clamps under torch.no_grad)",),
    held_forward=_held_forward,
    references=(
        Reference("Nix and Weigend, Estimating the mean and variance of the target probability distribution, "
                  "ICNN 1994", "https://doi.org/10.1109/ICNN.1994.374138"),
        Reference("PyTorch, torch.nn.functional.gaussian_nll_loss",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.gaussian_nll_loss.html"),
    ),
    equivalents=(
        Equivalent("torch", "torch.nn.functional.gaussian_nll_loss",
                   "PyTorch broadcasts a target of another shape (refloss raises); a 0-d var tensor is refused by "
                   "PyTorch for inputs of 2 or more dimensions (refloss treats it as PyTorch treats a Python float)"),
    ),
))
