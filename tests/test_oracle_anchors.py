"""The anchor detectors' mpmath oracle (ssd_loss, retinanet_loss, rpn_loss, fast_rcnn_loss): its own decisions and
terms on hand-built scenes whose numbers are worked out below, its gradient assembled from the groups against
mpmath.diff of the terms, and its values against torchvision's own loss code on the same inputs and matches."""

from __future__ import annotations

import math
import types

import mpmath
import numpy as np
import pytest

from refloss.conformance.oracle import ORACLES
from refloss.conformance.oracle.detectors import _Group, evaluate_detector, scene

LN2 = math.log(2)
# Four quadrant anchors of the unit image, and a fifth, (0, 0, 0.5, 0.875), that overlaps the first.
QUADRANTS = np.array([[0, 0, 0.5, 0.5], [0.5, 0, 1, 0.5], [0, 0.5, 0.5, 1], [0.5, 0.5, 1, 1]])
TALL = np.array([[0, 0, 0.5, 0.875]])
ANCHORS = np.concatenate([QUADRANTS, TALL])
# G = (0, 0, 0.5, 0.375): IoU 0.1875 / 0.25 = 0.75 with anchor 0, 0.1875 / 0.4375 = 3/7 = 0.4286 with anchor 4, 0
# with the others. H = (0.5, 0.5, 0.75, 0.75): IoU 0.0625 / 0.25 = 0.25 with anchor 3 (its best), 0 elsewhere.
G = [0, 0, 0.5, 0.375]
H = [0.5, 0.5, 0.75, 0.75]
# torchvision's code of G relative to anchor 0 (weights 1): centres (0.25, 0.1875) and (0.25, 0.25), sizes
# (0.5, 0.375) and (0.5, 0.5): (0, -0.0625 / 0.5, 0, ln 0.75) = (0, -0.125, 0, ln 0.75). Of H relative to anchor 3:
# centres (0.625, 0.625) and (0.75, 0.75), sizes 0.25 and 0.5: (-0.25, -0.25, -ln 2, -ln 2).
CODE_G = np.array([0, -0.125, 0, math.log(0.75)])
CODE_H = np.array([-0.25, -0.25, -LN2, -LN2])


def _values(expectation) -> np.ndarray:
    return np.array([float(v) for v in expectation.value.exact])


def _grad(expectation, name: str) -> np.ndarray:
    tensor = expectation.grads[name]
    return np.array([float(v) for v in tensor.exact]).reshape(tensor.shape)


def _evaluate(loss: str, inputs: dict, params: dict | None = None, cotangent=None):
    return evaluate_detector(ORACLES[loss], inputs, params or {}, None,
                             None if cotangent is None else np.asarray(cotangent, dtype=np.float64))


def _smooth_l1(d: np.ndarray, beta: float) -> np.ndarray:
    d = np.abs(d)
    return np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)


# ---- SSD ----------------------------------------------------------------------------------------------------------

def _ssd_inputs(boxes, labels, logits=None, deltas=None):
    boxes, labels = np.asarray(boxes, float), np.asarray(labels)
    n, p = labels.shape[0], len(QUADRANTS)
    return {"bbox_regression": np.zeros((n, p, 4)) if deltas is None else np.asarray(deltas, float),
            "cls_logits": np.zeros((n, p, 3)) if logits is None else np.asarray(logits, float),
            "anchors": QUADRANTS, "boxes": boxes, "labels": labels}


