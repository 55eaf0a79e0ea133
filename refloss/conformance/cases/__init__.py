"""Named, seeded case generators: inputs only, never expected values.

Each loss family has a module whose generators yield :class:`VectorCase` objects for a registered loss. The
expected values are computed later by the independent oracle (:mod:`refloss.conformance.oracle`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import importlib
import zlib

import numpy as np

__all__ = ["ALL_DTYPES", "FLOAT64_ONLY", "VectorCase", "case_rng", "cases_for", "cotangent_for", "empty_cases",
           "float64_cotangent", "grid_values", "nondyadic_values", "pending_cases", "pending_cases_for",
           "row_case", "two_input_case"]

# Inputs of an all-dtype case are exactly representable in each of these; float64-only cases hold magnitudes
# that only float64 can carry (1e300, subnormals, ...).
ALL_DTYPES = ("float64", "float32", "bfloat16", "float16")
FLOAT64_ONLY = ("float64",)


@dataclass
class VectorCase:
    """The inputs of one golden vector, and why it exists.

    ``concern`` names the vector file the case goes to (``basic``, ``edge``, ``accuracy``, ``nonfinite``,
    ``invalid``); ``accuracy`` holds float64-only, non-dyadic inputs where naive formulas lose accuracy.
    ``alternatives`` names the framework conventions (see ``refloss.conformance.conventions``) whose results are
    also acceptable. ``error`` is the category an ``invalid`` case must raise.
    """

    name: str
    concern: str
    comment: str
    inputs: dict[str, np.ndarray]
    reduction: Any
    params: dict[str, Any] = field(default_factory=dict)
    cotangent: np.ndarray | None = None
    flags: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ALL_DTYPES
    alternatives: tuple[str, ...] = ()
    error: str | None = None


_GENERATORS: dict[str, list[Callable[[], Iterator[VectorCase]]]] = {}
# Cases written but not generated yet, each with the reason: the oracle cannot yet compute their expectations, or
# the float64 reference disagrees with the oracle (a known bug awaiting its fix). Enable one by changing its
# generator's decorator from ``pending_cases_for`` to ``cases_for``.
_PENDING: dict[str, list[tuple[Callable[[], Iterator[VectorCase]], str]]] = {}


def cases_for(*loss_names: str) -> Callable:
    """Register a generator of cases for the named losses (the generator receives the loss name)."""
    def decorator(generator: Callable[[str], Iterator[VectorCase]]) -> Callable:
        for name in loss_names:
            _GENERATORS.setdefault(name, []).append(lambda name=name: generator(name))
        return generator
    return decorator


def pending_cases_for(*loss_names: str, reason: str) -> Callable:
    """Register a generator of cases that are disabled for ``reason`` (see :func:`pending_cases`)."""
    def decorator(generator: Callable[[str], Iterator[VectorCase]]) -> Callable:
        for name in loss_names:
            _PENDING.setdefault(name, []).append((lambda name=name: generator(name), reason))
        return generator
    return decorator


# one module per line
_CASE_MODULES = (
    "anchors",
    "boxes",
    "classification",
    "coders",
    "multilabel",
    "ctc",
    "detectors",
    "embedding",
    "geometry",
    "keras_b",
    "poisson",
    "margins",
    "regression",
    "selection",
    "keras_a",
)


def _register_all() -> None:
    for module in _CASE_MODULES:  # importing a module registers its generators
        importlib.import_module(f"refloss.conformance.cases.{module}")


def generate_cases(loss_name: str) -> list[VectorCase]:
    """All enabled cases of one loss, in a fixed order; a duplicate case name (pending ones included) is an error."""
    _register_all()
    cases = [case for generator in _GENERATORS.get(loss_name, []) for case in generator()]
    seen: set[str] = set()
    for case in cases + [case for case, _ in pending_cases(loss_name)]:
        if case.name in seen:
            raise ValueError(f"{loss_name}: duplicate case name {case.name!r}")
        seen.add(case.name)
    return cases


def pending_cases(loss_name: str) -> list[tuple[VectorCase, str]]:
    """The disabled cases of one loss, each with the reason it is not generated yet."""
    _register_all()
    return [(case, reason) for generator, reason in _PENDING.get(loss_name, []) for case in generator()]


def grid_values(rng: np.random.Generator, shape: tuple[int, ...], low: int = -255, high: int = 255,
                scale: int = 32) -> np.ndarray:
    """Random values n / scale with integer |n| <= 255: at most 8 significant bits and, for scale 32, magnitudes
    between 1/32 and 8, so exactly representable in float16, bfloat16, float32 and float64."""
    return rng.integers(low, high + 1, size=shape) / scale


def nondyadic_values(rng: np.random.Generator, shape: tuple[int, ...], low: float = -3.0,
                     high: float = 3.0) -> np.ndarray:
    """Random float64 values in [low, high) that use all 53 significand bits (exact in float64 only): unlike grid
    values, every operation on them rounds, so a formula that loses low bits shows."""
    return rng.uniform(low, high, size=shape)


def float64_cotangent(rng: np.random.Generator, shape: tuple[int, ...], reduction: str) -> np.ndarray:
    """A non-dyadic cotangent of either sign, 0.5 <= |g| < 2: one per element for ``none``, else one scalar."""
    size = shape if reduction == "none" else ()
    return rng.uniform(0.5, 2.0, size=size) * rng.choice(np.array([-1.0, 1.0]), size=size)


def case_rng(loss: str, case: str) -> np.random.Generator:
    """A generator seeded by the loss and case names, so that adding a case never changes another's inputs."""
    return np.random.default_rng(zlib.crc32(f"{loss}/{case}".encode()))


