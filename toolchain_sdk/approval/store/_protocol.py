"""What an approval store is (``ApprovalStore``) and what it hands back (``ApprovalRecord``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, runtime_checkable

from toolchain_sdk.approval._values import ApprovalRequest, Decision, utcnow
from toolchain_sdk.approval.store._owner import caller_gone

__all__ = ["ApprovalRecord", "ApprovalStore", "STATUSES", "Status"]

Status = Literal["pending", "approved", "denied", "edited", "timeout", "cancelled", "error"]
STATUSES: Final = ("pending", "approved", "denied", "edited", "timeout", "cancelled", "error")


@dataclass(frozen=True, kw_only=True)
class ApprovalRecord:
    """A stored request with its state.

    Attributes:
        request: the request as submitted.
        status: ``pending``; a verdict (``approved``, ``denied``, ``edited``) the waiting call
            took; ``timeout`` / ``cancelled`` when the waiting call gave up (or was gone) first;
            ``error`` when the waiting call refused the decision it was given (``reason`` says why).
        decision: the reviewer's decision, once there is one (its ``subject_sha256`` is what was
            approved); kept on an ``error`` record.
        closed_at: when the waiting call took the decision, refused it, or gave up.
        reason: why the request was closed without a decision taken (``timeout``, ``cancelled``,
            ``error``).
        owner: ``host:pid`` of the process whose call waits on it.
        heartbeat_at: when that call last said it was still waiting.
    """

    request: ApprovalRequest
    status: Status
    decision: Decision | None = None
    closed_at: _dt.datetime | None = None
    reason: str = ""
    owner: str = ""
    heartbeat_at: _dt.datetime | None = None

    def caller_gone(self) -> str | None:
        """Why the call waiting on this request is known to be gone (its process no longer exists
        on this host, or it has not checked in for ``STALE_S``), or ``None``."""
        return caller_gone(self.owner, self.heartbeat_at, utcnow())


@runtime_checkable
class ApprovalStore(Protocol):
    """Where approval requests wait for decisions. Methods are blocking; async callers run them
    in a worker thread. Any exception they raise denies the call waiting on them (fail closed)."""

    @property
    def url(self) -> str:
        """Where the store is, for the control sheet and messages (no password)."""
        ...

    def submit(self, request: ApprovalRequest) -> None:
        """Store a new pending request, owned by this process."""
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
                cancelled), past its expiry, bound to another subject hash, an edit that does
                not fit the request, or a request whose caller is gone (it is closed as
                ``cancelled``).
        """
        ...

    def heartbeat(self, request_id: str) -> None:
        """Say that the call waiting on a pending request still waits."""
        ...

    def settle(self, request_id: str, *, accepted: bool, reason: str = "") -> bool:
        """Record what the waiting call did with the decision it found: took it, or refused it
        (``accepted=False``: the request becomes ``error`` with ``reason``). ``False`` when the
        request holds no decision, or was settled already."""
        ...

    def close_request(self, request_id: str, status: Literal["timeout", "cancelled"], reason: str = "") -> bool:
        """Close a still-pending request; ``False`` when a decision got there first."""
        ...

    def close(self) -> None:
        """Release connections (the store reopens them when used again)."""
        ...
