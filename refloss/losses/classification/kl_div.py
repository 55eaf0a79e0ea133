"""Kullback-Leibler divergence on log-probabilities, as ``torch.nn.functional.kl_div``."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_same_shape
from refloss._reduction import reduce, reduce_batchmean, reduce_batchmean_vjp, reduce_vjp
from refloss._registry import REDUCTIONS, Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register

__all__ = ["kl_div", "kl_div_vjp"]

# PyTorch's four reductions of kl_div: "batchmean" (sum / input.shape[0]) is the one that is the KL divergence
# of a batch of distributions; "mean" divides by every element, as for any other loss.
KL_REDUCTIONS = REDUCTIONS + ("batchmean",)
LOG_TARGET = Param("log_target", False, Interval(), "whether target holds log-probabilities (else probabilities)",
                   kind="boolean", grid=(True,))


def kl_div(input: Any, target: Any, *, reduction: str = "mean", log_target: bool = False) -> Any:
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(t \,\|\, p)` from log-probabilities ``input`` = log p.

    Definition:
        Elementwise, with :math:`x = \log p` (``input``) and target probabilities :math:`t`,

        .. math::
            \ell(x, t) = t\,(\log t - x) \quad (t > 0), \qquad \ell(x, 0) = 0 \qquad \text{(K1)}

        (:math:`0 \log 0 = 0`, PyTorch's ``xlogy``). With ``log_target=True`` the target holds
        :math:`u = \log t` and :math:`\ell(x, u) = e^u (u - x)` (K2). ``batchmean`` divides the sum by the size
        of dim 0, which is the KL divergence per distribution when each row is one distribution; ``mean``
        divides by the number of elements (PyTorch's default, which it warns about).

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = -t, \qquad \frac{\partial \ell}{\partial t} = \log t + 1 - x
            \qquad \text{(K3)}

        and with ``log_target``: :math:`\partial \ell / \partial x = -e^u`,
        :math:`\partial \ell / \partial u = e^u (u - x + 1)` (K4). Derivation: ``docs/derivations/kl_div.md``.

    Conventions:
        ``torch.nn.functional.kl_div`` (torch 2.14.1) exactly: at :math:`t = 0` the loss is 0 and its
        derivative in ``input`` is 0, but the derivative in ``target`` does not exist (the right derivative is
        :math:`-\infty`): it is NaN there, as PyTorch's. A term :math:`0 \cdot x` with :math:`x = -\infty` (or
        :math:`e^{-\infty} \cdot \infty` with ``log_target``) is NaN, as in PyTorch. Unlike PyTorch, a negative
        target probability is an error (PyTorch returns NaN). ``input`` is not checked to be a log-probability
        (any real works, as in PyTorch). ``mean`` and ``batchmean`` of an empty batch are NaN. NaN propagates.

    Shapes:
        ``input`` and ``target``: any shape, the same (no broadcasting). Output: that shape for ``none``, a
        scalar otherwise.

    Args:
        input: Log-probabilities :math:`x = \log p`.
        target: Probabilities :math:`t \ge 0`, or log-probabilities with ``log_target=True``.
        reduction: ``"none"``, ``"mean"`` (default, as PyTorch), ``"sum"`` or ``"batchmean"``.
        log_target: Whether ``target`` holds log-probabilities.

    Returns:
        The loss in float64.

    References:
        Kullback, S., Leibler, R. A. "On Information and Sufficiency", Ann. Math. Statist. 22(1), 1951:
        https://doi.org/10.1214/aoms/1177729694.
        PyTorch ``torch.nn.functional.kl_div``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.kl_div.html

    Examples:
        >>> # t = (1/2, 1/2) against p = (1/4, 3/4): (1/2) log 2 + (1/2) log(2/3) = (1/2) log(4/3)
        >>> x = np.log([0.25, 0.75])
        >>> round(float(kl_div(x, [0.5, 0.5], reduction="sum")), 12) == round(0.5 * math.log(4 / 3), 12)
        True
        >>> float(kl_div(np.zeros((2, 3)), np.ones((2, 3)), reduction="batchmean"))  # 6 * 1 (0 - 0) / 2
        0.0
    """
    x, t, log_target = _prepare(input, target, reduction, log_target)
    with np.errstate(invalid="ignore", over="ignore"):  # 0 * -inf = NaN and e^u * inf as PyTorch, without a warning
        if log_target:
            loss = anp.exp(t) * (t - x)  # (K2)
        else:
            positive = t > 0
            # 0 log 0 = 0: the log sees 1 where t = 0, so that no 0 * -inf = NaN appears (nor a NaN in autograd)
            loss = anp.where(positive, t * anp.log(anp.where(positive, t, 1.0)), 0.0) - t * x  # (K1)
    return reduce_batchmean(loss) if reduction == "batchmean" else reduce(loss, reduction)


