"""Mutants of the IoU-family losses on matched pairs of boxes (iou, log_iou, giou, diou, ciou, eiou, siou).

These model ports that write the forward in an array library and let its autograd differentiate it (PyTorch,
JAX, TensorFlow, Keras): each mutant is a per-pair formula written with ``autograd.numpy``, and its VJP is
autograd's VJP of that formula. The bug is either in the formula (forward and VJP both wrong, or the forward
alone where the VJP is refloss's own) or in how it is differentiated (a tie rule, a constant not held, a
cotangent ignored: the VJP alone, the forward being refloss's own). Each per-pair function carries its one bug,
marked ``# the bug``; ``_Port`` supplies the plumbing that is right (box validation, parameter checks, the
reduction with torchvision's mean of no pairs = 0, and the cotangent of each pair).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from ._base import Mutant
from ._port import as_float, check_reduction, unbroadcast

V_SCALE = 4 / math.pi**2  # CIoU's aspect term (4 / pi^2) (theta2 - theta1)^2


# ---- the plumbing a port gets right ------------------------------------------------------------------------------

def _boxes(value: Any, name: str) -> np.ndarray:
    """float64 boxes of shape (..., 4), none inverted (NaN passes and propagates)."""
    boxes = as_float(value, name)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4), got {boxes.shape}")
    inverted = (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
    if np.any(inverted):
        raise ValueError(f"{name} has an inverted box (x2 < x1 or y2 < y1) at {np.argwhere(inverted)[0].tolist()}")
    return boxes


def _parameter(name: str, value: Any) -> float | None:
    """eps and gamma: >= 0 and finite; alpha_gate: None or in [0, 1]."""
    if name == "alpha_gate" and value is None:
        return None
    value = float(value)
    domain_ok = 0 <= value <= 1 if name == "alpha_gate" else 0 <= value < math.inf
    if not domain_ok:
        raise ValueError(f"{name} must be in its domain, got {value!r}")
    return value


def _reduce_pairs(loss: Any, reduction: str) -> Any:
    """none/sum/mean over the pairs; the mean of no pairs is 0 (torchvision's IoU losses: 0.0 * loss.sum())."""
    if reduction == "none":
        return loss
    if reduction == "sum" or not np.size(loss):
        return anp.sum(loss)
    return anp.sum(loss) / np.size(loss)


@dataclass(frozen=True)
class _Port:
    """A loss as ``forward``/``vjp`` in the ``module:`` convention, from its per-pair formula.

    ``per_pair(b1, b2, **params)`` maps two (..., 4) arrays to the (...) losses; ``defaults`` are the loss's
    parameters besides eps (1e-7) with their defaults. ``reduce(losses, reduction)`` reduces them. ``vjp`` is
    autograd's VJP of the reduced loss.
    """

    per_pair: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    default_reduction: str = "none"
    reduce: Callable[[Any, str], Any] = _reduce_pairs
    validate_boxes: Callable[[Any, str], np.ndarray] = _boxes
    same_shape: bool = True

    def _prepare(self, boxes1: Any, boxes2: Any, reduction: Any, params: dict[str, Any]):
        reduction = self.default_reduction if reduction is None else reduction
        b1, b2 = self.validate_boxes(boxes1, "boxes1"), self.validate_boxes(boxes2, "boxes2")
        if self.same_shape and b1.shape != b2.shape:
            raise ValueError(f"boxes2 must have the shape of boxes1 {b1.shape}, got {b2.shape}")
        check_reduction(reduction)
        unknown = set(params) - set(self.defaults) - {"eps"}
        if unknown:
            raise TypeError(f"unexpected parameters {sorted(unknown)}")
        values = {"eps": 1e-7, **self.defaults, **params}
        return b1, b2, reduction, {name: _parameter(name, value) for name, value in values.items()}

    def _loss(self, b1: Any, b2: Any, reduction: str, values: dict[str, Any]) -> Any:
        return self.reduce(self.per_pair(b1, b2, **values), reduction)

    def forward(self, boxes1: Any, boxes2: Any, *, reduction: str | None = None, **params: Any) -> Any:
        b1, b2, reduction, values = self._prepare(boxes1, boxes2, reduction, params)
        return self._loss(b1, b2, reduction, values)

    def vjp(self, grad_output: Any, boxes1: Any, boxes2: Any, *, reduction: str | None = None,
            **params: Any) -> tuple[np.ndarray, np.ndarray]:
        b1, b2, reduction, values = self._prepare(boxes1, boxes2, reduction, params)
        shapes = b1.shape, b2.shape
        b1, b2 = np.broadcast_arrays(b1, b2)  # only a broadcasting mutant gets here with different shapes
        g = as_float(grad_output, "grad_output")
        expected = b1.shape[:-1] if reduction == "none" else ()
        if g.shape != expected:
            raise ValueError(f"grad_output must have shape {expected}, got {g.shape}")
        if not b1.size:
            return np.zeros_like(b1), np.zeros_like(b2)
        both = np.stack([b1, b2])
        back, _ = autograd.make_vjp(lambda pair: self._loss(pair[0], pair[1], reduction, values))(both)
        grads = back(g)
        return unbroadcast(grads[0], shapes[0]), unbroadcast(grads[1], shapes[1])


# ---- the geometry, right (autograd splits a max/min tie equally, as PyTorch) -------------------------------------

def _sides(b: Any) -> tuple[Any, Any]:
    return b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]


