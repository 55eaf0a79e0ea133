"""Keras's categorical hinge loss and the Crammer-Singer multi-class hinge loss of optax, one loss per sample."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_matching_pair, as_real_array, check_reduction, shape_of
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Reference, register
from refloss.losses.classification._labels import check_class_indices

__all__ = ["categorical_hinge_loss", "categorical_hinge_loss_vjp", "multiclass_hinge_loss",
           "multiclass_hinge_loss_vjp"]


def categorical_hinge_loss(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Categorical hinge loss as Keras computes it: the target's score should beat the best other one by 1.

    Definition:
        For a sample with scores :math:`x` and target weights :math:`t` (a one-hot row, or any real row) over
        :math:`C` classes,

        .. math::
            p = \sum_c t_c x_c, \qquad n = \max_c\, (1 - t_c)\, x_c  \qquad \text{(C1)}

        .. math::
            \ell = \max(0,\; 1 + n - p)  \qquad \text{(C2)}

        With a one-hot :math:`t` for class :math:`y`, :math:`p = x_y` and
        :math:`n = \max(0, \max_{c \ne y} x_c)`: the target's own entry enters the maximum as
        :math:`0 \cdot x_y = 0`, so other scores below 0 count as 0 (Keras's formula, kept exactly).

    Gradient:
        With the active factor :math:`a = [z > 0]` of :math:`z = 1 + n - p` (:math:`\tfrac12` at :math:`z = 0`)
        and the share :math:`s_c` of class :math:`c` in the maximum (1 for the unique maximiser, :math:`1/k`
        for each of :math:`k` tied ones, 0 otherwise) (C3),

        .. math::
            \frac{\partial \ell}{\partial x_c} = a\,\bigl((1 - t_c)\, s_c - t_c\bigr), \qquad
            \frac{\partial \ell}{\partial t_c} = -a\, x_c\, (1 + s_c)  \qquad \text{(C4, C5)}

        Derivation: ``docs/derivations/categorical_hinge_loss.md``.

    Conventions:
        ``keras.losses.categorical_hinge`` (one value per sample; refloss's ``mean`` is Keras's default
        ``sum_over_batch_size``). Ties are split equally, in the maximum and at the margin :math:`z = 0`
        (:math:`a = \tfrac12`), as JAX (Keras's backend here) and autograd differentiate ``max`` and
        ``maximum``; PyTorch's hinge losses would give 0 at the margin. The target is differentiable, as in
        Keras. Rows of any real targets are accepted (Keras documents one-hot or :math:`\{-1, 1\}` rows; refloss
        does not map :math:`\{-1, 1\}` to :math:`\{0, 1\}`, and neither does Keras here). ``mean`` of no sample
        is NaN. NaN propagates; an infinite target score gives :math:`0 \cdot \infty` = NaN in :math:`n`, as
        in Keras.

    Shapes:
        ``input``: ``(N, C)`` or ``(C,)``; ``target``: the same shape. Output: ``(N,)`` (or ``()``) for
        ``none``, a scalar otherwise.

    Args:
        input: Scores :math:`x`.
        target: Target rows :math:`t` (one-hot rows, typically).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Keras ``keras.losses.categorical_hinge``:
        https://keras.io/api/losses/hinge_losses/#categoricalhinge-function.
        Crammer, K., Singer, Y. "On the Algorithmic Implementation of Multiclass Kernel-based Vector Machines",
        JMLR 2, 2001: https://www.jmlr.org/papers/v2/crammer01a.html.

    Examples:
        >>> float(categorical_hinge_loss([[0.5, 2.0, 1.0]], [[0.0, 0.0, 1.0]]))  # max(0, 1 + 2 - 1)
        2.0
        >>> float(categorical_hinge_loss([[-1.0, -2.0, 0.5]], [[0.0, 0.0, 1.0]]))  # n = max(-1, -2, 0) = 0
        0.5
    """
    x, t, class_axis = _prepare_rows(input, target, reduction)
    positive = anp.sum(t * x, axis=class_axis)  # (C1)
    negative = anp.max((1.0 - t) * x, axis=class_axis)
    return reduce(anp.maximum(0.0, 1.0 + negative - positive), reduction)  # (C2)


