"""The blocked executor: how every elementwise (or per-item) loss is evaluated fast without a second copy of it.

A loss supplies one *kernel*: its formula for a block of items, written once against an array namespace ``xp``,

    kernel(xp, g, *blocks, value=True) -> (loss of each item or None, gradients of the blocks or None)

where ``g`` is each item's cotangent (None when no gradient is wanted) and the gradients are the VJP's, already
multiplied by ``g``. The same kernel serves three ways:

* **traced**: autograd differentiates the forward, so the kernel runs once on the whole arrays with
  ``xp = autograd.numpy`` and ``reduce`` applies the reduction. This is the readable evaluation the docs teach,
  and the one the tests compare against (``readable_evaluation()`` forces it for plain arrays too).
* **blocked**: for plain arrays the kernel runs with ``xp = numpy`` on cache-sized blocks of items (views of the
  inputs, never copies), and the results are written into preallocated outputs. Every temporary is a block: it
  stays in cache and its memory is reused, where whole-array temporaries cost a page fault per 4 KiB. A ``mean``
  or ``sum`` never forms the unreduced loss: each block's sum is kept and the partial sums are added exactly
  (``math.fsum``).
* **fused**: with ``value=True`` and a cotangent, one pass computes the loss and its gradients, sharing the
  intermediates (the residual, ``exp(-|x|)``, the softmax) that separate calls would compute twice.

Elementwise arithmetic does not depend on how the items are split, so the blocked gradients are bit for bit those
of the whole-array evaluation; a reduced value may differ in the last bits only because the partial sums are added
more accurately than one pairwise sum over everything.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterator, Sequence

import autograd.numpy as anp
import numpy as np
from autograd.tracer import Box

from refloss._reduction import reduce

__all__ = ["BLOCK_BYTES", "block_bytes", "elementwise", "evaluate", "items_per_block", "readable",
           "readable_evaluation"]

# Bytes of one input per block: 8,192 float64 elements. Each temporary of a block is then below glibc's threshold
# for serving an allocation by mmap (128 KiB): blocks of 16,384 elements were 2 to 3 times slower per element on
# this project's machine, every temporary costing fresh page faults. Much smaller blocks pay Python's per-call
# overhead (measured at 1e6 elements: 16 KiB blocks 1.6 times slower than 64 KiB ones for smooth_l1_loss).
BLOCK_BYTES = 64 * 1024

_settings = {"block_bytes": BLOCK_BYTES, "readable": False}

Kernel = Callable[..., tuple[Any, Sequence[Any] | None]]


@contextlib.contextmanager
def readable_evaluation() -> Iterator[None]:
    """Evaluate as the docs teach: every kernel once on the whole arrays, as autograd's traced forward is, and
    no specialised path (cross-entropy's class-index path that never forms the one-hot rows).

    For tests that hold the fast paths to the readable one, and for timing the difference.
    """
    previous = _settings["readable"]
    _settings["readable"] = True
    try:
        yield
    finally:
        _settings["readable"] = previous


def items_per_block(item_bytes: int) -> int:
    """How many items of ``item_bytes`` bytes a block holds now (``BLOCK_BYTES``, unless :func:`block_bytes`
    changed it), at least one."""
    return max(1, _settings["block_bytes"] // item_bytes)


def readable() -> bool:
    """Whether :func:`readable_evaluation` is in force (a loss with a specialised fast path then skips it)."""
    return _settings["readable"]


@contextlib.contextmanager
def block_bytes(size: int) -> Iterator[None]:
    """Use blocks of ``size`` bytes of one input (at least one item each): tiny blocks test the block boundaries."""
    previous = _settings["block_bytes"]
    _settings["block_bytes"] = size
    try:
        yield
    finally:
        _settings["block_bytes"] = previous


def evaluate(kernel: Kernel, items: Sequence[Any], *, reduction: str, value: bool = True,
             grad_output: Any = None, weight: np.ndarray | None = None, mean_over_weights: bool = True,
             item_bytes: int | None = None) -> tuple[Any, list[Any] | None]:
    """Run ``kernel`` over ``items`` and apply ``reduction``: the loss (or None) and the gradients (or None).

    Args:
        kernel: The loss's formula for a block, as described in the module docstring.
        items: The inputs, already validated, each with the items along its first axis (the same number in each).
        reduction: ``"none"``, ``"mean"`` or ``"sum"`` (already checked).
        value: Whether the loss is wanted.
        grad_output: The cotangent of the loss's output, already checked against its shape (one per item for
            ``none``, a scalar otherwise); None when no gradient is wanted.
        weight: An optional weight per item, already validated (``refloss._reduction.reduce`` explains how it
            enters each reduction, with ``mean_over_weights``).
        mean_over_weights: Whether a weighted ``mean`` divides by the weight sum (else by the number of items).
        item_bytes: The bytes one item counts for in a block (default: its bytes in the first input). A kernel
            whose temporaries per item are smaller than its input (one value per box pair) or whose NumPy calls
            per block cost more than its arithmetic (a softmax row) gives less, for larger blocks.

    Returns:
        ``(loss, gradients)``: the reduced loss (an array of one loss per item for ``none``) or None, and a list
        with one gradient per item array (the kernel's None for an input without one), or None.
    """
    if any(isinstance(item, Box) for item in items):  # autograd traces the forward: the readable evaluation
        return reduce(kernel(anp, None, *items)[0], reduction, weight, mean_over_weights), None
    count = len(items[0]) if np.ndim(items[0]) else 1
    denominator = np.float64(_denominator(count, weight, reduction, mean_over_weights))
    g = None if grad_output is None else _cotangent_scale(np.asarray(grad_output, dtype=np.float64), reduction,
                                                          denominator, weight is not None and mean_over_weights)
    if _settings["readable"] or np.ndim(items[0]) == 0:
        blocks = [...]  # the whole arrays (an Ellipsis also indexes a 0-d array)
    else:
        step = items_per_block(item_bytes or max(1, items[0][:1].nbytes))
        blocks = [slice(start, start + step) for start in range(0, max(count, 1), step)]  # one, empty, if none

    whole = len(blocks) == 1  # one block: the kernel's own arrays are the results
    loss_out, partial_sums, gradients = None, [], None
    for block in blocks:
        block_g = None if g is None else _block_cotangent(g, block, weight, reduction, denominator,
                                                          mean_over_weights)
        loss, grads = kernel(np, block_g, *(None if item is None else item[block] for item in items), value=value)
        if value:
            if weight is not None:
                loss = loss * weight[block]
            if reduction != "none":
                partial_sums.append(np.add.reduce(loss, axis=None))
            elif whole:
                loss_out = loss
            else:
                if loss_out is None:
                    loss_out = np.empty(np.shape(items[0])[:1] + np.shape(loss)[1:])
                loss_out[block] = loss
        if grads is not None and whole:
            gradients = list(grads)
        elif grads is not None:
            if gradients is None:  # one per leading item array the kernel differentiates
                gradients = [None if grad is None else np.empty(np.shape(item)) for grad, item in zip(grads, items)]
            for out, grad in zip(gradients, grads):
                if out is not None:
                    out[block] = grad
    if not value:
        return None, gradients
    if reduction == "none":
        return loss_out, gradients
    total = _exact_sum(partial_sums)
    if reduction == "sum":
        return total, gradients
    with np.errstate(divide="ignore", invalid="ignore"):  # the mean of nothing is 0/0 = NaN, as in PyTorch
        return total / denominator, gradients


def elementwise(kernel: Kernel, inputs: Sequence[Any], *, reduction: str, value: bool = True,
                grad_output: Any = None, weight: np.ndarray | None = None,
                mean_over_weights: bool = True) -> tuple[Any, tuple | None]:
    """:func:`evaluate` for an elementwise loss, whose inputs have one shape (any number of dimensions).

    Each input is an item array of that shape or None (the kernel receives the None); one that broadcasts to it
    (a per-class ``pos_weight``) is broadcast first. The items are the elements, taken in order from flat views
    (a copy only where an input is not contiguous or is broadcast); the unreduced loss and the gradients get the
    shape back. ``grad_output`` and ``weight`` are as :func:`evaluate` takes them, in that shape (``weight`` may
    broadcast to it).
    """
    shape = tuple(np.shape(inputs[0]._value if isinstance(inputs[0], Box) else inputs[0]))
    if any(isinstance(item, Box) for item in inputs):  # autograd traces the forward: the whole arrays, as written
        return evaluate(kernel, inputs, reduction=reduction, weight=weight, mean_over_weights=mean_over_weights)

    def flat(array: Any) -> Any:
        return None if array is None else np.broadcast_to(array, shape).reshape(-1)

    if reduction == "none" and grad_output is not None:
        grad_output = flat(grad_output)
    loss, grads = evaluate(kernel, [flat(item) for item in inputs], reduction=reduction, value=value,
                           grad_output=grad_output, weight=flat(weight), mean_over_weights=mean_over_weights)
    if loss is not None and reduction == "none":
        loss = loss.reshape(shape)
    return loss, None if grads is None else tuple(None if grad is None else grad.reshape(shape) for grad in grads)


def _denominator(count: int, weight: np.ndarray | None, reduction: str, mean_over_weights: bool) -> float:
    if reduction != "mean":
        return 1.0
    return np.sum(weight) if weight is not None and mean_over_weights else count


def _cotangent_scale(g: np.ndarray, reduction: str, denominator: np.float64, over_weights: bool) -> np.ndarray:
    """The cotangent before the weight: ``g`` itself, or for an unweighted ``mean`` ``g / n`` (as reduce_vjp)."""
    if reduction == "mean" and not over_weights:
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / denominator
    return g


def _block_cotangent(g: np.ndarray, block: slice, weight: np.ndarray | None, reduction: str,
                     denominator: np.float64, mean_over_weights: bool) -> np.ndarray:
    """Each item's cotangent in ``block``, with the operations of ``reduce_vjp`` in its order (so the gradients
    are bit for bit the readable ones): the weight share ``w / sum(w)`` is formed first for a mean over weights."""
    block_g = g[block] if reduction == "none" else g
    if weight is None:
        return block_g
    scale = weight[block]
    if reduction == "mean" and mean_over_weights:
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = scale / denominator
    with np.errstate(invalid="ignore"):
        return block_g * scale


def _exact_sum(partial_sums: list[Any]) -> np.float64:
    """The sum of the blocks' sums, correctly rounded (``math.fsum``; a running float sum lost 1.5e-15 relative
    at 1e7 elements). Inf and NaN partial sums make fsum raise, so those are added as floats, as NumPy would."""
    try:
        return np.float64(math.fsum(partial_sums))
    except (OverflowError, ValueError):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.sum(np.asarray(partial_sums, dtype=np.float64))
