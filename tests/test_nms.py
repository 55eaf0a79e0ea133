"""NMS, batched NMS and DIoU-NMS (refloss/boxes/nms.py).

Hand-worked cases (the kept set reasoned out in a comment), an exact-arithmetic oracle on integer boxes
(Hypothesis), the same kept indices as real torchvision on random inputs, bad input, the registry and docs, and
realistic wrong implementations that the hand-worked checks must reject.
"""

import inspect
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refloss
from refloss._docstring import REQUIRED_SECTIONS, markdown_math_to_text, sections, to_text
from refloss.boxes.nms import batched_nms, diou_nms, nms

from mutants.selection import _diou as _variant_diou, _greedy, _iou as _variant_iou

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("nms", "batched_nms", "diou_nms")


def _kept(result):
    assert isinstance(result, np.ndarray) and result.dtype == np.int64 and result.ndim == 1
    return result.tolist()


# ---- hand-worked checks --------------------------------------------------------------------------------------
# Each check takes an implementation with refloss's signature and asserts what the hand-worked answer is. refloss
# must pass them all; every wrong implementation further down must fail at least one.

def check_basic(nms):
    # A = (0,0,10,10), B = (1,1,11,11): I = 9 * 9 = 81, U = 100 + 100 - 81 = 119, IoU = 81/119 = 0.6807.
    # C = (20,20,30,30) overlaps neither. t = 0.5 and 0.68: A suppresses B; t = 0.7: nothing is suppressed.
    boxes, scores = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], [0.9, 0.8, 0.7]
    assert _kept(nms(boxes, scores, 0.5)) == [0, 2]
    assert _kept(nms(boxes, scores, 0.68)) == [0, 2]
    assert _kept(nms(boxes, scores, 0.7)) == [0, 1, 2]


def check_output_is_in_decreasing_score_order(nms):
    # Disjoint boxes: nothing is suppressed; the indices come out by score 0.9 (1), 0.5 (2), 0.1 (0).
    boxes = [[0, 0, 1, 1], [2, 0, 3, 1], [4, 0, 5, 1]]
    assert _kept(nms(boxes, [0.1, 0.9, 0.5], 0.5)) == [1, 2, 0]


def check_only_kept_boxes_suppress(nms):
    # A = (0,0,10,10) 0.9, B = (5,0,15,10) 0.8, C = (10,0,20,10) 0.7. IoU(A,B) = 50/150 = 1/3, IoU(B,C) = 1/3,
    # IoU(A,C) = 0 (they touch at x = 10). t = 0.3: A kept; B suppressed by A (1/3 > 0.3); C is compared with the
    # kept A only (IoU 0), so it is kept although the suppressed B overlaps it by 1/3.
    boxes = [[0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]]
    assert _kept(nms(boxes, [0.9, 0.8, 0.7], 0.3)) == [0, 2]


def check_strict_threshold(nms):
    # (0,0,2,1) and (0,0,1,1): I = 1, U = 2 + 1 - 1 = 2, IoU = 1/2 exactly (every step exact in binary).
    # Equal to the threshold is not greater: both kept (torchvision measured the same); below it, suppressed.
    boxes, scores = [[0, 0, 2, 1], [0, 0, 1, 1]], [0.9, 0.8]
    assert _kept(nms(boxes, scores, 0.5)) == [0, 1]
    assert _kept(nms(boxes, scores, 0.49)) == [0]


def check_ties_take_the_lower_index_first(nms):
    # Four identical boxes, scores 0.5, 0.7, 0.7, 0.7: the ranking is 1, 2, 3 (equal scores by index), then 0;
    # box 1 is kept and suppresses the others (IoU 1 > 0.5).
    identical = [[0, 0, 4, 4]] * 4
    assert _kept(nms(identical, [0.5, 0.7, 0.7, 0.7], 0.5)) == [1]
    # Disjoint boxes, scores 0.2, 0.5, 0.2, 0.5: all kept, in the order 1, 3 (0.5) then 0, 2 (0.2).
    disjoint = [[0, 0, 1, 1], [2, 0, 3, 1], [4, 0, 5, 1], [6, 0, 7, 1]]
    assert _kept(nms(disjoint, [0.2, 0.5, 0.2, 0.5], 0.5)) == [1, 3, 0, 2]


