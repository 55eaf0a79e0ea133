"""Every bad-input path raises ValueError/TypeError with a message naming the argument, the expectation and what
was received (DESIGN.md, "Bad input")."""

from decimal import Decimal

import numpy as np
import pytest

import refloss

REGRESSION = [n for n in refloss.registry.names() if refloss.registry.get(n).family == "regression"]
REGRESSION = [n for n in REGRESSION if n not in ("poisson_nll_loss", "gaussian_nll_loss")]  # (test_poisson.py)
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


# ---- inputs that NumPy would convert by losing information (issue 7, "API friction") --------------------------

ALL = refloss.registry.names()


def _valid_call_arguments(spec):
    """A small valid case of ``spec``: its positional inputs and the cotangent of the default reduction."""
    from refloss.testing import sample_case

    case = sample_case(spec, np.random.default_rng(0), leading_shape=(2,))
    return case.inputs, case.grad_output


@pytest.mark.parametrize("name", ALL)
def test_masked_arrays_are_refused_naming_the_argument(name):
    # np.asarray drops the mask, so the masked values would count as data: every loss must refuse instead.
    spec = refloss.registry.get(name)
    inputs, grad_output = _valid_call_arguments(spec)
    for position, inp in enumerate(spec.inputs):
        masked = list(inputs)
        masked[position] = np.ma.array(inputs[position], mask=np.ones(np.shape(inputs[position]), dtype=bool))
        for call in (lambda: spec.forward(*masked), lambda: spec.vjp(grad_output, *masked)):
            with pytest.raises(TypeError) as info:
                call()
            message = str(info.value)
            assert message.startswith(f"{inp.name} is a NumPy masked array"), message
            assert "refloss does not apply masks" in message and f"np.ma.getdata({inp.name}) alone" in message


def test_masked_grad_output_and_weight_are_refused():
    with pytest.raises(TypeError, match="^grad_output is a NumPy masked array"):
        refloss.mse_loss_vjp(np.ma.array([1.0, 2.0], mask=[0, 1]), [1.0, 2.0], [0.0, 0.0], reduction="none")
    with pytest.raises(TypeError, match="^weight is a NumPy masked array with 1 of 2 entries masked"):
        refloss.mse_loss([1.0, 2.0], [0.0, 0.0], weight=np.ma.array([1.0, 2.0], mask=[0, 1]))


def test_the_remedies_the_message_suggests_work():
    x, y = np.ma.array([1.0, 5.0, 3.0], mask=[0, 1, 0]), np.array([0.0, 1.0, 1.0])
    assert refloss.mse_loss(x[~x.mask], y[~x.mask]) == 2.5  # a masked array with nothing masked loses nothing
    # mse's weighted mean divides by the weight sum, so a 0/1 weight gives the mean over the unmasked entries
    assert refloss.mse_loss(np.ma.getdata(x), y, weight=(~x.mask).astype(float)) == 2.5
    assert refloss.mse_loss(np.ma.getdata(x), y) == 21.0 / 3


def test_a_masked_array_with_nothing_masked_is_its_data():
    x = np.ma.array([1.0, 2.0])
    assert refloss.l1_loss(x, [0.0, 0.0]) == 1.5
    np.testing.assert_array_equal(refloss.l1_loss_vjp(np.ones(2), x, [0.0, 0.0], reduction="none")[0], [1.0, 1.0])


@pytest.mark.parametrize("name", REGRESSION + ["binary_cross_entropy_with_logits", "sigmoid_focal_loss"])
def test_ragged_lists_are_refused_naming_the_argument(name):
    spec = refloss.registry.get(name)
    first, second = (inp.name for inp in spec.inputs)
    for info in _both(spec, [[0.5, 0.5], [0.5]], [[0.0, 0.0], [0.0, 0.0]]):
        assert info.type is ValueError
        assert str(info.value).startswith(f"{first} must be a rectangular array"), str(info.value)
        assert "inhomogeneous shape" in str(info.value)  # NumPy's detail (which dimension) is kept
    for info in _both(spec, [[0.5, 0.5], [0.5, 0.5]], [[0.0], [0.0, 0.0]]):
        assert str(info.value).startswith(f"{second} must be a rectangular array"), str(info.value)


def test_ragged_class_indices_are_refused_naming_the_target():
    with pytest.raises(ValueError, match="^target must be a rectangular array"):
        refloss.cross_entropy(np.zeros((2, 2, 3)), [[0, 1, 1], [0]])
    with pytest.raises(ValueError, match="^target must be a rectangular array"):
        refloss.multi_margin_loss(np.zeros((2, 3)), [[0], []])


