"""YOLOv3's training loss as darknet's ``yolo_layer.c`` computes it: its target builder, the loss with its five
terms, and the VJP w.r.t. the raw head output with the assignment and the ignore mask held constant."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from refloss._checks import as_real_array
from refloss._registry import Input, Interval, LossSpec, Param, Reference, register
from refloss.activations import log_sigmoid, sigmoid
from refloss.boxes.coders import decode_yolo_boxes, encode_yolo_boxes
from refloss.boxes.pairwise import box_iou
from refloss.losses.detectors._scene import (GROUND_TRUTH_BOXES, LABELS, as_ground_truths, as_head_output, cell_of,
                                             positive_integer, term_cotangents)

__all__ = ["COCO_ANCHORS", "COCO_ANCHOR_MASKS", "YoloV3Targets", "yolov3_layout", "yolov3_loss", "yolov3_loss_vjp",
           "yolov3_targets"]

TERMS = ("xy", "wh", "object", "no_object", "class")
# darknet cfg/yolov3.cfg: anchors in pixels at the 416 x 416 input; the 13 x 13 grid (stride 32) takes the three
# largest (mask 6,7,8), the 26 x 26 grid the middle three, the 52 x 52 grid the smallest.
COCO_ANCHORS = ((10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198), (373, 326))
COCO_ANCHOR_MASKS = ((6, 7, 8), (3, 4, 5), (0, 1, 2))
STRIDES = (32, 16, 8)


class YoloV3Targets(NamedTuple):
    """What :func:`yolov3_targets` assigns, as plain arrays (P predictions over all scales, see
    :func:`yolov3_layout`; M ground-truth rows; C classes).

    Attributes:
        positive: (N, P) bool: predictions responsible for an object (objectness target 1, box and class terms).
        ignored: (N, P) bool: not positive, but the predicted box overlaps some object with IoU above
            ``ignore_thresh``: no objectness loss. The other predictions are negatives (objectness target 0).
        object_index: (N, P) int: the row m of ``boxes`` whose box target a positive takes (the last one assigned
            to it); -1 elsewhere.
        box_target: (N, P, 4): the targets (t_x, t_y, t_w, t_h) of :func:`encode_yolo_boxes` (offsets in the cell
            for sigmoid(t_x), sigmoid(t_y); log sizes for the raw t_w, t_h); 0 where not positive.
        box_weight: (N, P): 2 - w h of the object (``box_weight="2-wh"``) or 1; 0 where not positive.
        class_target: (N, P, C): multi-hot classes of the objects assigned to a positive; 0 elsewhere.
        best_iou: (N, P): each predicted box's largest IoU with an object of its image (0 with none).
        anchor: (N, M) int: each object's best anchor (of all scales) by shape IoU; -1 for padding rows.
        prediction: (N, M) int: the prediction (index in P) each object is assigned to; -1 for padding rows and
            for objects whose best anchor is in no scale's mask.
    """

    positive: np.ndarray
    ignored: np.ndarray
    object_index: np.ndarray
    box_target: np.ndarray
    box_weight: np.ndarray
    class_target: np.ndarray
    best_iou: np.ndarray
    anchor: np.ndarray
    prediction: np.ndarray


class _Scale(NamedTuple):
    start: int  # index in P of the scale's first prediction
    grid: tuple[int, int]  # (W, H)
    mask: tuple[int, ...]  # its anchors, as indices into ``anchors``

    @property
    def size(self) -> int:
        return len(self.mask) * self.grid[0] * self.grid[1]


_POSITIVE = Interval(0.0, math.inf)
NUM_CLASSES = Param("num_classes", 80, Interval(1, math.inf, True), "C: classes (80 for COCO)", kind="integer",
                    grid=(80,))
ANCHORS = Param("anchors", COCO_ANCHORS, _POSITIVE, "anchor sizes (p_w, p_h) in pixels of the network input",
                kind="tuple")
ANCHOR_MASKS = Param("anchor_masks", COCO_ANCHOR_MASKS, _POSITIVE, "for each scale, the indices of its anchors",
                     kind="tuple")
STRIDES_PARAM = Param("strides", STRIDES, _POSITIVE, "for each scale, input pixels per grid cell", kind="tuple")
INPUT_SIZE = Param("input_size", (416, 416), _POSITIVE, "(net_w, net_h): the network input in pixels",
                   kind="tuple")
IGNORE_THRESH = Param("ignore_thresh", 0.7, Interval(0.0, 1.0, True, True),
                      "a prediction that is not responsible but whose box overlaps an object with IoU above this "
                      "gets no objectness loss (darknet yolov3.cfg: 0.7; the paper: 0.5)", grid=(0.7, 0.5))
XY_LOSS = Param("xy_loss", "bce", Interval(), kind="choice", choices=("bce", "sse"),
                description="the centre term: BCE of the raw t_x against the offset (darknet's gradient) or half "
                            "the squared error of sigmoid(t_x) (the paper's sum-squared error)")
BOX_WEIGHT = Param("box_weight", "2-wh", Interval(), kind="choice", choices=("2-wh", "one"),
                   description="weight of an object's box terms: 2 - w h (darknet; w, h in image units) or 1")


def _pairs(value: Any, name: str, what: str, integer: bool) -> tuple[tuple, ...]:
    """A tuple of tuples of positive numbers (integers with ``integer``); ``what`` describes one entry."""
    try:
        rows = tuple(tuple(row) for row in value)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of {what}, got {value!r}") from None
    for row in rows:
        for v in row:
            bad = isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating))
            if bad or (integer and int(v) != v) or not (v >= 0 if integer else v > 0) or not math.isfinite(v):
                raise ValueError(f"{name} must be a sequence of {what}, got {value!r}")
    return rows


def yolov3_layout(*, anchors: Any = COCO_ANCHORS, anchor_masks: Any = COCO_ANCHOR_MASKS, strides: Any = STRIDES,
                  input_size: Any = (416, 416)) -> tuple[_Scale, ...]:
    """The scales of a YOLOv3 head: for each, where its predictions start in the flattened output, its grid
    (W, H) = input_size / stride and its anchors. Prediction (a, j, i) of a scale (anchor a of its mask, row j,
    column i) is at ``start + (a H + j) W + i``: the order of darknet's ``entry_index`` and of the PyTorch ports'
    ``view(N, A, 5 + C, H, W).permute(0, 1, 3, 4, 2)``, scales in the order of ``anchor_masks``."""
    anchor_sizes = _pairs(anchors, "anchors", "(p_w, p_h) pairs of positive pixel sizes", integer=False)
    if any(len(a) != 2 for a in anchor_sizes):
        raise ValueError(f"anchors must be (p_w, p_h) pairs, got {anchors!r}")
    masks = _pairs(anchor_masks, "anchor_masks", "tuples of anchor indices", integer=True)
    used = [int(k) for mask in masks for k in mask]
    if not all(0 <= k < len(anchor_sizes) for k in used) or len(set(used)) != len(used) or not all(masks):
        raise ValueError(f"anchor_masks must give each scale a non-empty set of indices into the {len(anchor_sizes)} "
                         f"anchors, each used once, got {anchor_masks!r}")
    stride_values = _pairs([strides], "strides", "positive integers", integer=True)[0]
    if len(stride_values) != len(masks) or not all(stride_values):
        raise ValueError(f"strides must give one positive integer per scale ({len(masks)} anchor masks), "
                         f"got {strides!r}")
    net = _pairs([input_size], "input_size", "(net_w, net_h) in pixels", integer=True)[0]
    if len(net) != 2:
        raise ValueError(f"input_size must be (net_w, net_h), got {input_size!r}")
    scales, start = [], 0
    for stride, mask in zip(stride_values, masks):
        if net[0] % stride or net[1] % stride:
            raise ValueError(f"input_size {tuple(net)} must be a multiple of every stride, got stride {stride}")
        scale = _Scale(start, (int(net[0] // stride), int(net[1] // stride)), tuple(int(k) for k in mask))
        scales.append(scale)
        start += scale.size
    return tuple(scales)


def _prediction_grid(scales: tuple[_Scale, ...], anchors: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per prediction (P rows): its cell (i, j), its grid (W, H) and its anchor size (p_w, p_h)."""
    cells, grids, sizes = [], [], []
    for scale in scales:
        w, h = scale.grid
        a, j, i = np.meshgrid(np.arange(len(scale.mask)), np.arange(h), np.arange(w), indexing="ij")
        cells.append(np.stack([i.ravel(), j.ravel()], axis=-1))
        grids.append(np.broadcast_to(scale.grid, (scale.size, 2)))
        sizes.append(np.asarray([anchors[k] for k in scale.mask], dtype=np.float64)[a.ravel()])
    return np.concatenate(cells), np.concatenate(grids), np.concatenate(sizes)


