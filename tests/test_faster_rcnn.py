"""Faster R-CNN's two losses (rpn_loss, fast_rcnn_loss) and their building blocks: hand-built scenes whose every
expected number is worked out in a comment, sampling, per-term cotangents, gradients against autograd and finite
differences, bad input, realistic wrong implementations shown to be caught, and torchvision's own RPN and RoIHeads
on the same inputs (float64 and float32), with every difference demonstrated.

Scenes are in image units. Numbers used throughout: sigma(ln 3) = 3/4, BCE(ln 3, 1) = BCE(-ln 3, 0) = ln(4/3),
BCE(0, y) = ln 2; Smooth L1 with beta = 1/9 of 0.05 (quadratic: 0.05^2 / (2/9) = 0.01125) and of 0.5 (linear:
0.5 - 1/18).
"""

import math
import warnings

import numpy as np
import pytest
from autograd import grad as autograd_grad

from refloss.losses.detectors import faster_rcnn as frcnn
from refloss.losses.detectors.faster_rcnn import (fast_rcnn_loss, fast_rcnn_loss_vjp, fast_rcnn_sample,
                                                  fast_rcnn_targets, rpn_loss, rpn_loss_vjp, rpn_sample, rpn_targets)
from refloss.testing._gradients import Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences

LN2, LN3, LN4_3 = math.log(2.0), math.log(3.0), math.log(4.0 / 3.0)
BOX_SUM = 0.01125 + 0.5 - 1 / 18  # smoothL1_{1/9}(0.05) + smoothL1_{1/9}(0.5)


def approx(value):
    """Hand-derived numbers go through a few float64 operations (0.3 - 0.25 is 0.05 only to ~1e-16)."""
    return pytest.approx(value, rel=1e-12, abs=1e-14)