def test_ssd_one_object_and_mining():
    # G (label 1) matches prior 0 (IoU 0.75 >= 0.5); priors 1..3 are candidates. With ratio 1 the one negative with
    # the largest background CE is mined: rows [0, 0, 2] (prior 1, CE log(2 + e^2)), [0, 0, 0] (prior 2, ln 3),
    # [0, 3, 0] (prior 3, log(2 + e^3), the largest): prior 3. Prior 0's row [0, 0, 0] against class 1: ln 3.
    # classification = (ln 3 + log(2 + e^3)) / 1. Prior 0's deltas (0.5, -2, 0, 0) against CODE_G with beta 1:
    # 0.5 * 0.625^2 + (|-1.875| - 0.5) + 0 + 0.5 * ln(0.75)^2.
    logits = np.zeros((1, 4, 3))
    logits[0, 1, 2], logits[0, 3, 1] = 2.0, 3.0
    deltas = np.zeros((1, 4, 4))
    deltas[0, 0] = [0.5, -2, 0, 0]
    inputs = _ssd_inputs([[G]], [[1]], logits, deltas)
    decisions = scene(ORACLES["ssd_loss"], inputs, {"neg_to_pos_ratio": 1}).decisions
    assert decisions["matches"] == {0: [0, -1, -1, -1]} and decisions["mined"] == {0: [3]}
    expected = _evaluate("ssd_loss", inputs, {"neg_to_pos_ratio": 1}, [1.0, 0.0, 0.0])
    # (CODE_G is the weight-1 code; SSD's divides it by the variances (0.1, 0.1, 0.2, 0.2): (0, -1.25, 0, 5 ln 0.75).)
    box = float(np.sum(_smooth_l1(deltas[0, 0] - CODE_G * [10, 10, 5, 5], 1.0)))
    cls = math.log(3) + math.log(2 + math.exp(3))
    np.testing.assert_allclose(_values(expected), [box + cls, box, cls], rtol=1e-15)
    # Gradient at cotangent (1, 0, 0): prior 0's row softmax - onehot(1) = (1/3, -2/3, 1/3); prior 3's row
    # softmax([0, 3, 0]) - onehot(0); prior 1 and 2 (not mined) get 0. Deltas: d/beta inside, sign(d) outside.
    grad = _grad(expected, "cls_logits")
    np.testing.assert_allclose(grad[0, 0], [1 / 3, -2 / 3, 1 / 3], rtol=1e-15)
    e3 = math.exp(3)
    np.testing.assert_allclose(grad[0, 3], [1 / (2 + e3) - 1, e3 / (2 + e3), 1 / (2 + e3)], rtol=1e-15)
    assert np.all(grad[0, 1:3] == 0)
    d = deltas[0, 0] - CODE_G * [10, 10, 5, 5]
    np.testing.assert_allclose(_grad(expected, "bbox_regression")[0, 0], np.where(np.abs(d) < 1, d, np.sign(d)),
                               rtol=1e-15)
    # The default ratio 3: k = min(3, 3) = 3, every candidate mined.
    assert scene(ORACLES["ssd_loss"], inputs, {}).decisions["mined"] == {0: [1, 2, 3]}


def test_ssd_mining_ties_go_to_the_lower_prior_and_nan_ranks_first():
    # All rows zero: every background CE is ln 3; ratio 1 keeps one: prior 1, the lowest candidate.
    inputs = _ssd_inputs([[G]], [[1]])
    assert scene(ORACLES["ssd_loss"], inputs, {"neg_to_pos_ratio": 1}).decisions["mined"] == {0: [1]}
    # A NaN in prior 2's row ranks it above every number; the classification term is NaN.
    logits = np.zeros((1, 4, 3))
    logits[0, 2, 1] = np.nan
    inputs = _ssd_inputs([[G]], [[1]], logits)
    assert scene(ORACLES["ssd_loss"], inputs, {"neg_to_pos_ratio": 1}).decisions["mined"] == {0: [2]}
    value = _values(_evaluate("ssd_loss", inputs, {"neg_to_pos_ratio": 1}))
    assert np.isnan(value[2]) and np.isnan(value[0]) and np.isfinite(value[1])


def test_ssd_shared_best_prior_goes_to_the_later_ground_truth_and_low_quality_is_forced():
    # G1 = (0, 0, 0.5, 0.5) (IoU 1 with prior 0) and G2 = (0, 0, 0.5, 0.25) (IoU 0.5 with prior 0, its best): the
    # threshold gives prior 0 to G1, then forcing in order gives it to G1, then to G2. Image 1: (0.5, 0.5, 0.75, 0.75)
    # has IoU 0.25 < 0.5 with prior 3, its best: forced anyway.
    boxes = [[[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.25]], [H, [0, 0, 0, 0]]]
    inputs = _ssd_inputs(boxes, [[1, 2], [2, -1]])
    decisions = scene(ORACLES["ssd_loss"], inputs, {}).decisions
    assert decisions["matches"] == {0: [1, -1, -1, -1], 1: [-1, -1, -1, 0]} and decisions["positives"] == 2


