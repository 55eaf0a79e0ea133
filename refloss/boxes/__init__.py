"""Boxes: validation, geometry (conversions, areas, pairwise IoU matrices), coders and NMS.

Boxes are arrays of shape ``(..., 4)`` in ``xyxy`` (x1, y1, x2, y2), torchvision's default; other formats enter
only through :func:`refloss.box_convert`.
"""
