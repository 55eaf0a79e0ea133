"""Tools to verify loss gradients, usable from any pytest suite.

>>> import numpy as np
>>> from refloss.testing import sample_case, assert_vjp_matches_autograd, assert_vjp_matches_finite_differences
>>> case = sample_case("huber_loss", np.random.default_rng(0), leading_shape=(4,), params={"delta": 0.5})
>>> assert_vjp_matches_autograd("huber_loss", case) < 1e-12
True
>>> assert_vjp_matches_finite_differences("huber_loss", case) < 1e-6
True

Golden vectors: ``conformance_vectors(*losses)`` and ``assert_conforms(vector, forward, vjp, dtype)`` check your
own implementation against the conformance suite (see :mod:`refloss.testing._conformance`).

Hypothesis strategies that draw valid cases for any registered loss live in :mod:`refloss.testing.strategies`
(they need the ``test`` extra).
"""

from refloss.testing._conformance import assert_conforms
from refloss.testing._conformance import conformance_vectors
from refloss.testing._gradients import AUTOGRAD_TOLERANCE
from refloss.testing._gradients import FINITE_DIFFERENCE_TOLERANCE
from refloss.testing._gradients import Case
from refloss.testing._gradients import assert_vjp_matches_autograd
from refloss.testing._gradients import assert_vjp_matches_finite_differences
from refloss.testing._gradients import autograd_vjp
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
    "Case",
    "assert_vjp_matches_autograd",
    "assert_vjp_matches_finite_differences",
    "autograd_vjp",
    "finite_difference_vjp",
    "kink_distance",
    "relative_error",
    "sample_case",
    "standard_cases",
]
