"""RetinaNet's training loss as torchvision's ``RetinaNet.compute_loss`` computes it: its target builder (anchor
matching), the loss with its two terms, and the VJP w.r.t. the raw head outputs with the matching held."""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from refloss._checks import as_real_array
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, get, register
from refloss.boxes.coders import BBOX_XFORM_CLIP, decode_boxes, decode_boxes_vjp, encode_boxes
from refloss.boxes.matching import match_anchors
from refloss.losses.boxes._common import tie_distance
from refloss.losses.boxes.ciou import ciou_loss, ciou_loss_vjp
from refloss.losses.boxes.diou import diou_loss, diou_loss_vjp
from refloss.losses.boxes.giou import giou_loss, giou_loss_vjp
from refloss.losses.classification.sigmoid_focal import ALPHA, GAMMA, sigmoid_focal_loss, sigmoid_focal_loss_vjp
from refloss.losses.detectors._scene import (GROUND_TRUTH_BOXES, LABELS, as_ground_truths, as_reference_boxes,
                                             match_images, term_cotangents)
from refloss.losses.regression.l1 import l1_loss, l1_loss_vjp
from refloss.losses.regression.smooth_l1 import smooth_l1_loss, smooth_l1_loss_vjp

__all__ = ["RetinaNetTargets", "retinanet_loss", "retinanet_loss_vjp", "retinanet_targets"]

TERMS = ("classification", "bbox_regression")
IOU_EPS = 1e-7  # torchvision's _box_loss: eps of the IoU losses when no cnf is given (RetinaNet gives none)
# the IoU-family box losses: each decodes the deltas and compares boxes; each has a VJP w.r.t. the decoded boxes
IOU_LOSSES = {"giou": (giou_loss, giou_loss_vjp), "diou": (diou_loss, diou_loss_vjp),
              "ciou": (ciou_loss, ciou_loss_vjp)}

_UNIT = Interval(0.0, 1.0, True, True)
FG_IOU_THRESH = Param("fg_iou_thresh", 0.5, _UNIT, "an anchor whose best IoU with an object is at least this is "
                      "a positive of that object (torchvision's RetinaNet: 0.5)", grid=(0.5,))
BG_IOU_THRESH = Param("bg_iou_thresh", 0.4, _UNIT, "an anchor whose best IoU is below this is a negative; in "
                      "[bg_iou_thresh, fg_iou_thresh) it is ignored (torchvision: 0.4; at most fg_iou_thresh)",
                      grid=(0.4,))
BOX_LOSS = Param("box_loss", "l1", Interval(), kind="choice", choices=("l1", "smooth_l1", "giou", "diou", "ciou"),
                 description="the box term: L1 on the deltas (torchvision's default), Smooth L1 with beta, or the "
                             "GIoU / DIoU / CIoU loss of the decoded boxes (torchvision's _loss_type)")
BETA = Param("beta", 1.0, Interval(0.0, math.inf, low_closed=True),
             "Smooth L1's beta, used by box_loss='smooth_l1' only (torchvision's RetinaNet: 1; Detectron: 0.11)",
             grid=(1.0, 0.11))
WEIGHTS = Param("weights", (1.0, 1.0, 1.0, 1.0), Interval(0.0, math.inf), kind="tuple",
                description="the box coder's (w_x, w_y, w_w, w_h), positive (RetinaNet: (1, 1, 1, 1))",
                grid=((1.0, 1.0, 1.0, 1.0),))


