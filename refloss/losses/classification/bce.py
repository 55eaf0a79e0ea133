"""Binary cross-entropy on probabilities, with PyTorch's clamp of each log term at -100."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._blocks import elementwise
from refloss._checks import as_matching_pair, check_broadcast_weight, check_grad_output, shape_of
from refloss._reduction import output_shape, reduce, reduce_vjp
from refloss.losses.classification._labels import check_unit_interval
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register

__all__ = ["binary_cross_entropy", "binary_cross_entropy_keras", "binary_cross_entropy_keras_fp32",
           "binary_cross_entropy_keras_fp32_vjp", "binary_cross_entropy_keras_vjp", "binary_cross_entropy_tf_keras",
           "binary_cross_entropy_tf_keras_vjp", "binary_cross_entropy_vjp"]

LOG_FLOOR = -100.0  # PyTorch clamps log(p) and log(1 - p) at -100 (p below e^-100 ~ 3.7e-44)
# The smallest float64 p with log p > -100 exactly: math.exp(-100) rounds up (tests check it with mpmath). Deciding
# the clamp on the rounded log instead would clamp this p too, whose log -99.99999999999999... rounds to -100.0.
SMALLEST_UNCLAMPED = math.exp(LOG_FLOOR)
_UNIT = Interval(0.0, 1.0, True, True)
WEIGHT = Param("weight", None, Interval(0.0, math.inf, low_closed=True),
               "optional non-negative weight broadcast to input (a constant); 'mean' divides by the count",
               kind="elementwise")


def binary_cross_entropy(input: Any, target: Any, *, reduction: str = "mean", weight: Any = None) -> Any:
    r"""Binary cross-entropy between probabilities and targets, as ``torch.nn.functional.binary_cross_entropy``.

    Definition:
        With probability :math:`p \in [0, 1]`, target :math:`y \in [0, 1]` and weight :math:`w`,

        .. math::
            \ell(p, y) = -w\,\bigl[y\,\max(\log p, -100) + (1 - y)\max(\log(1 - p), -100)\bigr]  \qquad \text{(P1)}

        The clamp at -100 is PyTorch's: it makes :math:`p = 0` or :math:`1` give a finite loss of 100 instead of
        :math:`\infty`. ``mean`` divides by the number of elements.

    Gradient:
        The derivative of (P1), where each log term is not clamped:

        .. math::
            \frac{\partial \ell}{\partial p} = w\Bigl[-\frac{y}{p} + \frac{1 - y}{1 - p}\Bigr]
            = w\,\frac{p - y}{p\,(1 - p)}, \qquad
            \frac{\partial \ell}{\partial y} = -w\bigl[\max(\log p, -100) - \max(\log(1-p), -100)\bigr]
            \qquad \text{(P2, P3)}

        A clamped term is constant, so it contributes 0 (and :math:`0 \cdot \frac{1}{0}` terms, such as
        :math:`(1-y)/(1-p)` at :math:`y = p = 1`, are 0). Derivation: ``docs/derivations/binary_cross_entropy.md``.

    Conventions:
        The value is PyTorch's formula, computed the same way (``log1p(-p)`` for the second term). The gradient is
        the true derivative of that value, which differs from
        PyTorch's backward in two places (both named alternatives in the golden vectors): PyTorch computes
        :math:`w(p - y)/\max(p(1-p), 10^{-12})`, so where :math:`p(1-p) < 10^{-12}` its gradient is too small (at
        :math:`p = 10^{-13}, y = 0` it returns 0.1 instead of 1) and at a clamp it is :math:`\mp 10^{12}` instead
        of 0; and its target gradient ignores the clamp (:math:`\pm\infty` at :math:`p \in \{0, 1\}`). ``input``
        and ``target`` must lie in [0, 1] (PyTorch checks both too) and have the same shape. ``weight`` broadcasts
        to ``input``, non-negative. Keras clips :math:`p` to :math:`[10^{-7}, 1 - 10^{-7}]` instead: see
        ``docs/derivations/binary_cross_entropy.md``. ``mean`` of an empty input is NaN. NaN propagates.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape; ``weight``: broadcastable to ``(*)``. Output: ``(*)`` for
        ``none``, a scalar otherwise.

    Args:
        input: Probabilities :math:`p \in [0, 1]`.
        target: Targets :math:`y \in [0, 1]` (soft labels allowed; differentiable).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        weight: Optional non-negative rescaling weight.

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.binary_cross_entropy``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.binary_cross_entropy.html

    Examples:
        >>> float(binary_cross_entropy([0.0], [1.0]))  # clamped: -max(log 0, -100)
        100.0
    """
    return _evaluate(None, input, target, reduction, weight, gradients=False)[0]


def binary_cross_entropy_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                             weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`binary_cross_entropy` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`binary_cross_entropy`, "Gradient".
    """
    return _evaluate(grad_output, input, target, reduction, weight, value=False)[1]


