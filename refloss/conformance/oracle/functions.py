"""Oracles of the box functions that are not losses: row functions (box conversions, areas, coders), pairwise
matrices (box_iou and friends) and selections (NMS).

A row function maps, at each index of the inputs' broadcast leading shape, one row of every input (a box's 4
numbers, a grid cell's 2) to an output row or number; its formula is written once over a namespace (see
:mod:`refloss.conformance.oracle.boxes`): over :data:`EXACT` it is the textbook formula in mpmath, whose
derivatives ``mpmath.diff`` takes (one-sided at a declared kink), and over :data:`STANDARD` it carries
forward-mode derivatives with running error bounds (the policy_v2 scales; its exact derivatives must agree with the
numerical ones to 30 digits). The VJP's expectation contracts those derivatives with the case's cotangent, summed
over the rows that share a broadcast input row. A pairwise oracle gives each entry of an N x M matrix from one row
of each input; a selection oracle computes its integer answer exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.boxes import EXACT, STANDARD, Dual
from refloss.conformance.oracle.evaluate import (DIGITS, Expectation, Tensor, agree, coordinate_gaps, numerical_slope,
                                                 sample_digits)

__all__ = ["PairwiseOracle", "RowOracle", "Selection", "SelectionOracle", "evaluate_pairwise", "evaluate_rows",
           "evaluate_selection"]


@dataclass(frozen=True)
class RowOracle:
    """``formula(M, rows, params)``: rows maps each input's name to its row (a list); returns a list (an output row)
    or one number. ``at_kink(rows, name, k, params)``: entry k of input ``name``'s row sits on a kink.
    ``output_size``: the length of the output row (None: one number), the output's shape when there are no rows."""

    formula: Callable
    at_kink: Callable = lambda rows, name, k, params: False
    output_size: int | None = None


@dataclass(frozen=True)
class PairwiseOracle:
    """``formula(M, row1, row2, params)``: entry (n, m) of an N x M matrix, from row n of the first input and row
    m of the second. No gradient."""

    formula: Callable


@dataclass(frozen=True)
class SelectionOracle:
    """``select(inputs, params)``: the integer answer (a list of ints) computed exactly; inputs are object arrays
    of mpmath numbers, integer inputs arrays of Python ints. No gradient."""

    select: Callable


@dataclass
class Selection:
    """The expectation of a selection: its integer answer."""

    indices: list


def _params(params: dict[str, Any]) -> dict[str, Any]:
    """Numbers as mpf, tuples and arrays as lists of mpf, strings and None as they are."""
    def convert(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (tuple, list, np.ndarray)):
            return [convert(v) for v in np.asarray(value).tolist()]
        return mpf(float(value)) if not isinstance(value, (int, np.integer)) else mpf(int(value))
    return {name: convert(value) for name, value in params.items()}


def _exact_array(array: np.ndarray) -> np.ndarray:
    """Object array of mpf (floats) or Python ints (integer inputs)."""
    convert = int if array.dtype.kind in "iu" else (lambda v: mpf(float(v)))
    return np.array([convert(v) for v in array.ravel()], dtype=object).reshape(array.shape)


# ---- row functions ---------------------------------------------------------------------------------------------

