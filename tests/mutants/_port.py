"""The plumbing a port gets right: validation, reductions and their VJPs, in plain NumPy.

The mutants build on these so that each one carries exactly the bug it describes and nothing else. They follow
refloss's conventions (``refloss/_checks.py``, ``refloss/_reduction.py``): exact shapes, finite non-negative
weights, ``mean`` of nothing is NaN. A mutant that leaves a check out simply does not call it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: Any) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def as_float(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


def pair(input: Any, target: Any, reduction: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two float64 arrays of exactly the same shape (no broadcasting) and a valid reduction."""
    x, y = as_float(input, "input"), as_float(target, "target")
    if x.shape != y.shape:
        raise ValueError(f"target must have the shape of input {x.shape}, got {y.shape}")
    check_reduction(reduction)
    return x, y


def non_negative(weight: Any, name: str) -> np.ndarray:
    weight = as_float(weight, name)
    if not np.all(np.isfinite(weight)) or np.any(weight < 0):
        raise ValueError(f"{name} must be finite and non-negative, got {weight.tolist()}")
    return weight


def elementwise_weight(weight: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """An optional weight with exactly the input's shape (l1, mse, huber)."""
    if weight is None:
        return None
    weight = non_negative(weight, "weight")
    if weight.shape != shape:
        raise ValueError(f"weight must have the shape of input {shape}, got {weight.shape}")
    return weight


def broadcast_weight(weight: Any, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """An optional weight that broadcasts to ``shape`` without enlarging it (the binary cross-entropies)."""
    if weight is None:
        return None
    weight = non_negative(weight, name)
    try:
        fits = np.broadcast_shapes(weight.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name} must broadcast to the input shape {shape}, got {weight.shape}")
    return np.broadcast_to(weight, shape)


def positive(value: float, name: str, allow_zero: bool = False) -> float:
    value = float(value)
    if not (value >= 0 if allow_zero else value > 0) or value == np.inf:
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} and finite, got {value!r}")
    return value


def unit_interval(values: np.ndarray, name: str) -> np.ndarray:
    """Raise unless every value is in [0, 1] (NaN passes: it propagates)."""
    if np.any((values < 0) | (values > 1)):
        raise ValueError(f"{name} must be in [0, 1], got {values.tolist()}")
    return values


def reduce(loss: np.ndarray, reduction: str, weight: np.ndarray | None = None,
           mean_over_weights: bool = False) -> np.ndarray:
    """Weight, then reduce; a weighted ``mean`` divides by the weight sum or by the element count."""
    if weight is not None:
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.sum(loss)
    count = np.sum(weight) if weight is not None and mean_over_weights else loss.size
    return np.sum(loss) / np.float64(count)  # 0 / 0 = NaN for the mean of nothing


def cotangent(grad_output: Any, shape: tuple[int, ...], reduction: str, weight: np.ndarray | None = None,
              mean_over_weights: bool = False) -> np.ndarray:
    """The cotangent of each element of the unreduced loss (the VJP of :func:`reduce`)."""
    g = as_float(grad_output, "grad_output")
    expected = shape if reduction == "none" else ()
    if g.shape != expected:
        raise ValueError(f"grad_output must have shape {expected}, got {g.shape}")
    g = np.broadcast_to(g, shape)
    if reduction == "mean":
        g = g / np.float64(np.sum(weight) if weight is not None and mean_over_weights else int(np.prod(shape)))
    return g * weight if weight is not None else np.array(g)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient back to ``shape`` (what autograd does for a broadcast operand)."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1), keepdims=True)


def sigmoid_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sigma(x) and 1 - sigma(x) = sigma(-x), each without cancellation or overflow."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)), np.where(x >= 0, e / (1 + e), 1 / (1 + e))


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|)."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def hinge_labels(target: np.ndarray) -> np.ndarray:
    """Labels in {-1, +1}, or {0, 1} mapped to {-1, +1}; anything else is an error."""
    values = set(np.unique(target).tolist())
    if values <= {-1.0, 1.0}:
        return target
    if values <= {0.0, 1.0}:
        return 2 * target - 1
    raise ValueError(f"target must hold labels all in {{-1, 1}} or all in {{0, 1}}, got {sorted(values)}")


def class_axis(shape: tuple[int, ...]) -> int:
    if not shape:
        raise ValueError("input must have a class dimension, got shape ()")
    return 1 if len(shape) > 1 else 0


def class_indices(target: Any, shape: tuple[int, ...], axis: int, ignore_index: int | None = None) -> np.ndarray:
    """Integer labels shaped like the input without its class axis, each in [0, C) or ``ignore_index``."""
    labels = np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"target must be integer class indices, got dtype {labels.dtype}")
    expected = shape[:axis] + shape[axis + 1:]
    if labels.shape != expected:
        raise ValueError(f"target must have shape {expected}, got {labels.shape}")
    invalid = (labels < 0) | (labels >= shape[axis])
    if ignore_index is not None:
        invalid &= labels != ignore_index
    if np.any(invalid):
        raise ValueError(f"target class indices must be in [0, {shape[axis]}), got {labels[invalid].tolist()}")
    return labels


def class_weight(weight: Any, name: str, classes: int) -> np.ndarray:
    """A weight per class, shape (C,), finite and non-negative; ones when absent."""
    if weight is None:
        return np.ones(classes)
    weight = non_negative(weight, name)
    if weight.shape != (classes,):
        raise ValueError(f"{name} must have shape ({classes},), got {weight.shape}")
    return weight


def one_hot(labels: np.ndarray, classes: int, axis: int) -> np.ndarray:
    """One-hot along ``axis``; a label outside [0, C) (an ignored sample) gives a row of zeros."""
    return np.moveaxis(labels[..., None] == np.arange(classes), -1, axis).astype(np.float64)