def gradient(function, x):
    """autograd's gradient; a term that does not depend on x (objectness on the deltas) makes autograd warn."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Output seems independent of input")
        return autograd_grad(function)(x)


def assert_terms(got, expected):
    total, terms = got
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert float(terms[name]) == approx(value), name
    assert float(total) == approx(sum(expected.values()))


# =============================================================================================================
# RPN. Anchors shared by every image:
#   a0 = [0, 0, 0.5, 0.5], a1 = [0.5, 0.5, 1, 1], a2 = [0, 0, 0.5, 0.75], a3 = [0, 0.25, 0.5, 1].
# Object g = [0.05, 0, 0.55, 0.5] (area 0.25):
#   a0: intersection 0.45 * 0.5 = 0.225, union 0.25 + 0.25 - 0.225 = 0.275: IoU 9/11 ~ 0.818 >= 0.7: positive;
#   a1: touches g only along y = 0.5: IoU 0: negative;
#   a2: intersection 0.225, union 0.25 + 0.375 - 0.225 = 0.4: IoU 0.5625 in [0.3, 0.7): ignored;
#   a3: intersection 0.45 * 0.25 = 0.1125, union 0.25 + 0.375 - 0.1125 = 0.5125: IoU ~0.22 < 0.3: negative.
# a0's target: centres 0.3 vs 0.25 over width 0.5: t = (0.1, 0, ln 1, ln 1) = (0.1, 0, 0, 0).
# =============================================================================================================

ANCHORS = np.array([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1], [0, 0, 0.5, 0.75], [0, 0.25, 0.5, 1]])
OBJECT = [0.05, 0, 0.55, 0.5]
ONE_OBJECT = ([[OBJECT]], [[7]])  # any label >= 0 is an object for the RPN
# Outputs: objectness (ln 3, 0, 5 [ignored: no loss], -ln 3); a0's deltas (0.15, 0, 0.5, 0): residuals
# (0.05, 0, 0.5, 0). Every other anchor's deltas are junk that must not count.
OBJECTNESS = np.array([[LN3, 0.0, 5.0, -LN3]])
DELTAS = np.array([[[0.15, 0, 0.5, 0], [9, 9, 9, 9], [-7, 3, 2, 1], [4, -4, 4, -4]]])
ALL_BUT_IGNORED = np.array([[1, 1, 0, 1]])
# S = {a0, a1, a3}, |S| = 3, S+ = {a0}:
#   objectness = (BCE(ln 3, 1) + BCE(0, 0) + BCE(-ln 3, 0)) / 3 = (2 ln(4/3) + ln 2) / 3
#   rpn_box_reg = (smoothL1(0.05) + smoothL1(0.5)) / 3
RPN_ONE = {"objectness": (2 * LN4_3 + LN2) / 3, "rpn_box_reg": BOX_SUM / 3}


def test_rpn_one_object_targets():
    t = rpn_targets(ANCHORS, *ONE_OBJECT)
    np.testing.assert_array_equal(t.labels, [[1, 0, -1, 0]])
    np.testing.assert_array_equal(t.matches, [[0, -1, -2, -1]])
    np.testing.assert_allclose(t.box_target, [[[0.1, 0, 0, 0], [0] * 4, [0] * 4, [0] * 4]], rtol=1e-12, atol=1e-15)


def check_rpn_one_object(loss):
    assert_terms(loss(OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT, ALL_BUT_IGNORED), RPN_ONE)


def test_rpn_one_object_every_term():
    check_rpn_one_object(rpn_loss)


def test_rpn_one_object_gradient_by_hand():
    """(sigma(o) - y) / 3 on the sample: (3/4 - 1) / 3 = -1/12, 1/2 / 3 = 1/6, 0 (ignored), 1/4 / 3 = 1/12;
    deltas of a0: slope 0.05 / (1/9) = 0.45 and sign(0.5) = 1, over 3: (0.15, 0, 1/3, 0); 0 elsewhere."""
    g_obj, g_deltas, *rest = rpn_loss_vjp(1.0, OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT, ALL_BUT_IGNORED)
    assert rest == [None] * 4
    np.testing.assert_allclose(g_obj, [[-1 / 12, 1 / 6, 0, 1 / 12]], rtol=1e-12, atol=1e-15)
    expected = np.zeros((1, 4, 4))
    expected[0, 0] = [0.15, 0, 1 / 3, 0]
    np.testing.assert_allclose(g_deltas, expected, rtol=1e-12, atol=1e-15)


def test_rpn_sample_subset_changes_both_denominators():
    """Only a0 and a1 sampled: |S| = 2: objectness (ln(4/3) + ln 2) / 2, box BOX_SUM / 2."""
    assert_terms(rpn_loss(OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT, [[True, True, False, False]]),
                 {"objectness": (LN4_3 + LN2) / 2, "rpn_box_reg": BOX_SUM / 2})


def test_rpn_paper_variant_box_weight_and_normalizer():
    """lambda = 10, D = 2400 anchor locations: rpn_box_reg = 10 BOX_SUM / 2400; objectness unchanged."""
    got = rpn_loss(OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT, ALL_BUT_IGNORED, box_weight=10, box_normalizer=2400)
    assert_terms(got, {"objectness": RPN_ONE["objectness"], "rpn_box_reg": 10 * BOX_SUM / 2400})


def test_rpn_two_objects_competing_for_one_anchor():
    """A = [0, 0, 0.5, 0.4] and B = [0, 0.1, 0.5, 0.5] both have IoU 0.2 / 0.25 = 0.8 with a0 (and less with every
    other anchor): a0 goes to the lower row A (ties: lowest index), and the low-quality rule restores a0 to its
    own best object (A again): B has no anchor. With B = [0, 0.05, 0.5, 0.5] (IoU 0.9) B wins a0."""
    t = rpn_targets(ANCHORS, [[[0, 0, 0.5, 0.4], [0, 0.1, 0.5, 0.5]]], [[0, 0]])
    assert t.matches[0, 0] == 0 and not np.any(t.matches[0] == 1)
    np.testing.assert_allclose(t.box_target[0, 0], [0, -0.05 / 0.5, 0, math.log(0.8)], rtol=1e-12, atol=1e-15)
    t = rpn_targets(ANCHORS, [[[0, 0, 0.5, 0.4], [0, 0.05, 0.5, 0.5]]], [[0, 0]])
    assert t.matches[0, 0] == 1


def test_rpn_image_with_no_objects():
    """Every anchor negative: objectness = mean of BCE(o, 0) over the four: (softplus(ln 3) + ln 2 + softplus(5)
    + ln(4/3)) / 4 with softplus(ln 3) = ln 4; no positives: box 0."""
    t = rpn_targets(ANCHORS, [[[0.0] * 4]], [[-1]])
    np.testing.assert_array_equal(t.labels, [[0, 0, 0, 0]])
    np.testing.assert_array_equal(t.matches, [[-1] * 4])
    expected = (math.log(4) + LN2 + math.log1p(math.exp(5)) + LN4_3) / 4
    assert_terms(rpn_loss(OBJECTNESS, DELTAS, ANCHORS, [[[0.0] * 4]], [[-1]], np.ones((1, 4))),
                 {"objectness": expected, "rpn_box_reg": 0.0})


def test_rpn_low_quality_match():
    """G = [0, 0, 0.25, 0.5]: its best anchor is a0 with IoU 0.125 / 0.25 = 0.5 (below 0.7, so ignored by the
    thresholds alone), and a2 IoU 0.125 / 0.375 = 1/3: a0 is restored to G (positive); a2 stays ignored (1/3 in
    [0.3, 0.7)); a1 (0), a3 (0.0625 / 0.5625 < 0.3) negative. Target of a0: (0.125 - 0.25) / 0.5 = -0.25,
    0, ln(0.25 / 0.5) = -ln 2, 0."""
    t = rpn_targets(ANCHORS, [[[0, 0, 0.25, 0.5]]], [[0]])
    np.testing.assert_array_equal(t.labels, [[1, 0, -1, 0]])
    np.testing.assert_allclose(t.box_target[0, 0], [-0.25, 0, -LN2, 0], rtol=1e-12, atol=1e-15)


def test_rpn_low_quality_degenerate_zero_iou_reproduces_torchvision():
    """An object that overlaps no anchor: its largest IoU is 0, so every anchor with IoU 0 to it (here every
    anchor that overlaps no object) is "highest quality" and restored to its own argmax object, row 0 on the
    all-zero column: all such anchors become positive. torchvision does exactly this (compared below)."""
    anchors = np.array([[0, 0, 0.2, 0.2], [0.8, 0.8, 1, 1], [0, 0.8, 0.2, 1]])
    t = rpn_targets(anchors, [[[0.4, 0.4, 0.6, 0.6]]], [[0]])
    np.testing.assert_array_equal(t.labels, [[1, 1, 1]])
    np.testing.assert_array_equal(t.matches, [[0, 0, 0]])
    # Two objects, the second overlapping a2 only: a2 is matched to it; a0 and a1 (IoU 0 with both) restored to
    # object 0 by the first object's all-zero row.
    t = rpn_targets(anchors, [[[0.4, 0.4, 0.6, 0.6], [0.0, 0.85, 0.2, 1.0]]], [[0, 0]])
    np.testing.assert_array_equal(t.matches, [[0, 0, 1]])


def test_rpn_mixed_batch():
    """Image 0: the one-object scene (S = 3 anchors); image 1: no objects, all four sampled, objectness 0 (BCE
    ln 2 each). |S| = 7: objectness = (2 ln(4/3) + ln 2 + 4 ln 2) / 7; box = BOX_SUM / 7."""
    objectness = np.concatenate([OBJECTNESS, np.zeros((1, 4))])
    deltas = np.concatenate([DELTAS, np.ones((1, 4, 4))])
    boxes, labels = [[OBJECT], [[0.0] * 4]], [[0], [-1]]
    got = rpn_loss(objectness, deltas, ANCHORS, boxes, labels, [[1, 1, 0, 1], [1, 1, 1, 1]])
    assert_terms(got, {"objectness": (2 * LN4_3 + 5 * LN2) / 7, "rpn_box_reg": BOX_SUM / 7})


def test_rpn_empty_sample_is_zero_with_zero_gradient():
    total, terms = rpn_loss(OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT, np.zeros((1, 4), dtype=bool))
    assert float(total) == 0.0 and terms == {"objectness": 0.0, "rpn_box_reg": 0.0}
    g = rpn_loss_vjp(1.0, OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT, np.zeros((1, 4), dtype=bool))
    assert not np.any(g[0]) and not np.any(g[1])


# ---- sampling -----------------------------------------------------------------------------------------------

LABELS_10 = np.array([[1, 1, 1, 0, 0, 0, 0, 0, -1, -1], [0, 0, 0, 0, 0, 0, 1, -1, 0, 0]])


def test_rpn_sample_counts_and_determinism():
    """batch 4, fraction 0.5: image 0 has 3 positives (2 taken: the first two), 5 negatives (2 taken: the first
    two); image 1 has 1 positive, then 3 negatives. rng=None is the first in index order, twice the same."""
    sample = rpn_sample(LABELS_10, batch_size_per_image=4, positive_fraction=0.5)
    np.testing.assert_array_equal(sample[0], [1, 1, 0, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(sample[1], [1, 1, 1, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(sample, rpn_sample(LABELS_10, batch_size_per_image=4, positive_fraction=0.5))


def test_rpn_sample_seeded_counts_fractions_and_reproducibility():
    targets = frcnn.RpnTargets(LABELS_10, None, None)
    for seed in range(20):
        sample = rpn_sample(targets, batch_size_per_image=4, positive_fraction=0.5, rng=seed)
        assert np.sum(sample[0] & (LABELS_10[0] == 1)) == 2 and np.sum(sample[0] & (LABELS_10[0] == 0)) == 2
        assert np.sum(sample[1] & (LABELS_10[1] == 1)) == 1 and np.sum(sample[1] & (LABELS_10[1] == 0)) == 3
        assert not np.any(sample & (LABELS_10 == -1))
        np.testing.assert_array_equal(sample, rpn_sample(targets, batch_size_per_image=4, positive_fraction=0.5,
                                                         rng=seed))
    draws = {rpn_sample(targets, batch_size_per_image=4, rng=seed).tobytes() for seed in range(20)}
    assert len(draws) > 1  # seeded sampling is random
    generator = np.random.default_rng(5)
    first = rpn_sample(targets, batch_size_per_image=4, rng=generator)
    np.testing.assert_array_equal(first, rpn_sample(targets, batch_size_per_image=4, rng=np.random.default_rng(5)))


def test_rpn_sample_default_256_at_half():
    labels = np.zeros((1, 1000), dtype=int)
    labels[0, :300] = 1
    sample = rpn_sample(labels)
    assert sample.sum() == 256 and sample[0, :300].sum() == 128
    labels[0, 20:300] = 0  # 20 positives: 20 + 236 negatives
    sample = rpn_sample(labels, rng=0)
    assert sample[0, :20].all() and sample.sum() == 256


# ---- cotangents and gradients ---------------------------------------------------------------------------------

def rpn_mixed_call(objectness, deltas):
    boxes, labels = [[OBJECT], [[0.4, 0.4, 0.9, 0.8]]], [[0], [3]]
    sampled = [[1, 1, 0, 1], [1, 1, 1, 1]]
    return rpn_loss(objectness, deltas, ANCHORS, boxes, labels, sampled), (ANCHORS, boxes, labels, sampled)


RPN_OUT = (np.array([[LN3, 0.0, 5.0, -LN3], [0.3, -1.2, 0.7, 2.0]]),
           np.concatenate([DELTAS, np.random.default_rng(1).normal(size=(1, 4, 4))]))


@pytest.mark.parametrize("term", frcnn.RPN_TERMS)
def test_rpn_vjp_of_one_term_is_the_gradient_of_that_term(term):
    _, rest = rpn_mixed_call(*RPN_OUT)
    for position in (0, 1):
        def term_of(x):
            outputs = list(RPN_OUT)
            outputs[position] = x
            return rpn_mixed_call(*outputs)[0][1][term]
        expected = gradient(term_of, RPN_OUT[position])
        np.testing.assert_allclose(rpn_loss_vjp({term: -2.5}, *RPN_OUT, *rest)[position], -2.5 * expected,
                                   rtol=1e-12, atol=1e-15)
    # a term's cotangent leaves the other output untouched
    assert not np.any(rpn_loss_vjp({"objectness": 1.0}, *RPN_OUT, *rest)[1])
    assert not np.any(rpn_loss_vjp({"rpn_box_reg": 1.0}, *RPN_OUT, *rest)[0])


def test_rpn_vjp_scalar_is_total_and_terms_add_up():
    _, rest = rpn_mixed_call(*RPN_OUT)
    vjp = lambda g: rpn_loss_vjp(g, *RPN_OUT, *rest)[:2]  # noqa: E731
    for a, b in zip(vjp(0.7), vjp({"total": 0.7})):
        np.testing.assert_array_equal(a, b)
    for a, b, c in zip(vjp({"objectness": 0.7}), vjp({"rpn_box_reg": 0.7}), vjp(0.7)):
        np.testing.assert_allclose(a + b, c, rtol=1e-12, atol=1e-15)


def random_rpn_case(seed, params=None, images=3):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.1, 0.9, size=(12, 2))
    sizes = rng.uniform(0.1, 0.5, size=(12, 2))
    anchors = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)  # may cross the border
    # objects near the first anchors (jittered top-left corners), so that some anchors are positive
    k = images * 2
    jitter = rng.uniform(-0.05, 0.05, (k, 2))
    corners = [centres[:k] - sizes[:k] / 2 + jitter, centres[:k] + sizes[:k] / 2]
    boxes = np.clip(np.concatenate(corners, axis=1), 0, 1).reshape(images, 2, 4)
    labels = np.array([[0, 1], [2, -1], [-1, -1]])[:images]
    targets = rpn_targets(anchors, boxes, labels)
    sampled = rpn_sample(targets, batch_size_per_image=6, positive_fraction=0.5, rng=seed)
    inputs = (rng.normal(size=(images, 12)), rng.normal(0, 0.5, size=(images, 12, 4)), anchors, boxes, labels,
              sampled)
    return Case(inputs, dict(params or {}), None, rng.normal(size=3))


RPN_VARIANTS = [{}, {"box_weight": 10.0, "box_normalizer": 2400.0}, {"beta": 1.0}, {"weights": (2.0, 2.0, 1.0, 1.0)},
                {"fg_iou_thresh": 0.5, "bg_iou_thresh": 0.4}]


@pytest.mark.parametrize("params", RPN_VARIANTS, ids=lambda p: ",".join(p) or "default")
def test_rpn_vjp_against_autograd_and_finite_differences(params):
    case = random_rpn_case(len(str(params)), params)
    positives = case.inputs[5] & (rpn_targets(*case.inputs[2:5]).labels == 1)
    assert positives.sum() >= 2  # the box term is exercised
    assert_vjp_matches_autograd("rpn_loss", case)
    assert_vjp_matches_finite_differences("rpn_loss", case)


def test_rpn_held_forward_is_the_forward():
    case = random_rpn_case(3)
    held = frcnn._rpn_held_forward(*case.inputs)
    total, terms = held(*case.inputs)
    expected_total, expected = rpn_loss(*case.inputs)
    assert float(total) == float(expected_total) and terms == expected


# ---- bad input ----------------------------------------------------------------------------------------------

def rpn_call(**change):
    args = dict(objectness=OBJECTNESS, pred_bbox_deltas=DELTAS, anchors=ANCHORS, boxes=ONE_OBJECT[0],
                labels=ONE_OBJECT[1], sampled=ALL_BUT_IGNORED)
    params = {k: change.pop(k) for k in list(change) if k not in args}
    args.update(change)
    return rpn_loss(**args, **params)


@pytest.mark.parametrize("change, error, match", [
    ({"boxes": [[[0.05, 0, 1.2, 0.5]]]}, ValueError, r"boxes\[0, 0\].*outside the image"),
    ({"boxes": [[[0.5, 0, 0.05, 0.5]]]}, ValueError, r"boxes\[0, 0\].*x2 < x1"),
    ({"boxes": [[[0.05, 0, 0.05, 0.5]]]}, ValueError, r"zero width or height"),
    ({"labels": [[-2]]}, ValueError, r"labels\[0, 0\] = -2"),
    ({"labels": [[0.5]]}, TypeError, r"labels must hold integer"),
    ({"sampled": [[1, 1, 1, 1]]}, ValueError, r"sampled\[0, 2\].*anchor 2 of image 0 is ignored"),
    ({"sampled": [[1, 1, 0]]}, ValueError, r"sampled must have shape \(1, 4\)"),
    ({"sampled": [[2, 0, 0, 0]]}, ValueError, r"0 or 1"),
    ({"anchors": ANCHORS[:3]}, ValueError, r"anchors has 3 anchors but objectness .* A = 4"),
    ({"anchors": np.zeros((0, 4)), "objectness": np.zeros((1, 0)), "pred_bbox_deltas": np.zeros((1, 0, 4)),
      "sampled": np.zeros((1, 0))}, ValueError, r"A = 0"),
    ({"anchors": [[0, 0, 0, 1]] * 4}, ValueError, r"anchors\[0\].*zero width"),
    ({"anchors": [[0.5, 0, 0, 1]] * 4}, ValueError, r"anchors\[0\].*x2 < x1"),
    ({"pred_bbox_deltas": np.zeros((1, 3, 4))}, ValueError, r"pred_bbox_deltas must have shape \(N, A, 4 = 1, 4, 4"),
    ({"objectness": np.zeros((0, 4)), "pred_bbox_deltas": np.zeros((0, 4, 4))}, ValueError, r"empty"),
    ({"boxes": [[OBJECT], [OBJECT]], "labels": [[0], [0]]}, ValueError, r"N = 1 images"),
    ({"fg_iou_thresh": 0.2}, ValueError, r"must not exceed fg_iou_thresh"),
    ({"beta": -1.0}, ValueError, r"beta"),
    ({"weights": (1, 1, 0, 1)}, ValueError, r"weights"),
    ({"box_normalizer": 0.0}, ValueError, r"box_normalizer"),
])
def test_rpn_bad_input(change, error, match):
    with pytest.raises(error, match=match):
        rpn_call(**change)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size_per_image": 0}, ValueError, "batch_size_per_image"),
    ({"positive_fraction": 1.5}, ValueError, "positive_fraction"),
    ({"rng": "seed"}, TypeError, "rng"),
])
def test_rpn_sample_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        rpn_sample(LABELS_10, **kwargs)
    with pytest.raises(ValueError, match="1 .positive., 0 .negative. or -1"):
        rpn_sample([[2, 0]])


# ---- wrong implementations, caught ----------------------------------------------------------------------------

def rpn_box_over_positives(objectness, deltas, anchors, boxes, labels, sampled, **params):
    """The box term divided by |S+| (a common misreading of 'normalised by the positives')."""
    total, terms = rpn_loss(objectness, deltas, anchors, boxes, labels, sampled, **params)
    positives = np.sum(np.asarray(sampled, bool) & (rpn_targets(anchors, boxes, labels).labels == 1))
    box = terms["rpn_box_reg"] * np.sum(sampled) / max(positives, 1)
    return terms["objectness"] + box, {"objectness": terms["objectness"], "rpn_box_reg": box}


def rpn_bce_over_all_anchors(objectness, deltas, anchors, boxes, labels, sampled, **params):
    """Objectness averaged over every non-ignored anchor, the sample forgotten."""
    t = rpn_targets(anchors, boxes, labels)
    return rpn_loss(objectness, deltas, anchors, boxes, labels, t.labels >= 0, **params)


def rpn_without_low_quality(objectness, deltas, anchors, boxes, labels, sampled, **params):
    """Matcher(0.7, 0.3) without allow_low_quality_matches: an object whose best IoU is below 0.7 gets no anchor."""
    original = frcnn.match_anchors
    frcnn.match_anchors = lambda iou, **kw: original(iou, **{**kw, "allow_low_quality_matches": False})
    try:
        return rpn_loss(objectness, deltas, anchors, boxes, labels, sampled, **params)
    finally:
        frcnn.match_anchors = original


def rpn_beta_one(*inputs, **params):
    """Smooth L1 with beta = 1 (F.smooth_l1_loss's default) instead of 1/9."""
    return rpn_loss(*inputs, **{**params, "beta": 1.0})


def check_rpn_low_quality(loss):
    """G = [0, 0, 0.25, 0.5] (best IoU 0.5 with a0): a0 positive with target (-0.25, 0, -ln 2, 0); deltas 0 give
    residuals 0.25 and ln 2, both >= 1/9: (0.25 - 1/18) + (ln 2 - 1/18), over |S| = 3 (a2 not sampled)."""
    got = loss(np.zeros((1, 4)), np.zeros((1, 4, 4)), ANCHORS, [[[0, 0, 0.25, 0.5]]], [[0]], ALL_BUT_IGNORED)
    assert float(got[1]["rpn_box_reg"]) == approx((0.25 + LN2 - 1 / 9) / 3)


@pytest.mark.parametrize("wrong", [rpn_box_over_positives, rpn_bce_over_all_anchors, rpn_without_low_quality,
                                   rpn_beta_one])
def test_rpn_wrong_implementations_are_caught(wrong):
    check_rpn_one_object(rpn_loss)
    check_rpn_low_quality(rpn_loss)
    # Without low-quality matches a0 is ignored in the low-quality scene, so the mutant refuses the sample the
    # correct labelling accepts (ValueError) instead of giving a wrong number: caught either way.
    with pytest.raises(ValueError if wrong is rpn_without_low_quality else AssertionError):
        if wrong is rpn_bce_over_all_anchors:  # the sample a0, a1 only: the mean over all non-ignored differs
            assert_terms(wrong(OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT, [[1, 1, 0, 0]]),
                         {"objectness": (LN4_3 + LN2) / 2, "rpn_box_reg": BOX_SUM / 2})
        else:
            check_rpn_one_object(wrong)
            check_rpn_low_quality(wrong)


# =============================================================================================================
# Fast R-CNN. C = 3 classes (0 background). Object g = [0, 0, 0.5, 0.5], class 2.
# RoIs of image 0: r0 = [0.05, 0, 0.55, 0.5] (IoU 9/11 >= 0.5: foreground, class 2),
#   r1 = [0.5, 0.5, 1, 1] (IoU 0: background), r2 = g itself (the appended ground truth: IoU 1, class 2).
# Targets, weights (10, 10, 5, 5): r0: 10 (0.25 - 0.3) / 0.5 = -1, 0, 5 ln 1 = 0, 0; r2: 0.
# Logits: r0 (0, 0, ln 2): softmax (1/4, 1/4, 1/2): CE ln 2; r1 (0, 0, 0): CE ln 3; r2 (0, 0, ln 2): ln 2.
# box_regression, class 2's columns 8..11: r0 (-0.95, 0, 0.5, 0): residuals (0.05, 0, 0.5, 0); r2 zeros;
#   class 1's columns hold 3s and background rows junk, which must not count.
#   classifier = (2 ln 2 + ln 3) / 3; box_reg = BOX_SUM / 3 (divided by all R = 3 RoIs).
# =============================================================================================================

GT = [0, 0, 0.5, 0.5]
ROIS = np.array([[0.05, 0, 0.55, 0.5], [0.5, 0.5, 1, 1], GT])
HEAD_SCENE = (ROIS, [0, 0, 0], [[GT]], [[2]])
LOGITS = np.array([[0, 0, LN2], [0, 0, 0], [0, 0, LN2]])
REGRESSION = np.array([[5, 5, 5, 5, 3, 3, 3, 3, -0.95, 0, 0.5, 0],
                       [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7],
                       [1, 1, 1, 1, 3, 3, 3, 3, 0, 0, 0, 0]])
HEAD_ONE = {"classifier": (2 * LN2 + LN3) / 3, "box_reg": BOX_SUM / 3}


def check_head_one_object(loss):
    assert_terms(loss(LOGITS, REGRESSION, *HEAD_SCENE), HEAD_ONE)


def test_fast_rcnn_one_object_targets():
    t = fast_rcnn_targets(*HEAD_SCENE)
    np.testing.assert_array_equal(t.labels, [2, 0, 2])
    np.testing.assert_array_equal(t.matches, [0, -1, 0])
    np.testing.assert_allclose(t.box_target, [[-1, 0, 0, 0], [0] * 4, [0] * 4], rtol=1e-12, atol=1e-15)


def test_fast_rcnn_one_object_every_term():
    check_head_one_object(fast_rcnn_loss)


def test_fast_rcnn_gradient_by_hand():
    """(softmax - onehot) / 3: r0 (1/12, 1/12, -1/6), r1 (1/9 - 1/3, 1/9, 1/9), r2 as r0; box: r0's class-2 columns
    (0.45, 0, 1, 0) / 3; every other column 0."""
    g_logits, g_regression, *rest = fast_rcnn_loss_vjp(1.0, LOGITS, REGRESSION, *HEAD_SCENE)
    assert rest == [None] * 4
    np.testing.assert_allclose(g_logits, [[1 / 12, 1 / 12, -1 / 6], [-2 / 9, 1 / 9, 1 / 9], [1 / 12, 1 / 12, -1 / 6]],
                               rtol=1e-12, atol=1e-15)
    expected = np.zeros((3, 12))
    expected[0, 8:] = [0.15, 0, 1 / 3, 0]
    np.testing.assert_allclose(g_regression, expected, rtol=1e-12, atol=1e-15)


def test_fast_rcnn_rois_of_several_images():
    """Image 0 has g (class 2); image 1 has h = [0.5, 0.5, 1, 1] (class 1). RoIs, interleaved: r1 of image 1
    equals h (class 1), r0 of image 0 (class 2), and [0.05, 0, 0.55, 0.5] in image 1 (overlaps image 0's g, but
    not h: background). Targets are per image."""
    rois = np.array([[0.5, 0.5, 1, 1], [0.05, 0, 0.55, 0.5], [0.05, 0, 0.55, 0.5]])
    boxes, labels = [[GT], [[0.5, 0.5, 1, 1]]], [[2], [1]]
    t = fast_rcnn_targets(rois, [1, 0, 1], boxes, labels)
    np.testing.assert_array_equal(t.labels, [1, 2, 0])
    np.testing.assert_allclose(t.box_target[1], [-1, 0, 0, 0], rtol=1e-12, atol=1e-15)
    # logits 0 over 3 classes: CE ln 3 each; class 1's columns of row 0 (4..7) = 0.5: four residuals 0.5 vs target
    # 0 -> 4 (0.5 - 1/18); class 2's columns of row 1: (-1, 0, 0, 0) -> 0. box_reg = 4 (0.5 - 1/18) / 3.
    regression = np.zeros((3, 12))
    regression[0, 4:8] = 0.5
    regression[1, 8] = -1
    regression[2] = 9  # background: no box loss
    assert_terms(fast_rcnn_loss(np.zeros((3, 3)), regression, rois, [1, 0, 1], boxes, labels),
                 {"classifier": LN3, "box_reg": 4 * (0.5 - 1 / 18) / 3})


def test_fast_rcnn_image_with_no_objects_and_empty_sample():
    """No objects: every RoI background; classifier = ln 3 (logits 0), no box loss. No RoIs at all: both 0."""
    assert_terms(fast_rcnn_loss(np.zeros((2, 3)), np.ones((2, 12)), ROIS[:2], [0, 0], [[[0.0] * 4]], [[-1]]),
                 {"classifier": LN3, "box_reg": 0.0})
    total, terms = fast_rcnn_loss(np.zeros((0, 3)), np.zeros((0, 12)), np.zeros((0, 4)), np.zeros(0, int), [[GT]],
                                  [[2]])
    assert float(total) == 0.0 and terms == {"classifier": 0.0, "box_reg": 0.0}
    g = fast_rcnn_loss_vjp(1.0, np.zeros((0, 3)), np.zeros((0, 12)), np.zeros((0, 4)), np.zeros(0, int), [[GT]],
                           [[2]])
    assert g[0].shape == (0, 3) and g[1].shape == (0, 12)


def test_fast_rcnn_sample_appends_ground_truths():
    """Image 0: proposals r0, r1 and the appended g: labels (2, 0, 2); batch 4 at 0.25: int(1) foreground (r0, the
    first) + up to 3 background (r1) -> r0, r1. Image 1: no proposals, object h (class 1): the appended h is the
    only RoI, foreground. Image 2: no objects, one proposal: background. Index order, images in order."""
    proposals, images = fast_rcnn_sample([ROIS[:2], np.zeros((0, 4)), ROIS[1:2]],
                                         [[GT], [[0.5, 0.5, 1, 1]], [[0.0] * 4]], [[2], [1], [-1]],
                                         batch_size_per_image=4)
    np.testing.assert_array_equal(proposals, [ROIS[0], ROIS[1], [0.5, 0.5, 1, 1], ROIS[1]])
    np.testing.assert_array_equal(images, [0, 0, 1, 2])
    # with a larger fraction, the appended ground truth of image 0 is taken too, after the proposals
    proposals, images = fast_rcnn_sample([ROIS[:2]], [[GT]], [[2]], batch_size_per_image=4, positive_fraction=0.5)
    np.testing.assert_array_equal(proposals, ROIS)


def test_fast_rcnn_sample_counts_seeded():
    rng = np.random.default_rng(0)
    centres = rng.uniform(0.2, 0.8, size=(300, 2))
    proposals = np.concatenate([centres - 0.1, centres + 0.1], axis=1)
    gt = [[[0.3, 0.3, 0.5, 0.5]]]
    labels = fast_rcnn_targets(np.concatenate([proposals, gt[0]]), np.zeros(301, int), gt, [[1]]).labels
    foreground = int(np.sum(labels > 0))
    assert 2 < foreground < 64
    for seed in (0, 1):
        rois, images = fast_rcnn_sample([proposals], gt, [[1]], batch_size_per_image=64, rng=seed)
        t = fast_rcnn_targets(rois, images, gt, [[1]])
        assert len(rois) == 64 and np.sum(t.labels > 0) == min(foreground, 16)
        again = fast_rcnn_sample([proposals], gt, [[1]], batch_size_per_image=64, rng=seed)[0]
        np.testing.assert_array_equal(rois, again)


# ---- cotangents, gradients ----------------------------------------------------------------------------------

def head_case(seed, params=None):
    rng = np.random.default_rng(seed)
    boxes = np.array([[[0.1, 0.1, 0.5, 0.6], [0.5, 0.4, 0.9, 0.9]], [[0.2, 0.2, 0.7, 0.7], [0.0] * 4]])
    labels = np.array([[1, 3], [2, -1]])
    per_image = []
    for n in range(2):
        centres = rng.uniform(0.2, 0.8, size=(10, 2))
        sizes = rng.uniform(0.2, 0.5, size=(10, 2))
        per_image.append(np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1))
    thresholds = {k: v for k, v in (params or {}).items() if k.endswith("thresh")}
    rois, images = fast_rcnn_sample(per_image, boxes, labels, batch_size_per_image=6, positive_fraction=0.5,
                                    rng=seed, **thresholds)
    order = rng.permutation(len(rois))
    r = len(rois)
    return Case((rng.normal(size=(r, 4)), rng.normal(0, 0.5, size=(r, 16)), rois[order], images[order], boxes,
                 labels), dict(params or {}), None, rng.normal(size=3))


