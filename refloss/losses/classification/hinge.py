"""Binary hinge and squared hinge losses on labels in {-1, +1} (or {0, 1}, mapped to {-1, +1})."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_matching_pair
from refloss._reduction import reduce, reduce_vjp
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Reference, register

__all__ = ["hinge_loss", "hinge_loss_vjp", "squared_hinge_loss", "squared_hinge_loss_vjp"]

_INPUTS = (Input("input", "scores (decision values), any shape", sample=Interval(-3.0, 3.0, True, True)),
           Input("target", "labels in {-1, +1}, or in {0, 1} (0 is mapped to -1), the same shape as input",
                 domain=Interval(-1.0, 1.0, True, True), choices=(-1.0, 1.0), differentiable=False))


def hinge_loss(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Binary hinge loss: zero beyond a margin of 1 on the right side, linear otherwise.

    Definition:
        With score :math:`x` and label :math:`y \in \{-1, +1\}` (labels in :math:`\{0, 1\}` are mapped by
        :math:`y \mapsto 2y - 1`, as Keras does) (H1),

        .. math::
            \ell(x, y) = \max(0,\, 1 - y x)  \qquad \text{(H2)}

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = -y\,[\,1 - y x > 0\,]  \qquad \text{(H3)}

        and 0 exactly at the margin :math:`y x = 1`. Labels get no gradient. Derivation:
        ``docs/derivations/hinge_loss.md``.

    Conventions:
        At the margin (:math:`yx = 1`) refloss returns 0, like PyTorch's ``multi_margin_loss`` (``z > 0``);
        ``jnp.maximum`` in optax passes half (:math:`-y/2`) and TensorFlow's ``maximum`` the full :math:`-y`; the
        golden vectors accept anything in between. Labels must all lie in :math:`\{-1, 1\}` or all in
        :math:`\{0, 1\}`; anything else (0.5, 2, or -1 together with 0) is an error. Not in PyTorch; optax's
        ``hinge_loss`` is elementwise with ±1 labels; Keras's ``Hinge`` averages over the last axis first.
        ``mean`` of an empty input is NaN. NaN propagates.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``none``, a scalar otherwise.

    Args:
        input: Scores :math:`x`.
        target: Labels in {-1, +1} or {0, 1}.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Cortes, C., Vapnik, V. "Support-Vector Networks", Machine Learning 20, 1995:
        https://doi.org/10.1007/BF00994018.
        optax ``optax.losses.hinge_loss``: https://optax.readthedocs.io/en/latest/api/losses.html

    Examples:
        >>> float(hinge_loss([0.5, 2.0, -1.0], [1.0, 1.0, 1.0], reduction="sum"))  # 0.5 + 0 + 2
        2.5
    """
    x, y = _prepare(input, target, reduction)
    return reduce(anp.maximum(0.0, 1.0 - y * x), reduction)  # (H2)


def hinge_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean") -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`hinge_loss` w.r.t. ``(input, target)``; labels get None.

    ``grad_output`` has the shape of the loss's output. See :func:`hinge_loss`, "Gradient".
    """
    x, y = _prepare(input, target, reduction)
    g = reduce_vjp(grad_output, x.shape, reduction)
    with np.errstate(invalid="ignore"):
        return g * np.where(np.isnan(x), np.nan, np.where(1.0 - y * x > 0, -y, 0.0)), None  # (H3)


def squared_hinge_loss(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Squared hinge loss: the square of the binary hinge loss, differentiable everywhere.

    Definition:
        With score :math:`x` and label :math:`y \in \{-1, +1\}` (or :math:`\{0, 1\}` mapped to it) (H1),

        .. math::
            \ell(x, y) = \max(0,\, 1 - y x)^2  \qquad \text{(H4)}

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = -2y\,\max(0,\, 1 - y x)  \qquad \text{(H5)}

        continuous (it is 0 on both sides of the margin). Labels get no gradient. Derivation:
        ``docs/derivations/hinge_loss.md``.

    Conventions:
        As Keras's ``SquaredHinge`` elementwise (Keras then averages over the last axis). Labels as for
        :func:`hinge_loss`. ``mean`` of an empty input is NaN. NaN propagates.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``none``, a scalar otherwise.

    Args:
        input: Scores :math:`x`.
        target: Labels in {-1, +1} or {0, 1}.
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Rennie, J., Srebro, N. "Loss Functions for Preference Levels", IJCAI 2005 Workshop:
        https://home.ttic.edu/~nati/Publications/RennieSrebroIJCAI05.pdf.
        Keras ``keras.losses.SquaredHinge``: https://keras.io/api/losses/hinge_losses/

    Examples:
        >>> float(squared_hinge_loss([0.5, 2.0, -1.0], [1.0, 1.0, 1.0], reduction="sum"))  # 0.25 + 0 + 4
        4.25
    """
    x, y = _prepare(input, target, reduction)
    with np.errstate(over="ignore"):  # a violation above 1.3e154 squares to inf, silently, as in every framework
        margin = anp.maximum(0.0, 1.0 - y * x)
        return reduce(margin * margin, reduction)  # (H4)


