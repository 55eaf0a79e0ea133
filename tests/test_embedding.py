"""Embedding distances and losses: hand-worked values (provenance in comments), gradients of the geometry
functions, PyTorch conventions measured against torch itself, bad input."""

import math

import numpy as np
import pytest

import refloss
from refloss.testing import (Case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences,
                             sample_case)

RNG = np.random.default_rng(12)


# ---- hand-worked values -----------------------------------------------------------------------------------------

class TestPairwiseDistance:
    def test_values(self):
        # eps is added to the difference: d = (1, -2) + 0.5 = (1.5, -1.5); ||d||_2 = 1.5 sqrt 2, ||d||_1 = 3,
        # ||d||_3 = (2 * 1.5^3)^(1/3) = 1.5 * 2^(1/3)
        d2 = refloss.pairwise_distance([[1.0, -2.0]], [[0.0, 0.0]], eps=0.5)
        np.testing.assert_allclose(d2, [1.5 * math.sqrt(2)], rtol=1e-15)
        assert refloss.pairwise_distance([[1.0, -2.0]], [[0.0, 0.0]], p=1.0, eps=0.5)[0] == 3.0
        d3 = refloss.pairwise_distance([[1.0, -2.0]], [[0.0, 0.0]], p=3.0, eps=0.5)
        np.testing.assert_allclose(d3, [1.5 * 2 ** (1 / 3)], rtol=1e-15)
        # equal vectors of length D are eps sqrt(D) apart: 1e-6 sqrt 3
        np.testing.assert_allclose(refloss.pairwise_distance(np.ones((2, 3)), np.ones((2, 3))),
                                   [1e-6 * math.sqrt(3)] * 2, rtol=1e-12)

    def test_shapes(self):
        assert refloss.pairwise_distance([3.0, 0.0], [0.0, 4.0]).shape == ()
        assert refloss.pairwise_distance(np.zeros((2, 3, 4)), np.ones((2, 3, 4))).shape == (2, 3)
        assert refloss.pairwise_distance(np.zeros((2, 4)), np.ones((2, 4)), keepdim=True).shape == (2, 1)

    def test_gradient(self):
        # d = (3, -4) (eps 0): dist 5, gradient d / 5 = (0.6, -0.8) for x1 and its negative for x2, times g = 2
        g1, g2 = refloss.pairwise_distance_vjp(np.array([2.0]), [[3.0, -4.0]], [[0.0, 0.0]], eps=0.0)
        np.testing.assert_allclose(g1, [[1.2, -1.6]], rtol=1e-15)
        np.testing.assert_allclose(g2, [[-1.2, 1.6]], rtol=1e-15)
        # p = 1: sign(d) = (1, -1, 0)
        g1, _ = refloss.pairwise_distance_vjp(np.array([1.0]), [[3.0, -4.0, 0.0]], [[0.0, 0.0, 0.0]], p=1.0, eps=0.0)
        np.testing.assert_array_equal(g1, [[1.0, -1.0, 0.0]])
        # distance 0 (eps 0, equal vectors): gradient 0, as PyTorch's norm backward
        g1, g2 = refloss.pairwise_distance_vjp(np.ones(1), [[1.0, 2.0]], [[1.0, 2.0]], eps=0.0)
        assert not g1.any() and not g2.any()


