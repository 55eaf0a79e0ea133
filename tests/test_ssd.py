"""SSD's MultiBox loss and its target builder: small hand-built scenes whose expected terms are worked out in a
comment (their provenance), the per-term cotangents of the VJP, gradients against autograd and finite differences
with the matching and the mining held, an independent loop-by-loop implementation, bad input, realistic wrong
implementations caught, and the comparison with torchvision's own ``SSD.compute_loss``.

The scenes use priors whose IoUs and offsets are simple by hand, and logits whose cross-entropies are logarithms
of small integers: CE((0, 0, ln 2), 2) = ln 4 - ln 2 = ln 2, CE((0, b), 0) = ln(1 + e^b).
"""

import math
from functools import partial

import numpy as np
import pytest

from refloss.losses.detectors._scene import term_cotangents
from refloss._registry import get
from refloss.losses.detectors.ssd import TERMS, ssd_loss, ssd_loss_vjp, ssd_targets
from refloss.testing._gradients import Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences
from test_yolo import approx, assert_terms

LN2, LN3, LN5 = math.log(2.0), math.log(3.0), math.log(5.0)


# =============================================================================================================
# The scenes
# =============================================================================================================

# Four quadrant priors: A0 top-left, A1 top-right, A2 bottom-left, A3 bottom-right; each 0.5 x 0.5, area 1/4,
# A0's centre (0.25, 0.25).
QUADRANTS = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.0, 1.0, 0.5], [0.0, 0.5, 0.5, 1.0], [0.5, 0.5, 1.0, 1.0]])
# G: A0 shifted right by 0.05: centre (0.30, 0.25), size (0.5, 0.5).
#   IoU(G, A0): intersection 0.45 x 0.5 = 0.225, union 0.25 + 0.25 - 0.225 = 0.275 -> 9/11 >= 0.5: positive.
#   IoU(G, A1): 0.05 x 0.5 = 0.025 / 0.475 = 1/19; A2, A3 only touch G (height 0): IoU 0.
#   Offsets against A0: ((0.30 - 0.25) / (0.1 * 0.5), 0 / .., ln(0.5 / 0.5) / 0.2, ..) = (1, 0, 0, 0).
BOX_G = [0.05, 0.0, 0.55, 0.5]
# A0 itself: IoU 1 with A0, offsets (0, 0, 0, 0).
BOX_A0 = [0.0, 0.0, 0.5, 0.5]
# F: straddles A0 and A1 equally, centre (0.5, 0.2), size (0.2, 0.2), area 0.04.
#   IoU(F, A0) = IoU(F, A1) = (0.1 x 0.2 = 0.02) / (0.25 + 0.04 - 0.02 = 0.27) = 2/27 < 0.5; A2, A3: 0.
#   So no prior passes the threshold: F's best prior is forced, the tie A0 = A1 going to A0 (lower index).
#   Offsets against A0: ((0.5 - 0.25) / 0.05, (0.2 - 0.25) / 0.05, ln(0.2 / 0.5) / 0.2, ..) = (5, -1, 5 ln 0.4,
#   5 ln 0.4). With zero outputs, Smooth L1 (beta 1): 5 - 1/2 + 1 - 1/2 + 2 (-5 ln 0.4 - 1/2) = 4 + 10 ln 2.5.
BOX_F = [0.4, 0.1, 0.6, 0.3]
FORCED_BOX_LOSS = 4 + 10 * math.log(2.5)


def one_object_outputs():
    """C = 3. A0's offsets (0.8, 0.3, -2, 0); the other priors' offsets are 7 (never positive: no box loss).
    Logits: A0 (0, 0, ln 2); A1 (0, 0, 0); A2 (ln 2, 0, 0); A3 (0, ln 3, 0)."""
    bbox = np.full((1, 4, 4), 7.0)
    bbox[0, 0] = [0.8, 0.3, -2.0, 0.0]
    cls = np.array([[[0.0, 0.0, LN2], [0.0, 0.0, 0.0], [LN2, 0.0, 0.0], [0.0, LN3, 0.0]]])
    return bbox, cls


# One object G (label 2) on the quadrants. Positive: A0 (N_pos = 1); candidates A1, A2, A3, k = min(3 * 1, 3) = 3.
#   bbox: d = (0.8, 0.3, -2, 0) - (1, 0, 0, 0) = (-0.2, 0.3, -2, 0): 0.02 + 0.045 + (2 - 0.5) + 0 = 1.565.
#   classification: A0 vs 2: ln(1 + 1 + 2) - ln 2 = ln 2; A1 vs 0: ln 3; A2 vs 0: ln(2 + 1 + 1) - ln 2 = ln 2;
#   A3 vs 0: ln(1 + 3 + 1) - 0 = ln 5. Sum ln 2 + ln 3 + ln 2 + ln 5 = ln 60.
ONE_OBJECT = {"bbox_regression": 1.565, "classification": math.log(60.0)}
# The gradient by hand (divided by N_pos = 1): bbox of A0: Smooth L1' of d = (-0.2, 0.3, sign(-2) = -1, 0);
# logits: softmax - one-hot(target): A0 (1/4, 1/4, 1/2) - e2; A1 (1/3, 1/3, 1/3) - e0; A2 (1/2, 1/4, 1/4) - e0;
# A3 (1/5, 3/5, 1/5) - e0.
ONE_OBJECT_BOX_GRAD = [-0.2, 0.3, -1.0, 0.0]
ONE_OBJECT_CLS_GRAD = [[0.25, 0.25, -0.5], [-2 / 3, 1 / 3, 1 / 3], [-0.5, 0.25, 0.25], [-0.8, 0.6, 0.2]]


