"""Matching an exception against class names from the config file, without importing any library.

A name matches when it names the exception's class or any of its bases (``type(exc).__mro__``):

- bare: ``RateLimitError`` (the class's ``__name__`` or ``__qualname__``);
- qualified by the defining module: ``openai._exceptions.RateLimitError``;
- qualified by the top-level package: ``openai.RateLimitError`` (how vendors re-export their errors);
- or, for a dotted name whose module is already imported, the class that name refers to (so the
  alias ``asyncio.TimeoutError``, which is ``TimeoutError`` itself, matches).

Nothing is ever imported to check a name: an error from a library that is not loaded cannot have
been raised.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

__all__ = ["error_matches", "retryable"]


def _names_of(cls: type) -> tuple[str, ...]:
    module = getattr(cls, "__module__", None) or ""
    qualname = cls.__qualname__
    return (cls.__name__, qualname, f"{module}.{qualname}", f"{module.partition('.')[0]}.{qualname}")


def _alias_matches(exc: BaseException, name: str) -> bool:
    module_name, _, attr = name.rpartition(".")
    module = sys.modules.get(module_name) if module_name else None
    target = getattr(module, attr, None) if module is not None else None
    return isinstance(target, type) and isinstance(exc, target)


def error_matches(exc: BaseException, names: Iterable[str]) -> bool:
    """Whether ``exc`` is an instance of a class one of ``names`` names (see the module docstring)."""
    wanted = frozenset(names)
    if not wanted:
        return False
    if any(n in wanted for cls in type(exc).__mro__ for n in _names_of(cls)):
        return True
    return any(_alias_matches(exc, name) for name in wanted if "." in name)


def retryable(exc: BaseException, names: Iterable[str]) -> bool:
    """Whether a route retries ``exc``: a matching ``Exception``; never cancellation, exit or interrupt."""
    return isinstance(exc, Exception) and error_matches(exc, names)
