"""Mutants of the embedding distances and losses: pairwise_distance, cosine_similarity, cosine_embedding_loss,
triplet_margin_loss and triplet_margin_with_distance_loss.

Each is a whole forward or VJP in plain NumPy with one bug, marked ``# the bug``; the validation is refloss's own
(its ``_prepare`` functions: the plumbing a port gets right), and so are the reductions (``mutants._port``).
"""

from __future__ import annotations

import numpy as np

from refloss.losses.embedding import cosine_embedding as _ce
from refloss.losses.embedding import distances as _dist
from refloss.losses.embedding import triplet as _tri

from ._base import Mutant
from ._port import reduce


# ---- pairwise_distance: ||x1 - x2 + eps||_p -------------------------------------------------------------------

def _p_norm(d: np.ndarray, p: float, keepdim: bool = False) -> np.ndarray:
    return np.sum(np.abs(d) ** p, axis=-1, keepdims=keepdim) ** (1.0 / p)


def _distance_eps_outside(x1, x2, *, p=2.0, eps=1e-6, keepdim=False):
    a, b, p, eps, keepdim = _dist._prepare_distance(x1, x2, p, eps, keepdim)
    return _p_norm(a - b, p, keepdim) + eps  # the bug: eps added to the distance, not to each difference


def _distance_vjp_nan_at_zero(grad_output, x1, x2, *, p=2.0, eps=1e-6, keepdim=False):
    a, b, p, eps, keepdim = _dist._prepare_distance(x1, x2, p, eps, keepdim)
    d = a - b + eps
    g = np.asarray(grad_output, dtype=np.float64)
    g = g if keepdim else g[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.sign(d) * (np.abs(d) / _p_norm(d, p, True)) ** (p - 1)  # the bug: 0/0 = NaN at distance 0
    return g * slope, -g * slope


def _distance_vjp_euclidean_slope(grad_output, x1, x2, *, p=2.0, eps=1e-6, keepdim=False):
    a, b, p, eps, keepdim = _dist._prepare_distance(x1, x2, p, eps, keepdim)
    d = a - b + eps
    g = np.asarray(grad_output, dtype=np.float64)
    g = g if keepdim else g[..., None]
    norm = np.sqrt(np.sum(d * d, axis=-1, keepdims=True))
    slope = np.where(norm > 0, d / np.where(norm > 0, norm, 1.0), 0.0)  # the bug: d / ||d||_2 whatever p
    return g * slope, -g * slope


# ---- cosine_similarity: w / (max(n1, eps) max(n2, eps)) ---------------------------------------------------------

def _cosine_product_clamp(x1, x2, *, dim=1, eps=1e-8):
    a, b, axis, eps = _dist._prepare_cosine(x1, x2, dim, eps)
    n1, n2 = np.linalg.norm(a, axis=axis), np.linalg.norm(b, axis=axis)
    return np.sum(a * b, axis=axis) / np.maximum(n1 * n2, eps)  # the bug: PyTorch < 1.12 clamped the product


def _cosine_eps_added(x1, x2, *, dim=1, eps=1e-8):
    a, b, axis, eps = _dist._prepare_cosine(x1, x2, dim, eps)
    n1, n2 = np.linalg.norm(a, axis=axis), np.linalg.norm(b, axis=axis)
    return np.sum(a * b, axis=axis) / ((n1 + eps) * (n2 + eps))  # the bug: eps added to each norm, not a floor


def _cosine_vjp_no_norm_term(grad_output, x1, x2, *, dim=1, eps=1e-8):
    a, b, axis, eps = _dist._prepare_cosine(x1, x2, dim, eps)
    g = np.expand_dims(np.asarray(grad_output, dtype=np.float64), axis)
    n1 = np.maximum(np.linalg.norm(a, axis=axis, keepdims=True), eps)
    n2 = np.maximum(np.linalg.norm(b, axis=axis, keepdims=True), eps)
    return g * b / (n1 * n2), g * a / (n1 * n2)  # the bug: the norms' own derivative -cos x / n^2 left out


# ---- cosine_embedding_loss --------------------------------------------------------------------------------------

def _embedding_cosine(a: np.ndarray, b: np.ndarray, eps: float = _ce.SQUARED_NORM_EPS) -> np.ndarray:
    return np.sum(a * b, -1) / np.sqrt((np.sum(a * a, -1) + eps) * (np.sum(b * b, -1) + eps))


def _cel_without_eps(input1, input2, target, *, margin=0.0, reduction="mean"):
    a, b, labels, margin = _ce._prepare(input1, input2, target, margin, reduction)
    with np.errstate(invalid="ignore"):
        c = _embedding_cosine(a, b, eps=0.0)  # the bug: no epsilon, so a zero vector gives 0/0 = NaN
    return reduce(np.where(labels == 1, 1 - c, np.maximum(c - margin, 0.0)), reduction)


def _cel_flipped_hinge(input1, input2, target, *, margin=0.0, reduction="mean"):
    a, b, labels, margin = _ce._prepare(input1, input2, target, margin, reduction)
    c = _embedding_cosine(a, b)
    return reduce(np.where(labels == 1, 1 - c, np.maximum(margin - c, 0.0)), reduction)  # the bug: margin - c


def _cel_mean_over_elements(input1, input2, target, *, margin=0.0, reduction="mean"):
    a, b, labels, margin = _ce._prepare(input1, input2, target, margin, reduction)
    per_pair = np.where(labels == 1, 1 - _embedding_cosine(a, b), np.maximum(_embedding_cosine(a, b) - margin, 0))
    if reduction == "mean":
        with np.errstate(invalid="ignore"):
            return np.sum(per_pair) / a.size  # the bug: divided by N * D, not by the N pairs
    return reduce(per_pair, reduction)


# ---- the triplet losses -----------------------------------------------------------------------------------------

def _triplet_swap_max(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    a, pos, neg, margin, swap = _tri._prepare(anchor, positive, negative, margin, swap, reduction)
    p, eps = _dist.NORM_ORDER.check(p), _dist.DISTANCE_EPS.check(eps)
    d_an = _p_norm(a - neg + eps, p)
    if swap:
        d_an = np.maximum(d_an, _p_norm(pos - neg + eps, p))  # the bug: the larger negative distance
    return reduce(np.maximum(margin + _p_norm(a - pos + eps, p) - d_an, 0.0), reduction)


def _triplet_no_eps(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    a, pos, neg, margin, swap = _tri._prepare(anchor, positive, negative, margin, swap, reduction)
    p = _dist.NORM_ORDER.check(p)
    d_an = _p_norm(a - neg, p)  # the bug: eps left out of the distances
    if swap:
        d_an = np.minimum(d_an, _p_norm(pos - neg, p))
    return reduce(np.maximum(margin + _p_norm(a - pos, p) - d_an, 0.0), reduction)


def _swap_gradient_to_anchor(grad_output, anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False,
                             reduction="mean"):
    """The VJP with the swapped distance's pull on the positive credited to the anchor instead."""
    a, pos, neg, margin, swap = _tri._prepare(anchor, positive, negative, margin, swap, reduction)
    ga, gp, gn = _tri.triplet_margin_loss_vjp(grad_output, a, pos, neg, margin=margin, p=p, eps=eps, swap=swap,
                                              reduction=reduction)
    if swap:
        d_pn = _p_norm(pos - neg + eps, p)
        swapped = d_pn < _p_norm(a - neg + eps, p)
        moved = np.where(swapped[..., None], gp - _tri.triplet_margin_loss_vjp(
            grad_output, a, pos, neg, margin=margin, p=p, eps=eps, swap=False, reduction=reduction)[1], 0.0)
        ga, gp = ga + moved, gp - moved  # the bug: d(p, n)'s gradient sent to the anchor
    return ga, gp, gn


def _halved_cosine_distance(anchor, positive, negative, *, distance_function="pairwise_distance", margin=1.0,
                            swap=False, reduction="mean"):
    a, pos, neg, margin, swap = _tri._prepare(anchor, positive, negative, margin, swap, reduction)
    if distance_function == "cosine_distance":
        def distance(x, y):
            return (1 - _dist._cosine(x, y, x.ndim - 1, 1e-8)) / 2  # the bug: (1 - cos) / 2, a [0, 1] distance
    else:
        def distance(x, y):
            return _p_norm(x - y + 1e-6, 2.0)
    d_an = distance(a, neg)
    if swap:
        d_an = np.minimum(d_an, distance(pos, neg))
    return reduce(np.maximum(margin + distance(a, pos) - d_an, 0.0), reduction)


def _swap_ignored(anchor, positive, negative, *, distance_function="pairwise_distance", margin=1.0, swap=False,
                  reduction="mean"):
    return _tri.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=distance_function,
                                                  margin=margin, swap=False, reduction=reduction)  # the bug


def _hinge_always_active(grad_output, anchor, positive, negative, *, distance_function="pairwise_distance",
                         margin=1.0, swap=False, reduction="mean"):
    # the bug: a huge margin in the VJP makes every triplet active (the clamp at 0 forgotten in the backward)
    return _tri.triplet_margin_with_distance_loss_vjp(grad_output, anchor, positive, negative,
                                                      distance_function=distance_function, margin=margin + 1e6,
                                                      swap=swap, reduction=reduction)


MUTANTS = [
    Mutant("pairwise_distance_eps_outside_norm", "pairwise_distance", _distance_eps_outside, None,
           "eps added to the distance instead of to each difference (a common port of torch's pairwise_distance)",
           "clamp"),
    Mutant("pairwise_distance_nan_gradient_at_zero", "pairwise_distance", None, _distance_vjp_nan_at_zero,
           "the norm's gradient d / ||d|| computed as 0/0 = NaN where the distance is 0", "nonfinite"),
    Mutant("pairwise_distance_euclidean_gradient_for_any_p", "pairwise_distance", None,
           _distance_vjp_euclidean_slope, "the 2-norm's gradient d / ||d||_2 used for every order p", "gradient"),
    Mutant("cosine_similarity_product_clamp", "cosine_similarity", _cosine_product_clamp, None,
           "the product of the norms clamped at eps, PyTorch's convention before 1.12", "convention"),
    Mutant("cosine_similarity_eps_added_to_norms", "cosine_similarity", _cosine_eps_added, None,
           "eps added to each norm instead of clamping it from below", "clamp"),
    Mutant("cosine_similarity_gradient_without_norm_term", "cosine_similarity", None, _cosine_vjp_no_norm_term,
           "the gradient x2 / (n1 n2) without the norms' own term -cos x1 / n1^2", "gradient"),
    Mutant("cosine_embedding_loss_without_eps", "cosine_embedding_loss", _cel_without_eps, None,
           "no epsilon in the squared norms: a zero vector gives NaN instead of cosine 0", "nonfinite"),
    Mutant("cosine_embedding_loss_flipped_hinge", "cosine_embedding_loss", _cel_flipped_hinge, None,
           "max(0, margin - c) for dissimilar pairs, the hinge of margin_ranking turned the wrong way", "formula"),
    Mutant("cosine_embedding_loss_mean_over_elements", "cosine_embedding_loss", _cel_mean_over_elements, None,
           "mean divided by the number of elements N * D instead of the N pairs", "denominator"),
    Mutant("triplet_margin_loss_swap_takes_max", "triplet_margin_loss", _triplet_swap_max, None,
           "the distance swap keeps the larger of d(a, n) and d(p, n)", "formula"),
    Mutant("triplet_margin_loss_without_eps", "triplet_margin_loss", _triplet_no_eps, None,
           "eps left out of the distances (||a - p||, as most textbook code)", "clamp"),
    Mutant("triplet_margin_loss_swap_gradient_to_anchor", "triplet_margin_loss", None, _swap_gradient_to_anchor,
           "with swap, the gradient of d(p, n) credited to the anchor instead of the positive", "gradient"),
    Mutant("triplet_with_distance_halved_cosine", "triplet_margin_with_distance_loss", _halved_cosine_distance,
           None, "the cosine distance as (1 - cos) / 2, a [0, 1] distance some libraries use", "convention"),
    Mutant("triplet_with_distance_swap_ignored", "triplet_margin_with_distance_loss", _swap_ignored, None,
           "swap=True accepted and ignored", "default"),
    Mutant("triplet_with_distance_hinge_always_active", "triplet_margin_with_distance_loss", None,
           _hinge_always_active, "the backward forgets the clamp at 0: satisfied triplets still get gradients",
           "branch"),
]
