"""refloss: reference NumPy implementations of machine-learning losses with hand-derived gradients.

Every loss is a function ``refloss.<name>(...)`` with its vector-Jacobian product ``refloss.<name>_vjp(grad_output,
*inputs, **params)`` beside it; ``refloss.registry`` describes them all.
"""

from refloss import _registry as registry
from refloss.activations import log_sigmoid
from refloss.activations import log_sigmoid_vjp
from refloss.activations import log_softmax
from refloss.activations import log_softmax_vjp
from refloss.activations import one_hot
from refloss.activations import sigmoid
from refloss.activations import sigmoid_vjp
from refloss.activations import softmax
from refloss.activations import softmax_vjp
from refloss.boxes import balanced_sample
from refloss.boxes import batched_nms
from refloss.boxes import box_area
from refloss.boxes import box_area_vjp
from refloss.boxes import box_convert
from refloss.boxes import box_convert_vjp
from refloss.boxes import box_iou
from refloss.boxes import complete_box_iou
from refloss.boxes import decode_boxes
from refloss.boxes import decode_boxes_vjp
from refloss.boxes import decode_ssd_boxes
from refloss.boxes import decode_ssd_boxes_vjp
from refloss.boxes import decode_yolo_boxes
from refloss.boxes import decode_yolo_boxes_vjp
from refloss.boxes import diou_nms
from refloss.boxes import distance_box_iou
from refloss.boxes import encode_boxes
from refloss.boxes import encode_boxes_vjp
from refloss.boxes import encode_ssd_boxes
from refloss.boxes import encode_ssd_boxes_vjp
from refloss.boxes import encode_yolo_boxes
from refloss.boxes import encode_yolo_boxes_vjp
from refloss.boxes import generalized_box_iou
from refloss.boxes import hard_negatives
from refloss.boxes import match_anchors
from refloss.boxes import match_priors
from refloss.boxes import nms
from refloss.losses.boxes import ciou_loss
from refloss.losses.boxes import ciou_loss_vjp
from refloss.losses.boxes import diou_loss
from refloss.losses.boxes import diou_loss_vjp
from refloss.losses.boxes import eiou_loss
from refloss.losses.boxes import eiou_loss_vjp
from refloss.losses.boxes import giou_loss
from refloss.losses.boxes import giou_loss_vjp
from refloss.losses.boxes import iou_loss
from refloss.losses.boxes import iou_loss_vjp
from refloss.losses.boxes import log_iou_loss
from refloss.losses.boxes import log_iou_loss_vjp
from refloss.losses.boxes import siou_loss
from refloss.losses.boxes import siou_loss_vjp
from refloss.losses.classification import binary_cross_entropy
from refloss.losses.classification import binary_cross_entropy_keras
from refloss.losses.classification import binary_cross_entropy_keras_vjp
from refloss.losses.classification import binary_cross_entropy_keras_fp32
from refloss.losses.classification import binary_cross_entropy_keras_fp32_vjp
from refloss.losses.classification import binary_cross_entropy_tf_keras
from refloss.losses.classification import binary_cross_entropy_tf_keras_vjp
from refloss.losses.classification import binary_cross_entropy_vjp
from refloss.losses.classification import binary_cross_entropy_with_logits
from refloss.losses.classification import binary_cross_entropy_with_logits_vjp
from refloss.losses.classification import cross_entropy
from refloss.losses.classification import cross_entropy_vjp
from refloss.losses.classification import hinge_loss
from refloss.losses.classification import hinge_loss_vjp
from refloss.losses.classification import multi_margin_loss
from refloss.losses.classification import multi_margin_loss_vjp
from refloss.losses.classification import multilabel_margin_loss
from refloss.losses.classification import multilabel_margin_loss_vjp
from refloss.losses.classification import multilabel_soft_margin_loss
from refloss.losses.classification import multilabel_soft_margin_loss_vjp
from refloss.losses.classification import kl_div
from refloss.losses.classification import kl_div_vjp
from refloss.losses.classification import nll_loss
from refloss.losses.classification import nll_loss_vjp
from refloss.losses.classification import sigmoid_focal_loss
from refloss.losses.classification import sigmoid_focal_loss_vjp
from refloss.losses.classification import softmax_focal_loss
from refloss.losses.classification import softmax_focal_loss_vjp
from refloss.losses.classification import squared_hinge_loss
from refloss.losses.classification import squared_hinge_loss_vjp
from refloss.losses.classification import poly1_cross_entropy
from refloss.losses.classification import poly1_cross_entropy_vjp
from refloss.losses.classification import sparsemax_loss
from refloss.losses.classification import sparsemax_loss_vjp
from refloss.losses.embedding import cosine_similarity_loss
from refloss.losses.embedding import cosine_similarity_loss_vjp
from refloss.losses.segmentation import dice_loss
from refloss.losses.segmentation import dice_loss_vjp
from refloss.losses.segmentation import tversky_loss
from refloss.losses.segmentation import tversky_loss_vjp
from refloss.losses.classification import hinge_embedding_loss
from refloss.losses.classification import hinge_embedding_loss_vjp
from refloss.losses.classification import margin_ranking_loss
from refloss.losses.classification import margin_ranking_loss_vjp
from refloss.losses.classification import soft_margin_loss
from refloss.losses.classification import soft_margin_loss_vjp
from refloss.losses.detectors import ssd_loss
from refloss.losses.detectors import ssd_loss_vjp
from refloss.losses.detectors import ssd_targets
from refloss.losses.detectors import fast_rcnn_loss
from refloss.losses.detectors import fast_rcnn_loss_vjp
from refloss.losses.detectors import fast_rcnn_sample
from refloss.losses.detectors import fast_rcnn_targets
from refloss.losses.detectors import retinanet_loss
from refloss.losses.detectors import retinanet_loss_vjp
from refloss.losses.detectors import retinanet_targets
from refloss.losses.detectors import rpn_loss
from refloss.losses.detectors import rpn_loss_vjp
from refloss.losses.detectors import rpn_sample
from refloss.losses.detectors import rpn_targets
from refloss.losses.detectors import yolov1_loss
from refloss.losses.detectors import yolov1_loss_vjp
from refloss.losses.detectors import yolov1_targets
from refloss.losses.detectors import yolov3_eriklindernoren_loss
from refloss.losses.detectors import yolov3_eriklindernoren_loss_vjp
from refloss.losses.detectors import yolov3_eriklindernoren_targets
from refloss.losses.detectors import yolov3_layout
from refloss.losses.detectors import yolov3_loss
from refloss.losses.detectors import yolov3_loss_vjp
from refloss.losses.detectors import yolov3_targets
from refloss.losses.regression import balanced_l1_loss
from refloss.losses.regression import balanced_l1_loss_vjp
from refloss.losses.regression import huber_loss
from refloss.losses.regression import huber_loss_vjp
from refloss.losses.regression import l1_loss
from refloss.losses.regression import l1_loss_vjp
from refloss.losses.regression import log_cosh_loss
from refloss.losses.regression import log_cosh_loss_vjp
from refloss.losses.regression import mse_loss
from refloss.losses.regression import mse_loss_vjp
from refloss.losses.regression import smooth_l1_loss
from refloss.losses.regression import smooth_l1_loss_vjp
from refloss.losses.regression import poisson_nll_loss
from refloss.losses.regression import poisson_nll_loss_vjp
from refloss.losses.regression import gaussian_nll_loss
from refloss.losses.regression import gaussian_nll_loss_vjp
from refloss.losses.regression import mean_absolute_percentage_error
from refloss.losses.regression import mean_absolute_percentage_error_vjp
from refloss.losses.regression import mean_squared_logarithmic_error
from refloss.losses.regression import mean_squared_logarithmic_error_vjp
from refloss.losses.regression import poisson_loss
from refloss.losses.regression import poisson_loss_vjp
from refloss.losses.classification import categorical_hinge_loss
from refloss.losses.classification import categorical_hinge_loss_vjp
from refloss.losses.classification import multiclass_hinge_loss
from refloss.losses.classification import multiclass_hinge_loss_vjp
from refloss.losses.embedding import cosine_embedding_loss
from refloss.losses.embedding import cosine_embedding_loss_vjp
from refloss.losses.embedding import cosine_similarity
from refloss.losses.embedding import cosine_similarity_vjp
from refloss.losses.embedding import pairwise_distance
from refloss.losses.embedding import pairwise_distance_vjp
from refloss.losses.embedding import triplet_margin_loss
from refloss.losses.embedding import triplet_margin_loss_vjp
from refloss.losses.embedding import triplet_margin_with_distance_loss
from refloss.losses.embedding import triplet_margin_with_distance_loss_vjp
from refloss.losses.sequence import ctc_loss
from refloss.losses.sequence import ctc_loss_vjp
from refloss.fused import value_and_vjp

