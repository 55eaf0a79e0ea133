"""Keras's Poisson, MAPE and MSLE, Keras's categorical hinge and optax's Crammer-Singer hinge: hand-worked values
(each number's provenance in a comment), the conventions at kinks, bad input, and direct comparisons with Keras 3 (on
JAX) and optax in float64 and float32 (skipped when they are not installed)."""

import math
import os

import numpy as np
import pytest

import refloss

EPS = 1e-7
EPS32 = float(np.float32(1e-7))  # 1.0000000116860974e-07: Keras's epsilon formed in float32


# ---- poisson_loss ---------------------------------------------------------------------------------------------

class TestPoisson:
    def test_values(self):
        # x - y log(x + eps) with eps = 0: 2 - 2 log 2; 0.5 - 0 = 0.5; 1 - 3 log 1 = 1
        out = refloss.poisson_loss([2.0, 0.5, 1.0], [2.0, 0.0, 3.0], eps=0.0, reduction="none")
        np.testing.assert_allclose(out, [2 - 2 * math.log(2), 0.5, 1.0], rtol=1e-15)
        # default eps = 1e-7 at x = 0: -y log(1e-7) = 16.118095650958319 y
        assert refloss.poisson_loss([0.0], [2.0], reduction="sum") == pytest.approx(-2 * math.log(1e-7), rel=1e-15)

    def test_gradients(self):
        # d/dx = 1 - y / (x + eps), d/dy = -log(x + eps); eps = 0, x = (2, 0.5), y = (2, 1), mean over 2
        gx, gy = refloss.poisson_loss_vjp(1.0, [2.0, 0.5], [2.0, 1.0], eps=0.0)
        np.testing.assert_allclose(gx, [0.0, (1 - 2.0) / 2], atol=1e-16)
        np.testing.assert_allclose(gy, [-math.log(2) / 2, math.log(2) / 2], rtol=1e-15)

    def test_zero_rate_and_the_limits_of_the_formula(self):
        # eps = 0 and x = 0: -y log 0 = +inf for y > 0, 0 log 0 = NaN for y = 0 (the formula as Keras writes it)
        out = refloss.poisson_loss([0.0, 0.0], [2.0, 0.0], eps=0.0, reduction="none")
        assert out[0] == np.inf and np.isnan(out[1])
        gx, gy = refloss.poisson_loss_vjp(np.ones(2), [0.0, 0.0], [2.0, 0.0], eps=0.0, reduction="none")
        assert gx[0] == -np.inf and np.isnan(gx[1]) and np.all(gy == np.inf)

    def test_a_nan_count_leaves_the_count_slope_finite(self):
        # d/dy = -log(x + eps) does not involve y: finite (as JAX and autograd give) while the rest is NaN
        gx, gy = refloss.poisson_loss_vjp(np.ones(1), [1.0], [np.nan], eps=0.0, reduction="none")
        assert np.isnan(gx[0]) and gy[0] == 0.0


# ---- mean_absolute_percentage_error -----------------------------------------------------------------------------

class TestMAPE:
    def test_values(self):
        # 100 |y - x| / |y|: 100 * 0.5 / 2 = 25; 100 * 7 / 4 = 175; |y| < eps divides by eps: 100 * 1 / 1e-7 = 1e9
        out = refloss.mean_absolute_percentage_error([1.5, 3.0, 1.0], [2.0, -4.0, 0.0], reduction="none")
        np.testing.assert_allclose(out, [25.0, 175.0, 1e9], rtol=1e-15)

    def test_gradients_beyond_the_floor(self):
        # x = 1.5, y = 2 (s = +1): d/dx = -100 / 2 = -50, d/dy = 100 x / y^2 = 37.5
        # x = 3, y = -4 (s = -1): d/dx = 100 / 4 = 25, d/dy = 100 * (-1) * 3 / (-4 * 4) = 18.75
        gx, gy = refloss.mean_absolute_percentage_error_vjp(np.ones(2), [1.5, 3.0], [2.0, -4.0], reduction="none")
        np.testing.assert_allclose(gx, [-50.0, 25.0], rtol=1e-15)
        np.testing.assert_allclose(gy, [37.5, 18.75], rtol=1e-15)

    def test_kinks(self):
        # x = y: both slopes 0 (sign(0) = 0). |y| = eps: d/dy = 100 s (1 + x/y) / (2 eps), half of the two sides
        # 100 s x / y^2 and 100 s / eps: at x = 0.25, y = 1e-7, s = -1: -(1 + 2.5e6) / 2e-9 = -1.2500005e15.
        gx, gy = refloss.mean_absolute_percentage_error_vjp(np.ones(2), [0.5, 0.25], [0.5, EPS], reduction="none")
        assert gx[0] == 0.0 and gy[0] == 0.0
        assert gy[1] == pytest.approx(-100 * (1 + 0.25 / EPS) / (2 * EPS), rel=1e-15)
        right = -100 * 0.25 / EPS ** 2  # the slope just above the floor: 100 s x / (y |y|)
        left = -100 / EPS  # just below it: 100 s / eps
        assert gy[1] == pytest.approx((left + right) / 2, rel=1e-12)

    def test_near_equal_inputs_keep_the_target_slope_accurate(self):
        # y = 1/3, x = 0.33333333333: d/dy = 100 x / y^2 exactly as written (no 1 - (y - x)/y cancellation)
        x, y = 0.33333333333, 1 / 3
        _, gy = refloss.mean_absolute_percentage_error_vjp(np.ones(1), [x], [y], reduction="none")
        assert gy[0] == pytest.approx(100 * x / y ** 2, rel=4e-16)


