"""Boxes: validation, geometry (conversions, areas, pairwise IoU matrices), coders, NMS, and the matching,
sampling and mining of anchor-based detectors.

Boxes are arrays of shape ``(..., 4)`` in ``xyxy`` (x1, y1, x2, y2), torchvision's default; other formats enter
only through :func:`refloss.box_convert`.
"""

from refloss.boxes.geometry import BOX_FORMATS, box_area, box_area_vjp, box_convert, box_convert_vjp
from refloss.boxes.pairwise import box_iou, complete_box_iou, distance_box_iou, generalized_box_iou
from refloss.boxes.coders import (decode_boxes, decode_boxes_vjp, decode_ssd_boxes, decode_ssd_boxes_vjp,
                                  decode_yolo_boxes, decode_yolo_boxes_vjp, encode_boxes, encode_boxes_vjp,
                                  encode_ssd_boxes, encode_ssd_boxes_vjp, encode_yolo_boxes, encode_yolo_boxes_vjp)
from refloss.boxes.nms import batched_nms, diou_nms, nms
from refloss.boxes.matching import balanced_sample, hard_negatives, match_anchors, match_priors

__all__ = ["BOX_FORMATS", "balanced_sample", "batched_nms", "box_area", "box_area_vjp", "box_convert",
           "box_convert_vjp", "box_iou", "complete_box_iou", "decode_boxes", "decode_boxes_vjp", "decode_ssd_boxes",
           "decode_ssd_boxes_vjp", "decode_yolo_boxes", "decode_yolo_boxes_vjp", "diou_nms", "distance_box_iou",
           "encode_boxes", "encode_boxes_vjp", "encode_ssd_boxes", "encode_ssd_boxes_vjp", "encode_yolo_boxes",
           "encode_yolo_boxes_vjp", "generalized_box_iou", "hard_negatives", "match_anchors", "match_priors", "nms"]
