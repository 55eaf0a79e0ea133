"""The geometry of a pair of boxes, shared by the pairwise IoU matrices and the matched-pair IoU losses.

Every function takes two ``xyxy`` box arrays that broadcast against each other (matched pairs: the same shape;
all pairs: ``b1[:, None, :]`` against ``b2[None, :, :]``) and is written with ``autograd.numpy``, so that autograd
can differentiate the losses built on it (ties in ``maximum``/``minimum`` split the gradient equally, as in
PyTorch).
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp

__all__ = ["area", "centre_distance_squared", "enclosing_size", "intersection", "intersection_and_union", "sides"]


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


def centre_distance_squared(b1: Any, b2: Any) -> Any:
    """Squared distance between the centres, ((x1 + x2)/2 - (X1 + X2)/2)^2 + (same in y)."""
    dx = (b1[..., 0] + b1[..., 2]) / 2 - (b2[..., 0] + b2[..., 2]) / 2
    dy = (b1[..., 1] + b1[..., 3]) / 2 - (b2[..., 1] + b2[..., 3]) / 2
    return dx * dx + dy * dy
