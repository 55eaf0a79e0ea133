"""The plots of the derivation pages (docs/_ext/refloss_plots.py): every registered function is drawn, each plot
sits on its functions' page, every figure holds data, and what is drawn is what refloss computes (checked against
the VJPs and, where the formula is short, against the formula itself). Needs matplotlib, not Sphinx."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the docs extra (matplotlib) is not installed")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

import refloss  # noqa: E402
from refloss import _registry  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import refloss_plots  # noqa: E402

PLOTS = refloss_plots.PLOTS


def _page(plot) -> Path:
    return ROOT / _registry.get(plot.functions[0]).derivation


def _curve(ax, label: str) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) data of the line called ``label`` on ``ax``."""
    found = [line for line in ax.lines if line.get_label() == label]
    assert len(found) == 1, f"{len(found)} lines labelled {label!r}: {[line.get_label() for line in ax.lines]}"
    return np.asarray(found[0].get_xdata(), dtype=float), np.asarray(found[0].get_ydata(), dtype=float)


@pytest.fixture(scope="module")
def figures() -> dict:
    """Each plot made once for the module (the figures are plain objects: nothing to close)."""
    return {}


def _figure(figures: dict, plot_id: str) -> Figure:
    if plot_id not in figures:
        figures[plot_id] = PLOTS[plot_id].make()
    return figures[plot_id]


# ---- the registry of plots --------------------------------------------------------------------------------------

def test_every_registered_function_is_plotted():
    shown = {name for plot in PLOTS.values() for name in plot.functions}
    assert set(_registry.names(None)) - shown == set()
    assert shown - set(_registry.names(None)) == set(), "a plot names a function that is not registered"


@pytest.mark.parametrize("plot_id", sorted(PLOTS))
def test_plot_functions_share_a_page_that_shows_the_plot(plot_id):
    plot = PLOTS[plot_id]
    assert plot.id == plot_id
    pages = {_registry.get(name).derivation for name in plot.functions}
    assert len(pages) == 1, f"{plot_id} shows functions of several pages: {pages}"
    text = _page(plot).read_text(encoding="utf-8")
    assert re.search(rf"^```{{refloss-plot}} {re.escape(plot_id)}\s*\n```", text, re.MULTILINE), \
        f"{_page(plot).name} has no {{refloss-plot}} {plot_id}"


@pytest.mark.parametrize("plot_id", sorted(PLOTS))
def test_plot_names_its_functions_in_its_caption_or_legend(plot_id, figures):
    """A reader can tell which function each curve is: the caption or a legend names every function whose page
    shows several (on single-function pages the page itself says which)."""
    plot = PLOTS[plot_id]
    fig = _figure(figures, plot_id)
    assert isinstance(fig, Figure)
    texts = [plot.caption] + [t.get_text() for ax in fig.axes for t in ax.texts]
    texts += [ax.get_title() for ax in fig.axes]
    texts += [line.get_label() for ax in fig.axes for line in ax.lines]
    texts += [c.get_label() for ax in fig.axes for c in ax.collections]
    if len(plot.functions) > 1:
        missing = [name for name in plot.functions if not any(name in text for text in texts)]
        assert not missing, f"{plot_id}: nothing names {missing}"
    assert 20 < len(plot.caption) < 900 and "\n" not in plot.caption


@pytest.mark.parametrize("plot_id", sorted(PLOTS))
def test_every_axis_is_labelled_and_holds_data(plot_id, figures):
    fig = _figure(figures, plot_id)
    assert fig.axes
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        assert ax.get_xlabel() and ax.get_ylabel(), f"{plot_id}: an axis without labels"
        data = [line.get_ydata() for line in ax.lines if len(line.get_xdata()) > 2]  # not the zero line
        drawn = data or ax.collections or ax.images or ax.patches
        assert drawn, f"{plot_id}: the axis {ax.get_title()!r} holds no data"
        for y in data:
            y = np.asarray(y, dtype=float)
            assert np.isfinite(y).any(), f"{plot_id}: a curve with no finite point on {ax.get_title()!r}"


