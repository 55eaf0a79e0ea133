"""mpmath oracles of the classification losses, written from the textbook definitions."""

from __future__ import annotations

import mpmath
from mpmath import mpf

from refloss.conformance.oracle import rounding as r
from refloss.conformance.oracle.elementwise import ElementwiseOracle, enough_precision

__all__ = ["ORACLES"]


def _bce_with_logits(x: mpf, y: mpf, p: dict) -> mpf:
    # -[pos_weight y log sigma(x) + (1 - y) log(1 - sigma(x))]: 1 - sigma(x) cancels for large x, so carry about
    # 1.5 |x| extra bits (e^-|x| needs |x| / ln 2 bits below 1).
    pos_weight = p.get("pos_weight", mpf(1))
    with mpmath.workprec(mpmath.mp.prec + int(1.5 * abs(x)) + 64):
        sigma = 1 / (1 + mpmath.exp(-x))
        positive = y * mpmath.log(sigma) if y != 0 else mpf(0)  # 0 log 0 terms are absent, not NaN
        negative = (1 - y) * mpmath.log(1 - sigma) if y != 1 else mpf(0)
        return -(pos_weight * positive + negative)


def _sigmoid_focal(x: mpf, y: mpf, p: dict) -> mpf:
    # Lin et al. (2017): alpha_t (1 - p_t)^gamma CE with p_t = p y + (1 - p)(1 - y), alpha disabled when < 0
    alpha, gamma = p["alpha"], p["gamma"]
    with mpmath.workprec(mpmath.mp.prec + int(1.5 * abs(x)) + 64):
        sigma = 1 / (1 + mpmath.exp(-x))
        positive = y * mpmath.log(sigma) if y != 0 else mpf(0)
        negative = (1 - y) * mpmath.log(1 - sigma) if y != 1 else mpf(0)
        p_t = sigma * y + (1 - sigma) * (1 - y)
        alpha_t = mpf(1) if alpha < 0 else alpha * y + (1 - alpha) * (1 - y)
        return alpha_t * (1 - p_t) ** gamma * -(positive + negative)


def _bce_probabilities(p: mpf, y: mpf, params: dict) -> mpf:
    # PyTorch's documented formula: -[y max(log p, -100) + (1 - y) max(log(1 - p), -100)], 0 log 0 terms absent.
    # Outside [0, 1] (where one-sided differences step) p is held at the bound: the loss has no values there.
    p = min(max(p, mpf(0)), mpf(1))
    floor = mpf(-100)
    positive = y * max(mpmath.log(p), floor) if y != 0 else mpf(0)
    with enough_precision(p):  # log(1 - p) for tiny p
        negative = (1 - y) * max(mpmath.log(1 - p), floor) if y != 1 else mpf(0)
    return -(positive + negative)


def _bce_kink_distance(p: mpf, y: mpf, params: dict) -> mpf:
    """0 at p = 0 or 1 (one-sided there) and at the clamp thresholds p = e^-100, 1 - p = e^-100."""
    threshold = mpmath.exp(-100)
    return min(abs(p), abs(1 - p), abs(p - threshold), abs(1 - p - threshold))


def _hinge_label(y: mpf) -> mpf:
    return mpf(-1) if y == 0 else y  # {0, 1} labels mean {-1, +1}


def _hinge(x: mpf, y: mpf, params: dict) -> mpf:
    return max(mpf(0), 1 - _hinge_label(y) * x)  # Cortes & Vapnik: max(0, 1 - y f(x))


def _squared_hinge(x: mpf, y: mpf, params: dict) -> mpf:
    return max(mpf(0), 1 - _hinge_label(y) * x) ** 2


def _margin_distance(x: mpf, y: mpf, params: dict) -> mpf:
    return abs(1 - _hinge_label(y) * x)


def _bce_keras(p: mpf, y: mpf, params: dict) -> mpf:
    # Keras: clip p to [eps, 1 - eps] with 1 - eps as Keras computes it in float64, then plain logs
    eps = params.get("epsilon", mpf(1e-7))
    upper = mpf(1.0 - float(eps))
    clipped = min(max(p, eps), upper)
    return -(y * mpmath.log(clipped) + (1 - y) * mpmath.log(1 - clipped))


