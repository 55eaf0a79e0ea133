"""Losses on labels in {-1, +1} from ``torch.nn.functional``: soft margin, hinge embedding and margin ranking.

The three share their labels (PyTorch documents -1 and 1 only; refloss refuses anything else, see each
"Conventions") and PyTorch's strict test at a margin: where a hinge is met exactly its gradient is 0.
"""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_array, as_matching_pair, as_real_array, check_same_shape
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register
from refloss.losses.classification._logistic import sigmoid_pair, softplus_pair

__all__ = ["hinge_embedding_loss", "hinge_embedding_loss_vjp", "margin_ranking_loss", "margin_ranking_loss_vjp",
           "soft_margin_loss", "soft_margin_loss_vjp"]

_LABELS = Input("target", "labels in {-1, +1}, the same shape as input", domain=Interval(-1.0, 1.0, True, True),
                choices=(-1.0, 1.0), differentiable=False)
HINGE_MARGIN = Param("margin", 1.0, Interval(-math.inf, math.inf), "the distance below which a dissimilar pair "
                     "(label -1) is penalised", grid=(0.5, 2.0), sample=Interval(0.25, 2.0, True, True))
RANKING_MARGIN = Param("margin", 0.0, Interval(-math.inf, math.inf), "the lead the higher-ranked input must have",
                       grid=(0.5, -0.25), sample=Interval(-0.5, 1.0, True, True))


# ---- soft_margin_loss ---------------------------------------------------------------------------------------------

