"""Mutants of the selection functions nms, batched_nms and diou_nms (integer output, no VJP: ``vjp=None``).

Ported from the wrong implementations of tests/test_nms.py: one plain greedy NMS (:func:`_greedy`) with one
piece swapped per mutant (the comparison, the ranking, which boxes suppress, the overlap, how categories are
separated), marked ``# the bug``. The input checks a port gets right (:func:`_validated`) are shared, so that a
mutant fails on its one bug, not on a missing check.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ._base import Mutant
from ._port import as_float


# ---- the plumbing a port gets right ------------------------------------------------------------------------------

def _validated(boxes: Any, scores: Any, iou_threshold: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """float64 boxes (N, 4), finite and not inverted; N scores without NaN; a threshold that is not NaN."""
    boxes, scores = as_float(boxes, "boxes"), as_float(scores, "scores")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (..., 4) (boxes as x1, y1, x2, y2), got shape {boxes.shape}")
    if not np.all(np.isfinite(boxes)) or np.any(boxes[:, 2:] < boxes[:, :2]):
        raise ValueError(f"boxes {boxes.tolist()} is not a valid box: not finite or inverted")
    if scores.shape != (len(boxes),):
        raise ValueError(f"scores must have shape (N,) = ({len(boxes)},), got shape {scores.shape}")
    if np.any(np.isnan(scores)):
        raise ValueError("scores[...] is NaN: NaN scores cannot be ranked")
    threshold = float(iou_threshold)
    if math.isnan(threshold):
        raise ValueError(f"iou_threshold must be in [-inf, inf], got {threshold}")
    return boxes, scores, threshold


def _validated_idxs(idxs: Any, count: int) -> np.ndarray:
    idxs = np.asarray(idxs)
    if idxs.size == 0:
        idxs = idxs.astype(np.int64)
    if idxs.dtype.kind not in "iu":
        raise TypeError(f"idxs must be an array of integers, got dtype {idxs.dtype}")
    if idxs.shape != (count,):
        raise ValueError(f"idxs must have shape (N,) = ({count},), got shape {idxs.shape}")
    return idxs


def _validated_beta(beta: Any) -> float:
    beta = float(beta)
    if not 0 < beta < math.inf:
        raise ValueError(f"beta must be in (0, inf), got {beta}")
    return beta


def _iou(a: np.ndarray, b: np.ndarray, pixel: float = 0.0, eps: float = 0.0) -> float:
    """IoU of two boxes; NaN when the union is zero (never suppresses: NaN > t is false). ``pixel`` and ``eps``
    are bugs."""
    inter = (max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + pixel)
             * max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + pixel))
    union = (a[2] - a[0] + pixel) * (a[3] - a[1] + pixel) + (b[2] - b[0] + pixel) * (b[3] - b[1] + pixel) - inter
    return inter / (union + eps) if union > 0 else math.nan


def _diou(a: np.ndarray, b: np.ndarray, beta: float, *, squared: bool = True, enclosing_area: bool = False,
          eps: float = 0.0) -> float:
    """IoU - (rho^2 / c^2)^beta; the three switches are bugs."""
    cw, ch = max(a[2], b[2]) - min(a[0], b[0]), max(a[3], b[3]) - min(a[1], b[1])
    rho2 = ((a[0] + a[2]) / 2 - (b[0] + b[2]) / 2) ** 2 + ((a[1] + a[3]) / 2 - (b[1] + b[3]) / 2) ** 2
    c2 = (cw * ch if enclosing_area else cw * cw + ch * ch) + eps
    if c2 == 0:
        return math.nan
    ratio = rho2 / c2 if squared else math.sqrt(rho2 / c2)
    return _iou(a, b) - ratio ** beta


def _greedy(boxes: np.ndarray, scores: np.ndarray, threshold: float, *, idxs: np.ndarray | None = None,
            exceeds: Callable[[float, float], bool] = lambda v, t: v > t,
            ranking: Callable[[np.ndarray], np.ndarray] | None = None, only_kept_suppress: bool = True,
            overlap: Callable[[np.ndarray, np.ndarray], float] = _iou) -> np.ndarray:
    """A plain greedy NMS with each piece swappable (the defaults are right)."""
    idxs = np.zeros(len(scores), np.int64) if idxs is None else idxs
    order = np.argsort(-scores, kind="stable") if ranking is None else ranking(scores)
    suppressed = np.zeros(len(scores), bool)
    kept = []
    for rank, i in enumerate(order):
        if not suppressed[i]:
            kept.append(i)
        if suppressed[i] and only_kept_suppress:
            continue
        for j in order[rank + 1:]:
            if idxs[i] == idxs[j] and exceeds(overlap(boxes[i], boxes[j]), threshold):
                suppressed[j] = True
    return np.array(kept, dtype=np.int64)


# ---- nms ------------------------------------------------------------------------------------------------------

def nms_suppresses_at_equality(boxes, scores, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    return _greedy(boxes, scores, t, exceeds=lambda v, t: v >= t)  # the bug: >= instead of >


def nms_ties_by_higher_index(boxes, scores, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    return _greedy(boxes, scores, t, ranking=lambda s: np.argsort(s, kind="stable")[::-1])  # the bug


def nms_suppressed_boxes_still_suppress(boxes, scores, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    return _greedy(boxes, scores, t, only_kept_suppress=False)  # the bug


def nms_plus_one_pixel(boxes, scores, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    return _greedy(boxes, scores, t, overlap=lambda a, b: _iou(a, b, pixel=1.0))  # the bug: widths x2 - x1 + 1


def nms_float32_iou(boxes, scores, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    single = boxes.astype(np.float32)  # the bug: the overlap computed in float32 whatever the input dtype
    return _greedy(single, scores, t, overlap=lambda a, b: float(np.float32(_iou(a, b))))


def nms_union_eps(boxes, scores, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    return _greedy(boxes, scores, t, overlap=lambda a, b: _iou(a, b, eps=1e-7))  # the bug: I / (U + 1e-7)


# ---- batched_nms -------------------------------------------------------------------------------------------------

def batched_nms_coordinate_offset(boxes, scores, idxs, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    idxs = _validated_idxs(idxs, len(scores))
    offsets = idxs.astype(np.float64) * (boxes.max(initial=0.0) + 1)  # the bug: assumes coordinates >= 0
    return _greedy(boxes + offsets[:, None], scores, t)


def batched_nms_float32_offset(boxes, scores, idxs, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    idxs = _validated_idxs(idxs, len(scores))
    single = boxes.astype(np.float32)  # the bug: the offset trick in float32, where idx * span rounds boxes away
    low, span = single.min(initial=0), single.max(initial=0) - single.min(initial=0) + 1
    shifted = (single - low + idxs.astype(np.float32)[:, None] * span).astype(np.float32)
    return _greedy(shifted, scores, t, overlap=lambda a, b: float(np.float32(_iou(a, b))))


def batched_nms_ignores_categories(boxes, scores, idxs, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    _validated_idxs(idxs, len(scores))
    return _greedy(boxes, scores, t)  # the bug: idxs checked, then forgotten: one NMS over every box


def batched_nms_ties_by_higher_index(boxes, scores, idxs, iou_threshold):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    idxs = _validated_idxs(idxs, len(scores))
    return _greedy(boxes, scores, t, idxs=idxs, ranking=lambda s: np.argsort(s, kind="stable")[::-1])  # the bug


# ---- diou_nms ----------------------------------------------------------------------------------------------------

def diou_nms_suppresses_at_equality(boxes, scores, iou_threshold, beta=1.0):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    beta = _validated_beta(beta)
    return _greedy(boxes, scores, t, exceeds=lambda v, t: v >= t,  # the bug: the paper's >= read literally
                   overlap=lambda a, b: _diou(a, b, beta))


def diou_nms_unsquared_penalty(boxes, scores, iou_threshold, beta=1.0):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    beta = _validated_beta(beta)
    return _greedy(boxes, scores, t, overlap=lambda a, b: _diou(a, b, beta, squared=False))  # the bug: rho / c


def diou_nms_enclosing_area(boxes, scores, iou_threshold, beta=1.0):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    beta = _validated_beta(beta)
    return _greedy(boxes, scores, t, overlap=lambda a, b: _diou(a, b, beta, enclosing_area=True))  # the bug


def diou_nms_ignores_beta(boxes, scores, iou_threshold, beta=1.0):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    _validated_beta(beta)
    return _greedy(boxes, scores, t, overlap=lambda a, b: _diou(a, b, 1.0))  # the bug: beta checked, not applied


def diou_nms_plain_iou(boxes, scores, iou_threshold, beta=1.0):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    _validated_beta(beta)
    return _greedy(boxes, scores, t)  # the bug: the penalty left out (plain NMS under DIoU-NMS's name)


def diou_nms_eps_in_diagonal(boxes, scores, iou_threshold, beta=1.0):
    boxes, scores, t = _validated(boxes, scores, iou_threshold)
    beta = _validated_beta(beta)
    return _greedy(boxes, scores, t, overlap=lambda a, b: _diou(a, b, beta, eps=1e-7))  # the bug: c^2 + 1e-7


MUTANTS = [
    Mutant("nms_suppresses_at_equality", "nms", nms_suppresses_at_equality, None,
           ">= instead of >: a box whose IoU equals the threshold is suppressed", "branch"),
    Mutant("nms_ties_by_higher_index", "nms", nms_ties_by_higher_index, None,
           "np.argsort(scores)[::-1]: among equal scores the higher index ranks first", "convention"),
    Mutant("nms_suppressed_boxes_still_suppress", "nms", nms_suppressed_boxes_still_suppress, None,
           "every higher-scored box suppresses, kept or not (compared against all boxes, not the kept ones)",
           "formula"),
    Mutant("nms_plus_one_pixel", "nms", nms_plus_one_pixel, None,
           "the legacy integer-pixel IoU of py-faster-rcnn and Detectron: widths x2 - x1 + 1", "convention"),
    Mutant("nms_float32_iou", "nms", nms_float32_iou, None,
           "the IoU computed in float32 for float64 input (a float-only kernel)", "precision"),
    Mutant("nms_union_eps", "nms", nms_union_eps, None,
           "I / (U + 1e-7), the epsilon of ultralytics' and YOLOv5's box_iou, in the suppression test", "clamp"),
    Mutant("batched_nms_coordinate_offset", "batched_nms", batched_nms_coordinate_offset, None,
           "torchvision's offset trick idx * (max + 1): categories interact for negative coordinates", "convention"),
    Mutant("batched_nms_float32_offset", "batched_nms", batched_nms_float32_offset, None,
           "the offset trick in float32: a large idx * span rounds small boxes away", "precision"),
    Mutant("batched_nms_ignores_categories", "batched_nms", batched_nms_ignores_categories, None,
           "idxs validated but not used: boxes of different categories suppress each other", "formula"),
    Mutant("batched_nms_ties_by_higher_index", "batched_nms", batched_nms_ties_by_higher_index, None,
           "an unstable descending sort: among equal scores the higher index ranks first", "convention"),
    Mutant("diou_nms_suppresses_at_equality", "diou_nms", diou_nms_suppresses_at_equality, None,
           ">= instead of > on IoU - penalty (the paper's equation read literally)", "branch"),
    Mutant("diou_nms_unsquared_penalty", "diou_nms", diou_nms_unsquared_penalty, None,
           "rho / c instead of rho^2 / c^2", "formula"),
    Mutant("diou_nms_enclosing_area", "diou_nms", diou_nms_enclosing_area, None,
           "c^2 taken as the enclosing box's area (GIoU's C) instead of its squared diagonal", "formula"),
    Mutant("diou_nms_ignores_beta", "diou_nms", diou_nms_ignores_beta, None,
           "beta accepted but not applied (the penalty always to the power 1)", "default"),
    Mutant("diou_nms_eps_in_diagonal", "diou_nms", diou_nms_eps_in_diagonal, None,
           "c^2 + 1e-7 (the epsilon of ultralytics' DIoU) in the penalty's denominator", "clamp"),
    Mutant("diou_nms_plain_iou", "diou_nms", diou_nms_plain_iou, None,
           "the DIoU penalty left out: plain NMS", "formula"),
]