# ---- what is drawn is what refloss computes -------------------------------------------------------------------

def test_smooth_l1_gradient_curve_is_the_vjp_and_the_clipped_residual(figures):
    ax_loss, ax_grad = _figure(figures, "smooth_l1_loss").axes
    for beta in (1.0, 0.5, 2.0):
        label = rf"$\beta = {beta:g}$" + (" (default)" if beta == 1 else "")
        r, drawn = _curve(ax_grad, label)
        vjp = refloss.smooth_l1_loss_vjp(np.ones_like(r), r, np.zeros_like(r), beta=beta, reduction="none")[0]
        np.testing.assert_array_equal(drawn, vjp)
        np.testing.assert_allclose(drawn, np.clip(r / beta, -1.0, 1.0), rtol=1e-12, atol=1e-15)
        _, loss = _curve(ax_loss, label)
        np.testing.assert_allclose(loss, np.where(np.abs(r) < beta, 0.5 * r**2 / beta, np.abs(r) - 0.5 * beta),
                                   rtol=1e-12, atol=1e-15)


def test_l1_kink_marker_is_the_subgradient_zero(figures):
    ax_grad = _figure(figures, "l1_loss").axes[1]
    markers = [line for line in ax_grad.lines if line.get_marker() == "o"]
    assert [tuple(line.get_xdata()) for line in markers] == [(0.0,)]
    assert list(markers[0].get_ydata()) == [0.0]  # the registry's convention at |x|'s kink


def test_cross_entropy_dots_are_nll_of_log_softmax_and_match_softmax_minus_onehot(figures):
    ax_loss, ax_grad = _figure(figures, "cross_entropy").axes
    z, ce = _curve(ax_loss, "label_smoothing=0")
    _, ce_grad = _curve(ax_grad, "label_smoothing=0")
    z_dots, nll = _curve(ax_loss, "nll_loss ∘ log_softmax")
    dots = np.isin(z, z_dots)
    np.testing.assert_allclose(nll, ce[dots], rtol=1e-13)
    logits = np.stack([z, np.full_like(z, 1.0), np.full_like(z, -1.0)], axis=1)
    p0 = np.exp(z) / np.exp(logits).sum(axis=1)  # softmax written out, independently of refloss
    np.testing.assert_allclose(ce_grad, p0 - 1.0, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ce, -np.log(p0), rtol=1e-12)
    smoothed_z, smoothed = _curve(ax_grad, "label_smoothing=0.3")
    crossing = smoothed_z[np.argmin(np.abs(smoothed))]
    assert np.min(np.abs(smoothed)) < 0.01 and -6 < crossing < 6, "the caption: smoothing's gradient crosses zero"


def test_keras_bce_gradient_is_zero_beyond_the_clip_and_torch_keeps_one_over_p(figures):
    axes = _figure(figures, "binary_cross_entropy_ends").axes
    p, torch_grad = _curve(axes[1], "binary_cross_entropy")
    _, keras_grad = _curve(axes[1], "binary_cross_entropy_keras")
    _, keras_loss = _curve(axes[0], "binary_cross_entropy_keras")
    np.testing.assert_allclose(torch_grad, 1.0 / p, rtol=1e-10)  # |d(-log p)/dp|, unbounded
    below = p < 1e-7
    assert below.sum() > 10 and np.all(keras_grad[below] == 0.0)
    np.testing.assert_allclose(keras_loss[below], -np.log(1e-7), rtol=1e-12)
    np.testing.assert_allclose(keras_grad[p > 1e-6], 1.0 / p[p > 1e-6], rtol=1e-6)


