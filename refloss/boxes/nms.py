"""Non-maximum suppression: greedy NMS, NMS per category (batched) and DIoU-NMS. Integer output, no gradient.

All three are one greedy pass (steps (S1)-(S4) of docs/derivations/nms.md) that differ only in which pairs may
suppress each other (every pair, or pairs of the same category) and in the overlap measure (IoU, or IoU minus
the DIoU centre-distance penalty).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from refloss._checks import as_array, as_real_array
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register
from refloss.boxes._checks import as_boxes
from refloss.boxes._pair import centre_distance_squared, enclosing_size, intersection_and_union

__all__ = ["batched_nms", "diou_nms", "nms"]

DERIVATION = "docs/derivations/nms.md"

IOU_THRESHOLD = Param(
    "iou_threshold", default=None, domain=Interval(-math.inf, math.inf, True, True),
    description="a box is suppressed when its overlap with a kept box is strictly greater than this; required "
                "(no default, as in torchvision); any real number, NaN refused",
    grid=(0.0, 0.3, 0.5, 0.7, 1.0), required=True)
BETA = Param("beta", default=1.0, domain=Interval(0.0, math.inf),
             description="exponent of the DIoU penalty (rho^2 / c^2)^beta; 1 in the paper, 0.6 in the authors' "
                         "darknet cfg", grid=(0.6, 1.0, 2.0))

BOXES = Input("boxes", "boxes in xyxy, one per row", shape=("N", "4"), differentiable=False,
              sample=Interval(0.0, 100.0, True, True))
SCORES = Input("scores", "one real score per box (NaN refused)", shape=("N",), differentiable=False,
               sample=Interval(0.0, 1.0, True, True))
IDXS = Input("idxs", "the category of each box (any integers)", shape=("N",), differentiable=False, kind="int")

# How two boxes' overlap is measured: the kept box (4,) against the boxes still in play (M, 4) gives
# (overlap (M,), defined (M,)); a pair whose overlap is not defined never suppresses.
Overlap = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def nms(boxes: Any, scores: Any, iou_threshold: float) -> np.ndarray:
    r"""Non-maximum suppression: the indices of the boxes kept, in decreasing order of score.

    Definition:
        Rank the boxes by decreasing score (S1). Walk down the ranking: a box is kept (S2) unless a box kept
        before it overlaps it by more than the threshold :math:`t`, in which case it is suppressed (S3):

        .. math::
            \operatorname{IoU}(b_i, b_j) = \frac{I_{ij}}{A_i + A_j - I_{ij}}, \qquad
            j \text{ suppressed if } \operatorname{IoU}(b_i, b_j) > t \text{ for a kept } i \text{ ranked above } j

        where :math:`I_{ij}` is the area of the intersection and :math:`A_i` the area of box :math:`i`. Only
        kept boxes suppress: a suppressed box does not suppress the boxes after it. The result lists the kept
        indices in ranking order (S4).

    Gradient:
        None: NMS has no gradient and refloss registers no VJP for it. Its output is a set of integer indices, a
        piecewise constant function of the boxes and scores: away from exact ties (two equal scores, or an
        overlap exactly equal to :math:`t`) a small enough perturbation changes nothing,

        .. math::
            K(b + \delta b,\; s + \delta s) = K(b, s),

        and at a tie the output jumps. There is no derivative to give, so none is faked.

    Conventions:
        Strict: a box whose IoU with a kept box equals ``iou_threshold`` exactly is kept, as in
        ``torchvision.ops.nms`` (measured: IoU 0.5 against threshold 0.5 keeps both boxes). Ties in score: the
        ranking is a stable sort, so among equal scores the lower index comes first (and is the one kept among
        identical boxes); torchvision's CPU kernel does the same (measured) but documents no order. A pair of
        boxes whose union has zero area (two degenerate boxes, for example the same point twice) has no IoU
        (0/0) and never suppresses, whatever the threshold; torchvision's kernel computes NaN there, which
        compares false, and so agrees. IoU is computed in float64 on the boxes' exact values (torchvision computes
        in the input's dtype: in float32 an IoU of exactly 3/10 rounds above the threshold 0.3 and suppresses).
        ``iou_threshold`` may be any real number, as in torchvision: 1 or more suppresses nothing (an IoU never
        exceeds 1), below 0 the first box suppresses every box it has an IoU with; NaN is refused (torchvision
        then silently suppresses nothing). NaN scores are
        refused (torch's descending sort ranks NaN above every number, so torchvision keeps a NaN-scored box
        first); infinite scores are ranked normally. Boxes must be finite and not inverted (x2 >= x1, y2 >= y1;
        torchvision checks neither).

    Shapes:
        ``boxes``: ``(N, 4)`` in ``xyxy``; ``scores``: ``(N,)``. Output: ``(K,)`` int64 with ``K <= N``; empty
        (shape ``(0,)``) for ``N = 0``.

    Args:
        boxes: Boxes :math:`b_i = (x_1, y_1, x_2, y_2)`, one per row.
        scores: The score of each box (any real numbers; NaN refused).
        iou_threshold: The threshold :math:`t` (required; any real number, NaN refused).

    Returns:
        The indices of the kept boxes as an int64 array, by decreasing score (ties: lower index first).

    References:
        Neubeck, A. and Van Gool, L. "Efficient Non-Maximum Suppression", ICPR 2006:
        https://doi.org/10.1109/ICPR.2006.479.
        torchvision ``torchvision.ops.nms``: https://docs.pytorch.org/vision/stable/generated/torchvision.ops.nms.html

    Examples:
        >>> nms([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], [0.9, 0.8, 0.7], 0.5).tolist()
        [0, 2]
    """
    boxes, scores = _boxes_and_scores(boxes, scores)
    threshold = IOU_THRESHOLD.check(iou_threshold)
    return _greedy(boxes, scores, _one_category(len(scores)), _iou, threshold)


def batched_nms(boxes: Any, scores: Any, idxs: Any, iou_threshold: float) -> np.ndarray:
    r"""Non-maximum suppression within each category: boxes of different categories never suppress each other.

    Definition:
        :func:`nms` with one change to step (S3): box :math:`j` is suppressed only by a kept box :math:`i` of its
        own category,

        .. math::
            j \text{ suppressed if } c_i = c_j \text{ and } \operatorname{IoU}(b_i, b_j) > t
            \text{ for a kept } i \text{ ranked above } j,

        which is the same as running :func:`nms` on each category separately and merging the kept indices in
        decreasing order of score.

    Gradient:
        None, as for :func:`nms`: the output is a set of integer indices, piecewise constant in the boxes and
        scores,

        .. math::
            K(b + \delta b,\; s + \delta s) = K(b, s)

        for small enough perturbations away from ties, so there is no gradient and no VJP is registered.

    Conventions:
        The categories are compared directly inside the one greedy pass; there is no coordinate offset. torchvision
        shifts each category's boxes by ``idx * (max coordinate + 1)`` when the input is small (at most 4000
        coordinates on CPU) and runs one NMS: that separates the categories only if every coordinate is
        non-negative (measured: two boxes (-10, -10, 1, 1) of categories 0 and 1 suppress each other at threshold
        0.5), and in float32 a large ``idx * max coordinate`` rounds small boxes away (measured: boxes (0, 0, 1, 1)
        and (0.5, 0, 1.5, 1), IoU 1/3, in category 10**7 do not suppress each other at threshold 0.2). Here neither
        can happen. Output order: decreasing score, equal scores by lower index first (a stable sort);
        torchvision's per-category path (larger inputs) orders equal scores unstably. Strictness, zero-union
        pairs, NaN and threshold rules as in :func:`nms`.

    Shapes:
        ``boxes``: ``(N, 4)``; ``scores``: ``(N,)``; ``idxs``: ``(N,)`` integers. Output: ``(K,)`` int64.

    Args:
        boxes: Boxes in ``xyxy``, one per row.
        scores: The score of each box (NaN refused).
        idxs: The category of each box: integers of any sign (booleans and floats refused).
        iou_threshold: The threshold :math:`t` (required; any real number, NaN refused).

    Returns:
        The indices of the kept boxes as an int64 array, by decreasing score (ties: lower index first).

    References:
        Neubeck, A. and Van Gool, L. "Efficient Non-Maximum Suppression", ICPR 2006:
        https://doi.org/10.1109/ICPR.2006.479.
        torchvision ``torchvision.ops.batched_nms``:
        https://docs.pytorch.org/vision/stable/generated/torchvision.ops.batched_nms.html

    Examples:
        >>> batched_nms([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], [0, 1], 0.5).tolist()
        [0, 1]
    """
    boxes, scores = _boxes_and_scores(boxes, scores)
    categories = _categories(idxs, len(scores))
    threshold = IOU_THRESHOLD.check(iou_threshold)
    return _greedy(boxes, scores, categories, _iou, threshold)


def diou_nms(boxes: Any, scores: Any, iou_threshold: float, *, beta: float = 1.0) -> np.ndarray:
    r"""DIoU-NMS (Zheng et al.): NMS whose overlap subtracts a penalty for distant box centres.

    Definition:
        :func:`nms` with the overlap of step (S3) replaced by IoU minus the DIoU penalty (D1):

        .. math::
            j \text{ suppressed if } \operatorname{IoU}(b_i, b_j)
            - \Bigl(\frac{\rho^2(b_i, b_j)}{c^2(b_i, b_j)}\Bigr)^{\beta} > t
            \text{ for a kept } i \text{ ranked above } j,

        where :math:`\rho` is the distance between the two box centres and :math:`c` the diagonal of the
        smallest box enclosing both. Two boxes that overlap but whose centres lie far apart (two adjacent
        objects) are kept where plain NMS would suppress one.

    Gradient:
        None, as for :func:`nms`: the output is a set of integer indices, piecewise constant in the boxes and
        scores,

        .. math::
            K(b + \delta b,\; s + \delta s) = K(b, s)

        for small enough perturbations away from ties, so there is no gradient and no VJP is registered.

    Conventions:
        Strict ``>``, as in the authors' code (Zzh-tju/DIoU-darknet, ``box_diounms(a, b, beta1) > thresh``) and
        in :func:`nms`; the paper's equation (s_i = 0 when IoU - R_DIoU >= epsilon) suppresses at equality too.
        The two differ only when the penalised overlap equals the threshold exactly. ``beta`` is the darknet
        ``beta1`` exponent (1 is the paper's DIoU; the authors' VOC cfg uses 0.6); it must be positive. No
        epsilon is added to :math:`c^2`: it is zero only when both boxes are the same point, a pair whose union
        is zero, which never suppresses (as in :func:`nms`). Ties, NaN and threshold rules as in :func:`nms`.
        One category: for DIoU-NMS per class, call it per class (it has no ``idxs``).

    Shapes:
        ``boxes``: ``(N, 4)``; ``scores``: ``(N,)``. Output: ``(K,)`` int64.

    Args:
        boxes: Boxes in ``xyxy``, one per row.
        scores: The score of each box (NaN refused).
        iou_threshold: The threshold :math:`t` (required; any real number, NaN refused).
        beta: The exponent :math:`\beta > 0` of the penalty (default 1.0).

    Returns:
        The indices of the kept boxes as an int64 array, by decreasing score (ties: lower index first).

    References:
        Zheng, Z. et al. "Distance-IoU Loss: Faster and Better Learning for Bounding Box Regression", AAAI 2020:
        https://arxiv.org/abs/1911.08287 (section "Non-Maximum Suppression using DIoU").
        Authors' code, Zzh-tju/DIoU-darknet, src/box.c (box_diounms, diounms_sort):
        https://github.com/Zzh-tju/DIoU-darknet

    Examples:
        >>> diou_nms([[0, 0, 10, 10], [3, 0, 13, 10]], [0.9, 0.8], 0.52).tolist()
        [0, 1]
    """
    boxes, scores = _boxes_and_scores(boxes, scores)
    threshold = IOU_THRESHOLD.check(iou_threshold)
    beta = BETA.check(beta)
    return _greedy(boxes, scores, _one_category(len(scores)), lambda kept, rest: _diou(kept, rest, beta), threshold)


def _greedy(boxes: np.ndarray, scores: np.ndarray, categories: np.ndarray, overlap: Overlap,
            threshold: float) -> np.ndarray:
    """The greedy pass shared by the three functions, steps (S1)-(S4)."""
    # (S1) Rank by decreasing score. A stable sort of -score keeps equal scores in increasing index order.
    ranking = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(scores), dtype=bool)
    kept = []
    for rank, index in enumerate(ranking):
        if suppressed[index]:
            continue
        kept.append(index)  # (S2) nothing kept before it suppresses it
        # (S3) It suppresses the boxes ranked below it, of its category, that it overlaps by more than the
        # threshold. Boxes ranked above it are already decided, and only kept boxes ever get here.
        below = ranking[rank + 1:]
        value, defined = overlap(boxes[index], boxes[below])
        same_category = categories[below] == categories[index]
        suppressed[below] |= same_category & defined & (value > threshold)
    return np.array(kept, dtype=np.int64)  # (S4) already in ranking order


def _iou(kept: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU of one kept box with each of ``rest``, in torchvision's order of operations: I / (A_kept + A_j - I).

    The IoU of a pair whose union is zero (0/0) is undefined.
    """
    inter, union = intersection_and_union(kept, rest)
    defined = union > 0
    return inter / np.where(defined, union, 1.0), defined


