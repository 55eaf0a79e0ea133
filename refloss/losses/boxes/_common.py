"""What the IoU-family losses share: argument checks, eps, the IoU itself with its cotangents, the reduction
(torchvision's: the mean of no pairs is 0), the registry's description of box inputs, and the kinks."""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import autograd.numpy as anp
import numpy as np

from autograd.tracer import Box

from refloss._blocks import evaluate, items_per_block, readable
from refloss._checks import check_reduction
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Input, Interval, Kink, Param
from refloss.boxes._checks import as_boxes, check_same_boxes_shape
from refloss.boxes._pair import intersection_and_union

__all__ = ["BOXES", "EPS", "TIE_KINK", "holding", "iou_cotangents", "iou_with_eps", "pair_cotangent", "pair_loss",
           "pair_value_and_vjp", "prepare", "reduce_pairs"]

PAIR_BYTES = 8  # what a box pair counts for in a block (refloss._blocks): one float64 per temporary

EPS = Param("eps", 1e-7, Interval(0.0, math.inf, low_closed=True),
            "added to the denominators (union, enclosing area or diagonal) so that degenerate boxes give 0, not 0/0",
            grid=(1e-7,), sample=Interval(0.0, 1e-3, True, True))

BOXES = (
    Input("boxes1", "predicted boxes (..., 4) in xyxy", shape=("...", "4"), kind="box",
          sample=Interval(-4.0, 4.0, True, True)),
    Input("boxes2", "target boxes (..., 4) in xyxy, matched one to one with boxes1", shape=("...", "4"),
          kind="box", sample=Interval(-4.0, 4.0, True, True)),
)


def tie_distance(boxes1: Any, boxes2: Any, **params: Any) -> np.ndarray:
    """Per pair: the smallest |difference| between two coordinates on the same axis (0 where a max or min of the
    intersection or the enclosing box ties, where the boxes touch, or where a box has zero width or height)."""
    coordinates = np.concatenate([np.asarray(boxes1, dtype=np.float64), np.asarray(boxes2, dtype=np.float64)], -1)
    same_axis = [(i, j) for i in range(8) for j in range(i + 1, 8) if i % 2 == j % 2]
    gaps = [np.abs(coordinates[..., i] - coordinates[..., j]) for i, j in same_axis]
    return np.min(np.stack(gaps, axis=-1), axis=-1, initial=np.inf)


TIE_KINK = Kink(
    "a coordinate of boxes1 equals one of boxes2 on the same axis: a max or min of the intersection or the "
    "enclosing box ties (identical boxes, shared edges), or the boxes touch (zero-width overlap)",
    "a tie of max/min splits the gradient equally between the two coordinates (PyTorch, autograd); touching "
    "boxes get no gradient through the intersection (torchvision's strict mask iw > 0 and ih > 0)",
    tie_distance,
)


def pair_loss(function: Callable) -> Callable:
    """Decorate a box loss's forward, or its VJP (a name ending in ``_vjp``): evaluated block by block over the pairs.

    The readable body runs without NumPy's divide/invalid warnings (with ``eps = 0`` two zero-area boxes give
    0/0, whose NaN is the documented result, not an accident to warn about). For plain arrays of more pairs than one
    block holds (refloss._blocks), it runs on each block with ``reduction="none"`` and the per-pair cotangents the
    readable VJP forms itself; the unreduced loss is assembled and reduced as the readable code reduces it. So the
    results are those of one call on the whole arrays, bit for bit, with every temporary the size of a block.
    """
    body = _quiet(function)
    vjp = function.__name__.endswith("_vjp")

    @functools.wraps(function)
    def blocked(*args: Any, **kwargs: Any) -> Any:
        grad_output, boxes = (args[0], args[1:]) if vjp else (None, args)
        result = None
        if len(boxes) == 2:
            result = _over_pair_blocks(None if vjp else body, body if vjp else None, grad_output, *boxes, kwargs)
        if result is None:
            return body(*args, **kwargs)
        return result[1] if vjp else result[0]
    return blocked


def pair_value_and_vjp(forward: Callable, vjp: Callable) -> Callable:
    """The registry's fused evaluation of a box loss decorated with :func:`pair_loss`: each block of pairs runs its
    forward and then its VJP while the block's boxes are in cache."""
    forward_body, vjp_body = _quiet(forward.__wrapped__), _quiet(vjp.__wrapped__)

    def value_and_vjp(grad_output: Any, boxes1: Any, boxes2: Any, **kwargs: Any) -> tuple[Any, tuple]:
        result = _over_pair_blocks(forward_body, vjp_body, grad_output, boxes1, boxes2, kwargs)
        if result is None:
            return forward(boxes1, boxes2, **kwargs), vjp(grad_output, boxes1, boxes2, **kwargs)
        return result
    return value_and_vjp


def _quiet(function: Callable) -> Callable:
    @functools.wraps(function)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return function(*args, **kwargs)
    return quiet


