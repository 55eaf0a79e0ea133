"""Check your own loss functions against the golden vectors from inside a pytest suite::

    import pytest
    from refloss.testing import conformance_vectors, assert_conforms

    @pytest.mark.parametrize("vector", conformance_vectors("mse_loss"), ids=str)
    def test_my_mse(vector):
        assert_conforms(vector, my_mse, my_mse_vjp, dtype="float32")

``my_mse(input, target, *, reduction, **params)`` and ``my_mse_vjp(grad_output, input, target, *, reduction,
**params)`` follow refloss's calling convention (see :mod:`refloss.adapters.module`); raising ``ValueError`` or
``TypeError`` is how an ``invalid`` vector is passed.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Callable

from refloss.adapters.module import ModuleAdapter
from refloss.conformance.check import DEFAULT_DIRECTORY, Outcome, VectorTest, load_tests, run_test

__all__ = ["assert_conforms", "conformance_vectors"]


def conformance_vectors(*losses: str, directory: Path = DEFAULT_DIRECTORY) -> list[VectorTest]:
    """Every golden vector of the named losses (all losses if none is named)."""
    return load_tests(directory, losses or None)


def assert_conforms(vector: VectorTest, forward: Callable[..., Any], vjp: Callable[..., tuple],
                    dtype: str = "float64") -> Outcome:
    """Run ``forward``/``vjp`` on one vector; raise AssertionError with the first mismatch if it fails.

    A vector whose group does not include ``dtype`` is skipped (returns an outcome with status "skip").
    """
    if dtype not in vector.dtypes:
        return Outcome(vector.uid, vector.loss, vector.file, vector.data["name"], dtype, "skip")
    module = types.ModuleType(f"assert_conforms_{vector.loss}")
    module.LOSSES = {vector.loss: (forward, vjp)}
    module.DTYPES = (dtype,)
    outcome = run_test(ModuleAdapter(module), vector, dtype)
    if outcome.failed:
        raise AssertionError(f"{vector} [{dtype}]: {outcome.message}")
    return outcome