# ---- mean_squared_logarithmic_error -----------------------------------------------------------------------------

class TestMSLE:
    def test_values(self):
        # (log 4 - log 2)^2 = log(2)^2; a negative value counts as eps: (log1p(1e-7) - log 2)^2
        out = refloss.mean_squared_logarithmic_error([3.0, -5.0], [1.0, 1.0], reduction="none")
        np.testing.assert_allclose(out, [math.log(2) ** 2, (math.log1p(EPS) - math.log(2)) ** 2], rtol=1e-15)

    def test_gradients_and_the_floor(self):
        # x = 3, y = 1: d = log 2, d/dx = 2 log 2 / 4, d/dy = -2 log 2 / 2; below the floor no slope; at it half
        gx, gy = refloss.mean_squared_logarithmic_error_vjp(np.ones(3), [3.0, -1.0, EPS], [1.0, 1.0, 1.0],
                                                            reduction="none")
        d_floor = math.log1p(EPS) - math.log(2)
        np.testing.assert_allclose(gx, [math.log(2) / 2, 0.0, 0.5 * 2 * d_floor / (1 + EPS)], rtol=1e-15)
        np.testing.assert_allclose(gy, [-math.log(2), -2 * d_floor / 2, -2 * d_floor / 2], rtol=1e-15)

    def test_small_values_use_log1p(self):
        # log1p(1e-6) = 9.999995000003333e-07 (series t - t^2/2 + t^3/3); log(1 + 1e-6) is 7.7e-11 relative off
        loss = refloss.mean_squared_logarithmic_error([1e-6], [0.0], reduction="sum")
        exact = (9.999995000003333e-07 - 9.999999500000033e-08) ** 2  # log1p(1e-6) - log1p(1e-7)
        assert loss == pytest.approx(exact, rel=1e-15)


# ---- categorical_hinge_loss -------------------------------------------------------------------------------------

class TestCategoricalHinge:
    def test_values(self):
        # row 1: p = 1, n = max(0.5, 2, 0) = 2: max(0, 1 + 2 - 1) = 2; row 2: n = max(-1, -2, 0) = 0 (the target's
        # own 0 enters Keras's max): 1 + 0 - 0.5 = 0.5; row 3: soft target (0.25, 0, 0.75):
        # p = 0.25 * 1 + 0.75 * 2 = 1.75, n = max(0.75 * 1, 1 * 3, 0.25 * 2) = 3: 1 + 3 - 1.75 = 2.25
        x = [[0.5, 2.0, 1.0], [-1.0, -2.0, 0.5], [1.0, 3.0, 2.0]]
        t = [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.25, 0.0, 0.75]]
        np.testing.assert_array_equal(refloss.categorical_hinge_loss(x, t, reduction="none"), [2.0, 0.5, 2.25])
        assert refloss.categorical_hinge_loss(x, t) == pytest.approx(4.75 / 3, rel=1e-15)

    def test_gradients_with_ties_and_the_margin(self):
        # row 1: unique max at class 1: d/dx = (0, 1, -1), d/dt = -x (1 + s) = (-0.5, -4, -1)
        # row 2: tie of class 0 (x = 0) with the target's own 0: shares 1/2: d/dx = (0.5, 0, -1)
        # row 3: margin met (1 + 0.5 - 1.5 = 0), unique max at class 0: a = 1/2: d/dx = (1, 0, -1) / 2
        x = np.array([[0.5, 2.0, 1.0], [0.0, -2.0, 0.5], [0.5, -2.0, 1.5]])
        t = np.array([[0.0, 0.0, 1.0]] * 3)
        gx, gt = refloss.categorical_hinge_loss_vjp(np.ones(3), x, t, reduction="none")
        np.testing.assert_array_equal(gx, [[0.0, 1.0, -1.0], [0.5, 0.0, -1.0], [0.5, 0.0, -0.5]])
        np.testing.assert_array_equal(gt[0], [-0.5, -4.0, -1.0])
        np.testing.assert_array_equal(gt[1], [-0.0, 2.0, -0.75])  # -x (1 + s): s = 1/2 at classes 0 and 2

    def test_unbatched_row(self):
        assert refloss.categorical_hinge_loss([0.5, 2.0, 1.0], [0.0, 0.0, 1.0], reduction="none").shape == ()