HEAD_VARIANTS = [{}, {"beta": 1.0}, {"weights": (1.0, 1.0, 1.0, 1.0)}, {"fg_iou_thresh": 0.6, "bg_iou_thresh": 0.6}]


@pytest.mark.parametrize("params", HEAD_VARIANTS, ids=lambda p: ",".join(p) or "default")
def test_fast_rcnn_vjp_against_autograd_and_finite_differences(params):
    case = head_case(len(str(params)), params)
    assert np.sum(fast_rcnn_targets(*case.inputs[2:], **{k: v for k, v in params.items() if k != "beta"}
                                    ).labels > 0) >= 2
    assert_vjp_matches_autograd("fast_rcnn_loss", case)
    assert_vjp_matches_finite_differences("fast_rcnn_loss", case)


@pytest.mark.parametrize("term", frcnn.FAST_RCNN_TERMS)
def test_fast_rcnn_vjp_of_one_term(term):
    case = head_case(7)
    outputs, rest = case.inputs[:2], case.inputs[2:]
    for position in (0, 1):
        def term_of(x):
            changed = list(outputs)
            changed[position] = x
            return fast_rcnn_loss(*changed, *rest)[1][term]
        expected = gradient(term_of, outputs[position])
        np.testing.assert_allclose(fast_rcnn_loss_vjp({term: 3.0}, *case.inputs)[position], 3 * expected,
                                   rtol=1e-12, atol=1e-15)
    for a, b in zip(fast_rcnn_loss_vjp(0.5, *case.inputs)[:2], fast_rcnn_loss_vjp({"total": 0.5}, *case.inputs)):
        np.testing.assert_array_equal(a, b)