def _value_and_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                   weight: Any = None) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
    return _evaluate(grad_output, input, target, reduction, weight)


def _kernel(xp: Any, g: Any, p: Any, y: Any, value: bool = True) -> tuple[Any, Any]:
    """(P1) and, given the cotangents ``g``, (P2) and (P3), for a block of elements (see refloss._blocks)."""
    log_p, log_q = _clamped_logs(xp, p)
    loss = -(y * log_p + (1.0 - y) * log_q) if value else None  # (P1)
    if g is None:
        return loss, None
    # (P2): where neither log is clamped, the combined (p - y) / (p (1 - p)), which keeps its relative
    # accuracy as p approaches y (the separate terms nearly cancel there); otherwise term by term, a clamped
    # term contributing 0, and 0 * (1/0) taken as 0 for y = 0 or 1.
    live_p = p >= SMALLEST_UNCLAMPED  # log p > -100 (log_q > -100 is exact: 1 - p is 0 or >= 2^-53)
    unclamped = live_p & (log_q > LOG_FLOOR)
    combined = (p - y) / (p * (1.0 - p))
    positive = np.where(live_p & (y != 0), y / p, 0.0)
    negative = np.where((log_q > LOG_FLOOR) & (y != 1), (1.0 - y) / (1.0 - p), 0.0)
    slope = np.where(unclamped, combined, negative - positive)
    grad_input = g * np.where(np.isnan(p), np.nan, slope)  # a NaN p propagates
    grad_target = -g * (log_p - log_q)  # (P3)
    return loss, (grad_input, grad_target)


def _evaluate(grad_output: Any, input: Any, target: Any, reduction: str, weight: Any,
              value: bool = True, gradients: bool = True) -> tuple[Any, tuple | None]:
    p, y, weight = _prepare(input, target, reduction, weight)
    if gradients:  # a VJP: its cotangent is checked (None included)
        grad_output = check_grad_output(grad_output, output_shape(shape_of(p), reduction))
    with np.errstate(divide="ignore", invalid="ignore"):
        return elementwise(_kernel, [p, y], reduction=reduction, value=value, grad_output=grad_output,
                           weight=weight, mean_over_weights=False)


def _clamped_logs(xp: Any, p: Any) -> tuple[Any, Any]:
    """max(log p, -100) and max(log1p(-p), -100), as PyTorch computes them (log1p keeps log(1 - p) exact for
    small p, where 1 - p would round: log(1 - 1e-17) would be -0.0 instead of -1e-17)."""
    return xp.maximum(xp.log(p), LOG_FLOOR), xp.maximum(xp.log1p(-p), LOG_FLOOR)


def _prepare(input: Any, target: Any, reduction: str, weight: Any) -> tuple:
    p, y = as_matching_pair(input, target, reduction)
    check_unit_interval(p, "input", "probabilities")
    check_unit_interval(y, "target", "probabilities")
    return p, y, check_broadcast_weight(weight, "weight", shape_of(p))


def _distance_to(input: Any, low: float, high: float) -> np.ndarray:
    """How far each probability is from the nearer of two thresholds (a clamp or a clip)."""
    p = np.asarray(input, dtype=np.float64)
    return np.minimum(np.abs(p - low), np.abs(p - high))


def _clamp_distance(input: Any, target: Any, **_: Any) -> np.ndarray:
    """Distance from where a log term meets its clamp: p = e^-100 or 1 - p = e^-100."""
    threshold = math.exp(LOG_FLOOR)
    return _distance_to(input, threshold, 1.0 - threshold)