def check_identical_boxes_and_thresholds_zero_and_one(nms):
    # Five identical boxes: IoU 1 between any two. t = 0.5: only the best (index 2, score 0.9) is kept. t = 1: an
    # IoU of 1 is not greater than 1, so all are kept, by score: 2 (0.9), 3 (0.4), 0 (0.3), 4 (0.2), 1 (0.1).
    identical, scores = [[1, 2, 3, 5]] * 5, [0.3, 0.1, 0.9, 0.4, 0.2]
    assert _kept(nms(identical, scores, 0.5)) == [2]
    assert _kept(nms(identical, scores, 1.0)) == [2, 3, 0, 4, 1]
    # t = 0: A = (0,0,2,2) 0.9 suppresses B = (1,1,3,3) (IoU 1/7 > 0) but not C = (2,0,4,2), which only touches A
    # (IoU 0 is not > 0); C overlaps B, but B is suppressed. Kept: A, C.
    boxes = [[0, 0, 2, 2], [1, 1, 3, 3], [2, 0, 4, 2]]
    assert _kept(nms(boxes, [0.9, 0.8, 0.7], 0.0)) == [0, 2]


def check_negative_threshold_keeps_only_the_best(nms):
    # Every IoU (here 0: the boxes are disjoint) is greater than -0.5, so the best box suppresses all others.
    boxes = [[0, 0, 1, 1], [2, 0, 3, 1], [4, 0, 5, 1]]
    assert _kept(nms(boxes, [0.1, 0.9, 0.5], -0.5)) == [1]


NMS_CHECKS = [check_basic, check_output_is_in_decreasing_score_order, check_only_kept_boxes_suppress,
              check_strict_threshold, check_ties_take_the_lower_index_first,
              check_identical_boxes_and_thresholds_zero_and_one, check_negative_threshold_keeps_only_the_best]


def check_batched_categories_do_not_interact(batched_nms):
    # Two identical boxes: of different categories both are kept; of the same category the second is suppressed.
    boxes = [[0, 0, 4, 4], [0, 0, 4, 4]]
    assert _kept(batched_nms(boxes, [0.9, 0.8], [0, 1], 0.5)) == [0, 1]
    assert _kept(batched_nms(boxes, [0.9, 0.8], [3, 3], 0.5)) == [0]


def check_batched_merges_by_score(batched_nms):
    # A = (0,0,10,10) 0.9 and B = (1,1,11,11) 0.8 in category 0 (IoU 0.68: A suppresses B); C = A's box with
    # 0.85 in category 1, alone there. Kept A (0.9), C (0.85), in that order.
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]]
    assert _kept(batched_nms(boxes, [0.9, 0.8, 0.85], [0, 0, 1], 0.5)) == [0, 2]


def check_batched_negative_coordinates(batched_nms):
    # (-10,-10,1,1) twice, categories 0 and 1: per category nothing overlaps, both kept. An offset of
    # idx * (max coordinate + 1) = 2 moves the second box to (-8,-8,3,3) only: I = 9 * 9 = 81, U = 121 + 121 - 81
    # = 161, IoU 0.503 > 0.5, and the categories would interact.
    boxes = [[-10, -10, 1, 1], [-10, -10, 1, 1]]
    assert _kept(batched_nms(boxes, [0.9, 0.8], [0, 1], 0.5)) == [0, 1]


def check_batched_large_categories_and_coordinates(batched_nms):
    # (0,0,1,1) and (0.5,0,1.5,1): IoU = 0.5/1.5 = 1/3 > 0.2, same category 10**7: the second is suppressed. And
    # (0,0,1000,1000) twice in categories 0 and 1 with (5000,0,6000,1000): nothing may interact across categories.
    assert _kept(batched_nms([[0, 0, 1, 1], [0.5, 0, 1.5, 1]], [0.9, 0.8], [10**7, 10**7], 0.2)) == [0]
    boxes = [[0, 0, 1000, 1000], [0, 0, 1000, 1000], [5000, 0, 6000, 1000]]
    assert _kept(batched_nms(boxes, [0.9, 0.8, 0.7], [0, 1, 0], 0.5)) == [0, 1, 2]


BATCHED_CHECKS = [check_batched_categories_do_not_interact, check_batched_merges_by_score,
                  check_batched_negative_coordinates, check_batched_large_categories_and_coordinates]

# A = (0,0,10,10), B = (3,0,13,10): I = 7 * 10 = 70, U = 200 - 70 = 130, IoU = 7/13 = 0.538462. Centres (5,5) and
# (8,5): rho^2 = 9. Enclosing box (0,0,13,10): c^2 = 13^2 + 10^2 = 269. Penalty 9/269 = 0.033457 for beta = 1,
# (9/269)^0.5 = 3/sqrt(269) = 0.182913 for beta = 0.5, (9/269)^2 = 0.001119 for beta = 2. IoU - penalty:
# 0.505005 (beta 1), 0.355549 (beta 0.5), 0.537342 (beta 2).
ADJACENT = [[0, 0, 10, 10], [3, 0, 13, 10]]