def _overlap_sides(b1: Any, b2: Any, maximum=anp.maximum, minimum=anp.minimum) -> tuple[Any, Any]:
    return (minimum(b1[..., 2], b2[..., 2]) - maximum(b1[..., 0], b2[..., 0]),
            minimum(b1[..., 3], b2[..., 3]) - maximum(b1[..., 1], b2[..., 1]))


def _intersection(b1: Any, b2: Any, maximum=anp.maximum, minimum=anp.minimum) -> Any:
    """iw * ih where both are positive, else 0 with no gradient (torchvision's strict mask)."""
    iw, ih = _overlap_sides(b1, b2, maximum, minimum)
    overlap = (iw > 0) & (ih > 0)
    return anp.where(overlap, iw * anp.where(overlap, ih, 0.0), 0.0)


def _union(b1: Any, b2: Any, inter: Any) -> Any:
    (w1, h1), (w2, h2) = _sides(b1), _sides(b2)
    return w1 * h1 + w2 * h2 - inter


def _iou(b1: Any, b2: Any, eps: float, maximum=anp.maximum, minimum=anp.minimum) -> tuple[Any, Any]:
    """(I / (U + eps), U)."""
    inter = _intersection(b1, b2, maximum, minimum)
    union = _union(b1, b2, inter)
    return inter / (union + eps), union


def _enclosing(b1: Any, b2: Any, maximum=anp.maximum, minimum=anp.minimum) -> tuple[Any, Any]:
    return (maximum(b1[..., 2], b2[..., 2]) - minimum(b1[..., 0], b2[..., 0]),
            maximum(b1[..., 3], b2[..., 3]) - minimum(b1[..., 1], b2[..., 1]))


def _centre_offset(b1: Any, b2: Any) -> tuple[Any, Any]:
    """Centre of b1 minus centre of b2."""
    return ((b1[..., 0] + b1[..., 2]) / 2 - (b2[..., 0] + b2[..., 2]) / 2,
            (b1[..., 1] + b1[..., 3]) / 2 - (b2[..., 1] + b2[..., 3]) / 2)


def _distance_penalty(b1: Any, b2: Any, eps: float, maximum=anp.maximum, minimum=anp.minimum) -> Any:
    """rho^2 / (c^2 + eps)."""
    dx, dy = _centre_offset(b1, b2)
    cw, ch = _enclosing(b1, b2, maximum, minimum)
    return (dx * dx + dy * dy) / (cw * cw + ch * ch + eps)


def _aspect_v(b1: Any, b2: Any) -> Any:
    """(4 / pi^2) (atan2(w2, h2) - atan2(w1, h1))^2."""
    (w1, h1), (w2, h2) = _sides(b1), _sides(b2)
    return V_SCALE * (anp.arctan2(w2, h2) - anp.arctan2(w1, h1)) ** 2


def _ciou_alpha(iou: Any, v: Any, eps: float, alpha_gate: float | None) -> np.ndarray:
    """v / (1 - IoU + v + eps), held constant; zero where a gate excludes the pair."""
    iou, v = getval(iou), getval(v)
    alpha = v / (1.0 - iou + v + eps)
    return alpha if alpha_gate is None else np.where(iou > alpha_gate, alpha, 0.0)


def _eiou_sides(b1: Any, b2: Any, eps: float, maximum=anp.maximum, minimum=anp.minimum) -> Any:
    """(w1 - w2)^2 / (c_w^2 + eps) + (h1 - h2)^2 / (c_h^2 + eps)."""
    (w1, h1), (w2, h2) = _sides(b1), _sides(b2)
    cw, ch = _enclosing(b1, b2, maximum, minimum)
    return (w1 - w2) ** 2 / (cw * cw + eps) + (h1 - h2) ** 2 / (ch * ch + eps)


def _siou_shape(b1: Any, b2: Any, eps: float) -> Any:
    """sum over w, h of (1 - exp(-|s1 - s2| / (max(s1, s2) + eps)))^4."""
    total = 0.0
    for s1, s2 in zip(_sides(b1), _sides(b2)):
        omega = anp.abs(s1 - s2) / (anp.maximum(s1, s2) + eps)
        total = total + (1 - anp.exp(-omega)) ** 4
    return total