def test_sigmoid_focal_gamma_zero_is_alpha_weighted_cross_entropy(figures):
    ax_loss, ax_grad = _figure(figures, "sigmoid_focal_loss").axes
    p, loss = _curve(ax_loss, r"$\gamma = 0$")
    _, grad = _curve(ax_grad, r"$\gamma = 0$")
    np.testing.assert_allclose(loss, -0.25 * np.log(p), rtol=1e-10)
    np.testing.assert_allclose(grad, 0.25 * (p - 1.0), rtol=1e-10, atol=1e-15)
    _, focused = _curve(ax_grad, r"$\gamma = 2$")
    confident = p >= 0.8
    assert np.all(np.abs(focused[confident]) < np.abs(grad[confident]) / 8), "the caption: under an eighth"


def test_sparsemax_gradient_is_exactly_zero_once_the_target_leads_by_one(figures):
    ax_grad = _figure(figures, "sparsemax_loss").axes[1]
    z, grad = _curve(ax_grad, "target class 0")
    assert np.all(grad[z >= 1.0] == 0.0) and np.all(grad[z < 0.99] < 0.0)


def test_multiclass_hinge_is_one_plus_the_strongest_rival_minus_the_target(figures):
    z, loss = _curve(_figure(figures, "multiclass_hinge_loss").axes[0], "target class 0")
    np.testing.assert_allclose(loss, np.maximum(0.0, 1.0 + 0.5 - z), rtol=1e-12, atol=1e-15)  # rivals 0.5 and 0


def test_iou_losses_give_no_gradient_once_the_boxes_are_apart(figures):
    ax_grad = _figure(figures, "iou_loss").axes[1]  # the slide row's gradient panel
    for label in ("iou_loss", "log_iou_loss"):
        s, grad = _curve(ax_grad, label)
        assert np.all(grad[np.abs(s) > 1.0] == 0.0) and np.all(grad[(np.abs(s) > 0.05) & (np.abs(s) < 0.95)] != 0)
    s, giou_grad = _curve(_figure(figures, "giou_loss").axes[1], "giou_loss")
    assert np.all(giou_grad[np.abs(s) > 1.01] != 0.0), "GIoU keeps a gradient after the boxes part"


def test_box_derivative_along_the_slide_is_the_vjp_dotted_with_the_direction(figures):
    s, drawn = _curve(_figure(figures, "diou_loss").axes[1], "diou_loss")
    boxes = np.stack([s, np.zeros_like(s), s + 1.0, np.ones_like(s)], axis=1)
    target = np.broadcast_to([0.0, 0.0, 1.0, 1.0], boxes.shape)
    grad = refloss.diou_loss_vjp(np.ones(len(s)), boxes, target)[0]
    np.testing.assert_array_equal(drawn, grad[:, 0] + grad[:, 2])
    step = 1e-6  # a coarse finite difference only to confirm the direction's sign and size, not the VJP
    ahead = refloss.diou_loss(boxes + [step, 0, step, 0], target)
    behind = refloss.diou_loss(boxes - [step, 0, step, 0], target)
    smooth = np.abs(np.abs(s) - 1.0) > 1e-3  # at |s| = 1 the boxes start to overlap: a kink, no derivative to match
    np.testing.assert_allclose(drawn[smooth], ((ahead - behind) / (2 * step))[smooth], atol=1e-5)


def test_gaussian_nll_variance_clamp_is_flat_with_a_straight_through_gradient(figures):
    ax_loss, ax_grad = _figure(figures, "gaussian_nll_loss_variance").axes
    var, loss = _curve(ax_loss, "eps $= 0.1$")
    _, grad = _curve(ax_grad, "eps $= 0.1$")
    clamped = var < 0.1
    assert np.ptp(loss[clamped]) == 0.0 and np.all(grad[clamped] != 0.0)
    _, default_grad = _curve(ax_grad, r"eps $= 10^{-6}$ (default)")
    crossing = var[np.argmin(np.abs(default_grad))]
    assert abs(crossing - 0.25) < 0.02, "the minimum is at sigma^2 = r^2"


