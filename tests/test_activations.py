"""Building blocks: sigmoid, log_sigmoid, softmax, log_softmax (three-way gradient checks, stability, torch) and
one_hot."""

import math

import mpmath
import numpy as np
import pytest
from autograd import make_vjp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refloss
from refloss.testing import relative_error

ELEMENTWISE = {"sigmoid": (refloss.sigmoid, refloss.sigmoid_vjp),
               "log_sigmoid": (refloss.log_sigmoid, refloss.log_sigmoid_vjp)}
ALONG_DIM = {"softmax": (refloss.softmax, refloss.softmax_vjp),
             "log_softmax": (refloss.log_softmax, refloss.log_softmax_vjp)}

# Textbook mpmath definitions, independent of the stable forms in refloss.activations.
MP_ELEMENTWISE = {"sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)),
                  "log_sigmoid": lambda t: -mpmath.log(1 + mpmath.exp(-t))}


def _finite_difference(function, x, g):
    """VJP by central differences of <g, function(x)>."""
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = 6e-6 * max(1.0, abs(x[index]))
        up, down = x.copy(), x.copy()
        up[index] += step
        down[index] -= step
        out[index] = (np.sum(g * function(up)) - np.sum(g * function(down))) / (2 * step)
    return out


arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=st.floats(-30, 30))


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(x=arrays, data=st.data())
def test_elementwise_vjp_three_ways(name, x, data):
    forward, vjp = ELEMENTWISE[name]
    g = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(-3, 3)))
    ours = vjp(g, x)
    assert relative_error(ours, make_vjp(forward)(x)[0](g)) <= 1e-12
    assert relative_error(ours, _finite_difference(forward, x, g)) <= 1e-6
    with mpmath.workdps(50):
        oracle = np.array([float(gi * mpmath.diff(MP_ELEMENTWISE[name], mpmath.mpf(float(xi))))
                           for gi, xi in zip(g.ravel(), x.ravel())]).reshape(x.shape)
        values = np.array([float(MP_ELEMENTWISE[name](mpmath.mpf(float(xi)))) for xi in x.ravel()]).reshape(x.shape)
    assert relative_error(ours, oracle) <= 1e-13
    assert relative_error(forward(x), values) <= 1e-13


@pytest.mark.parametrize("name", ALONG_DIM)
@given(x=arrays, data=st.data())
def test_softmax_vjps_three_ways(name, x, data):
    forward, vjp = ALONG_DIM[name]
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    g = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(-3, 3)))
    ours = vjp(g, x, dim)
    assert relative_error(ours, make_vjp(lambda v: forward(v, dim))(x)[0](g)) <= 1e-12
    assert relative_error(ours, _finite_difference(lambda v: forward(v, dim), x, g)) <= 1e-6
    with mpmath.workdps(50):  # textbook softmax, no shift
        moved = np.moveaxis(x, dim, -1)
        exact = np.empty(moved.shape)
        for index in np.ndindex(moved.shape[:-1]):
            exps = [mpmath.exp(mpmath.mpf(float(v))) for v in moved[index]]
            total = mpmath.fsum(exps)
            exact[index] = [float(e / total if name == "softmax" else mpmath.log(e / total)) for e in exps]
    assert relative_error(forward(x, dim), np.moveaxis(exact, -1, dim)) <= 1e-13


def test_hand_worked_values():
    assert refloss.sigmoid(0.0) == 0.5  # 1 / (1 + e^0)
    assert refloss.log_sigmoid(0.0) == pytest.approx(-math.log(2), rel=1e-15)
    assert refloss.sigmoid_vjp(1.0, 0.0) == 0.25  # sigma(0) sigma(-0) = 1/4
    s = refloss.softmax([0.0, math.log(3.0)], 0)  # e^0 : e^log3 = 1 : 3
    np.testing.assert_allclose(s, [0.25, 0.75], rtol=1e-15)
    # softmax VJP with g = e_1: s_1 (e_1 - s) = 0.75 * [-0.25, 0.25]
    np.testing.assert_allclose(refloss.softmax_vjp([0.0, 1.0], [0.0, math.log(3.0)], 0), [-0.1875, 0.1875],
                               rtol=1e-15)


