"""The ``refloss`` command line: list, show and check the registered losses.

The CLI only reads the registry; it holds no loss logic.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Sequence

from refloss import _registry
from refloss._docstring import REQUIRED_SECTIONS, markdown_math_to_text, sections, to_text

__all__ = ["main"]


def _terminal_width() -> int:
    """Columns to fit: the terminal's, or $COLUMNS, or 80 when the output is not a terminal."""
    return shutil.get_terminal_size(fallback=(80, 24)).columns


def _wrap(text: str, width: int, indent: str, subsequent_indent: str | None = None) -> list[str]:
    """``text`` wrapped to ``width`` at spaces (never inside a word, a call or a URL).

    A first word too long to follow a label (``indent``), such as a path under a deep install directory, starts
    on the line below it, so that the label's line still fits.
    """
    subsequent_indent = indent if subsequent_indent is None else subsequent_indent
    lines = textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=subsequent_indent,
                          break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]
    if len(lines[0]) > width and indent.strip() and len(lines[0].split()) > 1:
        return [indent.rstrip(), *_wrap(text, width, subsequent_indent)]
    return lines


def _table(header: Sequence[str], rows: list[Sequence[str]], width: int = 80,
           notes: Sequence[str] | None = None, notes_header: str = "") -> str:
    """A plain-text table that fits ``width`` columns: the last column wraps onto as many lines as it needs.

    ``notes`` holds one line of text per row, printed under it indented and wrapped (``notes_header`` names them
    under the header).
    """
    fixed = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    longest_word = max(len(word) for row in [header, *rows] for word in row[-1].split())
    if sum(fixed) + 2 * len(fixed) + max(20, longest_word) > width:
        return _stacked_table(header, rows, width, notes, notes_header)
    last = max(len(row[-1]) for row in [header, *rows])
    last = max(min(last, width - sum(fixed) - 2 * len(fixed)), 20)  # too narrow a terminal: overflow rather
    widths = [*fixed, last]

    def lines_of(row: Sequence[str]) -> list[str]:
        cells = _wrap(row[-1], last, "")
        first = "  ".join(cell.ljust(w) for cell, w in zip([*row[:-1], cells[0]], widths))
        pad = " " * (sum(fixed) + 2 * len(fixed))
        return [first.rstrip()] + [pad + cell for cell in cells[1:]]

    lines = lines_of(header)
    if notes_header:
        lines += _wrap(notes_header, width, "    ")
    lines.append("  ".join("-" * w for w in widths))
    for i, row in enumerate(rows):
        lines += lines_of(row)
        if notes is not None:
            lines += _wrap(notes[i], width, "    ", "      ")
    return "\n".join(lines)


def _stacked_table(header: Sequence[str], rows: list[Sequence[str]], width: int, notes: Sequence[str] | None,
                   notes_header: str) -> str:
    """The table for a terminal too narrow for its columns side by side (a long name, family and unbreakable
    setting): the fixed columns on one line, the last column wrapped under them, then the note."""
    fixed = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]

    def lines_of(row: Sequence[str], note: str | None) -> list[str]:
        first = "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], fixed)).rstrip()
        settings = _wrap(row[-1], width, "  ", "  ") if row[-1] else []
        return [first, *settings] + ([] if note is None else _wrap(note, width, "    ", "      "))

    lines = lines_of(header, notes_header if notes_header else None)
    lines.append("-" * min(width, sum(fixed) + 2 * (len(fixed) - 1)))
    for i, row in enumerate(rows):
        lines += lines_of(row, None if notes is None else notes[i])
    return "\n".join(lines)


def _resolve(name: str) -> _registry.LossSpec:
    try:
        return _registry.get(name)
    except KeyError as error:
        raise SystemExit(f"refloss: {error.args[0]}") from None


def _params_text(spec: _registry.LossSpec) -> str:
    settings = [f"{p.name} (required)" if p.required else f"{p.name}={p.default!r}" for p in spec.params]
    return ", ".join(settings + ([f"reduction={spec.default_reduction!r}"] if spec.kind == "loss" else []))


def _call_text(spec: _registry.LossSpec) -> str:
    """The forward's call as a user writes it: inputs, then the keyword-only settings after a *."""
    parts: list[str] = []
    for parameter in inspect.signature(spec.forward).parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        parts.append(parameter.name if parameter.default is parameter.empty else
                     f"{parameter.name}={parameter.default!r}")
    return f"refloss.{spec.name}({', '.join(parts)})"


