"""YOLOv1 and YOLOv3 training losses and their target builders: small hand-built scenes whose every expected number
is worked out in a comment (its provenance), the per-term cotangents of the VJPs, gradients against autograd and
finite differences with the assignment held, and bad input.

Each scene is built so that its numbers can be followed with pencil and paper: outputs and boxes are chosen so that
the square roots, IoUs and logistic values involved are simple (sigma(ln 3) = 3/4, sigma(0) = 1/2, BCE(0, t) = ln 2).
"""

import math

import numpy as np
import pytest
from autograd import grad as autograd_grad

import refloss
from refloss.losses.detectors.yolov1 import TERMS as V1_TERMS
from refloss.losses.detectors.yolov3 import TERMS as V3_TERMS
from refloss.testing._gradients import Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences

LN2, LN3, LN4_3 = math.log(2.0), math.log(3.0), math.log(4.0 / 3.0)
TERMS = ("xy", "wh", "object", "no_object", "class")


def approx(value):
    """Hand-derived numbers go through a few float64 operations (0.74 - 0.5 is 0.24 only to ~1e-16)."""
    return pytest.approx(value, rel=1e-12, abs=1e-14)


def assert_terms(got, expected):
    """The terms (named as in ``expected``) and their total, against hand-derived numbers."""
    total, terms = got
    assert set(terms) == set(expected)
    for name in expected:
        assert float(terms[name]) == approx(expected[name]), name
    assert float(total) == approx(sum(expected.values()))


# =============================================================================================================
# YOLOv1: S = 2, B = 2, C = 2. Output (N, S, S, 12), per cell [x0 y0 w0 h0 c0 | x1 y1 w1 h1 c1 | p0 p1], indexed
# output[n, row, col]. Defaults lambda_coord = 5, lambda_noobj = 0.5.
# =============================================================================================================

V1 = dict(grid_size=2, num_boxes=2, num_classes=2)

# Object A: xyxy (0.07, 0.12, 0.43, 0.28), class 1. Centre (0.25, 0.2), size (0.36, 0.16).
#   S = 2: column floor(0.25 * 2) = 0, row floor(0.2 * 2) = 0 -> cell (0, 0); offset (0.5, 0.4);
#   sqrt sizes (0.6, 0.4). Area 0.36 * 0.16 = 0.0576.
BOX_A = [0.07, 0.12, 0.43, 0.28]
# Predictor 0 of cell (0, 0): [0.5, 0.4, 0.3, 0.4], centre (0.25, 0.2), size (0.09, 0.16): inside A in x, A's
#   height: intersection 0.09 * 0.16 = 0.0144 = its own area; IoU = 0.0144 / 0.0576 = 1/4.
# Predictor 1: [0.74, 0.4, 0.6, 0.5], centre (0.37, 0.2), size (0.36, 0.25): x 0.19..0.55, y 0.075..0.325;
#   intersection with A: x 0.19..0.43 = 0.24, y 0.12..0.28 = 0.16 -> 0.0384; union 0.0576 + 0.09 - 0.0384 =
#   0.1092; IoU = 0.0384 / 0.1092 = 32/91 (~0.352) > 1/4, so predictor 1 is responsible.
IOU_P1 = 32 / 91


def v1_one_object_output():
    out = np.zeros((1, 2, 2, 12))
    out[0, 0, 0] = [0.5, 0.4, 0.3, 0.4, 0.2, 0.74, 0.4, 0.6, 0.5, 0.9, 0.1, 0.7]
    # Empty cells: coordinates and class scores that must get no loss; confidences 0.1, 0.3 | 0, 0 | 0.4, 0.
    out[0, 0, 1] = [0.3, 0.6, 0.2, 0.1, 0.1, 0.8, 0.2, 0.5, 0.5, 0.3, 0.6, -0.4]
    out[0, 1, 0] = [0.2, 0.2, 0.2, 0.2, 0.0, 0.7, 0.7, 0.7, 0.7, 0.0, 0.5, 0.5]
    out[0, 1, 1] = [0.9, 0.1, 0.4, 0.4, 0.4, 0.1, 0.9, 0.3, 0.3, 0.0, -0.2, 0.3]
    return out


# One object, N = 1:
#   xy = 5 * ((0.74 - 0.5)^2 + (0.4 - 0.4)^2) = 5 * 0.0576 = 0.288
#   wh = 5 * ((0.6 - 0.6)^2 + (0.5 - 0.4)^2) = 5 * 0.01 = 0.05
#   object = (0.9 - 32/91)^2 (confidence target: predictor 1's IoU)
#   no_object = 0.5 * (0.2^2 [predictor 0 of the object's cell] + 0.1^2 + 0.3^2 + 0 + 0 + 0.4^2 + 0) = 0.5 * 0.3
#   class = (0.1 - 0)^2 + (0.7 - 1)^2 = 0.01 + 0.09 = 0.1
V1_ONE = {"xy": 0.288, "wh": 0.05, "object": (0.9 - IOU_P1) ** 2, "no_object": 0.15, "class": 0.1}


def test_yolov1_one_object_every_term():
    assert_terms(refloss.yolov1_loss(v1_one_object_output(), [[BOX_A]], [[1]], **V1), V1_ONE)


def test_yolov1_one_object_targets():
    t = refloss.yolov1_targets(v1_one_object_output(), [[BOX_A]], [[1]], **V1)
    np.testing.assert_array_equal(t.object_index, [[[0, -1], [-1, -1]]])
    np.testing.assert_array_equal(t.responsible[0, 0, 0], [False, True])
    assert not t.responsible[0].reshape(-1, 2)[1:].any()  # no predictor of an empty cell
    np.testing.assert_allclose(t.iou[0, 0, 0], [0.25, IOU_P1], rtol=1e-12)
    np.testing.assert_array_equal(t.iou[0].reshape(-1, 2)[1:], 0.0)
    np.testing.assert_allclose(t.box_target[0, 0, 0], [0.5, 0.4, 0.6, 0.4], rtol=1e-12)  # offset, sqrt sizes
    np.testing.assert_array_equal(t.box_target[0].reshape(-1, 4)[1:], 0.0)
    np.testing.assert_array_equal(t.class_target[0, 0, 0], [0.0, 1.0])
    np.testing.assert_array_equal(t.class_target[0].reshape(-1, 2)[1:], 0.0)
    np.testing.assert_array_equal(t.dropped, [[False]])


def test_yolov1_one_object_gradient():
    """(L6) with N = 1 and cotangent 1, by hand: predictor 1 of cell (0, 0): x 2 * 5 * 0.24 = 2.4, y 0, s_w 0,
    s_h 2 * 5 * 0.1 = 1, confidence 2 (0.9 - 32/91); predictor 0: coordinates 0, confidence 2 * 0.5 * 0.2 = 0.2;
    classes 2 * 0.1 = 0.2 and 2 * (0.7 - 1) = -0.6. Empty cells: confidence c -> 2 * 0.5 * c = c, nothing else."""
    out = v1_one_object_output()
    expected = np.zeros_like(out)
    expected[0, 0, 0] = [0, 0, 0, 0, 0.2, 2.4, 0, 0, 1.0, 2 * (0.9 - IOU_P1), 0.2, -0.6]
    for row, col in [(0, 1), (1, 0), (1, 1)]:
        expected[0, row, col, [4, 9]] = out[0, row, col, [4, 9]]
    grad, gb, gl = refloss.yolov1_loss_vjp(1.0, out, [[BOX_A]], [[1]], **V1)
    assert gb is None and gl is None
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-14)


