"""optax's ``axis`` and ``where`` with refloss: the recipes of docs/conventions.md ("optax's axis and where"),
checked against optax itself. refloss keeps PyTorch's class axis (dim 1) and has no ``where``; these tests show
that moving the axis, masking entries with a logit of -inf and a target of 0, and masking samples through the
cotangent give optax's numbers."""

import numpy as np
import pytest

import refloss

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RNG = np.random.default_rng(12)
LOGITS = RNG.normal(size=(3, 5, 4))  # optax reduces over axis=1 below: 5 classes, samples (3, 4)
LABELS = RNG.dirichlet(np.ones(5), size=(3, 4)).transpose(0, 2, 1)  # a distribution along axis 1
ENTRY_MASK = RNG.random((3, 5, 4)) < 0.7
ENTRY_MASK[:, 0, :] = True  # every sample keeps at least one class


def _masked(logits, labels, mask):
    """optax's where over entries, as refloss inputs: excluded classes get a logit of -inf and a target of 0."""
    return np.where(mask, logits, -np.inf), np.where(mask, labels, 0.0)


def test_axis_is_a_moveaxis_away():
    # optax's default axis=-1 on (N, d, C) is refloss's class axis 1 after np.moveaxis(x, -1, 1)
    last_logits, last_labels = np.moveaxis(LOGITS, 1, -1), np.moveaxis(LABELS, 1, -1)
    theirs = optax.losses.softmax_cross_entropy(jnp.asarray(last_logits), jnp.asarray(last_labels))
    ours = refloss.cross_entropy(np.moveaxis(last_logits, -1, 1), np.moveaxis(last_labels, -1, 1), reduction="none")
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-13)
    # and optax's axis=1 is refloss's class axis as it is
    theirs = optax.losses.softmax_cross_entropy(jnp.asarray(LOGITS), jnp.asarray(LABELS), axis=1)
    np.testing.assert_allclose(refloss.cross_entropy(LOGITS, LABELS, reduction="none"), np.asarray(theirs),
                               rtol=1e-13)


def test_where_over_entries_is_a_minus_infinity_logit_and_a_zero_target():
    x, t = _masked(LOGITS, LABELS, ENTRY_MASK)
    theirs, vjp = jax.vjp(lambda z: optax.losses.softmax_cross_entropy(z, jnp.asarray(LABELS), axis=1,
                                                                        where=jnp.asarray(ENTRY_MASK)),
                          jnp.asarray(LOGITS))
    ours = refloss.cross_entropy(x, t, reduction="none")
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-13)
    g = RNG.uniform(0.5, 2.0, size=ours.shape)
    our_grad = refloss.cross_entropy_vjp(g, x, t, reduction="none")[0]
    their_grad = np.asarray(vjp(jnp.asarray(g))[0])
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-12, atol=1e-15)
    assert np.all(our_grad[~ENTRY_MASK] == 0.0)  # an excluded class gets no gradient


def test_where_over_samples_is_the_cotangent():
    rows = RNG.random((3, 4)) < 0.5  # optax's where of the sample shape: whole samples left out
    theirs = optax.losses.softmax_cross_entropy(jnp.asarray(LOGITS), jnp.asarray(LABELS), axis=1,
                                                where=jnp.asarray(rows))
    ours = refloss.cross_entropy(LOGITS, LABELS, reduction="none") * rows  # optax gives 0 for a left-out sample
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-13, atol=0)
    # the gradient of sum(loss * mask) is the VJP with the mask as grad_output
    grad = refloss.cross_entropy_vjp(rows.astype(float), LOGITS, LABELS, reduction="none")[0]
    their_grad = jax.grad(lambda z: optax.losses.softmax_cross_entropy(z, jnp.asarray(LABELS), axis=1,
                                                                        where=jnp.asarray(rows)).sum())(
        jnp.asarray(LOGITS))
    np.testing.assert_allclose(grad, np.asarray(their_grad), rtol=1e-12, atol=1e-15)