def cotangent_for(rng: np.random.Generator, shape: tuple[int, ...], reduction: str) -> np.ndarray:
    """A non-unit cotangent: grid values in [-4, 4] per element for ``none``, one such scalar otherwise."""
    values = rng.integers(-128, 129, size=shape if reduction == "none" else ()) / 32
    return np.where(values == 0, 0.5, values) if reduction == "none" else np.asarray(values or 1.25)


def two_input_case(loss: str, name: str, concern: str, comment: str, x: np.ndarray, y: np.ndarray,
                   reduction: str, rng: np.random.Generator, **fields) -> VectorCase:
    """A case of a loss with two inputs (named as in its registry record); the cotangent is drawn unless given."""
    from refloss._registry import get

    spec = get(loss)
    first, second = (i.name for i in spec.inputs)
    cotangent = fields.pop("cotangent", None)
    if cotangent is None:  # (an unreduced box loss has one entry per pair: the boxes' shape without its last axis)
        cotangent = cotangent_for(rng, spec.output_shape(np.shape(x), "none"), reduction)
    return VectorCase(name, concern, comment, {first: np.asarray(x, float), second: np.asarray(y, float)},
                      reduction, cotangent=np.asarray(cotangent, float), **fields)


def row_case(loss: str, name: str, concern: str, comment: str, x: np.ndarray, target: np.ndarray,
             reduction: str, rng: np.random.Generator, **fields) -> VectorCase:
    """A case of a loss with one result per row (the last axis of ``input``): the cotangent has the row shape for
    ``none`` and is a scalar otherwise; drawn unless given."""
    cotangent = fields.pop("cotangent", None)
    if cotangent is None:
        cotangent = cotangent_for(rng, np.shape(x)[:-1], reduction)
    return VectorCase(name, concern, comment, {"input": np.asarray(x, float), "target": np.asarray(target)},
                      reduction, cotangent=np.asarray(cotangent, float), **fields)


def empty_cases(make: Callable[..., VectorCase], loss: str, rng: np.random.Generator, x: np.ndarray, y: np.ndarray,
                name: str = "empty") -> Iterator[VectorCase]:
    """No elements under each reduction: ``none`` is empty, ``sum`` is 0, ``mean`` is NaN (PyTorch) or 0 (Keras,
    mmdetection 3.x: the acceptable alternative)."""
    for reduction in ("none", "sum", "mean"):
        mean = reduction == "mean"
        yield make(loss, f"{name}_{reduction}", "edge", f"no elements (input shape {np.shape(x)}): sum 0, mean NaN",
                   x, y, reduction, rng, flags=("Empty", "Reduction") + (("Convention",) if mean else ()),
                   alternatives=("empty-mean-is-zero",) if mean else ())
