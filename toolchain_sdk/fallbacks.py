"""Ready-made deterministic fallback handlers (STUB until the kill-switch issue lands)."""

from __future__ import annotations

__all__: list[str] = []
