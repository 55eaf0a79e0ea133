"""Mutants of ctc_loss: each a whole forward or VJP with one bug, marked ``# the bug``; the rest is right.

The validation and the log-space recursions (forward variables, occupancies) come from refloss's module, fed with
what the bug changes (a wrong skip rule, a wrong length): those parts are right, and long to write again.
"""

from __future__ import annotations

import numpy as np

from refloss.losses.sequence import ctc as reference

from ._base import Mutant


def _losses(x, samples, skip_rule=None, lengths=None):
    """Each sample's loss -log p (C3), with the skip transitions of ``skip_rule(extended)`` if given."""
    losses = []
    for n, (steps, (extended, skip), _) in enumerate(samples):
        steps = steps if lengths is None else lengths[n]
        skip = skip if skip_rule is None else skip_rule(extended)
        losses.append(-float(reference._log_likelihood(x[:steps, n, :], (extended, skip))))
    return np.array(losses)


def _reduce(losses, samples, reduction, divisors=None):
    if reduction == "none":
        return losses
    if reduction == "sum":
        return np.sum(losses)
    divisors = np.array([max(length, 1) for _, _, length in samples]) if divisors is None else divisors
    return np.sum(losses / divisors) / len(samples) if len(samples) else np.nan


def _cotangents(grad_output, samples, reduction, divisors=None):
    """Each sample's share of grad_output: its own entry (none), all of it (sum), or / (length N) (mean)."""
    g = np.broadcast_to(np.asarray(grad_output, dtype=np.float64), (len(samples),))
    if reduction == "mean":
        divisors = np.array([max(length, 1) for _, _, length in samples]) if divisors is None else divisors
        g = g / divisors / len(samples)
    return g


def _gradient(x, samples, g, zero_infinity, skip_rule=None, lengths=None, occupancy=None):
    grad = np.zeros(x.shape)
    for n, (steps, (extended, skip), _) in enumerate(samples):
        steps = steps if lengths is None else lengths[n]
        skip = skip if skip_rule is None else skip_rule(extended)
        slope, log_p = (occupancy or reference._occupancy)(x[:steps, n, :], (extended, skip))
        if zero_infinity and log_p == -np.inf:
            continue
        grad[:steps, n, :] = g[n] * slope
    return grad


def _prepare(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity):
    return reference._prepare(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)


def _forward(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity, **bug):
    x, samples, batched, zero_infinity = _prepare(log_probs, targets, input_lengths, target_lengths, blank,
                                                  reduction, zero_infinity)
    losses = _losses(x, samples, bug.get("skip_rule"), bug.get("lengths") and bug["lengths"](x, samples))
    if zero_infinity:
        losses = np.where(losses == np.inf, 0.0, losses)
    value = _reduce(losses, samples, reduction, bug.get("divisors") and bug["divisors"](samples))
    return value if batched or reduction != "none" else value[0]


def _vjp(grad_output, log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity, **bug):
    x, samples, batched, zero_infinity = _prepare(log_probs, targets, input_lengths, target_lengths, blank,
                                                  reduction, zero_infinity)
    g = _cotangents(grad_output, samples, reduction, bug.get("divisors") and bug["divisors"](samples))
    grad = _gradient(x, samples, g, zero_infinity and not bug.get("nan_when_zeroed"), bug.get("skip_rule"),
                     bug.get("lengths") and bug["lengths"](x, samples), bug.get("occupancy"))
    return (grad if batched else grad[:, 0, :]), None, None, None


# ---- the bugs ---------------------------------------------------------------------------------------------------

def _probability_space(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
                       zero_infinity=False):
    x, samples, batched, zero_infinity = _prepare(log_probs, targets, input_lengths, target_lengths, blank,
                                                  reduction, zero_infinity)
    losses = []
    for n, (steps, (extended, skip), _) in enumerate(samples):
        y = np.exp(x[:steps, n, :])  # the bug: probabilities, not logs: e^-1800 underflows to 0
        alpha = np.zeros(len(extended))
        alpha[:2] = y[0, extended[:2]] if steps else 0.0
        for t in range(1, steps):
            shifted = np.concatenate([[0.0], alpha[:-1]])
            skipped = np.where(skip, np.concatenate([[0.0, 0.0], alpha[:-2]])[:len(alpha)], 0.0)
            alpha = (alpha + shifted + skipped) * y[t, extended]
        p = (alpha[-1] + (alpha[-2] if len(alpha) > 1 else 0.0)) if steps else float(len(extended) == 1)
        with np.errstate(divide="ignore"):
            losses.append(-np.log(p))
    losses = np.array(losses)
    if zero_infinity:
        losses = np.where(losses == np.inf, 0.0, losses)
    value = _reduce(losses, samples, reduction)
    return value if batched or reduction != "none" else value[0]


