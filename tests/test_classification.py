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
        gx, _ = FOCAL_VJP(np.ones(3), x, y)
        np.testing.assert_allclose(gx, expected, rtol=1e-13)

    def test_target_gradient_by_hand(self):
        # x = 0: p = q = 1/2, c = log 2, 1 - 2p = 0 and x = 0, so (F5) keeps only (2 alpha - 1) q^gamma c:
        # 0 with alpha disabled, -1/2 * 1/4 * log 2 with alpha = 0.25 (gamma 2)
        assert FOCAL_VJP([1.0], [0.0], [0.5], alpha=None)[1][0] == 0.0
        assert FOCAL_VJP([1.0], [0.0], [0.5])[1][0] == pytest.approx(-0.125 * math.log(2), rel=1e-15)
        # x = log 3, y = 1/4, alpha disabled, gamma 1: p = 3/4, q = 3/4 * 3/4 + 1/4 * 1/4 = 5/8,
        # c = 1/4 log(4/3) + 3/4 log 4; d/dy = q (gamma (1 - 2p) c / q - x) = -c/2 - (5/8) log 3
        c = 0.25 * math.log(4 / 3) + 0.75 * math.log(4)
        assert FOCAL_VJP([1.0], [math.log(3)], [0.25], alpha=None, gamma=1.0)[1][0] == pytest.approx(
            -c / 2 - 0.625 * math.log(3), rel=1e-14)

    def test_target_gradient_of_gamma_zero_is_the_bce_one(self):
        rng = np.random.default_rng(5)
        x, y = rng.normal(size=20) * 4, rng.random(20)
        np.testing.assert_allclose(FOCAL_VJP(np.ones(20), x, y, alpha=None, gamma=0.0)[1],
                                   BCE_VJP(np.ones(20), x, y, reduction="none")[1], rtol=1e-15)

    def test_target_gradient_matches_torchvision_autograd(self):
        torch = pytest.importorskip("torch")
        ops = pytest.importorskip("torchvision.ops")
        rng = np.random.default_rng(6)
        x, y = rng.normal(size=30) * 3, rng.random(30)
        for alpha, gamma in ((0.25, 2.0), (-1.0, 0.5), (0.7, 1.5)):
            xt = torch.tensor(x, requires_grad=True)
            yt = torch.tensor(y, requires_grad=True)
            ops.sigmoid_focal_loss(xt, yt, alpha=alpha, gamma=gamma, reduction="sum").backward()
            gx, gy = FOCAL_VJP(1.0, x, y, alpha=alpha, gamma=gamma, reduction="sum")
            # moderate logits: torchvision's 1 - p_t keeps enough accuracy here (see the derivation page)
            np.testing.assert_allclose(gy, yt.grad.numpy(), rtol=1e-12)
            np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12)

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


