"""Tools to check loss implementations, yours or refloss's, from any pytest suite.

Check YOUR forward and VJP of a loss refloss has: against refloss's value and gradients on the same case, and
against central finite differences of your own forward. Your functions take refloss's arguments (the positional
inputs, then ``reduction=`` and the loss's parameters as keywords; the VJP takes ``grad_output`` first and returns
one gradient per input):

>>> import numpy as np
>>> from refloss.testing import sample_case, assert_matches_reference, assert_vjp_matches_finite_differences
>>> def my_huber(input, target, *, reduction="mean", delta=1.0):
...     d = np.asarray(input) - np.asarray(target)
...     loss = np.where(np.abs(d) < delta, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta))
...     return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]
>>> def my_huber_vjp(grad_output, input, target, *, reduction="mean", delta=1.0):
...     d = np.asarray(input) - np.asarray(target)
...     g = grad_output / d.size if reduction == "mean" else grad_output
...     return g * np.clip(d, -delta, delta), -g * np.clip(d, -delta, delta)
>>> case = sample_case("huber_loss", np.random.default_rng(0), leading_shape=(4,), params={"delta": 0.5})
>>> assert_matches_reference("huber_loss", case, forward=my_huber, vjp=my_huber_vjp) < 1e-12
True
>>> assert_vjp_matches_finite_differences("huber_loss", case, forward=my_huber, vjp=my_huber_vjp) < 1e-6
True

A failure names the function, each value or gradient that differs, by how much and where, and the case:

>>> def forgot_the_mean(grad_output, input, target, *, reduction="mean", delta=1.0):
...     d = np.asarray(input) - np.asarray(target)
...     return grad_output * np.clip(d, -delta, delta), -grad_output * np.clip(d, -delta, delta)
>>> assert_matches_reference("huber_loss", case, vjp=forgot_the_mean)  # doctest: +ELLIPSIS
Traceback (most recent call last):
AssertionError: forgot_the_mean differs from refloss.huber_loss by 0.264 (> 1e-10) for shapes (4,), (4,), ...
  gradient w.r.t. input: error 0.264; got 0.35186..., expected 0.08796... at index (0,)
  gradient w.r.t. target: error 0.264; ...
case of huber_loss: shapes (4,), (4,), reduction=mean, delta=0.5
    input = [0.8217701239287258, ...]
    target = [1.879621435201635, ...]
    grad_output = -0.7037352358069926
(error = max |got - expected| / max(1, max |expected|))

Without ``forward=`` and ``vjp=`` the checks verify refloss's own VJP, which ``refloss gradcheck`` does for
every loss:

>>> from refloss.testing import assert_vjp_matches_autograd
>>> assert_vjp_matches_autograd("huber_loss", case) < 1e-12
True

``assert_vjp_matches_autograd`` also takes ``forward=`` and ``vjp=``; it needs a forward written with
``autograd.numpy``. Cases come from :func:`sample_case` (kept away from kinks, where difference quotients are
meaningless) or are written by hand as ``Case(inputs, params, reduction, grad_output)``.

Golden vectors: ``conformance_vectors(*losses)`` and ``assert_conforms(vector, forward, vjp, dtype)`` check your
own implementation against the conformance suite (see :mod:`refloss.testing._conformance`).

Hypothesis strategies that draw valid cases for any registered loss live in :mod:`refloss.testing.strategies`
(they need the ``test`` extra).
"""

from refloss.testing._conformance import assert_conforms
from refloss.testing._conformance import conformance_vectors
from refloss.testing._gradients import AUTOGRAD_TOLERANCE
from refloss.testing._gradients import FINITE_DIFFERENCE_TOLERANCE
from refloss.testing._gradients import REFERENCE_TOLERANCE
from refloss.testing._gradients import Case
from refloss.testing._gradients import assert_matches_reference
from refloss.testing._gradients import assert_vjp_matches_autograd
from refloss.testing._gradients import assert_vjp_matches_finite_differences
from refloss.testing._gradients import autograd_vjp
from refloss.testing._gradients import differentiated_inputs
from refloss.testing._gradients import finite_difference_vjp
from refloss.testing._gradients import kink_distance
from refloss.testing._gradients import relative_error
from refloss.testing._gradients import sample_case
from refloss.testing._gradients import standard_cases

__all__ = [
    "AUTOGRAD_TOLERANCE",
    "assert_conforms",
    "conformance_vectors",
    "FINITE_DIFFERENCE_TOLERANCE",
    "REFERENCE_TOLERANCE",
    "Case",
    "assert_matches_reference",
    "assert_vjp_matches_autograd",
    "assert_vjp_matches_finite_differences",
    "autograd_vjp",
    "differentiated_inputs",
    "finite_difference_vjp",
    "kink_distance",
    "relative_error",
    "sample_case",
    "standard_cases",
]
