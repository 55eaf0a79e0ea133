"""Cases for the regression losses, driven by each loss's registry record (its parameters and their grids)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss._registry import get, names
from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng as _rng, cases_for, empty_cases,
                                      float64_cotangent, grid_values, nondyadic_values)
from refloss.conformance.cases import two_input_case as _case

REGRESSION = [n for n in names() if get(n).family == "regression"]
REGRESSION = [n for n in REGRESSION if n not in ("poisson_nll_loss", "gaussian_nll_loss")]  # (cases/poisson.py)


def _has_weight(loss: str) -> bool:
    return any(p.name == "weight" for p in get(loss).params)


def _scalar_params(loss: str) -> list:
    return [p for p in get(loss).params if p.kind == "scalar"]


@cases_for(*REGRESSION)
def basic_cases(loss: str) -> Iterator[VectorCase]:
    """Every reduction on several shapes; every grid value of every parameter; weights; a zero cotangent."""
    for shape in [(), (6,), (2, 3), (2, 1, 3)]:
        for reduction in ("none", "sum", "mean"):
            name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = _rng(loss, name)
            x, y = grid_values(rng, shape), grid_values(rng, shape)
            yield _case(loss, name, "basic", f"random grid values, shape {shape}, reduction {reduction}", x, y,
                        reduction, rng, flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    for param in _scalar_params(loss):
        for value in param.grid:
            if value == param.default:
                continue
            for reduction in ("none", "mean"):
                name = f"{param.name}{value:g}_{reduction}"
                rng = _rng(loss, name)
                x, y = grid_values(rng, (8,)), grid_values(rng, (8,))
                yield _case(loss, name, "basic", f"{param.name} = {value:g}, reduction {reduction}", x, y,
                            reduction, rng, params={param.name: value}, flags=("ParameterGrid",))
    if _has_weight(loss):
        for reduction in ("none", "sum", "mean"):
            name = f"weighted_{reduction}"
            rng = _rng(loss, name)
            x, y = grid_values(rng, (2, 4)), grid_values(rng, (2, 4))
            weight = grid_values(rng, (2, 4), low=0, high=96)  # includes zero weights
            weight[0, 0] = 0.0
            yield _case(loss, name, "basic", f"elementwise weight with a zero entry, reduction {reduction}", x, y,
                        reduction, rng, params={"weight": weight}, flags=("Weighted", "Reduction"))
    for reduction in ("none", "mean"):
        name = f"zero_cotangent_{reduction}"
        rng = _rng(loss, name)
        x, y = grid_values(rng, (5,)), grid_values(rng, (5,))
        yield _case(loss, name, "basic", "grad_output = 0 must give zero gradients", x, y, reduction, rng,
                    cotangent=np.zeros((5,) if reduction == "none" else ()), flags=("ZeroCotangent",))


@cases_for(*REGRESSION)
def edge_cases(loss: str) -> Iterator[VectorCase]:
    """Zero residuals, residuals exactly at branch points, single and empty inputs, overflow and underflow."""
    rng = _rng(loss, "edge")
    x = np.array([0.0, 1.5, -2.25, 0.5])
    yield _case(loss, "zero_residual_none", "edge", "input == target everywhere: loss 0, gradient 0 (sign(0) = 0) "
                "or anything within the subgradient interval", x, x.copy(), "none", rng, flags=("ZeroResidual",))
    for param in _scalar_params(loss):
        if param.name not in ("beta", "delta"):
            continue
        for value in [v for v in param.grid if v > 0]:
            kink_x = np.array([value, -value, value + 2.0, 0.25])
            yield _case(loss, f"at_{param.name}{value:g}_none", "edge",
                        f"|d| exactly {param.name} = {value:g} for the first two elements", kink_x, np.array(
                            [0.0, 0.0, 2.0, 0.0]), "none", rng, params={param.name: value}, flags=("AtKink",))
    if loss == "smooth_l1_loss":
        for reduction in ("none", "mean"):
            yield _case(loss, f"beta0_zero_residual_{reduction}", "edge", "beta = 0 is L1: d = 0 exactly in the first "
                        "two elements, the kink of |d| declared for beta = 0 (gradient 0 as sign(0) = 0; any value "
                        "between the one-sided slopes -1 and 1 is accepted)", np.array([0.5, -1.25, 3.0, 0.0]),
                        np.array([0.5, -1.25, 2.0, 0.75]), reduction, rng, params={"beta": 0.0},
                        flags=("AtKink", "ZeroResidual"))
    if loss == "balanced_l1_loss":
        yield _case(loss, "zero_residual_beta0.5_none", "edge", "d = 0 exactly with beta = 0.5, where the one-sided "
                    "slopes are -+2 alpha (1/beta - 1) = -+0.5 (the gradient jumps; for the default beta = 1 it does "
                    "not): sign(0) = 0 gives 0", np.array([0.5, -1.25, 0.25, 0.0]), np.array([0.5, -1.25, 0.0, 1.0]),
                    "none", rng, params={"beta": 0.5}, flags=("AtKink", "ZeroResidual"))
    yield _case(loss, "single_element_mean", "edge", "mean over one element", np.array([1.75]), np.array([-0.5]),
                "mean", rng, flags=("SingleElement", "Reduction"))
    for shape in [(0,), (2, 0)]:
        yield from empty_cases(_case, loss, rng, np.zeros(shape), np.zeros(shape), f"empty{'x'.join(map(str, shape))}")
    # 300^2 = 90000 > 65504 = float16 max; 300 has 7 significant bits, so it is exact in bfloat16 and float16.
    yield _case(loss, "float16_overflow_none", "edge", "residual 300: a square overflows float16 but not bfloat16",
                np.array([300.0, -0.5]), np.array([0.0, 0.0]), "none", rng, flags=("Float16Overflow",))
    huge = np.array([1e150, -1e200, 1e300, 3.5])
    yield _case(loss, "huge_none", "edge", "residuals of 1e150 to 1e300 (float64 only)", huge, np.zeros(4), "none",
                rng, dtypes=FLOAT64_ONLY, flags=("HugeMagnitude",))
    tiny = np.array([1e-10, -1e-150, 1e-300, 5e-324])
    yield _case(loss, "tiny_none", "edge", "residuals of 1e-10 down to the smallest subnormal (float64 only)",
                tiny, np.zeros(4), "none", rng, dtypes=FLOAT64_ONLY, flags=("TinyMagnitude", "Subnormal"))
    # Thousands of subnormal spacings each: the tolerance allows an underflowing result 2 spacings of absolute
    # error, so flushing these to zero (-ffast-math, DAZ/FTZ) fails, while 5e-324 above cannot tell.
    subnormal = np.array([2.5e-310, -1e-315, 4.9e-321])
    yield _case(loss, "subnormal_none", "edge", "subnormal residuals far above the smallest one (float64 only): "
                "flush-to-zero arithmetic returns 0 for the loss or the gradient", subnormal, np.zeros(3), "none",
                rng, dtypes=FLOAT64_ONLY, flags=("Subnormal",))
    if _has_weight(loss):
        zeros = np.zeros(3)
        yield _case(loss, "weights_sum_to_zero_mean", "edge", "all weights 0, reduction mean", np.array(
            [1.0, 2.0, -3.0]), zeros.copy(), "mean", rng, params={"weight": zeros}, flags=("WeightsSumToZero",))


# What each loss's cancellation-prone naive formula does on residuals d = x - y that are tiny but exact.
_NAIVE_AT_TINY_RESIDUALS = {
    "l1_loss": "L1 has no cancelling formula beyond x - y itself, which is exact here: the loss must be |d| exactly "
               "and the gradient +-1",
    "mse_loss": "the expanded square x^2 - 2 x y + y^2 returns 0 or rounding noise (-8.9e-16 for -2.7 + ulp "
                "against -2.7) instead of d^2",
    "smooth_l1_loss": "the expanded square in 0.5 (x^2 - 2 x y + y^2) / beta returns 0 or rounding noise instead "
                      "of d^2",
    "huber_loss": "the expanded square in 0.5 (x^2 - 2 x y + y^2) returns 0 or rounding noise instead of d^2",
    "log_cosh_loss": "log(cosh(d)) returns exactly 0, since cosh(d) = 1 + d^2/2 rounds to 1 for |d| < 1.49e-8",
    "balanced_l1_loss": "the direct form alpha/b (b u + 1) log(b u + 1) - alpha u (beta = 1) cancels: its terms are "
                        "about u while the result is about alpha b u^2 / 2, so it is 3% off at u = 1e-9 and pure "
                        "noise (2e-18 for 5e-24) at 1e-12",
}


# balanced_l1 near d = 0 (alpha 0.5, gamma 1.5, b = e^3 - 1), for beta = 1 and for a beta where the gradient jumps.
_BALANCED_NEAR_ZERO = {
    1.0: "the direct form alpha/b (b u + 1) log(b u + 1) - alpha u cancels (terms about u, result about alpha b u^2 "
         "/ 2): 3% off at 1e-9, noise at 1e-12, negative at 1e-20; the gradient as alpha log(b u + 1) is 5e-6 "
         "relative off at 1e-12 and 0 at 1e-20",
    0.3: "the result is about alpha (1/beta - 1) u, but the direct form with log(b u / beta + 1) instead of log1p "
         "is 3e-7 relative off at 1e-12 and has the wrong sign at 1e-20; the gradient is near its one-sided limit "
         "+-alpha (1/beta - 1)",
}


def _params_with_branch_point(loss: str) -> list:
    return [p for p in _scalar_params(loss) if p.name in ("beta", "delta")]


@cases_for(*REGRESSION)
def accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64 only: non-dyadic inputs (0.1, 1/3, random 53-bit values), tiny exact residuals of nearly equal
    inputs, non-dyadic weights, residuals one or two ulps either side of beta or delta, and the loss's own
    cancellation-prone arguments (log_cosh, balanced_l1). Residuals of 1e-9 next to 1e9: mixed_magnitude_cases."""
    for reduction in ("none", "sum", "mean"):
        name = f"nondyadic_{reduction}"
        rng = _rng(loss, name)
        x = np.concatenate([[0.1, 0.7, -2.7, 1 / 3], nondyadic_values(rng, (6,))])
        y = np.concatenate([[0.3, 0.2, 0.1, -0.1], nondyadic_values(rng, (6,))])
        yield _case(loss, name, "accuracy", "non-dyadic inputs (0.1 - 0.3, 1/3, -2.7 and random 53-bit values): x - y "
                    "and every later operation round, so an intermediate kept in float32 or a rearranged formula "
                    "that drops low bits is visible here, unlike on the n/32 grid", x, y, reduction, rng,
                    cotangent=float64_cotangent(rng, (10,), reduction), dtypes=FLOAT64_ONLY,
                    flags=("NonDyadic", "Reduction"))
    # x and y agree to 7 to 16 digits, so d = x - y is exact (Sterbenz) and tiny: 5.55e-17, 4.44e-16, 1.00e-9,
    # 3.33e-12, 3.00e-6.
    rng = _rng(loss, "cancelling_inputs")
    x = np.array([0.1 + 0.2, np.nextafter(-2.7, 0.0), 0.1 + 1e-9, 1 / 3, 2.5 + 3e-6])
    y = np.array([0.3, -2.7, 0.1, 0.33333333333, 2.5])
    yield _case(loss, "cancelling_inputs_none", "accuracy", "nearly equal x and y (0.1 + 0.2 against 0.3, 1/3 "
                f"against 0.33333333333): d = x - y is tiny and exact; {_NAIVE_AT_TINY_RESIDUALS[loss]}", x, y,
                "none", rng, cotangent=float64_cotangent(rng, (5,), "none"), dtypes=FLOAT64_ONLY,
                flags=("NonDyadic", "Cancellation"))
    if _has_weight(loss):
        for reduction in ("sum", "mean"):
            name = f"nondyadic_weighted_{reduction}"
            rng = _rng(loss, name)
            weight = np.concatenate([[0.1, 1 / 3], nondyadic_values(rng, (6,), 0.0, 2.0)])
            yield _case(loss, name, "accuracy", "non-dyadic weights (0.1, 1/3, random): the weighted sum and the "
                        "mean's divisor (the weight sum for l1 and mse, the count for huber) round; a divisor "
                        "formed in float32 or from the wrong terms shows", nondyadic_values(rng, (8,)),
                        nondyadic_values(rng, (8,)), reduction, rng, cotangent=float64_cotangent(rng, (8,), reduction),
                        params={"weight": weight}, dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Weighted", "Reduction"))
    for param in _params_with_branch_point(loss):
        for value in (1.0, 0.1):
            name = f"near_{param.name}{value:g}_none"
            rng = _rng(loss, name)
            inside, outside = np.nextafter(value, 0.0), np.nextafter(value, np.inf)
            inside2, outside2 = np.nextafter(inside, 0.0), np.nextafter(outside, np.inf)
            x = np.array([inside, outside, inside2, outside2, 0.0, 0.0])
            y = np.array([0.0, 0.0, 0.0, 0.0, inside, outside])
            jump = loss == "balanced_l1_loss" and value != 1.0
            consequence = ("the gradient jumps there (beta != 1), so a branch decided on a rounded quantity "
                           "(d * d < beta * beta, |d| / beta < 1) is off by O(1)" if jump else
                           "the value and gradient are continuous there, so both branches' formulas must agree to "
                           "a few ulps at the boundary")
            yield _case(loss, name, "accuracy", f"|d| one and two ulps inside and outside {param.name} = {value:g} "
                        f"(also d < 0, via the target): {consequence}", x, y, "none", rng,
                        cotangent=float64_cotangent(rng, (6,), "none"), params={param.name: value},
                        dtypes=FLOAT64_ONLY, flags=("NonDyadic", "NearKink"))
    if loss == "log_cosh_loss":
        rng = _rng(loss, "small_residuals")
        yield _case(loss, "small_residuals_none", "accuracy", "d = 1e-8, -1e-3, 3e-5, 0.1: log(cosh(d)) is 0 at "
                    "1e-8 (cosh rounds to 1), 8e-8 relative off at 3e-5 and 1.5e-10 at 1e-3 (cosh(d) - 1 is formed "
                    "with an absolute error of 1e-16)", np.array([1e-8, -1e-3, 3e-5, 0.1]), np.zeros(4), "none", rng,
                    cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                    flags=("NonDyadic", "Cancellation", "TinyMagnitude"))
        rng = _rng(loss, "overflowing_cosh")
        yield _case(loss, "overflowing_cosh_none", "accuracy", "d = 30, -800, 710.5, 30.7: cosh overflows from "
                    "|d| = 710.48 on, so log(cosh(d)) is inf and tanh as sinh/cosh is inf/inf = NaN where the loss is "
                    "|d| - log 2 + log1p(e^-2|d|) and the gradient +-1", np.array([30.0, -800.0, 710.5, 30.7]),
                    np.zeros(4), "none", rng, cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                    flags=("NonDyadic", "IntermediateOverflow"))
    if loss == "balanced_l1_loss":
        for beta, naive in _BALANCED_NEAR_ZERO.items():
            name = f"near_zero_beta{beta:g}_none"
            rng = _rng(loss, name)
            u = np.array([1e-9, -1e-12, 3e-5, 1e-20, -0.01, 1e-7])
            yield _case(loss, name, "accuracy", f"|d| from 1e-20 to 1e-2 with beta = {beta:g}: {naive}", u,
                        np.zeros(6), "none", rng, cotangent=float64_cotangent(rng, (6,), "none"),
                        params={"beta": beta}, dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Cancellation",
                                                                           "TinyMagnitude"))


