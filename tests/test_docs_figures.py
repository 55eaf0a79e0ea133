"""The matching figures of the anchor detectors' pages are what docs/derivations/_anchor_figures.py draws now from
refloss's target builders: a change to the matching that the figures do not show fails here."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "derivations" / "_anchor_figures.py"


def _script():
    spec = importlib.util.spec_from_file_location("_anchor_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_figures_are_the_scripts_drawings(tmp_path, monkeypatch, capsys):
    figures = _script()
    committed = figures.FIGURES
    monkeypatch.setattr(figures, "FIGURES", tmp_path)
    example = figures.anchors_of_example()
    figures.ssd_figure(example)
    figures.retinanet_figure(example)
    figures.rpn_figure(example)
    figures.fast_rcnn_figure()
    drawn = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert drawn == sorted(p.name for p in committed.glob("*.svg"))
    for name in drawn:
        assert (tmp_path / name).read_text() == (committed / name).read_text(), (
            f"{name} is stale: run PYTHONPATH=. python docs/derivations/_anchor_figures.py")
    printed = capsys.readouterr().out
    assert "retinanet_loss_matching.svg: 135 anchors" in printed


@pytest.mark.parametrize("page", ["ssd_loss", "retinanet_loss", "rpn_loss", "fast_rcnn_loss"])
def test_each_page_shows_its_figure(page):
    assert f"(figures/{page}_matching.svg)" in (ROOT / "docs" / "derivations" / f"{page}.md").read_text()
