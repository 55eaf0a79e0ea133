"""The ``refloss`` command line: list, show and check the registered losses.

The CLI only reads the registry; it holds no loss logic.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Sequence

from refloss import _registry
from refloss._docstring import REQUIRED_SECTIONS, sections

__all__ = ["main"]


def _table(header: Sequence[str], rows: list[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _resolve(name: str) -> _registry.LossSpec:
    try:
        return _registry.get(name)
    except KeyError as error:
        raise SystemExit(f"refloss: {error.args[0]}") from None


def _params_text(spec: _registry.LossSpec) -> str:
    return ", ".join([f"{p.name}={p.default!r}" for p in spec.params] + [f"reduction={spec.default_reduction!r}"])


def cmd_list(args: argparse.Namespace) -> int:
    specs = [_registry.get(n) for n in _registry.names()]
    if args.family:
        specs = [s for s in specs if s.family == args.family]
        if not specs:
            families = sorted({_registry.get(n).family for n in _registry.names()})
            raise SystemExit(f"refloss: no family {args.family!r}; families: {', '.join(families)}")
    rows = [(s.name, s.family, _params_text(s),
             "; ".join(f"{e.framework}: {e.call}" for e in s.equivalents) or "-") for s in specs]
    print(_table(("name", "family", "parameters (defaults)", "framework equivalents"), rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    spec = _resolve(args.name)
    doc = sections(spec.forward.__doc__)
    out = [f"{spec.name}  ({spec.family})", doc[""].split("\n\n")[0], ""]
    out.append(f"call:        refloss.{spec.name}({', '.join(i.name for i in spec.inputs)}, *, "
               f"reduction={spec.default_reduction!r}{''.join(f', {p.name}={p.default!r}' for p in spec.params)})")
    out.append(f"gradient:    refloss.{spec.name}_vjp(grad_output, {', '.join(i.name for i in spec.inputs)}, ...)")
    out.append(f"derivation:  {spec.derivation}")
    out.append(f"smoothness:  {spec.smoothness}")
    for section in REQUIRED_SECTIONS:
        out += ["", f"{section}:", textwrap.indent(doc.get(section, "(missing)"), "    ")]
    out += ["", "Parameters:"]
    out += [f"    {p.name} = {p.default!r}, in {p.domain}: {p.description}" for p in spec.params] or ["    (none)"]
    out += ["", "Kinks and the (sub)gradient returned there:"]
    out += [f"    {k.where}: {k.convention}" for k in spec.kinks] or ["    (none: smooth everywhere)"]
    if spec.stop_gradients:
        out += ["", f"Stop-gradients: {', '.join(spec.stop_gradients)}"]
    out += ["", "Framework equivalents:"]
    out += [f"    {e.framework}: {e.call}" + (f" ({e.note})" if e.note else "") for e in spec.equivalents]
    print("\n".join(out))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refloss",
        description="Reference loss functions with hand-derived gradients: list them, read their definitions, "
                    "and check every gradient.",
        epilog="Run 'refloss COMMAND --help' for the options of a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list the registered losses",
                       description="Print the registry as a table: name, family, parameters with their defaults "
                                   "(as in PyTorch where PyTorch has the loss) and framework equivalents.")
    p.add_argument("--family", help="only this family (for example: regression)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show one loss: formula, gradient, conventions, references",
                       description="Print the definition, gradient, conventions (subgradients at kinks, empty "
                                   "inputs, shapes), parameters and references of one loss.")
    p.add_argument("name", help="a registered loss name, as printed by 'refloss list'")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
