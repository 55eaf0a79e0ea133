"""Box coders (refloss/boxes/coders.py): hand-worked codes (provenance in comments), real torchvision's BoxCoder,
round trips, the clamp, every VJP three ways (autograd, central differences, mpmath on the textbook formulas), bad
input, Hypothesis properties, and realistic wrong implementations that these checks catch."""

import math
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
from autograd import make_vjp
from hypothesis import given
from hypothesis import strategies as st

from refloss import registry
from refloss.boxes.coders import (BBOX_XFORM_CLIP, decode_boxes, decode_boxes_vjp, decode_ssd_boxes,
                                  decode_ssd_boxes_vjp, decode_yolo_boxes, decode_yolo_boxes_vjp, encode_boxes,
                                  encode_boxes_vjp, encode_ssd_boxes, encode_ssd_boxes_vjp, encode_yolo_boxes,
                                  encode_yolo_boxes_vjp)

HEAD = (10.0, 10.0, 5.0, 5.0)
RPN = (1.0, 1.0, 1.0, 1.0)
CODERS = ["encode_boxes", "decode_boxes", "encode_ssd_boxes", "decode_ssd_boxes", "encode_yolo_boxes",
          "decode_yolo_boxes"]

FASTER_RCNN = SimpleNamespace(encode=encode_boxes, decode=decode_boxes, encode_vjp=encode_boxes_vjp,
                              decode_vjp=decode_boxes_vjp)
SSD = SimpleNamespace(encode=encode_ssd_boxes, decode=decode_ssd_boxes, encode_vjp=encode_ssd_boxes_vjp,
                      decode_vjp=decode_ssd_boxes_vjp)
YOLO = SimpleNamespace(encode=encode_yolo_boxes, decode=decode_yolo_boxes, encode_vjp=encode_yolo_boxes_vjp,
                       decode_vjp=decode_yolo_boxes_vjp)


def random_boxes(rng, shape, low=0.0, high=100.0, min_size=1.0, max_size=50.0):
    corner = rng.uniform(low, high, shape + (2,))
    return np.concatenate([corner, corner + rng.uniform(min_size, max_size, shape + (2,))], axis=-1)


def logit(p):
    return np.log(p) - np.log1p(-p)


# ---- the checks (functions of the implementation, so that the wrong implementations below run through them) ----

def check_faster_rcnn_examples(coder=FASTER_RCNN):
    """detectors.md §5.9, recomputed by hand. GT g = (100, 120, 300, 280): centre (200, 200), size (200, 160).
    Anchor a = (90, 100, 290, 300): centre (190, 200), size (200, 200)."""
    g, a = [100.0, 120.0, 300.0, 280.0], [90.0, 100.0, 290.0, 300.0]
    ln08 = math.log(160 / 200)  # ln 0.8 = -0.2231435513...
    # RPN weights: t_x = (200 - 190)/200 = 0.05, t_y = 0, t_w = ln(200/200) = 0, t_h = ln 0.8
    np.testing.assert_allclose(coder.encode(g, a, weights=RPN), [0.05, 0.0, 0.0, ln08], rtol=1e-15, atol=1e-16)
    # head weights (10, 10, 5, 5): 10 * 0.05 = 0.5, 0, 0, 5 ln 0.8 = -1.1157177566
    np.testing.assert_allclose(coder.encode(g, a, weights=HEAD), [0.5, 0.0, 0.0, 5 * ln08], rtol=1e-15, atol=1e-16)
    assert round(5 * ln08, 6) == -1.115718  # the table's rounded figure
    # decoding undoes it: t_x / 10 = 0.05 -> centre 190 + 0.05 * 200 = 200; e^(5 ln 0.8 / 5) * 200 = 160
    np.testing.assert_allclose(coder.decode([0.5, 0.0, 0.0, 5 * ln08], a, weights=HEAD), g, rtol=1e-14)
    # a size code of ln 2 doubles the anchor: width 400 about the centre 190 -> (-10, 490)
    np.testing.assert_allclose(coder.decode([0.0, 0.0, 5 * math.log(2), 0.0], a, weights=HEAD),
                               [-10.0, 100.0, 390.0, 300.0], rtol=1e-14)


def check_ssd_examples(coder=SSD):
    """detectors.md §5.9: GT (0.1, 0.2, 0.5, 0.6) = centre (0.3, 0.4), size (0.4, 0.4); prior centre (0.3, 0.4),
    size (0.3, 0.3) = xyxy (0.15, 0.25, 0.45, 0.55). Offsets: 0/(0.1*0.3) = 0, and ln(0.4/0.3)/0.2 =
    0.2876820725/0.2 = 1.4384103623 for both sizes."""
    g, prior = [0.1, 0.2, 0.5, 0.6], [0.15, 0.25, 0.45, 0.55]
    size = math.log(4 / 3) / 0.2
    assert round(size, 6) == 1.43841  # the table's 1.438410
    np.testing.assert_allclose(coder.encode(g, prior), [0.0, 0.0, size, size], rtol=1e-14, atol=1e-15)
    # an off-centre box: GT centre (0.33, 0.37) -> (0.03/(0.1*0.3), -0.03/(0.1*0.3)) = (1, -1); same size 0.3 -> 0
    np.testing.assert_allclose(coder.encode([0.18, 0.22, 0.48, 0.52], prior), [1.0, -1.0, 0.0, 0.0], atol=1e-13)
    np.testing.assert_allclose(coder.decode([1.0, -1.0, 0.0, 0.0], prior), [0.18, 0.22, 0.48, 0.52], atol=1e-15)
    # l_w = 5 ln 2: ln(w / 0.3) = 0.2 * 5 ln 2 -> w = 0.6 about 0.3: (0.0, 0.45)
    np.testing.assert_allclose(coder.decode([0.0, 0.0, 5 * math.log(2), 0.0], prior), [0.0, 0.25, 0.6, 0.55],
                               atol=1e-15)


