"""The conformance suite: regeneration is byte-identical, lint is clean, the reference and the example engine
pass, PyTorch passes except its recorded deviations, and deliberately wrong implementations fail."""

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import refloss
from refloss.adapters import get_adapter
from refloss.adapters.module import ModuleAdapter
from refloss.cli import main
from refloss.conformance import check as validator
from refloss.conformance.generate import generate
from refloss.conformance.lint import lint
from refloss.testing import assert_conforms, conformance_vectors

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance"
ENGINE = ROOT / "conformance" / "examples" / "jsonl_engine.py"


@pytest.fixture(scope="module")
def regenerated():
    return generate()


def test_regeneration_is_byte_identical(regenerated):
    for path, content in regenerated.items():
        assert (SUITE / path).read_bytes() == content, f"{path} differs from a fresh generation"
    committed = {str(p.relative_to(SUITE)) for p in (SUITE / "vectors").rglob("*.json")}
    assert committed == {p for p in regenerated if p.startswith("vectors/")}


def test_every_registered_loss_has_vectors_of_every_concern(regenerated):
    for name in refloss.registry.names():
        for concern in ("basic", "edge", "invalid"):
            assert f"vectors/{name}/{concern}.json" in regenerated
        # nll_loss has no NaN vector: its gradient does not depend on its input, so NaN needs no special case
        if name != "nll_loss":
            assert f"vectors/{name}/nonfinite.json" in regenerated


def test_lint_is_clean():
    assert lint(SUITE) == []


def test_lint_catches_a_tampered_file(tmp_path):
    copy = tmp_path / "suite"
    shutil.copytree(SUITE, copy)
    path = copy / "vectors" / "mse_loss" / "basic.json"
    document = json.loads(path.read_text())
    document["testGroups"][0]["tests"][0]["flags"].append("Undeclared")
    path.write_text(json.dumps(document))
    problems = lint(copy)
    assert any("not in canonical form" in p for p in problems)
    assert any("flag 'Undeclared' is not declared" in p for p in problems)
    assert any("MANIFEST.json" in p for p in problems)


def test_validator_refuses_files_that_do_not_match_the_manifest(tmp_path):
    copy = tmp_path / "suite"
    shutil.copytree(SUITE, copy)
    path = copy / "vectors" / "l1_loss" / "basic.json"
    path.write_bytes(path.read_bytes().replace(b'"Basic"', b'"Basic" '))
    with pytest.raises(ValueError, match="does not match MANIFEST.json"):
        validator.check(get_adapter("refloss"), copy)
    report = validator.check(get_adapter("refloss"), copy, allow_modified=True)
    assert not report.failed


def test_reference_passes_every_vector():
    report = validator.check(get_adapter("refloss"), SUITE)
    counts = report.counts()
    assert counts == {"passed": len(report.outcomes), "unchecked": 0, "failed": 0, "xfail": 0, "xpass": 0,
                      "skipped": 0, "not_run": 0}
    assert report.consistency_failures == []
    assert {o.loss for o in report.outcomes} == set(refloss.registry.names())
    assert any(o.status == "invalid-ok" for o in report.outcomes)


def test_example_jsonl_engine_passes_in_float64_and_float32():
    adapter = get_adapter(f"exec:{sys.executable} {ENGINE}")
    try:
        report = validator.check(adapter, SUITE)
    finally:
        adapter.close()
    assert not report.failed, validator.format_table(report)
    assert {o.dtype for o in report.outcomes} == {"float64", "float32"}
    assert {o.loss for o in report.outcomes} == {"l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"}


