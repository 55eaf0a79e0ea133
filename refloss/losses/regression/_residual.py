"""Shared plumbing for the regression losses, which are all a function of the residual ``d = input - target``.

Each regression loss supplies two elementwise functions of ``d``: its value ``l(xp, d)``, written against the array
namespace ``xp`` (NumPy, or autograd's when autograd traces it; see refloss._blocks), and its slope ``l'(d)``.
This module validates the inputs, applies the reduction, and applies the chain rule common to all of them:

    dL/d input = g * l'(d)        dL/d target = -g * l'(d)

where ``g`` is the cotangent of each element of the unreduced loss (see ``refloss._reduction.reduce_vjp``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from refloss._blocks import elementwise
from refloss._checks import as_matching_pair, check_grad_output, check_weight, shape_of
from refloss._reduction import output_shape
from refloss._registry import Input, Kink, Param, Interval

__all__ = ["ABS_KINK", "REGRESSION_INPUTS", "WEIGHT", "residual_loss", "residual_loss_vjp", "residual_losses",
           "residual_value_and_vjp"]

REGRESSION_INPUTS = (
    Input("input", "predictions, any shape"),
    Input("target", "targets, the same shape as input"),
)



def residual_losses() -> list[str]:
    """The registered losses of the residual d = input - target (l1, mse, smooth_l1, huber, log_cosh,
    balanced_l1): the ones declared with REGRESSION_INPUTS. The other regression losses (Poisson, Gaussian NLL,
    Keras's MAPE and MSLE) are not functions of d alone, and the residual losses' shared tests do not apply."""
    from refloss._registry import get, names

    return [name for name in names() if get(name).inputs is REGRESSION_INPUTS]


WEIGHT = Param(
    "weight",
    default=None,
    domain=Interval(0.0, np.inf, low_closed=True),
    description="optional elementwise non-negative weight with the shape of input (a constant: no gradient); "
    "'mean' then divides as PyTorch does: by the weight sum (l1, mse) or by the element count (huber)",
    kind="elementwise",
)


def abs_kink(input: Any, target: Any, **params: Any) -> Any:
    """Distance from the kink of |d| at d = 0."""
    return np.abs(input - target)


ABS_KINK = Kink("d = 0 (|d| is not differentiable)", "the derivative of |d| at 0 is taken as 0 (sign(0) = 0), "
                "as in PyTorch, JAX and TensorFlow", abs_kink)


def _prepare(input: Any, target: Any, reduction: str, weight: Any) -> tuple[Any, Any, np.ndarray | None]:
    input, target = as_matching_pair(input, target, reduction)
    return input, target, check_weight(weight, shape_of(input))


def residual_loss(value: Callable[[Any], Any], input: Any, target: Any, reduction: str,
                  weight: Any = None, mean_over_weights: bool = True) -> Any:
    """Forward of a residual loss: ``reduce(value(input - target))`` (see ``refloss._reduction.reduce``)."""
    return _evaluate(value, None, None, input, target, reduction, weight, mean_over_weights)[0]


def residual_loss_vjp(slope: Callable[[np.ndarray], np.ndarray], grad_output: Any, input: Any, target: Any,
                      reduction: str, weight: Any = None,
                      mean_over_weights: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """VJP of a residual loss with respect to ``(input, target)``."""
    return _evaluate(None, slope, grad_output, input, target, reduction, weight, mean_over_weights)[1]


def residual_value_and_vjp(value: Callable[[Any], Any], slope: Callable[[np.ndarray], np.ndarray],
                           grad_output: Any, input: Any, target: Any, reduction: str, weight: Any = None,
                           mean_over_weights: bool = True) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
    """The forward and the VJP of a residual loss in one pass over the residual."""
    return _evaluate(value, slope, grad_output, input, target, reduction, weight, mean_over_weights)


def _evaluate(loss_of: Callable | None, slope_of: Callable | None, grad_output: Any, input: Any, target: Any,
              reduction: str, weight: Any, mean_over_weights: bool) -> tuple[Any, tuple | None]:
    """Validate, then run the residual kernel over the elements (refloss._blocks)."""
    input, target, weight = _prepare(input, target, reduction, weight)
    shape = shape_of(input)
    if slope_of is not None:  # a VJP: its cotangent is checked (None included)
        grad_output = check_grad_output(grad_output, output_shape(shape, reduction))

    def kernel(xp: Any, g: Any, input: Any, target: Any, value: bool = True) -> tuple[Any, Any]:
        d = input - target  # (D1)
        loss = loss_of(xp, d) if value else None
        if g is None:
            return loss, None
        grad_input = g * slope_of(d)  # (G1); (G2) is its negative
        return loss, (grad_input, -grad_input)

    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf and NaN propagate silently, as in PyTorch
        return elementwise(kernel, [input, target], reduction=reduction, value=loss_of is not None,
                           grad_output=grad_output, weight=weight, mean_over_weights=mean_over_weights)
