"""mpmath oracles of kl_div, multilabel_soft_margin_loss and multilabel_margin_loss, from their definitions.

kl_div is elementwise (evaluated by :mod:`refloss.conformance.oracle.evaluate`, whose reductions include kl_div's
``batchmean``); the two multi-label losses couple the classes of a sample (evaluated by
:mod:`refloss.conformance.oracle.tensor`).
"""

from __future__ import annotations

import mpmath
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.elementwise import ElementwiseOracle

__all__ = ["ORACLES"]


# ---- kl_div -------------------------------------------------------------------------------------------------------

def _kl_div(x: mpf, t: mpf, p: dict) -> mpf:
    """Kullback & Leibler, one term of KL(t || exp(x)): t (log t - x), with 0 log 0 = 0 (PyTorch's xlogy); with
    log_target the target is u = log t and the term is e^u (u - x). A negative probability has no value (NaN:
    one-sided differences at t = 0 step there)."""
    if p.get("log_target", 0):
        return mpmath.exp(t) * (t - x)
    if t < 0:
        return mpmath.nan
    return t * (mpmath.log(t) - x) if t != 0 else mpf(0)


def _kl_div_standard(x: mpf, t: mpf, p: dict) -> tuple:
    """As refloss and PyTorch compute it: xlogy(t, t) - t x; d/dx = -t, d/dt = (log t + 1) - x (none at t = 0);
    with log_target: e^u (u - x), d/dx = -e^u, d/du = e^u ((u - x) + 1)."""
    if p.get("log_target", 0):
        weight = r.exp(t)
        return weight * (r.exact(t) - x), -weight, weight * ((r.exact(t) - x) + 1)
    if t == 0:
        return r.exact(0), r.exact(0), None
    return r.exact(t) * r.log(t) - r.exact(t) * x, r.exact(-t), (r.log(t) + 1) - x


def _kl_div_kink(x: mpf, t: mpf, p: dict) -> mpf:
    """0 at t = 0 (log_target=False), where the target's derivative does not exist (one-sided there: NaN)."""
    return mpmath.inf if p.get("log_target", 0) else abs(t)


ORACLES = {
    "kl_div": ElementwiseOracle(_kl_div, _kl_div_standard, kink_distance=_kl_div_kink),
}
