"""Registry-driven cases and the gradient checks, for refloss's own functions and for yours.

Three checks, each on one ``Case`` (inputs, parameters, reduction and an explicit ``grad_output``):

* ``assert_vjp_matches_autograd``: a VJP against reverse-mode AD (autograd) of a forward written with
  ``autograd.numpy`` (every refloss forward is);
* ``assert_vjp_matches_finite_differences``: a VJP against central differences of the scalar
  ``<grad_output, forward(inputs)>``, one element at a time; it needs nothing of the forward but its values;
* ``assert_matches_reference``: a forward's value and a VJP's gradients against refloss's own on the same case.

By default the first two check refloss's registered forward and VJP of the named loss. Pass ``forward=`` and
``vjp=`` (your functions, with refloss's signature: ``forward(*inputs, reduction=..., **params)`` and
``vjp(grad_output, *inputs, reduction=..., **params)`` returning one gradient per input, None for class indices
and labels) to check your implementation instead; the registered loss then only says which inputs are
differentiable and what a valid case is.

The error reported is ``max |actual - expected| / max(1, max |expected|)``: relative to the largest expected
entry when that exceeds 1, absolute below. The absolute floor is needed because the references round too: where
a gradient is nearly 0 through cancellation (balanced L1 near d = 0), autograd's form of it is off by ~1e-16
absolute, which relative to a 1e-271 true value would be an "error" of 1e255. NaN must appear at the same places
on both sides. A failure names the function, each value or gradient that differs, by how much and where, and the
case with its inputs.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from autograd import make_vjp

from refloss._registry import LossSpec, get

__all__ = [
    "AUTOGRAD_TOLERANCE",
    "FINITE_DIFFERENCE_TOLERANCE",
    "REFERENCE_TOLERANCE",
    "Case",
    "assert_matches_reference",
    "assert_vjp_matches_autograd",
    "assert_vjp_matches_finite_differences",
    "autograd_vjp",
    "differentiated_inputs",
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
# Another float64 implementation, with formulas of its own, agrees with refloss to ~1e-15 on cases away from
# overflow; 1e-10 leaves room for other summation orders and mildly ill-conditioned formulas while still catching
# any real mistake. A float32 implementation needs about 1e-5 (pass tolerance=).
REFERENCE_TOLERANCE = 1e-10
_STEP = np.cbrt(np.finfo(np.float64).eps)  # ~6e-6, the step that balances truncation and rounding error


@dataclass
class Case:
    """One evaluation of a loss: positional inputs, keyword parameters, a reduction and the VJP's cotangent."""

    inputs: tuple[np.ndarray, ...]
    params: dict[str, Any] = field(default_factory=dict)
    reduction: str = "mean"
    grad_output: np.ndarray = field(default_factory=lambda: np.float64(1.0))

    def kwargs(self) -> dict[str, Any]:
        """The call's keyword arguments: the parameters, and the reduction (functions other than losses have
        none: ``reduction`` None)."""
        return dict(self.params) if self.reduction is None else {"reduction": self.reduction, **self.params}

    def describe(self) -> str:
        shapes = ", ".join(str(np.shape(x)) for x in self.inputs)
        params = "".join(f", {k}={_short(v)}" for k, v in self.params.items())
        return f"shapes {shapes}, reduction={self.reduction}{params}"


def _short(value: Any) -> str:
    return f"array{np.shape(value)}" if isinstance(value, np.ndarray) else repr(value)


def _spec(spec: LossSpec | str) -> LossSpec:
    return get(spec) if isinstance(spec, str) else spec


def differentiated_inputs(spec: LossSpec | str, case: Case) -> list[int]:
    """The positions of the inputs whose gradient the ``assert_*`` checks compare at ``case``.

    The registry's differentiable inputs, plus an input of class indices given as probabilities where the
    registry says those are differentiable (``LossSpec.differentiable_names``: cross_entropy's float target).
    (``autograd_vjp`` and ``finite_difference_vjp`` differentiate the registry's differentiable inputs unless
    given ``wrt=``.)
    """
    spec = _spec(spec)
    names = spec.differentiable_names({inp.name: value for inp, value in zip(spec.inputs, case.inputs)})
    return [i for i, inp in enumerate(spec.inputs) if inp.name in names]


