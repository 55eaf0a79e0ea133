"""The ``torch`` adapter: a registered loss's PyTorch equivalent, gradients through ``torch.autograd``.

The equivalent is the ``Equivalent("torch", ...)`` entry of the loss's registry record (a dotted path such as
``torch.nn.functional.huber_loss``), or its ``Equivalent("torchvision", ...)`` entry when torchvision is installed
(``torchvision.ops.sigmoid_focal_loss``). PyTorch is imported lazily; ``available()`` says whether it is
installed. CI runs it with torch 2.14.1 and torchvision 0.29.1, the versions whose deviations
``conformance/expectations/torch.json`` records.
Computation happens in the requested dtype (float64, float32, bfloat16 or float16) on the CPU.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from typing import Any

import numpy as np

from refloss._registry import REGISTRY, get
from refloss.adapters.base import Adapter, Rejected, Result, Unsupported, wanted_gradients
from refloss.adapters.detection import NotInTorchvision
from refloss.adapters.torch_callables import torch_keywords
from refloss.adapters.torch_callables import with_signature

__all__ = ["TorchAdapter", "available"]


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _torchvision_available() -> bool:
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return False
    return True


def _equivalent(loss: str) -> Any | None:
    """The registry's torch.nn.functional equivalent of ``loss``, else its torchvision one if installed (a function
    of torchvision.ops, or for a detector loss a function of :mod:`refloss.adapters.detection` that feeds refloss's
    inputs to torchvision's detection model). The box coders have none here: torchvision's are methods of BoxCoder
    objects (tests/test_coders.py compares them)."""
    if get(loss).kind == "coder":
        return None
    for framework in ("torch", "torchvision"):
        for equivalent in get(loss).equivalents:
            if equivalent.framework == framework and (framework == "torch" or _torchvision_available()):
                return equivalent
    return None


def torch_function(loss: str) -> Any | None:
    """The PyTorch (or torchvision) callable registered as ``loss``'s equivalent, or None."""
    equivalent = _equivalent(loss)
    if equivalent is None:
        return None
    module, _, attribute = equivalent.call.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


class TorchAdapter(Adapter):
    name = "torch"
    dtypes = ("float64", "float32", "bfloat16", "float16")

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.torch_dtypes = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16,
                             "float16": torch.float16}

    def supports(self, loss: str) -> bool:
        return loss in REGISTRY and _equivalent(loss) is not None

    def run(self, loss, inputs, params, reduction, cotangent, dtype, *, value=True, grads=None) -> Result:
        # PyTorch has no VJP without its forward: a VJP-only call runs both and returns the gradients, so the
        # forward's validation is the VJP's too (as it is for anyone calling .backward()).
        torch = self.torch
        spec = get(loss)
        torch_dtype = self.torch_dtypes[dtype]
        wanted = wanted_gradients(loss, grads, inputs)
        tensors = {i.name: torch.tensor(inputs[i.name], dtype=torch.long) if inputs[i.name].dtype.kind == "i"
                   else torch.tensor(inputs[i.name], dtype=torch_dtype, requires_grad=i.name in wanted)
                   for i in spec.inputs}
        function = torch_function(loss)
        function = with_signature(loss, function)  # (a C builtin has none Python can read)
        missing = [name for name in params if name not in inspect.signature(function).parameters]
        if missing:  # a refloss variant (ciou_loss's alpha_gate) the equivalent does not have
            raise Unsupported(f"{_equivalent(loss).call} has no parameter {', '.join(missing)}")
        kwargs = {name: torch.tensor(setting, dtype=torch_dtype) if isinstance(setting, np.ndarray) else setting
                  for name, setting in params.items()}
        if reduction is not None:  # None: PyTorch's default reduction applies
            kwargs["reduction"] = reduction
        kwargs = torch_keywords(loss, kwargs)  # (a function named in refloss, a callable in PyTorch)
        wrt = [name for name, t in tensors.items() if t.requires_grad]
        try:
            with warnings.catch_warnings():
                # PyTorch warns, then broadcasts, on mismatched shapes: the broadcast is what a vector checks.
                warnings.filterwarnings("ignore", "Using a target size", UserWarning)
                # kl_div warns on reduction='mean' that a later release may change it: the vectors check 2.14.1's
                warnings.filterwarnings("ignore", "reduction: 'mean' divides the total loss", UserWarning)
                loss_value = function(*tensors.values(), **kwargs)
            if spec.kind == "detector":  # (total, terms): the vector (total, *terms), as the vectors hold it
                total, terms = loss_value
                loss_value = torch.stack([total, *(terms[name] for name in spec.terms)])
            computed = torch.autograd.grad(loss_value, [tensors[n] for n in wrt],
                                           torch.tensor(cotangent, dtype=torch_dtype), allow_unused=True) if wrt else ()
        except NotInTorchvision as error:  # a detector setting torchvision's model cannot express
            raise Unsupported(str(error)) from error
        except NotImplementedError as error:  # e.g. a CPU kernel without float16/bfloat16 support
            raise Unsupported(f"{type(error).__name__}: {error}") from error
        except RuntimeError as error:
            if "not implemented for" in str(error):  # torchvision's nms_kernel: "not implemented for 'Half'"
                raise Unsupported(f"{type(error).__name__}: {error}") from error
            raise Rejected(None, f"{type(error).__name__}: {error}") from error
        except (RuntimeError, ValueError, TypeError, IndexError, AssertionError) as error:  # (torch._assert)
            raise Rejected(None, f"{type(error).__name__}: {error}") from error
        gradients = {n: _numpy(g if g is not None else torch.zeros_like(tensors[n])) for n, g in zip(wrt, computed)}
        return Result(_numpy(loss_value) if value else None, gradients)

    def describe(self) -> str:
        return f"torch {self.torch.__version__} (CPU)"


def _numpy(tensor: Any) -> np.ndarray:
    import torch

    return tensor.detach().to(torch.float64).numpy()
