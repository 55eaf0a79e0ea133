"""cross_entropy and nll_loss: hand-worked values, PyTorch's exact semantics (weights, ignore_index, label
smoothing, spatial dimensions, probability targets), gradients w.r.t. probability targets, bad input."""

import math

import numpy as np
import pytest
from autograd import make_vjp

import refloss
from refloss.testing import relative_error

CE, CE_VJP = refloss.cross_entropy, refloss.cross_entropy_vjp
NLL, NLL_VJP = refloss.nll_loss, refloss.nll_loss_vjp


def test_hand_worked_values():
    # Two equal logits: p = 1/2 each, loss log 2 per sample.
    assert CE([[0.0, 0.0], [3.0, 3.0]], np.array([1, 0])) == pytest.approx(math.log(2), rel=1e-15)
    # logits [0, log 3]: p = [1/4, 3/4]; class 0: log 4; gradient p - onehot = [-3/4, 3/4]
    x = [[0.0, math.log(3.0)]]
    assert CE(x, np.array([0]), reduction="sum") == pytest.approx(math.log(4), rel=1e-15)
    gx, gy = CE_VJP(1.0, x, np.array([0]), reduction="sum")
    np.testing.assert_allclose(gx, [[-0.75, 0.75]], rtol=1e-15)
    assert gy is None
    # nll: -(x[0, 1] + x[1, 0]) / 2
    assert NLL([[-1.0, -2.0], [-3.0, -4.0]], np.array([1, 0])) == 2.5


def test_weighted_mean_and_all_ignored():
    x = np.log([[0.25, 0.75], [0.5, 0.5]])
    w = np.array([1.0, 3.0])
    # (3 * log(4/3) + 1 * log 2) / (3 + 1): PyTorch divides by the weights of the target classes
    assert CE(x, np.array([1, 0]), weight=w) == pytest.approx((3 * math.log(4 / 3) + math.log(2)) / 4, rel=1e-14)
    assert np.isnan(CE(x, np.array([-100, -100])))  # 0 / 0
    assert CE(x, np.array([-100, -100]), reduction="sum") == 0.0
    np.testing.assert_array_equal(CE(x, np.array([-100, 1]), reduction="none")[0], 0.0)
    assert np.isnan(CE(np.zeros((0, 3)), np.zeros(0, dtype=int)))


def test_stable_for_logits_1e4():
    x = np.array([[1e4, -1e4, 0.0]])
    np.testing.assert_allclose(CE(x, np.array([0, 1, 2])[:1], reduction="none"), [0.0], atol=0)
    assert CE(x, np.array([1]), reduction="sum") == 2e4
    assert np.all(np.isfinite(CE_VJP(1.0, x, np.array([1]), reduction="sum")[0]))


def test_single_class_gives_zero_loss():
    assert CE(np.array([[5.0], [-2.0]]), np.array([0, 0])) == 0.0


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _torch_case(torch, x, target, fn, **kwargs):
    xt = torch.tensor(x, requires_grad=True)
    probabilities = np.asarray(target).dtype.kind == "f"
    tt = torch.tensor(target, requires_grad=probabilities) if probabilities else torch.tensor(target)
    kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    out = fn(xt, tt, **kw)
    g = np.random.default_rng(1).normal(size=out.shape)
    grads = torch.autograd.grad(out, [xt, tt] if probabilities else [xt], torch.tensor(g))
    return out.detach().numpy(), [t.numpy() for t in grads], g


CASES = [
    ("plain", (5, 4), {}),
    ("weighted", (5, 4), {"weight": np.array([0.5, 0.0, 2.0, 1.0])}),
    ("ignore_index", (5, 4), {"ignore_index": 2}),
    ("smoothing", (5, 4), {"label_smoothing": 0.2}),
    ("smoothing_and_weights", (6, 3), {"label_smoothing": 0.3, "weight": np.array([0.2, 1.0, 3.0]),
                                       "ignore_index": 1}),
    ("spatial", (2, 3, 4, 2), {"weight": np.array([1.0, 2.0, 0.5])}),
    ("unbatched", (4,), {"label_smoothing": 0.1}),
]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name, shape, kwargs", CASES, ids=[c[0] for c in CASES])
def test_class_indices_match_torch(torch, name, shape, kwargs, reduction):
    rng = np.random.default_rng(len(name))
    x = rng.normal(size=shape) * 3
    classes = shape[1] if len(shape) > 1 else shape[0]
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, classes, size=target_shape)
    value, (grad,), g = _torch_case(torch, x, target, torch.nn.functional.cross_entropy, reduction=reduction, **kwargs)
    assert relative_error(CE(x, target, reduction=reduction, **kwargs), value) <= 1e-13
    assert relative_error(CE_VJP(g, x, target, reduction=reduction, **kwargs)[0], grad) <= 1e-13
    if "label_smoothing" not in kwargs:
        logp = torch.log_softmax(torch.tensor(x), 1 if len(shape) > 1 else 0).numpy()
        value, (grad,), g = _torch_case(torch, logp, target, torch.nn.functional.nll_loss, reduction=reduction,
                                        **kwargs)
        assert relative_error(NLL(logp, target, reduction=reduction, **kwargs), value) <= 1e-13
        assert relative_error(NLL_VJP(g, logp, target, reduction=reduction, **kwargs)[0], grad) <= 1e-13


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("kwargs", [{}, {"weight": np.array([0.5, 2.0, 1.0])}, {"label_smoothing": 0.25},
                                    {"weight": np.array([0.5, 2.0, 1.0]), "label_smoothing": 0.1}])
