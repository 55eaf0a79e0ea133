"""Building blocks of the classification losses: sigmoid, log-sigmoid, softmax, log-softmax and one-hot.

Each differentiable function has its vector-Jacobian product beside it (``<name>_vjp(grad_output, input, ...)``
returns the gradient with respect to ``input``), and every one is stable for logits of any finite magnitude
(1e4 and far beyond): no ``exp`` of a positive number is ever taken. Derivations:
``docs/derivations/activations.md``.
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

from refloss._checks import as_array, as_real_array, check_grad_output

__all__ = [
    "softmax_complement",
    "log_sigmoid",
    "log_sigmoid_vjp",
    "log_softmax",
    "log_softmax_vjp",
    "one_hot",
    "sigmoid",
    "sigmoid_vjp",
    "softmax",
    "softmax_vjp",
]


def sigmoid(input: Any) -> Any:
    r"""Logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, elementwise.

    Computed from :math:`e = e^{-|x|} \in (0, 1]` (A1): :math:`\sigma(x) = 1/(1+e)` for :math:`x \ge 0` and
    :math:`e/(1+e)` for :math:`x < 0`, so nothing overflows. Gradient: :math:`\sigma'(x) = e/(1+e)^2` (A2),
    which equals :math:`\sigma(x)\,\sigma(-x)` without the cancellation of :math:`1 - \sigma(x)` for large
    :math:`x`. Matches ``torch.sigmoid``. NaN propagates; :math:`\sigma(\pm\infty) = 1, 0`.
    """
    x = as_real_array(input, "input")
    with np.errstate(invalid="ignore"):
        e = anp.exp(_minus_abs(x))  # (A1)
        return anp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _minus_abs(x: Any) -> Any:
    """-|x| written with where, not abs: autograd's derivative of abs at 0 is 0, which would make autograd see a
    zero derivative of these smooth functions at x = 0."""
    return anp.where(x >= 0, -x, x)


def sigmoid_vjp(grad_output: Any, input: Any) -> np.ndarray:
    """Vector-Jacobian product of :func:`sigmoid`: ``grad_output * e / (1 + e)^2`` with ``e = exp(-|x|)`` (A2)."""
    x = as_real_array(input, "input")
    g = check_grad_output(grad_output, x.shape)
    e = np.exp(-np.abs(x))
    return g * e / (1.0 + e) ** 2


def log_sigmoid(input: Any) -> Any:
    r"""Log-sigmoid :math:`\log\sigma(x) = -\log(1 + e^{-x})`, elementwise.

    Computed as :math:`\min(x, 0) - \operatorname{log1p}(e^{-|x|})` (A3): exact to a few ulp for every finite
    :math:`x` (``log(sigmoid(x))`` would give ``-inf`` for :math:`x < -745`). Gradient:
    :math:`\sigma(-x)` (A4). Matches ``torch.nn.functional.logsigmoid``.
    """
    x = as_real_array(input, "input")
    with np.errstate(invalid="ignore"):
        # min(x, 0) as a where for the same reason as _minus_abs (autograd splits a min tie in half)
        return anp.where(x >= 0, 0.0, x) - anp.log1p(anp.exp(_minus_abs(x)))  # (A3)


def log_sigmoid_vjp(grad_output: Any, input: Any) -> np.ndarray:
    """Vector-Jacobian product of :func:`log_sigmoid`: ``grad_output * sigmoid(-x)`` (A4)."""
    x = as_real_array(input, "input")
    g = check_grad_output(grad_output, x.shape)
    e = np.exp(-np.abs(x))
    return g * np.where(x >= 0, e / (1.0 + e), 1.0 / (1.0 + e))


def _check_dim(dim: Any, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an integer, got {dim!r} of type {type(dim).__name__}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"dim must be in [{-max(ndim, 1)}, {max(ndim, 1) - 1}] for an input with {ndim} "
                         f"dimensions, got {dim}")
    return int(dim) % max(ndim, 1)


def log_softmax(input: Any, dim: int) -> Any:
    r"""Log-softmax along ``dim``: :math:`x_i - \log\sum_j e^{x_j}`.

    Computed as :math:`(x_i - m) - \operatorname{log1p}\sum_{j \ne a} e^{x_j - m}` with :math:`m = x_a = \max_j
    x_j` (A5): every exponent is :math:`\le 0`, so it is stable for logits of any magnitude, and a confident
    row keeps its tiny log-probabilities (:math:`-8.5 \times 10^{-18}` for logits :math:`[0, 40, 0]`).
    Gradient: :math:`g_i - \operatorname{softmax}(x)_i
    \sum_j g_j` (A6). ``dim`` is required, as it should be in PyTorch (whose implicit choice is deprecated).
    A 0-d input is treated as one class (the result is 0).
    """
    x = as_real_array(input, "input")
    axis = _check_dim(dim, x.ndim)
    if x.ndim == 0:
        return x - x
    # Shift by one maximal entry x_a, chosen once (the first maximum): log sum exp(x - x_a) = log1p(sum over
    # j != a), since x_a's own term is exactly 1; adding the others to 1 first would round a confident row's
    # 1 + 1e-18 to 1 and its log-probability to 0. Writing x_a as a selection (not anp.max) makes the expression
    # an identity in x, so autograd also differentiates it exactly at ties. (A5)
    first_max = _first_maximum(_value_of(x), axis)
    shifted = x - anp.sum(anp.where(first_max, x, 0.0), axis=axis, keepdims=True)
    others = anp.sum(anp.where(first_max, 0.0, anp.exp(shifted)), axis=axis, keepdims=True)
    return shifted - anp.log1p(others)


def log_softmax_vjp(grad_output: Any, input: Any, dim: int) -> np.ndarray:
    """Vector-Jacobian product of :func:`log_softmax`: ``g - softmax(x) * sum(g, dim)`` (A6)."""
    x = as_real_array(input, "input")
    axis = _check_dim(dim, x.ndim)
    g = check_grad_output(grad_output, x.shape)
    if x.ndim == 0:
        return np.zeros_like(x)
    return g - softmax(x, axis) * np.sum(g, axis=axis, keepdims=True)


def _first_maximum(x: np.ndarray, axis: int) -> np.ndarray:
    """A boolean mask marking one maximal entry (the first) along ``axis``."""
    return np.expand_dims(np.argmax(x, axis=axis), axis) == np.expand_dims(
        np.arange(np.shape(x)[axis]), tuple(i for i in range(np.ndim(x)) if i != axis))


def _value_of(x: Any) -> np.ndarray:
    return x._value if hasattr(x, "_value") else x


def softmax_complement(input: Any, dim: int) -> np.ndarray:
    """1 - softmax(input) along ``dim``, without cancellation: sum over j != k of exp(x_j - m) / Z.

    For a confident row (logits [0, 40, 0]) 1 - softmax is 8.5e-18 at the dominant class, which 1 - 0.99999...
    would round to 0. Used by the cross-entropy and focal VJPs (a plain-NumPy helper: no autograd).
    """
    x = np.asarray(as_real_array(input, "input"))
    axis = _check_dim(dim, x.ndim)
    if x.ndim == 0:
        return np.zeros_like(x)
    first_max = _first_maximum(x, axis)
    e = np.exp(x - np.sum(np.where(first_max, x, 0.0), axis=axis, keepdims=True))  # 1 at the maximum
    others = np.sum(np.where(first_max, 0.0, e), axis=axis, keepdims=True)  # sum over j != a
    # sum over j != k: others itself for k = a; 1 + others - e_k (no cancellation: 1 dominates) otherwise
    return np.where(first_max, others, 1.0 + others - e) / (1.0 + others)


def softmax(input: Any, dim: int) -> Any:
    r"""Softmax along ``dim``: :math:`e^{x_i} / \sum_j e^{x_j}`, computed as :math:`e^{x_i - m} / \sum_j
    e^{x_j - m}` with :math:`m = \max_j x_j` (A7). Gradient: :math:`s_i (g_i - \sum_j g_j s_j)` (A8).
    Matches ``torch.softmax``; ``dim`` is required. A 0-d input is treated as one class (the result is 1).
    """
    x = as_real_array(input, "input")
    axis = _check_dim(dim, x.ndim)
    if x.ndim == 0:
        return x - x + 1.0
    exps = anp.exp(x - anp.max(x, axis=axis, keepdims=True))  # (A7)
    return exps / anp.sum(exps, axis=axis, keepdims=True)


def softmax_vjp(grad_output: Any, input: Any, dim: int) -> np.ndarray:
    """Vector-Jacobian product of :func:`softmax`: ``s * (g - sum(g * s, dim))`` (A8)."""
    x = as_real_array(input, "input")
    axis = _check_dim(dim, x.ndim)
    g = check_grad_output(grad_output, x.shape)
    if x.ndim == 0:
        return np.zeros_like(x)
    s = softmax(x, axis)
    return s * (g - np.sum(g * s, axis=axis, keepdims=True))


def one_hot(labels: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encoding of integer ``labels``: shape ``labels.shape + (num_classes,)``, dtype int64.

    Without ``num_classes`` the width is ``max(labels) + 1``, as ``torch.nn.functional.one_hot`` does (an empty
    ``labels`` then raises, as in PyTorch). Labels must be integers in ``[0, num_classes)``; the error names the
    first offending value. No gradient: labels are not differentiable.
    """
    array = as_array(labels, "labels")  # (refuses a masked array rather than drop its mask)
    if array.dtype.kind not in "iu":
        raise TypeError(f"labels must be an array of integers, got dtype {array.dtype}")
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))
                                    or num_classes < 1):
        raise ValueError(f"num_classes must be a positive integer or None, got {num_classes!r}")
    if np.any(array < 0):
        raise ValueError(f"labels must be non-negative, got {int(array[array < 0].flat[0])}")
    if num_classes is None:
        if array.size == 0:
            raise ValueError("num_classes must be given for empty labels (it cannot be inferred)")
        num_classes = int(array.max()) + 1
    if np.any(array >= num_classes):
        offending = int(array[array >= num_classes].flat[0])
        raise ValueError(f"labels must be below num_classes={num_classes}, got {offending}")
    return (array[..., None] == np.arange(num_classes)).astype(np.int64)


