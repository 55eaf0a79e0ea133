"""kl_div, multilabel_soft_margin_loss and multilabel_margin_loss: hand-worked values, the mpmath oracle, PyTorch,
and bad input. (autograd and finite differences: tests/test_gradients.py, over the registry.)"""

import math
import warnings

import numpy as np
import pytest

import refloss
from refloss.conformance.oracle import ORACLES, evaluate_oracle
from refloss.testing import relative_error

TORCH_TOLERANCE = 1e-13  # both in float64; only the order of the sums differs
ORACLE_TOLERANCE = 1e-14  # refloss against the exact value, on a few well-conditioned entries


# ---- kl_div -------------------------------------------------------------------------------------------------------

class TestKlDiv:
    def test_hand_worked_value_and_gradients(self):
        # t = (1/2, 1/2), p = (1/4, 3/4): KL = (1/2) log((1/2)/(1/4)) + (1/2) log((1/2)/(3/4)) = (1/2) log(4/3)
        # d/dx = -t = (-1/2, -1/2); d/dt = log t + 1 - x = (log 2 + 1, 1 + log(2/3))
        x, t = np.log([0.25, 0.75]), np.array([0.5, 0.5])
        assert refloss.kl_div(x, t, reduction="sum") == pytest.approx(0.5 * math.log(4 / 3), rel=1e-15)
        grad_x, grad_t = refloss.kl_div_vjp(1.0, x, t, reduction="sum")
        np.testing.assert_allclose(grad_x, [-0.5, -0.5], rtol=0)
        np.testing.assert_allclose(grad_t, [math.log(2) + 1, 1 + math.log(2 / 3)], rtol=1e-15)

    def test_batchmean_divides_by_the_rows_mean_by_the_elements(self):
        # two identical rows x = 0 (p = 1), t = (1/4, 3/4): each row sums (1/4) log(1/4) + (3/4) log(3/4) = r
        x, t = np.zeros((2, 2)), np.array([[0.25, 0.75], [0.25, 0.75]])
        row = 0.25 * math.log(0.25) + 0.75 * math.log(0.75)
        assert refloss.kl_div(x, t, reduction="batchmean") == pytest.approx(row, rel=1e-15)  # 2 r / 2 rows
        assert refloss.kl_div(x, t, reduction="mean") == pytest.approx(row / 2, rel=1e-15)  # 2 r / 4 elements
        assert refloss.kl_div(x, t, reduction="sum") == pytest.approx(2 * row, rel=1e-15)
        # its VJP: each element's share is g / 2 (the rows), so d/dx = -t g / 2
        grad_x, _ = refloss.kl_div_vjp(3.0, x, t, reduction="batchmean")
        np.testing.assert_allclose(grad_x, -t * 1.5, rtol=0)

    def test_batchmean_of_a_0d_input_is_the_sum_and_of_no_rows_nan(self):
        assert refloss.kl_div(0.25, 0.5, reduction="batchmean") == refloss.kl_div(0.25, 0.5, reduction="sum")
        assert math.isnan(refloss.kl_div(np.zeros((0, 3)), np.zeros((0, 3)), reduction="batchmean"))
        assert refloss.kl_div(np.zeros((2, 0)), np.zeros((2, 0)), reduction="batchmean") == 0.0  # 0 / 2 rows
        assert refloss.kl_div_vjp(1.0, np.zeros((0, 3)), np.zeros((0, 3)), reduction="batchmean")[0].shape == (0, 3)

    def test_target_zero_contributes_zero_and_its_own_gradient_is_nan(self):
        # 0 log 0 = 0 (xlogy); d/dx = -t = 0; d/dt = log t + 1 - x has no value at t = 0 (right limit -inf)
        loss = refloss.kl_div([-1.0, -2.0], [0.0, 0.5], reduction="none")
        assert loss[0] == 0.0 and loss[1] == pytest.approx(0.5 * (math.log(0.5) + 2.0), rel=1e-15)
        grad_x, grad_t = refloss.kl_div_vjp(np.ones(2), [-1.0, -2.0], [0.0, 0.5], reduction="none")
        assert grad_x.tolist() == [0.0, -0.5]
        assert math.isnan(grad_t[0]) and grad_t[1] == pytest.approx(math.log(0.5) + 3.0, rel=1e-15)

    def test_log_target_is_the_same_divergence_with_the_chain_rule_in_the_target(self):
        # u = log t: the values agree, d/dx agree, and d/du = d/dt * dt/du = d/dt * t
        rng = np.random.default_rng(0)
        x, u = rng.uniform(-3, 0, (3, 4)), rng.uniform(-3, 0, (3, 4))
        for reduction in ("none", "sum", "mean", "batchmean"):
            g = rng.uniform(0.5, 2, (3, 4)) if reduction == "none" else np.float64(1.5)
            assert relative_error(refloss.kl_div(x, u, reduction=reduction, log_target=True),
                                  refloss.kl_div(x, np.exp(u), reduction=reduction)) < 1e-14
            gx_log, gu = refloss.kl_div_vjp(g, x, u, reduction=reduction, log_target=True)
            gx, gt = refloss.kl_div_vjp(g, x, np.exp(u), reduction=reduction)
            assert relative_error(gx_log, gx) < 1e-15 and relative_error(gu, gt * np.exp(u)) < 1e-14

    def test_matches_the_oracle(self):
        _matches_oracle("kl_div", {"input": np.log([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]),
                                   "target": np.array([[0.1, 0.7, 0.2], [0.25, 0.25, 0.5]])},
                        {"log_target": False}, "batchmean", np.float64(0.75))

    @pytest.mark.parametrize("reduction", ["none", "sum", "mean", "batchmean"])
    @pytest.mark.parametrize("log_target", [False, True])
    def test_matches_torch(self, reduction, log_target):
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(1)
        x = rng.uniform(-4, 0, (3, 5))
        t = rng.uniform(-3, 0, (3, 5)) if log_target else rng.uniform(0, 1, (3, 5))
        t[0, 0] = -np.inf if log_target else 0.0  # (a zero probability)
        g = rng.uniform(-2, 2, (3, 5)) if reduction == "none" else np.float64(0.75)
        xt, tt = (torch.tensor(a, requires_grad=True) for a in (x, t))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "reduction: 'mean' divides", UserWarning)
            out = torch.nn.functional.kl_div(xt, tt, reduction=reduction, log_target=log_target)
        torch_grads = torch.autograd.grad(out, [xt, tt], torch.tensor(g))
        value = refloss.kl_div(x, t, reduction=reduction, log_target=log_target)
        grads = refloss.kl_div_vjp(g, x, t, reduction=reduction, log_target=log_target)
        assert relative_error(value, out.detach().numpy()) <= TORCH_TOLERANCE
        for ours, theirs in zip(grads, torch_grads):
            theirs = theirs.numpy()
            np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))  # NaN at t = 0 (log_target=False)
            finite = ~np.isnan(ours)
            assert relative_error(ours[finite], theirs[finite]) <= TORCH_TOLERANCE

    def test_bad_input_is_refused_with_the_argument_named(self):
        with pytest.raises(ValueError, match=r"^target must be probabilities .* got -0\.25 at index \(1,\)"):
            refloss.kl_div(np.zeros(2), [0.5, -0.25])
        with pytest.raises(ValueError, match=r"target must have the same shape as input \(3, 1\), got \(3,\)"):
            refloss.kl_div(np.zeros((3, 1)), np.full(3, 0.5))
        with pytest.raises(ValueError, match=r"reduction must be one of 'none', 'mean', 'sum', 'batchmean', got "
                                             r"'batch_mean'"):
            refloss.kl_div_vjp(1.0, np.zeros(2), np.full(2, 0.5), reduction="batch_mean")
        with pytest.raises(TypeError, match=r"log_target must be True or False, got 1"):
            refloss.kl_div(np.zeros(2), np.full(2, 0.5), log_target=1)
        with pytest.raises(ValueError, match=r"grad_output must have the shape of the loss output \(\), got \(2,\)"):
            refloss.kl_div_vjp(np.ones(2), np.zeros(2), np.full(2, 0.5), reduction="batchmean")
        # a negative log-probability target is fine: only probabilities must be non-negative
        assert np.isfinite(refloss.kl_div(np.zeros(2), [-0.5, -1.0], log_target=True))

    def test_batchmean_belongs_to_kl_div_only(self):
        with pytest.raises(ValueError, match="reduction must be one of 'none', 'mean', 'sum', got 'batchmean'"):
            refloss.mse_loss(np.zeros(2), np.zeros(2), reduction="batchmean")
        assert refloss.registry.get("kl_div").reductions == ("none", "mean", "sum", "batchmean")


