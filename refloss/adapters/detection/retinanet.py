"""torchvision's RetinaNet loss on refloss's inputs: a small ``torchvision.models.detection.RetinaNet`` (a tiny
backbone, no pretrained weights) whose own ``compute_loss`` runs on given head outputs, anchors and targets, so
that torchvision's ``Matcher``, ``BoxCoder``, ``sigmoid_focal_loss`` and ``_box_loss`` compute every number.

torch and torchvision are imported when called. The tests compare :func:`retinanet_loss` here with
:func:`refloss.retinanet_loss` (tests/test_retinanet.py); docs/derivations/retinanet_loss.md records the
differences.
"""

from __future__ import annotations

from typing import Any

from refloss.adapters.detection import NotInTorchvision

__all__ = ["retinanet_loss", "retinanet_model"]


def retinanet_model(num_classes: int, *, fg_iou_thresh: float = 0.5, bg_iou_thresh: float = 0.4,
                    box_loss: str = "l1", weights: Any = (1.0, 1.0, 1.0, 1.0)) -> Any:
    """A RetinaNet with a one-layer backbone and one anchor per location, built only for its ``compute_loss``
    (its proposal matcher is ``Matcher(fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=True)``)."""
    import torch
    from torchvision.models.detection import RetinaNet
    from torchvision.models.detection._utils import BoxCoder
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    backbone = torch.nn.Conv2d(3, 4, kernel_size=1)
    backbone.out_channels = 4  # what RetinaNet reads of a backbone
    model = RetinaNet(backbone, num_classes, anchor_generator=AnchorGenerator(((32,),), ((1.0,),)),
                      fg_iou_thresh=fg_iou_thresh, bg_iou_thresh=bg_iou_thresh)
    model.head.regression_head._loss_type = box_loss
    model.head.regression_head.box_coder = BoxCoder(weights=tuple(float(w) for w in weights))
    return model


def retinanet_loss(cls_logits: Any, bbox_regression: Any, anchors: Any, boxes: Any, labels: Any, *,
                   fg_iou_thresh: float = 0.5, bg_iou_thresh: float = 0.4, alpha: float | None = 0.25,
                   gamma: float = 2.0, box_loss: str = "l1", beta: float = 1.0,
                   weights: Any = (1.0, 1.0, 1.0, 1.0)) -> tuple[Any, dict[str, Any]]:
    """torchvision's RetinaNet loss of torch tensors laid out as :func:`refloss.retinanet_loss`'s inputs.

    ``cls_logits`` (N, A, C) and ``bbox_regression`` (N, A, 4) are the head outputs (gradients flow back to
    them through torch.autograd), ``anchors`` (A, 4) are given to every image, ``boxes`` (N, M, 4) and ``labels``
    (N, M) become torchvision's per-image targets with the -1-labelled padding rows dropped.

    torchvision's RetinaNet fixes the focal loss at alpha = 0.25, gamma = 2 and Smooth L1 at beta = 1 (its
    ``_box_loss`` gets no ``cnf``): other values are refused here rather than silently ignored.

    Returns:
        ``(total, {"classification": ..., "bbox_regression": ...})``: torch scalars.
    """
    import torch

    if alpha != 0.25 or gamma != 2.0:
        raise NotInTorchvision(f"torchvision's RetinaNet fixes alpha=0.25, gamma=2.0; got alpha={alpha!r}, "
                               f"gamma={gamma!r}")
    if box_loss == "smooth_l1" and beta != 1.0:
        raise NotInTorchvision(f"torchvision's RetinaNet computes Smooth L1 with beta=1.0 only; got beta={beta!r}")
    model = retinanet_model(cls_logits.shape[-1], fg_iou_thresh=fg_iou_thresh, bg_iou_thresh=bg_iou_thresh,
                            box_loss=box_loss, weights=weights)
    labels = torch.as_tensor(labels)
    targets = [{"boxes": boxes[n][labels[n] >= 0], "labels": labels[n][labels[n] >= 0].to(torch.int64)}
               for n in range(len(labels))]
    head_outputs = {"cls_logits": cls_logits, "bbox_regression": bbox_regression}
    terms = model.compute_loss(targets, head_outputs, [anchors] * len(targets))
    return terms["classification"] + terms["bbox_regression"], terms