_PROBABILITY_INPUTS = (
    Input("input", "probabilities in [0, 1], any shape", domain=_UNIT, sample=Interval(0.02, 0.98, True, True)),
    Input("target", "probabilities in [0, 1], the same shape", domain=_UNIT, sample=_UNIT),
)


register(LossSpec(
    name="binary_cross_entropy",
    family="classification",
    forward=binary_cross_entropy,
    vjp=binary_cross_entropy_vjp,
    value_and_vjp=_value_and_vjp,
    inputs=_PROBABILITY_INPUTS,
    params=(WEIGHT,),
    smoothness="C-infinity for p in (e^-100, 1 - e^-100); constant terms beyond the clamp",
    kinks=(Kink("p = e^-100 or 1 - p = e^-100, where a log term meets its clamp at -100",
                "the clamped term's derivative is 0 (the clamped value is constant); PyTorch's backward gives "
                "(p - y) / max(p (1 - p), 1e-12) instead", _clamp_distance),),
    references=(Reference("PyTorch, torch.nn.functional.binary_cross_entropy",
                          "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.binary_cross_entropy.html"),),
    # Keras's BinaryCrossentropy clips p instead of clamping the logs: it is the equivalent of the Keras variants
    # below, not of this loss (the keras adapter compares each registered equivalent as the same function).
    equivalents=(Equivalent("torch", "torch.nn.functional.binary_cross_entropy"),),
))


KERAS_EPSILON = Param("epsilon", 1e-7, Interval(0.0, 0.5), "Keras clips p to [epsilon, 1 - epsilon] "
                      "(keras.backend.epsilon() = 1e-7)", grid=(1e-3,))


def binary_cross_entropy_keras(input: Any, target: Any, *, reduction: str = "mean", epsilon: float = 1e-7) -> Any:
    r"""Binary cross-entropy on probabilities with Keras's convention: clip p, then take plain logs.

    Definition:
        With :math:`\hat p = \operatorname{clip}(p, \varepsilon, 1 - \varepsilon)` (K1),

        .. math::
            \ell(p, y) = -\bigl[y \log \hat p + (1 - y) \log(1 - \hat p)\bigr]  \qquad \text{(K2)}

        elementwise, then the reduction (Keras's ``binary_crossentropy`` first averages over the last axis; here
        the reduction is refloss's ``none``/``mean``/``sum`` over all elements).

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial p} = \Bigl[-\frac{y}{\hat p} + \frac{1-y}{1-\hat p}\Bigr]
                [\varepsilon \le p \le 1 - \varepsilon], \qquad
            \frac{\partial \ell}{\partial y} = -\bigl[\log \hat p - \log(1 - \hat p)\bigr]  \qquad \text{(K3, K4)}

        Outside the clip the loss is constant in :math:`p`; at the bounds the gradient passes (TensorFlow's
        ``clip_by_value`` rule). Derivation: ``docs/derivations/binary_cross_entropy.md``.

    Conventions:
        Keras 3 on float64 tensors (``keras.losses.binary_crossentropy`` with ``from_logits=False``): ``p = 0,
        y = 1`` gives :math:`-\log 10^{-7} = 16.118` where PyTorch's :func:`binary_cross_entropy` gives 100. In
        float32, Keras's default floatx and what ``keras.losses.BinaryCrossentropy()`` always computes in, the
        upper bound :math:`1 - 10^{-7}` rounds to :math:`1 - 2^{-23}`, so Keras gives 15.942 for ``p = 1, y = 0``:
        that is :func:`binary_cross_entropy_keras_fp32`. Keras writes :math:`\log(1 - c)`; this reference
        computes ``log1p(-c)``. ``input`` and ``target`` must lie in [0, 1] (Keras checks neither); shapes must
        match. ``mean`` of an empty input is NaN. NaN propagates.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``none``, a scalar otherwise.

    Args:
        input: Probabilities :math:`p \in [0, 1]`.
        target: Targets :math:`y \in [0, 1]` (differentiable).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        epsilon: The clip :math:`\varepsilon \in (0, 1/2)` (default 1e-7, Keras's).

    Returns:
        The loss in float64.

    References:
        Keras ``keras.losses.BinaryCrossentropy``:
        https://keras.io/api/losses/probabilistic_losses/#binarycrossentropy-class

    Examples:
        >>> round(float(binary_cross_entropy_keras([0.0], [1.0])), 6)  # -log(1e-7)
        16.118096
    """
    p, y, _ = _prepare(input, target, reduction, None)
    epsilon = KERAS_EPSILON.check(epsilon)
    with np.errstate(invalid="ignore"):
        clipped = anp.clip(p, epsilon, 1.0 - epsilon)  # (K1)
        return reduce(-(y * anp.log(clipped) + (1.0 - y) * anp.log1p(-clipped)), reduction)  # (K2)


