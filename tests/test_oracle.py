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


# A coordinate difference far below the others' size, where |d|^p (p = 1.5) is not smooth: the oracle's central
# difference must step far below it, and its standard algorithm must hold 0.5 + 2.5e-89 - 0.5 exactly. By hand,
# with eps = 0.5 and a first input (2.5e-89, 0):
#   pairwise_distance, x2 = (0.5, 0): d = (2.5e-89, 0.5), ||d||_1.5 = 0.5 (to 1e-67), and
#     d||d||/dx1[0] = sign(d0) |d0|^0.5 ||d||^-0.5 = sqrt(2.5e-89 / 0.5) = sqrt(5e-89) (7.07e-45);
#   triplet_margin_loss, positive (0.5, 0), negative (0.5, -4), margin 5: d(a, p) = 0.5 as above,
#     d(a, n) = ||(2.5e-89, 4.5)|| = 4.5, z = 5 + 0.5 - 4.5 = 1 > 0, so dz/da[0] = sqrt(2.5e-89) (0.5^-0.5 - 4.5^-0.5)
#     = sqrt(2.5e-89) sqrt(2) (1 - 1/3) = sqrt(5e-89) 2/3 (4.71e-45).
@pytest.mark.parametrize("name, inputs, params, slope", [
    ("pairwise_distance", {"x1": [[2.5e-89, 0.0]], "x2": [[0.5, 0.0]]}, {"p": 1.5, "eps": 0.5}, np.sqrt(5e-89)),
    ("triplet_margin_loss", {"anchor": [[2.5e-89, 0.0]], "positive": [[0.5, 0.0]], "negative": [[0.5, -4.0]]},
     {"margin": 5.0, "p": 1.5, "eps": 0.5, "swap": False}, np.sqrt(5e-89) * 2 / 3),
])
def test_the_oracle_differentiates_a_norm_beside_a_tiny_coordinate_difference(name, inputs, params, slope):
    spec = refloss.registry.get(name)
    params = {p.name: p.default for p in spec.params if p.kind == "scalar"} | params
    arrays = {key: np.array(value) for key, value in inputs.items()}
    first = next(iter(arrays))
    expected = evaluate(ORACLES[name], arrays, params, "none", np.ones(1), (), (first,))
    assert float(expected.grads[first].exact[0]) == pytest.approx(slope, rel=1e-12, abs=0)