def crowd_outputs():
    """Eight priors in a 4 x 2 grid (cells 0.25 x 0.5, index row * 4 + column), C = 2. Prior 0's offsets
    (0.5, -0.5, 0, 2), logits (0, 0); prior p's logits (0, b_p) with b = (ln 3, 0, ln 7, ln 3, -ln 3, ln 3, 0)
    for p = 1..7."""
    priors = np.array([[c / 4, r / 2, (c + 1) / 4, (r + 1) / 2] for r in range(2) for c in range(4)])
    bbox = np.zeros((1, 8, 4))
    bbox[0, 0] = [0.5, -0.5, 0.0, 2.0]
    b = [0.0, LN3, 0.0, math.log(7.0), LN3, -LN3, LN3, 0.0]
    cls = np.stack([np.zeros(8), b], axis=-1)[None]
    return bbox, cls, priors


# The crowd: one object, prior 0's own box (label 1): IoU 1 with prior 0, 0 with the rest (they only touch it).
#   bbox: d = (0.5, -0.5, 0, 2): 0.125 + 0.125 + 0 + 1.5 = 1.75. Prior 0 vs 1: ln 2.
#   Background CE ln(1 + e^b) of the candidates: p1 ln 4, p2 ln 2, p3 ln 8, p4 ln 4, p5 ln(4/3), p6 ln 4, p7 ln 2.
#   k = min(3, 7) = 3: p3 (ln 8), then the tie ln 4 of p1, p4, p6 goes to the lower indices p1, p4.
#   classification: ln 2 + ln 8 + 2 ln 4 = ln 256 = 8 ln 2.
CROWD = {"bbox_regression": 1.75, "classification": 8 * LN2}
CROWD_MINED = [1, 3, 4]
# With neg_to_pos_ratio = 1: k = 1, only p3: ln 2 + ln 8 = 4 ln 2.
CROWD_RATIO_1 = {"bbox_regression": 1.75, "classification": 4 * LN2}

# Few candidates: two priors (left and right halves), one object on the left one (label 1), C = 2.
#   Left: logits (0, ln 3): vs 1, ln 4 - ln 3 = ln(4/3); right: logits (0, 0): vs 0, ln 2. Offsets 0 = targets.
#   k = min(3 * 1, 1 candidate) = 1: classification ln(4/3) + ln 2 = ln(8/3). (torchvision's unclamped k = 3
#   reaches the positive too and counts its ln(4/3) twice: ln(32/9).)
HALVES = np.array([[0.0, 0.0, 0.5, 1.0], [0.5, 0.0, 1.0, 1.0]])
FEW_CANDIDATES = {"bbox_regression": 0.0, "classification": math.log(8 / 3)}


def few_candidates_scene():
    cls = np.array([[[0.0, LN3], [0.0, 0.0]]])
    return (np.zeros((1, 2, 4)), cls, HALVES, np.array([[[0.0, 0.0, 0.5, 1.0]]]), np.array([[1]]))


def mixed_batch():
    """Three images on the quadrants, C = 3, padding rows of zeros: image 0 the one-object scene; image 1 no
    objects (large outputs that must count nowhere); image 2 the forced object F (label 1), zero outputs."""
    bbox0, cls0 = one_object_outputs()
    bbox = np.concatenate([bbox0, np.full((1, 4, 4), 5.0), np.zeros((1, 4, 4))])
    cls = np.concatenate([cls0, np.array([[[9.0, -9.0, 4.0]] * 4]), np.zeros((1, 4, 3))])
    boxes = np.array([[BOX_G, [0.0] * 4], [[0.0] * 4, [0.0] * 4], [[0.0] * 4, BOX_F]])
    labels = np.array([[2, -1], [-1, -1], [-1, 1]])
    return bbox, cls, QUADRANTS, boxes, labels


# Mixed batch: N_pos = 1 + 0 + 1 = 2. Image 2: F forced to A0 (box 4 + 10 ln 2.5); every logit 0 with C = 3, so
#   each CE is ln 3: A0 vs 1 and its k = min(3, 3) = 3 negatives: 4 ln 3. Image 1: no positives, no negatives.
MIXED = {"bbox_regression": (1.565 + FORCED_BOX_LOSS) / 2, "classification": (math.log(60.0) + 4 * LN3) / 2}


