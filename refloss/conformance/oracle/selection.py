"""Oracles of the selection functions (nms, batched_nms, diou_nms): the kept indices, decided in exact arithmetic.

The textbook greedy NMS of Neubeck and Van Gool, written from the definition and not from refloss's code: rank
the boxes by decreasing score (equal scores: lower index first), walk down the ranking, and keep a box unless a
box kept before it (of its category, for batched NMS) overlaps it by strictly more than the threshold. The
overlap is the IoU I / U (DIoU-NMS: IoU - (rho^2 / c^2)^beta, Zheng et al.); a pair whose union U is zero has no
overlap and never suppresses.

Every comparison is exact: the inputs (binary floats, so dyadic rationals) become :class:`fractions.Fraction`,
every IoU, rho^2 and c^2 is then a fraction, and a fractional power (rho^2 / c^2)^(p/q) is compared through
integer powers, x - r^(p/q) > t  <=>  x - t > 0 and (x - t)^q > r^p. Only a beta with a huge denominator (0.6
as a float64 is k / 2^53) falls back to mpmath at 200 digits, which must then separate the two sides clearly.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

import mpmath

from refloss.conformance.oracle.functions import SelectionOracle

__all__ = ["ORACLES", "exact", "greedy_kept"]

_MAX_EXACT_ROOT = 64  # largest denominator q of beta = p/q compared through integer powers
_FALLBACK_DIGITS = 200


def exact(value: Any) -> Fraction | float:
    """An mpf, int, float or Fraction as an exact Fraction; +-inf stays a float (only scores may be infinite)."""
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, mpmath.mpf):
        if mpmath.isinf(value):
            return float(value)
        if mpmath.isnan(value):
            raise ValueError("a NaN input has no kept set")
        sign, mantissa, exponent, _ = value._mpf_  # value = (-1)^sign * mantissa * 2^exponent exactly
        return (-1) ** sign * Fraction(mantissa) * Fraction(2) ** exponent
    value = float(value)
    return value if value in (float("inf"), float("-inf")) else Fraction(value)


def _box(row: Any) -> tuple[Fraction, Fraction, Fraction, Fraction]:
    x1, y1, x2, y2 = (exact(v) for v in row)
    return x1, y1, x2, y2


def _intersection_union(a, b) -> tuple[Fraction, Fraction]:
    width = max(Fraction(0), min(a[2], b[2]) - max(a[0], b[0]))
    height = max(Fraction(0), min(a[3], b[3]) - max(a[1], b[1]))
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection, union


def iou_exceeds(a, b, threshold: Fraction) -> bool:
    """IoU(a, b) > threshold, exactly; False when the union is zero (no IoU)."""
    intersection, union = _intersection_union(a, b)
    return union > 0 and intersection / union > threshold


def _centre_ratio(a, b) -> Fraction:
    """rho^2 / c^2: squared distance of the centres over the squared diagonal of the enclosing box."""
    rho2 = ((a[0] + a[2] - b[0] - b[2]) / 2) ** 2 + ((a[1] + a[3] - b[1] - b[3]) / 2) ** 2
    c2 = (max(a[2], b[2]) - min(a[0], b[0])) ** 2 + (max(a[3], b[3]) - min(a[1], b[1])) ** 2
    return rho2 / c2  # c2 > 0 whenever the union is > 0 (a box of positive area spans the enclosing box)


def diou_exceeds(beta: Fraction) -> Callable[..., bool]:
    """IoU(a, b) - (rho^2 / c^2)^beta > threshold, exactly; False when the union is zero."""
    def exceeds(a, b, threshold: Fraction) -> bool:
        intersection, union = _intersection_union(a, b)
        if union == 0:
            return False
        margin = intersection / union - threshold  # the comparison is margin > ratio^beta, ratio^beta >= 0
        ratio = _centre_ratio(a, b)
        if margin <= 0:
            return False
        if ratio == 0:
            return True
        p, q = beta.numerator, beta.denominator
        if q <= _MAX_EXACT_ROOT:
            return margin ** q > ratio ** p
        with mpmath.workdps(_FALLBACK_DIGITS):
            difference = mpmath.mpf(margin.numerator) / margin.denominator - mpmath.power(
                mpmath.mpf(ratio.numerator) / ratio.denominator, mpmath.mpf(p) / q)
            if abs(difference) < mpmath.mpf(10) ** (-_FALLBACK_DIGITS // 2):
                raise ValueError(f"diou_nms oracle: beta = {beta} with the overlap too close to the threshold to "
                                 "decide at 200 digits")
            return difference > 0
    return exceeds


def greedy_kept(boxes: list, scores: list, categories: list, threshold: Fraction,
                exceeds: Callable[..., bool]) -> list[int]:
    """The greedy pass: rank by (-score, index); keep j unless a kept i of j's category overlaps it too much."""
    ranking = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for j in ranking:
        if not any(categories[i] == categories[j] and exceeds(boxes[i], boxes[j], threshold) for i in kept):
            kept.append(j)
    return kept


def _arguments(inputs: dict, params: dict) -> tuple[list, list, Fraction]:
    boxes = [_box(row) for row in list(inputs["boxes"].reshape(-1, 4))]
    scores = [exact(s) for s in list(inputs["scores"].reshape(-1))]
    return boxes, scores, exact(params["iou_threshold"])


def _nms(inputs: dict, params: dict) -> list[int]:
    boxes, scores, threshold = _arguments(inputs, params)
    return greedy_kept(boxes, scores, [0] * len(scores), threshold, iou_exceeds)


def _batched_nms(inputs: dict, params: dict) -> list[int]:
    boxes, scores, threshold = _arguments(inputs, params)
    categories = [int(c) for c in list(inputs["idxs"].reshape(-1))]
    return greedy_kept(boxes, scores, categories, threshold, iou_exceeds)


def _diou_nms(inputs: dict, params: dict) -> list[int]:
    boxes, scores, threshold = _arguments(inputs, params)
    beta = exact(params.get("beta", 1))
    return greedy_kept(boxes, scores, [0] * len(scores), threshold, diou_exceeds(beta))


ORACLES = {
    "nms": SelectionOracle(_nms),
    "batched_nms": SelectionOracle(_batched_nms),
    "diou_nms": SelectionOracle(_diou_nms),
}
