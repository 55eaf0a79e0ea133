"""YOLOv3 as eriklindernoren/PyTorch-YOLOv3 computes it (``refloss.yolov3_eriklindernoren_loss``, its VJP and its
target builder): hand-built scenes whose every expected number is worked out in a comment (its provenance), an
independent PyTorch re-implementation of the 2019 ``YOLOLayer`` loss compared term by term and gradient by gradient
on random scenes, gradient checks against autograd and finite differences, and bad input.

The scenes use sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4 and sigmoid(0) = 1/2, so that BCELoss(sigmoid(z), y) is
ln 2 at z = 0 (either y), ln(4/3) at (ln 3, 1) or (-ln 3, 0), and ln 4 at (ln 3, 0).
"""

import math

import numpy as np
import pytest

import refloss
from refloss.losses.detectors.yolov3 import TERMS as V3_TERMS
from refloss.testing._gradients import (Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences,
                                        relative_error)

from test_yolo import LN2, LN3, LN4_3, TERMS, approx, assert_terms  # (t_w = ln(r + 1e-16) moves ln r by ~1e-16)

NAME = "yolov3_eriklindernoren_loss"


def sq(x):
    """ln(x)^2: a size term at w = 0 against the target ln x."""
    return math.log(x) ** 2


# =============================================================================================================
# The lead's settings: C = 2, a 64 x 64 input, anchors in pixels
#   0 (8, 8), 1 (12, 20), 2 (16, 16), 3 (30, 20), 4 (40, 50), 5 (50, 60).
# Scale 0: stride 32, grid 2 x 2, anchors (4, 5), predictions 0..7;
# scale 1: stride 16, grid 4 x 4, anchors (2, 3), predictions 8..39;
# scale 2: stride 8, grid 8 x 8, anchors (0, 1), predictions 40..167.
# Prediction (a, j, i) of a scale is start + (a G + j) G + i. Output (N, 168, 7): t_x t_y t_w t_h z_obj z_0 z_1.
# =============================================================================================================

LEAD = dict(num_classes=2, anchors=((8, 8), (12, 20), (16, 16), (30, 20), (40, 50), (50, 60)),
            anchor_masks=((4, 5), (2, 3), (0, 1)), strides=(32, 16, 8), input_size=(64, 64))
P = 168

# Object O: xyxy (0.25, 0.25, 0.75, 0.5), class 1: centre (0.5, 0.375), size (0.5, 0.25) = 32 x 16 px (area 512).
#   Shape IoUs (min w * min h / (512 + anchor area - that)):
#     scale 0: (40, 50) 512 / 2000 = 0.256, (50, 60) 512 / 3000 = 0.1707 -> anchor 4 (a = 0)
#     scale 1: (16, 16) 256 / (512 + 256 - 256) = 0.5 exactly, (30, 20) 480 / (512 + 600 - 480) = 60/79 -> anchor 3
#     scale 2: (8, 8) 64 / 512 = 0.125, (12, 20) 192 / (512 + 240 - 192) = 12/35 -> anchor 1 (a = 1)
#   Cells and offsets (g = centre * G):
#     scale 0: g = (1, 0.75): cell (i, j) = (1, 0), t = (0, 0.75); prediction (0 * 2 + 0) * 2 + 1 = 1
#     scale 1: g = (2, 1.5): cell (2, 1), t = (0, 0.5); prediction 8 + (1 * 4 + 1) * 4 + 2 = 30
#     scale 2: g = (4, 3): cell (4, 3), t = (0, 0); prediction 40 + (1 * 8 + 3) * 8 + 4 = 132
#   Size targets ln(object px / anchor px): scale 0 (ln 0.8, ln 0.32), scale 1 (ln(16/15), ln 0.8), scale 2
#     (ln(8/3), ln 0.8).
#   The other anchor of O's cell: scale 0 prediction (1 * 2 + 0) * 2 + 1 = 5 (IoU 0.1707), scale 1 prediction
#     8 + (0 * 4 + 1) * 4 + 2 = 14 (IoU 0.5), scale 2 prediction 40 + (0 * 8 + 3) * 8 + 4 = 68 (IoU 0.125).
BOX_O = [0.25, 0.25, 0.75, 0.5]


def scene_a_output():
    """Every output 0 except the scale-0 positive (t_x = ln 3, objectness ln 3, class logits (0, ln 3)) and two
    negatives' objectness -ln 3: prediction 3 (scale 0, cell (1, 1), not O's) and 14 (IoU 0.5 with O)."""
    out = np.zeros((1, P, 7))
    out[0, 1] = [LN3, 0.0, 0.0, 0.0, LN3, 0.0, LN3]
    out[0, 3, 4] = -LN3
    out[0, 14, 4] = -LN3
    return out


# Scene A, ignore_thresh 0.5 (nothing ignored: 0.5 is not above 0.5), one positive per scale (K_s = 1):
#   xy: scale 0 (3/4 - 0)^2 + (1/2 - 3/4)^2 = 10/16; scale 1 (1/2)^2 + 0 = 1/4; scale 2 (1/2)^2 + (1/2)^2 = 1/2
#   wh: the squared size targets (outputs 0)
#   object: BCE(3/4, 1) = ln(4/3) at scale 0, ln 2 at scales 1 and 2
#   no_object: 100 x [scale 0: 7 negatives, 6 at ln 2 and prediction 3 at ln(4/3), / 7; scale 1: 31 negatives,
#     30 at ln 2 and prediction 14 at ln(4/3), / 31; scale 2: 127 negatives at ln 2, / 127]
#   class (mean over K_s C = 2): scale 0 (BCE(1/2, 0) + BCE(3/4, 1)) / 2 = (ln 2 + ln(4/3)) / 2; ln 2 at scales 1, 2
SCENE_A = {"xy": 10 / 16 + 1 / 4 + 1 / 2,
           "wh": sq(0.8) + sq(0.32) + sq(16 / 15) + sq(0.8) + sq(8 / 3) + sq(0.8),
           "object": LN4_3 + 2 * LN2,
           "no_object": 100 * ((6 * LN2 + LN4_3) / 7 + (30 * LN2 + LN4_3) / 31 + LN2),
           "class": (LN2 + LN4_3) / 2 + 2 * LN2}


def test_scene_a_every_term():
    assert_terms(refloss.yolov3_eriklindernoren_loss(scene_a_output(), [[BOX_O]], [[1]], **LEAD), SCENE_A)