def _siou_distance(b1: Any, b2: Any, eps: float, gamma_sign: float = 1.0) -> Any:
    """2 - exp(-gamma rho_x) - exp(-gamma rho_y), gamma = 2 - sin(2 alpha), offsets (a, b) plus eps."""
    dx, dy = _centre_offset(b1, b2)
    a, b = eps - dx, eps - dy
    squared = a * a + b * b
    angle = 2 * anp.abs(a) * anp.abs(b) / anp.where(squared > 0, squared, 1.0)
    gamma = gamma_sign * (2.0 - angle)
    cw, ch = _enclosing(b1, b2)
    return 2.0 - anp.exp(-gamma * a * a / (cw * cw + eps)) - anp.exp(-gamma * b * b / (ch * ch + eps))


# ---- TensorFlow's tie rule and PyTorch's inclusive clamp, for the VJP mutants ------------------------------------

def _tf_maximum(a: Any, b: Any) -> Any:
    """max with TensorFlow's gradient: a tie goes wholly to the first argument."""
    return anp.where(a >= b, a, b)


def _tf_minimum(a: Any, b: Any) -> Any:
    return anp.where(a <= b, a, b)


# ---- iou_loss ----------------------------------------------------------------------------------------------------

def _iou_union_clamped(b1, b2, eps):
    inter = _intersection(b1, b2)
    return 1.0 - inter / anp.maximum(_union(b1, b2, inter), eps)  # the bug: max(U, eps), mmdet's bbox_overlaps


def _iou_tf_ties(b1, b2, eps):
    inter = _intersection(b1, b2, _tf_maximum, _tf_minimum)  # the bug: TensorFlow's tie rule
    return 1.0 - inter / (_union(b1, b2, inter) + eps)


def _iou_clamp_passes_touching(b1, b2, eps):
    iw, ih = _overlap_sides(b1, b2)
    # the bug: clamp(min=0) as PyTorch differentiates it: gradient flows where iw >= 0, so touching boxes get one
    inter = anp.where(iw >= 0, iw, 0.0) * anp.where(ih >= 0, ih, 0.0)
    return 1.0 - inter / (_union(b1, b2, inter) + eps)


def _iou_intersection_not_clamped(b1, b2, eps):
    iw, ih = _overlap_sides(b1, b2)
    inter = iw * ih  # the bug: no clamp at 0; one negative side gives I < 0, two (diagonal boxes) I > 0
    return 1.0 - inter / (_union(b1, b2, inter) + eps)


def _iou_as_ratio(b1, b2, eps):
    inter = _intersection(b1, b2)
    union = _union(b1, b2, inter)
    return (union + eps - inter) / (union + eps)  # the bug: 1 - I/(U + eps) as (U + eps - I)/(U + eps)




# ---- each loss's formula, right (what the VJP-only mutants differentiate) ----------------------------------------

def _iou_loss(b1, b2, eps):
    return 1.0 - _iou(b1, b2, eps)[0]


def _log_iou_loss(b1, b2, eps):
    return -anp.log(anp.maximum(_iou(b1, b2, eps)[0], eps))


def _giou_loss(b1, b2, eps, maximum=anp.maximum, minimum=anp.minimum):
    iou, union = _iou(b1, b2, eps, maximum, minimum)
    cw, ch = _enclosing(b1, b2, maximum, minimum)
    return 1.0 - iou + (cw * ch - union) / (cw * ch + eps)


def _diou_loss(b1, b2, eps, maximum=anp.maximum, minimum=anp.minimum):
    return 1.0 - _iou(b1, b2, eps, maximum, minimum)[0] + _distance_penalty(b1, b2, eps, maximum, minimum)


def _ciou_loss(b1, b2, eps, alpha_gate):
    iou, _ = _iou(b1, b2, eps)
    v = _aspect_v(b1, b2)
    return 1.0 - iou + _distance_penalty(b1, b2, eps) + _ciou_alpha(iou, v, eps, alpha_gate) * v


def _eiou_loss(b1, b2, eps, gamma):
    iou, _ = _iou(b1, b2, eps)
    return getval(iou) ** gamma * (1.0 - iou + _distance_penalty(b1, b2, eps) + _eiou_sides(b1, b2, eps))


def _siou_loss(b1, b2, eps):
    return 1.0 - _iou(b1, b2, eps)[0] + (_siou_distance(b1, b2, eps) + _siou_shape(b1, b2, eps)) / 2


