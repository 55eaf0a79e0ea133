"""Cases for the selection functions nms, batched_nms and diou_nms: integer output (the kept indices), no gradient.

Every all-dtype case has corners that are multiples of 1/8 (or integers below 256) and scores that are multiples
of 1/32, so that float16 and bfloat16 hold them exactly, box sides below 256 (areas stay finite in float16), and
every overlap at least a few float16/bfloat16 rounding errors away from the threshold unless it equals it
exactly in every dtype (1/2, 15/32, 1/4): the kept set is then the same whatever dtype the overlap is computed in.
Thresholds and beta are exact in every dtype of their case too (87/128 for "0.68", 67/128 for "0.52").
Cases where that fails (an IoU of 3/10 against a threshold next to 0.3, which float32 rounds up; an IoU 0.68067
against 0.6796875; areas of 10^6; beta 0.6) are restricted to the dtypes where it holds. Each registry kink (two
equal scores; the overlap equal to the threshold) has vectors exactly at it.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import FLOAT64_ONLY, VectorCase, case_rng, cases_for

SELECTIONS = ("nms", "batched_nms", "diou_nms")
F64_F32 = ("float64", "float32")

# Three boxes used by several cases. A = (0,0,10,10), B = (1,1,11,11): I = 81, U = 119, IoU = 81/119 = 0.68067;
# C = (20,20,30,30) is disjoint from both. DIoU: centres (5,5), (6,6), rho^2 = 2, c^2 = 2 * 11^2 = 242,
# IoU - 1/121 = 0.67241.
ABC = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]
# Adjacent boxes with distant centres: IoU 7/13 = 0.53846, rho^2 = 9, c^2 = 13^2 + 10^2 = 269; IoU - 9/269 =
# 0.50501 (beta 1), IoU - 3/sqrt(269) = 0.35555 (beta 0.5), IoU - (9/269)^2 = 0.53734 (beta 2).
ADJACENT = [[0, 0, 10, 10], [3, 0, 13, 10]]
DISJOINT = [[0, 0, 1, 1], [2, 0, 3, 1], [4, 0, 5, 1], [6, 0, 7, 1]]


def _case(function: str, name: str, concern: str, comment: str, boxes, scores, threshold, *, idxs=None,
          flags: tuple[str, ...] = (), dtypes: tuple[str, ...] = ("float64", "float32", "bfloat16", "float16"),
          error: str | None = None, **params) -> VectorCase:
    """One case of ``function``; batched_nms gets ``idxs`` (one category, 0, unless given), the others none."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if np.size(boxes) == 0 else np.asarray(boxes, float)
    inputs = {"boxes": boxes, "scores": np.asarray(scores, dtype=np.float64)}
    if function == "batched_nms":
        inputs["idxs"] = np.zeros(len(inputs["scores"]), np.int64) if idxs is None else np.asarray(idxs)
    return VectorCase(name, concern, comment, inputs, None, params={"iou_threshold": threshold, **params},
                      cotangent=None, flags=flags, dtypes=dtypes, error=error)


def _diou(function: str) -> bool:
    return function == "diou_nms"


