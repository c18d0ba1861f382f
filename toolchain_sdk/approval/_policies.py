"""Approval policies: which calls of a gated surface need a person's approval."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = ["AlwaysPolicy", "Policy", "PredicatePolicy", "RiskPolicy"]

_RISK_ORDER: Final = {"low": 0, "medium": 1, "high": 2}


class Policy(Protocol):
    """When a call needs approval: given the surface's risk and the call's arguments."""

    def __call__(self, risk: str, arguments: Mapping[str, object], /) -> bool: ...
    def describe(self) -> str: ...


@dataclass(frozen=True)
class AlwaysPolicy:
    """Every call needs approval."""

    def __call__(self, risk: str, arguments: Mapping[str, object], /) -> bool:
        return True

    def describe(self) -> str:
        return "always"


@dataclass(frozen=True)
class RiskPolicy:
    """Calls of surfaces at or above a risk level need approval (an unknown risk counts as high)."""

    level: str

    def __call__(self, risk: str, arguments: Mapping[str, object], /) -> bool:
        return _RISK_ORDER.get(risk, 2) >= _RISK_ORDER[self.level]

    def describe(self) -> str:
        return f"risk>={self.level}"


@dataclass(frozen=True)
class PredicatePolicy:
    """Calls whose arguments satisfy a predicate need approval (a predicate that raises: they do)."""

    predicate: Callable[[Mapping[str, object]], bool]

    def __call__(self, risk: str, arguments: Mapping[str, object], /) -> bool:
        return bool(self.predicate(arguments))

    def describe(self) -> str:
        return f"when {getattr(self.predicate, '__qualname__', type(self.predicate).__name__)}"
