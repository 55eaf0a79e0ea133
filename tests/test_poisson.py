"""Likelihood losses (poisson_nll_loss, gaussian_nll_loss): hand-worked values (provenance in comments), PyTorch's
conventions (Stirling's mask, the clamp of var under no_grad), var's shapes, bad input, and PyTorch itself."""

import math

import numpy as np
import pytest

import refloss
from refloss.conformance.oracle import ORACLES, evaluate_oracle
from refloss.testing import (Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences,
                             relative_error)

POISSON, POISSON_VJP = refloss.poisson_nll_loss, refloss.poisson_nll_loss_vjp
GAUSSIAN, GAUSSIAN_VJP = refloss.gaussian_nll_loss, refloss.gaussian_nll_loss_vjp
LOG2 = math.log(2.0)


def stirling(y):
    """y log y - y + log(2 pi y) / 2, written out independently of the module."""
    return y * math.log(y) - y + 0.5 * math.log(2 * math.pi * y)


class TestPoissonValues:
    def test_log_input(self):
        # x = log 2, so e^x = 2: 2 - 3 log 2 for y = 3; x = 0, y = 0: e^0 = 1
        values = POISSON([LOG2, 0.0], [3.0, 0.0], reduction="none")
        np.testing.assert_allclose(values, [2 - 3 * LOG2, 1.0], rtol=1e-15)
        # mean of the two, sum of the two
        assert POISSON([LOG2, 0.0], [3.0, 0.0]) == pytest.approx((3 - 3 * LOG2) / 2, rel=1e-15)
        assert POISSON([LOG2, 0.0], [3.0, 0.0], reduction="sum") == pytest.approx(3 - 3 * LOG2, rel=1e-15)

    def test_log_input_gradients(self):
        # d/dx = e^x - y = 2 - 3 = -1 and 1 - 0 = 1; d/dy = -x = -log 2 and 0; cotangents 2 and -1 multiply them
        gx, gy = POISSON_VJP(np.array([2.0, -1.0]), [LOG2, 0.0], [3.0, 0.0], reduction="none")
        np.testing.assert_allclose(gx, [-2.0, -1.0], rtol=1e-15)
        np.testing.assert_allclose(gy, [-2 * LOG2, 0.0], rtol=1e-15, atol=0)

    def test_rates(self):
        # log_input=False, eps = 0: x - y log x = 2 - 2 log 2; d/dx = 1 - y / x = 0; d/dy = -log x = -log 2
        assert POISSON([2.0], [2.0], log_input=False, eps=0.0) == pytest.approx(2 - 2 * LOG2, rel=1e-15)
        gx, gy = POISSON_VJP(1.0, [2.0], [2.0], log_input=False, eps=0.0)
        assert gx[0] == 0.0 and gy[0] == pytest.approx(-LOG2, rel=1e-15)
        # eps = 0.5 and a zero rate: 0 - 4 log(0.5) = 4 log 2; d/dx = 1 - 4 / 0.5 = -7; d/dy = -log 0.5 = log 2
        assert POISSON([0.0], [4.0], log_input=False, eps=0.5) == pytest.approx(4 * LOG2, rel=1e-15)
        gx, gy = POISSON_VJP(1.0, [0.0], [4.0], log_input=False, eps=0.5)
        assert gx[0] == pytest.approx(-7.0, rel=1e-15) and gy[0] == pytest.approx(LOG2, rel=1e-15)

    def test_full_adds_stirling_above_one_only(self):
        # x = 0: e^0 - 0 = 1 for every y, plus s(y) = y log y - y + log(2 pi y) / 2 where y > 1 (PyTorch's mask)
        y = np.array([0.0, 0.5, 1.0, 2.0, 5.0])
        expected = [1.0, 1.0, 1.0, 1.0 + stirling(2.0), 1.0 + stirling(5.0)]
        np.testing.assert_allclose(POISSON(np.zeros(5), y, full=True, reduction="none"), expected, rtol=1e-15)
        # s(2) = 2 log 2 - 2 + log(4 pi) / 2 = 0.65180648..., by hand from the definition
        assert stirling(2.0) == pytest.approx(2 * LOG2 - 2 + 0.5 * math.log(4 * math.pi), rel=1e-15)

    def test_full_target_gradient(self):
        # d/dy = -x + log y + 1 / (2 y) above 1, -x at and below 1 (x = 0.5): y = 2 gives -0.5 + log 2 + 1/4
        x = np.full(4, 0.5)
        _, gy = POISSON_VJP(np.ones(4), x, [0.0, 1.0, 2.0, 4.0], full=True, reduction="none")
        np.testing.assert_allclose(gy, [-0.5, -0.5, -0.25 + LOG2, -0.5 + math.log(4) + 0.125], rtol=1e-15)

    def test_the_loss_jumps_at_target_one_with_full(self):
        # s(1+) = 0 - 1 + log(2 pi) / 2 = -0.0811: the loss just above y = 1 is 0.0811 lower than at y = 1
        at = POISSON([0.0], [1.0], full=True)
        above = POISSON([0.0], [np.nextafter(1.0, 2.0)], full=True)
        assert at - above == pytest.approx(1 - 0.5 * math.log(2 * math.pi), rel=1e-12)

    def test_overflow_and_nan_propagate(self):
        value = POISSON([800.0, np.nan, 1.0], [1.0, 1.0, 1.0], reduction="none")
        assert value[0] == np.inf and np.isnan(value[1]) and np.isfinite(value[2])
        gx, gy = POISSON_VJP(np.ones(3), [800.0, np.nan, 1.0], [1.0, 1.0, 1.0], reduction="none")
        assert gx[0] == np.inf and gy[0] == -800.0 and np.isnan(gx[1]) and np.isnan(gy[1])

    def test_empty_mean_is_nan_and_sum_zero(self):
        assert np.isnan(POISSON(np.zeros(0), np.zeros(0))) and POISSON(np.zeros(0), np.zeros(0), reduction="sum") == 0


