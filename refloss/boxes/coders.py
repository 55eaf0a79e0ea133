r"""Box coders: a box written relative to a reference box (anchor, proposal, prior or grid cell), and back.

Three codes, each a pair of functions (``encode_*``: box -> code, the regression target; ``decode_*``: code ->
box, what a head's output means), each with its VJP beside it:

* Faster R-CNN deltas (:func:`encode_boxes`, :func:`decode_boxes`), torchvision's ``BoxCoder``: centre offsets in
  units of the anchor's size and log size ratios, times weights ((1, 1, 1, 1) for the RPN, (10, 10, 5, 5) for the
  box head); decoding clamps the size codes at log(1000/16).
* SSD offsets (:func:`encode_ssd_boxes`, :func:`decode_ssd_boxes`): the same code divided by the variances
  (0.1, 0.2), i.e. weights (10, 10, 5, 5).
* YOLOv3 (:func:`encode_yolo_boxes`, :func:`decode_yolo_boxes`), darknet's ``get_yolo_box``: a sigmoid offset
  inside a grid cell and a log size relative to an anchor, in units of the image.

Every box and reference box is ``xyxy`` (refloss's one box format; priors and centre-form boxes go through
``box_convert``). The derivation of every formula and Jacobian is ``docs/derivations/box_coders.md``; the tags
(B1), (F1), ... in the comments refer to its steps.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from refloss._checks import as_real_array, check_grad_output, shape_of
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register
from refloss.boxes._checks import as_boxes, refuse_zero_size

__all__ = [
    "decode_boxes",
    "decode_boxes_vjp",
    "decode_ssd_boxes",
    "decode_ssd_boxes_vjp",
    "decode_yolo_boxes",
    "decode_yolo_boxes_vjp",
    "encode_boxes",
    "encode_boxes_vjp",
    "encode_ssd_boxes",
    "encode_ssd_boxes_vjp",
    "encode_yolo_boxes",
    "encode_yolo_boxes_vjp",
]

# torchvision's bbox_xform_clip (from Detectron and maskrcnn-benchmark; py-faster-rcnn has none): no decoded box is
# more than 1000/16 = 62.5 times wider or taller than its anchor, and exp stays far from overflow.
BBOX_XFORM_CLIP = math.log(1000.0 / 16)
RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
BOX_HEAD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
SSD_VARIANCES = (0.1, 0.2)
POSITIVE = Interval(0.0, math.inf)

WEIGHTS = Param("weights", default=RPN_WEIGHTS, domain=POSITIVE, kind="tuple",
                description="(w_x, w_y, w_w, w_h), each positive and finite: the factors on the centre and size "
                            "codes; (1, 1, 1, 1) for the RPN, (10, 10, 5, 5) for the Faster R-CNN box head",
                grid=(RPN_WEIGHTS, BOX_HEAD_WEIGHTS))
CLAMP = Param("clamp", default=BBOX_XFORM_CLIP, domain=Interval(-math.inf, math.inf, high_closed=True),
              description="upper bound on the size codes d_w, d_h (after dividing by the weights) before exp; "
                          "math.inf for none",
              grid=(BBOX_XFORM_CLIP, math.inf))
SSD_CLAMP = Param("clamp", default=math.inf, domain=CLAMP.domain,
                  description="upper bound on the log size ratios before exp; none by default (Caffe, the SSD "
                              "ports); torchvision's SSD decodes with log(1000/16)",
                  grid=(math.inf, BBOX_XFORM_CLIP))
VARIANCES = Param("variances", default=SSD_VARIANCES, domain=POSITIVE, kind="tuple",
                  description="(v_centre, v_size), each positive and finite: the codes are divided by them",
                  grid=(SSD_VARIANCES,))
GRID_SIZE = Param("grid_size", default=(13, 13), domain=POSITIVE, kind="tuple",
                  description="(W, H): grid columns and rows at this scale, positive integers (13 x 13 is "
                              "YOLOv3's coarsest scale at 416 x 416)", grid=((13, 13), (26, 26), (52, 52)))
INPUT_SIZE = Param("input_size", default=(416, 416), domain=POSITIVE, kind="tuple",
                   description="(net_w, net_h): the network's input size in pixels, the unit of the anchors",
                   grid=((416, 416), (608, 608)))


# ---- validation --------------------------------------------------------------------------------------------------

def _positive_tuple(value: Any, name: str, labels: tuple[str, ...], integer: bool = False) -> tuple[float, ...]:
    """``value`` as a tuple of len(labels) positive finite numbers (integers if ``integer``), or a clear error."""
    kind = "positive integers" if integer else "positive finite numbers"
    expected = f"{name} must be {len(labels)} {kind} ({', '.join(labels)})"
    try:
        entries = tuple(np.asarray(value, dtype=object).reshape(-1)) if np.ndim(value) == 1 else None
    except (TypeError, ValueError):
        entries = None
    if entries is None or len(entries) != len(labels):
        raise ValueError(f"{expected}, got {value!r}")
    for label, entry in zip(labels, entries):
        if isinstance(entry, (bool, np.bool_)) or not isinstance(entry, numbers.Real):
            raise TypeError(f"{expected}, got {label} = {entry!r} of type {type(entry).__name__}")
        if not (math.isfinite(entry) and entry > 0) or (integer and float(entry) != int(entry)):
            raise ValueError(f"{expected}, got {label} = {entry!r} in {value!r}")
    return tuple(int(e) if integer else float(e) for e in entries)


def _check_clamp(clamp: Any) -> float:
    return CLAMP.check(clamp)


def _broadcast_check(shape: tuple[int, ...], target: tuple[int, ...], name: str, first: str) -> None:
    """``name`` (shape ``shape``) must broadcast to ``target`` (set by the first input) without enlarging it."""
    try:
        fits = np.broadcast_shapes(shape, target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name} must broadcast to shape {target} without enlarging it (one per entry of {first}, "
                         f"or shared along dimensions of size 1), got shape {shape}")


def _as_reference_boxes(value: Any, name: str, first_shape: tuple[int, ...], first: str) -> Any:
    """Anchors, proposals or priors: valid ``xyxy`` boxes of positive width and height that broadcast to the
    first input. A code is relative to the reference's size, so a reference of zero width has no code."""
    boxes = as_boxes(value, name)
    _broadcast_check(shape_of(boxes), first_shape, name, first)
    refuse_zero_size(boxes, name, "a reference box needs a positive width and height: codes are measured in "
                                   "units of its size")
    return boxes


