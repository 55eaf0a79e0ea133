"""The loss under test: Smooth L1 written in PyTorch, as a project of yours might have it.

Two versions: the first try, which looks right and passes simple tests, and the fixed one. The tutorial
"Validate a PyTorch implementation" runs the golden vectors against both.
"""

import torch


class LossError(ValueError):
    """A rejected call. ``category`` names the kind of error in the conformance suite's vocabulary, so that the
    validator can check that a bad call is rejected for the right reason."""

    def __init__(self, message, category):
        super().__init__(message)
        self.category = category


def check_arguments(input, target, reduction, beta):
    # PyTorch broadcasts (N, 1) against (N,) with only a warning; a loss should refuse.
    if input.shape != target.shape:
        raise LossError(f"target shape {tuple(target.shape)} differs from input shape {tuple(input.shape)}",
                        "shape_mismatch")
    if reduction not in ("none", "mean", "sum"):
        raise LossError(f"reduction must be 'none', 'mean' or 'sum'; got {reduction!r}", "invalid_reduction")
    if beta < 0:
        raise LossError(f"beta must be >= 0; got {beta}", "invalid_parameter")


def reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def smooth_l1_loss_first_try(input, target, reduction="mean", beta=1.0):
    check_arguments(input, target, reduction, beta)
    d = input - target
    loss = torch.where(d.abs() < beta, 0.5 * d**2 / beta, d.abs() - 0.5 * beta)
    return reduce(loss, reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    check_arguments(input, target, reduction, beta)
    d = input - target
    # "not >= beta" rather than "< beta": a NaN residual takes the quadratic branch, whose gradient d / beta keeps
    # the NaN (the gradient of abs at NaN is 0 in PyTorch, which would hide it).
    quadratic = ~(d.abs() >= beta)
    # torch.where differentiates BOTH branches and multiplies the unused one by 0, and 0 * inf is NaN. So the
    # quadratic branch only ever sees the residuals it is used for, and never divides by beta = 0.
    d_small = torch.where(quadratic, d, torch.zeros_like(d))
    safe_beta = beta if beta > 0 else 1.0
    loss = torch.where(quadratic, 0.5 * d_small**2 / safe_beta, d.abs() - 0.5 * beta)
    return reduce(loss, reduction)
