"""What an approval store is (``ApprovalStore``) and what it hands back (``ApprovalRecord``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, runtime_checkable

from toolchain_sdk.approval._values import ApprovalRequest, Decision

__all__ = ["ApprovalRecord", "ApprovalStore", "STATUSES", "Status"]

Status = Literal["pending", "approved", "denied", "edited", "timeout", "cancelled"]
STATUSES: Final = ("pending", "approved", "denied", "edited", "timeout", "cancelled")


@dataclass(frozen=True, kw_only=True)
class ApprovalRecord:
    """A stored request with its state.

    Attributes:
        request: the request as submitted.
        status: ``pending``, a verdict (``approved``, ``denied``, ``edited``), or ``timeout`` /
            ``cancelled`` when the waiting call gave up first.
        decision: the decision, once there is one (its ``subject_sha256`` is what was approved).
        closed_at: when a ``timeout`` or ``cancelled`` request was closed.
    """

    request: ApprovalRequest
    status: Status
    decision: Decision | None = None
    closed_at: _dt.datetime | None = None


@runtime_checkable
class ApprovalStore(Protocol):
    """Where approval requests wait for decisions. Methods are blocking; async callers run them
    in a worker thread. Any exception they raise denies the call waiting on them (fail closed)."""

    @property
    def url(self) -> str:
        """Where the store is, for the control sheet and messages (no password)."""
        ...

    def submit(self, request: ApprovalRequest) -> None:
        """Store a new pending request."""
        ...

    def get(self, request_id: str) -> ApprovalRecord | None:
        """The request with its state, or ``None`` when unknown."""
        ...

    def list(
        self, *, status: Status | None = "pending", surface: str | None = None, limit: int = 100
    ) -> Sequence[ApprovalRecord]:
        """Requests, oldest first, filtered by status (``None``: any) and surface."""
        ...

    def decide(self, decision: Decision) -> ApprovalRecord:
        """Record ``decision`` on its pending request, atomically.

        Raises:
            DecisionRefused: unknown request, not pending (decided twice, timed out,
                cancelled), past its expiry, bound to another subject hash, or an edit that
                does not fit the request.
        """
        ...

    def close_request(self, request_id: str, status: Literal["timeout", "cancelled"]) -> bool:
        """Close a still-pending request; ``False`` when a decision got there first."""
        ...

    def close(self) -> None:
        """Release connections (the store reopens them when used again)."""
        ...
