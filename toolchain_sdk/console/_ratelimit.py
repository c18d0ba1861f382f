"""Per-client limits on failed logins and failed API tokens: at most 10 a minute, then 429.

Once a client has failed ``limit`` times within ``window_s``, every further attempt to
authenticate from it is answered 429 (before the token is looked at, so guessing gains nothing)
until its oldest failure leaves the window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Final

__all__ = ["FAILURES_PER_MINUTE", "FailureLimiter"]

FAILURES_PER_MINUTE: Final = 10


class FailureLimiter:
    """Counts authentication failures per client address in a sliding window."""

    def __init__(self, limit: int = FAILURES_PER_MINUTE, window_s: float = 60.0) -> None:
        self._limit = limit
        self._window = window_s
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: it may try now)."""
        now = time.monotonic()
        with self._lock:
            seen = self._failures.get(client)
            if seen is None:
                return 0.0
            while seen and now - seen[0] > self._window:
                seen.popleft()
            if not seen:
                del self._failures[client]
                return 0.0
            return self._window - (now - seen[0]) if len(seen) >= self._limit else 0.0

    def fail(self, client: str) -> None:
        """Count one failed attempt from ``client``."""
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of addresses cannot grow memory without bound
                self._failures.clear()
            self._failures.setdefault(client, deque()).append(time.monotonic())
