"""Mutants of the anchor-based detector losses: ssd_loss, retinanet_loss, rpn_loss and fast_rcnn_loss.

As for the YOLO losses (:mod:`tests.mutants.detectors`), each mutant takes refloss's own parts except one: a wrong
matching, mining or labelling rule (refloss's public target builder's result, adjusted), or wrong terms; its VJP is
autograd's VJP of its own forward w.r.t. the two head outputs with the matching held, as a port to an autograd
framework would have it, or, for the gradient bugs, refloss's VJP with one part scaled.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import autograd
import numpy as np
from autograd.tracer import getval

import refloss
from refloss.boxes.matching import hard_negatives
from refloss.losses.detectors import faster_rcnn, retinanet, ssd
from refloss.losses.detectors._scene import term_cotangents

from ._base import Mutant
from .detectors import _with_defaults

HEADS = 2  # every one of these losses has two head outputs, its first two inputs


def _port(loss: str, terms_of: Callable[..., dict]) -> tuple[Callable, Callable]:
    """A forward returning (total, terms) from ``terms_of(heads, others, params)`` (``heads``: the two head outputs;
    ``others``: the remaining inputs; ``params`` with every default filled in), and autograd's VJP of it w.r.t.
    each head (``terms_of`` decides its matching from values, so autograd holds it constant)."""
    def forward(*inputs: Any, **params: Any) -> tuple:
        heads = tuple(np.asarray(x, dtype=np.float64) for x in inputs[:HEADS])
        terms = terms_of(heads, inputs[HEADS:], _with_defaults(loss, params))
        return sum(terms.values()), terms

    def vjp(grad_output: Any, *inputs: Any, **params: Any) -> tuple:
        forward(*inputs, **params)  # validates, as the forward does
        weights = term_cotangents(grad_output, refloss.registry.get(loss).terms)
        settings = _with_defaults(loss, params)
        heads = [np.asarray(x, dtype=np.float64) for x in inputs[:HEADS]]

        def gradient(k: int) -> np.ndarray:
            def projected(head: Any) -> Any:
                varied = tuple(head if i == k else h for i, h in enumerate(heads))
                return sum(weights[t] * v for t, v in terms_of(varied, inputs[HEADS:], settings).items())
            with warnings.catch_warnings():  # an empty sample's terms are constants: a zero gradient
                warnings.filterwarnings("ignore", "Output seems independent of input", UserWarning)
                return autograd.grad(projected)(heads[k])

        return (gradient(0), gradient(1), *([None] * (len(inputs) - HEADS)))

    return forward, vjp


def _scaled_vjp(loss: str, head: int, scale: Callable[..., float]) -> Callable:
    """refloss's VJP with head ``head``'s gradient multiplied by ``scale(*inputs, **params)``."""
    vjp = refloss.registry.get(loss).vjp

    def wrong(grad_output: Any, *inputs: Any, **params: Any) -> tuple:
        grads = list(vjp(grad_output, *inputs, **params))
        grads[head] = grads[head] * scale(*inputs, **params)
        return tuple(grads)

    return wrong


def _values(heads: tuple) -> tuple:
    return tuple(getval(h) for h in heads)


# ---- SSD ------------------------------------------------------------------------------------------------------

_SSD_ASSIGNMENT = ("iou_threshold", "neg_to_pos_ratio", "variances")


def _ssd_targets(heads: tuple, others: tuple, params: dict) -> ssd.SsdTargets:
    return refloss.ssd_targets(*_values(heads), *others, **{k: params[k] for k in _SSD_ASSIGNMENT})


def _ssd_per_image(heads: tuple, others: tuple, params: dict) -> dict:
    """Each image's terms divided by its own positives, then summed over the images."""
    targets = _ssd_targets(heads, others, params)
    terms = [ssd._terms_with(heads[0][n:n + 1], heads[1][n:n + 1], ssd.SsdTargets(*(f[n:n + 1] for f in targets)),
                             params["beta"]) for n in range(len(targets.positive))]
    return {name: sum(t[name] for t in terms) for name in ssd.TERMS}