def cmd_list(args: argparse.Namespace) -> int:
    specs = [_registry.get(n) for n in _registry.names(kind=None if args.kind == "all" else args.kind)]
    if args.family:
        specs = [s for s in specs if s.family == args.family]
        if not specs:
            families = sorted({_registry.get(n).family for n in _registry.names(kind=None)})
            raise SystemExit(f"refloss: no family {args.family!r}; families: {', '.join(families)}")
    # the family column names the kind too where it is not a loss ("boxes/coder") and the family does not say it
    rows = [(s.name, s.family if s.kind == "loss" or s.family.startswith(s.kind) else f"{s.family}/{s.kind}",
             _params_text(s)) for s in specs]
    equivalents = [", ".join(e.call for e in s.equivalents) or "(none)" for s in specs]
    print(_table(("name", "family", "parameters (defaults)"), rows, _terminal_width(), equivalents,
                 "framework equivalents (their differences: refloss show NAME)"))
    return 0


def derivation_path(spec: _registry.LossSpec) -> Path | None:
    """The installed derivation page of ``spec`` (refloss/docs/...), or the checkout's docs/...; None if absent."""
    package = Path(__file__).resolve().parent
    for root in (package, package.parent):
        if (root / spec.derivation).is_file():
            return root / spec.derivation
    return None


def cmd_show(args: argparse.Namespace) -> int:
    spec = _resolve(args.name)
    if args.derivation:
        return _print_derivation(spec, args.raw)
    width = _terminal_width()
    doc = sections(spec.forward.__doc__)

    def text(rst: str, refill: bool = True) -> str:
        return rst if args.raw else to_text(rst, width - 4, refill=refill)

    page = derivation_path(spec)
    where = [str(page), f"(printed by: refloss show {spec.name} --derivation)"] if page else \
        [f"{spec.derivation} in the source repository (not installed with this copy of refloss)"]
    inputs = ", ".join(i.name for i in spec.inputs)
    out = [f"{spec.name}  ({spec.family})", text(doc[""].split("\n\n")[0]), ""]
    for label, value in [
        ("call", _call_text(spec)),
        ("gradient", f"refloss.{spec.name}_vjp(grad_output, {inputs}, ...)" if spec.vjp else
                     f"none: a {spec.kind} function without a VJP (see Gradient below)"),
        *[("derivation" if i == 0 else "", line) for i, line in enumerate(where)],
        ("smoothness", spec.smoothness),
    ]:
        out += _wrap(value, width, f"{label + ':' if label else '':<13}", " " * 13)
    for section in REQUIRED_SECTIONS:
        body = doc.get(section, "(missing)")
        out += ["", f"{section}:", textwrap.indent(text(body, refill=section != "References"), "    ")]
    out += ["", "Parameters:"]
    for p in spec.params:
        out += _wrap(f"{p.name} = {p.default!r}, in {p.domain}: {p.description}", width, "    ", "        ")
    out += [] if spec.params else ["    (none)"]
    out += ["", "Kinks and the (sub)gradient returned there:"]
    for k in spec.kinks:
        out += _wrap(f"{k.where}: {k.convention}", width, "    ", "        ")
    out += [] if spec.kinks else ["    (none: smooth everywhere)"]
    if spec.stop_gradients:
        out += ["", *_wrap(f"Stop-gradients: {', '.join(spec.stop_gradients)}", width, "")]
    out += ["", "Framework equivalents:"]
    for e in spec.equivalents:
        out += _wrap(f"{e.framework}: {e.call}" + (f" ({e.note})" if e.note else ""), width, "    ", "        ")
    out += [] if spec.equivalents else ["    (none)"]
    print("\n".join(out))
    return 0


