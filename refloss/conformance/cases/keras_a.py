"""Cases of Keras's Poisson, MAPE and MSLE losses, and of the categorical and Crammer-Singer hinge losses.

Keras forms its epsilon 1e-7 in the data's dtype. Inputs that sit exactly at it (|y| = 1e-7, x = 1e-7) are float64
cases: 1e-7 is not a float32 number, and float32's own 1e-7 is another number (1.0000000116860974e-7).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng as _rng, cases_for,
                                      empty_cases, float64_cotangent, grid_values, nondyadic_values)
from refloss.conformance.cases import row_case, two_input_case as _case

__all__ = ["elementwise_common_cases", "hinge_row_cases", "mape_cases", "msle_cases", "poisson_cases"]

EPSILON = 1e-7
KERAS_REGRESSION = ("poisson_loss", "mean_absolute_percentage_error", "mean_squared_logarithmic_error")


def _nonnegative(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Grid values in [1/32, 8]: in the domain of every loss here (predicted rates, counts, MSLE's arguments)."""
    return grid_values(rng, shape, low=1, high=255)


@cases_for(*KERAS_REGRESSION)
def elementwise_common_cases(loss: str) -> Iterator[VectorCase]:
    """What every elementwise loss here gets: each reduction on several shapes, a zero cotangent, empty inputs, one
    element, non-dyadic float64 inputs, NaN, and the calls that must raise."""
    for shape in [(), (6,), (2, 3)]:
        for reduction in ("none", "sum", "mean"):
            name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = _rng(loss, name)
            x, y = _nonnegative(rng, shape), _nonnegative(rng, shape)
            yield _case(loss, name, "basic", f"positive grid values, shape {shape}, reduction {reduction}", x, y,
                        reduction, rng, flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    rng = _rng(loss, "zero_cotangent")
    yield _case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                _nonnegative(rng, (4,)), _nonnegative(rng, (4,)), "none", rng, cotangent=np.zeros(4),
                flags=("ZeroCotangent",))
    rng = _rng(loss, "edge")
    yield _case(loss, "single_element_mean", "edge", "mean over one element", np.array([1.75]), np.array([0.5]),
                "mean", rng, flags=("SingleElement", "Reduction"))
    for shape in [(0,), (2, 0)]:
        yield from empty_cases(_case, loss, rng, np.zeros(shape), np.zeros(shape), f"empty{'x'.join(map(str, shape))}")
    for reduction in ("none", "sum", "mean"):
        name = f"nondyadic_{reduction}"
        rng = _rng(loss, name)
        x = np.concatenate([[0.1, 0.7, 2.7, 1 / 3], nondyadic_values(rng, (6,), 0.05, 3.0)])
        y = np.concatenate([[0.3, 0.2, 0.1, 1 / 7], nondyadic_values(rng, (6,), 0.05, 3.0)])
        yield _case(loss, name, "accuracy", "non-dyadic inputs (0.1, 1/3, random 53-bit values): every operation "
                    "rounds, so an intermediate kept in float32 shows (Keras 3.15.1 on JAX averages in float32)",
                    x, y, reduction, rng, cotangent=float64_cotangent(rng, (10,), reduction), dtypes=FLOAT64_ONLY,
                    flags=("NonDyadic", "Reduction"))
    rng = _rng(loss, "nonfinite")
    # Poisson's slope in the target, -log(x + eps), does not involve the target: a NaN count leaves it finite,
    # which the oracle's NaN convention (a NaN element has NaN slopes) cannot express; the unit tests check it.
    nan_target = 1.0 if loss == "poisson_loss" else np.nan
    yield _case(loss, "nan_none", "nonfinite", "a NaN input (or target) gives NaN there and nowhere else",
                np.array([np.nan, 1.0, 2.0]), np.array([0.5, nan_target, 1.0]), "none", rng, flags=("NaNInput",))
    yield _case(loss, "nan_mean", "nonfinite", "one NaN makes the mean NaN", np.array([np.nan, 1.0]),
                np.array([0.5, 0.5]), "mean", rng, flags=("NaNInput", "Reduction"))
    rng = _rng(loss, "invalid")
    yield _case(loss, "column_vs_vector", "invalid", "(3, 1) against (3,): Keras would broadcast to (3, 3)",
                np.ones((3, 1)), np.ones(3), "mean", rng, cotangent=np.float64(1.0),
                flags=("InvalidInput", "ShapeMismatch"), error="shape_mismatch")
    yield _case(loss, "unknown_reduction", "invalid", "reduction 'avg' is not one of none, mean, sum", np.ones(2),
                np.ones(2), "avg", rng, cotangent=np.float64(1.0), flags=("InvalidInput",), error="invalid_reduction")