# ---- multiclass_hinge_loss --------------------------------------------------------------------------------------

class TestMulticlassHinge:
    def test_values(self):
        # max(0, 1 + max_{c != y} x_c - x_y): 1 + 2 - 1 = 2; target 0 of (1, 2, 3): 1 + 3 - 1 = 3; (5, 1, 2): 0
        x = [[0.5, 2.0, 1.0], [1.0, 2.0, 3.0], [5.0, 1.0, 2.0]]
        np.testing.assert_array_equal(refloss.multiclass_hinge_loss(x, np.array([2, 0, 0]), reduction="none"),
                                      [2.0, 3.0, 0.0])

    def test_gradients_and_the_margin_tie(self):
        # unique violator: +1 at it, -1 at the target; satisfied: 0; at the margin (3 = 1 + 2) the target's v_y
        # ties with class 1: shares 1/2: (0, 1/2, 1/2 - 1)
        x = np.array([[0.5, 2.0, 1.0], [5.0, 1.0, 2.0], [0.5, 2.0, 3.0]])
        gx, gt = refloss.multiclass_hinge_loss_vjp(np.ones(3), x, np.array([2, 0, 2]), reduction="none")
        assert gt is None
        np.testing.assert_array_equal(gx, [[0.0, 1.0, -1.0], [0.0, 0.0, 0.0], [0.0, 0.5, -0.5]])

    def test_differs_from_pytorchs_weston_watkins(self):
        # multi_margin_loss sums the violations and divides by C: (1 + 2 + 0) ... here only the largest counts
        x, y = [[1.0, 2.0, 3.0]], np.array([0])
        assert refloss.multiclass_hinge_loss(x, y) == 3.0
        assert refloss.multi_margin_loss(x, y) == pytest.approx((2.0 + 3.0) / 3)


# ---- bad input --------------------------------------------------------------------------------------------------

ELEMENTWISE = ["poisson_loss", "mean_absolute_percentage_error", "mean_squared_logarithmic_error"]


def _both_raise(name, *args, **kwargs):
    spec = refloss.registry.get(name)
    messages = []
    for call in (lambda: spec.forward(*args, **kwargs), lambda: spec.vjp(1.0, *args, **kwargs)):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        messages.append(str(info.value))
    return messages


@pytest.mark.parametrize("name", ELEMENTWISE + ["categorical_hinge_loss"])
def test_mismatched_shapes_are_refused(name):
    for message in _both_raise(name, np.ones((3, 1)), np.ones(3)):
        assert "target must have the same shape as input (3, 1), got (3,)" in message


@pytest.mark.parametrize("name", ELEMENTWISE + ["categorical_hinge_loss", "multiclass_hinge_loss"])
def test_unknown_reduction_and_non_real_input(name):
    target = np.array([0, 1]) if name == "multiclass_hinge_loss" else np.ones((2, 2))
    for message in _both_raise(name, np.ones((2, 2)), target, reduction="avg"):
        assert "reduction must be one of 'none', 'mean', 'sum', got 'avg'" in message
    for message in _both_raise(name, np.array([[True, False]] * 2), target):
        assert "input must be an array of real numbers (integer or float), got dtype bool" in message


def test_poisson_eps_out_of_domain():
    for eps, shown in ((-1.0, "-1.0"), (float("nan"), "nan")):
        for message in _both_raise("poisson_loss", [1.0], [1.0], eps=eps):
            assert f"eps must be in [0, inf), got {shown}" in message


@pytest.mark.parametrize("name", ["categorical_hinge_loss", "multiclass_hinge_loss"])
def test_rows_only(name):
    target = np.zeros((2, 3, 2)) if name == "categorical_hinge_loss" else np.zeros((2, 2), dtype=np.int64)
    for message in _both_raise(name, np.zeros((2, 3, 2)), target):
        assert "input must have shape (N, C) or (C,), got (2, 3, 2)" in message
    target = np.zeros((2, 0)) if name == "categorical_hinge_loss" else np.zeros(2, dtype=np.int64)
    for message in _both_raise(name, np.zeros((2, 0)), target):
        assert "input must have at least one class (C >= 1), got shape (2, 0)" in message


