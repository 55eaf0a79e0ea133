"""The adapter contract: how the conformance validator runs one vector on an implementation.

An adapter receives a loss name, the inputs (NumPy arrays, float64 holding values exact in ``dtype``, or int64
class indices), the keyword parameters the test sets (Python floats or ints, or float64 arrays such as
``weight``), the reduction, the cotangent and the dtype to compute in. Two more arguments select what to run:

- ``reduction=None`` means "do not pass a reduction": the implementation's default applies. The validator uses it
  to check default parameters; an implementation that has no default raises :class:`Unsupported`.
- ``value`` (run the forward) and ``grads`` (the inputs whose gradients to compute by the VJP; ``None`` means
  every input the registry declares differentiable, ``()`` means no VJP). The validator runs the forward alone
  (``grads=()``) and the VJP alone (``value=False``) to require that each one rejects an ``invalid`` call.

It returns the loss value (``None`` if not asked for) and the gradient of ``<cotangent, loss>`` for each input
asked for, as float64 arrays holding the ``dtype`` results exactly. When the implementation refuses the call (the
expected outcome of an ``invalid`` vector) it raises :class:`Rejected`, with the error's category when it can tell.
When the implementation can no longer be used at all (an engine that crashed, hung, or broke the protocol) it
raises :class:`EngineFailure`: the validator reports one failure and does not run the remaining tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from refloss._registry import get

__all__ = ["Adapter", "EngineFailure", "Rejected", "Result", "Unsupported", "wanted_gradients"]


class Rejected(Exception):
    """The implementation raised an error for this call; ``category`` is its category when the adapter can tell
    (a string, normally one of ``refloss.conformance.errors.CATEGORIES``), else None."""

    def __init__(self, category: str | None, message: str):
        super().__init__(message)
        self.category = category


class Unsupported(Exception):
    """The implementation has no way to express this test (a parameter, reduction or default it lacks): skipped."""


class EngineFailure(Exception):
    """The implementation stopped working (crashed, hung, broke the protocol): the run cannot go on."""


@dataclass
class Result:
    value: np.ndarray | None
    grads: dict[str, np.ndarray | None]


def wanted_gradients(loss: str, grads: Sequence[str] | None, inputs: dict[str, Any]) -> tuple[str, ...]:
    """The inputs whose gradients a call asks for: ``grads`` as given, or every input that has a gradient with
    these ``inputs`` (the declared differentiable ones, and cross_entropy's target when it holds probabilities)."""
    if grads is None:
        return get(loss).differentiable_names(inputs)
    return tuple(grads)


class Adapter:
    """Base class: subclasses set ``name`` and ``dtypes`` and implement ``supports`` and ``run``."""

    name = "adapter"
    dtypes: tuple[str, ...] = ("float64",)

    def supports(self, loss: str) -> bool:
        raise NotImplementedError

    def run(self, loss: str, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str | None,
            cotangent: np.ndarray, dtype: str, *, value: bool = True, grads: Sequence[str] | None = None) -> Result:
        """Run the forward (if ``value``) and the VJP for ``grads`` (see the module docstring)."""
        raise NotImplementedError

    def describe(self) -> str:
        """Name and version of what is being validated, for reports."""
        return self.name

    def close(self) -> None:
        """Release resources (a subprocess, ...)."""