def binary_cross_entropy_keras_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                                   epsilon: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`binary_cross_entropy_keras` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`binary_cross_entropy_keras`, "Gradient".
    """
    p, y, _ = _prepare(input, target, reduction, None)
    epsilon = KERAS_EPSILON.check(epsilon)
    g = reduce_vjp(grad_output, p.shape, reduction)
    with np.errstate(invalid="ignore", divide="ignore"):
        clipped = np.clip(p, epsilon, 1.0 - epsilon)
        inside = (p >= epsilon) & (p <= 1.0 - epsilon)
        slope = np.where(inside, (clipped - y) / (clipped * (1.0 - clipped)), 0.0)  # (K3)
        grad_input = g * np.where(np.isnan(p), np.nan, slope)
        grad_target = -g * (np.log(clipped) - np.log1p(-clipped))  # (K4)
    return grad_input, grad_target


def _keras_clip_distance(input: Any, target: Any, *, epsilon: float = 1e-7, **_: Any) -> np.ndarray:
    return _distance_to(input, epsilon, 1.0 - epsilon)


register(LossSpec(
    name="binary_cross_entropy_keras",
    family="classification",
    forward=binary_cross_entropy_keras,
    vjp=binary_cross_entropy_keras_vjp,
    inputs=_PROBABILITY_INPUTS,
    params=(KERAS_EPSILON,),
    smoothness="C-infinity inside [epsilon, 1 - epsilon]; constant in p outside",
    kinks=(Kink("p = epsilon or p = 1 - epsilon (the clip)", "the gradient passes at the bound (TensorFlow's "
                "clip_by_value); 0 beyond it", _keras_clip_distance, autograd_agrees=False),),
    references=(Reference("Keras, keras.losses.BinaryCrossentropy",
                          "https://keras.io/api/losses/probabilistic_losses/#binarycrossentropy-class"),),
    equivalents=(Equivalent("keras", "keras.losses.binary_crossentropy(from_logits=False)",
                            "on float64 tensors (in float32 the bounds round: binary_cross_entropy_keras_fp32; "
                            "keras.losses.BinaryCrossentropy() always casts to floatx, float32 by default): averages "
                            "over the last axis first; log(1 - c) instead of log1p(-c); no range checks"),),
    derivation="docs/derivations/binary_cross_entropy.md",
))


# ---- the Keras clip with the constants rounded to float32 (Keras 3 and tf-keras 2 at their default floatx) -------

def _float32(value: float) -> float:
    """``value`` rounded to the nearest float32, as a Python float (exact in float64)."""
    return float(np.float32(value))


def _keras_float32_bounds(epsilon: float) -> tuple[float, float]:
    """Keras 3's clip bounds in float32: ``jnp.clip(output, epsilon, 1.0 - epsilon)`` forms 1 - epsilon in Python
    (float64) and then rounds both bounds to the float32 of ``output`` (1 - 1e-7 becomes 1 - 2^-23)."""
    return _float32(epsilon), _float32(1.0 - epsilon)


def _tf_keras_float32_bounds(epsilon: float) -> tuple[float, float]:
    """tf-keras's clip bounds in float32: ``epsilon_`` is a float32 constant and ``1.0 - epsilon_`` is a float32
    subtraction (for 1e-7 the same 1 - 2^-23 as Keras 3's, for other epsilons possibly one float32 ulp apart)."""
    low = np.float32(epsilon)
    return float(low), float(np.float32(1.0) - low)


def _shifted_clip_bce(p: Any, y: Any, low: float, high: float, shift: float) -> Any:
    """-(y log(c + shift) + (1 - y) log(1 - c + shift)) with c = clip(p, low, high): (C1) and (C2)."""
    clipped = anp.clip(p, low, high)  # (C1)
    return -(y * anp.log(clipped + shift) + (1.0 - y) * anp.log1p(shift - clipped))  # (C2)


def _shifted_clip_bce_vjp(g: Any, p: Any, y: Any, low: float, high: float, shift: float) -> tuple:
    """(C3) and (C4): the derivative of (C2) in p inside the clip (bounds included), 0 beyond it."""
    clipped = np.clip(p, low, high)
    inside = (p >= low) & (p <= high)
    # -y / (c + s) + (1 - y) / (1 - c + s) over one denominator: (c + s - y (1 + 2 s)) / ((c + s)(1 - c + s))
    slope = (clipped + shift - y * (1.0 + 2.0 * shift)) / ((clipped + shift) * (1.0 - clipped + shift))
    grad_input = g * np.where(np.isnan(p), np.nan, np.where(inside, slope, 0.0))  # (C3)
    grad_target = -g * (np.log(clipped + shift) - np.log1p(shift - clipped))  # (C4)
    return grad_input, grad_target


def binary_cross_entropy_keras_fp32(input: Any, target: Any, *, reduction: str = "mean",
                                       epsilon: float = 1e-7) -> Any:
    r"""Binary cross-entropy on probabilities as Keras 3 computes it in float32: the clip bounds rounded to float32.

    Definition:
        With the float32 roundings :math:`\varepsilon_{32} = \mathrm{fl}_{32}(\varepsilon)` and :math:`u_{32} =
        \mathrm{fl}_{32}(1 - \varepsilon)` (for :math:`\varepsilon = 10^{-7}`: 1.0000000116860974e-07 and
        :math:`1 - 2^{-23} = 0.99999988079071044921875`), and :math:`c = \operatorname{clip}(p, \varepsilon_{32},
        u_{32})` (C1),

        .. math::
            \ell(p, y) = -\bigl[y \log c + (1 - y) \log(1 - c)\bigr]  \qquad \text{(C2)}

        elementwise, then the reduction. Everything else is computed in float64: only the constants are
        float32, which is what moves the values at the upper clip.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial p} = \frac{c - y}{c\,(1 - c)}\,[\varepsilon_{32} \le p \le u_{32}]
            \qquad \text{(C3)}

        .. math::
            \frac{\partial \ell}{\partial y} = -\bigl[\log c - \log(1 - c)\bigr]  \qquad \text{(C4)}

        Outside the clip the loss is constant in :math:`p`; at a bound the gradient passes (TensorFlow's
        ``clip_by_value``; JAX's ``jnp.clip`` passes half of it there, within the one-sided derivatives).
        Derivation: ``docs/derivations/binary_cross_entropy.md``.

    Conventions:
        Keras 3's default floatx is float32, and its loss classes (``keras.losses.BinaryCrossentropy()``) cast
        both arguments to floatx whatever their dtype, so these are the values Keras training reports:
        ``p = 1, y = 0`` gives :math:`-\log 2^{-23} = 15.942` (:func:`binary_cross_entropy_keras`, Keras on float64
        tensors, gives 16.118) and ``p = 0, y = 1`` gives 16.118. Keras also computes the logs in float32 (its
        ``log(1 - c)`` loses the relative accuracy of a small :math:`1 - c`); this reference computes them in
        float64. ``input`` and ``target`` must lie in [0, 1] (Keras checks neither); shapes must match.
        ``mean`` of an empty input is NaN. NaN propagates.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``none``, a scalar otherwise.

    Args:
        input: Probabilities :math:`p \in [0, 1]`.
        target: Targets :math:`y \in [0, 1]` (differentiable).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        epsilon: The clip :math:`\varepsilon \in (0, 1/2)` before its rounding to float32 (default 1e-7,
            ``keras.config.epsilon()``).

    Returns:
        The loss in float64.

    References:
        Keras 3 ``keras.losses.BinaryCrossentropy`` and ``keras/src/backend/jax/nn.py`` ``binary_crossentropy``:
        https://keras.io/api/losses/probabilistic_losses/#binarycrossentropy-class

    Examples:
        >>> round(float(binary_cross_entropy_keras_fp32([1.0], [0.0])), 6)  # -log(2^-23) = 23 log 2
        15.942385
    """
    p, y, _ = _prepare(input, target, reduction, None)
    low, high = _keras_float32_bounds(KERAS_EPSILON.check(epsilon))
    with np.errstate(invalid="ignore"):
        return reduce(_shifted_clip_bce(p, y, low, high, 0.0), reduction)


def binary_cross_entropy_keras_fp32_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                                           epsilon: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`binary_cross_entropy_keras_fp32` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`binary_cross_entropy_keras_fp32`,
    "Gradient".
    """
    p, y, _ = _prepare(input, target, reduction, None)
    low, high = _keras_float32_bounds(KERAS_EPSILON.check(epsilon))
    g = reduce_vjp(grad_output, p.shape, reduction)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _shifted_clip_bce_vjp(g, p, y, low, high, 0.0)


def _keras_float32_clip_distance(input: Any, target: Any, *, epsilon: float = 1e-7, **_: Any) -> np.ndarray:
    return _distance_to(input, *_keras_float32_bounds(epsilon))


register(LossSpec(
    name="binary_cross_entropy_keras_fp32",
    family="classification",
    forward=binary_cross_entropy_keras_fp32,
    vjp=binary_cross_entropy_keras_fp32_vjp,
    inputs=_PROBABILITY_INPUTS,
    params=(KERAS_EPSILON,),
    smoothness="C-infinity inside [fl32(epsilon), fl32(1 - epsilon)]; constant in p outside",
    kinks=(Kink("p = fl32(epsilon) or p = fl32(1 - epsilon) (the clip, its bounds rounded to float32)",
                "the gradient passes at the bound (TensorFlow's clip_by_value); 0 beyond it",
                _keras_float32_clip_distance, autograd_agrees=False),),
    references=(Reference("Keras 3, keras.losses.BinaryCrossentropy",
                          "https://keras.io/api/losses/probabilistic_losses/#binarycrossentropy-class"),),
    equivalents=(Equivalent("keras", "keras.losses.binary_crossentropy(from_logits=False)",
                            "in float32 (Keras's default floatx; keras.losses.BinaryCrossentropy() always casts to "
                            "floatx): averages over the last axis first; its logs are float32 (log(1 - c) loses "
                            "the relative accuracy of a small 1 - c); no range checks on either argument"),),
    derivation="docs/derivations/binary_cross_entropy.md",
))


def binary_cross_entropy_tf_keras(input: Any, target: Any, *, reduction: str = "mean", epsilon: float = 1e-7) -> Any:
    r"""Binary cross-entropy on probabilities as tf-keras 2 (``tf.keras`` before Keras 3) computes it in float32.

    Definition:
        With the float32 constants :math:`\varepsilon_{32} = \mathrm{fl}_{32}(\varepsilon)` and :math:`u_{32} =
        \mathrm{fl}_{32}(1 - \varepsilon_{32})` (for :math:`\varepsilon = 10^{-7}`: 1.0000000116860974e-07 and
        :math:`1 - 2^{-23}`) and :math:`c = \operatorname{clip}(p, \varepsilon_{32}, u_{32})` (C1),

        .. math::
            \ell(p, y) = -\bigl[y \log(c + \varepsilon_{32}) + (1 - y) \log(1 - c + \varepsilon_{32})\bigr]
            \qquad \text{(C2)}

        elementwise, then the reduction: tf-keras clips *and* adds :math:`\varepsilon` inside both logs
        (``tf_keras/backend.py``, ``binary_crossentropy``), so even a perfect prediction has a loss of about
        :math:`10^{-7}`.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial p} = \Bigl[-\frac{y}{c + \varepsilon_{32}}
                + \frac{1 - y}{1 - c + \varepsilon_{32}}\Bigr][\varepsilon_{32} \le p \le u_{32}], \qquad
            \frac{\partial \ell}{\partial y} = -\bigl[\log(c + \varepsilon_{32}) - \log(1 - c + \varepsilon_{32})
            \bigr]  \qquad \text{(C3, C4)}

        Outside the clip the loss is constant in :math:`p`; at a bound the gradient passes (``clip_by_value``).
        Derivation: ``docs/derivations/binary_cross_entropy.md``.

    Conventions:
        tf-keras's default floatx is float32, and every value its tests publish is a float32 one: ``p = 1,
        y = 0`` gives :math:`-\log(2^{-23} + \varepsilon_{32}) = 15.333` and ``p = 0, y = 1`` gives
        :math:`-\log(2\varepsilon_{32}) = 15.425`. On float64 tensors tf-keras uses the float64 constants (the
        clip :math:`[10^{-7}, 1 - 10^{-7}]`: 15.425 for both), which this function does not model. The logs are
        computed in float64 here (tf-keras: in float32). ``input`` and ``target`` must lie in [0, 1] (tf-keras
        checks neither); shapes must match. ``mean`` of an empty input is NaN. NaN propagates.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``none``, a scalar otherwise.

    Args:
        input: Probabilities :math:`p \in [0, 1]`.
        target: Targets :math:`y \in [0, 1]` (differentiable).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        epsilon: :math:`\varepsilon \in (0, 1/2)` before its rounding to float32 (default 1e-7,
            ``tf.keras.backend.epsilon()``).

    Returns:
        The loss in float64.

    References:
        tf-keras ``tf_keras/backend.py``, ``binary_crossentropy``, and ``tf.keras.losses.BinaryCrossentropy``:
        https://github.com/keras-team/tf-keras/blob/master/tf_keras/backend.py

    Examples:
        >>> round(float(binary_cross_entropy_tf_keras([1.0], [0.0])), 4)  # -log(2^-23 + 1e-7)
        15.3332
    """
    p, y, _ = _prepare(input, target, reduction, None)
    epsilon = KERAS_EPSILON.check(epsilon)
    low, high = _tf_keras_float32_bounds(epsilon)
    with np.errstate(invalid="ignore"):
        return reduce(_shifted_clip_bce(p, y, low, high, low), reduction)


def binary_cross_entropy_tf_keras_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                                      epsilon: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`binary_cross_entropy_tf_keras` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`binary_cross_entropy_tf_keras`, "Gradient".
    """
    p, y, _ = _prepare(input, target, reduction, None)
    low, high = _tf_keras_float32_bounds(KERAS_EPSILON.check(epsilon))
    g = reduce_vjp(grad_output, p.shape, reduction)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _shifted_clip_bce_vjp(g, p, y, low, high, low)  # the shift is the float32 epsilon, the lower bound


