"""Package keras_b: poly1_cross_entropy and sparsemax_loss (optax), cosine_similarity_loss, dice_loss and
tversky_loss (Keras).

Hand-worked values and gradients (derived in the comments), the framework equivalents compared directly in float64
and float32, and the bad inputs each function must refuse. Autograd, finite-difference and oracle checks of every
registered loss are in test_gradients.py and test_oracle.py.
"""

import math
import os

import numpy as np
import pytest

import refloss
from refloss.losses.classification.sparse import sparsemax


# ---- poly1_cross_entropy -------------------------------------------------------------------------------------------

def test_poly1_hand_worked_two_classes():
    # logits (0, 0), target (1, 0): p = (1/2, 1/2); loss = -log(1/2) + 2 (1 - 1/2) = log 2 + 1 (P2).
    # (P4): S = 1, p-bar = 1/2; d/dx = (1/2 - 1 + 2 (1/2)(1/2 - 1), 1/2 + 2 (1/2)(1/2)) = (-1, 1);
    # d/dy = -log(1/2) + 2 (1/2) = log 2 + 1 for both classes.
    x, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    assert refloss.poly1_cross_entropy(x, y) == pytest.approx(math.log(2) + 1, rel=1e-15)
    grad_x, grad_y = refloss.poly1_cross_entropy_vjp(np.float64(1.0), x, y)
    np.testing.assert_allclose(grad_x, [[-1.0, 1.0]], rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(grad_y, [[math.log(2) + 1] * 2], rtol=1e-15)


def test_poly1_with_epsilon_zero_is_the_soft_label_cross_entropy():
    # (P2) with eps = 0 is -sum y log p: cross_entropy with probability targets (mean over the samples).
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 3)), rng.dirichlet(np.ones(3), size=4)
    assert refloss.poly1_cross_entropy(x, y, epsilon=0.0) == pytest.approx(refloss.cross_entropy(x, y), rel=1e-14)


def test_poly1_confident_row_keeps_its_tiny_loss():
    # logits (0, 40, 0), target class 1: q = 1 - p_1 = 2 e^-40 / (1 + 2 e^-40) = 8.4967e-18 and the loss
    # -log(1 - q) + 2 q = 3 q + q^2/2 + ... = 2.5490125531749533e-17 (mpmath, 50 digits).
    loss = refloss.poly1_cross_entropy(np.array([0.0, 40.0, 0.0]), np.array([0.0, 1.0, 0.0]), reduction="none")
    assert loss == pytest.approx(2.5490125531749533e-17, rel=1e-14)


def test_poly1_reductions_and_unbatched_input():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 4)), rng.dirichlet(np.ones(4), size=5)
    per_sample = refloss.poly1_cross_entropy(x, y, reduction="none")
    assert per_sample.shape == (5,)
    assert refloss.poly1_cross_entropy(x, y, reduction="sum") == pytest.approx(per_sample.sum(), rel=1e-15)
    assert refloss.poly1_cross_entropy(x, y) == pytest.approx(per_sample.mean(), rel=1e-15)
    assert refloss.poly1_cross_entropy(x[2], y[2], reduction="none") == pytest.approx(per_sample[2], rel=1e-15)
    assert np.isnan(refloss.poly1_cross_entropy(np.zeros((0, 3)), np.zeros((0, 3))))


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 1e-5)])
def test_poly1_matches_optax(dtype, rtol):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 5)) * 3, rng.dirichlet(np.ones(5), size=6)
    y[0] = np.eye(5)[3]
    for epsilon in (2.0, -1.0, 0.5):
        def total(a, b):
            return optax.losses.poly_loss_cross_entropy(a, b, epsilon=epsilon).sum()

        a, b = jnp.asarray(x, dtype=dtype), jnp.asarray(y, dtype=dtype)
        expected = optax.losses.poly_loss_cross_entropy(a, b, epsilon=epsilon)
        grad_a, grad_b = jax.grad(total, argnums=(0, 1))(a, b)
        np.testing.assert_allclose(refloss.poly1_cross_entropy(x, y, epsilon=epsilon, reduction="none"),
                                   np.asarray(expected, np.float64), rtol=rtol)
        grad_x, grad_y = refloss.poly1_cross_entropy_vjp(np.ones(6), x, y, epsilon=epsilon, reduction="none")
        # (gradients are differences of O(1) terms: compared with an absolute tolerance of the same size)
        np.testing.assert_allclose(grad_x, np.asarray(grad_a, np.float64), rtol=rtol, atol=rtol)
        np.testing.assert_allclose(grad_y, np.asarray(grad_b, np.float64), rtol=rtol, atol=rtol)


