"""Cases of kl_div, multilabel_soft_margin_loss and multilabel_margin_loss: inputs only, never expected values."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng, cases_for, empty_cases,
                                       float64_cotangent, grid_values, nondyadic_values, row_case,
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
    inf = np.inf
    # x = -inf (p = 0) under t > 0: an infinite divergence, d/dt = +inf; under t = 0: 0 * -inf = NaN, as PyTorch
    yield two_input_case(loss, "infinite_input_none", "nonfinite", "log p = -inf: the term is +inf where t > 0, "
                         "NaN (0 * -inf) where t = 0; d/dx = -t, d/dt = +inf or NaN", np.array([-inf, -inf, inf, -1.0]),
                         np.array([0.5, 0.0, 0.25, 0.5]), "none", rng, flags=("InfInput", "AtKink"))
    yield two_input_case(loss, "infinite_log_target_none", "nonfinite", "log_target: u = -inf (t = 0) gives "
                         "e^-inf * (-inf - x) = NaN as PyTorch; x = -inf gives +inf", np.array([-1.0, -inf, 0.5]),
                         np.array([-inf, -0.5, 0.25]), "none", rng, params={"log_target": True}, flags=("InfInput",))
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


# ---- multilabel_soft_margin_loss and multilabel_margin_loss: one loss per sample (row) -----------------------------



def _multilabel_targets(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Hard 0/1 labels and soft labels n/32, mixed (exact in every dtype)."""
    soft = rng.integers(0, 33, size=shape) / 32
    hard = rng.integers(0, 2, size=shape).astype(float)
    return np.where(rng.random(size=shape) < 0.5, hard, soft)


@cases_for("multilabel_soft_margin_loss")
def multilabel_soft_margin_cases(loss: str) -> Iterator[VectorCase]:
    """Batched and unbatched rows under every reduction, class weights (a zero among them), logits of +-1e4, an
    empty batch, non-dyadic values, and the calls that must raise."""
    for shape in [(4,), (3, 4)]:
        for weighted in (False, True):
            for reduction in ("none", "sum", "mean"):
                name = f"shape{'x'.join(map(str, shape))}{'_weight' if weighted else ''}_{reduction}"
                rng = case_rng(loss, name)
                params = {"weight": np.array([0.5, 2.0, 0.0, 1.25])} if weighted else {}
                yield row_case(loss, name, "basic", f"logits on the grid, hard and soft labels, shape {shape}"
                                   + (", class weights with a zero" if weighted else ""), grid_values(rng, shape),
                                   _multilabel_targets(rng, shape), reduction, rng, params=params,
                                   flags=("Basic", "Reduction") + (("Weighted",) if weighted else ())
                                   + (("Shape",) if len(shape) == 1 else ()))
    rng = case_rng(loss, "zero_cotangent")
    yield row_case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                       grid_values(rng, (2, 3)), _multilabel_targets(rng, (2, 3)), "none", rng,
                       cotangent=np.zeros(2), flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    yield row_case(loss, "single_class_mean", "edge", "C = 1: the loss is the binary cross-entropy itself",
                       np.array([[1.5], [-0.75]]), np.array([[1.0], [0.0]]), "mean", rng,
                       flags=("SingleClass", "Reduction"))
    # 1e4 is exact in float32: log(1 + exp(1e4)) overflows where softplus does not
    yield row_case(loss, "logits_1e4_none", "edge", "logits of +-1e4: each class's term is 0 or 1e4 exactly",
                       np.array([[1e4, -1e4], [-1e4, 1e4]]), np.array([[1.0, 1.0], [0.0, 0.0]]), "none", rng,
                       dtypes=("float64", "float32"), flags=("HugeMagnitude",))
    yield from empty_cases(row_case, loss, rng, np.zeros((0, 3)), np.zeros((0, 3)), "empty_batch")

    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x = nondyadic_values(rng, (3, 5), -4.0, 4.0)
        yield row_case(loss, name, "accuracy", "non-dyadic float64 logits, soft targets and class weights", x,
                           nondyadic_values(rng, (3, 5), 0.0, 1.0), reduction, rng,
                           cotangent=float64_cotangent(rng, (3,), reduction),
                           params={"weight": np.array([0.1, 1 / 3, 0.7, 2.5, 1.0])}, dtypes=FLOAT64_ONLY,
                           flags=("NonDyadic", "Weighted"))

    rng = case_rng(loss, "nan_row")
    yield row_case(loss, "nan_row_none", "nonfinite", "a sample whose logits are all NaN: its loss and its whole "
                   "gradient row are NaN, the other sample's are not", np.array([[np.nan] * 3, [0.5, -1.0, 2.0]]),
                   np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), "none", rng, flags=("NaNInput",))

    rng = case_rng(loss, "invalid")
    for name, comment, x, target, params, error, flags in [
        ("shape_mismatch", "target (2, 2) for input (2, 3)", np.zeros((2, 3)), np.zeros((2, 2)), {},
         "shape_mismatch", ("ShapeMismatch",)),
        ("target_above_one", "a target of 1.5 is not a probability", np.zeros((1, 2)), np.array([[0.5, 1.5]]), {},
         "invalid_target", ()),
        ("weight_not_per_class", "weight of shape (2,) for 3 classes", np.zeros((1, 3)), np.zeros((1, 3)),
         {"weight": np.ones(2)}, "invalid_weight", ()),
        ("negative_weight", "a negative class weight", np.zeros((1, 2)), np.zeros((1, 2)),
         {"weight": np.array([1.0, -1.0])}, "invalid_weight", ()),
    ]:
        yield row_case(loss, name, "invalid", comment, x, target, "mean", rng, cotangent=np.float64(1.0),
                           params=params, flags=("InvalidInput",) + flags, error=error)
    yield row_case(loss, "unknown_reduction", "invalid", "reduction 'batchmean' (kl_div's only)",
                       np.zeros((1, 2)), np.zeros((1, 2)), "batchmean", rng, cotangent=np.float64(1.0),
                       flags=("InvalidInput",), error="invalid_reduction")


