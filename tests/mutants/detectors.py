"""Mutants of the detector losses yolov1_loss and yolov3_loss.

A detector port has two parts that go wrong independently: the assignment (which prediction answers for which
object, which are ignored) and the terms computed once it is fixed. Each mutant here takes refloss's own parts
except one: a wrong assignment rule (built by adjusting the public target builder's result, or by calling it on
other inputs), or wrong terms; its VJP is autograd's VJP of its own forward with the assignment held, as a port
to an autograd framework would have it, or, for the gradient bugs, refloss's VJP with one term scaled.
"""

from __future__ import annotations

from typing import Any, Callable

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

import refloss
from refloss.losses.detectors import yolov1 as v1
from refloss.losses.detectors import yolov3 as v3
from refloss.losses.detectors import yolov3_eriklindernoren as erik
from refloss.losses.detectors._scene import term_cotangents

from ._base import Mutant

TERMS = ("xy", "wh", "object", "no_object", "class")
_V1_ASSIGNMENT = ("grid_size", "num_boxes", "num_classes", "size_output")
_V1_TERMS = ("lambda_coord", "lambda_noobj", "confidence_target", "no_object", "normalization")


def _with_defaults(loss: str, params: dict[str, Any]) -> dict[str, Any]:
    return {p.name: p.default for p in refloss.registry.get(loss).params} | params


def _port(terms_of: Callable[..., dict]) -> tuple[Callable, Callable]:
    """A forward returning (total, terms) from ``terms_of(output, boxes, labels, params)``, and autograd's VJP of
    it (``terms_of`` computes its assignment from the output's values, so autograd holds it constant)."""
    def forward(output: Any, boxes: Any, labels: Any, **params: Any) -> tuple:
        terms = terms_of(np.asarray(output, dtype=np.float64), boxes, labels, params)
        return sum(terms.values()), terms

    def vjp(grad_output: Any, output: Any, boxes: Any, labels: Any, **params: Any) -> tuple:
        forward(output, boxes, labels, **params)  # validates, as the forward does
        weights = term_cotangents(grad_output, TERMS)
        projected = lambda o: sum(weights[k] * v for k, v in terms_of(o, boxes, labels, params).items())  # noqa: E731
        return autograd.grad(projected)(np.asarray(output, dtype=np.float64)), None, None

    return forward, vjp


# ---- YOLOv1 -------------------------------------------------------------------------------------------------------

def _v1_terms(adjust: Callable[..., Any] = lambda targets, **_: targets, **overrides: Any) -> Callable:
    """YOLOv1's terms with the assignment passed through ``adjust`` and some settings overridden."""
    def terms_of(output: Any, boxes: Any, labels: Any, params: dict) -> dict:
        settings = _with_defaults("yolov1_loss", params) | overrides
        assignment = {k: settings[k] for k in _V1_ASSIGNMENT}
        targets = adjust(refloss.yolov1_targets(getval(output), boxes, labels, **assignment), output=getval(output),
                         boxes=boxes, labels=labels, assignment=assignment)
        return v1._terms_with(output, targets, settings["num_boxes"], size_output=settings["size_output"],
                              **{k: settings[k] for k in _V1_TERMS})
    return terms_of


def _ties_to_the_last(targets: v1.YoloV1Targets, **_: Any) -> v1.YoloV1Targets:
    """argmax scanning with >=: of equal IoUs the last predictor wins."""
    b = targets.iou.shape[-1]
    last_best = b - 1 - np.argmax(targets.iou[..., ::-1], axis=-1)
    decided = np.any(targets.iou > 0, axis=-1) & (targets.object_index >= 0)
    responsible = np.where(decided[..., None], np.arange(b) == last_best[..., None], targets.responsible)
    return targets._replace(responsible=responsible)


def _no_rmse_fallback(targets: v1.YoloV1Targets, **_: Any) -> v1.YoloV1Targets:
    """Plain argmax of the IoUs: when all are 0, predictor 0 is responsible."""
    undecided = ~np.any(targets.iou > 0, axis=-1) & (targets.object_index >= 0)
    first = np.arange(targets.iou.shape[-1]) == 0
    return targets._replace(responsible=np.where(undecided[..., None], first, targets.responsible))