RIGHT = {
    "iou_loss": _Port(_iou_loss),
    "log_iou_loss": _Port(_log_iou_loss),
    "giou_loss": _Port(_giou_loss),
    "diou_loss": _Port(_diou_loss),
    "ciou_loss": _Port(_ciou_loss, {"alpha_gate": None}),
    "eiou_loss": _Port(_eiou_loss, {"gamma": 0.0}),
    "siou_loss": _Port(_siou_loss),
}
"""Each loss ported right: the control (tests/test_box_losses.py checks it passes the suite)."""


def _vjp_ignoring_grad_output(loss: str) -> Callable[..., Any]:
    def vjp(grad_output, boxes1, boxes2, *, reduction="none", **params):
        ones = np.ones(np.shape(grad_output))  # the bug: the cotangent taken as 1 (right only for .backward())
        return RIGHT[loss].vjp(ones, boxes1, boxes2, reduction=reduction, **params)
    vjp.__name__ = f"{loss}_vjp_ignoring_grad_output"
    return vjp


def _mean_of_no_pairs_nan(loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        return anp.sum(loss) / np.float64(np.size(loss))  # the bug: 0 / 0 = NaN, torch.nn.functional's mean
    return _reduce_pairs(loss, reduction)


def _boxes_unchecked(value: Any, name: str) -> np.ndarray:
    boxes = as_float(value, name)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4), got {boxes.shape}")
    return boxes  # the bug: an inverted box is not rejected (torchvision removed its asserts, issue #5322)


# ---- log_iou_loss ------------------------------------------------------------------------------------------------

def _log_iou_unclamped(b1, b2, eps):
    return -anp.log(_iou(b1, b2, eps)[0])  # the bug: no clamp, so disjoint boxes cost inf (and a NaN gradient)


def _log_iou_union_clamped(b1, b2, eps):
    inter = _intersection(b1, b2)
    iou = inter / anp.maximum(_union(b1, b2, inter), eps)  # the bug: max(U, eps), mmdet's bbox_overlaps
    return -anp.log(anp.maximum(iou, eps))


def _log_of_mean_iou(stacked: Any, reduction: str) -> Any:
    """Called with each pair's IoU and eps, stacked: the log taken after the reduction."""
    iou, eps = stacked[0], getval(stacked[1])
    if reduction == "none":
        return -anp.log(anp.maximum(iou, eps))
    if not np.size(iou):
        return anp.sum(iou)
    # the bug: KerasCV's IoULoss(mode="log") averages the IoU over the boxes, then takes -ln of the mean
    loss = -anp.log(anp.maximum(anp.sum(iou) / np.size(iou), eps.flat[0]))
    return loss if reduction == "mean" else loss * np.size(iou)


def _log_iou_per_pair_iou(b1, b2, eps):
    iou = _iou(b1, b2, eps)[0]
    return anp.stack([iou, eps * anp.ones_like(iou)])


# ---- giou_loss ---------------------------------------------------------------------------------------------------

def _giou_penalty_over_union(b1, b2, eps):
    iou, union = _iou(b1, b2, eps)
    cw, ch = _enclosing(b1, b2)
    return 1.0 - iou + (cw * ch - union) / (union + eps)  # the bug: over the union, not the enclosing area


def _giou_enclosing_without_eps(b1, b2, eps):
    iou, union = _iou(b1, b2, eps)
    cw, ch = _enclosing(b1, b2)
    return 1.0 - iou + (cw * ch - union) / (cw * ch)  # the bug: no eps, so two identical points give 0/0


def _giou_clamped_at_eps(b1, b2, eps):
    inter = _intersection(b1, b2)
    union = anp.maximum(_union(b1, b2, inter), eps)  # the bug: max(., eps) for + eps (mmdet's giou_loss)
    cw, ch = _enclosing(b1, b2)
    enclose = anp.maximum(cw * ch, eps)
    return 1.0 - inter / union + (enclose - union) / enclose


def _giou_tf_ties(b1, b2, eps):
    return _giou_loss(b1, b2, eps, _tf_maximum, _tf_minimum)  # the bug: TensorFlow's tie rule


# ---- diou_loss ---------------------------------------------------------------------------------------------------

def _diou_centre_distance_not_halved(b1, b2, eps):
    iou, _ = _iou(b1, b2, eps)
    dx = b1[..., 0] + b1[..., 2] - b2[..., 0] - b2[..., 2]  # the bug: sums of corners, not centres: /4 lost
    dy = b1[..., 1] + b1[..., 3] - b2[..., 1] - b2[..., 3]
    cw, ch = _enclosing(b1, b2)
    return 1.0 - iou + (dx * dx + dy * dy) / (cw * cw + ch * ch + eps)


