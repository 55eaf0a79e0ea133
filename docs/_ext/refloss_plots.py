"""The plots of the derivation pages: every registered function of refloss, drawn from refloss's own code.

Each :class:`Plot` in :data:`PLOTS` is rendered by the ``{refloss-plot}`` directive of the docs' Sphinx extension
(``docs/_ext/refloss_sphinx.py``). A loss is drawn with its gradient side by side, against the axis a learner
thinks in (the residual, the logit, the probability, a box's offset), with its named variants as separate curves.
Every value and every gradient comes from refloss's public functions and their VJPs, never from finite
differences or a formula re-typed here; the only arithmetic done here is the chain rule along a sweep (the
derivative along a direction is the VJP's dot product with that direction).

Figures are built with :class:`matplotlib.figure.Figure`, so nothing touches pyplot's global state.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

import refloss


@dataclass(frozen=True)
class Plot:
    """One figure of a derivation page."""

    id: str  # the argument of {refloss-plot}
    functions: tuple[str, ...]  # registered names (refloss._registry.names(None)) this plot shows
    caption: str  # MyST Markdown: what is plotted and what to notice (1-3 sentences)
    make: Callable[[], Figure]


PLOTS: dict[str, Plot] = {}


def _plot(plot_id: str, functions: Sequence[str], caption: str) -> Callable[[Callable[[], Figure]], Callable]:
    """Register the decorated function as the ``make`` of a Plot."""
    def register(make: Callable[[], Figure]) -> Callable[[], Figure]:
        if plot_id in PLOTS:
            raise ValueError(f"plot id {plot_id!r} is registered twice")
        PLOTS[plot_id] = Plot(plot_id, tuple(functions), " ".join(caption.split()), make)
        return make
    return register


# ---- shared style -----------------------------------------------------------------------------------------------

# Colour-blind-safe (Okabe and Ito); the first variant of every plot is refloss's default.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
PANEL_SIZE = (4.0, 3.0)  # inches per panel


def _figure(rows: int, cols: int) -> tuple[Figure, np.ndarray]:
    """A figure of rows x cols panels (a 2-D array of axes) in the shared style."""
    fig = Figure(figsize=(PANEL_SIZE[0] * cols, PANEL_SIZE[1] * rows), dpi=100, layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    for ax in axes.flat:
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.axhline(0.0, color="#888888", linewidth=0.7, zorder=0)
        ax.tick_params(labelsize=8)
    return fig, axes


def _label(ax, xlabel: str, ylabel: str, title: str | None = None, legend: bool = True) -> None:
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    if title:
        ax.set_title(title, fontsize=9)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, framealpha=0.85)


def _line(ax, x, y, k: int, label: str | None = None, dashed: bool = False, **style) -> None:
    style = {"linestyle": "--" if dashed else "-", "linewidth": 1.6, **style}
    ax.plot(x, y, color=COLOURS[k % len(COLOURS)], label=label, **style)


def _log_x(ax, ticks: Sequence[float] | None = None) -> None:
    """A logarithmic x axis; with ``ticks``, labelled at those values in plain numbers (no 3x10^-1 clutter)."""
    ax.set_xscale("log")
    if ticks is not None:
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xticks([], minor=True)


def _curves(axes: Sequence, x, series: Sequence[tuple], xlabel: str, ylabels: Sequence[str],
            titles: Sequence[str] | None = None, overlapping: bool = False) -> None:
    """Draw each series ``(label, y_panel_0, y_panel_1, ...)`` on the panels ``axes``, one colour per series.

    ``overlapping``: the variants coincide over much of the range; give each its own dash and width so that
    every one stays visible.
    """
    for k, (label, *values) in enumerate(series):
        style = {"linestyle": ("-", "--", "-.", ":")[k % 4], "linewidth": 2.6 - 0.5 * k} if overlapping else {}
        for ax, y in zip(axes, values):
            _line(ax, x, y, k, label, **style)
    for i, (ax, ylabel) in enumerate(zip(axes, ylabels)):
        _label(ax, xlabel, ylabel, titles[i] if titles else None, legend=i == 0)


def _value_and_grad(name: str, *inputs, wrt: int = 0, **params) -> tuple[np.ndarray, np.ndarray]:
    """The unreduced value of ``refloss.<name>`` and the gradient of its sum w.r.t. input ``wrt``, by its VJP.

    With ``reduction="none"`` and a cotangent of ones, the VJP returns, for every row of a sweep, the derivative of
    that row's own loss (rows do not interact in these losses).
    """
    forward, vjp = getattr(refloss, name), getattr(refloss, f"{name}_vjp")
    value = np.asarray(forward(*inputs, reduction="none", **params), dtype=float)
    grad = vjp(np.ones_like(value), *inputs, reduction="none", **params)[wrt]
    return value, np.asarray(grad, dtype=float)


RESIDUAL = np.linspace(-3.0, 3.0, 601)
RESIDUAL_AXIS = r"residual $r = \hat y - y$"


def _residual_plot(name: str, variants: Sequence[tuple[str, dict]], loss_label: str,
                   x=RESIDUAL, target: float = 0.0, kink: bool = False) -> Figure:
    """An elementwise regression loss and its derivative w.r.t. the prediction against the residual."""
    fig, axes = _figure(1, 2)
    target_array = np.full_like(x, target)
    series = []
    for label, params in variants:
        loss, grad = _value_and_grad(name, x + target, target_array, **params)
        series.append((label, loss, grad))
    _curves(axes[0], x, series, RESIDUAL_AXIS, [loss_label, r"$\partial \ell / \partial \hat y$"],
            ["loss", "gradient (VJP)"])
    if kink:  # the subgradient refloss returns exactly at r = 0
        for k, (label, params) in enumerate(variants):
            _, at_zero = _value_and_grad(name, np.array([target]), np.array([target]), **params)
            axes[0, 1].plot([0.0], at_zero, "o", color=COLOURS[k], markersize=6, markerfacecolor="white")
    return fig


# ---- regression -------------------------------------------------------------------------------------------------

@_plot("l1_loss", ["l1_loss"],
       r"""The L1 loss $|r|$ and its gradient $\operatorname{sign}(r)$ against the residual. The gradient has the
       same size however far the prediction is off, so one outlier pulls no harder than a near miss; the open
       circle is the subgradient refloss returns at the kink, $0$ at $r = 0$.""")
def _l1_loss() -> Figure:
    return _residual_plot("l1_loss", [("l1_loss", {})], r"$\ell = |r|$", kink=True)


@_plot("mse_loss", ["mse_loss"],
       r"""The squared error $r^2$ and its gradient $2r$ against the residual. The pull grows linearly with the
       error, which is why a single outlier can dominate a mean squared error.""")
def _mse_loss() -> Figure:
    return _residual_plot("mse_loss", [("mse_loss", {})], r"$\ell = r^2$")


@_plot("smooth_l1_loss", ["smooth_l1_loss"],
       r"""Smooth L1 for several $\beta$: quadratic ($r^2 / 2\beta$) inside $|r| < \beta$, linear outside. The
       gradient is $r / \beta$ clipped to $\pm 1$: a small $\beta$ approaches L1 ($\beta = 0$ is exactly L1, with
       the subgradient $0$ at the kink), a large $\beta$ keeps the gradient small near the target.""")
def _smooth_l1_loss() -> Figure:
    variants = [(rf"$\beta = {b:g}$" + (" (default)" if b == 1 else ""), {"beta": b}) for b in (1.0, 0.0, 0.5, 2.0)]
    return _residual_plot("smooth_l1_loss", variants, r"$\ell$", kink=True)


@_plot("huber_loss", ["huber_loss"],
       r"""Huber's loss for several $\delta$: quadratic $r^2/2$ inside $|r| \le \delta$, linear outside. Unlike
       Smooth L1 the quadratic part does not depend on $\delta$: the gradient is $r$ clipped to $\pm\delta$, so
       $\delta$ sets the largest pull an outlier can exert.""")
def _huber_loss() -> Figure:
    variants = [(rf"$\delta = {d:g}$" + (" (default)" if d == 1 else ""), {"delta": d}) for d in (1.0, 0.5, 2.0)]
    return _residual_plot("huber_loss", variants, r"$\ell$")


@_plot("log_cosh_loss", ["log_cosh_loss"],
       r"""$\log\cosh r$ and its gradient $\tanh r$: like $r^2/2$ near the target and like $|r| - \log 2$ far
       from it, with a gradient that saturates at $\pm 1$ smoothly, without a kink.""")
def _log_cosh_loss() -> Figure:
    return _residual_plot("log_cosh_loss", [("log_cosh_loss", {})], r"$\ell = \log\cosh r$",
                          x=np.linspace(-5.0, 5.0, 501))


@_plot("balanced_l1_loss", ["balanced_l1_loss"],
       r"""Balanced L1 (Libra R-CNN) for several $\alpha$, $\gamma$ ($\beta = 1$). Inside $|r| < \beta$ the gradient
       is $\alpha \ln(b|r|/\beta + 1)$, steeper near zero than Smooth L1's, so inliers get a larger share of the
       gradient; outside it is the constant $\gamma$ (both pieces meet at $|r| = \beta$).""")
def _balanced_l1_loss() -> Figure:
    variants = [(r"$\alpha = 0.5, \gamma = 1.5$ (default)", {}),
                (r"$\alpha = 0.25, \gamma = 1.5$", {"alpha": 0.25}),
                (r"$\alpha = 0.5, \gamma = 3$", {"gamma": 3.0})]
    return _residual_plot("balanced_l1_loss", variants, r"$\ell$")


@_plot("poisson_nll_loss", ["poisson_nll_loss"],
       r"""The Poisson negative log-likelihood of a count $y = 3$ against the predicted rate $\lambda$. The three
       curves are the same likelihood through two parameterisations (`log_input=True` takes $\log\lambda$,
       `log_input=False` takes $\lambda$) and with Stirling's term (`full=True`, a constant shift); the minimum is
       at $\lambda = y$. The gradient is with respect to what each variant takes as input: $\lambda - y$ for the
       log-rate, $1 - y/\lambda$ for the rate.""")
def _poisson_nll_loss() -> Figure:
    rate = np.linspace(0.2, 8.0, 400)
    target = np.full_like(rate, 3.0)
    fig, axes = _figure(1, 2)
    series = []
    for label, input_, params in [(r"log_input=True: input $\log\lambda$", np.log(rate), {}),
                                  (r"log_input=False: input $\lambda$", rate, {"log_input": False}),
                                  (r"log_input=True, full=True", np.log(rate), {"full": True})]:
        loss, grad = _value_and_grad("poisson_nll_loss", input_, target, **params)
        series.append((label, loss, grad))
    _curves(axes[0], rate, series, r"predicted rate $\lambda$ (target $y = 3$)",
            [r"$\ell$", r"$\partial \ell / \partial\, \mathrm{input}$"], ["loss", "gradient (VJP)"])
    for ax in axes[0]:
        ax.axvline(3.0, color="#888888", linestyle=":", linewidth=1)
    return fig


@_plot("gaussian_nll_loss_residual", ["gaussian_nll_loss"],
       r"""The Gaussian negative log-likelihood against the residual, for three predicted variances. A large
       variance flattens the loss and shrinks the gradient $r / \sigma^2$: the model can buy a smaller pull on a
       hard example by admitting it is uncertain, at the price of the $\frac12 \log \sigma^2$ term.""")
def _gaussian_nll_residual() -> Figure:
    fig, axes = _figure(1, 2)
    series = []
    for var in (1.0, 0.25, 4.0):
        loss, grad = _value_and_grad("gaussian_nll_loss", RESIDUAL, np.zeros_like(RESIDUAL),
                                     np.full_like(RESIDUAL, var))
        series.append((rf"$\sigma^2 = {var:g}$", loss, grad))
    _curves(axes[0], RESIDUAL, series, RESIDUAL_AXIS, [r"$\ell$", r"$\partial \ell / \partial \hat y$"],
            ["loss", "gradient w.r.t. the mean (VJP)"])
    return fig


@_plot("gaussian_nll_loss_variance", ["gaussian_nll_loss"],
       r"""The same loss against the predicted variance for a residual $r = 0.5$: it is smallest at
       $\sigma^2 = r^2$, where the gradient w.r.t. the variance crosses zero. With `eps=0.1` the variance is clamped
       below $0.1$: the loss goes flat there, but the gradient is not zero; refloss passes it straight through
       the clamp, as PyTorch does, so a too-small variance is still pushed up.""")
def _gaussian_nll_variance() -> Figure:
    var = np.geomspace(0.01, 10.0, 400)
    residual = np.full_like(var, 0.5)
    fig, axes = _figure(1, 2)
    series = []
    for label, eps in ((r"eps $= 10^{-6}$ (default)", 1e-6), ("eps $= 0.1$", 0.1)):
        loss, grad = _value_and_grad("gaussian_nll_loss", residual, np.zeros_like(var), var, wrt=2, eps=eps)
        series.append((label, loss, grad))
    _curves(axes[0], var, series, r"predicted variance $\sigma^2$ (residual $r = 0.5$)",
            [r"$\ell$", r"$\partial \ell / \partial \sigma^2$"], ["loss", "gradient w.r.t. the variance (VJP)"])
    for ax in axes[0]:
        _log_x(ax, [0.01, 0.1, 0.25, 1, 10])
        ax.axvline(0.25, color="#888888", linestyle=":", linewidth=1)
    axes[0, 1].set_yscale("symlog", linthresh=1.0)
    return fig


@_plot("poisson_loss", ["poisson_loss"],
       r"""Keras's Poisson loss $\lambda - y \log(\lambda + \epsilon)$ against the predicted rate, for three
       counts $y$. Each curve is smallest at $\lambda = y$, where the gradient $1 - y/(\lambda+\epsilon)$ crosses
       zero; for $y = 0$ the gradient is the constant $1$.""")
def _poisson_loss() -> Figure:
    rate = np.linspace(0.1, 8.0, 400)
    fig, axes = _figure(1, 2)
    series = []
    for count in (3.0, 0.0, 1.0):
        loss, grad = _value_and_grad("poisson_loss", rate, np.full_like(rate, count))
        series.append((rf"$y = {count:g}$", loss, grad))
    _curves(axes[0], rate, series, r"predicted rate $\lambda$", [r"$\ell$", r"$\partial \ell / \partial \lambda$"],
            ["loss", "gradient (VJP)"])
    return fig


@_plot("mean_absolute_percentage_error", ["mean_absolute_percentage_error"],
       r"""The absolute percentage error $100\,|y - \hat y| / |y|$ against the prediction, for three targets.
       The same absolute miss costs more for a small target: the gradient is $\pm 100/|y|$, so examples with
       targets near zero dominate training.""")
def _mape() -> Figure:
    prediction = np.linspace(0.0, 4.0, 401)
    fig, axes = _figure(1, 2)
    series = []
    for target in (1.0, 0.5, 2.0):
        loss, grad = _value_and_grad("mean_absolute_percentage_error", prediction, np.full_like(prediction, target))
        series.append((rf"$y = {target:g}$", loss, grad))
    _curves(axes[0], prediction, series, r"prediction $\hat y$", [r"$\ell$ (percent)",
            r"$\partial \ell / \partial \hat y$"], ["loss", "gradient (VJP)"])
    return fig


@_plot("mean_squared_logarithmic_error", ["mean_squared_logarithmic_error"],
       r"""The squared log error $(\log(1+\hat y) - \log(1+y))^2$ against the prediction, for two targets.
       It measures ratios rather than differences: overshooting $y = 3$ by $3$ costs less than undershooting it by
       $3$, and the gradient shrinks like $1/(1+\hat y)$ for large predictions.""")
def _msle() -> Figure:
    prediction = np.linspace(0.0, 10.0, 401)
    fig, axes = _figure(1, 2)
    series = []
    for target in (3.0, 1.0):
        loss, grad = _value_and_grad("mean_squared_logarithmic_error", prediction, np.full_like(prediction, target))
        series.append((rf"$y = {target:g}$", loss, grad))
    _curves(axes[0], prediction, series, r"prediction $\hat y$", [r"$\ell$", r"$\partial \ell / \partial \hat y$"],
            ["loss", "gradient (VJP)"])
    return fig


# ---- binary classification -----------------------------------------------------------------------------------------

BCE_VARIANTS = ("binary_cross_entropy", "binary_cross_entropy_keras", "binary_cross_entropy_keras_fp32",
                "binary_cross_entropy_tf_keras")


@_plot("binary_cross_entropy_ends", BCE_VARIANTS,
       r"""PyTorch's `binary_cross_entropy` and Keras's three variants near the ends of $[0, 1]$, where the
       prediction is confidently wrong (the horizontal axis is the distance from the wrong end, on a log scale).
       PyTorch keeps $-\log p$ and a gradient $1/p$ growing without bound; Keras clips $p$ to
       $[\epsilon, 1 - \epsilon]$, so its loss stops at $-\log \epsilon$ and its gradient drops to exactly $0$
       beyond the clip. The two float32 variants compute with float32 constants, so their plateaus sit a little
       lower and differ between the two ends (the page's last sections say why).""")
def _bce_ends() -> Figure:
    distance = np.geomspace(1e-10, 0.5, 300)
    fig, axes = _figure(2, 2)
    for row, (target, probability, where) in enumerate([(1.0, distance, r"$p$ (target $y = 1$)"),
                                                       (0.0, 1.0 - distance, r"$1 - p$ (target $y = 0$)")]):
        series = []
        for name in BCE_VARIANTS:
            loss, grad = _value_and_grad(name, probability, np.full_like(distance, target))
            series.append((name, loss, np.abs(grad)))
        _curves(axes[row], distance, series, where, [r"$\ell$", r"$|\partial \ell / \partial p|$"],
                ["loss", "gradient magnitude (VJP)"], overlapping=True)
        for ax in axes[row]:
            ax.set_xscale("log")
        axes[row, 1].set_yscale("symlog", linthresh=1.0)  # logarithmic above 1, and the exact zeros stay visible
        axes[row, 1].set_ylim(-0.3, 1e11)
        axes[row, 1].set_yticks([0.0, 1.0, 1e2, 1e4, 1e6, 1e8, 1e10])
    return fig


@_plot("binary_cross_entropy_probability", BCE_VARIANTS,
       r"""The four variants over the whole probability range, target $y = 1$: away from the clip they coincide,
       $-\log p$ with gradient $-1/p$.""")
def _bce_probability() -> Figure:
    probability = np.linspace(0.02, 1.0, 300)
    fig, axes = _figure(1, 2)
    series = [(name, *_value_and_grad(name, probability, np.ones_like(probability))) for name in BCE_VARIANTS]
    _curves(axes[0], probability, series, r"predicted probability $p$ (target $y = 1$)",
            [r"$\ell$", r"$\partial \ell / \partial p$"], ["loss", "gradient (VJP)"], overlapping=True)
    return fig


@_plot("binary_cross_entropy_with_logits", ["binary_cross_entropy_with_logits"],
       r"""Binary cross-entropy on the logit $x$, for a positive, a soft and a negative target, and for a positive
       with `pos_weight=3`. The gradient is $\sigma(x) - y$ (times the weight on the positive part): it never
       vanishes while the prediction is wrong, and it tends to $\pm 1$, not to infinity, when confidently
       wrong.""")
def _bce_with_logits() -> Figure:
    logit = np.linspace(-8.0, 8.0, 401)
    fig, axes = _figure(1, 2)
    series = []
    for label, target, params in [(r"$y = 1$", 1.0, {}), (r"$y = 0.3$", 0.3, {}), (r"$y = 0$", 0.0, {}),
                                  (r"$y = 1$, pos_weight $= 3$", 1.0, {"pos_weight": np.array([3.0])})]:
        series.append((label, *_value_and_grad("binary_cross_entropy_with_logits", logit,
                                               np.full_like(logit, target), **params)))
    _curves(axes[0], logit, series, r"logit $x$", [r"$\ell$", r"$\partial \ell / \partial x$"],
            ["loss", "gradient (VJP)"])
    return fig


# ---- multi-class classification --------------------------------------------------------------------------------------

LOGIT = np.linspace(-6.0, 6.0, 241)
OTHER_LOGITS = (1.0, -1.0)  # the other two classes' logits, held fixed while the target class's logit moves


def _three_class_logits(sweep=LOGIT, others=OTHER_LOGITS) -> np.ndarray:
    """Rows (z, others...) for every z of the sweep: the target class 0's logit moves, the rest stay."""
    logits = np.empty((len(sweep), 1 + len(others)))
    logits[:, 0] = sweep
    logits[:, 1:] = others
    return logits


@_plot("cross_entropy", ["cross_entropy", "nll_loss"],
       r"""Cross-entropy of three classes against the target class's logit $z_0$ (the others fixed at $1$ and
       $-1$), with label smoothing $0$, $0.1$ and $0.3$. The gradient is $p_0 - q_0$: $-1$ when confidently
       wrong, and with smoothing it crosses zero at a finite logit, so the model stops short of certainty. The
       dots are `nll_loss` of `log_softmax(z)` (gradient through `log_softmax_vjp`): the same values as
       `cross_entropy` without smoothing.""")
def _cross_entropy() -> Figure:
    logits = _three_class_logits()
    target = np.zeros(len(LOGIT), dtype=np.int64)
    fig, axes = _figure(1, 2)
    series = []
    for smoothing in (0.0, 0.1, 0.3):
        loss, grad = _value_and_grad("cross_entropy", logits, target, label_smoothing=smoothing)
        series.append((f"label_smoothing={smoothing:g}", loss, grad[:, 0]))
    _curves(axes[0], LOGIT, series, r"logit of the target class $z_0$",
            [r"$\ell$", r"$\partial \ell / \partial z_0$"], ["loss", "gradient (VJP)"])
    log_probs = refloss.log_softmax(logits, dim=1)
    nll, grad_log_probs = _value_and_grad("nll_loss", log_probs, target)
    grad_logits = refloss.log_softmax_vjp(grad_log_probs, logits, dim=1)
    every = slice(0, None, 12)
    axes[0, 0].plot(LOGIT[every], nll[every], "o", color=COLOURS[6], markersize=3.5, label="nll_loss ∘ log_softmax")
    axes[0, 1].plot(LOGIT[every], grad_logits[every, 0], "o", color=COLOURS[6], markersize=3.5)
    axes[0, 0].legend(fontsize=7)
    return fig


@_plot("hinge_loss", ["hinge_loss", "squared_hinge_loss"],
       r"""The hinge loss $\max(0, 1 - y x)$ and its square against the margin $y x$ (target $y = 1$). Both are
       zero, with zero gradient, once the margin exceeds $1$: correctly classified examples with room to spare
       stop contributing. The hinge's gradient jumps at the margin (refloss returns $0$ there, the open circle);
       the squared hinge's is continuous.""")
def _hinge() -> Figure:
    margin = np.linspace(-2.0, 3.0, 501)
    target = np.ones_like(margin)
    fig, axes = _figure(1, 2)
    series = [(name, *_value_and_grad(name, margin, target)) for name in ("hinge_loss", "squared_hinge_loss")]
    _curves(axes[0], margin, series, r"margin $y x$ (target $y = 1$)", [r"$\ell$", r"$\partial \ell / \partial x$"],
            ["loss", "gradient (VJP)"])
    _, at_kink = _value_and_grad("hinge_loss", np.array([1.0]), np.array([1.0]))
    axes[0, 1].plot([1.0], at_kink, "o", color=COLOURS[0], markerfacecolor="white")
    return fig


@_plot("soft_margin_loss", ["soft_margin_loss"],
       r"""The soft margin loss $\log(1 + e^{-y x})$ against the score, for $y = \pm 1$: a smooth hinge whose
       gradient $-y\,\sigma(-y x)$ fades out for well-classified examples instead of stopping at a margin.""")
def _soft_margin() -> Figure:
    score = np.linspace(-6.0, 6.0, 401)
    fig, axes = _figure(1, 2)
    series = [(rf"$y = {y:+g}$", *_value_and_grad("soft_margin_loss", score, np.full_like(score, y)))
              for y in (1.0, -1.0)]
    _curves(axes[0], score, series, r"score $x$", [r"$\ell$", r"$\partial \ell / \partial x$"],
            ["loss", "gradient (VJP)"])
    return fig


@_plot("hinge_embedding_loss", ["hinge_embedding_loss"],
       r"""The hinge embedding loss against a distance $x \ge 0$: a similar pair ($y = 1$) pays the distance itself,
       a dissimilar pair ($y = -1$) pays $\max(0, \Delta - x)$ and is pushed apart only until the margin
       $\Delta$.""")
def _hinge_embedding() -> Figure:
    distance = np.linspace(0.0, 3.0, 301)
    fig, axes = _figure(1, 2)
    series = [(r"$y = 1$", *_value_and_grad("hinge_embedding_loss", distance, np.ones_like(distance)))]
    for margin in (1.0, 2.0):
        series.append((rf"$y = -1$, margin $\Delta = {margin:g}$",
                       *_value_and_grad("hinge_embedding_loss", distance, -np.ones_like(distance), margin=margin)))
    _curves(axes[0], distance, series, r"distance $x$", [r"$\ell$", r"$\partial \ell / \partial x$"],
            ["loss", "gradient (VJP)"])
    return fig


@_plot("margin_ranking_loss", ["margin_ranking_loss"],
       r"""The margin ranking loss $\max(0, -y(x_1 - x_2) + \Delta)$ against the difference $x_1 - x_2$ (target
       $y = 1$: $x_1$ should rank higher), for three margins. The gradient w.r.t. $x_1$ is $-1$ until $x_1$ leads by
       the margin, then $0$.""")
def _margin_ranking() -> Figure:
    difference = np.linspace(-3.0, 3.0, 601)
    fig, axes = _figure(1, 2)
    series = []
    for margin in (0.0, 0.5, 1.0):
        series.append((rf"margin $\Delta = {margin:g}$",
                       *_value_and_grad("margin_ranking_loss", difference, np.zeros_like(difference),
                                        np.ones_like(difference), margin=margin)))
    _curves(axes[0], difference, series, r"$x_1 - x_2$ (target $y = 1$)",
            [r"$\ell$", r"$\partial \ell / \partial x_1$"], ["loss", "gradient (VJP)"])
    return fig


@_plot("multi_margin_loss", ["multi_margin_loss"],
       r"""PyTorch's multi-class margin loss over three classes against the target class's score $x_0$ (the
       others at $1$ and $-1$), for $p = 1$ and $p = 2$. Each wrong class adds $\max(0, 1 - x_0 + x_j)^p / C$; the
       gradient steps each time $x_0$ clears one more wrong class by the margin.""")
def _multi_margin() -> Figure:
    logits = _three_class_logits(np.linspace(-3.0, 4.0, 351))
    target = np.zeros(len(logits), dtype=np.int64)
    fig, axes = _figure(1, 2)
    series = []
    for p in (1, 2):
        loss, grad = _value_and_grad("multi_margin_loss", logits, target, p=p)
        series.append((f"p = {p}", loss, grad[:, 0]))
    _curves(axes[0], logits[:, 0], series, r"score of the target class $x_0$",
            [r"$\ell$", r"$\partial \ell / \partial x_0$"], ["loss", "gradient (VJP)"])
    return fig


@_plot("multilabel_soft_margin_loss", ["multilabel_soft_margin_loss"],
       r"""The multi-label soft margin loss of two labels against the first label's logit (the second label is
       positive with logit $2$), for a positive and a negative first label. Each label is an independent binary
       cross-entropy on its logit, averaged over the labels: the gradient is $(\sigma(x_0) - y_0)/C$.""")
def _multilabel_soft_margin() -> Figure:
    logits = _three_class_logits(np.linspace(-6.0, 6.0, 241), others=(2.0,))
    fig, axes = _figure(1, 2)
    series = []
    for first in (1.0, 0.0):
        target = np.tile([first, 1.0], (len(logits), 1))
        loss, grad = _value_and_grad("multilabel_soft_margin_loss", logits, target)
        series.append((rf"$y_0 = {first:g}$", loss, grad[:, 0]))
    _curves(axes[0], logits[:, 0], series, r"logit of label 0, $x_0$", [r"$\ell$", r"$\partial \ell / \partial x_0$"],
            ["loss", "gradient (VJP)"])
    return fig


@_plot("multilabel_margin_loss", ["multilabel_margin_loss"],
       r"""The multi-label margin loss of four classes, targets $\{0, 1\}$, scores $(x, 0.5, 0, -0.5)$ or
       $(0.5, 0.2, x, -0.5)$. Moving a target class's score up lowers the loss until it beats every non-target by
       the margin $1$; moving a non-target's score up raises it, once for each target it comes within $1$ of.""")
def _multilabel_margin() -> Figure:
    sweep = np.linspace(-2.0, 3.0, 501)
    target = np.tile([0, 1, -1, 0], (len(sweep), 1))
    fig, axes = _figure(1, 2)
    series = []
    for label, base, column in [("sweep a target class (0)", (0.0, 0.5, 0.0, -0.5), 0),
                                ("sweep a non-target class (2)", (0.5, 0.2, 0.0, -0.5), 2)]:
        scores = np.tile(base, (len(sweep), 1))
        scores[:, column] = sweep
        loss, grad = _value_and_grad("multilabel_margin_loss", scores, target)
        series.append((label, loss, grad[:, column]))
    _curves(axes[0], sweep, series, r"the swept score $x$", [r"$\ell$", r"$\partial \ell / \partial x$"],
            ["loss", "gradient (VJP)"])
    return fig


@_plot("kl_div", ["kl_div"],
       r"""$\mathrm{KL}(t \,\|\, q)$ for a two-class target $t = (0.3, 0.7)$ against the predicted $q_0$, summed
       over the classes, with the target given as probabilities or (`log_target=True`) as log-probabilities: the
       same values. The gradient w.r.t. the input $\log q_0$ is the constant $-t_0$: `kl_div` does not renormalise
       $q$, the pull toward $q = t$ comes through the log-softmax that produced the input. The gradient w.r.t. the
       target depends on how it is given.""")
def _kl_div() -> Figure:
    q0 = np.linspace(0.02, 0.98, 241)
    log_q = np.log(np.stack([q0, 1.0 - q0], axis=1))
    target = np.tile([0.3, 0.7], (len(q0), 1))
    fig, axes = _figure(1, 3)
    series = []
    for label, given, params in [("log_target=False", target, {}),
                                 ("log_target=True", np.log(target), {"log_target": True})]:
        loss, grad_input = _value_and_grad("kl_div", log_q, given, **params)
        _, grad_target = _value_and_grad("kl_div", log_q, given, wrt=1, **params)
        series.append((label, loss.sum(axis=1), grad_input[:, 0], grad_target[:, 0]))
    _curves(axes[0], q0, series, r"predicted $q_0$ ($t_0 = 0.3$)",
            [r"$\ell$", r"$\partial \ell / \partial \log q_0$", r"$\partial \ell / \partial\, \mathrm{target}_0$"],
            ["loss", "gradient w.r.t. the input (VJP)", "gradient w.r.t. the target (VJP)"], overlapping=True)
    return fig


def _target_probability_axis(logits: np.ndarray) -> np.ndarray:
    """p_t, the softmax probability of class 0, computed by refloss."""
    return refloss.softmax(logits, dim=1)[:, 0]


@_plot("sigmoid_focal_loss", ["sigmoid_focal_loss"],
       r"""The sigmoid focal loss of a positive example ($\alpha = 0.25$) against $p_t = \sigma(x)$, for
       $\gamma \in \{0, 0.5, 1, 2, 5\}$, and $\gamma = 2$ without $\alpha$ (dashed). The factor $(1 - p_t)^\gamma$
       flattens the loss of well-classified examples: at $\gamma = 2$ an example with $p_t \ge 0.8$ gets less than
       an eighth of the gradient cross-entropy ($\gamma = 0$) gives it, so the hard examples drive training.""")
def _sigmoid_focal() -> Figure:
    logit = np.linspace(-6.0, 6.0, 481)
    probability = refloss.sigmoid(logit)
    target = np.ones_like(logit)
    fig, axes = _figure(1, 2)
    series = [(rf"$\gamma = {g:g}$", *_value_and_grad("sigmoid_focal_loss", logit, target, gamma=g))
              for g in (0.0, 0.5, 1.0, 2.0, 5.0)]
    _curves(axes[0], probability, series, r"$p_t = \sigma(x)$ (target 1)", [r"$\ell$", r"$\partial \ell / \partial x$"],
            ["loss", "gradient w.r.t. the logit (VJP)"])
    loss, grad = _value_and_grad("sigmoid_focal_loss", logit, target, alpha=None, gamma=2.0)
    _line(axes[0, 0], probability, loss, 3, r"$\gamma = 2$, alpha=None", dashed=True)
    _line(axes[0, 1], probability, grad, 3, dashed=True)
    axes[0, 0].legend(fontsize=7)
    return fig


@_plot("softmax_focal_loss", ["softmax_focal_loss"],
       r"""The softmax focal loss of three classes against $p_t$, the target class's softmax probability (its
       logit moves, the others stay at $1$ and $-1$), for several $\gamma$, and $\gamma = 2$ with label smoothing
       $0.1$ (dashed). As with the sigmoid focal loss, $(1 - p_t)^\gamma$ silences the confident examples;
       $\gamma = 0$ is cross-entropy.""")
def _softmax_focal() -> Figure:
    logits = _three_class_logits()
    target = np.zeros(len(logits), dtype=np.int64)
    probability = _target_probability_axis(logits)
    fig, axes = _figure(1, 2)
    series = []
    for gamma in (0.0, 1.0, 2.0, 5.0):
        loss, grad = _value_and_grad("softmax_focal_loss", logits, target, gamma=gamma)
        series.append((rf"$\gamma = {gamma:g}$", loss, grad[:, 0]))
    _curves(axes[0], probability, series, r"$p_t$ (softmax probability of the target)",
            [r"$\ell$", r"$\partial \ell / \partial z_t$"], ["loss", "gradient w.r.t. the target logit (VJP)"])
    loss, grad = _value_and_grad("softmax_focal_loss", logits, target, gamma=2.0, label_smoothing=0.1)
    _line(axes[0, 0], probability, loss, 2, r"$\gamma = 2$, label_smoothing=0.1", dashed=True)
    _line(axes[0, 1], probability, grad[:, 0], 2, dashed=True)
    axes[0, 0].legend(fontsize=7)
    return fig


@_plot("poly1_cross_entropy", ["poly1_cross_entropy"],
       r"""Poly-1 cross-entropy $-\log p_t + \epsilon (1 - p_t)$ against $p_t$ (three classes, one-hot target),
       for several $\epsilon$; $\epsilon = 0$ is cross-entropy. A positive $\epsilon$ adds a constant push
       $\epsilon\,p_t(1 - p_t)$ to the gradient where cross-entropy's fades, a negative one takes it away.""")
def _poly1() -> Figure:
    logits = _three_class_logits()
    target = np.tile([1.0, 0.0, 0.0], (len(logits), 1))
    probability = _target_probability_axis(logits)
    fig, axes = _figure(1, 2)
    series = []
    for epsilon in (2.0, 0.0, 1.0, -1.0):
        loss, grad = _value_and_grad("poly1_cross_entropy", logits, target, epsilon=epsilon)
        series.append((rf"$\epsilon = {epsilon:g}$" + (" (default)" if epsilon == 2 else ""), loss, grad[:, 0]))
    _curves(axes[0], probability, series, r"$p_t$ (softmax probability of the target)",
            [r"$\ell$", r"$\partial \ell / \partial z_t$"], ["loss", "gradient w.r.t. the target logit (VJP)"])
    return fig


@_plot("sparsemax_loss", ["sparsemax_loss"],
       r"""The sparsemax loss of three classes (logits $(z_0, 0, -0.5)$) against $z_0$, for target class $0$ and
       target class $1$. The gradient is $\operatorname{sparsemax}(z) - e_y$: unlike cross-entropy's it reaches
       exactly $0$, once the target's logit leads the next one by $1$ and sparsemax puts all its mass on it.""")
def _sparsemax() -> Figure:
    logits = _three_class_logits(np.linspace(-3.0, 3.0, 601), others=(0.0, -0.5))
    fig, axes = _figure(1, 2)
    series = []
    for target_class in (0, 1):
        target = np.full(len(logits), target_class, dtype=np.int64)
        loss, grad = _value_and_grad("sparsemax_loss", logits, target)
        series.append((f"target class {target_class}", loss, grad[:, 0]))
    _curves(axes[0], logits[:, 0], series, r"logit $z_0$", [r"$\ell$", r"$\partial \ell / \partial z_0$"],
            ["loss", "gradient (VJP)"])
    return fig


def _class_hinge_plot(name: str, encode_target: Callable[[int, int], np.ndarray]) -> Figure:
    logits = _three_class_logits(np.linspace(-2.0, 4.0, 601), others=(0.5, 0.0))
    fig, axes = _figure(1, 2)
    series = []
    for target_class in (0, 1):
        loss, grad = _value_and_grad(name, logits, encode_target(target_class, len(logits)))
        series.append((f"target class {target_class}", loss, grad[:, 0]))
    _curves(axes[0], logits[:, 0], series, r"score $z_0$ (others $0.5$, $0$)",
            [r"$\ell$", r"$\partial \ell / \partial z_0$"], ["loss", "gradient (VJP)"])
    return fig


@_plot("categorical_hinge_loss", ["categorical_hinge_loss"],
       r"""Keras's categorical hinge $\max(0, 1 + \max_{j \ne y} z_j - z_y)$ against the score $z_0$, when class
       $0$ is the target and when it is a wrong class. As the target it is pushed up until it leads every other
       class by $1$; as a wrong class it is pushed down only while it is the strongest rival.""")
def _categorical_hinge() -> Figure:
    return _class_hinge_plot("categorical_hinge_loss", lambda c, n: np.tile(np.eye(3)[c], (n, 1)))


@_plot("multiclass_hinge_loss", ["multiclass_hinge_loss"],
       r"""optax's Crammer-Singer hinge $\max_j (z_j + [j \ne y]) - z_y$ against the score $z_0$, for target class
       $0$ and target class $1$. The $j = y$ term contributes $0$, so this is $\max(0, 1 + \max_{j \ne y} z_j -
       z_y)$: only the strongest rival matters, and the loss and its gradient stop once the target leads it by
       the margin $1$.""")
def _multiclass_hinge() -> Figure:
    return _class_hinge_plot("multiclass_hinge_loss", lambda c, n: np.full(n, c, dtype=np.int64))


# ---- box losses and geometry --------------------------------------------------------------------------------------

TARGET_BOX = np.array([0.0, 0.0, 1.0, 1.0])
SLIDE = np.linspace(-1.6, 1.6, 321)  # offset of a unit box from the unit target box, in box widths
STRETCH = np.geomspace(0.25, 4.0, 321)  # width of a box centred on the target, in target widths
STRETCH_TICKS = (0.25, 0.5, 1, 2, 4)


def _box_sweeps() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, str]]:
    """Each sweep: the predicted boxes, the direction d(box)/d(parameter), the parameter and its axis label."""
    horizontal = np.stack([SLIDE, np.zeros_like(SLIDE), SLIDE + 1.0, np.ones_like(SLIDE)], axis=1)
    diagonal = np.stack([SLIDE, 0.5 * SLIDE, SLIDE + 1.0, 0.5 * SLIDE + 1.0], axis=1)
    stretched = np.stack([0.5 - STRETCH / 2, np.zeros_like(STRETCH), 0.5 + STRETCH / 2, np.ones_like(STRETCH)],
                         axis=1)
    return {
        "slide": (horizontal, np.array([1.0, 0.0, 1.0, 0.0]), SLIDE, r"horizontal offset $s$ (box widths)"),
        "diagonal": (diagonal, np.array([1.0, 0.5, 1.0, 0.5]), SLIDE,
                     r"offset $s$ along the direction $(1, 1/2)$"),
        "stretch": (stretched, np.array([-0.5, 0.0, 0.5, 0.0]), STRETCH, r"width $w$ (target width $1$)"),
    }