class TestGaussianValues:
    def test_values_and_gradients(self):
        # x = 1, y = 3, var = 4: (log 4 + 2^2 / 4) / 2 = log 2 + 1/2; d/dx = d / v = -1/2; d/dvar = (1/4 - 4/16) / 2 = 0
        assert GAUSSIAN([1.0], [3.0], [4.0]) == pytest.approx(LOG2 + 0.5, rel=1e-15)
        gx, gy, gv = GAUSSIAN_VJP(1.0, [1.0], [3.0], [4.0])
        assert (gx[0], gy[0], gv[0]) == (-0.5, 0.5, 0.0)
        # x = 1, y = 0, var = 0.5: (log 0.5 + 2) / 2 = 1 - log(2) / 2; d/dvar = (2 - 1 / 0.25) / 2 = -1
        assert GAUSSIAN([1.0], [0.0], [0.5]) == pytest.approx(1 - LOG2 / 2, rel=1e-15)
        assert GAUSSIAN_VJP(1.0, [1.0], [0.0], [0.5])[2][0] == pytest.approx(-1.0, rel=1e-15)

    def test_full_adds_half_log_two_pi(self):
        assert GAUSSIAN([1.0], [3.0], [4.0], full=True) == pytest.approx(LOG2 + 0.5 + 0.5 * math.log(2 * math.pi),
                                                                         rel=1e-15)

    def test_clamp_below_eps_passes_the_gradient_straight_through(self):
        # eps = 0.25, var = 0 (and 0.1): v = 0.25, d = 1: loss (log 0.25 + 4) / 2 = 2 - log 2, and the var gradient
        # is the derivative at v = 0.25, (1 / 0.25 - 1 / 0.0625) / 2 = (4 - 16) / 2 = -6, not 0 (PyTorch's no_grad)
        values = GAUSSIAN([1.0, 1.0], [0.0, 0.0], [0.0, 0.1], eps=0.25, reduction="none")
        np.testing.assert_allclose(values, [2 - LOG2] * 2, rtol=1e-15)
        _, _, gv = GAUSSIAN_VJP(np.ones(2), [1.0, 1.0], [0.0, 0.0], [0.0, 0.1], eps=0.25, reduction="none")
        np.testing.assert_allclose(gv, [-6.0, -6.0], rtol=1e-15)
        # the default eps 1e-6: (1e6 - 1e12) / 2 = -4.999995e11, the number PyTorch 2.14.1 prints
        assert GAUSSIAN_VJP(1.0, [1.0], [0.0], [0.0], reduction="sum")[2][0] == pytest.approx(-4.999995e11,
                                                                                              rel=1e-12)

    @pytest.mark.parametrize("var", [
        np.array([1.0, 4.0]),           # one per row: input's shape without its last dimension
        np.array([[1.0], [4.0]]),       # (2, 1)
        np.array([[1.0, 4.0]]),         # (1, 2): one per column
        np.float64(2.0),                # one for all (PyTorch's Python float)
    ])
    def test_var_shapes_broadcast_as_pytorch(self, var):
        # residuals d = [[0, 0], [0, 1]]; the loss (log v + d^2 / v) / 2 with v broadcast as PyTorch does, which
        # the test spells out: a 1-D var is one variance per row (v[:, None]), the others broadcast as NumPy
        x, y = np.array([[0.0, 0.0], [0.0, 1.0]]), np.zeros((2, 2))
        v = np.broadcast_to(var if np.ndim(var) != 1 else var[:, None], (2, 2))
        np.testing.assert_allclose(GAUSSIAN(x, y, var, reduction="none"), 0.5 * (np.log(v) + x * x / v), rtol=1e-15)
        gx, _, gv = GAUSSIAN_VJP(np.ones((2, 2)), x, y, var, reduction="none")
        np.testing.assert_allclose(gx, x / v, rtol=1e-15)
        # var's gradient has var's shape: the sum of (1/v - d^2/v^2) / 2 over the elements sharing it
        assert np.shape(gv) == np.shape(var)
        np.testing.assert_allclose(gv, np.reshape(_summed(0.5 * (1 / v - x * x / v ** 2), var), np.shape(var)),
                                   rtol=1e-15)

    def test_infinite_and_nan(self):
        value = GAUSSIAN([1.0, np.nan], [0.0, 0.0], [np.inf, 1.0], reduction="none")
        assert value[0] == np.inf and np.isnan(value[1])
        gx, gy, gv = GAUSSIAN_VJP(np.ones(2), [1.0, np.nan], [0.0, 0.0], [np.inf, 1.0], reduction="none")
        assert gx[0] == 0.0 and gv[0] == 0.0 and np.isnan(gx[1]) and np.isnan(gv[1])