class RetinaNetTargets(NamedTuple):
    """What :func:`retinanet_targets` assigns, as plain arrays (N images, A anchors, C classes).

    Attributes:
        matches: (N, A) int64: the row m of ``boxes`` each anchor is matched to; -1 for a negative (below
            ``bg_iou_thresh``, or every anchor of an image with no objects), -2 for an ignored anchor (best IoU in
            [bg_iou_thresh, fg_iou_thresh), not restored as a low-quality match).
        positive: (N, A) bool: ``matches >= 0``.
        valid: (N, A) bool: ``matches != -2``: the anchors the classification term sums over.
        class_target: (N, A, C) float64: 1 at the matched object's label for positives, 0 elsewhere.
        matched_boxes: (N, A, 4): the matched object's box for positives; 0 elsewhere.
        box_target: (N, A, 4): :func:`encode_boxes` of the matched box against the anchor (the L1 and Smooth L1
            targets) for positives; 0 elsewhere.
        num_positive: (N,) int64: the positives of each image (each image's terms are divided by max(1, it)).
        iou: (N, M, A): the IoU of each ground-truth row with each anchor (0 for padding rows).
    """

    matches: np.ndarray
    positive: np.ndarray
    valid: np.ndarray
    class_target: np.ndarray
    matched_boxes: np.ndarray
    box_target: np.ndarray
    num_positive: np.ndarray
    iou: np.ndarray


def _weights(value: Any) -> tuple[float, ...]:
    try:
        entries = tuple(float(v) for v in value) if np.ndim(value) == 1 and not isinstance(value, str) else ()
    except (TypeError, ValueError):
        entries = ()
    if len(entries) != 4 or not all(math.isfinite(v) and v > 0 for v in entries):
        raise ValueError(f"weights must be 4 positive finite numbers (w_x, w_y, w_w, w_h), got {value!r}")
    return entries


def _checked(cls_logits: Any, bbox_regression: Any, anchors: Any, boxes: Any, labels: Any) -> tuple:
    """The checked inputs: the head outputs (autograd's traced arrays pass through), anchors (A, 4) float64 and
    the ground truths with their mask of real objects."""
    cls_logits = as_real_array(cls_logits, "cls_logits")
    bbox_regression = as_real_array(bbox_regression, "bbox_regression")
    cls_shape, box_shape = np.shape(getval(cls_logits)), np.shape(getval(bbox_regression))
    if len(cls_shape) != 3 or cls_shape[2] < 1:
        raise ValueError(f"cls_logits must have shape (N, A, C) (a logit per image, anchor and class, C >= 1), "
                         f"got {cls_shape}")
    if len(box_shape) != 3 or box_shape[2] != 4:
        raise ValueError(f"bbox_regression must have shape (N, A, 4) (deltas per image and anchor), got {box_shape}")
    if cls_shape[0] == 0:
        raise ValueError("cls_logits holds no images (N = 0): each term is a mean over the images")
    if box_shape[:2] != cls_shape[:2]:
        raise ValueError(f"bbox_regression must have shape (N, A, 4) = ({cls_shape[0]}, {cls_shape[1]}, 4) like "
                         f"cls_logits (N, A, C) = {cls_shape}, got {box_shape}")
    anchor_array = as_reference_boxes(anchors, "anchors", "A")
    if anchor_array.shape[0] != cls_shape[1]:
        raise ValueError(f"anchors must have shape (A, 4) with A = {cls_shape[1]} (one per row of the head outputs, "
                         f"shared by every image), got {anchor_array.shape}")
    if cls_shape[1] == 0:
        raise ValueError("there are no anchors (A = 0): nothing to match the objects to")
    gt_boxes, gt_labels, real = as_ground_truths(
        boxes, labels, cls_shape[0], cls_shape[2],
        positive_size="its box target ln(w / anchor w) needs w > 0 (torchvision's RetinaNet refuses it too: "
                      "'All bounding boxes should have positive height and width')")
    return cls_logits, bbox_regression, anchor_array, gt_boxes, gt_labels, real