def _box_loss_plot(variants: Sequence[tuple[str, str, dict]], sweeps: Sequence[str] = ("slide", "stretch")) -> Figure:
    """Box losses against a predicted unit box sliding past (or stretched over) the unit target box.

    The derivative along a sweep is the VJP w.r.t. the predicted box, dotted with the sweep's direction.
    """
    fig, axes = _figure(len(sweeps), 2)
    for row, sweep in enumerate(sweeps):
        boxes, direction, parameter, axis_label = _box_sweeps()[sweep]
        target = np.broadcast_to(TARGET_BOX, boxes.shape)
        series = []
        for label, name, params in variants:
            loss, grad = _value_and_grad(name, boxes, target, **params)
            series.append((label, loss, grad @ direction))
        _curves(axes[row], parameter, series, axis_label, [r"$\ell$", r"$d\ell / d(\mathrm{parameter})$"],
                [f"loss, {sweep}", f"derivative along the {sweep} (VJP)"])
        if sweep == "stretch":
            for ax in axes[row]:
                _log_x(ax, STRETCH_TICKS)
    return fig


@_plot("iou_loss", ["iou_loss", "log_iou_loss"],
       r"""$1 - \mathrm{IoU}$ and UnitBox's $-\log \mathrm{IoU}$ for a unit box sliding past the unit target (top)
       and for a box of the target's height stretched in width over it (bottom). Both are flat, with a zero
       gradient, once the boxes stop overlapping ($|s| \ge 1$): a prediction that misses entirely gets no signal.
       The log variant pulls much harder near zero overlap and climbs to $-\log \epsilon$ when the boxes are
       apart.""")