# ---- bad input ----------------------------------------------------------------------------------------------

def head_call(**change):
    args = dict(class_logits=LOGITS, box_regression=REGRESSION, proposals=ROIS, proposal_images=[0, 0, 0],
                boxes=[[GT]], labels=[[2]])
    params = {k: change.pop(k) for k in list(change) if k not in args}
    return fast_rcnn_loss(**{**args, **change}, **params)


@pytest.mark.parametrize("change, error, match", [
    ({"labels": [[0]]}, ValueError, r"labels\[0, 0\] = 0: 0 is the background class"),
    ({"labels": [[3]]}, ValueError, r"labels\[0, 0\] = 3 is outside \[0, 3\)"),
    ({"boxes": [[[0, 0, 1.5, 0.5]]]}, ValueError, r"outside the image"),
    ({"boxes": [[[0, 0.5, 0.5, 0]]]}, ValueError, r"y2 < y1"),
    ({"proposal_images": [0, 0, 1]}, ValueError, r"proposal_images\[2\] = 1 is outside \[0, N\) = \[0, 1\)"),
    ({"proposal_images": [0, 0]}, ValueError, r"proposal_images must have shape"),
    ({"box_regression": REGRESSION[:, :8]}, ValueError, r"box_regression has 8 columns but class_logits has C = 3"),
    ({"class_logits": LOGITS[:2], "box_regression": REGRESSION[:2]}, ValueError,
     r"proposals has 3 RoIs but class_logits"),
    # fg 0.7: r0 (IoU 9/11) stays foreground, [0, 0, 0.5, 0.75] (IoU 0.25 / 0.375 = 2/3) is in [0.5, 0.7)
    ({"proposals": [[0.05, 0, 0.55, 0.5], [0.5, 0.5, 1, 1], [0, 0, 0.5, 0.75]], "fg_iou_thresh": 0.7},
     ValueError, r"proposals\[2\].*never samples it"),
    ({"proposals": [[0.05, 0, 0.05, 0.5]] * 3}, ValueError, r"proposals\[0\].*zero width"),
    ({"boxes": np.zeros((0, 1, 4)), "labels": np.zeros((0, 1), int)}, ValueError, r"empty"),
])
def test_fast_rcnn_bad_input(change, error, match):
    with pytest.raises(error, match=match):
        head_call(**change)


