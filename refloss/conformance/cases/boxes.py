"""Cases for the IoU-family losses on matched pairs of boxes: random pairs, every degenerate configuration the
issue lists (identical, touching, disjoint, nested, zero-area, shared edges), accuracy cases and bad input."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from refloss._registry import get, names
from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng as _rng, cases_for, float64_cotangent,
                                      nondyadic_values)
from refloss.conformance.cases import two_input_case as _case

BOX_LOSSES = [n for n in names() if get(n).family == "boxes"]
# boxes1, boxes2 of each degenerate configuration (corners on the float16 grid), with its flags
CONFIGURATIONS = {
    "identical": ([0.5, 1.0, 2.5, 3.0], [0.5, 1.0, 2.5, 3.0], ("IdenticalBoxes",)),
    "touching_edge": ([0.0, 0.0, 1.0, 2.0], [1.0, 0.5, 3.0, 1.5], ("TouchingBoxes",)),
    "touching_corner": ([0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.5, 2.0], ("TouchingBoxes",)),
    "disjoint": ([0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 3.0, 2.0], ("DisjointBoxes",)),
    "disjoint_diagonal": ([-3.0, -2.0, -1.5, -1.0], [1.0, 2.0, 3.5, 2.75], ("DisjointBoxes",)),
    "nested": ([0.0, 0.0, 4.0, 3.0], [1.0, 0.5, 2.5, 2.0], ("NestedBoxes",)),
    "nested_shared_edge": ([0.0, 0.0, 4.0, 3.0], [0.0, 0.5, 2.5, 3.0], ("NestedBoxes", "SharedEdge")),
    "shared_left_edge": ([1.0, 0.0, 3.0, 2.0], [1.0, 1.0, 2.0, 3.5], ("SharedEdge",)),
    "same_enclosing_box": ([0.0, 0.0, 3.0, 1.0], [0.0, 0.0, 1.0, 3.0], ("SharedEdge",)),
    "zero_width": ([1.0, 0.0, 1.0, 2.0], [0.5, 0.5, 2.0, 1.5], ("DegenerateBox",)),
    "zero_height_target": ([0.0, 0.0, 2.0, 1.0], [0.5, 0.5, 1.5, 0.5], ("DegenerateBox",)),
    "identical_points": ([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], ("DegenerateBox", "IdenticalBoxes")),
}
# A zero-size box's aspect angle atan2(0, 0) jumps to pi/2 as soon as its width grows: CIoU has no one-sided
# derivative there (its value and gradient at the point are refloss's documented convention, tested in tests/).
_NO_POINT_DERIVATIVE = {"ciou_loss"}


def random_boxes(rng: np.random.Generator, count: int, dyadic: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``count`` pairs: boxes1 with corners in [-8, 8] and sides in [0.25, 6], boxes2 a copy moved by up to 1 per
    coordinate (so most pairs overlap), each valid. Dyadic: multiples of 1/8 below 16 in magnitude, exact in
    bfloat16 (8 significant bits) as every sum of them is; else float64 values with all 53 bits used."""
    def draw(low: float, high: float, shape: tuple[int, ...]) -> np.ndarray:
        if dyadic:
            return rng.integers(round(low * 8), round(high * 8) + 1, size=shape) / 8
        return nondyadic_values(rng, shape, low, high)

    corners = draw(-8.0, 8.0, (count, 2))
    boxes1 = np.concatenate([corners, corners + draw(0.25, 6.0, (count, 2))], axis=-1)
    boxes2 = boxes1 + draw(-1.0, 1.0, (count, 4))
    boxes2[:, 2:] = np.maximum(boxes2[:, 2:], boxes2[:, :2] + 0.125)  # valid, and not degenerate by chance
    return boxes1, boxes2


def _params(loss: str) -> dict:
    """A non-default setting of each variant parameter (Focal-EIoU, mmdetection's CIoU gate)."""
    return {"eiou_loss": {"gamma": 0.5}, "ciou_loss": {"alpha_gate": 0.5}}.get(loss, {})


