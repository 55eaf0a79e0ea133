"""soft_margin_loss, hinge_embedding_loss and margin_ranking_loss: hand-worked values, the three gradient checks,
PyTorch (values, gradients, the kinks, and what it does with other labels), and bad input."""

import math

import numpy as np
import pytest

import refloss
from refloss.conformance.oracle import ORACLES, evaluate_oracle
from refloss.testing import Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences

LOSSES = ("soft_margin_loss", "hinge_embedding_loss", "margin_ranking_loss")


def _call(name, *inputs, **kwargs):
    return getattr(refloss, name)(*inputs, **kwargs)


def _vjp(name, g, *inputs, **kwargs):
    return getattr(refloss, name + "_vjp")(g, *inputs, **kwargs)


# ---- hand-worked values ---------------------------------------------------------------------------------------

class TestSoftMargin:
    def test_values_and_gradients(self):
        x, y = np.array([0.0, 2.0, -3.0]), np.array([1.0, -1.0, 1.0])
        # l = log(1 + e^{-yx}): -yx = 0, 2, 3; dl/dx = -y / (1 + e^{yx}): -1/2, +1/(1 + e^-2), -1/(1 + e^-3)
        expected = [math.log(2.0), math.log(1.0 + math.exp(2.0)), math.log(1.0 + math.exp(3.0))]
        np.testing.assert_allclose(refloss.soft_margin_loss(x, y, reduction="none"), expected, rtol=1e-15)
        grad, labels = refloss.soft_margin_loss_vjp(np.ones(3), x, y, reduction="none")
        np.testing.assert_allclose(grad, [-0.5, 1.0 / (1.0 + math.exp(-2.0)), -1.0 / (1.0 + math.exp(-3.0))],
                                   rtol=1e-15)
        assert labels is None
        assert refloss.soft_margin_loss(x, y) == pytest.approx(sum(expected) / 3, rel=1e-15)

    def test_no_overflow_far_on_the_wrong_side(self):
        # -yx = 1000: e^1000 overflows, but log(1 + e^1000) = 1000 + log1p(e^-1000) = 1000 exactly in float64,
        # with slope -y sigma(1000) = -1
        assert refloss.soft_margin_loss([-1000.0], [1.0]) == 1000.0
        assert refloss.soft_margin_loss_vjp(1.0, [1000.0], [-1.0])[0][0] == 1.0

    def test_tiny_loss_far_on_the_right_side(self):
        # yx = 745: the loss log1p(e^-745) = e^-745, the smallest subnormal, not 0 through 1 + e^-745 = 1
        assert refloss.soft_margin_loss([745.0], [1.0]) == math.exp(-745.0) > 0.0

    def test_infinite_scores_give_the_limits(self):
        loss = refloss.soft_margin_loss([-np.inf, np.inf], [1.0, 1.0], reduction="none")
        grad = refloss.soft_margin_loss_vjp(np.ones(2), [-np.inf, np.inf], [1.0, 1.0], reduction="none")[0]
        np.testing.assert_array_equal(loss, [np.inf, 0.0])
        np.testing.assert_array_equal(grad, [-1.0, 0.0])


class TestHingeEmbedding:
    def test_values_and_gradients(self):
        x, y = np.array([0.25, 0.25, 3.0, -1.0]), np.array([1.0, -1.0, -1.0, -1.0])
        # y = 1: x itself, slope 1; y = -1: max(0, 1 - x) = 0.75, 0, 2 with slope -1, 0, -1
        np.testing.assert_array_equal(refloss.hinge_embedding_loss(x, y, reduction="none"), [0.25, 0.75, 0.0, 2.0])
        np.testing.assert_array_equal(refloss.hinge_embedding_loss_vjp(np.ones(4), x, y, reduction="none")[0],
                                      [1.0, -1.0, 0.0, -1.0])
        # margin 2: max(0, 2 - x) = 1.75, 0, 3 for the three dissimilar pairs; sum 0.25 + 1.75 + 0 + 3 = 5
        assert refloss.hinge_embedding_loss(x, y, margin=2.0, reduction="sum") == 5.0

    def test_zero_gradient_at_the_margin(self):
        grad = refloss.hinge_embedding_loss_vjp(np.ones(2), [1.0, 0.5], [-1.0, -1.0], margin=1.0, reduction="none")
        np.testing.assert_array_equal(grad[0], [0.0, -1.0])

    def test_nan_propagates_for_either_label(self):
        grad = refloss.hinge_embedding_loss_vjp(np.ones(2), [np.nan, np.nan], [1.0, -1.0], reduction="none")[0]
        assert np.all(np.isnan(grad))