def test_ssd_no_objects():
    # No object anywhere: no positive, so k = 0 negatives: both terms 0 (divided by max(1, 0) = 1), gradient 0.
    inputs = _ssd_inputs([[[0, 0, 0, 0]]], [[-1]], np.random.default_rng(0).normal(size=(1, 4, 3)))
    expected = _evaluate("ssd_loss", inputs, {}, [1.0, 1.0, 1.0])
    assert _values(expected).tolist() == [0, 0, 0] and np.all(_grad(expected, "cls_logits") == 0)


# ---- RetinaNet ----------------------------------------------------------------------------------------------------

def _retina_inputs(deltas=None, logits=None):
    # Image 0: G (label 0) and H (label 1); image 1: no objects. C = 2 columns.
    return {"cls_logits": np.zeros((2, 5, 2)) if logits is None else logits,
            "bbox_regression": np.zeros((2, 5, 4)) if deltas is None else deltas, "anchors": ANCHORS,
            "boxes": np.array([[G, H], [[0, 0, 0, 0]] * 2], float), "labels": np.array([[0, 1], [-1, -1]])}


def test_retinanet_matching_bands_and_low_quality():
    # Image 0: anchor 0 -> G (0.75 >= 0.5); anchor 4's best is G at 3/7 in [0.4, 0.5): ignored (-2); anchor 3's best
    # is H at 0.25 < 0.4, but it is H's best anchor: restored (low-quality match); anchors 1, 2: background.
    decisions = scene(ORACLES["retinanet_loss"], _retina_inputs(), {}).decisions
    assert decisions["matches"] == {0: [0, -1, -1, 1, -2], 1: [-1] * 5}


def test_retinanet_l1_hand_scene():
    # Logits 0: focal(0, 1) = 0.25 (1/2)^2 ln 2 = ln2/16, focal(0, 0) = 0.75 (1/2)^2 ln 2 = 3 ln2/16.
    # Image 0 (anchor 4 ignored): anchor 0 (label 0): ln2/16 + 3ln2/16; anchors 1, 2: 4 x 3ln2/16; anchor 3 (label 1):
    # 3ln2/16 + ln2/16; sum 20 ln2/16, over 2 positives: 0.625 ln 2. Image 1: 5 x 2 x 3 ln2/16 = 1.875 ln 2, over 1.
    # classification = (0.625 + 1.875) ln 2 / 2 = 1.25 ln 2.
    # bbox (deltas 0, L1): image 0 sum |CODE_G| + |CODE_H| = 0.125 + ln(4/3) + 0.5 + 2 ln 2, over 2; image 1 0; / 2.
    expected = _evaluate("retinanet_loss", _retina_inputs(), {}, [0.0, 0.0, 1.0])
    box = (0.125 + math.log(4 / 3) + 0.5 + 2 * LN2) / 4
    np.testing.assert_allclose(_values(expected), [1.25 * LN2 + box, 1.25 * LN2, box], rtol=1e-15)
    # Gradient at cotangent (0, 0, 1): d/delta = sign(delta - t) / 2 / 2 = -sign(t) / 4; at anchor 0's dx and dw
    # (t = 0, delta = 0: the L1 kink) the expectation 0 with the interval [-1/4, 1/4].
    grad = _grad(expected, "bbox_regression")
    np.testing.assert_allclose(grad[0, 0], [0, 0.25, 0, 0.25], atol=0)
    np.testing.assert_allclose(grad[0, 3], [0.25] * 4)
    tensor = expected.grads["bbox_regression"]
    assert (float(tensor.lo[0]), float(tensor.hi[0])) == (-0.25, 0.25)
    assert np.all(grad[0, [1, 2, 4]] == 0) and np.all(grad[1] == 0)