def hand_scenes():
    """(name, inputs, params, expected terms) for every hand-built scene."""
    bbox, cls = one_object_outputs()
    crowd_bbox, crowd_cls, crowd_priors = crowd_outputs()
    pad = [0.0] * 4
    return [
        ("one object", (bbox, cls, QUADRANTS, np.array([[BOX_G]]), np.array([[2]])), {}, ONE_OBJECT),
        # Two objects whose best prior is A0: A0 (IoU 1) is A0's own box, G (IoU 9/11) comes later and wins A0 when
        # the best priors are forced; A0's box has no prior left. The padding row between them is skipped. So the
        # terms are the one-object scene's.
        ("two objects, the later wins", (bbox, cls, QUADRANTS, np.array([[BOX_A0, pad, BOX_G]]),
                                         np.array([[1, -1, 2]])), {}, ONE_OBJECT),
        # In the other order A0's box wins A0 (label 1, offsets 0): d = (0.8, 0.3, -2, 0): 0.32 + 0.045 + 1.5 =
        # 1.865; A0 vs 1: ln 4 - 0 = 2 ln 2, so classification 2 ln 2 + ln 3 + ln 2 + ln 5 = ln 120.
        ("two objects, other order", (bbox, cls, QUADRANTS, np.array([[BOX_G, BOX_A0]]), np.array([[2, 1]])), {},
         {"bbox_regression": 1.865, "classification": math.log(120.0)}),
        # No objects: no positives, no negatives; both terms 0 / max(1, 0) = 0.
        ("no objects", (bbox, cls, QUADRANTS, np.array([[pad]]), np.array([[-1]])), {},
         {"bbox_regression": 0.0, "classification": 0.0}),
        ("crowd", (crowd_bbox, crowd_cls, crowd_priors, np.array([[crowd_priors[0]]]), np.array([[1]])), {}, CROWD),
        ("crowd, ratio 1", (crowd_bbox, crowd_cls, crowd_priors, np.array([[crowd_priors[0]]]), np.array([[1]])),
         {"neg_to_pos_ratio": 1}, CROWD_RATIO_1),
        # Forced: F (label 1) at A0; C = 2 and every logit 0, so every CE is ln 2: A0 and k = 3 negatives, 4 ln 2.
        ("forced", (np.zeros((1, 4, 4)), np.zeros((1, 4, 2)), QUADRANTS, np.array([[BOX_F]]), np.array([[1]])), {},
         {"bbox_regression": FORCED_BOX_LOSS, "classification": 4 * LN2}),
        ("few candidates", few_candidates_scene(), {}, FEW_CANDIDATES),
        ("mixed batch", mixed_batch(), {}, MIXED),
    ]


SCENES = hand_scenes()


@pytest.mark.parametrize("name, inputs, params, expected", SCENES, ids=[s[0] for s in SCENES])
def test_hand_scene(name, inputs, params, expected):
    assert_terms(ssd_loss(*inputs, **params), expected)


def test_one_object_targets():
    bbox, cls = one_object_outputs()
    t = ssd_targets(bbox, cls, QUADRANTS, [[BOX_G]], [[2]])
    assert t.matches.tolist() == [[0, -1, -1, -1]]
    assert t.positive.tolist() == [[True, False, False, False]]
    assert t.negative.tolist() == [[False, True, True, True]]
    assert t.class_target.tolist() == [[2, 0, 0, 0]]
    assert t.box_target[0, 0] == pytest.approx([1.0, 0.0, 0.0, 0.0], abs=1e-14)
    assert np.all(t.box_target[0, 1:] == 0)


def test_one_object_gradient_by_hand():
    bbox, cls = one_object_outputs()
    g_box, g_cls, *rest = ssd_loss_vjp(1.0, bbox, cls, QUADRANTS, [[BOX_G]], [[2]])
    assert rest == [None, None, None]
    expected_box = np.zeros((1, 4, 4))
    expected_box[0, 0] = ONE_OBJECT_BOX_GRAD
    assert g_box == pytest.approx(expected_box, abs=1e-14)
    assert g_cls[0] == pytest.approx(np.array(ONE_OBJECT_CLS_GRAD), abs=1e-14)


def test_two_objects_later_wins_and_the_padding_row_is_skipped():
    bbox, cls = one_object_outputs()
    t = ssd_targets(bbox, cls, QUADRANTS, [[BOX_A0, [0.0] * 4, BOX_G]], [[1, -1, 2]])
    assert t.matches.tolist() == [[2, -1, -1, -1]]  # the row of G in boxes (the padding row counted)
    assert t.class_target.tolist() == [[2, 0, 0, 0]]


def test_crowd_mining_ties_go_to_the_lower_prior_index():
    bbox, cls, priors = crowd_outputs()
    t = ssd_targets(bbox, cls, priors, [[priors[0]]], [[1]])
    assert np.flatnonzero(t.negative[0]).tolist() == CROWD_MINED
    # The gradient reaches exactly the positive and the mined negatives' logits: p6 (tied with p1 and p4) gets none
    _, g_cls, *_ = ssd_loss_vjp(1.0, bbox, cls, priors, [[priors[0]]], [[1]])
    assert np.flatnonzero(np.any(g_cls[0] != 0, axis=-1)).tolist() == [0, 1, 3, 4]


def test_forced_match_below_the_threshold():
    t = ssd_targets(np.zeros((1, 4, 4)), np.zeros((1, 4, 2)), QUADRANTS, [[BOX_F]], [[1]])
    assert t.matches.tolist() == [[0, -1, -1, -1]]  # A0 and A1 tie at 2/27: the lower index
    assert t.box_target[0, 0] == pytest.approx([5.0, -1.0, 5 * math.log(0.4), 5 * math.log(0.4)], rel=1e-14)


def test_an_object_overlapping_no_prior_is_forced_to_prior_0():
    """Its IoU row is all 0: argmax gives prior 0 (the lowest index), whatever the distance."""
    priors = np.array([[0.0, 0.0, 0.2, 0.2], [0.8, 0.8, 1.0, 1.0]])
    t = ssd_targets(np.zeros((1, 2, 4)), np.zeros((1, 2, 2)), priors, [[[0.4, 0.4, 0.6, 0.6]]], [[1]])
    assert t.matches.tolist() == [[0, -1]]


