"""Cases for the classification losses."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import (VectorCase, case_rng, cases_for, cotangent_for, empty_cases, grid_values,
                                      two_input_case)

__all__ = ["bce_probability_cases", "bce_with_logits_cases", "class_index_cases", "hinge_cases", "multi_margin_cases",
           "sigmoid_focal_cases", "softmax_focal_cases"]

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
                             _targets(rng, (4,)), reduction, rng,
                             cotangent=np.zeros((4,) if reduction == "none" else ()),
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
    yield from empty_cases(two_input_case, loss, rng, np.zeros(0), np.zeros(0))

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
    yield from empty_cases(two_input_case, loss, rng, np.zeros(0), np.zeros(0))
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


def _class_case(loss: str, name: str, concern: str, comment: str, x: np.ndarray, target: np.ndarray,
                reduction: str, rng: np.random.Generator, **fields) -> VectorCase:
    """A cross_entropy / nll_loss case; the cotangent has the per-sample shape (``none``) or is a scalar."""
    class_axis = 1 if x.ndim > 1 else 0
    sample_shape = x.shape[:class_axis] + x.shape[class_axis + 1:]
    cotangent = fields.pop("cotangent", None)
    if cotangent is None:
        cotangent = cotangent_for(rng, sample_shape, reduction)
    return VectorCase(name, concern, comment, {"input": np.asarray(x, float), "target": np.asarray(target)},
                      reduction, cotangent=np.asarray(cotangent, float), **fields)


def _inputs(loss: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Logits on the grid for cross_entropy; log-probability-like grid values in [-8, 0] for nll_loss."""
    return grid_values(rng, shape) if loss == "cross_entropy" else grid_values(rng, shape, low=-255, high=0)