def _last_object_keeps_the_cell(targets: v1.YoloV1Targets, *, output: Any, boxes: Any, labels: Any,
                                assignment: dict) -> v1.YoloV1Targets:
    """Targets written object by object into the grid: a later object in the same cell overwrites the earlier."""
    return refloss.yolov1_targets(output, np.asarray(boxes)[:, ::-1], np.asarray(labels)[:, ::-1], **assignment)


def _class_term_per_predictor(output: Any, boxes: Any, labels: Any, params: dict) -> dict:
    """The class error counted once per predictor (B times per cell), as in per-box class heads."""
    terms = _v1_terms()(output, boxes, labels, params)
    return terms | {"class": terms["class"] * _with_defaults("yolov1_loss", params)["num_boxes"]}


def _v1_gradient_without_factor_two(grad_output: Any, *inputs: Any, **params: Any) -> tuple:
    """d/dx (x - t)^2 taken as (x - t): every gradient is half of what it is."""
    grad, _, _ = refloss.yolov1_loss_vjp(grad_output, *inputs, **params)
    return grad / 2, None, None


# ---- YOLOv3 -------------------------------------------------------------------------------------------------------

def _v3_terms(adjust: Callable[..., Any] = lambda targets, **_: targets, **overrides: Any) -> Callable:
    """YOLOv3's terms with the assignment passed through ``adjust`` and some settings overridden."""
    def terms_of(output: Any, boxes: Any, labels: Any, params: dict) -> dict:
        settings = _with_defaults("yolov3_loss", params) | overrides
        assignment = {k: v for k, v in settings.items() if k != "xy_loss"}
        targets = adjust(refloss.yolov3_targets(getval(output), boxes, labels, **assignment), output=getval(output),
                         boxes=boxes, labels=labels, assignment=assignment)
        return v3._terms_with(output, targets, settings["xy_loss"])
    return terms_of


def _best_anchor_per_scale(targets: v3.YoloV3Targets, *, output: Any, boxes: Any, labels: Any,
                           assignment: dict) -> v3.YoloV3Targets:
    """eriklindernoren's rule taken for darknet's: each object's best anchor within every scale, so it is
    positive at every scale (the ignore mask stays darknet's)."""
    anchors = np.asarray(assignment["anchors"], dtype=np.float64)
    merged = targets._replace(positive=np.zeros_like(targets.positive), box_target=np.zeros_like(targets.box_target),
                              box_weight=np.zeros_like(targets.box_weight),
                              class_target=np.zeros_like(targets.class_target))
    for mask in assignment["anchor_masks"]:
        elsewhere = [k for k in range(len(anchors)) if k not in set(int(m) for m in mask)]
        only_this_scale = anchors.copy()
        only_this_scale[elsewhere] = 1e-9  # an anchor of no size never wins the shape IoU
        scale = refloss.yolov3_targets(output, boxes, labels, **(assignment | {"anchors": only_this_scale}))
        positive = scale.positive
        merged.positive[positive] = True
        merged.box_target[positive] = scale.box_target[positive]
        merged.box_weight[positive] = scale.box_weight[positive]
        merged.class_target[positive] = scale.class_target[positive]
    return merged._replace(ignored=targets.ignored & ~merged.positive)


def _first_object_keeps_the_prediction(targets: v3.YoloV3Targets, *, output: Any, boxes: Any, labels: Any,
                                       assignment: dict) -> v3.YoloV3Targets:
    """A prediction keeps the first object assigned to it (a scatter that does not overwrite)."""
    return refloss.yolov3_targets(output, np.asarray(boxes)[:, ::-1], np.asarray(labels)[:, ::-1], **assignment)


def _v3_positives_in_no_object(output: Any, boxes: Any, labels: Any, params: dict) -> dict:
    """The no-object term summed over every prediction that is not ignored, positives included."""
    terms = _v3_terms()(output, boxes, labels, params)
    settings = _with_defaults("yolov3_loss", params)
    targets = refloss.yolov3_targets(getval(output), boxes, labels,
                                     **{k: v for k, v in settings.items() if k != "xy_loss"})
    logits = output[..., 4][targets.positive]
    extra = -refloss.log_sigmoid(-logits)
    return terms | {"no_object": terms["no_object"] + anp.sum(extra) / np.shape(output)[0]}