@pytest.mark.parametrize("name", REGRESSION)
def test_python_integers_beyond_int64_are_real_numbers(name):
    # NumPy stores [10**30] as dtype object; the loss must equal the one of the same value given as a float.
    spec = refloss.registry.get(name)
    kwargs = {"reduction": "none"}
    big, small = [10**30, 7, 2**64 + 1], [0, 10**25, -(10**40)]
    as_floats = [float(v) for v in big], [float(v) for v in small]
    np.testing.assert_array_equal(spec.forward(big, small, **kwargs), spec.forward(*as_floats, **kwargs))
    for got, want in zip(spec.vjp(np.ones(3), big, small, **kwargs), spec.vjp(np.ones(3), *as_floats, **kwargs)):
        np.testing.assert_array_equal(got, want)


def test_big_integers_in_object_arrays_mixed_with_floats_and_inside_nested_lists():
    assert refloss.l1_loss([[10**30, 0.5]], [[0, 0.5]], reduction="sum") == 1e30
    assert refloss.l1_loss(np.array([2**70], dtype=object), [0]) == 2.0**70


@pytest.mark.parametrize("bad, shown", [([None, 1.0], "None of type NoneType"), ([10**30, "a"], "'a' of type str"),
                                        ([10**30, True], "True of type bool"), ([10**30, 1j], "1j of type complex"),
                                        ([10**30, Decimal("1.5")], "Decimal('1.5') of type Decimal")])
def test_objects_that_are_not_real_numbers_are_still_refused(bad, shown):
    for info in _both(refloss.registry.get("mse_loss"), bad, [0.0, 0.0]):
        assert info.type is TypeError
        assert str(info.value) == ("input must be an array of real numbers (integer or float), got dtype object "
                                   f"holding {shown}")


def test_an_integer_beyond_float64_is_refused_naming_the_argument():
    for info in _both(refloss.registry.get("mse_loss"), [0.0], [10**400]):
        assert info.type is ValueError
        assert str(info.value) == "target holds an integer too large for float64 (beyond ±1.8e308)"


# ---- scalar parameters given as 0-d arrays ----------------------------------------------------------------------

@pytest.mark.parametrize("value", [np.array(0.5), np.array(0.5, dtype=np.float32), np.float32(0.5),
                                   np.array(1, dtype=np.int8), np.uint16(3), 2])
def test_zero_dimensional_real_arrays_are_accepted_like_numbers(value):
    # np.array(0.5) is what x.max() or a config loaded with NumPy gives; it means the same as 0.5.
    expected = refloss.smooth_l1_loss([1.0, -0.25], [0.0, 0.0], beta=float(value))
    assert refloss.smooth_l1_loss([1.0, -0.25], [0.0, 0.0], beta=value) == expected
    expected_grads = refloss.smooth_l1_loss_vjp(1.0, [1.0, -0.25], [0.0, 0.0], beta=float(value))
    for got, want in zip(refloss.smooth_l1_loss_vjp(1.0, [1.0, -0.25], [0.0, 0.0], beta=value), expected_grads):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("value, detail", [
    (np.array(True), "got array(True) of type ndarray with dtype bool (integer or float expected)"),
    (np.bool_(False), "of type bool"),
    (np.array(1 + 0j), "with dtype complex128 (integer or float expected)"),
    (np.array([0.5]), "got array([0.5]) of type ndarray with shape (1,) (a scalar parameter takes one number)"),
    (np.ones((1, 1)), "with shape (1, 1)"),
    (np.array("0.5"), "with dtype <U3"),
])
def test_other_arrays_and_booleans_are_refused_naming_the_parameter(value, detail):
    for info in _both(refloss.registry.get("smooth_l1_loss"), [1.0], [0.0], beta=value):
        assert info.type is TypeError
        assert str(info.value).startswith("beta must be a real number in [0, inf), got ")
        assert detail in str(info.value)


def test_zero_dimensional_arrays_are_still_checked_against_the_domain():
    for info in _both(refloss.registry.get("huber_loss"), [1.0], [0.0], delta=np.array(-1.0)):
        assert info.type is ValueError and str(info.value) == "delta must be in (0, inf), got -1.0"
    for info in _both(refloss.registry.get("huber_loss"), [1.0], [0.0], delta=10**400):
        assert str(info.value) == "delta must be in (0, inf), got an integer too large for float64"


# ---- cross_entropy: class indices or probabilities, decided by dtype -------------------------------------------

