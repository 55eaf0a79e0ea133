"""The YOLO losses' mpmath oracle: it agrees with refloss's float64 forward and VJP on random scenes for every
variant, takes its own assignment decisions (hand-built scenes whose answers are worked out below), checks its
standard algorithm and derivatives, and propagates NaN."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import refloss
from refloss.conformance.oracle import rounding
from refloss.conformance.oracle.detectors import ORACLES, TERMS, _Entry, _gradient, _Scene, evaluate_detector, scene

U = 2.0 ** -53
V1 = dict(grid_size=3, num_boxes=2, num_classes=3)
V3 = dict(num_classes=2, anchors=((8, 8), (12, 20), (16, 16), (30, 20), (40, 50), (50, 60)),
          anchor_masks=((4, 5), (2, 3), (0, 1)), strides=(32, 16, 8), input_size=(64, 64))
V3_PREDICTIONS = 2 * (2 * 2 + 4 * 4 + 8 * 8)  # 168


def _params(name: str, given: dict) -> dict:
    """Every parameter of the record, the defaults filled in (as the generator passes them)."""
    return {p.name: p.default for p in refloss.registry.get(name).params} | given


def _as_float(tensor) -> np.ndarray:
    return np.array([float(v) for v in tensor.exact]).reshape(tensor.shape)


def _scales(tensor) -> np.ndarray:
    return np.array([float(v) for v in tensor.scale]).reshape(tensor.shape)


def _objects(rng: np.random.Generator, n: int, m: int, real: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Ground truths of n images of m rows: ``real`` random objects in image 0 and ``real - 1`` in the others, the
    remaining rows padding (label -1); object 1 of image 0 has object 0's centre (so both fall in one cell)."""
    boxes = np.zeros((n, m, 4))
    labels = np.full((n, m), -1, dtype=np.int64)
    for image in range(n):
        for k in range(real if image == 0 else real - 1):
            low = rng.uniform(0.0, 0.6, 2)
            boxes[image, k] = np.concatenate([low, np.minimum(low + rng.uniform(0.05, 0.4, 2), 1.0)])
            labels[image, k] = rng.integers(classes)
    boxes[0, 1] = boxes[0, 0] + [0.01, 0.01, -0.01, -0.01]  # the same centre: the same cell (YOLOv1) and anchor cell
    return boxes, labels


def _compare(name: str, output, boxes, labels, given: dict, rng: np.random.Generator,
             relative: tuple[float, float] = (1e-13, 1e-13)) -> None:
    """The oracle against refloss at a random cotangent: within ``relative`` (value, gradient) of the largest entry,
    and every entry within policy_v2's allowance u (4 |exact| + 2 scale) of the exact value (so the scales cover
    float64's errors)."""
    spec = refloss.registry.get(name)
    cotangent = rng.normal(size=len(TERMS) + 1)
    expected = evaluate_detector(ORACLES[name], {"output": output, "boxes": boxes, "labels": labels},
                                 _params(name, given), None, cotangent)
    value = spec.output_vector(spec.forward(output, boxes, labels, **given))
    grad = spec.vjp(spec.cotangent_of(cotangent), output, boxes, labels, **given)[0]
    for got, tensor, tolerance in ((value, expected.value, relative[0]), (grad, expected.grads["output"], relative[1])):
        exact = _as_float(tensor)
        assert got.shape == exact.shape
        assert np.max(np.abs(got - exact)) <= tolerance * np.max(np.abs(exact))
        assert np.all(np.abs(got - exact) <= U * (4 * np.abs(exact) + 2 * _scales(tensor)))


YOLOV1_VARIANTS = [{}, {"confidence_target": "one"}, {"no_object": "empty_cells"}, {"size_output": "linear"},
                   {"normalization": "sum"}, {"normalization": "darknet"}, {"lambda_coord": 2.5, "lambda_noobj": 1.0}]


def _name(variant: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in variant.items()) or "canonical"


@pytest.mark.parametrize("variant", YOLOV1_VARIANTS, ids=_name)
def test_yolov1_oracle_matches_refloss(variant):
    rng = np.random.default_rng(len(str(variant)))
    for _ in range(2):
        output = rng.uniform(-0.2, 1.2, (2, 3, 3, 5 * 2 + 3))
        boxes, labels = _objects(rng, 2, 5, 4, 3)
        _compare("yolov1_loss", output, boxes, labels, V1 | variant, rng)
        targets = refloss.yolov1_targets(output, boxes, labels, **V1, size_output=variant.get("size_output", "sqrt"))
        decisions = scene(ORACLES["yolov1_loss"], {"output": output, "boxes": boxes, "labels": labels},
                          _params("yolov1_loss", V1 | variant)).decisions
        held = zip(*np.nonzero(targets.object_index >= 0))
        assert {cell: int(np.argmax(targets.responsible[cell])) for cell in held} == decisions["responsible"]
        assert decisions["dropped"] and set(decisions["dropped"]) == set(zip(*np.nonzero(targets.dropped)))


