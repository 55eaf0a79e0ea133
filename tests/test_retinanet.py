"""RetinaNet's training loss and its target builder: small hand-built scenes whose expected numbers are worked out
in the comments (their provenance), every box loss, the per-term cotangents of the VJP, gradients against
autograd, finite differences and mpmath, bad input, realistic wrong implementations shown to be caught, and
torchvision's own RetinaNet on the same inputs.

The scenes use zero logits wherever they can: sigma(0) = 1/2, so each focal-loss entry is alpha_t (1/2)^2 ln 2,
that is ln 2 / 16 for a target 1 (alpha 1/4) and 3 ln 2 / 16 for a target 0 (1 - alpha = 3/4). With C classes an
anchor's row of C entries sums to
    positive (one target 1):  (1 + 3 (C - 1)) ln 2 / 16,        negative or empty image:  3 C ln 2 / 16.
Boxes are in image units with binary fractions, so that IoUs such as 0.5 and 0.4 are exact in float64.
"""

import math

import mpmath
import numpy as np
import pytest
from autograd import grad as autograd_grad

import refloss
from refloss.boxes.coders import encode_boxes
from refloss.boxes.matching import match_anchors
from refloss.boxes.pairwise import box_iou
from refloss.losses.detectors.retinanet import (TERMS, RetinaNetTargets, retinanet_loss, retinanet_loss_vjp,
                                                retinanet_targets)
from refloss.testing._gradients import Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences

LN2 = math.log(2.0)
EPS = 1e-7  # the IoU losses' eps in torchvision's _box_loss
BOX_LOSSES = ("l1", "smooth_l1", "giou", "diou", "ciou")
SPEC = refloss.registry.get("retinanet_loss")


def positive_row(c):
    return (1 + 3 * (c - 1)) * LN2 / 16


def negative_row(c):
    return 3 * c * LN2 / 16


def approx(value):
    return pytest.approx(value, rel=1e-12, abs=1e-14)


def assert_terms(got, expected):
    total, terms = got
    assert tuple(terms) == TERMS
    for name in TERMS:
        assert float(terms[name]) == approx(expected[name]), name
    assert float(total) == approx(sum(expected.values()))


# =============================================================================================================
# Scene 1: one object, C = 2. Object G = [0, 0, 0.5, 0.5] (area 1/4), label 1.
#   a0 = G itself:                   IoU 1                          -> positive
#   a1 = [0.5, 0.5, 1, 1]:           IoU 0                          -> negative
#   a2 = [0, 0, 0.5, 0.25]:          I = 1/8, U = 1/4, IoU = 0.5    -> positive (>= 0.5 is inclusive)
#   a3 = [0, 0, 0.5, 0.225]:         I = 0.1125, U = 1/4, IoU 0.45  -> ignored (in [0.4, 0.5))
# The ignored anchor's logits (7) and the non-positive anchors' deltas (5) must not enter any term.
# =============================================================================================================

G = [0.0, 0.0, 0.5, 0.5]
ANCHORS_1 = np.array([G, [0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.25], [0.0, 0.0, 0.5, 0.225]])
# a2's target: centre (0.25, 0.125), size (0.5, 0.25) against G's centre (0.25, 0.25), size (0.5, 0.5):
#   t = (0, (0.25 - 0.125) / 0.25, ln(0.5 / 0.5), ln(0.5 / 0.25)) = (0, 0.5, 0, ln 2).
TARGET_A2 = np.array([0.0, 0.5, 0.0, LN2])
DELTAS_A2 = np.array([0.1, 0.2, -0.1, 0.3])  # residual (0.1, -0.3, -0.1, 0.3 - ln 2)


def scene_1(deltas_a2=DELTAS_A2):
    logits = np.zeros((1, 4, 2))
    logits[0, 3] = 7.0
    deltas = np.full((1, 4, 4), 5.0)
    deltas[0, 0] = 0.0
    deltas[0, 2] = deltas_a2
    return logits, deltas, ANCHORS_1, np.array([[G]]), np.array([[1]])


def test_one_object_targets():
    t = retinanet_targets(*scene_1())
    assert isinstance(t, RetinaNetTargets)
    assert t.matches.tolist() == [[0, -1, 0, -2]]
    assert t.positive.tolist() == [[True, False, True, False]]
    assert t.valid.tolist() == [[True, True, True, False]]
    assert t.num_positive.tolist() == [2]
    np.testing.assert_array_equal(t.class_target[0], [[0, 1], [0, 0], [0, 1], [0, 0]])
    np.testing.assert_allclose(t.box_target[0, 2], TARGET_A2, rtol=1e-15, atol=1e-16)
    np.testing.assert_array_equal(t.box_target[0, [0, 1, 3]], 0.0)
    np.testing.assert_array_equal(t.matched_boxes[0, [0, 2]], [G, G])
    np.testing.assert_allclose(t.iou[0, 0], [1.0, 0.0, 0.5, 0.45], rtol=1e-15)


def test_one_object_l1():
    """classification: two positive rows and one negative row (the ignored a3 left out), / K = 2:
    (2 * ln 2 / 4 + 6 ln 2 / 16) / 2 = 7 ln 2 / 16. bbox_regression: a0's deltas equal its target (0); a2's
    |residual| = 0.1 + 0.3 + 0.1 + (ln 2 - 0.3) = 0.2 + ln 2; / 2."""
    assert_terms(retinanet_loss(*scene_1()), {"classification": 7 * LN2 / 16, "bbox_regression": (0.2 + LN2) / 2})