@cases_for(*BOX_LOSSES)
def basic_cases(loss: str) -> Iterator[VectorCase]:
    """Random pairs on the float16 grid under every reduction and shape; the variant parameters; a zero
    cotangent."""
    for shape in [(6,), (), (2, 3)]:
        for reduction in ("none", "sum", "mean"):
            name = f"pairs{'x'.join(map(str, shape)) or 'scalar'}_{reduction}"
            rng = _rng(loss, name)
            boxes1, boxes2 = random_boxes(rng, int(np.prod(shape)))
            yield _case(loss, name, "basic", f"random overlapping pairs, pair shape {shape}, reduction {reduction}",
                        boxes1.reshape(*shape, 4), boxes2.reshape(*shape, 4), reduction, rng,
                        flags=("Basic", "Reduction") + (("Shape",) if len(shape) != 1 else ()))
    for param, value in _params(loss).items():
        for reduction in ("none", "mean"):
            name = f"{param}{value:g}_{reduction}"
            rng = _rng(loss, name)
            boxes1, boxes2 = random_boxes(rng, 8)
            yield _case(loss, name, "basic", f"{param} = {value:g}, reduction {reduction}", boxes1, boxes2,
                        reduction, rng, params={param: value}, flags=("ParameterGrid",))
    for reduction in ("none", "sum"):  # a large dyadic eps, so that where it enters shows in every dtype
        name = f"eps0.25_{reduction}"
        rng = _rng(loss, name)
        boxes1, boxes2 = random_boxes(rng, 6)
        yield _case(loss, name, "basic", f"eps = 0.25 (in every denominator it enters), reduction {reduction}",
                    boxes1 / 4, boxes2 / 4, reduction, rng, params={"eps": 0.25}, flags=("ParameterGrid",))
    rng = _rng(loss, "zero_cotangent")
    boxes1, boxes2 = random_boxes(rng, 4)
    yield _case(loss, "zero_cotangent", "basic", "grad_output = 0 must give zero gradients", boxes1, boxes2, "none",
                rng, cotangent=np.zeros(4), flags=("ZeroCotangent",))


@cases_for(*BOX_LOSSES)
def edge_cases(loss: str) -> Iterator[VectorCase]:
    """Each degenerate configuration alone, all of them in one batch under mean, and no pairs at all."""
    usable = {name: c for name, c in CONFIGURATIONS.items()
              if not (loss in _NO_POINT_DERIVATIVE and name == "identical_points")}
    for name, (box1, box2, flags) in usable.items():
        rng = _rng(loss, name)
        yield _case(loss, name, "edge", f"{name.replace('_', ' ')}: {box1} and {box2}", np.array([box1]),
                    np.array([box2]), "none", rng, flags=flags)
        if name == "disjoint":  # swapped: the loss is symmetric in value, its gradients swap
            yield _case(loss, "disjoint_swapped", "edge", f"disjoint, swapped: {box2} and {box1}", np.array([box2]),
                        np.array([box1]), "none", rng, flags=flags)
    if loss == "siou_loss":  # the angle cost's corner: the centre offset equals eps (a dyadic eps, exact anywhere)
        rng = _rng(loss, "offset_equals_eps")
        yield _case(loss, "offset_equals_eps", "edge", "eps = 1/16 and the centres 1/16 apart in x: a = 0 exactly",
                    np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[-0.0625, 0.5, 1.9375, 1.5]]), "none", rng,
                    params={"eps": 0.0625}, flags=("AtKink",))
    rng = _rng(loss, "all_configurations_mean")
    yield _case(loss, "all_configurations_mean", "edge", "every configuration above in one batch, mean",
                np.array([c[0] for c in usable.values()]), np.array([c[1] for c in usable.values()]), "mean", rng,
                flags=("Reduction",) + tuple(sorted({f for c in usable.values() for f in c[2]})))
    for reduction in ("none", "sum", "mean"):
        rng = _rng(loss, f"empty_{reduction}")
        yield _case(loss, f"empty_{reduction}", "edge", "no pairs (shape (0, 4)): sum and mean are 0 (torchvision)",
                    np.zeros((0, 4)), np.zeros((0, 4)), reduction, rng, flags=("Empty", "Reduction"))


