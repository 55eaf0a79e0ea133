"""Cases for the Keras/optax losses of package keras_b: poly1_cross_entropy, sparsemax_loss, cosine_similarity_loss,
dice_loss and tversky_loss (classes, vector entries or mask entries on the last axis; the cases are 2-D (N, C) or
1-D (C,), where the last axis is also PyTorch's class axis)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng, cases_for, empty_cases,
                                      float64_cotangent, grid_values, nondyadic_values, row_case)

__all__ = ["cosine_similarity_accuracy_cases", "cosine_similarity_cases", "overlap_accuracy_cases", "overlap_cases",
           "poly1_accuracy_cases", "poly1_cases", "sparsemax_accuracy_cases", "sparsemax_cases"]




# ---- poly1_cross_entropy -------------------------------------------------------------------------------------------

def _one_hot_rows(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.integers(0, shape[-1], size=shape[:-1])[..., None] == np.arange(shape[-1])).astype(float)


def _soft_rows(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Probability rows n/32 summing to 1 (exact in every dtype): the last entry takes the rest."""
    rows = rng.integers(0, 33, size=shape) / 32
    rows = np.minimum(rows, 1.0 / shape[-1])  # at most 1/C each, so the rest is >= 0
    rows = np.floor(rows * 32) / 32
    rows[..., -1] = 1.0 - np.sum(rows[..., :-1], axis=-1)
    return rows


@cases_for("poly1_cross_entropy")
def poly1_cases(loss: str) -> Iterator[VectorCase]:
    """One-hot and soft labels on (N, C) and (C,) under every reduction; the epsilon grid; a confident row whose
    loss is 2.5e-17; logits of 1e4; empty; NaN; the calls that must raise."""
    for shape_name, shape in {"NxC": (4, 3), "unbatched": (5,)}.items():
        for labels, make in (("onehot", _one_hot_rows), ("soft", _soft_rows)):
            for reduction in ("none", "sum", "mean"):
                name = f"{shape_name}_{labels}_{reduction}"
                rng = case_rng(loss, name)
                yield row_case(loss, name, "basic", f"logits on the grid, {labels} labels, shape {shape}",
                                grid_values(rng, shape), make(rng, shape), reduction, rng,
                                flags=("Basic", "Reduction") + (("ProbabilityTargets",) if labels == "soft" else ())
                                + (("Shape",) if shape_name != "NxC" else ()))
    for epsilon in (0.0, -1.0, 5.0):
        name = f"epsilon{epsilon:g}_none"
        rng = case_rng(loss, name)
        yield row_case(loss, name, "basic", f"epsilon = {epsilon:g} (0: the soft-label cross-entropy)",
                        grid_values(rng, (4, 3)), _soft_rows(rng, (4, 3)), "none", rng, params={"epsilon": epsilon},
                        flags=("ParameterGrid",))
    rng = case_rng(loss, "zero_cotangent")
    yield row_case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                    grid_values(rng, (3, 4)), _one_hot_rows(rng, (3, 4)), "none", rng, cotangent=np.zeros(3),
                    flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    yield row_case(loss, "confident_row_none", "edge", "logits (0, 40, 0), target class 1: 1 - p_t = 8.5e-18 and "
                    "the loss (1 + eps)(1 - p_t) = 2.5e-17, which a plain 1 - softmax makes 0",
                    np.array([[0.0, 40.0, 0.0], [0.0, 40.0, 0.0]]), np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]]),
                    "none", rng, dtypes=("float64", "float32"), flags=("Cancellation",))
    yield row_case(loss, "logits_1e4_none", "edge", "logits 1e4 apart: exp overflows without the max shift",
                    np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]]), np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
                    "none", rng, dtypes=("float64", "float32"), flags=("HugeMagnitude",))
    yield row_case(loss, "single_class_none", "edge", "C = 1: p = 1, the loss is 0 and so is the logit gradient",
                    np.array([[2.5], [-1.0]]), np.array([[1.0], [1.0]]), "none", rng, flags=("SingleClass",))
    yield from empty_cases(row_case, loss, rng, np.zeros((0, 3)), np.zeros((0, 3)), "empty_batch")
    yield row_case(loss, "nan_logit_none", "nonfinite", "a NaN logit makes its row's loss and gradients NaN",
                    np.array([[np.nan, 1.0, 0.5], [0.5, -1.0, 2.0]]), np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
                    "none", rng, flags=("NaNInput",))
    for name, comment, x, y, params, error in [
        ("target_shape_mismatch", "input (2, 3), target (2, 1)", np.zeros((2, 3)), np.ones((2, 1)), {},
         "shape_mismatch"),
        ("scalar_input", "input of shape (): no class axis", np.zeros(()), np.zeros(()), {}, "shape_mismatch"),
        ("unknown_reduction", "reduction 'avg'", np.zeros((2, 3)), np.zeros((2, 3)), {}, "invalid_reduction"),
    ]:
        yield row_case(loss, name, "invalid", comment, x, y, "avg" if error == "invalid_reduction" else "mean", rng,
                        cotangent=np.float64(1.0), params=params, flags=("InvalidInput",), error=error)


