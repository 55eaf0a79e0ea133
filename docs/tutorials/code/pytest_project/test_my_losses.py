"""Pin my_losses.huber_loss down with refloss: the golden vectors, and random cases against the reference."""

import numpy as np
import pytest

from refloss.testing import assert_conforms, assert_matches_reference, assert_vjp_matches_finite_differences
from refloss.testing import conformance_vectors, sample_case

from my_losses import huber_loss, huber_loss_vjp

# The vectors hold NaN, infinities, overflow and empty means on purpose: NumPy's warnings about them are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# Every golden vector of huber_loss, in each dtype the project computes in. A float64-only vector (huge, tiny,
# subnormal values) is skipped under float32, with a reason.
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("vector", conformance_vectors("huber_loss"), ids=str)
def test_huber_conforms(vector, dtype):
    assert_conforms(vector, huber_loss, huber_loss_vjp, dtype=dtype)


# Random cases away from the kink: the value and both gradients against refloss's, and the VJP against central
# finite differences of our own forward (which catches a VJP that does not match its forward).
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_huber_matches_reference(reduction):
    rng = np.random.default_rng(0)
    case = sample_case("huber_loss", rng, leading_shape=(16,), reduction=reduction, params={"delta": 0.5})
    assert_matches_reference("huber_loss", case, forward=huber_loss, vjp=huber_loss_vjp)
    assert_vjp_matches_finite_differences("huber_loss", case, forward=huber_loss, vjp=huber_loss_vjp)
