"""ctc_loss: hand-worked values and gradients, the three gradient checks, PyTorch, and bad input."""

import math

import mpmath
import numpy as np
import pytest

import refloss
from refloss.conformance.oracle import ORACLES, evaluate_oracle
from refloss.conformance.oracle.ctc import path_probability, recursion_probability
from refloss.testing import (Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences,
                             relative_error, standard_cases)

LOG_HALF = math.log(0.5)


def _lengths(*values):
    return np.array(values, dtype=np.int64)


# ---- hand-worked ----------------------------------------------------------------------------------------------

def test_two_steps_one_label_sums_three_alignments():
    # T = 2, C = 2 (blank 0), every probability 1/2, target (1). The alignments that collapse to (1) are (1, 1),
    # (0, 1) and (1, 0), each of probability 1/4: p = 3/4, loss = -log(3/4) = 0.2876820724517809.
    x = np.full((2, 1, 2), LOG_HALF)
    loss = refloss.ctc_loss(x, np.array([[1]]), _lengths(2), _lengths(1), reduction="none")
    np.testing.assert_allclose(loss, [-math.log(0.75)], rtol=1e-15)
    # Occupancy: at t = 0 the blank is used by (0, 1) only -> (1/4) / (3/4) = 1/3, class 1 by the other two: 2/3;
    # at t = 1 the blank by (1, 0) only: 1/3, class 1: 2/3. The gradient is minus the occupancy.
    grad, *rest = refloss.ctc_loss_vjp(np.ones(1), x, np.array([[1]]), _lengths(2), _lengths(1), reduction="none")
    np.testing.assert_allclose(grad[:, 0, :], -np.array([[1 / 3, 2 / 3], [1 / 3, 2 / 3]]), rtol=1e-15)
    assert rest == [None, None, None]


def test_a_repeated_label_on_the_fewest_steps_has_one_alignment():
    # target (1, 1) on T = 3 steps: only 1, blank, 1 collapses to it (1, 1, 1 would collapse to (1)), so
    # loss = -(x_0(1) + x_1(0) + x_2(1)) = -(-0.5 - 1.25 - 2.0) = 3.75 and the gradient is -1 on that path, 0 elsewhere.
    x = np.array([[-1.0, -0.5, -3.0], [-1.25, -0.75, -0.25], [-0.125, -2.0, -1.5]])[:, None, :]
    loss = refloss.ctc_loss(x, np.array([[1, 1]]), _lengths(3), _lengths(2), reduction="sum")
    assert loss == 3.75
    grad = refloss.ctc_loss_vjp(2.0, x, np.array([[1, 1]]), _lengths(3), _lengths(2), reduction="sum")[0]
    expected = np.zeros((3, 1, 3))
    expected[0, 0, 1] = expected[1, 0, 0] = expected[2, 0, 1] = -2.0  # (the cotangent is 2)
    np.testing.assert_array_equal(grad, expected)


def test_an_empty_target_is_the_all_blank_path_and_mean_divides_by_one():
    # target length 0: the only alignment is blank at every step: loss = -sum_t x_t(blank).
    # Sample 0: -(-0.25 - 0.5 - 1.0) = 1.75 (3 steps); sample 1: -(-2.0) = 2.0 (1 step, input length 1).
    # mean: (1.75 / max(0, 1) + 2.0 / 1) / 2 = 1.875.
    x = np.array([[[-0.25, -1.0], [-2.0, -0.5]], [[-0.5, -3.0], [-4.0, -4.0]], [[-1.0, -0.125], [-8.0, -8.0]]])
    targets, input_lengths, target_lengths = np.zeros((2, 0), np.int64), _lengths(3, 1), _lengths(0, 0)
    assert refloss.ctc_loss(x, targets, input_lengths, target_lengths) == 1.875
    grad = refloss.ctc_loss_vjp(1.0, x, targets, input_lengths, target_lengths)[0]
    expected = np.zeros_like(x)
    expected[:3, 0, 0] = -0.5  # 1 / (2 samples x max(0, 1))
    expected[0, 1, 0] = -0.5  # sample 1's steps beyond its input length 1 get nothing
    np.testing.assert_array_equal(grad, expected)


