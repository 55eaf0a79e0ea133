"""Hand my_jax_losses.bce_with_logits to refloss's validator: ``--impl module:conformance_jax``.

The validator calls ``forward(*inputs, reduction=..., **params)`` and ``vjp(grad_output, *inputs, ...)`` with
NumPy arrays; the VJP comes from jax.vjp, with the parameters (weights) held fixed.
"""

import functools

import jax
import numpy as np

from my_jax_losses import bce_with_logits


def conformance_pair(loss_function):
    """(forward, vjp) of a JAX loss, with NumPy arrays in and out."""

    def forward(*inputs, **params):
        return np.asarray(loss_function(*inputs, **params))

    def vjp(grad_output, *inputs, **params):
        _, pullback = jax.vjp(functools.partial(loss_function, **params), *inputs)
        return tuple(np.asarray(g) for g in pullback(grad_output))

    return forward, vjp


LOSSES = {"binary_cross_entropy_with_logits": conformance_pair(bce_with_logits)}
DTYPES = ("float64", "float32")