@cases_for("poisson_loss")
def poisson_cases(loss: str) -> Iterator[VectorCase]:
    """Zero rates (log eps) and zero counts, eps on its grid, large counts, infinities, and a negative eps."""
    rng = _rng(loss, "poisson")
    for eps in (0.0, 0.5):
        for reduction in ("none", "mean"):
            name = f"eps{eps:g}_{reduction}"
            rng = _rng(loss, name)
            yield _case(loss, name, "basic", f"eps = {eps:g}, reduction {reduction}", _nonnegative(rng, (8,)),
                        rng.integers(0, 9, size=8).astype(float), reduction, rng, params={"eps": eps},
                        flags=("ParameterGrid",))
    yield _case(loss, "zero_rate_none", "edge", "x = 0: the loss is -y log(1e-7) = 16.118 y and the slope "
                "1 - y / 1e-7 (a float32 consumer's eps is 1.0000000116860974e-7: -y log of it is 16.118 y too, "
                "to 7e-10 relative)", np.array([0.0, 0.0, 0.0]), np.array([0.0, 1.0, 3.0]), "none", rng,
                dtypes=FLOAT64_ONLY, flags=("LogClamp",))
    yield _case(loss, "zero_count_none", "edge", "y = 0: the loss is x and its slope 1 (no logarithm needed)",
                np.array([0.5, 2.0, 7.25]), np.zeros(3), "none", rng, flags=("HardTargets",))
    yield _case(loss, "large_counts_none", "edge", "counts and rates of 1e6 to 1e300 (float64 only)",
                np.array([1e6, 1e150, 1e300]), np.array([1e6 + 1.0, 1e150, 2.0]), "none", rng,
                dtypes=FLOAT64_ONLY, flags=("HugeMagnitude",))
    yield _case(loss, "tiny_rates_none", "edge", "rates of 1e-10 to a subnormal: x + eps is eps to within "
                "rounding, and the slope 1 - y / (x + eps) is about -1e7 y (float64 only)",
                np.array([1e-10, 1e-300, 5e-324]), np.array([1.0, 2.0, 0.0]), "none", rng, dtypes=FLOAT64_ONLY,
                flags=("TinyMagnitude", "Subnormal"))
    rng = _rng(loss, "near_one")
    x = np.array([1.0 - 1e-7 + 1e-12, 1.0 - 1e-7, 0.9999999, 1.0000001])
    yield _case(loss, "log_near_zero_none", "accuracy", "x + eps within 1e-12 of 1: log(x + eps) is tiny, and its "
                "relative accuracy rests on the sum x + eps rounded once", x, np.array([3.0, 1.0, 2.5, 0.5]), "none",
                rng, cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                flags=("NonDyadic", "Cancellation"))
    yield _case(loss, "inf_none", "nonfinite", "x = inf gives inf - y inf = NaN (0 inf for y = 0: NaN too) and the "
                "slopes 1 and -inf; y = inf gives -inf log(x + eps), whose sign is that of 1 - (x + eps)",
                np.array([np.inf, np.inf, 0.5, 3.0]), np.array([2.0, 0.0, np.inf, np.inf]), "none", rng,
                flags=("InfInput",))
    yield _case(loss, "eps_out_of_domain", "invalid", "eps = -1 is outside [0, inf)", np.ones(2), np.ones(2),
                "mean", rng, cotangent=np.float64(1.0), params={"eps": -1.0}, flags=("InvalidInput",),
                error="invalid_parameter")


