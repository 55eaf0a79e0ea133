"""Input validation with messages that name the argument, what was expected and what was received.

The forwards are written with ``autograd.numpy`` so that autograd can differentiate the very same code; the
helpers here therefore accept autograd's traced arrays (``ArrayBox``) as well as anything array-like.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from autograd.tracer import Box

from refloss._registry import REDUCTIONS

__all__ = [
    "as_array",
    "as_matching_pair",
    "as_real_array",
    "check_broadcast_weight",
    "check_finite_non_negative",
    "check_grad_output",
    "check_reduction",
    "check_same_shape",
    "check_weight",
]

# dtype kinds accepted as real data: signed and unsigned integers and floats. Booleans, complex numbers,
# strings and objects are rejected rather than silently coerced.
_REAL_KINDS = "iuf"


def as_array(value: Any, name: str) -> np.ndarray:
    """``np.asarray(value)``, refusing the inputs that NumPy would convert by silently losing information.

    * A masked array with masked entries: ``np.asarray`` drops the mask, so the values under it would count as
      data. refloss does not apply masks (PyTorch has none), so it refuses them instead of guessing what the mask
      should mean. A masked array with nothing masked (what ``x[~x.mask]`` gives) loses nothing and is accepted.
    * A ragged nested sequence (``[[1, 2], [3]]``): NumPy's own message would not name the argument.
    """
    if np.ma.isMaskedArray(value):
        masked = int(np.ma.count_masked(value))
        if masked:
            raise TypeError(
                f"{name} is a NumPy masked array with {masked} of {np.size(value)} entries masked, and refloss does "
                f"not apply masks (the values under them would silently count): pass only the entries to use (for "
                f"example x[~x.mask] and y[~x.mask]), or np.ma.getdata({name}) with a weight= of 0 at the masked "
                f"entries (losses that take weight=), or np.ma.getdata({name}) alone to use every value"
            )
        value = np.ma.getdata(value)
    try:
        return np.asarray(value)
    except ValueError as error:  # NumPy: "setting an array element with a sequence ... inhomogeneous shape ..."
        raise ValueError(f"{name} must be a rectangular array (every row of a nested list the same length), "
                         f"got a sequence NumPy cannot convert: {error}") from None


def as_real_array(value: Any, name: str) -> Any:
    """Return ``value`` as a float64 array (the reference precision), or raise ``TypeError``/``ValueError``.

    A float64 array is returned as it is, without a copy: refloss never writes to an input (a test holds every
    registered function to that), so a copy would only cost time and memory. Autograd ``Box`` values pass through
    unchanged: they are already float and are being traced.
    """
    if isinstance(value, Box):
        return value
    array = as_array(value, name)
    if array.dtype == object:
        array = _reals_from_objects(array, name)
    if array.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name} must be an array of real numbers (integer or float), got dtype {array.dtype}")
    return array.astype(np.float64, copy=False)


def _reals_from_objects(array: np.ndarray, name: str) -> np.ndarray:
    """An object array of Python numbers as float64, or ``TypeError`` naming the first element that is not one.

    NumPy stores Python integers beyond int64 (``[10**30]``) as objects; they are real numbers, so they are
    converted like any other integer. Anything else in an object array (None, strings, nested arrays) is refused.
    """
    for element in array.flat:
        if isinstance(element, (bool, np.bool_)) or not isinstance(element, numbers.Real):
            raise TypeError(f"{name} must be an array of real numbers (integer or float), got dtype object holding "
                            f"{_short_repr(element)} of type {type(element).__name__}")
    try:
        return np.array([float(element) for element in array.flat], dtype=np.float64).reshape(array.shape)
    except OverflowError:
        raise ValueError(f"{name} holds an integer too large for float64 (beyond ±1.8e308)") from None


def _short_repr(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shape_of(value: Any) -> tuple[int, ...]:
    return tuple(np.shape(value._value if isinstance(value, Box) else value))


def check_same_shape(first: Any, second: Any, first_name: str, second_name: str) -> None:
    """Raise ``ValueError`` unless the two arrays have exactly the same shape.

    PyTorch broadcasts mismatched shapes with only a warning, which turns ``(N, 1)`` against ``(N,)`` into an
    ``(N, N)`` loss: refloss refuses instead.
    """
    a, b = shape_of(first), shape_of(second)
    if a != b:
        raise ValueError(
            f"{second_name} must have the same shape as {first_name} {a}, got {b} "
            "(refloss does not broadcast between a prediction and its target)"
        )


def as_matching_pair(first: Any, second: Any, reduction: Any,
                     names: tuple[str, str] = ("input", "target")) -> tuple[Any, Any]:
    """The two positional inputs of an elementwise loss as float64 arrays of the same shape; ``reduction`` valid."""
    first = as_real_array(first, names[0])
    second = as_real_array(second, names[1])
    check_same_shape(first, second, *names)
    check_reduction(reduction)
    return first, second


def check_reduction(reduction: Any) -> str:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")
    return reduction


def check_weight(weight: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """Validate an optional elementwise ``weight``: same shape as the input, finite and non-negative."""
    if weight is None:
        return None
    weight = as_real_array(weight, "weight")
    if isinstance(weight, Box):
        raise TypeError("weight is a constant in refloss; it cannot be differentiated")
    if weight.shape != shape:
        raise ValueError(f"weight must have the same shape as input {shape}, got {weight.shape}")
    return check_finite_non_negative(weight, "weight")


def check_broadcast_weight(weight: Any, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """Validate an optional non-negative, finite weight that broadcasts to ``shape`` without enlarging it
    (``weight`` and ``pos_weight`` of the binary cross-entropies, as PyTorch broadcasts them)."""
    if weight is None:
        return None
    weight = as_real_array(weight, name)
    if isinstance(weight, Box):
        raise TypeError(f"{name} is a constant in refloss; it cannot be differentiated")
    try:
        broadcast = np.broadcast_shapes(weight.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != shape:
        raise ValueError(f"{name} must broadcast to the input shape {shape}, got shape {weight.shape}")
    return check_finite_non_negative(weight, name)


def check_finite_non_negative(weight: np.ndarray, name: str) -> np.ndarray:
    """Raise ``ValueError`` unless every entry of ``weight`` is finite and >= 0; return ``weight``.

    Two reductions decide (``min`` and ``max`` propagate NaN, so a NaN shows as a non-finite extreme)."""
    if weight.size == 0:
        return weight
    low, high = np.min(weight), np.max(weight)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} must be finite, got NaN or Inf")
    if low < 0:
        raise ValueError(f"{name} must be non-negative, got minimum {float(low)!r}")
    return weight


def check_grad_output(grad_output: Any, expected_shape: tuple[int, ...]) -> np.ndarray:
    """Validate the cotangent of a VJP: real, with exactly the shape of the loss's output."""
    grad_output = as_real_array(grad_output, "grad_output")
    if shape_of(grad_output) != expected_shape:
        raise ValueError(
            f"grad_output must have the shape of the loss output {expected_shape}, got {shape_of(grad_output)}"
        )
    return grad_output