def _iou() -> Figure:
    return _box_loss_plot([("iou_loss", "iou_loss", {}), ("log_iou_loss", "log_iou_loss", {})])


@_plot("giou_loss", ["giou_loss"],
       r"""GIoU loss on the same sweeps as the IoU loss. The enclosing-box term keeps the loss rising, and the
       gradient nonzero, after the boxes stop overlapping ($|s| > 1$), so a prediction that misses still learns
       which way to move.""")
def _giou() -> Figure:
    return _box_loss_plot([("giou_loss", "giou_loss", {})])


@_plot("diou_loss", ["diou_loss"],
       r"""DIoU loss on the same sweeps. The penalty is the squared centre distance over the squared diagonal of
       the enclosing box: it pulls the centres together even when the boxes do not overlap, and it is zero for the
       stretched boxes, whose centres coincide.""")
def _diou() -> Figure:
    return _box_loss_plot([("diou_loss", "diou_loss", {})])


@_plot("ciou_loss", ["ciou_loss"],
       r"""CIoU loss on the same sweeps, torchvision's (no gate) and mmdetection's (`alpha_gate=0.5`: the
       aspect-ratio term only where IoU $\ge 0.5$). Sliding changes no aspect ratio, so the two agree there; when
       stretching, the aspect term $\alpha v$ adds to DIoU's, and the gate switches it off where IoU falls below
       $0.5$.""")