def test_one_object_smooth_l1():
    """Every residual of a2 is below beta = 1: sum of d^2 / 2 = (0.01 + 0.09 + 0.01 + (0.3 - ln 2)^2) / 2; / 2.
    With beta = 0.11 (Detectron's), 0.1 is inside (0.1^2 / 0.22) twice, 0.3 and ln 2 - 0.3 outside (|d| - 0.055)."""
    expected = (0.11 + (0.3 - LN2) ** 2) / 2 / 2
    assert float(retinanet_loss(*scene_1(), box_loss="smooth_l1")[1]["bbox_regression"]) == approx(expected)
    small = (2 * 0.01 / 0.22 + (0.3 - 0.055) + (LN2 - 0.3 - 0.055)) / 2
    assert float(retinanet_loss(*scene_1(), box_loss="smooth_l1", beta=0.11)[1]["bbox_regression"]) == approx(small)


def iou_losses_of_a2():
    """The zero deltas of a0 and a2 decode to the anchors themselves. a0 = G: IoU 1/4 / (1/4 + eps), no penalty,
    v = 0. a2 = [0, 0, 0.5, 0.25] against G: I = 1/8, U = 1/4, the enclosing box is G (GIoU penalty 0); centres
    (0.25, 0.125) and (0.25, 0.25): rho^2 = 1/64, c^2 = 1/4 + 1/4: DIoU penalty (1/64) / (1/2 + eps); aspect
    v = 4 / pi^2 (atan(1) - atan(2))^2, alpha = v / (1 - IoU + v + eps)."""
    iou0, iou2 = 0.25 / (0.25 + EPS), 0.125 / (0.25 + EPS)
    v = 4 / math.pi**2 * (math.atan(1.0) - math.atan(2.0)) ** 2
    alpha = v / (1 - iou2 + v + EPS)
    giou = (1 - iou0) + (1 - iou2 + (0.25 - 0.25) / (0.25 + EPS))
    diou = (1 - iou0) + (1 - iou2 + (1 / 64) / (0.5 + EPS))
    return {"giou": giou / 2, "diou": diou / 2, "ciou": diou / 2 + alpha * v / 2}


@pytest.mark.parametrize("box_loss", ["giou", "diou", "ciou"])
def test_one_object_iou_losses(box_loss):
    got = retinanet_loss(*scene_1(deltas_a2=np.zeros(4)), box_loss=box_loss)
    assert_terms(got, {"classification": 7 * LN2 / 16, "bbox_regression": iou_losses_of_a2()[box_loss]})


# =============================================================================================================
# Scene 2: two objects competing for one anchor, C = 3. P = [0, 0, 0.5, 0.5] (label 0), Q = [0, 0.25, 0.5, 0.75]
# (label 2). Anchors: P, Q, S = [0, 0.125, 0.5, 0.625] (y-overlap 0.375 with each: I = 3/16, U = 5/16, IoU 0.6
# with both: a tie, which goes to the lower row) and T = [0, 0.1875, 0.5, 0.6875] (I = 5/32 with P: IoU
# 5/32 / 11/32 = 0.4545; I = 7/32 with Q: IoU 7/9 = 0.778: Q wins).
# =============================================================================================================

P, Q = [0.0, 0.0, 0.5, 0.5], [0.0, 0.25, 0.5, 0.75]
ANCHORS_2 = np.array([P, Q, [0.0, 0.125, 0.5, 0.625], [0.0, 0.1875, 0.5, 0.6875]])


def scene_2(swap=False):
    boxes, labels = ([[Q, P]], [[2, 0]]) if swap else ([[P, Q]], [[0, 2]])
    return np.zeros((1, 4, 3)), np.zeros((1, 4, 4)), ANCHORS_2, np.array(boxes), np.array(labels)


def test_two_objects_competing_for_one_anchor():
    t = retinanet_targets(*scene_2())
    assert t.matches.tolist() == [[0, 1, 0, 1]]  # S ties and goes to row 0 (P); T goes to Q
    assert t.class_target[0, 2].tolist() == [1, 0, 0] and t.class_target[0, 3].tolist() == [0, 0, 1]
    # rows swapped: the tie now goes to Q (row 0), T still to Q (row 0)
    assert retinanet_targets(*scene_2(swap=True)).matches.tolist() == [[1, 0, 0, 0]]
    # S's box target is relative to P: centre (0.25, 0.375) -> (0.25, 0.25), same size: (0, -0.25, 0, 0)
    np.testing.assert_allclose(t.box_target[0, 2], [0, -0.25, 0, 0], atol=1e-16)


def test_two_objects_terms():
    """Four positives, C = 3: classification 4 (1 + 6) ln 2 / 16 / 4 = 7 ln 2 / 16. Zero deltas, L1: the
    targets of S (0, -0.25, 0, 0) and of T relative to Q (centre 0.4375 -> 0.5, height 0.5 = Q's:
    (0, 0.0625 / 0.5, 0, 0)): (0.25 + 0.125) / 4."""
    assert_terms(retinanet_loss(*scene_2()), {"classification": 7 * LN2 / 16, "bbox_regression": 0.375 / 4})


# =============================================================================================================
# Scene 3: an image with no objects (every row padding): every anchor a negative, K = 1, no box term.
# =============================================================================================================

def scene_3():
    rng = np.random.default_rng(3)
    return np.zeros((1, 4, 2)), rng.normal(size=(1, 4, 4)), ANCHORS_1, np.zeros((1, 2, 4)), np.array([[-1, -1]])


