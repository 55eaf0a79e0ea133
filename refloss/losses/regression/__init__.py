"""Regression losses: functions of the residual ``input - target``."""

from refloss.losses.regression.l1 import l1_loss, l1_loss_vjp
from refloss.losses.regression.mse import mse_loss, mse_loss_vjp
from refloss.losses.regression.smooth_l1 import smooth_l1_loss, smooth_l1_loss_vjp
from refloss.losses.regression.huber import huber_loss, huber_loss_vjp
from refloss.losses.regression.log_cosh import log_cosh_loss, log_cosh_loss_vjp
from refloss.losses.regression.balanced_l1 import balanced_l1_loss, balanced_l1_loss_vjp
from refloss.losses.regression.poisson_nll import poisson_nll_loss, poisson_nll_loss_vjp
from refloss.losses.regression.gaussian_nll import gaussian_nll_loss, gaussian_nll_loss_vjp
from refloss.losses.regression.keras_regression import mean_absolute_percentage_error
from refloss.losses.regression.keras_regression import mean_absolute_percentage_error_vjp
from refloss.losses.regression.keras_regression import mean_squared_logarithmic_error
from refloss.losses.regression.keras_regression import mean_squared_logarithmic_error_vjp
from refloss.losses.regression.keras_regression import poisson_loss
from refloss.losses.regression.keras_regression import poisson_loss_vjp

__all__ = [
    "balanced_l1_loss",
    "balanced_l1_loss_vjp",
    "gaussian_nll_loss",
    "gaussian_nll_loss_vjp",
    "huber_loss",
    "huber_loss_vjp",
    "l1_loss",
    "l1_loss_vjp",
    "log_cosh_loss",
    "log_cosh_loss_vjp",
    "mse_loss",
    "mse_loss_vjp",
    "poisson_nll_loss",
    "poisson_nll_loss_vjp",
    "smooth_l1_loss",
    "smooth_l1_loss_vjp",
    "mean_absolute_percentage_error",
    "mean_absolute_percentage_error_vjp",
    "mean_squared_logarithmic_error",
    "mean_squared_logarithmic_error_vjp",
    "poisson_loss",
    "poisson_loss_vjp",
]
