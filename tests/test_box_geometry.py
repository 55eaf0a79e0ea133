"""box_convert and box_area: hand-worked values, torchvision, properties, VJPs (autograd, finite differences,
mpmath), bad input, and realistic wrong implementations that these checks catch."""

import itertools

import mpmath
import numpy as np
import pytest
from autograd import make_vjp
from hypothesis import given
from hypothesis import strategies as st

from refloss._docstring import REQUIRED_SECTIONS, sections, to_text
from refloss._registry import get
from refloss.boxes.geometry import BOX_FORMATS, box_area, box_area_vjp, box_convert, box_convert_vjp

PAIRS = list(itertools.permutations(BOX_FORMATS, 2))  # the 6 directions

# ---- hand-worked values -------------------------------------------------------------------------------------------

# One box in each format, worked out by hand:
#   xyxy (10, 20, 30, 60): w = 30 - 10 = 20, h = 60 - 20 = 40, centre ((10 + 30)/2, (20 + 60)/2) = (20, 40).
#   xywh (1, 2, 3, 4): corners (1, 2) and (1 + 3, 2 + 4) = (4, 6); centre (1 + 1.5, 2 + 2) = (2.5, 4).
#   cxcywh (5, 5, 2, 4): corners (5 - 1, 5 - 2) = (4, 3) and (5 + 1, 5 + 2) = (6, 7); top-left (4, 3).
HAND_BOXES = [
    {"xyxy": [10.0, 20.0, 30.0, 60.0], "xywh": [10.0, 20.0, 20.0, 40.0], "cxcywh": [20.0, 40.0, 20.0, 40.0]},
    {"xyxy": [1.0, 2.0, 4.0, 6.0], "xywh": [1.0, 2.0, 3.0, 4.0], "cxcywh": [2.5, 4.0, 3.0, 4.0]},
    {"xyxy": [4.0, 3.0, 6.0, 7.0], "xywh": [4.0, 3.0, 2.0, 4.0], "cxcywh": [5.0, 5.0, 2.0, 4.0]},
    # a zero-height box is valid: xyxy (0, 1, 2, 1), xywh (0, 1, 2, 0), centre (1, 1)
    {"xyxy": [0.0, 1.0, 2.0, 1.0], "xywh": [0.0, 1.0, 2.0, 0.0], "cxcywh": [1.0, 1.0, 2.0, 0.0]},
]


def check_convert_hand_values(convert):
    for box in HAND_BOXES:
        for in_fmt, out_fmt in itertools.product(BOX_FORMATS, repeat=2):
            actual = np.asarray(convert(np.array(box[in_fmt]), in_fmt, out_fmt))
            np.testing.assert_array_equal(actual, box[out_fmt], err_msg=f"{in_fmt} -> {out_fmt}")


def test_box_convert_hand_values():
    check_convert_hand_values(box_convert)


def test_box_convert_keeps_leading_dimensions_and_copies():
    boxes = np.array([[h["xyxy"] for h in HAND_BOXES]] * 2)  # (2, 4, 4)
    assert box_convert(boxes, "xyxy", "cxcywh").shape == (2, 4, 4)
    same = box_convert(boxes, "xyxy", "xyxy")
    np.testing.assert_array_equal(same, boxes)
    same[0, 0, 0] = -99.0
    assert boxes[0, 0, 0] == 10.0  # a copy, like torchvision's clone()


# Areas by hand: (4 - 1)(7 - 2) = 15; a zero-width box (1, 1, 1, 5) has 0 * 4 = 0; (-2, -1, 0.5, 3): 2.5 * 4 = 10.
AREA_CASES = [([1.0, 2.0, 4.0, 7.0], 15.0), ([1.0, 1.0, 1.0, 5.0], 0.0), ([-2.0, -1.0, 0.5, 3.0], 10.0),
              ([0.0, 0.0, 1e-3, 2e3], 2.0)]


