"""The framework-exact binary cross-entropies: Keras 3 and tf-keras with their float32 clip constants.

The published numbers below are the frameworks' own unit tests (float32 runs), cited by file and test name; the
hand-worked ones are derived in the comments. Autograd, finite-difference and oracle checks of these functions
run with every registered loss (test_gradients.py, test_oracle.py); the comparison with Keras itself is in
test_keras.py.
"""

import math
import warnings

import numpy as np
import pytest

import refloss

KERAS32 = refloss.binary_cross_entropy_keras_fp32
TF_KERAS = refloss.binary_cross_entropy_tf_keras
EPS32 = 1.0000000116860974e-07  # float32(1e-7) = 13743895 * 2^-47
TOP32 = 1.0 - 2.0 ** -23  # float32(1 - 1e-7): 1 - 1e-7 lies between 1 - 2^-23 and 1 - 2^-24, nearer the first

# The frameworks' test inputs: p = [[1, 1], [1, 0]] against y = [[1, 0], [1, 0]]; only (p, y) = (1, 0) costs more
# than about 1e-7, so every mean below is that one loss over 4 (or over 2 per row, then the row weights).
P = np.array([[1.0, 1.0], [1.0, 0.0]])
Y = np.array([[1.0, 0.0], [1.0, 0.0]])
# keras/src/losses/losses_test.py, BinaryCrossentropyTest.test_unweighted: y_pred and y_true of the first call
P_SOFT = np.array([[0.9, 0.1, 0.2], [0.3, 0.8, 0.1], [0.1, 0.2, 0.7]])
Y_SOFT = np.eye(3)


def test_float32_constants():
    assert np.float32(1e-7) == EPS32 and np.float32(1.0 - 1e-7) == TOP32
    assert np.float32(1.0) - np.float32(1e-7) == TOP32  # tf-keras's float32 subtraction gives the same bound


def test_keras3_published_values():
    # keras/src/losses/losses_test.py, BinaryCrossentropyTest.test_unweighted: 0.20046903 and 3.98559;
    # test_scalar_weighted: 9.1668 (sample_weight 2.3); test_sample_weighted: 4.7827 (row weights 1.2, 3.4)
    # (Keras's assertAlmostEqual: 3 decimals; its assertAllClose: atol = rtol = 1e-6). Inside the clip the float32
    # bounds do not matter: the nine terms are -log 0.9 four times (0.9 against 1, and 0.1 against 0, twice each),
    # -log 0.8 three times and -log 0.7 twice, (4 * 0.1053605 + 3 * 0.2231436 + 2 * 0.3566749) / 9 = 0.20046918 in
    # float64; Keras's float32 logs and sums give 0.20046903.
    assert KERAS32(P_SOFT, Y_SOFT) == pytest.approx(0.20046903, abs=1e-6)
    assert refloss.binary_cross_entropy_keras(P_SOFT, Y_SOFT) == pytest.approx(0.20046903, abs=1e-6)
    # (p, y) = (1, 0): -log(1 - TOP32) = 23 log 2 = 15.942385; mean 15.942385 / 4 = 3.98559
    assert KERAS32(P, Y) == pytest.approx(3.98559, abs=5e-4)
    assert KERAS32(P, Y) == pytest.approx(23 * math.log(2) / 4, rel=1e-6)  # the other three terms are ~1e-7
    assert 2.3 * KERAS32(P, Y) == pytest.approx(9.1668, abs=5e-4)
    rows = KERAS32(P, Y, reduction="none").mean(axis=1)  # Keras: the mean over the last axis, then the weights
    assert np.mean(rows * [1.2, 3.4]) == pytest.approx(4.7827, abs=5e-4)
    # Keras on float64 tensors (binary_cross_entropy_keras) clips at 1 - 1e-7: 16.118 / 4, not the published value
    assert refloss.binary_cross_entropy_keras(P, Y) == pytest.approx(-math.log(1e-7) / 4, rel=1e-6)