def _keras_clip_distance(p: mpf, y: mpf, params: dict) -> mpf:
    eps = params.get("epsilon", mpf(1e-7))
    return min(abs(p - eps), abs(p - mpf(1.0 - float(eps))))


# ---- standard algorithms (error bounds of policy_v2; see refloss.conformance.oracle.rounding) -------------------

def _logit_precision(x: mpf):
    """Exact arithmetic cancels too (sigmoid(x) - 1 at x = 1e4 is e^-1e4): 1.5 |x| extra bits, as the oracles
    above carry."""
    return mpmath.workprec(mpmath.mp.prec + int(1.5 * abs(x)) + 64)


def _bce_with_logits_standard(x: mpf, y: mpf, p: dict) -> tuple:
    with _logit_precision(x):
        return _bce_with_logits_bounds(x, y, p)


def _bce_with_logits_bounds(x: mpf, y: mpf, p: dict) -> tuple:
    # value: the softplus form (B1), no cancellation; d/dx: PyTorch's sigmoid(x) (1 + (p - 1) y) - p y, the plain
    # difference every framework computes; d/dy: (p - 1) softplus(-x) - x (B4'), exact -x for p = 1.
    pos_weight = p.get("pos_weight", mpf(1))
    terms = ([pos_weight * y * r.softplus(-x)] if y != 0 else []) + ([(1 - y) * r.softplus(x)] if y != 1 else [])
    if pos_weight == 1:
        dx, dy = r.sigmoid(x) - y, r.exact(-x)
    else:
        dx = r.sigmoid(x) * (1 + (pos_weight - 1) * y) - pos_weight * y
        dy = (pos_weight - 1) * r.softplus(-x) - x
    return r.total(terms), dx, dy


def _focal_label_scale(x: mpf, y: mpf, p: dict) -> mpf:
    """1 - p_t at a hard label is sigma(-|x|) or larger, about e^-|x|: the label moves (1 - p_t)^gamma on that
    scale, which is tiny for a saturated logit."""
    with _logit_precision(x):
        return min(mpf(1), 1 / (1 + mpmath.exp(abs(x))))


def _sigmoid_focal_standard(x: mpf, y: mpf, p: dict) -> tuple:
    with _logit_precision(x):
        return _sigmoid_focal_bounds(x, y, p)


def _sigmoid_focal_bounds(x: mpf, y: mpf, p: dict) -> tuple:
    # The focal factor (1 - p_t)^gamma is the point of the loss, so 1 - p_t is computed as a complement that keeps
    # its relative accuracy (sigmoid(-x) for y = 1), and so is sigmoid(x) - y; a plain 1 - sigmoid(x) is 0 at
    # x = 40 and loses the easy examples' gradients (FocalSaturation vectors).
    alpha, gamma = p["alpha"], p["gamma"]
    s, s_minus = r.sigmoid(x), r.sigmoid(-x)
    ce = r.total(([y * r.softplus(-x)] if y != 0 else []) + ([(1 - y) * r.softplus(x)] if y != 1 else []))
    q = r.total(([y * s_minus] if y != 0 else []) + ([(1 - y) * s] if y != 1 else []))  # 1 - p_t
    alpha_t = r.exact(1) if alpha < 0 else alpha * y + (1 - alpha) * (1 - y)
    focal = r.power(q, gamma)
    ce_slope = r.total(([(1 - y) * s] if y != 1 else []) + ([-(y * s_minus)] if y != 0 else []))
    slope = ce_slope * focal
    if gamma != 0:
        slope = slope + gamma * r.power(q, gamma - 1) * ((1 - 2 * y) * s * s_minus) * ce
    # d/dy (soft labels): q^gamma [(2 alpha - 1) c + alpha_t (gamma (1 - 2p) c / q - x)], the plain product rule
    # with q^(gamma - 1) c written as q^gamma c / q (both 0 where q = 0)
    alpha_slope = r.exact(0) if alpha < 0 else r.exact(2 * alpha - 1)
    inner = r.exact(-x)
    if gamma != 0 and q.value != 0:
        inner = gamma * (s_minus - s) * (ce / q) + inner
    target_slope = focal * (alpha_slope * ce + alpha_t * inner)
    return alpha_t * focal * ce, alpha_t * slope, target_slope