def check_yolo_examples(coder=YOLO):
    """detectors.md §5.9: 416 input, GT (x 0.5, y 0.4, w 0.3, h 0.2) = xyxy (0.35, 0.3, 0.65, 0.5), best anchor #6
    (116 x 90) on the 13 x 13 grid, cell i = floor(0.5 * 13) = 6, j = floor(0.4 * 13) = 5.
    t_x = 6.5 - 6 = 0.5, t_y = 5.2 - 5 = 0.2, t_w = ln(0.3 * 416 / 116) = ln(124.8 / 116) = 0.0731215,
    t_h = ln(0.2 * 416 / 90) = ln(83.2 / 90) = -0.0785622."""
    g = [0.35, 0.3, 0.65, 0.5]
    expected = [0.5, 0.2, math.log(124.8 / 116), math.log(83.2 / 90)]
    np.testing.assert_allclose(coder.encode(g, [6, 5], [116, 90]), expected, rtol=1e-13, atol=1e-14)
    assert [round(t, 6) for t in expected[2:]] == [0.073122, -0.078562]  # the table's figures
    # decoding raw zeros in that cell: sigma(0) = 1/2 -> centre ((6.5)/13, (5.5)/13) = (0.5, 0.4230769);
    # size (116/416, 90/416) = (0.2788462, 0.2163462)
    cx, cy, w, h = 0.5, 5.5 / 13, 116 / 416, 90 / 416
    np.testing.assert_allclose(coder.decode([0.0, 0.0, 0.0, 0.0], [6, 5], [116, 90]),
                               [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], rtol=1e-15)
    # raw (logit 0.5, logit 0.2, t_w, t_h) gives the GT back (the round trip through the sigmoid)
    np.testing.assert_allclose(coder.decode([0.0, logit(0.2), *expected[2:]], [6, 5], [116, 90]), g, rtol=1e-13)
    # on the 26 x 26 grid with a 608 input, cell (13, 10), anchor (30, 61), raw (ln 3, -ln 3, ln 2, 0):
    # sigma(ln 3) = 3/4 and sigma(-ln 3) = 1/4 -> centre (13.75/26, 10.25/26); size (30 * 2/608, 61/608)
    cx, cy, w, h = 13.75 / 26, 10.25 / 26, 60 / 608, 61 / 608
    np.testing.assert_allclose(
        coder.decode([math.log(3), -math.log(3), math.log(2), 0.0], [13, 10], [30, 61], grid_size=(26, 26),
                     input_size=(608, 608)),
        [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], rtol=1e-14)


def check_against_torchvision(coder=FASTER_RCNN):
    """torchvision's BoxCoder in float64, both weights, codes on both sides of the clamp: bitwise equal (the same
    operations in the same order), within 2 ulps for safety of a future reordering."""
    torch = pytest.importorskip("torch")
    from torchvision.models.detection._utils import BoxCoder
    rng = np.random.default_rng(8)
    boxes, anchors = random_boxes(rng, (300,)), random_boxes(rng, (300,))
    for weights in (RPN, HEAD):
        box_coder = BoxCoder(weights)
        expected = box_coder.encode_single(torch.tensor(boxes), torch.tensor(anchors)).numpy()
        np.testing.assert_allclose(coder.encode(boxes, anchors, weights=weights), expected, rtol=5e-16, atol=1e-15)
        deltas = rng.normal(0.0, 1.5, (300, 4)) * np.array(weights)  # |t_w / w_w| up to ~6: beyond the clamp too
        assert np.any(deltas[:, 2:] / weights[2] > BBOX_XFORM_CLIP)
        expected = box_coder.decode_single(torch.tensor(deltas), torch.tensor(anchors)).numpy()
        np.testing.assert_allclose(coder.decode(deltas, anchors, weights=weights), expected, rtol=5e-16,
                                   atol=1e-12)


def _relative_error(actual, expected):
    return float(np.max(np.abs(np.asarray(actual) - expected)) / max(1.0, float(np.max(np.abs(expected)))))


def fd_vjp(forward, inputs, index, grad_output, kwargs, step=None):
    """Central differences of <grad_output, forward(inputs)> with respect to inputs[index], element by element."""
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    x = inputs[index]
    gradient = np.zeros_like(x)
    for position in np.ndindex(x.shape):
        h = (step or np.cbrt(np.finfo(np.float64).eps)) * max(1.0, abs(x[position]))
        values = []
        for sign in (1.0, -1.0):
            shifted = x.copy()
            shifted[position] += sign * h
            values.append(np.sum(grad_output * forward(*inputs[:index], shifted, *inputs[index + 1:], **kwargs)))
        gradient[position] = (values[0] - values[1]) / (2 * h)
    return gradient


def autograd_vjp(forward, inputs, index, grad_output, kwargs):
    def of_one(x):
        return forward(*inputs[:index], x, *inputs[index + 1:], **kwargs)
    vjp, _ = make_vjp(of_one)(np.array(inputs[index], dtype=np.float64))
    return vjp(grad_output)


def check_vjp(forward, vjp, inputs, kwargs, differentiable, seed=0, fd_tolerance=1e-6):
    """The VJP against autograd (1e-12: the same float64 operations in another order) and central differences
    (1e-6: step ~6e-6 has truncation error ~1e-11 and rounding error ~1e-11; a wrong factor errs by O(1))."""
    output = forward(*inputs, **kwargs)
    grad_output = np.random.default_rng(seed).normal(size=output.shape)
    gradients = vjp(grad_output, *inputs, **kwargs)
    assert len(gradients) == len(inputs)
    for index, gradient in enumerate(gradients):
        if index not in differentiable:
            assert gradient is None
            continue
        assert gradient.shape == np.shape(inputs[index])
        by_autograd = autograd_vjp(forward, inputs, index, grad_output, kwargs)
        assert _relative_error(gradient, by_autograd) < 1e-12, (index, gradient, by_autograd)
        by_differences = fd_vjp(forward, inputs, index, grad_output, kwargs)
        assert _relative_error(gradient, by_differences) < fd_tolerance, (index, gradient, by_differences)


def check_decode_clamp_is_one_sided(coder=FASTER_RCNN):
    """Beyond the clamp the width does not change with t_w, so its gradient is 0; below it, d width / d t_w =
    width / w_w. At the clamp point itself refloss returns 0, the right-hand derivative (torch.clamp's)."""
    anchor = [0.0, 0.0, 10.0, 20.0]  # width 10, centre x 5
    up = np.array([0.0, 0.0, 0.5, 0.5])  # cotangent 1/2 on x2 = 5 + w/2 (and y2): d/d t_w = (1/2)(w/2)/w_w = w/20
    for t_w, slope in [(5 * (BBOX_XFORM_CLIP - 0.5), 10 * math.exp(BBOX_XFORM_CLIP - 0.5) / 20),
                       (5 * (BBOX_XFORM_CLIP + 0.5), 0.0), (5 * BBOX_XFORM_CLIP, 0.0)]:
        grad, _ = coder.decode_vjp(up, [0.0, 0.0, t_w, 0.0], anchor, weights=HEAD)
        assert grad[2] == pytest.approx(slope, rel=1e-14, abs=0.0), t_w
    # one-sided differences of the width at the clamp point: the left one is d w / d t_w = w / w_w = 10 * 62.5 / 5
    # (e^clip = 1000/16 = 62.5), the right one exactly 0 (the width stays clamped)
    at, h = 5 * BBOX_XFORM_CLIP, 1e-7

    def width(t_w):
        box = coder.decode([0.0, 0.0, t_w, 0.0], anchor, weights=HEAD)
        return box[2] - box[0]
    assert (width(at) - width(at - h)) / h == pytest.approx(10 * 62.5 / 5, rel=1e-5)
    assert width(at + h) == width(at) == pytest.approx(625.0, rel=1e-14)