def _shape_iou(anchor_sizes: np.ndarray, size: np.ndarray) -> np.ndarray:
    """IoU of boxes of these sizes sharing one centre (darknet compares an object with every anchor so)."""
    inter = np.prod(np.minimum(anchor_sizes, size), axis=-1)
    return inter / (np.prod(anchor_sizes, axis=-1) + np.prod(size) - inter)


def _checked(output: Any, boxes: Any, labels: Any, num_classes: Any, layout: dict[str, Any]) -> tuple:
    c = positive_integer(num_classes, "num_classes")
    scales = yolov3_layout(**layout)
    p = sum(scale.size for scale in scales)
    grids = " + ".join(f"{len(s.mask)} x {s.grid[1]} x {s.grid[0]}" for s in scales)
    output = as_head_output(output, (p, 5 + c), f"P = {grids} predictions of (t_x, t_y, t_w, t_h, objectness, "
                                                 f"{c} class logits)")
    gt_boxes, gt_labels, real = as_ground_truths(
        boxes, labels, np.shape(output)[0], c,
        positive_size="YOLOv3's size target ln(w / p_w) needs w > 0 (darknet drops truths narrower than 0.001)")
    return output, gt_boxes, gt_labels, real, c, scales


def yolov3_targets(output: Any, boxes: Any, labels: Any, *, num_classes: int = 80, anchors: Any = COCO_ANCHORS,
                   anchor_masks: Any = COCO_ANCHOR_MASKS, strides: Any = STRIDES, input_size: Any = (416, 416),
                   ignore_thresh: float = 0.7, box_weight: str = "2-wh") -> YoloV3Targets:
    r"""YOLOv3's assignment, as darknet's ``forward_yolo_layer``: positives, ignored predictions, targets.

    1. Ignore mask (uses the predictions): each prediction's box (:func:`decode_yolo_boxes`) is compared with
       every object of its image; if its largest IoU is above ``ignore_thresh`` (strictly) it gets no
       objectness loss.
    2. Positives (do not use the predictions): for each object in ``boxes`` order, the best of *all* anchors by
       the IoU of their shapes centred together (the first on ties); if that anchor belongs to a scale, the
       prediction of that anchor in the cell holding the object's centre is positive, with the box target of
       :func:`encode_yolo_boxes` and weight 2 - w h. Each object is positive at one prediction of one scale. A
       positive overrides "ignored". When two objects take one prediction, the later one's box target and
       weight win and the class targets add up (multi-hot), as darknet.

    Args:
        output: Raw head output (N, P, 5 + C); see :func:`yolov3_loss`.
        boxes: Ground truths (N, M, 4), ``xyxy`` in image units, of positive size; rows labelled -1 are padding.
        labels: Classes (N, M), -1 for padding.
        num_classes, anchors, anchor_masks, strides, input_size, ignore_thresh, box_weight: As
            :func:`yolov3_loss`.

    Returns:
        A :class:`YoloV3Targets` of plain NumPy arrays.
    """
    return _assign(output, boxes, labels, num_classes=num_classes, anchors=anchors, anchor_masks=anchor_masks,
                   strides=strides, input_size=input_size, ignore_thresh=ignore_thresh, box_weight=box_weight)[1]


