"""Mutants of the box coders (Faster R-CNN deltas, SSD offsets, YOLOv3 targets; encoders and decoders).

Most are the wrong implementations of ``tests/test_coders.py``, ported: each coder's formula written with
``autograd.numpy`` with its one bug (marked ``# the bug``), differentiated by autograd, as a port to an array
library would be; or a hand-written VJP with its one bug beside refloss's correct forward. ``_Port`` supplies the
plumbing that is right: it validates every call with refloss's own coder (same errors, same messages), fills in
the registry's defaults, and sums the gradient of a broadcast reference over the rows it served.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import autograd
import autograd.numpy as anp
import numpy as np

import refloss
from refloss.boxes import coders as right

from ._base import Mutant
from ._port import unbroadcast

CLIP = math.log(1000.0 / 16)


# ---- the plumbing a port gets right ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Port:
    """A coder in the ``module:`` convention from ``formula(*inputs, **params)`` in autograd.numpy.

    Every call is first validated by refloss's coder of that name (so that invalid input raises what it should);
    the VJP is autograd's, with respect to each differentiable input (None for the integer cells).
    """

    coder: str
    formula: Callable[..., Any]
    defaults: tuple[tuple[str, Any], ...] = ()  # a port's own defaults, where they differ from the registry's

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        defaults = {p.name: p.default for p in refloss.registry.get(self.coder).params}
        return {**defaults, **dict(self.defaults), **params}

    def forward(self, *inputs: Any, **params: Any) -> np.ndarray:
        params = self._params(params)
        refloss.registry.get(self.coder).forward(*inputs, **params)  # validation only
        arrays = [np.asarray(x, np.float64) for x in inputs]
        return np.asarray(self.formula(*arrays, **params), dtype=np.float64)

    def vjp(self, grad_output: Any, *inputs: Any, **params: Any) -> tuple:
        params = self._params(params)
        spec = refloss.registry.get(self.coder)
        spec.forward(*inputs, **params)  # validation only
        arrays = [np.asarray(x, np.float64) for x in inputs]
        grad = np.asarray(grad_output, np.float64)
        grads = []
        for index, declared in enumerate(spec.inputs):
            if not declared.differentiable:
                grads.append(None)
                continue
            full = np.broadcast_to(arrays[index], grad.shape[:-1] + arrays[index].shape[-1:]).copy()

            def of_one(x: Any, index: int = index) -> Any:
                return self.formula(*arrays[:index], x, *arrays[index + 1:], **params)

            back, _ = autograd.make_vjp(of_one)(full)
            grads.append(unbroadcast(back(grad), arrays[index].shape) if full.size else np.zeros_like(arrays[index]))
        return tuple(grads)


def _mutant(name: str, coder: str, formula: Callable[..., Any], description: str, category: str,
            defaults: tuple[tuple[str, Any], ...] = ()) -> Mutant:
    port = _Port(coder, formula, defaults)
    return Mutant(name, coder, port.forward, port.vjp, description, category)


# ---- the geometry, right -------------------------------------------------------------------------------------------

def _centre_size(boxes: Any) -> tuple[Any, Any]:
    size = boxes[..., 2:] - boxes[..., :2]
    return boxes[..., :2] + 0.5 * size, size


def _corners(centre: Any, size: Any) -> Any:
    return anp.concatenate([centre - 0.5 * size, centre + 0.5 * size], axis=-1)


# ---- Faster R-CNN --------------------------------------------------------------------------------------------------

def _encode_plus_one(boxes, anchors, *, weights):
    """py-faster-rcnn's bbox_transform: pixel-inclusive widths."""
    size = boxes[..., 2:] - boxes[..., :2] + 1.0  # the bug
    anchor_size = anchors[..., 2:] - anchors[..., :2] + 1.0  # the bug
    centre, anchor_centre = boxes[..., :2] + 0.5 * size, anchors[..., :2] + 0.5 * anchor_size
    w = np.array(weights)
    return anp.concatenate([w[:2] * (centre - anchor_centre) / anchor_size, w[2:] * anp.log(size / anchor_size)], -1)


