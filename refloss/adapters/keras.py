"""The ``keras`` adapter: a registered loss's Keras 3 equivalent on the JAX backend, gradients through ``jax.vjp``.

The equivalent is the ``Equivalent("keras", ...)`` entry of the loss's registry record: a function or a loss class
of ``keras.losses``, optionally with keyword settings written as a call (``keras.losses.Huber``,
``keras.losses.binary_crossentropy(from_logits=False)``, ``keras.losses.BinaryCrossentropy()``). Keras takes
``(y_true, y_pred)``, refloss ``(input, target)``: the adapter swaps them. A loss class is built with
``reduction=None`` and ``dtype`` set to the requested dtype (a Keras loss class otherwise casts both arguments to
floatx, float32).

Keras averages over the last axis before any reduction. For an elementwise refloss loss the adapter appends an
axis of length 1 to both inputs, so that Keras's mean over it is each element's own loss, and then applies
refloss's ``none``/``mean``/``sum`` with ``jnp``. A loss whose ``none`` output drops the class axis (cross-entropy)
is called as it is, for inputs of at most two dimensions (refloss's class axis is dim 1, Keras's the last).

Skipped (``Unsupported``), as the ``jax`` adapter skips them: the checks of default parameters (Keras's defaults
are not PyTorch's), tests of a parameter the Keras callable lacks (``weight``, ``pos_weight``; ``epsilon`` is set
through ``keras.config.set_epsilon``, Keras's own mechanism), and unknown reductions. Computation happens in the
requested dtype: float32, bfloat16 or float16. Not float64: Keras 3.15.1 averages float64 tensors in float32
(``keras.ops.mean`` computes in ``result_type(dtype, "float32")``, which Keras's promotion makes float32 for
float64: the mean of ``[1/3]`` in float64 is off by 9.9e-9, measured), and every Keras loss ends with that mean
over the last axis, so a float64 comparison would only show float32 rounding. Keras needs ``KERAS_BACKEND=jax``
(set here when Keras is not imported yet).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
from typing import Any

import numpy as np

from refloss._registry import REGISTRY, get
from refloss.adapters.base import Adapter, Rejected, Result, Unsupported, wanted_gradients

__all__ = ["KerasAdapter", "available", "keras_callable"]


def _import_keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    return keras


def available() -> bool:
    """Whether Keras 3 and JAX are installed and Keras runs (or can run) on the JAX backend."""
    try:
        import jax  # noqa: F401
        keras = _import_keras()
    except ImportError:
        return False
    return keras.backend.backend() == "jax"


def _equivalent(loss: str) -> Any | None:
    return next((e for e in get(loss).equivalents if e.framework == "keras"), None)


def _parse(call: str) -> tuple[str, dict[str, Any]]:
    """``"keras.losses.X(a=1)"`` -> ``("keras.losses.X", {"a": 1})``; a bare dotted path has no settings."""
    node = ast.parse(call, mode="eval").body
    settings = {}
    if isinstance(node, ast.Call):
        settings = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        node = node.func
    return ast.unparse(node), settings


def keras_callable(loss: str) -> tuple[Any, dict[str, Any]]:
    """The Keras function or loss class registered as ``loss``'s equivalent, and the settings its call names."""
    path, settings = _parse(_equivalent(loss).call)
    module, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module), attribute), settings


# Where refloss's inputs or defaults mean something else in Keras: softmax_focal_loss takes logits (Keras's
# categorical_focal_crossentropy probabilities unless from_logits=True) and disables alpha with None (Keras: alpha
# defaults to 0.25, and 1 disables it).
_TRANSLATE = {
    "softmax_focal_loss": lambda p: {"from_logits": True, **p, "alpha": 1.0 if p.get("alpha") is None else p["alpha"]},
}


def _is_elementwise(loss: str, shape: tuple[int, ...]) -> bool:
    return tuple(get(loss).output_shape(shape, "none")) == tuple(shape)


