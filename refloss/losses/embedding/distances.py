"""Distances between embeddings, as ``torch.nn.functional.pairwise_distance`` and ``cosine_similarity``.

Both are registered as geometry (no reduction) with their VJPs; the embedding losses (cosine embedding, triplet)
are built on the same code.
"""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_grad_output, shape_of
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register

__all__ = ["cosine_similarity", "cosine_similarity_vjp", "pairwise_distance", "pairwise_distance_vjp"]

NORM_ORDER = Param("p", 2.0, Interval(1.0, math.inf, True, False), "order of the norm: a finite p >= 1",
                   grid=(1.0, 3.0), sample=Interval(1.0, 4.0, True, True))
DISTANCE_EPS = Param("eps", 1e-6, Interval(0.0, math.inf, True, False), "added to every difference before the "
                     "norm (keeps the gradient finite for equal vectors)", grid=(0.0, 0.5),
                     sample=Interval(0.0, 1.0, True, True))
KEEPDIM = Param("keepdim", False, Interval(), "keep the reduced last dimension (of size 1)", kind="boolean",
                grid=(True,))
COSINE_DIM = Param("dim", 1, Interval(-math.inf, math.inf), "the dimension along which the vectors lie",
                   kind="integer")
COSINE_EPS = Param("eps", 1e-8, Interval(0.0, math.inf, False, False), "lower clamp of each vector's norm",
                   grid=(0.5,), sample=Interval(1e-8, 1.0, True, True))

_TORCH_DOCS = "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.{}.html"


# ---- pairwise_distance ------------------------------------------------------------------------------------------

