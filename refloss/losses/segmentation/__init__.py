"""Segmentation losses: overlap ratios of a predicted mask and a target mask (Dice, Tversky)."""

from refloss.losses.segmentation.overlap import dice_loss
from refloss.losses.segmentation.overlap import dice_loss_vjp
from refloss.losses.segmentation.overlap import tversky_loss
from refloss.losses.segmentation.overlap import tversky_loss_vjp

__all__ = [
    "dice_loss",
    "dice_loss_vjp",
    "tversky_loss",
    "tversky_loss_vjp",
]