def _v3_divided_by_positives(output: Any, boxes: Any, labels: Any, params: dict) -> dict:
    """Every term divided by the number of positives (at least 1) instead of the number of images."""
    settings = _with_defaults("yolov3_loss", params)
    targets = refloss.yolov3_targets(getval(output), boxes, labels,
                                     **{k: v for k, v in settings.items() if k != "xy_loss"})
    images, positives = np.shape(output)[0], max(int(targets.positive.sum()), 1)
    return {k: v * images / positives for k, v in _v3_terms()(output, boxes, labels, params).items()}


def _v3_sigmoid_derivative_on_xy(grad_output: Any, *inputs: Any, **params: Any) -> tuple:
    """The xy gradient multiplied by sigmoid'(t_x) although the loss is BCE on the logit (darknet issue 630 read
    the other way round)."""
    grad, _, _ = refloss.yolov3_loss_vjp(grad_output, *inputs, **params)
    xy = np.asarray(inputs[0], dtype=np.float64)[..., :2]
    slope = refloss.sigmoid(xy) * refloss.sigmoid(-xy)
    if _with_defaults("yolov3_loss", params)["xy_loss"] == "bce":
        grad[..., :2] *= slope
    return grad, None, None


# ---- YOLOv3 as eriklindernoren/PyTorch-YOLOv3 ---------------------------------------------------------------------

ERIK = "yolov3_eriklindernoren_loss"
_ERIK_SCALES = ("obj_scale", "noobj_scale")


def _erik_terms(adjust: Callable[..., Any] = lambda targets, **_: targets, per_image: bool = False,
                **overrides: Any) -> Callable:
    """eriklindernoren's terms with the assignment passed through ``adjust``, some settings overridden, and (with
    ``per_image``) every mean taken image by image and then averaged over the images."""
    def terms_of(output: Any, boxes: Any, labels: Any, params: dict) -> dict:
        settings = _with_defaults(ERIK, params) | overrides
        assignment = {k: v for k, v in settings.items() if k not in _ERIK_SCALES}
        _, targets, slices = erik._assign(getval(output), boxes, labels, **assignment)
        targets = adjust(targets, output=getval(output), boxes=boxes, labels=labels, assignment=assignment)
        scales = [settings[k] for k in _ERIK_SCALES]
        if not per_image:
            return erik._terms_with(output, targets, slices, *scales)
        images = np.shape(output)[0]
        one = [erik._terms_with(output[n:n + 1], v3_image(targets, n), slices, *scales) for n in range(images)]
        return {k: sum(t[k] for t in one) / images for k in TERMS}
    return terms_of


def v3_image(targets: Any, n: int) -> Any:
    """The targets of image n alone (arrays whose first axis is the image)."""
    return type(targets)(*(a[n:n + 1] for a in targets))


def _ignore_at_or_above(targets: Any, *, assignment: dict, **_: Any) -> Any:
    """The ignore rule with >= (an anchor whose shape IoU equals the threshold is ignored too)."""
    at = (targets.shape_iou == assignment["ignore_thresh"]) & ~targets.positive
    return targets._replace(ignored=targets.ignored | at)


def _best_anchor_of_all_scales(targets: Any, *, output: Any, boxes: Any, labels: Any, assignment: dict) -> Any:
    """darknet's rule taken for eriklindernoren's: only the best anchor over every scale is positive."""
    darknet = refloss.yolov3_targets(output, boxes, labels,
                                     **{k: assignment[k] for k in ("num_classes", "anchors", "anchor_masks",
                                                                   "strides", "input_size")})
    dropped = targets.positive & ~darknet.positive
    return targets._replace(positive=targets.positive & darknet.positive, ignored=targets.ignored | dropped)


def _erik_xy_without_sigmoid_derivative(grad_output: Any, *inputs: Any, **params: Any) -> tuple:
    """The xy gradient of the MSE on sigmoid(t_x) taken w.r.t. the sigmoid output (no sigmoid'), as darknet's
    delta; the other entries are right."""
    grad, _, _ = refloss.yolov3_eriklindernoren_loss_vjp(grad_output, *inputs, **params)
    xy = np.asarray(inputs[0], dtype=np.float64)[..., :2]
    slope = refloss.sigmoid(xy) * refloss.sigmoid(-xy)
    with np.errstate(divide="ignore", invalid="ignore"):
        grad[..., :2] = np.where(grad[..., :2] != 0, grad[..., :2] / slope, 0.0)
    return grad, None, None


def _mutant(name: str, loss: str, pair: tuple[Callable | None, Callable | None], description: str,
            category: str) -> Mutant:
    return Mutant(name, loss, pair[0], pair[1], description, category)