def _summed(per_element, var):
    """Sum a (2, 2) gradient down to the shape var takes in the loss."""
    if np.ndim(var) == 0:
        return per_element.sum()
    if np.ndim(var) == 1:
        return per_element.sum(axis=1)
    return per_element.sum(axis=tuple(i for i, s in enumerate(np.shape(var)) if s == 1), keepdims=True)


# ---- the three gradient checks on what the generic tests do not draw: var in each shape, every flag ------------

_VAR_SHAPES = [(3, 4), (3,), (3, 1), (1, 4), ()]


@pytest.mark.parametrize("var_shape", _VAR_SHAPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_gaussian_vjp_three_ways_for_every_var_shape(var_shape, reduction):
    rng = np.random.default_rng(len(var_shape) * 7 + len(reduction))
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    var = rng.uniform(0.3, 2.0, size=var_shape)
    var.flat[0] = 1e-3  # below eps = 0.01: the straight-through gradient (the held forward for differences)
    g = rng.normal(size=(3, 4)) if reduction == "none" else np.float64(0.7)
    case = Case((x, y, var), {"eps": 0.01, "full": True}, reduction, g)
    assert_vjp_matches_autograd("gaussian_nll_loss", case)
    assert_vjp_matches_finite_differences("gaussian_nll_loss", case)
    _assert_matches_oracle("gaussian_nll_loss", case)


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_vjp_three_ways(log_input, full):
    rng = np.random.default_rng(int(log_input) * 2 + int(full))
    x = rng.uniform(-2.0, 2.0, size=(2, 5)) if log_input else rng.uniform(0.1, 4.0, size=(2, 5))
    y = np.round(rng.uniform(0.0, 8.0, size=(2, 5)), 1) + 0.05  # counts away from the jump at 1
    for reduction in ("none", "mean"):
        g = rng.normal(size=(2, 5)) if reduction == "none" else np.float64(-1.3)
        case = Case((x, y), {"log_input": log_input, "full": full}, reduction, g)
        assert_vjp_matches_autograd("poisson_nll_loss", case)
        assert_vjp_matches_finite_differences("poisson_nll_loss", case)
        _assert_matches_oracle("poisson_nll_loss", case)


def _assert_matches_oracle(name, case):
    spec = refloss.registry.get(name)
    inputs = dict(zip([i.name for i in spec.inputs], case.inputs))
    params = {p.name: p.default for p in spec.params} | case.params
    expected = evaluate_oracle(ORACLES[name], inputs, params, case.reduction, np.asarray(case.grad_output))
    assert relative_error(spec.forward(*case.inputs, **case.kwargs()),
                          np.array([float(v) for v in expected.value.exact]).reshape(expected.value.shape)) <= 1e-13
    for inp, grad in zip(spec.inputs, spec.vjp(case.grad_output, *case.inputs, **case.kwargs())):
        tensor = expected.grads[inp.name]
        assert relative_error(grad, np.array([float(v) for v in tensor.exact]).reshape(tensor.shape)) <= 1e-13


def test_poisson_oracle_takes_the_left_derivative_at_the_jump():
    # At y = 1 with full the oracle's target derivative is -x (left), not the one-sided right one -x + 1/2.
    expected = evaluate_oracle(ORACLES["poisson_nll_loss"], {"input": np.array([0.5]), "target": np.array([1.0])},
                               {"full": True}, "sum", np.float64(1.0))
    assert float(expected.grads["target"].exact[0]) == -0.5
    assert POISSON_VJP(1.0, [0.5], [1.0], full=True, reduction="sum")[1][0] == -0.5


# ---- bad input ---------------------------------------------------------------------------------------------------

class TestBadInput:
    def test_negative_counts_and_rates(self):
        with pytest.raises(ValueError, match=r"target must be non-negative \(counts\), got minimum -1.0"):
            POISSON([0.0, 0.0], [1.0, -1.0])
        with pytest.raises(ValueError, match=r"input must be non-negative \(rates when log_input is False\), got "
                                             r"minimum -0.5"):
            POISSON_VJP(1.0, [1.0, -0.5], [1.0, 1.0], log_input=False)
        POISSON([-3.0], [1.0])  # a negative log-rate is fine

    def test_negative_var(self):
        with pytest.raises(ValueError, match=r"var must be non-negative \(variances\), got minimum -0.5"):
            GAUSSIAN([0.0, 0.0], [0.0, 0.0], [1.0, -0.5])

    @pytest.mark.parametrize("var_shape", [(2, 2), (3,), (1, 1), (3, 1, 1), (2, 3, 1)])
    def test_var_of_a_shape_pytorch_refuses(self, var_shape):
        with pytest.raises(ValueError, match=rf"var must have the shape of input \(2, 3\), .* got "
                                             rf"{re_shape(var_shape)}"):
            GAUSSIAN_VJP(1.0, np.zeros((2, 3)), np.zeros((2, 3)), np.ones(var_shape))

    def test_target_must_match_input(self):
        with pytest.raises(ValueError, match=r"target must have the same shape as input \(2, 3\), got \(2, 1\)"):
            GAUSSIAN(np.zeros((2, 3)), np.zeros((2, 1)), np.ones((2, 3)))
        with pytest.raises(ValueError, match=r"target must have the same shape as input \(3, 1\), got \(3,\)"):
            POISSON(np.zeros((3, 1)), np.zeros(3))

    @pytest.mark.parametrize("flag", ["log_input", "full"])
    @pytest.mark.parametrize("wrong", [1, 0.0, "True", None])
    def test_flags_take_only_booleans(self, flag, wrong):
        with pytest.raises(TypeError, match=f"{flag} must be True or False, got {wrong!r}"):
            POISSON([0.0], [1.0], **{flag: wrong})
        if flag == "full":
            with pytest.raises(TypeError, match=f"full must be True or False, got {wrong!r}"):
                GAUSSIAN([0.0], [1.0], [1.0], full=wrong)

    def test_negative_eps_and_unknown_reduction(self):
        with pytest.raises(ValueError, match=r"eps must be in \[0, inf\), got -1.0"):
            POISSON([1.0], [1.0], log_input=False, eps=-1.0)
        with pytest.raises(ValueError, match=r"eps must be in \[0, inf\), got -1e-06"):
            GAUSSIAN([1.0], [1.0], [1.0], eps=-1e-6)
        with pytest.raises(ValueError, match="reduction must be one of 'none', 'mean', 'sum', got 'avg'"):
            GAUSSIAN([1.0], [1.0], [1.0], reduction="avg")

    def test_non_real_var(self):
        with pytest.raises(TypeError, match="var must be an array of real numbers"):
            GAUSSIAN([1.0], [1.0], np.array(["a"]))


def re_shape(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


# ---- PyTorch ---------------------------------------------------------------------------------------------------

class TestAgainstPyTorch:
    """torch.nn.functional in float64, values and autograd gradients (the conformance vectors run the rest)."""

    @pytest.fixture(autouse=True)
    def _torch(self):
        self.torch = pytest.importorskip("torch")
        self.F = self.torch.nn.functional

    def _grads(self, fn, arrays, g, **kwargs):
        tensors = [self.torch.tensor(a, dtype=self.torch.float64, requires_grad=True) for a in arrays]
        out = fn(*tensors, **kwargs)
        grads = self.torch.autograd.grad(out, tensors, self.torch.tensor(g, dtype=self.torch.float64))
        return out.detach().numpy(), [t.numpy() for t in grads]

    @pytest.mark.parametrize("log_input", [True, False])
    @pytest.mark.parametrize("full", [False, True])
    @pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
    def test_poisson(self, log_input, full, reduction):
        rng = np.random.default_rng(3)
        x = rng.uniform(-2, 2, (3, 4)) if log_input else rng.uniform(0, 4, (3, 4))
        y = np.concatenate([[0.5, 1.0, 1.5, 3.0], rng.uniform(0.01, 9, 8)]).reshape(3, 4)  # no y = 0 (see below)
        g = rng.normal(size=(3, 4)) if reduction == "none" else np.float64(0.8)
        kwargs = dict(log_input=log_input, full=full, reduction=reduction)
        value, grads = self._grads(self.F.poisson_nll_loss, (x, y), g, **kwargs)
        assert relative_error(POISSON(x, y, **kwargs), value) <= 1e-14
        for mine, theirs in zip(POISSON_VJP(g, x, y, **kwargs), grads):
            assert relative_error(mine, theirs) <= 1e-14

    def test_poisson_target_zero_with_full_is_nan_in_pytorch(self):
        # The recorded deviation: PyTorch differentiates its masked y log y at y = 0 (0 * -inf = NaN).
        _, (_, gy) = self._grads(self.F.poisson_nll_loss, (np.array([0.5]), np.array([0.0])), np.float64(1.0),
                                 full=True, reduction="sum")
        assert np.isnan(gy[0])
        assert POISSON_VJP(1.0, [0.5], [0.0], full=True, reduction="sum")[1][0] == -0.5

    @pytest.mark.parametrize("var_shape", _VAR_SHAPES[:4])
    @pytest.mark.parametrize("full", [False, True])
    @pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
    def test_gaussian(self, var_shape, full, reduction):
        rng = np.random.default_rng(5)
        x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
        var = rng.uniform(0.2, 3.0, size=var_shape)
        var.flat[0] = 0.0  # clamped at eps: PyTorch's straight-through gradient
        g = rng.normal(size=(3, 4)) if reduction == "none" else np.float64(-0.6)
        kwargs = dict(full=full, reduction=reduction)
        value, grads = self._grads(self.F.gaussian_nll_loss, (x, y, var), g, **kwargs)
        assert relative_error(GAUSSIAN(x, y, var, **kwargs), value) <= 1e-14
        for mine, theirs in zip(GAUSSIAN_VJP(g, x, y, var, **kwargs), grads):
            assert np.shape(mine) == np.shape(theirs)
            assert relative_error(mine, theirs) <= 1e-14

    def test_gaussian_scalar_var_is_pytorchs_float(self):
        rng = np.random.default_rng(6)
        x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
        expected = self.F.gaussian_nll_loss(self.torch.tensor(x), self.torch.tensor(y), 0.7, reduction="none")
        assert relative_error(GAUSSIAN(x, y, 0.7, reduction="none"), expected.numpy()) <= 1e-15