def test_yolov1_two_objects_in_one_cell():
    """Object B (0.1, 0.1, 0.3, 0.3), class 0: centre (0.2, 0.2) -> cell (0, 0), like A. The first in boxes order
    keeps the cell, the other is dropped and changes nothing: the loss equals that with it as padding."""
    out = v1_one_object_output()
    box_b = [0.1, 0.1, 0.3, 0.3]
    t = refloss.yolov1_targets(out, [[BOX_A, box_b]], [[1, 0]], **V1)
    np.testing.assert_array_equal(t.object_index[0, 0, 0], 0)
    np.testing.assert_array_equal(t.dropped, [[False, True]])
    np.testing.assert_array_equal(t.class_target[0, 0, 0], [0.0, 1.0])  # A's class, not B's
    np.testing.assert_allclose(t.box_target[0, 0, 0], [0.5, 0.4, 0.6, 0.4], rtol=1e-12)
    assert_terms(refloss.yolov1_loss(out, [[BOX_A, box_b]], [[1, 0]], **V1), V1_ONE)

    # B first: B keeps the cell. Its offset (0.4, 0.4), sqrt sizes (sqrt 0.2, sqrt 0.2), class 0; A dropped.
    t = refloss.yolov1_targets(out, [[box_b, BOX_A]], [[0, 1]], **V1)
    np.testing.assert_array_equal(t.dropped, [[False, True]])
    np.testing.assert_array_equal(t.object_index[0, 0, 0], 0)
    np.testing.assert_array_equal(t.class_target[0, 0, 0], [1.0, 0.0])
    np.testing.assert_allclose(t.box_target[0, 0, 0], [0.4, 0.4, math.sqrt(0.2), math.sqrt(0.2)], rtol=1e-12)


def test_yolov1_no_objects():
    """Only no_object: 0.5 * sum of every confidence squared; the gradient 2 * 0.5 * c on confidences only.
    The padding row's box is outside the image and inverted: padding is not checked."""
    out = v1_one_object_output()
    confidences = out[..., [4, 9]]
    # 0.2^2 + 0.9^2 + 0.1^2 + 0.3^2 + 0.4^2 = 0.04 + 0.81 + 0.01 + 0.09 + 0.16 = 1.11; times 0.5
    expected = {"xy": 0.0, "wh": 0.0, "object": 0.0, "no_object": 0.555, "class": 0.0}
    assert_terms(refloss.yolov1_loss(out, [[[2.0, 2.0, -1.0, -1.0]]], [[-1]], **V1), expected)
    assert_terms(refloss.yolov1_loss(out, np.zeros((1, 0, 4)), np.zeros((1, 0), dtype=int), **V1), expected)
    grad = refloss.yolov1_loss_vjp(1.0, out, [[[2.0, 2.0, -1.0, -1.0]]], [[-1]], **V1)[0]
    expected_grad = np.zeros_like(out)
    expected_grad[..., [4, 9]] = confidences
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-15)
    t = refloss.yolov1_targets(out, [[[2.0, 2.0, -1.0, -1.0]]], [[-1]], **V1)
    assert (t.object_index == -1).all() and not t.responsible.any() and not t.dropped.any()


# Image 1 of the mixed batch: object C (0.57, 0.07, 0.93, 0.43), class 0: centre (0.75, 0.25) -> column 1, row 0:
#   output[1, 0, 1] (row first). Offset (0.5, 0.5), size (0.36, 0.36), sqrt (0.6, 0.6).
#   Predictor 0 [0.5, 0.3, 0.6, 0.6, 0.5]: centre (0.75, 0.15), A's size, shifted 0.1 down: intersection
#   0.36 * 0.26 = 0.0936, union 2 * 0.1296 - 0.0936 = 0.1656, IoU = 13/23. Predictor 1 all 0: empty box, IoU 0.
#   xy = 5 * (0.3 - 0.5)^2 = 0.2; wh = 0; object = (0.5 - 13/23)^2; no_object = 0.5 * (0 + 0.2^2) (predictor 1
#   of cell (1, 0) has confidence 0.2) = 0.02; class = (0 - 1)^2 + 0^2 = 1.
# Image 2: no objects, predictor 0 of cell (0, 0) has confidence 0.6: no_object = 0.5 * 0.36 = 0.18.
BOX_C = [0.57, 0.07, 0.93, 0.43]
V1_IMAGE_1 = {"xy": 0.2, "wh": 0.0, "object": (0.5 - 13 / 23) ** 2, "no_object": 0.02, "class": 1.0}
V1_IMAGE_2 = {"xy": 0.0, "wh": 0.0, "object": 0.0, "no_object": 0.18, "class": 0.0}


def v1_batch():
    out = np.zeros((3, 2, 2, 12))
    out[0] = v1_one_object_output()[0]
    out[1, 0, 1, :5] = [0.5, 0.3, 0.6, 0.6, 0.5]
    out[1, 1, 0, 9] = 0.2
    out[2, 0, 0, 4] = 0.6
    boxes = [[BOX_A], [BOX_C], [[0.0, 0.0, 0.0, 0.0]]]
    return out, boxes, [[1], [0], [-1]]


@pytest.mark.parametrize("normalization, divisor", [("images", 3), ("sum", 1), ("darknet", 6)])
def test_yolov1_mixed_batch_and_normalization(normalization, divisor):
    """Each term is the sum over the 3 images divided by 3 (images), 1 (sum) or 2 * 3 (darknet's half)."""
    out, boxes, labels = v1_batch()
    expected = {k: (V1_ONE[k] + V1_IMAGE_1[k] + V1_IMAGE_2[k]) / divisor for k in TERMS}
    assert_terms(refloss.yolov1_loss(out, boxes, labels, normalization=normalization, **V1), expected)
    t = refloss.yolov1_targets(out, boxes, labels, **V1)
    np.testing.assert_array_equal(t.object_index[:, :, :].reshape(3, 4), [[0, -1, -1, -1], [-1, 0, -1, -1],
                                                                          [-1, -1, -1, -1]])
    np.testing.assert_array_equal(t.responsible[1, 0, 1], [True, False])
    np.testing.assert_allclose(t.iou[1, 0, 1], [13 / 23, 0.0], rtol=1e-12)
    # The gradient divides by the same divisor: image 1's x-slot of predictor 0 gets 2 * 5 * (0.5 - 0.5) = 0 and
    # its y-slot 2 * 5 * (0.3 - 0.5) = -2; image 2's confidence 2 * 0.5 * 0.6 = 0.6.
    grad = refloss.yolov1_loss_vjp(1.0, out, boxes, labels, normalization=normalization, **V1)[0]
    assert grad[1, 0, 1, 1] == approx(-2.0 / divisor)
    assert grad[2, 0, 0, 4] == approx(0.6 / divisor)
    assert grad[1, 0, 1, 10] == approx(2 * (0 - 1) / divisor)


def test_yolov1_responsible_tie_goes_to_lower_index():
    """Both predictors of cell (0, 0) are predictor 0's box of the one-object scene (IoU 1/4 each, bitwise equal):
    predictor 0 is responsible. Confidences 0.2 and 0.9: object = (0.2 - 1/4)^2, no_object = 0.5 * 0.9^2 + the
    empty cells' 0.5 * 0.26; xy = 0 (centre exact), wh = 5 * ((0.3 - 0.6)^2 + 0) = 0.45."""
    out = v1_one_object_output()
    out[0, 0, 0, 5:9] = out[0, 0, 0, 0:4]
    t = refloss.yolov1_targets(out, [[BOX_A]], [[1]], **V1)
    np.testing.assert_array_equal(t.responsible[0, 0, 0], [True, False])
    expected = {"xy": 0.0, "wh": 0.45, "object": (0.2 - 0.25) ** 2, "no_object": 0.5 * (0.81 + 0.26), "class": 0.1}
    assert_terms(refloss.yolov1_loss(out, [[BOX_A]], [[1]], **V1), expected)


def test_yolov1_all_zero_iou_falls_back_to_smallest_rmse():
    """Predictor 0 [0.5, 0.4, 0, 0]: A's centre, empty box (IoU 0); RMSE over (x/S, y/S, w, h) =
    sqrt(0.36^2 + 0.16^2) ~ 0.394. Predictor 1 [0.5, 0, 0.6, 0.4]: A's size at centre (0.25, 0), y -0.08..0.08,
    disjoint from A's 0.12..0.28 (IoU 0); RMSE = |0 - 0.2| = 0.2. Predictor 1 is responsible (not the lower index),
    with confidence target 0: object = 0.9^2; xy = 5 * (0 - 0.4)^2 = 0.8; wh = 0."""
    out = v1_one_object_output()
    out[0, 0, 0, :10] = [0.5, 0.4, 0.0, 0.0, 0.2, 0.5, 0.0, 0.6, 0.4, 0.9]
    t = refloss.yolov1_targets(out, [[BOX_A]], [[1]], **V1)
    np.testing.assert_array_equal(t.iou[0, 0, 0], [0.0, 0.0])
    np.testing.assert_array_equal(t.responsible[0, 0, 0], [False, True])
    expected = {"xy": 0.8, "wh": 0.0, "object": 0.81, "no_object": 0.15, "class": 0.1}
    assert_terms(refloss.yolov1_loss(out, [[BOX_A]], [[1]], **V1), expected)
    # Swapped, the closer one is predictor 0: argmin, not "the last".
    out[0, 0, 0, :10] = np.roll(out[0, 0, 0, :10], 5)
    np.testing.assert_array_equal(refloss.yolov1_targets(out, [[BOX_A]], [[1]], **V1).responsible[0, 0, 0],
                                  [True, False])


