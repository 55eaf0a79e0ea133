"""YOLOv3's loss as eriklindernoren/PyTorch-YOLOv3 computes it (its 2019 ``YOLOLayer`` and ``build_targets``), the
most used PyTorch re-implementation: a named variant of :func:`yolov3_loss` with its own assignment rule and means."""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from refloss._checks import as_real_array
from refloss._registry import Interval, Kink, LossSpec, Param, Reference, register
from refloss.activations import sigmoid, sigmoid_vjp
from refloss.losses.classification.bce import binary_cross_entropy, binary_cross_entropy_vjp
from refloss.losses.detectors._scene import term_cotangents
from refloss.losses.detectors.yolov3 import (ANCHOR_MASKS, ANCHORS, COCO_ANCHOR_MASKS, COCO_ANCHORS, INPUT_SIZE,
                                             NUM_CLASSES, STRIDES, STRIDES_PARAM, TERMS, _checked, _pairs,
                                             _shape_iou)
from refloss.losses.detectors.yolov3 import INPUTS as YOLOV3_INPUTS
from refloss.losses.regression.mse import mse_loss, mse_loss_vjp

__all__ = ["YoloV3EriklindernorenTargets", "yolov3_eriklindernoren_loss", "yolov3_eriklindernoren_loss_vjp",
           "yolov3_eriklindernoren_targets"]

SIZE_EPS = 1e-16  # build_targets: t_w = log(g_w / anchor_w + 1e-16)


class YoloV3EriklindernorenTargets(NamedTuple):
    """What :func:`yolov3_eriklindernoren_targets` assigns (P predictions in :func:`yolov3_layout`'s order, M
    ground-truth rows, S scales, C classes), as plain arrays.

    Attributes:
        positive: (N, P) bool: an object's best anchor of each scale, in the cell holding its centre.
        ignored: (N, P) bool: not positive, but an anchor of an object's cell whose shape IoU with the object is
            above ``ignore_thresh``: no objectness loss. The rest are negatives.
        object_index: (N, P) int: the row m of ``boxes`` whose box target a positive takes (the last one); -1
            elsewhere.
        box_target: (N, P, 4): (t_x, t_y, t_w, t_h) with t_w = log(g_w W stride / p_w + 1e-16); 0 elsewhere.
        class_target: (N, P, C): multi-hot classes of the objects assigned to a positive.
        shape_iou: (N, P): the largest shape IoU of an object of the prediction's cell with its anchor (0 where
            no object's centre falls); compared with ``ignore_thresh``.
        anchor: (N, M, S) int: each object's best anchor (an index into ``anchors``) at each scale; -1 for padding.
        prediction: (N, M, S) int: the prediction each object is positive at, at each scale; -1 for padding.
    """

    positive: np.ndarray
    ignored: np.ndarray
    object_index: np.ndarray
    box_target: np.ndarray
    class_target: np.ndarray
    shape_iou: np.ndarray
    anchor: np.ndarray
    prediction: np.ndarray


IGNORE_THRESH = Param("ignore_thresh", 0.5, Interval(0.0, 1.0, True, True),
                      "an anchor of an object's cell whose shape IoU with the object is above this is not a negative "
                      "(YOLOLayer's ignore_thres: 0.5)", grid=(0.5,))
OBJ_SCALE = Param("obj_scale", 1.0, Interval(0.0, math.inf, True), "weight of the positives' objectness mean",
                  grid=(1.0,))
NOOBJ_SCALE = Param("noobj_scale", 100.0, Interval(0.0, math.inf, True), "weight of the negatives' objectness mean",
                    grid=(100.0,))