def test_scene_a_targets():
    """The object is positive once at every scale (its best anchor of each scale), with the targets above."""
    t = refloss.yolov3_eriklindernoren_targets(scene_a_output(), [[BOX_O]], [[1]], **LEAD)
    np.testing.assert_array_equal(np.flatnonzero(t.positive[0]), [1, 30, 132])
    assert not t.ignored.any()
    np.testing.assert_array_equal(t.anchor, [[[4, 3, 1]]])  # (N, M, S)
    np.testing.assert_array_equal(t.prediction, [[[1, 30, 132]]])
    np.testing.assert_array_equal(np.flatnonzero(t.object_index[0] >= 0), [1, 30, 132])
    assert (t.object_index[0, [1, 30, 132]] == 0).all()
    np.testing.assert_allclose(t.box_target[0, 1], [0.0, 0.75, math.log(0.8), math.log(0.32)], rtol=1e-12)
    np.testing.assert_allclose(t.box_target[0, 30], [0.0, 0.5, math.log(16 / 15), math.log(0.8)], rtol=1e-12)
    np.testing.assert_allclose(t.box_target[0, 132], [0.0, 0.0, math.log(8 / 3), math.log(0.8)], rtol=1e-12)
    np.testing.assert_array_equal(np.delete(t.box_target[0], [1, 30, 132], axis=0), 0.0)
    np.testing.assert_array_equal(t.class_target[0, [1, 30, 132]], [[0.0, 1.0]] * 3)
    np.testing.assert_array_equal(np.delete(t.class_target[0], [1, 30, 132], axis=0), 0.0)
    # shape_iou: both anchors of O's cell at each scale, 0 elsewhere
    expected = np.zeros(P)
    expected[[1, 5, 14, 30, 68, 132]] = [0.256, 512 / 3000, 0.5, 60 / 79, 0.125, 12 / 35]
    np.testing.assert_allclose(t.shape_iou[0], expected, rtol=1e-12, atol=0)
    assert t.shape_iou[0, 14] == 0.5  # dyadic: (0.25 * 0.25) / (0.125 + 0.0625 - 0.0625), exactly


def test_scene_a_gradient():
    """(E5), cotangent 1, K_s = 1:
    prediction 1: x 2 (3/4)(3/4)(1/4) = 9/32; y 2 (1/2 - 3/4)(1/4) = -1/8; w -2 ln 0.8; h -2 ln 0.32;
      objectness 3/4 - 1 = -1/4; classes (1/2 - 0) / 2 = 1/4, (3/4 - 1) / 2 = -1/8
    prediction 30: x 2 (1/2)(1/4) = 1/4; y 0; w -2 ln(16/15); h -2 ln 0.8; objectness -1/2; classes 1/4, -1/4
    prediction 132: x 1/4; y 1/4; w -2 ln(8/3); h -2 ln 0.8; objectness -1/2; classes 1/4, -1/4
    negatives' objectness 100 sigma(z) / Q_s: 50/7 (25/7 at prediction 3), 50/31 (25/31 at 14), 50/127."""
    expected = np.zeros((1, P, 7))
    expected[0, 0:8, 4] = 50 / 7
    expected[0, 3, 4] = 25 / 7
    expected[0, 8:40, 4] = 50 / 31
    expected[0, 14, 4] = 25 / 31
    expected[0, 40:, 4] = 50 / 127
    expected[0, 1] = [9 / 32, -1 / 8, -2 * math.log(0.8), -2 * math.log(0.32), -1 / 4, 1 / 4, -1 / 8]
    expected[0, 30] = [1 / 4, 0.0, -2 * math.log(16 / 15), -2 * math.log(0.8), -1 / 2, 1 / 4, -1 / 4]
    expected[0, 132] = [1 / 4, 1 / 4, -2 * math.log(8 / 3), -2 * math.log(0.8), -1 / 2, 1 / 4, -1 / 4]
    grad, gb, gl = refloss.yolov3_eriklindernoren_loss_vjp(1.0, scene_a_output(), [[BOX_O]], [[1]], **LEAD)
    assert gb is None and gl is None
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


def test_ignore_threshold_is_strict():
    """Prediction 14 (anchor (16, 16) in O's scale-1 cell) has shape IoU exactly 0.5: a negative at 0.5, ignored
    just below. Ignored, its ln(4/3) leaves scale 1's mean: no_object's scale-1 part becomes 30 ln 2 / 30 = ln 2,
    and its gradient 25/31 becomes 0; the rest of scale 1's negatives get 100 (1/2) / 30 instead of / 31."""
    out = scene_a_output()
    at_half = refloss.yolov3_eriklindernoren_targets(out, [[BOX_O]], [[1]], ignore_thresh=0.5, **LEAD)
    assert not at_half.ignored.any()
    below = refloss.yolov3_eriklindernoren_targets(out, [[BOX_O]], [[1]], ignore_thresh=np.nextafter(0.5, 0.0),
                                                   **LEAD)
    np.testing.assert_array_equal(np.flatnonzero(below.ignored[0]), [14])
    np.testing.assert_array_equal(below.positive, at_half.positive)  # ignoring never changes the positives
    # At 0.15 prediction 5 (0.1707) is ignored too, 68 (0.125) is not; a positive is never "ignored" (0.256 > 0.15)
    low = refloss.yolov3_eriklindernoren_targets(out, [[BOX_O]], [[1]], ignore_thresh=0.15, **LEAD)
    np.testing.assert_array_equal(np.flatnonzero(low.ignored[0]), [5, 14])

    expected = {**SCENE_A, "no_object": 100 * ((6 * LN2 + LN4_3) / 7 + LN2 + LN2)}
    loss = refloss.yolov3_eriklindernoren_loss(out, [[BOX_O]], [[1]], ignore_thresh=np.nextafter(0.5, 0.0), **LEAD)
    assert_terms(loss, expected)
    # An inclusive rule (>=) would give this at 0.5; the strict rule gives SCENE_A's value, which differs.
    assert SCENE_A["no_object"] != approx(expected["no_object"])
    grad = refloss.yolov3_eriklindernoren_loss_vjp(1.0, out, [[BOX_O]], [[1]], ignore_thresh=np.nextafter(0.5, 0.0),
                                                   **LEAD)[0]
    assert grad[0, 14, 4] == 0.0
    assert grad[0, 8, 4] == approx(50 / 30)


