"""refloss against torch.nn.functional (values and gradients), through the torch adapter.

Skips when PyTorch is not installed; .ci/run installs torch 2.14.1 and torchvision 0.29.1 so that this runs in CI.
"""

import numpy as np
import pytest

import refloss
from refloss.testing import Case, relative_error, standard_cases

torch = pytest.importorskip("torch")
from refloss.adapters.torch import TorchAdapter  # noqa: E402

ADAPTER = TorchAdapter()
# Regression losses here; every other family is compared through the conformance vectors (test_conformance.py).
TORCH_LOSSES = [n for n in refloss.registry.names() if ADAPTER.supports(n)
                and refloss.registry.get(n).family == "regression"]
TORCH_LOSSES = [n for n in TORCH_LOSSES if n not in ("poisson_nll_loss", "gaussian_nll_loss")]  # (test_poisson.py)

# Both sides compute in float64; the only differences are the order of operations in sums and means.
TOLERANCE = 1e-13


def _edge_cases(name):
    """Residuals exactly 0, exactly at the branch point, huge, tiny, infinite and NaN, under every reduction."""
    spec = refloss.registry.get(name)
    threshold = {"smooth_l1_loss": ("beta", (0.0, 0.5, 1.0)), "huber_loss": ("delta", (0.5, 1.0, 2.0))}
    settings = [{}]
    if name in threshold:
        param, values = threshold[name]
        settings = [{param: v} for v in values]
    for params in settings:
        kink = params.get("beta", params.get("delta", 1.0))
        x = np.array([0.0, kink, -kink, 3.5, 1e200, -1e-300, np.inf, -np.inf, np.nan, 2.0])
        y = np.array([0.0, 0.0, 0.0, 3.5, -1e200, 0.0, 0.0, 5.0, 0.0, np.inf])
        for reduction in spec.reductions:
            g = np.linspace(-1.0, 2.0, x.size) if reduction == "none" else np.float64(0.75)
            yield Case((x, y), params, reduction, g)


def _nan_residual_gets_zero_gradient_in_torch(name, case):
    """Known deviation: PyTorch's l1_loss (and smooth_l1_loss with beta = 0, which calls it) differentiates |d|
    with torch.sgn, and torch.sgn(nan) is 0; refloss propagates NaN, as JAX does (l1_loss docstring)."""
    if name == "l1_loss" or (name == "smooth_l1_loss" and case.params.get("beta", 1.0) == 0.0):
        return np.isnan(case.inputs[0] - case.inputs[1])
    return np.zeros(np.shape(case.inputs[0]), dtype=bool)


def _compare(name, case):
    spec = refloss.registry.get(name)
    value = spec.forward(*case.inputs, **case.kwargs())
    grads = spec.vjp(case.grad_output, *case.inputs, **case.kwargs())
    result = ADAPTER.run(name, {"input": case.inputs[0], "target": case.inputs[1]}, case.params, case.reduction,
                         np.asarray(case.grad_output), "float64")
    torch_value, torch_grads = result.value, (result.grads["input"], result.grads["target"])
    assert relative_error(value, torch_value) <= TOLERANCE, (case.describe(), value, torch_value)
    deviating = _nan_residual_gets_zero_gradient_in_torch(name, case)
    for ours, theirs in zip(grads, torch_grads):
        ours, theirs = np.array(ours), np.array(theirs)
        if deviating.any():
            # The deviation must really occur (an unexpected agreement would mean this entry is stale).
            assert np.all(np.isnan(ours[deviating])) and not np.any(np.isnan(theirs[deviating]))
            ours[deviating] = theirs[deviating] = 0.0
        assert relative_error(ours, theirs) <= TOLERANCE, (case.describe(), ours, theirs)


def test_the_torch_losses_are_the_expected_ones():
    assert TORCH_LOSSES == ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"]


@pytest.mark.parametrize("name", TORCH_LOSSES)
def test_random_cases_match_torch(name):
    # Every reduction, scalar/vector/batch/empty shapes, the parameter grid (beta = 0 included), random weights.
    for case in standard_cases(name, seed=1):
        _compare(name, case)


@pytest.mark.parametrize("name", TORCH_LOSSES)
def test_edge_cases_match_torch(name):
    for case in _edge_cases(name):
        _compare(name, case)


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss"])
def test_weight_summing_to_zero_matches_torch(name):
    case = Case((np.array([1.0, 2.0]), np.array([0.0, 0.5])), {"weight": np.zeros(2)}, "mean", np.float64(1.0))
    _compare(name, case)