# The generator's central-difference cross-check works in float64 on the whole projected sum with a step of
# 1e-6 max(1, |x|): next to a loss term of 1e18 (mse of d = 1e9) or 1e9 it cannot resolve the gradient of a 1e-9
# residual, and at x = 1e9 its step of 1e3 is far wider than the scale on which these losses vary (and straddles
# |d| = beta). The float64 reference agrees with the oracle to within 4 ulps per entry on these cases; l1 and
# balanced_l1 are generated because their kink at d = 0 makes the generator skip the difference check there.

def mixed_magnitude_cases(loss: str) -> Iterator[VectorCase]:
    """Residuals of 1e-9 next to 1e9 in one tensor (float64 only)."""
    # Residuals 1e9, 1e-9, -1e9, ~1e-9 (exact: x and y within a factor 2), 1.19e-7 (exact: 1e9 + ulp and 1e9), 3e8.
    x = np.array([1e9, 1e-9, -1e9, 0.1 + 1e-9, np.nextafter(1e9, np.inf), 3e8 + 0.7])
    y = np.array([0.3, 0.0, 0.7, 0.1, 1e9, 0.0])
    for reduction in ("none", "mean"):
        name = f"mixed_magnitude_{reduction}"
        rng = _rng(loss, name)
        yield _case(loss, name, "accuracy", "residuals of 1e-9 next to 1e9 in one tensor: each entry must be right "
                    "on its own scale; an absolute error set by the largest entry (a per-tensor tolerance, or a "
                    "formula such as x^2 - 2 x y + y^2 whose rounding grows with |x|: at x = 1e9 + ulp, y = 1e9 it "
                    "returns a multiple of 128 instead of 1.4e-14) would let the small entries be 0 or noise", x, y,
                    reduction, rng, cotangent=float64_cotangent(rng, (6,), reduction), dtypes=FLOAT64_ONLY,
                    flags=("NonDyadic", "MixedMagnitude"))


