"""The Sphinx extension behind refloss's documentation site: figures, tables and numbers computed by refloss when
the site is built, and the API reference generated from the registry.

Pages use:

- ```` ```{refloss-plot} PLOT_ID ```` : the plot ``refloss_plots.PLOTS[PLOT_ID]`` (every registered function has
  one), as a figure with the plot's caption;
- ```` ```{refloss-figure} module.function ```` : the matplotlib Figure that ``module.function()`` returns, with the
  directive's content as its caption;
- ```` ```{refloss-table} module.function ```` : ``module.function()`` returns ``(header, rows)``, lists of strings
  (MyST inline markup allowed); the directive's content, if any, is the caption;
- `` {refloss-value}`module.function.key` `` : ``module.function()`` returns a dict of formatted strings; the role
  inserts one of them, so that no number quoted in prose is typed by hand;
- ```` ```{refloss-api} FAMILY ```` : the API entries of every registered function of FAMILY (forward and VJP), in
  registration order, from their docstrings; ``building-blocks`` for the activations and the entry points.

The modules named here live in ``docs/_ext/`` (conf.py puts it on ``sys.path``). Images are written to
``docs/_generated/`` (not in git) and copied into the site by Sphinx like any other image.
"""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a build machine; figures are only ever saved

from docutils import nodes  # noqa: E402
from sphinx.util import logging  # noqa: E402
from sphinx.util.docutils import SphinxDirective  # noqa: E402

from refloss import _registry  # noqa: E402

LOGGER = logging.getLogger(__name__)
GENERATED = "_generated"
DPI = 110

# Functions documented on the "building blocks" API page: not registered (they are not losses), but every loss is
# built from them, and the entry points every user calls.
BUILDING_BLOCKS = ("sigmoid", "log_sigmoid", "softmax", "log_softmax", "one_hot", "value_and_vjp")


def resolve(dotted: str):
    """The object ``module.attribute`` names, imported from docs/_ext/; a clear error for a bad name."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"expected module.function, got {dotted!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"{module_name} has no {attribute!r}") from None


@functools.cache
def _values(dotted: str) -> dict[str, str]:
    """The dict of formatted numbers ``dotted`` returns, computed once per build."""
    values = resolve(dotted)()
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise TypeError(f"{dotted}() must return a dict of formatted strings")
    return values


def save_figure(figure, srcdir: str, relative: str) -> str:
    """Write ``figure`` as PNG under docs/_generated/ and return the image URI for the page (rooted at srcdir)."""
    path = Path(srcdir, GENERATED, relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return f"/{GENERATED}/{relative}"


class _FigureDirective(SphinxDirective):
    """Shared by refloss-plot and refloss-figure: a rendered figure and a MyST caption."""

    required_arguments = 1
    has_content = True

    def figure_node(self, figure, relative: str, caption: str, alt: str) -> list[nodes.Node]:
        uri = save_figure(figure, self.env.srcdir, relative)
        node = nodes.figure(classes=["refloss-figure"])
        node += nodes.image(uri=uri, alt=alt)
        if caption:
            paragraphs = self.parse_text_to_nodes(caption)
            node += nodes.caption("", "", *[child for p in paragraphs for child in p.children])
        return [node]


class PlotDirective(_FigureDirective):
    """```{refloss-plot} PLOT_ID```: one of refloss_plots.PLOTS."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import refloss_plots

        plot_id = self.arguments[0]
        if plot_id not in refloss_plots.PLOTS:
            raise self.error(f"refloss-plot: no plot {plot_id!r} in docs/_ext/refloss_plots.py PLOTS")
        plot = refloss_plots.PLOTS[plot_id]
        alt = f"plot of {', '.join(plot.functions)}"
        return self.figure_node(plot.make(), f"plots/{plot_id}.png", plot.caption, alt)