def test_poly1_optax_loses_the_confident_rows_loss():
    # The deviation recorded in the Equivalent's note: optax's 1 - softmax rounds to 0 at logits (0, 40, 0).
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jax.config.update("jax_enable_x64", True)
    x, y = np.array([[0.0, 40.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
    assert float(optax.losses.poly_loss_cross_entropy(jax.numpy.asarray(x), jax.numpy.asarray(y))[0]) == 0.0
    assert refloss.poly1_cross_entropy(x, y) > 2.5e-17


@pytest.mark.parametrize("call, error, words", [
    (lambda: refloss.poly1_cross_entropy(np.zeros((2, 3)), np.zeros((2, 1))), ValueError,
     ("target", "same shape", "(2, 3)", "(2, 1)")),
    (lambda: refloss.poly1_cross_entropy(np.zeros(()), np.zeros(())), ValueError, ("input", "(..., C)", "()")),
    (lambda: refloss.poly1_cross_entropy(np.zeros(3), np.zeros(3), reduction="avg"), ValueError,
     ("reduction", "'avg'")),
    (lambda: refloss.poly1_cross_entropy(np.zeros(3), np.zeros(3), epsilon="2"), TypeError, ("epsilon", "'2'")),
    (lambda: refloss.poly1_cross_entropy(np.zeros(3), np.array(["a", "b", "c"])), TypeError, ("target", "dtype")),
    (lambda: refloss.poly1_cross_entropy_vjp(np.ones(2), np.zeros((2, 3)), np.zeros((2, 3))), ValueError,
     ("grad_output", "()", "(2,)")),
])
def test_poly1_refuses_bad_input(call, error, words):
    with pytest.raises(error) as raised:
        call()
    for word in words:
        assert word in str(raised.value)


# ---- sparsemax_loss ------------------------------------------------------------------------------------------------

def test_sparsemax_hand_worked_rows():
    # Row 1, scores (0, 0.1, -0.8), target 1: w = z - z_1 = (-0.1, 0, -0.9); sorted (0, -0.1, -0.9) with prefix sums
    # (0, -0.1, -1.0): 1 + 2 (-0.1) = 0.8 > -0.1 but 1 + 3 (-0.9) = -1.7 < -1.0, so S = {0, 1}, tau = (-0.1 - 1) / 2
    # = -0.55, p = (0.45, 0.55, 0); loss (S3) = -0.55 + (1 + 0.2025 + 0.3025) / 2 = 0.2025; gradient (S4)
    # p - onehot = (0.45, -0.45, 0).
    # Row 2, scores (1, 2, 0.5), target 0: S = {1} (1 + 2 (-1) < -1 + 0), p = (0, 1, 0), tau = 0 (w = (0, 1, -0.5)),
    # loss = 0 + (1 + 1) / 2 = 1; gradient (-1, 1, 0).
    # Row 3, equal scores (0.5, 0.5, 0.5), target 2: w = 0, S = all, tau = -1/3, p = 1/3 each,
    # loss = -1/3 + (1 + 1/3) / 2 = 1/3; gradient (1/3, 1/3, -2/3).
    z = np.array([[0.0, 0.1, -0.8], [1.0, 2.0, 0.5], [0.5, 0.5, 0.5]])
    k = np.array([1, 0, 2])
    np.testing.assert_allclose(refloss.sparsemax_loss(z, k, reduction="none"), [0.2025, 1.0, 1 / 3], rtol=1e-14)
    grad, none = refloss.sparsemax_loss_vjp(np.ones(3), z, k, reduction="none")
    assert none is None
    np.testing.assert_allclose(grad, [[0.45, -0.45, 0.0], [-1.0, 1.0, 0.0], [1 / 3, 1 / 3, -2 / 3]], atol=1e-15)


def test_sparsemax_is_a_projection_onto_the_simplex():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(50, 6)) * 2
    p = sparsemax(z)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-14)
    assert np.all(p >= 0)
    # Optimality (KKT): on the support z_j - p_j is the same tau; off it z_j <= tau.
    tau = np.max(z - p, axis=-1, where=p > 0, initial=-np.inf)
    assert np.all(np.where(p > 0, np.abs(z - p - tau[:, None]), 0) < 1e-14)
    assert np.all(np.where(p == 0, z <= tau[:, None] + 1e-14, True))


def test_sparsemax_loss_is_zero_for_a_confident_correct_row_and_shift_invariant():
    # S = {k}: tau = -1, sum p^2 = 1, loss = -1 + (1 + 1) / 2 = 0 exactly, whatever the magnitude.
    assert refloss.sparsemax_loss(np.array([1e4, -1e4, 0.0]), np.array(0), reduction="none") == 0.0
    rng = np.random.default_rng(4)
    z, k = rng.normal(size=(4, 5)), rng.integers(0, 5, size=4)
    base = refloss.sparsemax_loss(z, k, reduction="none")
    # z + 1e8 is itself rounded to the ulp of 1e8 (1.5e-8), so the shifted scores move by that much: the loss may
    # change by a few times 1.5e-8, not more (an unshifted formula loses everything: z^2 ~ 1e16).
    np.testing.assert_allclose(refloss.sparsemax_loss(z + 1e8, k, reduction="none"), base, rtol=0, atol=1e-7)


def test_sparsemax_nan_row_and_empty_batch():
    loss = refloss.sparsemax_loss(np.array([[np.nan, 1.0], [1.0, 2.0]]), np.array([0, 1]), reduction="none")
    assert np.isnan(loss[0]) and loss[1] == 0.0
    grad, _ = refloss.sparsemax_loss_vjp(np.ones(2), np.array([[np.nan, 1.0], [1.0, 2.0]]), np.array([0, 1]),
                                         reduction="none")
    assert np.all(np.isnan(grad[0])) and np.all(grad[1] == 0.0)
    assert np.isnan(refloss.sparsemax_loss(np.zeros((0, 3)), np.zeros(0, dtype=np.int64)))
    assert refloss.sparsemax_loss(np.zeros((0, 3)), np.zeros(0, dtype=np.int64), reduction="sum") == 0.0


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 1e-5)])
def test_sparsemax_matches_optax(dtype, rtol):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    rng = np.random.default_rng(5)
    z, k = rng.normal(size=(8, 5)), rng.integers(0, 5, size=8)
    a = jnp.asarray(z, dtype=dtype)
    expected = optax.losses.multiclass_sparsemax_loss(a, jnp.asarray(k))
    np.testing.assert_allclose(refloss.sparsemax_loss(z, k, reduction="none"), np.asarray(expected, np.float64),
                               rtol=rtol, atol=rtol)
    if dtype == "float32":
        # optax 0.2.8's custom JVP of projection_simplex returns a float64 tangent for float32 scores once
        # jax_enable_x64 is on (TypeError), so its float32 gradient is not reachable in this session.
        return
    grad = jax.grad(lambda s: optax.losses.multiclass_sparsemax_loss(s, jnp.asarray(k)).sum())(a)
    np.testing.assert_allclose(refloss.sparsemax_loss_vjp(np.ones(8), z, k, reduction="none")[0],
                               np.asarray(grad, np.float64), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("call, error, words", [
    (lambda: refloss.sparsemax_loss(np.zeros((2, 3)), np.array([0, 3])), ValueError, ("target", "[0, 3)", "3")),
    (lambda: refloss.sparsemax_loss(np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError,
     ("target", "integer", "float64")),
    (lambda: refloss.sparsemax_loss(np.zeros((2, 3, 2)), np.zeros((2, 2), dtype=int)), ValueError,
     ("input", "(N, C) or (C,)", "(2, 3, 2)")),
    (lambda: refloss.sparsemax_loss(np.zeros((2, 3)), np.zeros(3, dtype=int)), ValueError,
     ("target", "(2,)", "(3,)")),
    (lambda: refloss.sparsemax_loss(np.zeros((2, 3)), np.array([0, 1]), reduction="avg"), ValueError,
     ("reduction", "'avg'")),
    (lambda: refloss.sparsemax_loss_vjp(np.ones(3), np.zeros((2, 3)), np.array([0, 1]), reduction="none"),
     ValueError, ("grad_output", "(2,)", "(3,)")),
])
def test_sparsemax_refuses_bad_input(call, error, words):
    with pytest.raises(error) as raised:
        call()
    for word in words:
        assert word in str(raised.value)


# ---- cosine_similarity_loss ----------------------------------------------------------------------------------------

def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the comparison uses Keras on the JAX backend")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return keras, jax


def test_cosine_similarity_hand_worked():
    # a = (1, 1), b = (0, 1): a_hat = (1, 1) / sqrt 2, b_hat = b, loss = -1 / sqrt 2 (C2);
    # (C3): d/da = -(b_hat + loss a_hat) / ||a|| = -((0, 1) - (1/2, 1/2)) / sqrt 2 = (1, -1) / (2 sqrt 2);
    # d/db = -(a_hat + loss b_hat) / ||b|| = -((1, 1) / sqrt 2 - (0, 1) / sqrt 2) = (-1 / sqrt 2, 0).
    # a = (1, 2), b = (-2, -4): antiparallel, loss 1, both gradients 0.
    a, b = np.array([[1.0, 1.0], [1.0, 2.0]]), np.array([[0.0, 1.0], [-2.0, -4.0]])
    np.testing.assert_allclose(refloss.cosine_similarity_loss(a, b, reduction="none"), [-1 / math.sqrt(2), 1.0],
                               rtol=1e-15)
    grad_a, grad_b = refloss.cosine_similarity_loss_vjp(np.ones(2), a, b, reduction="none")
    s = 1 / (2 * math.sqrt(2))
    np.testing.assert_allclose(grad_a, [[s, -s], [0.0, 0.0]], atol=1e-15)
    np.testing.assert_allclose(grad_b, [[-1 / math.sqrt(2), 0.0], [0.0, 0.0]], atol=1e-15)


def test_cosine_similarity_clamps_short_vectors_as_keras():
    # b = (3, 4) 1e-8 has norm 5e-8 < 1e-7: b_hat = b / 1e-7 = (0.3, 0.4), so the loss is -(0.3 + 0.4) / sqrt 2
    # = -0.4949747468305833 (not -cos = -0.9899), and d/db = -a_hat / 1e-7 = -(1, 1) / sqrt 2 1e7 (C3).
    a, b = np.array([1.0, 1.0]), np.array([3e-8, 4e-8])
    assert refloss.cosine_similarity_loss(a, b, reduction="none") == pytest.approx(-0.7 / math.sqrt(2), rel=1e-14)
    _, grad_b = refloss.cosine_similarity_loss_vjp(np.float64(1.0), a, b, reduction="none")
    np.testing.assert_allclose(grad_b, -np.array([1.0, 1.0]) / math.sqrt(2) * 1e7, rtol=1e-14)
    # a zero vector: loss 0, its gradient the clamped branch's -b_hat / 1e-7
    grad_zero, _ = refloss.cosine_similarity_loss_vjp(np.float64(1.0), np.zeros(2), np.array([3.0, 4.0]),
                                                      reduction="none")
    np.testing.assert_allclose(grad_zero, [-0.6e7, -0.8e7], rtol=1e-14)


def test_cosine_similarity_axis():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    along_1 = refloss.cosine_similarity_loss(a, b, axis=1, reduction="none")
    moved = refloss.cosine_similarity_loss(np.moveaxis(a, 1, -1), np.moveaxis(b, 1, -1), reduction="none")
    np.testing.assert_allclose(along_1, moved, rtol=1e-15)
    g = rng.normal(size=(3, 2))
    grads = refloss.cosine_similarity_loss_vjp(g, a, b, axis=1, reduction="none")
    moved_grads = refloss.cosine_similarity_loss_vjp(g, np.moveaxis(a, 1, -1), np.moveaxis(b, 1, -1),
                                                     reduction="none")
    for grad, moved_grad in zip(grads, moved_grads):
        np.testing.assert_allclose(grad, np.moveaxis(moved_grad, -1, 1), rtol=1e-15)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 1e-5)])