@cases_for("mean_absolute_percentage_error")
def mape_cases(loss: str) -> Iterator[VectorCase]:
    """Targets of either sign, x = y (the kink of |.|), |y| at, below and around the floor 1e-7, infinities."""
    rng = _rng(loss, "signs")
    x, y = grid_values(rng, (8,)), grid_values(rng, (8,))
    y[y == 0] = 0.5
    yield _case(loss, "either_sign_none", "basic", "inputs and targets of either sign: the divisor is |y|", x, y,
                "none", rng, flags=("Basic",))
    rng = _rng(loss, "kinks")
    yield _case(loss, "equal_none", "edge", "x = y: loss 0; |y - x| is not differentiable there: refloss gives 0 "
                "(sign(0) = 0), Keras on JAX the one-sided -100/m (JAX's abs has slope 1 at 0): any value between "
                "the one-sided slopes is accepted", np.array([0.5, -2.25, 3.0, 1.0]), np.array([0.5, -2.25, 3.0, 2.0]),
                "none", rng, flags=("ZeroResidual", "AtKink", "SubgradientInterval"))
    yield _case(loss, "at_floor_none", "edge", "|y| = 1e-7 exactly, the tie of max(|y|, eps): d/dy takes the two "
                "slopes' midpoint (as JAX's maximum), any value between them is accepted (float64 only: 1e-7 is not "
                "a float32 number)", np.array([0.25, 0.25, -3.0]), np.array([EPSILON, -EPSILON, EPSILON]), "none",
                rng, dtypes=FLOAT64_ONLY, flags=("AtKink", "SubgradientInterval"))
    yield _case(loss, "below_floor_none", "edge", "|y| below 1e-7 (0, 1e-9, -5e-8): the divisor is eps, so the loss "
                "is 1e9 |y - x| and d/dy = 100 sign / eps (float64 only)", np.array([1.0, 0.5, -0.25]),
                np.array([0.0, 1e-9, -5e-8]), "none", rng, dtypes=FLOAT64_ONLY, flags=("TinyMagnitude",))
    yield _case(loss, "zero_target_float16_overflow_none", "edge", "y = 0: 100 |x| / 1e-7 = 1e9 |x| overflows "
                "float16 and stays finite in bfloat16 (float32's eps differs from float64's by 1.2e-8 relative)",
                np.array([1.0, -0.5]), np.zeros(2), "none", rng, flags=("Float16Overflow",))
    rng = _rng(loss, "near_floor")
    y = np.array([np.nextafter(EPSILON, 0.0), np.nextafter(EPSILON, 1.0), -np.nextafter(EPSILON, 1.0), 2e-7])
    yield _case(loss, "near_floor_none", "accuracy", "|y| one ulp either side of 1e-7: each takes its own branch of "
                "the max (d/dy jumps from 100 s / eps to 100 s x / (y |y|))", np.array([0.25, 0.25, 0.5, 1.0]), y,
                "none", rng, cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                flags=("NonDyadic", "NearKink"))
    rng = _rng(loss, "close")
    y = np.array([0.3, 1 / 3, 2.7, -0.7])
    x = np.array([0.1 + 0.2, 0.33333333333, np.nextafter(2.7, 0.0), -0.7 + 1e-12])
    yield _case(loss, "near_equal_none", "accuracy", "x within 1e-11 relative of y: y - x is exact (Sterbenz) and "
                "the loss tiny, and d/dy = 100 s x / (y |y|) must not be formed as (1 - (y - x)/y) / |y|", x, y,
                "none", rng, cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                flags=("NonDyadic", "Cancellation"))
    yield _case(loss, "inf_none", "nonfinite", "x = +-inf: the loss is inf, d/dx the constant -100 s / m, d/dy "
                "infinite; y = inf: (inf - x) / inf is NaN", np.array([np.inf, -np.inf, 1.0]),
                np.array([2.0, -0.5, np.inf]), "none", rng, flags=("InfInput",))


@cases_for("mean_squared_logarithmic_error")
def msle_cases(loss: str) -> Iterator[VectorCase]:
    """Values below, at and near the floor 1e-7 (zero and negative ones count as it), small values where
    log(1 + t) loses accuracy, huge values, infinities."""
    rng = _rng(loss, "floor")
    yield _case(loss, "below_floor_none", "edge", "zero and negative values count as 1e-7: no gradient flows to them",
                np.array([0.0, -1.5, 2.0, -0.25]), np.array([1.0, 0.0, -3.0, -8.0]), "none", rng,
                flags=("LogClamp",))
    yield _case(loss, "at_floor_none", "edge", "x = 1e-7 and y = 1e-7 exactly, the tie of max(t, eps): half the "
                "slope (as JAX's maximum), any value between the one-sided slopes accepted (float64 only)",
                np.array([EPSILON, 0.5, EPSILON]), np.array([2.0, EPSILON, EPSILON]), "none", rng,
                dtypes=FLOAT64_ONLY, flags=("AtKink", "SubgradientInterval"))
    rng = _rng(loss, "near_floor")
    below, above = np.nextafter(EPSILON, 0.0), np.nextafter(EPSILON, 1.0)
    yield _case(loss, "near_floor_none", "accuracy", "values one ulp either side of 1e-7: each side's branch (the "
                "gradient jumps from 0 to 2 d / (1 + t))", np.array([below, above, 1.5, 2.5]),
                np.array([1.5, 2.5, below, above]), "none", rng, cotangent=float64_cotangent(rng, (4,), "none"),
                dtypes=FLOAT64_ONLY, flags=("NonDyadic", "NearKink"))
    rng = _rng(loss, "small")
    yield _case(loss, "small_values_none", "accuracy", "values of 1e-6 to 1e-3: log(1 + t) as Keras writes it "
                "rounds 1 + t first and is off by up to 1e-16 / t relative (2e-10 at 1e-6); log1p is exact",
                np.array([1e-6, 3e-5, 1e-3, 2e-6]), np.array([2e-6, 1e-4, 1.1e-3, 1e-6]), "none", rng,
                cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                flags=("NonDyadic", "Cancellation"))
    yield _case(loss, "huge_none", "edge", "values of 1e150 and 1e300: log1p is about 345 and 691, the square "
                "finite (float64 only)", np.array([1e150, 1e300, 3.5]), np.array([1.0, 1e300, 1e200]), "none", rng,
                dtypes=FLOAT64_ONLY, flags=("HugeMagnitude",))
    yield _case(loss, "inf_none", "nonfinite", "an infinite value: log1p(inf) = inf, the loss inf, the slope of the "
                "infinite input inf / inf = NaN (as every framework's), of the other -+inf",
                np.array([np.inf, 1.0, -np.inf]), np.array([1.0, np.inf, 2.0]), "none", rng, flags=("InfInput",))