def _clamped(log_value: r.Bound, floor: mpf) -> r.Bound:
    """max(log, floor): the floor is exact when it applies."""
    return log_value if log_value.value > floor else r.exact(floor)


def _bce_probabilities_standard(p: mpf, y: mpf, params: dict) -> tuple:
    # log p and log1p(-p), each clamped at -100 (PyTorch); d/dp = (p - y) / (p (1 - p)) where neither term is
    # clamped (a clamped term is constant: the other term's slope alone); d/dy = log1p(-p) - log p.
    p = min(max(p, mpf(0)), mpf(1))
    floor = mpf(-100)
    log_p = _clamped(r.log(p), floor) if p > 0 else r.exact(floor)
    log_q = _clamped(r.log1p(-p), floor) if p < 1 else r.exact(floor)
    value = -r.total(([y * log_p] if y != 0 else []) + ([(1 - y) * log_q] if y != 1 else []))
    live_p, live_q = log_p.value > floor, log_q.value > floor
    if live_p and live_q:
        dp = (r.exact(p) - y) / (r.exact(p) * (1 - r.exact(p)))
    elif live_q:
        dp = (1 - r.exact(y)) / (1 - r.exact(p))
    elif live_p:
        dp = -(y / r.exact(p))
    else:
        dp = r.exact(0)
    return value, dp, log_q - log_p


def _bce_keras_standard(p: mpf, y: mpf, params: dict) -> tuple:
    # Keras's clip to [eps, 1 - eps], then -(y log c + (1 - y) log1p(-c)) (Keras writes log(1 - c), which loses
    # the relative accuracy of a small 1 - c; the variant is the clip, not that rounding); d/dp = (c - y) /
    # (c (1 - c)) inside the clip (0 outside); d/dy = log1p(-c) - log c.
    eps = params.get("epsilon", mpf(1e-7))
    upper = mpf(1.0 - float(eps))
    c = min(max(p, eps), upper)
    log_c, log_q = r.log(c), r.log1p(-c)
    value = -r.total(([y * log_c] if y != 0 else []) + ([(1 - y) * log_q] if y != 1 else []))
    dp = (r.exact(c) - y) / (r.exact(c) * (1 - r.exact(c))) if eps <= p <= upper else r.exact(0)
    return value, dp, log_q - log_c


def _float32(value: mpf) -> mpf:
    """``value`` rounded to nearest at float32's 24-bit significand (the constants here are normal float32s)."""
    with mpmath.workprec(24):
        return +value


def _keras_float32_bounds(params: dict) -> tuple:
    # Keras 3 on float32 tensors: jnp.clip(output, eps, 1.0 - eps) forms 1 - eps in Python float64, then both
    # bounds become float32 constants
    eps = params.get("epsilon", mpf(1e-7))
    return _float32(eps), _float32(mpf(1.0 - float(eps)))


def _tf_keras_float32_bounds(params: dict) -> tuple:
    # tf-keras on float32 tensors: epsilon_ = float32(eps); clip_by_value(output, epsilon_, 1. - epsilon_), the
    # subtraction in float32
    low = _float32(params.get("epsilon", mpf(1e-7)))
    return low, _float32(1 - low)


def _shifted_clip_value(p: mpf, y: mpf, low: mpf, high: mpf, shift: mpf) -> mpf:
    clipped = min(max(p, low), high)
    return -(y * mpmath.log(clipped + shift) + (1 - y) * mpmath.log(1 - clipped + shift))


def _bce_keras_float32(p: mpf, y: mpf, params: dict) -> mpf:
    return _shifted_clip_value(p, y, *_keras_float32_bounds(params), mpf(0))


