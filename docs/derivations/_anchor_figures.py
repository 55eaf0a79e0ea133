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
    "negative": ("#cf222e", "none", "", "negative in the loss (every one for RetinaNet; mined or sampled)"),
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
    """Three anchor shapes (1:1, 1:2, 2:1) of side 0.3 on a 6 x 6 grid, and of side 0.6 on a 3 x 3 grid: 135
    anchors, some crossing the border (as RPN anchors do)."""
    shapes = ((1.0, 1.0), (2 ** -0.5, 2 ** 0.5), (2 ** 0.5, 2 ** -0.5))
    boxes = []
    for cells, side in ((6, 0.3), (3, 0.6)):
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


def ssd_figure(anchors: np.ndarray) -> None:
    """SSD: the priors clipped to the image; random logits (seed 0) decide the mining."""
    priors = np.clip(anchors, 0.0, 1.0)
    logits = np.random.default_rng(0).normal(size=(1, len(priors), 4))
    targets = refloss.ssd_targets(np.zeros((1, len(priors), 4)), logits, priors, OBJECTS, LABELS)
    status = ["positive" if p else "negative" if n else "unused"
              for p, n in zip(targets.positive[0], targets.negative[0])]
    draw(FIGURES / "ssd_loss_matching.svg", "ssd_loss: matched priors and mined negatives (3 per positive)",
         priors, status, OBJECTS[0], LABELS[0])


def retinanet_figure(anchors: np.ndarray) -> None:
    """RetinaNet: every anchor that is not ignored enters the focal term."""
    targets = refloss.retinanet_targets(np.zeros((1, len(anchors), 4)), np.zeros((1, len(anchors), 4)), anchors,
                                        OBJECTS, LABELS)
    status = ["positive" if m >= 0 else "ignored" if m == -2 else "negative" for m in targets.matches[0]]
    draw(FIGURES / "retinanet_loss_matching.svg", "retinanet_loss: IoU >= 0.5 positive, [0.4, 0.5) ignored",
         anchors, status, OBJECTS[0], LABELS[0])


def rpn_figure(anchors: np.ndarray) -> None:
    """RPN: labelled at 0.7 / 0.3, then a seeded sample of 16 anchors (at most half positive)."""
    targets = refloss.rpn_targets(anchors, OBJECTS, LABELS)
    sampled = refloss.rpn_sample(targets, batch_size_per_image=16, positive_fraction=0.5, rng=0)[0]
    status = ["ignored" if label == -1 else "unused" if not s else "positive" if label == 1 else "negative"
              for label, s in zip(targets.labels[0], sampled)]
    draw(FIGURES / "rpn_loss_matching.svg", "rpn_loss: labels at 0.7 / 0.3 and a sample of 16 (seed 0)",
         anchors, status, OBJECTS[0], LABELS[0])


def fast_rcnn_figure() -> None:
    """Fast R-CNN: 40 proposals around the objects (seed 1), the objects appended, a seeded sample of 12 RoIs
    (at most a quarter foreground)."""
    rng = np.random.default_rng(1)
    centres = OBJECTS[0][rng.integers(0, len(OBJECTS[0]), 40)]
    jitter = rng.normal(scale=0.08, size=(40, 4))
    proposals = np.clip(centres + jitter, 0.0, 1.0)
    proposals[:, 2:] = np.maximum(proposals[:, 2:], proposals[:, :2] + 0.02)
    rois, images = refloss.fast_rcnn_sample([proposals], OBJECTS, LABELS, batch_size_per_image=12,
                                            positive_fraction=0.25, rng=1)
    labels = refloss.fast_rcnn_targets(rois, images, OBJECTS, LABELS).labels
    sampled = {tuple(r) for r in rois}
    unused = [p for p in proposals if tuple(p) not in sampled]
    boxes = np.concatenate([np.reshape(unused, (-1, 4)), rois])
    status = ["unused"] * len(unused) + ["positive" if label > 0 else "negative" for label in labels]
    draw(FIGURES / "fast_rcnn_loss_matching.svg", "fast_rcnn_loss: a sample of 12 RoIs (seed 1), IoU >= 0.5 "
         "foreground", boxes, status, OBJECTS[0], LABELS[0])


if __name__ == "__main__":
    example = anchors_of_example()
    ssd_figure(example)
    retinanet_figure(example)
    rpn_figure(example)
    fast_rcnn_figure()
