"""cross_entropy's fast path for class-index targets without label smoothing: no one-hot row is ever formed.

With class indices and :math:`\\varepsilon = 0`, the coefficients of (C2) have one nonzero entry per sample,
:math:`v_n = V_{n, y_n} = w_{y_n}` (0 for an ignored sample). So (C1) is :math:`\\ell_n = -v_n \\log p_{n, y_n}`,
and the bracket of (C4) is :math:`v_n p_{n,k}` at every class but the target, where it is
:math:`-v_n (1 - p_{n, y_n})`. This module computes those entries with exactly the operations of the readable
code in ``cross_entropy.py`` (the same shift by the first maximum, the same sums, the same complement), so the
gradients are bit for bit the readable ones, block by block over the samples (``refloss._blocks``). It is taken
only for plain arrays outside ``refloss._blocks.readable_evaluation()``; tests hold it to the readable evaluation on
the golden vectors and on random inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refloss._blocks import evaluate

__all__ = ["indexed_cross_entropy"]


def indexed_cross_entropy(x: np.ndarray, labels: np.ndarray, weight: np.ndarray | None, ignore_index: int,
                          reduction: str, grad_output: Any, value: bool) -> tuple[Any, tuple | None]:
    """The loss (or None) and ``(grad_input, None)`` (or None) of ``cross_entropy`` for validated class indices.

    Args:
        x: Logits ``(N, C)`` or ``(C,)``, validated, with at least one entry.
        labels: Class indices ``(N,)`` or ``()``, validated (each in ``[0, C)`` or ``ignore_index``).
        weight: Validated weight per class ``(C,)``, or None.
        ignore_index: The ignored class index.
        reduction: ``none``, ``mean`` or ``sum`` (checked).
        grad_output: The cotangent, checked against the loss's output shape, or None for the loss alone.
        value: Whether the loss is wanted.
    """
    single = x.ndim == 1  # one sample (C,): made a batch of one
    if single:
        x, labels = x[None], labels[None]
        if grad_output is not None and reduction == "none":
            grad_output = np.reshape(grad_output, (1,))
    keep = labels != ignore_index
    safe = np.where(keep, labels, 0)  # a valid class index for every sample
    target_weight = np.ones(safe.shape) if weight is None else weight[safe]  # w[y_n]
    denominator = float(np.sum(target_weight * keep))  # (C3), summed as the readable code sums it
    divisor = np.float64(denominator if reduction == "mean" else 1.0)
    if grad_output is not None and reduction == "mean" and denominator == 0:
        grad_output, divisor = grad_output * np.nan, np.float64(1.0)  # the gradient of the NaN mean over nothing

    def kernel(xp: Any, g: Any, x: Any, safe: Any, keep: Any, target_weight: Any,
               value: bool = True) -> tuple[Any, Any]:
        rows = np.arange(len(x))
        v = keep * target_weight  # V[n, y_n] of (C2) with eps = 0
        first = np.argmax(x, axis=1)  # the first maximum a, as log_softmax shifts by it
        x_first = x[rows, first]
        e = np.exp(x - x_first[:, None])  # exp(x - x_a); 1 at a
        e_target = e[rows, safe]
        total = np.sum(e, axis=1) if g is not None else None  # softmax's denominator
        e[rows, first] = 0.0
        others = np.sum(e, axis=1)  # sum over j != a
        loss = None
        if value:
            log_p = (x[rows, safe] - x_first) - np.log1p(others)  # (A5) at the target
            loss = 0.0 - np.where(v != 0, v * log_p, 0.0)  # (C1)
        if g is None:
            return loss, None
        e[rows, first] = 1.0
        softmax = e / total[:, None]
        # softmax_complement at the target: the sum over j != y of exp(x_j - x_a), over the same total
        complement = np.where(safe == first, others, 1.0 + others - e_target) / (1.0 + others)
        # (C4): softmax * v away from the target. Products with an exact 1 (v without weights or ignored samples,
        # the cotangent 1 of a mean) and the division by 1 (none, sum) change no bit, so they are skipped.
        bracket = softmax if weight is None and keep.all() else softmax * v[:, None]
        bracket[rows, safe] = softmax[rows, safe] * 0.0 - v * complement
        grad = bracket if np.ndim(g) == 0 and g == 1.0 else (g[:, None] if np.ndim(g) else g) * bracket
        return loss, ((grad / divisor) if divisor != 1.0 else grad, None)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # NaN and inf propagate silently
        # Rows in blocks four times the elementwise size: some twenty NumPy calls per block, on rows of a few dozen
        # entries, cost more than the cache misses of larger temporaries (100,000 x 80: 1.4 times faster than
        # blocks of 64 KiB, measured)
        loss, grads = evaluate(kernel, [x, safe, keep, target_weight], value=value, grad_output=grad_output,
                               reduction="none" if reduction == "none" else "sum", item_bytes=max(1, x[0].nbytes // 4))
    if loss is not None and reduction != "none":
        loss = loss * np.nan if reduction == "mean" and denominator == 0 else loss / np.float64(divisor)
    if single:
        loss = loss[0] if loss is not None and reduction == "none" else loss
        grads = None if grads is None else (grads[0][0], None)
    return loss, None if grads is None else (grads[0], None)
