"""The golden-vector cases themselves (inputs only): every loss has float64-only non-dyadic cases, every kink the
registry declares has a vector exactly at it in each parameter regime that declares it, every differentiable input
has cases to carry its gradient, names are unique, and each disabled (pending) case still fails generation for
the reason it gives."""

import math

import mpmath
import numpy as np
import pytest

from refloss._registry import get, names
from refloss.conformance import cases as cases_module
from refloss.conformance.cases import FLOAT64_ONLY, VectorCase, generate_cases, pending_cases
from refloss.conformance.cases.classification import _ABOVE_E_MINUS_100, _BELOW_E_MINUS_100
from refloss.conformance.encoding import is_representable
from refloss.conformance.flags import FLAGS
from refloss.conformance.generate import CONCERNS, GenerationError, _test_entry

LOSSES = names(kind=None)

# Parameter regimes in which a kink must have its own vector, where the registry's distance function alone does
# not tell them apart. Keyed by (loss, the start of the Kink's ``where``); each regime is (label, predicate on the
# case's parameters with the defaults filled in). A kink not listed has one regime: any parameters.
KINK_REGIMES = {
    # The gradient jumps only for beta != 1; at beta = 1 the vector would not test the jump.
    ("balanced_l1_loss", "|d| = beta"): [("beta != 1", lambda p: p["beta"] != 1.0)],
    ("balanced_l1_loss", "d = 0"): [("beta != 1", lambda p: p["beta"] != 1.0)],
    # |d| = beta with beta = 0 is d = 0, a different kink (declared separately for beta = 0).
    ("smooth_l1_loss", "|d| = beta"): [("beta > 0", lambda p: p["beta"] > 0.0)],
    # p = 1: the gradient jumps; p = 2: only the second derivative does.
    ("multi_margin_loss", "z_i = margin"): [("p = 1", lambda p: p["p"] == 1), ("p = 2", lambda p: p["p"] == 2)],
}


def _params(loss: str, case: VectorCase) -> dict:
    """The case's parameters with every default filled in (what the loss is called with)."""
    return {p.name: p.default for p in get(loss).params} | case.params


def _inputs(loss: str, case: VectorCase) -> list:
    return [case.inputs[i.name] for i in get(loss).inputs]


def _valid(cases: list[VectorCase]) -> list[VectorCase]:
    return [c for c in cases if c.error is None and all(np.size(a) for a in c.inputs.values())]


def _has_nondyadic_input(case: VectorCase) -> bool:
    """Some finite float input needs more than float32's 24 significant bits."""
    return any(np.isfinite(v) and not is_representable(float(v), "float32")
               for array in case.inputs.values() if np.asarray(array).dtype.kind == "f" for v in np.ravel(array))


def _kink_regimes(loss: str, kink) -> list:
    for (name, where), regimes in KINK_REGIMES.items():
        if name == loss and kink.where.startswith(where):
            return regimes
    return [("any parameters", lambda p: True)]


def _at_kink(loss: str, kink, case: VectorCase) -> bool:
    with np.errstate(all="ignore"):
        distance = np.asarray(kink.distance(*_inputs(loss, case), **_params(loss, case)), dtype=float)
    return bool(np.any(distance == 0.0))


KINKS = [(loss, index) for loss in LOSSES for index in range(len(get(loss).kinks))]


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_has_float64_only_nondyadic_accuracy_cases(loss):
    accuracy = [c for c in generate_cases(loss) if c.concern == "accuracy"]
    assert accuracy, f"{loss} has no 'accuracy' cases"
    assert all(c.dtypes == FLOAT64_ONLY for c in accuracy), f"{loss}: an accuracy case is not float64-only"
    assert any(_has_nondyadic_input(c) for c in _valid(accuracy)), f"{loss}: no accuracy case has non-dyadic inputs"


@pytest.mark.parametrize("loss", LOSSES)
def test_cases_flagged_nondyadic_have_nondyadic_inputs(loss):
    for case in generate_cases(loss) + [c for c, _ in pending_cases(loss)]:
        if "NonDyadic" in case.flags:
            assert _has_nondyadic_input(case), f"{loss}/{case.name} is flagged NonDyadic without such an input"
            assert case.dtypes == FLOAT64_ONLY, f"{loss}/{case.name}: non-dyadic inputs are exact in float64 only"


@pytest.mark.parametrize("loss, index", KINKS, ids=[f"{loss}-{index}" for loss, index in KINKS])
def test_every_declared_kink_has_a_vector_at_it_in_each_regime(loss, index):
    kink = get(loss).kinks[index]
    enabled = _valid(generate_cases(loss))
    pending = [(c, reason) for c, reason in pending_cases(loss) if c.error is None]
    missing, waiting = [], []
    for label, holds in _kink_regimes(loss, kink):
        if any(holds(_params(loss, c)) and _at_kink(loss, kink, c) for c in enabled):
            continue
        disabled = [f"{c.name} ({reason})" for c, reason in pending
                    if holds(_params(loss, c)) and _at_kink(loss, kink, c)]
        (waiting if disabled else missing).append(f"{label}: {'; '.join(disabled)}" if disabled else label)
    assert not missing, f"{loss}: no vector exactly at the kink {kink.where!r} for {', '.join(missing)}"
    if waiting:
        pytest.xfail(f"{loss}: kink {kink.where!r}: only pending cases are at it for {' / '.join(waiting)}")