class TestCosineSimilarity:
    def test_values(self):
        # (3, 4).(4, 3) = 24, norms 5 and 5: 0.96; orthogonal: 0; opposite: -1
        np.testing.assert_allclose(refloss.cosine_similarity([[3.0, 4.0], [1.0, 0.0], [1.0, 2.0]],
                                                             [[4.0, 3.0], [0.0, 2.0], [-2.0, -4.0]]),
                                   [0.96, 0.0, -1.0], rtol=1e-15, atol=1e-16)

    def test_each_norm_is_clamped_separately(self):
        # x1 = x2 = (1e-4, 0), eps = 1e-3: 1e-8 / (1e-3 * 1e-3) = 0.01 (torch 2.14.1 gives 0.0100; the older
        # max(n1 n2, eps) would give 1e-5)
        np.testing.assert_allclose(refloss.cosine_similarity([[1e-4, 0.0]], [[1e-4, 0.0]], eps=1e-3), [0.01],
                                   rtol=1e-12)

    def test_dim(self):
        x1, x2 = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
        np.testing.assert_allclose(refloss.cosine_similarity(x1, x2, dim=0), refloss.cosine_similarity(x1.T, x2.T),
                                   rtol=1e-15)
        assert refloss.cosine_similarity([1.0, 2.0], [3.0, 4.0], dim=0).shape == ()
        # 11 / (sqrt 5 * 5)
        assert refloss.cosine_similarity([1.0, 2.0], [3.0, 4.0], dim=-1) == pytest.approx(11 / (5 * math.sqrt(5)),
                                                                                             rel=1e-15)

    def test_gradient_of_a_zero_vector(self):
        # x1 = 0: cos = x1.x2 / (eps |x2|), so d/dx1 = x2 / (eps |x2|) = (1, 2) / (1e-8 sqrt 5) and d/dx2 = 0
        g1, g2 = refloss.cosine_similarity_vjp(np.ones(1), [[0.0, 0.0]], [[1.0, 2.0]])
        np.testing.assert_allclose(g1, [[1e8 / math.sqrt(5), 2e8 / math.sqrt(5)]], rtol=1e-14)
        assert not g2.any()

    def test_gradient_is_orthogonal_to_the_vector(self):
        # cos is scale-invariant in x1, so its gradient w.r.t. x1 is orthogonal to x1
        x1, x2 = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))
        g1, g2 = refloss.cosine_similarity_vjp(np.ones(5), x1, x2)
        np.testing.assert_allclose(np.sum(g1 * x1, axis=1), 0.0, atol=1e-14)
        np.testing.assert_allclose(np.sum(g2 * x2, axis=1), 0.0, atol=1e-14)


@pytest.mark.parametrize("name", ["pairwise_distance", "cosine_similarity"])
def test_geometry_gradients_match_autograd_and_finite_differences(name):
    # the generic gradient tests cover losses only; these two functions are geometry
    spec = refloss.registry.get(name)
    rng = np.random.default_rng(5)
    grids = {"pairwise_distance": [{}, {"p": 1.0}, {"p": 3.0}, {"eps": 0.0}, {"keepdim": True}],
             "cosine_similarity": [{}, {"eps": 0.5}]}[name]
    for params in grids:
        inputs = (rng.normal(size=(4, 3)), rng.normal(size=(4, 3)))
        shape = spec.forward(*inputs, **params).shape
        case = Case(inputs, params, None, rng.normal(size=shape))
        assert_vjp_matches_autograd(name, case)
        assert_vjp_matches_finite_differences(name, case)


class TestCosineEmbeddingLoss:
    def test_values(self):
        # pair 1: cos 0.96, label 1: 1 - 0.96 = 0.04; pair 2: cos 0, label -1, margin -0.5: max(0, 0.5) = 0.5
        loss = refloss.cosine_embedding_loss([[3.0, 4.0], [1.0, 0.0]], [[4.0, 3.0], [0.0, 1.0]], [1, -1],
                                             margin=-0.5, reduction="none")
        np.testing.assert_allclose(loss, [0.04, 0.5], rtol=1e-10)  # (eps 1e-12 in 25: 4e-14 relative)
        # the epsilon inside the squared norms: x1 = x2 = (1e-7, 0): 1 - 1e-14 / (1e-14 + e) with e = float32(1e-12)
        # = 9.999999960041972e-13 (PyTorch's constant: 1e-12 itself would give 1 - 1/101 = 0.9900990099009901)
        e = 9.999999960041972e-13
        np.testing.assert_allclose(refloss.cosine_embedding_loss([[1e-7, 0.0]], [[1e-7, 0.0]], [1]),
                                   1 - 1e-14 / (1e-14 + e), rtol=1e-15)
        # a zero vector has cosine 0: loss 1 for a similar pair
        assert refloss.cosine_embedding_loss([[0.0, 0.0]], [[1.0, 1.0]], [1]) == 1.0

    def test_gradient(self):
        # x1 = (3, 4), x2 = (4, 3), label 1 (eps neglected, relative 4e-14): d(1 - c)/dx1 = -(x2 / 25 - c x1 / 25)
        # = -((4, 3) - 0.96 (3, 4)) / 25 = -(1.12, -0.84) / 25 = (-0.0448, 0.0336)
        g1, g2, gt = refloss.cosine_embedding_loss_vjp(1.0, [[3.0, 4.0]], [[4.0, 3.0]], [1], reduction="sum")
        np.testing.assert_allclose(g1, [[-0.0448, 0.0336]], rtol=1e-10)
        np.testing.assert_allclose(g2, [[0.0336, -0.0448]], rtol=1e-10)
        assert gt is None
        # label -1 below the margin: no gradient; at the margin exactly (c = 1 = margin): none either (strict)
        g1, _, _ = refloss.cosine_embedding_loss_vjp(1.0, [[1.0, 0.0]], [[0.0, 1.0]], [-1], margin=0.5)
        assert not g1.any()
        g1, _, _ = refloss.cosine_embedding_loss_vjp(1.0, [[1.0, 2.0]], [[2.0, 4.0]], [-1.0], margin=1.0)
        assert not g1.any()

    def test_unbatched_and_empty(self):
        assert refloss.cosine_embedding_loss([1.0, 0.0], [1.0, 0.0], 1, reduction="none").shape == ()
        assert np.isnan(refloss.cosine_embedding_loss(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0)))
        assert refloss.cosine_embedding_loss(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), reduction="sum") == 0


