"""Every registered VJP against autograd and central finite differences, on standard and Hypothesis cases."""

import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import refloss
from refloss.testing import (Case, assert_matches_reference, assert_vjp_matches_autograd,
                             assert_vjp_matches_finite_differences, autograd_vjp, differentiated_inputs,
                             finite_difference_vjp, relative_error, sample_case, standard_cases)
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
    if spec.family == "boxes":
        # A box loss divides by areas plus eps. With a box whose area is below eps (a zero-width box inside a target
        # 1e-111 wide), the VJP's terms are the cotangent over eps, 1e7 for eps = 1e-7, and they cancel to a true
        # derivative of 0 while leaving half an ulp of 1e7 (seen: 9.3e-10, the same for cotangents 1 and 0.75),
        # which no tolerance relative to the cotangent can tell from a wrong scaling. Those cases are checked
        # against the exact oracle by the golden vectors instead (their degenerate-box vectors).
        eps = case.kwargs().get("eps", 0.0)
        assume(all(np.all((boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]) > eps)
                   for boxes in case.inputs[:2]))
    combined = spec.vjp(a * case.grad_output + b * other, *case.inputs, **case.kwargs())
    first = spec.vjp(case.grad_output, *case.inputs, **case.kwargs())
    second = spec.vjp(other, *case.inputs, **case.kwargs())
    for c, f, s in zip(combined, first, second):
        if c is None:  # a constant input (labels): no gradient, whatever the cotangent
            assert f is None and s is None
            continue
        # An entry whose terms cancel inside the VJP (a gradient entry of 0 next to one of 4e6: degenerate boxes)
        # keeps rounding errors of the size of those terms, which scaling the cotangent changes: the absolute
        # tolerance is relative to the largest entry, the size of the terms that cancel.
        size = max(1.0, float(np.max(np.abs(a * f), initial=0.0)), float(np.max(np.abs(b * s), initial=0.0)))
        np.testing.assert_allclose(c, a * f + b * s, rtol=1e-12, atol=1e-12 * size)


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


# ---- checking a user's own forward and VJP ----------------------------------------------------------------------

def _reduce(loss, reduction):
    return {"none": loss, "sum": np.sum(loss), "mean": np.mean(loss)}[reduction]


def my_mse(input, target, *, reduction="mean", weight=None):
    """An MSE written from the formula alone, as a user would (no weight support needed for these cases)."""
    return _reduce((np.asarray(input) - np.asarray(target)) ** 2, reduction)


def my_mse_vjp(grad_output, input, target, *, reduction="mean", weight=None):
    d = np.asarray(input) - np.asarray(target)
    g = np.asarray(grad_output) / d.size if reduction == "mean" else np.asarray(grad_output)
    return 2 * g * d, -2 * g * d


def my_cross_entropy(input, target, *, reduction="mean", **_):
    x = np.asarray(input)
    log_p = x - x.max(axis=1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return _reduce(-log_p[np.arange(len(target)), target], reduction)


def my_cross_entropy_vjp(grad_output, input, target, *, reduction="mean", **_):
    x = np.asarray(input)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(target)), target] -= 1
    g = np.asarray(grad_output) / len(target) if reduction == "mean" else np.asarray(grad_output)
    return p * np.reshape(g, (-1, 1)) if reduction == "none" else p * g, None


# (name, forward, vjp, what "..." stands for: my_cross_entropy only handles inputs of shape (N, C))
USER_LOSSES = [("mse_loss", my_mse, my_mse_vjp, (5,)), ("cross_entropy", my_cross_entropy, my_cross_entropy_vjp, ())]