def retinanet_targets(cls_logits: Any, bbox_regression: Any, anchors: Any, boxes: Any, labels: Any, *,
                      fg_iou_thresh: float = 0.5, bg_iou_thresh: float = 0.4, weights: Any = (1.0, 1.0, 1.0, 1.0),
                      **_: Any) -> RetinaNetTargets:
    """RetinaNet's anchor matching, as torchvision's ``RetinaNet.compute_loss``: matches and targets per image.

    For each image with objects: the IoU matrix of its objects (rows; padding rows left out) with the anchors,
    :func:`match_anchors` with ``high_threshold=fg_iou_thresh``, ``low_threshold=bg_iou_thresh`` and
    ``allow_low_quality_matches=True`` (torchvision's ``Matcher(0.5, 0.4, True)``); an image with no objects has
    every anchor a negative (-1). The head outputs are used only for their shapes: the matching depends on the
    anchors and the ground truths alone. The other keyword arguments of :func:`retinanet_loss` are accepted and
    ignored, so that one settings dictionary serves both.

    Args:
        cls_logits, bbox_regression, anchors, boxes, labels: As :func:`retinanet_loss`.
        fg_iou_thresh, bg_iou_thresh, weights: As :func:`retinanet_loss`.

    Returns:
        A :class:`RetinaNetTargets` of plain NumPy arrays.
    """
    _, _, anchor_array, gt_boxes, gt_labels, real = _checked(cls_logits, bbox_regression, anchors, boxes, labels)
    return _match(anchor_array, gt_boxes, gt_labels, real, np.shape(getval(cls_logits))[2],
                  FG_IOU_THRESH.check(fg_iou_thresh), BG_IOU_THRESH.check(bg_iou_thresh), _weights(weights))


def _match(anchors: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray, real: np.ndarray, classes: int,
           fg: float, bg: float, weights: tuple[float, ...]) -> RetinaNetTargets:
    if bg > fg:
        raise ValueError(f"bg_iou_thresh ({bg}) must not exceed fg_iou_thresh ({fg})")
    n, a = gt_labels.shape[0], anchors.shape[0]
    matches, iou = match_images(anchors, gt_boxes, real, partial(match_anchors, high_threshold=fg, low_threshold=bg,
                                                                 allow_low_quality_matches=True))
    positive = matches >= 0
    images, anchor_index = np.nonzero(positive)
    objects = matches[positive]
    class_target = np.zeros((n, a, classes))
    class_target[images, anchor_index, gt_labels[images, objects]] = 1.0
    matched_boxes = np.zeros((n, a, 4))
    matched_boxes[positive] = gt_boxes[images, objects]
    box_target = np.zeros((n, a, 4))
    if len(objects):
        box_target[positive] = encode_boxes(gt_boxes[images, objects], anchors[anchor_index], weights=weights)
    return RetinaNetTargets(matches, positive, matches != -2, class_target, matched_boxes, box_target,
                            positive.sum(axis=1), iou)


class _Settings(NamedTuple):
    alpha: Any
    gamma: float
    box_loss: str
    beta: float
    weights: tuple[float, ...]


def _assign(cls_logits: Any, bbox_regression: Any, anchors: Any, boxes: Any, labels: Any, *,
            fg_iou_thresh: Any = 0.5, bg_iou_thresh: Any = 0.4, alpha: Any = 0.25, gamma: Any = 2.0,
            box_loss: Any = "l1", beta: Any = 1.0, weights: Any = (1.0, 1.0, 1.0, 1.0)) -> tuple:
    """The checked head outputs, anchors, the matching and the settings of the terms."""
    cls_logits, bbox_regression, anchor_array, gt_boxes, gt_labels, real = _checked(
        cls_logits, bbox_regression, anchors, boxes, labels)
    settings = _Settings(None if alpha is None else ALPHA.check(alpha), GAMMA.check(gamma), BOX_LOSS.check(box_loss),
                         BETA.check(beta), _weights(weights))
    targets = _match(anchor_array, gt_boxes, gt_labels, real, np.shape(getval(cls_logits))[2],
                     FG_IOU_THRESH.check(fg_iou_thresh), BG_IOU_THRESH.check(bg_iou_thresh), settings.weights)
    return cls_logits, bbox_regression, anchor_array, targets, settings


