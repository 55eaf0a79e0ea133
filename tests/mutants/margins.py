"""Mutants of the losses on labels in {-1, +1}: soft_margin_loss, hinge_embedding_loss, margin_ranking_loss.

Each function is a whole forward or VJP with one bug, marked ``# the bug``; the rest is right.
"""

from __future__ import annotations

import numpy as np

from ._base import Mutant
from ._port import as_float, check_reduction, cotangent, pair, reduce, sigmoid_pair, softplus


def _signs(target: np.ndarray) -> np.ndarray:
    """Labels -1 and 1 only, as refloss requires."""
    values = np.unique(target)
    if values.size and not np.all((values == -1.0) | (values == 1.0)):
        raise ValueError(f"target must hold labels in {{-1, 1}}, got values {values.tolist()}")
    return target


def _signed(input, target, reduction):
    x, y = pair(input, target, reduction)
    return x, _signs(y)


def _margin(margin):
    margin = float(margin)
    if not np.isfinite(margin):
        raise ValueError(f"margin must be in (-inf, inf), got {margin!r}")
    return margin


# ---- soft_margin_loss: log(1 + exp(-y x)) -----------------------------------------------------------------------

def _soft_margin_as_written(input, target, *, reduction="mean"):
    x, y = _signed(input, target, reduction)
    return reduce(np.log(1 + np.exp(-y * x)), reduction)  # the bug: PyTorch's formula, exp overflows past 709.8


def _soft_margin_log_not_log1p(input, target, *, reduction="mean"):
    x, y = _signed(input, target, reduction)
    z = -y * x
    return reduce(np.maximum(z, 0) + np.log(1 + np.exp(-np.abs(z))), reduction)  # the bug: log(1 + e), not log1p


def _soft_margin_vjp_one_minus_sigmoid(grad_output, input, target, *, reduction="mean"):
    x, y = _signed(input, target, reduction)
    sigma, _ = sigmoid_pair(y * x)
    return cotangent(grad_output, x.shape, reduction) * -y * (1 - sigma), None  # the bug: 1 - sigma(yx) cancels


def _soft_margin_vjp_label_sign_lost(grad_output, input, target, *, reduction="mean"):
    x, y = _signed(input, target, reduction)
    _, sigma_minus = sigmoid_pair(y * x)
    return cotangent(grad_output, x.shape, reduction) * -sigma_minus, None  # the bug: -sigma(-yx), y dropped


def _soft_margin_stable(input, target, *, reduction="mean"):  # (a right forward, for the VJP-only mutants' pairs)
    x, y = _signed(input, target, reduction)
    return reduce(softplus(-y * x), reduction)


# ---- hinge_embedding_loss: x for y = 1, max(0, margin - x) for y = -1 ------------------------------------------

def _hinge_embedding_torch_labels(input, target, *, margin=1.0, reduction="mean"):
    x, y = pair(input, target, reduction)  # the bug: labels not checked, PyTorch's two wheres: any other label
    margin = _margin(margin)  # costs both terms
    return reduce(np.where(y != 1, np.maximum(0, margin - x), 0.0) + np.where(y != -1, x, 0.0), reduction)


def _hinge_embedding_fmax(input, target, *, margin=1.0, reduction="mean"):
    x, y = _signed(input, target, reduction)
    margin = _margin(margin)
    return reduce(np.where(y == 1, x, np.fmax(0, margin - x)), reduction)  # the bug: fmax turns NaN into 0


def _hinge_embedding_default_margin_zero(input, target, *, margin=0.0, reduction="mean"):  # the bug: default 0
    x, y = _signed(input, target, reduction)
    return reduce(np.where(y == 1, x, np.maximum(0, _margin(margin) - x)), reduction)


def _hinge_embedding_vjp_dissimilar_sign(grad_output, input, target, *, margin=1.0, reduction="mean"):
    x, y = _signed(input, target, reduction)
    margin = _margin(margin)
    slope = np.where(y == 1, 1.0, np.where(margin - x > 0, 1.0, 0.0))  # the bug: +1 where d/dx (margin - x) = -1
    return cotangent(grad_output, x.shape, reduction) * np.where(np.isnan(x), np.nan, slope), None


# ---- margin_ranking_loss: max(0, margin - y (x1 - x2)) -----------------------------------------------------------

def _ranking_inputs(input1, input2, target, reduction, margin):
    x1, x2 = pair(input1, input2, reduction)
    y = as_float(target, "target")
    if y.shape != x1.shape:
        raise ValueError(f"target must have the shape of input1 {x1.shape}, got {y.shape}")
    return x1, x2, _signs(y), _margin(margin)


