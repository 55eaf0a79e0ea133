"""The ``refloss`` adapter: the NumPy reference itself, in float64 (its only precision)."""

from __future__ import annotations

from typing import Any

import numpy as np

import refloss
from refloss._registry import REGISTRY, get
from refloss.adapters.base import Adapter, Rejected, Result
from refloss.conformance.errors import classify

__all__ = ["ReferenceAdapter", "call_registered"]


def call_registered(forward: Any, vjp: Any, input_names: list[str], differentiable: list[str],
                    inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
                    cotangent: np.ndarray) -> Result:
    """Run a refloss-style pair ``forward(*inputs, reduction=, **params)`` / ``vjp(g, *inputs, ...)``."""
    positional = [inputs[name] for name in input_names]
    try:
        value = forward(*positional, reduction=reduction, **params)
        grads = vjp(cotangent, *positional, reduction=reduction, **params)
    except (ValueError, TypeError) as error:
        raise Rejected(classify(error), f"{type(error).__name__}: {error}") from error
    by_name = dict(zip(input_names, grads))
    return Result(np.asarray(value, dtype=np.float64),
                  {name: None if by_name.get(name) is None else np.asarray(by_name[name], dtype=np.float64)
                   for name in differentiable})


class ReferenceAdapter(Adapter):
    name = "refloss"
    dtypes = ("float64",)

    def supports(self, loss: str) -> bool:
        return loss in REGISTRY

    def run(self, loss, inputs, params, reduction, cotangent, dtype) -> Result:
        spec = get(loss)
        return call_registered(spec.forward, spec.vjp, [i.name for i in spec.inputs],
                               list(spec.differentiable_names(inputs)), inputs, params, reduction, cotangent)

    def describe(self) -> str:
        return f"refloss {refloss.__version__} (NumPy {np.__version__}, float64)"