@cases_for("cross_entropy", "nll_loss")
def class_index_cases(loss: str) -> Iterator[VectorCase]:
    """PyTorch's semantics: shapes (N, C), (N, C, d1, d2) and (C,); class weights with a zero; ignore_index;
    label smoothing with and without weights; all samples ignored; a single class; logits of 1e4; empty batches;
    probability targets; NaN logits; and the calls that must raise."""
    smoothing = loss == "cross_entropy"
    shapes = {"NxC": (4, 3), "spatial": (2, 3, 2, 2), "unbatched": (5,)}
    for shape_name, shape in shapes.items():
        for reduction in ("none", "sum", "mean"):
            name = f"{shape_name}_{reduction}"
            rng = case_rng(loss, name)
            classes = shape[1] if len(shape) > 1 else shape[0]
            target = rng.integers(0, classes, size=shape[:1] + shape[2:] if len(shape) > 1 else ())
            yield _class_case(loss, name, "basic", f"class indices, input shape {shape}", _inputs(loss, rng, shape),
                              target, reduction, rng, flags=("Basic", "Reduction") + (("Shape",) if shape_name !=
                                                                                      "NxC" else ()))
    settings = {"weighted": {"weight": np.array([0.5, 0.0, 2.0, 1.0])},
                "ignore_index": {"ignore_index": 2},
                "default_ignore_index": {},
                "weighted_ignore": {"weight": np.array([0.5, 1.0, 2.0, 1.0]), "ignore_index": 1}}
    if smoothing:
        settings.update({"smoothing": {"label_smoothing": 0.25},
                         "smoothing_with_weights": {"label_smoothing": 0.25, "weight": np.array([0.5, 1.0, 2.0, 0.0])},
                         "smoothing_weights_ignore": {"label_smoothing": 0.125, "ignore_index": 0,
                                                      "weight": np.array([1.0, 0.5, 2.0, 1.0])}})
    for setting, params in settings.items():
        for reduction in ("none", "mean"):
            name = f"{setting}_{reduction}"
            rng = case_rng(loss, name)
            target = rng.integers(0, 4, size=6)
            target[1] = params.get("ignore_index", -100)  # one ignored sample in every setting
            flags = ("ParameterGrid",) + (("Weighted",) if "weight" in params else ()) + ("IgnoreIndex",)
            comment = f"{params or 'the default ignore_index -100'} with one ignored sample"
            if setting == "smoothing_with_weights":
                comment += "; PyTorch's result differs from smoothing the one-hot target and weighting it"
            yield _class_case(loss, name, "basic", comment, _inputs(loss, rng, (6, 4)), target, reduction, rng,
                              params=params, flags=flags)
    rng = case_rng(loss, "zero_cotangent")
    yield _class_case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                      _inputs(loss, rng, (3, 4)), rng.integers(0, 4, size=3), "none", rng, cotangent=np.zeros(3),
                      flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    for reduction in ("none", "sum", "mean"):
        yield _class_case(loss, f"all_ignored_{reduction}", "edge", "every sample ignored: none 0, sum 0, mean 0/0",
                          _inputs(loss, rng, (3, 4)), np.full(3, -100), reduction, rng,
                          flags=("AllIgnored", "IgnoreIndex") + (("Convention",) if reduction == "mean" else ()),
                          alternatives=("empty-mean-is-zero", "nan-mean-zero-gradient") if reduction == "mean"
                          else ())
    yield _class_case(loss, "zero_weight_classes_mean", "edge", "every target's class has weight 0: mean 0/0",
                      _inputs(loss, rng, (3, 3)), np.array([1, 1, 1]), "mean", rng,
                      params={"weight": np.array([1.0, 0.0, 2.0])}, flags=("WeightsSumToZero", "Convention"),
                      alternatives=("empty-mean-is-zero",))
    if smoothing:
        yield _class_case(loss, "zero_weight_classes_smoothing_mean", "edge", "targets' classes all weighted 0, "
                          "with label smoothing: still 0/0 = NaN (the smoothing term alone would be x/0)",
                          _inputs(loss, rng, (3, 3)), np.array([1, 1, 1]), "mean", rng,
                          params={"weight": np.array([1.0, 0.0, 2.0]), "label_smoothing": 0.25},
                          flags=("WeightsSumToZero",))
    yield _class_case(loss, "single_class_none", "edge", "C = 1: log_softmax is 0, the loss 0" if smoothing else
                      "C = 1", _inputs(loss, rng, (3, 1)), np.zeros(3, dtype=np.int64), "none", rng,
                      flags=("SingleClass",))
    if smoothing:
        yield _class_case(loss, "logits_1e4_none", "edge", "logits of +-1e4 in one row: losses 0, 1e4 and 2e4",
                          np.array([[1e4, -1e4, 0.0]] * 3), np.array([0, 2, 1]), "none", rng,
                          dtypes=("float64", "float32"), flags=("HugeMagnitude",))
    yield from empty_cases(_class_case, loss, rng, np.zeros((0, 3)), np.zeros(0, dtype=np.int64), "empty_batch")
    if smoothing:
        for params in ({}, {"label_smoothing": 0.25, "weight": np.array([0.5, 2.0, 1.0])}):
            for reduction in ("none", "mean"):
                name = f"probabilities{'_smoothing_weights' if params else ''}_{reduction}"
                rng = case_rng(loss, name)
                target = rng.integers(0, 9, size=(4, 3)) / 8
                target[0] = [1.0, 0.0, 0.0]
                yield _class_case(loss, name, "basic", f"probability targets (not normalised), {params or 'plain'}"
                                  "; the mean divides by the number of samples", _inputs(loss, rng, (4, 3)), target,
                                  reduction, rng, params=params, flags=("ProbabilityTargets",))
    if smoothing:
        yield _class_case(loss, "masked_logit_none", "nonfinite", "a -inf logit masks a class that is not the target: "
                          "it adds nothing (log 2 for [-inf, 0, 0] and target 1), no NaN",
                          np.array([[-np.inf, 0.0, 0.0], [0.5, -np.inf, 2.0]]), np.array([1, 2]), "none", rng,
                          flags=("InfInput",))
    if smoothing:  # (nll_loss's gradient does not depend on its input, so a NaN input leaves it finite)
        yield _class_case(loss, "nan_logit_none", "nonfinite", "a NaN in a row makes that row's loss and "
                          "gradients NaN", np.array([[np.nan, 1.0, 0.5], [0.5, -1.0, 2.0]]), np.array([0, 2]), "none",
                          rng, flags=("NaNInput",))

    invalid = [
        ("label_out_of_range", "class index 3 with C = 3", np.zeros((2, 3)), np.array([0, 3]), {},
         "label_out_of_range"),
        ("negative_label", "class index -1 that is not ignore_index", np.zeros((2, 3)), np.array([-1, 0]), {},
         "label_out_of_range"),
        ("target_shape_mismatch", "3 class indices for 2 samples", np.zeros((2, 3)), np.array([0, 1, 2]), {},
         "shape_mismatch"),
        ("negative_class_weight", "a negative class weight", np.zeros((2, 3)), np.array([0, 1]),
         {"weight": np.array([1.0, -1.0, 1.0])}, "invalid_weight"),
        ("class_weight_wrong_shape", "4 class weights for C = 3", np.zeros((2, 3)), np.array([0, 1]),
         {"weight": np.ones(4)}, "invalid_weight"),
    ]
    if smoothing:
        invalid.append(("probability_above_one", "a probability target of 1.5", np.zeros((2, 3)),
                        np.array([[0.5, 1.5, 0.0], [1.0, 0.0, 0.0]]), {}, "invalid_target"))
    for name, comment, x, target, params, error in invalid:
        yield _class_case(loss, name, "invalid", comment, x, target, "mean", rng, cotangent=np.float64(1.0),
                          params=params, flags=("InvalidInput",), error=error)
    yield _class_case(loss, "unknown_reduction", "invalid", "reduction 'avg'", np.zeros((2, 3)), np.array([0, 1]),
                      "avg", rng, cotangent=np.float64(1.0), flags=("InvalidInput",), error="invalid_reduction")