def check_area_hand_values(area):
    for box, expected in AREA_CASES:
        assert float(area(np.array(box))) == expected, box
    stacked = np.array([[box for box, _ in AREA_CASES]] * 3)  # (3, 4, 4) -> (3, 4)
    np.testing.assert_array_equal(area(stacked), [[e for _, e in AREA_CASES]] * 3)


def test_box_area_hand_values():
    check_area_hand_values(box_area)


# VJPs by hand.
# box_area at (1, 2, 4, 7): w = 3, h = 5, so dA = (-h, -w, h, w) = (-5, -3, 5, 3); times grad_output 2.
# box_convert cxcywh -> xyxy with a cotangent on x1 only, g = (1, 0, 0, 0): x1 = cx - w/2, so d/dcx = 1 and
#   d/dw = -1/2: (1, 0, -0.5, 0). xyxy -> xywh with g on w only, (0, 0, 1, 0): w = x2 - x1 gives (-1, 0, 1, 0).
#   xywh -> cxcywh with g on cx only, (1, 0, 0, 0): cx = x + w/2 gives (1, 0, 0.5, 0).
def check_area_vjp_hand_values(area_vjp):
    (grad,) = area_vjp(2.0, np.array([1.0, 2.0, 4.0, 7.0]))
    np.testing.assert_array_equal(grad, [-10.0, -6.0, 10.0, 6.0])


def check_convert_vjp_hand_values(convert_vjp):
    box = np.array([1.0, 2.0, 4.0, 7.0])  # valid in every format; a linear map's VJP does not depend on it
    for (in_fmt, out_fmt), g, expected in [
        (("cxcywh", "xyxy"), [1.0, 0.0, 0.0, 0.0], [1.0, 0.0, -0.5, 0.0]),
        (("xyxy", "xywh"), [0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 1.0, 0.0]),
        (("xywh", "cxcywh"), [1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.5, 0.0]),
    ]:
        (grad,) = convert_vjp(np.array(g), box, in_fmt, out_fmt)
        np.testing.assert_array_equal(grad, expected, err_msg=f"{in_fmt} -> {out_fmt}")


def test_vjp_hand_values():
    check_area_vjp_hand_values(box_area_vjp)
    check_convert_vjp_hand_values(box_convert_vjp)


# ---- torchvision ------------------------------------------------------------------------------------------------

def _random_xyxy(rng, shape=(64,), scale=100.0):
    corner = rng.uniform(-scale, scale, size=(*shape, 2))
    return np.concatenate([corner, corner + rng.uniform(0, scale, size=(*shape, 2))], axis=-1)


TORCH_DTYPES = ["float64", "float32", "float16", "bfloat16"]


def _to_dtype(torch, values, dtype):
    """values rounded to the dtype, both as a torch tensor and as the float64 array of the rounded values."""
    tensor = torch.tensor(values, dtype=torch.float64).to(getattr(torch, dtype))
    return tensor, tensor.to(torch.float64).numpy()


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("in_fmt, out_fmt", PAIRS + [(f, f) for f in BOX_FORMATS])
def test_box_convert_matches_torchvision(in_fmt, out_fmt, dtype):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(3)
    boxes = box_convert(_random_xyxy(rng), "xyxy", in_fmt)  # valid boxes in in_fmt
    tensor, rounded = _to_dtype(torch, boxes, dtype)
    theirs = ops.box_convert(tensor, in_fmt, out_fmt)
    assert theirs.dtype == tensor.dtype  # torchvision keeps float16 and bfloat16 (refloss returns float64)
    ours = box_convert(rounded, in_fmt, out_fmt)
    if dtype == "float64":
        # The same operations in the same order: identical bits.
        np.testing.assert_array_equal(ours, theirs.numpy())
    else:
        # torchvision rounds each operation to the dtype: at most two roundings of numbers no larger than the
        # largest coordinate (two steps through xyxy), so 2 units of relative precision of that size suffice.
        unit = float(torch.finfo(tensor.dtype).eps)
        bound = 2 * unit * np.max(np.abs(rounded))
        np.testing.assert_allclose(ours, theirs.to(torch.float64).numpy(), rtol=0, atol=bound)


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_box_area_matches_torchvision(dtype):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    boxes = _random_xyxy(np.random.default_rng(4), shape=(5, 7))
    tensor, rounded = _to_dtype(torch, boxes, dtype)
    theirs = ops.box_area(tensor)
    # torchvision computes float16 and bfloat16 areas in float32 (its _upcast)
    assert theirs.dtype == (tensor.dtype if dtype in ("float64", "float32") else torch.float32)
    ours = box_area(rounded)
    if dtype == "float64":
        np.testing.assert_array_equal(ours, theirs.numpy())
    else:
        # width, height and their product each rounded once in float32 (or exact for float64): 3 roundings.
        np.testing.assert_allclose(ours, theirs.to(torch.float64).numpy(), rtol=3 * 2.0**-23, atol=0)