def test_example_engine_imports_only_the_standard_library():
    import ast

    tree = ast.parse(ENGINE.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported


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
    # float64 and float32 only: each new shape and dtype makes JAX compile every primitive again (~1 s per test),
    # and bfloat16/float16 add rounding, not new code paths. `refloss conformance check --impl jax` runs all four.
    report = validator.check(get_adapter("jax"), SUITE, expectations=expectations, dtypes=["float64", "float32"])
    assert not report.failed, validator.format_table(report)
    counts = report.counts()
    assert counts["xpass"] == 0
    assert {o.uid for o in report.outcomes if o.status == "xfail"} == set(expectations)
    assert {o.loss for o in report.outcomes} == {"mse_loss", "huber_loss", "log_cosh_loss",
                                                 "binary_cross_entropy_with_logits", "sigmoid_focal_loss",
                                                 "hinge_loss"}
    assert all(o.status == "skip" for o in report.outcomes if "weight" in o.name or o.name == "unknown_reduction")
    # optax has no default reduction, and the adapter passes every parameter: the defaults re-runs are skipped
    assert all(o.status == "skip" for o in report.outcomes if o.name.endswith(" [defaults]"))
    assert all(o.status != "skip" for o in report.outcomes if o.loss == "log_cosh_loss" and "weight" not in o.name
               and o.name != "unknown_reduction" and not o.name.endswith(" [defaults]"))


# ---- mutants: the suite must catch real bugs --------------------------------------------------------------------

def _mutant(loss, forward=None, vjp=None):
    module = types.ModuleType(f"mutant_{loss}")
    spec = refloss.registry.get(loss)
    module.LOSSES = {loss: (forward or spec.forward, vjp or spec.vjp)}
    return ModuleAdapter(module)


def _smooth_l1_branch_at_twice_beta(input, target, *, reduction="mean", beta=1.0):
    d = np.asarray(input, float) - np.asarray(target, float)
    loss = np.where(np.abs(d) < 2 * beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)
    return refloss.l1_loss(loss, np.zeros_like(loss), reduction=reduction)  # |loss| = loss, then reduce


def _mean_computed_as_sum(input, target, *, reduction="mean", **params):
    return refloss.huber_loss(input, target, reduction="sum" if reduction == "mean" else reduction, **params)


def _mse_vjp_without_the_factor_two(g, input, target, **kwargs):
    return tuple(v / 2 for v in refloss.mse_loss_vjp(g, input, target, **kwargs))


def _log_cosh_naive(input, target, *, reduction="mean"):
    with np.errstate(over="ignore"):
        d = np.asarray(input, float) - np.asarray(target, float)
        loss = np.log(np.cosh(d))  # no stable form: cosh overflows for |d| > 710, cancels for tiny d
    return refloss.l1_loss(loss, np.zeros_like(loss), reduction=reduction)


def _l1_one_element_off(input, target, *, reduction="mean", weight=None):
    loss = np.array(refloss.l1_loss(input, target, reduction="none", weight=weight), dtype=float)
    if loss.size:
        loss.flat[0] *= 1 + 1e-6
    return refloss.l1_loss(loss, np.zeros_like(loss), reduction=reduction) if weight is None else \
        refloss.l1_loss(input, target, reduction=reduction, weight=weight)


def _vjp_ignoring_grad_output(g, input, target, **kwargs):
    return refloss.l1_loss_vjp(np.ones_like(np.asarray(g, float)), input, target, **kwargs)


def _no_shape_check(input, target, *, reduction="mean"):
    x, y = np.broadcast_arrays(np.asarray(input, float), np.asarray(target, float))
    return refloss.mse_loss(x, y.copy(), reduction=reduction)


def _bce_naive_log_sigmoid(input, target, *, reduction="mean", weight=None, pos_weight=None):
    x, y = np.asarray(input, float), np.asarray(target, float)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        sigma = 1.0 / (1.0 + np.exp(-x))
        loss = -(y * np.log(sigma) + (1 - y) * np.log(1 - sigma))  # no softplus: overflows at |x| = 1e4
    return refloss.l1_loss(loss, np.zeros_like(loss), reduction=reduction)


def _bce_target_gradient_with_wrong_sign(g, input, target, **kwargs):
    grad_input, grad_target = refloss.binary_cross_entropy_with_logits_vjp(g, input, target, **kwargs)
    return grad_input, -grad_target


def _focal_naive_chain_rule(g, inputs, targets, *, reduction="none", alpha=0.25, gamma=2.0):
    x, y = np.asarray(inputs, float), np.asarray(targets, float)
    with np.errstate(all="ignore"):
        p = 1 / (1 + np.exp(-x))
        ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        q = 1 - (p * y + (1 - p) * (1 - y))
        alpha_t = 1.0 if alpha is None or alpha < 0 else alpha * y + (1 - alpha) * (1 - y)
        # gamma q^(gamma - 1) dq/dx: inf * 0 = NaN where q rounds to 0
        grad = alpha_t * (gamma * q ** (gamma - 1) * -(2 * y - 1) * p * (1 - p) * ce + q ** gamma * (p - y))
    scale = {"none": np.asarray(g, float), "sum": float(g), "mean": float(g) / max(x.size, 1)}[reduction]
    return scale * grad, None


def _ce_mean_over_samples(input, target, *, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0):
    # a common porting bug: the weighted mean divided by the number of samples instead of sum(w[y])
    per_sample = refloss.cross_entropy(input, target, reduction="none", weight=weight, ignore_index=ignore_index,
                                       label_smoothing=label_smoothing)
    return {"none": per_sample, "sum": np.sum(per_sample)}.get(reduction, np.mean(per_sample))


def _ce_gradient_without_softmax_term(g, input, target, **kwargs):
    # p - onehot with the softmax term dropped: only -onehot survives
    return refloss.nll_loss_vjp(g, refloss.log_softmax(input, 1 if np.ndim(input) > 1 else 0), target,
                                **{k: v for k, v in kwargs.items() if k != "label_smoothing"})


MUTANTS = {
    "smooth_l1_branch_at_wrong_place": ("smooth_l1_loss", _smooth_l1_branch_at_twice_beta, None),
    "mean_computed_as_sum": ("huber_loss", _mean_computed_as_sum, None),
    "gradient_missing_factor_two": ("mse_loss", None, _mse_vjp_without_the_factor_two),
    "missing_stable_form": ("log_cosh_loss", _log_cosh_naive, None),
    "one_element_off_by_one_part_in_a_million": ("l1_loss", _l1_one_element_off, None),
    "vjp_ignores_grad_output": ("l1_loss", None, _vjp_ignoring_grad_output),
    "broadcasts_instead_of_raising": ("mse_loss", _no_shape_check, None),
    "bce_naive_log_sigmoid": ("binary_cross_entropy_with_logits", _bce_naive_log_sigmoid, None),
    "bce_target_gradient_with_wrong_sign": ("binary_cross_entropy_with_logits", None,
                                            _bce_target_gradient_with_wrong_sign),
    "focal_naive_chain_rule": ("sigmoid_focal_loss", None, _focal_naive_chain_rule),
    "cross_entropy_mean_over_samples": ("cross_entropy", _ce_mean_over_samples, None),
    "cross_entropy_gradient_without_softmax": ("cross_entropy", None, _ce_gradient_without_softmax_term),
}


@pytest.mark.parametrize("mutant", MUTANTS)
def test_the_suite_catches_the_mutant(mutant):
    loss, forward, vjp = MUTANTS[mutant]
    report = validator.check(_mutant(loss, forward, vjp), SUITE, only=[loss])
    assert report.failed, f"the suite did not catch {mutant}"


def test_an_unmutated_module_passes():
    report = validator.check(_mutant("smooth_l1_loss"), SUITE, only=["smooth_l1_loss"])
    assert not report.failed


# ---- the pytest-friendly API ------------------------------------------------------------------------------------

@pytest.mark.parametrize("vector", conformance_vectors("huber_loss"), ids=str)
def test_assert_conforms_accepts_the_reference(vector):
    assert_conforms(vector, refloss.huber_loss, refloss.huber_loss_vjp)


def test_assert_conforms_reports_a_mismatch():
    vector = next(v for v in conformance_vectors("mse_loss") if v.data["result"] == "valid"
                  and v.data["attributes"]["reduction"] == "sum")
    with pytest.raises(AssertionError, match="mse_loss-.* grad input entry"):
        assert_conforms(vector, refloss.mse_loss, _mse_vjp_without_the_factor_two)
    assert assert_conforms(vector, refloss.mse_loss, refloss.mse_loss_vjp, dtype="float32").status == "pass"


# ---- command line -----------------------------------------------------------------------------------------------

def test_cli_check_prints_the_table_and_writes_reports(tmp_path, capsys):
    json_path, junit_path = tmp_path / "report.json", tmp_path / "report.xml"
    assert main(["conformance", "check", "--only", "l1_loss", "mse_loss", "--json", str(json_path),
                 "--junit", str(junit_path)]) == 0
    out = capsys.readouterr().out
    assert "worst error/allowed" in out and "l1_loss" in out and "huber_loss" not in out
    report = json.loads(json_path.read_text())
    assert report["summary"]["pass"] > 0 and "fail" not in report["summary"]
    assert junit_path.read_text().startswith('<?xml version="1.0"') and "<testsuite name=\"l1_loss\"" in \
        junit_path.read_text()


def test_cli_check_exits_1_on_a_failing_implementation(capsys, monkeypatch):
    import refloss.adapters as adapters

    wrong = _mutant("mse_loss", None, _mse_vjp_without_the_factor_two)
    monkeypatch.setattr(adapters, "get_adapter", lambda spec, **options: wrong)
    assert main(["conformance", "check", "--impl", "whatever", "--only", "mse_loss"]) == 1
    assert "FAIL mse_loss" in capsys.readouterr().out


def test_cli_unknown_implementation_and_loss():
    with pytest.raises(SystemExit, match="unknown implementation 'tensorflow'"):
        main(["conformance", "check", "--impl", "tensorflow"])
    with pytest.raises(SystemExit, match="did you mean mse_loss"):
        main(["conformance", "check", "--only", "mse"])


def test_cli_generate_check_and_lint(capsys):
    assert main(["conformance", "generate", "--check"]) == 0
    assert main(["conformance", "lint"]) == 0
    assert "clean" in capsys.readouterr().out


def test_cli_generate_writes_a_suite_elsewhere(tmp_path):
    assert main(["conformance", "generate", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "MANIFEST.json").read_bytes() == (SUITE / "MANIFEST.json").read_bytes()


def test_cli_check_through_the_jsonl_protocol_subprocess():
    result = subprocess.run([sys.executable, "-m", "refloss", "conformance", "check", "--impl",
                             f"exec:{sys.executable} {ENGINE}", "--only", "huber_loss"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "huber_loss" in result.stdout and "0 failed" in result.stdout


def test_torch_adapter_uses_torchvision_ops_when_installed(tmp_path, monkeypatch):
    # No CPU build of torchvision installs here, so a stand-in package provides torchvision.ops.sigmoid_focal_loss,
    # written from torchvision's documented formula. This checks the adapter's mapping (names, alpha=-1, the
    # default reduction 'none'), not torchvision itself.
    pytest.importorskip("torch")
    package = tmp_path / "torchvision"
    package.mkdir()
    (package / "__init__.py").write_text("from torchvision import ops\n")
    (package / "ops.py").write_text(
        "import torch\n"
        "def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction='none'):\n"
        "    p = torch.sigmoid(inputs)\n"
        "    ce = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets, reduction='none')\n"
        "    p_t = p * targets + (1 - p) * (1 - targets)\n"
        "    loss = ce * ((1 - p_t) ** gamma)\n"
        "    if alpha >= 0:\n"
        "        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss\n"
        "    return {'none': loss, 'mean': loss.mean(), 'sum': loss.sum()}[reduction]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from refloss.adapters.torch import TorchAdapter

    adapter = TorchAdapter()
    assert adapter.supports("sigmoid_focal_loss")
    report = validator.check(adapter, SUITE, only=["sigmoid_focal_loss"], dtypes=["float64"], consistency=False)
    failed = {o.name for o in report.outcomes if o.failed}
    # torchvision's formula computes 1 - p_t as 1 - sigmoid(x), which is 0 at x = 40 (true 4e-18): the saturated
    # vectors fail (gradient NaN for gamma = 0.5, values 0 instead of ~1e-35 for gamma = 2); and it checks no
    # labels or parameters. A mismatched shape is rejected by binary_cross_entropy_with_logits inside it.
    assert failed == {"saturated_gamma0.5", "saturated_gamma2", "targets_above_one", "gamma_negative",
                      "alpha_above_one"}, validator.format_table(report)
    sys.modules.pop("torchvision", None)
    sys.modules.pop("torchvision.ops", None)