def check_ssd_matches_torchvision_and_the_caffe_formula(coder=SSD):
    """torchvision's SSD: BoxCoder(weights=(10, 10, 5, 5)) on xyxy priors; Caffe/ssd.pytorch: divide by the
    variance (centre-form priors). Multiplying by 1/0.1 = 10 (exactly 10.0 in float64) and dividing by 0.1 differ
    by rounding only: agreement to 4 ulps."""
    torch = pytest.importorskip("torch")
    from torchvision.models.detection._utils import BoxCoder
    rng = np.random.default_rng(3)
    boxes, priors = random_boxes(rng, (200,), 0, 1, 0.01, 0.5), random_boxes(rng, (200,), 0, 1, 0.01, 0.5)
    ours = coder.encode(boxes, priors)
    by_torchvision = BoxCoder((10.0, 10.0, 5.0, 5.0)).encode_single(torch.tensor(boxes), torch.tensor(priors))
    np.testing.assert_allclose(ours, by_torchvision.numpy(), rtol=1e-15, atol=1e-15)
    # ssd.pytorch's box_utils.encode, written out: centre-form priors, (g_c - d_c) / (v0 d_wh), log(g/d) / v1
    g_centre, g_size = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
    d_centre, d_size = (priors[:, :2] + priors[:, 2:]) / 2, priors[:, 2:] - priors[:, :2]
    caffe = np.concatenate([(g_centre - d_centre) / (0.1 * d_size), np.log(g_size / d_size) / 0.2], axis=1)
    np.testing.assert_allclose(ours, caffe, rtol=4e-15, atol=4e-15)
    offsets = rng.normal(0, 2, (200, 4))
    by_torchvision = BoxCoder((10.0, 10.0, 5.0, 5.0)).decode_single(torch.tensor(offsets), torch.tensor(priors))
    np.testing.assert_allclose(coder.decode(offsets, priors, clamp=BBOX_XFORM_CLIP), by_torchvision.numpy(),
                               rtol=1e-15, atol=1e-15)
    # ssd.pytorch's decode: centre d_c + l_c v0 d_wh, size d_wh exp(l_wh v1), no clamp
    centre = d_centre + offsets[:, :2] * 0.1 * d_size
    size = d_size * np.exp(offsets[:, 2:] * 0.2)
    np.testing.assert_allclose(coder.decode(offsets, priors), np.concatenate([centre - size / 2, centre + size / 2],
                                                                             axis=1), rtol=1e-14, atol=1e-15)


# ---- textbook formulas in mpmath (one box at a time), for mpmath.diff ------------------------------------------

def mp_encode(box, anchor, wx, wy, ww, wh):
    gcx, gcy, gw, gh = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]
    acx, acy, aw, ah = (anchor[0] + anchor[2]) / 2, (anchor[1] + anchor[3]) / 2, anchor[2] - anchor[0], \
        anchor[3] - anchor[1]
    return [wx * (gcx - acx) / aw, wy * (gcy - acy) / ah, ww * mpmath.log(gw / aw), wh * mpmath.log(gh / ah)]


def mp_decode(delta, anchor, wx, wy, ww, wh, clamp=mpmath.inf):
    acx, acy, aw, ah = (anchor[0] + anchor[2]) / 2, (anchor[1] + anchor[3]) / 2, anchor[2] - anchor[0], \
        anchor[3] - anchor[1]
    cx, cy = acx + delta[0] / wx * aw, acy + delta[1] / wy * ah
    w, h = aw * mpmath.exp(min(delta[2] / ww, clamp)), ah * mpmath.exp(min(delta[3] / wh, clamp))
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def mp_yolo_decode(raw, cell, anchor, grid, net):
    sigmoid = lambda t: 1 / (1 + mpmath.exp(-t))
    cx, cy = (cell[0] + sigmoid(raw[0])) / grid[0], (cell[1] + sigmoid(raw[1])) / grid[1]
    w, h = anchor[0] * mpmath.exp(raw[2]) / net[0], anchor[1] * mpmath.exp(raw[3]) / net[1]
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def mp_yolo_encode(box, cell, anchor, grid, net):
    cx, cy, w, h = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]
    return [cx * grid[0] - cell[0], cy * grid[1] - cell[1], mpmath.log(w * net[0] / anchor[0]),
            mpmath.log(h * net[1] / anchor[1])]


def mp_formula(name, inputs, kwargs):
    """The textbook formula of a coder for one row, as a function of that row's inputs (mpf lists)."""
    if name in ("encode_boxes", "decode_boxes"):
        weights = [mpmath.mpf(w) for w in kwargs.get("weights", RPN)]
        clamp = mpmath.mpf(kwargs.get("clamp", BBOX_XFORM_CLIP))
        return (lambda b, a: mp_encode(b, a, *weights)) if name == "encode_boxes" else \
            (lambda d, a: mp_decode(d, a, *weights, clamp))
    if name in ("encode_ssd_boxes", "decode_ssd_boxes"):
        v_centre, v_size = (mpmath.mpf(v) for v in kwargs.get("variances", (0.1, 0.2)))
        weights = (1 / v_centre, 1 / v_centre, 1 / v_size, 1 / v_size)  # the paper divides by v: same thing
        return (lambda b, p: mp_encode(b, p, *weights)) if name == "encode_ssd_boxes" else \
            (lambda d, p: mp_decode(d, p, *weights, mpmath.mpf(kwargs.get("clamp", mpmath.inf))))
    grid, net = kwargs.get("grid_size", (13, 13)), kwargs.get("input_size", (416, 416))
    formula = mp_yolo_encode if name == "encode_yolo_boxes" else mp_yolo_decode
    return lambda x, cell, anchor: formula(x, cell, anchor, grid, net)


