"""Classification losses: hand-worked values (provenance in comments), stability, conventions, bad input."""

import math

import numpy as np
import pytest

import refloss

BCE = refloss.binary_cross_entropy_with_logits
BCE_VJP = refloss.binary_cross_entropy_with_logits_vjp


class TestBinaryCrossEntropyWithLogits:
    def test_values(self):
        # x = 0: sigma = 1/2, so the loss is log 2 whatever the target.
        np.testing.assert_allclose(BCE([0.0, 0.0, 0.0], [0.0, 0.5, 1.0], reduction="none"), [math.log(2)] * 3,
                                   rtol=1e-15)
        # x = log 3: sigma = 3/4. y = 1: -log(3/4); y = 0: -log(1/4) = log 4.
        x = math.log(3.0)
        np.testing.assert_allclose(BCE([x, x], [1.0, 0.0], reduction="none"), [math.log(4 / 3), math.log(4)],
                                   rtol=1e-15)

    def test_gradients(self):
        # d/dx = sigma(x) - y = 3/4 - 1 and 3/4 - 0; d/dy = softplus(-x) - softplus(x) = log(4/3) - log 4 = -log 3
        x = math.log(3.0)
        gx, gy = BCE_VJP(np.ones(2), [x, x], [1.0, 0.0], reduction="none")
        np.testing.assert_allclose(gx, [-0.25, 0.75], rtol=1e-15)
        np.testing.assert_allclose(gy, [-math.log(3)] * 2, rtol=1e-15)

    def test_pos_weight_scales_the_positive_term(self):
        # y = 1, p = 3: 3 * -log(3/4); soft y = 1/2, p = 3: 3/2 log(4/3) + 1/2 log 4
        x = math.log(3.0)
        values = BCE([x, x], [1.0, 0.5], pos_weight=np.array([3.0]), reduction="none")
        np.testing.assert_allclose(values, [3 * math.log(4 / 3), 1.5 * math.log(4 / 3) + 0.5 * math.log(4)],
                                   rtol=1e-15)
        # d/dx = (1 - y) sigma(x) - p y sigma(-x) = -3/4 for y = 1, p = 3
        gx, _ = BCE_VJP(1.0, [x], [1.0], pos_weight=np.array([3.0]), reduction="sum")
        assert gx[0] == pytest.approx(-0.75, rel=1e-15)

    def test_weighted_mean_divides_by_the_count(self):
        # PyTorch: mean of w * l over all elements, weights not in the denominator: (2 log 2 + 0) / 2
        assert BCE([0.0, 0.0], [1.0, 1.0], weight=[2.0, 0.0]) == pytest.approx(math.log(2), rel=1e-15)

    @pytest.mark.parametrize("x, y, expected", [(1e4, 1.0, 0.0), (-1e4, 0.0, 0.0), (1e4, 0.0, 1e4), (-1e4, 1.0, 1e4),
                                                (1e300, 0.0, 1e300), (-800.0, 1.0, 800.0)])
    def test_stable_for_huge_logits(self, x, y, expected):
        assert BCE([x], [y], reduction="sum") == expected
        gx, gy = BCE_VJP(1.0, [x], [y], reduction="sum")
        assert np.isfinite(gx[0]) and abs(gx[0]) <= 1.0

    def test_nan_propagates_and_empty_mean_is_nan(self):
        assert np.isnan(BCE([np.nan, 0.0], [1.0, 1.0]))
        assert np.isnan(BCE([], []))
        assert BCE(np.zeros((0, 3)), np.zeros((0, 3)), reduction="sum") == 0.0

    @pytest.mark.parametrize("kwargs, error, message", [
        ({"target": [0.5, 1.5]}, ValueError, "target must be probabilities in [0, 1], got 1.5"),
        ({"target": [-0.25, 0.5]}, ValueError, "target must be probabilities in [0, 1], got -0.25"),
        ({"target": [0.5]}, ValueError, "target must have the same shape as input (2,), got (1,)"),
        ({"weight": [1.0, -1.0]}, ValueError, "weight must be non-negative, got minimum -1.0"),
        ({"pos_weight": [-1.0]}, ValueError, "pos_weight must be non-negative, got minimum -1.0"),
        ({"pos_weight": np.ones(3)}, ValueError, "pos_weight must broadcast to the input shape (2,), got shape (3,)"),
        ({"pos_weight": np.ones((2, 2))}, ValueError, "pos_weight must broadcast to the input shape (2,)"),
        ({"weight": [np.inf, 1.0]}, ValueError, "weight must be finite"),
        ({"reduction": "avg"}, ValueError, "reduction must be one of 'none', 'mean', 'sum', got 'avg'"),
        ({"target": [True, False]}, TypeError, "target must be an array of real numbers"),
    ])
    def test_bad_input(self, kwargs, error, message):
        arguments = {"input": [0.0, 1.0], "target": [0.0, 1.0], **kwargs}
        for call in (lambda: BCE(**arguments), lambda: BCE_VJP(1.0, **arguments)):
            with pytest.raises(error) as info:
                call()
            assert message in str(info.value)

    def test_inputs_are_not_modified(self):
        x, y, w = np.array([0.5, -1.0]), np.array([1.0, 0.25]), np.array([1.0, 2.0])
        copies = [a.copy() for a in (x, y, w)]
        BCE(x, y, weight=w)
        BCE_VJP(1.0, x, y, weight=w)
        for original, copy in zip((x, y, w), copies):
            np.testing.assert_array_equal(original, copy)