def test_image_without_objects():
    """4 negative rows of C = 2: 4 * 6 ln 2 / 16 = 1.5 ln 2, divided by max(1, 0) = 1."""
    t = retinanet_targets(*scene_3())
    assert t.matches.tolist() == [[-1, -1, -1, -1]] and t.num_positive.tolist() == [0]
    assert_terms(retinanet_loss(*scene_3()), {"classification": 1.5 * LN2, "bbox_regression": 0.0})
    grad_cls, grad_box, *_ = retinanet_loss_vjp(1.0, *scene_3())
    np.testing.assert_array_equal(grad_box, 0.0)
    # d FL / dx at x = 0, y = 0: (1 - alpha) [(1/2)^2 (1/2) + 2 (1/2)(1/2)(1/2) ln 2]  (F4 with q = p = 1/2)
    np.testing.assert_allclose(grad_cls, 0.75 * (0.125 + 0.25 * LN2), rtol=1e-14)


# =============================================================================================================
# Scene 4: the ignore band's edges. Object E = [0, 0, 0.75, 0.5] (area 3/8). Anchor U = [0, 0, 0.75, 1.25]
# contains E: I = 3/8, U = 15/16: IoU = 0.4 exactly (0.375 / 0.9375 rounds to the double 0.4): ignored (>= low).
# Anchor E itself: IoU 1, the object's best anchor.
# =============================================================================================================

def test_ignore_band_is_inclusive_below_and_exclusive_above():
    anchors = np.array([[0.0, 0.0, 0.75, 0.5], [0.0, 0.0, 0.75, 1.25]])
    t = retinanet_targets(np.zeros((1, 2, 1)), np.zeros((1, 2, 4)), anchors, np.array([[[0, 0, 0.75, 0.5]]]),
                          np.array([[0]]))
    assert t.iou[0, 0, 1] == 0.4
    assert t.matches.tolist() == [[0, -2]]
    # and scene 1's a2 at IoU exactly 0.5 is a positive (test_one_object_targets)


# =============================================================================================================
# Scene 5: low-quality matches. Object L = [0, 0, 0.25, 0.25] (area 1/16); anchors B1 = [0, 0, 0.5, 0.5] (IoU
# 1/16 / 1/4 = 0.25), B2 = [0, 0, 0.25, 1] (IoU 0.25 too: a tie), B3 = [0, 0, 0.5, 1] (IoU 0.125),
# B4 = [0.5, 0.5, 1, 1] (IoU 0). L's best IoU 0.25 is below 0.4, yet B1 and B2 (both, ties included) are restored
# as its positives.
# =============================================================================================================

L = [0.0, 0.0, 0.25, 0.25]
ANCHORS_5 = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.25, 1.0], [0.0, 0.0, 0.5, 1.0], [0.5, 0.5, 1.0, 1.0]])


def scene_5():
    return np.zeros((1, 4, 2)), np.zeros((1, 4, 4)), ANCHORS_5, np.array([[L]]), np.array([[0]])


def test_low_quality_match_restores_every_best_anchor():
    """classification: two positive rows, two negatives: (2 * 4 + 2 * 6) ln 2 / 16 / 2 = 5 ln 2 / 8.
    bbox_regression (zero deltas): B1 -> L: centre 0.25 -> 0.125 over width 0.5: (-0.25, -0.25, ln 1/2, ln 1/2),
    |.| = 0.5 + 2 ln 2; B2 -> L: (0, (0.125 - 0.5) / 1, 0, ln 1/4): 0.375 + 2 ln 2; / 2."""
    t = retinanet_targets(*scene_5())
    assert t.matches.tolist() == [[0, 0, -1, -1]]
    assert_terms(retinanet_loss(*scene_5()), {"classification": 5 * LN2 / 8,
                                              "bbox_regression": (0.875 + 4 * LN2) / 2})


def test_low_quality_match_takes_the_anchors_own_best_object():
    """Big object W = [0, 0, 0.5, 1] (area 1/2, row 0) and small L (row 1). Anchor X = [0, 0, 0.5, 0.375] (area
    3/16): with W, I = 3/16, U = 1/2: IoU 0.375 (below 0.4, a negative by the thresholds); with L, I = 1/16,
    U = 3/16: IoU 1/3, L's largest (the anchor equal to W has 1/8 with L, the third anchor 0). L claims X, but X
    is restored to its own best object, W (0.375 > 1/3), not to L: L ends up with no positive at all."""
    anchors = np.array([[0.0, 0.0, 0.5, 0.375], [0.5, 0.0, 1.0, 1.0], [0.0, 0.0, 0.5, 1.0]])
    boxes = np.array([[[0.0, 0.0, 0.5, 1.0], L]])
    t = retinanet_targets(np.zeros((1, 3, 2)), np.zeros((1, 3, 4)), anchors, boxes, np.array([[0, 1]]))
    np.testing.assert_allclose(t.iou[0, :, 0], [0.375, 1 / 3], rtol=1e-15)
    assert t.matches.tolist() == [[0, -1, 0]]  # X -> W (restored), the anchor equal to W -> W


