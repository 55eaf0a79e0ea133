"""Figures, tables and values of the learners' pages (docs/learn/), computed by refloss when the site is built.

Each public function is used by one directive or role of a page:

- ``{refloss-figure}`` functions return a :class:`matplotlib.figure.Figure`;
- ``{refloss-table}`` functions return ``(header, rows)`` of strings (MyST inline markup allowed);
- ``{refloss-value}`` functions return a dict of already formatted strings, one per number the prose quotes.

Every loss value and every gradient here comes from refloss's public functions and their VJPs (never from finite
differences or a formula typed again here), so the pages cannot drift from the code. The experiments are
deterministic (fixed seeds); the shared computations are cached so that a build runs each one once.
``tests/test_docs_learn.py`` asserts every claim the pages make about these numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import refloss

SEED = 13  # one seed for every random experiment on these pages (the number)
COLORS = ["#0b6e99", "#d1495b", "#edae49", "#66a182", "#8d5a97"]  # one per curve, in a fixed order
CE_COLOR, MSE_COLOR = COLORS[0], COLORS[1]


def _figure(ncols: int, nrows: int = 1, height: float = 3.4) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows`` x ``ncols`` axes in the pages' shared size, without pyplot's global state."""
    figure = Figure(figsize=(4.2 * ncols, height * nrows), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
    return figure, axes


def _fmt(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, in plain notation where that stays short."""
    return f"{float(value):.{digits}g}"


def _percent(share: float) -> str:
    """A share in percent, with enough digits that small shares do not print as 0."""
    percent = 100 * float(share)
    if percent >= 10:
        return f"{percent:.0f} %"
    if percent >= 0.01:
        return f"{percent:.2g} %"
    return f"{percent:.1e} %"


# ---------------------------------------------------------------------------------------------------------------
# Cross-entropy vs MSE (docs/learn/ce_vs_mse.md)
# ---------------------------------------------------------------------------------------------------------------

CONFIDENTLY_WRONG_LOGITS = (-6.0, -10.0)  # a sigmoid unit sure of class 0 when the target is 1
THREE_CLASS_LOGITS = np.array([0.0, 2.0, 0.7])  # class 0 is right, class 1 the wrong favourite
THREE_CLASS_TARGET = 0
FIXED_RIGHT_PROBABILITY = 0.1  # the split sweep keeps p_0 here and moves the wrong mass between classes 1 and 2


def sigmoid_unit_gradients(logits: np.ndarray, target: float = 1.0) -> dict[str, np.ndarray]:
    """Losses and gradients w.r.t. the logit of one sigmoid unit, elementwise over ``logits``.

    MSE is taken on the sigmoid's output, ``(sigmoid(z) - y)**2``, and its gradient is chained by hand through
    ``sigmoid_vjp``: that is what a network whose last layer is a sigmoid followed by MSE computes. Cross-entropy is
    ``binary_cross_entropy_with_logits``, which takes the logit directly.
    """
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.full_like(logits, target)
    ones = np.ones_like(logits)
    probabilities = refloss.sigmoid(logits)
    grad_probability, _ = refloss.mse_loss_vjp(ones, probabilities, targets, reduction="none")
    ce_grad, _ = refloss.binary_cross_entropy_with_logits_vjp(ones, logits, targets, reduction="none")
    return {
        "p": probabilities,
        "mse": refloss.mse_loss(probabilities, targets, reduction="none"),
        "ce": refloss.binary_cross_entropy_with_logits(logits, targets, reduction="none"),
        "mse_grad": refloss.sigmoid_vjp(grad_probability, logits),
        "ce_grad": ce_grad,
    }


@functools.lru_cache(maxsize=None)
def _sigmoid_sweep() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    logits = np.linspace(-10.0, 10.0, 20001)  # a step of 0.001, fine enough to locate MSE's largest gradient
    return logits, sigmoid_unit_gradients(logits)


def ce_vs_mse_sigmoid_figure() -> Figure:
    """Loss and gradient w.r.t. the logit of MSE-on-sigmoid and BCE-with-logits, target 1."""
    logits, sweep = _sigmoid_sweep()
    figure, axes = _figure(2)
    loss_ax, grad_ax = axes[0]
    loss_ax.plot(logits, sweep["mse"], color=MSE_COLOR, label=r"MSE: $(\sigma(z) - 1)^2$")
    loss_ax.plot(logits, sweep["ce"], color=CE_COLOR, label=r"cross-entropy: $-\log \sigma(z)$")
    loss_ax.set(xlabel="logit $z$ (target $y = 1$)", ylabel="loss", title="Loss", ylim=(-0.2, 6))
    grad_ax.plot(logits, sweep["mse_grad"], color=MSE_COLOR, label=r"MSE: $2(p - 1)\,p(1 - p)$")
    grad_ax.plot(logits, sweep["ce_grad"], color=CE_COLOR, label=r"cross-entropy: $p - 1$")
    grad_ax.axvspan(logits[0], CONFIDENTLY_WRONG_LOGITS[0], color="0.85", alpha=0.6, lw=0)
    grad_ax.text(-9.7, -0.5, "confidently\nwrong", fontsize=8, color="0.3")
    grad_ax.set(xlabel="logit $z$ (target $y = 1$)", ylabel=r"$\partial \ell / \partial z$",
                title="Gradient w.r.t. the logit")
    for ax in (loss_ax, grad_ax):
        ax.legend(fontsize=8)
    return figure


def ce_vs_mse_sigmoid_values() -> dict[str, str]:
    """The sigmoid unit's numbers: gradients when confidently wrong, and where MSE's gradient peaks."""
    logits, sweep = _sigmoid_sweep()
    values = {}
    for name, logit in zip(("wrong", "very_wrong"), CONFIDENTLY_WRONG_LOGITS):
        point = sigmoid_unit_gradients(np.array([logit]))
        values[f"{name}_logit"] = f"{logit:g}"
        values[f"{name}_p"] = _fmt(point["p"][0], 2)
        values[f"{name}_mse_grad"] = _fmt(point["mse_grad"][0], 2)
        values[f"{name}_ce_grad"] = f"{point['ce_grad'][0]:.3f}"
        values[f"{name}_ratio"] = f"{point['ce_grad'][0] / point['mse_grad'][0]:,.0f}"
    peak = int(np.argmax(np.abs(sweep["mse_grad"])))
    values["mse_peak_logit"] = f"{logits[peak]:.2f}"
    values["mse_peak_p"] = f"{sweep['p'][peak]:.2f}"
    values["mse_peak_grad"] = f"{abs(sweep['mse_grad'][peak]):.2f}"
    return values


def softmax_example(logits: np.ndarray, target: int) -> dict[str, np.ndarray]:
    """Per-class gradients w.r.t. the logits of one sample: MSE on the softmax output vs cross-entropy.

    MSE compares the softmax's probabilities with the one-hot target, summed over the classes
    (``reduction="sum"``; PyTorch's default ``"mean"`` would divide everything by the number of classes), and its
    gradient is chained through ``softmax_vjp``. Cross-entropy is ``cross_entropy`` on the logits.
    """
    logits = np.asarray(logits, dtype=np.float64)
    one_hot = refloss.one_hot(np.array(target), num_classes=logits.size).astype(np.float64)
    probabilities = refloss.softmax(logits, 0)
    grad_probabilities, _ = refloss.mse_loss_vjp(1.0, probabilities, one_hot, reduction="sum")
    ce_grad, _ = refloss.cross_entropy_vjp(1.0, logits[None, :], np.array([target]), reduction="sum")
    return {
        "p": probabilities,
        "one_hot": one_hot,
        "mse": refloss.mse_loss(probabilities, one_hot, reduction="sum"),
        "ce": refloss.cross_entropy(logits[None, :], np.array([target]), reduction="sum"),
        "mse_grad": refloss.softmax_vjp(grad_probabilities, logits, 0),
        "ce_grad": ce_grad[0],
    }


def wrong_mass_split(right_probability: float, shares: np.ndarray) -> dict[str, np.ndarray]:
    """Losses of three-class predictions with ``p_0`` fixed, the rest split ``share : 1 - share`` over classes 1, 2.

    The logits are ``log p`` (softmax gives back ``p`` exactly), the target is class 0.
    """
    shares = np.asarray(shares, dtype=np.float64)
    wrong = 1.0 - right_probability
    probabilities = np.stack([np.full_like(shares, right_probability), wrong * shares, wrong * (1 - shares)], -1)
    one_hot = refloss.one_hot(np.zeros(shares.size, dtype=np.int64), num_classes=3).astype(np.float64)
    with np.errstate(divide="ignore"):  # a share of 0 or 1 gives a class probability 0: log 0 = -inf is fine here
        logits = np.log(probabilities)
    return {
        "mse": refloss.mse_loss(probabilities, one_hot, reduction="none").sum(-1),
        "ce": refloss.cross_entropy(logits, np.zeros(shares.size, dtype=np.int64), reduction="none"),
    }


def _split_sweep() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    shares = np.linspace(0.0, 1.0, 201)
    return shares, wrong_mass_split(FIXED_RIGHT_PROBABILITY, shares)


def ce_vs_mse_softmax_figure() -> Figure:
    """Left: the step each loss takes on each logit of the three-class example. Right: loss vs the wrong split."""
    example = softmax_example(THREE_CLASS_LOGITS, THREE_CLASS_TARGET)
    classes = np.arange(THREE_CLASS_LOGITS.size)
    figure, axes = _figure(2)
    step_ax, split_ax = axes[0]
    width = 0.38
    step_ax.bar(classes - width / 2, -example["mse_grad"], width, color=MSE_COLOR, label="MSE on softmax")
    step_ax.bar(classes + width / 2, -example["ce_grad"], width, color=CE_COLOR, label="cross-entropy")
    step_ax.axhline(0.0, color="black", lw=0.8)
    step_ax.set_xticks(classes, [f"class {c}\n$p_{c}$ = {p:.2f}" + ("\n(target)" if c == THREE_CLASS_TARGET else "")
                                 for c, p in zip(classes, example["p"])])
    step_ax.set(ylabel=r"$-\partial L / \partial z_c$ (up: a step raises $z_c$)", title="Direction of a descent step")
    step_ax.legend(fontsize=8)

    shares, split = _split_sweep()
    split_ax.plot(shares, split["mse"], color=MSE_COLOR, label="MSE on softmax")
    split_ax.plot(shares, split["ce"], color=CE_COLOR, label="cross-entropy")
    split_ax.set(xlabel=rf"share of the wrong mass on class 1 ($p_0 = {FIXED_RIGHT_PROBABILITY:g}$ fixed)",
                 ylabel="loss", title="Same $p_0$, different wrong classes", ylim=(0, None))
    split_ax.legend(fontsize=8)
    return figure


def ce_vs_mse_softmax_table() -> tuple[list[str], list[list[str]]]:
    """Per class of the three-class example: logit, probability, target and both gradients w.r.t. the logit."""
    example = softmax_example(THREE_CLASS_LOGITS, THREE_CLASS_TARGET)
    header = ["class", "logit $z_c$", "$p_c$", "target $t_c$", r"MSE $\partial L/\partial z_c$",
              r"cross-entropy $\partial L/\partial z_c$", "$p_c - t_c$"]
    rows = []
    for c, logit in enumerate(THREE_CLASS_LOGITS):
        rows.append([str(c), f"{logit:g}", f"{example['p'][c]:.3f}", f"{example['one_hot'][c]:g}",
                     f"{example['mse_grad'][c]:+.3f}", f"{example['ce_grad'][c]:+.3f}",
                     f"{example['p'][c] - example['one_hot'][c]:+.3f}"])
    return header, rows


def ce_vs_mse_softmax_values() -> dict[str, str]:
    """The three-class example's numbers quoted in the prose."""
    example = softmax_example(THREE_CLASS_LOGITS, THREE_CLASS_TARGET)
    shares, split = _split_sweep()
    values = {"logits": ", ".join(f"{z:g}" for z in THREE_CLASS_LOGITS),
              "p_right": f"{FIXED_RIGHT_PROBABILITY:g}",
              "mse_best_share": f"{shares[int(np.argmin(split['mse']))]:g}",
              "mse_at_best": f"{split['mse'].min():.3f}",
              "mse_at_one_class": f"{split['mse'][0]:.3f}",
              "ce_everywhere": f"{split['ce'][0]:.3f}"}
    for c in range(THREE_CLASS_LOGITS.size):
        values[f"p{c}"] = f"{example['p'][c]:.3f}"
        values[f"mse_grad{c}"] = f"{example['mse_grad'][c]:+.3f}"
        values[f"ce_grad{c}"] = f"{example['ce_grad'][c]:+.3f}"
    return values


# ---------------------------------------------------------------------------------------------------------------
# Focal loss (docs/learn/focal_loss.md)
# ---------------------------------------------------------------------------------------------------------------

GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)
ALPHA = 0.25  # RetinaNet's (and torchvision's default) weight of the positives; negatives get 1 - alpha
EASY_P_T = 0.9  # an example is "easy" once the model gives its true class at least this probability
WELL_CLASSIFIED_P_T = 0.9  # the point at which the prose compares focal loss with cross-entropy
HARD_P_T = 0.01  # a badly misclassified example


@dataclass(frozen=True)
class Batch:
    """A batch of binary classification scores, as one class of a RetinaNet head sees them."""

    logits: np.ndarray
    targets: np.ndarray
    groups: dict[str, int]  # how many scores each ingredient of the synthetic batch contributed, in order


def focal_curves(p_t: np.ndarray, gamma: float, alpha: float | None, target: float = 1.0) -> dict[str, np.ndarray]:
    """Focal loss and the magnitude of its gradient w.r.t. the logit, as functions of ``p_t``.

    ``p_t`` is the probability the model gives the true class; for a positive (``target`` 1) the logit is
    ``log(p_t / (1 - p_t))``, for a negative its opposite. The gradient comes from ``sigmoid_focal_loss_vjp``.
    """
    p_t = np.asarray(p_t, dtype=np.float64)
    logits = np.log(p_t / (1 - p_t)) * (1 if target == 1 else -1)
    targets = np.full_like(logits, target)
    loss = refloss.sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma)
    grad, _ = refloss.sigmoid_focal_loss_vjp(np.ones_like(loss), logits, targets, alpha=alpha, gamma=gamma)
    return {"loss": loss, "grad": np.abs(grad)}


def focal_curves_figure() -> Figure:
    """Loss and gradient magnitude vs p_t for each gamma; top without alpha, bottom with alpha = 0.25."""
    p_t = np.linspace(0.001, 0.999, 999)
    figure, axes = _figure(2, 2, height=3.2)
    for row, alpha in enumerate((None, ALPHA)):
        loss_ax, grad_ax = axes[row]
        for gamma, color in zip(GAMMAS, COLORS):
            label = "$\\gamma = 0$ (cross-entropy)" if gamma == 0 else f"$\\gamma = {gamma:g}$"
            positives = focal_curves(p_t, gamma, alpha, target=1.0)
            loss_ax.plot(p_t, positives["loss"], color=color, label=label)
            grad_ax.plot(p_t, positives["grad"], color=color, label=label)
            if alpha is not None:  # the negatives' curves differ only by their weight 1 - alpha
                negatives = focal_curves(p_t, gamma, alpha, target=0.0)
                loss_ax.plot(p_t, negatives["loss"], color=color, ls="--", lw=1)
                grad_ax.plot(p_t, negatives["grad"], color=color, ls="--", lw=1)
        weighting = "no $\\alpha$" if alpha is None else f"$\\alpha = {alpha:g}$"
        loss_ax.set(xlabel="$p_t$ (probability of the true class)", ylabel="loss (log scale)", yscale="log",
                    ylim=(1e-6, 10), title=f"Focal loss, {weighting}")
        grad_ax.set(xlabel="$p_t$ (probability of the true class)", ylabel=r"$|\partial \ell / \partial x|$",
                    title=f"Gradient w.r.t. the logit, {weighting}")
        handles, _ = loss_ax.get_legend_handles_labels()
        if alpha is not None:  # say which line style is which class
            handles = handles + [Line2D([], [], color="black", label=f"positives (weight {alpha:g})"),
                                     Line2D([], [], color="black", ls="--", lw=1,
                                            label=f"negatives (weight {1 - alpha:g})")]
        loss_ax.legend(handles=handles, fontsize=8, loc="lower left")
    return figure


def focal_curves_values() -> dict[str, str]:
    """How much focal loss shrinks a well-classified example, and what it does to a badly misclassified one."""
    values = {"easy_p_t": f"{WELL_CLASSIFIED_P_T:g}", "hard_p_t": f"{HARD_P_T:g}", "alpha": f"{ALPHA:g}",
              "negative_weight": f"{1 - ALPHA:g}"}
    ce_easy = focal_curves(np.array([WELL_CLASSIFIED_P_T]), 0.0, None)
    ce_hard = focal_curves(np.array([HARD_P_T]), 0.0, None)
    values["ce_hard_grad"] = f"{ce_hard['grad'][0]:.2f}"
    for gamma in GAMMAS[1:]:
        key = f"{gamma:g}".replace(".", "_")
        easy = focal_curves(np.array([WELL_CLASSIFIED_P_T]), gamma, None)
        hard = focal_curves(np.array([HARD_P_T]), gamma, None)
        factor = ce_easy["loss"][0] / easy["loss"][0]
        values[f"easy_loss_factor_{key}"] = f"{factor:,.0f}" if factor >= 100 else f"{factor:.3g}"
        values[f"hard_grad_{key}"] = f"{hard['grad'][0]:.2f}"
    return values


@functools.lru_cache(maxsize=None)
def imbalanced_batch() -> Batch:
    """A RetinaNet-like batch for one class, with a fixed seed: a flood of easy background, a few objects.

    RetinaNet scores about 100,000 anchors per image and class, of which a handful cover an object. Here, for a
    detector part-way through training: 99,000 background anchors it already rejects (logits ~ N(-5, 1)),
    900 background anchors that look like objects (N(-1, 1.5)) and 100 objects (N(1, 1.5)).
    """
    rng = np.random.default_rng(SEED)
    groups = {"easy background": 99_000, "hard background": 900, "objects": 100}
    logits = np.concatenate([rng.normal(-5.0, 1.0, groups["easy background"]),
                             rng.normal(-1.0, 1.5, groups["hard background"]),
                             rng.normal(1.0, 1.5, groups["objects"])])
    targets = np.concatenate([np.zeros(groups["easy background"] + groups["hard background"]),
                              np.ones(groups["objects"])])
    return Batch(logits, targets, groups)


def batch_p_t(batch: Batch) -> np.ndarray:
    """The probability the model gives each score's true class."""
    p = refloss.sigmoid(batch.logits)
    return np.where(batch.targets == 1, p, 1 - p)


@functools.lru_cache(maxsize=None)
def focal_batch_shares(gamma: float, alpha: float | None) -> dict[str, float]:
    """On :func:`imbalanced_batch`: total focal loss and the easy examples' and positives' shares of it.

    The gradient share is that of the summed magnitudes of the per-score gradients w.r.t. the logits (the L1 norm
    of the gradient), from ``sigmoid_focal_loss_vjp``.
    """
    batch = imbalanced_batch()
    easy = batch_p_t(batch) >= EASY_P_T
    loss = refloss.sigmoid_focal_loss(batch.logits, batch.targets, alpha=alpha, gamma=gamma)
    grad, _ = refloss.sigmoid_focal_loss_vjp(np.ones_like(loss), batch.logits, batch.targets, alpha=alpha,
                                             gamma=gamma)
    magnitude = np.abs(grad)
    return {"total": float(loss.sum()),
            "easy_loss": float(loss[easy].sum() / loss.sum()),
            "easy_grad": float(magnitude[easy].sum() / magnitude.sum()),
            "positive_loss": float(loss[batch.targets == 1].sum() / loss.sum())}


def focal_batch_table() -> tuple[list[str], list[list[str]]]:
    """One row per (alpha, gamma): total loss and the easy examples' and positives' shares."""
    header = ["$\\alpha$", "$\\gamma$", "total loss (sum)", f"easy ($p_t \\ge {EASY_P_T:g}$): share of the loss",
              "easy: share of $\\sum_i \\lvert\\partial L/\\partial x_i\\rvert$", "positives: share of the loss"]
    rows = []
    for alpha in (None, ALPHA):
        for gamma in GAMMAS:
            shares = focal_batch_shares(gamma, alpha)
            rows.append(["none" if alpha is None else f"{alpha:g}", f"{gamma:g}", f"{shares['total']:,.1f}",
                         _percent(shares["easy_loss"]), _percent(shares["easy_grad"]),
                         _percent(shares["positive_loss"])])
    return header, rows


def focal_batch_values() -> dict[str, str]:
    """The batch's composition and the shares the prose quotes."""
    batch = imbalanced_batch()
    p_t = batch_p_t(batch)
    easy = p_t >= EASY_P_T
    values = {"n": f"{batch.logits.size:,}", "easy_p_t": f"{EASY_P_T:g}", "seed": str(SEED),
              "n_easy": f"{int(easy.sum()):,}", "easy_fraction": _percent(easy.mean()),
              "n_easy_positives": str(int(easy[batch.targets == 1].sum()))}
    for name, count in batch.groups.items():
        values["n_" + name.replace(" ", "_")] = f"{count:,}"
    values["hard_background_per_object"] = f"{batch.groups['hard background'] / batch.groups['objects']:g}"
    for gamma in GAMMAS:
        key = f"{gamma:g}".replace(".", "_")
        shares = focal_batch_shares(gamma, None)
        values[f"easy_loss_{key}"] = _percent(shares["easy_loss"])
        values[f"easy_grad_{key}"] = _percent(shares["easy_grad"])
        values[f"positive_loss_{key}"] = _percent(shares["positive_loss"])
        values[f"positive_loss_alpha_{key}"] = _percent(focal_batch_shares(gamma, ALPHA)["positive_loss"])
    return values


# ---------------------------------------------------------------------------------------------------------------
# L1, L2, Smooth L1 and Huber on data with outliers (docs/learn/robust_regression.md)
# ---------------------------------------------------------------------------------------------------------------

N_SAMPLES, N_FEATURES, N_OFFSETS = 200, 5, 4  # 4 offsets per box: (dx, dy, dw, dh) as a box coder encodes them
LABEL_NOISE = 0.1  # the spread of the good labels around the clean targets
OUTLIER_FRACTION = 0.2
OUTLIER_SHIFT = 5.0  # a wrong label sits about this far above the clean target, in every offset
LEARNING_RATE, STEPS = 0.5, 100


@dataclass(frozen=True)
class Regressor:
    """One of the four losses, as the regression page fits with it."""

    name: str  # the refloss function
    params: dict[str, float]
    label: str  # how the page names it

    def loss(self, prediction: np.ndarray, target: np.ndarray) -> float:
        return float(getattr(refloss, self.name)(prediction, target, **self.params))

    def grad(self, prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
        grad_prediction, _ = getattr(refloss, self.name + "_vjp")(1.0, prediction, target, **self.params)
        return grad_prediction


REGRESSORS = (
    Regressor("mse_loss", {}, "L2 (`mse_loss`)"),
    Regressor("l1_loss", {}, "L1 (`l1_loss`)"),
    Regressor("smooth_l1_loss", {"beta": 1 / 9}, "Smooth L1 (`smooth_l1_loss`, β = 1/9)"),
    Regressor("huber_loss", {"delta": 1.0}, "Huber (`huber_loss`, δ = 1)"),
)


@dataclass(frozen=True)
class BoxData:
    """Features, clean targets (what the boxes really are) and the labels the regressor is trained on."""

    features: np.ndarray  # (N_SAMPLES, N_FEATURES + 1), the last column all ones (the bias)
    true_weights: np.ndarray  # (N_FEATURES + 1, N_OFFSETS)
    clean: np.ndarray  # (N_SAMPLES, N_OFFSETS): features @ true_weights
    labels: np.ndarray  # clean + label noise, and OUTLIER_SHIFT more on the outlier rows
    outliers: np.ndarray  # (N_SAMPLES,) bool


@dataclass(frozen=True)
class Fit:
    """The history of one gradient-descent fit: the loss being minimised and the distance to the clean targets."""

    regressor: Regressor
    losses: np.ndarray  # (STEPS + 1,) the regressor's own loss on the labels, before each step and at the end
    rmse: np.ndarray  # (STEPS + 1,) root-mean-square distance of the predictions from the clean targets
    weights: np.ndarray
    mean_offset: float  # mean of (prediction - clean target) at the end: the pull of the outliers


@functools.lru_cache(maxsize=None)
def box_data() -> BoxData:
    """Synthetic box-offset regression data with a fixed seed and a fifth of the labels wrong."""
    rng = np.random.default_rng(SEED)
    features = np.hstack([rng.normal(size=(N_SAMPLES, N_FEATURES)), np.ones((N_SAMPLES, 1))])
    true_weights = rng.normal(scale=0.5, size=(N_FEATURES + 1, N_OFFSETS))
    clean = features @ true_weights
    labels = clean + rng.normal(scale=LABEL_NOISE, size=clean.shape)
    outliers = np.zeros(N_SAMPLES, dtype=bool)
    outliers[rng.choice(N_SAMPLES, size=round(OUTLIER_FRACTION * N_SAMPLES), replace=False)] = True
    labels[outliers] += OUTLIER_SHIFT + rng.normal(size=(int(outliers.sum()), N_OFFSETS))
    return BoxData(features, true_weights, clean, labels, outliers)


def fit(regressor: Regressor, data: BoxData, learning_rate: float = LEARNING_RATE, steps: int = STEPS) -> Fit:
    """Plain gradient descent on a linear model, from zero weights, with the regressor's VJP as the only gradient.

    The loss is a mean over every offset of every box; the VJP gives its gradient w.r.t. the predictions, and the
    chain rule through ``prediction = features @ weights`` is ``features.T @ grad``.
    """
    weights = np.zeros_like(data.true_weights)
    losses, rmse = [], []
    for step in range(steps + 1):
        prediction = data.features @ weights
        losses.append(regressor.loss(prediction, data.labels))
        rmse.append(np.sqrt(np.mean((prediction - data.clean) ** 2)))
        if step < steps:  # the last pass only measures the final weights
            weights = weights - learning_rate * data.features.T @ regressor.grad(prediction, data.labels)
    mean_offset = float(np.mean(data.features @ weights - data.clean))
    return Fit(regressor, np.array(losses), np.array(rmse), weights, mean_offset)


@functools.lru_cache(maxsize=None)
def fits() -> tuple[Fit, ...]:
    """One fit per regressor on :func:`box_data`, in the order of ``REGRESSORS``."""
    data = box_data()
    return tuple(fit(regressor, data) for regressor in REGRESSORS)


def robust_regression_figure() -> Figure:
    """Training curves: each loss relative to its start, and the distance of the predictions from clean targets."""
    figure, axes = _figure(2)
    loss_ax, rmse_ax = axes[0]
    steps = np.arange(STEPS + 1)
    for result, color in zip(fits(), COLORS):
        label = result.regressor.label.replace("`", "")
        loss_ax.plot(steps, result.losses / result.losses[0], color=color, label=label)
        rmse_ax.plot(steps, result.rmse, color=color, label=label)
    loss_ax.set(xlabel="gradient-descent step", ylabel="training loss / its value at step 0",
                title="Each loss on the labels it is trained on", ylim=(0, 1.05))
    loss_ax.legend(fontsize=8)
    rmse_ax.set(xlabel="gradient-descent step", ylabel="RMS distance (log scale)", yscale="log",
                title="Distance of the fit from the clean targets")
    return figure


def robust_regression_table() -> tuple[list[str], list[list[str]]]:
    """One row per loss: its training loss at the start and end, and the end's distance from the clean targets."""
    header = ["loss", "training loss: step 0", f"step {STEPS}", "RMS distance from clean targets",
              "mean of prediction − clean target"]
    rows = [[result.regressor.label, f"{result.losses[0]:.3f}", f"{result.losses[-1]:.3f}",
             f"{result.rmse[-1]:.3f}", f"{result.mean_offset:+.3f}"] for result in fits()]
    return header, rows


def settling_step(result: Fit, within: float = 0.1) -> int:
    """The first step from which the distance to the clean targets stays within ``within`` of its final value."""
    final = result.rmse[-1]
    outside = np.flatnonzero(np.abs(result.rmse - final) > within * final)
    return int(outside[-1]) + 1 if outside.size else 0


def huber_balance_offset(width: float, data: BoxData) -> float:
    """The offset at which the inliers' pull balances the outliers' in a loss whose quadratic zone is ``width``.

    Inside the zone (the inliers, once the fit is close) the slope of Huber's loss is the residual; outside (the
    outliers, far above) it is the constant ``width``. The mean slope is zero when the inliers' common offset r
    satisfies ``n_inliers * r = n_outliers * width``. Smooth L1 divides Huber by beta, the same balance.
    """
    n_outliers = int(data.outliers.sum())
    return width * n_outliers / (data.outliers.size - n_outliers)


def robust_regression_values() -> dict[str, str]:
    """The experiment's setup and the results the prose quotes, keyed by refloss function name."""
    data = box_data()
    values = {"n": str(N_SAMPLES), "features": str(N_FEATURES), "offsets": str(N_OFFSETS), "seed": str(SEED),
              "noise": f"{LABEL_NOISE:g}", "outlier_fraction": f"{100 * OUTLIER_FRACTION:.0f} %",
              "n_outliers": str(int(data.outliers.sum())), "shift": f"{OUTLIER_SHIFT:g}",
              "learning_rate": f"{LEARNING_RATE:g}", "steps": str(STEPS),
              "outlier_pull": f"{float(np.mean(data.labels - data.clean)):.2f}",
              "huber_balance": f"{huber_balance_offset(REGRESSORS[3].params['delta'], data):.2f}",
              "smooth_l1_balance": f"{huber_balance_offset(REGRESSORS[2].params['beta'], data):.3f}"}
    by_name = {result.regressor.name: result for result in fits()}
    for name, result in by_name.items():
        values[f"{name}_rmse"] = f"{result.rmse[-1]:.3f}"
        values[f"{name}_offset"] = f"{result.mean_offset:+.3f}"
        values[f"{name}_settled"] = str(settling_step(result))
    smooth_l1 = by_name["smooth_l1_loss"]
    residuals = data.features @ smooth_l1.weights - data.labels
    outside = np.abs(residuals[~data.outliers]) >= smooth_l1.regressor.params["beta"]
    values["smooth_l1_good_outside"] = _percent(outside.mean())
    values["start_rmse"] = f"{by_name['mse_loss'].rmse[0]:.3f}"  # every fit starts from the same zero weights
    values["mse_over_huber"] = f"{by_name['mse_loss'].rmse[-1] / by_name['huber_loss'].rmse[-1]:.1f}"
    values["mse_over_smooth_l1"] = f"{by_name['mse_loss'].rmse[-1] / by_name['smooth_l1_loss'].rmse[-1]:.0f}"
    return values


# ---------------------------------------------------------------------------------------------------------------
# one_hot (docs/learn/one_hot.md)
# ---------------------------------------------------------------------------------------------------------------

# Each call is shown on the page exactly as written here and evaluated at build time, so what the page says it
# returns or raises is what it returns or raises.
ONE_HOT_CALLS = (
    "refloss.one_hot([0, 2, 1])",
    "refloss.one_hot([0, 2, 1], num_classes=5)",
    "refloss.one_hot([1, 1])",
    "refloss.one_hot([1, 1], num_classes=3)",
    "refloss.one_hot([[0, 1], [2, 0]])",
    "refloss.one_hot(np.array([], dtype=np.int64), num_classes=4)",
    "refloss.one_hot(3, num_classes=4)",
)
ONE_HOT_ERRORS = (
    "refloss.one_hot([0, 3], num_classes=3)",
    "refloss.one_hot([2, -1])",
    "refloss.one_hot(np.array([], dtype=np.int64))",
    "refloss.one_hot([])",
    "refloss.one_hot([0.0, 1.0])",
    "refloss.one_hot([True, False])",
    "refloss.one_hot([0, 1], num_classes=0)",
    "refloss.one_hot([0, 1], num_classes=-1)",
    "refloss.one_hot([0, 1], num_classes=2.0)",
)


def run_call(code: str):
    """Evaluate one of the calls above with only ``refloss`` and ``np`` in scope."""
    return eval(code, {"__builtins__": {}}, {"refloss": refloss, "np": np})  # our own constant strings only


def raised_by(code: str) -> BaseException:
    """The exception a call of ``ONE_HOT_ERRORS`` raises; a call that returns is a bug in this page."""
    try:
        result = run_call(code)
    except (TypeError, ValueError) as error:
        return error
    raise AssertionError(f"{code} was expected to raise, but returned {result!r}")


def _inline_code(text: str) -> str:
    """``text`` as MyST inline code (a message with a backtick would need a longer fence: refuse it loudly)."""
    if "`" in text:
        raise ValueError(f"cannot show {text!r} as inline code: it contains a backtick")
    return f"`{text}`"


def one_hot_table() -> tuple[list[str], list[list[str]]]:
    """Calls that work: the shape and the rows they return."""
    header = ["call", "shape", "result"]
    rows = []
    for code in ONE_HOT_CALLS:
        result = run_call(code)
        rows.append([_inline_code(code), _inline_code(str(result.shape)),
                     _inline_code(repr(result.tolist()))])
    return header, rows


def one_hot_errors_table() -> tuple[list[str], list[list[str]]]:
    """Calls that fail: the exception's type and its message, as refloss raises them."""
    header = ["call", "raises", "message"]
    rows = []
    for code in ONE_HOT_ERRORS:
        error = raised_by(code)
        rows.append([_inline_code(code), _inline_code(type(error).__name__), _inline_code(str(error))])
    return header, rows


def one_hot_values() -> dict[str, str]:
    """The dtype one_hot returns (quoted in the prose)."""
    return {"dtype": str(run_call(ONE_HOT_CALLS[0]).dtype)}
