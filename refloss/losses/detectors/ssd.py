"""SSD's MultiBox training loss as torchvision's ``SSD.compute_loss`` computes it: its target builder (prior
matching and hard negative mining), the loss with its two terms, and the VJP w.r.t. the raw head outputs with the
matching and the mining held constant."""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from refloss._checks import as_real_array
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register
from refloss.activations import log_softmax, log_softmax_vjp
from refloss.boxes.coders import SSD_VARIANCES, VARIANCES, encode_ssd_boxes
from refloss.boxes.matching import hard_negatives, match_priors
from refloss.losses.detectors._scene import (GROUND_TRUTH_BOXES, as_ground_truths, as_reference_boxes, match_images,
                                             term_cotangents)
from refloss.losses.regression.smooth_l1 import smooth_l1_loss, smooth_l1_loss_vjp

__all__ = ["SsdTargets", "ssd_loss", "ssd_loss_vjp", "ssd_targets"]

TERMS = ("bbox_regression", "classification")
BACKGROUND = 0  # column 0 of the class logits, and the class target of every prior that is not positive


class SsdTargets(NamedTuple):
    """What :func:`ssd_targets` assigns, as plain arrays (N images, P priors, M ground-truth rows).

    Attributes:
        matches: (N, P) int: the row m of ``boxes`` each prior is matched to; -1 for background (every prior of
            an image with no objects).
        positive: (N, P) bool: matched priors (``matches >= 0``): box term and cross-entropy against the label.
        negative: (N, P) bool: the mined hard negatives: cross-entropy against the background.
        box_target: (N, P, 4): the matched ground truth encoded against the prior (:func:`encode_ssd_boxes`);
            0 where not positive.
        class_target: (N, P) int: the matched ground truth's label for positives, 0 (background) elsewhere.
    """

    matches: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    box_target: np.ndarray
    class_target: np.ndarray


IOU_THRESHOLD = Param("iou_threshold", 0.5, Interval(0.0, 1.0, True, True),
                      "a prior whose best IoU with a ground truth is at least this is matched to it (the code's "
                      ">= 0.5; the paper says > 0.5)", grid=(0.5,))
NEG_TO_POS_RATIO = Param("neg_to_pos_ratio", 3, Interval(0, math.inf, True),
                         "hard negatives mined per positive of the image, a non-negative integer (torchvision: "
                         "(1 - positive_fraction) / positive_fraction = 3)", kind="integer", grid=(3, 1))
BETA = Param("beta", 1.0, Interval(0.0, math.inf, True),
             "width of the Smooth L1 quadratic zone on the box offsets (1 in SSD; 0 gives L1)", grid=(1.0,))