def test_kink_regimes_name_declared_kinks():
    for loss, where in KINK_REGIMES:
        assert any(k.where.startswith(where) for k in get(loss).kinks), f"{loss} declares no kink {where!r}"


def test_bce_clamp_threshold_floats_bracket_e_minus_100():
    with mpmath.workdps(60):
        threshold = mpmath.exp(-100)
        assert mpmath.mpf(_BELOW_E_MINUS_100) < threshold < mpmath.mpf(_ABOVE_E_MINUS_100)
    assert np.nextafter(_BELOW_E_MINUS_100, 1.0) == _ABOVE_E_MINUS_100
    assert math.log(_BELOW_E_MINUS_100) == math.log(_ABOVE_E_MINUS_100) == -100.0  # why p, not log p, must decide


def test_bce_clamp_has_vectors_within_one_ulp_of_both_thresholds():
    # e^-100 is not a float64: the nearest floats are one ulp apart. 1 - p = e^-100 has no float p below 1, so
    # p = 1 (1 - p = 0, clamped) is the vector at that threshold.
    ulp = np.spacing(math.exp(-100))
    cases = _valid(generate_cases("binary_cross_entropy"))
    assert any(np.any(np.abs(c.inputs["input"] - math.exp(-100)) <= ulp) for c in cases)
    assert any(np.any(c.inputs["input"] == 1.0) for c in cases)


@pytest.mark.parametrize("loss", LOSSES)
def test_every_differentiable_input_has_cases(loss):
    # A differentiable input gets gradient expectations from every valid case with values in it.
    for spec_input in get(loss).inputs:
        if spec_input.differentiable:
            assert any(np.asarray(c.inputs[spec_input.name]).dtype.kind == "f" for c in _valid(generate_cases(loss)))


def test_cross_entropy_has_nondyadic_probability_targets_with_smoothing_and_weights():
    # cross_entropy is differentiable in probability targets (float), not in class indices.
    probability = [c for c in _valid(generate_cases("cross_entropy")) if c.inputs["target"].dtype.kind == "f"]
    assert probability
    assert any(c.dtypes == FLOAT64_ONLY and _has_nondyadic_input(c) and c.params.get("label_smoothing", 0) > 0
               and c.params.get("weight") is not None for c in probability)


@pytest.mark.parametrize("loss", LOSSES)
def test_case_names_are_unique_and_concerns_and_flags_known(loss):
    everything = generate_cases(loss) + [c for c, _ in pending_cases(loss)]
    assert len({c.name for c in everything}) == len(everything)
    for case in everything:
        assert case.concern in CONCERNS, f"{loss}/{case.name}: concern {case.concern!r} is never written"
        assert set(case.flags) <= set(FLAGS), f"{loss}/{case.name}: undeclared flags {set(case.flags) - set(FLAGS)}"


def test_a_duplicate_case_name_is_an_error(monkeypatch):
    case = generate_cases("mse_loss")[0]
    monkeypatch.setitem(cases_module._GENERATORS, "mse_loss",
                        cases_module._GENERATORS["mse_loss"] + [lambda: iter([case])])
    with pytest.raises(ValueError, match="duplicate case name"):
        generate_cases("mse_loss")


def test_a_pending_case_named_like_an_enabled_one_is_an_error(monkeypatch):
    enabled = generate_cases("l1_loss")[0]
    monkeypatch.setitem(cases_module._PENDING, "l1_loss", [(lambda: iter([enabled]), "a reason")])
    with pytest.raises(ValueError, match="duplicate case name"):
        generate_cases("l1_loss")


PENDING = [(loss, case, reason) for loss in LOSSES for case, reason in pending_cases(loss)]


def test_every_pending_case_gives_a_reason():
    for loss, case, reason in PENDING:
        assert len(reason) > 40, f"{loss}/{case.name}: a pending case must say why it is disabled"


def test_pending_cases_still_fail_generation():
    # Once the reason is fixed, generation succeeds and this test says to enable the case. (None is pending now;
    # one loop rather than a parametrization, so that an empty list is not reported as a skip.)
    for loss, case, reason in PENDING:
        try:
            _test_entry(loss, 1, case, {"reference": 0.0, "finite_differences": 0.0})
        except GenerationError:
            continue
        pytest.fail(f"{loss}/{case.name} now generates: enable it (its generator's decorator pending_cases_for -> "
                    f"cases_for); it was disabled because {reason}")