def yolov3_eriklindernoren_targets(output: Any, boxes: Any, labels: Any, *, num_classes: int = 80,
                                   anchors: Any = COCO_ANCHORS, anchor_masks: Any = COCO_ANCHOR_MASKS,
                                   strides: Any = STRIDES, input_size: Any = (416, 416),
                                   ignore_thresh: float = 0.5) -> YoloV3EriklindernorenTargets:
    r"""eriklindernoren's ``build_targets``, for every scale: positives, ignored predictions, targets.

    At each scale, for each object in ``boxes`` order: its best anchor *of that scale* by the IoU of the shapes
    centred together (the first on ties), in the cell holding its centre, is positive (E1), so every object is
    positive once at every scale; every anchor of that cell whose shape IoU with the object is above
    ``ignore_thresh`` (strictly) is no negative (E2). The targets are the offset in the cell, the log size
    relative to the anchor (plus 1e-16 inside the log, as ``build_targets``), and the class; when two objects take
    one prediction the later one's box target wins and the classes add up (multi-hot). The predictions are not
    used.

    Args:
        output: Raw head output (N, P, 5 + C), as :func:`yolov3_loss` (only its shape is used).
        boxes, labels: Ground truths, as :func:`yolov3_loss`.
        num_classes, anchors, anchor_masks, strides, input_size, ignore_thresh: As
            :func:`yolov3_eriklindernoren_loss`.

    Returns:
        A :class:`YoloV3EriklindernorenTargets` of plain NumPy arrays.
    """
    return _assign(output, boxes, labels, num_classes=num_classes, anchors=anchors, anchor_masks=anchor_masks,
                   strides=strides, input_size=input_size, ignore_thresh=ignore_thresh)[1]


def _assign(output: Any, boxes: Any, labels: Any, *, num_classes: Any = 80, anchors: Any = COCO_ANCHORS,
            anchor_masks: Any = COCO_ANCHOR_MASKS, strides: Any = STRIDES, input_size: Any = (416, 416),
            ignore_thresh: Any = 0.5) -> tuple[Any, YoloV3EriklindernorenTargets, list[slice]]:
    """The checked output (autograd's traced arrays pass through), the assignment, and where each scale's
    predictions lie in P (the terms are sums over the scales)."""
    layout = {"anchors": anchors, "anchor_masks": anchor_masks, "strides": strides, "input_size": input_size}
    output, gt_boxes, gt_labels, real, c, scales = _checked(output, boxes, labels, num_classes, layout)
    ignore_thresh = IGNORE_THRESH.check(ignore_thresh)
    anchor_sizes = np.asarray(_pairs(anchors, "anchors", "", integer=False), dtype=np.float64)
    net = np.asarray(input_size, dtype=np.float64)
    n, p = np.shape(output)[:2]
    m = gt_labels.shape[1]

    positive = np.zeros((n, p), dtype=bool)
    not_negative = np.zeros((n, p), dtype=bool)
    object_index = np.full((n, p), -1, dtype=np.int64)
    box_target = np.zeros((n, p, 4))
    class_target = np.zeros((n, p, c))
    shape_iou = np.zeros((n, p))
    best_anchor = np.full((n, m, len(scales)), -1, dtype=np.int64)
    prediction = np.full((n, m, len(scales)), -1, dtype=np.int64)
    for image, k in zip(*np.nonzero(real)):  # in boxes order: a later object overwrites an earlier one's target
        box = gt_boxes[image, k]
        size, centre = box[2:] - box[:2], (box[:2] + box[2:]) / 2
        for s, scale in enumerate(scales):
            grid = np.asarray(scale.grid, dtype=np.float64)
            cell = np.minimum(np.floor(centre * grid), grid - 1)  # (i, j); truncation, as .long() of a positive
            i, j = (int(v) for v in cell)
            anchors_here = anchor_sizes[list(scale.mask)]
            ious = _shape_iou(anchors_here / net, size)  # shape IoU is scale-free: grid units or image units
            slots = [scale.start + (a * scale.grid[1] + j) * scale.grid[0] + i for a in range(len(scale.mask))]
            shape_iou[image, slots] = np.maximum(shape_iou[image, slots], ious)
            not_negative[image, [slot for slot, iou in zip(slots, ious) if iou > ignore_thresh]] = True  # (E2)
            a = int(np.argmax(ious))  # (E1)
            index = slots[a]
            best_anchor[image, k, s], prediction[image, k, s] = scale.mask[a], index
            positive[image, index] = not_negative[image, index] = True
            object_index[image, index] = k
            scaled_anchor = anchors_here[a] * grid / net  # YOLOLayer's scaled_anchors: pixels / stride
            box_target[image, index] = np.concatenate([centre * grid - cell,
                                                       np.log(size * grid / scaled_anchor + SIZE_EPS)])  # (E3)
            class_target[image, index, gt_labels[image, k]] = 1.0
    targets = YoloV3EriklindernorenTargets(positive, not_negative & ~positive, object_index, box_target,
                                           class_target, shape_iou, best_anchor, prediction)
    return output, targets, [slice(scale.start, scale.start + scale.size) for scale in scales]


