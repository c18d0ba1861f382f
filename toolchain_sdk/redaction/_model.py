"""The values redaction is built from: a ``Detector`` (what to look for) and a ``Finding`` (what was found).

A detector is either a regular expression (optionally confirmed by a ``validate`` callable) or a
``find`` callable; both report character spans of the text they were given. Everything here is
immutable and compiled once, so detectors can be shared between threads and policies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from toolchain_sdk.errors import ConfigError

__all__ = ["LABEL_RE", "Detector", "Finding", "Kind", "Span"]

Kind = Literal["pii", "secret"]
"""``pii``: personal data (kept by ``capture="full"``); ``secret``: keys and tokens (removed in every mode)."""
Span = tuple[int, int]

LABEL_RE: Final = re.compile(r"[A-Z][A-Z0-9_]*")
"""What a label may be: upper-case letters, digits and ``_`` (it is written into text as ``[LABEL]``)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One span of text a detector recognised: ``text[start:end]`` is replaced by ``[label]``."""

    detector: str
    label: str
    kind: Kind
    start: int
    end: int


FindResult = Iterable[Span | Finding | re.Match[str] | str]
"""What a ``find`` callable returns: ``(start, end)`` pairs, ``Finding`` values, regex matches
(``re.finditer(...)``) or the matched substrings themselves (``re.findall(...)`` without groups)."""


def _occurrences(text: str, part: str) -> Iterator[Span]:
    """Every place ``part`` occurs in ``text`` (none for an empty ``part``)."""
    if not part:
        return
    pos = text.find(part)
    while pos != -1:
        yield pos, pos + len(part)
        pos = text.find(part, pos + len(part))


@dataclass(frozen=True, eq=False)
class Detector:
    """A named way of recognising one kind of sensitive value in text.

    Args:
        name: unique within a policy; ``Policy(disable=[name])`` switches it off.
        label: what a replacement says (``"EMAIL"`` gives ``[EMAIL]``; brackets are optional here).
        kind: ``"pii"`` or ``"secret"``.
        pattern: a regular expression (text or compiled). When it has a group named ``value``, only
            that group is replaced (``password=`` stays, what follows goes); else the whole match.
        find: instead of ``pattern``, a callable ``text -> iterable of (start, end), Finding,
            re.Match or matched substring`` (``lambda t: re.finditer(r"E\\d{5}", t)`` works).
        validate: with ``pattern``, a callable ``matched text -> bool`` confirming a match (a checksum,
            a shape); a rejected match is retried one character further on, so nothing hides behind it.
        hints: literal substrings at least one of which every match contains; when none is in the
            text, the detector is skipped without running its pattern (a cheap pre-check).

    Detectors read the text with earlier replacements blanked inside (``[EMAIL]`` reads as ``[`` and
    ``]`` around NUL characters, same length), so a label is never taken for context.

    Raises:
        ConfigError: the label is not upper-case letters, digits and ``_``; the kind is unknown;
            neither or both of ``pattern`` and ``find`` are given.
    """

    name: str
    label: str
    kind: Kind
    pattern: re.Pattern[str] | str | None = None
    find: Callable[[str], FindResult] | None = None
    validate: Callable[[str], bool] | None = None
    hints: tuple[str, ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        label = self.label.strip()
        if label.startswith("[") and label.endswith("]"):
            label = label[1:-1]
        if not LABEL_RE.fullmatch(label):
            raise ConfigError(
                f"redaction detector {self.name!r}: label {self.label!r} must be upper-case letters, digits "
                "and '_' (for example 'CUSTOMER_ID'), as it is written into text as [LABEL]"
            )
        if self.kind not in get_args(Kind):
            raise ConfigError(f"redaction detector {self.name!r}: kind must be 'pii' or 'secret', not {self.kind!r}")
        if (self.pattern is None) == (self.find is None):
            raise ConfigError(f"redaction detector {self.name!r}: give exactly one of pattern= or find=")
        object.__setattr__(self, "label", label)
        if isinstance(self.pattern, str):
            try:
                object.__setattr__(self, "pattern", re.compile(self.pattern))
            except re.error as exc:
                raise ConfigError(f"redaction detector {self.name!r}: the pattern does not compile ({exc})") from None

    def spans(self, text: str) -> Iterator[Span]:
        """The spans of ``text`` this detector recognises (possibly overlapping, in no set order)."""
        if self.hints and not any(hint in text for hint in self.hints):
            return
        if self.find is not None:
            for item in self.find(text):
                if isinstance(item, str):  # a matched substring: each place it occurs
                    yield from _occurrences(text, item)
                    continue
                if isinstance(item, Finding):
                    start, end = item.start, item.end
                elif isinstance(item, re.Match):
                    start, end = item.span()
                else:
                    start, end = item
                if 0 <= start < end <= len(text):
                    yield start, end
            return
        pattern = self.pattern
        assert isinstance(pattern, re.Pattern)
        has_value = "value" in pattern.groupindex
        validate = self.validate
        pos, size = 0, len(text)
        while pos <= size and (match := pattern.search(text, pos)) is not None:
            start, end = match.span("value") if has_value and match.group("value") is not None else match.span()
            if start < end and (validate is None or validate(text[start:end])):
                yield start, end
                pos = match.end() if match.end() > match.start() else match.start() + 1
            else:
                pos = match.start() + 1  # a rejected match may hide a real one that starts inside it