def _over_pair_blocks(forward: Callable | None, vjp: Callable | None, grad_output: Any, boxes1: Any, boxes2: Any,
                      kwargs: dict[str, Any]) -> tuple[Any, tuple | None] | None:
    """(value or None, gradients or None) computed block by block, or None where one call on the whole arrays is
    what runs: under autograd, in refloss._blocks.readable_evaluation(), and for pairs that fit in one block."""
    if isinstance(boxes1, Box) or isinstance(boxes2, Box) or readable():
        return None
    reduction = kwargs.get("reduction", "none")
    b1, b2, _ = prepare(boxes1, boxes2, reduction, kwargs.get("eps", EPS.default))  # the body's own errors
    shape = b1.shape[:-1]
    # A pair's temporaries are one float64 each (its inputs four): blocks hold as many pairs as elementwise blocks
    # hold elements
    if int(np.prod(shape)) <= items_per_block(PAIR_BYTES):  # the pairs fit in one block
        return None
    g = None if vjp is None else reduce_vjp(grad_output, shape, reduction).reshape(-1)  # as pair_cotangent
    params = {**kwargs, "reduction": "none"}

    def kernel(xp: Any, g: Any, b1: Any, b2: Any, value: bool = True) -> tuple[Any, Any]:
        return (forward(b1, b2, **params) if value else None), (None if g is None else vjp(g, b1, b2, **params))

    loss, grads = evaluate(kernel, [b1.reshape(-1, 4), b2.reshape(-1, 4)], reduction="none",
                           value=forward is not None, grad_output=g, item_bytes=PAIR_BYTES)
    value = None if loss is None else reduce_pairs(loss.reshape(shape), reduction)
    return value, None if grads is None else tuple(grad.reshape(b1.shape) for grad in grads)


def holding(per_pair: Callable, setting: Param) -> Callable:
    """The registry's ``held_forward`` of a loss with a stop-gradient (CIoU's alpha, Focal-EIoU's IoU^gamma).

    ``per_pair(b1, b2, eps, value_of_setting, held=None)`` returns each pair's loss and its stop-gradient, the
    latter computed from the boxes unless ``held`` gives it; ``setting`` is the parameter it depends on.
    """
    def held_forward(boxes1: Any, boxes2: Any, *, reduction: str = "none", eps: float = 1e-7,
                     **params: Any) -> Callable:
        b1, b2, eps = prepare(boxes1, boxes2, reduction, eps)
        value = setting.check(params.get(setting.name, setting.default))
        _, held = per_pair(b1, b2, eps, value)

        def forward_with_stop_gradient_held(boxes1: Any, boxes2: Any, **kwargs: Any) -> Any:
            c1, c2, _ = prepare(boxes1, boxes2, reduction, eps)
            return reduce_pairs(per_pair(c1, c2, eps, value, held)[0], reduction)

        return forward_with_stop_gradient_held
    return held_forward


def prepare(boxes1: Any, boxes2: Any, reduction: str, eps: Any) -> tuple[Any, Any, float]:
    """Checked boxes (float64, same shape, none inverted), reduction and eps."""
    b1 = as_boxes(boxes1, "boxes1")
    b2 = as_boxes(boxes2, "boxes2")
    check_same_boxes_shape(b1, b2)
    check_reduction(reduction)
    return b1, b2, EPS.check(eps)


def reduce_pairs(loss: Any, reduction: str) -> Any:
    """``none``/``mean``/``sum`` over the pairs; the ``mean`` of no pairs is 0 (torchvision's IoU losses return
    ``0.0 * loss.sum()`` there, unlike the NaN of ``torch.nn.functional``)."""
    if reduction == "mean" and np.size(loss) == 0:
        return anp.sum(loss)
    return reduce(loss, reduction)


def pair_cotangent(grad_output: Any, b1: np.ndarray, reduction: str) -> np.ndarray:
    """The cotangent of each pair's loss, from that of the (reduced) output. (No pairs: an empty array, so the
    mean's division by zero pairs never happens.)"""
    return reduce_vjp(grad_output, b1.shape[:-1], reduction)


def iou_with_eps(b1: Any, b2: Any, eps: float) -> tuple[Any, Any, Any]:
    """IoU = I / (U + eps), with the intersection I and the union U."""
    inter, union = intersection_and_union(b1, b2)
    return inter / (union + eps), inter, union


def iou_cotangents(g_iou: np.ndarray, inter: np.ndarray, union: np.ndarray, eps: float) -> dict[str, np.ndarray]:
    """The cotangents of I, area1 and area2 from that of IoU = I / (area1 + area2 - I + eps):
    dIoU/dI = (U + eps + I) / (U + eps)^2 and dIoU/darea = -I / (U + eps)^2."""
    denominator = union + eps
    with np.errstate(divide="ignore", invalid="ignore"):
        d_area = -inter / denominator**2
        d_inter = (denominator + inter) / denominator**2
    return {"inter": g_iou * d_inter, "area1": g_iou * d_area, "area2": g_iou * d_area}