cases_for(*REGRESSION)(mixed_magnitude_cases)


@cases_for(*REGRESSION)
def nonfinite_cases(loss: str) -> Iterator[VectorCase]:
    """NaN and infinite inputs propagate into the loss and the gradients."""
    rng = _rng(loss, "nonfinite")
    l1_like = loss == "l1_loss"
    x = np.array([np.nan, 1.0, np.inf, -np.inf, 2.0])
    y = np.array([0.0, np.nan, 0.0, 1.0, 0.5])
    yield _case(loss, "nan_inf_none", "nonfinite", "NaN residuals give NaN; infinite residuals give inf and the "
                "limit of the slope", x, y, "none", rng, flags=("NaNInput", "InfInput") + (
                    ("Convention",) if l1_like else ()), alternatives=("sign-of-nan-is-zero",) if l1_like else ())
    yield _case(loss, "nan_mean", "nonfinite", "one NaN makes the mean NaN", np.array([np.nan, 1.0]),
                np.array([0.0, 0.0]), "mean", rng, flags=("NaNInput", "Reduction") + (
                    ("Convention",) if l1_like else ()), alternatives=("sign-of-nan-is-zero",) if l1_like else ())
    if any(p.name == "beta" for p in get(loss).params) and loss == "smooth_l1_loss":
        yield _case(loss, "nan_beta0_none", "nonfinite", "beta = 0 is L1: NaN residual, NaN gradient",
                    np.array([np.nan, 1.0]), np.array([0.0, 0.0]), "none", rng, params={"beta": 0.0},
                    flags=("NaNInput", "Convention"), alternatives=("sign-of-nan-is-zero",))


