"""What the detector losses share: checking a batch's ground truths and head output, the cell an object's centre
falls in, the normalisation over images, and the cotangents of the total and the terms."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
from autograd.tracer import getval

from refloss._checks import as_array, as_real_array
from refloss._registry import Input, Interval
from refloss.boxes._checks import as_boxes, refuse_zero_size
from refloss.boxes.pairwise import box_iou

__all__ = ["GROUND_TRUTH_BOXES", "LABELS", "as_ground_truths", "as_head_output", "as_reference_boxes", "cell_of",
           "match_images", "term_cotangents", "positive_integer"]

PADDING = -1  # the label of a padding row: no object

GROUND_TRUTH_BOXES = Input(
    "boxes", "ground-truth boxes (N, M, 4), xyxy in image units (inside [0, 1]); rows labelled -1 are padding",
    shape=("N", "M", "4"), kind="box", differentiable=False, sample=Interval(0.0, 1.0, True, True))
LABELS = Input("labels", "class of each ground truth (N, M), in [0, num_classes); -1 marks a padding row",
               shape=("N", "M"), kind="int", differentiable=False, classes="C")


def positive_integer(value: Any, name: str) -> int:
    """A setting that counts something (grid size, boxes per cell, classes): a positive Python or NumPy integer."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_head_output(output: Any, expected: tuple[int, ...], layout: str) -> Any:
    """The raw head output as float64 (autograd's traced arrays pass through), of shape (N, *expected) with
    N >= 1; ``layout`` says in words what the shape means, for the error message."""
    array = as_real_array(output, "output")
    shape = np.shape(getval(array))
    if len(shape) != len(expected) + 1 or tuple(shape[1:]) != expected:
        raise ValueError(f"output must have shape (N, {', '.join(map(str, expected))}) ({layout}), got {shape}")
    if shape[0] == 0:
        raise ValueError("output holds no images (N = 0): the loss is normalised per image")
    return array


def as_ground_truths(boxes: Any, labels: Any, batch: int, num_classes: int,
                     positive_size: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked ground truths: boxes (N, M, 4) float64, labels (N, M) int64, and the mask of real objects.

    Each real object (label >= 0) must have a label below ``num_classes`` and a box with its corners inside the
    image [0, 1] and not inverted; with ``positive_size`` (the reason, for the message) also a positive width
    and height. Padding rows (label -1) are not checked.
    """
    box_array = as_real_array(boxes, "boxes")
    if box_array.ndim != 3 or box_array.shape[2] != 4 or box_array.shape[0] != batch:
        raise ValueError(f"boxes must have shape (N, M, 4) with N = {batch} images (as output), "
                         f"got {box_array.shape}")
    label_array = as_array(labels, "labels")
    if label_array.dtype.kind not in "iu":
        raise TypeError(f"labels must hold integer class ids (-1 for padding), got dtype {label_array.dtype}")
    if label_array.shape != box_array.shape[:2]:
        raise ValueError(f"labels must have shape (N, M) = {box_array.shape[:2]} (one per box), "
                         f"got {label_array.shape}")
    label_array = label_array.astype(np.int64)
    bad = (label_array < PADDING) | (label_array >= num_classes)
    if np.any(bad):
        n, m = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"labels[{n}, {m}] = {label_array[n, m]} is outside [0, {num_classes}) "
                         f"(num_classes = {num_classes}; -1 marks a padding row)")
    real = label_array >= 0
    objects = box_array[real]

    def refuse(bad: np.ndarray, why: str) -> None:
        """Name the first object (n, m) flagged in ``bad`` (one entry per real object)."""
        if np.any(bad):
            n, m = (int(i) for i in np.argwhere(real)[np.argmax(bad)])
            raise ValueError(f"boxes[{n}, {m}] = {box_array[n, m].tolist()} {why}")

    refuse((objects[:, 2] < objects[:, 0]) | (objects[:, 3] < objects[:, 1]), "is not a valid box in xyxy: "
           "x2 < x1 or y2 < y1")
    refuse(~np.all((objects >= 0.0) & (objects <= 1.0), axis=-1),  # (NaN is outside too)
           "lies outside the image: coordinates must be in [0, 1] (image units, xyxy)")
    if positive_size is not None:
        refuse((objects[:, 2] <= objects[:, 0]) | (objects[:, 3] <= objects[:, 1]),
               f"has zero width or height: {positive_size}")
    return box_array, label_array, real


def as_reference_boxes(value: Any, name: str, what: str) -> np.ndarray:
    """Anchors, priors or proposals (``what``, 4) as float64: valid ``xyxy`` of positive width and height (box
    codes are measured in units of their size). Unlike ground truths they may cross the image border."""
    boxes = np.asarray(getval(as_boxes(value, name)), dtype=np.float64)
    if boxes.ndim != 2:
        raise ValueError(f"{name} must have shape ({what}, 4), got {boxes.shape}")
    refuse_zero_size(boxes, name, "a reference box needs a positive width and height: box codes are measured in "
                                  "units of its size")
    return boxes


def match_images(anchors: np.ndarray, boxes: np.ndarray, real: np.ndarray,
                 matcher: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each image's anchors matched to its objects: ``matcher`` (one of :mod:`refloss.boxes.matching`'s, its
    thresholds bound) runs on the IoU matrix of the image's real objects (padding rows take no part) against the
    anchors, and its answers are mapped back to rows of ``boxes``, negatives (-1, -2) kept. An image with no
    objects has every anchor -1 (torchvision: ``boxes.numel() == 0``).

    Returns:
        (matches (N, A) int64, iou (N, M, A) with 0 for padding rows).
    """
    images, rows = real.shape
    matches = np.full((images, anchors.shape[0]), -1, dtype=np.int64)
    iou = np.zeros((images, rows, anchors.shape[0]))
    for image in range(images):
        objects = np.flatnonzero(real[image])
        if objects.size:
            iou[image, objects] = box_iou(boxes[image, objects], anchors)
            matched = matcher(iou[image, objects])
            matches[image] = np.where(matched >= 0, objects[np.maximum(matched, 0)], matched)
    return matches, iou


def cell_of(centre: np.ndarray, cells: int) -> np.ndarray:
    """The grid cell (integer) a centre coordinate in [0, 1] falls in: floor(c * cells), with c = 1 (a
    degenerate box on the far edge) in the last cell."""
    return np.minimum(np.floor(centre * cells), cells - 1).astype(np.int64)


def term_cotangents(grad_output: Any, terms: tuple[str, ...]) -> dict[str, float]:
    """The cotangent of each term: a scalar ``grad_output`` is the cotangent of the total (which is the sum of
    the terms, so each term gets it); a mapping gives the cotangents of ``"total"`` and of any terms by name
    (missing ones are 0), and each term gets its own plus the total's."""
    if isinstance(grad_output, Mapping):
        unknown = sorted(set(grad_output) - {"total", *terms})
        if unknown:
            raise ValueError(f"grad_output names unknown outputs {unknown}; expected 'total' or one of {terms}")
        values = {name: _scalar(value, f"grad_output[{name!r}]") for name, value in grad_output.items()}
        total = values.get("total", 0.0)
        return {name: total + values.get(name, 0.0) for name in terms}
    total = _scalar(grad_output, "grad_output")
    return {name: total for name in terms}


def _scalar(value: Any, name: str) -> float:
    array = np.asarray(value)
    if array.shape != () or array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real scalar (the cotangent of a scalar loss), got "
                         f"{array.dtype} array of shape {array.shape}")
    return float(array)
