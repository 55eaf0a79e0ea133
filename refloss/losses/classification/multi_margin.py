"""Multi-class margin (hinge) loss, as ``torch.nn.functional.multi_margin_loss``."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_grad_output, check_reduction, shape_of
from refloss._reduction import reduce
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register
from refloss.losses.classification._labels import check_class_indices, check_class_weight
from refloss.losses.classification.cross_entropy import CLASS_WEIGHT, _class_weight, _value

__all__ = ["multi_margin_loss", "multi_margin_loss_vjp"]

POWER = Param("p", 1, Interval(1.0, 2.0, True, True), "exponent of each margin violation: 1 or 2", kind="integer",
              grid=(2,))
MARGIN = Param("margin", 1.0, Interval(-math.inf, math.inf), "required gap between the target's score and the "
               "others", grid=(0.5, 2.0), sample=Interval(0.25, 2.0, True, True))


def multi_margin_loss(input: Any, target: Any, *, reduction: str = "mean", p: int = 1, margin: float = 1.0,
                      weight: Any = None) -> Any:
    r"""Multi-class hinge loss: every other class's score should trail the target's by ``margin``.

    Definition:
        For sample :math:`n` with scores :math:`x` (C classes) and target class :math:`y`, let
        :math:`z_i = \text{margin} - x_y + x_i` (M1). Then

        .. math::
            \ell_n = \frac{w_y}{C} \sum_{i \ne y} \max(0, z_i)^p  \qquad \text{(M2)}

        with :math:`p \in \{1, 2\}` and :math:`w_y = 1` without ``weight``. ``mean`` divides by the number of
        samples (weights are not in the denominator).

    Gradient:
        With the active set :math:`a_i = [z_i > 0]` (M3),

        .. math::
            \frac{\partial \ell_n}{\partial x_i} = \frac{w_y}{C}\, p\, z_i^{p-1} a_i \;(i \ne y), \qquad
            \frac{\partial \ell_n}{\partial x_y} = -\sum_{i \ne y} \frac{\partial \ell_n}{\partial x_i}
            \qquad \text{(M4)}

        Class indices get no gradient. Derivation: ``docs/derivations/multi_margin_loss.md``.

    Conventions:
        ``torch.nn.functional.multi_margin_loss`` exactly, including its test ``z > 0``: a score exactly at the
        margin (:math:`z_i = 0`) contributes no gradient for :math:`p = 1` (JAX's ``maximum`` would give half).
        ``p`` must be 1 or 2 (PyTorch's restriction); class indices in ``[0, C)``; weights non-negative, shape
        ``(C,)``. ``mean`` of an empty batch is NaN. NaN propagates.

    Shapes:
        ``input``: ``(N, C)`` or ``(C,)``; ``target``: ``(N,)`` or ``()`` of integers; ``weight``: ``(C,)``.
        Output: ``(N,)`` (or ``()``) for ``none``, a scalar otherwise.

    Args:
        input: Scores :math:`x`.
        target: Class indices.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        p: 1 (hinge) or 2 (squared hinge).
        margin: The margin (default 1).
        weight: Optional non-negative weight per class (of the target class).

    Returns:
        The loss in float64.

    References:
        Weston, J., Watkins, C. "Support Vector Machines for Multi-Class Pattern Recognition", ESANN 1999:
        https://www.esann.org/sites/default/files/proceedings/legacy/es1999-461.pdf.
        PyTorch ``torch.nn.functional.multi_margin_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.multi_margin_loss.html

    Examples:
        >>> round(float(multi_margin_loss([[0.1, 0.2, 0.4, 0.8]], np.array([3]))), 12)  # (0.3 + 0.4 + 0.6) / 4
        0.325
    """
    x, one_hot, target_weight, power, margin, classes = _prepare(input, target, reduction, p, margin, weight)
    class_axis = x.ndim - 1 if np.ndim(_value(x)) else 0
    z = _margins(x, one_hot, margin, class_axis)
    violation = anp.maximum(0.0, z) * (1.0 - one_hot)  # the target's own term is excluded
    per_sample = target_weight / classes * anp.sum(violation ** power, axis=class_axis)  # (M2)
    return reduce(per_sample, reduction)  # mean over the samples


def multi_margin_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean", p: int = 1,
                          margin: float = 1.0, weight: Any = None) -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`multi_margin_loss` w.r.t. ``(input, target)``; class indices get None.

    ``grad_output`` has the shape of the loss's output. See :func:`multi_margin_loss`, "Gradient".
    """
    x, one_hot, target_weight, power, margin, classes = _prepare(input, target, reduction, p, margin, weight)
    class_axis = x.ndim - 1 if x.ndim else 0
    sample_shape = x.shape[:-1]
    g = check_grad_output(grad_output, sample_shape if reduction == "none" else ())
    g = np.broadcast_to(g, sample_shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        if reduction == "mean":
            g = g / np.float64(max(int(np.prod(sample_shape)), 0) or np.nan)
        z = _margins(x, one_hot, margin, class_axis)
        active = (z > 0) & (one_hot == 0)  # (M3) PyTorch's strict test
        slope = np.where(active, power * np.where(active, z, 1.0) ** (power - 1), 0.0)
        slope = np.where(np.isnan(z), np.nan, slope)
        others = np.expand_dims(g * target_weight / classes, class_axis) * slope  # (M4), i != y
        grad = others - one_hot * np.sum(others, axis=class_axis, keepdims=True)  # (M4), i = y
    return grad, None


def _margins(x: Any, one_hot: np.ndarray, margin: float, class_axis: int) -> Any:
    """z_i = margin - x_y + x_i (M1)."""
    # a selection with where, not x * one_hot: an infinite score elsewhere in the row must not make inf * 0 = NaN
    target_score = anp.sum(anp.where(one_hot == 1, x, 0.0), axis=class_axis, keepdims=True)
    return margin - target_score + x


def _prepare(input: Any, target: Any, reduction: str, p: Any, margin: Any, weight: Any) -> tuple:
    x = as_real_array(input, "input")
    check_reduction(reduction)
    shape = shape_of(x)
    if len(shape) not in (1, 2):
        raise ValueError(f"input must have shape (N, C) or (C,), got {shape}")
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"p must be 1 or 2 (as in PyTorch), got {p!r}")
    margin = MARGIN.check(margin)
    classes = shape[-1]
    labels = check_class_indices(target, shape, len(shape) - 1)
    weight = check_class_weight(weight, "weight", classes)
    one_hot = (labels[..., None] == np.arange(classes)).astype(np.float64)
    class_weight = _class_weight(weight, classes, 1, 0)
    target_weight = np.sum(one_hot * class_weight, axis=-1)  # w_y per sample
    return x, one_hot, target_weight, int(p), margin, classes


def _margin_distance(input: Any, target: Any, *, margin: float = 1.0, **_: Any) -> Any:
    x = np.asarray(input, dtype=np.float64)
    one_hot = (np.asarray(target)[..., None] == np.arange(x.shape[-1]))
    z = margin - np.sum(np.where(one_hot, x, 0.0), axis=-1, keepdims=True) + x
    return np.where(one_hot, np.inf, np.abs(z))


register(LossSpec(
    name="multi_margin_loss",
    family="classification",
    forward=multi_margin_loss,
    vjp=multi_margin_loss_vjp,
    inputs=(Input("input", "scores (N, C)", shape=("N", "C")),
            Input("target", "class indices (N,) in [0, C)", shape=("N",), kind="int", classes="C",
                  differentiable=False)),
    params=(POWER, MARGIN, CLASS_WEIGHT),
    per_sample=True,
    smoothness="piecewise linear (p = 1) or C1 (p = 2) in the scores; kinks where a margin is met exactly",
    kinks=(Kink("z_i = margin - x_y + x_i = 0", "0 for p = 1, as PyTorch (z > 0); autograd's maximum splits the "
                "tie", _margin_distance, autograd_agrees=False),),
    references=(
        Reference("Weston, Watkins. Support Vector Machines for Multi-Class Pattern Recognition. ESANN 1999",
                  "https://www.esann.org/sites/default/files/proceedings/legacy/es1999-461.pdf"),
        Reference("PyTorch, torch.nn.functional.multi_margin_loss",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.multi_margin_loss.html"),
    ),
    equivalents=(Equivalent("torch", "torch.nn.functional.multi_margin_loss"),),
))