@cases_for("poly1_cross_entropy")
def poly1_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic logits, labels and epsilon."""
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x = nondyadic_values(rng, (5, 4), -5.0, 5.0)
        x[0] = [0.1, 1 / 3, -2.7, 0.7]
        y = rng.dirichlet(np.ones(4), size=5)
        yield row_case(loss, name, "accuracy", "non-dyadic logits, Dirichlet label rows and epsilon 1/3", x, y,
                        reduction, rng, cotangent=float64_cotangent(rng, (5,), reduction), params={"epsilon": 1 / 3},
                        dtypes=FLOAT64_ONLY, flags=("NonDyadic", "ProbabilityTargets"))


# ---- sparsemax_loss ------------------------------------------------------------------------------------------------

@cases_for("sparsemax_loss")
def sparsemax_cases(loss: str) -> Iterator[VectorCase]:
    """(N, C) and (C,) under every reduction; scores at a change of support; a confident row (loss 0); equal scores;
    C = 1; scores of 1e4; empty; NaN; the calls that must raise."""
    for shape_name, shape in {"NxC": (5, 4), "unbatched": (4,)}.items():
        for reduction in ("none", "sum", "mean"):
            name = f"{shape_name}_{reduction}"
            rng = case_rng(loss, name)
            target = rng.integers(0, shape[-1], size=shape[:-1])
            yield row_case(loss, name, "basic", f"scores n/64 in [-2, 2], shape {shape}",
                            grid_values(rng, shape, low=-128, high=128, scale=64), target, reduction, rng,
                            flags=("Basic", "Reduction") + (("Shape",) if shape_name != "NxC" else ()))
    rng = case_rng(loss, "zero_cotangent")
    yield row_case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                    grid_values(rng, (3, 4), scale=64), rng.integers(0, 4, size=3), "none", rng,
                    cotangent=np.zeros(3), flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    yield row_case(loss, "at_support_change_none", "edge", "a score exactly at the threshold tau (1 + 2 w_(2) = "
                    "w_(1) + w_(2)): the second derivative jumps there, the gradient p - onehot is continuous",
                    np.array([[1.5, 0.5, 0.5, -1.0], [1.0, 0.0, 0.0, 0.0], [0.25, 0.75, -0.25, 0.0]]),
                    np.array([1, 0, 3]), "none", rng, flags=("AtKink",))
    yield row_case(loss, "confident_none", "edge", "the target leads by 1 or more: p is its one-hot vector and the "
                    "loss is exactly 0; and the other way round (loss 1 + the gap)",
                    np.array([[3.0, 0.5, -2.0], [1e4, -1e4, 0.0], [1e4, -1e4, 0.0]]), np.array([0, 0, 2]), "none",
                    rng, dtypes=("float64", "float32"), flags=("HugeMagnitude",))
    yield row_case(loss, "equal_scores_none", "edge", "all scores equal: p uniform, loss 1/2 - 1/(2C)",
                    np.array([[0.5, 0.5, 0.5, 0.5], [-2.0, -2.0, -2.0, -2.0]]), np.array([1, 3]), "none", rng,
                    flags=("Basic",))
    yield row_case(loss, "single_class_none", "edge", "C = 1: p = 1, the loss and the gradient are 0",
                    np.array([[2.5], [-1.0]]), np.array([0, 0]), "none", rng, flags=("SingleClass",))
    yield from empty_cases(row_case, loss, rng, np.zeros((0, 3)), np.zeros(0, dtype=np.int64), "empty_batch")
    yield row_case(loss, "nan_score_none", "nonfinite", "a NaN score makes its row's loss and gradients NaN",
                    np.array([[np.nan, 1.0, 0.5], [0.5, -1.0, 2.0]]), np.array([0, 2]), "none", rng,
                    flags=("NaNInput",))
    for name, comment, x, target, error in [
        ("label_out_of_range", "class index 3 with C = 3", np.zeros((2, 3)), np.array([0, 3]), "label_out_of_range"),
        ("negative_label", "class index -1", np.zeros((2, 3)), np.array([-1, 0]), "label_out_of_range"),
        ("three_dimensional_input", "input (2, 3, 2): only (N, C) or (C,)", np.zeros((2, 3, 2)),
         np.zeros((2, 2), dtype=np.int64), "shape_mismatch"),
        ("target_shape_mismatch", "target (3,) for input (2, 3)", np.zeros((2, 3)), np.zeros(3, dtype=np.int64),
         "shape_mismatch"),
    ]:
        yield row_case(loss, name, "invalid", comment, x, target, "mean", rng, cotangent=np.float64(1.0),
                        flags=("InvalidInput",), error=error)
    yield row_case(loss, "unknown_reduction", "invalid", "reduction 'avg'", np.zeros((2, 3)), np.array([0, 1]),
                    "avg", rng, cotangent=np.float64(1.0), flags=("InvalidInput",), error="invalid_reduction")


@cases_for("sparsemax_loss")
def sparsemax_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic scores, some rows with a wide support, one with scores of 1e8."""
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x = nondyadic_values(rng, (6, 5), -1.0, 1.0)
        x[0] = [0.1, 1 / 3, -2.7, 0.7, 0.3]
        x[1] = 1e8 + x[1]  # shifted far from 0: z - z_k must be formed first, or tau loses its low digits
        yield row_case(loss, name, "accuracy", "non-dyadic scores (one row shifted by 1e8: the loss must not "
                        "depend on the shift)", x, rng.integers(0, 5, size=6), reduction, rng,
                        cotangent=float64_cotangent(rng, (6,), reduction), dtypes=FLOAT64_ONLY,
                        flags=("NonDyadic", "MixedMagnitude"))


