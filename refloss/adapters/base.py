"""The adapter contract: how the conformance validator runs one vector on an implementation.

An adapter receives a loss name, the inputs (NumPy float64 arrays whose values are exact in ``dtype``), the
keyword parameters (floats, or float64 arrays such as ``weight``), the reduction, the cotangent and the dtype to
compute in. It returns the loss value and the gradient of ``<cotangent, loss>`` for each differentiable input, as
float64 arrays holding the ``dtype`` results exactly; or it raises :class:`Rejected` when the implementation
refuses the call (the expected outcome of an ``invalid`` vector).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Adapter", "Rejected", "Result", "Unsupported"]


class Rejected(Exception):
    """The implementation raised an error for this call; ``category`` is one of
    ``refloss.conformance.errors.CATEGORIES`` when the adapter can tell, else None."""

    def __init__(self, category: str | None, message: str):
        super().__init__(message)
        self.category = category


class Unsupported(Exception):
    """The implementation has no way to express this test (a parameter or reduction it lacks): skipped."""


@dataclass
class Result:
    value: np.ndarray
    grads: dict[str, np.ndarray | None]


class Adapter:
    """Base class: subclasses set ``name`` and ``dtypes`` and implement ``supports`` and ``run``."""

    name = "adapter"
    dtypes: tuple[str, ...] = ("float64",)

    def supports(self, loss: str) -> bool:
        raise NotImplementedError

    def run(self, loss: str, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: str,
            cotangent: np.ndarray, dtype: str) -> Result:
        raise NotImplementedError

    def describe(self) -> str:
        """Name and version of what is being validated, for reports."""
        return self.name

    def close(self) -> None:
        """Release resources (a subprocess, ...)."""
