"""Regression losses: functions of the residual ``input - target``."""

from refloss.losses.regression.l1 import l1_loss, l1_loss_vjp
from refloss.losses.regression.mse import mse_loss, mse_loss_vjp
from refloss.losses.regression.smooth_l1 import smooth_l1_loss, smooth_l1_loss_vjp
from refloss.losses.regression.huber import huber_loss, huber_loss_vjp
from refloss.losses.regression.log_cosh import log_cosh_loss, log_cosh_loss_vjp
from refloss.losses.regression.balanced_l1 import balanced_l1_loss, balanced_l1_loss_vjp
from refloss.losses.regression.cosine_similarity import cosine_similarity_loss
from refloss.losses.regression.cosine_similarity import cosine_similarity_loss_vjp

__all__ = [
    "balanced_l1_loss",
    "balanced_l1_loss_vjp",
    "huber_loss",
    "huber_loss_vjp",
    "l1_loss",
    "l1_loss_vjp",
    "log_cosh_loss",
    "log_cosh_loss_vjp",
    "mse_loss",
    "mse_loss_vjp",
    "smooth_l1_loss",
    "smooth_l1_loss_vjp",
    "cosine_similarity_loss",
    "cosine_similarity_loss_vjp",
]
