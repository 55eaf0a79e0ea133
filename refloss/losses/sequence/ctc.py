"""Connectionist temporal classification (CTC) loss, as ``torch.nn.functional.ctc_loss``."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from refloss._checks import as_array, as_real_array, check_grad_output, check_reduction, shape_of
from refloss._registry import Equivalent, Input, Interval, LossSpec, Param, Reference, register

__all__ = ["ctc_loss", "ctc_loss_vjp"]

BLANK = Param("blank", 0, Interval(0.0, float("inf"), True, False), "class index of the blank (in [0, C))",
              kind="integer")
ZERO_INFINITY = Param("zero_infinity", False, Interval(0.0, 1.0, True, True), "replace an infinite loss (no "
                      "alignment of the target fits the input) and its gradient by 0", kind="boolean",
                      grid=(True,))


def ctc_loss(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, *, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Any:
    r"""Connectionist temporal classification loss: minus the log of the total probability of all alignments.

    Definition:
        For one sample with per-step log-probabilities :math:`x_t(k)` (:math:`t < T`, the sample's input length)
        and target :math:`l = (l_1, \dots, l_L)`, extend the target with blanks :math:`b` (C1):
        :math:`l' = (b, l_1, b, l_2, \dots, l_L, b)`, of length :math:`S' = 2L + 1`. The forward variables, in log
        space, are (C2)

        .. math::
            a_0(0) = x_0(b), \quad a_0(1) = x_0(l_1), \qquad
            a_t(s) = x_t(l'_s) + \operatorname{LSE}\big(a_{t-1}(s),\, a_{t-1}(s-1),\, a_{t-1}(s-2)\big)

        where the third term (skipping a blank) is present only when :math:`l'_s \ne b` and
        :math:`l'_s \ne l'_{s-2}` (a repeated label needs a blank between its copies), and missing terms are
        :math:`-\infty`. The loss is (C3)

        .. math::
            \ell = -\operatorname{LSE}\big(a_{T-1}(S'-1),\, a_{T-1}(S'-2)\big)

        (:math:`\ell = 0` for :math:`T = L = 0`, :math:`+\infty` when no alignment fits). ``mean`` divides each
        sample's loss by :math:`\max(L_n, 1)` and then averages over the batch, as PyTorch.

    Gradient:
        With the backward variables :math:`c_{T-1}(S'-1) = c_{T-1}(S'-2) = 0` and (C4)
        :math:`c_t(s) = \operatorname{LSE}_{j \in \{s, s+1, s+2\}}\big(x_{t+1}(l'_j) + c_{t+1}(j)\big)` (the same
        transitions, read backwards; :math:`c` does not include step :math:`t`'s own emission), the occupancy of
        state :math:`s` at step :math:`t` is :math:`\gamma_t(s) = \exp(a_t(s) + c_t(s) + \ell)` and (C5)

        .. math::
            \frac{\partial \ell}{\partial x_t(k)} = -\sum_{s \,:\, l'_s = k} \gamma_t(s) \quad (t < T), \qquad 0
            \quad (t \ge T).

        This is the derivative of the loss as a function of ``log_probs`` (which need not be normalised).
        Targets and lengths get no gradient. Derivation: ``docs/derivations/ctc_loss.md``.

    Conventions:
        PyTorch's values, but not its gradient: ``torch.nn.functional.ctc_loss``'s CPU backward returns
        :math:`\exp(x_t(k)) - \sum_s \gamma_t(s)`, the gradient w.r.t. the logits *through an assumed
        log_softmax* (it adds :math:`\exp(x_t(k))` to the true derivative at every step :math:`t < T`); composed
        with ``log_softmax``, both give the same gradient of the logits. An infinite loss has a NaN gradient (as
        PyTorch); ``zero_infinity=True`` makes that loss and its gradient 0. A target containing the blank, or a
        class outside ``[0, C)``, is an error (PyTorch documents both as invalid and computes a number). An empty
        batch gives an empty ``none``, 0 for ``sum``, NaN for ``mean`` (PyTorch refuses empty tensors). NaN
        propagates to its sample.

    Shapes:
        ``log_probs``: ``(T, N, C)``, or ``(T, C)`` unbatched. ``targets``: ``(N, S)`` padded (entries beyond
        each target length are ignored) or the targets of all samples concatenated, ``(sum(target_lengths),)``;
        unbatched ``(S,)``. ``input_lengths`` and ``target_lengths``: ``(N,)`` integers, or ``()`` unbatched.
        Output: ``(N,)`` (``()`` unbatched) for ``none``, a scalar otherwise.

    Args:
        log_probs: Log-probabilities :math:`x_t(k)` of the classes at each step.
        targets: Integer class indices of the targets, none equal to ``blank``.
        input_lengths: Steps of each sample, in ``[0, T]``.
        target_lengths: Target length of each sample, at least 0 (at most ``S`` for padded targets).
        blank: Class index of the blank (default 0).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.
        zero_infinity: Replace infinite losses and their gradients by 0 (default False).

    Returns:
        The loss in float64.

    References:
        Graves, A., Fernandez, S., Gomez, F., Schmidhuber, J. "Connectionist Temporal Classification: Labelling
        Unsegmented Sequence Data with Recurrent Neural Networks", ICML 2006:
        https://www.cs.toronto.edu/~graves/icml_2006.pdf.
        PyTorch ``torch.nn.functional.ctc_loss``:
        https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.ctc_loss.html

    Examples:
        Two steps, two classes with probability 1/2 each, target (1): the alignments (1, 1), (b, 1) and (1, b)
        have probability 3/4 together.

        >>> x = np.log(np.full((2, 2), 0.5))
        >>> round(float(ctc_loss(x, np.array([1]), np.array(2), np.array(1))), 12)  # -log(3/4)
        0.287682072452
    """
    x, samples, batched, zero_infinity = _prepare(log_probs, targets, input_lengths, target_lengths, blank,
                                                  reduction, zero_infinity)
    losses = [-_log_likelihood(x[:steps, n, :], extended) for n, (steps, extended, _) in enumerate(samples)]
    per_sample = anp.stack(losses) if losses else np.zeros(0)
    if zero_infinity:
        per_sample = anp.where(np.asarray(getval(per_sample)) == np.inf, 0.0, per_sample)
    if reduction == "none":
        return per_sample if batched else per_sample[0]
    if reduction == "sum":
        return anp.sum(per_sample)
    divisors = np.array([max(length, 1) for _, _, length in samples], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return anp.sum(per_sample / divisors) / np.float64(len(samples) or np.nan)  # the mean of nothing is NaN


def ctc_loss_vjp(grad_output: Any, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, *,
                 blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> tuple:
    """Vector-Jacobian product of :func:`ctc_loss` w.r.t. ``(log_probs, targets, input_lengths, target_lengths)``;
    the integer inputs get None.

    ``grad_output`` has the shape of the loss's output. See :func:`ctc_loss`, "Gradient".
    """
    x, samples, batched, zero_infinity = _prepare(log_probs, targets, input_lengths, target_lengths, blank,
                                                  reduction, zero_infinity)
    batch = len(samples)
    g = check_grad_output(grad_output, ((batch,) if batched else ()) if reduction == "none" else ())
    g = np.broadcast_to(g, (batch,)).astype(np.float64)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            g = g / np.array([max(length, 1) for _, _, length in samples], dtype=np.float64) / np.float64(batch)
    grad = np.zeros(x.shape)
    for n, (steps, extended, _) in enumerate(samples):
        slope, log_p = _occupancy(x[:steps, n, :], extended)  # d loss / d x[:steps, n, :] (C5)
        if zero_infinity and log_p == -np.inf:
            continue  # PyTorch: the zeroed loss has a zero gradient
        with np.errstate(invalid="ignore"):
            grad[:steps, n, :] = g[n] * slope
    return (grad if batched else grad[:, 0, :]), None, None, None


# ---- the recursions ---------------------------------------------------------------------------------------------

def _extended(labels: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray]:
    """The target with blanks around and between its labels (C1), and where the skip transition is allowed."""
    extended = np.full(2 * len(labels) + 1, blank, dtype=np.int64)
    extended[1::2] = labels
    skip = np.zeros(len(extended), dtype=bool)
    skip[2:] = (extended[2:] != blank) & (extended[2:] != extended[:-2])
    return extended, skip


def _log_sum_exp(terms: list) -> Any:
    """log(sum(exp(terms))) elementwise, with -inf for an all -inf column and no NaN gradient there.

    The shift (each column's largest finite term) is a constant: the result does not depend on it, so treating
    it as one gives autograd the exact derivative, and an all -inf column shifts by 0 instead of by -inf.
    """
    shift = np.max([np.asarray(getval(t), dtype=np.float64) for t in terms], axis=0)
    shift = np.where(np.isfinite(shift), shift, 0.0)  # (a NaN term propagates through its exp all the same)
    total = sum(anp.exp(t - shift) for t in terms)
    empty = np.asarray(getval(total)) == 0  # every term -inf: the log of 0
    return anp.where(empty, -np.inf, shift + anp.log(anp.where(empty, 1.0, total)))


def _shifted(a: Any, by: int) -> Any:
    """``a`` moved ``by`` places to the right, -inf shifted in: entry s holds state s - by."""
    size = len(getval(a))
    return anp.concatenate([np.full(by, -np.inf), a[:-by]]) if size > by else np.full(size, -np.inf)


def _log_likelihood(x: Any, label_path: tuple[np.ndarray, np.ndarray]) -> Any:
    """log p of one sample (C2, C3): ``x`` its (T, C) log-probabilities, the extended target and its skips."""
    extended, skip = label_path
    steps, states = x.shape[0], len(extended)
    if steps == 0:
        return np.float64(0.0 if states == 1 else -np.inf)  # no steps: only the empty target has an alignment
    start = np.full(states, -np.inf)
    start[:2] = 0.0  # a path starts with the blank or with the first label
    no_skip = np.where(skip, 0.0, -np.inf)
    alpha = x[0, extended] + start
    for t in range(1, steps):
        alpha = x[t, extended] + _log_sum_exp([alpha, _shifted(alpha, 1), _shifted(alpha, 2) + no_skip])
    return _log_sum_exp([alpha[-1], alpha[-2]]) if states > 1 else alpha[-1]  # (C3)


def _occupancy(x: np.ndarray, label_path: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, float]:
    """d(-log p)/dx for one sample (C4, C5), minus the summed occupancy of the states of each class (T, C); and
    log p."""
    extended, skip = label_path
    steps, states = x.shape[0], len(extended)
    grad = np.zeros(x.shape)
    if steps == 0:
        return grad, (0.0 if states == 1 else -np.inf)
    alpha = np.full((steps, states), -np.inf)
    beta = np.full((steps, states), -np.inf)  # c_t(s): excludes step t's own emission
    no_skip = np.where(skip, 0.0, -np.inf)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        alpha[0, :2] = x[0, extended[:2]]
        for t in range(1, steps):
            previous = alpha[t - 1]
            alpha[t] = x[t, extended] + _lse3(previous, _shifted(previous, 1), _shifted(previous, 2) + no_skip)
        beta[-1, -2:] = 0.0
        skip_from = np.append(no_skip[2:], [-np.inf, -np.inf])[:states]  # whether state s + 2 may follow state s
        for t in range(steps - 2, -1, -1):
            ahead = x[t + 1, extended] + beta[t + 1]
            beta[t] = _lse3(ahead, _left(ahead, 1), _left(ahead, 2) + skip_from)
        log_p = np.logaddexp(alpha[-1, -1], alpha[-1, -2]) if states > 1 else alpha[-1, -1]
        gamma = np.exp(alpha + beta - log_p)
        if np.isnan(log_p) or log_p == -np.inf:
            gamma = np.full_like(gamma, np.nan)  # an infinite (or NaN) loss: no derivative (PyTorch: NaN)
        np.add.at(grad.T, extended, -gamma.T)  # (C5): sum over the states of each class
    return grad, log_p


def _lse3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """log(e^a + e^b + e^c), shifted by the largest finite term (-inf where all three are -inf)."""
    top = np.maximum(np.maximum(a, b), c)
    shift = np.where(np.isfinite(top), top, 0.0)
    total = np.exp(a - shift) + np.exp(b - shift) + np.exp(c - shift)
    return shift + np.log(total)


def _left(a: np.ndarray, by: int) -> np.ndarray:
    """``a`` moved ``by`` places to the left, -inf shifted in: entry s holds state s + by."""
    return np.concatenate([a[by:], np.full(by, -np.inf)]) if len(a) > by else np.full(len(a), -np.inf)


# ---- validation -------------------------------------------------------------------------------------------------

def _integers(value: Any, name: str) -> np.ndarray:
    array = as_array(value, name)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an array of integers, got dtype {array.dtype}")
    return array.astype(np.int64)


def _prepare(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, blank: Any, reduction: Any,
             zero_infinity: Any) -> tuple:
    """(log_probs as (T, N, C), [(input length, extended target and skips, target length) per sample], batched,
    zero_infinity), or an error naming the argument."""
    x = as_real_array(log_probs, "log_probs")
    check_reduction(reduction)
    shape = shape_of(x)
    if len(shape) not in (2, 3):
        raise ValueError(f"log_probs must have shape (T, N, C) or (T, C), got {shape}")
    batched = len(shape) == 3
    if not batched:
        x = x[:, None, :]
    steps, batch, classes = shape_of(x)
    if isinstance(blank, (bool, np.bool_)) or not isinstance(blank, (int, np.integer)) or not 0 <= blank < classes:
        raise ValueError(f"blank must be in [0, C) = [0, {classes}) (an integer class index), got {blank!r}")
    zero_infinity = ZERO_INFINITY.check(zero_infinity)
    labels = _integers(targets, "targets")
    input_lengths, target_lengths = _integers(input_lengths, "input_lengths"), _integers(target_lengths,
                                                                                         "target_lengths")
    lengths_shape = (batch,) if batched else ()
    for name, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if lengths.shape != lengths_shape:
            raise ValueError(f"{name} must have shape {lengths_shape} (one length per sample of log_probs {shape}), "
                             f"got {lengths.shape}")
    input_lengths, target_lengths = input_lengths.reshape(batch), target_lengths.reshape(batch)
    if np.any((input_lengths < 0) | (input_lengths > steps)):
        bad = input_lengths[(input_lengths < 0) | (input_lengths > steps)][0]
        raise ValueError(f"input_lengths must be in [0, T] = [0, {steps}] (T: the steps of log_probs), got {int(bad)}")
    if np.any(target_lengths < 0):
        raise ValueError(f"target_lengths must be in [0, inf), got {int(target_lengths[target_lengths < 0][0])}")
    sequences = _target_sequences(labels, target_lengths, batched, batch)
    samples = []
    for n, sequence in enumerate(sequences):
        invalid = (sequence < 0) | (sequence >= classes) | (sequence == blank)
        if np.any(invalid):
            raise ValueError(f"target class indices must be in [0, C) = [0, {classes}) and not the blank ({blank}), "
                             f"got {int(sequence[invalid][0])} in targets (the target of sample {n})")
        samples.append((int(input_lengths[n]), _extended(sequence, int(blank)), len(sequence)))
    return x, samples, batched, bool(zero_infinity)


def _target_sequences(labels: np.ndarray, target_lengths: np.ndarray, batched: bool, batch: int) -> list:
    """Each sample's target: a row of padded (N, S) targets cut to its length, or a slice of concatenated ones."""
    if labels.ndim == 2 and batched:
        if labels.shape[0] != batch:
            raise ValueError(f"padded targets must have shape (N, S) with N = {batch} (the batch of log_probs), got "
                             f"{labels.shape}")
        if np.any(target_lengths > labels.shape[1]):
            raise ValueError(f"target_lengths must be in [0, S] = [0, {labels.shape[1]}] (S: the columns of padded "
                             f"targets), got {int(target_lengths.max())}")
        return [labels[n, :length] for n, length in enumerate(target_lengths)]
    if labels.ndim != 1:
        expected = "(N, S) or (sum(target_lengths),)" if batched else "(S,)"
        raise ValueError(f"targets must have shape {expected}, got {labels.shape}")
    if not batched:
        if target_lengths[0] > labels.shape[0]:
            raise ValueError(f"target_lengths must be in [0, S] = [0, {labels.shape[0]}] (S: the length of targets), "
                             f"got {int(target_lengths[0])}")
        return [labels[:target_lengths[0]]]
    if int(np.sum(target_lengths)) != labels.shape[0]:
        raise ValueError(f"concatenated targets must have shape (sum(target_lengths),) = "
                         f"({int(np.sum(target_lengths))},), got {labels.shape}")
    ends = np.cumsum(target_lengths)
    return [labels[end - length:end] for end, length in zip(ends, target_lengths)]


# ---- registry ---------------------------------------------------------------------------------------------------

def draw_inputs(rng: np.random.Generator, leading_shape: tuple[int, ...]) -> tuple:
    """Random valid inputs: ``leading_shape`` () for an unbatched call, else a batch of prod(leading_shape)
    samples; up to 4 steps and 3 classes (blank 0), padded targets whose lengths always fit their inputs."""
    unbatched = leading_shape == ()
    batch = 1 if unbatched else int(np.prod(leading_shape))
    steps, classes = int(rng.integers(1, 5)), int(rng.integers(2, 4))
    x = rng.uniform(-3.0, 0.0, size=(steps, batch, classes))
    input_lengths = rng.integers(1, steps + 1, size=batch)
    target_lengths = np.array([rng.integers(0, (length + 1) // 2 + 1) for length in input_lengths], dtype=np.int64)
    targets = rng.integers(1, classes, size=(batch, max(int(target_lengths.max(initial=0)), 1)))
    if unbatched:
        return x[:, 0, :], targets[0], input_lengths[0], target_lengths[0]
    return x, targets, input_lengths, target_lengths


register(LossSpec(
    name="ctc_loss",
    family="sequence",
    forward=ctc_loss,
    vjp=ctc_loss_vjp,
    inputs=(Input("log_probs", "log-probabilities (T, N, C)", shape=("T", "N", "C"),
                  sample=Interval(-3.0, 0.0, True, True)),
            Input("targets", "padded class indices (N, S), none the blank", shape=("N", "S"), kind="int",
                  classes="C", differentiable=False),
            Input("input_lengths", "steps of each sample (N,)", shape=("N",), kind="int", classes="T",
                  differentiable=False),
            Input("target_lengths", "target length of each sample (N,)", shape=("N",), kind="int", classes="S",
                  differentiable=False)),
    params=(BLANK, ZERO_INFINITY),
    smoothness="smooth (a log-sum-exp of sums of log_probs) where finite",
    references=(
        Reference("Graves, Fernandez, Gomez, Schmidhuber. Connectionist Temporal Classification: Labelling "
                  "Unsegmented Sequence Data with Recurrent Neural Networks. ICML 2006",
                  "https://www.cs.toronto.edu/~graves/icml_2006.pdf"),
        Reference("PyTorch, torch.nn.functional.ctc_loss",
                  "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.ctc_loss.html"),
    ),
    equivalents=(Equivalent("torch", "torch.nn.functional.ctc_loss",
                            "same values; PyTorch's gradient w.r.t. log_probs is exp(log_probs) - occupancy (the "
                            "gradient through an assumed log_softmax), refloss's the true derivative -occupancy: "
                            "they differ by exp(log_probs) at every step t < input_length and agree once composed "
                            "with log_softmax. PyTorch refuses empty log_probs (refloss: mean NaN, sum 0) and "
                            "computes a number for a target holding the blank or an out-of-range class (refloss: "
                            "error)."),),
    unreduced_shape=lambda shape: shape[1:2] if len(shape) == 3 else (),
    draw_inputs=draw_inputs,
))