def test_cosine_similarity_matches_keras(dtype, rtol):
    keras, jax = _keras()
    jnp = jax.numpy
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    b[5] = [3e-8, 4e-8, 0.0, 0.0]  # below the clamp
    y_pred, y_true = jnp.asarray(a, dtype=dtype), jnp.asarray(b, dtype=dtype)
    expected = keras.losses.cosine_similarity(y_true, y_pred)
    grad_pred, grad_true = jax.grad(lambda p, t: keras.losses.cosine_similarity(t, p).sum(), argnums=(0, 1))(
        y_pred, y_true)
    np.testing.assert_allclose(refloss.cosine_similarity_loss(a, b, reduction="none"),
                               np.asarray(expected, np.float64), rtol=rtol, atol=rtol)
    grad_a, grad_b = refloss.cosine_similarity_loss_vjp(np.ones(6), a, b, reduction="none")
    np.testing.assert_allclose(grad_a, np.asarray(grad_pred, np.float64), rtol=rtol, atol=rtol)
    # (the short target's gradient is of size 1e7: relative tolerance on its row)
    np.testing.assert_allclose(grad_b, np.asarray(grad_true, np.float64), rtol=rtol, atol=rtol)


def test_cosine_similarity_keras_zero_vector_gradient_is_nan():
    # The deviation in the Equivalent's note: Keras on JAX differentiates rsqrt at 0 (-inf * 0 = NaN).
    keras, jax = _keras()
    jnp = jax.numpy
    zero, other = jnp.zeros((1, 2)), jnp.array([[3.0, 4.0]])
    keras_grad = jax.grad(lambda p: keras.losses.cosine_similarity(other, p).sum())(zero)
    assert np.all(np.isnan(np.asarray(keras_grad)))
    refloss_grad, _ = refloss.cosine_similarity_loss_vjp(np.ones(1), np.zeros((1, 2)), np.array([[3.0, 4.0]]),
                                                         reduction="none")
    np.testing.assert_allclose(refloss_grad, [[-0.6e7, -0.8e7]], rtol=1e-14)


