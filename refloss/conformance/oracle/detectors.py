"""Oracles of the YOLO training losses: the assignment decided at high precision, each term's textbook formula in
mpmath, and each output entry's derivative.

Given its assignment, a detector loss is separable: every entry of the raw head output enters at most one term,
through one scalar function of that entry alone (a squared difference to a held target, or a BCE against a held
target). So an oracle here is the assignment (written from the losses' docstrings and
``/work/shared/research/detectors.md`` sections 1 and 2, never from refloss's NumPy code, which it exists to check)
followed by a list of :class:`_Entry` records, one per output entry that enters a term:

* ``textbook(v)``: the entry's contribution to its term's sum, in mpmath with no stability tricks (the expected
  value; ``mpmath.diff`` differentiates it at 120 digits for the expected gradient check);
* ``standard(v)`` and ``slope(v, g)``: the same contribution and its gradient as the loss's standard algorithm
  computes them (the docstrings' formulas: squared differences, BCE through a stable softplus, ``sigmoid(x) - t``),
  over :class:`rounding.Bound` numbers, which carry exact values and running error bounds: the per-entry scales of
  policy_v2. Their values must agree with the textbook and with ``mpmath.diff`` to 30 digits (:func:`agree`).

yolov3_eriklindernoren_loss's terms are sums over scales of means (over the whole batch), so each of its entries
carries its own weight and 1/n (K_s positives, Q_s negatives or K_s C class entries of its scale); a term that is a
mean of nothing is NaN (the scene's ``empty``), and the gradient gets nothing from it. Its BCE is torch's
``BCELoss`` on sigmoid(z): the textbook takes p exactly (log p = -softplus(-z), clamped at -100), the standard
algorithm rounds p (computed from exp(-|z|)) before log, log1p(-p) and the gradient's (p - y) / (p (1 - p)), so its
bound grows as e^|z| u where p nears 1 (which covers torch's p rounding to 1 beyond z = 36.7, below the clamp).

Targets (box offsets, square roots of sizes, log sizes, IoU confidence targets, the 2 - w h weights) are computed
from the exact inputs as Bounds too: the Bound's value is the exact target (60 digits) and its error bound is that
of the float64 computation. Every decision (cells, the responsible predictor, anchors, the ignore mask) is taken on
those exact values.

NaN: an output entry that is NaN and enters a term makes that term, the total and the entry's gradient NaN (an entry
that enters no term keeps gradient 0). An infinite entry gives its contribution's limit (inf, or 0 for a BCE on the
right side) and its analytic slope in IEEE arithmetic, with no error bound. In the assignment a NaN in a predicted
box makes its IoU 0 (YOLOv1: the union is not positive) or not above the threshold (YOLOv3: no ignore); YOLOv1's
RMSE fallback then keeps predictor 0 (the minimum RMSE is NaN, which is not below 20). Nothing here imports
refloss.losses, refloss.boxes or refloss.activations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.evaluate import DIGITS, Expectation, Tensor, _snap, agree

__all__ = ["DetectorOracle", "ORACLES", "evaluate_detector", "scene"]

_DIFF_DIGITS = 120
TERMS = ("xy", "wh", "object", "no_object", "class")
SIGNED_SQRT_EPS = "1e-6"  # size_output="linear": sign(w) sqrt(|w + 1e-6|), read at the working precision
RMSE_START = 20  # darknet's initial best RMSE: predictor 0 stays responsible if no RMSE is below it


# ---- one entry of the output that enters a term --------------------------------------------------------------

@dataclass
class _Entry:
    """Output entry ``index`` (flat) enters term ``term`` through ``textbook``/``standard`` (its contribution to the
    term's sum) with gradient ``slope(v, g)`` (g: the term's cotangent over the divisor, as a Bound; the slope
    includes the term's weight). ``kink_distance(v)``: how far v is from a kink of the contribution (0: at the
    kink, where ``slope`` gives the declared value and no numerical check is made)."""

    index: int
    term: str
    textbook: Callable[[mpf], mpf]
    standard: Callable[[r.Bound], r.Bound]
    slope: Callable[[r.Bound, r.Bound], r.Bound]
    kink_distance: Callable[[mpf], mpf] = lambda v: mpmath.inf

    def group(self) -> "_Group":
        """The entry as a group of one entry of the input ``output``."""
        return _Group([("output", self.index)], self.term, textbook=lambda vs: self.textbook(vs[0]),
                      standard=lambda vs: self.standard(vs[0]), slope=lambda vs, g: [self.slope(vs[0], g)],
                      kink_distance=lambda vs: [self.kink_distance(vs[0])])


@dataclass
class _Group:
    """Entries ``indices`` ((input name, flat index) each) enter term ``term`` together, through one function of
    their values: ``textbook(vs)`` (the contribution to the term's sum before ``weight``, in mpmath),
    ``standard(vs)`` (the same as the standard algorithm computes it, over Bounds) and ``slope(vs, g)`` (the
    gradient w.r.t. each entry, g the term's cotangent over its divisor; it includes ``weight`` and the term's
    weight). A softmax cross-entropy couples a row of logits, an IoU loss of a decoded box its four deltas; a
    single entry is a group of one (:meth:`_Entry.group`).

    ``kink_distance(vs)``: per entry, how far its value is from a kink of the contribution. 0 means at the kink:
    with ``one_sided`` the expectation is the midpoint of the one-sided numerical derivatives and the interval
    between them is accepted (|d| at d = 0, a decoded box touching its ground truth); without, ``slope`` gives the
    declared value and no numerical check is made (the YOLO oracles' conventions)."""

    indices: list[tuple[str, int]]
    term: str
    textbook: Callable[[list], mpf]
    standard: Callable[[list], r.Bound]
    slope: Callable[[list, r.Bound], list]
    kink_distance: Callable[[list], list] = lambda vs: [mpmath.inf] * len(vs)
    weight: r.Bound = field(default_factory=lambda: r.exact(1))
    one_sided: bool = False


@dataclass
class _Scene:
    """The entries (or groups) of a case, each term's weight (applied to its sum: lambda_coord, lambda_noobj) and
    the divisor of every term (N, 1 or 2N), or of some terms their own (``divisors``: |S|, max(1, positives))."""

    entries: list
    weights: dict[str, mpf]
    divisor: Any
    decisions: dict[str, Any] = field(default_factory=dict)  # the assignment, for tests and for reading
    empty: set[str] = field(default_factory=set)  # terms that are a mean of nothing: NaN (no gradient from it)
    divisors: dict[str, Any] = field(default_factory=dict)

    def divisor_of(self, term: str) -> Any:
        return self.divisors.get(term, self.divisor)

    def groups(self) -> list["_Group"]:
        return [e.group() if isinstance(e, _Entry) else e for e in self.entries]


def _sigmoid(v: mpf) -> mpf:
    return 1 / (1 + mpmath.exp(-v))


def _textbook_softplus(v: mpf) -> mpf:
    """log(1 + e^v), which is -log sigmoid(-v) (mpmath's log1p is exact for tiny e^v, exp never overflows)."""
    return mpmath.log1p(mpmath.exp(v))


def _bound_sigmoid(v: r.Bound) -> r.Bound:
    return r.sigmoid(v)


def _squared(index: int, term: str, target: r.Bound, weight: mpf) -> _Entry:
    """(v - t)^2, gradient 2 w g (v - t) (YOLOv1, L1 to L5 and L6)."""
    return _Entry(index, term,
                  textbook=lambda v: (v - target.value) ** 2,
                  standard=lambda v: (v - target) * (v - target),
                  slope=lambda v, g: 2 * r.exact(weight) * g * (v - target))


def _signed_sqrt(v: Any) -> Any:
    """sign(w) sqrt(|w + 1e-6|) as the standard algorithm computes it (1e-6 rounded once to float64)."""
    if v.value == 0:
        return r.exact(0)
    root = r.power(abs(v + _eps()), 0.5)
    return root if v.value > 0 else -root


def _eps() -> r.Bound:
    """1e-6 as the standard algorithm has it: the float64 constant, one rounding of the exact 1e-6."""
    eps = mpf(SIGNED_SQRT_EPS)
    return r.Bound(eps, eps)


def _signed_sqrt_squared(index: int, target: r.Bound, weight: mpf) -> _Entry:
    """(s(w) - t)^2 with s(w) = sign(w) sqrt(|w + 1e-6|) (size_output="linear", aladdinpersson's form): gradient
    2 w g (s(w) - t) sign(w) sign(w + 1e-6) / (2 sqrt(|w + 1e-6|)), and 0 at w = 0 (the declared convention: the
    function jumps there) and at w = -1e-6 (its slope is infinite; no vector holds that value)."""
    def slope(v: r.Bound, g: r.Bound) -> r.Bound:
        shifted = v + _eps()
        if v.value == 0 or shifted.value == 0:
            return r.exact(0)
        root = r.power(abs(shifted), 0.5)
        signed = root if v.value > 0 else -root
        orientation = 1 if (v.value > 0) == (shifted.value > 0) else -1
        return 2 * r.exact(weight) * g * (signed - target) * orientation / (2 * root)

    def textbook(v: mpf) -> mpf:
        return (mpmath.sign(v) * mpmath.sqrt(abs(v + mpf(SIGNED_SQRT_EPS))) - target.value) ** 2

    return _Entry(index, "wh", textbook=textbook,
                  standard=lambda v: (_signed_sqrt(v) - target) * (_signed_sqrt(v) - target),
                  slope=slope, kink_distance=lambda v: min(abs(v), abs(v + mpf(SIGNED_SQRT_EPS))))


def _bce(index: int, term: str, target: r.Bound, weight: r.Bound | None) -> _Entry:
    """s BCE(v, t) = s (-t log sigmoid(v) - (1 - t) log sigmoid(-v)), gradient s g (sigmoid(v) - t) (Y3, Y8, Y9);
    ``weight`` None: no factor s (the class term)."""
    def textbook(v: mpf) -> mpf:
        loss = target.value * _textbook_softplus(-v) + (1 - target.value) * _textbook_softplus(v)
        return loss if weight is None else weight.value * loss

    def standard(v: r.Bound) -> r.Bound:
        log_sigmoid, log_complement = -r.softplus(-v), -r.softplus(v)  # log sigmoid(v), log sigmoid(-v)
        loss = -(target * log_sigmoid + (1 - target) * log_complement)
        return loss if weight is None else weight * loss

    def slope(v: r.Bound, g: r.Bound) -> r.Bound:
        residual = r.sigmoid(v) - target
        return g * residual if weight is None else g * weight * residual

    return _Entry(index, term, textbook, standard, slope)


def _objectness(index: int, positive: bool) -> _Entry:
    """BCE(z, 1) = softplus(-z) on a positive (Y6), BCE(z, 0) = softplus(z) on a negative (Y7); gradients
    -g sigmoid(-z) and g sigmoid(z)."""
    if positive:
        return _Entry(index, "object", textbook=lambda v: _textbook_softplus(-v), standard=lambda v: r.softplus(-v),
                      slope=lambda v, g: -(g * r.sigmoid(-v)))
    return _Entry(index, "no_object", textbook=_textbook_softplus, standard=r.softplus,
                  slope=lambda v, g: g * r.sigmoid(v))


def _sse_offset(index: int, target: r.Bound, weight: r.Bound) -> _Entry:
    """s/2 (sigmoid(v) - t)^2, gradient s g (sigmoid(v) - t) sigmoid(v) sigmoid(-v) (Y4, xy_loss="sse")."""
    def standard(v: r.Bound) -> r.Bound:
        residual = r.sigmoid(v) - target
        return weight / 2 * (residual * residual)

    def slope(v: r.Bound, g: r.Bound) -> r.Bound:
        return g * weight * (r.sigmoid(v) - target) * (r.sigmoid(v) * r.sigmoid(-v))

    return _Entry(index, "xy", textbook=lambda v: weight.value / 2 * (_sigmoid(v) - target.value) ** 2,
                  standard=standard, slope=slope)


def _half_squared(index: int, target: r.Bound, weight: r.Bound) -> _Entry:
    """s/2 (v - t)^2, gradient s g (v - t) (Y5)."""
    return _Entry(index, "wh", textbook=lambda v: weight.value / 2 * (v - target.value) ** 2,
                  standard=lambda v: weight / 2 * ((v - target) * (v - target)),
                  slope=lambda v, g: g * weight * (v - target))


# ---- geometry shared by the assignments (on Bounds: exact values, float64 error bounds) --------------------

def _larger(a: r.Bound, b: r.Bound) -> r.Bound:
    return a if a.value >= b.value else b


def _smaller(a: r.Bound, b: r.Bound) -> r.Bound:
    return a if a.value <= b.value else b


def _iou_of_centred(centre1: list, size1: list, centre2: list, size2: list) -> r.Bound:
    """IoU of two boxes given by centre and size (Bounds): I / U with I the product of the overlaps
    min(c1 + s1/2, c2 + s2/2) - max(c1 - s1/2, c2 - s2/2) clipped at 0; 0 unless U > 0 (a NaN anywhere makes U
    NaN, so 0 too)."""
    values = [b.value for b in centre1 + size1 + centre2 + size2]
    if any(mpmath.isnan(v) for v in values):
        return r.exact(0)
    inter = r.exact(1)
    for axis in range(2):
        low = _larger(centre1[axis] - size1[axis] / 2, centre2[axis] - size2[axis] / 2)
        high = _smaller(centre1[axis] + size1[axis] / 2, centre2[axis] + size2[axis] / 2)
        overlap = high - low
        inter = inter * overlap if overlap.value > 0 else r.exact(0)
    union = size1[0] * size1[1] + size2[0] * size2[1] - inter
    return inter / union if union.value > 0 else r.exact(0)


def _first_argmax(values: list) -> int:
    """The first index of the largest value (a strict > scan, as darknet's loops)."""
    best = 0
    for k, v in enumerate(values):
        if v > values[best]:
            best = k
    return best


def _cell(centre: mpf, cells: int) -> int:
    """floor(c * cells), clipped to the last cell (c = 1)."""
    return min(int(mpmath.floor(centre * cells)), cells - 1)


def _object(box: list) -> tuple[list, list]:
    """An xyxy box (exact values) as Bounds of its centre (x1 + x2)/2 and size x2 - x1."""
    x1, y1, x2, y2 = (r.exact(v) for v in box)
    return [(x1 + x2) / 2, (y1 + y2) / 2], [x2 - x1, y2 - y1]


# ---- YOLOv1 ----------------------------------------------------------------------------------------------------

def _yolov1_responsible(predictors: list, cell: tuple[int, int], s: int, centre: list, size: list,
                        size_output: str) -> tuple[int, list]:
    """The responsible predictor of a cell (col, row) for the object (centre, size): the first argmax of the IoU of
    the predicted boxes; if every IoU is 0, the first argmin of the RMSE over (x, y, w, h) in image units, or 0 if
    no RMSE is below 20 (a NaN RMSE included). Returns it and every predictor's IoU (Bounds)."""
    col, row = cell
    ious, rmses = [], []
    for x, y, w, h in predictors:
        p_centre = [(col + r.exact(x)) / s, (row + r.exact(y)) / s]
        if size_output == "sqrt":
            p_size = [r.exact(w) * r.exact(w), r.exact(h) * r.exact(h)]
        else:  # a negative linear size is an empty box (NaN stays NaN)
            p_size = [r.exact(v) if mpmath.isnan(v) or v > 0 else r.exact(0) for v in (w, h)]
        ious.append(_iou_of_centred(p_centre, p_size, centre, size))
        squares = [(p.value - t.value) ** 2 for p, t in zip(p_centre + p_size, centre + size)]
        rmses.append(mpmath.sqrt(mpmath.fsum(squares)))
    values = [iou.value for iou in ious]
    if any(v > 0 for v in values):
        return _first_argmax(values), ious
    if any(mpmath.isnan(e) for e in rmses):
        return 0, ious
    best = _first_argmax([-e for e in rmses])
    return (best if rmses[best] < RMSE_START else 0), ious


def _yolov1_scene(output: np.ndarray, boxes: np.ndarray, labels: np.ndarray, params: dict) -> _Scene:
    """The YOLOv1 entries of a case: output (N, S, S, 5B + C) of mpf, boxes (N, M, 4) of mpf, labels (N, M)."""
    s, b, c = (int(params[k]) for k in ("grid_size", "num_boxes", "num_classes"))
    size_output, no_object = str(params["size_output"]), str(params["no_object"])
    n = output.shape[0]
    width = 5 * b + c
    lc, ln = mpf(float(params["lambda_coord"])), mpf(float(params["lambda_noobj"]))
    entries: list[_Entry] = []
    owners: dict[tuple[int, int, int], int] = {}
    dropped, responsible = [], {}

    for image in range(n):
        for k in range(labels.shape[1]):  # in boxes order: the first object of a cell keeps it
            if labels[image, k] < 0:
                continue
            centre = [(boxes[image, k, 0] + boxes[image, k, 2]) / 2, (boxes[image, k, 1] + boxes[image, k, 3]) / 2]
            cell = (image, _cell(centre[1], s), _cell(centre[0], s))
            if cell in owners:
                dropped.append((image, k))
            else:
                owners[cell] = k

    def flat(image: int, row: int, col: int, slot: int) -> int:
        return ((image * s + row) * s + col) * width + slot

    for (image, row, col), k in owners.items():
        centre, size = _object(list(boxes[image, k]))
        predictors = [[output[image, row, col, 5 * j + e] for e in range(4)] for j in range(b)]
        best, ious = _yolov1_responsible(predictors, (col, row), s, centre, size, size_output)
        responsible[(image, row, col)] = best
        targets = [centre[0] * s - col, centre[1] * s - row, r.power(size[0], 0.5), r.power(size[1], 0.5)]
        for e in range(2):
            entries.append(_squared(flat(image, row, col, 5 * best + e), "xy", targets[e], lc))
        for e in (2, 3):
            index = flat(image, row, col, 5 * best + e)
            entries.append(_squared(index, "wh", targets[e], lc) if size_output == "sqrt"
                           else _signed_sqrt_squared(index, targets[e], lc))
        confidence = ious[best] if params["confidence_target"] == "iou" else r.exact(1)
        entries.append(_squared(flat(image, row, col, 5 * best + 4), "object", confidence, mpf(1)))
        for cls in range(c):
            wanted = r.exact(1 if cls == labels[image, k] else 0)
            entries.append(_squared(flat(image, row, col, 5 * b + cls), "class", wanted, mpf(1)))

    for image in range(n):
        for row in range(s):
            for col in range(s):
                held = (image, row, col) in owners
                for j in range(b):
                    pushed = (responsible.get((image, row, col)) != j if no_object == "non_responsible"
                              else not held)
                    if pushed:
                        entries.append(_squared(flat(image, row, col, 5 * j + 4), "no_object", r.exact(0), ln))

    divisor = {"images": n, "sum": 1, "darknet": 2 * n}[str(params["normalization"])]
    return _Scene(entries, {"xy": lc, "wh": lc, "object": mpf(1), "no_object": ln, "class": mpf(1)}, divisor,
                  {"owners": owners, "responsible": responsible, "dropped": dropped})


# ---- YOLOv3 ----------------------------------------------------------------------------------------------------

def _rows(value: Any) -> list:
    """A tuple of tuples or a (decoded JSON) array as nested lists of Python numbers."""
    return np.asarray(value).tolist() if isinstance(value, np.ndarray) else [list(v) if isinstance(v, (tuple, list))
                                                                             else v for v in value]


@dataclass(frozen=True)
class _Scale:
    start: int
    width: int  # W, columns
    height: int  # H, rows
    mask: tuple[int, ...]


def _yolov3_scales(params: dict) -> tuple[list, list[_Scale], tuple[int, int]]:
    """Anchors (p_w, p_h), the scales in anchor_masks order (prediction (a, j, i) at start + (a H + j) W + i) and
    (net_w, net_h)."""
    anchors = [[mpf(float(v)) for v in pair] for pair in _rows(params["anchors"])]
    masks = [[int(k) for k in mask] for mask in _rows(params["anchor_masks"])]
    strides = [int(v) for v in np.asarray(params["strides"]).ravel().tolist()]
    net_w, net_h = (int(v) for v in np.asarray(params["input_size"]).ravel().tolist())
    scales, start = [], 0
    for stride, mask in zip(strides, masks):
        scale = _Scale(start, net_w // stride, net_h // stride, tuple(mask))
        scales.append(scale)
        start += len(mask) * scale.width * scale.height
    return anchors, scales, (net_w, net_h)


def _predicted_box(t: list, i: int, j: int, scale: _Scale, anchor: list, net: tuple[int, int]) -> list:
    """The decoded box, xyxy: centre ((i + sigmoid(t_x))/W, (j + sigmoid(t_y))/H), size (e^t_w p_w / net_w,
    e^t_h p_h / net_h)."""
    cx, cy = (i + _sigmoid(t[0])) / scale.width, (j + _sigmoid(t[1])) / scale.height
    w, h = mpmath.exp(t[2]) * anchor[0] / net[0], mpmath.exp(t[3]) * anchor[1] / net[1]
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _box_iou(a: list, b: list) -> mpf:
    """IoU of two xyxy boxes (NaN where a coordinate is NaN: never above a threshold)."""
    if any(mpmath.isnan(v) for v in a + b):
        return mpmath.nan
    iw, ih = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = iw * ih if iw > 0 and ih > 0 else mpf(0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else mpf(0)


def _shape_iou(anchor: list, size: list) -> mpf:
    """IoU of two boxes of these sizes sharing a centre."""
    inter = min(anchor[0], size[0]) * min(anchor[1], size[1])
    return inter / (anchor[0] * anchor[1] + size[0] * size[1] - inter)


def _yolov3_scene(output: np.ndarray, boxes: np.ndarray, labels: np.ndarray, params: dict) -> _Scene:
    """The YOLOv3 entries of a case: output (N, P, 5 + C) of mpf, boxes (N, M, 4) of mpf, labels (N, M)."""
    anchors, scales, net = _yolov3_scales(params)
    c = int(params["num_classes"])
    n, p = output.shape[:2]
    width = 5 + c
    thresh = mpf(float(params["ignore_thresh"]))
    predictions = [(scale, a, j, i) for scale in scales for a in range(len(scale.mask))
                   for j in range(scale.height) for i in range(scale.width)]  # in the layout's order
    if len(predictions) != p:
        raise ValueError(f"the anchors, masks, strides and input size give {len(predictions)} predictions; the output "
                         f"has {p}")

    entries: list[_Entry] = []
    positives: dict[tuple[int, int], dict] = {}
    ignored, anchor_of, prediction_of = set(), {}, {}
    for image in range(n):
        objects = [k for k in range(labels.shape[1]) if labels[image, k] >= 0]
        truth = {k: list(boxes[image, k]) for k in objects}
        for index, (scale, a, j, i) in enumerate(predictions):  # 1. the ignore mask, from the predicted boxes
            box = _predicted_box(list(output[image, index, :4]), i, j, scale, anchors[scale.mask[a]], net)
            if any(_box_iou(box, truth[k]) > thresh for k in objects):
                ignored.add((image, index))
        for k in objects:  # 2. positives, in boxes order: a later object overwrites the box target and weight
            centre, size = _object(truth[k])
            relative = [[pw / net[0], ph / net[1]] for pw, ph in anchors]
            best = _first_argmax([_shape_iou(anchor, [v.value for v in size]) for anchor in relative])
            anchor_of[(image, k)] = best
            scale = next((sc for sc in scales if best in sc.mask), None)
            if scale is None:
                continue
            i, j = _cell(centre[0].value, scale.width), _cell(centre[1].value, scale.height)
            a = scale.mask.index(best)
            index = scale.start + (a * scale.height + j) * scale.width + i
            prediction_of[(image, k)] = index
            targets = [centre[0] * scale.width - i, centre[1] * scale.height - j,
                       r.log(size[0] * net[0] / anchors[best][0]), r.log(size[1] * net[1] / anchors[best][1])]
            weight = 2 - size[0] * size[1] if params["box_weight"] == "2-wh" else r.exact(1)
            held = positives.setdefault((image, index), {"classes": set()})
            held.update(object=k, targets=targets, weight=weight)
            held["classes"].add(int(labels[image, k]))

    sse = params["xy_loss"] == "sse"
    for image in range(n):
        for index in range(p):
            base = (image * p + index) * width
            held = positives.get((image, index))
            if held is None:
                if (image, index) not in ignored:
                    entries.append(_objectness(base + 4, positive=False))
                continue
            targets, weight = held["targets"], held["weight"]
            for e in range(2):
                entries.append(_sse_offset(base + e, targets[e], weight) if sse
                               else _bce(base + e, "xy", targets[e], weight))
            for e in (2, 3):
                entries.append(_half_squared(base + e, targets[e], weight))
            entries.append(_objectness(base + 4, positive=True))
            for cls in range(c):
                entries.append(_bce(base + 5 + cls, "class", r.exact(1 if cls in held["classes"] else 0), None))

    ignored -= set(positives)
    return _Scene(entries, {name: mpf(1) for name in TERMS}, n,
                  {"positives": positives, "ignored": ignored, "anchor": anchor_of, "prediction": prediction_of})


# ---- YOLOv3 as eriklindernoren/PyTorch-YOLOv3 ------------------------------------------------------------------

SIZE_EPS = "1e-16"  # build_targets: t_w = log(g_w / anchor_w + 1e-16), read at the working precision
LOG_FLOOR = -100  # torch's BCELoss clamps each log at -100


def _size_eps() -> r.Bound:
    """1e-16 as the standard algorithm has it: the float64 constant, one rounding of the exact 1e-16."""
    eps = mpf(SIZE_EPS)
    return r.Bound(eps, eps)


def _mean_sigmoid_squared(index: int, target: r.Bound, count: int) -> _Entry:
    """(sigmoid(v) - t)^2 / K (one entry of MSELoss's mean over K positives), gradient
    2 g (sigmoid(v) - t) sigmoid'(v) / K."""
    def standard(v: r.Bound) -> r.Bound:
        residual = _computed_sigmoid(v) - target
        return residual * residual / count

    def slope(v: r.Bound, g: r.Bound) -> r.Bound:
        return 2 * g / count * (_computed_sigmoid(v) - target) * _bound_sigmoid_slope(v)

    return _Entry(index, "xy", textbook=lambda v: (_sigmoid(v) - target.value) ** 2 / count, standard=standard,
                  slope=slope)


def _mean_squared(index: int, target: r.Bound, count: int) -> _Entry:
    """(v - t)^2 / K, gradient 2 g (v - t) / K."""
    return _Entry(index, "wh", textbook=lambda v: (v - target.value) ** 2 / count,
                  standard=lambda v: (v - target) * (v - target) / count,
                  slope=lambda v, g: 2 * g / count * (v - target))


def _computed_sigmoid(v: r.Bound) -> r.Bound:
    """sigmoid(v) as the standard algorithm computes it, with e = exp(-|v|): 1 / (1 + e) for v >= 0, e / (1 + e)
    below (three roundings: near p = 1 its error is about 2 u, which 1 / (1 - p) amplifies)."""
    e = r.exp(-abs(v))
    return (1 if v.value >= 0 else e) / (1 + e)


def _bound_sigmoid_slope(v: r.Bound) -> r.Bound:
    """sigmoid'(v) as sigmoid_vjp computes it: e / (1 + e)^2 with e = exp(-|v|)."""
    e = r.exp(-abs(v))
    return e / ((1 + e) * (1 + e))


def _clamped(log_value: mpf) -> mpf:
    """max(log, -100) (NaN stays NaN)."""
    return log_value if mpmath.isnan(log_value) or log_value > LOG_FLOOR else mpf(LOG_FLOOR)


def _clamp_start(label: int) -> mpf:
    """The logit where BCELoss's clamp starts for exact p: log sigmoid(z) = -100 (label 1) or log(1 - sigmoid(z)) =
    -100 (label 0), i.e. z = -+log(e^100 - 1)."""
    start = mpmath.log(mpmath.expm1(-LOG_FLOOR))
    return -start if label == 1 else start


def _mean_bce_of_sigmoid(index: int, term: str, label: int, weight: mpf, count: int) -> _Entry:
    """lambda / n * b(sigmoid(v), y), y = 0 or 1, with torch's BCELoss b(p, y) = -[y max(log p, -100) + (1 - y)
    max(log(1 - p), -100)] (one entry of lambda times a mean over n).

    Textbook: p exact, so log p = -softplus(-v) and log(1 - p) = -softplus(v). Standard algorithm (torch, refloss):
    p = sigmoid(v) rounded, then log p or log1p(-p) (whose rounding of p costs p / (1 - p) u: e^v u for a large v,
    which covers the change of p rounding to 1 at v = 36.7); gradient lambda g / n (p - y) / (p (1 - p)) e / (1 +
    e)^2, 0 where the log is clamped (beyond v = -+100 for exact p)."""
    start = _clamp_start(label)
    clamped = (lambda v: v < start) if label == 1 else (lambda v: v > start)
    lam = r.exact(weight)

    def textbook(v: mpf) -> mpf:
        log_value = -_textbook_softplus(-v) if label == 1 else -_textbook_softplus(v)
        return -weight * _clamped(log_value) / count

    def standard(v: r.Bound) -> r.Bound:
        if clamped(v.value):
            return lam * r.exact(-LOG_FLOOR) / count
        p = _computed_sigmoid(v)
        log_value = r.log(p) if label == 1 else r.log1p(-p)
        return lam * (-log_value / count)

    def slope(v: r.Bound, g: r.Bound) -> r.Bound:
        if mpmath.isinf(v.value) or clamped(v.value):
            return r.exact(0)  # a clamped log is constant; the limits at -+inf are 0
        p = _computed_sigmoid(v)
        combined = (p - label) / (p * (1 - p))
        return g * lam / count * combined * _bound_sigmoid_slope(v)

    return _Entry(index, term, textbook, standard, slope, kink_distance=lambda v: abs(v - start))


def _eriklindernoren_scene(output: np.ndarray, boxes: np.ndarray, labels: np.ndarray, params: dict) -> _Scene:
    """The entries of yolov3_eriklindernoren_loss: output (N, P, 5 + C) of mpf, boxes (N, M, 4) of mpf, labels
    (N, M). Every term is a sum over scales of means, so each entry carries its own 1/n and weight (the scene's
    weights are 1 and its divisor 1)."""
    anchors, scales, net = _yolov3_scales(params)
    c = int(params["num_classes"])
    n, p = output.shape[:2]
    width = 5 + c
    thresh = mpf(float(params["ignore_thresh"]))
    obj_scale, noobj_scale = (mpf(float(params[k])) for k in ("obj_scale", "noobj_scale"))
    total = sum(len(scale.mask) * scale.width * scale.height for scale in scales)
    if total != p:
        raise ValueError(f"the anchors, masks, strides and input size give {total} predictions; the output has {p}")

    positives: dict[tuple[int, int], dict] = {}
    not_negative: set[tuple[int, int]] = set()
    anchor_of, prediction_of = {}, {}
    for image in range(n):
        for k in range(labels.shape[1]):  # in boxes order: a later object overwrites the box target
            if labels[image, k] < 0:
                continue
            centre, size = _object(list(boxes[image, k]))
            for s, scale in enumerate(scales):
                i, j = _cell(centre[0].value, scale.width), _cell(centre[1].value, scale.height)
                shapes = [[anchors[a][0] / net[0], anchors[a][1] / net[1]] for a in scale.mask]
                ious = [_shape_iou(shape, [v.value for v in size]) for shape in shapes]
                slots = [scale.start + (a * scale.height + j) * scale.width + i for a in range(len(scale.mask))]
                not_negative.update((image, slot) for slot, iou in zip(slots, ious) if iou > thresh)  # (E2)
                a = _first_argmax(ious)  # (E1): the best anchor of this scale, the first on ties
                anchor_of[(image, k, s)], prediction_of[(image, k, s)] = scale.mask[a], slots[a]
                pw, ph = (r.exact(v) for v in anchors[scale.mask[a]])
                targets = [centre[0] * scale.width - i, centre[1] * scale.height - j,
                           r.log(size[0] * scale.width / (pw * scale.width / net[0]) + _size_eps()),
                           r.log(size[1] * scale.height / (ph * scale.height / net[1]) + _size_eps())]  # (E3)
                held = positives.setdefault((image, slots[a]), {"classes": set(), "scale": s})
                held.update(object=k, targets=targets)
                held["classes"].add(int(labels[image, k]))

    scale_of = [s for s, scale in enumerate(scales) for _ in range(len(scale.mask) * scale.width * scale.height)]
    counts = [[0, 0] for _ in scales]  # (K_s, Q_s): positives and negatives of each scale over the batch
    negatives = [(image, index) for image in range(n) for index in range(p)
                 if (image, index) not in positives and (image, index) not in not_negative]
    for _, index in positives:
        counts[scale_of[index]][0] += 1
    for _, index in negatives:
        counts[scale_of[index]][1] += 1

    entries: list[_Entry] = []
    for (image, index), held in positives.items():
        base, k_s, targets = (image * p + index) * width, counts[held["scale"]][0], held["targets"]
        for e in range(2):
            entries.append(_mean_sigmoid_squared(base + e, targets[e], k_s))
        for e in (2, 3):
            entries.append(_mean_squared(base + e, targets[e], k_s))
        entries.append(_mean_bce_of_sigmoid(base + 4, "object", 1, obj_scale, k_s))
        for cls in range(c):
            entries.append(_mean_bce_of_sigmoid(base + 5 + cls, "class", int(cls in held["classes"]), mpf(1),
                                                k_s * c))
    for image, index in negatives:
        entries.append(_mean_bce_of_sigmoid((image * p + index) * width + 4, "no_object", 0, noobj_scale,
                                            counts[scale_of[index]][1]))

    empty = set()
    if any(k_s == 0 for k_s, _ in counts):
        empty |= {"xy", "wh", "object", "class"}
    if any(q_s == 0 for _, q_s in counts):
        empty.add("no_object")
    return _Scene(entries, {name: mpf(1) for name in TERMS}, 1,
                  {"positives": positives, "ignored": not_negative - set(positives), "anchor": anchor_of,
                   "prediction": prediction_of, "counts": [tuple(pair) for pair in counts]}, empty)


# ---- evaluation --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DetectorOracle:
    """``terms(**inputs, params) -> _Scene``: the assignment and the entries that enter each term, called with the
    case's inputs by name (float arrays as object arrays of mpf, integer and boolean ones of Python ints).
    ``term_names``: the loss's terms in order (the output is the vector (total, *term_names)); ``heads``: the
    inputs that get a gradient (the raw head outputs)."""

    terms: Callable
    term_names: tuple[str, ...] = TERMS
    heads: tuple[str, ...] = ("output",)


ORACLES = {"yolov1_loss": DetectorOracle(_yolov1_scene), "yolov3_loss": DetectorOracle(_yolov3_scene),
           "yolov3_eriklindernoren_loss": DetectorOracle(_eriklindernoren_scene)}


def _exact_array(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    convert = int if array.dtype.kind in "iub" else (lambda v: mpf(float(v)))
    return np.array([convert(v) for v in np.ravel(array)], dtype=object).reshape(np.shape(array))


def scene(oracle: DetectorOracle, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> _Scene:
    """The oracle's assignment and entries for a case (for tests and inspection)."""
    with mpmath.workdps(DIGITS):
        exact = {name: _exact_array(value if np.asarray(value).dtype.kind in "iub"
                                    else np.asarray(value, dtype=np.float64)) for name, value in inputs.items()}
        return oracle.terms(**exact, params=params)


def _numerical_slope(group: _Group, vs: list, k: int, direction: int = 0) -> mpf:
    """d textbook / d vs[k] by mpmath.diff at 120 digits, with a step far below the distance to a kink (one-sided
    with ``direction``)."""
    distance = group.kink_distance(vs)[k]
    step = (min(distance, max(abs(vs[k]), mpf(1))) if distance != 0 else max(abs(vs[k]), mpf(1))) * mpf(2) ** -150

    def along(t: mpf) -> mpf:
        return group.textbook(vs[:k] + [t] + vs[k + 1:])

    with mpmath.workdps(_DIFF_DIGITS):
        return _snap(mpmath.diff(along, vs[k], h=step, direction=direction))


def _flat_inputs(oracle: DetectorOracle, inputs: dict[str, np.ndarray]) -> dict[str, list]:
    return {name: [mpf(float(v)) for v in np.asarray(inputs[name], dtype=np.float64).ravel()]
            for name in oracle.heads}


def evaluate_detector(oracle: DetectorOracle, inputs: dict[str, np.ndarray], params: dict[str, Any],
                      reduction: None = None, cotangent: np.ndarray | None = None, conventions: tuple[str, ...] = (),
                      differentiable: tuple[str, ...] | None = None) -> Expectation:
    """The exact (total, *terms) and, with a cotangent of one entry per output, the exact gradient w.r.t. each head
    input (sum over terms k of (c_total + c_k) d term_k / d head, the assignment held), each entry with the running
    error bound of the standard float64 algorithm."""
    with mpmath.workdps(DIGITS):
        case = scene(oracle, inputs, params)
        flats = _flat_inputs(oracle, inputs)
        groups = case.groups()
        sums: dict[str, list] = {name: [] for name in oracle.term_names}  # (textbook, standard) per group
        for group in sorted(groups, key=lambda e: e.indices[0]):
            vs = [flats[name][i] for name, i in group.indices]
            if not all(mpmath.isfinite(v) for v in vs):
                nan = any(mpmath.isnan(v) for v in vs)
                sums[group.term].append((group.weight.value * group.textbook(vs) if not nan else mpmath.nan, None))
                continue
            exact, standard = group.weight.value * group.textbook(vs), group.standard([r.exact(v) for v in vs])
            standard = standard * group.weight if group.weight.value != 1 else standard
            agree(standard, [exact], f"{group.term} contribution of {group.indices}", tuple(vs))
            sums[group.term].append((exact, standard))
        values, bounds = [], []
        for name in oracle.term_names:
            if name in case.empty:  # a mean of nothing (torch's NaN)
                values.append(mpmath.nan)
                bounds.append(None)
                continue
            if not sums[name]:  # nothing enters the term: 0 (an empty sample, no positive, no RoI)
                values.append(mpf(0))
                bounds.append(r.exact(0))
                continue
            divisor, weight = case.divisor_of(name), case.weights[name]
            exact = weight * mpmath.fsum(e for e, _ in sums[name]) / divisor
            finite = all(b is not None for _, b in sums[name])
            bound = None
            if finite:
                summed = r.total(b for _, b in sums[name])
                bound = (r.exact(weight) * summed if weight != 1 else summed) / r.exact(divisor)
                agree(bound, [exact], f"term {name}", ())
            values.append(exact)
            bounds.append(bound)
        total = mpmath.fsum(values)
        total_bound = r.total(bounds) if all(b is not None for b in bounds) else None
        value = Tensor((len(oracle.term_names) + 1,), [total] + values,
                       scale=[b.err if b is not None and mpmath.isfinite(b.value) else mpf(0)
                              for b in [total_bound] + bounds])
        if cotangent is None:
            return Expectation(value, {})
        heads = [name for name in oracle.heads if differentiable is None or name in differentiable]
        shapes = {name: np.shape(inputs[name]) for name in heads}
        grads = _gradients(case, groups, flats, shapes, cotangent, oracle.term_names)
        return Expectation(value, grads)


def _gradient(case: _Scene, flat: list, shape: tuple[int, ...], cotangent: np.ndarray) -> Tensor:
    """The gradient w.r.t. the YOLO losses' single head input ``output``."""
    return _gradients(case, case.groups(), {"output": flat}, {"output": shape}, cotangent, TERMS)["output"]


def _gradients(case: _Scene, groups: list[_Group], flats: dict[str, list], shapes: dict[str, tuple],
               cotangent: np.ndarray, term_names: tuple[str, ...]) -> dict[str, Tensor]:
    c = [mpf(float(v)) for v in np.ravel(cotangent)]
    if len(c) != len(term_names) + 1:
        raise ValueError(f"a detector's cotangent has one entry per output (total, {', '.join(term_names)}), got "
                         f"{len(c)}")
    # each term's cotangent: the total's plus its own, over the divisor (the VJP's g)
    g = {name: (r.exact(c[0]) + r.exact(c[k + 1])) / r.exact(case.divisor_of(name))
         for k, name in enumerate(term_names)}
    exact = {name: [mpf(0)] * len(flats[name]) for name in shapes}
    low = {name: [mpf(0)] * len(flats[name]) for name in shapes}
    high = {name: [mpf(0)] * len(flats[name]) for name in shapes}
    scale = {name: [mpf(0)] * len(flats[name]) for name in shapes}
    ambiguous = set()
    for group in groups:
        if group.term in case.empty:
            continue
        vs = [flats[name][i] for name, i in group.indices]
        wanted = [k for k, (name, _) in enumerate(group.indices) if name in shapes]
        if not wanted:
            continue
        if any(mpmath.isnan(v) for v in vs):
            for k in wanted:
                name, i = group.indices[k]
                exact[name][i] = low[name][i] = high[name][i] = mpmath.nan
            continue
        slopes = group.slope([r.exact(v) for v in vs], g[group.term])
        if not all(mpmath.isfinite(v) for v in vs):  # the analytic slope in IEEE arithmetic
            for k in wanted:
                name, i = group.indices[k]
                exact[name][i] += slopes[k].value
                low[name][i], high[name][i] = exact[name][i], exact[name][i]
            continue
        distances = group.kink_distance(vs)
        factor = group.weight.value * case.weights[group.term] * g[group.term].value
        for k in wanted:
            name, i = group.indices[k]
            analytic = slopes[k]
            lo = hi = analytic.value
            if distances[k] != 0:
                numerical = _numerical_slope(group, vs, k) * factor
                agree(analytic, [numerical], f"derivative w.r.t. {name} entry {i} ({group.term})", tuple(vs))
            elif group.one_sided:  # the midpoint of the one-sided derivatives, the interval between them accepted
                sides = [_numerical_slope(group, vs, k, direction) * factor for direction in (-1, 1)]
                lo, hi = min(sides), max(sides)
                if lo != hi:
                    ambiguous.add(name)
                analytic = r.Bound((lo + hi) / 2, analytic.err)
            exact[name][i] += analytic.value
            low[name][i] += lo
            high[name][i] += hi
            scale[name][i] += analytic.err
    return {name: Tensor(tuple(shape), exact[name], low[name] if name in ambiguous else None,
                         high[name] if name in ambiguous else None, scale[name]) for name, shape in shapes.items()}