def test_fast_rcnn_sample_bad_input():
    with pytest.raises(ValueError, match="proposals_per_image has 2 entries but boxes has N = 1"):
        fast_rcnn_sample([ROIS, ROIS], [[GT]], [[2]])
    with pytest.raises(ValueError, match="0 is the background class"):
        fast_rcnn_sample([ROIS], [[GT]], [[0]])


# ---- wrong implementations, caught ----------------------------------------------------------------------------

def head_box_over_foreground(class_logits, box_regression, proposals, proposal_images, boxes, labels, **params):
    """The box term divided by the foreground RoIs instead of all R."""
    total, terms = fast_rcnn_loss(class_logits, box_regression, proposals, proposal_images, boxes, labels, **params)
    fg = np.sum(fast_rcnn_targets(proposals, proposal_images, boxes, labels).labels > 0)
    box = terms["box_reg"] * len(proposals) / max(fg, 1)
    return terms["classifier"] + box, {"classifier": terms["classifier"], "box_reg": box}


def head_wrong_class_columns(class_logits, box_regression, *rest, **params):
    """Regression read from the columns of class y - 1 (an off-by-one on the background column)."""
    shifted = np.roll(np.asarray(box_regression, dtype=float), -4, axis=1)
    return fast_rcnn_loss(class_logits, shifted, *rest, **params)