def _assign(output: Any, boxes: Any, labels: Any, *, num_classes: Any = 80, anchors: Any = COCO_ANCHORS,
            anchor_masks: Any = COCO_ANCHOR_MASKS, strides: Any = STRIDES, input_size: Any = (416, 416),
            ignore_thresh: Any = 0.7, box_weight: Any = "2-wh") -> tuple[Any, YoloV3Targets]:
    """The checked output (autograd's traced arrays pass through) and :func:`yolov3_targets`' assignment."""
    layout = {"anchors": anchors, "anchor_masks": anchor_masks, "strides": strides, "input_size": input_size}
    output, gt_boxes, gt_labels, real, c, scales = _checked(output, boxes, labels, num_classes, layout)
    ignore_thresh = IGNORE_THRESH.check(ignore_thresh)
    box_weight = BOX_WEIGHT.check(box_weight)
    anchor_sizes = np.asarray(_pairs(anchors, "anchors", "", integer=False), dtype=np.float64)
    net = np.asarray(input_size, dtype=np.float64)
    values = np.asarray(getval(output), dtype=np.float64)
    n, p = values.shape[:2]
    m = gt_labels.shape[1]

    cells, grids, prediction_anchors = _prediction_grid(scales, anchor_sizes)
    best_iou = np.zeros((n, p))
    for image in range(n):
        objects = gt_boxes[image][real[image]]
        if len(objects):
            predicted = np.concatenate([
                decode_yolo_boxes(values[image, s.start:s.start + s.size, :4], cells[s.start:s.start + s.size],
                                  prediction_anchors[s.start:s.start + s.size], grid_size=s.grid,
                                  input_size=tuple(net)) for s in scales])
            with np.errstate(invalid="ignore"):  # an overflowing size gives inf / inf: NaN, never above a threshold
                best_iou[image] = np.max(box_iou(predicted, objects), axis=1)

    positive = np.zeros((n, p), dtype=bool)
    object_index = np.full((n, p), -1, dtype=np.int64)
    box_target = np.zeros((n, p, 4))
    weight = np.zeros((n, p))
    class_target = np.zeros((n, p, c))
    best_anchor = np.full((n, m), -1, dtype=np.int64)
    prediction = np.full((n, m), -1, dtype=np.int64)
    for image, k in zip(*np.nonzero(real)):  # in boxes order: a later object overwrites an earlier one's target
        box = gt_boxes[image, k]
        size = box[2:] - box[:2]
        best_anchor[image, k] = np.argmax(_shape_iou(anchor_sizes / net, size))
        scale = next((s for s in scales if best_anchor[image, k] in s.mask), None)
        if scale is None:  # an anchor no scale uses: no positive (darknet: mask_n < 0)
            continue
        centre = (box[:2] + box[2:]) / 2
        i, j = cell_of(centre[0], scale.grid[0]), cell_of(centre[1], scale.grid[1])
        a = scale.mask.index(int(best_anchor[image, k]))
        index = scale.start + (a * scale.grid[1] + j) * scale.grid[0] + i
        prediction[image, k] = index
        positive[image, index] = True
        object_index[image, index] = k
        box_target[image, index] = encode_yolo_boxes(box, (i, j), anchor_sizes[best_anchor[image, k]],
                                                     grid_size=scale.grid, input_size=tuple(net))
        weight[image, index] = 2.0 - size[0] * size[1] if box_weight == "2-wh" else 1.0
        class_target[image, index, gt_labels[image, k]] = 1.0
    ignored = ~positive & (best_iou > ignore_thresh)
    return output, YoloV3Targets(positive, ignored, object_index, box_target, weight, class_target, best_iou,
                                 best_anchor, prediction)


