"""torchvision's detection losses, fed refloss's inputs: one function per detector loss, with refloss's signature,
that computes the loss through torchvision's own detection-model code (the ``Equivalent("torchvision", ...)`` of
the loss's registry record, which the ``torch`` adapter runs).

A setting torchvision has no way to express raises :class:`NotInTorchvision`, which the adapter reports as
unsupported rather than as a rejection.
"""

__all__ = ["NotInTorchvision"]


class NotInTorchvision(ValueError):
    """A refloss parameter value that torchvision's detection code cannot express (e.g. SSD's Smooth L1 beta)."""