def head_beta_one(*inputs, **params):
    """Smooth L1 with beta = 1 (py-faster-rcnn's head) where torchvision uses 1/9."""
    return fast_rcnn_loss(*inputs, **{**params, "beta": 1.0})


def head_ce_over_foreground(class_logits, box_regression, proposals, proposal_images, boxes, labels, **params):
    """Cross-entropy averaged over the foreground RoIs only."""
    total, terms = fast_rcnn_loss(class_logits, box_regression, proposals, proposal_images, boxes, labels, **params)
    fg = np.sum(fast_rcnn_targets(proposals, proposal_images, boxes, labels).labels > 0)
    cls = terms["classifier"] * len(proposals) / fg
    return cls + terms["box_reg"], {"classifier": cls, "box_reg": terms["box_reg"]}


@pytest.mark.parametrize("wrong", [head_box_over_foreground, head_wrong_class_columns, head_beta_one,
                                   head_ce_over_foreground])
def test_fast_rcnn_wrong_implementations_are_caught(wrong):
    check_head_one_object(fast_rcnn_loss)
    with pytest.raises(AssertionError):
        check_head_one_object(wrong)


# ---- registry -----------------------------------------------------------------------------------------------

def test_registered():
    from refloss._registry import get
    for name, terms in (("rpn_loss", ("objectness", "rpn_box_reg")), ("fast_rcnn_loss", ("classifier", "box_reg"))):
        spec = get(name)
        assert spec.kind == "detector" and spec.family == "detectors" and spec.terms == terms
        assert [i.name for i in spec.inputs if i.differentiable] == (
            ["objectness", "pred_bbox_deltas"] if name == "rpn_loss" else ["class_logits", "box_regression"])


