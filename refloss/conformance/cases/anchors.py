"""Cases for the anchor-based detector losses: ssd_loss, retinanet_loss, rpn_loss and fast_rcnn_loss.

Each vector's output is (total, *terms) and its cotangent has one entry per output, as for the YOLO losses
(:mod:`refloss.conformance.cases.detectors`). The scenes are small: 24 anchors (a 4 x 4 grid of 16/64 squares and
a 2 x 2 grid of 32/64 squares and 44 x 22 rectangles), two or three images, three object classes. Inputs of an
all-dtype case are exact in bfloat16 and float16: box corners are multiples of 1/64, head outputs multiples of
1/32 in [-4, 4). Every decision must come out the same in every dtype, so random scenes are redrawn until each has
a margin: no IoU within 1/40 of a threshold of the loss (an IoU of exactly 0 is exact anywhere), an anchor's best
ground truth beats its runner-up by 1/40 and a ground truth's best anchor beats its runner-up by 1/40 (where they
decide), and SSD's mining keeps a gap of 1/8 between the last mined background loss and the next one. The scenes
that test a decision itself (ties, a threshold met exactly, a forced match) are built by hand.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np

from refloss.conformance.cases import (ALL_DTYPES, FLOAT64_ONLY, VectorCase, case_rng, cases_for, cotangent_for,
                                      float64_cotangent)
from refloss.conformance.cases.detectors import scene_boxes

_MARGIN_IOU = 1 / 40
_MARGIN_MINING = 1 / 8
CLASSES = 3  # object classes; SSD and Fast R-CNN add the background column 0


def _centred(centres: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boxes of ``size`` (in 64ths) around ``centres`` (in 64ths), xyxy in image units."""
    half = np.array(size) / 2
    return np.concatenate([centres - half, centres + half], axis=-1) / 64


def anchor_grid() -> np.ndarray:
    """The 24 anchors, xyxy in image units: 16 squares of side 16/64 on a 4 x 4 grid (centres 8/64 + 16/64 k), then
    per cell of a 2 x 2 grid (centres 16/64 + 32/64 k) a 32/64 square and a 44 x 22 rectangle (which crosses the
    image border)."""
    fine = np.array([(8 + 16 * i, 8 + 16 * j) for j in range(4) for i in range(4)], dtype=float)
    coarse = np.array([(16 + 32 * i, 16 + 32 * j) for j in range(2) for i in range(2)], dtype=float)
    squares, rectangles = _centred(coarse, (32, 32)), _centred(coarse, (44, 22))
    return np.concatenate([_centred(fine, (16, 16)), np.stack([squares, rectangles], axis=1).reshape(-1, 4)])


def clipped_anchor_grid() -> np.ndarray:
    """The anchors clipped to the image (SSD's priors: torchvision's DefaultBoxGenerator clips by default)."""
    return np.clip(anchor_grid(), 0.0, 1.0)


