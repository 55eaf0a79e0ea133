"""Every registered VJP against autograd and central finite differences, on standard and Hypothesis cases."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refloss
from refloss.testing import (Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences,
                             autograd_vjp, finite_difference_vjp, relative_error, standard_cases)
from refloss.testing.strategies import cases

NAMES = refloss.registry.names()


@pytest.mark.parametrize("name", NAMES)
def test_standard_cases_match_autograd_and_finite_differences(name):
    for case in standard_cases(name):
        assert_vjp_matches_autograd(name, case)
        assert_vjp_matches_finite_differences(name, case)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_random_cases_match_autograd(name, data):
    # Kinks allowed where autograd's conventions (|x|' = 0 at 0, the strict-branch where()) equal ours; a loss
    # whose kink convention differs (hinge: 0 at the margin, autograd's maximum gives half) is kept away from it.
    spec = refloss.registry.get(name)
    differs = any(not kink.autograd_agrees for kink in spec.kinks)
    assert_vjp_matches_autograd(name, data.draw(cases(name, avoid_kinks=differs)))


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_random_cases_away_from_kinks_match_finite_differences(name, data):
    assert_vjp_matches_finite_differences(name, data.draw(cases(name, avoid_kinks=True, max_side=3)))


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_vjp_is_linear_in_grad_output(name, data):
    case = data.draw(cases(name))
    a, b = data.draw(st.floats(-3, 3)), data.draw(st.floats(-3, 3))
    other = np.random.default_rng(0).normal(size=np.shape(case.grad_output))
    spec = refloss.registry.get(name)
    combined = spec.vjp(a * case.grad_output + b * other, *case.inputs, **case.kwargs())
    first = spec.vjp(case.grad_output, *case.inputs, **case.kwargs())
    second = spec.vjp(other, *case.inputs, **case.kwargs())
    for c, f, s in zip(combined, first, second):
        if c is None:  # a constant input (labels): no gradient, whatever the cotangent
            assert f is None and s is None
            continue
        np.testing.assert_allclose(c, a * f + b * s, rtol=1e-12, atol=1e-12)


def test_the_checks_catch_a_wrong_gradient():
    # A VJP missing the factor 2 of the MSE must fail both checks: the checks can fail.
    spec = refloss.registry.get("mse_loss")
    wrong = type(spec)(**{**spec.__dict__, "vjp": lambda g, x, y, **kw: tuple(v / 2 for v in spec.vjp(g, x, y, **kw))})
    case = Case((np.array([1.0, 2.0]), np.array([0.0, 0.5])), {}, "sum", np.float64(1.0))
    with pytest.raises(AssertionError, match="autograd"):
        assert_vjp_matches_autograd(wrong, case)
    with pytest.raises(AssertionError, match="finite differences"):
        assert_vjp_matches_finite_differences(wrong, case)


def test_reference_gradients_of_a_hand_worked_case():
    # mse sum of d = [1, 1.5]: gradient 2d = [2, 3] for the input and [-2, -3] for the target.
    case = Case((np.array([1.0, 2.0]), np.array([0.0, 0.5])), {}, "sum", np.float64(1.0))
    for grads in (autograd_vjp("mse_loss", case), finite_difference_vjp("mse_loss", case)):
        np.testing.assert_allclose(grads[0], [2.0, 3.0], rtol=1e-8)
        np.testing.assert_allclose(grads[1], [-2.0, -3.0], rtol=1e-8)


def test_relative_error_definition():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0, 2.5], [1.0, 2.0]) == pytest.approx(0.25)
    assert relative_error([np.nan], [1.0]) == np.inf  # NaN must appear on both sides or neither
    assert relative_error([np.nan], [np.nan]) == 0.0
    assert relative_error([1.0], [1.0, 1.0]) == np.inf  # shape mismatch
    assert relative_error([1e-30], [0.0]) == 1e-30  # absolute below 1
    assert relative_error([200.0], [100.0]) == 1.0  # relative above 1
    assert relative_error([np.inf], [np.inf]) == 0.0
    assert relative_error([np.inf], [-np.inf]) == np.inf