def _image_weights(targets: RetinaNetTargets) -> np.ndarray:
    """1 / (N max(1, positives of the image)) per image: the per-image normalisation and the mean over images."""
    return 1.0 / (len(targets.num_positive) * np.maximum(1, targets.num_positive))


def _terms_with(cls_logits: Any, bbox_regression: Any, anchors: np.ndarray, targets: RetinaNetTargets,
                settings: _Settings, iou_loss: Any = None) -> dict[str, Any]:
    """The two terms at these head outputs with the matching ``targets`` held (autograd can trace the outputs);
    ``iou_loss`` replaces the IoU-family loss of the box term (the held forward's CIoU with its alpha held)."""
    per_image = _image_weights(targets)
    valid_images = np.nonzero(targets.valid)[0]
    focal = sigmoid_focal_loss(cls_logits[targets.valid], targets.class_target[targets.valid], reduction="none",
                               alpha=settings.alpha, gamma=settings.gamma)  # (valid anchors, C)  (R1)
    classification = anp.sum(per_image[valid_images] * anp.sum(focal, axis=1))  # (R2)

    positive_images, positive_anchors = np.nonzero(targets.positive)
    deltas = bbox_regression[targets.positive]  # (P, 4)
    if settings.box_loss == "l1":
        per_anchor = anp.sum(l1_loss(deltas, targets.box_target[targets.positive], reduction="none"), axis=1)  # (R3)
    elif settings.box_loss == "smooth_l1":
        per_anchor = anp.sum(smooth_l1_loss(deltas, targets.box_target[targets.positive], reduction="none",
                                            beta=settings.beta), axis=1)  # (R4)
    else:
        predicted = decode_boxes(deltas, anchors[positive_anchors], weights=settings.weights,
                                 clamp=BBOX_XFORM_CLIP)  # (R5)
        loss = IOU_LOSSES[settings.box_loss][0] if iou_loss is None else iou_loss
        per_anchor = loss(predicted, targets.matched_boxes[targets.positive], reduction="none", eps=IOU_EPS)  # (R6)
    bbox = anp.sum(per_image[positive_images] * per_anchor)  # (R7)
    return {"classification": classification, "bbox_regression": bbox}