def _bce_with_logits(x: Any, t: Any) -> Any:
    """-t log sigmoid(x) - (1 - t) log sigmoid(-x), elementwise (soft targets allowed)."""
    return -(t * log_sigmoid(x) + (1 - t) * log_sigmoid(-x))


def _terms_with(output: Any, targets: YoloV3Targets, xy_loss: str) -> dict[str, Any]:
    """The five terms at ``output`` with the assignment ``targets`` held (autograd can trace ``output``)."""
    positive = targets.positive
    negative = ~positive & ~targets.ignored
    chosen = output[positive]  # (K, 5 + C)
    wanted = targets.box_target[positive]
    weight = targets.box_weight[positive][:, None]
    if xy_loss == "bce":
        xy = anp.sum(weight * _bce_with_logits(chosen[:, :2], wanted[:, :2]))  # (Y3)
    else:
        xy = anp.sum(weight / 2 * (sigmoid(chosen[:, :2]) - wanted[:, :2]) ** 2)  # (Y4)
    wh = anp.sum(weight / 2 * (chosen[:, 2:4] - wanted[:, 2:]) ** 2)  # (Y5)
    obj = anp.sum(-log_sigmoid(chosen[:, 4]))  # (Y6)
    noobj = anp.sum(-log_sigmoid(-output[..., 4][negative]))  # (Y7)
    cls = anp.sum(_bce_with_logits(chosen[:, 5:], targets.class_target[positive]))  # (Y8)
    images = np.shape(output)[0]
    return {"xy": xy / images, "wh": wh / images, "object": obj / images, "no_object": noobj / images,
            "class": cls / images}