def test_an_object_overlapping_no_anchor_promotes_every_zero_iou_anchor():
    """torchvision's degenerate case, reproduced: object F = [0.75, 0.75, 1, 1] overlaps none of the anchors, so
    its largest IoU is 0 and every anchor with IoU 0 to it is "one of its best". Each is restored to its own
    best object: anchor 0 (= P, IoU 1 with P) stays P's; anchor 1 ([0.5, 0, 0.75, 0.5], IoU 0 with both) becomes
    a positive of row 0 (the argmax of an all-zero column); anchor 2 ([0, 0, 0.5, 0.225], IoU 0.45 with P, in
    the ignore band) becomes a positive of P. Every anchor is positive."""
    anchors = np.array([P, [0.5, 0.0, 0.75, 0.5], [0.0, 0.0, 0.5, 0.225]])
    boxes = np.array([[P, [0.75, 0.75, 1.0, 1.0]]])
    t = retinanet_targets(np.zeros((1, 3, 2)), np.zeros((1, 3, 4)), anchors, boxes, np.array([[0, 1]]))
    assert t.matches.tolist() == [[0, 0, 0]]
    # with the far object first, the all-zero anchor goes to row 0, now F; a padding row first is skipped
    swapped = retinanet_targets(np.zeros((1, 3, 2)), np.zeros((1, 3, 4)), anchors, boxes[:, ::-1],
                                np.array([[1, 0]]))
    assert swapped.matches.tolist() == [[1, 0, 1]]
    padded = retinanet_targets(np.zeros((1, 3, 2)), np.zeros((1, 3, 4)), anchors,
                               np.array([[[0.0] * 4, P, [0.75, 0.75, 1.0, 1.0]]]), np.array([[-1, 0, 1]]))
    assert padded.matches.tolist() == [[1, 1, 1]]


# =============================================================================================================
# Scene 6: a mixed batch: scene 1, scene 3 (no objects, anchors shared: scene 1's) and scene 5's low-quality
# object moved onto scene 1's anchors. Each image is normalised by its own positives, then the images averaged.
# =============================================================================================================

def scene_6():
    l1, d1, _, b1, y1 = scene_1()
    l3, d3, _, _, _ = scene_3()
    # image 2: object [0.5, 0.5, 0.75, 0.75] against scene 1's anchors: only a1 overlaps (IoU 1/16 / 1/4 = 0.25):
    # a low-quality positive; target from a1 (centre 0.75, size 0.5): (-0.25, -0.25, ln 1/2, ln 1/2)
    l5, d5 = np.zeros((1, 4, 2)), np.zeros((1, 4, 4))
    boxes = np.array([[G, [0.0] * 4], [[0.0] * 4, [0.0] * 4], [[0.0] * 4, [0.5, 0.5, 0.75, 0.75]]])
    labels = np.array([[1, -1], [-1, -1], [-1, 0]])
    return (np.concatenate([l1, l3, l5]), np.concatenate([d1, d3, d5]), ANCHORS_1, boxes, labels)


CLS_6 = (7 * LN2 / 16, 1.5 * LN2, (4 + 3 * 6) * LN2 / 16)  # image 2: one positive row, three negatives, K = 1
BOX_6 = ((0.2 + LN2) / 2, 0.0, 0.5 + 2 * LN2)


def test_mixed_batch():
    t = retinanet_targets(*scene_6())
    assert t.matches.tolist() == [[0, -1, 0, -2], [-1, -1, -1, -1], [-1, 1, -1, -1]]
    assert t.num_positive.tolist() == [2, 0, 1]
    assert_terms(retinanet_loss(*scene_6()), {"classification": sum(CLS_6) / 3, "bbox_regression": sum(BOX_6) / 3})


# =============================================================================================================
# Settings
# =============================================================================================================

def test_alpha_and_gamma():
    """Scene 1 (logits 0, the ignored row left out) with alpha disabled: every entry ln 2 / 4, 6 entries / 2 =
    3 ln 2 / 4; gamma = 0 (alpha 0.25): the alpha-weighted BCE ln 2 per entry: (2 (1/4 + 3/4) + 2 (3/4)) ln 2 / 2."""
    assert float(retinanet_loss(*scene_1(), alpha=None)[1]["classification"]) == approx(0.75 * LN2)
    assert float(retinanet_loss(*scene_1(), alpha=-1)[1]["classification"]) == approx(0.75 * LN2)
    assert float(retinanet_loss(*scene_1(), gamma=0.0)[1]["classification"]) == approx(1.75 * LN2)


def test_thresholds_move_the_band():
    """fg 0.45: a3 (IoU 0.45) becomes a positive; bg 0.46 = fg 0.46 (no band): a3 a negative."""
    assert retinanet_targets(*scene_1(), fg_iou_thresh=0.45).matches.tolist() == [[0, -1, 0, 0]]
    assert retinanet_targets(*scene_1(), fg_iou_thresh=0.46, bg_iou_thresh=0.46).matches.tolist() == [[0, -1, 0, -1]]


def test_weights_scale_the_targets():
    """weights (10, 10, 5, 5): a2's target (0, 5, 0, 5 ln 2)."""
    t = retinanet_targets(*scene_1(), weights=(10, 10, 5, 5))
    np.testing.assert_allclose(t.box_target[0, 2], [0, 5, 0, 5 * LN2], rtol=1e-15, atol=1e-16)


# =============================================================================================================
# The VJP: per-term cotangents, autograd, finite differences, mpmath
# =============================================================================================================

