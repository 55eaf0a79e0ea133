"""Hand my_torch_losses.smooth_l1_loss to refloss's validator: ``--impl module:conformance_torch``.

The validator calls ``forward(*inputs, reduction=..., **params)`` and ``vjp(grad_output, *inputs, ...)`` with
NumPy arrays; this bridge turns them into torch tensors and takes the VJP from torch.autograd.
"""

import numpy as np
import torch

from my_torch_losses import smooth_l1_loss


def to_torch(value):
    return torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else value


def conformance_pair(loss_function):
    """(forward, vjp) of a PyTorch loss, with NumPy arrays in and out."""

    def forward(*inputs, **params):
        params = {name: to_torch(value) for name, value in params.items()}
        return loss_function(*map(to_torch, inputs), **params).detach().numpy()

    def vjp(grad_output, *inputs, **params):
        params = {name: to_torch(value) for name, value in params.items()}
        tensors = [to_torch(x).requires_grad_() for x in inputs]
        value = loss_function(*tensors, **params)
        grads = torch.autograd.grad(value, tensors, grad_outputs=to_torch(grad_output), allow_unused=True)
        # an input the value does not depend on (an empty batch) has no graph: its gradient is zero
        return tuple(np.zeros_like(x) if g is None else g.numpy() for x, g in zip(inputs, grads))

    return forward, vjp


LOSSES = {"smooth_l1_loss": conformance_pair(smooth_l1_loss)}
DTYPES = ("float64", "float32")
