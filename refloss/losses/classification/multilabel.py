"""Multi-label losses: ``multilabel_soft_margin_loss`` and ``multilabel_margin_loss``, as torch.nn.functional."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_array, as_real_array, check_reduction, check_same_shape, shape_of
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Reference, register
from refloss.losses.classification._labels import check_class_weight, check_unit_interval
from refloss.losses.classification.bce_with_logits import (binary_cross_entropy_with_logits,
                                                           binary_cross_entropy_with_logits_vjp)
from refloss.losses.classification.cross_entropy import CLASS_WEIGHT

__all__ = ["multilabel_margin_loss", "multilabel_margin_loss_vjp", "multilabel_soft_margin_loss",
           "multilabel_soft_margin_loss_vjp"]


# ---- multilabel_soft_margin_loss --------------------------------------------------------------------------------

def multilabel_soft_margin_loss(input: Any, target: Any, *, reduction: str = "mean", weight: Any = None) -> Any:
    r"""One-versus-all logistic loss of a multi-label sample: the mean over its classes of a binary cross-entropy.

    Definition:
        For sample :math:`n` with logits :math:`x` and targets :math:`t \in [0, 1]` over :math:`C` classes,

        .. math::
            \ell_n = \frac{1}{C} \sum_{c} w_c \bigl[t_c\,\operatorname{softplus}(-x_c)
                     + (1 - t_c)\,\operatorname{softplus}(x_c)\bigr] \qquad \text{(S1)}

        the per-class binary cross-entropy with logits, :math:`-\log\sigma(x) = \operatorname{softplus}(-x)`,
        averaged over the classes (the last axis). ``mean`` then averages :math:`\ell_n` over the samples.

    Gradient:
        .. math::
            \frac{\partial \ell_n}{\partial x_c} = \frac{w_c}{C} (\sigma(x_c) - t_c), \qquad
            \frac{\partial \ell_n}{\partial t_c} = -\frac{w_c}{C} x_c \qquad \text{(S2)}

        Derivation: ``docs/derivations/multilabel_soft_margin_loss.md``.

    Conventions:
        ``torch.nn.functional.multilabel_soft_margin_loss`` (torch 2.14.1): the class axis is the last one,
        ``weight`` multiplies each class's term before the mean over classes (whose denominator stays :math:`C`).
        Targets must lie in [0, 1] (PyTorch does not check); ``weight`` must be ``(C,)``, finite and
        non-negative (PyTorch broadcasts any shape). Computed through softplus, so no logit overflows (PyTorch
        gives 800 at :math:`x = 800, t = 0` too). A NaN logit makes its sample's loss NaN and its own gradient
        NaN, the other classes' gradients stay finite, as in PyTorch. ``mean`` of an empty batch is NaN.

    Shapes:
        ``input``: ``(N, C)``, ``(C,)`` or ``(N, ..., C)``; ``target``: the same; ``weight``: ``(C,)``. Output:
        the shape without its last axis for ``none``, a scalar otherwise.

    Args:
        input: Logits :math:`x`, one per class.
        target: Probabilities :math:`t \in [0, 1]` per class (usually 0/1 labels).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        weight: Optional non-negative weight per class.

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.multilabel_soft_margin_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.multilabel_soft_margin_loss.html

    Examples:
        >>> # logits 0: every class costs log 2, and so does their mean
        >>> t = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
        >>> round(float(multilabel_soft_margin_loss(np.zeros((2, 3)), t)), 15)
        0.693147180559945
    """
    x, t, weight, classes = _prepare_soft(input, target, reduction, weight)
    per_class = binary_cross_entropy_with_logits(x, t, reduction="none", weight=weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_sample = anp.sum(per_class, axis=-1) / np.float64(classes)  # (S1)
    return reduce(per_sample, reduction)


def multilabel_soft_margin_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean",
                                    weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`multilabel_soft_margin_loss` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`multilabel_soft_margin_loss`, "Gradient".
    """
    x, t, weight, classes = _prepare_soft(input, target, reduction, weight)
    per_sample = reduce_vjp(grad_output, x.shape[:-1], reduction)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.broadcast_to((per_sample / np.float64(classes))[..., None], x.shape)  # the mean over classes
    return binary_cross_entropy_with_logits_vjp(per_class, x, t, reduction="none", weight=weight)  # (S2)