def random_scene(seed, images=3, classes=2):
    """Shared anchors: a 3 x 3 grid of cells of a third of the image, and two jittered copies of every object of
    the batch (so that there are positives, ignored anchors and negatives); objects inside the image; logits and
    deltas of moderate size."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.25, 0.75, size=(images, 2, 2))
    sizes = rng.uniform(0.2, 0.4, size=(images, 2, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=-1)
    labels = rng.integers(0, classes, size=(images, 2))
    labels[0, 1] = -1  # a padding row
    if images > 1:
        labels[1] = -1  # an image without objects
    cells = np.array([[x, y, x + 1 / 3, y + 1 / 3] for x in (0, 1 / 3, 2 / 3) for y in (0, 1 / 3, 2 / 3)])
    objects = boxes[labels >= 0].repeat(2, axis=0)
    jittered = objects + rng.uniform(-0.07, 0.07, size=objects.shape)
    anchors = np.concatenate([cells, jittered])
    logits = rng.normal(0.0, 1.5, size=(images, len(anchors), classes))
    deltas = rng.normal(0.0, 0.3, size=(images, len(anchors), 4))
    return logits, deltas, anchors, boxes, labels


def case_of(scene, params, seed=0):
    rng = np.random.default_rng(seed + 100)
    return Case(inputs=scene, params=params, reduction=None, grad_output=rng.normal(size=3))


PARAMS = [{"box_loss": b} for b in BOX_LOSSES] + [
    {"box_loss": "smooth_l1", "beta": 0.11}, {"alpha": None, "gamma": 0.5}, {"gamma": 0.0, "alpha": 0.6},
    {"box_loss": "giou", "weights": (10.0, 10.0, 5.0, 5.0)}, {"fg_iou_thresh": 0.6, "bg_iou_thresh": 0.3}]


def test_random_scenes_have_every_kind_of_anchor():
    """Together, the random scenes of the gradient checks have positives, ignored anchors and negatives, and
    an image without objects."""
    kinds = set()
    for params in PARAMS:
        t = retinanet_targets(*random_scene(len(str(params))))
        kinds |= {"positive"} if t.positive.any() else set()
        kinds |= {"ignored"} if (t.matches == -2).any() else set()
        kinds |= {"negative"} if (t.matches == -1).any() else set()
        assert t.num_positive[1] == 0
    assert kinds == {"positive", "ignored", "negative"}


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_vjp_against_autograd_and_finite_differences(params):
    case = case_of(random_scene(len(str(params))), params)
    held = SPEC.held_forward(*case.inputs, **params)
    assert_vjp_matches_autograd(SPEC, case)
    assert_vjp_matches_autograd(SPEC, case, forward=held)
    assert_vjp_matches_finite_differences(SPEC, case)


@pytest.mark.parametrize("scene", [scene_1, scene_2, scene_5, scene_6])
@pytest.mark.parametrize("box_loss", BOX_LOSSES)
def test_vjp_on_the_hand_scenes(scene, box_loss):
    inputs = list(scene())
    inputs[1] = inputs[1] + np.random.default_rng(7).normal(0.0, 0.2, size=inputs[1].shape)  # off the L1 kinks
    assert_vjp_matches_autograd(SPEC, case_of(tuple(inputs), {"box_loss": box_loss}))


@pytest.mark.filterwarnings("ignore:Output seems independent of input")  # each term depends on one output only
@pytest.mark.parametrize("term", TERMS)
@pytest.mark.parametrize("box_loss", BOX_LOSSES)
def test_vjp_of_one_term_is_the_gradient_of_that_term(term, box_loss):
    logits, deltas, *rest = random_scene(5)
    for position, value in enumerate((logits, deltas)):
        def term_of(x, position=position):
            inputs = [logits, deltas, *rest]
            inputs[position] = x
            return retinanet_loss(*inputs, box_loss=box_loss)[1][term]
        expected = autograd_grad(term_of)(value)
        got = retinanet_loss_vjp({term: -2.5}, logits, deltas, *rest, box_loss=box_loss)[position]
        np.testing.assert_allclose(got, -2.5 * expected, rtol=1e-12, atol=1e-15)


def test_vjp_cotangents_scalar_total_and_terms():
    inputs = random_scene(6)

    def vjp(g):
        return retinanet_loss_vjp(g, *inputs)[:2]

    for a, b in zip(vjp(0.7), vjp({"total": 0.7})):
        np.testing.assert_array_equal(a, b)
    for a, b, c in zip(vjp({"classification": 0.7}), vjp({"bbox_regression": 0.7}), vjp(0.7)):
        np.testing.assert_allclose(a + b, c, rtol=1e-15)
    for a, b in zip(vjp({"total": 1.0, "bbox_regression": 2.0}), zip(vjp(1.0), vjp({"bbox_regression": 1.0}))):
        np.testing.assert_allclose(a, b[0] + 2 * b[1], rtol=1e-14)
    assert retinanet_loss_vjp(1.0, *inputs)[2:] == (None, None, None)
    # the classification cotangent reaches only logits, the box cotangent only deltas
    assert not np.any(vjp({"classification": 1.0})[1]) and not np.any(vjp({"bbox_regression": 1.0})[0])


def test_gradient_zero_where_nothing_enters():
    """Scene 1: the ignored a3's logits and every non-positive anchor's deltas have gradient 0."""
    grad_cls, grad_box, *_ = retinanet_loss_vjp(1.0, *scene_1())
    np.testing.assert_array_equal(grad_cls[0, 3], 0.0)
    np.testing.assert_array_equal(grad_box[0, [1, 3]], 0.0)
    assert np.all(grad_cls[0, :3] != 0) and np.all(grad_box[0, 2] != 0)


def test_positive_logit_gradient_against_mpmath():
    """The textbook focal loss -alpha (1 - p)^gamma log p of scene 1's positive a2, column 1, at logit x = 0.3,
    differentiated by mpmath at 30 digits and divided by N K = 2."""
    logits, *rest = scene_1()
    logits = logits.copy()
    logits[0, 2, 1] = 0.3
    mpmath.mp.dps = 30

    def focal(x):
        p = 1 / (1 + mpmath.exp(-x))
        return -mpmath.mpf("0.25") * (1 - p) ** 2 * mpmath.log(p)

    expected = float(mpmath.diff(focal, mpmath.mpf("0.3")) / 2)
    assert retinanet_loss_vjp(1.0, logits, *rest)[0][0, 2, 1] == pytest.approx(expected, rel=1e-13)


def test_decoder_clamp_stops_the_size_gradient():
    """GIoU: a2's width delta beyond ln(1000/16) is clamped when decoding: its gradient is 0 (and a2's other
    height deltas keep theirs; its x-centre delta has none either: the 31-wide box contains G and is its own
    enclosing box in x wherever it moves a little); just below the clamp it is not 0."""
    beyond = scene_1(deltas_a2=np.array([0.0, 0.0, 4.2, 0.0]))
    grad_box = retinanet_loss_vjp(1.0, *beyond, box_loss="giou")[1]
    assert grad_box[0, 2, 2] == 0.0 and grad_box[0, 2, 1] != 0.0 and grad_box[0, 2, 3] != 0.0
    below = scene_1(deltas_a2=np.array([0.0, 0.0, 4.1, 0.0]))
    assert retinanet_loss_vjp(1.0, *below, box_loss="giou")[1][0, 2, 2] != 0.0
    assert_vjp_matches_autograd(SPEC, case_of(beyond, {"box_loss": "giou"}))


def test_registry_record():
    assert SPEC.kind == "detector" and SPEC.family == "detectors" and SPEC.terms == TERMS
    assert SPEC.param("box_loss").choices == BOX_LOSSES
    assert any("1708.02002" in r.url for r in SPEC.references)
    assert SPEC.held_forward is not None and SPEC.stop_gradients


# =============================================================================================================
# Bad input
# =============================================================================================================

def call(**changes):
    inputs = dict(zip(("cls_logits", "bbox_regression", "anchors", "boxes", "labels"), scene_1()))
    params = {k: changes.pop(k) for k in list(changes) if k not in inputs}
    inputs.update(changes)
    return retinanet_loss(*inputs.values(), **params)


@pytest.mark.parametrize("changes, error, match", [
    (dict(boxes=[[[0.1, 0.1, 1.2, 0.3]]]), ValueError, r"boxes\[0, 0\] = .* lies outside the image"),
    (dict(boxes=[[[-0.1, 0.1, 0.3, 0.3]]]), ValueError, r"outside the image"),
    (dict(boxes=[[[0.4, 0.1, 0.1, 0.3]]]), ValueError, r"not a valid box in xyxy: x2 < x1"),
    (dict(boxes=[[[0.1, 0.1, 0.1, 0.3]]]), ValueError, r"zero width or height: its box target"),
    (dict(labels=[[2]]), ValueError, r"labels\[0, 0\] = 2 is outside \[0, 2\)"),
    (dict(labels=[[1.0]]), TypeError, r"labels must hold integer class ids"),
    (dict(anchors=ANCHORS_1[:3]), ValueError, r"anchors must have shape \(A, 4\) with A = 4"),
    (dict(anchors=[[0, 0, 0.5, 0.5], [0.5, 0.5, 0.4, 1], [0, 0, 1, 1], [0, 0, 1, 1]]), ValueError,
     r"anchors\[1\] .* x2 < x1"),
    (dict(anchors=[[0, 0, 0.5, 0.5], [0.5, 0.5, 0.5, 1], [0, 0, 1, 1], [0, 0, 1, 1]]), ValueError,
     r"anchors\[1\] = .* has zero width"),
    (dict(bbox_regression=np.zeros((1, 3, 4))), ValueError, r"bbox_regression must have shape \(N, A, 4\) = "
                                                            r"\(1, 4, 4\)"),
    (dict(bbox_regression=np.zeros((1, 4, 5))), ValueError, r"bbox_regression must have shape \(N, A, 4\)"),
    (dict(cls_logits=np.zeros((4, 2))), ValueError, r"cls_logits must have shape \(N, A, C\)"),
    (dict(cls_logits=np.zeros((0, 4, 2)), bbox_regression=np.zeros((0, 4, 4)), boxes=np.zeros((0, 1, 4)),
          labels=np.zeros((0, 1), dtype=int)), ValueError, r"no images \(N = 0\)"),
    (dict(boxes=[[G], [G]], labels=[[1], [1]]), ValueError, r"boxes must have shape .* N = 1 images"),
    (dict(box_loss="iou"), ValueError, r"box_loss must be one of 'l1', 'smooth_l1', 'giou', 'diou', 'ciou'"),
    (dict(fg_iou_thresh=0.3), ValueError, r"bg_iou_thresh \(0.4\) must not exceed fg_iou_thresh \(0.3\)"),
    (dict(fg_iou_thresh=1.5), ValueError, r"fg_iou_thresh must be in \[0, 1\]"),
    (dict(gamma=-1.0), ValueError, r"gamma must be in"),
    (dict(beta=-1.0), ValueError, r"beta must be in"),
    (dict(weights=(1, 1, 0, 1)), ValueError, r"weights must be 4 positive finite numbers"),
])
def test_bad_input(changes, error, match):
    with pytest.raises(error, match=match):
        call(**changes)


def test_no_anchors():
    with pytest.raises(ValueError, match=r"no anchors \(A = 0\)"):
        retinanet_loss(np.zeros((1, 0, 2)), np.zeros((1, 0, 4)), np.zeros((0, 4)), [[G]], [[0]])


def test_bad_grad_output():
    with pytest.raises(ValueError, match="grad_output names unknown outputs"):
        retinanet_loss_vjp({"box_reg": 1.0}, *scene_1())
    with pytest.raises(ValueError, match="grad_output must be a real scalar"):
        retinanet_loss_vjp(np.ones(3), *scene_1())


# =============================================================================================================
# Realistic wrong implementations, each caught. An independent loop-per-image reimplementation of torchvision's
# compute_loss with switches for the bugs: with every switch off it equals refloss; each switch changes a
# hand-derived number above.
# =============================================================================================================

def textbook(logits, deltas, anchors, boxes, labels, *, per_image=True, ignored_in_focal=False, alpha_on=1,
             low_quality=True):
    images, _, classes = logits.shape
    cls, box, positives = [], [], []
    for n in range(images):
        real = labels[n] >= 0
        objects, object_labels = boxes[n][real], labels[n][real]
        if len(objects):
            matches = match_anchors(box_iou(objects, anchors), high_threshold=0.5, low_threshold=0.4,
                                    allow_low_quality_matches=low_quality)
        else:
            matches = np.full(len(anchors), -1)
        target = np.zeros((len(anchors), classes))
        target[matches >= 0, object_labels[matches[matches >= 0]]] = 1.0
        keep = np.ones(len(anchors), bool) if ignored_in_focal else matches != -2
        p = 1 / (1 + np.exp(-logits[n][keep]))
        y = target[keep]
        weight = np.where(y == alpha_on, 0.25, 0.75)  # alpha on the target-1 entries (alpha_on=0: on the others)
        focal = -weight * np.where(y == 1, (1 - p) ** 2 * np.log(p), p**2 * np.log(1 - p))
        pos = matches >= 0
        code = encode_boxes(objects[matches[pos]], anchors[pos]) if pos.any() else np.zeros((0, 4))
        cls.append(focal.sum())
        box.append(np.abs(deltas[n][pos] - code).sum())
        positives.append(pos.sum())
    if per_image:
        return (sum(c / max(1, k) for c, k in zip(cls, positives)) / images,
                sum(b / max(1, k) for b, k in zip(box, positives)) / images)
    total = max(1, sum(positives))  # detectron2 / mmdet: the positives of the whole batch
    return sum(cls) / total, sum(box) / total


@pytest.mark.parametrize("seed", range(3))
def test_textbook_loop_equals_refloss(seed):
    scene = random_scene(seed)
    terms = retinanet_loss(*scene)[1]
    np.testing.assert_allclose(textbook(*scene), [terms["classification"], terms["bbox_regression"]], rtol=1e-12)
    np.testing.assert_allclose(textbook(*scene_6()), [sum(CLS_6) / 3, sum(BOX_6) / 3], rtol=1e-12)


@pytest.mark.parametrize("bug, scene, hand", [
    # batch normalisation: (7/8 + 3/2 + 22/16) ln 2 / 3 positives... differs from the per-image mean
    ({"per_image": False}, scene_6, (sum(CLS_6) / 3, sum(BOX_6) / 3)),
    # the ignored a3 (logits 7) in the focal sum: adds 0.75 * sigma(7)^2 * 7.0009 * 2 / 2
    ({"ignored_in_focal": True}, scene_1, (7 * LN2 / 16, (0.2 + LN2) / 2)),
    # alpha on the negatives' entries: a positive row becomes (3 + (C - 1)) ln 2 / 16
    ({"alpha_on": 0}, scene_1, (7 * LN2 / 16, (0.2 + LN2) / 2)),
    # low-quality matches disabled: scene 5's L has no positive at all
    ({"low_quality": False}, scene_5, (5 * LN2 / 8, (0.875 + 4 * LN2) / 2)),
])
def test_wrong_implementations_are_caught(bug, scene, hand):
    np.testing.assert_allclose(textbook(*scene()), hand, rtol=1e-12)  # the right one gives the hand numbers
    assert not np.allclose(textbook(*scene(), **bug), hand, rtol=1e-6)


def batch_normalised_vjp(grad_output, *inputs, **params):
    """A VJP dividing by the batch's positives (detectron2's normaliser) instead of each image's."""
    grads = retinanet_loss_vjp(grad_output, *inputs, **params)
    t = retinanet_targets(*inputs, **params)
    scale = (len(t.num_positive) * np.maximum(1, t.num_positive) / max(1, t.num_positive.sum()))[:, None, None]
    return (grads[0] * scale, grads[1] * scale) + grads[2:]