def _bce_of_sigmoid(logits: Any, targets: Any) -> Any:
    """torch.nn.BCELoss (a mean) of sigmoid(logits): the log of the rounded probability, clamped at -100."""
    return binary_cross_entropy(sigmoid(logits), targets, reduction="mean")


def _terms_with(output: Any, targets: YoloV3EriklindernorenTargets, slices: list[slice], obj_scale: float,
                noobj_scale: float) -> dict[str, Any]:
    """The five terms, each a sum over the scales of means (E4): autograd can trace ``output``."""
    terms: dict[str, Any] = {name: 0.0 for name in TERMS}
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.filterwarnings("ignore", "Mean of empty slice")  # a scale without positives: NaN, as torch
        for part in slices:
            positive = targets.positive[:, part]
            negative = ~positive & ~targets.ignored[:, part]
            chosen = output[:, part][positive]
            wanted = targets.box_target[:, part][positive]
            offsets = sigmoid(chosen[:, :2])
            terms["xy"] = terms["xy"] + sum(mse_loss(offsets[:, k], wanted[:, k]) for k in (0, 1))
            terms["wh"] = terms["wh"] + sum(mse_loss(chosen[:, k], wanted[:, k]) for k in (2, 3))
            terms["object"] = terms["object"] + obj_scale * _bce_of_sigmoid(chosen[:, 4], np.ones(len(wanted)))
            objectness = output[:, part][..., 4][negative]
            terms["no_object"] = terms["no_object"] + noobj_scale * _bce_of_sigmoid(objectness,
                                                                                   np.zeros(objectness.shape))
            terms["class"] = terms["class"] + _bce_of_sigmoid(chosen[:, 5:], targets.class_target[:, part][positive])
    return terms


