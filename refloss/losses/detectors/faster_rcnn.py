"""Faster R-CNN's two training losses as torchvision computes them: the region proposal network's (anchor labelling,
balanced sampling, objectness BCE, box Smooth L1) and the box head's (RoI labelling with the ground truths appended
to the proposals, sampling, softmax cross-entropy, class-specific box Smooth L1), each with its target builder, its
sampler and its VJP w.r.t. the raw head outputs.

The labelling uses only the anchors or proposals and the ground truths, and the sample is an input: neither
depends on the head outputs, so the gradient holds them constant without approximating anything. The tags (R1),
(F1), ... refer to ``docs/derivations/rpn_loss.md`` and ``docs/derivations/fast_rcnn_loss.md``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple, Sequence

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from refloss._checks import as_array, as_real_array
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register
from refloss.boxes.coders import BOX_HEAD_WEIGHTS, RPN_WEIGHTS, encode_boxes
from refloss.boxes.matching import balanced_sample, match_anchors
from refloss.losses.classification.bce_with_logits import (binary_cross_entropy_with_logits,
                                                           binary_cross_entropy_with_logits_vjp)
from refloss.losses.classification.cross_entropy import cross_entropy, cross_entropy_vjp
from refloss.losses.detectors._scene import (GROUND_TRUTH_BOXES, as_ground_truths, as_reference_boxes, match_images,
                                             positive_integer, term_cotangents)
from refloss.losses.regression.smooth_l1 import smooth_l1_loss, smooth_l1_loss_vjp

__all__ = ["FastRcnnTargets", "RpnTargets", "fast_rcnn_loss", "fast_rcnn_loss_vjp", "fast_rcnn_sample",
           "fast_rcnn_targets", "rpn_loss", "rpn_loss_vjp", "rpn_sample", "rpn_targets"]

RPN_TERMS = ("objectness", "rpn_box_reg")
FAST_RCNN_TERMS = ("classifier", "box_reg")
POSITIVE_SIZE = "its box target ln(w / w_a) needs w > 0 (torchvision refuses such boxes: 'All bounding boxes should " \
                "have positive height and width')"
_NO_UPPER_LABEL = np.iinfo(np.int64).max  # the RPN is class-agnostic: any label >= 0 is an object

_UNIT = Interval(0.0, 1.0, True, True)
RPN_FG = Param("fg_iou_thresh", 0.7, _UNIT, "an anchor whose best IoU with an object is at least this is positive",
               grid=(0.7,))
RPN_BG = Param("bg_iou_thresh", 0.3, _UNIT, "an anchor whose best IoU with every object is below this is negative; "
               "in between it is ignored", grid=(0.3,))
HEAD_FG = Param("fg_iou_thresh", 0.5, _UNIT, "a RoI whose best IoU with an object of its image is at least this is "
                "foreground, with that object's class", grid=(0.5,))
HEAD_BG = Param("bg_iou_thresh", 0.5, _UNIT, "a RoI whose best IoU is below this is background; a RoI in between "
                "is refused (torchvision never samples it)", grid=(0.5,))
BETA = Param("beta", 1 / 9, Interval(0.0, math.inf, low_closed=True), "width of Smooth L1's quadratic zone "
             "(torchvision 1/9; py-faster-rcnn's box head and the Fast R-CNN paper 1)", grid=(1 / 9, 1.0))
RPN_WEIGHTS_PARAM = Param("weights", RPN_WEIGHTS, Interval(0.0, math.inf), "the box coder's (w_x, w_y, w_w, w_h)",
                          kind="tuple", grid=(RPN_WEIGHTS,))
HEAD_WEIGHTS_PARAM = Param("weights", BOX_HEAD_WEIGHTS, Interval(0.0, math.inf),
                           "the box coder's (w_x, w_y, w_w, w_h)", kind="tuple", grid=(BOX_HEAD_WEIGHTS,))
POSITIVE_FRACTION = Param("positive_fraction", 0.5, _UNIT, "largest share of positives in an image's sample")
BOX_WEIGHT = Param("box_weight", 1.0, Interval(0.0, math.inf, low_closed=True),
                   "factor on the box term (torchvision 1; the paper's lambda = 10)", grid=(1.0, 10.0))
BOX_NORMALIZER = Param("box_normalizer", None, Interval(0.0, math.inf),
                       "what the box term is divided by; None: the sample size |S| (torchvision); the paper: the "
                       "number of anchor locations", optional=True, grid=(None, 2400.0))


class RpnTargets(NamedTuple):
    """The RPN's anchor labelling (:func:`rpn_targets`), as plain arrays (N images, A anchors).

    Attributes:
        labels: (N, A) int64: 1 positive, 0 negative, -1 ignored (torchvision's float labels 1, 0, -1).
        matches: (N, A) int64: the row m of ``boxes`` a positive anchor is matched to; -1 below ``bg_iou_thresh``
            (negative), -2 between the thresholds (ignored); all -1 in an image with no objects.
        box_target: (N, A, 4): ``encode_boxes(boxes[n, m], anchor, weights)`` for positives; 0 elsewhere.
    """

    labels: np.ndarray
    matches: np.ndarray
    box_target: np.ndarray


class FastRcnnTargets(NamedTuple):
    """The box head's RoI labelling (:func:`fast_rcnn_targets`), as plain arrays (R RoIs).

    Attributes:
        labels: (R,) int64: the class of the matched object (foreground, >= 1), 0 background, -1 between the
            thresholds (torchvision's "ignored"; never in a sample).
        matches: (R,) int64: the row m of ``boxes`` (in the RoI's image) a foreground RoI is matched to; -1
            background, -2 between the thresholds; -1 for every RoI of an image with no objects.
        box_target: (R, 4): ``encode_boxes(boxes[n, m], proposal, weights)`` for foreground RoIs; 0 elsewhere.
    """

    labels: np.ndarray
    matches: np.ndarray
    box_target: np.ndarray


# ---- checks -----------------------------------------------------------------------------------------------------

def _thresholds(fg_param: Param, fg: Any, bg_param: Param, bg: Any) -> tuple[float, float]:
    fg, bg = fg_param.check(fg), bg_param.check(bg)
    if bg > fg:
        raise ValueError(f"bg_iou_thresh ({bg!r}) must not exceed fg_iou_thresh ({fg!r}) (torchvision's Matcher: "
                         "'low_threshold should be <= high_threshold')")
    return fg, bg


def _scene(boxes: Any, labels: Any, batch: int | None, num_classes: int | None,
           background_class: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked ground truths (see ``_scene.as_ground_truths``), with N >= 1 images. ``background_class``: label 0
    is the background and is refused for an object (Fast R-CNN); else any label >= 0 is an object (RPN)."""
    shape = np.shape(getval(as_real_array(boxes, "boxes")))
    if batch is None:
        batch = shape[0] if len(shape) == 3 else -1
    if batch == 0 or (len(shape) == 3 and shape[0] == 0):
        raise ValueError("boxes holds no images (N = 0): the batch is empty")
    label_array = as_array(labels, "labels")
    if label_array.dtype.kind in "iu" and label_array.ndim == 2:
        low = 1 if background_class else 0
        bad = (label_array < low) & (label_array != -1)
        if np.any(bad):
            n, m = (int(i) for i in np.argwhere(bad)[0])
            value = int(label_array[n, m])
            why = ("0 is the background class: objects are labelled 1 .. C - 1" if background_class and value == 0
                   else f"an object's label must be >= {low}")
            raise ValueError(f"labels[{n}, {m}] = {value}: {why}; -1 marks a padding row")
    return as_ground_truths(boxes, labels, batch, _NO_UPPER_LABEL if num_classes is None else num_classes,
                            positive_size=POSITIVE_SIZE)


def _weights(value: Any) -> tuple[float, ...]:
    """The coder's weights, checked by the coder itself on a unit box (so that a scene without positives, which
    encodes nothing, still refuses bad weights)."""
    encode_boxes([0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], weights=value)
    return tuple(float(w) for w in value)


def _head_output(value: Any, name: str, shape: tuple, layout: str) -> Any:
    """A raw head output as float64 (autograd's traced arrays pass through) of the given shape (None: any)."""
    array = as_real_array(value, name)
    got = np.shape(getval(array))
    if len(got) != len(shape) or any(s is not None and g != s for g, s in zip(got, shape)):
        raise ValueError(f"{name} must have shape ({layout}), got {got}")
    return array


# ---- the RPN ----------------------------------------------------------------------------------------------------

def _label_anchors(anchors: np.ndarray, boxes: np.ndarray, real: np.ndarray, fg: float, bg: float,
                   low_quality: bool) -> np.ndarray:
    """For each image, torchvision's ``Matcher`` on the IoU of its objects (rows) with the anchors (columns):
    matches (N, A) as rows of ``boxes`` (-1 below, -2 between)."""
    return match_images(anchors, boxes, real, partial(match_anchors, high_threshold=fg, low_threshold=bg,
                                                      allow_low_quality_matches=low_quality))[0]


def _box_targets(boxes: np.ndarray, references: np.ndarray, image: np.ndarray, matches: np.ndarray,
                 weights: tuple) -> np.ndarray:
    """encode_boxes(boxes[image, match], reference) where matched, 0 elsewhere; ``references`` (K, 4) with
    ``image`` and ``matches`` (K,)."""
    target = np.zeros(references.shape)
    matched = matches >= 0
    target[matched] = encode_boxes(boxes[image[matched], matches[matched]], references[matched], weights=weights)
    return target


def _rpn_assign(anchors: Any, boxes: Any, labels: Any, batch: int | None, fg_iou_thresh: Any, bg_iou_thresh: Any,
                weights: Any) -> tuple[np.ndarray, RpnTargets]:
    fg, bg = _thresholds(RPN_FG, fg_iou_thresh, RPN_BG, bg_iou_thresh)
    weights = _weights(weights)
    anchor_boxes = as_reference_boxes(anchors, "anchors", "A")
    if anchor_boxes.shape[0] == 0:
        raise ValueError("anchors holds no anchors (A = 0): there is nothing to label")
    gt_boxes, _, real = _scene(boxes, labels, batch, None, background_class=False)
    matches = _label_anchors(anchor_boxes, gt_boxes, real, fg, bg, low_quality=True)
    positive = matches >= 0
    anchor_labels = np.where(positive, 1, np.where(matches == -2, -1, 0)).astype(np.int64)  # (R1)
    n, a = matches.shape
    image = np.repeat(np.arange(n), a)
    target = _box_targets(gt_boxes, np.tile(anchor_boxes, (n, 1)), image, matches.ravel(), weights)
    return anchor_boxes, RpnTargets(anchor_labels, matches, target.reshape(n, a, 4))


def rpn_targets(anchors: Any, boxes: Any, labels: Any, *, fg_iou_thresh: float = 0.7, bg_iou_thresh: float = 0.3,
                weights: Any = RPN_WEIGHTS) -> RpnTargets:
    r"""The RPN's anchor labelling, as torchvision's ``RegionProposalNetwork.assign_targets_to_anchors``.

    For each image, :func:`refloss.boxes.matching.match_anchors` on the IoU of its objects with the anchors, with
    low-quality matches allowed: an anchor whose best IoU is at least ``fg_iou_thresh`` is positive (label 1),
    matched to its best object (the lowest row on ties); below ``bg_iou_thresh`` negative (0); in between ignored
    (-1). Then every anchor whose IoU with some object equals that object's largest IoU (ties included) is
    positive again, matched to its *own* best object. An object that overlaps no anchor at all has largest IoU 0,
    so this restores every anchor with IoU 0 to it, i.e. every anchor that overlaps no object of the image,
    matched to the image's first object: torchvision's behaviour, reproduced. An image with no objects (all rows
    padding) has every anchor negative. The box targets are ``encode_boxes(object, anchor, weights)``.

    Args:
        anchors: (A, 4) xyxy anchors shared by every image, of positive size; they may cross the border.
        boxes: (N, M, 4) ground truths, xyxy inside [0, 1], of positive size; rows labelled -1 are padding.
        labels: (N, M) int: any label >= 0 is an object (the RPN is class-agnostic), -1 padding.
        fg_iou_thresh, bg_iou_thresh, weights: As :func:`rpn_loss`.

    Returns:
        An :class:`RpnTargets` of plain NumPy arrays.
    """
    return _rpn_assign(anchors, boxes, labels, None, fg_iou_thresh, bg_iou_thresh, weights)[1]


def _generator(rng: Any) -> np.random.Generator | None:
    """None (deterministic), or one generator drawn from image by image in order (an int seed or a Generator)."""
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)):
        raise TypeError(f"rng must be None, an integer seed or a numpy.random.Generator, got {type(rng).__name__}")
    return np.random.default_rng(int(rng))


def _sample_images(labels: Sequence[np.ndarray], batch_size_per_image: Any, positive_fraction: Any,
                   rng: Any) -> list[np.ndarray]:
    size = positive_integer(batch_size_per_image, "batch_size_per_image")
    fraction = POSITIVE_FRACTION.check(positive_fraction)
    generator = _generator(rng)
    masks = []
    for image_labels in labels:
        positive, negative = balanced_sample(image_labels, batch_size_per_image=size, positive_fraction=fraction,
                                             rng=generator)
        masks.append(positive | negative)
    return masks


def rpn_sample(targets_or_labels: Any, *, batch_size_per_image: int = 256, positive_fraction: float = 0.5,
               rng: Any = None) -> np.ndarray:
    """The RPN's sample: torchvision's ``BalancedPositiveNegativeSampler`` on each image's anchor labels.

    Per image (:func:`refloss.boxes.matching.balanced_sample`): ``min(#positives, int(batch_size_per_image *
    positive_fraction))`` positives and then ``min(#negatives, batch_size_per_image - that)`` negatives; ignored
    anchors are never drawn. ``rng=None`` takes the first anchors in index order (deterministic); an integer
    seed or a ``numpy.random.Generator`` draws uniform subsets without replacement, image after image from one
    generator, so a seed reproduces the whole batch. torchvision draws with ``torch.randperm``: to reproduce one
    of its samples exactly, pass its masks to :func:`rpn_loss` as ``sampled``.

    Args:
        targets_or_labels: An :class:`RpnTargets`, or its ``labels`` (N, A) (1, 0, -1).
        batch_size_per_image: Anchors per image (default 256).
        positive_fraction: Largest share of positives (default 0.5).
        rng: None, an integer seed or a ``numpy.random.Generator``.

    Returns:
        (N, A) bool: the anchors in the sample.
    """
    labels = targets_or_labels.labels if isinstance(targets_or_labels, RpnTargets) else targets_or_labels
    labels = as_array(labels, "labels")
    if labels.ndim != 2 or labels.dtype.kind not in "iu" or not np.all(np.isin(labels, (-1, 0, 1))):
        raise ValueError(f"labels must be (N, A) integers 1 (positive), 0 (negative) or -1 (ignored), got "
                         f"{labels.dtype} array of shape {labels.shape}")
    masks = _sample_images(labels, batch_size_per_image, positive_fraction, rng)
    return np.stack(masks) if masks else np.zeros(labels.shape, dtype=bool)


def _sample_mask(sampled: Any, labels: np.ndarray, name: str, what: str) -> np.ndarray:
    """The explicit sample as a bool mask of ``labels``' shape, refusing a sampled entry labelled -1."""
    mask = as_array(sampled, name)
    if mask.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a 0/1 mask (bool, integer or float), got dtype {mask.dtype}")
    if mask.shape != labels.shape:
        raise ValueError(f"{name} must have shape {labels.shape} (one entry per {what}), got {mask.shape}")
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError(f"{name} must hold 0 or 1 (1 = in the sample), got {np.unique(mask).tolist()}")
    return mask.astype(bool)


def _rpn_prepare(objectness: Any, pred_bbox_deltas: Any, anchors: Any, boxes: Any, labels: Any, sampled: Any,
                 fg_iou_thresh: Any, bg_iou_thresh: Any, beta: Any, weights: Any, box_weight: Any,
                 box_normalizer: Any) -> tuple:
    """Checked head outputs, the labelling, the sample and its positives, and the checked settings."""
    objectness = _head_output(objectness, "objectness", (None, None), "N, A: one logit per anchor")
    n, a = np.shape(getval(objectness))
    if n == 0:
        raise ValueError("objectness holds no images (N = 0): the batch is empty")
    deltas = _head_output(pred_bbox_deltas, "pred_bbox_deltas", (n, a, 4),
                          f"N, A, 4 = {n}, {a}, 4 as objectness: (d_x, d_y, d_w, d_h) per anchor")
    anchor_count = as_reference_boxes(anchors, "anchors", "A").shape[0]
    if anchor_count != a:
        raise ValueError(f"anchors has {anchor_count} anchors but objectness and pred_bbox_deltas have A = {a} "
                         f"per image: head outputs are (N, A, ...) in the anchors' order")
    _, targets = _rpn_assign(anchors, boxes, labels, n, fg_iou_thresh, bg_iou_thresh, weights)
    sample = _sample_mask(sampled, targets.labels, "sampled", "anchor of each image: N, A")
    ignored = sample & (targets.labels == -1)
    if np.any(ignored):
        image, anchor = (int(i) for i in np.argwhere(ignored)[0])
        raise ValueError(f"sampled[{image}, {anchor}] is set, but anchor {anchor} of image {image} is ignored (its "
                         f"best IoU is in [bg_iou_thresh, fg_iou_thresh)): the sampler never draws an ignored "
                         f"anchor ({int(np.sum(ignored))} such anchor(s))")
    settings = (BETA.check(beta), BOX_WEIGHT.check(box_weight), BOX_NORMALIZER.check(box_normalizer))
    return objectness, deltas, targets, sample, sample & (targets.labels == 1), settings


def _rpn_terms(objectness: Any, deltas: Any, targets: RpnTargets, sample: np.ndarray, positive: np.ndarray,
               beta: float, box_weight: float, box_normalizer: float | None) -> dict[str, Any]:
    """The two terms with the labelling and the sample held (autograd can trace the head outputs)."""
    count = int(np.count_nonzero(sample))
    if count == 0:  # an empty sample: both terms 0 (torchvision: NaN, a mean over nothing)
        return {"objectness": np.float64(0.0), "rpn_box_reg": np.float64(0.0)}
    target = targets.labels[sample].astype(np.float64)
    objectness_term = binary_cross_entropy_with_logits(objectness[sample], target, reduction="sum") / count  # (R2)
    box_sum = smooth_l1_loss(deltas[positive], targets.box_target[positive], reduction="sum", beta=beta)
    box_term = box_weight * box_sum / (count if box_normalizer is None else box_normalizer)  # (R3)
    return {"objectness": objectness_term, "rpn_box_reg": box_term}


def rpn_loss(objectness: Any, pred_bbox_deltas: Any, anchors: Any, boxes: Any, labels: Any, sampled: Any, *,
             fg_iou_thresh: float = 0.7, bg_iou_thresh: float = 0.3, beta: float = 1 / 9,
             weights: Any = RPN_WEIGHTS, box_weight: float = 1.0,
             box_normalizer: float | None = None) -> tuple[Any, dict]:
    r"""The region proposal network's training loss (Faster R-CNN), as torchvision computes it: total and terms.

    Definition:
        With :func:`rpn_targets`' labels :math:`y_i \in \{1, 0, -1\}` and box targets :math:`t_i`, the sample
        :math:`S` (the anchors marked in ``sampled``, over the whole batch; never an ignored one) and its positives
        :math:`S^+`, logits :math:`o_i`, deltas :math:`d_i`, and :math:`\mathrm{BCE}(o, y) = y
        \operatorname{softplus}(-o) + (1 - y)\operatorname{softplus}(o)`,

        .. math::
            \ell_{obj} = \frac{1}{|S|} \sum_{i \in S} \mathrm{BCE}(o_i, y_i)  \qquad \text{(R2)}

            \ell_{box} = \frac{\lambda}{D} \sum_{i \in S^+} \sum_{k=1}^{4}
                \operatorname{smoothL1}_\beta(d_{ik} - t_{ik}), \quad D = |S|\ \text{by default}
            \qquad \text{(R3)}

        with :math:`\lambda` = ``box_weight`` and :math:`D` = ``box_normalizer`` if given. The box term is summed
        over the sampled positives but divided by the whole sample, not by :math:`|S^+|`. The total is
        :math:`\ell_{obj} + \ell_{box}`; the terms are named as torchvision's ``loss_objectness`` and
        ``loss_rpn_box_reg`` without ``loss_``.

    Gradient:
        With the labelling and the sample held (they do not depend on the head outputs),

        .. math::
            \frac{\partial \ell}{\partial o_i} = \frac{g_{obj}}{|S|}(\sigma(o_i) - y_i)\ (i \in S), \qquad
            \frac{\partial \ell}{\partial d_{ik}} = \frac{g_{box} \lambda}{D}
                \operatorname{smoothL1}_\beta'(d_{ik} - t_{ik})\ (i \in S^+)  \qquad \text{(R4, R5)}

        with :math:`\operatorname{smoothL1}_\beta'(r) = r / \beta` for :math:`|r| < \beta`, else
        :math:`\operatorname{sign}(r)`, and 0 for every other entry. :math:`g` is each term's cotangent (its own
        plus the total's). Derivation: ``docs/derivations/rpn_loss.md``.

    Conventions:
        Canonical: torchvision's ``RegionProposalNetwork`` (``assign_targets_to_anchors`` and ``compute_loss``):
        IoU thresholds 0.7 / 0.3 with low-quality matches (see :func:`rpn_targets` for the labelling, including
        the degenerate case of an object that overlaps no anchor, reproduced), sigmoid BCE, box coder weights
        (1, 1, 1, 1), continuous widths, Smooth L1 with beta = 1/9, both terms over the sample size.
        Sampling is not done here: ``sampled`` is the sample, an input like the labels, from :func:`rpn_sample`
        (deterministic, or a seeded generator) or from any sampler (torchvision's masks, to compare). A sampled
        ignored anchor is an error. An empty sample gives both terms 0 (torchvision gives NaN: a mean over no
        anchors, and 0 / 0). Anchors are not dropped at the image border (py-faster-rcnn drops them: clip them
        out of ``anchors`` to follow it). Named variant: the paper's normalisation is ``box_weight=10,
        box_normalizer=`` the number of anchor locations (about 2400); py-faster-rcnn's softmax-2 objectness and
        +1 widths are recorded in the derivation page, not offered. NaN in a sampled output propagates.

    Shapes:
        ``objectness``: (N, A); ``pred_bbox_deltas``: (N, A, 4), both in the anchors' order (torchvision's
        ``concat_box_prediction_layers`` order); ``anchors``: (A, 4), shared by the images; ``boxes``: (N, M, 4);
        ``labels``: (N, M); ``sampled``: (N, A). Output: the total (a scalar) and a dict of the terms
        ``objectness`` and ``rpn_box_reg``.

    Args:
        objectness: Raw objectness logits.
        pred_bbox_deltas: Raw box deltas :math:`(d_x, d_y, d_w, d_h)`.
        anchors: Anchors, xyxy, of positive size, in the image units of ``boxes`` (pixels / image size).
        boxes: Ground truths, xyxy inside [0, 1], of positive size; -1-labelled rows are padding.
        labels: Any label >= 0 marks an object (class-agnostic), -1 padding.
        sampled: Bool or 0/1 mask of the sampled anchors.
        fg_iou_thresh: IoU from which an anchor is positive (default 0.7).
        bg_iou_thresh: IoU below which an anchor is negative (default 0.3).
        beta: Smooth L1's beta (default 1/9).
        weights: Box coder weights (default (1, 1, 1, 1)).
        box_weight: :math:`\lambda` (default 1).
        box_normalizer: :math:`D`, or None for :math:`|S|` (default).

    Returns:
        ``(total, terms)``: float64 scalars.

    References:
        Ren, S., He, K., Girshick, R., Sun, J. "Faster R-CNN", NeurIPS 2015, eq. (1):
        https://arxiv.org/abs/1506.01497.
        torchvision ``models/detection/rpn.py``:
        https://github.com/pytorch/vision/blob/main/torchvision/models/detection/rpn.py
        py-faster-rcnn ``lib/rpn/anchor_target_layer.py``:
        https://github.com/rbgirshick/py-faster-rcnn/blob/master/lib/rpn/anchor_target_layer.py

    Examples:
        One object equal to anchor 0 (positive, target 0); anchor 1 far away (negative); both sampled, all
        outputs 0: objectness = (ln 2 + ln 2) / 2, no box loss.

        >>> anchors = [[0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]]
        >>> total, terms = rpn_loss(np.zeros((1, 2)), np.zeros((1, 2, 4)), anchors, [[[0.1, 0.1, 0.5, 0.5]]],
        ...                         [[0]], [[1, 1]])
        >>> round(float(terms["objectness"]), 6), float(terms["rpn_box_reg"])
        (0.693147, 0.0)
    """
    objectness, deltas, targets, sample, positive, settings = _rpn_prepare(
        objectness, pred_bbox_deltas, anchors, boxes, labels, sampled, fg_iou_thresh, bg_iou_thresh, beta, weights,
        box_weight, box_normalizer)
    terms = _rpn_terms(objectness, deltas, targets, sample, positive, *settings)
    return terms["objectness"] + terms["rpn_box_reg"], terms


def rpn_loss_vjp(grad_output: Any, objectness: Any, pred_bbox_deltas: Any, anchors: Any, boxes: Any, labels: Any,
                 sampled: Any, *, fg_iou_thresh: float = 0.7, bg_iou_thresh: float = 0.3, beta: float = 1 / 9,
                 weights: Any = RPN_WEIGHTS, box_weight: float = 1.0,
                 box_normalizer: float | None = None) -> tuple[np.ndarray, np.ndarray, None, None, None, None]:
    """Vector-Jacobian product of :func:`rpn_loss` w.r.t. ``objectness`` and ``pred_bbox_deltas``; None for the
    anchors, ground truths and sample (constants).

    ``grad_output`` is the cotangent of the total (a scalar), or a mapping from ``"total"`` and term names to
    cotangents (missing ones are 0). See :func:`rpn_loss`, "Gradient".
    """
    objectness, deltas, targets, sample, positive, (beta, box_weight, box_normalizer) = _rpn_prepare(
        objectness, pred_bbox_deltas, anchors, boxes, labels, sampled, fg_iou_thresh, bg_iou_thresh, beta, weights,
        box_weight, box_normalizer)
    g = term_cotangents(grad_output, RPN_TERMS)
    grad_objectness, grad_deltas = np.zeros_like(objectness), np.zeros_like(deltas)
    count = int(np.count_nonzero(sample))
    if count == 0:
        return grad_objectness, grad_deltas, None, None, None, None
    target = targets.labels[sample].astype(np.float64)
    grad_objectness[sample] = binary_cross_entropy_with_logits_vjp(  # (R4)
        g["objectness"] / count, objectness[sample], target, reduction="sum")[0]
    scale = g["rpn_box_reg"] * box_weight / (count if box_normalizer is None else box_normalizer)
    grad_deltas[positive] = smooth_l1_loss_vjp(scale, deltas[positive], targets.box_target[positive],  # (R5)
                                               reduction="sum", beta=beta)[0]
    return grad_objectness, grad_deltas, None, None, None, None


def _rpn_held_forward(objectness: Any, pred_bbox_deltas: Any, anchors: Any, boxes: Any, labels: Any, sampled: Any,
                      **params: Any) -> Any:
    """The loss with the labelling and the sample held at their values here (they depend on the anchors, the
    ground truths and ``sampled`` only, so this is the loss itself on these constants)."""
    objectness, deltas, targets, sample, positive, settings = _rpn_prepare(objectness, pred_bbox_deltas, anchors,
                                                                           boxes, labels, sampled, **_rpn(params))

    def rpn_loss_with_labelling_held(objectness: Any, pred_bbox_deltas: Any, *_: Any, **__: Any) -> tuple:
        terms = _rpn_terms(as_real_array(objectness, "objectness"), as_real_array(pred_bbox_deltas,
                                                                                   "pred_bbox_deltas"),
                           targets, sample, positive, *settings)
        return terms["objectness"] + terms["rpn_box_reg"], terms

    return rpn_loss_with_labelling_held


def _rpn(params: dict) -> dict:
    """rpn_loss's keywords in _rpn_prepare's positional order, with the defaults."""
    defaults = {"fg_iou_thresh": 0.7, "bg_iou_thresh": 0.3, "beta": 1 / 9, "weights": RPN_WEIGHTS,
                "box_weight": 1.0, "box_normalizer": None}
    unknown = set(params) - set(defaults)
    if unknown:
        raise TypeError(f"rpn_loss got unexpected keyword argument(s) {sorted(unknown)}")
    return {**defaults, **params}


def _smooth_l1_kink(values: np.ndarray, targets: np.ndarray, beta: float) -> np.ndarray:
    return np.abs(np.abs(values - targets) - beta)


def _rpn_kink_distance(objectness: Any, pred_bbox_deltas: Any, anchors: Any, boxes: Any, labels: Any, sampled: Any,
                       **params: Any) -> np.ndarray:
    _, deltas, targets, _, positive, (beta, _, _) = _rpn_prepare(objectness, pred_bbox_deltas, anchors, boxes,
                                                                 labels, sampled, **_rpn(params))
    return _smooth_l1_kink(deltas[positive], targets.box_target[positive], beta)


_ANCHORS = Input("anchors", "anchors (A, 4), xyxy in image units, of positive size, shared by every image",
                 shape=("A", "4"), kind="box", differentiable=False, sample=Interval(-0.1, 1.1, True, True))
_RPN_LABELS = Input("labels", "ground-truth labels (N, M): any label >= 0 is an object (class-agnostic), -1 padding",
                    shape=("N", "M"), kind="int", differentiable=False, classes="C")
_SAMPLED = Input("sampled", "the sample (N, A): 1 (or True) for a sampled anchor; never an ignored anchor",
                 shape=("N", "A"), kind="int", differentiable=False, choices=(0.0, 1.0))
_SMOOTH_L1_KINK = "Smooth L1's second derivative jumps at |d - t| = beta; the gradient is continuous there"
_STOPPED = ("the labelling and matching: a function of the anchors (or proposals) and the ground truths only, "
            "not of the head outputs, so holding it approximates nothing",
            "the sample: an input (sampled, or the RoIs chosen by fast_rcnn_sample), not a function of the head "
            "outputs")

register(LossSpec(
    name="rpn_loss", family="detectors", kind="detector", forward=rpn_loss, vjp=rpn_loss_vjp,
    inputs=(Input("objectness", "raw objectness logits (N, A), in the anchors' order", shape=("N", "A")),
            Input("pred_bbox_deltas", "raw box deltas (N, A, 4), in the anchors' order", shape=("N", "A", "4")),
            _ANCHORS, GROUND_TRUTH_BOXES, _RPN_LABELS, _SAMPLED),
    params=(RPN_FG, RPN_BG, BETA, RPN_WEIGHTS_PARAM, BOX_WEIGHT, BOX_NORMALIZER),
    terms=RPN_TERMS,
    smoothness="C-infinity in objectness; C1 in pred_bbox_deltas (Smooth L1) for beta > 0",
    kinks=(Kink("a sampled positive's |d - t| = beta", _SMOOTH_L1_KINK, _rpn_kink_distance, order=2),),
    stop_gradients=_STOPPED,
    held_forward=_rpn_held_forward,
    equivalents=(Equivalent("torchvision", "refloss.adapters.detection.faster_rcnn.rpn_loss",
                            "torchvision's RegionProposalNetwork (labelling, encoding, compute_loss) fed this sample; "
                            "an empty sample gives NaN; beta fixed at 1/9; its objectness term is float32 (float32 "
                            "anchor labels) even for float64 logits"),),
    references=(Reference("Ren, He, Girshick, Sun. Faster R-CNN: Towards Real-Time Object Detection with Region "
                          "Proposal Networks. NeurIPS 2015", "https://arxiv.org/abs/1506.01497"),
                Reference("Girshick. Fast R-CNN. ICCV 2015 (Smooth L1)", "https://arxiv.org/abs/1504.08083"),
                Reference("torchvision, models/detection/rpn.py",
                          "https://github.com/pytorch/vision/blob/main/torchvision/models/detection/rpn.py"),
                Reference("rbgirshick/py-faster-rcnn, lib/rpn/anchor_target_layer.py",
                          "https://github.com/rbgirshick/py-faster-rcnn/blob/master/lib/rpn/anchor_target_layer.py")),
))


# ---- the box head (Fast R-CNN) ------------------------------------------------------------------------------------

def _proposal_images(value: Any, count: int, batch: int) -> np.ndarray:
    images = as_array(value, "proposal_images")
    if images.dtype.kind not in "iu":
        raise TypeError(f"proposal_images must hold integer image indices, got dtype {images.dtype}")
    if images.shape != (count,):
        raise ValueError(f"proposal_images must have shape (R,) = ({count},) (one image per RoI), got {images.shape}")
    outside = (images < 0) | (images >= batch)
    if np.any(outside):
        r = int(np.argmax(outside))
        raise ValueError(f"proposal_images[{r}] = {int(images[r])} is outside [0, N) = [0, {batch}) (N images in "
                         "boxes)")
    return images.astype(np.int64)


def _roi_assign(proposals: Any, proposal_images: Any, boxes: Any, labels: Any, num_classes: int | None,
                fg_iou_thresh: Any, bg_iou_thresh: Any, weights: Any) -> tuple[np.ndarray, np.ndarray,
                                                                                 FastRcnnTargets]:
    fg, bg = _thresholds(HEAD_FG, fg_iou_thresh, HEAD_BG, bg_iou_thresh)
    weights = _weights(weights)
    gt_boxes, gt_labels, real = _scene(boxes, labels, None, num_classes, background_class=True)
    rois = as_reference_boxes(proposals, "proposals", "R")
    images = _proposal_images(proposal_images, rois.shape[0], gt_boxes.shape[0])
    matches = np.full(rois.shape[0], -1, dtype=np.int64)
    for n in np.unique(images):
        mine = images == n
        matches[mine] = _label_anchors(rois[mine], gt_boxes[n:n + 1], real[n:n + 1], fg, bg, low_quality=False)[0]
    roi_labels = np.where(matches >= 0, gt_labels[images, np.maximum(matches, 0)], np.where(matches == -2, -1, 0))
    target = _box_targets(gt_boxes, rois, images, matches, weights)
    return rois, images, FastRcnnTargets(roi_labels.astype(np.int64), matches, target)


def fast_rcnn_targets(proposals: Any, proposal_images: Any, boxes: Any, labels: Any, *, fg_iou_thresh: float = 0.5,
                      bg_iou_thresh: float = 0.5, weights: Any = BOX_HEAD_WEIGHTS) -> FastRcnnTargets:
    r"""The box head's RoI labelling, as torchvision's ``RoIHeads.assign_targets_to_proposals``.

    For each RoI, :func:`refloss.boxes.matching.match_anchors` on the IoU of its image's objects with its image's
    RoIs, without low-quality matches: best IoU at least ``fg_iou_thresh``: foreground, labelled with the class
    of its best object (the lowest row on ties); below ``bg_iou_thresh``: background (0); in between: -1
    (empty with torchvision's 0.5 / 0.5). An image with no objects has every RoI background. Box targets:
    ``encode_boxes(object, proposal, weights)``.

    Args:
        proposals: (R, 4) xyxy RoIs of positive size, of all images.
        proposal_images: (R,) int: the image of each RoI, in [0, N).
        boxes: (N, M, 4) ground truths, xyxy inside [0, 1], of positive size; rows labelled -1 are padding.
        labels: (N, M) int: object classes >= 1 (0 is the background), -1 padding.
        fg_iou_thresh, bg_iou_thresh, weights: As :func:`fast_rcnn_loss`.

    Returns:
        A :class:`FastRcnnTargets` of plain NumPy arrays.
    """
    return _roi_assign(proposals, proposal_images, boxes, labels, None, fg_iou_thresh, bg_iou_thresh, weights)[2]


def fast_rcnn_sample(proposals_per_image: Sequence[Any], boxes: Any, labels: Any, *, fg_iou_thresh: float = 0.5,
                     bg_iou_thresh: float = 0.5, batch_size_per_image: int = 512, positive_fraction: float = 0.25,
                     rng: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The box head's RoI sample, as torchvision's ``RoIHeads.select_training_samples``.

    For each image: its objects' boxes are appended to its proposals (``add_gt_proposals``), the whole is
    labelled (:func:`fast_rcnn_targets`), and :func:`refloss.boxes.matching.balanced_sample` draws up to
    ``int(batch_size_per_image * positive_fraction)`` foreground RoIs and fills up with background ones (RoIs
    labelled -1 are never drawn). The sampled RoIs are returned in index order, foreground and background
    mixed, as torchvision's ``torch.where(pos | neg)`` gives them, images one after another. ``rng``: None
    (the first RoIs in index order), an integer seed or a ``numpy.random.Generator`` (one generator, image
    after image).

    Args:
        proposals_per_image: N arrays (R_n, 4) of xyxy proposals of positive size (R_n may be 0).
        boxes: (N, M, 4) ground truths; rows labelled -1 are padding (not appended).
        labels: (N, M) int: classes >= 1, -1 padding.
        fg_iou_thresh, bg_iou_thresh: As :func:`fast_rcnn_loss`.
        batch_size_per_image: RoIs per image (default 512).
        positive_fraction: Largest share of foreground RoIs (default 0.25).
        rng: None, an integer seed or a ``numpy.random.Generator``.

    Returns:
        ``(proposals, proposal_images)``: (R, 4) float64 and (R,) int64, the inputs of :func:`fast_rcnn_loss`.
    """
    gt_boxes, _, real = _scene(boxes, labels, None, None, background_class=True)
    if isinstance(proposals_per_image, np.ndarray) and proposals_per_image.ndim != 3:
        raise ValueError("proposals_per_image must be a sequence of N arrays (R_n, 4), one per image")
    if len(proposals_per_image) != gt_boxes.shape[0]:
        raise ValueError(f"proposals_per_image has {len(proposals_per_image)} entries but boxes has N = "
                         f"{gt_boxes.shape[0]} images: one array of proposals per image")
    candidates, images = [], []
    for n, image_proposals in enumerate(proposals_per_image):
        image_proposals = np.asarray(image_proposals, dtype=np.float64).reshape(-1, 4) if np.size(
            image_proposals) == 0 else as_reference_boxes(image_proposals, f"proposals_per_image[{n}]", "R_n")
        candidates.append(np.concatenate([image_proposals, gt_boxes[n][real[n]]]))  # add_gt_proposals
        images.append(np.full(len(candidates[-1]), n, dtype=np.int64))
    rois, roi_images = np.concatenate(candidates), np.concatenate(images)
    targets = _roi_assign(rois, roi_images, boxes, labels, None, fg_iou_thresh, bg_iou_thresh, BOX_HEAD_WEIGHTS)[2]
    masks = _sample_images([targets.labels[roi_images == n] for n in range(len(candidates))], batch_size_per_image,
                           positive_fraction, rng)
    keep = np.concatenate(masks) if masks else np.zeros(0, dtype=bool)
    return rois[keep], roi_images[keep]


def _fast_rcnn_prepare(class_logits: Any, box_regression: Any, proposals: Any, proposal_images: Any, boxes: Any,
                       labels: Any, fg_iou_thresh: Any, bg_iou_thresh: Any, beta: Any, weights: Any) -> tuple:
    class_logits = _head_output(class_logits, "class_logits", (None, None), "R, C: background in column 0")
    r, c = np.shape(getval(class_logits))
    if c == 0:
        raise ValueError("class_logits has no columns (C = 0): column 0 is the background class")
    box_regression = _head_output(box_regression, "box_regression", (r, None),
                                  f"R, 4 C = {r}, {4 * c}: class k's deltas in columns 4k .. 4k + 3")
    if np.shape(getval(box_regression))[1] != 4 * c:
        raise ValueError(f"box_regression has {np.shape(getval(box_regression))[1]} columns but class_logits has "
                         f"C = {c} classes: box_regression must have 4 C = {4 * c} (class k in columns 4k .. 4k + 3)")
    rois, _, targets = _roi_assign(proposals, proposal_images, boxes, labels, c, fg_iou_thresh, bg_iou_thresh,
                                   weights)
    if rois.shape[0] != r:
        raise ValueError(f"proposals has {rois.shape[0]} RoIs but class_logits and box_regression have R = {r} rows: "
                         "one row per sampled RoI, in the same order")
    between = targets.labels == -1
    if np.any(between):
        k = int(np.argmax(between))
        raise ValueError(f"proposals[{k}] = {rois[k].tolist()} has its best IoU in [bg_iou_thresh, fg_iou_thresh): "
                         "torchvision labels it -1 and never samples it")
    return class_logits, box_regression, targets, BETA.check(beta)


def _fast_rcnn_terms(class_logits: Any, box_regression: Any, targets: FastRcnnTargets, beta: float) -> dict[str, Any]:
    rois = np.shape(getval(class_logits))[0]
    if rois == 0:  # an empty sample: both terms 0 (torchvision: NaN, a mean over no RoIs, and 0 / 0)
        return {"classifier": np.float64(0.0), "box_reg": np.float64(0.0)}
    classifier = cross_entropy(class_logits, targets.labels, reduction="sum") / rois  # (F2)
    foreground = np.flatnonzero(targets.labels > 0)
    deltas = anp.reshape(box_regression, (rois, -1, 4))[foreground, targets.labels[foreground]]  # class y's columns
    box_reg = smooth_l1_loss(deltas, targets.box_target[foreground], reduction="sum", beta=beta) / rois  # (F3)
    return {"classifier": classifier, "box_reg": box_reg}


def fast_rcnn_loss(class_logits: Any, box_regression: Any, proposals: Any, proposal_images: Any, boxes: Any,
                   labels: Any, *, fg_iou_thresh: float = 0.5, bg_iou_thresh: float = 0.5, beta: float = 1 / 9,
                   weights: Any = BOX_HEAD_WEIGHTS) -> tuple[Any, dict]:
    r"""Faster R-CNN's box head loss (Fast R-CNN), as torchvision's ``fastrcnn_loss`` computes it: total and terms.

    Definition:
        Over the R sampled RoIs of the batch, with :func:`fast_rcnn_targets`' labels :math:`y_r` (0 background)
        and box targets :math:`t_r`, logits :math:`z_r` (C columns) and class-specific deltas :math:`b_{r,k}`
        (columns :math:`4k .. 4k + 3` of ``box_regression``),

        .. math::
            \ell_{cls} = \frac{1}{R} \sum_{r} -\operatorname{log\_softmax}(z_r)_{y_r}  \qquad \text{(F2)}

            \ell_{box} = \frac{1}{R} \sum_{r : y_r \ge 1} \sum_{k=1}^{4}
                \operatorname{smoothL1}_\beta(b_{r, y_r, k} - t_{r,k})  \qquad \text{(F3)}

        The box term reads only the columns of the RoI's own class, and is divided by all R RoIs, not by the
        foreground ones. The total is :math:`\ell_{cls} + \ell_{box}` (torchvision's ``loss_classifier`` and
        ``loss_box_reg``).

    Gradient:
        With the labelling and the sample held (they do not depend on the head outputs), :math:`p_r =
        \operatorname{softmax}(z_r)`,

        .. math::
            \frac{\partial \ell}{\partial z_{r,c}} = \frac{g_{cls}}{R}(p_{r,c} - [c = y_r]), \qquad
            \frac{\partial \ell}{\partial b_{r,y_r,k}} = \frac{g_{box}}{R}
                \operatorname{smoothL1}_\beta'(b_{r,y_r,k} - t_{r,k})\ (y_r \ge 1)  \qquad \text{(F4, F5)}

        and 0 for the other classes' columns and for background rows of ``box_regression``. :math:`g` is each
        term's cotangent (its own plus the total's). Derivation: ``docs/derivations/fast_rcnn_loss.md``.

    Conventions:
        Canonical: torchvision's ``RoIHeads`` (``select_training_samples``, ``fastrcnn_loss``): IoU 0.5 / 0.5
        without low-quality matches, no ignore band, box coder weights (10, 10, 5, 5), Smooth L1 with beta =
        1/9. The RoIs are the sample (from :func:`fast_rcnn_sample`, which appends the ground truths to the
        proposals and samples 512 per image with 25% foreground, or from any sampler); a RoI whose best IoU is in
        [bg_iou_thresh, fg_iou_thresh) is refused. Labels use torchvision's numbering: column 0 is the
        background, objects are 1 .. C - 1 (label 0 is an error). An empty sample (R = 0) gives both terms 0
        (torchvision: NaN). Named variants (derivation page): py-faster-rcnn and the Fast R-CNN paper use
        ``beta=1`` and a background band [0.1, 0.5) (py-faster-rcnn end2end [0, 0.5)), 128 RoIs with 32
        foreground; a lower bound on the background is a filter on the proposals before sampling.

    Shapes:
        ``class_logits``: (R, C); ``box_regression``: (R, 4 C); ``proposals``: (R, 4); ``proposal_images``:
        (R,); ``boxes``: (N, M, 4); ``labels``: (N, M). Output: the total (a scalar) and a dict of the terms
        ``classifier`` and ``box_reg``.

    Args:
        class_logits: Raw class logits of the sampled RoIs.
        box_regression: Raw class-specific box deltas.
        proposals: The sampled RoIs, xyxy of positive size, in image units.
        proposal_images: The image (in [0, N)) of each RoI.
        boxes: Ground truths, xyxy inside [0, 1], of positive size; -1-labelled rows are padding.
        labels: Object classes in [1, C), -1 padding.
        fg_iou_thresh: IoU from which a RoI is foreground (default 0.5).
        bg_iou_thresh: IoU below which a RoI is background (default 0.5).
        beta: Smooth L1's beta (default 1/9).
        weights: Box coder weights (default (10, 10, 5, 5)).

    Returns:
        ``(total, terms)``: float64 scalars.

    References:
        Girshick, R. "Fast R-CNN", ICCV 2015, eq. (1)-(3): https://arxiv.org/abs/1504.08083.
        Ren, S. et al. "Faster R-CNN", NeurIPS 2015: https://arxiv.org/abs/1506.01497.
        torchvision ``models/detection/roi_heads.py``:
        https://github.com/pytorch/vision/blob/main/torchvision/models/detection/roi_heads.py
        py-faster-rcnn ``lib/roi_data_layer/minibatch.py``, ``lib/rpn/proposal_target_layer.py``:
        https://github.com/rbgirshick/py-faster-rcnn

    Examples:
        One RoI equal to the object (class 1, target 0) and one background RoI; logits 0 over C = 2 classes:
        classifier = (ln 2 + ln 2) / 2; deltas 0 give no box loss.

        >>> total, terms = fast_rcnn_loss(np.zeros((2, 2)), np.zeros((2, 8)),
        ...                               [[0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]], [0, 0],
        ...                               [[[0.1, 0.1, 0.5, 0.5]]], [[1]])
        >>> round(float(terms["classifier"]), 6), float(terms["box_reg"])
        (0.693147, 0.0)
    """
    class_logits, box_regression, targets, beta = _fast_rcnn_prepare(
        class_logits, box_regression, proposals, proposal_images, boxes, labels, fg_iou_thresh, bg_iou_thresh, beta,
        weights)
    terms = _fast_rcnn_terms(class_logits, box_regression, targets, beta)
    return terms["classifier"] + terms["box_reg"], terms


def fast_rcnn_loss_vjp(grad_output: Any, class_logits: Any, box_regression: Any, proposals: Any,
                       proposal_images: Any, boxes: Any, labels: Any, *, fg_iou_thresh: float = 0.5,
                       bg_iou_thresh: float = 0.5, beta: float = 1 / 9,
                       weights: Any = BOX_HEAD_WEIGHTS) -> tuple[np.ndarray, np.ndarray, None, None, None, None]:
    """Vector-Jacobian product of :func:`fast_rcnn_loss` w.r.t. ``class_logits`` and ``box_regression``; None for
    the RoIs, their images and the ground truths (constants).

    ``grad_output`` is the cotangent of the total (a scalar), or a mapping from ``"total"`` and term names to
    cotangents (missing ones are 0). See :func:`fast_rcnn_loss`, "Gradient".
    """
    class_logits, box_regression, targets, beta = _fast_rcnn_prepare(
        class_logits, box_regression, proposals, proposal_images, boxes, labels, fg_iou_thresh, bg_iou_thresh, beta,
        weights)
    g = term_cotangents(grad_output, FAST_RCNN_TERMS)
    rois, classes = class_logits.shape
    grad_logits, grad_regression = np.zeros_like(class_logits), np.zeros((rois, classes, 4))
    if rois == 0:
        return grad_logits, grad_regression.reshape(0, 4 * classes), None, None, None, None
    grad_logits = cross_entropy_vjp(g["classifier"] / rois, class_logits, targets.labels, reduction="sum")[0]  # (F4)
    foreground = np.flatnonzero(targets.labels > 0)
    own_class = targets.labels[foreground]
    grad_regression[foreground, own_class] = smooth_l1_loss_vjp(  # (F5)
        g["box_reg"] / rois, box_regression.reshape(rois, classes, 4)[foreground, own_class],
        targets.box_target[foreground], reduction="sum", beta=beta)[0]
    return grad_logits, grad_regression.reshape(rois, 4 * classes), None, None, None, None


def _fast_rcnn(params: dict) -> dict:
    defaults = {"fg_iou_thresh": 0.5, "bg_iou_thresh": 0.5, "beta": 1 / 9, "weights": BOX_HEAD_WEIGHTS}
    unknown = set(params) - set(defaults)
    if unknown:
        raise TypeError(f"fast_rcnn_loss got unexpected keyword argument(s) {sorted(unknown)}")
    return {**defaults, **params}


def _fast_rcnn_held_forward(class_logits: Any, box_regression: Any, proposals: Any, proposal_images: Any,
                            boxes: Any, labels: Any, **params: Any) -> Any:
    """The loss with the labelling held at its value here (it depends on the RoIs and the ground truths only, so
    this is the loss itself on these constants)."""
    _, _, targets, beta = _fast_rcnn_prepare(class_logits, box_regression, proposals, proposal_images, boxes,
                                             labels, **_fast_rcnn(params))

    def fast_rcnn_loss_with_labelling_held(class_logits: Any, box_regression: Any, *_: Any, **__: Any) -> tuple:
        terms = _fast_rcnn_terms(as_real_array(class_logits, "class_logits"),
                                 as_real_array(box_regression, "box_regression"), targets, beta)
        return terms["classifier"] + terms["box_reg"], terms

    return fast_rcnn_loss_with_labelling_held


def _fast_rcnn_kink_distance(class_logits: Any, box_regression: Any, proposals: Any, proposal_images: Any,
                             boxes: Any, labels: Any, **params: Any) -> np.ndarray:
    logits, regression, targets, beta = _fast_rcnn_prepare(class_logits, box_regression, proposals,
                                                           proposal_images, boxes, labels, **_fast_rcnn(params))
    foreground = np.flatnonzero(targets.labels > 0)
    own = regression.reshape(logits.shape[0], logits.shape[1], 4)[foreground, targets.labels[foreground]]
    return _smooth_l1_kink(own, targets.box_target[foreground], beta)


register(LossSpec(
    name="fast_rcnn_loss", family="detectors", kind="detector", forward=fast_rcnn_loss, vjp=fast_rcnn_loss_vjp,
    inputs=(Input("class_logits", "raw class logits (R, C) of the sampled RoIs, column 0 the background",
                  shape=("R", "C")),
            Input("box_regression", "raw class-specific box deltas (R, 4 C), class k in columns 4k .. 4k + 3",
                  shape=("R", "4C")),
            Input("proposals", "the sampled RoIs (R, 4), xyxy in image units, of positive size", shape=("R", "4"),
                  kind="box", differentiable=False, sample=Interval(0.0, 1.0, True, True)),
            Input("proposal_images", "the image of each RoI (R,), in [0, N)", shape=("R",), kind="int",
                  differentiable=False, classes="N"),
            GROUND_TRUTH_BOXES,
            Input("labels", "ground-truth classes (N, M) in [1, C) (0 is the background), -1 padding",
                  shape=("N", "M"), kind="int", differentiable=False, classes="C")),
    params=(HEAD_FG, HEAD_BG, BETA, HEAD_WEIGHTS_PARAM),
    terms=FAST_RCNN_TERMS,
    smoothness="C-infinity in class_logits; C1 in box_regression (Smooth L1) for beta > 0",
    kinks=(Kink("a foreground RoI's |b - t| = beta in its class's columns", _SMOOTH_L1_KINK,
                _fast_rcnn_kink_distance, order=2),),
    stop_gradients=_STOPPED,
    held_forward=_fast_rcnn_held_forward,
    equivalents=(Equivalent("torchvision", "refloss.adapters.detection.faster_rcnn.fast_rcnn_loss",
                            "torchvision's RoIHeads.select_training_samples (labelling, encoding) on these RoIs and "
                            "roi_heads.fastrcnn_loss; no RoIs gives NaN; beta fixed at 1/9"),),
    references=(Reference("Girshick. Fast R-CNN. ICCV 2015", "https://arxiv.org/abs/1504.08083"),
                Reference("Ren, He, Girshick, Sun. Faster R-CNN: Towards Real-Time Object Detection with Region "
                          "Proposal Networks. NeurIPS 2015", "https://arxiv.org/abs/1506.01497"),
                Reference("torchvision, models/detection/roi_heads.py",
                          "https://github.com/pytorch/vision/blob/main/torchvision/models/detection/roi_heads.py"),
                Reference("rbgirshick/py-faster-rcnn, lib/rpn/proposal_target_layer.py",
                          "https://github.com/rbgirshick/py-faster-rcnn/blob/master/lib/rpn/proposal_target_layer.py")),
))
