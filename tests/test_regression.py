"""Regression losses: hand-worked values (each number's provenance in a comment), conventions at kinks,
numerics at extreme magnitudes, and algebraic properties."""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refloss
from refloss.testing.strategies import cases

REGRESSION = [n for n in refloss.registry.names() if refloss.registry.get(n).family == "regression"]
REGRESSION = [n for n in REGRESSION if n not in ("poisson_nll_loss", "gaussian_nll_loss")]  # (test_poisson.py)


class TestL1:
    def test_values(self):
        x, y = [1.0, -2.0, 0.5], [0.0, 0.0, 0.5]  # |d| = [1, 2, 0]
        np.testing.assert_array_equal(refloss.l1_loss(x, y, reduction="none"), [1.0, 2.0, 0.0])
        assert refloss.l1_loss(x, y, reduction="sum") == 3.0
        assert refloss.l1_loss(x, y) == 1.0  # mean: 3 / 3

    def test_gradient_is_sign_and_zero_at_zero_residual(self):
        gx, gy = refloss.l1_loss_vjp(1.0, [1.0, -2.0, 0.5], [0.0, 0.0, 0.5])  # mean: sign(d) / 3
        np.testing.assert_allclose(gx, [1 / 3, -1 / 3, 0.0], rtol=1e-15)
        np.testing.assert_allclose(gy, [-1 / 3, 1 / 3, 0.0], rtol=1e-15)

    def test_weighted_mean(self):
        # torch.nn.functional.l1_loss(weight=w) with mean: sum(w |d|) / sum(w) = (1*1 + 2*3) / 3
        assert refloss.l1_loss([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], weight=[1.0, 0.0, 2.0]) == pytest.approx(7 / 3)


class TestMSE:
    def test_values_and_gradient(self):
        x, y = [3.0, -1.0], [1.0, 1.0]  # d = [2, -2], d^2 = [4, 4]
        assert refloss.mse_loss(x, y) == 4.0  # mean: 8 / 2
        gx, gy = refloss.mse_loss_vjp(1.0, x, y)  # 2d / 2 = d
        np.testing.assert_array_equal(gx, [2.0, -2.0])
        np.testing.assert_array_equal(gy, [-2.0, 2.0])

    def test_huge_residual_overflows_like_float64_does(self):
        assert refloss.mse_loss([1e200], [0.0]) == np.inf  # (1e200)^2 = 1e400 > 1.8e308


class TestSmoothL1:
    def test_values_on_both_branches_and_at_beta(self):
        d = np.array([0.5, -3.0, 1.0])
        # beta = 1: 0.5^2 / 2 = 0.125; |-3| - 0.5 = 2.5; at |d| = beta the linear branch: 1 - 0.5 = 0.5
        np.testing.assert_array_equal(refloss.smooth_l1_loss(d, np.zeros(3), reduction="none"), [0.125, 2.5, 0.5])
        # beta = 2: 1^2 / (2 * 2) = 0.25; 4 - 2 / 2 = 3
        np.testing.assert_array_equal(refloss.smooth_l1_loss([1.0, 4.0], [0.0, 0.0], beta=2.0, reduction="none"),
                                      [0.25, 3.0])

    def test_gradient(self):
        gx, _ = refloss.smooth_l1_loss_vjp(np.ones(3), [0.5, -3.0, 1.0], np.zeros(3), reduction="none")
        np.testing.assert_array_equal(gx, [0.5, -1.0, 1.0])  # d / beta inside; sign(d) outside and at |d| = beta

    def test_tiny_beta_does_not_underflow(self):
        # 0.5 * d * d / beta underflows for beta = 1e-200, d = 5e-201; the exact value is 0.5 * 0.5 * 5e-201.
        assert refloss.smooth_l1_loss([5e-201], [0.0], beta=1e-200) == pytest.approx(1.25e-201, rel=1e-15)

    def test_beta_zero_is_l1_with_zero_gradient_at_zero(self):
        x, y = [0.0, 2.0, -1.0], [0.0, 0.0, 0.0]
        assert refloss.smooth_l1_loss(x, y, beta=0.0) == refloss.l1_loss(x, y)
        gx, gy = refloss.smooth_l1_loss_vjp(np.ones(3), x, y, beta=0.0, reduction="none")
        np.testing.assert_array_equal(gx, [0.0, 1.0, -1.0])  # PyTorch >= 2.1 (PR #97022): sign(0) = 0


