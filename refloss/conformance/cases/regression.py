"""Cases for the regression losses, driven by each loss's registry record (its parameters and their grids)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss._registry import get, names
from refloss.conformance.cases import FLOAT64_ONLY, VectorCase, case_rng as _rng, cases_for, empty_cases, grid_values
from refloss.conformance.cases import two_input_case as _case

REGRESSION = [n for n in names() if get(n).family == "regression"]


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
    if _has_weight(loss):
        zeros = np.zeros(3)
        yield _case(loss, "weights_sum_to_zero_mean", "edge", "all weights 0, reduction mean", np.array(
            [1.0, 2.0, -3.0]), zeros.copy(), "mean", rng, params={"weight": zeros}, flags=("WeightsSumToZero",))


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


__all__ = ["basic_cases", "edge_cases", "invalid_cases", "nonfinite_cases"]