@cases_for("binary_cross_entropy", "binary_cross_entropy_keras")
def bce_probability_cases(loss: str) -> Iterator[VectorCase]:
    """Probabilities on the grid; weights; p exactly 0 and 1 (the clamp at -100); p below PyTorch's 1e-12
    gradient epsilon; empty; NaN; calls that must raise."""
    for shape in [(), (6,), (2, 3)]:
        for reduction in ("none", "sum", "mean"):
            name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = case_rng(loss, name)
            p = rng.integers(1, 32, size=shape) / 32  # strictly inside (0, 1)
            yield two_input_case(loss, name, "basic", f"probabilities and targets on the grid, shape {shape}", p,
                                 _targets(rng, shape), reduction, rng,
                                 flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    for reduction in ("none", "mean") if loss == "binary_cross_entropy" else ():  # Keras's takes no weight
        name = f"weighted_{reduction}"
        rng = case_rng(loss, name)
        weight = grid_values(rng, (2, 4), low=0, high=64)
        yield two_input_case(loss, name, "basic", "elementwise weight; the mean still divides by the count",
                             rng.integers(1, 32, size=(2, 4)) / 32, _targets(rng, (2, 4)), reduction, rng,
                             params={"weight": weight}, flags=("Weighted", "Reduction"))
    if loss == "binary_cross_entropy_keras":
        yield from _keras_bce_cases(loss)
        return
    rng = case_rng(loss, "edge")
    yield two_input_case(loss, "probabilities_0_and_1_none", "edge", "p exactly 0 or 1: each log clamped at -100, "
                         "so losses of 0 or 100 (or 100 y), and a clamped term adds no gradient",
                         np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0, 0.25, 0.75]), "none",
                         rng, flags=("LogClamp", "Convention"))
    # 2^-44 = 5.7e-14: p (1 - p) is below PyTorch's backward epsilon 1e-12 (exact in float32 and bfloat16, not
    # float16); 2^-148: log p = -102.6 is clamped (exact in float32 as a subnormal).
    yield two_input_case(loss, "below_torch_epsilon_none", "edge", "p = 2^-44: the true gradient 1/(1-p) for y = 0",
                         np.array([2.0 ** -44, 2.0 ** -40]), np.array([0.0, 0.25]), "none", rng,
                         dtypes=("float64", "float32", "bfloat16"), flags=("TinyMagnitude",))
    yield two_input_case(loss, "clamped_tiny_probability_none", "edge", "p = 2^-148: log p = -102.6 is clamped",
                         np.array([2.0 ** -148, 2.0 ** -148]), np.array([1.0, 0.0]), "none", rng,
                         dtypes=("float64", "float32"), flags=("LogClamp", "Subnormal"))
    yield from empty_cases(two_input_case, loss, rng, np.zeros(0), np.zeros(0))
    yield two_input_case(loss, "nan_none", "nonfinite", "a NaN probability gives a NaN loss and gradients",
                         np.array([np.nan, 0.5]), np.array([1.0, 0.0]), "none", rng, flags=("NaNInput",))
    for name, comment, p, y, params, error in [
        ("column_vs_vector", "(3, 1) against (3,)", np.full((3, 1), 0.5), np.zeros(3), {}, "shape_mismatch"),
        ("input_above_one", "a probability of 1.5", np.array([0.5, 1.5]), np.zeros(2), {}, "invalid_target"),
        ("target_below_zero", "a target of -0.25", np.array([0.5, 0.5]), np.array([-0.25, 0.0]), {},
         "invalid_target"),
        ("negative_weight", "a negative weight", np.array([0.5, 0.5]), np.zeros(2), {"weight": np.array([1.0, -1.0])},
         "invalid_weight"),
    ]:
        yield two_input_case(loss, name, "invalid", comment, p, y, "mean", rng, cotangent=np.float64(1.0),
                             params=params, flags=("InvalidInput",), error=error)


