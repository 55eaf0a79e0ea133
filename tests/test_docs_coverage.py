"""Every registered function has its place on the docs site: a derivation page, an API entry and a plot, and the
pages are reachable from the site's table of contents. Checked on the sources, without building the site (the
built site is checked in tests/test_docs_site.py)."""

import re
import sys
from pathlib import Path

import pytest

import refloss
from refloss import _registry

pytest.importorskip("sphinx", reason="the docs extra (sphinx, matplotlib, ...) is not installed")
pytest.importorskip("matplotlib", reason="the docs extra (sphinx, matplotlib, ...) is not installed")

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import refloss_plots  # noqa: E402
import refloss_sphinx  # noqa: E402

ALL = _registry.names(None)


def _directives(path: Path, name: str) -> list[str]:
    """The arguments of every ```{name} ARG``` block on a page."""
    return re.findall(rf"^```{{{re.escape(name)}}}\s+(\S+)\s*$", path.read_text(encoding="utf-8"), re.MULTILINE)


def _api_pages() -> dict[str, list[str]]:
    """Family (or 'building-blocks') -> the names its {refloss-api} directive documents, for every API page."""
    documented = {}
    for page in sorted((DOCS / "api").glob("*.md")):
        for family in _directives(page, "refloss-api"):
            documented[family] = refloss_sphinx.api_names(family)
    return documented


@pytest.mark.parametrize("name", ALL)
def test_registered_function_has_page_api_entry_and_plot(name):
    spec = _registry.get(name)
    page = DOCS.parent / spec.derivation
    assert page.is_file(), f"{name}: no derivation page {spec.derivation}"
    api = _api_pages()
    assert spec.family in api, f"{name}: no docs/api page has ```{{refloss-api}} {spec.family}```"
    assert name in api[spec.family], f"{name}: missing from the {spec.family} API page"
    if spec.vjp is not None:
        assert f"{name}_vjp" in api[spec.family], f"{name}_vjp: missing from the {spec.family} API page"
    plots_on_page = [refloss_plots.PLOTS[i] for i in _directives(page, "refloss-plot") if i in refloss_plots.PLOTS]
    assert any(name in plot.functions for plot in plots_on_page), \
        f"{name}: {spec.derivation} has no ```{{refloss-plot}}``` of a plot that shows it (docs/_ext/refloss_plots.py)"


def test_every_plot_directive_names_a_plot():
    unknown = [(page.name, plot_id) for page in DOCS.rglob("*.md") for plot_id in _directives(page, "refloss-plot")
               if plot_id not in refloss_plots.PLOTS]
    assert not unknown, f"{{refloss-plot}} of unknown plots: {unknown}"


def test_every_public_function_is_on_an_api_page():
    generated = {name for names in _api_pages().values() for name in names}
    listed = {m for page in (DOCS / "api").glob("*.md")
              for m in re.findall(r"^\.\. autofunction:: refloss\.(\w+)$", page.read_text(), re.MULTILINE)}
    public = {name for name in refloss.__all__ if callable(getattr(refloss, name))}
    assert public - generated - listed == set()


def test_every_page_is_in_a_toctree():
    """Sphinx only warns (an error with -W) about an orphan page when the site is built; this says which, sooner."""
    sources = [page for page in DOCS.rglob("*.md") if not {"_build", "_generated"} & set(page.parts)]
    entries = set()
    for page in sources:
        for block in re.findall(r"```\{toctree\}(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL):
            for line in block.splitlines():
                line = line.strip()
                if line and not line.startswith(":"):
                    entries.add((page.parent / line).resolve().relative_to(DOCS.resolve()).as_posix())
    pages = {page.relative_to(DOCS).with_suffix("").as_posix() for page in sources}
    orphans = sorted(pages - entries - {"index"})
    assert not orphans, f"pages in no toctree: {orphans}"