def _registry_differentiable(spec: LossSpec) -> list[int]:
    return [i for i, inp in enumerate(spec.inputs) if inp.differentiable]


def _name(function: Callable | None, default: str) -> str:
    """How a message names the function under test: refloss's, or the caller's by its qualified name."""
    return default if function is None else getattr(function, "__qualname__", repr(function))


def autograd_vjp(spec: LossSpec | str, case: Case, *, forward: Callable | None = None,
                 wrt: list[int] | None = None) -> tuple[np.ndarray | None, ...]:
    """The VJP at ``case`` computed by autograd's reverse mode of ``forward`` (default: the registered forward;
    yours must be written with ``autograd.numpy``), w.r.t. the inputs at positions ``wrt`` (default: the
    registry's differentiable inputs); ``None`` for the others."""
    spec = _spec(spec)
    forward = spec.forward if forward is None else forward
    wrt = _registry_differentiable(spec) if wrt is None else wrt

    def forward_of_differentiable(values: tuple) -> Any:
        inputs = list(case.inputs)
        for i, value in zip(wrt, values):
            inputs[i] = value
        return spec.output_vector(forward(*inputs, **case.kwargs()))  # (a detector's (total, terms) as a vector)

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Losses that ignore an input (mean of an empty array) make autograd warn; 0/0 in a mean is NaN by design.
        warnings.filterwarnings("ignore", "Output seems independent of input")
        vjp, _ = make_vjp(forward_of_differentiable)(tuple(np.asarray(case.inputs[i], dtype=np.float64)
                                                           for i in wrt))
        grads = dict(zip(wrt, vjp(np.asarray(case.grad_output, dtype=np.float64))))
    return tuple(np.asarray(grads[i], dtype=np.float64) if i in grads else None for i in range(len(spec.inputs)))


def finite_difference_vjp(spec: LossSpec | str, case: Case, *, forward: Callable | None = None,
                          wrt: list[int] | None = None) -> tuple[np.ndarray | None, ...]:
    """The VJP at ``case`` by central differences of ``<grad_output, forward(inputs)>``, element by element
    (default: the registered forward, with its stop-gradients held at their values at ``case``), w.r.t. the
    inputs at positions ``wrt`` (default: the registry's differentiable inputs); ``None`` for the others."""
    spec = _spec(spec)
    if forward is None:
        forward = spec.held_forward(*case.inputs, **case.kwargs()) if spec.held_forward else spec.forward
    grad_output = np.asarray(case.grad_output, dtype=np.float64)
    wrt = _registry_differentiable(spec) if wrt is None else wrt

    def projected(inputs: list[np.ndarray], i: int, index: tuple) -> float:
        try:
            output = spec.output_vector(forward(*inputs, **case.kwargs()))
            return float(np.sum(grad_output * np.asarray(output, dtype=np.float64)))
        except ValueError as error:  # a step left the domain: say so, rather than only what the forward says
            raise ValueError(f"a finite-difference step of {spec.inputs[i].name}{list(index)} to "
                             f"{float(inputs[i][index])!r} was refused ({error}); keep every entry of the case "
                             f"at least {_STEP:.1e}·max(1, |x|) inside its domain") from error

    result: list[np.ndarray | None] = []
    for i in range(len(spec.inputs)):
        if i not in wrt:
            result.append(None)
            continue
        x = np.asarray(case.inputs[i], dtype=np.float64)
        grad = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            step = _STEP * max(1.0, abs(x[index]))
            shifted = [np.array(v, copy=True) for v in case.inputs]  # keeps integer labels integer
            shifted[i] = shifted[i].astype(np.float64)
            shifted[i][index] = x[index] + step
            upper = projected(shifted, i, index)
            shifted[i][index] = x[index] - step
            lower = projected(shifted, i, index)
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


