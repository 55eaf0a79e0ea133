"""``refloss.value_and_vjp``: a loss's value and its vector-Jacobian product from one call.

Fixture generation and validation need both, and the two share most of their work (the residual, the sigmoid, the
softmax). A loss whose registry record has a fused evaluation (``LossSpec.value_and_vjp``) computes them in one
pass over its inputs; any other registered function with a gradient gets its forward and its VJP called in turn.
The results are those of the two separate calls: gradients bit for bit, values within a few ulps (a blocked sum
may round differently from one sum over the whole array).
"""

from __future__ import annotations

from typing import Any

from refloss._registry import get

__all__ = ["value_and_vjp"]


def value_and_vjp(name: str, grad_output: Any, *inputs: Any, **params: Any) -> tuple[Any, tuple]:
    """The value of the registered loss ``name`` at ``inputs`` and its VJP with cotangent ``grad_output``.

    Equivalent to ``(refloss.<name>(*inputs, **params), refloss.<name>_vjp(grad_output, *inputs, **params))``,
    with the same validation and the same errors, in one pass where the loss has a fused evaluation.

    Args:
        name: A registered name with a gradient (``refloss.registry.names(None)``).
        grad_output: The cotangent, with the shape of the loss's output (a scalar for ``mean`` and ``sum``).
        *inputs: The loss's positional inputs.
        **params: Its keyword parameters (``reduction``, ``beta``, ...).

    Returns:
        ``(value, gradients)``: what the forward returns, and the VJP's tuple (one entry per positional input,
        None for an input without a gradient).

    Raises:
        KeyError: ``name`` is not registered (the message lists the closest names).
        ValueError: ``name`` has no gradient (NMS, the pairwise IoU matrices), or an input or parameter is invalid.
        TypeError: an input or parameter has the wrong type.

    Examples:
        >>> value, (grad_input, grad_target) = value_and_vjp("mse_loss", 1.0, [1.0, -2.0], [0.0, 0.0])
        >>> float(value), grad_input.tolist(), grad_target.tolist()
        (2.5, [1.0, -2.0], [-1.0, 2.0])
    """
    spec = get(name)
    if spec.vjp is None:
        raise ValueError(f"{name} has no gradient (its registry record has no VJP), so it has no value_and_vjp")
    if spec.value_and_vjp is not None:
        return spec.value_and_vjp(grad_output, *inputs, **params)
    return spec.forward(*inputs, **params), spec.vjp(grad_output, *inputs, **params)
