"""The project under test: a Huber loss in NumPy, with its VJP written by hand.

It follows refloss's calling convention (inputs first, then ``reduction`` and the parameters as keywords; the VJP
takes ``grad_output`` first and returns one gradient per input), which is what refloss.testing expects.
"""

import numpy as np


class LossError(ValueError):
    """A rejected call; ``category`` is the kind of error in the conformance suite's vocabulary."""

    def __init__(self, message, category):
        super().__init__(message)
        self.category = category


def _check(input, target, reduction, delta, weight):
    if input.shape != target.shape:
        raise LossError(f"target shape {target.shape} differs from input shape {input.shape}", "shape_mismatch")
    if reduction not in ("none", "mean", "sum"):
        raise LossError(f"reduction must be 'none', 'mean' or 'sum'; got {reduction!r}", "invalid_reduction")
    if not delta > 0:
        raise LossError(f"delta must be > 0; got {delta}", "invalid_parameter")
    if weight is not None and (weight.shape != input.shape or not np.all(np.isfinite(weight) & (weight >= 0))):
        raise LossError("weight must be finite, non-negative and shaped like input", "invalid_weight")


def huber_loss(input, target, *, reduction="mean", delta=1.0, weight=None):
    input, target = np.asarray(input), np.asarray(target)
    _check(input, target, reduction, delta, weight)
    d = input - target
    a = np.abs(d)
    loss = np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    if weight is not None:
        loss = weight * loss
    # PyTorch's weighted Huber mean divides by the number of elements, not by the weight sum
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def huber_loss_vjp(grad_output, input, target, *, reduction="mean", delta=1.0, weight=None):
    input, target = np.asarray(input), np.asarray(target)
    _check(input, target, reduction, delta, weight)
    d = input - target
    slope = np.clip(d, -delta, delta)  # d below delta, +-delta above; NaN stays NaN
    g = np.asarray(grad_output)
    if reduction == "mean":
        g = g / d.size
    if weight is not None:
        g = g * weight
    grad = (g * slope).astype(d.dtype)
    return grad, -grad
