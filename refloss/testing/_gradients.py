"""Registry-driven cases and the two gradient checks: a VJP against autograd, and against finite differences.

Both checks compare the full VJP of every differentiable input with a reference computed from the forward alone,
for one ``Case`` (inputs, parameters, reduction and an explicit ``grad_output``):

* autograd: reverse-mode AD of the very same forward code (the forwards are written with ``autograd.numpy``);
* finite differences: central differences of the scalar ``<grad_output, forward(inputs)>``, one element at a time.

The error reported is ``max |vjp - reference| / max(1, max |reference|)``: relative to the largest gradient entry
when that exceeds 1, absolute below. The absolute floor is needed because the references round too: where a
gradient is nearly 0 through cancellation (balanced L1 near d = 0), autograd's form of it is off by ~1e-16
absolute, which relative to a 1e-271 true value would be an "error" of 1e255. NaN must appear at the same places
on both sides.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from autograd import make_vjp

from refloss._registry import LossSpec, get

__all__ = [
    "AUTOGRAD_TOLERANCE",
    "FINITE_DIFFERENCE_TOLERANCE",
    "Case",
    "assert_vjp_matches_autograd",
    "assert_vjp_matches_finite_differences",
    "autograd_vjp",
    "finite_difference_vjp",
    "kink_distance",
    "relative_error",
    "sample_case",
    "standard_cases",
]

# autograd evaluates the same float64 operations in a different order: agreement to ~1e-15 relative is expected;
# 1e-12 leaves room for long sums. Central differences with step h ~ 6e-6 * scale have truncation error
# O(h^2 f''') and rounding error O(eps / h) ~ 1e-11 relative; 1e-6 is far above both and far below any real
# mistake (a wrong factor, sign or branch gives errors of order 1).
AUTOGRAD_TOLERANCE = 1e-12
FINITE_DIFFERENCE_TOLERANCE = 1e-6
_STEP = np.cbrt(np.finfo(np.float64).eps)  # ~6e-6, the step that balances truncation and rounding error


@dataclass
class Case:
    """One evaluation of a loss: positional inputs, keyword parameters, a reduction and the VJP's cotangent."""

    inputs: tuple[np.ndarray, ...]
    params: dict[str, Any] = field(default_factory=dict)
    reduction: str = "mean"
    grad_output: np.ndarray = field(default_factory=lambda: np.float64(1.0))

    def kwargs(self) -> dict[str, Any]:
        return {"reduction": self.reduction, **self.params}

    def describe(self) -> str:
        shapes = ", ".join(str(np.shape(x)) for x in self.inputs)
        params = "".join(f", {k}={_short(v)}" for k, v in self.params.items())
        return f"shapes {shapes}, reduction={self.reduction}{params}"


def _short(value: Any) -> str:
    return f"array{np.shape(value)}" if isinstance(value, np.ndarray) else repr(value)


def _spec(spec: LossSpec | str) -> LossSpec:
    return get(spec) if isinstance(spec, str) else spec


def _differentiable(spec: LossSpec) -> list[int]:
    return [i for i, inp in enumerate(spec.inputs) if inp.differentiable]


def autograd_vjp(spec: LossSpec | str, case: Case) -> tuple[np.ndarray | None, ...]:
    """The VJP of ``spec.forward`` at ``case`` computed by autograd's reverse mode (``None`` for constants)."""
    spec = _spec(spec)
    wrt = _differentiable(spec)

    def forward_of_differentiable(values: tuple) -> Any:
        inputs = list(case.inputs)
        for i, value in zip(wrt, values):
            inputs[i] = value
        return spec.forward(*inputs, **case.kwargs())

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # Losses that ignore an input (mean of an empty array) make autograd warn; 0/0 in a mean is NaN by design.
        warnings.filterwarnings("ignore", "Output seems independent of input")
        vjp, _ = make_vjp(forward_of_differentiable)(tuple(case.inputs[i] for i in wrt))
        grads = dict(zip(wrt, vjp(np.asarray(case.grad_output, dtype=np.float64))))
    return tuple(np.asarray(grads[i], dtype=np.float64) if i in grads else None for i in range(len(spec.inputs)))