def test_multiclass_hinge_labels():
    for message in _both_raise("multiclass_hinge_loss", np.zeros((2, 3)), np.array([0, 3])):
        assert "target class indices must be in [0, 3), got 3" in message
    for message in _both_raise("multiclass_hinge_loss", np.zeros((2, 3)), np.array([0.0, 1.0])):
        assert "target must be an array of integer class indices, got dtype float64" in message
        assert "np.asarray(target, dtype=np.int64)" in message
    for message in _both_raise("multiclass_hinge_loss", np.zeros((2, 3)), np.array([0, 1, 2])):
        assert "target of class indices must have shape (2,) for input of shape (2, 3), got (3,)" in message


# ---- Keras 3 and optax, directly ---------------------------------------------------------------------------------

def _jax():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def _keras():
    _jax()
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"keras runs on {keras.backend.backend()}, these comparisons use its JAX backend")
    return keras


KERAS_FUNCTIONS = {
    "poisson_loss": "poisson",
    "mean_absolute_percentage_error": "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error": "mean_squared_logarithmic_error",
    "categorical_hinge_loss": "categorical_hinge",
}


def _keras_case(name, rng):
    """(y_pred, y_true) of shape (4, 5) away from every kink, in each loss's domain."""
    x = rng.uniform(0.1, 3.0, size=(4, 5))
    if name == "categorical_hinge_loss":
        return rng.uniform(-2.0, 2.0, size=(4, 5)), np.eye(5)[rng.integers(0, 5, size=4)]
    if name == "mean_absolute_percentage_error":
        return x, rng.uniform(0.5, 3.0, size=(4, 5)) * rng.choice([-1.0, 1.0], size=(4, 5))
    return x, rng.uniform(0.0, 3.0, size=(4, 5))


def _keras_value_and_grads(keras, jax, name, x, y, dtype):
    import jax.numpy as jnp

    function = getattr(keras.losses, KERAS_FUNCTIONS[name])

    def mean(x, y):  # Keras's per-sample values, then the mean over the batch (its sum_over_batch_size)
        return jnp.mean(function(y, x))

    xs, ys = jnp.asarray(x, dtype=dtype), jnp.asarray(y, dtype=dtype)
    value, grads = jax.value_and_grad(mean, argnums=(0, 1))(xs, ys)
    return float(value), [np.asarray(g, dtype=np.float64) for g in grads]


def _refloss_value_and_grads(name, x, y):
    return float(refloss.registry.get(name).forward(x, y)), refloss.registry.get(name).vjp(1.0, x, y)


# Keras 3.15.1's keras.ops.mean computes in result_type(dtype, "float32"), which is float32 even for float64 data:
# every loss that averages over the last axis (Poisson, MAPE, MSLE) carries float32 rounding in float64. Measured on
# these cases against refloss (which the mpmath oracle confirms to 1e-15): values off by up to 2.6e-8 relative
# (Poisson), gradients by up to 1.5e-8 (Poisson, MSLE); the categorical hinge (no mean) agrees exactly.
KERAS_FLOAT64_TOLERANCE = {"poisson_loss": 1e-7, "mean_absolute_percentage_error": 1e-7,
                           "mean_squared_logarithmic_error": 1e-7, "categorical_hinge_loss": 1e-15}
# float32 against refloss's float64 on the same (float32-rounded) inputs: float32 arithmetic throughout; measured up
# to 1.4e-7 relative (2.4 units of float32's roundoff 6e-8), allowed 1e-6.
KERAS_FLOAT32_TOLERANCE = 1e-6