YOLOV3_VARIANTS = [{}, {"xy_loss": "sse", "ignore_thresh": 0.5}, {"box_weight": "one"}, {"ignore_thresh": 0.05}]


@pytest.mark.parametrize("variant", YOLOV3_VARIANTS, ids=_name)
def test_yolov3_oracle_matches_refloss(variant):
    rng = np.random.default_rng(10 + len(str(variant)))
    output = rng.normal(0.0, 1.5, (2, V3_PREDICTIONS, 7))
    boxes, labels = _objects(rng, 2, 4, 3, 2)
    labels[1] = -1  # an image with no objects: only no-object terms
    _compare("yolov3_loss", output, boxes, labels, V3 | variant, rng)
    decisions = scene(ORACLES["yolov3_loss"], {"output": output, "boxes": boxes, "labels": labels},
                      _params("yolov3_loss", V3 | variant)).decisions
    assignment = {k: v for k, v in variant.items() if k != "xy_loss"}
    targets = refloss.yolov3_targets(output, boxes, labels, **V3, **assignment)
    assert decisions["ignored"] == set(zip(*np.nonzero(targets.ignored)))
    assert set(decisions["positives"]) == set(zip(*np.nonzero(targets.positive)))
    if variant.get("ignore_thresh", 0.7) < 0.1:
        assert decisions["ignored"], "the threshold is low enough that some prediction is ignored"


def test_yolov3_accepts_array_parameters():
    """Parameters decoded from JSON arrive as NumPy arrays: the same expectation as with tuples."""
    rng = np.random.default_rng(3)
    output = rng.normal(size=(1, V3_PREDICTIONS, 7))
    boxes, labels = _objects(rng, 1, 2, 2, 2)
    inputs = {"output": output, "boxes": boxes, "labels": labels}
    as_tuples = evaluate_detector(ORACLES["yolov3_loss"], inputs, _params("yolov3_loss", V3), None, None)
    as_arrays = evaluate_detector(ORACLES["yolov3_loss"], inputs, _params("yolov3_loss", {
        k: (np.asarray(v) if isinstance(v, tuple) else v) for k, v in V3.items()}), None, None)
    assert as_tuples.value.exact == as_arrays.value.exact and as_tuples.grads == {}


# ---- hand-built scenes: the oracle's own decisions --------------------------------------------------------------

def _yolov1_cell(predictors: list[list[float]], classes=(0.0, 0.0)) -> np.ndarray:
    """Output (1, 2, 2, 5B + 2) with cell (row 0, col 0) holding these (x, y, w, h, conf) blocks; zeros elsewhere."""
    output = np.zeros((1, 2, 2, 5 * len(predictors) + 2))
    output[0, 0, 0] = np.concatenate([np.ravel(predictors), classes])
    return output


# The object: xyxy (0.125, 0.125, 0.375, 0.25) (dyadic: exact in float64), centre (0.25, 0.1875), size
# (0.25, 0.125); with S = 2 it is in column floor(0.5) = 0, row floor(0.375) = 0.
OBJECT = np.array([[[0.125, 0.125, 0.375, 0.25]]])
HAND = dict(grid_size=2, num_boxes=2, num_classes=2)


def _decide(output, given=None) -> dict:
    inputs = {"output": output, "boxes": OBJECT, "labels": np.array([[1]])}
    return scene(ORACLES["yolov1_loss"], inputs, _params("yolov1_loss", HAND | (given or {}))).decisions


def test_yolov1_responsible_is_the_best_iou():
    # Predictor 0: centre ((0 + 0.5)/2, (0 + 0.375)/2) = the object's, size 0^2 = 0: IoU 0. Predictor 1: the same
    # centre, size (0.5^2, 0.75^2) = (0.25, 0.5625): it covers the object's width 0.25 and height 0.125, so
    # I = 0.03125, U = 0.140625 + 0.03125 - 0.03125, IoU = 2/9. Predictor 1 is responsible with confidence target
    # 2/9; its confidence 0 gives the object term (0 - 2/9)^2 = 4/81 (N = 1).
    output = _yolov1_cell([[0.5, 0.375, 0.0, 0.0, 0.0], [0.5, 0.375, 0.5, 0.75, 0.0]])
    assert _decide(output)["responsible"] == {(0, 0, 0): 1}
    inputs = {"output": output, "boxes": OBJECT, "labels": np.array([[1]])}
    expected = evaluate_detector(ORACLES["yolov1_loss"], inputs, _params("yolov1_loss", HAND), None, None)
    with mpmath.workdps(60):
        assert abs(expected.value.exact[1 + TERMS.index("object")] - mpmath.mpf(4) / 81) < mpmath.mpf(10) ** -50


