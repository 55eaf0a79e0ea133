"""Cosine embedding loss, as ``torch.nn.functional.cosine_embedding_loss``."""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_array, check_reduction, shape_of
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register
from refloss.losses.embedding.distances import _matching_vectors

__all__ = ["cosine_embedding_loss", "cosine_embedding_loss_vjp"]

# PyTorch's EPSILON, added to each squared norm; not a parameter there either. Measured in torch 2.14.1 (float64):
# it is 1e-12 rounded to float32, 9.999999960041972e-13 (x1 = x2 = (1e-7, 0) gives 0.9900990098618194, where
# 1e-12 itself would give 0.9900990099009901).
SQUARED_NORM_EPS = float(np.float32(1e-12))
MARGIN = Param("margin", 0.0, Interval(-math.inf, math.inf), "similarity below which a dissimilar pair costs "
               "nothing (PyTorch suggests [-1, 1])", grid=(-0.5, 0.5), sample=Interval(-1.0, 1.0, True, True))


def cosine_embedding_loss(input1: Any, input2: Any, target: Any, *, margin: float = 0.0,
                          reduction: str = "mean") -> Any:
    r"""Pull similar pairs (label 1) to cosine 1, push dissimilar pairs (label -1) below ``margin``.

    Definition:
        For pair :math:`n` with vectors :math:`x_1, x_2` (last dimension) and label :math:`y \in \{1, -1\}`,
        with :math:`w = x_1 \cdot x_2`, :math:`m_i = x_i \cdot x_i` and :math:`\epsilon = 10^{-12}` rounded to float32,
        :math:`9.999999960041972 \times 10^{-13}` (C1),

        .. math::
            c = \frac{w}{\sqrt{(m_1 + \epsilon)(m_2 + \epsilon)}}, \qquad
            \ell_n = \begin{cases} 1 - c & y = 1 \\ \max(0, c - \text{margin}) & y = -1 \end{cases}
            \qquad \text{(C2)}

    Gradient:
        .. math::
            \frac{\partial c}{\partial x_1} = \frac{x_2}{\sqrt{(m_1 + \epsilon)(m_2 + \epsilon)}}
            - c\, \frac{x_1}{m_1 + \epsilon}  \qquad \text{(C3)}

        (symmetrically for :math:`x_2`), times :math:`-1` for :math:`y = 1` and :math:`[c > \text{margin}]` for
        :math:`y = -1`. Labels get no gradient. Derivation: ``docs/derivations/embedding_losses.md``.

    Conventions:
        ``torch.nn.functional.cosine_embedding_loss`` exactly, including its :math:`\epsilon` inside each
        squared norm (PyTorch's ``EPSILON = 1e-12``, measured to be the float32 value even in float64; so a
        zero vector has cosine 0, and this cosine is not :func:`cosine_similarity`'s) and
        its strict test: at :math:`c = \text{margin}` a dissimilar pair gets gradient 0. Labels other than 1 and
        -1 are an error (PyTorch gives them a loss of 0). ``mean`` is over the pairs; the mean of no pairs is
        NaN. NaN propagates.

    Shapes:
        ``input1``, ``input2``: ``(N, D)`` or ``(D,)``; ``target``: ``(N,)`` or ``()``. Output: ``(N,)`` (or
        ``()``) for ``none``, a scalar otherwise.

    Args:
        input1: First vectors.
        input2: Second vectors.
        target: Labels 1 (similar) or -1 (dissimilar), integers or floats.
        margin: The margin for dissimilar pairs (default 0).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.cosine_embedding_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.cosine_embedding_loss.html

    Examples:
        >>> x1, x2 = [[3.0, 4.0], [1.0, 0.0]], [[4.0, 3.0], [0.0, 1.0]]
        >>> round(float(cosine_embedding_loss(x1, x2, [1, -1], margin=-0.5)), 12)  # ((1 - 0.96) + max(0, 0.5)) / 2
        0.27
    """
    a, b, labels, margin = _prepare(input1, input2, target, margin, reduction)
    c = _cosine(a, b)
    return reduce(anp.where(labels == 1, 1.0 - c, anp.maximum(c - margin, 0.0)), reduction)