def retinanet_loss(cls_logits: Any, bbox_regression: Any, anchors: Any, boxes: Any, labels: Any, *,
                   fg_iou_thresh: float = 0.5, bg_iou_thresh: float = 0.4, alpha: float | None = 0.25,
                   gamma: float = 2.0, box_loss: str = "l1", beta: float = 1.0,
                   weights: Any = (1.0, 1.0, 1.0, 1.0)) -> tuple[Any, dict]:
    r"""RetinaNet's training loss as torchvision computes it: the total and its two terms.

    Definition:
        With :func:`retinanet_targets`' matching of image n (positives :math:`\mathcal{P}_n`, anchors matched
        to an object; ignored anchors, in the band [bg_iou_thresh, fg_iou_thresh); the valid anchors
        :math:`\mathcal{V}_n`, all but the ignored), :math:`K_n = \max(1, |\mathcal{P}_n|)`, the logits
        :math:`x_{nac}`, the one-hot targets :math:`y_{nac}` (1 at the matched object's label), the sigmoid
        focal loss :math:`\mathrm{FL}` of :func:`sigmoid_focal_loss` (alpha, gamma), the deltas
        :math:`t_{na}` and, for a positive matched to the object box :math:`g`, its code
        :math:`\hat t_{na} = \mathrm{enc}(g, a)` (:func:`encode_boxes`):

        .. math::
            \ell_{cls} = \frac{1}{N} \sum_n \frac{1}{K_n} \sum_{a \in \mathcal{V}_n} \sum_{c=1}^{C}
                \mathrm{FL}(x_{nac}, y_{nac})  \qquad \text{(R2)}

            \ell_{box} = \frac{1}{N} \sum_n \frac{1}{K_n} \sum_{a \in \mathcal{P}_n} L(t_{na})
                \qquad \text{(R7)}

        with :math:`L(t) = \sum_k |t_k - \hat t_k|` (``box_loss="l1"``, R3), the Smooth L1 of the same
        residuals (``"smooth_l1"``, R4), or :math:`1 - \mathrm{GIoU}`, :math:`1 - \mathrm{DIoU}`,
        :math:`1 - \mathrm{CIoU}` (``"giou"``, ``"diou"``, ``"ciou"``, eps 1e-7, R6) of the decoded box
        :math:`\mathrm{dec}(t, a)` (:func:`decode_boxes`, clamp ln(1000/16), R5) against g. The total is
        :math:`\ell_{cls} + \ell_{box}`.

    Gradient:
        With respect to the head outputs, the matching held constant (it depends on the anchors and the ground
        truths only), with :math:`p = \sigma(x)` and the focal loss's own derivative (F4):

        .. math::
            \frac{\partial \ell}{\partial x_{nac}} = \frac{\bar\ell_{cls}}{N K_n}
                \frac{\partial \mathrm{FL}}{\partial x}(x_{nac}, y_{nac})\ \text{for}\ a \in \mathcal{V}_n,
            \qquad
            \frac{\partial \ell}{\partial t_{na}} = \frac{\bar\ell_{box}}{N K_n} \frac{\partial L}{\partial t}(t_{na})
                \ \text{for}\ a \in \mathcal{P}_n  \qquad \text{(R8)}

        and 0 elsewhere (an ignored anchor's logits, the deltas of every anchor that is not positive). For L1,
        :math:`\partial L / \partial t = \operatorname{sign}(t - \hat t)`; for Smooth L1,
        :math:`(t - \hat t)/\beta` inside the band and the sign outside; for the IoU losses, the loss's VJP
        w.r.t. the predicted box pulled back through the decoder (:func:`decode_boxes_vjp`): beyond the clamp
        (:math:`t_w / w_w \ge \ln(1000/16)`) the size delta has gradient 0. :math:`\bar\ell` is the cotangent
        of the term plus that of the total.
        Derivation: ``docs/derivations/retinanet_loss.md``.

    Conventions:
        Canonical: torchvision's ``RetinaNet.compute_loss`` and its heads' ``compute_loss``. Matching: each
        anchor takes the object of largest IoU (the lowest row on ties); at least fg_iou_thresh it is positive,
        below bg_iou_thresh negative, in between ignored; then every object claims its anchors of largest IoU
        (all of them on ties) even below the thresholds, each such anchor taking its own best object (which may
        be another one). Degenerate case, as torchvision: an object that overlaps no anchor has largest IoU 0,
        so every anchor with IoU 0 to it is restored: anchors that overlap nothing at all become positives of
        the first object of the image (row order, padding left out), and anchors that overlap some other object
        become positives of it, even in the ignore band or below it. An image with no objects has only
        negatives: its classification term is the focal loss of all its anchors against 0 (divided by 1) and
        its box term is 0. Each image is normalised by its own positives (at least 1), then the images are
        averaged: detectron2 and mmdetection divide by the positives of the whole batch instead. Alpha weights
        the positive target (alpha y + (1 - alpha)(1 - y)); alpha None or negative disables it. Ground truths
        must have positive width and height (their code is a log). NaN in an entry that enters a term
        propagates; ignored anchors' logits and non-positive deltas do not enter.

    Shapes:
        ``cls_logits``: (N, A, C); ``bbox_regression``: (N, A, 4) as torchvision's head outputs (the feature
        levels concatenated, anchors of a cell innermost); ``anchors``: (A, 4) shared by every image;
        ``boxes``: (N, M, 4); ``labels``: (N, M). Output: the total (a scalar) and the dict of the terms
        ``classification`` and ``bbox_regression``.

    Args:
        cls_logits: Raw classification logits (no sigmoid applied).
        bbox_regression: Raw box deltas (t_x, t_y, t_w, t_h).
        anchors: Anchors ``xyxy`` in image units, of positive width and height (they may cross the border).
        boxes: Ground truths ``xyxy`` in image units inside [0, 1], of positive size; -1-labelled rows are
            padding.
        labels: Class of each ground truth in [0, C) (its column of ``cls_logits``), -1 for padding.
        fg_iou_thresh: IoU from which an anchor is a positive (default 0.5).
        bg_iou_thresh: IoU below which an anchor is a negative (default 0.4).
        alpha: Focal loss weight of the positive targets (default 0.25; None or negative disables it).
        gamma: Focal loss exponent (default 2).
        box_loss: ``"l1"`` (default), ``"smooth_l1"``, ``"giou"``, ``"diou"`` or ``"ciou"``.
        beta: Smooth L1's beta (default 1; only for ``box_loss="smooth_l1"``).
        weights: The box coder's weights (default (1, 1, 1, 1)).

    Returns:
        ``(total, terms)``: float64 scalars.

    References:
        Lin, T.-Y., Goyal, P., Girshick, R., He, K., Dollár, P. "Focal Loss for Dense Object Detection",
        ICCV 2017: https://arxiv.org/abs/1708.02002.
        torchvision ``models/detection/retinanet.py``:
        https://github.com/pytorch/vision/blob/main/torchvision/models/detection/retinanet.py

    Examples:
        >>> anchors = [[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]
        >>> total, terms = retinanet_loss(np.zeros((1, 2, 1)), np.zeros((1, 2, 4)), anchors,
        ...                               [[[0.0, 0.0, 0.5, 0.5]]], [[0]])
        >>> round(float(terms["classification"]), 6), float(terms["bbox_regression"])  # 0.25 (.25 + .75) ln 2
        (0.173287, 0.0)
    """
    cls_logits, bbox_regression, anchor_array, targets, settings = _assign(
        cls_logits, bbox_regression, anchors, boxes, labels, fg_iou_thresh=fg_iou_thresh,
        bg_iou_thresh=bg_iou_thresh, alpha=alpha, gamma=gamma, box_loss=box_loss, beta=beta, weights=weights)
    terms = _terms_with(cls_logits, bbox_regression, anchor_array, targets, settings)
    return terms["classification"] + terms["bbox_regression"], terms