def squared_hinge_loss_vjp(grad_output: Any, input: Any, target: Any, *,
                           reduction: str = "mean") -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`squared_hinge_loss` w.r.t. ``(input, target)``; labels get None.

    ``grad_output`` has the shape of the loss's output. See :func:`squared_hinge_loss`, "Gradient".
    """
    x, y = _prepare(input, target, reduction)
    g = reduce_vjp(grad_output, x.shape, reduction)
    with np.errstate(invalid="ignore", over="ignore"):
        return g * (0.0 - 2.0 * y * np.maximum(0.0, 1.0 - y * x)), None  # (H5); 0.0 - keeps zeros +0.0


def _prepare(input: Any, target: Any, reduction: str) -> tuple[Any, np.ndarray]:
    x, y = as_matching_pair(input, target, reduction)
    values = set(np.unique(y).tolist())
    if values <= {-1.0, 1.0}:
        return x, y
    if values <= {0.0, 1.0}:
        return x, 2.0 * y - 1.0  # (H1) {0, 1} -> {-1, +1}
    raise ValueError(f"target must hold labels all in {{-1, 1}} or all in {{0, 1}}, got values "
                     f"{sorted(values)[:4]}")


def _margin_distance(input: Any, target: Any, **_: Any) -> Any:
    y = np.asarray(target, dtype=np.float64)
    y = np.where(y == 0, -1.0, y) if set(np.unique(y).tolist()) <= {0.0, 1.0} else y
    return np.abs(1.0 - y * np.asarray(input, dtype=np.float64))


_REFERENCES = (Reference("Cortes, Vapnik. Support-Vector Networks. Machine Learning 20, 1995",
                         "https://doi.org/10.1007/BF00994018"),)

register(LossSpec(
    name="hinge_loss",
    family="classification",
    forward=hinge_loss,
    vjp=hinge_loss_vjp,
    inputs=_INPUTS,
    params=(),
    smoothness="piecewise linear; kink at the margin y x = 1",
    kinks=(Kink("y x = 1 (the margin)", "0, as PyTorch's multi_margin_loss (z > 0); optax gives -y/2, TF -y",
                _margin_distance, autograd_agrees=False),),
    references=_REFERENCES,
    equivalents=(
        Equivalent("optax", "optax.losses.hinge_loss", "elementwise; labels -1/+1 only (a label 0 is used as 0: "
                   "loss 1, gradient 0); no label or shape checks; gradient 0 at a NaN score"),
        Equivalent("keras", "keras.losses.Hinge", "averages over the last axis first; maps labels to -1/+1 only when "
                   "all are 0 or 1 (-1 mixed with 0 is used as given); no label checks; gradient 0 at a NaN score; "
                   "pairs (N, 1) with (N,)"),
    ),
))

register(LossSpec(
    name="squared_hinge_loss",
    family="classification",
    forward=squared_hinge_loss,
    vjp=squared_hinge_loss_vjp,
    inputs=_INPUTS,
    params=(),
    smoothness="C1 (the second derivative jumps at the margin y x = 1)",
    kinks=(Kink("y x = 1 (the margin)", "the gradient is continuous there (0)", _margin_distance, order=2),),
    references=_REFERENCES + (Reference("Rennie, Srebro. Loss Functions for Preference Levels. IJCAI 2005 Workshop",
                                        "https://home.ttic.edu/~nati/Publications/RennieSrebroIJCAI05.pdf"),),
    equivalents=(Equivalent("keras", "keras.losses.SquaredHinge",
                            "averages over the last axis first; maps labels to -1/+1 only when all are 0 or 1; no "
                            "label checks; pairs (N, 1) with (N,)"),),
    derivation="docs/derivations/hinge_loss.md",
))
