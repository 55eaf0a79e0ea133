"""Conformance cases of ctc_loss: padded, concatenated and unbatched targets, repeated labels, every reduction, the
blank elsewhere than 0, empty targets and inputs, long sequences whose probabilities underflow float64, infeasible
targets with and without zero_infinity, masked classes and NaN, and the inputs PyTorch documents as invalid."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from refloss.conformance.cases import (ALL_DTYPES, FLOAT64_ONLY, VectorCase, case_rng, cases_for, cotangent_for,
                                       float64_cotangent, grid_values)

LOSS = "ctc_loss"
REDUCTIONS = ("none", "mean", "sum")


def _case(name: str, concern: str, comment: str, x: np.ndarray, targets: Any, input_lengths: Any,
          target_lengths: Any, reduction: str, *, params: dict | None = None, cotangent: Any = None,
          flags: tuple[str, ...] = (), dtypes: tuple[str, ...] = ALL_DTYPES, error: str | None = None) -> VectorCase:
    """One case; the cotangent is drawn (grid values for every dtype, non-dyadic for float64 only) unless given."""
    x = np.asarray(x, dtype=np.float64)
    batch_shape = x.shape[1:2] if x.ndim == 3 else ()
    if cotangent is None:
        rng = case_rng(LOSS, name)
        cotangent = float64_cotangent(rng, batch_shape, reduction) if dtypes == FLOAT64_ONLY else \
            cotangent_for(rng, batch_shape, reduction)
    inputs = {"log_probs": x, "targets": np.asarray(targets, dtype=np.int64),
              "input_lengths": np.asarray(input_lengths, dtype=np.int64),
              "target_lengths": np.asarray(target_lengths, dtype=np.int64)}
    return VectorCase(name, concern, comment, inputs, reduction, params=dict(params or {}),
                      cotangent=np.asarray(cotangent, dtype=np.float64), flags=flags, dtypes=dtypes, error=error)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


# a batch of three: a repeated label (1, 1) that needs a blank between its copies, a target of one label on fewer
# steps than the input, and an empty target
PADDED = np.array([[1, 1, 2], [3, 0, 0], [0, 0, 0]])
TARGET_LENGTHS = np.array([3, 1, 0])
INPUT_LENGTHS = np.array([6, 4, 2])
CONCATENATED = np.array([1, 1, 2, 3])


@cases_for(LOSS)
def basic_cases(loss: str) -> Iterator[VectorCase]:
    x = -np.abs(grid_values(case_rng(loss, "batch"), (6, 3, 4)))  # log-probabilities on the n/32 grid, unnormalised
    for reduction in REDUCTIONS:
        yield _case(f"padded_{reduction}", "basic", "padded (N, S) targets: a repeated label, a short target on a "
                    "short input, an empty target", x, PADDED, INPUT_LENGTHS, TARGET_LENGTHS, reduction,
                    flags=("Basic", "Reduction"))
        yield _case(f"concatenated_{reduction}", "basic", "the same batch with its targets concatenated (1-D)", x,
                    CONCATENATED, INPUT_LENGTHS, TARGET_LENGTHS, reduction, flags=("Basic", "Reduction", "Shape"))
    unbatched = -np.abs(grid_values(case_rng(loss, "unbatched"), (5, 3)))
    for reduction in REDUCTIONS:
        yield _case(f"unbatched_{reduction}", "basic", "unbatched (T, C) input, 0-d lengths", unbatched,
                    [2, 1, 2], 5, 3, reduction, flags=("Basic", "Reduction", "Shape"))
    for blank in (3, 1):
        targets = np.array([[0, 2, 2], [2, 0, 0], [0, 0, 0]]) if blank == 3 else np.array([[3, 3, 2], [0, 0, 0],
                                                                                           [2, 2, 2]])
        yield _case(f"blank_{blank}", "basic", f"the blank is class {blank}, not 0 (class 0 is a label)", x,
                    targets, INPUT_LENGTHS, TARGET_LENGTHS, "sum", params={"blank": blank},
                    flags=("Basic", "ParameterGrid"))
    minimal = -np.abs(grid_values(case_rng(loss, "minimal"), (3, 1, 3)))
    yield _case("repeat_on_fewest_steps", "basic", "target (1, 1) on 3 steps: the single alignment 1, blank, 1",
                minimal, [[1, 1]], [3], [2], "none", flags=("Basic",))


@cases_for(LOSS)
def accuracy_cases(loss: str) -> Iterator[VectorCase]:
    rng = case_rng(loss, "log_softmax")
    x = _log_softmax(rng.normal(size=(7, 3, 5)) * 2.0)
    targets = np.array([[1, 2, 2, 4], [3, 3, 0, 0], [4, 1, 3, 0]])
    for reduction in REDUCTIONS:
        yield _case(f"log_softmax_{reduction}", "accuracy", "normalised log-probabilities (log_softmax of random "
                    "logits), float64 only", x, targets, [7, 6, 7], [4, 2, 3], reduction, flags=("NonDyadic",
                                                                                                 "Reduction"),
                    dtypes=FLOAT64_ONLY)
    # 60 steps of log-probabilities near -30: p(l | x) is about e^-1800, below float64's smallest subnormal, so a
    # recursion in probabilities (not logs) gives an infinite loss where the exact one is about 1800
    long = -30.0 + _log_softmax(case_rng(loss, "long").normal(size=(60, 1, 4)))
    yield _case("long_sequence_underflow", "accuracy", "60 steps at log p ~ -30: the path probability e^-1800 "
                "underflows unless the recursion runs in log space", long, [[1, 2, 3, 1, 2]], [60], [5], "sum",
                flags=("NonDyadic", "TinyMagnitude"), dtypes=FLOAT64_ONLY)


@cases_for(LOSS)
def edge_cases(loss: str) -> Iterator[VectorCase]:
    x = -np.abs(grid_values(case_rng(loss, "edge"), (4, 3, 3)))
    yield _case("zero_input_length", "edge", "a sample with no steps and an empty target (loss 0, no gradient), "
                "beside two ordinary ones", x, [[1, 2], [0, 0], [2, 2]], [4, 0, 3], [2, 0, 1], "none",
                flags=("Empty",))
    yield _case("empty_targets_mean", "edge", "every target empty: each loss is divided by max(0, 1) = 1", x,
                np.zeros((3, 0), dtype=np.int64), [4, 3, 1], [0, 0, 0], "mean", flags=("Empty", "Reduction"))
    yield _case("single_class", "edge", "C = 1: only the blank, only the empty target", x[:, :, :1],
                np.zeros((3, 0), dtype=np.int64), [4, 2, 1], [0, 0, 0], "none", flags=("SingleClass",))
    yield _case("zero_cotangent", "edge", "grad_output 0: every gradient entry exactly 0", x, [[1, 2], [2, 0],
                [1, 0]], [4, 4, 2], [2, 1, 1], "none", cotangent=np.zeros(3), flags=("ZeroCotangent",))
    empty = np.zeros((4, 0, 3))
    for reduction in REDUCTIONS:
        yield _case(f"empty_batch_{reduction}", "edge", "N = 0: none is empty, sum 0, mean NaN (PyTorch refuses "
                    "empty log_probs)", empty, np.zeros((0, 2), dtype=np.int64), np.zeros(0), np.zeros(0),
                    reduction, flags=("Empty", "Reduction") + (("Convention",) if reduction == "mean" else ()))


@cases_for(LOSS)
def nonfinite_cases(loss: str) -> Iterator[VectorCase]:
    x = -np.abs(grid_values(case_rng(loss, "nonfinite"), (4, 2, 3)))
    targets = np.array([[1, 1], [2, 0]])
    # sample 0: target (1, 1) needs 3 steps and gets 2; sample 1 is feasible
    for reduction in REDUCTIONS:
        yield _case(f"infeasible_{reduction}", "nonfinite", "no alignment fits sample 0 (a repeated label on 2 "
                    "steps): its loss is inf, its gradient NaN", x, targets, [2, 3], [2, 1], reduction,
                    flags=("InfInput",))
        yield _case(f"infeasible_zero_infinity_{reduction}", "nonfinite", "the same with zero_infinity: loss and "
                    "gradient of sample 0 are 0", x, targets, [2, 3], [2, 1], reduction,
                    params={"zero_infinity": True}, flags=("InfInput", "ParameterGrid"))
    masked = x.copy()
    masked[1, 0, 2] = masked[2, 1, 1] = -np.inf  # classes that the targets can route around
    yield _case("masked_entries", "nonfinite", "log p = -inf for a class at one step (a masked class): the paths "
                "through it have probability 0, and its gradient is 0", masked, [[1, 2], [2, 0]], [4, 4], [2, 1],
                "none", flags=("InfInput",))
    blocked = x.copy()
    blocked[:, 1, 2] = -np.inf  # sample 1's only label can never be emitted
    yield _case("masked_target_class", "nonfinite", "the target's class is -inf at every step: no path has "
                "probability > 0, the loss is inf", blocked, [[1, 2], [2, 0]], [4, 4], [2, 1], "none",
                flags=("InfInput",))
    poisoned = x.copy()
    poisoned[2, 0, 1] = np.nan
    poisoned[1, 1, 1] = np.nan  # sample 1's target is (2,): class 1 does not enter its loss
    yield _case("nan_log_prob", "nonfinite", "NaN at a target class of sample 0 (its loss and gradient NaN) and at "
                "a class absent from sample 1's target (no effect)", poisoned, [[1, 2], [2, 0]], [4, 4], [2, 1],
                "none", flags=("NaNInput",))


@cases_for(LOSS)
def invalid_cases(loss: str) -> Iterator[VectorCase]:
    x = -np.abs(grid_values(case_rng(loss, "invalid"), (4, 2, 3)))
    ok = {"targets": [[1, 2], [2, 0]], "input_lengths": [4, 3], "target_lengths": [2, 1]}

    def invalid(name: str, comment: str, error: str, flags: tuple[str, ...] = ("InvalidInput",), log_probs=x,
                reduction: str = "mean", params: dict | None = None, **changed) -> VectorCase:
        arguments = ok | changed
        return _case(name, "invalid", comment, log_probs, arguments["targets"], arguments["input_lengths"],
                     arguments["target_lengths"], reduction, params=params, flags=flags, error=error)

    yield invalid("blank_in_target", "a target holds the blank (PyTorch computes a number)", "label_out_of_range",
                  targets=[[1, 0], [2, 0]])
    yield invalid("class_out_of_range", "a target class is C (PyTorch reads past the class dimension)",
                  "label_out_of_range", targets=[[1, 3], [2, 0]])
    yield invalid("input_length_beyond_T", "an input length above T", "invalid_parameter", input_lengths=[5, 3])
    yield invalid("negative_input_length", "a negative input length", "invalid_parameter", input_lengths=[4, -1])
    yield invalid("target_length_beyond_S", "a target length above the padded targets' S", "invalid_parameter",
                  target_lengths=[3, 1])
    yield invalid("blank_out_of_range", "blank = C", "invalid_parameter", params={"blank": 3})
    yield invalid("concatenated_length_mismatch", "concatenated targets shorter than sum(target_lengths)",
                  "shape_mismatch", flags=("InvalidInput", "ShapeMismatch"), targets=[1, 2])
    yield invalid("lengths_of_another_batch", "three input lengths for a batch of two", "shape_mismatch",
                  flags=("InvalidInput", "ShapeMismatch"), input_lengths=[4, 3, 2])
    yield invalid("padded_rows_of_another_batch", "padded targets of three rows for a batch of two",
                  "shape_mismatch", flags=("InvalidInput", "ShapeMismatch"), targets=[[1, 2], [2, 0], [1, 1]])
    yield invalid("log_probs_4d", "log_probs of shape (T, N, C, 1)", "shape_mismatch",
                  flags=("InvalidInput", "ShapeMismatch"), log_probs=x[..., None])
    yield invalid("unknown_reduction", "reduction 'batchmean'", "invalid_reduction", reduction="batchmean")
