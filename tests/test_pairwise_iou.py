"""Pairwise IoU matrices: hand-worked values (detectors.md §5.9 and degenerate pairs), real torchvision, Hypothesis
properties, the memory bound of the row blocks, bad input, and realistic wrong implementations caught."""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from refloss._docstring import REQUIRED_SECTIONS, sections, to_text
from refloss._registry import get
from refloss.boxes import pairwise
from refloss.boxes.pairwise import box_iou, complete_box_iou, distance_box_iou, generalized_box_iou

FUNCTIONS = [box_iou, generalized_box_iou, distance_box_iou, complete_box_iou]
EPS = 1e-7
V = 4 / math.pi**2  # the factor of CIoU's aspect term

# ---- hand-worked values -------------------------------------------------------------------------------------------
# Each row: box, box', and IoU, GIoU, DIoU, CIoU worked out by hand from the definitions (P1)-(P8):
#   I = overlap width * overlap height, U = A + A' - I, C = enclosing area, rho^2 = squared centre distance,
#   c^2 = enclosing width^2 + height^2, v = V (atan(w/h) - atan(w'/h'))^2, alpha = v / (1 - IoU + v + eps).


def _ciou(diou, iou, v):
    return diou - v / (1 - iou + v + EPS) * v


# §5.9 pair 1: (0,0,2,2) and (1,1,3,3). Overlap [1,2] x [1,2]: I = 1; A = A' = 4, U = 7, IoU = 1/7.
#   C = 3 * 3 = 9: GIoU = 1/7 - (9 - 7)/9 = 1/7 - 2/9 = -5/63 (-0.079365).
#   Centres (1,1), (2,2): rho^2 = 2; c^2 = 9 + 9 = 18: DIoU = 1/7 - 2/(18 + eps) (0.031746 = 2/63 for eps = 0).
#   Both square: v = 0, CIoU = DIoU.
# §5.9 pair 2: (0,0,1,1) and (2,0,3,2), apart. I = 0; A = 1, A' = 2, U = 3, IoU = 0.
#   C = 3 * 2 = 6: GIoU = 0 - (6 - 3)/6 = -1/2. Centres (0.5,0.5), (2.5,1): rho^2 = 4 + 0.25 = 4.25;
#   c^2 = 9 + 4 = 13: DIoU = -4.25/(13 + eps) (-0.326923). v = V (atan(1) - atan(1/2))^2 = 0.041956,
#   alpha = v/(1 + v) = 0.040267, CIoU = -0.326923 - 0.001689 = -0.328613 (§5.9: L_CIoU = 1.328613).
# §5.9 pair 3: (10,10,50,30) and (12,8,48,40). Overlap [12,48] x [10,30] = 36 * 20 = 720; A = 40 * 20 = 800,
#   A' = 36 * 32 = 1152, U = 800 + 1152 - 720 = 1232, IoU = 720/1232 = 45/77 (0.584416).
#   C = 40 * 32 = 1280: GIoU = 45/77 - 48/1280 = 45/77 - 3/80 (0.546916).
#   Centres (30,20), (30,24): rho^2 = 16; c^2 = 1600 + 1024 = 2624: DIoU = 45/77 - 16/(2624 + eps) (0.578318).
#   v = V (atan(40/20) - atan(36/32))^2 = V (atan 2 - atan 1.125)^2 = 0.028032, alpha = 0.063190,
#   CIoU = 0.578318 - 0.001771 = 0.576547 (§5.9: L_CIoU = 0.423453).
# Degenerate pairs:
#   identical (0,0,2,2) twice: I = U = 4, IoU = 1; C = U: GIoU = 1; rho = 0: DIoU = 1; v = 0: CIoU = 1.
#   touching edges (0,0,1,1), (1,0,2,1): I = 0, U = 2, C = 2 * 1 = 2: GIoU = 0; rho^2 = 1, c^2 = 4 + 1 = 5.
#   touching corners (0,0,1,1), (1,1,2,2): I = 0, U = 2, C = 4: GIoU = -1/2; rho^2 = 2, c^2 = 8.
#   nested (0,0,4,4) ⊃ (1,1,2,2): I = 1, U = 16, IoU = 1/16; C = 16: GIoU = 1/16; centres (2,2), (1.5,1.5):
#     rho^2 = 0.5, c^2 = 32: DIoU = 1/16 - 0.5/(32 + eps); both square: CIoU = DIoU.
#   a point (1,1,1,1) inside (0,0,2,2): I = 0, U = 4: IoU = 0; C = 4 = U: GIoU = 0; same centre: DIoU = 0;
#     the point's aspect atan(0/0) is NaN: CIoU NaN (as torchvision).
#   two points (1,1,1,1) and (3,3,3,3): U = 0, IoU = 0/0 = NaN, and so all four (torchvision gives NaN too).
#   tiny boxes, where eps matters: (0,0,1e-4,1e-4), (2e-4,0,3e-4,1e-4): IoU = 0; C = 3e-8 = 3 U/2:
#     GIoU = -1/3; rho^2 = (2e-4)^2 = 4e-8, c^2 = 9e-8 + 1e-8 = 1e-7, so eps doubles the denominator:
#     DIoU = -4e-8/(1e-7 + 1e-7) = -0.2 (not -0.4); both square: CIoU = DIoU.
_IOU3 = 45 / 77
_V2 = V * (math.atan(1.0) - math.atan(0.5)) ** 2
_V3 = V * (math.atan(2.0) - math.atan(1.125)) ** 2
HAND_CASES = {
    "§5.9 overlapping": ([0, 0, 2, 2], [1, 1, 3, 3], 1 / 7, -5 / 63, 1 / 7 - 2 / (18 + EPS), 1 / 7 - 2 / (18 + EPS)),
    "§5.9 apart": ([0, 0, 1, 1], [2, 0, 3, 2], 0.0, -0.5, -4.25 / (13 + EPS), _ciou(-4.25 / (13 + EPS), 0.0, _V2)),
    "§5.9 detector-sized": ([10, 10, 50, 30], [12, 8, 48, 40], _IOU3, _IOU3 - 3 / 80, _IOU3 - 16 / (2624 + EPS),
                            _ciou(_IOU3 - 16 / (2624 + EPS), _IOU3, _V3)),
    "identical": ([0, 0, 2, 2], [0, 0, 2, 2], 1.0, 1.0, 1.0, 1.0),
    "touching edges": ([0, 0, 1, 1], [1, 0, 2, 1], 0.0, 0.0, -1 / (5 + EPS), -1 / (5 + EPS)),
    "touching corners": ([0, 0, 1, 1], [1, 1, 2, 2], 0.0, -0.5, -2 / (8 + EPS), -2 / (8 + EPS)),
    "nested": ([0, 0, 4, 4], [1, 1, 2, 2], 1 / 16, 1 / 16, 1 / 16 - 0.5 / (32 + EPS), 1 / 16 - 0.5 / (32 + EPS)),
    "point inside a box": ([1, 1, 1, 1], [0, 0, 2, 2], 0.0, 0.0, 0.0, math.nan),
    "two points": ([1, 1, 1, 1], [3, 3, 3, 3], math.nan, math.nan, math.nan, math.nan),
    "tiny, eps matters": ([0, 0, 1e-4, 1e-4], [2e-4, 0, 3e-4, 1e-4], 0.0, -1 / 3,
                          -(2e-4) ** 2 / ((3e-4) ** 2 + (1e-4) ** 2 + EPS),
                          -(2e-4) ** 2 / ((3e-4) ** 2 + (1e-4) ** 2 + EPS)),
}