def test_mean_divides_each_loss_by_its_target_length_then_averages():
    rng = np.random.default_rng(0)
    x = np.log(rng.dirichlet(np.ones(4), size=(6, 2)))
    targets, input_lengths, target_lengths = np.array([[1, 2, 3], [3, 0, 0]]), _lengths(6, 5), _lengths(3, 1)
    per_sample = refloss.ctc_loss(x, targets, input_lengths, target_lengths, reduction="none")
    mean = refloss.ctc_loss(x, targets, input_lengths, target_lengths)
    assert mean == pytest.approx((per_sample[0] / 3 + per_sample[1] / 1) / 2, rel=1e-15)
    assert refloss.ctc_loss(x, targets, input_lengths, target_lengths, reduction="sum") == \
        pytest.approx(per_sample.sum(), rel=1e-15)


def test_infeasible_target_is_infinite_with_nan_gradient_unless_zero_infinity():
    # (1, 1) needs 3 steps; with 2 no alignment exists: loss inf, gradient NaN on its target's classes (PyTorch's
    # too); zero_infinity makes both 0. The feasible sample 1 is untouched.
    x = np.full((2, 2, 3), math.log(1 / 3))
    args = (np.array([[1, 1], [2, 0]]), _lengths(2, 2), _lengths(2, 1))
    loss = refloss.ctc_loss(x, *args, reduction="none")
    assert loss[0] == np.inf and np.isfinite(loss[1])
    grad = refloss.ctc_loss_vjp(np.ones(2), x, *args, reduction="none")[0]
    assert np.all(np.isnan(grad[:, 0, :2])) and np.all(grad[:, 0, 2] == 0) and np.all(np.isfinite(grad[:, 1]))
    zeroed = refloss.ctc_loss(x, *args, reduction="none", zero_infinity=True)
    assert zeroed[0] == 0.0 and zeroed[1] == loss[1]
    grad_zeroed = refloss.ctc_loss_vjp(np.ones(2), x, *args, reduction="none", zero_infinity=True)[0]
    np.testing.assert_array_equal(grad_zeroed[:, 0], 0.0)
    np.testing.assert_array_equal(grad_zeroed[:, 1], grad[:, 1])


def test_no_steps_and_no_target_cost_nothing():
    x = np.zeros((3, 1, 2))
    assert refloss.ctc_loss(x, np.zeros((1, 0), np.int64), _lengths(0), _lengths(0), reduction="sum") == 0.0
    assert refloss.ctc_loss(x, np.array([[1]]), _lengths(0), _lengths(1), reduction="sum") == np.inf


def test_padded_concatenated_and_unbatched_targets_agree():
    rng = np.random.default_rng(1)
    x = np.log(rng.dirichlet(np.ones(5), size=(7, 3)))
    padded, lengths, steps = np.array([[1, 1, 2, 4], [3, 0, 0, 0], [2, 4, 2, 0]]), _lengths(4, 1, 3), _lengths(7, 5, 6)
    concatenated = np.array([1, 1, 2, 4, 3, 2, 4, 2])
    expected = refloss.ctc_loss(x, padded, steps, lengths, reduction="none")
    np.testing.assert_array_equal(refloss.ctc_loss(x, concatenated, steps, lengths, reduction="none"), expected)
    for n in range(3):
        alone = refloss.ctc_loss(x[:, n], padded[n], steps[n], lengths[n], reduction="none")
        assert alone.shape == () and alone == expected[n]
    g = np.array([0.5, -1.5, 2.0])
    grad = refloss.ctc_loss_vjp(g, x, padded, steps, lengths, reduction="none")[0]
    np.testing.assert_array_equal(refloss.ctc_loss_vjp(g, x, concatenated, steps, lengths, reduction="none")[0],
                                  grad)
    alone = refloss.ctc_loss_vjp(np.float64(g[1]), x[:, 1], padded[1], steps[1], lengths[1], reduction="none")[0]
    np.testing.assert_array_equal(alone, grad[:, 1])


