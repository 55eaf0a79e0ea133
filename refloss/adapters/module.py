"""The ``module:NAME`` adapter: validate your own Python functions against the vectors.

The module ``NAME`` (importable, e.g. ``mypackage.losses``) defines::

    LOSSES = {"mse_loss": (my_mse, my_mse_vjp), ...}   # refloss's calling convention, see below
    DTYPES = ("float64", "float32")                      # optional; default ("float64",)

Each forward is called as ``forward(*inputs, reduction=..., **params)`` and each VJP as
``vjp(grad_output, *inputs, reduction=..., **params)``, returning one gradient per positional input (in the
order of the vector file's ``function.inputs``), exactly like ``refloss.<name>`` and ``refloss.<name>_vjp``.
Inputs arrive as NumPy arrays of the dtype under test (float64, float32 or float16); scalar parameters as Python
floats, ``weight`` as an array of that dtype. Raising ``ValueError`` or ``TypeError`` rejects a call.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

import numpy as np

from refloss._registry import get
from refloss.adapters.base import Adapter, Rejected, Result

__all__ = ["ModuleAdapter"]

_NUMPY_DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}


class ModuleAdapter(Adapter):
    def __init__(self, module: str | types.ModuleType):
        self.module = importlib.import_module(module) if isinstance(module, str) else module
        self.name = f"module:{self.module.__name__}"
        self.losses: dict[str, tuple[Any, Any]] = dict(getattr(self.module, "LOSSES"))
        self.dtypes = tuple(getattr(self.module, "DTYPES", ("float64",)))
        unsupported = [d for d in self.dtypes if d not in _NUMPY_DTYPES]
        if unsupported:
            raise ValueError(f"{self.name}: DTYPES may hold {', '.join(_NUMPY_DTYPES)}; got {unsupported}")

    def supports(self, loss: str) -> bool:
        return loss in self.losses

    def run(self, loss, inputs, params, reduction, cotangent, dtype) -> Result:
        forward, vjp = self.losses[loss]
        cast = _NUMPY_DTYPES[dtype]
        spec = get(loss)
        names = [i.name for i in spec.inputs]
        positional = [inputs[n] if inputs[n].dtype.kind == "i" else np.asarray(inputs[n], dtype=cast) for n in names]
        kwargs = {k: np.asarray(v, dtype=cast) if isinstance(v, np.ndarray) else v for k, v in params.items()}
        try:
            value = forward(*positional, reduction=reduction, **kwargs)
            grads = vjp(np.asarray(cotangent, dtype=cast), *positional, reduction=reduction, **kwargs)
        except (ValueError, TypeError) as error:
            raise Rejected(None, f"{type(error).__name__}: {error}") from error
        by_name = dict(zip(names, grads))
        return Result(np.asarray(value, dtype=np.float64),
                      {i.name: None if by_name.get(i.name) is None else np.asarray(by_name[i.name], np.float64)
                       for i in spec.inputs if i.name in spec.differentiable_names(inputs)})