def finite_difference_vjp(spec: LossSpec | str, case: Case) -> tuple[np.ndarray | None, ...]:
    """The VJP at ``case`` by central differences of ``<grad_output, forward(inputs)>``, element by element."""
    spec = _spec(spec)
    grad_output = np.asarray(case.grad_output, dtype=np.float64)

    def projected(inputs: list[np.ndarray]) -> float:
        return float(np.sum(grad_output * spec.forward(*inputs, **case.kwargs())))

    result: list[np.ndarray | None] = []
    for i, spec_input in enumerate(spec.inputs):
        if not spec_input.differentiable:
            result.append(None)
            continue
        x = np.asarray(case.inputs[i], dtype=np.float64)
        grad = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            step = _STEP * max(1.0, abs(x[index]))
            shifted = [np.array(v, copy=True) for v in case.inputs]  # keeps integer labels integer
            shifted[i] = shifted[i].astype(np.float64)
            shifted[i][index] = x[index] + step
            upper = projected(shifted)
            shifted[i][index] = x[index] - step
            lower = projected(shifted)
            grad[index] = (upper - lower) / (2.0 * step)
        result.append(grad)
    return tuple(result)


def relative_error(actual: Any, expected: Any) -> float:
    """``max |actual - expected| / max(1, max |expected|)`` (inf on a shape mismatch or NaN at different places)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape or not np.array_equal(np.isnan(actual), np.isnan(expected)):
        return float("inf")
    known = ~np.isnan(expected)
    actual, expected = actual[known], expected[known]
    differ = actual != expected  # equal infinities do not differ
    if np.any(differ & (np.isinf(actual) | np.isinf(expected))):
        return float("inf")
    difference = np.max(np.abs(actual[differ] - expected[differ]), initial=0.0)
    scale = np.max(np.abs(expected[np.isfinite(expected)]), initial=1.0)
    return float(difference / scale)


def _assert_vjp_matches(spec: LossSpec, case: Case, reference: tuple, what: str, tolerance: float) -> float:
    """Compare the registered VJP with ``reference`` (one gradient per input); raise beyond ``tolerance``."""
    analytic = spec.vjp(case.grad_output, *case.inputs, **case.kwargs())
    if len(analytic) != len(spec.inputs):
        raise AssertionError(f"{spec.name}_vjp returned {len(analytic)} gradients for {len(spec.inputs)} inputs")
    error = 0.0
    for inp, got, want in zip(spec.inputs, analytic, reference):
        if not inp.differentiable:
            if got is not None:
                raise AssertionError(f"{spec.name}_vjp must return None for the constant input {inp.name}")
            continue
        error = max(error, relative_error(got, want))
    if not error <= tolerance:
        raise AssertionError(f"{spec.name}_vjp differs from {what} by {error:.3g} (> {tolerance:g}) for "
                             f"{case.describe()}")
    return error


def assert_vjp_matches_autograd(spec: LossSpec | str, case: Case, tolerance: float = AUTOGRAD_TOLERANCE) -> float:
    """Assert that the registered VJP equals autograd's VJP of the same forward; return the relative error."""
    spec = _spec(spec)
    return _assert_vjp_matches(spec, case, autograd_vjp(spec, case), "autograd", tolerance)


def assert_vjp_matches_finite_differences(spec: LossSpec | str, case: Case,
                                          tolerance: float = FINITE_DIFFERENCE_TOLERANCE) -> float:
    """Assert that the registered VJP agrees with central differences; return the relative error."""
    spec = _spec(spec)
    return _assert_vjp_matches(spec, case, finite_difference_vjp(spec, case), "finite differences", tolerance)


# ---- sampling -------------------------------------------------------------------------------------------------

# Shapes the "..." symbol takes in standard cases: scalar, vector, batch, leading dims, and empty ones.
STANDARD_SHAPES = ((), (5,), (3, 4), (2, 1, 3), (0,), (2, 0))


def kink_distance(spec: LossSpec, case: Case) -> float:
    """The smallest distance of any element of ``case`` from a declared kink of ``spec``, or from a finite bound
    of an input's domain (a difference step must not leave the domain: a target of 0 in [0, 1]); inf if none."""
    distances = [np.asarray(kink.distance(*case.inputs, **case.params), dtype=np.float64) for kink in spec.kinks]
    for inp, values in zip(spec.inputs, case.inputs):
        values = np.asarray(values, dtype=np.float64)
        for bound in (inp.domain.low, inp.domain.high):
            if np.isfinite(bound) and inp.differentiable:
                distances.append(np.abs(values - bound))
    return min((float(np.min(d, initial=np.inf)) for d in distances), default=float("inf"))


