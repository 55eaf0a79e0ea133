"""Matching, sampling and mining (refloss.boxes.matching): hand-worked rules, bad input, and torchvision's own
Matcher, SSDMatcher, sampler and SSD mining on the same inputs."""

import numpy as np
import pytest

from refloss.boxes.matching import (BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, balanced_sample, hard_negatives,
                                    match_anchors, match_priors)

# Three ground truths (rows) x six anchors (columns), written so that every rule shows (high 0.7, low 0.3):
# anchor 0: best 0.75 (gt 0) >= 0.7 -> gt 0;  anchor 1: best 0.5 (gt 0), in [0.3, 0.7) -> ignored;
# anchor 2: best 0.2 < 0.3 -> negative;       anchor 3: best 0.5, a tie of gt 1 and gt 2 -> ignored;
# anchor 4: best 0.1 -> negative;             anchor 5: best 0.25 (gt 1) -> negative.
IOU = np.array([[0.75, 0.5, 0.2, 0.1, 0.0, 0.0],
                [0.0, 0.1, 0.0, 0.5, 0.05, 0.25],
                [0.0, 0.0, 0.1, 0.5, 0.1, 0.0]])


def test_match_anchors_thresholds_and_ties():
    matches = match_anchors(IOU, high_threshold=0.7, low_threshold=0.3)
    assert matches.tolist() == [0, BETWEEN_THRESHOLDS, BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS,
                                BELOW_LOW_THRESHOLD, BELOW_LOW_THRESHOLD]
    assert matches.dtype == np.int64


def test_low_quality_matches_restore_each_truths_best_anchors_to_their_own_best():
    # gt 0's largest IoU is 0.75 (anchor 0, already matched); gt 1's and gt 2's is 0.5, both at anchor 3, whose own
    # best ground truth is gt 1 (the lower row of the tie): gt 2 claims anchor 3 but anchor 3 goes to gt 1.
    matches = match_anchors(IOU, high_threshold=0.7, low_threshold=0.3, allow_low_quality_matches=True)
    assert matches.tolist() == [0, BETWEEN_THRESHOLDS, BELOW_LOW_THRESHOLD, 1, BELOW_LOW_THRESHOLD,
                                BELOW_LOW_THRESHOLD]


def test_low_quality_ties_claim_every_best_anchor():
    # gt 0's best IoU 0.2 is shared by anchors 1 and 2: both become positives of gt 0.
    matches = match_anchors([[0.1, 0.2, 0.2, 0.0]], high_threshold=0.7, low_threshold=0.3,
                            allow_low_quality_matches=True)
    assert matches.tolist() == [-1, 0, 0, -1]


def test_a_truth_overlapping_no_anchor_promotes_every_missing_anchor():
    # torchvision's degenerate case, kept: gt 1 overlaps nothing, so its largest IoU is 0 and every anchor with IoU 0
    # to it (all of them) is restored to its own best ground truth; anchor 2 overlaps nothing at all and becomes a
    # positive of gt 0.
    matches = match_anchors([[0.8, 0.1, 0.0], [0.0, 0.0, 0.0]], high_threshold=0.7, low_threshold=0.3,
                            allow_low_quality_matches=True)
    assert matches.tolist() == [0, 0, 0]


def test_nan_iou_is_never_a_maximum():
    matches = match_anchors([[np.nan, 0.8], [0.9, np.nan]], high_threshold=0.7, low_threshold=0.3)
    assert matches.tolist() == [1, 0]
    assert match_anchors([[np.nan]], high_threshold=0.7, low_threshold=0.3).tolist() == [BELOW_LOW_THRESHOLD]


def test_match_priors_forces_each_truths_best_prior_and_the_later_truth_wins():
    # prior 0: 0.55 >= 0.5 -> gt 0 (also gt 0's best prior). gt 1's best prior is prior 1 (0.45 < 0.5), forced;
    # gt 2's is prior 2 (0.3), forced.
    iou = [[0.55, 0.2, 0.1], [0.1, 0.45, 0.2], [0.0, 0.1, 0.3]]
    assert match_priors(iou).tolist() == [0, 1, 2]
    # Two ground truths whose best prior is prior 0: the later (gt 1) keeps it; prior 1 stays with gt 0 by threshold.
    assert match_priors([[0.9, 0.6], [0.95, 0.1]]).tolist() == [1, 0]
    # Threshold at exactly 0.5 matches (>=).
    assert match_priors([[0.5, 0.5, 0.9]]).tolist() == [0, 0, 0]