MUTANTS = [
    _mutant("yolov1_ties_to_the_last_predictor", "yolov1_loss", _port(_v1_terms(_ties_to_the_last)),
            "of predictors with equal IoU the last is made responsible (argmax scanned with >=)", "branch"),
    _mutant("yolov1_no_rmse_fallback", "yolov1_loss", _port(_v1_terms(_no_rmse_fallback)),
            "when every IoU is 0, predictor 0 is responsible (plain argmax) instead of the smallest RMSE", "branch"),
    _mutant("yolov1_last_object_keeps_the_cell", "yolov1_loss", _port(_v1_terms(_last_object_keeps_the_cell)),
            "targets scattered into the grid object by object: a later object in a cell overwrites the first",
            "convention"),
    _mutant("yolov1_no_object_on_empty_cells_only", "yolov1_loss", _port(_v1_terms(no_object="empty_cells")),
            "aladdinpersson's no-object set taken as the paper's: non-responsible predictors of object cells skipped",
            "convention"),
    _mutant("yolov1_class_term_per_predictor", "yolov1_loss", _port(_class_term_per_predictor),
            "the class error counted for every predictor of a cell instead of once per cell", "formula"),
    _mutant("yolov1_darknet_half_by_default", "yolov1_loss", _port(_v1_terms(normalization="darknet")),
            "darknet's deltas (half the gradient) taken as the loss's scale", "denominator"),
    _mutant("yolov1_gradient_without_factor_two", "yolov1_loss", (None, _v1_gradient_without_factor_two),
            "the derivative of (x - t)^2 written as x - t", "gradient"),
    _mutant("yolov3_best_anchor_per_scale", "yolov3_loss", _port(_v3_terms(_best_anchor_per_scale)),
            "eriklindernoren's per-scale best anchor: every object positive at every scale", "convention"),
    _mutant("yolov3_first_object_keeps_the_prediction", "yolov3_loss",
            _port(_v3_terms(_first_object_keeps_the_prediction)),
            "two objects on one prediction: the first keeps its box target instead of the later", "convention"),
    _mutant("yolov3_xy_sum_squared_error", "yolov3_loss", _port(_v3_terms(xy_loss="sse")),
            "the paper's SSE on sigmoid(t_x) instead of darknet's BCE on the logit", "convention"),
    _mutant("yolov3_no_small_box_weight", "yolov3_loss", _port(_v3_terms(box_weight="one")),
            "the 2 - w h weight of the box terms left out", "formula"),
    _mutant("yolov3_positives_in_no_object", "yolov3_loss", _port(_v3_positives_in_no_object),
            "the negatives taken as everything not ignored: positives also pay BCE(z, 0)", "formula"),
    _mutant("yolov3_divided_by_positives", "yolov3_loss", _port(_v3_divided_by_positives),
            "normalised by the number of positives (as SSD, RetinaNet) instead of the number of images",
            "denominator"),
    _mutant("yolov3_sigmoid_derivative_on_xy", "yolov3_loss", (None, _v3_sigmoid_derivative_on_xy),
            "the xy gradient multiplied by sigmoid'(t_x) although the loss is BCE on the logit", "gradient"),
    _mutant("eriklindernoren_means_per_image", ERIK, _port(_erik_terms(per_image=True)),
            "each mean taken per image and averaged over the images, instead of over the whole batch", "denominator"),
    _mutant("eriklindernoren_ignore_at_threshold", ERIK, _port(_erik_terms(_ignore_at_or_above)),
            "an anchor whose shape IoU equals ignore_thresh is ignored (>= for >)", "branch"),
    _mutant("eriklindernoren_best_anchor_of_all_scales", ERIK, _port(_erik_terms(_best_anchor_of_all_scales)),
            "darknet's single best anchor over all scales taken for the per-scale rule", "convention"),
    _mutant("eriklindernoren_noobj_scale_one", ERIK, _port(_erik_terms(noobj_scale=1.0)),
            "the negatives' objectness weighted 1 (as darknet) instead of YOLOLayer's 100", "default"),
    _mutant("eriklindernoren_xy_without_sigmoid_derivative", ERIK, (None, _erik_xy_without_sigmoid_derivative),
            "the MSE on sigmoid(t_x) differentiated w.r.t. the sigmoid output only (sigmoid' dropped)", "gradient"),
]