def cosine_embedding_loss_vjp(grad_output: Any, input1: Any, input2: Any, target: Any, *, margin: float = 0.0,
                              reduction: str = "mean") -> tuple[np.ndarray, np.ndarray, None]:
    """Vector-Jacobian product of :func:`cosine_embedding_loss` w.r.t. ``(input1, input2, target)``; the labels
    get None. ``grad_output`` has the shape of the loss's output. See :func:`cosine_embedding_loss`, "Gradient".
    """
    a, b, labels, margin = _prepare(input1, input2, target, margin, reduction)
    g = reduce_vjp(grad_output, labels.shape, reduction)  # each pair's cotangent
    m1, m2 = np.sum(a * a, axis=-1) + SQUARED_NORM_EPS, np.sum(b * b, axis=-1) + SQUARED_NORM_EPS
    root = np.sqrt(m1 * m2)
    c = np.sum(a * b, axis=-1) / root
    with np.errstate(invalid="ignore"):
        slope = np.where(labels == 1, -1.0, np.where(c - margin > 0, 1.0, 0.0))  # d loss / d c
        slope = np.where(np.isnan(c), np.nan, slope)
        factor = (g * slope)[..., None]
        grad1 = factor * (b / root[..., None] - (c / m1)[..., None] * a)  # (C3)
        grad2 = factor * (a / root[..., None] - (c / m2)[..., None] * b)
    return grad1, grad2, None


def _cosine(a: Any, b: Any) -> Any:
    """c of (C2): PyTorch's formula, epsilon inside each squared norm."""
    m1 = anp.sum(a * a, axis=-1) + SQUARED_NORM_EPS
    m2 = anp.sum(b * b, axis=-1) + SQUARED_NORM_EPS
    return anp.sum(a * b, axis=-1) / anp.sqrt(m1 * m2)


def _prepare(input1: Any, input2: Any, target: Any, margin: Any, reduction: Any) -> tuple:
    a, b = _matching_vectors(input1, input2, ("input1", "input2"))
    check_reduction(reduction)
    shape = shape_of(a)
    if len(shape) not in (1, 2):
        raise ValueError(f"input1 must have shape (N, D) or (D,), got {shape}")
    labels = _labels(target, shape[:-1])
    return a, b, labels, MARGIN.check(margin)


def _labels(target: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The labels as float64 1 / -1, of one entry per pair; anything else is refused with what was found."""
    labels = as_array(target, "target")
    if labels.dtype.kind not in "iuf":
        raise TypeError(f"target must hold labels 1 and -1 (integers or floats), got dtype {labels.dtype}")
    if labels.shape != shape:
        raise ValueError(f"target must have shape {shape} (one label per pair), got {labels.shape}")
    labels = labels.astype(np.float64)
    bad = labels[(labels != 1) & (labels != -1)]
    if bad.size:
        raise ValueError(f"target must hold labels 1 and -1 only (PyTorch gives other labels a loss of 0), "
                         f"got {float(bad.flat[0])!r}")
    return labels


def _margin_distance(input1: Any, input2: Any, target: Any, *, margin: float = 0.0, **_: Any) -> Any:
    """How far each dissimilar pair's cosine is from the margin (similar pairs have no kink), and each vector from
    0: not a kink, but within sqrt(eps) = 1e-6 of a zero vector the cosine turns on that scale, finer than a
    finite difference's step."""
    a, b = np.asarray(input1, dtype=np.float64), np.asarray(input2, dtype=np.float64)
    c = _cosine(a, b)
    hinge = np.where(np.asarray(target) == 1, np.inf, np.abs(c - margin))
    return np.minimum(hinge, np.minimum(np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)))


register(LossSpec(
    name="cosine_embedding_loss",
    family="embedding",
    forward=cosine_embedding_loss,
    vjp=cosine_embedding_loss_vjp,
    inputs=(Input("input1", "vectors (N, D)", shape=("N", "D")),
            Input("input2", "vectors (N, D)", shape=("N", "D")),
            Input("target", "labels (N,): 1 similar, -1 dissimilar", shape=("N",), choices=(1.0, -1.0),
                  differentiable=False)),
    params=(MARGIN,),
    per_sample=True,
    smoothness="smooth for similar pairs; a kink where a dissimilar pair's cosine equals the margin",
    kinks=(Kink("c = margin for a pair labelled -1", "gradient 0, as PyTorch's clamp_min (strict c > margin); "
                "autograd's maximum gives half", _margin_distance, autograd_agrees=False),),
    references=(
        Reference("PyTorch, torch.nn.functional.cosine_embedding_loss",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.cosine_embedding_loss.html"),
    ),
    equivalents=(Equivalent("torch", "torch.nn.functional.cosine_embedding_loss",
                            "labels other than 1 and -1 give a loss of 0 there; refloss refuses them. Its EPSILON "
                            "1e-12 is the float32 value 9.999999960041972e-13, which refloss uses too"),),
    derivation="docs/derivations/embedding_losses.md",
))