def _as_encoded_boxes(value: Any, name: str = "boxes") -> Any:
    """Boxes to encode: valid ``xyxy`` of positive size (the log-space size code of a zero width is -inf)."""
    boxes = as_boxes(value, name)
    refuse_zero_size(boxes, name, "its log-space size code would be -inf (torchvision's detection models refuse "
                                   "such ground truths too: 'All bounding boxes should have positive height and "
                                   "width')")
    return boxes


def _as_codes(value: Any, name: str, last: int = 4) -> Any:
    codes = as_real_array(value, name)
    shape = shape_of(codes)
    if not shape or shape[-1] != last:
        raise ValueError(f"{name} must have shape (..., {last}), got shape {shape}")
    return codes


def _as_cells(value: Any, first_shape: tuple[int, ...], first: str, grid_size: tuple[int, int]) -> np.ndarray:
    """Grid cells (i, j) = (column, row): integers with 0 <= i < W and 0 <= j < H, broadcasting to the boxes."""
    cells = getval(as_real_array(value, "cells"))
    if cells.ndim == 0 or cells.shape[-1] != 2:
        raise ValueError(f"cells must have shape (..., 2) (column i, row j), got shape {cells.shape}")
    _broadcast_check(cells.shape, first_shape[:-1] + (2,), "cells", first)
    if not np.all(cells == np.floor(cells)):
        fraction = float(cells[cells != np.floor(cells)][0])
        raise ValueError(f"cells must hold integers (column i, row j), got {fraction!r}")
    outside = (cells < 0) | (cells >= np.asarray(grid_size))
    if np.any(outside):
        index = tuple(int(i) for i in np.argwhere(np.any(outside, axis=-1))[0])
        raise ValueError(f"cells{list(index)} = {cells[index].tolist()} is outside the grid of W x H = "
                         f"{grid_size[0]} x {grid_size[1]} cells (0 <= i < W, 0 <= j < H)")
    return cells


def _as_anchor_sizes(value: Any, first_shape: tuple[int, ...], first: str) -> Any:
    anchors = as_real_array(value, "anchors")
    values = getval(anchors)
    if values.ndim == 0 or values.shape[-1] != 2:
        raise ValueError(f"anchors must have shape (..., 2) (p_w, p_h in pixels), got shape {values.shape}")
    _broadcast_check(values.shape, first_shape[:-1] + (2,), "anchors", first)
    if not np.all(values > 0):
        index = tuple(int(i) for i in np.argwhere(~np.all(values > 0, axis=-1))[0])
        raise ValueError(f"anchors{list(index)} = {values[index].tolist()}: anchor sizes (p_w, p_h) must be "
                         f"positive (the size code is log(w / p_w))")
    return anchors


