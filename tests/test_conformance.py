"""The conformance suite: regeneration is byte-identical, lint is clean, the reference and the example engine
pass (PyTorch's and JAX's runs: test_framework_conformance.py; deliberately wrong implementations:
test_mutants.py)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import refloss
from refloss.adapters import get_adapter
from refloss.cli import main
from refloss.conformance import check as validator
from refloss.conformance.generate import generate
from refloss.conformance.lint import coverage_problems, lint
from refloss.testing import assert_conforms, conformance_vectors

from mutants import MUTANTS
from mutants.regression import _mse_vjp_without_the_factor_two

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance"
ENGINE = ROOT / "conformance" / "examples" / "jsonl_engine.py"


@pytest.fixture(scope="module")
def regenerated():
    return generate()


@pytest.fixture(scope="module")
def suite_problems():
    """lint of the committed suite, once per module (about 20 s: it re-reads every entry's decimal)."""
    return lint(SUITE)


def test_regeneration_is_byte_identical(regenerated):
    for path, content in regenerated.items():
        assert (SUITE / path).read_bytes() == content, f"{path} differs from a fresh generation"
    committed = {str(p.relative_to(SUITE)) for p in (SUITE / "vectors").rglob("*.json")}
    assert committed == {p for p in regenerated if p.startswith("vectors/")}


def test_every_registered_loss_has_vectors_of_every_concern(regenerated):
    for name in refloss.registry.names():
        for concern in ("basic", "edge", "invalid"):
            assert f"vectors/{name}/{concern}.json" in regenerated
        # nll_loss has no NaN vector: its gradient does not depend on its input, so NaN needs no special case.
        # multilabel_margin_loss neither: its NaN behaviour (a NaN score makes the loss NaN, the gradients of the
        # other entries stay finite, PyTorch drops the NaN) is tested in test_multilabel.py; the shared per-sample
        # oracle writes a whole row NaN.
        if name not in ("nll_loss", "multilabel_margin_loss"):
            assert f"vectors/{name}/nonfinite.json" in regenerated


def test_lint_is_clean(suite_problems):
    assert suite_problems == []


def test_lint_requires_a_vector_at_every_declared_kink_and_every_gradient():
    manifest = json.loads((SUITE / "MANIFEST.json").read_bytes())
    assert coverage_problems(SUITE, manifest) == []
    without = {**manifest, "files": {path: entry for path, entry in manifest["files"].items()
                                     if path not in ("vectors/smooth_l1_loss/edge.json",
                                                     "vectors/cross_entropy/basic.json",
                                                     "vectors/cross_entropy/accuracy.json")}}
    problems = coverage_problems(SUITE, without)
    assert "smooth_l1_loss: no vector has an element at the declared kink 'd = 0 when beta = 0'" in problems
    assert "cross_entropy: no vector expects a gradient of 'target'" in problems


def test_lint_catches_a_tampered_file(tmp_path):
    # A suite of one loss's files (linting all of them takes 20 s and finds nothing more): its other problems are
    # the missing losses' coverage, which the assertions below do not look at.
    copy = tmp_path / "suite"
    kept = "vectors/mse_loss/"
    shutil.copytree(SUITE, copy, ignore=lambda folder, names: ["vectors"] if Path(folder) == SUITE else [])
    shutil.copytree(SUITE / kept, copy / kept)
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    manifest["files"] = {path: entry for path, entry in manifest["files"].items()
                         if not path.startswith("vectors/") or path.startswith(kept)}
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    path = copy / "vectors" / "mse_loss" / "basic.json"
    document = json.loads(path.read_text())
    document["testGroups"][0]["tests"][0]["flags"].append("Undeclared")
    path.write_text(json.dumps(document))
    problems = lint(copy)
    assert any("vectors/mse_loss/basic.json: not in canonical form" in p for p in problems)
    assert any("flag 'Undeclared' is not declared" in p for p in problems)
    assert any("MANIFEST.json" in p for p in problems)
    assert not any(p.startswith("vectors/mse_loss/edge.json") for p in problems)  # the untouched files pass


def test_validator_refuses_files_that_do_not_match_the_manifest(tmp_path):
    copy = tmp_path / "suite"
    shutil.copytree(SUITE, copy)
    path = copy / "vectors" / "l1_loss" / "basic.json"
    path.write_bytes(path.read_bytes().replace(b'"Basic"', b'"Basic" '))
    with pytest.raises(ValueError, match="does not match MANIFEST.json"):
        validator.check(get_adapter("refloss"), copy)
    report = validator.check(get_adapter("refloss"), copy, allow_modified=True)
    assert not report.failed


def test_files_of_format_1_0_stay_readable_and_are_judged_by_policy_v1(tmp_path):
    # A 1.0 file: no formatMinorVersion, one scale per tensor (its largest entry), groups under policy_v1.
    copy = tmp_path / "suite"
    shutil.copytree(SUITE, copy)
    path = copy / "vectors" / "l1_loss" / "basic.json"
    document = json.loads(path.read_text())
    del document["formatMinorVersion"]
    for group in document["testGroups"]:
        group["tolerance"]["policy"] = "policy_v1"
        for test in group["tests"]:
            for expectation in test.get("expected", []):
                for tensor in [expectation["value"], *expectation["grads"].values()]:
                    tensor["scale"] = max(tensor["scale"], key=float)
    path.write_text(json.dumps(document))
    assert {t.policy for t in validator.load_tests(copy, ["l1_loss"]) if t.file == "basic"} == {"policy_v1"}
    report = validator.check(get_adapter("refloss"), copy, only=["l1_loss"], allow_modified=True)
    assert report.outcomes and not report.failed, validator.format_table(report)


def test_reference_passes_every_vector():
    report = validator.check(get_adapter("refloss"), SUITE)
    counts = report.counts()
    assert counts == {"passed": len(report.outcomes), "unchecked": 0, "failed": 0, "xfail": 0, "xpass": 0,
                      "skipped": 0, "not_run": 0}
    assert report.consistency_failures == []
    assert {o.loss for o in report.outcomes} == set(refloss.registry.names(kind=None))
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


# ---- the pytest-friendly API ------------------------------------------------------------------------------------

@pytest.mark.parametrize("vector", conformance_vectors("huber_loss"), ids=str)
def test_assert_conforms_accepts_the_reference(vector):
    assert_conforms(vector, refloss.huber_loss, refloss.huber_loss_vjp)


def test_assert_conforms_reports_a_mismatch():
    vector = next(v for v in conformance_vectors("mse_loss") if v.data["result"] == "valid"
                  and v.data["attributes"]["reduction"] == "sum" and "float32" in v.dtypes)
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

    wrong = MUTANTS["gradient_missing_factor_two"].adapter()
    monkeypatch.setattr(adapters, "get_adapter", lambda spec, **options: wrong)
    assert main(["conformance", "check", "--impl", "whatever", "--only", "mse_loss"]) == 1
    assert "FAIL mse_loss" in capsys.readouterr().out


def test_cli_unknown_implementation_and_loss():
    with pytest.raises(SystemExit, match="unknown implementation 'tensorflow'"):
        main(["conformance", "check", "--impl", "tensorflow"])
    with pytest.raises(SystemExit, match="did you mean .*mse_loss"):
        main(["conformance", "check", "--only", "mse"])


def test_cli_generate_check_and_lint(capsys, monkeypatch, regenerated, suite_problems):
    # The CLI's plumbing, with the module's one fresh generation and one lint (each tested on its own above)
    monkeypatch.setattr("refloss.conformance.generate.generate", lambda **kwargs: regenerated)
    monkeypatch.setattr("refloss.conformance.lint.lint", lambda directory: suite_problems)
    assert main(["conformance", "generate", "--check"]) == 0
    assert main(["conformance", "lint"]) == 0
    out = capsys.readouterr().out
    assert "clean" in out and "normal-range expected entries" in out and "at most 16 ulps" in out


def test_cli_generate_writes_a_suite_elsewhere(tmp_path, monkeypatch, regenerated):
    monkeypatch.setattr("refloss.conformance.generate.generate", lambda **kwargs: regenerated)
    assert main(["conformance", "generate", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "MANIFEST.json").read_bytes() == (SUITE / "MANIFEST.json").read_bytes()


def test_cli_check_through_the_jsonl_protocol_subprocess():
    result = subprocess.run([sys.executable, "-m", "refloss", "conformance", "check", "--impl",
                             f"exec:{sys.executable} {ENGINE}", "--only", "huber_loss"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "huber_loss" in result.stdout and "0 failed" in result.stdout