def check_hand_values(functions):
    """functions: (box_iou, generalized_box_iou, distance_box_iou, complete_box_iou) or stand-ins."""
    for label, (box1, box2, *expected) in HAND_CASES.items():
        for function, value in zip(functions, expected):
            actual = np.asarray(function(np.array([box1], float), np.array([box2], float)))
            assert actual.shape == (1, 1), (label, function.__name__)
            np.testing.assert_allclose(actual[0, 0], value, rtol=1e-12, atol=1e-15,
                                       err_msg=f"{function.__name__}, {label}")


def check_matrix_layout(functions):
    """Row n is boxes1[n], column m is boxes2[m]: three boxes against two, each entry against the 1 x 1 call."""
    boxes1 = np.array([[0, 0, 2, 2], [10, 10, 50, 30], [1, 1, 1.5, 4]], float)
    boxes2 = np.array([[1, 1, 3, 3], [12, 8, 48, 40]], float)
    for function in functions:
        matrix = np.asarray(function(boxes1, boxes2))
        assert matrix.shape == (3, 2), function.__name__
        for n in range(3):
            for m in range(2):
                single = np.asarray(function(boxes1[n:n + 1], boxes2[m:m + 1]))[0, 0]
                np.testing.assert_allclose(matrix[n, m], single, rtol=1e-15, err_msg=function.__name__)