@cases_for(*REGRESSION)
def invalid_cases(loss: str) -> Iterator[VectorCase]:
    """Calls that must raise: mismatched shapes, out-of-domain parameters, unknown reduction, bad weights."""
    rng = _rng(loss, "invalid")
    yield _case(loss, "column_vs_vector", "invalid", "(3, 1) against (3,): PyTorch broadcasts to (3, 3)",
                np.zeros((3, 1)), np.zeros(3), "mean", rng, cotangent=np.float64(1.0),
                flags=("InvalidInput", "ShapeMismatch"), error="shape_mismatch")
    yield _case(loss, "unknown_reduction", "invalid", "reduction 'avg' is not one of none, mean, sum",
                np.zeros(2), np.zeros(2), "avg", rng, cotangent=np.float64(1.0), flags=("InvalidInput",),
                error="invalid_reduction")
    for param in _scalar_params(loss):
        low = param.domain.low
        bad = low - 1.0 if param.domain.low_closed else low  # just outside the domain
        yield _case(loss, f"{param.name}_out_of_domain", "invalid", f"{param.name} = {bad:g} is outside "
                    f"{param.domain}", np.zeros(2), np.zeros(2), "mean", rng, cotangent=np.float64(1.0),
                    params={param.name: bad}, flags=("InvalidInput",), error="invalid_parameter")
    if _has_weight(loss):
        yield _case(loss, "negative_weight", "invalid", "a negative weight", np.zeros(2), np.zeros(2), "mean", rng,
                    cotangent=np.float64(1.0), params={"weight": np.array([1.0, -0.5])}, flags=("InvalidInput",),
                    error="invalid_weight")
        yield _case(loss, "weight_shape_mismatch", "invalid", "weight of shape (3,) for input of shape (2,)",
                    np.zeros(2), np.zeros(2), "mean", rng, cotangent=np.float64(1.0),
                    params={"weight": np.ones(3)}, flags=("InvalidInput",), error="invalid_weight")


__all__ = ["accuracy_cases", "basic_cases", "edge_cases", "invalid_cases", "mixed_magnitude_cases",
           "nonfinite_cases"]