def yolov3_eriklindernoren_loss(output: Any, boxes: Any, labels: Any, *, num_classes: int = 80,
                                anchors: Any = COCO_ANCHORS, anchor_masks: Any = COCO_ANCHOR_MASKS,
                                strides: Any = STRIDES, input_size: Any = (416, 416), ignore_thresh: float = 0.5,
                                obj_scale: float = 1.0, noobj_scale: float = 100.0) -> tuple[Any, dict]:
    r"""YOLOv3's loss as eriklindernoren/PyTorch-YOLOv3 computes it: its total and its five terms.

    Definition:
        With :func:`yolov3_eriklindernoren_targets`' positives :math:`\mathcal P_s` and negatives
        :math:`\mathcal N_s` of scale s (over the whole batch), :math:`p = \sigma(z)`, and torch's
        ``BCELoss`` :math:`b(p, y) = -[y \max(\log p, -100) + (1 - y)\max(\log(1 - p), -100)]`, each term is a
        sum over the scales of means:

        .. math::
            \ell_{xy} = \sum_s \operatorname{mean}_{\mathcal P_s}(\sigma(t_x) - \hat t_x)^2
                + \operatorname{mean}_{\mathcal P_s}(\sigma(t_y) - \hat t_y)^2, \quad
            \ell_{wh} = \sum_s \operatorname{mean}_{\mathcal P_s}(t_w - \hat t_w)^2
                + \operatorname{mean}_{\mathcal P_s}(t_h - \hat t_h)^2

            \ell_{obj} = \lambda_{obj} \sum_s \operatorname{mean}_{\mathcal P_s} b(\sigma(z_o), 1), \quad
            \ell_{noobj} = \lambda_{noobj} \sum_s \operatorname{mean}_{\mathcal N_s} b(\sigma(z_o), 0), \quad
            \ell_{class} = \sum_s \operatorname{mean}_{\mathcal P_s \times C} b(\sigma(z_c), y_c)
            \qquad \text{(E4)}

        The total is the sum of the five terms (``YOLOLayer``'s ``total_loss``, summed over its three layers).

    Gradient:
        With the assignment held, for a positive of scale s with :math:`K_s` positives and :math:`Q_s` negatives
        at that scale:

        .. math::
            \frac{\partial \ell}{\partial t_x} = \frac{2}{K_s}(\sigma(t_x) - \hat t_x)\,\sigma(t_x)\sigma(-t_x),
            \quad \frac{\partial \ell}{\partial t_w} = \frac{2}{K_s}(t_w - \hat t_w), \quad
            \frac{\partial \ell}{\partial z} = \frac{\lambda}{n}\,\frac{p - y}{p(1 - p)}\,\sigma(z)\sigma(-z)
            \qquad \text{(E5)}

        with n = :math:`K_s` (objectness, :math:`\lambda_{obj}`), :math:`Q_s` (a negative's objectness,
        :math:`\lambda_{noobj}`) or :math:`K_s C` (classes, :math:`\lambda = 1`); where a log is clamped the
        gradient is 0. Each term's part times the cotangent of that term (plus that of the total).

    Conventions:
        What eriklindernoren's ``YOLOLayer`` computes: the sigmoid outputs with ``nn.MSELoss`` and ``nn.BCELoss``
        (means), ``obj_scale`` 1 and ``noobj_scale`` 100, the ignore rule on anchor shapes in the object's cell (not on
        predicted boxes) at 0.5, the best anchor chosen within each scale (so every object is positive at every scale),
        no 2 - w h weight, means over the whole batch (not per image). Differences from :func:`yolov3_loss` (darknet)
        are the point of this variant; see the derivation page's table. A scale without positives (which, every object
        being positive at every scale, happens only in a batch without objects) makes xy, wh, object and class NaN
        (torch's mean of nothing), and a scale without negatives makes no_object NaN; the gradient gets nothing from
        them. The gradient is the true derivative of the value: where :math:`p(1 - p) < 10^{-12}` (:math:`|z| > 27.6`)
        torch's ``BCELoss`` backward divides by :math:`10^{-12}` instead and gives less (see
        :func:`binary_cross_entropy`). A centre exactly on the image's far edge goes to the last cell (the original
        indexes one past the grid). The clamp at -100 starts at :math:`|z| = 100` for exact probabilities; computed in
        floating point, p = sigmoid(z) rounds to 1 earlier (z > 36.7 in float64, 16.6 in float32), and a negative's loss
        is then 100 already, in refloss as in torch: the golden vectors test the clamp at z = 100 and keep every other
        logit within :math:`|z| \le 8`, where every dtype agrees with the exact value. Zero-size boxes are refused (the
        original takes log(1e-16)). NaN in an output that enters a term propagates (torch's ``BCELoss`` refuses a NaN
        probability with an error).

    Shapes:
        As :func:`yolov3_loss`: ``output`` (N, P, 5 + C) in :func:`yolov3_layout`'s order; ``boxes`` (N, M, 4);
        ``labels`` (N, M). Output: the total and a dict of the terms ``xy``, ``wh``, ``object``, ``no_object``,
        ``class``.

    Args:
        output: Raw head output (no activation applied).
        boxes: Ground truths, ``xyxy`` in image units inside [0, 1], of positive size; -1-labelled rows are
            padding.
        labels: Class of each ground truth in [0, num_classes), or -1 for padding.
        num_classes: C (default 80).
        anchors: Anchor sizes in pixels (default darknet's COCO anchors).
        anchor_masks: Each scale's anchors (default ((6, 7, 8), (3, 4, 5), (0, 1, 2))).
        strides: Each scale's stride in pixels (default (32, 16, 8)).
        input_size: (net_w, net_h) in pixels (default (416, 416)).
        ignore_thresh: Anchor-shape IoU above which an anchor is no negative (default 0.5).
        obj_scale: Weight of the positives' objectness (default 1).
        noobj_scale: Weight of the negatives' objectness (default 100).

    Returns:
        ``(total, terms)``: float64 scalars.

    References:
        eriklindernoren, PyTorch-YOLOv3, ``models.py`` (``YOLOLayer``) and ``utils/utils.py`` (``build_targets``),
        2019: https://github.com/eriklindernoren/PyTorch-YOLOv3

    Examples:
        >>> settings = dict(num_classes=1, anchors=((8, 8), (16, 16)), anchor_masks=((1,), (0,)), strides=(32, 16),
        ...                 input_size=(64, 64))
        >>> total, terms = yolov3_eriklindernoren_loss(np.zeros((1, 20, 6)), [[[0.25, 0.25, 0.75, 0.75]]], [[0]],
        ...                                            **settings)
        >>> {name: round(float(value), 4) for name, value in terms.items()}
        {'xy': 1.0, 'wh': 4.8045, 'object': 1.3863, 'no_object': 138.6294, 'class': 1.3863}
    """
    scales = (OBJ_SCALE.check(obj_scale), NOOBJ_SCALE.check(noobj_scale))
    output, targets, slices = _assign(output, boxes, labels, num_classes=num_classes, anchors=anchors,
                                      anchor_masks=anchor_masks, strides=strides, input_size=input_size,
                                      ignore_thresh=ignore_thresh)
    terms = _terms_with(output, targets, slices, *scales)
    return sum(terms.values()), terms