# Object O2: xyxy (0.3125, 0, 0.9375, 0.75), class 0: centre (0.625, 0.375), size (0.625, 0.75) = 40 x 48 px
#   (area 1920). Shape IoUs: (40, 50) 1920 / 2000 = 0.96, (50, 60) 1920 / 3000 = 0.64 -> anchor 4;
#   (16, 16) 256 / 1920 = 2/15, (30, 20) 600 / 1920 = 0.3125 -> anchor 3; (8, 8) 64 / 1920 = 1/30,
#   (12, 20) 240 / 1920 = 0.125 -> anchor 1.
#   scale 0: g = (1.25, 0.75): O's cell (1, 0), prediction 1 again; t = (0.25, 0.75, ln 1 = 0, ln 0.96);
#     prediction 5 (anchor 5, IoU 0.64 > 0.5) is ignored
#   scale 1: g = (2.5, 1.5): O's cell (2, 1), prediction 30 again; t = (0.5, 0.5, ln(40/30), ln(48/20))
#   scale 2: g = (5, 3): cell (5, 3), prediction 40 + (1 * 8 + 3) * 8 + 5 = 133; t = (0, 0, ln(40/12), ln 2.4);
#     its other anchor: prediction 40 + 3 * 8 + 5 = 69 (IoU 1/30)
BOX_O2 = [0.3125, 0.0, 0.9375, 0.75]


def scene_b_output():
    """Every output 0 except the class logits (ln 3, ln 3) of prediction 1, which O and O2 share."""
    out = np.zeros((1, P, 7))
    out[0, 1, 5:] = [LN3, LN3]
    return out


# Scene B, boxes [O, O2], labels [1, 0]: O2 (later) takes predictions 1 and 30's box targets; O keeps 132, O2 has
#   133. Scale 2 has K = 2.
#   xy: scale 0 (1/2 - 1/4)^2 + (1/2 - 3/4)^2 = 1/8; scale 1 0 + 0; scale 2 x ((1/2)^2 + (1/2)^2) / 2 = 1/4, y 1/4
#   wh: scale 0 0 + ln^2 0.96; scale 1 ln^2(4/3) + ln^2 2.4; scale 2 (ln^2(8/3) + ln^2(10/3)) / 2 +
#     (ln^2 0.8 + ln^2 2.4) / 2
#   object 3 ln 2; no_object 100 x 3 ln 2 (every negative's logit 0: each mean is ln 2)
#   class: prediction 1 has targets (1, 1) (multi-hot) and logits (ln 3, ln 3): ln(4/3); ln 2 at scales 1, 2
SCENE_B = {"xy": 1 / 8 + 0 + 1 / 2,
           "wh": sq(0.96) + sq(4 / 3) + sq(2.4) + (sq(8 / 3) + sq(10 / 3)) / 2 + (sq(0.8) + sq(2.4)) / 2,
           "object": 3 * LN2, "no_object": 300 * LN2, "class": LN4_3 + 2 * LN2}


def test_two_objects_on_one_prediction():
    out = scene_b_output()
    t = refloss.yolov3_eriklindernoren_targets(out, [[BOX_O, BOX_O2]], [[1, 0]], **LEAD)
    np.testing.assert_array_equal(np.flatnonzero(t.positive[0]), [1, 30, 132, 133])
    np.testing.assert_array_equal(np.flatnonzero(t.ignored[0]), [5])
    np.testing.assert_array_equal(t.anchor, [[[4, 3, 1], [4, 3, 1]]])
    np.testing.assert_array_equal(t.prediction, [[[1, 30, 132], [1, 30, 133]]])
    np.testing.assert_array_equal(t.object_index[0, [1, 30, 132, 133]], [1, 1, 0, 1])
    np.testing.assert_allclose(t.box_target[0, 1], [0.25, 0.75, 0.0, math.log(0.96)], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t.box_target[0, 30], [0.5, 0.5, math.log(4 / 3), math.log(2.4)], rtol=1e-12)
    np.testing.assert_allclose(t.box_target[0, 132], [0.0, 0.0, math.log(8 / 3), math.log(0.8)], rtol=1e-12)
    np.testing.assert_allclose(t.box_target[0, 133], [0.0, 0.0, math.log(10 / 3), math.log(2.4)], rtol=1e-12)
    np.testing.assert_array_equal(t.class_target[0, [1, 30, 132, 133]], [[1, 1], [1, 1], [0, 1], [1, 0]])
    # shape_iou: the larger of the two objects' IoUs in a shared cell
    expected = np.zeros(P)
    expected[[1, 5, 14, 30, 68, 132, 69, 133]] = [0.96, 0.64, 0.5, 60 / 79, 0.125, 12 / 35, 1 / 30, 0.125]
    np.testing.assert_allclose(t.shape_iou[0], expected, rtol=1e-12, atol=0)
    assert_terms(refloss.yolov3_eriklindernoren_loss(out, [[BOX_O, BOX_O2]], [[1, 0]], **LEAD), SCENE_B)

    # In the other order O is later: O's targets at 1 and 30 (as scene A), object_index 1; the classes still add up.
    t = refloss.yolov3_eriklindernoren_targets(out, [[BOX_O2, BOX_O]], [[0, 1]], **LEAD)
    np.testing.assert_array_equal(t.object_index[0, [1, 30, 132, 133]], [1, 1, 1, 0])
    np.testing.assert_allclose(t.box_target[0, 1], [0.0, 0.75, math.log(0.8), math.log(0.32)], rtol=1e-12)
    np.testing.assert_array_equal(t.class_target[0, [1, 30]], [[1, 1], [1, 1]])