def evaluate_rows(oracle: RowOracle, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: Any,
                  cotangent: np.ndarray | None, conventions: tuple[str, ...] = (),
                  differentiable: tuple[str, ...] | None = None) -> Expectation:
    """The exact output and the VJP w.r.t. the ``differentiable`` inputs, with per-entry scales."""
    differentiable = tuple(differentiable or ())
    with mpmath.workdps(DIGITS):
        params = _params(params)
        exact_inputs = {name: _exact_array(a) for name, a in inputs.items()}
        leading = np.broadcast_shapes(*(a.shape[:-1] for a in inputs.values()))
        slots = [(name, k) for name in differentiable for k in range(inputs[name].shape[-1])]
        values, scales, grads = [], [], {name: {} for name in differentiable}
        row_shape: tuple[int, ...] | None = None
        cotangents = None if cotangent is None else np.asarray(cotangent, dtype=np.float64)
        for index in np.ndindex(leading):
            rows, owners = {}, {}
            for name, array in exact_inputs.items():
                owner = tuple(i if s != 1 else 0 for i, s in zip(index[len(index) - (array.ndim - 1):],
                                                                  array.shape[:-1]))
                rows[name], owners[name] = list(array[owner]), owner
            digits = sample_digits([v for row in rows.values() for v in row] +
                                   [v for v in params.values() if isinstance(v, mpf)])
            with mpmath.workdps(digits):  # (row by row: an extreme row costs only itself)
                exact = oracle.formula(EXACT, rows, params)
                outputs = exact if isinstance(exact, list) else [exact]
                row_shape = (len(outputs),) if isinstance(exact, list) else ()
                bad = any(isinstance(v, mpf) and mpmath.isnan(v) for row in rows.values() for v in row)
                seeded = {name: [Dual(v, [r.exact(1 if (name, k) == slot else 0) for slot in slots])
                                 if (name, k) in slots else Dual(v) if isinstance(v, mpf) else v
                                 for k, v in enumerate(row)] for name, row in rows.items()}
                standard = None if bad else oracle.formula(STANDARD, seeded, params)
                standard = standard if isinstance(standard, list) or standard is None else [standard]
                for j, value in enumerate(outputs):
                    values.append(value)
                    if standard is None or not mpmath.isfinite(value):
                        scales.append(mpf(0))
                        continue
                    agree(standard[j].value, [value], f"output {j}", tuple(v for row in rows.values() for v in row
                                                                          if isinstance(v, mpf)))
                    scales.append(standard[j].value.err)
                if cotangents is None:
                    continue
                g = cotangents[index] if cotangents.ndim else cotangents
                for slot_number, (name, k) in enumerate(slots):
                    key = owners[name] + (k,)
                    entry = grads[name].setdefault(key, [mpf(0), mpf(0), mpf(0), r.exact(0)])
                    for j, value in enumerate(outputs):
                        factor = mpf(float(np.ravel(g)[j] if row_shape else g))
                        if bad:
                            entry[0] = entry[1] = entry[2] = mpmath.nan
                            continue
                        d = standard[j].d[slot_number] if standard[j].d else r.exact(0)
                        lo, hi, mid = _derivative(oracle, rows, params, name, k, j, d)
                        entry[0] += factor * mid
                        entry[1] += min(factor * lo, factor * hi)
                        entry[2] += max(factor * lo, factor * hi)
                        entry[3] = entry[3] + d * factor
        if row_shape is None:  # no rows: the declared row length
            row_shape = () if oracle.output_size is None else (oracle.output_size,)
        shape = leading + row_shape
        expectation_grads = {}
        for name in differentiable:
            flat = [grads[name].get(index, [mpf(0), mpf(0), mpf(0), r.exact(0)])
                    for index in np.ndindex(inputs[name].shape)]
            exact = [e[0] for e in flat]
            lows, highs = [e[1] for e in flat], [e[2] for e in flat]
            ambiguous = any(a != b for a, b in zip(lows, highs))
            expectation_grads[name] = Tensor(inputs[name].shape, exact, lows if ambiguous else None,
                                             highs if ambiguous else None,
                                             [e[3].err if mpmath.isfinite(e[0]) else mpf(0) for e in flat])
        return Expectation(Tensor(shape, values, scale=scales), expectation_grads)


def _derivative(oracle: RowOracle, rows: dict, params: dict, name: str, k: int, j: int,
                analytic: r.Bound) -> tuple[mpf, mpf, mpf]:
    """(left, right, accepted) derivative of output j w.r.t. entry k of input ``name``'s row: one-sided at a kink
    (the accepted value is then their midpoint), else the analytic one once it agrees with ``mpmath.diff``."""
    def along(t: mpf) -> mpf:
        moved = {n: list(row) for n, row in rows.items()}
        moved[name][k] = t
        result = oracle.formula(EXACT, moved, params)
        return result[j] if isinstance(result, list) else result

    at, gaps = rows[name][k], coordinate_gaps(rows, name, k, params.get("eps") or mpf(0))
    if oracle.at_kink(rows, name, k, params):
        left, right = (numerical_slope(along, at, gaps, side) for side in (-1, 1))
        return left, right, (left + right) / 2
    numerical = numerical_slope(along, at, gaps)
    agree(analytic, [numerical], f"derivative of output {j} w.r.t. {name}[{k}]",
          tuple(v for row in rows.values() for v in row if isinstance(v, mpf)))
    return analytic.value, analytic.value, analytic.value


# ---- pairwise matrices -----------------------------------------------------------------------------------------

def evaluate_pairwise(oracle: PairwiseOracle, inputs: dict[str, np.ndarray], params: dict[str, Any], reduction: Any,
                      cotangent: Any = None, conventions: tuple[str, ...] = (),
                      differentiable: tuple[str, ...] | None = None) -> Expectation:
    """The exact N x M matrix, each entry with the error bound of the standard algorithm; no gradients."""
    (_, first), (_, second) = inputs.items()
    with mpmath.workdps(DIGITS):
        params = _params(params)
        rows1, rows2 = _exact_array(first), _exact_array(second)
        values, scales = [], []
        for n in range(first.shape[0]):
            for m in range(second.shape[0]):
                p, g = list(rows1[n]), list(rows2[m])
                value = oracle.formula(EXACT, p, g, params)
                values.append(value)
                if not mpmath.isfinite(value):
                    scales.append(mpf(0))
                    continue
                standard = oracle.formula(STANDARD, [Dual(v) for v in p], [Dual(v) for v in g], params)
                agree(standard.value, [value], f"entry ({n}, {m})", tuple(p + g))
                scales.append(standard.value.err)
        return Expectation(Tensor((first.shape[0], second.shape[0]), values, scale=scales), {})


# ---- selections ------------------------------------------------------------------------------------------------

def evaluate_selection(oracle: SelectionOracle, inputs: dict[str, np.ndarray], params: dict[str, Any],
                       reduction: Any = None, cotangent: Any = None, conventions: tuple[str, ...] = (),
                       differentiable: tuple[str, ...] | None = None) -> Selection:
    """The exact integer answer."""
    with mpmath.workdps(DIGITS):
        return Selection([int(i) for i in oracle.select({n: _exact_array(a) for n, a in inputs.items()},
                                                        _params(params))])
