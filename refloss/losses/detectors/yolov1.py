"""YOLOv1's training loss (Redmon et al. 2016, eq. 3): its target builder, the loss with its five terms, and the
VJP w.r.t. the raw head output with the assignment held constant."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from refloss._checks import as_real_array
from refloss._registry import Input, Interval, Kink, LossSpec, Param, Reference, register
from refloss.losses.detectors._scene import (GROUND_TRUTH_BOXES, LABELS, as_ground_truths, as_head_output, cell_of,
                                             positive_integer, term_cotangents)

__all__ = ["YoloV1Targets", "yolov1_loss", "yolov1_loss_vjp", "yolov1_targets"]

TERMS = ("xy", "wh", "object", "no_object", "class")
SIGNED_SQRT_EPS = 1e-6  # aladdinpersson's sign(w) * sqrt(|w + 1e-6|) (size_output="linear")
# darknet's best_rmse starts here. If every IoU is 0 and no RMSE is below it, darknet's best_index stays -1 (an
# out-of-bounds write); refloss makes predictor 0 responsible there, its own choice.
DARKNET_START_RMSE = 20.0


class YoloV1Targets(NamedTuple):
    """What :func:`yolov1_targets` assigns, as plain arrays (S = grid_size, B = num_boxes, C = num_classes).

    Attributes:
        object_index: (N, S, S) int: the row m of ``boxes`` whose object the cell holds; -1 for an empty cell.
        responsible: (N, S, S, B) bool: the predictor responsible for the cell's object.
        iou: (N, S, S, B): each predictor's IoU with its cell's object (0 in empty cells); the responsible one's
            is the confidence target.
        box_target: (N, S, S, 4): the targets (x, y, sqrt w, sqrt h) of the cell's responsible predictor; x, y
            are the object's centre offset in the cell, in [0, 1]; w, h in image units. 0 in empty cells.
        class_target: (N, S, S, C): the one-hot class of the cell's object; 0 in empty cells.
        dropped: (N, M) bool: objects whose centre fell in a cell already taken by an earlier object.
    """

    object_index: np.ndarray
    responsible: np.ndarray
    iou: np.ndarray
    box_target: np.ndarray
    class_target: np.ndarray
    dropped: np.ndarray


GRID_SIZE = Param("grid_size", 7, Interval(1, math.inf, True), "S: the grid has S x S cells", kind="integer",
                  grid=(7,))
NUM_BOXES = Param("num_boxes", 2, Interval(1, math.inf, True), "B: box predictors per cell", kind="integer",
                  grid=(2,))
NUM_CLASSES = Param("num_classes", 20, Interval(1, math.inf, True), "C: classes (20 for PASCAL VOC)",
                    kind="integer", grid=(20,))
LAMBDA_COORD = Param("lambda_coord", 5.0, Interval(0.0, math.inf, True), "weight of the coordinate terms",
                     grid=(5.0,))
LAMBDA_NOOBJ = Param("lambda_noobj", 0.5, Interval(0.0, math.inf, True),
                     "weight of the confidence of predictors with no object", grid=(0.5,))
CONFIDENCE_TARGET = Param("confidence_target", "iou", Interval(), kind="choice", choices=("iou", "one"),
                          description="the responsible predictor's confidence target: its IoU with the object "
                                      "(paper; darknet rescore=1) or 1 (darknet rescore=0)")
NO_OBJECT = Param("no_object", "non_responsible", Interval(), kind="choice",
                  choices=("non_responsible", "empty_cells"),
                  description="which confidences are pushed to 0: every predictor not responsible for an object "
                              "(paper, darknet) or only those of cells with no object (aladdinpersson's blog)")
SIZE_OUTPUT = Param("size_output", "sqrt", Interval(), kind="choice", choices=("sqrt", "linear"),
                    description="the w, h outputs are sqrt(w), sqrt(h) (darknet sqrt=1) or w, h, whose square root "
                                "the loss takes as sign(w) sqrt(|w + 1e-6|) (aladdinpersson's blog)")
NORMALIZATION = Param("normalization", "images", Interval(), kind="choice", choices=("images", "sum", "darknet"),
                      description="the sum over the batch divided by the number of images (images), not divided "
                                  "(sum), or divided by twice that (darknet: its deltas are half the gradient)")


def _layout(output: Any, num_boxes: int) -> tuple[Any, Any, Any]:
    """The predictors' (x, y, w, h) (N, S, S, B, 4), their confidences (N, S, S, B) and the class scores
    (N, S, S, C) of an output (N, S, S, 5B + C): per cell, B blocks (x, y, w, h, confidence), then C classes."""
    n, s = np.shape(output)[:2]
    boxes = anp.reshape(output[..., :5 * num_boxes], (n, s, s, num_boxes, 5))
    return boxes[..., :4], boxes[..., 4], output[..., 5 * num_boxes:]


def _settings(grid_size: Any, num_boxes: Any, num_classes: Any) -> tuple[int, int, int]:
    return (positive_integer(grid_size, "grid_size"), positive_integer(num_boxes, "num_boxes"),
            positive_integer(num_classes, "num_classes"))


def _checked(output: Any, boxes: Any, labels: Any, grid_size: Any, num_boxes: Any, num_classes: Any) -> tuple:
    s, b, c = _settings(grid_size, num_boxes, num_classes)
    output = as_head_output(output, (s, s, 5 * b + c),
                            f"S x S cells of {b} x (x, y, w, h, confidence) then {c} class scores; S = {s}")
    gt_boxes, gt_labels, real = as_ground_truths(boxes, labels, np.shape(output)[0], c)
    return output, gt_boxes, gt_labels, real, (s, b, c)


def _iou_of_centred(centre1: np.ndarray, size1: np.ndarray, centre2: np.ndarray, size2: np.ndarray) -> np.ndarray:
    """IoU of boxes given by centre and size (..., 2); 0 where both are empty (0/0)."""
    low = np.maximum(centre1 - size1 / 2, centre2 - size2 / 2)
    high = np.minimum(centre1 + size1 / 2, centre2 + size2 / 2)
    inter = np.prod(np.maximum(high - low, 0.0), axis=-1)
    union = np.prod(size1, axis=-1) + np.prod(size2, axis=-1) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _predicted_size(w: np.ndarray, size_output: str) -> np.ndarray:
    """A predictor's box size in image units: the square of the output (sqrt), or the output with negative
    values read as 0 (linear: a negative width is an empty box)."""
    return w**2 if size_output == "sqrt" else np.maximum(w, 0.0)


def yolov1_targets(output: Any, boxes: Any, labels: Any, *, grid_size: int = 7, num_boxes: int = 2,
                   num_classes: int = 20, size_output: str = "sqrt") -> YoloV1Targets:
    r"""YOLOv1's assignment: which cell holds which object, and which predictor of the cell is responsible.

    Each object goes to the cell its centre falls in, :math:`(\lfloor c_x S \rfloor, \lfloor c_y S \rfloor)`;
    a cell holds one object: when several centres fall in one cell, the first in ``boxes`` order keeps it and the
    later ones are dropped (darknet keeps the first after shuffling the truths; refloss does not shuffle). In a
    cell with an object, the responsible predictor is the one whose current box has the largest IoU with the
    object (the first on ties); if every IoU is 0, the one with the smallest RMSE over (x, y, w, h) in
    darknet's coordinates (x / S, y / S, w, h), as darknet's ``detection_layer.c``. A predictor's box is
    centred at ((col + x) / S, (row + y) / S) with size (w^2, h^2) (``size_output="sqrt"``) or (w, h).

    Args:
        output: Raw head output (N, S, S, 5B + C); see :func:`yolov1_loss`.
        boxes: Ground truths (N, M, 4), ``xyxy`` in image units; rows labelled -1 are padding.
        labels: Classes (N, M), -1 for padding.
        grid_size, num_boxes, num_classes, size_output: As :func:`yolov1_loss`.

    Returns:
        A :class:`YoloV1Targets` of plain NumPy arrays.
    """
    return _assign(output, boxes, labels, grid_size, num_boxes, num_classes, size_output)[1]


def _assign(output: Any, boxes: Any, labels: Any, grid_size: Any, num_boxes: Any, num_classes: Any,
            size_output: Any) -> tuple[Any, YoloV1Targets]:
    """The checked output (autograd's traced arrays pass through) and :func:`yolov1_targets`' assignment."""
    output, gt_boxes, gt_labels, real, (s, b, c) = _checked(output, boxes, labels, grid_size, num_boxes, num_classes)
    size_output = SIZE_OUTPUT.check(size_output)
    values = np.asarray(getval(output), dtype=np.float64)
    n, m = gt_labels.shape
    centres = (gt_boxes[..., :2] + gt_boxes[..., 2:]) / 2
    sizes = gt_boxes[..., 2:] - gt_boxes[..., :2]
    columns, rows = cell_of(centres[..., 0], s), cell_of(centres[..., 1], s)

    object_index = np.full((n, s, s), -1, dtype=np.int64)
    dropped = np.zeros((n, m), dtype=bool)
    for image, k in zip(*np.nonzero(real)):  # in boxes order: the first object of a cell keeps it
        cell = (image, rows[image, k], columns[image, k])
        if object_index[cell] >= 0:
            dropped[image, k] = True
        else:
            object_index[cell] = k

    held = object_index >= 0
    images, cell_rows, cell_columns = np.nonzero(held)
    owners = object_index[held]
    cell_corner = np.stack([cell_columns, cell_rows], axis=-1).astype(np.float64)
    centre, size = centres[images, owners], sizes[images, owners]
    box_target = np.zeros((n, s, s, 4))
    box_target[held] = np.concatenate([centre * s - cell_corner, np.sqrt(size)], axis=-1)
    class_target = np.zeros((n, s, s, c))
    class_target[images, cell_rows, cell_columns, gt_labels[images, owners]] = 1.0

    predicted = _layout(values, b)[0][held]  # (K, B, 4)
    predicted_centre = (cell_corner[:, None, :] + predicted[..., :2]) / s
    predicted_size = _predicted_size(predicted[..., 2:], size_output)
    # A NaN output makes its IoU and RMSE NaN: like darknet's comparisons, it then never wins (IoU 0, RMSE inf).
    overlap = np.nan_to_num(_iou_of_centred(predicted_centre, predicted_size, centre[:, None, :], size[:, None, :]),
                            nan=0.0)
    rmse = np.sqrt(np.sum((predicted_centre - centre[:, None, :])**2 + (predicted_size - size[:, None, :])**2, -1))
    rmse = np.where(np.isnan(rmse), np.inf, rmse)
    by_rmse = np.where(np.min(rmse, axis=-1, initial=np.inf) < DARKNET_START_RMSE, np.argmin(rmse, axis=-1), 0) \
        if rmse.size else np.zeros(0, dtype=np.int64)
    best = np.where(np.any(overlap > 0, axis=-1), np.argmax(overlap, axis=-1), by_rmse)
    responsible = np.zeros((n, s, s, b), dtype=bool)
    responsible[images, cell_rows, cell_columns, best] = True
    iou = np.zeros((n, s, s, b))
    iou[held] = overlap
    return output, YoloV1Targets(object_index, responsible, iou, box_target, class_target, dropped)


def _signed_sqrt(w: Any) -> Any:
    """sign(w) sqrt(|w + 1e-6|): aladdinpersson's square root of a linear size output (0 at w = 0)."""
    return anp.sign(w) * anp.sqrt(anp.abs(w + SIGNED_SQRT_EPS))


def _divisor(normalization: str, images: int) -> float:
    return {"images": images, "sum": 1, "darknet": 2 * images}[normalization]


def _terms_with(output: Any, targets: YoloV1Targets, num_boxes: int, lambda_coord: float, lambda_noobj: float,
                confidence_target: str, no_object: str, size_output: str, normalization: str) -> dict[str, Any]:
    """The five terms at ``output`` with the assignment ``targets`` held (autograd can trace ``output``)."""
    coordinates, confidence, scores = _layout(output, num_boxes)
    responsible, held = targets.responsible, targets.object_index >= 0
    wanted = targets.box_target[..., None, :]  # one target per cell, for each of its predictors
    xy = anp.sum((coordinates[..., :2] - wanted[..., :2])[responsible] ** 2)  # (L1)
    size = coordinates[..., 2:] if size_output == "sqrt" else _signed_sqrt(coordinates[..., 2:])
    wh = anp.sum((size - wanted[..., 2:])[responsible] ** 2)  # (L2)
    confidence_wanted = targets.iou if confidence_target == "iou" else np.ones_like(targets.iou)
    obj = anp.sum((confidence - confidence_wanted)[responsible] ** 2)  # (L3)
    empty = ~responsible if no_object == "non_responsible" else np.broadcast_to(~held[..., None], responsible.shape)
    noobj = anp.sum(confidence[empty] ** 2)  # (L4)
    cls = anp.sum((scores - targets.class_target)[held] ** 2)  # (L5)
    divisor = _divisor(normalization, np.shape(output)[0])
    return {"xy": lambda_coord * xy / divisor, "wh": lambda_coord * wh / divisor, "object": obj / divisor,
            "no_object": lambda_noobj * noobj / divisor, "class": cls / divisor}


def _options(lambda_coord: Any, lambda_noobj: Any, confidence_target: Any, no_object: Any,
             normalization: Any) -> dict[str, Any]:
    return {"lambda_coord": LAMBDA_COORD.check(lambda_coord), "lambda_noobj": LAMBDA_NOOBJ.check(lambda_noobj),
            "confidence_target": CONFIDENCE_TARGET.check(confidence_target),
            "no_object": NO_OBJECT.check(no_object), "normalization": NORMALIZATION.check(normalization)}


def yolov1_loss(output: Any, boxes: Any, labels: Any, *, grid_size: int = 7, num_boxes: int = 2,
                num_classes: int = 20, lambda_coord: float = 5.0, lambda_noobj: float = 0.5,
                confidence_target: str = "iou", no_object: str = "non_responsible", size_output: str = "sqrt",
                normalization: str = "images") -> tuple[Any, dict[str, Any]]:
    r"""YOLOv1's training loss (the paper's eq. 3): its total and its five terms.

    Definition:
        With :func:`yolov1_targets`' assignment (:math:`\mathbb 1^{obj}_{ij}`: predictor j of cell i is
        responsible for the cell's object; :math:`\mathbb 1^{obj}_i`: cell i holds an object), summed over the
        batch and divided by the number of images N:

        .. math::
            \ell_{xy} = \lambda_{coord} \sum_{ij} \mathbb 1^{obj}_{ij}
                \left[(x_{ij} - \hat x_i)^2 + (y_{ij} - \hat y_i)^2\right]  \qquad \text{(L1)}

            \ell_{wh} = \lambda_{coord} \sum_{ij} \mathbb 1^{obj}_{ij}
                \left[(s^w_{ij} - \sqrt{\hat w_i})^2 + (s^h_{ij} - \sqrt{\hat h_i})^2\right]  \qquad \text{(L2)}

            \ell_{obj} = \sum_{ij} \mathbb 1^{obj}_{ij} (C_{ij} - \hat C_{ij})^2  \qquad \text{(L3)}

            \ell_{noobj} = \lambda_{noobj} \sum_{ij} (1 - \mathbb 1^{obj}_{ij})\, C_{ij}^2  \qquad \text{(L4)}

            \ell_{class} = \sum_i \mathbb 1^{obj}_i \sum_c (p_i(c) - \hat p_i(c))^2  \qquad \text{(L5)}

        :math:`s^w, s^h` are the outputs in the w, h slots, which the network predicts as :math:`\sqrt w`,
        :math:`\sqrt h`; :math:`\hat C_{ij}` is the responsible predictor's current IoU with the object. The
        total is the sum of the five terms.

    Gradient:
        With respect to the raw output, the assignment and :math:`\hat C` held constant:

        .. math::
            \frac{\partial \ell}{\partial x_{ij}} = \frac{2\lambda_{coord}}{N}\,\mathbb 1^{obj}_{ij}(x_{ij} - \hat x_i),
            \quad
            \frac{\partial \ell}{\partial C_{ij}} = \frac{2}{N}\left[\mathbb 1^{obj}_{ij}(C_{ij} - \hat C_{ij})
                + \lambda_{noobj}(1 - \mathbb 1^{obj}_{ij})\, C_{ij}\right], \quad
            \frac{\partial \ell}{\partial p_i(c)} = \frac{2}{N}\,\mathbb 1^{obj}_i (p_i(c) - \hat p_i(c))
            \qquad \text{(L6)}

        (y, :math:`s^w`, :math:`s^h` as x), 0 for every other entry; each term's part times the cotangent of that
        term (plus that of the total). ``size_output="linear"`` replaces :math:`s^w` by
        :math:`r(w) = \operatorname{sign}(w)\sqrt{|w + 10^{-6}|}` in (L2) and so multiplies the size entries'
        gradient, :math:`2\lambda_{coord}(r(w) - \sqrt{\hat w})/N`, by
        :math:`r'(w) = \operatorname{sign}(w)\operatorname{sign}(w + 10^{-6}) / (2\sqrt{|w + 10^{-6}|})` (0 at
        w = 0 and at :math:`w = -10^{-6}`). Derivation: ``docs/derivations/yolov1_loss.md``.

    Conventions:
        Canonical: the paper's eq. 3 with darknet's semantics: the confidence target is the IoU, detached
        (stop-gradient); every predictor that is not responsible, including those in cells with an object,
        gets the no-object term; the all-zero-IoU fallback by RMSE; the network predicts square roots; the sum
        divided by N with no 1/2. Named variants: ``confidence_target="one"`` (darknet rescore=0),
        ``no_object="empty_cells"`` and ``size_output="linear"`` (aladdinpersson's re-implementation),
        ``normalization="darknet"`` (half, as darknet's deltas) or ``"sum"`` (no division). Two objects in one
        cell: the first keeps it, the others are dropped (``yolov1_targets(...).dropped``). ``size_output=
        "linear"`` reproduces aladdinpersson's formula, not his scale: his dataset gives sizes in cells (w S),
        refloss in image units. NaN in an output that enters a term propagates; a NaN predicted box never wins
        the responsibility (its IoU counts as 0 and its RMSE as infinite, as darknet's comparisons with NaN fail).

    Shapes:
        ``output``: (N, S, S, 5B + C), per cell B blocks (x, y, w, h, confidence) then C class scores (darknet's
        flat vector orders them differently: classes of all cells, then confidences, then coordinates).
        ``boxes``: (N, M, 4); ``labels``: (N, M). Output: the total (a scalar) and a dict of the terms
        ``xy``, ``wh``, ``object``, ``no_object``, ``class`` (scalars).

    Args:
        output: Raw head output (linear activation; no sigmoid or softmax).
        boxes: Ground truths, ``xyxy`` in image units inside [0, 1]; rows labelled -1 are padding.
        labels: Class of each ground truth in [0, num_classes), or -1 for padding.
        grid_size: S (default 7).
        num_boxes: B (default 2).
        num_classes: C (default 20).
        lambda_coord: Weight of the coordinate terms (default 5).
        lambda_noobj: Weight of the no-object term (default 0.5).
        confidence_target: ``"iou"`` (default) or ``"one"``.
        no_object: ``"non_responsible"`` (default) or ``"empty_cells"``.
        size_output: ``"sqrt"`` (default) or ``"linear"``.
        normalization: ``"images"`` (default), ``"sum"`` or ``"darknet"``.

    Returns:
        ``(total, terms)``: float64 scalars.

    References:
        Redmon, J., Divvala, S., Girshick, R., Farhadi, A. "You Only Look Once: Unified, Real-Time Object
        Detection", CVPR 2016: https://arxiv.org/abs/1506.02640.
        darknet ``src/detection_layer.c``: https://github.com/pjreddie/darknet/blob/master/src/detection_layer.c

    Examples:
        >>> output = np.zeros((1, 2, 2, 5 * 1 + 2))
        >>> total, terms = yolov1_loss(output, [[[0.1, 0.1, 0.4, 0.3]]], [[1]], grid_size=2, num_boxes=1,
        ...                            num_classes=2)
        >>> {name: round(float(value), 4) for name, value in terms.items()}
        {'xy': 2.05, 'wh': 2.5, 'object': 0.0, 'no_object': 0.0, 'class': 1.0}
    """
    output, targets = _assign(output, boxes, labels, grid_size, num_boxes, num_classes, size_output)
    options = _options(lambda_coord, lambda_noobj, confidence_target, no_object, normalization)
    terms = _terms_with(output, targets, int(num_boxes), size_output=size_output, **options)
    return sum(terms.values()), terms


def yolov1_loss_vjp(grad_output: Any, output: Any, boxes: Any, labels: Any, *, grid_size: int = 7,
                    num_boxes: int = 2, num_classes: int = 20, lambda_coord: float = 5.0, lambda_noobj: float = 0.5,
                    confidence_target: str = "iou", no_object: str = "non_responsible", size_output: str = "sqrt",
                    normalization: str = "images") -> tuple[np.ndarray, None, None]:
    """Vector-Jacobian product of :func:`yolov1_loss` w.r.t. ``output``, the assignment held; None for the
    ground truths.

    ``grad_output`` is the cotangent of the total (a scalar), or a mapping from ``"total"`` and term names to
    cotangents (missing ones are 0), to take the gradient of one term. See :func:`yolov1_loss`, "Gradient".
    """
    output, targets = _assign(output, boxes, labels, grid_size, num_boxes, num_classes, size_output)
    options = _options(lambda_coord, lambda_noobj, confidence_target, no_object, normalization)
    b = int(num_boxes)
    divisor = _divisor(options["normalization"], output.shape[0])
    g = {name: value / divisor for name, value in term_cotangents(grad_output, TERMS).items()}
    coordinates, confidence, scores = _layout(output, b)
    responsible, held = targets.responsible, targets.object_index >= 0
    wanted = targets.box_target[..., None, :]

    grad = np.zeros_like(output)
    grad_coordinates, grad_confidence, grad_scores = _layout(grad, b)  # views into grad
    lc = options["lambda_coord"]
    grad_coordinates[..., :2] = np.where(responsible[..., None],
                                         2 * lc * g["xy"] * (coordinates[..., :2] - wanted[..., :2]), 0.0)  # (L6)
    w = coordinates[..., 2:]
    if size_output == "sqrt":
        size_grad = 2 * lc * g["wh"] * (w - wanted[..., 2:])
    else:
        shifted = w + SIGNED_SQRT_EPS
        root = np.sqrt(np.abs(shifted))
        # d/dw sign(w) sqrt(|w + eps|) = sign(w) sign(w + eps) / (2 sqrt(|w + eps|)); 0 at w = 0 and at w = -eps,
        # where torch's sign and abs have derivative 0
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where((w == 0) | (shifted == 0), 0.0, np.sign(w) * np.sign(shifted) / (2 * root))
        size_grad = 2 * lc * g["wh"] * (np.sign(w) * root - wanted[..., 2:]) * slope
    grad_coordinates[..., 2:] = np.where(responsible[..., None], size_grad, 0.0)
    confidence_wanted = targets.iou if options["confidence_target"] == "iou" else 1.0
    empty = ~responsible if options["no_object"] == "non_responsible" else ~held[..., None]
    grad_confidence[...] = (np.where(responsible, 2 * g["object"] * (confidence - confidence_wanted), 0.0)
                            + np.where(empty, 2 * options["lambda_noobj"] * g["no_object"] * confidence, 0.0))
    grad_scores[...] = np.where(held[..., None], 2 * g["class"] * (scores - targets.class_target), 0.0)
    return grad, None, None


def _held_forward(output: Any, boxes: Any, labels: Any, **params: Any) -> Any:
    """The loss with the assignment and the IoU targets held at their values at these inputs."""
    grid = [params.get(p.name, p.default) for p in (GRID_SIZE, NUM_BOXES, NUM_CLASSES, SIZE_OUTPUT)]
    targets = _assign(output, boxes, labels, *grid)[1]
    options = _options(*(params.get(p.name, p.default) for p in (LAMBDA_COORD, LAMBDA_NOOBJ, CONFIDENCE_TARGET,
                                                                   NO_OBJECT, NORMALIZATION)))

    def yolov1_loss_with_assignment_held(output: Any, boxes: Any, labels: Any, **_: Any) -> tuple:
        terms = _terms_with(as_real_array(output, "output"), targets, int(grid[1]), size_output=grid[3], **options)
        return sum(terms.values()), terms

    return yolov1_loss_with_assignment_held


def _signed_sqrt_distance(output: Any, boxes: Any, labels: Any, *, num_boxes: int = 2, size_output: str = "sqrt",
                          **_: Any) -> np.ndarray:
    """The distance of every size output w, h from 0 and from -1e-6 under size_output="linear" (inf otherwise)."""
    w = _layout(np.asarray(output, dtype=np.float64), num_boxes)[0][..., 2:]
    return np.minimum(np.abs(w), np.abs(w + SIGNED_SQRT_EPS)) if size_output == "linear" else np.full(w.shape, np.inf)


register(LossSpec(
    name="yolov1_loss", family="detectors", kind="detector", forward=yolov1_loss, vjp=yolov1_loss_vjp,
    inputs=(Input("output", "raw head output (N, S, S, 5B + C)", shape=("N", "S", "S", "5B+C"),
                  sample=Interval(-0.2, 1.2, True, True)),
            GROUND_TRUTH_BOXES, LABELS),
    params=(GRID_SIZE, NUM_BOXES, NUM_CLASSES, LAMBDA_COORD, LAMBDA_NOOBJ, CONFIDENCE_TARGET, NO_OBJECT,
            SIZE_OUTPUT, NORMALIZATION),
    terms=TERMS,
    smoothness="piecewise quadratic in the output: C-infinity wherever the assignment does not change",
    kinks=(Kink("size_output='linear' and an output w or h = 0 or -1e-6", "sign(0) sqrt(|0 + 1e-6|) = 0, and the "
                "gradient is 0 at w = 0 and at w = -1e-6, as torch's sign and abs give (the signed root jumps by "
                "2 sqrt(1e-6) = 2e-3 across w = 0; its slope is infinite at w = -1e-6)",
                _signed_sqrt_distance, autograd_agrees=True),),
    stop_gradients=("the assignment of objects to cells and of the responsible predictor (argmax of IoU)",
                    "the confidence target: the responsible predictor's IoU"),
    held_forward=_held_forward,
    references=(Reference("Redmon, Divvala, Girshick, Farhadi. You Only Look Once. CVPR 2016",
                          "https://arxiv.org/abs/1506.02640"),
                Reference("darknet, src/detection_layer.c",
                          "https://github.com/pjreddie/darknet/blob/master/src/detection_layer.c"),
                Reference("aladdinpersson, Machine-Learning-Collection, YOLO/loss.py",
                          "https://github.com/aladdinpersson/Machine-Learning-Collection/blob/master/ML/Pytorch/"
                          "object_detection/YOLO/loss.py")),
))