def _encode_dividing_by_weights(boxes, anchors, *, weights):
    """Targets divided by the weights (py-faster-rcnn's stds are divisors; torchvision's weights multiply)."""
    (c, s), (ac, asz) = _centre_size(boxes), _centre_size(anchors)
    w = 1.0 / np.array(weights)  # the bug
    return anp.concatenate([w[:2] * (c - ac) / asz, w[2:] * anp.log(s / asz)], -1)


def _encode_log_ratio_inverted(boxes, anchors, *, weights):
    (c, s), (ac, asz) = _centre_size(boxes), _centre_size(anchors)
    w = np.array(weights)
    return anp.concatenate([w[:2] * (c - ac) / asz, w[2:] * anp.log(asz / s)], -1)  # the bug: ln(a_w / g_w)


def _encode_offset_over_box_size(boxes, anchors, *, weights):
    """The centre offset measured in the box's own size instead of the anchor's."""
    (c, s), (ac, asz) = _centre_size(boxes), _centre_size(anchors)
    w = np.array(weights)
    return anp.concatenate([w[:2] * (c - ac) / s, w[2:] * anp.log(s / asz)], -1)  # the bug: / s


def _encode_vjp_anchor_width_once(grad_output, boxes, anchors, *, weights=right.RPN_WEIGHTS):
    """A hand-written VJP that counts the anchor width in the size code only, forgetting t_x = w_x dx / a_w."""
    grad_boxes, grad_anchors = right.encode_boxes_vjp(grad_output, boxes, anchors, weights=weights)
    codes = right.encode_boxes(boxes, anchors, weights=weights)
    grad = np.asarray(grad_output, np.float64)
    _, anchor_size = _centre_size(np.asarray(anchors, np.float64))
    missing = codes[..., :2] * grad[..., :2] / anchor_size  # the term -t_x g_tx / a_w the bug leaves out
    correction = np.concatenate([-missing, missing], axis=-1)  # (G2): a_w's cotangent is m too high
    return grad_boxes, grad_anchors + unbroadcast(correction, np.shape(anchors))


def _encode_vjp_broadcast_anchor_averaged(grad_output, boxes, anchors, *, weights=right.RPN_WEIGHTS):
    """A broadcast anchor's gradient averaged over the rows it served instead of summed."""
    grad_boxes, grad_anchors = right.encode_boxes_vjp(grad_output, boxes, anchors, weights=weights)
    served = np.prod(np.shape(grad_output)) // max(np.prod(np.shape(anchors)), 1)  # rows per anchor
    return grad_boxes, grad_anchors / max(served, 1)  # the bug


def _decode(deltas, anchors, *, weights, clamp, size_code):
    w = np.array(weights)
    anchor_centre, anchor_size = _centre_size(anchors)
    centre = deltas[..., :2] / w[:2] * anchor_size + anchor_centre
    return _corners(centre, anp.exp(size_code(deltas[..., 2:], w[2:], clamp)) * anchor_size)


def _clamped(code, clamp):
    return anp.where(code < clamp, code, clamp)


def _decode_clamp_first(deltas, anchors, *, weights, clamp):
    return _decode(deltas, anchors, weights=weights, clamp=clamp,
                   size_code=lambda t, w, c: _clamped(t, c) / w)  # the bug: clamp, then divide


def _decode_exp_of_weighted(deltas, anchors, *, weights, clamp):
    return _decode(deltas, anchors, weights=weights, clamp=clamp,
                   size_code=lambda t, w, c: _clamped(t, c))  # the bug: e^{t_w}, not e^{t_w / w_w}


def _decode_clamped_both_ways(deltas, anchors, *, weights, clamp):
    return _decode(deltas, anchors, weights=weights, clamp=clamp,
                   size_code=lambda t, w, c: anp.clip(t / w, -c, c))  # the bug: mmdetection's max_ratio, both sides


def _decode_vjp_through_the_clamp(grad_output, deltas, anchors, *, weights=right.RPN_WEIGHTS, clamp=CLIP):
    """The derivative of e^{t_w / w_w} everywhere: the gradient passes the clamp."""
    return right.decode_boxes_vjp(grad_output, deltas, anchors, weights=weights, clamp=math.inf)  # the bug


