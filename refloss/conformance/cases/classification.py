"""Cases for the classification losses."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import VectorCase, case_rng, cases_for, grid_values, two_input_case

__all__ = ["bce_with_logits_cases", "sigmoid_focal_cases"]

_BCE = "binary_cross_entropy_with_logits"


def _targets(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A mix of hard labels 0 and 1 and soft labels n/32 in [0, 1] (exact in every dtype)."""
    soft = rng.integers(0, 33, size=shape) / 32
    hard = rng.integers(0, 2, size=shape).astype(float)
    return np.where(rng.random(size=shape) < 0.5, hard, soft)


@cases_for(_BCE)
def bce_with_logits_cases(loss: str) -> Iterator[VectorCase]:
    """Shapes and reductions, weights and per-class pos_weight, extreme logits, hard 0/1 targets, empty, NaN,
    and the calls that must raise."""
    for shape in [(), (6,), (2, 3), (2, 1, 3)]:
        for reduction in ("none", "sum", "mean"):
            name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = case_rng(loss, name)
            yield two_input_case(loss, name, "basic", f"logits on the grid, hard and soft targets, shape {shape}",
                                 grid_values(rng, shape), _targets(rng, shape), reduction, rng,
                                 flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    for reduction in ("none", "mean"):
        name = f"weight_and_pos_weight_{reduction}"
        rng = case_rng(loss, name)
        weight = grid_values(rng, (3, 4), low=0, high=64)
        weight[0, 0] = 0.0
        pos_weight = np.array([0.5, 1.0, 3.0, 0.0])  # one per class (last dimension), broadcast over rows
        yield two_input_case(loss, name, "basic", "elementwise weight with a zero, pos_weight per class", 
                             grid_values(rng, (3, 4)), _targets(rng, (3, 4)), reduction, rng,
                             params={"weight": weight, "pos_weight": pos_weight}, flags=("Weighted", "Reduction"))
    for reduction in ("none", "mean"):
        name = f"zero_cotangent_{reduction}"
        rng = case_rng(loss, name)
        yield two_input_case(loss, name, "basic", "grad_output = 0 must give zero gradients", grid_values(rng, (4,)),
                             _targets(rng, (4,)), reduction, rng, cotangent=np.zeros((4,) if reduction == "none" else ()),
                             flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    yield two_input_case(loss, "hard_targets_none", "edge", "targets exactly 0 and 1 with confident right and "
                         "wrong logits", np.array([8.0, -8.0, 8.0, -8.0, 0.0]), np.array([1.0, 0.0, 0.0, 1.0, 1.0]),
                         "none", rng, flags=("HardTargets",))
    # 1e4 is exact in float32 (not in bfloat16 or float16): a naive log(sigmoid(x)) gives -inf or NaN there.
    yield two_input_case(loss, "logits_1e4_none", "edge", "logits of +-1e4: the loss is 0 or 1e4 exactly",
                         np.array([1e4, -1e4, 1e4, -1e4]), np.array([1.0, 0.0, 0.0, 1.0]), "none", rng,
                         dtypes=("float64", "float32"), flags=("HugeMagnitude",))
    yield two_input_case(loss, "single_element_mean", "edge", "mean over one element", np.array([1.75]),
                         np.array([0.25]), "mean", rng, flags=("SingleElement", "Reduction"))
    for reduction in ("none", "sum", "mean"):
        yield two_input_case(loss, f"empty_{reduction}", "edge", "no elements: sum 0, mean NaN", np.zeros(0),
                             np.zeros(0), reduction, rng,
                             flags=("Empty", "Reduction") + (("Convention",) if reduction == "mean" else ()),
                             alternatives=("empty-mean-is-zero",) if reduction == "mean" else ())

    yield two_input_case(loss, "nan_none", "nonfinite", "a NaN logit gives a NaN loss and NaN gradients",
                         np.array([np.nan, 1.0, np.nan]), np.array([1.0, 0.5, 0.0]), "none", rng,
                         flags=("NaNInput",))
    yield two_input_case(loss, "nan_mean", "nonfinite", "one NaN logit makes the mean NaN",
                         np.array([np.nan, 1.0]), np.array([1.0, 0.5]), "mean", rng, flags=("NaNInput", "Reduction"))

    for name, comment, x, y, params, error, flags in [
        ("column_vs_vector", "(3, 1) against (3,)", np.zeros((3, 1)), np.zeros(3), {}, "shape_mismatch",
         ("ShapeMismatch",)),
        ("target_above_one", "a target of 1.5 is not a probability", np.zeros(2), np.array([0.5, 1.5]), {},
         "invalid_target", ()),
        ("target_below_zero", "a target of -0.25 is not a probability", np.zeros(2), np.array([-0.25, 0.5]), {},
         "invalid_target", ()),
        ("negative_weight", "a negative weight", np.zeros(2), np.zeros(2), {"weight": np.array([1.0, -1.0])},
         "invalid_weight", ()),
        ("negative_pos_weight", "a negative pos_weight", np.zeros(2), np.zeros(2),
         {"pos_weight": np.array([-1.0])}, "invalid_weight", ()),
        ("pos_weight_not_broadcastable", "pos_weight of shape (3,) for input (2,)", np.zeros(2), np.zeros(2),
         {"pos_weight": np.ones(3)}, "invalid_weight", ()),
    ]:
        yield two_input_case(loss, name, "invalid", comment, x, y, "mean", rng, cotangent=np.float64(1.0),
                             params=params, flags=("InvalidInput",) + flags, error=error)
    yield two_input_case(loss, "unknown_reduction", "invalid", "reduction 'avg'", np.zeros(2), np.zeros(2), "avg", rng,
                         cotangent=np.float64(1.0), flags=("InvalidInput",), error="invalid_reduction")


@cases_for("sigmoid_focal_loss")
def sigmoid_focal_cases(loss: str) -> Iterator[VectorCase]:
    """torchvision's defaults on several shapes; the alpha/gamma grid; saturated logits where naive gradients of
    (1 - p_t)^gamma with 0 < gamma < 1 are NaN; gamma = 0; empty; NaN; calls that must raise."""
    for shape in [(), (6,), (2, 3)]:
        for reduction in ("none", "sum", "mean"):
            name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = case_rng(loss, name)
            labels = rng.integers(0, 2, size=shape).astype(float)
            yield two_input_case(loss, name, "basic", f"hard labels, defaults alpha 0.25, gamma 2, shape {shape}",
                                 grid_values(rng, shape), labels, reduction, rng,
                                 flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    for params in ({"gamma": 0.0}, {"gamma": 0.5}, {"alpha": 0.5}, {"alpha": -1.0}, {"alpha": -1.0, "gamma": 0.0}):
        name = "_".join(f"{k}{v:g}" for k, v in params.items())
        rng = case_rng(loss, name)
        yield two_input_case(loss, name, "basic", f"{params}: the parameter grid (alpha -1 disables alpha)",
                             grid_values(rng, (8,)), _targets(rng, (8,)), "none", rng, params=params,
                             flags=("ParameterGrid",))
    rng = case_rng(loss, "zero_cotangent")
    yield two_input_case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                         grid_values(rng, (4,)), _targets(rng, (4,)), "none", rng, cotangent=np.zeros(4),
                         flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    for gamma in (0.5, 2.0):
        yield two_input_case(loss, f"saturated_gamma{gamma:g}", "edge", "well-classified elements with 1 - p_t "
                             "rounding to 0: the gradient is 0, not NaN", np.array([1e4, -1e4, 40.0, -40.0]),
                             np.array([1.0, 0.0, 1.0, 0.0]), "none", rng, params={"gamma": gamma},
                             dtypes=("float64", "float32"), flags=("FocalSaturation", "HugeMagnitude"))
    yield two_input_case(loss, "hard_targets_none", "edge", "confident right and wrong logits",
                         np.array([8.0, -8.0, 8.0, -8.0, 0.0]), np.array([1.0, 0.0, 0.0, 1.0, 1.0]), "none", rng,
                         flags=("HardTargets",))
    for reduction in ("none", "sum", "mean"):
        yield two_input_case(loss, f"empty_{reduction}", "edge", "no elements: sum 0, mean NaN", np.zeros(0),
                             np.zeros(0), reduction, rng,
                             flags=("Empty", "Reduction") + (("Convention",) if reduction == "mean" else ()),
                             alternatives=("empty-mean-is-zero",) if reduction == "mean" else ())
    yield two_input_case(loss, "nan_none", "nonfinite", "a NaN logit gives a NaN loss and gradient",
                         np.array([np.nan, 1.0]), np.array([1.0, 0.0]), "none", rng, flags=("NaNInput",))
    for name, comment, x, y, params, error in [
        ("column_vs_vector", "(3, 1) against (3,)", np.zeros((3, 1)), np.zeros(3), {}, "shape_mismatch"),
        ("targets_above_one", "a target of 1.5", np.zeros(2), np.array([0.5, 1.5]), {}, "invalid_target"),
        ("gamma_negative", "gamma = -1", np.zeros(2), np.zeros(2), {"gamma": -1.0}, "invalid_parameter"),
        ("alpha_above_one", "alpha = 2", np.zeros(2), np.zeros(2), {"alpha": 2.0}, "invalid_parameter"),
    ]:
        yield two_input_case(loss, name, "invalid", comment, x, y, "mean", rng, cotangent=np.float64(1.0),
                             params=params, flags=("InvalidInput",) + (("ShapeMismatch",) if error ==
                                                                       "shape_mismatch" else ()), error=error)