def test_threshold_is_inclusive():
    """A prior that is half of the object ([0, 0, 0.25, 0.5] in [0, 0, 0.5, 0.5]) has IoU exactly 0.125 / 0.25 =
    1/2. It is not the object's best prior (A0, IoU 1), so only the threshold can match it: >= 0.5 does (the
    code's rule); the paper's > 0.5 would not, and neither does a threshold just above."""
    priors = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.25, 0.5], [0.5, 0.5, 1.0, 1.0]])
    t = ssd_targets(np.zeros((1, 3, 4)), np.zeros((1, 3, 2)), priors, [[BOX_A0]], [[1]])
    assert t.positive.tolist() == [[True, True, False]]
    t = ssd_targets(np.zeros((1, 3, 4)), np.zeros((1, 3, 2)), priors, [[BOX_A0]], [[1]], iou_threshold=0.5 + 1e-12)
    assert t.positive.tolist() == [[True, False, False]]


def test_no_objects_gradient_is_zero():
    bbox, cls = one_object_outputs()
    g_box, g_cls, *_ = ssd_loss_vjp({"total": 1.0, "classification": 2.0}, bbox, cls, QUADRANTS, np.zeros((1, 0, 4)),
                                    np.zeros((1, 0), dtype=np.int64))
    assert not g_box.any() and not g_cls.any()
    assert_terms(ssd_loss(bbox, cls, QUADRANTS, np.zeros((1, 0, 4)), np.zeros((1, 0), dtype=np.int64)),
                 {"bbox_regression": 0.0, "classification": 0.0})


# =============================================================================================================
# Cotangents per term
# =============================================================================================================

@pytest.mark.parametrize("term", TERMS)
def test_vjp_of_one_term_is_the_gradient_of_that_term(term):
    """The one-object scene: the cotangent of one term only reaches that term's output (the box term only the
    offsets, the classification only the logits), scaled by the cotangent."""
    bbox, cls = one_object_outputs()
    g_box, g_cls, *_ = ssd_loss_vjp({term: 2.5}, bbox, cls, QUADRANTS, [[BOX_G]], [[2]])
    box_part, cls_part = np.zeros((4, 4)), np.array(ONE_OBJECT_CLS_GRAD)
    box_part[0] = ONE_OBJECT_BOX_GRAD
    if term == "bbox_regression":
        assert g_box[0] == pytest.approx(2.5 * box_part, abs=1e-14) and not g_cls.any()
    else:
        assert g_cls[0] == pytest.approx(2.5 * cls_part, abs=1e-14) and not g_box.any()


def test_vjp_total_is_the_sum_of_the_terms_cotangents():
    inputs = mixed_batch()
    total = ssd_loss_vjp(1.5, *inputs)
    by_terms = ssd_loss_vjp({"bbox_regression": 1.5, "classification": 1.5}, *inputs)
    mixed = ssd_loss_vjp({"total": 1.0, "bbox_regression": 0.5, "classification": 0.5}, *inputs)
    for a, b, c in zip(total[:2], by_terms[:2], mixed[:2]):
        assert np.array_equal(a, b) and np.allclose(a, c, rtol=1e-15, atol=0)


def test_mixed_batch_gradient_is_divided_by_the_batch_positives():
    """Image 2's gradient (forced F, zero outputs, C = 3): the box part is Smooth L1' of -(5, -1, 5 ln 0.4,
    5 ln 0.4) = (-1, 1, 1, 1) over N_pos = 2; its logits (softmax 1/3 each) minus the one-hot, over 2."""
    g_box, g_cls, *_ = ssd_loss_vjp(1.0, *mixed_batch())
    assert g_box[2, 0] == pytest.approx([-0.5, 0.5, 0.5, 0.5], abs=1e-15)
    assert g_cls[2, 0] == pytest.approx(np.array([1 / 3, -2 / 3, 1 / 3]) / 2, abs=1e-15)
    assert g_cls[2, 1] == pytest.approx(np.array([-2 / 3, 1 / 3, 1 / 3]) / 2, abs=1e-15)
    assert not g_box[1].any() and not g_cls[1].any()  # the image without objects


def test_terms_named_in_registry():
    spec = get("ssd_loss")
    assert spec.terms == TERMS == ("bbox_regression", "classification")
    assert spec.kind == "detector" and spec.family == "detectors"
    assert [p.name for p in spec.params] == ["iou_threshold", "neg_to_pos_ratio", "variances", "beta"]
    assert [p.default for p in spec.params] == [0.5, 3, (0.1, 0.2), 1.0]
    assert [i.name for i in spec.inputs if i.differentiable] == ["bbox_regression", "cls_logits"]


# =============================================================================================================
# Gradients against autograd and finite differences, the matching and the mining held; random small scenes.
# =============================================================================================================

# 29 priors: a 4 x 4 grid (cells 0.25), a 3 x 3 grid (cells 1/3) and a 2 x 2 grid (cells 0.5).
PRIORS = np.array([[i / k, j / k, (i + 1) / k, (j + 1) / k] for k in (4, 3, 2) for j in range(k) for i in range(k)])


def random_boxes(rng, images, objects):
    centres = rng.uniform(0.3, 0.7, size=(images, objects, 2))
    sizes = rng.uniform(0.15, 0.5, size=(images, objects, 2))
    return np.clip(np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=-1), 0.0, 1.0)


def random_case(rng, params, classes=4):
    labels = np.array([[1, 3, -1], [2, -1, -1]])
    return Case(inputs=(rng.normal(0.0, 1.0, size=(2, len(PRIORS), 4)), rng.normal(0.0, 1.5, size=(2, len(PRIORS),
                                                                                                 classes)),
                        PRIORS, random_boxes(rng, 2, 3), labels),
                params=dict(params), reduction=None, grad_output=rng.normal(size=3))