@cases_for(*SELECTIONS)
def basic_cases(function: str) -> Iterator[VectorCase]:
    """The greedy pass itself: suppression at three thresholds, output order, only kept boxes suppress, and
    random boxes without score ties."""
    scores = [0.875, 0.75, 0.625]
    for label, threshold, dtypes in [("0.5", 0.5, None), ("87_128", 87 / 128, F64_F32), ("0.75", 0.75, None)]:
        # nms: A suppresses B at 0.5 and 87/128 = 0.6796875 (81/119 = 0.68067), nothing at 0.75; diou_nms:
        # 0.67241 < 0.6796875.
        yield _case(function, f"three_boxes_t{label}", "basic",
                    f"A = (0,0,10,10), B = (1,1,11,11) (IoU 81/119 = 0.68067; minus the DIoU penalty 1/121: "
                    f"0.67241), C disjoint, threshold {threshold:g}", ABC, scores, threshold, flags=("Basic",),
                    **({"dtypes": dtypes} if dtypes else {}))
    yield _case(function, "output_by_score", "basic", "three disjoint boxes, scores 1/8, 7/8, 1/2: all kept, "
                "listed by decreasing score (1, 2, 0), not by index", DISJOINT[:3], [0.125, 0.875, 0.5], 0.5,
                flags=("Basic", "DisjointBoxes"))
    # A = (0,0,10,10), B = (5,0,15,10), C = (10,0,20,10): IoU(A,B) = IoU(B,C) = 1/3, A and C touch. A suppresses B;
    # C is compared with the kept A only and kept. DIoU: IoU - rho^2/c^2 = 1/3 - 25/325 = 0.25641 for A,B, and
    # 0 - 100/400 for A,C, so the threshold is 3/16 there (5/16 for IoU).
    chain_threshold = 3 / 16 if _diou(function) else 5 / 16
    yield _case(function, "only_kept_boxes_suppress", "basic",
                f"chain A, B, C: A suppresses B, and C, overlapped only by the suppressed B, is kept "
                f"(threshold {chain_threshold:g})", [[0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]],
                [0.875, 0.75, 0.625], chain_threshold, flags=("Basic", "TouchingBoxes"))
    # Three clusters of boxes on the 1/8 grid (centres within 1 of a cluster centre, half-sides 1/2 to 2), the
    # same boxes for the three functions; the threshold is the multiple of 1/32 farthest from every pair's overlap
    # (measured: 0.043 away for IoU at 5/8 and for IoU - rho^2/c^2 at 19/32), which float16 cannot blur.
    rng = case_rng("nms", "random30")
    centres = rng.integers(16, 80, size=(3, 2))[rng.integers(0, 3, 30)] / 8 + rng.integers(-8, 9, size=(30, 2)) / 8
    half_sides = rng.integers(4, 17, size=(30, 2)) / 8
    threshold = 19 / 32 if _diou(function) else 5 / 8
    yield _case(function, "random30_grid", "basic", f"30 random boxes in three clusters on the 1/8 grid, distinct "
                f"scores k/32, 3 categories (batched_nms), threshold {threshold:g}",
                np.concatenate([centres - half_sides, centres + half_sides], axis=1), rng.permutation(30) / 32,
                threshold, idxs=rng.integers(0, 3, 30), flags=("Basic",))
    rng = case_rng(function, "random30_nondyadic")
    corners = rng.uniform(0, 40, size=(30, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(2, 20, size=(30, 2))], axis=1)
    yield _case(function, "random30_nondyadic", "accuracy", "30 random float64 boxes, random distinct scores, "
                "threshold 0.45", boxes, rng.random(30), 0.45, idxs=rng.integers(0, 3, 30), flags=("NonDyadic",),
                dtypes=FLOAT64_ONLY)