# The batch: image 0 is scene A (boxes [O, padding]), image 1 scene B (boxes [O, O2]). Every mean runs over the
#   whole batch: K_0 = 2, K_1 = 2, K_2 = 3; Q_0 = 7 + 6 = 13 (prediction 5 of image 1 ignored), Q_1 = 31 + 31,
#   Q_2 = 127 + 126.
#   xy: scale 0 x ((3/4)^2 + (1/2 - 1/4)^2) / 2 = 5/16, y ((1/4)^2 + (1/4)^2) / 2 = 1/16; scale 1 x (1/4 + 0) / 2,
#     y 0; scale 2 x 3 (1/4) / 3, y the same: 6/16 + 1/8 + 1/2 = 1
#   wh: scale 0 w (ln^2 0.8 + 0) / 2, h (ln^2 0.32 + ln^2 0.96) / 2; scale 1 w (ln^2(16/15) + ln^2(4/3)) / 2,
#     h (ln^2 0.8 + ln^2 2.4) / 2; scale 2 w (2 ln^2(8/3) + ln^2(10/3)) / 3, h (2 ln^2 0.8 + ln^2 2.4) / 3
#   object: scale 0 (ln(4/3) + ln 2) / 2; ln 2 at scales 1, 2
#   no_object: 100 x [(12 ln 2 + ln(4/3)) / 13 + (61 ln 2 + ln(4/3)) / 62 + ln 2]
#   class: scale 0 (ln 2 + ln(4/3) [image 0] + 2 ln(4/3) [image 1]) / 4; ln 2 at scales 1, 2
BATCH = {"xy": 1.0,
         "wh": (sq(0.8) + (sq(0.32) + sq(0.96))) / 2 + (sq(16 / 15) + sq(4 / 3) + sq(0.8) + sq(2.4)) / 2
         + (2 * sq(8 / 3) + sq(10 / 3) + 2 * sq(0.8) + sq(2.4)) / 3,
         "object": (LN4_3 + LN2) / 2 + 2 * LN2,
         "no_object": 100 * ((12 * LN2 + LN4_3) / 13 + (61 * LN2 + LN4_3) / 62 + LN2),
         "class": (LN2 + 3 * LN4_3) / 4 + 2 * LN2}


def batch():
    out = np.concatenate([scene_a_output(), scene_b_output()])
    return out, [[BOX_O, [0.0] * 4], [BOX_O, BOX_O2]], [[1, -1], [1, 0]]


def test_batch_means_over_the_whole_batch():
    out, boxes, labels = batch()
    got = refloss.yolov3_eriklindernoren_loss(out, boxes, labels, **LEAD)
    assert_terms(got, BATCH)
    # Dividing per image (each image's loss, then their mean) is another number where the images' counts differ:
    # wh (scale 2: K = 1 and 2) and no_object (scale 0: Q = 7 and 6); xy happens to agree (1.375 + 0.625) / 2.
    per_image = {k: (SCENE_A[k] + SCENE_B[k]) / 2 for k in TERMS}
    assert per_image["xy"] == approx(BATCH["xy"])
    for name in ("wh", "no_object"):
        assert float(got[1][name]) != approx(per_image[name]), name
    # The gradient divides by the batch's counts: scale-0 negatives 100 sigma(z) / 13; image 1's prediction 5 is
    # ignored; image 1's x of prediction 133: 2 (1/2)(1/4) / 3; image 0's x of prediction 1: (9/32) / 2.
    grad = refloss.yolov3_eriklindernoren_loss_vjp(1.0, out, boxes, labels, **LEAD)[0]
    assert grad[0, 3, 4] == approx(25 / 13)
    assert grad[1, 0, 4] == approx(50 / 13)
    assert grad[1, 5, 4] == 0.0
    assert grad[1, 133, 0] == approx(1 / 12)
    assert grad[0, 1, 0] == approx(9 / 64)
    assert grad[0, 14, 4] == approx(25 / 62)


@pytest.mark.parametrize("boxes, labels", [([[[0.0] * 4]], [[-1]]), (np.zeros((1, 0, 4)), np.zeros((1, 0), int))],
                         ids=["padding", "no_rows"])
def test_no_objects_in_the_batch(boxes, labels):
    """Scene A's output without its object: xy, wh, object and class are means of nothing (NaN, as torch), and so is
    the total; no_object = 100 x [(6 ln 2 + ln 4 [prediction 1, BCE(3/4, 0)] + ln(4/3) [prediction 3]) / 8 +
    (31 ln 2 + ln(4/3)) / 32 + ln 2]. The gradient: 100 sigma(z) / Q_s on the objectness column only."""
    out = scene_a_output()
    total, terms = refloss.yolov3_eriklindernoren_loss(out, boxes, labels, **LEAD)
    for name in ("xy", "wh", "object", "class"):
        assert np.isnan(terms[name]), name
    assert np.isnan(total)
    assert float(terms["no_object"]) == approx(100 * ((6 * LN2 + 2 * LN2 + LN4_3) / 8 + (31 * LN2 + LN4_3) / 32
                                                      + LN2))
    expected = np.zeros_like(out)
    expected[0, :8, 4] = 50 / 8
    expected[0, 1, 4] = 75 / 8
    expected[0, 3, 4] = 25 / 8
    expected[0, 8:40, 4] = 50 / 32
    expected[0, 14, 4] = 25 / 32
    expected[0, 40:, 4] = 50 / 128
    grad = refloss.yolov3_eriklindernoren_loss_vjp(1.0, out, boxes, labels, **LEAD)[0]
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=0)
    t = refloss.yolov3_eriklindernoren_targets(out, boxes, labels, **LEAD)
    assert not t.positive.any() and not t.ignored.any() and (t.shape_iou == 0).all()
    assert (t.anchor == -1).all() and (t.prediction == -1).all()


def test_no_objects_in_one_image_only_is_finite():
    """Image 1 without objects: its predictions are all negatives of the batch's means; every term is finite."""
    out = np.concatenate([scene_a_output(), np.zeros((1, P, 7))])
    total, terms = refloss.yolov3_eriklindernoren_loss(out, [[BOX_O], [[0.0] * 4]], [[1], [-1]], **LEAD)
    assert np.isfinite(total)
    # xy, wh, object and class as scene A (image 1 adds no positive); no_object's means gain 8, 32, 128 zeros' ln 2.
    expected = {**SCENE_A, "no_object": 100 * ((14 * LN2 + LN4_3) / 15 + (62 * LN2 + LN4_3) / 63 + LN2)}
    assert_terms((total, terms), expected)