def test_yolov1_rmse_fallback_when_every_iou_is_zero():
    # Both sizes 0: every IoU is 0. RMSE of predictor 0 (centre (0, 0)): sqrt(0.25^2 + 0.1875^2 + 0.25^2 +
    # 0.125^2); of predictor 1 (the object's centre): sqrt(0.25^2 + 0.125^2), smaller: predictor 1.
    output = _yolov1_cell([[0.0, 0.0, 0.0, 0.0, 0.0], [0.5, 0.375, 0.0, 0.0, 0.0]])
    assert _decide(output)["responsible"] == {(0, 0, 0): 1}
    # Centres at x = 50/2 = 25 and 42/2 = 21: RMSEs above 24.75 and 20.75, none below darknet's initial 20, so
    # predictor 0 stays responsible although predictor 1 is closer.
    output = _yolov1_cell([[50.0, 0.0, 0.0, 0.0, 0.0], [42.0, 0.0, 0.0, 0.0, 0.0]])
    assert _decide(output)["responsible"] == {(0, 0, 0): 0}


def test_yolov1_linear_sizes_read_negative_as_empty():
    # size_output="linear": predictor 0 has w = h = -0.3, an empty box (IoU 0), though its square would overlap;
    # predictor 1 has w = 0.2, h = 0.1 at the object's centre, inside it: IoU 0.02 / 0.03125 = 0.64: predictor 1.
    output = _yolov1_cell([[0.5, 0.375, -0.3, -0.3, 0.0], [0.5, 0.375, 0.2, 0.1, 0.0]])
    assert _decide(output, {"size_output": "linear"})["responsible"] == {(0, 0, 0): 1}
    # In sqrt mode predictor 0's box is 0.09 x 0.09 inside the object: IoU 0.0081 / 0.03125 = 0.2592; predictor
    # 1's is 0.04 x 0.01: IoU 0.0004 / 0.03125 = 0.0128: predictor 0.
    assert _decide(output)["responsible"] == {(0, 0, 0): 0}


def test_yolov1_linear_size_at_zero_has_the_declared_zero_gradient():
    # Predictor 0 (w = 0: an empty box, its gradient on w the declared 0) is responsible by RMSE: sqrt(0.25^2 +
    # (0.25 - 0.125)^2) against predictor 1's sqrt(0.25^2 + 0.1875^2 + 0.25^2 + 0.125^2).
    output = _yolov1_cell([[0.5, 0.375, 0.0, 0.25, 0.3], [0.0, 0.0, 0.0, 0.0, 0.0]])
    inputs = {"output": output, "boxes": OBJECT, "labels": np.array([[1]])}
    given = HAND | {"size_output": "linear"}
    expected = evaluate_detector(ORACLES["yolov1_loss"], inputs, _params("yolov1_loss", given), None, np.ones(6))
    grad = _as_float(expected.grads["output"])
    assert _decide(output, {"size_output": "linear"})["responsible"] == {(0, 0, 0): 0}
    assert grad[0, 0, 0, 2] == 0.0 and grad[0, 0, 0, 3] != 0.0
    got = refloss.yolov1_loss_vjp(refloss.registry.get("yolov1_loss").cotangent_of(np.ones(6)), output, OBJECT,
                                  np.array([[1]]), **given)[0]
    np.testing.assert_allclose(got, grad, rtol=1e-13, atol=1e-15)


YOLOV3_HAND = dict(num_classes=1, anchors=((8, 8), (16, 16)), anchor_masks=((1,), (0,)), strides=(32, 16),
                   input_size=(32, 32))


def test_yolov3_hand_scene():
    # Scale 0: 1 x 1 grid with anchor 16; scale 1: 2 x 2 with anchor 8 (P = 5). The object (0.25, 0.25, 0.75, 0.75)
    # has size 0.5 = 16/32: shape IoU 1 with anchor 1, so prediction 0 is positive, targets (0.5, 0.5, ln 1, ln 1),
    # weight 2 - 0.25 = 1.75. At output 0: xy = 1.75 * 2 BCE(0, 0.5) = 3.5 ln 2, wh = 0, object = ln 2, class = ln 2.
    # Predictions 1..4 decode to 0.25-wide boxes centred at (0.25 or 0.75, ...), each overlapping the object by
    # 0.125^2: IoU 0.015625 / (0.0625 + 0.25 - 0.015625) = 1/19 = 0.0526, below 0.7: four negatives, 4 ln 2.
    output = np.zeros((1, 5, 6))
    inputs = {"output": output, "boxes": np.array([[[0.25, 0.25, 0.75, 0.75]]]), "labels": np.array([[0]])}
    expected = evaluate_detector(ORACLES["yolov3_loss"], inputs, _params("yolov3_loss", YOLOV3_HAND), None, None)
    ln2 = math.log(2)
    np.testing.assert_allclose(_as_float(expected.value), np.array([9.5, 3.5, 0, 1, 4, 1]) * ln2, rtol=1e-15)
    # With ignore_thresh = 0.05 < 1/19 the four are ignored: no no-object term (and the positive is not ignored).
    decisions = scene(ORACLES["yolov3_loss"], inputs, _params("yolov3_loss", YOLOV3_HAND | {"ignore_thresh": 0.05}))
    assert decisions.decisions["ignored"] == {(0, 1), (0, 2), (0, 3), (0, 4)}
    assert decisions.decisions["prediction"] == {(0, 0): 0}