@cases_for(*SELECTIONS)
def kink_cases(function: str) -> Iterator[VectorCase]:
    """Exactly at the two registry kinks: an overlap equal to the threshold (strict >), and equal scores."""
    if _diou(function):
        # A = (0,0,4,4), B = (0,0,4,2): IoU 8/16, rho^2 = 1, c^2 = 32: IoU - penalty = 15/32, exact in every dtype.
        pair, equal = [[0, 0, 4, 4], [0, 0, 4, 2]], 15 / 32
        what = "IoU - rho^2/c^2 = 1/2 - 1/32 = 15/32"
    else:
        pair, equal = [[0, 0, 2, 1], [0, 0, 1, 1]], 0.5  # I = 1, U = 2: IoU 1/2 exactly
        what = "IoU = 1/2"
    yield _case(function, "overlap_equals_threshold", "edge", f"{what} equal to the threshold: not greater, "
                "both kept", pair, [0.875, 0.75], equal, flags=("AtKink",))
    yield _case(function, "overlap_just_above_threshold", "edge", f"{what} against a threshold 1/64 lower: "
                "suppressed", pair, [0.875, 0.75], equal - 1 / 64, flags=("AtKink",))
    # The double just below the overlap: exactly, the overlap exceeds it, so it is suppressed. An epsilon in a
    # denominator (I / (U + eps)) lowers the overlap below it. Float64 only: NumPy compares a float32 or float16
    # array with a Python float in the array's dtype, where this threshold rounds to the overlap itself.
    yield _case(function, "threshold_one_ulp_below_overlap", "edge", f"{what} against the double just below it: "
                "greater, suppressed", pair, [0.875, 0.75], float(np.nextafter(equal, 0.0)), flags=("NearKink",),
                dtypes=FLOAT64_ONLY)
    if not _diou(function):
        # A = (0,0,5,1), B = (2,0,10,1): I = 3, U = 5 + 8 - 3 = 10, IoU 3/10 exactly, against the double just above
        # 0.3 (0.30000000000000004): 3/10 is below it, kept. A float64 IoU rounds to the double 0.3, below it too;
        # a float32 IoU rounds to 0.30000001192, above it, and suppresses. (Against the double 0.3 itself, which is
        # below 3/10, the exact answer is "suppressed" but every float64 computation gets "kept": no vector there.)
        yield _case(function, "iou_3_10_below_threshold", "accuracy", "IoU exactly 3/10 against the threshold "
                    "0.30000000000000004 (the double after 0.3): kept; an IoU computed in float32 (0.30000001) "
                    "exceeds it", [[0, 0, 5, 1], [2, 0, 10, 1]], [0.875, 0.75], float(np.nextafter(0.3, 1.0)),
                    flags=("NearKink",), dtypes=FLOAT64_ONLY)
    # Four identical boxes, scores 1/2, 3/4, 3/4, 3/4: box 1 ranks first (lower index among equals) and suppresses
    # the rest (IoU 1; DIoU penalty 0).
    yield _case(function, "tie_identical_boxes", "edge", "four identical boxes, three with the top score: the lowest "
                "index among them (1) is kept", [[0, 0, 4, 4]] * 4, [0.5, 0.75, 0.75, 0.75], 0.5,
                flags=("AtKink", "IdenticalBoxes"))
    yield _case(function, "tie_disjoint_boxes", "edge", "four disjoint boxes, scores 1/4, 1/2, 1/4, 1/2: all kept, "
                "equal scores by index: 1, 3, 0, 2", DISJOINT, [0.25, 0.5, 0.25, 0.5], 0.5,
                flags=("AtKink", "DisjointBoxes"))


