"""The one glob matcher of kill-switch entries (``TOOLCHAIN_KILL`` and the flag file).

Case-sensitive ``fnmatch`` globs where ``*`` also matches dots. Literal names go to a set and
all patterns are joined into one compiled expression, so the common "no entry matches" answer
costs a set lookup and one regex match.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator

__all__ = ["GlobMatcher", "is_glob", "specificity"]

_GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    """Whether ``pattern`` has wildcards (else it names one surface or flag exactly)."""
    return bool(_GLOB_CHARS & set(pattern))


def specificity(pattern: str) -> tuple[int, int]:
    """How specific an entry is: exact names beat patterns, longer (more literal) patterns beat shorter ones."""
    if not is_glob(pattern):
        return (2, len(pattern))
    return (1, sum(c not in "*?[]!" for c in pattern))


class GlobMatcher:
    """Matches names against many patterns at once; keeps the patterns' order."""

    __slots__ = ("_exact", "_globs", "_regex", "patterns")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._exact = frozenset(p for p in patterns if not is_glob(p))
        self._globs = {p: re.compile(fnmatch.translate(p)) for p in patterns if is_glob(p)}
        joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in self._globs)
        self._regex = re.compile(joined) if joined else None

    def match(self, name: str) -> bool:
        """Whether any pattern matches ``name`` entirely."""
        if name in self._exact:
            return True
        return self._regex is not None and self._regex.match(name) is not None

    def matching(self, names: tuple[str, ...]) -> Iterator[str]:
        """Every pattern (in order) that matches any of ``names``."""
        if not any(self.match(n) for n in names):
            return
        for pattern in self.patterns:
            regex = self._globs.get(pattern)
            if pattern in names if regex is None else any(regex.match(n) for n in names):
                yield pattern

    def first(self, names: tuple[str, ...]) -> str | None:
        """The first pattern (in order) matching any of ``names``, or ``None``."""
        return next(self.matching(names), None)
