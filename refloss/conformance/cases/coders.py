"""Cases for the box coders (Faster R-CNN deltas, SSD offsets, YOLOv3 targets; each encoder and decoder).

Inputs only: the worked examples of detectors.md §5.9, random boxes and codes on the float16 grid under the
weights, variances and grid sizes in use, broadcast references, the decoders' clamp (codes below it, above it,
exactly at it and one ulp either side), round trips, accuracy cases in float64 (non-dyadic values, small boxes
far from the origin, very unequal sizes), NaN, and every input the coders refuse.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from refloss._registry import get
from refloss.conformance.cases import (FLOAT64_ONLY, VectorCase, case_rng as _rng, cases_for, cotangent_for,
                                      float64_cotangent, nondyadic_values, pending_cases_for)

RPN = (1.0, 1.0, 1.0, 1.0)
HEAD = (10.0, 10.0, 5.0, 5.0)
CLIP = math.log(1000.0 / 16)  # torchvision's bbox_xform_clip, the float64 value the coders compare against
DYADIC_VARIANCES = (0.125, 0.25)  # exact in every dtype (1/v = 8, 4): codes exactly at a clamp stay exact
# YOLOv3's COCO anchors (yolov3.cfg) but (373, 326): 373 has 9 significant bits, not exact in bfloat16
COCO_ANCHORS = np.array([[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119], [116, 90], [156, 198]], float)
# §5.9: a ground truth and an anchor, in pixels (every coordinate exact in bfloat16)
GT_5_9, ANCHOR_5_9 = [100.0, 120.0, 300.0, 280.0], [90.0, 100.0, 290.0, 300.0]

FASTER_RCNN = ("encode_boxes", "decode_boxes")
SSD = ("encode_ssd_boxes", "decode_ssd_boxes")
YOLO = ("encode_yolo_boxes", "decode_yolo_boxes")
ENCODERS = ("encode_boxes", "encode_ssd_boxes", "encode_yolo_boxes")
DECODERS = ("decode_boxes", "decode_ssd_boxes", "decode_yolo_boxes")


# ---- building blocks ---------------------------------------------------------------------------------------------

def _case(coder: str, name: str, concern: str, comment: str, inputs: list, rng: np.random.Generator,
          params: dict | None = None, cotangent: Any = None, **fields: Any) -> VectorCase:
    """A case of ``coder`` with its inputs in registry order (``cells`` as int64); the cotangent has the output's
    shape (that of the first input): grid values unless given, float64 ones for float64-only cases."""
    names = [i.name for i in get(coder).inputs]
    arrays = {n: np.asarray(v, np.int64 if n == "cells" else np.float64) for n, v in zip(names, inputs)}
    if cotangent is None:
        shape = arrays[names[0]].shape
        float64 = fields.get("dtypes") == FLOAT64_ONLY
        cotangent = float64_cotangent(rng, shape, "none") if float64 else cotangent_for(rng, shape, "none")
    return VectorCase(name, concern, comment, arrays, None, params=dict(params or {}),
                      cotangent=np.asarray(cotangent, np.float64), **fields)


def _grid(rng: np.random.Generator, low: float, high: float, shape: tuple[int, ...], step: float) -> np.ndarray:
    """Random multiples of ``step`` in [low, high]: exact in bfloat16 when they need at most 8 significant bits."""
    return rng.integers(round(low / step), round(high / step) + 1, size=shape) * step


def random_boxes(rng: np.random.Generator, shape: tuple[int, ...], dyadic: bool = True, unit: float = 1.0,
                 ) -> np.ndarray:
    """Boxes with corners in [0, 12] * unit and sides in [0.5, 3.5] * unit: multiples of unit/8 (exact in every
    dtype for unit a power of 2), or non-dyadic float64 values."""
    if dyadic:
        corner, side = _grid(rng, 0.0, 12.0, shape + (2,), 0.125), _grid(rng, 0.5, 3.5, shape + (2,), 0.125)
    else:
        corner, side = nondyadic_values(rng, shape + (2,), 0.0, 12.0), nondyadic_values(rng, shape + (2,), 0.5, 3.5)
    return np.concatenate([corner, corner + side], axis=-1) * unit


def random_references(rng: np.random.Generator, boxes: np.ndarray, dyadic: bool = True, unit: float = 1.0,
                      ) -> np.ndarray:
    """References near ``boxes``: each corner moved by up to a quarter of the box's size (realistic matches, codes
    of order 1), at least half the box's size wide and tall; rounded to multiples of unit/8 if ``dyadic``."""
    size = np.tile(boxes[..., 2:] - boxes[..., :2], 2)
    shift = _grid(rng, -0.25, 0.25, boxes.shape, 1 / 32) if dyadic else nondyadic_values(rng, boxes.shape, -.25, .25)
    moved = boxes + shift * size
    moved[..., 2:] = np.maximum(moved[..., 2:], moved[..., :2] + 0.5 * size[..., :2])
    return np.round(moved * 8 / unit) * unit / 8 if dyadic else moved


def random_codes(rng: np.random.Generator, shape: tuple[int, ...], scale: tuple[float, ...] = RPN,
                 dyadic: bool = True) -> np.ndarray:
    """Codes (t_x, t_y, t_w, t_h) with t / scale in about [-3, 3] (inside the default clamp 4.135): multiples of a
    power of 2 with at most 8 significant bits (exact in every dtype), or float64 values."""
    columns = []
    for s in scale:
        if dyadic:
            step = 2.0 ** math.floor(math.log2(3 * s / 96))  # at most 191 steps: 8 bits
            columns.append(_grid(rng, -3 * s, 3 * s, shape, step))
        else:
            columns.append(nondyadic_values(rng, shape, -3 * s, 3 * s))
    return np.stack(columns, axis=-1)


def _ssd_scale(variances: tuple[float, float]) -> tuple[float, ...]:
    return (1 / variances[0], 1 / variances[0], 1 / variances[1], 1 / variances[1])


def _centre_form(cx: float, cy: float, w: float, h: float) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


# ---- Faster R-CNN and SSD (one reference box per box or code) ---------------------------------------------------