def _ciou() -> Figure:
    return _box_loss_plot([("alpha_gate=None (default)", "ciou_loss", {}),
                           ("alpha_gate=0.5", "ciou_loss", {"alpha_gate": 0.5})])


@_plot("eiou_loss", ["eiou_loss"],
       r"""EIoU loss on the same sweeps, plain ($\gamma = 0$) and Focal-EIoU ($\gamma = 0.5$, weighted by
       $\mathrm{IoU}^\gamma$). EIoU penalises the width and height differences directly, so the stretch is punished
       more than by CIoU's aspect term; the focal weight silences poorly overlapping boxes.""")
def _eiou() -> Figure:
    return _box_loss_plot([(r"$\gamma = 0$ (default)", "eiou_loss", {}),
                           (r"$\gamma = 0.5$ (Focal-EIoU)", "eiou_loss", {"gamma": 0.5})])


@_plot("siou_loss", ["siou_loss"],
       r"""SIoU loss on three sweeps: sliding horizontally, sliding along a diagonal, and stretching. Its angle cost
       favours centres aligned on an axis: along the diagonal the distance term is larger than for the same
       horizontal slide, and its shape cost punishes the stretch.""")
def _siou() -> Figure:
    return _box_loss_plot([("siou_loss", "siou_loss", {})], sweeps=("slide", "diagonal", "stretch"))


