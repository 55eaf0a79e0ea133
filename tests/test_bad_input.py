"""Every bad-input path raises ValueError/TypeError with a message naming the argument, the expectation and what
was received (DESIGN.md, "Bad input")."""

import numpy as np
import pytest

import refloss

REGRESSION = [n for n in refloss.registry.names() if refloss.registry.get(n).family == "regression"]
WEIGHTED = [n for n in REGRESSION if any(p.name == "weight" for p in refloss.registry.get(n).params)]


def _both(spec, *args, **kwargs):
    """Call the forward and the VJP (with a valid cotangent) with the same arguments; collect both errors."""
    errors = []
    for call in (lambda: spec.forward(*args, **kwargs), lambda: spec.vjp(1.0, *args, **kwargs)):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        errors.append(info)
    return errors


@pytest.mark.parametrize("name", REGRESSION)
def test_column_against_vector_is_refused_not_broadcast(name):
    # (N, 1) against (N,) would broadcast to (N, N) in PyTorch (with only a warning).
    for info in _both(refloss.registry.get(name), np.zeros((3, 1)), np.zeros(3)):
        assert info.type is ValueError
        assert "target must have the same shape as input (3, 1), got (3,)" in str(info.value)


@pytest.mark.parametrize("name", REGRESSION)
@pytest.mark.parametrize("bad, dtype", [(np.array([True, False]), "bool"), (np.array([1j, 2]), "complex128"),
                                        (np.array(["a", "b"]), "<U1"), (np.array([None, 1.0]), "object")])
def test_non_real_dtypes_are_refused(name, bad, dtype):
    spec = refloss.registry.get(name)
    for info in _both(spec, bad, np.zeros(2)):
        assert info.type is TypeError
        assert f"input must be an array of real numbers (integer or float), got dtype {dtype}" in str(info.value)
    for info in _both(spec, np.zeros(2), bad):
        assert "target must be an array of real numbers" in str(info.value)


@pytest.mark.parametrize("name", REGRESSION)
@pytest.mark.parametrize("reduction", ["avg", "Mean", None, 1])
def test_unknown_reduction(name, reduction):
    for info in _both(refloss.registry.get(name), [1.0], [0.0], reduction=reduction):
        assert info.type is ValueError
        assert f"reduction must be one of 'none', 'mean', 'sum', got {reduction!r}" in str(info.value)


@pytest.mark.parametrize("name, param, value, message", [
    ("smooth_l1_loss", "beta", -1.0, "beta must be in [0, inf), got -1.0"),
    ("smooth_l1_loss", "beta", float("nan"), "beta must be in [0, inf), got nan"),
    ("smooth_l1_loss", "beta", float("inf"), "beta must be in [0, inf), got inf"),
    ("huber_loss", "delta", 0.0, "delta must be in (0, inf), got 0.0"),
    ("huber_loss", "delta", -2.0, "delta must be in (0, inf), got -2.0"),
    ("balanced_l1_loss", "alpha", 0.0, "alpha must be in (0, inf), got 0.0"),
    ("balanced_l1_loss", "gamma", -1.5, "gamma must be in (0, inf), got -1.5"),
    ("balanced_l1_loss", "beta", 0.0, "beta must be in (0, inf), got 0.0"),
    ("balanced_l1_loss", "alpha", 1e-3, "gamma / alpha must be below 709.78"),
])
def test_parameter_out_of_domain(name, param, value, message):
    for info in _both(refloss.registry.get(name), [1.0], [0.0], **{param: value}):
        assert info.type is ValueError
        assert message in str(info.value)


@pytest.mark.parametrize("name, param", [("smooth_l1_loss", "beta"), ("huber_loss", "delta"),
                                         ("balanced_l1_loss", "gamma")])
@pytest.mark.parametrize("value", ["1.0", None, True, np.array([1.0, 2.0])])
def test_parameter_of_wrong_type(name, param, value):
    for info in _both(refloss.registry.get(name), [1.0], [0.0], **{param: value}):
        assert info.type is TypeError
        assert f"{param} must be a real number in" in str(info.value)
        assert f"of type {type(value).__name__}" in str(info.value)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="delta"):
        refloss.smooth_l1_loss([1.0], [0.0], delta=1.0)


@pytest.mark.parametrize("name", WEIGHTED)
@pytest.mark.parametrize("weight, message", [
    (np.ones(3), "weight must have the same shape as input (2,), got (3,)"),
    (np.array([1.0, -0.5]), "weight must be non-negative, got minimum -0.5"),
    (np.array([1.0, np.nan]), "weight must be finite, got NaN or Inf"),
    (np.array([True, False]), "weight must be an array of real numbers"),
])
def test_bad_weight(name, weight, message):
    for info in _both(refloss.registry.get(name), [1.0, 2.0], [0.0, 0.0], weight=weight):
        assert message in str(info.value)


@pytest.mark.parametrize("name", REGRESSION)
@pytest.mark.parametrize("reduction, grad_output, expected", [
    ("mean", np.ones(2), "grad_output must have the shape of the loss output (), got (2,)"),
    ("none", 1.0, "grad_output must have the shape of the loss output (2,), got ()"),
    ("none", np.ones((2, 1)), "grad_output must have the shape of the loss output (2,), got (2, 1)"),
])
def test_grad_output_of_wrong_shape(name, reduction, grad_output, expected):
    spec = refloss.registry.get(name)
    with pytest.raises(ValueError) as info:
        spec.vjp(grad_output, [1.0, 2.0], [0.0, 0.0], reduction=reduction)
    assert expected in str(info.value)


@pytest.mark.parametrize("name", REGRESSION)
def test_grad_output_of_wrong_dtype(name):
    with pytest.raises(TypeError, match="grad_output must be an array of real numbers"):
        refloss.registry.get(name).vjp(np.array(True), [1.0], [0.0])