@pytest.mark.parametrize("name, forward, vjp, leading_shape", USER_LOSSES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_a_correct_user_implementation_passes_every_check(name, forward, vjp, leading_shape, reduction):
    rng = np.random.default_rng(3)
    for _ in range(5):
        case = sample_case(name, rng, leading_shape=leading_shape, reduction=reduction)
        assert assert_matches_reference(name, case, forward=forward, vjp=vjp) < 1e-13
        assert assert_vjp_matches_finite_differences(name, case, forward=forward, vjp=vjp) < 1e-8
        assert assert_vjp_matches_finite_differences(name, case, vjp=vjp) < 1e-8  # against refloss's forward
        assert assert_vjp_matches_autograd(name, case, vjp=vjp) < 1e-13  # autograd of refloss's forward


def test_the_checks_call_the_users_functions_not_refloss():
    calls = []

    def forward(*args, **kwargs):
        calls.append("forward")
        return my_mse(*args, **kwargs)

    def vjp(*args, **kwargs):
        calls.append("vjp")
        return my_mse_vjp(*args, **kwargs)

    case = Case((np.array([1.0, 2.0]), np.array([0.0, 0.5])), {}, "sum", np.float64(1.0))
    assert_vjp_matches_finite_differences("mse_loss", case, forward=forward, vjp=vjp)
    assert calls.count("forward") == 8 and calls.count("vjp") == 1  # 2 inputs x 2 entries x 2 sides
    calls.clear()
    assert_matches_reference("mse_loss", case, forward=forward, vjp=vjp)
    assert calls == ["forward", "vjp"]


def _failure(check, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_a_wrong_target_gradient_is_named_with_its_error_index_and_the_case():
    def wrong_sign(grad_output, input, target, **kwargs):
        grad_input, grad_target = my_mse_vjp(grad_output, input, target, **kwargs)
        return grad_input, grad_input  # the target's gradient has the wrong sign

    case = Case((np.array([1.0, 2.0, 4.0]), np.array([0.0, 0.5, 1.0])), {}, "sum", np.float64(0.5))
    for message in (_failure(assert_matches_reference, "mse_loss", case, vjp=wrong_sign),
                    _failure(assert_vjp_matches_finite_differences, "mse_loss", case, forward=my_mse, vjp=wrong_sign),
                    _failure(assert_vjp_matches_autograd, "mse_loss", case, vjp=wrong_sign)):
        first_line, *details = message.splitlines()
        assert first_line.startswith("test_a_wrong_target_gradient_is_named_with_its_error_index_and_the_case."
                                     "<locals>.wrong_sign differs from ")
        # target gradient -2 g d = [-1, -1.5, -3], got [1, 1.5, 3]: worst |3 - (-3)| / max(1, 3) = 2 at index 2
        assert "by 2 (> " in first_line and "for shapes (3,), (3,), reduction=sum" in first_line
        target_line = next(line for line in details if line.startswith("  gradient w.r.t. target: "))
        # finite differences give -3 within ~1e-10, hence the pattern
        assert re.fullmatch(r"  gradient w.r.t. target: error 2; got 3.0, expected -3.0(00000000\d*)? at index \(2,\)",
                            target_line), target_line
        assert "gradient w.r.t. input" not in message  # the right gradient is not blamed
        assert "    input = [1.0, 2.0, 4.0]" in details and "    target = [0.0, 0.5, 1.0]" in details
        assert "    grad_output = 0.5" in details


def test_a_wrong_value_is_caught_by_the_reference_check_only():
    # A forward off by a factor 2 whose VJP is consistent with it: finite differences of the user's own forward
    # cannot see it, the comparison with refloss can. This is why both checks exist.
    def double(input, target, **kwargs):
        return 2 * my_mse(input, target, **kwargs)

    def double_vjp(grad_output, input, target, **kwargs):
        return tuple(2 * g for g in my_mse_vjp(grad_output, input, target, **kwargs))

    case = Case((np.array([1.0, 2.0]), np.array([0.0, 0.0])), {}, "mean", np.float64(1.0))
    assert_vjp_matches_finite_differences("mse_loss", case, forward=double, vjp=double_vjp)
    message = _failure(assert_matches_reference, "mse_loss", case, forward=double, vjp=double_vjp)
    assert "double and " in message and "differ from refloss.mse_loss by 1 (> 1e-10)" in message
    assert "  value: error 1; got 5.0, expected 2.5\n" in message
    assert "  gradient w.r.t. input: error 1; got 4.0, expected 2.0 at index (1,)" in message


def test_a_vjp_with_the_wrong_number_of_gradients_or_a_gradient_for_labels():
    case = sample_case("cross_entropy", np.random.default_rng(0), leading_shape=())
    message = _failure(assert_matches_reference, "cross_entropy", case,
                       vjp=lambda g, x, y, **kw: my_cross_entropy_vjp(g, x, y, **kw)[0])
    assert "returned a ndarray, not a tuple of gradients for the 2 inputs (input, target) of cross_entropy" in message
    message = _failure(assert_vjp_matches_finite_differences, "cross_entropy", case,
                       vjp=lambda g, x, y, **kw: (my_cross_entropy_vjp(g, x, y, **kw)[0], np.zeros(3)))
    assert "gradient w.r.t. target: got an array, expected None (target gets no gradient here)" in message


def test_the_reference_check_tolerance_for_a_float32_implementation():
    def float32_mse(input, target, **kwargs):
        return my_mse(np.float32(input), np.float32(target), **kwargs)

    case = sample_case("mse_loss", np.random.default_rng(1), leading_shape=(6,))
    assert "value: error" in _failure(assert_matches_reference, "mse_loss", case, forward=float32_mse)
    assert assert_matches_reference("mse_loss", case, forward=float32_mse, tolerance=1e-5) < 1e-5


def test_the_reference_check_needs_a_function():
    with pytest.raises(TypeError, match="needs forward=, vjp= or both"):
        assert_matches_reference("mse_loss", Case((np.zeros(1), np.zeros(1))))


def test_autograd_of_a_user_forward():
    import autograd.numpy as anp

    def autograd_mse(input, target, *, reduction="mean"):
        loss = (input - target) ** 2
        return anp.mean(loss) if reduction == "mean" else anp.sum(loss)

    case = Case((np.array([1.0, 2.0]), np.array([0.0, 0.5])), {}, "mean", np.float64(1.0))
    assert assert_vjp_matches_autograd("mse_loss", case, forward=autograd_mse, vjp=my_mse_vjp) < 1e-15
    with pytest.raises(TypeError, match="autograd could not differentiate my_mse .*write it with autograd.numpy, or "
                                        "check it with assert_vjp_matches_finite_differences"):
        assert_vjp_matches_autograd("mse_loss", case, forward=my_mse, vjp=my_mse_vjp)


def test_probability_targets_of_cross_entropy_get_their_gradient_checked():
    # A float target is read as probabilities, which have a gradient (C5): every check now compares it.
    x = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
    t = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])  # inside (0, 1): a difference step stays a probability
    case = Case((x, t), {"label_smoothing": 0.1}, "mean", np.float64(1.5))
    assert differentiated_inputs("cross_entropy", case) == [0, 1]
    assert differentiated_inputs("cross_entropy", Case((x, np.array([0, 2])))) == [0]
    assert finite_difference_vjp("cross_entropy", case)[1] is None  # the reference helpers: registry inputs only
    assert finite_difference_vjp("cross_entropy", case, wrt=[0, 1])[1].shape == (2, 3)
    assert assert_vjp_matches_autograd("cross_entropy", case) < 1e-12
    assert assert_vjp_matches_finite_differences("cross_entropy", case) < 1e-6
    spec = refloss.registry.get("cross_entropy")

    def target_sign_flipped(g, *inputs, **kwargs):
        grad_input, grad_target = spec.vjp(g, *inputs, **kwargs)
        return grad_input, -grad_target

    message = _failure(assert_vjp_matches_finite_differences, "cross_entropy", case, vjp=target_sign_flipped)
    assert "gradient w.r.t. target: error" in message and "gradient w.r.t. input" not in message