def test_hand_values():
    check_hand_values(FUNCTIONS)


def test_matrix_layout():
    check_matrix_layout(FUNCTIONS)


def test_eps_is_a_parameter():
    # tiny pair above with eps = 0: DIoU = -4e-8 / 1e-7 = -0.4
    b1, b2 = np.array([[0, 0, 1e-4, 1e-4]]), np.array([[2e-4, 0, 3e-4, 1e-4]])
    np.testing.assert_allclose(distance_box_iou(b1, b2, eps=0.0)[0, 0], -0.4, rtol=1e-12)
    np.testing.assert_allclose(complete_box_iou(b1, b2, eps=0.0)[0, 0], -0.4, rtol=1e-12)


def test_empty_sets_give_empty_matrices():
    for function in FUNCTIONS:
        assert function(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
        assert function(np.ones((2, 4)), np.zeros((0, 4))).shape == (2, 0)


def test_out_is_filled_and_returned():
    boxes1 = np.array([[0, 0, 2, 2], [10, 10, 50, 30]], float)
    boxes2 = np.array([[1, 1, 3, 3]], float)
    for function in FUNCTIONS:
        out = np.full((2, 1), -99.0)
        assert function(boxes1, boxes2, out=out) is out
        np.testing.assert_array_equal(out, function(boxes1, boxes2))


# ---- torchvision ------------------------------------------------------------------------------------------------

def _random_boxes(rng, n, scale=100.0):
    corner = rng.uniform(0, scale, size=(n, 2))
    return np.concatenate([corner, corner + rng.uniform(0, scale / 3, size=(n, 2))], axis=1)


def _degenerate_boxes():
    """Every configuration of the hand cases, as rows to compare all against all (NaN where both have no area)."""
    rows = [box for box1, box2, *_ in HAND_CASES.values() for box in (box1, box2)]
    return np.array(rows + [[0, 1, 2, 1], [5, 0, 5, 3]], float)  # and a horizontal and a vertical segment


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_matches_torchvision(function, dtype):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(11)
    for boxes1, boxes2 in [(_random_boxes(rng, 37), _random_boxes(rng, 23)), (_degenerate_boxes(),) * 2]:
        t1 = torch.tensor(boxes1).to(getattr(torch, dtype))
        t2 = torch.tensor(boxes2).to(getattr(torch, dtype))
        theirs = getattr(ops, function.__name__)(t1, t2)
        # torchvision computes float16 and bfloat16 in float32 (its _upcast); refloss in float64 from the same
        # (rounded) coordinates
        assert theirs.dtype == (t1.dtype if dtype in ("float64", "float32") else torch.float32)
        ours = function(t1.double().numpy(), t2.double().numpy())
        theirs = theirs.double().numpy()
        if dtype == "float64":
            # The same operations in the same order: identical bits, NaN in the same places.
            np.testing.assert_array_equal(ours, theirs)
        elif dtype in ("float16", "bfloat16") and function in (box_iou, generalized_box_iou):
            # These two subtract the coordinates in the input dtype before upcasting (torchvision's
            # _upcast(rb - lt) and _upcast(rbi - lti)): the intersection's and the enclosing box's sides are rounded
            # to float16/bfloat16, a relative error of up to u (half the dtype's eps) each. Their products then
            # err by 2u, and IoU and (C - U)/C, both at most 1 in size, by about 2u each: 2 eps in all.
            # Measured: 7e-4 in float16, 3.7e-3 in bfloat16 (bounds 2e-3 and 1.6e-2).
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=2 * float(torch.finfo(t1.dtype).eps))
        else:
            # float32 arithmetic on coordinates up to 133: the intersection, union and enclosing terms each carry
            # a few float32 roundings relative to the largest area (~1.8e4), and the ratios are at most 1 in size;
            # the 1e-7 eps is lost against float32 sums of this size (a change of ~1e-11). 1e-5 is about 80
            # units of float32's precision, and still 1000 times smaller than the mistakes the mutants make.
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
            assert np.array_equal(np.isnan(ours), np.isnan(theirs))


