"""Box formats and areas: ``box_convert`` between ``xyxy``, ``xywh`` and ``cxcywh``, and ``box_area``, with VJPs.

Both follow ``torchvision.ops`` (names, formats, formulas, operation order). Conversions go through ``xyxy``, as in
torchvision, and are linear maps, so their VJPs are the transposed maps applied in reverse order. Derivations:
``docs/derivations/box_convert.md`` and ``docs/derivations/box_area.md``.
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from refloss._checks import as_real_array, check_grad_output
from refloss._registry import REALS, Equivalent, Input, LossSpec, Param, Reference, register
from refloss.boxes._checks import as_boxes
from refloss.boxes._pair import area

__all__ = ["BOX_FORMATS", "box_area", "box_area_vjp", "box_convert", "box_convert_vjp"]

# torchvision's names. "xywh" is the top-left corner with the width and height (not ultralytics' centre "xywh",
# which is "cxcywh" here).
BOX_FORMATS = ("xyxy", "xywh", "cxcywh")
_COORDINATES = {"xyxy": "x1, y1, x2, y2", "xywh": "x, y, w, h", "cxcywh": "cx, cy, w, h"}


def box_convert(boxes: Any, in_fmt: str, out_fmt: str) -> Any:
    r"""Convert boxes between the ``xyxy``, ``xywh`` (top-left corner) and ``cxcywh`` (centre) formats.

    Definition:
        Every conversion goes through corners :math:`(x_1, y_1, x_2, y_2)`, as torchvision does:

        .. math::
            \text{xywh} \to \text{xyxy}: (x, y, x + w, y + h), \qquad
            \text{xyxy} \to \text{xywh}: (x_1, y_1, x_2 - x_1, y_2 - y_1)  \qquad \text{(C1, C2)}

        .. math::
            \text{cxcywh} \to \text{xyxy}: (c_x - \tfrac12 w, c_y - \tfrac12 h, c_x + \tfrac12 w, c_y + \tfrac12 h),
            \qquad
            \text{xyxy} \to \text{cxcywh}: (\tfrac{x_1 + x_2}{2}, \tfrac{y_1 + y_2}{2}, x_2 - x_1, y_2 - y_1)
            \qquad \text{(C3, C4)}

        ``xywh`` to ``cxcywh`` is (C1) then (C4); ``cxcywh`` to ``xywh`` is (C3) then (C2). The same format in and
        out returns a copy.

    Gradient:
        Each step is linear, so the VJP applies the transposed steps in reverse order (the boxes' values do not
        enter). For a cotangent :math:`g` of the output:

        .. math::
            \text{(C1)}^T: (g_1 + g_3, g_2 + g_4, g_3, g_4), \qquad
            \text{(C2)}^T: (g_1 - g_3, g_2 - g_4, g_3, g_4)  \qquad \text{(V1, V2)}

        .. math::
            \text{(C3)}^T: (g_1 + g_3, g_2 + g_4, \tfrac12 (g_3 - g_1), \tfrac12 (g_4 - g_2)), \qquad
            \text{(C4)}^T: (\tfrac12 g_1 - g_3, \tfrac12 g_2 - g_4, \tfrac12 g_1 + g_3, \tfrac12 g_2 + g_4)
            \qquad \text{(V3, V4)}

        Derivation: ``docs/derivations/box_convert.md``.

    Conventions:
        Formats are torchvision's: ``xywh`` is the top-left corner with width and height (ultralytics' ``xywh``
        is the centre form, ``cxcywh`` here). An unknown format is a ``ValueError`` listing the allowed ones
        (torchvision's rotated formats are not supported). The input must describe valid boxes in its own format:
        ``x2 < x1`` or ``y2 < y1`` in ``xyxy``, or a negative ``w`` or ``h`` in ``xywh`` and ``cxcywh``, is a
        ``ValueError`` naming the box and its coordinates as given, because such a box converts to an inverted
        ``xyxy`` box that every other function refuses (torchvision converts it silently). Zero sizes are valid;
        NaN propagates unchecked. The output is float64.

    Shapes:
        ``boxes``: ``(..., 4)``. Output: ``(..., 4)``.

    Args:
        boxes: Boxes in ``in_fmt``.
        in_fmt: ``"xyxy"``, ``"xywh"`` or ``"cxcywh"``.
        out_fmt: ``"xyxy"``, ``"xywh"`` or ``"cxcywh"``.

    Returns:
        The boxes in ``out_fmt``, float64.

    References:
        torchvision ``torchvision.ops.box_convert``:
        https://docs.pytorch.org/vision/stable/generated/torchvision.ops.box_convert.html

    Examples:
        >>> box_convert([10.0, 20.0, 30.0, 60.0], "xyxy", "cxcywh").tolist()
        [20.0, 40.0, 20.0, 40.0]
    """
    _check_formats(in_fmt, out_fmt)
    boxes = _as_boxes_in(boxes, in_fmt, "boxes")
    if in_fmt == out_fmt:
        return boxes * 1.0  # a new array (the product is exact), as torchvision's clone() makes
    return _FROM_XYXY[out_fmt](_TO_XYXY[in_fmt](boxes))


def box_convert_vjp(grad_output: Any, boxes: Any, in_fmt: str, out_fmt: str) -> tuple[np.ndarray]:
    """Vector-Jacobian product of :func:`box_convert` with respect to ``boxes``, as a 1-tuple.

    ``grad_output`` has the shape of ``boxes``. See :func:`box_convert`, "Gradient": (V1)-(V4) in reverse order.
    """
    _check_formats(in_fmt, out_fmt)
    boxes = _as_boxes_in(boxes, in_fmt, "boxes")
    g = check_grad_output(grad_output, np.shape(boxes))
    if in_fmt == out_fmt:
        return (g.copy(),)  # never the caller's cotangent itself
    return (_TO_XYXY_VJP[in_fmt](_FROM_XYXY_VJP[out_fmt](g)),)


def box_area(boxes: Any) -> Any:
    r"""Area of each box in ``xyxy``: :math:`(x_2 - x_1)(y_2 - y_1)`.

    Definition:
        Width times height, from the corners:

        .. math::
            A = (x_2 - x_1)(y_2 - y_1) = w\,h  \qquad \text{(A1)}

    Gradient:
        Each edge moves the area by the length of the perpendicular side:

        .. math::
            \frac{\partial A}{\partial x_1} = -h, \quad \frac{\partial A}{\partial y_1} = -w, \quad
            \frac{\partial A}{\partial x_2} = h, \quad \frac{\partial A}{\partial y_2} = w
            \qquad \text{(A2)}

        The VJP multiplies these by the cotangent of each box's area. Derivation: ``docs/derivations/box_area.md``.

    Conventions:
        Continuous coordinates: no "+1 pixel" term (py-faster-rcnn and mmdet 1.x used
        :math:`(x_2 - x_1 + 1)(y_2 - y_1 + 1)`). A zero-width or zero-height box has area 0 (and a non-zero
        gradient: moving an edge out grows it). An inverted box (``x2 < x1`` or ``y2 < y1``) is a ``ValueError``
        naming the box; torchvision returns a negative area (or a positive one when both sides are inverted).
        Only ``xyxy`` is accepted: torchvision 0.29's ``fmt=`` argument is replaced by :func:`box_convert`.
        Integer boxes give float64 areas (torchvision keeps the integer dtype).

    Shapes:
        ``boxes``: ``(..., 4)``. Output: ``(...)``.

    Args:
        boxes: Boxes in ``xyxy``.

    Returns:
        The areas, float64.

    References:
        torchvision ``torchvision.ops.box_area``:
        https://docs.pytorch.org/vision/stable/generated/torchvision.ops.box_area.html

    Examples:
        >>> float(box_area([1.0, 2.0, 4.0, 7.0]))
        15.0
    """
    return area(as_boxes(boxes, "boxes"))  # (A1)


def box_area_vjp(grad_output: Any, boxes: Any) -> tuple[np.ndarray]:
    """Vector-Jacobian product of :func:`box_area` with respect to ``boxes``, as a 1-tuple.

    ``grad_output`` has the shape of the areas, ``boxes.shape[:-1]``. See :func:`box_area`, "Gradient" (A2).
    """
    boxes = as_boxes(boxes, "boxes")
    g = check_grad_output(grad_output, np.shape(boxes)[:-1])
    width, height = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return (np.stack([-g * height, -g * width, g * height, g * width], axis=-1),)  # (A2)


# ---- validation -------------------------------------------------------------------------------------------------

def _check_formats(in_fmt: Any, out_fmt: Any) -> None:
    for param, fmt in zip(_FORMAT_PARAMS, (in_fmt, out_fmt)):  # (the registry's choice parameters)
        param.check(fmt)


def _as_boxes_in(value: Any, fmt: str, name: str) -> Any:
    """``value`` as float64 boxes of shape ``(..., 4)`` that are valid in ``fmt``, or an error naming the box."""
    if fmt == "xyxy":
        return as_boxes(value, name)
    boxes = as_real_array(value, name)
    values = getval(boxes)
    if values.ndim == 0 or values.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4) (boxes as {_COORDINATES[fmt]}), got shape {values.shape}")
    negative = (values[..., 2] < 0) | (values[..., 3] < 0)
    if np.any(negative):
        index = tuple(int(i) for i in np.argwhere(negative)[0])
        box = values[index]
        side = "w < 0" if box[2] < 0 else "h < 0"
        where = f"{name}[{', '.join(map(str, index))}]" if index else name
        raise ValueError(f"{where} = {box.tolist()} is not a valid box in {fmt}: {side} "
                         f"({int(np.sum(negative))} box(es) with a negative size in {name})")
    return boxes


# ---- the conversions, each to or from corners ---------------------------------------------------------------------

def _xywh_to_xyxy(b: Any) -> Any:  # (C1)
    x, y, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return anp.stack([x, y, x + w, y + h], axis=-1)


def _xyxy_to_xywh(b: Any) -> Any:  # (C2)
    x1, y1, x2, y2 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return anp.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)


def _cxcywh_to_xyxy(b: Any) -> Any:  # (C3), torchvision's order: cx - 0.5 * w
    cx, cy, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return anp.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=-1)


def _xyxy_to_cxcywh(b: Any) -> Any:  # (C4), torchvision's order: (x1 + x2) / 2
    x1, y1, x2, y2 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return anp.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)


def _identity(b: Any) -> Any:
    return b


_TO_XYXY = {"xyxy": _identity, "xywh": _xywh_to_xyxy, "cxcywh": _cxcywh_to_xyxy}
_FROM_XYXY = {"xyxy": _identity, "xywh": _xyxy_to_xywh, "cxcywh": _xyxy_to_cxcywh}


# ---- their transposes: g is the cotangent of a step's output, the result that of its input ------------------------

def _xywh_to_xyxy_vjp(g: np.ndarray) -> np.ndarray:  # (V1): x feeds x1 and x2, w only x2
    return np.stack([g[..., 0] + g[..., 2], g[..., 1] + g[..., 3], g[..., 2], g[..., 3]], axis=-1)


def _xyxy_to_xywh_vjp(g: np.ndarray) -> np.ndarray:  # (V2): x1 feeds x and (negatively) w
    return np.stack([g[..., 0] - g[..., 2], g[..., 1] - g[..., 3], g[..., 2], g[..., 3]], axis=-1)


def _cxcywh_to_xyxy_vjp(g: np.ndarray) -> np.ndarray:  # (V3): cx feeds both x1 and x2; w moves them apart
    return np.stack([g[..., 0] + g[..., 2], g[..., 1] + g[..., 3],
                     0.5 * (g[..., 2] - g[..., 0]), 0.5 * (g[..., 3] - g[..., 1])], axis=-1)


def _xyxy_to_cxcywh_vjp(g: np.ndarray) -> np.ndarray:  # (V4): x1 feeds half of cx and minus w
    return np.stack([0.5 * g[..., 0] - g[..., 2], 0.5 * g[..., 1] - g[..., 3],
                     0.5 * g[..., 0] + g[..., 2], 0.5 * g[..., 1] + g[..., 3]], axis=-1)


_TO_XYXY_VJP = {"xyxy": _identity, "xywh": _xywh_to_xyxy_vjp, "cxcywh": _cxcywh_to_xyxy_vjp}
_FROM_XYXY_VJP = {"xyxy": _identity, "xywh": _xyxy_to_xywh_vjp, "cxcywh": _xyxy_to_cxcywh_vjp}


# ---- registration -------------------------------------------------------------------------------------------------

_FORMAT_PARAMS = tuple(
    Param(name, default=None, domain=REALS, kind="choice", choices=BOX_FORMATS, required=True,
          description=f"{role} format, required: one of {', '.join(BOX_FORMATS)}")
    for name, role in (("in_fmt", "input"), ("out_fmt", "output"))
)

_TORCHVISION_DOCS = "https://docs.pytorch.org/vision/stable/generated/torchvision.ops.{}.html"

register(LossSpec(
    name="box_convert",
    family="boxes",
    kind="geometry",
    forward=box_convert,
    vjp=box_convert_vjp,
    inputs=(Input("boxes", "boxes in in_fmt", shape=("...", "4")),),
    params=_FORMAT_PARAMS,
    smoothness="linear in the boxes (the Jacobian is a constant 4 x 4 matrix per pair of formats)",
    references=(Reference("torchvision, torchvision.ops.box_convert", _TORCHVISION_DOCS.format("box_convert")),),
    equivalents=(
        Equivalent("torchvision", "torchvision.ops.box_convert",
                   "converts boxes with a negative size silently; keeps the input dtype (integers become float32 "
                   "when halved); also has rotated formats"),
        Equivalent("ultralytics", "ultralytics.utils.ops.xywh2xyxy / xyxy2xywh",
                   "its xywh is the centre form, refloss's cxcywh"),
    ),
))

register(LossSpec(
    name="box_area",
    family="boxes",
    kind="geometry",
    forward=box_area,
    vjp=box_area_vjp,
    inputs=(Input("boxes", "boxes in xyxy", shape=("...", "4")),),
    params=(),
    smoothness="a polynomial of degree 2 in the coordinates (smooth)",
    references=(Reference("torchvision, torchvision.ops.box_area", _TORCHVISION_DOCS.format("box_area")),),
    equivalents=(
        Equivalent("torchvision", "torchvision.ops.box_area",
                   "inverted boxes give a signed area instead of an error; integer boxes keep their dtype; "
                   "float16/bfloat16 are computed in float32; fmt= accepts xywh and cxcywh"),
    ),
))