VARIANTS = [{}, {"neg_to_pos_ratio": 1}, {"iou_threshold": 0.3, "beta": 0.5}, {"variances": (0.2, 0.5)},
            {"beta": 0.0}]


@pytest.mark.parametrize("params", VARIANTS, ids=[",".join(f"{k}={v}" for k, v in p.items()) or "default"
                                                  for p in VARIANTS])
def test_vjp_against_autograd_and_finite_differences(params):
    case = random_case(np.random.default_rng(len(str(params))), params)
    t = ssd_targets(*case.inputs, **{k: v for k, v in params.items() if k != "beta"})
    assert t.positive.sum() >= 2 and t.negative.sum() >= 2 and (~t.positive & ~t.negative).any()  # not trivial
    assert_vjp_matches_autograd("ssd_loss", case)
    assert_vjp_matches_finite_differences("ssd_loss", case)


def test_vjp_on_the_hand_scenes_against_autograd():
    for name, inputs, params, _ in SCENES:
        case = Case(inputs=inputs, params=params, reduction=None, grad_output=np.array([1.0, 0.5, -2.0]))
        assert_vjp_matches_autograd("ssd_loss", case)


# =============================================================================================================
# An independent implementation: the loss written loop by loop from the definition (plain Python, no refloss).
# Its flags are the bugs of real implementations; with none set it agrees with refloss.
# =============================================================================================================

def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _encode(g, d, variances):
    vc, vs = variances
    gw, gh, dw, dh = g[2] - g[0], g[3] - g[1], d[2] - d[0], d[3] - d[1]
    return [((g[0] + g[2]) / 2 - (d[0] + d[2]) / 2) / (vc * dw), ((g[1] + g[3]) / 2 - (d[1] + d[3]) / 2) / (vc * dh),
            math.log(gw / dw) / vs, math.log(gh / dh) / vs]


def _smooth_l1(d, beta):
    return 0.5 * d * d / beta if abs(d) < beta else abs(d) - 0.5 * beta


def _ce(z, t):
    m = max(z)
    return m + math.log(sum(math.exp(v - m) for v in z)) - z[t]


def loop_ssd_loss(bbox, cls, anchors, boxes, labels, *, iou_threshold=0.5, neg_to_pos_ratio=3, variances=(0.1, 0.2),
                  beta=1.0, per_image=False, unclamped_k=False, force=True, guard=True, negative_class=0):
    """SSD's loss by the definition. Bugs: ``per_image`` normalises each image by its own positives and averages
    the images (RetinaNet's normalisation); ``unclamped_k`` lets k = ratio * positives reach past the candidates
    into the positives (counted again, torchvision's); ``force=False`` only thresholds (objects below it are
    lost); ``guard=False`` divides by N_pos (ssd.pytorch: NaN without positives); ``negative_class`` is the class
    the mined negatives' cross-entropy is taken against (not 0: a wrong target)."""
    bbox, cls, anchors, boxes = (np.asarray(x, dtype=float).tolist() for x in (bbox, cls, anchors, boxes))
    labels = np.asarray(labels).tolist()
    box_sums, cls_sums, positives = [], [], []
    for n in range(len(bbox)):
        objects = [m for m, label in enumerate(labels[n]) if label >= 0]
        match = [-1] * len(anchors)
        if objects:
            iou = [[_iou(boxes[n][m], a) for a in anchors] for m in objects]
            for q in range(len(anchors)):
                best = max(range(len(objects)), key=lambda j: (iou[j][q], -j))  # first of equal maxima
                if iou[best][q] >= iou_threshold:
                    match[q] = objects[best]
            if force:
                for j, m in enumerate(objects):
                    match[max(range(len(anchors)), key=lambda q: (iou[j][q], -q))] = m
        pos = [q for q in range(len(anchors)) if match[q] >= 0]
        box_sum = sum(_smooth_l1(bbox[n][q][k] - _encode(boxes[n][match[q]], anchors[q], variances)[k], beta)
                      for q in pos for k in range(4))
        cls_sum = sum(_ce(cls[n][q], labels[n][match[q]]) for q in pos)
        candidates = sorted((q for q in range(len(anchors)) if match[q] < 0), key=lambda q: (-_ce(cls[n][q], 0), q))
        k = neg_to_pos_ratio * len(pos)
        cls_sum += sum(_ce(cls[n][q], negative_class) for q in candidates[:k])
        if unclamped_k:  # the positives rank last (loss -inf); those reached are counted with their own target
            cls_sum += sum(_ce(cls[n][q], labels[n][match[q]]) for q in pos[:max(0, k - len(candidates))])
        box_sums.append(box_sum)
        cls_sums.append(cls_sum)
        positives.append(len(pos))
    if per_image:
        return None, {"bbox_regression": np.mean([b / max(1, p) for b, p in zip(box_sums, positives)]),
                      "classification": np.mean([c / max(1, p) for c, p in zip(cls_sums, positives)])}
    normaliser = np.float64(max(1, sum(positives)) if guard else sum(positives))
    with np.errstate(invalid="ignore"):
        return None, {"bbox_regression": np.float64(sum(box_sums)) / normaliser,
                      "classification": np.float64(sum(cls_sums)) / normaliser}


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_the_loop_implementation(seed):
    rng = np.random.default_rng(100 + seed)
    params = VARIANTS[seed % len(VARIANTS)]
    case = random_case(rng, params)
    _, expected = loop_ssd_loss(*case.inputs, **params)
    _, got = ssd_loss(*case.inputs, **params)
    for name in TERMS:
        assert float(got[name]) == pytest.approx(expected[name], rel=1e-12), name


