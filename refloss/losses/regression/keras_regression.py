"""Keras's Poisson, mean absolute percentage error and mean squared logarithmic error, elementwise.

Keras 3 (``keras.losses.poisson``, ``mean_absolute_percentage_error``, ``mean_squared_logarithmic_error``) returns
the mean over the last axis of each sample; refloss returns the elementwise loss, so its ``mean`` over all elements
equals Keras's default ``sum_over_batch_size`` reduction of those per-sample means (every sample has the same
number of elements). The epsilons are Keras's ``backend.epsilon()`` = 1e-7, in the data's dtype, as Keras forms them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refloss._blocks import elementwise
from refloss._checks import as_matching_pair, check_grad_output, shape_of
from refloss._reduction import output_shape
from refloss._registry import Equivalent, Input, Interval, Kink, LossSpec, Param, Reference, register

__all__ = [
    "mean_absolute_percentage_error",
    "mean_absolute_percentage_error_vjp",
    "mean_squared_logarithmic_error",
    "mean_squared_logarithmic_error_vjp",
    "poisson_loss",
    "poisson_loss_vjp",
]

# Keras's backend.epsilon(): the floor of MAPE's divisor and of MSLE's arguments (not a parameter in Keras).
KERAS_EPSILON = 1e-7

FAMILY = "keras_regression"  # not "regression": the tests and cases of that family assume a function of x - y

_KERAS_DOC = Reference("Keras 3, keras.losses (regression and probabilistic losses)",
                       "https://keras.io/api/losses/")
_KERAS_NOTE = ("Keras returns the mean over the last axis of each sample (refloss's mean over all elements equals "
               "its default sum_over_batch_size reduction); Keras 3.15.1 on JAX forms that mean in float32 even for "
               "float64 data (keras.ops.mean computes in result_type(dtype, 'float32') = float32), so its float64 "
               "results carry float32 rounding (about 1e-7 relative)")


def _evaluate(value_of: Any, grads_of: Any, grad_output: Any, input: Any, target: Any, reduction: str,
              params: tuple = ()) -> tuple[Any, tuple | None]:
    """Validate, then run the elementwise kernel (refloss._blocks) for the forward, the VJP or both."""
    input, target = as_matching_pair(input, target, reduction)
    if grads_of is not None:
        grad_output = check_grad_output(grad_output, output_shape(shape_of(input), reduction))

    def kernel(xp: Any, g: Any, x: Any, y: Any, value: bool = True) -> tuple[Any, Any]:
        loss = value_of(xp, x, y, *params) if value else None
        if g is None:
            return loss, None
        grad_x, grad_y = grads_of(x, y, *params)
        return loss, (g * grad_x, g * grad_y)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # inf and NaN propagate, as in Keras
        return elementwise(kernel, [input, target], reduction=reduction, value=value_of is not None,
                           grad_output=grad_output)


# ---- Poisson ----------------------------------------------------------------------------------------------------

POISSON_EPS = Param("eps", KERAS_EPSILON, Interval(0.0, math.inf, low_closed=True),
                    "added to the prediction inside the logarithm (Keras's backend.epsilon())", grid=(0.0, 0.5))


def poisson_loss(input: Any, target: Any, *, eps: float = KERAS_EPSILON, reduction: str = "mean") -> Any:
    r"""Poisson loss as Keras computes it: the prediction minus the target times the log of the prediction.

    Definition:
        With a predicted rate :math:`x \ge 0` and an observed count :math:`y \ge 0`,

        .. math::
            \ell(x, y) = x - y \log(x + \varepsilon)  \qquad \text{(P1)}

        the negative log-likelihood of a count :math:`y` drawn from a Poisson law of rate :math:`x`, without
        :math:`\log y!`; :math:`\varepsilon = 10^{-7}` keeps :math:`x = 0` finite.

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = 1 - \frac{y}{x + \varepsilon}, \qquad
            \frac{\partial \ell}{\partial y} = -\log(x + \varepsilon)  \qquad \text{(P2, P3)}

        Derivation: ``docs/derivations/poisson_loss.md``.

    Conventions:
        ``keras.losses.poisson`` elementwise (Keras then averages over the last axis; ``mean`` here equals its
        default reduction). Unlike ``torch.nn.functional.poisson_nll_loss(log_input=False)`` the input is not
        a log-rate and :math:`\varepsilon` is :math:`10^{-7}`, not :math:`10^{-8}`. Smooth for
        :math:`x + \varepsilon > 0`; at :math:`x + \varepsilon = 0` the loss is :math:`+\infty` (:math:`y > 0`)
        or NaN (:math:`y = 0`: :math:`0 \cdot \log 0`, as Keras), below it NaN. The target is differentiable
        (Keras's gradient exists too). ``mean`` of an empty input is NaN. NaN propagates.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``reduction="none"``, else a scalar.

    Args:
        input: Predicted rates :math:`x \ge 0`.
        target: Observed counts (or any non-negative targets) :math:`y`.
        eps: Added to :math:`x` inside the logarithm (default :math:`10^{-7}`, Keras's).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Keras ``keras.losses.poisson``: https://keras.io/api/losses/probabilistic_losses/#poisson-function.
        McCullagh, P., Nelder, J. A. "Generalized Linear Models", 2nd ed., Chapman & Hall, 1989, §6.2
        (the Poisson log-likelihood).

    Examples:
        >>> round(float(poisson_loss([2.0], [2.0], eps=0.0)), 10)  # 2 - 2 log 2
        0.6137056389
    """
    return _evaluate(_poisson_value, None, None, input, target, reduction, (POISSON_EPS.check(eps),))[0]


def poisson_loss_vjp(grad_output: Any, input: Any, target: Any, *, eps: float = KERAS_EPSILON,
                     reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`poisson_loss` with respect to ``(input, target)``.

    ``grad_output`` has the shape of ``poisson_loss``'s output. See :func:`poisson_loss`, "Gradient".
    """
    return _evaluate(None, _poisson_grads, grad_output, input, target, reduction, (POISSON_EPS.check(eps),))[1]


def _poisson_value(xp: Any, x: Any, y: Any, eps: float) -> Any:
    return x - y * xp.log(x + eps)  # (P1)


def _poisson_grads(x: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    shifted = x + eps
    return 1.0 - y / shifted, -np.log(shifted)  # (P2), (P3)


# ---- mean absolute percentage error -----------------------------------------------------------------------------

def mean_absolute_percentage_error(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Mean absolute percentage error: the absolute error in percent of the target, as Keras computes it.

    Definition:
        With prediction :math:`x`, target :math:`y` and the divisor :math:`m = \max(|y|, \varepsilon)`,
        :math:`\varepsilon = 10^{-7}` (M1),

        .. math::
            \ell(x, y) = 100 \left| \frac{y - x}{m} \right|  \qquad \text{(M2)}

    Gradient:
        With :math:`s = \operatorname{sign}(y - x)` (0 at :math:`x = y`),

        .. math::
            \frac{\partial \ell}{\partial x} = -\frac{100\, s}{m}, \qquad
            \frac{\partial \ell}{\partial y} = \begin{cases}
                \dfrac{100\, s\, x}{y\, |y|} & |y| > \varepsilon \\[4pt]
                \dfrac{100\, s}{\varepsilon} & |y| < \varepsilon \\[4pt]
                \dfrac{100\, s\, (1 + x / y)}{2 \varepsilon} & |y| = \varepsilon
            \end{cases}  \qquad \text{(M3, M4)}

        (the last: the tie of the ``max`` split equally). Derivation:
        ``docs/derivations/mean_absolute_percentage_error.md``.

    Conventions:
        ``keras.losses.mean_absolute_percentage_error`` elementwise (Keras averages over the last axis; ``mean``
        here equals its default reduction). Kinks: at :math:`x = y` both gradients are 0 (:math:`|d|' = 0` at 0,
        as PyTorch and autograd); JAX's ``abs`` has slope +1 at 0, so Keras on JAX returns
        :math:`\partial\ell/\partial x = -100/m` there. At :math:`|y| = \varepsilon` the ``max`` splits its
        gradient equally (as JAX and autograd). Keras forms :math:`\varepsilon` in the data's dtype:
        float32's :math:`10^{-7}` is :math:`1.0000000116860974 \cdot 10^{-7}`. ``mean`` of an empty input is NaN.
        NaN propagates; huge ratios overflow to inf.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``reduction="none"``, else a scalar.

    Args:
        input: Predictions :math:`x`.
        target: Targets :math:`y` (any sign; :math:`|y| < 10^{-7}` divides by :math:`10^{-7}`).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64 (percent).

    References:
        Keras ``keras.losses.mean_absolute_percentage_error``:
        https://keras.io/api/losses/regression_losses/#meanabsolutepercentageerror-function.
        de Myttenaere, A., Golden, B., Le Grand, B., Rossi, F. "Mean Absolute Percentage Error for regression
        models", Neurocomputing 192, 2016: https://doi.org/10.1016/j.neucom.2015.12.114.

    Examples:
        >>> float(mean_absolute_percentage_error([1.5, 3.0], [2.0, -4.0], reduction="none")[1])  # 100 * 7 / 4
        175.0
    """
    return _evaluate(_mape_value, None, None, input, target, reduction)[0]


def mean_absolute_percentage_error_vjp(grad_output: Any, input: Any, target: Any, *,
                                       reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`mean_absolute_percentage_error` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`mean_absolute_percentage_error`, "Gradient".
    """
    return _evaluate(None, _mape_grads, grad_output, input, target, reduction)[1]


def _mape_value(xp: Any, x: Any, y: Any) -> Any:
    divisor = xp.maximum(xp.abs(y), KERAS_EPSILON)  # (M1)
    return 100.0 * xp.abs((y - x) / divisor)  # (M2), Keras's order of operations


def _mape_grads(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    abs_y = np.abs(y)
    divisor = np.maximum(abs_y, KERAS_EPSILON)
    # The sign of the quotient (y - x) / m, as Keras's abs sees it: 0 at x = y (the subgradient 0 of |d| at its
    # kink), and NaN where the quotient is inf / inf (y infinite), as in every framework.
    s = np.sign((y - x) / divisor)
    grad_x = 0.0 - 100.0 * s / divisor  # (M3); 0.0 - keeps a zero +0.0
    # (M4): beyond epsilon the divisor is |y| and 1 - (y - x)/y = x/y is formed directly (no cancellation); below
    # it the divisor is constant; at the tie the max passes half of its slope.
    with np.errstate(divide="ignore", invalid="ignore"):
        beyond = 100.0 * s * (x / y) / abs_y
    below = 100.0 * s / KERAS_EPSILON
    tie = 100.0 * s * (1.0 + x / np.where(abs_y == KERAS_EPSILON, y, 1.0)) / (2.0 * KERAS_EPSILON)
    grad_y = np.where(abs_y > KERAS_EPSILON, beyond, np.where(abs_y < KERAS_EPSILON, below, tie))
    return grad_x, np.where(np.isnan(y), np.nan, grad_y)


def _mape_distances(input: Any, target: Any, **_: Any) -> Any:
    return np.abs(np.asarray(input, dtype=np.float64) - np.asarray(target, dtype=np.float64))


def _mape_floor_distance(input: Any, target: Any, **_: Any) -> Any:
    return np.abs(np.abs(np.asarray(target, dtype=np.float64)) - KERAS_EPSILON)


# ---- mean squared logarithmic error -----------------------------------------------------------------------------

def mean_squared_logarithmic_error(input: Any, target: Any, *, reduction: str = "mean") -> Any:
    r"""Mean squared logarithmic error: the squared difference of :math:`\log(1 + \cdot)`, as Keras computes it.

    Definition:
        With prediction :math:`x`, target :math:`y`, the floor :math:`\varepsilon = 10^{-7}` and
        :math:`a = \log(1 + \max(x, \varepsilon))`, :math:`b = \log(1 + \max(y, \varepsilon))` (L1),

        .. math::
            \ell(x, y) = (a - b)^2  \qquad \text{(L2)}

        computed with ``log1p`` (Keras writes ``log(max(x, eps) + 1)``, which rounds :math:`1 + x` first).

    Gradient:
        .. math::
            \frac{\partial \ell}{\partial x} = \frac{2 (a - b)}{1 + \max(x, \varepsilon)}\, c_x, \qquad
            \frac{\partial \ell}{\partial y} = -\frac{2 (a - b)}{1 + \max(y, \varepsilon)}\, c_y
            \qquad \text{(L3, L4)}

        where :math:`c = 1` above the floor, 0 below it and :math:`\tfrac12` exactly at it (the tie of the ``max``
        split equally). Derivation: ``docs/derivations/mean_squared_logarithmic_error.md``.

    Conventions:
        ``keras.losses.mean_squared_logarithmic_error`` elementwise (Keras averages over the last axis; ``mean``
        here equals its default reduction). Values below :math:`\varepsilon` (zero and negative ones) count as
        :math:`\varepsilon`, with no gradient. Keras forms :math:`\varepsilon` in the data's dtype (float32:
        :math:`1.0000000116860974 \cdot 10^{-7}`) and ``log(1 + t)`` rather than ``log1p(t)``: for small
        :math:`t` its float64 value is off by up to about :math:`10^{-16} / t` relative. ``mean`` of an empty
        input is NaN. NaN propagates; :math:`+\infty` gives :math:`+\infty`.

    Shapes:
        ``input``: ``(*)``; ``target``: the same shape. Output: ``(*)`` for ``reduction="none"``, else a scalar.

    Args:
        input: Predictions :math:`x` (meant to be non-negative).
        target: Targets :math:`y` (meant to be non-negative).
        reduction: ``"none"``, ``"mean"`` (default) or ``"sum"``.

    Returns:
        The loss in float64.

    References:
        Keras ``keras.losses.mean_squared_logarithmic_error``:
        https://keras.io/api/losses/regression_losses/#meansquaredlogarithmicerror-function.
        Hyndman, R. J., Koehler, A. B. "Another look at measures of forecast accuracy", International Journal of
        Forecasting 22, 2006: https://doi.org/10.1016/j.ijforecast.2006.03.001.

    Examples:
        >>> round(float(mean_squared_logarithmic_error([3.0], [0.0])), 10)  # (log 4 - log1p(1e-7))^2
        1.9218117784
    """
    return _evaluate(_msle_value, None, None, input, target, reduction)[0]


def mean_squared_logarithmic_error_vjp(grad_output: Any, input: Any, target: Any, *,
                                       reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Vector-Jacobian product of :func:`mean_squared_logarithmic_error` w.r.t. ``(input, target)``.

    ``grad_output`` has the shape of the loss's output. See :func:`mean_squared_logarithmic_error`, "Gradient".
    """
    return _evaluate(None, _msle_grads, grad_output, input, target, reduction)[1]


def _msle_value(xp: Any, x: Any, y: Any) -> Any:
    a = xp.log1p(xp.maximum(x, KERAS_EPSILON))  # (L1)
    b = xp.log1p(xp.maximum(y, KERAS_EPSILON))
    return (a - b) ** 2  # (L2)


def _floor_slope(t: np.ndarray) -> np.ndarray:
    """d max(t, eps) / dt: 1 above the floor, 0 below, 1/2 at it (NaN for NaN)."""
    slope = np.where(t > KERAS_EPSILON, 1.0, np.where(t < KERAS_EPSILON, 0.0, 0.5))
    return np.where(np.isnan(t), np.nan, slope)


def _msle_grads(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    floored_x, floored_y = np.maximum(x, KERAS_EPSILON), np.maximum(y, KERAS_EPSILON)
    twice = 2.0 * (np.log1p(floored_x) - np.log1p(floored_y))
    grad_x = twice / (1.0 + floored_x) * _floor_slope(x) + 0.0  # (L3); + 0.0 makes a zero +0.0
    grad_y = -twice / (1.0 + floored_y) * _floor_slope(y) + 0.0  # (L4)
    return grad_x, grad_y


def _msle_floor_distance(input: Any, target: Any, **_: Any) -> Any:
    x, y = np.asarray(input, dtype=np.float64), np.asarray(target, dtype=np.float64)
    return np.minimum(np.abs(x - KERAS_EPSILON), np.abs(y - KERAS_EPSILON))


# ---- registration -----------------------------------------------------------------------------------------------

_NONNEGATIVE = Interval(0.0, math.inf, low_closed=True)

register(LossSpec(
    name="poisson_loss",
    family=FAMILY,
    forward=poisson_loss,
    vjp=poisson_loss_vjp,
    inputs=(Input("input", "predicted rates x >= 0, any shape", domain=_NONNEGATIVE,
                  sample=Interval(0.1, 4.0, True, True)),
            Input("target", "observed counts y >= 0, the same shape", domain=_NONNEGATIVE,
                  sample=Interval(0.0, 4.0, True, True))),
    params=(POISSON_EPS,),
    smoothness="C-infinity for x + eps > 0",
    references=(
        Reference("Keras, keras.losses.poisson", "https://keras.io/api/losses/probabilistic_losses/#poisson-function"),
        Reference("McCullagh, Nelder. Generalized Linear Models, 2nd ed., Chapman & Hall, 1989",
                  "https://doi.org/10.1201/9780203753736"),
    ),
    equivalents=(Equivalent("keras", "keras.losses.poisson", _KERAS_NOTE),),
    derivation="docs/derivations/poisson_loss.md",
))

register(LossSpec(
    name="mean_absolute_percentage_error",
    family=FAMILY,
    forward=mean_absolute_percentage_error,
    vjp=mean_absolute_percentage_error_vjp,
    inputs=(Input("input", "predictions, any shape"),
            # sampled away from |y| near 0, where the loss is steep (1/|y|) and finite differences are inaccurate
            Input("target", "targets, the same shape (any sign)", sample=Interval(0.25, 3.0, True, True))),
    params=(),
    smoothness="piecewise smooth; kinks at x = y and at |y| = 1e-7",
    kinks=(Kink("x = y (|y - x| is not differentiable)", "both gradients 0 (sign(0) = 0, as PyTorch and autograd); "
                "JAX's abs has slope 1 at 0, so Keras on JAX gives d/dx = -100/m there", _mape_distances),
           Kink("|y| = eps = 1e-7 (the floor of the divisor)", "the max passes half its slope (ties split equally, "
                "as JAX and autograd)", _mape_floor_distance)),
    references=(
        Reference("Keras, keras.losses.mean_absolute_percentage_error",
                  "https://keras.io/api/losses/regression_losses/#meanabsolutepercentageerror-function"),
        Reference("de Myttenaere, Golden, Le Grand, Rossi. Mean Absolute Percentage Error for regression models. "
                  "Neurocomputing 192, 2016", "https://doi.org/10.1016/j.neucom.2015.12.114"),
    ),
    equivalents=(Equivalent("keras", "keras.losses.mean_absolute_percentage_error",
                            _KERAS_NOTE + "; at x = y JAX's abs slope 1 gives d/dx = -100/m where refloss gives 0"),),
))

register(LossSpec(
    name="mean_squared_logarithmic_error",
    family=FAMILY,
    forward=mean_squared_logarithmic_error,
    vjp=mean_squared_logarithmic_error_vjp,
    inputs=(Input("input", "predictions, any shape (values below 1e-7 count as 1e-7)",
                  sample=Interval(0.0, 4.0, True, True)),
            Input("target", "targets, the same shape (values below 1e-7 count as 1e-7)",
                  sample=Interval(0.0, 4.0, True, True))),
    params=(),
    smoothness="C-infinity away from the floor; the gradient jumps at x = 1e-7 and at y = 1e-7",
    kinks=(Kink("x = eps or y = eps = 1e-7 (the floor)", "the max passes half its slope (ties split equally, as "
                "JAX and autograd)", _msle_floor_distance),),
    references=(
        Reference("Keras, keras.losses.mean_squared_logarithmic_error",
                  "https://keras.io/api/losses/regression_losses/#meansquaredlogarithmicerror-function"),
        Reference("Hyndman, Koehler. Another look at measures of forecast accuracy. International Journal of "
                  "Forecasting 22, 2006", "https://doi.org/10.1016/j.ijforecast.2006.03.001"),
    ),
    equivalents=(Equivalent("keras", "keras.losses.mean_squared_logarithmic_error",
                            _KERAS_NOTE + "; Keras takes log(1 + t) rather than log1p(t), off by up to 1e-16 / t "
                            "relative for small t"),),
))