def test_yolov1_rmse_fallback_keeps_predictor_0_when_every_rmse_exceeds_20():
    """darknet's best_rmse starts at 20: predictors at x = 200 and 100 (centres 100 and 50 image widths away,
    IoU 0) have RMSE ~ 100 and ~ 50, both above 20, so predictor 0 stays responsible although 1 is closer."""
    out = v1_one_object_output()
    out[0, 0, 0, :10] = [200.0, 0.4, 0.6, 0.4, 0.2, 100.0, 0.4, 0.6, 0.4, 0.9]
    np.testing.assert_array_equal(refloss.yolov1_targets(out, [[BOX_A]], [[1]], **V1).responsible[0, 0, 0],
                                  [True, False])


@pytest.mark.parametrize("variant, changed", [
    # confidence target 1 instead of 32/91: object = (0.9 - 1)^2 = 0.01
    (dict(confidence_target="one"), {"object": 0.01}),
    # only confidences of empty cells: predictor 0 of the object's cell (0.2) leaves no_object: 0.5 * 0.26
    (dict(no_object="empty_cells"), {"no_object": 0.13}),
    # lambda_coord 1: xy and wh divided by 5; lambda_noobj 1: no_object doubled
    (dict(lambda_coord=1.0), {"xy": 0.288 / 5, "wh": 0.01}),
    (dict(lambda_noobj=1.0), {"no_object": 0.3}),
])
def test_yolov1_variant_changes_only_its_term(variant, changed):
    expected = {**V1_ONE, **changed}
    assert_terms(refloss.yolov1_loss(v1_one_object_output(), [[BOX_A]], [[1]], **V1, **variant), expected)


def test_yolov1_linear_size_output():
    """size_output="linear": the w, h outputs are sizes. Predictor 0's box is (0.3, 0.4) at A's centre: x 0.1..0.4
    inside A, y -0.0..0.4 covers A: intersection 0.3 * 0.16 = 0.048, union 0.12 + 0.0576 - 0.048 = 0.1296,
    IoU = 10/27. Predictor 1's (0.6, 0.5) at (0.37, 0.2) contains A: IoU = 0.0576 / 0.3 = 0.192. So predictor 0
    is responsible now: xy = 0; wh = 5 ((sqrt(0.3 + 1e-6) - 0.6)^2 + (sqrt(0.4 + 1e-6) - 0.4)^2);
    object = (0.2 - 10/27)^2; no_object = 0.5 (0.9^2 + 0.26); class unchanged 0.1."""
    out = v1_one_object_output()
    t = refloss.yolov1_targets(out, [[BOX_A]], [[1]], size_output="linear", **V1)
    np.testing.assert_allclose(t.iou[0, 0, 0], [10 / 27, 0.192], rtol=1e-12)
    np.testing.assert_array_equal(t.responsible[0, 0, 0], [True, False])
    root_w, root_h = math.sqrt(0.3 + 1e-6), math.sqrt(0.4 + 1e-6)
    expected = {"xy": 0.0, "wh": 5 * ((root_w - 0.6) ** 2 + (root_h - 0.4) ** 2), "object": (0.2 - 10 / 27) ** 2,
                "no_object": 0.5 * (0.81 + 0.26), "class": 0.1}
    assert_terms(refloss.yolov1_loss(out, [[BOX_A]], [[1]], size_output="linear", **V1), expected)
    # d/dw 5 (sqrt(w + 1e-6) - 0.6)^2 = 10 (sqrt(w + 1e-6) - 0.6) / (2 sqrt(w + 1e-6))
    grad = refloss.yolov1_loss_vjp(1.0, out, [[BOX_A]], [[1]], size_output="linear", **V1)[0]
    assert grad[0, 0, 0, 2] == approx(10 * (root_w - 0.6) / (2 * root_w))
    assert grad[0, 0, 0, 3] == approx(10 * (root_h - 0.4) / (2 * root_h))


# =============================================================================================================
# YOLOv3: C = 2; anchors (pixels of a 64 x 64 input) a0 (8, 8), a1 (16, 32), a2 (32, 16), a3 (48, 48), i.e.
# (0.125, 0.125), (0.25, 0.5), (0.5, 0.25), (0.75, 0.75) of the image. Scale 0: stride 32, grid 2 x 2, anchors
# (a2, a3), predictions 0..7; scale 1: stride 16, grid 4 x 4, anchors (a0, a1), predictions 8..39. Prediction
# (a, j, i) of a scale is start + (a H + j) W + i. Output (N, 40, 7): t_x t_y t_w t_h objectness z_0 z_1.
# =============================================================================================================

V3 = dict(num_classes=2, anchors=((8, 8), (16, 32), (32, 16), (48, 48)), anchor_masks=((2, 3), (0, 1)),
          strides=(32, 16), input_size=(64, 64))
P = 40
TINY = -10.0  # t_w = t_h = -10: a box of side ~ 8 e^-10 / 64 ~ 6e-6, whose IoU with any object is ~ 0


def v3_output(images=1):
    """Every prediction a tiny box (never above an ignore threshold) with objectness logit 0."""
    out = np.zeros((images, P, 7))
    out[..., 2:4] = TINY
    return out


# Object D: xyxy (0.1, 0.475, 0.5, 0.725), class 1: centre (0.3, 0.6), size (0.4, 0.25), area 0.1.
#   Shape IoUs: a0 0.015625 / 0.1 = 0.156; a1 (0.25 * 0.25) / (0.1 + 0.125 - 0.0625) = 0.385;
#   a2 (0.4 * 0.25) / (0.1 + 0.125 - 0.1) = 0.8; a3 0.1 / 0.5625 = 0.178 -> a2: scale 0, a = 0.
#   Cell i = floor(0.3 * 2) = 0, j = floor(0.6 * 2) = 1 -> prediction 0 + (0 * 2 + 1) * 2 + 0 = 2.
#   Targets t_x = 0.6 - 0 = 0.6, t_y = 1.2 - 1 = 0.2, t_w = ln(0.4 * 64 / 32) = ln 0.8, t_h = ln(0.25 * 64 / 16)
#   = 0; weight s = 2 - 0.4 * 0.25 = 1.9.
BOX_D = [0.1, 0.475, 0.5, 0.725]
S_D = 1.9


def v3_one_object_output():
    out = v3_output()
    out[0, 2] = [LN3, 0.0, 0.5, -0.5, LN3, 0.0, LN3]
    out[0, 30, 4] = -LN3
    return out


# One object, N = 1; BCE(z, t) = -t ln sigma(z) - (1 - t) ln sigma(-z); sigma(ln 3) = 3/4, sigma(0) = 1/2:
#   xy = s [BCE(ln 3, 0.6) + BCE(0, 0.2)] = 1.9 [0.6 ln(4/3) + 0.4 ln 4 + ln 2]
#   wh = s/2 [(0.5 - ln 0.8)^2 + (-0.5 - 0)^2]
#   object = BCE(ln 3, 1) = ln(4/3)
#   no_object: the 39 other predictions (none ignored): 38 of BCE(0, 0) = ln 2, prediction 30 BCE(-ln 3, 0) =
#     -ln sigma(ln 3) = ln(4/3)
#   class = BCE(0, 0) + BCE(ln 3, 1) = ln 2 + ln(4/3)
V3_ONE = {"xy": S_D * (0.6 * LN4_3 + 0.4 * math.log(4) + LN2), "wh": S_D / 2 * ((0.5 - math.log(0.8)) ** 2 + 0.25),
          "object": LN4_3, "no_object": 38 * LN2 + LN4_3, "class": LN2 + LN4_3}


