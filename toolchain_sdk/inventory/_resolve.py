"""Following ``Ref`` values across the scanned modules until they become constants (or ``<dynamic>``)."""

from __future__ import annotations

from collections.abc import Callable

from toolchain_sdk.inventory._module import ModuleFacts
from toolchain_sdk.inventory._values import DYNAMIC, Call, Concat, Const, Dynamic, Ref, Value

__all__ = ["Resolver"]

_DEPTH = 16


class Resolver:
    """Resolves values against every scanned module's constants (``lookup`` finds a module's facts)."""

    def __init__(self, lookup: Callable[[str], ModuleFacts | None]) -> None:
        self.lookup = lookup

    def resolve(self, value: Value, depth: int = 0) -> Value:
        """``value`` with references followed: a ``Const``, a ``Call`` of resolved arguments, or ``Dynamic``."""
        if depth > _DEPTH:
            return Dynamic("unresolved")
        if isinstance(value, Ref):
            return self._dotted(value.dotted, depth + 1)
        if isinstance(value, Concat):
            parts = [self.resolve(p, depth + 1) for p in value.parts]
            if all(isinstance(p, Const) and isinstance(p.value, (str, int, float)) for p in parts):
                return Const("".join(str(p.value) for p in parts if isinstance(p, Const)))
            return Dynamic()
        if isinstance(value, Call):
            return Call(
                value.func,
                tuple(self.resolve(a, depth + 1) for a in value.args),
                tuple((k, self.resolve(v, depth + 1)) for k, v in value.kwargs),
                value.text,
            )
        return value

    def _dotted(self, dotted: str, depth: int) -> Value:
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            facts = self.lookup(".".join(parts[:cut]))
            if facts is None:
                continue
            rest = parts[cut:]
            if len(rest) != 1:
                return Dynamic("unresolved")
            name = rest[0]
            if name in facts.constants:
                return self.resolve(facts.constants[name], depth + 1)
            if name in facts.aliases:
                return self._dotted(facts.aliases[name], depth + 1)
            return Dynamic("unresolved")
        return Dynamic("unresolved")

    def text(self, value: Value | None) -> str | None:
        """A field as the sheet shows it: the constant as text, ``None`` when absent, else ``<dynamic>``."""
        if value is None:
            return None
        resolved = self.resolve(value)
        if isinstance(resolved, Const):
            return None if resolved.value is None else str(resolved.value)
        return DYNAMIC
