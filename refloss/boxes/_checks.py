"""Validation of box arrays: shape ``(..., 4)``, real numbers, and no inverted box (x2 < x1 or y2 < y1)."""

from __future__ import annotations

from typing import Any

import numpy as np
from autograd.tracer import Box, getval

from refloss._checks import as_real_array

__all__ = ["as_boxes", "check_same_boxes_shape", "refuse_zero_size"]


def as_boxes(value: Any, name: str) -> Any:
    """``value`` as float64 boxes in ``xyxy`` of shape ``(..., 4)``, or an error naming the argument and the box.

    A zero-width or zero-height box is valid (x2 == x1); an inverted one (x2 < x1 or y2 < y1) is a ``ValueError``
    whose message gives its index and coordinates. NaN coordinates are not checked: they propagate, as in
    PyTorch. Autograd's traced arrays are checked on their values and passed through.
    """
    boxes = as_real_array(value, name)
    values = getval(boxes) if isinstance(boxes, Box) else boxes
    if values.ndim == 0 or values.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4) (boxes as x1, y1, x2, y2), got shape {values.shape}")
    inverted = (values[..., 2] < values[..., 0]) | (values[..., 3] < values[..., 1])
    if np.any(inverted):
        index = tuple(int(i) for i in np.argwhere(inverted)[0])
        box = values[index]
        side = "x2 < x1" if box[2] < box[0] else "y2 < y1"
        where = f"{name}[{', '.join(map(str, index))}]" if index else name
        raise ValueError(f"{where} = {box.tolist()} is not a valid box in xyxy: {side} "
                         f"({int(np.sum(inverted))} inverted box(es) in {name})")
    return boxes


def check_same_boxes_shape(boxes1: Any, boxes2: Any, names: tuple[str, str] = ("boxes1", "boxes2")) -> None:
    """Matched pairs: both box arrays must have the same shape (no broadcasting of pairs)."""
    shape1, shape2 = np.shape(getval(boxes1)), np.shape(getval(boxes2))
    if shape1 != shape2:
        raise ValueError(f"{names[1]} must have the same shape as {names[0]} (one box per pair, never broadcast), "
                         f"got {names[1]} {shape2} and {names[0]} {shape1}")


def refuse_zero_size(boxes: Any, name: str, why: str) -> None:
    """A ``ValueError`` naming the first box of zero width or height in ``boxes`` (``why``: why it cannot be)."""
    values = getval(boxes)
    degenerate = (values[..., 2] <= values[..., 0]) | (values[..., 3] <= values[..., 1])
    if np.any(degenerate):
        index = tuple(int(i) for i in np.argwhere(degenerate)[0])
        box = values[index]
        side = "zero width (x2 == x1)" if box[2] <= box[0] else "zero height (y2 == y1)"
        where = f"{name}[{', '.join(map(str, index))}]" if index else name
        raise ValueError(f"{where} = {box.tolist()} has {side}: {why} "
                         f"({int(np.sum(degenerate))} such box(es) in {name})")