__version__ = "0.6.0"

__all__ = [
    "balanced_l1_loss",
    "balanced_l1_loss_vjp",
    "balanced_sample",
    "batched_nms",
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
    "box_area",
    "box_area_vjp",
    "box_convert",
    "box_convert_vjp",
    "box_iou",
    "ciou_loss",
    "ciou_loss_vjp",
    "complete_box_iou",
    "cosine_embedding_loss",
    "cosine_embedding_loss_vjp",
    "cosine_similarity",
    "cosine_similarity_vjp",
    "cross_entropy",
    "cross_entropy_vjp",
    "ctc_loss",
    "ctc_loss_vjp",
    "decode_boxes",
    "decode_boxes_vjp",
    "decode_ssd_boxes",
    "decode_ssd_boxes_vjp",
    "decode_yolo_boxes",
    "decode_yolo_boxes_vjp",
    "diou_loss",
    "diou_loss_vjp",
    "diou_nms",
    "distance_box_iou",
    "eiou_loss",
    "eiou_loss_vjp",
    "encode_boxes",
    "encode_boxes_vjp",
    "encode_ssd_boxes",
    "encode_ssd_boxes_vjp",
    "encode_yolo_boxes",
    "encode_yolo_boxes_vjp",
    "fast_rcnn_loss",
    "fast_rcnn_loss_vjp",
    "fast_rcnn_sample",
    "fast_rcnn_targets",
    "generalized_box_iou",
    "giou_loss",
    "giou_loss_vjp",
    "hard_negatives",
    "hinge_loss",
    "hinge_loss_vjp",
    "huber_loss",
    "huber_loss_vjp",
    "iou_loss",
    "iou_loss_vjp",
    "l1_loss",
    "l1_loss_vjp",
    "log_cosh_loss",
    "log_cosh_loss_vjp",
    "log_iou_loss",
    "log_iou_loss_vjp",
    "log_sigmoid",
    "log_sigmoid_vjp",
    "log_softmax",
    "log_softmax_vjp",
    "match_anchors",
    "match_priors",
    "mse_loss",
    "mse_loss_vjp",
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
    "nms",
    "one_hot",
    "pairwise_distance",
    "pairwise_distance_vjp",
    "registry",
    "retinanet_loss",
    "retinanet_loss_vjp",
    "retinanet_targets",
    "rpn_loss",
    "rpn_loss_vjp",
    "rpn_sample",
    "rpn_targets",
    "sigmoid",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_vjp",
    "sigmoid_vjp",
    "siou_loss",
    "siou_loss_vjp",
    "smooth_l1_loss",
    "smooth_l1_loss_vjp",
    "softmax",
    "softmax_focal_loss",
    "softmax_focal_loss_vjp",
    "softmax_vjp",
    "squared_hinge_loss",
    "squared_hinge_loss_vjp",
    "hinge_embedding_loss",
    "hinge_embedding_loss_vjp",
    "margin_ranking_loss",
    "margin_ranking_loss_vjp",
    "soft_margin_loss",
    "soft_margin_loss_vjp",
    "ssd_loss",
    "ssd_loss_vjp",
    "ssd_targets",
    "triplet_margin_loss",
    "triplet_margin_loss_vjp",
    "triplet_margin_with_distance_loss",
    "triplet_margin_with_distance_loss_vjp",
    "yolov1_loss",
    "yolov1_loss_vjp",
    "yolov1_targets",
    "yolov3_eriklindernoren_loss",
    "yolov3_eriklindernoren_loss_vjp",
    "yolov3_eriklindernoren_targets",
    "yolov3_layout",
    "yolov3_loss",
    "yolov3_loss_vjp",
    "value_and_vjp",
    "yolov3_targets",
    "poly1_cross_entropy",
    "poly1_cross_entropy_vjp",
    "sparsemax_loss",
    "sparsemax_loss_vjp",
    "cosine_similarity_loss",
    "cosine_similarity_loss_vjp",
    "dice_loss",
    "dice_loss_vjp",
    "tversky_loss",
    "tversky_loss_vjp",
    "poisson_nll_loss",
    "poisson_nll_loss_vjp",
    "gaussian_nll_loss",
    "gaussian_nll_loss_vjp",
    "mean_absolute_percentage_error",
    "mean_absolute_percentage_error_vjp",
    "mean_squared_logarithmic_error",
    "mean_squared_logarithmic_error_vjp",
    "poisson_loss",
    "poisson_loss_vjp",
    "categorical_hinge_loss",
    "categorical_hinge_loss_vjp",
    "multiclass_hinge_loss",
    "multiclass_hinge_loss_vjp",
]