def mp_vjp(name, inputs, kwargs, grad_output, differentiable):
    """mpmath.diff of sum_k g_k f_k(row) for each coordinate of each differentiable input, row by row."""
    formula = mp_formula(name, inputs, kwargs)
    rows = [np.asarray(x, dtype=np.float64) for x in inputs]
    gradients = [np.zeros(r.shape) if i in differentiable else None for i, r in enumerate(rows)]
    with mpmath.workdps(40):
        for n in range(rows[0].shape[0]):
            row = [[mpmath.mpf(float(v)) for v in r[n]] for r in rows]
            g = [mpmath.mpf(float(v)) for v in grad_output[n]]
            for i in differentiable:
                for k in range(len(row[i])):
                    def scalar(v, i=i, k=k):
                        changed = [list(r) for r in row]
                        changed[i][k] = v
                        return mpmath.fsum(gk * fk for gk, fk in zip(g, formula(*changed)))
                    gradients[i][n, k] = float(mpmath.diff(scalar, row[i][k]))
    return gradients


# ---- cases shared by the gradient checks --------------------------------------------------------------------------

def gradient_cases(name, rng):
    """(inputs, kwargs, differentiable indices): same-shape rows, and broadcast references where useful."""
    boxes, anchors = random_boxes(rng, (3,)), random_boxes(rng, (3,))
    unit, priors = random_boxes(rng, (3,), 0, 1, 0.05, 0.5), random_boxes(rng, (3,), 0, 1, 0.05, 0.5)
    cells, sizes = np.array([[6, 5], [0, 12], [12, 0]]), rng.uniform(10, 400, (3, 2))
    centres, halves = (cells + rng.uniform(0.1, 0.9, (3, 2))) / 13, rng.uniform(0.02, 0.2, (3, 2))
    yolo_boxes = np.concatenate([centres - halves, centres + halves], axis=-1)  # a centre in each cell
    raw = rng.normal(0.0, 1.0, (3, 4))
    if name == "encode_boxes":
        return [([boxes, anchors], {"weights": w}, (0, 1)) for w in (RPN, HEAD)]
    if name == "decode_boxes":
        deltas = rng.normal(0.0, 1.0, (3, 4)) * np.array(HEAD)
        deltas[0, 2] = 5 * (BBOX_XFORM_CLIP + 1.0)  # one size code beyond the clamp: gradient 0 there
        return [([deltas, anchors], {"weights": HEAD}, (0, 1)), ([raw, anchors], {"weights": RPN}, (0, 1))]
    if name == "encode_ssd_boxes":
        return [([unit, priors], {}, (0, 1)), ([unit, priors], {"variances": (0.2, 0.3)}, (0, 1))]
    if name == "decode_ssd_boxes":
        return [([raw * 3, priors], {}, (0, 1)), ([raw, priors], {"clamp": 0.1, "variances": (0.1, 0.2)}, (0, 1))]
    if name == "encode_yolo_boxes":
        return [([yolo_boxes, cells, sizes], {}, (0, 2))]
    return [([raw, cells, sizes], {}, (0, 2)),
            ([raw * 2, np.array([[1, 2], [25, 0], [3, 3]]), sizes], {"grid_size": (26, 26), "input_size": (608, 512)},
             (0, 2))]


def broadcast_cases(name, rng):
    """References shared along a dimension: deltas (R, K, 4) with anchors (R, 1, 4); a YOLO head (A, H, W, 4) with
    cells (H, W, 2) and anchors (A, 1, 1, 2)."""
    if name in ("encode_boxes", "decode_boxes", "encode_ssd_boxes", "decode_ssd_boxes"):
        first = random_boxes(rng, (2, 3)) if name.startswith("encode") else rng.normal(0, 1, (2, 3, 4))
        return [first, random_boxes(rng, (2, 1))], {}, (0, 1)
    cells = np.stack(np.meshgrid(np.arange(3), np.arange(2)), axis=-1)  # (H=2, W=3, 2): (i, j) = (column, row)
    anchors = rng.uniform(10, 100, (2, 1, 1, 2))
    if name == "decode_yolo_boxes":
        return [rng.normal(0, 1, (2, 2, 3, 4)), cells, anchors], {"grid_size": (3, 2)}, (0, 2)
    centres = (cells + rng.uniform(0.1, 0.9, (2, 2, 3, 2))) / np.array([3, 2])
    boxes = np.concatenate([centres - 0.05, centres + 0.07], axis=-1)
    return [boxes, cells, anchors], {"grid_size": (3, 2)}, (0, 2)


# ---- tests ---------------------------------------------------------------------------------------------------------

class TestHandWorked:
    def test_faster_rcnn(self):
        check_faster_rcnn_examples()

    def test_ssd(self):
        check_ssd_examples()

    def test_yolo(self):
        check_yolo_examples()

    def test_py_faster_rcnn_convention_differs_as_the_research_notes_say(self):
        # §5.9: with +1 widths (201 and 161 for the GT, 201 and 201 for the anchor) and stds (0.1, 0.1, 0.2, 0.2):
        # t_x = 10 * 10/201 = 0.497512, t_h = 5 ln(161/201) = -1.109503. refloss's continuous widths give 0.5 and
        # -1.115718: the +1 variant is a different code, not a rounding difference.
        g, a = [100.0, 120.0, 300.0, 280.0], [90.0, 100.0, 290.0, 300.0]
        np.testing.assert_allclose(encode_pyfasterrcnn(g, a, weights=HEAD), [0.497512, 0, 0, -1.109503], atol=1e-6)
        assert abs(encode_boxes(g, a, weights=HEAD)[0] - 0.497512) > 2e-3