PAIRWISE_IOUS = ("box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou")


@_plot("pairwise_box_iou", PAIRWISE_IOUS,
       r"""The four pairwise overlap measures between the unit target box and a unit box sliding past it (left)
       or a box of the same height stretched over it (right). IoU is $0$ whenever the boxes are apart; GIoU and
       DIoU keep decreasing with the distance (down to $-1$); CIoU equals DIoU when the aspect ratios match and
       falls below it when they do not.""")
def _pairwise() -> Figure:
    fig, axes = _figure(1, 2)
    for ax, sweep in zip(axes[0], ("slide", "stretch")):
        boxes, _, parameter, axis_label = _box_sweeps()[sweep]
        for k, name in enumerate(PAIRWISE_IOUS):
            values = getattr(refloss, name)(boxes, TARGET_BOX[None, :])[:, 0]
            _line(ax, parameter, values, k, name)
        _label(ax, axis_label, "value", sweep)
    _log_x(axes[0, 1], STRETCH_TICKS)
    return fig


@_plot("box_convert", ["box_convert"],
       r"""One box in the three formats `box_convert` knows (left), and the Jacobians of the conversions
       `xyxy` → `cxcywh` and `cxcywh` → `xyxy`, read off the VJP one output at a time (middle, right). Both are
       constant: the conversions are linear, so their gradients are fixed mixing matrices, inverse to each
       other.""")
def _box_convert() -> Figure:
    box = np.array([1.0, 0.5, 4.0, 2.5])
    fig, axes = _figure(1, 3)
    ax = axes[0, 0]
    ax.add_patch(_rectangle(box, COLOURS[0]))
    ax.set_xlim(0, 5)
    ax.set_ylim(3.7, 0)  # image coordinates: y grows downwards
    for k, fmt in enumerate(("xyxy", "xywh", "cxcywh")):
        values = refloss.box_convert(box, "xyxy", fmt)
        ax.text(0.15, 2.95 + 0.3 * k, f"{fmt}: " + ", ".join(f"{v:g}" for v in values), fontsize=8)
    centre = refloss.box_convert(box, "xyxy", "cxcywh")[:2]
    ax.plot(*centre, "+", color=COLOURS[1], markersize=10)
    _label(ax, "x", "y", "one box, three formats")
    for ax, (source, dest) in zip(axes[0, 1:], (("xyxy", "cxcywh"), ("cxcywh", "xyxy"))):
        start = refloss.box_convert(box, "xyxy", source)
        jacobian = np.stack([refloss.box_convert_vjp(row, start, source, dest)[0] for row in np.eye(4)])
        ax.imshow(jacobian, cmap="RdBu", vmin=-1.2, vmax=1.2)
        for (i, j), value in np.ndenumerate(jacobian):
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=9)
        ax.set_xticks(range(4), _coordinate_names(source))
        ax.set_yticks(range(4), _coordinate_names(dest))
        ax.grid(False)
        _label(ax, f"input ({source})", f"output ({dest})", f"Jacobian of {source} → {dest} (VJP)", legend=False)
    return fig


def _coordinate_names(fmt: str) -> list[str]:
    return {"xyxy": ["x1", "y1", "x2", "y2"], "xywh": ["x", "y", "w", "h"], "cxcywh": ["cx", "cy", "w", "h"]}[fmt]


def _rectangle(box, colour: str, dashed: bool = False, fill: bool = True):
    from matplotlib.patches import Rectangle
    x1, y1, x2, y2 = box
    return Rectangle((x1, y1), x2 - x1, y2 - y1, edgecolor=colour, facecolor=colour if fill else "none",
                     alpha=0.9 if not fill else 0.25, linewidth=1.5, linestyle="--" if dashed else "-")


@_plot("box_area", ["box_area"],
       r"""The area of a box $[0, 0, x_2, h]$ against its right edge $x_2$, for three heights, and its gradient
       w.r.t. $x_2$, which is the height $h$ (and $-h$ w.r.t. $x_1$): moving an edge changes the area in
       proportion to the length of that edge.""")
def _box_area() -> Figure:
    right = np.linspace(0.0, 3.0, 301)
    fig, axes = _figure(1, 2)
    series = []
    for height in (1.0, 0.5, 2.0):
        boxes = np.stack([np.zeros_like(right), np.zeros_like(right), right, np.full_like(right, height)], axis=1)
        area = refloss.box_area(boxes)
        grad = refloss.box_area_vjp(np.ones_like(area), boxes)[0]
        series.append((rf"$h = {height:g}$", area, grad[:, 2]))
    _curves(axes[0], right, series, r"right edge $x_2$ ($x_1 = 0$)",
            ["area", r"$\partial\, \mathrm{area} / \partial x_2$"], ["box_area", "gradient (VJP)"])
    return fig


CODERS = ("encode_boxes", "decode_boxes", "encode_ssd_boxes", "decode_ssd_boxes", "encode_yolo_boxes",
          "decode_yolo_boxes")


@_plot("box_coders", CODERS,
       r"""The three coders on a width offset: Faster R-CNN's $d_w$, SSD's $d_w$ (variance $0.2$) and YOLOv3's $t_w$,
       decoded against a box of width $1$ (YOLO: an anchor of $100$ px on a $416$ px input). Left: the decoded
       width (log scale) is exponential in the offset; Faster R-CNN clamps $d_w$ at $\log(1000/16) \approx 4.14$.
       Middle: the derivative of the width w.r.t. the offset (decode's VJP) is the width itself, times the variance
       for SSD, and $0$ beyond the clamp. Right: encoding the decoded box (`encode_boxes`, `encode_ssd_boxes`,
       `encode_yolo_boxes`) gives the offset back until the clamp, where it stops at the clamped value.""")
