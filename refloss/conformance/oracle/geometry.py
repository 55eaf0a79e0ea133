"""Oracles of the box geometry functions: ``box_convert`` and ``box_area`` (rows, with gradients) and the four
pairwise IoU matrices ``box_iou``, ``generalized_box_iou``, ``distance_box_iou``, ``complete_box_iou`` (no
gradient).

Each formula is the textbook definition, written once over a namespace ``M`` of operations
(:data:`refloss.conformance.oracle.boxes.EXACT` for the expected values, ``STANDARD`` for the rounding-error
scales): ``box_convert`` through corners, as its definition says (C1)-(C4); the area as width times height; the
pairwise values from the overlap, union, enclosing box and centres of one pair of boxes (Rezatofighi et al. 2019;
Zheng et al. 2020). Where a ratio is 0/0 (two boxes of zero area; a point box's aspect angle) the value is NaN, as
the functions document. Nothing here imports the NumPy reference.
"""

from __future__ import annotations

from typing import Any

import mpmath

from refloss.conformance.oracle.functions import PairwiseOracle, RowOracle

__all__ = ["ORACLES"]

_NAN = mpmath.nan


# ---- box_convert: every format to and from corners (C1)-(C4) ----------------------------------------------------

def _to_corners(box: list, fmt: str) -> list:
    if fmt == "xywh":  # (C1): top-left corner, width, height
        x, y, w, h = box
        return [x, y, x + w, y + h]
    if fmt == "cxcywh":  # (C3): centre, width, height
        cx, cy, w, h = box
        return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    return list(box)


def _from_corners(box: list, fmt: str) -> list:
    x1, y1, x2, y2 = box
    if fmt == "xywh":  # (C2)
        return [x1, y1, x2 - x1, y2 - y1]
    if fmt == "cxcywh":  # (C4)
        return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
    return [x1, y1, x2, y2]


def _box_convert(M: Any, rows: dict, params: dict) -> list:
    box, in_fmt, out_fmt = rows["boxes"], params["in_fmt"], params["out_fmt"]
    if in_fmt == out_fmt:
        return list(box)
    return _from_corners(_to_corners(box, in_fmt), out_fmt)


def _box_area(M: Any, rows: dict, params: dict) -> Any:
    x1, y1, x2, y2 = rows["boxes"]
    return (x2 - x1) * (y2 - y1)


# ---- the pairwise matrices: entry (n, m) from box p = boxes1[n] and box g = boxes2[m] ----------------------------

def _nan(M: Any) -> Any:
    """NaN in the namespace's number type (0/0 where the function documents NaN)."""
    return M.const(_NAN)


def _overlap_and_union(M: Any, p: list, g: list) -> tuple:
    """I = max(0, overlap width) * max(0, overlap height), U = A + A' - I (inclusion-exclusion)."""
    iw = M.maximum(M.minimum(p[2], g[2]) - M.maximum(p[0], g[0]), 0)
    ih = M.maximum(M.minimum(p[3], g[3]) - M.maximum(p[1], g[1]), 0)
    inter = iw * ih
    return inter, (p[2] - p[0]) * (p[3] - p[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter


def _iou(M: Any, p: list, g: list) -> Any:
    """I / U; NaN when U = 0 (two boxes of zero area: the ratio of two empty overlaps is undefined)."""
    inter, union = _overlap_and_union(M, p, g)
    return _nan(M) if M.val(union) == 0 else inter / union


def _enclosing_sides(M: Any, p: list, g: list) -> tuple:
    return M.maximum(p[2], g[2]) - M.minimum(p[0], g[0]), M.maximum(p[3], g[3]) - M.minimum(p[1], g[1])


def _diou(M: Any, p: list, g: list, eps: Any) -> tuple:
    """(IoU - rho^2 / (c^2 + eps), IoU): rho the distance between the centres, c the enclosing box's diagonal."""
    iou = _iou(M, p, g)
    dx = (p[0] + p[2]) / 2 - (g[0] + g[2]) / 2
    dy = (p[1] + p[3]) / 2 - (g[1] + g[3]) / 2
    cw, ch = _enclosing_sides(M, p, g)
    diagonal = cw * cw + ch * ch + eps
    if M.val(diagonal) == 0:  # eps = 0 and two equal points (the IoU is NaN already)
        return _nan(M), iou
    return iou - (dx * dx + dy * dy) / diagonal, iou


def _box_iou(M: Any, p: list, g: list, params: dict) -> Any:
    return _iou(M, p, g)


def _generalized_box_iou(M: Any, p: list, g: list, params: dict) -> Any:
    """IoU - (C - U) / C, C the enclosing box's area."""
    inter, union = _overlap_and_union(M, p, g)
    cw, ch = _enclosing_sides(M, p, g)
    enclosing = cw * ch
    if M.val(union) == 0:  # (and C = 0 only if U = 0)
        return _nan(M)
    return inter / union - (enclosing - union) / enclosing


def _distance_box_iou(M: Any, p: list, g: list, params: dict) -> Any:
    return _diou(M, p, g, params["eps"])[0]


def _aspect_angle(M: Any, box: list) -> Any:
    """arctan(w / h) in [0, pi/2]: pi/2 for h = 0 < w; None for w = h = 0 (0/0, the documented NaN)."""
    w, h = box[2] - box[0], box[3] - box[1]
    if M.val(w) == 0 and M.val(h) == 0:
        return None
    return M.atan2(w, h)


def _complete_box_iou(M: Any, p: list, g: list, params: dict) -> Any:
    """DIoU - alpha v, v = (4 / pi^2)(arctan(w/h) - arctan(w'/h'))^2, alpha = v / (1 - IoU + v + eps).

    alpha is 0/0 where v = 0 and IoU = 1 with eps = 0 (identical boxes): NaN, as the reference and torchvision
    compute it (the matched-pair ciou_loss takes alpha = 0 there instead)."""
    eps = params["eps"]
    diou, iou = _diou(M, p, g, eps)
    angle1, angle2 = _aspect_angle(M, p), _aspect_angle(M, g)
    if angle1 is None or angle2 is None or mpmath.isnan(M.val(diou)):
        return _nan(M)
    difference = angle1 - angle2
    v = 4 / mpmath.pi ** 2 * difference * difference
    denominator = 1 - iou + v + eps
    if M.val(denominator) == 0:
        return _nan(M)
    return diou - v / denominator * v


def _nan_propagating(formula: Any) -> Any:
    """The formula, NaN for a pair with a NaN coordinate (max/min of Python numbers would drop or keep a NaN
    depending on the argument order; the functions propagate it)."""
    def entry(M: Any, p: list, g: list, params: dict) -> Any:
        if any(mpmath.isnan(M.val(c)) for c in list(p) + list(g)):
            return _nan(M)
        return formula(M, p, g, params)
    return entry


ORACLES = {
    "box_convert": RowOracle(_box_convert, output_size=4),
    "box_area": RowOracle(_box_area),
    **{name: PairwiseOracle(_nan_propagating(formula)) for name, formula in {
        "box_iou": _box_iou, "generalized_box_iou": _generalized_box_iou, "distance_box_iou": _distance_box_iou,
        "complete_box_iou": _complete_box_iou}.items()},
}
