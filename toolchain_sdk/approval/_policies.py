"""Approval policies: which calls of a gated surface need a person's approval.

A policy answers ``True`` (ask) or ``False`` (let through), and nothing else: ``needs_approval``
treats any other answer — ``None`` from a predicate whose ``return`` was forgotten, ``0``, a
string, a coroutine from an ``async def`` — like a policy that raised: it asks, the safe side,
and says so once per surface. ``async def`` policies are refused when declared (``is_async``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from toolchain_sdk._core.safety import warn_once

__all__ = ["AlwaysPolicy", "Policy", "PredicatePolicy", "RiskPolicy", "is_async", "needs_approval"]

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
    """Calls whose arguments satisfy a predicate need approval (its answer is passed on as it is:
    anything but ``True``/``False`` asks, see ``needs_approval``)."""

    predicate: Callable[[Mapping[str, object]], bool]

    def __call__(self, risk: str, arguments: Mapping[str, object], /) -> bool:
        return self.predicate(arguments)

    def describe(self) -> str:
        return f"when {getattr(self.predicate, '__qualname__', type(self.predicate).__name__)}"


def is_async(policy: object) -> bool:
    """Whether ``policy`` (a function or a callable object) is an ``async def``: its answer would
    be a coroutine, which a policy cannot wait for."""
    call = policy if inspect.isfunction(policy) or inspect.ismethod(policy) else getattr(policy, "__call__", None)  # noqa: B004
    return any(
        check(candidate)
        for candidate in (policy, call)
        for check in (inspect.iscoroutinefunction, inspect.isasyncgenfunction)
    )


def needs_approval(policy: Policy, surface: str, risk: str, arguments: Callable[[], Mapping[str, object]]) -> bool:
    """Ask ``policy`` whether a call needs approval. Only ``True``/``False`` is an answer: a policy
    that raises, or returns anything else, asks — the safe side — and the operator is told once."""
    try:
        answer: object = policy(risk, arguments())
    except Exception as exc:
        warn_once(f"approval-policy:{surface}", "toolchain_sdk: %s: approval policy raised %r; asking for approval",
                  surface, exc)  # fmt: skip
        return True
    if isinstance(answer, bool):
        return answer
    close = getattr(answer, "close", None)
    if inspect.iscoroutine(answer) and callable(close):
        close()  # it will never be awaited, on purpose: no second warning from Python about it
    warn_once(f"approval-policy-answer:{surface}", "toolchain_sdk: %s: approval policy returned a %s, not True or "
              "False; asking for approval (a policy must return a bool)", surface, type(answer).__name__)  # fmt: skip
    return True