def retinanet_loss_vjp(grad_output: Any, cls_logits: Any, bbox_regression: Any, anchors: Any, boxes: Any,
                       labels: Any, *, fg_iou_thresh: float = 0.5, bg_iou_thresh: float = 0.4,
                       alpha: float | None = 0.25, gamma: float = 2.0, box_loss: str = "l1", beta: float = 1.0,
                       weights: Any = (1.0, 1.0, 1.0, 1.0)) -> tuple[np.ndarray, np.ndarray, None, None, None]:
    """Vector-Jacobian product of :func:`retinanet_loss` w.r.t. ``cls_logits`` and ``bbox_regression``, the
    matching held; None for the anchors and the ground truths.

    ``grad_output`` is the cotangent of the total (a scalar), or a mapping from ``"total"`` and term names to
    cotangents (missing ones are 0). See :func:`retinanet_loss`, "Gradient".
    """
    cls_logits, bbox_regression, anchor_array, targets, settings = _assign(
        cls_logits, bbox_regression, anchors, boxes, labels, fg_iou_thresh=fg_iou_thresh,
        bg_iou_thresh=bg_iou_thresh, alpha=alpha, gamma=gamma, box_loss=box_loss, beta=beta, weights=weights)
    g = term_cotangents(grad_output, TERMS)
    per_image = _image_weights(targets)

    valid = targets.valid
    row_scale = (g["classification"] * per_image[np.nonzero(valid)[0]])[:, None]  # (R8)
    focal_slope = sigmoid_focal_loss_vjp(np.ones(np.shape(cls_logits[valid])), cls_logits[valid],
                                         targets.class_target[valid], reduction="none", alpha=settings.alpha,
                                         gamma=settings.gamma)[0]
    grad_cls = np.zeros(np.shape(cls_logits))
    grad_cls[valid] = row_scale * focal_slope

    positive = targets.positive
    positive_images, positive_anchors = np.nonzero(positive)
    deltas = bbox_regression[positive]
    cotangent = np.broadcast_to((g["bbox_regression"] * per_image[positive_images])[:, None], deltas.shape)
    if settings.box_loss == "l1":
        rows = l1_loss_vjp(cotangent, deltas, targets.box_target[positive], reduction="none")[0]
    elif settings.box_loss == "smooth_l1":
        rows = smooth_l1_loss_vjp(cotangent, deltas, targets.box_target[positive], reduction="none",
                                  beta=settings.beta)[0]
    else:
        anchor_rows = anchor_array[positive_anchors]
        predicted = decode_boxes(deltas, anchor_rows, weights=settings.weights, clamp=BBOX_XFORM_CLIP)
        grad_predicted = IOU_LOSSES[settings.box_loss][1](cotangent[:, 0], predicted, targets.matched_boxes[positive],
                                                          reduction="none", eps=IOU_EPS)[0]
        rows = decode_boxes_vjp(grad_predicted, deltas, anchor_rows, weights=settings.weights,
                                clamp=BBOX_XFORM_CLIP)[0]
    grad_box = np.zeros(np.shape(bbox_regression))
    grad_box[positive] = rows
    return grad_cls, grad_box, None, None, None


