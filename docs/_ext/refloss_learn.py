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
        values[f"{name}_ce_grad"] = _fmt(point["ce_grad"][0], 3)
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