def _sum_to_shape(gradient: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The gradient of an input that was broadcast to ``gradient.shape``: summed over the broadcast dimensions."""
    extra = gradient.ndim - len(shape)
    gradient = gradient.sum(axis=tuple(range(extra))) if extra else gradient
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and gradient.shape[axis] != 1)
    return gradient.sum(axis=stretched, keepdims=True) if stretched else gradient


# ---- shared geometry -------------------------------------------------------------------------------------------

def _centre_size(boxes: Any) -> tuple[Any, Any]:
    """Centres (c_x, c_y) and sizes (w, h) of ``xyxy`` boxes, each of shape (..., 2), in torchvision's order of
    operations: w = x2 - x1, then c = x1 + w/2 (B1)."""
    size = boxes[..., 2:] - boxes[..., :2]
    return boxes[..., :2] + 0.5 * size, size


def _corners(centre: Any, size: Any) -> Any:
    """``xyxy`` boxes from centres and sizes: c -/+ w/2 (B2)."""
    half = 0.5 * size
    return anp.concatenate([centre - half, centre + half], axis=-1)


def _corner_cotangents(grad_centre: np.ndarray, grad_size: np.ndarray) -> np.ndarray:
    """Cotangents of (c, w) pulled back to the corners through (B1): c = (x1 + x2)/2 and w = x2 - x1 give
    x1 <- g_c/2 - g_w and x2 <- g_c/2 + g_w (G2)."""
    return np.concatenate([0.5 * grad_centre - grad_size, 0.5 * grad_centre + grad_size], axis=-1)


def _centre_size_cotangents(grad_corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cotangents of corners pushed to (c, w) through (B2): x1 = c - w/2 and x2 = c + w/2 give g_c = g_x1 + g_x2
    and g_w = (g_x2 - g_x1)/2 (G1)."""
    return grad_corners[..., :2] + grad_corners[..., 2:], 0.5 * (grad_corners[..., 2:] - grad_corners[..., :2])


# ---- Faster R-CNN deltas -----------------------------------------------------------------------------------------

def encode_boxes(boxes: Any, anchors: Any, *, weights: Any = RPN_WEIGHTS) -> Any:
    r"""Faster R-CNN box deltas of ``boxes`` relative to ``anchors`` (torchvision's ``BoxCoder.encode_single``).

    Definition:
        With centres and sizes :math:`c = x_1 + w/2`, :math:`w = x_2 - x_1` of a box :math:`g` and an anchor
        :math:`a` (likewise in y), and weights :math:`(w_x, w_y, w_w, w_h)`,

        .. math::
            t_x = w_x \frac{g_{cx} - a_{cx}}{a_w}, \quad t_y = w_y \frac{g_{cy} - a_{cy}}{a_h}, \quad
            t_w = w_w \ln(g_w / a_w), \quad t_h = w_h \ln(g_h / a_h)  \qquad \text{(F1, F2)}

    Gradient:
        With the cotangent :math:`\bar t` of the deltas, through the centre and size of each box,

        .. math::
            \bar g_{cx} = \frac{w_x \bar t_x}{a_w}, \quad \bar g_w = \frac{w_w \bar t_w}{g_w}, \quad
            \bar a_{cx} = -\bar g_{cx}, \quad \bar a_w = -\frac{t_x \bar t_x + w_w \bar t_w}{a_w}
            \qquad \text{(G3, G4)}

        and then the corners: :math:`\bar x_1 = \bar c/2 - \bar w` and :math:`\bar x_2 = \bar c/2 + \bar w`
        (G2); y likewise. Smooth wherever both boxes have positive width and height.

    Conventions:
        Continuous widths :math:`x_2 - x_1` (torchvision), not py-faster-rcnn's :math:`x_2 - x_1 + 1`. No clamp
        when encoding (torchvision clamps only when decoding). Boxes and anchors of zero width or height are
        refused (their codes are infinite), as are inverted boxes and non-positive weights. The VJP returns
        gradients with respect to both the boxes and the anchors: the code is a smooth function of both, and a
        detector loss that holds its anchors constant (all of them do) simply ignores the second.

    Shapes:
        ``boxes``: ``(..., 4)``; ``anchors``: ``(..., 4)`` broadcasting to the shape of ``boxes`` without
        enlarging it. Output: the shape of ``boxes``.

    Args:
        boxes: Boxes to encode (ground truths), ``xyxy``.
        anchors: Reference boxes (anchors or proposals), ``xyxy``, of positive width and height.
        weights: :math:`(w_x, w_y, w_w, w_h)`, positive; (1, 1, 1, 1) for the RPN (default), (10, 10, 5, 5)
            for the box head.

    Returns:
        The deltas :math:`(t_x, t_y, t_w, t_h)` in float64.

    References:
        Girshick, R. et al. "Rich feature hierarchies for accurate object detection", CVPR 2014, appendix C:
        https://arxiv.org/abs/1311.2524.
        Ren, S. et al. "Faster R-CNN", NeurIPS 2015, eq. (2): https://arxiv.org/abs/1506.01497.
        torchvision ``models/detection/_utils.py`` (``encode_boxes``, ``BoxCoder``):
        https://github.com/pytorch/vision/blob/main/torchvision/models/detection/_utils.py

    Examples:
        >>> encode_boxes([100, 120, 300, 280], [90, 100, 290, 300], weights=(10, 10, 5, 5)).round(6).tolist()
        [0.5, 0.0, 0.0, -1.115718]
    """
    weights = _positive_tuple(weights, "weights", ("w_x", "w_y", "w_w", "w_h"))
    boxes = _as_encoded_boxes(boxes)
    anchors = _as_reference_boxes(anchors, "anchors", shape_of(boxes), "boxes")
    box_centre, box_size = _centre_size(boxes)  # (B1)
    anchor_centre, anchor_size = _centre_size(anchors)
    centre_weights, size_weights = np.array(weights[:2]), np.array(weights[2:])
    centre_code = centre_weights * (box_centre - anchor_centre) / anchor_size  # (F1)
    size_code = size_weights * anp.log(box_size / anchor_size)  # (F2)
    return anp.concatenate([centre_code, size_code], axis=-1)


def encode_boxes_vjp(grad_output: Any, boxes: Any, anchors: Any, *,
                     weights: Any = RPN_WEIGHTS) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`encode_boxes` with respect to ``(boxes, anchors)``.

    ``grad_output`` has the shape of the deltas. The anchors' gradient is summed over the dimensions along which
    they were broadcast. See :func:`encode_boxes`, "Gradient".
    """
    codes = encode_boxes(boxes, anchors, weights=weights)  # validates everything
    grad = check_grad_output(grad_output, codes.shape)
    weights = np.array(_positive_tuple(weights, "weights", ("w_x", "w_y", "w_w", "w_h")))
    boxes, anchors = as_real_array(boxes, "boxes"), as_real_array(anchors, "anchors")
    _, box_size = _centre_size(boxes)
    _, anchor_size = _centre_size(anchors)
    grad_centre_code, grad_size_code = grad[..., :2], grad[..., 2:]
    grad_box_centre = weights[:2] * grad_centre_code / anchor_size  # (G3)
    grad_box_size = weights[2:] * grad_size_code / box_size
    grad_anchor_centre = -grad_box_centre  # (G4)
    grad_anchor_size = -(codes[..., :2] * grad_centre_code + weights[2:] * grad_size_code) / anchor_size
    grad_boxes = _corner_cotangents(grad_box_centre, grad_box_size)  # (G2)
    grad_anchors = _corner_cotangents(grad_anchor_centre, grad_anchor_size)
    return grad_boxes, _sum_to_shape(grad_anchors, anchors.shape)


def decode_boxes(deltas: Any, anchors: Any, *, weights: Any = RPN_WEIGHTS, clamp: float = BBOX_XFORM_CLIP) -> Any:
    r"""Boxes from Faster R-CNN deltas relative to ``anchors`` (torchvision's ``BoxCoder.decode_single``).

    Definition:
        Divide by the weights and clamp the size codes from above, then undo (F1, F2):

        .. math::
            d = \bigl(\tfrac{t_x}{w_x}, \tfrac{t_y}{w_y}, \min(\tfrac{t_w}{w_w}, \tau),
            \min(\tfrac{t_h}{w_h}, \tau)\bigr), \quad
            c_x = d_x a_w + a_{cx}, \quad w = a_w e^{d_w}, \quad
            (x_1, x_2) = c_x \mp \tfrac12 w  \qquad \text{(F3, F4)}

        (y likewise), with :math:`\tau` = ``clamp``, by default :math:`\ln(1000/16) \approx 4.135`.

    Gradient:
        With :math:`\bar c = \bar x_1 + \bar x_2` and :math:`\bar w = (\bar x_2 - \bar x_1)/2` (G1),

        .. math::
            \bar t_x = \frac{a_w \bar c_x}{w_x}, \quad
            \bar t_w = \frac{w \bar w}{w_w} [\tfrac{t_w}{w_w} < \tau], \quad
            \bar a_{cx} = \bar c_x, \quad \bar a_w = d_x \bar c_x + e^{d_w} \bar w  \qquad \text{(G5, G6)}

        then :math:`\bar a_{x1} = \bar a_{cx}/2 - \bar a_w` and :math:`\bar a_{x2} = \bar a_{cx}/2 + \bar a_w`
        (G2). Beyond the clamp the size code has no effect, so its gradient is 0.

    Conventions:
        The clamp acts on the size codes after dividing by the weights, when decoding only (torchvision,
        Detectron; py-faster-rcnn's ``bbox_transform_inv`` has none); at the clamp point itself
        (:math:`t_w / w_w = \tau` exactly) the derivative is 0, the right-hand one, as ``torch.clamp``'s backward
        gives. ``clamp=math.inf`` disables it. There is no clamp from below: a very negative size code gives a
        box of width 0, never an inverted one. Anchors of zero width or height are refused. The VJP returns
        gradients with respect to the deltas and the anchors.

    Shapes:
        ``deltas``: ``(..., 4)``; ``anchors``: ``(..., 4)`` broadcasting to the shape of ``deltas`` without
        enlarging it (per-class deltas ``(R, K, 4)`` with proposals ``(R, 1, 4)``). Output: the shape of
        ``deltas``.

    Args:
        deltas: The codes :math:`(t_x, t_y, t_w, t_h)`, a regression head's output.
        anchors: Reference boxes (anchors or proposals), ``xyxy``, of positive width and height.
        weights: :math:`(w_x, w_y, w_w, w_h)`, positive; (1, 1, 1, 1) by default, (10, 10, 5, 5) for the head.
        clamp: Upper bound :math:`\tau` on :math:`t_w / w_w` and :math:`t_h / w_h` (default log(1000/16)).

    Returns:
        Boxes ``xyxy`` in float64.

    References:
        Ren, S. et al. "Faster R-CNN", NeurIPS 2015: https://arxiv.org/abs/1506.01497.
        torchvision ``BoxCoder.decode_single``:
        https://github.com/pytorch/vision/blob/main/torchvision/models/detection/_utils.py
        py-faster-rcnn ``lib/fast_rcnn/bbox_transform.py``:
        https://github.com/rbgirshick/py-faster-rcnn/blob/master/lib/fast_rcnn/bbox_transform.py

    Examples:
        >>> decode_boxes([0.5, 0.0, 0.0, -1.115718], [90, 100, 290, 300], weights=(10, 10, 5, 5)).round(3).tolist()
        [100.0, 120.0, 300.0, 280.0]
    """
    weights = _positive_tuple(weights, "weights", ("w_x", "w_y", "w_w", "w_h"))
    clamp = _check_clamp(clamp)
    deltas = _as_codes(deltas, "deltas")
    anchors = _as_reference_boxes(anchors, "anchors", shape_of(deltas), "deltas")
    anchor_centre, anchor_size = _centre_size(anchors)  # (B1)
    centre_code = deltas[..., :2] / np.array(weights[:2])  # (F3)
    size_code = _clamp_from_above(deltas[..., 2:] / np.array(weights[2:]), clamp)
    centre = centre_code * anchor_size + anchor_centre
    size = anp.exp(size_code) * anchor_size
    return _corners(centre, size)  # (F4)


def _clamp_from_above(value: Any, bound: float) -> Any:
    """min(value, bound), written as a ``where`` on ``value >= bound`` so that the derivative at the bound is 0
    (torch.clamp's; autograd's ``minimum`` would split it into 1/2) and a NaN code stays NaN (as in torch.clamp;
    a test ``value < bound`` would turn it into the bound)."""
    return anp.where(value >= bound, bound, value)


def decode_boxes_vjp(grad_output: Any, deltas: Any, anchors: Any, *, weights: Any = RPN_WEIGHTS,
                     clamp: float = BBOX_XFORM_CLIP) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`decode_boxes` with respect to ``(deltas, anchors)``.

    ``grad_output`` has the shape of the boxes. See :func:`decode_boxes`, "Gradient".
    """
    boxes = decode_boxes(deltas, anchors, weights=weights, clamp=clamp)  # validates everything
    grad = check_grad_output(grad_output, boxes.shape)
    weights = np.array(_positive_tuple(weights, "weights", ("w_x", "w_y", "w_w", "w_h")))
    clamp = _check_clamp(clamp)
    deltas, anchors = as_real_array(deltas, "deltas"), as_real_array(anchors, "anchors")
    _, anchor_size = _centre_size(anchors)
    centre_code = deltas[..., :2] / weights[:2]
    size_code = deltas[..., 2:] / weights[2:]
    inside = ~(size_code >= clamp)  # the right-hand derivative at the clamp point: 0; NaN stays inside
    growth = np.exp(np.where(inside, size_code, clamp))  # e^{d_w}
    grad_centre, grad_size = _centre_size_cotangents(grad)  # (G1)
    grad_deltas = np.concatenate([anchor_size * grad_centre / weights[:2],  # (G5)
                                  np.where(inside, growth * anchor_size * grad_size, 0.0) / weights[2:]], axis=-1)
    grad_anchor_size = centre_code * grad_centre + growth * grad_size  # (G6)
    grad_anchors = _corner_cotangents(grad_centre, grad_anchor_size)  # (G2)
    return grad_deltas, _sum_to_shape(grad_anchors, anchors.shape)


# ---- SSD ----------------------------------------------------------------------------------------------------------

def _ssd_weights(variances: Any) -> tuple[float, float, float, float]:
    """SSD's variances as Faster R-CNN weights: dividing by v is multiplying by 1/v (S1)."""
    v_centre, v_size = _positive_tuple(variances, "variances", ("v_centre", "v_size"))
    return 1.0 / v_centre, 1.0 / v_centre, 1.0 / v_size, 1.0 / v_size


def encode_ssd_boxes(boxes: Any, priors: Any, *, variances: Any = SSD_VARIANCES) -> Any:
    r"""SSD's offsets of ``boxes`` relative to default boxes (``priors``), divided by the variances.

    Definition:
        With centres and sizes of a box :math:`g` and a prior :math:`d` and variances :math:`(v_c, v_s)`,

        .. math::
            \hat g_{cx} = \frac{g_{cx} - d_{cx}}{v_c d_w}, \quad \hat g_{cy} = \frac{g_{cy} - d_{cy}}{v_c d_h},
            \quad \hat g_w = \frac{1}{v_s}\ln(g_w / d_w), \quad \hat g_h = \frac{1}{v_s}\ln(g_h / d_h)
            \qquad \text{(S1)}

        which is :func:`encode_boxes` with weights :math:`(1/v_c, 1/v_c, 1/v_s, 1/v_s)`, (10, 10, 5, 5) for
        the default (0.1, 0.2): torchvision's SSD uses exactly that ``BoxCoder``.

    Gradient:
        That of :func:`encode_boxes` with those weights (G2 to G4):

        .. math::
            \bar g_{cx} = \frac{\bar t_x}{v_c d_w}, \quad \bar g_w = \frac{\bar t_w}{v_s g_w}, \quad
            \bar d_{cx} = -\bar g_{cx}, \quad \bar d_w = -\frac{\hat g_{cx} \bar t_x + \bar t_w / v_s}{d_w}

    Conventions:
        Priors are ``xyxy`` like every box in refloss (torchvision's SSD anchors are; the Caffe and ssd.pytorch
        priors are centre form: convert them with ``box_convert(priors, "cxcywh", "xyxy")``). The variances are
        applied by multiplying with 1/v, which agrees with dividing by v (Caffe, ssd.pytorch) to within one or
        two ulps. Boxes and priors of zero width or height are refused. The VJP returns gradients with respect
        to the boxes and the priors.

    Shapes:
        ``boxes``: ``(..., 4)``; ``priors``: ``(..., 4)`` broadcasting to the shape of ``boxes``. Output: the
        shape of ``boxes``.

    Args:
        boxes: Boxes to encode (matched ground truths), ``xyxy``.
        priors: Default boxes, ``xyxy``, of positive width and height.
        variances: :math:`(v_c, v_s)`, positive (default (0.1, 0.2), the SSD code's ``prior_variance``).

    Returns:
        The offsets :math:`(\hat g_{cx}, \hat g_{cy}, \hat g_w, \hat g_h)` in float64.

    References:
        Liu, W. et al. "SSD: Single Shot MultiBox Detector", ECCV 2016, eq. (2): https://arxiv.org/abs/1512.02325.
        Caffe SSD ``src/caffe/util/bbox_util.cpp`` (``EncodeBBox``, CENTER_SIZE):
        https://github.com/weiliu89/caffe/blob/ssd/src/caffe/util/bbox_util.cpp
        torchvision ``models/detection/ssd.py`` (``BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))``):
        https://github.com/pytorch/vision/blob/main/torchvision/models/detection/ssd.py

    Examples:
        >>> encode_ssd_boxes([0.1, 0.2, 0.5, 0.6], [0.15, 0.25, 0.45, 0.55]).round(6).tolist()
        [0.0, 0.0, 1.43841, 1.43841]
    """
    boxes = _as_encoded_boxes(boxes)  # (checked as boxes first, so that their errors are the boxes' own)
    return encode_boxes(boxes, _renamed(priors, boxes, "boxes"), weights=_ssd_weights(variances))


def encode_ssd_boxes_vjp(grad_output: Any, boxes: Any, priors: Any, *,
                         variances: Any = SSD_VARIANCES) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`encode_ssd_boxes` with respect to ``(boxes, priors)``.

    See :func:`encode_ssd_boxes`, "Gradient".
    """
    boxes = _as_encoded_boxes(boxes)
    priors = _renamed(priors, boxes, "boxes")
    return encode_boxes_vjp(grad_output, boxes, priors, weights=_ssd_weights(variances))


def decode_ssd_boxes(offsets: Any, priors: Any, *, variances: Any = SSD_VARIANCES, clamp: float = math.inf) -> Any:
    r"""Boxes from SSD's offsets relative to default boxes (``priors``).

    Definition:
        Multiply by the variances and undo (S1):

        .. math::
            c_x = v_c l_{cx} d_w + d_{cx}, \quad w = d_w e^{\min(v_s l_w, \tau)}, \quad
            (x_1, x_2) = c_x \mp \tfrac12 w

        (y likewise): :func:`decode_boxes` with weights :math:`(1/v_c, 1/v_c, 1/v_s, 1/v_s)`.

    Gradient:
        That of :func:`decode_boxes` with those weights (G1, G5, G6, G2):

        .. math::
            \bar l_{cx} = v_c d_w \bar c_x, \quad \bar l_w = v_s w \bar w \, [v_s l_w < \tau]

    Conventions:
        No clamp by default (the SSD paper, Caffe and ssd.pytorch decode without one); torchvision's SSD decodes
        through ``BoxCoder`` and so clamps :math:`v_s l_w` at log(1000/16): pass ``clamp=math.log(1000 / 16)``
        to reproduce it. At the clamp point the derivative is 0 (``torch.clamp``). Priors are ``xyxy``, of
        positive size. The VJP returns gradients with respect to the offsets and the priors.

    Shapes:
        ``offsets``: ``(..., 4)``; ``priors``: ``(..., 4)`` broadcasting to the shape of ``offsets``. Output: the
        shape of ``offsets``.

    Args:
        offsets: The codes :math:`(l_{cx}, l_{cy}, l_w, l_h)`, the localisation head's output.
        priors: Default boxes, ``xyxy``, of positive width and height.
        variances: :math:`(v_c, v_s)`, positive (default (0.1, 0.2)).
        clamp: Upper bound :math:`\tau` on :math:`v_s l_w` and :math:`v_s l_h` (default none).

    Returns:
        Boxes ``xyxy`` in float64.

    References:
        Liu, W. et al. "SSD: Single Shot MultiBox Detector", ECCV 2016: https://arxiv.org/abs/1512.02325.
        Caffe SSD ``DecodeBBox``: https://github.com/weiliu89/caffe/blob/ssd/src/caffe/util/bbox_util.cpp
        torchvision ``models/detection/ssd.py``:
        https://github.com/pytorch/vision/blob/main/torchvision/models/detection/ssd.py

    Examples:
        >>> decode_ssd_boxes([0.0, 0.0, 1.43841, 1.43841], [0.15, 0.25, 0.45, 0.55]).round(5).tolist()
        [0.1, 0.2, 0.5, 0.6]
    """
    priors = _renamed(priors, offsets, "offsets")
    return decode_boxes(offsets, priors, weights=_ssd_weights(variances), clamp=clamp)


def decode_ssd_boxes_vjp(grad_output: Any, offsets: Any, priors: Any, *, variances: Any = SSD_VARIANCES,
                         clamp: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`decode_ssd_boxes` with respect to ``(offsets, priors)``.

    See :func:`decode_ssd_boxes`, "Gradient".
    """
    priors = _renamed(priors, offsets, "offsets")
    return decode_boxes_vjp(grad_output, offsets, priors, weights=_ssd_weights(variances), clamp=clamp)


def _renamed(priors: Any, first: Any, first_name: str) -> Any:
    """Validate ``priors`` under their own name before the Faster R-CNN coder sees them as "anchors"."""
    first_shape = shape_of(_as_codes(first, first_name))
    return _as_reference_boxes(priors, "priors", first_shape, first_name)


# ---- YOLOv3 -------------------------------------------------------------------------------------------------------

def _yolo_scales(grid_size: Any, input_size: Any) -> tuple[np.ndarray, np.ndarray]:
    grid = np.array(_positive_tuple(grid_size, "grid_size", ("W", "H"), integer=True), dtype=np.float64)
    net = np.array(_positive_tuple(input_size, "input_size", ("net_w", "net_h")))
    return grid, net


def decode_yolo_boxes(raw: Any, cells: Any, anchors: Any, *, grid_size: Any = (13, 13),
                      input_size: Any = (416, 416)) -> Any:
    r"""Boxes from YOLOv3's raw box outputs: a sigmoid offset in a grid cell, a log size relative to an anchor.

    Definition:
        For raw outputs :math:`(t_x, t_y, t_w, t_h)` in cell :math:`(i, j)` (column, row) of a :math:`W \times H`
        grid, an anchor :math:`(p_w, p_h)` in pixels and a network input of :math:`n_w \times n_h` pixels
        (darknet's ``get_yolo_box``),

        .. math::
            b_x = \frac{i + \sigma(t_x)}{W}, \quad b_y = \frac{j + \sigma(t_y)}{H}, \quad
            b_w = \frac{p_w e^{t_w}}{n_w}, \quad b_h = \frac{p_h e^{t_h}}{n_h}  \qquad \text{(Y1)}

        in units of the image (0 to 1), returned as corners :math:`b_x \mp b_w/2` (B2).

    Gradient:
        With :math:`\bar b_x = \bar x_1 + \bar x_2` and :math:`\bar b_w = (\bar x_2 - \bar x_1)/2` (G1),

        .. math::
            \bar t_x = \frac{\sigma(t_x)(1 - \sigma(t_x))}{W} \bar b_x, \quad \bar t_w = b_w \bar b_w, \quad
            \bar p_w = \frac{b_w}{p_w} \bar b_w  \qquad \text{(G7)}

        (y, h likewise). The cells are integers: no gradient (None).

    Conventions:
        Image units, as darknet (multiply by the image size for pixels); anchors in pixels of the network input,
        as in the cfg files (COCO: (10, 13) ... (373, 326)). The sigmoid derivative is part of the gradient (the
        chain rule; darknet's own deltas omit it for x, y because its loss is BCE on the logits, see the YOLOv3
        loss). No clamp: :math:`t_w > 709` overflows to an infinite width. The VJP returns gradients with respect
        to ``raw`` and ``anchors`` (anchors are hyperparameters in YOLOv3, but the map is smooth in them), and
        None for ``cells``.

    Shapes:
        ``raw``: ``(..., 4)``; ``cells``: ``(..., 2)`` and ``anchors``: ``(..., 2)``, each broadcasting to the
        leading shape of ``raw`` (a head ``(B, A, H, W, 4)`` with cells ``(H, W, 2)`` and anchors
        ``(A, 1, 1, 2)``). Output: the shape of ``raw``.

    Args:
        raw: The raw box outputs :math:`(t_x, t_y, t_w, t_h)` (before any activation).
        cells: Integer cells :math:`(i, j)`, :math:`0 \le i < W`, :math:`0 \le j < H`.
        anchors: Anchor sizes :math:`(p_w, p_h)` in pixels, positive.
        grid_size: :math:`(W, H)`, positive integers (default (13, 13)).
        input_size: :math:`(n_w, n_h)` in pixels (default (416, 416)).

    Returns:
        Boxes ``xyxy`` in image units, float64.

    References:
        Redmon, J., Farhadi, A. "YOLOv3: An Incremental Improvement", 2018, section 2.1:
        https://arxiv.org/abs/1804.02767.
        darknet ``src/yolo_layer.c`` (``get_yolo_box``):
        https://github.com/pjreddie/darknet/blob/master/src/yolo_layer.c

    Examples:
        >>> decode_yolo_boxes([0.0, 0.0, 0.0, 0.0], [6, 5], [116, 90]).round(6).tolist()
        [0.360577, 0.314904, 0.639423, 0.53125]
    """
    grid, net = _yolo_scales(grid_size, input_size)
    raw = _as_codes(raw, "raw")
    cells = _as_cells(cells, shape_of(raw), "raw", tuple(int(g) for g in grid))
    anchors = _as_anchor_sizes(anchors, shape_of(raw), "raw")
    offset = 1.0 / (1.0 + anp.exp(-raw[..., :2]))  # sigma(t_x), sigma(t_y)
    centre = (cells + offset) / grid  # (Y1)
    size = anchors * anp.exp(raw[..., 2:]) / net
    return _corners(centre, size)  # (B2)


def decode_yolo_boxes_vjp(grad_output: Any, raw: Any, cells: Any, anchors: Any, *, grid_size: Any = (13, 13),
                          input_size: Any = (416, 416)) -> tuple[np.ndarray, None, np.ndarray]:
    """Vector-Jacobian product of :func:`decode_yolo_boxes` with respect to ``(raw, cells, anchors)``; the
    gradient of the integer ``cells`` is None.

    See :func:`decode_yolo_boxes`, "Gradient".
    """
    boxes = decode_yolo_boxes(raw, cells, anchors, grid_size=grid_size, input_size=input_size)  # validates
    grad = check_grad_output(grad_output, boxes.shape)
    grid, net = _yolo_scales(grid_size, input_size)
    raw, anchors = as_real_array(raw, "raw"), as_real_array(anchors, "anchors")
    offset = 1.0 / (1.0 + np.exp(-raw[..., :2]))
    # sigma'(t) = sigma(t) sigma(-t): 1 - sigma(t) would cancel for t > 1 (27 u off at t = 3, 0 at t = 40)
    slope = offset / (1.0 + np.exp(raw[..., :2]))
    size = anchors * np.exp(raw[..., 2:]) / net
    grad_centre, grad_size = _centre_size_cotangents(grad)  # (G1)
    grad_raw = np.concatenate([slope / grid * grad_centre, size * grad_size], axis=-1)  # (G7)
    grad_anchors = size / anchors * grad_size
    return grad_raw, None, _sum_to_shape(grad_anchors, anchors.shape)


def encode_yolo_boxes(boxes: Any, cells: Any, anchors: Any, *, grid_size: Any = (13, 13),
                      input_size: Any = (416, 416)) -> Any:
    r"""YOLOv3's regression targets of ``boxes``: the offset in their cell and the log size relative to an anchor.

    Definition:
        For a box with centre :math:`(g_x, g_y)` and size :math:`(g_w, g_h)` in image units, assigned to cell
        :math:`(i, j)` and anchor :math:`(p_w, p_h)` (darknet's ``delta_yolo_box``),

        .. math::
            \hat t_x = g_x W - i, \quad \hat t_y = g_y H - j, \quad
            \hat t_w = \ln(g_w n_w / p_w), \quad \hat t_h = \ln(g_h n_h / p_h)  \qquad \text{(Y2)}

        The offsets are targets for :math:`\sigma(t_x)`, :math:`\sigma(t_y)` (in [0, 1) when the centre lies in
        the cell); the sizes are targets for the raw :math:`t_w`, :math:`t_h`. So decoding
        :math:`(\operatorname{logit} \hat t_x, \operatorname{logit} \hat t_y, \hat t_w, \hat t_h)` with
        :func:`decode_yolo_boxes` gives the box back.

    Gradient:
        With the box's centre and size cotangents, then (G2) to the corners,

        .. math::
            \bar g_x = W \bar t_x, \quad \bar g_w = \frac{\bar t_w}{g_w}, \quad \bar p_w = -\frac{\bar t_w}{p_w}
            \qquad \text{(G8)}

        (y, h likewise); the cells get None.

    Conventions:
        Boxes in image units (0 to 1) and ``xyxy``; the cell is given, not recomputed (the target builder picks
        it as :math:`i = \operatorname{floor}(g_x W)`), so the targets are smooth in the box; an offset outside
        [0, 1) means the centre is outside the given cell and is returned as is. Boxes of zero width or height
        are refused (:math:`\ln 0`; darknet drops truths narrower than 0.001). The VJP returns gradients with
        respect to the boxes and the anchors, and None for the cells.

    Shapes:
        ``boxes``: ``(..., 4)``; ``cells``, ``anchors``: ``(..., 2)``, broadcasting to the leading shape of
        ``boxes``. Output: the shape of ``boxes``.

    Args:
        boxes: Ground-truth boxes, ``xyxy`` in image units.
        cells: Integer cells :math:`(i, j)` (column, row) the boxes are assigned to.
        anchors: Anchor sizes :math:`(p_w, p_h)` in pixels, positive.
        grid_size: :math:`(W, H)`, positive integers (default (13, 13)).
        input_size: :math:`(n_w, n_h)` in pixels (default (416, 416)).

    Returns:
        The targets :math:`(\hat t_x, \hat t_y, \hat t_w, \hat t_h)` in float64.

    References:
        Redmon, J., Farhadi, A. "YOLOv3: An Incremental Improvement", 2018: https://arxiv.org/abs/1804.02767.
        darknet ``src/yolo_layer.c`` (``delta_yolo_box``):
        https://github.com/pjreddie/darknet/blob/master/src/yolo_layer.c

    Examples:
        >>> encode_yolo_boxes([0.35, 0.3, 0.65, 0.5], [6, 5], [116, 90]).round(6).tolist()
        [0.5, 0.2, 0.073122, -0.078562]
    """
    grid, net = _yolo_scales(grid_size, input_size)
    boxes = _as_encoded_boxes(boxes)
    cells = _as_cells(cells, shape_of(boxes), "boxes", tuple(int(g) for g in grid))
    anchors = _as_anchor_sizes(anchors, shape_of(boxes), "boxes")
    centre, size = _centre_size(boxes)  # (B1)
    offset = centre * grid - cells  # (Y2)
    log_size = anp.log(size * net / anchors)
    return anp.concatenate([offset, log_size], axis=-1)


def encode_yolo_boxes_vjp(grad_output: Any, boxes: Any, cells: Any, anchors: Any, *, grid_size: Any = (13, 13),
                          input_size: Any = (416, 416)) -> tuple[np.ndarray, None, np.ndarray]:
    """Vector-Jacobian product of :func:`encode_yolo_boxes` with respect to ``(boxes, cells, anchors)``; the
    gradient of the integer ``cells`` is None.

    See :func:`encode_yolo_boxes`, "Gradient".
    """
    targets = encode_yolo_boxes(boxes, cells, anchors, grid_size=grid_size, input_size=input_size)  # validates
    grad = check_grad_output(grad_output, targets.shape)
    grid, _ = _yolo_scales(grid_size, input_size)
    boxes, anchors = as_real_array(boxes, "boxes"), as_real_array(anchors, "anchors")
    _, size = _centre_size(boxes)
    grad_centre = grid * grad[..., :2]  # (G8)
    grad_size = grad[..., 2:] / size
    grad_anchors = -np.broadcast_to(grad[..., 2:] / anchors, grad[..., 2:].shape)
    return _corner_cotangents(grad_centre, grad_size), None, _sum_to_shape(grad_anchors, anchors.shape)  # (G2)


# ---- registration ------------------------------------------------------------------------------------------------

_TORCHVISION_CODER = "torchvision.models.detection._utils.BoxCoder"
_FASTER_RCNN_REFERENCES = (
    Reference("Ren, He, Girshick, Sun. Faster R-CNN. NeurIPS 2015", "https://arxiv.org/abs/1506.01497"),
    Reference("torchvision, models/detection/_utils.py (BoxCoder)",
              "https://github.com/pytorch/vision/blob/main/torchvision/models/detection/_utils.py"),
)
_SSD_REFERENCES = (
    Reference("Liu et al. SSD: Single Shot MultiBox Detector. ECCV 2016", "https://arxiv.org/abs/1512.02325"),
    Reference("Caffe SSD, src/caffe/util/bbox_util.cpp",
              "https://github.com/weiliu89/caffe/blob/ssd/src/caffe/util/bbox_util.cpp"),
)
_YOLO_REFERENCES = (
    Reference("Redmon, Farhadi. YOLOv3: An Incremental Improvement. 2018", "https://arxiv.org/abs/1804.02767"),
    Reference("darknet, src/yolo_layer.c", "https://github.com/pjreddie/darknet/blob/master/src/yolo_layer.c"),
)
_DERIVATION = "docs/derivations/box_coders.md"
_CELLS = Input("cells", "grid cells (i, j) = (column, row), integers inside the grid", shape=("...", "2"),
               kind="int", differentiable=False, sample=Interval(0.0, 13.0, True, False))
_ANCHOR_SIZES = Input("anchors", "anchor sizes (p_w, p_h) in pixels of the network input, positive",
                      shape=("...", "2"), domain=POSITIVE, sample=Interval(10.0, 400.0, True, True))
_SMOOTH = "C-infinity for boxes and references of positive width and height"


def _reference_input(name: str, what: str) -> Input:
    return Input(name, f"{what}, xyxy, of positive width and height; broadcasts to the first input",
                 shape=("...", "4"), sample=Interval(0.0, 100.0, True, True))


def _clamp_distance(deltas: Any, anchors: Any, *, weights: Any = RPN_WEIGHTS, clamp: float = BBOX_XFORM_CLIP,
                    **_: Any) -> np.ndarray:
    """How far each size code t_w / w_w, t_h / w_h is from the clamp (inf for the centre codes)."""
    size_code = np.asarray(deltas, dtype=np.float64)[..., 2:] / np.array(weights[2:], dtype=np.float64)
    return np.concatenate([np.full(size_code.shape, np.inf), np.abs(size_code - clamp)], axis=-1)


def _ssd_clamp_distance(offsets: Any, priors: Any, *, variances: Any = SSD_VARIANCES, clamp: float = math.inf,
                        **_: Any) -> np.ndarray:
    return _clamp_distance(offsets, priors, weights=_ssd_weights(variances), clamp=clamp)


_CLAMP_KINK = "the size derivative jumps from 1 to 0 there; at the point itself it is 0 (torch.clamp's backward)"

register(LossSpec(
    name="encode_boxes", family="boxes", kind="coder", forward=encode_boxes, vjp=encode_boxes_vjp,
    inputs=(Input("boxes", "boxes to encode, xyxy, of positive width and height", shape=("...", "4"),
                  sample=Interval(0.0, 100.0, True, True)),
            _reference_input("anchors", "anchors or proposals")),
    params=(WEIGHTS,), smoothness=_SMOOTH, references=_FASTER_RCNN_REFERENCES, derivation=_DERIVATION,
    equivalents=(Equivalent("torchvision", f"{_TORCHVISION_CODER}.encode_single",
                            "as BoxCoder(weights).encode_single(boxes, anchors); "
                            "no broadcasting (one anchor per box); zero-size boxes give -inf/NaN, not an error"),),
))
register(LossSpec(
    name="decode_boxes", family="boxes", kind="coder", forward=decode_boxes, vjp=decode_boxes_vjp,
    inputs=(Input("deltas", "codes (t_x, t_y, t_w, t_h)", shape=("...", "4")),
            _reference_input("anchors", "anchors or proposals")),
    params=(WEIGHTS, CLAMP), references=_FASTER_RCNN_REFERENCES, derivation=_DERIVATION,
    smoothness="C-infinity except where a size code t_w / w_w or t_h / w_h equals the clamp",
    kinks=(Kink("t_w / w_w = clamp (likewise h)", _CLAMP_KINK, _clamp_distance),),
    equivalents=(Equivalent("torchvision", f"{_TORCHVISION_CODER}.decode_single",
                            "as BoxCoder(weights, clamp).decode_single(deltas, anchors); "
                            "deltas (N, 4K) with anchors (N, 4) there; here (N, K, 4) with (N, 1, 4)"),),
))
register(LossSpec(
    name="encode_ssd_boxes", family="boxes", kind="coder", forward=encode_ssd_boxes, vjp=encode_ssd_boxes_vjp,
    inputs=(Input("boxes", "boxes to encode, xyxy, of positive width and height", shape=("...", "4"),
                  sample=Interval(0.0, 1.0, True, True)),
            _reference_input("priors", "default boxes")),
    params=(VARIANCES,), smoothness=_SMOOTH, references=_SSD_REFERENCES, derivation=_DERIVATION,
    equivalents=(Equivalent("torchvision", f"{_TORCHVISION_CODER}.encode_single",
                            "as BoxCoder((10, 10, 5, 5)).encode_single(boxes, priors); "
                            "the variances (0.1, 0.2) as weights 1/v"),),
))
register(LossSpec(
    name="decode_ssd_boxes", family="boxes", kind="coder", forward=decode_ssd_boxes, vjp=decode_ssd_boxes_vjp,
    inputs=(Input("offsets", "codes (l_cx, l_cy, l_w, l_h)", shape=("...", "4")),
            _reference_input("priors", "default boxes")),
    params=(VARIANCES, SSD_CLAMP), references=_SSD_REFERENCES, derivation=_DERIVATION,
    smoothness="C-infinity (with a finite clamp: except where v_s l_w or v_s l_h equals it)",
    kinks=(Kink("v_s l_w = clamp (likewise h), with a finite clamp", _CLAMP_KINK, _ssd_clamp_distance),),
    equivalents=(Equivalent("torchvision", f"{_TORCHVISION_CODER}.decode_single",
                            "as BoxCoder((10, 10, 5, 5)).decode_single(offsets, priors); "
                            "torchvision clamps at log(1000/16): pass clamp=math.log(1000 / 16)"),),
))
register(LossSpec(
    name="encode_yolo_boxes", family="boxes", kind="coder", forward=encode_yolo_boxes, vjp=encode_yolo_boxes_vjp,
    inputs=(Input("boxes", "ground truths, xyxy in image units, of positive width and height", shape=("...", "4"),
                  sample=Interval(0.0, 1.0, True, True)),
            _CELLS, _ANCHOR_SIZES),
    params=(GRID_SIZE, INPUT_SIZE), smoothness=_SMOOTH, references=_YOLO_REFERENCES, derivation=_DERIVATION,
))
register(LossSpec(
    name="decode_yolo_boxes", family="boxes", kind="coder", forward=decode_yolo_boxes, vjp=decode_yolo_boxes_vjp,
    inputs=(Input("raw", "raw box outputs (t_x, t_y, t_w, t_h)", shape=("...", "4")), _CELLS, _ANCHOR_SIZES),
    params=(GRID_SIZE, INPUT_SIZE), smoothness="C-infinity", references=_YOLO_REFERENCES, derivation=_DERIVATION,
))