class TestHuber:
    def test_values_and_gradient(self):
        # delta = 2: 0.5 * 1^2 = 0.5; 2 * (4 - 1) = 6
        np.testing.assert_array_equal(refloss.huber_loss([1.0, -4.0], [0.0, 0.0], delta=2.0, reduction="none"),
                                      [0.5, 6.0])
        gx, _ = refloss.huber_loss_vjp(np.ones(2), [1.0, -4.0], [0.0, 0.0], delta=2.0, reduction="none")
        np.testing.assert_array_equal(gx, [1.0, -2.0])  # clip(d, -2, 2)

    def test_continuous_at_delta(self):
        at = refloss.huber_loss([2.0], [0.0], delta=2.0)  # linear branch: 2 * (2 - 1) = 2; quadratic: 0.5 * 4 = 2
        below = refloss.huber_loss([np.nextafter(2.0, 0.0)], [0.0], delta=2.0)
        assert at == 2.0 and below == pytest.approx(2.0, rel=1e-15)


class TestLogCosh:
    def test_matches_math_log_cosh_where_that_is_accurate(self):
        d = np.array([-3.0, -1.0, 0.25, 1.0, 5.0])
        expected = [math.log(math.cosh(v)) for v in d]  # cosh does not overflow or round to 1 here
        np.testing.assert_allclose(refloss.log_cosh_loss(d, np.zeros(5), reduction="none"), expected, rtol=1e-15)

    @pytest.mark.parametrize("d", [1e-300, 1e-10, 1e-4, 0.5, 0.999, 1.0, 1.001, 20.0, 400.0, 1e5, 1e300])
    def test_relative_accuracy_against_mpmath(self, d):
        # 50-digit mpmath log(cosh(d)): the small-|d| form avoids cancellation (log cosh 1e-10 = 5e-21), the
        # large-|d| form avoids overflow (cosh 1e300 = inf in float64).
        with mpmath.workdps(50):
            expected = float(mpmath.log(mpmath.cosh(mpmath.mpf(d))))
        assert refloss.log_cosh_loss([d], [0.0], reduction="none")[0] == pytest.approx(expected, rel=4e-16)
        assert refloss.log_cosh_loss([-d], [0.0], reduction="none")[0] == pytest.approx(expected, rel=4e-16)

    def test_gradient_is_tanh_and_finite_at_1e300(self):
        gx, gy = refloss.log_cosh_loss_vjp(np.ones(3), [0.5, -1e300, 1e300], np.zeros(3), reduction="none")
        np.testing.assert_array_equal(gx, [math.tanh(0.5), -1.0, 1.0])
        np.testing.assert_array_equal(gy, -gx)