def _held_forward(cls_logits: Any, bbox_regression: Any, anchors: Any, boxes: Any, labels: Any,
                  **params: Any) -> Any:
    """The loss with the matching held at its value at these inputs (it depends on the anchors and the ground
    truths only), and with ``box_loss="ciou"`` CIoU's alpha held too (the registry's held forward of ciou_loss)."""
    _, deltas, anchor_array, targets, settings = _assign(cls_logits, bbox_regression, anchors, boxes, labels,
                                                         **params)
    iou_loss = None
    if settings.box_loss == "ciou":
        predicted = decode_boxes(np.asarray(deltas)[targets.positive], anchor_array[np.nonzero(targets.positive)[1]],
                                 weights=settings.weights, clamp=BBOX_XFORM_CLIP)
        iou_loss = get("ciou_loss").held_forward(predicted, targets.matched_boxes[targets.positive],
                                                 reduction="none", eps=IOU_EPS)

    def retinanet_loss_with_matching_held(cls_logits: Any, bbox_regression: Any, *_: Any, **__: Any) -> tuple:
        terms = _terms_with(as_real_array(cls_logits, "cls_logits"), as_real_array(bbox_regression,
                                                                                  "bbox_regression"),
                            anchor_array, targets, settings, iou_loss)
        return terms["classification"] + terms["bbox_regression"], terms

    return retinanet_loss_with_matching_held


# ---- kinks: where the box term is not differentiable in the deltas -------------------------------------------------

def _positive_rows(cls_logits: Any, bbox_regression: Any, anchors: Any, boxes: Any, labels: Any,
                   params: dict) -> tuple:
    _, deltas, anchor_array, targets, settings = _assign(cls_logits, bbox_regression, anchors, boxes, labels,
                                                         **params)
    positive = targets.positive
    return np.asarray(deltas)[positive], anchor_array[np.nonzero(positive)[1]], targets, settings


def _residual_distance(*inputs: Any, **params: Any) -> np.ndarray:
    """L1 (and Smooth L1 with beta 0): |t - t_hat| of the positives; inf for the other box losses."""
    deltas, _, targets, settings = _positive_rows(*inputs, params)
    if settings.box_loss == "l1" or (settings.box_loss == "smooth_l1" and settings.beta == 0):
        return np.abs(deltas - targets.box_target[targets.positive])
    return np.full(1, np.inf)


def _beta_distance(*inputs: Any, **params: Any) -> np.ndarray:
    deltas, _, targets, settings = _positive_rows(*inputs, params)
    if settings.box_loss == "smooth_l1" and settings.beta > 0:
        return np.abs(np.abs(deltas - targets.box_target[targets.positive]) - settings.beta)
    return np.full(1, np.inf)


