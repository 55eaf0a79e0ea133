"""Oracles of the anchor-based detector losses: ssd_loss, retinanet_loss, rpn_loss and fast_rcnn_loss.

Written from the binding contract (``/work/notes/issue10_api.md``), ``/work/shared/research/detectors.md`` sections
3 and 4 and torchvision's detection code (``Matcher``, ``SSDMatcher``, ``BoxCoder``, the heads' ``compute_loss``,
``fastrcnn_loss``), never from refloss's NumPy code, which they exist to check. Nothing here imports
refloss.losses, refloss.boxes or refloss.activations.

Each oracle first takes every decision on exact values (IoUs in mpmath at the working precision):

* matching: torchvision's ``Matcher`` (the best ground truth per anchor, the lowest index on ties; below the low
  threshold background, in [low, high) ignored; with low-quality matches every anchor whose IoU with some ground
  truth equals that ground truth's largest IoU, ties included, gets back its own best ground truth) and
  ``SSDMatcher`` (threshold 0.5, then each ground truth's best prior, the lowest index on ties, forced to it in
  ground-truth order, so a later ground truth wins a shared prior);
* SSD's hard negative mining: per image, the k = min(ratio * positives, candidates) non-positive priors with the
  largest exact background cross-entropy (ties to the lower prior index, NaN above every number);
* the RPN's sample is an input (``sampled``), Fast R-CNN's RoIs are the sampled ones (``proposal_images`` says
  whose they are).

then builds the :class:`~refloss.conformance.oracle.detectors._Group` records of the terms: softmax cross-entropy
over a row of C logits (SSD, Fast R-CNN), BCE with logits (RPN), sigmoid focal loss (RetinaNet), Smooth L1 or L1
of one delta against its encoded target, and for RetinaNet's ``box_loss`` giou, diou or ciou the IoU loss of the
box decoded from four deltas (torchvision's ``decode_single``: deltas divided by the weights, the size codes
clamped from above at ln(1000/16)) against the matched ground truth. The elementwise and row formulas and their
standard algorithms are the ones of the elementwise oracles (classification, tensor, boxes); the box targets are
computed as Bounds (exact value, float64 error bound of the standard computation).

Normalisations: SSD's terms over max(1, N_pos) of the batch; RetinaNet's per image over max(1, positives of the
image), then the mean over images (each group carries its image's 1/max(1, P_n), the terms' divisor is N); the RPN's
objectness over |S| and its box term box_weight (on each group) over box_normalizer or |S|; Fast R-CNN's over R.
A term nothing enters is 0 (an empty sample, no RoI, no positive).
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import boxes as box_losses
from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.boxes import EXACT, STANDARD, Dual
from refloss.conformance.oracle.classification import (_bce_with_logits, _bce_with_logits_standard, _sigmoid_focal,
                                                        _sigmoid_focal_standard)
from refloss.conformance.oracle.detectors import DetectorOracle, _first_argmax, _Group, _Scene
from refloss.conformance.oracle.tensor import _cross_entropy_standard

__all__ = ["BBOX_XFORM_CLIP", "ORACLES", "match_anchors", "match_priors"]

BBOX_XFORM_CLIP = math.log(1000.0 / 16)  # torchvision's bbox_xform_clip, as the float64 value compared against
IOU_LOSS_EPS = 1e-7  # torchvision's IoU losses' eps (a float64 constant)
BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS = -1, -2


def _number(params: dict, name: str, default: Any) -> Any:
    value = params.get(name, default)
    return default if value is None else value


def _floats(value: Any) -> list[mpf]:
    return [mpf(float(v)) for v in np.asarray(value, dtype=np.float64).ravel()]


def _labelling(params: dict, defaults: tuple) -> tuple:
    """(fg_iou_thresh, bg_iou_thresh, beta, weights) from ``params``, each falling back to ``defaults``."""
    fg, bg, beta, weights = (_number(params, name, default) for name, default in
                             zip(("fg_iou_thresh", "bg_iou_thresh", "beta", "weights"), defaults))
    return mpf(float(fg)), mpf(float(bg)), mpf(float(beta)), _floats(weights)


# ---- geometry and matching (exact values) --------------------------------------------------------------------

def _iou(a: list, b: list) -> mpf:
    """IoU of two xyxy boxes: the overlap's area (0 unless its width and height are positive) over the union."""
    iw, ih = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = iw * ih if iw > 0 and ih > 0 else mpf(0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _objects(labels: np.ndarray, image: int) -> list[int]:
    return [k for k in range(labels.shape[1]) if labels[image, k] >= 0]


def _iou_rows(boxes: np.ndarray, image: int, objects: list[int], anchors: list) -> list[list[mpf]]:
    return [[_iou(list(boxes[image, k]), anchor) for anchor in anchors] for k in objects]


def match_anchors(iou: list[list], high: mpf, low: mpf, allow_low_quality_matches: bool) -> list[int]:
    """torchvision's Matcher on an IoU matrix (ground truths x anchors, at least one ground truth): each anchor's
    best ground truth (the lowest index on ties), -1 below ``low``, -2 in [low, high); with low-quality matches,
    each anchor whose IoU with some ground truth equals that ground truth's largest IoU gets its best one back."""
    anchors = len(iou[0])
    best = [_first_argmax([row[a] for row in iou]) for a in range(anchors)]
    matches = []
    for a in range(anchors):
        value = iou[best[a]][a]
        matches.append(BELOW_LOW_THRESHOLD if value < low else BETWEEN_THRESHOLDS if value < high else best[a])
    if allow_low_quality_matches:
        for row in iou:
            highest = max(row)
            for a in range(anchors):
                if row[a] == highest:
                    matches[a] = best[a]
    return matches


def match_priors(iou: list[list], threshold: mpf) -> list[int]:
    """torchvision's SSDMatcher: ``match_anchors(iou, threshold, threshold)``, then each ground truth's best prior
    (the lowest index on ties) forced to it, in ground-truth order (a later ground truth wins a shared prior)."""
    matches = match_anchors(iou, threshold, threshold, False)
    for k, row in enumerate(iou):
        matches[_first_argmax(row)] = k
    return matches


# ---- the coders, as the standard algorithm computes them (Bounds) --------------------------------------------

def _centre_size(box: list) -> tuple[list, list]:
    """torchvision's BoxCoder: w = x2 - x1, c = x1 + 0.5 w (Bounds)."""
    x1, y1, x2, y2 = (r.exact(v) for v in box)
    size = [x2 - x1, y2 - y1]
    return [x1 + size[0] * mpf(0.5), y1 + size[1] * mpf(0.5)], size


def _encode(gt: list, anchor: list, weights: list) -> list[r.Bound]:
    """Faster R-CNN's code of gt relative to anchor: w_x (g_cx - a_cx) / a_w, w_w ln(g_w / a_w) (y, h likewise)."""
    (g_c, g_s), (a_c, a_s) = _centre_size(gt), _centre_size(anchor)
    return [weights[k] * (g_c[k] - a_c[k]) / a_s[k] for k in (0, 1)] + \
           [weights[2 + k] * r.log(g_s[k] / a_s[k]) for k in (0, 1)]


def _encode_ssd(gt: list, prior: list, variances: list) -> list[r.Bound]:
    """SSD's code: (g_c - d_c) / (v_c d_w), ln(g_w / d_w) / v_s (the variances as their float64 values)."""
    (g_c, g_s), (d_c, d_s) = _centre_size(gt), _centre_size(prior)
    v_c, v_s = variances
    return [(g_c[k] - d_c[k]) / (d_s[k] * v_c) for k in (0, 1)] + [r.log(g_s[k] / d_s[k]) / v_s for k in (0, 1)]


# ---- the groups ----------------------------------------------------------------------------------------------

def _smooth_l1(name: str, index: int, term: str, target: r.Bound, beta: mpf, weight: r.Bound) -> _Group:
    """Smooth L1 of d = v - t: d^2 / (2 beta) for |d| < beta, else |d| - beta / 2 (torch: 0.5 d^2 / beta); gradient
    d / beta or sign(d), continuous at |d| = beta. beta = 0 is L1 (a kink at d = 0)."""
    def textbook(vs: list) -> mpf:
        d = vs[0] - target.value
        return d * d / (2 * beta) if abs(d) < beta else abs(d) - beta / 2

    def standard(vs: list) -> r.Bound:
        d = vs[0] - target
        return d * d * mpf(0.5) / beta if abs(d.value) < beta else abs(d) - beta * mpf(0.5)

    def slope(vs: list, g: r.Bound) -> list:
        d = vs[0] - target
        return [g * weight * (d / beta if abs(d.value) < beta else r.exact(mpmath.sign(d.value)))]

    distance = (lambda vs: [abs(vs[0] - target.value)]) if beta == 0 else (lambda vs: [mpmath.inf])
    return _Group([(name, index)], term, textbook, standard, slope, distance, weight, one_sided=True)


def _l1(name: str, index: int, term: str, target: r.Bound, weight: r.Bound) -> _Group:
    """|v - t|, gradient sign(v - t); at v = t the interval [-1, 1] (expected 0, torch's sign(0))."""
    return _Group([(name, index)], term, textbook=lambda vs: abs(vs[0] - target.value),
                  standard=lambda vs: abs(vs[0] - target),
                  slope=lambda vs, g: [g * weight * r.exact(mpmath.sign((vs[0] - target).value))],
                  kink_distance=lambda vs: [abs(vs[0] - target.value)], weight=weight, one_sided=True)


def _bce(name: str, index: int, term: str, label: int) -> _Group:
    """BCE with logits against label 0 or 1: softplus(-z) or softplus(z), gradient sigmoid(z) - y."""
    y = mpf(label)
    return _Group([(name, index)], term, textbook=lambda vs: _bce_with_logits(vs[0], y, {}),
                  standard=lambda vs: _bce_with_logits_standard(vs[0].value, y, {})[0],
                  slope=lambda vs, g: [g * _bce_with_logits_standard(vs[0].value, y, {})[1]])


def _focal(name: str, index: int, term: str, label: int, focal: dict, weight: r.Bound) -> _Group:
    """Sigmoid focal loss alpha_t (1 - p_t)^gamma BCE(z, y) (Lin et al. 2017, torchvision's sigmoid_focal_loss)."""
    y = mpf(label)
    return _Group([(name, index)], term, textbook=lambda vs: _sigmoid_focal(vs[0], y, focal),
                  standard=lambda vs: _sigmoid_focal_standard(vs[0].value, y, focal)[0],
                  slope=lambda vs, g: [g * weight * _sigmoid_focal_standard(vs[0].value, y, focal)[1]],
                  weight=weight)


def _cross_entropy(name: str, start: int, classes: int, term: str, label: int) -> _Group:
    """Softmax cross-entropy of a row of C logits against class ``label``: log(sum_k e^{z_k}) - z_y, written as
    log1p(sum_{k != y} e^{z_k - z_y}) (no cancellation for a confident row); gradient softmax(z) - onehot(y)."""
    def textbook(vs: list) -> mpf:
        return mpmath.log1p(mpmath.fsum(mpmath.exp(v - vs[label]) for k, v in enumerate(vs) if k != label))

    return _Group([(name, start + k) for k in range(classes)], term, textbook,
                  standard=lambda vs: _cross_entropy_standard([v.value for v in vs], label, {})[0],
                  slope=lambda vs, g: [g * d for d in _cross_entropy_standard([v.value for v in vs], label, {})[1]])


def background_cross_entropy(row: list) -> mpf:
    """The exact cross-entropy of a row against class 0 (SSD's mining key); NaN if the row holds a NaN."""
    if any(mpmath.isnan(v) for v in row):
        return mpmath.nan
    return mpmath.log1p(mpmath.fsum(mpmath.exp(v - row[0]) for v in row[1:]))


_IOU_LOSSES = {"giou": box_losses._giou_loss, "diou": box_losses._diou_loss, "ciou": box_losses._ciou_loss}


def _decoded(M: Any, deltas: list, anchor: list, weights: list, clip: mpf) -> list:
    """torchvision's BoxCoder.decode_single over the namespace M: d = delta / w, the size codes clamped from above
    at ``clip`` (a constant beyond it, as torch.clamp), centre d_x a_w + a_cx, size e^{d_w} a_w, corners c -/+ 0.5
    size."""
    a = [M.const(v) for v in anchor]
    size = [a[2] - a[0], a[3] - a[1]]
    centre = [a[0] + size[0] * mpf(0.5), a[1] + size[1] * mpf(0.5)]
    d = [deltas[k] / weights[k] for k in range(4)]
    d[2:] = [M.const(clip) if M.val(code) >= clip else code for code in d[2:]]
    predicted_centre = [d[k] * size[k] + centre[k] for k in (0, 1)]
    half = [M.exp(d[2 + k]) * size[k] * mpf(0.5) for k in (0, 1)]
    return [predicted_centre[0] - half[0], predicted_centre[1] - half[1], predicted_centre[0] + half[0],
            predicted_centre[1] + half[1]]


def _decoded_iou_loss(name: str, start: int, term: str, kind: str, anchor: list, gt: list, weights: list,
                      weight: r.Bound, base: list) -> _Group:
    """The IoU loss (giou, diou, ciou; eps 1e-7) of the box decoded from the four deltas at ``start`` against gt.
    CIoU's alpha is evaluated at the case's deltas (``base``) and held, as torchvision's no_grad computes it."""
    formula, clip = _IOU_LOSSES[kind], mpf(BBOX_XFORM_CLIP)
    params = {"eps": mpf(IOU_LOSS_EPS)}
    frozen = formula(EXACT, _decoded(EXACT, base, anchor, weights, clip), gt, params, None)[1] \
        if all(mpmath.isfinite(v) for v in base) else None

    def textbook(vs: list) -> mpf:
        return formula(EXACT, _decoded(EXACT, vs, anchor, weights, clip), gt, params, frozen)[0]

    def dual(vs: list) -> Dual:
        seeded = [Dual(v, [r.exact(1 if k == i else 0) for k in range(4)]) for i, v in enumerate(vs)]
        return formula(STANDARD, _decoded(STANDARD, seeded, anchor, weights, clip), [Dual(v) for v in gt],
                       params, None)[0]

    def slope(vs: list, g: r.Bound) -> list:
        derivatives = dual(vs).d or [r.exact(0)] * 4  # (a loss constant in every delta has none)
        return [g * weight * d for d in derivatives]

    def kink_distance(vs: list) -> list:
        """Per delta: the distance of the decoded box's coordinates on its axis from the ground truth's (a tie of
        a max or min, touching boxes), and for the size codes from the clamp."""
        box = _decoded(EXACT, vs, anchor, weights, clip)
        ties = [min(abs(box[k] - gt[j]) for k in (axis, axis + 2) for j in (axis, axis + 2)) for axis in (0, 1)]
        return ties + [min(ties[k], abs(vs[2 + k] / weights[2 + k] - clip)) for k in (0, 1)]

    return _Group([(name, start + k) for k in range(4)], term, textbook, standard=lambda vs: dual(vs).value,
                  slope=slope, kink_distance=kink_distance, weight=weight, one_sided=True)


# ---- SSD ------------------------------------------------------------------------------------------------------

SSD_TERMS = ("bbox_regression", "classification")


def _ssd_scene(bbox_regression, cls_logits, anchors, boxes, labels, params) -> _Scene:
    n, p, c = cls_logits.shape
    threshold = mpf(float(_number(params, "iou_threshold", 0.5)))
    ratio = int(_number(params, "neg_to_pos_ratio", 3))
    variances = _floats(_number(params, "variances", (0.1, 0.2)))
    beta = mpf(float(_number(params, "beta", 1.0)))
    priors = [list(anchors[a]) for a in range(p)]
    groups, matches, mined = [], {}, {}
    positives = 0
    for image in range(n):
        objects = _objects(labels, image)
        match = [-1] * p
        if objects:
            match = [objects[m] if m >= 0 else -1 for m in match_priors(_iou_rows(boxes, image, objects, priors),
                                                                        threshold)]
        matches[image] = match
        positive = [a for a in range(p) if match[a] >= 0]
        positives += len(positive)
        candidates = [a for a in range(p) if match[a] < 0]
        keys = {a: background_cross_entropy(list(cls_logits[image, a])) for a in candidates}
        ranked = sorted(candidates, key=lambda a: (0, 0, a) if mpmath.isnan(keys[a]) else (1, -keys[a], a))
        mined[image] = sorted(ranked[:min(ratio * len(positive), len(candidates))])
        for a in positive:
            target = _encode_ssd(list(boxes[image, match[a]]), priors[a], variances)
            for e in range(4):
                groups.append(_smooth_l1("bbox_regression", (image * p + a) * 4 + e, "bbox_regression", target[e],
                                         beta, r.exact(1)))
            groups.append(_cross_entropy("cls_logits", (image * p + a) * c, c, "classification",
                                         int(labels[image, match[a]])))
        for a in mined[image]:
            groups.append(_cross_entropy("cls_logits", (image * p + a) * c, c, "classification", 0))
    divisor = max(1, positives)
    return _Scene(groups, {name: mpf(1) for name in SSD_TERMS}, divisor,
                  {"matches": matches, "mined": mined, "positives": positives})


# ---- RetinaNet ------------------------------------------------------------------------------------------------

RETINANET_TERMS = ("classification", "bbox_regression")


def _low_quality_matches(boxes, labels, image: int, anchor_boxes: list, high: mpf, low: mpf) -> list:
    """The image's anchors matched with low-quality matches (RetinaNet, RPN), as rows of ``boxes``: -1 negative,
    -2 ignored; all -1 for an image without objects."""
    objects = _objects(labels, image)
    if not objects:
        return [-1] * len(anchor_boxes)
    return [objects[m] if m >= 0 else m
            for m in match_anchors(_iou_rows(boxes, image, objects, anchor_boxes), high, low, True)]


def _retinanet_scene(cls_logits, bbox_regression, anchors, boxes, labels, params) -> _Scene:
    n, count, c = cls_logits.shape
    high, low, beta, weights = _labelling(params, (0.5, 0.4, 1.0, (1.0, 1.0, 1.0, 1.0)))
    focal = {"alpha": mpf(float(_number(params, "alpha", 0.25))), "gamma": mpf(float(_number(params, "gamma", 2.0)))}
    box_loss = str(_number(params, "box_loss", "l1"))
    anchor_boxes = [list(anchors[a]) for a in range(count)]
    groups, matches = [], {}
    for image in range(n):
        match = matches[image] = _low_quality_matches(boxes, labels, image, anchor_boxes, high, low)
        positive = [a for a in range(count) if match[a] >= 0]
        weight = r.exact(1) / max(1, len(positive))  # the image's 1 / max(1, P_n)
        for a in range(count):
            if match[a] == BETWEEN_THRESHOLDS:
                continue
            wanted = int(labels[image, match[a]]) if match[a] >= 0 else -1
            for column in range(c):
                groups.append(_focal("cls_logits", (image * count + a) * c + column, "classification",
                                     int(column == wanted), focal, weight))
        for a in positive:
            start, gt = (image * count + a) * 4, list(boxes[image, match[a]])
            if box_loss in _IOU_LOSSES:
                base = list(bbox_regression[image, a])
                groups.append(_decoded_iou_loss("bbox_regression", start, "bbox_regression", box_loss,
                                                anchor_boxes[a], gt, weights, weight, base))
                continue
            target = _encode(gt, anchor_boxes[a], weights)
            for e in range(4):
                groups.append(_l1("bbox_regression", start + e, "bbox_regression", target[e], weight)
                              if box_loss == "l1" else
                              _smooth_l1("bbox_regression", start + e, "bbox_regression", target[e], beta, weight))
    return _Scene(groups, {name: mpf(1) for name in RETINANET_TERMS}, n, {"matches": matches})


# ---- RPN ------------------------------------------------------------------------------------------------------

RPN_TERMS = ("objectness", "rpn_box_reg")


def _rpn_scene(objectness, pred_bbox_deltas, anchors, boxes, labels, sampled, params) -> _Scene:
    n, count = objectness.shape
    high, low, beta, weights = _labelling(params, (0.7, 0.3, 1 / 9, (1.0, 1.0, 1.0, 1.0)))
    box_weight = r.exact(mpf(float(_number(params, "box_weight", 1.0))))
    normalizer = params.get("box_normalizer")
    anchor_boxes = [list(anchors[a]) for a in range(count)]
    groups, matches, sample = [], {}, []
    for image in range(n):
        match = matches[image] = _low_quality_matches(boxes, labels, image, anchor_boxes, high, low)
        for a in range(count):
            if not sampled[image, a]:
                continue
            if match[a] == BETWEEN_THRESHOLDS:
                raise ValueError(f"sampled: anchor {a} of image {image} is sampled but ignored (its best IoU is "
                                 "between the thresholds)")
            sample.append((image, a))
            groups.append(_bce("objectness", image * count + a, "objectness", int(match[a] >= 0)))
            if match[a] >= 0:
                target = _encode(list(boxes[image, match[a]]), anchor_boxes[a], weights)
                for e in range(4):
                    groups.append(_smooth_l1("pred_bbox_deltas", (image * count + a) * 4 + e, "rpn_box_reg",
                                             target[e], beta, box_weight))
    size = max(1, len(sample))
    box_divisor = size if normalizer is None else mpf(float(normalizer))
    return _Scene(groups, {name: mpf(1) for name in RPN_TERMS}, size, {"matches": matches, "sample": sample},
                  divisors={"rpn_box_reg": box_divisor})


# ---- Fast R-CNN -----------------------------------------------------------------------------------------------

FAST_RCNN_TERMS = ("classifier", "box_reg")


def _fast_rcnn_scene(class_logits, box_regression, proposals, proposal_images, boxes, labels, params) -> _Scene:
    rois, c = class_logits.shape
    high, low, beta, weights = _labelling(params, (0.5, 0.5, 1 / 9, (10.0, 10.0, 5.0, 5.0)))
    groups, classes, matched = [], [], []
    for roi in range(rois):
        image, proposal = int(proposal_images[roi]), list(proposals[roi])
        objects = _objects(labels, image)
        match = -1
        if objects:
            match = match_anchors(_iou_rows(boxes, image, objects, [proposal]), high, low, False)[0]
            if match == BETWEEN_THRESHOLDS:
                raise ValueError(f"proposals: RoI {roi} has its best IoU between the thresholds (never sampled)")
            match = objects[match] if match >= 0 else -1
        label = int(labels[image, match]) if match >= 0 else 0
        classes.append(label)
        matched.append(match)
        groups.append(_cross_entropy("class_logits", roi * c, c, "classifier", label))
        if label > 0:
            target = _encode(list(boxes[image, match]), proposal, weights)
            for e in range(4):
                groups.append(_smooth_l1("box_regression", roi * 4 * c + 4 * label + e, "box_reg", target[e], beta,
                                         r.exact(1)))
    return _Scene(groups, {name: mpf(1) for name in FAST_RCNN_TERMS}, max(1, rois),
                  {"labels": classes, "matches": matched})


ORACLES = {
    "ssd_loss": DetectorOracle(_ssd_scene, SSD_TERMS, ("bbox_regression", "cls_logits")),
    "retinanet_loss": DetectorOracle(_retinanet_scene, RETINANET_TERMS, ("cls_logits", "bbox_regression")),
    "rpn_loss": DetectorOracle(_rpn_scene, RPN_TERMS, ("objectness", "pred_bbox_deltas")),
    "fast_rcnn_loss": DetectorOracle(_fast_rcnn_scene, FAST_RCNN_TERMS, ("class_logits", "box_regression")),
}
