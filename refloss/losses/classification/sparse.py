"""Multiclass sparsemax loss (Martins & Astudillo 2016), as ``optax.losses.multiclass_sparsemax_loss``."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_reduction, shape_of
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Kink, LossSpec, Reference, register
from refloss.losses.classification._labels import check_class_indices

__all__ = ["sparsemax_loss", "sparsemax_loss_vjp"]


def sparsemax_loss(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Multiclass sparsemax loss: the Fenchel-Young loss of sparsemax, with class-index targets.

    Definition:
        For one sample with scores :math:`z` (C classes along the last axis) and target class :math:`k`, shift
        the scores by the target's, :math:`w = z - z_k` (S1; every quantity below is shift-invariant and
        :math:`w_k = 0` exactly). Sparsemax is the Euclidean projection of :math:`w` onto the simplex,
        :math:`p_j = \max(w_j - \tau, 0)`, with the threshold

        .. math::
            \tau = \frac{\sum_{j \in S} w_j - 1}{|S|}, \qquad
            S = \{ j : 1 + r(j)\, w_j > \sum_{i:\, r(i) \le r(j)} w_i \}  \qquad \text{(S2)}

        where :math:`r(j)` is the rank of :math:`w_j` in decreasing order (the support :math:`S` is the top
        :math:`|S|` scores). The loss is

        .. math::
            \ell = \tau + \tfrac{1}{2}\Big(1 + \sum_j p_j^2\Big)  \qquad \text{(S3)}

        equal to Martins & Astudillo's :math:`-z_k + \tfrac12 \sum_{j \in S}(z_j^2 - \tau_z^2) + \tfrac12` and
        to optax's :math:`\sum_j p_j (z_j - z_k) + \tfrac12 (1 - \sum_j p_j^2)`. It is 0 exactly when
        :math:`p` is the target's one-hot vector, and positive otherwise. ``mean`` divides by the number of
        samples.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial z_j} = p_j - [j = k]  \qquad \text{(S4)}

        continuous in :math:`z` (the loss is C1: only its second derivative jumps, where a score enters or leaves
        the support). Class indices get no gradient. Derivation: ``docs/derivations/sparsemax_loss.md``.

    Conventions:
        ``optax.losses.multiclass_sparsemax_loss`` (classes on the last axis). Ties in the scores need no
        convention: the projection is unique. A NaN score makes its row's loss and gradients NaN; infinite scores
        are not supported (the shift :math:`z - z_k` is then NaN or infinite, and so is the result).
        ``mean`` of an empty batch is NaN.

    Shapes:
        ``input``: ``(N, C)`` or ``(C,)``; ``target``: ``(N,)`` or ``()`` of integers in ``[0, C)``. Output:
        ``(N,)`` (or ``()``) for ``none``, a scalar otherwise.

    Args:
        input: Scores :math:`z`.
        target: Class indices.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Martins, A. F. T., Astudillo, R. F. "From Softmax to Sparsemax: A Sparse Model of Attention and
        Multi-Label Classification", ICML 2016: https://arxiv.org/abs/1602.02068.
        optax ``optax.losses.multiclass_sparsemax_loss``:
        https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.multiclass_sparsemax_loss

    Examples:
        >>> # w = [-0.1, 0, -0.9]: S = {0, 1}, tau = -0.55, p = [0.45, 0.55, 0], loss = -0.55 + (1 + 0.505) / 2
        >>> round(float(sparsemax_loss([[0.0, 0.1, -0.8]], np.array([1]))), 12)
        0.2025
    """
    z, one_hot = _prepare(input, target, reduction)
    w = z - anp.sum(anp.where(one_hot, z, 0.0), axis=-1, keepdims=True)  # (S1) w_k = 0 exactly
    support = _support(_value(w))
    size = np.sum(support, axis=-1, keepdims=True)
    tau = (anp.sum(anp.where(support, w, 0.0), axis=-1, keepdims=True) - 1.0) / size  # (S2)
    p = anp.where(support, w - tau, 0.0)
    per_sample = tau[..., 0] + 0.5 * (1.0 + anp.sum(p * p, axis=-1))  # (S3)
    return reduce(per_sample, reduction)


