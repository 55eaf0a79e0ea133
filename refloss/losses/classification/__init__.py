"""Classification losses: cross-entropies, focal losses and hinge losses."""

from refloss.losses.classification.bce import binary_cross_entropy
from refloss.losses.classification.bce import binary_cross_entropy_keras
from refloss.losses.classification.bce import binary_cross_entropy_keras_vjp
from refloss.losses.classification.bce import binary_cross_entropy_vjp
from refloss.losses.classification.bce_with_logits import binary_cross_entropy_with_logits
from refloss.losses.classification.bce_with_logits import binary_cross_entropy_with_logits_vjp
from refloss.losses.classification.cross_entropy import cross_entropy
from refloss.losses.classification.cross_entropy import cross_entropy_vjp
from refloss.losses.classification.cross_entropy import nll_loss
from refloss.losses.classification.cross_entropy import nll_loss_vjp
from refloss.losses.classification.hinge import hinge_loss
from refloss.losses.classification.hinge import hinge_loss_vjp
from refloss.losses.classification.hinge import squared_hinge_loss
from refloss.losses.classification.hinge import squared_hinge_loss_vjp
from refloss.losses.classification.multi_margin import multi_margin_loss
from refloss.losses.classification.multi_margin import multi_margin_loss_vjp
from refloss.losses.classification.sigmoid_focal import sigmoid_focal_loss
from refloss.losses.classification.softmax_focal import softmax_focal_loss
from refloss.losses.classification.softmax_focal import softmax_focal_loss_vjp
from refloss.losses.classification.sigmoid_focal import sigmoid_focal_loss_vjp
from refloss.losses.classification.poly import poly1_cross_entropy
from refloss.losses.classification.poly import poly1_cross_entropy_vjp
from refloss.losses.classification.sparse import sparsemax_loss
from refloss.losses.classification.sparse import sparsemax_loss_vjp

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_keras",
    "binary_cross_entropy_keras_vjp",
    "binary_cross_entropy_vjp",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_vjp",
    "cross_entropy",
    "cross_entropy_vjp",
    "hinge_loss",
    "hinge_loss_vjp",
    "multi_margin_loss",
    "multi_margin_loss_vjp",
    "nll_loss",
    "nll_loss_vjp",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_vjp",
    "softmax_focal_loss",
    "softmax_focal_loss_vjp",
    "squared_hinge_loss",
    "squared_hinge_loss_vjp",
    "poly1_cross_entropy",
    "poly1_cross_entropy_vjp",
    "sparsemax_loss",
    "sparsemax_loss_vjp",
]