def test_yolov3_later_object_overwrites_the_box_target_and_classes_add_up():
    # Two objects of size 0.5 centred in the 1 x 1 grid: both take prediction 0; the second's offset target
    # (0.55) wins, both classes are targets 1.
    settings = YOLOV3_HAND | {"num_classes": 2}
    boxes = np.array([[[0.25, 0.25, 0.75, 0.75], [0.3, 0.25, 0.8, 0.75]]])
    inputs = {"output": np.zeros((1, 5, 7)), "boxes": boxes, "labels": np.array([[0, 1]])}
    positives = scene(ORACLES["yolov3_loss"], inputs, _params("yolov3_loss", settings)).decisions["positives"]
    assert list(positives) == [(0, 0)] and positives[(0, 0)]["classes"] == {0, 1}
    assert positives[(0, 0)]["object"] == 1 and float(positives[(0, 0)]["targets"][0].value) == pytest.approx(0.55)


# ---- NaN, and the oracle's own checks --------------------------------------------------------------------------

def test_nan_propagates_where_the_entry_enters_a_term():
    inputs = {"output": np.zeros((1, 5, 6)), "boxes": np.array([[[0.25, 0.25, 0.75, 0.75]]]),
              "labels": np.array([[0]])}
    inputs["output"][0, 2, 4] = np.nan  # a negative's objectness: no_object and the total
    inputs["output"][0, 3, 0] = np.nan  # a negative's t_x: in no term (its box's IoU is NaN: not ignored)
    expected = evaluate_detector(ORACLES["yolov3_loss"], inputs, _params("yolov3_loss", YOLOV3_HAND), None,
                                 np.ones(6))
    value, grad = _as_float(expected.value), _as_float(expected.grads["output"])
    assert np.array_equal(np.isnan(value), [True, False, False, False, True, False])
    assert np.isnan(grad[0, 2, 4]) and grad[0, 3, 0] == 0.0 and np.sum(np.isnan(grad)) == 1
    spec = refloss.registry.get("yolov3_loss")
    got = spec.vjp(spec.cotangent_of(np.ones(6)), *inputs.values(), **YOLOV3_HAND)[0]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(grad))


def test_infinite_outputs_give_ieee_limits():
    # YOLOv1, no object at all: every confidence gets lambda_noobj C^2 / N; C = inf gives inf, gradient 2 (0.5) inf.
    # YOLOv3: a negative's objectness -inf gives softplus(-inf) = 0 and slope sigmoid(-inf) = 0.
    output = np.zeros((1, 2, 2, 7))
    output[0, 1, 1, 4] = np.inf
    inputs = {"output": output, "boxes": np.zeros((1, 1, 4)), "labels": np.array([[-1]])}
    expected = evaluate_detector(ORACLES["yolov1_loss"], inputs, _params("yolov1_loss", HAND | {"num_boxes": 1}),
                                 None, np.ones(6))
    assert _as_float(expected.value).tolist() == [np.inf, 0, 0, 0, np.inf, 0]
    assert _as_float(expected.grads["output"])[0, 1, 1, 4] == np.inf
    inputs = {"output": np.zeros((1, 5, 6)), "boxes": np.zeros((1, 1, 4)), "labels": np.array([[-1]])}
    inputs["output"][0, 3, 4] = -np.inf
    expected = evaluate_detector(ORACLES["yolov3_loss"], inputs, _params("yolov3_loss", YOLOV3_HAND), None,
                                 np.ones(6))
    np.testing.assert_allclose(_as_float(expected.value), np.array([4, 0, 0, 0, 4, 0]) * math.log(2), rtol=1e-15)
    assert _as_float(expected.grads["output"])[0, 3, 4] == 0.0


def _one_entry(slope) -> _Scene:
    """A scene of one squared entry (v - 0.25)^2 with the given standard slope."""
    target = rounding.exact(mpmath.mpf(0.25))
    entry = _Entry(0, "xy", textbook=lambda v: (v - target.value) ** 2, standard=lambda v: (v - target) ** 2,
                   slope=slope)
    return _Scene([entry], {name: mpmath.mpf(1) for name in TERMS}, 1)


