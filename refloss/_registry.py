"""The loss registry: one record per loss, read by tests, the CLI, the gradient checker and the docs checks.

Each loss module defines its forward and its VJP side by side and registers them here once, together with the
metadata that every consumer needs (inputs and their domains, parameters and their domains, kinks and the
subgradient chosen there, references, framework equivalents). Nothing else in refloss keeps a list of losses.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

import autograd.numpy as anp
import numpy as np

__all__ = [
    "Equivalent",
    "Input",
    "Interval",
    "KINDS",
    "Kink",
    "LossSpec",
    "Param",
    "Reference",
    "REGISTRY",
    "get",
    "names",
    "register",
]

REDUCTIONS = ("none", "mean", "sum")
# What a registered function is: a loss (reduced, differentiable), box geometry (areas, conversions, pairwise
# IoU matrices), a box coder (encode/decode), a selection (NMS: integer output, no gradient), or a detector's
# training loss (returns its total and a dictionary of its terms; its VJP is w.r.t. the raw head output).
KINDS = ("loss", "geometry", "coder", "selection", "detector")


@dataclass(frozen=True)
class Interval:
    """A closed, open or half-open interval of the real line, used as the domain of an input or a parameter."""

    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = False
    high_closed: bool = False

    def __contains__(self, value: float) -> bool:
        if math.isnan(value):
            return False
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below

    def __str__(self) -> str:
        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x)).removesuffix(".0") if float(x).is_integer() else repr(float(x))


REALS = Interval()


@dataclass(frozen=True)
class Input:
    """A positional (array) input of a loss.

    ``shape`` is a tuple of dimension symbols shared between the inputs of one loss: ``"..."`` stands for any
    number of dimensions of any size (elementwise losses), a name such as ``"N"`` or ``"C"`` for one dimension.
    ``domain`` is where the values may lie; ``sample`` is the interval the random samplers draw from (finite,
    inside ``domain``).
    """

    name: str
    description: str
    shape: tuple[str, ...] = ("...",)
    domain: Interval = REALS
    sample: Interval = Interval(-3.0, 3.0, True, True)
    differentiable: bool = True
    kind: str = "real"  # "real"; "int" for class indices in [0, size of the dimension named by classes);
    # "box" for boxes (..., 4) in xyxy, drawn valid (x2 >= x1, y2 >= y1) with corners in ``sample``
    classes: str | None = None
    choices: tuple[float, ...] = ()  # discrete values (labels -1/+1): samplers draw among them
    differentiable_as_probabilities: bool = False  # an "int" input that may instead hold probabilities, which
    # are differentiable (cross_entropy's target)


@dataclass(frozen=True)
class Param:
    """A keyword parameter of a loss.

    ``kind`` is ``"scalar"`` for a number, ``"integer"`` for an integer setting (``ignore_index``),
    ``"elementwise"`` for an optional array with the shape of the first input (PyTorch's ``weight=`` of l1_loss),
    ``"broadcast"`` for an optional array that broadcasts to the first input (``pos_weight``, sampled with the
    shape of the input's last dimension), or ``"per_class"`` for an optional array of one entry per class (the
    ``weight`` of cross_entropy; the class axis is dim 1, or dim 0 of a 1-D input), ``"boolean"`` for a
    flag (``log_input``, ``swap``: True or False, nothing else), ``"choice"`` for one of the
    strings in ``choices`` (a box format), or ``"tuple"`` for a fixed-length tuple of numbers checked by its
    function (a coder's weights). ``grid`` lists the values the
    gradient checker and the conformance cases use;
    ``sample``, if given, is the interval random tests draw from (for parameters whose valid combinations are
    narrower than their separate domains).
    """

    name: str
    default: Any
    domain: Interval
    description: str
    kind: str = "scalar"
    grid: tuple = ()
    sample: Interval | None = None  # where random tests draw values from, if narrower than the domain
    optional: bool = False  # None is a valid setting (the default of alpha_gate: "no gate")
    required: bool = False  # no default: the caller must give it (NMS's iou_threshold, box_convert's formats)
    choices: tuple[str, ...] = ()  # the valid strings of a "choice" parameter (box formats)

    def check(self, value: Any) -> Any:
        """Return ``value`` as a float if it is a valid scalar setting; raise a message naming the parameter.

        Accepted: Python and NumPy real numbers and 0-d NumPy arrays of integers or floats (``np.array(0.5)``,
        what reductions such as ``x.max()`` return). Refused: booleans, complex numbers, strings, arrays with
        dimensions, and values outside the domain.
        """
        if value is None and self.optional:
            return None
        if self.kind == "boolean":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise TypeError(f"{self.name} must be True or False, got {value!r} of type {type(value).__name__}")
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise ValueError(f"{self.name} must be one of {', '.join(map(repr, self.choices))}, got {value!r}")
        if self.kind != "scalar":
            raise TypeError(f"Param.check is for scalar and choice parameters; {self.name!r} is {self.kind}")
        number = _real_scalar(value)
        if number is None:
            raise TypeError(f"{self.name} must be a real number in {self.domain}, got {value!r} of type "
                            f"{type(value).__name__}{_array_detail(value)}")
        try:
            number = float(number)
        except OverflowError:  # a Python integer beyond float64
            raise ValueError(f"{self.name} must be in {self.domain}, got an integer too large for float64") from None
        if number not in self.domain:
            raise ValueError(f"{self.name} must be in {self.domain}, got {number!r}")
        return number


def _real_scalar(value: Any) -> Any:
    """``value`` as a real number if it is one (a 0-d integer or float array gives its element), else None."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    return value


def _array_detail(value: Any) -> str:
    """Why an array was refused: its shape or its dtype."""
    if not isinstance(value, np.ndarray):
        return ""
    if value.ndim:
        return f" with shape {value.shape} (a scalar parameter takes one number)"
    return f" with dtype {value.dtype} (integer or float expected)"


@dataclass(frozen=True)
class Kink:
    """A place where the loss is not differentiable (or its derivative is not smooth), and what refloss returns.

    ``distance(*inputs, **params)`` returns, elementwise, how far the inputs are from the kink; samplers use it to
    keep finite-difference checks away from it.
    """

    where: str
    convention: str
    distance: Callable[..., Any]
    order: int = 1  # 1: the first derivative jumps here; 2: only the second derivative jumps
    autograd_agrees: bool = True  # whether autograd's derivative of the forward gives the same value here


@dataclass(frozen=True)
class Reference:
    """A paper or implementation the loss follows."""

    citation: str
    url: str


@dataclass(frozen=True)
class Equivalent:
    """The same loss in another framework, with any difference from refloss spelled out."""

    framework: str
    call: str
    note: str = ""


@dataclass(frozen=True)
class LossSpec:
    """Everything refloss knows about one registered function: a loss, or (``kind``) box geometry, a coder or a
    selection. A function with no gradient (NMS, the pairwise IoU matrices used for matching) has ``vjp`` None,
    says why in its docstring, and nothing pretends otherwise. Functions
    other than losses take no ``reduction`` (``reductions`` is empty)."""

    name: str
    family: str
    forward: Callable[..., Any]
    vjp: Callable[..., tuple] | None
    inputs: tuple[Input, ...]
    params: tuple[Param, ...]
    smoothness: str
    references: tuple[Reference, ...]
    kinks: tuple[Kink, ...] = ()
    stop_gradients: tuple[str, ...] = ()
    # For a loss with stop-gradients: held_forward(*inputs, **kwargs) returns the forward with those quantities
    # held at their values at these inputs. Finite differences differentiate it; the plain forward would show them
    # the gradient through what is stopped.
    held_forward: Callable[..., Callable[..., Any]] | None = None
    equivalents: tuple[Equivalent, ...] = ()
    reductions: tuple[str, ...] = REDUCTIONS
    default_reduction: str = "mean"
    per_sample: bool = False  # the unreduced loss drops the class axis (dim 1; dim 0 of a 1-D input)
    derivation: str = field(default="")
    kind: str = "loss"
    # A detector loss returns (total, {term: value}); ``terms`` names its terms in order. Its conformance output is
    # the vector (total, *terms), and its VJP takes the cotangent of the total or a mapping of name to cotangent.
    terms: tuple[str, ...] = ()
    # value_and_vjp(grad_output, *inputs, **params) -> (forward's result, vjp's result), computed together so that
    # they share their intermediates; None where the loss has no fused evaluation (refloss.value_and_vjp then calls
    # the forward and the VJP one after the other).
    value_and_vjp: Callable[..., tuple] | None = None
    # The unreduced output's shape for a first input of a given shape, where it is neither that shape nor that shape
    # without its class axis (ctc_loss: (N,) for log_probs (T, N, C)); None: the rules of output_shape.
    unreduced_shape: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None
    # draw_inputs(rng, leading_shape) -> valid positional inputs, for a loss whose inputs constrain each other
    # beyond what the Input declarations say (ctc_loss: lengths that fit the sequences, targets without the blank);
    # the random samplers then call it instead of drawing each input from its declaration.
    draw_inputs: Callable[..., tuple] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind != "loss" and self.reductions == REDUCTIONS:
            object.__setattr__(self, "reductions", ())
            object.__setattr__(self, "default_reduction", None)
        if bool(self.stop_gradients) != (self.held_forward is not None):
            raise ValueError(f"{self.name}: a loss with stop-gradients needs held_forward, and only such a loss")
        if not self.derivation:
            object.__setattr__(self, "derivation", f"docs/derivations/{self.name}.md")
        if bool(self.terms) != (self.kind == "detector"):
            raise ValueError(f"{self.name}: a detector loss names its terms, and only a detector loss")

    @property
    def summary(self) -> str:
        """The first line of the forward's docstring."""
        return (self.forward.__doc__ or "").strip().splitlines()[0]

    def output_shape(self, input_shape: tuple[int, ...], reduction: str) -> tuple[int, ...]:
        """The shape of the loss's output for a first input of ``input_shape``."""
        if self.terms:  # the total and each term
            return (len(self.terms) + 1,)
        if reduction != "none":
            return ()
        if self.unreduced_shape is not None:
            return tuple(self.unreduced_shape(tuple(input_shape)))
        if self.inputs[0].kind == "box":  # one loss per pair of boxes
            return input_shape[:-1]
        if self.per_sample:
            class_axis = 1 if len(input_shape) > 1 else 0
            return input_shape[:class_axis] + input_shape[class_axis + 1:]
        return input_shape

    def differentiable_names(self, inputs: Mapping[str, Any]) -> tuple[str, ...]:
        """The inputs that have gradients in a call with these ``inputs`` (name -> array): those declared
        differentiable, and an integer-kind input given as probabilities where that is declared differentiable
        (cross_entropy's target)."""
        return tuple(i.name for i in self.inputs if i.differentiable or (
            i.differentiable_as_probabilities and np.asarray(inputs[i.name]).dtype.kind == "f"))

    def output_vector(self, value: Any) -> Any:
        """The output as one array: a detector loss's ``(total, terms)`` as the vector (total, *terms) in the
        declared order; any other function's output as it is."""
        if not self.terms:
            return value
        total, terms = value
        return anp.stack([total] + [terms[name] for name in self.terms]) * 1.0  # (autograd traces it; float64)

    def cotangent_of(self, grad_output: Any) -> Any:
        """The VJP's ``grad_output`` for a conformance cotangent: a detector loss's vector (total, *terms) as the
        mapping of names to cotangents its VJP takes; any other function's as it is."""
        if not self.terms:
            return grad_output
        return dict(zip(("total",) + self.terms, np.asarray(grad_output, dtype=np.float64).tolist()))

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


_REGISTRY: dict[str, LossSpec] = {}
REGISTRY: Mapping[str, LossSpec] = MappingProxyType(_REGISTRY)


def register(spec: LossSpec) -> LossSpec:
    """Add ``spec`` to the registry; a name can be registered only once."""
    if spec.name in _REGISTRY:
        raise ValueError(f"loss {spec.name!r} is already registered")
    if spec.forward.__name__ != spec.name or (spec.vjp is not None and spec.vjp.__name__ != spec.name + "_vjp"):
        raise ValueError(f"loss {spec.name!r}: forward and vjp must be named {spec.name} and {spec.name}_vjp")
    if spec.vjp is None and spec.kind == "loss":
        raise ValueError(f"loss {spec.name!r} must have a vjp (only geometry and selections may have none)")
    _REGISTRY[spec.name] = spec
    return spec


def names(kind: str | None = "loss") -> list[str]:
    """Registered names of one ``kind`` (losses by default; None for every kind), in registration order."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} or None, got {kind!r}")
    return [name for name, spec in _REGISTRY.items() if kind is None or spec.kind == kind]


def get(name: str) -> LossSpec:
    """The record of the loss called ``name``; an unknown name raises ``KeyError`` listing the closest names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(unknown_name_message(name)) from None


def unknown_name_message(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; registered losses: {', '.join(_REGISTRY)}"
    return f"unknown loss {name!r}{hint}"
