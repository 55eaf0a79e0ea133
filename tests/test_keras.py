"""refloss against Keras 3 on the JAX backend: the Keras BCE variants directly, and the golden vectors through the
``keras`` adapter (``refloss conformance check --impl keras``).

Skips when Keras or JAX is not installed; .ci/run installs keras 3.15.1 beside jax so that this runs in CI.
"""

import math
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
pytest.importorskip("jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("the keras adapter runs Keras on the JAX backend", allow_module_level=True)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import refloss  # noqa: E402
from refloss.adapters import get_adapter  # noqa: E402
from refloss.conformance import check as validator  # noqa: E402

jax.config.update("jax_enable_x64", True)
SUITE = Path(__file__).resolve().parents[1] / "conformance"
ADAPTER = get_adapter("keras")


def _keras_elementwise(p, y, dtype):
    """keras.ops.binary_crossentropy: Keras's elementwise BCE (no mean over the last axis), in ``dtype``."""
    return np.asarray(keras.ops.binary_crossentropy(jnp.asarray(y, dtype), jnp.asarray(p, dtype)), np.float64)


def test_the_keras_losses_are_the_expected_ones():
    supported = [n for n in refloss.registry.names() if ADAPTER.supports(n)]
    assert {"mse_loss", "huber_loss", "binary_cross_entropy_keras", "binary_cross_entropy_keras_fp32",
            "cross_entropy"} <= set(supported)
    # Keras clips p where torch clamps the logs: binary_cross_entropy lists no Keras equivalent
    assert "binary_cross_entropy" not in supported


def test_keras_float32_is_binary_cross_entropy_keras_fp32():
    # The grid, the ends and the float32 bounds: Keras in float32 against refloss on the same float32 inputs.
    p = np.concatenate([np.arange(1, 32) / 32, [0.0, 1.0, 1e-7, 1 - 1e-7, 1e-3, 0.999]]).astype(np.float32)
    y = np.resize([0.0, 1.0, 0.25, 0.75], p.size).astype(np.float32)
    ours = refloss.binary_cross_entropy_keras_fp32(p.astype(np.float64), y.astype(np.float64), reduction="none")
    theirs = _keras_elementwise(p, y, "float32")
    # Keras's float32 logs: a few float32 ulps, and log(1 - c) rounded for c near 0 (absolute 2e-8 there)
    np.testing.assert_allclose(theirs, ours, rtol=4e-7, atol=3e-8)
    at_one = p == 1.0
    np.testing.assert_allclose(theirs[at_one & (y == 0)], 23 * math.log(2), rtol=1e-7)  # 15.942385
    # ... where the float64-bound variant gives -log(1 - fl64(1 - 1e-7)) = 16.118 (1 - c is exact: Sterbenz)
    assert refloss.binary_cross_entropy_keras([1.0], [0.0]) == pytest.approx(-math.log(1 - (1 - 1e-7)), rel=1e-15)


def test_keras_float64_is_binary_cross_entropy_keras():
    p = np.array([0.0, 1.0, 1e-7, 1 - 1e-7, 0.1, 0.7, 1 / 3, 2e-7])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1 / 3, 0.1, 1.0, 0.0])
    theirs = _keras_elementwise(p, y, "float64")
    ours = refloss.binary_cross_entropy_keras(p, y, reduction="none")
    # Keras writes log(1 - c), refloss log1p(-c): 1 - c rounds by up to 2^-53, so its log is off by up to 1.1e-16
    np.testing.assert_allclose(theirs, ours, rtol=1e-15, atol=2e-16)
    assert theirs[1] == pytest.approx(-math.log(1 - (1 - 1e-7)), rel=1e-15)  # the float64 bound: 16.118


def test_keras_gradient_is_the_vjp_inside_zero_beyond_and_half_at_the_bound():
    low, high = float(np.float32(1e-7)), 1.0 - 2.0 ** -23
    p = np.array([0.25, 0.9, 0.0, 1.0, low, high], dtype=np.float32)
    y = np.array([1.0, 0.25, 1.0, 0.0, 1.0, 0.0], dtype=np.float32)
    grad_p, grad_y = jax.grad(lambda a, b: keras.ops.binary_crossentropy(b, a).sum(), argnums=(0, 1))(p, y)
    ours_p, ours_y = refloss.binary_cross_entropy_keras_fp32_vjp(np.ones(6), p.astype(float), y.astype(float),
                                                                    reduction="none")
    np.testing.assert_allclose(np.asarray(grad_p[:4], float), ours_p[:4], rtol=1e-6)
    # jnp.clip passes half the slope at a bound (refloss: all of it, TensorFlow's clip_by_value)
    np.testing.assert_allclose(np.asarray(grad_p[4:], float), ours_p[4:] / 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(grad_y, float), ours_y, rtol=1e-6)


def test_keras_averages_float64_in_float32():
    # Why the adapter runs float32 and lower only: keras.ops.mean, which ends every Keras loss, computes in
    # result_type(float64, "float32") = float32 in Keras 3.15.1 (this test fails once Keras keeps float64).
    third = jnp.asarray([1 / 3], dtype="float64")
    mean = keras.ops.mean(third)
    assert mean.dtype == jnp.float64
    assert float(mean) != 1 / 3 and float(mean) == float(np.float32(1 / 3))


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_the_adapter_compares_elementwise_losses_element_by_element(shape, reduction):
    rng = np.random.default_rng(12)
    x, y = (rng.integers(-64, 64, size=shape) / 16 for _ in range(2))
    g = rng.integers(-8, 8, size=shape if reduction == "none" else ()) / 4
    result = ADAPTER.run("huber_loss", {"input": x, "target": y}, {"delta": 1.0}, reduction, g, "float32")
    np.testing.assert_allclose(result.value, refloss.huber_loss(x, y, reduction=reduction), rtol=1e-6)
    for name, ours in zip(("input", "target"), refloss.huber_loss_vjp(g, x, y, reduction=reduction)):
        np.testing.assert_allclose(result.grads[name], ours, rtol=1e-6, atol=1e-7)


def test_keras_passes_except_its_recorded_deviations():
    path = SUITE / "expectations" / "keras.json"
    if not path.is_file():
        pytest.skip("conformance/expectations/keras.json (the recorded deviations of Keras 3.15.1) is not there")
    expectations = validator.load_expectations(path)
    # float32 only: bfloat16 and float16 add rounding, not new code paths (`refloss conformance check --impl keras`
    # runs all three), and Keras recompiles its primitives for every new shape and dtype.
    report = validator.check(ADAPTER, SUITE, expectations=expectations, dtypes=["float32"])
    assert not report.failed, validator.format_table(report)
    assert report.counts()["xpass"] == 0  # every recorded deviation still happens
    assert {o.uid for o in report.outcomes if o.status == "xfail"} == set(expectations)
    assert all(o.status == "skip" for o in report.outcomes if o.name.endswith(" [defaults]"))