def test_the_blank_can_be_any_class():
    # Renaming the classes so that the blank is class 2 changes nothing.
    rng = np.random.default_rng(2)
    x = np.log(rng.dirichlet(np.ones(3), size=(5, 2)))
    targets, steps, lengths = np.array([[1, 2], [2, 2]]), _lengths(5, 5), _lengths(2, 2)
    rename = np.array([2, 0, 1])  # old class c becomes rename[c]: the blank 0 becomes 2
    renamed_x = np.empty_like(x)
    renamed_x[..., rename] = x
    expected = refloss.ctc_loss(x, targets, steps, lengths, reduction="none")
    np.testing.assert_allclose(refloss.ctc_loss(renamed_x, rename[targets], steps, lengths, reduction="none",
                                                blank=2), expected, rtol=1e-15)


def test_long_sequences_do_not_underflow():
    # 200 steps at log p = -10 for every class: the probability of the target is far below float64's range, yet
    # the loss is finite. With C = 2 and every emission e^-10 each path costs 2000, and the number of alignments
    # of (1) over 200 steps (b* 1+ b*) is 200 * 201 / 2 = 20100, so loss = 2000 - log(20100).
    x = np.full((200, 1, 2), -10.0)
    loss = refloss.ctc_loss(x, np.array([[1]]), _lengths(200), _lengths(1), reduction="sum")
    assert loss == pytest.approx(2000 - math.log(20100), rel=1e-14)


# ---- the three gradient checks --------------------------------------------------------------------------------

def test_standard_cases_match_autograd_and_finite_differences():
    for case in standard_cases("ctc_loss"):
        assert_vjp_matches_autograd("ctc_loss", case)
        assert_vjp_matches_finite_differences("ctc_loss", case)


def test_masked_classes_match_autograd():
    # -inf log-probabilities (masked classes) that the paths can avoid: autograd of the forward agrees, entry 0.
    rng = np.random.default_rng(3)
    x = np.log(rng.dirichlet(np.ones(4), size=(6, 2)))
    x[2, 0, 3] = x[4, 1, 1] = -np.inf
    case = Case((x, np.array([[1, 2], [3, 3]]), _lengths(6, 6), _lengths(2, 2)), {}, "sum", np.float64(1.5))
    assert_vjp_matches_autograd("ctc_loss", case)
    assert refloss.ctc_loss_vjp(1.5, *case.inputs, reduction="sum")[0][2, 0, 3] == 0.0


def test_the_oracle_recursion_is_the_sum_over_alignments():
    # Graves et al.'s recursion (eqs. 6-8) against eq. 3 itself: every path of T steps over C classes enumerated.
    rng = np.random.default_rng(4)
    with mpmath.workdps(40):
        for target, steps, classes, blank in (((1,), 3, 2, 0), ((1, 1), 4, 2, 0), ((2, 1, 2), 5, 3, 0),
                                               ((0, 0), 5, 3, 2), ((), 3, 2, 0), ((1, 2), 2, 3, 0)):
            y = [[mpmath.mpf(v) for v in row] for row in rng.dirichlet(np.ones(classes), size=steps)]
            exact = path_probability(y, list(target), blank)
            assert abs(recursion_probability(y, list(target), blank) - exact) <= mpmath.mpf(10) ** -35 * (exact or 1)


def test_forward_and_vjp_match_the_mpmath_oracle():
    rng = np.random.default_rng(5)
    spec = refloss.registry.get("ctc_loss")
    for reduction in ("none", "mean", "sum"):
        for leading_shape in ((), (3,)):
            inputs = spec.draw_inputs(rng, leading_shape)
            out = spec.output_shape(np.shape(inputs[0]), reduction)
            cotangent = rng.normal(size=out)
            named = dict(zip([i.name for i in spec.inputs], inputs))
            expected = evaluate_oracle(ORACLES["ctc_loss"], named, {"blank": 0}, reduction, cotangent, (),
                                       ("log_probs",))
            value = refloss.ctc_loss(*inputs, reduction=reduction)
            grad = refloss.ctc_loss_vjp(cotangent, *inputs, reduction=reduction)[0]
            as_float = [np.array([float(v) for v in t.exact]).reshape(t.shape)
                        for t in (expected.value, expected.grads["log_probs"])]
            assert relative_error(value, as_float[0]) <= 1e-13
            assert relative_error(grad, as_float[1]) <= 1e-13


