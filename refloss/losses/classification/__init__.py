"""Classification losses: binary cross-entropy (on logits), ..."""

from refloss.losses.classification.bce_with_logits import binary_cross_entropy_with_logits
from refloss.losses.classification.bce_with_logits import binary_cross_entropy_with_logits_vjp

__all__ = ["binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_vjp"]
