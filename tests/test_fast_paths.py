"""The fast paths give the readable evaluation's results: gradients bit for bit, values within a few ulps.

``refloss._blocks`` evaluates a loss's kernel block by block (and, for ``refloss.value_and_vjp``, value and VJP in
one pass); ``cross_entropy`` has a class-index path that never forms one-hot rows. ``readable_evaluation()`` turns
both off: every kernel runs once on the whole arrays and cross-entropy uses its dense formulas, as the docs teach.
Every golden vector of every loss, and random cases drawn by Hypothesis with blocks of a few elements (so that many
block boundaries fall inside one input), are evaluated both ways. Timings are not tested here: see ``refloss
bench``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refloss
from refloss import _blocks, registry
from refloss.conformance.check import decode, load_tests
from refloss.testing.strategies import cases

LOSSES = registry.names("loss") + registry.names("detector")
FUSED = [name for name in LOSSES if registry.get(name).value_and_vjp is not None]
EPS = np.finfo(np.float64).eps


def _vectors():
    return [test for test in load_tests() if test.loss in LOSSES and test.data["result"] != "invalid"]


def _call(spec, inputs, kwargs, cotangent, fused=False):
    """(value, gradients) of one evaluation; value_and_vjp when ``fused``."""
    if fused:
        return refloss.value_and_vjp(spec.name, cotangent, *inputs, **kwargs)
    return spec.forward(*inputs, **kwargs), spec.vjp(cotangent, *inputs, **kwargs)


def assert_same_gradients(fast, readable, what):
    assert len(fast) == len(readable), what
    for i, (a, b) in enumerate(zip(fast, readable)):
        if a is None or b is None:
            assert a is None and b is None, f"{what}: gradient {i}"
            continue
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, f"{what}: gradient {i}"
        # bit for bit: equal values, NaN where NaN, and the same sign on every zero (a NaN's sign means nothing)
        numbers = ~np.isnan(b)
        assert np.array_equal(a, b, equal_nan=True) and \
            np.array_equal(np.signbit(a[numbers]), np.signbit(b[numbers])), \
            f"{what}: gradient {i} differs by up to {np.nanmax(np.abs(a - b))}"


def assert_close_values(fast, readable, what, count, reduced=False):
    """Values: the unreduced loss bit for bit; a mean or sum (or each entry of a detector's (total, *terms), all
    ``reduced``) within the rounding of a sum of ``count`` non-negative terms: both sums are within
    (log2 n + 1) eps of the exact one (the blocked one is the more accurate)."""
    a, b = np.asarray(fast, dtype=np.float64), np.asarray(readable, dtype=np.float64)
    assert a.shape == b.shape, what
    if a.ndim and not reduced:
        assert np.array_equal(a, b, equal_nan=True), f"{what}: unreduced values differ"
        return
    finite = np.isfinite(b)
    assert np.array_equal(a[~finite], b[~finite], equal_nan=True), f"{what}: {a} against {b}"
    allowed = 2 * (math.log2(max(count, 1)) + 2) * EPS * np.abs(b[finite])
    error = np.abs(a[finite] - b[finite])
    assert np.all(error <= allowed), f"{what}: {a!r} against {b!r}"


def _compare(spec, inputs, kwargs, cotangent, what):
    with _blocks.readable_evaluation():
        value, grads = _call(spec, inputs, kwargs, cotangent)
    count = int(np.size(inputs[0]))
    for label, settings_ in (("blocked", None), ("tiny blocks", 24)):
        for fused in (False, True):
            context = _blocks.block_bytes(settings_) if settings_ else _blocks.block_bytes(_blocks.BLOCK_BYTES)
            with context:
                fast_value, fast_grads = _call(spec, inputs, kwargs, cotangent, fused)
            name = f"{what}, {label}{', fused' if fused else ''}"
            assert_same_gradients(fast_grads, grads, name)
            if spec.terms:
                assert_close_values(spec.output_vector(fast_value), spec.output_vector(value), name, count, True)
            else:
                assert_close_values(fast_value, value, name, count)


@pytest.mark.parametrize("test", _vectors(), ids=str)
def test_golden_vectors_give_the_readable_results(test):
    spec = registry.get(test.loss)
    decoded = test.decoded_inputs()
    inputs = [decoded[i.name] for i in spec.inputs]
    kwargs = test.decoded_params()
    reduction = test.data["attributes"].get("reduction")
    if reduction is not None:
        kwargs["reduction"] = reduction["choice"] if isinstance(reduction, dict) else reduction
    if "cotangent" not in test.data:
        pytest.skip("a vector of a function without a VJP")
    cotangent = spec.cotangent_of(decode(test.data["cotangent"]))
    _compare(spec, inputs, kwargs, cotangent, test.uid)


@pytest.mark.parametrize("name", FUSED)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_cases_give_the_readable_results_across_many_blocks(name, data):
    spec = registry.get(name)
    case = data.draw(cases(spec, max_dims=2, max_side=12), label="case")
    item_bytes = data.draw(st.sampled_from([8, 16, 24, 40]), label="block bytes")
    with _blocks.readable_evaluation():
        value, grads = _call(spec, case.inputs, case.kwargs(), case.grad_output)
    for fused in (False, True):
        with _blocks.block_bytes(item_bytes):
            fast_value, fast_grads = _call(spec, case.inputs, case.kwargs(), case.grad_output, fused)
        what = f"{name}, {case.describe()}, blocks of {item_bytes} bytes{', fused' if fused else ''}"
        assert_same_gradients(fast_grads, grads, what)
        assert_close_values(fast_value, value, what, int(np.size(case.inputs[0])))


def _example_inputs(spec, rng, count=300):
    """Valid inputs of ``count`` items for a loss with a fused evaluation: boxes, logits and labels, or pairs."""
    if spec.inputs[0].kind == "box":
        corners = rng.uniform(0.0, 10.0, size=(2, count, 2))
        sides = rng.uniform(0.0, 5.0, size=(2, count, 2))
        return tuple(np.concatenate([c, c + s], axis=-1) for c, s in zip(corners, sides))
    sample = spec.inputs[0].sample or spec.inputs[0].domain
    bounded = sample is not None and np.isfinite(sample.low) and np.isfinite(sample.high)
    x = rng.uniform(sample.low, sample.high, size=(count, 7)) if bounded else rng.normal(size=(count, 7))
    if spec.inputs[1].kind == "int":
        return x, rng.integers(0, 7, size=count)
    if spec.inputs[1].domain.low == 0.0 and spec.inputs[1].domain.high == 1.0:
        return x, (rng.random((count, 7)) < 0.3).astype(np.float64)
    return x, rng.normal(size=(count, 7))


@pytest.mark.parametrize("name", FUSED)
def test_the_fused_value_is_the_forward_and_its_gradients_the_vjp(name):
    spec = registry.get(name)
    rng = np.random.default_rng(7)
    inputs = _example_inputs(spec, rng)
    for reduction in ("none", "mean", "sum"):
        cotangent = rng.normal(size=spec.output_shape(inputs[0].shape, reduction))
        with _blocks.block_bytes(1024):  # several blocks
            value, grads = refloss.value_and_vjp(name, cotangent, *inputs, reduction=reduction)
            assert np.array_equal(value, spec.forward(*inputs, reduction=reduction), equal_nan=True)
            assert_same_gradients(grads, spec.vjp(cotangent, *inputs, reduction=reduction), f"{name}, {reduction}")


def test_value_and_vjp_refuses_a_function_without_a_gradient_and_an_unknown_name():
    with pytest.raises(ValueError, match="box_iou has no gradient"):
        refloss.value_and_vjp("box_iou", 1.0, np.zeros((1, 4)), np.zeros((1, 4)))
    with pytest.raises(KeyError, match="did you mean mse_loss"):
        refloss.value_and_vjp("mse_los", 1.0, [1.0], [0.0])


@pytest.mark.parametrize("name", FUSED)
def test_bad_input_gives_the_same_error_fused_and_separate(name):
    spec = registry.get(name)
    x, other = _example_inputs(spec, np.random.default_rng(0), count=3)
    for bad_call in (lambda f: f(x, other, reduction="average"),
                     lambda f: f(x[:2], other, reduction="mean")):
        with pytest.raises(ValueError) as separate:
            bad_call(spec.forward)
        with pytest.raises(ValueError) as fused:
            bad_call(lambda *a, **k: refloss.value_and_vjp(name, 1.0, *a, **k))
        assert str(fused.value) == str(separate.value)
    with pytest.raises(ValueError, match="grad_output must have the shape"):
        refloss.value_and_vjp(name, np.ones(5), x, other, reduction="mean")
    for call in (spec.vjp, lambda *a, **k: refloss.value_and_vjp(name, *a, **k)):  # None is not "no gradient"
        with pytest.raises(TypeError, match="grad_output must be an array of real numbers"):
            call(None, x, other, reduction="mean")


@functools.lru_cache(maxsize=1)
def _valid_vectors_by_function():
    by_name = {}
    for test in load_tests():
        if test.data["result"] != "invalid":
            by_name.setdefault(test.loss, []).append(test)
    return by_name


@pytest.mark.parametrize("name", registry.names(None))
def test_read_only_inputs_are_read_and_no_output_shares_their_memory(name):
    """Float64 inputs are no longer copied, so nothing may write to them (a read-only array would raise) and
    nothing returned may be a view of an input or of the cotangent (the caller could then change a result by
    changing an argument), on every valid vector of every registered function."""
    spec = registry.get(name)
    vectors = _valid_vectors_by_function().get(name, [])
    assert vectors, f"{name} has no valid vector"
    for vector in vectors:
        decoded = vector.decoded_inputs()
        inputs = [decoded[i.name] for i in spec.inputs]
        kwargs = vector.decoded_params()
        reduction = vector.data["attributes"].get("reduction")
        if reduction is not None:
            kwargs["reduction"] = reduction
        arguments = list(inputs)
        for array in inputs:
            array.setflags(write=False)
        value = spec.forward(*inputs, **kwargs)
        outputs = list(value) if isinstance(value, tuple) else [value]
        if spec.vjp is not None and "cotangent" in vector.data:
            cotangent = decode(vector.data["cotangent"])
            arguments.append(cotangent)
            cotangent = spec.cotangent_of(cotangent)
            if isinstance(cotangent, np.ndarray):
                arguments.append(cotangent)
            for array in arguments[len(inputs):]:
                array.setflags(write=False)
            outputs += [g for g in refloss.value_and_vjp(name, cotangent, *inputs, **kwargs)[1] if g is not None]
        outputs = [v for output in outputs for v in (output.values() if isinstance(output, dict) else [output])]
        for output in outputs:
            for array in arguments:
                assert not np.shares_memory(np.asarray(output), array), \
                    f"{vector.uid}: an output of {name} is a view of an argument"