def check_hand_scenes(loss):
    """Every hand scene's terms, as test_hand_scene checks them, for any implementation ``loss``."""
    for name, inputs, params, expected in SCENES:
        _, terms = loss(*inputs, **params)
        for term in TERMS:
            assert float(terms[term]) == approx(expected[term]), f"{name}: {term}"


# Each bug and the first hand scene that catches it.
WRONG = {
    "normalised per image": (partial(loop_ssd_loss, per_image=True), "mixed batch"),  # (1.565 + 0 + 13.16) / 3
    "unclamped k (positives mined again)": (partial(loop_ssd_loss, unclamped_k=True), "few candidates"),  # ln(32/9)
    # (A0 stays with A0's box, its best by threshold: G, which comes later, is not forced onto it)
    "no forcing": (partial(loop_ssd_loss, force=False), "two objects, the later wins"),
    "no max(1, N_pos) guard": (partial(loop_ssd_loss, guard=False), "no objects"),  # 0 / 0 = NaN
    "negatives against class 1": (partial(loop_ssd_loss, negative_class=1), "one object"),  # A1 ln 3, A2 ln 4 ...
}


def test_the_loop_implementation_passes_the_hand_scenes():
    check_hand_scenes(loop_ssd_loss)
    check_hand_scenes(ssd_loss)


@pytest.mark.parametrize("bug", WRONG)
def test_wrong_implementations_are_caught(bug):
    wrong, scene = WRONG[bug]
    with pytest.raises(AssertionError, match=f"^{scene}: "):
        check_hand_scenes(wrong)


def test_no_forcing_loses_the_forced_object():
    """Without forcing, the forced scene's F (best IoU 2/27) has no prior: no positive, both terms 0."""
    _, inputs, params, expected = next(s for s in SCENES if s[0] == "forced")
    _, terms = loop_ssd_loss(*inputs, force=False, **params)
    assert float(terms["bbox_regression"]) == 0.0 != expected["bbox_regression"]


def no_normaliser_vjp(grad_output, *inputs, **params):
    """A VJP that forgets to divide by N_pos (the forward does): right only when N_pos = 1."""
    g_box, g_cls, *rest = ssd_loss_vjp(grad_output, *inputs, **params)
    n_pos = max(1, int(ssd_targets(*inputs, **{k: v for k, v in params.items() if k != "beta"}).positive.sum()))
    return (g_box * n_pos, g_cls * n_pos, *rest)


def unmined_negatives_vjp(grad_output, *inputs, **params):
    """A VJP giving every non-positive prior the background gradient (the mask of the mining forgotten in the
    backward pass)."""
    g_box, g_cls, *rest = ssd_loss_vjp(grad_output, *inputs, **params)
    t = ssd_targets(*inputs, **{k: v for k, v in params.items() if k != "beta"})
    g = term_cotangents(grad_output, TERMS)["classification"] / max(1, int(t.positive.sum()))
    logits = np.asarray(inputs[1])
    soft = np.exp(logits - logits.max(-1, keepdims=True))
    soft /= soft.sum(-1, keepdims=True)
    background = soft - np.eye(logits.shape[-1])[0]
    unmined = ~t.positive & ~t.negative
    g_cls[unmined] = g * background[unmined]
    return (g_box, g_cls, *rest)


def positive_offsets_from_all_priors_vjp(grad_output, *inputs, **params):
    """A VJP whose box gradient also reaches the negatives (Smooth L1' of their offsets against a zero target)."""
    g_box, g_cls, *rest = ssd_loss_vjp(grad_output, *inputs, **params)
    t = ssd_targets(*inputs, **{k: v for k, v in params.items() if k != "beta"})
    g = term_cotangents(grad_output, TERMS)["bbox_regression"] / max(1, int(t.positive.sum()))
    offsets = np.asarray(inputs[0])
    g_box[t.negative] = g * np.clip(offsets[t.negative], -1, 1)
    return (g_box, g_cls, *rest)


@pytest.mark.parametrize("wrong", [no_normaliser_vjp, unmined_negatives_vjp, positive_offsets_from_all_priors_vjp])
def test_wrong_vjps_are_caught(wrong):
    case = random_case(np.random.default_rng(7), {})
    assert_vjp_matches_autograd("ssd_loss", case)  # the right one passes on this case
    with pytest.raises(AssertionError, match="differs from autograd"):
        assert_vjp_matches_autograd("ssd_loss", case, vjp=wrong)


# =============================================================================================================
# Bad input
# =============================================================================================================

def _call(**changes):
    bbox, cls = one_object_outputs()
    args = {"bbox_regression": bbox, "cls_logits": cls, "anchors": QUADRANTS, "boxes": np.array([[BOX_G]]),
            "labels": np.array([[2]])}
    params = {k: changes.pop(k) for k in list(changes) if k not in args}
    args.update(changes)
    return ssd_loss(*args.values(), **params)


