"""Prints every number and drawing of docs/derivations/yolov1_loss.md and yolov3_loss.md, computed by refloss.

Run from the repository root:

    PYTHONPATH=. python docs/derivations/_yolo_figures.py

Each section's heading names the part of the page it feeds. The script only calls refloss's public functions
(``yolov1_loss``, ``yolov1_loss_vjp``, ``yolov1_targets``, ``yolov3_loss``, ``yolov3_loss_vjp``,
``yolov3_targets``, ``yolov3_layout``, ``yolov3_eriklindernoren_loss``, ``yolov3_eriklindernoren_loss_vjp``,
``yolov3_eriklindernoren_targets``, ``sigmoid``); the few quantities refloss does not return (the RMSE of
darknet's fallback, the anchors' shape IoUs, where float32's sigmoid rounds to 1) are computed here from their
formulas and labelled as such.
"""

from __future__ import annotations

import numpy as np

import refloss

np.set_printoptions(precision=6, suppress=True)


def heading(text: str) -> None:
    print(f"\n=== {text} ===")


def terms_line(terms: dict) -> str:
    return ", ".join(f"{name} {float(value):.6f}" for name, value in terms.items())


# ----------------------------------------------------------------------------------------------------------------
# YOLOv1
# ----------------------------------------------------------------------------------------------------------------

V1_OBJECTS = {  # letter: (xyxy box in image units, VOC class id)
    "A": ([0.05, 0.30, 0.45, 0.95], 11),  # dog
    "B": ([0.50, 0.20, 0.90, 0.60], 1),   # bicycle
    "C": ([0.62, 0.25, 0.76, 0.55], 14),  # person: centre in B's cell, so dropped
    "D": ([0.80, 0.05, 0.88, 0.13], 2),   # bird: both predictors miss it (IoU 0), the RMSE fallback decides
    "E": ([0.10, 0.05, 0.30, 0.20], 6),   # car
}


def v1_seeded_output() -> np.ndarray:
    """A plausible 7 x 7 x 30 YOLOv1 output (seed 9), batch of one; the loss page's plot starts from it too."""
    rng = np.random.default_rng(9)
    output = np.zeros((1, 7, 7, 30))
    for b in range(2):
        output[..., 5 * b:5 * b + 2] = rng.uniform(0.0, 1.0, (1, 7, 7, 2))  # x, y in the cell
        output[..., 5 * b + 2:5 * b + 4] = rng.uniform(0.2, 0.8, (1, 7, 7, 2))  # sqrt w, sqrt h
        output[..., 5 * b + 4] = rng.uniform(0.0, 0.6, (1, 7, 7))  # confidence
    output[..., 10:] = rng.uniform(0.0, 0.2, (1, 7, 7, 20))  # class scores
    return output