def test_retinanet_smooth_l1_and_iou_losses():
    # smooth_l1 with beta 0.25: |t| = 0.125 < 0.25 gives 0.125^2 / 0.5, ln(4/3) = 0.2877 gives 0.2877 - 0.125,
    # and image 0's other anchor 0.25 - 0.125 twice, ln 2 - 0.125 twice.
    expected = _evaluate("retinanet_loss", _retina_inputs(), {"box_loss": "smooth_l1", "beta": 0.25})
    image0 = float(np.sum(_smooth_l1(CODE_G, 0.25)) + np.sum(_smooth_l1(CODE_H, 0.25)))
    assert _values(expected)[2] == pytest.approx(image0 / 4, rel=1e-15)
    # giou with deltas 0: the decoded boxes are the anchors. Anchor 0 vs G: IoU 0.1875 / (0.25 + 1e-7), the
    # enclosing box is anchor 0 (area 0.25 = the union), so the GIoU penalty (0.25 - 0.25) / (0.25 + 1e-7) = 0.
    # Anchor 3 vs H: IoU 0.0625 / (0.25 + 1e-7), penalty 0. diou: centre distances 0.0625^2 and 0.125^2 * 2 over
    # the enclosing diagonals 0.5^2 * 2 (+ 1e-7). ciou: + alpha v with v = (4 / pi^2)(atan(0.5/0.375) - atan(1))^2
    # for G (H and anchor 3 are both square: v = 0).
    eps = 1e-7
    iou_g, iou_h = 0.1875 / (0.25 + eps), 0.0625 / (0.25 + eps)
    giou = (1 - iou_g) + (1 - iou_h)
    diou = giou + 0.0625 ** 2 / (0.5 + eps) + 2 * 0.125 ** 2 / (0.5 + eps)
    v = 4 / math.pi ** 2 * (math.atan(0.5 / 0.375) - math.atan(1)) ** 2
    ciou = diou + v / (1 - iou_g + v + eps) * v
    for box_loss, image0 in (("giou", giou), ("diou", diou), ("ciou", ciou)):
        expected = _evaluate("retinanet_loss", _retina_inputs(), {"box_loss": box_loss}, [1.0, 0.0, 0.0])
        assert _values(expected)[2] == pytest.approx(image0 / 4, rel=1e-14), box_loss
        # The decoded boxes touch their ground truths (shared corners): one-sided derivatives, an interval.
        assert expected.grads["bbox_regression"].lo is not None


def _terms_by_diff(loss: str, inputs: dict, params: dict, cotangent: np.ndarray) -> dict[str, np.ndarray]:
    """The gradient of sum_k (c_0 + c_k) term_k, each term rebuilt from the oracle's groups (weight * textbook /
    divisor), by mpmath.diff along every head entry: an independent check of how the groups are assembled."""
    oracle = ORACLES[loss]
    with mpmath.workdps(40):
        case = scene(oracle, inputs, params)
        flats = {name: [mpmath.mpf(float(v)) for v in np.ravel(inputs[name])] for name in oracle.heads}
        groups: list[_Group] = case.groups()

        def objective(name: str, index: int, t):
            values = dict(flats)
            values[name] = flats[name][:index] + [t] + flats[name][index + 1:]
            total = 0
            for group in groups:
                k = oracle.term_names.index(group.term)
                factor = (cotangent[0] + cotangent[k + 1]) / case.divisor_of(group.term)
                total += factor * group.weight.value * group.textbook([values[n][i] for n, i in group.indices])
            return total

        grads = {}
        for name in oracle.heads:
            touched = {i for group in groups for n, i in group.indices if n == name}
            grads[name] = np.array([float(mpmath.diff(lambda t: objective(name, i, t), flats[name][i],
                                                      h=mpmath.mpf(2) ** -60)) if i in touched else 0.0
                                    for i in range(len(flats[name]))]).reshape(np.shape(inputs[name]))
        return grads


@pytest.mark.parametrize("box_loss", ["l1", "smooth_l1", "giou", "diou", "ciou"])
def test_retinanet_gradient_against_mpmath_diff(box_loss):
    rng = np.random.default_rng(1)
    inputs = _retina_inputs(rng.normal(0, 0.5, (2, 5, 4)), rng.normal(0, 2, (2, 5, 2)))
    cotangent = rng.normal(size=3)
    expected = _evaluate("retinanet_loss", inputs, {"box_loss": box_loss}, cotangent)
    numerical = _terms_by_diff("retinanet_loss", inputs, {"box_loss": box_loss}, cotangent)
    for name in ("cls_logits", "bbox_regression"):
        np.testing.assert_allclose(_grad(expected, name), numerical[name], rtol=1e-12, atol=1e-14)


# ---- RPN ----------------------------------------------------------------------------------------------------------

