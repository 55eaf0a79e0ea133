"""Cases of the losses on labels in {-1, +1}: soft_margin_loss, hinge_embedding_loss, margin_ranking_loss."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng, cases_for, cotangent_for, empty_cases,
                                       float64_cotangent, grid_values, nondyadic_values, two_input_case)

__all__ = ["hinge_embedding_cases", "margin_ranking_cases", "signed_label_cases", "soft_margin_cases"]

_SHAPES = [(), (6,), (2, 3)]
_REDUCTIONS = ("none", "sum", "mean")


def _labels(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), size=shape)


def _shape_name(shape: tuple[int, ...], reduction: str) -> str:
    return f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"


def _shape_flags(shape: tuple[int, ...]) -> tuple[str, ...]:
    return ("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ())


@cases_for("soft_margin_loss", "hinge_embedding_loss")
def signed_label_cases(loss: str) -> Iterator[VectorCase]:
    """What the two-input losses share: every shape and reduction, empty, NaN, calls that must raise."""
    for shape in _SHAPES:
        for reduction in _REDUCTIONS:
            name = _shape_name(shape, reduction)
            rng = case_rng(loss, name)
            yield two_input_case(loss, name, "basic", f"labels -1/+1, inputs on the grid, shape {shape}",
                                 grid_values(rng, shape, low=-96, high=96), _labels(rng, shape), reduction, rng,
                                 flags=_shape_flags(shape))
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x = np.concatenate([[0.1, -2.7, 1 / 3, 0.7], nondyadic_values(rng, (6,))])
        yield two_input_case(loss, name, "accuracy", "non-dyadic inputs (0.1, 1/3, -2.7, random), labels -1/+1",
                             x, _labels(rng, (10,)), reduction, rng, cotangent=float64_cotangent(rng, (10,), reduction),
                             dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Reduction"))
    rng = case_rng(loss, "edge")
    yield from empty_cases(two_input_case, loss, rng, np.zeros(0), np.zeros(0))
    yield two_input_case(loss, "single_element_mean", "edge", "one element: mean = sum", np.array([0.75]),
                         np.array([-1.0]), "mean", rng, flags=("SingleElement",))
    yield two_input_case(loss, "nan_none", "nonfinite", "a NaN input gives a NaN loss and gradient, for either label",
                         np.array([np.nan, np.nan, 0.5]), np.array([1.0, -1.0, 1.0]), "none", rng,
                         flags=("NaNInput",))
    yield two_input_case(loss, "infinite_none", "nonfinite", "inputs -inf and +inf against both labels: the "
                         "limits of the loss and its slope", np.array([-np.inf, np.inf, -np.inf, np.inf]),
                         np.array([1.0, 1.0, -1.0, -1.0]), "none", rng, flags=("InfInput",))
    for name, comment, x, y, error in [
        ("column_vs_vector", "(3, 1) against (3,): PyTorch broadcasts or refuses", np.zeros((3, 1)), np.ones(3),
         "shape_mismatch"),
        ("label_zero", "a label of 0 (PyTorch computes something; refloss takes -1 and 1 only)", np.zeros(2),
         np.array([0.0, 1.0]), "invalid_target"),
        ("label_one_half", "a label of 0.5", np.zeros(2), np.array([0.5, -1.0]), "invalid_target"),
    ]:
        yield two_input_case(loss, name, "invalid", comment, x, y, "mean", rng, cotangent=np.float64(1.0),
                             flags=("InvalidInput",), error=error)


@cases_for("soft_margin_loss")
def soft_margin_cases(loss: str) -> Iterator[VectorCase]:
    """Margins far on either side: where log(1 + exp(-y x)) as written overflows, or 1 + e^-t drops e^-t."""
    rng = case_rng(loss, "large_margins")
    yield two_input_case(loss, "large_margins_none", "accuracy", "y x = -1000, -709.9 (exp overflows in float64: "
                         "the loss is -y x, slope -y) and 40, 745 (the loss e^-40 = 4.2e-18, e^-745 = 5e-324 must "
                         "not round to 0 through 1 + e^-t)", np.array([-1000.0, 709.9, 40.0, -745.0]),
                         np.array([1.0, -1.0, 1.0, -1.0]), "none", rng,
                         cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("IntermediateOverflow", "HugeMagnitude", "TinyMagnitude", "NonDyadic"))
    rng = case_rng(loss, "float16_overflow")
    yield two_input_case(loss, "float16_overflow_none", "edge", "y x = -12 and -96: exp(-y x) overflows float16 "
                         "(above 11.09) and float32 (96 > 88.7); the loss itself is 12 and 96",
                         np.array([-12.0, 96.0, 3.0]), np.array([1.0, -1.0, 1.0]), "none", rng,
                         flags=("IntermediateOverflow",))
    rng = case_rng(loss, "tiny_scores")
    yield two_input_case(loss, "tiny_scores_none", "accuracy", "|x| = 1e-20 and 3e-9: the loss log 2 -+ x/2, "
                         "slope -y (1/2 - y x/4)", np.array([1e-20, -3e-9, 3e-9]), np.array([1.0, 1.0, -1.0]),
                         "none", rng, cotangent=float64_cotangent(rng, (3,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("TinyMagnitude", "NonDyadic"))


@cases_for("hinge_embedding_loss")
def hinge_embedding_cases(loss: str) -> Iterator[VectorCase]:
    """Margins (grid, negative), the kink x = margin for label -1, inputs near it."""
    for margin in (0.5, 2.0, -0.5):
        name = f"margin{margin}_sum"
        rng = case_rng(loss, name)
        yield two_input_case(loss, name, "basic", f"margin {margin}", grid_values(rng, (8,), low=-96, high=96),
                             _labels(rng, (8,)), "sum", rng, params={"margin": margin}, flags=("ParameterGrid",))
    for margin in (1.0, 0.5):
        name = f"at_margin{margin}_none"
        rng = case_rng(loss, name)
        yield two_input_case(loss, name, "edge", f"x = margin = {margin} exactly with label -1: the kink (any "
                             "subgradient in [-1, 0]; PyTorch gives 0); with label 1 no kink",
                             np.array([margin, margin, 0.25]), np.array([-1.0, 1.0, -1.0]), "none", rng,
                             params={} if margin == 1.0 else {"margin": margin}, flags=("AtKink",))
    name = "near_margin_none"
    rng = case_rng(loss, name)
    x = np.array([1 + 1e-12, 1 - 1e-12, np.nextafter(1.0, 2.0), np.nextafter(1.0, 0.0)])
    yield two_input_case(loss, name, "accuracy", "inputs within 1e-12 (and one ulp) of the margin 1, label -1: "
                         "margin - x is tiny and exact", x, -np.ones(4), "none", rng,
                         cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                         flags=("NonDyadic", "NearKink"))
    rng = case_rng(loss, "invalid_margin")
    yield two_input_case(loss, "nan_margin", "invalid", "a NaN margin", np.zeros(2), np.ones(2), "mean", rng,
                         cotangent=np.float64(1.0), params={"margin": np.nan}, flags=("InvalidInput",),
                         error="invalid_parameter")


def _ranking_case(loss: str, name: str, concern: str, comment: str, x1: np.ndarray, x2: np.ndarray, y: np.ndarray,
                  reduction: str, rng: np.random.Generator, **fields) -> VectorCase:
    cotangent = fields.pop("cotangent", None)
    if cotangent is None:
        cotangent = cotangent_for(rng, np.shape(x1), reduction)
    inputs = {"input1": np.asarray(x1, float), "input2": np.asarray(x2, float), "target": np.asarray(y, float)}
    return VectorCase(name, concern, comment, inputs, reduction, cotangent=np.asarray(cotangent, float), **fields)


@cases_for("margin_ranking_loss")
def margin_ranking_cases(loss: str) -> Iterator[VectorCase]:
    """Shapes and reductions, margins, the kink, non-dyadic and extreme scores, empty, NaN, calls that must raise."""
    for shape in _SHAPES:
        for reduction in _REDUCTIONS:
            name = _shape_name(shape, reduction)
            rng = case_rng(loss, name)
            yield _ranking_case(loss, name, "basic", f"labels -1/+1, scores on the grid, shape {shape}",
                                grid_values(rng, shape, low=-96, high=96), grid_values(rng, shape, low=-96, high=96),
                                _labels(rng, shape), reduction, rng, flags=_shape_flags(shape))
    for margin in (0.5, -0.25, 2.0):
        name = f"margin{margin}_mean"
        rng = case_rng(loss, name)
        yield _ranking_case(loss, name, "basic", f"margin {margin}", grid_values(rng, (8,), low=-64, high=64),
                            grid_values(rng, (8,), low=-64, high=64), _labels(rng, (8,)), "mean", rng,
                            params={"margin": margin}, flags=("ParameterGrid",))
    rng = case_rng(loss, "at_margin")
    yield _ranking_case(loss, "at_margin_none", "edge", "margin - y (x1 - x2) = 0 exactly (margin 0.5, and the "
                        "default 0 with x1 = x2): the kink (any subgradient between the sides; PyTorch gives 0)",
                        np.array([1.5, 0.25, 2.0]), np.array([1.0, 0.75, 2.0]), np.array([1.0, -1.0, 1.0]), "none",
                        rng, params={"margin": 0.5}, flags=("AtKink",))
    rng = case_rng(loss, "at_default_margin")
    yield _ranking_case(loss, "at_default_margin_none", "edge", "x1 = x2 with the default margin 0: the kink",
                        np.array([2.0, -0.5]), np.array([2.0, -0.5]), np.array([1.0, -1.0]), "none", rng,
                        flags=("AtKink",))
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = case_rng(loss, name)
        x1 = np.concatenate([[0.1, -2.7, 1 / 3, 0.7], nondyadic_values(rng, (6,))])
        x2 = np.concatenate([[0.2, 1.1, -1 / 7, 0.7 + 1e-12], nondyadic_values(rng, (6,))])
        yield _ranking_case(loss, name, "accuracy", "non-dyadic scores: x1 - x2 rounds; one pair 1e-12 apart",
                            x1, x2, _labels(rng, (10,)), reduction, rng, params={"margin": 0.3},
                            cotangent=float64_cotangent(rng, (10,), reduction), dtypes=FLOAT64_ONLY,
                            flags=("NonDyadic", "Reduction"))
    rng = case_rng(loss, "huge_scores")
    yield _ranking_case(loss, "huge_scores_none", "accuracy", "scores near 1e300 and 1e16: x1 - x2 is exact or "
                        "rounds once; a margin of 1 is lost next to 1e16 only if added before the difference",
                        np.array([1e300, -1e300, 1e16 + 2.0, 3.0]), np.array([-1e300, 5e299, 1e16, 3.0 + 2 ** -51]),
                        np.array([-1.0, 1.0, -1.0, 1.0]), "none", rng, params={"margin": 1.0},
                        cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                        flags=("HugeMagnitude", "NonDyadic"))
    rng = case_rng(loss, "edge")
    for reduction in _REDUCTIONS:
        mean = reduction == "mean"
        yield _ranking_case(loss, f"empty_{reduction}", "edge", "no elements: sum 0, mean NaN", np.zeros(0),
                            np.zeros(0), np.zeros(0), reduction, rng,
                            flags=("Empty", "Reduction") + (("Convention",) if mean else ()),
                            alternatives=("empty-mean-is-zero",) if mean else ())
    yield _ranking_case(loss, "nan_none", "nonfinite", "a NaN score (either input) gives a NaN loss and gradients",
                        np.array([np.nan, 0.5]), np.array([0.5, np.nan]), np.array([1.0, -1.0]), "none", rng,
                        flags=("NaNInput",))
    yield _ranking_case(loss, "infinite_none", "nonfinite", "infinite scores: the limits, and inf - inf = NaN",
                        np.array([-np.inf, np.inf, 1.0, np.inf]), np.array([0.0, 0.0, np.inf, np.inf]),
                        np.array([1.0, 1.0, 1.0, 1.0]), "none", rng, flags=("InfInput", "NaNInput"))
    for name, comment, x1, x2, y, params, error in [
        ("input2_column", "input2 (3, 1) against input1 (3,)", np.zeros(3), np.zeros((3, 1)), np.ones(3), {},
         "shape_mismatch"),
        ("target_shorter", "target (2,) against inputs (3,)", np.zeros(3), np.zeros(3), np.ones(2), {},
         "shape_mismatch"),
        ("label_zero", "a label of 0 (PyTorch computes max(0, margin); refloss takes -1 and 1 only)", np.zeros(2),
         np.zeros(2), np.array([0.0, 1.0]), {}, "invalid_target"),
        ("infinite_margin", "margin inf", np.zeros(2), np.zeros(2), np.ones(2), {"margin": np.inf},
         "invalid_parameter"),
    ]:
        yield _ranking_case(loss, name, "invalid", comment, x1, x2, y, "mean", rng, cotangent=np.float64(1.0),
                            params=params, flags=("InvalidInput",), error=error)
