"""Cases for the embedding distances and losses: ``pairwise_distance`` and ``cosine_similarity`` (rows, with a
cotangent), ``cosine_embedding_loss``, ``triplet_margin_loss`` and ``triplet_margin_with_distance_loss``: shapes
and reductions, the parameter grids, every declared kink (a distance of 0, a clamped norm, a margin met exactly, a
swap tie), zero vectors, empty batches, non-dyadic inputs, NaN and the calls that must raise."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng, cases_for, cotangent_for, grid_values,
                                      nondyadic_values)

_TRIPLETS = ("triplet_margin_loss", "triplet_margin_with_distance_loss")
_LOW_PRECISION_SAFE = ("float64", "float32")  # (a tiny squared norm, or eps = 1e-8, underflows in float16)


def _case(loss: str, name: str, concern: str, comment: str, inputs: dict[str, np.ndarray], reduction: str | None,
          rng: np.random.Generator, **fields) -> VectorCase:
    """A case with its cotangent drawn (unless given): one per output entry (a distance per row; a loss per
    sample for ``none``), else one scalar."""
    first = np.asarray(next(iter(inputs.values())), float)
    cotangent = fields.pop("cotangent", None)
    if cotangent is None:
        rows = first.shape[:-1] + ((1,) if fields.get("params", {}).get("keepdim") else ())
        cotangent = cotangent_for(rng, rows, "none" if reduction is None else reduction)
    arrays = {name: np.asarray(value) if np.asarray(value).dtype.kind == "i" else np.asarray(value, float)
              for name, value in inputs.items()}
    return VectorCase(name, concern, comment, arrays, reduction, cotangent=np.asarray(cotangent, float), **fields)


def _invalid(loss: str, name: str, comment: str, inputs: dict, error: str, reduction: str | None = "mean",
             **fields) -> VectorCase:
    """A call that must raise; its cotangent is ones of the output's shape (one per row for a distance)."""
    rows = np.shape(next(iter(inputs.values())))[:-1]
    cotangent = np.ones(rows) if reduction is None else np.float64(1.0)
    return _case(loss, name, "invalid", comment, inputs, reduction, case_rng(loss, name), cotangent=cotangent,
                 flags=("InvalidInput",) + fields.pop("flags", ()), error=error, **fields)


# ---- the distances ----------------------------------------------------------------------------------------------