def test_yolov3_layout():
    """COCO default: 416 / 32 = 13, 416 / 16 = 26, 416 / 8 = 52; starts 0, 3 * 169 = 507, 507 + 3 * 676 = 2535."""
    scales = refloss.yolov3_layout()
    assert [s.start for s in scales] == [0, 507, 2535]
    assert [s.grid for s in scales] == [(13, 13), (26, 26), (52, 52)]
    assert [s.mask for s in scales] == [(6, 7, 8), (3, 4, 5), (0, 1, 2)]
    assert sum(s.size for s in scales) == 3 * (169 + 676 + 2704)
    # This file's layout: 2 * 2 * 2 = 8, then 2 * 4 * 4 = 32; a non-square input: 64 x 32 at stride 32 is 2 x 1.
    assert [(s.start, s.grid, s.size) for s in refloss.yolov3_layout(**{k: V3[k] for k in V3 if k != "num_classes"})] \
        == [(0, (2, 2), 8), (8, (4, 4), 32)]
    assert refloss.yolov3_layout(anchors=((8, 8),), anchor_masks=((0,),), strides=(32,), input_size=(64, 32))[0].grid \
        == (2, 1)


def test_yolov3_one_object_every_term():
    assert_terms(refloss.yolov3_loss(v3_one_object_output(), [[BOX_D]], [[1]], **V3), V3_ONE)


def test_yolov3_one_object_targets():
    t = refloss.yolov3_targets(v3_one_object_output(), [[BOX_D]], [[1]], **V3)
    expected_positive = np.zeros((1, P), dtype=bool)
    expected_positive[0, 2] = True
    np.testing.assert_array_equal(t.positive, expected_positive)
    assert not t.ignored.any()
    np.testing.assert_array_equal(t.object_index, np.where(expected_positive, 0, -1))
    np.testing.assert_allclose(t.box_target[0, 2], [0.6, 0.2, math.log(0.8), 0.0], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(np.delete(t.box_target[0], 2, axis=0), 0.0)
    assert t.box_weight[0, 2] == approx(S_D)
    np.testing.assert_array_equal(np.delete(t.box_weight[0], 2), 0.0)
    np.testing.assert_array_equal(t.class_target[0, 2], [0.0, 1.0])
    np.testing.assert_array_equal(np.delete(t.class_target[0], 2, axis=0), 0.0)
    np.testing.assert_array_equal(t.anchor, [[2]])
    np.testing.assert_array_equal(t.prediction, [[2]])
    # Prediction 2's box: centre ((0 + 3/4) / 2, (1 + 1/2) / 2) = (0.375, 0.75), size (0.5 e^0.5, 0.25 e^-0.5).
    w, h = 0.5 * math.exp(0.5), 0.25 * math.exp(-0.5)
    inter_x = min(0.375 + w / 2, 0.5) - max(0.375 - w / 2, 0.1)  # = 0.4: it spans A's width
    inter_y = min(0.75 + h / 2, 0.725) - max(0.75 - h / 2, 0.475)
    assert t.best_iou[0, 2] == approx(inter_x * inter_y / (w * h + 0.1 - inter_x * inter_y))
    # The tiny boxes: side <= 0.75 e^-10 ~ 3.4e-5, so IoU <= (3.4e-5)^2 / 0.1 ~ 1.2e-8.
    assert np.delete(t.best_iou[0], 2).max() < 2e-8


def test_yolov3_one_object_gradient():
    """(Y9), N = 1, cotangent 1: prediction 2: s (3/4 - 0.6), s (1/2 - 0.2), s (0.5 - ln 0.8), s (-0.5 - 0),
    sigma(ln 3) - 1 = -1/4, sigma(0) - 0 = 1/2, sigma(ln 3) - 1 = -1/4. Negatives: objectness sigma(z): 1/2, and
    1/4 at prediction 30; every other entry 0."""
    out = v3_one_object_output()
    expected = np.zeros_like(out)
    expected[0, :, 4] = 0.5
    expected[0, 30, 4] = 0.25
    expected[0, 2] = [S_D * 0.15, S_D * 0.3, S_D * (0.5 - math.log(0.8)), -S_D * 0.5, -0.25, 0.5, -0.25]
    grad, gb, gl = refloss.yolov3_loss_vjp(1.0, out, [[BOX_D]], [[1]], **V3)
    assert gb is None and gl is None
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("variant, changed, row_grad", [
    # The paper's SSE on sigma(t): xy = s/2 [(3/4 - 0.6)^2 + (1/2 - 0.2)^2] = 0.95 * 0.1125; its gradient has the
    # sigmoid's slope: s (3/4 - 0.6) (3/4)(1/4), s (1/2 - 0.2)(1/2)(1/2).
    (dict(xy_loss="sse"), {"xy": 0.95 * 0.1125}, {0: S_D * 0.15 * 3 / 16, 1: S_D * 0.3 / 4}),
    # weight 1 instead of 1.9: xy and wh divided by 1.9, and their gradients
    (dict(box_weight="one"), {"xy": V3_ONE["xy"] / S_D, "wh": V3_ONE["wh"] / S_D},
     {0: 0.15, 1: 0.3, 2: 0.5 - math.log(0.8), 3: -0.5}),
    # the paper's threshold: nothing overlaps above 0.5 in this scene (the tiny boxes), so nothing changes
    (dict(ignore_thresh=0.5), {}, {}),
])
def test_yolov3_variant_changes_only_its_term(variant, changed, row_grad):
    out = v3_one_object_output()
    assert_terms(refloss.yolov3_loss(out, [[BOX_D]], [[1]], **V3, **variant), {**V3_ONE, **changed})
    default = refloss.yolov3_loss_vjp(1.0, out, [[BOX_D]], [[1]], **V3)[0]
    grad = refloss.yolov3_loss_vjp(1.0, out, [[BOX_D]], [[1]], **V3, **variant)[0]
    expected = default.copy()
    for column, value in row_grad.items():
        expected[0, 2, column] = value
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


def test_yolov3_two_objects_on_one_prediction():
    """Object E (0.15, 0.575, 0.65, 0.825), class 0: centre (0.4, 0.7), size (0.5, 0.25) = a2 exactly (IoU 1);
    cell i = floor(0.8) = 0, j = floor(1.4) = 1: prediction 2, like D. The later (E) box target wins:
    t_x = 0.8, t_y = 1.4 - 1 = 0.4, t_w = ln(0.5 * 64 / 32) = 0, t_h = ln(0.25 * 64 / 16) = 0, s = 2 - 0.125 =
    1.875; the classes add up: [1, 1]. xy = 1.875 [BCE(ln 3, 0.8) + BCE(0, 0.4)] = 1.875 [0.8 ln(4/3) + 0.2 ln 4
    + ln 2]; wh = 1.875 / 2 (0.5^2 + 0.5^2); class = BCE(0, 1) + BCE(ln 3, 1) = ln 2 + ln(4/3)."""
    out = v3_one_object_output()
    box_e = [0.15, 0.575, 0.65, 0.825]
    t = refloss.yolov3_targets(out, [[BOX_D, box_e]], [[1, 0]], **V3)
    assert t.positive[0].sum() == 1 and t.positive[0, 2]
    np.testing.assert_array_equal(t.prediction, [[2, 2]])
    np.testing.assert_array_equal(t.anchor, [[2, 2]])
    assert t.object_index[0, 2] == 1
    np.testing.assert_allclose(t.box_target[0, 2], [0.8, 0.4, 0.0, 0.0], rtol=1e-12, atol=1e-15)
    assert t.box_weight[0, 2] == approx(1.875)
    np.testing.assert_array_equal(t.class_target[0, 2], [1.0, 1.0])
    expected = {"xy": 1.875 * (0.8 * LN4_3 + 0.2 * math.log(4) + LN2), "wh": 1.875 / 2 * 0.5,
                "object": LN4_3, "no_object": V3_ONE["no_object"], "class": LN2 + LN4_3}
    assert_terms(refloss.yolov3_loss(out, [[BOX_D, box_e]], [[1, 0]], **V3), expected)
    # In the other order D is later: D's targets (as the one-object scene), the classes still [1, 1].
    t = refloss.yolov3_targets(out, [[box_e, BOX_D]], [[0, 1]], **V3)
    assert t.object_index[0, 2] == 1 and t.box_weight[0, 2] == approx(S_D)
    np.testing.assert_array_equal(t.class_target[0, 2], [1.0, 1.0])


def test_yolov3_no_objects():
    """Only no_object: the 40 predictions' BCE(z, 0); with z = 0 except prediction 30 (-ln 3): 39 ln 2 + ln(4/3).
    The gradient is sigma(z) on the objectness column only."""
    out = v3_one_object_output()
    out[0, 2, 4] = 0.0
    expected = {"xy": 0.0, "wh": 0.0, "object": 0.0, "no_object": 39 * LN2 + LN4_3, "class": 0.0}
    assert_terms(refloss.yolov3_loss(out, [[[0.0, 0.0, 0.0, 0.0]]], [[-1]], **V3), expected)
    grad = refloss.yolov3_loss_vjp(1.0, out, [[[0.0, 0.0, 0.0, 0.0]]], [[-1]], **V3)[0]
    expected_grad = np.zeros_like(out)
    expected_grad[0, :, 4] = 0.5
    expected_grad[0, 30, 4] = 0.25
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-15)
    t = refloss.yolov3_targets(out, [[[0.0, 0.0, 0.0, 0.0]]], [[-1]], **V3)
    assert not t.positive.any() and not t.ignored.any() and (t.best_iou == 0).all()
    np.testing.assert_array_equal(t.anchor, [[-1]])
    np.testing.assert_array_equal(t.prediction, [[-1]])


