"""How long a store operation may wait: a waiting call's deadline bounds every busy and connect timeout.

A gated call promises an answer by its timeout. Each store operation has waits of its own (SQLite's
busy timeout, PostgreSQL's connect timeout); run under ``deadline(seconds)``, each of them shrinks
to the time left, so a locked or unreachable store cannot hold the call past its deadline.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["deadline", "time_left"]

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("toolchain_approval_deadline", default=None)
"""The ``time.monotonic()`` by which store operations in this context must have given up."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound the store operations run in this context (and threads started with a copy of it) to
    ``seconds`` from now; within an outer bound, the nearer one holds."""
    end = time.monotonic() + max(seconds, 0.0)
    outer = _DEADLINE.get()
    token = _DEADLINE.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left(limit: float) -> float:
    """``limit`` seconds, or fewer when the context's deadline is nearer (never negative)."""
    end = _DEADLINE.get()
    if end is None:
        return limit
    return max(0.0, min(limit, end - time.monotonic()))