def test_cosine_similarity_is_minus_optax():
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    optax_cosine = optax.losses.cosine_similarity(jax.numpy.asarray(a), jax.numpy.asarray(b))
    np.testing.assert_allclose(refloss.cosine_similarity_loss(a, b, reduction="none"), -np.asarray(optax_cosine),
                               rtol=1e-14)


@pytest.mark.parametrize("call, error, words", [
    (lambda: refloss.cosine_similarity_loss(np.zeros((2, 3)), np.zeros((2, 1))), ValueError,
     ("target", "same shape", "(2, 3)", "(2, 1)")),
    (lambda: refloss.cosine_similarity_loss(np.zeros(()), np.zeros(())), ValueError, ("input", "(..., D)", "()")),
    (lambda: refloss.cosine_similarity_loss(np.zeros((2, 3)), np.zeros((2, 3)), axis=2), ValueError,
     ("axis", "[-2, 2)", "2")),
    (lambda: refloss.cosine_similarity_loss(np.zeros((2, 3)), np.zeros((2, 3)), axis=1.0), TypeError,
     ("axis", "integer", "1.0")),
    (lambda: refloss.cosine_similarity_loss(np.zeros(3), np.zeros(3), reduction="avg"), ValueError,
     ("reduction", "'avg'")),
    (lambda: refloss.cosine_similarity_loss_vjp(np.ones(3), np.zeros((2, 3)), np.zeros((2, 3)), reduction="none"),
     ValueError, ("grad_output", "(2,)", "(3,)")),
])
def test_cosine_similarity_refuses_bad_input(call, error, words):
    with pytest.raises(error) as raised:
        call()
    for word in words:
        assert word in str(raised.value)