# ---- properties -------------------------------------------------------------------------------------------------

coordinate = st.floats(-100, 100, allow_nan=False)
side = st.floats(0.5, 50, allow_nan=False)  # positive areas: the ratios are defined


@st.composite
def box_sets(draw, max_size=4):
    def one():
        x, y = draw(coordinate), draw(coordinate)
        return [x, y, x + draw(side), y + draw(side)]
    return (np.array([one() for _ in range(draw(st.integers(1, max_size)))]),
            np.array([one() for _ in range(draw(st.integers(1, max_size)))]))


@given(box_sets())
def test_symmetric(sets):
    boxes1, boxes2 = sets
    for function in FUNCTIONS:
        # every formula treats the two boxes alike (CIoU's v squares a difference): exact transposes
        np.testing.assert_array_equal(function(boxes1, boxes2), function(boxes2, boxes1).T)


@given(box_sets())
@example((np.array([[0, 0.08, 0.5, 0.58]]), np.array([[0, 0, 0.5, 0.5]])))  # C = U: GIoU one ulp above IoU
def test_bounds(sets):
    iou, giou, diou, ciou = (f(*sets) for f in FUNCTIONS)
    assert np.all((0 <= iou) & (iou <= 1))
    # GIoU = IoU - (C - U)/C with C >= U; where C = U exactly (boxes sharing their extent along one axis) C and U,
    # rounded separately, can come out an ulp apart either way, putting GIoU an ulp or two above IoU.
    assert np.all((-1 < giou) & (giou <= iou + 4 * np.finfo(float).eps))
    assert np.all((-1 < diou) & (diou <= iou))
    assert np.all(ciou <= diou)


@given(box_sets(), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3))
def test_translation_invariant(sets, dx, dy):
    shift = np.array([dx, dy, dx, dy])
    for function in FUNCTIONS:
        # translation rounds each coordinate (up to 1.1e3 in size, 1.1e-13 of error) against sides of at least
        # 0.5: relative changes of the sides of 5e-13, so the ratios move by well under 1e-10
        np.testing.assert_allclose(function(sets[0] + shift, sets[1] + shift), function(*sets), rtol=0, atol=1e-10)


@given(box_sets(), st.integers(-6, 6), st.floats(0.1, 10))
def test_scale_invariant(sets, k, scale):
    for function in FUNCTIONS:
        # a power of two scales every operation exactly; with eps = 0 the ratios are then identical
        params = {"eps": 0.0} if function in (distance_box_iou, complete_box_iou) else {}
        power = 2.0**k
        np.testing.assert_array_equal(function(power * sets[0], power * sets[1], **params), function(*sets, **params))
        # any other factor rounds the coordinates once (relative 1.1e-16 of up to 150, against sides >= 0.5)
        np.testing.assert_allclose(function(scale * sets[0], scale * sets[1], **params), function(*sets, **params),
                                   rtol=0, atol=1e-11)


