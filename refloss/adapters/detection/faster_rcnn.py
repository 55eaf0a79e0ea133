"""torchvision's Faster R-CNN losses on refloss's inputs: a small ``RegionProposalNetwork`` and a small ``RoIHeads``
(no pretrained weights; nothing is downloaded) whose own labelling, box coder, sampler hook and loss functions
compute every number, fed the same head outputs, anchors or RoIs, ground truths and sample as
:func:`refloss.losses.detectors.faster_rcnn.rpn_loss` and ``fast_rcnn_loss``.

The sample is given, not drawn: each module's ``fg_bg_sampler`` is replaced by one that returns refloss's masks.
torch and torchvision are imported when called. tests/test_faster_rcnn.py compares the two;
docs/derivations/rpn_loss.md and fast_rcnn_loss.md record the differences (an empty sample: torchvision NaN,
refloss 0).
"""

from __future__ import annotations

import math
from typing import Any

from refloss.adapters.detection import NotInTorchvision

__all__ = ["fast_rcnn_loss", "roi_heads", "rpn", "rpn_loss"]


class _GivenSample:
    """A ``fg_bg_sampler`` returning a fixed sample: for each image, the positives (label >= 1) and negatives
    (label 0) among the marked entries, as torchvision's ``BalancedPositiveNegativeSampler`` returns its draw."""

    def __init__(self, masks: list) -> None:
        self.masks = masks

    def __call__(self, labels: list) -> tuple[list, list]:
        positive = [(mask & (image_labels >= 1)).to("cpu") for mask, image_labels in zip(self.masks, labels)]
        negative = [(mask & (image_labels == 0)).to("cpu") for mask, image_labels in zip(self.masks, labels)]
        return positive, negative


def rpn(*, fg_iou_thresh: float = 0.7, bg_iou_thresh: float = 0.3, weights: Any = (1.0, 1.0, 1.0, 1.0)) -> Any:
    """A ``RegionProposalNetwork`` with a one-channel head and one anchor per location, built only for its
    ``assign_targets_to_anchors``, ``box_coder`` and ``compute_loss``."""
    from torchvision.models.detection._utils import BoxCoder
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead

    module = RegionProposalNetwork(AnchorGenerator(((32,),), ((1.0,),)), RPNHead(1, 1), fg_iou_thresh, bg_iou_thresh,
                                   batch_size_per_image=256, positive_fraction=0.5,
                                   pre_nms_top_n={"training": 1, "testing": 1},
                                   post_nms_top_n={"training": 1, "testing": 1}, nms_thresh=0.7)
    module.box_coder = BoxCoder(weights=tuple(float(w) for w in weights))
    return module


def _objects(boxes: Any, labels: Any, n: int) -> tuple[Any, Any]:
    """Image n's real objects (label >= 0): torchvision's per-image target tensors."""
    real = labels[n] >= 0
    return boxes[n][real], labels[n][real]


def rpn_loss(objectness: Any, pred_bbox_deltas: Any, anchors: Any, boxes: Any, labels: Any, sampled: Any, *,
             fg_iou_thresh: float = 0.7, bg_iou_thresh: float = 0.3, beta: float = 1 / 9,
             weights: Any = (1.0, 1.0, 1.0, 1.0), box_weight: float = 1.0,
             box_normalizer: float | None = None) -> tuple[Any, dict[str, Any]]:
    """torchvision's RPN loss of torch tensors laid out as refloss's ``rpn_loss`` inputs.

    objectness (N, A), pred_bbox_deltas (N, A, 4), anchors (A, 4), boxes (N, M, 4), labels (N, M) (-1 padding),
    sampled (N, A). torchvision fixes beta = 1/9 in ``compute_loss`` and has no ``box_weight`` or
    ``box_normalizer``: other values raise :class:`NotInTorchvision`.
    """
    import torch

    if box_weight != 1.0 or box_normalizer is not None:
        raise NotInTorchvision("torchvision's RPN has no box_weight or box_normalizer: its box term is divided by "
                               "the sample size (the paper's lambda and N_reg are refloss variants)")
    if not math.isclose(beta, 1 / 9, rel_tol=1e-15):
        raise NotInTorchvision(f"torchvision's RegionProposalNetwork.compute_loss fixes beta = 1/9, got {beta!r}")
    module = rpn(fg_iou_thresh=fg_iou_thresh, bg_iou_thresh=bg_iou_thresh, weights=weights)
    n = objectness.shape[0]
    targets = [{"boxes": _objects(boxes, labels, i)[0]} for i in range(n)]
    anchor_list = [anchors] * n
    anchor_labels, matched_gt_boxes = module.assign_targets_to_anchors(anchor_list, targets)
    regression_targets = module.box_coder.encode(matched_gt_boxes, anchor_list)
    module.fg_bg_sampler = _GivenSample([torch.as_tensor(s).bool() for s in sampled])
    objectness_loss, box_loss = module.compute_loss(objectness.reshape(-1, 1), pred_bbox_deltas.reshape(-1, 4),
                                                    anchor_labels, regression_targets)
    return objectness_loss + box_loss, {"objectness": objectness_loss, "rpn_box_reg": box_loss}