class TestMarginRanking:
    def test_values_and_gradients(self):
        x1, x2 = np.array([2.0, 0.5, 1.0, 3.0]), np.array([1.0, 1.0, 1.0, 0.0])
        y = np.array([1.0, 1.0, -1.0, -1.0])
        # z = 1 - y (x1 - x2) = 1 - 1, 1 + 0.5, 1 + 0, 1 + 3 = 0, 1.5, 1, 4 (margin 1); loss max(0, z)
        loss = refloss.margin_ranking_loss(x1, x2, y, margin=1.0, reduction="none")
        np.testing.assert_array_equal(loss, [0.0, 1.5, 1.0, 4.0])
        g1, g2, labels = refloss.margin_ranking_loss_vjp(np.ones(4), x1, x2, y, margin=1.0, reduction="none")
        np.testing.assert_array_equal(g1, [0.0, -1.0, 1.0, 1.0])  # -y [z > 0]; z = 0 exactly gives 0
        np.testing.assert_array_equal(g2, -g1)
        assert labels is None
        assert refloss.margin_ranking_loss(x1, x2, y, margin=1.0) == 6.5 / 4

    def test_default_margin_is_zero(self):
        assert refloss.margin_ranking_loss([1.0], [3.0], [1.0]) == 2.0  # max(0, -(1 - 3))

    def test_margin_is_added_after_the_difference(self):
        # x1 - x2 = 2 exactly; 1e16 + 2 + 1 would round the margin away if added to a score first
        assert refloss.margin_ranking_loss([1e16 + 2.0], [1e16], [-1.0], margin=1.0) == 3.0


# ---- the three gradient checks --------------------------------------------------------------------------------

_CASES = {
    "soft_margin_loss": ([np.array([0.3, -2.1, 5.0, -0.7])], np.array([1.0, -1.0, -1.0, 1.0]), {}),
    "hinge_embedding_loss": ([np.array([0.3, 2.1, 0.2, 1.7])], np.array([1.0, -1.0, -1.0, 1.0]), {"margin": 1.5}),
    "margin_ranking_loss": ([np.array([0.3, -2.1, 1.0, 0.6]), np.array([0.9, 0.4, -1.3, 0.2])],
                            np.array([1.0, -1.0, 1.0, -1.0]), {"margin": 0.25}),
}


def _case(name, reduction, g):
    scores, labels, params = _CASES[name]
    return Case(tuple(scores) + (labels,), params, reduction, g)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("reduction, g", [("none", np.array([0.5, -1.25, 2.0, 0.75])), ("mean", 1.5),
                                          ("sum", -0.5)])
def test_vjp_matches_autograd_and_finite_differences(name, reduction, g):
    case = _case(name, reduction, np.asarray(g, dtype=np.float64))
    assert_vjp_matches_autograd(name, case)
    assert_vjp_matches_finite_differences(name, case)