def _ssd_unclamped_k(heads: tuple, others: tuple, params: dict) -> dict:
    """torchvision's mining: k = ratio * positives is not clamped, so when it exceeds the non-positive priors the
    ranking reaches the positives (in index order here) and their cross-entropy is counted a second time."""
    targets = _ssd_targets(heads, others, params)
    terms = ssd._terms_with(*heads, targets, params["beta"])
    excess = params["neg_to_pos_ratio"] * targets.positive.sum(axis=1) - (~targets.positive).sum(axis=1)
    again = targets.positive & (np.cumsum(targets.positive, axis=1) <= excess[:, None])
    log_p = refloss.log_softmax(heads[1][again], -1)
    repeated = -sum(log_p[np.arange(int(again.sum())), targets.class_target[again]])
    terms["classification"] = terms["classification"] + repeated / max(1, int(targets.positive.sum()))
    return terms


def _ssd_threshold_only(heads: tuple, others: tuple, params: dict) -> dict:
    """No forced match: only priors with IoU >= threshold are positive (an object below it everywhere is lost);
    the mining is redone on the remaining positives."""
    targets = _ssd_targets(heads, others, params)
    anchors, boxes = np.asarray(others[0], dtype=np.float64), np.asarray(others[1], dtype=np.float64)
    images, priors = np.nonzero(targets.positive)
    matched = boxes[images, targets.matches[targets.positive]]
    overlap = np.array([refloss.box_iou(b[None], p[None])[0, 0] for b, p in zip(matched, anchors[priors])])
    weak = np.zeros_like(targets.positive)
    weak[images, priors] = overlap < params["iou_threshold"]
    positive = targets.positive & ~weak
    background = -np.asarray(refloss.log_softmax(getval(heads[1]), -1))[..., 0]
    held = ssd.SsdTargets(np.where(weak, -1, targets.matches), positive,
                          hard_negatives(background, positive, neg_to_pos_ratio=params["neg_to_pos_ratio"]),
                          np.where(weak[..., None], 0.0, targets.box_target), np.where(weak, 0, targets.class_target))
    return ssd._terms_with(*heads, held, params["beta"])


def _positives(*inputs: Any, **params: Any) -> float:
    settings = {k: v for k, v in params.items() if k in _SSD_ASSIGNMENT}
    return float(max(1, refloss.ssd_targets(*inputs, **settings).positive.sum()))


# ---- RetinaNet ------------------------------------------------------------------------------------------------

def _retinanet_assign(heads: tuple, others: tuple, params: dict) -> tuple:
    _, _, anchors, targets, settings = retinanet._assign(*_values(heads), *others, **params)
    return anchors, targets, settings


def _retinanet_batch_normalised(heads: tuple, others: tuple, params: dict) -> dict:
    """detectron2's and mmdetection's normalisation taken for torchvision's: every image divided by the
    positives of the whole batch (and summed), instead of its own, averaged over the images."""
    anchors, targets, settings = _retinanet_assign(heads, others, params)
    total = max(1, int(targets.positive.sum()))
    terms = {name: 0.0 for name in retinanet.TERMS}
    for n in range(len(targets.positive)):
        one = retinanet.RetinaNetTargets(*(f[n:n + 1] for f in targets))
        image = retinanet._terms_with(heads[0][n:n + 1], heads[1][n:n + 1], anchors, one, settings)
        scale = max(1, int(one.num_positive[0])) / total  # undo the image's own max(1, positives)
        terms = {name: terms[name] + scale * image[name] for name in terms}
    return terms


def _retinanet_ignored_as_negatives(heads: tuple, others: tuple, params: dict) -> dict:
    """The anchors in the ignore band summed into the focal term as negatives (the -2 label never checked)."""
    anchors, targets, settings = _retinanet_assign(heads, others, params)
    return retinanet._terms_with(*heads, anchors, targets._replace(valid=np.ones_like(targets.valid)), settings)