class KerasAdapter(Adapter):
    name = "keras"
    dtypes = ("float32", "bfloat16", "float16")  # not float64: see the module docstring

    def __init__(self) -> None:
        import jax

        jax.config.update("jax_enable_x64", True)  # the dtype is requested explicitly per test (as the jax adapter)
        import jax.numpy as jnp

        self.jax, self.jnp, self.keras = jax, jnp, _import_keras()

    def supports(self, loss: str) -> bool:
        return loss in REGISTRY and _equivalent(loss) is not None

    def run(self, loss, inputs, params, reduction, cotangent, dtype, *, value=True, grads=None) -> Result:
        jax, jnp, keras = self.jax, self.jnp, self.keras
        if reduction is None:
            raise Unsupported("Keras's defaults are not refloss's (PyTorch's): the adapter passes every parameter, so "
                              "there are no defaults to check")
        if reduction not in ("none", "mean", "sum"):
            raise Unsupported("Keras losses take no refloss reduction: the adapter applies it")
        spec = get(loss)
        names = [i.name for i in spec.inputs]
        if len(names) != 2:
            raise Unsupported("Keras losses take (y_true, y_pred)")
        function, settings = keras_callable(loss)
        is_class = inspect.isclass(function)
        accepted = set(inspect.signature(function.__init__ if is_class else function).parameters) | {"epsilon"}
        # A parameter the Keras callable has is always passed (refloss's default where the test sets none), so that
        # a Keras default that differs from refloss's cannot pass silently. One it lacks can be left out only at
        # refloss's default (label_smoothing = 0: Keras's loss is the unsmoothed one). epsilon is Keras's global
        # setting (keras.config.epsilon()).
        defaults = {p.name: p.default for p in spec.params if p.kind == "scalar"}
        missing = [name for name, setting in params.items() if name not in accepted
                   and not (name in defaults and setting == defaults[name])]
        if missing:
            raise Unsupported(f"{_equivalent(loss).call} has no parameter {', '.join(missing)}")
        params = _TRANSLATE.get(loss, lambda p: p)({**defaults, **params})
        params = {name: setting for name, setting in params.items() if name in accepted and setting is not None}
        epsilon = params.pop("epsilon", None)
        first, second = np.asarray(inputs[names[0]]), np.asarray(inputs[names[1]])
        elementwise = _is_elementwise(loss, first.shape)
        if not elementwise and first.ndim > 2:
            raise Unsupported("Keras's class axis is the last one, refloss's dim 1: compared for (C,) and (N, C) only")
        call = _equivalent(loss).call
        if "Sparse" in call and second.dtype.kind == "f":
            raise Unsupported("Keras's sparse loss takes class indices, not probability targets")
        # Keras's categorical losses take one-hot targets: refloss's class indices become rows of the identity
        one_hot = "categorical" in call.lower() and "sparse" not in call.lower() and second.dtype.kind in "iu"
        if is_class:
            function = function(**settings, **params, reduction=None, dtype=dtype)
            settings = params = {}
        wanted = wanted_gradients(loss, grads, inputs)
        arrays = {n: jnp.asarray(inputs[n]) if inputs[n].dtype.kind in "iu" else jnp.asarray(inputs[n], dtype=dtype)
                  for n in names}

        def computed(*differentiated: Any) -> Any:
            given = {**arrays, **dict(zip(wanted, differentiated))}
            y_pred, y_true = given[names[0]], given[names[1]]
            if one_hot:
                y_true = jax.nn.one_hot(y_true, y_pred.shape[-1], dtype=y_pred.dtype)
            if elementwise:  # one element per Keras "sample": its mean over the last axis is the element itself
                y_pred, y_true = y_pred[..., None], y_true[..., None]
            losses = function(y_true, y_pred, **settings, **params)
            return {"none": lambda v: v, "mean": jnp.mean, "sum": jnp.sum}[reduction](losses)

        previous = keras.config.epsilon()
        try:
            if epsilon is not None:
                keras.config.set_epsilon(epsilon)
            if not wanted:
                return Result(_numpy(computed()), {})
            loss_value, vjp = jax.vjp(computed, *(arrays[n] for n in wanted))
            gradients = vjp(jnp.asarray(cotangent, dtype=loss_value.dtype))
        except (ValueError, TypeError) as error:
            raise Rejected(None, f"{type(error).__name__}: {error}") from error
        finally:
            keras.config.set_epsilon(previous)
        return Result(_numpy(loss_value) if value else None, {n: _numpy(g) for n, g in zip(wanted, gradients)})

    def describe(self) -> str:
        return f"keras {self.keras.__version__} on jax {self.jax.__version__} (CPU)"


def _numpy(array: Any) -> np.ndarray:
    return np.asarray(array.astype("float64") if hasattr(array, "astype") else array, dtype=np.float64)