def test_a_scale_without_negatives_makes_no_object_nan():
    """The docstring example's layout (C = 1; scale 0: grid 2 x 2, one anchor of 16 px, predictions 0-3; scale 1:
    grid 4 x 4, one anchor of 8 px, predictions 4-19) with four 16 x 16 px objects centred in the four quadrants:
    every scale-0 prediction is positive, so scale 0 has no negatives and its no_object mean is a mean of nothing:
    NaN, as torch's BCELoss of an empty selection (the re-implementation below agrees). Outputs 0; centres
    (0.25 | 0.75) * 2 = 0.5 | 1.5: scale-0 offsets 1/2, sizes ln(16/16) = 0; scale-1 g = 1 | 3: offsets 0, sizes
    ln(16/8) = ln 2. xy = 0 + (1/4 + 1/4); wh = 0 + 2 ln^2 2; object 2 ln 2; class 2 ln 2. The gradient of
    no_object comes from scale 1 only: 100 (1/2) / 12 on its 12 negatives' objectness."""
    settings = dict(num_classes=1, anchors=((8, 8), (16, 16)), anchor_masks=((1,), (0,)), strides=(32, 16),
                    input_size=(64, 64))
    boxes = [[[cx - 0.125, cy - 0.125, cx + 0.125, cy + 0.125] for cx in (0.25, 0.75) for cy in (0.25, 0.75)]]
    out = np.zeros((1, 20, 6))
    total, terms = refloss.yolov3_eriklindernoren_loss(out, boxes, [[0] * 4], **settings)
    assert np.isnan(terms["no_object"]) and np.isnan(total)
    expected = {"xy": 0.5, "wh": 2 * LN2 ** 2, "object": 2 * LN2, "class": 2 * LN2}
    for name, value in expected.items():
        assert float(terms[name]) == approx(value), name
    grad = refloss.yolov3_eriklindernoren_loss_vjp({"no_object": 1.0}, out, boxes, [[0] * 4], **settings)[0]
    t = refloss.yolov3_eriklindernoren_targets(out, boxes, [[0] * 4], **settings)
    assert t.positive[0, :4].all() and t.positive[0, 4:].sum() == 4
    expected_grad = np.zeros_like(out)
    expected_grad[0, 4:, 4] = np.where(t.positive[0, 4:], 0.0, 50 / 12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=0)


@pytest.mark.parametrize("obj_scale, noobj_scale", [(2.0, 100.0), (1.0, 3.0), (0.0, 0.0), (2.5, 0.5)])
def test_obj_and_noobj_scale_weigh_only_their_terms(obj_scale, noobj_scale):
    out = scene_a_output()
    expected = {**SCENE_A, "object": obj_scale * SCENE_A["object"],
                "no_object": noobj_scale / 100 * SCENE_A["no_object"]}
    got = refloss.yolov3_eriklindernoren_loss(out, [[BOX_O]], [[1]], obj_scale=obj_scale, noobj_scale=noobj_scale,
                                              **LEAD)
    assert_terms(got, expected)
    default = refloss.yolov3_eriklindernoren_loss_vjp(1.0, out, [[BOX_O]], [[1]], **LEAD)[0]
    grad = refloss.yolov3_eriklindernoren_loss_vjp(1.0, out, [[BOX_O]], [[1]], obj_scale=obj_scale,
                                                   noobj_scale=noobj_scale, **LEAD)[0]
    scaled = default.copy()
    positive = [1, 30, 132]
    scaled[0, :, 4] *= noobj_scale / 100
    scaled[0, positive, 4] = obj_scale * default[0, positive, 4]
    np.testing.assert_allclose(grad, scaled, rtol=1e-12, atol=0)


def test_docstring_example_by_hand():
    """C = 1, 64 px input; scale 0: stride 32, grid 2 x 2, anchor 16 px (predictions 0-3); scale 1: stride 16, grid
    4 x 4, anchor 8 px (predictions 4-19). Object (0.25, 0.25, 0.75, 0.75): centre (0.5, 0.5), size 0.5 = 32 px,
    positive at both scales (each has one anchor): scale 0 cell (1, 1), t = (0, 0, ln(32/16) = ln 2, ln 2);
    scale 1 cell (2, 2), t = (0, 0, ln 4, ln 4). Shape IoUs 0.25 and 1/16: none ignored. Outputs 0:
    xy = 2 [(1/2)^2 + (1/2)^2] = 1; wh = 2 ln^2 2 + 2 ln^2 4 = 10 ln^2 2 = 4.8045; object 2 ln 2 = 1.3863;
    no_object 100 (ln 2 + ln 2) = 138.6294; class 2 ln 2."""
    settings = dict(num_classes=1, anchors=((8, 8), (16, 16)), anchor_masks=((1,), (0,)), strides=(32, 16),
                    input_size=(64, 64))
    got = refloss.yolov3_eriklindernoren_loss(np.zeros((1, 20, 6)), [[[0.25, 0.25, 0.75, 0.75]]], [[0]], **settings)
    assert_terms(got, {"xy": 1.0, "wh": 10 * LN2 ** 2, "object": 2 * LN2, "no_object": 200 * LN2, "class": 2 * LN2})
    assert round(float(got[1]["wh"]), 4) == 4.8045 and round(float(got[1]["no_object"]), 4) == 138.6294


def test_terms_named_in_registry():
    assert V3_TERMS == TERMS and refloss.registry.get(NAME).terms == TERMS


# =============================================================================================================
# An independent PyTorch re-implementation of the 2019 YOLOLayer loss
# =============================================================================================================

COCO = dict(num_classes=3, anchors=((10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90),
                                     (156, 198), (373, 326)),
            anchor_masks=((6, 7, 8), (3, 4, 5), (0, 1, 2)), strides=(32, 16, 8), input_size=(128, 128))


def torch_bbox_wh_iou(torch, wh1, wh2):
    """utils.bbox_wh_iou: IoU of one anchor (w, h) with each target's (w, h), centred together, in grid units;
    the 1e-16 is in the union as there."""
    inter = torch.min(wh1[0], wh2[:, 0]) * torch.min(wh1[1], wh2[:, 1])
    return inter / ((wh1[0] * wh1[1] + 1e-16) + wh2[:, 0] * wh2[:, 1] - inter)