class TestBinaryCrossEntropy:
    def test_values_and_the_clamp(self):
        # p = 1/2: log 2 for any y; p = 0 or 1 against the wrong label: the log is clamped at -100
        np.testing.assert_allclose(refloss.binary_cross_entropy([0.5, 0.5], [0.0, 1.0], reduction="none"),
                                   [math.log(2)] * 2, rtol=1e-15)
        np.testing.assert_array_equal(refloss.binary_cross_entropy([0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0],
                                                                   reduction="none"), [100.0, 100.0, 0.0, 0.0])

    def test_gradient_is_the_derivative_of_the_value(self):
        # (p - y) / (p (1 - p)) at p = 3/4, y = 1: -1/4 / (3/16) = -4/3; target: -(log p - log(1 - p)) = -log 3
        gp, gy = refloss.binary_cross_entropy_vjp(1.0, [0.75], [1.0], reduction="sum")
        assert gp[0] == pytest.approx(-4 / 3, rel=1e-15) and gy[0] == pytest.approx(-math.log(3), rel=1e-15)
        # a clamped term is constant: p = 0, y = 1 has gradient 0 (PyTorch: -1e12)
        assert refloss.binary_cross_entropy_vjp(1.0, [0.0], [1.0], reduction="sum")[0][0] == 0.0
        # below PyTorch's 1e-12 epsilon the true derivative 1 / (1 - p) ~ 1 survives (PyTorch gives 0.1)
        assert refloss.binary_cross_entropy_vjp(1.0, [1e-13], [0.0], reduction="sum")[0][0] == pytest.approx(1.0)

    def test_the_clamp_is_decided_on_p_not_on_the_rounded_log(self):
        # The float64 just above e^-100 has log p = -99.999..., which rounds to -100.0; its term is not clamped,
        # so its gradient is -y / p (-2.7e43 y), not 0. mpmath decides which side of e^-100 each float lies.
        import mpmath

        from refloss.losses.classification.bce import SMALLEST_UNCLAMPED

        below = math.nextafter(SMALLEST_UNCLAMPED, 0.0)
        with mpmath.workdps(50):
            assert mpmath.mpf(below) < mpmath.exp(-100) < mpmath.mpf(SMALLEST_UNCLAMPED)
        assert math.log(SMALLEST_UNCLAMPED) == -100.0  # why the rounded log cannot decide
        gp, _ = refloss.binary_cross_entropy_vjp(1.0, [SMALLEST_UNCLAMPED, below], [1.0, 1.0], reduction="sum")
        assert gp[0] == pytest.approx(-1 / SMALLEST_UNCLAMPED, rel=1e-15) and gp[1] == 0.0

    def test_accurate_for_tiny_probabilities_and_near_p_equal_y(self):
        assert refloss.binary_cross_entropy([1e-17], [0.0]) == pytest.approx(1e-17, rel=1e-15)  # -log1p(-p)
        gp, _ = refloss.binary_cross_entropy_vjp(1.0, [0.3 + 1e-12], [0.3], reduction="sum")
        assert gp[0] == pytest.approx(1e-12 / (0.3 * 0.7), rel=1e-3)  # (p - y) / (p (1 - p)), no cancellation

    @pytest.mark.parametrize("kwargs, message", [
        ({"input": [0.5, 1.5]}, "input must be probabilities in [0, 1], got 1.5"),
        ({"target": [0.5, -0.5]}, "target must be probabilities in [0, 1], got -0.5"),
        ({"weight": [1.0, -1.0]}, "weight must be non-negative"),
    ])
    def test_bad_input(self, kwargs, message):
        arguments = {"input": [0.5, 0.5], "target": [0.0, 1.0], **kwargs}
        with pytest.raises(ValueError) as info:
            refloss.binary_cross_entropy(**arguments)
        assert message in str(info.value)

    def test_matches_torch_away_from_its_epsilon(self):
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(4)
        p, y, w = rng.uniform(0.01, 0.99, size=7), rng.uniform(0, 1, size=7), rng.uniform(0, 2, size=7)
        pt, yt = torch.tensor(p, requires_grad=True), torch.tensor(y, requires_grad=True)
        out = torch.nn.functional.binary_cross_entropy(pt, yt, weight=torch.tensor(w))
        gp, gy = torch.autograd.grad(out, (pt, yt))
        ours = refloss.binary_cross_entropy_vjp(1.0, p, y, weight=w)
        assert refloss.binary_cross_entropy(p, y, weight=w) == pytest.approx(out.item(), rel=1e-14)
        np.testing.assert_allclose(ours[0], gp.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours[1], gy.numpy(), rtol=1e-12)


class TestHinge:
    def test_values_and_gradients(self):
        x, y = np.array([0.5, 2.0, -1.0]), np.array([1.0, 1.0, 1.0])
        np.testing.assert_array_equal(refloss.hinge_loss(x, y, reduction="none"), [0.5, 0.0, 2.0])  # max(0, 1 - yx)
        np.testing.assert_array_equal(refloss.hinge_loss_vjp(np.ones(3), x, y, reduction="none")[0], [-1.0, 0.0, -1.0])
        np.testing.assert_array_equal(refloss.squared_hinge_loss(x, y, reduction="none"), [0.25, 0.0, 4.0])
        np.testing.assert_array_equal(refloss.squared_hinge_loss_vjp(np.ones(3), x, y, reduction="none")[0],
                                      [-1.0, 0.0, -4.0])  # -2 y max(0, 1 - yx)

    def test_zero_one_labels_mean_minus_one_plus_one(self):
        x = np.array([0.5, -0.5])
        np.testing.assert_array_equal(refloss.hinge_loss(x, [0.0, 1.0], reduction="none"),
                                      refloss.hinge_loss(x, [-1.0, 1.0], reduction="none"))

    def test_zero_gradient_at_the_margin(self):
        assert refloss.hinge_loss_vjp(1.0, [1.0], [1.0], reduction="sum")[0][0] == 0.0

    @pytest.mark.parametrize("target", [[0.5, 1.0], [-1.0, 0.0], [2.0, 1.0]])
    def test_bad_labels(self, target):
        with pytest.raises(ValueError, match="target must hold labels all in"):
            refloss.hinge_loss([0.0, 1.0], target)