@cases_for("hinge_loss", "squared_hinge_loss")
def hinge_cases(loss: str) -> Iterator[VectorCase]:
    """Labels -1/+1 and 0/1; scores exactly at the margin; empty; NaN; calls that must raise."""
    for shape in [(), (6,), (2, 3)]:
        for reduction in ("none", "sum", "mean"):
            name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = case_rng(loss, name)
            labels = rng.choice(np.array([-1.0, 1.0]), size=shape)
            yield two_input_case(loss, name, "basic", f"labels -1/+1, scores on the grid, shape {shape}",
                                 grid_values(rng, shape, low=-96, high=96), labels, reduction, rng,
                                 flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    rng = case_rng(loss, "zero_one_labels")
    yield two_input_case(loss, "zero_one_labels_none", "basic", "labels 0/1 mean -1/+1 (as Keras)",
                         np.array([0.5, -0.5, 2.0, -2.0]), np.array([0.0, 0.0, 1.0, 1.0]), "none", rng,
                         flags=("ZeroOneLabels",))
    rng = case_rng(loss, "edge")
    yield two_input_case(loss, "at_margin_none", "edge", "y x = 1 exactly: the hinge's kink (any subgradient "
                         "between -y and 0 is accepted)", np.array([1.0, -1.0, 0.5]), np.array([1.0, -1.0, 1.0]),
                         "none", rng, flags=("AtKink",))
    yield from empty_cases(two_input_case, loss, rng, np.zeros(0), np.zeros(0))
    yield two_input_case(loss, "nan_none", "nonfinite", "a NaN score gives a NaN loss and gradient",
                         np.array([np.nan, 0.5]), np.array([1.0, -1.0]), "none", rng, flags=("NaNInput",))
    for name, comment, x, y, error in [
        ("column_vs_vector", "(3, 1) against (3,)", np.zeros((3, 1)), np.ones(3), "shape_mismatch"),
        ("label_one_half", "a label of 0.5", np.zeros(2), np.array([0.5, 1.0]), "invalid_target"),
        ("labels_minus_one_and_zero", "-1 together with 0: neither convention", np.zeros(2), np.array([-1.0, 0.0]),
         "invalid_target"),
    ]:
        yield two_input_case(loss, name, "invalid", comment, x, y, "mean", rng, cotangent=np.float64(1.0),
                             flags=("InvalidInput",), error=error)


def _margin_scores(rng: np.random.Generator, shape: tuple[int, ...], labels: np.ndarray) -> np.ndarray:
    """Scores n/16 with the target's score shifted by 1/32: no margin is met exactly (z = 0), where PyTorch's
    strict z > 0 picks one side of the kink; every value has at most 8 significant bits."""
    scores = rng.integers(-100, 101, size=shape) / 16
    return scores + (labels[..., None] == np.arange(shape[-1])) / 32


@cases_for("multi_margin_loss")
def multi_margin_cases(loss: str) -> Iterator[VectorCase]:
    """p = 1 and 2, margins, class weights, unbatched input, empty batch, NaN, calls that must raise."""
    for params in ({}, {"p": 2}, {"margin": 0.5}, {"margin": 2.0, "p": 2}, {"weight": np.array([0.5, 2.0, 1.0, 0.0])}):
        for reduction in ("none", "sum", "mean"):
            name = "_".join(f"{k}{v if k != 'weight' else ''}" for k, v in params.items()) or "defaults"
            name = f"{name}_{reduction}"
            rng = case_rng(loss, name)
            labels = rng.integers(0, 4, size=5)
            yield _class_case(loss, name, "basic", f"{params or 'p = 1, margin 1'}, 5 samples of 4 classes",
                              _margin_scores(rng, (5, 4), labels), labels, reduction, rng, params=params,
                              flags=("Basic", "Reduction") + (("ParameterGrid",) if params else ()))
    rng = case_rng(loss, "edge")
    label = np.array(2)
    yield _class_case(loss, "unbatched_none", "edge", "input (C,), target ()", _margin_scores(rng, (3,), label),
                      label, "none", rng, flags=("Shape",))
    yield from empty_cases(_class_case, loss, rng, np.zeros((0, 3)), np.zeros(0, dtype=np.int64), "empty_batch")
    yield _class_case(loss, "nan_score_none", "nonfinite", "a NaN score makes its sample's loss NaN",
                      np.array([[np.nan, 1.0, 0.5], [0.5, -1.0, 2.0]]), np.array([0, 2]), "none", rng,
                      flags=("NaNInput",))
    for name, comment, x, target, params, error in [
        ("label_out_of_range", "class index 3 with C = 3", np.zeros((2, 3)), np.array([0, 3]), {},
         "label_out_of_range"),
        ("p_three", "p = 3 (PyTorch supports 1 and 2)", np.zeros((2, 3)), np.array([0, 1]), {"p": 3},
         "invalid_parameter"),
        ("negative_class_weight", "a negative class weight", np.zeros((2, 3)), np.array([0, 1]),
         {"weight": np.array([1.0, -1.0, 1.0])}, "invalid_weight"),
    ]:
        yield _class_case(loss, name, "invalid", comment, x, target, "mean", rng, cotangent=np.float64(1.0),
                          params=params, flags=("InvalidInput",), error=error)


@cases_for("softmax_focal_loss")
def softmax_focal_cases(loss: str) -> Iterator[VectorCase]:
    """Shapes, per-class alpha, gamma 0 and 0.5, saturated logits (1 - p_y = 0), empty, NaN, calls that raise."""
    for shape_name, shape in {"NxC": (4, 3), "spatial": (2, 3, 2), "unbatched": (4,)}.items():
        for reduction in ("none", "sum", "mean"):
            name = f"{shape_name}_{reduction}"
            rng = case_rng(loss, name)
            classes = shape[1] if len(shape) > 1 else shape[0]
            target = rng.integers(0, classes, size=shape[:1] + shape[2:] if len(shape) > 1 else ())
            yield _class_case(loss, name, "basic", f"gamma 2, input shape {shape}", grid_values(rng, shape), target,
                              reduction, rng, flags=("Basic", "Reduction") + (("Shape",) if shape_name != "NxC"
                                                                               else ()))
    for params in ({"alpha": np.array([0.25, 1.0, 0.0])}, {"gamma": 0.0}, {"gamma": 0.5},
                   {"gamma": 0.5, "alpha": np.array([0.5, 0.75, 2.0])}):
        name = "_".join(k for k in params) + ("" if "gamma" not in params else f"{params['gamma']:g}")
        rng = case_rng(loss, name)
        yield _class_case(loss, f"{name}_none", "basic", f"{params}", grid_values(rng, (5, 3)),
                          rng.integers(0, 3, size=5), "none", rng, params=params, flags=("ParameterGrid",))
    rng = case_rng(loss, "edge")
    for gamma in (0.5, 2.0):
        yield _class_case(loss, f"saturated_gamma{gamma:g}_none", "edge", "the target's logit 1e4 above the others: "
                          "1 - p_y = 0, the gradient is 0 (naive code: NaN for gamma < 1)",
                          np.array([[1e4, 0.0, -1e4], [0.0, 40.0, 0.0]]), np.array([0, 1]), "none", rng,
                          params={"gamma": gamma}, dtypes=("float64", "float32"), flags=("FocalSaturation",))
    yield from empty_cases(_class_case, loss, rng, np.zeros((0, 3)), np.zeros(0, dtype=np.int64), "empty_batch")
    yield _class_case(loss, "nan_logit_none", "nonfinite", "a NaN logit makes its row NaN",
                      np.array([[np.nan, 1.0, 0.5], [0.5, -1.0, 2.0]]), np.array([0, 2]), "none", rng,
                      flags=("NaNInput",))
    for name, comment, x, target, params, error in [
        ("label_out_of_range", "class index 3 with C = 3", np.zeros((2, 3)), np.array([0, 3]), {},
         "label_out_of_range"),
        ("gamma_negative", "gamma = -1", np.zeros((2, 3)), np.array([0, 1]), {"gamma": -1.0}, "invalid_parameter"),
        ("alpha_wrong_shape", "2 alphas for C = 3", np.zeros((2, 3)), np.array([0, 1]),
         {"alpha": np.array([1.0, 1.0])}, "invalid_weight"),
    ]:
        yield _class_case(loss, name, "invalid", comment, x, target, "mean", rng, cotangent=np.float64(1.0),
                          params=params, flags=("InvalidInput",), error=error)


def _keras_bce_cases(loss: str) -> Iterator[VectorCase]:
    """Keras's clip: p = 0 and 1 give -log(1e-7) = 16.118 and no gradient in p; epsilon = 1e-3; must-raise."""
    rng = case_rng(loss, "edge")
    yield two_input_case(loss, "probabilities_0_and_1_none", "edge", "p exactly 0 or 1 is clipped to 1e-7 or "
                         "1 - 1e-7: losses 16.118 or about 1e-7, no gradient in p", np.array([0.0, 0.0, 1.0, 1.0, 0.0]),
                         np.array([1.0, 0.0, 0.0, 1.0, 0.25]), "none", rng, flags=("Convention",))
    yield two_input_case(loss, "epsilon_1e-3_none", "basic", "a wider clip, epsilon = 1e-3",
                         np.array([0.0, 2.0 ** -12, 0.5, 1.0]), np.array([1.0, 1.0, 0.0, 0.0]), "none", rng,
                         params={"epsilon": 1e-3}, dtypes=("float64",), flags=("ParameterGrid",))
    yield from empty_cases(two_input_case, loss, rng, np.zeros(0), np.zeros(0))
    yield two_input_case(loss, "nan_none", "nonfinite", "a NaN probability gives a NaN loss and gradients",
                         np.array([np.nan, 0.5]), np.array([1.0, 0.0]), "none", rng, flags=("NaNInput",))
    for name, comment, p, y, params, error in [
        ("input_above_one", "a probability of 1.5", np.array([0.5, 1.5]), np.zeros(2), {}, "invalid_target"),
        ("epsilon_too_large", "epsilon = 0.75 leaves no interval", np.array([0.5, 0.5]), np.zeros(2),
         {"epsilon": 0.75}, "invalid_parameter"),
    ]:
        yield two_input_case(loss, name, "invalid", comment, p, y, "mean", rng, cotangent=np.float64(1.0),
                             params=params, flags=("InvalidInput",), error=error)
