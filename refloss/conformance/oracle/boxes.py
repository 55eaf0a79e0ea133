"""Oracles of the IoU-family losses: each pair's textbook formula in mpmath, differentiated numerically.

One formula per loss, written once over a small namespace of operations (:class:`_Exact` or :class:`_Standard`):

* over mpmath numbers it is the textbook formula, evaluated at the exact inputs and differentiated by
  ``mpmath.diff`` with respect to each of the pair's 8 coordinates (one-sided where a coordinate ties with one
  of the other box on the same axis: the expectation is then the interval between the one-sided derivatives);
* over :class:`Dual` numbers, forward-mode derivatives carried as running error bounds
  (:mod:`refloss.conformance.oracle.rounding`), it is the standard algorithm: the per-entry scales of
  policy_v2, and analytic derivatives that must agree with the numerical ones to 30 digits.

The constants of a loss (CIoU's alpha, Focal-EIoU's IoU^gamma) are evaluated at the case's inputs and held fixed
while differentiating, as the losses define them. Nothing here imports the NumPy reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.evaluate import DIGITS, Expectation, Tensor, _snap, agree

__all__ = ["BoxOracle", "Dual", "EXACT", "ORACLES", "STANDARD", "evaluate_boxes"]

_DIFF_DIGITS = 120
_COORDINATES = 8  # x1, y1, x2, y2 of boxes1, then of boxes2


# ---- the standard algorithm: forward-mode derivatives with running error bounds -------------------------------

class Dual:
    """A value and its derivatives w.r.t. the variables being differentiated (a pair's 8 coordinates, a coder's
    box and anchor), each a :class:`rounding.Bound`; no derivatives (``d`` empty) means a constant."""

    __slots__ = ("value", "d")

    def __init__(self, value: Any, d: list | None = None):
        self.value = r.exact(value)
        self.d = d if d is not None else []

    def _with(self, other: "Dual") -> tuple[list, list]:
        """Both derivative lists at one length (a constant's are zeros)."""
        size = max(len(self.d), len(other.d))
        zero = [r.exact(0)] * size
        return self.d or zero, other.d or zero

    def __add__(self, other: Any) -> "Dual":
        other = _dual(other)
        mine, theirs = self._with(other)
        return Dual(self.value + other.value, [a + b for a, b in zip(mine, theirs)])

    __radd__ = __add__

    def __sub__(self, other: Any) -> "Dual":
        other = _dual(other)
        mine, theirs = self._with(other)
        return Dual(self.value - other.value, [a - b for a, b in zip(mine, theirs)])

    def __rsub__(self, other: Any) -> "Dual":
        return _dual(other) - self

    def __neg__(self) -> "Dual":
        return Dual(-self.value, [-a for a in self.d])

    def __mul__(self, other: Any) -> "Dual":
        other = _dual(other)
        mine, theirs = self._with(other)
        return Dual(self.value * other.value, [a * other.value + self.value * b for a, b in zip(mine, theirs)])

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> "Dual":
        other = _dual(other)
        quotient = self.value / other.value
        mine, theirs = self._with(other)
        return Dual(quotient, [(a - quotient * b) / other.value for a, b in zip(mine, theirs)])

    def __rtruediv__(self, other: Any) -> "Dual":
        return _dual(other) / self

    def __pow__(self, exponent: int) -> "Dual":
        result = self
        for _ in range(int(exponent) - 1):
            result = result * self
        return result


def _dual(value: Any) -> Dual:
    return value if isinstance(value, Dual) else Dual(value)


def _unary(a: Dual, value: r.Bound, slope: Any) -> Dual:
    """f(a) with f'(a) = slope (exact): each derivative is f'(a) times a's, rounded once."""
    return Dual(value, [d * slope for d in a.d])


class _Standard:
    """The operations over Dual numbers (max/min split their derivative equally at a tie, as PyTorch)."""

    @staticmethod
    def val(a: Any) -> mpf:
        return _dual(a).value.value

    @staticmethod
    def const(a: Any) -> Dual:
        return Dual(_dual(a).value)  # a constant: the value (with its error), no derivative

    @staticmethod
    def maximum(a: Any, b: Any) -> Dual:
        a, b = _dual(a), _dual(b)
        if a.value.value == b.value.value:
            mine, theirs = a._with(b)
            return Dual(a.value, [(x + y) * mpf(0.5) for x, y in zip(mine, theirs)])
        return a if a.value.value > b.value.value else b

    @staticmethod
    def minimum(a: Any, b: Any) -> Dual:
        return -_Standard.maximum(-_dual(a), -_dual(b))

    @staticmethod
    def abs(a: Any) -> Dual:
        a = _dual(a)
        sign = mpmath.sign(a.value.value)
        return Dual(abs(a.value), [d * sign for d in a.d])

    @staticmethod
    def exp(a: Any) -> Dual:
        a = _dual(a)
        value = r.exp(a.value)
        return _unary(a, value, value.value)

    @staticmethod
    def log(a: Any) -> Dual:
        a = _dual(a)
        return _unary(a, r.log(a.value), 1 / a.value.value)

    @staticmethod
    def sigmoid(a: Any) -> Dual:
        a = _dual(a)
        value = r.sigmoid(a.value)
        return _unary(a, value, value.value * (1 - value.value))

    @staticmethod
    def atan2(y: Any, x: Any) -> Dual:
        """atan2(y, x) for x, y >= 0, rounded once; (0, 0) gives 0 with no derivative (refloss's convention)."""
        y, x = _dual(y), _dual(x)
        squared = x.value.value ** 2 + y.value.value ** 2
        if squared == 0:
            return Dual(0)
        dy, dx = x.value.value / squared, -y.value.value / squared
        value = mpmath.atan2(y.value.value, x.value.value)
        bound = r.Bound(value, abs(dy) * y.value.err + abs(dx) * x.value.err + abs(value))
        along_y, along_x = y._with(x)
        return Dual(bound, [a * dy + b * dx for a, b in zip(along_y, along_x)])


class _Exact:
    """The same operations over mpmath numbers: the textbook formula."""

    val = staticmethod(lambda a: a)
    const = staticmethod(lambda a: a)
    maximum = staticmethod(lambda a, b: max(a, b))
    minimum = staticmethod(lambda a, b: min(a, b))
    abs = staticmethod(abs)
    exp = staticmethod(mpmath.exp)
    log = staticmethod(mpmath.log)
    sigmoid = staticmethod(lambda a: 1 / (1 + mpmath.exp(-a)))

    @staticmethod
    def atan2(y: Any, x: Any) -> mpf:
        return mpmath.atan2(y, x) if (x, y) != (0, 0) else mpf(0)


EXACT, STANDARD = _Exact, _Standard  # the two namespaces every formula of the box functions is written over


# ---- the formulas (p: boxes1's coordinates, g: boxes2's; frozen: the constants, once evaluated) ----------------

def _iou(M: Any, p: list, g: list, eps: Any) -> tuple:
    """IoU = I / (U + eps), I the overlap's area where its width and height are positive (else 0)."""
    iw = M.minimum(p[2], g[2]) - M.maximum(p[0], g[0])
    ih = M.minimum(p[3], g[3]) - M.maximum(p[1], g[1])
    inter = iw * ih if M.val(iw) > 0 and M.val(ih) > 0 else 0 * iw
    union = (p[2] - p[0]) * (p[3] - p[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
    return inter / (union + eps), union


def _enclosing(M: Any, p: list, g: list) -> tuple:
    return (M.maximum(p[2], g[2]) - M.minimum(p[0], g[0]), M.maximum(p[3], g[3]) - M.minimum(p[1], g[1]))


def _centre_offset(p: list, g: list) -> tuple:
    return (p[0] + p[2]) / 2 - (g[0] + g[2]) / 2, (p[1] + p[3]) / 2 - (g[1] + g[3]) / 2


def _distance_penalty(M: Any, p: list, g: list, eps: Any) -> Any:
    dx, dy = _centre_offset(p, g)
    cw, ch = _enclosing(M, p, g)
    return (dx * dx + dy * dy) / (cw * cw + ch * ch + eps)


def _iou_loss(M, p, g, params, frozen):
    return 1 - _iou(M, p, g, params["eps"])[0], {}


def _log_iou_loss(M, p, g, params, frozen):
    return -M.log(M.maximum(_iou(M, p, g, params["eps"])[0], params["eps"])), {}


def _giou_loss(M, p, g, params, frozen):
    eps = params["eps"]
    iou, union = _iou(M, p, g, eps)
    cw, ch = _enclosing(M, p, g)
    enclose = cw * ch
    return 1 - iou + (enclose - union) / (enclose + eps), {}


def _diou_loss(M, p, g, params, frozen):
    eps = params["eps"]
    return 1 - _iou(M, p, g, eps)[0] + _distance_penalty(M, p, g, eps), {}


def _ciou_loss(M, p, g, params, frozen):
    eps = params["eps"]
    iou = _iou(M, p, g, eps)[0]
    angle = M.atan2(g[2] - g[0], g[3] - g[1]) - M.atan2(p[2] - p[0], p[3] - p[1])
    v = 4 / mpmath.pi ** 2 * angle * angle
    if frozen is None:
        gate = params.get("alpha_gate")
        alpha = M.const(v / (1 - iou + v + eps) if M.val(v) != 0 else 0 * v)  # 0 where v = 0 (no 0/0)
        frozen = {"alpha": alpha if gate is None or M.val(iou) > gate else M.const(0 * v)}
    return 1 - iou + _distance_penalty(M, p, g, eps) + frozen["alpha"] * v, frozen


def _eiou_loss(M, p, g, params, frozen):
    eps, gamma = params["eps"], params["gamma"]
    iou = _iou(M, p, g, eps)[0]
    cw, ch = _enclosing(M, p, g)
    dw = (p[2] - p[0]) - (g[2] - g[0])
    dh = (p[3] - p[1]) - (g[3] - g[1])
    loss = 1 - iou + _distance_penalty(M, p, g, eps) + dw * dw / (cw * cw + eps) + dh * dh / (ch * ch + eps)
    if frozen is None:
        weight = 1 if gamma == 0 else (0 if M.val(iou) == 0 else M.exp(M.log(M.const(iou)) * gamma))
        frozen = {"weight": M.const(weight)}
    return frozen["weight"] * loss, frozen


def _siou_loss(M, p, g, params, frozen):
    eps = params["eps"]
    iou = _iou(M, p, g, eps)[0]
    dx, dy = _centre_offset(p, g)
    a, b = eps - dx, eps - dy
    squared = a * a + b * b
    angle = 2 * M.abs(a) * M.abs(b) / squared if M.val(squared) > 0 else 0 * a  # sin 2 alpha
    gamma = 2 - angle
    cw, ch = _enclosing(M, p, g)
    distance = 2 - M.exp(-gamma * (a * a / (cw * cw + eps))) - M.exp(-gamma * (b * b / (ch * ch + eps)))
    shape = 0
    for s1, s2 in ((p[2] - p[0], g[2] - g[0]), (p[3] - p[1], g[3] - g[1])):
        omega = M.abs(s1 - s2) / (M.maximum(s1, s2) + eps)
        shape = shape + (1 - M.exp(-omega)) ** 4
    return 1 - iou + (distance + shape) / 2, {}


# ---- evaluation -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BoxOracle:
    """``formula(M, p, g, params, frozen) -> (loss, frozen)`` for one pair, over the namespace ``M``;
    ``at_kink(coordinates, k, params)``: a kink of the loss's own at coordinate k (ties are found for all)."""

    formula: Callable
    at_kink: Callable = lambda coordinates, k, params: False


def _siou_offset_kink(c: list, k: int, params: dict) -> bool:
    """The angle cost's corner: a = eps - dx = 0 concerns the x coordinates, b = eps - dy = 0 the y ones."""
    axis = k % 2
    offset = (c[axis] + c[axis + 2]) / 2 - (c[4 + axis] + c[6 + axis]) / 2
    return params["eps"] - offset == 0


ORACLES = {name: BoxOracle(formula) for name, formula in {
    "iou_loss": _iou_loss, "log_iou_loss": _log_iou_loss, "giou_loss": _giou_loss, "diou_loss": _diou_loss,
    "ciou_loss": _ciou_loss, "eiou_loss": _eiou_loss}.items()}
ORACLES["siou_loss"] = BoxOracle(_siou_loss, _siou_offset_kink)


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if v is None else mpf(float(v))) for k, v in params.items()}


def _pair(oracle: BoxOracle, p: list, g: list, params: dict) -> tuple:
    """The pair's exact loss, its standard-algorithm Dual, and the exact loss as a function of one coordinate."""
    seeded = [Dual(v, [r.exact(1 if k == i else 0) for k in range(_COORDINATES)]) for i, v in enumerate(p + g)]
    standard, _ = oracle.formula(_Standard, seeded[:4], seeded[4:], params, None)
    exact, frozen = oracle.formula(_Exact, p, g, params, None)

    def along(k: int) -> Callable[[mpf], mpf]:
        def loss(t: mpf) -> mpf:
            coordinates = list(p + g)
            coordinates[k] = t
            return oracle.formula(_Exact, coordinates[:4], coordinates[4:], params, frozen)[0]
        return loss

    return exact, standard, along


def _at_tie(coordinates: list, k: int) -> bool:
    """Coordinate k (of the 8) equals another on the same axis: of the other box (a max/min tie, touching boxes)
    or of its own box (a zero width or height, where the overlap's width can be exactly 0)."""
    axis = k % 2
    return any(coordinates[k] == coordinates[j] for j in range(_COORDINATES) if j != k and j % 2 == axis)


def evaluate_boxes(oracle: BoxOracle, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
                   cotangent: np.ndarray, conventions: tuple[str, ...] = (),
                   differentiable: tuple[str, ...] | None = None) -> Expectation:
    """The exact value and gradients (w.r.t. both box arrays) of a loss on matched pairs, with per-entry scales."""
    (name1, boxes1), (name2, boxes2) = inputs.items()
    pair_shape = boxes1.shape[:-1]
    with mpmath.workdps(DIGITS):
        params = _params(params)
        flat1 = [[mpf(float(v)) for v in row] for row in boxes1.reshape(-1, 4)]
        flat2 = [[mpf(float(v)) for v in row] for row in boxes2.reshape(-1, 4)]
        pairs = len(flat1)
        nan = [any(mpmath.isnan(v) for v in p + g) for p, g in zip(flat1, flat2)]
        evaluated = [None if bad else _pair(oracle, p, g, params) for p, g, bad in zip(flat1, flat2, nan)]
        losses = [mpmath.nan if e is None else e[0] for e in evaluated]
        bounds = [r.exact(0) if e is None else e[1].value for e in evaluated]
        for e, p, g in zip(evaluated, flat1, flat2):
            if e is not None:
                agree(e[1].value, [e[0]], "loss", tuple(p + g))
        if reduction == "none":
            value = Tensor(pair_shape, losses, scale=[b.err for b in bounds])
            factors = [r.exact(mpf(float(c))) for c in np.ravel(cotangent)]
        else:
            summed = r.total(bounds)
            total = mpmath.fsum(losses) if pairs else mpf(0)
            if reduction == "mean" and pairs:
                value = Tensor((), [total / pairs], scale=[(summed / pairs).err])
                factors = [r.exact(mpf(float(cotangent))) / pairs] * pairs
            else:  # sum, or the mean of no pairs: 0, as torchvision
                value = Tensor((), [total], scale=[summed.err])
                factors = [r.exact(mpf(float(cotangent)))] * pairs
        grads = [_pair_gradient(e, p + g, f, lambda c, k: _at_tie(c, k) or oracle.at_kink(c, k, params))
                 for e, p, g, f in zip(evaluated, flat1, flat2, factors)]
    tensors = {}
    for name, offset, boxes in ((name1, 0, boxes1), (name2, 4, boxes2)):
        entries = [entry for pair in grads for entry in pair[offset:offset + 4]]
        exact, lo, hi, scale = (list(column) for column in zip(*entries)) if entries else ([], [], [], [])
        ambiguous = any(a != b for a, b in zip(lo, hi))
        tensors[name] = Tensor(boxes.shape, exact, lo if ambiguous else None, hi if ambiguous else None, scale)
    return Expectation(value, tensors)


def _pair_gradient(evaluated: tuple | None, coordinates: list, factor: r.Bound, at_kink: Callable) -> list:
    """(exact, lo, hi, scale) of the 8 coordinates' gradients of one pair, times its cotangent factor."""
    if evaluated is None:  # a NaN coordinate: every gradient of the pair is NaN
        return [(mpmath.nan, mpmath.nan, mpmath.nan, mpf(0))] * _COORDINATES
    _, standard, along = evaluated
    derivatives = standard.d or [r.exact(0)] * _COORDINATES  # a loss constant in every coordinate has none
    out = []
    for k in range(_COORDINATES):
        analytic = factor * derivatives[k]
        step = max(abs(coordinates[k]), mpf(1)) * mpf(2) ** -150
        with mpmath.workdps(_DIFF_DIGITS):
            if at_kink(coordinates, k):
                left, right = (_snap(mpmath.diff(along(k), coordinates[k], h=step, direction=side)) * factor.value
                               for side in (-1, 1))
                out.append(((left + right) / 2, min(left, right), max(left, right), analytic.err))
                continue
            numerical = _snap(mpmath.diff(along(k), coordinates[k], h=step)) * factor.value
        agree(analytic, [numerical], f"derivative (coordinate {k})", tuple(coordinates))
        out.append((analytic.value, analytic.value, analytic.value, analytic.err))
    return out