class TestMultiMargin:
    def test_value_and_gradient(self):
        x = np.array([[0.1, 0.2, 0.4, 0.8]])
        # z = 1 - 0.8 + [0.1, 0.2, 0.4] = [0.3, 0.4, 0.6], all active: sum / C = 1.3 / 4
        assert refloss.multi_margin_loss(x, np.array([3])) == pytest.approx(0.325, rel=1e-15)
        grad, labels = refloss.multi_margin_loss_vjp(1.0, x, np.array([3]))
        np.testing.assert_allclose(grad, [[0.25, 0.25, 0.25, -0.75]], rtol=1e-15)  # 1/C each, -3/C for the target
        assert labels is None

    def test_matches_torch_including_a_score_exactly_at_the_margin(self):
        torch = pytest.importorskip("torch")
        x = np.array([[0.0, 1.0, 0.5], [2.0, -1.0, 0.25]])  # row 0: z_0 = 1 - 1 + 0 = 0 exactly
        t = np.array([1, 0])
        for p, kwargs in [(1, {}), (2, {"margin": 0.5}), (1, {"weight": np.array([1.0, 3.0, 0.5])})]:
            xt = torch.tensor(x, requires_grad=True)
            kw = {k: torch.tensor(v) for k, v in kwargs.items() if isinstance(v, np.ndarray)}
            kw.update({k: v for k, v in kwargs.items() if not isinstance(v, np.ndarray)})
            out = torch.nn.functional.multi_margin_loss(xt, torch.tensor(t), p=p, reduction="sum", **kw)
            (grad,) = torch.autograd.grad(out, xt)
            assert refloss.multi_margin_loss(x, t, p=p, reduction="sum", **kwargs) == pytest.approx(out.item())
            np.testing.assert_allclose(refloss.multi_margin_loss_vjp(1.0, x, t, p=p, reduction="sum", **kwargs)[0],
                                       grad.numpy(), rtol=1e-14)

    @pytest.mark.parametrize("kwargs, message", [({"p": 3}, "p must be 1 or 2"), ({"target": np.array([0, 5])},
                                                                                   "target class indices must be in")])
    def test_bad_input(self, kwargs, message):
        arguments = {"input": np.zeros((2, 3)), "target": np.array([0, 1]), **kwargs}
        with pytest.raises(ValueError, match=message):
            refloss.multi_margin_loss(**arguments)


class TestSoftmaxFocal:
    def test_gamma_zero_is_the_alpha_weighted_log_loss_per_sample(self):
        rng = np.random.default_rng(2)
        x, t, alpha = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5), np.array([0.5, 1.0, 2.0])
        per_sample = refloss.softmax_focal_loss(x, t, alpha=alpha, gamma=0.0, reduction="none")
        ce = refloss.cross_entropy(x, t, weight=alpha, reduction="none")  # -w_y log p_y per sample
        np.testing.assert_allclose(per_sample, ce, rtol=1e-14)

    def test_confident_rows_keep_tiny_losses_and_finite_gradients(self):
        x, t = np.array([[0.0, 40.0, 0.0], [1e4, 0.0, -1e4]]), np.array([1, 0])
        loss = refloss.softmax_focal_loss(x, t, gamma=0.5, reduction="none")
        q = 2 * math.exp(-40) / (1 + 2 * math.exp(-40))  # 1 - p_y
        assert loss[0] == pytest.approx(q ** 0.5 * -math.log1p(-q), rel=1e-12) and loss[1] == 0.0
        grad, _ = refloss.softmax_focal_loss_vjp(np.ones(2), x, t, gamma=0.5, reduction="none")
        assert np.all(np.isfinite(grad)) and np.all(grad[1] == 0.0)

    def test_label_smoothing_by_hand(self):
        # logits (log 3, 0): p = (3/4, 1/4); target 0, eps = 1/2, C = 2: t = (3/4, 1/4); gamma = 1:
        # loss = -[3/4 * 1/4 * log(3/4) + 1/4 * 3/4 * log(1/4)] = (3/16) log(16/3)
        x, t = np.array([[math.log(3), 0.0]]), np.array([0])
        loss = refloss.softmax_focal_loss(x, t, gamma=1.0, label_smoothing=0.5, reduction="sum")
        assert loss == pytest.approx(3 / 16 * math.log(16 / 3), rel=1e-15)
        # D_k = -t_k (q_k - p_k log p_k) for gamma = 1; d/dx_0 = D_0 q_0 - p_0 D_1 and d/dx_1 = -d/dx_0
        d0, d1 = -0.75 * (0.25 - 0.75 * math.log(0.75)), -0.25 * (0.75 - 0.25 * math.log(0.25))
        grad, _ = refloss.softmax_focal_loss_vjp(1.0, x, t, gamma=1.0, label_smoothing=0.5, reduction="sum")
        np.testing.assert_allclose(grad, [[d0 / 4 - 0.75 * d1, 0.75 * d1 - d0 / 4]], rtol=1e-14)

    def test_label_smoothing_zero_changes_nothing_and_one_ignores_the_label(self):
        rng = np.random.default_rng(3)
        x, t = rng.normal(size=(4, 3)), rng.integers(0, 3, size=4)
        assert np.array_equal(refloss.softmax_focal_loss(x, t, reduction="none", label_smoothing=0.0),
                              refloss.softmax_focal_loss(x, t, reduction="none"))
        uniform = [refloss.softmax_focal_loss(x, np.full(4, c), reduction="none", label_smoothing=1.0)
                   for c in range(3)]
        np.testing.assert_array_equal(uniform[0], uniform[1])
        np.testing.assert_array_equal(uniform[0], uniform[2])

    def test_label_smoothing_matches_keras_categorical_focal_crossentropy(self, monkeypatch):
        monkeypatch.setenv("KERAS_BACKEND", "jax")
        keras = pytest.importorskip("keras")
        rng = np.random.default_rng(4)
        x, t = rng.normal(size=(6, 4)) * 2, rng.integers(0, 4, size=6)
        for smoothing in (0.0, 0.1, 0.3):
            theirs = keras.losses.categorical_focal_crossentropy(np.eye(4)[t], x, alpha=0.25, gamma=2.0,
                                                                 from_logits=True, label_smoothing=smoothing)
            ours = refloss.softmax_focal_loss(x, t, reduction="none", alpha=np.full(4, 0.25), gamma=2.0,
                                              label_smoothing=smoothing)
            # Keras computes in float32 (its floatx): agreement to a few float32 ulps, 2.6e-7 measured
            np.testing.assert_allclose(np.asarray(theirs, dtype=np.float64), ours, rtol=2e-6)


