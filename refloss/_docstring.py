"""Split a Google-style docstring into its sections, and render a section as plain text for a terminal.

``refloss show`` prints each loss's Definition, Gradient, Conventions, Shapes and References. The docstrings are
written for Sphinx: reStructuredText with LaTeX math (``:math:`...``` inline, ``.. math::`` blocks). ``to_text``
turns the subset they use into readable plain text:

* ``:math:`\\frac{a}{b}``` and ``.. math::`` blocks become formulas in Unicode: ``\\frac{a}{b}`` -> ``a/b``, with
  parentheses around a numerator or denominator that is not a single symbol (``(1 - y)/(1 - p)``);
  ``x^{p-1}`` -> ``x^(p-1)``, ``V_{n,c}`` -> ``V_(n,c)``; ``\\operatorname{clip}`` -> ``clip``, ``\\text{...}`` ->
  its text; Greek letters and relations as their Unicode symbols (``\\sigma`` -> ``σ``, ``\\le`` -> ``≤``,
  ``\\partial \\ell`` -> ``∂ℓ``); a ``cases`` environment as one line per case, ``{ value  if condition``;
* ``double backquotes``, single backquotes and roles such as ``:func:`name``` keep only their text.

``strict=True`` makes an unknown LaTeX command an error instead of printing its name without the backslash; the
tests render every registered docstring strictly, so a new command in a docstring needs a line here.
"""

from __future__ import annotations

import inspect
import re
import textwrap

__all__ = ["REQUIRED_SECTIONS", "latex_to_text", "markdown_math_to_text", "sections", "to_text"]

# The sections every loss docstring must have, in the order ``refloss show`` prints them.
REQUIRED_SECTIONS = ("Definition", "Gradient", "Conventions", "Shapes", "References")

_HEADING = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")


def sections(docstring: str | None) -> dict[str, str]:
    """Map each section heading (a line such as ``Gradient:``) to its dedented body; the summary is ``""``."""
    lines = inspect.cleandoc(docstring or "").splitlines()
    result: dict[str, list[str]] = {"": []}
    current = ""
    for line in lines:
        match = _HEADING.match(line)
        if match:
            current = match.group(1)
            result[current] = []
        else:
            result[current].append(line)
    return {name: inspect.cleandoc("\n".join(body)) for name, body in result.items()}


# ---- LaTeX ------------------------------------------------------------------------------------------------------

# Layout markers, resolved once a line is complete (none of them can occur in a docstring):
_QQUAD = "\x00"  # \qquad: four spaces that whitespace collapsing must keep
_PAD = "\x01"  # alignment padding of a cases environment: kept as is
_SOFT = "\x02"  # around a word such as log: a space only between two word characters ("p log q", "log(x)")
_TIGHT = "\x03"  # \!: removes the soft spaces next to it ("\log\!\bigl(" is "log(")
_BEFORE_DELIMITER = "\x04"  # before \bigl[ and friends: a space after a word character ("w [a + b]")

SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "lambda": "λ",
    "mu": "μ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "theta": "θ", "phi": "φ", "ell": "ℓ",
    "infty": "∞", "in": "∈", "ne": "≠", "neq": "≠", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "approx": "≈",
    "cdot": "·", "times": "×", "pm": "±", "mp": "∓", "to": "→", "mapsto": "↦", "sum": "∑", "prod": "∏",
    "xi": "ξ", "ll": "≪", "gg": "≫", "odot": "⊙", "leftarrow": "←", "top": "T", "lVert": "‖", "rVert": "‖",
    "ldots": "...", "dots": "...", "cdots": "...", "lvert": "|", "rvert": "|", "{": "{", "}": "}", "_": "_",
    "%": "%", "&": "&", "#": "#", " ": " ", ",": " ", ";": " ", ":": " ", "quad": "  ", "qquad": _QQUAD,
    "!": _TIGHT, "Delta": "Δ", "Lambda": "Λ", "Omega": "Ω", "omega": "ω",
}
WORDS = ("log", "ln", "exp", "max", "min", "sup", "inf", "tanh", "cosh", "sinh", "sin", "cos", "arg", "det", "arctan",
         "arcsin")
