"""Run the PyTorch equivalent of a registered loss: its value, and its VJP through ``torch.autograd``.

The equivalent is the ``Equivalent("torch", ...)`` entry of the loss's registry record. PyTorch is imported
lazily: ``available()`` says whether it is installed.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from refloss._registry import LossSpec, get
from refloss.testing._gradients import Case

__all__ = ["available", "supports", "value_and_vjp"]


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _torch_callable(spec: LossSpec) -> Any:
    for equivalent in spec.equivalents:
        if equivalent.framework == "torch":
            module, _, attribute = equivalent.call.rpartition(".")
            return getattr(importlib.import_module(module), attribute)
    raise KeyError(f"{spec.name} has no PyTorch equivalent in the registry")


def supports(spec: LossSpec | str) -> bool:
    spec = get(spec) if isinstance(spec, str) else spec
    return any(e.framework == "torch" for e in spec.equivalents)


def value_and_vjp(spec: LossSpec | str, case: Case) -> tuple[np.ndarray, tuple[np.ndarray | None, ...]]:
    """The torch loss value at ``case`` and the gradients of ``<grad_output, loss>`` for each input (float64)."""
    import torch

    spec = get(spec) if isinstance(spec, str) else spec
    function = _torch_callable(spec)
    inputs = [torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=inp.differentiable)
              for x, inp in zip(case.inputs, spec.inputs)]
    params = {name: torch.tensor(value, dtype=torch.float64) if isinstance(value, np.ndarray) else value
              for name, value in case.params.items()}
    loss = function(*inputs, reduction=case.reduction, **params)
    differentiable = [x for x in inputs if x.requires_grad]
    grads = torch.autograd.grad(loss, differentiable, torch.tensor(case.grad_output, dtype=torch.float64),
                                allow_unused=True)
    by_input = iter(grads)
    return (loss.detach().numpy(),
            tuple(_numpy(next(by_input), x) if x.requires_grad else None for x in inputs))


def _numpy(grad: Any, like: Any) -> np.ndarray:
    import torch

    return (torch.zeros_like(like) if grad is None else grad).detach().numpy()