def pairwise_distance(x1: Any, x2: Any, *, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Any:
    r"""The p-norm distance between corresponding rows, with ``eps`` added to each difference (PyTorch's).

    Definition:
        Over the last dimension, with :math:`d = x_1 - x_2 + \epsilon` (D1),

        .. math::
            \operatorname{dist}(x_1, x_2) = \lVert d \rVert_p = \Bigl(\sum_k |d_k|^p\Bigr)^{1/p}  \qquad \text{(D2)}

    Gradient:
        .. math::
            \frac{\partial\, \operatorname{dist}}{\partial x_{1,k}} = \operatorname{sign}(d_k)
            \Bigl(\frac{|d_k|}{\lVert d\rVert_p}\Bigr)^{p-1}  \qquad \text{(D3)}

        and the negative for :math:`x_{2,k}`
        (:math:`d_k / \lVert d \rVert_2` for :math:`p = 2`). Derivation: ``docs/derivations/embedding_losses.md``.

    Conventions:
        ``torch.nn.functional.pairwise_distance`` exactly: ``eps`` is added to the difference, not to the
        distance (two equal vectors are :math:`\epsilon D^{1/p}` apart). Where the distance is 0 (``d = 0``,
        only with ``eps = 0``) the gradient is 0, as PyTorch's norm backward; for :math:`p = 1` an entry with
        :math:`d_k = 0` gets 0 (sign(0) = 0). Unlike PyTorch, ``p`` must be finite and at least 1 (PyTorch also
        takes 0, inf and even negative orders) and the two inputs must have the same shape (PyTorch
        broadcasts). NaN propagates.

    Shapes:
        ``x1``, ``x2``: ``(..., D)`` with at least one dimension, the same shape. Output: ``(...)``, or
        ``(..., 1)`` with ``keepdim``.

    Args:
        x1: First vectors.
        x2: Second vectors.
        p: Order of the norm (default 2).
        eps: Added to every difference (default 1e-6).
        keepdim: Keep the last dimension, of size 1.

    Returns:
        The distances in float64.

    References:
        PyTorch ``torch.nn.functional.pairwise_distance``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.pairwise_distance.html

    Examples:
        >>> float(pairwise_distance([3.0, 0.0], [0.0, 4.0], eps=0.0))  # sqrt(9 + 16)
        5.0
    """
    a, b, p, eps, keepdim = _prepare_distance(x1, x2, p, eps, keepdim)
    return _norm(a - b + eps, p, keepdim)


def pairwise_distance_vjp(grad_output: Any, x1: Any, x2: Any, *, p: float = 2.0, eps: float = 1e-6,
                          keepdim: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`pairwise_distance` w.r.t. ``(x1, x2)``.

    ``grad_output`` has the shape of the distances. See :func:`pairwise_distance`, "Gradient".
    """
    a, b, p, eps, keepdim = _prepare_distance(x1, x2, p, eps, keepdim)
    g = check_grad_output(grad_output, a.shape[:-1] + ((1,) if keepdim else ()))
    g = g if keepdim else g[..., None]
    grad = g * _norm_slope(a - b + eps, p)
    return grad, -grad


def _norm(d: Any, p: float, keepdim: bool = False) -> Any:
    """||d||_p over the last axis (D2), summed plainly as PyTorch does (no rescaling)."""
    if p == 2.0:
        return anp.sqrt(anp.sum(d * d, axis=-1, keepdims=keepdim))
    if p == 1.0:
        return anp.sum(anp.abs(d), axis=-1, keepdims=keepdim)
    return anp.sum(anp.abs(d) ** p, axis=-1, keepdims=keepdim) ** (1.0 / p)


def _norm_slope(d: np.ndarray, p: float) -> np.ndarray:
    """d ||d||_p / d d_k = sign(d_k) (|d_k| / ||d||_p)^(p - 1) (D3); 0 where the norm is 0, NaN in a row whose
    norm is NaN (as the oracle and PyTorch's norm backward)."""
    norm = _norm(d, p, keepdim=True)
    if p == 1.0:
        return np.where(np.isnan(norm), np.nan, np.sign(d))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.abs(d) / np.where(norm == 0, 1.0, norm)  # (|d_k| <= ||d||: no overflow)
        slope = np.sign(d) * (ratio if p == 2.0 else ratio ** (p - 1.0))
    return np.where(np.isnan(norm), np.nan, slope)


def _prepare_distance(x1: Any, x2: Any, p: Any, eps: Any, keepdim: Any) -> tuple:
    a, b = _matching_vectors(x1, x2, ("x1", "x2"))
    return a, b, NORM_ORDER.check(p), DISTANCE_EPS.check(eps), KEEPDIM.check(keepdim)


def _matching_vectors(first: Any, second: Any, names: tuple[str, str]) -> tuple[Any, Any]:
    """Two float64 arrays of vectors (at least one dimension) of the same shape."""
    a, b = as_real_array(first, names[0]), as_real_array(second, names[1])
    for name, array in zip(names, (a, b)):
        if len(shape_of(array)) == 0:
            raise ValueError(f"{name} must have shape (..., D), at least one dimension (the vectors'), got a scalar")
    if shape_of(a) != shape_of(b):
        raise ValueError(f"{names[1]} must have the same shape as {names[0]} {shape_of(a)}, got {shape_of(b)} "
                         "(refloss does not broadcast between the two sets of vectors)")
    return a, b


def _zero_distance(x1: Any, x2: Any, *, eps: float = 1e-6, p: float = 2.0, **_: Any) -> Any:
    """How far each pair is from distance 0 (the kink of the norm; for p = 1, any zero entry of the difference)."""
    d = np.asarray(x1, dtype=np.float64) - np.asarray(x2, dtype=np.float64) + eps
    return np.min(np.abs(d), axis=-1) if p == 1.0 else np.sqrt(np.sum(d * d, axis=-1))


register(LossSpec(
    name="pairwise_distance",
    family="embedding",
    kind="geometry",
    forward=pairwise_distance,
    vjp=pairwise_distance_vjp,
    inputs=(Input("x1", "vectors (N, D)", shape=("N", "D")), Input("x2", "vectors (N, D)", shape=("N", "D"))),
    params=(NORM_ORDER, DISTANCE_EPS, KEEPDIM),
    per_sample=True,
    smoothness="smooth where the difference has no zero entry (p = 1) or is not zero (p > 1)",
    kinks=(Kink("d = x1 - x2 + eps = 0", "gradient 0, as PyTorch's norm backward", _zero_distance,
                autograd_agrees=False),),
    references=(Reference("PyTorch, torch.nn.functional.pairwise_distance", _TORCH_DOCS.format("pairwise_distance")),),
    equivalents=(Equivalent("torch", "torch.nn.functional.pairwise_distance",
                            "also takes p = 0, inf and negative p, and broadcasts x1 against x2"),),
    derivation="docs/derivations/embedding_losses.md",
))


# ---- cosine_similarity ------------------------------------------------------------------------------------------

def cosine_similarity(x1: Any, x2: Any, *, dim: int = 1, eps: float = 1e-8) -> Any:
    r"""The cosine of the angle between corresponding vectors, each norm clamped below at ``eps`` (PyTorch's).

    Definition:
        Along ``dim``, with :math:`w = \sum_k x_{1,k} x_{2,k}`, :math:`n_i = \lVert x_i \rVert_2` and the clamped
        norms :math:`a = \max(n_1, \epsilon)`, :math:`b = \max(n_2, \epsilon)` (S1),

        .. math::
            \cos(x_1, x_2) = \frac{w}{a\, b}  \qquad \text{(S2)}

    Gradient:
        .. math::
            \frac{\partial \cos}{\partial x_1} = \frac{x_2}{a b} - \cos \cdot \frac{x_1}{n_1^2}\,[n_1 > \epsilon]
            \qquad \text{(S3)}

        and symmetrically for :math:`x_2`: a clamped norm is a constant. Derivation:
        ``docs/derivations/embedding_losses.md``.

    Conventions:
        ``torch.nn.functional.cosine_similarity`` in torch 2.14.1, measured: each norm is clamped separately
        (:math:`x_1 = x_2 = (10^{-4}, 0)` with ``eps = 1e-3`` gives 0.01, where the older
        :math:`\max(n_1 n_2, \epsilon)` gave 1e-5). The gradient is the derivative of that forward: a clamped
        norm is a constant (S3), and at :math:`n_1 = \epsilon` exactly the clamp is taken. PyTorch's gradient
        differs below the clamp (measured): it keeps the norm's pull, :math:`x_2/(ab) - (\cos / a)\, x_1 / n_1`
        (at :math:`x_1 = (0.1, 0.2)`, :math:`x_2 = (1, 0.5)`, ``eps = 0.5``: (1.46885, 0.25443), refloss
        (1.78885, 0.89443)); the values agree. A zero vector has similarity 0 and gradient
        :math:`x_2 / (\epsilon b)` (as PyTorch). Unlike PyTorch, the inputs must have the same shape (no
        broadcasting). NaN propagates.

    Shapes:
        ``x1``, ``x2``: the same shape, with a dimension ``dim`` (default 1: ``(N, D)``). Output: the shape
        without ``dim``.

    Args:
        x1: First vectors.
        x2: Second vectors.
        dim: The dimension of the vectors (default 1, as PyTorch; negative counts from the end).
        eps: Lower clamp of each norm (default 1e-8), > 0.

    Returns:
        The cosine similarities in float64.

    References:
        PyTorch ``torch.nn.functional.cosine_similarity``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.cosine_similarity.html

    Examples:
        >>> float(cosine_similarity([[3.0, 4.0]], [[4.0, 3.0]])[0])  # 24 / 25
        0.96
    """
    a, b, axis, eps = _prepare_cosine(x1, x2, dim, eps)
    return _cosine(a, b, axis, eps)


def cosine_similarity_vjp(grad_output: Any, x1: Any, x2: Any, *, dim: int = 1,
                          eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`cosine_similarity` w.r.t. ``(x1, x2)``.

    ``grad_output`` has the shape of the similarities. See :func:`cosine_similarity`, "Gradient".
    """
    a, b, axis, eps = _prepare_cosine(x1, x2, dim, eps)
    g = np.expand_dims(check_grad_output(grad_output, a.shape[:axis] + a.shape[axis + 1:]), axis)
    grad1, grad2 = _cosine_slopes(a, b, axis, eps)
    return g * grad1, g * grad2


def _cosine(a: Any, b: Any, axis: int, eps: float) -> Any:
    """w / (max(n1, eps) max(n2, eps)) (S1), (S2)."""
    n1 = anp.sqrt(anp.sum(a * a, axis=axis))
    n2 = anp.sqrt(anp.sum(b * b, axis=axis))
    return anp.sum(a * b, axis=axis) / (anp.maximum(n1, eps) * anp.maximum(n2, eps))


def _cosine_slopes(a: np.ndarray, b: np.ndarray, axis: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(d cos / d x1, d cos / d x2) (S3), both of the inputs' shape."""
    n1 = np.sqrt(np.sum(a * a, axis=axis, keepdims=True))
    n2 = np.sqrt(np.sum(b * b, axis=axis, keepdims=True))
    clamped1, clamped2 = np.maximum(n1, eps), np.maximum(n2, eps)
    cos = np.sum(a * b, axis=axis, keepdims=True) / (clamped1 * clamped2)
    with np.errstate(invalid="ignore", divide="ignore"):
        # a norm above eps is the norm itself: cos x / n^2, written (cos / n) (x / n) so that n^2 cannot overflow
        pull1 = np.where(n1 > eps, (cos / np.where(n1 > eps, n1, 1.0)) * (a / np.where(n1 > eps, n1, 1.0)), 0.0)
        pull2 = np.where(n2 > eps, (cos / np.where(n2 > eps, n2, 1.0)) * (b / np.where(n2 > eps, n2, 1.0)), 0.0)
        grad1 = b / (clamped1 * clamped2) - pull1
        grad2 = a / (clamped1 * clamped2) - pull2
    nan = np.isnan(cos)  # a NaN anywhere in a pair poisons the pair's whole gradient (as the norms do)
    return np.where(nan, np.nan, grad1), np.where(nan, np.nan, grad2)


def _prepare_cosine(x1: Any, x2: Any, dim: Any, eps: Any) -> tuple:
    a, b = _matching_vectors(x1, x2, ("x1", "x2"))
    ndim = len(shape_of(a))
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an integer, got {dim!r} of type {type(dim).__name__}")
    if not -ndim <= dim < ndim:
        raise ValueError(f"dim must be in [{-ndim}, {ndim}) for inputs of shape {shape_of(a)}, got {dim}")
    return a, b, int(dim) % ndim, COSINE_EPS.check(eps)


def _norm_at_eps(x1: Any, x2: Any, *, eps: float = 1e-8, dim: int = 1, **_: Any) -> Any:
    """How far each pair is from a norm equal to eps (the clamp's kink)."""
    n1 = np.sqrt(np.sum(np.square(np.asarray(x1, dtype=np.float64)), axis=dim))
    n2 = np.sqrt(np.sum(np.square(np.asarray(x2, dtype=np.float64)), axis=dim))
    return np.minimum(np.abs(n1 - eps), np.abs(n2 - eps))


register(LossSpec(
    name="cosine_similarity",
    family="embedding",
    kind="geometry",
    forward=cosine_similarity,
    vjp=cosine_similarity_vjp,
    inputs=(Input("x1", "vectors (N, D)", shape=("N", "D")), Input("x2", "vectors (N, D)", shape=("N", "D"))),
    params=(COSINE_DIM, COSINE_EPS),
    per_sample=True,
    smoothness="smooth except where a vector's norm equals eps (the clamp)",
    kinks=(Kink("||x1|| = eps or ||x2|| = eps", "the clamp is taken: that norm gets no gradient (PyTorch's "
                "clamp_min)", _norm_at_eps, autograd_agrees=False),),
    references=(Reference("PyTorch, torch.nn.functional.cosine_similarity", _TORCH_DOCS.format("cosine_similarity")),),
    equivalents=(Equivalent("torch", "torch.nn.functional.cosine_similarity",
                            "broadcasts x1 against x2; where a norm is below eps its gradient is not the derivative "
                            "of its forward (it keeps the clamped norm's pull -(cos / a) x1 / n1: x1 = (0.1, 0.2), "
                            "x2 = (1, 0.5), eps = 0.5 give d/dx1 = (1.46885, 0.25443), refloss (1.78885, 0.89443))"),),
    derivation="docs/derivations/embedding_losses.md",
))