def unclamped_decoder_vjp(grad_output, *inputs, **params):
    """The IoU losses' VJP through a decoder without the clamp's zero (the size gradient kept beyond it)."""
    grads = retinanet_loss_vjp(grad_output, *inputs, **params)
    unclamped = retinanet_loss_vjp(grad_output, inputs[0], inputs[1] * np.array([1, 1, 0, 0]), *inputs[2:],
                                   **params)[1]
    box = grads[1].copy()
    beyond = inputs[1][..., 2:] >= math.log(1000 / 16)
    box[..., 2:] = np.where(beyond, unclamped[..., 2:], box[..., 2:])
    return (grads[0], box) + grads[2:]


def test_wrong_vjps_are_caught():
    case = case_of(random_scene(2), {})
    with pytest.raises(AssertionError, match="differs from autograd"):
        assert_vjp_matches_autograd(SPEC, case, vjp=batch_normalised_vjp)
    deltas = scene_1(deltas_a2=np.array([0.0, 0.0, 4.5, 0.0]))
    case = case_of(deltas, {"box_loss": "giou"})
    assert_vjp_matches_autograd(SPEC, case)
    with pytest.raises(AssertionError, match="differs from autograd"):
        assert_vjp_matches_autograd(SPEC, case, vjp=unclamped_decoder_vjp)