def test_probability_targets_match_torch_including_the_target_gradient(torch, kwargs, reduction):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 3, 2)) * 2
    t = rng.dirichlet(np.ones(3), size=(4, 2)).transpose(0, 2, 1)
    value, (grad_x, grad_t), g = _torch_case(torch, x, t, torch.nn.functional.cross_entropy, reduction=reduction,
                                             **kwargs)
    assert relative_error(CE(x, t, reduction=reduction, **kwargs), value) <= 1e-13
    ours_x, ours_t = CE_VJP(g, x, t, reduction=reduction, **kwargs)
    assert relative_error(ours_x, grad_x) <= 1e-13
    assert relative_error(ours_t, grad_t) <= 1e-13


def test_probability_target_gradient_matches_autograd():
    rng = np.random.default_rng(3)
    x, t = rng.normal(size=(3, 4)), rng.dirichlet(np.ones(4), size=3)
    g = 0.7
    vjp, _ = make_vjp(lambda target: CE(x, target, label_smoothing=0.1, weight=np.array([1.0, 2.0, 0.5, 1.0])))(t)
    ours = CE_VJP(g, x, t, label_smoothing=0.1, weight=np.array([1.0, 2.0, 0.5, 1.0]))[1]
    assert relative_error(ours, vjp(g)) <= 1e-13


@pytest.mark.parametrize("call, error, message", [
    (lambda: CE([[0.0, 1.0]], np.array([2])), ValueError,
     "target class indices must be in [0, 2) or ignore_index=-100, got 2"),
    (lambda: CE([[0.0, 1.0]], np.array([-1])), ValueError, "got -1"),
    (lambda: CE([[0.0, 1.0]], np.array([0, 1])), ValueError, "target of class indices must have shape (1,)"),
    (lambda: CE([[0.0, 1.0]], np.array([0]), weight=[1.0, -1.0]), ValueError, "weight must be non-negative"),
    (lambda: CE([[0.0, 1.0]], np.array([0]), weight=[1.0]), ValueError, "weight must have shape (C,) = (2,)"),
    (lambda: CE([[0.0, 1.0]], np.array([[0.5, 1.5]])), ValueError, "target must be probabilities in [0, 1], got 1.5"),
    (lambda: CE([[0.0, 1.0]], np.array([[0.5, 0.5, 0.0]])), ValueError, "probability target must have the shape"),
    (lambda: CE([[0.0, 1.0]], np.array([[0.5, 0.5]]), ignore_index=0), ValueError, "ignore_index applies to"),
    (lambda: CE([[0.0, 1.0]], np.array([[0.5, 0.5]]), ignore_index=-5) + 1, None, None),  # tolerated, as PyTorch
    (lambda: CE([[0.0, 1.0]], np.array([0]), label_smoothing=1.5), ValueError, "label_smoothing must be in [0, 1]"),
    (lambda: CE([[0.0, 1.0]], np.array([0]), ignore_index=1.0), TypeError, "ignore_index must be an integer"),
    (lambda: CE(1.0, np.array(0)), ValueError, "input must have a class dimension"),
    (lambda: NLL([[0.0, 1.0]], np.array([[0.5, 0.5]])), TypeError, "target must be an array of integer class"),
    (lambda: CE([[0.0, 1.0]], np.array([True])), TypeError, "target must be integer class indices or float"),
])
def test_bad_input(call, error, message):
    if error is None:
        call()
        return
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_mean_over_nothing_is_nan_even_with_label_smoothing(torch):
    x = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, 0.0]])
    kwargs = {"weight": np.array([1.0, 0.0, 2.0]), "label_smoothing": 0.25}
    value, (grad,), g = _torch_case(torch, x, np.array([1, 1]), torch.nn.functional.cross_entropy, **kwargs)
    assert np.isnan(value) and np.isnan(CE(x, np.array([1, 1]), **kwargs))
    assert np.all(np.isnan(grad)) and np.all(np.isnan(CE_VJP(g, x, np.array([1, 1]), **kwargs)[0]))


def test_ignore_index_accepts_integer_scalars_and_refuses_the_rest():
    x, target = np.zeros((2, 3)), np.array([0, 2])
    expected = refloss.cross_entropy(x, target, ignore_index=2)
    for setting in (np.int64(2), np.array(2)):  # as the scalar parameters accept 0-d arrays
        assert refloss.cross_entropy(x, target, ignore_index=setting) == expected
    for bad in (True, 2.0, np.array(2.0), np.array([2])):
        with pytest.raises(TypeError, match="ignore_index must be an integer"):
            refloss.cross_entropy(x, target, ignore_index=bad)
