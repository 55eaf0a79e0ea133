"""Running error bounds: how much rounding error the standard algorithm of a loss may carry into each entry.

Tolerance policy ``policy_v2`` allows each expected entry an error proportional to its own ``scale``: a
first-order bound, in units of the unit roundoff ``u``, of the error accumulated by the loss's *standard
algorithm* when every operation of it is rounded once (Higham, "Accuracy and Stability of Numerical
Algorithms", 2nd ed., §3.3, running error analysis). The standard algorithm of a loss is the one its docs teach:
stable building blocks (softplus through log1p, log-softmax shifted by the row maximum, ``log1p(-p)``, the
complement ``1 - sigmoid(x) = sigmoid(-x)`` where a loss is built on it), composed the plain way frameworks
compose them (``sigmoid(x) - y``, ``softmax - one_hot``, sums in order).

A :class:`Bound` is an exact value (an mpmath number) with such a bound. Inputs are exact (bound 0); every
operation adds the propagated bounds of its operands, weighted by the partial derivatives, plus one rounding of
its own result:

    err(f(a, b)) = |df/da| err(a) + |df/db| err(b) + |f(a, b)|

so an entry computed from terms that cancel (``sigmoid(x) - y`` where they are nearly equal) keeps the magnitude
of those terms in its bound, while an entry computed without cancellation keeps a bound of a few times its own
magnitude. The values carried along are exact: the generator compares them with the oracle's (which
differentiates the textbook formula numerically), so a standard algorithm written here is checked too.
"""

from __future__ import annotations

from typing import Any, Iterable

import mpmath
from mpmath import mpf

__all__ = ["Bound", "exact", "exp", "log", "log1p", "power", "sigmoid", "softplus", "total"]


class Bound:
    """An exact value and a bound (in units of u) of the rounding error the standard algorithm gives it."""

    __slots__ = ("value", "err")

    def __init__(self, value: Any, err: Any = 0):
        self.value = mpf(value)
        self.err = mpf(err)

    def __repr__(self) -> str:
        # (as floats: mpmath calls repr when it refuses an operand, and printing a 20,000-bit mpf is refused)
        return f"Bound({float(self.value)!r}, err={float(self.err):.3g} u)"

    def _rounded(self, value: Any, propagated: Any) -> "Bound":
        return Bound(value, propagated + abs(value))

    def __add__(self, other: Any) -> "Bound":
        other = exact(other)
        return self._rounded(self.value + other.value, self.err + other.err)

    __radd__ = __add__

    def __sub__(self, other: Any) -> "Bound":
        other = exact(other)
        return self._rounded(self.value - other.value, self.err + other.err)

    def __rsub__(self, other: Any) -> "Bound":
        return exact(other) - self

    def __neg__(self) -> "Bound":
        return Bound(-self.value, self.err)  # negation is exact

    def __abs__(self) -> "Bound":
        return Bound(abs(self.value), self.err)

    def __mul__(self, other: Any) -> "Bound":
        other = exact(other)
        return self._rounded(self.value * other.value, abs(other.value) * self.err + abs(self.value) * other.err)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> "Bound":
        other = exact(other)
        quotient = self.value / other.value
        return self._rounded(quotient, (self.err + abs(quotient) * other.err) / abs(other.value))

    def __rtruediv__(self, other: Any) -> "Bound":
        return exact(other) / self


def exact(value: Any) -> Bound:
    """A value that carries no error (an input, a parameter, an integer count)."""
    return value if isinstance(value, Bound) else Bound(value, 0)


def _apply(a: Any, value: Any, slope: Any) -> Bound:
    """A function of one operand computed to within one rounding: err = |f'(a)| err(a) + |f(a)|."""
    a = exact(a)
    return Bound(value, abs(slope) * a.err + abs(value))


def exp(a: Any) -> Bound:
    a = exact(a)
    value = mpmath.exp(a.value)
    return _apply(a, value, value)


def log(a: Any) -> Bound:
    a = exact(a)
    return _apply(a, mpmath.log(a.value), 1 / a.value)


def log1p(a: Any) -> Bound:
    a = exact(a)
    return _apply(a, mpmath.log1p(a.value), 1 / (1 + a.value))


def sigmoid(a: Any) -> Bound:
    a = exact(a)
    s = 1 / (1 + mpmath.exp(-a.value))
    return _apply(a, s, s * (1 - s))


def softplus(a: Any) -> Bound:
    """log(1 + e^a), computed stably as max(a, 0) + log1p(e^-|a|): one rounding of a well-conditioned function."""
    a = exact(a)
    value = mpmath.log1p(mpmath.exp(a.value)) if a.value < 0 else a.value + mpmath.log1p(mpmath.exp(-a.value))
    return _apply(a, value, 1 / (1 + mpmath.exp(-a.value)))


def power(a: Any, exponent: Any) -> Bound:
    """a ** exponent for a >= 0 (0 ** 0 = 1)."""
    a = exact(a)
    exponent = mpf(exponent)
    if exponent == 0:
        return Bound(1, 0)
    if a.value == 0:
        return Bound(0, 0 if a.err == 0 or exponent >= 1 else mpmath.inf)
    value = a.value ** exponent
    return _apply(a, value, exponent * a.value ** (exponent - 1))


def total(terms: Iterable[Any]) -> Bound:
    """The sum of ``terms`` added in order (recursive summation: the bound grows with every partial sum)."""
    result = None
    for term in terms:
        result = exact(term) if result is None else result + term
    return result if result is not None else Bound(0, 0)