def _box_coders() -> Figure:
    offset = np.linspace(-3.0, 6.0, 361)
    zeros = np.zeros_like(offset)
    raw = np.stack([zeros, zeros, offset, zeros], axis=1)  # only the width offset moves
    unit = np.broadcast_to([-0.5, -0.5, 0.5, 0.5], raw.shape)
    cells = np.broadcast_to([6, 6], (len(offset), 2))
    anchors = np.broadcast_to([100.0, 100.0], (len(offset), 2))
    coders = [
        ("Faster R-CNN (decode_boxes)", lambda r: refloss.decode_boxes(r, unit),
         lambda g, r: refloss.decode_boxes_vjp(g, r, unit)[0],
         lambda b: refloss.encode_boxes(b, unit)),
        ("SSD (decode_ssd_boxes)", lambda r: refloss.decode_ssd_boxes(r, unit),
         lambda g, r: refloss.decode_ssd_boxes_vjp(g, r, unit)[0],
         lambda b: refloss.encode_ssd_boxes(b, unit)),
        ("YOLOv3 (decode_yolo_boxes)", lambda r: refloss.decode_yolo_boxes(r, cells, anchors),
         lambda g, r: refloss.decode_yolo_boxes_vjp(g, r, cells, anchors)[0],
         lambda b: refloss.encode_yolo_boxes(b, cells, anchors)),
    ]
    fig, axes = _figure(1, 3)
    for k, (label, decode, decode_vjp, encode) in enumerate(coders):
        boxes = decode(raw)
        width = boxes[:, 2] - boxes[:, 0]
        scale = width[np.argmin(np.abs(offset))]  # the width at offset 0: YOLO's is 100/416, the others' 1
        cotangent = np.broadcast_to(np.array([-1.0, 0.0, 1.0, 0.0]) / scale, boxes.shape)  # d(width/scale)
        width_grad = decode_vjp(cotangent, raw)[:, 2]
        style = {"linestyle": ("-", "--", ":")[k], "linewidth": 2.6 - 0.6 * k}  # YOLO's curves cover Faster R-CNN's
        _line(axes[0, 0], offset, width / scale, k, label, **style)
        _line(axes[0, 1], offset, width_grad, k, label, **style)
        _line(axes[0, 2], offset, encode(boxes)[:, 2], k, label, **style)
    axes[0, 0].set_yscale("log")
    axes[0, 1].set_yscale("log")
    _label(axes[0, 0], "width offset", "decoded width / width at offset 0", "decode")
    _label(axes[0, 1], "width offset", r"$\partial (w / w_0) / \partial\, \mathrm{offset}$", "decode's VJP",
           legend=False)
    _label(axes[0, 2], "width offset", "encode(decode(offset))", "round trip", legend=False)
    return fig


# ---- selection ------------------------------------------------------------------------------------------------------

def _nms_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three objects, each found by six jittered detections (seed 4), with scores and two class ids."""
    rng = np.random.default_rng(4)
    objects = np.array([[0.10, 0.15, 0.50, 0.65], [0.30, 0.30, 0.70, 0.80], [0.62, 0.08, 0.92, 0.40]])
    boxes = np.concatenate([obj + rng.normal(scale=0.05, size=(6, 4)) for obj in objects])
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.05)
    scores = rng.uniform(0.3, 1.0, len(boxes))
    classes = np.repeat([0, 1, 0], 6)  # the two overlapping objects are of different classes
    return boxes, scores, classes


@_plot("nms", ["nms", "batched_nms", "diou_nms"],
       r"""Non-maximum suppression on eighteen seeded detections of three objects, two of them overlapping and of
       different classes. Left: how many boxes each selection keeps against the IoU threshold. In a middle range
       every selection keeps one box per object; a higher threshold lets duplicates survive; a very low one makes
       `nms` suppress the neighbouring object too, while `diou_nms` (which subtracts a centre-distance penalty from
       the IoU) and `batched_nms` (which compares only boxes of the same class) keep it. Right: the boxes `nms`
       keeps at threshold $0.5$ (solid) and those it suppresses (dashed). None of these has a gradient.""")
def _nms() -> Figure:
    boxes, scores, classes = _nms_scene()
    thresholds = np.linspace(0.02, 0.98, 97)
    selections = [("nms", lambda t: refloss.nms(boxes, scores, t)),
                  ("diou_nms", lambda t: refloss.diou_nms(boxes, scores, t)),
                  ("batched_nms (2 classes)", lambda t: refloss.batched_nms(boxes, scores, classes, t))]
    fig, axes = _figure(1, 2)
    for k, (label, select) in enumerate(selections):
        kept = [len(select(t)) for t in thresholds]
        axes[0, 0].step(thresholds, kept, where="post", color=COLOURS[k], label=label, linewidth=1.6)
    axes[0, 0].yaxis.get_major_locator().set_params(integer=True)
    _label(axes[0, 0], "IoU threshold", "boxes kept (of 18)", "kept against the threshold")
    ax = axes[0, 1]
    kept = set(refloss.nms(boxes, scores, 0.5).tolist())
    for i, box in enumerate(boxes):
        colour = COLOURS[[0, 1, 2][i // 6]]
        ax.add_patch(_rectangle(box, colour, dashed=i not in kept, fill=False))
        if i in kept:
            ax.text(box[0] + 0.005, box[1] + 0.03, f"{scores[i]:.2f}", fontsize=7, color=colour)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.85, 0.0)
    ax.set_aspect("equal")
    _label(ax, "x", "y", "nms at threshold 0.5: kept (solid), suppressed (dashed)", legend=False)
    return fig


# ---- embeddings -----------------------------------------------------------------------------------------------------

ANGLE = np.linspace(0.0, np.pi, 361)
ANGLE_AXIS = r"angle $\theta$ between the vectors (radians)"


def _on_circle(angle) -> np.ndarray:
    """Unit vectors at the given angles, and (the second return) their derivative w.r.t. the angle."""
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1), np.stack([-np.sin(angle), np.cos(angle)], axis=-1)


@_plot("distances", ["pairwise_distance", "cosine_similarity"],
       r"""The two distances the embedding losses use, between $x_1 = (\cos\theta, \sin\theta)$ and
       $x_2 = (1, 0)$: `pairwise_distance` for $p = 1, 2$ and `cosine_similarity`, and their derivatives along the
       circle (VJP w.r.t. $x_1$ dotted with $dx_1/d\theta$). The euclidean distance grows like $2\sin(\theta/2)$;
       the cosine similarity's pull is strongest at right angles and vanishes when the vectors are aligned or
       opposite.""")
def _distances() -> Figure:
    x1, tangent = _on_circle(ANGLE)
    x2 = np.broadcast_to([1.0, 0.0], x1.shape)
    fig, axes = _figure(1, 2)
    series = []
    for p in (2.0, 1.0):
        value = refloss.pairwise_distance(x1, x2, p=p)
        grad = refloss.pairwise_distance_vjp(np.ones_like(value), x1, x2, p=p)[0]
        series.append((f"pairwise_distance, p = {p:g}", value, np.sum(grad * tangent, axis=1)))
    value = refloss.cosine_similarity(x1, x2)
    grad = refloss.cosine_similarity_vjp(np.ones_like(value), x1, x2)[0]
    series.append(("cosine_similarity", value, np.sum(grad * tangent, axis=1)))
    _curves(axes[0], ANGLE, series, ANGLE_AXIS, ["value", r"$d/d\theta$"], ["value", "derivative along the circle"])
    return fig


@_plot("cosine_embedding_loss", ["cosine_embedding_loss"],
       r"""The cosine embedding loss against the angle between two unit vectors: a similar pair ($y = 1$) pays
       $1 - \cos\theta$; a dissimilar pair ($y = -1$) pays $\max(0, \cos\theta - \Delta)$ and stops being pushed
       apart once its angle passes $\arccos \Delta$.""")
def _cosine_embedding() -> Figure:
    x1, tangent = _on_circle(ANGLE)
    x2 = np.broadcast_to([1.0, 0.0], x1.shape)
    fig, axes = _figure(1, 2)
    series = []
    for label, y, margin in [(r"$y = 1$", 1.0, 0.0), (r"$y = -1$, margin $\Delta = 0$", -1.0, 0.0),
                             (r"$y = -1$, margin $\Delta = 0.5$", -1.0, 0.5)]:
        loss, grad = _value_and_grad("cosine_embedding_loss", x1, x2, np.full(len(x1), y), margin=margin)
        series.append((label, loss, np.sum(grad * tangent, axis=1)))
    _curves(axes[0], ANGLE, series, ANGLE_AXIS, [r"$\ell$", r"$d\ell / d\theta$"], ["loss", "derivative (VJP)"])
    return fig


@_plot("triplet_margin_loss", ["triplet_margin_loss", "triplet_margin_with_distance_loss"],
       r"""Triplet losses with the anchor at $(1, 0)$, the positive at angle $0.5$ and the negative moving round the
       unit circle to angle $\varphi$. The loss $\max(0, d(a, p) - d(a, n) + \Delta)$ stops once the negative is
       farther than the positive by the margin; with `swap=True` the negative is also compared with the
       positive. `triplet_margin_with_distance_loss` with euclidean distance gives the same curve (dots); with
       the cosine distance the margin is measured in $1 - \cos$.""")
def _triplet() -> Figure:
    negative, tangent = _on_circle(ANGLE)
    anchor = np.broadcast_to([1.0, 0.0], negative.shape)
    positive = np.broadcast_to(_on_circle(0.5)[0], negative.shape)
    fig, axes = _figure(1, 2)
    variants = [("triplet_margin_loss", "triplet_margin_loss", {}),
                ("triplet_margin_loss, swap=True", "triplet_margin_loss", {"swap": True}),
                ("…with_distance_loss, cosine, margin 0.5", "triplet_margin_with_distance_loss",
                 {"distance_function": "cosine_distance", "margin": 0.5})]
    series = []
    for label, name, params in variants:
        loss, grad = _value_and_grad(name, anchor, positive, negative, wrt=2, **params)
        series.append((label, loss, np.sum(grad * tangent, axis=1)))
    _curves(axes[0], ANGLE, series, r"angle of the negative $\varphi$ (positive at $0.5$)",
            [r"$\ell$", r"$d\ell / d\varphi$"], ["loss", "derivative w.r.t. the negative's angle (VJP)"])
    loss, grad = _value_and_grad("triplet_margin_with_distance_loss", anchor, positive, negative, wrt=2)
    every = slice(0, None, 15)
    axes[0, 0].plot(ANGLE[every], loss[every], "o", color=COLOURS[6], markersize=3.5,
                    label="…with_distance_loss, euclidean")
    axes[0, 1].plot(ANGLE[every], np.sum(grad * tangent, axis=1)[every], "o", color=COLOURS[6], markersize=3.5)
    axes[0, 0].legend(fontsize=7)
    return fig


@_plot("cosine_similarity_loss", ["cosine_similarity_loss"],
       r"""Keras's cosine similarity loss $-\cos\theta$. Left pair: against the angle between the prediction and
       the target, with its derivative along the circle. Right: the size of the gradient w.r.t. the prediction
       against the prediction's length at $\theta = \pi/3$: it falls like $1/\|x\|$, because scaling the
       prediction does not change the loss.""")
def _cosine_similarity_loss() -> Figure:
    prediction, tangent = _on_circle(ANGLE)
    target = np.broadcast_to([1.0, 0.0], prediction.shape)
    fig, axes = _figure(1, 3)
    loss, grad = _value_and_grad("cosine_similarity_loss", prediction, target)
    _curves(axes[0, :2], ANGLE, [("cosine_similarity_loss", loss, np.sum(grad * tangent, axis=1))], ANGLE_AXIS,
            [r"$\ell$", r"$d\ell / d\theta$"], ["loss", "derivative (VJP)"])
    length = np.geomspace(0.1, 10.0, 200)
    scaled = length[:, None] * _on_circle(np.pi / 3)[0]
    _, grad = _value_and_grad("cosine_similarity_loss", scaled, np.broadcast_to([1.0, 0.0], scaled.shape))
    _line(axes[0, 2], length, np.linalg.norm(grad, axis=1), 0, "cosine_similarity_loss")
    _log_x(axes[0, 2], [0.1, 0.3, 1, 3, 10])
    axes[0, 2].set_yscale("log")
    _label(axes[0, 2], r"prediction length $\|x\|$", r"$\|\partial \ell / \partial x\|$",
           r"gradient size at $\theta = \pi/3$", legend=False)
    return fig


# ---- segmentation ---------------------------------------------------------------------------------------------------

@_plot("dice_loss", ["dice_loss", "tversky_loss"],
       r"""The Dice loss and Tversky's loss of one 8-pixel mask with 3 foreground pixels. Top: against the
       probability $p$ predicted on the foreground (the background at $0.2$); bottom: against the probability $q$
       predicted on the background (the foreground at $0.8$); the gradients are w.r.t. one pixel. As in Keras,
       $\alpha$ weighs the missed foreground and $\beta$ the probability predicted outside it (Salehi et al. swap
       the letters); $\alpha = \beta = 0.5$ is Dice. $\beta = 0.7$ pushes a background pixel down harder at every
       $q$; $\alpha = 0.7$ pushes a foreground pixel up harder once $p \ge 0.3$.""")
def _dice() -> Figure:
    mask = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    sweep = np.linspace(0.0, 1.0, 201)
    variants = [("dice_loss", "dice_loss", {}),
                (r"tversky_loss $\alpha = \beta = 0.5$", "tversky_loss", {}),
                (r"tversky_loss $\alpha = 0.3, \beta = 0.7$", "tversky_loss", {"alpha": 0.3, "beta": 0.7}),
                (r"tversky_loss $\alpha = 0.7, \beta = 0.3$", "tversky_loss", {"alpha": 0.7, "beta": 0.3})]
    fig, axes = _figure(2, 2)
    for row, (where, fixed, pixel, axis_label) in enumerate(
            [(mask == 1.0, 0.2, 0, r"foreground probability $p$ (background $0.2$)"),
             (mask == 0.0, 0.8, 3, r"background probability $q$ (foreground $0.8$)")]):
        prediction = np.where(where, sweep[:, None], fixed)
        target = np.broadcast_to(mask, prediction.shape)
        series = []
        for label, name, params in variants:
            loss, grad = _value_and_grad(name, prediction, target, **params)
            series.append((label, loss, grad[:, pixel]))
        _curves(axes[row], sweep, series, axis_label, [r"$\ell$", rf"$\partial \ell / \partial p_{pixel}$"],
                ["loss", f"gradient w.r.t. pixel {pixel} (VJP)"], overlapping=True)
    return fig


# ---- sequences ------------------------------------------------------------------------------------------------------

CTC_CLASSES = ("blank", "a", "b")
CTC_TARGET = np.array([1, 2, 2])  # "abb": the repeated b needs a blank between its two frames


def _ctc_logits(sharpness: float) -> np.ndarray:
    """(T, C) logits favouring the alignment "a a - b - b b -" (blank = 0), scaled by ``sharpness``."""
    alignment = [1, 1, 0, 2, 0, 2, 2, 0]
    return sharpness * np.eye(len(CTC_CLASSES))[alignment]


@_plot("ctc_loss", ["ctc_loss"],
       r"""CTC for the target "abb" over eight frames of three classes (blank, a, b), with logits that favour the
       alignment "a a - b - b b -" scaled by a sharpness $s$. Left: the loss falls as $s$ grows (the derivative,
       middle, is the VJP w.r.t. the log-probabilities taken through `log_softmax_vjp` and dotted with the
       pattern). Right: at $s = 2$, minus the gradient w.r.t. each log-probability: the posterior probability that
       an alignment passes through that class at that frame, which is what CTC's forward-backward computes.""")
