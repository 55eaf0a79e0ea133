"""The refloss command line: list, show, gradcheck, help and errors."""

import subprocess
import sys
from pathlib import Path

import pytest

import refloss
from refloss.cli import main


def _lines(capsys):
    return capsys.readouterr().out.splitlines()


def _fits(lines, width):
    """Every line fits, except one that is a single unbreakable word (a URL)."""
    return [line for line in lines if len(line) > width and len(line.split()) > 1]


def test_list_prints_every_loss_with_family_parameters_and_equivalents(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in refloss.registry.names():
        assert name in out
    assert "beta=1.0, reduction='mean'" in out
    assert "torch.nn.functional.huber_loss, optax.losses.huber_loss, keras.losses.Huber" in out


@pytest.mark.parametrize("columns", [50, 60, 80, 100, 160, 300])
def test_list_fits_the_terminal_and_keeps_every_piece_of_information(capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))  # what shutil.get_terminal_size reads first
    assert main(["list"]) == 0
    lines = _lines(capsys)
    specs = [refloss.registry.get(n) for n in refloss.registry.names(kind=None)]
    # side by side, the name and family columns and at least 20 columns of parameters or the longest unbreakable
    # setting; when that is wider than the terminal, the parameters go under the name and family (stacked)
    longest_setting = max(len(word) for s in specs for p in s.params for word in f"{p.name}={p.default!r}".split())
    families = [s.family if s.kind == "loss" or s.family.startswith(s.kind) else f"{s.family}/{s.kind}"
                for s in specs]
    name_and_family = max(map(len, refloss.registry.names(kind=None))) + 2 + max(map(len, families))
    side_by_side = name_and_family + 2 + max(20, longest_setting + 1)  # (+ its comma)
    longest_call = max(len(word) for s in specs for e in s.equivalents for word in e.call.split())
    narrowest = side_by_side if side_by_side <= columns else max(name_and_family, 2 + longest_setting + 1,
                                                                 6 + longest_call + 1)
    assert max(map(len, lines)) <= max(columns, narrowest)
    words = " ".join(lines).split()
    text = " ".join(words)
    for name in refloss.registry.names():
        spec = refloss.registry.get(name)
        assert name in words and spec.family in words
        for part in [f"{p.name}={p.default!r}" for p in spec.params] + [f"reduction={spec.default_reduction!r}"]:
            assert part in text, (name, part)
        for equivalent in spec.equivalents:
            assert equivalent.call in text, (name, equivalent.call)  # never broken inside a call


def test_list_is_80_columns_when_not_a_terminal(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # capsys: stdout is not a terminal
    assert main(["list"]) == 0
    lines = _lines(capsys)
    assert 70 < max(map(len, lines)) <= 80


def test_list_rows_keep_their_equivalents_under_them(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["list", "--family", "regression"]) == 0
    lines = _lines(capsys)
    row = next(i for i, line in enumerate(lines) if line.startswith("huber_loss "))
    assert lines[row].split() == ["huber_loss", "regression", "delta=1.0,", "weight=None,", "reduction='mean'"]
    assert lines[row + 1] == "    torch.nn.functional.huber_loss, optax.losses.huber_loss, keras.losses.Huber"
    monkeypatch.setenv("COLUMNS", "80")
    stacked = main(["list"]) == 0 and _lines(capsys)  # all functions: wider than 80 columns side by side
    row = next(i for i, line in enumerate(stacked) if line.startswith("huber_loss "))
    assert stacked[row].split() == ["huber_loss", "regression"]
    assert stacked[row + 1] == "  delta=1.0, weight=None, reduction='mean'"
    assert stacked[row + 2] == "    torch.nn.functional.huber_loss, optax.losses.huber_loss, keras.losses.Huber"
    monkeypatch.setenv("COLUMNS", "200")
    softmax_focal = main(["list", "--family", "classification"]) == 0 and _lines(capsys)
    row = next(i for i, line in enumerate(softmax_focal) if line.startswith("softmax_focal_loss "))
    assert softmax_focal[row + 1] == "    keras.losses.categorical_focal_crossentropy"
    coders = main(["list", "--kind", "coder"]) == 0 and _lines(capsys)
    row = next(i for i, line in enumerate(coders) if line.startswith("encode_yolo_boxes "))
    assert coders[row + 1] == "    (none)"  # a function with no equivalent says so


def test_list_by_family_and_unknown_family(capsys):
    assert main(["list", "--family", "regression"]) == 0
    with pytest.raises(SystemExit, match="no family .audio.; families: boxes, classification, detectors, "
                                         "embedding, regression, segmentation, sequence"):
        main(["list", "--family", "audio"])


def test_show_prints_formula_gradient_conventions_references(capsys):
    assert main(["show", "huber_loss"]) == 0
    out = capsys.readouterr().out
    for heading in ("Definition:", "Gradient:", "Conventions:", "Shapes:", "References:", "Parameters:",
                    "Kinks and the (sub)gradient returned there:", "Framework equivalents:"):
        assert heading in out
    assert "    ∂ℓ/∂x = clip(d, -δ, δ),\n        ∂ℓ/∂y = -clip(d, -δ, δ)    (G1, G2)" in out
    assert "ℓ(x, y) = { 1/2 d^2          if |d| < δ" in out
    assert "delta = 1.0, in (0, inf)" in out
    assert "torch: torch.nn.functional.huber_loss" in out


@pytest.mark.parametrize("name", refloss.registry.names(kind=None))
def test_show_prints_no_rst_or_latex_and_fits_the_terminal(capsys, monkeypatch, name):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["show", name]) == 0
    lines = _lines(capsys)
    out = "\n".join(lines)
    for raw in ("\\", ":math:", ".. math::", "``", ":func:", "$"):
        assert raw not in out, (name, raw)
    assert not _fits(lines, 80), _fits(lines, 80)