def _rpn_inputs(sampled, objectness=None, deltas=None):
    # Image 0: G alone; image 1: H alone.
    return {"objectness": np.zeros((2, 5)) if objectness is None else objectness,
            "pred_bbox_deltas": np.zeros((2, 5, 4)) if deltas is None else deltas, "anchors": ANCHORS,
            "boxes": np.array([[G], [H]], float), "labels": np.array([[1], [1]]), "sampled": np.asarray(sampled)}


def test_rpn_labelling_and_terms():
    # Image 0 (0.7 / 0.3): anchor 0 positive (0.75), anchor 4 ignored (3/7 in [0.3, 0.7)), anchors 1..3 negative.
    # Image 1: anchor 3 (IoU 0.25 < 0.3) is H's best anchor: positive (low-quality); the rest negative.
    # S = image 0's anchors 0, 1, 2 and image 1's anchors 3, 4: |S| = 5. Objectness 0: each BCE ln 2, mean ln 2.
    # Box (beta 1/9): smooth_l1(CODE_G) + smooth_l1(CODE_H), summed, over |S| = 5.
    sampled = [[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]]
    inputs = _rpn_inputs(sampled)
    decisions = scene(ORACLES["rpn_loss"], inputs, {}).decisions
    assert decisions["matches"] == {0: [0, -1, -1, -1, -2], 1: [-1, -1, -1, 0, -1]}
    box = float(np.sum(_smooth_l1(CODE_G, 1 / 9)) + np.sum(_smooth_l1(CODE_H, 1 / 9)))
    expected = _evaluate("rpn_loss", inputs, {}, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(_values(expected), [LN2 + box / 5, LN2, box / 5], rtol=1e-15)
    # d objectness: (sigmoid(0) - y) / 5: -0.1 for the positives, 0.1 for the sampled negatives, 0 unsampled.
    np.testing.assert_allclose(_grad(expected, "objectness"), [[-0.1, 0.1, 0.1, 0, 0], [0, 0, 0, -0.1, 0.1]])
    # The paper's variant: box_weight 10 over box_normalizer 2400: 10 * box / 2400.
    paper = _evaluate("rpn_loss", inputs, {"box_weight": 10.0, "box_normalizer": 2400.0})
    assert _values(paper)[2] == pytest.approx(10 * box / 2400, rel=1e-15)


def test_rpn_refuses_an_ignored_sampled_anchor_and_an_empty_sample_is_zero():
    with pytest.raises(ValueError, match="anchor 4 of image 0"):
        scene(ORACLES["rpn_loss"], _rpn_inputs([[0, 0, 0, 0, 1], [0] * 5]), {})
    expected = _evaluate("rpn_loss", _rpn_inputs(np.zeros((2, 5), bool)), {}, [1.0, 1.0, 1.0])
    assert _values(expected).tolist() == [0, 0, 0] and np.all(_grad(expected, "pred_bbox_deltas") == 0)


def test_rpn_gradient_against_mpmath_diff():
    rng = np.random.default_rng(2)
    inputs = _rpn_inputs([[1, 1, 1, 0, 1], [1, 0, 1, 1, 1]], rng.normal(size=(2, 5)), rng.normal(size=(2, 5, 4)))
    inputs["sampled"][0, 4] = 0  # (anchor 4 of image 0 is ignored)
    cotangent = rng.normal(size=3)
    params = {"box_weight": 3.0}
    expected = _evaluate("rpn_loss", inputs, params, cotangent)
    numerical = _terms_by_diff("rpn_loss", inputs, params, cotangent)
    for name in ("objectness", "pred_bbox_deltas"):
        np.testing.assert_allclose(_grad(expected, name), numerical[name], rtol=1e-12, atol=1e-14)


# ---- Fast R-CNN ---------------------------------------------------------------------------------------------------

def _fast_inputs(logits=None, regression=None):
    # RoI 0 = anchor 0 in image 0 (IoU 0.75 with G, label 2); RoI 1 = anchor 1 in image 0 (IoU 0: background);
    # RoI 2 in image 1, which has no objects: background. C = 3.
    return {"class_logits": np.zeros((3, 3)) if logits is None else logits,
            "box_regression": np.zeros((3, 12)) if regression is None else regression,
            "proposals": ANCHORS[:3], "proposal_images": np.array([0, 0, 1]),
            "boxes": np.array([[G], [[0, 0, 0, 0]]], float), "labels": np.array([[2], [-1]])}


def test_fast_rcnn_hand_scene():
    # classifier: three rows of zeros, CE ln 3 each, mean ln 3. box_reg: RoI 0's class-2 deltas (columns 8..11, 0)
    # against the code with weights (10, 10, 5, 5): (0, -1.25, 0, 5 ln 0.75), smooth_l1 beta 1/9, over R = 3.
    expected = _evaluate("fast_rcnn_loss", _fast_inputs(), {}, [0.0, 1.0, 1.0])
    target = CODE_G * [10, 10, 5, 5]
    box = float(np.sum(_smooth_l1(target, 1 / 9))) / 3
    np.testing.assert_allclose(_values(expected), [math.log(3) + box, math.log(3), box], rtol=1e-15)
    assert scene(ORACLES["fast_rcnn_loss"], _fast_inputs(), {}).decisions["labels"] == [2, 0, 0]
    # Gradients (cotangent 1 on each term): rows softmax - onehot over 3: RoI 0 (1/9, 1/9, -2/9);
    # deltas: -sign(t) / 3 outside beta, 0 where t = 0 (smooth_l1's d / beta at d = 0); only columns 8..11 of RoI 0.
    np.testing.assert_allclose(_grad(expected, "class_logits")[0], [1 / 9, 1 / 9, -2 / 9], rtol=1e-15)
    regression = _grad(expected, "box_regression")
    np.testing.assert_allclose(regression[0, 8:], [0, 1 / 3, 0, 1 / 3], rtol=1e-15)
    assert np.all(regression[0, :8] == 0) and np.all(regression[1:] == 0)


def test_fast_rcnn_refuses_a_roi_in_the_band_and_no_roi_is_zero():
    with pytest.raises(ValueError, match="RoI 0"):
        scene(ORACLES["fast_rcnn_loss"], _fast_inputs(), {"bg_iou_thresh": 0.3, "fg_iou_thresh": 0.8})
    empty = _fast_inputs(np.zeros((0, 3)), np.zeros((0, 12)))
    empty.update(proposals=np.zeros((0, 4)), proposal_images=np.zeros(0, np.int64))
    assert _values(_evaluate("fast_rcnn_loss", empty, {}, [1.0, 1.0, 1.0])).tolist() == [0, 0, 0]


def test_fast_rcnn_and_ssd_gradients_against_mpmath_diff():
    rng = np.random.default_rng(3)
    inputs = _fast_inputs(rng.normal(size=(3, 3)), rng.normal(size=(3, 12)))
    cotangent = rng.normal(size=3)
    expected, numerical = _evaluate("fast_rcnn_loss", inputs, {}, cotangent), _terms_by_diff(
        "fast_rcnn_loss", inputs, {}, cotangent)
    for name in ("class_logits", "box_regression"):
        np.testing.assert_allclose(_grad(expected, name), numerical[name], rtol=1e-12, atol=1e-14)
    inputs = _ssd_inputs([[G], [H]], [[1], [2]], rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 4)))
    expected, numerical = _evaluate("ssd_loss", inputs, {}, cotangent), _terms_by_diff("ssd_loss", inputs, {},
                                                                                        cotangent)
    for name in ("bbox_regression", "cls_logits"):
        np.testing.assert_allclose(_grad(expected, name), numerical[name], rtol=1e-12, atol=1e-14)


