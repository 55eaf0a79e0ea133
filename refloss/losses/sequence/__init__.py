"""Sequence losses: losses over alignments of an input sequence with a shorter label sequence."""

from refloss.losses.sequence.ctc import ctc_loss
from refloss.losses.sequence.ctc import ctc_loss_vjp

__all__ = [
    "ctc_loss",
    "ctc_loss_vjp",
]
