"""PyTorch (with torchvision) and JAX (with optax) against the whole conformance suite: each passes except its
recorded deviations, and every recorded deviation still happens. Apart from test_conformance.py so that a parallel
run (pytest -n 2 --dist loadfile: a file to a worker) can give these minutes to one worker and the suite's fresh
generation to the other."""

from pathlib import Path

import pytest

from refloss.adapters import get_adapter
from refloss.conformance import check as validator

SUITE = Path(__file__).resolve().parents[1] / "conformance"


def test_torch_passes_except_its_recorded_deviations():
    pytest.importorskip("torch")
    expectations = validator.load_expectations(SUITE / "expectations" / "torch.json")
    report = validator.check(get_adapter("torch"), SUITE, expectations=expectations)
    assert not report.failed, validator.format_table(report)
    counts = report.counts()
    assert counts["xpass"] == 0  # every recorded deviation still happens
    deterministic = {uid for uid, entry in expectations.items() if not entry.get("nondeterministic")}
    assert deterministic <= {o.uid for o in report.outcomes if o.status == "xfail"} <= set(expectations)
    assert {o.dtype for o in report.outcomes} == {"float64", "float32", "bfloat16", "float16"}
    # PyTorch takes the documented alternative for the gradient of |d| at a NaN residual.
    assert any(o.status == "acceptable:sign-of-nan-is-zero" for o in report.outcomes)


def test_jax_passes_except_its_recorded_deviations():
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    expectations = validator.load_expectations(SUITE / "expectations" / "jax.json")
    # float64 only: each new shape and dtype makes JAX compile every primitive again (~1 s per test; float64 and
    # float32 together took 113 s of a 520 s local run), and the other dtypes add rounding, not new code paths.
    # `refloss conformance check --impl jax` runs all four.
    report = validator.check(get_adapter("jax"), SUITE, expectations=expectations, dtypes=["float64"])
    assert not report.failed, validator.format_table(report)
    counts = report.counts()
    assert counts["xpass"] == 0
    checked = {uid for uid, entry in expectations.items()
               if "float64" in entry.get("dtypes", ["float64"])}  # (the others apply to lower precisions only)
    assert {o.uid for o in report.outcomes if o.status == "xfail"} == checked
    assert {o.loss for o in report.outcomes} == {"mse_loss", "huber_loss", "log_cosh_loss",
                                                 "binary_cross_entropy_with_logits", "sigmoid_focal_loss",
                                                 "hinge_loss", "multiclass_hinge_loss", "poly1_cross_entropy",
                                                 "sparsemax_loss"}
    assert all(o.status == "skip" for o in report.outcomes if "weight" in o.name or o.name == "unknown_reduction")
    # optax has no default reduction, and the adapter passes every parameter: the defaults re-runs are skipped
    assert all(o.status == "skip" for o in report.outcomes if o.name.endswith(" [defaults]"))
    assert all(o.status != "skip" for o in report.outcomes if o.loss == "log_cosh_loss" and "weight" not in o.name
               and o.name != "unknown_reduction" and not o.name.endswith(" [defaults]"))


def test_torch_adapter_runs_torchvision_ops_sigmoid_focal_loss():
    # The real torchvision (CI installs 0.29.1): the adapter maps sigmoid_focal_loss to it (names, alpha = -1, the
    # default reduction 'none'), and it fails exactly the vectors recorded with their reasons.
    pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from refloss.adapters.torch import TorchAdapter, torch_function

    adapter = TorchAdapter()
    assert adapter.supports("sigmoid_focal_loss")
    assert torch_function("sigmoid_focal_loss") is torchvision.ops.sigmoid_focal_loss
    expectations = validator.load_expectations(SUITE / "expectations" / "torch.json")
    report = validator.check(adapter, SUITE, only=["sigmoid_focal_loss"], expectations=expectations,
                             consistency=False)
    assert not report.failed and report.counts()["xpass"] == 0, validator.format_table(report)
    passed = {o.name for o in report.outcomes if o.status == "pass"}
    # The mapping works where its formula is accurate (moderate logits with gamma = 0 and alpha disabled, empty and
    # NaN inputs), and called without a reduction it defaults to 'none'.
    assert {"empty_none", "empty_sum", "nan_none", "alpha-1_gamma0"} <= passed, validator.format_table(report)
    assert any(name.endswith(" [defaults]") for name in passed), validator.format_table(report)
    # torchvision's 1 - p_t from 1 - sigmoid(x): the saturated vectors are among its recorded deviations.
    assert {"saturated_gamma0.5", "saturated_gamma2", "targets_above_one", "gamma_negative"} <= \
        {o.name for o in report.outcomes if o.status == "xfail"}