def _decode_vjp_anchor_width_from_size_only(grad_output, deltas, anchors, *, weights=right.RPN_WEIGHTS,
                                            clamp=CLIP):
    """A hand-written VJP that forgets c_x = d_x a_w + a_cx depends on a_w (the d_x c_bar term of (G6))."""
    grad_deltas, grad_anchors = right.decode_boxes_vjp(grad_output, deltas, anchors, weights=weights, clamp=clamp)
    grad = np.asarray(grad_output, np.float64)
    centre_code = np.asarray(deltas, np.float64)[..., :2] / np.array(weights)[:2]
    missing = centre_code * (grad[..., :2] + grad[..., 2:])  # d_x c_bar
    correction = np.concatenate([missing, -missing], axis=-1)
    return grad_deltas, grad_anchors + unbroadcast(correction, np.shape(anchors))


# ---- SSD -----------------------------------------------------------------------------------------------------------

def _ssd_encode(weights_of: Callable[[float, float], tuple]):
    def encode(boxes, priors, *, variances):
        return _encode_dividing_by_weights(boxes, priors, weights=tuple(1 / w for w in weights_of(*variances)))
    return encode


def _ssd_decode(weights_of: Callable[[float, float], tuple]):
    def decode(offsets, priors, *, variances, clamp):
        return _decode(offsets, priors, weights=weights_of(*variances), clamp=clamp,
                       size_code=lambda t, w, c: _clamped(t / w, c))
    return decode


def _encode_ssd_priors_as_centre_form(boxes, priors, *, variances):
    """Caffe's and ssd.pytorch's priors are (cx, cy, w, h): read xyxy priors as such."""
    v_c, v_s = variances
    centre, size = _centre_size(boxes)
    prior_centre, prior_size = priors[..., :2], priors[..., 2:]  # the bug
    return anp.concatenate([(centre - prior_centre) / (v_c * prior_size), anp.log(size / prior_size) / v_s], -1)


# ---- YOLOv3 --------------------------------------------------------------------------------------------------------

def _sigmoid(x):
    return 1.0 / (1.0 + anp.exp(-x))


def _yolo_decode(raw, cells, anchors, *, grid_size, input_size, offset=_sigmoid, size_unit=None, swap_cells=False):
    cells = cells[..., ::-1] if swap_cells else cells
    centre = (cells + offset(raw[..., :2])) / np.array(grid_size, np.float64)
    size = anchors * anp.exp(raw[..., 2:]) / np.array(size_unit or input_size, np.float64)
    return _corners(centre, size)


def _decode_yolo_without_sigmoid(raw, cells, anchors, *, grid_size, input_size):
    return _yolo_decode(raw, cells, anchors, grid_size=grid_size, input_size=input_size,
                        offset=lambda t: t)  # the bug


def _decode_yolo_anchor_over_grid(raw, cells, anchors, *, grid_size, input_size):
    return _yolo_decode(raw, cells, anchors, grid_size=grid_size, input_size=input_size,
                        size_unit=grid_size)  # the bug: anchors in grid cells, as some ports store them


def _decode_yolo_cells_row_column(raw, cells, anchors, *, grid_size, input_size):
    return _yolo_decode(raw, cells, anchors, grid_size=grid_size, input_size=input_size,
                        swap_cells=True)  # the bug


def _decode_yolo_vjp_without_sigmoid_derivative(grad_output, raw, cells, anchors, **params):
    """Darknet's x, y delta (the gradient of BCE on the logits) used as if it were the decode's gradient."""
    grad_raw, none, grad_anchors = right.decode_yolo_boxes_vjp(grad_output, raw, cells, anchors, **params)
    offset = 1 / (1 + np.exp(-np.asarray(raw, np.float64)[..., :2]))
    grad_raw = grad_raw.copy()
    grad_raw[..., :2] /= offset * (1 - offset)  # the bug
    return grad_raw, none, grad_anchors


def _decode_yolo_vjp_ignoring_grad_output(grad_output, raw, cells, anchors, **params):
    """A backward that assumes grad_output is all ones."""
    return right.decode_yolo_boxes_vjp(np.ones(np.shape(grad_output)), raw, cells, anchors, **params)  # the bug


