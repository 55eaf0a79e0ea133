"""Cases for the box geometry functions: ``box_convert`` and ``box_area`` (rows of boxes, with a cotangent) and
the pairwise IoU matrices ``box_iou``, ``generalized_box_iou``, ``distance_box_iou``, ``complete_box_iou`` (N x M,
no gradient): every format pair, the degenerate configurations each function documents, N != M (torchvision's
distance_box_iou and complete_box_iou raised there before pytorch/vision#6317 was fixed), empty sets, eps at 0
and large, NaN coordinates and bad input."""

from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np

from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng as _rng, cases_for, cotangent_for,
                                      nondyadic_values, pending_cases_for)
from refloss.conformance.cases.boxes import CONFIGURATIONS, random_boxes

FORMATS = ("xyxy", "xywh", "cxcywh")
PAIRWISE = ("box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou")
WITH_EPS = ("distance_box_iou", "complete_box_iou")


# ---- inputs -------------------------------------------------------------------------------------------------------

def corner_boxes(rng: np.random.Generator, count: int, dyadic: bool = True) -> np.ndarray:
    """``count`` valid xyxy boxes: corners in [-8, 8], sides in [0.25, 6] (multiples of 1/8 when dyadic, exact in
    every dtype with their sums and halves; else float64 values with all 53 bits used)."""
    boxes1, _ = random_boxes(rng, count, dyadic)
    return boxes1


def in_format(boxes: np.ndarray, fmt: str) -> np.ndarray:
    """xyxy boxes written in ``fmt`` (worked here, not by the reference: (x, y, w, h) or (cx, cy, w, h)).
    Dyadic corners give dyadic results: the sides and the halved sums of multiples of 1/8 are multiples of 1/16."""
    x1, y1, x2, y2 = np.moveaxis(boxes, -1, 0)
    if fmt == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)
    if fmt == "cxcywh":
        return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)
    return boxes.copy()


# zero-size boxes in xyxy: a vertical segment, a horizontal one, a point, and a box of positive area for contrast
DEGENERATE = np.array([[1.0, -0.5, 1.0, 2.0], [-2.0, 3.0, 0.5, 3.0], [0.25, 0.75, 0.25, 0.75], [0.0, 0.0, 1.5, 2.5]])


# ---- box_convert --------------------------------------------------------------------------------------------------

def _convert_case(name: str, concern: str, comment: str, boxes: np.ndarray, in_fmt: str, out_fmt: str,
                  rng: np.random.Generator, cotangent: np.ndarray | None = None, **fields) -> VectorCase:
    boxes = np.asarray(boxes, float)
    if cotangent is None:
        cotangent = cotangent_for(rng, boxes.shape, "none")
    return VectorCase(name, concern, comment, {"boxes": boxes}, None, params={"in_fmt": in_fmt, "out_fmt": out_fmt},
                      cotangent=np.asarray(cotangent, float), **fields)