@pytest.mark.parametrize("target, expected", [
    # float class indices: read as probabilities, and the message says how to pass class indices
    ([0.0, 1.0], "probability target must have the shape of input (2, 3), got (2,): a target of dtype float64 is "
                 "read as class probabilities; class indices need an integer dtype and shape (2,); if these are "
                 "class indices, convert them with np.asarray(target, dtype=np.int64)"),
    # an empty Python list is float64 too
    ([], "probability target must have the shape of input (2, 3), got (0,): a target of dtype float64 is read as "
         "class probabilities; class indices need an integer dtype and shape (2,); an empty list [] becomes a "
         "float64 array: write np.array([], dtype=np.int64) for an empty array of class indices"),
    # not whole numbers: no conversion is suggested
    ([0.25, 1.0], "got (2,): a target of dtype float64 is read as class probabilities; class indices need an "
                  "integer dtype and shape (2,)"),
    # integers are class indices; a one-hot integer target says how to pass probabilities
    (np.eye(3, dtype=int)[:2], "target of class indices must have shape (2,) for input of shape (2, 3), got (2, 3): "
                               "a target of dtype int64 is read as class indices; class probabilities need a float "
                               "dtype and the input's shape (2, 3); if these are probabilities (one-hot rows), "
                               "convert them with np.asarray(target, dtype=np.float64)"),
    ([0, 1, 2], "got (3,): a target of dtype int64 is read as class indices; class probabilities need a float dtype "
                "and the input's shape (2, 3)"),
])
def test_cross_entropy_shape_errors_say_how_the_target_was_read(target, expected):
    for info in _both(refloss.registry.get("cross_entropy"), np.zeros((2, 3)), target):
        assert info.type is ValueError
        assert expected in str(info.value)
        if isinstance(target, list) and target[-1:] != [1.0]:
            assert "if these are class indices" not in str(info.value)


def test_cross_entropy_empty_list_target_for_an_empty_batch():
    # The one case where [] has the right shape for class indices: the message points at the integer dtype.
    with pytest.raises(ValueError, match=r"an empty list \[\] becomes a float64 array"):
        refloss.cross_entropy(np.zeros((0, 3)), [])
    assert np.isnan(refloss.cross_entropy(np.zeros((0, 3)), np.array([], dtype=np.int64)))  # the remedy works


def test_following_the_cross_entropy_hint_gives_the_class_index_loss():
    x = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]])
    assert refloss.cross_entropy(x, np.asarray([0.0, 1.0], dtype=np.int64)) == refloss.cross_entropy(x, [0, 1])


def test_nll_loss_float_targets_say_how_to_pass_class_indices():
    for target, hint in [([0.0, 1.0], "convert them with np.asarray(target, dtype=np.int64)"),
                         ([], "an empty list [] becomes a float64 array")]:
        for info in _both(refloss.registry.get("nll_loss"), np.zeros((2, 3)), target):
            assert info.type is TypeError
            assert str(info.value).startswith("target must be an array of integer class indices, got dtype float64; ")
            assert hint in str(info.value)


def test_ignore_index_with_float_targets_says_they_were_read_as_probabilities():
    for info in _both(refloss.registry.get("cross_entropy"), np.zeros((2, 3)), [0.0, 2.0], ignore_index=2):
        assert str(info.value).startswith("ignore_index applies to class-index targets only; got ignore_index=2 "
                                          "with probability targets (a target of dtype float64 is read as class "
                                          "probabilities")
        assert "np.asarray(target, dtype=np.int64)" in str(info.value)


def test_changed_messages_keep_their_conformance_error_category():
    # refloss/conformance/errors.py maps message prefixes to categories; the longer messages must still map.
    from refloss.conformance.errors import classify

    for call, category in [
        (lambda: refloss.cross_entropy(np.zeros((2, 3)), [0.0, 1.0]), "shape_mismatch"),
        (lambda: refloss.cross_entropy(np.zeros((2, 3)), []), "shape_mismatch"),
        (lambda: refloss.cross_entropy(np.zeros((2, 3)), np.eye(3, dtype=int)[:2]), "shape_mismatch"),
        (lambda: refloss.multi_margin_loss(np.zeros((2, 3)), np.array([0, 1, 2])), "shape_mismatch"),
        (lambda: refloss.smooth_l1_loss([1.0], [0.0], beta=np.array(-1.0)), "invalid_parameter"),
        (lambda: refloss.smooth_l1_loss([1.0], [0.0], beta=np.array([1.0])), "invalid_parameter"),
        (lambda: refloss.smooth_l1_loss([1.0], [0.0], beta=10**400), "invalid_parameter"),
    ]:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert classify(info.value) == category, str(info.value)