def test_yolov3_mixed_batch():
    """Image 0: the one-object scene; image 1: no objects, every logit 0 (40 ln 2). Each term over N = 2; the
    gradient halves."""
    out = np.concatenate([v3_one_object_output(), v3_output()])
    boxes = [[BOX_D], [[0.0, 0.0, 0.0, 0.0]]]
    expected = {k: v / 2 for k, v in V3_ONE.items()}
    expected["no_object"] = (V3_ONE["no_object"] + 40 * LN2) / 2
    assert_terms(refloss.yolov3_loss(out, boxes, [[1], [-1]], **V3), expected)
    grad = refloss.yolov3_loss_vjp(1.0, out, boxes, [[1], [-1]], **V3)[0]
    assert grad[0, 2, 0] == approx(S_D * 0.15 / 2)
    np.testing.assert_allclose(grad[1, :, 4], 0.25)
    np.testing.assert_array_equal(np.delete(grad[1], 4, axis=1), 0.0)


def test_yolov3_best_anchor_on_another_scale():
    """Object F (0.575, 0.05, 0.825, 0.55), class 0: centre (0.7, 0.3), size (0.25, 0.5) = a1 exactly: scale 1,
    a = 1; grid 4: i = floor(2.8) = 2, j = floor(1.2) = 1 -> prediction 8 + (1 * 4 + 1) * 4 + 2 = 30. Targets
    (0.8, 0.2, ln(0.25 * 64 / 16) = 0, ln(0.5 * 64 / 32) = 0), s = 2 - 0.125. Scale 0's prediction in the cell of
    F's centre (i = 1, j = 0, predictions 1 and 5) stays a negative."""
    out = v3_output()
    t = refloss.yolov3_targets(out, [[[0.575, 0.05, 0.825, 0.55]]], [[0]], **V3)
    np.testing.assert_array_equal(np.flatnonzero(t.positive[0]), [30])
    np.testing.assert_array_equal(t.anchor, [[1]])
    np.testing.assert_array_equal(t.prediction, [[30]])
    np.testing.assert_allclose(t.box_target[0, 30], [0.8, 0.2, 0.0, 0.0], rtol=1e-12, atol=1e-15)
    assert t.box_weight[0, 30] == approx(1.875)
    # Loss: xy = 1.875 (BCE(0, 0.8) + BCE(0, 0.2)) = 1.875 * 2 ln 2; wh = 1.875 / 2 ((-10)^2 + (-10)^2) = 187.5;
    # object ln 2; no_object 39 ln 2; class BCE(0, 1) + BCE(0, 0) = 2 ln 2.
    expected = {"xy": 1.875 * 2 * LN2, "wh": 187.5, "object": LN2, "no_object": 39 * LN2, "class": 2 * LN2}
    assert_terms(refloss.yolov3_loss(out, [[[0.575, 0.05, 0.825, 0.55]]], [[0]], **V3), expected)


def test_yolov3_best_anchor_in_no_mask_gives_no_positive():
    """A fifth anchor (64, 64) = the whole image, in no scale's mask: the object (0, 0, 1, 1) matches it with shape
    IoU 1 (anchor 4) and has no positive anywhere (darknet: mask_n < 0); only no_object remains, 40 ln 2."""
    settings = {**V3, "anchors": V3["anchors"] + ((64, 64),)}
    t = refloss.yolov3_targets(v3_output(), [[[0.0, 0.0, 1.0, 1.0]]], [[0]], **settings)
    np.testing.assert_array_equal(t.anchor, [[4]])
    np.testing.assert_array_equal(t.prediction, [[-1]])
    assert not t.positive.any()
    expected = {"xy": 0.0, "wh": 0.0, "object": 0.0, "no_object": 40 * LN2, "class": 0.0}
    assert_terms(refloss.yolov3_loss(v3_output(), [[[0.0, 0.0, 1.0, 1.0]]], [[0]], **settings), expected)


# The ignore scene. Object G (0.125, 0.125, 0.375, 0.375), class 0: centre (0.25, 0.25), size (0.25, 0.25).
#   Shape IoUs: a0 0.015625 / 0.0625 = 0.25; a1 (0.25 * 0.25) / (0.0625 + 0.125 - 0.0625) = 0.5; a2 likewise 0.5
#   (a tie, to the lower index: a1); a3 0.0625 / 0.5625. a1 is scale 1, a = 1; cell i = j = floor(0.25 * 4) = 1:
#   prediction 8 + (1 * 4 + 1) * 4 + 1 = 29.
# Prediction 0 (scale 0, anchor a2, cell (0, 0)) with raw outputs 0: centre (0.5 / 2, 0.5 / 2) = (0.25, 0.25),
#   size (0.5, 0.25): box (0, 0.125, 0.5, 0.375), which contains G: IoU = 0.0625 / 0.125 = 0.5 exactly (dyadic).
# Prediction 29 with outputs 0: centre (1.5 / 4, 1.5 / 4) = (0.375, 0.375), size (0.25, 0.5): box
#   (0.25, 0.125, 0.5, 0.625); intersection with G 0.125 * 0.25 = 0.03125, union 0.0625 + 0.125 - 0.03125 =
#   0.15625: IoU 0.2.
BOX_G = [0.125, 0.125, 0.375, 0.375]


def v3_ignore_output():
    out = v3_output()
    out[0, 0, :4] = 0.0
    out[0, 29, :4] = 0.0
    return out


def test_yolov3_ignore_threshold_is_strict():
    out = v3_ignore_output()
    t = refloss.yolov3_targets(out, [[BOX_G]], [[0]], ignore_thresh=0.5, **V3)
    np.testing.assert_array_equal(t.anchor, [[1]])  # the a1 / a2 tie goes to the lower index
    np.testing.assert_array_equal(np.flatnonzero(t.positive[0]), [29])
    assert t.best_iou[0, 0] == 0.5
    assert t.best_iou[0, 29] == approx(0.2)
    assert not t.ignored.any()  # 0.5 is not above 0.5
    just_below = np.nextafter(0.5, 0.0)
    ignored = refloss.yolov3_targets(out, [[BOX_G]], [[0]], ignore_thresh=just_below, **V3).ignored
    np.testing.assert_array_equal(np.flatnonzero(ignored[0]), [0])
    # A positive above the threshold stays positive and is not ignored: 0.2 > 0.1.
    t = refloss.yolov3_targets(out, [[BOX_G]], [[0]], ignore_thresh=0.1, **V3)
    np.testing.assert_array_equal(np.flatnonzero(t.ignored[0]), [0])
    assert t.positive[0, 29] and not t.ignored[0, 29]