class TestBinaryCrossEntropyKeras:
    def test_clip_instead_of_clamp(self):
        # -log(1e-7) = 16.118 where PyTorch's clamp gives 100 (Keras, keras.losses.binary_crossentropy)
        values = refloss.binary_cross_entropy_keras([0.0, 1.0, 0.5], [1.0, 0.0, 1.0], reduction="none")
        np.testing.assert_allclose(values, [-math.log(1e-7), -math.log1p(-(1 - 1e-7)), math.log(2)], rtol=1e-9)
        assert values[0] == pytest.approx(16.11809565095832, rel=1e-12)

    def test_no_gradient_in_p_beyond_the_clip(self):
        gp, gy = refloss.binary_cross_entropy_keras_vjp(np.ones(3), [0.0, 1.0, 0.75], [1.0, 0.0, 1.0],
                                                        reduction="none")
        np.testing.assert_allclose(gp, [0.0, 0.0, -4 / 3], rtol=1e-12)
        assert np.all(np.isfinite(gy))

    def test_bad_epsilon(self):
        with pytest.raises(ValueError, match="epsilon must be in"):
            refloss.binary_cross_entropy_keras([0.5], [1.0], epsilon=0.75)


def test_cross_entropy_ignores_a_class_masked_with_minus_infinity():
    # PyTorch: logits [-inf, 0, 0] with target 1 give log 2 and gradient (0, -1/2, 1/2); 0 * -inf must not leak
    x, t = np.array([[-np.inf, 0.0, 0.0]]), np.array([1])
    assert refloss.cross_entropy(x, t) == pytest.approx(math.log(2), rel=1e-15)
    np.testing.assert_allclose(refloss.cross_entropy_vjp(1.0, x, t)[0], [[0.0, -0.5, 0.5]], rtol=1e-15)
    assert refloss.softmax_focal_loss(x, t) == pytest.approx(0.25 * math.log(2), rel=1e-15)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"gamma": -1.0}, ValueError, "gamma must be in [0, inf), got -1.0"),
    ({"alpha": np.array([1.0, 2.0])}, ValueError, "alpha must have shape (C,) = (3,), one entry per class, got (2,)"),
    ({"alpha": np.array([1.0, -1.0, 0.5])}, ValueError, "alpha must be non-negative, got minimum -1.0"),
    ({"target": np.array([0, 3])}, ValueError, "target class indices must be in [0, 3), got 3"),
    ({"target": np.array([0.0, 1.0])}, TypeError, "target must be an array of integer class indices"),
    ({"input": 1.0, "target": np.array(0)}, ValueError, "input must have a class dimension"),
    ({"label_smoothing": 1.5}, ValueError, "label_smoothing must be in [0, 1], got 1.5"),
    ({"label_smoothing": "0.1"}, TypeError, "label_smoothing must be a real number"),
])
def test_softmax_focal_bad_input(kwargs, error, message):
    arguments = {"input": np.zeros((2, 3)), "target": np.array([0, 1]), **kwargs}
    for call in (lambda: refloss.softmax_focal_loss(**arguments),
                 lambda: refloss.softmax_focal_loss_vjp(1.0, **arguments)):
        with pytest.raises(error) as info:
            call()
        assert message in str(info.value)
