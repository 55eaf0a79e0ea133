"""The ``module:NAME`` adapter: validate your own Python functions against the vectors.

The module ``NAME`` (importable from the current directory or ``sys.path``, e.g. ``mylosses`` or
``mypackage.losses``) defines::

    LOSSES = {"mse_loss": (my_mse, my_mse_vjp), ...}   # refloss's calling convention, see below
    DTYPES = ("float64", "float32")                      # optional; default ("float64",)

Each forward is called as ``forward(*inputs, reduction=..., **params)`` and each VJP as
``vjp(grad_output, *inputs, reduction=..., **params)``, returning one gradient per positional input (in the
order of the vector file's ``function.inputs``; ``None`` for an input without one), exactly like
``refloss.<name>`` and ``refloss.<name>_vjp``. Inputs arrive as NumPy arrays of the dtype under test (float64,
float32 or float16; class indices as int64); scalar parameters as Python floats (ints for ``ignore_index`` and
``p``), ``weight`` as an array of that dtype. Parameters a test does not set are not passed, so your defaults
apply; the validator also calls your functions *without* ``reduction`` to check that your default reduction is
the vector file's ``defaultReduction`` (PyTorch's). If your functions have no default for ``reduction`` those
checks are skipped.

Raising ``ValueError`` or ``TypeError`` rejects a call. To have the error's category checked against the
vector's ``error.category``, give the exception a ``category`` attribute holding one of
``refloss.conformance.errors.CATEGORIES`` (``"shape_mismatch"``, ``"invalid_parameter"``, ...); an exception of
any class with such an attribute counts as a rejection. Without it the category goes unchecked, and the report
says so.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import types
from typing import Any

import numpy as np

from refloss._registry import REGISTRY, unknown_name_message
from refloss.adapters.base import Adapter, Rejected, Result, Unsupported, wanted_gradients
from refloss.adapters.reference import call_registered

__all__ = ["ModuleAdapter"]

_NUMPY_DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}


def _import(name: str) -> types.ModuleType:
    """Import ``name`` with the current directory on sys.path, as ``python -m`` would have it."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(f"module:{name}: cannot import {name!r} ({type(error).__name__}: {error}); it is looked "
                          f"for in the current directory ({here}) and on sys.path") from error


def _rejection(error: BaseException) -> Rejected | None:
    """A ValueError/TypeError, or any exception with a string ``category`` attribute, rejects the call."""
    category = getattr(error, "category", None)
    if not isinstance(category, str):
        category = None
        if not isinstance(error, (ValueError, TypeError)):
            return None
    return Rejected(category, f"{type(error).__name__}: {error}")


def _requires_reduction(function: Any) -> bool:
    """Whether ``function`` declares a ``reduction`` parameter without a default (so it has no default to check)."""
    try:
        parameter = inspect.signature(function).parameters.get("reduction")
    except (TypeError, ValueError):  # no signature to read (a builtin): assume it has a default
        return False
    return parameter is not None and parameter.default is inspect.Parameter.empty


class ModuleAdapter(Adapter):
    def __init__(self, module: str | types.ModuleType):
        self.module = _import(module) if isinstance(module, str) else module
        self.name = f"module:{self.module.__name__}"
        if not hasattr(self.module, "LOSSES"):
            raise ValueError(f"{self.name} defines no LOSSES; it must define LOSSES = {{loss name: (forward, vjp)}}, "
                             f"e.g. LOSSES = {{'mse_loss': (my_mse, my_mse_vjp)}}")
        losses = self.module.LOSSES
        if not isinstance(losses, dict):
            raise ValueError(f"{self.name}: LOSSES must be a dict {{loss name: (forward, vjp)}}; got "
                             f"{type(losses).__name__}")
        for loss, pair in losses.items():
            if loss not in REGISTRY:
                raise ValueError(f"{self.name}: LOSSES has {unknown_name_message(loss)}")
            # (a function without a gradient, NMS, has vjp None)
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and callable(pair[0])
                    and (pair[1] is None or callable(pair[1]))):
                raise ValueError(f"{self.name}: LOSSES[{loss!r}] must be a (forward, vjp) pair of callables; got "
                                 f"{pair!r}")
        self.losses: dict[str, tuple[Any, Any]] = {loss: tuple(pair) for loss, pair in losses.items()}
        self.dtypes = tuple(getattr(self.module, "DTYPES", ("float64",)))
        unsupported = [d for d in self.dtypes if d not in _NUMPY_DTYPES]
        if unsupported:
            raise ValueError(f"{self.name}: DTYPES may hold {', '.join(_NUMPY_DTYPES)}; got {unsupported}")

    def supports(self, loss: str) -> bool:
        return loss in self.losses

    def run(self, loss, inputs, params, reduction, cotangent, dtype, *, value=True, grads=None) -> Result:
        forward, vjp = self.losses[loss]
        wanted = wanted_gradients(loss, grads, inputs)
        if reduction is None:
            required = [f"{label} {getattr(f, '__name__', f)!r}" for label, f, used in
                        (("forward", forward, value), ("VJP", vjp, bool(wanted))) if used and _requires_reduction(f)]
            if required:
                raise Unsupported(f"{' and '.join(required)} has no default for reduction: defaults not checked")
        cast = _NUMPY_DTYPES[dtype]
        typed = {n: a if a.dtype.kind == "i" else np.asarray(a, dtype=cast) for n, a in inputs.items()}
        kwargs = {k: np.asarray(v, dtype=cast) if isinstance(v, np.ndarray) else v for k, v in params.items()}
        return call_registered(loss, forward, vjp, typed, kwargs, reduction, np.asarray(cotangent, dtype=cast),
                               value=value, grads=wanted, reject=_rejection)
