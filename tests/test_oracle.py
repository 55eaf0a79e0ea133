"""The third gradient check: each VJP against the independent mpmath oracle's derivative (and each forward
against its value), on random cases away from kinks, for every loss the oracle covers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refloss
from refloss.conformance.oracle import ORACLES, evaluate_oracle as evaluate
from refloss.testing import relative_error
from refloss.testing.strategies import cases


def test_every_registered_function_has_an_oracle():
    assert set(ORACLES) == set(refloss.registry.names(kind=None))


def _as_float(tensor):
    return np.array([float(v) for v in tensor.exact]).reshape(tensor.shape)


@pytest.mark.parametrize("name", refloss.registry.names())
@settings(max_examples=25)
@given(data=st.data())
def test_forward_and_vjp_match_the_mpmath_oracle(name, data):
    spec = refloss.registry.get(name)
    case = data.draw(cases(name, avoid_kinks=True, max_side=3))
    inputs = dict(zip([i.name for i in spec.inputs], case.inputs))
    params = {p.name: p.default for p in spec.params if p.kind == "scalar"} | case.params
    differentiable = tuple(i.name for i in spec.inputs if i.differentiable)
    expected = evaluate(ORACLES[name], inputs, params, case.reduction, np.asarray(case.grad_output), (),
                        differentiable)
    value = spec.forward(*case.inputs, **case.kwargs())
    grads = spec.vjp(case.grad_output, *case.inputs, **case.kwargs())
    # The oracle is exact to ~50 digits; float64 evaluation is good to a few ulp of the largest entry.
    assert relative_error(value, _as_float(expected.value)) <= 1e-13
    for inp, grad in zip(spec.inputs, grads):
        if inp.differentiable:
            assert relative_error(grad, _as_float(expected.grads[inp.name])) <= 1e-13
        else:
            assert grad is None