# ---- PyTorch ---------------------------------------------------------------------------------------------------

def _torch_case(seed):
    rng = np.random.default_rng(seed)
    x = np.log(rng.dirichlet(np.ones(5), size=(8, 3)))
    return x, np.array([[1, 1, 2, 4], [3, 0, 0, 0], [2, 4, 2, 0]]), _lengths(8, 5, 7), _lengths(4, 1, 3)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_values_match_torch_and_gradients_differ_by_exp_log_probs(reduction):
    torch = pytest.importorskip("torch")
    x, targets, steps, lengths = _torch_case(6)
    log_probs = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.ctc_loss(log_probs, torch.tensor(targets), torch.tensor(steps), torch.tensor(lengths),
                                        reduction=reduction)
    cotangent = np.linspace(-1.0, 2.0, 3) if reduction == "none" else np.float64(0.75)
    torch_grad, = torch.autograd.grad(loss, log_probs, torch.tensor(cotangent))
    assert relative_error(refloss.ctc_loss(x, targets, steps, lengths, reduction=reduction),
                          loss.detach().numpy()) <= 1e-14
    ours = refloss.ctc_loss_vjp(cotangent, x, targets, steps, lengths, reduction=reduction)[0]
    # PyTorch's backward returns g (exp(x) - occupancy) at steps t < input length, refloss g (-occupancy): the
    # difference is g exp(x) there, measured here to float64 rounding.
    per_sample = {"none": cotangent, "sum": np.full(3, cotangent), "mean": cotangent / lengths / 3}[reduction]
    inside = np.arange(8)[:, None] < steps[None, :]
    difference = np.exp(x) * (per_sample * inside)[:, :, None]
    assert relative_error(torch_grad.numpy() - ours, difference) <= 1e-13


def test_composed_with_log_softmax_the_gradients_agree_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(8, 3, 5)) * 2
    _, targets, steps, lengths = _torch_case(7)
    z = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.ctc_loss(z.log_softmax(2), torch.tensor(targets), torch.tensor(steps),
                                        torch.tensor(lengths))
    torch_grad, = torch.autograd.grad(loss, z)
    log_probs = refloss.log_softmax(logits, dim=2)
    upstream = refloss.ctc_loss_vjp(1.0, log_probs, targets, steps, lengths)[0]
    ours = refloss.log_softmax_vjp(upstream, logits, dim=2)
    assert relative_error(ours, torch_grad.numpy()) <= 1e-13


def test_optax_agrees_on_values_and_on_the_gradient_through_log_softmax():
    # optax.ctc_loss takes logits (N, T, C) batch first, applies log_softmax itself and marks padding with 1.0.
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(8)
    logits = rng.normal(size=(3, 8, 5)) * 2
    _, targets, steps, lengths = _torch_case(8)
    step_padding = (np.arange(8)[None, :] >= steps[:, None]).astype(np.float64)
    label_padding = (np.arange(4)[None, :] >= lengths[:, None]).astype(np.float64)

    def theirs(z):
        return optax.ctc_loss(z, step_padding, targets, label_padding, blank_id=0)

    log_probs = np.moveaxis(refloss.log_softmax(logits, dim=2), 1, 0)  # (T, N, C)
    ours = refloss.ctc_loss(log_probs, targets, steps, lengths, reduction="none")
    assert relative_error(ours, np.asarray(theirs(logits))) <= 1e-14
    upstream = refloss.ctc_loss_vjp(np.ones(3), log_probs, targets, steps, lengths, reduction="none")[0]
    ours_grad = refloss.log_softmax_vjp(np.moveaxis(upstream, 0, 1), logits, dim=2)
    optax_grad = np.asarray(jax.grad(lambda z: theirs(z).sum())(logits))
    assert relative_error(ours_grad, optax_grad) <= 1e-13


