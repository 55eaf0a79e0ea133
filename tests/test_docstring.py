"""The plain-text rendering of docstrings and derivation pages that ``refloss show`` prints (refloss/_docstring.py)."""

import re
from pathlib import Path

import pytest

import refloss
from refloss._docstring import REQUIRED_SECTIONS, latex_to_text, markdown_math_to_text, sections, to_text

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("latex, text", [
    # fractions: a single symbol stays bare, anything else is parenthesised
    (r"\frac{\partial \ell}{\partial x}", "∂ℓ/∂x"),
    (r"\frac{\partial \ell_n}{\partial x_{n,k}}", "∂ℓ_n/∂x_(n,k)"),
    (r"-\frac{y}{p} + \frac{1 - y}{1 - p}", "-y/p + (1 - y)/(1 - p)"),
    (r"\dfrac{d^2}{2\beta}", "d^2/(2β)"),  # 2β is a product: d^2/2β would read as (d^2/2)β
    (r"\frac{p(1-p)}{q}", "p(1-p)/q"),
    (r"\tfrac12 d^2", "1/2 d^2"),
    (r"\delta\,(|d| - \tfrac12\delta)", "δ (|d| - 1/2 δ)"),
    # scripts
    (r"e^{-2|d|}", "e^(-2|d|)"),
    (r"q^{\gamma}, q^\gamma, q^{\gamma - 1}", "q^γ, q^γ, q^(γ - 1)"),
    (r"w_{y_n}", "w_(y_n)"),  # not w_y_n
    (r"\sum_{i \ne y} \max(0, z_i)^p", "∑_(i ≠ y) max(0, z_i)^p"),
    (r"\ell_{\text{Huber},\delta}", "ℓ_(Huber,δ)"),
    # words, operator names, text, accents
    (r"\operatorname{clip}(d, -\delta, \delta)", "clip(d, -δ, δ)"),
    (r"\operatorname{log\_softmax}(x)_y", "log_softmax(x)_y"),
    (r"\log\cosh d", "log cosh d"),
    (r"p\,y\log\sigma(x) + (1 - y)\log(1 - \sigma(x))", "p y log σ(x) + (1 - y) log(1 - σ(x))"),
    (r"\operatorname{log1p}\!\bigl(2\sinh^2(d/2)\bigr)", "log1p(2 sinh^2(d/2))"),
    (r"w\,\Bigl[-\frac{y}{p}\Bigr]", "w [-y/p]"),
    (r"[\,1 - y x > 0\,]", "[1 - y x > 0]"),
    (r"\text{(C1 with } \log p = x\text{)}", "(C1 with log p = x)"),
    (r"\log \hat p", "log p\u0302"),
    # relations and sets
    (r"y \in \{-1, +1\}, \varepsilon \le p \ne 0, s \cdot x, y \mapsto 2y - 1",
     "y ∈ {-1, +1}, ε ≤ p ≠ 0, s · x, y ↦ 2y - 1"),
    (r"\ell = d^2 \qquad \text{(D2)}", "ℓ = d^2    (D2)"),
])
def test_latex_to_text(latex, text):
    assert latex_to_text(latex, strict=True) == text


def test_a_cases_environment_is_one_aligned_line_per_case():
    source = r"""
        \ell(x, y) = \begin{cases}
            \dfrac{d^2}{2\beta} & |d| < \beta \\
            |d| - \dfrac{\beta}{2} & |d| \ge \beta
        \end{cases}  \qquad \text{(D2)}
    """
    assert latex_to_text(source, multiline=True, strict=True).splitlines() == [
        "ℓ(x, y) = { d^2/(2β)   if |d| < β",
        "          { |d| - β/2  if |d| ≥ β    (D2)",
    ]
    # on one line (inline math), the cases are separated by semicolons
    assert latex_to_text(r"f = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}") == "f = {1 if x > 0; 0 if x ≤ 0}"


def test_display_blocks_keep_their_lines_align_equals_and_attach_tags():
    source = "\n".join([
        r"\frac{\partial \ell}{\partial p} = w\Bigl[-\frac{y}{p} + \frac{1 - y}{1 - p}\Bigr]",
        r"= w\,\frac{p - y}{p\,(1 - p)}, \qquad",
        r"\frac{\partial \ell}{\partial y} = -w",
        r"\qquad \text{(P2, P3)}",
    ])
    assert latex_to_text(source, multiline=True, strict=True).splitlines() == [
        "∂ℓ/∂p = w [-y/p + (1 - y)/(1 - p)]",
        "      = w (p - y)/(p (1 - p)),",  # under the first line's "="
        "∂ℓ/∂y = -w    (P2, P3)",  # a line holding only a tag joins the line before it
    ]


