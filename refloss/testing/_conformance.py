"""Check your own loss functions against the golden vectors from inside a pytest suite::

    import pytest
    from refloss.testing import conformance_vectors, assert_conforms

    @pytest.mark.parametrize("vector", conformance_vectors("mse_loss"), ids=str)
    def test_my_mse(vector):
        assert_conforms(vector, my_mse, my_mse_vjp, dtype="float32")

``my_mse(input, target, *, reduction="mean", **params)`` and ``my_mse_vjp(grad_output, input, target, *,
reduction="mean", **params)`` follow refloss's calling convention (see :mod:`refloss.adapters.module`): raising
``ValueError`` or ``TypeError`` is how an ``invalid`` vector is passed (the forward and the VJP must each raise),
and an exception with a ``category`` attribute has that category checked too. A vector whose group does not hold
``dtype`` (float64-only vectors of huge, tiny or subnormal values, under ``dtype="float32"``) is a pytest skip.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Callable

from refloss._registry import REGISTRY, unknown_name_message
from refloss.adapters.module import _NUMPY_DTYPES, ModuleAdapter
from refloss.conformance.check import DEFAULT_DIRECTORY, Outcome, VectorTest, load_tests, run_test

__all__ = ["assert_conforms", "conformance_vectors"]


def conformance_vectors(*losses: str, directory: Path = DEFAULT_DIRECTORY) -> list[VectorTest]:
    """Every golden vector of the named losses (all losses if none is named).

    Raises:
        ValueError: a name that is not a registered loss (with the closest names), or a loss without vectors in
            ``directory``.
    """
    for loss in losses:
        if loss not in REGISTRY:
            raise ValueError(unknown_name_message(loss))
    tests = load_tests(Path(directory), losses or None)
    missing = [loss for loss in losses if not any(t.loss == loss for t in tests)]
    if missing or not tests:
        raise ValueError(f"no conformance vectors for {', '.join(missing) or 'any loss'} in {directory}")
    return tests


def assert_conforms(vector: VectorTest, forward: Callable[..., Any], vjp: Callable[..., tuple],
                    dtype: str = "float64") -> Outcome:
    """Run ``forward``/``vjp`` on one vector; raise AssertionError with the first mismatch if it fails.

    If the vector checks the default reduction (it sets only ``reduction``, to the file's default), the pair is
    also called without ``reduction`` and must give the same result; that check is left out when the functions
    have no default for ``reduction``. Returns the outcome (status ``invalid-unchecked`` when an ``invalid``
    vector was rejected by an exception without a ``category`` attribute).

    Raises:
        AssertionError: the implementation does not conform.
        ValueError: ``dtype`` is not one NumPy can compute in (float64, float32, float16).
        pytest.skip.Exception: the vector's group does not hold ``dtype``.
    """
    if dtype not in _NUMPY_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_NUMPY_DTYPES)} (NumPy dtypes the vectors cover); got "
                         f"{dtype!r}")
    if dtype not in vector.dtypes:
        import pytest  # only here: refloss does not depend on pytest

        pytest.skip(f"{vector} holds values exact in {', '.join(vector.dtypes)} only, not in {dtype}")
    module = types.ModuleType(f"assert_conforms_{vector.loss}")
    module.LOSSES = {vector.loss: (forward, vjp)}
    module.DTYPES = (dtype,)
    adapter = ModuleAdapter(module)
    outcome = run_test(adapter, vector, dtype)
    if outcome.failed:
        raise AssertionError(f"{vector} [{dtype}]: {outcome.message}")
    if vector.checks_defaults:
        defaults = run_test(adapter, vector, dtype, defaults=True)
        if defaults.failed:
            raise AssertionError(f"{vector} [{dtype}] called without reduction: {defaults.message}")
    return outcome