def _weights_grid(coder: str) -> list[tuple[str, dict, tuple[float, ...]]]:
    """(label, params, the factor the codes carry) for each weight or variance setting in use."""
    if coder in FASTER_RCNN:
        return [("rpn", {"weights": RPN}, RPN), ("head", {"weights": HEAD}, HEAD),
                ("uneven", {"weights": (2.0, 0.5, 4.0, 0.25)}, (2.0, 0.5, 4.0, 0.25))]
    return [("default", {}, _ssd_scale((0.1, 0.2))),
            ("dyadic_variances", {"variances": DYADIC_VARIANCES}, _ssd_scale(DYADIC_VARIANCES))]


@cases_for(*FASTER_RCNN, *SSD)
def anchor_basic_cases(coder: str) -> Iterator[VectorCase]:
    """Random matched boxes (or codes) and references under each weight setting and shape, a decoder's clamp
    settings, broadcast references, and a zero cotangent."""
    encoder = coder in ENCODERS
    unit = 1.0 if coder in FASTER_RCNN else 1 / 16  # SSD boxes live in [0, 1]
    for label, params, scale in _weights_grid(coder):
        for shape in [(6,), (), (2, 3)]:
            name = f"{label}_{'x'.join(map(str, shape)) or 'scalar'}"
            rng = _rng(coder, name)
            boxes = random_boxes(rng, shape, unit=unit)
            first = boxes if encoder else random_codes(rng, shape, scale)
            yield _case(coder, name, "basic", f"random {'boxes' if encoder else 'codes'} of shape {shape + (4,)} "
                        f"and matched references, {params or 'default parameters'}",
                        [first, random_references(rng, boxes, unit=unit)], rng, params,
                        flags=("Basic",) + (("ParameterGrid",) if params else ()) + (("Shape",) if shape != (6,)
                                                                                      else ()))
    if not encoder:  # the clamp settings: none, and torchvision's for SSD; codes on both sides of it
        rng = _rng(coder, "clamp_settings")
        boxes = random_boxes(rng, (8,), unit=unit)
        scale = RPN if coder in FASTER_RCNN else _ssd_scale((0.1, 0.2))
        codes = random_codes(rng, (8,), tuple(s * 1.5 for s in scale))  # |t / scale| up to 4.5: some above 4.135
        other = math.inf if coder in FASTER_RCNN else CLIP
        yield _case(coder, "clamp_settings", "basic", f"codes up to 4.5 (beyond log(1000/16) = 4.135), clamp = "
                    f"{other}", [codes, random_references(rng, boxes, unit=unit)], rng, {"clamp": other},
                    flags=("ParameterGrid",), **({"dtypes": FLOAT64_ONLY} if math.isfinite(other) else {}))
    rng = _rng(coder, "broadcast_references")  # per-class codes (R, K, 4) against proposals (R, 1, 4)
    boxes = random_boxes(rng, (3, 1), unit=unit)
    first = (random_references(rng, np.broadcast_to(boxes, (3, 4, 4)), unit=unit) if encoder
             else random_codes(rng, (3, 4), HEAD if coder in FASTER_RCNN else _ssd_scale((0.1, 0.2))))
    params = {"weights": HEAD} if coder in FASTER_RCNN else {}
    yield _case(coder, "broadcast_references", "basic", "(3, 4, 4) against references (3, 1, 4): each reference "
                "serves 4 rows (its gradient is their sum)", [first, boxes], rng, params, flags=("Shape",))
    rng = _rng(coder, "one_reference")
    boxes = random_boxes(rng, (5,), unit=unit)
    first = boxes if encoder else random_codes(rng, (5,))
    yield _case(coder, "one_reference", "basic", "5 rows against one reference of shape (4,)",
                [first, random_references(rng, boxes[0], unit=unit)], rng, flags=("Shape",))
    rng = _rng(coder, "zero_cotangent")
    boxes = random_boxes(rng, (4,), unit=unit)
    first = boxes if encoder else random_codes(rng, (4,))
    yield _case(coder, "zero_cotangent", "basic", "grad_output = 0 must give zero gradients",
                [first, random_references(rng, boxes, unit=unit)], rng, cotangent=np.zeros((4, 4)),
                flags=("ZeroCotangent",))