def test_tf_keras_published_values():
    # tf_keras/losses_test.py, BinaryCrossentropyTest.test_unweighted: 3.833 ("[0, 15.33, 0, 0] / 4");
    # test_scalar_weighted: 8.817 (x 2.3); test_sample_weighted: 4.6 (15.33 * 1.2 / 4); 3 decimals each
    worst = -math.log(2.0 ** -23 + EPS32)  # (1, 0): -log(1 - TOP32 + eps) = -log(2.1920929e-7) = 15.333239
    assert worst == pytest.approx(15.333239, abs=1e-6)
    assert TF_KERAS(P, Y) == pytest.approx(3.833, abs=5e-4)
    assert 2.3 * TF_KERAS(P, Y) == pytest.approx(8.817, abs=5e-4)
    rows = TF_KERAS(P, Y, reduction="none").mean(axis=1)
    assert np.mean(rows * [1.2, 3.4]) == pytest.approx(4.6, abs=5e-4)
    # with float64 constants, -log(1e-7 + 1e-7) = 15.425 would give 3.856: the published value pins float32
    assert abs(-math.log(2e-7) / 4 - 3.833) > 0.02


def test_values_at_0_and_1_worked_by_hand():
    p, y = np.array([1.0, 0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0, 1.0])
    # Keras 3 float32: c = (TOP32, EPS32, EPS32, TOP32); -log(2^-23), -log(EPS32), -log1p(-EPS32), -log(TOP32)
    expected = [23 * math.log(2), -math.log(EPS32), -math.log1p(-EPS32), -math.log1p(-2.0 ** -23)]
    np.testing.assert_allclose(KERAS32(p, y, reduction="none"), expected, rtol=1e-15)
    # tf-keras: -log(2^-23 + e), -log(2 e), -log(1 - e + e) = 0, -log(TOP32 + e) = -log1p(e - 2^-23)
    expected = [-math.log(2.0 ** -23 + EPS32), -math.log(2 * EPS32), 0.0, -math.log1p(EPS32 - 2.0 ** -23)]
    np.testing.assert_allclose(TF_KERAS(p, y, reduction="none"), expected, rtol=1e-15, atol=0)


