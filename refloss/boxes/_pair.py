"""The geometry of a pair of boxes, shared by the pairwise IoU matrices and the matched-pair IoU losses.

Every function takes two ``xyxy`` box arrays that broadcast against each other (matched pairs: the same shape;
all pairs: ``b1[:, None, :]`` against ``b2[None, :, :]``) and is written with ``autograd.numpy``, so that autograd
can differentiate the losses built on it (ties in ``maximum``/``minimum`` split the gradient equally, as in
PyTorch).
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

__all__ = ["area", "centre_distance_squared", "centre_offset", "enclosing_size", "intersection",
           "intersection_and_union", "pair_vjp", "sides"]


def sides(boxes: Any) -> tuple[Any, Any]:
    """Width x2 - x1 and height y2 - y1."""
    return boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]


def area(boxes: Any) -> Any:
    """(x2 - x1)(y2 - y1)."""
    width, height = sides(boxes)
    return width * height


def intersection(b1: Any, b2: Any) -> Any:
    """Area of the overlap: iw * ih where both iw = min(x2) - max(x1) and ih are positive, else exactly 0.

    The strict test (touching boxes have no intersection and no intersection gradient) is torchvision's
    (``_loss_inter_union``); for the value it is the same as clamping iw and ih at 0.
    """
    iw = anp.minimum(b1[..., 2], b2[..., 2]) - anp.maximum(b1[..., 0], b2[..., 0])
    ih = anp.minimum(b1[..., 3], b2[..., 3]) - anp.maximum(b1[..., 1], b2[..., 1])
    overlap = (iw > 0) & (ih > 0)
    return anp.where(overlap, iw * anp.where(overlap, ih, 0.0), 0.0)


def intersection_and_union(b1: Any, b2: Any) -> tuple[Any, Any]:
    """Intersection I and union U = area1 + area2 - I."""
    inter = intersection(b1, b2)
    return inter, area(b1) + area(b2) - inter


def enclosing_size(b1: Any, b2: Any) -> tuple[Any, Any]:
    """Width and height of the smallest box enclosing both: max(x2) - min(x1), max(y2) - min(y1)."""
    width = anp.maximum(b1[..., 2], b2[..., 2]) - anp.minimum(b1[..., 0], b2[..., 0])
    height = anp.maximum(b1[..., 3], b2[..., 3]) - anp.minimum(b1[..., 1], b2[..., 1])
    return width, height


def centre_offset(b1: Any, b2: Any) -> tuple[Any, Any]:
    """Centre of b1 minus centre of b2: ((x1 + x2)/2 - (X1 + X2)/2, the same in y)."""
    dx = (b1[..., 0] + b1[..., 2]) / 2 - (b2[..., 0] + b2[..., 2]) / 2
    dy = (b1[..., 1] + b1[..., 3]) / 2 - (b2[..., 1] + b2[..., 3]) / 2
    return dx, dy


def centre_distance_squared(b1: Any, b2: Any) -> Any:
    """Squared distance between the centres."""
    dx, dy = centre_offset(b1, b2)
    return dx * dx + dy * dy


# ---- VJPs of matched pairs (b1 and b2 of the same shape): hand-derived, NumPy ------------------------------------

def _share_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """d min(a, b) / da: 1 where a < b, 0 where a > b, 1/2 at a tie (PyTorch's and autograd's split)."""
    return np.where(a < b, 1.0, np.where(a == b, 0.5, 0.0))


def _share_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """d max(a, b) / da: 1 where a > b, 0 where a < b, 1/2 at a tie."""
    return _share_min(b, a)


def pair_vjp(b1: np.ndarray, b2: np.ndarray, *, inter: Any = 0.0, area1: Any = 0.0, area2: Any = 0.0,
             enclose: tuple[Any, Any] = (0.0, 0.0), offset: tuple[Any, Any] = (0.0, 0.0),
             sides1: tuple[Any, Any] = (0.0, 0.0), sides2: tuple[Any, Any] = (0.0, 0.0)) -> tuple[np.ndarray, ...]:
    """Gradients w.r.t. ``b1`` and ``b2`` from the cotangents of the pair's terms.

    Each keyword is the cotangent of one term of the pair (zero if absent): the intersection, the two areas, the
    enclosing box's width and height, the centre offset (c1x - c2x, c1y - c2y) and each box's width and height.
    Every loss of the IoU family is a function of these terms, so its VJP is the cotangent of each term passed
    here, once. At a tie of max/min the gradient splits equally; the intersection has no gradient where the boxes
    do not overlap with positive width and height (torchvision's strict mask).
    """
    x1, y1, x2, y2 = (b1[..., k] for k in range(4))
    X1, Y1, X2, Y2 = (b2[..., k] for k in range(4))
    w1, h1 = x2 - x1, y2 - y1
    w2, h2 = X2 - X1, Y2 - Y1
    iw = np.minimum(x2, X2) - np.maximum(x1, X1)
    ih = np.minimum(y2, Y2) - np.maximum(y1, Y1)
    overlap = (iw > 0) & (ih > 0)
    g_iw = np.where(overlap, inter * np.where(overlap, ih, 0.0), 0.0)
    g_ih = np.where(overlap, inter * np.where(overlap, iw, 0.0), 0.0)
    # each box's own width and height: from its area and from the sides' cotangents
    g_w1, g_h1 = area1 * h1 + sides1[0], area1 * w1 + sides1[1]
    g_w2, g_h2 = area2 * h2 + sides2[0], area2 * w2 + sides2[1]
    g_cw, g_ch = enclose
    g_dx, g_dy = offset[0] / 2, offset[1] / 2  # each corner moves its centre by half its own change
    d1 = np.stack([
        -g_w1 - g_iw * _share_max(x1, X1) - g_cw * _share_min(x1, X1) + g_dx,
        -g_h1 - g_ih * _share_max(y1, Y1) - g_ch * _share_min(y1, Y1) + g_dy,
        g_w1 + g_iw * _share_min(x2, X2) + g_cw * _share_max(x2, X2) + g_dx,
        g_h1 + g_ih * _share_min(y2, Y2) + g_ch * _share_max(y2, Y2) + g_dy,
    ], axis=-1)
    d2 = np.stack([
        -g_w2 - g_iw * _share_max(X1, x1) - g_cw * _share_min(X1, x1) - g_dx,
        -g_h2 - g_ih * _share_max(Y1, y1) - g_ch * _share_min(Y1, y1) - g_dy,
        g_w2 + g_iw * _share_min(X2, x2) + g_cw * _share_max(X2, x2) - g_dx,
        g_h2 + g_ih * _share_min(Y2, y2) + g_ch * _share_max(Y2, y2) - g_dy,
    ], axis=-1)
    return d1, d2
