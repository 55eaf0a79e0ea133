"""The loss under test: binary cross-entropy with logits written in JAX, as a project of yours might have it.

Two versions: the textbook first try, log(sigmoid(x)) and log(1 - sigmoid(x)), and the stable one through
softplus. The tutorial "Validate a JAX implementation" runs the golden vectors against both.
"""

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)  # without it, JAX silently computes float64 inputs in float32


class LossError(ValueError):
    """A rejected call; ``category`` is the kind of error in the conformance suite's vocabulary."""

    def __init__(self, message, category):
        super().__init__(message)
        self.category = category


def check_arguments(input, target, reduction, weight, pos_weight):
    if input.shape != target.shape:
        raise LossError(f"target shape {target.shape} differs from input shape {input.shape}", "shape_mismatch")
    if reduction not in ("none", "mean", "sum"):
        raise LossError(f"reduction must be 'none', 'mean' or 'sum'; got {reduction!r}", "invalid_reduction")
    if not bool(jnp.all((target >= 0) & (target <= 1))):
        raise LossError("target must hold probabilities in [0, 1]", "invalid_target")
    for name, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is None:
            continue
        if not broadcasts_to(w.shape, input.shape):
            raise LossError(f"{name} of shape {w.shape} does not broadcast to the input's {input.shape}",
                            "invalid_weight")
        if not bool(jnp.all(jnp.isfinite(w) & (w >= 0))):
            raise LossError(f"{name} must be finite and non-negative", "invalid_weight")


def broadcasts_to(shape, target_shape):
    """Whether an array of ``shape`` broadcasts to ``target_shape`` without growing it."""
    try:
        return jnp.broadcast_shapes(shape, target_shape) == tuple(target_shape)
    except ValueError:
        return False


def reduce(loss, reduction):
    return {"none": loss, "mean": jnp.mean(loss), "sum": jnp.sum(loss)}[reduction]


def bce_with_logits_first_try(input, target, reduction="mean", weight=None, pos_weight=None):
    input, target = jnp.asarray(input), jnp.asarray(target)
    check_arguments(input, target, reduction, weight, pos_weight)
    p = jax.nn.sigmoid(input)
    pos = 1.0 if pos_weight is None else pos_weight
    loss = -(pos * target * jnp.log(p) + (1 - target) * jnp.log(1 - p))
    return reduce(loss if weight is None else weight * loss, reduction)


def bce_with_logits(input, target, reduction="mean", weight=None, pos_weight=None):
    input, target = jnp.asarray(input), jnp.asarray(target)
    check_arguments(input, target, reduction, weight, pos_weight)
    pos = 1.0 if pos_weight is None else pos_weight
    loss = stable_bce_with_logits(input, target, pos)
    return reduce(loss if weight is None else weight * loss, reduction)


@jax.jit
def stable_bce_with_logits(x, t, pos):
    """pos t softplus(-x) + (1 - t) softplus(x), written so that nothing cancels: for x >= 0 as
    (1 - t) x + (1 + (pos - 1) t) softplus(-x), for x < 0 as (1 + (pos - 1) t) softplus(x) - pos t x. Each form adds
    terms of one sign, and d/dt comes out as -x (for pos = 1) without subtracting two values near log 2."""
    positive = x >= 0
    # the double-where trick: each branch sees only the logits it is used for (0 elsewhere), so the branch that is
    # not used never makes an inf whose gradient, multiplied by 0, would be NaN
    x_pos, x_neg = jnp.where(positive, x, 0.0), jnp.where(positive, 0.0, x)
    scale = 1 + (pos - 1) * t
    loss_pos = (1 - t) * x_pos + scale * jax.nn.softplus(-x_pos)
    loss_neg = scale * jax.nn.softplus(x_neg) - pos * t * x_neg
    return jnp.where(positive, loss_pos, loss_neg)