@cases_for(*BOX_LOSSES)
def accuracy_cases(loss: str) -> Iterator[VectorCase]:
    """Float64-only: non-dyadic coordinates; small boxes far from the origin (the corners' differences cancel);
    boxes so small that eps matters; nearly identical boxes (1 - IoU cancels)."""
    rng = _rng(loss, "nondyadic")
    boxes1, boxes2 = random_boxes(rng, 6, dyadic=False)
    yield _case(loss, "nondyadic", "accuracy", "non-dyadic coordinates", boxes1, boxes2, "none", rng,
                cotangent=float64_cotangent(rng, (6,), "none"), dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    rng = _rng(loss, "far_from_origin")
    boxes1, boxes2 = random_boxes(rng, 4, dyadic=False)
    offset = np.array([1e4, -3e4, 1e4, -3e4])
    yield _case(loss, "far_from_origin", "accuracy", "boxes of size ~1 at 1e4 from the origin: x2 - x1 cancels",
                boxes1 + offset, boxes2 + offset, "none", rng, cotangent=float64_cotangent(rng, (4,), "none"),
                dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Cancellation", "MixedMagnitude"))
    rng = _rng(loss, "tiny_boxes")
    boxes1, boxes2 = random_boxes(rng, 4, dyadic=False)
    yield _case(loss, "tiny_boxes", "accuracy", "boxes of size ~1e-4: areas near eps = 1e-7, which then matters",
                boxes1 * 1e-4, boxes2 * 1e-4, "none", rng, cotangent=float64_cotangent(rng, (4,), "none"),
                dtypes=FLOAT64_ONLY, flags=("NonDyadic", "TinyMagnitude"))
    rng = _rng(loss, "nearly_identical")
    boxes1, _ = random_boxes(rng, 4, dyadic=False)
    boxes2 = boxes1 + rng.uniform(1e-9, 2e-9, size=boxes1.shape) * np.array([1, 1, -1, -1])  # nested, IoU ~ 1
    yield _case(loss, "nearly_identical", "accuracy", "boxes 1e-9 apart: 1 - IoU cancels", boxes1, boxes2, "none",
                rng, cotangent=float64_cotangent(rng, (4,), "none"), dtypes=FLOAT64_ONLY,
                flags=("NonDyadic", "Cancellation"))


@cases_for(*BOX_LOSSES)
def nonfinite_cases(loss: str) -> Iterator[VectorCase]:
    """A NaN coordinate makes its pair's loss and all 8 of its gradients NaN; the other pairs are unaffected."""
    rng = _rng(loss, "nan_coordinate")
    boxes1, boxes2 = random_boxes(rng, 3)
    boxes1[1, 2] = np.nan
    yield _case(loss, "nan_coordinate", "nonfinite", "x2 of the second predicted box is NaN", boxes1, boxes2, "none",
                rng, flags=("NaNInput",))


@cases_for(*BOX_LOSSES)
def invalid_cases(loss: str) -> Iterator[VectorCase]:
    """An inverted box, mismatched pair shapes, 3 coordinates, an unknown reduction, parameters out of domain."""
    rng = _rng(loss, "invalid")
    boxes1, boxes2 = random_boxes(rng, 3)
    inverted = boxes2.copy()
    inverted[2, [0, 2]] = inverted[2, [2, 0]] + np.array([0.0, -0.5])
    yield _case(loss, "inverted_box", "invalid", "boxes2[2] has x2 < x1", boxes1, inverted, "none", rng,
                error="invalid_box", flags=("InvalidInput", "InvertedBox"))
    yield _case(loss, "pair_shape_mismatch", "invalid", "3 boxes against 2", boxes1, boxes2[:2], "none", rng,
                cotangent=np.ones(3), error="shape_mismatch", flags=("InvalidInput", "ShapeMismatch"))
    yield _case(loss, "pairs_would_broadcast", "invalid", "1 box against 3: NumPy and ultralytics would broadcast",
                boxes1[:1], boxes2, "none", rng, cotangent=np.ones(1), error="shape_mismatch",
                flags=("InvalidInput", "ShapeMismatch"))
    yield _case(loss, "three_coordinates", "invalid", "boxes of shape (3, 3)", boxes1[:, :3], boxes2[:, :3], "none",
                rng, cotangent=np.ones(3), error="invalid_box", flags=("InvalidInput",))
    yield _case(loss, "unknown_reduction", "invalid", "reduction 'batchmean'", boxes1, boxes2, "batchmean", rng,
                cotangent=np.float64(1.0), error="invalid_reduction", flags=("InvalidInput",))
    bad = {"eps": -0.125, "gamma": -0.5, "alpha_gate": 1.5}
    for param in get(loss).params:
        yield _case(loss, f"{param.name}_out_of_domain", "invalid", f"{param.name} = {bad[param.name]}", boxes1,
                    boxes2, "none", rng, params={param.name: bad[param.name]}, error="invalid_parameter",
                    flags=("InvalidInput",))