# ---- properties -------------------------------------------------------------------------------------------------

coordinates = st.floats(-1e3, 1e3, allow_nan=False)
sizes = st.floats(0.0, 1e3, allow_nan=False)


@st.composite
def xyxy_boxes(draw):
    x, y, w, h = draw(coordinates), draw(coordinates), draw(sizes), draw(sizes)
    return np.array([x, y, x + w, y + h])


@given(xyxy_boxes(), st.sampled_from(BOX_FORMATS), st.sampled_from(BOX_FORMATS))
def test_round_trips_return_the_boxes(box, via, start):
    boxes = box_convert(box, "xyxy", start)
    back = box_convert(box_convert(boxes, start, via), via, start)
    # each conversion rounds sums of numbers up to 2e3 in size: a few ulps of 2e3 (4.5e-13 each)
    np.testing.assert_allclose(back, boxes, rtol=0, atol=8 * np.spacing(4e3))


@given(xyxy_boxes(), st.sampled_from(PAIRS))
def test_sizes_survive_conversion_and_area_is_width_times_height(box, pair):
    in_fmt, out_fmt = pair
    converted = box_convert(box_convert(box, "xyxy", in_fmt), in_fmt, out_fmt)
    wh = box_convert(box_convert(converted, out_fmt, "xyxy"), "xyxy", "xywh")[2:]
    np.testing.assert_allclose(wh, [box[2] - box[0], box[3] - box[1]], rtol=0, atol=8 * np.spacing(4e3))
    w, h = box[2] - box[0], box[3] - box[1]
    assert box_area(box) == w * h


@given(xyxy_boxes(), st.floats(-100, 100), st.floats(-100, 100), st.integers(-4, 4))
def test_area_is_translation_invariant_and_scales_quadratically(box, dx, dy, k):
    moved = box + np.array([dx, dy, dx, dy])
    # translation changes the rounding of the corners (each moves by at most half an ulp of 1.1e3): the sides
    # change by at most an ulp of 1.1e3 each
    w, h = box[2] - box[0], box[3] - box[1]
    assert abs(box_area(moved) - box_area(box)) <= 2 * np.spacing(2048.0) * (w + h + 1)
    scale = 2.0**k  # a power of two scales every operation exactly
    assert box_area(scale * box) == scale * scale * box_area(box)


# ---- VJPs: autograd, central finite differences, mpmath -----------------------------------------------------------

def _valid_boxes(fmt, rng, shape=(3,)):
    return box_convert(_random_xyxy(rng, shape, scale=5.0), "xyxy", fmt)


