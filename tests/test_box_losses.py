"""IoU-family losses on matched pairs: hand-worked values (each number's provenance in a comment), the documented
conventions at degenerate boxes and ties, Hypothesis properties, bad input, and real torchvision."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refloss

from mutants.boxes import UNCAUGHT

BOX_LOSSES = [n for n in refloss.registry.names() if refloss.registry.get(n).family == "boxes"]
SYMMETRIC = ["iou_loss", "log_iou_loss", "giou_loss", "diou_loss", "ciou_loss", "eiou_loss"]  # SIoU adds eps to
# the centre offset boxes2 - boxes1, so it is symmetric only for eps = 0


def loss(name, boxes1, boxes2, **params):
    return refloss.registry.get(name).forward(boxes1, boxes2, **params)


def vjp(name, grad_output, boxes1, boxes2, **params):
    return refloss.registry.get(name).vjp(grad_output, boxes1, boxes2, **params)


# ---- detectors.md §5.9, recomputed by hand (eps = 0, as the table) ----------------------------------------------

# Row 1: (0,0,2,2) vs (1,1,3,3). I = 1 * 1 = 1; A1 = A2 = 4; U = 4 + 4 - 1 = 7; IoU = 1/7.
#   Enclosing box (0,0,3,3): A_c = 9; GIoU = 1/7 - (9 - 7)/9 = -5/63, L = 68/63.
#   Centres (1,1), (2,2): rho^2 = 2; c^2 = 3^2 + 3^2 = 18; L_DIoU = 1 - 1/7 + 2/18 = 61/63.
#   Same aspect (square): v = 0, so L_CIoU = 61/63; same sides: L_EIoU = 61/63; Focal: sqrt(1/7) 61/63.
# Row 2: (0,0,1,1) vs (2,0,3,2), disjoint. I = 0; U = 1 + 2 = 3; A_c = 3 * 2 = 6; GIoU = 0 - 3/6, L = 3/2.
#   Centres (0.5,0.5), (2.5,1): rho^2 = 4 + 1/4 = 17/4; c^2 = 9 + 4 = 13; L_DIoU = 1 + 17/52 = 69/52.
#   theta1 = atan(1/1) = pi/4, theta2 = atan(1/2); pi/4 - atan(1/2) = atan((1 - 1/2)/(1 + 1/2)) = atan(1/3), so
#   v = (4/pi^2) atan(1/3)^2, alpha = v / (1 - 0 + v); L_CIoU = 69/52 + alpha v.
#   EIoU: 69/52 + (1 - 1)^2/3^2 + (1 - 2)^2/2^2 = 69/52 + 1/4 = 82/52; Focal: 0^0.5 * ... = 0.
# Row 3: (10,10,50,30) vs (12,8,48,40). w, h = 40, 20 and 36, 32; A1 = 800, A2 = 1152.
#   iw = min(50,48) - max(10,12) = 36, ih = min(30,40) - max(10,8) = 20, I = 720; U = 800 + 1152 - 720 = 1232;
#   IoU = 720/1232 = 45/77. Enclosing (10,8,50,40): 40 x 32, A_c = 1280; GIoU = 45/77 - 48/1280 = 3369/6160.
#   Centres (30,20), (30,24): rho^2 = 16; c^2 = 1600 + 1024 = 2624; L_DIoU = 32/77 + 16/2624 = 5325/12628.
#   atan(2) - atan(36/32) = atan((2 - 9/8)/(1 + 9/4)) = atan(7/26): v = (4/pi^2) atan(7/26)^2,
#   alpha = v / (32/77 + v). EIoU: 5325/12628 + 4^2/40^2 + 12^2/32^2 = 5325/12628 + 1/100 + 9/64.
V2 = 4 / math.pi**2 * math.atan(1 / 3) ** 2
V3 = 4 / math.pi**2 * math.atan(7 / 26) ** 2
TABLE = [
    # pred, GT, {loss: (hand-derived value, the table's 6 digits)}
    ([0, 0, 2, 2], [1, 1, 3, 3], {
        "iou_loss": (6 / 7, 0.857143), "log_iou_loss": (math.log(7), 1.945910), "giou_loss": (68 / 63, 1.079365),
        "diou_loss": (61 / 63, 0.968254), "ciou_loss": (61 / 63, 0.968254), "eiou_loss": (61 / 63, 0.968254),
        "eiou_loss_focal": (math.sqrt(1 / 7) * 61 / 63, 0.365966)}),
    ([0, 0, 1, 1], [2, 0, 3, 2], {
        "iou_loss": (1.0, 1.0), "giou_loss": (1.5, 1.5), "diou_loss": (69 / 52, 1.326923),
        "ciou_loss": (69 / 52 + V2 / (1 + V2) * V2, 1.328613), "eiou_loss": (82 / 52, 1.576923),
        "eiou_loss_focal": (0.0, 0.0)}),
    ([10, 10, 50, 30], [12, 8, 48, 40], {
        "iou_loss": (32 / 77, 0.415584), "log_iou_loss": (math.log(77 / 45), 0.537143),
        "giou_loss": (2791 / 6160, 0.453084), "diou_loss": (5325 / 12628, 0.421682),
        "ciou_loss": (5325 / 12628 + V3 / (32 / 77 + V3) * V3, 0.423453),
        "eiou_loss": (5325 / 12628 + 1 / 100 + 9 / 64, 0.572307),
        "eiou_loss_focal": (math.sqrt(45 / 77) * (5325 / 12628 + 1 / 100 + 9 / 64), 0.437512)}),
]


@pytest.mark.parametrize("pred, target, expected", TABLE, ids=["overlap", "disjoint", "detector_sized"])
def test_table_of_detectors_md(pred, target, expected):
    for name, (exact, printed) in expected.items():
        params = {"eps": 0.0, "gamma": 0.5} if name == "eiou_loss_focal" else {"eps": 0.0}
        got = float(loss(name.removesuffix("_focal"), pred, target, **params))
        assert got == pytest.approx(exact, rel=4e-16, abs=1e-16), name
        assert got == pytest.approx(printed, abs=5e-7), name  # agrees with the table's rounding


def test_table_row_one_with_the_default_eps():
    # 1 - I/(U + eps) with I = 1, U = 7: 1 - 1/(7 + 1e-7), a relative change of 1e-7/7 in the IoU
    assert float(refloss.iou_loss([0, 0, 2, 2], [1, 1, 3, 3])) == pytest.approx(1 - 1 / (7 + 1e-7), rel=1e-15)


# ---- configurations: identical, nested, touching, zero-area -----------------------------------------------------

def test_identical_boxes_cost_eps_over_the_area():
    box = [0.5, 1.0, 2.5, 3.0]  # 2 x 2, A = 4: IoU = 4 / (4 + eps); every penalty term is 0
    for name in BOX_LOSSES:
        if name == "siou_loss":
            continue  # its offsets carry eps: checked below
        expected = math.log1p(1e-7 / 4) if name == "log_iou_loss" else 1e-7 / (4 + 1e-7)
        assert float(loss(name, box, box)) == pytest.approx(expected, rel=1e-8), name
        # with eps = 0 every loss is exactly 0 (CIoU too: alpha = 0 where v = 0, not 0/0)
        assert float(loss(name, box, box, eps=0.0)) == 0.0, name
    # SIoU: a = b = eps, so the angle cost is sin(pi/2) = 1, gamma = 1 and rho_x = eps^2 / (4 + eps): tiny
    assert 0 <= float(refloss.siou_loss(box, box)) < 1e-7


def test_nested_boxes():
    outer, inner = [0, 0, 4, 4], [1, 1, 2, 2]
    # I = 1, U = 16, IoU = 1/16; the enclosing box is the outer one: A_c = U, no GIoU penalty
    assert float(refloss.iou_loss(inner, outer, eps=0.0)) == 15 / 16
    assert float(refloss.giou_loss(inner, outer, eps=0.0)) == 15 / 16
    # centres (1.5, 1.5) and (2, 2): rho^2 = 1/2; c^2 = 16 + 16: DIoU adds 1/64
    assert float(refloss.diou_loss(inner, outer, eps=0.0)) == 15 / 16 + 1 / 64


def test_touching_boxes_cost_one_and_have_no_intersection_gradient():
    left, right = [0, 0, 1, 1], [1, 0, 2, 1]  # a shared edge at x = 1: I = 0, U = 2, enclosing box 2 x 1 = U
    assert float(refloss.iou_loss(left, right)) == 1.0
    assert float(refloss.giou_loss(left, right, eps=0.0)) == 1.0
    # Moving left's x2 to the right would open an overlap (right derivative -ih / U = -1/2); the convention is
    # torchvision's strict mask: no gradient through the intersection, the left derivative 0.
    g1, g2 = refloss.iou_loss_vjp(1.0, left, right)
    np.testing.assert_array_equal(g1, np.zeros(4))
    np.testing.assert_array_equal(g2, np.zeros(4))


def test_zero_area_boxes():
    point = [1.0, 1.0, 1.0, 1.0]
    # identical points: I = 0 and U = 0, IoU = 0 / (0 + eps) = 0: loss 1 for iou and, as torchvision, for giou
    assert float(refloss.iou_loss(point, point)) == 1.0
    assert float(refloss.giou_loss(point, point)) == 1.0  # pytorch/vision#7746
    assert float(refloss.diou_loss(point, point)) == 1.0  # rho^2 = 0 over c^2 + eps = eps
    # a zero-width box inside another: I = 0, U = 2 x 1 = 2 (the segment has no area)
    assert float(refloss.iou_loss([1, 0, 1, 2], [0, 0, 2, 1])) == 1.0


def test_mean_of_no_pairs_is_zero_and_its_gradient_empty():
    empty = np.zeros((0, 4))
    for name in BOX_LOSSES:
        assert float(loss(name, empty, empty, reduction="mean")) == 0.0, name
        assert float(loss(name, empty, empty, reduction="sum")) == 0.0, name
        assert loss(name, empty, empty).shape == (0,), name
        g1, g2 = vjp(name, 1.0, empty, empty, reduction="mean")
        assert g1.shape == g2.shape == (0, 4), name


# ---- CIoU and EIoU conventions ----------------------------------------------------------------------------------

def test_ciou_of_a_zero_height_box_is_finite():
    box, flat = [0.0, 0.0, 2.0, 1.0], [0.5, 0.5, 1.5, 0.5]  # flat: w = 1, h = 0, theta = atan2(1, 0) = pi/2
    value = float(refloss.ciou_loss(box, flat))
    # I = 0 (no height), IoU = 0; theta1 = atan(2); v = (4/pi^2)(pi/2 - atan 2)^2 = (4/pi^2) atan(1/2)^2
    v = 4 / math.pi**2 * math.atan(0.5) ** 2
    assert value == pytest.approx(float(refloss.diou_loss(box, flat)) + v / (1 + v + 1e-7) * v, rel=1e-14)
    g1, g2 = refloss.ciou_loss_vjp(1.0, box, flat)
    assert np.all(np.isfinite(g1)) and np.all(np.isfinite(g2))
    # d theta / dh = -w / (w^2 + h^2) = -1 for the flat box: its aspect gradient reaches y1 and y2
    d1, d2 = refloss.diou_loss_vjp(1.0, box, flat)
    aspect = g2 - d2
    alpha = v / (1 + v + 1e-7)
    # d(alpha v)/d theta2 = alpha (8/pi^2)(theta2 - theta1), theta2 - theta1 = atan(1/2); dtheta2/dh2 = -1
    slope = alpha * 8 / math.pi**2 * math.atan(0.5) * -1.0
    np.testing.assert_allclose(aspect, [0.0, -slope, 0.0, slope], rtol=1e-12, atol=1e-17)


def test_ciou_of_a_point_box_has_theta_zero_and_no_aspect_gradient():
    point, box = [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 2.0, 1.0]
    v = 4 / math.pi**2 * math.atan2(2.0, 1.0) ** 2  # theta_point = atan2(0, 0) = 0
    assert float(refloss.ciou_loss(point, box)) == pytest.approx(
        float(refloss.diou_loss(point, box)) + v / (1 + v + 1e-7) * v, rel=1e-14)
    g_point, _ = refloss.ciou_loss_vjp(1.0, point, box)
    d_point, _ = refloss.diou_loss_vjp(1.0, point, box)
    np.testing.assert_array_equal(g_point, d_point)  # the aspect term adds nothing to the point's corners


def test_ciou_alpha_gate():
    pred, target = [10, 10, 50, 30], [12, 8, 48, 40]  # IoU = 45/77 = 0.584 (table row 3), v > 0
    ungated = float(refloss.ciou_loss(pred, target))
    assert float(refloss.ciou_loss(pred, target, alpha_gate=0.5)) == ungated  # IoU > 0.5: alpha counts
    assert float(refloss.ciou_loss(pred, target, alpha_gate=0.6)) == float(refloss.diou_loss(pred, target))
    assert ungated > float(refloss.diou_loss(pred, target))
    gated, _ = refloss.ciou_loss_vjp(1.0, pred, target, alpha_gate=0.6)
    np.testing.assert_array_equal(gated, refloss.diou_loss_vjp(1.0, pred, target)[0])


def test_ciou_alpha_is_held_constant():
    # with alpha constant, d(alpha v) = alpha dv; differentiating alpha too would add v d(alpha) (Keras core)
    pred, target = np.array([0.0, 0.0, 3.0, 1.0]), np.array([0.5, 0.25, 2.0, 2.75])  # no coordinates tie
    step = 1e-6
    direction = np.array([0.3, -0.2, 0.5, 0.1])
    grad, _ = refloss.ciou_loss_vjp(1.0, pred, target)

    def held(b1):  # CIoU with alpha fixed at its value at pred
        d = float(refloss.diou_loss(b1, target))
        iou = 1 - float(refloss.iou_loss(pred, target))
        v0 = 4 / math.pi**2 * (math.atan2(1.5, 2.5) - math.atan2(3.0, 1.0)) ** 2
        v = 4 / math.pi**2 * (math.atan2(1.5, 2.5) - math.atan2(b1[2] - b1[0], b1[3] - b1[1])) ** 2
        return d + v0 / (1 - iou + v0 + 1e-7) * v
    slope = (held(pred + step * direction) - held(pred - step * direction)) / (2 * step)
    assert grad @ direction == pytest.approx(slope, rel=1e-7)


def test_focal_eiou_of_disjoint_boxes_is_zero():
    a, b = [0, 0, 1, 1], [2, 0, 3, 2]  # IoU = 0: the weight 0^gamma is 0, and it is a constant
    assert float(refloss.eiou_loss(a, b, gamma=0.5)) == 0.0
    for g in refloss.eiou_loss_vjp(1.0, a, b, gamma=0.5):
        np.testing.assert_array_equal(g, np.zeros(4))
    assert float(refloss.eiou_loss(a, b, gamma=0.0, eps=0.0)) == 82 / 52  # gamma = 0: plain EIoU (row 2)


# ---- one-sided derivatives at ties -------------------------------------------------------------------------------

def _one_sided(name, b1, b2, index, side, step=1e-5):
    """The one-sided derivative of the loss in coordinate ``index`` of (b1, b2) concatenated, second order."""
    coordinates = np.concatenate([b1, b2]).astype(float)

    def at(t):
        moved = coordinates.copy()
        moved[index] += side * t
        return float(loss(name, moved[:4], moved[4:]))
    return side * (-3 * at(0.0) + 4 * at(step) - at(2 * step)) / (2 * step)


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_at_identical_boxes_the_vjp_splits_ties_between_the_one_sided_derivatives(name):
    box = np.array([0.5, 1.0, 2.5, 3.0])
    grad = np.concatenate(vjp(name, 1.0, box, box))
    for index in range(8):
        right, left = _one_sided(name, box, box, index, +1), _one_sided(name, box, box, index, -1)
        assert min(left, right) - 1e-6 <= grad[index] <= max(left, right) + 1e-6, (index, left, right)
        # each coordinate's max and min tie split equally: the midpoint (TensorFlow's rule gives one side)
        assert grad[index] == pytest.approx((left + right) / 2, abs=1e-6), (index, left, right)
        assert abs(right - left) > 0.1  # a real kink: the midpoint is a choice


def test_at_a_shared_edge_the_split_is_the_midpoint():
    b1, b2 = np.array([1.0, 0.0, 3.0, 2.0]), np.array([1.0, 1.0, 2.0, 3.5])  # x1 shared
    grad = np.concatenate(refloss.giou_loss_vjp(1.0, b1, b2))
    for index in (0, 4):
        right, left = _one_sided("giou_loss", b1, b2, index, +1), _one_sided("giou_loss", b1, b2, index, -1)
        assert grad[index] == pytest.approx((left + right) / 2, abs=1e-6)


def test_the_mutants_the_vectors_cannot_catch_are_caught_here():
    """tests/mutants/boxes.py UNCAUGHT: realistic bugs that the golden vectors accept, each failing a check above."""
    uncaught = {mutant.name: mutant for mutant in UNCAUGHT}
    # the tie split: for IoU at identical boxes; for GIoU at a shared edge (at identical boxes TensorFlow's rule
    # happens to give the midpoint: the intersection's and the enclosing box's effects cancel, h/U - h/A_c = 0)
    for name, b1, b2 in [("iou_tf_tie_rule", [0.5, 1.0, 2.5, 3.0], [0.5, 1.0, 2.5, 3.0]),
                         ("giou_tf_tie_rule", [1.0, 0.0, 3.0, 2.0], [1.0, 1.0, 2.0, 3.5])]:
        mutant, b1, b2 = uncaught[name], np.array(b1), np.array(b2)
        grad = np.concatenate(mutant.vjp(np.ones(1), b1[None], b2[None]), axis=None)
        midpoints = [(_one_sided(mutant.loss, b1, b2, i, +1) + _one_sided(mutant.loss, b1, b2, i, -1)) / 2
                     for i in range(8)]
        assert not np.allclose(grad, midpoints, atol=1e-6), name
    left, right = np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([[1.0, 0.0, 2.0, 1.0]])  # the touching convention
    assert np.any(uncaught["iou_clamp_gradient_at_touching"].vjp(np.ones(1), left, right)[0] != 0)
    with pytest.raises(ValueError, match="must have the same shape"):  # pairs that would broadcast: an error
        refloss.diou_loss(BOXES[:1], BOXES)


# ---- Hypothesis properties ---------------------------------------------------------------------------------------

@st.composite
def box_pairs(draw, count=3, min_side=0):
    """Boxes with corners on the grid of 1/8 in [-8, 8] and sides in [min_side, 6] (exact under translation by an
    integer and scaling by a power of two)."""
    def box():
        x1, y1 = draw(st.integers(-64, 64)), draw(st.integers(-64, 64))
        w, h = draw(st.integers(min_side, 48)), draw(st.integers(min_side, 48))
        return [x1 / 8, y1 / 8, (x1 + w) / 8, (y1 + h) / 8]
    return (np.array([box() for _ in range(count)]), np.array([box() for _ in range(count)]))


@given(box_pairs())
def test_values_are_symmetric_under_swapping_the_boxes(pair):
    b1, b2 = pair
    for name in SYMMETRIC:
        np.testing.assert_array_equal(loss(name, b1, b2), loss(name, b2, b1), err_msg=name)


@given(box_pairs(min_side=1))
def test_siou_is_symmetric_for_eps_zero(pair):
    b1, b2 = pair
    np.testing.assert_array_equal(refloss.siou_loss(b1, b2, eps=0.0), refloss.siou_loss(b2, b1, eps=0.0))


@given(box_pairs(min_side=1), st.integers(-100, 100), st.integers(-100, 100))
def test_values_are_invariant_under_translation(pair, tx, ty):
    b1, b2 = pair
    shift = np.array([tx, ty, tx, ty], dtype=float)
    for name in BOX_LOSSES:
        np.testing.assert_array_equal(loss(name, b1 + shift, b2 + shift, eps=0.0), loss(name, b1, b2, eps=0.0),
                                      err_msg=name)


@given(box_pairs(min_side=1), st.integers(-20, 20))
def test_values_are_invariant_under_scaling_by_powers_of_two(pair, exponent):
    b1, b2 = pair
    scale = 2.0**exponent
    for name in BOX_LOSSES:
        np.testing.assert_array_equal(loss(name, b1 * scale, b2 * scale, eps=0.0), loss(name, b1, b2, eps=0.0),
                                      err_msg=name)


@given(box_pairs(count=4))
def test_ranges_of_iou_and_giou_losses(pair):
    b1, b2 = pair
    iou = refloss.iou_loss(b1, b2)
    giou = refloss.giou_loss(b1, b2)
    assert np.all((0 <= iou) & (iou <= 1))
    assert np.all((0 <= giou) & (giou < 2))
    assert np.all(giou >= iou)  # the GIoU penalty (A_c - U)/(A_c + eps) is >= 0


# ---- bad input ----------------------------------------------------------------------------------------------------

BOXES = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]])


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_an_inverted_box_is_named_with_its_index(name):
    inverted = BOXES.copy()
    inverted[2] = [3.0, 1.0, 1.0, 3.0]
    message = r"boxes2\[2\] = \[3.0, 1.0, 1.0, 3.0\] is not a valid box in xyxy: x2 < x1"
    with pytest.raises(ValueError, match=message):
        loss(name, BOXES, inverted)
    with pytest.raises(ValueError, match=message.replace("boxes2", "boxes1")):
        vjp(name, np.ones(3), inverted, BOXES)
    inverted[2] = [0.0, 2.0, 2.0, 0.0]
    with pytest.raises(ValueError, match=r"boxes1\[2\] = .* y2 < y1"):
        loss(name, inverted, BOXES)


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_shapes_are_checked(name):
    with pytest.raises(ValueError, match=r"boxes2 must have the same shape as boxes1 .*got boxes2 \(2, 4\) and "
                                         r"boxes1 \(3, 4\)"):
        loss(name, BOXES, BOXES[:2])
    with pytest.raises(ValueError, match=r"boxes2 must have the same shape as boxes1"):
        loss(name, BOXES[:1], BOXES)  # (1, 4) against (3, 4): would broadcast, and must not
    with pytest.raises(ValueError, match=r"boxes2 must have the same shape as boxes1"):
        vjp(name, np.ones(3), BOXES[:1], BOXES)
    with pytest.raises(ValueError, match=r"boxes1 must have shape \(\.\.\., 4\) .*got shape \(3, 3\)"):
        loss(name, BOXES[:, :3], BOXES[:, :3])
    with pytest.raises(ValueError, match=r"must have shape \(\.\.\., 4\) .*got shape \(\)"):
        loss(name, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"grad_output must have the shape of the loss output \(3,\), got \(2,\)"):
        vjp(name, np.ones(2), BOXES, BOXES)


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_reduction_and_eps_are_checked(name):
    with pytest.raises(ValueError, match=r"reduction must be one of 'none', 'mean', 'sum', got 'batchmean'"):
        loss(name, BOXES, BOXES, reduction="batchmean")
    for bad in (-1e-7, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"eps must be in \[0, inf\)"):
            loss(name, BOXES, BOXES, eps=bad)
        with pytest.raises(ValueError, match=r"eps must be in \[0, inf\)"):
            vjp(name, np.ones(3), BOXES, BOXES, eps=bad)


def test_gamma_and_alpha_gate_are_checked():
    with pytest.raises(ValueError, match=r"gamma must be in \[0, inf\), got -0.5"):
        refloss.eiou_loss(BOXES, BOXES, gamma=-0.5)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, inf\), got -0.5"):
        refloss.eiou_loss_vjp(np.ones(3), BOXES, BOXES, gamma=-0.5)
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match=rf"alpha_gate must be in \[0, 1\], got {bad}"):
            refloss.ciou_loss(BOXES, BOXES, alpha_gate=bad)
        with pytest.raises(ValueError, match=rf"alpha_gate must be in \[0, 1\], got {bad}"):
            refloss.ciou_loss_vjp(np.ones(3), BOXES, BOXES, alpha_gate=bad)


@pytest.mark.parametrize("name", BOX_LOSSES)
@pytest.mark.parametrize("bad", [BOXES.astype(str), BOXES.astype(complex), "abcd"], ids=["strings", "complex", "str"])
def test_non_real_boxes_are_rejected(name, bad):
    with pytest.raises(TypeError, match=r"boxes1 must be an array of real numbers \(integer or float\), got dtype"):
        loss(name, bad, BOXES)


# ---- torchvision ------------------------------------------------------------------------------------------------

TORCHVISION = {"giou_loss": "generalized_box_iou_loss", "diou_loss": "distance_box_iou_loss",
               "ciou_loss": "complete_box_iou_loss"}


def _random_boxes(seed, count=32):
    rng = np.random.default_rng(seed)
    corners = rng.uniform(-5, 5, (count, 2))
    b1 = np.concatenate([corners, corners + rng.uniform(0.1, 4, (count, 2))], axis=1)
    b2 = b1 + rng.uniform(-1.5, 1.5, (count, 4))
    b2[:, 2:] = np.maximum(b2[:, 2:], b2[:, :2] + 0.05)
    return b1, b2


def _torchvision(name, b1, b2, dtype, reduction="none", eps=1e-7):
    """torchvision's loss and gradients for cotangent 1 per pair (float64 numpy)."""
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    t1 = torch.tensor(b1, dtype=dtype, requires_grad=True)
    t2 = torch.tensor(b2, dtype=dtype, requires_grad=True)
    value = getattr(ops, TORCHVISION[name])(t1, t2, reduction=reduction, eps=eps)
    value.sum().backward()
    return (value.detach().double().numpy(), t1.grad.double().numpy(), t2.grad.double().numpy())