def roi_heads(num_classes: int, *, fg_iou_thresh: float = 0.5, bg_iou_thresh: float = 0.5,
              weights: Any = (10.0, 10.0, 5.0, 5.0)) -> Any:
    """A ``RoIHeads`` with a tiny box head, built only for its ``select_training_samples``."""
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.roi_heads import RoIHeads
    from torchvision.ops import MultiScaleRoIAlign

    return RoIHeads(MultiScaleRoIAlign(["0"], 2, 2), TwoMLPHead(4, 4), FastRCNNPredictor(4, num_classes),
                    fg_iou_thresh, bg_iou_thresh, batch_size_per_image=512, positive_fraction=0.25,
                    bbox_reg_weights=tuple(float(w) for w in weights), score_thresh=0.05, nms_thresh=0.5,
                    detections_per_img=100)


def fast_rcnn_loss(class_logits: Any, box_regression: Any, proposals: Any, proposal_images: Any, boxes: Any,
                   labels: Any, *, fg_iou_thresh: float = 0.5, bg_iou_thresh: float = 0.5, beta: float = 1 / 9,
                   weights: Any = (10.0, 10.0, 5.0, 5.0)) -> tuple[Any, dict[str, Any]]:
    """torchvision's box head loss of torch tensors laid out as refloss's ``fast_rcnn_loss`` inputs.

    The RoIs are the sample: ``select_training_samples`` runs on each image's RoIs (it appends the image's
    ground truths, labels everything, encodes), its sampler replaced by one that keeps exactly the given RoIs
    (not the appended ground truths), in their order; then ``fastrcnn_loss`` on the head outputs. torchvision
    fixes beta = 1/9 (another beta is refused).
    """
    import torch
    from torchvision.models.detection.roi_heads import fastrcnn_loss

    if not math.isclose(beta, 1 / 9, rel_tol=1e-15):
        raise NotInTorchvision(f"torchvision's fastrcnn_loss fixes beta = 1/9, got {beta!r}")
    heads = roi_heads(class_logits.shape[1], fg_iou_thresh=fg_iou_thresh, bg_iou_thresh=bg_iou_thresh,
                      weights=weights)
    images = torch.as_tensor(proposal_images)
    per_image = [proposals[images == i] for i in range(boxes.shape[0])]
    targets = []
    for i in range(boxes.shape[0]):
        image_boxes, image_labels = _objects(boxes, labels, i)
        targets.append({"boxes": image_boxes, "labels": image_labels.to(torch.int64)})
    # keep the image's own RoIs, not the ground truths select_training_samples appends after them
    heads.fg_bg_sampler = _GivenSample([torch.arange(len(p) + len(t["boxes"])) < len(p)
                                        for p, t in zip(per_image, targets)])
    _, _, roi_labels, regression_targets = heads.select_training_samples(per_image, targets)
    # the head outputs are in the order of ``proposals``; torchvision's loss reads them image after image
    order = torch.cat([torch.nonzero(images == i).flatten() for i in range(boxes.shape[0])])
    classifier, box_reg = fastrcnn_loss(class_logits[order], box_regression[order], roi_labels, regression_targets)
    return classifier + box_reg, {"classifier": classifier, "box_reg": box_reg}