@cases_for("encode_boxes", "decode_boxes")
def faster_rcnn_worked_examples(coder: str) -> Iterator[VectorCase]:
    """detectors.md §5.9: g = (100, 120, 300, 280) (centre (200, 200), size (200, 160)) against the anchor
    a = (90, 100, 290, 300) (centre (190, 200), size (200, 200)): t = (0.05, 0, 0, ln 0.8) with RPN weights and
    (0.5, 0, 0, 5 ln 0.8) = (0.5, 0, 0, -1.115718) with the head's."""
    rng = _rng(coder, "worked_5_9")
    if coder == "encode_boxes":
        for label, weights in (("rpn", RPN), ("head", HEAD)):
            yield _case(coder, f"worked_5_9_{label}", "basic", f"§5.9: g = {GT_5_9}, a = {ANCHOR_5_9}, weights "
                        f"{weights}", [[GT_5_9], [ANCHOR_5_9]], rng, {"weights": weights}, flags=("Basic",))
        # (-10, 100, 390, 300): the anchor doubled in width about its centre -> (0, 0, 5 ln 2, 0) with the head's
        yield _case(coder, "doubled_width", "basic", "the anchor doubled about its centre: t_w = 5 ln 2",
                    [[-10.0, 100.0, 390.0, 300.0], ANCHOR_5_9], rng, {"weights": HEAD}, flags=("Basic",))
        return
    # decoding the §5.9 codes gives g back (float64: ln 0.8 is not dyadic)
    yield _case(coder, "worked_5_9_head", "accuracy", "§5.9's head code (0.5, 0, 0, 5 ln 0.8) decodes to "
                f"{GT_5_9}", [[[0.5, 0.0, 0.0, 5 * math.log(0.8)]], [ANCHOR_5_9]], rng, {"weights": HEAD},
                dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    yield _case(coder, "worked_5_9_rpn", "accuracy", "§5.9's RPN code (0.05, 0, 0, ln 0.8)",
                [[[0.05, 0.0, 0.0, math.log(0.8)]], [ANCHOR_5_9]], rng, {"weights": RPN}, dtypes=FLOAT64_ONLY,
                flags=("NonDyadic",))
    # a dyadic round trip: (0.5, 0, 0, 0) with the head's weights moves the anchor by 0.05 * 200 = 10 in x
    yield _case(coder, "centre_shift_head", "basic", "(0.5, -0.25, 0, 0), head weights: the anchor moved by "
                "(10, -5), its size kept", [[[0.5, -0.25, 0.0, 0.0]], [ANCHOR_5_9]], rng, {"weights": HEAD},
                flags=("Basic",))


@cases_for("encode_ssd_boxes", "decode_ssd_boxes")
def ssd_worked_examples(coder: str) -> Iterator[VectorCase]:
    """detectors.md §5.9: GT (0.1, 0.2, 0.5, 0.6) (centre (0.3, 0.4), size (0.4, 0.4)) against the prior of centre
    (0.3, 0.4) and size (0.3, 0.3): offsets (0, 0, ln(4/3)/0.2, ln(4/3)/0.2) = (0, 0, 1.438410, 1.438410)."""
    rng = _rng(coder, "worked_5_9")
    prior = _centre_form(0.3, 0.4, 0.3, 0.3)
    if coder == "encode_ssd_boxes":
        yield _case(coder, "worked_5_9", "accuracy", "§5.9: GT (0.1, 0.2, 0.5, 0.6), prior centre (0.3, 0.4) size "
                    "0.3", [[[0.1, 0.2, 0.5, 0.6]], [prior]], rng, dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
        # dyadic: GT centre (0.5, 0.375) size (0.5, 0.25) against prior centre (0.375, 0.5) size 0.25:
        # offsets ((0.125/0.25)/0.1, (-0.125/0.25)/0.1, ln 2/0.2, 0) = (5, -5, 3.465736, 0)
        yield _case(coder, "offset_box", "basic", "GT (0.25, 0.25, 0.75, 0.5) against the prior (0.25, 0.375, "
                    "0.5, 0.625): (5, -5, 5 ln 2, 0)", [[[0.25, 0.25, 0.75, 0.5]], [[0.25, 0.375, 0.5, 0.625]]],
                    rng, flags=("Basic",))
        return
    size = math.log(4 / 3) / 0.2
    yield _case(coder, "worked_5_9", "accuracy", "§5.9's offsets (0, 0, 1.438410, 1.438410) decode to the GT",
                [[[0.0, 0.0, size, size]], [prior]], rng, dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    yield _case(coder, "offset_box", "basic", "(5, -5, 0, 0) moves the prior (0.25, 0.375, 0.5, 0.625) by "
                "(0.125, -0.125)", [[[5.0, -5.0, 0.0, 0.0]], [[0.25, 0.375, 0.5, 0.625]]], rng, flags=("Basic",))


@cases_for(*FASTER_RCNN, *SSD)
def anchor_edge_cases(coder: str) -> Iterator[VectorCase]:
    """A box equal to its reference (code 0), sizes 100 times apart (beyond the clamp when decoded), a box far
    outside its reference, no rows at all; for decoders, the clamp: codes below, at and above it."""
    encoder = coder in ENCODERS
    unit = 1.0 if coder in FASTER_RCNN else 1 / 16
    rng = _rng(coder, "equal_to_reference")
    boxes = random_boxes(rng, (3,), unit=unit)
    if encoder:
        yield _case(coder, "equal_to_reference", "edge", "each box equals its reference: the code is 0",
                    [boxes, boxes], rng, flags=("IdenticalBoxes",))
        rng = _rng(coder, "sizes_far_apart")
        # widths 12.5 and 1/8 (ratio 100, ln 100 = 4.6 > the clamp 4.135) and 1/64 against 8 (ln(1/512))
        boxes = np.array([[0.0, 0.0, 12.5, 1.0], [0.25, 4.0, 0.265625, 12.0]]) * unit
        anchors = np.array([[6.0, 0.0, 6.125, 1.0], [0.0, 7.0, 8.0, 9.0]]) * unit
        yield _case(coder, "sizes_far_apart", "edge", "widths 100 times the reference's and 1/512 of it: "
                    "encoding never clamps", [boxes, anchors], rng, flags=("MixedMagnitude",))
        rng = _rng(coder, "far_outside")
        yield _case(coder, "far_outside", "edge", "a box 10 widths of its reference away: |t_x| = 10 w_x",
                    [[[100.0, 0.0, 101.0, 1.0]] * 1, [[0.0, 0.0, 10.0, 1.0]]], rng,
                    flags=("DisjointBoxes",))
    else:
        yield _case(coder, "zero_code", "edge", "the code 0 gives the reference back", [np.zeros((3, 4)), boxes],
                    rng, flags=("Basic",))
        yield from _clamp_cases(coder, unit)
    if coder == "decode_ssd_boxes":  # SSD has no clamp by default: v_s l_w = 5 > log(1000/16) is not clamped
        rng = _rng(coder, "beyond_torchvision_clamp")
        yield _case(coder, "beyond_torchvision_clamp", "edge", "default parameters (no clamp), size offsets 25 and "
                    "-25: e^5 and e^-5 times the prior's, where torchvision's SSD would clamp the first at 62.5",
                    [[[0.5, -0.5, 25.0, -25.0]], [[0.25, 0.375, 0.5, 0.625]]], rng, flags=("Basic",))


def _clamp_cases(coder: str, unit: float) -> Iterator[VectorCase]:
    """Size codes below, exactly at and above the clamp (on the float16 grid, with a dyadic clamp; and the
    default log(1000/16) in float64, exactly and one ulp either side)."""
    anchors = np.array([[1.0, 2.0, 3.0, 3.5], [0.5, 0.5, 4.5, 2.5], [2.0, 0.0, 3.0, 4.0]]) * unit
    if coder == "decode_boxes":
        settings = [("rpn", {"weights": RPN, "clamp": 2.0}, 1.0), ("head", {"weights": HEAD, "clamp": 2.0}, 5.0)]
    else:
        settings = [("dyadic_variances", {"variances": DYADIC_VARIANCES, "clamp": 0.5}, 4.0),
                    ("default_variances", {"clamp": 0.0}, 5.0)]
    for label, params, per_unit in settings:
        clamp = params["clamp"]
        sizes = np.array([[clamp - 0.5, clamp], [clamp, clamp + 0.5], [clamp + 1, clamp - 1]]) * per_unit
        codes = np.concatenate([np.array([[0.25, -0.5], [0.0, 0.125], [-1.0, 0.5]]), sizes], axis=-1)
        rng = _rng(coder, f"at_clamp_{label}")
        yield _case(coder, f"at_clamp_{label}", "edge", f"size codes below, exactly at and above clamp = {clamp} "
                    f"({params}): the derivative at the clamp is one-sided (0 from above, torch.clamp's)",
                    [codes, anchors], rng, params, flags=("AtKink",))
    if coder == "decode_boxes":  # the default clamp, a float64 number: exactly, and one ulp either side
        below, above = np.nextafter(CLIP, -np.inf), np.nextafter(CLIP, np.inf)
        codes = np.array([[0.5, 0.25, CLIP, below], [-0.5, 0.0, above, CLIP], [0.0, 1.0, below, above]])
        for name, flag, chosen in (("at_default_clamp", "AtKink", codes[:2]), ("near_default_clamp", "NearKink",
                                                                               codes[2:])):
            rng = _rng(coder, name)
            yield _case(coder, name, "edge", "RPN weights, size codes log(1000/16) exactly or one ulp either side",
                        [chosen, anchors[:len(chosen)]], rng, dtypes=FLOAT64_ONLY, flags=(flag,))
    rng = _rng(coder, "very_negative_size_code")
    codes = np.array([[0.0, 0.0, -30.0, -20.0]]) * (5.0 if coder == "decode_ssd_boxes" else 1.0)
    yield _case(coder, "very_negative_size_code", "edge", "size codes -30 and -20: no clamp from below, a box of "
                "width e^-30 times the anchor's, never inverted", [codes, anchors[:1]], rng, dtypes=FLOAT64_ONLY,
                flags=("TinyMagnitude",))


@cases_for(*FASTER_RCNN, *SSD)
def anchor_accuracy_cases(coder: str) -> Iterator[VectorCase]:
    """Float64: non-dyadic boxes and codes under each weight setting; small boxes far from the origin (the centre
    difference cancels); nearly equal sizes (the log of a ratio near 1)."""
    encoder = coder in ENCODERS
    unit = 1.0 if coder in FASTER_RCNN else 1 / 16
    for label, params, scale in _weights_grid(coder):
        name = f"nondyadic_{label}"
        rng = _rng(coder, name)
        boxes = random_boxes(rng, (6,), dyadic=False, unit=unit)
        first = boxes if encoder else random_codes(rng, (6,), scale, dyadic=False)
        yield _case(coder, name, "accuracy", f"non-dyadic values, {params or 'default parameters'}",
                    [first, random_references(rng, boxes, dyadic=False)], rng, params, dtypes=FLOAT64_ONLY,
                    flags=("NonDyadic",))
    rng = _rng(coder, "far_from_origin")
    boxes = random_boxes(rng, (4,), dyadic=False, unit=1e-2 * unit)
    offset = np.array([3e4, -1e4, 3e4, -1e4]) * unit
    first = boxes + offset if encoder else random_codes(rng, (4,), HEAD, dyadic=False)
    yield _case(coder, "far_from_origin", "accuracy", "boxes of size ~0.01 at 3e4 from the origin: the centre "
                "difference cancels", [first, random_references(rng, boxes, dyadic=False) + offset], rng,
                {"weights": HEAD} if coder in FASTER_RCNN else {}, dtypes=FLOAT64_ONLY,
                flags=("NonDyadic", "Cancellation", "MixedMagnitude"))
    if encoder:
        rng = _rng(coder, "nearly_equal_sizes")
        boxes = random_boxes(rng, (4,), dyadic=False, unit=unit)
        nearly = boxes + rng.uniform(1e-10, 2e-10, boxes.shape) * np.array([-1, -1, 1, 1]) * unit
        yield _case(coder, "nearly_equal_sizes", "accuracy", "references 1e-10 larger: codes of 1e-10, the log of a "
                    "ratio near 1", [boxes, nearly], rng, dtypes=FLOAT64_ONLY, flags=("NonDyadic", "Cancellation"))


@cases_for(*FASTER_RCNN, *SSD, "decode_yolo_boxes")
def nonfinite_cases(coder: str) -> Iterator[VectorCase]:
    """NaN where every output and every gradient of its row depends on it (the row oracle expects a NaN row's
    gradients all NaN): an encoder's box with NaN x2 and y2, a decoder's reference with NaN x2 and y2, a YOLO head
    output that is NaN throughout. The other rows are unaffected."""
    rng = _rng(coder, "nan")
    unit = 1.0 if coder in FASTER_RCNN else 1 / 16
    if coder == "decode_yolo_boxes":
        raw = random_codes(rng, (3,))
        raw[1] = np.nan
        yield _case(coder, "nan", "nonfinite", "raw[1] is NaN throughout (a diverged head)",
                    [raw, np.array([[6, 5], [0, 12], [3, 3]]), COCO_ANCHORS[:3]], rng, flags=("NaNInput",))
        return
    boxes = random_boxes(rng, (3,), unit=unit)
    references = random_references(rng, boxes, unit=unit)
    if coder in ENCODERS:
        boxes[1, 2:] = np.nan
        yield _case(coder, "nan", "nonfinite", "x2 and y2 of boxes[1] are NaN", [boxes, references], rng,
                    flags=("NaNInput",))
        return
    # a decoder is linear in its reference: the reference's gradient depends on the code only, and the code's
    # centre gradient on the reference only, so both carry a NaN (not the size codes: see nan_size_code_cases)
    codes = random_codes(rng, (3,))
    codes[1, :2] = np.nan
    references[1, 2:] = np.nan
    name = get(coder).inputs[1].name
    yield _case(coder, "nan", "nonfinite", f"the centre codes of row 1 and x2, y2 of {name}[1] are NaN",
                [codes, references], rng, flags=("NaNInput",))


@pending_cases_for("decode_boxes", "decode_ssd_boxes", reason="refloss's clamp where(d < clamp, d, clamp) turns a "
                   "NaN size code into the clamp (a finite box, zero gradient; torch.clamp and torchvision give NaN): "
                   "write it as where(d >= clamp, clamp, d); and the row oracle expects every gradient of a NaN row "
                   "NaN, where the t_x, t_y gradients a_w / w_x do not depend on t_w")
def nan_size_code_cases(coder: str) -> Iterator[VectorCase]:
    """A NaN size code: the box's x1 and x2 are NaN (not the clamped width)."""
    rng = _rng(coder, "nan_size_code")
    unit = 1.0 if coder in FASTER_RCNN else 1 / 16
    boxes = random_boxes(rng, (2,), unit=unit)
    codes = random_codes(rng, (2,))
    codes[1, 2] = np.nan
    yield _case(coder, "nan_size_code", "nonfinite", "t_w of row 1 is NaN: x1 and x2 must be NaN",
                [codes, random_references(rng, boxes, unit=unit)], rng, flags=("NaNInput",))


# ---- YOLOv3 ---------------------------------------------------------------------------------------------------------

YOLO_SCALES = [((13, 13), (416, 416)), ((26, 26), (416, 416)), ((52, 52), (608, 608)), ((20, 13), (640, 416))]


def yolo_boxes(rng: np.random.Generator, shape: tuple[int, ...], dyadic: bool = True) -> np.ndarray:
    """Boxes in image units: corners multiples of 1/128 in [0, 0.75], sides in [1/32, 1/4] (exact in every
    dtype), or float64 values."""
    if dyadic:
        corner, side = _grid(rng, 0.0, 0.75, shape + (2,), 1 / 128), _grid(rng, 1 / 32, 0.25, shape + (2,), 1 / 128)
    else:
        corner, side = nondyadic_values(rng, shape + (2,), 0.0, 0.75), nondyadic_values(rng, shape + (2,), .03, .25)
    return np.concatenate([corner, corner + side], axis=-1)


def own_cells(boxes: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The cell each box's centre falls in, floor(c W), as darknet's target builder picks it."""
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    return np.minimum(np.floor(centre * np.array(grid)), np.array(grid) - 1).astype(np.int64)


def random_cells(rng: np.random.Generator, shape: tuple[int, ...], grid: tuple[int, int]) -> np.ndarray:
    return np.stack([rng.integers(0, grid[0], shape), rng.integers(0, grid[1], shape)], axis=-1)


def random_anchors(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return COCO_ANCHORS[rng.integers(0, len(COCO_ANCHORS), shape)]


def yolo_offsets(rng: np.random.Generator, shape: tuple[int, ...], dyadic: bool = True,
                 high: float = 1.0) -> np.ndarray:
    """Raw outputs: t_x, t_y in [-4, high], t_w, t_h in [-2, 2]."""
    draw = (lambda lo, hi, s: _grid(rng, lo, hi, s, 1 / 32)) if dyadic else (
        lambda lo, hi, s: nondyadic_values(rng, s, lo, hi))
    return np.concatenate([draw(-4.0, high, shape + (2,)), draw(-2.0, 2.0, shape + (2,))], axis=-1)


def _scale_params(grid: tuple[int, int], net: tuple[int, int]) -> dict:
    return {} if (grid, net) == ((13, 13), (416, 416)) else {"grid_size": tuple(map(float, grid)),
                                                             "input_size": tuple(map(float, net))}


@cases_for(*YOLO)
def yolo_basic_cases(coder: str) -> Iterator[VectorCase]:
    """Random boxes (their own cells) or raw outputs (random cells) and COCO anchors at several grid and input
    sizes; a head (A, H, W, 4) with cells (H, W, 2) and anchors (A, 1, 1, 2); a zero cotangent."""
    encoder = coder == "encode_yolo_boxes"
    for grid, net in YOLO_SCALES:
        name = f"grid{grid[0]}x{grid[1]}_input{net[0]}x{net[1]}"
        rng = _rng(coder, name)
        if encoder:
            boxes = yolo_boxes(rng, (6,))
            inputs = [boxes, own_cells(boxes, grid), random_anchors(rng, (6,))]
        else:
            inputs = [yolo_offsets(rng, (6,)), random_cells(rng, (6,), grid), random_anchors(rng, (6,))]
        params = _scale_params(grid, net)
        yield _case(coder, name, "basic", f"{'boxes in their own cells' if encoder else 'raw outputs'}, grid "
                    f"{grid}, input {net}", inputs, rng, params,
                    flags=("Basic",) + (("ParameterGrid",) if params else ()))
    rng = _rng(coder, "head")
    grid = (4, 2)  # W = 4 columns, H = 2 rows; cells[j, i] = (i, j)
    cells = np.stack(np.meshgrid(np.arange(4), np.arange(2)), axis=-1)
    anchors = COCO_ANCHORS[[6, 7]].reshape(2, 1, 1, 2)
    if encoder:
        centres = (cells + _grid(rng, 1 / 8, 7 / 8, (2, 2, 4, 2), 1 / 8)) / np.array(grid)
        sides = _grid(rng, 1 / 16, 1 / 2, (2, 2, 4, 2), 1 / 16)
        first = np.concatenate([centres - sides / 2, centres + sides / 2], axis=-1)
    else:
        first = yolo_offsets(rng, (2, 2, 4))
    yield _case(coder, "head", "basic", "a head (A, H, W, 4) = (2, 2, 4, 4), cells (H, W, 2), anchors (A, 1, 1, 2):"
                " each anchor's gradient sums over 8 cells", [first, cells, anchors], rng,
                {"grid_size": (4.0, 2.0), "input_size": (416.0, 416.0)}, flags=("Shape", "ParameterGrid"))
    rng = _rng(coder, "scalar")
    first = np.array([0.375, 0.25, 0.625, 0.5]) if encoder else np.array([-0.5, 0.75, 0.25, -1.0])
    yield _case(coder, "scalar", "basic", "one box, cell and anchor, no leading dimensions",
                [first, [6, 4], [116.0, 90.0]], rng, flags=("Shape",))
    rng = _rng(coder, "zero_cotangent")
    first = yolo_boxes(rng, (3,)) if encoder else yolo_offsets(rng, (3,))
    cells = own_cells(first, (13, 13)) if encoder else random_cells(rng, (3,), (13, 13))
    yield _case(coder, "zero_cotangent", "basic", "grad_output = 0 must give zero gradients",
                [first, cells, random_anchors(rng, (3,))], rng, cotangent=np.zeros((3, 4)), flags=("ZeroCotangent",))


@cases_for(*YOLO)
def yolo_worked_examples(coder: str) -> Iterator[VectorCase]:
    """detectors.md §5.9: a 416 input, GT centre (0.5, 0.4) size (0.3, 0.2) = (0.35, 0.3, 0.65, 0.5), anchor
    116 x 90 on the 13 x 13 grid, cell (6, 5): t = (0.5, 0.2, ln(124.8/116), ln(83.2/90))
    = (0.5, 0.2, 0.073122, -0.078562); raw zeros there decode to centre (6.5/13, 5.5/13), size (116, 90)/416."""
    rng = _rng(coder, "worked_5_9")
    if coder == "encode_yolo_boxes":
        yield _case(coder, "worked_5_9", "accuracy", "§5.9: GT (0.35, 0.3, 0.65, 0.5), cell (6, 5), anchor 116 x 90",
                    [[[0.35, 0.3, 0.65, 0.5]], [[6, 5]], [[116.0, 90.0]]], rng, dtypes=FLOAT64_ONLY,
                    flags=("NonDyadic",))
        # dyadic: centre (0.5, 0.375) size (0.25, 0.25): (6.5 - 6, 4.875 - 4, ln(104/116), ln(104/90))
        yield _case(coder, "worked_dyadic", "basic", "GT (0.375, 0.25, 0.625, 0.5), cell (6, 4), anchor 116 x 90",
                    [[[0.375, 0.25, 0.625, 0.5]], [[6, 4]], [[116.0, 90.0]]], rng, flags=("Basic",))
        return
    yield _case(coder, "worked_5_9", "basic", "raw zeros in cell (6, 5) with anchor 116 x 90: sigma(0) = 1/2",
                [np.zeros((1, 4)), [[6, 5]], [[116.0, 90.0]]], rng, flags=("Basic",))
    # §5.9's targets back through the sigmoid: (logit 0.5, logit 0.2, t_w, t_h) decodes to the GT
    raw = [0.0, math.log(0.2 / 0.8), math.log(124.8 / 116), math.log(83.2 / 90)]
    yield _case(coder, "worked_5_9_round_trip", "accuracy", "§5.9's targets with logits for the offsets decode "
                "to (0.35, 0.3, 0.65, 0.5)", [[raw], [[6, 5]], [[116.0, 90.0]]], rng, dtypes=FLOAT64_ONLY,
                flags=("NonDyadic",))
    # 26 x 26 grid, 608 input, cell (13, 10), anchor (30, 61), raw (ln 3, -ln 3, ln 2, 0): sigma = 3/4, 1/4
    yield _case(coder, "grid26_thirds", "accuracy", "raw (ln 3, -ln 3, ln 2, 0) in cell (13, 10) of 26 x 26, "
                "608 input: centre (13.75, 10.25)/26", [[[math.log(3), -math.log(3), math.log(2), 0.0]], [[13, 10]],
                                                        [[30.0, 61.0]]], rng,
                {"grid_size": (26.0, 26.0), "input_size": (608.0, 608.0)}, dtypes=FLOAT64_ONLY,
                flags=("NonDyadic", "ParameterGrid"))


@cases_for(*YOLO)
def yolo_edge_cases(coder: str) -> Iterator[VectorCase]:
    """Cells at the grid's corners; for encoding, centres outside their given cell (neighbour-cell assignment,
    offsets outside [0, 1)) and exactly on a cell boundary; for decoding, saturated offsets below; no rows."""
    encoder = coder == "encode_yolo_boxes"
    rng = _rng(coder, "grid_corners")
    cells = np.array([[0, 0], [12, 0], [0, 12], [12, 12]])
    if encoder:
        centres = (cells + np.array([[0.0, 0.0], [0.5, 0.25], [0.75, 0.875], [0.96875, 0.96875]])) / 13
        sides = np.array([[1 / 16, 1 / 8], [1 / 4, 1 / 32], [1 / 8, 1 / 8], [1 / 64, 1 / 64]])
        first = np.concatenate([centres - sides / 2, centres + sides / 2], axis=-1)
        comment = "cells at the four corners of the 13 x 13 grid; one centre exactly on its cell's corner (offset 0)"
        yield _case(coder, "grid_corners", "edge", comment, [first, cells, COCO_ANCHORS[:4]], rng, dtypes=FLOAT64_ONLY,
                    flags=("NonDyadic",))  # x/13 is not dyadic
        rng = _rng(coder, "neighbour_cells")
        boxes = yolo_boxes(rng, (4,))
        neighbours = np.clip(own_cells(boxes, (13, 13)) + np.array([[1, 0], [-1, 0], [0, 1], [-1, -1]]), 0, 12)
        yield _case(coder, "neighbour_cells", "edge", "each box assigned to a neighbour of its own cell (YOLOv5-style):"
                    " offsets outside [0, 1), returned as is", [boxes, neighbours, random_anchors(rng, (4,))], rng,
                    flags=("Basic",))
    else:
        yield _case(coder, "grid_corners", "edge", "cells at the four corners of the 13 x 13 grid",
                    [yolo_offsets(rng, (4,)), cells, COCO_ANCHORS[:4]], rng, flags=("Basic",))
        rng = _rng(coder, "saturated_below")
        raw = np.array([[-40.0, -20.0, 0.0, 0.0], [-100.0, 0.5, -30.0, 6.0]])
        yield _case(coder, "saturated_below", "edge", "offsets -40, -20, -100: sigma tiny (no NaN); "
                    "size codes -30 and 6", [raw, [[3, 4], [5, 6]], COCO_ANCHORS[:2]], rng, dtypes=FLOAT64_ONLY,
                    flags=("TinyMagnitude",))


@cases_for(*YOLO)
def yolo_accuracy_cases(coder: str) -> Iterator[VectorCase]:
    """Float64: non-dyadic values at two scales; tiny boxes (encoding: the log of a small width)."""
    encoder = coder == "encode_yolo_boxes"
    for grid, net in YOLO_SCALES[::2]:
        name = f"nondyadic_grid{grid[0]}"
        rng = _rng(coder, name)
        if encoder:
            boxes = yolo_boxes(rng, (6,), dyadic=False)
            inputs = [boxes, own_cells(boxes, grid), nondyadic_values(rng, (6, 2), 8.0, 400.0)]
        else:
            inputs = [yolo_offsets(rng, (6,), dyadic=False), random_cells(rng, (6,), grid),
                      nondyadic_values(rng, (6, 2), 8.0, 400.0)]
        yield _case(coder, name, "accuracy", f"non-dyadic values, grid {grid}, input {net}", inputs, rng,
                    _scale_params(grid, net), dtypes=FLOAT64_ONLY, flags=("NonDyadic",))
    if encoder:
        rng = _rng(coder, "tiny_boxes")
        centres = rng.uniform(0.1, 0.9, (3, 2))
        sides = rng.uniform(1e-4, 1e-3, (3, 2))
        boxes = np.concatenate([centres - sides / 2, centres + sides / 2], axis=-1)
        yield _case(coder, "tiny_boxes", "accuracy", "boxes of side ~1e-4 at ~0.5: their widths are differences of "
                    "nearly equal corners", [boxes, own_cells(boxes, (13, 13)), COCO_ANCHORS[:3]], rng,
                    dtypes=FLOAT64_ONLY,  # gradients 1/side ~ 1e4 beside W = 13, and central differences'
                    # step 1e-6 max(1, |x|) is 1% of a side: MixedMagnitude (checked against the analytic ones)
                    flags=("NonDyadic", "Cancellation", "TinyMagnitude", "MixedMagnitude"))


@cases_for("decode_yolo_boxes")
def yolo_positive_offsets(coder: str) -> Iterator[VectorCase]:
    """Raw offsets t_x, t_y above 1 (on the grid, 2 to 6, and saturated, 6 to 40)."""
    rng = _rng(coder, "positive_offsets")
    raw = np.concatenate([_grid(rng, 2.0, 6.0, (6, 2), 1 / 32), _grid(rng, -2.0, 2.0, (6, 2), 1 / 32)], axis=-1)
    yield _case(coder, "positive_offsets", "basic", "offsets in [2, 6]", [raw, random_cells(rng, (6,), (13, 13)),
                                                                         random_anchors(rng, (6,))], rng,
                flags=("Basic",))
    rng = _rng(coder, "saturated_above")
    raw = np.array([[6.0, 12.0, 0.0, 0.0], [20.0, 40.0, 1.0, -1.0]])
    yield _case(coder, "saturated_above", "accuracy", "offsets 6 to 40: 1 - sigma(t) cancels, sigma'(t) = e^-t "
                "nearly", [raw, [[3, 4], [5, 6]], COCO_ANCHORS[:2]], rng, dtypes=FLOAT64_ONLY,
                flags=("Cancellation",))


@cases_for(*FASTER_RCNN, *SSD, *YOLO)
def empty_cases(coder: str) -> Iterator[VectorCase]:
    """No rows at all: the output is empty of shape (0, 4), and so are the gradients."""
    rng = _rng(coder, "empty")
    rows = [np.zeros((0, 2), np.int64), np.full((0, 2), 10.0)] if coder in YOLO else [np.zeros((0, 4))]
    yield _case(coder, "empty", "edge", "no rows: inputs of shape (0, 4)", [np.zeros((0, 4))] + rows, rng,
                flags=("Empty",))


# ---- invalid input ---------------------------------------------------------------------------------------------------

@cases_for(*FASTER_RCNN, *SSD)
def anchor_invalid_cases(coder: str) -> Iterator[VectorCase]:
    """Zero-width or inverted references, zero-size boxes to encode, parameters out of domain, shapes that do not
    match or would enlarge the first input, rows of 3."""
    encoder = coder in ENCODERS
    reference = "anchors" if coder in FASTER_RCNN else "priors"
    unit = 1.0 if coder in FASTER_RCNN else 1 / 16
    rng = _rng(coder, "invalid")
    boxes = random_boxes(rng, (3,), unit=unit)
    first = boxes if encoder else random_codes(rng, (3,))
    references = random_references(rng, boxes, unit=unit)

    def bad(name: str, comment: str, inputs: list, error: str, params: dict | None = None,
            flags: tuple[str, ...] = ()) -> VectorCase:
        return _case(coder, name, "invalid", comment, inputs, rng, params, cotangent=np.ones(np.shape(inputs[0])),
                     error=error, flags=("InvalidInput",) + flags)

    zero_width = references.copy()
    zero_width[1, 2] = zero_width[1, 0]
    yield bad(f"zero_width_{reference[:-1]}", f"{reference}[1] has x2 == x1: no unit to measure the code in",
              [first, zero_width], "invalid_box", flags=("DegenerateBox",))
    inverted = references.copy()
    inverted[2, [1, 3]] = inverted[2, [3, 1]]
    yield bad(f"inverted_{reference[:-1]}", f"{reference}[2] has y2 < y1", [first, inverted], "invalid_box",
              flags=("InvertedBox",))
    if encoder:
        zero_height = boxes.copy()
        zero_height[0, 3] = zero_height[0, 1]
        yield bad("zero_height_box", "boxes[0] has y2 == y1: its size code is -inf", [zero_height, references],
                  "invalid_box", flags=("DegenerateBox",))
        flipped = boxes.copy()
        flipped[1, [0, 2]] = flipped[1, [2, 0]]
        yield bad("inverted_box", "boxes[1] has x2 < x1", [flipped, references], "invalid_box",
                  flags=("InvertedBox",))
    yield bad("row_count_mismatch", f"3 rows against 2 {reference}", [first, references[:2]], "shape_mismatch",
              flags=("ShapeMismatch",))
    yield bad("reference_would_enlarge", f"3 rows against {reference} of shape (2, 3, 4): broadcasting would "
              "enlarge the output", [first, np.broadcast_to(references, (2, 3, 4))], "shape_mismatch",
              flags=("ShapeMismatch",))
    if coder != "encode_ssd_boxes":  # (pending there: see ssd_boxes_checked_as_codes)
        yield bad("three_coordinates", "rows of 3 numbers", [first[:, :3], references[:, :3]],
                  "invalid_box" if encoder else "shape_mismatch")
    if coder in FASTER_RCNN:
        for name, weights in (("zero_weight", (1.0, 1.0, 0.0, 1.0)), ("negative_weight", (10.0, -10.0, 5.0, 5.0)),
                              ("three_weights", (10.0, 10.0, 5.0)), ("infinite_weight", (1.0, 1.0, 1.0, math.inf))):
            yield bad(name, f"weights = {weights}", [first, references], "invalid_parameter", {"weights": weights})
    else:
        for name, variances in (("zero_variance", (0.0, 0.25)), ("negative_variance", (0.125, -0.25)),
                                ("one_variance", (0.125,))):
            yield bad(name, f"variances = {variances}", [first, references], "invalid_parameter",
                      {"variances": variances})
    if not encoder:
        yield bad("nan_clamp", "clamp = NaN", [first, references], "invalid_parameter", {"clamp": math.nan})


@cases_for("encode_ssd_boxes")
def ssd_boxes_checked_as_codes(coder: str) -> Iterator[VectorCase]:
    """Boxes of 3 coordinates are invalid boxes, as for every other box argument."""
    rng = _rng(coder, "three_coordinates")
    boxes = random_boxes(rng, (3,), unit=1 / 16)
    yield _case(coder, "three_coordinates", "invalid", "rows of 3 numbers",
                [boxes[:, :3], random_references(rng, boxes, unit=1 / 16)[:, :3]], rng, cotangent=np.ones((3, 3)),
                error="invalid_box", flags=("InvalidInput",))


@cases_for(*YOLO)
def yolo_invalid_cases(coder: str) -> Iterator[VectorCase]:
    """Cells outside the grid, non-positive anchors, zero-size boxes to encode, bad grid or input sizes, shapes
    that do not broadcast, rows of 3."""
    encoder = coder == "encode_yolo_boxes"
    rng = _rng(coder, "invalid")
    first = yolo_boxes(rng, (3,)) if encoder else yolo_offsets(rng, (3,))
    cells = own_cells(first, (13, 13)) if encoder else random_cells(rng, (3,), (13, 13))
    anchors = random_anchors(rng, (3,))

    def bad(name: str, comment: str, inputs: list, error: str, params: dict | None = None,
            flags: tuple[str, ...] = ()) -> VectorCase:
        return _case(coder, name, "invalid", comment, inputs, rng, params, cotangent=np.ones(np.shape(inputs[0])),
                     error=error, flags=("InvalidInput",) + flags)

    for name, cell, comment in (("cell_column_outside", [13, 2], "column i = 13 on a 13-column grid"),
                                ("cell_negative_row", [4, -1], "row j = -1")):
        outside = cells.copy()
        outside[1] = cell
        yield bad(name, comment, [first, outside, anchors], "label_out_of_range")
    outside = cells.copy()
    outside[0] = [20, 5]
    yield bad("cell_outside_smaller_grid", "column 20 is inside 26 x 26 but not 13 x 10", [first, outside, anchors],
              "label_out_of_range", {"grid_size": (13.0, 10.0)})
    for name, anchor in (("zero_anchor", [0.0, 90.0]), ("negative_anchor", [116.0, -90.0])):
        bad_anchors = anchors.copy()
        bad_anchors[2] = anchor
        yield bad(name, f"anchors[2] = {anchor}", [first, cells, bad_anchors], "invalid_box")
    if encoder:
        zero_width = first.copy()
        zero_width[0, 2] = zero_width[0, 0]
        yield bad("zero_width_box", "boxes[0] has x2 == x1: its size target is -inf", [zero_width, cells, anchors],
                  "invalid_box", flags=("DegenerateBox",))
        flipped = first.copy()
        flipped[2, [1, 3]] = flipped[2, [3, 1]]
        yield bad("inverted_box", "boxes[2] has y2 < y1", [flipped, cells, anchors], "invalid_box",
                  flags=("InvertedBox",))
    for name, params in (("zero_grid", {"grid_size": (0.0, 13.0)}), ("fractional_grid", {"grid_size": (13.5, 13.0)}),
                         ("negative_input_size", {"input_size": (416.0, -416.0)}),
                         ("one_grid_size", {"grid_size": (13.0,)})):
        yield bad(name, f"{params}", [first, cells, anchors], "invalid_parameter", params)
    yield bad("cells_mismatch", "3 rows against 2 cells", [first, cells[:2], anchors], "shape_mismatch",
              flags=("ShapeMismatch",))
    yield bad("anchors_mismatch", "3 rows against 2 anchors", [first, cells, anchors[:2]], "shape_mismatch",
              flags=("ShapeMismatch",))
    yield bad("cells_of_three", "cells of shape (3, 3)", [first, np.concatenate([cells, cells[:, :1]], -1), anchors],
              "shape_mismatch")
    yield bad("three_coordinates", "rows of 3 numbers", [first[:, :3], cells, anchors],
              "invalid_box" if encoder else "shape_mismatch")