@pytest.mark.parametrize("changes, match", [
    ({"boxes": np.array([[[0.1, 0.1, 1.2, 0.5]]])}, r"boxes\[0, 0\] .* lies outside the image"),
    ({"boxes": np.array([[[0.5, 0.1, 0.2, 0.5]]])}, r"boxes\[0, 0\] .* not a valid box"),
    ({"boxes": np.array([[[0.2, 0.1, 0.2, 0.5]]])}, r"zero width or height"),
    ({"labels": np.array([[0]])}, r"labels\[0, 0\] = 0, but 0 is the background class"),
    ({"labels": np.array([[3]])}, r"labels\[0, 0\] = 3 is outside \[0, 3\)"),
    ({"labels": np.array([[-2]])}, r"labels\[0, 0\] = -2"),
    ({"anchors": QUADRANTS[:3]}, r"bbox_regression must have shape \(N, P, 4\) with P = 3 priors"),
    ({"cls_logits": np.zeros((1, 3, 3))}, r"cls_logits must have shape \(N, P, C\) with \(N, P\) = \(1, 4\)"),
    ({"bbox_regression": np.zeros((1, 4, 5))}, r"bbox_regression must have shape \(N, P, 4\)"),
    ({"bbox_regression": np.zeros((0, 4, 4)), "cls_logits": np.zeros((0, 4, 3)), "boxes": np.zeros((0, 1, 4)),
      "labels": np.zeros((0, 1), dtype=np.int64)}, r"no images \(N = 0\)"),
    ({"boxes": np.array([[BOX_G], [BOX_G]]), "labels": np.array([[2], [2]])}, r"N = 1 images"),
    ({"anchors": np.array([[0.5, 0, 0, 0.5]] + QUADRANTS[1:].tolist())}, r"anchors\[0\] .* not a valid box"),
    ({"anchors": np.array([[0.5, 0, 0.5, 0.5]] + QUADRANTS[1:].tolist())}, r"anchors\[0\] .* zero width"),
    ({"anchors": QUADRANTS[None]}, r"anchors must have shape \(P, 4\)"),
    ({"cls_logits": np.zeros((1, 4, 1)), "labels": np.array([[-1]])}, r"C >= 2 columns"),
    ({"iou_threshold": 1.5}, r"iou_threshold must be in"),
    ({"neg_to_pos_ratio": 1.5}, r"neg_to_pos_ratio must be a non-negative integer"),
    ({"variances": (0.1, 0.0)}, r"variances must be 2 positive finite numbers"),
    ({"beta": -1.0}, r"beta must be in"),
])
def test_bad_input(changes, match):
    with pytest.raises(ValueError, match=match):
        _call(**changes)


def test_labels_must_be_integers():
    with pytest.raises(TypeError, match="integer class ids"):
        _call(labels=np.array([[1.0]]))


def test_bad_input_is_refused_by_the_vjp_and_the_targets_too():
    bbox, cls = one_object_outputs()
    with pytest.raises(ValueError, match="background class"):
        ssd_loss_vjp(1.0, bbox, cls, QUADRANTS, [[BOX_G]], [[0]])
    with pytest.raises(ValueError, match="background class"):
        ssd_targets(bbox, cls, QUADRANTS, [[BOX_G]], [[0]])
    with pytest.raises(ValueError, match="unknown outputs"):
        ssd_loss_vjp({"loss_classifier": 1.0}, bbox, cls, QUADRANTS, [[BOX_G]], [[2]])


def test_nan_logits_are_mined_and_propagate():
    """A NaN logit on a candidate ranks above every number in the mining (torch's descending sort): it is mined
    and the classification term is NaN rather than silently finite."""
    bbox, cls, priors = crowd_outputs()
    cls[0, 7, 1] = np.nan
    t = ssd_targets(bbox, cls, priors, [[priors[0]]], [[1]])
    assert np.flatnonzero(t.negative[0]).tolist() == [1, 3, 7]
    assert np.isnan(ssd_loss(bbox, cls, priors, [[priors[0]]], [[1]])[1]["classification"])


# =============================================================================================================
# torchvision: its own SSD.compute_loss (through refloss.adapters.detection.ssd) on the same inputs
# =============================================================================================================

def torchvision_scene(rng, classes=4):
    """A random scene on PRIORS where torchvision's unspecified behaviours do not arise: no IoU within 1e-3 of the
    threshold (float32 IoUs then match float64's decisions), each object's best prior unique by a margin and not
    shared with another object, and 3 x positives <= candidates in each image (so its k needs no clamp)."""
    labels = np.array([[1, 3, -1], [2, -1, -1], [3, 1, 2]])
    while True:
        boxes = random_boxes(rng, 3, 3)
        fine = True
        for n in range(3):
            objects = boxes[n][labels[n] >= 0]
            iou = np.array([[_iou(g, a) for a in PRIORS] for g in objects])
            top = np.sort(iou, axis=1)[:, -2:]
            fine &= np.all(np.abs(iou - 0.5) > 1e-3) and np.all(top[:, 1] - top[:, 0] > 1e-3)
            fine &= len(set(np.argmax(iou, axis=1))) == len(objects)
        if fine:
            break
    bbox = rng.normal(0.0, 1.0, size=(3, len(PRIORS), 4))
    cls = rng.normal(0.0, 1.5, size=(3, len(PRIORS), classes))
    t = ssd_targets(bbox, cls, PRIORS, boxes, labels)
    assert np.all(3 * t.positive.sum(1) <= (~t.positive).sum(1))
    return bbox, cls, PRIORS, boxes, labels