SIZES = ("left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "big", "Big")
FRACTIONS = ("frac", "dfrac", "tfrac")
TEXT_COMMANDS = ("text", "textrm", "texttt", "mathrm", "mathit", "mathbf", "mathbb", "mathcal", "operatorname")
ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303"}  # combining characters: p̂, x̄, x̃

_TOKEN = re.compile(r"\\\\|\\[A-Za-z]+|\\.|\s+|.", re.DOTALL)
_OPEN_DELIMITERS = "([|"


class _Latex:
    """A recursive-descent reader of the LaTeX math subset above (one formula or one display block)."""

    def __init__(self, source: str, strict: bool) -> None:
        self.tokens = _TOKEN.findall(source)
        self.position = 0
        self.strict = strict

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def skip_spaces(self) -> None:
        while (token := self.peek()) is not None and token.isspace():
            self.position += 1

    def lines(self, stops: tuple[str, ...] = (), multiline: bool = True) -> list[str]:
        """Read up to one of ``stops`` (not consumed). With ``multiline``, a newline starts a new line and a
        cases environment lays out one line per case; otherwise everything stays on one line."""
        lines = [""]
        while (token := self.peek()) is not None and token not in stops:
            if token == "\\end":
                break  # an \end without its \begin ends the block rather than looping
            if token.isspace():
                self.take()
                if multiline and "\n" in token:
                    lines.append(_PAD * len(token.rsplit("\n", 1)[1]))  # the author's indentation
                else:
                    lines[-1] += " "
            elif token == "\\begin":
                rows = self.environment()
                if multiline:  # one line per case, the braces aligned under the first
                    column = len(_clean(lines[-1] + "{")) - 1  # where the rows start once the line is tidied
                    lines[-1] += f"{{{_PAD}{rows[0]}"
                    lines += [f"{_PAD * column}{{{_PAD}{row}" for row in rows[1:]]
                else:
                    lines[-1] += "{" + "; ".join(re.sub(f"{_PAD}+", " ", row) for row in rows) + "}"
            else:
                lines[-1] += self.atom()
        return lines

    def inline(self, stops: tuple[str, ...] = ()) -> str:
        return self.lines(stops, multiline=False)[0]

    def argument(self) -> str:
        """A command's argument: a braced group, one command, or one character (``\\tfrac12``)."""
        self.skip_spaces()
        token = self.peek()
        if token is None:
            return ""
        if token == "{":
            self.take()
            text = self.inline(("}",))
            if self.peek() == "}":
                self.take()
            return text
        return self.atom()

    def raw_argument(self) -> str:
        """The literal text of a braced argument (``\\text{...}``, ``\\begin{cases}``), nested braces kept."""
        self.skip_spaces()
        if self.peek() != "{":
            return self.take() if self.peek() is not None else ""
        self.take()
        depth, text = 1, ""
        while self.peek() is not None:
            token = self.take()
            depth += {"{": 1, "}": -1}.get(token, 0)
            if depth == 0:
                break
            text += token
        return text

    def atom(self) -> str:
        """One token and whatever it takes as arguments, rendered."""
        token = self.take()
        if token in ("^", "_"):
            return token + _grouped(_clean(self.argument()), script=True)
        if token == "{":  # a bare group: its content
            text = self.inline(("}",))
            if self.peek() == "}":
                self.take()
            return text
        if token in ("}", "~", "&", "\\\\"):  # a stray brace; a space; a cell or row break outside cases
            return "" if token == "}" else " "
        if not token.startswith("\\"):
            return token
        return self.command(token[1:])

    def command(self, name: str) -> str:
        if name in FRACTIONS:
            numerator, denominator = _clean(self.argument()), _clean(self.argument())
            return f"{_SOFT}{_grouped(numerator)}/{_grouped(denominator)}{_SOFT}"  # 1/2 δ, not 1/2δ
        if name in TEXT_COMMANDS:
            text = self.raw_argument().replace("\\_", "_").replace("\\ ", " ")
            if name == "operatorname":
                return _SOFT + text + _SOFT
            return text if name.startswith("text") else _clean(_Latex(text, self.strict).inline())
        if name in ("sqrt",):
            return f"sqrt({_clean(self.argument())})"
        if name in ACCENTS:
            return self.argument() + ACCENTS[name]
        if name == "partial":
            self.skip_spaces()  # \partial \ell is one symbol, ∂ℓ
            return "∂"
        if name in SIZES:
            return _BEFORE_DELIMITER if name.endswith("l") or name == "left" else ""
        if name in WORDS:
            return _SOFT + name + _SOFT
        if name in SYMBOLS:
            return SYMBOLS[name]
        if self.strict:
            raise ValueError(f"unknown LaTeX command \\{name} (add it to refloss/_docstring.py)")
        return name

    def environment(self) -> list[str]:
        """``\\begin{cases} value & condition \\\\ ... \\end{cases}`` as rows ``value  if condition``, the
        conditions aligned."""
        self.take()  # \begin
        kind = self.raw_argument()
        rows: list[tuple[str, str | None]] = []
        while self.peek() is not None and self.peek() != "\\end":
            value = _clean(self.inline(("&", "\\\\", "\\end")))
            condition = None
            if self.peek() == "&":
                self.take()
                condition = _clean(self.inline(("\\\\", "\\end")))
            if self.peek() == "\\\\":
                self.take()
                if self.peek() == "[":  # \\[0.5ex]: extra space between rows, nothing to print
                    while self.peek() is not None and self.take() != "]":
                        pass
            if value or condition:
                rows.append((value, condition))
        if self.peek() == "\\end":
            self.take()
            self.raw_argument()
        if kind != "cases" and self.strict:
            raise ValueError(f"unknown LaTeX environment {kind!r} (only cases is rendered)")
        width = max((len(value) for value, _ in rows), default=0)
        return [value + (f"{_PAD * (width - len(value) + 2)}if {condition}" if condition else "")
                for value, condition in rows] or [""]


def _grouped(text: str, script: bool = False) -> str:
    """``text`` as one operand of ``/``, ``^`` or ``_``: parenthesised unless it is a single symbol (and, for a
    script, has no script of its own: ``w_{y_n}`` is ``w_(y_n)``, not ``w_y_n``)."""
    atomic = _is_atomic(text) and not (script and re.search(r"[_^]", text))
    return text if atomic else f"({text})"


def _is_atomic(text: str) -> bool:
    """A number, a symbol with sub- or superscripts, or a call such as p(1-p): no space or operator outside
    brackets, and not a number followed by a letter (2β would read as (2/...)β)."""
    if not text or re.match(r"\d+[^\d.]", text):
        return False
    depth = 0
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        if depth == 0 and (char.isspace() or char in "+-*/=<>,·≤≥≠∈"):
            return False
    return True


def _clean(text: str) -> str:
    """Resolve the soft-space markers and tidy the spaces of one rendered line (layout markers are kept)."""
    text = re.sub(f"[{_SOFT}{_BEFORE_DELIMITER}]*{_TIGHT}[{_SOFT}{_BEFORE_DELIMITER}]*", "", text)
    text = re.sub(f"(?<=[\\w)\\]|]){_BEFORE_DELIMITER}", " ", text).replace(_BEFORE_DELIMITER, "")
    text = re.sub(f"(?<=[\\w)\\]|]){_SOFT}+(?=[\\w∂|])", " ", text).replace(_SOFT, "")
    text = re.sub(r" {2,}", " ", text)
    text = re.sub(r"([(\[]) ", r"\1", text)
    text = re.sub(r" ([)\],])", r"\1", text)
    text = re.sub(f" *{_QQUAD} *", _QQUAD, text)
    return text.strip(" ")


def latex_to_text(source: str, *, multiline: bool = False, strict: bool = False) -> str:
    r"""Render a LaTeX formula as plain Unicode text (see the module docstring for the rules).

    With ``multiline`` (a display block), source line breaks are kept, a cases environment takes one line per
    case, and a continuation line starting with ``=`` is aligned under the first line's ``=``.

    >>> latex_to_text(r"\frac{\partial \ell}{\partial x} = \operatorname{clip}(d, -\delta, \delta)")
    '∂ℓ/∂x = clip(d, -δ, δ)'
    >>> latex_to_text(r"w\,\frac{p - y}{p\,(1 - p)} \qquad \text{(P2)}")
    'w (p - y)/(p (1 - p))    (P2)'
    """
    reader = _Latex(textwrap.dedent(source).strip(), strict)
    lines = [_clean(line) for line in reader.lines(multiline=multiline)]
    if multiline:
        lines = _layout([line for line in lines if line.strip(f" {_PAD}")])
    lines = [line.replace(_QQUAD, "    ").replace(_PAD, " ").rstrip() for line in lines]
    return "\n".join(lines) if multiline else " ".join(lines)


def _layout(lines: list[str]) -> list[str]:
    """Align a continuation line that starts with ``=`` under the first line's ``=``, and put a line holding only
    an equation tag (``\\qquad \\text{(G1)}``) at the end of the line before it."""
    column = lines[0].find(" = ") + 1 if lines else 0
    result: list[str] = []
    for line in lines:
        content = line.lstrip(_PAD)
        if result and content.startswith(_QQUAD):
            result[-1] += content
        elif result and column and content.startswith("= "):
            result.append(" " * column + content)
        else:
            result.append(line)
    return result


# ---- reStructuredText -----------------------------------------------------------------------------------------

_MATH_ROLE = re.compile(r":math:`([^`]*)`")
_ROLE = re.compile(r":[a-z]+:`~?\.?([^`]*)`")
_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
_INTERPRETED = re.compile(r"`([^`]+)`")
_MATH_DIRECTIVE = re.compile(r"^(\s*)\.\. math::\s*(.*)$")


_NO_BREAK = "\u00a0"  # joins the words of a formula or a literal while a paragraph is refilled


def _inline(text: str, strict: bool) -> str:
    """Roles, literals and inline math of a prose paragraph as plain text (their spaces not yet breakable)."""
    def unbreakable(text: str) -> str:
        return text.replace(" ", _NO_BREAK)

    text = _MATH_ROLE.sub(lambda m: unbreakable(latex_to_text(m.group(1).replace("\n", " "), strict=strict)), text)
    text = _ROLE.sub(lambda m: m.group(1), text)
    text = _LITERAL.sub(lambda m: unbreakable(" ".join(m.group(1).split())), text)
    return _INTERPRETED.sub(lambda m: m.group(1), text)


def _blocks(text: str, strict: bool) -> list[tuple[str, bool]]:
    """The section as (text, preformatted) blocks: prose paragraphs, and rendered ``.. math::`` displays."""
    lines = text.splitlines()
    blocks: list[tuple[str, bool]] = []
    prose: list[str] = []

    def end_paragraph() -> None:
        if prose:
            blocks.append((_inline("\n".join(prose), strict), False))
            prose.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        directive = _MATH_DIRECTIVE.match(line)
        if directive:
            end_paragraph()
            indent = len(directive.group(1))
            body = [directive.group(2)]
            index += 1
            while index < len(lines) and (not lines[index].strip() or
                                          len(lines[index]) - len(lines[index].lstrip()) > indent):
                body.append(lines[index])
                index += 1
            formula = latex_to_text(textwrap.dedent("\n".join(body)), multiline=True, strict=strict)
            blocks.append((textwrap.indent(formula, " " * (indent + 4)), True))
            continue
        if not line.strip():
            end_paragraph()
        elif prose and len(line) - len(line.lstrip()) != len(prose[0]) - len(prose[0].lstrip()):
            end_paragraph()
            prose.append(line)
        else:
            prose.append(line)
        index += 1
    end_paragraph()
    return blocks


def _tag_on_own_line(line: str, width: int) -> str:
    """A formula line too long for ``width`` with its equation tag at the end: the tag moves to the next line,
    right-aligned (a formula itself is never broken)."""
    match = re.fullmatch(r"(.*\S)( {4}\([^()]*\))", line)
    if len(line) <= width or not match:
        return line
    return match.group(1) + "\n" + match.group(2).strip().rjust(width)


def to_text(text: str, width: int | None = None, *, refill: bool = True, strict: bool = False) -> str:
    r"""Render an RST docstring section as plain text, paragraphs separated by one blank line.

    With ``width``, prose paragraphs are refilled to it (``refill``), or only their longer lines are wrapped (not
    ``refill``: for lists whose line breaks matter, such as References). Formulas are never broken.

    >>> print(to_text("Gradient: :math:`\\tfrac12 d^2` with ``delta`` > 0.\n\n.. math::\n    y = \\sigma(x)"))
    Gradient: 1/2 d^2 with delta > 0.
    <BLANKLINE>
        y = σ(x)
    """
    out = []
    for block, preformatted in _blocks(text, strict):
        if width and preformatted:
            block = "\n".join(_tag_on_own_line(line, width) for line in block.splitlines())
        if width and not preformatted:
            indent = re.match(r"\s*", block).group(0)
            paragraphs = [block] if refill else block.splitlines()
            block = "\n".join(
                textwrap.fill(" ".join(re.split(r"[ \t\n]+", paragraph.strip())), width, initial_indent=indent,
                              subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
                if refill or len(paragraph) > width else paragraph
                for paragraph in paragraphs)
        out.append(block.replace(_NO_BREAK, " "))
    return "\n\n".join(out)


# ---- Markdown (the derivation pages) -----------------------------------------------------------------------------

_FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
_DISPLAY_MATH = re.compile(r"^([ \t]*)\$\$[ \t]*\n?(.*?)\n?[ \t]*\$\$[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+).*?\1", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?![$ ])(.+?)(?<!\\)\$", re.DOTALL)


def markdown_math_to_text(markdown: str) -> str:
    r"""A Markdown page with its ``$...$`` and ``$$...$$`` math rendered as plain text (code left as written).

    >>> print(markdown_math_to_text("Slope $\\delta$:\n\n$$\nd = x - y \\qquad \\text{(D1)}\n$$\n`$x$` stays."))
    Slope δ:
    <BLANKLINE>
        d = x - y    (D1)
    <BLANKLINE>
    `$x$` stays.
    """
    def display(match: re.Match) -> str:
        return textwrap.indent(latex_to_text(match.group(2), multiline=True), match.group(1) + "    ")

    def prose(text: str) -> str:
        text = _DISPLAY_MATH.sub(display, text)
        pieces = _CODE_SPAN.split(text)  # [text, fence, code, fence, code ..., text]: keep code spans as is
        spans = [m.group(0) for m in _CODE_SPAN.finditer(text)]
        texts = pieces[::2]
        rendered = [_INLINE_MATH.sub(lambda m: latex_to_text(m.group(1).replace("\n", " ")), part)
                    for part in texts]
        return "".join(part + (spans[i] if i < len(spans) else "") for i, part in enumerate(rendered))

    out, position = [], 0
    for fence in _FENCE.finditer(markdown):
        out += [prose(markdown[position:fence.start()]), fence.group(0)]
        position = fence.end()
    out.append(prose(markdown[position:]))
    return "".join(out)