class TestBalancedL1:
    B = math.e ** 3 - 1  # b = e^(gamma / alpha) - 1 with the defaults alpha = 0.5, gamma = 1.5

    def test_outer_zone(self):
        # gamma |d| + gamma / b - alpha beta = 3 + 1.5 / (e^3 - 1) - 0.5
        assert refloss.balanced_l1_loss([2.0], [0.0]) == pytest.approx(3.0 + 1.5 / self.B - 0.5, rel=1e-15)

    def test_inner_zone_paper_formula(self):
        # Libra R-CNN eq. (9) at |x| = 0.5: alpha / b (b|x| + 1) ln(b|x| + 1) - alpha |x|
        b = self.B
        expected = 0.5 / b * (0.5 * b + 1) * math.log(0.5 * b + 1) - 0.25
        assert refloss.balanced_l1_loss([0.5], [0.0]) == pytest.approx(expected, rel=1e-14)

    def test_continuous_with_slope_gamma_at_the_boundary_for_beta_one(self):
        inner = np.nextafter(1.0, 0.0)
        values = refloss.balanced_l1_loss([inner, 1.0], [0.0, 0.0], reduction="none")
        assert values[0] == pytest.approx(values[1], rel=1e-14)
        slopes, _ = refloss.balanced_l1_loss_vjp(np.ones(2), [inner, 1.0], [0.0, 0.0], reduction="none")
        np.testing.assert_allclose(slopes, [1.5, 1.5], rtol=1e-14)  # gamma on both sides

    def test_gradient_jumps_for_beta_other_than_one_and_conventions_hold(self):
        beta, alpha, gamma = 0.5, 0.5, 1.5
        inner = np.nextafter(beta, 0.0)
        slopes, _ = refloss.balanced_l1_loss_vjp(np.ones(3), [inner, beta, 0.0], np.zeros(3), reduction="none",
                                                 beta=beta)
        # inner limit gamma + alpha (1 - beta) e^(-gamma / alpha) / beta (docstring); outer gamma; 0 at d = 0
        assert slopes[0] == pytest.approx(gamma + alpha * (1 - beta) * math.exp(-gamma / alpha) / beta, rel=1e-12)
        assert slopes[1] == gamma
        assert slopes[2] == 0.0

    def test_huge_b_does_not_overflow(self):
        # alpha = 1, gamma = 700: b = e^700 - 1 ~ 1e304, so b * u overflows for u = 5e4 unless u / beta comes first.
        # Expected values from the 60-digit mpmath oracle of the paper's formula.
        value = refloss.balanced_l1_loss([5e4], [0.0], alpha=1.0, gamma=700.0, beta=1e5)
        slope, _ = refloss.balanced_l1_loss_vjp(1.0, [5e4], [0.0], alpha=1.0, gamma=700.0, beta=1e5)
        with mpmath.workdps(60):
            b = mpmath.exp(700) - 1
            u, beta = mpmath.mpf(5e4), mpmath.mpf(1e5)
            exact = (b * u + 1) / b * mpmath.log(b * u / beta + 1) - u
            exact_slope = mpmath.log(b * u / beta + 1) + (1 - beta) / (b * u + beta)
        assert value == pytest.approx(float(exact), rel=1e-14)
        assert slope == pytest.approx(float(exact_slope), rel=1e-14)

    def test_beta_above_one_makes_the_loss_negative_near_zero(self):
        # The slope at 0+ is alpha (1/beta - 1) < 0 for beta > 1 (documented in the docstring).
        assert refloss.balanced_l1_loss([1e-3], [0.0], beta=2.0) < 0.0  # about -0.25e-3 + O(u^2)
        assert refloss.balanced_l1_loss([0.1], [0.0], beta=2.0) > 0.0  # the quadratic term wins further out


@pytest.mark.parametrize("name", REGRESSION)
def test_kink_gradients_equal_the_declared_convention(name):
    # At d = 0 every regression loss is flat or takes sign(0) = 0.
    spec = refloss.registry.get(name)
    gx, gy = spec.vjp(np.ones(2), [0.0, 1.5], [0.0, 1.5], reduction="none")
    np.testing.assert_array_equal(gx, [0.0, 0.0])
    np.testing.assert_array_equal(gy, [0.0, 0.0])


