"""The reductions and their VJP, shared by every loss (refloss._reduction)."""

import numpy as np
import pytest

import refloss
from refloss._reduction import reduce, reduce_vjp

LOSS = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def test_none_sum_mean():
    np.testing.assert_array_equal(reduce(LOSS, "none"), LOSS)
    assert reduce(LOSS, "sum") == 21.0  # 1 + ... + 6
    assert reduce(LOSS, "mean") == 3.5  # 21 / 6


def test_weighted_mean_divides_by_the_weight_sum():
    weight = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    assert reduce(LOSS, "sum", weight) == 19.0  # 1*1 + 3*6
    # divided by 1 + 3 (PyTorch's weighted l1/mse; its huber divides by n)
    assert reduce(LOSS, "mean", weight) == 19.0 / 4.0
    np.testing.assert_array_equal(reduce(LOSS, "none", weight), LOSS * weight)


def test_mean_of_nothing_is_nan_and_sum_is_zero():
    empty = np.zeros((0, 3))
    assert np.isnan(reduce(empty, "mean"))
    assert reduce(empty, "sum") == 0.0
    assert np.isnan(reduce(LOSS, "mean", np.zeros_like(LOSS)))  # weights summing to 0: 0/0, as PyTorch


def test_vjp_of_each_reduction():
    np.testing.assert_array_equal(reduce_vjp(np.ones((2, 3)) * 2, (2, 3), "none"), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(reduce_vjp(2.0, (2, 3), "sum"), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(reduce_vjp(3.0, (2, 3), "mean"), np.full((2, 3), 0.5))  # 3 / 6
    weight = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(reduce_vjp(4.0, (2, 3), "mean", weight), weight)  # 4 * w / sum(w) = w


def test_vjp_of_empty_and_zero_weight_mean():
    assert reduce_vjp(1.0, (0,), "mean").shape == (0,)
    assert np.all(np.isnan(reduce_vjp(1.0, (2,), "mean", np.zeros(2))))  # 1 * 0 / 0, as PyTorch's backward


@pytest.mark.parametrize("reduction, grad_output", [("none", 1.0), ("mean", np.ones(3)), ("sum", np.ones((2, 3)))])
def test_grad_output_must_have_the_output_shape(reduction, grad_output):
    with pytest.raises(ValueError, match="grad_output must have the shape of the loss output"):
        reduce_vjp(grad_output, (2, 3), reduction)


def test_vjp_does_not_alias_grad_output():
    g = np.ones((2, 3))
    out = reduce_vjp(g, (2, 3), "none")
    out[0, 0] = 7.0
    assert g[0, 0] == 1.0


def test_a_weighted_mean_over_a_subnormal_weight_sum_has_a_finite_gradient():
    """One element of weight 4.9e-321: the mean is w l / w = l and its gradient g, not g / w (which overflows)."""
    grad_input, _ = refloss.l1_loss_vjp(0.7, np.array(0.5), np.array(0.0), reduction="mean",
                                         weight=np.array(4.9e-321))
    assert grad_input == 0.7