def check_diou_keeps_overlapping_boxes_with_distant_centres(diou_nms):
    assert _kept(diou_nms(ADJACENT, [0.9, 0.8], 0.52)) == [0, 1]  # 0.505 < 0.52 (plain NMS: 0.538 > 0.52)
    assert _kept(diou_nms(ADJACENT, [0.9, 0.8], 0.5)) == [0]  # 0.505 > 0.5


def check_diou_beta(diou_nms):
    assert _kept(diou_nms(ADJACENT, [0.9, 0.8], 0.4, beta=1.0)) == [0]  # 0.505 > 0.4
    assert _kept(diou_nms(ADJACENT, [0.9, 0.8], 0.4, beta=0.5)) == [0, 1]  # 0.3555 < 0.4
    assert _kept(diou_nms(ADJACENT, [0.9, 0.8], 0.52, beta=2.0)) == [0]  # 0.5373 > 0.52: closer to plain NMS


def check_diou_strict_threshold(diou_nms):
    # A = (0,0,4,4), B = (0,0,4,2): IoU = 8/16 = 1/2; centres (2,2) and (2,1), rho^2 = 1; enclosing (0,0,4,4),
    # c^2 = 32; IoU - penalty = 1/2 - 1/32 = 15/32 = 0.46875 exactly. Equal to the threshold: kept.
    boxes, scores = [[0, 0, 4, 4], [0, 0, 4, 2]], [0.9, 0.8]
    assert _kept(diou_nms(boxes, scores, 15 / 32)) == [0, 1]
    assert _kept(diou_nms(boxes, scores, 0.46)) == [0]


def check_diou_concentric_boxes_are_plain_nms(diou_nms):
    # A = (0,0,4,4), B = (1,1,3,3): same centre, penalty 0 for every beta; IoU = 4/16 = 1/4 > 0.2: suppressed.
    boxes = [[0, 0, 4, 4], [1, 1, 3, 3]]
    for beta in (0.5, 1.0, 3.0):
        assert _kept(diou_nms(boxes, [0.9, 0.8], 0.2, beta=beta)) == [0]
        assert _kept(diou_nms(boxes, [0.9, 0.8], 0.25, beta=beta)) == [0, 1]


DIOU_CHECKS = [check_diou_keeps_overlapping_boxes_with_distant_centres, check_diou_beta,
               check_diou_strict_threshold, check_diou_concentric_boxes_are_plain_nms]


@pytest.mark.parametrize("check", NMS_CHECKS)
def test_nms_hand_worked(check):
    check(nms)


@pytest.mark.parametrize("check", BATCHED_CHECKS + [lambda impl: c(lambda b, s, t: impl(b, s, [0] * len(s), t))
                                                    for c in NMS_CHECKS])
def test_batched_nms_hand_worked(check):
    # batched_nms with one category is nms: it must pass every nms check too
    check(batched_nms)


@pytest.mark.parametrize("check", DIOU_CHECKS)
def test_diou_nms_hand_worked(check):
    check(diou_nms)


def test_plain_nms_suppresses_what_diou_nms_keeps():
    assert _kept(nms(ADJACENT, [0.9, 0.8], 0.52)) == [0]
    assert _kept(diou_nms(ADJACENT, [0.9, 0.8], 0.52)) == [0, 1]


@pytest.mark.parametrize("name", NAMES)
def test_empty_input_returns_an_empty_int64_array(name):
    kept = _call(name, np.zeros((0, 4)), np.zeros(0), 0.5)
    assert kept.shape == (0,) and kept.dtype == np.int64


@pytest.mark.parametrize("name", NAMES)
def test_a_pair_with_zero_union_never_suppresses(name):
    # Two copies of the point (1,1): I = 0 and U = 0, IoU 0/0 undefined: neither suppresses the other at any
    # threshold (torchvision: NaN > t is false, the same).
    points = [[1, 1, 1, 1], [1, 1, 1, 1]]
    for threshold in (0.5, 0.0, -1.0):
        assert _kept(_call(name, points, [0.9, 0.8], threshold)) == [0, 1]
    # A point inside a box: I = 0, U = 4, IoU = 0 is defined and suppresses only for a negative threshold.
    assert _kept(_call(name, [[0, 0, 2, 2], [1, 1, 1, 1]], [0.9, 0.8], 0.0)) == [0, 1]
    # (Same centre, so the DIoU penalty is 0 too.)
    assert _kept(_call(name, [[0, 0, 2, 2], [1, 1, 1, 1]], [0.9, 0.8], -0.5)) == [0]


def test_infinite_scores_are_ranked():
    boxes = [[0, 0, 1, 1], [2, 0, 3, 1], [4, 0, 5, 1]]
    assert _kept(nms(boxes, [0.0, np.inf, -np.inf], 0.5)) == [1, 0, 2]