def test_yolov3_ignored_prediction_has_no_objectness_loss():
    """Every logit 0. At 0.5: 39 negatives, no_object = 39 ln 2; at 0.4 prediction 0 is ignored: 38 ln 2, its
    objectness gradient sigma(0) = 1/2 becomes 0; nothing else changes."""
    out = v3_ignore_output()
    total5, terms5 = refloss.yolov3_loss(out, [[BOX_G]], [[0]], ignore_thresh=0.5, **V3)
    total4, terms4 = refloss.yolov3_loss(out, [[BOX_G]], [[0]], ignore_thresh=0.4, **V3)
    assert float(terms5["no_object"]) == approx(39 * LN2)
    assert float(terms4["no_object"]) == approx(38 * LN2)
    for name in ("xy", "wh", "object", "class"):
        assert terms4[name] == terms5[name]
    grad5 = refloss.yolov3_loss_vjp(1.0, out, [[BOX_G]], [[0]], ignore_thresh=0.5, **V3)[0]
    grad4 = refloss.yolov3_loss_vjp(1.0, out, [[BOX_G]], [[0]], ignore_thresh=0.4, **V3)[0]
    assert grad5[0, 0, 4] == 0.5 and grad4[0, 0, 4] == 0.0
    grad4[0, 0, 4] = 0.5
    np.testing.assert_array_equal(grad4, grad5)


# =============================================================================================================
# The VJPs' cotangents: per term, scalar = total, the terms add up to the total.
# =============================================================================================================

def v1_call(output):
    out, boxes, labels = v1_batch()
    return refloss.yolov1_loss(output, boxes, labels, **V1)


def v1_vjp(grad_output):
    out, boxes, labels = v1_batch()
    return refloss.yolov1_loss_vjp(grad_output, out, boxes, labels, **V1)[0]


def v3_scene():
    out = np.concatenate([v3_one_object_output(), v3_ignore_output()])
    out[1, 29, 5:] = [0.3, -0.7]
    return out, [[BOX_D, [0.0] * 4], [BOX_G, [0.575, 0.05, 0.825, 0.55]]], [[1, -1], [0, 1]]


def v3_call(output):
    out, boxes, labels = v3_scene()
    return refloss.yolov3_loss(output, boxes, labels, ignore_thresh=0.4, **V3)


def v3_vjp(grad_output):
    out, boxes, labels = v3_scene()
    return refloss.yolov3_loss_vjp(grad_output, out, boxes, labels, ignore_thresh=0.4, **V3)[0]


SCENES = {"yolov1": (v1_batch, v1_call, v1_vjp), "yolov3": (v3_scene, v3_call, v3_vjp)}


@pytest.mark.parametrize("loss", SCENES)
@pytest.mark.parametrize("term", TERMS)
def test_vjp_of_one_term_is_the_gradient_of_that_term(loss, term):
    scene, call, vjp = SCENES[loss]
    out = scene()[0]
    expected = autograd_grad(lambda o: call(o)[1][term])(out)
    np.testing.assert_allclose(vjp({term: 1.0}), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(vjp({term: -2.5}), -2.5 * expected, rtol=1e-12, atol=1e-15)


def test_yolov1_xy_term_gradient_by_hand():
    """{"xy": 1} on the mixed batch (N = 3): only the responsible predictors' x, y: image 0 predictor 1 x
    2 * 5 * 0.24 / 3 = 0.8; image 1 predictor 0 y 2 * 5 * (0.3 - 0.5) / 3 = -2/3."""
    grad = v1_vjp({"xy": 1.0})
    expected = np.zeros_like(grad)
    expected[0, 0, 0, 5] = 0.8
    expected[1, 0, 1, 1] = -2 / 3
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss", SCENES)
def test_vjp_scalar_total_and_sum_of_terms(loss):
    scene, call, vjp = SCENES[loss]
    np.testing.assert_array_equal(vjp(0.7), vjp({"total": 0.7}))
    np.testing.assert_allclose(sum(vjp({t: 0.7}) for t in TERMS), vjp(0.7), rtol=1e-12, atol=1e-15)
    # total and a term: the term's cotangent adds to the total's
    np.testing.assert_allclose(vjp({"total": 1.0, "wh": 2.0}), vjp(1.0) + 2 * vjp({"wh": 1.0}), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_array_equal(vjp({}), 0.0)


def test_terms_named_in_registry():
    assert V1_TERMS == TERMS and V3_TERMS == TERMS
    for name in ("yolov1_loss", "yolov3_loss"):
        assert refloss.registry.get(name).terms == TERMS


# =============================================================================================================
# Gradients against autograd and finite differences, the assignment held, random small scenes.
# =============================================================================================================

def random_boxes(rng, images, objects, largest=0.4):
    centres = rng.uniform(0.3, 0.7, size=(images, objects, 2))
    sizes = rng.uniform(0.1, largest, size=(images, objects, 2))
    return np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=-1)


def v1_random_case(rng, params):
    s, b, c = 3, 2, 3
    output = rng.uniform(-0.2, 1.2, size=(2, s, s, 5 * b + c))
    if params.get("size_output") == "linear":  # keep w, h away from the kink at 0
        sizes = output[..., :5 * b].reshape(2, s, s, b, 5)[..., 2:4]
        output[..., :5 * b].reshape(2, s, s, b, 5)[..., 2:4] = np.abs(sizes) + 0.05
    labels = np.array([[0, 2, -1], [1, -1, -1]])
    return Case(inputs=(output, random_boxes(rng, 2, 3), labels),
                params={"grid_size": s, "num_boxes": b, "num_classes": c, **params},
                reduction=None, grad_output=rng.normal(size=6))


def v3_random_case(rng, params):
    output = rng.normal(0.0, 0.7, size=(2, P, 7))
    labels = np.array([[0, 1, -1], [1, -1, -1]])
    return Case(inputs=(output, random_boxes(rng, 2, 3, largest=0.6), labels), params={**V3, **params}, reduction=None,
                grad_output=rng.normal(size=6))


V1_VARIANTS = [{}, {"confidence_target": "one"}, {"no_object": "empty_cells"}, {"size_output": "linear"},
               {"normalization": "sum"}, {"normalization": "darknet"}, {"lambda_coord": 2.0, "lambda_noobj": 0.25}]
V3_VARIANTS = [{}, {"xy_loss": "sse"}, {"box_weight": "one"}, {"ignore_thresh": 0.5},
               {"xy_loss": "sse", "box_weight": "one", "ignore_thresh": 0.3}]


GRADIENT_CASES = [("yolov1_loss", params) for params in V1_VARIANTS] + [("yolov3_loss", params)
                                                                          for params in V3_VARIANTS]


@pytest.mark.parametrize("loss, params", GRADIENT_CASES,
                         ids=[f"{loss}-" + (",".join(f"{k}={v}" for k, v in params.items()) or "default")
                              for loss, params in GRADIENT_CASES])
def test_vjp_against_autograd_and_finite_differences(loss, params):
    rng = np.random.default_rng(len(str(params)))
    case = (v1_random_case if loss == "yolov1_loss" else v3_random_case)(rng, params)
    assert_vjp_matches_autograd(loss, case)
    assert_vjp_matches_finite_differences(loss, case)


def test_yolov3_vjp_with_an_ignored_prediction():
    """The hand-built scene of the per-term tests (ignore_thresh 0.4: prediction 0 of image 1 is ignored, two
    positives on two scales, a padding row), against autograd and finite differences."""
    out, boxes, labels = v3_scene()
    case = Case(inputs=(out, np.asarray(boxes), np.asarray(labels)), params={**V3, "ignore_thresh": 0.4},
                reduction=None, grad_output=np.array([1.0, 0.5, -1.0, 2.0, 0.25, -0.75]))
    assert refloss.yolov3_targets(*case.inputs, **case.params).ignored[1, 0]
    assert_vjp_matches_autograd("yolov3_loss", case)
    assert_vjp_matches_finite_differences("yolov3_loss", case)


def test_random_scenes_exercise_the_cases():
    """The random scenes of the gradient checks are not trivial: together, YOLOv1's have responsible predictors
    0 and 1, and YOLOv3's have positives on both scales (so the checks see every kind of entry)."""
    v1_predictors, v3_scales = set(), set()
    for params in V1_VARIANTS:
        case = v1_random_case(np.random.default_rng(len(str(params))), params)
        t = refloss.yolov1_targets(*case.inputs, **{k: case.params[k] for k in ("grid_size", "num_boxes",
                                                                              "num_classes")})
        v1_predictors |= set(np.nonzero(t.responsible)[-1].tolist())
    for params in V3_VARIANTS:
        case = v3_random_case(np.random.default_rng(len(str(params))), params)
        t = refloss.yolov3_targets(*case.inputs, **V3)
        v3_scales |= {0 if i < 8 else 1 for i in np.nonzero(t.positive)[1]}
    assert v1_predictors == {0, 1}
    assert v3_scales == {0, 1}


# =============================================================================================================
# Bad input
# =============================================================================================================

def v1(output=None, boxes=None, labels=None, **params):
    output = v1_one_object_output() if output is None else output
    return refloss.yolov1_loss(output, [[BOX_A]] if boxes is None else boxes, [[1]] if labels is None else labels,
                               **{**V1, **params})


def v3(output=None, boxes=None, labels=None, **params):
    output = v3_one_object_output() if output is None else output
    return refloss.yolov3_loss(output, [[BOX_D]] if boxes is None else boxes, [[1]] if labels is None else labels,
                               **{**V3, **params})


@pytest.mark.parametrize("call", [v1, v3], ids=["yolov1", "yolov3"])
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(boxes=[[[0.1, 0.1, 1.2, 0.3]]]), ValueError, r"boxes\[0, 0\] = .* lies outside the image"),
    (dict(boxes=[[[-0.1, 0.1, 0.3, 0.3]]]), ValueError, r"lies outside the image"),
    (dict(boxes=[[[0.4, 0.1, 0.1, 0.3]]]), ValueError, r"not a valid box in xyxy: x2 < x1"),
    (dict(boxes=[[[0.1, 0.3, 0.4, 0.1]]]), ValueError, r"y2 < y1"),
    (dict(boxes=[[[0.1, 0.1, 0.4, np.nan]]]), ValueError, r"outside the image"),
    (dict(labels=[[2]]), ValueError, r"labels\[0, 0\] = 2 is outside \[0, 2\)"),
    (dict(labels=[[-2]]), ValueError, r"labels\[0, 0\] = -2 is outside \[0, 2\)"),
    (dict(labels=[[1.0]]), TypeError, r"labels must hold integer class ids"),
    (dict(labels=[[1, 1]]), ValueError, r"labels must have shape \(N, M\) = \(1, 1\)"),
    (dict(boxes=[[0.1, 0.1, 0.4, 0.3]]), ValueError, r"boxes must have shape \(N, M, 4\)"),
    (dict(boxes=[[BOX_A], [BOX_A]], labels=[[1], [1]]), ValueError, r"boxes must have shape .* N = 1 images"),
])
def test_bad_ground_truths(call, kwargs, error, match):
    with pytest.raises(error, match=match):
        call(**kwargs)