# ---- memory: the row blocks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_memory_beyond_the_result_stays_within_the_workspace(function, monkeypatch):
    workspace = 2**20  # 1 MiB: blocks of 1 MiB / (12 arrays * 8 bytes * 600) = 18 rows
    monkeypatch.setattr(pairwise, "WORKSPACE_BYTES", workspace)
    assert pairwise.block_rows(600) == 18
    rng = np.random.default_rng(12)
    boxes1, boxes2 = _random_boxes(rng, 500), _random_boxes(rng, 600)
    inputs = boxes1.nbytes + boxes2.nbytes  # copied once by the validation
    tracemalloc.start()
    try:
        result = function(boxes1, boxes2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    beyond = peak - result.nbytes
    # The whole matrix at once would need about ten times the result (2.4 MB) besides it; in blocks the peak
    # beyond the result is the workspace and the input copies, plus a little for Python objects.
    assert beyond <= workspace + inputs + 64 * 1024, beyond
    out = np.empty_like(result)
    tracemalloc.start()
    try:
        function(boxes1, boxes2, out=out)
        _, peak_with_out = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_with_out <= workspace + inputs + 64 * 1024  # with out= nothing of the result's size is allocated


def test_block_rows_uses_the_budget():
    assert pairwise.block_rows(20_000) == pairwise.WORKSPACE_BYTES // (12 * 8 * 20_000)
    assert pairwise.block_rows(10**9) == 1  # a huge M still makes progress, one row at a time
    assert pairwise.block_rows(0) >= 1


# ---- bad input ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_bad_boxes_are_refused(function):
    good = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], float)
    with pytest.raises(ValueError, match=r"boxes1 must have shape \(\.\.\., 4\)"):
        function(np.zeros((2, 3)), good)
    with pytest.raises(ValueError, match=r"boxes2 must have shape \(M, 4\), got shape \(4,\)"):
        function(good, np.array([0, 0, 1, 1.0]))
    with pytest.raises(ValueError, match=r"boxes1 must have shape \(N, 4\), got shape \(1, 2, 4\)"):
        function(good[None], good)
    inverted = good.copy()
    inverted[1] = [0, 0, -1, 1]
    with pytest.raises(ValueError, match=r"boxes2\[1\] = \[0.0, 0.0, -1.0, 1.0\] is not a valid box in xyxy"):
        function(good, inverted)
    with pytest.raises(TypeError, match="boxes1 must be an array of real numbers"):
        function(good.astype(complex), good)


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("out, message", [
    (np.zeros((2, 3)), r"shape \(2, 2\) \(N x M\), got an array of dtype float64 and shape \(2, 3\)"),
    (np.zeros((2, 2), dtype=np.float32), "got an array of dtype float32"),
    ([[0.0, 0.0], [0.0, 0.0]], "got list"),
])
def test_a_bad_out_is_refused(function, out, message):
    good = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], float)
    with pytest.raises(ValueError, match=message):
        function(good, good, out=out)


def test_a_read_only_out_is_refused():
    out = np.zeros((1, 1))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]], out=out)


@pytest.mark.parametrize("function", [distance_box_iou, complete_box_iou], ids=lambda f: f.__name__)
@pytest.mark.parametrize("eps", [-1e-7, math.nan, math.inf, "1e-7", None])
def test_a_bad_eps_is_refused(function, eps):
    with pytest.raises((ValueError, TypeError), match="eps must be"):
        function([[0, 0, 1, 1]], [[0, 0, 1, 1]], eps=eps)


# ---- registry and docstrings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_registered_as_geometry_without_a_gradient(function):
    spec = get(function.__name__)
    assert (spec.kind, spec.family, spec.vjp, spec.reductions) == ("geometry", "boxes", None, ())
    assert spec.derivation == "docs/derivations/pairwise_box_iou.md"
    doc = sections(function.__doc__)
    assert "None" in doc["Gradient"] and "matching" in doc["Gradient"]
    for section in REQUIRED_SECTIONS:
        text = to_text(doc[section], strict=True)
        assert text.strip() and "\\" not in text and ":math:" not in text


# ---- realistic wrong implementations, each caught by the checks above --------------------------------------------
# Written as whole-matrix NumPy (what a first implementation looks like), each with one bug.