def _retinanet_no_low_quality(heads: tuple, others: tuple, params: dict) -> dict:
    """Matcher(0.5, 0.4) without allow_low_quality_matches: an object's best anchor below 0.5 is not restored."""
    anchors, targets, settings = _retinanet_assign(heads, others, params)
    best = targets.iou.max(axis=1)
    weak = targets.positive & (best < params["fg_iou_thresh"])
    matches = np.where(weak, np.where(best < params["bg_iou_thresh"], -1, -2), targets.matches)
    positive = matches >= 0
    held = retinanet.RetinaNetTargets(matches, positive, matches != -2,
                                      np.where(weak[..., None], 0.0, targets.class_target),
                                      np.where(weak[..., None], 0.0, targets.matched_boxes),
                                      np.where(weak[..., None], 0.0, targets.box_target), positive.sum(axis=1),
                                      targets.iou)
    return retinanet._terms_with(*heads, anchors, held, settings)


# ---- Faster R-CNN ---------------------------------------------------------------------------------------------

_RPN_SETTINGS = ("fg_iou_thresh", "bg_iou_thresh", "beta", "weights", "box_weight", "box_normalizer")


def _rpn(heads: tuple, others: tuple, params: dict, **overrides: Any) -> dict:
    """The RPN's terms with some settings overridden (``box_normalizer="positives"``: the sampled positives)."""
    settings = {k: params[k] for k in _RPN_SETTINGS}
    objectness, deltas, targets, sample, positive, (beta, box_weight, normalizer) = faster_rcnn._rpn_prepare(
        *_values(heads), *others, **settings)
    chosen = dict(beta=beta, box_weight=box_weight, box_normalizer=normalizer) | overrides
    if chosen["box_normalizer"] == "positives":
        chosen["box_normalizer"] = max(1, int(positive.sum()))
    return faster_rcnn._rpn_terms(*heads, targets, sample, positive, **chosen)


def _rpn_objectness_over_all_anchors(heads: tuple, others: tuple, params: dict) -> dict:
    """The objectness BCE averaged over every labelled anchor instead of the sample."""
    settings = {k: params[k] for k in _RPN_SETTINGS}
    *_, targets, sample, positive, (beta, box_weight, normalizer) = faster_rcnn._rpn_prepare(
        *_values(heads), *others, **settings)
    labelled = targets.labels >= 0
    terms = faster_rcnn._rpn_terms(*heads, targets, sample, positive, beta, box_weight, normalizer)
    if labelled.any():
        terms["objectness"] = refloss.binary_cross_entropy_with_logits(
            heads[0][labelled], targets.labels[labelled].astype(np.float64), reduction="mean")
    return terms


def _fast_rcnn(heads: tuple, others: tuple, params: dict, beta: float | None = None,
               columns_of: Callable[[np.ndarray], np.ndarray] | None = None, box_divisor: str = "rois") -> dict:
    """The box head's terms, optionally with another beta, the deltas read from other columns, or the box term
    divided by the foreground RoIs."""
    settings = {k: params[k] for k in ("fg_iou_thresh", "bg_iou_thresh", "beta", "weights")}
    class_logits, box_regression, targets, checked_beta = faster_rcnn._fast_rcnn_prepare(*_values(heads), *others,
                                                                                        **settings)
    terms = faster_rcnn._fast_rcnn_terms(*heads, targets, checked_beta if beta is None else beta)
    rois, classes = np.shape(class_logits)
    foreground = np.flatnonzero(targets.labels > 0)
    if rois and (columns_of is not None or box_divisor != "rois"):
        columns = targets.labels[foreground] if columns_of is None else columns_of(targets.labels[foreground])
        deltas = heads[1].reshape(rois, classes, 4)[foreground, columns]
        box = refloss.smooth_l1_loss(deltas, targets.box_target[foreground], reduction="sum",
                                     beta=checked_beta if beta is None else beta)
        terms["box_reg"] = box / (rois if box_divisor == "rois" else max(1, foreground.size))
    return terms