def test_show_puts_a_path_too_long_for_its_label_on_a_line_of_its_own(capsys, monkeypatch):
    # CI clones into a deeper directory than a developer's checkout; the page's path must still fit or stand alone.
    deep = Path("/" + "/".join(["a-rather-deep-directory"] * 3)) / "docs/derivations/mse_loss.md"
    monkeypatch.setattr("refloss.cli.derivation_path", lambda spec: deep)
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["show", "mse_loss"]) == 0
    lines = _lines(capsys)
    assert not _fits(lines, 80), _fits(lines, 80)
    row = lines.index("derivation:")
    assert lines[row + 1] == " " * 13 + str(deep)


def test_show_raw_keeps_the_docstring_source(capsys):
    assert main(["show", "huber_loss", "--raw"]) == 0
    out = capsys.readouterr().out
    assert r"\operatorname{clip}(d, -\delta, \delta)" in out and ".. math::" in out


def test_show_says_where_the_derivation_page_is(capsys):
    from refloss.cli import derivation_path

    assert main(["show", "nll_loss"]) == 0
    lines = _lines(capsys)
    row = next(i for i, line in enumerate(lines) if line.startswith("derivation:"))
    if lines[row] == "derivation:":  # a long path (a deep checkout) starts on the next line
        row += 1
    page = Path(lines[row].split()[-1])
    assert page.is_file() and page == derivation_path(refloss.registry.get("nll_loss"))
    assert page.parts[-2:] == ("derivations", "cross_entropy.md")  # nll_loss shares cross_entropy's page
    assert lines[row + 1].strip() == "(printed by: refloss show nll_loss --derivation)"


def test_show_derivation_prints_the_page_with_its_formulas_as_text(capsys):
    page = Path(__file__).resolve().parents[1] / "docs" / "derivations" / "huber_loss.md"
    assert main(["show", "huber_loss", "--derivation"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{page}\n\n# Huber loss (`huber_loss`)")
    assert "    d = x - y    (D1)" in out and "$" not in out
    assert 'refloss.huber_loss(input, target, *, reduction="mean", delta=1.0, weight=None)' in out  # code kept
    assert main(["show", "huber_loss", "--derivation", "--raw"]) == 0
    assert capsys.readouterr().out == f"{page}\n\n{page.read_text(encoding='utf-8').rstrip()}\n"


def test_show_without_an_installed_derivation_page(capsys, monkeypatch):
    import refloss.cli

    monkeypatch.setattr(refloss.cli, "derivation_path", lambda spec: None)
    assert main(["show", "mse_loss"]) == 0
    assert ("derivation: docs/derivations/mse_loss.md in the source repository (not installed with this copy of "
            "refloss) smoothness:" in " ".join(capsys.readouterr().out.split()))
    with pytest.raises(SystemExit, match="the derivation page docs/derivations/mse_loss.md is not installed"):
        main(["show", "mse_loss", "--derivation"])


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


def test_output_into_a_closed_pipe_is_no_traceback():
    # `refloss list | head -1`: the reader has gone when refloss writes; refloss must not print a traceback
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "refloss", "list"], stdout=write_end, stderr=subprocess.PIPE,
                                text=True)
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