def _skip_repeats(extended):
    skip = np.zeros(len(extended), dtype=bool)
    skip[2:] = extended[2:] != extended[0]  # the bug: l'_s != l'_{s-2} forgotten: a repeat may skip its blank
    return skip


def _forward_skip_repeats(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
                          zero_infinity=False):
    return _forward(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                    skip_rule=_skip_repeats)


def _vjp_skip_repeats(grad_output, log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
                      zero_infinity=False):
    return _vjp(grad_output, log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                skip_rule=_skip_repeats)


def _batch_only(samples):
    return np.ones(len(samples))  # the bug: 'mean' divides by N only, not each loss by its target length


def _forward_batch_mean(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
                        zero_infinity=False):
    return _forward(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                    divisors=_batch_only)


def _vjp_batch_mean(grad_output, log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
                    zero_infinity=False):
    return _vjp(grad_output, log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                divisors=_batch_only)


def _total_length(samples):
    total = sum(length for _, _, length in samples)  # the bug: sum of losses / sum of target lengths, x N / N
    return np.full(len(samples), max(total, 1) / len(samples)) if len(samples) else np.ones(0)


def _forward_total_length(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
                          zero_infinity=False):
    return _forward(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                    divisors=_total_length)


def _torch_occupancy(x, label_path):
    slope, log_p = reference._occupancy(x, label_path)
    return slope + np.exp(x), log_p  # the bug: PyTorch's exp(x) - occupancy, the gradient through log_softmax


def _vjp_torch_gradient(grad_output, log_probs, targets, input_lengths, target_lengths, *, blank=0,
                        reduction="mean", zero_infinity=False):
    return _vjp(grad_output, log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                occupancy=_torch_occupancy)


def _vjp_zeroed_loss_nan_gradient(grad_output, log_probs, targets, input_lengths, target_lengths, *, blank=0,
                                  reduction="mean", zero_infinity=False):
    # the bug: zero_infinity zeroes the infinite loss, but its gradient is still computed (NaN)
    return _vjp(grad_output, log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                nan_when_zeroed=True)


def _full_lengths(x, samples):
    return [x.shape[0]] * len(samples)  # the bug: every sample runs over all T steps, input_lengths ignored


def _forward_full_lengths(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
                          zero_infinity=False):
    return _forward(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                    lengths=_full_lengths)


def _vjp_full_lengths(grad_output, log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
                      zero_infinity=False):
    return _vjp(grad_output, log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                lengths=_full_lengths)


MUTANTS = [
    Mutant("ctc_probability_space_recursion", "ctc_loss", _probability_space, None,
           "the alpha recursion in probabilities instead of logs: a long sequence's e^-1800 underflows, the loss "
           "is inf", "precision"),
    Mutant("ctc_repeated_label_skips_its_blank", "ctc_loss", _forward_skip_repeats, _vjp_skip_repeats,
           "the skip transition allowed between two copies of a repeated label (l'_s != l'_{s-2} forgotten)",
           "formula"),
    Mutant("ctc_mean_over_batch_only", "ctc_loss", _forward_batch_mean, _vjp_batch_mean,
           "'mean' as the batch mean of the losses (what optax and Keras users write), not divided by each "
           "target length first", "denominator"),
    Mutant("ctc_mean_over_total_target_length", "ctc_loss", _forward_total_length, None,
           "'mean' as sum of losses / sum of target lengths instead of the mean of loss_n / max(L_n, 1)",
           "denominator"),
    Mutant("ctc_gradient_through_log_softmax", "ctc_loss", None, _vjp_torch_gradient,
           "PyTorch's backward taken for the derivative: exp(log_probs) - occupancy, the gradient of the logits "
           "through an assumed log_softmax", "convention"),
    Mutant("ctc_zero_infinity_keeps_nan_gradient", "ctc_loss", None, _vjp_zeroed_loss_nan_gradient,
           "zero_infinity zeroes the infinite loss but not its NaN gradient", "nonfinite"),
    Mutant("ctc_input_lengths_ignored", "ctc_loss", _forward_full_lengths, _vjp_full_lengths,
           "every sample runs over all T steps: input_lengths ignored", "formula"),
]