def torchvision_run(inputs, dtype, cotangent, **params):
    torch = pytest.importorskip("torch")
    from refloss.adapters.detection.ssd import ssd_loss as torchvision_ssd_loss

    bbox = torch.tensor(inputs[0], dtype=dtype, requires_grad=True)
    cls = torch.tensor(inputs[1], dtype=dtype, requires_grad=True)
    total, terms = torchvision_ssd_loss(bbox, cls, *inputs[2:], **params)
    projected = cotangent[0] * total + sum(c * terms[name] for c, name in zip(cotangent[1:], TERMS))
    projected.backward()
    values = [float(total.detach())] + [float(terms[name].detach()) for name in TERMS]
    return values, bbox.grad.double().numpy(), cls.grad.double().numpy()


# float64: the same arithmetic up to summation order, ~1e-15; 1e-12 leaves room for the logs of the encoding.
# float32: torchvision rounds every step to float32 (eps 1.2e-7) over sums of ~100 terms; refloss sees the same
# float32-rounded inputs in float64: 2e-5 relative on the terms, 1e-5 absolute on gradients of size ~1.
@pytest.mark.parametrize("dtype_name, rel, atol", [("float64", 1e-12, 1e-14), ("float32", 2e-5, 1e-5)])
@pytest.mark.parametrize("seed, params", [(0, {}), (1, {}), (2, {"neg_to_pos_ratio": 1}),
                                          (3, {"iou_threshold": 0.4, "variances": (0.2, 0.5)})])
def test_agrees_with_torchvision(dtype_name, rel, atol, seed, params):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    inputs = torchvision_scene(np.random.default_rng(seed))
    dtype = getattr(torch, dtype_name)
    if dtype_name == "float32":
        inputs = tuple(np.asarray(x, dtype=np.float32).astype(np.float64) if x.dtype.kind == "f" else x
                       for x in inputs)
    cotangent = np.array([1.0, 0.5, -2.0])
    values, g_box, g_cls = torchvision_run(inputs, dtype, cotangent, **params)
    total, terms = ssd_loss(*inputs, **params)
    assert [float(total)] + [float(terms[n]) for n in TERMS] == pytest.approx(values, rel=rel)
    mine = ssd_loss_vjp(dict(zip(("total",) + TERMS, cotangent)), *inputs, **params)
    assert mine[0] == pytest.approx(g_box, rel=rel, abs=atol)
    assert mine[1] == pytest.approx(g_cls, rel=rel, abs=atol)


def test_agrees_with_torchvision_on_the_hand_scenes_without_its_edge_cases():
    """Every hand scene except those where torchvision's behaviour is unspecified or differs: the crowd (a tie
    at the boundary of the mining; its terms agree, see below) and the few candidates (k unclamped)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    for name, inputs, params, expected in SCENES:
        if name.startswith("crowd") or name == "few candidates":
            continue
        values, _, _ = torchvision_run(inputs, torch.float64, np.array([1.0, 0.0, 0.0]), **params)
        assert values[1:] == [approx(expected[n]) for n in TERMS], name


def test_torchvision_counts_a_positive_twice_when_k_exceeds_the_candidates():
    """Recorded difference: torchvision's k = 3 x positives is not clamped. In the few-candidates scene (one
    positive, one candidate) its ranking reaches the positive (loss set to -inf) and counts its ln(4/3) again:
    ln(4/3) + ln 2 + ln(4/3) = ln(32/9), where refloss gives ln(8/3)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    values, _, g_cls = torchvision_run(few_candidates_scene(), torch.float64, np.array([1.0, 0.0, 0.0]))
    assert values[2] == approx(math.log(32 / 9))
    assert float(ssd_loss(*few_candidates_scene())[1]["classification"]) == approx(math.log(8 / 3))
    # and the positive's logits get twice their gradient: 2 (softmax - e1) = 2 (1/4 - 0, 3/4 - 1)
    assert g_cls[0, 0] == pytest.approx([0.5, -0.5], abs=1e-15)


def test_torchvision_mining_ties_give_the_same_terms():
    """Recorded difference: torchvision's sort leaves the order of equal losses unspecified, so which of the tied
    priors p1, p4, p6 of the crowd it mines is not defined; their losses are equal, so the terms agree whatever
    it picks (only which prior gets the gradient may differ)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    bbox, cls, priors = crowd_outputs()
    inputs = (bbox, cls, priors, np.array([[priors[0]]]), np.array([[1]]))
    values, _, g_cls = torchvision_run(inputs, torch.float64, np.array([1.0, 0.0, 0.0]))
    assert values[1:] == [approx(CROWD[n]) for n in TERMS]
    mined = set(np.flatnonzero(np.any(g_cls[0] != 0, axis=-1)).tolist()) - {0}
    assert 3 in mined and len(mined) == 3 and mined <= {1, 3, 4, 6}


def test_torchvision_shared_best_prior():
    """Recorded difference: when two objects share their best prior, torchvision's scatter ``matches[best] =
    arange(M)`` has duplicate indices, whose winner is unspecified; refloss gives it to the later object
    (ssd.pytorch's loop). On the CPU of this torch version the terms are observed to agree with refloss on the
    two-objects scenes; the test records which object torchvision's CPU scatter picked."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    for name, inputs, params, expected in SCENES:
        if name.startswith("two objects"):
            values, _, _ = torchvision_run(inputs, torch.float64, np.array([1.0, 0.0, 0.0]), **params)
            later_wins = values[1:] == [approx(expected[n]) for n in TERMS]
            assert later_wins, f"{name}: torchvision's CPU scatter no longer lets the later object win"