@pytest.mark.parametrize("name", TORCHVISION)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_matches_torchvision_in_float64(name, reduction):
    torch = pytest.importorskip("torch")
    b1, b2 = _random_boxes(0)
    value, g1, g2 = _torchvision(name, b1, b2, torch.float64, reduction)
    np.testing.assert_allclose(loss(name, b1, b2, reduction=reduction), value, rtol=1e-13, atol=1e-15)
    cotangent = np.ones(len(b1)) if reduction == "none" else 1.0
    r1, r2 = vjp(name, cotangent, b1, b2, reduction=reduction)
    np.testing.assert_allclose(r1, g1, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(r2, g2, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", TORCHVISION)
def test_matches_torchvision_in_float32(name):
    torch = pytest.importorskip("torch")
    b1, b2 = (b.astype(np.float32).astype(np.float64) for b in _random_boxes(1))  # the same inputs for both
    value, g1, g2 = _torchvision(name, b1, b2, torch.float32)
    # torchvision computes in float32: each of its ~30 rounded steps is off by up to 2^-24 relative, amplified by
    # the cancellation in 1 - IoU and in the corner differences; 2e-5 relative (a few hundred float32 ulps) with
    # an absolute floor for gradients near 0 bounds that without hiding a formula error (O(1e-2) or larger)
    np.testing.assert_allclose(loss(name, b1, b2), value, rtol=2e-5, atol=1e-6)
    r1, r2 = vjp(name, np.ones(len(b1)), b1, b2)
    np.testing.assert_allclose(r1, g1, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(r2, g2, rtol=2e-4, atol=2e-5)


def test_identical_zero_area_boxes_giou_is_one_as_torchvision():
    torch = pytest.importorskip("torch")
    zeros = np.zeros((1, 4))
    value, _, _ = _torchvision("giou_loss", zeros, zeros, torch.float64)
    assert value[0] == 1.0 == float(refloss.giou_loss(zeros, zeros)[0])


def test_recorded_difference_torchvision_ciou_ignores_eps_in_its_diou_part():
    torch = pytest.importorskip("torch")
    b1, b2 = _random_boxes(2, count=8)
    eps = 1e-3
    value, _, _ = _torchvision("ciou_loss", b1, b2, torch.float64, eps=eps)
    ours = refloss.ciou_loss(b1, b2, eps=eps)
    assert np.max(np.abs(ours - value)) > 1e-6  # the difference is real ...
    # ... and is exactly this: torchvision's IoU and distance with eps = 1e-7, its alpha with the user's eps
    iou = 1 - refloss.iou_loss(b1, b2, eps=1e-7)
    w1, h1, w2, h2 = b1[:, 2] - b1[:, 0], b1[:, 3] - b1[:, 1], b2[:, 2] - b2[:, 0], b2[:, 3] - b2[:, 1]
    v = 4 / math.pi**2 * (np.arctan(w2 / h2) - np.arctan(w1 / h1)) ** 2
    torchvision_formula = refloss.diou_loss(b1, b2, eps=1e-7) + v / (1 - iou + v + eps) * v
    np.testing.assert_allclose(value, torchvision_formula, rtol=1e-13)
    np.testing.assert_allclose(refloss.ciou_loss(b1, b2), _torchvision("ciou_loss", b1, b2, torch.float64)[0],
                               rtol=1e-13)  # with the default eps they agree


def test_recorded_difference_zero_height_box_ciou_gradient_nan_in_torchvision_finite_here():
    torch = pytest.importorskip("torch")
    box, flat = np.array([[0.0, 0.0, 2.0, 1.0]]), np.array([[0.5, 0.5, 1.5, 0.5]])
    value, g1, g2 = _torchvision("ciou_loss", box, flat, torch.float64)
    np.testing.assert_allclose(refloss.ciou_loss(box, flat), value, rtol=1e-14)  # the values agree
    assert np.all(np.isnan(g2))  # atan(w / h) at h = 0: torchvision's gradient is NaN
    r1, r2 = refloss.ciou_loss_vjp(np.ones(1), box, flat)
    assert np.all(np.isfinite(r2))
    np.testing.assert_allclose(r1, g1, rtol=1e-12)  # the other box's gradient agrees