# ---- against torchvision's own loss code (float64) -----------------------------------------------------------------

def _targets(torch, boxes, labels):
    return [{"boxes": torch.tensor(b[l >= 0]), "labels": torch.tensor(l[l >= 0])} for b, l in zip(boxes, labels)]


def test_ssd_against_torchvision():
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from torchvision.models.detection import _utils as det_utils
    from torchvision.models.detection.ssd import SSD

    rng = np.random.default_rng(4)
    priors = np.array([[x, y, x + s, y + s] for s in (0.25, 0.5) for x in np.arange(0, 1 - s + 1e-9, 0.25)
                       for y in np.arange(0, 1 - s + 1e-9, 0.25)])  # 16 + 9 = 25 priors
    boxes = np.array([[[0.1, 0.2, 0.45, 0.6], [0.5, 0.5, 0.95, 0.9]], [[0.3, 0.1, 0.7, 0.4], [0, 0, 0, 0]]])
    labels = np.array([[1, 3], [2, -1]])
    logits, deltas = rng.normal(size=(2, 25, 4)), rng.normal(size=(2, 25, 4))
    inputs = {"bbox_regression": deltas, "cls_logits": logits, "anchors": priors, "boxes": boxes, "labels": labels}
    ours = _values(_evaluate("ssd_loss", inputs, {}))
    targets = _targets(torch, boxes, labels)
    matcher = det_utils.SSDMatcher(0.5)
    anchors = [torch.tensor(priors)] * 2
    from torchvision.ops import box_iou
    matched = [matcher(box_iou(t["boxes"], a)) for t, a in zip(targets, anchors)]
    model = types.SimpleNamespace(box_coder=det_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0)), neg_to_pos_ratio=3)
    theirs = SSD.compute_loss(model, targets, {"bbox_regression": torch.tensor(deltas),
                                               "cls_logits": torch.tensor(logits)}, anchors, matched)
    assert scene(ORACLES["ssd_loss"], inputs, {}).decisions["matches"] == {
        k: [int(v) for v in m] for k, m in enumerate(matched)}
    np.testing.assert_allclose(ours[1:], [float(theirs["bbox_regression"]), float(theirs["classification"])],
                               rtol=1e-13)