class TestTripletMarginLoss:
    def test_values(self):
        # d(a, p) = 5 (3-4-5), d(a, n) = 5.5: max(0, 1 + 5 - 5.5) = 0.5 (eps 0)
        assert refloss.triplet_margin_loss([0.0, 0.0], [3.0, 4.0], [0.0, 5.5], eps=0.0) == 0.5
        # swap: d(p, n) = |(3, -1.5)| = 3.354 < 5.5, so 1 + 5 - 3.354 = 2.646
        np.testing.assert_allclose(refloss.triplet_margin_loss([0.0, 0.0], [3.0, 4.0], [0.0, 5.5], eps=0.0, swap=True),
                                   6 - math.sqrt(9 + 2.25), rtol=1e-15)
        # a satisfied triplet costs 0
        assert refloss.triplet_margin_loss([0.0, 0.0], [0.0, 1.0], [0.0, 5.0], eps=0.0) == 0.0

    def test_gradient(self):
        # active: d loss / d a = (a - p) / 5 - (a - n) / 5.5 = (-0.6, -0.8) - (0, -1) = (-0.6, 0.2)
        ga, gp, gn = refloss.triplet_margin_loss_vjp(1.0, [0.0, 0.0], [3.0, 4.0], [0.0, 5.5], eps=0.0)
        np.testing.assert_allclose(ga, [-0.6, 0.2], rtol=1e-15)
        np.testing.assert_allclose(gp, [0.6, 0.8], rtol=1e-15)
        np.testing.assert_allclose(gn, [0.0, -1.0], rtol=1e-15)
        # at the hinge (1 + 1 - 2 = 0): gradient 0, as PyTorch's clamp_min
        grads = refloss.triplet_margin_loss_vjp(1.0, [[0.0, 0.0]], [[1.0, 0.0]], [[2.0, 0.0]], eps=0.0)
        assert not any(g.any() for g in grads)

    def test_swap_tie_splits_in_halves(self):
        # a = (0, 0), p = (2, 0), n = (1, 3): d(a, n) = d(p, n) = sqrt 10; the negative's pull is shared in halves
        a, p, n = np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[1.0, 3.0]])
        ga, gp, gn = refloss.triplet_margin_loss_vjp(1.0, a, p, n, eps=0.0, swap=True, margin=4.0)
        r = math.sqrt(10)
        # d(a, p): (a - p) / 2 = (-1, 0); half of -(a - n) / r = (1, 3) / (2r) to a, of -(p - n) / r to p
        np.testing.assert_allclose(ga, [[-1 + 1 / (2 * r), 3 / (2 * r)]], rtol=1e-15)
        np.testing.assert_allclose(gp, [[1 - 1 / (2 * r), 3 / (2 * r)]], rtol=1e-15)
        np.testing.assert_allclose(gn, [[0.0, -3 / r]], rtol=1e-15, atol=1e-16)