def sparsemax_loss_vjp(grad_output: Any, input: Any, target: Any, *,
                       reduction: str = "mean") -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`sparsemax_loss` w.r.t. ``(input, target)``; class indices get None.

    ``grad_output`` has the shape of the loss's output. See :func:`sparsemax_loss`, "Gradient".
    """
    z, one_hot = _prepare(input, target, reduction)
    g = reduce_vjp(grad_output, z.shape[:-1], reduction)[..., None]
    w = z - np.sum(np.where(one_hot, z, 0.0), axis=-1, keepdims=True)  # (S1): exact for nearby scores (Sterbenz)
    with np.errstate(invalid="ignore"):
        return g * (sparsemax(w) - one_hot), None  # (S4)


def sparsemax(z: np.ndarray) -> np.ndarray:
    """The sparsemax of each row (last axis): the Euclidean projection onto the probability simplex (S2)."""
    support = _support(z)
    tau = (np.sum(np.where(support, z, 0.0), axis=-1, keepdims=True) - 1.0) / np.sum(support, axis=-1, keepdims=True)
    p = np.where(support, z - tau, 0.0)
    return np.where(np.any(np.isnan(z), axis=-1, keepdims=True), np.nan, p)


def _support(z: np.ndarray) -> np.ndarray:
    """The support S of sparsemax(z) as a mask (S2): the top k scores, k the largest rank with 1 + k z_(k) >
    z_(1) + ... + z_(k). A row with a NaN gets the full mask (its result is NaN either way)."""
    ranked = -np.sort(-z, axis=-1)  # decreasing
    ranks = np.arange(1, z.shape[-1] + 1)
    with np.errstate(invalid="ignore"):
        inside = 1.0 + ranks * ranked > np.cumsum(ranked, axis=-1)  # true for a prefix of the ranks
    size = np.sum(inside, axis=-1, keepdims=True)
    threshold = np.take_along_axis(ranked, np.maximum(size, 1) - 1, axis=-1)  # the smallest score in S
    mask = z >= threshold  # (ties at the threshold: p = 0 on either side, so including them changes nothing)
    return mask | np.any(np.isnan(z), axis=-1, keepdims=True)


def _value(x: Any) -> np.ndarray:
    return x._value if hasattr(x, "_value") else x


def _prepare(input: Any, target: Any, reduction: Any) -> tuple[Any, np.ndarray]:
    z = as_real_array(input, "input")
    check_reduction(reduction)
    shape = shape_of(z)
    if len(shape) not in (1, 2):
        raise ValueError(f"input must have shape (N, C) or (C,), got {shape}")
    labels = check_class_indices(target, shape, len(shape) - 1)
    return z, labels[..., None] == np.arange(shape[-1])


def _support_distance(input: Any, target: Any, **_: Any) -> np.ndarray:
    """How far each score is from entering or leaving the support: |z_j - tau| (second-order kink)."""
    z = np.asarray(input, dtype=np.float64)
    p = sparsemax(z)
    tau = np.max(z, axis=-1, keepdims=True) - np.max(p, axis=-1, keepdims=True)
    return np.abs(z - tau)


register(LossSpec(
    name="sparsemax_loss",
    family="classification",
    forward=sparsemax_loss,
    vjp=sparsemax_loss_vjp,
    inputs=(Input("input", "scores (N, C)", shape=("N", "C")),
            Input("target", "class indices (N,) in [0, C)", shape=("N",), kind="int", classes="C",
                  differentiable=False)),
    params=(),
    per_sample=True,
    smoothness="C1 in the scores: piecewise quadratic, the second derivative jumps where the support changes",
    kinks=(Kink("z_j = tau (a score enters or leaves the sparsemax support)", "none needed: the gradient "
                "p - onehot is continuous there", _support_distance, order=2),),
    references=(
        Reference("Martins, Astudillo. From Softmax to Sparsemax: A Sparse Model of Attention and Multi-Label "
                  "Classification. ICML 2016", "https://arxiv.org/abs/1602.02068"),
        Reference("optax, optax.losses.multiclass_sparsemax_loss",
                  "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.multiclass_sparsemax_loss"),
    ),
    equivalents=(Equivalent("optax", "optax.losses.multiclass_sparsemax_loss",
                            "(N, C) scores only (optax vmaps over the first axis: a (C,) input raises) and integer "
                            "labels (float labels fail as indices); optax's sum p_j (z_j - z_k) + (1 - sum p_j^2) / 2 "
                            "is the same number"),),
))
