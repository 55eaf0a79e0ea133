"""The claims of the learners' pages (docs/learn/*.md), asserted on the numbers docs/_ext/refloss_learn.py computes.

The pages quote numbers through {refloss-value} roles, so the numbers cannot drift; what can drift is the prose
around them ("vanishes", "falls at every step", "lands closer"). Each test below names the sentence it guards.
Where a claim has a closed form, the test checks refloss's numbers against it, independently of the module.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="the docs extra (matplotlib) is not installed")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import refloss_learn as learn  # noqa: E402

PAGES = ("ce_vs_mse", "focal_loss", "robust_regression", "one_hot")
DIRECTIVE = re.compile(r"```\{refloss-(?:figure|table)\} refloss_learn\.(\w+)")
ROLE = re.compile(r"\{refloss-value\}`refloss_learn\.(\w+)\.(\w+)`")


# --- the pages and the module agree ---------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_every_directive_and_role_of_the_page_resolves(page):
    text = (DOCS / "learn" / f"{page}.md").read_text()
    functions = DIRECTIVE.findall(text)
    roles = ROLE.findall(text)
    assert functions and roles
    for name in functions:
        result = getattr(learn, name)()
        if name.endswith("_figure"):
            assert isinstance(result, Figure) and any(ax.has_data() for ax in result.axes)
        else:
            header, rows = result
            assert rows and all(len(row) == len(header) for row in rows)
    for function, key in roles:
        assert key in getattr(learn, function)(), f"{page}.md quotes {function}.{key}, which is not computed"


def test_the_landing_page_lists_every_page():
    text = (DOCS / "learn" / "index.md").read_text()
    toctree = text[text.index("```{toctree}"):]
    assert all(f"\n{page}\n" in toctree for page in PAGES)


# --- cross-entropy vs MSE --------------------------------------------------------------------------------------

def test_sigmoid_gradients_are_the_formulas_the_page_derives():
    logits, sweep = learn._sigmoid_sweep()
    p = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(sweep["ce_grad"], p - 1, atol=1e-15)  # "cross-entropy: p - y"
    np.testing.assert_allclose(sweep["mse_grad"], 2 * (p - 1) * p * (1 - p), atol=1e-15)


def test_mse_gradient_vanishes_when_confidently_wrong_while_ce_stays_near_minus_one():
    for logit, smallest_ratio in zip(learn.CONFIDENTLY_WRONG_LOGITS, (100, 10_000)):
        point = learn.sigmoid_unit_gradients(np.array([logit]))
        assert abs(point["mse_grad"][0]) < 0.005
        assert point["ce_grad"][0] == pytest.approx(-1, abs=0.003)
        assert point["ce_grad"][0] / point["mse_grad"][0] > smallest_ratio


def test_mse_gradient_peaks_where_p_is_one_third_and_falls_off_toward_the_wrong_side():
    logits, sweep = learn._sigmoid_sweep()
    magnitude = np.abs(sweep["mse_grad"])
    peak = int(np.argmax(magnitude))
    assert sweep["p"][peak] == pytest.approx(1 / 3, abs=1e-3)  # d/dp [(1-p)^2 p] = 0 at p = 1/3
    assert logits[peak] == pytest.approx(-math.log(2), abs=1e-3)
    assert np.all(np.diff(magnitude[:peak + 1]) > 0)  # "the more wrong it is beyond that, the slower it moves"
    assert np.all(np.abs(sweep["ce_grad"][:peak]) > magnitude[:peak])  # CE pushes harder wherever MSE fades


def test_softmax_example_cross_entropy_is_p_minus_t_and_mse_raises_a_wrong_class():
    example = learn.softmax_example(learn.THREE_CLASS_LOGITS, learn.THREE_CLASS_TARGET)
    np.testing.assert_allclose(example["ce_grad"], example["p"] - example["one_hot"], atol=1e-15)
    assert np.argmax(example["p"]) == 1  # "favours the wrong class 1"
    mse, ce = example["mse_grad"], example["ce_grad"]
    assert mse[0] < 0 and ce[0] < 0  # both raise the right class...
    assert abs(mse[0]) < abs(ce[0])  # ..."MSE pushes the right class less"
    assert mse[1] > 0 and ce[1] > 0 and ce[2] > 0  # CE lowers every wrong logit
    assert mse[2] < 0  # "MSE raises a wrong class"
    # the softmax's gradient is a projection: both sum to zero over the classes
    assert abs(mse.sum()) < 1e-15 and abs(ce.sum()) < 1e-15


def test_wrong_mass_split_ce_is_flat_and_mse_is_lowest_at_an_even_split():
    shares, split = learn._split_sweep()
    assert np.ptp(split["ce"]) < 1e-12
    assert split["ce"][0] == pytest.approx(-math.log(learn.FIXED_RIGHT_PROBABILITY))
    assert shares[int(np.argmin(split["mse"]))] == 0.5
    np.testing.assert_allclose(split["mse"], split["mse"][::-1], atol=1e-12)  # symmetric in the two classes
    assert split["mse"][0] == split["mse"].max()  # "all the wrong probability on one class" is the worst


# --- focal loss ------------------------------------------------------------------------------------------------

def test_focal_easy_examples_are_divided_by_one_minus_p_t_to_the_gamma():
    ce = learn.focal_curves(np.array([learn.WELL_CLASSIFIED_P_T]), 0.0, None)
    for gamma in learn.GAMMAS[1:]:
        focal = learn.focal_curves(np.array([learn.WELL_CLASSIFIED_P_T]), gamma, None)
        factor = ce["loss"][0] / focal["loss"][0]
        assert factor == pytest.approx((1 - learn.WELL_CLASSIFIED_P_T) ** -gamma, rel=1e-9)
    assert learn.focal_curves_values()["easy_loss_factor_2"] == "100"


def test_focal_hard_examples_get_at_least_cross_entropys_gradient():
    p_t = np.linspace(1e-4, learn.HARD_P_T, 200)
    ce = learn.focal_curves(p_t, 0.0, None)["grad"]
    for gamma in learn.GAMMAS[1:]:
        assert np.all(learn.focal_curves(p_t, gamma, None)["grad"] > ce)  # "slightly larger"
        assert np.all(learn.focal_curves(p_t, gamma, None)["grad"] < 1.25 * ce)


def test_focal_alpha_only_rescales_positives_and_negatives():
    p_t = np.linspace(0.01, 0.99, 99)
    for gamma in learn.GAMMAS:
        plain = learn.focal_curves(p_t, gamma, None)
        for target, weight in ((1.0, learn.ALPHA), (0.0, 1 - learn.ALPHA)):
            weighted = learn.focal_curves(p_t, gamma, learn.ALPHA, target=target)
            np.testing.assert_allclose(weighted["loss"], weight * plain["loss"], rtol=1e-12)
            np.testing.assert_allclose(weighted["grad"], weight * plain["grad"], rtol=1e-12)


def test_focal_batch_is_imbalanced_and_mostly_easy():
    batch = learn.imbalanced_batch()
    easy = learn.batch_p_t(batch) >= learn.EASY_P_T
    assert batch.logits.size == sum(batch.groups.values()) == 100_000
    assert batch.targets.sum() == batch.groups["objects"]
    assert easy.mean() > 0.98
    hard = ~easy
    # "Most of them here are the hard background anchors"
    assert np.sum(hard & (batch.targets == 0)) > np.sum(hard & (batch.targets == 1))
    assert np.sum(easy & (batch.targets == 1)) < 0.001 * easy.sum()  # "they are nearly all negatives"


@pytest.mark.parametrize("alpha", [None, learn.ALPHA])
def test_focal_easy_share_falls_and_positive_share_grows_with_gamma(alpha):
    shares = [learn.focal_batch_shares(gamma, alpha) for gamma in learn.GAMMAS]
    easy_loss = [s["easy_loss"] for s in shares]
    easy_grad = [s["easy_grad"] for s in shares]
    positives = [s["positive_loss"] for s in shares]
    assert easy_loss[0] > 0.5 and easy_grad[0] > 0.5  # with CE the easy ones carry most of it
    assert np.all(np.diff(easy_loss) < 0) and np.all(np.diff(easy_grad) < 0)  # "falls at every step"
    assert easy_loss[3] < 0.01 and easy_grad[3] < 0.02  # gamma = 2
    assert np.all(np.diff(positives) > 0)  # "the positives' share grows, but only..."
    assert positives[-1] < 0.1


def test_focal_alpha_weighs_positives_down_and_barely_moves_the_easy_share():
    for gamma in learn.GAMMAS:
        plain, weighted = learn.focal_batch_shares(gamma, None), learn.focal_batch_shares(gamma, learn.ALPHA)
        assert weighted["positive_loss"] < plain["positive_loss"]
        assert abs(weighted["easy_loss"] - plain["easy_loss"]) < 0.02
        assert abs(weighted["easy_grad"] - plain["easy_grad"]) < 0.02


def test_focal_batch_shares_match_a_direct_computation():
    # the shares the table reports, recomputed here from the formula (not refloss) for gamma = 2 without alpha
    batch = learn.imbalanced_batch()
    p_t = learn.batch_p_t(batch)
    loss = -(1 - p_t) ** 2 * np.log(p_t)
    easy = p_t >= learn.EASY_P_T
    assert learn.focal_batch_shares(2.0, None)["easy_loss"] == pytest.approx(loss[easy].sum() / loss.sum(),
                                                                             rel=1e-9)


# --- L1, L2, Smooth L1, Huber ----------------------------------------------------------------------------------

def _fits():
    return {result.regressor.name: result for result in learn.fits()}


def test_regression_data_has_the_stated_outliers():
    data = learn.box_data()
    assert data.outliers.sum() == round(learn.OUTLIER_FRACTION * learn.N_SAMPLES)
    np.testing.assert_allclose(data.clean, data.features @ data.true_weights)
    excess = data.labels - data.clean
    assert np.mean(excess[data.outliers] > 0) > 0.99  # "shifted up by about OUTLIER_SHIFT"
    assert np.mean(excess[data.outliers]) == pytest.approx(learn.OUTLIER_SHIFT, abs=0.3)
    assert np.all(np.abs(excess[~data.outliers]) < 5 * learn.LABEL_NOISE)


def test_every_fit_converges_on_its_own_loss():
    for result in learn.fits():
        assert result.losses[-1] < result.losses[0]
        assert abs(result.losses[-1] - result.losses[-11]) < 1e-3 * result.losses[0]  # flattened


def test_robust_fits_land_closer_to_the_clean_targets_than_mse_in_the_stated_order():
    fits = _fits()
    final = {name: result.rmse[-1] for name, result in fits.items()}
    assert final["l1_loss"] < final["huber_loss"] < final["mse_loss"]
    assert final["smooth_l1_loss"] < final["huber_loss"]
    assert final["mse_loss"] / final["smooth_l1_loss"] > 10
    assert final["mse_loss"] > fits["mse_loss"].rmse[0]  # "farther than where it started"
    assert fits["mse_loss"].rmse.min() < 0.9 * fits["mse_loss"].rmse[0]  # "first moves toward the truth"


def test_mse_settles_fastest():
    settled = {name: learn.settling_step(result) for name, result in _fits().items()}
    assert settled["mse_loss"] < min(settled[name] for name in ("l1_loss", "smooth_l1_loss", "huber_loss"))


def test_mse_offset_is_the_labels_mean_excess():
    data = learn.box_data()
    assert _fits()["mse_loss"].mean_offset == pytest.approx(np.mean(data.labels - data.clean), abs=0.01)


def test_huber_stops_where_the_pulls_balance_and_smooth_l1_roughly():
    data = learn.box_data()
    fits = _fits()
    assert fits["huber_loss"].mean_offset == pytest.approx(learn.huber_balance_offset(1.0, data), abs=0.02)
    predicted = learn.huber_balance_offset(1 / 9, data)
    assert predicted < fits["smooth_l1_loss"].mean_offset < 2 * predicted  # "rougher"


def test_l1_jitters_and_smooth_l1_does_not():
    fits = _fits()
    tail = slice(-50, None)
    assert np.ptp(fits["l1_loss"].rmse[tail]) > 1e-3
    assert np.ptp(fits["smooth_l1_loss"].rmse[tail]) < 1e-6


def test_smooth_l1_with_beta_one_is_huber_with_delta_one():
    import refloss

    d = np.linspace(-4, 4, 81)
    zeros = np.zeros_like(d)
    np.testing.assert_allclose(refloss.smooth_l1_loss(d, zeros, beta=1.0, reduction="none"),
                               refloss.huber_loss(d, zeros, delta=1.0, reduction="none"), rtol=1e-15)
    assert [r.params for r in learn.REGRESSORS if r.name == "smooth_l1_loss"] == [{"beta": 1 / 9}]


# --- one_hot ---------------------------------------------------------------------------------------------------

def test_one_hot_calls_return_what_the_page_describes():
    header, rows = learn.one_hot_table()
    shapes = {row[0].strip("`"): row[1].strip("`") for row in rows}
    assert shapes["refloss.one_hot([1, 1])"] == "(2, 2)"  # width from the data
    assert shapes["refloss.one_hot([1, 1], num_classes=3)"] == "(2, 3)"
    assert shapes["refloss.one_hot([[0, 1], [2, 0]])"] == "(2, 2, 3)"  # "the new axis is always last"
    assert shapes["refloss.one_hot(3, num_classes=4)"] == "(4,)"
    assert learn.one_hot_values()["dtype"] == "int64"


def test_one_hot_errors_are_raised_and_name_what_they_refuse():
    header, rows = learn.one_hot_errors_table()
    assert len(rows) == len(learn.ONE_HOT_ERRORS)
    by_call = {row[0].strip("`"): (row[1].strip("`"), row[2].strip("`")) for row in rows}
    assert by_call["refloss.one_hot([0, 3], num_classes=3)"] == ("ValueError",
                                                                  "labels must be below num_classes=3, got 3")
    assert by_call["refloss.one_hot([])"][0] == "TypeError" and "float64" in by_call["refloss.one_hot([])"][1]
    assert "empty" in by_call["refloss.one_hot(np.array([], dtype=np.int64))"][1]
    assert by_call["refloss.one_hot([0, 1], num_classes=-1)"][0] == "ValueError"


def test_a_call_that_does_not_raise_is_reported():
    with pytest.raises(AssertionError, match="expected to raise"):
        learn.raised_by("refloss.one_hot([0, 1])")


def test_pytorch_infers_the_width_for_minus_one_as_the_page_says():
    torch = pytest.importorskip("torch")
    result = torch.nn.functional.one_hot(torch.tensor([0, 2]), num_classes=-1)
    assert tuple(result.shape) == (2, 3)
    assert str(result.dtype) == "torch.int64"  # "dtype int64, as in PyTorch"