def test_gradients_worked_by_hand():
    p, y = np.array([0.5, 0.25, 0.0, 1.0]), np.array([1.0, 0.0, 1.0, 0.0])
    g = np.array([1.0, 2.0, 3.0, 4.0])
    # Keras 3: (c - y) / (c (1 - c)): -0.5 / 0.25 = -2 and 2 * 0.25 / 0.1875 = 8/3; clipped p: 0
    grad_p, grad_y = refloss.binary_cross_entropy_keras_fp32_vjp(g, p, y, reduction="none")
    np.testing.assert_allclose(grad_p, [-2.0, 8 / 3, 0.0, 0.0], rtol=1e-15)
    # d/dy = log(1 - c) - log c: 0, 2 log 3, 3 log((1 - EPS32) / EPS32), 4 log(2^-23 / TOP32)
    np.testing.assert_allclose(grad_y, [0.0, 2 * math.log(3), 3 * (math.log1p(-EPS32) - math.log(EPS32)),
                                        4 * (-23 * math.log(2) - math.log1p(-2.0 ** -23))], rtol=1e-14, atol=1e-16)
    # tf-keras at p = 0.5, y = 1: -1 / (0.5 + e); at p = 0.25, y = 0: 2 / (0.75 + e)
    grad_p, grad_y = refloss.binary_cross_entropy_tf_keras_vjp(g, p, y, reduction="none")
    np.testing.assert_allclose(grad_p, [-1 / (0.5 + EPS32), 2 / (0.75 + EPS32), 0.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(grad_y[:2], [0.0, 2 * math.log((0.75 + EPS32) / (0.25 + EPS32))], rtol=1e-14,
                               atol=1e-16)


def test_the_gradient_passes_at_the_float32_bounds_and_stops_beyond():
    below, above = float(np.nextafter(np.float32(EPS32), np.float32(0))), 1.0
    for vjp, shift in [(refloss.binary_cross_entropy_keras_fp32_vjp, 0.0),
                       (refloss.binary_cross_entropy_tf_keras_vjp, EPS32)]:
        grad_p, _ = vjp(np.ones(4), np.array([EPS32, TOP32, below, above]), np.array([1.0, 0.0, 1.0, 0.0]),
                        reduction="none")
        # at the lower bound with y = 1: -1 / (EPS32 + s); at the upper with y = 0: 1 / (1 - TOP32 + s)
        np.testing.assert_allclose(grad_p, [-1 / (EPS32 + shift), 1 / (2.0 ** -23 + shift), 0.0, 0.0], rtol=1e-15)


def test_epsilon_is_rounded_to_float32():
    # epsilon = 1e-3: float32(1e-3) = 0.0010000000474974513; p = 0 with y = 1 costs -log of it
    assert KERAS32([0.0], [1.0], epsilon=1e-3) == pytest.approx(-math.log(float(np.float32(1e-3))), rel=1e-15)
    assert float(np.float32(1e-3)) != 1e-3


@pytest.mark.parametrize("forward", [KERAS32, TF_KERAS, refloss.binary_cross_entropy_keras_fp32_vjp,
                                     refloss.binary_cross_entropy_tf_keras_vjp])
def test_bad_input_is_rejected_with_the_argument_named(forward):
    call = (lambda *a, **k: forward(1.0, *a, **k)) if forward.__name__.endswith("_vjp") else forward
    with pytest.raises(ValueError, match="input.*1.5"):
        call([0.5, 1.5], [0.0, 0.0])
    with pytest.raises(ValueError, match="target"):
        call([0.5, 0.5], [0.0, -0.5])
    with pytest.raises(ValueError, match="epsilon must be in .*got 0.75"):
        call([0.5], [1.0], epsilon=0.75)
    with pytest.raises(ValueError, match="shape"):
        call([0.5, 0.5], [[0.0, 0.0]])


def test_tf_keras_itself_gives_the_same_values_and_gradients(monkeypatch):
    # tf-keras 2.21 on TensorFlow's CPU build (CI installs both): float32 throughout, as tf-keras trains
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")  # (TensorFlow's start-up chatter, not a result)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TensorFlow's own deprecation warnings on import
        tf = pytest.importorskip("tensorflow")
        tf_keras = pytest.importorskip("tf_keras")
    rng = np.random.default_rng(7)
    # probabilities inside the clip, at the ends, and beyond the float32 bounds; hard and soft labels
    p = np.concatenate([rng.uniform(0.01, 0.99, 10), [0.0, 1.0, 1e-9, 1 - 1e-9, EPS32, TOP32]])
    y = np.concatenate([rng.uniform(0.0, 1.0, 10), [1.0, 0.0, 1.0, 0.0, 0.5, 0.5]])
    p32 = tf.Variable(p.astype(np.float32)[None, :])
    with tf.GradientTape() as tape:
        theirs = tf_keras.losses.binary_crossentropy(tf.constant(y.astype(np.float32)[None, :]), p32)
    their_grad = tape.gradient(theirs, p32).numpy()[0]
    ours = TF_KERAS(p.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64))
    our_grad = refloss.binary_cross_entropy_tf_keras_vjp(1.0, p.astype(np.float32).astype(np.float64),
                                                         y.astype(np.float32).astype(np.float64))[0]
    # tf-keras rounds every operation to float32: agreement to a few float32 ulps (measured: 4.6e-8 relative for
    # the value, 2.0e-7 for the gradient)
    assert float(theirs.numpy()[0]) == pytest.approx(ours, rel=1e-6)
    np.testing.assert_allclose(their_grad, our_grad, rtol=1e-5, atol=1e-7)