def _diou_diagonal_without_eps(b1, b2, eps):
    iou, _ = _iou(b1, b2, eps)
    dx, dy = _centre_offset(b1, b2)
    cw, ch = _enclosing(b1, b2)
    return 1.0 - iou + (dx * dx + dy * dy) / (cw * cw + ch * ch)  # the bug: no eps; two identical points: 0/0


def _diou_tf_ties(b1, b2, eps):
    return _diou_loss(b1, b2, eps, _tf_maximum, _tf_minimum)  # the bug: TensorFlow's tie rule


# ---- ciou_loss ---------------------------------------------------------------------------------------------------

def _ciou_alpha_differentiated(b1, b2, eps, alpha_gate):
    iou, _ = _iou(b1, b2, eps)
    v = _aspect_v(b1, b2)
    alpha = v / (1.0 - iou + v + eps)  # the bug: alpha carries a gradient (Keras core's compute_ciou)
    if alpha_gate is not None:
        alpha = anp.where(getval(iou) > alpha_gate, alpha, 0.0)
    return 1.0 - iou + _distance_penalty(b1, b2, eps) + alpha * v


def _ciou_atan_of_ratio(b1, b2, eps, alpha_gate):
    iou, _ = _iou(b1, b2, eps)
    (w1, h1), (w2, h2) = _sides(b1), _sides(b2)
    # the bug: atan(w / h), as written in the paper: w / h = inf for a zero-height box, whose gradient is NaN
    v = V_SCALE * (anp.arctan(w2 / h2) - anp.arctan(w1 / h1)) ** 2
    return 1.0 - iou + _distance_penalty(b1, b2, eps) + _ciou_alpha(iou, v, eps, alpha_gate) * v


def _ciou_scale_squared(b1, b2, eps, alpha_gate):
    iou, _ = _iou(b1, b2, eps)
    (w1, h1), (w2, h2) = _sides(b1), _sides(b2)
    v = (V_SCALE * (anp.arctan2(w2, h2) - anp.arctan2(w1, h1))) ** 2  # the bug: KerasCV's ((4/pi^2) d)^2
    return 1.0 - iou + _distance_penalty(b1, b2, eps) + _ciou_alpha(iou, v, eps, alpha_gate) * v


def _ciou_darknet_gradient(b1, b2, eps, alpha_gate):
    iou, _ = _iou(b1, b2, eps)

    def angle(box):
        w, h = _sides(box)
        # the bug: d theta/dw = h / (w^2 + h^2) taken as h, d theta/dh as -w (DIoU-darknet drops 1/(w^2 + h^2))
        return getval(anp.arctan2(w, h)) + (w * getval(h) - getval(w) * h)
    v = V_SCALE * (angle(b2) - angle(b1)) ** 2
    return 1.0 - iou + _distance_penalty(b1, b2, eps) + _ciou_alpha(iou, v, eps, alpha_gate) * v


def _ciou_height_plus_eps(b1, b2, eps, alpha_gate):
    iou, _ = _iou(b1, b2, eps)
    (w1, h1), (w2, h2) = _sides(b1), _sides(b2)
    v = V_SCALE * (anp.arctan2(w2, h2 + eps) - anp.arctan2(w1, h1 + eps)) ** 2  # the bug: h + eps (mmdet, YOLO)
    return 1.0 - iou + _distance_penalty(b1, b2, eps) + _ciou_alpha(iou, v, eps, alpha_gate) * v


# ---- eiou_loss ---------------------------------------------------------------------------------------------------

def _eiou_mmdet_extended(b1, b2, eps, gamma):
    x = 1.0 - _iou(b1, b2, eps)[0]
    # the bug: mmdetection's eiou_loss, the "Extended IoU" of libfacedetection: smooth L1 of 1 - IoU (beta 0.1)
    return getval(_iou(b1, b2, eps)[0]) ** gamma * anp.where(x < 0.1, 0.5 * x * x / 0.1, x - 0.05)


def _eiou_focal_weight_differentiated(b1, b2, eps, gamma):
    iou, _ = _iou(b1, b2, eps)
    # the bug: IoU^gamma not detached: its derivative gamma IoU^(gamma - 1) joins the gradient
    return iou**gamma * (1.0 - iou + _distance_penalty(b1, b2, eps) + _eiou_sides(b1, b2, eps))


def _eiou_sides_over_diagonal(b1, b2, eps, gamma):
    iou, _ = _iou(b1, b2, eps)
    (w1, h1), (w2, h2) = _sides(b1), _sides(b2)
    cw, ch = _enclosing(b1, b2)
    diagonal = cw * cw + ch * ch + eps
    sides = ((w1 - w2) ** 2 + (h1 - h2) ** 2) / diagonal  # the bug: over c^2 (DIoU's), not c_w^2 and c_h^2
    return getval(iou) ** gamma * (1.0 - iou + _distance_penalty(b1, b2, eps) + sides)


