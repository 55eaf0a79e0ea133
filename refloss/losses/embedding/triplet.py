"""Triplet margin losses, as ``torch.nn.functional.triplet_margin_loss`` and
``triplet_margin_with_distance_loss`` (with a refloss distance chosen by name)."""

from __future__ import annotations

import math
from typing import Any, Callable

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_real_array, check_reduction, shape_of
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register
from refloss.losses.embedding.distances import (DISTANCE_EPS, NORM_ORDER, _cosine, _cosine_slopes, _norm,
                                                _norm_at_eps, _norm_slope)

__all__ = ["triplet_margin_loss", "triplet_margin_loss_vjp", "triplet_margin_with_distance_loss",
           "triplet_margin_with_distance_loss_vjp"]

MARGIN = Param("margin", 1.0, Interval(0.0, math.inf, False, False), "required gap between the negative's and "
               "the positive's distance, > 0 (PyTorch's check)", grid=(0.5, 2.0),
               sample=Interval(0.25, 2.0, True, True))
SWAP = Param("swap", False, Interval(), "use min(d(a, n), d(p, n)) as the negative distance (Balntas et al.)",
             kind="boolean", grid=(True,))
COSINE_DISTANCE_EPS = 1e-8  # cosine_similarity's default, as torch's 1 - F.cosine_similarity(x, y)
DISTANCE_FUNCTION = Param("distance_function", "pairwise_distance", Interval(),
                          "the distance by name: 'pairwise_distance' (p = 2, eps = 1e-6; PyTorch's default) or "
                          "'cosine_distance' (1 - cosine_similarity along the last dimension, eps = 1e-8)",
                          kind="choice", choices=("pairwise_distance", "cosine_distance"),
                          grid=("cosine_distance",))

_TORCH_DOCS = "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.{}.html"
_BALNTAS = Reference("Balntas, Riba, Ponsa, Mikolajczyk. Learning local feature descriptors with triplets and "
                     "shallow convolutional neural networks. BMVC 2016", "https://doi.org/10.5244/C.30.119")
_SCHROFF = Reference("Schroff, Kalenichenko, Philbin. FaceNet: A Unified Embedding for Face Recognition and "
                     "Clustering. CVPR 2015", "https://arxiv.org/abs/1503.03832")


# ---- the triplet loss over any distance (T1)-(T3) ---------------------------------------------------------------

def _triplet(distance: Callable, anchor: Any, positive: Any, negative: Any, margin: float, swap: bool) -> Any:
    """Each triplet's max(0, margin + d(a, p) - d_neg) (T2), d_neg = d(a, n) or min(d(a, n), d(p, n)) (T1)."""
    negative_distance = distance(anchor, negative)
    if swap:
        negative_distance = anp.minimum(negative_distance, distance(positive, negative))
    return anp.maximum(margin + distance(anchor, positive) - negative_distance, 0.0)


