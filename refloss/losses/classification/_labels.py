"""Validation shared by the classification losses: probabilities, class indices and per-class weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from refloss._checks import as_array, as_real_array, check_finite_non_negative

__all__ = ["check_class_indices", "check_class_weight", "check_unit_interval", "class_axis_of",
           "integer_dtype_hint"]


def check_unit_interval(values: Any, name: str, what: str) -> None:
    """Raise ``ValueError`` naming the first value of ``values`` outside [0, 1] (NaN passes: it propagates)."""
    values = as_array(values._value if hasattr(values, "_value") else values, name)
    if values.size == 0:
        return
    # Two reductions that skip NaN (fmin, fmax) decide; only a failing array is searched for its first offender
    if np.fmin.reduce(values, axis=None) < 0 or np.fmax.reduce(values, axis=None) > 1:
        outside = (values < 0) | (values > 1)
        raise ValueError(f"{name} must be {what} in [0, 1], got {float(values[outside].flat[0])!r}")


def class_axis_of(shape: tuple[int, ...]) -> int:
    """The class axis of a classification input: dim 1 of (N, C, ...), dim 0 of (C,); a 0-d input has none."""
    if len(shape) == 0:
        raise ValueError("input must have a class dimension: shape (C,), (N, C) or (N, C, d1, ...), got shape ()")
    return 1 if len(shape) > 1 else 0


def check_class_indices(target: Any, input_shape: tuple[int, ...], class_axis: int, ignore_index: int | None = None,
                        probabilities_allowed: bool = False) -> np.ndarray:
    """Integer class indices shaped like the input without its class axis, each in [0, C) or ``ignore_index``.

    ``probabilities_allowed`` (cross_entropy) makes a shape error also say what a probability target needs.
    """
    labels = as_array(target, "target")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"target must be an array of integer class indices, got dtype {labels.dtype}"
                        f"{integer_dtype_hint(labels)}")
    expected = input_shape[:class_axis] + input_shape[class_axis + 1:]
    if labels.shape != expected:
        message = (f"target of class indices must have shape {expected} for input of shape {input_shape}, "
                   f"got {labels.shape}")
        if probabilities_allowed:
            message += (f": a target of dtype {labels.dtype} is read as class indices; class probabilities need a "
                        f"float dtype and the input's shape {input_shape}")
            if labels.shape == input_shape:
                message += ("; if these are probabilities (one-hot rows), convert them with "
                            "np.asarray(target, dtype=np.float64)")
        raise ValueError(message)
    classes = input_shape[class_axis]
    if labels.size == 0 or (labels.min() >= 0 and labels.max() < classes):  # two reductions decide the usual case
        return labels
    invalid = (labels < 0) | (labels >= classes)
    if ignore_index is not None:
        invalid &= labels != ignore_index
    if np.any(invalid):
        allowed = f"[0, {classes})" + (f" or ignore_index={ignore_index}" if ignore_index is not None else "")
        raise ValueError(f"target class indices must be in {allowed}, got {int(labels[invalid].flat[0])}")
    return labels


def integer_dtype_hint(values: np.ndarray) -> str:
    """How to pass class indices that arrived as floats (``""`` if they do not look like class indices).

    NumPy makes an empty list ``[]`` a float64 array, and ``[0., 1.]`` is float too: both are then not class
    indices, which are recognised by their integer dtype (as in PyTorch).
    """
    if values.dtype.kind != "f":
        return ""
    if values.size == 0:
        return ("; an empty list [] becomes a float64 array: write np.array([], dtype=np.int64) for an empty array "
                "of class indices")
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return "; if these are class indices, convert them with np.asarray(target, dtype=np.int64)"
    return ""


def check_class_weight(weight: Any, name: str, classes: int) -> np.ndarray | None:
    """An optional weight per class: shape (C,), finite, non-negative."""
    if weight is None:
        return None
    weight = as_real_array(weight, name)
    if weight.shape != (classes,):
        raise ValueError(f"{name} must have shape (C,) = ({classes},), one entry per class, got {weight.shape}")
    return check_finite_non_negative(weight, name)
