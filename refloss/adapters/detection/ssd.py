"""SSD's MultiBox loss computed by torchvision's own code, for comparison with :func:`refloss.ssd_loss`.

:func:`ssd_loss` builds a minimal ``torchvision.models.detection.SSD`` (a one-convolution backbone, no pretrained
weights: nothing is downloaded), matches each image's priors with that model's ``SSDMatcher`` on torchvision's
``box_iou`` (as ``SSD.forward`` does in training), and calls the model's ``compute_loss`` on the given head outputs.
Everything runs in the dtype of the head outputs, so gradients come from ``torch.autograd``.

Coordinates: refloss takes boxes in image units; torchvision's SSD works in pixels. IoU and the box coder are
scale-free, so the loss does not depend on the unit: ``image_size`` (default 1, no rescaling, so nothing rounds)
multiplies every box, and 300 (SSD300's input) gives the pixels torchvision's SSD300 sees.
"""

from __future__ import annotations

from typing import Any

from refloss.adapters.detection import NotInTorchvision

__all__ = ["ssd_loss"]


def _model(num_classes: int, iou_threshold: float, neg_to_pos_ratio: float, variances: tuple[float, float]) -> Any:
    """A small SSD whose ``compute_loss`` and ``proposal_matcher`` are torchvision's, with these settings."""
    import torch
    from torchvision.models.detection import _utils as det_utils
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.ssd import SSD

    backbone = torch.nn.Conv2d(3, 1, kernel_size=1)
    backbone.out_channels = [1]  # one feature map (only the loss is used: the head outputs are given)
    model = SSD(backbone, DefaultBoxGenerator([[2]]), (32, 32), num_classes)
    model.proposal_matcher = det_utils.SSDMatcher(iou_threshold)
    # SSD.__init__ derives the ratio from positive_fraction as (1 - f) / f; set it directly (3.0 for f = 0.25).
    model.neg_to_pos_ratio = float(neg_to_pos_ratio)
    v_centre, v_size = variances
    model.box_coder = det_utils.BoxCoder(weights=(1 / v_centre, 1 / v_centre, 1 / v_size, 1 / v_size))
    return model


def ssd_loss(bbox_regression: Any, cls_logits: Any, anchors: Any, boxes: Any, labels: Any, *,
             iou_threshold: float = 0.5, neg_to_pos_ratio: float = 3, variances: tuple[float, float] = (0.1, 0.2),
             beta: float = 1.0, image_size: float = 1.0) -> tuple[Any, dict[str, Any]]:
    """torchvision's ``SSD.compute_loss`` on these head outputs, anchors and targets.

    Args:
        bbox_regression: (N, P, 4) tensor (requires_grad for gradients).
        cls_logits: (N, P, C) tensor, column 0 the background.
        anchors: (P, 4) priors, ``xyxy`` in image units (given to every image, as torchvision's generator does).
        boxes: (N, M, 4) ground truths in image units; rows labelled -1 are padding (dropped: torchvision's
            targets hold only real objects).
        labels: (N, M) int, in [1, C) or -1.
        iou_threshold, neg_to_pos_ratio, variances: As :func:`refloss.ssd_loss`.
        beta: Must be 1: torchvision's SSD calls ``smooth_l1_loss`` with its default beta.
        image_size: Pixels per image unit (default 1).

    Returns:
        ``(total, {"bbox_regression": ..., "classification": ...})`` as tensors (the keys without ``loss_``).
    """
    import torch
    from torchvision.ops import box_iou

    if beta != 1.0:
        raise NotInTorchvision(f"torchvision's SSD has no beta: its Smooth L1 uses beta = 1, got beta = {beta!r}")
    dtype = cls_logits.dtype
    model = _model(int(cls_logits.shape[-1]), iou_threshold, neg_to_pos_ratio, tuple(variances))
    priors = torch.as_tensor(anchors, dtype=dtype) * image_size
    all_boxes = torch.as_tensor(boxes, dtype=dtype) * image_size
    all_labels = torch.as_tensor(labels, dtype=torch.int64)
    targets, matched_idxs = [], []
    for image_boxes, image_labels in zip(all_boxes, all_labels):
        real = image_labels >= 0
        target = {"boxes": image_boxes[real], "labels": image_labels[real]}
        targets.append(target)
        if target["boxes"].numel() == 0:  # SSD.forward: an image without objects has every prior background
            matched_idxs.append(torch.full((priors.shape[0],), -1, dtype=torch.int64))
        else:
            matched_idxs.append(model.proposal_matcher(box_iou(target["boxes"], priors)))
    head_outputs = {"bbox_regression": bbox_regression, "cls_logits": cls_logits}
    losses = model.compute_loss(targets, head_outputs, [priors] * len(targets), matched_idxs)
    return losses["bbox_regression"] + losses["classification"], dict(losses)