def _target_rows(rng: np.random.Generator, samples: int, classes: int) -> np.ndarray:
    """Each row: 0 to C target indices (a duplicate now and then), then -1, then padding in [-1, C) that must be
    ignored."""
    rows = np.full((samples, classes), -1, dtype=np.int64)
    for n in range(samples):
        count = int(rng.integers(0, classes + 1))
        listed = rng.choice(classes, size=count, replace=bool(rng.random() < 0.3))
        rows[n, :count] = listed
        if count < classes - 1:
            rows[n, count + 1:] = rng.integers(-1, classes, size=classes - count - 1)
    return rows


def _listed(row: np.ndarray) -> np.ndarray:
    stop = np.flatnonzero(row == -1)
    return row[:stop[0]] if stop.size else row


def _scores_off_the_margin(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Scores n/16, the target classes' shifted by 1/32: z = 1 - x_j + x_i is an odd multiple of 1/32, never 0
    (no pair on the kink); at most 8 significant bits, exact in every dtype."""
    rows = np.atleast_2d(labels)
    scores = rng.integers(-64, 65, size=rows.shape) / 16
    for n, row in enumerate(rows):
        scores[n, np.unique(_listed(row))] += 1 / 32
    return scores.reshape(labels.shape)


@cases_for("multilabel_margin_loss")
def multilabel_margin_cases(loss: str) -> Iterator[VectorCase]:
    """Rows with 0 to C targets, duplicates and padding after the -1; unbatched input; the kink z = 0; an empty
    batch; non-dyadic scores; and the calls that must raise."""
    for reduction in ("none", "sum", "mean"):
        name = f"batch_{reduction}"
        rng = case_rng(loss, name)
        labels = _target_rows(rng, 6, 4)
        yield row_case(loss, name, "basic", "6 samples of 4 classes, 0 to 4 targets each, padding after -1",
                           _scores_off_the_margin(rng, labels), labels, reduction, rng, flags=("Basic", "Reduction"))
    rng = case_rng(loss, "fixed")
    labels = np.array([[3, 0, -1, 1], [2, 2, -1, -1], [-1, 0, 1, 2], [0, 1, 2, 3]])
    yield row_case(loss, "fixed_rows_none", "basic", "targets {3, 0} (then padding 1), 2 listed twice, none "
                       "listed, all listed (no non-target: loss 0)", _scores_off_the_margin(rng, labels), labels,
                       "none", rng, flags=("Basic",))
    rng = case_rng(loss, "zero_cotangent")
    labels = _target_rows(rng, 2, 3)
    yield row_case(loss, "zero_cotangent_mean", "basic", "grad_output = 0 must give zero gradients",
                       _scores_off_the_margin(rng, labels), labels, "mean", rng, cotangent=np.float64(0.0),
                       flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    label = np.array([1, 3, -1, 0, 2])
    yield row_case(loss, "unbatched_none", "edge", "input (C,), target (C,)", _scores_off_the_margin(rng, label),
                       label, "none", rng, flags=("Shape",))
    # x_1 = 1 (target), x_0 = 0 and x_2 = 1 (others): z = 1 - 1 + 0 = 0 at the pair (1, 0), z = 1 at (1, 2)
    yield row_case(loss, "at_margin_none", "edge", "a pair exactly at the margin (z = 0): PyTorch's z > 0 "
                       "leaves it inactive; any value between the one-sided derivatives is accepted",
                       np.array([[0.0, 1.0, 1.0]]), np.array([[1, -1, 0]]), "none", rng, flags=("AtKink",))
    yield from empty_cases(row_case, loss, rng, np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64),
                           "empty_batch")

    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        labels = _target_rows(rng, 4, 5)
        yield row_case(loss, name, "accuracy", "non-dyadic float64 scores: 1 - x_j + x_i rounds twice",
                           nondyadic_values(rng, (4, 5), -2.0, 2.0), labels, reduction, rng,
                           cotangent=float64_cotangent(rng, (4,), reduction), dtypes=FLOAT64_ONLY,
                           flags=("NonDyadic",))

    rng = case_rng(loss, "invalid")
    for name, comment, x, target, error, flags in [
        ("index_equal_to_classes", "class index 3 with C = 3", np.zeros((1, 3)), np.array([[0, 3, -1]]),
         "label_out_of_range", ()),
        ("index_below_minus_one", "class index -2 (after the -1: checked too, as PyTorch)", np.zeros((1, 3)),
         np.array([[0, -1, -2]]), "label_out_of_range", ()),
        ("target_shape", "target (1, 2) for input (1, 3)", np.zeros((1, 3)), np.array([[0, -1]]),
         "shape_mismatch", ("ShapeMismatch",)),
    ]:
        yield row_case(loss, name, "invalid", comment, x, target, "mean", rng, cotangent=np.float64(1.0),
                           flags=("InvalidInput",) + flags, error=error)