@pytest.mark.parametrize("name", LOSSES)
def test_vjp_matches_the_oracle(name):
    scores, labels, params = _CASES[name]
    spec = refloss.registry.get(name)
    g = np.array([0.5, -1.25, 2.0, 0.75])
    inputs = dict(zip([i.name for i in spec.inputs], scores + [labels]))
    expectation = evaluate_oracle(ORACLES[name], inputs, params, "none", g, (),
                                  tuple(i.name for i in spec.inputs if i.differentiable))
    value = np.array([float(v) for v in expectation.value.exact])
    np.testing.assert_allclose(_call(name, *inputs.values(), reduction="none", **params), value, rtol=1e-15)
    grads = _vjp(name, g, *inputs.values(), reduction="none", **params)
    for spec_input, grad in zip(spec.inputs, grads):
        if spec_input.differentiable:
            expected = [float(v) for v in expectation.grads[spec_input.name].exact]
            np.testing.assert_allclose(grad, expected, rtol=1e-15, atol=1e-300)
        else:
            assert grad is None


# ---- PyTorch --------------------------------------------------------------------------------------------------

def _torch_run(torch, name, scores, labels, reduction, **params):
    tensors = [torch.tensor(s, requires_grad=True) for s in scores]
    out = getattr(torch.nn.functional, name)(*tensors, torch.tensor(labels), reduction=reduction, **params)
    grads = torch.autograd.grad(out, tensors, torch.ones_like(out))
    return out.detach().numpy(), [t.numpy() for t in grads]


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_matches_torch(name, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    count = 2 if name == "margin_ranking_loss" else 1
    scores = [rng.uniform(-3.0, 3.0, size=(4, 5)) for _ in range(count)]
    labels = rng.choice([-1.0, 1.0], size=(4, 5))
    for params in ({}, {"margin": 0.7}) if name != "soft_margin_loss" else ({},):
        value, grads = _torch_run(torch, name, scores, labels, reduction, **params)
        g = np.ones_like(value)
        np.testing.assert_allclose(_call(name, *scores, labels, reduction=reduction, **params), value, rtol=1e-14)
        for ours, theirs in zip(_vjp(name, g, *scores, labels, reduction=reduction, **params), grads):
            np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-300)


def test_torch_gives_zero_at_the_kinks_as_refloss():
    torch = pytest.importorskip("torch")
    # hinge embedding: x = margin with y = -1; margin ranking: z = 0.5 - (1.5 - 1.0) = 0 and x1 = x2 with margin 0
    _, (grad,) = _torch_run(torch, "hinge_embedding_loss", [np.array([1.0, 0.5])], np.array([-1.0, -1.0]), "none",
                            margin=0.5)
    np.testing.assert_array_equal(grad, [0.0, 0.0])  # the second is x = margin
    np.testing.assert_array_equal(refloss.hinge_embedding_loss_vjp(np.ones(2), [1.0, 0.5], [-1.0, -1.0],
                                                                   margin=0.5, reduction="none")[0], grad)
    scores = [np.array([1.5, 2.0]), np.array([1.0, 2.0])]
    for margin in (0.5, 0.0):
        _, grads = _torch_run(torch, "margin_ranking_loss", scores, np.array([1.0, 1.0]), "none", margin=margin)
        ours = refloss.margin_ranking_loss_vjp(np.ones(2), *scores, [1.0, 1.0], margin=margin, reduction="none")
        assert grads[0][0 if margin else 1] == 0.0
        np.testing.assert_array_equal(ours[0], grads[0])
        np.testing.assert_array_equal(ours[1], grads[1])


def test_torch_soft_margin_overflows_where_refloss_does_not():
    torch = pytest.importorskip("torch")
    # log(1 + exp(1000)) as written: inf, and the gradient inf / inf = NaN; the loss is 1000, the slope -1
    value, (grad,) = _torch_run(torch, "soft_margin_loss", [np.array([-1000.0])], np.array([1.0]), "none")
    assert value[0] == np.inf and np.isnan(grad[0])
    assert refloss.soft_margin_loss([-1000.0], [1.0], reduction="none")[0] == 1000.0