def _tf_keras_clip_distance(input: Any, target: Any, *, epsilon: float = 1e-7, **_: Any) -> np.ndarray:
    return _distance_to(input, *_tf_keras_float32_bounds(epsilon))


register(LossSpec(
    name="binary_cross_entropy_tf_keras",
    family="classification",
    forward=binary_cross_entropy_tf_keras,
    vjp=binary_cross_entropy_tf_keras_vjp,
    inputs=_PROBABILITY_INPUTS,
    params=(KERAS_EPSILON,),
    smoothness="C-infinity inside [fl32(epsilon), fl32(1 - fl32(epsilon))]; constant in p outside",
    kinks=(Kink("p = fl32(epsilon) or p = fl32(1 - fl32(epsilon)) (the clip, in float32)",
                "the gradient passes at the bound (TensorFlow's clip_by_value); 0 beyond it",
                _tf_keras_clip_distance, autograd_agrees=False),),
    references=(Reference("tf-keras, tf_keras/backend.py binary_crossentropy",
                          "https://github.com/keras-team/tf-keras/blob/master/tf_keras/backend.py"),),
    equivalents=(Equivalent("tf_keras", "tf_keras.losses.binary_crossentropy(from_logits=False)",
                            "in float32 (its default floatx): averages over the last axis first; its logs are "
                            "float32; no range checks; on float64 tensors it clips to the float64 [1e-7, 1 - 1e-7] "
                            "instead; a y_pred that is the output of a sigmoid op is replaced by its logits"),),
    derivation="docs/derivations/binary_cross_entropy.md",
))
