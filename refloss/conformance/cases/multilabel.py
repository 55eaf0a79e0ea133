"""Cases of kl_div, multilabel_soft_margin_loss and multilabel_margin_loss: inputs only, never expected values."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng, cases_for, grid_values, nondyadic_values,
                                       two_input_case)

_KL_REDUCTIONS = ("none", "sum", "mean", "batchmean")


def _probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Target probabilities n/32 in (0, 1] (exact in every dtype; not normalised: kl_div does not need it)."""
    return rng.integers(1, 33, size=shape) / 32


def _log_probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Inputs n/32 in [-4, 0]: log-probabilities of moderate size (kl_div accepts any real)."""
    return grid_values(rng, shape, low=-128, high=0)


@cases_for("kl_div")
def kl_div_cases(loss: str) -> Iterator[VectorCase]:
    """Shapes under every reduction (batchmean included), log_target, targets exactly 0, empty batches, NaN,
    non-dyadic values where t log t and t x nearly cancel, and the calls that must raise."""
    for shape in [(), (5,), (2, 3), (2, 2, 3)]:
        for reduction in _KL_REDUCTIONS:
            name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = case_rng(loss, name)
            yield two_input_case(loss, name, "basic", f"log-probabilities and probabilities on the grid, shape "
                                 f"{shape}", _log_probabilities(rng, shape), _probabilities(rng, shape), reduction,
                                 rng, flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    for reduction in _KL_REDUCTIONS:
        name = f"log_target_{reduction}"
        rng = case_rng(loss, name)
        yield two_input_case(loss, name, "basic", "log_target=True: the target holds log-probabilities",
                             _log_probabilities(rng, (3, 4)), _log_probabilities(rng, (3, 4)), reduction, rng,
                             params={"log_target": True}, flags=("ParameterGrid", "Reduction"))
    for reduction in ("none", "batchmean"):
        name = f"zero_cotangent_{reduction}"
        rng = case_rng(loss, name)
        yield two_input_case(loss, name, "basic", "grad_output = 0 must give zero gradients",
                             _log_probabilities(rng, (2, 2)), _probabilities(rng, (2, 2)), reduction, rng,
                             cotangent=np.zeros((2, 2) if reduction == "none" else ()), flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    for reduction in ("none", "batchmean"):
        # 0 log 0 = 0 and d/dx = -t = 0; d/dt does not exist at t = 0 (its right derivative is -inf): NaN
        yield two_input_case(loss, f"target_zero_{reduction}", "edge", "targets exactly 0 beside positive ones: "
                             "loss term 0, input gradient 0, target gradient NaN (as PyTorch)",
                             np.array([[-1.0, -0.5], [-2.0, -0.25]]), np.array([[0.0, 0.5], [0.0, 0.0]]),
                             reduction, rng, flags=("AtKink", "Reduction"))
    yield two_input_case(loss, "target_equals_input_probability", "edge", "t = exp(x) exactly (t = 1, x = 0): "
                         "the term is 0 and d/dt = 1", np.array([0.0, 0.0]), np.array([1.0, 1.0]), "none", rng,
                         flags=("Basic",))
    yield two_input_case(loss, "batchmean_one_row", "edge", "batchmean over a batch of one row is the sum",
                         np.array([[-0.5, -1.0, -2.0]]), np.array([[0.25, 0.5, 0.25]]), "batchmean", rng,
                         flags=("SingleElement", "Reduction"))
    yield two_input_case(loss, "batchmean_no_columns", "edge", "shape (2, 0): batchmean is the empty sum 0 over 2 "
                         "rows, 0", np.zeros((2, 0)), np.zeros((2, 0)), "batchmean", rng, flags=("Empty", "Reduction"))
    for reduction in _KL_REDUCTIONS:
        mean = reduction == "mean"
        yield two_input_case(loss, f"empty_{reduction}", "edge", "no rows (shape (0, 3)): sum 0, mean and "
                             "batchmean 0/0 = NaN", np.zeros((0, 3)), np.zeros((0, 3)), reduction, rng,
                             flags=("Empty", "Reduction") + (("Convention",) if mean else ()),
                             alternatives=("empty-mean-is-zero",) if mean else ())

    # (a NaN input is not a vector: its term is NaN, but d/dx = -t does not depend on x, so refloss and PyTorch
    # return -t where the oracle's convention is a NaN gradient for a NaN input)
    yield two_input_case(loss, "nan_target_none", "nonfinite", "a NaN target gives a NaN term and NaN gradients",
                         np.array([-1.0, -1.0]), np.array([np.nan, 0.5]), "none", rng, flags=("NaNInput",))
    yield two_input_case(loss, "nan_target_batchmean", "nonfinite", "a NaN target makes the batchmean NaN",
                         np.array([[-1.0, -0.5]]), np.array([[np.nan, 0.5]]), "batchmean", rng,
                         flags=("NaNInput", "Reduction"))

    for reduction in _KL_REDUCTIONS:
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        t = nondyadic_values(rng, (3, 4), 0.01, 1.0)
        yield two_input_case(loss, name, "accuracy", "non-dyadic float64 log-probabilities and probabilities",
                             nondyadic_values(rng, (3, 4), -5.0, 0.0), t, reduction, rng, dtypes=FLOAT64_ONLY,
                             flags=("NonDyadic", "Reduction"))
    rng = case_rng(loss, "near_match")
    t = nondyadic_values(rng, (6,), 0.01, 1.0)
    # x = fl(log t): t log t - t x cancels to about t * 1e-16; the standard algorithm's bound covers the
    # absolute error of the two products (policy_v2's scale), so any faithful implementation of (K1) passes
    yield two_input_case(loss, "input_near_log_target", "accuracy", "input = fl(log target): the two terms "
                         "t log t and t x cancel", np.log(t), t, "none", rng, dtypes=FLOAT64_ONLY,
                         flags=("NonDyadic", "Cancellation"))

    rng = case_rng(loss, "invalid")
    for name, comment, x, y, params, error, flags in [
        ("column_vs_vector", "(3, 1) against (3,)", np.zeros((3, 1)), np.full(3, 0.5), {}, "shape_mismatch",
         ("ShapeMismatch",)),
        ("negative_target", "a target probability of -0.25", np.zeros(2), np.array([0.5, -0.25]), {},
         "invalid_target", ()),
    ]:
        yield two_input_case(loss, name, "invalid", comment, x, y, "mean", rng, cotangent=np.float64(1.0),
                             params=params, flags=("InvalidInput",) + flags, error=error)
    yield two_input_case(loss, "unknown_reduction", "invalid", "reduction 'batch_mean'", np.zeros(2),
                         np.full(2, 0.5), "batch_mean", rng, cotangent=np.float64(1.0), flags=("InvalidInput",),
                         error="invalid_reduction")