class TestTripletMarginWithDistanceLoss:
    def test_default_is_triplet_margin_loss(self):
        a, p, n = (RNG.normal(size=(5, 3)) for _ in range(3))
        np.testing.assert_allclose(refloss.triplet_margin_with_distance_loss(a, p, n, reduction="none"),
                                   refloss.triplet_margin_loss(a, p, n, reduction="none"), rtol=1e-15)

    def test_cosine_distance(self):
        # cos(a, p) = 0 and cos(a, n) = -1: distances 1 and 2, loss max(0, 0.5 + 1 - 2) = 0; margin 1.5: 0.5
        a, p, n = [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]
        assert refloss.triplet_margin_with_distance_loss(a, p, n, distance_function="cosine_distance",
                                                         margin=0.5) == 0.0
        assert refloss.triplet_margin_with_distance_loss(a, p, n, distance_function="cosine_distance",
                                                         margin=1.5) == 0.5
        # d/da of 1 - cos(a, p) at a = (1, 0), p = (0, 1): -(p - cos a) = (0, -1); of -(1 - cos(a, n)) = d cos(a, n)
        # / da = n - cos(a, n) a = (-1, 0) + (1, 0) = 0
        ga, gp, gn = refloss.triplet_margin_with_distance_loss_vjp(1.0, a, p, n, distance_function="cosine_distance",
                                                                   margin=1.5)
        np.testing.assert_allclose(ga, [0.0, -1.0], atol=1e-15)


# ---- against PyTorch --------------------------------------------------------------------------------------------

def _torch_call(function, arrays, kwargs, cotangent):
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=a.dtype.kind == "f" and i < 3 and not label)
               for i, (a, label) in enumerate(arrays)]
    out = function(*tensors, **kwargs)
    wrt = [t for t in tensors if t.requires_grad]
    grads = torch.autograd.grad(out, wrt, torch.tensor(cotangent, dtype=torch.float64))
    return out.detach().numpy(), [g.numpy() for g in grads]


def _compare(name, torch_function, inputs, labels, params, torch_kwargs, reduction, rtol=1e-13):
    spec = refloss.registry.get(name)
    kwargs = dict(params) if reduction is None else {**params, "reduction": reduction}
    value = spec.forward(*inputs, **kwargs)
    cotangent = RNG.normal(size=np.shape(value))
    grads = [g for g in spec.vjp(cotangent, *inputs, **kwargs) if g is not None]
    arrays = [(np.asarray(x, dtype=np.float64), i in labels) for i, x in enumerate(inputs)]
    torch_kw = dict(torch_kwargs) if reduction is None else {**torch_kwargs, "reduction": reduction}
    expected, expected_grads = _torch_call(torch_function, arrays, torch_kw, cotangent)
    np.testing.assert_allclose(value, expected, rtol=rtol, atol=1e-15)
    for got, want in zip(grads, expected_grads):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-14)


@pytest.mark.parametrize("params", [{}, {"p": 1.0}, {"p": 3.0}, {"p": 1.5, "eps": 0.25}, {"keepdim": True}])
def test_pairwise_distance_matches_torch(params):
    F = pytest.importorskip("torch.nn.functional")
    _compare("pairwise_distance", F.pairwise_distance, (RNG.normal(size=(6, 4)), RNG.normal(size=(6, 4))), (),
             params, params, None)


@pytest.mark.parametrize("params, shape", [({}, (6, 4)), ({"eps": 0.5}, (6, 4)), ({"dim": 0}, (4, 3)),
                                           ({"dim": -1}, (2, 3, 4)), ({"dim": 0}, (5,))])
def test_cosine_similarity_matches_torch(params, shape):
    F = pytest.importorskip("torch.nn.functional")
    inputs = (RNG.normal(size=shape), RNG.normal(size=shape))
    if params.get("eps") == 0.5:  # every norm above eps (the clamped gradient differs: see the next test)
        inputs = tuple(x / np.linalg.norm(x, axis=1, keepdims=True) * np.arange(1, 7)[:, None] for x in inputs)
    _compare("cosine_similarity", F.cosine_similarity, inputs, (), params, params, None)