def test_yolov1_bad_output_shape():
    with pytest.raises(ValueError, match=r"output must have shape \(N, 2, 2, 12\)"):
        v1(np.zeros((1, 3, 3, 12)))  # wrong S
    with pytest.raises(ValueError, match=r"output must have shape \(N, 2, 2, 12\)"):
        v1(np.zeros((1, 2, 2, 11)))  # wrong 5B + C
    with pytest.raises(ValueError, match=r"output must have shape \(N, 2, 2, 12\)"):
        v1(np.zeros((2, 2, 12)))  # no batch axis
    with pytest.raises(ValueError, match=r"no images \(N = 0\)"):
        v1(np.zeros((0, 2, 2, 12)), np.zeros((0, 1, 4)), np.zeros((0, 1), dtype=int))


def test_yolov3_bad_output_shape():
    with pytest.raises(ValueError, match=r"output must have shape \(N, 40, 7\)"):
        v3(np.zeros((1, 39, 7)))  # wrong P
    with pytest.raises(ValueError, match=r"output must have shape \(N, 40, 7\)"):
        v3(np.zeros((1, 40, 6)))  # wrong 5 + C
    with pytest.raises(ValueError, match=r"no images \(N = 0\)"):
        v3(np.zeros((0, P, 7)), np.zeros((0, 1, 4)), np.zeros((0, 1), dtype=int))


@pytest.mark.parametrize("params, match", [
    (dict(anchors=((8, 8, 8), (16, 32), (32, 16), (48, 48))), r"anchors must be \(p_w, p_h\) pairs"),
    (dict(anchors=((8, -8), (16, 32), (32, 16), (48, 48))), r"anchors must be a sequence of"),
    (dict(anchors=8), r"anchors must be a sequence of"),
    (dict(anchor_masks=((2, 4), (0, 1))), r"anchor_masks must give each scale .* indices into the 4 anchors"),
    (dict(anchor_masks=((2, 3), (0, 0))), r"each used once"),
    (dict(strides=(32,)), r"strides must give one positive integer per scale"),
    (dict(strides=(24, 16)), r"input_size \(64, 64\) must be a multiple of every stride, got stride 24"),
    (dict(input_size=(64,)), r"input_size must be \(net_w, net_h\)"),
    (dict(num_classes=0), r"num_classes must be a positive integer"),
    (dict(xy_loss="mse"), r"xy_loss must be one of 'bce', 'sse', got 'mse'"),
    (dict(box_weight="2wh"), r"box_weight must be one of"),
    (dict(ignore_thresh=1.5), r"ignore_thresh must be in"),
])
def test_yolov3_bad_settings(params, match):
    with pytest.raises(ValueError, match=match):
        v3(**params)


def test_yolov3_zero_width_box():
    with pytest.raises(ValueError, match=r"boxes\[0, 0\] = .* has zero width or height: YOLOv3's size target"):
        v3(boxes=[[[0.3, 0.2, 0.3, 0.6]]])
    with pytest.raises(ValueError, match=r"zero width or height"):
        refloss.yolov3_targets(v3_one_object_output(), [[[0.3, 0.2, 0.6, 0.2]]], [[1]], **V3)


def test_yolov1_zero_width_box_is_accepted():
    """YOLOv1 takes sqrt w: a zero-width object is valid (target 0), only YOLOv3's ln w refuses it."""
    total, _ = v1(boxes=[[[0.25, 0.1, 0.25, 0.3]]])
    assert np.isfinite(total)


@pytest.mark.parametrize("params, match", [
    (dict(confidence_target="IoU"), r"confidence_target must be one of 'iou', 'one', got 'IoU'"),
    (dict(no_object="all"), r"no_object must be one of"),
    (dict(size_output="log"), r"size_output must be one of"),
    (dict(normalization="mean"), r"normalization must be one of 'images', 'sum', 'darknet'"),
    (dict(grid_size=0), r"grid_size must be a positive integer"),
    (dict(num_boxes=2.0), r"num_boxes must be a positive integer"),
    (dict(lambda_coord=-1.0), r"lambda_coord must be in"),
])
def test_yolov1_bad_settings(params, match):
    with pytest.raises(ValueError, match=match):
        v1(**params)


@pytest.mark.parametrize("vjp, args", [
    (refloss.yolov1_loss_vjp, lambda: (v1_one_object_output(), [[BOX_A]], [[1]], V1)),
    (refloss.yolov3_loss_vjp, lambda: (v3_one_object_output(), [[BOX_D]], [[1]], V3)),
], ids=["yolov1", "yolov3"])
def test_bad_grad_output(vjp, args):
    output, boxes, labels, settings = args()
    with pytest.raises(ValueError, match=r"grad_output names unknown outputs \['size'\]"):
        vjp({"size": 1.0}, output, boxes, labels, **settings)
    with pytest.raises(ValueError, match=r"grad_output must be a real scalar"):
        vjp(np.ones(6), output, boxes, labels, **settings)
    with pytest.raises(ValueError, match=r"grad_output\['xy'\] must be a real scalar"):
        vjp({"xy": [1.0, 2.0]}, output, boxes, labels, **settings)