def yolov3_loss(output: Any, boxes: Any, labels: Any, *, num_classes: int = 80, anchors: Any = COCO_ANCHORS,
                anchor_masks: Any = COCO_ANCHOR_MASKS, strides: Any = STRIDES, input_size: Any = (416, 416),
                ignore_thresh: float = 0.7, xy_loss: str = "bce", box_weight: str = "2-wh") -> tuple[Any, dict]:
    r"""YOLOv3's training loss as darknet computes it: its total and its five terms.

    Definition:
        With :func:`yolov3_targets`' positives (weight :math:`s = 2 - wh`, targets
        :math:`\hat t`), negatives (neither positive nor ignored), and :math:`\mathrm{BCE}(z, y) = -y \log
        \sigma(z) - (1 - y) \log \sigma(-z)`, summed over the batch and divided by the number of images N:

        .. math::
            \ell_{xy} = \sum_{pos} s\,[\mathrm{BCE}(t_x, \hat t_x) + \mathrm{BCE}(t_y, \hat t_y)]
                \qquad \text{(Y3)}

            \ell_{xy}^{sse} = \sum_{pos} \tfrac{s}{2}\,[(\sigma(t_x) - \hat t_x)^2 + (\sigma(t_y) - \hat t_y)^2]
                \qquad \text{(Y4)}

            \ell_{wh} = \sum_{pos} \tfrac{s}{2}\,[(t_w - \hat t_w)^2 + (t_h - \hat t_h)^2]  \qquad \text{(Y5)}

            \ell_{obj} = \sum_{pos} \mathrm{BCE}(z_o, 1), \quad
            \ell_{noobj} = \sum_{neg} \mathrm{BCE}(z_o, 0)  \qquad \text{(Y6, Y7)}

            \ell_{class} = \sum_{pos} \sum_c \mathrm{BCE}(z_c, y_c)  \qquad \text{(Y8)}

        (Y3) is the default (``xy_loss="bce"``), (Y4) the paper's sum-squared error (``xy_loss="sse"``). The
        total is the sum of the five terms. (Y3) never reaches 0: its minimum is the entropy of the offset.

    Gradient:
        With respect to the raw output, the assignment, the ignore mask and s held constant:

        .. math::
            \frac{\partial \ell}{\partial t_x} = \frac{s}{N}(\sigma(t_x) - \hat t_x)\ \text{(BCE)}
                \ \text{or}\ \frac{s}{N}(\sigma(t_x) - \hat t_x)\,\sigma(t_x)\sigma(-t_x)\ \text{(SSE)}, \quad
            \frac{\partial \ell}{\partial t_w} = \frac{s}{N}(t_w - \hat t_w), \quad
            \frac{\partial \ell}{\partial z} = \frac{1}{N}(\sigma(z) - y)  \qquad \text{(Y9)}

        on a positive's t_x, t_y, t_w, t_h, objectness (y = 1) and class logits (:math:`y = y_c`), and on a
        negative's objectness (y = 0); 0 for every other entry (an ignored prediction's objectness, the rest
        of the predictions that are not positive). Each term's part is multiplied by the cotangent of that term
        (plus that of the total). Derivation: ``docs/derivations/yolov3_loss.md``.

    Conventions:
        Canonical: darknet's ``yolo_layer.c``, whose deltas (which skip the sigmoid's derivative) are exactly the
        negative gradient of this loss per image: BCE on the x, y logits, half the squared error in log space
        for w, h, both times 2 - w h; BCE for objectness and classes; no term weights; no division by the number
        of positives; ignore threshold 0.7 (yolov3.cfg). Named variants: the paper is ``xy_loss="sse"``,
        ``ignore_thresh=0.5`` and ``box_weight="one"`` (its ignore rule is worded on priors, refloss's is
        darknet's, on predicted boxes). Each object is positive at its best anchor
        over all scales (see :func:`yolov3_targets`). NaN in an output that enters a term propagates.

    Shapes:
        ``output``: (N, P, 5 + C), the scales' predictions flattened in the order of :func:`yolov3_layout`,
        each (t_x, t_y, t_w, t_h, objectness, C class logits); from darknet's or a PyTorch port's per-scale
        tensor (N, A (5 + C), H, W): ``x.reshape(N, A, 5 + C, H, W).transpose(0, 1, 3, 4, 2).reshape(N, -1,
        5 + C)``, concatenated over scales. ``boxes``: (N, M, 4); ``labels``: (N, M). Output: the total (a
        scalar) and a dict of the terms ``xy``, ``wh``, ``object``, ``no_object``, ``class``.

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
        ignore_thresh: IoU above which a non-responsible prediction is ignored (default 0.7).
        xy_loss: ``"bce"`` (default) or ``"sse"``.
        box_weight: ``"2-wh"`` (default) or ``"one"``.

    Returns:
        ``(total, terms)``: float64 scalars.

    References:
        Redmon, J., Farhadi, A. "YOLOv3: An Incremental Improvement", 2018: https://arxiv.org/abs/1804.02767.
        darknet ``src/yolo_layer.c``: https://github.com/pjreddie/darknet/blob/master/src/yolo_layer.c

    Examples:
        >>> settings = dict(num_classes=1, anchors=((8, 8), (16, 16)), anchor_masks=((1,), (0,)), strides=(32, 16),
        ...                 input_size=(32, 32))
        >>> output = np.zeros((1, 1 + 4, 6))
        >>> total, terms = yolov3_loss(output, [[[0.25, 0.25, 0.75, 0.75]]], [[0]], **settings)
        >>> round(float(total), 4), round(float(terms["no_object"]), 4)
        (6.5849, 2.7726)
    """
    xy_loss = XY_LOSS.check(xy_loss)
    output, targets = _assign(output, boxes, labels, num_classes=num_classes, anchors=anchors,
                              anchor_masks=anchor_masks, strides=strides, input_size=input_size,
                              ignore_thresh=ignore_thresh, box_weight=box_weight)
    terms = _terms_with(output, targets, xy_loss)
    return sum(terms.values()), terms


