"""Mutants of the box geometry functions: ``box_convert`` and ``box_area`` (with VJPs) and the pairwise IoU
matrices ``box_iou``, ``generalized_box_iou``, ``distance_box_iou``, ``complete_box_iou`` (no VJP).

Each models a bug real box code has shipped: another library's convention (ultralytics' centre ``xywh``,
py-faster-rcnn's "+1 pixel", mmdetection's eps clamps that turn 0/0 into 0), torchvision's missing checks, the
broadcasting slip of torchvision's first ``distance_box_iou``/``complete_box_iou`` (pytorch/vision#6317: per-box
terms of ``boxes1`` and ``boxes2`` subtracted elementwise, which raises for N != M and pairs the wrong boxes for
N == M), and transposition or ordering slips in hand-written VJPs. The plumbing that is right (shape, box and eps
checks) is written once below; each function carries its one bug, marked ``# the bug``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ._base import Mutant
from ._port import as_float

FORMATS = ("xyxy", "xywh", "cxcywh")


# ---- the plumbing a port gets right ------------------------------------------------------------------------------

def _shaped(value: Any, name: str) -> np.ndarray:
    boxes = as_float(value, name)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4), got {boxes.shape}")
    return boxes


def _valid_in(value: Any, fmt: str, name: str = "boxes", check: bool = True) -> np.ndarray:
    """Boxes valid in their own format: x2 >= x1 and y2 >= y1 in xyxy, w >= 0 and h >= 0 otherwise."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    boxes = _shaped(value, name)
    if fmt == "xyxy":
        bad = (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
    else:
        bad = (boxes[..., 2] < 0) | (boxes[..., 3] < 0)
    if check and np.any(bad):
        raise ValueError(f"{name} has a box that is not valid in {fmt} at {np.argwhere(bad)[0].tolist()}")
    return boxes


def _check_formats(*formats: str) -> None:
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")


def _pairwise_sets(boxes1: Any, boxes2: Any) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) and (M, 4) xyxy boxes, none inverted."""
    sets = []
    for name, value in (("boxes1", boxes1), ("boxes2", boxes2)):
        boxes = _valid_in(value, "xyxy", name)
        if boxes.ndim != 2:
            raise ValueError(f"{name} must have shape (N, 4), got {boxes.shape}")
        sets.append(boxes)
    return sets[0], sets[1]


def _eps(eps: Any) -> float:
    eps = float(eps)
    if not 0 <= eps < math.inf:
        raise ValueError(f"eps must be in [0, inf), got {eps!r}")
    return eps


# ---- box_convert: the right steps through corners, as 4 x 4 matrices (row vectors: out = box @ STEP) --------------

_TO_XYXY = {
    "xyxy": np.eye(4),
    "xywh": np.array([[1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1]], float),  # x2 = x + w
    "cxcywh": np.array([[1, 0, 1, 0], [0, 1, 0, 1], [-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5]]),  # x1 = cx - w / 2
}
_FROM_XYXY = {
    "xyxy": np.eye(4),
    "xywh": np.array([[1, 0, -1, 0], [0, 1, 0, -1], [0, 0, 1, 0], [0, 0, 0, 1]], float),  # w = x2 - x1
    "cxcywh": np.array([[0.5, 0, -1, 0], [0, 0.5, 0, -1], [0.5, 0, 1, 0], [0, 0.5, 0, 1]]),  # cx = (x1 + x2) / 2
}


def _apply(boxes: np.ndarray, step: np.ndarray) -> np.ndarray:
    """boxes @ step over the non-zero coefficients only, so that a NaN coordinate reaches only the outputs it
    enters (a matrix product would spread it to every coordinate of the box, through 0 * NaN)."""
    return np.stack([sum(boxes[..., i] * step[i, j] for i in range(4) if step[i, j]) for j in range(4)], axis=-1)


def _convert_with(to_xyxy: dict, check: bool = True, through_corners: bool = False) -> Callable[..., np.ndarray]:
    """box_convert with the steps ``to_xyxy``; ``through_corners``: the bug of converting the same format in and out
    through corners too, which rounds (torchvision returns a copy)."""
    def box_convert(boxes: Any, in_fmt: str, out_fmt: str) -> np.ndarray:
        _check_formats(in_fmt, out_fmt)
        boxes = _valid_in(boxes, in_fmt, check=check)
        if in_fmt == out_fmt and not through_corners:
            return boxes.copy()
        return _apply(_apply(boxes, to_xyxy[in_fmt]), _FROM_XYXY[out_fmt])
    return box_convert


def _convert_vjp_with(vjp_of: Callable[[str, str, np.ndarray], np.ndarray]) -> Callable[..., tuple]:
    def box_convert_vjp(grad_output: Any, boxes: Any, in_fmt: str, out_fmt: str) -> tuple[np.ndarray]:
        _check_formats(in_fmt, out_fmt)
        boxes = _valid_in(boxes, in_fmt)
        g = as_float(grad_output, "grad_output")
        if g.shape != boxes.shape:
            raise ValueError(f"grad_output must have shape {boxes.shape}, got {g.shape}")
        return (vjp_of(in_fmt, out_fmt, g),)
    return box_convert_vjp


# ultralytics' xywh2xyxy: its "xywh" is the centre form, so a top-left xywh box is read as (cx, cy, w, h)
_ULTRALYTICS_TO_XYXY = {**_TO_XYXY, "xywh": _TO_XYXY["cxcywh"]}  # the bug
# cx - w and cx + w: the halving forgotten (the box twice as large about its centre)
_UNHALVED_TO_XYXY = {**_TO_XYXY, "cxcywh": np.array([[1, 0, 1, 0], [0, 1, 0, 1], [-1, 0, 1, 0], [0, -1, 0, 1.0]])}


def _vjp_untransposed(in_fmt: str, out_fmt: str, g: np.ndarray) -> np.ndarray:
    # the bug: the steps' matrices applied as they are, not transposed (right only for symmetric steps)
    return g @ _FROM_XYXY[out_fmt] @ _TO_XYXY[in_fmt]


def _vjp_forward_order(in_fmt: str, out_fmt: str, g: np.ndarray) -> np.ndarray:
    # the bug: the transposed steps applied in the forward's order (to corners first), not in reverse
    return g @ _TO_XYXY[in_fmt].T @ _FROM_XYXY[out_fmt].T


# ---- box_area ----------------------------------------------------------------------------------------------------

def _area_plus_one(boxes: Any) -> np.ndarray:
    b = _valid_in(boxes, "xyxy")
    return (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)  # the bug: py-faster-rcnn's inclusive pixels


def _area_unchecked(boxes: Any) -> np.ndarray:
    b = _valid_in(boxes, "xyxy", check=False)  # the bug: inverted boxes give signed areas (torchvision)
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def _area_vjp_with(sides_swapped: bool = False, ones: bool = False, masked: bool = False) -> Callable[..., tuple]:
    def box_area_vjp(grad_output: Any, boxes: Any) -> tuple[np.ndarray]:
        b = _valid_in(boxes, "xyxy")
        g = as_float(grad_output, "grad_output")
        if g.shape != b.shape[:-1]:
            raise ValueError(f"grad_output must have shape {b.shape[:-1]}, got {g.shape}")
        if ones:
            g = np.ones_like(g)  # the bug: the cotangent taken as 1 (right only for .backward() of a sum)
        w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
        if sides_swapped:
            w, h = h, w  # the bug: dA/dx1 = -w and dA/dy1 = -h, each edge moved by its own side
        if masked:
            g = np.where(w * h > 0, g, 0.0)  # the bug: no gradient where the area is 0 (a strict overlap mask's habit)
        return (np.stack([-g * h, -g * w, g * h, g * w], axis=-1),)
    return box_area_vjp


# ---- the pairwise matrices: the right pieces, on b1[:, None] against b2[None] --------------------------------------

def _grid(boxes1: Any, boxes2: Any) -> tuple[np.ndarray, np.ndarray]:
    b1, b2 = _pairwise_sets(boxes1, boxes2)
    return b1[:, None, :], b2[None, :, :]


def _area(b: np.ndarray) -> np.ndarray:
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def _overlap(p: np.ndarray, g: np.ndarray, clamp: bool = True) -> np.ndarray:
    iw = np.minimum(p[..., 2], g[..., 2]) - np.maximum(p[..., 0], g[..., 0])
    ih = np.minimum(p[..., 3], g[..., 3]) - np.maximum(p[..., 1], g[..., 1])
    if clamp:
        iw, ih = np.maximum(iw, 0), np.maximum(ih, 0)
    return iw * ih


def _enclosing(p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.maximum(p[..., 2], g[..., 2]) - np.minimum(p[..., 0], g[..., 0]),
            np.maximum(p[..., 3], g[..., 3]) - np.minimum(p[..., 1], g[..., 1]))


def _centre(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2


def _iou(p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inter = _overlap(p, g)
    union = _area(p) + _area(g) - inter
    return inter / union, inter, union


def _distance_penalty(p: np.ndarray, g: np.ndarray, eps: float) -> np.ndarray:
    (px, py), (gx, gy) = _centre(p), _centre(g)
    cw, ch = _enclosing(p, g)
    return ((px - gx) ** 2 + (py - gy) ** 2) / (cw**2 + ch**2 + eps)


def _angle(b: np.ndarray) -> np.ndarray:
    return np.arctan((b[..., 2] - b[..., 0]) / (b[..., 3] - b[..., 1]))


def _complete(diou: np.ndarray, iou: np.ndarray, v: np.ndarray, eps: float) -> np.ndarray:
    return diou - v / (1 - iou + v + eps) * v


# ---- box_iou -----------------------------------------------------------------------------------------------------

def _iou_union_clamped(boxes1, boxes2):
    p, g = _grid(boxes1, boxes2)
    inter = _overlap(p, g)
    return inter / np.maximum(_area(p) + _area(g) - inter, 1e-6)  # the bug: mmdet's bbox_overlaps: 0/0 becomes 0


def _iou_overlap_not_clamped(boxes1, boxes2):
    p, g = _grid(boxes1, boxes2)
    inter = _overlap(p, g, clamp=False)  # the bug: (rb - lt) not clamped at 0: disjoint boxes overlap
    return inter / (_area(p) + _area(g) - inter)


def _iou_plus_one(boxes1, boxes2):
    p, g = _grid(boxes1, boxes2)
    one = np.array([0.0, 0.0, 1.0, 1.0])
    p, g = p + one, g + one  # the bug: py-faster-rcnn's inclusive pixels, w = x2 - x1 + 1
    return _iou(p, g)[0]


def _iou_in_float32(boxes1, boxes2):
    p, g = _grid(boxes1, boxes2)
    p, g = p.astype(np.float32), g.astype(np.float32)  # the bug: computed in float32 whatever the input's dtype
    return _iou(p, g)[0].astype(np.float64)


# ---- generalized_box_iou -----------------------------------------------------------------------------------------

def _giou_over_union(boxes1, boxes2):
    p, g = _grid(boxes1, boxes2)
    iou, _, union = _iou(p, g)
    cw, ch = _enclosing(p, g)
    return iou - (cw * ch - union) / union  # the bug: the empty part over the union, not the enclosing box


def _giou_clamped(boxes1, boxes2):
    p, g = _grid(boxes1, boxes2)
    inter = _overlap(p, g)
    union = np.maximum(_area(p) + _area(g) - inter, 1e-6)  # the bug: mmdet's clamps of U and C: 0/0 becomes 0
    cw, ch = _enclosing(p, g)
    enclosing = np.maximum(cw * ch, 1e-6)
    return inter / union - (enclosing - union) / enclosing


def _giou_empty_part_with_intersection(boxes1, boxes2):
    p, g = _grid(boxes1, boxes2)
    iou, inter, _ = _iou(p, g)
    cw, ch = _enclosing(p, g)
    return iou - (cw * ch - inter) / (cw * ch)  # the bug: C - I for C - U


def _giou_as_loss(boxes1, boxes2):
    p, g = _grid(boxes1, boxes2)
    iou, _, union = _iou(p, g)
    cw, ch = _enclosing(p, g)
    return 1 - (iou - (cw * ch - union) / (cw * ch))  # the bug: generalized_box_iou_loss for the metric


# ---- distance_box_iou --------------------------------------------------------------------------------------------

def _diou_centres_not_halved(boxes1, boxes2, eps=1e-7):
    p, g = _grid(boxes1, boxes2)
    eps = _eps(eps)
    dx = p[..., 0] + p[..., 2] - g[..., 0] - g[..., 2]  # the bug: sums of corners, not centres: rho^2 four times
    dy = p[..., 1] + p[..., 3] - g[..., 1] - g[..., 3]
    cw, ch = _enclosing(p, g)
    return _iou(p, g)[0] - (dx**2 + dy**2) / (cw**2 + ch**2 + eps)


def _diou_eps_ignored(boxes1, boxes2, eps=1e-7):
    p, g = _grid(boxes1, boxes2)
    _eps(eps)
    return _iou(p, g)[0] - _distance_penalty(p, g, 0.0)  # the bug: eps checked but not used


def _diou_eps_in_iou(boxes1, boxes2, eps=1e-7):
    p, g = _grid(boxes1, boxes2)
    eps = _eps(eps)
    inter = _overlap(p, g)
    iou = inter / (_area(p) + _area(g) - inter + eps)  # the bug: ultralytics' bbox_iou adds eps to the union too
    return iou - _distance_penalty(p, g, eps)


def _diou_centres_not_paired(boxes1, boxes2, eps=1e-7):
    b1, b2 = _pairwise_sets(boxes1, boxes2)
    eps = _eps(eps)
    p, g = b1[:, None, :], b2[None, :, :]
    (px, py), (gx, gy) = _centre(b1), _centre(b2)
    distance = (px - gx) ** 2 + (py - gy) ** 2  # the bug: (N,) - (M,), torchvision before pytorch/vision#6317
    cw, ch = _enclosing(p, g)
    return _iou(p, g)[0] - distance / (cw**2 + ch**2 + eps)


# ---- complete_box_iou --------------------------------------------------------------------------------------------

def _ciou_angles_not_paired(boxes1, boxes2, eps=1e-7):
    b1, b2 = _pairwise_sets(boxes1, boxes2)
    eps = _eps(eps)
    p, g = b1[:, None, :], b2[None, :, :]
    iou = _iou(p, g)[0]
    v = 4 / math.pi**2 * (_angle(b2) - _angle(b1)) ** 2  # the bug: (M,) - (N,), as pytorch/vision#6317
    return _complete(iou - _distance_penalty(p, g, eps), iou, v, eps)


def _ciou_point_angle_zero(boxes1, boxes2, eps=1e-7):
    p, g = _grid(boxes1, boxes2)
    eps = _eps(eps)
    iou = _iou(p, g)[0]
    # the bug: atan2(w, h), so a point box has angle 0 (the matched-pair loss's convention) instead of NaN
    angle = lambda b: np.arctan2(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1])  # noqa: E731
    v = 4 / math.pi**2 * (angle(g) - angle(p)) ** 2
    return _complete(iou - _distance_penalty(p, g, eps), iou, v, eps)


def _ciou_alpha_without_eps(boxes1, boxes2, eps=1e-7):
    p, g = _grid(boxes1, boxes2)
    eps = _eps(eps)
    iou = _iou(p, g)[0]
    v = 4 / math.pi**2 * (_angle(g) - _angle(p)) ** 2
    return iou - _distance_penalty(p, g, eps) - v / (1 - iou + v) * v  # the bug: no eps in alpha's denominator


def _ciou_without_alpha(boxes1, boxes2, eps=1e-7):
    p, g = _grid(boxes1, boxes2)
    eps = _eps(eps)
    iou = _iou(p, g)[0]
    v = 4 / math.pi**2 * (_angle(g) - _angle(p)) ** 2
    return iou - _distance_penalty(p, g, eps) - v  # the bug: the aspect term without its weight alpha


MUTANTS = [
    # box_convert
    Mutant("box_convert_ultralytics_xywh", "box_convert", _convert_with(_ULTRALYTICS_TO_XYXY), None,
           "ultralytics' xywh (the centre form) taken for torchvision's top-left xywh", "convention"),
    Mutant("box_convert_unhalved_centre", "box_convert", _convert_with(_UNHALVED_TO_XYXY), None,
           "cxcywh to corners as cx -/+ w instead of cx -/+ w / 2", "formula"),
    Mutant("box_convert_negative_size_unchecked", "box_convert", _convert_with(_TO_XYXY, check=False), None,
           "a negative w or h converted silently to an inverted box (torchvision)", "validation"),
    Mutant("box_convert_identity_through_corners", "box_convert", _convert_with(_TO_XYXY, through_corners=True),
           None, "the same format in and out converted through corners and back, which rounds, not copied",
           "precision"),
    Mutant("box_convert_vjp_untransposed", "box_convert", None, _convert_vjp_with(_vjp_untransposed),
           "the VJP applies the conversion's matrices instead of their transposes", "gradient"),
    Mutant("box_convert_vjp_forward_order", "box_convert", None, _convert_vjp_with(_vjp_forward_order),
           "the VJP applies the transposed steps in the forward's order, not in reverse", "gradient"),
    # box_area
    Mutant("box_area_plus_one", "box_area", _area_plus_one, None,
           "py-faster-rcnn's (x2 - x1 + 1)(y2 - y1 + 1) for continuous coordinates", "convention"),
    Mutant("box_area_inverted_unchecked", "box_area", _area_unchecked, None,
           "inverted boxes give signed areas instead of an error (torchvision)", "validation"),
    Mutant("box_area_vjp_sides_swapped", "box_area", None, _area_vjp_with(sides_swapped=True),
           "dA/dx1 = -w instead of -h: each edge moved by its own side", "gradient"),
    Mutant("box_area_vjp_ignoring_grad_output", "box_area", None, _area_vjp_with(ones=True),
           "the cotangent taken as 1", "cotangent"),
    Mutant("box_area_vjp_zero_at_zero_area", "box_area", None, _area_vjp_with(masked=True),
           "no gradient for a zero-width or zero-height box, though moving an edge out grows its area", "gradient"),
    # box_iou
    Mutant("box_iou_union_clamped", "box_iou", _iou_union_clamped, None,
           "the union clamped at eps (mmdet's bbox_overlaps): two zero-area boxes give 0, not NaN", "nonfinite"),
    Mutant("box_iou_overlap_not_clamped", "box_iou", _iou_overlap_not_clamped, None,
           "the overlap's sides not clamped at 0: diagonal disjoint boxes get a positive intersection", "clamp"),
    Mutant("box_iou_plus_one", "box_iou", _iou_plus_one, None,
           "py-faster-rcnn's inclusive-pixel widths x2 - x1 + 1", "convention"),
    Mutant("box_iou_in_float32", "box_iou", _iou_in_float32, None,
           "float64 boxes computed in float32 (a kernel with one accumulation type)", "precision"),
    # generalized_box_iou
    Mutant("giou_matrix_over_union", "generalized_box_iou", _giou_over_union, None,
           "the enclosing box's empty part divided by the union, not by the enclosing area", "formula"),
    Mutant("giou_matrix_clamped", "generalized_box_iou", _giou_clamped, None,
           "union and enclosing area clamped at eps (mmdet): zero-area pairs give a number, not NaN", "nonfinite"),
    Mutant("giou_matrix_empty_part_with_intersection", "generalized_box_iou", _giou_empty_part_with_intersection,
           None, "the empty part of the enclosing box as C - I instead of C - U", "formula"),
    Mutant("giou_matrix_as_loss", "generalized_box_iou", _giou_as_loss, None,
           "1 - GIoU (generalized_box_iou_loss) returned for the GIoU matrix", "convention"),
    # distance_box_iou
    Mutant("diou_matrix_centres_not_halved", "distance_box_iou", _diou_centres_not_halved, None,
           "centre offsets as sums of corners: the squared distance four times too large", "formula"),
    Mutant("diou_matrix_eps_ignored", "distance_box_iou", _diou_eps_ignored, None,
           "eps accepted but not added to the squared diagonal", "clamp"),
    Mutant("diou_matrix_eps_in_iou", "distance_box_iou", _diou_eps_in_iou, None,
           "eps added to the IoU's union as well (ultralytics' bbox_iou), not to c^2 only", "clamp"),
    Mutant("diou_matrix_centres_not_paired", "distance_box_iou", _diou_centres_not_paired, None,
           "per-box centres subtracted elementwise (torchvision before pytorch/vision#6317)", "broadcasting"),
    # complete_box_iou
    Mutant("ciou_matrix_angles_not_paired", "complete_box_iou", _ciou_angles_not_paired, None,
           "per-box aspect angles subtracted elementwise (torchvision before pytorch/vision#6317)", "broadcasting"),
    Mutant("ciou_matrix_point_angle_zero", "complete_box_iou", _ciou_point_angle_zero, None,
           "atan2(w, h): a point box's aspect angle 0 instead of 0/0 = NaN", "nonfinite"),
    Mutant("ciou_matrix_alpha_without_eps", "complete_box_iou", _ciou_alpha_without_eps, None,
           "alpha = v / (1 - IoU + v), eps left out of its denominator", "clamp"),
    Mutant("ciou_matrix_without_alpha", "complete_box_iou", _ciou_without_alpha, None,
           "CIoU = DIoU - v: the aspect term without its weight alpha", "formula"),
]
