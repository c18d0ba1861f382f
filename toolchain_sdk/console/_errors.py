"""``ActionRefused``: why a console action did not happen, with the HTTP status that says so; and
``audit_function``: the audit package's functions, when that package is installed."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["ActionRefused", "audit_function"]


def audit_function(name: str) -> Callable[..., Any] | None:
    """``toolchain_sdk.audit.<name>``, or ``None`` when this version has no audit package (or no such function).

    Imported on use, so the console works (without audit records) where audit is absent.
    """
    try:
        module = importlib.import_module("toolchain_sdk.audit")
    except ImportError:
        return None
    found = getattr(module, name, None)
    return found if callable(found) else None


class ActionRefused(Exception):
    """An action the console refused: 403 wrong role, 404 unknown id, 409 no longer pending (or
    changed since the page was shown), 422 a missing reason or a value that does not fit.

    Attributes:
        status: the HTTP status of the refusal.
        message: what went wrong, for the page or the API's ``{"error": ...}``.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
