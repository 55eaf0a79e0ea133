"""Detector training losses: each returns its total and a dictionary of its terms, with a public target builder
and a VJP w.r.t. the raw head output that holds the assignment constant."""

from refloss.losses.detectors.yolov1 import YoloV1Targets, yolov1_loss, yolov1_loss_vjp, yolov1_targets
from refloss.losses.detectors.yolov3 import (COCO_ANCHOR_MASKS, COCO_ANCHORS, YoloV3Targets, yolov3_layout,
                                             yolov3_loss, yolov3_loss_vjp, yolov3_targets)
from refloss.losses.detectors.yolov3_eriklindernoren import (YoloV3EriklindernorenTargets,
                                                             yolov3_eriklindernoren_loss,
                                                             yolov3_eriklindernoren_loss_vjp,
                                                             yolov3_eriklindernoren_targets)
from refloss.losses.detectors.retinanet import (RetinaNetTargets, retinanet_loss, retinanet_loss_vjp,
                                                retinanet_targets)
from refloss.losses.detectors.ssd import SsdTargets, ssd_loss, ssd_loss_vjp, ssd_targets
from refloss.losses.detectors.faster_rcnn import (FastRcnnTargets, RpnTargets, fast_rcnn_loss, fast_rcnn_loss_vjp,
                                                  fast_rcnn_sample, fast_rcnn_targets, rpn_loss, rpn_loss_vjp,
                                                  rpn_sample, rpn_targets)

__all__ = ["COCO_ANCHORS", "COCO_ANCHOR_MASKS", "FastRcnnTargets", "RetinaNetTargets", "RpnTargets", "SsdTargets",
           "YoloV1Targets", "YoloV3EriklindernorenTargets", "YoloV3Targets", "fast_rcnn_loss", "fast_rcnn_loss_vjp",
           "fast_rcnn_sample", "fast_rcnn_targets", "retinanet_loss", "retinanet_loss_vjp", "retinanet_targets",
           "rpn_loss", "rpn_loss_vjp", "rpn_sample", "rpn_targets", "ssd_loss", "ssd_loss_vjp", "ssd_targets",
           "yolov1_loss", "yolov1_loss_vjp", "yolov1_targets", "yolov3_eriklindernoren_loss",
           "yolov3_eriklindernoren_loss_vjp", "yolov3_eriklindernoren_targets", "yolov3_layout", "yolov3_loss",
           "yolov3_loss_vjp", "yolov3_targets"]