def _triplet_vjp(distance: Callable, slopes: Callable, g: np.ndarray, anchor: np.ndarray, positive: np.ndarray,
                 negative: np.ndarray, margin: float, swap: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T3): the active triplets (z > 0, strict as PyTorch's clamp_min) pass their cotangent to d(a, p) with +1
    and to the negative distance with -1; with ``swap`` that -1 goes to the smaller of d(a, n) and d(p, n), split
    in halves at a tie (as torch.minimum). ``slopes(x, y)`` returns (d dist / dx, d dist / dy)."""
    positive_distance, anchor_negative = distance(anchor, positive), distance(anchor, negative)
    negative_distance = anchor_negative
    if swap:
        positive_negative = distance(positive, negative)
        negative_distance = np.minimum(anchor_negative, positive_negative)
    z = margin + positive_distance - negative_distance
    with np.errstate(invalid="ignore"):
        active = np.where(np.isnan(z), np.nan, np.where(z > 0, g, 0.0))
    share_an = np.ones_like(z)  # the part of the negative distance's cotangent that d(a, n) gets
    if swap:
        share_an = np.where(anchor_negative < positive_negative, 1.0,
                            np.where(anchor_negative == positive_negative, 0.5, 0.0))
    grad_a, grad_p = slopes(anchor, positive)
    grad_a, grad_p = active[..., None] * grad_a, active[..., None] * grad_p
    from_an_a, from_an_n = slopes(anchor, negative)
    grad_a = grad_a - (active * share_an)[..., None] * from_an_a
    grad_n = -(active * share_an)[..., None] * from_an_n
    if swap:
        from_pn_p, from_pn_n = slopes(positive, negative)
        grad_p = grad_p - (active * (1.0 - share_an))[..., None] * from_pn_p
        grad_n = grad_n - (active * (1.0 - share_an))[..., None] * from_pn_n
    return grad_a, grad_p, grad_n


def _prepare(anchor: Any, positive: Any, negative: Any, margin: Any, swap: Any, reduction: Any) -> tuple:
    arrays = [as_real_array(x, name) for x, name in ((anchor, "anchor"), (positive, "positive"),
                                                      (negative, "negative"))]
    shape = shape_of(arrays[0])
    if len(shape) not in (1, 2):
        raise ValueError(f"anchor must have shape (N, D) or (D,), got {shape}")
    for name, array in zip(("positive", "negative"), arrays[1:]):
        if shape_of(array) != shape:
            raise ValueError(f"{name} must have the same shape as anchor {shape}, got {shape_of(array)} (refloss "
                             "does not broadcast between the three inputs)")
    check_reduction(reduction)
    return (*arrays, MARGIN.check(margin), SWAP.check(swap))


def _hinge_distance(distance: Callable, own_kink: Callable) -> Callable:
    """A Kink distance: how far margin + d(a, p) - d_neg is from 0, with swap d(a, n) from d(p, n), and each pair
    from the distance's own kink (``own_kink(x, y, **params)``)."""
    def kink(anchor: Any, positive: Any, negative: Any, *, margin: float = 1.0, swap: bool = False,
             **params: Any) -> Any:
        a, p, n = (np.asarray(x, dtype=np.float64) for x in (anchor, positive, negative))
        d_an, d_pn = distance(a, n, **params), distance(p, n, **params)
        d_neg = np.minimum(d_an, d_pn) if swap else d_an
        gaps = [np.abs(margin + distance(a, p, **params) - d_neg)] + [own_kink(x, y, **params)
                                                                     for x, y in ((a, p), (a, n), (p, n))]
        if swap:
            gaps.append(np.abs(d_an - d_pn))
        return np.minimum.reduce(gaps)
    return kink


def _pairwise(x: Any, y: Any, *, p: float = 2.0, eps: float = 1e-6, **_: Any) -> Any:
    return _norm(x - y + eps, p)


def _pairwise_kink(x: Any, y: Any, *, p: float = 2.0, eps: float = 1e-6, **_: Any) -> Any:
    """The norm's kink: a difference of 0 (for p = 1, any entry of 0)."""
    d = x - y + eps
    return np.min(np.abs(d), axis=-1) if p == 1.0 else _norm(d, p)


# ---- triplet_margin_loss ----------------------------------------------------------------------------------------

def triplet_margin_loss(anchor: Any, positive: Any, negative: Any, *, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: str = "mean") -> Any:
    r"""Triplet margin loss: the negative should be farther from the anchor than the positive, by ``margin``.

    Definition:
        With :math:`d(x, y) = \lVert x - y + \epsilon \rVert_p` (:func:`pairwise_distance`, last dimension) and
        the negative distance :math:`d_- = d(a, n)`, or :math:`\min(d(a, n), d(p, n))` with ``swap`` (T1),

        .. math::
            \ell_n = \max\bigl(0,\ \text{margin} + d(a, p) - d_-\bigr)  \qquad \text{(T2)}

    Gradient:
        Where :math:`z = \text{margin} + d(a, p) - d_- > 0`,

        .. math::
            \frac{\partial \ell_n}{\partial \cdot} = \frac{\partial d(a, p)}{\partial \cdot}
            - \frac{\partial d_-}{\partial \cdot}  \qquad \text{(T3)}

        with the distance's gradient (D3); 0 elsewhere. Derivation: ``docs/derivations/embedding_losses.md``.

    Conventions:
        ``torch.nn.functional.triplet_margin_loss`` exactly: ``eps`` inside the distance (D1), gradient 0 at
        :math:`z = 0` (PyTorch's strict ``clamp_min``), and with ``swap`` a tie :math:`d(a, n) = d(p, n)` splits
        the negative distance's gradient in halves (``torch.minimum``). ``margin`` must be > 0 and ``p`` a finite
        order >= 1. ``mean`` is over the triplets; the mean of none is NaN. NaN propagates. optax's
        ``triplet_margin_loss`` puts eps inside the sum of powers instead (equal for ``eps = 0``).

    Shapes:
        ``anchor``, ``positive``, ``negative``: ``(N, D)`` or ``(D,)``, the same shape. Output: ``(N,)`` (or
        ``()``) for ``none``, a scalar otherwise.

    Args:
        anchor: Anchor embeddings.
        positive: Embeddings of the anchor's class.
        negative: Embeddings of another class.
        margin: The margin (default 1), > 0.
        p: Order of the norm (default 2).
        eps: Added to each difference in the distance (default 1e-6).
        swap: The distance swap of Balntas et al. (default False).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Schroff, F., Kalenichenko, D., Philbin, J. "FaceNet", CVPR 2015: https://arxiv.org/abs/1503.03832.
        Balntas, V. et al. "Learning local feature descriptors with triplets and shallow convolutional neural
        networks", BMVC 2016: https://doi.org/10.5244/C.30.119.
        PyTorch ``torch.nn.functional.triplet_margin_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.triplet_margin_loss.html

    Examples:
        >>> float(triplet_margin_loss([0.0, 0.0], [3.0, 4.0], [0.0, 5.5], eps=0.0))  # max(0, 1 + 5 - 5.5)
        0.5
    """
    a, pos, neg, margin, swap = _prepare(anchor, positive, negative, margin, swap, reduction)
    p, eps = NORM_ORDER.check(p), DISTANCE_EPS.check(eps)
    return reduce(_triplet(lambda x, y: _norm(x - y + eps, p), a, pos, neg, margin, swap), reduction)


def triplet_margin_loss_vjp(grad_output: Any, anchor: Any, positive: Any, negative: Any, *, margin: float = 1.0,
                            p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                            reduction: str = "mean") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`triplet_margin_loss` w.r.t. ``(anchor, positive, negative)``.

    ``grad_output`` has the shape of the loss's output. See :func:`triplet_margin_loss`, "Gradient".
    """
    a, pos, neg, margin, swap = _prepare(anchor, positive, negative, margin, swap, reduction)
    p, eps = NORM_ORDER.check(p), DISTANCE_EPS.check(eps)
    g = reduce_vjp(grad_output, a.shape[:-1], reduction)

    def slopes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slope = _norm_slope(x - y + eps, p)
        return slope, -slope

    return _triplet_vjp(lambda x, y: _norm(x - y + eps, p), slopes, g, a, pos, neg, margin, swap)


register(LossSpec(
    name="triplet_margin_loss",
    family="embedding",
    forward=triplet_margin_loss,
    vjp=triplet_margin_loss_vjp,
    inputs=tuple(Input(name, f"{name} embeddings (N, D)", shape=("N", "D"))
                 for name in ("anchor", "positive", "negative")),
    params=(MARGIN, NORM_ORDER, DISTANCE_EPS, SWAP),
    per_sample=True,
    smoothness="piecewise smooth: kinks where margin + d(a, p) = d_-, where d(a, n) = d(p, n) with swap, and "
               "where a distance is 0",
    kinks=(Kink("margin + d(a, p) - d_- = 0, or d(a, n) = d(p, n) with swap", "gradient 0 at the hinge (PyTorch's "
                "strict clamp_min; autograd's maximum gives half); halves at a swap tie (torch.minimum)",
                _hinge_distance(_pairwise, _pairwise_kink), autograd_agrees=False),),
    references=(_SCHROFF, _BALNTAS,
                Reference("PyTorch, torch.nn.functional.triplet_margin_loss",
                          _TORCH_DOCS.format("triplet_margin_loss"))),
    equivalents=(Equivalent("torch", "torch.nn.functional.triplet_margin_loss"),),
    derivation="docs/derivations/embedding_losses.md",
))


# ---- triplet_margin_with_distance_loss --------------------------------------------------------------------------

def _cosine_distance(x: Any, y: Any) -> Any:
    """1 - cosine_similarity(x, y) along the last dimension, with cosine_similarity's eps 1e-8."""
    return 1.0 - _cosine(x, y, x.ndim - 1, COSINE_DISTANCE_EPS)


def _cosine_distance_slopes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    grad_x, grad_y = _cosine_slopes(x, y, x.ndim - 1, COSINE_DISTANCE_EPS)
    return -grad_x, -grad_y


def _euclidean(x: Any, y: Any) -> Any:
    """pairwise_distance(x, y) with its defaults p = 2, eps = 1e-6."""
    return _norm(x - y + 1e-6, 2.0)


def _euclidean_slopes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    slope = _norm_slope(x - y + 1e-6, 2.0)
    return slope, -slope


_DISTANCES = {"pairwise_distance": (_euclidean, _euclidean_slopes),
              "cosine_distance": (_cosine_distance, _cosine_distance_slopes)}


def triplet_margin_with_distance_loss(anchor: Any, positive: Any, negative: Any, *,
                                      distance_function: str = "pairwise_distance", margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Any:
    r"""Triplet margin loss over a distance chosen by name: PyTorch's Euclidean default or the cosine distance.

    Definition:
        (T1), (T2) of :func:`triplet_margin_loss` with :math:`d` the named distance: ``"pairwise_distance"``,
        :math:`\lVert x - y + 10^{-6} \rVert_2` (D1, D2), or ``"cosine_distance"`` (S2) along the last dimension,

        .. math::
            d(x, y) = 1 - \frac{x \cdot y}{\max(\lVert x \rVert, \epsilon)\, \max(\lVert y \rVert, \epsilon)}

        with :math:`\epsilon = 10^{-8}`, and :math:`\ell_n = \max(0,\ \text{margin} + d(a, p) - d_-)`.

    Gradient:
        (T3) with the named distance's gradient: (D3), or minus (S3),

        .. math::
            \frac{\partial \ell_n}{\partial \cdot} = [z > 0] \Bigl(\frac{\partial d(a, p)}{\partial \cdot}
            - \frac{\partial d_-}{\partial \cdot}\Bigr)

        Derivation: ``docs/derivations/embedding_losses.md``.

    Conventions:
        ``torch.nn.functional.triplet_margin_with_distance_loss`` with ``distance_function=None`` (for
        ``"pairwise_distance"``) or ``lambda x, y: 1 - F.cosine_similarity(x, y, dim=-1)`` (for
        ``"cosine_distance"``). PyTorch takes any callable; refloss takes a name, so that the call can be
        written in a golden vector and its gradient derived. The hinge and the swap follow
        :func:`triplet_margin_loss`; ``margin`` must be > 0 (PyTorch's check). The mean of no triplets is NaN.

    Shapes:
        ``anchor``, ``positive``, ``negative``: ``(N, D)`` or ``(D,)``, the same shape. Output: ``(N,)`` (or
        ``()``) for ``none``, a scalar otherwise.

    Args:
        anchor: Anchor embeddings.
        positive: Embeddings of the anchor's class.
        negative: Embeddings of another class.
        distance_function: ``"pairwise_distance"`` (default) or ``"cosine_distance"``.
        margin: The margin (default 1), > 0.
        swap: The distance swap of Balntas et al. (default False).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Balntas, V. et al. "Learning local feature descriptors with triplets and shallow convolutional neural
        networks", BMVC 2016: https://doi.org/10.5244/C.30.119.
        PyTorch ``torch.nn.functional.triplet_margin_with_distance_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.triplet_margin_with_distance_loss.html

    Examples:
        >>> a, p, n = [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]
        >>> float(triplet_margin_with_distance_loss(a, p, n, distance_function="cosine_distance"))  # 1 + 1 - 2
        0.0
    """
    a, pos, neg, margin, swap = _prepare(anchor, positive, negative, margin, swap, reduction)
    distance, _ = _DISTANCES[DISTANCE_FUNCTION.check(distance_function)]
    return reduce(_triplet(distance, a, pos, neg, margin, swap), reduction)


def triplet_margin_with_distance_loss_vjp(grad_output: Any, anchor: Any, positive: Any, negative: Any, *,
                                          distance_function: str = "pairwise_distance", margin: float = 1.0,
                                          swap: bool = False,
                                          reduction: str = "mean") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`triplet_margin_with_distance_loss` w.r.t. ``(anchor, positive,
    negative)``. ``grad_output`` has the shape of the loss's output. See its "Gradient".
    """
    a, pos, neg, margin, swap = _prepare(anchor, positive, negative, margin, swap, reduction)
    distance, slopes = _DISTANCES[DISTANCE_FUNCTION.check(distance_function)]
    g = reduce_vjp(grad_output, a.shape[:-1], reduction)
    return _triplet_vjp(distance, slopes, g, a, pos, neg, margin, swap)


def _named_distance(x: Any, y: Any, *, distance_function: str = "pairwise_distance", **_: Any) -> Any:
    return _DISTANCES[distance_function][0](x, y)


def _named_kink(x: Any, y: Any, *, distance_function: str = "pairwise_distance", **_: Any) -> Any:
    """The named distance's own kink: a distance of 0, or a norm equal to the cosine's eps."""
    if distance_function == "pairwise_distance":
        return _euclidean(x, y)
    # (and each vector's norm: the cosine turns on the scale of that norm, finer than a finite difference's step)
    norms = np.minimum(_norm(x, 2.0), _norm(y, 2.0))
    return np.minimum(norms, _norm_at_eps(x, y, eps=COSINE_DISTANCE_EPS, dim=-1))


register(LossSpec(
    name="triplet_margin_with_distance_loss",
    family="embedding",
    forward=triplet_margin_with_distance_loss,
    vjp=triplet_margin_with_distance_loss_vjp,
    inputs=tuple(Input(name, f"{name} embeddings (N, D)", shape=("N", "D"))
                 for name in ("anchor", "positive", "negative")),
    params=(DISTANCE_FUNCTION, MARGIN, SWAP),
    per_sample=True,
    smoothness="piecewise smooth: kinks where margin + d(a, p) = d_-, and where d(a, n) = d(p, n) with swap",
    kinks=(Kink("margin + d(a, p) - d_- = 0, or d(a, n) = d(p, n) with swap", "gradient 0 at the hinge (PyTorch's "
                "strict clamp_min); halves at a swap tie (torch.minimum)",
                _hinge_distance(_named_distance, _named_kink),
                autograd_agrees=False),),
    references=(_BALNTAS,
                Reference("PyTorch, torch.nn.functional.triplet_margin_with_distance_loss",
                          _TORCH_DOCS.format("triplet_margin_with_distance_loss"))),
    equivalents=(Equivalent("torch", "torch.nn.functional.triplet_margin_with_distance_loss",
                            "takes a callable: 'pairwise_distance' is distance_function=None, 'cosine_distance' is "
                            "lambda x, y: 1 - F.cosine_similarity(x, y, dim=-1)"),),
    derivation="docs/derivations/embedding_losses.md",
))