def test_the_old_calls_still_work():
    # Positional tolerance and a LossSpec record, as before forward= and vjp= existed.
    spec = refloss.registry.get("huber_loss")
    case = sample_case(spec, np.random.default_rng(0), leading_shape=(4,), params={"delta": 0.5})
    assert assert_vjp_matches_autograd(spec, case, 1e-12) < 1e-12
    assert assert_vjp_matches_finite_differences("huber_loss", case, 1e-6) < 1e-6
    assert autograd_vjp("huber_loss", case)[0].shape == (4,)


def test_the_readme_example_runs():
    # The README's snippet, with its "from mypackage import ..." line replaced by a plain NumPy Huber loss.
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Checking gradients in your own tests", 1)[1].split("\n## ", 1)[0]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "from mypackage import my_huber, my_huber_vjp" in snippet
    namespace = {}
    exec(compile(snippet.replace("from mypackage import my_huber, my_huber_vjp", "pass"), "README.md", "exec"),
         namespace)  # the imports and the test function

    def my_huber(input, target, *, reduction="mean", delta=1.0):
        d = np.asarray(input) - np.asarray(target)
        return _reduce(np.where(np.abs(d) < delta, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta)), reduction)

    def my_huber_vjp(grad_output, input, target, *, reduction="mean", delta=1.0):
        d = np.asarray(input) - np.asarray(target)
        g = np.asarray(grad_output) / d.size if reduction == "mean" else np.asarray(grad_output)
        return g * np.clip(d, -delta, delta), -g * np.clip(d, -delta, delta)

    namespace.update(my_huber=my_huber, my_huber_vjp=my_huber_vjp)
    namespace["test_my_huber"]()
    namespace["my_huber_vjp"] = lambda g, x, y, **kw: tuple(2 * v for v in my_huber_vjp(g, x, y, **kw))
    with pytest.raises(AssertionError, match="differ"):  # and it can fail
        namespace["test_my_huber"]()


def test_a_finite_difference_step_out_of_the_domain_is_explained():
    # A probability target of exactly 1: the step to 1 + 6e-6 is refused by the forward; the message says why.
    case = Case((np.zeros((1, 2)), np.array([[1.0, 0.0]])), {}, "sum", np.float64(1.0))
    with pytest.raises(ValueError, match=r"^a finite-difference step of target\[0, 0\] to 1.00000605\d* was refused "
                                         r"\(target must be probabilities in \[0, 1\], got 1.00000605\d*\); keep "
                                         r"every entry of the case at least 6.1e-06·max\(1, \|x\|\) inside its domain"):
        assert_vjp_matches_finite_differences("cross_entropy", case)