def yolov3_eriklindernoren_loss_vjp(grad_output: Any, output: Any, boxes: Any, labels: Any, *,
                                    num_classes: int = 80, anchors: Any = COCO_ANCHORS,
                                    anchor_masks: Any = COCO_ANCHOR_MASKS, strides: Any = STRIDES,
                                    input_size: Any = (416, 416), ignore_thresh: float = 0.5, obj_scale: float = 1.0,
                                    noobj_scale: float = 100.0) -> tuple[np.ndarray, None, None]:
    """Vector-Jacobian product of :func:`yolov3_eriklindernoren_loss` w.r.t. ``output``, the assignment held; None
    for the ground truths. ``grad_output``: the cotangent of the total, or a mapping from ``"total"`` and term names
    to cotangents. Each mean's VJP is that of :func:`mse_loss` or :func:`binary_cross_entropy`, chained through
    :func:`sigmoid_vjp` (E5)."""
    weight = {"object": OBJ_SCALE.check(obj_scale), "no_object": NOOBJ_SCALE.check(noobj_scale), "class": 1.0}
    output, targets, slices = _assign(output, boxes, labels, num_classes=num_classes, anchors=anchors,
                                      anchor_masks=anchor_masks, strides=strides, input_size=input_size,
                                      ignore_thresh=ignore_thresh)
    g = term_cotangents(grad_output, TERMS)
    grad = np.zeros_like(output)
    for part in slices:
        positive = targets.positive[:, part]
        negative = ~positive & ~targets.ignored[:, part]
        chosen = output[:, part][positive]
        wanted = targets.box_target[:, part][positive]
        rows = np.zeros_like(chosen)
        for k in (0, 1):
            offsets = sigmoid(chosen[:, k])
            rows[:, k] = sigmoid_vjp(mse_loss_vjp(g["xy"], offsets, wanted[:, k])[0], chosen[:, k])
        for k in (2, 3):
            rows[:, k] = mse_loss_vjp(g["wh"], chosen[:, k], wanted[:, k])[0]
        rows[:, 4] = _bce_of_sigmoid_vjp(g["object"] * weight["object"], chosen[:, 4], np.ones(len(chosen)))
        rows[:, 5:] = _bce_of_sigmoid_vjp(g["class"], chosen[:, 5:], targets.class_target[:, part][positive])
        block = grad[:, part]  # a view: the scale's rows of the gradient
        block[positive] = rows
        objectness = output[:, part][..., 4][negative]
        block[..., 4][negative] = _bce_of_sigmoid_vjp(g["no_object"] * weight["no_object"], objectness,
                                                      np.zeros(objectness.shape))
    return grad, None, None