# ---- bad input -------------------------------------------------------------------------------------------------

X = np.zeros((4, 2, 3))
GOOD = (np.array([[1, 2], [2, 0]]), _lengths(4, 3), _lengths(2, 1))


@pytest.mark.parametrize("arguments, keywords, error, message", [
    ((np.zeros((4, 2, 3, 1)),) + GOOD, {}, ValueError, r"log_probs must have shape \(T, N, C\) or \(T, C\), got "
                                                        r"\(4, 2, 3, 1\)"),
    ((X, np.array([[1, 0], [2, 0]]), *GOOD[1:]), {}, ValueError, r"target class indices must be in \[0, C\) = "
                                                                 r"\[0, 3\) and not the blank \(0\), got 0"),
    ((X, np.array([[1, 3], [2, 0]]), *GOOD[1:]), {}, ValueError, r"\[0, 3\) and not the blank \(0\), got 3"),
    ((X, np.array([[1.0, 2.0], [2.0, 0.0]]), *GOOD[1:]), {}, TypeError, "targets must be an array of integers, "
                                                                          "got dtype float64"),
    ((X, GOOD[0], _lengths(5, 3), GOOD[2]), {}, ValueError, r"input_lengths must be in \[0, T\] = \[0, 4\] .*got 5"),
    ((X, GOOD[0], _lengths(4, -1), GOOD[2]), {}, ValueError, r"input_lengths must be in \[0, T\] .*got -1"),
    ((X, GOOD[0], np.array([4.0, 3.0]), GOOD[2]), {}, TypeError, "input_lengths must be an array of integers"),
    ((X, GOOD[0], GOOD[1], _lengths(3, 1)), {}, ValueError, r"target_lengths must be in \[0, S\] = \[0, 2\] .*got 3"),
    ((X, GOOD[0], GOOD[1], _lengths(2, -1)), {}, ValueError, r"target_lengths must be in \[0, inf\), got -1"),
    ((X, GOOD[0], _lengths(4, 3, 2), GOOD[2]), {}, ValueError, r"input_lengths must have shape \(2,\) .*got \(3,\)"),
    ((X, np.array([1, 2]), *GOOD[1:]), {}, ValueError, r"concatenated targets must have shape "
                                                       r"\(sum\(target_lengths\),\) = \(3,\), got \(2,\)"),
    ((X, np.array([[1, 2], [2, 0], [1, 1]]), *GOOD[1:]), {}, ValueError, r"padded targets must have shape \(N, S\) "
                                                                         r"with N = 2"),
    ((X,) + GOOD, {"blank": 3}, ValueError, r"blank must be in \[0, C\) = \[0, 3\) .*got 3"),
    ((X,) + GOOD, {"blank": True}, ValueError, "blank must be in"),
    ((X,) + GOOD, {"zero_infinity": 1}, TypeError, "zero_infinity must be True or False, got 1"),
    ((X,) + GOOD, {"reduction": "batchmean"}, ValueError, "reduction must be one of"),
    ((X[:, 0], np.array([1, 2]), _lengths(4, 3), np.array(2)), {}, ValueError, r"input_lengths must have shape \(\)"),
])
def test_bad_input_is_refused_naming_the_argument(arguments, keywords, error, message):
    with pytest.raises(error, match=message):
        refloss.ctc_loss(*arguments, **keywords)
    with pytest.raises(error, match=message):
        refloss.ctc_loss_vjp(np.float64(1.0), *arguments, **keywords)


def test_grad_output_must_have_the_output_shape():
    with pytest.raises(ValueError, match=r"grad_output must have the shape of the loss output \(2,\), got \(\)"):
        refloss.ctc_loss_vjp(1.0, X, *GOOD, reduction="none")