# ---- multilabel_soft_margin_loss ---------------------------------------------------------------------------------

class TestMultilabelSoftMargin:
    def test_hand_worked_value_and_gradients(self):
        # x = (ln 3, ln 3), t = (1, 0): sigma(ln 3) = 3/4, softplus(-ln 3) = log(4/3), softplus(ln 3) = log 4;
        # loss = (log(4/3) + log 4) / 2; d/dx = (sigma - t) / 2 = (-1/8, 3/8); d/dt = -x / 2 = -ln(3) / 2
        x, t = np.full((1, 2), math.log(3)), np.array([[1.0, 0.0]])
        assert refloss.multilabel_soft_margin_loss(x, t) == pytest.approx(math.log(16 / 3) / 2, rel=1e-15)
        grad_x, grad_t = refloss.multilabel_soft_margin_loss_vjp(1.0, x, t)
        np.testing.assert_allclose(grad_x, [[-0.125, 0.375]], rtol=1e-15)
        np.testing.assert_allclose(grad_t, [[-math.log(3) / 2] * 2], rtol=1e-15)
        # weight (2, 0): only the first class counts, twice, and the denominator stays C = 2
        assert refloss.multilabel_soft_margin_loss(x, t, weight=np.array([2.0, 0.0])) == \
            pytest.approx(math.log(4 / 3), rel=1e-15)

    def test_is_the_class_mean_of_the_binary_cross_entropy_with_logits(self):
        rng = np.random.default_rng(2)
        x, t, w = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3)), rng.uniform(size=3)
        per_class = refloss.binary_cross_entropy_with_logits(x, t, weight=w, reduction="none")
        assert relative_error(refloss.multilabel_soft_margin_loss(x, t, weight=w, reduction="none"),
                              per_class.mean(axis=-1)) < 1e-15

    def test_large_logits_do_not_overflow(self):
        loss = refloss.multilabel_soft_margin_loss(np.array([[800.0, -800.0]]), np.array([[0.0, 0.0]]),
                                                   reduction="none")
        assert loss.tolist() == [400.0]  # (800 + 0) / 2

    def test_matches_the_oracle(self):
        _matches_oracle("multilabel_soft_margin_loss", {"input": np.array([[0.3, -1.2, 2.5], [0.0, 1.0, -0.5]]),
                                                        "target": np.array([[1.0, 0.0, 0.25], [0.5, 1.0, 0.0]])},
                        {"weight": np.array([1.0, 0.5, 2.0])}, "mean", np.float64(1.25))

    @pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
    @pytest.mark.parametrize("shape", [(5,), (3, 5), (2, 3, 5)])
    def test_matches_torch(self, reduction, shape):
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(3)
        x, t, w = rng.normal(0, 3, shape), rng.uniform(size=shape), rng.uniform(size=shape[-1])
        g = rng.uniform(-2, 2, shape[:-1]) if reduction == "none" else np.float64(0.75)
        xt, tt = (torch.tensor(a, requires_grad=True) for a in (x, t))
        out = torch.nn.functional.multilabel_soft_margin_loss(xt, tt, weight=torch.tensor(w), reduction=reduction)
        torch_grads = torch.autograd.grad(out, [xt, tt], torch.tensor(g))
        assert relative_error(refloss.multilabel_soft_margin_loss(x, t, weight=w, reduction=reduction),
                              out.detach().numpy()) <= TORCH_TOLERANCE
        for ours, theirs in zip(refloss.multilabel_soft_margin_loss_vjp(g, x, t, weight=w, reduction=reduction),
                                torch_grads):
            assert relative_error(ours, theirs.numpy()) <= TORCH_TOLERANCE

    def test_a_nan_logit_poisons_its_sample_and_its_own_gradient_only_as_torch(self):
        x, t = np.array([[0.0, np.nan, 1.0]]), np.array([[0.0, 1.0, 1.0]])
        assert np.isnan(refloss.multilabel_soft_margin_loss(x, t, reduction="none")).all()
        grad_x, _ = refloss.multilabel_soft_margin_loss_vjp(np.ones(1), x, t, reduction="none")
        # sigma(0) - 0 = 1/2 and sigma(1) - 1 = -sigma(-1), each over C = 3
        np.testing.assert_allclose(grad_x[0, [0, 2]], [0.5 / 3, -1 / (1 + math.e) / 3], rtol=1e-15)
        assert np.isnan(grad_x[0, 1])

    def test_bad_input_is_refused_with_the_argument_named(self):
        with pytest.raises(ValueError, match=r"target must be probabilities"):
            refloss.multilabel_soft_margin_loss(np.zeros((1, 2)), np.array([[0.5, 1.5]]))
        with pytest.raises(ValueError, match=r"weight must have shape \(C,\) = \(3,\), one entry per class, got "
                                             r"\(2,\)"):
            refloss.multilabel_soft_margin_loss_vjp(1.0, np.zeros((1, 3)), np.zeros((1, 3)), weight=np.ones(2))
        with pytest.raises(ValueError, match=r"weight must be non-negative"):
            refloss.multilabel_soft_margin_loss(np.zeros((1, 2)), np.zeros((1, 2)), weight=np.array([1.0, -1.0]))
        with pytest.raises(ValueError, match=r"input must have shape \(N, C\) or \(C,\) .*got \(\)"):
            refloss.multilabel_soft_margin_loss(0.5, 1.0)
        with pytest.raises(ValueError, match=r"target must have the same shape as input \(2, 3\), got \(2, 2\)"):
            refloss.multilabel_soft_margin_loss(np.zeros((2, 3)), np.zeros((2, 2)))
        with pytest.raises(ValueError, match=r"reduction must be one of .* got 'batchmean'"):
            refloss.multilabel_soft_margin_loss(np.zeros((1, 2)), np.zeros((1, 2)), reduction="batchmean")