def _mutant(name: str, loss: str, pair: tuple[Callable | None, Callable | None], description: str,
            category: str) -> Mutant:
    return Mutant(name, loss, pair[0], pair[1], description, category)


MUTANTS = [
    _mutant("ssd_normalised_per_image", "ssd_loss", _port("ssd_loss", _ssd_per_image),
            "each image divided by its own positives and the images summed, instead of the batch's positives",
            "denominator"),
    _mutant("ssd_mining_k_not_clamped", "ssd_loss", _port("ssd_loss", _ssd_unclamped_k),
            "torchvision's k = 3 N_pos unclamped: past the negatives the positives' cross-entropy counts twice",
            "branch"),
    _mutant("ssd_no_forced_match", "ssd_loss", _port("ssd_loss", _ssd_threshold_only),
            "only the IoU >= 0.5 rule: an object's best prior below the threshold is not forced positive", "branch"),
    _mutant("ssd_box_gradient_without_normaliser", "ssd_loss", (None, _scaled_vjp("ssd_loss", 0, _positives)),
            "the box offsets' gradient not divided by N_pos (the forward divides)", "gradient"),
    _mutant("retinanet_batch_normalised", "retinanet_loss", _port("retinanet_loss", _retinanet_batch_normalised),
            "detectron2's normalisation (the batch's positives) taken for torchvision's per-image one", "denominator"),
    _mutant("retinanet_ignored_anchors_as_negatives", "retinanet_loss",
            _port("retinanet_loss", _retinanet_ignored_as_negatives),
            "anchors between the thresholds summed into the focal term as negatives instead of ignored", "branch"),
    _mutant("retinanet_no_low_quality_matches", "retinanet_loss", _port("retinanet_loss", _retinanet_no_low_quality),
            "the Matcher without allow_low_quality_matches: an object whose anchors are all below 0.5 is lost",
            "convention"),
    _mutant("rpn_box_term_per_positive", "rpn_loss",
            _port("rpn_loss", lambda *a: _rpn(*a, box_normalizer="positives")),
            "the box term divided by the sampled positives instead of the whole sample", "denominator"),
    _mutant("rpn_objectness_over_all_anchors", "rpn_loss", _port("rpn_loss", _rpn_objectness_over_all_anchors),
            "the objectness BCE averaged over every labelled anchor, not the sample", "formula"),
    _mutant("rpn_beta_one", "rpn_loss", _port("rpn_loss", lambda h, o, p: _rpn(
        h, o, p, beta=1.0 if p["beta"] == 1 / 9 else p["beta"])),
            "Smooth L1 with PyTorch's default beta 1 instead of torchvision's 1/9", "default"),
    _mutant("fast_rcnn_columns_without_background", "fast_rcnn_loss", _port("fast_rcnn_loss", lambda *a: _fast_rcnn(
        *a, columns_of=lambda labels: labels - 1)),
            "class y's deltas read from columns 4(y - 1) (as if box_regression had no background block)",
            "convention"),
    _mutant("fast_rcnn_box_term_per_foreground", "fast_rcnn_loss", _port("fast_rcnn_loss", lambda *a: _fast_rcnn(
        *a, box_divisor="foreground")),
            "the box term divided by the foreground RoIs instead of all sampled RoIs", "denominator"),
    _mutant("fast_rcnn_beta_one", "fast_rcnn_loss", _port("fast_rcnn_loss", lambda h, o, p: _fast_rcnn(
        h, o, p, beta=1.0 if p["beta"] == 1 / 9 else p["beta"])),
            "Smooth L1 with beta 1 (the paper's, PyTorch's default) instead of torchvision's 1/9", "default"),
]