# =============================================================================================================
# torchvision's own RetinaNet (its Matcher, BoxCoder, sigmoid_focal_loss and _box_loss) on the same inputs
# =============================================================================================================

def torchvision_terms(scene, dtype, **params):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from refloss.adapters.detection.retinanet import retinanet_loss as torchvision_loss

    logits = torch.tensor(scene[0], dtype=dtype, requires_grad=True)
    deltas = torch.tensor(scene[1], dtype=dtype, requires_grad=True)
    total, terms = torchvision_loss(logits, deltas, torch.tensor(scene[2], dtype=dtype),
                                    torch.tensor(scene[3], dtype=dtype), torch.tensor(scene[4]), **params)
    total.backward()
    values = {name: float(terms[name].detach()) for name in TERMS}
    return values, logits.grad.double().numpy(), deltas.grad.double().numpy()


SCENES = {"one_object": scene_1, "two_objects": scene_2, "no_objects": scene_3, "low_quality": scene_5,
          "mixed": scene_6, "random0": lambda: random_scene(0), "random1": lambda: random_scene(1, images=2)}
TOLERANCE = {"float64": (1e-12, 1e-14), "float32": (2e-6, 1e-6)}  # measured: 3e-16; 3e-7 (float32 rounding)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("box_loss", BOX_LOSSES)
@pytest.mark.parametrize("name", SCENES)
def test_torchvision_agrees(name, box_loss, dtype):
    torch = pytest.importorskip("torch")
    scene = SCENES[name]()
    rtol, atol = TOLERANCE[dtype]
    if dtype == "float32":  # torchvision matches in float32: these scenes match alike at float32-rounded boxes
        rounded = [np.asarray(x, dtype=np.float32).astype(np.float64) for x in scene[2:4]]
        assert np.array_equal(retinanet_targets(*scene[:2], *rounded, scene[4]).matches,
                              retinanet_targets(*scene).matches)
    values, grad_cls, grad_box = torchvision_terms(scene, getattr(torch, dtype), box_loss=box_loss)
    total, terms = retinanet_loss(*scene, box_loss=box_loss)
    ours = retinanet_loss_vjp(1.0, *scene, box_loss=box_loss)
    for term in TERMS:
        assert values[term] == pytest.approx(float(terms[term]), rel=rtol, abs=atol), term
    np.testing.assert_allclose(grad_cls, ours[0], rtol=rtol, atol=atol)
    np.testing.assert_allclose(grad_box, ours[1], rtol=rtol, atol=atol)