def _print_derivation(spec: _registry.LossSpec, raw: bool) -> int:
    """Print the derivation page: its Markdown, with the LaTeX math rendered unless ``raw``."""
    page = derivation_path(spec)
    if page is None:
        raise SystemExit(f"refloss: the derivation page {spec.derivation} is not installed with this copy of "
                         "refloss; it is in the source repository")
    source = page.read_text(encoding="utf-8")
    print(f"{page}\n\n{source if raw else markdown_math_to_text(source)}".rstrip())
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from refloss import gradcheck

    for name in args.names:
        _resolve(name)
    results = gradcheck.run(args.names, seed=args.seed)
    print(gradcheck.format_table(results))
    failed = [r.name for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_conformance_generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    try:
        from refloss.conformance import generate
    except ImportError as error:
        raise SystemExit(f"refloss: generating the suite needs the mpmath oracle ({error}); "
                         "pip install 'refloss[test]'") from None

    directory = Path(args.out) if args.out else _suite_directory()
    files = generate.generate(progress=lambda loss: print(f"generating {loss}", file=sys.stderr))
    if args.check:
        stale = [path for path, content in files.items()
                 if not (directory / path).is_file() or (directory / path).read_bytes() != content]
        for path in stale:
            print(f"differs: {path}")
        print(f"{len(files) - len(stale)} of {len(files)} files are byte-identical to a fresh generation")
        return 1 if stale else 0
    generate.write(files, directory)
    tests = sum(1 for _ in files if _.startswith("vectors/"))
    print(f"wrote {len(files)} files ({tests} vector files) to {directory}")
    return 0


def _suite_directory():
    from refloss.conformance.check import suite_directory

    return suite_directory()


def cmd_conformance_lint(args: argparse.Namespace) -> int:
    from pathlib import Path

    from refloss.conformance.lint import allowance_summary, allowances, lint

    directory = Path(args.dir) if args.dir else _suite_directory()
    if not (directory / "MANIFEST.json").is_file():
        raise SystemExit(f"refloss: {directory} holds no conformance suite (no MANIFEST.json)")
    problems = lint(directory)
    for problem in problems:
        print(problem)
    print(f"{directory}: {'clean' if not problems else f'{len(problems)} problems'}")
    if not problems:
        print(textwrap.fill(allowance_summary(allowances(directory)), width=_terminal_width()))
    return 1 if problems else 0


def cmd_conformance_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from refloss.adapters import get_adapter
    from refloss.adapters.base import EngineFailure
    from refloss.conformance import check

    for name in args.only:
        _resolve(name)
    directory = Path(args.dir) if args.dir else _suite_directory()
    if not directory.is_dir():
        raise SystemExit(f"refloss: --dir {directory}: no such directory")
    if not args.timeout > 0:
        raise SystemExit(f"refloss: --timeout must be a positive number of seconds; got {args.timeout}")
    try:
        adapter = get_adapter(args.impl, timeout=args.timeout)
    except (ValueError, ImportError, EngineFailure) as error:
        raise SystemExit(f"refloss: {error}") from None
    try:
        expectations_path = Path(args.expectations) if args.expectations else \
            directory / "expectations" / f"{adapter.name}.json"
        expectations = check.load_expectations(expectations_path, required=bool(args.expectations))
        report = check.check(adapter, directory, args.only or None, args.dtype or None, expectations,
                             args.allow_modified, consistency=not args.no_consistency, progress=check.progress_bar())
    except ValueError as error:
        raise SystemExit(f"refloss: {error}") from None
    finally:
        adapter.close()
    print(check.format_table(report))
    print()
    print(check.format_summary(report))
    # Reports are written after the table and summary, so that a bad path loses neither; missing parent folders
    # are created (as pytest does for --junitxml).
    for option, path, text in (("--json", args.json, report.to_json), ("--junit", args.junit, report.to_junit)):
        if path:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_text(text())
            except OSError as error:
                raise SystemExit(f"refloss: cannot write {option} {path}: {error.strerror or error}") from None
    failed = report.failed or report.nothing_checked or (args.strict and report.counts()["xpass"])
    return 1 if failed else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from refloss import bench

    return bench.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refloss",
        description="Reference loss functions with hand-derived gradients: list them, read their definitions, "
                    "and check every gradient.",
        epilog="Run 'refloss COMMAND --help' for the options of a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list the registered losses and box functions",
                       description="Print the registry as a table that fits the terminal (80 columns when the "
                                   "output is not a terminal; set COLUMNS to choose): name, family, parameters "
                                   "with their defaults (as in PyTorch where PyTorch has the loss), and under each "
                                   "row the framework equivalents ('refloss show NAME' gives their differences).")
    p.add_argument("--family", help="only this family (for example: regression)")
    p.add_argument("--kind", choices=[*_registry.KINDS, "all"], default="all",
                   help="only this kind of function: loss, geometry (box conversions, areas, pairwise IoU), coder "
                        "(box encodings) or selection (NMS); default: all")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show one loss: formula, gradient, conventions, references",
                       description="Print the definition, gradient, conventions (subgradients at kinks, empty "
                                   "inputs, shapes), parameters and references of one loss, with the formulas "
                                   "as plain text, and where its derivation page is installed.")
    p.add_argument("name", help="a registered loss name, as printed by 'refloss list'")
    p.add_argument("--derivation", action="store_true",
                   help="print the loss's derivation page (Markdown) instead, its formulas as plain text")
    p.add_argument("--raw", action="store_true",
                   help="print the docstring sections (or with --derivation the page) as written: "
                        "reStructuredText and LaTeX")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("gradcheck", help="check every VJP against autograd and finite differences",
                       description="For each loss, run its standard cases (every reduction, scalar/vector/batch/"
                                   "empty shapes, the parameter grid, random cotangents; inputs kept away from "
                                   "kinks) and compare the analytic VJP with autograd's reverse mode of the same "
                                   "forward and with central finite differences. Prints a table; exits 1 if any "
                                   "check fails.")
    p.add_argument("names", nargs="*", metavar="NAME", help="losses to check (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random cases (default 0)")
    p.set_defaults(func=cmd_gradcheck)

    conformance = sub.add_parser(
        "conformance", help="golden vectors: generate, lint, and check an implementation against them",
        description="The conformance suite (LossVec v1 JSON files in conformance/): expected values and gradients "
                    "from an independent mpmath oracle, exact float encodings, flags, verdicts, tolerances.")
    csub = conformance.add_subparsers(dest="conformance_command", metavar="ACTION")
    csub.required = True

    p = csub.add_parser("check", help="run the vectors against an implementation and print a table per loss",
                        description="Run every vector through an adapter, in each dtype the implementation "
                                    "supports, and check values, gradients (with the vector's grad_output), shapes "
                                    "and must-raise cases (the forward and the VJP must each raise, with the "
                                    "vector's error category where the implementation reports one), the default "
                                    "reduction, plus consistency checks (linearity in grad_output, zero "
                                    "grad_output, determinism, sum = sum of none). Losses and dtypes the "
                                    "implementation lacks are listed as skipped. Exit status 1 on any failure, "
                                    "and when nothing was checked. Known deviations listed in "
                                    "conformance/expectations/IMPL.json are expected failures.")
    p.add_argument("--impl", default="refloss",
                   help="refloss (default: the embedded reference), torch, jax, keras, module:NAME (your Python "
                        "functions: NAME, importable from the current directory, defines LOSSES = {name: (forward, "
                        "vjp)}), or "
                        "exec:COMMAND (an engine speaking the lossvec-jsonl/1 protocol)")
    p.add_argument("--only", nargs="+", default=[], metavar="NAME", help="only these losses")
    p.add_argument("--dtype", nargs="+", default=[], choices=["float64", "float32", "bfloat16", "float16"],
                   help="only these dtypes (default: all the implementation supports)")
    p.add_argument("--json", metavar="FILE", help="also write a JSON report (missing folders are created)")
    p.add_argument("--junit", metavar="FILE", help="also write JUnit XML (missing folders are created)")
    p.add_argument("--expectations", metavar="FILE",
                   help="known deviations (default: conformance/expectations/<impl>.json if it exists)")
    p.add_argument("--strict", action="store_true", help="fail on unexpected passes of listed deviations too")
    p.add_argument("--no-consistency", action="store_true", help="skip the built-in consistency checks")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="exec: engines only: how long to wait for each answer before killing the engine (default "
                        "60)")
    p.add_argument("--allow-modified", action="store_true",
                   help="run even if files do not match the sha256 in MANIFEST.json")
    p.add_argument("--dir", help="suite directory (default: the one shipped with refloss)")
    p.set_defaults(func=cmd_conformance_check)

    p = csub.add_parser("generate", help="regenerate the vector files from the case generators and the oracle",
                        description="Evaluate every case with the mpmath oracle, cross-check the float64 reference "
                                    "and finite differences, and write the vector files, schema, tolerance policy "
                                    "and MANIFEST.json. Refuses to write if any cross-check disagrees. Output is "
                                    "byte-identical on every machine.")
    p.add_argument("--out", help="directory (default: the suite directory)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 unless the files on disk are byte-identical to a fresh generation")
    p.set_defaults(func=cmd_conformance_generate)

    p = csub.add_parser("lint", help="check schema, ids, flags, manifest hashes and exact representability",
                        description="Validate every vector file against the JSON Schema and check tcIds, uids, "
                                    "declared flags, MANIFEST.json hashes and counts, exact representability of "
                                    "inputs in each dtype, correct rounding of every expectation, canonical "
                                    "formatting and the uids named by expectation files. Needs jsonschema and "
                                    "mpmath (the test extra).")
    p.add_argument("--dir", help="suite directory (default: the one shipped with refloss)")
    p.set_defaults(func=cmd_conformance_lint)

    from refloss import bench

    p = sub.add_parser("bench", help="time forward + VJP against PyTorch (1 thread), autograd and a memory copy",
                       description=bench.DESCRIPTION, epilog=bench.EPILOG)
    bench.add_arguments(p)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # `refloss list | head`: the reader left; no traceback for that
        # Python's documented recipe: point stdout at devnull, so that the flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