def _parts(b1, b2):
    p, g = np.asarray(b1, float)[:, None, :], np.asarray(b2, float)[None, :, :]
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    iw = np.minimum(p[..., 2], g[..., 2]) - np.maximum(p[..., 0], g[..., 0])
    ih = np.minimum(p[..., 3], g[..., 3]) - np.maximum(p[..., 1], g[..., 1])
    cw = np.maximum(p[..., 2], g[..., 2]) - np.minimum(p[..., 0], g[..., 0])
    ch = np.maximum(p[..., 3], g[..., 3]) - np.minimum(p[..., 1], g[..., 1])
    rho2 = ((p[..., 0] + p[..., 2]) / 2 - (g[..., 0] + g[..., 2]) / 2) ** 2 \
        + ((p[..., 1] + p[..., 3]) / 2 - (g[..., 1] + g[..., 3]) / 2) ** 2
    return p, g, area(p), area(g), iw, ih, cw, ch, rho2


def _iou_without_clamp(b1, b2):
    """Negative overlaps multiplied: two boxes apart in both x and y get a positive 'intersection'."""
    _, _, a1, a2, iw, ih, *_ = _parts(b1, b2)
    inter = iw * ih
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (a1 + a2 - inter)


def _correct_iou(b1, b2):
    _, _, a1, a2, iw, ih, *_ = _parts(b1, b2)
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (a1 + a2 - inter)


def _giou_over_union(b1, b2):
    """(C - U)/U instead of (C - U)/C."""
    _, _, a1, a2, iw, ih, cw, ch, _ = _parts(b1, b2)
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = a1 + a2 - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union - (cw * ch - union) / union


def _diou_eps_in_the_union(b1, b2, eps=1e-7):
    """eps moved from c^2 to the IoU's union (ultralytics' placement, not torchvision's)."""
    _, _, a1, a2, iw, ih, cw, ch, rho2 = _parts(b1, b2)
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (a1 + a2 - inter + eps) - rho2 / (cw**2 + ch**2)


def _diou_transposed(b1, b2, eps=1e-7):
    """N and M swapped: boxes2 along the rows."""
    return distance_box_iou(b2, b1, eps)


def _diou_centre_without_halving(b1, b2, eps=1e-7):
    """Centres as x1 + x2 (the sum, not the mean): rho^2 four times too large."""
    _, _, a1, a2, iw, ih, cw, ch, rho2 = _parts(b1, b2)
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (a1 + a2 - inter) - 4 * rho2 / (cw**2 + ch**2 + eps)


def _ciou_with_1_over_pi_squared(b1, b2, eps=1e-7):
    """v = (1/pi^2)(...)^2 instead of (4/pi^2)(...)^2."""
    p, g, *_ = _parts(b1, b2)
    diou = distance_box_iou(b1, b2, eps)
    iou = box_iou(b1, b2)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (np.arctan((p[..., 2] - p[..., 0]) / (p[..., 3] - p[..., 1]))
             - np.arctan((g[..., 2] - g[..., 0]) / (g[..., 3] - g[..., 1]))) ** 2 / math.pi**2
        return diou - v / (1 - iou + v + eps) * v


def _with(**replacements):
    chosen = {f.__name__: f for f in FUNCTIONS}
    for name, function in replacements.items():
        function.__name__ = name
        chosen[name] = function
    return [chosen[f.__name__] for f in FUNCTIONS]


@pytest.mark.parametrize("check, functions", [
    (check_hand_values, _with(box_iou=_iou_without_clamp)),
    (check_hand_values, _with(generalized_box_iou=_giou_over_union)),
    (check_hand_values, _with(distance_box_iou=_diou_eps_in_the_union)),
    (check_matrix_layout, _with(distance_box_iou=_diou_transposed)),
    (check_hand_values, _with(distance_box_iou=_diou_centre_without_halving)),
    (check_hand_values, _with(complete_box_iou=_ciou_with_1_over_pi_squared)),
], ids=["iou without clamp", "giou over union", "diou eps in union", "diou transposed", "diou centre sum",
        "ciou 1/pi^2"])
def test_wrong_implementations_are_caught(check, functions):
    with pytest.raises(AssertionError):
        check(functions)


def test_the_mutants_own_scaffolding_is_right():
    """The whole-matrix helper the mutants share computes the right IoU when the bug is taken out."""
    check_hand_values(_with(box_iou=_correct_iou))