@cases_for(*SELECTIONS)
def edge_cases(function: str) -> Iterator[VectorCase]:
    """Identical boxes, the thresholds 0, 1, below 0 and above 1, empty and single inputs, infinite scores,
    pairs whose union is zero."""
    identical, scores = [[1, 2, 3, 5]] * 5, [0.3125, 0.125, 0.875, 0.375, 0.25]
    for threshold in (0.5, 1.0):
        yield _case(function, f"identical_boxes_t{threshold:g}", "edge",
                    f"five identical boxes (IoU 1), threshold {threshold:g}: "
                    + ("only the best is kept" if threshold < 1 else "1 is not greater than 1: all kept, by score"),
                    identical, scores, threshold, flags=("IdenticalBoxes", "ParameterGrid"))
    # A = (0,0,2,2) suppresses B = (1,1,3,3) (IoU 1/7 > 0) but not C = (2,0,4,2), which only touches A (IoU 0). For
    # DIoU the touching pair has IoU - 1/4 < 0 and A,B has 1/7 - 2/18 > 0: the same kept set.
    yield _case(function, "threshold0_touching", "edge", "threshold 0: an overlapping box is suppressed, a touching "
                "one (IoU 0, not > 0) kept", [[0, 0, 2, 2], [1, 1, 3, 3], [2, 0, 4, 2]], [0.875, 0.75, 0.625], 0.0,
                flags=("TouchingBoxes", "ParameterGrid"))
    yield _case(function, "threshold_negative", "edge", "threshold -1/2: every defined overlap (here IoU 0, disjoint "
                "boxes; DIoU: 0 minus a penalty < 1/2) exceeds it, so the best box suppresses all others",
                [[0, 0, 1, 1], [2, 0, 3, 1], [1, 1, 2, 2]], [0.125, 0.875, 0.5], -0.5, flags=("ParameterGrid",))
    yield _case(function, "threshold2", "edge", "threshold 2, above any overlap: nothing is suppressed", ABC,
                [0.875, 0.75, 0.625], 2.0, flags=("ParameterGrid", "IdenticalBoxes"))
    yield _case(function, "empty", "edge", "no boxes: an empty int64 result", np.zeros((0, 4)), np.zeros(0), 0.5,
                idxs=np.zeros(0, np.int64), flags=("Empty",))
    yield _case(function, "single_box", "edge", "one box: kept", [[1, 2, 3, 4]], [0.5], 0.5, flags=("Basic",))
    yield _case(function, "infinite_scores", "nonfinite", "scores 0, +inf, -inf on disjoint boxes: ranked normally "
                "(1, 0, 2)", DISJOINT[:3], [0.0, np.inf, -np.inf], 0.5, flags=("InfInput",))
    yield _case(function, "infinite_scores_suppress", "nonfinite", "identical boxes, scores -inf, +inf, 1/2: the "
                "+inf box is kept and suppresses the rest", [[0, 0, 2, 2]] * 3, [-np.inf, np.inf, 0.5], 0.5,
                flags=("InfInput", "IdenticalBoxes"))
    for threshold in (0.5, 0.0, -1.0):
        # Two copies of the point (1,1): I = U = 0, no IoU: neither suppresses the other at any threshold.
        yield _case(function, f"zero_union_t{threshold:g}", "edge", f"the same point twice (union 0, no IoU) at "
                    f"threshold {threshold:g}: both kept", [[1, 1, 1, 1], [1, 1, 1, 1]], [0.875, 0.75], threshold,
                    flags=("DegenerateBox", "IdenticalBoxes"))
    yield _case(function, "zero_union_segments", "edge", "two parallel segments (union 0) and a point at threshold "
                "-1: no pair has an IoU, all kept", [[0, 0, 2, 0], [0, 1, 2, 1], [1, 0, 1, 0]], [0.875, 0.75, 0.625],
                -1.0, flags=("DegenerateBox",))
    for threshold in (0.0, -0.5):
        # A point inside a box: I = 0, U = 4, IoU 0 (same centre: DIoU penalty 0) suppresses only below 0.
        yield _case(function, f"point_in_box_t{threshold:g}", "edge", f"the point (1,1) inside (0,0,2,2): IoU 0, "
                    f"threshold {threshold:g}", [[0, 0, 2, 2], [1, 1, 1, 1]], [0.875, 0.75], threshold,
                    flags=("DegenerateBox", "NestedBoxes"))