class TestTorchvision:
    def test_faster_rcnn_float64(self):
        check_against_torchvision()

    def test_ssd_is_boxcoder_10_10_5_5_and_the_caffe_formula(self):
        check_ssd_matches_torchvision_and_the_caffe_formula()

    @pytest.mark.parametrize("dtype, tolerance", [
        # float32: inputs rounded to float32 first. t_x = w (g_c - a_c)/a_w loses |g_c| eps32 / a_w absolutely
        # in the subtraction (coordinates up to 150, widths >= 1: 150 * 6e-8 * 10 = 1e-4 at worst); sizes and
        # logs are relative: a few eps32.
        ("float32", 6.0e-8), ("float16", 4.9e-4), ("bfloat16", 3.9e-3)])
    def test_reduced_precision(self, dtype, tolerance):
        # tolerance = unit roundoff of the dtype; the bound below is 8 roundoffs times the conditioning of each
        # code (coordinate magnitude / anchor size for the centres, 1 + |code| for the sizes): a few roundings
        # per operation, never a wrong formula (which errs by O(1)).
        torch = pytest.importorskip("torch")
        from torchvision.models.detection._utils import BoxCoder
        rng = np.random.default_rng(5)
        # coordinates on a grid of 1/4 below 64, exact in every one of these dtypes
        boxes = np.round(random_boxes(rng, (400,), 0, 40, 1, 20) * 4) / 4
        anchors = np.round(random_boxes(rng, (400,), 0, 40, 1, 20) * 4) / 4
        deltas = np.round(rng.normal(0, 1, (400, 4)) * np.array(HEAD) * 8) / 8
        torch_dtype = getattr(torch, dtype)
        assert np.array_equal(torch.tensor(boxes).to(torch_dtype).double().numpy(), boxes)
        coder = BoxCoder(HEAD)
        encoded = coder.encode_single(torch.tensor(boxes).to(torch_dtype), torch.tensor(anchors).to(torch_dtype))
        ours = encode_boxes(boxes, anchors, weights=HEAD)
        condition = np.concatenate([10 * (64 / (anchors[:, 2:] - anchors[:, :2])), 5 * (1 + np.abs(ours[:, 2:]))], 1)
        assert np.all(np.abs(encoded.double().numpy() - ours) <= 8 * tolerance * condition)
        decoded = coder.decode_single(torch.tensor(deltas).to(torch_dtype), torch.tensor(anchors).to(torch_dtype))
        ours = decode_boxes(deltas, anchors, weights=HEAD)
        scale = 64 + np.abs(ours)
        assert np.all(np.abs(decoded.double().numpy() - ours) <= 8 * tolerance * scale)


class TestRoundTrips:
    @pytest.mark.parametrize("weights", [RPN, HEAD, (2.0, 3.0, 0.5, 7.0)])
    def test_faster_rcnn(self, weights):
        rng = np.random.default_rng(1)
        anchors = random_boxes(rng, (50,))
        deltas = rng.normal(0, 1, (50, 4)) * np.array(weights)  # |t_w / w_w| < 4.1 w.p. ~1: away from the clamp
        assert np.all(deltas[:, 2:] / np.array(weights[2:]) < BBOX_XFORM_CLIP - 0.1)
        np.testing.assert_allclose(encode_boxes(decode_boxes(deltas, anchors, weights=weights), anchors,
                                                weights=weights), deltas, rtol=1e-12, atol=1e-12)
        boxes = random_boxes(rng, (50,))
        np.testing.assert_allclose(decode_boxes(encode_boxes(boxes, anchors, weights=weights), anchors,
                                                weights=weights), boxes, rtol=1e-13, atol=1e-12)

    def test_beyond_the_clamp_the_round_trip_gives_the_clamp(self):
        anchor = [0.0, 0.0, 10.0, 10.0]
        codes = encode_boxes(decode_boxes([0.0, 0.0, 50.0, 2.0], anchor, weights=HEAD), anchor, weights=HEAD)
        np.testing.assert_allclose(codes, [0.0, 0.0, 5 * BBOX_XFORM_CLIP, 2.0], rtol=1e-14, atol=1e-14)

    def test_ssd(self):
        rng = np.random.default_rng(2)
        priors, offsets = random_boxes(rng, (50,), 0, 1, 0.02, 0.5), rng.normal(0, 2, (50, 4))
        np.testing.assert_allclose(encode_ssd_boxes(decode_ssd_boxes(offsets, priors), priors), offsets,
                                   rtol=1e-12, atol=1e-12)

    def test_yolo(self):
        rng = np.random.default_rng(3)
        cells, anchors, raw = rng.integers(0, 13, (50, 2)), rng.uniform(10, 400, (50, 2)), rng.normal(0, 2, (50, 4))
        targets = encode_yolo_boxes(decode_yolo_boxes(raw, cells, anchors), cells, anchors)
        sigmoid = 1 / (1 + np.exp(-raw[:, :2]))
        np.testing.assert_allclose(targets, np.concatenate([sigmoid, raw[:, 2:]], 1), rtol=1e-12, atol=1e-12)