def test_cosine_similarity_clamped_norm_deviation_from_torch():
    # Below eps the values agree, but torch 2.14.1's gradient is not the derivative of its own forward: its clamp
    # passes the norm's gradient through. x1 = (0.1, 0.2) (norm 0.2236 < eps = 0.5), x2 = (1, 0.5) (norm 1.118):
    # cos = 0.2 / (0.5 * 1.118) = 0.35777; refloss (the clamp a constant): d/dx1 = x2 / (eps n2) = (1.78885,
    # 0.89443); torch: x2 / (eps n2) - cos / eps * x1 / n1 = (1.46885, 0.25443). The x2 gradients agree.
    torch = pytest.importorskip("torch")
    x1, x2 = np.array([[0.1, 0.2]]), np.array([[1.0, 0.5]])
    t1, t2 = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (x1, x2))
    out = torch.nn.functional.cosine_similarity(t1, t2, eps=0.5)
    out.backward(torch.ones(1, dtype=torch.float64))
    value = refloss.cosine_similarity(x1, x2, eps=0.5)
    g1, g2 = refloss.cosine_similarity_vjp(np.ones(1), x1, x2, eps=0.5)
    np.testing.assert_allclose(out.detach().numpy(), value, rtol=1e-15)
    np.testing.assert_allclose(g2, t2.grad.numpy(), rtol=1e-14)
    n1, n2 = np.linalg.norm(x1), np.linalg.norm(x2)
    np.testing.assert_allclose(g1, x2 / (0.5 * n2), rtol=1e-15)
    np.testing.assert_allclose(t1.grad.numpy(), x2 / (0.5 * n2) - value / 0.5 * x1 / n1, rtol=1e-14)
    np.testing.assert_allclose(t1.grad.numpy(), [[1.46885, 0.25443]], atol=1e-5)


def test_cosine_similarity_of_a_zero_vector_matches_torch():
    F = pytest.importorskip("torch.nn.functional")
    _compare("cosine_similarity", F.cosine_similarity, (np.array([[0.0, 0.0], [1.0, 2.0]]),
                                                        np.array([[1.0, 2.0], [0.0, 0.0]])), (), {}, {}, None)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("margin", [0.0, 0.5, -0.25])
def test_cosine_embedding_loss_matches_torch(reduction, margin):
    F = pytest.importorskip("torch.nn.functional")
    x1, x2 = RNG.normal(size=(8, 3)), RNG.normal(size=(8, 3))
    x2[0] = 2 * x1[0]  # cosine exactly 1 in a dissimilar pair: above every margin here
    target = np.array([-1, 1, -1, 1, -1, -1, 1, -1])
    _compare("cosine_embedding_loss", F.cosine_embedding_loss, (x1, x2, target), (2,), {"margin": margin},
             {"margin": margin}, reduction)


def test_cosine_embedding_loss_unbatched_and_zero_vector_match_torch():
    F = pytest.importorskip("torch.nn.functional")
    _compare("cosine_embedding_loss", F.cosine_embedding_loss, (np.array([1.0, 2.0]), np.array([-3.0, 0.5]),
                                                                np.array(1.0)), (2,), {}, {}, "none")
    _compare("cosine_embedding_loss", F.cosine_embedding_loss, (np.zeros((2, 3)), np.ones((2, 3)),
                                                                np.array([1.0, -1.0])), (2,), {}, {}, "sum")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("params", [{}, {"swap": True}, {"p": 1.0, "margin": 2.0}, {"p": 3.0, "eps": 0.0},
                                    {"margin": 0.5, "swap": True, "p": 1.5}])
def test_triplet_margin_loss_matches_torch(reduction, params):
    F = pytest.importorskip("torch.nn.functional")
    a, p, n = (RNG.normal(size=(8, 3)) for _ in range(3))
    _compare("triplet_margin_loss", F.triplet_margin_loss, (a, p, n), (), params, params, reduction)