class FigureDirective(_FigureDirective):
    """```{refloss-figure} module.function```: the Figure it returns, captioned by the directive's content."""

    def run(self) -> list[nodes.Node]:
        dotted = self.arguments[0]
        try:
            figure = resolve(dotted)()
        except (ImportError, ValueError) as error:
            raise self.error(f"refloss-figure {dotted}: {error}") from None
        caption = "\n".join(self.content)
        return self.figure_node(figure, f"figures/{dotted}.png", caption, caption or dotted)


def _markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


class TableDirective(SphinxDirective):
    """```{refloss-table} module.function```: a table of rows computed at build time."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        dotted = self.arguments[0]
        try:
            header, rows = resolve(dotted)()
        except (ImportError, ValueError) as error:
            raise self.error(f"refloss-table {dotted}: {error}") from None
        for row in rows:
            if len(row) != len(header):
                raise self.error(f"refloss-table {dotted}: a row has {len(row)} cells for {len(header)} columns")
        lines = ["| " + " | ".join(_markdown_cell(cell) for cell in header) + " |",
                 "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(_markdown_cell(cell) for cell in row) + " |" for row in rows]
        caption = "\n".join(self.content)
        text = (f"*{caption.strip()}*\n\n" if caption.strip() else "") + "\n".join(lines)
        container = nodes.container(classes=["refloss-table"])
        container += self.parse_text_to_nodes(text)
        return [container]


def value_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """{refloss-value}`module.function.key`: a number computed at build time, already formatted."""
    dotted, _, key = text.rpartition(".")
    try:
        values = _values(dotted)
        return [nodes.Text(values[key])], []
    except KeyError:
        message = f"refloss-value: {dotted}() has no key {key!r}"
    except (ImportError, ValueError, TypeError) as error:
        message = f"refloss-value {text}: {error}"
    problem = inliner.reporter.error(message, line=lineno)
    return [inliner.problematic(rawtext, rawtext, problem)], [problem]


def api_names(family: str) -> list[str]:
    """The public names documented on one API page, forward then VJP for each function."""
    if family == "building-blocks":
        import refloss

        names = [n for n in BUILDING_BLOCKS if hasattr(refloss, n)]
        return [n for name in names for n in (name, f"{name}_vjp") if hasattr(refloss, n)]
    specs = [_registry.get(n) for n in _registry.names(None) if _registry.get(n).family == family]
    if not specs:
        raise ValueError(f"no registered function has family {family!r}; families: {', '.join(api_families())}")
    return [n for spec in specs for n in (spec.name, f"{spec.name}_vjp" if spec.vjp is not None else None) if n]


def api_families() -> list[str]:
    """The registry's families, in order of first registration."""
    return list(dict.fromkeys(_registry.get(n).family for n in _registry.names(None)))


class ApiDirective(SphinxDirective):
    """```{refloss-api} FAMILY```: autodoc entries for every registered function of FAMILY."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        try:
            names = api_names(self.arguments[0])
        except ValueError as error:
            raise self.error(f"refloss-api: {error}") from None
        rst = "\n".join(f".. autofunction:: refloss.{name}\n" for name in names)
        return self.parse_text_to_nodes(f"```{{eval-rst}}\n{rst}```\n")


_PAGE_IN_DOCSTRING = re.compile(r"``docs/([\w/]+)\.md(?:#[\w-]+)?``")


def link_pages(app, what, name, obj, options, lines):
    """Docstrings name their derivation page as a path (``docs/derivations/l1_loss.md``), which is what a reader of
    help() can use; on the site the path becomes a link to the page."""
    lines[:] = [_PAGE_IN_DOCSTRING.sub(r":doc:`/\1`", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", link_pages)
    app.add_directive("refloss-plot", PlotDirective)
    app.add_directive("refloss-figure", FigureDirective)
    app.add_directive("refloss-table", TableDirective)
    app.add_directive("refloss-api", ApiDirective)
    app.add_role("refloss-value", value_role)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