@pytest.mark.parametrize("wrong", [
    lambda v, g: g * (v - 0.25),  # the slope of half the square (darknet's delta, a factor 2 off)
    lambda v, g: 2 * g * (v + 0.25),  # the target's sign flipped
    lambda v, g: 2 * g * (v - 0.25) * rounding.sigmoid(v) * rounding.sigmoid(-v),  # a stray sigmoid derivative
])
def test_a_wrong_analytic_slope_is_caught_by_mpmath_diff(wrong):
    with mpmath.workdps(60):
        _gradient(_one_entry(lambda v, g: 2 * g * (v - 0.25)), [mpmath.mpf(0.7)], (1,), np.ones(6))  # the right one
        with pytest.raises(ArithmeticError):
            _gradient(_one_entry(wrong), [mpmath.mpf(0.7)], (1,), np.ones(6))


def test_every_variant_changes_the_expectation():
    """The oracle reads every parameter: refloss at each variant disagrees with the oracle at the canonical
    settings (so a generator passing the wrong parameter, or a variant computed as the canonical one, is caught)."""
    rng = np.random.default_rng(7)
    output = rng.uniform(-0.2, 1.2, (2, 3, 3, 13))
    boxes, labels = _objects(rng, 2, 5, 4, 3)
    canonical = evaluate_detector(ORACLES["yolov1_loss"], {"output": output, "boxes": boxes, "labels": labels},
                                  _params("yolov1_loss", V1), None, None)
    spec = refloss.registry.get("yolov1_loss")
    for variant in YOLOV1_VARIANTS[1:]:
        value = spec.output_vector(spec.forward(output, boxes, labels, **V1, **variant))
        assert np.max(np.abs(value - _as_float(canonical.value))) > 1e-6, variant


# ---- YOLOv3 as eriklindernoren/PyTorch-YOLOv3 ------------------------------------------------------------------

ERIK = "yolov3_eriklindernoren_loss"
# Two scales on a non-square input (W != H): grids 2 x 3 and 4 x 6, two anchors each: P = 2 (6 + 24) = 60.
V3_TWO = dict(num_classes=3, anchors=((10, 14), (23, 27), (37, 58), (81, 82)), anchor_masks=((2, 3), (0, 1)),
              strides=(32, 16), input_size=(64, 96))
ERIK_SETTINGS = [(V3, {}), (V3, {"ignore_thresh": 0.2, "obj_scale": 2.5, "noobj_scale": 7.0}),
                 (V3_TWO, {"noobj_scale": 0.5}), (V3_TWO, {"ignore_thresh": 0.2, "obj_scale": 0.3})]


def _erik_decisions(output, boxes, labels, given: dict) -> dict:
    return scene(ORACLES[ERIK], {"output": output, "boxes": boxes, "labels": labels}, _params(ERIK, given)).decisions


@pytest.mark.parametrize("layout,variant", ERIK_SETTINGS,
                         ids=[f"{len(layout['strides'])}-scales,{_name(variant)}" for layout, variant in ERIK_SETTINGS])