def test_what_torch_does_with_other_labels_and_refloss_refuses():
    torch = pytest.importorskip("torch")
    # hinge_embedding_loss: a label that is neither 1 nor -1 takes both branches: x + max(0, margin - x)
    value, _ = _torch_run(torch, "hinge_embedding_loss", [np.array([0.25, 0.25])], np.array([0.0, 2.0]), "none")
    np.testing.assert_array_equal(value, [0.25 + 0.75, 0.25 + 0.75])
    # margin_ranking_loss: label 0 costs max(0, margin)
    value, _ = _torch_run(torch, "margin_ranking_loss", [np.array([5.0]), np.array([1.0])], np.array([0.0]), "none",
                          margin=0.5)
    assert value[0] == 0.5
    for name, scores in (("hinge_embedding_loss", [[0.25]]), ("margin_ranking_loss", [[5.0], [1.0]]),
                         ("soft_margin_loss", [[0.25]])):
        with pytest.raises(ValueError, match=r"target must hold labels in \{-1, 1\}.*got values \[0.0\]"):
            _call(name, *scores, [0.0])


# ---- bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("labels, shown", [([0.5, 1.0], r"\[0.5, 1.0\]"), ([np.nan, 1.0], r"\[1.0, nan\]"),
                                           ([2.0, -1.0], r"\[-1.0, 2.0\]")])
def test_labels_other_than_plus_minus_one_are_refused(name, labels, shown):
    scores = [np.zeros(2)] * (2 if name == "margin_ranking_loss" else 1)
    for call in (lambda: _call(name, *scores, labels), lambda: _vjp(name, 1.0, *scores, labels)):
        with pytest.raises(ValueError, match=r"target must hold labels in \{-1, 1\}.*got values " + shown):
            call()


@pytest.mark.parametrize("name", LOSSES)
def test_shapes_must_match_exactly(name):
    # PyTorch broadcasts (3, 1) against (3,) into (3, 3) for hinge_embedding_loss
    if name == "margin_ranking_loss":
        with pytest.raises(ValueError, match=r"input2 must have the same shape as input1 \(3,\), got \(3, 1\)"):
            refloss.margin_ranking_loss(np.zeros(3), np.zeros((3, 1)), np.ones(3))
        with pytest.raises(ValueError, match=r"target must have the same shape as input1 \(3,\), got \(2,\)"):
            refloss.margin_ranking_loss(np.zeros(3), np.zeros(3), np.ones(2))
    else:
        with pytest.raises(ValueError, match=r"target must have the same shape as input \(3, 1\), got \(3,\)"):
            _call(name, np.zeros((3, 1)), np.ones(3))


@pytest.mark.parametrize("name", ["hinge_embedding_loss", "margin_ranking_loss"])
@pytest.mark.parametrize("margin, error, message", [
    (np.nan, ValueError, r"margin must be in \(-inf, inf\), got nan"),
    (np.inf, ValueError, r"margin must be in \(-inf, inf\), got inf"),
    (True, TypeError, r"margin must be a real number in \(-inf, inf\), got True of type bool"),
    ("1", TypeError, r"margin must be a real number .* got '1' of type str"),
])
def test_bad_margin(name, margin, error, message):
    scores = [np.zeros(2)] * (2 if name == "margin_ranking_loss" else 1)
    for call in (lambda: _call(name, *scores, np.ones(2), margin=margin),
                 lambda: _vjp(name, 1.0, *scores, np.ones(2), margin=margin)):
        with pytest.raises(error, match=message):
            call()


@pytest.mark.parametrize("name", LOSSES)
def test_bad_reduction_and_cotangent(name):
    scores = [np.zeros(2)] * (2 if name == "margin_ranking_loss" else 1)
    with pytest.raises(ValueError, match="reduction must be one of 'none', 'mean', 'sum', got 'batchmean'"):
        _call(name, *scores, np.ones(2), reduction="batchmean")
    with pytest.raises(ValueError, match=r"grad_output must have the shape of the loss output \(2,\), got \(\)"):
        _vjp(name, 1.0, *scores, np.ones(2), reduction="none")
    with pytest.raises(TypeError, match="input.* must be an array of real numbers"):
        _call(name, *[np.array(["a", "b"])] * len(scores), np.ones(2))