def test_triplet_margin_loss_ties_match_torch():
    # at the hinge, and a swap tie d(a, n) = d(p, n) = sqrt 10 (eps 0): PyTorch's clamp_min and minimum
    F = pytest.importorskip("torch.nn.functional")
    a = np.array([[0.0, 0.0], [0.0, 0.0]])
    p = np.array([[1.0, 0.0], [2.0, 0.0]])
    n = np.array([[2.0, 0.0], [1.0, 3.0]])
    _compare("triplet_margin_loss", F.triplet_margin_loss, (a, p, n), (), {"eps": 0.0, "swap": True},
             {"eps": 0.0, "swap": True}, "none")
    _compare("triplet_margin_loss", F.triplet_margin_loss, (a, p, n), (), {"eps": 0.0, "margin": 4.0, "swap": True},
             {"eps": 0.0, "margin": 4.0, "swap": True}, "sum")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("distance", ["pairwise_distance", "cosine_distance"])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_loss_matches_torch(reduction, distance, swap):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    a, p, n = (RNG.normal(size=(8, 3)) for _ in range(3))
    callable_ = None if distance == "pairwise_distance" else (lambda x, y: 1.0 - F.cosine_similarity(x, y, dim=-1))
    margin = 0.5 if distance == "cosine_distance" else 1.0
    _compare("triplet_margin_with_distance_loss", F.triplet_margin_with_distance_loss, (a, p, n), (),
             {"distance_function": distance, "swap": swap, "margin": margin},
             {"distance_function": callable_, "swap": swap, "margin": margin}, reduction)


# ---- bad input --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, message", [
    (lambda: refloss.pairwise_distance(np.zeros((2, 3)), np.zeros((3,))), ValueError,
     "x2 must have the same shape as x1 (2, 3), got (3,)"),
    (lambda: refloss.pairwise_distance(1.0, 2.0), ValueError,
     "x1 must have shape (..., D), at least one dimension (the vectors'), got a scalar"),
    (lambda: refloss.pairwise_distance([1.0], [2.0], p=0.5), ValueError, "p must be in [1, inf), got 0.5"),
    (lambda: refloss.pairwise_distance([1.0], [2.0], p=math.inf), ValueError, "p must be in [1, inf), got inf"),
    (lambda: refloss.pairwise_distance([1.0], [2.0], eps=-1.0), ValueError, "eps must be in [0, inf), got -1.0"),
    (lambda: refloss.pairwise_distance([1.0], [2.0], keepdim=1), TypeError, "keepdim must be True or False, got 1"),
    (lambda: refloss.pairwise_distance(["a"], ["b"]), TypeError, "x1 must be an array of real numbers"),
    (lambda: refloss.cosine_similarity([1.0, 2.0], [3.0, 4.0]), ValueError,
     "dim must be in [-1, 1) for inputs of shape (2,), got 1"),
    (lambda: refloss.cosine_similarity([[1.0]], [[2.0]], dim=1.0), TypeError, "dim must be an integer, got 1.0"),
    (lambda: refloss.cosine_similarity([[1.0]], [[2.0]], eps=0.0), ValueError, "eps must be in (0, inf), got 0.0"),
    (lambda: refloss.cosine_embedding_loss(np.zeros((2, 3)), np.zeros((2, 3)), [1, 0]), ValueError,
     "target must hold labels 1 and -1 only (PyTorch gives other labels a loss of 0), got 0.0"),
    (lambda: refloss.cosine_embedding_loss(np.zeros((2, 3)), np.zeros((2, 3)), [1]), ValueError,
     "target must have shape (2,) (one label per pair), got (1,)"),
    (lambda: refloss.cosine_embedding_loss(np.zeros((2, 3)), np.zeros((2, 2)), [1, 1]), ValueError,
     "input2 must have the same shape as input1 (2, 3), got (2, 2)"),
    (lambda: refloss.cosine_embedding_loss(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), np.ones((1, 2))), ValueError,
     "input1 must have shape (N, D) or (D,), got (1, 2, 3)"),
    (lambda: refloss.cosine_embedding_loss([[1.0]], [[1.0]], [True]), TypeError,
     "target must hold labels 1 and -1 (integers or floats), got dtype bool"),
    (lambda: refloss.cosine_embedding_loss([[1.0]], [[1.0]], [1], reduction="avg"), ValueError,
     "reduction must be one of 'none', 'mean', 'sum', got 'avg'"),
    (lambda: refloss.triplet_margin_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((1, 3))), ValueError,
     "negative must have the same shape as anchor (2, 3), got (1, 3)"),
    (lambda: refloss.triplet_margin_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), margin=0.0),
     ValueError, "margin must be in (0, inf), got 0.0"),
    (lambda: refloss.triplet_margin_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), swap="yes"),
     TypeError, "swap must be True or False, got 'yes'"),
    (lambda: refloss.triplet_margin_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), p=2.0, eps=math.nan),
     ValueError, "eps must be in [0, inf), got nan"),
    (lambda: refloss.triplet_margin_with_distance_loss(np.zeros(2), np.zeros(2), np.zeros(2),
                                                       distance_function="l1"), ValueError,
     "distance_function must be one of 'pairwise_distance', 'cosine_distance', got 'l1'"),
    (lambda: refloss.triplet_margin_with_distance_loss(np.zeros(2), np.zeros(2), np.zeros(2),
                                                       distance_function=len), ValueError,
     "distance_function must be one of 'pairwise_distance', 'cosine_distance', got <built-in function len>"),
    (lambda: refloss.triplet_margin_loss_vjp(np.ones(3), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)),
                                             reduction="none"), ValueError,
     "grad_output must have the shape of the loss output (2,), got (3,)"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