@pytest.mark.parametrize("logit", [1e4, -1e4, 1e300, -1e300, 745.0, -745.0, 40.0])
def test_stable_for_huge_logits(logit):
    assert refloss.log_sigmoid(logit) == pytest.approx(min(logit, 0.0) - math.log1p(math.exp(-abs(logit))), rel=1e-15)
    assert 0.0 <= refloss.sigmoid(logit) <= 1.0
    assert np.isfinite(refloss.sigmoid_vjp(1.0, logit))
    x = np.array([logit, 0.0, -logit])
    assert np.all(np.isfinite(refloss.log_softmax(x, 0)))
    assert refloss.softmax(x, 0).sum() == pytest.approx(1.0)
    assert np.all(np.isfinite(refloss.log_softmax_vjp(np.ones(3), x, 0)))


def test_sigmoid_gradient_keeps_relative_accuracy_far_out():
    # sigma'(40) = e^-40 / (1 + e^-40)^2 ~ 4.25e-18; sigma(40) * (1 - sigma(40)) would give 0.
    assert refloss.sigmoid_vjp(1.0, 40.0) == pytest.approx(math.exp(-40) / (1 + math.exp(-40)) ** 2, rel=1e-15)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(size=(4, 5)) * 10, [[1e4, -1e4, 0.0, 3.0, -2.0]]])
    g = rng.normal(size=x.shape)
    for ours, theirs in [(refloss.sigmoid, torch.sigmoid), (refloss.log_sigmoid, torch.nn.functional.logsigmoid),
                         (lambda v: refloss.softmax(v, 1), lambda t: torch.softmax(t, 1)),
                         (lambda v: refloss.log_softmax(v, 0), lambda t: torch.log_softmax(t, 0))]:
        t = torch.tensor(x, requires_grad=True)
        out = theirs(t)
        (grad,) = torch.autograd.grad(out, t, torch.tensor(g))
        assert relative_error(ours(x), out.detach().numpy()) <= 1e-14
    vjps = [refloss.sigmoid_vjp(g, x), refloss.log_sigmoid_vjp(g, x), refloss.softmax_vjp(g, x, 1),
            refloss.log_softmax_vjp(g, x, 0)]
    for vjp, theirs in zip(vjps, [torch.sigmoid, torch.nn.functional.logsigmoid, lambda t: torch.softmax(t, 1),
                                  lambda t: torch.log_softmax(t, 0)]):
        t = torch.tensor(x, requires_grad=True)
        (grad,) = torch.autograd.grad(theirs(t), t, torch.tensor(g))
        assert relative_error(vjp, grad.numpy()) <= 1e-13


class TestOneHot:
    def test_width_inferred_and_given(self):
        np.testing.assert_array_equal(refloss.one_hot([0, 2, 1]), [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
        assert refloss.one_hot(np.array([[1]]), num_classes=4).shape == (1, 1, 4)
        assert refloss.one_hot(np.zeros(0, dtype=int), num_classes=3).shape == (0, 3)
        assert refloss.one_hot([1]).dtype == np.int64

    @pytest.mark.parametrize("labels, num_classes, error, message", [
        ([0, 3], 3, ValueError, "labels must be below num_classes=3, got 3"),
        ([-1, 1], None, ValueError, "labels must be non-negative, got -1"),
        ([0.0, 1.0], None, TypeError, "labels must be an array of integers, got dtype float64"),
        (np.zeros(0, dtype=int), None, ValueError, "num_classes must be given for empty labels"),
        ([0], 0, ValueError, "num_classes must be a positive integer or None, got 0"),
    ])
    def test_bad_labels(self, labels, num_classes, error, message):
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
            refloss.one_hot(labels, num_classes)


@pytest.mark.parametrize("dim, message", [(2, r"dim must be in \[-2, 1\]"), (1.0, "dim must be an integer")])
def test_bad_dim(dim, message):
    with pytest.raises((ValueError, TypeError), match=message):
        refloss.softmax(np.zeros((2, 3)), dim)


def test_derivation_page_cites_every_step_used_in_the_code():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    page = (root / "docs" / "derivations" / "activations.md").read_text()
    source = (root / "refloss" / "activations.py").read_text()
    for tag in set(re.findall(r"\((A\d+)\)", source)):
        assert f"({tag})" in page, tag
    for heading in ("## Definition", "## Gradient", "## Numerics", "## Conventions", "## References"):
        assert heading in page


def test_one_hot_refuses_a_masked_array():
    with pytest.raises(TypeError, match="labels is a NumPy masked array"):
        refloss.one_hot(np.ma.array([0, 1], mask=[False, True]), 2)