def test_eriklindernoren_oracle_matches_refloss(layout, variant):
    rng = np.random.default_rng(20 + len(str(layout)) + len(str(variant)))
    predictions = sum(len(mask) * (layout["input_size"][0] // stride) * (layout["input_size"][1] // stride)
                      for mask, stride in zip(layout["anchor_masks"], layout["strides"]))
    c = layout["num_classes"]
    output = np.clip(rng.normal(0.0, 2.5, (2, predictions, 5 + c)), -8.0, 8.0)  # |z| <= 8: no BCE saturation
    boxes, labels = _objects(rng, 2, 4, 3, c)
    # Values to ~1e-13; the gradient to 1e-12: a negative's (p - 0) / (p (1 - p)) takes p rounded, and 1 / (1 - p)
    # amplifies its ~2 u error by e^z (3000 at z = 8: ~7e-13 relative); policy_v2's per-entry allowance covers it.
    _compare(ERIK, output, boxes, labels, layout | variant, rng, relative=(1e-13, 1e-12))
    decisions = _erik_decisions(output, boxes, labels, layout | variant)
    assignment = {k: v for k, v in variant.items() if k == "ignore_thresh"}
    targets = refloss.yolov3_eriklindernoren_targets(output, boxes, labels, **layout, **assignment)
    assert set(decisions["positives"]) == set(zip(*np.nonzero(targets.positive)))
    assert decisions["ignored"] == set(zip(*np.nonzero(targets.ignored)))
    real = [(image, k) for image, k in zip(*np.nonzero(labels >= 0))]
    scales = len(layout["strides"])
    assert decisions["anchor"] == {
        (image, k, s): int(targets.anchor[image, k, s]) for image, k in real for s in range(scales)}
    assert decisions["prediction"] == {
        (image, k, s): int(targets.prediction[image, k, s]) for image, k in real for s in range(scales)}
    starts = np.cumsum([0] + [len(mask) * (layout["input_size"][0] // stride) * (layout["input_size"][1] // stride)
                              for mask, stride in zip(layout["anchor_masks"], layout["strides"])])
    negative = ~targets.positive & ~targets.ignored
    assert decisions["counts"] == [(int(targets.positive[:, a:b].sum()), int(negative[:, a:b].sum()))
                                   for a, b in zip(starts[:-1], starts[1:])]
    if variant.get("ignore_thresh", 0.5) < 0.5:
        assert decisions["ignored"], "the threshold is low enough that some prediction is ignored"


def test_eriklindernoren_accepts_array_parameters():
    rng = np.random.default_rng(4)
    output = rng.normal(size=(1, V3_PREDICTIONS, 7))
    boxes, labels = _objects(rng, 1, 2, 2, 2)
    inputs = {"output": output, "boxes": boxes, "labels": labels}
    given = V3 | {"obj_scale": 2.0}
    as_tuples = evaluate_detector(ORACLES[ERIK], inputs, _params(ERIK, given), None, None)
    as_arrays = evaluate_detector(ORACLES[ERIK], inputs, {k: (np.asarray(v) if isinstance(v, (tuple, float)) else v)
                                                          for k, v in _params(ERIK, given).items()}, None, None)
    assert as_tuples.value.exact == as_arrays.value.exact


# Scale 0: stride 32 on 64 x 64, a 2 x 2 grid, anchors 2 (32 x 32) and 3 (32 x 16); scale 1: stride 16, 4 x 4,
# anchors 0 (8 x 8) and 1 (16 x 16). P = 2 * 4 + 2 * 16 = 40. Prediction (a, j, i) of scale 0 is at (2a + j) 2 + i;
# of scale 1 at 8 + (4a + j) 4 + i.
ERIK_HAND = dict(num_classes=2, anchors=((8, 8), (16, 16), (32, 32), (32, 16)), anchor_masks=((2, 3), (0, 1)),
                 strides=(32, 16), input_size=(64, 64))
ERIK_OBJECT = np.array([[[0.25, 0.25, 0.75, 0.75]]])  # centre (0.5, 0.5), size 0.5 x 0.5 = 32 x 32 pixels


def test_eriklindernoren_hand_scene():
    # Scale 0: the centre is in cell (i, j) = (floor(0.5 * 2), floor(0.5 * 2)) = (1, 1). Shape IoUs: anchor 2 (0.5 x
    # 0.5) 1, anchor 3 (0.5 x 0.25) 0.125 / 0.25 = 0.5. Best: anchor 2 (a = 0): prediction 3 is positive, targets
    # (0.5 * 2 - 1, same, log(0.5 * 2 / (32 * 2 / 64) + 1e-16) = 1e-16, same). Anchor 3 (prediction 7): IoU 0.5 is
    # not above 0.5: a negative. Scale 1: cell (2, 2); anchor 0 (0.125 x 0.125): IoU 1/16, anchor 1 (0.25 x 0.25):
    # 1/4: best a = 1, prediction 8 + (4 + 2) 4 + 2 = 34 positive, targets (0, 0, log(0.5 * 4 / (16 * 4 / 64)) =
    # ln 2, ln 2). K_0 = K_1 = 1; Q_0 = 8 - 1 = 7, Q_1 = 32 - 1 = 31.
    output = np.zeros((1, 40, 7))
    output[0, 7, 4] = math.log(3)  # the anchor at IoU exactly 0.5: softplus(ln 3) = ln 4 = 2 ln 2 as a negative
    inputs = {"output": output, "boxes": ERIK_OBJECT, "labels": np.array([[1]])}
    decisions = _erik_decisions(output, ERIK_OBJECT, inputs["labels"], ERIK_HAND)
    assert set(decisions["positives"]) == {(0, 3), (0, 34)} and decisions["ignored"] == set()
    assert decisions["anchor"] == {(0, 0, 0): 2, (0, 0, 1): 1} and decisions["counts"] == [(1, 7), (1, 31)]
    # At output 0 (sigmoid 1/2): xy = 2 scales x 2 axes x (1/2 - 0)^2 = 1; wh = 2 (1e-16)^2 + 2 (ln 2)^2;
    # object = 2 ln 2 (b(1/2, 1) = ln 2, obj_scale 1); class = 2 ln 2 (each scale: the mean of 2 entries ln 2);
    # no_object = 100 ((6 ln 2 + 2 ln 2) / 7 + 31 ln 2 / 31) = (1500 / 7) ln 2.
    ln2 = math.log(2)
    terms = np.array([1.0, 2 * ln2 ** 2, 2 * ln2, 1500 / 7 * ln2, 2 * ln2])
    expected = evaluate_detector(ORACLES[ERIK], inputs, _params(ERIK, ERIK_HAND), None, np.ones(6))
    np.testing.assert_allclose(_as_float(expected.value), np.concatenate([[terms.sum()], terms]), rtol=1e-15)
    # Gradient at cotangent 1 for every output (each term's cotangent 1 + 1 = 2): a negative of scale 1 at 0,
    # 2 (100 / 31) sigmoid(0) = 100 / 31; prediction 34's t_w: 2 (2 / 1) (0 - ln 2) = -4 ln 2; prediction 3's
    # objectness: 2 (1 / 1) (1/2 - 1) = -1; its class 1 (target 1): 2 / (1 * 2) (1/2 - 1) = -1/2, class 0: 1/2;
    # its t_x: 2 (2 / 1) (1/2 - 0) (1/4) = 1/2.
    grad = _as_float(expected.grads["output"])
    np.testing.assert_allclose([grad[0, 18, 4], grad[0, 34, 2], grad[0, 3, 4], grad[0, 3, 6], grad[0, 3, 5],
                                grad[0, 3, 0]], [100 / 31, -4 * ln2, -1, -0.5, 0.5, 0.5], rtol=1e-15)
    # ignore_thresh 0.4 < 0.5: prediction 7 is ignored, scale 0 has Q_0 = 6 negatives of ln 2: no_object 200 ln 2.
    lower = ERIK_HAND | {"ignore_thresh": 0.4}
    assert _erik_decisions(output, ERIK_OBJECT, inputs["labels"], lower)["ignored"] == {(0, 7)}
    value = _as_float(evaluate_detector(ORACLES[ERIK], inputs, _params(ERIK, lower), None, None).value)
    assert value[1 + TERMS.index("no_object")] == pytest.approx(200 * ln2, rel=1e-15)
    # 0.05 < 1/16: scale 1's anchor 0 in the object's cell (prediction 8 + (0 + 2) 4 + 2 = 18) is ignored too.
    lowest = ERIK_HAND | {"ignore_thresh": 0.05}
    assert _erik_decisions(output, ERIK_OBJECT, inputs["labels"], lowest)["ignored"] == {(0, 7), (0, 18)}
    for given in (ERIK_HAND, lower, lowest):
        _compare(ERIK, output, ERIK_OBJECT, inputs["labels"], given, np.random.default_rng(0))


def test_eriklindernoren_later_object_overwrites_and_classes_add_up():
    # A second object with the same centre and size 0.375 (dyadic, so its centre is exactly 0.5 in float64 too):
    # scale 0 shape IoUs 0.140625 / 0.25 = 0.5625 (anchor 2) and 0.09375 / 0.171875 = 0.545 (anchor 3): best anchor
    # 2 again, prediction 3, whose t_w target becomes log(0.375 * 2 / 1) = ln 0.75 (the later object's) and classes
    # {1, 0}. Its IoU 0.545 > 0.5 with anchor 3: prediction 7 is ignored. Scale 1: IoUs 1/9 and 4/9: prediction 34.
    boxes = np.array([[[0.25, 0.25, 0.75, 0.75], [0.3125, 0.3125, 0.6875, 0.6875]]])
    labels = np.array([[1, 0]])
    decisions = _erik_decisions(np.zeros((1, 40, 7)), boxes, labels, ERIK_HAND)
    held = decisions["positives"][(0, 3)]
    assert held["object"] == 1 and held["classes"] == {0, 1}
    assert float(held["targets"][2].value) == pytest.approx(math.log(0.75), rel=1e-15)
    assert decisions["ignored"] == {(0, 7)} and decisions["counts"] == [(1, 6), (1, 31)]
    _compare(ERIK, np.random.default_rng(1).normal(size=(1, 40, 7)), boxes, labels, ERIK_HAND,
             np.random.default_rng(2))


def test_eriklindernoren_empty_means_are_nan():
    # No object: xy, wh, object and class are means of nothing (NaN, as torch), the total too; no_object is
    # 100 (mean of softplus over 8 + mean over 32) and only the objectness logits get a gradient.
    rng = np.random.default_rng(5)
    output = rng.normal(size=(1, 40, 7))
    inputs = {"output": output, "boxes": np.zeros((1, 1, 4)), "labels": np.array([[-1]])}
    expected = evaluate_detector(ORACLES[ERIK], inputs, _params(ERIK, ERIK_HAND), None, np.ones(6))
    value, grad = _as_float(expected.value), _as_float(expected.grads["output"])
    assert np.array_equal(np.isnan(value), [True, True, True, True, False, True])
    softplus = np.logaddexp(0.0, output[0, :, 4])
    assert value[4] == pytest.approx(100 * (softplus[:8].mean() + softplus[8:].mean()), rel=1e-14)
    assert np.all(grad[..., :4] == 0) and np.all(grad[..., 5:] == 0) and np.all(grad[..., 4] != 0)
    spec = refloss.registry.get(ERIK)
    got_value = spec.output_vector(spec.forward(output, inputs["boxes"], inputs["labels"], **ERIK_HAND))
    got = spec.vjp(spec.cotangent_of(np.ones(6)), output, inputs["boxes"], inputs["labels"], **ERIK_HAND)[0]
    np.testing.assert_array_equal(np.isnan(got_value), np.isnan(value))
    np.testing.assert_allclose(got_value[4], value[4], rtol=1e-14)
    np.testing.assert_allclose(got, grad, rtol=1e-13, atol=0)
    # A 1 x 1 grid whose only anchor is the object's: no negative at that scale, so no_object alone is NaN.
    one = dict(num_classes=1, anchors=((8, 8), (16, 16)), anchor_masks=((1,), (0,)), strides=(32, 16),
               input_size=(32, 32))
    inputs = {"output": np.zeros((1, 5, 6)), "boxes": np.array([[[0.25, 0.25, 0.75, 0.75]]]),
              "labels": np.array([[0]])}
    value = _as_float(evaluate_detector(ORACLES[ERIK], inputs, _params(ERIK, one), None, None).value)
    assert np.array_equal(np.isnan(value), [True, False, False, False, True, False])
    got_value = spec.output_vector(spec.forward(*inputs.values(), **one))
    np.testing.assert_array_equal(np.isnan(got_value), np.isnan(value))


def _erik_refloss(output, boxes, labels, given: dict, cotangent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    spec = refloss.registry.get(ERIK)
    return (spec.output_vector(spec.forward(output, boxes, labels, **given)),
            spec.vjp(spec.cotangent_of(cotangent), output, boxes, labels, **given)[0])


def _ignore_at_or_above(output, boxes, labels, given, cotangent):
    """`>=` for the ignore rule: an anchor whose shape IoU equals ignore_thresh is ignored (refloss one ulp lower)."""
    return _erik_refloss(output, boxes, labels, given | {"ignore_thresh": np.nextafter(given["ignore_thresh"], 0)},
                         cotangent)


def _means_per_image(output, boxes, labels, given, cotangent):
    """Each image's loss on its own, summed: means per image instead of over the whole batch."""
    parts = [_erik_refloss(output[k:k + 1], boxes[k:k + 1], labels[k:k + 1], given, cotangent)
             for k in range(len(output))]
    return sum(value for value, _ in parts), np.concatenate([grad for _, grad in parts])


def _no_sigmoid_slope_on_offsets(output, boxes, labels, given, cotangent):
    """darknet's delta for x, y taken as the gradient: 2/K (sigmoid(t) - t_hat) without sigmoid'(t)."""
    value, grad = _erik_refloss(output, boxes, labels, given, cotangent)
    positive = refloss.yolov3_eriklindernoren_targets(output, boxes, labels, **{
        k: v for k, v in given.items() if k not in ("obj_scale", "noobj_scale")}).positive
    s = 1 / (1 + np.exp(-output[..., :2]))
    grad[..., :2] = np.where(positive[..., None], grad[..., :2] / (s * (1 - s)), grad[..., :2])
    return value, grad


@pytest.mark.parametrize("wrong", [_ignore_at_or_above, _means_per_image, _no_sigmoid_slope_on_offsets])
def test_eriklindernoren_wrong_implementations_are_caught(wrong):
    """Bugs real ports have, each rejected by policy_v2's per-entry allowance around the oracle's expectation (in the
    hand scene, where an anchor's shape IoU is exactly 0.5, with a second image holding another object)."""
    rng = np.random.default_rng(6)
    output = rng.uniform(-3.0, 3.0, (2, 40, 7))
    boxes = np.concatenate([ERIK_OBJECT, [[[0.5, 0.0625, 0.875, 0.5]]]])
    labels = np.array([[1], [0]])
    given, cotangent = _params(ERIK, ERIK_HAND), rng.normal(size=6)
    expected = evaluate_detector(ORACLES[ERIK], {"output": output, "boxes": boxes, "labels": labels}, given, None,
                                 cotangent)

    def within(got, tensor) -> bool:
        exact = _as_float(tensor)
        return bool(np.all(np.abs(got - exact) <= U * (4 * np.abs(exact) + 2 * _scales(tensor))))

    right = _erik_refloss(output, boxes, labels, given, cotangent)
    assert within(right[0], expected.value) and within(right[1], expected.grads["output"])
    value, grad = wrong(output, boxes, labels, given, cotangent)
    assert not (within(value, expected.value) and within(grad, expected.grads["output"]))