# ---- dice_loss and tversky_loss ------------------------------------------------------------------------------------

def test_dice_hand_worked():
    # y = (1, 1, 0, 0), p = (0, 1, 0, 1): I = 1, U = 4, V = 4 + 1e-7, D = 2 / V; loss = 1 - 2 / V (D2).
    # (D3): d/dp = -(2 y - D) / V, d/dy = -(2 p - D) / V.
    p, y = np.array([[0.0, 1.0, 0.0, 1.0]]), np.array([[1.0, 1.0, 0.0, 0.0]])
    v = 4 + 1e-7
    d = 2 / v
    assert refloss.dice_loss(p, y) == pytest.approx(1 - d, rel=1e-15)
    grad_p, grad_y = refloss.dice_loss_vjp(np.float64(1.0), p, y)
    np.testing.assert_allclose(grad_p, -(2 * y - d) / v, rtol=1e-15)
    np.testing.assert_allclose(grad_y, -(2 * p - d) / v, rtol=1e-15)


def test_tversky_weights_follow_keras_naming():
    # y = (1, 0.5), p = (0.5, 0.5): I = 0.5 + 0.25 = 0.75, A = sum y (1 - p) = 0.5 + 0.25 = 0.75,
    # B = sum p (1 - y) = 0 + 0.25 = 0.25. alpha weighs A: alpha = 1, beta = 0 gives 1 - 0.75 / (1.5 + 1e-7);
    # alpha = 0, beta = 1 gives 1 - 0.75 / (1.0 + 1e-7).
    p, y = np.array([[0.5, 0.5]]), np.array([[1.0, 0.5]])
    assert refloss.tversky_loss(p, y, alpha=1.0, beta=0.0) == pytest.approx(1 - 0.75 / (1.5 + 1e-7), rel=1e-15)
    assert refloss.tversky_loss(p, y, alpha=0.0, beta=1.0) == pytest.approx(1 - 0.75 / (1.0 + 1e-7), rel=1e-15)