def _clamp_distance(*inputs: Any, **params: Any) -> np.ndarray:
    deltas, _, _, settings = _positive_rows(*inputs, params)
    if settings.box_loss in IOU_LOSSES:
        return np.abs(deltas[:, 2:] / np.asarray(settings.weights[2:]) - BBOX_XFORM_CLIP)
    return np.full(1, np.inf)


def _tie_distance(*inputs: Any, **params: Any) -> np.ndarray:
    deltas, anchor_rows, targets, settings = _positive_rows(*inputs, params)
    if settings.box_loss in IOU_LOSSES and len(deltas):
        predicted = decode_boxes(deltas, anchor_rows, weights=settings.weights, clamp=BBOX_XFORM_CLIP)
        return tie_distance(predicted, targets.matched_boxes[targets.positive])
    return np.full(1, np.inf)


INPUTS = (
    Input("cls_logits", "raw classification logits (N, A, C), the column of a class is its label",
          shape=("N", "A", "C")),
    Input("bbox_regression", "raw box deltas (N, A, 4) relative to the anchors", shape=("N", "A", "4")),
    Input("anchors", "anchors (A, 4), xyxy in image units, of positive size, shared by the images",
          shape=("A", "4"), kind="box", differentiable=False, sample=Interval(0.0, 1.0, True, True)),
    GROUND_TRUTH_BOXES, LABELS)

register(LossSpec(
    name="retinanet_loss", family="detectors", kind="detector", forward=retinanet_loss, vjp=retinanet_loss_vjp,
    inputs=INPUTS,
    params=(FG_IOU_THRESH, BG_IOU_THRESH, ALPHA, GAMMA, BOX_LOSS, BETA, WEIGHTS),
    terms=TERMS,
    smoothness="C-infinity in the logits; in the deltas piecewise linear (l1), C1 (smooth_l1, beta > 0), or "
               "piecewise smooth (giou, diou, ciou: ties of the boxes' coordinates, the decoder's clamp)",
    kinks=(
        Kink("box_loss='l1' (or smooth_l1 with beta 0): a positive's delta equals its target",
             "the derivative of |d| at 0 is 0 (sign(0)), as torch's l1_loss", _residual_distance),
        Kink("box_loss='smooth_l1': |t - t_hat| = beta", "the gradient is continuous there", _beta_distance,
             order=2),
        Kink("box_loss in giou/diou/ciou: a positive's size delta t_w / w_w (or t_h / w_h) = ln(1000/16), the "
             "decoder's clamp", "the derivative is 0 at and beyond the clamp (torch.clamp's backward)",
             _clamp_distance),
        Kink("box_loss in giou/diou/ciou: a coordinate of a decoded box equals one of its object on the same axis",
             "ties of max/min split the gradient equally (as the IoU losses)", _tie_distance),
    ),
    stop_gradients=("the matching of anchors to objects (positives, negatives, ignored anchors)",
                    "the number of positives of each image (the normaliser)", "the box targets",
                    "box_loss='ciou': CIoU's alpha (torchvision computes it under torch.no_grad)"),
    held_forward=_held_forward,
    equivalents=(Equivalent("torchvision", "refloss.adapters.detection.retinanet.retinanet_loss",
                            "torchvision's RetinaNet.compute_loss fed these inputs (its Matcher in the boxes' dtype); "
                            "alpha 0.25, gamma 2 and Smooth L1 beta 1 fixed"),),
    references=(Reference("Lin, Goyal, Girshick, He, Dollár. Focal Loss for Dense Object Detection. ICCV 2017",
                          "https://arxiv.org/abs/1708.02002"),
                Reference("torchvision, models/detection/retinanet.py",
                          "https://github.com/pytorch/vision/blob/main/torchvision/models/detection/retinanet.py")),
))
