"""Approval gates: policies, approvers, decisions, and the durable approval queue.

STUB until the approvals issue lands: no surface is gated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from toolchain_sdk._pipeline import Gate

__all__ = ["build_approval_gate"]


class _DescribedGate(Gate, Protocol):
    def describe(self) -> str:
        """One line for the control sheet."""
        ...


def build_approval_gate(
    *,
    surface: str,
    risk: str,
    approval: object,
    fallback: Callable[..., Any] | None,
    func: Callable[..., Any],
    kind: str,
) -> _DescribedGate | None:
    """Validate a surface's approval declaration and build its gate, or ``None`` when ungated."""
    return None
