"""Error categories of ``invalid`` vectors, and how refloss's own messages map to them.

A vector says which category of error a call must raise, never the message text. Adapters report the category
of an implementation's error when they can: the reference through :func:`classify`, ``module:`` through the
exception's ``category`` attribute, ``exec:`` engines in their answer. ``None`` means "raised, category unknown":
the validator then reports the test as passed with its category unchecked (status ``invalid-unchecked``), never
silently as checked. A category outside :data:`CATEGORIES` is a failure.
"""

from __future__ import annotations

__all__ = ["CATEGORIES", "classify", "describe_categories"]

CATEGORIES = {
    "shape_mismatch": "input and target (or another pair of tensors) have incompatible shapes",
    "invalid_parameter": "a scalar parameter is outside its domain (beta < 0, delta <= 0, ...)",
    "invalid_reduction": "reduction is not one of none, mean, sum",
    "invalid_weight": "a weight is negative, not finite, or of the wrong shape",
    "invalid_target": "a target is outside its domain (a probability outside [0, 1])",
    "label_out_of_range": "a class index is negative or not below the number of classes (and not ignore_index), "
                          "a grid-cell index is outside the grid, or a RoI's image index outside the batch",
    "invalid_box": "a box is inverted (x2 < x1 or y2 < y1), a box argument is not of shape (..., 4), or (NMS) a "
                   "box has a NaN or infinite coordinate",
    "invalid_score": "a score is NaN: it cannot be ranked (NMS)",
    "invalid_category": "category indices (batched_nms's idxs) are not integers",
    "empty_batch": "a detector loss got no images (N = 0): it is normalised per image",
    "invalid_sample": "a sampled anchor or RoI that the labelling ignores (its best IoU lies between the "
                      "thresholds): a sampler never draws it",
}


def describe_categories() -> str:
    """The allowed categories, for error messages."""
    return ", ".join(CATEGORIES)


def classify(error: BaseException) -> str | None:
    """The category of one of refloss's own ``ValueError``/``TypeError`` messages (None if unrecognised)."""
    message = str(error)
    if "is not a valid box" in message or "(boxes as " in message or "is not finite: a box with" in message:
        return "invalid_box"
    if " has zero width (x2 == x1)" in message or " has zero height (y2 == y1)" in message \
            or "anchor sizes (p_w, p_h) must be positive" in message:
        return "invalid_box"  # (a coder's box or anchor with no size to encode against)
    if "lies outside the image" in message or "has zero width or height" in message:
        return "invalid_box"  # (a detector's ground truth)
    if message.startswith("labels["):
        return "label_out_of_range"  # (a detector's class id)
    if message.startswith("labels must hold integer class ids"):
        return "invalid_target"
    if "holds no images (N = 0)" in message:
        return "empty_batch"
    if message.startswith(("num_boxes must be", "num_classes must be", "anchors must be", "anchor_masks must",
                           "strides must", "input_size (")):
        return "invalid_parameter"  # (a detector's layout)
    if " must be a non-negative integer" in message or " must be a positive integer" in message:
        return "invalid_parameter"  # (a count: neg_to_pos_ratio, batch_size_per_image)
    if (message.startswith("sampled[") and " is ignored " in message) \
            or "has its best IoU in [bg_iou_thresh" in message:
        return "invalid_sample"
    if message.startswith("proposal_images[") and " is outside [0, N)" in message:
        return "label_out_of_range"  # (a RoI's image)
    if " anchors but " in message or " RoIs but " in message or " columns but " in message:
        return "shape_mismatch"  # (head outputs against their anchors, RoIs or classes)
    if "bg_iou_thresh (" in message and "must not exceed fg_iou_thresh" in message:
        return "invalid_parameter"
    if "is outside the grid of" in message or message.startswith("cells must hold integers"):
        return "label_out_of_range"  # (a YOLO grid cell)
    if "must broadcast to shape" in message:
        return "shape_mismatch"
    if message.startswith(("weights must be", "variances must be", "grid_size must be", "input_size must be")):
        return "invalid_parameter"
    if message.startswith("scores[") and "is NaN" in message:
        return "invalid_score"
    if message.startswith("idxs must be an array of integers"):
        return "invalid_category"
    if message.startswith(("weight ", "pos_weight ", "alpha must have shape", "alpha must be finite",
                           "alpha must be non-negative")):
        return "invalid_weight"
    if message.startswith(("target must be probabilities", "targets must be labels", "probability target must lie",
                           "input must be probabilities", "target must hold labels")):
        return "invalid_target"
    if message.startswith(("target must be non-negative", "input must be non-negative", "var must be non-negative")):
        return "invalid_target"  # (Poisson counts and rates, Gaussian variances: values outside their domain)
    if message.startswith("target class indices must be in"):
        return "label_out_of_range"
    if "must have shape" in message or "must have the shape" in message:
        return "shape_mismatch"
    if message.startswith("reduction "):
        return "invalid_reduction"
    if " must be one of " in message:  # a choice parameter (a box format)
        return "invalid_parameter"
    if "must have the same shape as" in message:
        return "shape_mismatch"
    if (" must be in " in message or " must be a real number" in message or " must be below " in message
            or message.startswith("p must be")):
        return "invalid_parameter"
    return None