FOCAL = refloss.sigmoid_focal_loss
FOCAL_VJP = refloss.sigmoid_focal_loss_vjp


class TestSigmoidFocalLoss:
    def test_value_at_zero_logit(self):
        # p = 1/2, y = 1: (1 - 1/2)^2 * log 2, then alpha_t = 0.25 with the default alpha
        assert FOCAL([0.0], [1.0], alpha=None)[0] == pytest.approx(0.25 * math.log(2), rel=1e-15)
        assert FOCAL([0.0], [1.0])[0] == pytest.approx(0.25 * 0.25 * math.log(2), rel=1e-15)
        assert FOCAL([0.0], [0.0])[0] == pytest.approx(0.75 * 0.25 * math.log(2), rel=1e-15)  # alpha_t = 1 - alpha

    def test_paper_gradient_for_hard_labels(self):
        # d/dx = s alpha_t (1 - p_t)^gamma (gamma p_t log p_t + p_t - 1), s = 2y - 1 (Lin et al., appendix)
        x, gamma, alpha = np.array([0.7, -1.3, 2.0]), 2.0, 0.25
        y = np.array([1.0, 0.0, 0.0])
        p = 1 / (1 + np.exp(-x))
        p_t = np.where(y == 1, p, 1 - p)
        s = 2 * y - 1
        alpha_t = np.where(y == 1, alpha, 1 - alpha)
        expected = s * alpha_t * (1 - p_t) ** gamma * (gamma * p_t * np.log(p_t) + p_t - 1)
        gx, gy = FOCAL_VJP(np.ones(3), x, y)
        np.testing.assert_allclose(gx, expected, rtol=1e-13)
        assert gy is None  # targets are labels

    @pytest.mark.parametrize("gamma", [0.25, 0.5, 0.9])
    def test_gradient_is_finite_where_one_minus_p_t_is_zero(self, gamma):
        # x = 1000, y = 1: 1 - p_t = sigma(-1000) = 0 in float64; naive code computes gamma * 0^(gamma - 1) * 0 = NaN
        gx, _ = FOCAL_VJP(np.ones(2), [1000.0, -1000.0], [1.0, 0.0], gamma=gamma)
        np.testing.assert_array_equal(gx, [0.0, 0.0])
        assert np.all(FOCAL([1000.0, -1000.0], [1.0, 0.0], gamma=gamma) == 0.0)

    def test_gamma_zero_without_alpha_is_the_binary_cross_entropy(self):
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=20) * 4, rng.random(20)
        for alpha in (None, -1.0):
            np.testing.assert_allclose(FOCAL(x, y, alpha=alpha, gamma=0.0), BCE(x, y, reduction="none"), rtol=1e-15)
            np.testing.assert_allclose(FOCAL_VJP(np.ones(20), x, y, alpha=alpha, gamma=0.0)[0],
                                       BCE_VJP(np.ones(20), x, y, reduction="none")[0], rtol=1e-13, atol=1e-16)

    def test_reductions_and_default(self):
        x, y = [0.5, -0.5], [1.0, 0.0]
        elementwise = FOCAL(x, y)  # torchvision's default reduction is "none"
        assert elementwise.shape == (2,)
        assert FOCAL(x, y, reduction="sum") == pytest.approx(elementwise.sum(), rel=1e-15)
        assert FOCAL(x, y, reduction="mean") == pytest.approx(elementwise.mean(), rel=1e-15)
        assert np.isnan(FOCAL([], [], reduction="mean"))

    @pytest.mark.parametrize("kwargs, error, message", [
        ({"gamma": -1.0}, ValueError, "gamma must be in [0, inf), got -1.0"),
        ({"alpha": 2.0}, ValueError, "alpha must be in (-inf, 1], got 2.0"),
        ({"alpha": "0.25"}, TypeError, "alpha must be a real number"),
        ({"targets": [0.5, 1.5]}, ValueError, "targets must be labels in [0, 1], got 1.5"),
        ({"targets": [1.0]}, ValueError, "targets must have the same shape as inputs (2,), got (1,)"),
        ({"reduction": "avg"}, ValueError, "reduction must be one of"),
    ])
    def test_bad_input(self, kwargs, error, message):
        arguments = {"inputs": [0.0, 1.0], "targets": [0.0, 1.0], **kwargs}
        for call in (lambda: FOCAL(**arguments), lambda: FOCAL_VJP(np.ones(2), **arguments)):
            with pytest.raises(error) as info:
                call()
            assert message in str(info.value)