def _bce_tf_keras(p: mpf, y: mpf, params: dict) -> mpf:
    # tf-keras: clip, then log(c + eps) and log(1 - c + eps), eps the float32 constant as well
    low, high = _tf_keras_float32_bounds(params)
    return _shifted_clip_value(p, y, low, high, low)


def _keras_float32_clip_distance(p: mpf, y: mpf, params: dict) -> mpf:
    return min(abs(p - bound) for bound in _keras_float32_bounds(params))


def _tf_keras_clip_distance(p: mpf, y: mpf, params: dict) -> mpf:
    return min(abs(p - bound) for bound in _tf_keras_float32_bounds(params))


def _shifted_clip_standard(p: mpf, y: mpf, low: mpf, high: mpf, shift: mpf) -> tuple:
    # log(c + s) (c + s rounds once unless s = 0) and log1p(s - c) (s - c rounds once, then a well-conditioned
    # log1p: 1 - c + s is at least 2^-23); d/dp = (c + s - y (1 + 2 s)) / ((c + s)(1 - c + s)) inside the clip
    # (bounds included), 0 outside; d/dy = log1p(s - c) - log(c + s).
    c = min(max(p, low), high)
    if shift:
        up, down, scale = r.exact(c) + shift, r.exact(shift) - c, 1 + 2 * r.exact(shift)
    else:  # Keras 3: c and -c are exact
        up, down, scale = r.exact(c), r.exact(-c), r.exact(1)
    log_up, log_down = r.log(up), r.log1p(down)
    value = -r.total(([y * log_up] if y != 0 else []) + ([(1 - y) * log_down] if y != 1 else []))
    inside = low <= p <= high
    dp = (up - y * scale) / (up * (1 + down)) if inside else r.exact(0)
    return value, dp, log_down - log_up


def _bce_keras_float32_standard(p: mpf, y: mpf, params: dict) -> tuple:
    return _shifted_clip_standard(p, y, *_keras_float32_bounds(params), mpf(0))


def _bce_tf_keras_standard(p: mpf, y: mpf, params: dict) -> tuple:
    low, high = _tf_keras_float32_bounds(params)
    return _shifted_clip_standard(p, y, low, high, low)


def _hinge_standard(x: mpf, y: mpf, params: dict) -> tuple:
    margin = 1 - r.exact(_hinge_label(y) * x)  # y x is exact for y = +-1
    hinge = margin if margin.value > 0 else r.Bound(0, margin.err if margin.value == 0 else 0)
    return hinge, r.exact(-_hinge_label(y) if margin.value > 0 else 0), None


def _squared_hinge_standard(x: mpf, y: mpf, params: dict) -> tuple:
    hinge, _, _ = _hinge_standard(x, y, params)
    return hinge * hinge, -2 * _hinge_label(y) * hinge, None



ORACLES = {
    "binary_cross_entropy_with_logits": ElementwiseOracle(_bce_with_logits, _bce_with_logits_standard,
                                                          mean_over_weights=False),
    "sigmoid_focal_loss": ElementwiseOracle(_sigmoid_focal, _sigmoid_focal_standard, label_domain=(mpf(0), mpf(1)),
                                            label_scale=_focal_label_scale),
    "binary_cross_entropy": ElementwiseOracle(_bce_probabilities, _bce_probabilities_standard,
                                              kink_distance=_bce_kink_distance, mean_over_weights=False),
    "binary_cross_entropy_keras": ElementwiseOracle(_bce_keras, _bce_keras_standard,
                                                    kink_distance=_keras_clip_distance),
    "binary_cross_entropy_keras_fp32": ElementwiseOracle(_bce_keras_float32, _bce_keras_float32_standard,
                                                            kink_distance=_keras_float32_clip_distance),
    "binary_cross_entropy_tf_keras": ElementwiseOracle(_bce_tf_keras, _bce_tf_keras_standard,
                                                       kink_distance=_tf_keras_clip_distance),
    "hinge_loss": ElementwiseOracle(_hinge, _hinge_standard, kink_distance=_margin_distance),
    "squared_hinge_loss": ElementwiseOracle(_squared_hinge, _squared_hinge_standard,
                                            kink_distance=_margin_distance),
}
