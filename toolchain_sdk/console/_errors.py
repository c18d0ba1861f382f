"""``ActionRefused``: why a console action did not happen, with the HTTP status that says so."""

from __future__ import annotations

__all__ = ["ActionRefused"]


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