@cases_for("batched_nms")
def category_cases(function: str) -> Iterator[VectorCase]:
    """Categories: boxes of different categories never suppress each other, whatever torchvision's offset does."""
    same = [[0, 0, 4, 4], [0, 0, 4, 4]]
    yield _case(function, "identical_boxes_two_categories", "basic", "two identical boxes in categories 0 and 1: "
                "both kept", same, [0.875, 0.75], 0.5, idxs=[0, 1], flags=("IdenticalBoxes",))
    yield _case(function, "identical_boxes_one_category", "basic", "two identical boxes in category 3: the second "
                "is suppressed", same, [0.875, 0.75], 0.5, idxs=[3, 3], flags=("IdenticalBoxes",))
    # A, B of ABC in category 0 (A suppresses B), A's box again in category 1 with a score between: A, C' by score.
    yield _case(function, "merge_by_score", "basic", "A 7/8 and B 3/4 in category 0 (A suppresses B), A's box with "
                "13/16 in category 1: kept 0, 2, merged by score", [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]],
                [0.875, 0.75, 0.8125], 0.5, idxs=[0, 0, 1], flags=("Basic",))
    yield _case(function, "negative_coordinates", "edge", "(-10,-10,1,1) in categories 0 and 1: both kept "
                "(torchvision's offset idx * (max + 1) = 2 makes them overlap, IoU 81/161 > 0.5)",
                [[-10, -10, 1, 1], [-10, -10, 1, 1]], [0.875, 0.75], 0.5, idxs=[0, 1], flags=("IdenticalBoxes",))
    yield _case(function, "category_1e7", "edge", "(0,0,1,1) and (0.5,0,1.5,1), IoU 1/3 > 3/16, in category 10^7, and "
                "a copy of the first in category 10^7 + 1: the second is suppressed, the copy kept (torchvision's "
                "float32 offset 2 * 10^7 rounds these boxes away)", [[0, 0, 1, 1], [0.5, 0, 1.5, 1], [0, 0, 1, 1]],
                [0.875, 0.75, 0.625], 3 / 16, idxs=[10**7, 10**7, 10**7 + 1], flags=("Basic",))
    yield _case(function, "category_ids_extreme", "edge", "categories -3 and 2^40, two identical boxes in each: one "
                "kept per category", [[0, 0, 4, 4]] * 4, [0.875, 0.75, 0.625, 0.5], 0.5,
                idxs=[-3, 2**40, -3, 2**40], flags=("IdenticalBoxes",))
    # Large boxes: areas 10^6 overflow float16, so float64 and float32 only.
    yield _case(function, "large_boxes_two_categories", "edge", "(0,0,1000,1000) in categories 0 and 1 and "
                "(4096,0,5120,1000) in category 0: nothing suppressed", [[0, 0, 1000, 1000], [0, 0, 1000, 1000],
                                                                       [4096, 0, 5120, 1000]],
                [0.875, 0.75, 0.625], 0.5, idxs=[0, 1, 0], flags=("IdenticalBoxes",), dtypes=F64_F32)


@cases_for("diou_nms")
def diou_cases(function: str) -> Iterator[VectorCase]:
    """The DIoU penalty: distant centres keep what plain NMS suppresses; beta; concentric boxes."""
    yield _case(function, "distant_centres_t67_128", "basic", "IoU 7/13 = 0.538 but IoU - 9/269 = 0.505 < 67/128 = "
                "0.5234: both kept (plain NMS suppresses)", ADJACENT, [0.875, 0.75], 67 / 128, flags=("Basic",))
    yield _case(function, "distant_centres_t0.5", "basic", "IoU - 9/269 = 0.50501 > 0.5: suppressed", ADJACENT,
                [0.875, 0.75], 0.5, flags=("Basic",), dtypes=F64_F32)
    yield _case(function, "beta0.5_t13_32", "basic", "beta 1/2: IoU - 3/sqrt(269) = 0.3555 < 13/32: both kept",
                ADJACENT, [0.875, 0.75], 13 / 32, beta=0.5, flags=("ParameterGrid",))
    yield _case(function, "beta1_t13_32", "basic", "beta 1: 0.505 > 13/32: suppressed", ADJACENT, [0.875, 0.75],
                13 / 32, beta=1.0, flags=("ParameterGrid",))
    yield _case(function, "beta2_t67_128", "basic", "beta 2: IoU - (9/269)^2 = 0.5373 > 67/128 = 0.5234: suppressed",
                ADJACENT, [0.875, 0.75], 67 / 128, beta=2.0, flags=("ParameterGrid",))
    yield _case(function, "beta0.6_t0.45", "accuracy", "beta 0.6 (the authors' VOC cfg): IoU - (9/269)^0.6 = 0.4156 "
                "< 0.45, kept; and B (1,1,11,11) of ABC, 0.6724 - (1/121)^0.6 = 0.6176 > 0.45, suppressed",
                ADJACENT + [[1, 1, 11, 11]], [0.875, 0.75, 0.625], 0.45, beta=0.6, flags=("ParameterGrid",),
                dtypes=FLOAT64_ONLY)
    for beta in (0.5, 1.0, 3.0):
        # A = (0,0,4,4), B = (1,1,3,3): same centre, penalty 0; IoU 4/16 = 1/4.
        yield _case(function, f"concentric_beta{beta:g}_t3_16", "edge", f"concentric boxes, IoU 1/4 and no "
                    f"penalty, beta {beta:g}, threshold 3/16: suppressed", [[0, 0, 4, 4], [1, 1, 3, 3]],
                    [0.875, 0.75], 3 / 16, beta=beta, flags=("NestedBoxes",))
        yield _case(function, f"concentric_beta{beta:g}_t0.25", "edge", f"concentric boxes, IoU 1/4 and no "
                    f"penalty, beta {beta:g}, threshold 1/4 (equal): kept", [[0, 0, 4, 4], [1, 1, 3, 3]],
                    [0.875, 0.75], 0.25, beta=beta, flags=("NestedBoxes", "AtKink"))


