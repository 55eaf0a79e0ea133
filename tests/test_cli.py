"""The refloss command line: list, show, gradcheck, help and errors."""

import subprocess
import sys

import pytest

import refloss
from refloss.cli import main


def test_list_prints_every_loss_with_family_parameters_and_equivalents(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in refloss.registry.names():
        assert name in out
    assert "beta=1.0, reduction='mean'" in out
    assert "torch: torch.nn.functional.huber_loss" in out


def test_list_by_family_and_unknown_family(capsys):
    assert main(["list", "--family", "regression"]) == 0
    with pytest.raises(SystemExit, match="no family .boxes.; families: classification, regression"):
        main(["list", "--family", "boxes"])


def test_show_prints_formula_gradient_conventions_references(capsys):
    assert main(["show", "huber_loss"]) == 0
    out = capsys.readouterr().out
    for heading in ("Definition:", "Gradient:", "Conventions:", "Shapes:", "References:", "Parameters:",
                    "Kinks and the (sub)gradient returned there:", "Framework equivalents:"):
        assert heading in out
    assert r"\operatorname{clip}(d, -\delta, \delta)" in out
    assert "delta = 1.0, in (0, inf)" in out
    assert "docs/derivations/huber_loss.md" in out


def test_unknown_name_suggests_the_closest(capsys):
    with pytest.raises(SystemExit, match="unknown loss 'smoth_l1'; did you mean smooth_l1_loss"):
        main(["show", "smoth_l1"])
    with pytest.raises(SystemExit, match="unknown loss 'hubber'"):
        main(["gradcheck", "hubber"])


def test_gradcheck_prints_a_table_and_passes(capsys):
    assert main(["gradcheck", "mse_loss", "huber_loss"]) == 0
    out = capsys.readouterr().out
    assert "max rel err (autograd)" in out and "max rel err (finite diff)" in out
    assert "mse_loss" in out and "huber_loss" in out and "l1_loss" not in out
    assert "2 passed, 0 failed" in out


def test_gradcheck_fails_with_exit_status_1_on_a_wrong_gradient(capsys, monkeypatch):
    from refloss import gradcheck
    from refloss.testing import _gradients

    spec = refloss.registry.get("mse_loss")
    wrong = type(spec)(**{**spec.__dict__, "vjp": lambda g, x, y, **kw: spec.vjp(g, x, y, **kw)[::-1]})
    monkeypatch.setattr(_gradients, "get", lambda name: wrong)
    monkeypatch.setattr(gradcheck, "get", lambda name: wrong)
    assert main(["gradcheck", "mse_loss"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "0 passed, 1 failed" in out


@pytest.mark.parametrize("args", [[], ["list"], ["show"], ["gradcheck"]])
def test_help_of_each_command(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--help"])
    assert exit_info.value.code == 0
    assert "usage: refloss" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "refloss", "list"], capture_output=True, text=True, check=True)
    assert "smooth_l1_loss" in result.stdout