def test_inputs_are_not_modified():
    arrays = [RNG.normal(size=(3, 2)) for _ in range(3)]
    copies = [a.copy() for a in arrays]
    refloss.triplet_margin_loss_vjp(1.0, *arrays, swap=True)
    refloss.cosine_embedding_loss_vjp(1.0, arrays[0], arrays[1], np.array([1, -1, 1]))
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


def test_standard_sample_cases_of_the_losses_exist():
    # the generic checks draw (N, D) inputs and +-1 labels from the registry's declarations
    case = sample_case("cosine_embedding_loss", np.random.default_rng(0))
    assert set(np.unique(case.inputs[2])) <= {-1.0, 1.0}


def test_optax_triplet_margin_loss_differs_in_eps_and_odd_orders():
    # optax.losses.triplet_margin_loss computes (sum (a - p)^q + eps)^(1/q): eps inside the sum, and no |.|. With
    # eps = 0 and q = 2 it is refloss's (and PyTorch's) unreduced loss; with eps = 1e-6 an anchor equal to its
    # positive is sqrt(1e-6) = 1e-3 away (refloss: 1e-6 sqrt 2): 1 + 0.001 - sqrt(0.25 + 1e-6) = 0.500999 there,
    # 0.5000024 here;
    # with q = 3 a negative difference gives NaN.
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jax.config.update("jax_enable_x64", True)
    a, p, n = np.array([[0.0, 0.0], [1.0, 2.0]]), np.array([[3.0, 4.0], [1.0, 2.0]]), np.array([[0.0, 5.5],
                                                                                              [1.5, 2.0]])
    np.testing.assert_allclose(np.asarray(optax.losses.triplet_margin_loss(a, p, n, eps=0.0)),
                               refloss.triplet_margin_loss(a, p, n, eps=0.0, reduction="none"), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(optax.losses.triplet_margin_loss(a, p, n))[1],
                               1 + 1e-3 - math.sqrt(0.25 + 1e-6), rtol=1e-12)
    np.testing.assert_allclose(refloss.triplet_margin_loss(a, p, n, reduction="none")[1],
                               1 + 1e-6 * math.sqrt(2) - math.hypot(0.5 - 1e-6, 1e-6), rtol=1e-12)
    assert np.isnan(np.asarray(optax.losses.triplet_margin_loss(a, p, n, norm_degree=3, eps=0.0))).all()


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_a_nan_entry_poisons_its_whole_row(p):
    # the distance of a row with a NaN is NaN, and so is every entry of that row's gradient; other rows are finite
    x1 = np.array([[np.nan, 1.0], [1.0, 2.0]])
    x2 = np.array([[0.5, 1.0], [2.0, 1.0]])
    value = refloss.pairwise_distance(x1, x2, p=p)
    g1, g2 = refloss.pairwise_distance_vjp(np.ones(2), x1, x2, p=p)
    assert np.isnan(value[0]) and np.isfinite(value[1])
    assert np.isnan(g1[0]).all() and np.isnan(g2[0]).all() and np.isfinite(g1[1]).all()
