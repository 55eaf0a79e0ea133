"""Pairwise IoU matrices: ``box_iou``, ``generalized_box_iou``, ``distance_box_iou`` and ``complete_box_iou``.

Each compares every box of ``boxes1`` (N) with every box of ``boxes2`` (M) and returns an N x M float64 matrix,
with torchvision.ops' names, values and ``eps``. The formulas are written once, on one block of rows against all
of ``boxes2``, with the broadcasting pair geometry of :mod:`refloss.boxes._pair`; :func:`_in_row_blocks` runs them
block by block into a preallocated output, so that the working memory stays within :data:`WORKSPACE_BYTES`
whatever N is (20,000 x 20,000 boxes: a 3.2 GB result, and tens of MiB besides). Derivation:
``docs/derivations/pairwise_box_iou.md``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from refloss._registry import Equivalent, Input, Interval, LossSpec, Param, Reference, register
from refloss.boxes._checks import as_boxes
from refloss.boxes._pair import centre_distance_squared, enclosing_size, intersection_and_union

__all__ = ["WORKSPACE_BYTES", "block_rows", "box_iou", "complete_box_iou", "distance_box_iou",
           "generalized_box_iou"]

# The working memory one block of rows may use. The budget the issue sets is 256 MiB beyond the result; half of
# it leaves room for NumPy's temporaries that the count below does not foresee and for the copies of the inputs.
WORKSPACE_BYTES = 128 * 2**20
# How many float64 arrays of the block's shape (rows x M) are alive at once, at most, in the widest formula
# (distance_box_iou and complete_box_iou: 10.1 with tracemalloc, boolean masks counting 1/8), rounded up; one row
# of a block then costs 12 * 8 * M bytes. tests/test_pairwise_iou.py checks the resulting bound.
_BLOCK_ARRAYS = 12


def box_iou(boxes1: Any, boxes2: Any, *, out: np.ndarray | None = None) -> np.ndarray:
    r"""Intersection over union of every pair of boxes: the N x M matrix :math:`I / U`.

    Definition:
        For a box :math:`b = (x_1, y_1, x_2, y_2)` of ``boxes1`` and :math:`b' = (x'_1, y'_1, x'_2, y'_2)` of
        ``boxes2``:

        .. math::
            I = i_w\, i_h, \quad i_w = \max(0, \min(x_2, x'_2) - \max(x_1, x'_1)), \quad
            i_h = \max(0, \min(y_2, y'_2) - \max(y_1, y'_1))  \qquad \text{(P1)}

        .. math::
            U = A + A' - I, \qquad \operatorname{IoU} = \frac{I}{U}  \qquad \text{(P2, P3)}

        with the areas :math:`A = (x_2 - x_1)(y_2 - y_1)` and :math:`A'`. No ``eps``: torchvision's ``box_iou``
        has none.

    Gradient:
        None (the registry's ``vjp`` is None). These matrices feed matching (anchor or proposal assignment,
        Hungarian matching, NMS), which treats them as constants; the differentiable forms are the matched-pair
        losses (``iou_loss`` and the others), which have VJPs.

    Conventions:
        Boxes in ``xyxy``; an inverted box is a ``ValueError`` naming it. Touching boxes have :math:`I = 0`.
        Two zero-area boxes have :math:`U = 0` and IoU :math:`0/0` = NaN, as torchvision: the overlap of two
        points or segments has no defined ratio, and a reference does not invent one (mmdet's ``bbox_overlaps``
        gives 0 by clamping :math:`U` at ``eps``; ``np.nan_to_num`` does the same afterwards). A zero-area box
        against a box of positive area gives 0. NaN coordinates propagate.

    Shapes:
        ``boxes1``: ``(N, 4)``; ``boxes2``: ``(M, 4)``. Output: ``(N, M)``, row n for ``boxes1[n]``.

    Args:
        boxes1: The first set of boxes, in ``xyxy``.
        boxes2: The second set of boxes, in ``xyxy``.
        out: Optional preallocated C-contiguous float64 array of shape ``(N, M)`` to write into (and return).

    Returns:
        The IoU matrix, float64 (``out`` if given).

    References:
        torchvision ``torchvision.ops.box_iou``:
        https://docs.pytorch.org/vision/stable/generated/torchvision.ops.box_iou.html

    Examples:
        >>> box_iou([[0.0, 0.0, 2.0, 2.0]], [[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0]]).tolist()
        [[0.14285714285714285, 1.0]]
    """
    b1, b2 = _pairwise_boxes(boxes1, boxes2)

    def block(rows: slice) -> np.ndarray:
        inter, union = intersection_and_union(b1[rows, None, :], b2[None, :, :])  # (P1, P2)
        return inter / union  # (P3)

    return _in_row_blocks(block, len(b1), len(b2), out)


def generalized_box_iou(boxes1: Any, boxes2: Any, *, out: np.ndarray | None = None) -> np.ndarray:
    r"""Generalized IoU of every pair of boxes: IoU minus the share of the enclosing box outside the union.

    Definition:
        With :math:`I`, :math:`U` and IoU as in :func:`box_iou` and the smallest box enclosing both,
        :math:`C = (\max(x_2, x'_2) - \min(x_1, x'_1)) \cdot (\max(y_2, y'_2) - \min(y_1, y'_1))`:

        .. math::
            \operatorname{GIoU} = \operatorname{IoU} - \frac{C - U}{C}  \qquad \text{(P4)}

        It lies in :math:`(-1, 1]`: 1 for identical boxes, towards -1 for small boxes far apart. No ``eps``.

    Gradient:
        None (the registry's ``vjp`` is None): used for matching (DETR's Hungarian cost), where it is a constant.
        ``giou_loss`` is the differentiable matched-pair form.

    Conventions:
        As :func:`box_iou` (``xyxy``, inverted boxes refused). NaN where :math:`U = 0` (two zero-area boxes),
        and where :math:`C = 0` as well (two equal points, or segments on one line), as torchvision.

    Shapes:
        ``boxes1``: ``(N, 4)``; ``boxes2``: ``(M, 4)``. Output: ``(N, M)``.

    Args:
        boxes1: The first set of boxes, in ``xyxy``.
        boxes2: The second set of boxes, in ``xyxy``.
        out: Optional preallocated C-contiguous float64 array of shape ``(N, M)`` to write into (and return).

    Returns:
        The GIoU matrix, float64 (``out`` if given).

    References:
        Rezatofighi, H. et al. "Generalized Intersection over Union", CVPR 2019: https://arxiv.org/abs/1902.09630.
        torchvision ``torchvision.ops.generalized_box_iou``:
        https://docs.pytorch.org/vision/stable/generated/torchvision.ops.generalized_box_iou.html

    Examples:
        >>> round(float(generalized_box_iou([[0.0, 0.0, 1.0, 1.0]], [[2.0, 0.0, 3.0, 2.0]])[0, 0]), 6)
        -0.5
    """
    b1, b2 = _pairwise_boxes(boxes1, boxes2)

    def block(rows: slice) -> np.ndarray:
        p, g = b1[rows, None, :], b2[None, :, :]
        inter, union = intersection_and_union(p, g)
        width, height = enclosing_size(p, g)
        enclosing = width * height
        return inter / union - (enclosing - union) / enclosing  # (P4)

    return _in_row_blocks(block, len(b1), len(b2), out)


def distance_box_iou(boxes1: Any, boxes2: Any, eps: float = 1e-7, *, out: np.ndarray | None = None) -> np.ndarray:
    r"""Distance IoU of every pair of boxes: IoU minus the squared centre distance over the enclosing diagonal.

    Definition:
        With :math:`\rho^2` the squared distance between the centres :math:`(\frac{x_1 + x_2}{2},
        \frac{y_1 + y_2}{2})` and :math:`c^2 = c_w^2 + c_h^2` the squared diagonal of the enclosing box:

        .. math::
            \operatorname{DIoU} = \operatorname{IoU} - \frac{\rho^2}{c^2 + \varepsilon}  \qquad \text{(P5)}

        ``eps`` (default 1e-7, torchvision's) is added to :math:`c^2` only; the IoU has none.

    Gradient:
        None (the registry's ``vjp`` is None): used for matching and DIoU-NMS, where it is a constant.
        ``diou_loss`` is the differentiable matched-pair form.

    Conventions:
        As :func:`box_iou`. NaN where the IoU is NaN (two zero-area boxes). ``eps`` must be finite and
        :math:`\ge 0`; with ``eps = 0`` two equal points give NaN in the penalty too.

    Shapes:
        ``boxes1``: ``(N, 4)``; ``boxes2``: ``(M, 4)``. Output: ``(N, M)``.

    Args:
        boxes1: The first set of boxes, in ``xyxy``.
        boxes2: The second set of boxes, in ``xyxy``.
        eps: Added to the squared enclosing diagonal (default 1e-7).
        out: Optional preallocated C-contiguous float64 array of shape ``(N, M)`` to write into (and return).

    Returns:
        The DIoU matrix, float64 (``out`` if given).

    References:
        Zheng, Z. et al. "Distance-IoU Loss", AAAI 2020, eq. (6): https://arxiv.org/abs/1911.08287.
        torchvision ``torchvision.ops.distance_box_iou``:
        https://docs.pytorch.org/vision/stable/generated/torchvision.ops.distance_box_iou.html

    Examples:
        >>> round(float(distance_box_iou([[0.0, 0.0, 2.0, 2.0]], [[1.0, 1.0, 3.0, 3.0]])[0, 0]), 6)
        0.031746
    """
    eps = EPS.check(eps)
    b1, b2 = _pairwise_boxes(boxes1, boxes2)

    def block(rows: slice) -> np.ndarray:
        diou, _ = _distance_iou_and_iou(b1[rows, None, :], b2[None, :, :], eps)
        return diou

    return _in_row_blocks(block, len(b1), len(b2), out)


def complete_box_iou(boxes1: Any, boxes2: Any, eps: float = 1e-7, *, out: np.ndarray | None = None) -> np.ndarray:
    r"""Complete IoU of every pair of boxes: DIoU minus an aspect-ratio penalty :math:`\alpha v`.

    Definition:
        With DIoU as in :func:`distance_box_iou` (the same ``eps``), the widths and heights :math:`w, h` of the
        box of ``boxes1`` and :math:`w', h'` of the box of ``boxes2``:

        .. math::
            v = \frac{4}{\pi^2}\,\Bigl(\operatorname{arctan}\frac{w}{h}
                - \operatorname{arctan}\frac{w'}{h'}\Bigr)^2  \quad \text{(P6)}, \qquad
            \alpha = \frac{v}{1 - \operatorname{IoU} + v + \varepsilon}  \qquad \text{(P7)}

        .. math::
            \operatorname{CIoU} = \operatorname{DIoU} - \alpha\,v  \qquad \text{(P8)}

    Gradient:
        None (the registry's ``vjp`` is None): used for matching, where it is a constant. ``ciou_loss`` is the
        differentiable matched-pair form (torchvision treats :math:`\alpha` as a constant there).

    Conventions:
        As :func:`distance_box_iou`. The aspect angle :math:`\operatorname{arctan}(w/h)` is :math:`\pi/2` for a
        box of zero height and positive width, and NaN for a box with :math:`w = h = 0` (:math:`0/0`), so a point
        box gives NaN against every box, as in torchvision. With ``eps = 0``, two identical boxes give NaN too:
        :math:`\alpha = 0/0` (torchvision's value; :func:`ciou_loss` instead takes :math:`\alpha = 0` where
        :math:`v = 0`, since its gradient must be defined at the loss's minimum). ``boxes1`` and ``boxes2`` enter
        symmetrically: the matrix for swapped arguments is the transpose.

    Shapes:
        ``boxes1``: ``(N, 4)``; ``boxes2``: ``(M, 4)``. Output: ``(N, M)``.

    Args:
        boxes1: The first set of boxes, in ``xyxy``.
        boxes2: The second set of boxes, in ``xyxy``.
        eps: Added to the squared enclosing diagonal and to the denominator of :math:`\alpha` (default 1e-7).
        out: Optional preallocated C-contiguous float64 array of shape ``(N, M)`` to write into (and return).

    Returns:
        The CIoU matrix, float64 (``out`` if given).

    References:
        Zheng, Z. et al. "Distance-IoU Loss", AAAI 2020, eqs. (9)-(11): https://arxiv.org/abs/1911.08287.
        torchvision ``torchvision.ops.complete_box_iou``:
        https://docs.pytorch.org/vision/stable/generated/torchvision.ops.complete_box_iou.html

    Examples:
        >>> round(float(complete_box_iou([[0.0, 0.0, 1.0, 1.0]], [[2.0, 0.0, 3.0, 2.0]])[0, 0]), 6)
        -0.328613
    """
    eps = EPS.check(eps)
    b1, b2 = _pairwise_boxes(boxes1, boxes2)
    # The aspect angles depend on one box each: computed once per box, not once per pair (as torchvision).
    angle1, angle2 = _aspect_angle(b1), _aspect_angle(b2)

    def block(rows: slice) -> np.ndarray:
        diou, iou = _distance_iou_and_iou(b1[rows, None, :], b2[None, :, :], eps)
        v = (4 / math.pi**2) * (angle1[rows, None] - angle2[None, :]) ** 2  # (P6)
        alpha = v / (1 - iou + v + eps)  # (P7)
        return diou - alpha * v  # (P8)

    return _in_row_blocks(block, len(b1), len(b2), out)


# ---- shared pieces ----------------------------------------------------------------------------------------------

def _distance_iou_and_iou(p: np.ndarray, g: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(P5) and the IoU, for broadcasting box arrays, in torchvision's order of operations."""
    inter, union = intersection_and_union(p, g)
    iou = inter / union
    width, height = enclosing_size(p, g)
    diagonal_squared = width**2 + height**2 + eps
    return iou - centre_distance_squared(p, g) / diagonal_squared, iou


def _aspect_angle(boxes: np.ndarray) -> np.ndarray:
    """arctan(w / h) per box: pi/2 for h = 0 < w, NaN for w = h = 0 (as torchvision's atan(w / h))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.arctan((boxes[:, 2] - boxes[:, 0]) / (boxes[:, 3] - boxes[:, 1]))


def _pairwise_boxes(boxes1: Any, boxes2: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both box sets as float64 arrays of shape (N, 4) and (M, 4), or an error naming the argument."""
    result = []
    for name, value in (("boxes1", boxes1), ("boxes2", boxes2)):
        boxes = as_boxes(value, name)
        if np.ndim(boxes) != 2:
            raise ValueError(f"{name} must have shape ({'N' if name == 'boxes1' else 'M'}, 4), got shape "
                             f"{np.shape(boxes)} (the pairwise functions take one set of boxes per argument)")
        result.append(np.asarray(boxes))
    return result[0], result[1]


def block_rows(m: int, workspace_bytes: int | None = None) -> int:
    """How many rows of an N x M pairwise matrix one block computes: as many as the workspace holds, at least 1.

    ``workspace_bytes`` defaults to the module's :data:`WORKSPACE_BYTES`, read at each call (tests lower it).
    """
    workspace_bytes = WORKSPACE_BYTES if workspace_bytes is None else workspace_bytes
    bytes_per_row = max(m, 1) * np.dtype(np.float64).itemsize * _BLOCK_ARRAYS
    return max(1, workspace_bytes // bytes_per_row)


def _in_row_blocks(block: Callable[[slice], np.ndarray], n: int, m: int, out: np.ndarray | None) -> np.ndarray:
    """Fill an N x M float64 matrix (``out``, or a new one) block of rows by block of rows with ``block(rows)``."""
    out = _check_out(out, (n, m))
    step = block_rows(m)
    # 0/0 for two zero-area boxes is NaN by definition here (see box_iou's Conventions), not a warning.
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, n, step):
            rows = slice(start, min(start + step, n))
            out[rows] = block(rows)
    return out


def _check_out(out: Any, shape: tuple[int, int]) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=np.float64)
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != shape:
        what = (f"{type(out).__name__}" if not isinstance(out, np.ndarray)
                else f"an array of dtype {out.dtype} and shape {out.shape}")
        raise ValueError(f"out must be a float64 NumPy array of shape {shape} (N x M), got {what}")
    if not out.flags.writeable:
        raise ValueError("out must be writeable, got a read-only array")
    return out


# ---- registration -------------------------------------------------------------------------------------------------

EPS = Param("eps", default=1e-7, domain=Interval(0.0, math.inf, low_closed=True),
            description="added to the squared enclosing diagonal (and, in complete_box_iou, to alpha's "
                        "denominator), as torchvision", grid=(1e-7, 0.0))

_INPUTS = (
    Input("boxes1", "the first set of boxes, xyxy", shape=("N", "4"), differentiable=False),
    Input("boxes2", "the second set of boxes, xyxy", shape=("M", "4"), differentiable=False),
)
_TORCHVISION_DOCS = "https://docs.pytorch.org/vision/stable/generated/torchvision.ops.{}.html"
_GIOU_PAPER = Reference("Rezatofighi, H. et al. Generalized Intersection over Union. CVPR 2019",
                        "https://arxiv.org/abs/1902.09630")
_DIOU_PAPER = Reference("Zheng, Z. et al. Distance-IoU Loss. AAAI 2020", "https://arxiv.org/abs/1911.08287")
_NO_GRADIENT = ("piecewise smooth in the coordinates (kinks where edges cross); registered without a gradient: "
                "used as a constant by matching")
_BATCHED = "torchvision also accepts leading batch dimensions (..., N, 4) and a fmt= argument"

for _function, _params, _papers, _note in (
    (box_iou, (), (), _BATCHED),
    (generalized_box_iou, (), (_GIOU_PAPER,), _BATCHED),
    (distance_box_iou, (EPS,), (_DIOU_PAPER,), _BATCHED),
    (complete_box_iou, (EPS,), (_DIOU_PAPER,), _BATCHED),
):
    register(LossSpec(
        name=_function.__name__,
        family="boxes",
        kind="geometry",
        forward=_function,
        vjp=None,
        inputs=_INPUTS,
        params=_params,
        smoothness=_NO_GRADIENT,
        references=(*_papers, Reference(f"torchvision, torchvision.ops.{_function.__name__}",
                                        _TORCHVISION_DOCS.format(_function.__name__))),
        equivalents=(Equivalent("torchvision", f"torchvision.ops.{_function.__name__}",
                                f"float16/bfloat16 computed in float32; {_note}"),),
        derivation="docs/derivations/pairwise_box_iou.md",
    ))