def torch_build_targets(torch, target, anchors, batch_size, grid, num_classes, ignore_thres):
    """utils.build_targets for one layer: ``target`` rows [image, class, cx, cy, w, h] (image units), ``anchors``
    (A, 2) in grid units (pixels / stride). Returns obj_mask, noobj_mask, tx, ty, tw, th, tcls, each
    (N, A, G, G[, C]), indexed [image, anchor, gj, gi]."""
    shape = (batch_size, len(anchors), grid, grid)
    obj_mask = torch.zeros(shape, dtype=torch.bool)
    noobj_mask = torch.ones(shape, dtype=torch.bool)
    tx, ty, tw, th = (torch.zeros(shape, dtype=torch.float64) for _ in range(4))
    tcls = torch.zeros(shape + (num_classes,), dtype=torch.float64)
    target_boxes = target[:, 2:6] * grid
    gxy, gwh = target_boxes[:, :2], target_boxes[:, 2:]
    ious = torch.stack([torch_bbox_wh_iou(torch, anchor, gwh) for anchor in anchors])  # (A, T)
    _, best_n = ious.max(0)  # the first on ties
    b, target_labels = target[:, :2].long().t()
    gx, gy = gxy.t()
    gw, gh = gwh.t()
    gi, gj = gxy.long().t()  # truncation of a positive number: the cell
    obj_mask[b, best_n, gj, gi] = True
    noobj_mask[b, best_n, gj, gi] = False
    for i, anchor_ious in enumerate(ious.t()):
        noobj_mask[b[i], anchor_ious > ignore_thres, gj[i], gi[i]] = False
    # The original writes the targets with one indexed assignment, whose order among duplicate indices torch does
    # not promise (torch 2.14's CPU kernel writes them in order: the last wins); this loop makes that explicit.
    for k in range(len(target)):
        at = (b[k], best_n[k], gj[k], gi[k])
        tx[at] = gx[k] - gx[k].floor()
        ty[at] = gy[k] - gy[k].floor()
        tw[at] = torch.log(gw[k] / anchors[best_n[k]][0] + 1e-16)
        th[at] = torch.log(gh[k] / anchors[best_n[k]][1] + 1e-16)
        tcls[at + (target_labels[k],)] = 1.0
    return obj_mask, noobj_mask, tx, ty, tw, th, tcls


def torch_eriklindernoren_terms(torch, output, boxes, labels, *, num_classes, anchors, anchor_masks, strides,
                                input_size, ignore_thresh=0.5, obj_scale=1.0, noobj_scale=100.0):
    """YOLOLayer.forward's losses for each layer, summed over the layers: the five terms (torch float64 scalars)
    of ``output`` (a float64 tensor (N, P, 5 + C) in refloss's flattened layout)."""
    mse, bce = torch.nn.MSELoss(), torch.nn.BCELoss()
    n = output.shape[0]
    rows = [[image, labels[image][k], *centre_size(boxes[image][k])] for image in range(n)
            for k in range(len(labels[image])) if labels[image][k] >= 0]
    target = torch.tensor(rows, dtype=torch.float64).reshape(-1, 6)
    terms = {name: 0.0 for name in TERMS}
    start = 0
    for mask, stride in zip(anchor_masks, strides):
        grid = input_size[0] // stride  # square input, as the 2019 code assumes
        size = len(mask) * grid * grid
        prediction = output[:, start:start + size].reshape(n, len(mask), grid, grid, 5 + num_classes)
        start += size
        x, y = torch.sigmoid(prediction[..., 0]), torch.sigmoid(prediction[..., 1])
        w, h = prediction[..., 2], prediction[..., 3]
        pred_conf, pred_cls = torch.sigmoid(prediction[..., 4]), torch.sigmoid(prediction[..., 5:])
        scaled_anchors = torch.tensor([(anchors[a][0] / stride, anchors[a][1] / stride) for a in mask],
                                      dtype=torch.float64)
        obj_mask, noobj_mask, tx, ty, tw, th, tcls = torch_build_targets(torch, target, scaled_anchors, n, grid,
                                                                         num_classes, ignore_thresh)
        tconf = obj_mask.double()
        terms["xy"] = terms["xy"] + mse(x[obj_mask], tx[obj_mask]) + mse(y[obj_mask], ty[obj_mask])
        terms["wh"] = terms["wh"] + mse(w[obj_mask], tw[obj_mask]) + mse(h[obj_mask], th[obj_mask])
        terms["object"] = terms["object"] + obj_scale * bce(pred_conf[obj_mask], tconf[obj_mask])
        terms["no_object"] = terms["no_object"] + noobj_scale * bce(pred_conf[noobj_mask], tconf[noobj_mask])
        terms["class"] = terms["class"] + bce(pred_cls[obj_mask], tcls[obj_mask])
    return terms


def centre_size(box):
    x1, y1, x2, y2 = box
    return (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1


def compare_with_torch(torch, output, boxes, labels, cotangent, settings, **weights):
    """The largest error (relative to the largest entry, as refloss.testing measures it) of refloss's five terms
    and its VJP against the re-implementation's terms and torch autograd's gradient of
    sum_k (c_0 + c_k) term_k."""
    leaf = torch.tensor(output, dtype=torch.float64, requires_grad=True)
    expected = torch_eriklindernoren_terms(torch, leaf, boxes, labels, **settings, **weights)
    scalar = sum((cotangent[0] + cotangent[1 + k]) * expected[name] for k, name in enumerate(TERMS))
    (expected_grad,) = torch.autograd.grad(scalar, leaf, allow_unused=True)
    expected_grad = np.zeros_like(output) if expected_grad is None else expected_grad.numpy()
    total, terms = refloss.yolov3_eriklindernoren_loss(output, boxes, labels, **settings, **weights)
    grad = refloss.yolov3_eriklindernoren_loss_vjp(dict(zip(("total",) + TERMS, cotangent)), output, boxes, labels,
                                                   **settings, **weights)[0]
    errors = {name: relative_error(np.float64(terms[name]), expected[name].detach().numpy()) for name in TERMS}
    errors["total"] = relative_error(np.float64(total), sum(expected.values()).detach().numpy())
    errors["gradient"] = relative_error(grad, expected_grad)
    return errors


def random_scene(rng, images, rows, smallest, largest):
    """Boxes of sides uniform in [smallest, largest] (image units) inside the image; some rows padding (-1)."""
    sizes = rng.uniform(smallest, largest, size=(images, rows, 2))
    centres = rng.uniform(sizes / 2, 1 - sizes / 2)
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=-1)
    labels = rng.integers(0, 2, size=(images, rows))
    labels[rng.uniform(size=(images, rows)) < 0.25] = -1
    return boxes, labels


TORCH_SCENES = [  # (settings, seed, images, rows, smallest side, largest side in image units)
    (LEAD, 0, 3, 4, 0.08, 0.9),
    (LEAD, 1, 2, 6, 0.5, 0.95),  # large boxes: both scale-0 anchors near the object's shape, so some ignored
    (LEAD, 2, 4, 3, 0.1, 0.5),
    (COCO, 3, 3, 5, 0.08, 1.0),
    (COCO, 4, 2, 4, 0.6, 1.0),
]