def test_tversky_with_halves_is_dice_with_twice_the_epsilon():
    # I / (I + A/2 + B/2 + e) = I / (U/2 + e) = 2 I / (U + 2e)
    rng = np.random.default_rng(9)
    p, y = rng.random((4, 6)), rng.random((4, 6))
    u = p.sum(axis=1) + y.sum(axis=1)
    np.testing.assert_allclose(refloss.tversky_loss(p, y, reduction="none"),
                               1 - 2 * (p * y).sum(axis=1) / (u + 2e-7), rtol=1e-14)


def test_overlap_losses_on_empty_masks_and_one_sample():
    # empty prediction and target: 1 - 0 / 1e-7 = 1, with zero gradients (y = p = 0, D = 0)
    assert refloss.dice_loss(np.zeros((1, 3)), np.zeros((1, 3)), reduction="none")[0] == 1.0
    grad_p, grad_y = refloss.dice_loss_vjp(np.ones(1), np.zeros((1, 3)), np.zeros((1, 3)), reduction="none")
    assert np.all(grad_p == 0) and np.all(grad_y == 0)
    # a 1-D input is one sample; (N, H, W) sums over H and W
    rng = np.random.default_rng(10)
    p, y = rng.random((2, 3, 4)), rng.random((2, 3, 4))
    np.testing.assert_allclose(refloss.tversky_loss(p, y, alpha=0.3, beta=0.7, reduction="none"),
                               [refloss.tversky_loss(p[n].ravel(), y[n].ravel(), alpha=0.3, beta=0.7) for n in
                                range(2)], rtol=1e-15)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 1e-5)])