def kl_div_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
               log_target: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`kl_div` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`kl_div`, "Gradient" and "Conventions".
    """
    x, t, log_target = _prepare(input, target, reduction, log_target)
    shape = x.shape
    if reduction == "batchmean":
        g = reduce_batchmean_vjp(grad_output, shape)
    else:
        g = reduce_vjp(grad_output, shape, reduction)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if log_target:
            weight = np.exp(t)
            grad_input = -g * weight  # (K4)
            grad_target = g * (weight * (t - x + 1.0))
        else:
            grad_input = -g * t  # (K3)
            # (K3) for t > 0; at t = 0 the derivative does not exist (log t -> -inf): NaN, as PyTorch
            slope = np.where(t > 0, np.log(np.where(t > 0, t, 1.0)) + 1.0 - x, np.nan)
            slope = np.where(np.isnan(t), np.nan, slope)
            grad_target = g * slope
    return np.asarray(grad_input, dtype=np.float64), np.asarray(grad_target, dtype=np.float64)


def check_kl_reduction(reduction: Any) -> str:
    if not isinstance(reduction, str) or reduction not in KL_REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, KL_REDUCTIONS))}, got {reduction!r}")
    return reduction


def _prepare(input: Any, target: Any, reduction: Any, log_target: Any) -> tuple:
    x = as_real_array(input, "input")
    t = as_real_array(target, "target")
    check_same_shape(x, t, "input", "target")
    check_kl_reduction(reduction)
    log_target = LOG_TARGET.check(log_target)
    if not log_target:
        values = t._value if hasattr(t, "_value") else t
        negative = np.less(values, 0, where=~np.isnan(values), out=np.zeros(np.shape(values), dtype=bool))
        if np.any(negative):
            where = tuple(int(i) for i in np.argwhere(negative)[0])
            raise ValueError(f"target must be probabilities (non-negative; log_target=False), got "
                             f"{float(values[where])!r} at index {where}")
    return x, t, log_target


def _target_zero_distance(input: Any, target: Any, *, log_target: bool = False, **_: Any) -> Any:
    t = np.asarray(target, dtype=np.float64)
    return np.full(t.shape, np.inf) if log_target else np.abs(t)


register(LossSpec(
    name="kl_div",
    family="classification",
    forward=kl_div,
    vjp=kl_div_vjp,
    inputs=(Input("input", "log-probabilities log p"),
            Input("target", "probabilities t >= 0 (log-probabilities with log_target)",
                  domain=Interval(0.0, math.inf, True, False), sample=Interval(0.0625, 2.0, True, True))),
    params=(LOG_TARGET,),
    smoothness="smooth in input; in target smooth for t > 0, with an infinite slope at t = 0 (log_target=False)",
    kinks=(Kink("target = 0 (log_target=False), where t log t has slope -inf", "the target's derivative is NaN, as "
                "PyTorch's; the input's is -t = 0", _target_zero_distance, autograd_agrees=False),),
    references=(
        Reference("Kullback, Leibler. On Information and Sufficiency. Ann. Math. Statist. 22(1), 1951",
                  "https://doi.org/10.1214/aoms/1177729694"),
        Reference("PyTorch, torch.nn.functional.kl_div",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.kl_div.html"),
    ),
    equivalents=(Equivalent("torch", "torch.nn.functional.kl_div", "the same, with reduction='batchmean'; PyTorch "
                            "warns on reduction='mean' and returns NaN for a negative target, which refloss refuses"),),
    reductions=KL_REDUCTIONS,
))