def _yolo_encode(boxes, cells, anchors, *, grid_size, input_size, swap_cells=False, size_unit=None):
    cells = cells[..., ::-1] if swap_cells else cells
    centre, size = _centre_size(boxes)
    net = np.array(size_unit or input_size, np.float64)
    return anp.concatenate([centre * np.array(grid_size, np.float64) - cells, anp.log(size * net / anchors)], -1)


def _encode_yolo_cells_row_column(boxes, cells, anchors, *, grid_size, input_size):
    return _yolo_encode(boxes, cells, anchors, grid_size=grid_size, input_size=input_size,
                        swap_cells=True)  # the bug


def _encode_yolo_sizes_in_grid_units(boxes, cells, anchors, *, grid_size, input_size):
    return _yolo_encode(boxes, cells, anchors, grid_size=grid_size, input_size=input_size,
                        size_unit=grid_size)  # the bug: ln(g_w W / p_w), anchors taken in grid cells


def _encode_yolo_offset_from_cell_centre(boxes, cells, anchors, *, grid_size, input_size):
    targets = _yolo_encode(boxes, cells, anchors, grid_size=grid_size, input_size=input_size)
    return anp.concatenate([targets[..., :2] - 0.5, targets[..., 2:]], -1)  # the bug: offset from the centre


def _encode_yolo_vjp_anchor_sign(grad_output, boxes, cells, anchors, **params):
    """The anchors' gradient with the wrong sign (d ln(g_w n_w / p_w) / dp_w = -1/p_w)."""
    grad_boxes, none, grad_anchors = right.encode_yolo_boxes_vjp(grad_output, boxes, cells, anchors, **params)
    return grad_boxes, none, -grad_anchors  # the bug