def test_overlap_losses_match_keras_per_sample(dtype, rtol):
    keras, jax = _keras()
    jnp = jax.numpy
    rng = np.random.default_rng(11)
    p, y = rng.random((4, 3, 5)), (rng.random((4, 3, 5)) < 0.4).astype(float)
    y_pred, y_true = jnp.asarray(p, dtype=dtype), jnp.asarray(y, dtype=dtype)
    axis = (1, 2)
    calls = [(refloss.dice_loss, refloss.dice_loss_vjp, {}, lambda t, q: keras.losses.dice(t, q, axis=axis)),
             (refloss.tversky_loss, refloss.tversky_loss_vjp, {"alpha": 0.3, "beta": 0.7},
              lambda t, q: keras.losses.tversky(t, q, alpha=0.3, beta=0.7, axis=axis))]
    for forward, vjp, params, keras_loss in calls:
        np.testing.assert_allclose(forward(p, y, reduction="none", **params),
                                   np.asarray(keras_loss(y_true, y_pred), np.float64), rtol=rtol)
        grad_pred, grad_true = jax.grad(lambda q, t: keras_loss(t, q).sum(), argnums=(0, 1))(y_pred, y_true)
        grad_p, grad_y = vjp(np.ones(4), p, y, reduction="none", **params)
        np.testing.assert_allclose(grad_p, np.asarray(grad_pred, np.float64), rtol=rtol, atol=rtol)
        np.testing.assert_allclose(grad_y, np.asarray(grad_true, np.float64), rtol=rtol, atol=rtol)


def test_keras_default_pools_the_batch():
    # The convention in the docs: Keras's axis=None is one ratio over the batch; refloss's equals it for N = 1 only.
    keras, jax = _keras()
    p = np.array([[0.0, 1.0, 0.0, 1.0], [0.4, 0.0, 0.0, 0.9]])
    y = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    pooled = float(keras.losses.dice(jax.numpy.asarray(y), jax.numpy.asarray(p)))
    assert pooled == pytest.approx(1 - 2 * 1.4 / (4 + 3.3 + 1e-7), rel=1e-14)  # I = 1 + 0.4, U = 4 + 3.3
    assert refloss.dice_loss(p, y) != pytest.approx(pooled, rel=1e-3)
    assert refloss.dice_loss(p[:1], y[:1]) == pytest.approx(
        float(keras.losses.dice(jax.numpy.asarray(y[:1]), jax.numpy.asarray(p[:1]))), rel=1e-14)


@pytest.mark.parametrize("call, error, words", [
    (lambda: refloss.dice_loss(np.zeros((2, 3)), np.zeros((2, 1))), ValueError,
     ("target", "same shape", "(2, 3)", "(2, 1)")),
    (lambda: refloss.dice_loss(np.zeros(()), np.zeros(())), ValueError, ("input", "(N, ...)", "()")),
    (lambda: refloss.tversky_loss(np.zeros(3), np.zeros(3), alpha=-0.5), ValueError, ("alpha", "[0, inf)", "-0.5")),
    (lambda: refloss.tversky_loss(np.zeros(3), np.zeros(3), beta=None), TypeError, ("beta", "None")),
    (lambda: refloss.tversky_loss(np.zeros(3), np.zeros(3), reduction="avg"), ValueError, ("reduction", "'avg'")),
    (lambda: refloss.dice_loss_vjp(np.ones(3), np.zeros((2, 3)), np.zeros((2, 3)), reduction="none"),
     ValueError, ("grad_output", "(2,)", "(3,)")),
])
def test_overlap_losses_refuse_bad_input(call, error, words):
    with pytest.raises(error) as raised:
        call()
    for word in words:
        assert word in str(raised.value)