def test_bad_box_message_names_its_position_in_one_image():
    """An inverted box is named by its (n, m) position, as the other ground-truth messages name theirs."""
    out = np.concatenate([v1_one_object_output()] * 2)
    with pytest.raises(ValueError, match=r"x2 < x1"):
        refloss.yolov1_loss(out, [[BOX_A], [[0.4, 0.1, 0.1, 0.3]]], [[1], [0]], **V1)


def test_inverted_box_message_names_n_and_m():
    out = np.concatenate([v1_one_object_output()] * 2)
    with pytest.raises(ValueError, match=r"boxes\[1, 0\] = \[0.4, 0.1, 0.1, 0.3\]"):
        refloss.yolov1_loss(out, [[BOX_A], [[0.4, 0.1, 0.1, 0.3]]], [[1], [0]], **V1)


# =============================================================================================================
# The docstrings' examples, by hand
# =============================================================================================================

def test_yolov1_docstring_example_by_hand():
    """Output 0, S = 2, B = 1, C = 2; object (0.1, 0.1, 0.4, 0.3), class 1: centre (0.25, 0.2) -> cell (0, 0),
    offset (0.5, 0.4); xy = 5 (0.5^2 + 0.4^2) = 2.05; wh = 5 ((0 - sqrt 0.3)^2 + (0 - sqrt 0.2)^2) = 2.5; the
    predictor's box is empty (IoU 0, the only one: responsible, target 0): object 0; no other predictor: no_object
    0; class (0 - 0)^2 + (0 - 1)^2 = 1."""
    got = refloss.yolov1_loss(np.zeros((1, 2, 2, 7)), [[[0.1, 0.1, 0.4, 0.3]]], [[1]], grid_size=2, num_boxes=1,
                              num_classes=2)
    assert_terms(got, {"xy": 2.05, "wh": 2.5, "object": 0.0, "no_object": 0.0, "class": 1.0})


def test_yolov3_docstring_example_by_hand():
    """C = 1; anchors 8 and 16 px of a 32 px input (0.25, 0.5 of the image); scale 0: stride 32, grid 1 x 1, anchor
    1 (prediction 0); scale 1: stride 16, grid 2 x 2, anchor 0 (predictions 1-4). Object (0.25, 0.25, 0.75, 0.75):
    size 0.5 = anchor 1 -> prediction 0; targets (0.5, 0.5, ln 1, ln 1), s = 2 - 0.25 = 1.75. Outputs 0: the
    scale-1 boxes (side 0.25 centred in each quarter) overlap the object by 0.125^2: IoU 0.015625 / 0.296875 ~
    0.05, none ignored. xy = 1.75 * 2 ln 2; wh = 0; object ln 2; no_object 4 ln 2 = 2.7726; class ln 2."""
    settings = dict(num_classes=1, anchors=((8, 8), (16, 16)), anchor_masks=((1,), (0,)), strides=(32, 16),
                    input_size=(32, 32))
    got = refloss.yolov3_loss(np.zeros((1, 5, 6)), [[[0.25, 0.25, 0.75, 0.75]]], [[0]], **settings)
    assert_terms(got, {"xy": 3.5 * LN2, "wh": 0.0, "object": LN2, "no_object": 4 * LN2, "class": LN2})
    assert float(got[0]) == approx(9.5 * LN2)  # the docstring's 6.5849


# =============================================================================================================
# Realistic wrong implementations, each caught by a check of this file
# =============================================================================================================

def darknet_delta_as_gradient_yolov1_vjp(grad_output, output, boxes, labels, **params):
    """darknet writes delta = lambda (target - output), minus HALF the gradient of the paper's SSE: used as the
    gradient of the paper's loss it has the wrong sign and half the size."""
    grad, _, _ = refloss.yolov1_loss_vjp(grad_output, output, boxes, labels, **params)
    return -grad / 2, None, None


def blog_no_object_yolov1_vjp(grad_output, output, boxes, labels, **params):
    """aladdinpersson's no-object rule in the gradient only: a non-responsible predictor in a cell with an object
    gets no gradient, although the canonical forward gives it the no-object term."""
    grad, _, _ = refloss.yolov1_loss_vjp(grad_output, output, boxes, labels, **params)
    keys = ("grid_size", "num_boxes", "num_classes", "size_output")
    t = refloss.yolov1_targets(output, boxes, labels, **{k: params[k] for k in keys if k in params})
    b = params.get("num_boxes", 2)
    confidence = grad[..., :5 * b].reshape(grad.shape[:3] + (b, 5))[..., 4]  # a copy: write it back
    confidence = np.where((t.object_index >= 0)[..., None] & ~t.responsible, 0.0, confidence)
    grad[..., 4:5 * b:5] = confidence
    return grad, None, None


def sigmoid_slope_on_bce_yolov3_vjp(grad_output, output, boxes, labels, **params):
    """The chain rule through sigma applied to the BCE centre term as well (a port mixing darknet's BCE with the
    paper's SSE gradient): s (sigma(t) - t_hat) sigma'(t) instead of s (sigma(t) - t_hat)."""
    grad, _, _ = refloss.yolov3_loss_vjp(grad_output, output, boxes, labels, **params)
    slope = 1 / (1 + np.exp(-output[..., :2])) / (1 + np.exp(output[..., :2]))
    grad[..., :2] *= slope
    return grad, None, None


@pytest.mark.parametrize("name, wrong, make_case", [
    ("yolov1_loss", darknet_delta_as_gradient_yolov1_vjp, v1_random_case),
    ("yolov1_loss", blog_no_object_yolov1_vjp, v1_random_case),
    ("yolov3_loss", sigmoid_slope_on_bce_yolov3_vjp, v3_random_case),
])
def test_wrong_vjps_are_caught(name, wrong, make_case):
    case = make_case(np.random.default_rng(1), {})
    assert_vjp_matches_autograd(name, case)  # the right one passes on this case
    with pytest.raises(AssertionError, match="differs from autograd"):
        assert_vjp_matches_autograd(name, case, vjp=wrong)


def test_inclusive_ignore_threshold_is_caught():
    """A target builder ignoring at IoU >= thresh (not >) would drop prediction 0 (IoU exactly 0.5) at 0.5: its
    no_object would be 38 ln 2; the hand-derived 39 ln 2 of test_yolov3_ignored_prediction_has_no_objectness_loss
    tells them apart."""
    out = v3_ignore_output()
    t = refloss.yolov3_targets(out, [[BOX_G]], [[0]], ignore_thresh=0.5, **V3)
    inclusive = ~t.positive & (t.best_iou >= 0.5)
    wrong_no_object = LN2 * np.sum(~t.positive & ~inclusive)  # every logit 0: ln 2 each
    assert wrong_no_object == approx(38 * LN2) and wrong_no_object != approx(39 * LN2)


def test_a_nan_predicted_box_is_never_made_responsible():
    """Predictor 1 of the one-object scene is responsible (IoU 32/91 against 1/4). A NaN in its width makes its IoU
    NaN: like darknet's comparisons with NaN, that counts as no overlap, so predictor 0 (IoU 1/4) takes over; the
    NaN width then enters no term and every output stays finite."""
    out = v1_one_object_output()
    out[0, 0, 0, 7] = np.nan  # predictor 1's w
    targets = refloss.yolov1_targets(out, [[BOX_A]], [[1]], **V1)
    assert targets.responsible[0, 0, 0].tolist() == [True, False]
    total, terms = refloss.yolov1_loss(out, [[BOX_A]], [[1]], **V1)
    assert np.isfinite(total) and all(np.isfinite(v) for v in terms.values())
    # Both predictors NaN: every IoU counts as 0 and every RMSE as infinite; predictor 0 is responsible (refloss's
    # choice where darknet's index would stay -1), and its NaN width makes wh and the total NaN.
    out[0, 0, 0, 2] = np.nan
    targets = refloss.yolov1_targets(out, [[BOX_A]], [[1]], **V1)
    assert targets.responsible[0, 0, 0].tolist() == [True, False]
    assert np.isnan(refloss.yolov1_loss(out, [[BOX_A]], [[1]], **V1)[1]["wh"])