def test_balanced_sample_counts_and_determinism():
    labels = np.array([1, 0, -1, 1, 0, 0, 1, 0])
    positive, negative = balanced_sample(labels, batch_size_per_image=4, positive_fraction=0.5)
    # int(4 * 0.5) = 2 positives of 3, the first two; 4 - 2 = 2 negatives of 4, the first two.
    assert positive.nonzero()[0].tolist() == [0, 3]
    assert negative.nonzero()[0].tolist() == [1, 4]
    # Few positives leave their share to negatives: 1 positive, then min(4, 6 - 1) negatives.
    positive, negative = balanced_sample([0, 1, 0, 0, 0], batch_size_per_image=6, positive_fraction=0.5)
    assert positive.sum() == 1 and negative.sum() == 4


def test_balanced_sample_with_a_seed_is_reproducible_and_uniform():
    labels = np.r_[np.ones(10, int), np.zeros(30, int), -np.ones(5, int)]
    first = balanced_sample(labels, batch_size_per_image=8, positive_fraction=0.25, rng=7)
    again = balanced_sample(labels, batch_size_per_image=8, positive_fraction=0.25, rng=np.random.default_rng(7))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert first[0].sum() == 2 and first[1].sum() == 6
    assert not np.any((first[0] | first[1]) & (labels == -1))
    # Uniform: over 2,000 draws each negative is taken about 6/30 of the time (binomial sd 0.009; 5 sd allowed).
    generator = np.random.default_rng(0)
    counts = sum(balanced_sample(labels, batch_size_per_image=8, positive_fraction=0.25, rng=generator)[1]
                 for _ in range(2000))
    assert np.all(np.abs(counts[10:40] / 2000 - 0.2) < 0.045)


