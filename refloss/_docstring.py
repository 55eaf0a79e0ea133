"""Split a Google-style docstring into its sections (used by ``refloss show`` and the registry tests)."""

from __future__ import annotations

import inspect
import re

__all__ = ["REQUIRED_SECTIONS", "sections"]

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