# =============================================================================================================
# torchvision's own RegionProposalNetwork and RoIHeads on the same inputs.
# =============================================================================================================

def torch_terms(adapter, outputs, constants, dtype, **params):
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(np.asarray(x), dtype=dtype, requires_grad=True) for x in outputs]
    const = [torch.tensor(np.asarray(x)) if np.asarray(x).dtype.kind in "iub" else
             torch.tensor(np.asarray(x), dtype=dtype) for x in constants]
    total, terms = adapter(*tensors, *const, **params)
    total.backward()
    return ({k: float(v.detach()) for k, v in terms.items()}, float(total.detach()),
            [t.grad.double().numpy() for t in tensors])


RPN_TORCH_SCENES = {
    "random": lambda: random_rpn_case(11).inputs,
    "one_object": lambda: (OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT, ALL_BUT_IGNORED),
    "zero_iou_object": lambda: (np.array([[0.3, -0.2, 1.1]]), np.full((1, 3, 4), 0.2),
                                np.array([[0, 0, 0.2, 0.2], [0.8, 0.8, 1, 1], [0, 0.8, 0.2, 1]]),
                                [[[0.4, 0.4, 0.6, 0.6]]], [[0]], [[1, 1, 1]]),
    "mixed_batch": lambda: (RPN_OUT[0], RPN_OUT[1], ANCHORS, [[OBJECT], [[0.0] * 4]], [[0], [-1]],
                            [[1, 1, 0, 1], [1, 0, 1, 1]]),
}