@pytest.mark.parametrize("in_fmt, out_fmt", PAIRS + [(f, f) for f in BOX_FORMATS])
def test_box_convert_vjp_matches_autograd_and_finite_differences(in_fmt, out_fmt):
    rng = np.random.default_rng(5)
    boxes = _valid_boxes(in_fmt, rng)
    g = rng.normal(size=boxes.shape)
    (ours,) = box_convert_vjp(g, boxes, in_fmt, out_fmt)
    autograd_vjp, _ = make_vjp(lambda b: box_convert(b, in_fmt, out_fmt))(boxes)
    np.testing.assert_allclose(ours, autograd_vjp(g), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ours, _central_differences(lambda b: box_convert(b, in_fmt, out_fmt), boxes, g),
                               rtol=1e-7, atol=1e-7)


def test_box_area_vjp_matches_autograd_and_finite_differences():
    rng = np.random.default_rng(6)
    boxes = _random_xyxy(rng, (2, 3), scale=5.0)
    g = rng.normal(size=(2, 3))
    (ours,) = box_area_vjp(g, boxes)
    autograd_vjp, _ = make_vjp(box_area)(boxes)
    np.testing.assert_allclose(ours, autograd_vjp(g), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ours, _central_differences(box_area, boxes, g), rtol=1e-7, atol=1e-7)


