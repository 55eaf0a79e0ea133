"""The mutant record, its categories, and the harness that runs a mutant through the validator."""

from __future__ import annotations

import functools
import types
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import refloss
from refloss.adapters.module import ModuleAdapter

__all__ = ["CATEGORIES", "Mutant", "harness_module"]

CATEGORIES = {
    "branch": "a wrong branch boundary or condition (< for <=, 2 beta for beta, a special case forgotten)",
    "precision": "a naive formula that loses accuracy (cancellation, log(1 + x), 1 - sigmoid(x))",
    "overflow": "a naive formula that overflows (exp of a large logit, cosh, a softmax without its max shift)",
    "denominator": "a wrong reduction or mean denominator (weights, ignored samples, classes, sum for mean)",
    "default": "a wrong default parameter or default reduction",
    "validation": "input validation present in only one of the forward and the VJP",
    "gradient": "a wrong sign or scale of one gradient term",
    "cotangent": "the cotangent grad_output mishandled (ignored, averaged, not divided by N for mean)",
    "broadcasting": "mismatched shapes silently broadcast instead of rejected",
    "nonfinite": "NaN or Inf mishandled (a max that drops NaN, 0 * inf = NaN where the limit is finite)",
    "clamp": "an epsilon clamp or clip in the wrong place",
    "formula": "a wrong term, factor or constant in the formula",
    "convention": "another library's convention taken for this one's (label encoding, smoothing, weights)",
}

@dataclass(frozen=True)
class Mutant:
    """One wrong implementation of one loss.

    Attributes:
        name: Unique identifier (the pytest id).
        loss: The registered loss it implements.
        forward: The wrong forward, or None for refloss's own.
        vjp: The wrong VJP, or None for refloss's own.
        description: The real-world bug it models, in one line.
        category: A key of ``CATEGORIES``.
        dtypes: The dtypes to check it in: float64 unless the bug shows only in another dtype.
    """

    name: str
    loss: str
    forward: Callable[..., Any] | None
    vjp: Callable[..., Any] | None
    description: str
    category: str
    dtypes: tuple[str, ...] = ("float64",)

    def __post_init__(self) -> None:
        if self.loss not in refloss.registry.names(kind=None):
            raise ValueError(f"mutant {self.name}: loss must be a registered loss, got {self.loss!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"mutant {self.name}: category must be one of {sorted(CATEGORIES)}, "
                             f"got {self.category!r}")
        if self.forward is None and self.vjp is None:
            raise ValueError(f"mutant {self.name}: at least one of forward and vjp must be wrong")

    def module(self) -> types.ModuleType:
        """The mutant as a module for the ``module:`` adapter: ``LOSSES = {loss: (forward, vjp)}``."""
        return harness_module(self.loss, self.forward, self.vjp, self.dtypes, f"mutant_{self.name}")

    def adapter(self) -> ModuleAdapter:
        return ModuleAdapter(self.module())


def harness_module(loss: str, forward: Callable[..., Any] | None = None, vjp: Callable[..., Any] | None = None,
                   dtypes: tuple[str, ...] = ("float64",), name: str | None = None) -> types.ModuleType:
    """A module for the ``module:`` adapter implementing ``loss`` with ``forward`` and ``vjp`` (refloss's own
    where None), run quietly: the harness of every mutant, and of refloss itself as the control."""
    spec = refloss.registry.get(loss)
    module = types.ModuleType(name or f"harness_{loss}")
    vjp = vjp or spec.vjp  # (None for a function without a gradient: NMS)
    module.LOSSES = {loss: (_quietly(forward or spec.forward), vjp and _quietly(vjp))}
    module.DTYPES = dtypes
    return module


def _quietly(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with NumPy's floating-point warnings silenced.

    A compiled kernel overflows to inf without a word; here the test settings turn warnings into errors, which
    would make a naive formula crash, and be "caught", for the wrong reason.
    """
    @functools.wraps(function)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return function(*args, **kwargs)
    return quiet