def _ranking_label_flipped(input1, input2, target, *, margin=0.0, reduction="mean"):
    x1, x2, y, margin = _ranking_inputs(input1, input2, target, reduction, margin)
    return reduce(np.maximum(0, margin + y * (x1 - x2)), reduction)  # the bug: y = 1 read as "x2 ranks higher"


def _ranking_margin_added_to_a_score(input1, input2, target, *, margin=0.0, reduction="mean"):
    x1, x2, y, margin = _ranking_inputs(input1, input2, target, reduction, margin)
    return reduce(np.maximum(0, -y * x1 + (y * x2 + margin)), reduction)  # the bug: margin rounds into y x2


def _ranking_broadcasting(input1, input2, target, *, margin=0.0, reduction="mean"):
    check_reduction(reduction)  # the bug: (N,), (N, 1) and (N,) broadcast to (N, N) instead of being refused
    x1, x2, y = np.broadcast_arrays(as_float(input1, "input1"), as_float(input2, "input2"), as_float(target, "y"))
    return reduce(np.maximum(0, _margin(margin) - _signs(y) * (x1 - x2)), reduction)


def _ranking_vjp_same_sign(grad_output, input1, input2, target, *, margin=0.0, reduction="mean"):
    x1, x2, y, margin = _ranking_inputs(input1, input2, target, reduction, margin)
    z = margin - y * (x1 - x2)
    grad = cotangent(grad_output, x1.shape, reduction) * np.where(np.isnan(z), np.nan, np.where(z > 0, -y, 0.0))
    return grad, grad, None  # the bug: input2's gradient is -grad


MUTANTS = [
    # soft_margin_loss
    Mutant("soft_margin_exp_overflows", "soft_margin_loss", _soft_margin_as_written, None,
           "log(1 + exp(-y x)) as PyTorch writes it: inf instead of 1000 at -y x = 1000", "overflow"),
    Mutant("soft_margin_log_for_log1p", "soft_margin_loss", _soft_margin_log_not_log1p, None,
           "max(z, 0) + log(1 + e^-|z|): 1 + e^-40 rounds to 1, so a confident score costs 0, not 4.2e-18",
           "precision"),
    Mutant("soft_margin_vjp_one_minus_sigmoid", "soft_margin_loss", _soft_margin_stable,
           _soft_margin_vjp_one_minus_sigmoid,
           "slope -y (1 - sigmoid(y x)): the difference cancels to 0 for y x = 40 (true -4.2e-18)", "precision"),
    Mutant("soft_margin_vjp_drops_label_sign", "soft_margin_loss", None, _soft_margin_vjp_label_sign_lost,
           "slope -sigmoid(-y x) without the factor y: wrong sign for every label -1", "gradient"),
    # hinge_embedding_loss
    Mutant("hinge_embedding_any_label_like_torch", "hinge_embedding_loss", _hinge_embedding_torch_labels, None,
           "PyTorch's where(y != 1, ...) + where(y != -1, ...) with no label check: label 0 costs both terms",
           "validation"),
    Mutant("hinge_embedding_max_drops_nan", "hinge_embedding_loss", _hinge_embedding_fmax, None,
           "max(0, margin - x) as np.fmax or a C++ std::max: 0 instead of NaN for a NaN distance", "nonfinite"),
    Mutant("hinge_embedding_default_margin_zero", "hinge_embedding_loss", _hinge_embedding_default_margin_zero,
           None, "default margin 0 (margin_ranking_loss's) instead of PyTorch's 1", "default"),
    Mutant("hinge_embedding_vjp_dissimilar_sign", "hinge_embedding_loss", None,
           _hinge_embedding_vjp_dissimilar_sign, "slope +1 instead of -1 on the active dissimilar branch",
           "gradient"),
    # margin_ranking_loss
    Mutant("margin_ranking_label_flipped", "margin_ranking_loss", _ranking_label_flipped, None,
           "max(0, margin + y (x1 - x2)): y = 1 taken to mean input2 should rank higher", "convention"),
    Mutant("margin_ranking_margin_added_to_a_score", "margin_ranking_loss", _ranking_margin_added_to_a_score, None,
           "-y x1 + (y x2 + margin): the margin rounds away next to a score of 1e16", "precision"),
    Mutant("margin_ranking_broadcasts", "margin_ranking_loss", _ranking_broadcasting, None,
           "input2 (N, 1) against input1 (N,) broadcast to (N, N) instead of refused", "broadcasting"),
    Mutant("margin_ranking_vjp_input2_same_sign", "margin_ranking_loss", None, _ranking_vjp_same_sign,
           "input2's gradient given the sign of input1's (the minus of d/dx2 (x1 - x2) lost)", "gradient"),
]