def test_torchvision_degenerate_object_agrees():
    """The object overlapping no anchor: torchvision's Matcher promotes the same anchors (every one positive)."""
    anchors = np.array([P, [0.5, 0.0, 0.75, 0.5], [0.0, 0.0, 0.5, 0.225]])
    scene = (np.random.default_rng(1).normal(size=(1, 3, 2)), np.zeros((1, 3, 4)), anchors,
             np.array([[P, [0.75, 0.75, 1.0, 1.0]]]), np.array([[0, 1]]))
    torch = pytest.importorskip("torch")
    values, grad_cls, _ = torchvision_terms(scene, torch.float64)
    np.testing.assert_allclose([values[t] for t in TERMS], [float(v) for v in retinanet_loss(*scene)[1].values()],
                               rtol=1e-12)
    np.testing.assert_allclose(grad_cls, retinanet_loss_vjp(1.0, *scene)[0], rtol=1e-12, atol=1e-15)


def test_difference_float32_matching_near_a_threshold():
    """Recorded difference: refloss matches in float64 whatever the head outputs' dtype; torchvision in the
    boxes' dtype. An anchor [0, 0, 0.5, 0.25 - 1e-9] has IoU 0.5 - 2e-9 with G in float64 (ignored); in float32
    its corner rounds to 0.25 and the IoU to 0.5 (a positive)."""
    torch = pytest.importorskip("torch")
    anchors = np.array([G, [0.0, 0.0, 0.5, 0.25 - 1e-9]])
    scene = (np.zeros((1, 2, 1)), np.zeros((1, 2, 4)), anchors, np.array([[G]]), np.array([[0]]))
    assert retinanet_targets(*scene).matches.tolist() == [[0, -2]]
    values64 = torchvision_terms(scene, torch.float64)[0]
    values32 = torchvision_terms(scene, torch.float32)[0]
    # float64: 1 positive row (ln 2 / 16), the ignored one left out; float32: 2 positives / 2
    assert values64["classification"] == pytest.approx(LN2 / 16, rel=1e-12)
    assert values32["classification"] == pytest.approx(LN2 / 16, rel=1e-6)  # (2 ln 2 / 16) / 2
    assert values32["bbox_regression"] > 0 and values64["bbox_regression"] == 0.0


def test_difference_settings_torchvision_fixes():
    """Recorded difference: torchvision's RetinaNet fixes alpha = 0.25, gamma = 2 and Smooth L1's beta = 1 (its
    heads call sigmoid_focal_loss and _box_loss without them); the adapter refuses other values."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="fixes alpha=0.25, gamma=2.0"):
        torchvision_terms(scene_1(), torch.float64, gamma=0.5)
    with pytest.raises(ValueError, match="beta=1.0 only"):
        torchvision_terms(scene_1(), torch.float64, box_loss="smooth_l1", beta=0.11)


def test_difference_bad_input_torchvision_does_not_refuse():
    """Recorded difference: torchvision's compute_loss does not check labels against C (an IndexError from the
    scatter into the class targets), and an empty batch (N = 0) fails in its _sum of no per-image losses (an
    IndexError; its division by len(targets) would come next); refloss refuses both with a ValueError naming the
    problem (test_bad_input)."""
    torch = pytest.importorskip("torch")
    logits, deltas, anchors, boxes, _ = scene_1()
    with pytest.raises(IndexError):
        torchvision_terms((logits, deltas, anchors, boxes, np.array([[2]])), torch.float64)
    with pytest.raises(IndexError):
        torchvision_terms((np.zeros((0, 4, 2)), np.zeros((0, 4, 4)), anchors, np.zeros((0, 1, 4)),
                           np.zeros((0, 1), dtype=np.int64)), torch.float64)
