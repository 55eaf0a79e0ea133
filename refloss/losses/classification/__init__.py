"""Classification losses: cross-entropies, focal losses and hinge losses."""

from refloss.losses.classification.bce import binary_cross_entropy
from refloss.losses.classification.bce import binary_cross_entropy_keras
from refloss.losses.classification.bce import binary_cross_entropy_keras_vjp
from refloss.losses.classification.bce import binary_cross_entropy_keras_fp32
from refloss.losses.classification.bce import binary_cross_entropy_keras_fp32_vjp
from refloss.losses.classification.bce import binary_cross_entropy_tf_keras
from refloss.losses.classification.bce import binary_cross_entropy_tf_keras_vjp
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
from refloss.losses.classification.margin_embedding import hinge_embedding_loss
from refloss.losses.classification.margin_embedding import hinge_embedding_loss_vjp
from refloss.losses.classification.margin_embedding import margin_ranking_loss
from refloss.losses.classification.margin_embedding import margin_ranking_loss_vjp
from refloss.losses.classification.margin_embedding import soft_margin_loss
from refloss.losses.classification.margin_embedding import soft_margin_loss_vjp
from refloss.losses.classification.multi_margin import multi_margin_loss
from refloss.losses.classification.multi_margin import multi_margin_loss_vjp
from refloss.losses.classification.multilabel import multilabel_margin_loss
from refloss.losses.classification.multilabel import multilabel_margin_loss_vjp
from refloss.losses.classification.multilabel import multilabel_soft_margin_loss
from refloss.losses.classification.multilabel import multilabel_soft_margin_loss_vjp
from refloss.losses.classification.kl_div import kl_div
from refloss.losses.classification.kl_div import kl_div_vjp
from refloss.losses.classification.sigmoid_focal import sigmoid_focal_loss
from refloss.losses.classification.softmax_focal import softmax_focal_loss
from refloss.losses.classification.softmax_focal import softmax_focal_loss_vjp
from refloss.losses.classification.sigmoid_focal import sigmoid_focal_loss_vjp
from refloss.losses.classification.poly import poly1_cross_entropy
from refloss.losses.classification.poly import poly1_cross_entropy_vjp
from refloss.losses.classification.sparse import sparsemax_loss
from refloss.losses.classification.sparse import sparsemax_loss_vjp
from refloss.losses.classification.keras_hinge import categorical_hinge_loss
from refloss.losses.classification.keras_hinge import categorical_hinge_loss_vjp
from refloss.losses.classification.keras_hinge import multiclass_hinge_loss
from refloss.losses.classification.keras_hinge import multiclass_hinge_loss_vjp

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_keras",
    "binary_cross_entropy_keras_vjp",
    "binary_cross_entropy_keras_fp32",
    "binary_cross_entropy_keras_fp32_vjp",
    "binary_cross_entropy_tf_keras",
    "binary_cross_entropy_tf_keras_vjp",
    "binary_cross_entropy_vjp",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_vjp",
    "cross_entropy",
    "cross_entropy_vjp",
    "hinge_loss",
    "hinge_loss_vjp",
    "multi_margin_loss",
    "multi_margin_loss_vjp",
    "multilabel_margin_loss",
    "multilabel_margin_loss_vjp",
    "multilabel_soft_margin_loss",
    "multilabel_soft_margin_loss_vjp",
    "kl_div",
    "kl_div_vjp",
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
    "hinge_embedding_loss",
    "hinge_embedding_loss_vjp",
    "margin_ranking_loss",
    "margin_ranking_loss_vjp",
    "soft_margin_loss",
    "soft_margin_loss_vjp",
    "categorical_hinge_loss",
    "categorical_hinge_loss_vjp",
    "multiclass_hinge_loss",
    "multiclass_hinge_loss_vjp",
]