def _eiou_mean_over_weight_sum(b1, b2, eps, gamma):
    """Returns the weighted losses and the weights, stacked (the reduction below needs both)."""
    iou, _ = _iou(b1, b2, eps)
    weight = getval(iou) ** gamma
    return anp.stack([weight * (1.0 - iou + _distance_penalty(b1, b2, eps) + _eiou_sides(b1, b2, eps)),
                      weight * anp.ones_like(iou)])


def _reduce_over_weight_sum(stacked: Any, reduction: str) -> Any:
    loss, weight = stacked[0], getval(stacked[1])
    if reduction == "mean" and np.size(loss):
        return anp.sum(loss) / np.sum(weight)  # the bug: the paper's sum(IoU^gamma L) / sum(IoU^gamma)
    return _reduce_pairs(loss, reduction)


# ---- siou_loss ---------------------------------------------------------------------------------------------------

def _siou_positive_gamma(b1, b2, eps):
    # the bug: mmdetection's default neg_gamma=False: exp(+(2 - Lambda) rho), a negative distance cost
    return 1.0 - _iou(b1, b2, eps)[0] + (_siou_distance(b1, b2, eps, -1.0) + _siou_shape(b1, b2, eps)) / 2


def _siou_arcsin_without_min_angle(b1, b2, eps):
    dx, dy = _centre_offset(b1, b2)
    a, b = eps - dx, eps - dy
    sigma = anp.sqrt(a * a + b * b)
    # the bug: sin(alpha) = |b| / sigma always (no swap to the smaller angle at sqrt(2)/2): arcsin is
    # ill-conditioned near 1, where the offset is nearly vertical
    angle = anp.cos(2 * anp.arcsin(anp.abs(b) / sigma) - np.pi / 2)
    gamma = 2.0 - angle
    cw, ch = _enclosing(b1, b2)
    distance = 2.0 - anp.exp(-gamma * a * a / (cw * cw + eps)) - anp.exp(-gamma * b * b / (ch * ch + eps))
    return 1.0 - _iou(b1, b2, eps)[0] + (distance + _siou_shape(b1, b2, eps)) / 2


def _siou_abs_as_root_of_square(b1, b2, eps):
    dx, dy = _centre_offset(b1, b2)
    a, b = eps - dx, eps - dy
    squared = a * a + b * b
    # the bug: |a| |b| written sqrt(a^2 b^2): its derivative a b^2 / sqrt(a^2 b^2) is 0/0 = NaN where a = 0
    angle = 2 * anp.sqrt(a * a * b * b) / anp.where(squared > 0, squared, 1.0)
    gamma = 2.0 - angle
    cw, ch = _enclosing(b1, b2)
    distance = 2.0 - anp.exp(-gamma * a * a / (cw * cw + eps)) - anp.exp(-gamma * b * b / (ch * ch + eps))
    return 1.0 - _iou(b1, b2, eps)[0] + (distance + _siou_shape(b1, b2, eps)) / 2


def _siou_costs_not_halved(b1, b2, eps):
    return 1.0 - _iou(b1, b2, eps)[0] + _siou_distance(b1, b2, eps) + _siou_shape(b1, b2, eps)  # the bug: no / 2


def _mutant(name, loss, port, description, category, part="both"):
    forward = port.forward if part in ("both", "forward") else None
    vjp = port.vjp if part in ("both", "vjp") else None
    return Mutant(name, loss, forward, vjp, description, category)


_NAN_MEAN = "the mean of no pairs is 0 / 0 = NaN (torch.nn.functional's rule) instead of torchvision's 0"