@cases_for(*SELECTIONS)
def invalid_cases(function: str) -> Iterator[VectorCase]:
    """Bad input: each must raise its category."""
    boxes, scores = [[0, 0, 2, 2], [1, 1, 3, 3]], [0.875, 0.75]
    yield _case(function, "boxes_five_columns", "invalid", "boxes of shape (2, 5)", [[0, 0, 2, 2, 0], [1, 1, 3, 3, 0]],
                scores, 0.5, error="invalid_box", flags=("InvalidInput",))
    yield _case(function, "inverted_box", "invalid", "boxes[1] has x2 < x1", [[0, 0, 2, 2], [3, 1, 1, 3]], scores,
                0.5, error="invalid_box", flags=("InvalidInput", "InvertedBox"))
    yield _case(function, "scores_wrong_length", "invalid", "3 scores for 2 boxes", boxes, [0.875, 0.75, 0.5], 0.5,
                error="shape_mismatch", flags=("InvalidInput", "ShapeMismatch"))
    yield _case(function, "scores_column", "invalid", "scores of shape (2, 1)", boxes, [[0.875], [0.75]], 0.5,
                error="shape_mismatch", flags=("InvalidInput", "ShapeMismatch"))
    yield _case(function, "threshold_nan", "invalid", "iou_threshold NaN (torchvision then suppresses nothing)",
                boxes, scores, float("nan"), error="invalid_parameter", flags=("InvalidInput",))
    if function == "batched_nms":
        yield _case(function, "idxs_wrong_length", "invalid", "3 categories for 2 boxes", boxes, scores, 0.5,
                    idxs=np.array([0, 1, 1]), error="shape_mismatch", flags=("InvalidInput", "ShapeMismatch"))
    if _diou(function):
        for beta in (0.0, -1.0):
            yield _case(function, f"beta{beta:g}", "invalid", f"beta = {beta:g} (must be > 0)", boxes, scores, 0.5,
                        beta=beta, error="invalid_parameter", flags=("InvalidInput",))


@cases_for(*SELECTIONS)
def more_invalid_cases(function: str) -> Iterator[VectorCase]:
    """Bad input of its own categories: a non-finite box, a NaN score, float category indices."""
    boxes, scores = [[0, 0, 2, 2], [1, 1, 3, 3]], [0.875, 0.75]
    yield _case(function, "nan_coordinate", "invalid", "boxes[1] has a NaN x2: no overlap is defined",
                [[0, 0, 2, 2], [1, 1, np.nan, 3]], scores, 0.5, error="invalid_box", flags=("InvalidInput",))
    yield _case(function, "nan_score", "invalid", "scores[1] is NaN: it cannot be ranked (torchvision ranks it "
                "first)", boxes, [0.875, np.nan], 0.5, error="invalid_score", flags=("InvalidInput",))
    if function == "batched_nms":
        yield _case(function, "idxs_float", "invalid", "idxs as floats 0.0, 1.0 (torchvision accepts them)", boxes,
                    scores, 0.5, idxs=np.array([0.0, 1.0]), error="invalid_category", flags=("InvalidInput",))
