"""Oracles of the box coders: each coder's textbook formula, one output row from one row of each input.

The formulas are those of the papers and the derivation page (``docs/derivations/box_coders.md``), written once
over a namespace ``M`` of operations (``EXACT``: mpmath, the expected values; ``STANDARD``: forward-mode
derivatives with running error bounds, the per-entry tolerance scales), never from refloss's NumPy code:

* Faster R-CNN (Ren et al. eq. 2, R-CNN appendix C): centres and sizes, ``c = (x1 + x2)/2`` and ``w = x2 - x1``;
  ``t_x = w_x (g_cx - a_cx)/a_w``, ``t_w = w_w ln(g_w/a_w)``; decoding divides by the weights, clamps the size
  codes from above at ``clamp`` (torchvision's ``bbox_xform_clip``) and inverts.
* SSD (Liu et al. eq. 2, Caffe's ``EncodeBBox``): the offsets divided by the variances ``(v_c, v_s)``, and
  multiplied by them when decoding, with an optional clamp on ``v_s l_w``.
* YOLOv3 (darknet's ``get_yolo_box`` and ``delta_yolo_box``): ``b_x = (i + sigma(t_x))/W``,
  ``b_w = p_w e^{t_w}/n_w``; the targets ``g_x W - i`` and ``ln(g_w n_w/p_w)``.

The decoders' clamp is the one kink: where a size code equals the clamp exactly, ``at_kink`` says so and the
derivative with respect to that code is taken one-sided (1 times the slope from below, 0 from above).
"""

from __future__ import annotations

import math
from typing import Any

from refloss.conformance.oracle.functions import RowOracle

__all__ = ["ORACLES"]

# The coders' documented defaults (a case that leaves a parameter out means its default).
_RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
_BBOX_XFORM_CLIP = math.log(1000.0 / 16)  # the float64 value refloss and torchvision compare against
_SSD_VARIANCES = (0.1, 0.2)
_GRID_SIZE = (13, 13)
_INPUT_SIZE = (416, 416)


def _param(params: dict, name: str, default: Any) -> Any:
    value = params.get(name)
    return default if value is None else value


def _centre_size(box: list) -> tuple[list, list]:
    """((c_x, c_y), (w, h)) of an xyxy box, the textbook way: c = (x1 + x2)/2, w = x2 - x1."""
    return [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], [box[2] - box[0], box[3] - box[1]]


def _corners(centre: list, size: list) -> list:
    """The xyxy box of centre c and size w: c -/+ w/2."""
    return [centre[0] - size[0] / 2, centre[1] - size[1] / 2, centre[0] + size[0] / 2, centre[1] + size[1] / 2]


def _clamped(M: Any, code: Any, bound: Any) -> Any:
    """min(code, bound): the bound itself (a constant, no derivative) from the bound on, as torch.clamp; a NaN
    code stays NaN (IEEE 754's minimum and torch.clamp propagate it)."""
    return M.const(bound) if M.val(code) >= bound else code


# ---- Faster R-CNN -------------------------------------------------------------------------------------------------

def _encode(M: Any, box: list, anchor: list, weights: list) -> list:
    (g_c, g_s), (a_c, a_s) = _centre_size(box), _centre_size(anchor)
    return [weights[k] * (g_c[k] - a_c[k]) / a_s[k] for k in (0, 1)] + \
           [weights[2 + k] * M.log(g_s[k] / a_s[k]) for k in (0, 1)]


def _decode(M: Any, code: list, anchor: list, centre_scale: list, size_scale: list, bound: Any) -> list:
    """A box from a code: d_x = code_x * centre_scale, d_w = min(code_w * size_scale, bound), then
    c_x = d_x a_w + a_cx and w = a_w e^{d_w} (centre_scale = 1/w_x for Faster R-CNN, v_c for SSD)."""
    a_c, a_s = _centre_size(anchor)
    centre = [code[k] * centre_scale[k] * a_s[k] + a_c[k] for k in (0, 1)]
    size = [a_s[k] * M.exp(_clamped(M, code[2 + k] * size_scale[k], bound)) for k in (0, 1)]
    return _corners(centre, size)


