"""The guard around the SDK's own steps: fail open in production, strict under the test suite.

Observing must never change the outcome of a call, so SDK-internal failures (span code,
hashing, export) are logged once per site through ``logging.getLogger("toolchain_sdk")`` and
swallowed. With ``TOOLCHAIN_STRICT=1`` (set by our test suite) they are re-raised instead, so
our own bugs fail tests rather than hide.
"""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["logger", "report", "reset_warnings", "strict", "warn_once"]

logger = logging.getLogger("toolchain_sdk")

_seen: set[str] = set()
_lock = threading.Lock()


def strict() -> bool:
    """Whether ``TOOLCHAIN_STRICT`` asks for the SDK's own errors to be raised (our test suite sets it)."""
    return _strict()


def _strict() -> bool:
    return os.environ.get("TOOLCHAIN_STRICT", "").lower() in ("1", "true", "yes")


def warn_once(site: str, message: str, *args: object) -> bool:
    """Log ``message`` at WARNING the first time ``site`` reports; return whether it logged."""
    with _lock:
        if site in _seen:
            return False
        _seen.add(site)
    logger.warning(message, *args)
    return True


def report(site: str, exc: Exception) -> None:
    """Handle a failure of the SDK's own code at ``site``: re-raise when strict, else warn once."""
    if _strict():
        raise exc
    warn_once(site, "toolchain_sdk: %s failed (%s: %s); the call goes on", site, type(exc).__name__, exc)


def reset_warnings() -> None:
    """Forget which sites have warned (for tests)."""
    with _lock:
        _seen.clear()