# ---- cosine_similarity_loss ----------------------------------------------------------------------------------------

@cases_for("cosine_similarity_loss")
def cosine_similarity_cases(loss: str) -> Iterator[VectorCase]:
    """(N, D) and (D,) pairs under every reduction; parallel, antiparallel and orthogonal pairs; a zero vector and a
    vector shorter than Keras's epsilon (the clamp); empty; NaN; the calls that must raise."""
    for shape_name, shape in {"NxD": (4, 3), "unbatched": (5,)}.items():
        for reduction in ("none", "sum", "mean"):
            name = f"{shape_name}_{reduction}"
            rng = case_rng(loss, name)
            yield row_case(loss, name, "basic", f"vectors on the grid, shape {shape}", grid_values(rng, shape),
                            grid_values(rng, shape), reduction, rng,
                            flags=("Basic", "Reduction") + (("Shape",) if shape_name != "NxD" else ()))
    rng = case_rng(loss, "zero_cotangent")
    yield row_case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                    grid_values(rng, (3, 4)), grid_values(rng, (3, 4)), "none", rng, cotangent=np.zeros(3),
                    flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    yield row_case(loss, "aligned_pairs_none", "edge", "parallel (loss -1), antiparallel (1) and orthogonal (0) "
                    "pairs of lengths 3 and 1.5: the gradients of the first two are 0",
                    np.array([[1.0, 2.0, 2.0], [1.0, 2.0, 2.0], [1.0, 2.0, 2.0]]),
                    np.array([[0.5, 1.0, 1.0], [-0.5, -1.0, -1.0], [2.0, 0.0, -1.0]]), "none", rng,
                    flags=("Basic",))
    yield row_case(loss, "zero_vector_none", "edge", "a zero prediction and a zero target: the loss is 0 and the "
                    "zero vector's gradient is the clamped branch's -b_hat / 1e-7 (Keras on JAX: NaN)",
                    np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [0.0, 0.0, 0.0]]),
                    np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), "none", rng,
                    dtypes=("float64", "float32"), flags=("AtKink", "Convention"))
    tiny = 2.0 ** -26
    yield row_case(loss, "below_epsilon_none", "edge", "a target (3, 4) 2^-26 of norm 7.5e-8 < 1e-7: scaled by "
                    "1e7 instead of normalised, the loss is -0.745 x cos, not -cos",
                    np.array([[1.0, 1.0], [4.0, -3.0]]), np.array([[3 * tiny, 4 * tiny], [3 * tiny, 4 * tiny]]),
                    "none", rng, dtypes=("float64", "float32", "bfloat16"), flags=("TinyMagnitude",))
    yield from empty_cases(row_case, loss, rng, np.zeros((0, 3)), np.zeros((0, 3)), "empty_batch")
    yield row_case(loss, "nan_none", "nonfinite", "a NaN makes its pair's loss and both its gradients NaN",
                    np.array([[np.nan, 1.0], [0.5, -1.0]]), np.array([[1.0, 0.0], [1.0, 2.0]]), "none", rng,
                    flags=("NaNInput",))
    for name, comment, x, y, error in [
        ("target_shape_mismatch", "input (2, 3), target (2, 1)", np.zeros((2, 3)), np.ones((2, 1)),
         "shape_mismatch"),
        ("scalar_input", "input of shape (): no vector axis", np.zeros(()), np.zeros(()), "shape_mismatch"),
    ]:
        yield row_case(loss, name, "invalid", comment, x, y, "mean", rng, cotangent=np.float64(1.0),
                        flags=("InvalidInput",), error=error)
    yield row_case(loss, "unknown_reduction", "invalid", "reduction 'avg'", np.ones((2, 3)), np.ones((2, 3)), "avg",
                    rng, cotangent=np.float64(1.0), flags=("InvalidInput",), error="invalid_reduction")