def _ctc() -> Figure:
    sharpness = np.linspace(0.0, 6.0, 61)
    pattern = _ctc_logits(1.0)
    lengths, target_lengths = np.array(len(pattern)), np.array(len(CTC_TARGET))
    losses, slopes = [], []
    for s in sharpness:
        logits = _ctc_logits(s)
        log_probs = refloss.log_softmax(logits, dim=1)
        losses.append(refloss.ctc_loss(log_probs, CTC_TARGET, lengths, target_lengths, reduction="sum"))
        grad_log_probs = refloss.ctc_loss_vjp(1.0, log_probs, CTC_TARGET, lengths, target_lengths,
                                              reduction="sum")[0]
        slopes.append(np.sum(refloss.log_softmax_vjp(grad_log_probs, logits, dim=1) * pattern))
    fig, axes = _figure(1, 3)
    _curves(axes[0, :2], sharpness, [("ctc_loss", np.array(losses), np.array(slopes))], "sharpness $s$",
            [r"$\ell = -\log p(\mathrm{abb})$", r"$d\ell / ds$"], ["loss", "derivative (VJP)"])
    log_probs = refloss.log_softmax(_ctc_logits(2.0), dim=1)
    grad = refloss.ctc_loss_vjp(1.0, log_probs, CTC_TARGET, lengths, target_lengths, reduction="sum")[0]
    ax = axes[0, 2]
    image = ax.imshow(-grad.T, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    for (t, c), value in np.ndenumerate(-grad):
        ax.text(t, c, f"{value:.2f}".replace("-0.00", "0.00"), ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(CTC_CLASSES)), CTC_CLASSES)
    ax.grid(False)
    fig.colorbar(image, ax=ax, shrink=0.8)
    _label(ax, "frame $t$", "class", r"$-\partial \ell / \partial \log p_t(c)$ at $s = 2$", legend=False)
    return fig


# ---- detectors ------------------------------------------------------------------------------------------------------

def _detector_slice(name: str, inputs: Sequence, wrt: int, index: tuple, values: np.ndarray,
                    **params) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Move one head output (``inputs[wrt][index]``) along ``values``; at each point, the total, the terms, the
    derivative of the total w.r.t. that output and each term's share of it (the VJP with a cotangent on that
    term alone)."""
    forward, vjp = getattr(refloss, name), getattr(refloss, f"{name}_vjp")
    totals, terms, grads, term_grads = [], {}, [], {}
    for value in values:
        args = list(inputs)
        args[wrt] = np.array(inputs[wrt], dtype=float, copy=True)
        args[wrt][index] = value
        total, parts = forward(*args, **params)
        totals.append(float(total))
        grads.append(vjp(1.0, *args, **params)[wrt][index])
        for term, part in parts.items():
            terms.setdefault(term, []).append(float(part))
            term_grads.setdefault(term, []).append(vjp({term: 1.0}, *args, **params)[wrt][index])
    as_arrays = lambda mapping: {term: np.array(v) for term, v in mapping.items()}  # noqa: E731
    return np.array(totals), as_arrays(terms), np.array(grads), as_arrays(term_grads)


def _detector_plot(rows: Sequence[tuple[str, str, Sequence, int, tuple, np.ndarray, dict]], xlabel: str,
                   target: float | None = None) -> Figure:
    """One row per (title, loss, inputs, wrt, index, values, params): the terms stacked (their top edge is the
    total) and the derivative of the total w.r.t. the swept output, split by term."""
    fig, axes = _figure(len(rows), 2)
    for row, (title, name, inputs, wrt, index, values, params) in enumerate(rows):
        totals, terms, grads, term_grads = _detector_slice(name, inputs, wrt, index, values, **params)
        ax_loss, ax_grad = axes[row]
        # The terms that vary along the slice go on top, so that they stay visible when the axis does not start
        # at 0; each term keeps its colour in both panels.
        colours = dict(zip(terms, COLOURS))
        order = sorted(terms, key=lambda term: np.ptp(terms[term]))
        ax_loss.stackplot(values, *(terms[t] for t in order), labels=order, colors=[colours[t] for t in order],
                          alpha=0.75)
        ax_loss.plot(values, totals, color="black", linewidth=1.2, label="total")
        spread = totals.max() - totals.min()
        floor = max(0.0, totals.min() - 2.0 * max(spread, 0.05 * totals.max()))
        ax_loss.set_ylim(floor, totals.max() + 0.3 * max(spread, 0.05 * totals.max()))
        ylabel = "loss, terms stacked" + (f" (axis from {floor:.3g})" if floor > 0 else "")
        for term, grad in term_grads.items():
            if np.any(grad != 0.0):
                ax_grad.plot(values, grad, color=colours[term], linestyle="--", linewidth=2.2, label=f"{term} term")
        ax_grad.plot(values, grads, color="black", linewidth=1.4, label="total")
        for ax in (ax_loss, ax_grad):
            if target is not None:
                ax.axvline(target, color="#888888", linestyle=":", linewidth=1)
        _label(ax_loss, xlabel, ylabel, f"{title}: loss", legend=False)
        ax_loss.legend(fontsize=7, framealpha=0.85, loc="lower right")  # over the bands that do not vary
        _label(ax_grad, xlabel, "derivative of the total (VJP)", f"{title}: gradient")
    return fig


def _derivation_script(name: str):
    """One of the scripts that draw the derivation pages' figures (docs/derivations/<name>.py), loaded as a module,
    so that a plot and the figures beside it share their example instead of each having a copy."""
    path = Path(__file__).resolve().parents[1] / "derivations" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def _yolov1_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The YOLOv1 figures' seeded 7 x 7 x 30 output (docs/derivations/_yolo_figures.py) with three of their VOC
    objects: a dog, a bicycle and a car."""
    output = _derivation_script("_yolo_figures").v1_seeded_output()
    boxes = np.array([[[0.05, 0.30, 0.45, 0.95], [0.50, 0.20, 0.90, 0.60], [0.10, 0.05, 0.30, 0.20]]])
    labels = np.array([[11, 1, 6]])
    return output, boxes, labels