def _encode_boxes(M: Any, rows: dict, params: dict) -> list:
    return _encode(M, rows["boxes"], rows["anchors"], list(_param(params, "weights", _RPN_WEIGHTS)))


def _decode_boxes(M: Any, rows: dict, params: dict) -> list:
    w = list(_param(params, "weights", _RPN_WEIGHTS))
    return _decode(M, rows["deltas"], rows["anchors"], [1 / w[0], 1 / w[1]], [1 / w[2], 1 / w[3]],
                   _param(params, "clamp", _BBOX_XFORM_CLIP))


def _decode_boxes_kink(rows: dict, name: str, k: int, params: dict) -> bool:
    """t_w / w_w (k = 2) or t_h / w_h (k = 3) equals the clamp exactly."""
    w = list(_param(params, "weights", _RPN_WEIGHTS))
    return name == "deltas" and k >= 2 and rows[name][k] / w[k] == _param(params, "clamp", _BBOX_XFORM_CLIP)


# ---- SSD ----------------------------------------------------------------------------------------------------------

def _encode_ssd_boxes(M: Any, rows: dict, params: dict) -> list:
    v_c, v_s = _param(params, "variances", _SSD_VARIANCES)
    (g_c, g_s), (d_c, d_s) = _centre_size(rows["boxes"]), _centre_size(rows["priors"])
    return [(g_c[k] - d_c[k]) / (v_c * d_s[k]) for k in (0, 1)] + [M.log(g_s[k] / d_s[k]) / v_s for k in (0, 1)]


def _decode_ssd_boxes(M: Any, rows: dict, params: dict) -> list:
    v_c, v_s = _param(params, "variances", _SSD_VARIANCES)
    return _decode(M, rows["offsets"], rows["priors"], [v_c, v_c], [v_s, v_s], _param(params, "clamp", math.inf))


def _decode_ssd_boxes_kink(rows: dict, name: str, k: int, params: dict) -> bool:
    """v_s l_w (k = 2) or v_s l_h (k = 3) equals the clamp exactly."""
    v_s = _param(params, "variances", _SSD_VARIANCES)[1]
    return name == "offsets" and k >= 2 and v_s * rows[name][k] == _param(params, "clamp", math.inf)


# ---- YOLOv3 -------------------------------------------------------------------------------------------------------

def _decode_yolo_boxes(M: Any, rows: dict, params: dict) -> list:
    """b_x = (i + sigma(t_x))/W, b_w = p_w e^{t_w}/n_w (y, h likewise), as corners."""
    raw, cell, anchor = rows["raw"], rows["cells"], rows["anchors"]
    grid, net = _param(params, "grid_size", _GRID_SIZE), _param(params, "input_size", _INPUT_SIZE)
    centre = [(cell[k] + M.sigmoid(raw[k])) / grid[k] for k in (0, 1)]
    size = [anchor[k] * M.exp(raw[2 + k]) / net[k] for k in (0, 1)]
    return _corners(centre, size)


def _encode_yolo_boxes(M: Any, rows: dict, params: dict) -> list:
    """(g_x W - i, g_y H - j, ln(g_w n_w / p_w), ln(g_h n_h / p_h))."""
    box, cell, anchor = rows["boxes"], rows["cells"], rows["anchors"]
    grid, net = _param(params, "grid_size", _GRID_SIZE), _param(params, "input_size", _INPUT_SIZE)
    centre, size = _centre_size(box)
    return [centre[k] * grid[k] - cell[k] for k in (0, 1)] + [M.log(size[k] * net[k] / anchor[k]) for k in (0, 1)]


ORACLES = {
    "encode_boxes": RowOracle(_encode_boxes, output_size=4),
    "decode_boxes": RowOracle(_decode_boxes, _decode_boxes_kink, output_size=4),
    "encode_ssd_boxes": RowOracle(_encode_ssd_boxes, output_size=4),
    "decode_ssd_boxes": RowOracle(_decode_ssd_boxes, _decode_ssd_boxes_kink, output_size=4),
    "encode_yolo_boxes": RowOracle(_encode_yolo_boxes, output_size=4),
    "decode_yolo_boxes": RowOracle(_decode_yolo_boxes, output_size=4),
}