@cases_for("cosine_similarity_loss")
def cosine_similarity_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic vectors, one pair nearly parallel (the loss within 1e-12 of -1)."""
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x, y = nondyadic_values(rng, (5, 4)), nondyadic_values(rng, (5, 4))
        x[0] = [0.1, 1 / 3, -2.7, 0.7]
        y[0] = x[0] * 3.3 + np.array([1e-6, -1e-6, 0.0, 0.0])
        yield row_case(loss, name, "accuracy", "non-dyadic vectors; the first pair nearly parallel", x, y,
                        reduction, rng, cotangent=float64_cotangent(rng, (5,), reduction), dtypes=FLOAT64_ONLY,
                        flags=("NonDyadic",))


# ---- dice_loss and tversky_loss ------------------------------------------------------------------------------------

def _masks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A mix of hard 0/1 entries and soft ones n/32 in [0, 1] (exact in every dtype)."""
    soft = rng.integers(0, 33, size=shape) / 32
    hard = rng.integers(0, 2, size=shape).astype(float)
    return np.where(rng.random(size=shape) < 0.5, hard, soft)


@cases_for("dice_loss", "tversky_loss")
def overlap_cases(loss: str) -> Iterator[VectorCase]:
    """(N, M) and (M,) masks under every reduction; alpha/beta for Tversky (Keras's naming); empty masks (the
    epsilon alone in the denominator); identical masks; empty batch; NaN; the calls that must raise."""
    for shape_name, shape in {"NxM": (3, 6), "unbatched": (5,)}.items():
        for reduction in ("none", "sum", "mean"):
            name = f"{shape_name}_{reduction}"
            rng = case_rng(loss, name)
            yield row_case(loss, name, "basic", f"hard and soft masks, shape {shape}", _masks(rng, shape),
                            _masks(rng, shape), reduction, rng,
                            flags=("Basic", "Reduction") + (("Shape",) if shape_name != "NxM" else ()))
    if loss == "tversky_loss":
        for alpha, beta in ((0.25, 0.75), (1.0, 0.0), (0.0, 2.0)):
            name = f"alpha{alpha:g}_beta{beta:g}_none"
            rng = case_rng(loss, name)
            yield row_case(loss, name, "basic", f"alpha {alpha:g} on sum y (1 - p), beta {beta:g} on sum p (1 - y) "
                            "(Keras's 'fp' and 'fn')", _masks(rng, (4, 5)), _masks(rng, (4, 5)), "none", rng,
                            params={"alpha": alpha, "beta": beta}, flags=("ParameterGrid", "Convention"))
    rng = case_rng(loss, "zero_cotangent")
    yield row_case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                    _masks(rng, (3, 4)), _masks(rng, (3, 4)), "none", rng, cotangent=np.zeros(3),
                    flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    yield row_case(loss, "empty_masks_none", "edge", "an empty prediction and target (loss 1: 0 / 1e-7), an empty "
                    "prediction only, an empty target only", np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                                                                       [0.5, 1.0, 0.0]]),
                    np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.5], [0.0, 0.0, 0.0]]), "none", rng,
                    dtypes=("float64", "float32"), flags=("Empty",))
    yield row_case(loss, "identical_masks_none", "edge", "prediction = target: the loss is 1e-7 / (mass + 1e-7), "
                    "not 0", np.array([[1.0, 0.0, 1.0, 1.0], [0.25, 0.5, 0.0, 1.0]]),
                    np.array([[1.0, 0.0, 1.0, 1.0], [0.25, 0.5, 0.0, 1.0]]), "none", rng,
                    dtypes=("float64",), flags=("Cancellation",))
    yield from empty_cases(row_case, loss, rng, np.zeros((0, 3)), np.zeros((0, 3)), "empty_batch")
    yield row_case(loss, "nan_none", "nonfinite", "a NaN makes its sample's loss and both its gradients NaN",
                    np.array([[np.nan, 1.0], [0.5, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.5]]), "none", rng,
                    flags=("NaNInput",))
    for name, comment, x, y, params, error in [
        ("target_shape_mismatch", "input (2, 3), target (2, 1)", np.zeros((2, 3)), np.ones((2, 1)), {},
         "shape_mismatch"),
        ("scalar_input", "input of shape ()", np.zeros(()), np.zeros(()), {}, "shape_mismatch"),
    ] + ([("negative_alpha", "alpha = -0.5", np.zeros((2, 3)), np.zeros((2, 3)), {"alpha": -0.5},
           "invalid_parameter")] if loss == "tversky_loss" else []):
        yield row_case(loss, name, "invalid", comment, x, y, "mean", rng, cotangent=np.float64(1.0), params=params,
                        flags=("InvalidInput",), error=error)
    yield row_case(loss, "unknown_reduction", "invalid", "reduction 'avg'", np.ones((2, 3)), np.ones((2, 3)), "avg",
                    rng, cotangent=np.float64(1.0), flags=("InvalidInput",), error="invalid_reduction")


@cases_for("dice_loss", "tversky_loss")
def overlap_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic probabilities (and alpha, beta)."""
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        params = {"alpha": 1 / 3, "beta": 0.7} if loss == "tversky_loss" else {}
        yield row_case(loss, name, "accuracy", "non-dyadic probabilities" + (", alpha 1/3, beta 0.7" if params
                                                                             else ""),
                        nondyadic_values(rng, (4, 5), 0.0, 1.0), nondyadic_values(rng, (4, 5), 0.0, 1.0), reduction,
                        rng, cotangent=float64_cotangent(rng, (4,), reduction), params=params, dtypes=FLOAT64_ONLY,
                        flags=("NonDyadic",))
