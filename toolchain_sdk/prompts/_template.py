"""``{{ name }}`` templates: parsing once, rendering strictly, never evaluating anything.

The syntax is deliberately tiny so a template means the same thing to a reviewer as to the SDK:

- ``{{ name }}`` is a placeholder: letters, digits and ``_``, optional spaces or tabs inside the
  braces. Nothing else is evaluated: no filters, expressions, loops or attribute access.
- ``{{{{`` is a literal ``{{`` (so ``{{{{ name }}`` renders the text ``{{ name }}``).
- Any other brace is literal text: a single ``{`` or ``}``, and ``}}`` (JSON needs no escaping).
- A ``{{`` that opens no placeholder (``{{ a-b }}``, ``{{}}``, an unclosed ``{{ name``) is an
  error, so a typo never reaches the model as literal braces.

Values are inserted as text (``str(value)``) and never re-expanded: a value containing
``{{ other }}`` stays literal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from toolchain_sdk.errors import PromptError

__all__ = ["ESCAPED_OPEN", "Placeholder", "Segment", "escape", "parse", "placeholders_of", "render"]

ESCAPED_OPEN = "{{{{"
"""How a template writes a literal ``{{``."""

_TOKEN = re.compile(r"(?P<escape>\{\{\{\{)|\{\{[ \t]*(?P<name>[A-Za-z0-9_]+)[ \t]*\}\}")


@dataclass(frozen=True)
class Placeholder:
    """A ``{{ name }}`` in a parsed template."""

    name: str


Segment = str | Placeholder
"""A parsed template is a tuple of literal text and placeholders, in order."""


def _where(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def parse(template: str, *, what: str = "template") -> tuple[Segment, ...]:
    """Split ``template`` into literal text and placeholders.

    Args:
        template: the template text.
        what: how messages name the template (``prompt support@3``).

    Returns:
        The segments in order; adjacent literal text is merged.

    Raises:
        PromptError: a ``{{`` opens no valid placeholder (its line and column are named).
    """
    segments: list[Segment] = []
    literal: list[str] = []

    def flush() -> None:
        if "".join(literal):
            segments.append("".join(literal))
        literal.clear()

    start = 0
    for match in _TOKEN.finditer(template):
        literal.append(_literal(template, start, match.start(), what))
        if match["escape"]:
            literal.append("{{")
        else:
            flush()
            segments.append(Placeholder(match["name"]))
        start = match.end()
    literal.append(_literal(template, start, len(template), what))
    flush()
    return tuple(segments)


def _literal(template: str, start: int, end: int, what: str) -> str:
    """``template[start:end]``, which lies between tokens, so any ``{{`` in it is a stray one."""
    chunk = template[start:end]
    stray = chunk.find("{{")
    if stray >= 0:
        at = start + stray
        snippet = template[at : at + 24].split("\n", 1)[0]
        raise PromptError(
            f"{what}: '{{{{' at {_where(template, at)} ({snippet!r}) does not open a placeholder: write "
            f"'{{{{ name }}}}' with letters, digits and '_' only, or '{ESCAPED_OPEN}' for a literal '{{{{'"
        )
    return chunk


def placeholders_of(segments: tuple[Segment, ...]) -> frozenset[str]:
    """The names a parsed template expects."""
    return frozenset(s.name for s in segments if isinstance(s, Placeholder))


def render(segments: tuple[Segment, ...], values: Mapping[str, object], *, what: str = "template") -> str:
    """Fill a parsed template strictly: every placeholder needs a value, every value a placeholder.

    Raises:
        PromptError: names missing values and values the template does not use.
    """
    expected = placeholders_of(segments)
    missing = sorted(expected - values.keys())
    unexpected = sorted(values.keys() - expected)
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing value(s) for {', '.join(missing)}")
        if unexpected:
            problems.append(f"the template has no placeholder for {', '.join(unexpected)}")
        uses = ", ".join(sorted(expected)) or "none"
        raise PromptError(f"{what}: {'; '.join(problems)} (its placeholders: {uses})")
    return "".join(s if isinstance(s, str) else str(values[s.name]) for s in segments)


def escape(text: str) -> str:
    """Template text that renders as ``text`` exactly (every ``{{`` written as ``{{{{``)."""
    return text.replace("{{", ESCAPED_OPEN)