def yolov3_loss_vjp(grad_output: Any, output: Any, boxes: Any, labels: Any, *, num_classes: int = 80,
                    anchors: Any = COCO_ANCHORS, anchor_masks: Any = COCO_ANCHOR_MASKS, strides: Any = STRIDES,
                    input_size: Any = (416, 416), ignore_thresh: float = 0.7, xy_loss: str = "bce",
                    box_weight: str = "2-wh") -> tuple[np.ndarray, None, None]:
    """Vector-Jacobian product of :func:`yolov3_loss` w.r.t. ``output``, the assignment and the ignore mask held;
    None for the ground truths.

    ``grad_output`` is the cotangent of the total (a scalar), or a mapping from ``"total"`` and term names to
    cotangents (missing ones are 0). See :func:`yolov3_loss`, "Gradient".
    """
    xy_loss = XY_LOSS.check(xy_loss)
    output, targets = _assign(output, boxes, labels, num_classes=num_classes, anchors=anchors,
                              anchor_masks=anchor_masks, strides=strides, input_size=input_size,
                              ignore_thresh=ignore_thresh, box_weight=box_weight)
    g = {name: value / output.shape[0] for name, value in term_cotangents(grad_output, TERMS).items()}
    positive = targets.positive
    negative = ~positive & ~targets.ignored
    chosen = output[positive]
    wanted = targets.box_target[positive]
    weight = targets.box_weight[positive][:, None]
    rows = np.zeros_like(chosen)  # the gradient of the positives' rows  (Y9)
    offset = sigmoid(chosen[:, :2])
    residual = offset - wanted[:, :2]
    slope = 1.0 if xy_loss == "bce" else sigmoid(chosen[:, :2]) * sigmoid(-chosen[:, :2])
    rows[:, :2] = g["xy"] * weight * residual * slope
    rows[:, 2:4] = g["wh"] * weight * (chosen[:, 2:4] - wanted[:, 2:])
    rows[:, 4] = -g["object"] * sigmoid(-chosen[:, 4])
    rows[:, 5:] = g["class"] * (sigmoid(chosen[:, 5:]) - targets.class_target[positive])
    grad = np.zeros_like(output)
    grad[positive] = rows
    grad[..., 4] += np.where(negative, g["no_object"] * sigmoid(output[..., 4]), 0.0)
    return grad, None, None


