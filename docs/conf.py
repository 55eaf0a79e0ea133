"""Sphinx configuration of the refloss documentation site (MyST Markdown pages, Google-style docstrings)."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import refloss  # noqa: E402

project = "refloss"
author = "the refloss authors"
copyright = "2026, the refloss authors"
release = refloss.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    # MathJax 3.2.2 from PyPI, copied into the site's _static/mathjax: the pages typeset their math with no network
    "sphinx-mathjax-offline",
    "refloss_sphinx",
]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 4
exclude_patterns = ["_build", "_generated", "**/__pycache__"]
html_theme = "furo"
html_title = f"refloss {release}"

# The docstrings' own sections beyond Args/Returns/References/Examples, rendered as headed sections.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = ["Definition", "Gradient", "Conventions", "Shapes"]
autodoc_typehints = "none"
autodoc_member_order = "bysource"
add_module_names = False
