"""Adapters run the golden vectors on an implementation: the reference, PyTorch, your module, or any engine.

``get_adapter(spec)`` understands: ``refloss`` (the reference, float64), ``torch`` (torch.nn.functional and
torchvision.ops through torch.autograd, in float64/float32/bfloat16/float16), ``jax`` (optax through jax.vjp),
``keras`` (Keras 3's keras.losses on the JAX backend, through jax.vjp), ``module:NAME`` (your Python
functions, see :mod:`refloss.adapters.module`) and ``exec:COMMAND`` (any program speaking the JSON-lines
protocol ``lossvec-jsonl/1``, specified in ``conformance/README.md``; see :mod:`refloss.adapters.jsonl`).
"""

from __future__ import annotations

from refloss.adapters.base import Adapter

__all__ = ["ADAPTERS", "get_adapter"]

ADAPTERS = {
    "refloss": "the NumPy reference itself (float64)",
    "torch": "PyTorch's torch.nn.functional equivalents, gradients by torch.autograd (float64, float32, "
             "bfloat16, float16); needs torch installed",
    "jax": "optax's equivalents, gradients by jax.vjp (float64, float32, bfloat16, float16); needs jax and optax",
    "keras": "Keras 3's keras.losses equivalents on the JAX backend, gradients by jax.vjp (float32, bfloat16, "
             "float16: Keras 3.15.1 averages float64 in float32); needs keras==3.15.1 and jax",
    "module:NAME": "your Python functions: module NAME (importable from the current directory) defines "
                   "LOSSES = {name: (forward, vjp)}",
    "exec:COMMAND": "any engine speaking the lossvec-jsonl/1 protocol on stdin/stdout",
}


def get_adapter(spec: str, timeout: float | None = None) -> Adapter:
    """The adapter named by ``spec``; a ValueError explains the choices for an unknown one.

    ``timeout`` (seconds per answer, default 60) applies to ``exec:`` engines only.
    """
    if spec == "refloss":
        from refloss.adapters.reference import ReferenceAdapter
        return ReferenceAdapter()
    if spec == "torch":
        from refloss.adapters import torch as torch_adapter
        if not torch_adapter.available():
            raise ValueError("--impl torch needs PyTorch: pip install torch==2.14.1 torchvision==0.29.1")
        return torch_adapter.TorchAdapter()
    if spec.startswith("module:"):
        from refloss.adapters.module import ModuleAdapter
        if not spec.removeprefix("module:"):
            raise ValueError("module: needs the name of a module that defines LOSSES, e.g. module:mylosses")
        return ModuleAdapter(spec.removeprefix("module:"))
    if spec.startswith("exec:"):
        from refloss.adapters.jsonl import DEFAULT_TIMEOUT, JsonLinesAdapter
        return JsonLinesAdapter(spec.removeprefix("exec:"), DEFAULT_TIMEOUT if timeout is None else timeout)
    if spec == "jax":
        from refloss.adapters import jax as jax_adapter
        if not jax_adapter.available():
            raise ValueError("--impl jax needs JAX and optax: pip install jax optax")
        return jax_adapter.JaxAdapter()
    if spec == "keras":
        from refloss.adapters import keras as keras_adapter
        if not keras_adapter.available():
            raise ValueError("--impl keras needs Keras 3 on the JAX backend: pip install keras==3.15.1 jax (and "
                             "KERAS_BACKEND=jax, or unset)")
        return keras_adapter.KerasAdapter()
    choices = "; ".join(f"{k}: {v}" for k, v in ADAPTERS.items())
    raise ValueError(f"unknown implementation {spec!r}; choose one of: {choices}")
