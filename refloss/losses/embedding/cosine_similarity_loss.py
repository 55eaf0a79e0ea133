"""Cosine similarity loss, as ``keras.losses.cosine_similarity``: minus the cosine of the two vectors."""

from __future__ import annotations

import operator
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_reduction, check_same_shape, shape_of
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register

__all__ = ["cosine_similarity_loss", "cosine_similarity_loss_vjp"]

# Keras's backend.epsilon(): the smallest norm a vector is divided by
KERAS_EPSILON = 1e-7
AXIS = Param("axis", -1, Interval(-np.inf, np.inf), "the axis along which the vectors lie (an integer)",
             kind="integer")


def cosine_similarity_loss(input: Any, target: Any, *, axis: int = -1, reduction: str = "mean") -> Any:
    r"""Cosine similarity loss: minus the cosine of the angle between prediction and target, as Keras.

    Definition:
        Each vector is scaled by the inverse of its norm, clamped at Keras's epsilon
        :math:`\varepsilon = 10^{-7}`:

        .. math::
            \hat a = \frac{a}{\max(\lVert a \rVert_2, \varepsilon)}  \qquad \text{(C1)}

        and the loss of one pair of vectors (along ``axis``) is

        .. math::
            \ell = -\sum_i \hat a_i \hat b_i  \qquad \text{(C2)}

        a number in :math:`[-1, 1]`: :math:`-1` for vectors pointing the same way, 0 for orthogonal ones and
        whenever either vector is zero. ``mean`` divides by the number of pairs (Keras's
        ``sum_over_batch_size``).

    Gradient:
        With :math:`n_a = \max(\lVert a \rVert, \varepsilon)`,

        .. math::
            \frac{\partial \ell}{\partial a} = -\frac{\hat b + \ell\, \hat a}{n_a} \;\;
            (\lVert a \rVert > \varepsilon), \qquad
            \frac{\partial \ell}{\partial a} = -\frac{\hat b}{\varepsilon} \;\; (\lVert a \rVert \le
            \varepsilon)  \qquad \text{(C3)}

        and the same with :math:`a` and :math:`b` exchanged. Derivation:
        ``docs/derivations/cosine_similarity_loss.md``.

    Conventions:
        ``keras.losses.cosine_similarity(y_true=target, y_pred=input, axis)`` (Keras 3.15.1), whose
        normalisation multiplies by :math:`\min(1/\sqrt{\sum a_i^2}, 1/\varepsilon)`, the same as (C1). Below the
        epsilon the vector is scaled by the constant :math:`1/\varepsilon` and its gradient is that of the
        clamped branch, also at :math:`\lVert a \rVert = \varepsilon` exactly and for a zero vector (where Keras
        on JAX returns NaN). The sum of squares is not rescaled, as in Keras: beyond :math:`|a_i| \approx 10^{154}`
        it overflows and the loss is 0. ``optax.losses.cosine_similarity`` is the cosine with the opposite sign
        (and no epsilon by default: a zero vector gives NaN there). ``mean`` of nothing is NaN (Keras: 0).

    Shapes:
        ``input`` and ``target``: the same shape with at least one dimension, ``(N, D)`` typically. Output: the
        shape without ``axis`` for ``none``, a scalar otherwise.

    Args:
        input: The prediction :math:`a` (Keras's ``y_pred``).
        target: The target :math:`b` (Keras's ``y_true``).
        axis: The axis of the vectors (default -1, as Keras).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Keras ``keras.losses.cosine_similarity``:
        https://keras.io/api/losses/regression_losses/#cosine_similarity-function.
        optax ``optax.losses.cosine_similarity``:
        https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.cosine_similarity

    Examples:
        >>> # (1, 1) against (0, 1): cos = 1 / sqrt(2); (1, 2) against (-2, -4): cos = -1
        >>> cosine_similarity_loss([[1.0, 1.0], [1.0, 2.0]], [[0.0, 1.0], [-2.0, -4.0]], reduction="none")
        array([-0.70710678,  1.        ])
    """
    a, b, axis = _prepare(input, target, axis, reduction)
    per_pair = -anp.sum(_unit(a, axis) * _unit(b, axis), axis=axis)  # (C2)
    return reduce(per_pair, reduction)


