"""What the sigmoid-based losses share: softplus of x and of -x, and the sigmoid pair, from one exponential.

With :math:`e = e^{-|x|} \\in (0, 1]` (never an overflow),

* :math:`\\operatorname{softplus}(\\pm x) = \\max(\\pm x, 0) + \\operatorname{log1p}(e)`: the costs
  :math:`-\\log\\sigma(x)` and :math:`-\\log(1 - \\sigma(x))`, exact for logits of any magnitude (B2);
* :math:`\\sigma(|x|) = 1 / (1 + e)` and :math:`\\sigma(-|x|) = e / (1 + e)`, so :math:`\\sigma(x)` and
  :math:`1 - \\sigma(x) = \\sigma(-x)` each come without the cancellation of ``1 - sigmoid(x)``.

The exponential and the ``log1p`` are the expensive steps of these losses; computing them once serves the value
and the gradient alike (``refloss.value_and_vjp``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sigmoid_pair", "softplus_pair"]


def softplus_pair(xp: Any, x: Any) -> tuple[Any, Any, Any]:
    """``(softplus(-x), softplus(x), exp(-|x|))`` with the array namespace ``xp`` (NumPy, or autograd's).

    Traced by autograd, the same values are written with ``where``: its derivative at ``x = 0`` is that of one
    branch, which differentiates ``softplus`` and the sigmoid of ``exp(-|x|)`` correctly there, where autograd's
    derivative of ``|x|`` at 0 (taken as 0) would not. NumPy's ``abs`` and ``maximum`` give the same values
    faster.
    """
    if xp is np:
        e = np.exp(-np.abs(x))
        tail = np.log1p(e)
        return np.maximum(-x, 0.0) + tail, np.maximum(x, 0.0) + tail, e
    positive = x >= 0
    e = xp.exp(xp.where(positive, -x, x))
    tail = xp.log1p(e)
    return xp.where(positive, 0.0, -x) + tail, xp.where(positive, x, 0.0) + tail, e


def sigmoid_pair(xp: Any, x: Any, e: Any) -> tuple[Any, Any]:
    """``(sigmoid(x), sigmoid(-x))`` from ``e = exp(-|x|)``, each accurate to its last bits (no cancellation)."""
    one_plus_e = 1.0 + e
    large, small = 1.0 / one_plus_e, e / one_plus_e  # sigmoid(|x|) and sigmoid(-|x|)
    positive = x >= 0
    return xp.where(positive, large, small), xp.where(positive, small, large)
