"""The ``refloss`` adapter: the NumPy reference itself, in float64 (its only precision)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

import refloss
from refloss._registry import REGISTRY, get
from refloss.adapters.base import Adapter, Rejected, Result, wanted_gradients
from refloss.conformance.errors import classify

__all__ = ["ReferenceAdapter", "call_registered"]


def call_registered(loss: str, forward: Any, vjp: Any, inputs: dict[str, Any], params: dict[str, Any],
                    reduction: str | None, cotangent: Any, *, value: bool = True, grads: Sequence[str] = (),
                    reject: Callable[[BaseException], Rejected | None] | None = None) -> Result:
    """Run a refloss-style pair ``forward(*inputs, reduction=, **params)`` / ``vjp(g, *inputs, ...)`` for the
    registered function ``loss`` (a detector loss's ``(total, terms)`` is returned as the vector (total, *terms),
    and its cotangent vector is passed to the VJP as the mapping of names to cotangents).

    Only the forward runs when ``grads`` is empty, only the VJP when ``value`` is False; ``reduction=None`` leaves
    the reduction out of both calls. ``reject`` turns an exception into :class:`Rejected` (or None: a crash, raised
    as it is); by default a ``ValueError`` or ``TypeError`` is a rejection categorised by ``errors.classify``.
    """
    reject = reject or _reject_by_message
    spec = get(loss)
    positional = [inputs[i.name] for i in spec.inputs]
    keywords = dict(params) if reduction is None else {"reduction": reduction, **params}
    loss_value, gradients = None, ()
    try:
        if value:
            loss_value = spec.output_vector(forward(*positional, **keywords))
        if grads:
            gradients = vjp(spec.cotangent_of(cotangent), *positional, **keywords)
    except Exception as error:
        rejection = reject(error)
        if rejection is None:
            raise
        raise rejection from error
    by_name = dict(zip([i.name for i in spec.inputs], gradients))
    return Result(None if loss_value is None else np.asarray(loss_value, dtype=np.float64),
                  {name: None if by_name.get(name) is None else np.asarray(by_name[name], dtype=np.float64)
                   for name in grads})


def _reject_by_message(error: BaseException) -> Rejected | None:
    """refloss's own errors: ValueError/TypeError, categorised from the message."""
    if isinstance(error, (ValueError, TypeError)):
        return Rejected(classify(error), f"{type(error).__name__}: {error}")
    return None


class ReferenceAdapter(Adapter):
    name = "refloss"
    dtypes = ("float64",)

    def supports(self, loss: str) -> bool:
        return loss in REGISTRY

    def run(self, loss, inputs, params, reduction, cotangent, dtype, *, value=True, grads=None) -> Result:
        spec = get(loss)
        return call_registered(loss, spec.forward, spec.vjp, inputs, params, reduction, cotangent, value=value,
                               grads=wanted_gradients(loss, grads, inputs))

    def describe(self) -> str:
        return f"refloss {refloss.__version__} (NumPy {np.__version__}, float64)"