def cosine_similarity_loss_vjp(grad_output: Any, input: Any, target: Any, *, axis: int = -1,
                               reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`cosine_similarity_loss` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`cosine_similarity_loss`, "Gradient".
    """
    a, b, axis = _prepare(input, target, axis, reduction)
    pair_shape = a.shape[:axis] + a.shape[axis + 1:]
    g = np.expand_dims(reduce_vjp(grad_output, pair_shape, reduction), axis)
    unit_a, unit_b = _unit(a, axis), _unit(b, axis)
    loss = -np.sum(unit_a * unit_b, axis=axis, keepdims=True)  # (C2)
    return g * _slope(a, unit_a, unit_b, loss, axis), g * _slope(b, unit_b, unit_a, loss, axis)


def _norm(x: Any, axis: int) -> Any:
    return anp.sqrt(anp.sum(x * x, axis=axis, keepdims=True))


def _unit(x: Any, axis: int) -> Any:
    """(C1): x / max(||x||, eps). The clamped branch also at ||x|| = eps (where, not maximum: autograd then takes
    that branch's derivative at the tie, as the VJP does). The square root only sees the sums of squares of the
    free branch (1 elsewhere): its infinite slope at a zero vector would otherwise reach autograd as 0 * inf."""
    squares = anp.sum(x * x, axis=axis, keepdims=True)
    free = np.sqrt(_value(squares)) > KERAS_EPSILON
    return x / anp.where(free, anp.sqrt(anp.where(free, squares, 1.0)), KERAS_EPSILON)


def _value(x: Any) -> np.ndarray:
    return x._value if hasattr(x, "_value") else x


def _slope(x: np.ndarray, unit_x: np.ndarray, unit_other: np.ndarray, loss: np.ndarray, axis: int) -> np.ndarray:
    """(C3): d loss / d x for one of the two vectors."""
    norm = _norm(x, axis)  # (the same test of the same rounded norm as _unit)
    with np.errstate(invalid="ignore"):
        free = -(unit_other + loss * unit_x) / np.where(norm > KERAS_EPSILON, norm, 1.0)
    clamped = np.where(np.isnan(norm), np.nan, -unit_other / KERAS_EPSILON)  # (a NaN norm fails the test too)
    return np.where(norm > KERAS_EPSILON, free, clamped)


def _prepare(input: Any, target: Any, axis: Any, reduction: Any) -> tuple[Any, Any, int]:
    a = as_real_array(input, "input")
    b = as_real_array(target, "target")
    check_reduction(reduction)
    check_same_shape(a, b, "input", "target")
    ndim = len(shape_of(a))
    if ndim == 0:
        raise ValueError("input must have shape (..., D) with at least one dimension (the vectors), got shape ()")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer, got {axis!r} of type {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis must be in [{-ndim}, {ndim}) for input with {ndim} dimensions, got {axis}")
    return a, b, operator.index(axis) % ndim


def _norm_distance(input: Any, target: Any, **params: Any) -> np.ndarray:
    """How far each pair is from the clamp's kink ||x|| = 1e-7, broadcast over the vectors: min(|n - eps|, n^2)
    over both norms n. The n^2 keeps samplers away from short vectors too: the derivatives of x / ||x|| grow as
    powers of 1 / n, and a finite difference with step 6e-6 at n = 0.004 is off by 1e-6 relative (measured)."""
    axis = params.get("axis", -1)
    a, b = np.asarray(input, dtype=np.float64), np.asarray(target, dtype=np.float64)
    norms = (_norm(a, axis), _norm(b, axis))
    distance = np.minimum.reduce([np.minimum(np.abs(n - KERAS_EPSILON), n * n) for n in norms])
    return np.broadcast_to(distance, a.shape)


register(LossSpec(
    name="cosine_similarity_loss",
    family="embedding",  # beside the other cosine losses (Keras files it under its regression losses)
    forward=cosine_similarity_loss,
    vjp=cosine_similarity_loss_vjp,
    inputs=(Input("input", "predicted vectors (N, D) (Keras's y_pred)", shape=("N", "D")),
            Input("target", "target vectors (N, D) (Keras's y_true)", shape=("N", "D"))),
    params=(AXIS,),
    per_sample=True,
    smoothness="C-infinity where both norms exceed Keras's epsilon 1e-7; the gradient jumps where a norm equals it",
    kinks=(Kink("||input|| = 1e-7 or ||target|| = 1e-7 (Keras's normalisation clamp)", "the clamped branch "
                "(constant norm 1e-7), also at equality and for a zero vector", _norm_distance),),
    references=(
        Reference("Keras, keras.losses.cosine_similarity",
                  "https://keras.io/api/losses/regression_losses/#cosine_similarity-function"),
        Reference("optax, optax.losses.cosine_similarity",
                  "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.cosine_similarity"),
    ),
    # (optax.losses.cosine_similarity is not an Equivalent: it is the cosine itself, the opposite sign, and the jax
    # adapter reads an Equivalent as the same computation; see the Conventions of the docstring)
    equivalents=(
        Equivalent("keras", "keras.losses.cosine_similarity",
                   "Keras takes (y_true, y_pred) = (target, input); a zero vector's own gradient is NaN on the JAX "
                   "backend (refloss: the clamped branch's -b_hat / 1e-7); Keras checks no shapes (a (2, 1) target "
                   "broadcasts); the Loss class returns float32 (floatx) even for float64 inputs; mean of nothing "
                   "is 0"),
    ),
))