MUTANTS = [
    # encode_boxes
    _mutant("encode_pyfasterrcnn_plus_one_width", "encode_boxes", _encode_plus_one,
            "py-faster-rcnn's pixel-inclusive widths x2 - x1 + 1", "convention"),
    _mutant("encode_weights_divide", "encode_boxes", _encode_dividing_by_weights,
            "the weights divide the targets (py-faster-rcnn's stds) instead of multiplying them", "convention"),
    _mutant("encode_log_ratio_inverted", "encode_boxes", _encode_log_ratio_inverted,
            "size target ln(a_w / g_w) instead of ln(g_w / a_w)", "formula"),
    _mutant("encode_offset_over_box_size", "encode_boxes", _encode_offset_over_box_size,
            "centre offset divided by the box's width instead of the anchor's", "formula"),
    Mutant("encode_vjp_anchor_width_once", "encode_boxes", None, _encode_vjp_anchor_width_once,
           "the anchor-width gradient from the size code only, not from t_x = w_x dx / a_w", "gradient"),
    Mutant("encode_vjp_broadcast_anchor_averaged", "encode_boxes", None, _encode_vjp_broadcast_anchor_averaged,
           "a broadcast anchor's gradient averaged over the rows it served instead of summed", "broadcasting"),
    # decode_boxes
    _mutant("decode_clamp_before_dividing_by_weights", "decode_boxes", _decode_clamp_first,
            "min(t_w, clip) / w_w instead of min(t_w / w_w, clip)", "clamp"),
    _mutant("decode_exp_of_weighted_delta", "decode_boxes", _decode_exp_of_weighted,
            "e^{t_w} instead of e^{t_w / w_w}: the weights not undone on the sizes", "formula"),
    _mutant("decode_clamped_from_below_too", "decode_boxes", _decode_clamped_both_ways,
            "size codes clipped to [-clip, clip] (mmdetection's max_ratio) instead of from above only", "clamp"),
    Mutant("decode_gradient_passes_the_clamp", "decode_boxes", None, _decode_vjp_through_the_clamp,
           "the VJP of e^{t_w / w_w} without the clamp: a gradient beyond it", "clamp"),
    Mutant("decode_vjp_anchor_width_from_size_only", "decode_boxes", None, _decode_vjp_anchor_width_from_size_only,
           "the anchor-width gradient forgets that the centre c_x = d_x a_w + a_cx moves with a_w", "gradient"),
    # encode_ssd_boxes
    _mutant("encode_ssd_variances_swapped", "encode_ssd_boxes", _ssd_encode(lambda c, s: (1 / s, 1 / s, 1 / c, 1 / c)),
            "the centre variance on the sizes and the size variance on the centres", "formula"),
    _mutant("encode_ssd_variances_multiplied", "encode_ssd_boxes", _ssd_encode(lambda c, s: (c, c, s, s)),
            "offsets multiplied by the variances when encoding instead of divided", "formula"),
    _mutant("encode_ssd_size_variance_forgotten", "encode_ssd_boxes", _ssd_encode(lambda c, s: (1 / c, 1 / c, 1, 1)),
            "the size offsets not divided by v_s", "formula"),
    _mutant("encode_ssd_priors_as_centre_form", "encode_ssd_boxes", _encode_ssd_priors_as_centre_form,
            "xyxy priors read as (cx, cy, w, h), the Caffe and ssd.pytorch layout", "convention"),
    # decode_ssd_boxes
    _mutant("decode_ssd_variances_swapped", "decode_ssd_boxes", _ssd_decode(lambda c, s: (1 / s, 1 / s, 1 / c, 1 / c)),
            "the centre variance on the sizes and the size variance on the centres", "formula"),
    _mutant("decode_ssd_variances_divided", "decode_ssd_boxes", _ssd_decode(lambda c, s: (c, c, s, s)),
            "offsets divided by the variances when decoding instead of multiplied", "formula"),
    _mutant("decode_ssd_size_variance_forgotten", "decode_ssd_boxes", _ssd_decode(lambda c, s: (1 / c, 1 / c, 1, 1)),
            "the size offsets not multiplied by v_s", "formula"),
    _mutant("decode_ssd_torchvision_clamp_by_default", "decode_ssd_boxes",
            _ssd_decode(lambda c, s: (1 / c, 1 / c, 1 / s, 1 / s)),
            "torchvision's BoxCoder clamp log(1000/16) as the default, where SSD has none", "default",
            defaults=(("clamp", CLIP),)),  # the bug
    # encode_yolo_boxes
    _mutant("encode_yolo_cells_row_column", "encode_yolo_boxes", _encode_yolo_cells_row_column,
            "cells read as (row, column) instead of (column, row)", "convention"),
    _mutant("encode_yolo_sizes_in_grid_units", "encode_yolo_boxes", _encode_yolo_sizes_in_grid_units,
            "size targets ln(g_w W / p_w): anchors taken in grid cells instead of input pixels", "convention"),
    _mutant("encode_yolo_offset_from_cell_centre", "encode_yolo_boxes", _encode_yolo_offset_from_cell_centre,
            "offsets measured from the cell's centre, in [-1/2, 1/2), instead of its corner", "formula"),
    Mutant("encode_yolo_vjp_anchor_sign", "encode_yolo_boxes", None, _encode_yolo_vjp_anchor_sign,
           "the anchors' gradient with the wrong sign", "gradient"),
    # decode_yolo_boxes
    _mutant("decode_yolo_sigmoid_missing", "decode_yolo_boxes", _decode_yolo_without_sigmoid,
            "the raw t_x added to the cell without the sigmoid (YOLOv2's and v3's sigma forgotten)", "formula"),
    _mutant("decode_yolo_anchor_over_grid", "decode_yolo_boxes", _decode_yolo_anchor_over_grid,
            "anchor sizes divided by the grid instead of the input size", "convention"),
    _mutant("decode_yolo_cells_row_column", "decode_yolo_boxes", _decode_yolo_cells_row_column,
            "cells read as (row, column) instead of (column, row)", "convention"),
    Mutant("decode_yolo_vjp_without_sigmoid_derivative", "decode_yolo_boxes", None,
           _decode_yolo_vjp_without_sigmoid_derivative,
           "darknet's x, y delta (the gradient of BCE on the logits) as the decode's gradient: sigma' dropped",
           "gradient"),
    Mutant("decode_yolo_vjp_ignores_grad_output", "decode_yolo_boxes", None, _decode_yolo_vjp_ignoring_grad_output,
           "the backward assumes grad_output is all ones", "cotangent"),
]
