"""Draws the matching figures of docs/derivations/ssd_loss.md, retinanet_loss.md, rpn_loss.md and
fast_rcnn_loss.md (SVG files in docs/derivations/figures/), computed by refloss, and prints the counts they show.

Run from the repository root:

    PYTHONPATH=. python docs/derivations/_anchor_figures.py

Every figure shows one example image (the unit square, drawn 320 px wide), its objects (thick black, with their
row and class) and the anchors coloured by what the loss makes of them: matched (positive), mined or sampled
negatives, ignored, and the rest. The statuses come from refloss's public target builders (``ssd_targets``,
``retinanet_targets``, ``rpn_targets`` with ``rpn_sample``, ``fast_rcnn_targets``), never from code here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

import refloss

FIGURES = Path(__file__).resolve().parent / "figures"
SCALE, MARGIN = 320, 60  # pixels per image unit; room around the image for anchors that cross its border

STYLES = {  # status: (stroke, fill, dash, legend)
    "positive": ("#1a7f37", "#1a7f37", "", "positive (matched)"),
    "negative": ("#cf222e", "none", "", "negative in the loss (mined or sampled)"),
    "ignored": ("#8c959f", "none", "4 3", "ignored (between the thresholds)"),
    "unused": ("#d0d7de", "none", "1 3", "background, not in the loss"),
}


def _rect(box: Iterable[float], stroke: str, fill: str = "none", dash: str = "", width: float = 1.2,
          opacity: float = 0.12) -> str:
    x1, y1, x2, y2 = (MARGIN + SCALE * float(v) for v in box)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<rect x="{x1:.1f}" y="{y1:.1f}" width="{x2 - x1:.1f}" height="{y2 - y1:.1f}" stroke="{stroke}" '
            f'stroke-width="{width}" fill="{fill}" fill-opacity="{opacity}"{dashed}/>')


def _text(x: float, y: float, text: str, size: int = 12, colour: str = "#24292f") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-family="sans-serif" font-size="{size}" '
            f'fill="{colour}">{text}</text>')


def draw(path: Path, title: str, anchors: np.ndarray, status: list[str], objects: np.ndarray,
         labels: Iterable[int]) -> None:
    """Write one figure: the anchors drawn by status (unused first, positives last, so they stay visible)."""
    size = SCALE + 2 * MARGIN
    legend_top = size + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{legend_top + 20 * len(STYLES) + 10}" '
             f'viewBox="0 0 {size} {legend_top + 20 * len(STYLES) + 10}">',
             '<rect width="100%" height="100%" fill="white"/>',
             _text(MARGIN, 24, title, 14),
             _rect((0, 0, 1, 1), "#24292f", width=1.0, dash="2 2")]
    for wanted in ("unused", "ignored", "negative", "positive"):
        stroke, fill, dash, _ = STYLES[wanted]
        parts += [_rect(box, stroke, fill, dash) for box, s in zip(anchors, status) if s == wanted]
    for row, (box, label) in enumerate(zip(objects, labels)):
        parts.append(_rect(box, "#24292f", width=2.5))
        parts.append(_text(MARGIN + SCALE * box[0] + 3, MARGIN + SCALE * box[1] + 13, f"object {row}: class {label}"))
    for k, (stroke, fill, dash, legend) in enumerate(STYLES.values()):
        y = legend_top + 20 * k
        parts.append(f'<rect x="{MARGIN}" y="{y}" width="24" height="12" stroke="{stroke}" stroke-width="1.2" '
                     f'fill="{fill}" fill-opacity="0.12"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        parts.append(_text(MARGIN + 32, y + 11, legend))
    parts.append("</svg>")
    FIGURES.mkdir(exist_ok=True)
    path.write_text("\n".join(parts) + "\n")
    counts = {s: status.count(s) for s in STYLES}
    print(f"{path.name}: {len(anchors)} anchors: " + ", ".join(f"{n} {s}" for s, n in counts.items()))


def anchors_of_example() -> np.ndarray:
    """Three anchor shapes (1:1, 1:2, 2:1) of area 1/25 on a 5 x 5 grid, then 1:1 anchors of side 0.4 on a 3 x 3
    grid: 84 anchors, some crossing the border (as RPN anchors do)."""
    boxes = []
    for cells, side in ((5, 0.2), (3, 0.4)):
        shapes = ((1, 1), (2 ** -0.5, 2 ** 0.5), (2 ** 0.5, 2 ** -0.5)) if cells == 5 else ((1, 1),)
        for j in range(cells):
            for i in range(cells):
                centre = np.array([(i + 0.5) / cells, (j + 0.5) / cells])
                for w, h in shapes:
                    half = np.array([w, h]) * side / 2
                    boxes.append(np.r_[centre - half, centre + half])
    return np.array(boxes)


# A dog and a bicycle, and a small bird that no anchor overlaps well (a low-quality match for the RPN and RetinaNet;
# a forced match for SSD).
OBJECTS = np.array([[[0.08, 0.35, 0.46, 0.92], [0.50, 0.22, 0.95, 0.62], [0.66, 0.74, 0.74, 0.80]]])
LABELS = np.array([[1, 2, 3]])