def _iou(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(M, A) IoU in float64, written here for the margins (not the losses' code)."""
    low = np.maximum(boxes[:, None, :2], anchors[None, :, :2])
    high = np.minimum(boxes[:, None, 2:], anchors[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    area = lambda b: np.prod(b[..., 2:] - b[..., :2], axis=-1)  # noqa: E731
    return inter / (area(boxes)[:, None] + area(anchors)[None, :] - inter)


def _runner_up_gap(values: np.ndarray, axis: int) -> np.ndarray:
    """Best minus second best along ``axis`` (inf with a single candidate)."""
    if values.shape[axis] < 2:
        return np.full(np.delete(values.shape, axis), np.inf)
    ordered = -np.sort(-values, axis=axis)
    return np.take(ordered, 0, axis=axis) - np.take(ordered, 1, axis=axis)


def decisive(boxes: np.ndarray, labels: np.ndarray, anchors: np.ndarray, thresholds: tuple[float, ...]) -> bool:
    """Whether every matching decision of every image has its margin (see the module docstring)."""
    for image_boxes, image_labels in zip(boxes, labels):
        real = image_boxes[image_labels >= 0]
        if real.size == 0:
            continue
        iou = _iou(real, anchors)
        overlapping = iou > 0
        if any(np.any(overlapping & (np.abs(iou - t) < _MARGIN_IOU)) for t in thresholds):
            return False
        best = iou.max(axis=0)
        if np.any((best >= min(thresholds)) & (_runner_up_gap(iou, 0) < _MARGIN_IOU)):
            return False
        if np.any(_runner_up_gap(iou, 1) < _MARGIN_IOU):
            return False
    return True


def _scene_boxes(rng: np.random.Generator, images: int, objects: int, nondyadic: bool = False) -> np.ndarray:
    """Random ground truths of 8/64 to 40/64 a side inside the image, corners on the 1/64 grid (or anywhere)."""
    return scene_boxes(rng, images, objects, nondyadic, sides=(8, 40))


def _outputs(rng: np.random.Generator, shape: tuple[int, ...], nondyadic: bool = False) -> np.ndarray:
    return rng.uniform(-4, 4, size=shape) if nondyadic else rng.integers(-128, 128, size=shape) / 32


def _vector_case(name: str, concern: str, comment: str, inputs: dict[str, Any], params: dict[str, Any],
                 rng: np.random.Generator, flags: tuple[str, ...], dtypes: tuple[str, ...],
                 error: str | None) -> VectorCase:
    integer = {"labels", "sampled", "proposal_images"}
    arrays = {key: np.asarray(value, dtype=np.int64 if key in integer else np.float64)
              for key, value in inputs.items()}
    cotangent = float64_cotangent(rng, (3,), "none") if dtypes == FLOAT64_ONLY else cotangent_for(rng, (3,), "none")
    return VectorCase(name, concern, comment, arrays, None, params=dict(params), cotangent=cotangent, flags=flags,
                      dtypes=dtypes, error=error)


# ---- SSD and RetinaNet: every anchor has a head output -----------------------------------------------------------

class _Dense:
    """How to build the inputs of ssd_loss or retinanet_loss from a scene."""

    def __init__(self, loss: str, anchors: np.ndarray, columns: int, thresholds: tuple[float, ...],
                 label_offset: int) -> None:
        self.loss, self.anchors, self.columns = loss, anchors, columns
        self.thresholds, self.label_offset = thresholds, label_offset

    def inputs(self, regression: np.ndarray, logits: np.ndarray, boxes: Any, labels: Any) -> dict[str, Any]:
        if self.loss == "ssd_loss":
            return {"bbox_regression": regression, "cls_logits": logits, "anchors": self.anchors, "boxes": boxes,
                    "labels": labels}
        return {"cls_logits": logits, "bbox_regression": regression, "anchors": self.anchors, "boxes": boxes,
                "labels": labels}

    def outputs(self, rng: np.random.Generator, images: int, nondyadic: bool = False) -> tuple:
        a = len(self.anchors)
        return (_outputs(rng, (images, a, 4), nondyadic) / 4,  # box codes within [-1, 1): near their targets
                _outputs(rng, (images, a, self.columns), nondyadic))

    def labels(self, rng: np.random.Generator, images: int, objects: int) -> np.ndarray:
        return rng.integers(0, CLASSES, size=(images, objects)) + self.label_offset

    def case(self, name: str, concern: str, comment: str, regression: Any, logits: Any, boxes: Any, labels: Any,
             params: dict[str, Any], rng: np.random.Generator, flags: tuple[str, ...] = ("DetectorScene",),
             dtypes: tuple[str, ...] = ALL_DTYPES, error: str | None = None) -> VectorCase:
        return _vector_case(name, concern, comment, self.inputs(regression, logits, boxes, labels), params, rng,
                            flags, dtypes, error)

    def scene(self, name: str, images: int, objects: int, params: dict[str, Any] | None = None,
              nondyadic: bool = False, mined: Callable[..., bool] | None = None) -> tuple:
        """A random scene with margins: (regression, logits, boxes, labels, rng)."""
        rng = case_rng(self.loss, name)
        thresholds = self.thresholds_of(params or {})
        while True:
            boxes = _scene_boxes(rng, images, objects, nondyadic)
            labels = self.labels(rng, images, objects)
            regression, logits = self.outputs(rng, images, nondyadic)
            if decisive(boxes, labels, self.anchors, thresholds) and (mined is None or mined(
                    logits, boxes, labels, self.anchors, params or {})):
                return regression, logits, boxes, labels, rng

    def thresholds_of(self, params: dict[str, Any]) -> tuple[float, ...]:
        if self.loss == "ssd_loss":
            return (params.get("iou_threshold", self.thresholds[0]),)
        return (params.get("fg_iou_thresh", self.thresholds[0]), params.get("bg_iou_thresh", self.thresholds[1]))


SSD = _Dense("ssd_loss", clipped_anchor_grid(), CLASSES + 1, (0.5,), label_offset=1)
RETINANET = _Dense("retinanet_loss", anchor_grid(), CLASSES, (0.5, 0.4), label_offset=0)


def _background_loss(logits: np.ndarray) -> np.ndarray:
    """-log softmax(logits)[0] per prior, in float64 (for the mining margin; written here, not the loss's code)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return np.log(np.exp(shifted).sum(axis=-1)) - shifted[..., 0]


def _ssd_positives(boxes: np.ndarray, labels: np.ndarray, anchors: np.ndarray, threshold: float) -> np.ndarray:
    """(N, P) bool: SSD's matched priors (threshold, plus each ground truth's best prior)."""
    positive = np.zeros((len(boxes), len(anchors)), dtype=bool)
    for n, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
        real = image_boxes[image_labels >= 0]
        if real.size:
            iou = _iou(real, anchors)
            positive[n] = iou.max(axis=0) >= threshold
            positive[n, iou.argmax(axis=1)] = True
    return positive


def ssd_mining_has_margin(logits: np.ndarray, boxes: np.ndarray, labels: np.ndarray, anchors: np.ndarray,
                          params: dict[str, Any]) -> bool:
    """Whether in every image the last mined background loss beats the first unmined one by the margin."""
    positive = _ssd_positives(boxes, labels, anchors, params.get("iou_threshold", 0.5))
    loss = _background_loss(logits)
    ratio = params.get("neg_to_pos_ratio", 3)
    for row, mask in zip(loss, positive):
        candidates = np.sort(row[~mask])[::-1]
        k = min(ratio * int(mask.sum()), candidates.size)
        if 0 < k < candidates.size and candidates[k - 1] - candidates[k] < _MARGIN_MINING:
            return False
    return True


@cases_for("ssd_loss")
def ssd_basic(loss: str) -> Iterator[VectorCase]:
    """Random scenes on the 24 clipped priors, C = 4 (background and three classes); the variants."""
    regression, logits, boxes, labels, rng = SSD.scene("one_object", 1, 1, mined=ssd_mining_has_margin)
    yield SSD.case("one_object", "basic", "one object; 24 priors, C = 4 (column 0 the background)", regression,
                   logits, boxes, labels, {}, rng)
    regression, logits, boxes, labels, rng = SSD.scene("batch_of_three", 3, 3, mined=ssd_mining_has_margin)
    labels[2, 1:] = -1  # image 2 has one object and two padding rows
    yield SSD.case("batch_of_three", "basic", "three images of up to three objects: divided by the positives of "
                   "the whole batch", regression, logits, boxes, labels, {}, rng)
    for name, variant, comment in [
            ("ratio_one", {"neg_to_pos_ratio": 1}, "one mined negative per positive"),
            ("threshold_3_8", {"iou_threshold": 0.375}, "priors matched from IoU 3/8"),
            ("variances", {"variances": (0.125, 0.25)}, "other variances"),
            ("beta_half", {"beta": 0.5}, "smooth L1 with beta 1/2")]:
        regression, logits, boxes, labels, rng = SSD.scene(name, 2, 3, variant, mined=ssd_mining_has_margin)
        yield SSD.case(name, "basic", comment, regression, logits, boxes, labels, variant, rng,
                       flags=("DetectorScene", "Variant"))


@cases_for("ssd_loss")
def ssd_accuracy(loss: str) -> Iterator[VectorCase]:
    regression, logits, boxes, labels, rng = SSD.scene("nondyadic", 2, 3, nondyadic=True,
                                                       mined=ssd_mining_has_margin)
    yield SSD.case("nondyadic", "accuracy", "non-dyadic head outputs and boxes", regression, logits, boxes, labels,
                   {}, rng, flags=("DetectorScene", "NonDyadic"), dtypes=FLOAT64_ONLY)


def _prior(index: int, anchors: np.ndarray) -> list[float]:
    return anchors[index].tolist()


def _ssd_outputs(rng: np.random.Generator, boxes: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Head outputs for a hand-built SSD scene, redrawn until its mining has the margin."""
    boxes, labels = np.asarray(boxes, dtype=float), np.asarray(labels)
    while True:
        regression, logits = SSD.outputs(rng, len(boxes))
        if ssd_mining_has_margin(logits, boxes, labels, SSD.anchors, {}):
            return regression, logits


@cases_for("ssd_loss")
def ssd_edge(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "edge")
    anchors = SSD.anchors
    # Prior 5 is the square (16, 16)-(32, 32)/64. A ground truth equal to it: IoU 1, box target 0; its neighbours
    # 4, 6, 1, 9 overlap it by 0 (they only touch), the coarse square 16 ((0, 0)-(32, 32)/64) by 1/4.
    exact = [[_prior(5, anchors)]]
    regression, logits = _ssd_outputs(rng, exact, [[2]])
    at_kink = regression.copy()
    at_kink[0, 5] = [1.0, -1.0, 0.5, 0.0]  # differences to the target 0 of exactly +-beta = 1, 1/2, 0
    yield SSD.case("smooth_l1_kink", "edge", "a ground truth equal to prior 5 (box target 0) and codes 1, -1: at "
                   "smooth L1's kink |d| = beta = 1 (gradient sign(d)), and 0", at_kink, logits, exact, [[2]], {}, rng,
                   flags=("DetectorScene", "AtKink"))
    # An 8 x 8 ground truth (20, 20)-(28, 28)/64 inside prior 5: IoU 64/256 = 1/4 < 0.5 with it, its best prior (the
    # coarse square 16: 64/1024; the clipped rectangle 17: 64/836): forced onto prior 5.
    small = [[[20 / 64, 20 / 64, 28 / 64, 28 / 64]]]
    yield SSD.case("forced_below_threshold", "edge", "a ground truth whose best prior has IoU 1/4 < 0.5: that prior "
                   "is forced positive", *_ssd_outputs(rng, small, [[1]]), small, [[1]], {}, rng,
                   flags=("DetectorScene",))
    # Two ground truths whose best prior is prior 5: (18, 18)-(30, 30) (IoU 0.5625) and (17, 17)-(31, 31) (IoU
    # 196/256 = 0.7656). Both are above 0.5 only on prior 5; the first's forced match is overwritten by the second
    # (the later row wins), so only one prior is positive, for ground truth 1.
    shared = [[[18 / 64, 18 / 64, 30 / 64, 30 / 64], [17 / 64, 17 / 64, 31 / 64, 31 / 64]]]
    yield SSD.case("shared_best_prior", "edge", "two ground truths with the same best prior: the later one keeps "
                   "it", *_ssd_outputs(rng, shared, [[1, 3]]), shared, [[1, 3]], {}, rng,
                   flags=("DetectorScene", "SharedCell"))
    # IoU exactly 0.5 with prior 5: a 16 x 8 box (16, 16)-(32, 24). Computed exactly in float32 and float64
    # (areas 128 and 256 64ths^2); bfloat16 and float16 also hold them exactly, but keep to the exact dtypes.
    half = [[[16 / 64, 16 / 64, 32 / 64, 24 / 64]]]
    yield SSD.case("threshold_exact", "edge", "IoU exactly 0.5 with prior 5: matched (>= 0.5)",
                   *_ssd_outputs(rng, half, [[2]]), half, [[2]], {}, rng, dtypes=("float64", "float32"))
    tie = logits.copy()
    tie[0, :, :] = tie[0, 0, :]  # every prior has the same logits: every background loss ties
    yield SSD.case("mining_tie", "edge", "every prior has the same logits: the three mined negatives are the lowest "
                   "indices among the non-positives", regression, tie, exact, [[1]], {}, rng,
                   flags=("DetectorScene", "AssignmentTie"))
    crowd = np.array([[_prior(i, anchors) for i in range(0, 16, 2)]])  # 8 objects on 8 priors
    crowd_labels = np.full((1, 8), 3)
    yield SSD.case("few_negatives", "edge", "eight objects equal to eight priors: 3 * 8 exceeds the 16 non-positive "
                   "priors, so k is clamped and all 16 are mined (torchvision's unclamped k counts positives again)",
                   regression, logits, crowd, crowd_labels, {}, rng)
    regression2, logits2 = _ssd_outputs(rng, [[_prior(5, anchors)], [[0.0] * 4]], [[1], [-1]])
    yield SSD.case("no_objects", "edge", "two images with only padding rows: no positives, nothing mined, both "
                   "terms 0 (divided by max(1, 0))", regression2, logits2, np.zeros((2, 1, 4)), np.full((2, 1), -1),
                   {}, rng, flags=("DetectorScene", "NoObjects"))
    yield SSD.case("one_image_empty", "edge", "an image with no objects next to one with an object: the empty image "
                   "mines nothing", regression2, logits2, [[_prior(5, anchors)], [[0.0] * 4]], [[1], [-1]], {}, rng,
                   flags=("DetectorScene", "NoObjects"))


@cases_for("ssd_loss")
def ssd_nonfinite(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "nonfinite")
    gt = [[_prior(5, SSD.anchors)]]
    regression, logits = _ssd_outputs(rng, gt, [[1]])
    unused = regression.copy()
    unused[0, 0] = np.nan  # prior 0 is not positive: its box codes enter no term
    yield SSD.case("nan_unused_codes", "nonfinite", "NaN box codes of a background prior: no term uses them", unused,
                   logits, gt, [[1]], {}, rng, flags=("DetectorScene", "NaNInput"))
    mined = logits.copy()
    mined[0, 0, 1] = np.nan  # NaN background loss: ranked first, mined, the classification term is NaN
    yield SSD.case("nan_logit_mined", "nonfinite", "a NaN logit of a background prior: its loss ranks first, it is "
                   "mined, and classification and the total are NaN", regression, mined, gt, [[1]], {}, rng,
                   flags=("DetectorScene", "NaNInput"))


def _invalid(model: Any, loss: str, extra: list[tuple]) -> Iterator[VectorCase]:
    rng = case_rng(loss, "invalid")
    regression, logits = model.outputs(rng, 1)
    gt = [[[0.125, 0.125, 0.5, 0.5]]]
    label = [[1]]
    cases = [
        ("box_outside_image", regression, logits, [[[0.5, 0.5, 1.25, 0.75]]], label, {}, "invalid_box",
         "x2 = 1.25 > 1"),
        ("inverted_box", regression, logits, [[[0.5, 0.5, 0.25, 0.75]]], label, {}, "invalid_box", "x2 < x1"),
        ("label_out_of_range", regression, logits, gt, [[CLASSES + model.label_offset]], {}, "label_out_of_range",
         f"label {CLASSES + model.label_offset} with C = {model.columns}"),
        ("label_below_padding", regression, logits, gt, [[-2]], {}, "label_out_of_range", "label -2"),
        ("anchor_count", regression[:, :-1], logits[:, :-1], gt, label, {}, "shape_mismatch",
         "head outputs for 23 anchors, 24 anchors"),
        ("no_images", regression[:0], logits[:0], np.zeros((0, 1, 4)), np.zeros((0, 1), np.int64), {},
         "empty_batch", "N = 0"),
        *extra,
    ]
    for name, reg, log, boxes, labels, params, error, comment in cases:
        yield model.case(name, "invalid", comment, reg, log, boxes, labels, params, rng, flags=("InvalidInput",),
                         error=error)


@cases_for("ssd_loss")
def ssd_invalid(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "invalid")
    regression, logits = SSD.outputs(rng, 1)
    yield from _invalid(SSD, loss, [
        ("background_label", regression, logits, [[[0.125, 0.125, 0.5, 0.5]]], [[0]], {}, "label_out_of_range",
         "label 0 is the background class"),
        ("negative_ratio", regression, logits, [[[0.125, 0.125, 0.5, 0.5]]], [[1]], {"neg_to_pos_ratio": -1},
         "invalid_parameter", "neg_to_pos_ratio = -1"),
    ])


# ---- RetinaNet ------------------------------------------------------------------------------------------------------

@cases_for("retinanet_loss")
def retinanet_basic(loss: str) -> Iterator[VectorCase]:
    """Random scenes on the 24 anchors, C = 3; every box loss; the focal parameters."""
    regression, logits, boxes, labels, rng = RETINANET.scene("one_object", 1, 1)
    yield RETINANET.case("one_object", "basic", "one object; 24 anchors, C = 3", regression, logits, boxes, labels,
                         {}, rng)
    regression, logits, boxes, labels, rng = RETINANET.scene("batch_of_three", 3, 3)
    labels[1, :] = -1  # image 1 has no object
    yield RETINANET.case("batch_of_three", "basic", "three images, one without objects: each image divided by its "
                         "own positives (at least 1), then the mean over images", regression, logits, boxes, labels,
                         {}, rng)
    for name, variant, comment in [
            ("smooth_l1", {"box_loss": "smooth_l1"}, "smooth L1 box loss (beta 1)"),
            ("smooth_l1_beta", {"box_loss": "smooth_l1", "beta": 0.125}, "smooth L1 box loss, beta 1/8"),
            ("giou", {"box_loss": "giou"}, "GIoU loss on the decoded boxes"),
            ("diou", {"box_loss": "diou"}, "DIoU loss on the decoded boxes"),
            ("ciou", {"box_loss": "ciou"}, "CIoU loss on the decoded boxes"),
            ("gamma_zero", {"gamma": 0.0}, "gamma 0: alpha-weighted BCE"),
            ("no_alpha", {"alpha": -1.0}, "alpha < 0: no alpha weighting (torchvision's switch)"),
            ("thresholds", {"fg_iou_thresh": 0.625, "bg_iou_thresh": 0.25}, "a wider ignore band"),
            ("weights", {"weights": (10.0, 10.0, 5.0, 5.0)}, "coder weights (10, 10, 5, 5)")]:
        regression, logits, boxes, labels, rng = RETINANET.scene(name, 2, 3, variant)
        yield RETINANET.case(name, "basic", comment, regression, logits, boxes, labels, variant, rng,
                             flags=("DetectorScene", "Variant"))


@cases_for("retinanet_loss")
def retinanet_accuracy(loss: str) -> Iterator[VectorCase]:
    for name, variant in [("nondyadic", {}), ("nondyadic_giou", {"box_loss": "giou"})]:
        regression, logits, boxes, labels, rng = RETINANET.scene(name, 2, 3, variant, nondyadic=True)
        yield RETINANET.case(name, "accuracy", "non-dyadic head outputs and boxes", regression, logits, boxes,
                             labels, variant, rng, flags=("DetectorScene", "NonDyadic"), dtypes=FLOAT64_ONLY)


@cases_for("retinanet_loss")
def retinanet_edge(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "edge")
    anchors = RETINANET.anchors
    regression, logits = RETINANET.outputs(rng, 1)
    exact = [[_prior(5, anchors)]]
    at_kink = regression.copy()
    at_kink[0, 5] = [0.0, 0.25, 0.0, -0.25]  # target 0: |d| = 0 is the L1 kink (gradient 0, torch's sign)
    yield RETINANET.case("l1_kink", "edge", "a ground truth equal to anchor 5 (target 0) and codes 0: at the L1 "
                         "kink, gradient 0", at_kink, logits, exact, [[2]], {}, rng, flags=("DetectorScene", "AtKink"))
    smooth = regression.copy()
    smooth[0, 5] = [1.0, -1.0, 0.5, 0.0]  # target 0: |d| = beta = 1 twice, then 1/2 and 0
    yield RETINANET.case("smooth_l1_kink", "edge", "box_loss='smooth_l1', a ground truth equal to anchor 5 (target "
                         "0) and codes 1, -1: at smooth L1's kink |d| = beta = 1", smooth, logits, exact, [[2]],
                         {"box_loss": "smooth_l1"}, rng, flags=("DetectorScene", "AtKink", "Variant"))
    identical = regression.copy()
    identical[0, 5] = 0.0  # decodes to anchor 5 itself, which is the object: every coordinate ties
    yield RETINANET.case("giou_identical_box", "edge", "box_loss='giou', codes 0 at anchor 5 decode to the object "
                         "itself: every max/min of the IoU geometry ties (the gradient splits equally)", identical,
                         logits, exact, [[2]], {"box_loss": "giou"}, rng, flags=("DetectorScene", "AtKink", "Variant"))
    at_clamp = regression.copy()
    at_clamp[0, 5, 2:] = [math.log(1000 / 16), 0.0]  # float64's ln(1000/16): exactly the decoder's clamp
    yield RETINANET.case("giou_code_at_clamp", "edge", "box_loss='giou', a width code exactly at the decoder's clamp "
                         "ln(1000/16) (float64's value): the gradient there is 0, as beyond it", at_clamp, logits,
                         exact, [[2]], {"box_loss": "giou"}, rng, flags=("DetectorScene", "AtKink", "Variant"),
                         dtypes=FLOAT64_ONLY)
    # A 22 x 22 box (0, 0)-(22, 22)/64: IoU 256/484 = 0.529 with anchor 0 ((0, 0)-(16, 16)): positive; 484/1024 =
    # 0.473 with anchor 16 ((0, 0)-(32, 32)): in [0.4, 0.5), ignored; 0.347 with the rectangle 17: negative.
    yield RETINANET.case("ignored_band", "edge", "anchor 16 overlaps the object with IoU 0.473, between 0.4 and 0.5: "
                         "no classification loss for it", regression, logits, [[[0.0, 0.0, 22 / 64, 22 / 64]]], [[0]],
                         {}, rng, flags=("DetectorScene", "IgnoredPrediction"))
    # An 8 x 8 box (20, 20)-(28, 28): IoU 64/256 = 1/4 with anchor 5, its best: a low-quality match.
    yield RETINANET.case("low_quality_match", "edge", "a ground truth whose best anchor has IoU 1/4 < 0.4: that "
                         "anchor is positive all the same (low-quality match)", regression, logits,
                         [[[20 / 64, 20 / 64, 28 / 64, 28 / 64]]], [[1]], {}, rng, flags=("DetectorScene",))
    # A box (28, 28)-(36, 36) centred on the corner (32, 32) shared by anchors 5, 6, 9 and 10: IoU 16/(64 + 256 - 16)
    # = 0.0526 with each (the coarse squares: 16/1072; the rectangles miss it), a four-way tie of the ground truth's
    # best anchors: all four are claimed (ties included), computed the same way in every dtype.
    yield RETINANET.case("low_quality_tie", "edge", "a ground truth with four equally best anchors (IoU 16/304): all "
                         "four are positive", regression, logits, [[[28 / 64, 28 / 64, 36 / 64, 36 / 64]]], [[2]], {},
                         rng, flags=("DetectorScene", "AssignmentTie"))
    regression2, logits2 = RETINANET.outputs(rng, 2)
    yield RETINANET.case("no_objects", "edge", "two images without objects: every anchor a negative, divided by 1 "
                         "(max(1, 0)); no box loss", regression2, logits2, np.zeros((2, 1, 4)), np.full((2, 1), -1),
                         {}, rng, flags=("DetectorScene", "NoObjects"))
    big = regression.copy()
    big[0, 5, 2:] = [4.5, -4.5]  # the width code beyond the decoder's clamp ln(1000/16) = 4.135: gradient 0 there
    yield RETINANET.case("giou_clamped_code", "edge", "GIoU box loss with a width code 4.5 beyond the decoder's "
                         "clamp ln(1000/16): the decoded width stops growing and the code gets no gradient", big,
                         logits, exact, [[2]], {"box_loss": "giou"}, rng, flags=("DetectorScene", "Variant"))


@cases_for("retinanet_loss")
def retinanet_nonfinite(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "nonfinite")
    regression, logits = RETINANET.outputs(rng, 1)
    gt = [[_prior(5, RETINANET.anchors)]]
    unused = regression.copy()
    unused[0, 0] = np.nan
    yield RETINANET.case("nan_unused_codes", "nonfinite", "NaN box codes of a negative anchor: no term uses them",
                         unused, logits, gt, [[1]], {}, rng, flags=("DetectorScene", "NaNInput"))
    nan_logit = logits.copy()
    nan_logit[0, 0, 2] = np.nan
    yield RETINANET.case("nan_logit", "nonfinite", "a NaN logit of a negative anchor: classification and the total "
                         "are NaN", regression, nan_logit, gt, [[1]], {}, rng, flags=("DetectorScene", "NaNInput"))


@cases_for("retinanet_loss")
def retinanet_invalid(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "invalid")
    regression, logits = RETINANET.outputs(rng, 1)
    yield from _invalid(RETINANET, loss, [
        ("unknown_box_loss", regression, logits, [[[0.125, 0.125, 0.5, 0.5]]], [[1]], {"box_loss": "l2"},
         "invalid_parameter", "box_loss='l2'"),
    ])


# ---- Faster R-CNN: the RPN over every anchor, with an explicit sample ------------------------------------------

RPN_ANCHORS = anchor_grid()


def rpn_sample(boxes: np.ndarray, labels: np.ndarray, anchors: np.ndarray, per_image: int = 8,
               fraction: float = 0.5, fg: float = 0.7, bg: float = 0.3) -> np.ndarray:
    """(N, A) int: a deterministic balanced sample of each image's labelled anchors (the first ones in index
    order), from refloss's public labelling and sampler (inputs only: the oracle labels the anchors itself)."""
    from refloss import rpn_sample as sample, rpn_targets

    targets = rpn_targets(anchors, boxes, labels, fg_iou_thresh=fg, bg_iou_thresh=bg)
    return sample(targets, batch_size_per_image=per_image, positive_fraction=fraction).astype(np.int64)


def _rpn_case(name: str, concern: str, comment: str, objectness: Any, deltas: Any, boxes: Any, labels: Any,
              sampled: Any, params: dict[str, Any], rng: np.random.Generator,
              flags: tuple[str, ...] = ("DetectorScene",), dtypes: tuple[str, ...] = ALL_DTYPES,
              error: str | None = None, anchors: Any = RPN_ANCHORS) -> VectorCase:
    inputs = {"objectness": objectness, "pred_bbox_deltas": deltas, "anchors": anchors, "boxes": boxes,
              "labels": labels, "sampled": sampled}
    return _vector_case(name, concern, comment, inputs, params, rng, flags, dtypes, error)


def _rpn_outputs(rng: np.random.Generator, images: int, nondyadic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Random RPN head outputs for ``images`` images of the 24 anchors: objectness logits and box codes (/ 4)."""
    a = len(RPN_ANCHORS)
    return _outputs(rng, (images, a), nondyadic), _outputs(rng, (images, a, 4), nondyadic) / 4


def _one_object_on_anchor_5(loss: str, concern: str) -> tuple:
    """One image, one ground truth equal to anchor 5 (label 0), its deterministic sample, and head outputs."""
    rng = case_rng(loss, concern)
    objectness, deltas = _rpn_outputs(rng, 1)
    exact = [[RPN_ANCHORS[5].tolist()]]
    return rng, objectness, deltas, exact, rpn_sample(np.array(exact), np.array([[0]]), RPN_ANCHORS)


def _rpn_scene(loss: str, name: str, images: int, objects: int, params: dict[str, Any] | None = None,
               nondyadic: bool = False) -> tuple:
    params = params or {}
    rng = case_rng(loss, name)
    thresholds = (params.get("fg_iou_thresh", 0.7), params.get("bg_iou_thresh", 0.3))
    while True:
        boxes = _scene_boxes(rng, images, objects, nondyadic)
        labels = rng.integers(0, CLASSES, size=(images, objects))
        if decisive(boxes, labels, RPN_ANCHORS, thresholds):
            break
    objectness, deltas = _rpn_outputs(rng, images, nondyadic)
    return objectness, deltas, boxes, labels, rpn_sample(boxes, labels, RPN_ANCHORS, fg=thresholds[0],
                                                         bg=thresholds[1]), rng


@cases_for("rpn_loss")
def rpn_basic(loss: str) -> Iterator[VectorCase]:
    """Random scenes on the 24 anchors (some cross the border) with a deterministic sample of 8 per image."""
    objectness, deltas, boxes, labels, sampled, rng = _rpn_scene(loss, "one_object", 1, 1)
    yield _rpn_case("one_object", "basic", "one object; a sample of up to 4 positives and 8 anchors in all",
                    objectness, deltas, boxes, labels, sampled, {}, rng)
    objectness, deltas, boxes, labels, sampled, rng = _rpn_scene(loss, "batch_of_three", 3, 3)
    labels[2, :] = -1  # image 2 has no objects: its sample is 8 negatives
    yield _rpn_case("batch_of_three", "basic", "three images, one without objects: both terms divided by the whole "
                    "sample (24 anchors)", objectness, deltas, boxes, labels, sampled, {}, rng)
    objectness, deltas, boxes, labels, _, rng = _rpn_scene(loss, "everything_sampled", 2, 2)
    everything = rpn_sample(boxes, labels, RPN_ANCHORS, per_image=24, fraction=1.0)
    yield _rpn_case("everything_sampled", "basic", "every labelled anchor sampled (ignored ones excepted)",
                    objectness, deltas, boxes, labels, everything, {}, rng)
    for name, variant, comment in [
            ("paper", {"box_weight": 10.0, "box_normalizer": 16}, "the paper's weighting: lambda = 10 and the box "
             "term divided by the anchor locations (16 here) instead of the sample"),
            ("beta_one", {"beta": 1.0}, "smooth L1 with beta 1"),
            ("thresholds", {"fg_iou_thresh": 0.625, "bg_iou_thresh": 0.25}, "other labelling thresholds"),
            ("weights", {"weights": (10.0, 10.0, 5.0, 5.0)}, "coder weights (10, 10, 5, 5)")]:
        objectness, deltas, boxes, labels, sampled, rng = _rpn_scene(loss, name, 2, 3, variant)
        yield _rpn_case(name, "basic", comment, objectness, deltas, boxes, labels, sampled, variant, rng,
                        flags=("DetectorScene", "Variant"))


@cases_for("rpn_loss")
def rpn_accuracy(loss: str) -> Iterator[VectorCase]:
    objectness, deltas, boxes, labels, sampled, rng = _rpn_scene(loss, "nondyadic", 2, 3, nondyadic=True)
    yield _rpn_case("nondyadic", "accuracy", "non-dyadic head outputs and boxes", objectness, deltas, boxes, labels,
                    sampled, {}, rng, flags=("DetectorScene", "NonDyadic"), dtypes=FLOAT64_ONLY)


@cases_for("rpn_loss")
def rpn_edge(loss: str) -> Iterator[VectorCase]:
    rng, objectness, deltas, exact, sample = _one_object_on_anchor_5(loss, "edge")
    a = len(RPN_ANCHORS)
    at_kink = deltas.copy()
    at_kink[0, 5] = [1 / 8, -1 / 8, 0.0, 1 / 16]  # target 0: |d| = 1/8 = beta (the beta = 1/8 variant)
    yield _rpn_case("smooth_l1_kink", "edge", "a ground truth equal to anchor 5 (target 0), beta 1/8 and codes "
                    "+-1/8: at smooth L1's kink |d| = beta", objectness, at_kink, exact, [[0]], sample,
                    {"beta": 0.125}, rng, flags=("DetectorScene", "AtKink"))
    low = [[[20 / 64, 20 / 64, 28 / 64, 28 / 64]]]  # IoU 1/4 with anchor 5, its best: below 0.3, positive anyway
    yield _rpn_case("low_quality_match", "edge", "a ground truth whose best anchor has IoU 1/4 < 0.3: that anchor "
                    "is a positive (low-quality match)", objectness, deltas, low, [[1]],
                    rpn_sample(np.array(low), np.array([[1]]), RPN_ANCHORS), {}, rng, flags=("DetectorScene",))
    yield _rpn_case("empty_sample", "edge", "nothing sampled: both terms are 0 (torchvision divides by 0: NaN)",
                    objectness, deltas, exact, [[0]], np.zeros((1, a), np.int64), {}, rng,
                    flags=("DetectorScene", "Empty"))
    negatives_only = np.zeros((1, a), np.int64)
    negatives_only[0, :4] = 1
    yield _rpn_case("negatives_only", "edge", "a sample of four negatives: no box term", objectness, deltas, exact,
                    [[0]], negatives_only, {}, rng, flags=("DetectorScene",))
    objectness2, deltas2 = _rpn_outputs(rng, 2)
    padding = np.zeros((2, 1, 4))
    yield _rpn_case("no_objects", "edge", "two images without objects: every anchor is a negative", objectness2,
                    deltas2, padding, np.full((2, 1), -1), rpn_sample(padding, np.full((2, 1), -1), RPN_ANCHORS), {},
                    rng, flags=("DetectorScene", "NoObjects"))


@cases_for("rpn_loss")
def rpn_nonfinite(loss: str) -> Iterator[VectorCase]:
    rng, objectness, deltas, exact, sample = _one_object_on_anchor_5(loss, "nonfinite")
    unsampled = np.flatnonzero(sample[0] == 0)[0]
    nan_objectness = objectness.copy()
    nan_objectness[0, unsampled] = np.nan
    yield _rpn_case("nan_unsampled", "nonfinite", "a NaN objectness logit of an anchor outside the sample: no term "
                    "uses it", nan_objectness, deltas, exact, [[0]], sample, {}, rng,
                    flags=("DetectorScene", "NaNInput"))
    nan_delta = deltas.copy()
    nan_delta[0, 5, 0] = np.nan
    yield _rpn_case("nan_positive_delta", "nonfinite", "a NaN box code of a sampled positive: rpn_box_reg and the "
                    "total are NaN", objectness, nan_delta, exact, [[0]], sample, {}, rng,
                    flags=("DetectorScene", "NaNInput"))


@cases_for("rpn_loss")
def rpn_invalid(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "invalid")
    a = len(RPN_ANCHORS)
    objectness, deltas = _rpn_outputs(rng, 1)
    gt, label = [[[0.125, 0.125, 0.5, 0.5]]], [[1]]
    sample = rpn_sample(np.array(gt), np.array(label), RPN_ANCHORS)
    # (13, 13)-(35, 35)/64 overlaps anchor 16 ((0, 0)-(32, 32)) with IoU 361/1147 = 0.31: an ignored anchor.
    band = [[[13 / 64, 13 / 64, 35 / 64, 35 / 64]]]
    ignored = np.zeros((1, a), np.int64)
    ignored[0, 16] = 1
    for name, obj, dlt, boxes, labels, sampled, params, error, comment in [
            ("box_outside_image", objectness, deltas, [[[0.5, 0.5, 1.25, 0.75]]], label, sample, {}, "invalid_box",
             "x2 = 1.25 > 1"),
            ("inverted_box", objectness, deltas, [[[0.5, 0.5, 0.25, 0.75]]], label, sample, {}, "invalid_box",
             "x2 < x1"),
            ("label_below_padding", objectness, deltas, gt, [[-2]], sample, {}, "label_out_of_range", "label -2"),
            ("anchor_count", objectness[:, :-1], deltas[:, :-1], gt, label, sample[:, :-1], {}, "shape_mismatch",
             "head outputs for 23 anchors, 24 anchors"),
            ("sample_shape", objectness, deltas, gt, label, sample[:, :-1], {}, "shape_mismatch",
             "a sample mask for 23 anchors"),
            ("sampled_ignored_anchor", objectness, deltas, band, label, ignored, {}, "invalid_sample",
             "anchor 16 is sampled but its IoU 0.31 lies between the thresholds"),
            ("no_images", objectness[:0], deltas[:0], np.zeros((0, 1, 4)), np.zeros((0, 1), np.int64),
             sample[:0], {}, "empty_batch", "N = 0"),
            ("thresholds_swapped", objectness, deltas, gt, label, sample, {"fg_iou_thresh": 0.25,
                                                                           "bg_iou_thresh": 0.75},
             "invalid_parameter", "bg_iou_thresh above fg_iou_thresh")]:
        yield _rpn_case(name, "invalid", comment, obj, dlt, boxes, labels, sampled, params, rng,
                        flags=("InvalidInput",), error=error)


# ---- Faster R-CNN: the box head over the sampled RoIs ----------------------------------------------------------

def _rois(rng: np.random.Generator, boxes: np.ndarray, labels: np.ndarray, per_image: int,
          nondyadic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each image's RoIs: its ground truths (torchvision appends them to the proposals), jittered copies of them
    and random boxes, ``per_image`` in all; with the image index of each."""
    rois, images = [], []
    for n, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
        real = image_boxes[image_labels >= 0]
        jitter = (rng.uniform(-4, 4, size=(len(real), 4)) if nondyadic
                  else rng.integers(-4, 5, size=(len(real), 4))) / 64
        jittered = np.clip(real + jitter, 0.0, 1.0)
        jittered[:, 2:] = np.maximum(jittered[:, 2:], jittered[:, :2] + 2 / 64)
        extra = _scene_boxes(rng, 1, max(per_image - 2 * len(real), 0), nondyadic)[0]
        image_rois = np.concatenate([real, jittered, extra])[:per_image]
        rois.append(image_rois)
        images.append(np.full(len(image_rois), n))
    return np.concatenate(rois), np.concatenate(images)


def _fast_rcnn_decisive(rois: np.ndarray, images: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                        thresholds: tuple[float, ...]) -> bool:
    return all(decisive(boxes[n:n + 1], labels[n:n + 1], rois[images == n], thresholds)
               or not np.any(labels[n] >= 0) for n in range(len(boxes)))


def _fast_rcnn_case(name: str, concern: str, comment: str, class_logits: Any, box_regression: Any, rois: Any,
                    images: Any, boxes: Any, labels: Any, params: dict[str, Any], rng: np.random.Generator,
                    flags: tuple[str, ...] = ("DetectorScene",), dtypes: tuple[str, ...] = ALL_DTYPES,
                    error: str | None = None) -> VectorCase:
    inputs = {"class_logits": class_logits, "box_regression": box_regression, "proposals": rois,
              "proposal_images": images, "boxes": boxes, "labels": labels}
    return _vector_case(name, concern, comment, inputs, params, rng, flags, dtypes, error)


def _fast_rcnn_scene(loss: str, name: str, images: int, objects: int, per_image: int = 6,
                     params: dict[str, Any] | None = None, nondyadic: bool = False) -> tuple:
    params = params or {}
    rng = case_rng(loss, name)
    thresholds = (params.get("fg_iou_thresh", 0.5), params.get("bg_iou_thresh", 0.5))
    while True:
        boxes = _scene_boxes(rng, images, objects, nondyadic)
        labels = rng.integers(1, CLASSES + 1, size=(images, objects))
        rois, roi_images = _rois(rng, boxes, labels, per_image, nondyadic)
        if _fast_rcnn_decisive(rois, roi_images, boxes, labels, thresholds):
            break
    r = len(rois)
    return (_outputs(rng, (r, CLASSES + 1), nondyadic), _outputs(rng, (r, 4 * (CLASSES + 1)), nondyadic) / 4,
            rois, roi_images, boxes, labels, rng)


@cases_for("fast_rcnn_loss")
def fast_rcnn_basic(loss: str) -> Iterator[VectorCase]:
    """Random scenes: per image its ground truths, jittered copies and random boxes as the sampled RoIs; C = 4."""
    *outputs, rng = _fast_rcnn_scene(loss, "one_object", 1, 1)
    yield _fast_rcnn_case("one_object", "basic", "one object; six RoIs (the object, a jittered copy, four random "
                          "boxes); C = 4 with the background", *outputs, {}, rng)
    *outputs, rng = _fast_rcnn_scene(loss, "batch_of_three", 3, 2)
    yield _fast_rcnn_case("batch_of_three", "basic", "three images of two objects, 18 RoIs concatenated: both terms "
                          "divided by R = 18", *outputs, {}, rng)
    for name, variant, comment in [
            ("paper_beta", {"beta": 1.0}, "the paper's and py-faster-rcnn's smooth L1 (beta 1)"),
            ("weights", {"weights": (1.0, 1.0, 1.0, 1.0)}, "coder weights (1, 1, 1, 1)"),
            ("thresholds", {"fg_iou_thresh": 0.625, "bg_iou_thresh": 0.625}, "foreground from IoU 5/8")]:
        *outputs, rng = _fast_rcnn_scene(loss, name, 2, 2, params=variant)
        yield _fast_rcnn_case(name, "basic", comment, *outputs, variant, rng, flags=("DetectorScene", "Variant"))


@cases_for("fast_rcnn_loss")
def fast_rcnn_accuracy(loss: str) -> Iterator[VectorCase]:
    *outputs, rng = _fast_rcnn_scene(loss, "nondyadic", 2, 2, nondyadic=True)
    yield _fast_rcnn_case("nondyadic", "accuracy", "non-dyadic head outputs, boxes and RoIs", *outputs, {}, rng,
                          flags=("DetectorScene", "NonDyadic"), dtypes=FLOAT64_ONLY)


@cases_for("fast_rcnn_loss")
def fast_rcnn_edge(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "edge")
    gt = np.array([[[16 / 64, 16 / 64, 32 / 64, 32 / 64]]])
    # RoI 0 is the object itself (target 0), RoI 1 (16, 16)-(32, 24) has IoU exactly 1/2 (foreground, >= 0.5),
    # RoI 2 (40, 40)-(56, 56) misses it (background).
    rois = np.array([[16, 16, 32, 32], [16, 16, 32, 24], [40, 40, 56, 56]]) / 64
    logits, regression = _outputs(rng, (3, CLASSES + 1)), _outputs(rng, (3, 4 * (CLASSES + 1))) / 4
    at_kink = regression.copy()
    at_kink[0, 8:12] = [1.0, -1.0, 0.0, 0.5]  # class 2's codes of RoI 0: |d| = beta = 1 (paper_beta), 0, 1/2
    yield _fast_rcnn_case("threshold_and_kink", "edge", "RoI 0 equals the object (target 0) with codes at smooth "
                          "L1's kink |d| = beta = 1; RoI 1 has IoU exactly 1/2 (foreground)", logits, at_kink, rois,
                          [0, 0, 0], gt, [[2]], {"beta": 1.0}, rng, flags=("DetectorScene", "AtKink"),
                          dtypes=("float64", "float32"))
    yield _fast_rcnn_case("all_background", "edge", "an image without objects: every RoI is background, no box term",
                          logits, regression, rois, [0, 0, 0], np.zeros((1, 1, 4)), [[-1]], {}, rng,
                          flags=("DetectorScene", "NoObjects"))
    yield _fast_rcnn_case("no_rois", "edge", "R = 0: both terms 0 (torchvision's mean of nothing is NaN)",
                          logits[:0], regression[:0], rois[:0], np.zeros(0, np.int64), gt, [[2]], {}, rng,
                          flags=("DetectorScene", "Empty"))
    two = np.concatenate([gt, [[[40 / 64, 8 / 64, 60 / 64, 30 / 64]]]], axis=1)
    # The first image has both objects; RoI 1 goes to image 1, which has none of them: background there.
    yield _fast_rcnn_case("roi_images", "edge", "RoIs are matched against their own image's objects only", logits,
                          regression, rois[[0, 0, 2]], [0, 1, 0], np.concatenate([two, np.zeros((1, 2, 4))]),
                          [[2, 3], [-1, -1]], {}, rng, flags=("DetectorScene",))


@cases_for("fast_rcnn_loss")
def fast_rcnn_nonfinite(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "nonfinite")
    gt = np.array([[[16 / 64, 16 / 64, 32 / 64, 32 / 64]]])
    rois = np.array([[16, 16, 32, 32], [40, 40, 56, 56]]) / 64
    logits, regression = _outputs(rng, (2, CLASSES + 1)), _outputs(rng, (2, 4 * (CLASSES + 1))) / 4
    other_class = regression.copy()
    other_class[0, 4:8] = np.nan  # class 1's codes of a RoI of class 2: unused
    yield _fast_rcnn_case("nan_other_class_codes", "nonfinite", "NaN codes of a class the RoI is not: unused",
                          logits, other_class, rois, [0, 0], gt, [[2]], {}, rng, flags=("DetectorScene", "NaNInput"))
    nan_logit = logits.copy()
    nan_logit[1, 3] = np.nan
    yield _fast_rcnn_case("nan_logit", "nonfinite", "a NaN logit of a background RoI: classifier and total NaN",
                          nan_logit, regression, rois, [0, 0], gt, [[2]], {}, rng,
                          flags=("DetectorScene", "NaNInput"))


@cases_for("fast_rcnn_loss")
def fast_rcnn_invalid(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "invalid")
    gt, label = np.array([[[16 / 64, 16 / 64, 32 / 64, 32 / 64]]]), [[2]]
    rois = np.array([[16, 16, 32, 32], [40, 40, 56, 56]]) / 64
    logits, regression = _outputs(rng, (2, CLASSES + 1)), _outputs(rng, (2, 4 * (CLASSES + 1))) / 4
    band = np.array([[16, 16, 32, 32], [16, 16, 32, 28]]) / 64  # RoI 1: IoU 3/4 in the band [0.5, 0.875)
    for name, lg, rg, rs, images, boxes, labels, params, error, comment in [
            ("box_outside_image", logits, regression, rois, [0, 0], [[[0.5, 0.5, 1.25, 0.75]]], label, {},
             "invalid_box", "x2 = 1.25 > 1"),
            ("background_label", logits, regression, rois, [0, 0], gt, [[0]], {}, "label_out_of_range",
             "label 0 is the background class"),
            ("label_out_of_range", logits, regression, rois, [0, 0], gt, [[CLASSES + 1]], {}, "label_out_of_range",
             f"label {CLASSES + 1} with C = {CLASSES + 1}"),
            ("image_out_of_range", logits, regression, rois, [0, 1], gt, label, {}, "label_out_of_range",
             "RoI 1 of image 1 in a batch of one image"),
            ("roi_count", logits[:1], regression[:1], rois, [0, 0], gt, label, {}, "shape_mismatch",
             "head outputs for one RoI, two RoIs"),
            ("regression_columns", logits, regression[:, :-4], rois, [0, 0], gt, label, {}, "shape_mismatch",
             "box_regression with 4 (C - 1) columns"),
            ("roi_in_ignore_band", logits, regression, band, [0, 0], gt, label,
             {"fg_iou_thresh": 0.875, "bg_iou_thresh": 0.5}, "invalid_sample",
             "RoI 1 has IoU 3/4, between bg_iou_thresh 0.5 and fg_iou_thresh 0.875: never sampled"),
            ("no_images", logits, regression, rois, [0, 0], np.zeros((0, 1, 4)), np.zeros((0, 1), np.int64), {},
             "empty_batch", "N = 0")]:
        yield _fast_rcnn_case(name, "invalid", comment, lg, rg, rs, images, boxes, labels, params, rng,
                              flags=("InvalidInput",), error=error)