def _checked(bbox_regression: Any, cls_logits: Any, anchors: Any, boxes: Any,
             labels: Any) -> tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The checked head outputs (autograd's traced arrays pass through), priors, ground truths and real mask."""
    bbox_regression = as_real_array(bbox_regression, "bbox_regression")
    cls_logits = as_real_array(cls_logits, "cls_logits")
    priors = as_reference_boxes(anchors, "anchors", "P")  # the priors, shared by every image
    p = priors.shape[0]
    box_shape, logit_shape = np.shape(getval(bbox_regression)), np.shape(getval(cls_logits))
    if len(box_shape) != 3 or box_shape[1:] != (p, 4):
        raise ValueError(f"bbox_regression must have shape (N, P, 4) with P = {p} priors (as anchors), "
                         f"got {box_shape}")
    if len(logit_shape) != 3 or logit_shape[:2] != box_shape[:2]:
        raise ValueError(f"cls_logits must have shape (N, P, C) with (N, P) = {box_shape[:2]} (as bbox_regression), "
                         f"got {logit_shape}")
    if box_shape[0] == 0:
        raise ValueError("bbox_regression holds no images (N = 0): there is no batch to normalise")
    num_classes = logit_shape[2]
    if num_classes < 2:
        raise ValueError(f"cls_logits must have C >= 2 columns (column 0 is the background, then the object "
                         f"classes), got C = {num_classes}")
    gt_boxes, gt_labels, real = as_ground_truths(
        boxes, labels, box_shape[0], num_classes, positive_size="the width and height targets are their logarithms")
    background = real & (gt_labels == BACKGROUND)
    if np.any(background):
        n, m = (int(i) for i in np.argwhere(background)[0])
        raise ValueError(f"labels[{n}, {m}] = 0, but 0 is the background class: object labels must be in "
                         f"[1, {num_classes}) (-1 marks a padding row)")
    return bbox_regression, cls_logits, priors, gt_boxes, gt_labels, real


def _assign(bbox_regression: Any, cls_logits: Any, anchors: Any, boxes: Any, labels: Any, *,
            iou_threshold: Any = 0.5, neg_to_pos_ratio: Any = 3,
            variances: Any = SSD_VARIANCES) -> tuple[Any, Any, SsdTargets]:
    """The checked head outputs and :func:`ssd_targets`' matching and mining."""
    bbox_regression, cls_logits, priors, gt_boxes, gt_labels, real = _checked(
        bbox_regression, cls_logits, anchors, boxes, labels)
    iou_threshold = IOU_THRESHOLD.check(iou_threshold)
    n, p = np.shape(getval(bbox_regression))[:2]

    box_target = np.zeros((n, p, 4))
    class_target = np.zeros((n, p), dtype=np.int64)
    matches = match_images(priors, gt_boxes, real, partial(match_priors, threshold=iou_threshold))[0]
    positive = matches >= 0
    object_rows = matches[positive]
    images = np.nonzero(positive)[0]
    # encode_ssd_boxes also checks the variances (even with no positive at all)
    box_target[positive] = encode_ssd_boxes(gt_boxes[images, object_rows], priors[np.nonzero(positive)[1]],
                                            variances=variances)
    class_target[positive] = gt_labels[images, object_rows]

    # Mining ranks the background cross-entropy -log softmax(z)[0] of the priors that are not positive.
    background_loss = -np.asarray(log_softmax(np.asarray(getval(cls_logits), dtype=np.float64), -1))[..., BACKGROUND]
    negative = hard_negatives(background_loss, positive, neg_to_pos_ratio=neg_to_pos_ratio)  # (checks the ratio)
    return bbox_regression, cls_logits, SsdTargets(matches, positive, negative, box_target, class_target)


def ssd_targets(bbox_regression: Any, cls_logits: Any, anchors: Any, boxes: Any, labels: Any, *,
                iou_threshold: float = 0.5, neg_to_pos_ratio: int = 3,
                variances: Any = SSD_VARIANCES) -> SsdTargets:
    """SSD's matching of priors to ground truths and its hard negative mining (see :func:`ssd_loss`).

    Per image: the IoU matrix of its objects (padding rows skipped) against the priors goes through
    :func:`refloss.boxes.matching.match_priors` (IoU >= ``iou_threshold``, then each object's best prior forced to
    it, a later object winning a shared best prior); positives get their object's label and encoded box. The
    mining (:func:`refloss.boxes.matching.hard_negatives`) keeps, among the priors that are not positive, the
    k = min(ratio x positives of the image, candidates) with the largest background cross-entropy, ties to the
    lower prior index. The head outputs are only read for the mining (``bbox_regression`` only for its shape).

    Args:
        bbox_regression: Box head output (N, P, 4); see :func:`ssd_loss`.
        cls_logits: Class head output (N, P, C), column 0 the background.
        anchors: Priors (P, 4), ``xyxy``, of positive size.
        boxes: Ground truths (N, M, 4), ``xyxy`` in image units, of positive size; rows labelled -1 are padding.
        labels: Classes (N, M) in [1, C), -1 for padding.
        iou_threshold, neg_to_pos_ratio, variances: As :func:`ssd_loss`.

    Returns:
        An :class:`SsdTargets` of plain NumPy arrays.
    """
    return _assign(bbox_regression, cls_logits, anchors, boxes, labels, iou_threshold=iou_threshold,
                   neg_to_pos_ratio=neg_to_pos_ratio, variances=variances)[2]


def _terms_with(bbox_regression: Any, cls_logits: Any, targets: SsdTargets, beta: float) -> dict[str, Any]:
    """The two terms at these head outputs with the matching and the mining ``targets`` held (autograd can trace
    both outputs)."""
    positive, chosen = targets.positive, targets.positive | targets.negative
    normaliser = max(1, int(np.sum(positive)))  # N_pos over the batch, at least 1
    box = smooth_l1_loss(bbox_regression[positive], targets.box_target[positive], reduction="sum", beta=beta)  # (S2)
    log_p = log_softmax(cls_logits[chosen], -1)  # (K, C): positives and mined negatives  (S3)
    picked = np.arange(np.sum(chosen)), targets.class_target[chosen]
    cls = -anp.sum(log_p[picked])
    return {"bbox_regression": box / normaliser, "classification": cls / normaliser}


def ssd_loss(bbox_regression: Any, cls_logits: Any, anchors: Any, boxes: Any, labels: Any, *,
             iou_threshold: float = 0.5, neg_to_pos_ratio: int = 3, variances: Any = SSD_VARIANCES,
             beta: float = 1.0) -> tuple[Any, dict]:
    r"""SSD's MultiBox training loss as torchvision's ``SSD.compute_loss`` computes it: its total and two terms.

    Definition:
        With :func:`ssd_targets`' positives :math:`\mathrm{Pos}` (prior :math:`i` matched to an object of label
        :math:`y_i` and encoded box :math:`\hat g_i`), mined negatives :math:`\mathrm{Neg}`, the box offsets
        :math:`l_i` and class logits :math:`z_i` of prior :math:`i`, and :math:`N_{pos} = |\mathrm{Pos}|` over
        the whole batch:

        .. math::
            \mathrm{CE}(z, y) = \log\sum_c e^{z_c} - z_y = -\log\operatorname{softmax}(z)_y  \qquad \text{(S1)}

            \ell_{bbox} = \frac{1}{\max(1, N_{pos})}\sum_{i \in Pos}\sum_{m=1}^{4}
                \operatorname{smoothL1}_\beta(l_i^m - \hat g_i^m)  \qquad \text{(S2)}

            \ell_{cls} = \frac{1}{\max(1, N_{pos})}\Big[\sum_{i \in Pos}\mathrm{CE}(z_i, y_i)
                + \sum_{i \in Neg}\mathrm{CE}(z_i, 0)\Big]  \qquad \text{(S3)}

        The total is :math:`\ell_{bbox} + \ell_{cls}` (the paper's :math:`\alpha = 1`). The mining scores each
        prior that is not positive by its background cross-entropy :math:`\mathrm{CE}(z_i, 0)` and keeps, per
        image, the :math:`k = \min(r \cdot \mathrm{pos}_{img}, \text{candidates})` largest (S5).

    Gradient:
        With respect to the head outputs, the matching, the mining and :math:`N_{pos}` held constant, and
        :math:`D = \max(1, N_{pos})`:

        .. math::
            \frac{\partial \ell_{bbox}}{\partial l_i^m} = \frac{1}{D}\operatorname{smoothL1}_\beta'(l_i^m -
                \hat g_i^m), \quad
            \frac{\partial \ell_{cls}}{\partial z_i} = \frac{1}{D}(\operatorname{softmax}(z_i) - e_{t_i})
                \qquad \text{(S6)}

        with :math:`\operatorname{smoothL1}_\beta'(d) = d / \beta` for :math:`|d| < \beta`, else
        :math:`\operatorname{sign}(d)`; on positives (:math:`t_i = y_i`; the box part only there) and mined
        negatives (:math:`t_i = 0`), 0 for every other prior. Each term's part is multiplied by the cotangent of
        that term (plus that of the total). Derivation: ``docs/derivations/ssd_loss.md``.

    Conventions:
        Canonical: torchvision's ``SSD.compute_loss`` with its ``SSDMatcher`` (IoU >= 0.5, then each object's
        best prior forced to it), variances (0.1, 0.2) (its ``BoxCoder`` weights (10, 10, 5, 5)), Smooth L1 with
        beta 1 summed, softmax cross-entropy, 3:1 mining, both terms divided by :math:`\max(1, N_{pos})` over the
        batch. Where torchvision leaves the result unspecified refloss decides: ties of the argmax over priors
        (an object's best prior) go to the lower prior index, and a prior that is the best of two objects goes
        to the later object (ground-truth order); mining ties go to the lower prior index, NaN ranking above every
        number; k is clamped to the candidates (torchvision's unclamped k counts positives a second time, as
        negatives, when :math:`r \cdot pos > ` candidates). An image with no objects has no positives and no
        negatives; a batch with no positives gives 0 for both terms. An object whose best IoU is below the
        threshold is still positive at its best prior (forced), even at IoU 0 (then at prior 0). Labels are
        torchvision's: column 0 of the logits is the background, object labels are in [1, C) (0 is refused).
        Variants (Caffe's greedy bipartite matching, ssd.pytorch's k <= P - 1 and no guard on
        :math:`N_{pos} = 0`, the paper's > 0.5) are described in the derivation page.

    Shapes:
        ``bbox_regression``: (N, P, 4); ``cls_logits``: (N, P, C); ``anchors``: (P, 4), shared by every image;
        ``boxes``: (N, M, 4); ``labels``: (N, M). Output: the total (a scalar) and a dict of the terms
        ``bbox_regression``, ``classification``.

    Args:
        bbox_regression: Box offsets :math:`(l_{cx}, l_{cy}, l_w, l_h)` per prior (the regression head's output).
        cls_logits: Class logits per prior, column 0 the background (the classification head's output).
        anchors: The priors (default boxes), ``xyxy`` in image units, of positive width and height.
        boxes: Ground truths, ``xyxy`` in image units inside [0, 1], of positive size; -1-labelled rows are
            padding.
        labels: Class of each ground truth in [1, C), or -1 for padding.
        iou_threshold: IoU from which a prior is matched (default 0.5, inclusive).
        neg_to_pos_ratio: Negatives mined per positive (default 3).
        variances: :math:`(v_c, v_s)` of the box encoding (default (0.1, 0.2)).
        beta: Smooth L1's quadratic zone (default 1).

    Returns:
        ``(total, terms)``: float64 scalars.

    References:
        Liu, W. et al. "SSD: Single Shot MultiBox Detector", ECCV 2016, eq. (1) to (3):
        https://arxiv.org/abs/1512.02325
        torchvision ``models/detection/ssd.py`` (``SSD.compute_loss``) and ``_utils.py`` (``SSDMatcher``):
        https://github.com/pytorch/vision/blob/main/torchvision/models/detection/ssd.py
        Caffe SSD ``src/caffe/layers/multibox_loss_layer.cpp``:
        https://github.com/weiliu89/caffe/blob/ssd/src/caffe/layers/multibox_loss_layer.cpp
        amdegroot ssd.pytorch ``layers/modules/multibox_loss.py``:
        https://github.com/amdegroot/ssd.pytorch/blob/master/layers/modules/multibox_loss.py

    Examples:
        >>> anchors = [[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]
        >>> total, terms = ssd_loss(np.zeros((1, 2, 4)), np.zeros((1, 2, 2)), anchors, [[[0.0, 0.0, 0.5, 0.5]]],
        ...                         [[1]])
        >>> round(float(terms["bbox_regression"]), 4), round(float(terms["classification"]), 4)
        (0.0, 1.3863)
    """
    beta = BETA.check(beta)
    bbox_regression, cls_logits, targets = _assign(bbox_regression, cls_logits, anchors, boxes, labels,
                                                   iou_threshold=iou_threshold, neg_to_pos_ratio=neg_to_pos_ratio,
                                                   variances=variances)
    terms = _terms_with(bbox_regression, cls_logits, targets, beta)
    return terms["bbox_regression"] + terms["classification"], terms


def ssd_loss_vjp(grad_output: Any, bbox_regression: Any, cls_logits: Any, anchors: Any, boxes: Any, labels: Any,
                 *, iou_threshold: float = 0.5, neg_to_pos_ratio: int = 3, variances: Any = SSD_VARIANCES,
                 beta: float = 1.0) -> tuple[np.ndarray, np.ndarray, None, None, None]:
    """Vector-Jacobian product of :func:`ssd_loss` w.r.t. ``(bbox_regression, cls_logits)``, the matching, the
    mining and the number of positives held; None for the priors and the ground truths.

    ``grad_output`` is the cotangent of the total (a scalar), or a mapping from ``"total"`` and term names to
    cotangents (missing ones are 0). See :func:`ssd_loss`, "Gradient".
    """
    beta = BETA.check(beta)
    bbox_regression, cls_logits, targets = _assign(bbox_regression, cls_logits, anchors, boxes, labels,
                                                   iou_threshold=iou_threshold, neg_to_pos_ratio=neg_to_pos_ratio,
                                                   variances=variances)
    positive, chosen = targets.positive, targets.positive | targets.negative
    normaliser = max(1, int(np.sum(positive)))
    g = {name: value / normaliser for name, value in term_cotangents(grad_output, TERMS).items()}

    box_grad = np.zeros_like(bbox_regression)
    box_grad[positive] = smooth_l1_loss_vjp(g["bbox_regression"], bbox_regression[positive],
                                            targets.box_target[positive], reduction="sum", beta=beta)[0]  # (S6)
    # -sum log softmax(z)[t] over the chosen priors: the cotangent of log_softmax is -g at column t, 0 elsewhere
    logits = cls_logits[chosen]
    upstream = np.zeros_like(logits)
    upstream[np.arange(len(logits)), targets.class_target[chosen]] = -g["classification"]
    cls_grad = np.zeros_like(cls_logits)
    cls_grad[chosen] = log_softmax_vjp(upstream, logits, -1)  # g (softmax(z) - e_t)  (S6)
    return box_grad, cls_grad, None, None, None


def _held_forward(bbox_regression: Any, cls_logits: Any, anchors: Any, boxes: Any, labels: Any, *,
                  beta: float = 1.0, **params: Any) -> Any:
    """The loss with the matching, the mining and N_pos held at their values at these inputs."""
    targets = _assign(bbox_regression, cls_logits, anchors, boxes, labels, **params)[2]
    beta = BETA.check(beta)

    def ssd_loss_with_matching_and_mining_held(bbox_regression: Any, cls_logits: Any, *_: Any, **__: Any) -> tuple:
        terms = _terms_with(as_real_array(bbox_regression, "bbox_regression"),
                            as_real_array(cls_logits, "cls_logits"), targets, beta)
        return terms["bbox_regression"] + terms["classification"], terms

    return ssd_loss_with_matching_and_mining_held


def _residual_distance_to_kink(bbox_regression: Any, cls_logits: Any, anchors: Any, boxes: Any, labels: Any, *,
                               beta: float = 1.0, **params: Any) -> np.ndarray:
    """How far each positive's offset residual is from Smooth L1's kink (|d| = beta; d = 0 for beta = 0); inf for
    the offsets of the other priors, which enter no term."""
    targets = _assign(bbox_regression, cls_logits, anchors, boxes, labels, **params)[2]
    d = np.abs(np.asarray(bbox_regression, dtype=np.float64) - targets.box_target)
    return np.where(targets.positive[..., None], np.abs(d - beta), np.inf)


INPUTS = (
    Input("bbox_regression", "box offsets (N, P, 4) per prior, (l_cx, l_cy, l_w, l_h) divided by the variances",
          shape=("N", "P", "4")),
    Input("cls_logits", "class logits (N, P, C) per prior; column 0 is the background", shape=("N", "P", "C")),
    Input("anchors", "the priors (P, 4), xyxy in image units, of positive size, shared by every image",
          shape=("P", "4"), kind="box", differentiable=False, sample=Interval(0.0, 1.0, True, True)),
    GROUND_TRUTH_BOXES,
    Input("labels", "class of each ground truth (N, M), in [1, C) (0 is the background); -1 marks a padding row",
          shape=("N", "M"), kind="int", differentiable=False, classes="C"),
)

register(LossSpec(
    name="ssd_loss", family="detectors", kind="detector", forward=ssd_loss, vjp=ssd_loss_vjp, inputs=INPUTS,
    params=(IOU_THRESHOLD, NEG_TO_POS_RATIO, VARIANCES, BETA),
    terms=TERMS,
    kinks=(Kink("a positive's offset residual at |l - g_hat| = beta (beta > 0), or at 0 (beta = 0)",
                "Smooth L1's: the gradient is continuous at |d| = beta (d / beta = sign(d)); sign(0) = 0 for beta = 0",
                _residual_distance_to_kink, order=2),),
    smoothness="C1 in the box offsets for beta > 0 (Smooth L1's second derivative jumps at |d| = beta), "
               "C-infinity in the logits, wherever the matching and the mining do not change",
    stop_gradients=("the matching of priors to ground truths (from IoU; independent of the outputs)",
                    "the hard negative mining (ranked on the logits)",
                    "the normaliser max(1, N_pos)"),
    held_forward=_held_forward,
    equivalents=(Equivalent("torchvision", "refloss.adapters.detection.ssd.ssd_loss",
                            "torchvision's SSD.compute_loss fed these inputs; its mining k is not clamped (positives "
                            "counted twice when 3 N_pos exceeds the negatives), its ties unspecified; no beta"),),
    references=(Reference("Liu et al. SSD: Single Shot MultiBox Detector. ECCV 2016",
                          "https://arxiv.org/abs/1512.02325"),
                Reference("torchvision, models/detection/ssd.py (SSD.compute_loss) and _utils.py (SSDMatcher)",
                          "https://github.com/pytorch/vision/blob/main/torchvision/models/detection/ssd.py"),
                Reference("weiliu89/caffe (ssd), src/caffe/layers/multibox_loss_layer.cpp",
                          "https://github.com/weiliu89/caffe/blob/ssd/src/caffe/layers/multibox_loss_layer.cpp"),
                Reference("amdegroot/ssd.pytorch, layers/modules/multibox_loss.py",
                          "https://github.com/amdegroot/ssd.pytorch/blob/master/layers/modules/multibox_loss.py")),
))