@pytest.mark.parametrize("name", NAMES)
def test_inputs_of_any_real_dtype_give_the_same_result_and_are_not_modified(name):
    # Integer coordinates (below 2048) and scores k/32 are exact in float16, float32 and int64 alike.
    rng = np.random.default_rng(5)
    boxes, ranks = np.round(_random_boxes(rng, 30)), rng.permutation(30)
    expected = _call(name, boxes, ranks / 32, 0.3).tolist()
    assert _call(name, boxes.tolist(), (ranks / 32).tolist(), 0.3).tolist() == expected
    for b, s in [(boxes.astype(np.float16), (ranks / 32).astype(np.float16)),
                 (boxes.astype(np.float32), (ranks / 32).astype(np.float32)),
                 (boxes.astype(np.int64), ranks.astype(np.int64))]:
        b_copy, s_copy = b.copy(), s.copy()
        assert _call(name, b, s, 0.3).tolist() == expected
        assert np.array_equal(b, b_copy) and np.array_equal(s, s_copy)


# ---- exact-arithmetic oracle on integer boxes (Hypothesis) -----------------------------------------------------
# Integer coordinates make every IoU and DIoU penalty a fraction; with dyadic thresholds a float64 IoU can be
# compared with the threshold exactly as the fraction is (a fraction of denominator <= 2 * 12^2 that differs
# from a dyadic threshold differs by far more than an ulp). Small scores make ties frequent, and zero-width
# boxes make zero-union pairs occur.

DYADIC_THRESHOLDS = [Fraction(k, 8) for k in range(-1, 9)]


@st.composite
def integer_boxes(draw, max_boxes=10):
    n = draw(st.integers(0, max_boxes))
    corners = st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(0, 6), st.integers(0, 6))
    boxes = [(x, y, x + w, y + h) for x, y, w, h in draw(st.lists(corners, min_size=n, max_size=n))]
    scores = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    categories = draw(st.lists(st.integers(-1, 1), min_size=n, max_size=n))
    return boxes, scores, categories