def test_hard_negatives_ranks_by_loss_with_ties_to_the_lower_index():
    loss = np.array([[0.5, 2.0, 0.1, 0.7, 0.7, 0.9],
                     [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    positive = np.array([[False, True, False, False, False, False],
                         [False, False, False, False, False, False]])
    # Image 0: one positive -> k = 3 of its 5 non-positives: 0.9 (5), then 0.7 twice (3 before 4).
    # Image 1: no positive -> nothing mined.
    mined = hard_negatives(loss, positive)
    assert mined[0].nonzero()[0].tolist() == [3, 4, 5]
    assert not mined[1].any()
    # k is clamped at the number of non-positives: 3 * 1 > 2 leaves both.
    assert hard_negatives([[1.0, 0.0, 2.0]], [[False, True, False]]).tolist() == [[True, False, True]]


def test_hard_negatives_mines_nan_first():
    mined = hard_negatives([[0.5, np.nan, 9.0, 1.0]], [[True, False, False, False]], neg_to_pos_ratio=1)
    assert mined.tolist() == [[False, True, False, False]]


@pytest.mark.parametrize("call, message", [
    (lambda: match_anchors([0.5], high_threshold=0.7, low_threshold=0.3), "iou must be a matrix"),
    (lambda: match_anchors(np.zeros((0, 3)), high_threshold=0.7, low_threshold=0.3), "no ground truths"),
    (lambda: match_anchors(np.zeros((2, 0)), high_threshold=0.7, low_threshold=0.3), "no anchors"),
    (lambda: match_anchors([[0.5]], high_threshold=0.3, low_threshold=0.7), "must not exceed"),
    (lambda: match_anchors([[0.5]], high_threshold=1.5, low_threshold=0.3), "high_threshold must be"),
    (lambda: balanced_sample([[1, 0]], batch_size_per_image=2, positive_fraction=0.5), "1-d integer"),
    (lambda: balanced_sample([1, 0], batch_size_per_image=0, positive_fraction=0.5), "batch_size_per_image"),
    (lambda: balanced_sample([1, 0], batch_size_per_image=2, positive_fraction=2), "positive_fraction"),
    (lambda: hard_negatives([[1.0, 2.0]], [[1, 0]]), "positive must be a bool array"),
    (lambda: hard_negatives([1.0, 2.0], [True, False]), "shape (N, P)"),
    (lambda: hard_negatives([[1.0]], [[True]], neg_to_pos_ratio=-1), "non-negative integer"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


# ---- torchvision's own rules on the same inputs ---------------------------------------------------------------

def _random_iou(rng: np.random.Generator, truths: int, anchors: int) -> np.ndarray:
    """A random IoU matrix on a coarse grid (multiples of 1/20), so that exact ties and values at the thresholds
    occur, and a column of zeros now and then."""
    iou = rng.integers(0, 21, size=(truths, anchors)) / 20
    iou[:, rng.random(anchors) < 0.2] = 0.0
    return iou


def _without_tied_rows(iou: np.ndarray) -> bool:
    """No anchor has two ground truths at its maximum, and no ground truth two best anchors: torch's argmax does
    not promise which of equal maxima it returns."""
    column_ties = (iou == iou.max(axis=0)).sum(axis=0) > 1
    row_ties = (iou == iou.max(axis=1, keepdims=True)).sum(axis=1) > 1
    return not column_ties.any() and not row_ties.any()


@pytest.mark.parametrize("low_quality", [False, True])
def test_match_anchors_agrees_with_torchvisions_matcher(low_quality):
    torch = pytest.importorskip("torch")
    detection_utils = pytest.importorskip("torchvision.models.detection._utils")
    matcher = detection_utils.Matcher(0.7, 0.3, allow_low_quality_matches=low_quality)
    rng = np.random.default_rng(3)
    compared = 0
    for _ in range(300):
        iou = _random_iou(rng, int(rng.integers(1, 4)), int(rng.integers(1, 9)))
        if low_quality and not _without_tied_rows(iou):
            continue  # (without low-quality matches ties along columns are compared too: torch takes the first)
        expected = matcher(torch.from_numpy(iou)).numpy()
        np.testing.assert_array_equal(match_anchors(iou, high_threshold=0.7, low_threshold=0.3,
                                                    allow_low_quality_matches=low_quality), expected)
        compared += 1
    assert compared > 50


def test_match_priors_agrees_with_torchvisions_ssd_matcher():
    torch = pytest.importorskip("torch")
    detection_utils = pytest.importorskip("torchvision.models.detection._utils")
    matcher = detection_utils.SSDMatcher(0.5)
    rng = np.random.default_rng(4)
    compared = 0
    for _ in range(300):
        iou = _random_iou(rng, int(rng.integers(1, 4)), int(rng.integers(2, 9)))
        best_priors = iou.argmax(axis=1)
        if not _without_tied_rows(iou) or len(set(best_priors)) < len(best_priors):
            continue  # torchvision's scatter onto a shared best prior has no specified winner
        np.testing.assert_array_equal(match_priors(iou), matcher(torch.from_numpy(iou)).numpy())
        compared += 1
    assert compared > 30


def test_balanced_sample_counts_agree_with_torchvisions_sampler():
    torch = pytest.importorskip("torch")
    detection_utils = pytest.importorskip("torchvision.models.detection._utils")
    rng = np.random.default_rng(5)
    for batch, fraction in ((256, 0.5), (512, 0.25), (7, 0.3)):
        sampler = detection_utils.BalancedPositiveNegativeSampler(batch, fraction)
        for _ in range(20):
            labels = rng.integers(-1, 2, size=int(rng.integers(1, 800)))
            theirs = sampler([torch.from_numpy(labels)])
            ours = balanced_sample(labels, batch_size_per_image=batch, positive_fraction=fraction, rng=rng)
            for mine, their in zip(ours, theirs):
                assert mine.sum() == int(their[0].sum())  # the same counts; the draws differ by design


def test_hard_negatives_agree_with_torchvisions_ssd_mining():
    # torchvision's SSD.compute_loss: negative_loss[foreground] = -inf, sort descending, idx.sort() < 3 * num_pos.
    # Compared on the non-positives (where its unclamped k reaches past them it also takes positives, which refloss
    # does not) and without equal losses (its sort is not stable).
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    for _ in range(100):
        loss = rng.permutation(40).reshape(2, 20) / 7.0
        positive = rng.random((2, 20)) < 0.2
        negative_loss = torch.from_numpy(loss.copy())
        negative_loss[torch.from_numpy(positive)] = -float("inf")
        _, order = negative_loss.sort(1, descending=True)
        theirs = order.sort(1)[1] < torch.from_numpy(3 * positive.sum(axis=1, keepdims=True))
        np.testing.assert_array_equal(hard_negatives(loss, positive), theirs.numpy() & ~positive)