MUTANTS = [
    # iou_loss
    _mutant("iou_union_clamped_at_eps", "iou_loss", _Port(_iou_union_clamped),
            "IoU = I / max(U, eps), mmdetection's bbox_overlaps, for I / (U + eps)", "clamp"),
    Mutant("iou_vjp_ignores_grad_output", "iou_loss", None, _vjp_ignoring_grad_output("iou_loss"),
           "the backward assumes grad_output is 1", "cotangent"),
    _mutant("iou_intersection_not_clamped", "iou_loss", _Port(_iou_intersection_not_clamped),
            "I = iw * ih with no clamp at 0: disjoint boxes get a negative overlap, or a positive one diagonally",
            "branch"),
    _mutant("iou_default_reduction_mean", "iou_loss", _Port(_iou_loss, default_reduction="mean"),  # the bug
            "default reduction 'mean' (mmdetection's IoULoss) instead of 'none'", "default"),
    _mutant("iou_mean_of_no_pairs_nan", "iou_loss", _Port(_iou_loss, reduce=_mean_of_no_pairs_nan), _NAN_MEAN,
            "denominator"),
    # log_iou_loss
    _mutant("log_iou_unclamped", "log_iou_loss", _Port(_log_iou_unclamped),
            "-ln IoU without the clamp at eps: inf for disjoint boxes, NaN gradient", "clamp"),
    _mutant("log_iou_union_clamped_at_eps", "log_iou_loss", _Port(_log_iou_union_clamped),
            "IoU = I / max(U, eps), mmdetection's bbox_overlaps, for I / (U + eps)", "clamp"),
    _mutant("log_iou_mmdet_default_eps", "log_iou_loss", _Port(_log_iou_loss, {"eps": 1e-6}),  # the bug
            "default eps 1e-6 (mmdetection's IoULoss) instead of 1e-7", "default"),
    _mutant("log_iou_log_of_mean_iou", "log_iou_loss", _Port(_log_iou_per_pair_iou, reduce=_log_of_mean_iou),
            "KerasCV's IoULoss(mode='log'): -ln of the mean IoU instead of the mean of -ln IoU", "convention"),
    _mutant("log_iou_mean_of_no_pairs_nan", "log_iou_loss", _Port(_log_iou_loss, reduce=_mean_of_no_pairs_nan),
            _NAN_MEAN, "denominator"),
    # giou_loss
    _mutant("giou_penalty_over_union", "giou_loss", _Port(_giou_penalty_over_union),
            "the enclosing penalty (A_c - U) divided by the union instead of the enclosing area", "formula"),
    _mutant("giou_enclosing_area_without_eps", "giou_loss", _Port(_giou_enclosing_without_eps),
            "(A_c - U) / A_c without eps: NaN for two identical zero-area boxes", "clamp"),
    _mutant("giou_clamped_at_eps", "giou_loss", _Port(_giou_clamped_at_eps),
            "union and enclosing area clamped with max(., eps) (mmdetection) instead of eps added", "clamp"),
    _mutant("giou_default_reduction_mean", "giou_loss", _Port(_giou_loss, default_reduction="mean"),  # the bug
            "default reduction 'mean' (mmdetection's GIoULoss) instead of torchvision's 'none'", "default"),
    _mutant("giou_accepts_inverted_boxes", "giou_loss", _Port(_giou_loss, validate_boxes=_boxes_unchecked),
            "an inverted box (x2 < x1) is not rejected, as in torchvision since its asserts were removed",
            "validation"),
    # diou_loss
    _mutant("diou_broadcasts_pairs", "diou_loss", _Port(_diou_loss, same_shape=False),  # the bug
            "boxes of shapes (1, 4) and (N, 4) broadcast against each other instead of being rejected",
            "broadcasting"),
    _mutant("diou_centre_distance_not_halved", "diou_loss", _Port(_diou_centre_distance_not_halved),
            "rho^2 from sums of corners (x1 + x2 - X1 - X2)^2 without the factor 1/4", "formula"),
    _mutant("diou_diagonal_without_eps", "diou_loss", _Port(_diou_diagonal_without_eps),
            "rho^2 / c^2 without eps: NaN for two identical zero-area boxes", "clamp"),
    _mutant("diou_tf_tie_rule", "diou_loss", _Port(_diou_tf_ties),
            "a max/min tie gives the whole gradient to the first argument (TensorFlow), not half to each", "branch",
            part="vjp"),
    Mutant("diou_vjp_ignores_grad_output", "diou_loss", None, _vjp_ignoring_grad_output("diou_loss"),
           "the backward assumes grad_output is 1", "cotangent"),
    # ciou_loss
    _mutant("ciou_alpha_differentiated", "ciou_loss", _Port(_ciou_alpha_differentiated, {"alpha_gate": None}),
            "alpha = v / (1 - IoU + v + eps) carries a gradient (Keras core), not held constant", "gradient",
            part="vjp"),
    _mutant("ciou_alpha_gated_by_default", "ciou_loss", _Port(_ciou_loss, {"alpha_gate": 0.5}),  # the bug
            "mmdetection's gate alpha = 0 unless IoU > 0.5 applied by default", "default"),
    _mutant("ciou_atan_ratio_nan_gradient", "ciou_loss", _Port(_ciou_atan_of_ratio, {"alpha_gate": None}),
            "theta = atan(w / h): a zero-height box has w / h = inf and a NaN gradient (torchvision)", "nonfinite",
            part="vjp"),
    _mutant("ciou_scale_squared", "ciou_loss", _Port(_ciou_scale_squared, {"alpha_gate": None}),
            "v = ((4 / pi^2) (theta2 - theta1))^2, KerasCV's (fixed in Keras core PR #20784)", "formula"),
    _mutant("ciou_darknet_gradient", "ciou_loss", _Port(_ciou_darknet_gradient, {"alpha_gate": None}),
            "the aspect gradient without its 1 / (w^2 + h^2) (the authors' DIoU-darknet code)", "gradient",
            part="vjp"),
    _mutant("ciou_height_plus_eps", "ciou_loss", _Port(_ciou_height_plus_eps, {"alpha_gate": None}),
            "theta = atan(w / (h + eps)) (mmdetection, ultralytics) instead of atan2(w, h)", "convention"),
    # eiou_loss
    _mutant("eiou_mmdet_extended_iou", "eiou_loss", _Port(_eiou_mmdet_extended, {"gamma": 0.0}),
            "mmdetection's eiou_loss, an 'Extended IoU' (smooth L1 of 1 - IoU), taken for Efficient IoU",
            "convention"),
    _mutant("eiou_focal_weight_differentiated", "eiou_loss",
            _Port(_eiou_focal_weight_differentiated, {"gamma": 0.0}),
            "Focal-EIoU's weight IoU^gamma carries a gradient instead of being a constant", "gradient", part="vjp"),
    _mutant("eiou_sides_over_diagonal", "eiou_loss", _Port(_eiou_sides_over_diagonal, {"gamma": 0.0}),
            "the width and height terms divided by the diagonal c^2 instead of c_w^2 and c_h^2", "formula"),
    _mutant("eiou_focal_mean_over_weight_sum", "eiou_loss",
            _Port(_eiou_mean_over_weight_sum, {"gamma": 0.0}, reduce=_reduce_over_weight_sum),
            "Focal-EIoU's mean divided by the sum of IoU^gamma (the paper's normalisation) instead of N",
            "denominator"),
    _mutant("eiou_default_gamma_half", "eiou_loss", _Port(_eiou_loss, {"gamma": 0.5}),  # the bug
            "default gamma 0.5 (the paper's Focal-EIoU) instead of 0 (plain EIoU)", "default"),
    # siou_loss
    _mutant("siou_mmdet_default_gamma_sign", "siou_loss", _Port(_siou_positive_gamma),
            "mmdetection's default neg_gamma=False: exp(+(2 - Lambda) rho), the distance cost negative",
            "convention"),
    _mutant("siou_arcsin_without_min_angle", "siou_loss", _Port(_siou_arcsin_without_min_angle),
            "the angle cost cos(2 asin(|b| / sigma) - pi/2) without YOLOv6's swap to the smaller angle",
            "precision"),
    _mutant("siou_abs_as_root_of_square", "siou_loss", _Port(_siou_abs_as_root_of_square),
            "|a| |b| written sqrt(a^2 b^2): a NaN gradient where a centre offset plus eps is 0", "nonfinite",
            part="vjp"),
    _mutant("siou_costs_not_halved", "siou_loss", _Port(_siou_costs_not_halved),
            "1 - IoU + Delta + Omega: the distance and shape costs not halved", "formula"),
    _mutant("siou_mean_of_no_pairs_nan", "siou_loss", _Port(_siou_loss, reduce=_mean_of_no_pairs_nan), _NAN_MEAN,
            "denominator"),
]