def _exact_overlap(a, b, beta=None):
    """IoU (minus the DIoU penalty for an integer beta) as a Fraction; None when the union is zero."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    if union == 0:
        return None
    value = Fraction(inter, union)
    if beta is not None:
        rho2 = Fraction(a[0] + a[2] - b[0] - b[2], 2) ** 2 + Fraction(a[1] + a[3] - b[1] - b[3], 2) ** 2
        c2 = (max(a[2], b[2]) - min(a[0], b[0])) ** 2 + (max(a[3], b[3]) - min(a[1], b[1])) ** 2
        value -= (rho2 / c2) ** beta
    return value


def _exact_greedy(boxes, scores, threshold, categories=None, beta=None):
    """The textbook greedy NMS in exact arithmetic: rank by score (ties by index), keep what no kept box of the
    same category overlaps by more than the threshold."""
    categories = categories or [0] * len(boxes)
    kept = []
    for j in sorted(range(len(boxes)), key=lambda i: (-scores[i], i)):
        overlaps = [_exact_overlap(boxes[i], boxes[j], beta) for i in kept if categories[i] == categories[j]]
        if not any(v is not None and v > threshold for v in overlaps):
            kept.append(j)
    return kept


@given(case=integer_boxes(), threshold=st.sampled_from(DYADIC_THRESHOLDS))
def test_nms_matches_the_exact_greedy_oracle(case, threshold):
    boxes, scores, _ = case
    assert _kept(nms(np.reshape(boxes, (-1, 4)), scores, float(threshold))) == _exact_greedy(boxes, scores,
                                                                                             threshold)


@given(case=integer_boxes(), threshold=st.sampled_from(DYADIC_THRESHOLDS))
def test_batched_nms_matches_the_exact_greedy_oracle(case, threshold):
    boxes, scores, categories = case
    kept = batched_nms(np.reshape(boxes, (-1, 4)), scores, np.array(categories, dtype=np.int64), float(threshold))
    assert _kept(kept) == _exact_greedy(boxes, scores, threshold, categories)


@given(case=integer_boxes(), threshold=st.sampled_from(DYADIC_THRESHOLDS), beta=st.sampled_from([1, 2]))
def test_diou_nms_matches_the_exact_greedy_oracle(case, threshold, beta):
    boxes, scores, _ = case
    kept = diou_nms(np.reshape(boxes, (-1, 4)), scores, float(threshold), beta=float(beta))
    assert _kept(kept) == _exact_greedy(boxes, scores, threshold, beta=beta)


@given(case=integer_boxes(), threshold=st.sampled_from(DYADIC_THRESHOLDS))
def test_batched_nms_is_nms_per_category_merged_by_score(case, threshold):
    boxes, scores, categories = case
    boxes, scores, categories = np.reshape(boxes, (-1, 4)), np.array(scores), np.array(categories)
    merged = []
    for category in np.unique(categories):
        members = np.flatnonzero(categories == category)
        merged += members[nms(boxes[members], scores[members], float(threshold))].tolist()
    merged.sort(key=lambda i: (-scores[i], i))
    assert _kept(batched_nms(boxes, scores, categories, float(threshold))) == merged


# ---- real torchvision -------------------------------------------------------------------------------------------

def _random_boxes(rng, n):
    """Boxes in three clusters (many overlaps), non-negative coordinates (torchvision's stated domain)."""
    centres = rng.uniform(15, 75, size=(3, 2))[rng.integers(0, 3, n)] + rng.normal(0, 4, size=(n, 2))
    sizes = rng.uniform(2, 20, size=(n, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    return boxes - min(0.0, boxes.min(initial=0.0))


def _pairwise_iou(boxes):
    """Float64 IoU of every pair (an independent NumPy formula, used only to find near-threshold pairs)."""
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / (area[:, None] + area[None, :] - inter)


def _torch_cases(seed, trials, dtype, max_boxes=40):
    """Random cases without score ties. In float32 torchvision computes the IoU in float32, so a case with an IoU
    within 1e-5 of the threshold (float32 rounding could cross it) is left out; at most a few are."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(trials):
        n = int(rng.integers(0, max_boxes))
        boxes, scores = _random_boxes(rng, n).astype(dtype), rng.random(n).astype(dtype)
        threshold = float(rng.choice([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, rng.random()]))
        if len(np.unique(scores)) < n:
            continue
        distance = np.abs(_pairwise_iou(boxes.astype(np.float64)) - threshold)
        if dtype != np.float64 and np.any((distance > 0) & (distance < 1e-5)):
            continue
        cases.append((boxes, scores, rng.integers(0, 4, n), threshold))
    assert len(cases) >= 0.9 * trials
    return cases


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nms_keeps_what_torchvision_keeps(dtype):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    for boxes, scores, _, threshold in _torch_cases(0, 300, dtype):
        expected = ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).numpy()
        assert _kept(nms(boxes, scores, threshold)) == expected.tolist(), (boxes, scores, threshold)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batched_nms_keeps_what_torchvision_keeps(dtype):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    for boxes, scores, idxs, threshold in _torch_cases(1, 300, dtype):
        expected = ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idxs),
                                   threshold).numpy()
        assert _kept(batched_nms(boxes, scores, idxs, threshold)) == expected.tolist(), (boxes, scores, idxs)


def test_batched_nms_keeps_what_torchvision_keeps_on_its_per_category_path():
    # Above 4000 coordinates on CPU torchvision runs nms per category instead of offsetting the coordinates.
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(2)
    boxes, scores, idxs = _random_boxes(rng, 1200) * 4, rng.permutation(1200) / 1200, rng.integers(0, 5, 1200)
    expected = ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idxs), 0.5)
    assert _kept(batched_nms(boxes, scores, idxs, 0.5)) == expected.tolist()


def test_torchvision_cpu_nms_breaks_ties_by_index_too():
    # Measured, not documented by torchvision: its CPU kernel sorts stably, as refloss does.
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        boxes, scores = _random_boxes(rng, n), rng.integers(0, 4, n) / 4  # many ties
        threshold = float(rng.choice([0.3, 0.5, 0.7]))
        expected = ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold)
        assert _kept(nms(boxes, scores, threshold)) == expected.tolist()


def test_torchvision_coordinate_offset_lets_categories_interact_where_refloss_does_not():
    # A recorded deviation (the Equivalent note of batched_nms): if torchvision fixes it, update the note.
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    boxes, scores = np.array([[-10.0, -10, 1, 1], [-10, -10, 1, 1]]), np.array([0.9, 0.8])
    theirs = ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.tensor([0, 1]), 0.5)
    assert theirs.tolist() == [0]
    assert _kept(batched_nms(boxes, scores, [0, 1], 0.5)) == [0, 1]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_torchvision_has_no_half_precision_cpu_kernel(dtype):
    # Measured: so there is nothing to compare in float16 or bfloat16. refloss converts float16 exactly to float64
    # (test_inputs_of_any_real_dtype_give_the_same_result_and_are_not_modified).
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    boxes = torch.tensor([[0.0, 0, 1, 1], [0, 0, 1, 1]], dtype=getattr(torch, dtype))
    with pytest.raises(RuntimeError, match="not implemented"):
        ops.nms(boxes, torch.tensor([0.9, 0.8], dtype=getattr(torch, dtype)), 0.5)


# ---- bad input --------------------------------------------------------------------------------------------------

def _call(name, boxes, scores, threshold, **kwargs):
    if name == "batched_nms":
        return batched_nms(boxes, scores, kwargs.pop("idxs", np.zeros(np.shape(scores)[:1], np.int64)), threshold)
    return {"nms": nms, "diou_nms": diou_nms}[name](boxes, scores, threshold, **kwargs)


GOOD_BOXES, GOOD_SCORES = [[0, 0, 1, 1], [0, 0, 2, 2]], [0.9, 0.8]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("boxes, error, message", [
    ([[0, 0, 1, 1, 1], [0, 0, 2, 2, 2]], ValueError, r"boxes must have shape \(\.\.\., 4\).*got shape \(2, 5\)"),
    ([[[0, 0, 1, 1], [0, 0, 2, 2]]], ValueError, r"boxes must have shape \(N, 4\).*got shape \(1, 2, 4\)"),
    ([0, 0, 1, 1], ValueError, r"boxes must have shape \(N, 4\).*got shape \(4,\)"),
    ([[0, 0, 1, 1], [2, 0, 1, 2]], ValueError, r"boxes\[1\] = \[2\.0, 0\.0, 1\.0, 2\.0\].*x2 < x1"),
    ([[0, 0, 1, 1], [0, 3, 2, 2]], ValueError, r"boxes\[1\] = .*y2 < y1"),
    ([[0, 0, 1, 1], [0, np.nan, 2, 2]], ValueError, r"boxes\[1\] = \[0\.0, nan, 2\.0, 2\.0\] is not finite"),
    ([[0, 0, np.inf, 1], [0, 0, 2, 2]], ValueError, r"boxes\[0\] = .*is not finite"),
    ([[0, 0, 1, 1j], [0, 0, 2, 2]], TypeError, r"boxes must be an array of real numbers"),
    ([["a", 0, 1, 1], [0, 0, 2, 2]], TypeError, r"boxes must be an array of real numbers"),
])
def test_bad_boxes(name, boxes, error, message):
    with pytest.raises(error, match=message):
        _call(name, boxes, GOOD_SCORES, 0.5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scores, error, message", [
    ([[0.9], [0.8]], ValueError, r"scores must have shape \(N,\) = \(2,\).*got shape \(2, 1\)"),
    ([0.9, 0.8, 0.7], ValueError, r"scores must have shape \(N,\) = \(2,\).*got shape \(3,\)"),
    (0.9, ValueError, r"scores must have shape \(N,\) = \(2,\).*got shape \(\)"),
    ([0.9, np.nan], ValueError, r"scores\[1\] is NaN"),
    ([0.9 + 1j, 0.8], TypeError, r"scores must be an array of real numbers"),
    ([True, False], TypeError, r"scores must be an array of real numbers.*bool"),
])
def test_bad_scores(name, scores, error, message):
    with pytest.raises(error, match=message):
        _call(name, GOOD_BOXES, scores, 0.5)


@pytest.mark.parametrize("idxs, error, message", [
    ([0.0, 1.0], TypeError, r"idxs must be an array of integers.*float64"),
    ([True, False], TypeError, r"idxs must be an array of integers.*bool"),
    ([[0], [1]], ValueError, r"idxs must have shape \(N,\) = \(2,\).*got shape \(2, 1\)"),
    ([0, 1, 2], ValueError, r"idxs must have shape \(N,\) = \(2,\).*got shape \(3,\)"),
    (["a", "b"], TypeError, r"idxs must be an array of integers"),
])
def test_bad_idxs(idxs, error, message):
    with pytest.raises(error, match=message):
        batched_nms(GOOD_BOXES, GOOD_SCORES, idxs, 0.5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("threshold, error, message", [
    (math.nan, ValueError, r"iou_threshold must be in \[-inf, inf\], got nan"),
    ("0.5", TypeError, r"iou_threshold must be a real number"),
    (True, TypeError, r"iou_threshold must be a real number"),
    (np.array([0.5]), TypeError, r"iou_threshold must be a real number.*shape \(1,\)"),
    (0.5 + 0j, TypeError, r"iou_threshold must be a real number"),
    (None, TypeError, r"iou_threshold must be a real number"),
])
def test_bad_threshold(name, threshold, error, message):
    with pytest.raises(error, match=message):
        _call(name, GOOD_BOXES, GOOD_SCORES, threshold)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("threshold", [1, np.float32(0.5), np.array(0.25), -3, math.inf, -math.inf, 2.0])
def test_any_real_threshold_is_accepted(name, threshold):
    # Disjoint boxes (IoU 0): suppressed only for a threshold below 0.
    kept = _kept(_call(name, [[0, 0, 1, 1], [2, 0, 3, 1]], GOOD_SCORES, threshold))
    assert kept == ([0] if float(threshold) < 0 else [0, 1])


@pytest.mark.parametrize("beta, error", [(0.0, ValueError), (-1.0, ValueError), (math.inf, ValueError),
                                         (math.nan, ValueError), ("1", TypeError)])
def test_bad_beta(beta, error):
    with pytest.raises(error, match="beta must"):
        diou_nms(GOOD_BOXES, GOOD_SCORES, 0.5, beta=beta)


# ---- registry and documentation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_registered_as_a_selection_without_gradient(name):
    spec = refloss.registry.get(name)
    assert (spec.kind, spec.family, spec.vjp, spec.reductions) == ("selection", "boxes", None, ())
    assert name in refloss.registry.names("selection")
    assert spec.derivation == "docs/derivations/nms.md" and (ROOT / spec.derivation).is_file()
    assert all(reference.url.startswith("https://") for reference in spec.references)
    positional = [p.name for p in inspect.signature(spec.forward).parameters.values()
                  if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [i.name for i in spec.inputs] + ["iou_threshold"]  # torchvision's positional threshold
    assert not any(i.differentiable for i in spec.inputs)


def test_the_declared_kinks_are_where_the_output_jumps():
    # Score ties: scores 0.5, 0.7, 0.7, 0.7 are 0.2, 0, 0, 0 from their nearest other score.
    for name in NAMES:
        ties, threshold = refloss.registry.get(name).kinks
        assert ties.distance([[0, 0, 1, 1]] * 4, [0.5, 0.7, 0.7, 0.7]).tolist() == pytest.approx([0.2, 0, 0, 0])
    # IoU 1/2 (check_strict_threshold) at t = 0.5 and t = 0.25; disjoint boxes have IoU 0 (0.5 from 0.5).
    boxes = [[0, 0, 2, 1], [0, 0, 1, 1], [5, 5, 6, 6]]
    threshold = refloss.registry.get("nms").kinks[1].distance
    assert threshold(boxes, [0.9, 0.8, 0.7], iou_threshold=0.5).tolist() == [0, 0, 0.5]
    assert threshold(boxes, [0.9, 0.8, 0.7], iou_threshold=0.25).tolist() == [0.25, 0.25, 0.25]
    # Of different categories the pair does not count (inf); DIoU: 15/32 (check_diou_strict_threshold) is at it.
    batched = refloss.registry.get("batched_nms").kinks[1].distance
    assert batched(boxes[:2], [0.9, 0.8], [0, 1], iou_threshold=0.5).tolist() == [math.inf, math.inf]
    diou = refloss.registry.get("diou_nms").kinks[1].distance
    assert diou([[0, 0, 4, 4], [0, 0, 4, 2]], [0.9, 0.8], iou_threshold=15 / 32, beta=1.0).tolist() == [0, 0]
    assert diou([[0, 0, 4, 4], [0, 0, 4, 2]], [0.9, 0.8], iou_threshold=15 / 32, beta=2.0)[0] > 0


@pytest.mark.parametrize("name", NAMES)
def test_docstring_sections_render_and_say_there_is_no_gradient(name):
    doc = sections(refloss.registry.get(name).forward.__doc__)
    for section in REQUIRED_SECTIONS:
        text = to_text(doc[section], strict=True)
        assert text.strip() and not any(m in text for m in ("\\", ":math:", ".. math::", "``", ":func:", "`"))
    assert "None" in doc["Gradient"] and "piecewise constant" in doc["Gradient"]
    assert ".. math::" in doc["Definition"]


def test_derivation_page_has_the_sections_and_every_step_the_code_cites():
    text = (ROOT / "docs" / "derivations" / "nms.md").read_text(encoding="utf-8")
    for heading in ("## Definition", "## Gradient", "## Numerics", "## Conventions", "## References"):
        assert heading in text
    source = inspect.getsource(inspect.getmodule(nms))
    for tag in set(re.findall(r"\(([A-Z]\d+)\)", source)):
        assert f"({tag})" in text, tag
    rendered = markdown_math_to_text(text)
    prose = re.sub(r"`[^`]*`", "", re.sub(r"^```.*?^```", "", rendered, flags=re.MULTILINE | re.DOTALL))
    assert "$" not in prose and "\\" not in prose


# ---- realistic wrong implementations ----------------------------------------------------------------------------
# Each is a bug that real NMS code has had. The hand-worked checks above must reject every one of them.

def _variant(boxes, scores, threshold, *, idxs=None, **pieces):
    """The mutation library's greedy NMS with one piece swappable (tests/mutants/selection.py), on array-likes."""
    return _greedy(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(scores, dtype=np.float64),
                   threshold, idxs=None if idxs is None else np.asarray(idxs), **pieces)


def nms_suppresses_at_equality(boxes, scores, threshold):
    """>= instead of >: a box whose IoU equals the threshold is suppressed (the DIoU paper's equation)."""
    return _variant(boxes, scores, threshold, exceeds=lambda v, t: v >= t)


def nms_ties_by_higher_index(boxes, scores, threshold):
    """np.argsort(scores)[::-1]: descending, but among equal scores the higher index first."""
    return _variant(boxes, scores, threshold, ranking=lambda s: np.argsort(s, kind="stable")[::-1])


def nms_suppressed_boxes_still_suppress(boxes, scores, threshold):
    """Every higher-scored box suppresses, kept or not (comparing against all boxes instead of the kept ones)."""
    return _variant(boxes, scores, threshold, only_kept_suppress=False)


def nms_plus_one_pixel(boxes, scores, threshold):
    """The legacy integer-pixel IoU (py-faster-rcnn, Detectron): widths x2 - x1 + 1."""
    return _variant(boxes, scores, threshold, overlap=lambda a, b: _variant_iou(a, b, pixel=1.0))


def batched_nms_coordinate_offset(boxes, scores, idxs, threshold):
    """torchvision's trick: shift each category by idx * (max coordinate + 1), then one nms; assumes x >= 0."""
    boxes = np.asarray(boxes, dtype=np.float64)
    offsets = np.asarray(idxs, dtype=np.float64) * (boxes.max() + 1)
    return _variant(boxes + offsets[:, None], scores, threshold)


def batched_nms_float32_offset(boxes, scores, idxs, threshold):
    """The same trick computed in float32 with the offset idx * (max coordinate + 1) and no sign check."""
    boxes = np.asarray(boxes, dtype=np.float32)
    shifted = boxes - boxes.min() + np.asarray(idxs, dtype=np.float32)[:, None] * (boxes.max() - boxes.min() + 1)
    return _variant(shifted.astype(np.float32), scores, threshold,
                    overlap=lambda a, b: float(np.float32(_variant_iou(a.astype(np.float32), b.astype(np.float32)))))


def diou_nms_suppresses_at_equality(boxes, scores, threshold, beta=1.0):
    """>= instead of > on IoU - penalty (the paper's equation read literally)."""
    return _variant(boxes, scores, threshold, exceeds=lambda v, t: v >= t,
                    overlap=lambda a, b: _variant_diou(a, b, beta))


def diou_nms_unsquared_penalty(boxes, scores, threshold, beta=1.0):
    """rho / c instead of rho^2 / c^2."""
    return _variant(boxes, scores, threshold, overlap=lambda a, b: _variant_diou(a, b, beta, squared=False))


def diou_nms_enclosing_area(boxes, scores, threshold, beta=1.0):
    """c^2 taken as the enclosing box's area (GIoU's C) instead of its squared diagonal."""
    return _variant(boxes, scores, threshold, overlap=lambda a, b: _variant_diou(a, b, beta, enclosing_area=True))


def diou_nms_ignores_beta(boxes, scores, threshold, beta=1.0):
    """beta accepted but not applied (the penalty always to the power 1)."""
    return _variant(boxes, scores, threshold, overlap=lambda a, b: _variant_diou(a, b, 1.0))


WRONG = [
    (nms_suppresses_at_equality, NMS_CHECKS),
    (nms_ties_by_higher_index, NMS_CHECKS),
    (nms_suppressed_boxes_still_suppress, NMS_CHECKS),
    (nms_plus_one_pixel, NMS_CHECKS),
    (batched_nms_coordinate_offset, BATCHED_CHECKS),
    (batched_nms_float32_offset, BATCHED_CHECKS),
    (diou_nms_suppresses_at_equality, DIOU_CHECKS),
    (diou_nms_unsquared_penalty, DIOU_CHECKS),
    (diou_nms_enclosing_area, DIOU_CHECKS),
    (diou_nms_ignores_beta, DIOU_CHECKS),
]


def _failures(implementation, checks):
    failed = []
    for check in checks:
        try:
            check(implementation)
        except AssertionError:
            failed.append(check.__name__)
    return failed


@pytest.mark.parametrize("implementation, checks", WRONG, ids=[w[0].__name__ for w in WRONG])
def test_the_checks_catch_the_wrong_implementation(implementation, checks):
    assert _failures(implementation, checks), f"no check caught {implementation.__name__}"


def test_the_variant_builder_itself_passes_the_checks():
    # So that a wrong implementation fails because of its one bug, not because the builder is broken.
    assert not _failures(lambda b, s, t: _variant(b, s, t), NMS_CHECKS)
    assert not _failures(lambda b, s, i, t: _variant(b, s, t, idxs=i), BATCHED_CHECKS)
    assert not _failures(lambda b, s, t, beta=1.0: _variant(b, s, t, overlap=lambda x, y: _variant_diou(x, y, beta)),
                         DIOU_CHECKS)
