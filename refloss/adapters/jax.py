"""The ``jax`` adapter: a registered loss's optax equivalent, gradients through ``jax.vjp``.

optax losses are elementwise and take no ``reduction``: the adapter applies ``mean``/``sum`` with
``jnp.mean``/``jnp.sum``. Tests that need a parameter the optax function lacks (``weight``, ``pos_weight``) or an
unknown reduction are skipped: optax cannot express them. So are the checks of default parameters: optax has no
reduction argument, and its defaults differ from PyTorch's by design, so the adapter passes every parameter.
Computation happens in the requested dtype; float64 turns on ``jax_enable_x64``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np

from refloss._registry import REGISTRY, get
from refloss.adapters.base import Adapter, Rejected, Result, Unsupported, wanted_gradients

__all__ = ["JaxAdapter", "available"]


def available() -> bool:
    try:
        import jax  # noqa: F401
        import optax  # noqa: F401
    except ImportError:
        return False
    return True


def _optax_function(loss: str) -> Any:
    for equivalent in get(loss).equivalents:
        if equivalent.framework == "optax":
            module, _, attribute = equivalent.call.rpartition(".")
            return getattr(importlib.import_module(module), attribute)
    raise KeyError(loss)


# refloss/torchvision disable focal alpha with a negative value; optax with None.
_TRANSLATE = {
    "sigmoid_focal_loss": lambda p: {**p, "alpha": None if p["alpha"] is None or p["alpha"] < 0 else p["alpha"]},
}


class JaxAdapter(Adapter):
    name = "jax"
    dtypes = ("float64", "float32", "bfloat16", "float16")

    def __init__(self) -> None:
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 is requested explicitly per test
        import jax.numpy as jnp
        import optax

        self.jax, self.jnp, self.optax = jax, jnp, optax

    def supports(self, loss: str) -> bool:
        return loss in REGISTRY and any(e.framework == "optax" for e in get(loss).equivalents)

    def run(self, loss, inputs, params, reduction, cotangent, dtype, *, value=True, grads=None) -> Result:
        jax, jnp = self.jax, self.jnp
        if reduction is None:
            raise Unsupported("optax losses take no reduction (the adapter applies it) and the adapter passes every "
                              "parameter explicitly (optax's defaults differ from PyTorch's by design): no defaults "
                              "to check")
        if reduction not in ("none", "mean", "sum"):
            raise Unsupported("optax losses take no reduction argument: the adapter applies it")
        function = _optax_function(loss)
        # optax's defaults can differ from refloss's (sigmoid_focal_loss: alpha=None there, 0.25 here), so every
        # scalar parameter is passed explicitly, translated where the conventions differ.
        defaults = {p.name: p.default for p in get(loss).params if p.kind == "scalar"}
        params = _TRANSLATE.get(loss, lambda p: p)({**defaults, **params})
        accepted = inspect.signature(function).parameters
        missing = [name for name in params if name not in accepted]
        if missing:
            raise Unsupported(f"{function.__module__}.{function.__name__} has no parameter {', '.join(missing)}")
        names = [i.name for i in get(loss).inputs]
        wanted = wanted_gradients(loss, grads, inputs)
        # class indices stay integers (optax indexes with them); real inputs take the requested dtype
        arrays = [jnp.asarray(inputs[n]) if inputs[n].dtype.kind in "iu" else jnp.asarray(inputs[n], dtype=dtype)
                  for n in names]

        def reduced(*args: Any) -> Any:
            elementwise = function(*args, **params)
            return {"none": lambda v: v, "mean": jnp.mean, "sum": jnp.sum}[reduction](elementwise)

        # jax.vjp runs the forward too: a VJP-only call is validated by the forward, as in any JAX program.
        try:
            if not wanted:
                return Result(_numpy(reduced(*arrays)), {})
            loss_value, vjp = jax.vjp(reduced, *arrays)
        except (ValueError, TypeError) as error:
            raise Rejected(None, f"{type(error).__name__}: {error}") from error
        # the cotangent in the output's dtype: a loss may promote (optax's multiclass_hinge_loss returns float64
        # for float32 scores under x64, through its integer labels), and jax.vjp refuses any other dtype
        computed = dict(zip(names, vjp(jnp.asarray(cotangent, dtype=loss_value.dtype))))
        return Result(_numpy(loss_value) if value else None, {n: _numpy(computed[n]) for n in wanted})

    def describe(self) -> str:
        return f"jax {self.jax.__version__}, optax {self.optax.__version__} (CPU)"


def _numpy(array: Any) -> np.ndarray:
    return np.asarray(array.astype("float64") if hasattr(array, "astype") else array, dtype=np.float64)