def v1_example() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seeded output and the five objects above, as a batch of one image."""
    output = v1_seeded_output()
    # D's cell (row 0, column 5): two small boxes left of the bird, overlapping it nowhere
    output[0, 0, 5, 0:4] = [0.05, 0.60, 0.10, 0.10]
    output[0, 0, 5, 5:9] = [0.10, 0.40, 0.20, 0.20]
    boxes = np.array([[box for box, _ in V1_OBJECTS.values()]])
    labels = np.array([[label for _, label in V1_OBJECTS.values()]])
    return output, boxes, labels


def v1_grid_drawing() -> None:
    heading("YOLOv1: the 7 x 7 grid of the example image (yolov1_targets)")
    output, boxes, labels = v1_example()
    targets = refloss.yolov1_targets(output, boxes, labels)
    letters = list(V1_OBJECTS)
    s, width = 7, 9
    dropped_in = {}
    for k in np.flatnonzero(targets.dropped[0]):
        centre = (boxes[0, k, :2] + boxes[0, k, 2:]) / 2
        dropped_in.setdefault((int(centre[1] * s), int(centre[0] * s)), []).append(letters[k])
    print("     " + "".join(f"{col:^{width + 1}}" for col in range(s)))
    rule = "    +" + ("-" * width + "+") * s
    print(rule)
    for row in range(s):
        top, bottom = [], []
        for col in range(s):
            k = targets.object_index[0, row, col]
            if k < 0:
                top.append(" " * width)
                bottom.append(" " * width)
                continue
            extra = "".join(f" x{d}" for d in dropped_in.get((row, col), []))
            top.append(f" {letters[k]}{extra}".ljust(width))
            j = int(np.argmax(targets.responsible[0, row, col]))
            bottom.append(f" p{j} {targets.iou[0, row, col, j]:.2f}".ljust(width))
        print(f"  {row} |" + "|".join(top) + "|")
        print("    |" + "|".join(bottom) + "|")
        print(rule)

    heading("YOLOv1: the example's objects (yolov1_targets)")
    print("| object | box (xyxy) | centre | cell (row, col) | target (x, y, sqrt w, sqrt h) | IoU p0 | IoU p1 "
          "| responsible |")
    for k, letter in enumerate(letters):
        box = boxes[0, k]
        centre = (box[:2] + box[2:]) / 2
        row, col = int(centre[1] * s), int(centre[0] * s)
        if targets.dropped[0, k]:
            owner = letters[targets.object_index[0, row, col]]
            print(f"| {letter} | {box.tolist()} | ({centre[0]:.3f}, {centre[1]:.3f}) | ({row}, {col}) | "
                  f"dropped ({owner} holds the cell) | | | |")
            continue
        target = targets.box_target[0, row, col]
        iou = targets.iou[0, row, col]
        j = int(np.argmax(targets.responsible[0, row, col]))
        print(f"| {letter} | {box.tolist()} | ({centre[0]:.3f}, {centre[1]:.3f}) | ({row}, {col}) | "
              f"({', '.join(f'{t:.4f}' for t in target)}) | {iou[0]:.4f} | {iou[1]:.4f} | p{j} |")

    heading("YOLOv1: D's cell, darknet's RMSE fallback (RMSE computed here from its formula)")
    d = letters.index("D")
    box = boxes[0, d]
    centre, size = (box[:2] + box[2:]) / 2, box[2:] - box[:2]
    row, col = int(centre[1] * s), int(centre[0] * s)
    for j in range(2):
        x, y, sw, sh = output[0, row, col, 5 * j:5 * j + 4]
        predicted_centre = np.array([(col + x) / s, (row + y) / s])
        predicted_size = np.array([sw**2, sh**2])
        rmse = np.sqrt(np.sum((predicted_centre - centre) ** 2) + np.sum((predicted_size - size) ** 2))
        print(f"p{j}: outputs {[round(float(v), 4) for v in (x, y, sw, sh)]}, centre "
              f"{predicted_centre.round(4).tolist()}, size {predicted_size.round(4).tolist()}, "
              f"IoU {targets.iou[0, row, col, j]:.1f}, RMSE {rmse:.6f}, responsible "
              f"{bool(targets.responsible[0, row, col, j])}")

    heading("YOLOv1: the example's terms under each variant (yolov1_loss)")
    targets = refloss.yolov1_targets(output, boxes, labels)
    variants = {
        "canonical (defaults)": {},
        "darknet, rescore=1: normalization='darknet'": {"normalization": "darknet"},
        "darknet, rescore=0: confidence_target='one', normalization='darknet'":
            {"confidence_target": "one", "normalization": "darknet"},
        "aladdinpersson: no_object='empty_cells', size_output='linear', normalization='sum'":
            {"no_object": "empty_cells", "size_output": "linear", "normalization": "sum"},
    }
    print("| variant | xy | wh | object | no_object | class | total |")
    for name, params in variants.items():
        total, terms = refloss.yolov1_loss(output, boxes, labels, **params)
        print(f"| {name} | " + " | ".join(f"{float(v):.6f}" for v in terms.values()) + f" | {float(total):.6f} |")
    linear = refloss.yolov1_targets(output, boxes, labels, size_output="linear")
    print("linear-size responsible predictors:",
          {letters[k]: int(np.argmax(linear.responsible[0, r, c])) for (r, c), k in
           np.ndenumerate(linear.object_index[0]) if k >= 0})
    print("A's cell (4, 1): outputs read as sizes", output[0, 4, 1, [2, 3, 7, 8]].round(4).tolist(),
          "; IoU sqrt", targets.iou[0, 4, 1].round(4).tolist(), "linear", linear.iou[0, 4, 1].round(4).tolist())


V1_TINY = {"grid_size": 2, "num_boxes": 2, "num_classes": 2}


def v1_tiny() -> tuple[np.ndarray, list, list]:
    """A 2 x 2 grid, two predictors, two classes, one object of class 1 in cell (0, 0)."""
    output = np.zeros((1, 2, 2, 12))
    output[0, 0, 0] = [0.5, 0.5, 0.5, 0.4, 0.6, 0.2, 0.8, 0.3, 0.3, 0.3, 0.2, 0.7]
    output[0, 0, 1, [4, 9]] = [0.1, -0.2]
    output[0, 1, 1, [4, 9]] = [0.3, 0.1]
    return output, [[[0.1, 0.1, 0.4, 0.3]]], [[1]]


def v1_worked_example() -> None:
    heading("YOLOv1: the tiny scene (yolov1_targets, yolov1_loss)")
    output, boxes, labels = v1_tiny()
    targets = refloss.yolov1_targets(output, boxes, labels, **V1_TINY)
    print("object_index:", targets.object_index[0].tolist())
    print("responsible (cell 0,0):", targets.responsible[0, 0, 0].tolist(), " iou:",
          targets.iou[0, 0, 0].tolist(), " 13/27 =", 13 / 27)
    print("box_target (cell 0,0):", targets.box_target[0, 0, 0].tolist())
    print("class_target (cell 0,0):", targets.class_target[0, 0, 0].tolist())
    for params in ({}, {"no_object": "empty_cells"}, {"confidence_target": "one"}, {"normalization": "darknet"}):
        total, terms = refloss.yolov1_loss(output, boxes, labels, **V1_TINY, **params)
        print(f"{params or 'defaults'}: {terms_line(terms)}; total {float(total):.6f} ({float(total)!r})")

    heading("YOLOv1: the tiny scene's gradient, term by term (yolov1_loss_vjp)")
    for term in ("xy", "wh", "object", "no_object", "class"):
        grad = refloss.yolov1_loss_vjp({term: 1.0}, output, boxes, labels, **V1_TINY)[0]
        nonzero = {tuple(int(i) for i in index): round(float(grad[index]), 6)
                   for index in zip(*np.nonzero(grad))}
        print(f"{term}: {nonzero}")
    grad = refloss.yolov1_loss_vjp(1.0, output, boxes, labels, **V1_TINY)[0]
    print("total, cell (0,0):", grad[0, 0, 0].round(6).tolist())


def v1_linear_numerics() -> None:
    heading("YOLOv1: size_output='linear' near w = 0 (yolov1_loss_vjp, {'wh': 1}, one predictor, target w 0.3)")
    settings = {"grid_size": 2, "num_boxes": 1, "num_classes": 2}
    print("| w output | wh term (linear) | d wh / d w (linear) | d wh / d s (sqrt, same output) |")
    for w in (0.3, 0.09, 1e-2, 1e-4, 1e-6, 1e-8, 0.0, -1e-8, -5e-7, -2e-6, -1e-4):
        output = np.zeros((1, 2, 2, 7))
        output[0, 0, 0, :4] = [0.5, 0.4, w, 0.4]
        boxes, labels = [[[0.1, 0.1, 0.4, 0.3]]], [[1]]
        _, terms = refloss.yolov1_loss(output, boxes, labels, size_output="linear", **settings)
        linear = refloss.yolov1_loss_vjp({"wh": 1.0}, output, boxes, labels, size_output="linear", **settings)[0]
        square = refloss.yolov1_loss_vjp({"wh": 1.0}, output, boxes, labels, **settings)[0]
        print(f"| {w:g} | {float(terms['wh']):.6f} | {linear[0, 0, 0, 2]:.6f} | {square[0, 0, 0, 2]:.6f} |")


# ----------------------------------------------------------------------------------------------------------------
# YOLOv3
# ----------------------------------------------------------------------------------------------------------------

V3_OBJECTS = {  # letter: (xyxy box in image units, COCO class id)
    "A": ([0.10, 0.15, 0.75, 0.90], 0),    # person, large
    "B": ([0.55, 0.10, 0.72, 0.40], 0),    # person, medium
    "C": ([0.80, 0.70, 0.84, 0.76], 32),   # sports ball, small
    "D": ([0.80, 0.69, 0.845, 0.755], 29), # frisbee: C's cell and anchor, so one prediction holds both
    "E": ([0.02, 0.60, 0.30, 0.66], 38),   # tennis racket, long and thin
}


def v3_example() -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """The default 416 x 416 COCO head (10647 predictions of 85), all outputs 0 except one prediction of the
    26 x 26 grid made to cover A (anchor 5, (59, 119), in the cell of A's centre): not A's positive (A's best
    anchor is on the 13 x 13 grid), so the ignore rule must leave its objectness out."""
    scales = refloss.yolov3_layout()
    output = np.zeros((1, sum(len(s.mask) * s.grid[0] * s.grid[1] for s in scales), 85))
    box = np.array(V3_OBJECTS["A"][0])
    centre, size = (box[:2] + box[2:]) / 2, box[2:] - box[:2]
    i, j = (centre * 26).astype(int)
    offset = centre * 26 - (i, j)
    a = scales[1].mask.index(5)
    index = scales[1].start + (a * 26 + j) * 26 + i
    output[0, index, :4] = [*np.log(offset / (1 - offset)), *np.log(size * 416 / np.array([59.0, 119.0]))]
    boxes = np.array([[box for box, _ in V3_OBJECTS.values()]])
    labels = np.array([[label for _, label in V3_OBJECTS.values()]])
    return output, boxes, labels, scales


def where(index: int, scales: tuple) -> tuple[int, int, int, int]:
    """(scale number, anchor slot a, row j, column i) of a prediction index."""
    for number, scale in enumerate(scales):
        if scale.start <= index < scale.start + scale.size:
            a, rest = divmod(index - scale.start, scale.grid[0] * scale.grid[1])
            j, i = divmod(rest, scale.grid[0])
            return number, a, j, i
    raise IndexError(index)


def v3_assignment() -> None:
    heading("YOLOv3: the example's objects (yolov3_targets, default COCO head)")
    output, boxes, labels, scales = v3_example()
    targets = refloss.yolov3_targets(output, boxes, labels)
    letters = list(V3_OBJECTS)
    anchors = np.array(refloss.losses.detectors.yolov3.COCO_ANCHORS, dtype=float)
    print("| object | size (px at 416) | shape IoU with the 9 anchors (computed here) | best anchor | scale "
          "| cell (row, col) | slot | prediction | box target (t_x, t_y, t_w, t_h) | weight 2 - wh |")
    for k, letter in enumerate(letters):
        size = (boxes[0, k, 2:] - boxes[0, k, :2]) * 416
        inter = np.prod(np.minimum(anchors, size), axis=-1)
        shape_iou = inter / (np.prod(anchors, axis=-1) + np.prod(size) - inter)
        p = targets.prediction[0, k]
        number, a, j, i = where(p, scales)
        grid = scales[number].grid[0]
        print(f"| {letter} | {size[0]:.1f} x {size[1]:.1f} | {' '.join(f'{v:.2f}' for v in shape_iou)} | "
              f"{targets.anchor[0, k]} {tuple(int(v) for v in anchors[targets.anchor[0, k]])} | {grid} x {grid} | "
              f"({j}, {i}) | {a} | {p} | ({', '.join(f'{t:.4f}' for t in targets.box_target[0, p])}) | "
              f"{targets.box_weight[0, p]:.4f} |")
    shared = [p for p in set(targets.prediction[0]) if np.sum(targets.prediction[0] == p) > 1]
    for p in shared:
        holders = [letters[k] for k in np.flatnonzero(targets.prediction[0] == p)]
        print(f"prediction {p} holds {holders}: object_index -> {letters[targets.object_index[0, p]]}, "
              f"class target ones at {np.flatnonzero(targets.class_target[0, p]).tolist()}")
        for k in np.flatnonzero(targets.prediction[0] == p):
            number, _, j, i = where(p, scales)
            own = refloss.encode_yolo_boxes(boxes[0, k], (i, j), anchors[targets.anchor[0, k]],
                                            grid_size=scales[number].grid)
            print(f"  {letters[k]}'s own target (encode_yolo_boxes): {own.round(4).tolist()}, weight "
                  f"{2 - np.prod(boxes[0, k, 2:] - boxes[0, k, :2]):.6f}")
    print("positives:", int(targets.positive.sum()), " ignored:", int(targets.ignored.sum()),
          " negatives:", int((~targets.positive & ~targets.ignored).sum()), " of", targets.positive.size)
    for p in np.flatnonzero(targets.ignored[0]):
        number, a, j, i = where(p, scales)
        print(f"ignored prediction {p}: scale {scales[number].grid}, slot {a} (anchor {scales[number].mask[a]}), "
              f"cell ({j}, {i}), best IoU {targets.best_iou[0, p]:.6f}")
    above = np.flatnonzero(targets.best_iou[0] > 0.5)
    print("best IoU above 0.5:", len(above), "predictions; above 0.7:",
          [(int(p), round(float(targets.best_iou[0, p]), 4), "positive" if targets.positive[0, p] else "ignored")
           for p in above if targets.best_iou[0, p] > 0.7])

    heading("YOLOv3: the three grids (one character per cell)")
    for number, scale in enumerate(scales):
        w, h = scale.grid
        canvas = np.full((h, w), ".", dtype=object)
        for p in np.flatnonzero(targets.ignored[0]):
            n, _, j, i = where(p, scales)
            if n == number:
                canvas[j, i] = "*"
        for k, letter in enumerate(letters):
            p = targets.prediction[0, k]
            n, _, j, i = where(p, scales)
            if n == number:
                canvas[j, i] = letter if canvas[j, i] in ".*" else canvas[j, i] + letter
        print(f"-- {w} x {h} (stride {416 // w}, anchors {[tuple(int(v) for v in anchors[m]) for m in scale.mask]})")
        used = [j for j in range(h) if np.any(canvas[j] != ".")]
        shown = range(max(used[0] - 2, 0), min(used[-1] + 3, h)) if h > 26 else range(h)
        if h > 26:
            print(f"   (rows {shown.start}-{shown.stop - 1} of 0-{h - 1}; the others are empty)")
        print("   " + "".join(str(i % 10) for i in range(w)))
        for j in shown:
            print(f"{j:>2} " + "".join(c if len(c) == 1 else "@" for c in canvas[j]))

    heading("YOLOv3: the example's terms under each variant (yolov3_loss)")
    variants = {
        "canonical = darknet yolov3.cfg (defaults)": {},
        "darknet yolov3-voc.cfg: ignore_thresh=0.5": {"ignore_thresh": 0.5},
        "paper: xy_loss='sse', ignore_thresh=0.5, box_weight='one'":
            {"xy_loss": "sse", "ignore_thresh": 0.5, "box_weight": "one"},
    }
    print("| variant | xy | wh | object | no_object | class | total |")
    for name, params in variants.items():
        total, terms = refloss.yolov3_loss(output, boxes, labels, **params)
        print(f"| {name} | " + " | ".join(f"{float(v):.6f}" for v in terms.values()) + f" | {float(total):.6f} |")


V3_TINY = {"num_classes": 2, "anchors": ((8, 8), (16, 16)), "anchor_masks": ((1,), (0,)), "strides": (32, 16),
           "input_size": (32, 32)}


def v3_tiny() -> tuple[np.ndarray, list, list]:
    """A 32 x 32 input, a 1 x 1 grid with a 16 px anchor and a 2 x 2 grid with an 8 px anchor (P = 5), two
    classes, one object of class 1: the 1 x 1 grid's prediction is positive, the 2 x 2 grid's (0, 0) prediction
    covers the object (ignored), the other three are negatives."""
    output = np.zeros((1, 5, 7))
    output[0, 0] = [1.0, -1.0, 0.2, -0.1, 2.0, -1.0, 0.5]  # the positive
    output[0, 1, :5] = [3.0, 3.0, 0.7, 0.7, 1.5]  # 2 x 2 grid, cell (0, 0): a box near the object's
    output[0, 2:, 4] = [-2.0, -1.0, 0.0]  # the negatives' objectness
    return output, [[[0.25, 0.25, 0.75, 0.75]]], [[1]]


def v3_worked_example() -> None:
    heading("YOLOv3: the tiny scene (yolov3_targets, yolov3_loss)")
    output, boxes, labels = v3_tiny()
    targets = refloss.yolov3_targets(output, boxes, labels, **V3_TINY)
    for field in ("positive", "ignored", "best_iou", "box_target", "box_weight", "class_target", "anchor",
                  "prediction"):
        print(f"{field}: {np.asarray(getattr(targets, field))[0].tolist()}")
    for params in ({}, {"xy_loss": "sse"}, {"box_weight": "one"}, {"ignore_thresh": 0.9}):
        total, terms = refloss.yolov3_loss(output, boxes, labels, **V3_TINY, **params)
        print(f"{params or 'defaults'}: {terms_line(terms)}; total {float(total):.6f}")
    print("sigmoid of 1, -1, 2, -2, 0.5, 3:", refloss.sigmoid(np.array([1.0, -1.0, 2.0, -2.0, 0.5, 3.0])).tolist())

    heading("YOLOv3: the tiny scene's gradient, term by term (yolov3_loss_vjp)")
    for term in ("xy", "wh", "object", "no_object", "class"):
        grad = refloss.yolov3_loss_vjp({term: 1.0}, output, boxes, labels, **V3_TINY)[0]
        nonzero = {tuple(int(i) for i in index[1:]): round(float(grad[index]), 6)
                   for index in zip(*np.nonzero(grad))}
        print(f"{term}: {nonzero}")
    grad = refloss.yolov3_loss_vjp({"xy": 1.0}, output, boxes, labels, xy_loss="sse", **V3_TINY)[0]
    print("xy (sse):", grad[0, 0, :2].round(6).tolist())


def v3_bce_versus_sse() -> None:
    heading("YOLOv3: BCE (darknet) versus SSE (paper) on t_x, target 0.9 (yolov3_loss, yolov3_loss_vjp {'xy': 1})")
    settings = {**V3_TINY, "num_classes": 1, "box_weight": "one"}
    boxes, labels = [[[0.35, 0.35, 0.55, 0.55]]], [[0]]  # 6.4 px: the 8 px anchor, 2 x 2 cell (0, 0)
    probe = np.zeros((1, 5, 6))
    targets = refloss.yolov3_targets(probe, boxes, labels, **settings)
    p = int(targets.prediction[0, 0])
    target = targets.box_target[0, p]
    print(f"positive prediction {p}, box target {target.tolist()}")
    y_logit = np.log(target[1] / (1 - target[1]))  # sigma(t_y) = 0.9: the y part stays at its minimum
    rows = {}
    for t in (-6.0, -3.0, 0.0, 2.0, float(y_logit), 6.0):
        output = np.zeros((1, 5, 6))
        output[0, p, :2] = [t, y_logit]
        output[0, p, 2:4] = target[2:]
        for xy_loss in ("bce", "sse"):
            _, terms = refloss.yolov3_loss(output, boxes, labels, xy_loss=xy_loss, **settings)
            grad = refloss.yolov3_loss_vjp({"xy": 1.0}, output, boxes, labels, xy_loss=xy_loss, **settings)[0]
            rows[t, xy_loss] = (float(terms["xy"]), float(grad[0, p, 0]))
    floor = {xy_loss: rows[float(y_logit), xy_loss][0] for xy_loss in ("bce", "sse")}
    print(f"minimum of the xy term (t_x = logit 0.9 = {y_logit:.6f}): bce {floor['bce']:.6f}, sse {floor['sse']:.3g}")
    print("| t_x | sigma(t_x) | sigma - 0.9 | BCE xy term | BCE d/dt_x | SSE xy term | SSE d/dt_x | SSE d/dt_x / "
          "sigma'(t_x) | BCE / SSE gradient |")
    for t in (-6.0, -3.0, 0.0, 2.0, float(y_logit), 6.0):
        s = float(refloss.sigmoid(np.array(t)))
        slope = s * float(refloss.sigmoid(np.array(-t)))
        (bce, gb), (sse, gs) = rows[t, "bce"], rows[t, "sse"]
        ratio = f"{gb / gs:.1f}" if abs(gb) > 1e-12 else "-"
        print(f"| {t:.6g} | {s:.6f} | {s - 0.9:.6f} | {bce:.6f} | {gb:.6f} | {sse:.6f} | {gs:.6g} | {gs / slope:.6f} "
              f"| {ratio} |")


def v3_numerics() -> None:
    heading("YOLOv3: a saturated objectness logit (yolov3_loss, yolov3_loss_vjp)")
    output, boxes, labels = v3_tiny()
    for z in (40.0, 800.0, -800.0):
        output[0, 2, 4] = z
        _, terms = refloss.yolov3_loss(output, boxes, labels, **V3_TINY)
        grad = refloss.yolov3_loss_vjp({"no_object": 1.0}, output, boxes, labels, **V3_TINY)[0]
        print(f"negative objectness {z:g}: no_object {float(terms['no_object'])!r}, "
              f"gradient {float(grad[0, 2, 4])!r}")


# ----------------------------------------------------------------------------------------------------------------
# YOLOv3 as eriklindernoren/PyTorch-YOLOv3 computes it
# ----------------------------------------------------------------------------------------------------------------

E_TINY = {"num_classes": 2, "anchors": ((8, 8), (16, 16), (24, 24)), "anchor_masks": ((1, 2), (0,)),
          "strides": (32, 16), "input_size": (64, 64)}


def e_tiny() -> tuple[np.ndarray, list, list]:
    """A 64 x 64 input: a 2 x 2 grid (stride 32) with anchors 16 and 24 px (8 predictions) and a 4 x 4 grid
    (stride 16) with an 8 px anchor (16 predictions), P = 24; two classes; one 19.2 px object of class 1, centre
    (0.35, 0.45). Its best anchor at the 2 x 2 grid is the 16 px one (prediction 0), the 24 px one in the same
    cell (prediction 4) is ignored, and at the 4 x 4 grid the 8 px anchor in cell (row 1, column 1) (prediction
    13) is positive too."""
    output = np.zeros((1, 24, 7))
    output[0, 0] = [1.0, -1.0, 0.2, -0.1, 2.0, -1.0, 0.5]  # positive, 2 x 2 grid
    output[0, 4, 4] = 1.5  # ignored: its objectness is in no term
    output[0, 1, 4], output[0, 2, 4] = -2.0, -1.0  # negatives of the 2 x 2 grid (the other four at 0)
    output[0, 13] = [0.0, 0.5, 0.5, 1.0, -1.0, 0.0, 0.0]  # positive, 4 x 4 grid
    output[0, 20, 4] = 3.0  # a negative of the 4 x 4 grid (the other thirteen at 0)
    return output, [[[0.2, 0.3, 0.5, 0.6]]], [[1]]


def e_worked_example() -> None:
    heading("eriklindernoren: the tiny scene (yolov3_eriklindernoren_targets, yolov3_eriklindernoren_loss)")
    output, boxes, labels = e_tiny()
    targets = refloss.yolov3_eriklindernoren_targets(output, boxes, labels, **E_TINY)
    print("anchor (per scale):", targets.anchor[0].tolist(), " prediction (per scale):",
          targets.prediction[0].tolist())
    print("positive:", np.flatnonzero(targets.positive[0]).tolist(), " ignored:",
          np.flatnonzero(targets.ignored[0]).tolist(), " negatives:",
          np.flatnonzero(~targets.positive[0] & ~targets.ignored[0]).tolist())
    print("shape_iou (nonzero):", {int(p): round(float(v), 6) for p, v in enumerate(targets.shape_iou[0]) if v})
    for p in np.flatnonzero(targets.positive[0]):
        print(f"prediction {p}: box_target {targets.box_target[0, p].round(6).tolist()}, class_target "
              f"{targets.class_target[0, p].tolist()}")
    print("log 1.2, log 2.4:", np.log(1.2), np.log(2.4), " log(1.2 + 1e-16) == log(1.2):",
          bool(np.log(1.2 + 1e-16) == np.log(1.2)), " log(1e-16):", np.log(1e-16), "(computed here)")
    total, terms = refloss.yolov3_eriklindernoren_loss(output, boxes, labels, **E_TINY)
    print(f"terms: {terms_line(terms)}; total {float(total):.6f}")
    total, terms = refloss.yolov3_loss(output, boxes, labels, **E_TINY)
    print(f"yolov3_loss (darknet) on the same scene: {terms_line(terms)}; total {float(total):.6f}")
    z = np.array([1.0, -1.0, 2.0, -2.0, 0.5, 3.0, 0.0])
    print("sigmoid of", z.tolist(), ":", refloss.sigmoid(z).round(6).tolist())
    print("softplus of", z.tolist(), ":", np.logaddexp(0.0, z).round(6).tolist(), "(computed here)")

    heading("eriklindernoren: the tiny scene's gradient, term by term (yolov3_eriklindernoren_loss_vjp)")
    for term in ("xy", "wh", "object", "no_object", "class"):
        grad = refloss.yolov3_eriklindernoren_loss_vjp({term: 1.0}, output, boxes, labels, **E_TINY)[0]
        nonzero = {tuple(int(i) for i in index[1:]): round(float(grad[index]), 6)
                   for index in zip(*np.nonzero(grad))}
        print(f"{term}: {nonzero}")


def e_empty_scale() -> None:
    heading("eriklindernoren: a batch without objects, and a scale without negatives (NaN terms)")
    output, _, _ = e_tiny()
    total, terms = refloss.yolov3_eriklindernoren_loss(output, [[[0.0, 0.0, 0.1, 0.1]]], [[-1]], **E_TINY)
    grad = refloss.yolov3_eriklindernoren_loss_vjp(1.0, output, [[[0.0, 0.0, 0.1, 0.1]]], [[-1]], **E_TINY)[0]
    print(f"no objects: {terms_line(terms)}; total {float(total)}; gradient finite: {bool(np.all(np.isfinite(grad)))},"
          f" nonzero entries {int(np.count_nonzero(grad))} (objectness only: "
          f"{bool(np.count_nonzero(grad[..., :4]) == 0 and np.count_nonzero(grad[..., 5:]) == 0)})")
    settings = {**V3_TINY, "input_size": (32, 32)}
    output, boxes, labels = v3_tiny()
    targets = refloss.yolov3_eriklindernoren_targets(output, boxes, labels, **settings)
    total, terms = refloss.yolov3_eriklindernoren_loss(output, boxes, labels, **settings)
    print(f"yolov3 tiny layout (1 x 1 grid, one anchor): positives {np.flatnonzero(targets.positive[0]).tolist()}; "
          f"{terms_line(terms)}")


def e_example_image() -> None:
    heading("eriklindernoren: the example image (yolov3_eriklindernoren_targets, default COCO head)")
    output, boxes, labels, scales = v3_example()
    targets = refloss.yolov3_eriklindernoren_targets(output, boxes, labels)
    letters = list(V3_OBJECTS)
    anchors = np.array(refloss.losses.detectors.yolov3.COCO_ANCHORS, dtype=float)
    print("| object | best anchor at 13 x 13 | at 26 x 26 | at 52 x 52 |")
    for k, letter in enumerate(letters):
        cells = []
        for s in range(3):
            p = targets.prediction[0, k, s]
            _, _, j, i = where(p, scales)
            a = targets.anchor[0, k, s]
            cells.append(f"{a} {tuple(int(v) for v in anchors[a])}, cell ({j}, {i}), prediction {p}")
        print(f"| {letter} | " + " | ".join(cells) + " |")
    a_index = letters.index("A")
    for s in range(3):
        p = targets.prediction[0, a_index, s]
        print(f"A's box target at prediction {p}: {targets.box_target[0, p].round(4).tolist()}; output there "
              f"{output[0, p, :4].round(4).tolist()}")
    negative = ~targets.positive[0] & ~targets.ignored[0]
    print("| scale | positives K | ignored | negatives Q | 100 / Q (a negative's objectness weight) |")
    for number, scale in enumerate(scales):
        part = slice(scale.start, scale.start + scale.size)
        k, q = int(targets.positive[0, part].sum()), int(negative[part].sum())
        print(f"| {scale.grid[0]} x {scale.grid[1]} | {k} | {int(targets.ignored[0, part].sum())} | {q} | "
              f"{100 / q:.6f} |")
    for p in np.flatnonzero(targets.ignored[0]):
        number, a, j, i = where(p, scales)
        here = [letters[k] for k in range(len(letters))
                if where(targets.prediction[0, k, number], scales)[2:] == (j, i)]
        print(f"ignored {p}: {scales[number].grid}, anchor {scales[number].mask[a]}, cell ({j}, {i}), "
              f"shape IoU {targets.shape_iou[0, p]:.4f}, objects whose centre is in this cell: {here}")
    shared = {}
    for k in range(len(letters)):
        for s in range(3):
            shared.setdefault(int(targets.prediction[0, k, s]), []).append(letters[k])
    print("predictions holding two objects:", {p: ks for p, ks in shared.items() if len(ks) > 1})

    heading("eriklindernoren versus darknet on the example image (yolov3_loss, yolov3_eriklindernoren_loss)")
    print("| loss | xy | wh | object | no_object | class | total |")
    rows = {"darknet `yolov3_loss` (defaults)": refloss.yolov3_loss(output, boxes, labels),
            "`yolov3_eriklindernoren_loss` (defaults)": refloss.yolov3_eriklindernoren_loss(output, boxes, labels),
            "`yolov3_eriklindernoren_loss`, `noobj_scale=1`":
                refloss.yolov3_eriklindernoren_loss(output, boxes, labels, noobj_scale=1.0)}
    for name, (total, terms) in rows.items():
        print(f"| {name} | " + " | ".join(f"{float(v):.6f}" for v in terms.values()) + f" | {float(total):.6f} |")
    print("3 ln 2 =", 3 * np.log(2), " 300 ln 2 =", 300 * np.log(2))
    grads = {"darknet": refloss.yolov3_loss_vjp(1.0, output, boxes, labels)[0],
             "eriklindernoren": refloss.yolov3_eriklindernoren_loss_vjp(1.0, output, boxes, labels)[0]}
    print("| gradient of the total on | darknet | eriklindernoren |")
    darknet_targets = refloss.yolov3_targets(output, boxes, labels)
    for number, scale in enumerate(scales):
        part = slice(scale.start, scale.start + scale.size)
        both = np.flatnonzero(~targets.positive[0, part] & ~targets.ignored[0, part]
                              & ~darknet_targets.positive[0, part] & ~darknet_targets.ignored[0, part])
        p = scale.start + int(both[0])
        print(f"| a negative's objectness, {scale.grid[0]} x {scale.grid[1]} (prediction {p}) | "
              f"{grads['darknet'][0, p, 4]:.6f} | {grads['eriklindernoren'][0, p, 4]:.6f} |")
    b = letters.index("B")
    p = int(darknet_targets.prediction[0, b])
    print(f"| B's positive (prediction {p}): t_x, t_w, objectness, its class logit | "
          f"{grads['darknet'][0, p, [0, 2, 4, 5]].round(6).tolist()} | "
          f"{grads['eriklindernoren'][0, p, [0, 2, 4, 5]].round(6).tolist()} |")
    print("eriklindernoren's", p, "positive:", bool(targets.positive[0, p]), "; K at its scale:",
          int(targets.positive[0, scales[1].start:scales[1].start + scales[1].size].sum()))
    print("sum of |gradient| over objectness entries: darknet", float(np.abs(grads["darknet"][0, :, 4]).sum()),
          " eriklindernoren", float(np.abs(grads["eriklindernoren"][0, :, 4]).sum()))


def e_numerics() -> None:
    heading("eriklindernoren: saturated logits, BCELoss on sigmoid (yolov3_eriklindernoren_loss(_vjp), tiny scene)")
    output, boxes, labels = e_tiny()
    for z in (20.0, 30.0, 36.0, 37.0, 800.0, -800.0):
        output[0, 20, 4] = z
        _, terms = refloss.yolov3_eriklindernoren_loss(output, boxes, labels, **E_TINY)
        grad = refloss.yolov3_eriklindernoren_loss_vjp({"no_object": 1.0}, output, boxes, labels, **E_TINY)[0]
        print(f"negative objectness {z:g}: no_object {float(terms['no_object']):.6f}, d/dz {grad[0, 20, 4]:.6f} "
              f"(15 / 100 x d/dz = {grad[0, 20, 4] * 15 / 100:.6f}; sigmoid {float(refloss.sigmoid(np.array(z))):.6f})")
    output, boxes, labels = e_tiny()
    for z in (-30.0, -99.0, -101.0):
        output[0, 0, 4] = z
        _, terms = refloss.yolov3_eriklindernoren_loss(output, boxes, labels, **E_TINY)
        grad = refloss.yolov3_eriklindernoren_loss_vjp({"object": 1.0}, output, boxes, labels, **E_TINY)[0]
        print(f"positive objectness {z:g}: object {float(terms['object']):.6f}, d/dz {grad[0, 0, 4]:.6f}")
    z32 = np.float32(1.0)
    while np.float32(1.0) / (np.float32(1.0) + np.exp(-z32)) < np.float32(1.0):
        z32 = np.float32(z32 + np.float32(0.01))
    print(f"float32 sigmoid rounds to 1 from about z = {z32:.2f} (computed here); float64 from "
          f"{np.log(2.0**53):.4f}; p (1 - p) < 1e-12 beyond |z| = {12 * np.log(10):.4f}")


if __name__ == "__main__":
    v1_grid_drawing()
    v1_worked_example()
    v1_linear_numerics()
    v3_assignment()
    v3_worked_example()
    v3_bce_versus_sse()
    v3_numerics()
    e_worked_example()
    e_empty_scale()
    e_example_image()
    e_numerics()
