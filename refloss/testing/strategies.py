"""Hypothesis strategies that draw valid cases for any registered loss from its declared domains.

>>> from hypothesis import given
>>> from refloss.testing.strategies import cases
>>> @given(cases("smooth_l1_loss", avoid_kinks=True))
... def test_my_smooth_l1(case): ...

Each strategy draws a shape for every dimension symbol of the loss's inputs, values from each input's ``sample``
interval, parameters from their grids or domains (all finite, no subnormals, whose reduced precision would make
two correct implementations differ by more than rounding, and through which autograd's own chain rule overflows:
an eps of 5e-324 makes 1 / eps^2 infinite; Hypothesis favours edge values such as 0 and the bounds), a reduction
and a ``grad_output`` of the output's shape. The golden vectors test subnormals on purpose, case by case.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refloss._registry import LossSpec, Param, get
from refloss.testing._gradients import (TENSOR_PARAM_KINDS, Case, _resolve_shape, boxes_from, kink_distance,
                                        tensor_param_shape)

__all__ = ["cases", "param_values"]

_BOUND = 1e3  # keeps drawn parameter values finite and moderate
# Cotangents of moderate size (or exactly 0): with a tiny cotangent such as 4e-201, autograd's own product
# g * x / |x| underflows to 0 and the comparison would blame the VJP for autograd's rounding.
_COTANGENTS = st.just(0.0) | st.floats(0.01, 10.0) | st.floats(-10.0, -0.01)


def param_values(param: Param, shape: tuple[int, ...]) -> st.SearchStrategy:
    """Valid values of one parameter: its grid and its domain for a scalar; None or an array for a weight."""
    domain = param.sample or param.domain
    if param.kind == "integer":
        return st.just(param.default)
    if param.kind == "boolean":
        return st.booleans()
    if param.kind == "choice":
        return st.sampled_from(param.choices)
    if param.kind in TENSOR_PARAM_KINDS:
        weights = hnp.arrays(np.float64, tensor_param_shape(param, shape),
                             elements=st.floats(max(domain.low, 0.0), 10.0, allow_subnormal=False))
        return st.none() | weights
    low = domain.low if math.isfinite(domain.low) else -_BOUND
    high = domain.high if math.isfinite(domain.high) else _BOUND
    inside = st.floats(low, high, exclude_min=not domain.low_closed, exclude_max=not domain.high_closed,
                       allow_subnormal=False)
    return st.sampled_from(param.grid) | inside if param.grid else inside


@st.composite
def _cases(draw: Any, spec: LossSpec, reductions: tuple[str, ...], avoid_kinks: bool, margin: float,
           max_dims: int, max_side: int) -> Case:
    symbols = sorted({s for inp in spec.inputs for s in inp.shape if s != "..." and not s.isdigit()})
    sizes: dict[str, Any] = {s: draw(st.integers(1, max_side)) for s in symbols}
    sizes["..."] = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    if spec.draw_inputs is not None:  # inputs that constrain each other (ctc_loss's lengths): the loss draws them
        seed = draw(st.integers(0, 2 ** 32 - 1))
        inputs = tuple(spec.draw_inputs(np.random.default_rng(seed), sizes["..."]))
    else:
        inputs = tuple(
            draw(hnp.arrays(np.int64, _resolve_shape(inp.shape, sizes),
                            elements=st.integers(0, sizes[inp.classes] - 1)))
            if inp.kind == "int" else
            draw(hnp.arrays(np.float64, _resolve_shape(inp.shape, sizes), elements=st.sampled_from(inp.choices)))
            if inp.choices else
            draw(hnp.arrays(np.float64, _resolve_shape(inp.shape, sizes),
                            elements=st.floats(inp.sample.low, inp.sample.high, allow_subnormal=False)))
            for inp in spec.inputs
        )
        # boxes: any four values per box, each axis's pair sorted into x1 <= x2, y1 <= y2
        inputs = tuple(boxes_from(values) if inp.kind == "box" else values
                       for inp, values in zip(spec.inputs, inputs))
    first_shape = inputs[0].shape
    params = {p.name: draw(param_values(p, first_shape)) for p in spec.params}
    params = {name: value for name, value in params.items() if value is not None}
    reduction = draw(st.sampled_from(reductions))
    grad_output = draw(hnp.arrays(np.float64, spec.output_shape(first_shape, reduction), elements=_COTANGENTS))
    case = Case(inputs, params, reduction, grad_output)
    if avoid_kinks:
        assume(kink_distance(spec, case) >= margin)
    return case


def cases(spec: LossSpec | str, *, reductions: tuple[str, ...] | None = None, avoid_kinks: bool = False,
          margin: float = 1e-3, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy[Case]:
    """A strategy of valid :class:`~refloss.testing.Case` values for ``spec``.

    With ``avoid_kinks`` only cases whose elements all lie at least ``margin`` from every declared kink are
    kept, as finite-difference checks need.
    """
    spec = get(spec) if isinstance(spec, str) else spec
    return _cases(spec, tuple(reductions or spec.reductions), avoid_kinks, margin, max_dims, max_side)