def _where_they_differ(actual: Any, expected: Any) -> str:
    """Where ``actual`` is furthest from ``expected``, in words: a shape, a lone NaN, or the worst entry."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return f"shape {actual.shape} instead of {expected.shape}"
    lone_nan = np.isnan(actual) != np.isnan(expected)
    with np.errstate(invalid="ignore"):
        distance = np.where(lone_nan, np.inf, np.abs(actual - expected))
        distance = np.where((actual == expected) | (np.isnan(actual) & np.isnan(expected)), 0.0, distance)
    distance = np.where(np.isnan(distance), np.inf, distance)  # inf - inf: infinities of opposite signs
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(distance)), actual.shape))
    place = f" at index {index}" if actual.ndim else ""
    return f"got {float(actual[index])!r}, expected {float(expected[index])!r}{place}"


def _case_text(spec: LossSpec, case: Case) -> str:
    """The case in a failure message: its summary, then every input and the cotangent, printed exactly so that
    they can be pasted back (arrays of more than 40 entries are summarised by NumPy)."""
    def text(value: Any) -> str:
        array = np.asarray(value)
        return repr(array.tolist()) if array.size <= 40 else np.array2string(array, separator=", ", threshold=40)

    lines = [f"case of {spec.name}: {case.describe()}"]
    lines += [f"    {inp.name} = {text(value)}" for inp, value in zip(spec.inputs, case.inputs)]
    lines += [f"    {name} = {text(value)}" for name, value in case.params.items() if isinstance(value, np.ndarray)]
    lines.append(f"    grad_output = {text(case.grad_output)}")
    return "\n".join(lines)


def _compare_gradients(spec: LossSpec, case: Case, vjp: Callable | None, reference: tuple,
                       tolerance: float) -> tuple[float, list[str]]:
    """The largest error of ``vjp``'s gradients against ``reference`` and a line per gradient beyond
    ``tolerance`` (or returned where None is due, or missing)."""
    label = _name(vjp, f"refloss.{spec.name}_vjp")
    grads = (spec.vjp if vjp is None else vjp)(spec.cotangent_of(case.grad_output), *case.inputs, **case.kwargs())
    if not isinstance(grads, (tuple, list)) or len(grads) != len(spec.inputs):
        count = len(grads) if isinstance(grads, (tuple, list)) else f"a {type(grads).__name__}, not a tuple of"
        raise AssertionError(f"{label} returned {count} gradients for the {len(spec.inputs)} inputs "
                             f"({', '.join(i.name for i in spec.inputs)}) of {spec.name}; "
                             "it must return one per input, None for class indices and labels")
    error, problems = 0.0, []
    for inp, got, want in zip(spec.inputs, grads, reference):
        if want is None or got is None:
            if (want is None) != (got is None):
                problems.append(f"gradient w.r.t. {inp.name}: " + (
                    f"got an array, expected None ({inp.name} gets no gradient here)" if want is None else
                    "got None, expected an array"))
                error = float("inf")
            continue
        difference = relative_error(got, want)
        error = max(error, difference)
        if not difference <= tolerance:
            problems.append(f"gradient w.r.t. {inp.name}: error {difference:.3g}; {_where_they_differ(got, want)}")
    return error, problems


def _fail(spec: LossSpec, case: Case, what: str, error: float, tolerance: float, problems: list[str]) -> None:
    raise AssertionError(
        f"{what} by {error:.3g} (> {tolerance:g}) for {case.describe()}\n"
        + "".join(f"  {problem}\n" for problem in problems)
        + _case_text(spec, case)
        + "\n(error = max |got - expected| / max(1, max |expected|))"
    )


def _assert_vjp_matches(spec: LossSpec, case: Case, vjp: Callable | None, reference: tuple, what: str,
                        tolerance: float) -> float:
    error, problems = _compare_gradients(spec, case, vjp, reference, tolerance)
    if problems:
        _fail(spec, case, f"{_name(vjp, f'{spec.name}_vjp')} differs from {what}", error, tolerance, problems)
    return error


def assert_vjp_matches_autograd(spec: LossSpec | str, case: Case, tolerance: float = AUTOGRAD_TOLERANCE, *,
                                forward: Callable | None = None, vjp: Callable | None = None) -> float:
    """Assert that a VJP equals autograd's reverse mode of a forward at ``case``; return the largest error.

    Args:
        spec: A registered loss name (or its record): it says which inputs are differentiable.
        case: Inputs, parameters, reduction and ``grad_output``, for example from :func:`sample_case`.
        tolerance: The largest error allowed (see the module docstring for how it is measured).
        forward: The forward autograd differentiates (default: refloss's). Yours must be written with
            ``autograd.numpy``; if it is not, use :func:`assert_vjp_matches_finite_differences`.
        vjp: The VJP under test (default: refloss's).

    Raises:
        AssertionError: naming each gradient beyond ``tolerance``, its error and its worst entry, and the case.
    """
    spec = _spec(spec)
    try:
        reference = autograd_vjp(spec, case, forward=forward, wrt=differentiated_inputs(spec, case))
    except (TypeError, ValueError, AttributeError) as error:
        if forward is None:
            raise
        raise TypeError(f"autograd could not differentiate {_name(forward, '')} ({error}); write it with "
                        "autograd.numpy, or check it with assert_vjp_matches_finite_differences") from error
    what = "autograd" if forward is None else f"autograd's VJP of {_name(forward, '')}"
    return _assert_vjp_matches(spec, case, vjp, reference, what, tolerance)


def assert_vjp_matches_finite_differences(spec: LossSpec | str, case: Case,
                                          tolerance: float = FINITE_DIFFERENCE_TOLERANCE, *,
                                          forward: Callable | None = None, vjp: Callable | None = None) -> float:
    """Assert that a VJP agrees with central differences of a forward at ``case``; return the largest error.

    Keep the case away from kinks (:func:`sample_case` does by default): a difference step across a kink
    measures neither side's slope.

    Args:
        spec: A registered loss name (or its record): it says which inputs are differentiable.
        case: Inputs, parameters, reduction and ``grad_output``.
        tolerance: The largest error allowed.
        forward: The forward whose differences are taken (default: refloss's); any function of NumPy arrays.
        vjp: The VJP under test (default: refloss's).

    Raises:
        AssertionError: naming each gradient beyond ``tolerance``, its error and its worst entry, and the case.
    """
    spec = _spec(spec)
    what = "finite differences" if forward is None else f"finite differences of {_name(forward, '')}"
    reference = finite_difference_vjp(spec, case, forward=forward, wrt=differentiated_inputs(spec, case))
    return _assert_vjp_matches(spec, case, vjp, reference, what, tolerance)


def assert_matches_reference(spec: LossSpec | str, case: Case, *, forward: Callable | None = None,
                             vjp: Callable | None = None, tolerance: float = REFERENCE_TOLERANCE) -> float:
    """Assert that your forward and VJP give refloss's value and gradients at ``case``; return the largest error.

    Args:
        spec: The registered loss to compare with (a name or its record).
        case: Inputs, parameters, reduction and ``grad_output``.
        forward: Your forward, called as ``forward(*case.inputs, reduction=..., **case.params)``.
        vjp: Your VJP, called as ``vjp(case.grad_output, *case.inputs, reduction=..., **case.params)``; it must
            return one gradient per input, None where refloss's gives None (class indices, labels).
        tolerance: The largest error allowed, for the value and for each gradient (1e-10 suits a float64
            implementation; use about 1e-5 for float32).

    Raises:
        TypeError: if neither ``forward`` nor ``vjp`` is given.
        AssertionError: naming the value and each gradient beyond ``tolerance``, the error and the worst entry,
            and the case.
    """
    if forward is None and vjp is None:
        raise TypeError("assert_matches_reference needs forward=, vjp= or both: the functions to compare with "
                        "refloss's")
    spec = _spec(spec)
    error, problems = 0.0, []
    if forward is not None:
        got = np.asarray(forward(*case.inputs, **case.kwargs()), dtype=np.float64)
        want = spec.forward(*case.inputs, **case.kwargs())
        error = relative_error(got, want)
        if not error <= tolerance:
            problems.append(f"value: error {error:.3g}; {_where_they_differ(got, want)}")
    if vjp is not None:
        reference = spec.vjp(case.grad_output, *case.inputs, **case.kwargs())
        gradient_error, gradient_problems = _compare_gradients(spec, case, vjp, reference, tolerance)
        error, problems = max(error, gradient_error), problems + gradient_problems
    if problems:
        functions = " and ".join(_name(f, "") for f in (forward, vjp) if f is not None)
        _fail(spec, case, f"{functions} differ{'s' if ' and ' not in functions else ''} from refloss.{spec.name}",
              error, tolerance, problems)
    return error


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
        elif symbol.isdigit():  # a fixed size: the 4 coordinates of a box
            shape.append(int(symbol))
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
    symbols = {s for inp in spec.inputs for s in inp.shape if s != "..." and not s.isdigit()}
    sizes: dict[str, Any] = {s: int(rng.integers(1, 5)) for s in sorted(symbols)}
    sizes["..."] = leading_shape
    first_shape = _resolve_shape(spec.inputs[0].shape, sizes)
    for name, value in list(params.items()):
        if isinstance(value, str) and value == "random":
            params[name] = rng.uniform(0.1, 2.0, size=tensor_param_shape(spec.param(name), first_shape))
    for _ in range(max_tries):
        if spec.draw_inputs is not None:  # inputs that constrain each other (ctc_loss's lengths)
            inputs = tuple(spec.draw_inputs(rng, leading_shape))
            first_shape = np.shape(inputs[0])
        else:
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
    if inp.kind == "box":
        return boxes_from(rng.uniform(inp.sample.low, inp.sample.high, size=shape))
    return rng.uniform(inp.sample.low, inp.sample.high, size=shape)


def boxes_from(values: np.ndarray) -> np.ndarray:
    """Valid xyxy boxes from any four values per box: each axis's two values sorted (x1 <= x2, y1 <= y2)."""
    pairs = np.sort(np.asarray(values, dtype=np.float64).reshape(*np.shape(values)[:-1], 2, 2), axis=-2)
    return pairs.reshape(np.shape(values))


def standard_cases(spec: LossSpec | str, seed: int = 0) -> list[Case]:
    """The deterministic cases ``refloss gradcheck`` runs for one loss, away from kinks.

    Every reduction on every standard shape (with the parameters at their defaults), then every combination of
    the parameter grids on a small batch under each reduction; an elementwise weight is tried absent and random.
    """
    spec = _spec(spec)
    if spec.kind == "detector":
        return _detector_cases(spec)
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


def _detector_cases(spec: LossSpec) -> list[Case]:
    """A detector loss's scenes: the valid conformance scenes with finite inputs and outputs (a mean over no
    positives is NaN), away from its kinks (hand-built scenes of every assignment decision, random scenes of every
    variant), each with its cotangent of the total and terms."""
    from refloss.conformance.cases import generate_cases

    cases = []
    for scene in generate_cases(spec.name):
        if scene.error is not None:
            continue
        inputs = tuple(scene.inputs[i.name] for i in spec.inputs)
        case = Case(inputs, dict(scene.params), None, scene.cotangent)
        finite = all(np.all(np.isfinite(x)) for x in inputs) and np.all(np.isfinite(
            spec.output_vector(spec.forward(*inputs, **case.params))))
        if finite and kink_distance(spec, case) > 1e-3:
            cases.append(case)
    return cases