@pytest.mark.parametrize("scene", RPN_TORCH_SCENES)
@pytest.mark.parametrize("params", [{}, {"weights": (2, 2, 1, 1)}], ids=lambda p: ",".join(p) or "default")
def test_rpn_matches_torchvision_float64(scene, params):
    """Terms and gradients as torchvision's RPN computes them, to 1e-12, except the objectness term's value:
    torchvision makes the anchor labels float32 (assign_targets_to_anchors), and binary_cross_entropy_with_logits
    of float64 logits and float32 targets returns float32, so loss_objectness is rounded to float32 (relative
    1e-7) even in float64; its gradient is float64 and agrees to 1e-12 (test below)."""
    pytest.importorskip("torchvision")
    import torch

    from refloss.adapters.detection.faster_rcnn import rpn_loss as tv_rpn_loss
    inputs = RPN_TORCH_SCENES[scene]()
    terms, total, grads = torch_terms(tv_rpn_loss, inputs[:2], inputs[2:], torch.float64, **params)
    expected_total, expected = rpn_loss(*inputs, **params)
    assert terms["rpn_box_reg"] == pytest.approx(float(expected["rpn_box_reg"]), rel=1e-12, abs=1e-15)
    assert terms["objectness"] == pytest.approx(float(expected["objectness"]), rel=2 ** -23)
    ours = rpn_loss_vjp(1.0, *inputs, **params)
    for got, want in zip(grads, ours[:2]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_rpn_torchvision_objectness_is_float32_even_in_float64():
    """The recorded difference: torchvision's loss_objectness has dtype float32 for float64 inputs."""
    pytest.importorskip("torchvision")
    import torch

    from refloss.adapters.detection.faster_rcnn import rpn_loss as tv_rpn_loss
    inputs = [torch.tensor(np.asarray(x)) for x in RPN_TORCH_SCENES["random"]()]
    _, terms = tv_rpn_loss(*inputs)
    assert terms["objectness"].dtype == torch.float32 and terms["rpn_box_reg"].dtype == torch.float64


@pytest.mark.parametrize("scene", RPN_TORCH_SCENES)
def test_rpn_matches_torchvision_float32(scene):
    """float32 inputs: float32 rounding through IoU, encoding and the losses; 1e-5 relative is ~100 float32
    ulps, far below any real difference (a wrong normaliser or beta changes the terms by O(1))."""
    pytest.importorskip("torchvision")
    import torch

    from refloss.adapters.detection.faster_rcnn import rpn_loss as tv_rpn_loss
    inputs = RPN_TORCH_SCENES[scene]()
    terms, _, grads = torch_terms(tv_rpn_loss, inputs[:2], inputs[2:], torch.float32)
    _, expected = rpn_loss(*inputs)
    for name in expected:
        assert terms[name] == pytest.approx(float(expected[name]), rel=1e-5, abs=1e-6)
    for got, want in zip(grads, rpn_loss_vjp(1.0, *inputs)[:2]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_rpn_empty_sample_torchvision_gives_nan():
    """The recorded difference: with nothing sampled torchvision's terms are NaN (a mean over no anchors, and
    0 / 0); refloss's are 0, with a zero gradient."""
    pytest.importorskip("torchvision")
    import torch

    from refloss.adapters.detection.faster_rcnn import rpn_loss as tv_rpn_loss
    inputs = [torch.tensor(np.asarray(x)) for x in (OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT)]
    _, terms = tv_rpn_loss(*inputs, torch.zeros((1, 4), dtype=torch.bool))
    assert math.isnan(float(terms["objectness"])) and math.isnan(float(terms["rpn_box_reg"]))
    assert float(rpn_loss(OBJECTNESS, DELTAS, ANCHORS, *ONE_OBJECT, np.zeros((1, 4)))[0]) == 0.0


HEAD_TORCH_SCENES = {
    "random": lambda: head_case(5).inputs,
    "one_object": lambda: (LOGITS, REGRESSION, *HEAD_SCENE),
    "several_images": lambda: (np.random.default_rng(2).normal(size=(3, 3)),
                               np.random.default_rng(3).normal(size=(3, 12)),
                               np.array([[0.5, 0.5, 1, 1], [0.05, 0, 0.55, 0.5], [0.05, 0, 0.55, 0.5]]), [1, 0, 1],
                               [[GT], [[0.5, 0.5, 1, 1]]], [[2], [1]]),
    "no_objects": lambda: (np.ones((2, 3)), np.ones((2, 12)), ROIS[:2], [0, 0], [[[0.0] * 4]], [[-1]]),
}


@pytest.mark.parametrize("scene", HEAD_TORCH_SCENES)
@pytest.mark.parametrize("dtype_name, tolerance", [("float64", 1e-12), ("float32", 1e-5)])
def test_fast_rcnn_matches_torchvision(scene, dtype_name, tolerance):
    """Terms and gradients as torchvision's RoIHeads (select_training_samples with the sample given) and
    fastrcnn_loss compute them: float64 to 1e-12, float32 to 1e-5 (see the RPN's float32 test)."""
    pytest.importorskip("torchvision")
    import torch

    from refloss.adapters.detection.faster_rcnn import fast_rcnn_loss as tv_loss
    inputs = HEAD_TORCH_SCENES[scene]()
    terms, _, grads = torch_terms(tv_loss, inputs[:2], inputs[2:], getattr(torch, dtype_name))
    _, expected = fast_rcnn_loss(*inputs)
    for name in expected:
        assert terms[name] == pytest.approx(float(expected[name]), rel=tolerance, abs=tolerance / 10)
    for got, want in zip(grads, fast_rcnn_loss_vjp(1.0, *inputs)[:2]):
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance / 10)


def test_fast_rcnn_empty_sample_torchvision_gives_nan():
    pytest.importorskip("torchvision")
    import torch

    from refloss.adapters.detection.faster_rcnn import fast_rcnn_loss as tv_loss
    _, terms = tv_loss(torch.zeros((0, 3), dtype=torch.float64), torch.zeros((0, 12), dtype=torch.float64),
                       torch.zeros((0, 4), dtype=torch.float64), torch.zeros(0, dtype=torch.int64),
                       torch.tensor([[GT]], dtype=torch.float64), torch.tensor([[2]]))
    assert math.isnan(float(terms["classifier"])) and math.isnan(float(terms["box_reg"]))


def test_fast_rcnn_sample_matches_torchvision_labelling():
    """fast_rcnn_sample's labelling of proposals + appended ground truths is torchvision's: with a sampler that
    takes everything, select_training_samples returns the same labels as fast_rcnn_targets of our candidates."""
    pytest.importorskip("torchvision")
    import torch

    from refloss.adapters.detection.faster_rcnn import _GivenSample, roi_heads
    case = head_case(9)
    boxes, labels = case.inputs[4], case.inputs[5]
    proposals = [np.random.default_rng(n).uniform(0, 0.5, size=(8, 2)) for n in range(2)]
    proposals = [np.concatenate([p, p + 0.4], axis=1) for p in proposals]
    heads = roi_heads(4)
    targets = [{"boxes": torch.tensor(boxes[n][labels[n] >= 0]), "labels": torch.tensor(labels[n][labels[n] >= 0])}
               for n in range(2)]
    heads.fg_bg_sampler = _GivenSample([torch.ones(8 + len(t["boxes"]), dtype=torch.bool) for t in targets])
    _, _, tv_labels, _ = heads.select_training_samples([torch.tensor(p) for p in proposals], targets)
    rois, images = fast_rcnn_sample(proposals, boxes, labels, batch_size_per_image=100, positive_fraction=1.0)
    ours = fast_rcnn_targets(rois, images, boxes, labels).labels
    np.testing.assert_array_equal(np.concatenate([t.numpy() for t in tv_labels]), ours)