# ---- multilabel_margin_loss --------------------------------------------------------------------------------------

class TestMultilabelMargin:
    def test_hand_worked_value_and_gradient(self):
        # targets {3, 0} (the 1 after -1 is padding), others {1, 2}; z = 1 - x_j + x_i:
        # (3, 1): 1 - 0.8 + 0.2 = 0.4, (3, 2): 0.6, (0, 1): 1 - 0.1 + 0.2 = 1.1, (0, 2): 1.3; sum 3.4 / C = 0.85.
        # All four active: x_1, x_2 get +2/4 (two targets each), x_3, x_0 get -2/4 (two others each)
        x, y = np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([[3, 0, -1, 1]])
        assert refloss.multilabel_margin_loss(x, y) == pytest.approx(0.85, rel=1e-15)
        grad, labels = refloss.multilabel_margin_loss_vjp(1.0, x, y)
        np.testing.assert_allclose(grad, [[-0.5, 0.5, 0.5, -0.5]], rtol=1e-15)
        assert labels is None

    def test_a_duplicate_target_counts_twice_as_in_pytorch(self):
        # targets (3, 3), others {0, 1, 2}: per occurrence 1 - 0.8 + (0.1, 0.2, 0.4) = 0.3 + 0.4 + 0.6 = 1.3;
        # twice: 2.6 / 4 = 0.65. Each other class: 2 active pairs -> 2/4; class 3: -6/4
        x, y = np.array([0.1, 0.2, 0.4, 0.8]), np.array([3, 3, -1, 1])
        assert refloss.multilabel_margin_loss(x, y, reduction="none") == pytest.approx(0.65, rel=1e-15)
        np.testing.assert_allclose(refloss.multilabel_margin_loss_vjp(1.0, x, y, reduction="none")[0],
                                   [0.5, 0.5, 0.5, -1.5], rtol=1e-15)

    def test_a_pair_exactly_at_the_margin_is_inactive(self):
        # target 1 (x = 1), others 0 (x = 0: z = 0) and 2 (x = 1: z = 1): loss 1/3; only the pair (1, 2) active
        x, y = np.array([[0.0, 1.0, 1.0]]), np.array([[1, -1, 0]])
        assert refloss.multilabel_margin_loss(x, y) == pytest.approx(1 / 3, rel=1e-15)
        np.testing.assert_allclose(refloss.multilabel_margin_loss_vjp(1.0, x, y)[0], [[0.0, -1 / 3, 1 / 3]],
                                   rtol=1e-15)

    def test_no_target_or_no_other_class_costs_nothing_and_padding_is_ignored(self):
        x = np.array([[0.5, 0.0, -0.5], [0.5, 0.0, -0.5]])
        assert refloss.multilabel_margin_loss(x, np.array([[-1, 0, 1], [0, 1, 2]]), reduction="none").tolist() == \
            [0.0, 0.0]
        assert refloss.multilabel_margin_loss(x, np.array([[2, -1, 0], [2, -1, 1]]), reduction="none")[0] == \
            refloss.multilabel_margin_loss(x, np.array([[2, -1, 0], [2, -1, 1]]), reduction="none")[1]

    def test_matches_the_oracle(self):
        _matches_oracle("multilabel_margin_loss", {"input": np.array([[0.3, -1.2, 2.5, 0.1], [0.0, 0.75, -0.5, 0.7]]),
                                                   "target": np.array([[2, 0, -1, 1], [1, 1, 3, -1]])},
                        {}, "sum", np.float64(-0.5))

    @pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
    def test_matches_torch(self, reduction):
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(4)
        x = rng.normal(0, 1, (6, 5))
        y = rng.integers(-1, 5, (6, 5))
        g = rng.uniform(-2, 2, 6) if reduction == "none" else np.float64(0.75)
        xt = torch.tensor(x, requires_grad=True)
        out = torch.nn.functional.multilabel_margin_loss(xt, torch.tensor(y), reduction=reduction)
        (torch_grad,) = torch.autograd.grad(out, [xt], torch.tensor(g))
        assert relative_error(refloss.multilabel_margin_loss(x, y, reduction=reduction),
                              out.detach().numpy()) <= TORCH_TOLERANCE
        assert relative_error(refloss.multilabel_margin_loss_vjp(g, x, y, reduction=reduction)[0],
                              torch_grad.numpy()) <= TORCH_TOLERANCE

    def test_a_nan_score_propagates_where_torch_drops_it(self):
        # documented deviation: PyTorch's z > 0 test is False for NaN, so it returns 2/3 here
        x, y = np.array([[0.0, np.nan, 1.0]]), np.array([[0, -1, 0]])
        assert np.isnan(refloss.multilabel_margin_loss(x, y, reduction="none")).all()
        grad = refloss.multilabel_margin_loss_vjp(np.ones(1), x, y, reduction="none")[0]
        assert np.isnan(grad[0, [0, 1]]).all() and grad[0, 2] == pytest.approx(1 / 3, rel=1e-15)

    def test_bad_input_is_refused_with_the_argument_named(self):
        with pytest.raises(ValueError, match=r"target class indices must be in \[-1, C\) = \[-1, 3\), got 3 at index "
                                             r"\(0, 1\)"):
            refloss.multilabel_margin_loss(np.zeros((1, 3)), np.array([[0, 3, -1]]))
        with pytest.raises(ValueError, match=r"got -2 at index \(0, 2\)"):
            refloss.multilabel_margin_loss_vjp(1.0, np.zeros((1, 3)), np.array([[0, -1, -2]]))
        with pytest.raises(TypeError, match=r"target must hold integer class indices .* got dtype float64"):
            refloss.multilabel_margin_loss(np.zeros((1, 3)), np.zeros((1, 3)))
        with pytest.raises(ValueError, match=r"target must have the shape of input \(1, 3\), got \(1, 2\)"):
            refloss.multilabel_margin_loss(np.zeros((1, 3)), np.array([[0, -1]]))
        with pytest.raises(ValueError, match=r"input must have shape \(N, C\) or \(C,\) with C >= 1 .*got \(2, 0\)"):
            refloss.multilabel_margin_loss(np.zeros((2, 0)), np.zeros((2, 0), dtype=int))
        with pytest.raises(ValueError, match=r"input must have shape .*got \(2, 2, 3\)"):
            refloss.multilabel_margin_loss(np.zeros((2, 2, 3)), np.zeros((2, 2, 3), dtype=int))