def _bce_of_sigmoid_vjp(g: float, logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The gradient of ``g * BCELoss(sigmoid(logits), targets)`` w.r.t. the logits (nothing for no logits)."""
    if logits.size == 0:
        return np.zeros(logits.shape)
    return sigmoid_vjp(binary_cross_entropy_vjp(g, sigmoid(logits), targets)[0], logits)


def _held_forward(output: Any, boxes: Any, labels: Any, *, obj_scale: float = 1.0, noobj_scale: float = 100.0,
                  **params: Any) -> Any:
    """The loss with the assignment held at its value at these inputs (it does not depend on the output)."""
    _, targets, slices = _assign(output, boxes, labels, **params)

    def yolov3_eriklindernoren_loss_with_assignment_held(output: Any, boxes: Any, labels: Any, **_: Any) -> tuple:
        terms = _terms_with(as_real_array(output, "output"), targets, slices, obj_scale, noobj_scale)
        return sum(terms.values()), terms

    return yolov3_eriklindernoren_loss_with_assignment_held


def _clamp_distance(output: Any, boxes: Any, labels: Any, **_: Any) -> np.ndarray:
    """How far each objectness and class logit is from where BCELoss's clamps start for exact probabilities:
    log sigmoid(z) = -100 at z = -100 and log(1 - sigmoid(z)) = -100 at z = 100 (to within 4e-44)."""
    logits = np.asarray(output, dtype=np.float64)[..., 4:]
    return np.abs(np.abs(logits) - 100.0)


register(LossSpec(
    name="yolov3_eriklindernoren_loss", family="detectors", kind="detector", forward=yolov3_eriklindernoren_loss,
    vjp=yolov3_eriklindernoren_loss_vjp, inputs=YOLOV3_INPUTS,
    params=(NUM_CLASSES, ANCHORS, ANCHOR_MASKS, STRIDES_PARAM, INPUT_SIZE, IGNORE_THRESH, OBJ_SCALE, NOOBJ_SCALE),
    terms=TERMS, derivation="docs/derivations/yolov3_loss.md",
    smoothness="C-infinity in the output where the assignment is held and no log is clamped",
    kinks=(Kink("an objectness or class logit at |z| = 100, where BCELoss's clamp at -100 starts for the exact "
                "probability (in float64, p rounds to 1 from z = 36.7 on: see Conventions)",
                "beyond it the clamped log is constant: gradient 0, as torch; at the point itself any value "
                "between the one-sided derivatives", _clamp_distance),),
    stop_gradients=("the assignment of objects to anchors and cells (it does not use the output)",),
    held_forward=_held_forward,
    references=(Reference("eriklindernoren, PyTorch-YOLOv3 (models.py YOLOLayer, utils/utils.py build_targets)",
                          "https://github.com/eriklindernoren/PyTorch-YOLOv3"),
                Reference("Redmon, Farhadi. YOLOv3: An Incremental Improvement. 2018",
                          "https://arxiv.org/abs/1804.02767")),
))