@pytest.mark.parametrize("name", sorted(KERAS_FUNCTIONS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_keras_agrees_in_value_and_gradients(name, dtype):
    keras, jax = _keras(), _jax()
    rng = np.random.default_rng(12)
    x, y = _keras_case(name, rng)
    if dtype == "float32":
        x, y = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    value, grads = _keras_value_and_grads(keras, jax, name, x, y, dtype)
    expected_value, expected_grads = _refloss_value_and_grads(name, x, y)
    tolerance = KERAS_FLOAT64_TOLERANCE[name] if dtype == "float64" else KERAS_FLOAT32_TOLERANCE
    assert value == pytest.approx(expected_value, rel=tolerance)
    for got, want in zip(grads, expected_grads):
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * np.max(np.abs(want)))


def test_keras_float64_mean_is_formed_in_float32():
    # The deviation the tolerances above allow for, shown: Keras's float64 Poisson of 1/3 differs from the float64
    # value by float32 rounding (|error| > 1e-10), refloss's not at all.
    keras = _keras()
    import jax.numpy as jnp

    x, y = np.array([[1 / 3, 0.1]]), np.array([[0.0, 0.0]])  # y = 0: the loss is x itself, mean (1/3 + 0.1) / 2
    keras_value = float(np.asarray(keras.losses.poisson(jnp.asarray(y), jnp.asarray(x)))[0])
    assert refloss.poisson_loss(x, y) == (1 / 3 + 0.1) / 2
    assert 1e-10 < abs(keras_value - (1 / 3 + 0.1) / 2) < 1e-7


def test_keras_gradient_at_the_kinks():
    # At x = y JAX's abs has slope +1, so Keras's MAPE d/dx is -100/m (refloss: 0; both in the accepted interval);
    # at |y| = eps and at the MSLE floor, and at categorical hinge's ties and margin, JAX splits as refloss does.
    keras, jax = _keras(), _jax()
    import jax.numpy as jnp

    def grads(function, x, y):
        return [np.asarray(g) for g in jax.grad(lambda a, b: jnp.sum(function(b, a)), argnums=(0, 1))(
            jnp.asarray(x), jnp.asarray(y))]

    gx, _ = grads(keras.losses.mean_absolute_percentage_error, [[0.5]], [[0.5]])
    assert gx[0, 0] == -200.0 and refloss.mean_absolute_percentage_error_vjp(1.0, [[0.5]], [[0.5]])[0][0, 0] == 0.0
    x, y = np.array([[0.25, -3.0]]), np.array([[EPS, -EPS]])
    keras_gy = grads(keras.losses.mean_absolute_percentage_error, x, y)[1]
    np.testing.assert_allclose(keras_gy, refloss.mean_absolute_percentage_error_vjp(1.0, x, y, reduction="sum")[1]
                               / 2, rtol=1e-12)  # Keras's per-row mean over 2 elements
    x, y = np.array([[EPS, 2.0]]), np.array([[0.5, EPS]])
    for got, want in zip(grads(keras.losses.mean_squared_logarithmic_error, x, y),
                         refloss.mean_squared_logarithmic_error_vjp(0.5, x, y, reduction="sum")):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    x = np.array([[0.0, -2.0, 0.5], [0.5, -2.0, 1.5], [1.0, 1.0, 1.5]])
    t = np.array([[0.0, 0.0, 1.0]] * 3)
    for got, want in zip(grads(keras.losses.categorical_hinge, x, t),
                         refloss.categorical_hinge_loss_vjp(np.ones(3), x, t, reduction="none")):
        np.testing.assert_array_equal(got, want)


def test_keras_loss_class_default_reduction_is_refloss_mean():
    keras = _keras()
    import jax.numpy as jnp

    rng = np.random.default_rng(3)
    x, y = rng.uniform(0.5, 2.0, size=(3, 4)), rng.uniform(0.5, 2.0, size=(3, 4))
    value = float(keras.losses.MeanSquaredLogarithmicError()(jnp.asarray(y), jnp.asarray(x)))
    assert value == pytest.approx(refloss.mean_squared_logarithmic_error(x, y), rel=3e-7)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_optax_multiclass_hinge_agrees_with_ties(dtype):
    jax = _jax()
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    rng = np.random.default_rng(7)
    x = rng.uniform(-2.0, 2.0, size=(6, 4))
    x[0] = [0.5, 2.0, 3.0, -1.0]  # the margin met exactly (3 = 1 + 2): a tie of v_y with class 1
    x[1] = [1.5, 0.5, 0.5, -1.0]  # two other classes tied for the maximum
    labels = np.array([2, 0, 1, 3, 0, 2])
    if dtype == "float32":
        x = x.astype(np.float32).astype(np.float64)

    def mean(scores):
        return jnp.mean(optax.losses.multiclass_hinge_loss(scores, jnp.asarray(labels)))

    value, grad = jax.value_and_grad(mean)(jnp.asarray(x, dtype=dtype))
    tolerance = 1e-15 if dtype == "float64" else 1e-6
    assert float(value) == pytest.approx(refloss.multiclass_hinge_loss(x, labels), rel=tolerance)
    np.testing.assert_allclose(np.asarray(grad, dtype=np.float64), refloss.multiclass_hinge_loss_vjp(1.0, x, labels)[0],
                               rtol=tolerance, atol=tolerance)