def test_error_messages_keep_their_conformance_categories():
    from refloss.conformance.errors import classify

    for call, category in [
        (lambda: refloss.kl_div(np.zeros(2), [0.5, -0.25]), "invalid_target"),
        (lambda: refloss.kl_div(np.zeros(2), [0.5], reduction="sum"), "shape_mismatch"),
        (lambda: refloss.kl_div(np.zeros(2), [0.5, 0.5], reduction="avg"), "invalid_reduction"),
        (lambda: refloss.multilabel_soft_margin_loss(np.zeros((1, 2)), np.array([[0.5, 1.5]])), "invalid_target"),
        (lambda: refloss.multilabel_soft_margin_loss(np.zeros((1, 3)), np.zeros((1, 3)), weight=np.ones(2)),
         "invalid_weight"),
        (lambda: refloss.multilabel_margin_loss(np.zeros((1, 3)), np.array([[0, 3, -1]])), "label_out_of_range"),
        (lambda: refloss.multilabel_margin_loss(np.zeros((1, 3)), np.array([[0, -1]])), "shape_mismatch"),
    ]:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert classify(info.value) == category, str(info.value)


def _matches_oracle(name, inputs, params, reduction, cotangent):
    """refloss's value and gradients against the mpmath oracle's exact ones (rounded to float64)."""
    spec = refloss.registry.get(name)
    differentiable = spec.differentiable_names(inputs)
    expected = evaluate_oracle(ORACLES[name], inputs, params, reduction, cotangent, (), differentiable)
    kwargs = {"reduction": reduction, **params}
    value = spec.forward(*inputs.values(), **kwargs)
    grads = dict(zip(inputs, spec.vjp(cotangent, *inputs.values(), **kwargs)))
    assert relative_error(value, np.array([float(v) for v in expected.value.exact]).reshape(np.shape(value))) \
        <= ORACLE_TOLERANCE
    for key, tensor in expected.grads.items():
        if key in differentiable:
            exact = np.array([float(v) for v in tensor.exact]).reshape(tensor.shape)
            assert relative_error(grads[key], exact) <= ORACLE_TOLERANCE, key