def test_nms_thresholds_behave_as_the_caption_says():
    boxes, scores, classes = refloss_plots._nms_scene()
    kept = {name: [len(select(t)) for t in (0.05, 0.3, 0.95)]
            for name, select in [("nms", lambda t: refloss.nms(boxes, scores, t)),
                                 ("diou_nms", lambda t: refloss.diou_nms(boxes, scores, t)),
                                 ("batched_nms", lambda t: refloss.batched_nms(boxes, scores, classes, t))]}
    assert all(counts[1] == 3 for counts in kept.values()), f"one box per object at 0.3: {kept}"
    assert kept["nms"][0] < kept["diou_nms"][0] and kept["nms"][0] < kept["batched_nms"][0], kept
    assert all(counts[2] > 3 for counts in kept.values()), f"duplicates survive a high threshold: {kept}"


def test_tversky_weights_push_as_the_caption_says(figures):
    axes = _figure(figures, "dice_loss").axes
    more_fn = r"tversky_loss $\alpha = 0.7, \beta = 0.3$"
    more_fp = r"tversky_loss $\alpha = 0.3, \beta = 0.7$"
    p, fg_alpha = _curve(axes[1], more_fn)
    _, fg_beta = _curve(axes[1], more_fp)
    assert np.all(np.abs(fg_alpha[p >= 0.3]) > np.abs(fg_beta[p >= 0.3]))
    _, bg_alpha = _curve(axes[3], more_fn)
    _, bg_beta = _curve(axes[3], more_fp)
    assert np.all(bg_beta > bg_alpha)
    _, dice = _curve(axes[0], "dice_loss")
    _, half = _curve(axes[0], r"tversky_loss $\alpha = \beta = 0.5$")
    np.testing.assert_allclose(dice, half, rtol=1e-6)  # equal up to the epsilons (2e-7 against 1e-7)


def test_ctc_heatmap_is_a_posterior_over_classes_at_every_frame(figures):
    heatmap = _figure(figures, "ctc_loss").axes[2].images[0].get_array()
    np.testing.assert_allclose(np.sum(heatmap, axis=0), 1.0, atol=1e-12)  # one class per frame on every path
    assert np.all(np.asarray(heatmap) > -1e-12)


@pytest.mark.parametrize("plot_id", ["yolov1_loss", "yolov3_loss", "retinanet_loss", "ssd_loss", "rpn_loss",
                                     "fast_rcnn_loss"])
def test_detector_terms_stack_to_the_total_and_term_gradients_add_up(plot_id, figures):
    fig = _figure(figures, plot_id)
    for ax_loss, ax_grad in zip(fig.axes[0::2], fig.axes[1::2]):
        values, total = _curve(ax_loss, "total")
        stacked = ax_loss.collections[-1].get_paths()[0].vertices  # the top band's outline
        on_top = [np.max(stacked[np.isclose(stacked[:, 0], v), 1]) for v in values]
        np.testing.assert_allclose(on_top, total, rtol=1e-12)
        _, grad = _curve(ax_grad, "total")
        term_lines = [line for line in ax_grad.lines if line.get_label().endswith(" term")]
        assert term_lines, "some term carries the gradient"
        np.testing.assert_allclose(np.sum([line.get_ydata() for line in term_lines], axis=0), grad, atol=1e-12)


def test_yolov1_slice_switches_the_responsible_predictor(figures):
    ax_grad = _figure(figures, "yolov1_loss").axes[1]
    w, grad = _curve(ax_grad, "total")
    assert np.all(grad[w < 0.2] == 0.0), "predictor 1 is responsible: no gradient on predictor 0's sqrt w"
    responsible = w > 0.3
    np.testing.assert_allclose(np.diff(grad[responsible]) / np.diff(w[responsible]), 10.0, rtol=1e-9)  # 2 lambda


def test_retinanet_giou_gradient_is_zero_over_an_interval_and_l1_is_constant(figures):
    axes = _figure(figures, "retinanet_loss").axes
    _, l1 = _curve(axes[1], "total")
    assert len(np.unique(np.abs(l1))) == 1
    _, giou = _curve(axes[3], "total")
    assert np.sum(giou == 0.0) >= 5 and np.sum(giou != 0.0) >= 5