def torch_case(settings, seed, images, rows, smallest, largest):
    rng = np.random.default_rng(seed)
    p = sum(len(m) * (settings["input_size"][0] // s) ** 2 for m, s in zip(settings["anchor_masks"],
                                                                          settings["strides"]))
    output = np.clip(rng.normal(0.0, 2.0, size=(images, p, 5 + settings["num_classes"])), -7.5, 7.5)
    boxes, labels = random_scene(rng, images, rows, smallest, largest)
    labels = np.where(labels >= 0, labels % settings["num_classes"], -1)
    return output, boxes, labels, rng.normal(size=6)


@pytest.mark.parametrize("settings, seed, images, rows, smallest, largest", TORCH_SCENES,
                         ids=[f"{'lead' if s is LEAD else 'coco128'}-seed{seed}" for s, seed, *_ in TORCH_SCENES])
def test_matches_torch_reimplementation(settings, seed, images, rows, smallest, largest):
    """refloss against a PyTorch re-implementation of eriklindernoren/PyTorch-YOLOv3's 2019 ``YOLOLayer`` loss and
    ``build_targets``, written here from the published code's semantics (that version is not a pip package).
    Behaviour it follows, line by line: each layer reshapes its slice of the output to (N, A, G, G, 5 + C); x, y,
    objectness and classes through sigmoid, w and h raw; target rows [image, class, cx, cy, w, h] scaled by the
    grid; ``bbox_wh_iou`` (1e-16 in the union) of the target's (w, h) with the layer's anchors / stride; ``best_n =
    ious.max(0)``; ``gi, gj = gxy.long()``; obj_mask at (b, best_n, gj, gi), noobj_mask cleared there and wherever
    ``anchor_ious > ignore_thres`` in the target's cell; tx = gx - gx.floor(), tw = log(gw / anchor_w + 1e-16);
    tcls one-hot per target (multi-hot when targets share a prediction); ``nn.MSELoss()`` on x, y, w, h and
    ``nn.BCELoss()`` on objectness (target 1 on obj_mask, 0 on noobj_mask, times obj_scale and noobj_scale) and
    classes, each a mean over the batch; the terms summed over the layers. Float64, CPU."""
    torch = pytest.importorskip("torch")
    output, boxes, labels, cotangent = torch_case(settings, seed, images, rows, smallest, largest)
    errors = compare_with_torch(torch, output, boxes, labels, cotangent, settings)
    assert max(errors.values()) < 1e-12, errors


def test_torch_scenes_exercise_the_cases():
    """The random scenes are not trivial: together they have ignored anchors, objects sharing a prediction and
    positives at every scale of both layouts."""
    ignored = shared = 0
    for settings, seed, *shape in TORCH_SCENES:
        output, boxes, labels, _ = torch_case(settings, seed, *shape)
        t = refloss.yolov3_eriklindernoren_targets(output, boxes, labels, **settings)
        ignored += int(t.ignored.sum())
        for image in range(len(labels)):
            for s in range(len(settings["strides"])):
                chosen = t.prediction[image, :, s][t.prediction[image, :, s] >= 0]
                shared += len(chosen) - len(set(chosen.tolist()))
    assert ignored >= 3 and shared >= 1, (ignored, shared)


@pytest.mark.parametrize("scene", ["batch", "scene_b_reversed", "no_objects", "no_negatives"])
@pytest.mark.parametrize("weights", [{}, {"ignore_thresh": 0.25, "obj_scale": 2.0, "noobj_scale": 0.5}])
def test_hand_scenes_match_torch_reimplementation(scene, weights):
    """The hand-built scenes (two objects on one prediction, an ignored anchor, different counts per image, an
    empty batch: NaN terms whose gradient is empty) against the re-implementation."""
    torch = pytest.importorskip("torch")
    if scene == "batch":
        output, boxes, labels = batch()
    elif scene == "scene_b_reversed":
        output, boxes, labels = scene_b_output(), [[BOX_O2, BOX_O]], [[0, 1]]
    elif scene == "no_objects":
        output, boxes, labels = np.concatenate([scene_a_output()] * 2), np.zeros((2, 0, 4)), np.zeros((2, 0), int)
    else:  # test_a_scale_without_negatives_makes_no_object_nan's scene, with random outputs
        settings = dict(num_classes=1, anchors=((8, 8), (16, 16)), anchor_masks=((1,), (0,)), strides=(32, 16),
                        input_size=(64, 64))
        boxes = [[[cx - 0.125, cy - 0.125, cx + 0.125, cy + 0.125] for cx in (0.25, 0.75) for cy in (0.25, 0.75)]]
        output, labels = np.random.default_rng(9).normal(size=(1, 20, 6)), [[0] * 4]
    cotangent = np.array([0.7, -1.3, 0.4, 2.0, -0.6, 1.1])
    errors = compare_with_torch(torch, output, boxes, np.asarray(labels), cotangent,
                                settings if scene == "no_negatives" else LEAD, **weights)
    # NaN terms must be NaN on both sides (relative_error is inf otherwise), and the finite rest agree
    assert max(errors.values()) < 1e-12, errors


def per_image_means(output, boxes, labels, **settings):
    """Each image's loss, then their mean (as darknet and yolov3_loss normalise): another number wherever the
    images' counts of positives or negatives differ."""
    losses = [refloss.yolov3_eriklindernoren_loss(output[n:n + 1], boxes[n:n + 1], labels[n:n + 1], **settings)[1]
              for n in range(len(output))]
    return {name: np.mean([terms[name] for terms in losses]) for name in TERMS}


def darknet_noobj_weight(output, boxes, labels, **settings):
    """darknet's negatives' weight 1 instead of YOLOLayer's noobj_scale 100."""
    return refloss.yolov3_eriklindernoren_loss(output, boxes, labels, noobj_scale=1.0, **settings)[1]


def darknet_ignore_thresh(output, boxes, labels, **settings):
    """darknet's yolov3.cfg ignore_thresh 0.7 instead of YOLOLayer's 0.5."""
    return refloss.yolov3_eriklindernoren_loss(output, boxes, labels, ignore_thresh=0.7, **settings)[1]


@pytest.mark.parametrize("wrong", [per_image_means, darknet_noobj_weight, darknet_ignore_thresh])
def test_torch_comparison_rejects_wrong_conventions(wrong):
    """The re-implementation tells each realistic wrong convention from the right one by far more than 1e-12 on a
    random scene of the comparison (shape IoUs in (0.5, 0.7] exist, and the images' counts differ). Measured
    errors: per-image means 0.018, noobj weight 1 0.99, ignore_thresh 0.7 0.022."""
    torch = pytest.importorskip("torch")
    output, boxes, labels, _ = torch_case(*TORCH_SCENES[0])
    expected = torch_eriklindernoren_terms(torch, torch.tensor(output), boxes, labels, **LEAD)
    got = wrong(output, boxes, labels, **LEAD)
    assert max(relative_error(np.float64(got[k]), expected[k].numpy()) for k in TERMS) > 1e-6