@pytest.mark.parametrize("name", REGRESSION)
def test_nan_and_inf_propagate(name):
    spec = refloss.registry.get(name)
    values = spec.forward([np.nan, np.inf, -np.inf], [0.0, 0.0, 0.0], reduction="none")
    assert np.isnan(values[0]) and values[1] == np.inf and values[2] == np.inf
    gx, _ = spec.vjp(np.ones(3), [np.nan, np.inf, -np.inf], [0.0, 0.0, 0.0], reduction="none")
    assert np.isnan(gx[0]) and gx[1] > 0 and gx[2] < 0
    assert np.isnan(spec.forward([np.nan, 1.0], [0.0, 0.0]))  # one NaN makes the mean NaN


@pytest.mark.parametrize("name", REGRESSION)
def test_empty_input_mean_is_nan_sum_is_zero(name):
    spec = refloss.registry.get(name)
    assert np.isnan(spec.forward([], []))
    assert spec.forward(np.zeros((0, 4)), np.zeros((0, 4)), reduction="sum") == 0.0
    assert spec.vjp(1.0, [], [])[0].shape == (0,)


@pytest.mark.parametrize("name", REGRESSION)
def test_inputs_are_never_modified(name):
    spec = refloss.registry.get(name)
    x, y = np.array([0.3, -2.0]), np.array([1.0, 0.0])
    x0, y0 = x.copy(), y.copy()
    spec.forward(x, y)
    spec.vjp(1.0, x, y)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("name", REGRESSION)
def test_integer_and_float32_inputs_are_computed_in_float64(name):
    spec = refloss.registry.get(name)
    out = spec.forward(np.array([1, 2], dtype=np.int32), np.array([0.5, 0.25], dtype=np.float32), reduction="none")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, spec.forward([1.0, 2.0], [0.5, 0.25], reduction="none"))


# ---- properties -------------------------------------------------------------------------------------------------

def _nonnegative_params(case):
    # balanced_l1_loss with beta > 1 dips below zero near d = 0 (documented); every other setting is >= 0.
    return case.params.get("beta", 1.0) <= 1.0 or "alpha" not in case.params


@pytest.mark.parametrize("name", REGRESSION)
@given(data=st.data())
def test_nonnegative_zero_at_equality_and_symmetric(name, data):
    spec = refloss.registry.get(name)
    case = data.draw(cases(name, reductions=("none",)))
    x, y = case.inputs
    params = case.params
    loss = spec.forward(x, y, reduction="none", **params)
    if _nonnegative_params(case):
        assert np.all(loss >= 0)
    np.testing.assert_array_equal(spec.forward(x, x, reduction="none", **params), np.zeros_like(x))
    np.testing.assert_array_equal(spec.forward(y, x, reduction="none", **params), loss)  # depends on |d| only


@pytest.mark.parametrize("name", REGRESSION)
@given(data=st.data())
def test_sum_is_the_sum_of_none_and_mean_is_sum_over_n(name, data):
    spec = refloss.registry.get(name)
    case = data.draw(cases(name, reductions=("none",)))
    params = {k: v for k, v in case.params.items() if k != "weight"}
    elementwise = spec.forward(*case.inputs, reduction="none", **params)
    total = spec.forward(*case.inputs, reduction="sum", **params)
    assert total == pytest.approx(np.sum(elementwise), rel=1e-12, abs=1e-300)
    if elementwise.size:
        assert spec.forward(*case.inputs, reduction="mean", **params) == pytest.approx(total / elementwise.size,
                                                                                       rel=1e-12, abs=1e-300)


@given(data=st.data(), delta=st.floats(1e-3, 1e3))
def test_huber_is_delta_times_smooth_l1(data, delta):
    case = data.draw(cases("huber_loss", reductions=("none",)))
    x, y = case.inputs
    huber = refloss.huber_loss(x, y, delta=delta, reduction="none")
    smooth = refloss.smooth_l1_loss(x, y, beta=delta, reduction="none")
    # atol: a subnormal result (the square of a difference of 1e-159) holds absolute, not relative, precision
    np.testing.assert_allclose(huber, delta * smooth, rtol=1e-13, atol=1e-300)
