"""Kill switches: flag sources (env, local flag file, OpenFeature) and the gate that falls back.

STUB until the kill-switch issue lands: every surface gets a gate that never engages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolchain_sdk.call import GovernedCall

__all__ = ["KillGate", "build_kill_gate"]


class KillGate:
    """The kill-switch gate of one surface (first in its pipeline)."""

    def __init__(self, flag: str, fallback: Callable[..., Any] | None) -> None:
        self.flag = flag
        self.fallback = fallback
        self.fallback_name = f"{fallback.__module__}.{fallback.__qualname__}" if fallback is not None else None

    def check(self, call: GovernedCall) -> Callable[..., Any] | None:
        return None

    async def acheck(self, call: GovernedCall) -> Callable[..., Any] | None:
        return None

    def review(self, call: GovernedCall, output: object) -> object:
        return output

    async def areview(self, call: GovernedCall, output: object) -> object:
        return output


def build_kill_gate(
    *,
    surface: str,
    risk: str,
    flag: str | None,
    default: bool,
    fallback: Callable[..., Any] | None,
    func: Callable[..., Any],
    kind: str,
) -> KillGate:
    """Validate a surface's kill-switch declaration and build its gate (ConfigError if wrong)."""
    return KillGate(flag or f"{surface}.kill", fallback)