# ---- categorical_hinge_loss and multiclass_hinge_loss: one loss per row --------------------------------------------



def _scores(rng: np.random.Generator, rows: int, classes: int, labels: np.ndarray) -> np.ndarray:
    """Scores away from every kink: the other classes' distinct odd multiples of 1/16 (never 0, never tied), the
    target's a multiple of 1/8 plus 1/32, so that no maximum is tied and no margin is met exactly (every value has
    at most 8 significant bits)."""
    x = np.empty((rows, classes))
    for row, label in zip(x, labels):
        row[:] = (2 * rng.choice(np.arange(-40, 40), size=classes, replace=False) + 1) / 16
        row[label] = rng.integers(-16, 17) / 8 + 1 / 32
    return x


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return (np.asarray(labels)[..., None] == np.arange(classes)).astype(float)


def _targets(loss: str, labels: np.ndarray, classes: int) -> np.ndarray:
    """Keras's categorical hinge takes one-hot rows; optax's multi-class hinge takes the class indices."""
    return _one_hot(labels, classes) if loss == "categorical_hinge_loss" else np.asarray(labels)


@cases_for("categorical_hinge_loss", "multiclass_hinge_loss")
def hinge_row_cases(loss: str) -> Iterator[VectorCase]:
    """Every reduction, an unbatched row, empty batches, ties and margins met exactly, non-dyadic scores, NaN, and
    the calls that must raise."""
    for reduction in ("none", "sum", "mean"):
        name = f"rows_{reduction}"
        rng = _rng(loss, name)
        labels = rng.integers(0, 4, size=5)
        yield row_case(loss, name, "basic", f"5 rows of 4 classes away from every kink, reduction {reduction}",
                        _scores(rng, 5, 4, labels), _targets(loss, labels, 4), reduction, rng,
                        flags=("Basic", "Reduction"))
    rng = _rng(loss, "zero_cotangent")
    labels = rng.integers(0, 3, size=3)
    yield row_case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                    _scores(rng, 3, 3, labels), _targets(loss, labels, 3), "none", rng, cotangent=np.zeros(3),
                    flags=("ZeroCotangent",))
    rng = _rng(loss, "edge")
    label = np.array(1)
    yield row_case(loss, "unbatched_none", "edge", "input (C,) and its one target: one loss, a scalar",
                    _scores(rng, 1, 3, [1])[0], _targets(loss, label, 3), "none", rng, flags=("Shape",))
    yield row_case(loss, "single_class_mean", "edge", "C = 1: no other class, so the loss is max(0, 1 + 0 - x_y) "
                    "for Keras (its max sees the target's 0) and 0 for optax (max_c v_c = x_y)",
                    np.array([[0.5], [-2.0], [3.0]]), _targets(loss, np.zeros(3, dtype=np.int64), 1), "mean", rng,
                    flags=("SingleClass",))
    empty_target = np.zeros((0, 3)) if loss == "categorical_hinge_loss" else np.zeros(0, dtype=np.int64)
    yield from empty_cases(row_case, loss, rng, np.zeros((0, 3)), empty_target, "empty_batch")
    # The kinks, each alone (two kinks met at one point would have products of one-sided slopes, no one midpoint).
    if loss == "categorical_hinge_loss":
        x = np.array([[0.5, -2.0, 1.5], [1.0, 1.0, 1.5], [0.0, -2.0, 0.5]])
        yield row_case(loss, "at_margin_none", "edge", "the row meets the margin exactly (1 + 0.5 - 1.5 = 0): half "
                        "the slope (as JAX's maximum), any value between the one-sided slopes accepted",
                        x[:1], _one_hot([2], 3), "none", rng, flags=("AtKink",))
        yield row_case(loss, "at_tie_none", "edge", "ties in the max: two other classes at 1 (z = 0.5), and an "
                        "other class at 0 tied with the target's own product 0 (z = 0.5): the tied entries share "
                        "the slope equally (as JAX's max), in the scores and in the targets", x[1:],
                        _one_hot([2, 2], 3), "none", rng, flags=("AtKink",))
        yield row_case(loss, "negative_others_none", "basic", "all other scores negative: Keras's max over "
                        "(1 - t) x sees the target's 0, so n = 0 and the loss is max(0, 1 - x_y), not "
                        "max(0, 1 + max_{c != y} x_c - x_y)", np.array([[-1.0, -2.0, 0.5], [-0.25, 0.75, -3.0]]),
                        _one_hot([2, 1], 3), "none", rng, flags=("Basic", "Convention"))
        rng = _rng(loss, "soft")
        yield row_case(loss, "soft_targets_mean", "basic", "soft target rows (multiples of 1/8), which Keras's "
                        "formula accepts as they are: both inputs get gradients", _scores(rng, 4, 3, [0, 1, 2, 0]),
                        rng.integers(0, 9, size=(4, 3)) / 8, "mean", rng, flags=("ProbabilityTargets",))
    else:
        x = np.array([[0.5, 2.0, 3.0], [1.5, 0.5, 0.5], [4.0, 3.0, 3.0]])
        yield row_case(loss, "at_margin_none", "edge", "x_y = 1 + max_{c != y} x_c exactly (3 = 1 + 2): the target's "
                        "own v_y = x_y ties with the best other class, and the two share the slope (as optax)",
                        x[:1], np.array([2]), "none", rng, flags=("AtKink",))
        yield row_case(loss, "at_tie_none", "edge", "two other classes tied for the maximum (0.5 and 0.5 with the "
                        "target 1.5; 3 and 3 with the target 4): they share the slope equally", x[1:],
                        np.array([0, 0]), "none", rng, flags=("AtKink",))
        yield row_case(loss, "label_out_of_range", "invalid", "class index 3 with C = 3", np.zeros((2, 3)),
                        np.array([0, 3]), "mean", rng, cotangent=np.float64(1.0), flags=("InvalidInput",),
                        error="label_out_of_range")
    for reduction in ("none", "mean"):
        name = f"nondyadic_{reduction}"
        rng = _rng(loss, name)
        labels = rng.integers(0, 4, size=4)
        x = nondyadic_values(rng, (4, 4), -2.0, 2.0)
        x[0] = [0.1, 1 / 3, -2.7, 0.7]
        yield row_case(loss, name, "accuracy", "non-dyadic scores (0.1, 1/3, random 53-bit values): the sums "
                        "1 + n - p and x_c + 1 round", x, _targets(loss, labels, 4), reduction, rng,
                        cotangent=float64_cotangent(rng, (4,), reduction), dtypes=FLOAT64_ONLY,
                        flags=("NonDyadic", "Reduction"))
    rng = _rng(loss, "nonfinite")
    yield row_case(loss, "nan_score_none", "nonfinite", "a NaN score makes its row's loss and gradients NaN",
                    np.array([[np.nan, 1.0, 0.5], [0.5, -1.0, 2.0]]), _targets(loss, np.array([0, 2]), 3), "none",
                    rng, flags=("NaNInput",))
    rng = _rng(loss, "invalid")
    yield row_case(loss, "unknown_reduction", "invalid", "reduction 'avg' is not one of none, mean, sum",
                    np.zeros((2, 3)), _targets(loss, np.array([0, 1]), 3), "avg", rng, cotangent=np.float64(1.0),
                    flags=("InvalidInput",), error="invalid_reduction")
    yield row_case(loss, "three_dimensional_input", "invalid", "input (2, 3, 2): one row of classes per sample only",
                    np.zeros((2, 3, 2)), np.zeros((2, 3, 2)) if loss == "categorical_hinge_loss" else
                    np.zeros((2, 2), dtype=np.int64), "mean", rng, cotangent=np.float64(1.0),
                    flags=("InvalidInput", "ShapeMismatch"), error="shape_mismatch")
