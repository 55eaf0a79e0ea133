"""Reductions ``none`` / ``mean`` / ``sum`` and their VJP, in one place for every loss.

Conventions (PyTorch's, checked against torch 2.13):

* ``mean`` divides by the number of elements; ``mean`` of an empty loss is NaN and ``sum`` of it is 0.
* With an elementwise ``weight`` (``l1_loss``, ``mse_loss``, ``huber_loss``), every reduction multiplies the
  loss by the weight first. ``mean`` then divides by the sum of the weights, ``sum(w * l) / sum(w)``, for
  ``l1_loss`` and ``mse_loss`` (a weight sum of zero gives NaN), but by the number of elements,
  ``sum(w * l) / n``, for ``huber_loss``: PyTorch (2.13 and 2.14.1) is inconsistent here and refloss follows it loss by loss
  (``mean_over_weights``).
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import check_grad_output

__all__ = ["batch_size", "output_shape", "reduce", "reduce_batchmean", "reduce_batchmean_vjp", "reduce_vjp"]


def output_shape(elementwise_shape: tuple[int, ...], reduction: str) -> tuple[int, ...]:
    """Shape of a loss's output: the elementwise shape for ``none``, a scalar otherwise."""
    return elementwise_shape if reduction == "none" else ()


def _mean_denominator(shape: tuple[int, ...], weight: np.ndarray | None, mean_over_weights: bool) -> float:
    return np.sum(weight) if weight is not None and mean_over_weights else np.prod(shape)


def reduce(loss: Any, reduction: str, weight: np.ndarray | None = None, mean_over_weights: bool = True) -> Any:
    """Apply ``weight`` (if any) and ``reduction`` to an elementwise ``loss``. ``reduction`` is already checked.

    ``mean_over_weights`` chooses the denominator of a weighted ``mean``: the weight sum, or the element count.
    """
    if weight is not None:
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return anp.sum(loss)
    denominator = _mean_denominator(np.shape(loss), weight, mean_over_weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        # The mean of nothing (an empty input, or weights that sum to zero) is 0/0 = NaN, as in PyTorch. It is
        # computed, not returned as a constant, so that autograd sees the same NaN gradient as reduce_vjp gives.
        return anp.sum(loss) / np.float64(denominator)


def reduce_vjp(grad_output: Any, elementwise_shape: tuple[int, ...], reduction: str,
               weight: np.ndarray | None = None, mean_over_weights: bool = True) -> np.ndarray:
    """The cotangent of each element of the unreduced loss, given the cotangent of the reduced output.

    ``none`` passes ``grad_output`` through, ``sum`` broadcasts it, ``mean`` broadcasts it divided by the number
    of elements (or by the weight sum). A weight then multiplies each element's cotangent.
    """
    grad_output = check_grad_output(grad_output, output_shape(elementwise_shape, reduction))
    per_element = np.broadcast_to(grad_output, elementwise_shape)
    scale = weight  # what multiplies each element's cotangent (None: nothing)
    if reduction == "mean":
        denominator = _mean_denominator(elementwise_shape, weight, mean_over_weights)
        with np.errstate(divide="ignore", invalid="ignore"):
            # A zero denominator yields NaN (0/0) or Inf, as PyTorch's backward does. Over the weight sum, the
            # share w / sum(w) <= 1 is formed first: g / sum(w) would overflow for a subnormal weight sum
            # (4.9e-321) where the gradient g w / sum(w) is finite.
            if weight is not None and mean_over_weights:
                scale = weight / denominator
            else:
                per_element = per_element / denominator
    if scale is not None:
        with np.errstate(invalid="ignore"):
            per_element = per_element * scale
    return np.array(per_element, dtype=np.float64)


def batch_size(shape: tuple[int, ...]) -> int:
    """The denominator of ``batchmean`` (kl_div only): the size of dim 0, or 1 for a 0-d loss (as PyTorch, which
    divides by ``input.size(0)`` only when the input has a dimension)."""
    return shape[0] if shape else 1


def reduce_batchmean(loss: Any) -> Any:
    """``batchmean``: the sum divided by the size of dim 0. An empty batch (dim 0 of size 0) gives 0/0 = NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return anp.sum(loss) / np.float64(batch_size(np.shape(loss)))


def reduce_batchmean_vjp(grad_output: Any, elementwise_shape: tuple[int, ...]) -> np.ndarray:
    """The cotangent of each element under ``batchmean``: ``grad_output`` / (size of dim 0), broadcast."""
    grad_output = check_grad_output(grad_output, ())
    with np.errstate(divide="ignore", invalid="ignore"):
        share = grad_output / np.float64(batch_size(elementwise_shape))
    return np.array(np.broadcast_to(share, elementwise_shape), dtype=np.float64)