TENSOR_PARAM_KINDS = ("elementwise", "broadcast", "per_class")


def tensor_param_shape(param: Any, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape random tests give a tensor parameter: the input's for "elementwise", its last dimension for
    "broadcast", its class dimension (dim 1, or dim 0 of a 1-D input) for "per_class"."""
    if param.kind == "elementwise":
        return input_shape
    if param.kind == "per_class":
        return input_shape[1:2] if len(input_shape) > 1 else input_shape[:1]
    return input_shape[-1:]


def _resolve_shape(symbols: tuple[str, ...], sizes: dict[str, Any]) -> tuple[int, ...]:
    shape: list[int] = []
    for symbol in symbols:
        if symbol == "...":
            shape.extend(sizes["..."])
        else:
            shape.append(sizes[symbol])
    return tuple(shape)


def sample_case(spec: LossSpec | str, rng: np.random.Generator, *, leading_shape: tuple[int, ...] = (3,),
                reduction: str | None = None, params: dict[str, Any] | None = None, avoid_kinks: bool = True,
                margin: float = 1e-3, max_tries: int = 1000) -> Case:
    """Draw inputs for ``spec`` from its inputs' ``sample`` intervals.

    ``leading_shape`` is what ``"..."`` stands for; every other dimension symbol gets a size from 1 to 4. With
    ``avoid_kinks``, draws are repeated until every element is at least ``margin`` from every declared kink.
    Elementwise parameters (``weight``) given as the string ``"random"`` are drawn uniformly in [0.1, 2].
    """
    spec = _spec(spec)
    reduction = spec.default_reduction if reduction is None else reduction
    params = dict(params or {})
    symbols = {s for inp in spec.inputs for s in inp.shape if s != "..."}
    sizes: dict[str, Any] = {s: int(rng.integers(1, 5)) for s in sorted(symbols)}
    sizes["..."] = leading_shape
    first_shape = _resolve_shape(spec.inputs[0].shape, sizes)
    for name, value in list(params.items()):
        if isinstance(value, str) and value == "random":
            params[name] = rng.uniform(0.1, 2.0, size=tensor_param_shape(spec.param(name), first_shape))
    for _ in range(max_tries):
        inputs = tuple(_draw_input(rng, inp, _resolve_shape(inp.shape, sizes), sizes) for inp in spec.inputs)
        out_shape = spec.output_shape(first_shape, reduction)
        case = Case(inputs, params, reduction, rng.normal(size=out_shape) if out_shape else np.float64(rng.normal()))
        if not avoid_kinks or kink_distance(spec, case) >= margin:
            return case
    raise RuntimeError(f"could not draw a case for {spec.name} at least {margin} away from its kinks")


def _draw_input(rng: np.random.Generator, inp: Any, shape: tuple[int, ...], sizes: dict[str, Any]) -> np.ndarray:
    """Class indices, a choice among discrete values, or uniform values from the input's sample interval."""
    if inp.kind == "int":
        return rng.integers(0, sizes[inp.classes], size=shape)
    if inp.choices:
        return rng.choice(np.array(inp.choices, dtype=np.float64), size=shape)
    return rng.uniform(inp.sample.low, inp.sample.high, size=shape)


def standard_cases(spec: LossSpec | str, seed: int = 0) -> list[Case]:
    """The deterministic cases ``refloss gradcheck`` runs for one loss, away from kinks.

    Every reduction on every standard shape (with the parameters at their defaults), then every combination of
    the parameter grids on a small batch under each reduction; an elementwise weight is tried absent and random.
    """
    spec = _spec(spec)
    rng = np.random.default_rng(seed)
    cases = [sample_case(spec, rng, leading_shape=shape, reduction=reduction)
             for shape in STANDARD_SHAPES for reduction in spec.reductions]
    grids = [(p.name, (None, "random") if p.kind in TENSOR_PARAM_KINDS else p.grid) for p in spec.params]
    grids = [(name, values) for name, values in grids if values]
    for combination in itertools.product(*(values for _, values in grids)):
        params = {name: value for (name, _), value in zip(grids, combination) if value is not None}
        for reduction in spec.reductions:
            cases.append(sample_case(spec, rng, leading_shape=(4,), reduction=reduction, params=params))
    return cases
