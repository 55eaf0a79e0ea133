"""Cases for the detector losses yolov1_loss and yolov3_loss: small scenes, their variants and their edge cases.

A detector vector's output is the vector (total, xy, wh, object, no_object, class) and its cotangent has one entry
per output (``LossSpec.cotangent_of``), so each vector checks every term and the gradient of a random mix of them.
Inputs of an all-dtype case are exact in bfloat16 and float16: head outputs are multiples of 1/32 in [-1/2, 3/2)
(YOLOv1) or [-4, 4) (YOLOv3), box corners multiples of 1/64. The assignment must not depend on the dtype an
implementation computes in, so random scenes are redrawn until every decision has a margin: YOLOv1's best IoU
(or, when all are 0, the best RMSE) beats the runner-up by 1/50, and no YOLOv3 prediction's best IoU lies within
1/25 of ignore_thresh. The scenes that test a decision itself (ties, the RMSE fallback) are built by hand.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from refloss.conformance.cases import (ALL_DTYPES, FLOAT64_ONLY, VectorCase, case_rng, cases_for, cotangent_for,
                                      float64_cotangent)

V1 = {"grid_size": 3, "num_boxes": 2, "num_classes": 3}
# Two scales of a 64 x 64 input (grids 2 x 2 and 4 x 4), two anchors each: P = 2 * 4 + 2 * 16 = 40 predictions.
V3 = {"num_classes": 2, "anchors": ((12, 12), (20, 36), (30, 24), (48, 50)), "anchor_masks": ((2, 3), (0, 1)),
      "strides": (32, 16), "input_size": (64, 64)}
# darknet's nine COCO anchors and three scales on a 64 x 64 input (grids 2, 4, 8: P = 252).
V3_COCO_ANCHORS = {"num_classes": 2, "input_size": (64, 64)}
_MARGIN_V1, _MARGIN_V3 = 1 / 50, 1 / 25


def scene_boxes(rng: np.random.Generator, images: int, objects: int, nondyadic: bool = False,
                sides: tuple[int, int] = (6, 30)) -> np.ndarray:
    """Random boxes with corners on the 1/64 grid (or anywhere, ``nondyadic``), of width and height ``sides[0]``
    to ``sides[1]`` 64ths, inside the image."""
    smallest, largest = sides
    if nondyadic:
        size = rng.uniform(smallest / 64, largest / 64, size=(images, objects, 2))
        corner = rng.uniform(0, 1 - size)
        return np.concatenate([corner, corner + size], axis=-1)
    size = rng.integers(smallest, largest + 1, size=(images, objects, 2))
    corner = rng.integers(0, 65 - size)
    return np.concatenate([corner, corner + size], axis=-1) / 64


def _labels(rng: np.random.Generator, images: int, objects: int, classes: int) -> np.ndarray:
    return rng.integers(0, classes, size=(images, objects)).astype(np.int64)


def _case(loss: str, name: str, concern: str, comment: str, output: Any, boxes: Any, labels: Any,
          params: dict[str, Any], rng: np.random.Generator, *, flags: tuple[str, ...] = ("DetectorScene",),
          error: str | None = None, dtypes: tuple[str, ...] = ALL_DTYPES) -> VectorCase:
    inputs = {"output": np.asarray(output, dtype=np.float64), "boxes": np.asarray(boxes, dtype=np.float64),
              "labels": np.asarray(labels, dtype=np.int64)}
    cotangent = float64_cotangent(rng, (6,), "none") if dtypes == FLOAT64_ONLY else cotangent_for(rng, (6,), "none")
    return VectorCase(name, concern, comment, inputs, None, params=dict(params), cotangent=cotangent, flags=flags,
                      dtypes=dtypes, error=error)


# ---- YOLOv1 -------------------------------------------------------------------------------------------------------

def _v1_output(rng: np.random.Generator, images: int, s: int = 3, b: int = 2, c: int = 3,
               linear: bool = False) -> np.ndarray:
    output = rng.integers(-16, 48, size=(images, s, s, 5 * b + c)) / 32
    if linear:  # a size output of 0 is the linear variant's kink: it has cases of its own
        sizes = output[..., :5 * b].reshape(images, s, s, b, 5)[..., 2:4]
        sizes[sizes == 0] = 1 / 32
    return output


def _v1_decisive(output: np.ndarray, boxes: np.ndarray, labels: np.ndarray, params: dict[str, Any]) -> bool:
    """Whether every responsible predictor wins by a margin (in IoU, or in RMSE when every IoU is 0)."""
    from refloss import yolov1_targets

    targets = yolov1_targets(output, boxes, labels, **params)
    held = targets.object_index >= 0
    ious = np.sort(targets.iou[held], axis=-1)
    decided_by_iou = ious[:, -1] > 0
    if np.any(decided_by_iou & (ious[:, -1] - ious[:, -2] < _MARGIN_V1)):
        return False
    return not np.any(~decided_by_iou)  # (the RMSE fallback has a hand-built case of its own)


def _v1_scene(loss: str, name: str, images: int, objects: int, params: dict[str, Any],
              linear: bool = False, nondyadic: bool = False) -> tuple:
    rng = case_rng(loss, name)
    s, b, c = params["grid_size"], params["num_boxes"], params["num_classes"]
    assignment = {k: params[k] for k in ("grid_size", "num_boxes", "num_classes")}
    assignment["size_output"] = params.get("size_output", "sqrt")
    while True:
        output = rng.uniform(-0.5, 1.5, size=(images, s, s, 5 * b + c)) if nondyadic \
            else _v1_output(rng, images, s, b, c, linear)
        boxes, labels = scene_boxes(rng, images, objects, nondyadic), _labels(rng, images, objects, c)
        if _v1_decisive(output, boxes, labels, assignment):
            return output, boxes, labels, rng


V1_VARIANTS = [
    ("confidence_target_one", {"confidence_target": "one"}, "darknet rescore=0: the confidence target is 1"),
    ("no_object_empty_cells", {"no_object": "empty_cells"}, "aladdinpersson: no-object term on empty cells only"),
    ("size_output_linear", {"size_output": "linear"}, "aladdinpersson: w, h outputs linear, sign(w)sqrt(|w|+1e-6)"),
    ("normalization_sum", {"normalization": "sum"}, "the sum over the batch, not divided by N"),
    ("normalization_darknet", {"normalization": "darknet"}, "darknet: half the sum, divided by N"),
    ("lambdas", {"lambda_coord": 2.5, "lambda_noobj": 0.25}, "other term weights"),
]


@cases_for("yolov1_loss")
def yolov1_basic(loss: str) -> Iterator[VectorCase]:
    """Random scenes on a 3 x 3 grid (B = 2, C = 3): one object, a batch, each variant; and the VOC defaults."""
    output, boxes, labels, rng = _v1_scene(loss, "one_object", 1, 1, V1)
    yield _case(loss, "one_object", "basic", "one object on a 3 x 3 grid, B = 2, C = 3", output, boxes, labels, V1,
                rng)
    output, boxes, labels, rng = _v1_scene(loss, "batch_of_three", 3, 3, V1)
    labels[2, 1:] = -1  # image 2 has one object and two padding rows
    yield _case(loss, "batch_of_three", "basic", "three images of up to three objects (padding rows labelled -1); "
                "the terms are summed over the batch and divided by N = 3", output, boxes, labels, V1, rng)
    for name, variant, comment in V1_VARIANTS:
        params = {**V1, **variant}
        output, boxes, labels, rng = _v1_scene(loss, name, 2, 3, params, linear="size_output" in variant)
        yield _case(loss, name, "basic", comment, output, boxes, labels, params, rng,
                    flags=("DetectorScene", "Variant"))
    voc = {"grid_size": 7, "num_boxes": 2, "num_classes": 20}
    output, boxes, labels, rng = _v1_scene(loss, "voc_defaults", 1, 4, voc)
    yield _case(loss, "voc_defaults", "basic", "the paper's setting S = 7, B = 2, C = 20 and default parameters "
                "(none set): four objects", output, boxes, labels, {}, rng)


def _one_cell_output(predictors: list[list[float]], s: int = 3, c: int = 3) -> np.ndarray:
    """An output (1, s, s, 5B + C) of zeros except cell (row 0, column 0), whose predictors are given as
    (x, y, w, h, confidence) rows, and its class scores (1/2, 1/4, ...)."""
    b = len(predictors)
    output = np.zeros((1, s, s, 5 * b + c))
    output[0, 0, 0, :5 * b] = np.ravel(predictors)
    output[0, 0, 0, 5 * b:] = 1 / 2 ** np.arange(1, c + 1)
    return output


@cases_for("yolov1_loss")
def yolov1_accuracy(loss: str) -> Iterator[VectorCase]:
    """Float64-only scenes with non-dyadic outputs and boxes: every operation rounds."""
    for name, variant in [("nondyadic", {}), ("nondyadic_linear", {"size_output": "linear"})]:
        params = {**V1, **variant}
        output, boxes, labels, rng = _v1_scene(loss, name, 2, 3, params, nondyadic=True)
        yield _case(loss, name, "accuracy", "non-dyadic outputs in [-0.5, 1.5) and boxes", output, boxes, labels,
                    params, rng, flags=("DetectorScene", "NonDyadic"), dtypes=FLOAT64_ONLY)


@cases_for("yolov1_loss")
def yolov1_edge(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "edge")
    # Object (1/64, 1/64)-(19/64, 21/64): centre (10/64, 11/64), in cell (0, 0) of the 3 x 3 grid.
    gt = [[[1 / 64, 1 / 64, 19 / 64, 21 / 64]]]
    tie = _one_cell_output([[0.5, 0.5, 0.5, 0.5, 0.75], [0.5, 0.5, 0.5, 0.5, 0.25]])
    yield _case(loss, "iou_tie", "edge", "two predictors with the same box: equal IoU, predictor 0 is responsible "
                "(its confidence gets the IoU target; predictor 1's the no-object term)", tie, gt, [[1]], V1, rng,
                flags=("DetectorScene", "AssignmentTie"))
    # Both predicted boxes miss the object (centre (10/64, 11/64), size (18/64, 20/64)): predictor 0 is centred at
    # (1.5/3, 1.5/3) = (0.5, 0.5) with size 1/16 x 1/16 (RMSE 0.58); predictor 1 at (1/3, 0) with size 1/4 x 1/64,
    # below the object (its y range ends at 1/128 < 1/64), RMSE 0.39: it is responsible.
    far = _one_cell_output([[1.5, 1.5, 0.25, 0.25, 0.5], [1.0, 0.0, 0.5, 0.125, 0.5]])
    yield _case(loss, "rmse_fallback", "edge", "every IoU is 0: the predictor of smallest RMSE (1) is responsible, "
                "as darknet", far, gt, [[2]], V1, rng, flags=("DetectorScene", "RmseFallback"))
    output, boxes, labels, _ = _v1_scene(loss, "two_objects_one_cell", 1, 2, V1)
    boxes[0, 1] = boxes[0, 0] + np.array([1, 1, -1, -1]) / 64  # the same centre, a smaller box: the same cell
    labels[0, 1] = (labels[0, 0] + 1) % 3
    yield _case(loss, "two_objects_one_cell", "edge", "two objects whose centres fall in one cell: the first keeps "
                "it, the second is dropped (no term at all)", output, boxes, labels, V1, rng,
                flags=("DetectorScene", "SharedCell"))
    output = _v1_output(rng, 2)
    padding = np.zeros((2, 2, 4))
    yield _case(loss, "no_objects", "edge", "two images with only padding rows: the no-object term of every "
                "confidence", output, padding, np.full((2, 2), -1), V1, rng, flags=("DetectorScene", "NoObjects"))
    yield _case(loss, "no_rows", "edge", "M = 0 ground-truth rows", _v1_output(rng, 1), np.zeros((1, 0, 4)),
                np.zeros((1, 0), np.int64), V1, rng, flags=("DetectorScene", "NoObjects"))
    # A centre exactly on a cell border (x = 1/3 is not on the 1/64 grid; x = 1/2 on a 2 x 2 grid is) goes to the
    # cell on its right (floor), and a point box at the image corner (1, 1) to the last cell with offset 1.
    edges = {**V1, "grid_size": 2}
    border = [[[0.25, 0.25, 0.75, 0.5], [1.0, 1.0, 1.0, 1.0]]]
    output = _v1_output(rng, 1, s=2)
    output[0, 1, 1, :10] = [0.75, 0.75, 0.25, 0.25, 0.5, 0.5, 0.5, 0.125, 0.125, 0.25]  # cell (1, 1) decides by RMSE
    yield _case(loss, "cell_borders", "edge", "centre (1/2, 3/8) on the border of columns 0 and 1 goes to column 1 "
                "(offset 0); a point box at (1, 1) goes to the last cell with offset 1 (and size 0)", output, border,
                [[0, 1]], edges, rng, flags=("DetectorScene", "DegenerateBox"))
    linear = {**V1, "size_output": "linear"}
    at_zero = _one_cell_output([[0.5, 0.5, 0.0, 0.5, 0.75], [0.25, 0.25, 0.5, 0.0, 0.25]])
    yield _case(loss, "linear_size_at_zero", "edge", "size_output='linear' with outputs w = 0 and h = 0: "
                "sign(0) sqrt(0 + 1e-6) = 0 and the gradient there is 0 (torch's sign and abs)", at_zero, gt, [[0]],
                linear, rng, flags=("DetectorScene", "AtKink", "Variant"))


@cases_for("yolov1_loss")
def yolov1_nonfinite(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "nonfinite")
    gt = [[[1 / 64, 1 / 64, 19 / 64, 21 / 64]]]
    output = _one_cell_output([[0.5, 0.5, 0.5, 0.5, 0.75], [0.25, 0.25, 0.25, 0.25, 0.25]])
    nan_confidence = output.copy()
    nan_confidence[0, 2, 2, 4] = np.nan  # an empty cell's confidence: the no-object term, and the total, are NaN
    yield _case(loss, "nan_confidence", "nonfinite", "NaN confidence of an empty cell: no_object and the total are "
                "NaN; the gradient is NaN at that entry only", nan_confidence, gt, [[0]], V1, rng,
                flags=("DetectorScene", "NaNInput"))
    nan_class = output.copy()
    nan_class[0, 2, 2, 11] = np.nan  # a class score of an empty cell enters no term
    yield _case(loss, "nan_unused_class_score", "nonfinite", "NaN class score of an empty cell: it enters no term, "
                "so every output is finite and its gradient is 0", nan_class, gt, [[0]], V1, rng,
                flags=("DetectorScene", "NaNInput"))


@cases_for("yolov1_loss")
def yolov1_invalid(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "invalid")
    output = _v1_output(rng, 1)
    gt, label = [[[0.125, 0.125, 0.5, 0.5]]], [[1]]
    invalid = [
        ("box_outside_image", output, [[[0.5, 0.5, 1.25, 0.75]]], label, V1, "invalid_box", "x2 = 1.25 > 1"),
        ("inverted_box", output, [[[0.5, 0.5, 0.25, 0.75]]], label, V1, "invalid_box", "x2 < x1"),
        ("label_out_of_range", output, gt, [[3]], V1, "label_out_of_range", "class 3 with C = 3"),
        ("label_below_padding", output, gt, [[-2]], V1, "label_out_of_range", "class -2 (only -1 marks padding)"),
        ("wrong_grid", output, gt, label, {**V1, "grid_size": 4}, "shape_mismatch", "a 3 x 3 output with S = 4"),
        ("wrong_depth", output[..., :-1], gt, label, V1, "shape_mismatch", "5B + C - 1 entries per cell"),
        ("no_images", output[:0], np.zeros((0, 1, 4)), np.zeros((0, 1), np.int64), V1, "empty_batch", "N = 0"),
        ("labels_shape", output, gt, [[1, 2]], V1, "shape_mismatch", "two labels for one box"),
        ("unknown_variant", output, gt, label, {**V1, "no_object": "all"}, "invalid_parameter",
         "no_object='all'"),
        ("negative_lambda", output, gt, label, {**V1, "lambda_coord": -1.0}, "invalid_parameter", "lambda_coord < 0"),
    ]
    for name, out, boxes, labels, params, error, comment in invalid:
        yield _case(loss, name, "invalid", comment, out, boxes, labels, params, rng,
                    flags=("InvalidInput",), error=error)


# ---- YOLOv3 -------------------------------------------------------------------------------------------------------

def _v3_predictions(params: dict[str, Any]) -> int:
    from refloss import yolov3_layout

    layout = {k: params[k] for k in ("anchors", "anchor_masks", "strides", "input_size") if k in params}
    return sum(scale.size for scale in yolov3_layout(**layout))


def _v3_scene(loss: str, name: str, images: int, objects: int, params: dict[str, Any],
              nondyadic: bool = False) -> tuple:
    """A random scene whose ignore decisions are all at least 1/25 from the threshold; ``nondyadic``: float64
    outputs in [-4, 4) with some objectness logits of magnitude 20 to 40 (BCE's log(1 - sigmoid) territory)."""
    from refloss import yolov3_targets

    rng = case_rng(loss, name)
    p, c = _v3_predictions(params), params["num_classes"]
    assignment = {k: v for k, v in params.items() if k != "xy_loss"}
    threshold = params.get("ignore_thresh", 0.7)
    while True:
        if nondyadic:
            output = rng.uniform(-4, 4, size=(images, p, 5 + c))
            confident = rng.random((images, p)) < 0.25
            output[..., 4] = np.where(confident, rng.uniform(20, 40, (images, p)) * rng.choice([-1, 1], (images, p)),
                                      output[..., 4])
        else:
            output = rng.integers(-128, 128, size=(images, p, 5 + c)) / 32
        boxes, labels = scene_boxes(rng, images, objects, nondyadic), _labels(rng, images, objects, c)
        best = yolov3_targets(output, boxes, labels, **assignment).best_iou
        if not np.any(np.abs(best - threshold) < _MARGIN_V3):
            return output, boxes, labels, rng


@cases_for("yolov3_loss")
def yolov3_basic(loss: str) -> Iterator[VectorCase]:
    """Random scenes on two scales (P = 40, C = 2); the variants; darknet's nine anchors on three scales."""
    output, boxes, labels, rng = _v3_scene(loss, "one_object", 1, 1, V3)
    yield _case(loss, "one_object", "basic", "one object; two scales of 2 x 2 and 4 x 4 cells, two anchors each",
                output, boxes, labels, V3, rng)
    output, boxes, labels, rng = _v3_scene(loss, "batch_of_three", 3, 3, V3)
    labels[1, :] = -1  # image 1 has no object
    yield _case(loss, "batch_of_three", "basic", "three images, one of them without objects; divided by N = 3",
                output, boxes, labels, V3, rng)
    for name, variant, comment in [
            ("paper_sse", {"xy_loss": "sse", "ignore_thresh": 0.5}, "the paper: SSE on sigmoid(t_x), ignore 0.5"),
            ("box_weight_one", {"box_weight": "one"}, "no 2 - w h weight"),
            ("ignore_low", {"ignore_thresh": 0.25}, "ignore_thresh 0.25: many predictions are ignored")]:
        params = {**V3, **variant}
        output, boxes, labels, rng = _v3_scene(loss, name, 2, 3, params)
        yield _case(loss, name, "basic", comment, output, boxes, labels, params, rng,
                    flags=("DetectorScene", "Variant") + (("IgnoredPrediction",) if name == "ignore_low" else ()))
    output, boxes, labels, rng = _v3_scene(loss, "coco_anchors", 1, 4, V3_COCO_ANCHORS)
    yield _case(loss, "coco_anchors", "basic", "darknet's nine COCO anchors and masks, strides 32, 16, 8 on a "
                "64 x 64 input (P = 252), C = 2; four objects", output, boxes, labels, V3_COCO_ANCHORS, rng,
                flags=("DetectorScene", "CrossScale"))


@cases_for("yolov3_loss")
def yolov3_accuracy(loss: str) -> Iterator[VectorCase]:
    """Float64-only scenes with non-dyadic outputs and boxes, a quarter of the objectness logits at |z| = 20..40."""
    for name, variant in [("nondyadic", {}), ("nondyadic_sse", {"xy_loss": "sse"})]:
        params = {**V3, **variant}
        output, boxes, labels, rng = _v3_scene(loss, name, 2, 3, params, nondyadic=True)
        yield _case(loss, name, "accuracy", "non-dyadic outputs and boxes; confident objectness logits",
                    output, boxes, labels, params, rng, flags=("DetectorScene", "NonDyadic"), dtypes=FLOAT64_ONLY)


@cases_for("yolov3_loss")
def yolov3_edge(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "edge")
    p = _v3_predictions(V3)
    output = rng.integers(-128, 128, size=(1, p, 7)) / 32
    output[..., 2:4] = -4.0  # tiny predicted boxes: nothing is ignored
    # Objects of 24 x 24 px ((12, 12) anchor 0... the best is (30, 24), anchor 2, on the 2 x 2 scale) and 40 x 48 px
    # (best anchor 3, (48, 50), the 2 x 2 scale) centred in one cell of that scale: the later one's box target and
    # weight win, and the prediction's class target is multi-hot.
    # Two 24 x 24 px objects centred at (20, 20) and (16, 16) px. Shape IoU with the anchors (12, 12), (20, 36),
    # (30, 24), (48, 50): 144/576, 480/816, 576/720 = 0.8, 576/2400: both take anchor 2 (the 2 x 2 scale, a = 0)
    # in cell (0, 0), prediction 0. The later one's box target and weight win; its class target is multi-hot.
    shared = [[[8 / 64, 8 / 64, 32 / 64, 32 / 64], [4 / 64, 4 / 64, 28 / 64, 28 / 64]]]
    yield _case(loss, "two_objects_one_prediction", "edge", "two objects with the same best anchor and cell: the "
                "later box target wins, classes 0 and 1 both set", output, shared, [[0, 1]], V3, rng,
                flags=("DetectorScene", "SharedCell"))
    # A 12 x 12 px object matches anchor 0 (12, 12) exactly: the 4 x 4 scale. A 48 x 48 px one: anchor 3 (48, 50),
    # shape IoU 2304/2400 = 0.96, on the 2 x 2 scale.
    scales = [[[4 / 64, 4 / 64, 16 / 64, 16 / 64], [8 / 64, 8 / 64, 56 / 64, 56 / 64]]]
    yield _case(loss, "one_object_per_scale", "edge", "a small object positive on the 4 x 4 scale only, a large one "
                "on the 2 x 2 scale only", output, scales, [[1, 0]], V3, rng, flags=("DetectorScene", "CrossScale"))
    # A 30 x 24 px object centred at (16, 16) px: positive at anchor 2 (30, 24) of cell (0, 0), prediction 0. The
    # prediction of anchor 3 (48, 50) in the same cell (index (1 * 2 + 0) * 2 + 0 = 4) with t = (0, 0, -1/2, -3/4)
    # decodes to a 29.1 x 23.6 px box centred at (16, 16) px: IoU 0.954 > 0.7, so it is ignored. Every other
    # predicted box is tiny (t_w = t_h = -4): IoU below 0.001.
    ignored = output.copy()
    ignored[0, 0, :4] = [0.0, 0.0, 0.0, 0.0]
    ignored[0, 4, :4] = [0.0, 0.0, -0.5, -0.75]
    yield _case(loss, "ignored_prediction", "edge", "a prediction that is not responsible overlaps the object with "
                "IoU 0.954 > ignore_thresh 0.7: no objectness term for it", ignored, [[[1 / 64, 4 / 64, 31 / 64,
                                                                                      28 / 64]]], [[1]], V3, rng,
                flags=("DetectorScene", "IgnoredPrediction"))
    yield _case(loss, "no_objects", "edge", "two images with only padding rows: only no_object, over every "
                "prediction", rng.integers(-128, 128, size=(2, p, 7)) / 32, np.zeros((2, 1, 4)), np.full((2, 1), -1),
                V3, rng, flags=("DetectorScene", "NoObjects"))


@cases_for("yolov3_loss")
def yolov3_nonfinite(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "nonfinite")
    p = _v3_predictions(V3)
    output = rng.integers(-128, 128, size=(1, p, 7)) / 32
    output[..., 2:4] = -4.0
    output[0, 7, 4] = np.nan  # a negative's objectness
    yield _case(loss, "nan_objectness", "nonfinite", "NaN objectness logit of a negative: no_object and the total "
                "are NaN, the gradient NaN at that entry only", output, [[[0.125, 0.125, 0.5, 0.5]]], [[0]], V3, rng,
                flags=("DetectorScene", "NaNInput"))


@cases_for("yolov3_loss")
def yolov3_invalid(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "invalid")
    p = _v3_predictions(V3)
    output = rng.integers(-128, 128, size=(1, p, 7)) / 32
    gt, label = [[[0.125, 0.125, 0.5, 0.5]]], [[1]]
    invalid = [
        ("box_outside_image", output, [[[-0.25, 0.5, 0.5, 0.75]]], label, V3, "invalid_box", "x1 < 0"),
        ("zero_width_box", output, [[[0.5, 0.5, 0.5, 0.75]]], label, V3, "invalid_box", "ln(0 / p_w)"),
        ("label_out_of_range", output, gt, [[2]], V3, "label_out_of_range", "class 2 with C = 2"),
        ("wrong_predictions", output[:, :-1], gt, label, V3, "shape_mismatch", "P - 1 predictions"),
        ("mask_out_of_range", output, gt, label, {**V3, "anchor_masks": ((2, 4), (0, 1))}, "invalid_parameter",
         "anchor index 4 of 4 anchors"),
        ("stride_not_dividing", output, gt, label, {**V3, "strides": (32, 24)}, "invalid_parameter",
         "64 is not a multiple of 24"),
        ("no_images", output[:0], np.zeros((0, 1, 4)), np.zeros((0, 1), np.int64), V3, "empty_batch", "N = 0"),
        ("unknown_xy_loss", output, gt, label, {**V3, "xy_loss": "mse"}, "invalid_parameter", "xy_loss='mse'"),
        ("ignore_thresh_above_one", output, gt, label, {**V3, "ignore_thresh": 1.5}, "invalid_parameter",
         "ignore_thresh = 1.5"),
    ]
    for name, out, boxes, labels, params, error, comment in invalid:
        yield _case(loss, name, "invalid", comment, out, boxes, labels, params, rng,
                    flags=("InvalidInput",), error=error)


# ---- YOLOv3 as eriklindernoren/PyTorch-YOLOv3 ---------------------------------------------------------------------

ERIK = "yolov3_eriklindernoren_loss"


def _erik_scene(name: str, images: int, objects: int, params: dict[str, Any], nondyadic: bool = False) -> tuple:
    """A random scene with logits in [-4, 4) (the probabilities stay far from BCELoss's clamps in every dtype) whose
    anchor-shape IoUs all lie at least 1/25 from ignore_thresh."""
    from refloss import yolov3_eriklindernoren_targets

    rng = case_rng(ERIK, name)
    p, c = _v3_predictions(params), params["num_classes"]
    assignment = {k: v for k, v in params.items() if k not in ("obj_scale", "noobj_scale")}
    threshold = params.get("ignore_thresh", 0.5)
    while True:
        output = rng.uniform(-4, 4, size=(images, p, 5 + c)) if nondyadic \
            else rng.integers(-128, 128, size=(images, p, 5 + c)) / 32
        boxes, labels = scene_boxes(rng, images, objects, nondyadic), _labels(rng, images, objects, c)
        shape_iou = yolov3_eriklindernoren_targets(output, boxes, labels, **assignment).shape_iou
        if not np.any(np.abs(shape_iou - threshold) < _MARGIN_V3):
            return output, boxes, labels, rng


@cases_for(ERIK)
def eriklindernoren_basic(loss: str) -> Iterator[VectorCase]:
    """Random scenes on two scales (P = 40, C = 2), its parameters, and darknet's nine anchors on three scales."""
    for name, images, objects, variant, comment in [
            ("one_object", 1, 1, {}, "one object: positive at both scales, means over one positive"),
            ("batch_of_three", 3, 3, {}, "three images: every mean over the whole batch, not per image"),
            ("ignore_low", 2, 3, {"ignore_thresh": 0.25}, "ignore_thresh 0.25: anchors of an object's cell whose "
                                                          "shape fits above it are no negatives"),
            ("scales", 2, 2, {"obj_scale": 2.0, "noobj_scale": 10.0}, "obj_scale 2, noobj_scale 10")]:
        params = {**V3, **variant}
        output, boxes, labels, rng = _erik_scene(name, images, objects, params)
        flags = ("DetectorScene",) + (("IgnoredPrediction",) if "ignore_thresh" in variant else ()) \
            + (("ParameterGrid",) if "obj_scale" in variant else ())
        yield _case(loss, name, "basic", comment, output, boxes, labels, params, rng, flags=flags)
    output, boxes, labels, rng = _erik_scene("coco_anchors", 1, 4, V3_COCO_ANCHORS)
    yield _case(loss, "coco_anchors", "basic", "darknet's nine COCO anchors, three scales of a 64 x 64 input "
                "(P = 252), C = 2; four objects, each positive at every scale", output, boxes, labels,
                V3_COCO_ANCHORS, rng, flags=("DetectorScene", "CrossScale"))


@cases_for(ERIK)
def eriklindernoren_accuracy(loss: str) -> Iterator[VectorCase]:
    output, boxes, labels, rng = _erik_scene("nondyadic", 2, 3, V3, nondyadic=True)
    yield _case(loss, "nondyadic", "accuracy", "non-dyadic outputs in [-4, 4) and boxes", output, boxes, labels, V3,
                rng, flags=("DetectorScene", "NonDyadic"), dtypes=FLOAT64_ONLY)


@cases_for(ERIK)
def eriklindernoren_edge(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "edge")
    output = rng.integers(-128, 128, size=(1, _v3_predictions(V3), 7)) / 32
    # A 30 x 48 px object on the 2 x 2 scale (anchors (30, 24) and (48, 50)): shape IoUs 720/1440 = 0.5 exactly
    # and 1440/2400 = 0.6 (best). At ignore_thresh 0.5 anchor (30, 24) is still a negative (strictly above is
    # ignored); at 7/16 it is ignored. Both IoUs and both thresholds are exact in every dtype.
    tall = [[[10 / 64, 4 / 64, 40 / 64, 52 / 64]]]
    for threshold, name, verdict in [(0.5, "shape_iou_at_threshold", "a negative"),
                                     (7 / 16, "shape_iou_above_threshold", "ignored")]:
        yield _case(loss, name, "edge", f"anchor (30, 24) has shape IoU 0.5 with the object; ignore_thresh "
                    f"{threshold}: it is {verdict}", output, tall, [[1]], {**V3, "ignore_thresh": threshold}, rng,
                    flags=("DetectorScene", "IgnoredPrediction"))
    shared = [[[8 / 64, 8 / 64, 32 / 64, 32 / 64], [4 / 64, 4 / 64, 28 / 64, 28 / 64]]]
    yield _case(loss, "two_objects_one_prediction", "edge", "two 24 x 24 px objects in one cell of each scale: "
                "the later box target wins, classes 0 and 1 both set", output, shared, [[0, 1]], V3, rng,
                flags=("DetectorScene", "SharedCell"))
    yield _case(loss, "no_objects", "edge", "no object in the batch: every mean over positives is a mean of "
                "nothing, NaN (torch's), and only no_object is a number", output, np.zeros((1, 1, 4)),
                np.full((1, 1), -1), V3, rng, flags=("DetectorScene", "NoObjects"))


@cases_for(ERIK)
def eriklindernoren_invalid(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "invalid")
    output = rng.integers(-128, 128, size=(1, _v3_predictions(V3), 7)) / 32
    gt, label = [[[0.125, 0.125, 0.5, 0.5]]], [[1]]
    invalid = [
        ("zero_width_box", output, [[[0.5, 0.5, 0.5, 0.75]]], label, V3, "invalid_box", "a box of zero width"),
        ("label_out_of_range", output, gt, [[2]], V3, "label_out_of_range", "class 2 with C = 2"),
        ("wrong_predictions", output[:, 1:], gt, label, V3, "shape_mismatch", "P - 1 predictions"),
        ("ignore_thresh_negative", output, gt, label, {**V3, "ignore_thresh": -0.5}, "invalid_parameter",
         "ignore_thresh = -0.5"),
        ("noobj_scale_negative", output, gt, label, {**V3, "noobj_scale": -1.0}, "invalid_parameter",
         "noobj_scale = -1"),
        ("no_images", output[:0], np.zeros((0, 1, 4)), np.zeros((0, 1), np.int64), V3, "empty_batch", "N = 0"),
    ]
    for name, out, boxes, labels, params, error, comment in invalid:
        yield _case(loss, name, "invalid", comment, out, boxes, labels, params, rng,
                    flags=("InvalidInput",), error=error)


@cases_for(ERIK)
def eriklindernoren_clamp(loss: str) -> Iterator[VectorCase]:
    """The registry's kink: a negative's objectness logit of exactly 100, where log(1 - sigmoid(z)) reaches
    BCELoss's clamp at -100 (to within 4e-44), and a positive's of exactly -100, where log sigmoid(z) does."""
    rng = case_rng(loss, "clamp")
    output = rng.integers(-128, 128, size=(1, _v3_predictions(V3), 7)) / 32
    box = [[[8 / 64, 8 / 64, 32 / 64, 32 / 64]]]  # positive at predictions 0 (2 x 2 scale) and 8 + ... (4 x 4)
    from refloss import yolov3_eriklindernoren_targets

    targets = yolov3_eriklindernoren_targets(output, box, [[0]], **V3)
    positive = int(np.argmax(targets.positive[0]))
    negative = int(np.argmax(~targets.positive[0] & ~targets.ignored[0]))
    output[0, positive, 4], output[0, negative, 4] = -100.0, 100.0
    yield _case(loss, "logits_at_the_clamp", "edge", f"objectness logit -100 on positive {positive} and 100 on "
                f"negative {negative}: each log term equals the clamp -100 (to 4e-44); the gradient may lie "
                "between the one-sided derivatives", output, box, [[0]], V3, rng,
                flags=("DetectorScene", "AtKink"), dtypes=("float64", "float32"))