class TestGradients:
    @pytest.mark.parametrize("name", CODERS)
    def test_against_autograd_and_finite_differences(self, name):
        spec = registry.get(name)
        for inputs, kwargs, differentiable in gradient_cases(name, np.random.default_rng(11)):
            check_vjp(spec.forward, spec.vjp, inputs, kwargs, differentiable)

    @pytest.mark.parametrize("name", CODERS)
    def test_broadcast_references_get_summed_gradients(self, name):
        spec = registry.get(name)
        inputs, kwargs, differentiable = broadcast_cases(name, np.random.default_rng(12))
        check_vjp(spec.forward, spec.vjp, inputs, kwargs, differentiable)

    @pytest.mark.parametrize("name", CODERS)
    def test_against_mpmath_textbook_formulas(self, name):
        # mpmath.diff at 40 digits of the formulas as the papers write them (centres as (x1 + x2)/2, divisions
        # by the variances): the VJP is float64 arithmetic on O(1) factors, so 1e-12 relative is ample.
        spec = registry.get(name)
        for inputs, kwargs, differentiable in gradient_cases(name, np.random.default_rng(13)):
            grad_output = np.random.default_rng(14).normal(size=np.shape(inputs[0]))
            ours = spec.vjp(grad_output, *inputs, **kwargs)
            reference = mp_vjp(name, inputs, kwargs, grad_output, differentiable)
            for index in differentiable:
                assert _relative_error(ours[index], reference[index]) < 1e-12, (name, index)

    def test_the_clamp_is_one_sided(self):
        check_decode_clamp_is_one_sided()

    def test_torchvision_autograd_agrees_at_and_beyond_the_clamp(self):
        torch = pytest.importorskip("torch")
        from torchvision.models.detection._utils import BoxCoder
        anchors = np.array([[0.0, 0.0, 10.0, 20.0]] * 3)
        deltas = np.array([[0.1, -0.2, 5 * BBOX_XFORM_CLIP, 5 * (BBOX_XFORM_CLIP + 1)],
                           [0.3, 0.2, 5 * (BBOX_XFORM_CLIP - 1), 5 * BBOX_XFORM_CLIP],
                           [1.0, 2.0, -3.0, 4.0]])
        grad_output = np.random.default_rng(0).normal(size=(3, 4))
        d = torch.tensor(deltas, requires_grad=True)
        a = torch.tensor(anchors, requires_grad=True)
        (BoxCoder(HEAD).decode_single(d, a) * torch.tensor(grad_output)).sum().backward()
        grad_deltas, grad_anchors = decode_boxes_vjp(grad_output, deltas, anchors, weights=HEAD)
        np.testing.assert_allclose(grad_deltas, d.grad.numpy(), rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(grad_anchors, a.grad.numpy(), rtol=1e-14, atol=1e-13)
        assert grad_deltas[0, 2] == grad_deltas[0, 3] == grad_deltas[1, 3] == 0.0

    def test_encode_gradient_matches_torch_autograd(self):
        torch = pytest.importorskip("torch")
        from torchvision.models.detection._utils import BoxCoder
        rng = np.random.default_rng(4)
        boxes, anchors = random_boxes(rng, (20,)), random_boxes(rng, (20,))
        grad_output = rng.normal(size=(20, 4))
        b, a = torch.tensor(boxes, requires_grad=True), torch.tensor(anchors, requires_grad=True)
        (BoxCoder(HEAD).encode_single(b, a) * torch.tensor(grad_output)).sum().backward()
        grad_boxes, grad_anchors = encode_boxes_vjp(grad_output, boxes, anchors, weights=HEAD)
        np.testing.assert_allclose(grad_boxes, b.grad.numpy(), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(grad_anchors, a.grad.numpy(), rtol=1e-13, atol=1e-14)


class TestBadInput:
    GOOD = [[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 20.0, 30.0]]

    def test_inverted_anchor_is_named(self):
        with pytest.raises(ValueError, match=r"anchors\[1\] = \[5.0, 5.0, 2.0, 30.0\] is not a valid box.*x2 < x1"):
            encode_boxes(self.GOOD, [[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 2.0, 30.0]])
        with pytest.raises(ValueError, match=r"priors\[0\] = .* y2 < y1"):
            decode_ssd_boxes(np.zeros((2, 4)), [[0.0, 0.5, 0.1, 0.2], [0.0, 0.0, 1.0, 1.0]])

    @pytest.mark.parametrize("coder", [encode_boxes, decode_boxes])
    def test_zero_width_anchor_is_named(self, coder):
        with pytest.raises(ValueError, match=r"anchors\[0\] = \[3.0, 0.0, 3.0, 10.0\] has zero width.*positive width"):
            coder(self.GOOD, [[3.0, 0.0, 3.0, 10.0], [0.0, 0.0, 1.0, 1.0]])
        with pytest.raises(ValueError, match=r"priors\[1\] = .* has zero height"):
            encode_ssd_boxes(self.GOOD, [[0.0, 0.0, 1.0, 1.0], [0.0, 4.0, 1.0, 4.0]])

    def test_zero_width_box_to_encode_is_named(self):
        with pytest.raises(ValueError, match=r"boxes\[1\] = .* has zero width \(x2 == x1\): its log-space size code "
                                             r"would be -inf"):
            encode_boxes([[0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 2.0, 1.0]], self.GOOD)
        with pytest.raises(ValueError, match=r"boxes = \[0.5, 0.5, 0.6, 0.5\] has zero height"):
            encode_yolo_boxes([0.5, 0.5, 0.6, 0.5], [6, 6], [10, 10])

    @pytest.mark.parametrize("weights, message", [
        ((10, 10, 0, 5), r"weights must be 4 positive finite numbers \(w_x, w_y, w_w, w_h\), got w_w = 0"),
        ((10, -1, 5, 5), r"got w_y = -1"),
        ((10, 10, 5, math.inf), r"got w_h = inf"),
        ((10, 10, 5), r"weights must be 4 positive .*got \(10, 10, 5\)"),
        (10.0, r"weights must be 4 .*got 10.0"),
    ])
    def test_bad_weights(self, weights, message):
        for call in (encode_boxes, decode_boxes):
            with pytest.raises(ValueError, match=message):
                call(self.GOOD, self.GOOD, weights=weights)

    def test_bad_weight_types_and_clamp(self):
        with pytest.raises(TypeError, match=r"weights must be 4 .*got w_x = 'a' of type str"):
            encode_boxes(self.GOOD, self.GOOD, weights=("a", 1, 1, 1))
        with pytest.raises(ValueError, match=r"clamp must be in \(-inf, inf\], got nan"):
            decode_boxes(self.GOOD, self.GOOD, clamp=math.nan)

    @pytest.mark.parametrize("variances, message", [
        ((0.1, 0.0), r"variances must be 2 positive finite numbers \(v_centre, v_size\), got v_size = 0.0"),
        ((-0.1, 0.2), r"got v_centre = -0.1"), ((0.1, 0.2, 0.2), r"got \(0.1, 0.2, 0.2\)")])
    def test_bad_variances(self, variances, message):
        for call in (encode_ssd_boxes, decode_ssd_boxes):
            with pytest.raises(ValueError, match=message):
                call(self.GOOD, self.GOOD, variances=variances)

    def test_shape_mismatches(self):
        with pytest.raises(ValueError, match=r"anchors must broadcast to shape \(2, 4\) without enlarging it.*"
                                             r"got shape \(3, 4\)"):
            encode_boxes(self.GOOD, self.GOOD + [[0.0, 0.0, 1.0, 1.0]])
        with pytest.raises(ValueError, match=r"anchors must broadcast to shape \(4,\) .*got shape \(2, 4\)"):
            decode_boxes([0.0, 0.0, 0.0, 0.0], self.GOOD)  # one delta, two anchors: refused, not broadcast up
        with pytest.raises(ValueError, match=r"deltas must have shape \(\.\.\., 4\), got shape \(2, 3\)"):
            decode_boxes(np.zeros((2, 3)), self.GOOD)
        with pytest.raises(ValueError, match=r"boxes must have shape \(\.\.\., 4\)"):
            encode_boxes(np.zeros((2, 5)), self.GOOD)
        with pytest.raises(ValueError, match=r"grad_output must have the shape .* \(2, 4\), got \(4,\)"):
            encode_boxes_vjp(np.ones(4), self.GOOD, self.GOOD)

    def test_yolo_bad_input(self):
        raw = np.zeros((2, 4))
        with pytest.raises(ValueError, match=r"cells\[1\] = \[13.0, 0.0\] is outside the grid of W x H = 13 x 13"):
            decode_yolo_boxes(raw, [[0, 0], [13, 0]], [10, 10])
        with pytest.raises(ValueError, match=r"cells must hold integers .*got 2.5"):
            decode_yolo_boxes(raw, [[0, 0], [2.5, 0]], [10, 10])
        with pytest.raises(ValueError, match=r"cells must have shape \(\.\.\., 2\)"):
            decode_yolo_boxes(raw, [0, 0, 1], [10, 10])
        with pytest.raises(ValueError, match=r"anchors\[1\] = \[10.0, 0.0\]: anchor sizes .* must be positive"):
            decode_yolo_boxes(raw, [0, 0], [[10, 10], [10, 0]])
        with pytest.raises(ValueError, match=r"anchors must broadcast to shape \(2, 2\).*got shape \(3, 2\)"):
            decode_yolo_boxes(raw, [0, 0], np.ones((3, 2)))
        with pytest.raises(ValueError, match=r"grid_size must be 2 positive integers \(W, H\), got W = 13.5"):
            decode_yolo_boxes(raw, [0, 0], [10, 10], grid_size=(13.5, 13))
        with pytest.raises(ValueError, match=r"input_size must be 2 positive finite numbers .* got net_h = -416"):
            encode_yolo_boxes([0.1, 0.1, 0.2, 0.2], [1, 1], [10, 10], input_size=(416, -416))
        with pytest.raises(ValueError, match=r"raw must have shape \(\.\.\., 4\)"):
            decode_yolo_boxes(np.zeros(3), [0, 0], [10, 10])


# ---- Hypothesis properties -------------------------------------------------------------------------------------------

coordinate = st.floats(-100.0, 100.0)
side = st.floats(0.5, 100.0)


@st.composite
def box_strategy(draw):
    x, y = draw(coordinate), draw(coordinate)
    return np.array([x, y, x + draw(side), y + draw(side)])


# Tolerances: the codes are O(10) here (|centre offset| <= 400/0.5 * w_x at worst... bounded below by the drawn
# sizes), and a translation by up to 100 or a scaling changes the rounding of each coordinate by ~eps * 300;
# divided by a side >= 0.5 and times a weight <= 10 that is ~1e-11 absolute. 1e-9 leaves room and catches any
# formula that is not invariant (errors of O(1)).
@given(box_strategy(), box_strategy(), st.floats(-100, 100), st.floats(-100, 100), st.sampled_from([RPN, HEAD]))
def test_encoding_is_translation_invariant(box, anchor, dx, dy, weights):
    shift = np.array([dx, dy, dx, dy])
    np.testing.assert_allclose(encode_boxes(box + shift, anchor + shift, weights=weights),
                               encode_boxes(box, anchor, weights=weights), rtol=1e-9, atol=1e-9)


@given(box_strategy(), box_strategy(), st.floats(0.01, 100), st.floats(0.01, 100))
def test_encoding_is_invariant_under_axis_scaling(box, anchor, sx, sy):
    scale = np.array([sx, sy, sx, sy])
    np.testing.assert_allclose(encode_boxes(box * scale, anchor * scale, weights=HEAD),
                               encode_boxes(box, anchor, weights=HEAD), rtol=1e-9, atol=1e-9)


@given(st.lists(st.floats(-3, 3), min_size=4, max_size=4), box_strategy(), st.floats(-100, 100),
       st.floats(0.01, 100))
def test_decoding_is_equivariant(delta, anchor, shift, scale):
    base = decode_boxes(delta, anchor)
    np.testing.assert_allclose(decode_boxes(delta, anchor + shift), base + shift, rtol=1e-9,
                               atol=1e-9 * (1 + abs(shift)))
    np.testing.assert_allclose(decode_boxes(delta, anchor * scale), base * scale, rtol=1e-9, atol=1e-9 * scale)


@given(box_strategy(), box_strategy())
def test_ssd_encoding_equals_the_weights_one_over_variance(box, prior):
    np.testing.assert_array_equal(encode_ssd_boxes(box, prior, variances=(0.1, 0.2)),
                                  encode_boxes(box, prior, weights=HEAD))


@given(st.integers(0, 12), st.integers(0, 12), st.integers(-6, 6), st.floats(0.05, 0.95), st.floats(0.05, 0.95),
       st.floats(0.01, 0.5), st.floats(0.01, 0.5), st.floats(0.25, 4.0))
def test_yolo_codes_move_with_their_cell_and_scale_with_the_input(i, j, k, fx, fy, w, h, s):
    # Shifting a box by k cells and its cell by k leaves the targets; so does scaling anchors and input together.
    k = min(max(k, -i), 12 - i)
    centre = np.array([(i + fx) / 13, (j + fy) / 13])
    box = np.concatenate([centre - [w / 2, h / 2], centre + [w / 2, h / 2]])
    anchors = np.array([116.0, 90.0])
    base = encode_yolo_boxes(box, [i, j], anchors)
    moved = encode_yolo_boxes(box + np.array([k, 0, k, 0]) / 13, [i + k, j], anchors)
    np.testing.assert_allclose(moved, base, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(encode_yolo_boxes(box, [i, j], anchors * s, input_size=(416 * s, 416 * s)), base,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(base[:2], [fx, fy], atol=1e-9)
    raw = np.concatenate([logit(base[:2]), base[2:]])
    np.testing.assert_allclose(decode_yolo_boxes(raw, [i, j], anchors), box, rtol=1e-9, atol=1e-9)


# ---- realistic wrong implementations, each caught by one of the checks above --------------------------------------

def encode_pyfasterrcnn(boxes, anchors, *, weights=RPN):
    """py-faster-rcnn's bbox_transform: widths x2 - x1 + 1."""
    boxes, anchors = np.asarray(boxes, float), np.asarray(anchors, float)
    size, anchor_size = boxes[..., 2:] - boxes[..., :2] + 1, anchors[..., 2:] - anchors[..., :2] + 1
    centre, anchor_centre = boxes[..., :2] + 0.5 * size, anchors[..., :2] + 0.5 * anchor_size
    w = np.array(weights)
    return np.concatenate([w[:2] * (centre - anchor_centre) / anchor_size, w[2:] * np.log(size / anchor_size)], -1)


def _decode_variant(deltas, anchors, weights, clamp, *, clamp_first=False, exp_weighted=False):
    deltas, anchors = np.asarray(deltas, float), np.asarray(anchors, float)
    w = np.array(weights)
    anchor_size = anchors[..., 2:] - anchors[..., :2]
    anchor_centre = anchors[..., :2] + 0.5 * anchor_size
    if clamp_first:  # clamp the raw t_w, then divide: min(t_w, clip) / w_w
        size_code = np.minimum(deltas[..., 2:], clamp) / w[2:]
    elif exp_weighted:  # exp of the weighted code t_w instead of t_w / w_w
        size_code = np.minimum(deltas[..., 2:], clamp)
    else:
        size_code = np.minimum(deltas[..., 2:] / w[2:], clamp)
    centre = deltas[..., :2] / w[:2] * anchor_size + anchor_centre
    size = np.exp(size_code) * anchor_size
    return np.concatenate([centre - size / 2, centre + size / 2], axis=-1)


def _decode_vjp_through_the_clamp(grad_output, deltas, anchors, *, weights=RPN, clamp=BBOX_XFORM_CLIP):
    """A VJP that lets the gradient pass the clamp (the derivative of exp(t_w / w_w) everywhere)."""
    grad_deltas, grad_anchors = decode_boxes_vjp(grad_output, deltas, anchors, weights=weights, clamp=math.inf)
    return grad_deltas, grad_anchors


def _ssd(encode_weights, decode_weights):
    return SimpleNamespace(
        encode=lambda b, p, variances=(0.1, 0.2): encode_boxes(b, p, weights=encode_weights(*variances)),
        decode=lambda o, p, variances=(0.1, 0.2), clamp=math.inf: decode_boxes(
            o, p, weights=decode_weights(*variances), clamp=clamp))


def _yolo_decode(raw, cells, anchors, *, grid_size=(13, 13), input_size=(416, 416), sigmoid=True, size_unit=None,
                 swap_cells=False):
    raw, cells, anchors = np.asarray(raw, float), np.asarray(cells, float), np.asarray(anchors, float)
    cells = cells[..., ::-1] if swap_cells else cells
    offset = 1 / (1 + np.exp(-raw[..., :2])) if sigmoid else raw[..., :2]
    centre = (cells + offset) / np.array(grid_size)
    size = anchors * np.exp(raw[..., 2:]) / np.array(size_unit or input_size)
    return np.concatenate([centre - size / 2, centre + size / 2], axis=-1)


def _yolo_vjp_without_sigmoid_derivative(grad_output, raw, cells, anchors, **kwargs):
    """Darknet's x, y delta used as if it were the decode's gradient: sigma' dropped."""
    grad_raw, none, grad_anchors = decode_yolo_boxes_vjp(grad_output, raw, cells, anchors, **kwargs)
    offset = 1 / (1 + np.exp(-np.asarray(raw, float)[..., :2]))
    grad_raw = grad_raw.copy()
    grad_raw[..., :2] /= offset * (1 - offset)
    return grad_raw, none, grad_anchors


def _check_decode_yolo_vjp(vjp):
    inputs, kwargs, differentiable = gradient_cases("decode_yolo_boxes", np.random.default_rng(11))[0]
    check_vjp(decode_yolo_boxes, vjp, inputs, kwargs, differentiable)


def _check_decode_vjp(vjp):
    inputs, kwargs, differentiable = gradient_cases("decode_boxes", np.random.default_rng(11))[0]
    check_vjp(decode_boxes, vjp, inputs, kwargs, differentiable)


def _with(base, **changes):
    return SimpleNamespace(**{**vars(base), **changes})


def _decoder(**variant):
    return lambda d, a, weights=RPN, clamp=BBOX_XFORM_CLIP: _decode_variant(d, a, weights, clamp, **variant)


def _yolo_decoder(**variant):
    return lambda *args, **kwargs: _yolo_decode(*args, **kwargs, **variant)


WRONG = {
    # Faster R-CNN
    "pyfasterrcnn_plus_one_width": (check_faster_rcnn_examples, _with(FASTER_RCNN, encode=encode_pyfasterrcnn)),
    "pyfasterrcnn_plus_one_vs_torchvision": (check_against_torchvision,
                                             _with(FASTER_RCNN, encode=encode_pyfasterrcnn)),
    "clamp_before_dividing_by_the_weights": (check_against_torchvision,
                                             _with(FASTER_RCNN, decode=_decoder(clamp_first=True))),
    "exp_of_the_weighted_delta": (check_faster_rcnn_examples, _with(FASTER_RCNN, decode=_decoder(exp_weighted=True))),
    "weights_divide_when_encoding": (check_faster_rcnn_examples, _with(FASTER_RCNN, encode=lambda b, a, weights=RPN:
                                     encode_boxes(b, a, weights=tuple(1 / w for w in weights)))),
    "gradient_passes_the_clamp": (check_decode_clamp_is_one_sided,
                                  _with(FASTER_RCNN, decode_vjp=_decode_vjp_through_the_clamp)),
    "gradient_passes_the_clamp_vs_autograd": (_check_decode_vjp, _decode_vjp_through_the_clamp),
    # SSD
    "variances_swapped": (check_ssd_examples, _ssd(lambda c, s: (1 / s, 1 / s, 1 / c, 1 / c),
                                                   lambda c, s: (1 / s, 1 / s, 1 / c, 1 / c))),
    "variances_multiplied_not_divided": (check_ssd_examples, _ssd(lambda c, s: (c, c, s, s),
                                                                  lambda c, s: (1 / c, 1 / c, 1 / s, 1 / s))),
    "size_variance_forgotten": (check_ssd_matches_torchvision_and_the_caffe_formula,
                                _ssd(lambda c, s: (1 / c, 1 / c, 1, 1), lambda c, s: (1 / c, 1 / c, 1, 1))),
    # YOLOv3
    "sigmoid_missing_on_the_offsets": (check_yolo_examples, _with(YOLO, decode=_yolo_decoder(sigmoid=False))),
    "anchor_size_divided_by_the_grid": (check_yolo_examples, _with(YOLO, decode=_yolo_decoder(size_unit=(13, 13)))),
    "cells_read_as_row_column": (check_yolo_examples, _with(YOLO, decode=_yolo_decoder(swap_cells=True))),
    "vjp_without_the_sigmoid_derivative": (_check_decode_yolo_vjp, _yolo_vjp_without_sigmoid_derivative),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_is_caught(name):
    check, implementation = WRONG[name]
    with pytest.raises(AssertionError):
        check(implementation)


def test_the_same_checks_pass_for_refloss():
    check_faster_rcnn_examples()
    check_decode_clamp_is_one_sided()
    check_ssd_examples()
    check_yolo_examples()
    _check_decode_vjp(decode_boxes_vjp)
    _check_decode_yolo_vjp(decode_yolo_boxes_vjp)
