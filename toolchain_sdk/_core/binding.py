"""Fast, decoration-time-compiled binding of call arguments to parameter names.

Gives the same mapping as ``inspect.Signature.bind(...).apply_defaults().arguments`` (minus the
injected ``call`` and the bound ``self``/``cls``) at a fraction of its cost, for input hashes
and for approvers that must see what a call was asked to do; and which driver a function needs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["CALL_PARAM", "Binder", "function_kind"]

CALL_PARAM = "call"

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class Binder:
    """Maps ``(args, kwargs)`` of one function to ``{parameter name: value}``."""

    __slots__ = (
        "_defaults",
        "_keyword_names",
        "_positional",
        "_var_keyword",
        "_var_positional",
        "call_index",
        "has_parameters",
    )

    def __init__(self, func: Callable[..., Any]) -> None:
        params = list(inspect.signature(func).parameters.values())
        self.has_parameters = any(p.name != CALL_PARAM for p in params)
        self._positional = tuple(p.name for p in params if p.kind in _POSITIONAL)
        self.call_index: int | None = self._positional.index(CALL_PARAM) if CALL_PARAM in self._positional else None
        self._keyword_names = frozenset(
            p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY and p.name != CALL_PARAM
        )
        self._var_positional = next((p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
        self._var_keyword = next((p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD), None)
        defaults: dict[str, object] = {
            p.name: p.default for p in params if p.default is not inspect.Parameter.empty and p.name != CALL_PARAM
        }
        if self._var_positional:
            defaults[self._var_positional] = ()
        if self._var_keyword:
            defaults[self._var_keyword] = {}
        self._defaults = defaults

    def bind(self, args: tuple[object, ...], kwargs: Mapping[str, object], skip_first: bool) -> dict[str, object]:
        """Bound arguments; ``skip_first`` drops ``self``/``cls`` already consumed by binding."""
        names = self._positional[1:] if skip_first else self._positional
        bound = dict(self._defaults)
        n = len(names)
        for name, value in zip(names, args, strict=False):
            if name != CALL_PARAM:
                bound[name] = value
        if len(args) > n and self._var_positional:
            bound[self._var_positional] = args[n:]
        extra: dict[str, object] | None = None
        for key, value in kwargs.items():
            if key in self._keyword_names:
                bound[key] = value
            elif key != CALL_PARAM and self._var_keyword:
                if extra is None:
                    extra = bound[self._var_keyword] = {}
                extra[key] = value
        return bound


def function_kind(func: Callable[..., Any]) -> str:
    """Which driver a function needs: ``function``, ``async``, ``generator`` or ``async-generator``."""
    if inspect.isasyncgenfunction(func):
        return "async-generator"
    if inspect.iscoroutinefunction(func):
        return "async"
    if inspect.isgeneratorfunction(func):
        return "generator"
    return "function"