# =============================================================================================================
# Gradients against autograd and finite differences, the assignment held, random scenes
# =============================================================================================================

SMALL = dict(num_classes=2, anchors=((8, 8), (12, 20), (16, 16), (30, 20)), anchor_masks=((2, 3), (0, 1)),
             strides=(32, 16), input_size=(64, 64))  # P = 8 + 32 = 40: finite differences stay fast


def gradient_case(settings, seed, params=None):
    rng = np.random.default_rng(seed)
    p = sum(len(m) * (settings["input_size"][0] // s) ** 2 for m, s in zip(settings["anchor_masks"],
                                                                          settings["strides"]))
    output = np.clip(rng.normal(0.0, 2.0, size=(2, p, 5 + settings["num_classes"])), -7.5, 7.5)  # |z| < 8
    boxes, labels = random_scene(rng, 2, 3, 0.1, 0.9)
    labels[:, 0] = labels[:, 0] % 2  # at least one object per image
    return Case(inputs=(output, boxes, labels), params={**settings, **(params or {})}, reduction=None,
                grad_output=rng.normal(size=6))


GRADIENT_CASES = [(SMALL, 0, {}, True), (SMALL, 1, {"ignore_thresh": 0.3}, False),
                  (SMALL, 2, {"obj_scale": 2.0, "noobj_scale": 7.0, "ignore_thresh": 0.3}, True),
                  (SMALL, 3, {"ignore_thresh": 0.0}, False), (LEAD, 5, {"ignore_thresh": 0.3}, False),
                  (LEAD, 6, {}, False)]


@pytest.mark.parametrize("settings, seed, params, differences", GRADIENT_CASES,
                         ids=[f"{'small' if c[0] is SMALL else 'lead'}-seed{c[1]}" for c in GRADIENT_CASES])
def test_vjp_against_autograd_and_finite_differences(settings, seed, params, differences):
    """Finite differences (1,100 forward calls at P = 40) on two of the cases only, to keep the file fast."""
    case = gradient_case(settings, seed, params)
    assert_vjp_matches_autograd(NAME, case)
    if differences:
        assert_vjp_matches_finite_differences(NAME, case)


def test_gradient_cases_have_ignored_anchors():
    ignored = [refloss.yolov3_eriklindernoren_targets(*gradient_case(settings, seed, params).inputs, **settings,
                                                     ignore_thresh=params.get("ignore_thresh", 0.5)).ignored.sum()
               for settings, seed, params, _ in GRADIENT_CASES]
    assert ignored[2] > 0 and ignored[4] > 0, ignored  # the finite-difference case and a lead-settings one


def test_hand_scene_vjp_against_autograd_and_finite_differences():
    """The batch of scenes A and B (shared predictions, an ignored anchor) with a per-term cotangent."""
    out, boxes, labels = batch()
    case = Case(inputs=(out, np.asarray(boxes), np.asarray(labels)), params=LEAD, reduction=None,
                grad_output=np.array([1.0, 0.5, -1.0, 2.0, 0.25, -0.75]))
    assert_vjp_matches_autograd(NAME, case)


# =============================================================================================================
# Bad input
# =============================================================================================================

def call(output=None, boxes=None, labels=None, **params):
    output = scene_a_output() if output is None else output
    return refloss.yolov3_eriklindernoren_loss(output, [[BOX_O]] if boxes is None else boxes,
                                               [[1]] if labels is None else labels, **{**LEAD, **params})


@pytest.mark.parametrize("kwargs, match", [
    (dict(ignore_thresh=1.5), r"ignore_thresh must be in \[0, 1\], got 1.5"),
    (dict(ignore_thresh=-0.1), r"ignore_thresh must be in \[0, 1\], got -0.1"),
    (dict(ignore_thresh=float("nan")), r"ignore_thresh must be in \[0, 1\], got nan"),
    (dict(obj_scale=-1.0), r"obj_scale must be in \[0, inf\), got -1.0"),
    (dict(noobj_scale=-1.0), r"noobj_scale must be in \[0, inf\), got -1.0"),
    (dict(boxes=[[[0.3, 0.2, 0.3, 0.6]]]), r"boxes\[0, 0\] = .* has zero width or height"),
    (dict(boxes=[[[0.3, 0.2, 0.6, 0.2]]]), r"zero width or height"),
    (dict(output=np.zeros((1, 167, 7))), r"output must have shape \(N, 168, 7\) \(P = 2 x 2 x 2 \+ 2 x 4 x 4 \+ "
                                         r"2 x 8 x 8 predictions"),
    (dict(output=np.zeros((1, 168, 8))), r"output must have shape \(N, 168, 7\)"),
    (dict(labels=[[2]]), r"labels\[0, 0\] = 2 is outside \[0, 2\)"),
    (dict(labels=[[-3]]), r"labels\[0, 0\] = -3 is outside \[0, 2\)"),
    (dict(boxes=[[[0.1, 0.1, 1.2, 0.3]]]), r"lies outside the image"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        call(**kwargs)


def test_bad_input_in_vjp_and_targets():
    with pytest.raises(ValueError, match=r"noobj_scale must be in \[0, inf\)"):
        refloss.yolov3_eriklindernoren_loss_vjp(1.0, scene_a_output(), [[BOX_O]], [[1]], noobj_scale=-2.0, **LEAD)
    with pytest.raises(ValueError, match=r"ignore_thresh must be in \[0, 1\]"):
        refloss.yolov3_eriklindernoren_targets(scene_a_output(), [[BOX_O]], [[1]], ignore_thresh=2.0, **LEAD)
    with pytest.raises(ValueError, match=r"zero width or height"):
        refloss.yolov3_eriklindernoren_targets(scene_a_output(), [[[0.3, 0.2, 0.3, 0.6]]], [[1]], **LEAD)
    with pytest.raises(ValueError, match=r"grad_output names unknown outputs \['size'\]"):
        refloss.yolov3_eriklindernoren_loss_vjp({"size": 1.0}, scene_a_output(), [[BOX_O]], [[1]], **LEAD)
