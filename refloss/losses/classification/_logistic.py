"""What the sigmoid-based losses share: softplus of x and of -x, and the sigmoid pair, without a select.

With :math:`l = \\min(x, 0)` and :math:`u = \\min(-x, 0) = -\\max(x, 0)` (one of the two is 0), and
:math:`e = e^{l} e^{u} = e^{-|x|} \\in (0, 1]` (the product is exact: one factor is 1),

* :math:`\\operatorname{softplus}(-x) = \\operatorname{log1p}(e) - l` and
  :math:`\\operatorname{softplus}(x) = \\operatorname{log1p}(e) - u`: the costs :math:`-\\log\\sigma(x)` and
  :math:`-\\log(1 - \\sigma(x))`, exact for logits of any magnitude (B2);
* :math:`\\sigma(x) = e^{l} / (1 + e)` and :math:`\\sigma(-x) = 1 - \\sigma(x) = e^{u} / (1 + e)`, each without the
  cancellation of ``1 - sigmoid(x)``.

No exponential of a positive number is taken, so nothing overflows. These are the values of
``max(x, 0) + log1p(exp(-|x|))`` and of ``where(x >= 0, 1 / (1 + e), e / (1 + e))``, bit for bit, without the
select: a ``where`` over a random sign pattern costs ten times an addition. Autograd differentiates the same code
correctly at ``x = 0`` too, where its derivative of each ``min`` splits the tie in half.
"""

from __future__ import annotations

from typing import Any

__all__ = ["sigmoid_pair", "softplus_pair"]


def softplus_pair(xp: Any, x: Any) -> tuple[Any, Any, tuple[Any, Any, Any]]:
    """``(softplus(-x), softplus(x), parts)`` with the array namespace ``xp`` (NumPy, or autograd's when traced);
    ``parts`` gives the sigmoid pair through :func:`sigmoid_pair` at the cost of two divisions."""
    lower, upper = xp.minimum(x, 0.0), xp.minimum(-x, 0.0)
    exp_lower, exp_upper = xp.exp(lower), xp.exp(upper)
    e = exp_lower * exp_upper  # exp(-|x|)
    tail = xp.log1p(e)
    return tail - lower, tail - upper, (exp_lower, exp_upper, 1.0 + e)


def sigmoid_pair(parts: tuple[Any, Any, Any]) -> tuple[Any, Any]:
    """``(sigmoid(x), sigmoid(-x))`` from the ``parts`` of :func:`softplus_pair`."""
    exp_lower, exp_upper, one_plus_e = parts
    return exp_lower / one_plus_e, exp_upper / one_plus_e