def _prepare_soft(input: Any, target: Any, reduction: Any, weight: Any) -> tuple:
    x = as_real_array(input, "input")
    t = as_real_array(target, "target")
    if len(shape_of(x)) < 1:
        raise ValueError(f"input must have shape (N, C) or (C,) (classes on the last axis), got {shape_of(x)}")
    check_same_shape(x, t, "input", "target")
    check_reduction(reduction)
    check_unit_interval(t, "target", "probabilities")
    classes = shape_of(x)[-1]
    return x, t, check_class_weight(weight, "weight", classes), classes


# ---- multilabel_margin_loss ------------------------------------------------------------------------------------

def multilabel_margin_loss(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Multi-label hinge loss: every target class's score should beat every non-target class's score by 1.

    Definition:
        A sample's target row lists class indices, ended by the first :math:`-1` (the rest is ignored); let
        :math:`J` be that list (in order, duplicates kept) and :math:`I` the classes not in it. With
        :math:`z_{ji} = 1 - x_j + x_i` (M1),

        .. math::
            \ell_n = \frac{1}{C} \sum_{j \in J} \sum_{i \in I} \max(0, z_{ji}) \qquad \text{(M2)}

        ``mean`` averages :math:`\ell_n` over the samples.

    Gradient:
        With the active set :math:`a_{ji} = [z_{ji} > 0]` (M3),

        .. math::
            \frac{\partial \ell_n}{\partial x_i} = \frac{1}{C} \sum_{j \in J} a_{ji} \;(i \in I), \qquad
            \frac{\partial \ell_n}{\partial x_j} = -\frac{1}{C} \sum_{i \in I} a_{ji} \;
            \text{per occurrence of } j \text{ in } J \qquad \text{(M4)}

        Class indices get no gradient. Derivation: ``docs/derivations/multilabel_margin_loss.md``.

    Conventions:
        ``torch.nn.functional.multilabel_margin_loss`` (torch 2.14.1): its strict test :math:`z > 0` (a pair
        exactly at the margin contributes no gradient), its :math:`1/C` scaling, a duplicate target index counted
        once per occurrence, every target entry (also after the first :math:`-1`) in :math:`[-1, C)`. Unlike
        PyTorch, a NaN score propagates (PyTorch's ``z > 0`` test drops a NaN pair silently), ``mean`` of an
        empty batch is NaN (PyTorch 2.14.1 returns uninitialised memory), and :math:`C = 0` is refused as PyTorch
        does.

    Shapes:
        ``input``: ``(N, C)`` or ``(C,)``; ``target``: integers of the same shape. Output: ``(N,)`` (or ``()``)
        for ``none``, a scalar otherwise.

    Args:
        input: Scores :math:`x`.
        target: Target class indices per sample, padded after the first :math:`-1`.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.multilabel_margin_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.multilabel_margin_loss.html

    Examples:
        >>> # targets {3, 0}, others {1, 2}: (0.4 + 0.6 + 1.1 + 1.3) / 4
        >>> round(float(multilabel_margin_loss([[0.1, 0.2, 0.4, 0.8]], np.array([[3, 0, -1, 1]]))), 12)
        0.85
    """
    x, counts, others, classes = _prepare_margin(input, target, reduction)
    hinge = anp.maximum(0.0, 1.0 - x[..., :, None] + x[..., None, :])  # (M1) z[j, i], j target, i other
    pairs = counts[..., :, None] * others[..., None, :]  # how often each (j, i) pair is counted
    per_sample = anp.sum(anp.sum(anp.where(pairs > 0, hinge * pairs, 0.0), axis=-1), axis=-1) / classes  # (M2)
    return reduce(per_sample, reduction)


def multilabel_margin_loss_vjp(grad_output: Any, input: Any, target: Any, *,
                               reduction: str = "mean") -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`multilabel_margin_loss` w.r.t. ``(input, target)``; indices get None.

    ``grad_output`` has the shape of the loss's output. See :func:`multilabel_margin_loss`, "Gradient".
    """
    x, counts, others, classes = _prepare_margin(input, target, reduction)
    g = reduce_vjp(grad_output, x.shape[:-1], reduction)
    with np.errstate(invalid="ignore"):
        z = 1.0 - x[..., :, None] + x[..., None, :]
        pairs = counts[..., :, None] * others[..., None, :]
        active = np.where(np.isnan(z), np.nan, (z > 0).astype(np.float64)) * pairs  # (M3), per pair count
        active = np.where(pairs > 0, active, 0.0)
        per_other = np.sum(active, axis=-2)  # (M4), i: over the targets j
        per_target = np.sum(active, axis=-1)  # (M4), j: over the others i
        grad = (per_other - per_target) * (g / classes)[..., None]
    return np.asarray(grad, dtype=np.float64), None


def _prepare_margin(input: Any, target: Any, reduction: Any) -> tuple:
    x = as_real_array(input, "input")
    check_reduction(reduction)
    shape = shape_of(x)
    if len(shape) not in (1, 2) or shape[-1] == 0:
        raise ValueError(f"input must have shape (N, C) or (C,) with C >= 1 (as PyTorch), got {shape}")
    labels = as_array(target, "target")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"target must hold integer class indices (-1 ends a row), got dtype {labels.dtype}")
    if labels.shape != shape:
        raise ValueError(f"target must have the shape of input {shape}, got {labels.shape}")
    classes = shape[-1]
    outside = (labels < -1) | (labels >= classes)
    if np.any(outside):
        where = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(f"target class indices must be in [-1, C) = [-1, {classes}), got {int(labels[where])} at "
                         f"index {where}")
    # Entries before the first -1 are the targets; counts[c] says how often class c is listed (duplicates count)
    listed = np.cumsum(labels == -1, axis=-1) == 0
    hot = (labels[..., :, None] == np.arange(classes)) & listed[..., :, None]
    counts = np.sum(hot, axis=-2).astype(np.float64)
    others = (counts == 0).astype(np.float64)
    return x, counts, others, np.float64(classes)


def _pair_distance(input: Any, target: Any, **_: Any) -> Any:
    """How far each score is from a margin it takes part in: min over pairs (j, i) of |1 - x_j + x_i|."""
    x, counts, others, _ = _prepare_margin(input, target, "none")
    z = np.abs(1.0 - x[..., :, None] + x[..., None, :])
    pairs = (counts[..., :, None] * others[..., None, :]) > 0
    z = np.where(pairs, z, np.inf)
    return np.minimum(np.min(z, axis=-1), np.min(z, axis=-2))


register(LossSpec(
    name="multilabel_soft_margin_loss",
    family="classification",
    forward=multilabel_soft_margin_loss,
    vjp=multilabel_soft_margin_loss_vjp,
    inputs=(Input("input", "logits (N, C)", shape=("N", "C")),
            Input("target", "probabilities (N, C) in [0, 1]", shape=("N", "C"), domain=Interval(0.0, 1.0, True, True),
                  sample=Interval(0.0, 1.0, True, True))),
    params=(CLASS_WEIGHT,),
    per_sample=True,
    smoothness="smooth (C-infinity) in the logits and linear in the targets",
    references=(Reference("PyTorch, torch.nn.functional.multilabel_soft_margin_loss",
                          "https://docs.pytorch.org/docs/stable/generated/"
                          "torch.nn.functional.multilabel_soft_margin_loss.html"),),
    equivalents=(Equivalent("torch", "torch.nn.functional.multilabel_soft_margin_loss", "the same; PyTorch "
                            "does not check that targets lie in [0, 1] nor that weight has shape (C,)"),),
))

register(LossSpec(
    name="multilabel_margin_loss",
    family="classification",
    forward=multilabel_margin_loss,
    vjp=multilabel_margin_loss_vjp,
    inputs=(Input("input", "scores (N, C)", shape=("N", "C")),
            Input("target", "class indices (N, C) in [-1, C), ended by the first -1", shape=("N", "C"),
                  kind="int", classes="C", differentiable=False)),
    params=(),
    per_sample=True,
    smoothness="piecewise linear in the scores; kinks where a target and a non-target score are exactly 1 apart",
    kinks=(Kink("z = 1 - x_j + x_i = 0 for a target j and a non-target i", "0, as PyTorch (z > 0); autograd's "
                "maximum splits the tie", _pair_distance, autograd_agrees=False),),
    references=(Reference("PyTorch, torch.nn.functional.multilabel_margin_loss",
                          "https://docs.pytorch.org/docs/stable/generated/"
                          "torch.nn.functional.multilabel_margin_loss.html"),),
    equivalents=(Equivalent("torch", "torch.nn.functional.multilabel_margin_loss", "the same, except that a NaN "
                            "score is dropped by PyTorch's z > 0 test (refloss propagates it) and that PyTorch "
                            "2.14.1's mean of an empty batch (0, C) is uninitialised memory (refloss: NaN)"),),
))