def _held_forward(output: Any, boxes: Any, labels: Any, *, xy_loss: str = "bce", **params: Any) -> Any:
    """The loss with the assignment and the ignore mask held at their values at these inputs."""
    targets = _assign(output, boxes, labels, **params)[1]
    xy_loss = XY_LOSS.check(xy_loss)

    def yolov3_loss_with_assignment_held(output: Any, boxes: Any, labels: Any, **_: Any) -> tuple:
        terms = _terms_with(as_real_array(output, "output"), targets, xy_loss)
        return sum(terms.values()), terms

    return yolov3_loss_with_assignment_held


INPUTS = (Input("output", "raw head output (N, P, 5 + C), the scales flattened (yolov3_layout)",
                shape=("N", "P", "5+C")), GROUND_TRUTH_BOXES, LABELS)

register(LossSpec(
    name="yolov3_loss", family="detectors", kind="detector", forward=yolov3_loss, vjp=yolov3_loss_vjp,
    inputs=INPUTS,
    params=(NUM_CLASSES, ANCHORS, ANCHOR_MASKS, STRIDES_PARAM, INPUT_SIZE, IGNORE_THRESH, XY_LOSS, BOX_WEIGHT),
    terms=TERMS,
    smoothness="C-infinity in the output wherever the assignment and the ignore mask do not change",
    stop_gradients=("the assignment of objects to anchors and cells", "the ignore mask (computed from the "
                    "predicted boxes)", "the box weight 2 - w h"),
    held_forward=_held_forward,
    references=(Reference("Redmon, Farhadi. YOLOv3: An Incremental Improvement. 2018",
                          "https://arxiv.org/abs/1804.02767"),
                Reference("darknet, src/yolo_layer.c",
                          "https://github.com/pjreddie/darknet/blob/master/src/yolo_layer.c"),
                Reference("darknet issue 630: the yolo layer's deltas skip the sigmoid's derivative",
                          "https://github.com/pjreddie/darknet/issues/630")),
))