@pytest.mark.parametrize("box_loss", ["l1", "smooth_l1", "giou", "diou", "ciou"])
def test_retinanet_against_torchvision(box_loss):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from torchvision.models.detection import _utils as det_utils
    from torchvision.models.detection.retinanet import RetinaNet, RetinaNetHead

    rng = np.random.default_rng(5)
    inputs = _retina_inputs(rng.normal(0, 0.5, (2, 5, 4)), rng.normal(0, 2, (2, 5, 2)))
    inputs["boxes"][1, 0], inputs["labels"][1, 0] = [0.4, 0.1, 0.9, 0.45], 1  # image 1 gets an object
    ours = _values(_evaluate("retinanet_loss", inputs, {"box_loss": box_loss}))
    head = RetinaNetHead(1, 1, 2).double()
    head.regression_head._loss_type = box_loss
    model = types.SimpleNamespace(proposal_matcher=det_utils.Matcher(0.5, 0.4, allow_low_quality_matches=True),
                                  head=head)
    theirs = RetinaNet.compute_loss(model, _targets(torch, inputs["boxes"], inputs["labels"]),
                                    {"cls_logits": torch.tensor(inputs["cls_logits"]),
                                     "bbox_regression": torch.tensor(inputs["bbox_regression"])},
                                    [torch.tensor(ANCHORS)] * 2)
    np.testing.assert_allclose(ours[1:], [float(theirs["classification"]), float(theirs["bbox_regression"])],
                               rtol=1e-13)


# ---- the oracle against refloss's float64 losses, on the conformance scenes ----------------------------------------

def _scenes():
    from refloss.conformance.cases import generate_cases

    for loss in ("ssd_loss", "retinanet_loss", "rpn_loss", "fast_rcnn_loss"):
        for case in generate_cases(loss):
            if case.concern in ("basic", "accuracy") and case.error is None:
                yield pytest.param(loss, case, id=f"{loss}-{case.name}")


@pytest.mark.parametrize("loss, case", list(_scenes()))
def test_oracle_agrees_with_the_float64_reference(loss, case):
    """Values and both head gradients within 1e-13 of the largest entry (refloss rounds; the oracle is exact):
    two independent implementations of each loss, one of them from the docstrings and the research notes."""
    import refloss

    spec = refloss.registry.get(loss)
    inputs = [case.inputs[i.name] for i in spec.inputs]
    expected = _evaluate(loss, case.inputs, case.params, case.cotangent)
    value = spec.output_vector(spec.forward(*inputs, **case.params))
    grads = spec.vjp(spec.cotangent_of(case.cotangent), *inputs, **case.params)
    exact = _values(expected)
    assert np.max(np.abs(value - exact)) <= 1e-13 * np.max(np.abs(exact))
    for i, grad in zip(spec.inputs[:2], grads[:2]):
        want = _grad(expected, i.name)
        assert np.max(np.abs(grad - want)) <= 1e-13 * max(np.max(np.abs(want)), 1e-300), i.name