def _central_differences(f, x, g, step=1e-5):
    """<g, f(x + step e_i) - f(x - step e_i)> / (2 step) for each coordinate i: the VJP to O(step^2) (here exact
    but for rounding, since the functions are linear or quadratic)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        grad[i] = np.sum(g * (f(up) - f(down))) / (2 * step)
    return grad


# The textbook definitions, written directly for each direction (not through xyxy as the code is).
TEXTBOOK = {
    ("xyxy", "xywh"): lambda x1, y1, x2, y2: (x1, y1, x2 - x1, y2 - y1),
    ("xyxy", "cxcywh"): lambda x1, y1, x2, y2: ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1),
    ("xywh", "xyxy"): lambda x, y, w, h: (x, y, x + w, y + h),
    ("xywh", "cxcywh"): lambda x, y, w, h: (x + w / 2, y + h / 2, w, h),
    ("cxcywh", "xyxy"): lambda cx, cy, w, h: (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
    ("cxcywh", "xywh"): lambda cx, cy, w, h: (cx - w / 2, cy - h / 2, w, h),
}


def _mpmath_vjp(formula, box, g):
    """sum_o g_o d formula_o / d box_i by mpmath.diff at 30 digits."""
    with mpmath.workdps(30):
        point = [mpmath.mpf(float(v)) for v in box]
        grad = []
        for i in range(len(point)):
            def along(t, i=i):
                args = list(point)
                args[i] = t
                return formula(*args)
            grad.append(sum(mpmath.mpf(float(g[o])) * mpmath.diff(lambda t: along(t)[o], point[i])
                            for o in range(len(g))))
        return np.array([float(v) for v in grad])


@pytest.mark.parametrize("in_fmt, out_fmt", PAIRS)
def test_box_convert_vjp_matches_mpmath(in_fmt, out_fmt):
    rng = np.random.default_rng(7)
    box = _valid_boxes(in_fmt, rng, shape=())
    g = rng.normal(size=4)
    (ours,) = box_convert_vjp(g, box, in_fmt, out_fmt)
    np.testing.assert_allclose(ours, _mpmath_vjp(TEXTBOOK[in_fmt, out_fmt], box, g), rtol=1e-13, atol=1e-13)
    # and the value itself against the textbook formula
    np.testing.assert_allclose(box_convert(box, in_fmt, out_fmt), TEXTBOOK[in_fmt, out_fmt](*box), rtol=1e-15)


def test_box_area_vjp_matches_mpmath():
    rng = np.random.default_rng(8)
    box = _random_xyxy(rng, shape=(), scale=5.0)
    g = rng.normal(size=1)
    (ours,) = box_area_vjp(g[0], box)
    expected = _mpmath_vjp(lambda x1, y1, x2, y2: ((x2 - x1) * (y2 - y1),), box, g)
    np.testing.assert_allclose(ours, expected, rtol=1e-13, atol=1e-13)


# ---- bad input ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda b: box_convert(b, "xyxy", "xywh"), lambda b: box_convert(b, "xywh", "xyxy"),
    lambda b: box_convert_vjp(np.zeros(np.shape(b)), b, "cxcywh", "xyxy"), box_area,
    lambda b: box_area_vjp(np.zeros(np.shape(b)[:-1]), b),
])
@pytest.mark.parametrize("boxes", [np.zeros((2, 3)), np.zeros(5), np.float64(1.0)], ids=["(2,3)", "(5,)", "()"])
def test_wrong_last_dimension_is_refused(call, boxes):
    with pytest.raises(ValueError, match=r"boxes must have shape \(\.\.\., 4\)"):
        call(boxes)


@pytest.mark.parametrize("fmt, box, message", [
    ("xyxy", [0.0, 0.0, -1.0, 1.0], r"boxes\[1, 0\] = \[0.0, 0.0, -1.0, 1.0\] is not a valid box in xyxy: x2 < x1"),
    ("xyxy", [0.0, 2.0, 1.0, 1.0], r"boxes\[1, 0\] = .* in xyxy: y2 < y1"),
    ("xywh", [0.0, 0.0, -1.0, 1.0], r"boxes\[1, 0\] = \[0.0, 0.0, -1.0, 1.0\] is not a valid box in xywh: w < 0"),
    ("cxcywh", [0.0, 0.0, 1.0, -0.5], r"boxes\[1, 0\] = \[0.0, 0.0, 1.0, -0.5\] .* in cxcywh: h < 0"),
])
def test_an_inverted_box_is_refused_by_its_index(fmt, box, message):
    boxes = np.ones((2, 2, 4)) * [0.0, 0.0, 1.0, 1.0]
    boxes[1, 0] = box
    with pytest.raises(ValueError, match=message):
        box_convert(boxes, fmt, "xyxy" if fmt != "xyxy" else "xywh")
    with pytest.raises(ValueError, match=message):
        box_convert_vjp(np.zeros(boxes.shape), boxes, fmt, "cxcywh" if fmt != "cxcywh" else "xyxy")
    if fmt == "xyxy":
        for call in (box_area, lambda b: box_area_vjp(np.zeros((2, 2)), b)):
            with pytest.raises(ValueError, match=message):
                call(boxes)


@pytest.mark.parametrize("in_fmt, out_fmt, bad", [
    ("xyhw", "xyxy", "in_fmt"), ("xyxy", "XYWH", "out_fmt"), ("cxcywhr", "xyxy", "in_fmt"), (None, "xyxy", "in_fmt"),
])
def test_an_unknown_format_lists_the_allowed_ones(in_fmt, out_fmt, bad):
    for call in (lambda: box_convert([0.0, 0.0, 1.0, 1.0], in_fmt, out_fmt),
                 lambda: box_convert_vjp(np.zeros(4), [0.0, 0.0, 1.0, 1.0], in_fmt, out_fmt)):
        with pytest.raises(ValueError, match=rf"{bad} must be one of 'xyxy', 'xywh', 'cxcywh', got"):
            call()


@pytest.mark.parametrize("boxes", [np.array([0, 0, 1, 1], dtype=complex), np.array(["0", "0", "1", "1"]),
                                   np.array([True, False, True, True]), [0.0, None, 1.0, 1.0]])
def test_non_real_boxes_are_refused(boxes):
    for call in (lambda: box_convert(boxes, "xyxy", "xywh"), lambda: box_convert(boxes, "xywh", "xyxy"),
                 lambda: box_area(boxes)):
        with pytest.raises(TypeError, match="boxes must be an array of real numbers"):
            call()


def test_grad_output_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"grad_output must have the shape of the loss output \(2, 4\)"):
        box_convert_vjp(np.zeros(4), np.zeros((2, 4)), "xyxy", "xywh")
    with pytest.raises(ValueError, match=r"grad_output must have the shape of the loss output \(2,\)"):
        box_area_vjp(np.zeros((2, 4)), np.zeros((2, 4)))


def test_integers_and_nan_are_handled_like_numbers():
    np.testing.assert_array_equal(box_convert(np.array([1, 2, 4, 6]), "xyxy", "cxcywh"), [2.5, 4.0, 3.0, 4.0])
    assert np.isnan(box_area([0.0, np.nan, 1.0, 1.0]))  # NaN is not checked: it propagates


# ---- registry and docstrings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["box_convert", "box_area"])
def test_registered_as_geometry_and_documented(name):
    spec = get(name)
    assert (spec.kind, spec.family, spec.reductions) == ("geometry", "boxes", ())
    assert spec.vjp is not None and spec.vjp.__name__ == name + "_vjp"
    doc = sections(spec.forward.__doc__)
    for section in REQUIRED_SECTIONS:
        text = to_text(doc[section], strict=True)
        assert text.strip() and "\\" not in text and ":math:" not in text


# ---- realistic wrong implementations, each caught by the checks above --------------------------------------------

def _convert_xywh_as_centre(boxes, in_fmt, out_fmt):
    """ultralytics' "xywh" (centre) read as torchvision's top-left xywh."""
    boxes = np.asarray(boxes, dtype=float)
    fmt = {"xywh": "cxcywh"}.get
    return box_convert(boxes, fmt(in_fmt, in_fmt), fmt(out_fmt, out_fmt))


def _convert_cxcywh_full_width(boxes, in_fmt, out_fmt):
    """x1 = cx - w instead of cx - w/2 (a forgotten halving)."""
    xyxy = box_convert(boxes, in_fmt, "xyxy")
    if in_fmt == "cxcywh":
        cx, cy, w, h = np.moveaxis(np.asarray(boxes, dtype=float), -1, 0)
        xyxy = np.stack([cx - w, cy - h, cx + w, cy + h], axis=-1)
    return box_convert(xyxy, "xyxy", out_fmt)


def _convert_vjp_with_the_jacobian_untransposed(grad_output, boxes, in_fmt, out_fmt):
    """J g instead of J^T g: right for the symmetric steps, wrong for the others."""
    jacobian = np.array([box_convert_vjp(np.eye(4)[i], boxes, in_fmt, out_fmt)[0]
                         for i in range(4)])  # row i: J^T e_i, i.e. row i of J
    return (np.asarray(grad_output) @ jacobian.T,)


def _area_plus_one_pixel(boxes):
    """py-faster-rcnn's (x2 - x1 + 1)(y2 - y1 + 1)."""
    b = np.asarray(boxes, dtype=float)
    return (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)


def _area_with_x_twice(boxes):
    """A copy-paste slip: (x2 - x1)(x2 - x1)."""
    b = np.asarray(boxes, dtype=float)
    return (b[..., 2] - b[..., 0]) * (b[..., 2] - b[..., 0])


def _area_vjp_with_sides_swapped(grad_output, boxes):
    """dA/dx1 = -w instead of -h."""
    b = np.asarray(boxes, dtype=float)
    w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    g = np.asarray(grad_output, dtype=float)
    return (np.stack([-g * w, -g * h, g * w, g * h], axis=-1),)


@pytest.mark.parametrize("check, mutant", [
    (check_convert_hand_values, _convert_xywh_as_centre),
    (check_convert_hand_values, _convert_cxcywh_full_width),
    (check_convert_vjp_hand_values, _convert_vjp_with_the_jacobian_untransposed),
    (check_area_hand_values, _area_plus_one_pixel),
    (check_area_hand_values, _area_with_x_twice),
    (check_area_vjp_hand_values, _area_vjp_with_sides_swapped),
], ids=lambda f: f.__name__)
def test_wrong_implementations_are_caught(check, mutant):
    with pytest.raises(AssertionError):
        check(mutant)