@_plot("yolov1_loss", ["yolov1_loss"],
       r"""YOLOv1's loss on a seeded 7 x 7 output with three objects, as the $\sqrt{w}$ output of predictor 0 in
       the dog's cell (row 4, column 1) moves; the terms are stacked. Below $\sqrt{w} \approx 0.22$ predictor 1
       overlaps the dog better and is responsible: predictor 0 is then a no-object predictor and this output
       gets no gradient. Once predictor 0 takes over, the total jumps and the gradient is the `wh` term's, zero at
       the target $\sqrt{w} = 0.632$; the `object` term moves with the IoU but gives no gradient here, because
       the IoU target is held constant, as in darknet.""")
def _yolov1() -> Figure:
    output, boxes, labels = _yolov1_case()
    target = float(refloss.yolov1_targets(output, boxes, labels).box_target[0, 4, 1, 2])
    return _detector_plot([("yolov1_loss", "yolov1_loss", (output, boxes, labels), 0, (0, 4, 1, 2),
                            np.linspace(0.1, 1.2, 45), {})], r"$\sqrt{w}$ output of predictor 0, cell (4, 1)",
                          target=target)


YOLOV3_SETTINGS = {"num_classes": 3, "input_size": (192, 192)}  # a small head (grids 6, 12, 24), COCO anchors


def _yolov3_case() -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A seeded head (objectness logits near -7, as a trained detector's background) with three objects, and the
    prediction darknet makes responsible for the first one."""
    scales = refloss.yolov3_layout(input_size=YOLOV3_SETTINGS["input_size"])
    rng = np.random.default_rng(3)
    output = rng.normal(0.0, 0.5, (1, sum(scale.size for scale in scales), 5 + YOLOV3_SETTINGS["num_classes"]))
    output[..., 4] -= 7.0
    boxes = np.array([[[0.08, 0.35, 0.46, 0.92], [0.50, 0.22, 0.95, 0.62], [0.66, 0.74, 0.74, 0.80]]])
    labels = np.array([[0, 1, 2]])
    prediction = int(refloss.yolov3_targets(output, boxes, labels, **YOLOV3_SETTINGS).prediction[0, 0])
    return output, boxes, labels, prediction


@_plot("yolov3_loss", ["yolov3_loss", "yolov3_eriklindernoren_loss"],
       r"""YOLOv3 (darknet, top) and the eriklindernoren port (bottom) on one seeded head of a 192 x 192 input with
       three objects, as the raw $t_w$ of the prediction responsible for the first object moves; the terms are
       stacked. Only the `wh` term depends on $t_w$ (the objectness of a positive does not), so the gradient is
       that term's alone: darknet's squared error on $t_w$ weighted by $2 - wh$, the port's unweighted mean squared
       error. Both vanish at the encoded target (dotted).""")
def _yolov3() -> Figure:
    output, boxes, labels, prediction = _yolov3_case()
    target = float(refloss.yolov3_targets(output, boxes, labels, **YOLOV3_SETTINGS).box_target[0, prediction, 2])
    values = np.linspace(target - 1.5, target + 1.5, 15)  # smooth in t_w; few points keep make() under 1 s
    inputs = (output, boxes, labels)
    return _detector_plot([("yolov3_loss", "yolov3_loss", inputs, 0, (0, prediction, 2), values, YOLOV3_SETTINGS),
                           ("yolov3_eriklindernoren_loss", "yolov3_eriklindernoren_loss", inputs, 0,
                            (0, prediction, 2), values, YOLOV3_SETTINGS)],
                          r"raw $t_w$ of the responsible prediction", target=target)


def _anchor_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The example of the anchor-based pages' matching figures, taken from the script that draws them
    (docs/derivations/_anchor_figures.py), so that the plots and the figures show one scene: 135 anchors, a dog, a
    bicycle and a small bird."""
    figures = _derivation_script("_anchor_figures")
    return figures.anchors_of_example(), figures.OBJECTS, figures.LABELS


@_plot("retinanet_loss", ["retinanet_loss"],
       r"""RetinaNet's loss on the example image (135 anchors, seeded head with class logits near the prior
       $\log(0.01/0.99)$) as the $d_x$ output of the bicycle's best anchor moves, with the default L1 box loss (top)
       and `box_loss="giou"` (bottom); the terms are stacked. The classification term does not depend on a box
       output. L1's gradient is a constant $\pm 1/N_{pos}$ that flips at the target. GIoU's, computed on the
       decoded box, is exactly $0$ over a whole interval: there the predicted box, narrower than the bicycle,
       lies within it horizontally, and sliding it sideways changes neither the overlap nor the enclosing box
       (the blind spot DIoU's centre-distance term removes).""")
def _retinanet() -> Figure:
    anchors, objects, labels = _anchor_scene()
    rng = np.random.default_rng(0)
    cls_logits = rng.normal(np.log(0.01 / 0.99), 1.0, (1, len(anchors), 4))
    bbox_regression = rng.normal(0.0, 0.1, (1, len(anchors), 4))
    targets = refloss.retinanet_targets(cls_logits, bbox_regression, anchors, objects, labels)
    anchor = int(np.argmax(targets.iou[0, 1]))  # the bicycle's best anchor: a positive
    target = float(targets.box_target[0, anchor, 0])
    values = np.linspace(target - 1.0, target + 1.0, 41)
    inputs = (cls_logits, bbox_regression, anchors, objects, labels)
    return _detector_plot([("box_loss='l1' (default)", "retinanet_loss", inputs, 1, (0, anchor, 0), values, {}),
                           ("box_loss='giou'", "retinanet_loss", inputs, 1, (0, anchor, 0), values,
                            {"box_loss": "giou"})], r"$d_x$ output of the bicycle's best anchor", target=target)


@_plot("ssd_loss", ["ssd_loss"],
       r"""SSD's loss on the example image (the anchors clipped to the image as priors, seeded head) as the
       centre offset $d_x$ of a matched prior moves; the terms are stacked. The box term is Smooth L1 on the
       offsets encoded with the variances, so its gradient is linear near the target and constant beyond
       $\beta = 1$; the mined classification term does not depend on a box output.""")
def _ssd() -> Figure:
    anchors, objects, labels = _anchor_scene()
    priors = np.clip(anchors, 0.0, 1.0)
    rng = np.random.default_rng(0)
    cls_logits = rng.normal(size=(1, len(priors), 4))
    bbox_regression = rng.normal(0.0, 0.3, (1, len(priors), 4))
    targets = refloss.ssd_targets(bbox_regression, cls_logits, priors, objects, labels)
    prior = int(np.flatnonzero(targets.positive[0])[0])
    target = float(targets.box_target[0, prior, 0])
    values = np.linspace(target - 3.0, target + 3.0, 41)
    return _detector_plot([("ssd_loss", "ssd_loss", (bbox_regression, cls_logits, priors, objects, labels), 0,
                            (0, prior, 0), values, {})], r"$d_x$ output of a matched prior", target=target)


@_plot("rpn_loss", ["rpn_loss"],
       r"""The region proposal network's loss on the example image (labels at IoU $0.7$ / $0.3$, a seeded sample
       of 16 anchors) as the $d_x$ output of a sampled positive anchor moves; the terms are stacked. The box term is
       Smooth L1 with $\beta = 1/9$, divided by the sample size: a gradient of $\pm 1/16$ except within $1/9$ of the
       target.""")
def _rpn() -> Figure:
    anchors, objects, labels = _anchor_scene()
    targets = refloss.rpn_targets(anchors, objects, labels)
    sampled = refloss.rpn_sample(targets, batch_size_per_image=16, positive_fraction=0.5, rng=0)
    rng = np.random.default_rng(0)
    objectness = rng.normal(0.0, 1.0, (1, len(anchors)))
    deltas = rng.normal(0.0, 0.1, (1, len(anchors), 4))
    anchor = int(np.flatnonzero(sampled[0] & (targets.labels[0] == 1))[0])
    target = float(targets.box_target[0, anchor, 0])
    values = np.linspace(target - 0.6, target + 0.6, 49)
    return _detector_plot([("rpn_loss", "rpn_loss", (objectness, deltas, anchors, objects, labels, sampled), 1,
                            (0, anchor, 0), values, {})], r"$d_x$ output of a sampled positive anchor",
                          target=target)


@_plot("fast_rcnn_loss", ["fast_rcnn_loss"],
       r"""The Fast R-CNN box head's loss on the example image (40 seeded proposals, a seeded sample of 12 RoIs) as
       the $d_x$ output of a foreground RoI, for its own class, moves; the terms are stacked. Only the matched
       class's four outputs enter the box term (Smooth L1, $\beta = 1/9$, deltas weighted $(10, 10, 5, 5)$,
       divided by the number of sampled RoIs).""")
def _fast_rcnn() -> Figure:
    _, objects, labels = _anchor_scene()
    rng = np.random.default_rng(1)
    centres = objects[0][rng.integers(0, len(objects[0]), 40)]
    proposals = np.clip(centres + rng.normal(scale=0.08, size=(40, 4)), 0.0, 1.0)
    proposals[:, 2:] = np.maximum(proposals[:, 2:], proposals[:, :2] + 0.02)
    rois, images = refloss.fast_rcnn_sample([proposals], objects, labels, batch_size_per_image=12,
                                            positive_fraction=0.25, rng=1)
    targets = refloss.fast_rcnn_targets(rois, images, objects, labels)
    roi = int(np.flatnonzero(targets.labels > 0)[0])
    column = 4 * int(targets.labels[roi])  # the d_x of the RoI's own class
    head = np.random.default_rng(0)
    class_logits = head.normal(0.0, 1.0, (len(rois), 4))
    box_regression = head.normal(0.0, 0.1, (len(rois), 16))
    target = float(targets.box_target[roi, 0])
    values = np.linspace(target - 0.6, target + 0.6, 49)
    return _detector_plot([("fast_rcnn_loss", "fast_rcnn_loss",
                            (class_logits, box_regression, rois, images, objects, labels), 1, (roi, column), values,
                            {})], r"$d_x$ output of a foreground RoI (its class)", target=target)
