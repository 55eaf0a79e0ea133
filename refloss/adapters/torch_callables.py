"""PyTorch's callables for the refloss parameters that name a function, and signatures for PyTorch's builtins.

``triplet_margin_with_distance_loss`` takes its distance as a callable in PyTorch and as a name in refloss (so
that a golden vector can hold it): ``"pairwise_distance"`` is PyTorch's default (``None``), ``"cosine_distance"``
is ``1 - cosine_similarity`` along the last dimension. ``torch.nn.functional.pairwise_distance`` and
``cosine_similarity`` are C builtins without an introspectable signature: :func:`with_signature` gives them the
registry's (the adapter reads a signature to find the parameters an equivalent lacks).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from refloss._registry import get

__all__ = ["torch_keywords", "with_signature"]


def _cosine_distance(x: Any, y: Any) -> Any:
    import torch.nn.functional as F

    return 1.0 - F.cosine_similarity(x, y, dim=-1)


_DISTANCES = {"pairwise_distance": None, "cosine_distance": _cosine_distance}


def torch_keywords(loss: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with each named function replaced by PyTorch's callable (an unknown name is passed on as it is,
    for PyTorch to refuse)."""
    if loss == "triplet_margin_with_distance_loss" and kwargs.get("distance_function") in _DISTANCES:
        return {**kwargs, "distance_function": _DISTANCES[kwargs["distance_function"]]}
    return kwargs


def with_signature(loss: str, function: Callable) -> Callable:
    """``function`` itself if Python can read its signature, else a wrapper with the registered one (the loss's
    inputs, then its parameters as keywords)."""
    try:
        inspect.signature(function)
        return function
    except ValueError:  # a builtin: "no signature found"
        pass
    spec = get(loss)
    parameters = [inspect.Parameter(i.name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in spec.inputs]
    parameters += [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default) for p in spec.params]

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    call.__signature__ = inspect.Signature(parameters)
    return call
