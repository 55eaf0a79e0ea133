"""Cases for the classification losses."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng, cases_for, cotangent_for, empty_cases,
                                      float64_cotangent, grid_values, nondyadic_values,
                                      two_input_case)

__all__ = ["bce_above_clamp_cases", "bce_clamp_kink_cases", "bce_near_half_cases", "bce_probability_accuracy_cases",
           "bce_probability_cases", "bce_with_logits_accuracy_cases", "bce_with_logits_cases",
           "bce_with_logits_tiny_logit_cases", "class_index_accuracy_cases", "class_index_cases",
           "hinge_accuracy_cases", "hinge_cases", "hinge_kink_cases", "keras_clip_kink_cases",
           "keras_float32_bce_cases",
           "multi_margin_accuracy_cases", "multi_margin_cases", "multi_margin_kink_cases",
           "multi_margin_p1_kink_cases", "nll_mixed_magnitude_cases", "sigmoid_focal_accuracy_cases",
           "sigmoid_focal_cases", "softmax_focal_accuracy_cases", "softmax_focal_cases"]

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
    for params in ({}, {"alpha": -1.0, "gamma": 0.5}):
        for reduction in ("none", "mean"):
            name = "soft_labels" + "".join(f"_{k}{v:g}" for k, v in params.items()) + f"_{reduction}"
            rng = case_rng(loss, name)
            yield two_input_case(loss, name, "basic", f"soft labels n/32 {params or 'with the defaults'}: the "
                                 "targets' gradient (2 alpha - 1) q^gamma c + alpha_t q^gamma (gamma (1 - 2p) c / q "
                                 "- x) too", grid_values(rng, (8,)), rng.integers(1, 32, size=8) / 32, reduction,
                                 rng, params=params, flags=("SoftLabels", "ParameterGrid"))
    rng = case_rng(loss, "soft_labels_saturated")
    yield two_input_case(loss, "soft_labels_saturated_none", "edge", "soft label 1/2 with logits +-40 and +-1e4: "
                         "1 - p_t stays near 1/2, and the targets' gradient is about -alpha_t x / 2^gamma",
                         np.array([40.0, -40.0, 1e4, -1e4]), np.full(4, 0.5), "none", rng, params={"gamma": 0.5},
                         dtypes=("float64", "float32"), flags=("SoftLabels", "HugeMagnitude"))

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
    for params in ({"label_smoothing": 0.25}, {"label_smoothing": 0.25, "gamma": 0.5},
                   {"label_smoothing": 0.125, "alpha": np.array([0.25, 1.0, 0.5])}):
        name = "smoothing_" + "_".join(f"{k}" for k in params if k != "label_smoothing")
        rng = case_rng(loss, name)
        for reduction in ("none", "mean"):
            yield _class_case(loss, f"{name}_{reduction}".replace("__", "_"), "basic", f"{params}: every class's "
                              "term weighted by its smoothed target and its own focal factor (Keras 3)",
                              grid_values(rng, (5, 3)), rng.integers(0, 3, size=5), reduction, rng, params=params,
                              flags=("ParameterGrid",))
    rng = case_rng(loss, "smoothing_spatial")
    yield _class_case(loss, "smoothing_spatial_sum", "basic", "label smoothing 0.25 on input (2, 3, 2): the class axis "
                      "is dim 1", grid_values(rng, (2, 3, 2)), rng.integers(0, 3, size=(2, 2)), "sum", rng,
                      params={"label_smoothing": 0.25}, flags=("ParameterGrid", "Shape"))
    rng = case_rng(loss, "smoothing_one")
    yield _class_case(loss, "smoothing_one_none", "edge", "label_smoothing = 1: the uniform target, the label plays no "
                      "part", grid_values(rng, (3, 4)), np.array([0, 1, 3]), "none", rng,
                      params={"label_smoothing": 1.0}, flags=("ParameterGrid",))
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
        ("label_smoothing_above_one", "label_smoothing = 1.5", np.zeros((2, 3)), np.array([0, 1]),
         {"label_smoothing": 1.5}, "invalid_parameter"),
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


# ---- accuracy: float64 only, non-dyadic and cancellation-prone inputs -------------------------------------------

# The floats just below and just above e^-100 = 3.72e-44 (math.exp(-100) is the upper one): e^-100 itself is not a
# float64, and log of either neighbour rounds to -100.0, so the clamp must be decided on p, not on a rounded log.
_BELOW_E_MINUS_100 = float.fromhex("0x1.a8c1f14e2af5cp-145")
_ABOVE_E_MINUS_100 = float.fromhex("0x1.a8c1f14e2af5dp-145")


def _soft_targets(rng: np.random.Generator, size: int) -> np.ndarray:
    """1/3, 0.1, 0.7, 0, 1 and random float64 values in [0, 1) (in an order that never equals the probabilities
    0.1, 0.7, 1/3 of the cases below: at p = y the exact gradient is 0, which the oracle's numerical derivative
    returns as noise of about 1e-91)."""
    return np.concatenate([[1 / 3, 0.1, 0.7, 0.0, 1.0], rng.uniform(0.0, 1.0, size=size - 5)])[:size]


def _nondyadic_logits(rng: np.random.Generator) -> np.ndarray:
    """Ten float64 logits that round in every operation: 0.1, -2.7, 1/3, 0.7 and six random ones in [-8, 8]."""
    return np.concatenate([[0.1, -2.7, 1 / 3, 0.7], nondyadic_values(rng, (6,), -8.0, 8.0)])


@cases_for(_BCE)
def bce_with_logits_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic logits and soft targets; logits of +-40 with targets 0, 1 and 0.3; confidently right
    logits alone (every entry about e^-40); non-dyadic weight and pos_weight."""
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x = _nondyadic_logits(rng)
        yield two_input_case(loss, name, "accuracy", "non-dyadic logits (0.1, 1/3, -2.7, random) and soft targets "
                             "(0.1, 1/3, 0.7, random): softplus, sigmoid and y x all round, unlike on the n/32 grid",
                             x, _soft_targets(rng, 10), reduction, rng,
                             cotangent=float64_cotangent(rng, (10,), reduction), dtypes=FLOAT64_ONLY,
                             flags=("NonDyadic", "Reduction"))
    rng = case_rng(loss, "saturated_logits")
    yield two_input_case(loss, "saturated_logits_none", "accuracy", "logits +-40 and +-37.3 with targets 0, 1, 0.3: "
                         "the naive log(1 + exp(-|x|)) gives 0 instead of 4.2e-18 (a confident right answer's loss), "
                         "sigma(x) - y gives 0 instead of -4.2e-18, and the textbook -[y log sigma(x) + (1 - y) "
                         "log(1 - sigma(x))] is inf for y = 0.3 at x = 40 (sigma rounds to 1)",
                         np.array([40.0, -40.0, 40.0, -40.0, 40.0, -40.0, 37.3, -37.3]),
                         np.array([1.0, 0.0, 0.0, 1.0, 0.3, 0.3, 1.0, 0.0]), "none", rng,
                         cotangent=float64_cotangent(rng, (8,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("NonDyadic", "Cancellation", "MixedMagnitude"))
    rng = case_rng(loss, "confident_right")
    yield two_input_case(loss, "confident_right_none", "accuracy", "only confidently right logits (40, -40, 37.3, "
                         "-45.1 against 1, 0, 1, 0): every loss and gradient entry is about e^-|x| (3e-20 to 6e-17); "
                         "log(1 + exp(-|x|)) and sigma(x) - y give 0 for all of them",
                         np.array([40.0, -40.0, 37.3, -45.1]), np.array([1.0, 0.0, 1.0, 0.0]), "none", rng,
                         cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("NonDyadic", "Cancellation"))
    for reduction in ("none", "mean"):
        name = f"nondyadic_weights_{reduction}"
        rng = case_rng(loss, name)
        weight = np.concatenate([[0.1, 1 / 3], rng.uniform(0.0, 2.0, size=(4,))]).reshape(2, 3)
        yield two_input_case(loss, name, "accuracy", "non-dyadic weight and pos_weight (0.3, 1/3, 2.7 per class): "
                             "the target gradient is g w (pos_weight softplus(-x) - softplus(x)) and the mean divides "
                             "by the count, not the weight sum", nondyadic_values(rng, (2, 3), -8.0, 8.0),
                             _soft_targets(rng, 6).reshape(2, 3), reduction, rng,
                             cotangent=float64_cotangent(rng, (2, 3), reduction),
                             params={"weight": weight, "pos_weight": np.array([0.3, 1 / 3, 2.7])},
                             dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Weighted"))


@cases_for(_BCE)
def bce_with_logits_tiny_logit_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: logits of 1e-10 to 1e-17, where the target gradient -g x must not cancel."""
    rng = case_rng(loss, "tiny_logits")
    yield two_input_case(loss, "tiny_logits_none", "accuracy", "logits 1e-10, -1e-10, 1e-17, -1e-17, 3e-13: "
                         "without pos_weight the target gradient is -g x exactly; formed as g (softplus(-x) - "
                         "softplus(x)) it is 8.3e-8 relative off at 1e-10 and 0 at 1e-17 (log 2 - x/2 and log 2 + x/2 "
                         "cancel)", np.array([1e-10, -1e-10, 1e-17, -1e-17, 3e-13]),
                         np.array([0.3, 1.0, 0.0, 1 / 3, 0.1]), "none", rng,
                         cotangent=float64_cotangent(rng, (5,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("NonDyadic", "Cancellation", "TinyMagnitude"))


@cases_for("sigmoid_focal_loss")
def sigmoid_focal_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic logits, targets and alpha with non-integer gamma; logits of +-40 and 1e-10;
    confidently right logits alone."""
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x = _nondyadic_logits(rng)
        yield two_input_case(loss, name, "accuracy", "non-dyadic logits, soft targets (0.1, 1/3, 0.7, random), alpha "
                             "0.3 and gamma 1.5: (1 - p_t)^gamma with a non-integer gamma, every operation rounds",
                             x, _soft_targets(rng, 10), reduction, rng, params={"alpha": 0.3, "gamma": 1.5},
                             cotangent=float64_cotangent(rng, (10,), reduction), dtypes=FLOAT64_ONLY,
                             flags=("NonDyadic", "ParameterGrid"))
    for gamma in (0.5, 1.5):
        name = f"saturated_logits_gamma{gamma:g}_none"
        rng = case_rng(loss, name)
        yield two_input_case(loss, name, "accuracy", f"logits +-40 and +-1e-10, labels 0 and 1, gamma {gamma:g}: "
                             "for a confident right answer 1 - p_t = e^-40 = 4.2e-18, which 1 - sigmoid(x) rounds to "
                             "0 (loss and gradient 0 instead of about e^(-40 (1 + gamma))); a confident wrong answer "
                             "has the loss alpha_t 40 and p_t = e^-40 enters its gradient",
                             np.array([40.0, -40.0, 40.0, -40.0, 1e-10, -1e-10]),
                             np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0]), "none", rng, params={"gamma": gamma},
                             cotangent=float64_cotangent(rng, (6,), "none"), dtypes=FLOAT64_ONLY,
                             flags=("NonDyadic", "Cancellation", "MixedMagnitude"))
        name = f"confident_right_gamma{gamma:g}_none"
        rng = case_rng(loss, name)
        yield two_input_case(loss, name, "accuracy", f"only confidently right logits (40, -40, 37.3, -30.1), gamma "
                             f"{gamma:g}: every entry is about e^(-|x| (1 + gamma)), which a naive 1 - sigmoid(x) and "
                             "log(1 + exp(-|x|)) turn into 0", np.array([40.0, -40.0, 37.3, -30.1]),
                             np.array([1.0, 0.0, 1.0, 0.0]), "none", rng, params={"gamma": gamma},
                             cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                             flags=("NonDyadic", "Cancellation"))


@cases_for("binary_cross_entropy", "binary_cross_entropy_keras")
def bce_probability_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic probabilities and targets; probabilities of 1e-10 and 1 - 1e-10 (inside Keras's
    clip: 1e-6 and 1 - 1e-6), where log(1 - p) loses what log1p(-p) keeps."""
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        p = np.concatenate([[0.1, 0.7, 1 / 3, 0.9], rng.uniform(0.01, 0.99, size=6)])
        yield two_input_case(loss, name, "accuracy", "non-dyadic probabilities (0.1, 0.7, 1/3, random) and soft "
                             "targets: 1 - p, the logs and (p - y) / (p (1 - p)) all round, unlike on the n/32 grid",
                             p, _soft_targets(rng, 10), reduction, rng,
                             cotangent=float64_cotangent(rng, (10,), reduction), dtypes=FLOAT64_ONLY,
                             flags=("NonDyadic", "Reduction"))
    keras = loss == "binary_cross_entropy_keras"
    small = 1e-6 if keras else 1e-10  # Keras clips to [1e-7, 1 - 1e-7]: stay inside
    tinier = 3e-7 if keras else 3e-17
    where = "inside the clip [1e-7, 1 - 1e-7], " if keras else ""
    rng = case_rng(loss, "near_0_and_1")
    yield two_input_case(loss, "near_0_and_1_none", "accuracy", f"{where}p = {small:g}, 1 - {small:g}, {tinier:g} "
                         "with the targets they nearly match (0, 1, 0) and with 0.3: -log(1 - p) formed as log(1 - p) "
                         f"is {'3e-11' if keras else '8e-8'} relative off at p = {small:g} (1 - p rounds) and "
                         f"{'2e-10' if keras else 'exactly 0'} at {tinier:g}, where log1p(-p) is exact",
                         np.array([small, 1.0 - small, tinier, small, 1.0 - small]),
                         np.array([0.0, 1.0, 0.0, 0.3, 0.3]), "none", rng,
                         cotangent=float64_cotangent(rng, (5,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("NonDyadic", "Cancellation", "TinyMagnitude"))
    if not keras:
        for reduction in ("none", "mean"):
            name = f"nondyadic_weighted_{reduction}"
            rng = case_rng(loss, name)
            yield two_input_case(loss, name, "accuracy", "non-dyadic weights (0.1, 1/3, random): the mean still "
                                 "divides by the count", rng.uniform(0.01, 0.99, size=6), _soft_targets(rng, 6),
                                 reduction, rng, params={"weight": np.concatenate([[0.1, 1 / 3],
                                                                                    rng.uniform(0.0, 2.0, size=4)])},
                                 cotangent=float64_cotangent(rng, (6,), reduction), dtypes=FLOAT64_ONLY,
                                 flags=("NonDyadic", "Weighted"))


_CLAMP_COMMENT = ("e^-100 is not a float64: the floats just below it (3.720075976020836e-44, clamped: the log term "
                  "is constant, gradient (1 - y) / (1 - p)) and just above it (unclamped: gradient -y / p + (1 - y) "
                  "/ (1 - p), about -2.7e43 y) stand for the kink, and log of both rounds to -100.0")


@cases_for("binary_cross_entropy")
def bce_clamp_kink_cases(loss: str) -> Iterator[VectorCase]:
    """The clamp of each log term at -100: the float just below p = e^-100, and 1 - p = e^-100 (p = 1)."""
    rng = case_rng(loss, "at_clamp")
    yield two_input_case(loss, "at_clamp_none", "edge", "the kink where log p meets its clamp at -100: "
                         f"{_CLAMP_COMMENT}; here the float below, with targets 1 and 0.3. 1 - p = e^-100 is not "
                         "reachable below p = 1, so p = 1 (log1p(-p) = -inf, clamped) stands for it",
                         np.array([_BELOW_E_MINUS_100, _BELOW_E_MINUS_100, 1.0, 1.0]), np.array([1.0, 0.3, 0.0, 0.3]),
                         "none", rng, cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("AtKink", "NearKink", "LogClamp"))


@cases_for("binary_cross_entropy")
def bce_above_clamp_cases(loss: str) -> Iterator[VectorCase]:
    """The float just above p = e^-100, where the log term is not clamped."""
    rng = case_rng(loss, "above_clamp")
    yield two_input_case(loss, "above_clamp_none", "edge", f"the kink where log p meets its clamp at -100: "
                         f"{_CLAMP_COMMENT}; here the float above, with targets 1 and 0.3",
                         np.array([_ABOVE_E_MINUS_100, _ABOVE_E_MINUS_100]), np.array([1.0, 0.3]), "none", rng,
                         cotangent=float64_cotangent(rng, (2,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("AtKink", "NearKink", "LogClamp"))


@cases_for("binary_cross_entropy", "binary_cross_entropy_keras")
def bce_near_half_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: probabilities near 1/2, where the target gradient log((1 - p) / p) is tiny."""
    rng = case_rng(loss, "near_half")
    yield two_input_case(loss, "near_half_none", "accuracy", "p = 0.5 + 1e-9, 0.4974882347672007, 0.5000001, 0.51: "
                         "the target gradient -g log(p / (1 - p)) is 4e-9 to 4e-2; formed as log p - log1p(-p), two "
                         "values near -0.69 cancel: refloss's float64 reference is 100 ulps off at 0.5000001 and 20 "
                         "at 0.4975 (glibc's log keeps 0.5 + 1e-9 exact to 0.01 ulp); log1p((2p - 1) / (1 - p)) "
                         "for p >= 1/2 is exact to a few ulps",
                         np.array([0.5 + 1e-9, 0.4974882347672007, 0.5000001, 0.51]),
                         np.array([0.3, 1.0, 0.0, 0.7]), "none", rng, cotangent=float64_cotangent(rng, (4,), "none"),
                         dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Cancellation"))


@cases_for("binary_cross_entropy_keras")
def keras_clip_kink_cases(loss: str) -> Iterator[VectorCase]:
    """Keras's clip bounds p = epsilon and p = 1 - epsilon (1 - epsilon as Keras computes it in float64)."""
    rng = case_rng(loss, "at_clip")
    eps, top = 1e-7, 1.0 - 1e-7
    yield two_input_case(loss, "at_clip_none", "edge", "p exactly at the clip bounds 1e-7 and 1 - 1e-7 (computed in "
                         "float64, 0.9999999 = 0x1.fffffca501acbp-1, as Keras does) and one ulp either side: at a "
                         "bound the gradient passes (TensorFlow's clip_by_value), beyond it it is 0; any value "
                         "between the one-sided derivatives is accepted at the bound",
                         np.array([eps, top, np.nextafter(eps, 0.0), np.nextafter(eps, 1.0), np.nextafter(top, 0.0),
                                   np.nextafter(top, 1.0)]), np.array([1.0, 0.0, 0.3, 0.3, 0.3, 0.3]), "none", rng,
                         cotangent=float64_cotangent(rng, (6,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("AtKink", "NearKink"))
    # epsilon = 1/8: the bounds 0.125 and 0.875 are exact in every dtype.
    yield two_input_case(loss, "at_clip_epsilon0.125_none", "edge", "epsilon = 0.125: p exactly at the bounds 0.125 "
                         "and 0.875 and beyond them (0.0625, 0.9375), in every dtype",
                         np.array([0.125, 0.875, 0.0625, 0.9375]), np.array([1.0, 0.0, 0.25, 0.75]), "none", rng,
                         params={"epsilon": 0.125}, flags=("AtKink",))


def _float32_clip_bounds(loss: str, epsilon: float = 1e-7) -> tuple[float, float]:
    """The clip bounds in float32: Keras 3 rounds 1 - epsilon formed in float64, tf-keras subtracts in float32."""
    low = np.float32(epsilon)
    high = np.float32(1.0 - epsilon) if loss == "binary_cross_entropy_keras_fp32" else np.float32(1.0) - low
    return float(low), float(high)


@cases_for("binary_cross_entropy_keras_fp32", "binary_cross_entropy_tf_keras")
def keras_float32_bce_cases(loss: str) -> Iterator[VectorCase]:
    """The Keras clips with float32 constants: the grid, the frameworks' published test, p = 0 and 1, the float32
    bounds and their float32 neighbours, epsilon = 1e-3 and 1/8, non-dyadic values, empty, NaN, must-raise."""
    tf_keras = loss == "binary_cross_entropy_tf_keras"
    for shape in [(), (6,), (2, 3)]:
        for reduction in ("none", "sum", "mean"):
            name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = case_rng(loss, name)
            yield two_input_case(loss, name, "basic", f"probabilities and targets on the grid, shape {shape}",
                                 rng.integers(1, 32, size=shape) / 32, _targets(rng, shape), reduction, rng,
                                 flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    rng = case_rng(loss, "published")
    # keras/src/losses/losses_test.py BinaryCrossentropyTest.test_unweighted (Keras 3: 3.98559) and
    # tf_keras/losses_test.py BinaryCrossentropyTest.test_unweighted (tf-keras: 3.833), both in float32
    yield two_input_case(loss, "published_unweighted_mean", "basic", "the frameworks' own test: p = [[1, 1], [1, 0]] "
                         f"against y = [[1, 0], [1, 0]], mean {'15.333 / 4 = 3.833' if tf_keras else '15.942 / 4'}",
                         np.array([[1.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.0]]), "mean", rng,
                         dtypes=("float64", "float32"), flags=("Basic", "Convention"))
    rng = case_rng(loss, "edge")
    yield two_input_case(loss, "probabilities_0_and_1_none", "edge", "p exactly 0 or 1 is clipped to the float32 "
                         "bounds: p = 1, y = 0 gives " + ("-log(2^-23 + eps) = 15.333" if tf_keras else
                                                          "-log(2^-23) = 15.942") + "; no gradient in p",
                         np.array([0.0, 0.0, 1.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0, 1.0, 0.25]), "none", rng,
                         dtypes=("float64", "float32"), flags=("Convention",))
    low, high = _float32_clip_bounds(loss)
    points = [low, high] + [float(np.nextafter(np.float32(b), np.float32(t))) for b in (low, high) for t in (0, 1)]
    yield two_input_case(loss, "at_float32_clip_none", "edge", "p exactly at the float32 clip bounds "
                         f"{low!r} and {high!r} (1 - 2^-23) and one float32 ulp either side (1.0 above the upper "
                         "bound): at a bound the gradient passes, beyond it it is 0; any value between the one-sided "
                         "derivatives is accepted at the bound", np.array(points),
                         np.array([1.0, 0.0, 0.25, 0.25, 0.75, 0.75]), "none", rng, dtypes=("float64", "float32"),
                         flags=("AtKink", "NearKink"))
    yield two_input_case(loss, "at_clip_epsilon0.125_none", "edge", "epsilon = 0.125: p exactly at the bounds "
                         "0.125 and 0.875 and beyond them (0.0625, 0.9375), in every dtype",
                         np.array([0.125, 0.875, 0.0625, 0.9375]), np.array([1.0, 0.0, 0.25, 0.75]), "none", rng,
                         params={"epsilon": 0.125}, flags=("AtKink",))
    yield two_input_case(loss, "epsilon_1e-3_none", "basic", "a wider clip, epsilon = 1e-3 rounded to float32",
                         np.array([0.0, 2.0 ** -12, 0.5, 1.0]), np.array([1.0, 1.0, 0.0, 0.0]), "none", rng,
                         params={"epsilon": 1e-3}, dtypes=FLOAT64_ONLY, flags=("ParameterGrid",))
    rng = case_rng(loss, "nondyadic")
    yield two_input_case(loss, "nondyadic_none", "accuracy", "non-dyadic probabilities (0.1, 0.7, 1/3, 1e-6, "
                         "1 - 1e-6) and soft targets", np.array([0.1, 0.7, 1 / 3, 1e-6, 1.0 - 1e-6]),
                         np.array([1 / 3, 0.1, 0.0, 0.3, 1.0]), "none", rng,
                         cotangent=float64_cotangent(rng, (5,), "none"), dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    yield from empty_cases(two_input_case, loss, rng, np.zeros(0), np.zeros(0))
    yield two_input_case(loss, "nan_none", "nonfinite", "a NaN probability gives a NaN loss and gradients",
                         np.array([np.nan, 0.5]), np.array([1.0, 0.0]), "none", rng, flags=("NaNInput",))
    for name, comment, p, y, params, error in [
        ("input_above_one", "a probability of 1.5", np.array([0.5, 1.5]), np.zeros(2), {}, "invalid_target"),
        ("target_below_zero", "a target of -0.5", np.array([0.5, 0.5]), np.array([0.0, -0.5]), {},
         "invalid_target"),
        ("epsilon_too_large", "epsilon = 0.75 leaves no interval", np.array([0.5, 0.5]), np.zeros(2),
         {"epsilon": 0.75}, "invalid_parameter"),
    ]:
        yield two_input_case(loss, name, "invalid", comment, p, y, "mean", rng, cotangent=np.float64(1.0),
                             params=params, flags=("InvalidInput",), error=error)


@cases_for("cross_entropy", "nll_loss")
def class_index_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic logits (log-probabilities for nll_loss) and class weights; rows with logits 40
    apart and 1e-10 apart; label smoothing 0.1; non-dyadic probability targets with smoothing and weights."""
    ce = loss == "cross_entropy"
    weight = np.array([0.1, 1 / 3, 0.7, 2.5])
    for reduction in ("none", "mean"):
        name = f"nondyadic_weighted_{reduction}"
        rng = case_rng(loss, name)
        x = nondyadic_values(rng, (5, 4), -5.0, 5.0) if ce else nondyadic_values(rng, (5, 4), -8.0, 0.0)
        x[0] = [0.1, 1 / 3, -2.7, 0.7] if ce else [-0.1, -1 / 3, -2.7, -0.7]
        target = rng.integers(0, 4, size=5)
        yield _class_case(loss, name, "accuracy", "non-dyadic inputs and class weights (0.1, 1/3, 0.7, 2.5): the "
                          "mean divides by the sum of w[y], which rounds; "
                          + ("log_softmax and softmax round in every entry" if ce else "each -w[y] x[y] rounds"),
                          x, target, reduction, rng, cotangent=float64_cotangent(rng, (5,), reduction),
                          params={"weight": weight}, dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Weighted"))
    if not ce:
        return
    rng = case_rng(loss, "separated_logits")
    rows = np.array([[40.0, 0.0, -40.0], [40.0, 0.0, -40.0], [40.0, 0.0, -40.0], [1e-10, 0.0, -1e-10],
                     [0.1, 1 / 3, -2.7]])
    yield _class_case(loss, "separated_logits_none", "accuracy", "rows of logits 40 apart (targets the largest, the "
                      "middle, the smallest), 1e-10 apart, and non-dyadic: for the largest logit's own class the loss "
                      "is log1p(e^-40 + e^-80) = 4.2e-18, which m + log(sum exp(x - m)) - x_y returns as 0, and its "
                      "gradient softmax - one_hot is 0 instead of -4.2e-18", rows, np.array([0, 1, 2, 0, 1]), "none",
                      rng, cotangent=float64_cotangent(rng, (5,), "none"), dtypes=FLOAT64_ONLY,
                      flags=("NonDyadic", "Cancellation", "MixedMagnitude"))
    rng = case_rng(loss, "confident_rows")
    rows = np.array([[40.0, 0.0, -40.0], [80.3, 40.2, 43.7], [-3.1, 37.3, 0.2], [0.7, -1 / 3, 45.1]])
    yield _class_case(loss, "confident_rows_none", "accuracy", "only rows whose target logit leads by 36 or more: "
                      "every loss and gradient entry is below 1e-15, and a naive log-sum-exp or softmax - one_hot "
                      "returns 0 for the losses and the targets' gradients. In the first two rows x - max is exact "
                      "(the second by Sterbenz); in the last two it rounds, and exp(x - max) near e^-40 magnifies "
                      "that rounding 40 times (about 20 ulps in any float64 implementation)", rows,
                      np.array([0, 0, 1, 2]), "none", rng, cotangent=float64_cotangent(rng, (4,), "none"),
                      dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Cancellation"))
    for reduction in ("none", "mean"):
        name = f"smoothing0.1_nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x = nondyadic_values(rng, (4, 4), -5.0, 5.0)
        x[0] = [40.0, 0.0, -40.0, 0.1]
        yield _class_case(loss, name, "accuracy", "label smoothing 0.1 with non-dyadic weights and logits (one row "
                          "40 apart): the smoothing term eps / C sum_c w[c] log p[c] weights every class, and the "
                          "mean still divides by the sum of w[y]", x, rng.integers(0, 4, size=4), reduction, rng,
                          cotangent=float64_cotangent(rng, (4,), reduction),
                          params={"label_smoothing": 0.1, "weight": weight}, dtypes=FLOAT64_ONLY,
                          flags=("NonDyadic", "Weighted", "ParameterGrid"))
    for reduction in ("none", "mean"):
        name = f"probabilities_nondyadic_smoothing_weights_{reduction}"
        rng = case_rng(loss, name)
        target = rng.dirichlet(np.ones(4), size=4)
        target[0] = [0.1, 0.2, 0.7, 0.0]  # sums to 1.0000000000000000 only approximately: not normalised
        target[1] = [1 / 3, 1 / 3, 1 / 3, 0.0]
        x = nondyadic_values(rng, (4, 4), -5.0, 5.0)
        x[2] = [40.0, 0.0, -40.0, 0.1]
        yield _class_case(loss, name, "accuracy", "non-dyadic probability targets (0.1, 0.2, 0.7; thirds; random "
                          "rows) with label smoothing 0.1 and non-dyadic class weights: the loss is differentiable "
                          "in the target too (-w[c] (1 - eps) log p[c]); the mean divides by the number of samples",
                          x, target, reduction, rng, cotangent=float64_cotangent(rng, (4,), reduction),
                          params={"label_smoothing": 0.1, "weight": weight}, dtypes=FLOAT64_ONLY,
                          flags=("NonDyadic", "ProbabilityTargets", "Weighted"))


@cases_for("nll_loss")
def nll_mixed_magnitude_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: per-sample losses of 1e-9 next to 1e9 in one tensor."""
    for reduction in ("none", "mean"):
        name = f"mixed_magnitude_{reduction}"
        rng = case_rng(loss, name)
        x = np.array([[-1e-9, -40.0, -0.1], [-1e9, -1e-12, -2.7], [-0.3, -1 / 3, -3e-10]])
        yield _class_case(loss, name, "accuracy", "per-sample losses of 1e-9, 1e9, 3e-10 in one tensor: each must be "
                          "exact on its own scale (an absolute error set by 1e9 would allow 0)", x, np.array([0, 0, 2]),
                          reduction, rng, cotangent=float64_cotangent(rng, (3,), reduction), dtypes=FLOAT64_ONLY,
                          flags=("NonDyadic", "MixedMagnitude"))


@cases_for("softmax_focal_loss")
def softmax_focal_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic logits and alpha with non-integer gamma; rows with logits 40 apart; confident
    rows alone, where 1 - p_y = e^-40 must not round to 0."""
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x = nondyadic_values(rng, (5, 3), -5.0, 5.0)
        x[0] = [0.1, 1 / 3, -2.7]
        x[1] = [1e-10, 0.0, -1e-10]
        yield _class_case(loss, name, "accuracy", "non-dyadic logits (one row 1e-10 apart) and alpha (0.1, 1/3, 2.5) "
                          "with gamma 1.5: (1 - p_y)^gamma with a non-integer gamma, every operation rounds", x,
                          rng.integers(0, 3, size=5), reduction, rng, cotangent=float64_cotangent(rng, (5,), reduction),
                          params={"gamma": 1.5, "alpha": np.array([0.1, 1 / 3, 2.5])}, dtypes=FLOAT64_ONLY,
                          flags=("NonDyadic", "ParameterGrid"))
    for gamma in (0.5, 1.5):
        name = f"separated_logits_gamma{gamma:g}_none"
        rng = case_rng(loss, name)
        rows = np.array([[40.0, 0.0, -40.0], [40.0, 0.0, -40.0], [-3.1, 37.3, 0.2], [0.7, -1 / 3, 45.1]])
        yield _class_case(loss, name, "accuracy", f"logits 40 apart, gamma {gamma:g}: for the leading class 1 - p_y "
                          "= 4.2e-18, which 1 - exp(log p_y) or 1 - softmax rounds to 0 (loss and gradient 0 instead "
                          "of about (4.2e-18)^(1 + gamma)); -expm1(log p_y) keeps it", rows, np.array([0, 2, 1, 2]),
                          "none", rng, cotangent=float64_cotangent(rng, (4,), "none"), params={"gamma": gamma},
                          dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Cancellation", "MixedMagnitude"))
    rng = case_rng(loss, "smoothing_nondyadic")
    yield _class_case(loss, "smoothing_nondyadic_none", "accuracy", "label smoothing 0.1, gamma 1.5, non-dyadic "
                      "logits and alpha, rows 40 apart among them: each class's 1 - p_k must keep its relative "
                      "accuracy", np.array([[0.1, 1 / 3, -2.7], [40.0, 0.0, -40.0], [-3.1, 37.3, 0.2]]),
                      np.array([1, 0, 1]), "none", rng, cotangent=float64_cotangent(rng, (3,), "none"),
                      params={"gamma": 1.5, "label_smoothing": 0.1, "alpha": np.array([0.1, 1 / 3, 2.5])},
                      dtypes=FLOAT64_ONLY, flags=("NonDyadic", "ParameterGrid"))
    rng = case_rng(loss, "confident_rows")
    yield _class_case(loss, "confident_rows_gamma0.5_none", "accuracy", "only rows whose target leads by 37 or more, "
                      "gamma 0.5: every entry is below 1e-16, and 1 - p_y formed as 1 - exp(log p_y) makes all of "
                      "them 0", np.array([[40.0, 0.0, -40.0], [-3.1, 37.3, 0.2], [0.7, -1 / 3, 45.1]]),
                      np.array([0, 1, 2]), "none", rng, cotangent=float64_cotangent(rng, (3,), "none"),
                      params={"gamma": 0.5}, dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Cancellation"))


@cases_for("hinge_loss", "squared_hinge_loss")
def hinge_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic scores; scores within 1e-12 of the margin."""
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x = np.concatenate([[0.1, -2.7, 1 / 3, 0.7], nondyadic_values(rng, (6,))])
        labels = rng.choice(np.array([-1.0, 1.0]), size=10)
        yield two_input_case(loss, name, "accuracy", "non-dyadic scores (0.1, 1/3, -2.7, random), labels -1/+1: "
                             "1 - y x rounds, unlike on the n/32 grid", x, labels, reduction, rng,
                             cotangent=float64_cotangent(rng, (10,), reduction), dtypes=FLOAT64_ONLY,
                             flags=("NonDyadic", "Reduction"))
    squared = loss == "squared_hinge_loss"
    naive = ("the expanded square 1 - 2 y x + (y x)^2 cancels to 0 instead of 1e-24" if squared else
             "the loss must come out exact: a margin formed in lower precision, or a test y x <= 1 against "
             "1 - y x > 0 evaluated differently, shows")
    for labels_name, labels in (("", np.array([1.0, 1.0, -1.0, -1.0, 1.0, 1.0])),
                                ("_zero_one_labels", np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0]))):
        name = f"near_margin{labels_name}_none"
        rng = case_rng(loss, name)
        x = np.array([1 + 1e-12, 1 - 1e-12, -1 - 1e-12, -1 + 1e-12, np.nextafter(1.0, 2.0), np.nextafter(1.0, 0.0)])
        yield two_input_case(loss, name, "accuracy", "scores within 1e-12 (and one ulp) of the margin y x = 1"
                             + (", labels 0/1" if labels_name else "") + f": 1 - y x is tiny and exact; {naive}",
                             x, labels, "none", rng, cotangent=float64_cotangent(rng, (6,), "none"),
                             dtypes=FLOAT64_ONLY, flags=("NonDyadic", "NearKink")
                             + (("ZeroOneLabels",) if labels_name else ()))


@cases_for("hinge_loss", "squared_hinge_loss")
def hinge_kink_cases(loss: str) -> Iterator[VectorCase]:
    """The margin y x = 1 with labels given as 0/1 (0 means -1)."""
    rng = case_rng(loss, "at_margin_zero_one_labels")
    yield two_input_case(loss, "at_margin_zero_one_labels_none", "edge", "y x = 1 exactly with 0/1 labels (0 means "
                         "-1): scores 1 for label 1 and -1 for label 0", np.array([1.0, -1.0, 0.5, -0.5]),
                         np.array([1.0, 0.0, 1.0, 0.0]), "none", rng, flags=("AtKink", "ZeroOneLabels"))


@cases_for("multi_margin_loss")
def multi_margin_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic scores, margin and weights; margins met within 2^-40 (9.1e-13)."""
    for params in ({}, {"p": 2}):
        for reduction in ("none", "mean"):
            name = f"nondyadic{'_p2' if params else ''}_{reduction}"
            rng = case_rng(loss, name)
            labels = rng.integers(0, 4, size=5)
            x = nondyadic_values(rng, (5, 4), -2.0, 2.0)
            x[0] = [0.1, 1 / 3, -2.7, 0.7]
            yield _class_case(loss, name, "accuracy", f"non-dyadic scores, margin 0.3, class weights (0.1, 1/3, 0.7, "
                              f"2.5), p = {params.get('p', 1)}: margin - x_y + x_i rounds twice", x, labels, reduction,
                              rng, cotangent=float64_cotangent(rng, (5,), reduction),
                              params={**params, "margin": 0.3, "weight": np.array([0.1, 1 / 3, 0.7, 2.5])},
                              dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Weighted"))
    # margin 1, x_y = 0.5, x_i = -0.5 +- 2^-40: every evaluation order of margin - x_y + x_i is exact (Sterbenz, or
    # few enough bits), so z = +-2^-40 exactly, whichever order an implementation uses.
    tiny = 2.0 ** -40
    x = np.array([[0.5, -0.5 + tiny, -3.0], [-0.5 - tiny, 0.5, -0.5 + 2 * tiny], [-0.5 + tiny, -0.5 - tiny, 0.5]])
    for p in (1, 2):
        name = f"near_margin_p{p}_none"
        rng = case_rng(loss, name)
        yield _class_case(loss, name, "accuracy", f"margins met within 2^-40 = 9.1e-13 (z = +-2^-40, +2^-39), p = {p}: "
                          "each sample's loss is tiny and exact" + (" (z^2 / C, about 3e-25; the expanded square of "
                          "margin - x_y + x_i cancels to 0)" if p == 2 else " (z / C); the active margins must be "
                          "decided on this exact z: z formed in a lower precision flips the gradient"), x,
                          np.array([0, 1, 2]), "none", rng, cotangent=float64_cotangent(rng, (3,), "none"),
                          params={"p": p}, dtypes=FLOAT64_ONLY, flags=("NearKink", "TinyMagnitude"))


def _multi_margin_kink_case(loss: str, p: int) -> VectorCase:
    """Scores with z = margin - x_y + x_i = 0 exactly for some i (dyadic: every dtype)."""
    rng = case_rng(loss, f"at_margin_p{p}")
    x = np.array([[1.5, 0.5, -1.0], [0.25, -0.5, 0.5], [2.0, -1.0, 1.0]])  # z = 0 at (0, 1), (1, 0), (2, 0)
    convention = ("0, as PyTorch (z > 0); any value between the one-sided derivatives is accepted" if p == 1 else
                  "continuous there (2 max(0, z) = 0)")
    return _class_case(loss, f"at_margin_p{p}_none", "edge", f"z = margin - x_y + x_i = 0 exactly in each row, p = "
                       f"{p}: the declared kink; the gradient is {convention}", x, np.array([0, 2, 1]), "none", rng,
                       params={"p": p} if p != 1 else {}, flags=("AtKink",))


@cases_for("multi_margin_loss")
def multi_margin_kink_cases(loss: str) -> Iterator[VectorCase]:
    """The kink z = 0 for p = 2, where the gradient is continuous."""
    yield _multi_margin_kink_case(loss, 2)


@cases_for("multi_margin_loss")
def multi_margin_p1_kink_cases(loss: str) -> Iterator[VectorCase]:
    """The kink z = 0 for p = 1, where the gradient jumps."""
    yield _multi_margin_kink_case(loss, 1)
