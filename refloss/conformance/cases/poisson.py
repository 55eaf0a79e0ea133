"""Cases for the likelihood losses: poisson_nll_loss (log-rate or rate against counts) and gaussian_nll_loss (mean,
observation and variance, the variance in each of PyTorch's shapes)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng as _rng, cases_for, cotangent_for,
                                      empty_cases, float64_cotangent, grid_values, nondyadic_values)
from refloss.conformance.cases import two_input_case as _pair

__all__ = ["gaussian_cases", "gaussian_invalid_cases", "poisson_cases", "poisson_invalid_cases"]

POISSON, GAUSSIAN = "poisson_nll_loss", "gaussian_nll_loss"


def _counts(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Observed counts 0..7 and a few halves (PyTorch accepts any non-negative target): exact in every dtype."""
    return rng.integers(0, 16, size=shape) / 2


def _rates(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Rates n / 32 in [1/32, 6]: positive, exact in every dtype."""
    return grid_values(rng, shape, low=1, high=192)


@cases_for(POISSON)
def poisson_cases(loss: str) -> Iterator[VectorCase]:
    """Every reduction on several shapes in both input modes, full (Stirling) on and off, a second eps."""
    for log_input in (True, False):
        for shape in [(), (6,), (2, 3)]:
            for reduction in ("none", "sum", "mean"):
                name = f"{'log' if log_input else 'rate'}_shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
                rng = _rng(loss, name)
                x = grid_values(rng, shape, low=-64, high=64) if log_input else _rates(rng, shape)
                params = {} if log_input else {"log_input": False}
                yield _pair(loss, name, "basic", f"{'log-rates' if log_input else 'rates'} against counts, shape "
                            f"{shape}, reduction {reduction}", x, _counts(rng, shape), reduction, rng, params=params,
                            flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
        for reduction in ("none", "mean"):
            name = f"{'log' if log_input else 'rate'}_full_{reduction}"
            rng = _rng(loss, name)
            # Stirling's term where y > 1 only; y = 0 and y = 1 have their own edge cases
            y = np.array([0.25, 0.5, 1.5, 2.0, 3.0, 7.5, 12.0, 0.75])
            x = grid_values(rng, (8,), low=-64, high=64) if log_input else _rates(rng, (8,))
            yield _pair(loss, name, "basic", "full: Stirling's term y log y - y + log(2 pi y) / 2 added where y > 1, "
                        "its target gradient log y + 1 / (2 y)", x, y, reduction, rng,
                        params={"full": True, "log_input": log_input}, flags=("ParameterGrid",))
    for reduction in ("none", "mean"):
        name = f"rate_eps0.5_{reduction}"
        rng = _rng(loss, name)
        x = np.concatenate([[0.0], _rates(rng, (5,))])  # a zero rate: log(0 + eps)
        yield _pair(loss, name, "basic", "log_input=False with eps = 0.5, one rate exactly 0", x, _counts(rng, (6,)),
                    reduction, rng, params={"log_input": False, "eps": 0.5}, flags=("ParameterGrid",))
    rng = _rng(loss, "zero_cotangent")
    yield _pair(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                grid_values(rng, (5,), low=-64, high=64), _counts(rng, (5,)), "none", rng,
                cotangent=np.zeros(5), flags=("ZeroCotangent",))
    yield from _poisson_edge_cases(loss)
    yield from _poisson_accuracy_cases(loss)


def _poisson_edge_cases(loss: str) -> Iterator[VectorCase]:
    rng = _rng(loss, "edge")
    for log_input in (True, False):
        mode = "log" if log_input else "rate"
        yield _pair(loss, f"{mode}_full_at_target1_none", "edge", "target exactly 1 with full: Stirling's term is "
                    "absent (PyTorch's mask target <= 1) though it is -0.0811 just above 1, so the loss jumps there; "
                    "the target gradient is the left one, -x (or -log(x + eps)), without + 1/2",
                    np.array([0.5, -1.25, 2.0]) if log_input else np.array([0.5, 1.25, 2.0]), np.ones(3), "none",
                    rng, params={"full": True, "log_input": log_input}, flags=("AtKink",))
    yield _pair(loss, "full_target0_none", "edge", "target 0 with full: loss e^x, target gradient -x (PyTorch's "
                "is NaN: its masked Stirling term still differentiates y log y at 0)", np.array([0.5, -2.0]),
                np.zeros(2), "none", rng, params={"full": True}, flags=("Convention",))
    yield _pair(loss, "single_element_mean", "edge", "mean over one element", np.array([1.75]), np.array([3.0]),
                "mean", rng, flags=("SingleElement", "Reduction"))
    yield from empty_cases(_pair, loss, rng, np.zeros((0,)), np.zeros((0,)), "empty")
    # e^12 = 162755 > 65504 = float16 max; 12 is exact in every dtype.
    yield _pair(loss, "float16_overflow_none", "edge", "log-rate 12: e^12 = 162755 overflows float16 only",
                np.array([12.0, -0.5]), np.array([2.0, 1.0]), "none", rng, flags=("Float16Overflow",))
    yield _pair(loss, "near_overflow_none", "edge", "log-rate 709.5: e^709.5 = 1.36e308 is just below the float64 "
                "limit (from 709.79 on the loss and input gradient overflow to inf, as in PyTorch); the target "
                "gradient is -709.5", np.array([709.5, 1.0]),
                np.array([3.0, 0.0]), "none", rng, dtypes=FLOAT64_ONLY, flags=("HugeMagnitude",))
    yield _pair(loss, "tiny_rates_none", "edge", "rates 1e-300 and 0 with the default eps 1e-8: log(x + eps) is "
                "log 1e-8 and the gradient 1 - y / 1e-8 about -1e8", np.array([1e-300, 0.0, 5e-324]),
                np.array([1.0, 2.0, 0.5]), "none", rng, params={"log_input": False}, dtypes=FLOAT64_ONLY,
                flags=("TinyMagnitude", "Subnormal"))
    yield _pair(loss, "nan_none", "nonfinite", "a NaN log-rate gives a NaN loss and NaN gradients",
                np.array([np.nan, 1.0]), np.array([2.0, 1.0]), "none", rng, flags=("NaNInput",))
    yield _pair(loss, "nan_mean", "nonfinite", "one NaN makes the mean NaN", np.array([np.nan, 1.0]),
                np.array([2.0, 1.0]), "mean", rng, flags=("NaNInput", "Reduction"))


def _poisson_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    for log_input in (True, False):
        for full in (False, True):
            for reduction in ("none", "mean"):
                name = f"nondyadic_{'log' if log_input else 'rate'}{'_full' if full else ''}_{reduction}"
                rng = _rng(loss, name)
                x = nondyadic_values(rng, (8,), -3.0, 3.0) if log_input else nondyadic_values(rng, (8,), 0.0, 5.0)
                y = np.concatenate([[0.1, 1 / 3, 1.0 + 2 ** -40, 7.3], nondyadic_values(rng, (4,), 0.0, 9.0)])
                yield _pair(loss, name, "accuracy", "non-dyadic rates and counts (0.1, 1/3, 1 + 2^-40 just above the "
                            "Stirling threshold, random 53-bit values): every operation rounds", x, y, reduction,
                            rng, cotangent=float64_cotangent(rng, (8,), reduction), dtypes=FLOAT64_ONLY,
                            params={"log_input": log_input, "full": full}, flags=("NonDyadic", "Reduction"))


@cases_for(POISSON)
def poisson_invalid_cases(loss: str) -> Iterator[VectorCase]:
    """Calls that must raise: mismatched shapes, unknown reduction, negative counts or rates, negative eps."""
    rng = _rng(loss, "invalid")
    one = np.float64(1.0)
    yield _pair(loss, "column_vs_vector", "invalid", "(3, 1) against (3,): PyTorch broadcasts to (3, 3)",
                np.zeros((3, 1)), np.zeros(3), "mean", rng, cotangent=one, flags=("InvalidInput", "ShapeMismatch"),
                error="shape_mismatch")
    yield _pair(loss, "unknown_reduction", "invalid", "reduction 'avg'", np.zeros(2), np.zeros(2), "avg", rng,
                cotangent=one, flags=("InvalidInput",), error="invalid_reduction")
    yield _pair(loss, "negative_target", "invalid", "a count of -1 (PyTorch computes a meaningless loss)",
                np.zeros(2), np.array([1.0, -1.0]), "mean", rng, cotangent=one, flags=("InvalidInput",),
                error="invalid_target")
    yield _pair(loss, "negative_rate", "invalid", "a rate of -0.5 with log_input=False (PyTorch: NaN)",
                np.array([1.0, -0.5]), np.ones(2), "mean", rng, cotangent=one, params={"log_input": False},
                flags=("InvalidInput",), error="invalid_target")
    yield _pair(loss, "eps_out_of_domain", "invalid", "eps = -1 is outside [0, inf)", np.ones(2), np.ones(2),
                "mean", rng, cotangent=one, params={"log_input": False, "eps": -1.0}, flags=("InvalidInput",),
                error="invalid_parameter")


# ---- gaussian_nll_loss ------------------------------------------------------------------------------------------

def _triple(name: str, concern: str, comment: str, x: np.ndarray, y: np.ndarray, var: np.ndarray, reduction: str,
            rng: np.random.Generator, cotangent: np.ndarray | None = None, **fields) -> VectorCase:
    """A case of gaussian_nll_loss; the cotangent (of input's shape for ``none``) is drawn unless given."""
    if cotangent is None:
        cotangent = cotangent_for(rng, np.shape(x), reduction)
    inputs = {"input": np.asarray(x, float), "target": np.asarray(y, float), "var": np.asarray(var, float)}
    return VectorCase(name, concern, comment, inputs, reduction, cotangent=np.asarray(cotangent, float), **fields)


def _variances(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Variances n / 32 in [1/8, 4]: exact in every dtype."""
    return grid_values(rng, shape, low=4, high=128)


@cases_for(GAUSSIAN)
def gaussian_cases(loss: str) -> Iterator[VectorCase]:
    """Every reduction on several shapes; var in each of PyTorch's shapes; full; the clamp at eps."""
    for shape in [(), (6,), (2, 3)]:
        for reduction in ("none", "sum", "mean"):
            name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = _rng(loss, name)
            yield _triple(name, "basic", f"one variance per element, shape {shape}, reduction {reduction}",
                          grid_values(rng, shape), grid_values(rng, shape), _variances(rng, shape), reduction, rng,
                          flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    var_shapes = {"row": ((3,), "one variance per row (var one dimension short: PyTorch unsqueezes it)"),
                  "column1": ((3, 1), "var (3, 1): shared along the last dimension"),
                  "first1": ((1, 4), "var (1, 4): one dimension of size 1 that is not the last (PyTorch accepts "
                             "any single one)"),
                  "scalar": ((), "a scalar var (PyTorch's Python float) shared by every element")}
    for label, (var_shape, comment) in var_shapes.items():
        for reduction in ("none", "sum"):
            name = f"var_{label}_{reduction}"
            rng = _rng(loss, name)
            yield _triple(name, "basic", f"{comment}; its gradient sums over the elements sharing it", grid_values(
                rng, (3, 4)), grid_values(rng, (3, 4)), _variances(rng, var_shape), reduction, rng,
                flags=("Shape", "Reduction"))
    for reduction in ("none", "mean"):
        name = f"full_{reduction}"
        rng = _rng(loss, name)
        yield _triple(name, "basic", "full: the constant log(2 pi) / 2 added to every element", grid_values(
            rng, (6,)), grid_values(rng, (6,)), _variances(rng, (6,)), reduction, rng, params={"full": True},
            flags=("ParameterGrid",))
    rng = _rng(loss, "clamp_eps0.25")
    yield _triple("clamp_eps0.25_none", "basic", "eps = 0.25 with variances 0, 1/32 and 1/8 below it: the loss "
                  "uses v = 0.25, and the var gradient is (1/v - d^2/v^2) / 2 at v = 0.25, not 0 (PyTorch clamps "
                  "under no_grad: straight through)", np.array([0.5, -1.0, 2.0, 0.25]), np.array([0.0, 0.5, 1.0, 0.25]),
                  np.array([0.0, 1 / 32, 0.125, 1.0]), "none", rng, params={"eps": 0.25}, flags=("ParameterGrid",))
    rng = _rng(loss, "zero_cotangent")
    yield _triple("zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients", grid_values(rng, (5,)),
                  grid_values(rng, (5,)), _variances(rng, (5,)), "none", rng, cotangent=np.zeros(5),
                  flags=("ZeroCotangent",))
    yield from _gaussian_edge_cases(loss)
    yield from _gaussian_accuracy_cases(loss)


def _gaussian_edge_cases(loss: str) -> Iterator[VectorCase]:
    rng = _rng(loss, "edge")
    yield _triple("at_eps_none", "edge", "var exactly eps = 0.25 (where the clamp starts): the gradient is the "
                  "derivative at v = eps from either side", np.array([1.0, -0.5]), np.array([0.0, 0.0]),
                  np.array([0.25, 0.25]), "none", rng, params={"eps": 0.25}, flags=("AtKink",))
    yield _triple("zero_var_default_eps_none", "edge", "var 0 with the default eps 1e-6: loss (log 1e-6 + d^2 / "
                  "1e-6) / 2 and var gradient (1e6 - d^2 1e12) / 2 = -4.999995e11 at d = 1 (straight through the "
                  "clamp, as PyTorch)", np.array([1.0, 0.0]), np.array([0.0, 0.0]), np.zeros(2), "none", rng,
                  dtypes=FLOAT64_ONLY, flags=("TinyMagnitude",))
    yield _triple("exact_fit_none", "edge", "input == target: loss log(v) / 2, input gradient 0, var gradient "
                  "1 / (2 v)", np.array([1.5, -2.0]), np.array([1.5, -2.0]), np.array([1.0, 4.0]), "none", rng,
                  flags=("ZeroResidual",))
    yield _triple("single_element_mean", "edge", "mean over one element", np.array([1.75]), np.array([-0.5]),
                  np.array([2.0]), "mean", rng, flags=("SingleElement", "Reduction"))
    for reduction in ("none", "sum", "mean"):
        mean = reduction == "mean"
        yield _triple(f"empty_{reduction}", "edge", "no elements: sum 0, mean NaN", np.zeros((0, 2)),
                      np.zeros((0, 2)), np.zeros((0,)), reduction, rng,
                      flags=("Empty", "Reduction") + (("Convention",) if mean else ()),
                      alternatives=("empty-mean-is-zero",) if mean else ())
    yield _triple("float16_overflow_none", "edge", "residual 400 with variance 1: the loss 80000 and the var "
                  "gradient -79999.5 overflow float16 (not bfloat16)", np.array([400.0, 0.5]), np.array([0.0, 0.0]),
                  np.array([1.0, 1.0]), "none", rng, flags=("Float16Overflow",))
    yield _triple("huge_none", "edge", "residuals of 1e150 and 1e100 with variances 1, 1e-50 and 1e300 (float64 "
                  "only): d^2 / v up to 1e300, the var gradient (1 - d^2 / v) / (2 v) up to -5e299",
                  np.array([1e150, 1e100, 2.0]), np.zeros(3), np.array([1.0, 1e-50, 1e300]), "none", rng,
                  dtypes=FLOAT64_ONLY, flags=("HugeMagnitude",))
    yield _triple("inf_var_none", "nonfinite", "an infinite variance: the loss is inf, every gradient 0",
                  np.array([1.0, 0.5]), np.array([0.0, 0.0]), np.array([np.inf, 1.0]), "none", rng,
                  flags=("InfInput",))
    yield _triple("nan_none", "nonfinite", "a NaN mean, and a NaN variance: NaN losses and gradients",
                  np.array([np.nan, 1.0, 0.5]), np.array([0.0, 0.0, 0.0]), np.array([1.0, np.nan, 2.0]), "none",
                  rng, flags=("NaNInput",))
    yield _triple("nan_mean", "nonfinite", "one NaN makes the mean NaN", np.array([np.nan, 1.0]),
                  np.array([0.0, 0.0]), np.array([1.0, 1.0]), "mean", rng, flags=("NaNInput", "Reduction"))


def _gaussian_accuracy_cases(loss: str) -> Iterator[VectorCase]:
    for label, var_shape in (("elementwise", (2, 5)), ("row", (2,))):
        for reduction in ("none", "mean"):
            name = f"nondyadic_{label}_{reduction}"
            rng = _rng(loss, name)
            x = nondyadic_values(rng, (2, 5))
            y = nondyadic_values(rng, (2, 5))
            var = nondyadic_values(rng, var_shape, 0.01, 3.0)
            yield _triple(name, "accuracy", "non-dyadic means, observations and variances (one per element, or one "
                          "per row summed over it): d = x - y, d^2 / v and log v all round", x, y, var, reduction,
                          rng, cotangent=float64_cotangent(rng, (2, 5), reduction), dtypes=FLOAT64_ONLY,
                          flags=("NonDyadic", "Reduction"))
    rng = _rng(loss, "near_eps")
    eps = 0.1
    var = np.array([np.nextafter(eps, 0.0), eps, np.nextafter(eps, 1.0), 1e-300])
    yield _triple("near_eps_none", "accuracy", "var one ulp below, at and above eps = 0.1, and 1e-300: the loss is "
                  "continuous there and the var gradient, straight through the clamp, too", np.full(4, 0.7),
                  np.full(4, 0.2), var, "none", rng, cotangent=float64_cotangent(rng, (4,), "none"),
                  params={"eps": eps}, dtypes=FLOAT64_ONLY, flags=("NonDyadic", "NearKink"))


@cases_for(GAUSSIAN)
def gaussian_invalid_cases(loss: str) -> Iterator[VectorCase]:
    """Calls that must raise: shapes (target, var), unknown reduction, a negative variance, negative eps."""
    rng = _rng(loss, "invalid")
    one = np.float64(1.0)
    z = np.zeros((2, 3))
    for name, x, y, var, comment in (
            ("target_shape_mismatch", z, np.zeros((2, 1)), np.ones((2, 3)), "target (2, 1) against input (2, 3)"),
            ("var_two_dims_differ", z, z, np.ones((1, 1)), "var (1, 1) against input (2, 3): two dimensions differ"),
            ("var_wrong_size", z, z, np.ones((2, 2)), "var (2, 2) against input (2, 3)"),
            ("var_first_dim_short", z, z, np.ones(3), "var (3,) against input (2, 3): not the shape without the "
             "last dimension")):
        yield _triple(name, "invalid", comment, x, y, var, "mean", rng, cotangent=one,
                      flags=("InvalidInput", "ShapeMismatch"), error="shape_mismatch")
    yield _triple("negative_var", "invalid", "a variance of -0.5 (PyTorch raises too)", np.zeros(2), np.zeros(2),
                  np.array([1.0, -0.5]), "mean", rng, cotangent=one, flags=("InvalidInput",), error="invalid_target")
    yield _triple("unknown_reduction", "invalid", "reduction 'avg'", np.zeros(2), np.zeros(2), np.ones(2), "avg",
                  rng, cotangent=one, flags=("InvalidInput",), error="invalid_reduction")
    yield _triple("eps_out_of_domain", "invalid", "eps = -1 is outside [0, inf)", np.zeros(2), np.zeros(2),
                  np.ones(2), "mean", rng, cotangent=one, params={"eps": -1.0}, flags=("InvalidInput",),
                  error="invalid_parameter")