def categorical_hinge_loss_vjp(grad_output: Any, input: Any, target: Any, *,
                               reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`categorical_hinge_loss` with respect to ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`categorical_hinge_loss`, "Gradient".
    """
    x, t, class_axis = _prepare_rows(input, target, reduction)
    g = reduce_vjp(grad_output, x.shape[:class_axis], reduction)
    with np.errstate(invalid="ignore"):
        others = (1.0 - t) * x
        share = _max_share(others, class_axis)  # (C3)
        z = 1.0 + np.max(others, axis=class_axis) - np.sum(t * x, axis=class_axis)
        active = np.where(z > 0, 1.0, np.where(z < 0, 0.0, 0.5))  # NaN z: 0.5 times NaN slopes below
        factor = np.expand_dims(g * active, class_axis)
        grad_x = factor * ((1.0 - t) * share - t)  # (C4)
        grad_t = factor * -(x * (1.0 + share))  # (C5)
    return grad_x, grad_t


def multiclass_hinge_loss(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Crammer-Singer multi-class hinge loss, as ``optax.losses.multiclass_hinge_loss``.

    Definition:
        For a sample with scores :math:`x` over :math:`C` classes and target class :math:`y`, with
        :math:`v_c = x_c + 1 - \delta_{cy}` (M1),

        .. math::
            \ell = \max_c v_c - x_y = \max\bigl(0,\; 1 + \max_{c \ne y} x_c - x_y\bigr)  \qquad \text{(M2)}

    Gradient:
        With the share :math:`s_c` of class :math:`c` in :math:`\max_c v_c` (1 for the unique maximiser,
        :math:`1/k` for each of :math:`k` tied ones) (M3),

        .. math::
            \frac{\partial \ell}{\partial x_c} = s_c - \delta_{cy}  \qquad \text{(M4)}

        Class indices get no gradient. Derivation: ``docs/derivations/multiclass_hinge_loss.md``.

    Conventions:
        optax's formula and gradient exactly: at the margin (:math:`x_y = 1 + \max_{c \ne y} x_c`) the target's
        own :math:`v_y = x_y` ties with the best other class and the two share the slope (JAX's ``max``, and
        autograd's, split ties equally). Unlike PyTorch's ``multi_margin_loss`` (Weston-Watkins: a sum over
        the other classes, divided by :math:`C`) only the best other class counts, with no :math:`1/C`. optax
        returns one value per sample; refloss's ``mean`` averages them. Class indices in :math:`[0, C)`.
        ``mean`` of no sample is NaN. NaN propagates.

    Shapes:
        ``input``: ``(N, C)`` or ``(C,)``; ``target``: ``(N,)`` or ``()`` of integers. Output: ``(N,)`` (or
        ``()``) for ``none``, a scalar otherwise.

    Args:
        input: Scores :math:`x`.
        target: Class indices.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Crammer, K., Singer, Y. "On the Algorithmic Implementation of Multiclass Kernel-based Vector Machines",
        JMLR 2, 2001: https://www.jmlr.org/papers/v2/crammer01a.html.
        optax ``optax.losses.multiclass_hinge_loss``: https://optax.readthedocs.io/en/latest/api/losses.html

    Examples:
        >>> float(multiclass_hinge_loss([[0.5, 2.0, 1.0]], np.array([2])))  # max(0, 1 + 2 - 1)
        2.0
    """
    x, one_hot, class_axis = _prepare_indices(input, target, reduction)
    v = x + 1.0 - one_hot  # (M1)
    target_score = anp.sum(anp.where(one_hot == 1, x, 0.0), axis=class_axis)  # (an inf elsewhere: no inf * 0)
    return reduce(anp.max(v, axis=class_axis) - target_score, reduction)  # (M2)


def multiclass_hinge_loss_vjp(grad_output: Any, input: Any, target: Any, *,
                              reduction: str = "mean") -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`multiclass_hinge_loss` w.r.t. ``(input, target)``; indices get None.

    ``grad_output`` has the shape of the loss's output. See :func:`multiclass_hinge_loss`, "Gradient".
    """
    x, one_hot, class_axis = _prepare_indices(input, target, reduction)
    g = reduce_vjp(grad_output, x.shape[:class_axis], reduction)
    with np.errstate(invalid="ignore"):
        share = _max_share(x + 1.0 - one_hot, class_axis)  # (M3)
        return np.expand_dims(g, class_axis) * (share - one_hot), None  # (M4)


def _max_share(values: np.ndarray, axis: int) -> np.ndarray:
    """Each entry's share of the slope of ``max`` along ``axis``: 1/k for each of k tied maximisers, else 0; NaN
    in a row whose maximum is NaN."""
    top = np.max(values, axis=axis, keepdims=True)
    at_top = (values == top).astype(np.float64)
    count = np.sum(at_top, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isnan(top), np.nan, at_top / count)


def _check_rows(shape: tuple[int, ...]) -> int:
    if len(shape) not in (1, 2):
        raise ValueError(f"input must have shape (N, C) or (C,), got {shape}")
    if shape[-1] == 0:
        raise ValueError(f"input must have at least one class (C >= 1), got shape {shape}")
    return len(shape) - 1


def _prepare_rows(input: Any, target: Any, reduction: str) -> tuple[Any, np.ndarray, int]:
    x, t = as_matching_pair(input, target, reduction)
    return x, t, _check_rows(shape_of(x))


def _prepare_indices(input: Any, target: Any, reduction: str) -> tuple[Any, np.ndarray, int]:
    x = as_real_array(input, "input")
    check_reduction(reduction)
    shape = shape_of(x)
    class_axis = _check_rows(shape)
    labels = check_class_indices(target, shape, class_axis)
    one_hot = (labels[..., None] == np.arange(shape[-1])).astype(np.float64)
    return x, one_hot, class_axis


# ---- kinks: where the maximum is tied, and where the categorical hinge meets its margin --------------------------

def _gap_to_tie(values: np.ndarray) -> np.ndarray:
    """Per row (broadcast over its classes): the gap between the largest and the second largest value (0: a tie)."""
    if values.shape[-1] < 2:
        return np.full(values.shape, np.inf)
    top_two = -np.sort(-values, axis=-1)[..., :2]
    return np.broadcast_to((top_two[..., :1] - top_two[..., 1:2]), values.shape)


def _categorical_tie_distance(input: Any, target: Any, **_: Any) -> Any:
    x, t = np.asarray(input, dtype=np.float64), np.asarray(target, dtype=np.float64)
    return _gap_to_tie((1.0 - t) * x)


def _categorical_margin_distance(input: Any, target: Any, **_: Any) -> Any:
    x, t = np.asarray(input, dtype=np.float64), np.asarray(target, dtype=np.float64)
    z = 1.0 + np.max((1.0 - t) * x, axis=-1, keepdims=True) - np.sum(t * x, axis=-1, keepdims=True)
    return np.broadcast_to(np.abs(z), x.shape)


def _multiclass_tie_distance(input: Any, target: Any, **_: Any) -> Any:
    x = np.asarray(input, dtype=np.float64)
    one_hot = np.asarray(target)[..., None] == np.arange(x.shape[-1])
    return _gap_to_tie(x + 1.0 - one_hot)


_CRAMMER_SINGER = Reference("Crammer, Singer. On the Algorithmic Implementation of Multiclass Kernel-based Vector "
                            "Machines. JMLR 2, 2001", "https://www.jmlr.org/papers/v2/crammer01a.html")

register(LossSpec(
    name="categorical_hinge_loss",
    family="classification",
    forward=categorical_hinge_loss,
    vjp=categorical_hinge_loss_vjp,
    inputs=(Input("input", "scores (N, C)", shape=("N", "C")),
            Input("target", "target rows (N, C): one-hot, or any real weights", shape=("N", "C"),
                  sample=Interval(0.0, 1.0, True, True))),
    params=(),
    per_sample=True,
    smoothness="piecewise linear in the scores (bilinear in scores and targets); kinks at the margin and at ties",
    kinks=(Kink("z = 1 + n - p = 0 (the margin)", "half the slope (a = 1/2), as JAX's and autograd's maximum",
                _categorical_margin_distance),
           Kink("a tie in n = max_c (1 - t_c) x_c", "the tied classes share the slope equally, as JAX's and "
                "autograd's max", _categorical_tie_distance)),
    references=(
        Reference("Keras, keras.losses.categorical_hinge",
                  "https://keras.io/api/losses/hinge_losses/#categoricalhinge-function"),
        _CRAMMER_SINGER,
    ),
    equivalents=(Equivalent("keras", "keras.losses.categorical_hinge",
                            "one value per sample (the class axis is the last); the same ties and margin "
                            "convention (JAX splits them equally)"),),
))

register(LossSpec(
    name="multiclass_hinge_loss",
    family="classification",
    forward=multiclass_hinge_loss,
    vjp=multiclass_hinge_loss_vjp,
    inputs=(Input("input", "scores (N, C)", shape=("N", "C")),
            Input("target", "class indices (N,) in [0, C)", shape=("N",), kind="int", classes="C",
                  differentiable=False)),
    params=(),
    per_sample=True,
    smoothness="piecewise linear; kinks where the maximum of x_c + 1 - [c = y] is tied (the margin among them)",
    kinks=(Kink("a tie in max_c (x_c + 1 - [c = y]) (the margin x_y = 1 + max_{c != y} x_c among them)",
                "the tied classes share the slope equally, as optax (JAX's max) and autograd",
                _multiclass_tie_distance),),
    references=(
        _CRAMMER_SINGER,
        Reference("optax, optax.losses.multiclass_hinge_loss",
                  "https://optax.readthedocs.io/en/latest/api/losses.html"),
    ),
    equivalents=(Equivalent("optax", "optax.losses.multiclass_hinge_loss",
                            "one value per sample (scores with classes on the last axis, integer labels)"),),
))