@cases_for("pairwise_distance", "cosine_similarity")
def distance_cases(loss: str) -> Iterator[VectorCase]:
    """Rows of several leading shapes, the parameter grid, kinks, zero vectors, empty, non-dyadic, NaN, bad
    input. cosine_similarity's ``dim`` is always the last dimension here (the oracle's rows)."""
    cosine = loss == "cosine_similarity"
    for shape in [(5, 3), (4,), (2, 3, 2)]:
        name = f"shape{'x'.join(map(str, shape))}"
        rng = case_rng(loss, name)
        params = {"dim": len(shape) - 1} if cosine and len(shape) != 2 else {}
        yield _case(loss, name, "basic", f"random vectors on the grid, shape {shape}",
                    {"x1": grid_values(rng, shape), "x2": grid_values(rng, shape)}, None, rng, params=params,
                    flags=("Basic",) + (("Shape",) if len(shape) != 2 else ()))
    grid = [{"eps": 0.5}, {"dim": -1}] if cosine else [{"p": 1.0}, {"p": 3.0}, {"p": 1.5, "eps": 0.25},
                                                         {"eps": 0.0}, {"keepdim": True}]
    for params in grid:
        name = "_".join(f"{k}{v:g}" if not isinstance(v, bool) else k for k, v in params.items())
        rng = case_rng(loss, name)
        # (row 0 scaled by 1/32 has a norm below 0.25 sqrt 3 < eps: clamped)
        scale = np.array([[0.03125], [0.0625], [1.0], [2.0]]) if params.get("eps") == 0.5 else 1.0
        yield _case(loss, name, "basic", f"{params}" + (": some norms below eps (clamped)" if cosine and "eps" in
                                                        params else ""),
                    {"x1": grid_values(rng, (4, 3)) * scale, "x2": grid_values(rng, (4, 3))}, None, rng,
                    params=params, flags=("ParameterGrid",))
    rng = case_rng(loss, "zero_cotangent")
    yield _case(loss, "zero_cotangent", "basic", "grad_output = 0 must give zero gradients",
                {"x1": grid_values(rng, (3, 2)), "x2": grid_values(rng, (3, 2))}, None, rng, cotangent=np.zeros(3),
                flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    if cosine:
        yield _case(loss, "norm_at_eps", "edge", "||x1|| = 0.625 = eps exactly (3-4-5): the clamp's kink",
                    {"x1": np.array([[0.375, 0.5], [1.0, 2.0]]), "x2": np.array([[1.0, 0.5], [1.0, 0.5]])},
                    None, rng, params={"eps": 0.625}, flags=("AtKink",))
        yield _case(loss, "zero_vector", "edge", "a zero vector: similarity 0, its gradient x2 / (eps ||x2||)",
                    {"x1": np.array([[0.0, 0.0], [1.0, 2.0]]), "x2": np.array([[1.0, 2.0], [0.0, 0.0]])}, None,
                    rng, dtypes=_LOW_PRECISION_SAFE, flags=("AtKink",))
        yield _case(loss, "parallel_and_opposite", "edge", "similarities 1 and -1 exactly",
                    {"x1": np.array([[1.0, 2.0], [1.0, 2.0]]), "x2": np.array([[2.0, 4.0], [-0.5, -1.0]])}, None,
                    rng, flags=("Basic",))
    else:
        yield _case(loss, "equal_vectors", "edge", "x1 = x2: distance eps sqrt(D) (eps inside the norm)",
                    {"x1": np.array([[1.0, -2.0, 0.5]]), "x2": np.array([[1.0, -2.0, 0.5]])}, None, rng,
                    dtypes=_LOW_PRECISION_SAFE, flags=("ZeroResidual",))
        yield _case(loss, "zero_distance", "edge", "x1 = x2, eps = 0: distance 0, the norm's kink (gradient 0 is "
                    "accepted)", {"x1": np.array([[1.0, -2.0], [0.5, 0.5]]), "x2": np.array([[1.0, -2.0],
                                                                                           [0.0, 0.5]])},
                    None, rng, params={"eps": 0.0}, flags=("AtKink", "ZeroResidual"))
        yield _case(loss, "p1_zero_entry", "edge", "p = 1 with one difference entry exactly 0 (sign(0) = 0)",
                    {"x1": np.array([[1.0, 3.0, -1.0]]), "x2": np.array([[1.0, 0.5, 2.0]])}, None, rng,
                    params={"p": 1.0, "eps": 0.0}, flags=("AtKink",))
    yield _case(loss, "empty", "edge", "no vectors (shape (0, 3))", {"x1": np.zeros((0, 3)), "x2": np.zeros((0, 3))},
                None, rng, flags=("Empty",))
    yield _case(loss, "nondyadic", "accuracy", "non-dyadic vectors",
                {"x1": nondyadic_values(rng, (4, 3)), "x2": nondyadic_values(rng, (4, 3))}, None, rng,
                dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    yield _case(loss, "nan", "nonfinite", "a NaN entry makes its row's value and gradients NaN",
                {"x1": np.array([[np.nan, 1.0], [1.0, 2.0]]), "x2": np.array([[0.5, 1.0], [2.0, 1.0]])}, None, rng,
                flags=("NaNInput",))

    yield _invalid(loss, "shape_mismatch", "(2, 3) against (2, 2)", {"x1": np.zeros((2, 3)), "x2": np.zeros((2, 2))},
                   "shape_mismatch", reduction=None, flags=("ShapeMismatch",))
    if cosine:
        yield _invalid(loss, "eps_zero", "eps = 0", {"x1": np.ones((2, 3)), "x2": np.ones((2, 3))},
                       "invalid_parameter", reduction=None, params={"eps": 0.0})
        yield _invalid(loss, "dim_out_of_range", "dim = 2 for 2-D inputs", {"x1": np.ones((2, 3)),
                                                                             "x2": np.ones((2, 3))},
                       "invalid_parameter", reduction=None, params={"dim": 2})
    else:
        yield _invalid(loss, "p_below_one", "p = 0.5", {"x1": np.ones((2, 3)), "x2": np.ones((2, 3))},
                       "invalid_parameter", reduction=None, params={"p": 0.5})
        yield _invalid(loss, "negative_eps", "eps = -1", {"x1": np.ones((2, 3)), "x2": np.ones((2, 3))},
                       "invalid_parameter", reduction=None, params={"eps": -1.0})


# ---- cosine_embedding_loss --------------------------------------------------------------------------------------

def _labels(rng: np.random.Generator, count: int) -> np.ndarray:
    labels = rng.choice(np.array([-1, 1]), size=count)
    labels[:2] = (1, -1)  # both kinds in every batch
    return labels


@cases_for("cosine_embedding_loss")
def cosine_embedding_cases(loss: str) -> Iterator[VectorCase]:
    """Reductions on (N, D) and (D,), the margin grid, a margin met exactly, zero vectors, empty, non-dyadic, NaN
    and bad input."""
    for reduction in ("none", "sum", "mean"):
        name = f"batch_{reduction}"
        rng = case_rng(loss, name)
        yield _case(loss, name, "basic", "6 pairs of 3-vectors, labels 1 and -1",
                    {"input1": grid_values(rng, (6, 3)), "input2": grid_values(rng, (6, 3)),
                     "target": _labels(rng, 6)}, reduction, rng, flags=("Basic", "Reduction"))
    rng = case_rng(loss, "unbatched")
    yield _case(loss, "unbatched_none", "basic", "one pair of shape (D,), target ()",
                {"input1": grid_values(rng, (4,)), "input2": grid_values(rng, (4,)), "target": np.array(-1)},
                "none", rng, params={"margin": -0.5}, flags=("Basic", "Shape"))
    for margin in (-0.5, 0.5):
        for reduction in ("none", "mean"):
            name = f"margin{margin:g}_{reduction}"
            rng = case_rng(loss, name)
            yield _case(loss, name, "basic", f"margin {margin}", {"input1": grid_values(rng, (6, 3)),
                                                                  "input2": grid_values(rng, (6, 3)),
                                                                  "target": _labels(rng, 6)},
                        reduction, rng, params={"margin": margin}, flags=("ParameterGrid", "Reduction"))
    rng = case_rng(loss, "zero_cotangent")
    yield _case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                {"input1": grid_values(rng, (3, 2)), "input2": grid_values(rng, (3, 2)), "target": _labels(rng, 3)},
                "none", rng, cotangent=np.zeros(3), flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    yield _case(loss, "at_margin", "edge", "dissimilar pairs with cosine exactly 0 = margin (orthogonal): PyTorch's "
                "strict test gives gradient 0, one side of the kink", {"input1": np.array([[1.0, 0.0], [1.0, 1.0]]),
                                                                        "input2": np.array([[0.0, 2.0], [-1.0, 1.0]]),
                                                                        "target": np.array([-1, -1])},
                "none", rng, flags=("AtKink",))
    yield _case(loss, "parallel_pairs", "edge", "cosine 1 for a similar pair (loss ~0) and a dissimilar one",
                {"input1": np.array([[1.0, 2.0], [1.0, 2.0]]), "input2": np.array([[2.0, 4.0], [0.5, 1.0]]),
                 "target": np.array([1, -1])}, "none", rng, flags=("Basic",))
    yield _case(loss, "zero_vector", "edge", "a zero vector: cosine 0 (the epsilon in the squared norms), loss 1 for "
                "a similar pair; its gradient -x2 / sqrt(e (m2 + e))", {"input1": np.array([[0.0, 0.0, 0.0]]),
                                                                        "input2": np.array([[1.0, 1.0, 1.0]]),
                                                                        "target": np.array([1])},
                "sum", rng, dtypes=_LOW_PRECISION_SAFE, flags=("TinyMagnitude",))
    for reduction in ("none", "sum", "mean"):
        yield _case(loss, f"empty_{reduction}", "edge", "no pairs: sum 0, mean NaN",
                    {"input1": np.zeros((0, 3)), "input2": np.zeros((0, 3)), "target": np.zeros(0, dtype=np.int64)},
                    reduction, rng, flags=("Empty", "Reduction"))
    yield _case(loss, "nondyadic_mean", "accuracy", "non-dyadic vectors", {"input1": nondyadic_values(rng, (4, 3)),
                                                                          "input2": nondyadic_values(rng, (4, 3)),
                                                                          "target": np.array([1, -1, -1, 1])},
                "mean", rng, dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    yield _case(loss, "nan_none", "nonfinite", "a NaN entry makes its pair's loss and gradients NaN",
                {"input1": np.array([[np.nan, 1.0], [1.0, 2.0]]), "input2": np.array([[0.5, 1.0], [2.0, 1.0]]),
                 "target": np.array([1, -1])}, "none", rng, flags=("NaNInput",))

    pair = {"input1": np.ones((2, 3)), "input2": np.ones((2, 3))}
    yield _invalid(loss, "label_zero", "a label of 0 (PyTorch: loss 0)", {**pair, "target": np.array([1, 0])},
                   "invalid_target")
    yield _invalid(loss, "shape_mismatch", "(2, 3) against (2, 2)", {"input1": np.ones((2, 3)),
                                                                      "input2": np.ones((2, 2)),
                                                                      "target": np.array([1, 1])},
                   "shape_mismatch", flags=("ShapeMismatch",))
    yield _invalid(loss, "target_shape", "two pairs, one label", {**pair, "target": np.array([1])},
                   "shape_mismatch", flags=("ShapeMismatch",))
    yield _invalid(loss, "unknown_reduction", "reduction 'avg'", {**pair, "target": np.array([1, -1])},
                   "invalid_reduction", reduction="avg")


# ---- the triplet losses -----------------------------------------------------------------------------------------

def _triplet(rng: np.random.Generator, shape: tuple[int, ...], params: dict | None = None) -> dict[str, np.ndarray]:
    """Grid triplets whose hinge margin + d(a, p) - d_- is at least 1/2 from 0 (and, with swap, d(a, n) at least
    1/2 from d(p, n)): in bfloat16 a distance of 8 is only known to +-0.03, and a triplet nearer its kink than that
    may take the other branch there."""
    params = params or {}
    while True:
        triplet = {name: grid_values(rng, shape) for name in ("anchor", "positive", "negative")}
        if _hinge_gap(triplet, params) >= 0.5:
            return triplet


def _hinge_gap(triplet: dict[str, np.ndarray], params: dict) -> float:
    def distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if params.get("distance_function") == "cosine_distance":
            return 1 - np.sum(x * y, -1) / (np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1))
        p = params.get("p", 2.0)
        return np.sum(np.abs(x - y + params.get("eps", 1e-6)) ** p, axis=-1) ** (1 / p)

    a, p, n = triplet["anchor"], triplet["positive"], triplet["negative"]
    d_an, d_pn = distance(a, n), distance(p, n)
    negative = np.minimum(d_an, d_pn) if params.get("swap") else d_an
    gaps = [np.abs(params.get("margin", 1.0) + distance(a, p) - negative)]
    if params.get("swap"):
        gaps.append(np.abs(d_an - d_pn))
    return float(np.min(gaps))


@cases_for(*_TRIPLETS)
def triplet_cases(loss: str) -> Iterator[VectorCase]:
    """Reductions on (N, D) and (D,), the parameter grid (swap, p, eps, margin; the cosine distance), the hinge met
    exactly, a swap tie, a zero distance, empty, non-dyadic, NaN and bad input."""
    named = loss == "triplet_margin_with_distance_loss"
    for reduction in ("none", "sum", "mean"):
        name = f"batch_{reduction}"
        rng = case_rng(loss, name)
        yield _case(loss, name, "basic", "5 triplets of 3-vectors", _triplet(rng, (5, 3)), reduction, rng,
                    flags=("Basic", "Reduction"))
    rng = case_rng(loss, "unbatched")
    yield _case(loss, "unbatched_none", "basic", "one triplet of shape (D,)", _triplet(rng, (4,), {"margin": 2.0}),
                "none", rng,
                params={"margin": 2.0}, flags=("Basic", "Shape"))
    grid = ([{"distance_function": "cosine_distance"}, {"distance_function": "cosine_distance", "swap": True},
             {"swap": True}, {"margin": 0.5}] if named else
            [{"swap": True}, {"p": 1.0}, {"p": 3.0}, {"margin": 0.5, "eps": 0.0}, {"p": 1.5, "swap": True},
             {"margin": 2.0}])
    for params in grid:
        for reduction in ("none", "mean"):
            label = "_".join(k if isinstance(v, (bool, str)) and k != "distance_function" else
                             (v if isinstance(v, str) else f"{k}{v:g}") for k, v in params.items())
            name = f"{label}_{reduction}"
            rng = case_rng(loss, name)
            yield _case(loss, name, "basic", f"{params}", _triplet(rng, (6, 3), params), reduction, rng, params=params,
                        flags=("ParameterGrid", "Reduction"))
    rng = case_rng(loss, "zero_cotangent")
    yield _case(loss, "zero_cotangent_none", "basic", "grad_output = 0 must give zero gradients",
                _triplet(rng, (3, 2)), "none", rng, cotangent=np.zeros(3), flags=("ZeroCotangent",))

    rng = case_rng(loss, "edge")
    if named:
        yield _case(loss, "cosine_at_hinge", "edge", "cosine distances 1 and 2 with margin 1: the hinge met exactly "
                    "(PyTorch's strict clamp_min gives 0, one side of the kink)",
                    {"anchor": np.array([[1.0, 0.0]]), "positive": np.array([[0.0, 1.0]]),
                     "negative": np.array([[-1.0, 0.0]])}, "none", rng,
                    params={"distance_function": "cosine_distance"}, flags=("AtKink",))
    else:
        yield _case(loss, "at_hinge", "edge", "d(a, p) = 1, d(a, n) = 2, margin 1, eps 0: the hinge met exactly",
                    {"anchor": np.array([[0.0, 0.0]]), "positive": np.array([[1.0, 0.0]]),
                     "negative": np.array([[2.0, 0.0]])}, "none", rng, params={"eps": 0.0}, flags=("AtKink",))
        yield _case(loss, "swap_tie", "edge", "d(a, n) = d(p, n) = sqrt 10 with swap: torch.minimum splits the tie",
                    {"anchor": np.array([[0.0, 0.0]]), "positive": np.array([[2.0, 0.0]]),
                     "negative": np.array([[1.0, 3.0]])}, "sum", rng, params={"eps": 0.0, "swap": True,
                                                                            "margin": 4.0}, flags=("AtKink",))
        yield _case(loss, "zero_distance", "edge", "anchor = positive with eps 0: d(a, p) = 0, the norm's kink",
                    {"anchor": np.array([[1.0, 2.0]]), "positive": np.array([[1.0, 2.0]]),
                     "negative": np.array([[1.5, 2.0]])}, "none", rng, params={"eps": 0.0}, flags=("AtKink",))
    for reduction in ("none", "sum", "mean"):
        yield _case(loss, f"empty_{reduction}", "edge", "no triplets: sum 0, mean NaN",
                    {name: np.zeros((0, 3)) for name in ("anchor", "positive", "negative")}, reduction, rng,
                    flags=("Empty", "Reduction"))
    yield _case(loss, "nondyadic_mean", "accuracy", "non-dyadic triplets",
                {name: nondyadic_values(rng, (4, 3)) for name in ("anchor", "positive", "negative")}, "mean", rng,
                params={"swap": True}, dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    yield _case(loss, "nan_none", "nonfinite", "a NaN entry makes its triplet's loss and gradients NaN",
                {"anchor": np.array([[np.nan, 1.0], [1.0, 2.0]]), "positive": np.array([[0.5, 1.0], [2.0, 1.0]]),
                 "negative": np.array([[0.0, 1.0], [1.0, -1.0]])}, "none", rng, flags=("NaNInput",))

    three = {name: np.ones((2, 3)) for name in ("anchor", "positive", "negative")}
    yield _invalid(loss, "shape_mismatch", "negative (1, 3) against (2, 3)", {**three, "negative": np.ones((1, 3))},
                   "shape_mismatch", flags=("ShapeMismatch",))
    yield _invalid(loss, "margin_zero", "margin = 0 (PyTorch: must be > 0)", three, "invalid_parameter",
                   params={"margin": 0.0})
    if named:
        yield _invalid(loss, "unknown_distance", "distance_function 'l1'", three, "invalid_parameter",
                       params={"distance_function": "l1"})
    else:
        yield _invalid(loss, "p_below_one", "p = 0.5", three, "invalid_parameter", params={"p": 0.5})