UNCAUGHT = [
    # Realistic bugs the golden vectors cannot catch, kept out of MUTANTS (tests/test_box_losses.py checks the
    # conventions they break directly). At a tie the vectors accept any value between the one-sided derivatives in
    # each coordinate, and each of these gives, coordinate by coordinate, one of them:
    _mutant("iou_tf_tie_rule", "iou_loss", _Port(_iou_tf_ties),
            "a max/min tie gives the whole gradient to the first argument (TensorFlow), not half to each", "branch",
            part="vjp"),
    _mutant("iou_clamp_gradient_at_touching", "iou_loss", _Port(_iou_clamp_passes_touching),
            "the intersection as clamp(iw, 0) clamp(ih, 0), whose gradient flows at iw = 0 (touching boxes)",
            "branch", part="vjp"),
    _mutant("iou_one_minus_as_ratio", "iou_loss", _Port(_iou_as_ratio),
            "1 - I/(U + eps) computed as (U + eps - I)/(U + eps): the same number, rounded differently",
            "precision", part="forward"),
    _mutant("giou_tf_tie_rule", "giou_loss", _Port(_giou_tf_ties),
            "a max/min tie gives the whole gradient to the first argument (TensorFlow), not half to each", "branch",
            part="vjp"),
]
"""Mutants that pass the suite, with why: TensorFlow's tie rule for IoU and GIoU (at a tie the intersection's and
the enclosing box's one-sided effects on a coordinate have opposite signs, so their sum stays between them), the
inclusive clamp at touching boxes (it gives the right-hand derivative) and (U + eps - I)/(U + eps) (within
tolerance)."""