@cases_for("box_convert")
def convert_cases(loss: str) -> Iterator[VectorCase]:
    """Every format pair (the three identities included) on random boxes; leading shapes; zero sizes; empty;
    non-dyadic and far-from-origin boxes; NaN; boxes invalid in their own format."""
    for in_fmt, out_fmt in itertools.product(FORMATS, FORMATS):
        name = f"{in_fmt}_to_{out_fmt}"
        rng = _rng(loss, name)
        boxes = in_format(corner_boxes(rng, 5), in_fmt)
        what = "the identity: a copy" if in_fmt == out_fmt else "random boxes"
        yield _convert_case(name, "basic", f"{in_fmt} to {out_fmt}, {what}", boxes, in_fmt, out_fmt, rng,
                            flags=("Basic",))
    for shape, (in_fmt, out_fmt) in (((), ("cxcywh", "xywh")), ((2, 3), ("xywh", "cxcywh"))):
        name = f"shape{'x'.join(map(str, shape)) or 'scalar'}_{in_fmt}_to_{out_fmt}"
        rng = _rng(loss, name)
        boxes = in_format(corner_boxes(rng, int(np.prod(shape))), in_fmt).reshape(*shape, 4)
        yield _convert_case(name, "basic", f"boxes of leading shape {shape}, {in_fmt} to {out_fmt}", boxes, in_fmt,
                            out_fmt, rng, flags=("Basic", "Shape"))
    rng = _rng(loss, "zero_cotangent")
    yield _convert_case("zero_cotangent", "basic", "grad_output = 0 must give zero gradients",
                        in_format(corner_boxes(rng, 3), "xywh"), "xywh", "cxcywh", rng, cotangent=np.zeros((3, 4)),
                        flags=("ZeroCotangent",))

    for in_fmt, out_fmt in (("xyxy", "cxcywh"), ("xywh", "xyxy"), ("cxcywh", "xywh")):
        name = f"zero_sizes_{in_fmt}_to_{out_fmt}"
        rng = _rng(loss, name)
        yield _convert_case(name, "edge", f"segments, a point and a box, {in_fmt} to {out_fmt}: zero sizes are valid",
                            in_format(DEGENERATE, in_fmt), in_fmt, out_fmt, rng, flags=("DegenerateBox",))

    for in_fmt, out_fmt in (("xyxy", "cxcywh"), ("cxcywh", "xywh"), ("xywh", "xyxy")):
        name = f"nondyadic_{in_fmt}_to_{out_fmt}"
        rng = _rng(loss, name)
        yield _convert_case(name, "accuracy", f"non-dyadic boxes, {in_fmt} to {out_fmt}",
                            in_format(corner_boxes(rng, 4, dyadic=False), in_fmt), in_fmt, out_fmt, rng,
                            dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    rng = _rng(loss, "far_from_origin")
    boxes = corner_boxes(rng, 4, dyadic=False) + np.array([3e5, -7e5, 3e5, -7e5])
    yield _convert_case("far_from_origin", "accuracy", "boxes of size ~1 at ~1e6: x2 - x1 cancels, cx rounds",
                        boxes, "xyxy", "cxcywh", rng, dtypes=FLOAT64_ONLY,
                        flags=("NonDyadic", "Cancellation", "MixedMagnitude"))

    for fmt in ("cxcywh", "xywh"):  # a conversion through corners and back would lose the small coordinates
        name = f"identity_{fmt}_wide_boxes"
        rng = _rng(loss, name)
        boxes = np.concatenate([nondyadic_values(rng, (3, 2), -1.0, 1.0), nondyadic_values(rng, (3, 2), 1e15, 1e16)],
                               axis=-1)
        yield _convert_case(name, "accuracy", f"{fmt} to {fmt} with positions ~1 and sizes ~1e16: an exact copy "
                            "(through corners, x = (x + w) - w would lose the position)", boxes, fmt, fmt, rng,
                            dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Cancellation", "MixedMagnitude"))
    rng = _rng(loss, "invalid")
    boxes = corner_boxes(rng, 3)
    for in_fmt, (row, column), what in (("xywh", (2, 2), "w < 0"), ("cxcywh", (1, 3), "h < 0"),
                                        ("xyxy", (0, 2), "x2 < x1")):
        bad = in_format(boxes, in_fmt)
        bad[row, column] = -0.5 if in_fmt != "xyxy" else bad[row, 0] - 0.5
        yield _convert_case(f"invalid_in_{in_fmt}", "invalid", f"boxes[{row}] in {in_fmt} has {what}: an error, "
                            "not a silently inverted xyxy box (torchvision converts it)", bad, in_fmt,
                            "cxcywh" if in_fmt != "cxcywh" else "xyxy", rng, error="invalid_box",
                            flags=("InvalidInput", "InvertedBox"))
    yield _convert_case("three_coordinates", "invalid", "boxes of shape (3, 3)", boxes[:, :3], "xyxy", "xywh", rng,
                        cotangent=np.ones((3, 3)), error="invalid_box", flags=("InvalidInput",))


@cases_for("box_convert")
def convert_empty_cases(loss: str) -> Iterator[VectorCase]:
    rng = _rng(loss, "empty")
    yield _convert_case("empty", "edge", "no boxes (shape (0, 4))", np.zeros((0, 4)), "cxcywh", "xyxy", rng,
                        flags=("Empty",))


@pending_cases_for("box_convert", reason="the oracle of row functions makes every gradient of a row with a NaN "
                   "coordinate NaN, while the VJP of this linear map is finite (torch's autograd too: the Jacobian "
                   "does not depend on the boxes)")
def convert_pending_oracle_cases(loss: str) -> Iterator[VectorCase]:
    rng = _rng(loss, "nan_coordinate")
    boxes = in_format(corner_boxes(rng, 3), "cxcywh")
    boxes[1, 2] = np.nan
    yield _convert_case("nan_coordinate", "nonfinite", "w of the second box is NaN: its x1 and x2 are NaN, every "
                        "gradient finite (the Jacobian is constant)", boxes, "cxcywh", "xyxy", rng,
                        flags=("NaNInput",))


@cases_for("box_convert")
def convert_more_invalid_cases(loss: str) -> Iterator[VectorCase]:
    rng = _rng(loss, "invalid_pending")
    boxes = in_format(corner_boxes(rng, 3), "xywh")
    yield _convert_case("three_coordinates_xywh", "invalid", "xywh boxes of shape (3, 3)", boxes[:, :3], "xywh",
                        "xyxy", rng, cotangent=np.ones((3, 3)), error="invalid_box", flags=("InvalidInput",))
    yield _convert_case("unknown_format", "invalid", "in_fmt 'xywhr' (torchvision's rotated format)", boxes, "xywhr",
                        "xyxy", rng, error="invalid_parameter", flags=("InvalidInput",))


# ---- box_area -----------------------------------------------------------------------------------------------------

def _area_case(name: str, concern: str, comment: str, boxes: np.ndarray, rng: np.random.Generator,
               cotangent: np.ndarray | None = None, **fields) -> VectorCase:
    boxes = np.asarray(boxes, float)
    if cotangent is None:
        cotangent = cotangent_for(rng, boxes.shape[:-1], "none")
    return VectorCase(name, concern, comment, {"boxes": boxes}, None, cotangent=np.asarray(cotangent, float),
                      **fields)


@cases_for("box_area")
def area_cases(loss: str) -> Iterator[VectorCase]:
    """Random boxes under several leading shapes; zero-width, zero-height and point boxes; empty; non-dyadic, far
    from the origin and huge boxes; NaN; inverted boxes and bad shapes."""
    for shape in [(6,), (), (2, 3)]:
        name = f"boxes{'x'.join(map(str, shape)) or 'scalar'}"
        rng = _rng(loss, name)
        yield _area_case(name, "basic", f"random boxes, leading shape {shape}",
                         corner_boxes(rng, int(np.prod(shape))).reshape(*shape, 4), rng,
                         flags=("Basic",) + (("Shape",) if len(shape) != 1 else ()))
    rng = _rng(loss, "zero_cotangent")
    yield _area_case("zero_cotangent", "basic", "grad_output = 0 must give zero gradients", corner_boxes(rng, 3), rng,
                     cotangent=np.zeros(3), flags=("ZeroCotangent",))

    rng = _rng(loss, "zero_area")
    yield _area_case("zero_area", "edge", "a vertical and a horizontal segment, a point, a box: areas 0, 0, 0 and "
                     "3.75, gradients (-h, -w, h, w) non-zero where a side is", DEGENERATE, rng,
                     flags=("DegenerateBox",))
    rng = _rng(loss, "empty")
    yield _area_case("empty", "edge", "no boxes (shape (0, 4))", np.zeros((0, 4)), rng, flags=("Empty",))

    rng = _rng(loss, "nondyadic")
    yield _area_case("nondyadic", "accuracy", "non-dyadic boxes", corner_boxes(rng, 5, dyadic=False), rng,
                     dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    rng = _rng(loss, "far_from_origin")
    boxes = corner_boxes(rng, 4, dyadic=False) * 1e-3 + np.array([1e6, -2e6, 1e6, -2e6])
    yield _area_case("far_from_origin", "accuracy", "sides ~1e-3 at ~1e6: x2 - x1 cancels (the data's rounding, not "
                     "the formula's)", boxes, rng, dtypes=FLOAT64_ONLY,
                     flags=("NonDyadic", "Cancellation", "MixedMagnitude"))
    rng = _rng(loss, "huge_boxes")
    yield _area_case("huge_boxes", "accuracy", "sides ~1e150: areas ~1e300, still finite",
                     corner_boxes(rng, 3, dyadic=False) * 1e150, rng, dtypes=FLOAT64_ONLY,
                     flags=("NonDyadic", "HugeMagnitude"))

    rng = _rng(loss, "nan_box")
    boxes = corner_boxes(rng, 3)
    boxes[1] = np.nan
    yield _area_case("nan_box", "nonfinite", "the second box is all NaN (a missing box): its area and its four "
                     "gradients are NaN, the other boxes' are not", boxes, rng, flags=("NaNInput",))

    rng = _rng(loss, "invalid")
    boxes = corner_boxes(rng, 3)
    for column, what in ((2, "x2 < x1"), (3, "y2 < y1")):
        bad = boxes.copy()
        bad[1, column] = bad[1, column - 2] - 0.5
        yield _area_case(f"inverted_{what[:2]}", "invalid", f"boxes[1] has {what} (torchvision: a negative area)",
                         bad, rng, error="invalid_box", flags=("InvalidInput", "InvertedBox"))
    both = boxes.copy()
    both[0] = both[0, [2, 3, 0, 1]]
    yield _area_case("inverted_both", "invalid", "boxes[0] has x2 < x1 and y2 < y1 (torchvision: a positive area)",
                     both, rng, error="invalid_box", flags=("InvalidInput", "InvertedBox"))
    yield _area_case("three_coordinates", "invalid", "boxes of shape (3, 3)", boxes[:, :3], rng,
                     cotangent=np.ones(3), error="invalid_box", flags=("InvalidInput",))


@pending_cases_for("box_area", reason="the oracle of row functions makes every gradient of a row with a NaN "
                   "coordinate NaN; the reference (and torch's autograd) keep the x gradients -h and h finite when "
                   "only x1 is NaN, since they do not depend on x1")
def area_pending_cases(loss: str) -> Iterator[VectorCase]:
    rng = _rng(loss, "nan_coordinate")
    boxes = corner_boxes(rng, 3)
    boxes[1, 0] = np.nan
    yield _area_case("nan_coordinate", "nonfinite", "x1 of the second box is NaN: its area and its y gradients "
                     "(-w, w) are NaN, its x gradients (-h, h) finite", boxes, rng, flags=("NaNInput",))


# ---- the pairwise matrices ----------------------------------------------------------------------------------------

def _pairwise_case(loss: str, name: str, concern: str, comment: str, boxes1: np.ndarray, boxes2: np.ndarray,
                   params: dict | None = None, **fields) -> VectorCase:
    inputs = {"boxes1": np.asarray(boxes1, float), "boxes2": np.asarray(boxes2, float)}
    return VectorCase(name, concern, comment, inputs, None, params=dict(params or {}), cotangent=None, **fields)


def _defined(box1: list, box2: list) -> bool:
    """Whether a configuration has a defined value: not two boxes of zero area (their NaN has its own cases)."""
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    return area(box1) + area(box2) > 0


@cases_for(*PAIRWISE)
def pairwise_cases(loss: str) -> Iterator[VectorCase]:
    """N != M both ways and N == M; eps at 0 and large; each degenerate configuration, all of them as one
    matrix; zero-area pairs (NaN); empty sets; accuracy; NaN; bad input."""
    for n, m in ((5, 3), (3, 5), (4, 4), (1, 1)):
        name = f"random_{n}x{m}"
        rng = _rng(loss, name)
        yield _pairwise_case(loss, name, "basic", f"{n} boxes against {m}, most pairs overlapping"
                             + (" (N != M: pytorch/vision#6317)" if n != m else ""), *_overlapping_sets(rng, n, m),
                             flags=("Basic",))
    for value in (0.0, 0.25) if loss in WITH_EPS else ():
        name = f"eps{value:g}"
        rng = _rng(loss, name)
        scale = 4 if value else 1  # a large eps against small boxes, so that it shows in every dtype
        yield _pairwise_case(loss, name, "basic", f"eps = {value:g}, 4 boxes against 3",
                             *(b / scale for b in _overlapping_sets(rng, 4, 3)), params={"eps": value},
                             flags=("ParameterGrid",))

    usable = {name: c for name, c in CONFIGURATIONS.items() if _defined(c[0], c[1])}
    for name, (box1, box2, flags) in usable.items():
        yield _pairwise_case(loss, name, "edge", f"{name.replace('_', ' ')}: {box1} against {box2}", [box1], [box2],
                             flags=flags)
    first, second = [c[0] for c in usable.values()], [c[1] for c in usable.values()]
    yield _pairwise_case(loss, "all_configurations", "edge", "every configuration's first boxes against every "
                         "second box: the configurations on the diagonal, ties and containments across it",
                         first, second, flags=tuple(sorted({f for c in usable.values() for f in c[2]})))
    yield _pairwise_case(loss, "zero_area_pairs", "edge", "segments and points against each other: U = 0, "
                         "IoU 0/0 = NaN as torchvision (mmdet clamps U at eps and gives 0); against a box of "
                         "positive area (last column) it is defined", DEGENERATE[:3], DEGENERATE,
                         flags=("DegenerateBox",))
    if loss in WITH_EPS:
        yield _pairwise_case(loss, "identical_eps0", "edge", "identical boxes and identical points at eps = 0: "
                             "1 and NaN (c^2 = 0 too)" + (", and 0/0 in alpha for the boxes (NaN, as torchvision)"
                                                          if loss == "complete_box_iou" else ""),
                             [[0.5, 1.0, 2.5, 3.0], [1.0, 1.0, 1.0, 1.0]], [[0.5, 1.0, 2.5, 3.0], [1.0, 1.0, 1.0, 1.0]],
                             params={"eps": 0.0}, flags=("IdenticalBoxes", "DegenerateBox", "ParameterGrid"))
    rng = _rng(loss, "empty")
    boxes = corner_boxes(rng, 3)
    for n, m in ((0, 3), (3, 0), (0, 0)):
        yield _pairwise_case(loss, f"empty_{n}x{m}", "edge", f"{n} boxes against {m}: an empty {n} x {m} matrix",
                             boxes[:n], boxes[:m], flags=("Empty",))

    rng = _rng(loss, "nondyadic")
    yield _pairwise_case(loss, "nondyadic", "accuracy", "non-dyadic boxes, 4 against 3",
                         *_overlapping_sets(rng, 4, 3, dyadic=False), dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    rng = _rng(loss, "far_from_origin")
    offset = np.array([1e4, -3e4, 1e4, -3e4])
    yield _pairwise_case(loss, "far_from_origin", "accuracy", "boxes of size ~1 at 1e4 from the origin",
                         *(b + offset for b in _overlapping_sets(rng, 3, 4, dyadic=False)), dtypes=FLOAT64_ONLY,
                         flags=("NonDyadic", "Cancellation", "MixedMagnitude"))
    rng = _rng(loss, "tiny_boxes")
    yield _pairwise_case(loss, "tiny_boxes", "accuracy", "boxes of size ~1e-4: c^2 near eps = 1e-7",
                         *(b * 1e-4 for b in _overlapping_sets(rng, 3, 3, dyadic=False)), dtypes=FLOAT64_ONLY,
                         flags=("NonDyadic", "TinyMagnitude"))
    rng = _rng(loss, "nearly_identical")
    boxes1 = corner_boxes(rng, 3, dyadic=False)
    boxes2 = boxes1 + rng.uniform(1e-9, 2e-9, size=boxes1.shape) * np.array([1, 1, -1, -1])
    yield _pairwise_case(loss, "nearly_identical", "accuracy", "boxes 1e-9 apart on the diagonal: IoU ~ 1, C - U "
                         "and 1 - IoU cancel", boxes1, boxes2, dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Cancellation"))

    rng = _rng(loss, "nan_coordinate")
    boxes1, boxes2 = _overlapping_sets(rng, 3, 2)
    boxes1[1, 3] = np.nan
    yield _pairwise_case(loss, "nan_coordinate", "nonfinite", "y2 of boxes1[1] is NaN: row 1 is NaN, the others are "
                         "not", boxes1, boxes2, flags=("NaNInput",))

    rng = _rng(loss, "invalid")
    boxes1, boxes2 = _overlapping_sets(rng, 3, 2)
    inverted = boxes2.copy()
    inverted[1, [1, 3]] = inverted[1, [3, 1]]
    yield _pairwise_case(loss, "inverted_box", "invalid", "boxes2[1] has y2 < y1", boxes1, inverted,
                         error="invalid_box", flags=("InvalidInput", "InvertedBox"))
    yield _pairwise_case(loss, "three_coordinates", "invalid", "boxes1 of shape (3, 3)", boxes1[:, :3], boxes2,
                         error="invalid_box", flags=("InvalidInput",))
    yield _pairwise_case(loss, "batched_sets", "invalid", "boxes1 of shape (1, 3, 4): one set per argument "
                         "(torchvision 0.29 would batch)", boxes1[None], boxes2, error="shape_mismatch",
                         flags=("InvalidInput", "ShapeMismatch"))
    yield _pairwise_case(loss, "single_box_vector", "invalid", "boxes2 of shape (4,), not (1, 4)", boxes1, boxes2[0],
                         error="shape_mismatch", flags=("InvalidInput", "ShapeMismatch"))
    if loss in WITH_EPS:
        yield _pairwise_case(loss, "eps_out_of_domain", "invalid", "eps = -0.125", boxes1, boxes2,
                             params={"eps": -0.125}, error="invalid_parameter", flags=("InvalidInput",))


def _overlapping_sets(rng: np.random.Generator, n: int, m: int, dyadic: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """boxes1 (n) and boxes2 (m) from random overlapping pairs, so that many of the n x m pairs overlap."""
    boxes1, boxes2 = random_boxes(rng, max(n, m), dyadic)
    return boxes1[:n], boxes2[:m][::-1].copy()
