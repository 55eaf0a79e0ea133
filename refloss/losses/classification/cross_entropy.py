"""Softmax cross-entropy and negative log-likelihood, with PyTorch's weights, ignore_index and label smoothing.

Both losses are written in one form: for each sample n (a row of the class axis, dim 1),

    l_n = -sum_c V[n, c] * logp[n, c]                                           (C1)

where ``logp`` is ``log_softmax(input, dim=1)`` for :func:`cross_entropy` and ``input`` itself for
:func:`nll_loss`, and the coefficients ``V`` say how much each class counts (C2):

* class-index targets: ``V[n, c] = (1 - eps) w[y_n] [c = y_n] + (eps / C) w[c]``, and 0 for ignored samples;
* probability targets: ``V[n, c] = w[c] ((1 - eps) t[n, c] + eps / C)``.

The reduction is ``none``, ``sum``, or ``mean`` = sum / D (C3) with D = the sum of ``w[y_n]`` over samples not
ignored (class indices) or the number of samples (probabilities), exactly as PyTorch computes it.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.tracer import Box

from refloss._blocks import readable
from refloss._checks import as_array, as_real_array, check_grad_output, check_reduction, shape_of
from refloss._registry import Equivalent, Input, Interval, LossSpec, Param, Reference, register
from refloss.activations import log_softmax, softmax, softmax_complement
from refloss.losses.classification._indexed_cross_entropy import indexed_cross_entropy
from refloss.losses.classification._labels import (check_class_indices, check_class_weight, check_unit_interval,
                                                   class_axis_of, integer_dtype_hint)

__all__ = ["cross_entropy", "cross_entropy_vjp", "nll_loss", "nll_loss_vjp"]

CLASS_WEIGHT = Param("weight", None, Interval(0.0, math.inf, low_closed=True),
                     "optional non-negative weight per class, shape (C,) (a constant)", kind="per_class")
IGNORE_INDEX = Param("ignore_index", -100, Interval(-math.inf, math.inf),
                     "class-index targets equal to it contribute nothing, to the loss or to the mean's "
                     "denominator", kind="integer")
LABEL_SMOOTHING = Param("label_smoothing", 0.0, Interval(0.0, 1.0, True, True),
                        "mix eps in [0, 1] of the uniform distribution into the target", grid=(0.1,))


def cross_entropy(input: Any, target: Any, *, reduction: str = "mean", weight: Any = None, ignore_index: int = -100,
                  label_smoothing: float = 0.0) -> Any:
    r"""Softmax cross-entropy between logits and class indices or class probabilities, as PyTorch computes it.

    Definition:
        With :math:`\log p = \operatorname{log\_softmax}(x)` over the class axis (dim 1; dim 0 for an input of
        shape ``(C,)``), each sample's loss is

        .. math::
            \ell_n = -\sum_c V_{n,c} \log p_{n,c}  \qquad \text{(C1)}

        with :math:`V_{n,c} = (1-\varepsilon)\, w_{y_n} [c = y_n] + \tfrac{\varepsilon}{C} w_c` for class-index
        targets :math:`y_n` (:math:`V_{n,\cdot} = 0` when :math:`y_n` is ``ignore_index``), and
        :math:`V_{n,c} = w_c \bigl((1-\varepsilon)\,t_{n,c} + \tfrac{\varepsilon}{C}\bigr)` for probability
        targets :math:`t` (C2). ``mean`` divides :math:`\sum_n \ell_n` by :math:`D` (C3): the sum of
        :math:`w_{y_n}` over the samples not ignored (class indices), or the number of samples (probabilities).

    Gradient:
        .. math::
            \frac{\partial \ell_n}{\partial x_{n,k}} = p_{n,k} \sum_c V_{n,c} - V_{n,k}  \qquad \text{(C4)}

        times each sample's cotangent (:math:`g_n`, :math:`g`, or :math:`g/D`). For probability targets also
        :math:`\partial \ell_n / \partial t_{n,c} = -(1-\varepsilon)\, w_c \log p_{n,c}` (C5); class indices get
        no gradient (None). Derivation: ``docs/derivations/cross_entropy.md``.

    Conventions:
        ``torch.nn.functional.cross_entropy`` exactly: the weighted ``mean`` divides by the weights of the
        targets' classes, so the label-smoothing term is divided by that too (which is why PyTorch's result with
        class weights differs from smoothing the one-hot target first); all samples ignored gives ``mean`` = NaN
        (0/0) and ``sum`` = 0, and the gradient of that NaN mean is NaN (PyTorch returns NaN too but a zero
        gradient: the vectors accept that as the named alternative ``nan-mean-zero-gradient``); an empty batch
        gives NaN for ``mean``. Class indices must be integers in
        ``[0, C)`` or ``ignore_index``; probability targets must have the input's shape and lie in [0, 1] (PyTorch
        does not check); ``ignore_index`` only applies to class indices. Weights must be non-negative (PyTorch
        does not check). Stable for logits of any magnitude (±1e4). NaN propagates.

    Shapes:
        ``input``: ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``; ``target``: ``(N)``, ``(N, d1, ..., dk)`` or
        ``()`` of integers, or the input's shape of probabilities; ``weight``: ``(C,)``. Output: the target's
        sample shape for ``none``, a scalar otherwise.

    Args:
        input: Logits :math:`x`.
        target: Class indices (an integer array) or class probabilities (a float array).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        weight: Optional non-negative weight per class.
        ignore_index: Class index that is ignored (default -100).
        label_smoothing: :math:`\varepsilon \in [0, 1]` (default 0).

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.cross_entropy``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html.
        Szegedy, C. et al. "Rethinking the Inception Architecture for Computer Vision", CVPR 2016, §7 (label
        smoothing): https://arxiv.org/abs/1512.00567

    Examples:
        >>> round(float(cross_entropy([[0.0, 0.0]], np.array([1]))), 12)  # log 2
        0.69314718056
    """
    fast = _indexed(None, input, target, reduction, weight, ignore_index, label_smoothing, gradients=False)
    if fast is not None:
        return fast[0]
    x, coefficients, denominator, _ = _prepare(input, target, reduction, weight, ignore_index, label_smoothing,
                                               "cross_entropy")
    class_axis = 1 if np.ndim(_value(x)) > 1 else 0
    # 0.0 - sum rather than -sum: a zero loss is +0.0, as in PyTorch, not -0.0
    return _reduce(0.0 - anp.sum(_weighted(coefficients, log_softmax(x, class_axis)), axis=class_axis), reduction,
                   denominator)


def cross_entropy_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean", weight: Any = None,
                      ignore_index: int = -100, label_smoothing: float = 0.0) -> tuple[np.ndarray, np.ndarray | None]:
    """Vector-Jacobian product of :func:`cross_entropy` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. The target gets a gradient only when it holds
    probabilities (None for class indices). See :func:`cross_entropy`, "Gradient".
    """
    fast = _indexed(grad_output, input, target, reduction, weight, ignore_index, label_smoothing, value=False)
    if fast is not None:
        return fast[1]
    x, coefficients, denominator, probabilities = _prepare(input, target, reduction, weight, ignore_index,
                                                           label_smoothing, "cross_entropy")
    class_axis = 1 if x.ndim > 1 else 0
    g, divisor = _per_sample_cotangent(grad_output, x, class_axis, reduction, denominator)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # 0/0 means propagate NaN silently
        # (C4) as p_k sum_{c != k} V_c - V_k (1 - p_k): the same value as p_k sum V - V_k, but 1 - p_k comes from
        # softmax_complement, so a confident row keeps its tiny gradient (8.5e-18 rather than 0)
        others_v = np.sum(coefficients, axis=class_axis, keepdims=True) - coefficients
        grad_input = g * (softmax(x, class_axis) * others_v - coefficients * softmax_complement(x, class_axis)) \
            / divisor
        grad_target = None
        if probabilities:
            class_weight = _class_weight(weight, x.shape[class_axis], x.ndim, class_axis)
            grad_target = -g * (1.0 - label_smoothing) * class_weight * log_softmax(x, class_axis) / divisor  # (C5)
    return grad_input, grad_target


def _value_and_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean", weight: Any = None,
                   ignore_index: int = -100, label_smoothing: float = 0.0) -> tuple[Any, tuple]:
    """cross_entropy and its VJP in one pass (the class-index fast path), else one after the other."""
    fast = _indexed(grad_output, input, target, reduction, weight, ignore_index, label_smoothing)
    if fast is not None:
        return fast
    params = dict(reduction=reduction, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
    return cross_entropy(input, target, **params), cross_entropy_vjp(grad_output, input, target, **params)


def nll_loss(input: Any, target: Any, *, reduction: str = "mean", weight: Any = None, ignore_index: int = -100) -> Any:
    r"""Negative log-likelihood of class indices given log-probabilities, as ``torch.nn.functional.nll_loss``.

    Definition:
        .. math::
            \ell_n = -w_{y_n}\, x_{n, y_n}  \qquad \text{(C1 with } \log p = x\text{)}

        and 0 for samples whose target is ``ignore_index``. ``mean`` divides by the sum of :math:`w_{y_n}` over
        the samples not ignored (C3); ``cross_entropy(x, y) == nll_loss(log_softmax(x, 1), y)``.

    Gradient:
        .. math::
            \frac{\partial \ell_n}{\partial x_{n,k}} = -w_{y_n} [k = y_n]  \qquad \text{(C6)}

        times each sample's cotangent; class indices get no gradient. Derivation: ``docs/derivations/cross_entropy.md``.

    Conventions:
        As PyTorch: all samples ignored gives ``mean`` = NaN; ``input`` is taken as log-probabilities without a
        check (any real values); class indices must be in ``[0, C)`` or ``ignore_index``; weights non-negative.

    Shapes:
        ``input``: ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``; ``target``: ``(N)``, ``(N, d1, ..., dk)`` or
        ``()`` of integers; ``weight``: ``(C,)``. Output: the target's shape for ``none``, else a scalar.

    Args:
        input: Log-probabilities.
        target: Class indices (integers).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        weight: Optional non-negative weight per class.
        ignore_index: Class index that is ignored (default -100).

    Returns:
        The loss in float64.

    References:
        PyTorch ``torch.nn.functional.nll_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.nll_loss.html

    Examples:
        >>> float(nll_loss([[-1.0, -2.0], [-3.0, -4.0]], np.array([1, 0])))  # (2 + 3) / 2
        2.5
    """
    x, coefficients, denominator, _ = _prepare(input, target, reduction, weight, ignore_index, 0.0, "nll_loss")
    class_axis = 1 if np.ndim(_value(x)) > 1 else 0
    return _reduce(0.0 - anp.sum(_weighted(coefficients, x), axis=class_axis), reduction, denominator)


def nll_loss_vjp(grad_output: Any, input: Any, target: Any, *, reduction: str = "mean", weight: Any = None,
                 ignore_index: int = -100) -> tuple[np.ndarray, None]:
    """Vector-Jacobian product of :func:`nll_loss` w.r.t. ``(input, target)``; the class indices get None.

    ``grad_output`` has the shape of the loss's output. See :func:`nll_loss`, "Gradient".
    """
    x, coefficients, denominator, _ = _prepare(input, target, reduction, weight, ignore_index, 0.0, "nll_loss")
    class_axis = 1 if x.ndim > 1 else 0
    g, divisor = _per_sample_cotangent(grad_output, x, class_axis, reduction, denominator)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # 0/0 means propagate NaN silently
        return 0.0 - g * coefficients / divisor, None  # (C6)


# ---- shared helpers ---------------------------------------------------------------------------------------------

def _value(x: Any) -> Any:
    return x._value if isinstance(x, Box) else x


def _weighted(coefficients: Any, log_p: Any) -> Any:
    """V * log p, with 0 wherever V is 0: a class masked with a -inf logit (log p = -inf) must add nothing, not
    0 * -inf = NaN (PyTorch gives log 2 for logits [-inf, 0, 0] and target 1)."""
    with np.errstate(invalid="ignore"):
        return anp.where(coefficients != 0, coefficients * log_p, 0.0)


def _class_weight(weight: np.ndarray | None, classes: int, ndim: int, class_axis: int) -> np.ndarray:
    """The per-class weight shaped to broadcast along the class axis (ones when absent)."""
    w = np.ones(classes) if weight is None else weight
    return w.reshape((classes,) + (1,) * (ndim - class_axis - 1))


def _reduce(per_sample: Any, reduction: str, denominator: float) -> Any:
    if reduction == "none":
        return per_sample
    total = anp.sum(per_sample)
    if reduction == "sum":
        return total
    if denominator == 0:
        # The mean over nothing is NaN, as PyTorch's (even with label smoothing, whose term alone would be x/0)
        return total * np.nan
    with np.errstate(over="ignore"):
        return total / np.float64(denominator)  # (C3)


def _per_sample_cotangent(grad_output: Any, x: np.ndarray, class_axis: int, reduction: str,
                          denominator: float) -> tuple[np.ndarray, float]:
    """Each sample's cotangent, shaped to broadcast along the class axis, and the divisor to apply last (D for
    ``mean``, else 1): dividing the finished gradient, not the cotangent, keeps w / D finite for a tiny D."""
    sample_shape = x.shape[:class_axis] + x.shape[class_axis + 1:]
    g = check_grad_output(grad_output, sample_shape if reduction == "none" else ())
    g = np.expand_dims(np.broadcast_to(g, sample_shape), class_axis)
    if reduction == "mean" and denominator == 0:
        return g * np.nan, np.float64(1.0)  # the gradient of the NaN mean over nothing is NaN
    return g, (np.float64(denominator) if reduction == "mean" else np.float64(1.0))


def _prepare(input: Any, target: Any, reduction: str, weight: Any, ignore_index: Any, label_smoothing: Any,
             name: str) -> tuple[Any, Any, float, bool]:
    """Validate everything; return (input, V, the mean's denominator D, whether targets are probabilities)."""
    x, weight, ignore_index, label_smoothing, target_values = _checked(input, target, reduction, weight, ignore_index,
                                                                       label_smoothing)
    shape = shape_of(x)
    class_axis = class_axis_of(shape)
    classes = shape[class_axis]
    class_weight = _class_weight(weight, classes, len(shape), class_axis)
    if target_values.dtype.kind in "iu":
        return x, *_index_coefficients(target_values, shape, class_axis, classes, class_weight, ignore_index,
                                       label_smoothing), False
    if name == "nll_loss":
        raise TypeError(f"target must be an array of integer class indices, got dtype {target_values.dtype}"
                        f"{integer_dtype_hint(target_values)}")
    if target_values.dtype.kind != "f":
        raise TypeError(f"target must be integer class indices or float probabilities, got dtype "
                        f"{target_values.dtype}")
    # A float target is read as probabilities (as PyTorch decides, by dtype): every message from here on says so
    as_probabilities = (f"a target of dtype {target_values.dtype} is read as class probabilities; class indices "
                        f"need an integer dtype and shape {shape[:class_axis] + shape[class_axis + 1:]}")
    if ignore_index >= 0:  # PyTorch's own test: a negative ignore_index is tolerated with probabilities
        raise ValueError(f"ignore_index applies to class-index targets only; got ignore_index={ignore_index} with "
                         f"probability targets ({as_probabilities}{integer_dtype_hint(target_values)})")
    t = target if isinstance(target, Box) else target_values.astype(np.float64)
    if target_values.shape != shape:
        raise ValueError(f"probability target must have the shape of input {shape}, got {target_values.shape}: "
                         f"{as_probabilities}{integer_dtype_hint(target_values)}")
    check_unit_interval(target_values, "target", "probabilities")
    coefficients = class_weight * ((1.0 - label_smoothing) * t + label_smoothing / classes)  # (C2)
    samples = int(np.prod(shape)) // classes if classes else 0
    return x, coefficients, float(samples), True


def _checked(input: Any, target: Any, reduction: str, weight: Any, ignore_index: Any,
             label_smoothing: Any) -> tuple[Any, np.ndarray | None, int, float, np.ndarray]:
    """The checks every cross-entropy evaluation starts with, in order: (input, weight, ignore_index,
    label_smoothing, the target's values); the target itself is checked once its kind is known."""
    x = as_real_array(input, "input")
    check_reduction(reduction)
    shape = shape_of(x)
    classes = shape[class_axis_of(shape)]
    ignore_index = _integer(ignore_index, "ignore_index")
    label_smoothing = LABEL_SMOOTHING.check(label_smoothing)
    weight = check_class_weight(weight, "weight", classes)
    return x, weight, ignore_index, label_smoothing, as_array(_value(target), "target")


def _indexed(grad_output: Any, input: Any, target: Any, reduction: str, weight: Any, ignore_index: Any,
             label_smoothing: Any, value: bool = True, gradients: bool = True) -> tuple[Any, tuple | None] | None:
    """cross_entropy's class-index fast path (_indexed_cross_entropy.py), or None where it does not apply: under
    autograd, in refloss._blocks.readable_evaluation(), for probabilities, label smoothing, an empty input, or
    extra dimensions (N, C, d1, ...), whose sums over the class axis the readable code takes in another order."""
    if isinstance(input, Box) or isinstance(target, Box) or readable():
        return None
    x, weight, ignore_index, label_smoothing, target_values = _checked(input, target, reduction, weight,
                                                                       ignore_index, label_smoothing)
    if target_values.dtype.kind not in "iu" or label_smoothing != 0 or x.size == 0 or x.ndim > 2:
        return None
    shape = x.shape
    class_axis = class_axis_of(shape)
    labels = check_class_indices(target_values, shape, class_axis, ignore_index, probabilities_allowed=True)
    if gradients:  # a VJP: its cotangent is checked (None included)
        sample_shape = shape[:class_axis] + shape[class_axis + 1:]
        grad_output = check_grad_output(grad_output, sample_shape if reduction == "none" else ())
    return indexed_cross_entropy(x, labels, weight, ignore_index, reduction, grad_output, value)


def _integer(value: Any, name: str) -> int:
    """An integer setting as a Python int: an int, a NumPy integer or a 0-d integer array (as the scalar
    parameters accept 0-d arrays); booleans and floats are refused."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, np.ndarray) and value.dtype.kind not in "iu"):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}") from None


def _index_coefficients(labels: np.ndarray, shape: tuple[int, ...], class_axis: int, classes: int,
                        class_weight: np.ndarray, ignore_index: int,
                        label_smoothing: float) -> tuple[np.ndarray, float]:
    check_class_indices(labels, shape, class_axis, ignore_index, probabilities_allowed=True)
    ignored = labels == ignore_index
    safe = np.where(ignored, 0, labels)
    one_hot = np.moveaxis(safe[..., None] == np.arange(classes), -1, class_axis).astype(np.float64)
    target_weight = np.sum(one_hot * class_weight, axis=class_axis, keepdims=True)  # w[y_n]
    keep = np.expand_dims(~ignored, class_axis)
    coefficients = keep * ((1.0 - label_smoothing) * target_weight * one_hot
                           + label_smoothing / classes * class_weight)  # (C2)
    denominator = float(np.sum(target_weight * keep))
    return coefficients, denominator


register(LossSpec(
    name="cross_entropy",
    family="classification",
    forward=cross_entropy,
    vjp=cross_entropy_vjp,
    value_and_vjp=_value_and_vjp,
    inputs=(Input("input", "logits (N, C, ...)", shape=("N", "C", "..."), sample=Interval(-8.0, 8.0, True, True)),
            Input("target", "class indices (N, ...) in [0, C), or probabilities shaped like input",
                  shape=("N", "..."), kind="int", classes="C", differentiable=False,
                  differentiable_as_probabilities=True)),
    params=(CLASS_WEIGHT, IGNORE_INDEX, LABEL_SMOOTHING),
    per_sample=True,
    smoothness="C-infinity in the logits",
    references=(
        Reference("PyTorch, torch.nn.functional.cross_entropy",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html"),
        Reference("Szegedy et al. Rethinking the Inception Architecture for Computer Vision. CVPR 2016",
                  "https://arxiv.org/abs/1512.00567"),
    ),
    equivalents=(
        Equivalent("torch", "torch.nn.functional.cross_entropy"),
        Equivalent("keras", "keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
                   "class axis last (refloss: dim 1); ignore_class instead of ignore_index (no default: a -100 label "
                   "is not ignored); no weight, label_smoothing or probability targets (class weights through "
                   "sample_weight); no label range check; NaN for a row with a -inf logit"),
    ),
))

register(LossSpec(
    name="nll_loss",
    family="classification",
    forward=nll_loss,
    vjp=nll_loss_vjp,
    inputs=(Input("input", "log-probabilities (N, C, ...)", shape=("N", "C", "..."),
                  sample=Interval(-8.0, 0.0, True, True)),
            Input("target", "class indices (N, ...) in [0, C)", shape=("N", "..."), kind="int", classes="C",
                  differentiable=False)),
    params=(CLASS_WEIGHT, IGNORE_INDEX),
    per_sample=True,
    smoothness="linear in the input",
    derivation="docs/derivations/cross_entropy.md",  # one page derives both
    references=(Reference("PyTorch, torch.nn.functional.nll_loss",
                          "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.nll_loss.html"),),
    equivalents=(Equivalent("torch", "torch.nn.functional.nll_loss"),),
))