def soft_margin_loss(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Soft margin loss: the logistic loss of the margin :math:`y x`, a smooth hinge.

    Definition:
        With score :math:`x` and label :math:`y \in \{-1, +1\}`,

        .. math::
            \ell(x, y) = \log\bigl(1 + e^{-y x}\bigr) = \operatorname{softplus}(-y x)  \qquad \text{(S1)}

        computed as :math:`\max(-yx, 0) + \operatorname{log1p}(e^{-|yx|})`, which never overflows. ``mean``
        divides by the number of elements.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = \frac{-y\, e^{-yx}}{1 + e^{-yx}} = -y\,\sigma(-y x)  \qquad \text{(S2)}

        with :math:`\sigma(t) = 1 / (1 + e^{-t})` formed without an exponential of a positive number. Labels get
        no gradient (PyTorch refuses a target that requires grad). Derivation:
        ``docs/derivations/margin_embedding.md``.

    Conventions:
        ``torch.nn.functional.soft_margin_loss``'s formula, but stable: PyTorch computes ``log(1 + exp(-y x))``
        as written, which is ``inf`` with a NaN gradient once :math:`-yx` exceeds 709.8 in float64 (88.7 in
        float32, 11.1 in float16), where refloss returns :math:`-yx` and slope :math:`-y`. Labels must be -1 or 1
        (PyTorch documents only these and computes the formula for any number; refloss raises). ``mean`` of an
        empty input is NaN. NaN propagates; :math:`x = \mp\infty` with :math:`y = \pm 1` costs :math:`\infty`
        with slope :math:`-y` (the limit).

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``none``, a scalar otherwise.

    Args:
        input: Scores :math:`x`.
        target: Labels in {-1, +1}.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.soft_margin_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.soft_margin_loss.html

    Examples:
        >>> round(float(soft_margin_loss([0.0], [1.0])), 15)  # log 2
        0.693147180559945
        >>> float(soft_margin_loss([-1000.0], [1.0]))  # exp(1000) would overflow: the loss is 1000
        1000.0
    """
    x, y = _signed_pair(input, target, reduction)
    softplus_minus, _, _ = softplus_pair(anp, y * x)  # softplus(-y x); y x is exact for y = +-1
    return reduce(softplus_minus, reduction)  # (S1)


def soft_margin_loss_vjp(grad_output: Any, input: Any, target: Any, *,
                         reduction: str = "mean") -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`soft_margin_loss` w.r.t. ``(input, target)``; labels get None.

    ``grad_output`` has the shape of the loss's output. See :func:`soft_margin_loss`, "Gradient".
    """
    x, y = _signed_pair(input, target, reduction)
    g = reduce_vjp(grad_output, x.shape, reduction)
    with np.errstate(invalid="ignore"):
        _, _, parts = softplus_pair(np, y * x)
        _, sigma_minus = sigmoid_pair(parts)  # sigma(-y x)
        return g * (-y * sigma_minus), None  # (S2)


# ---- hinge_embedding_loss -----------------------------------------------------------------------------------------

def hinge_embedding_loss(input: Any, target: Any, *, margin: float = 1.0, reduction: str = "mean") -> Any:
    r"""Hinge embedding loss: a distance itself for similar pairs, its shortfall from ``margin`` for dissimilar ones.

    Definition:
        With input :math:`x` (typically a distance between two embeddings) and label :math:`y \in \{-1, +1\}`,

        .. math::
            \ell(x, y) = \begin{cases} x & y = 1 \\ \max(0,\, \Delta - x) & y = -1 \end{cases}
            \qquad \text{(E1)}

        where :math:`\Delta` is ``margin``. ``mean`` divides by the number of elements.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = \begin{cases} 1 & y = 1 \\ -[\,\Delta - x > 0\,] & y = -1
            \end{cases}  \qquad \text{(E2)}

        0 exactly at :math:`x = \Delta` for :math:`y = -1`. Labels get no gradient. Derivation:
        ``docs/derivations/margin_embedding.md``.

    Conventions:
        ``torch.nn.functional.hinge_embedding_loss``, including its gradient 0 at :math:`x = \Delta` (measured:
        torch 2.14.1 returns 0 there). Labels must be -1 or 1: PyTorch computes
        ``where(y != 1, max(0, margin - x), 0) + where(y != -1, x, 0)``, so any other label (0, 0.5, 2) silently
        costs both terms, :math:`x + \max(0, \Delta - x)`; refloss raises instead. ``margin`` may be any real
        number, as in PyTorch. ``input`` and ``target`` must have the same shape (PyTorch broadcasts (N, 1) against
        (N,) into (N, N)). ``mean`` of an empty input is NaN. NaN propagates into the loss and the gradient
        (PyTorch's gradient there is 1 for :math:`y = 1` and 0 for :math:`y = -1`).

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``none``, a scalar otherwise.

    Args:
        input: Inputs :math:`x` (distances).
        target: Labels in {-1, +1}: 1 for a similar pair, -1 for a dissimilar one.
        margin: :math:`\Delta` (default 1).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Hadsell, R., Chopra, S., LeCun, Y. "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006:
        https://doi.org/10.1109/CVPR.2006.100.
        PyTorch ``torch.nn.functional.hinge_embedding_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.hinge_embedding_loss.html

    Examples:
        >>> float(hinge_embedding_loss([0.25, 0.25, 3.0], [1.0, -1.0, -1.0], reduction="sum"))  # 0.25 + 0.75 + 0
        1.0
    """
    x, y = _signed_pair(input, target, reduction)
    margin = HINGE_MARGIN.check(margin)
    similar = y == 1
    # a selection, not y * x + ...: an infinite x must not leak into the other branch as inf * 0 = NaN
    return reduce(anp.where(similar, x, anp.maximum(0.0, margin - x)), reduction)  # (E1)


def hinge_embedding_loss_vjp(grad_output: Any, input: Any, target: Any, *, margin: float = 1.0,
                             reduction: str = "mean") -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`hinge_embedding_loss` w.r.t. ``(input, target)``; labels get None.

    ``grad_output`` has the shape of the loss's output. See :func:`hinge_embedding_loss`, "Gradient".
    """
    x, y = _signed_pair(input, target, reduction)
    margin = HINGE_MARGIN.check(margin)
    g = reduce_vjp(grad_output, x.shape, reduction)
    with np.errstate(invalid="ignore"):
        slope = np.where(y == 1, 1.0, np.where(margin - x > 0, -1.0, 0.0))  # (E2), PyTorch's strict test
        return g * np.where(np.isnan(x), np.nan, slope), None


# ---- margin_ranking_loss ------------------------------------------------------------------------------------------

def margin_ranking_loss(input1: Any, input2: Any, target: Any, *, margin: float = 0.0,
                        reduction: str = "mean") -> Any:
    r"""Margin ranking loss: ``input1`` should exceed ``input2`` by ``margin`` where :math:`y = 1`, trail it where
    :math:`y = -1`.

    Definition:
        With scores :math:`x_1, x_2`, label :math:`y \in \{-1, +1\}` and margin :math:`m`, let
        :math:`z = m - y (x_1 - x_2)` (R1). Then

        .. math::
            \ell(x_1, x_2, y) = \max(0,\, z)  \qquad \text{(R2)}

        ``mean`` divides by the number of elements.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x_1} = -y\,[z > 0], \qquad
            \frac{\partial \ell}{\partial x_2} = y\,[z > 0]  \qquad \text{(R3)}

        and 0 exactly at the margin :math:`z = 0`. Labels get no gradient. Derivation:
        ``docs/derivations/margin_embedding.md``.

    Conventions:
        ``torch.nn.functional.margin_ranking_loss``, i.e. ``clamp_min(-y (x1 - x2) + m, 0)``, including its
        gradient 0 at :math:`z = 0` (measured on torch 2.14.1). Labels must be -1 or 1 (PyTorch computes the
        formula for any number: :math:`y = 0` costs :math:`\max(0, m)`; refloss raises). PyTorch also lets
        ``target`` require grad and differentiates it (:math:`-(x_1 - x_2)[z > 0]`); refloss treats labels as
        constants. The three inputs must have the same shape. ``mean`` of an empty input is NaN. NaN propagates
        into the loss and the gradients (PyTorch's gradient at a NaN is 0); :math:`x_1 = x_2 = \infty` is NaN.

    Shapes:
        ``input1``, ``input2``, ``target``: ``(*)``, all the same. Output: ``(*)`` for ``none``, else a scalar.

    Args:
        input1: Scores :math:`x_1`.
        input2: Scores :math:`x_2`.
        target: Labels in {-1, +1}: 1 where ``input1`` should rank higher, -1 where ``input2`` should.
        margin: :math:`m` (default 0).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Herbrich, R., Graepel, T., Obermayer, K. "Large Margin Rank Boundaries for Ordinal Regression", Advances
        in Large Margin Classifiers, MIT Press, 2000: https://doi.org/10.7551/mitpress/1113.003.0010.
        PyTorch ``torch.nn.functional.margin_ranking_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.margin_ranking_loss.html

    Examples:
        >>> float(margin_ranking_loss([2.0, 0.5], [1.0, 1.0], [1.0, 1.0], margin=1.0, reduction="sum"))  # 0 + 1.5
        1.5
    """
    x1, x2, y, margin = _ranking_inputs(input1, input2, target, margin, reduction)
    with np.errstate(invalid="ignore"):  # inf - inf is NaN, which propagates
        z = margin - y * (x1 - x2)  # (R1)
    return reduce(anp.maximum(0.0, z), reduction)  # (R2)


def margin_ranking_loss_vjp(grad_output: Any, input1: Any, input2: Any, target: Any, *, margin: float = 0.0,
                            reduction: str = "mean") -> tuple[np.ndarray, np.ndarray, None]:
    """Vector-Jacobian product of :func:`margin_ranking_loss` w.r.t. ``(input1, input2, target)``; labels get None.

    ``grad_output`` has the shape of the loss's output. See :func:`margin_ranking_loss`, "Gradient".
    """
    x1, x2, y, margin = _ranking_inputs(input1, input2, target, margin, reduction)
    g = reduce_vjp(grad_output, x1.shape, reduction)
    with np.errstate(invalid="ignore"):
        z = margin - y * (x1 - x2)
        slope = np.where(np.isnan(z), np.nan, np.where(z > 0, -y, 0.0))  # (R3), PyTorch's strict test
        grad1 = g * slope
        return grad1, -grad1, None


# ---- validation ---------------------------------------------------------------------------------------------------

def _check_signs(target: np.ndarray) -> np.ndarray:
    """``target`` if it holds only -1 and 1; else ``ValueError`` naming what it holds."""
    values = np.unique(target)
    if values.size and not np.all((values == -1.0) | (values == 1.0)):
        raise ValueError(f"target must hold labels in {{-1, 1}} (PyTorch's documented labels), got values "
                         f"{values[:4].tolist()}")
    return target


def _signed_pair(input: Any, target: Any, reduction: str) -> tuple[Any, np.ndarray]:
    x, y = as_matching_pair(input, target, reduction)
    return x, _check_signs(y)


def _ranking_inputs(input1: Any, input2: Any, target: Any, margin: Any, reduction: str) -> tuple:
    x1, x2 = as_matching_pair(input1, input2, reduction, names=("input1", "input2"))
    y = as_real_array(target, "target")
    check_same_shape(x1, y, "input1", "target")
    return x1, x2, _check_signs(y), RANKING_MARGIN.check(margin)


# ---- registry -----------------------------------------------------------------------------------------------------

def _signed_labels(target: Any) -> np.ndarray:
    return np.asarray(as_array(target, "target"), dtype=np.float64)


def _embedding_kink_distance(input: Any, target: Any, *, margin: float = 1.0, **_: Any) -> Any:
    x = np.asarray(input, dtype=np.float64)
    return np.where(_signed_labels(target) == 1, np.inf, np.abs(margin - x))


def _ranking_kink_distance(input1: Any, input2: Any, target: Any, *, margin: float = 0.0, **_: Any) -> Any:
    difference = np.asarray(input1, dtype=np.float64) - np.asarray(input2, dtype=np.float64)
    return np.abs(margin - _signed_labels(target) * difference)


register(LossSpec(
    name="soft_margin_loss",
    derivation="docs/derivations/margin_embedding.md",
    family="classification",
    forward=soft_margin_loss,
    vjp=soft_margin_loss_vjp,
    inputs=(Input("input", "scores, any shape", sample=Interval(-8.0, 8.0, True, True)), _LABELS),
    params=(),
    smoothness="C-infinity",
    references=(Reference("PyTorch, torch.nn.functional.soft_margin_loss",
                          "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.soft_margin_loss.html"),),
    equivalents=(Equivalent("torch", "torch.nn.functional.soft_margin_loss",
                            "computes log(1 + exp(-y x)) as written: inf with a NaN gradient once -y x > 709.8 "
                            "(float64), 88.7 (float32) or 11.1 (float16); any label value accepted"),),
))

register(LossSpec(
    name="hinge_embedding_loss",
    derivation="docs/derivations/margin_embedding.md",
    family="classification",
    forward=hinge_embedding_loss,
    vjp=hinge_embedding_loss_vjp,
    inputs=(Input("input", "distances (any real values), any shape", sample=Interval(-1.0, 3.0, True, True)),
            _LABELS),
    params=(HINGE_MARGIN,),
    smoothness="piecewise linear; kink at x = margin for label -1",
    kinks=(Kink("x = margin with y = -1", "0, as PyTorch (clamp_min's gradient is 0 there); autograd's maximum "
                "splits the tie", _embedding_kink_distance, autograd_agrees=False),),
    references=(
        Reference("Hadsell, Chopra, LeCun. Dimensionality Reduction by Learning an Invariant Mapping. CVPR 2006",
                  "https://doi.org/10.1109/CVPR.2006.100"),
        Reference("PyTorch, torch.nn.functional.hinge_embedding_loss",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.hinge_embedding_loss.html"),
    ),
    equivalents=(Equivalent("torch", "torch.nn.functional.hinge_embedding_loss",
                            "a label other than -1 or 1 costs x + max(0, margin - x) instead of raising; a NaN "
                            "input gets gradient 1 (y = 1) or 0 (y = -1) instead of NaN"),),
))

register(LossSpec(
    name="margin_ranking_loss",
    derivation="docs/derivations/margin_embedding.md",
    family="classification",
    forward=margin_ranking_loss,
    vjp=margin_ranking_loss_vjp,
    inputs=(Input("input1", "scores, any shape"), Input("input2", "scores, the same shape as input1"),
            Input("target", "labels in {-1, +1}, the same shape as input1", domain=Interval(-1.0, 1.0, True, True),
                  choices=(-1.0, 1.0), differentiable=False)),
    params=(RANKING_MARGIN,),
    smoothness="piecewise linear; kink where margin - y (x1 - x2) = 0",
    kinks=(Kink("z = margin - y (x1 - x2) = 0", "0, as PyTorch (clamp_min's gradient is 0 there); autograd's "
                "maximum splits the tie", _ranking_kink_distance, autograd_agrees=False),),
    references=(
        Reference("Herbrich, Graepel, Obermayer. Large Margin Rank Boundaries for Ordinal Regression. Advances in "
                  "Large Margin Classifiers, MIT Press, 2000", "https://doi.org/10.7551/mitpress/1113.003.0010"),
        Reference("PyTorch, torch.nn.functional.margin_ranking_loss",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.margin_ranking_loss.html"),
    ),
    equivalents=(Equivalent("torch", "torch.nn.functional.margin_ranking_loss",
                            "a label other than -1 or 1 is used in the formula instead of raising; the target is "
                            "differentiated if it requires grad; a NaN input gets gradient 0 instead of NaN"),),
))
