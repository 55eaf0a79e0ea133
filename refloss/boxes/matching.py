"""Matching, sampling and mining: the steps of the anchor-based detectors that decide which anchor learns what.

None of them has a gradient: they pick indices, and the detector losses hold their picks constant (as SSD,
RetinaNet and Faster R-CNN train). Each is torchvision's rule written out, with every tie resolved the same way:
among equal values the lower index wins.

* :func:`match_anchors`: torchvision's ``Matcher`` (Faster R-CNN's RPN and box head, RetinaNet).
* :func:`match_priors`: torchvision's ``SSDMatcher`` (threshold, then each ground truth's best prior forced).
* :func:`balanced_sample`: torchvision's ``BalancedPositiveNegativeSampler``, deterministic or seeded.
* :func:`hard_negatives`: SSD's hard negative mining (3 negatives per positive).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refloss._checks import as_array, as_real_array

__all__ = ["BELOW_LOW_THRESHOLD", "BETWEEN_THRESHOLDS", "balanced_sample", "hard_negatives", "match_anchors",
           "match_priors"]

BELOW_LOW_THRESHOLD = -1  # an anchor matched to no ground truth: a negative (background)
BETWEEN_THRESHOLDS = -2  # an anchor whose best IoU lies in [low, high): ignored by the loss


def _as_iou_matrix(iou: Any) -> np.ndarray:
    """The IoU matrix (M ground truths, A anchors), M >= 1 and A >= 1, as float64."""
    matrix = as_real_array(iou, "iou")
    if matrix.ndim != 2:
        raise ValueError(f"iou must be a matrix (M ground truths, A anchors), got shape {matrix.shape}")
    if matrix.shape[0] == 0:
        raise ValueError("iou has no ground truths (M = 0): an image without objects has every anchor negative; "
                         "the losses handle it before matching")
    if matrix.shape[1] == 0:
        raise ValueError("iou has no anchors (A = 0)")
    return matrix


def _threshold(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1] (an IoU), got {value!r}")
    return float(value)


def match_anchors(iou: Any, *, high_threshold: float, low_threshold: float,
                  allow_low_quality_matches: bool = False) -> np.ndarray:
    """The ground truth each anchor is matched to, by IoU, as torchvision's ``Matcher``.

    Each anchor takes the ground truth it overlaps most (the lowest index among equal maxima). Its best IoU then
    decides: at least ``high_threshold``, it keeps that match; below ``low_threshold``, it becomes
    :data:`BELOW_LOW_THRESHOLD` (-1, a negative); in between, :data:`BETWEEN_THRESHOLDS` (-2, ignored).

    With ``allow_low_quality_matches`` (RPN, RetinaNet), every ground truth also claims the anchors that overlap
    it most, ties included, even below ``high_threshold``: each such anchor gets back its own best ground truth
    (which may be another one). The rule has a degenerate case that torchvision has too and that is kept: a ground
    truth that overlaps no anchor has largest IoU 0, so every anchor that misses it is restored to its own best
    ground truth, and every anchor that overlaps nothing becomes a positive of ground truth 0.

    A NaN IoU compares false with everything: it is never a maximum, and an anchor whose IoUs are all NaN is a
    negative (torch's ``max`` would propagate the NaN; IoUs of valid boxes are never NaN).

    Args:
        iou: (M, A) IoU of each ground truth (rows) with each anchor (columns), M >= 1.
        high_threshold: the IoU from which an anchor is matched (0.7 for the RPN, 0.5 for the others).
        low_threshold: the IoU below which an anchor is a negative, at most ``high_threshold``.
        allow_low_quality_matches: restore each ground truth's best anchors (see above).

    Returns:
        (A,) int64: the matched ground truth's row, -1 (negative) or -2 (ignored).

    Examples:
        >>> match_anchors([[0.8, 0.45, 0.1], [0.2, 0.6, 0.35]], high_threshold=0.7, low_threshold=0.3).tolist()
        [0, -2, -2]
        >>> match_anchors([[0.8, 0.45, 0.1], [0.2, 0.6, 0.35]], high_threshold=0.7, low_threshold=0.3,
        ...               allow_low_quality_matches=True).tolist()
        [0, 1, -2]
    """
    matrix = _as_iou_matrix(iou)
    high = _threshold(high_threshold, "high_threshold")
    low = _threshold(low_threshold, "low_threshold")
    if low > high:
        raise ValueError(f"low_threshold ({low}) must not exceed high_threshold ({high})")
    compared = np.where(np.isnan(matrix), -np.inf, matrix)
    best = np.argmax(compared, axis=0)  # argmax takes the first of equal maxima: the lowest ground truth
    best_iou = compared[best, np.arange(matrix.shape[1])]
    matches = np.where(best_iou >= high, best, np.where(best_iou >= low, BETWEEN_THRESHOLDS, BELOW_LOW_THRESHOLD))
    if allow_low_quality_matches:
        best_of_each_truth = compared.max(axis=1, keepdims=True)
        claimed = np.any(compared == best_of_each_truth, axis=0)
        matches = np.where(claimed, best, matches)
    return matches.astype(np.int64)


def match_priors(iou: Any, *, threshold: float = 0.5) -> np.ndarray:
    """The ground truth each SSD prior is matched to, as torchvision's ``SSDMatcher``.

    First :func:`match_anchors` with both thresholds at ``threshold`` (no ignore band): a prior whose best IoU is at
    least ``threshold`` takes that ground truth, the others are background (-1). Then each ground truth, in row
    order, takes its own best prior (the lowest index among equal maxima) whatever the IoU, so that every object
    has a prior; when two ground truths share their best prior, the later one keeps it (torchvision's scatter leaves
    this unspecified; amdegroot's ssd.pytorch loops in row order, so the later one wins).

    Args:
        iou: (M, P) IoU of each ground truth (rows) with each prior (columns), M >= 1.
        threshold: the IoU from which a prior is matched (0.5).

    Returns:
        (P,) int64: the matched ground truth's row, or -1 (background).

    Examples:
        >>> match_priors([[0.3, 0.6, 0.1], [0.2, 0.4, 0.45]]).tolist()
        [-1, 0, 1]
    """
    matrix = _as_iou_matrix(iou)
    matches = match_anchors(matrix, high_threshold=threshold, low_threshold=threshold)
    best_prior = np.argmax(np.where(np.isnan(matrix), -np.inf, matrix), axis=1)
    for truth, prior in enumerate(best_prior):  # in row order: a later ground truth overwrites an earlier one
        matches[prior] = truth
    return matches


def balanced_sample(labels: Any, *, batch_size_per_image: int, positive_fraction: float,
                    rng: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """A sample of one image's positives and negatives, as torchvision's ``BalancedPositiveNegativeSampler``.

    It takes ``min(#positives, int(batch_size_per_image * positive_fraction))`` positives (label >= 1) and
    ``min(#negatives, batch_size_per_image - positives taken)`` negatives (label 0); ignored anchors (label -1)
    are never taken. Which ones:

    * ``rng=None``: the first ones in index order (deterministic; not torchvision's random choice, but a valid draw
      of it, useful in tests and golden data);
    * an int seed or a ``numpy.random.Generator``: a uniform subset without replacement (numpy's
      ``Generator.permutation``; torchvision's ``torch.randperm`` draws from the same distribution with another
      generator, so the same seed picks different anchors there).

    Args:
        labels: (A,) int: >= 1 positive, 0 negative, -1 ignored (torchvision's convention).
        batch_size_per_image: how many anchors to sample at most (256 for the RPN, 512 for the box head).
        positive_fraction: the largest share of positives (0.5 for the RPN, 0.25 for the box head).
        rng: None, an int seed or a ``numpy.random.Generator``.

    Returns:
        (positive, negative): two (A,) bool masks of the sampled positives and negatives.

    Examples:
        >>> positive, negative = balanced_sample([1, 0, 0, -1, 1, 0], batch_size_per_image=4, positive_fraction=0.25)
        >>> positive.nonzero()[0].tolist(), negative.nonzero()[0].tolist()
        ([0], [1, 2, 5])
    """
    label_array = as_array(labels, "labels")
    if label_array.ndim != 1 or label_array.dtype.kind not in "iub":
        raise ValueError(f"labels must be a 1-d integer array (1 positive, 0 negative, -1 ignored), got "
                         f"{label_array.dtype} array of shape {label_array.shape}")
    if isinstance(batch_size_per_image, (bool, np.bool_)) or not isinstance(batch_size_per_image, (int, np.integer)) \
            or batch_size_per_image < 1:
        raise ValueError(f"batch_size_per_image must be a positive integer, got {batch_size_per_image!r}")
    if not isinstance(positive_fraction, (int, float, np.integer, np.floating)) or not 0 <= positive_fraction <= 1:
        raise ValueError(f"positive_fraction must be a number in [0, 1], got {positive_fraction!r}")
    generator = None if rng is None else np.random.default_rng(rng)
    positives = np.flatnonzero(label_array >= 1)
    negatives = np.flatnonzero(label_array == 0)
    wanted_positives = min(positives.size, int(batch_size_per_image * positive_fraction))
    wanted_negatives = min(negatives.size, int(batch_size_per_image) - wanted_positives)

    def pick(candidates: np.ndarray, count: int) -> np.ndarray:
        mask = np.zeros(label_array.shape, dtype=bool)
        chosen = candidates[:count] if generator is None else generator.permutation(candidates)[:count]
        mask[chosen] = True
        return mask

    return pick(positives, wanted_positives), pick(negatives, wanted_negatives)


def hard_negatives(background_loss: Any, positive: Any, *, neg_to_pos_ratio: int = 3) -> np.ndarray:
    """SSD's hard negative mining: in each image, the non-positive priors whose background loss is largest.

    Each image (row) keeps ``k = min(neg_to_pos_ratio * positives of the image, non-positive priors)`` of its
    non-positive priors, those with the largest ``background_loss`` (the cross-entropy of the prior's logits
    against class 0). Equal losses go to the lower prior index first; NaN ranks above every number, as in torch's
    descending sort, so that a NaN loss is mined and shows in the loss rather than hiding. An image without
    positives mines nothing. torchvision does not clamp k: when ``3 * positives`` exceeds the non-positive priors,
    its ranking reaches the positives (their loss set to -inf) and counts them a second time; amdegroot's
    ssd.pytorch clamps k at ``P - 1``.

    Args:
        background_loss: (N, P) the loss of each prior against the background class.
        positive: (N, P) bool: the matched priors.
        neg_to_pos_ratio: negatives per positive (3).

    Returns:
        (N, P) bool: the mined negatives.

    Examples:
        >>> hard_negatives([[0.5, 2.0, 0.1, 0.7, 0.7]], [[False, True, False, False, False]],
        ...                neg_to_pos_ratio=2).nonzero()[1].tolist()
        [3, 4]
    """
    loss = as_real_array(background_loss, "background_loss")
    mask = as_array(positive, "positive")
    if loss.ndim != 2:
        raise ValueError(f"background_loss must have shape (N, P), got {loss.shape}")
    if mask.shape != loss.shape or mask.dtype != bool:
        raise ValueError(f"positive must be a bool array of shape {loss.shape} (as background_loss), got "
                         f"{mask.dtype} array of shape {mask.shape}")
    if isinstance(neg_to_pos_ratio, (bool, np.bool_)) or not isinstance(neg_to_pos_ratio, (int, np.integer)) \
            or neg_to_pos_ratio < 0:
        raise ValueError(f"neg_to_pos_ratio must be a non-negative integer, got {neg_to_pos_ratio!r}")
    # The ranking: non-positives before positives, NaN before numbers, then larger losses first; lexsort is stable,
    # so among equal keys the lower index comes first.
    nan = np.isnan(loss)
    order = np.lexsort((np.where(nan, 0.0, -loss), ~nan, mask), axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(loss.shape[1])[None, :], axis=1)
    counts = np.minimum(neg_to_pos_ratio * mask.sum(axis=1), (~mask).sum(axis=1))
    return (rank < counts[:, None]) & ~mask