def test_unknown_commands_fail_in_strict_mode_and_lose_their_backslash_otherwise():
    with pytest.raises(ValueError, match=r"unknown LaTeX command \\weird"):
        latex_to_text(r"\weird{x}", strict=True)
    assert latex_to_text(r"\weird x") == "weird x"


@pytest.mark.parametrize("name", refloss.registry.names(kind=None))
def test_every_docstring_section_renders_strictly_without_markup(name):
    doc = sections(refloss.registry.get(name).forward.__doc__)
    for section in REQUIRED_SECTIONS:
        text = to_text(doc[section], strict=True)  # strict: every command used is known to the renderer
        for markup in ("\\", ":math:", ".. math::", "``", ":func:", "`"):
            assert markup not in text, (name, section, markup)
        assert text.strip()


def test_rst_roles_literals_and_math_blocks():
    rst = "\n".join([
        "See :func:`cross_entropy` and ``reduction=\"mean\"``; the slope is :math:`\\delta`.",
        "",
        ".. math::",
        "    y = \\sigma(x)  \\qquad \\text{(A1)}",
        "",
        "Then `none`.",
    ])
    assert to_text(rst, strict=True) == ("See cross_entropy and reduction=\"mean\"; the slope is δ.\n\n"
                                         "    y = σ(x)    (A1)\n\nThen none.")


def test_refilling_fits_the_width_and_never_breaks_a_formula_or_a_literal():
    rst = ("The weighted mean is :math:`\\sum_n w_n \\ell_n / \\sum_n w_n` and the call is "
           "``torch.nn.functional.huber_loss(input, target, weight=w)`` with a longer sentence after it to wrap.")
    lines = to_text(rst, 40).splitlines()
    literal = "torch.nn.functional.huber_loss(input, target, weight=w)"
    assert literal in lines  # on a line of its own, though longer than 40
    assert all(len(line) <= 40 for line in lines if line != literal)
    assert any("∑_n w_n ℓ_n / ∑_n w_n" in line for line in lines)
    assert to_text(rst) == to_text(rst, 1000)  # no width: the author's lines


def test_references_keep_their_lines_unless_too_long():
    rst = "Huber, P. J. (1964):\nhttps://doi.org/10.1214/aoms/1177703732.\nPyTorch ``huber_loss``: https://x.y/z"
    assert to_text(rst, 60, refill=False).splitlines() == [
        "Huber, P. J. (1964):", "https://doi.org/10.1214/aoms/1177703732.", "PyTorch huber_loss: https://x.y/z"]


def test_a_formula_too_wide_moves_its_tag_to_the_next_line():
    rst = ".. math::\n    \\ell = a + b + c + d + e + f + g + h  \\qquad \\text{(X1)}"
    assert to_text(rst, 30).splitlines() == ["    ℓ = a + b + c + d + e + f + g + h", "                          (X1)"]
    assert to_text(rst, 60).splitlines() == ["    ℓ = a + b + c + d + e + f + g + h    (X1)"]


def test_markdown_math_is_rendered_and_code_is_left_alone():
    page = "\n".join([
        "Slope $\\delta$ and `$not math$`:",
        "",
        "```python",
        "cost = '$\\frac{a}{b}$'",
        "```",
        "",
        "$$",
        "\\ell = \\tfrac12 d^2 \\qquad \\text{(D2)}",
        "$$",
        "$$c = y\\operatorname{softplus}(-x) \\qquad \\text{(F1)}$$",
        "and $0\\cdot\\infty = $ NaN.",
    ])
    assert markdown_math_to_text(page).splitlines() == [
        "Slope δ and `$not math$`:", "", "```python", "cost = '$\\frac{a}{b}$'", "```", "",
        "    ℓ = 1/2 d^2    (D2)", "    c = y softplus(-x)    (F1)", "and 0·∞ = NaN."]


@pytest.mark.parametrize("page", sorted((ROOT / "docs" / "derivations").glob("*.md")), ids=lambda p: p.name)
def test_every_derivation_page_renders_without_math_markup(page):
    text = markdown_math_to_text(page.read_text(encoding="utf-8"))
    prose = re.sub(r"`[^`]*`", "", re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL))
    assert "$" not in prose and "\\" not in prose, re.findall(r".{0,40}[$\\].{0,40}", prose)[:3]