def _diou(kept: np.ndarray, rest: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """IoU minus the DIoU penalty (rho^2 / c^2)^beta, (D1)."""
    iou, defined = _iou(kept, rest)
    width, height = enclosing_size(kept, rest)
    diagonal_squared = width * width + height * height  # zero only for a pair of identical points: undefined
    ratio = centre_distance_squared(kept, rest) / np.where(diagonal_squared > 0, diagonal_squared, 1.0)
    return iou - ratio ** beta, defined


def _one_category(count: int) -> np.ndarray:
    return np.zeros(count, dtype=np.int64)


def _boxes_and_scores(boxes: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4), finite and not inverted, and N real scores without NaN, both as float64."""
    boxes = as_boxes(boxes, "boxes")  # shape (..., 4), real, no inverted box (named)
    if boxes.ndim != 2:
        raise ValueError(f"boxes must have shape (N, 4) (one box per row), got shape {boxes.shape}")
    not_finite = ~np.isfinite(boxes).all(axis=1)
    if not_finite.any():
        row = int(np.argmax(not_finite))
        raise ValueError(f"boxes[{row}] = {boxes[row].tolist()} is not finite: a box with a NaN or infinite "
                         f"coordinate has no defined overlap ({int(not_finite.sum())} such box(es))")
    scores = as_real_array(scores, "scores")
    if scores.shape != (len(boxes),):
        raise ValueError(f"scores must have shape (N,) = ({len(boxes)},), one score per box, got shape "
                         f"{scores.shape}")
    nan = np.isnan(scores)
    if nan.any():
        raise ValueError(f"scores[{int(np.argmax(nan))}] is NaN: NaN scores cannot be ranked ({int(nan.sum())} "
                         f"NaN score(s)); torchvision would rank them above every number")
    return boxes, scores


def _categories(idxs: Any, count: int) -> np.ndarray:
    """The category of each box: an integer array of shape (N,)."""
    categories = as_array(idxs, "idxs")
    if categories.size == 0 and categories.dtype.kind == "f":
        categories = categories.astype(np.int64)  # an empty list: NumPy gives it float64, but it holds no float
    if categories.dtype.kind not in "iu":
        raise TypeError(f"idxs must be an array of integers (one category per box), got dtype {categories.dtype}")
    if categories.shape != (count,):
        raise ValueError(f"idxs must have shape (N,) = ({count},), one category per box, got shape "
                         f"{categories.shape}")
    return categories


# ---- where the output jumps (registry kinks) -------------------------------------------------------------------
# NMS is piecewise constant; its output changes at two kinds of equality. The distances are per box, so that a
# sampler can keep random cases away from them and the conformance lint can ask for vectors exactly at them.

def _score_tie_distance(boxes: Any, scores: Any, *_: Any, **__: Any) -> np.ndarray:
    """For each box, the distance of its score from the nearest other box's score (0 at a tie)."""
    scores = np.asarray(scores, dtype=np.float64)
    gaps = np.abs(scores[:, None] - scores[None, :])
    np.fill_diagonal(gaps, np.inf)
    return gaps.min(axis=1, initial=np.inf)


def _threshold_distance(overlap: Overlap) -> Callable[..., np.ndarray]:
    """For each box, the distance of its overlap with any other box (of its category) from the threshold."""
    def distance(boxes: Any, scores: Any, idxs: Any = None, *, iou_threshold: float, **params: Any) -> np.ndarray:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        categories = _one_category(len(boxes)) if idxs is None else np.asarray(idxs)
        gaps = np.full((len(boxes), len(boxes)), np.inf)
        for i in range(len(boxes)):
            value, defined = overlap(boxes[i], boxes, **params)
            relevant = defined & (categories == categories[i]) & (np.arange(len(boxes)) != i)
            gaps[i, relevant] = np.abs(value[relevant] - iou_threshold)
        return gaps.min(axis=1, initial=np.inf)
    return distance


def _ties(overlap_name: str, overlap: Overlap) -> tuple[Kink, Kink]:
    return (
        Kink("two equal scores", "the output jumps; the lower index is ranked first (a stable sort)",
             _score_tie_distance),
        Kink(f"{overlap_name} equal to iou_threshold", "the output jumps; equality does not suppress (strict >)",
             _threshold_distance(overlap)),
    )


_REFERENCES = (
    Reference("Neubeck, A. and Van Gool, L. Efficient Non-Maximum Suppression. ICPR 2006",
              "https://doi.org/10.1109/ICPR.2006.479"),
)
_SMOOTHNESS = "piecewise constant: the output is a set of integer indices; no gradient"

register(LossSpec(
    name="nms", family="boxes", kind="selection", forward=nms, vjp=None,
    inputs=(BOXES, SCORES), params=(IOU_THRESHOLD,), smoothness=_SMOOTHNESS, derivation=DERIVATION,
    kinks=_ties("an IoU", _iou),
    references=_REFERENCES + (
        Reference("torchvision, torchvision.ops.nms",
                  "https://docs.pytorch.org/vision/stable/generated/torchvision.ops.nms.html"),),
    equivalents=(
        Equivalent("torchvision", "torchvision.ops.nms",
                   "computes IoU in the input dtype (no float16/bfloat16 CPU kernel); accepts NaN scores (ranked "
                   "first), inverted and non-finite boxes, and a NaN threshold"),
    ),
))

register(LossSpec(
    name="batched_nms", family="boxes", kind="selection", forward=batched_nms, vjp=None,
    inputs=(BOXES, SCORES, IDXS), params=(IOU_THRESHOLD,), smoothness=_SMOOTHNESS, derivation=DERIVATION,
    kinks=_ties("an IoU within a category", _iou),
    references=_REFERENCES + (
        Reference("torchvision, torchvision.ops.batched_nms",
                  "https://docs.pytorch.org/vision/stable/generated/torchvision.ops.batched_nms.html"),),
    equivalents=(
        Equivalent("torchvision", "torchvision.ops.batched_nms",
                   "small inputs use a coordinate offset that lets categories interact for negative coordinates "
                   "and, in float32, for large idx * max coordinate; large inputs order equal scores unstably; "
                   "float idxs accepted"),
    ),
))

register(LossSpec(
    name="diou_nms", family="boxes", kind="selection", forward=diou_nms, vjp=None,
    inputs=(BOXES, SCORES), params=(IOU_THRESHOLD, BETA), smoothness=_SMOOTHNESS, derivation=DERIVATION,
    kinks=_ties("IoU - (rho^2/c^2)^beta", lambda kept, rest, beta=BETA.default: _diou(kept, rest, beta)),
    references=(
        Reference("Zheng, Z. et al. Distance-IoU Loss: Faster and Better Learning for Bounding Box Regression. "
                  "AAAI 2020 (DIoU-NMS)", "https://arxiv.org/abs/1911.08287"),
        Reference("Zzh-tju/DIoU-darknet, src/box.c (box_diounms, diounms_sort)",
                  "https://github.com/Zzh-tju/DIoU-darknet"),
    ),
    equivalents=(
        Equivalent("DIoU-darknet", "diounms_sort(dets, total, classes, thresh, \"diounms\", beta1)",
                   "float32, per class; a zero-union pair has IoU 0 there (suppresses only for thresholds < 0)"),
    ),
))
